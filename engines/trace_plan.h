/* trace_plan.h - which sensitivity traces a forward algorithm carries, and
 * their shapes (SPEC section 6).
 *
 * A forward algorithm carries, for every trainable parameter group theta
 * (one tensor: an edge's W or a bias) and every node m that theta reaches
 * through the edges the algorithm propagates, the sensitivity of m's state to
 * theta: eps_m,theta(t) = dh_m(t)/dtheta. rtrl propagates every edge (a
 * delayed edge reads its source's trace from d steps back, so traces keep a
 * ring of 1 + the longest delay out of their node); eprop propagates only the
 * delay-0 edges (the source of a delayed edge is a constant), so its traces
 * keep one step. Nodes that cannot reach the loss node through propagated
 * edges carry nothing. Three shapes, per sample:
 *
 *  OWNER     m owns theta and theta cannot come back to m: a synapse onto
 *            unit j moves only unit j, so the trace is e[j][k] per synapse
 *            (k over the presynaptic units, 1 for a bias). A state row whose
 *            Jacobian is a constant (leaky, readout, lif with detach_reset,
 *            alif's v with detach_reset) does not depend on j: it is kept as
 *            one presynaptic trace e[k] (Bellec et al. 2020's filtered input).
 *            Values: sum over rows of (K or N_o * K).
 *  FACTORED  m's state Jacobian is a constant scalar and theta reaches m only
 *            through one delay-0 edge W from the owner o: eps_m = W F with
 *            F[j][k] = lambda F[j][k] + dh/dI dz_o/dh_o[j] e[j][k], the size
 *            of theta (Bellec's readout filter, generalised). Values: |theta|.
 *  DENSE     otherwise: S_m * N_m * |theta| values.
 *
 * Event-driven rows: a slot that keeps one step (depth 1) and has per-unit
 * rows (OWNER rows kept per synapse, FACTORED's F[j]) keeps a scale per
 * unit and row, the trace being the stored row times its scale. A row
 * whose step is a pure decay (a spiking unit away from threshold: psi = 0)
 * is then not touched, only its scale. Values: S_m * N_m (OWNER) or N_o
 * (FACTORED), twice N_o at a loss node, whose gradient terms of resting
 * rows gather in one coefficient per row (grad_forward.c).
 *
 * m-order e-prop (SPEC 6.2, orders M > 1): a slot also has a number of
 * crossings k = 0..M-1, the delayed edges its paths crossed. The crossings-0
 * slots are the ones above; a crossings-k slot (k >= 1) is DENSE, exists
 * where a path from the owner crossing exactly k delayed edges arrives and
 * the loss is within M-1-k further crossings, and adds for every delayed
 * edge c -> m the term of c's crossings-(k-1) slot d steps back. Slots that
 * such a term reads keep 1 + the longest delay out of their node.
 *
 * validate reports these counts, and the engines allocate exactly them.
 */
#ifndef TRELLIS_TRACE_PLAN_H
#define TRELLIS_TRACE_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "graph/graph.h"

/* Most (node, parameter) pairs a plan may hold: a bound on the planning
 * work for any graph, however hostile. */
#define TRACE_PLAN_MAX_SLOTS 1000000

enum trace_kind { TRACE_NONE, TRACE_OWNER, TRACE_FACTORED, TRACE_DENSE };

enum trace_algo {
    TRACE_RTRL,  /* every edge propagates */
    TRACE_EPROP, /* delay-0 edges only */
};

struct trace_slot {
    int node;      /* m */
    int order;     /* m's position in the schedule (slots are sorted by it) */
    int crossings; /* m-order e-prop: delayed edges its paths crossed (0 otherwise) */
    int param;     /* theta: index into graph->params */
    enum trace_kind kind;
    unsigned synapse_rows; /* OWNER: state rows kept per synapse (bit r); others presynaptic */
    int edge;              /* FACTORED: the edge owner -> m */
    int depth;             /* steps kept: 1 + the longest propagated delay out of m */
    size_t values;         /* per sample and per step kept */
    size_t row_scales;     /* per sample: the event-driven rows' scales (see below), 0 if none */
};

struct trace_plan {
    enum trace_algo algo;
    int orders;          /* M of m-order e-prop: crossings 0..M-1 (1 for rtrl, deep e-prop) */
    int *loss_crossings; /* per node: fewest delayed edges on a path to a loss node */
    int n_slots;
    struct trace_slot *slots; /* grouped by node in schedule order, then by param */
    int *first_slot;          /* per node: its first slot, slots of a node are contiguous */
    int *n_node_slots;        /* per node */
    int *depth;               /* per node: steps of dz/dh kept (1 + longest propagated out-delay) */
    bool *reaches_loss;       /* per node */
    bool *is_loss;            /* per node: receives a loss term */
};

/* The plan for the graph's loss node. NULL if out of memory or too many
 * traces. */
struct trace_plan *trace_plan_new(const struct graph *g, enum trace_algo algo);
/* The same where every node with loss_nodes[i] set receives a loss term
 * (the firing-rate regulariser adds its spiking nodes). */
struct trace_plan *trace_plan_new_for(const struct graph *g, enum trace_algo algo,
                                      const bool *loss_nodes);
/* m-order e-prop (TRACE_EPROP, orders >= 1; SPEC 6.2). */
struct trace_plan *trace_plan_new_orders(const struct graph *g, enum trace_algo algo,
                                         const bool *loss_nodes, int orders);
void trace_plan_free(struct trace_plan *p);
/* The crossings-0 slot of (node, param), or NULL. */
const struct trace_slot *trace_plan_slot(const struct trace_plan *p, const struct graph *g,
                                         int node, int param);
/* The slot of (node, param, crossings), or NULL. */
const struct trace_slot *trace_plan_slot_at(const struct trace_plan *p, int node, int param,
                                            int crossings);
/* The parent slot whose term edge e (into s's node) adds to slot s, or NULL:
 * the source's slot of the same crossings through a propagated edge, of one
 * fewer through a delayed edge of m-order e-prop. */
const struct trace_slot *trace_plan_parent(const struct trace_plan *p, const struct graph *g,
                                           const struct trace_slot *s, const struct graph_edge *e);
/* Trace values per sample of the slots of k crossings (without dz/dh). */
size_t trace_plan_crossing_values(const struct trace_plan *p, int k);
/* Does this edge propagate sensitivities under the plan's algorithm? */
bool trace_plan_propagates(const struct trace_plan *p, const struct graph_edge *e);

/* Trace values per sample: sum over slots of values * depth, plus each
 * carrying node's dz/dh (S * size * depth), which the propagation reads. */
size_t trace_plan_values(const struct trace_plan *p, const struct graph *g);
/* Values per sample held for one node's slots (for validate's per-node table). */
size_t trace_plan_node_values(const struct trace_plan *p, const struct graph *g, int node);
/* Multiply-adds per step and sample that the engine performs for a node's
 * traces (state Jacobian, propagation from parents, gradient accumulation
 * when the node is the loss node). */
double trace_plan_node_macs(const struct trace_plan *p, const struct graph *g, int node);

#endif
