/* loader.h - private to graph/: the state of one graph_load and the functions
 * of the files that each check one part of a graph file (SPEC section 1).
 *
 * Order of the checks (load.c): the top level (toplevel.c), then each node
 * (nodes.c) with its params (node_params.c) and its edges (edges.c), then
 * outputs and loss (toplevel.c), the delay-0 cycles (schedule.c) and the
 * parameter count (param_table.c). Every check records its errors in ld->err
 * and goes on, so one load reports every problem of a file; a check that needs
 * a part already found invalid is skipped, so one mistake gives one error.
 *
 * Error paths are JSON pointers (RFC 6901) in buffers of GRAPH_PATH_MAX bytes.
 */
#ifndef TRELLIS_GRAPH_LOADER_H
#define TRELLIS_GRAPH_LOADER_H

#include <jansson.h>
#include <stdbool.h>
#include <uthash.h>

#include "graph/graph.h"
#include "core/alloc.h"

#define GRAPH_PATH_MAX 256 /* = sizeof trl_error.path */

/* One entry of the id -> node index table (graph.c). */
struct graph_id_entry {
    const char *id; /* key, owned by the node */
    int node;       /* the first node with this id */
    bool bad;       /* not a valid id: a reference to it is not reported again */
    UT_hash_handle hh;
};

/* What the loader knows about one node beyond struct graph_node. */
struct loader_node {
    const json_t *json; /* the node object, or NULL if the element is not an object */
    bool op_ok;         /* "op" names a kind: params, bias and inputs rules were checked */
    bool size_ok;       /* "size" is valid: the node's tensors can be counted */
};

struct graph_loader {
    struct graph *g;
    struct trl_errors *err;
    const json_t *root;
    struct loader_node *ln; /* one per node of g */
    int edge_cap;           /* room in g->edges: elements of every "inputs" array */
    const char **ids;       /* the valid ids, file order: candidates for "did you mean" */
    int n_ids;
    bool nodes_ok;      /* "nodes" is a usable array: g->nodes exists */
    bool outputs_given; /* "outputs" is present: no default */
    bool dup_ids;       /* two nodes share an id: references are ambiguous */
    bool ids_missing;   /* a node has no string id: an unknown reference may be to it */
    bool oom;           /* an allocation failed (reported once) */
};

/* load.c */
void *loader_alloc(struct graph_loader *ld, size_t n, size_t size);
char *loader_strdup(struct graph_loader *ld, const char *s);

/* json_text.c: JSON pointers and short renderings for messages. */
void jtext_path_key(char *out, const char *parent, const char *key);
void jtext_quote(char *out, size_t n, const char *s);
void jtext_describe(char *out, size_t n, const json_t *v);
void jtext_real(char *out, size_t n, double x);
void jtext_join(char *out, size_t n, const char *const *names, int count);
void jtext_sanitize(char *out, size_t n, const char *s);

/* fields.c: the keys an object may hold, and its typed members. */
struct field_keys {
    const char *owner; /* names the list in messages: "node keys" */
    const char *const *names;
    int n;
};
/* Reports each key of obj outside keys, with "did you mean". */
void field_check_keys(struct graph_loader *ld, const json_t *obj, const char *path,
                      const struct field_keys *keys);
/* Reports that obj lacks the required key, unless obj has a misspelling of
 * it (field_check_keys already said "did you mean"). */
void field_missing(struct graph_loader *ld, const json_t *obj, const struct field_keys *keys,
                   const char *path, const char *key, const char *fix);
/* Does obj hold an unknown key whose closest known key is key? */
bool field_typo_for(const json_t *obj, const struct field_keys *keys, const char *key);
/* Each reads one member: returns 1 when it was read into *out, 0 when it is
 * absent (*out untouched), -1 after reporting a wrong value. */
void field_unknown_name(struct graph_loader *ld, const char *path, const char *what, const char *s,
                        const char *const *options, int n);
int field_int(struct graph_loader *ld, const json_t *obj, const char *path, const char *key,
              long long lo, long long hi, long long *out);
int field_bool(struct graph_loader *ld, const json_t *obj, const char *path, const char *key,
               bool *out);
int field_number(struct graph_loader *ld, const json_t *obj, const char *path, const char *key,
                 double *out);
int field_string(struct graph_loader *ld, const json_t *obj, const char *path, const char *key,
                 const char **out);

/* graph.c: the id table. */
void graph_ids_add(struct graph *g, int node, bool bad);
const struct graph_id_entry *graph_ids_find(const struct graph *g, const char *id);
/* Reports that no node has this id, with a suggestion among the valid ids;
 * silent when some node has no id (the reference may be to it). */
void graph_ids_report_unknown(struct graph_loader *ld, const char *path, const char *id);

/* toplevel.c */
void top_check(struct graph_loader *ld);
void top_check_outputs(struct graph_loader *ld);
void top_check_loss(struct graph_loader *ld);

/* nodes.c */
void nodes_collect_ids(struct graph_loader *ld);
void nodes_check(struct graph_loader *ld);
bool nodes_id_valid(const char *id);

/* node_params.c: fills out (op->params_size bytes) with defaults and the
 * values of `params` (may be NULL); returns -1 if any value was wrong. */
int node_params_parse(struct graph_loader *ld, const struct op_kind *op, const json_t *params,
                      const char *node_path, void *out);

/* edges.c */
void edges_parse_node(struct graph_loader *ld, int node, const char *node_path);
int edges_link(struct graph *g);

/* schedule.c */
int sched_order(struct graph *g);
int sched_report_cycles(const struct graph *g, int n_scheduled, struct trl_errors *err);

/* param_table.c */
void param_check_count(struct graph_loader *ld);
int param_table_build(struct graph *g);

#endif
