/* net.h - the state of a network over a batch, and the step loop.
 *
 * Each node keeps its state h and its output z in ring buffers indexed by
 * step: z holds as many steps as the longest delay out of the node needs
 * (at least 2, for its own z(t-1)); h holds 2 (h(t-1), h(t)). Asked to keep
 * K steps, the rings hold at least K, which is how reverse accumulation stores
 * its history. Steps before t = 0 read as zeros (SPEC section 2).
 *
 * One step computes every node in schedule order (a topological order of the
 * delay-0 edges): I = sum_e W_e z_src(t - d_e) + b, then the kind's forward
 * function. An edge's product is one GEMM over the batch, or, when its
 * source's output is mostly zeros (spikes, spike inputs), event-driven: for
 * every nonzero z_k, I += z_k W[:, k], read from a transposed copy of W
 * (rows contiguous) that the net keeps for edges from spiking and input nodes.
 * Dense products of a step go through a copy of W packed for few rows
 * (kernels/packed.h) when that pays for the batch.
 */
#ifndef TRELLIS_NET_H
#define TRELLIS_NET_H

#include <stdbool.h>
#include <stddef.h>

#include "graph/graph.h"
#include "io/data.h"
#include "kernels/packed.h"
#include "core/real.h"

/* The nonzero outputs of a node at one step, row by row: found once, used by
 * every edge that reads them (event-driven products). */
struct net_events {
    int t;      /* the step they describe, or -1 */
    int *pos;   /* unit of each nonzero output, row after row [B * size] */
    int *start; /* where each row's begin in pos [B + 1] */
};

struct net_node {
    trl_real *h; /* ring of h_depth slots of [B, S * size] */
    trl_real *z; /* ring of z_depth slots of [B, size] */
    int h_depth, z_depth;
    size_t h_len, z_len;     /* values per slot */
    struct net_events ev[2]; /* for steps t and t - 1 (slot t % 2), if its output can be sparse */
};

struct net {
    const struct graph *g;
    const trl_real *params; /* borrowed: the graph's flat parameter block */
    int B;
    struct net_node *nodes;
    trl_real *zeros; /* a slot of zeros: every state and output before t = 0 */
    trl_real *I;     /* scratch [B, largest size] */
    trl_real **wt;   /* per edge: W transposed [src.size][dst.size] if its source can be sparse */
    struct packed_weight *packed; /* per edge: W for the step's dense products z W^T */
    int t;                        /* the next step net_step computes */
};

/* keep_steps: 0 for the fewest steps the delays need, or a number of steps
 * to keep (T keeps the whole history). NULL if out of memory. */
struct net *net_new(const struct graph *g, const trl_real *params, int B, int keep_steps);
void net_free(struct net *net);
/* Re-reads the weights after the parameters changed (transposed and packed
 * copies). */
void net_sync_weights(struct net *net);

/* Outputs and states at step t (t < 0 reads zeros); t must be within the
 * steps the rings keep. */
const trl_real *net_z(const struct net *net, int node, int t);
const trl_real *net_h(const struct net *net, int node, int t);

/* I(t) of a node into out [B, size]: its bias plus every edge's W z(t - d). */
void net_input(struct net *net, int node, int t, trl_real *out);
/* Computes step net->t of every node, reading input nodes from d, and
 * advances net->t. */
void net_step(struct net *net, const struct data *d);

/* Runs the whole sequence of d from t = 0, one strongly connected component
 * of the graph at a time, every edge between components as one product over
 * all steps. The net must keep every step (keep_steps >= d->T). Leaves net->t
 * = T and the same z and h as T calls of net_step (up to rounding). 0, or -1
 * if out of memory. */
int net_run_sequence(struct net *net, const struct data *d);
/* Is a quarter or more of the graph's multiply-adds on dense edges between
 * components, where net_run_sequence batches them over all steps? (Spiking
 * and input sources are left out: their products are event-driven.) */
bool net_prefers_sequence(const struct graph *g);

/* Bytes of the network state for a batch of B (rings and scratch), as
 * net_new would allocate with keep_steps = 0. */
size_t net_state_bytes(const struct graph *g, int B);

#endif
