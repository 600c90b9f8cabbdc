/* outside.c - a loss from outside and input gradients (SPEC v2 6.4): the
 * caller's cotangents checked against the graph and data, and the arrays
 * that receive dL/dx. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "core/alloc.h"
#include "core/suggest.h"

static bool is_output(const struct graph *g, int node)
{
    for (int k = 0; k < g->n_outputs; k++)
        if (g->outputs[k] == node) return true;
    return false;
}

/* "out", "lif": the graph's outputs, for the messages. */
static void output_list(const struct graph *g, char *buf, size_t size)
{
    size_t at = 0;
    buf[0] = 0;
    for (int k = 0; k < g->n_outputs && at < size; k++)
        at += (size_t)snprintf(buf + at, size - at, "%s\"%s\"", k ? ", " : "",
                               g->nodes[g->outputs[k]].id);
}

/* The node of cotangent tensor t, or -1 with the problem recorded. */
static int cotangent_node(const struct graph *g, const struct data *d, const trl_tensor *t,
                          struct trl_errors *e)
{
    char outs[256];
    output_list(g, outs, sizeof outs);
    const int i = graph_find_node(g, t->name);
    if (i < 0) {
        const char **ids = trl_alloc((size_t)g->n_nodes, sizeof *ids, TRL_MEM_MISC);
        for (int k = 0; ids && k < g->n_nodes; k++) ids[k] = g->nodes[k].id;
        const char *s = ids ? suggest_closest(t->name, ids, g->n_nodes) : NULL;
        api_fail(e, ERR_INPUT, t->name,
                 "no node of this id: a cotangent is named by an output node's id (%s)%s%s%s", outs,
                 s ? "; did you mean \"" : "", s ? s : "", s ? "\"?" : "");
        trl_free(ids);
        return -1;
    }
    const struct graph_node *n = &g->nodes[i];
    if (!is_output(g, i)) {
        api_fail(e, ERR_INPUT, t->name,
                 "node \"%s\" is not an output of the graph (outputs: %s): list it in "
                 "\"outputs\" or leave this cotangent out",
                 n->id, outs);
        return -1;
    }
    if (t->ndim != 3 || t->shape[0] != d->B || t->shape[1] != d->T || t->shape[2] != n->size) {
        char got[64] = "[";
        for (int k = 0; k < t->ndim && k < 3; k++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", k ? ", " : "",
                     (long long)t->shape[k]);
        api_fail(e, ERR_INPUT, t->name,
                 "has shape %s]; the cotangent of \"%s\" must be [B, T, size] = [%d, %d, %d], "
                 "the data's batch and steps",
                 got, n->id, d->B, d->T, n->size);
        return -1;
    }
    if (!t->data) {
        api_fail(e, ERR_ARGUMENT, t->name, "the cotangent has no values (data is NULL)");
        return -1;
    }
    const size_t count = (size_t)d->B * d->T * n->size;
    for (size_t k = 0; k < count; k++)
        if (!isfinite(t->data[k])) {
            api_fail(e, ERR_INPUT, t->name, "value %zu is not finite; a cotangent must be finite",
                     k);
            return -1;
        }
    return i;
}

trl_status api_cotangents(const struct graph *g, const struct data *d, const trl_grad_opts *o,
                          const trl_real ***out, struct trl_errors *e)
{
    *out = NULL;
    if (!o->cotangent) return TRL_OK;
    char file[sizeof e->file]; /* the errors below are about the cotangent */
    memcpy(file, e->file, sizeof file);
    snprintf(e->file, sizeof e->file, "cotangent");
    const trl_real **cot = trl_alloc((size_t)g->n_nodes, sizeof *cot, TRL_MEM_MISC);
    if (!cot) return api_fail(e, ERR_MEMORY, NULL, "out of memory");
    for (int k = 0; k < o->n_cotangent; k++) {
        const trl_tensor *t = &o->cotangent[k];
        if (!t->name) {
            api_fail(e, ERR_ARGUMENT, NULL, "cotangent %d has no name (an output node's id)", k);
            continue;
        }
        const int i = cotangent_node(g, d, t, e);
        if (i < 0) continue;
        if (cot[i]) api_fail(e, ERR_INPUT, t->name, "given twice: one cotangent per output node");
        cot[i] = t->data;
    }
    if (e->n_total) {
        trl_free(cot);
        return api_status(e);
    }
    memcpy(e->file, file, sizeof file);
    *out = cot;
    return TRL_OK;
}

trl_real **api_input_grads_new(const struct graph *g, const struct data *d)
{
    trl_real **dx = trl_alloc((size_t)g->n_nodes, sizeof *dx, TRL_MEM_MISC);
    for (int i = 0; dx && i < g->n_nodes; i++) {
        const struct graph_node *n = &g->nodes[i];
        if (!n->op->is_input) continue;
        dx[i] = trl_alloc((size_t)d->B * d->T, (size_t)n->size * sizeof **dx, TRL_MEM_MISC);
        if (!dx[i]) {
            api_input_grads_free(g, dx);
            return NULL;
        }
    }
    return dx;
}

void api_input_grads_free(const struct graph *g, trl_real **dx)
{
    for (int i = 0; dx && i < g->n_nodes; i++) trl_free(dx[i]);
    trl_free(dx);
}
