/* params.c - parameter sets (trellis.h; SPEC sections 1 and 3). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/alloc.h"
#include "io/feedback.h"
#include "io/params.h"

TRL_API trl_status trl_params_new(const trl_graph *g, trl_params **out, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, g ? g->g->file : NULL);
    API_NEED(e, out, "out");
    *out = NULL;
    API_NEED(e, g, "the graph");
    trl_params *p = calloc(1, sizeof *p);
    if (p) p->values = params_new(g->g);
    if (p) p->fb = feedback_new(g->g);
    if (!p || !p->values || !p->fb) {
        if (p) trl_free(p->values);
        free(p);
        return api_fail(e, ERR_MEMORY, NULL, "out of memory for %zu parameter values",
                        g->g->n_param_values);
    }
    p->g = g->g;
    *out = p;
    return TRL_OK;
}

TRL_API void trl_params_free(trl_params *p)
{
    if (!p) return;
    trl_free(p->values);
    feedback_free(p->g, p->fb);
    free(p);
}

TRL_API trl_status trl_params_init(trl_params *p, uint64_t seed, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, NULL);
    API_NEED(e, p, "the parameter set");
    params_init(p->g, seed, p->values);
    return TRL_OK;
}

TRL_API trl_status trl_params_load(trl_params *p, const char *path, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, path);
    API_NEED(e, p && path, "the parameter set and the path");
    /* read into a copy, so that a file that fails leaves p as it was */
    trl_real *values = params_new(p->g), **fb = feedback_new(p->g);
    if (!values || !fb || params_load_all(p->g, path, values, fb, e)) {
        trl_free(values);
        feedback_free(p->g, fb);
        return api_failed(e);
    }
    trl_free(p->values);
    feedback_free(p->g, p->fb);
    p->values = values;
    p->fb = fb;
    return TRL_OK;
}

TRL_API trl_status trl_params_save(const trl_params *p, const char *path, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, path);
    API_NEED(e, p && path, "the parameter set and the path");
    if (params_save_all(p->g, p->values, p->fb, path, e)) return api_failed(e);
    return TRL_OK;
}

TRL_API trl_real *trl_params_values(trl_params *p)
{
    return p ? p->values : NULL;
}

TRL_API size_t trl_params_size(const trl_params *p)
{
    return p ? p->g->n_param_values : 0;
}

static const struct graph_param *find(const struct graph *g, const char *name)
{
    for (int i = 0; i < g->n_params; i++)
        if (strcmp(g->params[i].name, name) == 0) return &g->params[i];
    return NULL;
}

static trl_status no_such(struct trl_errors *e, const struct graph *g, const char *name)
{
    return api_fail(e, ERR_ARGUMENT, name,
                    "the graph has no parameter tensor of this name (it has %d, e.g. \"%s\"; "
                    "feedback matrices are named n.fb.s or n.fb.s.dD)",
                    g->n_params, g->n_params ? g->params[0].name : "");
}

/* The edge of a feedback matrix's name (io/feedback.h), or -1. */
static int feedback_tensor(const trl_params *p, const char *name, trl_tensor *out)
{
    const int edge = feedback_edge(p->g, name);
    if (edge < 0) return -1;
    const struct graph_param *w = &p->g->params[p->g->edges[edge].param];
    *out = (trl_tensor){.name = name, .ndim = 2, .shape = {w->rows, w->cols, 0}};
    return edge;
}

TRL_API trl_status trl_params_init_feedback(trl_params *p, uint64_t seed, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, NULL);
    API_NEED(e, p, "the parameter set");
    if (feedback_init(p->g, seed, p->fb))
        return api_fail(e, ERR_MEMORY, NULL, "out of memory for the feedback matrices");
    return TRL_OK;
}

TRL_API int trl_params_feedback_count(const trl_params *p)
{
    return p ? feedback_count(p->g, p->fb) : 0;
}

TRL_API trl_status trl_params_tensor(trl_params *p, const char *name, trl_tensor *out,
                                     trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, NULL);
    API_NEED(e, p && name && out, "the parameter set, the name and out");
    const struct graph_param *gp = find(p->g, name);
    const int edge = gp ? -1 : feedback_tensor(p, name, out);
    if (edge >= 0 && p->fb[edge]) {
        out->data = p->fb[edge];
        return TRL_OK;
    }
    if (edge >= 0)
        return api_fail(e, ERR_ARGUMENT, name,
                        "the parameter set holds no such feedback matrix (set one, or draw them "
                        "with trl_params_init_feedback)");
    if (!gp) return no_such(e, p->g, name);
    *out = (trl_tensor){.name = gp->name,
                        .ndim = gp->edge < 0 ? 1 : 2,
                        .shape = {gp->rows, gp->cols, 0},
                        .data = p->values + gp->offset};
    if (out->ndim == 1) out->shape[1] = 0;
    return TRL_OK;
}

TRL_API trl_status trl_params_set(trl_params *p, const char *name, const trl_real *values,
                                  size_t count, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, NULL);
    API_NEED(e, p && name && values, "the parameter set, the name and the values");
    const struct graph_param *fp = find(p->g, name);
    trl_tensor ft;
    const int edge = fp ? -1 : feedback_tensor(p, name, &ft);
    const struct graph_param *gp = edge >= 0 ? &p->g->params[p->g->edges[edge].param] : fp;
    if (!gp) return no_such(e, p->g, name);
    if (count != gp->count)
        return api_fail(e, ERR_ARGUMENT, name, "expected %zu values ([%d, %d]), got %zu", gp->count,
                        gp->rows, gp->cols, count);
    for (size_t i = 0; i < count; i++)
        if (!isfinite((double)values[i]))
            return api_fail(e, ERR_INPUT, name, "value %zu is not finite", i);
    const struct graph_edge *x = gp->edge >= 0 ? &p->g->edges[gp->edge] : NULL;
    if (x && x->no_self)
        for (int j = 0; j < gp->rows; j++)
            if (values[(size_t)j * gp->cols + j] != 0)
                return api_fail(e, ERR_INPUT, name,
                                "entry [%d, %d] is on the diagonal of a no_self edge and must "
                                "be 0",
                                j, j);
    trl_real *dst = edge >= 0 ? feedback_matrix(p->g, p->fb, edge) : p->values + gp->offset;
    if (!dst) return api_fail(e, ERR_MEMORY, NULL, "out of memory");
    memcpy(dst, values, count * sizeof *values);
    return TRL_OK;
}
