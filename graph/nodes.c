/* nodes.c - the elements of "nodes" (SPEC section 1): the id, op, size,
 * params and bias of each node and the node-level rules on its inputs; the
 * edges themselves are edges.c's.
 *
 * Two passes: nodes_collect_ids first puts every string id in the id table
 * (so an edge may name a node defined later in the file) and sizes the edge
 * array; nodes_check then checks each node in file order.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "graph/loader.h"

static const char *const node_key_names[] = {"id", "op", "size", "params", "inputs", "bias"};
static const struct field_keys node_keys = {"node keys", node_key_names, 6};

/* [A-Za-z_][A-Za-z0-9_]*, of any length (the file's size bounds it). */
bool nodes_id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
        if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
}

/* Pass 1: ids into the table, and room for every edge. */
void nodes_collect_ids(struct graph_loader *ld)
{
    struct graph *g = ld->g;
    const json_t *nodes = json_object_get(ld->root, "nodes");
    size_t n_edges = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const json_t *v = json_array_get(nodes, (size_t)i);
        if (!json_is_object(v)) {
            ld->ids_missing = true;
            continue;
        }
        ld->ln[i].json = v;
        n_edges += json_array_size(json_object_get(v, "inputs")); /* 0 if not an array */
        const json_t *id = json_object_get(v, "id");
        if (!json_is_string(id)) {
            ld->ids_missing = true;
            continue;
        }
        g->nodes[i].id = loader_strdup(ld, json_string_value(id));
        if (!g->nodes[i].id) return;
        graph_ids_add(g, i, !nodes_id_valid(g->nodes[i].id));
    }
    for (int i = 0; i < g->n_nodes; i++)
        if (g->id_entries[i].id && !g->id_entries[i].bad) ld->ids[ld->n_ids++] = g->nodes[i].id;
    if (n_edges > INT_MAX) n_edges = INT_MAX; /* unreachable below GRAPH_MAX_FILE_BYTES */
    g->edges = loader_alloc(ld, n_edges, sizeof *g->edges);
    if (g->edges) ld->edge_cap = (int)n_edges;
}

/* Names that data and output files use for their own keys (SPEC sections 4, 7). */
static bool nodes_id_reserved(const char *id)
{
    return strcmp(id, "target") == 0 || strcmp(id, "mask") == 0 || strcmp(id, "loss") == 0;
}

static void nodes_check_id(struct graph_loader *ld, int i, const char *path)
{
    const json_t *v = json_object_get(ld->ln[i].json, "id");
    char kpath[GRAPH_PATH_MAX], got[128], q[128];
    jtext_path_key(kpath, path, "id");
    if (!v) {
        field_missing(ld, ld->ln[i].json, &node_keys, path, "id",
                      "add \"id\": \"<name>\" (letters, digits and _, not starting with a digit)");
        return;
    }
    if (!json_is_string(v)) {
        jtext_describe(got, sizeof got, v);
        trl_errors_add(ld->err, kpath, "id must be a string such as \"h1\" (got %s)", got);
        return;
    }
    const char *id = json_string_value(v);
    jtext_quote(q, sizeof q, id);
    const struct graph_id_entry *e = graph_ids_find(ld->g, id);
    if (!nodes_id_valid(id)) {
        trl_errors_add(ld->err, kpath,
                       "invalid id %s; an id is letters, digits and _, and does not start with a "
                       "digit (e.g. \"layer_1\")",
                       q);
    } else if (e && e->node != i) {
        trl_errors_add(ld->err, kpath,
                       "duplicate id %s (first used at /nodes/%d/id); give each node its own id", q,
                       e->node);
        ld->dup_ids = true;
    } else if (nodes_id_reserved(id)) {
        trl_errors_add(ld->err, kpath,
                       "id %s is reserved: data and output files use \"target\", \"mask\" and "
                       "\"loss\" as keys; rename the node",
                       q);
    }
}

static void nodes_check_op(struct graph_loader *ld, int i, const char *path)
{
    const char *names[16];
    int n = op_n_kinds < 16 ? op_n_kinds : 16;
    for (int k = 0; k < n; k++) names[k] = op_kinds[k]->name;
    char kpath[GRAPH_PATH_MAX], list[256], fix[300];
    jtext_path_key(kpath, path, "op");
    jtext_join(list, sizeof list, names, n);
    const char *op = NULL;
    int r = field_string(ld, ld->ln[i].json, path, "op", &op);
    if (r == 0) {
        snprintf(fix, sizeof fix, "add \"op\": one of %s", list);
        field_missing(ld, ld->ln[i].json, &node_keys, path, "op", fix);
    }
    if (r != 1) return;
    ld->g->nodes[i].op = op_find(op);
    if (!ld->g->nodes[i].op)
        field_unknown_name(ld, kpath, "op", op, names, n);
    else
        ld->ln[i].op_ok = true;
}

static void nodes_check_size(struct graph_loader *ld, int i, const char *path)
{
    long long size = 0;
    int r = field_int(ld, ld->ln[i].json, path, "size", 1, GRAPH_MAX_SIZE, &size);
    if (r == 0)
        field_missing(ld, ld->ln[i].json, &node_keys, path, "size",
                      "add \"size\": <number of units, at least 1>");
    if (r != 1) return;
    ld->g->nodes[i].size = (int)size;
    ld->ln[i].size_ok = true;
}

/* params (checked against the kind's table only when the kind is known) and bias. */
static void nodes_check_params_bias(struct graph_loader *ld, int i, const char *path)
{
    struct graph_node *n = &ld->g->nodes[i];
    const json_t *params = json_object_get(ld->ln[i].json, "params");
    char kpath[GRAPH_PATH_MAX], got[128];
    if (params && !json_is_object(params)) {
        jtext_path_key(kpath, path, "params");
        jtext_describe(got, sizeof got, params);
        trl_errors_add(ld->err, kpath,
                       "params must be an object such as {\"tau_m\": 20} (got %s); write {} or "
                       "remove it for the defaults",
                       got);
        params = NULL;
    }
    bool bias = false;
    int r = field_bool(ld, ld->ln[i].json, path, "bias", &bias);
    if (!ld->ln[i].op_ok) return;
    n->bias = r == 1 ? bias : n->op->default_bias;
    if (n->op->is_input && n->bias) {
        jtext_path_key(kpath, path, "bias");
        trl_errors_add(ld->err, kpath,
                       "an input node has no bias (its values come from the data file); remove "
                       "\"bias\"");
    }
    if (n->op->params_size > 0) {
        n->params = loader_alloc(ld, 1, n->op->params_size);
        if (!n->params) return;
    }
    node_params_parse(ld, n->op, params, path, n->params);
}

/* The inputs array and the node-level rules on it: an input node has none,
 * every other node at least one. */
static void nodes_check_inputs(struct graph_loader *ld, int i, const char *path)
{
    const struct graph_node *n = &ld->g->nodes[i];
    const json_t *v = json_object_get(ld->ln[i].json, "inputs");
    char kpath[GRAPH_PATH_MAX], got[128], q[128];
    jtext_path_key(kpath, path, "inputs");
    bool is_input = ld->ln[i].op_ok && n->op->is_input;
    if (is_input) {
        if (v && !(json_is_array(v) && json_array_size(v) == 0))
            trl_errors_add(ld->err, kpath,
                           "an input node takes no inputs (its values come from the data file); "
                           "remove \"inputs\"");
        return;
    }
    if (v && !json_is_array(v)) {
        jtext_describe(got, sizeof got, v);
        trl_errors_add(ld->err, kpath,
                       "inputs must be an array of node ids or edge objects (got %s)%s", got,
                       json_is_string(v) ? "; put the id in brackets" : "");
        return;
    }
    if (json_array_size(v) > 0) {
        edges_parse_node(ld, i, path);
    } else if (ld->ln[i].op_ok && !field_typo_for(ld->ln[i].json, &node_keys, "inputs")) {
        if (n->id)
            jtext_quote(q, sizeof q, n->id);
        else
            snprintf(q, sizeof q, "of kind %s", n->op->name);
        trl_errors_add(ld->err, v ? kpath : path,
                       "node %s has no inputs; add \"inputs\": [\"<id>\"] naming at least one "
                       "node (only an input node has none)",
                       q);
    }
}

void nodes_check(struct graph_loader *ld)
{
    char path[GRAPH_PATH_MAX], got[128];
    for (int i = 0; i < ld->g->n_nodes && !ld->oom; i++) {
        snprintf(path, sizeof path, "/nodes/%d", i);
        if (!ld->ln[i].json) {
            jtext_describe(got, sizeof got, json_array_get(json_object_get(ld->root, "nodes"), i));
            trl_errors_add(ld->err, path,
                           "a node must be an object such as {\"id\": \"h\", \"op\": \"lif\", "
                           "\"size\": 10, \"inputs\": [\"in\"]} (got %s)",
                           got);
            continue;
        }
        field_check_keys(ld, ld->ln[i].json, path, &node_keys);
        nodes_check_id(ld, i, path);
        nodes_check_op(ld, i, path);
        nodes_check_size(ld, i, path);
        nodes_check_params_bias(ld, i, path);
        nodes_check_inputs(ld, i, path);
    }
}
