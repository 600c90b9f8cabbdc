/* shd.h - the Spiking Heidelberg Digits (and Speech Commands) reader, SPEC
 * section 11.
 *
 * The HDF5 layout of Cramer et al. (2020): "spikes/times" (seconds) and
 * "spikes/units" hold one variable-length list per sample, of the same length
 * (spike k of sample i is unit units[i][k] at times[i][k]); "labels" one
 * integer per sample. Times may be float16, float32 or float64 (HDF5 converts
 * them to double exactly); units and labels any integer type.
 *
 * Sample i becomes x [T, 700] of spike counts: a spike at time s seconds goes
 * to step floor(1000 s / dt) + 1 (1-based; computed in double precision),
 * i.e. step t holds (t - 1) dt <= 1000 s < t dt; spikes after step T are
 * dropped (and counted). Its target [T, classes] is the one-hot label at
 * every step, its mask [T] all ones or ones on the last loss_steps steps.
 *
 * libhdf5 is loaded on the first shd_open, with the module
 * libtrellis-hdf5.so.0 (io/hdf5_module.h); without it, shd_open fails (of
 * kind ERR_IO) saying so. libhdf5 (serial) is not thread-safe: these
 * functions must not run at once with each other or with another user of
 * HDF5 in the process. They silence HDF5's own error printing while they run
 * (and restore it).
 */
#ifndef TRELLIS_SHD_H
#define TRELLIS_SHD_H

#include "core/error.h"
#include "core/real.h"
#include "graph/graph.h"
#include "io/data.h"

#define SHD_CHANNELS 700

struct shd_opts {
    double dt_ms;      /* bin width in ms, > 0 */
    int steps;         /* T >= 1 */
    int classes;       /* 0: the largest label of the whole file + 1 */
    int loss_steps;    /* 0: mask 1 on every step; K in 1..T: on the last K */
    long offset;       /* the first sample read */
    long limit;        /* samples from offset; 0: every one to the end */
    const char *input; /* the input tensor's name (shd_convert); NULL: "in" */
};

struct shd_stats {
    long n_file;    /* samples in the file */
    int B, T;       /* samples read and steps */
    int classes;    /* the target's size */
    long spikes;    /* spikes binned */
    long dropped;   /* spikes at or after T dt, dropped */
    long max_count; /* the largest count in one step and channel */
};

struct shd_file;

/* Opens the file and checks its layout: the three datasets, their types and
 * lengths, labels >= 0 (read whole; the spikes are read per sample). NULL
 * with the problem in err (err->file is path). */
struct shd_file *shd_open(const char *path, struct trl_errors *err);
void shd_close(struct shd_file *f);
/* Checks o against f (the sample range, the classes against the labels of
 * that range) and fills s: n_file, B, T, classes; the counts 0. 0 or -1. */
int shd_plan(const struct shd_file *f, const struct shd_opts *o, struct shd_stats *s,
             struct trl_errors *err);
/* Sample b (0 <= b < s->B, the file's sample o->offset + b) binned into
 * x[T * 700] (overwritten); adds to s's counts. 0, or -1 with err naming the
 * dataset and the sample (lengths that differ, a unit outside 0..699, a time
 * that is negative or not finite). */
int shd_bin(struct shd_file *f, const struct shd_opts *o, long b, trl_real *x, struct shd_stats *s,
            struct trl_errors *err);
/* Sample b's target [T, classes] (one-hot at every step) and mask [T]. */
void shd_target(const struct shd_file *f, const struct shd_opts *o, const struct shd_stats *s,
                long b, trl_real *target);
void shd_mask(const struct shd_opts *o, trl_real *mask);

/* Converts the samples o selects into a data file (SPEC section 4) at out:
 * o->input [B, T, 700], target [B, T, classes], mask [B, T]; one sample in
 * memory at a time; atomic (nothing is left at out on failure). 0, or -1
 * with err set. s may be NULL. */
int shd_convert(const char *path, const struct shd_opts *o, const char *out, struct shd_stats *s,
                struct trl_errors *err);
/* The same samples as a data set of g in memory: o->input (NULL: g's one
 * input node) must be an input node of size 700 and g's only one; when g
 * has a loss, its size must be the classes. NULL with err set. */
struct data *shd_load(const struct graph *g, const char *path, const struct shd_opts *o,
                      struct shd_stats *s, struct trl_errors *err);

#endif
