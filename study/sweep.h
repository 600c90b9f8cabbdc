/* sweep.h - the stacks of the depth-scaling experiment (`trellis sweep`,
 * trl_sweep_build). How well does deep e-prop (or rtrl) assign
 * credit to a layer as the stack under the readout grows (Millidge 2025's
 * open question)?
 *
 * For every stack depth d = 1..D and seed s = 1..S, a graph is built in
 * memory (JSON text, graph_load_string; named "sweep-KIND-depthD" in
 * errors):
 *
 *   in (16 channels) -> h1 -> h2 -> ... -> hd -> out (readout, 2 units, mse)
 *
 * every hL of the chosen kind and width W with a delay-1 self edge (no_self
 * for lif and alif); with skip also a delay-0 edge from every hL to out.
 * Parameters: params_init(seed) with these edge gains (SPEC section 1:
 * weights ~ Normal(0, gain^2 / from.size)), chosen so that activity neither
 * dies out nor saturates with depth:
 *
 *   kind   node params                        in->h1  hL->hL+1  self  ->out
 *   leaky  tau_m 10, tanh                       3       3        0.9    1
 *   lif    tau_m 20, v_th 0.6                  0.9      1        0.4    1
 *   alif   tau_m 20, v_th 0.6, tau_a 200,       1      1.1       0.4    1
 *          beta 0.05
 *
 * Measured over 8 layers, 3 seeds, T 50: lif and alif fire at 10-55 Hz in
 * every layer and seed for widths 16 to 64 (layer means 20-45 Hz; gain 1
 * everywhere makes rates fall to a few Hz by layer 6, gain 1.5 climbs past
 * 300 Hz); leaky keeps the gradient norm of every layer within a factor 1.3
 * of the others (gain 1 makes the deepest layer's 10 times smaller). The
 * progress lines and the mean_z column report the rates. alif's beta is
 * small because a(t) sums spikes without a (1 - rho) factor: beta * rate *
 * tau_a is the threshold rise, 0.05 * 0.03 * 200 = 0.3 at 30 Hz.
 *
 * Data (data_new; B samples of T steps of dt 1 ms, from the stream
 * rng_seed_named(seed, "sweep/data"), so every depth sees the same data):
 * inputs are Poisson spikes at 50 Hz (Bernoulli p = 0.05 per step) for lif
 * and alif, standard normal values for leaky; the target of each sample and
 * output is a smooth random curve, sum over j = 1..3 of
 * (a_j / 3) sin(2 pi f_j t / T + phi_j), a_j ~ U(0.5, 1), f_j ~ U(0.5, 3),
 * phi_j ~ U(0, 2 pi).
 *
 * trellis sweep runs compare (study/compare.h) on every stack and seed. */
#ifndef TRELLIS_SWEEP_H
#define TRELLIS_SWEEP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "graph/graph.h"
#include "io/data.h"

#define SWEEP_MAX_D  64
#define SWEEP_MAX_W  4096
#define SWEEP_MAX_BT 10000000

struct sweep_kind;

/* The kind of that name (leaky, lif, alif), or NULL. */
const struct sweep_kind *sweep_kind_find(const char *name);

struct sweep_stack {
    const struct sweep_kind *kind;
    int depth, width;
    bool skip;
};

/* The stack as a loaded graph, or NULL with err set. */
struct graph *sweep_graph(const struct sweep_stack *s, struct trl_errors *err);
/* Its data: batch samples of T steps for g (sweep_graph's), a function of
 * seed. NULL if out of memory. */
struct data *sweep_data(const struct sweep_stack *s, const struct graph *g, int T, int batch,
                        uint64_t seed);

#endif
