/* train.h - the training loop (`trellis train`): batches from a source, a
 * gradient by the chosen algorithm, an optimiser step, metrics, evaluation,
 * checkpoints. Printing is the caller's: it receives the metrics of every
 * iteration through a callback.
 *
 * Reproducibility: batch i is a function of (seed, i) only, the optimiser
 * state is in the checkpoint, so a run resumed from iteration k ends with the
 * same bytes as one that never stopped.
 *
 * Firing-rate regularisation (Bellec et al. 2020, Methods): for every unit j
 * of a spiking node, with the batch's mean rate rbar_j = mean_{b,t} z_j / dt
 * (spikes per ms) and the target r0 = rate_target_hz / 1000,
 *     L_reg = rate_weight * sum_j (rbar_j - r0)^2,
 * a loss term on z whose gradient, dL_reg/dz_j(b,t) = 2 rate_weight
 * (rbar_j - r0) / (dt T B), the chosen algorithm carries like the task's
 * (grad_hooks.dz_const). rbar comes from a forward pass over the batch before
 * the gradient.
 *
 * Online updates (online = true, rtrl or eprop online): the weights change
 * after every step with that step's gradient term (Martin-Sanchez et al.,
 * appendix A), instead of once per batch; the traces then mix sensitivities
 * computed under older weights ("off-policy", Millidge 2025, limitation 3).
 */
#ifndef TRELLIS_TRAIN_H
#define TRELLIS_TRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "graph/graph.h"
#include "io/data.h"
#include "core/error.h"
#include "engines/grad.h"
#include "train/optim.h"

struct train_config {
    enum grad_algo algo;
    enum grad_engine engine;
    bool online;
    enum optim_kind optimizer;
    double lr, clip; /* clip <= 0: no clipping */
    long iters;
    int batch;
    uint64_t seed;
    double rate_target_hz, rate_weight; /* rate_weight 0: no regulariser */
    long eval_every, checkpoint_every;  /* 0: never */
    const char *checkpoint_path;        /* where checkpoints go (NULL: none) */
    /* Data parallelism (SPEC section 10): with n_shards > 1 this process
     * computes shard `shard` of every batch and of the validation set (the
     * samples shard_range gives it), and reduce sums a vector over every
     * process in a fixed order, the sum on every process (0, or nonzero when
     * it failed). The sums are the gradient, the loss, the firing counts and
     * the scores of each batch, the rate regulariser's unit sums, the
     * validation scores, and the callback's stop request, so every process
     * makes the same update and the same decisions. */
    int shard, n_shards;
    int (*reduce)(void *ctx, double *values, size_t n);
    void *reduce_ctx;
    /* SPEC 6.2, 6.3: m-order e-prop (eprop; 0 or 1: deep e-prop), and the
     * feedback matrices that carry credit (io/feedback.h; NULL: symmetric).
     * adaptive: after every update fb <- fb + dW - feedback_decay * fb (the
     * matrices are updated in place, and saved in checkpoints). */
    int order;
    trl_real **feedback;
    bool adaptive;
    double feedback_decay;
};

/* Where batches come from: a built-in task or a data file. */
struct train_source {
    /* A training batch for iteration iter (a function of seed and iter). */
    struct data *(*batch)(void *ctx, const struct graph *g, uint64_t seed, long iter, int B,
                          struct trl_errors *err);
    void *ctx;
    const struct data *val; /* the validation set, or NULL */
};

struct train_metrics {
    long iter, iters;
    double loss;         /* task loss of the batch (before the update) */
    double reg_loss;     /* firing-rate term */
    double accuracy;     /* cross_entropy: fraction of samples decided right; NaN otherwise */
    double nmse;         /* mse: normalised mean squared error (train_nmse); NaN otherwise */
    double grad_norm;    /* over every trainable tensor, before clipping */
    double *tensor_norm; /* per parameter tensor (0 for frozen) */
    double *rate_hz;     /* per node: mean firing rate (spiking nodes; NaN for others) */
    double seconds;      /* since the start of this run */
    bool evaluated;
    double val_loss, val_accuracy, val_nmse;
    bool checkpointed;
};

/* Called after every iteration; return nonzero to stop (a checkpoint is then
 * written and train_run returns TRAIN_INTERRUPTED). */
typedef int (*train_callback)(void *ctx, const struct graph *g, const struct train_metrics *m);

enum train_status { TRAIN_DONE = 0, TRAIN_FAILED = -1, TRAIN_INTERRUPTED = 1 };

/* Trains params in place from iteration `start` (0, or the checkpoint's next
 * iteration) to cfg->iters. The optimiser state o is updated in place. On a
 * non-finite loss or gradient it stops before touching the parameters, with
 * an error naming the iteration and the tensor. */
enum train_status train_run(const struct graph *g, trl_real *params, struct optim *o,
                            const struct train_config *cfg, const struct train_source *src,
                            long start, train_callback cb, void *cb_ctx, struct trl_errors *err);

/* Accuracy of a cross_entropy output y [B, T, K] against d: a sample counts
 * as right when the argmax of its mask-weighted mean softmax over the
 * masked steps is the argmax of its mask-weighted mean target. */
double train_accuracy(const struct data *d, const trl_real *y, int K);
/* Normalised mean squared error of an mse output y [B, T, K] against d:
 * sum m (y - target)^2 / sum m (target - mean target)^2 over masked steps,
 * the mean per output over every masked step and sample (1 is as good as
 * predicting the mean; Bellec et al. 2020 ask for < 0.1 on the sine task). */
double train_nmse(const struct data *d, const trl_real *y, int K);
/* The same two scores from sums that add over shards of a batch:
 * TRAIN_SCORE_SUMS(K) values (samples right and counted; per output the
 * masked sums of target, target^2, mask and squared error), and back. The
 * nmse from sums equals train_nmse's to rounding. */
#define TRAIN_SCORE_SUMS(K) (2 + 4 * (size_t)(K))
void train_score_sums(const struct data *d, const trl_real *y, int K, double *sums);
void train_score_of(const double *sums, int K, double *accuracy, double *nmse);

struct train_eval {
    double loss, accuracy, nmse; /* accuracy: cross_entropy only; nmse: mse only (else NaN) */
};
/* Loss, accuracy or nmse of params on a data set (a forward pass). */
int train_evaluate(const struct graph *g, const trl_real *params, const struct data *d,
                   struct train_eval *out, struct trl_errors *err);

/* Checkpoints: every parameter, the optimiser state and the iteration, in
 * one safetensors file written atomically. */
int train_checkpoint_save(const struct graph *g, const trl_real *params, const struct optim *o,
                          const struct train_config *cfg, long next_iter, const char *path,
                          struct trl_errors *err);
/* Restores params, o and the next iteration; checks that the checkpoint
 * belongs to this graph, precision and optimiser. */
int train_checkpoint_load(const struct graph *g, trl_real *params, struct optim *o, long *next_iter,
                          const char *path, struct trl_errors *err);
/* The same, and the checkpoint's feedback matrices into fb (may be NULL:
 * not read). */
int train_checkpoint_load_all(const struct graph *g, trl_real *params, trl_real **fb,
                              struct optim *o, long *next_iter, const char *path,
                              struct trl_errors *err);

#endif
