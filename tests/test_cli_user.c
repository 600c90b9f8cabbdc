/* test_cli_user.c - what a new user meets besides the core commands
 * (issue 19): `eval` scores as training's validation does, against scores
 * computed here from `run`'s outputs; `run --states` writes every node's
 * state variables; mistyped options and commands get a "did you mean". Run
 * against the binary of the same build (TRELLIS_BIN).
 */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engines/net.h"
#include "io/safetensors.h"
#include "tests/support/cli_run.h"
#include "tests/support/testutil.h"

/* Tensor name of file path, as doubles (malloc), with its count. */
static double *read_tensor(const char *path, const char *name, size_t *count)
{
    struct trl_errors err;
    struct st_file *f = st_open(path, &err);
    ck_assert_msg(f, "%s: cannot open", path);
    const struct st_tensor *t = st_find(f, name);
    ck_assert_msg(t, "%s: no tensor %s", path, name);
    trl_real *r = malloc(t->count * sizeof *r);
    double *v = malloc(t->count * sizeof *v);
    st_read_real(t, r);
    for (size_t i = 0; i < t->count; i++) v[i] = r[i];
    *count = t->count;
    free(r);
    st_close(f);
    return v;
}

static int argmax(const double *v, int n)
{
    int best = 0;
    for (int k = 1; k < n; k++)
        if (v[k] > v[best]) best = k;
    return best;
}

/* Per sample: argmax of the softmax summed over the masked steps against the
 * target's; samples with no masked step are not counted. */
static double accuracy(const double *y, const double *target, const double *mask, int B, int T,
                       int K)
{
    int right = 0, counted = 0;
    double p[16], tg[16];
    ck_assert_int_le(K, 16);
    for (int b = 0; b < B; b++) {
        double weight = 0;
        memset(p, 0, sizeof p);
        memset(tg, 0, sizeof tg);
        for (int t = 0; t < T; t++) {
            const size_t bt = (size_t)b * T + t;
            const double m = mask ? mask[bt] : 1, *yt = y + bt * K;
            if (m == 0) continue;
            double top = yt[0], sum = 0;
            for (int k = 1; k < K; k++) top = fmax(top, yt[k]);
            for (int k = 0; k < K; k++) sum += exp(yt[k] - top);
            for (int k = 0; k < K; k++) {
                p[k] += m * exp(yt[k] - top) / sum;
                tg[k] += m * target[bt * K + k];
            }
            weight += m;
        }
        if (weight == 0) continue;
        counted++;
        right += argmax(p, K) == argmax(tg, K);
    }
    return (double)right / counted;
}

/* Masked squared error over the masked variance of the target, per output. */
static double nmse(const double *y, const double *target, const double *mask, size_t BT, int K)
{
    double err = 0, var = 0;
    for (int k = 0; k < K; k++) {
        double sum = 0, w = 0;
        for (size_t i = 0; i < BT; i++) {
            const double m = mask ? mask[i] : 1;
            sum += m * target[i * K + k];
            w += m;
        }
        for (size_t i = 0; i < BT; i++) {
            const double m = mask ? mask[i] : 1, tg = target[i * K + k], e = y[i * K + k] - tg;
            err += m * e * e;
            var += m * (tg - sum / w) * (tg - sum / w);
        }
    }
    return err / var;
}

/* eval --json of fixture name, and the same scores from run's outputs. */
static void check_eval(const char *name, const char *loss_node, int K)
{
    char graph[256], params[256], data[256];
    snprintf(graph, sizeof graph, "%s", tu_fixture(name, "graph.json"));
    snprintf(params, sizeof params, "%s", tu_fixture(name, "params.safetensors"));
    snprintf(data, sizeof data, "%s", tu_fixture(name, "data.safetensors"));
    struct cli_result r = cli_run(NULL, (const char *const[]){"eval", graph, "--params", params,
                                                              "--data", data, "--json", NULL});
    ck_assert_msg(r.status == 0, "%s", r.err);
    json_error_t je;
    json_t *j = json_loads(r.out, 0, &je);
    ck_assert_msg(j, "not JSON: %s\n%s", je.text, r.out);
    cli_result_free(&r);
    r = cli_run(NULL, (const char *const[]){"run", graph, "--params", params, "--data", data, "-o",
                                            tu_tmp("eval_run.st"), NULL});
    ck_assert_msg(r.status == 0, "%s", r.err);
    cli_result_free(&r);
    size_t ny, nt, nl;
    double *y = read_tensor(tu_tmp("eval_run.st"), loss_node, &ny);
    double *target = read_tensor(data, "target", &nt);
    double *loss = read_tensor(tu_tmp("eval_run.st"), "loss", &nl);
    ck_assert_uint_eq(ny, nt);
    const int B = (int)json_integer_value(json_object_get(j, "B")),
              T = (int)json_integer_value(json_object_get(j, "T"));
    ck_assert_uint_eq(ny, (size_t)B * T * K);
    struct trl_errors err;
    struct st_file *f = st_open(data, &err);
    double *mask = NULL;
    size_t nm = 0;
    if (st_find(f, "mask")) mask = read_tensor(data, "mask", &nm);
    st_close(f);
    const double tol = sizeof(trl_real) == 8 ? 1e-9 : 1e-5;
    ck_assert_double_eq_tol(json_real_value(json_object_get(j, "loss")), loss[0],
                            tol * fabs(loss[0]));
    const char *type = json_string_value(json_object_get(j, "loss_type"));
    if (strcmp(type, "cross_entropy") == 0) {
        ck_assert(json_is_null(json_object_get(j, "nmse")));
        ck_assert_double_eq_tol(json_real_value(json_object_get(j, "accuracy")),
                                accuracy(y, target, mask, B, T, K), 1e-12);
    } else {
        ck_assert(json_is_null(json_object_get(j, "accuracy")));
        double want = nmse(y, target, mask, (size_t)B * T, K);
        ck_assert_double_eq_tol(json_real_value(json_object_get(j, "nmse")), want, tol * want);
    }
    free(y);
    free(target);
    free(loss);
    free(mask);
    json_decref(j);
}

START_TEST(eval_scores_as_validation)
{
    check_eval("ce_masked", "out", 2);
    check_eval("dag_skip", "out", 2);
    check_eval("rnn_tanh", "y", 2);
}
END_TEST

static void expect(int status, const char *const *argv, const char *needle)
{
    struct cli_result r = cli_run(NULL, argv);
    ck_assert_msg(r.status == status, "%s: exit %d, expected %d\nstdout: %s\nstderr: %s", argv[0],
                  r.status, status, r.out, r.err);
    if (needle)
        ck_assert_msg(strstr(r.err, needle) || strstr(r.out, needle), "\"%s\" not in:\n%s%s",
                      needle, r.out, r.err);
    cli_result_free(&r);
}

START_TEST(eval_text_and_errors)
{
    const char *g = "tests/fixtures/ce_masked/graph.json",
               *p = "tests/fixtures/ce_masked/params.safetensors",
               *d = "tests/fixtures/ce_masked/data.safetensors";
    expect(0, (const char *const[]){"eval", g, "--params", p, "--data", d, NULL}, "accuracy  ");
    expect(0,
           (const char *const[]){"eval", "tests/fixtures/rnn_tanh/graph.json", "--params",
                                 "tests/fixtures/rnn_tanh/params.safetensors", "--data",
                                 "tests/fixtures/rnn_tanh/data.safetensors", NULL},
           "nmse      ");
    expect(0, (const char *const[]){"eval", "--help", NULL}, "example:");
    expect(2, (const char *const[]){"eval", g, "--data", d, NULL}, "--params");
    expect(2, (const char *const[]){"eval", g, "--params", p, NULL}, "--data");
    /* parameters of another graph; data of another graph */
    expect(1,
           (const char *const[]){"eval", g, "--params",
                                 "tests/fixtures/rnn_tanh/params.safetensors", "--data", d, NULL},
           "tests/fixtures/rnn_tanh/params.safetensors: ");
    expect(1,
           (const char *const[]){"eval", g, "--params", p, "--data",
                                 "tests/fixtures/rnn_tanh/data.safetensors", NULL},
           "tests/fixtures/rnn_tanh/data.safetensors: ");
}
END_TEST

/* run --states of a fixture: every state variable of every node, equal to
 * the state a network stepped here holds (net_h), sample by sample. */
static void check_states(const char *name, double tol)
{
    char graph[256], params[256], data[256];
    snprintf(graph, sizeof graph, "%s", tu_fixture(name, "graph.json"));
    snprintf(params, sizeof params, "%s", tu_fixture(name, "params.safetensors"));
    snprintf(data, sizeof data, "%s", tu_fixture(name, "data.safetensors"));
    const char *out = tu_tmp("states.st");
    struct cli_result r =
        cli_run(NULL, (const char *const[]){"run", graph, "--params", params, "--data", data,
                                            "--states", "-o", out, NULL});
    ck_assert_msg(r.status == 0, "%s", r.err);
    cli_result_free(&r);
    struct trl_errors err;
    struct graph *g = graph_load(graph, &err);
    trl_real *p = params_new(g);
    ck_assert_int_eq(params_load(g, params, p, &err), 0);
    struct data *d = data_load(g, data, DATA_TARGET_OPTIONAL, &err);
    struct net *net = net_new(g, p, d->B, 0);
    struct st_file *f = st_open(out, &err);
    int n_states = 0;
    for (int i = 0; i < g->n_nodes; i++) n_states += g->nodes[i].op->n_state;
    ck_assert_int_eq(f->n, g->n_outputs + n_states + (g->loss_node >= 0));
    double worst = 0;
    for (int t = 0; t < d->T; t++) {
        net_step(net, d);
        for (int i = 0; i < g->n_nodes; i++) {
            const struct graph_node *n = &g->nodes[i];
            const char *names = n->op->state_names;
            for (int s = 0; s < n->op->n_state; s++, names += strcspn(names, ",") + 1) {
                char key[160];
                snprintf(key, sizeof key, "%s.%.*s", n->id, (int)strcspn(names, ","), names);
                const struct st_tensor *x = st_find(f, key);
                ck_assert_msg(x, "%s: no %s", name, key);
                ck_assert(x->ndim == 3 && x->shape[0] == d->B && x->shape[1] == d->T &&
                          x->shape[2] == n->size);
                trl_real *v = malloc(x->count * sizeof *v);
                st_read_real(x, v);
                const trl_real *h = net_h(net, i, t);
                for (int b = 0; b < d->B; b++)
                    for (int j = 0; j < n->size; j++) {
                        double want = h[((size_t)b * n->op->n_state + s) * n->size + j];
                        double got = v[((size_t)b * d->T + t) * n->size + j];
                        worst = fmax(worst, fabs(got - want) / fmax(1, fabs(want)));
                    }
                free(v);
            }
        }
    }
    ck_assert_msg(worst <= tol, "%s: states differ by %g", name, worst);
    st_close(f);
    net_free(net);
    data_free(d);
    trl_free(p);
    graph_free(g);
}

START_TEST(run_writes_states)
{
    check_states("deep_leaky3", sizeof(trl_real) == 8 ? 1e-12 : 1e-5);
    check_states("rnn_tanh", sizeof(trl_real) == 8 ? 1e-12 : 1e-5);
#ifdef TRL_F64 /* spikes may flip within float32 rounding */
    check_states("alif_adaptation", 1e-12);
    check_states("dag_skip", 1e-12);
#endif
}
END_TEST

/* Mistyped commands, options and values: the closest name, or none when
 * nothing is close. */
START_TEST(did_you_mean)
{
    const char *g = "tests/fixtures/rnn_tanh/graph.json";
    expect(2, (const char *const[]){"valdate", g, NULL}, "did you mean \"validate\"?");
    expect(2, (const char *const[]){"train", g, "--iter", "5", NULL}, "did you mean \"--iters\"?");
    expect(2, (const char *const[]){"run", g, "--stats", NULL}, "did you mean \"--states\"?");
    expect(2, (const char *const[]){"init", g, "--outptu", "x", NULL},
           "did you mean \"--output\"?");
    expect(2, (const char *const[]){"data", "sine", "--itr", "3", "-o", "x", NULL},
           "did you mean \"--iter\"?");
    expect(2, (const char *const[]){"data", "sinus", "-o", "x", NULL}, "did you mean \"sine\"?");
    expect(2,
           (const char *const[]){"grad", g, "--params", "p", "--data", "d", "--algo", "epro", "-o",
                                 "x", NULL},
           "did you mean \"eprop\"?");
    expect(2,
           (const char *const[]){"bench", g, "--params", "p", "--data", "d", "--algo", "rn", NULL},
           "did you mean \"run\"?");
    struct cli_result r = cli_run(NULL, (const char *const[]){"validate", g, "--frobnicate", NULL});
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "unknown option") && !strstr(r.err, "did you mean"), "%s", r.err);
    cli_result_free(&r);
    r = cli_run(NULL, (const char *const[]){"zzzzzz", NULL});
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "unknown command") && !strstr(r.err, "did you mean"), "%s", r.err);
    cli_result_free(&r);
}
END_TEST

int main(void)
{
    if (tu_tmp_init("cli_user")) return 1;
    Suite *s = suite_create("cli_user");
    TCase *tc = tcase_create("cli_user");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, eval_scores_as_validation);
    tcase_add_test(tc, eval_text_and_errors);
    tcase_add_test(tc, run_writes_states);
    tcase_add_test(tc, did_you_mean);
    suite_add_tcase(s, tc);
    int failed = tu_run_suite(s, false);
    if (tu_tmp_remove()) failed++;
    return failed ? 1 : 0;
}
