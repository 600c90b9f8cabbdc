/* param_table.c - the parameter table of SPEC section 3: for each node in
 * file order, one weight tensor per input edge in file order ("n.w.s" for
 * delay 0, "n.w.s.dD" otherwise, shape [n.size, s.size]), then its bias
 * "n.b" ([n.size], stored as rows = size, cols = 1) if it has one. The tensors
 * are consecutive in one flat block of n_param_values values.
 *
 * param_check_count runs first, on whatever parts of the file are valid: it
 * adds the sizes with overflow-safe arithmetic and reports the edge at which
 * the total passes GRAPH_MAX_PARAMS, so nothing is ever sized from a total
 * that does not fit.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "graph/loader.h"

static size_t param_add(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static void param_report_over(struct graph_loader *ld, const char *path, const char *what,
                              size_t total)
{
    trl_errors_add(ld->err, path,
                   "too many parameter values: %s the graph to %zu, over the limit of %zu; "
                   "use smaller sizes",
                   what, total, (size_t)GRAPH_MAX_PARAMS);
}

/* Adds the weights of edge k to total and returns it; sets *over past the limit. */
static size_t param_count_edge(struct graph_loader *ld, int k, size_t total, bool *over)
{
    const struct graph *g = ld->g;
    const struct graph_edge *e = &g->edges[k];
    if (e->src < 0 || !ld->ln[e->src].size_ok) return total;
    size_t rows = (size_t)g->nodes[e->dst].size, cols = (size_t)g->nodes[e->src].size;
    total = param_add(total, trl_mul2(rows, cols));
    if (total > GRAPH_MAX_PARAMS) {
        char path[GRAPH_PATH_MAX], what[256], q[128];
        snprintf(path, sizeof path, "/nodes/%d/inputs/%d", e->dst, e->input_index);
        jtext_quote(q, sizeof q, g->nodes[e->src].id);
        snprintf(what, sizeof what, "the weights from %s ([%zu x %zu]) bring", q, rows, cols);
        param_report_over(ld, path, what, total);
        *over = true;
    }
    return total;
}

void param_check_count(struct graph_loader *ld)
{
    const struct graph *g = ld->g;
    size_t total = 0;
    bool over = false;
    int k = 0;
    for (int i = 0; i < g->n_nodes && !over; i++) {
        for (; k < g->n_edges && g->edges[k].dst == i && !over; k++)
            if (ld->ln[i].size_ok) total = param_count_edge(ld, k, total, &over);
        if (over || !ld->ln[i].size_ok || !g->nodes[i].bias) continue;
        total = param_add(total, (size_t)g->nodes[i].size);
        if (total > GRAPH_MAX_PARAMS) {
            char path[GRAPH_PATH_MAX];
            snprintf(path, sizeof path, "/nodes/%d", i);
            param_report_over(ld, path, "its bias brings", total);
            over = true;
        }
    }
}

/* "n.w.s", "n.w.s.dD" or "n.b". */
static char *param_name(const struct graph *g, int node, const struct graph_edge *e)
{
    if (!e) return trl_strprintf("%s.b", g->nodes[node].id);
    if (e->delay == 0) return trl_strprintf("%s.w.%s", g->nodes[node].id, g->nodes[e->src].id);
    return trl_strprintf("%s.w.%s.d%d", g->nodes[node].id, g->nodes[e->src].id, e->delay);
}

/* Appends one tensor; edge k or the bias (k < 0) of node. */
static int param_push(struct graph *g, int node, int k)
{
    struct graph_param *p = &g->params[g->n_params];
    struct graph_edge *e = k >= 0 ? &g->edges[k] : NULL;
    p->name = param_name(g, node, e);
    if (!p->name) return -1;
    p->node = node;
    p->edge = k;
    p->rows = g->nodes[node].size;
    p->cols = e ? g->nodes[e->src].size : 1;
    p->count = (size_t)p->rows * (size_t)p->cols;
    p->offset = g->n_param_values;
    p->trainable = e ? e->trainable : true;
    g->n_param_values += p->count;
    if (e)
        e->param = g->n_params;
    else
        g->nodes[node].bias_param = g->n_params;
    g->n_params++;
    return 0;
}

/* Builds the table of a valid graph (param_check_count found no problem). */
int param_table_build(struct graph *g)
{
    int n = g->n_edges;
    for (int i = 0; i < g->n_nodes; i++) n += g->nodes[i].bias;
    g->params = trl_alloc((size_t)n, sizeof *g->params, TRL_MEM_MISC);
    if (!g->params) return -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const struct graph_node *nd = &g->nodes[i];
        for (int j = 0; j < nd->n_in; j++)
            if (param_push(g, i, nd->in[j]) < 0) return -1;
        if (nd->bias && param_push(g, i, -1) < 0) return -1;
    }
    return 0;
}
