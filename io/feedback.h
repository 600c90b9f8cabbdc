/* feedback.h - feedback matrices (SPEC v2 section 6.3).
 *
 * An edge into n from s may have a feedback matrix of its weight's shape,
 * named "n.fb.s" (delay 0) or "n.fb.s.dD", that carries credit back through
 * the edge in place of its weights (random feedback; adaptive feedback
 * moves it with the weights). They live in parameter files next to the
 * weights, are never trainable, and never appear in a gradient file. A set
 * is an array of one pointer per edge, NULL where the edge has none.
 */
#ifndef TRELLIS_FEEDBACK_H
#define TRELLIS_FEEDBACK_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"
#include "graph/graph.h"
#include "io/safetensors.h"

/* A set with no matrix (free with feedback_free), or NULL if out of memory. */
trl_real **feedback_new(const struct graph *g);
void feedback_free(const struct graph *g, trl_real **fb);
/* Matrices held. */
int feedback_count(const struct graph *g, trl_real *const *fb);
/* The name of edge e's matrix (any length: free with trl_free), or NULL if
 * out of memory. */
char *feedback_name(const struct graph *g, int edge);
/* The edge whose matrix has that name, or -1. */
int feedback_edge(const struct graph *g, const char *name);
/* Edge e's matrix, allocated (zeros) if it has none: NULL if out of memory. */
trl_real *feedback_matrix(const struct graph *g, trl_real **fb, int edge);
/* One matrix for every edge whose source is not an input node, drawn like
 * the weights (Normal(0, gain^2 / from.size), no_self diagonals 0), each
 * from its own stream rng_seed_named(seed, its name). 0, or -1 if out of
 * memory. */
int feedback_init(const struct graph *g, uint64_t seed, trl_real **fb);
/* Checks every feedback tensor of an open parameter file (shape, finite
 * values, no_self diagonals 0) and, when fb is not NULL, reads it into fb
 * (replacing what fb held for that edge). Problems go to err; returns how
 * many matrices the file holds, or -1 if out of memory. */
int feedback_read(const struct graph *g, const struct st_file *f, trl_real **fb,
                  struct trl_errors *err);
/* A copy of src (every matrix), or NULL if out of memory. */
trl_real **feedback_copy(const struct graph *g, trl_real *const *src);
/* Adaptive feedback (Bellec et al. 2020): fb <- fb + (W_after - W_before) -
 * decay * fb for every matrix, W the edge's weights in the two blocks. */
void feedback_adapt(const struct graph *g, trl_real **fb, const trl_real *before,
                    const trl_real *after, double decay);

#endif
