/* data.h - a data file bound to a graph (SPEC section 4).
 *
 * Keys: the id of every input node, [B, T, size]; "target", [B, T, K] with K
 * the loss node's size; optional "mask", [B, T] (default all ones). Every
 * tensor must agree on B and T; no other key is allowed.
 */
#ifndef TRELLIS_DATA_H
#define TRELLIS_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include "graph/graph.h"
#include "runtime/error.h"
#include "runtime/real.h"

struct data {
    int B, T;
    int loss_B;       /* the batch size the loss averages over: B, or a whole batch's for a view */
    trl_real **x;     /* per node index: [B, T, size] for input nodes, NULL otherwise */
    trl_real *target; /* [B, T, K], or NULL */
    trl_real *mask;   /* [B, T], or NULL for all ones */
    int n_nodes;
};

enum data_target { DATA_TARGET_OPTIONAL, DATA_TARGET_REQUIRED };

/* Reads and checks a data file. A target and mask are only read when the
 * graph has a loss. NULL with every problem in err. */
struct data *data_load(const struct graph *g, const char *path, enum data_target need,
                       struct trl_errors *err);
/* An empty data set of B x T for a graph, for generators: input tensors and,
 * if the graph has a loss, target and mask (all ones), zeroed. */
struct data *data_new(const struct graph *g, int B, int T);
void data_free(struct data *d);
/* B samples of d for training iteration iter: the first B of a shuffle
 * seeded by (seed, iter), or all of d in order when B <= 0 or B >= d->B. */
struct data *data_subset(const struct graph *g, const struct data *d, uint64_t seed, long iter,
                         int B);
/* Writes d as a data file (SPEC section 4) that data_load reads back: one
 * tensor per input node, then target and mask when the graph has a loss and
 * d holds them. Atomic (st_write); 0, or -1 with err set. */
int data_save(const struct graph *g, const struct data *d, const char *path,
              struct trl_errors *err);

#endif
