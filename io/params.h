/* params.h - a graph's parameters as one flat block (SPEC sections 1 and 3).
 *
 * The block holds every tensor of graph->params (frozen ones included) at its
 * offset; gradients use a block of the same layout. Files map one key per
 * tensor, named as in SPEC section 3.
 */
#ifndef TRELLIS_PARAMS_H
#define TRELLIS_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include "graph/graph.h"
#include "core/error.h"
#include "core/real.h"

/* A zeroed block of g->n_param_values values (free with trl_free), or NULL. */
trl_real *params_new(const struct graph *g);

/* SPEC section 1: weights ~ Normal(0, gain^2 / from.size), no_self diagonals
 * 0, biases 0. Each tensor draws from its own stream, rng_seed_named(seed,
 * tensor name), row-major, so its values depend on the seed and its name. */
void params_init(const struct graph *g, uint64_t seed, trl_real *values);

/* Reads a parameter file into values, checking it against the graph: every
 * tensor present with its shape, no other key, finite values, no_self
 * diagonals 0. F32 and F64 accepted. 0, or -1 with every problem in err. */
int params_load(const struct graph *g, const char *path, trl_real *values, struct trl_errors *err);
/* The same, and the file's feedback matrices (io/feedback.h, SPEC 6.3) into
 * fb; with fb NULL they are checked, not kept (params_load). */
int params_load_all(const struct graph *g, const char *path, trl_real *values, trl_real **fb,
                    struct trl_errors *err);

enum params_select { PARAMS_ALL, PARAMS_TRAINABLE };
/* Writes the tensors (all, or the trainable ones) and, if loss is not NULL, a
 * scalar "loss", atomically. 0, or -1 with err set. */
int params_save(const struct graph *g, const trl_real *values, enum params_select which,
                const double *loss, const char *path, struct trl_errors *err);
/* Every tensor and the feedback matrices of fb (may be NULL), atomically. */
int params_save_all(const struct graph *g, const trl_real *values, trl_real *const *fb,
                    const char *path, struct trl_errors *err);

#endif
