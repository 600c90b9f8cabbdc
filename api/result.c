/* result.c - named tensors from run and grad, and the gradient call
 * (trellis.h; SPEC sections 6 and 7). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "io/feedback.h"
#include "core/alloc.h"
#include "engines/grad.h"
#include "io/safetensors.h"
#include "kernels/parallel.h"

struct trl_result *api_result_new(int n)
{
    struct trl_result *r = calloc(1, sizeof *r);
    if (r) r->tensors = calloc((size_t)n + 1, sizeof *r->tensors);
    if (!r || !r->tensors) {
        free(r);
        return NULL;
    }
    r->n = n;
    r->loss = NAN;
    return r;
}

TRL_API void trl_result_free(trl_result *r)
{
    if (!r) return;
    run_result_free(&r->run);
    free(r->names);
    for (int i = 0; i < r->n_owned; i++) trl_free(r->owned[i]);
    trl_free(r->owned);
    trl_free(r->block);
    free(r->tensors);
    free(r);
}

TRL_API int trl_result_count(const trl_result *r)
{
    return r ? r->n : 0;
}

TRL_API trl_status trl_result_tensor(const trl_result *r, int i, trl_tensor *out)
{
    if (!r || !out || i < 0 || i >= r->n) return TRL_ERR_ARGUMENT;
    *out = r->tensors[i];
    return TRL_OK;
}

TRL_API trl_status trl_result_find(const trl_result *r, const char *name, trl_tensor *out,
                                   trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, NULL);
    API_NEED(e, r && name && out, "the result, the name and out");
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->tensors[i].name, name) == 0) {
            *out = r->tensors[i];
            return TRL_OK;
        }
    return api_fail(e, ERR_ARGUMENT, name, "the result holds no tensor of this name");
}

TRL_API int trl_result_loss(const trl_result *r, double *loss)
{
    if (loss) *loss = r && r->has_loss ? r->loss : NAN;
    return r && r->has_loss;
}

TRL_API trl_status trl_result_load(const char *path, trl_result **out, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, path);
    API_NEED(e, out && path, "out and the path");
    *out = NULL;
    struct st_file *f = st_open(path, e);
    if (!f) return api_failed(e);
    size_t total = 0;
    int n = 0, bad = 0;
    for (int i = 0; i < f->n; i++) {
        const struct st_tensor *t = &f->tensors[i];
        if (t->ndim > 3) {
            api_fail(e, ERR_INPUT, t->name, "has %d dimensions; trellis tensors have at most 3",
                     t->ndim);
            bad = 1;
        }
        if (strcmp(t->name, "loss") == 0 && t->ndim == 0) continue;
        total += t->count;
        n++;
    }
    /* names live after the values, in the same block */
    size_t names = 0;
    for (int i = 0; i < f->n; i++) names += strlen(f->tensors[i].name) + 1;
    trl_result *r = bad ? NULL : api_result_new(n);
    if (r)
        r->block =
            trl_alloc(total + 1 + names / sizeof(trl_real) + 1, sizeof(trl_real), TRL_MEM_MISC);
    if (!bad && (!r || !r->block)) api_fail(e, ERR_MEMORY, NULL, "out of memory");
    if (e->n_total) {
        trl_result_free(r);
        st_close(f);
        return api_status(e);
    }
    char *name_at = (char *)(r->block + total + 1);
    size_t at = 0;
    n = 0;
    for (int i = 0; i < f->n; i++) {
        const struct st_tensor *t = &f->tensors[i];
        trl_real loss;
        if (strcmp(t->name, "loss") == 0 && t->ndim == 0) {
            st_read_real(t, &loss);
            r->has_loss = true;
            r->loss = loss;
            continue;
        }
        trl_tensor *x = &r->tensors[n++];
        *x = (trl_tensor){.name = strcpy(name_at, t->name), .ndim = t->ndim, .data = r->block + at};
        name_at += strlen(t->name) + 1;
        for (int k = 0; k < t->ndim; k++) x->shape[k] = t->shape[k];
        st_read_real(t, x->data); /* values as stored, finite or not */
        at += t->count;
    }
    st_close(f);
    *out = r;
    return TRL_OK;
}

TRL_API trl_status trl_result_save(const trl_result *r, const char *path, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, path);
    API_NEED(e, r && path, "the result and the path");
    struct st_out *out = calloc((size_t)r->n + 1, sizeof *out);
    if (!out) return api_fail(e, ERR_MEMORY, NULL, "out of memory");
    for (int i = 0; i < r->n; i++) {
        const trl_tensor *t = &r->tensors[i];
        out[i] = (struct st_out){.name = t->name, .ndim = t->ndim, .data = t->data};
        for (int k = 0; k < t->ndim; k++) out[i].shape[k] = t->shape[k];
    }
    int n = r->n;
    trl_real loss = (trl_real)r->loss;
    if (r->has_loss) out[n++] = (struct st_out){.name = "loss", .ndim = 0, .data = &loss};
    int rc = st_write(path, out, n, NULL, e);
    free(out);
    return rc ? api_failed(e) : TRL_OK;
}

enum grad_algo api_algo(trl_algo a)
{
    return a == TRL_ALGO_RTRL ? GRAD_RTRL : a == TRL_ALGO_EPROP ? GRAD_EPROP : GRAD_BPTT;
}

enum grad_engine api_engine(trl_engine e)
{
    return e == TRL_ENGINE_ONLINE    ? GRAD_ENGINE_ONLINE
           : e == TRL_ENGINE_REVERSE ? GRAD_ENGINE_REVERSE
                                     : GRAD_ENGINE_DEFAULT;
}

/* A result over a gradient block: one tensor per trainable parameter, then
 * one per input node of dx (per node [B, T, size], or NULL: none), which it
 * takes. */
static trl_result *grad_result(const struct graph *g, const struct data *d, trl_real *block,
                               trl_real **dx, double loss)
{
    int n = 0;
    for (int i = 0; i < g->n_params; i++) n += g->params[i].trainable;
    for (int i = 0; dx && i < g->n_nodes; i++) n += dx[i] != NULL;
    trl_result *r = api_result_new(n);
    if (!r) return NULL;
    r->block = block;
    r->owned = dx;
    r->n_owned = dx ? g->n_nodes : 0;
    for (int i = 0; dx && i < g->n_nodes; i++)
        if (dx[i])
            r->tensors[--n] = (trl_tensor){.name = g->nodes[i].id,
                                           .ndim = 3,
                                           .shape = {d->B, d->T, g->nodes[i].size},
                                           .data = dx[i]};
    n = 0;
    for (int i = 0; i < g->n_params; i++) {
        const struct graph_param *p = &g->params[i];
        if (!p->trainable) continue;
        trl_tensor *t = &r->tensors[n++];
        *t = (trl_tensor){.name = p->name,
                          .ndim = p->edge < 0 ? 1 : 2,
                          .shape = {p->rows, p->edge < 0 ? 0 : p->cols, 0},
                          .data = block + p->offset};
    }
    r->has_loss = true;
    r->loss = loss;
    return r;
}

TRL_API trl_status trl_grad(const trl_graph *tg, const trl_params *p, const trl_data *td,
                            const trl_grad_opts *opts, trl_result **out, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, tg ? tg->g->file : NULL);
    API_NEED(e, out, "out");
    *out = NULL;
    API_NEED(e, tg && p && td && opts, "the graph, the parameters, the data and the options");
    const struct graph *g = tg->g;
    if (api_same_graph(e, g, p, td) != TRL_OK) return api_status(e);
    if (api_grad_check(opts, e) != TRL_OK) return api_status(e);
    const struct data *d = td->d;
    const trl_real **cot = NULL; /* a loss from outside (SPEC 6.4) replaces the graph's */
    if (api_cotangents(g, d, opts, &cot, e) != TRL_OK) return api_status(e);
    if (!cot && g->loss_node < 0)
        return api_fail(e, ERR_INPUT, "/loss",
                        "the graph has no loss; add \"loss\": {\"node\": ID, \"type\": \"mse\"} "
                        "to compute a gradient, or give the cotangent of its outputs");
    if (!cot && !d->target && !d->stream)
        return api_fail(e, ERR_INPUT, "target",
                        "the data has no target: a gradient needs one, [B, T, %d], or the "
                        "cotangent of the outputs",
                        g->nodes[g->loss_node].size);
    const enum grad_algo algo = api_algo(opts->algo);
    const enum grad_engine engine = api_engine(opts->engine);
    const char *why = d->stream && opts->input_grads               ? "input gradients accumulate"
                      : d->stream && !grad_is_online(algo, engine) ? "this gradient accumulates"
                                                                   : NULL;
    if (why) {
        trl_free(cot);
        return api_fail(e, ERR_ARGUMENT, NULL,
                        "%s (%s) in reverse over every step: it needs the data in memory (load "
                        "it without streaming)",
                        why, trl_grad_label(opts));
    }
    trl_real *block = trl_alloc(g->n_param_values + 1, sizeof *block, TRL_MEM_PARAMS);
    trl_real **dx = opts->input_grads ? api_input_grads_new(g, d) : NULL;
    if (!block || (opts->input_grads && !dx)) {
        trl_free(cot);
        trl_free(block);
        api_input_grads_free(g, dx);
        return api_fail(e, ERR_MEMORY, NULL, "out of memory for a gradient of %zu values",
                        g->n_param_values);
    }
    trl_real **fb = NULL;
    if (api_feedback(opts, p, &fb, e) != TRL_OK) {
        trl_free(cot);
        trl_free(block);
        api_input_grads_free(g, dx);
        return api_status(e);
    }
    double rows[2] = {0, 0}, loss = 0;
    struct data view = *d; /* sharded: this process's samples, from first */
    const bool sharded = opts->n_shards > 1;
    int first = 0, rc = sharded && api_shard_view(g, d, opts, &view, &first, e) != TRL_OK ? -1 : 0;
    struct grad_hooks hooks = {.trace_rows = rows,
                               .order = opts->order,
                               .feedback = fb,
                               .cotangent = cot,
                               .input_grad = dx,
                               .batch0 = first};
    int before = par_call_threads(opts->threads);
    if (!rc) rc = grad_compute_hooks(g, p->values, &view, algo, engine, &hooks, block, &loss, e);
    par_call_threads(before);
    if (!rc && sharded && api_shard_sum(g, d, opts, block, &loss, rows, dx, e) != TRL_OK) rc = -1;
    if (view.x != d->x) trl_free(view.x); /* api_shard_view's */
    trl_free(cot);
    trl_result *r = rc ? NULL : grad_result(g, d, block, dx, loss);
    if (!r) {
        trl_free(block);
        api_input_grads_free(g, dx);
        return rc ? api_failed(e) : api_fail(e, ERR_MEMORY, NULL, "out of memory");
    }
    r->stats = (trl_grad_stats){rows[0], rows[1]};
    *out = r;
    return TRL_OK;
}

TRL_API void trl_result_grad_stats(const trl_result *r, trl_grad_stats *out)
{
    *out = r ? r->stats : (trl_grad_stats){0, 0};
}

static const char *const algo_names[] = {"bptt", "rtrl", "eprop"};
static const char *const engine_names[] = {"default", "online", "reverse"};

TRL_API const char *trl_algo_name(trl_algo a)
{
    return (unsigned)a < 3 ? algo_names[a] : "?";
}

TRL_API const char *trl_engine_name(trl_engine x)
{
    return (unsigned)x < 3 ? engine_names[x] : "?";
}

TRL_API trl_status trl_algo_parse(const char *name, trl_algo *out, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, NULL);
    for (int a = 0; name && a < 3; a++)
        if (strcmp(name, algo_names[a]) == 0) {
            *out = (trl_algo)a;
            return TRL_OK;
        }
    return api_fail(e, ERR_ARGUMENT, NULL, "the algorithm must be bptt, rtrl or eprop (got \"%s\")",
                    name ? name : "");
}

TRL_API trl_status trl_engine_parse(const char *name, trl_engine *out, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, NULL);
    for (int x = 1; name && x < 3; x++)
        if (strcmp(name, engine_names[x]) == 0) {
            *out = (trl_engine)x;
            return TRL_OK;
        }
    return api_fail(e, ERR_ARGUMENT, NULL, "the engine must be online or reverse (got \"%s\")",
                    name ? name : "");
}

TRL_API trl_status trl_grad_check(const trl_grad_opts *o, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, NULL);
    return api_grad_check(o, e);
}

trl_status api_feedback(const trl_grad_opts *o, const struct trl_params *p, trl_real ***out,
                        struct trl_errors *e)
{
    *out = NULL;
    if (o->feedback == TRL_FEEDBACK_SYMMETRIC) return TRL_OK;
    if (feedback_count(p->g, p->fb) == 0)
        return api_fail(e, ERR_INPUT, NULL,
                        "%s feedback needs feedback matrices (n.fb.s, n.fb.s.dD) in the "
                        "parameters and they hold none; draw them with the initialisation's "
                        "random feedback (trl_params_init_feedback)",
                        o->feedback == TRL_FEEDBACK_RANDOM ? "random" : "adaptive");
    *out = p->fb;
    return TRL_OK;
}

static trl_status check_opts(const trl_grad_opts *o, bool training, struct trl_errors *e);

trl_status api_grad_check(const trl_grad_opts *o, struct trl_errors *e)
{
    return check_opts(o, false, e);
}

trl_status api_grad_check_training(const trl_grad_opts *o, struct trl_errors *e)
{
    return check_opts(o, true, e);
}

static trl_status check_opts(const trl_grad_opts *o, bool training, struct trl_errors *e)
{
    API_NEED(e, o, "the options");
    if ((unsigned)o->algo > TRL_ALGO_EPROP)
        return api_fail(e, ERR_ARGUMENT, NULL, "unknown algorithm %d", (int)o->algo);
    if ((unsigned)o->engine > TRL_ENGINE_REVERSE)
        return api_fail(e, ERR_ARGUMENT, NULL, "unknown engine %d", (int)o->engine);
    if (o->engine != TRL_ENGINE_DEFAULT && o->algo != TRL_ALGO_EPROP)
        return api_fail(e, ERR_ARGUMENT, NULL,
                        "the engine can be chosen for eprop only: %s has one engine (%s)",
                        algo_names[o->algo], o->algo == TRL_ALGO_BPTT ? "reverse" : "online");
    if (o->threads < 0)
        return api_fail(e, ERR_ARGUMENT, NULL, "threads must be >= 0 (0: the default), got %d",
                        o->threads);
    if (o->order < 0)
        return api_fail(e, ERR_ARGUMENT, NULL, "the order must be >= 1 (got %d)", o->order);
    if (o->order > 1 && o->algo != TRL_ALGO_EPROP)
        return api_fail(e, ERR_ARGUMENT, NULL,
                        "the order applies to eprop only: %s is exact, it keeps every path",
                        algo_names[o->algo]);
    if ((unsigned)o->feedback > TRL_FEEDBACK_ADAPTIVE)
        return api_fail(e, ERR_ARGUMENT, NULL, "unknown feedback mode %d", (int)o->feedback);
    if (o->feedback == TRL_FEEDBACK_ADAPTIVE && !training)
        return api_fail(e, ERR_ARGUMENT, NULL,
                        "adaptive feedback is a training rule: a gradient takes symmetric or "
                        "random feedback");
    if (o->n_cotangent < 0 || (o->n_cotangent > 0 && !o->cotangent))
        return api_fail(e, ERR_ARGUMENT, NULL, "cotangent tensors missing for a count of %d",
                        o->n_cotangent);
    if (o->n_shards > 1 && training)
        return api_fail(e, ERR_ARGUMENT, NULL,
                        "the gradient's shards are for trl_grad: data-parallel training takes "
                        "the shard, n_shards and reduce of the training configuration");
    if (o->n_shards > 1 && (!o->reduce || o->shard < 0 || o->shard >= o->n_shards))
        return api_fail(e, ERR_ARGUMENT, NULL,
                        "a gradient over processes needs a reduce function and 0 <= shard < "
                        "n_shards (got shard %d of %d%s)",
                        o->shard, o->n_shards, o->reduce ? "" : ", no reduce");
    return TRL_OK;
}

TRL_API int trl_grad_is_online(const trl_grad_opts *o)
{
    return o && grad_is_online(api_algo(o->algo), api_engine(o->engine));
}

TRL_API const char *trl_grad_label(const trl_grad_opts *o)
{
    if (!o || (unsigned)o->algo > TRL_ALGO_EPROP) return "?";
    if (o->algo == TRL_ALGO_EPROP && o->engine == TRL_ENGINE_REVERSE) return "eprop reverse";
    return algo_names[o->algo];
}
