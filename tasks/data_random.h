/* data_random.h - random data for any graph (`trellis data random`): inputs
 * and targets of the right shapes, for benchmarks and tests that need data of
 * a given size rather than a task to learn.
 *
 * Definition (steps t = 0 .. T-1, dt the graph's):
 *   inputs   a node listed as spiking: x(t) ~ Bernoulli(p), p = rate dt / 1000
 *            (a discretised Poisson process at rate Hz, as in tasks/task.h);
 *            any other input node: x(t) ~ Normal(0, 1), independently.
 *   mse      target_k(t) = sum_{i=1..3} A_i sin(2 pi t / P_i + phi_i) per
 *            sample and output k, with A_i ~ U[0.2, 0.5), period
 *            P_i ~ U[10, 100) steps, phi_i ~ U[0, 2 pi): a smooth signal of
 *            amplitude below 1.5; mask 1 at every step.
 *   cross_entropy
 *            one class per sample, uniform over the K outputs, one-hot at every
 *            step; mask 1 on the last data_random_mask_steps(T) steps (50, or
 *            the last 10%, rounded up, when T < 500), 0 before.
 *   no loss  inputs only.
 *
 * Streams (core/rng.h, the same bytes on every machine): sample b of input
 * node "id" draws from rng_seed_named(seed, "random/x/<id>/<b>") step by step,
 * unit by unit; its target from rng_seed_named(seed, "random/target/<b>")
 * (output by output: A, P, phi for each sine; or the class). So the first B
 * samples of a larger batch are the same, and the first T steps of the inputs
 * of a longer sequence are the same.
 */
#ifndef TRELLIS_DATA_RANDOM_H
#define TRELLIS_DATA_RANDOM_H

#include <stdbool.h>
#include <stdint.h>

#include "graph/graph.h"
#include "io/data.h"
#include "core/error.h"

#define DATA_RANDOM_RATE_HZ    20.0 /* default rate of spiking inputs */
#define DATA_RANDOM_MASK_STEPS 50   /* cross_entropy: steps in the loss when T >= 500 */

struct data_random_opts {
    int B, T;
    uint64_t seed;
    double rate_hz;      /* spiking inputs: spikes per second, 0 <= rate dt / 1000 <= 1 */
    const bool *spiking; /* per node index: Bernoulli spikes, else Normal(0, 1); NULL: none */
};

/* Steps at the end of a sequence of T where the cross_entropy mask is 1:
 * 50 when T >= 500, else ceil(T / 10) (at least 1). */
int data_random_mask_steps(int T);

/* Marks in spiking (one bool per node, all cleared first) the nodes of a
 * comma-separated list of ids ("in,spikes"); every id must be an input node.
 * 0, or -1 with the problem in err. */
int data_random_spiking(const struct graph *g, const char *ids, bool *spiking,
                        struct trl_errors *err);

/* A data set of B x T for g, filled as above. NULL with the reason in err
 * (bad sizes or rate, out of memory). Free with data_free. */
struct data *data_random_new(const struct graph *g, const struct data_random_opts *o,
                             struct trl_errors *err);

#endif
