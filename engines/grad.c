/* grad.c - see grad.h: picks the engine for an algorithm and splits the
 * batch into chunks, one engine run each, spread over the threads
 * (kernels/parallel.h, grad_chunk_size). */
#include "engines/grad.h"

#include <string.h>

#include "core/alloc.h"
#include "engines/loss.h"
#include "engines/net.h"
#include "kernels/parallel.h"
#include "engines/trace_plan.h"

#define MAX_THREADS 64

const char *const grad_algo_names[3] = {"bptt", "rtrl", "eprop"};

bool grad_is_online(enum grad_algo algo, enum grad_engine engine)
{
    return algo == GRAD_RTRL || (algo == GRAD_EPROP && engine != GRAD_ENGINE_REVERSE);
}

/* An online engine's gradient, and dL/dx from the reverse pass of the same
 * model: the data must be in memory. */
static int forward_with_input_grads(const struct graph *g, const trl_real *params,
                                    const struct data *d, bool prune,
                                    const struct grad_hooks *hooks, trl_real *grad, double *loss,
                                    struct trl_errors *err)
{
    if (d->stream || hooks->on_step) {
        trl_errors_add(err, NULL,
                       "input gradients are accumulated in reverse over every step: they need the "
                       "data in memory and no updates after every step");
        return -1;
    }
    struct grad_hooks fwd = *hooks, rev = *hooks;
    fwd.input_grad = NULL;
    rev.z_sum = NULL; /* observed once, by the forward engine */
    rev.loss_z = NULL;
    rev.trace_rows = NULL;
    trl_real *scratch = trl_alloc_uninit(g->n_param_values + 1, sizeof *scratch, TRL_MEM_PARAMS);
    double ignored;
    int rc = scratch ? grad_forward(g, params, d, prune, &fwd, grad, loss, err) : -1;
    if (!rc) rc = grad_reverse(g, params, d, prune, &rev, scratch, &ignored, err);
    if (!scratch) trl_errors_add(err, NULL, "out of memory");
    trl_free(scratch);
    return rc;
}

/* One engine on one batch (or shard). */
static int grad_engine(const struct graph *g, const trl_real *params, const struct data *d,
                       enum grad_algo algo, enum grad_engine engine, const struct grad_hooks *hooks,
                       trl_real *grad, double *loss, struct trl_errors *err)
{
    bool prune = algo == GRAD_EPROP;
    const bool dx = hooks && hooks->input_grad;
    if (grad_is_online(algo, engine) && !dx)
        return grad_forward(g, params, d, prune, hooks, grad, loss, err);
    if (grad_is_online(algo, engine)) /* dL/dx: the reverse pass of the same model (grad.h) */
        return forward_with_input_grads(g, params, d, prune, hooks, grad, loss, err);
    if (hooks && hooks->on_step) {
        trl_errors_add(err, NULL,
                       "updates after every step need an online gradient: rtrl, or eprop with the "
                       "online engine");
        return -1;
    }
    if (d->stream) { /* reverse accumulation reads every step at the end: data in memory */
        trl_errors_add(err, NULL,
                       "%s%s reads the data backwards in time: load it with data_load, not "
                       "data_open",
                       grad_algo_names[algo], algo == GRAD_EPROP ? " (reverse engine)" : "");
        return -1;
    }
    return grad_reverse(g, params, d, prune, hooks, grad, loss, err);
}

/* grad_chunk_size for the loss nodes of hooks (may be NULL). */
static int chunk_size(const struct graph *g, enum grad_algo algo, enum grad_engine engine,
                      const struct grad_hooks *hooks, int B)
{
    int threads = par_threads() < B ? par_threads() : B;
    int even = (B + threads - 1) / threads; /* one chunk per thread */
    if (!grad_is_online(algo, engine)) return even;
    bool *is_loss = grad_loss_nodes(g, hooks);
    const int order = hooks && hooks->order > 1 ? hooks->order : 1;
    struct trace_plan *p =
        is_loss ? trace_plan_new_orders(g, algo == GRAD_EPROP ? TRACE_EPROP : TRACE_RTRL, is_loss,
                                        order)
                : NULL;
    trl_free(is_loss);
    if (!p) return even;
    size_t per_sample = trace_plan_values(p, g) * sizeof(trl_real);
    trace_plan_free(p);
    size_t budget = par_cache_bytes() / 2; /* half of one core's L2 */
    int fit = per_sample ? (int)(budget / per_sample) : even;
    return fit < 1 ? 1 : fit < even ? fit : even;
}

int grad_chunk_size(const struct graph *g, enum grad_algo algo, enum grad_engine engine, int B)
{
    return chunk_size(g, algo, engine, NULL, B);
}

int grad_samples_held(const struct graph *g, enum grad_algo algo, enum grad_engine engine, int B)
{
    const int chunk = grad_chunk_size(g, algo, engine, B), n_chunks = (B + chunk - 1) / chunk;
    const int running = par_threads() < n_chunks ? par_threads() : n_chunks;
    return n_chunks <= 1 ? B : chunk * running;
}

/* Chunks of a batch, each run by its own engine; worker k takes chunks k,
 * k + n, ... and adds their gradients into its own buffer, and the buffers
 * are added in worker order. */
struct chunks {
    const struct graph *g;
    const trl_real *params;
    const struct data *d;
    enum grad_algo algo;
    enum grad_engine engine;
    const struct grad_hooks *hooks;
    int n_threads, n_chunks, chunk;
    trl_real *grad[MAX_THREADS], *tmp[MAX_THREADS];
    double loss[MAX_THREADS];
    double *z_sum[MAX_THREADS];
    double trace_rows[MAX_THREADS][2];
    trl_real **x[MAX_THREADS];
    struct trl_errors *err; /* per thread (n_threads of them) */
    int rc[MAX_THREADS];
};

static void chunk_worker(void *ctx, int k)
{
    struct chunks *s = ctx;
    const struct graph *g = s->g;
    /* chunks k, k + n, k + 2n, ...: a fixed order of summation, so the same
     * batch gives the same bits at every run */
    for (int c = k; c < s->n_chunks && !s->rc[k]; c += s->n_threads) {
        int first = c * s->chunk, count = s->d->B - first < s->chunk ? s->d->B - first : s->chunk;
        struct data view;
        data_view(g, s->d, first, count, s->x[k], &view);
        struct grad_hooks h = {0};
        if (s->hooks) {
            h = *s->hooks;
            h.z_sum = s->z_sum[k];
            h.batch0 += first;
            if (h.trace_rows) h.trace_rows = s->trace_rows[k];
            if (h.loss_z) h.loss_z += (size_t)first * s->d->T * g->nodes[g->loss_node].size;
        }
        double loss = 0;
        trl_real *out = c == k ? s->grad[k] : s->tmp[k]; /* the engine overwrites out */
        s->rc[k] = grad_engine(g, s->params, &view, s->algo, s->engine, s->hooks ? &h : NULL, out,
                               &loss, &s->err[k]);
        s->loss[k] += loss;
        if (c != k)
            for (size_t i = 0; i < g->n_param_values; i++) s->grad[k][i] += out[i];
    }
}

static void chunks_free(struct chunks *s)
{
    for (int k = 0; k < s->n_threads; k++) {
        if (k > 0) trl_free(s->grad[k]);
        trl_free(s->tmp[k]);
        trl_free(s->z_sum[k]);
        trl_free(s->x[k]);
    }
    trl_free(s->err);
}

static int chunks_alloc(struct chunks *s, trl_real *grad)
{
    const struct graph *g = s->g;
    const size_t n = g->n_param_values + 1;
    const bool several = s->n_chunks > s->n_threads; /* a worker adds a second chunk */
    s->err = trl_alloc_uninit((size_t)s->n_threads, sizeof *s->err, TRL_MEM_MISC);
    if (!s->err) return -1;
    for (int k = 0; k < s->n_threads; k++) {
        trl_errors_init(&s->err[k], "");
        /* written whole by the worker's first chunk (chunk_worker) */
        s->grad[k] = k ? trl_alloc_uninit(n, sizeof(trl_real), TRL_MEM_PARAMS) : grad;
        s->tmp[k] = several ? trl_alloc_uninit(n, sizeof(trl_real), TRL_MEM_PARAMS) : NULL;
        s->x[k] = trl_alloc((size_t)g->n_nodes, sizeof(trl_real *), TRL_MEM_MISC);
        if (s->hooks && s->hooks->z_sum)
            s->z_sum[k] = trl_alloc((size_t)g->n_nodes, sizeof(double), TRL_MEM_MISC);
        if (!s->grad[k] || (several && !s->tmp[k]) || !s->x[k] ||
            (s->hooks && s->hooks->z_sum && !s->z_sum[k]))
            return -1;
    }
    return 0;
}

/* Adds the workers' results into the caller's gradient and outputs. */
static int chunks_reduce(struct chunks *s, double *loss, struct trl_errors *err)
{
    const struct graph *g = s->g;
    *loss = 0;
    for (int k = 0; k < s->n_threads; k++) {
        if (s->rc[k]) {
            for (int e = 0; e < s->err[k].n; e++)
                trl_errors_add(err, s->err[k].e[e].path, "%s", s->err[k].e[e].msg);
            trl_errors_kind(err, s->err[k].kind);
            return -1;
        }
        *loss += s->loss[k];
        if (k > 0)
            for (size_t i = 0; i < g->n_param_values; i++) s->grad[0][i] += s->grad[k][i];
        if (s->z_sum[k])
            for (int i = 0; i < g->n_nodes; i++) s->hooks->z_sum[i] += s->z_sum[k][i];
        if (s->hooks && s->hooks->trace_rows)
            for (int i = 0; i < 2; i++) s->hooks->trace_rows[i] += s->trace_rows[k][i];
    }
    return 0;
}

int grad_compute_hooks(const struct graph *g, const trl_real *params, const struct data *d,
                       enum grad_algo algo, enum grad_engine engine, const struct grad_hooks *hooks,
                       trl_real *grad, double *loss, struct trl_errors *err)
{
    const int chunk = chunk_size(g, algo, engine, hooks, d->B);
    const int n_chunks = (d->B + chunk - 1) / chunk;
    if (n_chunks <= 1 || (hooks && hooks->on_step)) /* online updates: every sample sees each */
        return grad_engine(g, params, d, algo, engine, hooks, grad, loss, err);
    struct chunks *s = trl_alloc(1, sizeof *s, TRL_MEM_MISC);
    if (!s) {
        trl_errors_add(err, NULL, "out of memory");
        return -1;
    }
    int threads = par_threads() < n_chunks ? par_threads() : n_chunks;
    *s = (struct chunks){.g = g,
                         .params = params,
                         .d = d,
                         .algo = algo,
                         .engine = engine,
                         .hooks = hooks,
                         .n_chunks = n_chunks,
                         .chunk = chunk,
                         .n_threads = threads < MAX_THREADS ? threads : MAX_THREADS};
    int rc = -1;
    if (chunks_alloc(s, grad)) {
        trl_errors_add(err, NULL, "out of memory for %d threads", s->n_threads);
    } else {
        parallel_run(s->n_threads, chunk_worker, s);
        rc = chunks_reduce(s, loss, err);
    }
    chunks_free(s);
    trl_free(s);
    return rc;
}

int grad_compute(const struct graph *g, const trl_real *params, const struct data *d,
                 enum grad_algo algo, enum grad_engine engine, trl_real *grad, double *loss,
                 struct trl_errors *err)
{
    return grad_compute_hooks(g, params, d, algo, engine, NULL, grad, loss, err);
}

bool grad_task_loss(const struct graph *g, const struct data *d, const struct grad_hooks *hooks,
                    int i, int t, const trl_real *z, trl_real *dy, double *loss)
{
    const int N = g->nodes[i].size;
    if (!hooks || !hooks->cotangent) {
        if (i != g->loss_node) return false;
        *loss += loss_step(g->loss_type, d, t, N, z, dy);
        return true;
    }
    if (!hooks->cotangent[i]) return false;
    double sum = 0;
    for (int b = 0; b < d->B; b++) {
        const trl_real *c = hooks->cotangent[i] + ((size_t)(hooks->batch0 + b) * d->T + t) * N;
        const trl_real *zb = z + (size_t)b * N;
        memcpy(dy + (size_t)b * N, c, (size_t)N * sizeof *c);
        for (int k = 0; k < N; k++) sum += (double)c[k] * zb[k];
    }
    *loss += sum;
    return true;
}

bool *grad_loss_nodes(const struct graph *g, const struct grad_hooks *hooks)
{
    bool *is = trl_alloc((size_t)g->n_nodes, sizeof *is, TRL_MEM_MISC);
    if (!is) return NULL;
    for (int i = 0; i < g->n_nodes; i++) {
        const bool task =
            hooks && hooks->cotangent ? hooks->cotangent[i] != NULL : i == g->loss_node;
        is[i] = task || (hooks && hooks->dz_const && hooks->dz_const[i]);
    }
    return is;
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
