/* test_cotangent.c - a loss from outside and input gradients in the engines
 * (SPEC v2 6.4; grad_hooks.cotangent and input_grad).
 *
 *   own loss        a cotangent equal to dL/dy of the graph's own loss gives
 *                   the usual gradient, for bptt, rtrl and eprop (both
 *                   engines), to rounding (1e-12)
 *   finite diffs    smooth random graphs (float64): bptt and rtrl, the
 *                   parameters' gradient and dL/dx against central
 *                   differences of sum(cot . y) over the outputs, to 1e-6;
 *                   the loss is that sum
 *   several sinks   cotangents on the outputs and on hidden nodes of random
 *                   spiking graphs: rtrl = bptt, eprop online = eprop
 *                   reverse (parameters, dL/dx and the sum) to 1e-9
 *   orders          m-order e-prop (SPEC 6.2) with cotangents and dL/dx:
 *                   online = reverse, and an order >= T equals bptt
 *   chunks          a batch split over threads gives one run's result
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "engines/grad.h"
#include "engines/loss.h"
#include "kernels/parallel.h"
#include "tests/support/randgraph.h"
#include "tests/support/testutil.h"

#ifdef TRL_F64
#define TOL_SAME  1e-12
#define TOL_AGREE 1e-9
#else
#define TOL_SAME  1e-5
#define TOL_AGREE 2e-3
#endif

static const enum grad_algo algos[] = {GRAD_BPTT, GRAD_RTRL, GRAD_EPROP, GRAD_EPROP};
static const enum grad_engine engines[] = {GRAD_ENGINE_DEFAULT, GRAD_ENGINE_DEFAULT,
                                           GRAD_ENGINE_ONLINE, GRAD_ENGINE_REVERSE};

/* Per node, [B, T, size] arrays for the nodes with pick[i] (NULL elsewhere):
 * normal values, or zeros without an rng. */
static trl_real **per_node(const struct graph *g, const bool *pick, int B, int T, struct rng *r)
{
    trl_real **a = trl_alloc((size_t)g->n_nodes, sizeof *a, TRL_MEM_MISC);
    for (int i = 0; i < g->n_nodes; i++) {
        if (!pick[i]) continue;
        size_t n = (size_t)B * T * g->nodes[i].size;
        a[i] = trl_alloc(n, sizeof(trl_real), TRL_MEM_MISC);
        for (size_t k = 0; r && k < n; k++) a[i][k] = (trl_real)rng_normal(r);
    }
    return a;
}

static void per_node_free(const struct graph *g, trl_real **a)
{
    for (int i = 0; a && i < g->n_nodes; i++) trl_free(a[i]);
    trl_free(a);
}

static bool *input_nodes(const struct graph *g)
{
    bool *is = trl_alloc((size_t)g->n_nodes, sizeof *is, TRL_MEM_MISC);
    for (int i = 0; i < g->n_nodes; i++) is[i] = g->nodes[i].op->is_input;
    return is;
}

static double rel(const trl_real *a, const trl_real *b, size_t n)
{
    return tu_rel_err(a, b, n);
}

/* The gradient of a cotangent with input gradients: 0 or -1. */
static int grad_order(const struct graph *g, const trl_real *params, const struct data *d, int a,
                      int order, trl_real **cot, trl_real **dx, trl_real *grad, double *loss)
{
    struct trl_errors err;
    trl_errors_init(&err, "cotangent");
    const struct grad_hooks h = {.cotangent = (const trl_real *const *)cot,
                                 .input_grad = dx,
                                 .order = algos[a] == GRAD_EPROP ? order : 1};
    int rc = grad_compute_hooks(g, params, d, algos[a], engines[a], &h, grad, loss, &err);
    if (rc) trl_errors_print(&err, stderr);
    return rc;
}

static int grad_cot(const struct graph *g, const trl_real *params, const struct data *d, int a,
                    trl_real **cot, trl_real **dx, trl_real *grad, double *loss)
{
    return grad_order(g, params, d, a, 1, cot, dx, grad, loss);
}

START_TEST(own_loss_as_cotangent)
{
    struct randgraph_opts o = {.max_hidden = 5};
    for (uint64_t seed = 1; seed <= 15; seed++) {
        char *json = randgraph_json(seed * 6151 + (uint64_t)_i, &o);
        struct graph *g = tu_graph(json);
        ck_assert_ptr_nonnull(g);
        const int B = 3, T = 11, L = g->loss_node, K = g->nodes[L].size;
        trl_real *params = params_new(g), *g1 = params_new(g), *g2 = params_new(g);
        params_init(g, seed, params);
        struct data *d = randgraph_data(g, seed, B, T);
        /* y of the loss node, then dL/dy(t) of the graph's loss as the cotangent */
        bool *pick = trl_alloc((size_t)g->n_nodes, sizeof *pick, TRL_MEM_MISC);
        pick[L] = true;
        trl_real **cot = per_node(g, pick, B, T, NULL);
        trl_real *y = trl_alloc((size_t)B * T * K, sizeof *y, TRL_MEM_MISC);
        trl_real *yt = trl_alloc((size_t)B * K, sizeof *yt, TRL_MEM_MISC);
        trl_real *dy = trl_alloc((size_t)B * K, sizeof *dy, TRL_MEM_MISC);
        struct trl_errors err;
        trl_errors_init(&err, "own loss");
        const struct grad_hooks keep = {.loss_z = y};
        double l1, l2;
        ck_assert_int_eq(
            grad_compute_hooks(g, params, d, GRAD_BPTT, GRAD_ENGINE_DEFAULT, &keep, g1, &l1, &err),
            0);
        for (int t = 0; t < T; t++) {
            for (int b = 0; b < B; b++)
                memcpy(yt + (size_t)b * K, y + ((size_t)b * T + t) * K, (size_t)K * sizeof *y);
            loss_step(g->loss_type, d, t, K, yt, dy);
            for (int b = 0; b < B; b++)
                memcpy(cot[L] + ((size_t)b * T + t) * K, dy + (size_t)b * K,
                       (size_t)K * sizeof *dy);
        }
        for (int a = 0; a < 4; a++) {
            ck_assert_int_eq(grad_compute(g, params, d, algos[a], engines[a], g1, &l1, &err), 0);
            ck_assert_int_eq(grad_cot(g, params, d, a, cot, NULL, g2, &l2), 0);
            int bad = tu_compare_grads(g, g2, g1, TOL_SAME, grad_algo_names[algos[a]]);
            if (bad) fprintf(stderr, "%s\n", json);
            ck_assert_int_eq(bad, 0);
        }
        trl_free(y);
        trl_free(yt);
        trl_free(dy);
        trl_free(pick);
        per_node_free(g, cot);
        trl_free(params);
        trl_free(g1);
        trl_free(g2);
        data_free(d);
        graph_free(g);
        free(json);
    }
}
END_TEST

#ifdef TRL_F64
/* sum over the outputs of cot . y, by a forward pass. */
static double outside_loss(const struct graph *g, const trl_real *params, const struct data *d,
                           trl_real **cot)
{
    struct run_result res;
    struct trl_errors err;
    trl_errors_init(&err, "fd");
    ck_assert_int_eq(run_forward(g, params, d, &res, &err), 0);
    double sum = 0;
    for (int k = 0; k < g->n_outputs; k++) {
        const int i = g->outputs[k];
        for (size_t v = 0; v < (size_t)d->B * d->T * g->nodes[i].size; v++)
            sum += (double)cot[i][v] * res.out[k][v];
    }
    run_result_free(&res);
    return sum;
}

/* Central differences hold to about 1e-10 absolute (rounding of f over
 * 2h): ||a - fd|| <= 1e-6 (||fd|| + 1e-3), per tensor. */
static bool near_fd(const trl_real *a, const trl_real *fd, size_t n, const char *what)
{
    double diff = 0, norm = 0;
    for (size_t k = 0; k < n; k++) {
        diff += ((double)a[k] - fd[k]) * ((double)a[k] - fd[k]);
        norm += (double)fd[k] * fd[k];
    }
    if (sqrt(diff) <= 1e-6 * (sqrt(norm) + 1e-3)) return true;
    fprintf(stderr, "%s: ||a - fd|| %.3g, ||fd|| %.3g\n", what, sqrt(diff), sqrt(norm));
    return false;
}

/* Central differences of f at x[k] for every k < n, into fd. */
static void central(const struct graph *g, const trl_real *params, const struct data *d,
                    trl_real **cot, trl_real *x, size_t n, trl_real *fd)
{
    const double h = 1e-5;
    for (size_t k = 0; k < n; k++) {
        trl_real keep = x[k];
        x[k] = keep + h;
        double up = outside_loss(g, params, d, cot);
        x[k] = keep - h;
        double down = outside_loss(g, params, d, cot);
        x[k] = keep;
        fd[k] = (trl_real)((up - down) / (2 * h));
    }
}

START_TEST(smooth_matches_finite_differences)
{
    struct randgraph_opts o = {.max_hidden = 4, .smooth = true};
    for (uint64_t seed = 1; seed <= 8; seed++) {
        char *json = randgraph_json(seed * 29 + (uint64_t)_i, &o);
        struct graph *g = tu_graph(json);
        ck_assert_ptr_nonnull(g);
        const int B = 2, T = 7;
        struct rng r;
        rng_seed(&r, seed);
        trl_real *params = params_new(g), *grad = params_new(g), *fd = params_new(g);
        params_init(g, seed, params);
        struct data *d = randgraph_data(g, seed, B, T);
        bool *outs = trl_alloc((size_t)g->n_nodes, sizeof *outs, TRL_MEM_MISC);
        for (int k = 0; k < g->n_outputs; k++) outs[g->outputs[k]] = true;
        bool *ins = input_nodes(g);
        trl_real **cot = per_node(g, outs, B, T, &r);
        trl_real **dx = per_node(g, ins, B, T, NULL), **fdx = per_node(g, ins, B, T, NULL);
        central(g, params, d, cot, params, g->n_param_values, fd);
        for (int p = 0; p < g->n_params; p++) /* no_self diagonals are held at 0 */
            if (g->params[p].edge >= 0 && g->edges[g->params[p].edge].no_self)
                for (int j = 0; j < g->params[p].rows; j++)
                    fd[g->params[p].offset + (size_t)j * g->params[p].cols + j] = 0;
        for (int i = 0; i < g->n_nodes; i++)
            if (ins[i])
                central(g, params, d, cot, d->x[i], (size_t)B * T * g->nodes[i].size, fdx[i]);
        const double sum = outside_loss(g, params, d, cot);
        for (int a = 0; a < 2; a++) { /* bptt, rtrl */
            double loss;
            ck_assert_int_eq(grad_cot(g, params, d, a, cot, dx, grad, &loss), 0);
            ck_assert_msg(fabs(loss - sum) <= 1e-12 * (fabs(sum) + 1), "loss %.17g vs %.17g", loss,
                          sum);
            int bad = 0;
            for (int p = 0; p < g->n_params; p++) {
                const struct graph_param *q = &g->params[p];
                if (q->trainable)
                    bad += !near_fd(grad + q->offset, fd + q->offset, q->count, q->name);
            }
            for (int i = 0; i < g->n_nodes; i++)
                if (ins[i])
                    bad +=
                        !near_fd(dx[i], fdx[i], (size_t)B * T * g->nodes[i].size, g->nodes[i].id);
            if (bad) fprintf(stderr, "%s\n", grad_algo_names[algos[a]]);
            if (bad) fprintf(stderr, "%s\n", json);
            ck_assert_int_eq(bad, 0);
        }
        per_node_free(g, cot);
        per_node_free(g, dx);
        per_node_free(g, fdx);
        trl_free(outs);
        trl_free(ins);
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

/* Cotangents on every output and on about half the other non-input nodes
 * (the engines take any node; only the library restricts them to outputs). */
static bool *some_sinks(const struct graph *g, struct rng *r)
{
    bool *pick = trl_alloc((size_t)g->n_nodes, sizeof *pick, TRL_MEM_MISC);
    for (int i = 0; i < g->n_nodes; i++) pick[i] = !g->nodes[i].op->is_input && rng_below(r, 2);
    for (int k = 0; k < g->n_outputs; k++) pick[g->outputs[k]] = true;
    return pick;
}

/* Algorithm pairs a and b agree on cotangents at several sinks (eprop of
 * that order: SPEC 6.2). */
static int sinks_agree_order(uint64_t seed, int a, int b, int threads_b, int order)
{
    struct randgraph_opts o = {.max_hidden = 5};
    char *json = randgraph_json(seed, &o);
    struct graph *g = tu_graph(json);
    ck_assert_ptr_nonnull(g);
    const int B = 5, T = 10;
    struct rng r;
    rng_seed(&r, seed);
    trl_real *params = params_new(g), *g1 = params_new(g), *g2 = params_new(g);
    params_init(g, seed, params);
    struct data *d = randgraph_data(g, seed, B, T);
    bool *pick = some_sinks(g, &r), *ins = input_nodes(g);
    trl_real **cot = per_node(g, pick, B, T, &r);
    trl_real **dx1 = per_node(g, ins, B, T, NULL), **dx2 = per_node(g, ins, B, T, NULL);
    double l1, l2;
    par_set_threads(1);
    ck_assert_int_eq(grad_order(g, params, d, a, order, cot, dx1, g1, &l1), 0);
    par_set_threads(threads_b);
    ck_assert_int_eq(grad_order(g, params, d, b, order, cot, dx2, g2, &l2), 0);
    par_set_threads(0);
    int bad = tu_compare_grads(g, g1, g2, TOL_AGREE, "several sinks");
    for (int i = 0; i < g->n_nodes; i++)
        if (ins[i] && rel(dx1[i], dx2[i], (size_t)B * T * g->nodes[i].size) > TOL_AGREE) {
            fprintf(stderr, "dL/d%s differs\n", g->nodes[i].id);
            bad++;
        }
    if (fabs(l1 - l2) > TOL_AGREE * (fabs(l1) + 1)) {
        fprintf(stderr, "loss %.17g vs %.17g\n", l1, l2);
        bad++;
    }
    if (bad)
        fprintf(stderr, "%s %s vs %s\n%s\n", grad_algo_names[algos[a]],
                engines[a] == GRAD_ENGINE_REVERSE ? "reverse" : "", grad_algo_names[algos[b]],
                json);
    per_node_free(g, cot);
    per_node_free(g, dx1);
    per_node_free(g, dx2);
    trl_free(pick);
    trl_free(ins);
    trl_free(params);
    trl_free(g1);
    trl_free(g2);
    data_free(d);
    graph_free(g);
    free(json);
    return bad;
}

static int sinks_agree(uint64_t seed, int a, int b, int threads_b)
{
    return sinks_agree_order(seed, a, b, threads_b, 1);
}

START_TEST(several_sinks_rtrl_equals_bptt)
{
    for (uint64_t seed = 1; seed <= 25; seed++)
        ck_assert_int_eq(sinks_agree(seed * 7907 + (uint64_t)_i, 1, 0, 1), 0);
}
END_TEST

START_TEST(several_sinks_eprop_engines_agree)
{
    for (uint64_t seed = 1; seed <= 25; seed++)
        ck_assert_int_eq(sinks_agree(seed * 3571 + (uint64_t)_i, 2, 3, 1), 0);
}
END_TEST

/* m-order e-prop with cotangents and input gradients: online = reverse at
 * order 2 and 3, and an order >= T (10 steps) is bptt, both engines. */
START_TEST(orders_with_cotangents)
{
    for (uint64_t seed = 1; seed <= 8; seed++) {
        const uint64_t s = seed * 613 + (uint64_t)_i;
        ck_assert_int_eq(sinks_agree_order(s, 2, 3, 1, 2 + (int)(seed % 2)), 0);
        ck_assert_int_eq(sinks_agree_order(s, 0, 3, 1, 10), 0);
        ck_assert_int_eq(sinks_agree_order(s, 0, 2, 1, 10), 0);
    }
}
END_TEST

/* Chunks over threads, each sample its own chunk (a cache of a few bytes):
 * every algorithm gives one thread's result, input gradients included. */
START_TEST(chunks_agree)
{
    par_set_cache_bytes(16);
    for (uint64_t seed = 1; seed <= 6; seed++)
        for (int a = 0; a < 4; a++) ck_assert_int_eq(sinks_agree(seed * 101, a, a, 3), 0);
    par_set_cache_bytes(0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cotangent");
    TCase *tc = tcase_create("engines");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, own_loss_as_cotangent, 0, 2);
#ifdef TRL_F64
    tcase_add_loop_test(tc, smooth_matches_finite_differences, 0, 2);
#endif
    tcase_add_loop_test(tc, several_sinks_rtrl_equals_bptt, 0, 2);
    tcase_add_loop_test(tc, several_sinks_eprop_engines_agree, 0, 2);
    tcase_add_test(tc, chunks_agree);
    tcase_add_loop_test(tc, orders_with_cotangents, 0, 2);
    suite_add_tcase(s, tc);
    int failed = tu_run_suite(s, true);
    return failed ? 1 : 0;
}
