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
#include "core/error.h"
#include "core/real.h"

struct data_stream; /* data.c: the open file of a streamed data set */

struct data {
    int B, T;
    int loss_B; /* the batch size the loss averages over: B, or a whole batch's for a view */
    /* x, target and mask hold steps [t0, t0 + span) of every sample: step t of
     * sample b is row b * span + t - t0. A data set in memory holds all of
     * them (t0 = 0, span = T); a window of a streamed one (data_window_new)
     * holds span steps, read from the file as the reader moves on. */
    int t0, span;
    trl_real **x;     /* per node index: [B, span, size] for input nodes, NULL otherwise */
    trl_real *target; /* [B, span, K], or NULL */
    trl_real *mask;   /* [B, span], or NULL for all ones */
    /* Values per step of target: 0 for the loss node's size; a task's K
     * when the graph has no loss (task_data_new: a data file for `run`). */
    int target_size;
    int n_nodes;
    /* Streamed (data_open): the file, borrowed by views and windows; NULL for
     * a data set in memory. A streamed set itself holds no values (x,
     * target and mask NULL): readers take a window each. */
    struct data_stream *stream;
    int first;        /* streamed: the file's sample that is this set's sample 0 */
    int window_steps; /* streamed: steps per window; 0 for as many as fit DATA_WINDOW_BYTES */
    bool borrowed;    /* x, target and mask are the caller's (data_wrap): not freed */
};

/* Bytes of one streamed window's arrays when window_steps is 0: small, and
 * independent of T, so that an online reader's memory is too. */
#define DATA_WINDOW_BYTES ((size_t)256 << 10)

enum data_target { DATA_TARGET_OPTIONAL, DATA_TARGET_REQUIRED };

/* Reads and checks a data file. A target and mask are only read when the
 * graph has a loss. NULL with every problem in err. */
struct data *data_load(const struct graph *g, const char *path, enum data_target need,
                       struct trl_errors *err);
/* Opens a data file to stream it: the same checks and errors as data_load
 * (every value is read once, a piece at a time, to check it is finite), but
 * only the header is kept, with the file open. Readers that go forward in
 * time (the online gradient engines) read it through windows; free with
 * data_free. NULL with every problem in err. */
struct data *data_open(const struct graph *g, const char *path, enum data_target need,
                       struct trl_errors *err);
/* A window over the samples of a streamed data set or view d: arrays for
 * span steps of d->B samples (span = d->window_steps, or as many as fit in
 * DATA_WINDOW_BYTES, at least 1; never a function of T), no step read yet.
 * Free with data_window_free. 0, or -1 with err set (out of memory). */
int data_window_new(const struct data *d, struct data *w, struct trl_errors *err);
/* Makes step t readable in w: when t is outside [t0, t0 + span), reads
 * steps [t, t + span) (those before T) from the file. Windows of one file
 * may be read from several threads at once. 0, or -1 with err set (a read
 * error, or a value that is not finite: the file changed after data_open). */
int data_window_at(struct data *w, int t, struct trl_errors *err);
void data_window_free(struct data *w);
/* An empty data set of B x T for a graph, for generators: input tensors and,
 * if the graph has a loss, target and mask (all ones), zeroed. */
struct data *data_new(const struct graph *g, int B, int T);
/* Checks, before anything is allocated, that data_new(g, B, T) fits in
 * memory (trl_alloc_limit per array); 0, or -1 with the sizes in err. */
int data_check_size(const struct graph *g, int B, int T, struct trl_errors *err);
/* A data set of B x T over the caller's arrays, without copying them: x per
 * node index (an array [B, T, size] for every input node), target
 * [B, T, K] and mask [B, T] or NULL. The arrays stay the caller's (data_free
 * leaves them) and must outlive the set. Checks that every value is finite.
 * NULL with the problem in err (paths are the tensors' names). */
struct data *data_wrap(const struct graph *g, int B, int T, trl_real *const *x, trl_real *target,
                       trl_real *mask, struct trl_errors *err);
/* Values per step of d's target (see target_size). */
int data_target_size(const struct graph *g, const struct data *d);
/* Frees a data set from data_load, data_open, data_new, data_wrap or data_subset. */
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
