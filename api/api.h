/* api.h - what the handles of the public API (include/trellis.h) hold, and
 * the helpers every api/ file shares. Nothing here is exported: the public
 * functions are the TRL_API ones of trellis.h.
 *
 * A public call maps its arguments onto the layers below (graph/, io/,
 * engines/, train/, study/) and their errors (struct trl_errors, whose kinds
 * are the public status codes) onto a trl_status and the caller's trl_error.
 */
#ifndef TRELLIS_API_H
#define TRELLIS_API_H

#include <stdbool.h>

#include "core/error.h"
#include "core/real.h"
#include "engines/grad.h"
#include "engines/run.h"
#include "graph/graph.h"
#include "io/data.h"
#include "trellis.h"

struct trl_error {
    struct trl_errors e;
    char *text; /* trl_error_message's, made when asked for */
};

struct trl_graph {
    struct graph *g;
};

struct trl_params {
    const struct graph *g;
    trl_real *values; /* g->n_param_values, laid out as graph->params */
    trl_real **fb;    /* per edge: its feedback matrix or NULL (io/feedback.h) */
};

struct trl_data {
    const struct graph *g;
    struct data *d;
};

struct trl_result {
    int n;
    trl_tensor *tensors;
    trl_real *block;  /* the values the tensors point into, owned */
    trl_real **owned; /* further arrays owned (input gradients), n_owned of them */
    int n_owned;
    struct run_result run; /* or run's arrays, owned */
    char *names;           /* names made for the tensors (run's states), owned */
    bool has_loss;
    double loss;
    trl_grad_stats stats;
};

/* The errors a call records into: the caller's object (cleared), or
 * scratch when the caller passed none. file names what they are about. */
struct trl_errors *api_errors(trl_error *err, struct trl_errors *scratch, const char *file);
/* The status of what e holds (TRL_OK when it holds nothing). */
trl_status api_status(const struct trl_errors *e);
/* Records a failure of a kind, and returns its status. */
trl_status api_fail(struct trl_errors *e, enum err_kind kind, const char *path, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));
/* After a call below that failed: its status, recording "out of memory"
 * when it said nothing (allocation failures without an error of their own). */
trl_status api_failed(struct trl_errors *e);
/* TRL_ERR_ARGUMENT unless every pointer named is not NULL. */
#define API_NEED(e, cond, what)                                                                    \
    do {                                                                                           \
        if (!(cond)) return api_fail((e), ERR_ARGUMENT, NULL, "%s must not be NULL", (what));      \
    } while (0)

/* TRL_ERR_ARGUMENT unless the parameters and the data were made for g. */
trl_status api_same_graph(struct trl_errors *e, const struct graph *g, const trl_params *p,
                          const trl_data *d);

/* The internal kinds of the public algorithm options. */
enum grad_algo api_algo(trl_algo a);
enum grad_engine api_engine(trl_engine e);

/* The task of that name, or NULL with an ERR_ARGUMENT in e that lists the
 * tasks and suggests the closest. */
struct task_kind;
const struct task_kind *api_task(const char *name, struct trl_errors *e);

/* trl_grad_check into e. */
trl_status api_grad_check(const trl_grad_opts *o, struct trl_errors *e);
/* The same for training, where adaptive feedback is allowed. */
trl_status api_grad_check_training(const trl_grad_opts *o, struct trl_errors *e);
/* The feedback matrices the options use: p's under random and adaptive
 * (TRL_ERR_INPUT, saying how to make them, when p holds none), NULL under
 * symmetric. */
trl_status api_feedback(const trl_grad_opts *o, const struct trl_params *p, trl_real ***out,
                        struct trl_errors *e);

/* SPEC 6.4 (outside.c). The caller's cotangents (o->cotangent), checked
 * (named by output ids, [B, T, size] of d, finite, each once), as a per-node
 * array of pointers into them, NULL where none; *out is NULL when o holds
 * no cotangent array. Free the array with trl_free. */
trl_status api_cotangents(const struct graph *g, const struct data *d, const trl_grad_opts *o,
                          const trl_real ***out, struct trl_errors *e);
/* Per node: a zeroed [B, T, size] array for every input node, NULL for the
 * others; NULL if out of memory. */
trl_real **api_input_grads_new(const struct graph *g, const struct data *d);
void api_input_grads_free(const struct graph *g, trl_real **dx);

/* trl_grad over processes (shard.c; trl_grad_opts.n_shards > 1, checked by
 * api_grad_check). *view: this process's samples of d, from *first, its
 * loss still averaged over d->B (view->x allocated: trl_free it). */
trl_status api_shard_view(const struct graph *g, const struct data *d, const trl_grad_opts *o,
                          struct data *view, int *first, struct trl_errors *e);
/* Adds the gradient, loss, trace statistics (rows) and input gradients (dx,
 * may be NULL; rows of other shards 0) over the processes (o->reduce). */
trl_status api_shard_sum(const struct graph *g, const struct data *d, const trl_grad_opts *o,
                         trl_real *grad, double *loss, double rows[2], trl_real *const *dx,
                         struct trl_errors *e);

/* Sets OpenBLAS to one thread once, unless OPENBLAS_NUM_THREADS says
 * otherwise (trellis.h, thread safety). */
void api_blas_once(void);

/* A handle for a graph made below (NULL: the failure recorded in e); frees
 * it when the handle cannot be made. */
trl_status api_graph_wrap(struct graph *g, trl_graph **out, struct trl_errors *e);
/* *out: a handle on d for g (d freed when out of memory); d NULL: the
 * failure of the call that made it (api_failed). */
trl_status api_data_wrap(const trl_graph *g, struct data *d, trl_data **out, struct trl_errors *e);

/* A result of n tensors, zeroed, or NULL. */
struct trl_result *api_result_new(int n);

#endif
