/* test_orders.c - m-order e-prop and feedback matrices (SPEC v2 6.2, 6.3),
 * at the engines:
 *
 *   fixtures        order 2 and 3, both engines = grad_eprop_order2/3;
 *                   random feedback (params_feedback) with bptt, rtrl and
 *                   eprop (both engines) = grad_exact/eprop_feedback
 *   order 1         the hooks' order 1 and feedback-free runs give the same
 *                   bits as plain eprop (both engines)
 *   order >= T      = bptt on random graphs (both engines)
 *   online=reverse  orders 2-4 on random graphs
 *   fb = W          random feedback with every matrix equal to its weights
 *                   gives the same bits as symmetric feedback (every engine)
 *   random e-prop   in -> lif -> readout with only out.fb.lif: a hand-written
 *                   Bellec random e-prop (learning signal B = fb^T)
 *   adaptive        feedback_adapt on a 2x2 case by hand
 *   plans           order 1's plan is today's; orders add crossing levels
 *   public API      trl_grad with order and random feedback = the fixtures;
 *                   random feedback without matrices is an input error;
 *                   trl_params_init_feedback, save and load keep the
 *                   matrices; gradients never hold them; the trainer's
 *                   adaptive feedback moves each matrix by its edge's update,
 *                   and its checkpoint holds them
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engines/grad.h"
#include "engines/trace_plan.h"
#include "io/feedback.h"
#include "tests/support/randgraph.h"
#include "tests/support/testutil.h"
#include "trellis.h"

#ifdef TRL_F64
#define TOL_FIXTURE 1e-6
#define TOL_LOSS    1e-9
#define TOL_AGREE   1e-9
#else
#define TOL_FIXTURE 2e-3
#define TOL_LOSS    1e-5
#define TOL_AGREE   2e-3
#endif

struct fixture {
    struct graph *g;
    trl_real *params, **fb;
    struct data *d;
};

static void fixture_load(struct fixture *fx, const char *name, const char *params_file)
{
    struct trl_errors err;
    fx->g = graph_load(tu_fixture(name, "graph.json"), &err);
    ck_assert_msg(fx->g, "%s: graph does not load", name);
    fx->params = params_new(fx->g);
    fx->fb = feedback_new(fx->g);
    trl_errors_init(&err, name);
    ck_assert_int_eq(
        params_load_all(fx->g, tu_fixture(name, params_file), fx->params, fx->fb, &err), 0);
    fx->d = data_load(fx->g, tu_fixture(name, "data.safetensors"), DATA_TARGET_REQUIRED, &err);
    ck_assert_ptr_nonnull(fx->d);
}

static void fixture_free(struct fixture *fx)
{
    data_free(fx->d);
    feedback_free(fx->g, fx->fb);
    trl_free(fx->params);
    graph_free(fx->g);
}

#ifndef TRL_F64
static bool spiking(const struct graph *g)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op->spiking) return true;
    return false;
}
#endif

static void check_fixture(const char *name, const char *params_file, enum grad_algo algo,
                          enum grad_engine engine, int order, bool feedback, const char *expected)
{
    struct fixture fx;
    fixture_load(&fx, name, params_file);
#ifndef TRL_F64
    if (spiking(fx.g)) { /* a spike can flip within float32 rounding of the threshold */
        fixture_free(&fx);
        return;
    }
#endif
    if (feedback) ck_assert_int_gt(feedback_count(fx.g, fx.fb), 0);
    trl_real *grad = params_new(fx.g);
    double loss = 0;
    struct trl_errors err;
    trl_errors_init(&err, name);
    const struct grad_hooks h = {.order = order, .feedback = feedback ? fx.fb : NULL};
    ck_assert_int_eq(grad_compute_hooks(fx.g, fx.params, fx.d, algo, engine, &h, grad, &loss, &err),
                     0);
    char label[160];
    snprintf(label, sizeof label, "%s %s%s order %d%s", name, grad_algo_names[algo],
             engine == GRAD_ENGINE_REVERSE ? " reverse" : "", order,
             feedback ? " random feedback" : "");
    int bad = tu_compare_grad_file(fx.g, grad, loss, tu_fixture(name, expected), TOL_FIXTURE,
                                   TOL_LOSS, label);
    ck_assert_msg(bad == 0, "%s: %d tensors differ from %s", label, bad, expected);
    trl_free(grad);
    fixture_free(&fx);
}

START_TEST(fixture_orders)
{
    const char *name = tu_fixture_names[_i];
    for (int e = 0; e < 2; e++) {
        const enum grad_engine engine = e ? GRAD_ENGINE_REVERSE : GRAD_ENGINE_ONLINE;
        check_fixture(name, "params.safetensors", GRAD_EPROP, engine, 2, false,
                      "grad_eprop_order2.safetensors");
        check_fixture(name, "params.safetensors", GRAD_EPROP, engine, 3, false,
                      "grad_eprop_order3.safetensors");
    }
}
END_TEST

START_TEST(fixture_feedback)
{
    const char *name = tu_fixture_names[_i], *p = "params_feedback.safetensors";
    check_fixture(name, p, GRAD_BPTT, GRAD_ENGINE_DEFAULT, 1, true,
                  "grad_exact_feedback.safetensors");
    check_fixture(name, p, GRAD_RTRL, GRAD_ENGINE_DEFAULT, 1, true,
                  "grad_exact_feedback.safetensors");
    check_fixture(name, p, GRAD_EPROP, GRAD_ENGINE_ONLINE, 1, true,
                  "grad_eprop_feedback.safetensors");
    check_fixture(name, p, GRAD_EPROP, GRAD_ENGINE_REVERSE, 1, true,
                  "grad_eprop_feedback.safetensors");
}
END_TEST

/* A random graph, its parameters and T steps of data. */
struct case_ {
    char *json;
    struct graph *g;
    trl_real *params;
    struct data *d;
};

static void case_new(struct case_ *c, uint64_t seed, int max_hidden, int T)
{
    struct randgraph_opts o = {.max_hidden = max_hidden};
    c->json = randgraph_json(seed, &o);
    c->g = tu_graph(c->json);
    ck_assert_msg(c->g, "random graph %llu is invalid:\n%s", (unsigned long long)seed, c->json);
    c->params = params_new(c->g);
    params_init(c->g, seed, c->params);
    c->d = randgraph_data(c->g, seed, 2, T);
}

static void case_free(struct case_ *c)
{
    data_free(c->d);
    trl_free(c->params);
    graph_free(c->g);
    free(c->json);
}

static trl_real *run_grad(const struct case_ *c, enum grad_algo algo, enum grad_engine engine,
                          const struct grad_hooks *h, double *loss)
{
    trl_real *grad = params_new(c->g);
    struct trl_errors err;
    trl_errors_init(&err, "random");
    int rc = grad_compute_hooks(c->g, c->params, c->d, algo, engine, h, grad, loss, &err);
    if (rc) trl_errors_print(&err, stderr);
    ck_assert_int_eq(rc, 0);
    return grad;
}

/* Two gradients of a random graph agree to TOL_AGREE; prints the graph if not. */
static void expect_agree(const struct case_ *c, const trl_real *a, const trl_real *b,
                         const char *what)
{
    int bad = tu_compare_grads(c->g, a, b, TOL_AGREE, what);
    if (bad) fprintf(stderr, "%s\n", c->json);
    ck_assert_msg(bad == 0, "%s: %d tensors differ", what, bad);
}

START_TEST(order_one_is_eprop)
{
    for (uint64_t seed = 1; seed <= 10; seed++) {
        struct case_ c;
        case_new(&c, seed * 611 + (uint64_t)_i, 5, 14);
        for (int e = 0; e < 2; e++) {
            const enum grad_engine engine = e ? GRAD_ENGINE_REVERSE : GRAD_ENGINE_ONLINE;
            const struct grad_hooks h = {.order = 1};
            double l1, l2;
            trl_real *a = run_grad(&c, GRAD_EPROP, engine, NULL, &l1);
            trl_real *b = run_grad(&c, GRAD_EPROP, engine, &h, &l2);
            ck_assert(memcmp(a, b, c.g->n_param_values * sizeof *a) == 0 && l1 == l2);
            trl_free(a);
            trl_free(b);
        }
        case_free(&c);
    }
}
END_TEST

START_TEST(order_T_is_bptt)
{
    const int T = 7;
    for (uint64_t seed = 1; seed <= 16; seed++) {
        struct case_ c;
        case_new(&c, seed * 2917 + (uint64_t)_i, 3, T);
        double l0, l1, l2;
        const struct grad_hooks h = {.order = T + (int)(seed % 2)};
        trl_real *exact = run_grad(&c, GRAD_BPTT, GRAD_ENGINE_DEFAULT, NULL, &l0);
        trl_real *on = run_grad(&c, GRAD_EPROP, GRAD_ENGINE_ONLINE, &h, &l1);
        trl_real *rev = run_grad(&c, GRAD_EPROP, GRAD_ENGINE_REVERSE, &h, &l2);
        expect_agree(&c, on, exact, "eprop online order T vs bptt");
        expect_agree(&c, rev, exact, "eprop reverse order T vs bptt");
        trl_free(exact);
        trl_free(on);
        trl_free(rev);
        case_free(&c);
    }
}
END_TEST

START_TEST(orders_engines_agree)
{
    for (uint64_t seed = 1; seed <= 16; seed++) {
        struct case_ c;
        case_new(&c, seed * 7411 + (uint64_t)_i, 5, 12);
        for (int order = 2; order <= 4; order++) {
            const struct grad_hooks h = {.order = order};
            double l1, l2;
            trl_real *on = run_grad(&c, GRAD_EPROP, GRAD_ENGINE_ONLINE, &h, &l1);
            trl_real *rev = run_grad(&c, GRAD_EPROP, GRAD_ENGINE_REVERSE, &h, &l2);
            char what[64];
            snprintf(what, sizeof what, "order %d online vs reverse", order);
            expect_agree(&c, on, rev, what);
            trl_free(on);
            trl_free(rev);
        }
        case_free(&c);
    }
}
END_TEST

/* Feedback matrices equal to the weights: the same bits as none. */
START_TEST(feedback_equal_to_weights_is_symmetric)
{
    const enum grad_algo algos[] = {GRAD_BPTT, GRAD_RTRL, GRAD_EPROP, GRAD_EPROP, GRAD_EPROP};
    const enum grad_engine engines[] = {GRAD_ENGINE_DEFAULT, GRAD_ENGINE_DEFAULT,
                                        GRAD_ENGINE_ONLINE, GRAD_ENGINE_REVERSE,
                                        GRAD_ENGINE_ONLINE};
    const int orders[] = {1, 1, 1, 1, 2};
    for (uint64_t seed = 1; seed <= 8; seed++) {
        struct case_ c;
        case_new(&c, seed * 97 + (uint64_t)_i, 4, 10);
        trl_real **fb = feedback_new(c.g);
        ck_assert_int_eq(feedback_init(c.g, seed, fb), 0);
        for (int e = 0; e < c.g->n_edges; e++)
            if (fb[e])
                memcpy(fb[e], c.params + c.g->params[c.g->edges[e].param].offset,
                       c.g->params[c.g->edges[e].param].count * sizeof(trl_real));
        for (int a = 0; a < 5; a++) {
            const struct grad_hooks sym = {.order = orders[a]};
            const struct grad_hooks rnd = {.order = orders[a], .feedback = fb};
            double l1, l2;
            trl_real *g1 = run_grad(&c, algos[a], engines[a], &sym, &l1);
            trl_real *g2 = run_grad(&c, algos[a], engines[a], &rnd, &l2);
            ck_assert_msg(memcmp(g1, g2, c.g->n_param_values * sizeof *g1) == 0 && l1 == l2,
                          "%s: fb = W differs from symmetric", grad_algo_names[algos[a]]);
            trl_free(g1);
            trl_free(g2);
        }
        feedback_free(c.g, fb);
        case_free(&c);
    }
}
END_TEST

/* Random feedback differs from symmetric, and the engines still agree. */
START_TEST(random_feedback_engines_agree)
{
    for (uint64_t seed = 1; seed <= 12; seed++) {
        struct case_ c;
        case_new(&c, seed * 389 + (uint64_t)_i, 5, 12);
        trl_real **fb = feedback_new(c.g);
        ck_assert_int_eq(feedback_init(c.g, seed + 1000, fb), 0);
        double l[4];
        const struct grad_hooks h1 = {.feedback = fb}, h2 = {.feedback = fb, .order = 2};
        trl_real *rt = run_grad(&c, GRAD_RTRL, GRAD_ENGINE_DEFAULT, &h1, &l[0]);
        trl_real *bp = run_grad(&c, GRAD_BPTT, GRAD_ENGINE_DEFAULT, &h1, &l[1]);
        expect_agree(&c, rt, bp, "random feedback rtrl vs bptt");
        trl_real *on = run_grad(&c, GRAD_EPROP, GRAD_ENGINE_ONLINE, &h2, &l[2]);
        trl_real *rev = run_grad(&c, GRAD_EPROP, GRAD_ENGINE_REVERSE, &h2, &l[3]);
        expect_agree(&c, on, rev, "random feedback eprop order 2 online vs reverse");
        trl_free(rt);
        trl_free(bp);
        trl_free(on);
        trl_free(rev);
        feedback_free(c.g, fb);
        case_free(&c);
    }
}
END_TEST

/* Bellec et al. 2020's random e-prop written out for in -> lif -> readout
 * (lif with a delay-1 recurrence, mse): e_ji(t) = psi_j(t) ebar_ji(t),
 * ebar_ji(t) = alpha ebar_ji(t-1) + x_i(t); the learning signal of unit j is
 * L_j(t) = sum_k B_jk (y_k - target_k) with B = out.fb.lif^T, filtered by the
 * readout: dL/dW_ji = sum_t sum_t'>=t kappa^(t'-t) L_j(t') e_ji(t). The
 * readout's own weights keep their exact gradient. */
static int param_index(const struct graph *g, const char *name)
{
    for (int i = 0; i < g->n_params; i++)
        if (strcmp(g->params[i].name, name) == 0) return i;
    ck_abort_msg("no parameter %s", name);
    return -1;
}

static const char *bellec_graph =
    "{\"trellis\": 1, \"nodes\": ["
    "{\"id\": \"in\", \"op\": \"input\", \"size\": 4},"
    "{\"id\": \"lif\", \"op\": \"lif\", \"size\": 6, \"params\": {\"tau_m\": 10, \"v_th\": 0.5},"
    " \"inputs\": [{\"from\": \"in\", \"gain\": 3}, {\"from\": \"lif\", \"delay\": 1, \"no_self\": "
    "true}]},"
    "{\"id\": \"out\", \"op\": \"readout\", \"size\": 2, \"params\": {\"tau\": 5}, \"bias\": "
    "false, \"inputs\": [\"lif\"]}],"
    "\"loss\": {\"node\": \"out\", \"type\": \"mse\"}}";

START_TEST(bellec_random_eprop)
{
    struct graph *g = tu_graph(bellec_graph);
    ck_assert_ptr_nonnull(g);
    trl_real *params = params_new(g);
    params_init(g, 5, params);
    struct data *d = randgraph_data(g, 5, 1, 30);
    struct run_result res;
    struct trl_errors err;
    trl_errors_init(&err, "bellec");
    ck_assert_int_eq(run_forward(g, params, d, &res, &err), 0);
    const int out_edge = g->params[param_index(g, "out.w.lif")].edge;
    trl_real **fb = feedback_new(g);
    trl_real *B = feedback_matrix(g, fb, out_edge);
    for (int k = 0; k < 12; k++) B[k] = (trl_real)(0.3 * sin(1.7 * k + 0.4));
    /* forward values again, by hand: v, z, psi of lif; y of out */
    const int T = d->T, N = 6, K = 4, O = 2;
    const double alpha = exp(-1.0 / 10), kappa = exp(-1.0 / 5), vth = 0.5, gamma = 0.3;
    const trl_real *Win = params + g->params[param_index(g, "lif.w.in")].offset;
    const trl_real *Wrec = params + g->params[param_index(g, "lif.w.lif.d1")].offset;
    const trl_real *Wout = params + g->params[param_index(g, "out.w.lif")].offset;
    double v[6] = {0}, z[6] = {0}, zp[6] = {0}, y[2] = {0}, ebar[6][4] = {{0}};
    double e[64][6][4], L[64][6];
    ck_assert_int_le(T, 64);
    for (int t = 0; t < T; t++) {
        const trl_real *x = d->x[0] + (size_t)t * K; /* sample 0 */
        for (int j = 0; j < N; j++) {
            double I = 0;
            for (int i = 0; i < K; i++) I += Win[j * K + i] * x[i];
            for (int i = 0; i < N; i++) I += Wrec[j * N + i] * zp[i];
            v[j] = alpha * v[j] + I - vth * zp[j];
            z[j] = v[j] - vth > 0;
            const double psi = gamma / vth * fmax(0, 1 - fabs(v[j] - vth) / vth);
            for (int i = 0; i < K; i++) {
                ebar[j][i] = alpha * ebar[j][i] + x[i];
                e[t][j][i] = psi * ebar[j][i];
            }
        }
        for (int k = 0; k < O; k++) {
            double I = 0;
            for (int j = 0; j < N; j++) I += Wout[k * N + j] * z[j];
            y[k] = kappa * y[k] + I;
        }
        for (int j = 0; j < N; j++) {
            L[t][j] = 0;
            for (int k = 0; k < O; k++)
                L[t][j] += B[k * N + j] * (y[k] - d->target[(size_t)t * O + k]) *
                           (d->mask ? d->mask[t] : 1);
        }
        memcpy(zp, z, sizeof z);
    }
    double want[6][4] = {{0}};
    for (int t = 0; t < T; t++) {
        for (int j = 0; j < N; j++) { /* sum_t'>=t kappa^(t'-t) L_j(t') */
            double acc = 0, w = 1;
            for (int s = t; s < T; s++, w *= kappa) acc += w * L[s][j];
            for (int i = 0; i < K; i++) want[j][i] += acc * e[t][j][i];
        }
    }
    trl_real *grad = params_new(g);
    double loss;
    const struct grad_hooks h = {.feedback = fb};
    /* one sample, so that the hand computation above is the whole batch */
    ck_assert_int_eq(d->B, 1);
    for (int engine = 0; engine < 2; engine++) {
        ck_assert_int_eq(grad_compute_hooks(g, params, d, GRAD_EPROP,
                                            engine ? GRAD_ENGINE_REVERSE : GRAD_ENGINE_ONLINE, &h,
                                            grad, &loss, &err),
                         0);
        const trl_real *gw = grad + g->params[param_index(g, "lif.w.in")].offset;
        double num = 0, den = 0;
        for (int j = 0; j < N; j++)
            for (int i = 0; i < K; i++) {
                num += (gw[j * K + i] - want[j][i]) * (gw[j * K + i] - want[j][i]);
                den += want[j][i] * want[j][i];
            }
        ck_assert_double_gt(den, 0);
        ck_assert_msg(sqrt(num / den) < TOL_AGREE * 10, "random e-prop: rel err %g",
                      sqrt(num / den));
    }
    run_result_free(&res);
    trl_free(grad);
    feedback_free(g, fb);
    data_free(d);
    trl_free(params);
    graph_free(g);
}
END_TEST

/* fb <- fb + dW - lambda fb, by hand on two 1x2 matrices. */
START_TEST(adaptive_rule_by_hand)
{
    struct graph *g = tu_graph("{\"trellis\": 1, \"nodes\": ["
                               "{\"id\": \"in\", \"op\": \"input\", \"size\": 2},"
                               "{\"id\": \"h\", \"op\": \"leaky\", \"size\": 2, \"inputs\": "
                               "[\"in\", {\"from\": \"h\", \"delay\": 1}]},"
                               "{\"id\": \"o\", \"op\": \"readout\", \"size\": 1, \"inputs\": "
                               "[\"h\"]}], \"loss\": {\"node\": \"o\", \"type\": \"mse\"}}");
    ck_assert_ptr_nonnull(g);
    trl_real **fb = feedback_new(g);
    ck_assert_int_eq(feedback_init(g, 3, fb), 0);
    ck_assert_int_eq(feedback_count(g, fb), 2); /* h.fb.h.d1 and o.fb.h, not h.fb.in */
    const int e = g->params[param_index(g, "o.w.h")].edge;
    char *name = feedback_name(g, e);
    ck_assert_str_eq(name, "o.fb.h");
    trl_free(name);
    ck_assert_int_eq(feedback_edge(g, "h.fb.h.d1"), g->params[param_index(g, "h.w.h.d1")].edge);
    trl_real *before = params_new(g), *after = params_new(g);
    const size_t off = g->params[g->edges[e].param].offset;
    before[off] = 1.0, before[off + 1] = -2.0;
    after[off] = 1.5, after[off + 1] = -2.25;
    fb[e][0] = 0.2, fb[e][1] = 0.4;
    feedback_adapt(g, fb, before, after, 0.1);
    ck_assert_double_eq_tol(fb[e][0], 0.2 + 0.5 - 0.02, 1e-6);
    ck_assert_double_eq_tol(fb[e][1], 0.4 - 0.25 - 0.04, 1e-6);
    trl_free(before);
    trl_free(after);
    feedback_free(g, fb);
    graph_free(g);
}
END_TEST

/* m-order traces: what the plan counts does not depend on T, and order 1's
 * plan is today's. */
START_TEST(order_plan_sizes)
{
    for (uint64_t seed = 1; seed <= 10; seed++) {
        struct randgraph_opts o = {.max_hidden = 5};
        char *json = randgraph_json(seed * 53 + (uint64_t)_i, &o);
        struct graph *g = tu_graph(json);
        ck_assert_ptr_nonnull(g);
        struct trace_plan *p1 = trace_plan_new(g, TRACE_EPROP);
        struct trace_plan *q1 = trace_plan_new_orders(g, TRACE_EPROP, NULL, 1);
        struct trace_plan *p3 = trace_plan_new_orders(g, TRACE_EPROP, NULL, 3);
        ck_assert(p1 && q1 && p3);
        ck_assert_int_eq(p1->n_slots, q1->n_slots);
        ck_assert_uint_eq(trace_plan_values(p1, g), trace_plan_values(q1, g));
        ck_assert_uint_eq(trace_plan_crossing_values(q1, 1), 0);
        ck_assert_int_ge(p3->n_slots, p1->n_slots);
        size_t sum = 0;
        for (int k = 0; k < 3; k++) sum += trace_plan_crossing_values(p3, k);
        ck_assert_uint_le(sum, trace_plan_values(p3, g));
        trace_plan_free(p1);
        trace_plan_free(q1);
        trace_plan_free(p3);
        graph_free(g);
        free(json);
    }
}
END_TEST

/* ---- the public API ---- */

static void api_fixture(const char *name, const char *params_file, trl_graph **g, trl_params **p,
                        trl_data **d, trl_error *err)
{
    ck_assert_int_eq(trl_graph_load(tu_fixture(name, "graph.json"), g, err), TRL_OK);
    ck_assert_int_eq(trl_params_new(*g, p, err), TRL_OK);
    ck_assert_int_eq(trl_params_load(*p, tu_fixture(name, params_file), err), TRL_OK);
    ck_assert_int_eq(
        trl_data_load(*g, tu_fixture(name, "data.safetensors"), TRL_DATA_TARGET, d, err), TRL_OK);
}

#ifdef TRL_F64
/* Result r against fixture file `expected` of `name`: every tensor within tol. */
static void expect_result(const trl_result *r, const char *name, const char *expected)
{
    trl_result *want = NULL;
    ck_assert_int_eq(trl_result_load(tu_fixture(name, expected), &want, NULL), TRL_OK);
    ck_assert_int_eq(trl_result_count(r), trl_result_count(want));
    for (int i = 0; i < trl_result_count(r); i++) {
        trl_tensor a, b;
        ck_assert_int_eq(trl_result_tensor(r, i, &a), TRL_OK);
        ck_assert_msg(strstr(a.name, ".fb.") == NULL, "a gradient holds %s", a.name);
        ck_assert_int_eq(trl_result_find(want, a.name, &b, NULL), TRL_OK);
        size_t n = 1;
        for (int k = 0; k < a.ndim; k++) n *= (size_t)a.shape[k];
        ck_assert_msg(tu_rel_err(a.data, b.data, n) <= TOL_FIXTURE, "%s %s", name, a.name);
    }
    trl_result_free(want);
}
#endif

START_TEST(api_order_and_feedback)
{
    const char *name = tu_fixture_names[_i];
    trl_error *err = trl_error_new();
    trl_graph *g;
    trl_params *p;
    trl_data *d;
    api_fixture(name, "params.safetensors", &g, &p, &d, err);
    trl_grad_opts o = TRL_GRAD_OPTS_INIT;
    o.algo = TRL_ALGO_EPROP;
    o.order = 3;
    trl_result *r = NULL;
    ck_assert_msg(trl_grad(g, p, d, &o, &r, err) == TRL_OK, "%s", trl_error_message(err));
#ifdef TRL_F64
    expect_result(r, name, "grad_eprop_order3.safetensors");
#endif
    trl_result_free(r);
    o.order = 1;
    o.feedback = TRL_FEEDBACK_RANDOM; /* no matrices in params.safetensors */
    ck_assert_int_eq(trl_grad(g, p, d, &o, &r, err), TRL_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(trl_error_message(err), "trl_params_init_feedback"));
    ck_assert_ptr_null(strstr(trl_error_message(err), "--"));
    o.feedback = TRL_FEEDBACK_ADAPTIVE;
    ck_assert_int_eq(trl_grad(g, p, d, &o, &r, err), TRL_ERR_ARGUMENT);
    ck_assert_int_eq(trl_params_load(p, tu_fixture(name, "params_feedback.safetensors"), err),
                     TRL_OK);
    ck_assert_int_gt(trl_params_feedback_count(p), 0);
    o.feedback = TRL_FEEDBACK_RANDOM;
    o.algo = TRL_ALGO_BPTT;
    ck_assert_msg(trl_grad(g, p, d, &o, &r, err) == TRL_OK, "%s", trl_error_message(err));
#ifdef TRL_F64
    expect_result(r, name, "grad_exact_feedback.safetensors");
#endif
    trl_result_free(r);
    o.algo = TRL_ALGO_BPTT;
    o.order = 2;
    ck_assert_int_eq(trl_grad(g, p, d, &o, &r, err), TRL_ERR_ARGUMENT);
    trl_data_free(d);
    trl_params_free(p);
    trl_graph_free(g);
    trl_error_free(err);
}
END_TEST

START_TEST(api_feedback_init_save_load)
{
    trl_error *err = trl_error_new();
    trl_graph *g;
    trl_params *p, *q;
    ck_assert_int_eq(trl_graph_load(tu_fixture("dag_skip", "graph.json"), &g, err), TRL_OK);
    ck_assert_int_eq(trl_params_new(g, &p, err), TRL_OK);
    ck_assert_int_eq(trl_params_init(p, 4, err), TRL_OK);
    ck_assert_int_eq(trl_params_feedback_count(p), 0);
    ck_assert_int_eq(trl_params_init_feedback(p, 4, err), TRL_OK);
    /* the fixture's params_feedback holds one per edge from a non-input */
    ck_assert_int_eq(trl_params_load(p, tu_fixture("dag_skip", "params_feedback.safetensors"), err),
                     TRL_OK);
    const int want = trl_params_feedback_count(p);
    ck_assert_int_eq(trl_params_init_feedback(p, 4, err), TRL_OK);
    ck_assert_int_eq(trl_params_feedback_count(p), want);
    trl_tensor t;
    ck_assert_int_eq(trl_params_tensor(p, "pre.fb.mix.d2", &t, err), TRL_OK);
    ck_assert_int_eq(t.ndim, 2);
    ck_assert_int_eq(trl_params_tensor(p, "fast.fb.fast.d1", &t, err), TRL_OK);
    for (int j = 0; j < t.shape[0]; j++) /* no_self: diagonal 0 */
        ck_assert(t.data[j * t.shape[1] + j] == 0);
    ck_assert_int_eq(trl_params_tensor(p, "fast.fb.sensor", &t, err), TRL_ERR_ARGUMENT);
    ck_assert_int_eq(tu_tmp_init("orders"), 0);
    ck_assert_int_eq(trl_params_save(p, tu_tmp("p.safetensors"), err), TRL_OK);
    ck_assert_int_eq(trl_params_new(g, &q, err), TRL_OK);
    ck_assert_int_eq(trl_params_load(q, tu_tmp("p.safetensors"), err), TRL_OK);
    ck_assert_int_eq(trl_params_feedback_count(q), want);
    trl_tensor a, b;
    ck_assert_int_eq(trl_params_tensor(p, "out.fb.mix", &a, err), TRL_OK);
    ck_assert_int_eq(trl_params_tensor(q, "out.fb.mix", &b, err), TRL_OK);
    ck_assert(memcmp(a.data, b.data, 8 * sizeof(trl_real)) == 0);
    const trl_real zeros[8] = {0};
    ck_assert_int_eq(trl_params_set(q, "out.fb.mix", zeros, 8, err), TRL_OK);
    ck_assert(b.data[0] == 0);
    trl_params_free(q);
    trl_params_free(p);
    trl_graph_free(g);
    trl_error_free(err);
    tu_tmp_remove();
}
END_TEST

/* Adaptive feedback in the trainer: with decay 0, every matrix moves by
 * exactly its edge's update; with a decay, by the update minus decay * fb;
 * the checkpoint holds the matrices. */
START_TEST(api_trainer_adaptive)
{
    trl_error *err = trl_error_new();
    trl_graph *g;
    trl_params *p;
    trl_data *d;
    api_fixture("lif_eprop", "params_feedback.safetensors", &g, &p, &d, err);
    trl_tensor w, fb;
    ck_assert_int_eq(trl_params_tensor(p, "out.w.lif", &w, err), TRL_OK);
    ck_assert_int_eq(trl_params_tensor(p, "out.fb.lif", &fb, err), TRL_OK);
    trl_real w0[60], fb0[60];
    memcpy(w0, w.data, sizeof w0);
    memcpy(fb0, fb.data, sizeof fb0);
    ck_assert_int_eq(tu_tmp_init("adaptive"), 0);
    trl_train_config cfg = TRL_TRAIN_CONFIG_INIT;
    cfg.grad.algo = TRL_ALGO_EPROP;
    cfg.grad.feedback = TRL_FEEDBACK_ADAPTIVE;
    cfg.optimizer = TRL_OPTIM_SGD;
    cfg.momentum = 0;
    cfg.iters = 1;
    cfg.batch = 2;
    cfg.feedback_decay = 0.25;
    trl_trainer *t = NULL;
    ck_assert_msg(trl_trainer_new(g, p, &cfg, &t, err) == TRL_OK, "%s", trl_error_message(err));
    ck_assert_int_eq(trl_trainer_set_data(t, d, NULL, err), TRL_OK);
    ck_assert_int_eq(trl_trainer_run(t, NULL, NULL, err), TRL_OK);
    double moved = 0;
    for (int k = 0; k < 60; k++) {
        const double want = fb0[k] + (w.data[k] - w0[k]) - 0.25 * fb0[k];
        ck_assert_double_eq_tol(fb.data[k], want, 1e-5);
        moved += fabs((double)w.data[k] - w0[k]);
    }
    ck_assert_double_gt(moved, 0);
    ck_assert_int_eq(trl_trainer_checkpoint(t, tu_tmp("ck.safetensors"), err), TRL_OK);
    trl_result *ck = NULL;
    trl_tensor saved;
    ck_assert_int_eq(trl_result_load(tu_tmp("ck.safetensors"), &ck, err), TRL_OK);
    ck_assert_int_eq(trl_result_find(ck, "out.fb.lif", &saved, err), TRL_OK);
    ck_assert(memcmp(saved.data, fb.data, 60 * sizeof(trl_real)) == 0);
    /* resume restores them */
    fb.data[0] += 1;
    ck_assert_int_eq(trl_trainer_resume(t, tu_tmp("ck.safetensors"), err), TRL_OK);
    ck_assert(fb.data[0] == saved.data[0]);
    trl_result_free(ck);
    trl_trainer_free(t);
    /* random feedback without matrices, and a decay without adaptive feedback */
    trl_params *bare;
    ck_assert_int_eq(trl_params_new(g, &bare, err), TRL_OK);
    cfg.grad.feedback = TRL_FEEDBACK_RANDOM;
    ck_assert_int_eq(trl_trainer_new(g, p, &cfg, &t, err), TRL_ERR_ARGUMENT);
    cfg.feedback_decay = 0;
    /* the matrices are looked for when the run starts: parameters may be
     * loaded or drawn after the trainer is made */
    ck_assert_int_eq(trl_trainer_new(g, bare, &cfg, &t, err), TRL_OK);
    ck_assert_int_eq(trl_trainer_set_data(t, d, NULL, err), TRL_OK);
    ck_assert_int_eq(trl_trainer_run(t, NULL, NULL, err), TRL_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(trl_error_message(err), "feedback matrices"));
    ck_assert_int_eq(trl_params_init_feedback(bare, 3, err), TRL_OK);
    ck_assert_int_eq(trl_trainer_run(t, NULL, NULL, err), TRL_OK);
    trl_trainer_free(t);
    trl_params_free(bare);
    trl_data_free(d);
    trl_params_free(p);
    trl_graph_free(g);
    trl_error_free(err);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("orders");
    TCase *tc = tcase_create("fixtures");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, fixture_orders, 0, 6);
    tcase_add_loop_test(tc, fixture_feedback, 0, 6);
    suite_add_tcase(s, tc);
    TCase *tr = tcase_create("random graphs");
    tcase_set_timeout(tr, 300);
    tcase_add_loop_test(tr, order_one_is_eprop, 0, 2);
    tcase_add_loop_test(tr, order_T_is_bptt, 0, 2);
    tcase_add_loop_test(tr, orders_engines_agree, 0, 2);
    tcase_add_loop_test(tr, feedback_equal_to_weights_is_symmetric, 0, 2);
    tcase_add_loop_test(tr, random_feedback_engines_agree, 0, 2);
    tcase_add_loop_test(tr, order_plan_sizes, 0, 2);
    tcase_add_test(tr, bellec_random_eprop);
    tcase_add_test(tr, adaptive_rule_by_hand);
    suite_add_tcase(s, tr);
    TCase *ta = tcase_create("public API");
    tcase_set_timeout(ta, 120);
    tcase_add_loop_test(ta, api_order_and_feedback, 0, 6);
    tcase_add_test(ta, api_feedback_init_save_load);
    tcase_add_test(ta, api_trainer_adaptive);
    suite_add_tcase(s, ta);
    int failed = tu_run_suite(s, true);
    return failed ? 1 : 0;
}
