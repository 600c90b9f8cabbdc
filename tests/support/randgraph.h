/* randgraph.h - random valid graphs and data for the gradient tests.
 *
 * Every node kind of the registry (ops/registry.c) is drawn, with every key of
 * its parameter table (values around the documented defaults), every
 * activation and flag: delay-0 skip edges between
 * any earlier and later node, delayed edges of 1-3 steps from anywhere
 * (cycles through delays and self edges, some no_self), frozen edges, gains,
 * detach_reset both ways, dt 0.5/1/2, mse and cross_entropy, masks with
 * zeros. Edges into spiking nodes get large gains so that neurons fire and
 * pseudo-derivatives are nonzero.
 */
#ifndef TRELLIS_TESTS_RANDGRAPH_H
#define TRELLIS_TESTS_RANDGRAPH_H

#include <stdbool.h>
#include <stdint.h>

#include "io/data.h"

struct randgraph_opts {
    bool smooth;    /* only kinds that do not spike, smooth activations (finite differences) */
    bool no_delays; /* no delayed edge: eprop equals bptt */
    int max_hidden; /* hidden nodes, at least 1 */
};

/* JSON text of a random valid graph; free with free(). */
char *randgraph_json(uint64_t seed, const struct randgraph_opts *o);
/* Random inputs, targets and mask for g; free with data_free. */
struct data *randgraph_data(const struct graph *g, uint64_t seed, int B, int T);

#endif
