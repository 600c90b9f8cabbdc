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
    trl_real **out; /* per graph output: z as [B, T, size] */
    bool has_loss;  /* the graph has a loss and the data a target */
    double loss;
};

/* What a forward pass over a batch records (every field optional). */
struct run_request {
    trl_real **out;          /* per graph output: z as [B, T, size] */
    trl_real *loss_z;        /* the loss node's z as [B, T, K] */
    double *const *unit_sum; /* per node (NULL entries skipped): sum of z over samples and steps */
    double loss;             /* result: the loss, when the data has a target */
};

/* A forward pass over d, the batch split over threads (kernels/parallel.h).
 * 0, or -1 (out of memory, with err set). */
int run_batch(const struct graph *g, const trl_real *params, const struct data *d,
              struct run_request *req, struct trl_errors *err);

/* 0, or -1 (out of memory, with err set). Free the result with
 * run_result_free. */
int run_forward(const struct graph *g, const trl_real *params, const struct data *d,
                struct run_result *res, struct trl_errors *err);
void run_result_free(struct run_result *res);
/* Writes the outputs and the loss (when there is one), atomically. */
int run_result_save(const struct graph *g, const struct data *d, const struct run_result *res,
                    const char *path, struct trl_errors *err);

#endif
