/* compare.h - how far the gradient of an algorithm is from the exact one
 * (`trellis compare`, `trellis sweep`): the questions of Millidge (2025)
 * about deep e-prop, how well it assigns credit across depth and time.
 *
 * Every algorithm runs grad_compute on the same graph, parameters and data;
 * the reference is bptt (the exact gradient). For a gradient g and the exact
 * gradient e over the same n entries (a tensor, or several tensors laid end
 * to end), with ||.|| the Euclidean norm:
 *
 *   cosine      <g, e> / (||g|| ||e||), clamped to [-1, 1]
 *   rel_err     ||g - e|| / ||e||
 *   norm_ratio  ||g|| / ||e||
 *   sign_agree  (1/n) #{i : sign(g_i) == sign(e_i)}, with sign(0) = 0: an
 *               entry agrees when both are positive, both negative or both
 *               exactly zero; a zero against a nonzero disagrees
 *
 * Undefined values are NaN: 0/0 (cosine when either norm is 0, rel_err and
 * norm_ratio when both norms are 0, sign_agree when n = 0); x/0 with x > 0
 * is +Inf (rel_err and norm_ratio of a nonzero g against e = 0). The sums
 * are taken in double whatever the precision of trl_real.
 *
 * Structure of the graph, per node (and so per tensor, through its owner,
 * the node whose input the tensor weighs):
 *
 *   depth          the least number of delay-0 edges on any path from the
 *                  node to the loss node, delayed edges counting 0 (a 0-1
 *                  breadth-first search backwards from the loss node); the
 *                  loss node has depth 0; -1 when no path reaches the loss
 *   delayed_only   no path made only of delay-0 edges reaches the loss node
 *                  (the loss node reaches itself by the empty path). Deep
 *                  e-prop treats the source of every delayed edge as a
 *                  constant, so its gradient for such a node's tensors is
 *                  exactly 0.
 *
 * Groups: every trainable tensor; every node with a trainable tensor (its
 * tensors concatenated); every depth (the tensors of that depth
 * concatenated; a depth group is delayed_only when all its tensors are);
 * the whole network. Cost: the wall time of each algorithm's grad_compute
 * call, and the peak bytes of TRL_MEM_TRACE and TRL_MEM_HISTORY allocated
 * during it (peak minus what was live before the call).
 */
#ifndef TRELLIS_COMPARE_H
#define TRELLIS_COMPARE_H

#include <stdbool.h>
#include <stddef.h>

#include "graph/graph.h"
#include "io/data.h"
#include "core/error.h"
#include "engines/grad.h"
#include "core/real.h"

#define COMPARE_MAX_ALGOS 4

/* ---- metrics on plain vectors ---- */

/* Running sums over entries (pairs g_i, e_i); concatenation is addition. */
struct cmp_sums {
    double gg, ee, ge, dd; /* sum g^2, e^2, g e, (g - e)^2 */
    size_t n, agree;       /* entries, entries whose signs agree */
};

struct cmp_metrics {
    double cosine, rel_err, norm_ratio, sign_agree; /* as above; NaN when undefined */
    double norm, norm_exact;                        /* ||g||, ||e|| */
    size_t n;
};

/* sign(x) in {-1, 0, 1}. */
int cmp_sign(double x);
/* num / den with 0/0 = NaN and x/0 = +Inf for x > 0 (num, den >= 0). */
double cmp_ratio(double num, double den);
/* Adds n entries of g against the exact e. */
void cmp_sums_add(struct cmp_sums *s, const trl_real *g, const trl_real *e, size_t n);
void cmp_sums_merge(struct cmp_sums *into, const struct cmp_sums *from);
struct cmp_metrics cmp_metrics_of(const struct cmp_sums *s);
/* The metrics of g against the exact e over n entries. */
struct cmp_metrics cmp_metrics_vec(const trl_real *g, const trl_real *e, size_t n);

/* ---- structure ---- */

/* Per node: depth (-1 when no path reaches the loss) and delayed_only, as
 * defined above. 0, or -1 if the graph has no loss or memory ran out. */
int compare_depths(const struct graph *g, int *depth, bool *delayed_only);

/* ---- a comparison ---- */

struct compare_algo {
    enum grad_algo algo;
    enum grad_engine engine;   /* GRAD_ENGINE_DEFAULT: the algorithm's own */
    int order;                 /* eprop: m-order e-prop (SPEC 6.2); 0 or 1: deep e-prop */
    trl_real *const *feedback; /* per edge, borrowed (SPEC 6.3); NULL: symmetric */
};

/* One grad_compute call. */
struct compare_cost {
    struct compare_algo algo;
    double seconds;       /* wall time */
    size_t trace_bytes;   /* peak TRL_MEM_TRACE bytes allocated during the call */
    size_t history_bytes; /* same for TRL_MEM_HISTORY */
    double loss;
};

/* A tensor, a node, a depth or the whole network. */
struct compare_item {
    const char *name;  /* tensor name or node id (borrowed from the graph); NULL otherwise */
    int node;          /* the owner node (tensor, node items); -1 otherwise */
    int depth;         /* -1: no path to the loss (the network item: the deepest depth) */
    bool delayed_only; /* groups: every tensor of the group */
    int n_tensors;
    size_t count; /* values */
    struct cmp_metrics m[COMPARE_MAX_ALGOS];
};

struct compare_report {
    int n_algos;
    struct compare_cost exact;                   /* the bptt call */
    struct compare_cost cost[COMPARE_MAX_ALGOS]; /* per compared algorithm */
    double *mean_z; /* per node: mean z over samples, steps and units (bptt's forward pass) */
    int n_tensors, n_nodes, n_depths;
    struct compare_item *tensors; /* trainable tensors, in graph->params order */
    struct compare_item *nodes;   /* nodes owning a trainable tensor, file order */
    struct compare_item *depths;  /* ascending; the unreachable group (-1) last */
    struct compare_item total;
};

/* Runs bptt and every algorithm of algos (at most COMPARE_MAX_ALGOS) on the
 * same graph, parameters and data, and measures. The graph needs a loss and
 * the data a target. NULL with err set (no loss, out of memory, a gradient
 * that failed). Free with compare_free. */
struct compare_report *compare_new(const struct graph *g, const trl_real *params,
                                   const struct data *d, const struct compare_algo *algos,
                                   int n_algos, struct trl_errors *err);
void compare_free(struct compare_report *r);

#endif
