/* run.c - see run.h. */
#include "engines/run.h"

#include <string.h>

#include "core/alloc.h"
#include "engines/loss.h"
#include "engines/net.h"
#include "kernels/parallel.h"

#define MAX_SHARDS         64
#define RUN_HISTORY_BUDGET ((size_t)256 << 20) /* bytes of history a run may keep */

void run_result_free(struct run_result *res)
{
    if (res->out)
        for (int i = 0; i < res->n_outputs; i++) trl_free(res->out[i]);
    if (res->states)
        for (int i = 0; i < res->n_nodes; i++) trl_free(res->states[i]);
    trl_free(res->out);
    trl_free(res->states);
    memset(res, 0, sizeof *res);
}

/* Copies z(t) [B, size] into out [B, T, size]. */
static void gather(trl_real *out, const trl_real *z, int B, int T, int t, int size)
{
    for (int b = 0; b < B; b++)
        memcpy(out + ((size_t)b * T + t) * size, z + (size_t)b * size, (size_t)size * sizeof *z);
}

/* Copies state variable s of h(t) [B, S * size] (ops/op.h) into out
 * [B, T, size]. */
static void gather_state(trl_real *out, const trl_real *h, int B, int T, int t, int S, int s,
                         int size)
{
    for (int b = 0; b < B; b++)
        memcpy(out + ((size_t)b * T + t) * size, h + ((size_t)b * S + s) * size,
               (size_t)size * sizeof *h);
}

/* One shard: samples [first, first + count) of the batch. */
struct run_shards {
    const struct graph *g;
    const trl_real *params;
    const struct data *d;
    const struct run_request *req;
    bool sequence; /* net_prefers_sequence */
    int n;
    double loss[MAX_SHARDS];
    double **unit_sum[MAX_SHARDS]; /* per shard, per node */
    trl_real **x[MAX_SHARDS];
    int rc[MAX_SHARDS];
};

static void sum_units(const struct net *net, int t, double *const *unit_sum)
{
    for (int i = 0; i < net->g->n_nodes; i++) {
        if (!unit_sum[i]) continue;
        const int N = net->g->nodes[i].size;
        const trl_real *z = net_z(net, i, t);
        for (int b = 0; b < net->B; b++)
            for (int j = 0; j < N; j++) unit_sum[i][j] += z[(size_t)b * N + j];
    }
}

/* Shard k's samples of every requested state at step t; the shard starts at
 * sample first of the batch of B_all. */
static void gather_states(const struct net *net, int t, trl_real *const *states, int first,
                          int B_all, int T)
{
    for (int i = 0; i < net->g->n_nodes; i++) {
        if (!states[i]) continue;
        const int S = net->g->nodes[i].op->n_state, size = net->g->nodes[i].size;
        for (int s = 0; s < S; s++)
            gather_state(states[i] + ((size_t)s * B_all + first) * T * size, net_h(net, i, t),
                         net->B, T, t, S, s, size);
    }
}

static void run_shard(void *ctx, int k)
{
    struct run_shards *s = ctx;
    const struct graph *g = s->g;
    const struct run_request *req = s->req;
    int first, count;
    shard_range(s->d->B, s->n, k, &first, &count);
    struct data d;
    data_view(g, s->d, first, count, s->x[k], &d);
    /* whole sequence component by component when its history is affordable
     * (engines/net.h), else step by step in constant memory */
    const bool whole =
        s->sequence && net_state_bytes(g, d.B) / 2 * (size_t)d.T <= RUN_HISTORY_BUDGET;
    struct net *net = net_new(g, s->params, d.B, whole ? d.T : 0);
    s->rc[k] = net && (!whole || net_run_sequence(net, &d) == 0) ? 0 : -1;
    if (s->rc[k]) {
        net_free(net);
        return;
    }
    const int K = g->loss_node >= 0 ? g->nodes[g->loss_node].size : 0;
    const bool has_loss = K && d.target;
    for (int t = 0; t < d.T; t++) {
        if (!whole) net_step(net, &d);
        for (int i = 0; req->out && i < g->n_outputs; i++) {
            const int size = g->nodes[g->outputs[i]].size;
            gather(req->out[i] + (size_t)first * d.T * size, net_z(net, g->outputs[i], t), d.B, d.T,
                   t, size);
        }
        if (req->loss_z && K)
            gather(req->loss_z + (size_t)first * d.T * K, net_z(net, g->loss_node, t), d.B, d.T, t,
                   K);
        if (has_loss)
            s->loss[k] += loss_step(g->loss_type, &d, t, K, net_z(net, g->loss_node, t), NULL);
        if (s->unit_sum[k]) sum_units(net, t, s->unit_sum[k]);
        if (req->states) gather_states(net, t, req->states, first, s->d->B, d.T);
    }
    net_free(net);
}

static void run_shards_free(struct run_shards *s)
{
    for (int k = 0; k < s->n; k++) {
        for (int i = 0; s->unit_sum[k] && i < s->g->n_nodes; i++) trl_free(s->unit_sum[k][i]);
        trl_free(s->unit_sum[k]);
        trl_free(s->x[k]);
    }
}

static int run_shards_alloc(struct run_shards *s)
{
    const struct graph *g = s->g;
    for (int k = 0; k < s->n; k++) {
        s->x[k] = trl_alloc((size_t)g->n_nodes, sizeof(trl_real *), TRL_MEM_MISC);
        if (!s->x[k]) return -1;
        if (!s->req->unit_sum) continue;
        s->unit_sum[k] = trl_alloc((size_t)g->n_nodes, sizeof(double *), TRL_MEM_MISC);
        if (!s->unit_sum[k]) return -1;
        for (int i = 0; i < g->n_nodes; i++) {
            if (!s->req->unit_sum[i]) continue;
            s->unit_sum[k][i] = trl_alloc((size_t)g->nodes[i].size, sizeof(double), TRL_MEM_MISC);
            if (!s->unit_sum[k][i]) return -1;
        }
    }
    return 0;
}

int run_batch(const struct graph *g, const trl_real *params, const struct data *d,
              struct run_request *req, struct trl_errors *err)
{
    struct run_shards *s = trl_alloc(1, sizeof *s, TRL_MEM_MISC);
    int rc = -1;
    if (!s) goto done;
    *s = (struct run_shards){
        .g = g, .params = params, .d = d, .req = req, .sequence = net_prefers_sequence(g)};
    s->n = shard_count(d->B) < MAX_SHARDS ? shard_count(d->B) : MAX_SHARDS;
    if (run_shards_alloc(s)) goto done;
    parallel_run(s->n, run_shard, s);
    req->loss = 0;
    for (int k = 0; k < s->n; k++) {
        if (s->rc[k]) goto done;
        req->loss += s->loss[k];
        for (int i = 0; s->unit_sum[k] && i < g->n_nodes; i++)
            for (int j = 0; s->unit_sum[k][i] && j < g->nodes[i].size; j++)
                req->unit_sum[i][j] += s->unit_sum[k][i][j];
    }
    rc = 0;
done:
    if (rc) trl_errors_add(err, NULL, "out of memory for a batch of %d x %d steps", d->B, d->T);
    if (s) run_shards_free(s);
    trl_free(s);
    return rc;
}

int run_forward(const struct graph *g, const trl_real *params, const struct data *d,
                struct run_result *res, struct trl_errors *err)
{
    return run_forward_states(g, params, d, false, res, err);
}

/* The arrays of res: outputs, and states when asked; 0 or -1. */
static int result_alloc(const struct graph *g, const struct data *d, bool states,
                        struct run_result *res)
{
    const size_t BT = (size_t)d->B * d->T;
    res->n_outputs = g->n_outputs;
    res->out = trl_alloc((size_t)g->n_outputs + 1, sizeof *res->out, TRL_MEM_MISC);
    if (!res->out) return -1;
    for (int i = 0; i < g->n_outputs; i++) {
        res->out[i] = trl_alloc(trl_mul3(BT, 1, (size_t)g->nodes[g->outputs[i]].size),
                                sizeof(trl_real), TRL_MEM_MISC);
        if (!res->out[i]) return -1;
    }
    if (!states) return 0;
    res->n_nodes = g->n_nodes;
    res->states = trl_alloc((size_t)g->n_nodes, sizeof *res->states, TRL_MEM_MISC);
    if (!res->states) return -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const struct graph_node *n = &g->nodes[i];
        if (!n->op->n_state) continue;
        res->states[i] = trl_alloc(trl_mul3(BT, (size_t)n->op->n_state, (size_t)n->size),
                                   sizeof(trl_real), TRL_MEM_MISC);
        if (!res->states[i]) return -1;
    }
    return 0;
}

int run_forward_states(const struct graph *g, const trl_real *params, const struct data *d,
                       bool states, struct run_result *res, struct trl_errors *err)
{
    memset(res, 0, sizeof *res);
    if (result_alloc(g, d, states, res)) {
        trl_errors_add(err, NULL, "out of memory for a batch of %d x %d steps", d->B, d->T);
        run_result_free(res);
        return -1;
    }
    res->has_loss = g->loss_node >= 0 && d->target;
    struct run_request req = {.out = res->out, .states = res->states};
    if (run_batch(g, params, d, &req, err)) {
        run_result_free(res);
        return -1;
    }
    res->loss = req.loss;
    return 0;
}
