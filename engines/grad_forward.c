/* grad_forward.c - forward sensitivities: rtrl, and e-prop's online engine
 * (SPEC section 6; Millidge 2025, eq. 9-11; Bellec et al. 2020).
 *
 * After each forward step, every trace of the plan (trace_plan.h) moves on,
 * nodes in schedule order, with the node kind's Jacobians:
 *
 *   eps_m(t) = J_m(t) eps_m(t-1)
 *            + dh/dI . [ sum over propagated edges p -> m carrying theta of
 *                        W_e dz_p/dh_p(t-d) eps_p(t-d)
 *                      + dI/dtheta (m owns theta: z_src(t-d), or 1 for a bias) ]
 *
 * and at every loss node (the graph's, or each node with a caller's
 * cotangent, SPEC 6.4) the gradient takes its step term,
 * dL/dtheta += dL/dz_L(t) . dz_L/dh_L(t) . eps_L(t).
 *
 * The shape of a parent's trace decides how its term is formed:
 *   OWNER     W_e[i][j] q[j][k], q = dz/dh . e (per synapse): a broadcast;
 *   FACTORED  eps_p = W_po F, so the term is A[i][j] F[j][k] with
 *             A = W_e diag(dz_p/dh_p) W_po: a small GEMM, then a broadcast;
 *   DENSE     (W_e diag(dz_p/dh_p)) eps_p: a GEMM, written straight into the
 *             new trace with dh/dI as its alpha.
 * A dense trace is stored parameter-major, [S][|theta|][N] per sample: its
 * GEMM then reads the parent's trace row after row, once, against a small
 * packed W_e diag(dz_p/dh_p) (kernels/packed.h), where [N][|theta|] made
 * the BLAS copy the whole parent trace at every step.
 * rtrl propagates every edge; e-prop only delay-0 edges, which is all it
 * takes to treat every delayed source as a constant. m-order e-prop (SPEC
 * 6.2) adds dense traces of k = 1..M-1 crossings, whose delayed edges read
 * the source's trace of k - 1 crossings d steps back (trace_plan.h), and
 * the loss node's traces of every k give the gradient's step terms. With
 * feedback matrices (SPEC 6.3) the weights in every term above are the
 * edge's feedback matrix: the credit path, not the forward values.
 *
 * The per-unit rows of OWNER and FACTORED slots are event-driven
 * (kernels/trace_rows.h): a row whose step is a pure decay (a spiking unit
 * away from threshold) only scales, so the work follows the units'
 * activity. Memory is constant in T,
 * the data's too when it is streamed (data_open): the engine reads it a
 * window of steps at a time.
 */
#include <string.h>

#include "core/alloc.h"
#include "engines/grad.h"
#include "engines/net.h"
#include "kernels/packed.h"
#include "engines/trace_plan.h"
#include "kernels/trace_rows.h"

struct forward {
    const struct graph *g;
    const struct data *d;
    struct trace_plan *plan;
    struct net *net;
    int B;
    trl_real **trace;        /* per slot: depth x B x values */
    trl_real **dzdh;         /* per node with slots: depth x [B][S][N] */
    trl_real *J;             /* scratch: J(t) of the current node [B][S*S][N] */
    trl_real *A, *Wd;        /* scratch: [N][N] */
    struct packed_weight wd; /* Wd packed for a dense parent's GEMM */
    trl_real *dy;            /* dL/dz of the loss node [B][N] */
    trl_real *D;             /* dL/dz . dz/dh at the loss node [B][S][N] */
    trl_real *lsig;          /* learning signal of a factored trace [B][N] */
    int lsig_edge, lsig_t;   /* the edge and step lsig holds (-1: none) */
    trl_real *ones;          /* [B]: the presynaptic value of a bias */
    trl_real *zeros;         /* the traces before t = 0: one sample of the largest slot */
    trl_real **scale;        /* per slot with row_scales: [B][row_scales] (scales, pending) */
    trl_real *unit_scale;    /* ones: the row scales of a slot without its own */
    struct row_scratch w;    /* scratch of the event-driven rows (trace_rows.h) */
    trl_real *q;             /* scratch: one row of an owner's output sensitivity [K] */
    const struct grad_hooks *hooks;
    trl_real *const *fb; /* per edge: feedback matrix or NULL (hooks), or NULL */
    trl_real *step_grad; /* with an on_step hook: this step's gradient term */
};

static const trl_real *param_values(const struct forward *f, int param)
{
    return f->net->params + f->g->params[param].offset;
}

/* The matrix of edge e on the credit path: its feedback matrix, else W. */
static const trl_real *credit_weights(const struct forward *f, int edge)
{
    if (f->fb && f->fb[edge]) return f->fb[edge];
    return param_values(f, f->g->edges[edge].param);
}

static int slot_index(const struct forward *f, const struct trace_slot *s)
{
    return (int)(s - f->plan->slots);
}

/* A slot's values at step t (NULL before t = 0, which means 0). */
static trl_real *trace_at(const struct forward *f, const struct trace_slot *s, int t)
{
    if (t < 0) return NULL;
    return f->trace[slot_index(f, s)] + (size_t)(t % s->depth) * f->B * s->values;
}

/* The row scales of sample b of a slot, [S][N_o] (OWNER) or [N_o]
 * (FACTORED), all 1 for a slot without its own (never written then). */
static trl_real *row_scale(const struct forward *f, const struct trace_slot *s, int b)
{
    trl_real *sc = f->scale[slot_index(f, s)];
    return sc ? sc + (size_t)b * s->row_scales : f->unit_scale;
}

/* Whether slot s's rows may rest at step t: its own scales, and a previous
 * step whose stored rows they scale. */
static bool rows_rest(const struct forward *f, const struct trace_slot *s, int t)
{
    return t > 0 && f->scale[slot_index(f, s)];
}

/* The activity hook (grad_hooks.trace_rows): of N rows of an event-driven
 * slot, `moved` moved. */
static void count_rows(const struct forward *f, const struct trace_slot *s, int moved, int N)
{
    if (!f->hooks || !f->hooks->trace_rows || !f->scale[slot_index(f, s)]) return;
    f->hooks->trace_rows[0] += moved;
    f->hooks->trace_rows[1] += N;
}

static trl_real *dzdh_at(const struct forward *f, int node, int t)
{
    if (t < 0) return NULL;
    const struct graph_node *n = &f->g->nodes[node];
    size_t len = (size_t)f->B * n->op->n_state * n->size;
    return f->dzdh[node] + (size_t)(t % f->plan->depth[node]) * len;
}

/* The presynaptic values x [B][K] of a parameter at step t. */
static const trl_real *presynaptic(const struct forward *f, int param, int t)
{
    const struct graph_param *q = &f->g->params[param];
    if (q->edge < 0) return f->ones;
    const struct graph_edge *e = &f->g->edges[q->edge];
    return net_z(f->net, e->src, t - e->delay);
}

static int param_k(const struct graph_param *q)
{
    return q->edge < 0 ? 1 : q->cols;
}

/* The layout of one sample of OWNER slot s (trace_rows.h). */
/* c[s] = d[s][j] * scale[s][j] for the S state rows of unit j of N, 0 beyond. */
static void unit_coefs(const trl_real *d, const trl_real *scale, int S, int N, int j,
                       trl_real c[OP_MAX_STATE])
{
    for (int s = 0; s < OP_MAX_STATE; s++)
        c[s] = s < S ? d[(size_t)s * N + j] * scale[(size_t)s * N + j] : 0;
}

static void slot_layout(const struct forward *f, const struct trace_slot *s, struct owner_layout *L)
{
    const struct graph_node *n = &f->g->nodes[s->node];
    owner_layout_init(L, s->synapse_rows, n->op->n_state, n->size,
                      param_k(&f->g->params[s->param]));
}

/* OWNER: e_r(t) = sum_c J[r][c] e_c(t-1) + dh_r/dI x_k (Bellec et al. eq. 22
 * and 25-26). Rows kept per synapse first (trace_rows.h: they read the
 * presynaptic rows' old values), then the presynaptic rows, lambda e +
 * dh/dI x. */
TRL_HOT static void update_owner(struct forward *f, const struct trace_slot *s, int t,
                                 const trl_real *J, const trl_real *dhdI)
{
    struct owner_layout L;
    slot_layout(f, s, &L);
    const int S = L.S, N = L.N, K = L.K;
    const trl_real *x = presynaptic(f, s->param, t);
    const trl_real *prev = trace_at(f, s, t - 1);
    trl_real *cur = trace_at(f, s, t);
    const bool lazy = rows_rest(f, s, t);
    for (int b = 0; b < f->B; b++) {
        const trl_real *xb = x + (size_t)b * K, *Jb = J + (size_t)b * S * S * N;
        const trl_real *eo = prev ? prev + (size_t)b * s->values : f->zeros;
        trl_real *en = cur + (size_t)b * s->values;
        if (s->synapse_rows)
            count_rows(f, s,
                       owner_rows_step(&L, eo, en, Jb, dhdI, xb, row_scale(f, s, b), lazy, &f->w),
                       N);
        for (int r = 0; r < S; r++) { /* presynaptic rows: J[r][r] is one constant */
            if (s->synapse_rows & (1u << r)) continue;
            const trl_real lambda = Jb[(size_t)(r * S + r) * N], d = dhdI[r];
            const trl_real *o = eo + L.off[r];
            trl_real *nw = en + L.off[r];
            for (int k = 0; k < K; k++) nw[k] = lambda * o[k] + d * xb[k];
        }
    }
}

/* The learning signal of a factored slot of a loss node m, lsig = D W
 * [B][N_o] (W the edge o -> m): its gradient step is g[j][k] += lsig[j]
 * F[j][k]. A few thousand multiply-adds: no BLAS call; once per step for
 * all the tensors of one owner (they share the edge). */
static void learning_signal(struct forward *f, const struct trace_slot *s, int t)
{
    if (f->lsig_edge == s->edge && f->lsig_t == t) return; /* the owner's other tensors */
    f->lsig_edge = s->edge;
    f->lsig_t = t;
    const struct graph *g = f->g;
    const struct graph_edge *e = &g->edges[s->edge];
    const int N = g->nodes[s->node].size, No = g->nodes[e->src].size;
    const trl_real *W = credit_weights(f, s->edge);
    for (int b = 0; b < f->B; b++) {
        trl_real *ls = f->lsig + (size_t)b * No;
        memset(ls, 0, (size_t)No * sizeof *ls);
        for (int i = 0; i < N; i++) {
            const trl_real d = f->D[(size_t)b * N + i], *w = W + (size_t)i * No;
            if (d != 0)
                for (int j = 0; j < No; j++) ls[j] += d * w[j];
        }
    }
}

/* FACTORED: F(t) = lambda F(t-1) + dh/dI q(t), q from the owner's slot
 * (trace_rows.h). At a loss node (gw, the slot's gradient) the gradient's
 * step term g[j][k] += lsig[j] F[j][k] is taken in the same pass. */
TRL_HOT static void update_factored(struct forward *f, const struct trace_slot *s, int t,
                                    const trl_real *J, const trl_real *dhdI, trl_real *gw)
{
    const struct graph_edge *e = &f->g->edges[s->edge];
    const struct trace_slot *so = trace_plan_slot(f->plan, f->g, e->src, s->param);
    struct owner_layout L;
    slot_layout(f, so, &L);
    const trl_real *dz = dzdh_at(f, e->src, t), *eo = trace_at(f, so, t);
    const trl_real *prev = trace_at(f, s, t - 1);
    trl_real *cur = trace_at(f, s, t);
    const bool lazy = rows_rest(f, s, t), pending = gw && f->scale[slot_index(f, s)];
    if (gw) learning_signal(f, s, t);
    for (int b = 0; b < f->B; b++) {
        const struct factored_step st = {
            .owner = &L,
            .e = eo + (size_t)b * so->values,
            .owner_scale = row_scale(f, so, b),
            .dz = dz + (size_t)b * L.S * L.N,
            .lambda = J[0],
            .gain = dhdI[0],
            .lsig = gw ? f->lsig + (size_t)b * L.N : NULL,
            .grad = gw,
        };
        trl_real *sc = row_scale(f, s, b);
        const int moved = factored_rows_step(&st, prev ? prev + (size_t)b * s->values : f->zeros,
                                             cur + (size_t)b * s->values, sc,
                                             pending ? sc + L.N : NULL, lazy, &f->w);
        count_rows(f, s, moved, L.N);
    }
}

/* Adds every pending coefficient of the loss node's FACTORED slots into
 * grad: before the gradient is read. */
static void settle_all_pending(struct forward *f, trl_real *grad)
{
    for (int i = 0; i < f->plan->n_slots; i++) {
        const struct trace_slot *s = &f->plan->slots[i];
        if (s->kind != TRACE_FACTORED || !f->scale[i] || !f->plan->is_loss[s->node]) continue;
        const int N = f->g->nodes[f->g->edges[s->edge].src].size;
        const int K = param_k(&f->g->params[s->param]);
        for (int b = 0; b < f->B; b++)
            settle_pending_rows(N, K, trace_at(f, s, 0) + (size_t)b * s->values,
                                row_scale(f, s, b) + N, grad + f->g->params[s->param].offset);
    }
}

/* How a dense trace's new values start: scale[i] * prev[p][i] (J eps(t-1)
 * with J diagonal in the units), or zero when prev is NULL. */
struct dst_start {
    const trl_real *prev, *scale;
};

/* dst += alpha * (the term of edge e: p -> m) for sample b of a dense trace
 * of m; dst is [P][N_m]. With start (a dense or factored parent), the term
 * is written over dst from start instead: one pass over dst. */
TRL_HOT static void add_parent_term(struct forward *f, const struct trace_slot *s,
                                    const struct graph_edge *e, const struct trace_slot *sp, int t,
                                    int b, trl_real *dst, trl_real alpha,
                                    const struct dst_start *start)
{
    const struct graph *g = f->g;
    const struct graph_node *m = &g->nodes[s->node], *p = &g->nodes[e->src];
    const int Nm = m->size, Np = p->size, Sp = p->op->n_state;
    const int P = (int)g->params[s->param].count, K = param_k(&g->params[s->param]);
    const trl_real *W = credit_weights(f, (int)(e - g->edges));
    const trl_real *dz = dzdh_at(f, e->src, t - e->delay) + (size_t)b * Sp * Np;
    const trl_real *ep = trace_at(f, sp, t - e->delay) + (size_t)b * sp->values;
    if (sp->kind == TRACE_OWNER) { /* dst[j*K+k][i] += alpha W[i][j] q[j][k]: a broadcast */
        struct owner_layout lay;
        slot_layout(f, sp, &lay);
        trl_real *wt = f->Wd; /* wt[j][i] = alpha W[i][j] */
        for (int i = 0; i < Nm; i++)
            for (int j = 0; j < Np; j++) wt[(size_t)j * Nm + i] = alpha * W[(size_t)i * Np + j];
        const trl_real *sc = row_scale(f, sp, b);
        for (int j = 0; j < Np; j++) {
            trl_real c[OP_MAX_STATE];
            unit_coefs(dz, sc, Sp, Np, j, c);
            if (!owner_q(f->q, ep, &lay, j, c)) continue;
            const trl_real *wj = wt + (size_t)j * Nm;
            for (int k = 0; k < K; k++) {
                const trl_real qk = f->q[k];
                trl_real *row = dst + ((size_t)j * K + k) * Nm;
                for (int i = 0; i < Nm; i++) row[i] += wj[i] * qk;
            }
        }
        return;
    }
    /* Wd = alpha W diag(dz_p[r]), one state row r of the parent at a time */
    for (int r = 0; r < (sp->kind == TRACE_FACTORED ? 1 : Sp); r++) {
        const trl_real *dzr = dz + (size_t)r * Np;
        for (int i = 0; i < Nm; i++)
            for (int l = 0; l < Np; l++)
                f->Wd[(size_t)i * Np + l] = alpha * W[(size_t)i * Np + l] * dzr[l];
        if (sp->kind == TRACE_DENSE) { /* dst += eps_p[r] Wd^T: eps_p read once */
            packed_set(&f->wd, f->Wd, Nm, Np, PACKED_WT);
            if (start && r == 0)
                packed_mul_into(&f->wd, P, ep, Np, dst, Nm, start->prev, start->scale);
            else
                packed_mul(&f->wd, P, ep + (size_t)r * P * Np, Np, dst, Nm);
            continue;
        }
        /* factored parent, eps_p = W_po F: A^T = W_po^T Wd^T, then
         * dst[j*K+k][i] += A^T[j][i] F[j][k] */
        const struct graph_edge *eo = &g->edges[sp->edge];
        const int No = g->nodes[eo->src].size;
        trl_gemm(CblasRowMajor, CblasTrans, CblasTrans, No, Nm, Np, 1, credit_weights(f, sp->edge),
                 No, f->Wd, Np, 0, f->A, Nm);
        const trl_real *sc = row_scale(f, sp, b);
        for (int j = 0; j < No; j++) {
            const trl_real *aj = f->A + (size_t)j * Nm;
            for (int k = 0; k < K; k++) {
                const trl_real F = ep[(size_t)j * K + k] * sc[j];
                const size_t at = ((size_t)j * K + k) * Nm; /* row j*K+k: every row once */
                trl_real *row = dst + at;
                if (start && start->prev)
                    for (int i = 0; i < Nm; i++)
                        row[i] = start->scale[i] * start->prev[at + i] + aj[i] * F;
                else if (start)
                    for (int i = 0; i < Nm; i++) row[i] = aj[i] * F;
                else if (F != 0)
                    for (int i = 0; i < Nm; i++) row[i] += aj[i] * F;
            }
        }
    }
}

/* The parent edges of slot s whose terms count at step t. */
static const struct trace_slot *carrying(const struct forward *f, const struct trace_slot *s,
                                         const struct graph_edge *e, int t)
{
    return t - e->delay >= 0 ? trace_plan_parent(f->plan, f->g, s, e) : NULL;
}

/* dst [P][N] = start + alpha (every carrying parent's term and, when m owns
 * theta, the direct term dI_j/dW[j][k] = x_k (dI_j/db_j = 1)). The first
 * dense (else factored) parent's term starts dst (add_parent_term); without
 * one, dst starts in a pass of its own. start NULL: dst += alpha (...). */
TRL_HOT static void add_inputs(struct forward *f, const struct trace_slot *s, int t, int b,
                               trl_real *dst, trl_real alpha, const struct dst_start *start)
{
    const struct graph *g = f->g;
    const struct graph_node *m = &g->nodes[s->node];
    const struct graph_param *q = &g->params[s->param];
    const int K = param_k(q), N = m->size;
    int first = -1; /* a dense parent, else a factored one: their terms cover every row */
    for (int pass = 0; start && pass < 2 && first < 0; pass++)
        for (int k = 0; k < m->n_in && first < 0; k++) {
            const struct trace_slot *sp = carrying(f, s, &g->edges[m->in[k]], t);
            if (sp && sp->kind == (pass ? TRACE_FACTORED : TRACE_DENSE)) first = k;
        }
    if (first >= 0) {
        const struct graph_edge *e = &g->edges[m->in[first]];
        add_parent_term(f, s, e, carrying(f, s, e, t), t, b, dst, alpha, start);
    } else if (!start) { /* dst holds its start already */
    } else if (start->prev) {
        for (size_t p = 0; p < (size_t)q->count; p++)
            for (int i = 0; i < N; i++) dst[p * N + i] = start->scale[i] * start->prev[p * N + i];
    } else {
        memset(dst, 0, q->count * N * sizeof *dst);
    }
    for (int k = 0; k < m->n_in; k++) {
        const struct graph_edge *e = &g->edges[m->in[k]];
        const struct trace_slot *sp = carrying(f, s, e, t);
        if (sp && k != first) add_parent_term(f, s, e, sp, t, b, dst, alpha, NULL);
    }
    if (q->node != s->node || s->crossings) return; /* the direct term: no crossing */
    const trl_real *x = presynaptic(f, s->param, t) + (size_t)b * K;
    for (int j = 0; j < N; j++) /* dI_j/dW[j][k] = x_k: entry (j*K+k, j) */
        for (int k = 0; k < K; k++) dst[((size_t)j * K + k) * N + j] += alpha * x[k];
}

/* DENSE: eps(t) = J eps(t-1) + dh/dI (sum of the input terms), the terms
 * scaled by dh/dI (alpha of the GEMMs). With one state variable the first
 * term's pass also writes J eps(t-1); with two, J eps(t-1) is its own pass
 * and the terms are added to each row that the input reaches. J is
 * diagonal in the units: in the [P][N] layout, the same N factors for every
 * row. */
TRL_HOT static void update_dense(struct forward *f, const struct trace_slot *s, int t,
                                 const trl_real *J, const trl_real *dhdI)
{
    const struct graph *g = f->g;
    const struct graph_node *m = &g->nodes[s->node];
    const int S = m->op->n_state, N = m->size, P = (int)g->params[s->param].count;
    const size_t block = (size_t)P * N; /* one state row */
    const trl_real *prev = trace_at(f, s, t - 1);
    trl_real *cur = trace_at(f, s, t);
    for (int b = 0; b < f->B; b++) {
        const trl_real *Jb = J + (size_t)b * S * S * N;
        const trl_real *eo = prev ? prev + (size_t)b * s->values : NULL;
        trl_real *en = cur + (size_t)b * s->values;
        if (S == 1) {
            const struct dst_start start = {eo, Jb};
            add_inputs(f, s, t, b, en, dhdI[0], &start);
            continue;
        }
        const trl_real *a00 = Jb, *a01 = Jb + N, *a10 = Jb + 2 * N, *a11 = Jb + 3 * N;
        const trl_real *o0 = eo ? eo : f->zeros, *o1 = o0 + block;
        trl_real *n0 = en, *n1 = en + block;
        for (size_t p = 0; p < (size_t)P; p++) { /* J eps(t-1), then the input terms */
            const size_t r = p * N;
            /* in place (n == o with a ring of one step): each element is
             * read before it is written, so the loop may be vectorised */
#pragma GCC ivdep
            for (int i = 0; i < N; i++) {
                const trl_real v0 = o0[r + i], v1 = o1[r + i];
                n0[r + i] = a00[i] * v0 + a01[i] * v1;
                n1[r + i] = a10[i] * v0 + a11[i] * v1;
            }
        }
        for (int r = 0; r < S; r++) /* alif: the input reaches v only (dhdI = 1, 0) */
            if (dhdI[r] != 0) add_inputs(f, s, t, b, en + r * block, dhdI[r], NULL);
    }
}

/* dL/dtheta += D . eps_L(t) for every slot of the loss node. */
TRL_HOT static void accumulate_gradient(struct forward *f, const struct trace_slot *s, int t,
                                        trl_real *grad)
{
    const struct graph *g = f->g;
    const struct graph_node *L = &g->nodes[s->node];
    const struct graph_param *q = &g->params[s->param];
    const int S = L->op->n_state, N = L->size, P = (int)q->count, K = param_k(q), B = f->B;
    const trl_real *eps = trace_at(f, s, t);
    trl_real *gw = grad + q->offset;
    if (s->kind == TRACE_OWNER) {
        struct owner_layout lay;
        slot_layout(f, s, &lay);
        for (int b = 0; b < B; b++) {
            const trl_real *e = eps + (size_t)b * s->values, *Db = f->D + (size_t)b * S * N;
            const trl_real *sc = row_scale(f, s, b);
            for (int j = 0; j < N; j++) {
                trl_real c[OP_MAX_STATE];
                unit_coefs(Db, sc, S, N, j, c);
                if (!owner_q(f->q, e, &lay, j, c)) continue;
                trl_real *gj = gw + (size_t)j * K;
                for (int k = 0; k < K; k++) gj[k] += f->q[k];
            }
        }
    } else if (s->kind == TRACE_FACTORED) {
        return; /* taken by update_factored */
    } else {    /* g[p] += sum_i eps[r][p][i] D[r][i] */
        for (int b = 0; b < B; b++)
            for (int r = 0; r < S; r++)
                trl_gemv(CblasRowMajor, CblasNoTrans, P, N, 1,
                         eps + (size_t)b * s->values + (size_t)r * P * N, N,
                         f->D + ((size_t)b * S + r) * N, 1, 1, gw, 1);
    }
}

/* Traces of node i at step t, and the gradient term if it is the loss node. */
static void node_traces(struct forward *f, int i, int t, trl_real *grad, double *loss)
{
    const struct graph *g = f->g;
    const struct graph_node *n = &g->nodes[i];
    const int B = f->B, N = n->size, S = n->op->n_state;
    n->op->output_jacobian(n->params, B, N, net_h(f->net, i, t), net_z(f->net, i, t),
                           dzdh_at(f, i, t));
    n->op->state_jacobian(n->params, B, N, net_h(f->net, i, t - 1), f->J);
    trl_real dhdI[OP_MAX_STATE];
    n->op->input_jacobian(n->params, dhdI);
    const struct trace_slot *first = &f->plan->slots[f->plan->first_slot[i]];
    const bool is_loss = f->plan->is_loss[i];
    if (is_loss) { /* dL/dz(t): the task loss, plus a hook's constant term */
        if (!grad_task_loss(g, f->d, f->hooks, i, t, net_z(f->net, i, t), f->dy, loss))
            memset(f->dy, 0, (size_t)B * N * sizeof *f->dy);
        const trl_real *extra = f->hooks && f->hooks->dz_const ? f->hooks->dz_const[i] : NULL;
        const trl_real *dz = dzdh_at(f, i, t);
        for (int b = 0; b < B; b++)
            for (int r = 0; r < S; r++)
                for (int j = 0; j < N; j++)
                    f->D[((size_t)b * S + r) * N + j] =
                        (f->dy[(size_t)b * N + j] + (extra ? extra[j] : 0)) *
                        dz[((size_t)b * S + r) * N + j];
    }
    for (int k = 0; k < f->plan->n_node_slots[i]; k++) {
        const struct trace_slot *s = first + k;
        if (s->kind == TRACE_OWNER)
            update_owner(f, s, t, f->J, dhdI);
        else if (s->kind == TRACE_FACTORED)
            update_factored(f, s, t, f->J, dhdI,
                            is_loss ? grad + g->params[s->param].offset : NULL);
        else
            update_dense(f, s, t, f->J, dhdI);
    }
    if (!is_loss) return;
    for (int k = 0; k < f->plan->n_node_slots[i]; k++) accumulate_gradient(f, first + k, t, grad);
}

static void forward_free(struct forward *f)
{
    if (f->trace)
        for (int s = 0; s < f->plan->n_slots; s++) trl_free(f->trace[s]);
    if (f->scale)
        for (int s = 0; s < f->plan->n_slots; s++) trl_free(f->scale[s]);
    trl_free(f->scale);
    trl_free(f->unit_scale);
    trl_free(f->w.units);
    trl_free(f->w.rest);
    trl_free(f->w.g0);
    if (f->dzdh)
        for (int i = 0; i < f->g->n_nodes; i++) trl_free(f->dzdh[i]);
    trl_free(f->trace);
    trl_free(f->dzdh);
    trl_free(f->J);
    trl_free(f->A);
    trl_free(f->Wd);
    packed_free(&f->wd);
    trl_free(f->dy);
    trl_free(f->D);
    trl_free(f->lsig);
    trl_free(f->ones);
    trl_free(f->zeros);
    trl_free(f->q);
    trl_free(f->step_grad);
    trace_plan_free(f->plan);
    net_free(f->net);
}

/* Scales 1, pending coefficients (the second half of a FACTORED slot's
 * at a loss node) 0. */
static void init_row_scales(const struct trace_slot *s, const struct graph *g, size_t B,
                            trl_real *sc)
{
    size_t ones = s->row_scales;
    if (s->kind == TRACE_FACTORED) ones = (size_t)g->nodes[g->edges[s->edge].src].size;
    for (size_t b = 0; b < B; b++)
        for (size_t k = 0; k < ones; k++) sc[b * s->row_scales + k] = 1;
}

static int forward_alloc(struct forward *f, const trl_real *params)
{
    const struct graph *g = f->g;
    const size_t B = (size_t)f->B;
    size_t n_max = 1, k_max = 1;
    for (int i = 0; i < g->n_nodes; i++)
        if ((size_t)g->nodes[i].size > n_max) n_max = (size_t)g->nodes[i].size;
    for (int p = 0; p < g->n_params; p++)
        if ((size_t)g->params[p].cols > k_max) k_max = (size_t)g->params[p].cols;
    f->net = net_new(g, params, f->B, 0);
    f->trace = trl_alloc((size_t)f->plan->n_slots + 1, sizeof *f->trace, TRL_MEM_MISC);
    f->dzdh = trl_alloc((size_t)g->n_nodes, sizeof *f->dzdh, TRL_MEM_MISC);
    f->scale = trl_alloc((size_t)f->plan->n_slots + 1, sizeof *f->scale, TRL_MEM_MISC);
    f->unit_scale = trl_alloc(OP_MAX_STATE * n_max, sizeof(trl_real), TRL_MEM_STATE);
    f->w.units = trl_alloc(n_max, sizeof *f->w.units, TRL_MEM_STATE);
    f->w.rest = trl_alloc(n_max, sizeof *f->w.rest, TRL_MEM_STATE);
    f->w.g0 = trl_alloc(2 * n_max, sizeof *f->w.g0, TRL_MEM_STATE);
    f->w.g1 = f->w.g0 ? f->w.g0 + n_max : NULL;
    if (!f->net || !f->trace || !f->dzdh || !f->scale || !f->unit_scale || !f->w.units ||
        !f->w.rest || !f->w.g0)
        return -1;
    for (size_t k = 0; k < OP_MAX_STATE * n_max; k++) f->unit_scale[k] = 1;
    for (int s = 0; s < f->plan->n_slots; s++) {
        const struct trace_slot *sl = &f->plan->slots[s];
        f->trace[s] = trl_alloc_uninit(trl_mul3((size_t)sl->depth, B, sl->values), sizeof(trl_real),
                                       TRL_MEM_TRACE);
        if (!f->trace[s]) return -1;
        if (!sl->row_scales) continue;
        f->scale[s] = trl_alloc(B * sl->row_scales, sizeof(trl_real), TRL_MEM_TRACE);
        if (!f->scale[s]) return -1;
        init_row_scales(sl, g, B, f->scale[s]);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        if (!f->plan->n_node_slots[i]) continue;
        const struct graph_node *n = &g->nodes[i];
        f->dzdh[i] = trl_alloc_uninit(
            trl_mul3((size_t)f->plan->depth[i], B, (size_t)n->op->n_state * n->size),
            sizeof(trl_real), TRL_MEM_TRACE);
        if (!f->dzdh[i]) return -1;
    }
    f->J = trl_alloc(B * OP_MAX_STATE * OP_MAX_STATE, n_max * sizeof(trl_real), TRL_MEM_STATE);
    f->A = trl_alloc(n_max, n_max * sizeof(trl_real), TRL_MEM_STATE);
    f->Wd = trl_alloc(n_max, n_max * sizeof(trl_real), TRL_MEM_STATE);
    f->dy = trl_alloc(B, n_max * sizeof(trl_real), TRL_MEM_STATE);
    f->D = trl_alloc(B * OP_MAX_STATE, n_max * sizeof(trl_real), TRL_MEM_STATE);
    f->lsig = trl_alloc(B, n_max * sizeof(trl_real), TRL_MEM_STATE);
    f->ones = trl_alloc(B, sizeof(trl_real), TRL_MEM_STATE);
    size_t v_max = 1;
    for (int s = 0; s < f->plan->n_slots; s++)
        if (f->plan->slots[s].values > v_max) v_max = f->plan->slots[s].values;
    f->zeros = trl_alloc(v_max, sizeof(trl_real), TRL_MEM_STATE);
    f->q = trl_alloc(k_max, sizeof(trl_real), TRL_MEM_STATE);
    if (!f->J || !f->A || !f->Wd || !f->dy || !f->D || !f->lsig || !f->ones || !f->zeros || !f->q ||
        packed_reserve(&f->wd, (int)n_max, (int)n_max))
        return -1;
    for (size_t b = 0; b < B; b++) f->ones[b] = 1;
    if (f->hooks && f->hooks->on_step) {
        f->step_grad = trl_alloc(g->n_param_values + 1, sizeof(trl_real), TRL_MEM_PARAMS);
        if (!f->step_grad) return -1;
    }
    return 0;
}

static void zero_no_self_diagonals(const struct graph *g, trl_real *grad)
{
    for (int p = 0; p < g->n_params; p++) {
        const struct graph_param *q = &g->params[p];
        if (q->edge >= 0 && g->edges[q->edge].no_self)
            for (int j = 0; j < q->rows; j++) grad[q->offset + (size_t)j * q->cols + j] = 0;
    }
}

/* Step t: the forward step, then every trace in schedule order. */
static void forward_step(struct forward *f, int t, trl_real *grad, double *loss)
{
    const struct graph *g = f->g;
    net_step(f->net, f->d);
    grad_observe_step(f->net, f->d, t, f->hooks);
    trl_real *target = f->step_grad ? f->step_grad : grad;
    if (f->step_grad) memset(f->step_grad, 0, g->n_param_values * sizeof *f->step_grad);
    for (int k = 0; k < g->n_nodes; k++) {
        int i = g->order[k];
        if (f->plan->n_node_slots[i])
            node_traces(f, i, t, target, loss);
        else
            grad_task_loss(g, f->d, f->hooks, i, t, net_z(f->net, i, t), f->dy, loss);
    }
    if (!f->step_grad) return;
    settle_all_pending(f, f->step_grad);
    zero_no_self_diagonals(g, f->step_grad);
    f->hooks->on_step(f->hooks->ctx, t, f->step_grad);
    net_sync_weights(f->net); /* the update changed the weights */
    for (size_t k = 0; k < g->n_param_values; k++) grad[k] += f->step_grad[k];
}

int grad_forward(const struct graph *g, const trl_real *params, const struct data *d,
                 bool prune_delayed, const struct grad_hooks *hooks, trl_real *grad, double *loss,
                 struct trl_errors *err)
{
    struct forward f = {.g = g,
                        .d = d,
                        .B = d->B,
                        .hooks = hooks,
                        .fb = hooks ? hooks->feedback : NULL,
                        .lsig_edge = -1};
    const char *name = prune_delayed ? "eprop" : "rtrl";
    bool *is_loss = grad_loss_nodes(g, hooks);
    f.plan = is_loss ? trace_plan_new_orders(g, prune_delayed ? TRACE_EPROP : TRACE_RTRL, is_loss,
                                             hooks ? hooks->order : 1)
                     : NULL;
    trl_free(is_loss);
    if (!f.plan) {
        trl_errors_add(err, NULL,
                       "too many traces for %s on this graph (more than %d (node, parameter) "
                       "pairs, or out of memory)",
                       name, TRACE_PLAN_MAX_SLOTS);
        return -1;
    }
    if (forward_alloc(&f, params)) {
        trl_errors_add(err, NULL, "out of memory for the %s traces of a batch of %d", name, d->B);
        forward_free(&f);
        return -1;
    }
    struct data win = {0}; /* a streamed data set: a window of steps at a time (data.h) */
    if (d->stream && data_window_new(d, &win, err)) {
        forward_free(&f);
        return -1;
    }
    if (d->stream) f.d = &win;
    memset(grad, 0, g->n_param_values * sizeof *grad);
    *loss = 0;
    int rc = 0;
    for (int t = 0; t < d->T && !rc; t++) {
        rc = d->stream ? data_window_at(&win, t, err) : 0;
        if (!rc) forward_step(&f, t, grad, loss);
    }
    settle_all_pending(&f, grad);
    zero_no_self_diagonals(g, grad);
    data_window_free(&win);
    forward_free(&f);
    return rc;
}
