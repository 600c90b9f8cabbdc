/* graph.h - a validated network graph (SPEC section 1), with every name
 * resolved to an index. Strings stop here: the layers above see indices.
 *
 * Lifetime: graph_load* returns a graph owned by the caller; graph_free
 * releases it and everything it points to.
 */
#ifndef TRELLIS_GRAPH_H
#define TRELLIS_GRAPH_H

#include <stdbool.h>
#include <stddef.h>

#include "ops/op.h"
#include "core/error.h"

/* Limits beyond SPEC section 1 that keep hostile files from exhausting the
 * machine; each is checked with a clear error before anything is allocated. */
#define GRAPH_MAX_DELAY      1000
#define GRAPH_MAX_SIZE       (1 << 24) /* units in one node */
#define GRAPH_MAX_NODES      (1 << 20)
#define GRAPH_MAX_PARAMS     ((size_t)1 << 34) /* parameter values in one graph */
#define GRAPH_MAX_FILE_BYTES ((size_t)64 << 20)

enum loss_type { LOSS_NONE, LOSS_MSE, LOSS_CROSS_ENTROPY };

struct graph_id_entry; /* graph/graph.c: one entry of the id -> node index table */

struct graph_edge {
    int src, dst; /* node indices */
    int delay;
    bool no_self, trainable;
    double gain;
    int param;       /* its weights: index into graph->params */
    int input_index; /* position in the destination's "inputs" array */
};

struct graph_node {
    char *id;
    const struct op_kind *op;
    int size;
    bool bias;
    int bias_param; /* index into graph->params, or -1 */
    void *params;   /* op->params_size bytes, parsed, defaulted and prepared */
    int *in;        /* indices into graph->edges of the edges into this node, file order */
    int n_in;
    int *out; /* indices of the edges out of this node */
    int n_out;
};

/* One parameter tensor (SPEC section 3), in a flat block of n_param_values. */
struct graph_param {
    char *name;     /* "n.w.s", "n.w.s.dD" or "n.b" */
    int node;       /* owner (destination) node */
    int edge;       /* edge index, or -1 for a bias */
    int rows, cols; /* [node.size, src.size]; a bias is [node.size] with cols = 1 */
    size_t offset;  /* into the flat block */
    size_t count;   /* rows * cols */
    bool trainable; /* false for a frozen edge */
};

struct graph {
    char *file; /* path it was loaded from */
    char *name;
    double dt;
    struct graph_node *nodes; /* file order */
    int n_nodes;
    struct graph_edge *edges; /* grouped by destination, file order */
    int n_edges;
    int *order; /* schedule: a topological order of the delay-0 edges; inputs first */
    int *outputs;
    int n_outputs;
    int loss_node; /* -1 if no loss */
    enum loss_type loss_type;
    int max_delay;
    struct graph_param *params; /* per node in file order: its edges in file order, then bias */
    int n_params;
    size_t n_param_values;

    /* id -> node index (uthash), private to graph/: use graph_find_node. */
    struct graph_id_entry *id_entries; /* one per node, one allocation */
    struct graph_id_entry *id_table;   /* hash head */
};

/* Reads and validates a graph file. On failure returns NULL with every error
 * found (up to TRL_MAX_ERRORS) in err; err->file is set to path. */
struct graph *graph_load(const char *path, struct trl_errors *err);
/* The same from text in memory; `file` names it in errors. */
struct graph *graph_load_string(const char *text, size_t len, const char *file,
                                struct trl_errors *err);
void graph_free(struct graph *g);

/* Index of the node with this id, or -1. */
int graph_find_node(const struct graph *g, const char *id);
/* The largest delay of an edge out of the node (0 if none): how many past
 * steps of its output anyone reads. */
int graph_max_out_delay(const struct graph *g, int node);

#endif
