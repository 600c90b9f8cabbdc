/* train.c - see train.h. */
#include "train/train.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "engines/loss.h"
#include "engines/run.h"
#include "io/safetensors.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int argmax(const double *v, int K)
{
    int best = 0;
    for (int k = 1; k < K; k++)
        if (v[k] > v[best]) best = k;
    return best;
}

double train_accuracy(const struct data *d, const trl_real *y, int K)
{
    if (K > 4096) return NAN;
    double p[4096], tg[4096];
    int right = 0, counted = 0;
    for (int b = 0; b < d->B; b++) {
        memset(p, 0, (size_t)K * sizeof *p);
        memset(tg, 0, (size_t)K * sizeof *tg);
        double weight = 0;
        for (int t = 0; t < d->T; t++) {
            size_t bt = (size_t)b * d->T + t;
            double m = d->mask ? d->mask[bt] : 1.0;
            if (m == 0) continue;
            const trl_real *yt = y + bt * K;
            double top = yt[0], sum = 0;
            for (int k = 1; k < K; k++) top = fmax(top, yt[k]);
            for (int k = 0; k < K; k++) sum += exp(yt[k] - top);
            for (int k = 0; k < K; k++) {
                p[k] += m * exp(yt[k] - top) / sum;
                tg[k] += m * d->target[bt * K + k];
            }
            weight += m;
        }
        if (weight == 0) continue;
        counted++;
        right += argmax(p, K) == argmax(tg, K);
    }
    return counted ? (double)right / counted : NAN;
}

double train_nmse(const struct data *d, const trl_real *y, int K)
{
    double err = 0, weight = 0, var = 0;
    for (int k = 0; k < K; k++) {
        double sum = 0, w = 0;
        for (size_t bt = 0; bt < (size_t)d->B * d->T; bt++) {
            double m = d->mask ? d->mask[bt] : 1.0;
            sum += m * d->target[bt * K + k];
            w += m;
        }
        double mean = w > 0 ? sum / w : 0;
        for (size_t bt = 0; bt < (size_t)d->B * d->T; bt++) {
            double m = d->mask ? d->mask[bt] : 1.0, tg = d->target[bt * K + k];
            err += m * (y[bt * K + k] - tg) * (y[bt * K + k] - tg);
            var += m * (tg - mean) * (tg - mean);
        }
        weight += w;
    }
    return weight > 0 && var > 0 ? err / var : NAN;
}

int train_evaluate(const struct graph *g, const trl_real *params, const struct data *d,
                   struct train_eval *out, struct trl_errors *err)
{
    const int K = g->nodes[g->loss_node].size;
    trl_real *y =
        trl_alloc(trl_mul3((size_t)d->B, (size_t)d->T, (size_t)K), sizeof *y, TRL_MEM_MISC);
    struct run_request req = {.loss_z = y};
    if (!y || run_batch(g, params, d, &req, err)) {
        trl_free(y);
        trl_errors_add(err, NULL, "out of memory evaluating a batch of %d", d->B);
        return -1;
    }
    out->loss = req.loss;
    out->accuracy = g->loss_type == LOSS_CROSS_ENTROPY ? train_accuracy(d, y, K) : NAN;
    out->nmse = g->loss_type == LOSS_MSE ? train_nmse(d, y, K) : NAN;
    trl_free(y);
    return 0;
}

/* Everything one iteration needs, allocated once. */
struct train_state {
    const struct graph *g;
    const struct train_config *cfg;
    trl_real *params, *grad, *loss_z;
    struct optim *o;
    double *z_sum;
    double **unit_sum;   /* per spiking node [size] (rate regulariser) */
    trl_real **dz_const; /* per spiking node [size] */
    bool online_bad;     /* an online step met a non-finite gradient */
    int bad_param;
};

static void state_free(struct train_state *s)
{
    trl_free(s->grad);
    trl_free(s->loss_z);
    trl_free(s->z_sum);
    if (s->unit_sum)
        for (int i = 0; i < s->g->n_nodes; i++) {
            trl_free(s->unit_sum[i]);
            trl_free(s->dz_const[i]);
        }
    trl_free(s->unit_sum);
    trl_free(s->dz_const);
}

static int state_alloc(struct train_state *s, int B, int T)
{
    const struct graph *g = s->g;
    const int K = g->nodes[g->loss_node].size;
    s->grad = trl_alloc(g->n_param_values + 1, sizeof(trl_real), TRL_MEM_PARAMS);
    s->loss_z =
        trl_alloc(trl_mul3((size_t)B, (size_t)T, (size_t)K), sizeof(trl_real), TRL_MEM_MISC);
    s->z_sum = trl_alloc((size_t)g->n_nodes, sizeof(double), TRL_MEM_MISC);
    s->unit_sum = trl_alloc((size_t)g->n_nodes, sizeof *s->unit_sum, TRL_MEM_MISC);
    s->dz_const = trl_alloc((size_t)g->n_nodes, sizeof *s->dz_const, TRL_MEM_MISC);
    if (!s->grad || !s->loss_z || !s->z_sum || !s->unit_sum || !s->dz_const) return -1;
    if (s->cfg->rate_weight == 0) return 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!g->nodes[i].op->spiking) continue;
        s->unit_sum[i] = trl_alloc((size_t)g->nodes[i].size, sizeof(double), TRL_MEM_MISC);
        s->dz_const[i] = trl_alloc((size_t)g->nodes[i].size, sizeof(trl_real), TRL_MEM_MISC);
        if (!s->unit_sum[i] || !s->dz_const[i]) return -1;
    }
    return 0;
}

/* The firing-rate term for batch d: L_reg and its constant dL/dz (train.h). */
static int rate_regulariser(struct train_state *s, const struct data *d, double *reg_loss)
{
    const struct graph *g = s->g;
    const struct train_config *c = s->cfg;
    *reg_loss = 0;
    if (c->rate_weight == 0) return 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (s->unit_sum[i]) memset(s->unit_sum[i], 0, (size_t)g->nodes[i].size * sizeof(double));
    struct run_request req = {.unit_sum = s->unit_sum};
    struct trl_errors err;
    trl_errors_init(&err, "");
    if (run_batch(g, s->params, d, &req, &err)) return -1;
    const double steps = (double)d->T * d->B, r0 = c->rate_target_hz / 1000.0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!s->unit_sum[i]) continue;
        for (int j = 0; j < g->nodes[i].size; j++) {
            double rbar = s->unit_sum[i][j] / steps / g->dt;
            *reg_loss += c->rate_weight * (rbar - r0) * (rbar - r0);
            s->dz_const[i][j] = (trl_real)(2 * c->rate_weight * (rbar - r0) / (g->dt * steps));
        }
    }
    return 0;
}

/* The first trainable tensor with a non-finite entry, or -1. */
static int first_non_finite(const struct graph *g, const trl_real *grad)
{
    for (int p = 0; p < g->n_params; p++) {
        const struct graph_param *q = &g->params[p];
        if (!q->trainable) continue;
        for (size_t k = 0; k < q->count; k++)
            if (!isfinite((double)grad[q->offset + k])) return p;
    }
    return -1;
}

/* The online update: one optimiser step per time step. */
static void online_step(void *ctx, int t, trl_real *step_grad)
{
    struct train_state *s = ctx;
    (void)t;
    if (s->online_bad) return;
    int bad = first_non_finite(s->g, step_grad);
    if (bad >= 0) {
        s->online_bad = true;
        s->bad_param = bad;
        return;
    }
    optim_clip(s->g, step_grad, s->cfg->clip);
    optim_step(s->o, s->g, s->params, step_grad);
}

static void fill_metrics(struct train_state *s, const struct data *d, struct train_metrics *m)
{
    const struct graph *g = s->g;
    for (int p = 0; p < g->n_params; p++) {
        const struct graph_param *q = &g->params[p];
        double sum = 0;
        for (size_t k = 0; q->trainable && k < q->count; k++)
            sum += (double)s->grad[q->offset + k] * s->grad[q->offset + k];
        m->tensor_norm[p] = sqrt(sum);
    }
    for (int i = 0; i < g->n_nodes; i++)
        m->rate_hz[i] = g->nodes[i].op->spiking
                            ? s->z_sum[i] / ((double)d->B * d->T * g->nodes[i].size) / g->dt * 1000
                            : NAN;
    const int K = g->nodes[g->loss_node].size;
    m->accuracy = g->loss_type == LOSS_CROSS_ENTROPY ? train_accuracy(d, s->loss_z, K) : NAN;
    m->nmse = g->loss_type == LOSS_MSE ? train_nmse(d, s->loss_z, K) : NAN;
}

/* One iteration on batch d: gradient, checks, update. */
static int train_iteration(struct train_state *s, const struct data *d, struct train_metrics *m,
                           struct trl_errors *err)
{
    const struct graph *g = s->g;
    const struct train_config *c = s->cfg;
    if (rate_regulariser(s, d, &m->reg_loss)) {
        trl_errors_add(err, NULL, "out of memory for the rate regulariser");
        return -1;
    }
    memset(s->z_sum, 0, (size_t)g->n_nodes * sizeof *s->z_sum);
    struct grad_hooks hooks = {.dz_const = c->rate_weight ? s->dz_const : NULL,
                               .z_sum = s->z_sum,
                               .loss_z = s->loss_z,
                               .on_step = c->online ? online_step : NULL,
                               .ctx = s};
    s->online_bad = false;
    if (grad_compute_hooks(g, s->params, d, c->algo, c->engine, &hooks, s->grad, &m->loss, err))
        return -1;
    int bad = s->online_bad ? s->bad_param : first_non_finite(g, s->grad);
    if (!isfinite(m->loss) || bad >= 0) {
        if (bad >= 0)
            trl_errors_add(
                err, NULL,
                "iteration %ld: the gradient of %s is not finite; stopped before "
                "updating the parameters (try a smaller learning rate, or gradient clipping)",
                m->iter + 1, g->params[bad].name);
        else
            trl_errors_add(err, NULL,
                           "iteration %ld: the loss is not finite; stopped before updating the "
                           "parameters (try a smaller learning rate, or gradient clipping)",
                           m->iter + 1);
        trl_errors_kind(err, ERR_NUMERIC);
        return -1;
    }
    fill_metrics(s, d, m);
    m->grad_norm = optim_clip(g, s->grad, c->online ? 0 : c->clip);
    if (!c->online) optim_step(s->o, g, s->params, s->grad);
    return 0;
}

/* After a non-finite loss or gradient at iteration it: the parameters and
 * the optimiser are those before it (train_iteration stops before the
 * update), so they are written as the last good checkpoint, to resume from
 * with other settings. Online updates have changed the parameters within
 * the iteration: the last periodic checkpoint is then the last good one. */
static void numeric_checkpoint(const struct graph *g, const trl_real *params, const struct optim *o,
                               const struct train_config *cfg, long it, struct trl_errors *err)
{
    if (err->kind != ERR_NUMERIC || !cfg->checkpoint_path || cfg->online) return;
    struct trl_errors werr;
    trl_errors_init(&werr, cfg->checkpoint_path);
    if (train_checkpoint_save(g, params, o, cfg, it, cfg->checkpoint_path, &werr))
        trl_errors_add(err, NULL, "%s: the last good checkpoint could not be written: %s",
                       cfg->checkpoint_path, werr.n ? werr.e[0].msg : "unknown error");
    else
        trl_errors_add(err, NULL,
                       "the last good state (before iteration %ld) is in the checkpoint %s", it + 1,
                       cfg->checkpoint_path);
    trl_errors_kind(err, ERR_NUMERIC);
}

enum train_status train_run(const struct graph *g, trl_real *params, struct optim *o,
                            const struct train_config *cfg, const struct train_source *src,
                            long start, train_callback cb, void *cb_ctx, struct trl_errors *err)
{
    struct train_state s = {.g = g, .cfg = cfg, .params = params, .o = o};
    struct train_metrics m = {.iters = cfg->iters};
    enum train_status status = TRAIN_FAILED;
    m.tensor_norm = trl_alloc((size_t)g->n_params + 1, sizeof(double), TRL_MEM_MISC);
    m.rate_hz = trl_alloc((size_t)g->n_nodes, sizeof(double), TRL_MEM_MISC);
    const double t0 = now_seconds();
    bool allocated = false;
    for (long it = start; it < cfg->iters; it++) {
        struct data *d = src->batch(src->ctx, g, cfg->seed, it, cfg->batch, err);
        if (!d) goto done;
        if (!allocated && (!m.tensor_norm || !m.rate_hz || state_alloc(&s, d->B, d->T))) {
            trl_errors_add(err, NULL, "out of memory for training state");
            data_free(d);
            goto done;
        }
        allocated = true;
        m.iter = it;
        int rc = train_iteration(&s, d, &m, err);
        data_free(d);
        if (rc) {
            numeric_checkpoint(g, params, o, cfg, it, err);
            goto done;
        }
        m.evaluated = src->val && cfg->eval_every > 0 &&
                      ((it + 1) % cfg->eval_every == 0 || it + 1 == cfg->iters);
        struct train_eval ev;
        if (m.evaluated) {
            if (train_evaluate(g, params, src->val, &ev, err)) goto done;
            m.val_loss = ev.loss;
            m.val_accuracy = ev.accuracy;
            m.val_nmse = ev.nmse;
        }
        m.checkpointed = cfg->checkpoint_path && cfg->checkpoint_every > 0 &&
                         (it + 1) % cfg->checkpoint_every == 0;
        if (m.checkpointed &&
            train_checkpoint_save(g, params, o, cfg, it + 1, cfg->checkpoint_path, err))
            goto done;
        m.seconds = now_seconds() - t0;
        if (cb && cb(cb_ctx, g, &m)) {
            status = TRAIN_INTERRUPTED;
            if (cfg->checkpoint_path &&
                train_checkpoint_save(g, params, o, cfg, it + 1, cfg->checkpoint_path, err))
                status = TRAIN_FAILED;
            goto done;
        }
    }
    status = TRAIN_DONE;
done:
    state_free(&s);
    trl_free(m.tensor_norm);
    trl_free(m.rate_hz);
    return status;
}
