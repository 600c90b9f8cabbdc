/* toplevel.c - the members of the top-level object (SPEC section 1): the
 * format version, name, dt, the "nodes" array itself (its elements are
 * nodes.c's), "outputs" and "loss". */
#include <stdio.h>
#include <string.h>

#include "graph/loader.h"

static const char *const top_key_names[] = {"trellis", "name", "dt", "nodes", "outputs", "loss"};
static const struct field_keys top_keys = {"top-level keys", top_key_names, 6};
static const char *const loss_key_names[] = {"node", "type"};
static const struct field_keys loss_keys = {"loss keys", loss_key_names, 2};
static const char *const loss_types[] = {"mse", "cross_entropy"};
static const enum loss_type loss_type_values[] = {LOSS_MSE, LOSS_CROSS_ENTROPY};

static void top_check_version(struct graph_loader *ld)
{
    const json_t *v = json_object_get(ld->root, "trellis");
    char got[128];
    if (!v) {
        field_missing(ld, ld->root, &top_keys, "", "trellis",
                      "add \"trellis\": 1 (the format version)");
    } else if (!json_is_integer(v)) {
        jtext_describe(got, sizeof got, v);
        trl_errors_add(ld->err, "/trellis", "trellis must be the integer 1 (got %s)", got);
    } else if (json_integer_value(v) != 1) {
        trl_errors_add(ld->err, "/trellis",
                       "format version %lld is not supported: this trellis reads version 1; "
                       "write the graph in version 1 and set \"trellis\": 1",
                       (long long)json_integer_value(v));
    }
}

static void top_check_dt(struct graph_loader *ld)
{
    double dt = 1.0;
    if (field_number(ld, ld->root, "", "dt", &dt) == 1 && !(dt > 0)) {
        char got[64];
        jtext_describe(got, sizeof got, json_object_get(ld->root, "dt"));
        trl_errors_add(ld->err, "/dt", "dt must be > 0 (got %s); it is the time step, e.g. 1.0",
                       got);
        dt = 1.0;
    }
    ld->g->dt = dt;
}

/* Sizes the node arrays from a valid "nodes" array. */
static void top_check_nodes(struct graph_loader *ld)
{
    const json_t *v = json_object_get(ld->root, "nodes");
    char got[128];
    if (!v) {
        field_missing(ld, ld->root, &top_keys, "", "nodes",
                      "add \"nodes\": [...] with at least one node, e.g. "
                      "{\"id\": \"in\", \"op\": \"input\", \"size\": 1}");
        return;
    }
    if (!json_is_array(v)) {
        jtext_describe(got, sizeof got, v);
        trl_errors_add(ld->err, "/nodes", "nodes must be an array of node objects (got %s)", got);
        return;
    }
    size_t n = json_array_size(v);
    if (n == 0) {
        trl_errors_add(ld->err, "/nodes",
                       "nodes is empty; add at least one node, e.g. "
                       "{\"id\": \"in\", \"op\": \"input\", \"size\": 1}");
        return;
    }
    if (n > GRAPH_MAX_NODES) {
        trl_errors_add(ld->err, "/nodes",
                       "too many nodes (%zu); the limit is %d: use fewer, larger nodes", n,
                       GRAPH_MAX_NODES);
        return;
    }
    struct graph *g = ld->g;
    g->nodes = loader_alloc(ld, n, sizeof *g->nodes);
    g->id_entries = loader_alloc(ld, n, sizeof *g->id_entries);
    ld->ln = loader_alloc(ld, n, sizeof *ld->ln);
    ld->ids = loader_alloc(ld, n, sizeof *ld->ids);
    if (!g->nodes || !g->id_entries || !ld->ln || !ld->ids) return;
    g->n_nodes = (int)n;
    for (int i = 0; i < g->n_nodes; i++) g->nodes[i].bias_param = -1;
    ld->nodes_ok = true;
}

void top_check(struct graph_loader *ld)
{
    char got[128];
    if (!json_is_object(ld->root)) {
        jtext_describe(got, sizeof got, ld->root);
        trl_errors_add(ld->err, NULL,
                       "the top level must be a JSON object such as "
                       "{\"trellis\": 1, \"nodes\": [...]} (got %s)",
                       got);
        return;
    }
    field_check_keys(ld, ld->root, "", &top_keys);
    top_check_version(ld);
    const char *name = "";
    field_string(ld, ld->root, "", "name", &name);
    ld->g->name = loader_strdup(ld, name);
    top_check_dt(ld);
    top_check_nodes(ld);
}

/* One element of "outputs"; first[n] is the position where node n was listed. */
static void top_check_output(struct graph_loader *ld, const json_t *v, int k, int *first)
{
    char path[GRAPH_PATH_MAX], got[128], q[128];
    snprintf(path, sizeof path, "/outputs/%d", k);
    if (!json_is_string(v)) {
        jtext_describe(got, sizeof got, v);
        trl_errors_add(ld->err, path, "an output must be a node id (got %s)", got);
        return;
    }
    if (!ld->nodes_ok) return;
    const struct graph_id_entry *e = graph_ids_find(ld->g, json_string_value(v));
    if (!e) {
        graph_ids_report_unknown(ld, path, json_string_value(v));
        return;
    }
    if (e->bad) return; /* the id itself is reported at its node */
    if (first[e->node] >= 0) {
        jtext_quote(q, sizeof q, e->id);
        trl_errors_add(ld->err, path, "%s is listed twice (also at /outputs/%d); remove one", q,
                       first[e->node]);
        return;
    }
    first[e->node] = k;
    ld->g->outputs[ld->g->n_outputs++] = e->node;
}

void top_check_outputs(struct graph_loader *ld)
{
    const json_t *v = json_is_object(ld->root) ? json_object_get(ld->root, "outputs") : NULL;
    char got[128], fix[160] = "";
    if (!v) return;
    ld->outputs_given = true;
    if (!json_is_array(v)) {
        jtext_describe(got, sizeof got, v);
        if (json_is_string(v)) {
            char q[128];
            jtext_quote(q, sizeof q, json_string_value(v));
            snprintf(fix, sizeof fix, "; write [%s]", q);
        }
        trl_errors_add(ld->err, "/outputs", "outputs must be an array of node ids (got %s)%s", got,
                       fix);
        return;
    }
    size_t n = json_array_size(v);
    int *first = NULL;
    if (ld->nodes_ok) {
        ld->g->outputs = loader_alloc(ld, n, sizeof *ld->g->outputs);
        first = loader_alloc(ld, (size_t)ld->g->n_nodes, sizeof *first);
        if (!ld->g->outputs || !first) {
            trl_free(first);
            return;
        }
        for (int i = 0; i < ld->g->n_nodes; i++) first[i] = -1;
    }
    for (size_t k = 0; k < n; k++) top_check_output(ld, json_array_get(v, k), (int)k, first);
    trl_free(first);
}

static void top_check_loss_node(struct graph_loader *ld, const json_t *loss)
{
    const char *id = NULL;
    int r = field_string(ld, loss, "/loss", "node", &id);
    if (r == 0)
        field_missing(ld, loss, &loss_keys, "/loss", "node",
                      "add \"node\": \"<id>\" naming the node whose output is compared with the "
                      "target");
    if (r != 1 || !ld->nodes_ok) return;
    const struct graph_id_entry *e = graph_ids_find(ld->g, id);
    if (!e)
        graph_ids_report_unknown(ld, "/loss/node", id);
    else if (!e->bad) /* a bad id is reported at its node */
        ld->g->loss_node = e->node;
}

static void top_check_loss_type(struct graph_loader *ld, const json_t *loss)
{
    const char *type = NULL;
    int r = field_string(ld, loss, "/loss", "type", &type);
    if (r == 0)
        field_missing(ld, loss, &loss_keys, "/loss", "type",
                      "add \"type\": \"mse\" or \"cross_entropy\"");
    if (r != 1) return;
    for (int i = 0; i < 2; i++)
        if (strcmp(type, loss_types[i]) == 0) {
            ld->g->loss_type = loss_type_values[i];
            return;
        }
    field_unknown_name(ld, "/loss/type", "loss type", type, loss_types, 2);
}

void top_check_loss(struct graph_loader *ld)
{
    const json_t *v = json_is_object(ld->root) ? json_object_get(ld->root, "loss") : NULL;
    char got[128];
    if (!v) return;
    if (!json_is_object(v)) {
        jtext_describe(got, sizeof got, v);
        trl_errors_add(ld->err, "/loss",
                       "loss must be an object such as {\"node\": \"out\", \"type\": \"mse\"} "
                       "(got %s)",
                       got);
        return;
    }
    field_check_keys(ld, v, "/loss", &loss_keys);
    top_check_loss_node(ld, v);
    top_check_loss_type(ld, v);
}
