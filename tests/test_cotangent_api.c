/* test_cotangent_api.c - a loss from outside and input gradients through the
 * public library and the command line (SPEC v2 6.4, trellis.h).
 *
 *   fixtures    trl_grad with cotangent.safetensors and input_grads equals
 *               grad_exact_cotangent (bptt, rtrl) and grad_eprop_cotangent
 *               (eprop, both engines) for every fixture: 1e-6 per tensor,
 *               loss 1e-9 (float64; float32 the non-spiking ones, 2e-3); so
 *               does `grad --cotangent --input-grads`
 *   no loss     a graph without a loss and data without a target: the loss
 *               is sum(cot . y) of trl_run's outputs; an empty cotangent
 *               list gives zeros
 *   errors      unknown id (with a suggestion), not an output, wrong shape,
 *               not finite, twice, streamed data with input gradients; the
 *               command line prints them as about the cotangent file
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/cli_run.h"
#include "tests/support/st_build.h"
#include "tests/support/testutil.h"
#include "trellis.h"

#ifdef TRL_F64
#define TOL      1e-6
#define TOL_LOSS 1e-9
#else
#define TOL      2e-3
#define TOL_LOSS 1e-5
#endif

static const trl_algo algos[] = {TRL_ALGO_BPTT, TRL_ALGO_RTRL, TRL_ALGO_EPROP, TRL_ALGO_EPROP};
static const trl_engine engines[] = {TRL_ENGINE_DEFAULT, TRL_ENGINE_DEFAULT, TRL_ENGINE_ONLINE,
                                     TRL_ENGINE_REVERSE};

static bool skipped(const char *fixture)
{
#ifdef TRL_F64
    (void)fixture;
    return false;
#else /* a spike may flip within float32 rounding of the threshold */
    return strcmp(fixture, "deep_leaky3") != 0 && strcmp(fixture, "rnn_tanh") != 0;
#endif
}

/* r holds exactly the tensors of the file at path, each within TOL, and its loss. */
static void expect_file(const trl_result *r, const char *path)
{
    trl_error *err = trl_error_new();
    trl_result *want = NULL;
    ck_assert_msg(trl_result_load(path, &want, err) == TRL_OK, "%s", trl_error_message(err));
    ck_assert_int_eq(trl_result_count(r), trl_result_count(want));
    for (int i = 0; i < trl_result_count(want); i++) {
        trl_tensor w, g;
        trl_result_tensor(want, i, &w);
        ck_assert_msg(trl_result_find(r, w.name, &g, err) == TRL_OK, "%s: %s missing", path,
                      w.name);
        ck_assert_int_eq(g.ndim, w.ndim);
        size_t n = 1;
        for (int k = 0; k < w.ndim; k++) {
            ck_assert_int_eq(g.shape[k], w.shape[k]);
            n *= (size_t)w.shape[k];
        }
        double dd = 0, ee = 0;
        for (size_t k = 0; k < n; k++) {
            dd += ((double)g.data[k] - w.data[k]) * ((double)g.data[k] - w.data[k]);
            ee += (double)w.data[k] * w.data[k];
        }
        ck_assert_msg(sqrt(dd) <= TOL * fmax(sqrt(ee), 1e-12), "%s: %s off by %g relative", path,
                      w.name, sqrt(dd) / fmax(sqrt(ee), 1e-12));
    }
    double a, b;
    ck_assert(trl_result_loss(r, &a) && trl_result_loss(want, &b));
    ck_assert_msg(fabs(a - b) <= TOL_LOSS * fabs(b), "%s: loss %.17g vs %.17g", path, a, b);
    trl_result_free(want);
    trl_error_free(err);
}

START_TEST(fixtures_through_the_library)
{
    const char *name = tu_fixture_names[_i];
    if (skipped(name)) return;
    trl_error *err = trl_error_new();
    trl_graph *g = NULL;
    trl_params *p = NULL;
    trl_data *d = NULL;
    trl_result *cot = NULL;
    ck_assert_int_eq(trl_graph_load(tu_fixture(name, "graph.json"), &g, err), TRL_OK);
    ck_assert_int_eq(trl_params_new(g, &p, err), TRL_OK);
    ck_assert_int_eq(trl_params_load(p, tu_fixture(name, "params.safetensors"), err), TRL_OK);
    ck_assert_int_eq(trl_data_load(g, tu_fixture(name, "data.safetensors"), 0, &d, err), TRL_OK);
    ck_assert_int_eq(trl_result_load(tu_fixture(name, "cotangent.safetensors"), &cot, err), TRL_OK);
    trl_tensor t[8];
    const int n = trl_result_count(cot);
    ck_assert_int_le(n, 8);
    for (int i = 0; i < n; i++) trl_result_tensor(cot, i, &t[i]);
    for (int a = 0; a < 4; a++) {
        trl_grad_opts o = TRL_GRAD_OPTS_INIT;
        o.algo = algos[a];
        o.engine = engines[a];
        o.cotangent = t;
        o.n_cotangent = n;
        o.input_grads = 1;
        trl_result *r = NULL;
        ck_assert_msg(trl_grad(g, p, d, &o, &r, err) == TRL_OK, "%s", trl_error_message(err));
        expect_file(r, tu_fixture(name, a >= 2 ? "grad_eprop_cotangent.safetensors"
                                               : "grad_exact_cotangent.safetensors"));
        trl_result_free(r);
    }
    trl_result_free(cot);
    trl_data_free(d);
    trl_params_free(p);
    trl_graph_free(g);
    trl_error_free(err);
}
END_TEST

static const char *const no_loss_json =
    "{\"trellis\": 1, \"nodes\": ["
    "{\"id\": \"in\", \"op\": \"input\", \"size\": 3},"
    "{\"id\": \"h\", \"op\": \"leaky\", \"size\": 4, \"inputs\": [\"in\", {\"from\": \"h\", "
    "\"delay\": 1}]},"
    "{\"id\": \"out\", \"op\": \"readout\", \"size\": 2, \"inputs\": [\"h\"]}]}";

struct setup {
    trl_graph *g;
    trl_params *p;
    trl_data *d;
    trl_error *err;
    trl_real cot[2 * 5 * 2];
};

static void setup_no_loss(struct setup *s)
{
    s->err = trl_error_new();
    ck_assert_int_eq(trl_graph_parse(no_loss_json, strlen(no_loss_json), "g.json", &s->g, s->err),
                     TRL_OK);
    ck_assert_int_eq(trl_params_new(s->g, &s->p, s->err), TRL_OK);
    ck_assert_int_eq(trl_params_init(s->p, 3, s->err), TRL_OK);
    const trl_random_data rd = {.B = 2, .T = 5, .seed = 4};
    ck_assert_int_eq(trl_data_random(s->g, &rd, &s->d, s->err), TRL_OK);
    for (int k = 0; k < 20; k++) s->cot[k] = (trl_real)sin(1.0 + k);
}

static void setup_free(struct setup *s)
{
    trl_data_free(s->d);
    trl_params_free(s->p);
    trl_graph_free(s->g);
    trl_error_free(s->err);
}

START_TEST(graph_without_a_loss)
{
    struct setup s;
    setup_no_loss(&s);
    trl_tensor t = {.name = "out", .ndim = 3, .shape = {2, 5, 2}, .data = s.cot};
    trl_grad_opts o = TRL_GRAD_OPTS_INIT;
    trl_result *r = NULL, *y = NULL;
    ck_assert_int_eq(trl_grad(s.g, s.p, s.d, &o, &r, s.err), TRL_ERR_INPUT); /* no loss */
    ck_assert_ptr_nonnull(strstr(trl_error_message(s.err), "/loss"));
    o.cotangent = &t;
    o.n_cotangent = 1;
    o.input_grads = 1;
    ck_assert_msg(trl_grad(s.g, s.p, s.d, &o, &r, s.err) == TRL_OK, "%s", trl_error_message(s.err));
    ck_assert_int_eq(trl_run(s.g, s.p, s.d, &y, s.err), TRL_OK);
    trl_tensor out, dx;
    ck_assert_int_eq(trl_result_find(y, "out", &out, s.err), TRL_OK);
    double sum = 0, loss;
    for (int k = 0; k < 20; k++) sum += (double)s.cot[k] * out.data[k];
    ck_assert(trl_result_loss(r, &loss));
    ck_assert_double_le(fabs(loss - sum), 1e-6 * (fabs(sum) + 1));
    ck_assert_int_eq(trl_result_find(r, "in", &dx, s.err), TRL_OK);
    ck_assert_int_eq(dx.ndim, 3);
    ck_assert(dx.shape[0] == 2 && dx.shape[1] == 5 && dx.shape[2] == 3);
    double norm = 0;
    for (int k = 0; k < 30; k++) norm += fabs(dx.data[k]);
    ck_assert_double_gt(norm, 0);
    trl_result_free(r);
    /* an empty list: every cotangent 0 */
    o.n_cotangent = 0;
    ck_assert_int_eq(trl_grad(s.g, s.p, s.d, &o, &r, s.err), TRL_OK);
    ck_assert(trl_result_loss(r, &loss) && loss == 0);
    for (int i = 0; i < trl_result_count(r); i++) {
        trl_tensor g;
        trl_result_tensor(r, i, &g);
        size_t n = 1;
        for (int k = 0; k < g.ndim; k++) n *= (size_t)g.shape[k];
        for (size_t k = 0; k < n; k++) ck_assert(g.data[k] == 0);
    }
    trl_result_free(r);
    trl_result_free(y);
    setup_free(&s);
}
END_TEST

/* trl_grad with one cotangent tensor fails with status and a message that
 * holds `needle`, about the cotangent. */
static void expect_refused(struct setup *s, const trl_tensor *t, int n, trl_status status,
                           const char *needle)
{
    trl_grad_opts o = TRL_GRAD_OPTS_INIT;
    o.cotangent = t;
    o.n_cotangent = n;
    trl_result *r = NULL;
    ck_assert_int_eq(trl_grad(s->g, s->p, s->d, &o, &r, s->err), status);
    ck_assert_ptr_null(r);
    const char *msg = trl_error_message(s->err);
    ck_assert_msg(strstr(msg, needle), "\"%s\" lacks \"%s\"", msg, needle);
    ck_assert_ptr_null(strstr(msg, "--")); /* no command-line flags */
    if (status == TRL_ERR_INPUT) ck_assert_str_eq(trl_error_file(s->err), "cotangent");
}

START_TEST(cotangent_errors)
{
    struct setup s;
    setup_no_loss(&s);
    trl_real bad[20];
    memcpy(bad, s.cot, sizeof bad);
    bad[7] = (trl_real)NAN;
    const trl_tensor unknown = {.name = "outt", .ndim = 3, .shape = {2, 5, 2}, .data = s.cot};
    const trl_tensor hidden = {.name = "h", .ndim = 3, .shape = {2, 5, 4}, .data = s.cot};
    const trl_tensor shape = {.name = "out", .ndim = 3, .shape = {2, 4, 2}, .data = s.cot};
    const trl_tensor nan = {.name = "out", .ndim = 3, .shape = {2, 5, 2}, .data = bad};
    const trl_tensor twice[2] = {nan,
                                 {.name = "out", .ndim = 3, .shape = {2, 5, 2}, .data = s.cot}};
    expect_refused(&s, &unknown, 1, TRL_ERR_INPUT, "outt: no node of this id");
    expect_refused(&s, &unknown, 1, TRL_ERR_INPUT, "did you mean \"out\"");
    expect_refused(&s, &hidden, 1, TRL_ERR_INPUT, "h: node \"h\" is not an output");
    expect_refused(&s, &shape, 1, TRL_ERR_INPUT, "[2, 4, 2]; the cotangent of \"out\" must be");
    expect_refused(&s, &nan, 1, TRL_ERR_INPUT, "value 7 is not finite");
    bad[7] = s.cot[7]; /* twice[0] is finite now */
    expect_refused(&s, twice, 2, TRL_ERR_INPUT, "given twice");
    expect_refused(&s, NULL, 1, TRL_ERR_ARGUMENT, "cotangent tensors missing");
    setup_free(&s);
}
END_TEST

START_TEST(input_grads_need_the_data_in_memory)
{
    const char *data = "tests/out/cotangent_stream.safetensors";
    struct setup s;
    setup_no_loss(&s);
    ck_assert_int_eq(trl_data_save(s.d, data, s.err), TRL_OK);
    trl_data *streamed = NULL;
    ck_assert_int_eq(trl_data_load(s.g, data, TRL_DATA_STREAM, &streamed, s.err), TRL_OK);
    trl_tensor t = {.name = "out", .ndim = 3, .shape = {2, 5, 2}, .data = s.cot};
    trl_grad_opts o = TRL_GRAD_OPTS_INIT;
    o.algo = TRL_ALGO_EPROP;
    o.cotangent = &t;
    o.n_cotangent = 1;
    trl_result *r = NULL, *mem = NULL;
    /* online: a streamed set and a cotangent, the same gradient as in memory */
    ck_assert_msg(trl_grad(s.g, s.p, streamed, &o, &r, s.err) == TRL_OK, "%s",
                  trl_error_message(s.err));
    ck_assert_int_eq(trl_grad(s.g, s.p, s.d, &o, &mem, s.err), TRL_OK);
    double a, b;
    ck_assert(trl_result_loss(r, &a) && trl_result_loss(mem, &b));
    ck_assert_double_le(fabs(a - b), 1e-9 * (fabs(b) + 1));
    trl_result_free(r);
    trl_result_free(mem);
    o.input_grads = 1;
    ck_assert_int_eq(trl_grad(s.g, s.p, streamed, &o, &r, s.err), TRL_ERR_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(trl_error_message(s.err), "in memory"));
    trl_data_free(streamed);
    setup_free(&s);
}
END_TEST

/* ---- the command line ---- */

START_TEST(cli_fixtures)
{
    const char *name = tu_fixture_names[_i];
    if (skipped(name)) return;
    char graph[256], params[256], data[256], cot[256];
    snprintf(graph, sizeof graph, "%s", tu_fixture(name, "graph.json"));
    snprintf(params, sizeof params, "%s", tu_fixture(name, "params.safetensors"));
    snprintf(data, sizeof data, "%s", tu_fixture(name, "data.safetensors"));
    snprintf(cot, sizeof cot, "%s", tu_fixture(name, "cotangent.safetensors"));
    const char *out = tu_tmp("g.safetensors");
    const char *const variants[][3] = {{"bptt", NULL, NULL}, {"eprop", "--engine", "reverse"}};
    for (int v = 0; v < 2; v++) {
        struct cli_result r = cli_run(
            NULL, (const char *const[]){"grad", graph, "--params", params, "--data", data,
                                        "--cotangent", cot, "--input-grads", "-o", out, "--algo",
                                        variants[v][0], variants[v][1], variants[v][2], NULL});
        ck_assert_msg(r.status == 0, "%s", r.err);
        ck_assert_ptr_nonnull(strstr(r.out, "loss "));
        cli_result_free(&r);
        trl_result *got = NULL;
        ck_assert_int_eq(trl_result_load(out, &got, NULL), TRL_OK);
        expect_file(got, tu_fixture(name, v ? "grad_eprop_cotangent.safetensors"
                                            : "grad_exact_cotangent.safetensors"));
        trl_result_free(got);
    }
}
END_TEST

/* A scratch file's path into buf (tu_tmp's buffers rotate). */
static void tmp_path(char *buf, const char *name)
{
    snprintf(buf, 512, "%s", tu_tmp(name));
}

/* A graph without a loss, data without a target, and a cotangent file
 * written by `run` (its outputs are named by output id): the gradient of
 * sum(y_run . y). */
START_TEST(cli_no_loss_and_errors)
{
    char graph[512], params[512], data[512], y[512], out[512], badcot[512];
    tmp_path(graph, "g.json");
    tmp_path(params, "p.safetensors");
    tmp_path(data, "d.safetensors");
    tmp_path(y, "y.safetensors");
    tmp_path(out, "grad.safetensors");
    tmp_path(badcot, "badcot.safetensors");
    FILE *f = fopen(graph, "w");
    ck_assert_ptr_nonnull(f);
    fputs(no_loss_json, f);
    fclose(f);
    struct cli_result r =
        cli_run(NULL, (const char *const[]){"init", graph, "--seed", "1", "-o", params, NULL});
    ck_assert_int_eq(r.status, 0);
    cli_result_free(&r);
    struct setup s;
    setup_no_loss(&s);
    ck_assert_int_eq(trl_data_save(s.d, data, s.err), TRL_OK);
    setup_free(&s);
    r = cli_run(NULL, (const char *const[]){"run", graph, "--params", params, "--data", data, "-o",
                                            y, NULL});
    ck_assert_msg(r.status == 0, "%s", r.err);
    cli_result_free(&r);
    r = cli_run(NULL,
                (const char *const[]){"grad", graph, "--params", params, "--data", data, "--algo",
                                      "rtrl", "--cotangent", y, "--input-grads", "-o", out, NULL});
    ck_assert_msg(r.status == 0, "%s", r.err);
    cli_result_free(&r);
    trl_result *got = NULL;
    trl_tensor dx;
    ck_assert_int_eq(trl_result_load(out, &got, NULL), TRL_OK);
    ck_assert_int_eq(trl_result_find(got, "in", &dx, NULL), TRL_OK);
    ck_assert_int_eq(trl_result_find(got, "h.w.in", &dx, NULL), TRL_OK);
    trl_result_free(got);
    /* without a cotangent, the graph's missing loss is the problem */
    r = cli_run(NULL, (const char *const[]){"grad", graph, "--params", params, "--data", data,
                                            "--algo", "bptt", "-o", out, NULL});
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "/loss"));
    cli_result_free(&r);
    /* a tensor that names no output: about the cotangent file, with a suggestion */
    const char *header =
        "{\"outt\":{\"dtype\":\"F64\",\"shape\":[2,5,2],\"data_offsets\":[0,160]}}";
    size_t size;
    unsigned char *bytes = stb_bytes(header, 160, &size);
    ck_assert_int_eq(stb_write_file(badcot, bytes, size), 0);
    free(bytes);
    r = cli_run(NULL,
                (const char *const[]){"grad", graph, "--params", params, "--data", data, "--algo",
                                      "eprop", "--cotangent", badcot, "-o", out, NULL});
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strncmp(r.err, badcot, strlen(badcot)) == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.err, "outt: no node of this id"));
    ck_assert_ptr_nonnull(strstr(r.err, "did you mean \"out\""));
    cli_result_free(&r);
    r = cli_run(NULL, (const char *const[]){"grad", "--help", NULL});
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "--cotangent FILE"));
    ck_assert_ptr_nonnull(strstr(r.out, "--input-grads"));
    cli_result_free(&r);
}
END_TEST

int main(void)
{
    if (tu_tmp_init("cotangent")) return 1;
    Suite *s = suite_create("cotangent_api");
    TCase *tc = tcase_create("library");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, fixtures_through_the_library, 0, 6);
    tcase_add_test(tc, graph_without_a_loss);
    tcase_add_test(tc, cotangent_errors);
    tcase_add_test(tc, input_grads_need_the_data_in_memory);
    suite_add_tcase(s, tc);
    TCase *tl = tcase_create("cli");
    tcase_set_timeout(tl, 120);
    tcase_add_loop_test(tl, cli_fixtures, 0, 6);
    tcase_add_test(tl, cli_no_loss_and_errors);
    suite_add_tcase(s, tl);
    int failed = tu_run_suite(s, true);
    tu_tmp_remove();
    return failed ? 1 : 0;
}
