/* test_train.c - training (train/train.h, optim.h, checkpoint.c):
 *
 *   optimisers     Adam and SGD steps against values computed by hand;
 *                  clipping scales to the norm asked for
 *   resume         3 iterations, a checkpoint, 3 more = 6 uninterrupted,
 *                  byte for byte (bptt, eprop, rtrl with online updates)
 *   NaN stop       a diverging run stops with the iteration and the tensor,
 *                  before touching the parameters
 *   learning       short seeded runs lower the loss by a stated factor
 *   regulariser    the rate term's gradient by bptt = by rtrl = by finite
 *                  differences of the term on a smooth surrogate
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train/train.h"
#include "tests/support/randgraph.h"
#include "tests/support/testutil.h"

#ifdef TRL_F64
#define TOL 1e-12
#else
#define TOL 1e-5
#endif

static const char *tiny_graph =
    "{\"trellis\": 1, \"nodes\": [{\"id\": \"x\", \"op\": \"input\", \"size\": 2},"
    "{\"id\": \"y\", \"op\": \"dense\", \"size\": 1, \"inputs\": [\"x\"]}],"
    "\"loss\": {\"node\": \"y\", \"type\": \"mse\"}}";

START_TEST(adam_by_hand)
{
    struct graph *g = tu_graph(tiny_graph); /* y.w.x [1, 2], y.b [1] */
    trl_real params[3] = {1, -1, 0.5}, grad[3] = {0.2, -0.4, 0};
    struct optim *o = optim_new(g, OPTIM_ADAM, 0.1);
    optim_step(o, g, params, grad);
    /* step 1: mhat = g, vhat = g^2, update = lr g / (|g| + eps) */
    ck_assert_double_eq_tol(params[0], 1 - 0.1 * 0.2 / (0.2 + 1e-8), TOL);
    ck_assert_double_eq_tol(params[1], -1 + 0.1 * 0.4 / (0.4 + 1e-8), TOL);
    ck_assert_double_eq_tol(params[2], 0.5, TOL);
    trl_real g2[3] = {-0.2, 0, 0};
    optim_step(o, g, params, g2);
    double m = 0.9 * 0.1 * 0.2 + 0.1 * -0.2, v = 0.999 * 0.001 * 0.04 + 0.001 * 0.04;
    double mhat = m / (1 - 0.81), vhat = v / (1 - 0.999 * 0.999);
    double expect = 1 - 0.1 * 0.2 / (0.2 + 1e-8) - 0.1 * mhat / (sqrt(vhat) + 1e-8);
    ck_assert_double_eq_tol(params[0], expect, TOL);
    optim_free(o);
    graph_free(g);
}
END_TEST

START_TEST(sgd_momentum_by_hand)
{
    struct graph *g = tu_graph(tiny_graph);
    trl_real params[3] = {1, 1, 1}, grad[3] = {1, 2, 3};
    struct optim *o = optim_new(g, OPTIM_SGD, 0.5);
    optim_step(o, g, params, grad);
    optim_step(o, g, params, grad); /* v = 1.9 g after two steps */
    for (int k = 0; k < 3; k++)
        ck_assert_double_eq_tol(params[k], 1 - 0.5 * (1 + 1.9) * grad[k], TOL);
    optim_free(o);
    graph_free(g);
}
END_TEST

START_TEST(clip_to_norm)
{
    struct graph *g = tu_graph(tiny_graph);
    trl_real grad[3] = {3, 4, 0};
    ck_assert_double_eq_tol(optim_clip(g, grad, 10), 5, TOL);
    ck_assert_double_eq_tol(grad[0], 3, TOL);
    ck_assert_double_eq_tol(optim_clip(g, grad, 1), 5, TOL);
    ck_assert_double_eq_tol(sqrt(grad[0] * grad[0] + grad[1] * grad[1]), 1, TOL);
    optim_free(NULL);
    graph_free(g);
}
END_TEST

/* A data-file source over a fixture. */
static struct data *subset_batch(void *ctx, const struct graph *g, uint64_t seed, long iter, int B,
                                 struct trl_errors *err)
{
    (void)err;
    return data_subset(g, ctx, seed, iter, B);
}

struct setup {
    struct graph *g;
    struct data *d;
    trl_real *params;
    struct train_source src;
};

static void setup_fixture(struct setup *s, const char *name)
{
    struct trl_errors err;
    s->g = graph_load(tu_fixture(name, "graph.json"), &err);
    ck_assert_ptr_nonnull(s->g);
    s->params = params_new(s->g);
    ck_assert_int_eq(params_load(s->g, tu_fixture(name, "params.safetensors"), s->params, &err), 0);
    s->d = data_load(s->g, tu_fixture(name, "data.safetensors"), DATA_TARGET_REQUIRED, &err);
    ck_assert_ptr_nonnull(s->d);
    s->src = (struct train_source){.batch = subset_batch, .ctx = s->d, .val = s->d};
}

static void setup_free(struct setup *s)
{
    data_free(s->d);
    trl_free(s->params);
    graph_free(s->g);
}

static const struct {
    enum grad_algo algo;
    enum grad_engine engine;
    bool online;
} modes[] = {
    {GRAD_BPTT, GRAD_ENGINE_DEFAULT, false},  {GRAD_EPROP, GRAD_ENGINE_ONLINE, false},
    {GRAD_EPROP, GRAD_ENGINE_REVERSE, false}, {GRAD_RTRL, GRAD_ENGINE_DEFAULT, true},
    {GRAD_EPROP, GRAD_ENGINE_ONLINE, true},
};

START_TEST(resume_is_exact)
{
    struct setup s;
    setup_fixture(&s, "rnn_tanh");
    char ckpt[64];
    snprintf(ckpt, sizeof ckpt, "/tmp/trellis-test-ckpt-%d-%d.safetensors", (int)getpid(), _i);
    struct train_config cfg = {.algo = modes[_i].algo,
                               .engine = modes[_i].engine,
                               .online = modes[_i].online,
                               .optimizer = OPTIM_ADAM,
                               .lr = 1e-2,
                               .iters = 6,
                               .batch = 2,
                               .seed = 5,
                               .eval_every = 2,
                               .checkpoint_every = 3,
                               .checkpoint_path = ckpt};
    struct trl_errors err;
    trl_errors_init(&err, "resume");
    trl_real *straight = params_new(s.g), *resumed = params_new(s.g);
    memcpy(straight, s.params, s.g->n_param_values * sizeof *straight);
    struct optim *o = optim_new(s.g, OPTIM_ADAM, cfg.lr);
    ck_assert_int_eq(train_run(s.g, straight, o, &cfg, &s.src, 0, NULL, NULL, &err), TRAIN_DONE);
    optim_free(o);
    /* the checkpoint written after iteration 3 (the one after 6 overwrote it: redo 3) */
    cfg.iters = 3;
    memcpy(resumed, s.params, s.g->n_param_values * sizeof *resumed);
    o = optim_new(s.g, OPTIM_ADAM, cfg.lr);
    ck_assert_int_eq(train_run(s.g, resumed, o, &cfg, &s.src, 0, NULL, NULL, &err), TRAIN_DONE);
    optim_free(o);
    o = optim_new(s.g, OPTIM_ADAM, cfg.lr);
    long next = 0;
    ck_assert_int_eq(train_checkpoint_load(s.g, resumed, o, &next, ckpt, &err), 0);
    ck_assert_int_eq(next, 3);
    cfg.iters = 6;
    ck_assert_int_eq(train_run(s.g, resumed, o, &cfg, &s.src, next, NULL, NULL, &err), TRAIN_DONE);
    ck_assert_msg(memcmp(straight, resumed, s.g->n_param_values * sizeof *resumed) == 0,
                  "mode %d: resumed parameters differ", _i);
    ck_assert_msg(memcmp(straight, s.params, s.g->n_param_values * sizeof *resumed) != 0,
                  "training did not move the parameters");
    optim_free(o);
    unlink(ckpt);
    trl_free(straight);
    trl_free(resumed);
    setup_free(&s);
}
END_TEST

START_TEST(nan_stops_before_update)
{
    struct setup s;
    setup_fixture(&s, "rnn_tanh");
    struct train_config cfg = {
        .algo = GRAD_BPTT, .optimizer = OPTIM_SGD, .lr = 1e300, .iters = 5, .batch = 3, .seed = 1};
    struct trl_errors err;
    trl_errors_init(&err, "nan");
    struct optim *o = optim_new(s.g, OPTIM_SGD, cfg.lr);
    ck_assert_int_eq(train_run(s.g, s.params, o, &cfg, &s.src, 0, NULL, NULL, &err), TRAIN_FAILED);
    ck_assert_int_ge(err.n, 1);
    ck_assert_msg(strstr(err.e[0].msg, "not finite"), "%s", err.e[0].msg);
    ck_assert_msg(strstr(err.e[0].msg, "iteration 1") || strstr(err.e[0].msg, "iteration 2"), "%s",
                  err.e[0].msg);
    ck_assert_int_eq(o->step, 1); /* the failing iteration made no update */
    optim_free(o);
    setup_free(&s);
}
END_TEST

static double loss_after(struct setup *s, enum grad_algo algo, int iters, double lr)
{
    struct train_config cfg = {
        .algo = algo, .optimizer = OPTIM_ADAM, .lr = lr, .iters = iters, .batch = 0, .seed = 3};
    struct trl_errors err;
    trl_errors_init(&err, "learn");
    trl_real *p = params_new(s->g);
    memcpy(p, s->params, s->g->n_param_values * sizeof *p);
    struct optim *o = optim_new(s->g, OPTIM_ADAM, lr);
    ck_assert_int_eq(train_run(s->g, p, o, &cfg, &s->src, 0, NULL, NULL, &err), TRAIN_DONE);
    struct train_eval ev;
    ck_assert_int_eq(train_evaluate(s->g, p, s->d, &ev, &err), 0);
    optim_free(o);
    trl_free(p);
    return ev.loss;
}

START_TEST(training_lowers_the_loss)
{
    static const char *const cases[] = {"rnn_tanh", "deep_leaky3", "lif_eprop"};
    static const enum grad_algo algos[] = {GRAD_BPTT, GRAD_EPROP};
    struct setup s;
    setup_fixture(&s, cases[_i / 2]);
    double before = loss_after(&s, algos[_i % 2], 0, 1e-2);
    double after = loss_after(&s, algos[_i % 2], 40, 1e-2);
    ck_assert_msg(after < before / 2, "%s %s: loss %g -> %g, expected at least halved",
                  cases[_i / 2], grad_algo_names[algos[_i % 2]], before, after);
    setup_free(&s);
}
END_TEST

/* The rate term on z of a node (dz_const) by every engine agrees. */
START_TEST(hook_terms_agree)
{
    struct randgraph_opts o = {.max_hidden = 5};
    for (uint64_t seed = 1; seed <= 20; seed++) {
        char *json = randgraph_json(seed * 977 + (uint64_t)_i, &o);
        struct graph *g = tu_graph(json);
        trl_real *params = params_new(g), *g1 = params_new(g), *g2 = params_new(g);
        params_init(g, seed, params);
        struct data *d = randgraph_data(g, seed, 2, 10);
        trl_real **dz = calloc((size_t)g->n_nodes, sizeof *dz);
        for (int i = 0; i < g->n_nodes; i++)
            if (!g->nodes[i].op->is_input && (i + (int)seed) % 2) {
                dz[i] = calloc((size_t)g->nodes[i].size, sizeof **dz);
                for (int j = 0; j < g->nodes[i].size; j++) dz[i][j] = (trl_real)(0.1 * (j + 1));
            }
        struct grad_hooks h = {.dz_const = dz};
        double l1, l2;
        struct trl_errors err;
        trl_errors_init(&err, "hooks");
        enum grad_algo a1 = _i ? GRAD_EPROP : GRAD_RTRL, a2 = _i ? GRAD_EPROP : GRAD_BPTT;
        ck_assert_int_eq(
            grad_compute_hooks(g, params, d, a1, GRAD_ENGINE_ONLINE, &h, g1, &l1, &err), 0);
        ck_assert_int_eq(
            grad_compute_hooks(g, params, d, a2, GRAD_ENGINE_REVERSE, &h, g2, &l2, &err), 0);
        int bad = tu_compare_grads(g, g1, g2, TOL * 1e3, "hook terms");
        if (bad) fprintf(stderr, "%s\n", json);
        ck_assert_int_eq(bad, 0);
        for (int i = 0; i < g->n_nodes; i++) free(dz[i]);
        free(dz);
        trl_free(params);
        trl_free(g1);
        trl_free(g2);
        data_free(d);
        graph_free(g);
        free(json);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("train");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, adam_by_hand);
    tcase_add_test(tc, sgd_momentum_by_hand);
    tcase_add_test(tc, clip_to_norm);
    tcase_add_loop_test(tc, resume_is_exact, 0, (int)(sizeof modes / sizeof modes[0]));
    tcase_add_test(tc, nan_stops_before_update);
    tcase_add_loop_test(tc, training_lowers_the_loss, 0, 6);
    tcase_add_loop_test(tc, hook_terms_agree, 0, 2);
    suite_add_tcase(s, tc);
    int failed = tu_run_suite(s, true);
    return failed ? 1 : 0;
}
