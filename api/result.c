/* result.c - named tensors from run and grad, and the two calls that make
 * them (trellis.h; SPEC sections 6 and 7). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/alloc.h"
#include "engines/grad.h"
#include "engines/run.h"
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

TRL_API trl_status trl_run(const trl_graph *tg, const trl_params *p, const trl_data *td,
                           trl_result **out, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, tg ? tg->g->file : NULL);
    API_NEED(e, out, "out");
    *out = NULL;
    API_NEED(e, tg && p && td, "the graph, the parameters and the data");
    const struct graph *g = tg->g;
    if (api_same_graph(e, g, p, td) != TRL_OK) return api_status(e);
    const struct data *d = td->d;
    if (d->stream)
        return api_fail(e, ERR_ARGUMENT, NULL,
                        "a forward pass needs the data in memory (load it without streaming)");
    struct run_result res;
    if (run_forward(g, p->values, d, &res, e)) return api_failed(e);
    trl_result *r = api_result_new(g->n_outputs);
    if (!r) {
        run_result_free(&res);
        return api_fail(e, ERR_MEMORY, NULL, "out of memory");
    }
    /* the result takes the output arrays */
    r->owned = res.out;
    r->n_owned = res.n_outputs;
    for (int i = 0; i < g->n_outputs; i++) {
        const struct graph_node *n = &g->nodes[g->outputs[i]];
        r->tensors[i] = (trl_tensor){
            .name = n->id, .ndim = 3, .shape = {d->B, d->T, n->size}, .data = res.out[i]};
    }
    r->has_loss = res.has_loss;
    r->loss = res.has_loss ? res.loss : NAN;
    *out = r;
    return TRL_OK;
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

/* A result over a gradient block: one tensor per trainable parameter. */
static trl_result *grad_result(const struct graph *g, trl_real *block, double loss)
{
    int n = 0;
    for (int i = 0; i < g->n_params; i++) n += g->params[i].trainable;
    trl_result *r = api_result_new(n);
    if (!r) return NULL;
    r->block = block;
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
    if (g->loss_node < 0)
        return api_fail(e, ERR_INPUT, "/loss",
                        "the graph has no loss; add \"loss\": {\"node\": ID, \"type\": \"mse\"} "
                        "to compute a gradient");
    const struct data *d = td->d;
    if (!d->target && !d->stream)
        return api_fail(e, ERR_INPUT, "target",
                        "the data has no target: a gradient needs one, [B, T, %d]",
                        g->nodes[g->loss_node].size);
    const enum grad_algo algo = api_algo(opts->algo);
    const enum grad_engine engine = api_engine(opts->engine);
    if (d->stream && !grad_is_online(algo, engine))
        return api_fail(e, ERR_ARGUMENT, NULL,
                        "%s accumulates in reverse over every step: it needs the data in memory "
                        "(load it without streaming)",
                        trl_grad_label(opts));
    trl_real *block = trl_alloc(g->n_param_values + 1, sizeof *block, TRL_MEM_PARAMS);
    if (!block)
        return api_fail(e, ERR_MEMORY, NULL, "out of memory for a gradient of %zu values",
                        g->n_param_values);
    double rows[2] = {0, 0}, loss = 0;
    struct grad_hooks hooks = {.trace_rows = rows};
    int before = par_call_threads(opts->threads);
    int rc = grad_compute_hooks(g, p->values, d, algo, engine, &hooks, block, &loss, e);
    par_call_threads(before);
    if (rc) {
        trl_free(block);
        return api_failed(e);
    }
    trl_result *r = grad_result(g, block, loss);
    if (!r) {
        trl_free(block);
        return api_fail(e, ERR_MEMORY, NULL, "out of memory");
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

trl_status api_grad_check(const trl_grad_opts *o, struct trl_errors *e)
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
    if (o->feedback == TRL_FEEDBACK_ADAPTIVE)
        return api_fail(e, ERR_ARGUMENT, NULL,
                        "adaptive feedback is a training rule: a gradient takes symmetric or "
                        "random feedback");
    if (o->n_cotangent < 0 || (o->n_cotangent > 0 && !o->cotangent))
        return api_fail(e, ERR_ARGUMENT, NULL, "cotangent tensors missing for a count of %d",
                        o->n_cotangent);
    /* the engines of SPEC v2 6.2-6.4 are not in this build yet */
    if (o->order > 1 || o->feedback != TRL_FEEDBACK_SYMMETRIC || o->cotangent || o->input_grads)
        return api_fail(e, ERR_ARGUMENT, NULL,
                        "m-order e-prop, random feedback, cotangents and input gradients are "
                        "not available in this version of the library");
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
