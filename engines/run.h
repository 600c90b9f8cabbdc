/* run.h - a forward pass over a data set: the outputs and the loss
 * (`trellis run`, SPEC section 7). */
#ifndef TRELLIS_RUN_H
#define TRELLIS_RUN_H

#include <stdbool.h>

#include "graph/graph.h"
#include "io/data.h"
#include "core/error.h"
#include "core/real.h"

struct run_result {
    int n_outputs;
    trl_real **out;    /* per graph output: z as [B, T, size] */
    int n_nodes;       /* entries of states (0 when not asked for) */
    trl_real **states; /* per node, or NULL: see run_request */
    bool has_loss;     /* the graph has a loss and the data a target */
    double loss;
};

/* What a forward pass over a batch records (every field optional). */
struct run_request {
    trl_real **out;          /* per graph output: z as [B, T, size] */
    trl_real *loss_z;        /* the loss node's z as [B, T, K] */
    double *const *unit_sum; /* per node (NULL entries skipped): sum of z over samples and steps */
    /* Per node (NULL entries skipped): its state h (ops/op.h), one [B, T, size]
     * array per state variable, the n_state arrays back to back. */
    trl_real *const *states;
    double loss; /* result: the loss, when the data has a target */
};

/* A forward pass over d, the batch split over threads (kernels/parallel.h).
 * 0, or -1 (out of memory, with err set). */
int run_batch(const struct graph *g, const trl_real *params, const struct data *d,
              struct run_request *req, struct trl_errors *err);

/* 0, or -1 (out of memory, with err set). Free the result with
 * run_result_free. */
int run_forward(const struct graph *g, const trl_real *params, const struct data *d,
                struct run_result *res, struct trl_errors *err);
/* The same, with every state of every node that has one when states is
 * true (res->states). */
int run_forward_states(const struct graph *g, const trl_real *params, const struct data *d,
                       bool states, struct run_result *res, struct trl_errors *err);
void run_result_free(struct run_result *res);

#endif
