"""The C declarations of include/trellis.h, for cffi's ABI mode.

They are the header's declarations as written there, without the TRL_NAME
macros: every function is declared with its precision's suffix (_f32 or
_f64, put in place of SFX) and trl_real is float or double.
tests/python/test_cdefs.py checks them against the header itself (every
function's type, every struct's size and field offsets, every enum value).
"""

CDEFS = r"""
typedef REAL trl_real;

const char *trl_versionSFX(void);
const char *trl_precisionSFX(void);

typedef enum trl_status {
    TRL_OK = 0, TRL_ERR_INPUT = 1, TRL_ERR_ARGUMENT = 2, TRL_ERR_IO = 3,
    TRL_ERR_MEMORY = 4, TRL_ERR_NUMERIC = 5, TRL_STOPPED = 6,
} trl_status;
const char *trl_status_nameSFX(trl_status s);

typedef struct trl_error trl_error;
trl_error *trl_error_newSFX(void);
void trl_error_freeSFX(trl_error *err);
trl_status trl_error_statusSFX(const trl_error *err);
const char *trl_error_messageSFX(const trl_error *err);
const char *trl_error_fileSFX(const trl_error *err);
int trl_error_countSFX(const trl_error *err);
int trl_error_totalSFX(const trl_error *err);
const char *trl_error_atSFX(const trl_error *err, int i, const char **path, int *line,
                            int *column);
const char *trl_suggestSFX(const char *s, const char *const *names, int n);
void trl_string_freeSFX(char *s);

typedef struct trl_graph trl_graph;
trl_status trl_graph_loadSFX(const char *path, trl_graph **out, trl_error *err);
trl_status trl_graph_parseSFX(const char *text, size_t len, const char *name, trl_graph **out,
                              trl_error *err);
void trl_graph_freeSFX(trl_graph *g);

typedef struct trl_graph_info {
    const char *file;
    const char *name;
    double dt;
    int n_nodes, n_edges, n_params;
    size_t n_param_values;
    size_t n_trainable_values;
    int n_outputs;
    int loss_node;
    const char *loss_type;
    int max_delay;
} trl_graph_info;
void trl_graph_get_infoSFX(const trl_graph *g, trl_graph_info *out);

typedef struct trl_node_info {
    const char *id;
    const char *op;
    int size;
    int n_state;
    const char *state_names;
    int is_input, spiking, is_output;
    int bias_param;
    int n_inputs;
    int schedule_slot;
} trl_node_info;
trl_status trl_graph_nodeSFX(const trl_graph *g, int i, trl_node_info *out);
int trl_graph_find_nodeSFX(const trl_graph *g, const char *id);
int trl_graph_scheduleSFX(const trl_graph *g, int k);
int trl_graph_outputSFX(const trl_graph *g, int k);

typedef struct trl_node_param {
    const char *name;
    const char *type;
    double value;
    const char *text;
    int is_default;
} trl_node_param;
int trl_graph_node_param_countSFX(const trl_graph *g, int i);
trl_status trl_graph_node_paramSFX(const trl_graph *g, int i, int k, trl_node_param *out);

typedef struct trl_edge_info {
    int src, dst;
    int delay;
    int no_self, trainable;
    double gain;
    int param;
} trl_edge_info;
trl_status trl_graph_edgeSFX(const trl_graph *g, int i, trl_edge_info *out);

typedef struct trl_param_info {
    const char *name;
    int node;
    int edge;
    int ndim;
    int rows, cols;
    size_t offset;
    size_t count;
    int trainable;
} trl_param_info;
trl_status trl_graph_paramSFX(const trl_graph *g, int i, trl_param_info *out);
int trl_graph_find_paramSFX(const trl_graph *g, const char *name);

typedef struct trl_algo_cost {
    int available;
    double values;
    double macs_per_step;
} trl_algo_cost;
typedef struct trl_summary {
    double forward_macs;
    trl_algo_cost bptt, rtrl, eprop_online, eprop_reverse;
    size_t n_trainable_values;
    trl_algo_cost eprop_online_order[3];
} trl_summary;
trl_status trl_graph_summarySFX(const trl_graph *g, trl_summary *out, trl_error *err);
void trl_format_countSFX(double v, char *buf, size_t n);
trl_status trl_graph_reportSFX(const trl_graph *g, int json, char **text, trl_error *err);

typedef struct trl_op_info {
    const char *name, *doc;
    int n_state;
    const char *state_names;
    int is_input, spiking, default_bias;
    int n_params;
} trl_op_info;
int trl_op_countSFX(void);
trl_status trl_op_getSFX(int i, trl_op_info *out);

typedef struct trl_tensor {
    const char *name;
    int ndim;
    int64_t shape[3];
    trl_real *data;
} trl_tensor;

typedef struct trl_params trl_params;
trl_status trl_params_newSFX(const trl_graph *g, trl_params **out, trl_error *err);
void trl_params_freeSFX(trl_params *p);
trl_status trl_params_initSFX(trl_params *p, uint64_t seed, trl_error *err);
trl_status trl_params_loadSFX(trl_params *p, const char *path, trl_error *err);
trl_status trl_params_saveSFX(const trl_params *p, const char *path, trl_error *err);
trl_real *trl_params_valuesSFX(trl_params *p);
size_t trl_params_sizeSFX(const trl_params *p);
trl_status trl_params_tensorSFX(trl_params *p, const char *name, trl_tensor *out,
                                trl_error *err);
trl_status trl_params_setSFX(trl_params *p, const char *name, const trl_real *values,
                             size_t count, trl_error *err);
trl_status trl_params_init_feedbackSFX(trl_params *p, uint64_t seed, trl_error *err);
int trl_params_feedback_countSFX(const trl_params *p);

typedef struct trl_data trl_data;
trl_status trl_data_loadSFX(const trl_graph *g, const char *path, unsigned flags,
                            trl_data **out, trl_error *err);
trl_status trl_data_wrapSFX(const trl_graph *g, const trl_tensor *tensors, int n,
                            trl_data **out, trl_error *err);
trl_status trl_data_newSFX(const trl_graph *g, int B, int T, trl_data **out, trl_error *err);
void trl_data_freeSFX(trl_data *d);
void trl_data_shapeSFX(const trl_data *d, int *B, int *T);
trl_status trl_data_tensorSFX(trl_data *d, const char *name, trl_tensor *out, trl_error *err);
trl_status trl_data_saveSFX(const trl_data *d, const char *path, trl_error *err);

typedef struct trl_task_info {
    const char *name, *doc;
    const char *model;
    const char *params;
    int T, n_in, K;
    const char *loss;
    int batch;
} trl_task_info;
int trl_task_countSFX(void);
trl_status trl_task_getSFX(int i, trl_task_info *out);
int trl_task_findSFX(const char *name);

typedef enum trl_split { TRL_SPLIT_TRAIN = 0, TRL_SPLIT_VAL = 1 } trl_split;
trl_status trl_data_taskSFX(const trl_graph *g, const char *task, uint64_t seed,
                            trl_split split, uint64_t iteration, int B, trl_data **out,
                            trl_error *err);

typedef struct trl_random_data {
    int B, T;
    uint64_t seed;
    double rate_hz;
    const char *spiking;
} trl_random_data;
trl_status trl_data_randomSFX(const trl_graph *g, const trl_random_data *opts, trl_data **out,
                              trl_error *err);

typedef struct trl_shd_opts {
    double dt_ms;
    int steps;
    const char *input;
    int classes;
    int loss_steps;
    int64_t offset;
    int64_t limit;
} trl_shd_opts;
typedef struct trl_shd_info {
    int64_t file_samples;
    int B, T, classes;
    int64_t spikes;
    int64_t dropped;
    int64_t max_count;
} trl_shd_info;
trl_status trl_shd_convertSFX(const char *h5_path, const trl_shd_opts *opts,
                              const char *out_path, trl_shd_info *info, trl_error *err);
trl_status trl_data_shdSFX(const trl_graph *g, const char *h5_path, const trl_shd_opts *opts,
                           trl_data **out, trl_shd_info *info, trl_error *err);

typedef struct trl_result trl_result;
void trl_result_freeSFX(trl_result *r);
int trl_result_countSFX(const trl_result *r);
trl_status trl_result_tensorSFX(const trl_result *r, int i, trl_tensor *out);
trl_status trl_result_findSFX(const trl_result *r, const char *name, trl_tensor *out,
                              trl_error *err);
int trl_result_lossSFX(const trl_result *r, double *loss);
trl_status trl_result_loadSFX(const char *path, trl_result **out, trl_error *err);
trl_status trl_result_saveSFX(const trl_result *r, const char *path, trl_error *err);

trl_status trl_runSFX(const trl_graph *g, const trl_params *p, const trl_data *d,
                      trl_result **out, trl_error *err);

typedef struct trl_run_opts {
    int states;
    int threads;
} trl_run_opts;
trl_status trl_run_withSFX(const trl_graph *g, const trl_params *p, const trl_data *d,
                           const trl_run_opts *opts, trl_result **out, trl_error *err);

typedef enum trl_algo { TRL_ALGO_BPTT = 0, TRL_ALGO_RTRL = 1, TRL_ALGO_EPROP = 2 } trl_algo;
typedef enum trl_engine {
    TRL_ENGINE_DEFAULT = 0, TRL_ENGINE_ONLINE = 1, TRL_ENGINE_REVERSE = 2,
} trl_engine;
const char *trl_algo_nameSFX(trl_algo a);
trl_status trl_algo_parseSFX(const char *name, trl_algo *out, trl_error *err);
const char *trl_engine_nameSFX(trl_engine e);
trl_status trl_engine_parseSFX(const char *name, trl_engine *out, trl_error *err);

typedef enum trl_feedback {
    TRL_FEEDBACK_SYMMETRIC = 0, TRL_FEEDBACK_RANDOM = 1, TRL_FEEDBACK_ADAPTIVE = 2,
} trl_feedback;

typedef int (*trl_reduce_fn)(void *ctx, double *values, size_t n);

typedef struct trl_grad_opts {
    trl_algo algo;
    trl_engine engine;
    int threads;
    int order;
    trl_feedback feedback;
    const trl_tensor *cotangent;
    int n_cotangent;
    int input_grads;
    int shard, n_shards;
    trl_reduce_fn reduce;
    void *reduce_ctx;
} trl_grad_opts;
trl_status trl_grad_checkSFX(const trl_grad_opts *opts, trl_error *err);
int trl_grad_is_onlineSFX(const trl_grad_opts *opts);
const char *trl_grad_labelSFX(const trl_grad_opts *opts);
trl_status trl_gradSFX(const trl_graph *g, const trl_params *p, const trl_data *d,
                       const trl_grad_opts *opts, trl_result **out, trl_error *err);

typedef struct trl_grad_stats {
    double trace_rows_moved, trace_rows_total;
} trl_grad_stats;
void trl_result_grad_statsSFX(const trl_result *r, trl_grad_stats *out);

typedef struct trl_plan {
    int threads;
    int samples_held;
    double macs_per_step;
    double trace_bytes;
    double history_bytes;
} trl_plan;
trl_status trl_plan_callSFX(const trl_graph *g, const trl_grad_opts *opts, int B, int T,
                            trl_plan *out, trl_error *err);

typedef struct trl_eval {
    double loss;
    double accuracy;
    double nmse;
} trl_eval;
trl_status trl_evaluateSFX(const trl_graph *g, const trl_params *p, const trl_data *d,
                           trl_eval *out, trl_error *err);

typedef enum trl_optimizer { TRL_OPTIM_ADAM = 0, TRL_OPTIM_SGD = 1 } trl_optimizer;

typedef struct trl_train_config {
    trl_grad_opts grad;
    int online;
    trl_optimizer optimizer;
    double lr, momentum, clip;
    long iters;
    int batch;
    uint64_t seed;
    double rate_target_hz, rate_weight;
    long eval_every, checkpoint_every;
    const char *checkpoint_path;
    int shard, n_shards;
    trl_reduce_fn reduce;
    void *reduce_ctx;
    double feedback_decay;
} trl_train_config;

typedef struct trl_train_metrics {
    long iter, iters;
    double loss;
    double reg_loss;
    double accuracy, nmse;
    double grad_norm;
    const double *tensor_norm;
    const double *rate_hz;
    double seconds;
    int evaluated;
    double val_loss, val_accuracy, val_nmse;
    int checkpointed;
} trl_train_metrics;
typedef int (*trl_train_callback)(void *ctx, const trl_train_metrics *m);

typedef struct trl_trainer trl_trainer;
trl_status trl_trainer_newSFX(const trl_graph *g, trl_params *p, const trl_train_config *cfg,
                              trl_trainer **out, trl_error *err);
void trl_trainer_freeSFX(trl_trainer *t);
trl_status trl_trainer_set_taskSFX(trl_trainer *t, const char *task, int val_batch,
                                   trl_error *err);
trl_status trl_trainer_set_dataSFX(trl_trainer *t, const trl_data *train, const trl_data *val,
                                   trl_error *err);
trl_status trl_trainer_resumeSFX(trl_trainer *t, const char *checkpoint, trl_error *err);
long trl_trainer_iterationSFX(const trl_trainer *t);
trl_status trl_trainer_runSFX(trl_trainer *t, trl_train_callback cb, void *ctx,
                              trl_error *err);
trl_status trl_trainer_checkpointSFX(const trl_trainer *t, const char *path, trl_error *err);

typedef struct trl_metrics {
    double cosine, rel_err, norm_ratio, sign_agree;
    double norm, norm_exact;
    size_t n;
} trl_metrics;

typedef struct trl_compare_item {
    const char *name;
    int node;
    int depth;
    int delayed_only;
    int n_tensors;
    size_t count;
    trl_metrics m[4];
} trl_compare_item;

typedef struct trl_compare_cost {
    trl_grad_opts algo;
    double seconds;
    size_t trace_bytes, history_bytes;
    double loss;
} trl_compare_cost;

typedef enum trl_compare_group {
    TRL_GROUP_TENSOR = 0, TRL_GROUP_NODE = 1, TRL_GROUP_DEPTH = 2, TRL_GROUP_TOTAL = 3,
} trl_compare_group;

typedef struct trl_compare trl_compare;
trl_status trl_compare_newSFX(const trl_graph *g, const trl_params *p, const trl_data *d,
                              const trl_grad_opts *algos, int n_algos, trl_compare **out,
                              trl_error *err);
void trl_compare_freeSFX(trl_compare *c);
int trl_compare_algo_countSFX(const trl_compare *c);
const trl_compare_cost *trl_compare_cost_ofSFX(const trl_compare *c, int k);
int trl_compare_countSFX(const trl_compare *c, trl_compare_group group);
const trl_compare_item *trl_compare_item_atSFX(const trl_compare *c, trl_compare_group group,
                                               int i);
double trl_compare_mean_zSFX(const trl_compare *c, int node);

typedef struct trl_sweep_stack {
    const char *kind;
    int depth, width;
    int skip;
    int T, batch;
} trl_sweep_stack;
int trl_sweep_kind_knownSFX(const char *kind);
trl_status trl_sweep_buildSFX(const trl_sweep_stack *s, uint64_t seed, trl_graph **g,
                              trl_params **p, trl_data **d, trl_error *err);

typedef struct trl_output trl_output;
trl_status trl_output_openSFX(const char *path, trl_output **out, trl_error *err);
FILE *trl_output_streamSFX(trl_output *o);
trl_status trl_output_commitSFX(trl_output *o, trl_error *err);
void trl_output_abortSFX(trl_output *o);

int trl_threadsSFX(void);
void trl_set_threadsSFX(int n);

typedef struct trl_blas_info {
    const char *config;
    int threads, procs;
} trl_blas_info;
void trl_blas_get_infoSFX(trl_blas_info *out);
void trl_blas_set_threadsSFX(int n);

enum {
    TRL_MEMORY_MISC = 0, TRL_MEMORY_PARAMS = 1, TRL_MEMORY_STATE = 2, TRL_MEMORY_HISTORY = 3,
    TRL_MEMORY_TRACE = 4, TRL_MEMORY_KINDS = 5
};
typedef struct trl_memory {
    size_t current[5], peak[5];
    uint64_t allocations;
} trl_memory;
void trl_memory_statsSFX(trl_memory *out);
void trl_memory_reset_peakSFX(void);

typedef struct trl_gemm_timing {
    double seconds, gflops, packed_gflops;
} trl_gemm_timing;
trl_status trl_time_gemmSFX(int m, int k, int n, double budget, trl_gemm_timing *out,
                            trl_error *err);
"""

# The header's #define constants that the package uses.
DATA_TARGET = 1
DATA_STREAM = 2
COMPARE_MAX = 4
SHD_CHANNELS = 700
MEMORY_KINDS = ("misc", "params", "state", "history", "trace")  # TRL_MEMORY_MISC...
