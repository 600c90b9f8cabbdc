/* grad.c - see grad.h: picks the engine for an algorithm. */
#include "runtime/grad.h"

#include <string.h>

#include "runtime/alloc.h"
#include "runtime/net.h"
#include "runtime/parallel.h"

#define MAX_SHARDS 64

const char *const grad_algo_names[3] = {"bptt", "rtrl", "eprop"};

bool grad_is_online(enum grad_algo algo, enum grad_engine engine)
{
    return algo == GRAD_RTRL || (algo == GRAD_EPROP && engine != GRAD_ENGINE_REVERSE);
}

/* One engine on one batch (or shard). */
static int grad_engine(const struct graph *g, const trl_real *params, const struct data *d,
                       enum grad_algo algo, enum grad_engine engine, const struct grad_hooks *hooks,
                       trl_real *grad, double *loss, struct trl_errors *err)
{
    bool prune = algo == GRAD_EPROP;
    if (grad_is_online(algo, engine))
        return grad_forward(g, params, d, prune, hooks, grad, loss, err);
    if (hooks && hooks->on_step) {
        trl_errors_add(err, NULL, "online updates need --algo rtrl or eprop (online engine)");
        return -1;
    }
    return grad_reverse(g, params, d, prune, hooks, grad, loss, err);
}

/* Shards of a batch, each with its own engine (runtime/parallel.h). */
struct shards {
    const struct graph *g;
    const trl_real *params;
    const struct data *d;
    enum grad_algo algo;
    enum grad_engine engine;
    const struct grad_hooks *hooks;
    int n;
    trl_real *grad[MAX_SHARDS];
    double loss[MAX_SHARDS];
    double *z_sum[MAX_SHARDS];
    trl_real **x[MAX_SHARDS];
    struct trl_errors err[MAX_SHARDS];
    int rc[MAX_SHARDS];
};

static void shard_main(void *ctx, int k)
{
    struct shards *s = ctx;
    int first, count;
    shard_range(s->d->B, s->n, k, &first, &count);
    struct data view;
    data_view(s->g, s->d, first, count, s->x[k], &view);
    struct grad_hooks h = {0};
    if (s->hooks) {
        h = *s->hooks;
        h.z_sum = s->z_sum[k];
        if (h.loss_z) h.loss_z += (size_t)first * s->d->T * s->g->nodes[s->g->loss_node].size;
    }
    trl_errors_init(&s->err[k], "");
    s->rc[k] = grad_engine(s->g, s->params, &view, s->algo, s->engine, s->hooks ? &h : NULL,
                           s->grad[k], &s->loss[k], &s->err[k]);
}

static void shards_free(struct shards *s)
{
    for (int k = 0; k < s->n; k++) {
        if (k > 0) trl_free(s->grad[k]);
        trl_free(s->z_sum[k]);
        trl_free(s->x[k]);
    }
}

static int shards_alloc(struct shards *s, trl_real *grad)
{
    const struct graph *g = s->g;
    for (int k = 0; k < s->n; k++) {
        s->grad[k] = k ? trl_alloc(g->n_param_values + 1, sizeof(trl_real), TRL_MEM_PARAMS) : grad;
        s->x[k] = trl_alloc((size_t)g->n_nodes, sizeof(trl_real *), TRL_MEM_MISC);
        if (s->hooks && s->hooks->z_sum)
            s->z_sum[k] = trl_alloc((size_t)g->n_nodes, sizeof(double), TRL_MEM_MISC);
        if (!s->grad[k] || !s->x[k] || (s->hooks && s->hooks->z_sum && !s->z_sum[k])) return -1;
    }
    return 0;
}

/* Adds the shards' results into shard 0's gradient and the caller's outputs. */
static int shards_reduce(struct shards *s, double *loss, struct trl_errors *err)
{
    const struct graph *g = s->g;
    *loss = 0;
    for (int k = 0; k < s->n; k++) {
        if (s->rc[k]) {
            for (int e = 0; e < s->err[k].n; e++)
                trl_errors_add(err, s->err[k].e[e].path, "%s", s->err[k].e[e].msg);
            return -1;
        }
        *loss += s->loss[k];
        if (k > 0)
            for (size_t i = 0; i < g->n_param_values; i++) s->grad[0][i] += s->grad[k][i];
        if (s->z_sum[k])
            for (int i = 0; i < g->n_nodes; i++) s->hooks->z_sum[i] += s->z_sum[k][i];
    }
    return 0;
}

int grad_compute_hooks(const struct graph *g, const trl_real *params, const struct data *d,
                       enum grad_algo algo, enum grad_engine engine, const struct grad_hooks *hooks,
                       trl_real *grad, double *loss, struct trl_errors *err)
{
    int n = shard_count(d->B);
    if (n > MAX_SHARDS) n = MAX_SHARDS;
    if (n <= 1 || (hooks && hooks->on_step)) /* online updates: every sample sees each update */
        return grad_engine(g, params, d, algo, engine, hooks, grad, loss, err);
    struct shards *s = trl_alloc(1, sizeof *s, TRL_MEM_MISC);
    if (!s) {
        trl_errors_add(err, NULL, "out of memory");
        return -1;
    }
    *s = (struct shards){
        .g = g, .params = params, .d = d, .algo = algo, .engine = engine, .hooks = hooks, .n = n};
    int rc = -1;
    if (shards_alloc(s, grad)) {
        trl_errors_add(err, NULL, "out of memory for %d shards", n);
    } else {
        parallel_run(n, shard_main, s);
        rc = shards_reduce(s, loss, err);
    }
    shards_free(s);
    trl_free(s);
    return rc;
}

int grad_compute(const struct graph *g, const trl_real *params, const struct data *d,
                 enum grad_algo algo, enum grad_engine engine, trl_real *grad, double *loss,
                 struct trl_errors *err)
{
    return grad_compute_hooks(g, params, d, algo, engine, NULL, grad, loss, err);
}

void grad_observe_step(const struct net *net, const struct data *d, int t,
                       const struct grad_hooks *hooks)
{
    if (!hooks) return;
    const struct graph *g = net->g;
    if (hooks->z_sum)
        for (int i = 0; i < g->n_nodes; i++) {
            const trl_real *z = net_z(net, i, t);
            double s = 0;
            for (size_t k = 0; k < (size_t)net->B * g->nodes[i].size; k++) s += z[k];
            hooks->z_sum[i] += s;
        }
    if (hooks->loss_z && g->loss_node >= 0) {
        const int K = g->nodes[g->loss_node].size;
        const trl_real *z = net_z(net, g->loss_node, t);
        for (int b = 0; b < net->B; b++)
            memcpy(hooks->loss_z + ((size_t)b * d->T + t) * K, z + (size_t)b * K,
                   (size_t)K * sizeof *z);
    }
}
