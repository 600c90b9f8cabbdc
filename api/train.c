/* train.c - evaluation and the trainer (trellis.h): train/train.h behind a
 * handle, with batches from a task or from a data set in memory. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/alloc.h"
#include "io/feedback.h"
#include "kernels/parallel.h"
#include "tasks/task.h"
#include "train/train.h"

struct trl_trainer {
    const struct graph *g;
    trl_params *p;
    struct train_config cfg;
    char *checkpoint_path; /* cfg's, owned */
    struct optim *o;
    long next;
    int threads;
    trl_feedback feedback; /* the configuration's; cfg.feedback follows p's matrices */
    const struct task_kind *task;
    struct data *task_val;               /* the task's validation set, owned */
    const struct data *train_data, *val; /* the caller's data sets */
    trl_train_callback cb;
    void *ctx;
};

TRL_API trl_status trl_evaluate(const trl_graph *g, const trl_params *p, const trl_data *d,
                                trl_eval *out, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, g ? g->g->file : NULL);
    API_NEED(e, g && p && d && out, "the graph, the parameters, the data and out");
    if (api_same_graph(e, g->g, p, d) != TRL_OK) return api_status(e);
    if (g->g->loss_node < 0)
        return api_fail(e, ERR_INPUT, "/loss", "the graph has no loss: there is nothing to score");
    if (!d->d->target || d->d->stream)
        return api_fail(e, ERR_INPUT, "target",
                        "evaluation needs the data in memory with a target [B, T, %d]",
                        g->g->nodes[g->g->loss_node].size);
    struct train_eval ev;
    if (train_evaluate(g->g, p->values, d->d, &ev, e)) return api_failed(e);
    *out = (trl_eval){ev.loss, ev.accuracy, ev.nmse};
    return TRL_OK;
}

static trl_status check_config(const struct graph *g, const trl_train_config *c,
                               struct trl_errors *e)
{
    if (api_grad_check_training(&c->grad, e) != TRL_OK) return api_status(e);
    if (!(c->feedback_decay >= 0 && c->feedback_decay <= 1))
        return api_fail(e, ERR_ARGUMENT, NULL, "the feedback decay must be from 0 to 1 (got %g)",
                        c->feedback_decay);
    if (c->feedback_decay != 0 && c->grad.feedback != TRL_FEEDBACK_ADAPTIVE)
        return api_fail(e, ERR_ARGUMENT, NULL,
                        "the feedback decay applies to adaptive feedback only (the feedback "
                        "matrices do not change otherwise)");
    if (g->loss_node < 0)
        return api_fail(e, ERR_INPUT, "/loss",
                        "the graph has no loss; add \"loss\": {\"node\": ID, \"type\": \"mse\"} "
                        "to train it");
    if (c->online && !trl_grad_is_online(&c->grad))
        return api_fail(e, ERR_ARGUMENT, NULL,
                        "updates after every step need an online gradient (rtrl, or eprop with "
                        "the online engine); %s has no gradient before the sequence ends",
                        trl_grad_label(&c->grad));
    if (c->n_shards > 1 && (!c->reduce || c->shard < 0 || c->shard >= c->n_shards ||
                            c->n_shards > c->batch || c->online))
        return api_fail(e, ERR_ARGUMENT, NULL,
                        "data-parallel training needs a reduce function, 0 <= shard < n_shards <= "
                        "batch and no online updates (got shard %d of %d, batch %d%s)",
                        c->shard, c->n_shards, c->batch, c->online ? ", online" : "");
    if ((unsigned)c->optimizer > TRL_OPTIM_SGD)
        return api_fail(e, ERR_ARGUMENT, NULL, "unknown optimizer %d", (int)c->optimizer);
    if (c->iters < 1 || c->batch < 1)
        return api_fail(e, ERR_ARGUMENT, NULL,
                        "iterations and batch size must be at least 1 (got %ld, %d)", c->iters,
                        c->batch);
    if (!(c->lr > 0) || !(c->rate_weight >= 0) || !(c->rate_target_hz >= 0) || c->eval_every < 0 ||
        c->checkpoint_every < 0)
        return api_fail(e, ERR_ARGUMENT, NULL,
                        "the learning rate must be > 0; the rate target and weight and the "
                        "evaluation and checkpoint intervals >= 0");
    return TRL_OK;
}

TRL_API trl_status trl_trainer_new(const trl_graph *g, trl_params *p, const trl_train_config *cfg,
                                   trl_trainer **out, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, g ? g->g->file : NULL);
    API_NEED(e, out, "out");
    *out = NULL;
    API_NEED(e, g && p && cfg, "the graph, the parameters and the configuration");
    if (p->g != g->g)
        return api_fail(e, ERR_ARGUMENT, NULL, "the parameters belong to another graph");
    trl_status s = check_config(g->g, cfg, e);
    if (s != TRL_OK) return s;
    trl_trainer *t = calloc(1, sizeof *t);
    if (!t) return api_fail(e, ERR_MEMORY, NULL, "out of memory");
    t->g = g->g;
    t->p = p;
    t->threads = cfg->grad.threads;
    t->feedback = cfg->grad.feedback;
    t->cfg = (struct train_config){
        .algo = api_algo(cfg->grad.algo),
        .engine = api_engine(cfg->grad.engine),
        .online = cfg->online,
        .optimizer = cfg->optimizer == TRL_OPTIM_SGD ? OPTIM_SGD : OPTIM_ADAM,
        .lr = cfg->lr,
        .clip = cfg->clip,
        .iters = cfg->iters,
        .batch = cfg->batch,
        .seed = cfg->seed,
        .rate_target_hz = cfg->rate_target_hz,
        .rate_weight = cfg->rate_weight,
        .eval_every = cfg->eval_every,
        .checkpoint_every = cfg->checkpoint_every,
        .shard = cfg->n_shards > 1 ? cfg->shard : 0,
        .n_shards = cfg->n_shards > 1 ? cfg->n_shards : 1,
        .reduce = cfg->reduce,
        .reduce_ctx = cfg->reduce_ctx,
        .order = cfg->grad.order,
        .feedback = NULL, /* the parameters' matrices, when the run starts */
        .adaptive = cfg->grad.feedback == TRL_FEEDBACK_ADAPTIVE,
        .feedback_decay = cfg->feedback_decay,
    };
    if (cfg->checkpoint_path) {
        t->checkpoint_path = strdup(cfg->checkpoint_path);
        t->cfg.checkpoint_path = t->checkpoint_path;
    }
    t->o = optim_new(g->g, t->cfg.optimizer, cfg->lr);
    if (!t->o || (cfg->checkpoint_path && !t->checkpoint_path)) {
        trl_trainer_free(t);
        return api_fail(e, ERR_MEMORY, NULL, "out of memory for the optimiser state");
    }
    t->o->momentum = cfg->momentum;
    *out = t;
    return TRL_OK;
}

TRL_API void trl_trainer_free(trl_trainer *t)
{
    if (!t) return;
    optim_free(t->o);
    data_free(t->task_val);
    free(t->checkpoint_path);
    free(t);
}

TRL_API trl_status trl_trainer_set_task(trl_trainer *t, const char *task, int val_batch,
                                        trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, t ? t->g->file : NULL);
    API_NEED(e, t && task, "the trainer and the task");
    const struct task_kind *k = api_task(task, e);
    if (!k) return api_failed(e);
    if (val_batch < 0 || val_batch > (1 << 24))
        return api_fail(e, ERR_ARGUMENT, NULL,
                        "the validation batch must be from 0 (none) to 2^24 (got %d)", val_batch);
    if (task_check_graph(k, t->g, e) < 0) return api_failed(e);
    struct data *val = NULL;
    if (val_batch > 0) {
        val = task_data_new(k, t->g, t->cfg.seed, TASK_VAL, 0, val_batch, e);
        if (!val) return api_failed(e);
    }
    data_free(t->task_val);
    t->task_val = val;
    t->task = k;
    t->train_data = NULL;
    t->val = val;
    return TRL_OK;
}

static trl_status check_training_data(const struct graph *g, const struct data *d, const char *what,
                                      struct trl_errors *e)
{
    if (d->stream)
        return api_fail(e, ERR_ARGUMENT, NULL,
                        "the %s data must be in memory (load it without streaming)", what);
    if (!d->target)
        return api_fail(e, ERR_INPUT, "target", "the %s data has no target [B, T, %d]", what,
                        g->nodes[g->loss_node].size);
    return TRL_OK;
}

TRL_API trl_status trl_trainer_set_data(trl_trainer *t, const trl_data *train, const trl_data *val,
                                        trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, t ? t->g->file : NULL);
    API_NEED(e, t && train, "the trainer and the training data");
    if (train->g != t->g || (val && val->g != t->g))
        return api_fail(e, ERR_ARGUMENT, NULL, "the data belongs to another graph");
    trl_status s = check_training_data(t->g, train->d, "training", e);
    if (s == TRL_OK && val) s = check_training_data(t->g, val->d, "validation", e);
    if (s != TRL_OK) return s;
    data_free(t->task_val);
    t->task_val = NULL;
    t->task = NULL;
    t->train_data = train->d;
    t->val = val ? val->d : NULL;
    return TRL_OK;
}

TRL_API trl_status trl_trainer_resume(trl_trainer *t, const char *checkpoint, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, checkpoint);
    API_NEED(e, t && checkpoint, "the trainer and the checkpoint");
    /* into copies, so that a checkpoint that fails leaves the trainer as it was */
    trl_real *values = trl_alloc(t->g->n_param_values + 1, sizeof *values, TRL_MEM_PARAMS);
    trl_real **fb = feedback_copy(t->g, t->p->fb);
    struct optim *o = optim_new(t->g, t->o->kind, t->o->lr);
    long next = 0;
    if (!values || !o || !fb) {
        trl_free(values);
        feedback_free(t->g, fb);
        optim_free(o);
        return api_fail(e, ERR_MEMORY, NULL, "out of memory");
    }
    o->momentum = t->o->momentum;
    if (train_checkpoint_load_all(t->g, values, fb, o, &next, checkpoint, e)) {
        trl_free(values);
        feedback_free(t->g, fb);
        optim_free(o);
        return api_failed(e);
    }
    memcpy(t->p->values, values, t->g->n_param_values * sizeof *values);
    trl_free(values);
    for (int k = 0; k < t->g->n_edges; k++) /* in place: tensors of p point at them */
        if (fb[k]) {
            trl_real *m = feedback_matrix(t->g, t->p->fb, k);
            if (m) memcpy(m, fb[k], t->g->params[t->g->edges[k].param].count * sizeof *m);
        }
    feedback_free(t->g, fb);
    optim_free(t->o);
    t->o = o;
    t->next = next;
    return TRL_OK;
}

TRL_API long trl_trainer_iteration(const trl_trainer *t)
{
    return t ? t->next : 0;
}

static struct data *task_batch(void *ctx, const struct graph *g, uint64_t seed, long iter, int B,
                               struct trl_errors *err)
{
    const trl_trainer *t = ctx;
    return task_data_new(t->task, g, seed, TASK_TRAIN, (uint64_t)iter, B, err);
}

static struct data *file_batch(void *ctx, const struct graph *g, uint64_t seed, long iter, int B,
                               struct trl_errors *err)
{
    const trl_trainer *t = ctx;
    struct data *d = data_subset(g, t->train_data, seed, iter, B);
    if (!d) {
        trl_errors_add(err, NULL, "out of memory for a batch of %d", B);
        trl_errors_kind(err, ERR_MEMORY);
    }
    return d;
}

/* The callback of train_run, as the public one. */
static int on_iteration(void *ctx, const struct graph *g, const struct train_metrics *m)
{
    (void)g;
    trl_trainer *t = ctx;
    t->next = m->iter + 1;
    if (!t->cb) return 0;
    const trl_train_metrics pub = {
        .iter = m->iter,
        .iters = m->iters,
        .loss = m->loss,
        .reg_loss = m->reg_loss,
        .accuracy = m->accuracy,
        .nmse = m->nmse,
        .grad_norm = m->grad_norm,
        .tensor_norm = m->tensor_norm,
        .rate_hz = m->rate_hz,
        .seconds = m->seconds,
        .evaluated = m->evaluated,
        .val_loss = m->val_loss,
        .val_accuracy = m->val_accuracy,
        .val_nmse = m->val_nmse,
        .checkpointed = m->checkpointed,
    };
    return t->cb(t->ctx, &pub);
}

/* Points the configuration at the parameters' feedback matrices as they are
 * now (loaded, drawn or resumed after the trainer was made). */
static trl_status bind_feedback(const trl_trainer *t, struct train_config *cfg,
                                struct trl_errors *e)
{
    if (t->feedback == TRL_FEEDBACK_SYMMETRIC) return TRL_OK;
    trl_grad_opts o = TRL_GRAD_OPTS_INIT;
    o.feedback = t->feedback;
    return api_feedback(&o, t->p, &cfg->feedback, e);
}

TRL_API trl_status trl_trainer_run(trl_trainer *t, trl_train_callback cb, void *ctx, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, t ? t->g->file : NULL);
    API_NEED(e, t, "the trainer");
    if (!t->task && !t->train_data)
        return api_fail(e, ERR_ARGUMENT, NULL,
                        "the trainer has no batches: give it a task or a data set first");
    if (bind_feedback(t, &t->cfg, e) != TRL_OK) return api_status(e);
    struct train_source src = {.batch = t->task ? task_batch : file_batch, .ctx = t, .val = t->val};
    t->cb = cb;
    t->ctx = ctx;
    int before = par_call_threads(t->threads);
    enum train_status s =
        train_run(t->g, t->p->values, t->o, &t->cfg, &src, t->next, on_iteration, t, e);
    par_call_threads(before);
    if (s == TRAIN_FAILED) return api_failed(e);
    if (s == TRAIN_DONE) t->next = t->cfg.iters;
    return s == TRAIN_INTERRUPTED ? TRL_STOPPED : TRL_OK;
}

TRL_API trl_status trl_trainer_checkpoint(const trl_trainer *t, const char *path, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, path);
    API_NEED(e, t && path, "the trainer and the path");
    struct train_config cfg = t->cfg;
    if (bind_feedback(t, &cfg, e) != TRL_OK) return api_status(e);
    if (train_checkpoint_save(t->g, t->p->values, t->o, &cfg, t->next, path, e))
        return api_failed(e);
    return TRL_OK;
}
