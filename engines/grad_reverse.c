/* grad_reverse.c - reverse accumulation over the stored history: bptt, and
 * e-prop's `--engine reverse` (SPEC section 6).
 *
 * Forward: every step of every node is kept (h and z, T steps). Backward,
 * t = T-1 .. 0, nodes in reverse schedule order (llm.c-style: the forward
 * pass stores exactly what this reads):
 *
 *   dL/dz_n(t)  accumulated from the loss term and from every consumer edge
 *               (a consumer at t + d adds dL/dI_c(t + d) W_e);
 *   dL/dh_n(t)  = dz/dh(t) . dL/dz_n(t) + J(t+1)^T dL/dh_n(t+1)
 *               (J(t+1) includes the path through the node's own z(t):
 *               reset and adaptation, ops/op.h);
 *   dL/dI_n(t)  = sum_r dh_r/dI . dL/dh_r(t).
 *
 * e-prop (prune_delayed) is the same with no dL/dz flowing back through an
 * edge of delay >= 1: the source value of such an edge is a constant.
 * Weight gradients are one GEMM per edge over all steps at the end,
 * dL/dW = sum_t dL/dI(t)^T z_src(t - d), from the stored dL/dI history.
 *
 * m-order e-prop (SPEC 6.2, order M): M adjoints per step, one per copy of
 * the network (copy k: paths from the loss that crossed M-1-k delayed
 * edges). The loss enters copy M-1; a delay-0 edge carries credit within a
 * copy, a delayed edge of copy k into copy k-1 (none out of copy 0). The
 * copies share the weights, so the stored dL/dI is their sum. With
 * feedback matrices (SPEC 6.3) an edge's credit product uses its matrix in
 * place of W.
 *
 * The loss term is the graph's loss or a caller's cotangent (SPEC 6.4);
 * asked for, dL/dz of an input node (summed over the copies) is its input
 * gradient dL/dx.
 *
 * Memory per sample and step (T_MEM_HISTORY): sum over nodes of
 * (S + 1) * size (h and z) + size for non-inputs (dL/dI).
 */
#include <string.h>

#include "core/alloc.h"
#include "engines/grad.h"
#include "engines/net.h"

struct reverse {
    const struct graph *g;
    const struct data *d;
    struct net *net;
    bool prune_delayed;
    int copies; /* M of m-order e-prop, else 1 */
    const struct grad_hooks *hooks;
    trl_real **dz; /* per node and copy: ring of dz_depth slots [B][N] of dL/dz */
    int *dz_depth;
    trl_real **dh_next;                 /* per node and copy: dL/dh(t+1) [B][S*N] */
    trl_real **dI;                      /* per non-input node: history [T][B][N] of dL/dI */
    trl_real *dzdh, *J, *dh, *dy, *dI1; /* scratch; dI1: one copy's dL/dI [B][N] */
    struct packed_weight *back; /* per edge: W for dL/dz_src += dL/dI W (kernels/packed.h) */
};

static void reverse_free(struct reverse *r)
{
    if (r->dz)
        for (int i = 0; i < r->g->n_nodes; i++) {
            trl_free(r->dz[i]);
            trl_free(r->dh_next[i]);
            trl_free(r->dI[i]);
        }
    trl_free(r->dz);
    trl_free(r->dz_depth);
    trl_free(r->dh_next);
    trl_free(r->dI);
    trl_free(r->dzdh);
    trl_free(r->J);
    trl_free(r->dh);
    trl_free(r->dy);
    trl_free(r->dI1);
    if (r->back)
        for (int k = 0; k < r->g->n_edges; k++) packed_free(&r->back[k]);
    trl_free(r->back);
    net_free(r->net);
}

/* The edges' W for the backward products of a step: packed for the batch's
 * few rows where that pays, else the BLAS on W (packed_init). */
/* Is dL/dx of input node i asked for (grad_hooks.input_grad)? */
static bool wants_dx(const struct reverse *r, int i)
{
    return r->hooks && r->hooks->input_grad && r->hooks->input_grad[i];
}

static int alloc_back(struct reverse *r, const trl_real *params)
{
    const struct graph *g = r->g;
    r->back = trl_alloc((size_t)g->n_edges + 1, sizeof *r->back, TRL_MEM_STATE);
    if (!r->back) return -1;
    for (int k = 0; k < g->n_edges; k++) {
        const struct graph_edge *e = &g->edges[k];
        trl_real *const *fb = r->hooks ? r->hooks->feedback : NULL;
        const trl_real *W = fb && fb[k] ? fb[k] : params + g->params[e->param].offset;
        const int N = g->nodes[e->dst].size, K = g->nodes[e->src].size;
        const bool used = (!g->nodes[e->src].op->is_input || wants_dx(r, e->src)) &&
                          !(r->prune_delayed && e->delay > 0 && r->copies == 1);
        if (!used || !packed_pays(r->d->B))
            r->back[k] = (struct packed_weight){
                .w = W, .rows = N, .cols = K, .op = PACKED_W, .n_in = N, .n_out = K};
        else if (packed_init(&r->back[k], W, N, K, PACKED_W))
            return -1;
    }
    return 0;
}

static int reverse_alloc(struct reverse *r, const trl_real *params)
{
    const struct graph *g = r->g;
    const size_t B = (size_t)r->d->B, T = (size_t)r->d->T;
    size_t big = 1;
    r->net = net_new(g, params, (int)B, (int)T);
    r->dz = trl_alloc((size_t)g->n_nodes, sizeof *r->dz, TRL_MEM_MISC);
    r->dz_depth = trl_alloc((size_t)g->n_nodes, sizeof *r->dz_depth, TRL_MEM_MISC);
    r->dh_next = trl_alloc((size_t)g->n_nodes, sizeof *r->dh_next, TRL_MEM_MISC);
    r->dI = trl_alloc((size_t)g->n_nodes, sizeof *r->dI, TRL_MEM_MISC);
    if (!r->net || !r->dz || !r->dz_depth || !r->dh_next || !r->dI) return -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const struct graph_node *n = &g->nodes[i];
        const int depth = graph_max_out_delay(g, i) + 1;
        r->dz_depth[i] = depth;
        r->dz[i] = trl_alloc((size_t)depth * B * r->copies, (size_t)n->size * sizeof(trl_real),
                             TRL_MEM_STATE);
        if (!r->dz[i]) return -1;
        size_t state = (size_t)n->op->n_state * n->size;
        if (state * OP_MAX_STATE > big) big = state * OP_MAX_STATE;
        if ((size_t)n->size > big) big = (size_t)n->size; /* dy of a loss term */
        if (n->op->is_input) continue;
        r->dh_next[i] = trl_alloc(B * r->copies, state * sizeof(trl_real), TRL_MEM_STATE);
        r->dI[i] = trl_alloc_uninit(trl_mul2(T, B), (size_t)n->size * sizeof(trl_real),
                                    TRL_MEM_HISTORY); /* written at every step */
        if (!r->dh_next[i] || !r->dI[i]) return -1;
    }
    r->dzdh = trl_alloc(B, big * sizeof(trl_real), TRL_MEM_STATE);
    r->J = trl_alloc(B, big * OP_MAX_STATE * sizeof(trl_real), TRL_MEM_STATE);
    r->dh = trl_alloc(B, big * sizeof(trl_real), TRL_MEM_STATE);
    r->dy = trl_alloc(B, big * sizeof(trl_real), TRL_MEM_STATE);
    r->dI1 = trl_alloc(B, big * sizeof(trl_real), TRL_MEM_STATE);
    return r->dzdh && r->J && r->dh && r->dy && r->dI1 ? alloc_back(r, params) : -1;
}

/* dz/dh(t) of node i into r->dzdh and, before the last step, J(t+1) (from
 * h(t)) into r->J: shared by the copies. */
static void node_jacobians(struct reverse *r, int i, int t)
{
    const struct graph_node *n = &r->g->nodes[i];
    const int B = r->d->B, N = n->size;
    n->op->output_jacobian(n->params, B, N, net_h(r->net, i, t), net_z(r->net, i, t), r->dzdh);
    if (t + 1 < r->d->T) n->op->state_jacobian(n->params, B, N, net_h(r->net, i, t), r->J);
}

/* dL/dh(t) of node i into r->dh, from dL/dz(t) and dL/dh(t+1) (next). */
static void node_dh(struct reverse *r, int i, int t, const trl_real *dz, const trl_real *next)
{
    const struct graph_node *n = &r->g->nodes[i];
    const int B = r->d->B, N = n->size, S = n->op->n_state;
    for (int b = 0; b < B; b++)
        for (int s = 0; s < S; s++) {
            const trl_real *dzdh = r->dzdh + ((size_t)b * S + s) * N, *dzb = dz + (size_t)b * N;
            trl_real *dh = r->dh + ((size_t)b * S + s) * N;
            for (int j = 0; j < N; j++) dh[j] = dzdh[j] * dzb[j];
        }
    if (t + 1 >= r->d->T) return;
    /* + J(t+1)^T dL/dh(t+1) */
    for (int b = 0; b < B; b++)
        for (int c = 0; c < S; c++) {
            trl_real *dh = r->dh + ((size_t)b * S + c) * N;
            for (int s = 0; s < S; s++) {
                const trl_real *J = r->J + ((size_t)b * S * S + (size_t)s * S + c) * N;
                const trl_real *nx = next + ((size_t)b * S + s) * N;
                for (int j = 0; j < N; j++) dh[j] += J[j] * nx[j];
            }
        }
}

/* dL/dz of node i at step t in copy c. */
static trl_real *dz_at(const struct reverse *r, int i, int t, int c)
{
    const size_t slot = (size_t)r->d->B * r->g->nodes[i].size;
    return r->dz[i] + ((size_t)c * r->dz_depth[i] + (size_t)(t % r->dz_depth[i])) * slot;
}

/* Copy c of node i at step t (dz its dL/dz): dL/dI into dI, and dL/dz of its
 * sources, in copy c through delay-0 edges (every edge for bptt), in copy
 * c - 1 through delayed ones. */
static void copy_backward(struct reverse *r, int i, int t, int c, trl_real *dz, trl_real *dI)
{
    const struct graph *g = r->g;
    const struct graph_node *n = &g->nodes[i];
    const int B = r->d->B, N = n->size, S = n->op->n_state;
    trl_real *next = r->dh_next[i] + (size_t)c * B * S * N;
    node_dh(r, i, t, dz, next);
    memset(dz, 0, (size_t)B * N * sizeof *dz); /* the slot is reused d steps earlier */
    trl_real dhdI[OP_MAX_STATE];
    n->op->input_jacobian(n->params, dhdI);
    for (int b = 0; b < B; b++) {
        trl_real *dIb = dI + (size_t)b * N;
        memset(dIb, 0, (size_t)N * sizeof *dIb);
        for (int s = 0; s < S; s++) {
            const trl_real *dh = r->dh + ((size_t)b * S + s) * N;
            if (dhdI[s] != 0)
                for (int j = 0; j < N; j++) dIb[j] += dhdI[s] * dh[j];
        }
    }
    memcpy(next, r->dh, (size_t)B * S * N * sizeof *r->dh);
    for (int k = 0; k < n->n_in; k++) {
        const struct graph_edge *e = &g->edges[n->in[k]];
        const struct graph_node *src = &g->nodes[e->src];
        const bool crosses = r->prune_delayed && e->delay > 0;
        if ((src->op->is_input && !wants_dx(r, e->src)) || t - e->delay < 0 || (crosses && c == 0))
            continue;
        packed_mul(&r->back[n->in[k]], B, dI, N, dz_at(r, e->src, t - e->delay, c - crosses),
                   src->size);
    }
}

/* Step t of node i: its dL/dI(t) (summed over the copies), and dL/dz of its
 * sources. */
static void node_backward(struct reverse *r, int i, int t, double *loss)
{
    const struct graph *g = r->g;
    const struct graph_node *n = &g->nodes[i];
    const int B = r->d->B, N = n->size, last = r->copies - 1;
    trl_real *dz = dz_at(r, i, t, last); /* the loss and the hooks' terms enter the last copy */
    if (grad_task_loss(g, r->d, r->hooks, i, t, net_z(r->net, i, t), r->dy, loss))
        for (size_t k = 0; k < (size_t)B * N; k++) dz[k] += r->dy[k];
    const trl_real *extra = r->hooks && r->hooks->dz_const ? r->hooks->dz_const[i] : NULL;
    if (extra)
        for (int b = 0; b < B; b++)
            for (int j = 0; j < N; j++) dz[(size_t)b * N + j] += extra[j];
    if (n->op->is_input) {
        trl_real *dx = wants_dx(r, i) ? r->hooks->input_grad[i] : NULL;
        for (int b = 0; dx && b < B; b++) { /* dL/dx(t), rows as the cotangent's (grad.h) */
            trl_real *row = dx + ((size_t)(r->hooks->batch0 + b) * r->d->T + t) * N;
            memset(row, 0, (size_t)N * sizeof *row);
            for (int c = 0; c <= last; c++)
                for (int j = 0; j < N; j++) row[j] += dz_at(r, i, t, c)[(size_t)b * N + j];
        }
        for (int c = 0; c <= last; c++) memset(dz_at(r, i, t, c), 0, (size_t)B * N * sizeof *dz);
        return;
    }
    node_jacobians(r, i, t);
    trl_real *dI = r->dI[i] + (size_t)t * B * N;
    copy_backward(r, i, t, last, dz, dI);
    for (int c = last - 1; c >= 0; c--) {
        copy_backward(r, i, t, c, dz_at(r, i, t, c), r->dI1);
        for (size_t k = 0; k < (size_t)B * N; k++) dI[k] += r->dI1[k];
    }
}

/* dL/dW = sum_t dL/dI(t)^T z_src(t - d): one GEMM over all steps per edge. */
static void weight_gradients(struct reverse *r, trl_real *grad)
{
    const struct graph *g = r->g;
    const int B = r->d->B, T = r->d->T;
    for (int p = 0; p < g->n_params; p++) {
        const struct graph_param *q = &g->params[p];
        const struct graph_node *n = &g->nodes[q->node];
        const trl_real *dI = r->dI[q->node];
        trl_real *gw = grad + q->offset;
        if (!q->trainable) continue;
        if (q->edge < 0) {
            for (size_t row = 0; row < (size_t)T * B; row++)
                for (int j = 0; j < n->size; j++) gw[j] += dI[row * n->size + j];
            continue;
        }
        const struct graph_edge *e = &g->edges[q->edge];
        if (e->delay >= T) continue;
        const int K = q->cols, rows = (T - e->delay) * B;
        trl_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, n->size, K, rows, 1,
                 dI + (size_t)e->delay * B * n->size, n->size, net_z(r->net, e->src, 0), K, 1, gw,
                 K);
        if (e->no_self)
            for (int j = 0; j < n->size; j++) gw[(size_t)j * K + j] = 0;
    }
}

int grad_reverse(const struct graph *g, const trl_real *params, const struct data *d,
                 bool prune_delayed, const struct grad_hooks *hooks, trl_real *grad, double *loss,
                 struct trl_errors *err)
{
    const int order = prune_delayed && hooks && hooks->order > 1 ? hooks->order : 1;
    struct reverse r = {
        .g = g, .d = d, .prune_delayed = prune_delayed, .copies = order, .hooks = hooks};
    if (reverse_alloc(&r, params)) {
        trl_errors_add(err, NULL, "out of memory for the history of %d x %d steps", d->B, d->T);
        reverse_free(&r);
        return -1;
    }
    if (net_prefers_sequence(g)) { /* every step is kept: component by component */
        if (net_run_sequence(r.net, d)) {
            trl_errors_add(err, NULL, "out of memory");
            reverse_free(&r);
            return -1;
        }
    } else {
        for (int t = 0; t < d->T; t++) net_step(r.net, d);
    }
    for (int t = 0; t < d->T; t++) grad_observe_step(r.net, d, t, hooks);
    *loss = 0;
    for (int t = d->T - 1; t >= 0; t--)
        for (int k = g->n_nodes - 1; k >= 0; k--) node_backward(&r, g->order[k], t, loss);
    memset(grad, 0, g->n_param_values * sizeof *grad);
    weight_gradients(&r, grad);
    reverse_free(&r);
    return 0;
}
