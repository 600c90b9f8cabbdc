/* trellis.h - the public interface of libtrellis (docs/SPEC.md section 8).
 *
 * trellis runs recurrent networks written as JSON graphs (SPEC section 1):
 * it loads and validates a graph, initialises or reads its parameters, binds
 * data from files or from the caller's memory, runs the graph, computes
 * gradients with BPTT, RTRL or deep e-prop (SPEC section 6), trains, and
 * compares an algorithm's gradient with the exact one. The command-line tool
 * `trellis` is a client of this header and of nothing else.
 *
 * This header is self-contained: C11 or C++, standard headers only, and every
 * name it declares starts with trl_ (types, functions) or TRL_ (macros).
 *
 * Precision. The library is built twice: libtrellis (trl_real = float) and
 * libtrellis-f64 (trl_real = double). Compile with -DTRL_F64 to use the
 * second (pkg-config trellis-f64 adds it). Every function carries its
 * precision in its symbol (trl_graph_load is trl_graph_load_f32 or
 * trl_graph_load_f64, by the macros below), so a program compiled for one
 * precision does not link against the other.
 *
 * Handles and lifetimes. Every object is an opaque handle made by a *_new,
 * *_load or *_parse call and released by the matching *_free (NULL is
 * accepted and ignored). A graph must outlive the parameter sets, data sets,
 * results, trainers and comparisons made for it. A data set made with
 * trl_data_wrap borrows the caller's arrays: they must stay alive, and
 * unchanged while a call reads them, until trl_data_free. Strings and
 * pointers returned by accessors belong to the handle and stay valid until
 * it is freed (or, for a result's tensors, as long as the result).
 *
 * Errors. Every call that can fail returns a trl_status and, when err is not
 * NULL, fills err with what went wrong: the file, and for each problem its
 * place (a JSON pointer such as /nodes/2/inputs/0/from, a tensor name, or a
 * line and column for JSON syntax errors) and a message that says how to
 * fix it. Validation reports every problem it finds (up to a limit), not
 * only the first. The library never prints, never exits, and never names a
 * command-line option. On failure the output handle is set to NULL and no
 * partial file is left behind: every file is written to a temporary name and
 * renamed.
 *
 * Thread safety. Distinct handles may be used from distinct threads at once,
 * and a handle that is only read (a graph, parameters or data passed as
 * const) may be shared by calls running at once. A handle that a call
 * changes (trl_params_init/load, a trainer) must not be used by another call
 * at the same time. Process-wide state, shared by every handle:
 *   - the default thread count (trl_set_threads; each call may override it);
 *   - the memory counters (trl_memory_stats), which count every handle;
 *   - OpenBLAS's thread count: unless OPENBLAS_NUM_THREADS is set, the first
 *     graph loaded sets it to 1 (trellis splits a batch over its own
 *     threads; BLAS threads on top of them cost more than they save), and
 *     trl_blas_set_threads sets it.
 * Each computing call (run, grad, train, compare) starts its own threads and
 * joins them before it returns.
 */
#ifndef TRL_TRELLIS_H
#define TRL_TRELLIS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TRL_VERSION_MAJOR  0
#define TRL_VERSION_MINOR  2
#define TRL_VERSION_PATCH  0
#define TRL_VERSION_STRING "0.2.0"

#ifdef TRL_F64
typedef double trl_real;
#define TRL_NAME(name) name##_f64
#else
typedef float trl_real;
#define TRL_NAME(name) name##_f32
#endif

#if defined(TRL_BUILDING_LIBRARY) && defined(__GNUC__)
#define TRL_API __attribute__((visibility("default")))
#else
#define TRL_API
#endif

/* ---- version, status and errors ---- */

/* "0.2.0 float32": the library's version and precision. */
#define trl_version TRL_NAME(trl_version)
TRL_API const char *trl_version(void);
/* "float32" or "float64". */
#define trl_precision TRL_NAME(trl_precision)
TRL_API const char *trl_precision(void);

typedef enum trl_status {
    TRL_OK = 0,
    TRL_ERR_INPUT = 1,    /* an invalid graph, parameter or data file or value */
    TRL_ERR_ARGUMENT = 2, /* an invalid argument: an option out of range, a wrong shape */
    TRL_ERR_IO = 3,       /* a file that cannot be read or written */
    TRL_ERR_MEMORY = 4,   /* out of memory, or a size beyond the library's limits */
    TRL_ERR_NUMERIC = 5,  /* a loss or gradient that is not finite */
    TRL_STOPPED = 6,      /* not an error: a callback asked a trainer to stop */
} trl_status;

/* A short phrase for a status ("invalid input", ...). */
#define trl_status_name TRL_NAME(trl_status_name)
TRL_API const char *trl_status_name(trl_status s);

typedef struct trl_error trl_error;

/* An empty error object, or NULL if out of memory. One object may be passed
 * to many calls: each call that fails replaces its content. */
#define trl_error_new TRL_NAME(trl_error_new)
TRL_API trl_error *trl_error_new(void);
#define trl_error_free TRL_NAME(trl_error_free)
TRL_API void trl_error_free(trl_error *err);
/* The status of the last failure recorded (TRL_OK if none). */
#define trl_error_status TRL_NAME(trl_error_status)
TRL_API trl_status trl_error_status(const trl_error *err);
/* Every problem, one per line ("FILE: /json/path: message",
 * "FILE:LINE:COL: message" or "FILE: message"), with a count of the ones
 * left out; "" when there is none. */
#define trl_error_message TRL_NAME(trl_error_message)
TRL_API const char *trl_error_message(const trl_error *err);
/* The file the problems are about ("" when none). */
#define trl_error_file TRL_NAME(trl_error_file)
TRL_API const char *trl_error_file(const trl_error *err);
/* Problems stored (at most a few dozen) and found. */
#define trl_error_count TRL_NAME(trl_error_count)
TRL_API int trl_error_count(const trl_error *err);
#define trl_error_total TRL_NAME(trl_error_total)
TRL_API int trl_error_total(const trl_error *err);
/* Problem i (0 <= i < count): its place ("" when none; *line and *column are
 * 0 unless it is a syntax error) and its message. NULL if i is out of range. */
#define trl_error_at TRL_NAME(trl_error_at)
TRL_API const char *trl_error_at(const trl_error *err, int i, const char **path, int *line,
                                 int *column);

/* "Did you mean": the name of names[0..n) closest to s, by the suggester
 * the library's own messages use (at most two edits: insert, delete,
 * substitute, swap two neighbours; fewer than the longer name's length),
 * the first of equally close ones; NULL when none is close or s is NULL.
 * The pointer is one of names. */
#define trl_suggest TRL_NAME(trl_suggest)
TRL_API const char *trl_suggest(const char *s, const char *const *names, int n);

/* Frees a string the library returned to the caller. */
#define trl_string_free TRL_NAME(trl_string_free)
TRL_API void trl_string_free(char *s);

/* ---- graphs ---- */

typedef struct trl_graph trl_graph;

/* Reads and validates a graph file (SPEC section 1). */
#define trl_graph_load TRL_NAME(trl_graph_load)
TRL_API trl_status trl_graph_load(const char *path, trl_graph **out, trl_error *err);
/* The same from JSON text in memory; name stands for the file in errors. */
#define trl_graph_parse TRL_NAME(trl_graph_parse)
TRL_API trl_status trl_graph_parse(const char *text, size_t len, const char *name, trl_graph **out,
                                   trl_error *err);
#define trl_graph_free TRL_NAME(trl_graph_free)
TRL_API void trl_graph_free(trl_graph *g);

typedef struct trl_graph_info {
    const char *file; /* the path it was loaded from, or the name given to trl_graph_parse */
    const char *name; /* the graph's "name" ("" if none) */
    double dt;
    int n_nodes, n_edges, n_params;
    size_t n_param_values;     /* every tensor, frozen ones included */
    size_t n_trainable_values; /* the values a gradient holds */
    int n_outputs;
    int loss_node;         /* node index, or -1 when the graph has no loss */
    const char *loss_type; /* "mse", "cross_entropy", or NULL */
    int max_delay;
} trl_graph_info;
#define trl_graph_get_info TRL_NAME(trl_graph_get_info)
TRL_API void trl_graph_get_info(const trl_graph *g, trl_graph_info *out);

typedef struct trl_node_info {
    const char *id;
    const char *op;          /* the node kind (SPEC section 2) */
    int size;                /* units */
    int n_state;             /* state variables per unit (input: 0) */
    const char *state_names; /* "v,a" for alif, "" for input */
    int is_input, spiking, is_output;
    int bias_param;    /* index of its bias tensor, or -1 */
    int n_inputs;      /* edges into it */
    int schedule_slot; /* its position in the schedule (inputs first) */
} trl_node_info;
/* Node i in file order (0 <= i < n_nodes); TRL_ERR_ARGUMENT if out of range. */
#define trl_graph_node TRL_NAME(trl_graph_node)
TRL_API trl_status trl_graph_node(const trl_graph *g, int i, trl_node_info *out);
/* The index of the node with this id, or -1. */
#define trl_graph_find_node TRL_NAME(trl_graph_find_node)
TRL_API int trl_graph_find_node(const trl_graph *g, const char *id);
/* The node run k-th in every step (0 <= k < n_nodes), or -1. */
#define trl_graph_schedule TRL_NAME(trl_graph_schedule)
TRL_API int trl_graph_schedule(const trl_graph *g, int k);
/* The k-th output node (0 <= k < n_outputs), or -1. */
#define trl_graph_output TRL_NAME(trl_graph_output)
TRL_API int trl_graph_output(const trl_graph *g, int k);

/* One key of a node's "params" (SPEC section 2), with its default filled in. */
typedef struct trl_node_param {
    const char *name;
    const char *type; /* "real", "bool" or "activation" */
    double value;     /* the number; 0 or 1 for a bool */
    const char *text; /* an activation's name; NULL otherwise */
    int is_default;   /* the value is the kind's default */
} trl_node_param;
/* Keys of node i's kind; key k of it. */
#define trl_graph_node_param_count TRL_NAME(trl_graph_node_param_count)
TRL_API int trl_graph_node_param_count(const trl_graph *g, int i);
#define trl_graph_node_param TRL_NAME(trl_graph_node_param)
TRL_API trl_status trl_graph_node_param(const trl_graph *g, int i, int k, trl_node_param *out);

typedef struct trl_edge_info {
    int src, dst; /* node indices */
    int delay;
    int no_self, trainable;
    double gain;
    int param; /* index of its weight tensor */
} trl_edge_info;
/* Edge i (0 <= i < n_edges), grouped by destination in file order. */
#define trl_graph_edge TRL_NAME(trl_graph_edge)
TRL_API trl_status trl_graph_edge(const trl_graph *g, int i, trl_edge_info *out);

typedef struct trl_param_info {
    const char *name; /* "n.w.s", "n.w.s.dD" or "n.b" (SPEC section 3) */
    int node;         /* the node it belongs to */
    int edge;         /* its edge, or -1 for a bias */
    int ndim;         /* 2 for weights, 1 for a bias */
    int rows, cols;   /* [rows, cols]; a bias is [rows] with cols = 1 */
    size_t offset;    /* into the flat block of trl_params_values */
    size_t count;     /* rows * cols */
    int trainable;
} trl_param_info;
/* Parameter tensor i (0 <= i < n_params), in the order of parameter files. */
#define trl_graph_param TRL_NAME(trl_graph_param)
TRL_API trl_status trl_graph_param(const trl_graph *g, int i, trl_param_info *out);
/* The index of the tensor with this name, or -1. */
#define trl_graph_find_param TRL_NAME(trl_graph_find_param)
TRL_API int trl_graph_find_param(const trl_graph *g, const char *name);

/* What `trellis validate` reports: per sample, the multiply-adds per step and
 * the memory of each gradient algorithm (SPEC section 7). */
typedef struct trl_algo_cost {
    int available;        /* 0 if the online plan is too large to build */
    double values;        /* rtrl and eprop online: trace values per sample (constant in T);
                             bptt and eprop reverse: history values per step and sample */
    double macs_per_step; /* per sample */
} trl_algo_cost;
#define TRL_SUMMARY_ORDERS 3
typedef struct trl_summary {
    double forward_macs; /* per step and sample */
    trl_algo_cost bptt, rtrl, eprop_online, eprop_reverse;
    size_t n_trainable_values;
    /* m-order e-prop online (SPEC 6.2): eprop_online_order[k] is order k + 1
     * (so [0] equals eprop_online), constant in T. */
    trl_algo_cost eprop_online_order[TRL_SUMMARY_ORDERS];
} trl_summary;
#define trl_graph_summary TRL_NAME(trl_graph_summary)
TRL_API trl_status trl_graph_summary(const trl_graph *g, trl_summary *out, trl_error *err);
/* v with a unit prefix and 3 digits, as the summary prints counts: "806k",
 * "12.7M", "75" (into buf of n bytes, truncated if short). */
#define trl_format_count TRL_NAME(trl_format_count)
TRL_API void trl_format_count(double v, char *buf, size_t n);
/* The validation report as text (json = 0) or as one JSON object (json = 1),
 * into *text (free with trl_string_free). */
#define trl_graph_report TRL_NAME(trl_graph_report)
TRL_API trl_status trl_graph_report(const trl_graph *g, int json, char **text, trl_error *err);

/* The node kinds this library knows (SPEC section 2). */
typedef struct trl_op_info {
    const char *name, *doc;
    int n_state;
    const char *state_names;
    int is_input, spiking, default_bias;
    int n_params; /* keys of its "params" */
} trl_op_info;
#define trl_op_count TRL_NAME(trl_op_count)
TRL_API int trl_op_count(void);
#define trl_op_get TRL_NAME(trl_op_get)
TRL_API trl_status trl_op_get(int i, trl_op_info *out);

/* ---- tensors ---- */

/* A named array, row-major. */
typedef struct trl_tensor {
    const char *name;
    int ndim;         /* 0 (a scalar) to 3 */
    int64_t shape[3]; /* the first ndim entries */
    trl_real *data;   /* shape[0] * ... * shape[ndim-1] values (1 for a scalar) */
} trl_tensor;

/* ---- parameters ---- */

typedef struct trl_params trl_params;

/* A parameter set of the graph, every value 0. */
#define trl_params_new TRL_NAME(trl_params_new)
TRL_API trl_status trl_params_new(const trl_graph *g, trl_params **out, trl_error *err);
#define trl_params_free TRL_NAME(trl_params_free)
TRL_API void trl_params_free(trl_params *p);
/* SPEC section 1's initialisation: weights ~ Normal(0, gain^2 / from.size),
 * no_self diagonals 0, biases 0; the same seed gives the same values on
 * every machine. */
#define trl_params_init TRL_NAME(trl_params_init)
TRL_API trl_status trl_params_init(trl_params *p, uint64_t seed, trl_error *err);
/* Reads a parameter file (F32 or F64): every tensor of the graph with its
 * shape, no other key, finite values, no_self diagonals 0. */
#define trl_params_load TRL_NAME(trl_params_load)
TRL_API trl_status trl_params_load(trl_params *p, const char *path, trl_error *err);
/* Writes every tensor, atomically. */
#define trl_params_save TRL_NAME(trl_params_save)
TRL_API trl_status trl_params_save(const trl_params *p, const char *path, trl_error *err);
/* The flat block of every tensor (trl_param_info.offset), and its length;
 * the caller may read and write it. */
#define trl_params_values TRL_NAME(trl_params_values)
TRL_API trl_real *trl_params_values(trl_params *p);
#define trl_params_size TRL_NAME(trl_params_size)
TRL_API size_t trl_params_size(const trl_params *p);
/* The tensor of that name (its data points into the block);
 * TRL_ERR_ARGUMENT if the graph has none. */
#define trl_params_tensor TRL_NAME(trl_params_tensor)
TRL_API trl_status trl_params_tensor(trl_params *p, const char *name, trl_tensor *out,
                                     trl_error *err);
/* Copies values into a tensor: count must be its size, values finite, a
 * no_self diagonal 0. */
#define trl_params_set TRL_NAME(trl_params_set)
TRL_API trl_status trl_params_set(trl_params *p, const char *name, const trl_real *values,
                                  size_t count, trl_error *err);

/* Feedback matrices (SPEC v2 6.3). A parameter set may hold, for the edge
 * into n from s, a matrix "n.fb.s" ("n.fb.s.dD" for delay D) of the weight's
 * shape: random and adaptive feedback (trl_grad_opts.feedback) carry credit
 * back through the edge with it in place of the weights. trl_params_load
 * reads them, trl_params_save writes them, trl_params_tensor and
 * trl_params_set reach them by name (set adds one); they are never
 * trainable and never in a gradient. */
/* One matrix for every edge whose source is not an input node, drawn like
 * the weights (Normal(0, gain^2 / from.size), no_self diagonals 0); the same
 * seed gives the same values. */
#define trl_params_init_feedback TRL_NAME(trl_params_init_feedback)
TRL_API trl_status trl_params_init_feedback(trl_params *p, uint64_t seed, trl_error *err);
/* Feedback matrices held. */
#define trl_params_feedback_count TRL_NAME(trl_params_feedback_count)
TRL_API int trl_params_feedback_count(const trl_params *p);

/* ---- data ---- */

typedef struct trl_data trl_data;

/* trl_data_load flags. */
#define TRL_DATA_TARGET 1u /* the file must hold a target (for a gradient or training) */
#define TRL_DATA_STREAM                                                                            \
    2u /* keep only the header and read a window of steps at a time                                \
          (memory independent of T; for the online gradient engines,                               \
          trl_grad_is_online) */

/* Reads and checks a data file (SPEC section 4): the id of every input node
 * [B, T, size], and, when the graph has a loss, target [B, T, K] and
 * optional mask [B, T]. */
#define trl_data_load TRL_NAME(trl_data_load)
TRL_API trl_status trl_data_load(const trl_graph *g, const char *path, unsigned flags,
                                 trl_data **out, trl_error *err);
/* Binds the caller's arrays, without copying: tensors[k].name is an input
 * node's id, "target" or "mask", with shape [B, T, size] ([B, T] for the
 * mask, ndim 2). Every input node needs one; target and mask are optional.
 * The values must be finite; they are checked here. */
#define trl_data_wrap TRL_NAME(trl_data_wrap)
TRL_API trl_status trl_data_wrap(const trl_graph *g, const trl_tensor *tensors, int n,
                                 trl_data **out, trl_error *err);
/* A data set of B samples of T steps, every value 0 (mask 1), to fill
 * through trl_data_tensor. */
#define trl_data_new TRL_NAME(trl_data_new)
TRL_API trl_status trl_data_new(const trl_graph *g, int B, int T, trl_data **out, trl_error *err);
#define trl_data_free TRL_NAME(trl_data_free)
TRL_API void trl_data_free(trl_data *d);
/* B and T. */
#define trl_data_shape TRL_NAME(trl_data_shape)
TRL_API void trl_data_shape(const trl_data *d, int *B, int *T);
/* The array of an input id, "target" or "mask" of a data set held in memory;
 * TRL_ERR_ARGUMENT for a streamed set or a name it does not hold. */
#define trl_data_tensor TRL_NAME(trl_data_tensor)
TRL_API trl_status trl_data_tensor(trl_data *d, const char *name, trl_tensor *out, trl_error *err);
/* Writes a data set held in memory as a data file, atomically. */
#define trl_data_save TRL_NAME(trl_data_save)
TRL_API trl_status trl_data_save(const trl_data *d, const char *path, trl_error *err);

/* Built-in tasks of the e-prop literature (trellis data TASK). */
typedef struct trl_task_info {
    const char *name, *doc;
    const char *model;  /* its ready graph, relative to the trellis sources */
    const char *params; /* its parameters, lines of "  key: value" */
    int T, n_in, K;     /* steps, input channels, loss size */
    const char *loss;   /* "mse" or "cross_entropy" */
    int batch;          /* default batch size */
} trl_task_info;
#define trl_task_count TRL_NAME(trl_task_count)
TRL_API int trl_task_count(void);
#define trl_task_get TRL_NAME(trl_task_get)
TRL_API trl_status trl_task_get(int i, trl_task_info *out);
/* Index of the task of that name, or -1. */
#define trl_task_find TRL_NAME(trl_task_find)
TRL_API int trl_task_find(const char *name);

typedef enum trl_split { TRL_SPLIT_TRAIN = 0, TRL_SPLIT_VAL = 1 } trl_split;
/* B samples of a task for a graph that fits it: training batch `iteration`,
 * or the validation set (iteration ignored); a function of the seed. */
#define trl_data_task TRL_NAME(trl_data_task)
TRL_API trl_status trl_data_task(const trl_graph *g, const char *task, uint64_t seed,
                                 trl_split split, uint64_t iteration, int B, trl_data **out,
                                 trl_error *err);

/* Random data of the right shapes for any graph (benchmarks, tests); a
 * spiking list naming anything but input nodes is TRL_ERR_ARGUMENT. */
typedef struct trl_random_data {
    int B, T;
    uint64_t seed;
    double rate_hz;      /* spiking inputs: spikes per second */
    const char *spiking; /* comma-separated input ids drawn as spikes, or NULL */
} trl_random_data;
#define TRL_RANDOM_RATE_HZ 20.0
#define trl_data_random    TRL_NAME(trl_data_random)
TRL_API trl_status trl_data_random(const trl_graph *g, const trl_random_data *opts, trl_data **out,
                                   trl_error *err);

/* ---- Spiking Heidelberg Digits (SPEC section 11) ---- */

/* The SHD and SSC files of Cramer et al. (2020), HDF5: "spikes/times"
 * (seconds, float16, float32 or float64) and "spikes/units", a list per
 * sample, and "labels". Sample i becomes an input [T, 700] whose value at
 * step t (1-based) and channel c counts its spikes of unit c with
 * (t - 1) dt_ms <= 1000 time < t dt_ms (step floor(1000 time / dt_ms) + 1,
 * in double precision; later spikes are dropped), a one-hot target
 * [T, classes] at every step and a mask [T]. A bad file (a missing dataset,
 * a wrong type, times and units of different lengths, a unit >= 700, a
 * negative or NaN time, a label outside the classes) is TRL_ERR_INPUT, with
 * the dataset as the place and the sample in the message. libhdf5 is loaded
 * on the first call, with the module libtrellis-hdf5.so.0 (installed beside
 * the library; $TRELLIS_HDF5_MODULE names another): without it, the calls
 * fail with TRL_ERR_IO saying so. libhdf5 is not thread-safe: these calls
 * must not run at once with each other (or with another user of HDF5 in the
 * process). */
#define TRL_SHD_CHANNELS 700
typedef struct trl_shd_opts {
    double dt_ms;      /* width of a step, ms (> 0) */
    int steps;         /* T (>= 1) */
    const char *input; /* the input's name; NULL: "in" (trl_data_shd: the graph's input node) */
    int classes;       /* the target's size; 0: the file's largest label + 1 */
    int loss_steps;    /* 0: mask 1 on every step; K: 1 on the last K steps only */
    int64_t offset;    /* the first sample */
    int64_t limit;     /* samples from offset; 0: all to the end of the file */
} trl_shd_opts;
typedef struct trl_shd_info {
    int64_t file_samples; /* samples in the file */
    int B, T, classes;    /* what was read */
    int64_t spikes;       /* spikes counted */
    int64_t dropped;      /* spikes at or after T dt_ms, dropped */
    int64_t max_count;    /* the largest count of one step and channel */
} trl_shd_info;
/* Converts a file into a data file (SPEC section 4): input [B, T, 700],
 * "target" [B, T, classes] and "mask" [B, T], holding one sample in memory at
 * a time, so that files larger than memory can be written. info may be NULL. */
#define trl_shd_convert TRL_NAME(trl_shd_convert)
TRL_API trl_status trl_shd_convert(const char *h5_path, const trl_shd_opts *opts,
                                   const char *out_path, trl_shd_info *info, trl_error *err);
/* The same samples as a data set of g in memory (B x T x 700 values): g has
 * one input node, of size 700, and when it has a loss, a loss node of size
 * classes. info may be NULL. */
#define trl_data_shd TRL_NAME(trl_data_shd)
TRL_API trl_status trl_data_shd(const trl_graph *g, const char *h5_path, const trl_shd_opts *opts,
                                trl_data **out, trl_shd_info *info, trl_error *err);

/* ---- results: named tensors from run and grad ---- */

typedef struct trl_result trl_result;

#define trl_result_free TRL_NAME(trl_result_free)
TRL_API void trl_result_free(trl_result *r);
/* Tensors held, and tensor i. */
#define trl_result_count TRL_NAME(trl_result_count)
TRL_API int trl_result_count(const trl_result *r);
#define trl_result_tensor TRL_NAME(trl_result_tensor)
TRL_API trl_status trl_result_tensor(const trl_result *r, int i, trl_tensor *out);
/* The tensor of that name; TRL_ERR_ARGUMENT if none. */
#define trl_result_find TRL_NAME(trl_result_find)
TRL_API trl_status trl_result_find(const trl_result *r, const char *name, trl_tensor *out,
                                   trl_error *err);
/* The loss, and whether there is one (run: the graph has a loss and the data
 * a target). */
#define trl_result_loss TRL_NAME(trl_result_loss)
TRL_API int trl_result_loss(const trl_result *r, double *loss);
/* Reads a safetensors file (F32 or F64, converted to trl_real): its tensors
 * in the order of the file, a scalar "loss" as the loss. */
#define trl_result_load TRL_NAME(trl_result_load)
TRL_API trl_status trl_result_load(const char *path, trl_result **out, trl_error *err);
/* Writes every tensor and "loss" (when there is one), atomically. */
#define trl_result_save TRL_NAME(trl_result_save)
TRL_API trl_status trl_result_save(const trl_result *r, const char *path, trl_error *err);

/* ---- run ---- */

/* A forward pass: one tensor per output node, its z as [B, T, size]
 * (SPEC section 7), and the loss when the graph has one and the data a
 * target. */
#define trl_run TRL_NAME(trl_run)
TRL_API trl_status trl_run(const trl_graph *g, const trl_params *p, const trl_data *d,
                           trl_result **out, trl_error *err);

/* What else a forward pass returns. */
typedef struct trl_run_opts {
    /* Every node's state variables too (SPEC section 2; trl_node_info's
     * state_names): after the outputs, one tensor per variable, node by
     * node in file order, named "ID.NAME" (lif.v, alif.v, alif.a, ...),
     * [B, T, size], the state after each step. */
    int states;
    int threads; /* 0: the process default (trl_set_threads) */
} trl_run_opts;
#define TRL_RUN_OPTS_INIT                                                                          \
    {                                                                                              \
        0, 0                                                                                       \
    }
/* trl_run with options (opts NULL: trl_run's). */
#define trl_run_with TRL_NAME(trl_run_with)
TRL_API trl_status trl_run_with(const trl_graph *g, const trl_params *p, const trl_data *d,
                                const trl_run_opts *opts, trl_result **out, trl_error *err);

/* ---- gradients ---- */

typedef enum trl_algo { TRL_ALGO_BPTT = 0, TRL_ALGO_RTRL = 1, TRL_ALGO_EPROP = 2 } trl_algo;
typedef enum trl_engine {
    TRL_ENGINE_DEFAULT = 0, /* the algorithm's own: reverse for bptt, online for rtrl and eprop */
    TRL_ENGINE_ONLINE = 1,
    TRL_ENGINE_REVERSE = 2,
} trl_engine;

/* "bptt", "rtrl", "eprop"; and back (TRL_ERR_ARGUMENT for another name). */
#define trl_algo_name TRL_NAME(trl_algo_name)
TRL_API const char *trl_algo_name(trl_algo a);
#define trl_algo_parse TRL_NAME(trl_algo_parse)
TRL_API trl_status trl_algo_parse(const char *name, trl_algo *out, trl_error *err);
/* "default", "online", "reverse"; and back. */
#define trl_engine_name TRL_NAME(trl_engine_name)
TRL_API const char *trl_engine_name(trl_engine e);
#define trl_engine_parse TRL_NAME(trl_engine_parse)
TRL_API trl_status trl_engine_parse(const char *name, trl_engine *out, trl_error *err);

/* Which matrix carries credit back through an edge (SPEC section 6.3). */
typedef enum trl_feedback {
    TRL_FEEDBACK_SYMMETRIC = 0, /* the edge's weights (feedback matrices are ignored) */
    TRL_FEEDBACK_RANDOM = 1,    /* its feedback matrix n.fb.s[.dD] where it has one */
    TRL_FEEDBACK_ADAPTIVE = 2,  /* training only: random, and each matrix follows its
                                   edge's updates (trl_train_config.feedback_decay) */
} trl_feedback;

/* Data parallelism (SPEC section 10: trl_grad_opts, trl_train_config), with any transport (the
 * CLI's is MPI): sums values[0..n) over every process taking part, in an order that does not depend
 * on timing (e.g. gathered to one process, added in rank order, sent back), the sum in values on
 * every process. 0, or nonzero if it failed. Every process calls it the same number of times with
 * the same n. */
typedef int (*trl_reduce_fn)(void *ctx, double *values, size_t n);

typedef struct trl_grad_opts {
    trl_algo algo;
    trl_engine engine; /* eprop only: online or reverse (SPEC section 6) */
    int threads;       /* 0: the process default (trl_set_threads) */
    int order;         /* eprop only: m-order e-prop (SPEC 6.2); 0 or 1: deep e-prop */
    trl_feedback feedback;
    /* SPEC 6.4, a loss from outside: dL/dy for some or all output nodes, each
     * named by the node's id, [B, T, size] (NULL: the graph's loss). The
     * gradient is then that of the sum of cotangent * y under the chosen
     * algorithm (an output not listed has cotangent 0; n_cotangent 0 with a
     * non-NULL array: all 0), and the result's loss is that sum; the graph
     * needs no loss and the data no target (one present is ignored). A name
     * that is not an output's id, a shape other than the data's [B, T, size]
     * or a value that is not finite is TRL_ERR_INPUT naming the tensor
     * (trl_error_file is then "cotangent"). The tensors are read during
     * trl_grad only. */
    const trl_tensor *cotangent;
    int n_cotangent;
    /* Nonzero: the result also holds dL/dx for every input node, [B, T,
     * size], named by the node's id (after the parameters' tensors); for
     * eprop, of the same pruned model as the parameters' gradient. Computed
     * by reverse accumulation (for rtrl and eprop online too: an input's
     * gradient depends on every later step), so it needs the data in memory
     * and memory that grows with T. */
    int input_grads;
    /* Data parallelism (trl_grad only; training has its own, in
     * trl_train_config): with n_shards > 1 this process computes shard
     * `shard` (0 <= shard < n_shards <= B) of the data, samples [B * shard /
     * n_shards, B * (shard + 1) / n_shards), its loss still averaged over
     * all B, and reduce adds the gradient, the loss, the trace statistics
     * and (input_grads) dL/dx, whose other rows are 0 on each process, over
     * the processes: every process gets the result of the whole batch,
     * equal for any n_shards to rounding. Every process calls trl_grad with
     * the same graph, parameters, data and options but for shard. */
    int shard, n_shards; /* n_shards 0 or 1: the whole batch here */
    trl_reduce_fn reduce;
    void *reduce_ctx;
} trl_grad_opts;
#define TRL_GRAD_OPTS_INIT                                                                         \
    {                                                                                              \
        TRL_ALGO_BPTT, TRL_ENGINE_DEFAULT, 0, 0, TRL_FEEDBACK_SYMMETRIC, NULL, 0, 0, 0, 1, NULL,   \
            NULL                                                                                   \
    }

/* Checks a combination of options (an engine other than the default with an
 * algorithm other than eprop is TRL_ERR_ARGUMENT, with the reason). */
#define trl_grad_check TRL_NAME(trl_grad_check)
TRL_API trl_status trl_grad_check(const trl_grad_opts *opts, trl_error *err);
/* Does the algorithm compute forward in time (rtrl, eprop online)? Such a
 * gradient reads a streamed data set (TRL_DATA_STREAM) in constant memory. */
#define trl_grad_is_online TRL_NAME(trl_grad_is_online)
TRL_API int trl_grad_is_online(const trl_grad_opts *opts);
/* "bptt", "rtrl", "eprop" (online) or "eprop reverse". */
#define trl_grad_label TRL_NAME(trl_grad_label)
TRL_API const char *trl_grad_label(const trl_grad_opts *opts);

/* dL/dtheta by the chosen algorithm: one tensor per trainable parameter
 * (same name and shape as in the parameter set) and the loss. The graph
 * needs a loss and the data a target, unless opts gives cotangents; with
 * opts->input_grads, one tensor per input node follows. Random feedback
 * needs feedback matrices in p (TRL_ERR_INPUT without any). */
#define trl_grad TRL_NAME(trl_grad)
TRL_API trl_status trl_grad(const trl_graph *g, const trl_params *p, const trl_data *d,
                            const trl_grad_opts *opts, trl_result **out, trl_error *err);

/* What a gradient's online traces did (0 for the reverse engines): per-unit
 * trace rows that moved, of all of them, summed over steps and samples. */
typedef struct trl_grad_stats {
    double trace_rows_moved, trace_rows_total;
} trl_grad_stats;
#define trl_result_grad_stats TRL_NAME(trl_result_grad_stats)
TRL_API void trl_result_grad_stats(const trl_result *r, trl_grad_stats *out);

/* ---- plans: what a call will hold and compute ---- */

/* Before a run (opts NULL) or a gradient (opts) on a batch of B samples of
 * T steps: the threads the batch is split over, the samples whose traces
 * or history are in memory at once, and what trl_graph_summary predicts for
 * the call's algorithm (SPEC section 7), scaled to those samples. */
typedef struct trl_plan {
    int threads;
    int samples_held;     /* 0 for a run */
    double macs_per_step; /* multiply-adds per step and sample; 0 where the summary has none */
    double trace_bytes;   /* rtrl, eprop online: the traces of samples_held samples */
    double history_bytes; /* bptt, eprop reverse: their history over T steps */
} trl_plan;
#define trl_plan_call TRL_NAME(trl_plan_call)
TRL_API trl_status trl_plan_call(const trl_graph *g, const trl_grad_opts *opts, int B, int T,
                                 trl_plan *out, trl_error *err);

/* ---- evaluation and training ---- */

typedef struct trl_eval {
    double loss;
    double accuracy; /* cross_entropy: samples decided right (argmax over the masked steps); else
                        NaN */
    double nmse;     /* mse: normalised mean squared error; else NaN */
} trl_eval;
#define trl_evaluate TRL_NAME(trl_evaluate)
TRL_API trl_status trl_evaluate(const trl_graph *g, const trl_params *p, const trl_data *d,
                                trl_eval *out, trl_error *err);

typedef enum trl_optimizer { TRL_OPTIM_ADAM = 0, TRL_OPTIM_SGD = 1 } trl_optimizer;

typedef struct trl_train_config {
    trl_grad_opts grad;
    int online; /* rtrl or eprop online: update the weights after every step */
    trl_optimizer optimizer;
    double lr, momentum, clip;          /* clip <= 0: no clipping */
    long iters;                         /* the iteration the run ends before */
    int batch;                          /* samples per iteration */
    uint64_t seed;                      /* batches are a function of (seed, iteration) */
    double rate_target_hz, rate_weight; /* firing-rate regulariser (rate_weight 0: none) */
    long eval_every, checkpoint_every;  /* 0: never */
    const char *checkpoint_path;        /* NULL: no checkpoints */
    /* Data parallelism: with n_shards > 1 this process computes shard
     * `shard` (0 <= shard < n_shards <= batch) of every batch and of the
     * validation set, samples [B * shard / n_shards, B * (shard + 1) /
     * n_shards), and reduce sums the gradient, loss and metrics over the
     * processes; each process then makes the same update, so every one ends
     * with the same parameters, equal for any n_shards to rounding. Every
     * process gets the same configuration but for shard (and, for one
     * process only, a checkpoint path); a stop asked for by any process's
     * callback stops all after the same iteration. Not with online. */
    int shard, n_shards; /* n_shards 0 or 1: the whole batch here */
    trl_reduce_fn reduce;
    void *reduce_ctx;
    /* grad.feedback adaptive: fb <- fb + dW - decay * fb (SPEC 6.3). With random or
     * adaptive feedback the trainer uses the matrices its parameters hold when
     * trl_trainer_run starts (TRL_ERR_INPUT if none): load or draw them before
     * or after trl_trainer_new; they are updated in place and checkpointed. */
    double feedback_decay;
} trl_train_config;
#define TRL_TRAIN_CONFIG_INIT                                                                      \
    {                                                                                              \
        TRL_GRAD_OPTS_INIT, 0, TRL_OPTIM_ADAM, 3e-3, 0.9, 0, 200, 32, 0, 10, 0, 25, 0, NULL, 0, 1, \
            NULL, NULL, 0                                                                          \
    }

/* What the callback receives after every iteration. */
typedef struct trl_train_metrics {
    long iter, iters;
    double loss;               /* the batch's task loss, before the update */
    double reg_loss;           /* the firing-rate term */
    double accuracy, nmse;     /* as in trl_eval; NaN where they do not apply */
    double grad_norm;          /* over every trainable tensor, before clipping */
    const double *tensor_norm; /* per parameter tensor (0 for a frozen one) */
    const double *rate_hz;     /* per node: mean firing rate (NaN for a non-spiking node) */
    double seconds;            /* since trl_trainer_run started */
    int evaluated;             /* the validation set was evaluated: */
    double val_loss, val_accuracy, val_nmse;
    int checkpointed;
} trl_train_metrics;
/* Return nonzero to stop: the trainer then writes a checkpoint (when it has
 * a path) and trl_trainer_run returns TRL_STOPPED. */
typedef int (*trl_train_callback)(void *ctx, const trl_train_metrics *m);

typedef struct trl_trainer trl_trainer;

/* A trainer for the parameters p, which it updates in place (p must outlive
 * it). Give it batches with trl_trainer_set_task or trl_trainer_set_data. */
#define trl_trainer_new TRL_NAME(trl_trainer_new)
TRL_API trl_status trl_trainer_new(const trl_graph *g, trl_params *p, const trl_train_config *cfg,
                                   trl_trainer **out, trl_error *err);
#define trl_trainer_free TRL_NAME(trl_trainer_free)
TRL_API void trl_trainer_free(trl_trainer *t);
/* Batches from a built-in task, and a validation set of val_batch samples. */
#define trl_trainer_set_task TRL_NAME(trl_trainer_set_task)
TRL_API trl_status trl_trainer_set_task(trl_trainer *t, const char *task, int val_batch,
                                        trl_error *err);
/* Batches drawn from a data set held in memory (a shuffle seeded by (seed,
 * iteration)), and an optional validation set; both must outlive t. */
#define trl_trainer_set_data TRL_NAME(trl_trainer_set_data)
TRL_API trl_status trl_trainer_set_data(trl_trainer *t, const trl_data *train, const trl_data *val,
                                        trl_error *err);
/* Restores the parameters, the optimiser state and the next iteration from a
 * checkpoint of this graph, precision and optimiser. */
#define trl_trainer_resume TRL_NAME(trl_trainer_resume)
TRL_API trl_status trl_trainer_resume(trl_trainer *t, const char *checkpoint, trl_error *err);
/* The next iteration to run. */
#define trl_trainer_iteration TRL_NAME(trl_trainer_iteration)
TRL_API long trl_trainer_iteration(const trl_trainer *t);
/* Trains to cfg->iters, calling cb (may be NULL) after every iteration.
 * TRL_OK, TRL_STOPPED, or an error; a loss or gradient that is not finite
 * stops before the parameters change (TRL_ERR_NUMERIC, naming the iteration
 * and the tensor). */
#define trl_trainer_run TRL_NAME(trl_trainer_run)
TRL_API trl_status trl_trainer_run(trl_trainer *t, trl_train_callback cb, void *ctx,
                                   trl_error *err);
/* Writes a checkpoint now: the parameters, the optimiser state and the next
 * iteration, in one file written atomically. */
#define trl_trainer_checkpoint TRL_NAME(trl_trainer_checkpoint)
TRL_API trl_status trl_trainer_checkpoint(const trl_trainer *t, const char *path, trl_error *err);

/* ---- comparing gradients with the exact one ---- */

#define TRL_COMPARE_MAX 4 /* algorithms in one comparison, besides bptt */

typedef struct trl_metrics {
    double cosine, rel_err, norm_ratio, sign_agree; /* NaN where undefined (0/0) */
    double norm, norm_exact;
    size_t n;
} trl_metrics;

/* A tensor, a node, a depth or the whole network. */
typedef struct trl_compare_item {
    const char *name; /* tensor name or node id; NULL for depth and total items */
    int node;         /* the owner node (tensor and node items), else -1 */
    int depth;        /* delay-0 edges to the loss node; -1 when no path reaches it */
    int delayed_only; /* reaches the loss only through delayed edges (e-prop gives 0) */
    int n_tensors;
    size_t count;                   /* values */
    trl_metrics m[TRL_COMPARE_MAX]; /* per compared algorithm */
} trl_compare_item;

typedef struct trl_compare_cost {
    trl_grad_opts algo;
    double seconds;
    size_t trace_bytes, history_bytes; /* peak bytes allocated during the call */
    double loss;
} trl_compare_cost;

typedef enum trl_compare_group {
    TRL_GROUP_TENSOR = 0, /* trainable tensors, in parameter order */
    TRL_GROUP_NODE = 1,   /* nodes that own a trainable tensor, file order */
    TRL_GROUP_DEPTH = 2,  /* ascending; the unreachable group (-1) last */
    TRL_GROUP_TOTAL = 3,  /* one item: the whole network */
} trl_compare_group;

typedef struct trl_compare trl_compare;
/* Runs bptt and every algorithm of algos (at most TRL_COMPARE_MAX) on the
 * same graph, parameters and data, and measures each against bptt. */
#define trl_compare_new TRL_NAME(trl_compare_new)
TRL_API trl_status trl_compare_new(const trl_graph *g, const trl_params *p, const trl_data *d,
                                   const trl_grad_opts *algos, int n_algos, trl_compare **out,
                                   trl_error *err);
#define trl_compare_free TRL_NAME(trl_compare_free)
TRL_API void trl_compare_free(trl_compare *c);
#define trl_compare_algo_count TRL_NAME(trl_compare_algo_count)
TRL_API int trl_compare_algo_count(const trl_compare *c);
/* The cost of algorithm k, or of bptt for k = -1; NULL if out of range. */
#define trl_compare_cost_of TRL_NAME(trl_compare_cost_of)
TRL_API const trl_compare_cost *trl_compare_cost_of(const trl_compare *c, int k);
#define trl_compare_count TRL_NAME(trl_compare_count)
TRL_API int trl_compare_count(const trl_compare *c, trl_compare_group group);
/* Item i of a group, or NULL if out of range. */
#define trl_compare_item_at TRL_NAME(trl_compare_item_at)
TRL_API const trl_compare_item *trl_compare_item_at(const trl_compare *c, trl_compare_group group,
                                                    int i);
/* Node i's mean z over samples, steps and units (bptt's forward pass). */
#define trl_compare_mean_z TRL_NAME(trl_compare_mean_z)
TRL_API double trl_compare_mean_z(const trl_compare *c, int node);

/* ---- the depth-scaling study (`trellis sweep`) ---- */

/* A stack in (16 channels) -> h1 -> ... -> h<depth> -> out (a 2-unit
 * readout, mse loss) of layers of one kind, each with a delay-1 self edge,
 * and with skip a delay-0 edge from every layer to out; edge gains chosen
 * per kind so that activity neither dies out nor saturates with depth
 * (README, sweep). */
#define TRL_SWEEP_MAX_DEPTH 64
#define TRL_SWEEP_MAX_WIDTH 4096
#define TRL_SWEEP_MAX_BT    10000000 /* batch * T */
typedef struct trl_sweep_stack {
    const char *kind; /* "leaky", "lif" or "alif" */
    int depth, width;
    int skip;
    int T, batch; /* of its data */
} trl_sweep_stack;
/* Is there a stack kind of that name? */
#define trl_sweep_kind_known TRL_NAME(trl_sweep_kind_known)
TRL_API int trl_sweep_kind_known(const char *kind);
/* The stack's graph (named "sweep-KIND-depthD"), its parameters initialised
 * with seed, and random data of that seed: Poisson input spikes at 50 Hz for
 * lif and alif, standard normal inputs for leaky, a smooth random target.
 * The same seed gives the same data at every depth. Free the three as
 * usual (the graph last). */
#define trl_sweep_build TRL_NAME(trl_sweep_build)
TRL_API trl_status trl_sweep_build(const trl_sweep_stack *s, uint64_t seed, trl_graph **g,
                                   trl_params **p, trl_data **d, trl_error *err);

/* ---- files written whole ---- */

/* A file of the caller's written as the library writes its own: to a
 * temporary name in the destination's folder, with the permissions of a new
 * file (0666 less the umask), synced, then renamed over path, so that path
 * is either the old file or the whole new one. */
typedef struct trl_output trl_output;
#define trl_output_open TRL_NAME(trl_output_open)
TRL_API trl_status trl_output_open(const char *path, trl_output **out, trl_error *err);
/* The stream to write to. */
#define trl_output_stream TRL_NAME(trl_output_stream)
TRL_API FILE *trl_output_stream(trl_output *o);
/* Puts the file in place (TRL_ERR_IO if a write failed: the temporary is
 * removed); frees o either way. */
#define trl_output_commit TRL_NAME(trl_output_commit)
TRL_API trl_status trl_output_commit(trl_output *o, trl_error *err);
/* Removes the temporary, leaving path as it was; frees o (NULL is ignored). */
#define trl_output_abort TRL_NAME(trl_output_abort)
TRL_API void trl_output_abort(trl_output *o);

/* ---- threads, memory and the machine ---- */

/* The process default of threads per call (at least 1): TRELLIS_THREADS, else
 * the online processors; trl_set_threads(n) overrides both (n <= 0: back to
 * them). */
#define trl_threads TRL_NAME(trl_threads)
TRL_API int trl_threads(void);
#define trl_set_threads TRL_NAME(trl_set_threads)
TRL_API void trl_set_threads(int n);

/* The BLAS library the products run on: its build ("OpenBLAS 0.3.26 ..."),
 * its threads per call and the processors it sees. */
typedef struct trl_blas_info {
    const char *config;
    int threads, procs;
} trl_blas_info;
#define trl_blas_get_info TRL_NAME(trl_blas_get_info)
TRL_API void trl_blas_get_info(trl_blas_info *out);
/* BLAS threads per call, process-wide; n <= 0: the library's default (1
 * unless OPENBLAS_NUM_THREADS is set). A later first graph keeps it. */
#define trl_blas_set_threads TRL_NAME(trl_blas_set_threads)
TRL_API void trl_blas_set_threads(int n);

/* Bytes the library holds, per purpose, now and at their peak, over every
 * handle of the process: it shows, say, that an online algorithm's traces
 * do not grow with T. */
enum {
    TRL_MEMORY_MISC = 0,    /* graph tables, files, scratch */
    TRL_MEMORY_PARAMS = 1,  /* parameters and gradients */
    TRL_MEMORY_STATE = 2,   /* network state and delay rings */
    TRL_MEMORY_HISTORY = 3, /* stored history of the reverse engines (grows with T) */
    TRL_MEMORY_TRACE = 4,   /* forward sensitivities and eligibility traces */
    TRL_MEMORY_KINDS = 5
};
typedef struct trl_memory {
    size_t current[TRL_MEMORY_KINDS], peak[TRL_MEMORY_KINDS];
    uint64_t allocations; /* blocks allocated so far */
} trl_memory;
#define trl_memory_stats TRL_NAME(trl_memory_stats)
TRL_API void trl_memory_stats(trl_memory *out);
/* Peaks back to the current values. */
#define trl_memory_reset_peak TRL_NAME(trl_memory_reset_peak)
TRL_API void trl_memory_reset_peak(void);

/* The machine's matrix-product throughput in the library's precision, for
 * C[m, n] = A[m, k] W[n, k]^T (the forward products' layout): calls repeat
 * until a trial lasts budget seconds, the best of three counts. packed_gflops
 * is the same product by the library's own kernel for few rows, or 0 where
 * the library does not use it. */
typedef struct trl_gemm_timing {
    double seconds, gflops, packed_gflops;
} trl_gemm_timing;
#define TRL_GEMM_MAX_SIDE 65536 /* m, k and n are 1 to this */
#define trl_time_gemm     TRL_NAME(trl_time_gemm)
TRL_API trl_status trl_time_gemm(int m, int k, int n, double budget, trl_gemm_timing *out,
                                 trl_error *err);

#ifdef __cplusplus
}
#endif

#endif
