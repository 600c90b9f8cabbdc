/* trace_rows.c - see trace_rows.h. */
#include "kernels/trace_rows.h"

/* Below this a resting row's scale is settled into the row: the scale
 * never goes subnormal. */
#define SCALE_TINY ((trl_real)0x1p-60)

TRL_INLINE bool is_low(trl_real v)
{
    return v < SCALE_TINY && v > -SCALE_TINY;
}

/* A resting row: its scale takes the factor a. A scale that runs low is
 * settled into the row. */
TRL_INLINE void rest_row(trl_real *scale, trl_real a, trl_real *row, int K)
{
    const trl_real v = *scale * a;
    *scale = v;
    if (!is_low(v)) return;
    for (int k = 0; k < K; k++) row[k] *= v;
    *scale = 1;
}

/* How many of n scales ran low. */
TRL_INLINE int low_scales(const trl_real *sc, int n)
{
    int low = 0;
    for (int j = 0; j < n; j++) low += (sc[j] < SCALE_TINY) & (sc[j] > -SCALE_TINY);
    return low;
}

/* The indices j with rest[j] = 0, into units[]; returns how many. */
TRL_INLINE int moving_list(const trl_real *rest, int N, int *units)
{
    int n = 0;
    for (int j = 0; j < N; j++) {
        units[n] = j;
        n += rest[j] == 0;
    }
    return n;
}

void owner_layout_init(struct owner_layout *L, unsigned synapse_rows, int S, int N, int K)
{
    *L = (struct owner_layout){.synapse_rows = synapse_rows, .S = S, .N = N, .K = K};
    size_t o = 0;
    for (int r = 0; r < S; r++) {
        L->off[r] = o;
        o += (synapse_rows & (1u << r)) ? (size_t)N * K : (size_t)K;
    }
}

TRL_HOT bool owner_q(trl_real *q, const trl_real *e, const struct owner_layout *L, int j,
                     const trl_real *c)
{
    const int K = L->K;
    if (c[0] == 0 && (L->S < 2 || c[1] == 0)) return false;
    const trl_real *r0 = owner_row(e, L, 0, j);
    if (L->S == 1) {
        for (int k = 0; k < K; k++) q[k] = c[0] * r0[k];
        return true;
    }
    const trl_real *r1 = owner_row(e, L, 1, j);
    for (int k = 0; k < K; k++) q[k] = c[0] * r0[k] + c[1] * r1[k];
    return true;
}

/* n = c0 o0 + c1 o1 + d x: one row of an owner's update, in place (n is
 * o0 or o1, each element read before it is written). */
TRL_INLINE void owner_row_set(trl_real *n, const trl_real *o0, const trl_real *o1, trl_real c0,
                              trl_real c1, trl_real d, const trl_real *x, int K)
{
#pragma GCC ivdep
    for (int k = 0; k < K; k++) n[k] = c0 * o0[k] + c1 * o1[k] + d * x[k];
}

/* Does row r (of S) of a unit rest, given its row of J, J[r][.] (stride N)
 * and dh_r/dI: no input term and no coupling to the other row? */
TRL_INLINE bool row_rests(const trl_real *Jr, int S, int r, int N, trl_real d)
{
    return d == 0 && (S == 1 || Jr[(1 - r) * N] == 0);
}

/* rest[j] = 1 when every row of unit j kept per synapse rests at this step
 * (row_rests), else 0; all 0 without laziness. */
TRL_INLINE void resting_units(const struct owner_layout *L, const trl_real *J, const trl_real *dhdI,
                              bool lazy, trl_real *rest)
{
    const int S = L->S, N = L->N;
    const bool row0 = L->synapse_rows & 1u, row1 = S > 1 && (L->synapse_rows & 2u);
    if (!lazy || (row0 && dhdI[0] != 0) || (row1 && dhdI[1] != 0)) {
        for (int j = 0; j < N; j++) rest[j] = 0;
        return;
    }
    if (S == 1) { /* no coupling */
        for (int j = 0; j < N; j++) rest[j] = 1;
        return;
    }
    for (int j = 0; j < N; j++) /* the couplings J[0][1] and J[1][0] */
        rest[j] = (trl_real)((!row0 | (J[N + j] == 0)) & (!row1 | (J[2 * N + j] == 0)));
}

/* Unit j's rows kept per synapse, when at least one of them moves: the
 * coefficient of a stored row includes its scale; a row that rests in a
 * moving unit takes its factor (rest_row), a moving one scale 1. */
TRL_INLINE void owner_unit(const struct owner_layout *L, int j, const trl_real *eo, trl_real *en,
                           const trl_real *J, const trl_real *dhdI, const trl_real *x, trl_real *sc,
                           bool lazy)
{
    const int N = L->N, K = L->K;
    const trl_real *o0 = owner_row(eo, L, 0, j);
    trl_real *n0 = en + L->off[0] + (size_t)j * K;
    if (L->S == 1) {
        const trl_real c = J[j] * sc[j], d = dhdI[0];
#pragma GCC ivdep
        for (int k = 0; k < K; k++) n0[k] = c * o0[k] + d * x[k];
        if (lazy) sc[j] = 1;
        return;
    }
    const trl_real *o1 = owner_row(eo, L, 1, j);
    trl_real *n1 = en + L->off[1] + (size_t)j * K;
    const trl_real a00 = J[j], a01 = J[N + j], a10 = J[2 * N + j], a11 = J[3 * N + j];
    const trl_real d0 = dhdI[0], d1 = dhdI[1], s0 = sc[j], s1 = sc[N + j];
    const bool rest0 = lazy && row_rests(J + j, 2, 0, N, d0);
    const bool rest1 = lazy && row_rests(J + 2 * N + j, 2, 1, N, d1);
    const unsigned rows = L->synapse_rows;
    if (rows == 3u && !rest0 && !rest1) { /* both rows move: read both, then write */
        const trl_real c00 = a00 * s0, c01 = a01 * s1, c10 = a10 * s0, c11 = a11 * s1;
        for (int k = 0; k < K; k++) {
            const trl_real v0 = o0[k], v1 = o1[k];
            n0[k] = c00 * v0 + c01 * v1 + d0 * x[k];
            n1[k] = c10 * v0 + c11 * v1 + d1 * x[k];
        }
    } else if ((rows & 1u) && !rest0) {
        owner_row_set(n0, o0, o1, a00 * s0, a01 * s1, d0, x, K);
    } else if ((rows & 2u) && !rest1) {
        owner_row_set(n1, o0, o1, a10 * s0, a11 * s1, d1, x, K);
    }
    if (!lazy) return;
    for (int r = 0; r < 2; r++) /* after the moving row read it: a resting row's decay */
        if (rows & (1u << r)) {
            if (r ? rest1 : rest0)
                rest_row(&sc[r * N + j], r ? a11 : a00, r ? n1 : n0, K);
            else
                sc[r * N + j] = 1;
        }
}

/* Every unit whose rows kept per synapse all rest (rest[j] = 1): each
 * scale takes its J[r][r] (vector passes; owner_unit set the moving units'
 * scales). Scales that ran low are then settled one by one. */
TRL_INLINE void rest_owner_units(const struct owner_layout *L, const trl_real *J,
                                 const trl_real *rest, trl_real *sc, trl_real *en)
{
    const int S = L->S, N = L->N, K = L->K;
    for (int r = 0; r < S; r++) {
        if (!(L->synapse_rows & (1u << r))) continue;
        trl_real *sr = sc + (size_t)r * N;
        const trl_real *Jrr = J + (size_t)(r * S + r) * N;
        for (int j = 0; j < N; j++) {
            const trl_real a = Jrr[j];
            sr[j] *= rest[j] != 0 ? a : 1;
        }
        if (!low_scales(sr, N)) continue;
        for (int j = 0; j < N; j++)
            if (is_low(sr[j])) rest_row(&sr[j], 1, en + L->off[r] + (size_t)j * K, K);
    }
}

TRL_HOT int owner_rows_step(const struct owner_layout *L, const trl_real *eo, trl_real *en,
                            const trl_real *J, const trl_real *dhdI, const trl_real *x,
                            trl_real *scale, bool lazy, struct row_scratch *w)
{
    resting_units(L, J, dhdI, lazy, w->rest);
    const int moving = moving_list(w->rest, L->N, w->units);
    for (int u = 0; u < moving; u++) owner_unit(L, w->units[u], eo, en, J, dhdI, x, scale, lazy);
    if (lazy) rest_owner_units(L, J, w->rest, scale, en);
    return moving;
}

/* Row j of a FACTORED slot at a loss node: p F (the resting steps' gradient
 * terms) into g, then no pending term. */
TRL_INLINE void settle_pending(trl_real *g, const trl_real *F, trl_real *p, int K)
{
    for (int k = 0; k < K; k++) g[k] += *p * F[k];
    *p = 0;
}

/* A FACTORED row that moves: F = lam F + g0 r0 + g1 r1 (lam the decay
 * times the row's scale), and at a loss node g += p F(t-1) + l F(t) (p the
 * pending coefficient of its resting steps). */
TRL_INLINE void factored_row(trl_real *Fn, const trl_real *Fo, const trl_real *r0,
                             const trl_real *r1, trl_real lam, trl_real g0, trl_real g1,
                             trl_real *gj, trl_real p, trl_real l, int K)
{
    if (p != 0) { /* the pending terms read the old row */
        for (int k = 0; k < K; k++) {
            const trl_real old = Fo[k], v = lam * old + g0 * r0[k] + g1 * r1[k];
            Fn[k] = v;
            gj[k] += p * old + l * v;
        }
    } else if (l != 0) { /* the gradient's step term while F is at hand */
        for (int k = 0; k < K; k++) {
            const trl_real v = lam * Fo[k] + g0 * r0[k] + g1 * r1[k];
            Fn[k] = v;
            gj[k] += l * v;
        }
    } else if (g1 != 0) {
        for (int k = 0; k < K; k++) Fn[k] = lam * Fo[k] + g0 * r0[k] + g1 * r1[k];
    } else if (g0 != 0) {
        for (int k = 0; k < K; k++) Fn[k] = lam * Fo[k] + g0 * r0[k];
    } else {
        for (int k = 0; k < K; k++) Fn[k] = lam * Fo[k];
    }
}

/* The resting rows of a FACTORED slot (rest[j] = 1): scale times lambda,
 * pending + lsig times the new scale (vector passes; the moving rows keep
 * what factored_row left). Scales that ran low are settled, the pending
 * terms first. */
TRL_INLINE void rest_factored_rows(const struct factored_step *st, int N, int K,
                                   const trl_real *rest, trl_real *sc, trl_real *pend, trl_real *F)
{
    const trl_real lambda = st->lambda, *lsig = st->lsig; /* locals: sc may alias st */
    for (int j = 0; j < N; j++) sc[j] *= rest[j] != 0 ? lambda : 1;
    if (pend)
        for (int j = 0; j < N; j++) pend[j] += rest[j] * lsig[j] * sc[j];
    if (!low_scales(sc, N)) return;
    for (int j = 0; j < N; j++) {
        if (!is_low(sc[j])) continue;
        if (pend) settle_pending(st->grad + (size_t)j * K, F + (size_t)j * K, &pend[j], K);
        rest_row(&sc[j], 1, F + (size_t)j * K, K);
    }
}

/* The coefficients of the owner's rows, g_r[j] = gain dz_o/dh_o[r][j]
 * times the row's scale, and rest[j] = 1 where both are 0. */
TRL_INLINE void factored_coefs(int N, int S, trl_real gain, const trl_real *restrict dz,
                               const trl_real *restrict sco, bool lazy, trl_real *restrict g0,
                               trl_real *restrict g1, trl_real *restrict rest)
{
    for (int j = 0; j < N; j++) g0[j] = gain * dz[j] * sco[j];
    for (int j = 0; j < N; j++) g1[j] = S > 1 ? gain * dz[N + j] * sco[N + j] : 0;
    for (int j = 0; j < N; j++) rest[j] = (trl_real)(lazy & (g0[j] == 0) & (g1[j] == 0));
}

TRL_HOT int factored_rows_step(const struct factored_step *st, const trl_real *Fo, trl_real *Fn,
                               trl_real *scale, trl_real *pending, bool lazy, struct row_scratch *w)
{
    const struct owner_layout *L = st->owner;
    const int N = L->N, K = L->K;
    factored_coefs(N, L->S, st->gain, st->dz, st->owner_scale, lazy, w->g0, w->g1, w->rest);
    const int moving = moving_list(w->rest, N, w->units);
    for (int u = 0; u < moving; u++) {
        const int j = w->units[u];
        const trl_real *r0 = owner_row(st->e, L, 0, j);
        const trl_real *r1 = L->S > 1 ? owner_row(st->e, L, 1, j) : r0;
        factored_row(Fn + (size_t)j * K, Fo + (size_t)j * K, r0, r1, st->lambda * scale[j],
                     w->g0[j], w->g1[j], st->grad ? st->grad + (size_t)j * K : NULL,
                     pending ? pending[j] : 0, st->lsig ? st->lsig[j] : 0, K);
        if (!lazy) continue;
        scale[j] = 1;
        if (pending) pending[j] = 0;
    }
    if (lazy) rest_factored_rows(st, N, K, w->rest, scale, pending, Fn);
    return moving;
}

void settle_pending_rows(int N, int K, const trl_real *F, trl_real *pending, trl_real *g)
{
    for (int j = 0; j < N; j++)
        if (pending[j] != 0) settle_pending(g + (size_t)j * K, F + (size_t)j * K, &pending[j], K);
}
