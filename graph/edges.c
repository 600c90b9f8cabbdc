/* edges.c - the elements of a node's "inputs" (SPEC section 1): a bare id
 * or an edge object {from, delay, no_self, trainable, gain}; the rule that a
 * node has at most one edge per (from, delay); and the per-node lists of
 * edges in and out (struct graph_node in/out) once every edge is read.
 *
 * Edges are stored in g->edges in file order, so they come grouped by
 * destination. An edge with an error (its "from" names no valid node, its
 * delay is wrong, it has an unknown key...) gets src = -1 and is left out of
 * the checks of the whole graph (duplicates, cycles, parameter count), which
 * could only repeat the error in other words.
 */
#include <stdio.h>
#include <string.h>

#include "graph/loader.h"

static const char *const edge_key_names[] = {"from", "delay", "no_self", "trainable", "gain"};
static const struct field_keys edge_keys = {"edge keys", edge_key_names, 5};

/* (src, delay) of an edge into the node being checked: the duplicate test. */
struct edge_seen {
    struct {
        int src, delay;
    } key;
    int edge;
    UT_hash_handle hh;
};

/* "from" of an edge: its id and the path to report it at, or NULL. */
static const char *edge_from(struct graph_loader *ld, const json_t *v, const char *epath,
                             char fpath[GRAPH_PATH_MAX])
{
    const char *from = NULL;
    if (json_is_string(v)) {
        snprintf(fpath, GRAPH_PATH_MAX, "%s", epath);
        return json_string_value(v);
    }
    jtext_path_key(fpath, epath, "from");
    int r = field_string(ld, v, epath, "from", &from);
    if (r == 0)
        field_missing(ld, v, &edge_keys, epath, "from",
                      "add \"from\": \"<id of the source node>\"");
    return r == 1 ? from : NULL;
}

/* Sets e->src; returns false if no node has the id. */
static bool edge_resolve(struct graph_loader *ld, struct graph_edge *e, const char *from,
                         const char *fpath)
{
    const struct graph_id_entry *id = graph_ids_find(ld->g, from);
    if (!id) {
        graph_ids_report_unknown(ld, fpath, from);
        return false;
    }
    if (!id->bad) e->src = id->node; /* a bad id is reported at its node */
    return true;
}

/* no_self: only on an edge from the node to itself. */
static void edge_check_no_self(struct graph_loader *ld, const struct graph_edge *e,
                               const char *from, const char *epath)
{
    const char *self = ld->g->nodes[e->dst].id;
    if (!e->no_self || !from || !self || strcmp(from, self) == 0) return;
    char kpath[GRAPH_PATH_MAX], q[128];
    jtext_path_key(kpath, epath, "no_self");
    jtext_quote(q, sizeof q, from);
    trl_errors_add(ld->err, kpath,
                   "no_self is only for an edge from the node to itself (this edge comes from "
                   "%s); remove \"no_self\"",
                   q);
}

/* The optional members of an edge object. */
static void edge_read_options(struct graph_loader *ld, const json_t *v, const char *epath,
                              struct graph_edge *e)
{
    long long delay = 0;
    if (field_int(ld, v, epath, "delay", 0, GRAPH_MAX_DELAY, &delay) == 1) e->delay = (int)delay;
    field_bool(ld, v, epath, "no_self", &e->no_self);
    field_bool(ld, v, epath, "trainable", &e->trainable);
    field_number(ld, v, epath, "gain", &e->gain);
}

static void edge_parse(struct graph_loader *ld, int node, int k, const json_t *v,
                       const char *node_path)
{
    char epath[GRAPH_PATH_MAX], fpath[GRAPH_PATH_MAX], got[128];
    snprintf(epath, sizeof epath, "%s/inputs/%d", node_path, k);
    if (!json_is_string(v) && !json_is_object(v)) {
        jtext_describe(got, sizeof got, v);
        trl_errors_add(ld->err, epath,
                       "an input must be a node id or an edge object such as "
                       "{\"from\": \"x\", \"delay\": 1} (got %s)",
                       got);
        return;
    }
    int before = ld->err->n_total;
    struct graph_edge *e = &ld->g->edges[ld->g->n_edges++];
    *e = (struct graph_edge){
        .src = -1, .dst = node, .trainable = true, .gain = 1.0, .param = -1, .input_index = k};
    if (json_is_object(v)) field_check_keys(ld, v, epath, &edge_keys);
    const char *from = edge_from(ld, v, epath, fpath);
    bool known = from && edge_resolve(ld, e, from, fpath);
    if (json_is_object(v)) edge_read_options(ld, v, epath, e);
    if (known) edge_check_no_self(ld, e, from, epath);
    if (ld->err->n_total != before) e->src = -1; /* left out of the checks of the whole graph */
}

/* A node may not have two edges with the same from and delay: O(edges). */
static void edges_check_duplicates(struct graph_loader *ld, int first, int last,
                                   const char *node_path)
{
    struct graph *g = ld->g;
    struct edge_seen *seen = loader_alloc(ld, (size_t)(last - first), sizeof *seen), *head = NULL;
    if (!seen) return;
    for (int k = first; k < last; k++) {
        const struct graph_edge *e = &g->edges[k];
        if (e->src < 0) continue;
        struct edge_seen *s = &seen[k - first], *old = NULL;
        s->key.src = e->src;
        s->key.delay = e->delay;
        s->edge = k;
        HASH_FIND(hh, head, &s->key, sizeof s->key, old);
        if (!old) {
            HASH_ADD(hh, head, key, sizeof s->key, s);
            continue;
        }
        char epath[GRAPH_PATH_MAX], q[128];
        snprintf(epath, sizeof epath, "%s/inputs/%d", node_path, e->input_index);
        jtext_quote(q, sizeof q, g->nodes[e->src].id);
        trl_errors_add(ld->err, epath,
                       "duplicate edge from %s with delay %d (same as %s/inputs/%d); remove one, "
                       "or give them different delays",
                       q, e->delay, node_path, g->edges[old->edge].input_index);
    }
    HASH_CLEAR(hh, head);
    trl_free(seen);
}

void edges_parse_node(struct graph_loader *ld, int node, const char *node_path)
{
    const json_t *inputs = json_object_get(ld->ln[node].json, "inputs");
    int first = ld->g->n_edges;
    size_t n = json_array_size(inputs);
    for (size_t k = 0; k < n && ld->g->n_edges < ld->edge_cap; k++)
        edge_parse(ld, node, (int)k, json_array_get(inputs, k), node_path);
    edges_check_duplicates(ld, first, ld->g->n_edges, node_path);
}

/* Fills each node's in and out lists with the edges that name a node. */
int edges_link(struct graph *g)
{
    for (int k = 0; k < g->n_edges; k++) {
        if (g->edges[k].src < 0) continue;
        g->nodes[g->edges[k].dst].n_in++;
        g->nodes[g->edges[k].src].n_out++;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        struct graph_node *n = &g->nodes[i];
        n->in = trl_alloc((size_t)n->n_in, sizeof *n->in, TRL_MEM_MISC);
        n->out = trl_alloc((size_t)n->n_out, sizeof *n->out, TRL_MEM_MISC);
        if (!n->in || !n->out) return -1;
        n->n_in = n->n_out = 0;
    }
    for (int k = 0; k < g->n_edges; k++) {
        const struct graph_edge *e = &g->edges[k];
        if (e->src < 0) continue;
        g->nodes[e->dst].in[g->nodes[e->dst].n_in++] = k;
        g->nodes[e->src].out[g->nodes[e->src].n_out++] = k;
    }
    return 0;
}
