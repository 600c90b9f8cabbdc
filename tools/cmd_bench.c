/* cmd_bench.c - `trellis bench GRAPH --params P --data D --algo
 * run|bptt|rtrl|eprop [--engine online|reverse] [--repeat N] [--json]`: the
 * time, memory and throughput of one computation; and `trellis bench --gemm`:
 * this machine's GEMM throughput (tools/bench_gemm.h).
 *
 * A call is what `trellis run` or `trellis grad` computes, without the files:
 * the forward pass and the loss, plus the gradient for an algorithm. Files
 * are read once; --warmup calls (1) warm up, then --repeat calls (5) are
 * timed with a monotonic clock. With --budget S the timed calls stop once
 * they have taken S seconds (at least one), and a warm-up call longer than S
 * is itself the one measurement: a slow row costs one call, not six.
 *
 * Reported: min and median seconds per call; the process's peak resident
 * memory (getrusage ru_maxrss, loading included); its resident memory once
 * everything is loaded and its peak during the calls (tools/bench_proc.h),
 * whose difference is what a call adds; the runtime's own peak bytes of
 * traces and of stored history during the calls (trl_memory_stats); the
 * loss; the multiply-adds per step and sample that `validate` predicts for
 * the algorithm (trl_plan_call) times B T; and the achieved GFLOP/s,
 * 2 MACs / median seconds.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/bench_gemm.h"
#include "tools/bench_proc.h"
#include "tools/cli.h"

#define BENCH_MAX_REPEAT  100000
#define BENCH_MAX_THREADS 1024

struct bench_args {
    const char *params_path, *data_path, *algo_name, *engine_name, *shapes;
    int repeat, warmup, threads, blas_threads;
    double budget; /* seconds of timed calls, 0: no limit */
    bool json, gemm, have_threads, have_blas_threads;
    struct cli_rule rule; /* --order, --feedback */
};

/* What one call computes, with everything loaded. */
struct bench_job {
    trl_graph *g;
    trl_graph_info info;
    trl_params *params;
    trl_data *d;
    int B, T;
    bool is_run;       /* forward and loss only */
    trl_grad_opts opt; /* else the gradient's */
};

struct bench_result {
    int repeat;          /* timed calls made */
    bool warmup_counted; /* the one measurement is the warm-up call (--budget) */
    double min, median;
    double *times; /* [repeat], in call order; then as much scratch */
    bool has_loss;
    double loss;
    double macs;                       /* per call: the plan's macs_per_step B T */
    double max_rss_mb;                 /* ru_maxrss over the whole process */
    double rss_loaded_mb, call_rss_mb; /* resident once loaded, peak during the calls; -1 unknown */
    size_t peak[TRL_MEMORY_KINDS];     /* the library's peaks over the calls */
    trl_plan plan;                     /* threads, samples held, predicted MACs and bytes */
    double trace_rows[2];              /* online engines: event-driven trace rows moved, all */
};

static int parse_algo(const struct bench_args *a, struct bench_job *j)
{
    if (!a->algo_name)
        return cli_usage_error(&cmd_bench, "--algo is required: run, bptt, rtrl or eprop");
    j->is_run = strcmp(a->algo_name, "run") == 0;
    trl_algo algo;
    static const char *const algos[] = {"run", "bptt", "rtrl", "eprop"};
    if (!j->is_run && trl_algo_parse(a->algo_name, &algo, NULL) != TRL_OK)
        return cli_usage_error(&cmd_bench, "--algo must be run, bptt, rtrl or eprop (got \"%s\")%s",
                               a->algo_name,
                               cli_did_you_mean(a->algo_name, algos, CLI_COUNT(algos)));
    if (!j->is_run) {
        int rc = cli_grad_opts(&cmd_bench, a->algo_name, a->engine_name, &j->opt);
        return rc ? rc : cli_rule_opts(&cmd_bench, &a->rule, false, &j->opt, NULL);
    }
    if (a->engine_name) return cli_usage_error(&cmd_bench, "--engine applies to --algo eprop only");
    if (a->rule.order_seen || a->rule.feedback || a->rule.decay_seen)
        return cli_usage_error(&cmd_bench, "--order and --feedback apply to gradients, not to run");
    return EXIT_OK;
}

/* Parameters and data; 0, or -1 with err set. */
static int job_load(struct bench_job *j, const struct bench_args *a, trl_error *err)
{
    if (trl_params_new(j->g, &j->params, err) || trl_params_load(j->params, a->params_path, err) ||
        trl_data_load(j->g, a->data_path, j->is_run ? 0 : TRL_DATA_TARGET, &j->d, err))
        return -1;
    trl_data_shape(j->d, &j->B, &j->T);
    return 0;
}

static void job_free(struct bench_job *j)
{
    trl_data_free(j->d);
    trl_params_free(j->params);
    trl_graph_free(j->g);
}

/* One call; 0, or -1 with err set. */
static int job_call(const struct bench_job *j, struct bench_result *r, trl_error *err)
{
    trl_result *res = NULL;
    trl_status s = j->is_run ? trl_run(j->g, j->params, j->d, &res, err)
                             : trl_grad(j->g, j->params, j->d, &j->opt, &res, err);
    if (s != TRL_OK) return -1;
    r->has_loss = trl_result_loss(res, &r->loss);
    trl_grad_stats st;
    trl_result_grad_stats(res, &st);
    r->trace_rows[0] += st.trace_rows_moved;
    r->trace_rows[1] += st.trace_rows_total;
    trl_result_free(res);
    return 0;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Min and median of the times; sorted is scratch of r->repeat values. */
static void time_stats(struct bench_result *r, double *sorted)
{
    int n = r->repeat;
    memcpy(sorted, r->times, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, compare_doubles);
    r->min = sorted[0];
    r->median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
}

/* The warm-up calls; 0, or -1 with err set. A last warm-up call longer
 * than the budget becomes the one measurement. */
static int job_warm_up(const struct bench_job *j, const struct bench_args *a,
                       struct bench_result *r, trl_error *err)
{
    for (int i = 0; i < a->warmup; i++) {
        double t0 = bench_now();
        if (job_call(j, r, err)) return -1;
        double dt = bench_now() - t0;
        if (a->budget > 0 && dt > a->budget) {
            r->times[0] = dt;
            r->repeat = 1;
            r->warmup_counted = true;
            return 0;
        }
    }
    return 0;
}

/* Warm-up, then the timed calls (r->times holds 2 a->repeat values), with
 * the memory readings around them; 0, or -1 with err set. */
static int job_time(const struct bench_job *j, const struct bench_args *a, struct bench_result *r,
                    trl_error *err)
{
    double load_peak = bench_maxrss_mb();
    r->rss_loaded_mb = bench_rss_mb();
    bool reset = bench_rss_reset_peak() == 0;
    trl_memory_reset_peak();
    if (job_warm_up(j, a, r, err)) return -1;
    double spent = 0;
    while (!r->warmup_counted && r->repeat < a->repeat && !(a->budget > 0 && spent >= a->budget)) {
        double t0 = bench_now();
        if (job_call(j, r, err)) return -1;
        r->times[r->repeat] = bench_now() - t0;
        spent += r->times[r->repeat++];
    }
    time_stats(r, r->times + a->repeat);
    trl_memory m;
    trl_memory_stats(&m);
    memcpy(r->peak, m.peak, sizeof r->peak);
    r->call_rss_mb = reset ? bench_rss_peak_mb() : -1;
    r->max_rss_mb = fmax(fmax(load_peak, bench_maxrss_mb()), r->call_rss_mb);
    return 0;
}

static const char *algo_label(const struct bench_job *j)
{
    return j->is_run ? "run" : trl_algo_name(j->opt.algo);
}

static const char *engine_label(const struct bench_job *j)
{
    if (j->is_run || j->opt.algo != TRL_ALGO_EPROP) return NULL;
    return trl_grad_is_online(&j->opt) ? "online" : "reverse";
}

static double gflops(const struct bench_result *r, double seconds)
{
    return seconds > 0 ? 2.0 * r->macs / seconds / 1e9 : 0;
}

static void print_calls(const struct bench_result *r, int warmup)
{
    printf("  time      min %.3f ms, median %.3f ms per call", 1e3 * r->min, 1e3 * r->median);
    if (r->warmup_counted)
        printf(" (1 call: the warm-up, longer than --budget)\n");
    else
        printf(" (%d call%s after %d warm-up)\n", r->repeat, r->repeat == 1 ? "" : "s", warmup);
}

/* Bytes of the loaded data arrays: inputs, target and mask. */
static double data_bytes(const struct bench_job *j)
{
    double per_step = 0;
    trl_tensor t;
    for (int i = 0; i < j->info.n_nodes; i++) {
        trl_node_info n;
        if (trl_graph_node(j->g, i, &n) == TRL_OK && n.is_input &&
            trl_data_tensor(j->d, n.id, &t, NULL) == TRL_OK)
            per_step += n.size;
    }
    if (trl_data_tensor(j->d, "target", &t, NULL) == TRL_OK) per_step += (double)t.shape[2];
    if (trl_data_tensor(j->d, "mask", &t, NULL) == TRL_OK) per_step += 1;
    return per_step * j->B * j->T * sizeof(trl_real);
}

static void print_text(const struct bench_job *j, const struct bench_args *a,
                       const struct bench_result *r)
{
    const char *eng = engine_label(j);
    trl_blas_info blas_info;
    trl_blas_get_info(&blas_info);
    const int th = r->plan.threads, blas = blas_info.threads;
    printf("%s: %s%s%s, B %d, T %d, %s, %d thread%s x %d BLAS thread%s\n", j->info.file,
           algo_label(j), eng ? " " : "", eng ? eng : "", j->B, j->T, trl_precision(), th,
           th == 1 ? "" : "s", blas, blas == 1 ? "" : "s");
    print_calls(r, a->warmup);
    if (r->has_loss) printf("  loss      %.10g\n", r->loss);
    printf("  MACs      %.4g per step and sample (validate), %.4g per call\n",
           r->plan.macs_per_step, r->macs);
    printf("  GFLOP/s   %.2f (median), %.2f (min)\n", gflops(r, r->median), gflops(r, r->min));
    if (r->trace_rows[1] > 0)
        printf("  traces    %.1f%% of the event-driven trace rows moved, the others only decayed\n",
               100 * r->trace_rows[0] / r->trace_rows[1]);
    printf("  memory    peak RSS %.1f MB", r->max_rss_mb);
    if (r->call_rss_mb >= 0)
        printf(" (%.1f MB loaded, %.1f MB peak during the calls)", r->rss_loaded_mb,
               r->call_rss_mb);
    printf("\n            data %.1f MB; runtime peaks: traces %.3f MB, history %.3f MB\n",
           data_bytes(j) / 1048576.0, r->peak[TRL_MEMORY_TRACE] / 1e6,
           r->peak[TRL_MEMORY_HISTORY] / 1e6);
    printf("            validate predicts traces %.3f MB, history %.3f MB (%d samples in "
           "memory at once)\n",
           r->plan.trace_bytes / 1e6, r->plan.history_bytes / 1e6, r->plan.samples_held);
}

static json_t *times_json(const struct bench_result *r)
{
    json_t *a = json_array();
    for (int i = 0; i < r->repeat; i++) json_array_append_new(a, json_real(r->times[i]));
    return a;
}

static json_t *peaks_json(const struct bench_result *r)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I}", "misc", (json_int_t)r->peak[TRL_MEMORY_MISC],
                     "params", (json_int_t)r->peak[TRL_MEMORY_PARAMS], "state",
                     (json_int_t)r->peak[TRL_MEMORY_STATE], "history",
                     (json_int_t)r->peak[TRL_MEMORY_HISTORY], "trace",
                     (json_int_t)r->peak[TRL_MEMORY_TRACE]);
}

/* A JSON number, or null when absent or not finite (JSON has no NaN). */
static json_t *real_or_null(bool present, double v)
{
    return present && isfinite(v) ? json_real(v) : json_null();
}

static json_t *memory_json(const struct bench_result *r)
{
    bool known = r->call_rss_mb >= 0;
    return json_pack("{s:f, s:o, s:o, s:o, s:o}", "peak_rss_mb", r->max_rss_mb, "rss_loaded_mb",
                     real_or_null(r->rss_loaded_mb >= 0, r->rss_loaded_mb), "call_peak_rss_mb",
                     real_or_null(known, r->call_rss_mb), "call_added_mb",
                     real_or_null(known, r->call_rss_mb - r->rss_loaded_mb), "mem_peak_bytes",
                     peaks_json(r));
}

static json_t *timing_json(const struct bench_args *a, const struct bench_result *r)
{
    return json_pack("{s:i, s:i, s:i, s:f, s:b, s:f, s:f, s:o}", "repeat", r->repeat,
                     "repeat_requested", a->repeat, "warmup", a->warmup, "budget_s", a->budget,
                     "warmup_counted", r->warmup_counted, "min_s", r->min, "median_s", r->median,
                     "times_s", times_json(r));
}

static int print_json(const struct bench_job *j, const struct bench_args *a,
                      const struct bench_result *r)
{
    const char *eng = engine_label(j);
    trl_blas_info blas;
    trl_blas_get_info(&blas);
    json_t *o = json_pack(
        "{s:s, s:s, s:o, s:s, s:i, s:i, s:i, s:i, s:o, s:f, s:f, s:f, s:f, s:f}", "graph",
        j->info.file, "algo", algo_label(j), "engine", eng ? json_string(eng) : json_null(),
        "precision", trl_precision(), "threads", r->plan.threads, "blas_threads", blas.threads, "B",
        j->B, "T", j->T, "loss", real_or_null(r->has_loss, r->loss), "macs_per_step_per_sample",
        r->plan.macs_per_step, "macs_per_call", r->macs, "gflops", gflops(r, r->median),
        "gflops_min", gflops(r, r->min), "data_mb", data_bytes(j) / 1048576.0);
    if (o) {
        json_object_update_new(o, timing_json(a, r));
        json_object_update_new(o, memory_json(r));
        json_object_set_new(
            o, "trace_rows_moved",
            real_or_null(r->trace_rows[1] > 0, r->trace_rows[0] / r->trace_rows[1]));
        json_object_set_new(o, "mem_predicted_bytes",
                            json_pack("{s:f, s:f, s:i}", "trace", r->plan.trace_bytes, "history",
                                      r->plan.history_bytes, "samples_held", r->plan.samples_held));
    }
    int rc = o && json_dumpf(o, stdout, JSON_COMPACT) == 0 ? EXIT_OK : EXIT_INPUT;
    printf("\n");
    json_decref(o);
    return rc;
}

/* Loads, times and reports one computation. */
static int bench_graph(const char *graph_path, const struct bench_args *a, struct bench_job *j)
{
    trl_error *err = cli_error_new();
    j->g = cli_graph(graph_path, err);
    if (!j->g) {
        trl_error_free(err);
        return EXIT_INPUT;
    }
    trl_graph_get_info(j->g, &j->info);
    int status = EXIT_INPUT;
    struct bench_result r = {.times = calloc(2 * (size_t)a->repeat, sizeof *r.times)};
    if (!r.times) /* times, then scratch */
        fprintf(stderr, "trellis bench: out of memory for %d times\n", a->repeat);
    else if (!j->is_run && j->info.loss_node < 0)
        fprintf(stderr,
                "%s: /loss: the graph has no loss; add \"loss\": {\"node\": ID, \"type\": "
                "\"mse\"} to time a gradient\n",
                j->info.file);
    else if (job_load(j, a, err) || job_time(j, a, &r, err) ||
             trl_plan_call(j->g, j->is_run ? NULL : &j->opt, j->B, j->T, &r.plan, err))
        status = cli_fail(err);
    else
        status = EXIT_OK;
    if (status == EXIT_OK) {
        r.macs = r.plan.macs_per_step * j->B * j->T;
        if (a->json)
            status = print_json(j, a, &r);
        else
            print_text(j, a, &r);
    }
    free(r.times);
    job_free(j);
    trl_error_free(err);
    return status;
}

static int bench_gemm(const struct bench_args *a, int n_pos)
{
    if (n_pos) return cli_usage_error(&cmd_bench, "--gemm takes no GRAPH");
    if (a->params_path || a->data_path || a->algo_name || a->engine_name || a->have_threads)
        return cli_usage_error(&cmd_bench, "--gemm measures the BLAS alone: no --params, --data, "
                                           "--algo, --engine or --threads (--blas-threads sets "
                                           "its threads)");
    struct gemm_shape shapes[BENCH_GEMM_MAX_SHAPES];
    int n = 0;
    if (a->shapes && (n = gemm_parse_shapes(a->shapes, shapes)) < 0)
        return cli_usage_error(&cmd_bench,
                               "--shapes needs up to %d products MxKxN separated by commas, each "
                               "side 1 to 65536 (got \"%s\")",
                               BENCH_GEMM_MAX_SHAPES, a->shapes);
    return bench_gemm_report(a->shapes ? shapes : NULL, n, a->json);
}

static int check_common(const struct bench_args *a)
{
    if (a->repeat < 1 || a->repeat > BENCH_MAX_REPEAT)
        return cli_usage_error(&cmd_bench, "--repeat must be 1 to %d (got %d)", BENCH_MAX_REPEAT,
                               a->repeat);
    if (a->warmup < 0 || a->warmup > BENCH_MAX_REPEAT)
        return cli_usage_error(&cmd_bench, "--warmup must be 0 to %d (got %d)", BENCH_MAX_REPEAT,
                               a->warmup);
    if (!(a->budget >= 0))
        return cli_usage_error(&cmd_bench, "--budget must be >= 0 seconds (got %g)", a->budget);
    if (a->have_threads && (a->threads < 1 || a->threads > BENCH_MAX_THREADS))
        return cli_usage_error(&cmd_bench, "--threads must be 1 to %d (got %d)", BENCH_MAX_THREADS,
                               a->threads);
    if (a->have_blas_threads && (a->blas_threads < 1 || a->blas_threads > BENCH_MAX_THREADS))
        return cli_usage_error(&cmd_bench, "--blas-threads must be 1 to %d (got %d)",
                               BENCH_MAX_THREADS, a->blas_threads);
    if (a->have_threads) trl_set_threads(a->threads);
    if (a->have_blas_threads) trl_blas_set_threads(a->blas_threads);
    return EXIT_OK;
}

static int bench_main(int argc, char **argv)
{
    struct bench_args a = {.repeat = 5, .warmup = 1};
    const char *pos[1];
    int n_pos = 1;
    const struct opt opts[] = {
        {"--params", NULL, OPT_STRING, &a.params_path, NULL},
        {"--data", NULL, OPT_STRING, &a.data_path, NULL},
        {"--algo", NULL, OPT_STRING, &a.algo_name, NULL},
        {"--engine", NULL, OPT_STRING, &a.engine_name, NULL},
        {"--repeat", NULL, OPT_INT, &a.repeat, NULL},
        {"--warmup", NULL, OPT_INT, &a.warmup, NULL},
        {"--budget", NULL, OPT_REAL, &a.budget, NULL},
        {"--threads", NULL, OPT_INT, &a.threads, &a.have_threads},
        {"--blas-threads", NULL, OPT_INT, &a.blas_threads, &a.have_blas_threads},
        {"--json", NULL, OPT_FLAG, &a.json, NULL},
        {"--gemm", NULL, OPT_FLAG, &a.gemm, NULL},
        {"--shapes", NULL, OPT_STRING, &a.shapes, NULL},
        CLI_RULE_OPTS(a.rule),
    };
    int rc = cli_parse(&cmd_bench, argc, argv, opts, CLI_COUNT(opts), pos, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    if ((rc = check_common(&a))) return rc;
    if (a.gemm) return bench_gemm(&a, n_pos);
    if (a.shapes) return cli_usage_error(&cmd_bench, "--shapes applies to --gemm only");
    if (n_pos != 1) return cli_usage_error(&cmd_bench, "expected one GRAPH file, or --gemm");
    if (!a.params_path) return cli_usage_error(&cmd_bench, "--params PARAMS is required");
    if (!a.data_path) return cli_usage_error(&cmd_bench, "--data DATA is required");
    struct bench_job j = {0};
    if ((rc = parse_algo(&a, &j))) return rc;
    return bench_graph(pos[0], &a, &j);
}

const struct command cmd_bench = {
    .name = "bench",
    .run = bench_main,
    .usage = "GRAPH --params PARAMS --data DATA --algo run|bptt|rtrl|eprop "
             "[--engine online|reverse] [--order M] [--feedback symmetric|random] [--repeat N] "
             "[--warmup N] [--budget S] [--threads N] "
             "[--blas-threads N] "
             "[--json]\n"
             "   or: trellis bench --gemm [--shapes MxKxN,...] [--blas-threads N] [--json]",
    .summary = "time a computation (or this machine's GEMM): seconds, memory, GFLOP/s",
    .help = "Reads the files once, warms up with one call, then times N calls. A call is\n"
            "what `run` or `grad` computes without the files: forward and loss, plus the\n"
            "gradient for bptt, rtrl and eprop. Prints min and median seconds per call;\n"
            "the peak resident memory of the process (ru_maxrss), and its resident memory\n"
            "once loaded and at its peak during the calls; the runtime's peak bytes of\n"
            "traces and stored history; the loss; validate's predicted multiply-adds for\n"
            "the algorithm times B T; the GFLOP/s achieved (2 MACs / median); and for\n"
            "rtrl and eprop online, the share of event-driven trace rows that moved (a\n"
            "spiking unit away from threshold only decays its rows; the MACs count all).\n"
            "--gemm instead times the BLAS product C = A W^T (cblas_sgemm in float32) on\n"
            "square sizes (the peak) and on the benchmark workloads' shapes.\n\n"
            "options:\n"
            "  --params PARAMS   parameter file\n"
            "  --data DATA       data file (with a target for a gradient)\n"
            "  --algo ALGO       run, bptt, rtrl or eprop\n"
            "  --engine ENGINE   eprop only: online (default) or reverse\n"
            "  --order M         eprop only: m-order e-prop (SPEC 6.2; default 1)\n"
            "  --feedback MODE   symmetric (default) or random (PARAMS' feedback matrices)\n"
            "  --repeat N        timed calls after the warm-up (default 5)\n"
            "  --warmup N        untimed calls first (default 1)\n"
            "  --budget S        stop timing once the timed calls took S seconds (at least\n"
            "                    one call); a warm-up call longer than S is the one\n"
            "                    measurement (default 0: no limit)\n"
            "  --threads N       threads over the batch (default: TRELLIS_THREADS, else the\n"
            "                    processors; kernels/parallel.h)\n"
            "  --blas-threads N  BLAS threads per runtime thread (default:\n"
            "                    OPENBLAS_NUM_THREADS, else 1)\n"
            "  --json            one JSON object instead of text\n"
            "  --gemm            measure the BLAS GEMM rate instead of a graph\n"
            "  --shapes LIST     --gemm: the products to time, MxKxN for [M x K] x [K x N],\n"
            "                    separated by commas (default: the workloads' shapes)\n\n"
            "example:\n"
            "  trellis bench models/lsnn.json --params p.safetensors --data d.safetensors "
            "--algo eprop --repeat 5\n"
            "  trellis bench --gemm --shapes 32x128x128,512x1024x1024\n",
};
