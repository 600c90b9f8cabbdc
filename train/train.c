/* train.c - see train.h. */
#include "train/train.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "engines/loss.h"
#include "engines/run.h"
#include "io/feedback.h"
#include "io/safetensors.h"
#include "kernels/parallel.h"

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

/* Samples of d decided right, and samples with a masked step (train_accuracy). */
static void accuracy_counts(const struct data *d, const trl_real *y, int K, int *right,
                            int *counted)
{
    *right = *counted = 0;
    if (K > 4096) return;
    double p[4096], tg[4096];
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
        (*counted)++;
        *right += argmax(p, K) == argmax(tg, K);
    }
}

double train_accuracy(const struct data *d, const trl_real *y, int K)
{
    int right, counted;
    accuracy_counts(d, y, K, &right, &counted);
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

void train_score_sums(const struct data *d, const trl_real *y, int K, double *sums)
{
    int right, counted;
    accuracy_counts(d, y, K, &right, &counted);
    sums[0] = right;
    sums[1] = counted;
    for (int k = 0; k < K; k++) {
        double *q = sums + 2 + 4 * (size_t)k; /* sum m tg, sum m tg^2, sum m, sum m (y - tg)^2 */
        q[0] = q[1] = q[2] = q[3] = 0;
        for (size_t bt = 0; bt < (size_t)d->B * d->T; bt++) {
            double m = d->mask ? d->mask[bt] : 1.0, tg = d->target[bt * K + k];
            double e = y[bt * K + k] - tg;
            q[0] += m * tg;
            q[1] += m * tg * tg;
            q[2] += m;
            q[3] += m * e * e;
        }
    }
}

void train_score_of(const double *sums, int K, double *accuracy, double *nmse)
{
    *accuracy = sums[1] > 0 ? sums[0] / sums[1] : NAN;
    double err = 0, var = 0, weight = 0;
    for (int k = 0; k < K; k++) {
        const double *q = sums + 2 + 4 * (size_t)k;
        err += q[3];
        var += q[2] > 0 ? q[1] - q[0] * q[0] / q[2] : 0;
        weight += q[2];
    }
    *nmse = weight > 0 && var > 0 ? err / var : NAN;
}

/* Samples [first, first + count) of d for this process's shard. */
static void my_shard(const struct train_config *c, int B, int *first, int *count)
{
    shard_range(B, c->n_shards, c->shard, first, count);
}

/* Sums v over the processes (train_config.reduce). */
static int reduce(const struct train_config *c, double *v, size_t n, struct trl_errors *err)
{
    if (c->reduce(c->reduce_ctx, v, n) == 0) return 0;
    trl_errors_add(err, NULL, "the sum over processes failed");
    trl_errors_kind(err, ERR_IO);
    return -1;
}

/* train_evaluate over this process's shard, the scores summed over all. */
static int evaluate_shard(const struct graph *g, const struct train_config *c,
                          const trl_real *params, const struct data *d, struct train_eval *out,
                          struct trl_errors *err)
{
    const int K = g->nodes[g->loss_node].size;
    int first, count;
    my_shard(c, d->B, &first, &count);
    trl_real **x = trl_alloc((size_t)g->n_nodes + 1, sizeof *x, TRL_MEM_MISC);
    double *sums = trl_alloc(1 + TRAIN_SCORE_SUMS(K), sizeof *sums, TRL_MEM_MISC);
    trl_real *y =
        trl_alloc(trl_mul3((size_t)count + 1, (size_t)d->T, (size_t)K), sizeof *y, TRL_MEM_MISC);
    struct data view;
    int rc = -1;
    if (x && sums && y) {
        data_view(g, d, first, count, x, &view); /* the loss still averages over d->B */
        struct run_request req = {.loss_z = y};
        if (count == 0 || run_batch(g, params, &view, &req, err) == 0) {
            sums[0] = count ? req.loss : 0;
            if (count)
                train_score_sums(&view, y, K, sums + 1);
            else
                memset(sums + 1, 0, TRAIN_SCORE_SUMS(K) * sizeof *sums);
            rc = reduce(c, sums, 1 + TRAIN_SCORE_SUMS(K), err);
        }
    } else {
        trl_errors_add(err, NULL, "out of memory evaluating a batch of %d", d->B);
    }
    if (rc == 0) {
        out->loss = sums[0];
        double acc, nmse;
        train_score_of(sums + 1, K, &acc, &nmse);
        out->accuracy = g->loss_type == LOSS_CROSS_ENTROPY ? acc : NAN;
        out->nmse = g->loss_type == LOSS_MSE ? nmse : NAN;
    }
    trl_free(x);
    trl_free(sums);
    trl_free(y);
    return rc;
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
    trl_real *before; /* adaptive feedback: the weights before an update */
    struct optim *o;
    double *z_sum;
    double **unit_sum;   /* per spiking node [size] (rate regulariser) */
    trl_real **dz_const; /* per spiking node [size] */
    bool online_bad;     /* an online step met a non-finite gradient */
    int bad_param;
    /* sharded (train_config.n_shards > 1): */
    trl_real **view_x; /* the shard's input pointers */
    double *red;       /* what a batch sums over processes: gradient, loss, z_sum, scores */
    size_t n_red;
    double *unit_red; /* the rate regulariser's unit sums, laid end to end */
    size_t n_unit;
};

static void state_free(struct train_state *s)
{
    trl_free(s->grad);
    trl_free(s->before);
    trl_free(s->loss_z);
    trl_free(s->z_sum);
    if (s->unit_sum)
        for (int i = 0; i < s->g->n_nodes; i++) {
            trl_free(s->unit_sum[i]);
            trl_free(s->dz_const[i]);
        }
    trl_free(s->unit_sum);
    trl_free(s->dz_const);
    trl_free(s->view_x);
    trl_free(s->red);
    trl_free(s->unit_red);
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
    if (s->cfg->adaptive)
        s->before = trl_alloc(g->n_param_values + 1, sizeof(trl_real), TRL_MEM_PARAMS);
    if (!s->grad || !s->loss_z || !s->z_sum || !s->unit_sum || !s->dz_const ||
        (s->cfg->adaptive && !s->before))
        return -1;
    if (s->cfg->n_shards > 1) {
        s->n_red = g->n_param_values + 1 + (size_t)g->n_nodes + TRAIN_SCORE_SUMS(K);
        s->view_x = trl_alloc((size_t)g->n_nodes + 1, sizeof *s->view_x, TRL_MEM_MISC);
        s->red = trl_alloc(s->n_red, sizeof *s->red, TRL_MEM_MISC);
        if (!s->view_x || !s->red) return -1;
    }
    if (s->cfg->rate_weight == 0) return 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!g->nodes[i].op->spiking) continue;
        s->unit_sum[i] = trl_alloc((size_t)g->nodes[i].size, sizeof(double), TRL_MEM_MISC);
        s->dz_const[i] = trl_alloc((size_t)g->nodes[i].size, sizeof(trl_real), TRL_MEM_MISC);
        if (!s->unit_sum[i] || !s->dz_const[i]) return -1;
        s->n_unit += (size_t)g->nodes[i].size;
    }
    if (s->cfg->n_shards > 1) {
        s->unit_red = trl_alloc(s->n_unit + 1, sizeof *s->unit_red, TRL_MEM_MISC);
        if (!s->unit_red) return -1;
    }
    return 0;
}

/* The unit sums of every process added (sharded training). */
static int reduce_unit_sums(struct train_state *s, struct trl_errors *err)
{
    const struct graph *g = s->g;
    size_t at = 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; s->unit_sum[i] && j < g->nodes[i].size; j++)
            s->unit_red[at++] = s->unit_sum[i][j];
    if (reduce(s->cfg, s->unit_red, s->n_unit, err)) return -1;
    at = 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; s->unit_sum[i] && j < g->nodes[i].size; j++)
            s->unit_sum[i][j] = s->unit_red[at++];
    return 0;
}

/* The firing-rate term for batch d (this process's samples of a batch of B):
 * L_reg and its constant dL/dz (train.h). */
static int rate_regulariser(struct train_state *s, const struct data *d, int B, double *reg_loss,
                            struct trl_errors *err)
{
    const struct graph *g = s->g;
    const struct train_config *c = s->cfg;
    *reg_loss = 0;
    if (c->rate_weight == 0) return 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (s->unit_sum[i]) memset(s->unit_sum[i], 0, (size_t)g->nodes[i].size * sizeof(double));
    struct run_request req = {.unit_sum = s->unit_sum};
    struct trl_errors scratch;
    trl_errors_init(&scratch, "");
    if (run_batch(g, s->params, d, &req, &scratch)) {
        trl_errors_add(err, NULL, "out of memory for the rate regulariser");
        return -1;
    }
    if (c->n_shards > 1 && reduce_unit_sums(s, err)) return -1;
    const double steps = (double)d->T * B, r0 = c->rate_target_hz / 1000.0;
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

/* One optimiser step, and the adaptive feedback matrices after it. */
static void update(struct train_state *s, trl_real *grad)
{
    const struct train_config *c = s->cfg;
    if (c->adaptive) memcpy(s->before, s->params, s->g->n_param_values * sizeof *s->before);
    optim_step(s->o, s->g, s->params, grad);
    if (c->adaptive) feedback_adapt(s->g, c->feedback, s->before, s->params, c->feedback_decay);
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
    update(s, step_grad);
}

/* Adds the gradient, loss, firing counts and scores of every process's
 * shard mine (whose loss_z is s->loss_z); the summed scores stay in
 * s->red after the rest. */
static int reduce_batch(struct train_state *s, const struct data *mine, double *loss,
                        struct trl_errors *err)
{
    const struct graph *g = s->g;
    const int K = g->nodes[g->loss_node].size;
    const size_t P = g->n_param_values;
    double *r = s->red;
    for (size_t k = 0; k < P; k++) r[k] = s->grad[k];
    r[P] = *loss;
    memcpy(r + P + 1, s->z_sum, (size_t)g->n_nodes * sizeof *r);
    train_score_sums(mine, s->loss_z, K, r + P + 1 + g->n_nodes); /* fill_metrics reads them */
    if (reduce(s->cfg, r, s->n_red, err)) return -1;
    for (size_t k = 0; k < P; k++) s->grad[k] = (trl_real)r[k];
    *loss = r[P];
    memcpy(s->z_sum, r + P + 1, (size_t)g->n_nodes * sizeof *r);
    return 0;
}

/* score: the batch's summed scores (sharded), or NULL to score d itself. */
static void fill_metrics(struct train_state *s, const struct data *d, const double *score,
                         struct train_metrics *m)
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
    double acc, nmse;
    if (score) {
        train_score_of(score, K, &acc, &nmse);
    } else {
        acc = g->loss_type == LOSS_CROSS_ENTROPY ? train_accuracy(d, s->loss_z, K) : NAN;
        nmse = g->loss_type == LOSS_MSE ? train_nmse(d, s->loss_z, K) : NAN;
    }
    m->accuracy = g->loss_type == LOSS_CROSS_ENTROPY ? acc : NAN;
    m->nmse = g->loss_type == LOSS_MSE ? nmse : NAN;
}

/* One iteration on batch d: gradient (of this process's shard, then summed
 * over the processes), checks, update. */
static int train_iteration(struct train_state *s, const struct data *d, struct train_metrics *m,
                           struct trl_errors *err)
{
    const struct graph *g = s->g;
    const struct train_config *c = s->cfg;
    const bool sharded = c->n_shards > 1;
    struct data view;
    const struct data *mine = d;
    if (sharded) {
        int first, count;
        my_shard(c, d->B, &first, &count);
        data_view(g, d, first, count, s->view_x, &view); /* the loss still averages over d->B */
        mine = &view;
    }
    if (rate_regulariser(s, mine, d->B, &m->reg_loss, err)) return -1;
    memset(s->z_sum, 0, (size_t)g->n_nodes * sizeof *s->z_sum);
    struct grad_hooks hooks = {.dz_const = c->rate_weight ? s->dz_const : NULL,
                               .z_sum = s->z_sum,
                               .loss_z = s->loss_z,
                               .on_step = c->online ? online_step : NULL,
                               .ctx = s,
                               .order = c->order,
                               .feedback = c->feedback};
    s->online_bad = false;
    if (grad_compute_hooks(g, s->params, mine, c->algo, c->engine, &hooks, s->grad, &m->loss,
                           err) ||
        (sharded && reduce_batch(s, mine, &m->loss, err)))
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
    fill_metrics(s, d, sharded ? s->red + g->n_param_values + 1 + g->n_nodes : NULL, m);
    m->grad_norm = optim_clip(g, s->grad, c->online ? 0 : c->clip);
    if (!c->online) update(s, s->grad);
    return 0;
}

/* Sharded: *stop becomes whether any process's callback asked to stop, so
 * that all stop after the same iteration. */
static int stop_anywhere(const struct train_config *c, int *stop, struct trl_errors *err)
{
    double v = *stop != 0;
    if (reduce(c, &v, 1, err)) return -1;
    *stop = v > 0;
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
            if (cfg->n_shards > 1 ? evaluate_shard(g, cfg, params, src->val, &ev, err)
                                  : train_evaluate(g, params, src->val, &ev, err))
                goto done;
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
        int stop = cb ? cb(cb_ctx, g, &m) : 0;
        if (cfg->n_shards > 1 && stop_anywhere(cfg, &stop, err)) goto done;
        if (stop) {
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
