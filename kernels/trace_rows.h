/* trace_rows.h - one sample's step of the per-unit rows of OWNER and
 * FACTORED traces (trace_plan.h; the engine is grad_forward.c), event-driven.
 *
 * Every such row carries a scale, the trace being the stored row times it
 * (a slot without scales of its own passes ones and lazy = false: every row
 * moves). A row whose step is a pure decay, e(t) = a e(t-1) (no input term
 * and no coupling: a spiking unit with psi = 0, most units at most steps),
 * is not touched: its scale takes a. Readers fold the scale into the row's
 * coefficient; a row that moves again takes it back (scale 1), and a scale
 * that runs low is settled into its row. At a loss node the step terms
 * l(t) s(t) F of a resting row gather in one pending coefficient p, added
 * as p F when the row moves, settles, or the gradient is read. The work
 * then follows the units' activity, not the number of synapses.
 */
#ifndef TRELLIS_TRACE_ROWS_H
#define TRELLIS_TRACE_ROWS_H

#include <stdbool.h>
#include <stddef.h>

#include "ops/op.h"
#include "core/real.h"

/* Where one sample of an OWNER slot keeps its state rows: row r from
 * off[r]; N x K values when kept per synapse (bit r of synapse_rows), else K
 * presynaptic values that every unit shares. */
struct owner_layout {
    unsigned synapse_rows;
    int S, N, K;
    size_t off[OP_MAX_STATE];
};

void owner_layout_init(struct owner_layout *L, unsigned synapse_rows, int S, int N, int K);

/* Row r of unit j in one sample e of an OWNER slot: K values. */
static inline const trl_real *owner_row(const trl_real *e, const struct owner_layout *L, int r,
                                        int j)
{
    return (L->synapse_rows & (1u << r)) ? e + L->off[r] + (size_t)j * L->K : e + L->off[r];
}

/* q[k] = sum_r c[r] e_r[j][k]: the owner output's sensitivity to synapse
 * (j, k) when c = dz/dh at unit j times the rows' scales. Returns false (q
 * untouched) when every c is 0, which is most units of a spiking node at
 * most steps. */
bool owner_q(trl_real *q, const trl_real *e, const struct owner_layout *L, int j,
             const trl_real *c);

/* Scratch over one node's units. */
struct row_scratch {
    int *units;        /* the units whose rows move */
    trl_real *rest;    /* 1 where a unit's rows rest, else 0 */
    trl_real *g0, *g1; /* a FACTORED step's coefficients */
};

/* OWNER, the rows kept per synapse of one sample: e_r(t) = sum_c J[r][c]
 * e_c(t-1) + dh_r/dI x (Bellec et al. eq. 22 and 25-26), J the sample's
 * [S][S][N]. In place when lazy (a ring of one step, eo == en). scale:
 * [S][N]. The presynaptic rows are the caller's. Returns how many units
 * moved. */
int owner_rows_step(const struct owner_layout *L, const trl_real *eo, trl_real *en,
                    const trl_real *J, const trl_real *dhdI, const trl_real *x, trl_real *scale,
                    bool lazy, struct row_scratch *w);

/* What a FACTORED slot's step reads: its owner's trace (layout, this
 * step's values of the sample, their scales) and dz/dh [S][N], the decay
 * and input gain of the slot's node, and at a loss node the learning signal
 * [N] and the slot's gradient [N][K] (NULL elsewhere). */
struct factored_step {
    const struct owner_layout *owner;
    const trl_real *e, *owner_scale, *dz;
    trl_real lambda, gain;
    const trl_real *lsig;
    trl_real *grad;
};

/* FACTORED, one sample: F(t) = lambda F(t-1) + gain q(t), q = dz/dh . e
 * (owner_q folded in), and at a loss node g += lsig F(t) in the same pass.
 * scale [N]; pending [N] at a loss node with laziness, else NULL. In place
 * when lazy. Returns how many rows moved. */
int factored_rows_step(const struct factored_step *st, const trl_real *Fo, trl_real *Fn,
                       trl_real *scale, trl_real *pending, bool lazy, struct row_scratch *w);

/* g[j] += pending[j] F[j] for every row j with a pending coefficient, which
 * becomes 0: before the gradient is read. F and g are [N][K]. */
void settle_pending_rows(int N, int K, const trl_real *F, trl_real *pending, trl_real *g);

#endif
