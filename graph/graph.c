/* graph.c - the id -> node index table (uthash over the node ids), lookup by
 * id, and graph_free. */
#include <stdio.h>
#include <string.h>

#include "graph/loader.h"
#include "core/alloc.h"
#include "core/suggest.h"

#define GRAPH_LIST_IDS_MAX 8 /* an unknown id lists the ids when there are at most this many */

/* Adds node's id (g->nodes[node].id, non-NULL) unless an earlier node has it. */
void graph_ids_add(struct graph *g, int node, bool bad)
{
    const char *id = g->nodes[node].id;
    struct graph_id_entry *e = NULL;
    HASH_FIND_STR(g->id_table, id, e);
    if (e) return;
    e = &g->id_entries[node];
    e->id = id;
    e->node = node;
    e->bad = bad;
    HASH_ADD_KEYPTR(hh, g->id_table, e->id, strlen(e->id), e);
}

const struct graph_id_entry *graph_ids_find(const struct graph *g, const char *id)
{
    struct graph_id_entry *e = NULL;
    HASH_FIND_STR(g->id_table, id, e);
    return e;
}

int graph_find_node(const struct graph *g, const char *id)
{
    const struct graph_id_entry *e = graph_ids_find(g, id);
    return e && !e->bad ? e->node : -1;
}

int graph_max_out_delay(const struct graph *g, int node)
{
    int d = 0;
    const struct graph_node *n = &g->nodes[node];
    for (int k = 0; k < n->n_out; k++)
        if (g->edges[n->out[k]].delay > d) d = g->edges[n->out[k]].delay;
    return d;
}

void graph_ids_report_unknown(struct graph_loader *ld, const char *path, const char *id)
{
    char q[256], sq[256], list[512];
    if (ld->ids_missing) return; /* it may name the node without an id: that one is reported */
    if (ld->err->n >= TRL_MAX_ERRORS) { /* counted, not shown: skip the search */
        trl_errors_add(ld->err, path, "no node has this id");
        return;
    }
    jtext_quote(q, sizeof q, id);
    const char *best = suggest_closest(id, ld->ids, ld->n_ids);
    if (best) {
        jtext_quote(sq, sizeof sq, best);
        trl_errors_add(ld->err, path, "no node has id %s; did you mean %s?", q, sq);
    } else if (ld->n_ids <= GRAPH_LIST_IDS_MAX) {
        jtext_join(list, sizeof list, ld->ids, ld->n_ids);
        trl_errors_add(ld->err, path, "no node has id %s; name one of: %s", q, list);
    } else {
        trl_errors_add(ld->err, path, "no node has id %s; name the \"id\" of one of the nodes", q);
    }
}

static void graph_free_node(struct graph_node *n)
{
    trl_free(n->id);
    trl_free(n->params);
    trl_free(n->in);
    trl_free(n->out);
}

void graph_free(struct graph *g)
{
    if (!g) return;
    HASH_CLEAR(hh, g->id_table);
    trl_free(g->id_entries);
    for (int i = 0; i < g->n_nodes; i++) graph_free_node(&g->nodes[i]);
    trl_free(g->nodes);
    for (int i = 0; i < g->n_params; i++) trl_free(g->params[i].name);
    trl_free(g->params);
    trl_free(g->edges);
    trl_free(g->order);
    trl_free(g->outputs);
    trl_free(g->name);
    trl_free(g->file);
    trl_free(g);
}
