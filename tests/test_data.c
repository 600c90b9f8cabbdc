/* test_data.c - streamed data sets (data_open, data_window_*: io/data.h)
 * and the online gradient engines that read them a window at a time.
 *
 *   bits          streamed rtrl and eprop online gradients and losses equal
 *                 the in-memory ones bit for bit: every fixture, and random
 *                 graphs split into several chunks over 1 to 3 threads, with
 *                 windows of 7 steps (T not a multiple), 1 step and the
 *                 default size; the z_sum and loss_z hooks too
 *   memory        a streamed online gradient allocates the same bytes per
 *                 kind (peaks) and the same number of blocks at T = 50 and
 *                 T = 500; data_load's grow with T
 *   errors        data_open reports what data_load reports, message for
 *                 message; a file truncated before it is opened, truncated
 *                 while in use, or given a NaN while in use, fails cleanly
 *                 with the tensor named, in the library and in trellis grad;
 *                 the reverse engines refuse streamed data
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engines/grad.h"
#include "kernels/parallel.h"
#include "io/safetensors.h"
#include "tests/support/cli_run.h"
#include "tests/support/randgraph.h"
#include "tests/support/st_build.h"
#include "tests/support/testutil.h"

static struct graph *fixture_graph(const char *name, trl_real **params)
{
    struct trl_errors err;
    struct graph *g = graph_load(tu_fixture(name, "graph.json"), &err);
    ck_assert_msg(g, "%s: graph does not load", name);
    *params = params_new(g);
    ck_assert_int_eq(params_load(g, tu_fixture(name, "params.safetensors"), *params, &err), 0);
    return g;
}

/* Random data for g written to a scratch file; returns its path. */
static const char *write_random(const struct graph *g, uint64_t seed, int B, int T,
                                const char *file)
{
    struct data *d = randgraph_data(g, seed, B, T);
    struct trl_errors err;
    const char *path = tu_tmp(file);
    ck_assert_int_eq(data_save(g, d, path, &err), 0);
    data_free(d);
    return path;
}

static struct data *must_open(const struct graph *g, const char *path, int window)
{
    struct trl_errors err;
    trl_errors_init(&err, path);
    struct data *d = data_open(g, path, DATA_TARGET_REQUIRED, &err);
    ck_assert_msg(d, "%s: %s", path, err.n ? err.e[0].msg : "");
    ck_assert_ptr_null(d->x[0]); /* streamed: no values held by the set itself */
    d->window_steps = window;
    return d;
}

static struct data *must_load(const struct graph *g, const char *path)
{
    struct trl_errors err;
    struct data *d = data_load(g, path, DATA_TARGET_REQUIRED, &err);
    ck_assert_msg(d, "%s: %s", path, err.n ? err.e[0].msg : "");
    return d;
}

/* rtrl and eprop online on d (in memory) and s (streamed) give the same bits. */
static void check_same_bits(const struct graph *g, const trl_real *params, const struct data *d,
                            const struct data *s, const char *label)
{
    static const enum grad_algo algos[2] = {GRAD_RTRL, GRAD_EPROP};
    trl_real *a = params_new(g), *b = params_new(g);
    struct trl_errors err;
    trl_errors_init(&err, label);
    for (int k = 0; k < 2; k++) {
        double la, lb;
        ck_assert_int_eq(grad_compute(g, params, d, algos[k], GRAD_ENGINE_ONLINE, a, &la, &err), 0);
        ck_assert_msg(grad_compute(g, params, s, algos[k], GRAD_ENGINE_ONLINE, b, &lb, &err) == 0,
                      "%s: %s", label, err.n ? err.e[0].msg : "");
        ck_assert_msg(memcmp(a, b, g->n_param_values * sizeof *a) == 0 && la == lb,
                      "%s %s: streamed gradient differs (loss %.17g vs %.17g)", label,
                      grad_algo_names[algos[k]], lb, la);
    }
    trl_free(a);
    trl_free(b);
}

START_TEST(fixture_bits)
{
    const char *name = tu_fixture_names[_i];
    trl_real *params;
    struct graph *g = fixture_graph(name, &params);
    const char *path = tu_fixture(name, "data.safetensors");
    struct data *d = must_load(g, path);
    for (int window = 0; window <= 7; window += 7) { /* the default size, and 7 steps */
        struct data *s = must_open(g, path, window);
        check_same_bits(g, params, d, s, name);
        data_free(s);
    }
    data_free(d);
    trl_free(params);
    graph_free(g);
}
END_TEST

START_TEST(random_bits_chunks_and_threads)
{
    struct randgraph_opts o = {.max_hidden = 4};
    const int B = 7, T = 45; /* 45 = 6 windows of 7 and 3 steps */
    char *json = randgraph_json(7919 * (uint64_t)(_i + 1), &o);
    struct graph *g = tu_graph(json);
    trl_real *params = params_new(g);
    params_init(g, (uint64_t)_i + 1, params);
    const char *path = write_random(g, (uint64_t)_i + 3, B, T, "random.st");
    struct data *d = must_load(g, path);
    for (int threads = 1; threads <= 3; threads++) {
        par_set_threads(threads);
        /* several chunks when more than one thread: views with first > 0 */
        if (threads > 1) ck_assert_int_lt(grad_chunk_size(g, GRAD_EPROP, GRAD_ENGINE_ONLINE, B), B);
        static const int windows[3] = {7, 1, 0};
        for (int w = 0; w < 3; w++) {
            struct data *s = must_open(g, path, windows[w]);
            check_same_bits(g, params, d, s, "random");
            data_free(s);
        }
    }
    par_set_threads(0);
    data_free(d);
    trl_free(params);
    graph_free(g);
    free(json);
}
END_TEST

/* The training hooks read the same values from a streamed set. */
START_TEST(hooks_on_streamed_data)
{
    trl_real *params;
    struct graph *g = fixture_graph("alif_adaptation", &params);
    const int B = 5, T = 30, K = g->nodes[g->loss_node].size;
    const char *path = write_random(g, 11, B, T, "hooks.st");
    struct data *d = must_load(g, path), *s = must_open(g, path, 4);
    double z_sum[2][64] = {{0}};
    trl_real *loss_z[2], *grad = params_new(g);
    ck_assert_int_le(g->n_nodes, 64);
    par_set_threads(2);
    for (int k = 0; k < 2; k++) {
        loss_z[k] = trl_alloc((size_t)B * T * K, sizeof(trl_real), TRL_MEM_MISC);
        struct grad_hooks h = {.z_sum = z_sum[k], .loss_z = loss_z[k]};
        struct trl_errors err;
        trl_errors_init(&err, "hooks");
        double loss;
        ck_assert_int_eq(grad_compute_hooks(g, params, k ? s : d, GRAD_EPROP, GRAD_ENGINE_ONLINE,
                                            &h, grad, &loss, &err),
                         0);
    }
    par_set_threads(0);
    ck_assert(memcmp(z_sum[0], z_sum[1], sizeof z_sum[0]) == 0);
    ck_assert(memcmp(loss_z[0], loss_z[1], (size_t)B * T * K * sizeof(trl_real)) == 0);
    trl_free(loss_z[0]);
    trl_free(loss_z[1]);
    trl_free(grad);
    data_free(d);
    data_free(s);
    trl_free(params);
    graph_free(g);
}
END_TEST

struct usage {
    size_t peak[TRL_MEM_KINDS]; /* bytes above what was live before the call */
    uint64_t n_alloc;
};

/* What one online gradient on d allocates, by kind. */
static struct usage grad_usage(const struct graph *g, const trl_real *params, const struct data *d,
                               enum grad_algo algo)
{
    trl_real *grad = params_new(g);
    struct trl_errors err;
    trl_errors_init(&err, "memory");
    struct usage u;
    size_t before[TRL_MEM_KINDS];
    trl_mem_reset_peak();
    const struct trl_mem_stats *st = trl_mem_stats();
    memcpy(before, st->current, sizeof before);
    const uint64_t n0 = st->n_alloc;
    double loss;
    ck_assert_int_eq(grad_compute(g, params, d, algo, GRAD_ENGINE_ONLINE, grad, &loss, &err), 0);
    for (int k = 0; k < TRL_MEM_KINDS; k++) u.peak[k] = st->peak[k] - before[k];
    u.n_alloc = st->n_alloc - n0;
    trl_free(grad);
    return u;
}

START_TEST(memory_constant_in_T)
{
    static const enum grad_algo algos[2] = {GRAD_RTRL, GRAD_EPROP};
    trl_real *params;
    struct graph *g = fixture_graph(_i ? "dag_skip" : "alif_adaptation", &params);
    const char *p50 = write_random(g, 5, 6, 50, "t50.st");
    const char *p500 = write_random(g, 5, 6, 500, "t500.st");
    par_set_threads(1); /* one engine at a time: peaks that do not depend on timing */
    for (int a = 0; a < 2; a++) {
        struct data *s50 = must_open(g, p50, 0), *s500 = must_open(g, p500, 0);
        struct usage u50 = grad_usage(g, params, s50, algos[a]);
        struct usage u500 = grad_usage(g, params, s500, algos[a]);
        for (int k = 0; k < TRL_MEM_KINDS; k++)
            ck_assert_msg(u50.peak[k] == u500.peak[k],
                          "%s kind %d: %zu bytes at T = 50, %zu at 500", grad_algo_names[algos[a]],
                          k, u50.peak[k], u500.peak[k]);
        ck_assert_uint_eq(u50.n_alloc, u500.n_alloc);
        ck_assert_uint_eq(u50.peak[TRL_MEM_HISTORY], 0);
        data_free(s50);
        data_free(s500);
    }
    /* what streaming saves: data in memory grows with T */
    size_t before = trl_mem_stats()->current[TRL_MEM_MISC];
    struct data *d50 = must_load(g, p50);
    size_t m50 = trl_mem_stats()->current[TRL_MEM_MISC] - before;
    struct data *d500 = must_load(g, p500);
    size_t m500 = trl_mem_stats()->current[TRL_MEM_MISC] - before - m50;
    ck_assert_uint_gt(m500, 5 * m50);
    data_free(d50);
    data_free(d500);
    par_set_threads(0);
    trl_free(params);
    graph_free(g);
}
END_TEST

/* Every stored message of a and b, in order, as one text each. */
static void check_same_errors(const struct trl_errors *a, const struct trl_errors *b)
{
    ck_assert_int_eq(a->n_total, b->n_total);
    ck_assert_int_gt(a->n_total, 0);
    for (int k = 0; k < a->n; k++) {
        ck_assert_str_eq(a->e[k].path, b->e[k].path);
        ck_assert_str_eq(a->e[k].msg, b->e[k].msg);
    }
}

/* data_open and data_load on a bad file: the same errors. */
static void check_open_like_load(const struct graph *g, const char *path)
{
    struct trl_errors el, eo;
    trl_errors_init(&el, path);
    trl_errors_init(&eo, path);
    ck_assert_ptr_null(data_load(g, path, DATA_TARGET_REQUIRED, &el));
    ck_assert_ptr_null(data_open(g, path, DATA_TARGET_REQUIRED, &eo));
    check_same_errors(&el, &eo);
}

START_TEST(open_reports_what_load_reports)
{
    trl_real *params;
    struct graph *g = fixture_graph("rnn_tanh", &params);
    struct data *d = randgraph_data(g, 3, 2, 9);
    struct trl_errors err;
    const char *path = tu_tmp("bad.st");
    d->x[0][5] = NAN; /* a NaN input and an infinite target */
    d->target[3] = INFINITY;
    ck_assert_int_eq(data_save(g, d, path, &err), 0);
    check_open_like_load(g, path);
    data_free(d);
    const char *hdr = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}";
    size_t n;
    unsigned char *bytes = stb_bytes(hdr, 24, &n); /* wrong key, no target */
    ck_assert_int_eq(stb_write_file(path, bytes, n), 0);
    free(bytes);
    check_open_like_load(g, path);
    trl_free(params);
    graph_free(g);
}
END_TEST

START_TEST(truncated_before_open)
{
    trl_real *params;
    struct graph *g = fixture_graph("lif_eprop", &params);
    const char *path = write_random(g, 2, 3, 20, "cut.st");
    size_t n;
    unsigned char *bytes = stb_read_file(path, &n);
    ck_assert_int_eq(stb_write_file(path, bytes, n - 100), 0);
    free(bytes);
    check_open_like_load(g, path);
    struct trl_errors err;
    trl_errors_init(&err, path);
    ck_assert_ptr_null(data_open(g, path, DATA_TARGET_REQUIRED, &err));
    ck_assert_msg(strstr(err.e[err.n - 1].msg, "end of the data section"), "%s",
                  err.e[err.n - 1].msg);
    /* trellis grad (online: streamed) names the file and exits 1 */
    char graph[512], params_path[512]; /* tu_fixture's buffer is static */
    snprintf(graph, sizeof graph, "%s", tu_fixture("lif_eprop", "graph.json"));
    snprintf(params_path, sizeof params_path, "%s", tu_fixture("lif_eprop", "params.safetensors"));
    struct cli_result r =
        cli_run(NULL, (const char *const[]){"grad", graph, "--params", params_path, "--data", path,
                                            "--algo", "eprop", "-o", tu_tmp("g.st"), NULL});
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strncmp(r.err, path, strlen(path)) == 0 && strstr(r.err, "data section"), "%s",
                  r.err);
    cli_result_free(&r);
    trl_free(params);
    graph_free(g);
}
END_TEST

/* A gradient on s fails with an error naming the tensor and containing what. */
static void check_grad_fails(const struct graph *g, const trl_real *params, const struct data *s,
                             enum grad_algo algo, enum grad_engine engine, const char *what)
{
    trl_real *grad = params_new(g);
    struct trl_errors err;
    trl_errors_init(&err, "streamed");
    double loss;
    ck_assert_int_eq(grad_compute(g, params, s, algo, engine, grad, &loss, &err), -1);
    ck_assert_int_ge(err.n, 1);
    ck_assert_msg(strstr(err.e[0].msg, what), "%s: %s", err.e[0].path, err.e[0].msg);
    trl_free(grad);
}

START_TEST(changed_while_in_use)
{
    trl_real *params;
    struct graph *g = fixture_graph("lif_eprop", &params);
    const int B = 4, T = 40;
    const char *path = write_random(g, 4, B, T, "shrinks.st");
    par_set_threads(2);
    /* truncated after it was opened: the windows past the cut cannot be read */
    struct data *s = must_open(g, path, 8);
    size_t n;
    unsigned char *bytes = stb_read_file(path, &n);
    ck_assert_int_eq(truncate(path, (off_t)(n * 3 / 4)), 0);
    check_grad_fails(g, params, s, GRAD_EPROP, GRAD_ENGINE_DEFAULT, "it changed while in use");
    check_grad_fails(g, params, s, GRAD_RTRL, GRAD_ENGINE_DEFAULT, "the file ends at byte");
    data_free(s);
    /* a value that becomes NaN after the checks */
    ck_assert_int_eq(stb_write_file(path, bytes, n), 0);
    s = must_open(g, path, 8);
    const trl_real nan = NAN; /* the file's last value (the mask's), in the binary's dtype */
    memcpy(bytes + n - sizeof nan, &nan, sizeof nan);
    ck_assert_int_eq(stb_write_file(path, bytes, n), 0);
    check_grad_fails(g, params, s, GRAD_EPROP, GRAD_ENGINE_DEFAULT,
                     "not finite, but it was when the file was opened");
    data_free(s);
    free(bytes);
    par_set_threads(0);
    trl_free(params);
    graph_free(g);
}
END_TEST

START_TEST(reverse_engines_refuse_streamed)
{
    trl_real *params;
    struct graph *g = fixture_graph("rnn_tanh", &params);
    const char *path = write_random(g, 6, 2, 10, "rev.st");
    struct data *s = must_open(g, path, 0);
    check_grad_fails(g, params, s, GRAD_BPTT, GRAD_ENGINE_DEFAULT, "backwards in time");
    check_grad_fails(g, params, s, GRAD_EPROP, GRAD_ENGINE_REVERSE,
                     "eprop (reverse engine) reads the data backwards in time");
    data_free(s);
    trl_free(params);
    graph_free(g);
}
END_TEST

int main(void)
{
    if (tu_tmp_init("data")) return 1;
    Suite *s = suite_create("data");
    TCase *tc = tcase_create("streamed");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, fixture_bits, 0, 6);
    tcase_add_loop_test(tc, random_bits_chunks_and_threads, 0, 3);
    tcase_add_test(tc, hooks_on_streamed_data);
    tcase_add_loop_test(tc, memory_constant_in_T, 0, 2);
    tcase_add_test(tc, open_reports_what_load_reports);
    tcase_add_test(tc, truncated_before_open);
    tcase_add_test(tc, changed_while_in_use);
    tcase_add_test(tc, reverse_engines_refuse_streamed);
    suite_add_tcase(s, tc);
    int failed = tu_run_suite(s, false);
    if (tu_tmp_remove()) failed++;
    return failed ? 1 : 0;
}
