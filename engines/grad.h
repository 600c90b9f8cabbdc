/* grad.h - gradients of the loss with respect to the trainable parameters
 * (`trellis grad`, SPEC section 6).
 *
 *   bptt             exact; reverse accumulation over the stored history
 *   rtrl             exact; forward sensitivities carried each step (online)
 *   eprop online     deep e-prop (the exact gradient of the model in which the
 *                    source of every edge with delay >= 1 is a constant), by
 *                    forward eligibility traces (online)
 *   eprop reverse    the same gradient by reverse accumulation
 *
 * The two engines, grad_reverse.c and grad_forward.c, walk the schedule and
 * call the node kinds' Jacobians (ops/op.h); bptt and rtrl propagate through
 * every edge, eprop only through delay-0 edges.
 */
#ifndef TRELLIS_GRAD_H
#define TRELLIS_GRAD_H

#include <stdbool.h>

#include "graph/graph.h"
#include "io/data.h"
#include "core/error.h"
#include "core/real.h"

enum grad_algo { GRAD_BPTT, GRAD_RTRL, GRAD_EPROP };
enum grad_engine { GRAD_ENGINE_DEFAULT, GRAD_ENGINE_ONLINE, GRAD_ENGINE_REVERSE };

extern const char *const grad_algo_names[3];

/* What training, m-order e-prop and feedback add to a gradient computation
 * (all optional). */
struct grad_hooks {
    /* eprop: m-order e-prop (SPEC 6.2), the paths that cross at most
     * order - 1 delayed edges; 0 or 1 is deep e-prop. */
    int order;
    /* Per edge: the matrix that carries credit back through it in place of
     * its weights (SPEC 6.3), or NULL there; NULL: the weights everywhere. */
    trl_real *const *feedback;
    /* Per node: a constant dL/dz [size] added at every step and sample, or
     * NULL (the firing-rate regulariser, Bellec et al. 2020). */
    trl_real *const *dz_const;
    /* Per node: sum of z over samples, steps and units is added here. */
    double *z_sum;
    /* The loss node's z(t), stored as [B, T, size] (for accuracy), or NULL. */
    trl_real *loss_z;
    /* Forward engines (rtrl, eprop online) only: called after every step t
     * with that step's gradient term (which it may scale in place); it may
     * change the parameters, which the next step then uses (the online
     * update). The gradient returned is the sum of the step terms. */
    void (*on_step)(void *ctx, int t, trl_real *step_grad);
    void *ctx;
    /* Forward engines: [0] += the per-unit rows of event-driven traces
     * (trace_plan.h) that moved, [1] += all of them, over steps and samples:
     * the share of the per-synapse work that the units' activity asked for. */
    double *trace_rows;
    /* SPEC 6.4, a loss from outside. Per node: dL/dz as [B, T, size] given
     * by the caller, or NULL (cotangent 0). When the array is set it
     * replaces the graph's loss (no target is read): the engines
     * differentiate sum cot . z, and *loss is that sum. */
    const trl_real *const *cotangent;
    /* Per input node: dL/dx is written here as [B, T, size], or NULL (the
     * array NULL: none). dL/dx(t) depends on every later step's loss: no
     * forward recursion yields it short of a trace per input value, so the
     * online engines take it from the reverse pass of the same model
     * (bptt for rtrl, the reverse engine for eprop; grad.c). */
    trl_real *const *input_grad;
    /* The row of sample 0 in cotangent and input_grad (a chunk's first). */
    int batch0;
};

/* dL/dtheta into grad (a block laid out as the parameters; entries of frozen
 * tensors are 0) and the loss into *loss. The graph must have a loss and the
 * data a target, unless the hooks give a cotangent. The online engines (grad_is_online) also take a
 * streamed data set (data_open), read a window at a time in every chunk. 0, or -1 with err set (out
 * of memory, too many traces, a read error). */
int grad_compute(const struct graph *g, const trl_real *params, const struct data *d,
                 enum grad_algo algo, enum grad_engine engine, trl_real *grad, double *loss,
                 struct trl_errors *err);
/* The same with training's hooks (hooks may be NULL). */
int grad_compute_hooks(const struct graph *g, const trl_real *params, const struct data *d,
                       enum grad_algo algo, enum grad_engine engine, const struct grad_hooks *hooks,
                       trl_real *grad, double *loss, struct trl_errors *err);
/* Samples per engine run when a batch is split (kernels/parallel.h): one
 * chunk per thread, or, for the online engines, as many samples as keep
 * their traces within half of one core's L2 cache (at least 1), so that
 * the per-synapse traces stay in cache for the whole sequence. */
int grad_chunk_size(const struct graph *g, enum grad_algo algo, enum grad_engine engine, int B);
/* Samples whose traces or history are in memory at once when a batch of B
 * is computed: a chunk per running thread. */
int grad_samples_held(const struct graph *g, enum grad_algo algo, enum grad_engine engine, int B);
/* Does this algorithm and engine compute online (forward in time)? */
bool grad_is_online(enum grad_algo algo, enum grad_engine engine);

/* The engines. prune_delayed: treat the source of every delayed edge as a
 * constant (eprop). *loss is the task loss only (not the hooks' terms). */
int grad_reverse(const struct graph *g, const trl_real *params, const struct data *d,
                 bool prune_delayed, const struct grad_hooks *hooks, trl_real *grad, double *loss,
                 struct trl_errors *err);
int grad_forward(const struct graph *g, const trl_real *params, const struct data *d,
                 bool prune_delayed, const struct grad_hooks *hooks, trl_real *grad, double *loss,
                 struct trl_errors *err);

/* Step t's term of the task loss at node i: dL/dz(t) [B, size] into dy and
 * the term added to *loss; the graph's loss at its loss node, or the
 * hooks' cotangent. false (dy untouched) if node i receives none. */
bool grad_task_loss(const struct graph *g, const struct data *d, const struct grad_hooks *hooks,
                    int i, int t, const trl_real *z, trl_real *dy, double *loss);
/* Per node: does it receive a loss term (the task loss, or a hook's
 * constant dL/dz)? NULL if out of memory; free with trl_free. */
bool *grad_loss_nodes(const struct graph *g, const struct grad_hooks *hooks);

/* After step t of an engine: the z_sum and loss_z hooks. */
struct net;
void grad_observe_step(const struct net *net, const struct data *d, int t,
                       const struct grad_hooks *hooks);

#endif
