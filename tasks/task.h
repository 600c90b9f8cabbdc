/* task.h - the built-in tasks of the e-prop literature: a table of functions.
 *
 * Every task is one file in tasks/ that exports one `const struct task_kind`,
 * listed once in tasks/registry.c (as node kinds in ops/). A task generates
 * its data from a seed with the portable generator of core/rng.h, so the
 * same seed gives the same bytes on every machine, and comes with a ready
 * graph in models/<name>.json.
 *
 * A task is fixed: T steps of dt = 1 ms, n_in input channels feeding the
 * graph's one input node, a loss of one type over K outputs. Data follow
 * SPEC section 4: x [B, T, n_in], target [B, T, K], mask [B, T].
 *
 * Streams. Sample b of training batch i is drawn from its own stream,
 * rng_seed_named(seed, "<task>/train/<i>/<b>"); sample b of the validation
 * set from rng_seed_named(seed, "<task>/val/<b>"). So a training batch is a
 * function of (seed, i) alone, the validation set of the seed alone (the
 * first B samples of every larger validation set are the same), and the two
 * never share a stream. A frozen task (sine) ignores the stream: every sample
 * of every batch is the one pattern drawn from the seed.
 *
 * Spikes: a channel firing at rate f Hz spikes in a step with probability
 * p = f dt / 1000 (Bernoulli per step, a discretised Poisson process).
 */
#ifndef TRELLIS_TASK_H
#define TRELLIS_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "graph/graph.h"
#include "io/data.h"
#include "core/error.h"
#include "core/real.h"
#include "core/rng.h"

#define TASK_DT 1.0 /* ms: every task is defined on 1 ms steps */

enum task_split { TASK_TRAIN, TASK_VAL };

struct task_kind {
    const char *name;
    const char *doc;    /* one line for help */
    const char *model;  /* the ready graph, relative to the trellis folder */
    const char *params; /* its parameters and defaults, lines of "  key: value\n" */
    int T;              /* steps */
    int n_in;           /* input channels */
    enum loss_type loss;
    int K;      /* size of the loss node: 1 (mse) or the number of classes */
    int batch;  /* default batch size of `trellis data` */
    bool fixed; /* frozen: every sample and batch is the same pattern (drawn once per batch) */

    /* One sample, every value written: x [T, n_in], target [T, K], mask [T].
     * r is the sample's own stream; seed is for frozen patterns. */
    void (*sample)(uint64_t seed, struct rng *r, trl_real *x, trl_real *target, trl_real *mask);
};

/* The registry: every task, looked up by name. */
extern const struct task_kind *const task_kinds[];
extern const int task_n_kinds;
/* The task of that name, or NULL. */
const struct task_kind *task_find(const char *name);
/* "sine, evidence, ..." into buf (for errors and help). */
void task_list_names(char *buf, size_t cap);

/* Checks that g fits the task: dt = 1, exactly one input node, of size n_in,
 * and, if it has a loss, one of the task's type on a node of size K (a graph
 * without a loss gets data to run on; training refuses it). Returns the input
 * node's index, or -1 with every problem in err (paths into the graph file;
 * err->file is set to the graph's file). */
int task_check_graph(const struct task_kind *k, const struct graph *g, struct trl_errors *err);

/* Fills d (from data_new for a graph that passed task_check_graph, with
 * d->T == k->T) with B = d->B samples: training batch `iteration`, or the
 * validation set (iteration ignored). */
void task_fill(const struct task_kind *k, int input_node, uint64_t seed, enum task_split split,
               uint64_t iteration, struct data *d);

/* Checks the graph, allocates a data set of B samples for it and fills it;
 * for a graph without a loss the data hold the task's target and mask
 * anyway (data.target_size = K), so that the file is the same task's.
 * NULL with the reason in err. Free with data_free. */
struct data *task_data_new(const struct task_kind *k, const struct graph *g, uint64_t seed,
                           enum task_split split, uint64_t iteration, int B,
                           struct trl_errors *err);

/* ---- helpers for the task files ---- */

/* Probability of a spike in one step of TASK_DT ms at rate_hz. */
double task_rate_p(double rate_hz);
/* Sets x[t * stride + c] to 1 with probability p, independently, for
 * t in [t0, t1) and c in [c0, c1); other entries are left alone. */
void task_spikes(struct rng *r, trl_real *x, int stride, int t0, int t1, int c0, int c1, double p);
/* Sets target[t * K + j] to the one-hot vector of class cls for t in [0, T). */
void task_one_hot(trl_real *target, int T, int K, int cls);
/* sin(x) from +, -, *, / only (no libm difference between machines can
 * change a bit); |error| < 1e-12 for |x| < 1e4. */
double task_sin(double x);

#endif
