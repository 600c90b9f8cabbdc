/* test_gradients.c - every gradient algorithm against the fixtures, against
 * each other on random graphs, and against finite differences (SPEC section 6).
 *
 *   fixtures        bptt and rtrl = grad_exact, eprop (both engines) =
 *                   grad_eprop: 1e-6 per tensor, loss 1e-9 (float64)
 *   random graphs   rtrl = bptt and eprop online = eprop reverse to 1e-9;
 *                   with no delayed edge eprop = bptt (nothing is pruned);
 *                   over 240 steps (float64), where event-driven trace rows
 *                   rest long
 *   smooth graphs   bptt = central differences to 1e-6
 *   memory          the trace bytes of rtrl and eprop online do not depend on
 *                   T and equal what the plan (and validate) predicts
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engines/grad.h"
#include "kernels/parallel.h"
#include "engines/trace_plan.h"
#include "tests/support/randgraph.h"
#include "tests/support/testutil.h"

#ifdef TRL_F64
#define TOL_FIXTURE 1e-6
#define TOL_LOSS    1e-9
#define TOL_AGREE   1e-9
#define LOSS_AGREE  1e-12
#else
#define TOL_FIXTURE 2e-3 /* float32: only the non-spiking fixtures are compared */
#define TOL_LOSS    1e-5
#define TOL_AGREE   2e-3
#define LOSS_AGREE  1e-5 /* float32: engines may sum a step's products in another order */
#endif

struct fixture {
    struct graph *g;
    trl_real *params;
    struct data *d;
};

static void fixture_load(struct fixture *fx, const char *name)
{
    struct trl_errors err;
    fx->g = graph_load(tu_fixture(name, "graph.json"), &err);
    ck_assert_msg(fx->g, "%s: graph does not load", name);
    fx->params = params_new(fx->g);
    trl_errors_init(&err, name);
    ck_assert_int_eq(params_load(fx->g, tu_fixture(name, "params.safetensors"), fx->params, &err),
                     0);
    fx->d = data_load(fx->g, tu_fixture(name, "data.safetensors"), DATA_TARGET_REQUIRED, &err);
    ck_assert_ptr_nonnull(fx->d);
}

static void fixture_free(struct fixture *fx)
{
    data_free(fx->d);
    trl_free(fx->params);
    graph_free(fx->g);
}

#ifndef TRL_F64
static bool spiking_fixture(const struct graph *g)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].op->name, "lif") == 0 || strcmp(g->nodes[i].op->name, "alif") == 0)
            return true;
    return false;
}
#endif

static void check_fixture(const char *name, enum grad_algo algo, enum grad_engine engine,
                          const char *expected)
{
    struct fixture fx;
    fixture_load(&fx, name);
#ifndef TRL_F64
    if (spiking_fixture(fx.g)) { /* a spike can flip within float32 rounding of the threshold */
        fixture_free(&fx);
        return;
    }
#endif
    trl_real *grad = params_new(fx.g);
    double loss = 0;
    struct trl_errors err;
    trl_errors_init(&err, name);
    ck_assert_int_eq(grad_compute(fx.g, fx.params, fx.d, algo, engine, grad, &loss, &err), 0);
    char label[128];
    snprintf(label, sizeof label, "%s %s%s", name, grad_algo_names[algo],
             engine == GRAD_ENGINE_REVERSE ? " reverse" : "");
    int bad = tu_compare_grad_file(fx.g, grad, loss, tu_fixture(name, expected), TOL_FIXTURE,
                                   TOL_LOSS, label);
    ck_assert_msg(bad == 0, "%s: %d tensors differ from %s", label, bad, expected);
    trl_free(grad);
    fixture_free(&fx);
}

START_TEST(fixture_bptt)
{
    check_fixture(tu_fixture_names[_i], GRAD_BPTT, GRAD_ENGINE_DEFAULT, "grad_exact.safetensors");
}
END_TEST

START_TEST(fixture_rtrl)
{
    check_fixture(tu_fixture_names[_i], GRAD_RTRL, GRAD_ENGINE_DEFAULT, "grad_exact.safetensors");
}
END_TEST

START_TEST(fixture_eprop_online)
{
    check_fixture(tu_fixture_names[_i], GRAD_EPROP, GRAD_ENGINE_ONLINE, "grad_eprop.safetensors");
}
END_TEST

START_TEST(fixture_eprop_reverse)
{
    check_fixture(tu_fixture_names[_i], GRAD_EPROP, GRAD_ENGINE_REVERSE, "grad_eprop.safetensors");
}
END_TEST

/* Two algorithms on the same random graph and T steps of data agree to tol;
 * returns the number of tensors that differ. The first runs with the trace
 * activity hook when rows is not NULL (grad_hooks.trace_rows). */
static int compare_algos_T(uint64_t seed, const struct randgraph_opts *o, int T, double *rows,
                           enum grad_algo a1, enum grad_engine e1, enum grad_algo a2,
                           enum grad_engine e2)
{
    char *json = randgraph_json(seed, o);
    struct graph *g = tu_graph(json);
    ck_assert_msg(g, "random graph %llu is invalid:\n%s", (unsigned long long)seed, json);
    trl_real *params = params_new(g), *g1 = params_new(g), *g2 = params_new(g);
    params_init(g, seed, params);
    struct data *d = randgraph_data(g, seed, 2, T);
    double l1 = 0, l2 = 0;
    struct trl_errors err;
    trl_errors_init(&err, "random");
    const struct grad_hooks hooks = {.trace_rows = rows};
    ck_assert_int_eq(grad_compute_hooks(g, params, d, a1, e1, rows ? &hooks : NULL, g1, &l1, &err),
                     0);
    ck_assert_int_eq(grad_compute(g, params, d, a2, e2, g2, &l2, &err), 0);
    char label[64];
    snprintf(label, sizeof label, "random graph %llu", (unsigned long long)seed);
    int bad = tu_compare_grads(g, g1, g2, TOL_AGREE, label);
    ck_assert_msg(fabs(l1 - l2) <= LOSS_AGREE * fabs(l2) + 1e-300, "loss %.17g vs %.17g", l1, l2);
    if (bad) fprintf(stderr, "%s\n", json);
    trl_free(params);
    trl_free(g1);
    trl_free(g2);
    data_free(d);
    graph_free(g);
    free(json);
    return bad;
}

static int compare_algos(uint64_t seed, const struct randgraph_opts *o, enum grad_algo a1,
                         enum grad_engine e1, enum grad_algo a2, enum grad_engine e2)
{
    return compare_algos_T(seed, o, 12, NULL, a1, e1, a2, e2);
}

START_TEST(random_rtrl_equals_bptt)
{
    struct randgraph_opts o = {.max_hidden = 5};
    for (uint64_t seed = 1; seed <= 40; seed++)
        ck_assert_int_eq(compare_algos(seed * 7919 + (uint64_t)_i, &o, GRAD_RTRL,
                                       GRAD_ENGINE_DEFAULT, GRAD_BPTT, GRAD_ENGINE_DEFAULT),
                         0);
}
END_TEST

START_TEST(random_eprop_engines_agree)
{
    struct randgraph_opts o = {.max_hidden = 6};
    for (uint64_t seed = 1; seed <= 40; seed++)
        ck_assert_int_eq(compare_algos(seed * 104729 + (uint64_t)_i, &o, GRAD_EPROP,
                                       GRAD_ENGINE_ONLINE, GRAD_EPROP, GRAD_ENGINE_REVERSE),
                         0);
}
END_TEST

START_TEST(random_no_delay_eprop_equals_bptt)
{
    struct randgraph_opts o = {.max_hidden = 6, .no_delays = true};
    for (uint64_t seed = 1; seed <= 30; seed++) {
        ck_assert_int_eq(compare_algos(seed * 31 + (uint64_t)_i, &o, GRAD_EPROP, GRAD_ENGINE_ONLINE,
                                       GRAD_BPTT, GRAD_ENGINE_DEFAULT),
                         0);
        ck_assert_int_eq(compare_algos(seed * 31 + (uint64_t)_i, &o, GRAD_EPROP,
                                       GRAD_ENGINE_REVERSE, GRAD_BPTT, GRAD_ENGINE_DEFAULT),
                         0);
    }
}
END_TEST

#ifdef TRL_F64
/* Event-driven trace rows (trace_plan.h) over sequences long enough that
 * rows rest for dozens of steps, their scales run low and are settled into
 * the rows, and a loss node's pending gradient terms gather: eprop online
 * still equals eprop reverse, and rtrl bptt. The activity hook shows that
 * rows did rest (and moved). */
START_TEST(event_driven_rows_agree)
{
    struct randgraph_opts o = {.max_hidden = 4};
    double rows[2] = {0, 0};
    for (uint64_t seed = 1; seed <= 12; seed++) {
        const uint64_t s = seed * 7727 + (uint64_t)_i;
        ck_assert_int_eq(compare_algos_T(s, &o, 240, rows, GRAD_EPROP, GRAD_ENGINE_ONLINE,
                                         GRAD_EPROP, GRAD_ENGINE_REVERSE),
                         0);
        ck_assert_int_eq(compare_algos_T(s, &o, 240, rows, GRAD_RTRL, GRAD_ENGINE_DEFAULT,
                                         GRAD_BPTT, GRAD_ENGINE_DEFAULT),
                         0);
    }
    ck_assert_double_gt(rows[0], 0);       /* rows moved */
    ck_assert_double_lt(rows[0], rows[1]); /* and rows rested */
}
END_TEST

/* Central differences of the loss, per parameter entry (float64 only). */
static double loss_at(const struct graph *g, const trl_real *params, const struct data *d)
{
    struct run_result res;
    struct trl_errors err;
    trl_errors_init(&err, "fd");
    ck_assert_int_eq(run_forward(g, params, d, &res, &err), 0);
    double l = res.loss;
    run_result_free(&res);
    return l;
}

START_TEST(smooth_bptt_matches_finite_differences)
{
    struct randgraph_opts o = {.max_hidden = 4, .smooth = true};
    for (uint64_t seed = 1; seed <= 12; seed++) {
        char *json = randgraph_json(seed * 13 + (uint64_t)_i, &o);
        struct graph *g = tu_graph(json);
        ck_assert_ptr_nonnull(g);
        trl_real *params = params_new(g), *grad = params_new(g), *fd = params_new(g);
        params_init(g, seed, params);
        struct data *d = randgraph_data(g, seed, 2, 10);
        double loss;
        struct trl_errors err;
        trl_errors_init(&err, "fd");
        ck_assert_int_eq(
            grad_compute(g, params, d, GRAD_BPTT, GRAD_ENGINE_DEFAULT, grad, &loss, &err), 0);
        const double h = 1e-5;
        for (size_t k = 0; k < g->n_param_values; k++) {
            trl_real keep = params[k];
            params[k] = keep + h;
            double up = loss_at(g, params, d);
            params[k] = keep - h;
            double down = loss_at(g, params, d);
            params[k] = keep;
            fd[k] = (trl_real)((up - down) / (2 * h));
        }
        for (int p = 0; p < g->n_params; p++) /* no_self diagonals are held at 0 */
            if (g->params[p].edge >= 0 && g->edges[g->params[p].edge].no_self)
                for (int j = 0; j < g->params[p].rows; j++)
                    fd[g->params[p].offset + (size_t)j * g->params[p].cols + j] = 0;
        int bad = tu_compare_grads(g, grad, fd, 1e-6, "finite differences");
        if (bad) fprintf(stderr, "%s\n", json);
        ck_assert_int_eq(bad, 0);
        trl_free(params);
        trl_free(grad);
        trl_free(fd);
        data_free(d);
        graph_free(g);
        free(json);
    }
}
END_TEST
#endif

/* Bytes the engine allocates for traces while computing one gradient. */
static size_t trace_bytes(const struct graph *g, const trl_real *params, const struct data *d,
                          enum grad_algo algo)
{
    trl_real *grad = params_new(g);
    double loss;
    struct trl_errors err;
    trl_errors_init(&err, "memory");
    size_t before = trl_mem_stats()->current[TRL_MEM_TRACE];
    trl_mem_reset_peak();
    ck_assert_int_eq(grad_compute(g, params, d, algo, GRAD_ENGINE_ONLINE, grad, &loss, &err), 0);
    size_t used = trl_mem_stats()->peak[TRL_MEM_TRACE] - before;
    size_t history = trl_mem_stats()->peak[TRL_MEM_HISTORY];
    ck_assert_uint_eq(history, 0); /* no stored history in an online algorithm */
    trl_free(grad);
    return used;
}

START_TEST(online_memory_constant_in_T)
{
    par_set_threads(1); /* one engine, so the peak is every trace at once */
    struct fixture fx;
    fixture_load(&fx, _i == 0 ? "alif_adaptation" : "dag_skip");
    const enum grad_algo algos[2] = {GRAD_RTRL, GRAD_EPROP};
    for (int a = 0; a < 2; a++) {
        struct data *d50 = randgraph_data(fx.g, 1, 3, 50), *d500 = randgraph_data(fx.g, 1, 3, 500);
        size_t m50 = trace_bytes(fx.g, fx.params, d50, algos[a]);
        size_t m500 = trace_bytes(fx.g, fx.params, d500, algos[a]);
        ck_assert_uint_gt(m50, 0);
        ck_assert_uint_eq(m50, m500);
        struct trace_plan *plan =
            trace_plan_new(fx.g, algos[a] == GRAD_RTRL ? TRACE_RTRL : TRACE_EPROP);
        /* one engine at a time, on chunks of grad_chunk_size samples */
        size_t chunk = (size_t)grad_chunk_size(fx.g, algos[a], GRAD_ENGINE_ONLINE, 3);
        ck_assert_uint_eq(m50, trace_plan_values(plan, fx.g) * chunk * sizeof(trl_real));
        trace_plan_free(plan);
        data_free(d50);
        data_free(d500);
    }
    fixture_free(&fx);
    par_set_threads(0);
}
END_TEST

/* The batch split over threads (kernels/parallel.h) gives the gradient of
 * the whole batch: 1, 2 and 3 threads agree to rounding, for every engine,
 * with shards of unequal size. */
START_TEST(threads_agree)
{
    static const enum grad_algo algos[] = {GRAD_BPTT, GRAD_RTRL, GRAD_EPROP, GRAD_EPROP};
    static const enum grad_engine engines[] = {GRAD_ENGINE_DEFAULT, GRAD_ENGINE_DEFAULT,
                                               GRAD_ENGINE_ONLINE, GRAD_ENGINE_REVERSE};
    struct randgraph_opts o = {.max_hidden = 5};
    for (uint64_t seed = 1; seed <= 10; seed++) {
        char *json = randgraph_json(seed * 4099, &o);
        struct graph *g = tu_graph(json);
        trl_real *params = params_new(g), *g1 = params_new(g), *gn = params_new(g);
        params_init(g, seed, params);
        struct data *d = randgraph_data(g, seed, 5, 9);
        struct trl_errors err;
        trl_errors_init(&err, "threads");
        for (int a = 0; a < 4; a++) {
            double l1, ln;
            par_set_threads(1);
            ck_assert_int_eq(grad_compute(g, params, d, algos[a], engines[a], g1, &l1, &err), 0);
            for (int n = 2; n <= 3; n++) {
                par_set_threads(n);
                ck_assert_int_eq(grad_compute(g, params, d, algos[a], engines[a], gn, &ln, &err),
                                 0);
                ck_assert_int_eq(tu_compare_grads(g, gn, g1, TOL_AGREE, "threads"), 0);
                ck_assert(fabs(ln - l1) <= 1e-6 * fabs(l1));
            }
        }
        par_set_threads(0);
        trl_free(params);
        trl_free(g1);
        trl_free(gn);
        data_free(d);
        graph_free(g);
        free(json);
    }
}
END_TEST

/* A batch split into more chunks than threads (a cache of a few bytes makes
 * each sample a chunk, on any host) gives the same bits at every run: chunks
 * are summed in a fixed order. */
START_TEST(chunked_runs_are_reproducible)
{
    struct fixture fx;
    fixture_load(&fx, "alif_adaptation");
    struct data *d = randgraph_data(fx.g, 2, 7, 30);
    par_set_threads(2);
    par_set_cache_bytes(16);
    ck_assert_int_eq(grad_chunk_size(fx.g, GRAD_RTRL, GRAD_ENGINE_DEFAULT, 7), 1);
    trl_real *g1 = params_new(fx.g), *g2 = params_new(fx.g);
    double l1, l2;
    struct trl_errors err;
    trl_errors_init(&err, "chunks");
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(
            grad_compute(fx.g, fx.params, d, GRAD_RTRL, GRAD_ENGINE_DEFAULT, g1, &l1, &err), 0);
        ck_assert_int_eq(
            grad_compute(fx.g, fx.params, d, GRAD_RTRL, GRAD_ENGINE_DEFAULT, g2, &l2, &err), 0);
        ck_assert(memcmp(g1, g2, fx.g->n_param_values * sizeof *g1) == 0 && l1 == l2);
    }
    par_set_cache_bytes(0);
    par_set_threads(0);
    trl_free(g1);
    trl_free(g2);
    data_free(d);
    fixture_free(&fx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gradients");
    TCase *tc = tcase_create("fixtures");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, fixture_bptt, 0, 6);
    tcase_add_loop_test(tc, fixture_rtrl, 0, 6);
    tcase_add_loop_test(tc, fixture_eprop_online, 0, 6);
    tcase_add_loop_test(tc, fixture_eprop_reverse, 0, 6);
    suite_add_tcase(s, tc);
    TCase *tr = tcase_create("random graphs");
    tcase_set_timeout(tr, 300);
    tcase_add_loop_test(tr, random_rtrl_equals_bptt, 0, 3);
    tcase_add_loop_test(tr, random_eprop_engines_agree, 0, 3);
    tcase_add_loop_test(tr, random_no_delay_eprop_equals_bptt, 0, 2);
#ifdef TRL_F64
    tcase_add_loop_test(tr, smooth_bptt_matches_finite_differences, 0, 2);
    tcase_add_loop_test(tr, event_driven_rows_agree, 0, 2);
#endif
    tcase_add_loop_test(tr, online_memory_constant_in_T, 0, 2);
    tcase_add_test(tr, threads_agree);
    tcase_add_test(tr, chunked_runs_are_reproducible);
    suite_add_tcase(s, tr);
    int failed = tu_run_suite(s, true);
    return failed ? 1 : 0;
}
