/* test_cli_orders.c - the command-line options of m-order e-prop and
 * feedback (SPEC v2 section 7): grad --order M and --feedback
 * symmetric|random against the fixtures, init --feedback random, train
 * --feedback random|adaptive [--feedback-decay L] (the matrices in the
 * output), the usage errors of options that do not apply, and validate's
 * online trace memory per order (SPEC 6.2) against the trace plan. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/real.h"
#include "engines/trace_plan.h"
#include "io/feedback.h"
#include "io/safetensors.h"
#include "study/summary.h"
#include "tests/support/cli_run.h"
#include "tests/support/testutil.h"

/* The fixture's files (tu_fixture's buffer is static: copies, made in main). */
static const char *fx_files[] = {"graph.json", "params.safetensors", "params_feedback.safetensors",
                                 "data.safetensors"};
static char *fx_paths[4];

static const char *FX(const char *file)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(file, fx_files[i]) == 0) return fx_paths[i];
    ck_abort_msg("no fixture file %s", file);
    return NULL;
}

/* Runs the tool; checks the exit status and, when `says` is not NULL, that
 * stderr contains it. */
static void expect(const char *const *argv, int status, const char *says)
{
    struct cli_result r = cli_run(NULL, argv);
    ck_assert_msg(r.status == status, "%s %s: status %d (want %d)\n%s", argv[0], argv[1], r.status,
                  status, r.err);
    if (says) ck_assert_msg(strstr(r.err, says), "stderr lacks \"%s\":\n%s", says, r.err);
    cli_result_free(&r);
}

/* Every tensor of `expected` is in `actual` within tol, and no other key. */
static void same_file(const char *actual, const char *expected, double tol)
{
    struct trl_errors err;
    trl_errors_init(&err, actual);
    struct st_file *a = st_open(actual, &err), *b = st_open(expected, &err);
    ck_assert(a && b);
    ck_assert_int_eq(a->n, b->n);
    for (int i = 0; i < b->n; i++) {
        const struct st_tensor *tb = &b->tensors[i], *ta = st_find(a, tb->name);
        ck_assert_msg(ta && ta->count == tb->count, "%s: %s missing", actual, tb->name);
        trl_real *x = malloc(ta->count * sizeof *x + 1), *y = malloc(tb->count * sizeof *y + 1);
        st_read_real(ta, x);
        st_read_real(tb, y);
        ck_assert_msg(tu_rel_err(x, y, ta->count) <= tol, "%s: %s differs", actual, tb->name);
        free(x);
        free(y);
    }
    st_close(a);
    st_close(b);
}

#ifdef TRL_F64
#define TOL 1e-6
#else
#define TOL 1e30 /* float32: spikes may flip near threshold; only the keys are compared */
#endif

static struct graph *fixture_graph(void)
{
    struct trl_errors err;
    struct graph *g = graph_load(FX("graph.json"), &err);
    ck_assert_ptr_nonnull(g);
    return g;
}

START_TEST(grad_order_and_feedback)
{
    struct graph *g = fixture_graph();
    const char *engines[] = {"online", "reverse"};
    for (int e = 0; e < 2; e++) {
        expect((const char *const[]){"grad", FX("graph.json"), "--params", FX("params.safetensors"),
                                     "--data", FX("data.safetensors"), "--algo", "eprop",
                                     "--engine", engines[e], "--order", "2", "-o", tu_tmp("g.st"),
                                     NULL},
               0, NULL);
        same_file(tu_tmp("g.st"), tu_fixture("alif_adaptation", "grad_eprop_order2.safetensors"),
                  TOL);
        expect((const char *const[]){"grad", FX("graph.json"), "--params",
                                     FX("params_feedback.safetensors"), "--data",
                                     FX("data.safetensors"), "--algo", "eprop", "--engine",
                                     engines[e], "--feedback", "random", "-o", tu_tmp("f.st"),
                                     NULL},
               0, NULL);
        same_file(tu_tmp("f.st"), tu_fixture("alif_adaptation", "grad_eprop_feedback.safetensors"),
                  TOL);
    }
    graph_free(g);
}
END_TEST

START_TEST(usage_errors)
{
    const char *base[] = {"grad",   FX("graph.json"),       "--params", FX("params.safetensors"),
                          "--data", FX("data.safetensors"), "-o",       tu_tmp("g.st")};
#define GRAD(...)                                                                                  \
    (const char *const[]){base[0], base[1], base[2], base[3],     base[4],                         \
                          base[5], base[6], base[7], __VA_ARGS__, NULL}
    expect(GRAD("--algo", "bptt", "--order", "2"), 2, "--order applies to --algo eprop only");
    expect(GRAD("--algo", "rtrl", "--order", "3"), 2, "rtrl is exact");
    expect(GRAD("--algo", "eprop", "--order", "0"), 2, "--order must be at least 1");
    expect(GRAD("--algo", "eprop", "--feedback", "adaptive"), 2, "training rule");
    expect(GRAD("--algo", "eprop", "--feedback", "mirror"), 2, "symmetric or random");
    expect(GRAD("--algo", "eprop", "--feedback-decay", "0.1"), 2, "adaptive only");
    /* random feedback without matrices: an input error that says how to make them */
    expect(GRAD("--algo", "eprop", "--feedback", "random"), 1, "init GRAPH --seed N --feedback");
    expect((const char *const[]){"init", FX("graph.json"), "--seed", "1", "--feedback", "symmetric",
                                 "-o", tu_tmp("p.st"), NULL},
           2, "--feedback takes random");
    expect((const char *const[]){"train", FX("graph.json"), "--data", FX("data.safetensors"),
                                 "--algo", "eprop", "--feedback", "random", "--feedback-decay",
                                 "0.5", "-o", tu_tmp("t.st"), NULL},
           2, "adaptive only");
    expect((const char *const[]){"train", FX("graph.json"), "--data", FX("data.safetensors"),
                                 "--algo", "eprop", "--feedback", "adaptive", "--feedback-decay",
                                 "2", "-o", tu_tmp("t.st"), NULL},
           2, "from 0 to 1");
    expect((const char *const[]){"train", FX("graph.json"), "--data", FX("data.safetensors"),
                                 "--algo", "bptt", "--order", "2", "-o", tu_tmp("t.st"), NULL},
           2, "--order applies");
    /* bench takes the rule too: a gradient of order 2 runs, a forward pass refuses it */
    expect((const char *const[]){"bench", FX("graph.json"), "--params", FX("params.safetensors"),
                                 "--data", FX("data.safetensors"), "--algo", "eprop", "--engine",
                                 "reverse", "--order", "2", "--repeat", "1", NULL},
           0, NULL);
    expect((const char *const[]){"bench", FX("graph.json"), "--params", FX("params.safetensors"),
                                 "--data", FX("data.safetensors"), "--algo", "run", "--order", "2",
                                 NULL},
           2, "apply to gradients");
    struct cli_result r = cli_run(NULL, (const char *const[]){"grad", "--help", NULL});
    ck_assert_ptr_nonnull(strstr(r.out, "--order M"));
    ck_assert_ptr_nonnull(strstr(r.out, "--feedback MODE"));
    cli_result_free(&r);
    r = cli_run(NULL, (const char *const[]){"train", "--help", NULL});
    ck_assert_ptr_nonnull(strstr(r.out, "--feedback-decay"));
    cli_result_free(&r);
    r = cli_run(NULL, (const char *const[]){"init", "--help", NULL});
    ck_assert_ptr_nonnull(strstr(r.out, "--feedback random"));
    cli_result_free(&r);
#undef GRAD
}
END_TEST

/* init --feedback random writes one matrix per edge from a non-input (the
 * same bytes for the same seed); train --feedback adaptive keeps them in
 * its output, moved. */
START_TEST(init_and_train_feedback)
{
    struct graph *g = fixture_graph();
    expect((const char *const[]){"init", FX("graph.json"), "--seed", "3", "--feedback", "random",
                                 "-o", tu_tmp("p.st"), NULL},
           0, NULL);
    trl_real *params = params_new(g), **fb = feedback_new(g), **fb2 = feedback_new(g);
    struct trl_errors err;
    trl_errors_init(&err, "p.st");
    ck_assert_int_eq(params_load_all(g, tu_tmp("p.st"), params, fb, &err), 0);
    int want = 0;
    for (int e = 0; e < g->n_edges; e++) want += !g->nodes[g->edges[e].src].op->is_input;
    ck_assert_int_eq(feedback_count(g, fb), want);
    ck_assert_int_eq(feedback_init(g, 3, fb2), 0); /* the library's draw, the same values */
    for (int e = 0; e < g->n_edges; e++)
        if (fb[e])
            ck_assert(
                memcmp(fb[e], fb2[e], g->params[g->edges[e].param].count * sizeof(trl_real)) == 0);
    expect((const char *const[]){"train",
                                 FX("graph.json"),
                                 "--data",
                                 FX("data.safetensors"),
                                 "--params",
                                 tu_tmp("p.st"),
                                 "--algo",
                                 "eprop",
                                 "--feedback",
                                 "adaptive",
                                 "--feedback-decay",
                                 "0.1",
                                 "--iters",
                                 "2",
                                 "--batch",
                                 "2",
                                 "--quiet",
                                 "-o",
                                 tu_tmp("t.st"),
                                 NULL},
           0, NULL);
    feedback_free(g, fb2);
    fb2 = feedback_new(g);
    trl_errors_init(&err, "t.st");
    ck_assert_int_eq(params_load_all(g, tu_tmp("t.st"), params, fb2, &err), 0);
    ck_assert_int_eq(feedback_count(g, fb2), want);
    bool moved = false;
    for (int e = 0; e < g->n_edges; e++)
        if (fb[e])
            moved |=
                memcmp(fb[e], fb2[e], g->params[g->edges[e].param].count * sizeof(trl_real)) != 0;
    ck_assert(moved);
    feedback_free(g, fb);
    feedback_free(g, fb2);
    trl_free(params);
    graph_free(g);
}
END_TEST

/* The cosine of two gradient files over every tensor but "loss". */
static double file_cosine(const char *a_path, const char *b_path)
{
    struct trl_errors err;
    trl_errors_init(&err, a_path);
    struct st_file *a = st_open(a_path, &err), *b = st_open(b_path, &err);
    ck_assert(a && b);
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < b->n; i++) {
        const struct st_tensor *tb = &b->tensors[i], *ta = st_find(a, tb->name);
        if (strcmp(tb->name, "loss") == 0) continue;
        ck_assert_msg(ta && ta->count == tb->count, "%s: %s missing", a_path, tb->name);
        trl_real *x = malloc(ta->count * sizeof *x + 1), *y = malloc(tb->count * sizeof *y + 1);
        st_read_real(ta, x);
        st_read_real(tb, y);
        for (size_t k = 0; k < ta->count; k++)
            ab += x[k] * y[k], aa += x[k] * x[k], bb += y[k] * y[k];
        free(x);
        free(y);
    }
    st_close(a);
    st_close(b);
    return ab / sqrt(aa * bb);
}

/* compare --order 1,2 --feedback symmetric,random: four gradients, named by
 * order and feedback, whose network cosines to bptt are those of the grad
 * fixtures (order 2, random feedback) against the exact gradient. */
START_TEST(compare_orders_and_feedback)
{
    struct cli_result r =
        cli_run(NULL, (const char *const[]){"compare", FX("graph.json"), "--params",
                                            FX("params_feedback.safetensors"), "--data",
                                            FX("data.safetensors"), "--order", "1,2", "--feedback",
                                            "symmetric,random", "--json", NULL});
    ck_assert_msg(r.status == 0, "%s", r.err);
    json_error_t je;
    json_t *j = json_loads(r.out, 0, &je);
    ck_assert_msg(j, "not JSON: %s", je.text);
    static const char *const names[] = {"eprop", "eprop random", "eprop order 2",
                                        "eprop order 2 random"};
    json_t *algos = json_object_get(j, "algos"), *cost = json_object_get(j, "cost");
    ck_assert_int_eq(json_array_size(algos), 4);
    for (int a = 0; a < 4; a++) {
        ck_assert_str_eq(json_string_value(json_array_get(algos, (size_t)a)), names[a]);
        json_t *c = json_array_get(cost, (size_t)a + 1); /* [0]: the reference */
        ck_assert_int_eq(json_integer_value(json_object_get(c, "order")), a < 2 ? 1 : 2);
        ck_assert_str_eq(json_string_value(json_object_get(c, "feedback")),
                         a % 2 ? "random" : "symmetric");
    }
    json_t *total = json_object_get(json_object_get(j, "total"), "algos");
    const char *exact = tu_fixture("alif_adaptation", "grad_exact.safetensors");
    char *exact_path = strdup(exact);
    const struct {
        const char *algo, *file;
    } want[] = {{"eprop order 2", "grad_eprop_order2.safetensors"},
                {"eprop random", "grad_eprop_feedback.safetensors"},
                {"eprop", "grad_eprop.safetensors"}};
    for (int k = 0; k < 3; k++) {
        double got =
            json_real_value(json_object_get(json_object_get(total, want[k].algo), "cosine"));
        double cos = file_cosine(tu_fixture("alif_adaptation", want[k].file), exact_path);
#ifdef TRL_F64
        ck_assert_msg(fabs(got - cos) <= 1e-6, "%s: cosine %.9g, fixtures %.9g", want[k].algo, got,
                      cos);
#else /* float32: spikes may flip near threshold (as TOL); only a cosine */
        ck_assert_msg(fabs(got) <= 1 && fabs(cos) <= 1, "%s: cosine %g", want[k].algo, got);
#endif
    }
    free(exact_path);
    json_decref(j);
    cli_result_free(&r);
    const char *base[] = {"compare", FX("graph.json"),      "--params", FX("params.safetensors"),
                          "--data",  FX("data.safetensors")};
#define COMPARE(...)                                                                               \
    (const char *const[]){base[0], base[1], base[2], base[3], base[4], base[5], __VA_ARGS__, NULL}
    expect(COMPARE("--feedback", "random"), 1, "init GRAPH --seed N --feedback");
    expect(COMPARE("--algos", "rtrl", "--order", "2"), 2, "--order applies to eprop only");
    expect(COMPARE("--order", "1,2,3,4,5"), 2, "at most 4 gradients");
    expect(COMPARE("--algos", "eprop,rtrl", "--order", "1,2", "--feedback", "symmetric,random"), 2,
           "at most 4 gradients");
    expect(COMPARE("--order", "0"), 2, "--order takes");
    expect(COMPARE("--order", "2,x"), 2, "--order takes");
    expect(COMPARE("--feedback", "adaptive"), 2, "training rule");
    expect(COMPARE("--feedback", "random,random"), 2, "--feedback takes");
#undef COMPARE
    r = cli_run(NULL, (const char *const[]){"compare", "--help", NULL});
    ck_assert_ptr_nonnull(strstr(r.out, "--order LIST"));
    ck_assert_ptr_nonnull(strstr(r.out, "--feedback LIST"));
    cli_result_free(&r);
    r = cli_run(NULL, (const char *const[]){"sweep", "--help", NULL});
    ck_assert_ptr_nonnull(strstr(r.out, "--order LIST"));
    cli_result_free(&r);
}
END_TEST

/* sweep --order 1,10 on stacks of T = 10: rows "eprop" and "eprop order 10",
 * the latter exact (order >= T), so its network cosine is 1. */
START_TEST(sweep_orders)
{
    const char *out = tu_tmp("sweep.csv");
    expect((const char *const[]){"sweep", "--kind", "leaky", "--depth", "2", "--width", "4",
                                 "--seeds", "1", "--T", "10", "--order", "1,10", "-o", out, NULL},
           0, NULL);
    FILE *f = fopen(out, "r");
    ck_assert_ptr_nonnull(f);
    char line[1024];
    int exact_rows = 0, order1_rows = 0;
    while (fgets(line, sizeof line, f)) {
        char *field[24], *save = NULL;
        int n = 0;
        for (char *t = strtok_r(line, ",", &save); t && n < 24; t = strtok_r(NULL, ",", &save))
            field[n++] = t;
        if (n < 13 || strcmp(field[6], "network") != 0) continue;
        if (strcmp(field[5], "eprop order 10") == 0) {
            exact_rows++;
            ck_assert_double_eq_tol(strtod(field[12], NULL), 1.0, TOL < 1 ? 1e-9 : 1e-3);
        } else {
            ck_assert_str_eq(field[5], "eprop");
            order1_rows++;
        }
    }
    fclose(f);
    ck_assert_int_eq(exact_rows, 2); /* stack depths 1 and 2 */
    ck_assert_int_eq(order1_rows, 2);
    /* --feedback random draws the matrices per seed: its rows differ from the symmetric ones */
    expect((const char *const[]){"sweep", "--kind", "leaky", "--depth", "1", "--width", "4",
                                 "--seeds", "1", "--T", "10", "--feedback", "symmetric,random",
                                 "-o", out, NULL},
           0, NULL);
    f = fopen(out, "r");
    ck_assert_ptr_nonnull(f);
    double cos_sym = 2, cos_random = 2;
    while (fgets(line, sizeof line, f)) {
        char *field[24], *save = NULL;
        int n = 0;
        for (char *t = strtok_r(line, ",", &save); t && n < 24; t = strtok_r(NULL, ",", &save))
            field[n++] = t;
        if (n < 13 || strcmp(field[6], "network") != 0) continue;
        if (strcmp(field[5], "eprop") == 0) cos_sym = strtod(field[12], NULL);
        if (strcmp(field[5], "eprop random") == 0) cos_random = strtod(field[12], NULL);
    }
    fclose(f);
    ck_assert(cos_sym <= 1 && cos_random <= 1 && cos_sym != cos_random);
}
END_TEST

/* validate --json and text: orders 1-3 of the online engine hold exactly the
 * values the engine's plan allocates, order 1 being "eprop online". */
START_TEST(validate_orders)
{
    const char *file = "models/lsnn.json";
    struct trl_errors err;
    trl_errors_init(&err, file);
    struct graph *g = graph_load(file, &err);
    ck_assert_ptr_nonnull(g);
    struct cli_result r = cli_run(NULL, (const char *const[]){"validate", file, "--json", NULL});
    ck_assert_int_eq(r.status, 0);
    json_error_t je;
    json_t *j = json_loads(r.out, 0, &je);
    ck_assert_msg(j, "not JSON: %s", je.text);
    json_t *orders = json_object_get(j, "eprop_online_orders");
    ck_assert_int_eq(json_array_size(orders), 3);
    struct cli_result t = cli_run(NULL, (const char *const[]){"validate", file, NULL});
    ck_assert_int_eq(t.status, 0);
    size_t prev = 0;
    for (int k = 0; k < 3; k++) {
        struct trace_plan *p = trace_plan_new_orders(g, TRACE_EPROP, NULL, k + 1);
        ck_assert_ptr_nonnull(p);
        const double want = (double)trace_plan_values(p, g);
        json_t *o = json_array_get(orders, (size_t)k);
        json_t *c = json_object_get(o, "online");
        ck_assert_int_eq(json_integer_value(json_object_get(o, "order")), k + 1);
        ck_assert_double_eq(json_real_value(json_object_get(c, "values")), want);
        ck_assert_double_eq(json_real_value(json_object_get(c, "bytes")), want * sizeof(trl_real));
        ck_assert(trace_plan_values(p, g) > prev); /* lsnn's recurrent edges add orders */
        prev = trace_plan_values(p, g);
        char name[24], v[32], line[80];
        snprintf(name, sizeof name, "order %d", k + 1);
        summary_human(want, v, sizeof v);
        snprintf(line, sizeof line, "  %-14s %10s values", name, v);
        ck_assert_msg(strstr(t.out, line), "validate lacks \"%s\":\n%s", line, t.out);
        trace_plan_free(p);
    }
    json_t *order1 = json_object_get(json_array_get(orders, 0), "online");
    json_t *eprop = json_object_get(json_object_get(j, "memory_per_sample"), "eprop");
    ck_assert_double_eq(json_real_value(json_object_get(order1, "values")),
                        json_real_value(json_object_get(eprop, "values")));
    json_decref(j);
    cli_result_free(&r);
    cli_result_free(&t);
    graph_free(g);
}
END_TEST

int main(void)
{
    if (tu_tmp_init("cli-orders")) return 1;
    for (int i = 0; i < 4; i++) fx_paths[i] = strdup(tu_fixture("alif_adaptation", fx_files[i]));
    Suite *s = suite_create("cli orders");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, grad_order_and_feedback);
    tcase_add_test(tc, usage_errors);
    tcase_add_test(tc, init_and_train_feedback);
    tcase_add_test(tc, validate_orders);
    tcase_add_test(tc, compare_orders_and_feedback);
    tcase_add_test(tc, sweep_orders);
    suite_add_tcase(s, tc);
    int failed = tu_run_suite(s, false);
    tu_tmp_remove();
    for (int i = 0; i < 4; i++) free(fx_paths[i]);
    return failed ? 1 : 0;
}
