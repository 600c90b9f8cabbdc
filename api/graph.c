/* graph.c - graphs, their structure and the node kinds (trellis.h). */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "ops/activation.h"

trl_status api_graph_wrap(struct graph *g, trl_graph **out, struct trl_errors *e)
{
    if (!g) return api_failed(e);
    *out = malloc(sizeof **out);
    if (!*out) {
        graph_free(g);
        return api_fail(e, ERR_MEMORY, NULL, "out of memory");
    }
    (*out)->g = g;
    api_blas_once();
    return TRL_OK;
}

TRL_API trl_status trl_graph_load(const char *path, trl_graph **out, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, path);
    API_NEED(e, out, "out");
    *out = NULL;
    API_NEED(e, path, "path");
    return api_graph_wrap(graph_load(path, e), out, e);
}

TRL_API trl_status trl_graph_parse(const char *text, size_t len, const char *name, trl_graph **out,
                                   trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, name ? name : "<graph>");
    API_NEED(e, out, "out");
    *out = NULL;
    API_NEED(e, text, "text");
    return api_graph_wrap(graph_load_string(text, len, name ? name : "<graph>", e), out, e);
}

TRL_API void trl_graph_free(trl_graph *g)
{
    if (!g) return;
    graph_free(g->g);
    free(g);
}

TRL_API void trl_graph_get_info(const trl_graph *tg, trl_graph_info *out)
{
    const struct graph *g = tg->g;
    size_t trainable = 0;
    for (int i = 0; i < g->n_params; i++)
        if (g->params[i].trainable) trainable += g->params[i].count;
    *out = (trl_graph_info){
        .file = g->file,
        .name = g->name,
        .dt = g->dt,
        .n_nodes = g->n_nodes,
        .n_edges = g->n_edges,
        .n_params = g->n_params,
        .n_param_values = g->n_param_values,
        .n_trainable_values = trainable,
        .n_outputs = g->n_outputs,
        .loss_node = g->loss_node,
        .loss_type = g->loss_type == LOSS_MSE             ? "mse"
                     : g->loss_type == LOSS_CROSS_ENTROPY ? "cross_entropy"
                                                          : NULL,
        .max_delay = g->max_delay,
    };
}

static bool is_output(const struct graph *g, int node)
{
    for (int k = 0; k < g->n_outputs; k++)
        if (g->outputs[k] == node) return true;
    return false;
}

TRL_API trl_status trl_graph_node(const trl_graph *tg, int i, trl_node_info *out)
{
    const struct graph *g = tg->g;
    if (i < 0 || i >= g->n_nodes) return TRL_ERR_ARGUMENT;
    const struct graph_node *n = &g->nodes[i];
    int slot = 0;
    while (g->order[slot] != i) slot++;
    *out = (trl_node_info){
        .id = n->id,
        .op = n->op->name,
        .size = n->size,
        .n_state = n->op->n_state,
        .state_names = n->op->state_names,
        .is_input = n->op->is_input,
        .spiking = n->op->spiking,
        .is_output = is_output(g, i),
        .bias_param = n->bias_param,
        .n_inputs = n->n_in,
        .schedule_slot = slot,
    };
    return TRL_OK;
}

TRL_API int trl_graph_find_node(const trl_graph *g, const char *id)
{
    return id ? graph_find_node(g->g, id) : -1;
}

TRL_API int trl_graph_schedule(const trl_graph *g, int k)
{
    return k >= 0 && k < g->g->n_nodes ? g->g->order[k] : -1;
}

TRL_API int trl_graph_output(const trl_graph *g, int k)
{
    return k >= 0 && k < g->g->n_outputs ? g->g->outputs[k] : -1;
}

TRL_API int trl_graph_node_param_count(const trl_graph *g, int i)
{
    return i >= 0 && i < g->g->n_nodes ? g->g->nodes[i].op->n_param_desc : 0;
}

TRL_API trl_status trl_graph_node_param(const trl_graph *g, int i, int k, trl_node_param *out)
{
    if (k < 0 || k >= trl_graph_node_param_count(g, i)) return TRL_ERR_ARGUMENT;
    const struct graph_node *n = &g->g->nodes[i];
    const struct op_param_desc *d = &n->op->param_desc[k];
    const char *at = (const char *)n->params + d->offset;
    *out = (trl_node_param){.name = d->name};
    double real = 0;
    bool flag = false;
    int act = 0;
    switch (d->type) { /* as graph/node_params.c stores them */
    case OP_PARAM_REAL:
        out->type = "real";
        memcpy(&real, at, sizeof real);
        out->value = real;
        break;
    case OP_PARAM_BOOL:
        out->type = "bool";
        memcpy(&flag, at, sizeof flag);
        out->value = flag;
        break;
    case OP_PARAM_ACTIVATION:
        out->type = "activation";
        memcpy(&act, at, sizeof act);
        out->value = act;
        out->text = activation_names[act];
        break;
    }
    out->is_default = out->value == d->def;
    return TRL_OK;
}

TRL_API trl_status trl_graph_edge(const trl_graph *g, int i, trl_edge_info *out)
{
    if (i < 0 || i >= g->g->n_edges) return TRL_ERR_ARGUMENT;
    const struct graph_edge *x = &g->g->edges[i];
    *out = (trl_edge_info){.src = x->src,
                           .dst = x->dst,
                           .delay = x->delay,
                           .no_self = x->no_self,
                           .trainable = x->trainable,
                           .gain = x->gain,
                           .param = x->param};
    return TRL_OK;
}

TRL_API trl_status trl_graph_param(const trl_graph *g, int i, trl_param_info *out)
{
    if (i < 0 || i >= g->g->n_params) return TRL_ERR_ARGUMENT;
    const struct graph_param *p = &g->g->params[i];
    *out = (trl_param_info){.name = p->name,
                            .node = p->node,
                            .edge = p->edge,
                            .ndim = p->edge < 0 ? 1 : 2,
                            .rows = p->rows,
                            .cols = p->cols,
                            .offset = p->offset,
                            .count = p->count,
                            .trainable = p->trainable};
    return TRL_OK;
}

TRL_API int trl_graph_find_param(const trl_graph *g, const char *name)
{
    if (!name) return -1;
    for (int i = 0; i < g->g->n_params; i++)
        if (strcmp(g->g->params[i].name, name) == 0) return i;
    return -1;
}

TRL_API int trl_op_count(void)
{
    return op_n_kinds;
}

TRL_API trl_status trl_op_get(int i, trl_op_info *out)
{
    if (i < 0 || i >= op_n_kinds) return TRL_ERR_ARGUMENT;
    const struct op_kind *k = op_kinds[i];
    *out = (trl_op_info){.name = k->name,
                         .doc = k->doc,
                         .n_state = k->n_state,
                         .state_names = k->state_names,
                         .is_input = k->is_input,
                         .spiking = k->spiking,
                         .default_bias = k->default_bias,
                         .n_params = k->n_param_desc};
    return TRL_OK;
}
