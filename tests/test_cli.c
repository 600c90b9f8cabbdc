/* test_cli.c - the command-line contract (SPEC section 7), run against the
 * binary of the same build (TRELLIS_BIN, sanitizers included):
 *
 *   every tests/invalid/<case>: `validate graph.json` exits with the status
 *   and prints exactly the lines of <case>/expected;
 *   `run` reproduces every fixture's out.safetensors (float64: 1e-6, loss
 *   1e-9; float32: 1e-4 on the non-spiking fixtures); `grad` writes exactly
 *   the trainable tensors and loss; usage errors exit 2, bad input 1;
 *   every command has --help; a failing command leaves no output file and
 *   an existing one untouched; init gives the same bytes for the same seed;
 *   hostile input (random bytes, deep nesting, huge sizes) fails cleanly.
 */
#include <check.h>
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/rng.h"
#include "io/safetensors.h"
#include "tests/support/cli_run.h"
#include "tests/support/st_build.h"
#include "tests/support/testutil.h"

#define MAX_CASES 512
static char *cases[MAX_CASES];
static int n_cases;

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_cases(void)
{
    DIR *d = opendir("tests/invalid");
    if (!d) return;
    for (struct dirent *e; (e = readdir(d)) && n_cases < MAX_CASES;)
        if (e->d_name[0] != '.') cases[n_cases++] = strdup(e->d_name);
    closedir(d);
    qsort(cases, (size_t)n_cases, sizeof *cases, compare_names);
}

static char *read_text(const char *path)
{
    size_t n;
    unsigned char *b = stb_read_file(path, &n);
    if (!b) return NULL;
    char *s = realloc(b, n + 1);
    s[n] = 0;
    return s;
}

START_TEST(invalid_case)
{
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "tests/invalid/%s", cases[_i]);
    snprintf(path, sizeof path, "%s/expected", dir);
    char *expected = read_text(path);
    ck_assert_msg(expected, "%s: no expected file", dir);
    char *lines = strchr(expected, '\n');
    ck_assert_ptr_nonnull(lines);
    *lines++ = 0;
    struct cli_result r = cli_run(dir, (const char *const[]){"validate", "graph.json", NULL});
    ck_assert_msg(r.status == atoi(expected), "%s: exit %d, expected %s\n%s", dir, r.status,
                  expected, r.err);
    ck_assert_msg(strcmp(r.err, lines) == 0, "%s: stderr\n%s\nexpected\n%s", dir, r.err, lines);
    cli_result_free(&r);
    free(expected);
}
END_TEST

static double tensor_rel_err(const struct st_tensor *a, const struct st_tensor *b)
{
    trl_real *x = calloc(a->count, sizeof *x), *y = calloc(b->count, sizeof *y);
    st_read_real(a, x);
    st_read_real(b, y);
    double e = tu_rel_err(x, y, a->count);
    free(x);
    free(y);
    return e;
}

/* Every key of want is in got with the same shape and within tol (loss_tol
 * for "loss"), and got has no other key. */
static void compare_files(const char *got_path, const char *want_path, double tol, double loss_tol)
{
    struct trl_errors err;
    struct st_file *got = st_open(got_path, &err), *want = st_open(want_path, &err);
    ck_assert_ptr_nonnull(got);
    ck_assert_ptr_nonnull(want);
    ck_assert_int_eq(got->n, want->n);
    for (int i = 0; i < want->n; i++) {
        const struct st_tensor *w = &want->tensors[i], *g = st_find(got, w->name);
        ck_assert_msg(g, "%s: missing %s", got_path, w->name);
        ck_assert_int_eq(g->ndim, w->ndim);
        ck_assert_uint_eq(g->count, w->count);
        double e = tensor_rel_err(g, w);
        double t = strcmp(w->name, "loss") == 0 ? loss_tol : tol;
        ck_assert_msg(e <= t, "%s: %s: relative error %g > %g", got_path, w->name, e, t);
    }
    st_close(got);
    st_close(want);
}

#ifndef TRL_F64
static bool is_spiking(const char *name)
{
    return strcmp(name, "deep_leaky3") != 0 && strcmp(name, "rnn_tanh") != 0;
}
#endif

/* The input files of a fixture (tu_fixture returns a static buffer). */
struct fixture_files {
    char graph[256], params[256], data[256];
};

static void fixture_files(const char *name, struct fixture_files *f)
{
    snprintf(f->graph, sizeof f->graph, "%s", tu_fixture(name, "graph.json"));
    snprintf(f->params, sizeof f->params, "%s", tu_fixture(name, "params.safetensors"));
    snprintf(f->data, sizeof f->data, "%s", tu_fixture(name, "data.safetensors"));
}

START_TEST(fixture_run)
{
    const char *name = tu_fixture_names[_i];
#ifndef TRL_F64
    if (is_spiking(name)) return; /* spikes may flip within float32 rounding */
    const double tol = 1e-4, loss_tol = 1e-4;
#else
    const double tol = 1e-6, loss_tol = 1e-9;
#endif
    struct fixture_files f;
    fixture_files(name, &f);
    struct cli_result r =
        cli_run(NULL, (const char *const[]){"run", f.graph, "--params", f.params, "--data", f.data,
                                            "-o", tu_tmp("out.st"), NULL});
    ck_assert_msg(r.status == 0, "%s", r.err);
    compare_files(tu_tmp("out.st"), tu_fixture(name, "out.safetensors"), tol, loss_tol);
    cli_result_free(&r);
}
END_TEST

START_TEST(fixture_grad)
{
    static const char *const algos[] = {"bptt", "rtrl", "eprop"};
    const char *name = "dag_skip";
#ifndef TRL_F64
    name = "deep_leaky3";
    const double tol = 2e-3, loss_tol = 1e-4;
#else
    const double tol = 1e-6, loss_tol = 1e-9;
#endif
    struct fixture_files f;
    fixture_files(name, &f);
    struct cli_result r =
        cli_run(NULL, (const char *const[]){"grad", f.graph, "--params", f.params, "--data", f.data,
                                            "--algo", algos[_i], "-o", tu_tmp("g.st"), NULL});
    ck_assert_msg(r.status == 0, "%s", r.err);
    compare_files(tu_tmp("g.st"),
                  tu_fixture(name, _i == 2 ? "grad_eprop.safetensors" : "grad_exact.safetensors"),
                  tol, loss_tol);
    cli_result_free(&r);
}
END_TEST

static void expect_status(int status, const char *const *argv, const char *needle)
{
    struct cli_result r = cli_run(NULL, argv);
    ck_assert_msg(r.status == status, "%s: exit %d, expected %d\nstderr: %s", argv[0], r.status,
                  status, r.err);
    if (needle)
        ck_assert_msg(strstr(r.err, needle) || strstr(r.out, needle), "\"%s\" not in:\n%s%s",
                      needle, r.out, r.err);
    cli_result_free(&r);
}

START_TEST(usage_errors)
{
    const char *g = "models/lsnn.json";
    expect_status(2, (const char *const[]){NULL}, "usage");
    expect_status(2, (const char *const[]){"frobnicate", NULL}, "unknown command");
    expect_status(2, (const char *const[]){"run", g, NULL}, "--params");
    expect_status(2, (const char *const[]){"run", g, "--params", "p", "--data", "d", NULL}, "-o");
    expect_status(2, (const char *const[]){"validate", g, "--jsn", NULL}, "unknown option");
    expect_status(2, (const char *const[]){"validate", NULL}, "GRAPH");
    expect_status(2, (const char *const[]){"init", g, "-o", "x", NULL}, "--seed");
    expect_status(2, (const char *const[]){"init", g, "--seed", "-3", "-o", "x", NULL}, "--seed");
    expect_status(2,
                  (const char *const[]){"grad", g, "--params", "p", "--data", "d", "--algo", "sgd",
                                        "-o", "x", NULL},
                  "bptt, rtrl or eprop");
    expect_status(2,
                  (const char *const[]){"grad", g, "--params", "p", "--data", "d", "--algo", "bptt",
                                        "--engine", "reverse", "-o", "x", NULL},
                  "eprop only");
}
END_TEST

START_TEST(help_everywhere)
{
    static const char *const cmds[] = {"validate", "init", "run", "grad", "train", "data"};
    expect_status(0, (const char *const[]){"--help", NULL}, "commands:");
    for (int i = 0; i < 6; i++)
        expect_status(0, (const char *const[]){cmds[i], "--help", NULL}, "example:");
}
END_TEST

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

START_TEST(failure_leaves_no_output)
{
    const char *out = tu_tmp("never.st");
    unlink(out);
    /* params for another graph: the run must fail before writing anything */
    struct cli_result r = cli_run(
        NULL, (const char *const[]){"run", tu_fixture("rnn_tanh", "graph.json"), "--params",
                                    "tests/fixtures/lif_eprop/params.safetensors", "--data",
                                    "tests/fixtures/rnn_tanh/data.safetensors", "-o", out, NULL});
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strncmp(r.err, "tests/fixtures/lif_eprop/params.safetensors: ", 45) == 0, "%s",
                  r.err);
    ck_assert(!exists(out));
    cli_result_free(&r);
    /* an existing output stays as it was */
    ck_assert_int_eq(stb_write_file(out, "keep", 4), 0);
    r = cli_run(NULL,
                (const char *const[]){"grad", tu_fixture("rnn_tanh", "graph.json"), "--params",
                                      "tests/fixtures/rnn_tanh/params.safetensors", "--data",
                                      "tests/fixtures/lif_eprop/data.safetensors", "--algo", "bptt",
                                      "-o", out, NULL});
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, "tests/fixtures/lif_eprop/data.safetensors: "), "%s", r.err);
    size_t n;
    unsigned char *kept = stb_read_file(out, &n);
    ck_assert(n == 4 && memcmp(kept, "keep", 4) == 0);
    free(kept);
    cli_result_free(&r);
    DIR *d = opendir(tu_tmp_dir()); /* and no temporary file is left behind */
    for (struct dirent *e; (e = readdir(d));)
        ck_assert_msg(!strstr(e->d_name, ".tmp"), "%s", e->d_name);
    closedir(d);
}
END_TEST

START_TEST(init_is_reproducible)
{
    const char *a = tu_tmp("a.st"), *b = tu_tmp("b.st"), *c = tu_tmp("c.st");
    expect_status(
        0, (const char *const[]){"init", "models/lsnn.json", "--seed", "7", "-o", a, NULL}, NULL);
    expect_status(
        0, (const char *const[]){"init", "models/lsnn.json", "--seed", "7", "-o", b, NULL}, NULL);
    expect_status(
        0, (const char *const[]){"init", "models/lsnn.json", "--seed", "8", "-o", c, NULL}, NULL);
    size_t na, nb, nc;
    unsigned char *x = stb_read_file(a, &na), *y = stb_read_file(b, &nb),
                  *z = stb_read_file(c, &nc);
    ck_assert(na == nb && memcmp(x, y, na) == 0);
    ck_assert(na == nc && memcmp(x, z, na) != 0);
    free(x);
    free(y);
    free(z);
}
END_TEST

START_TEST(validate_json)
{
    struct cli_result r =
        cli_run(NULL, (const char *const[]){"validate", "models/lsnn.json", "--json", NULL});
    ck_assert_int_eq(r.status, 0);
    json_error_t e;
    json_t *j = json_loads(r.out, 0, &e);
    ck_assert_msg(j, "not JSON: %s", e.text);
    ck_assert_int_eq(json_array_size(json_object_get(j, "schedule")), 4);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_array_get(json_object_get(j, "schedule"), 0), "id")),
        "in");
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(j, "parameters"), "values")), 14202);
    ck_assert(json_is_object(json_object_get(json_object_get(j, "memory_per_sample"), "eprop")));
    json_decref(j);
    cli_result_free(&r);
}
END_TEST

static void write_graph_text(const char *path, const char *text)
{
    ck_assert_int_eq(stb_write_file(path, text, strlen(text)), 0);
}

START_TEST(hostile_graphs)
{
    const char *p = tu_tmp("hostile.json");
    struct rng r;
    rng_seed(&r, 99);
    unsigned char junk[512];
    for (int k = 0; k < 20; k++) { /* random bytes */
        for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)rng_below(&r, 256);
        ck_assert_int_eq(stb_write_file(p, junk, sizeof junk), 0);
        expect_status(1, (const char *const[]){"validate", p, NULL}, p);
    }
    size_t depth = 100000; /* deep nesting */
    char *deep = malloc(2 * depth + 1);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = 0;
    write_graph_text(p, deep);
    free(deep);
    expect_status(1, (const char *const[]){"validate", p, NULL}, p);
    write_graph_text(
        p, "{\"trellis\": 1, \"nodes\": [{\"id\": \"x\", \"op\": \"input\", \"size\": 1e400}]}");
    expect_status(1, (const char *const[]){"validate", p, NULL}, p);
    write_graph_text(
        p, "{\"trellis\": 1, \"nodes\": [{\"id\": \"x\", \"op\": \"input\", \"size\": 16000000},"
           "{\"id\": \"y\", \"op\": \"dense\", \"size\": 16000000, \"inputs\": [\"x\"]}]}");
    expect_status(1, (const char *const[]){"init", p, "--seed", "1", "-o", tu_tmp("huge.st"), NULL},
                  p);
    ck_assert(!exists(tu_tmp("huge.st")));
    write_graph_text(
        p, "{\"trellis\": 1, \"nodes\": [{\"id\": \"x\", \"op\": \"input\", \"size\": 2},"
           "{\"id\": \"y\", \"op\": \"leaky\", \"size\": 2, \"inputs\": [\"x\", {\"from\": \"y\","
           " \"delay\": 999999999999}]}]}");
    expect_status(1, (const char *const[]){"validate", p, NULL}, "delay");
    expect_status(1, (const char *const[]){"validate", tu_tmp("does-not-exist.json"), NULL},
                  "does-not-exist.json");
}
END_TEST

START_TEST(long_chain_validates)
{
    const int n = 10000;
    FILE *f = fopen(tu_tmp("chain.json"), "w");
    fprintf(f, "{\"trellis\": 1, \"nodes\": [{\"id\": \"n0\", \"op\": \"input\", \"size\": 2}");
    for (int i = 1; i < n; i++)
        fprintf(f, ", {\"id\": \"n%d\", \"op\": \"leaky\", \"size\": 2, \"inputs\": [\"n%d\"]}", i,
                i - 1);
    fprintf(f, "], \"loss\": {\"node\": \"n%d\", \"type\": \"mse\"}}", n - 1);
    fclose(f);
    struct cli_result r =
        cli_run(NULL, (const char *const[]){"validate", tu_tmp("chain.json"), NULL});
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert(strstr(r.out, "10000 nodes"));
    cli_result_free(&r);
}
END_TEST

/* Lines in a text. */
static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

START_TEST(train_runs_and_logs)
{
    const char *out = tu_tmp("trained.st"), *log = tu_tmp("train.csv");
    struct cli_result r =
        cli_run(NULL, (const char *const[]){"train", tu_fixture("rnn_tanh", "graph.json"), "--data",
                                            "tests/fixtures/rnn_tanh/data.safetensors", "--algo",
                                            "eprop", "--iters", "4", "--batch", "2", "--eval-every",
                                            "2", "--log", log, "-o", out, NULL});
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_msg(strstr(r.out, "it 4/4"), "%s", r.out);
    cli_result_free(&r);
    char *text = read_text(log);
    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(count_lines(text), 5);
    const char *header = "iter,loss,reg_loss,accuracy,nmse,grad_norm,val_loss,val_accuracy,"
                         "val_nmse,seconds,gnorm.rnn.w.x,";
    ck_assert_msg(strncmp(text, header, strlen(header)) == 0, "%s", text);
    free(text);
    struct trl_errors err;
    struct st_file *f = st_open(out, &err);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(f->n, 5); /* rnn.w.x, rnn.w.rnn.d1, rnn.b, y.w.rnn, y.b */
    st_close(f);
}
END_TEST

START_TEST(train_usage_and_nan)
{
    const char *g = tu_fixture("rnn_tanh", "graph.json"),
               *d = "tests/fixtures/rnn_tanh/data.safetensors";
    expect_status(2, (const char *const[]){"train", g, "--algo", "bptt", "-o", "x", NULL},
                  "--task");
    expect_status(2,
                  (const char *const[]){"train", g, "--data", d, "--task", "sine", "--algo", "bptt",
                                        "-o", "x", NULL},
                  "either");
    expect_status(2,
                  (const char *const[]){"train", g, "--data", d, "--algo", "bptt", "--online", "-o",
                                        "x", NULL},
                  "--online");
    /* the message names the case at hand: eprop's reverse engine, not bptt */
    struct cli_result m =
        cli_run(NULL, (const char *const[]){"train", g, "--data", d, "--algo", "eprop", "--engine",
                                            "reverse", "--online", "-o", "x", NULL});
    ck_assert_int_eq(m.status, 2);
    const char *usage = strstr(m.err, "\nusage:");
    ck_assert_ptr_nonnull(usage);
    char *first = strndup(m.err, (size_t)(usage - m.err)); /* the message, without the usage */
    ck_assert_msg(strstr(first, "--engine reverse") && !strstr(first, "bptt"), "%s", m.err);
    free(first);
    cli_result_free(&m);
    expect_status(
        2, (const char *const[]){"train", g, "--task", "sinus", "--algo", "bptt", "-o", "x", NULL},
        "unknown task");
    const char *out = tu_tmp("nan.st");
    unlink(out);
    struct cli_result r = cli_run(
        NULL, (const char *const[]){"train", g, "--data", d, "--algo", "bptt", "--optimizer", "sgd",
                                    "--lr", "1e300", "--iters", "5", "-o", out, NULL});
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, "not finite") && strstr(r.err, "iteration"), "%s", r.err);
    ck_assert(!exists(out));
    cli_result_free(&r);
}
END_TEST

/* Ctrl-C writes a checkpoint; resuming it ends with the same bytes as a run
 * that was never interrupted. */
START_TEST(train_interrupt_and_resume)
{
    const char *g = tu_fixture("rnn_tanh", "graph.json"),
               *d = "tests/fixtures/rnn_tanh/data.safetensors";
    const char *full = tu_tmp("full.st"), *part = tu_tmp("part.st"), *ckpt = tu_tmp("part.ckpt.st");
    struct cli_result r = cli_run(
        NULL, (const char *const[]){"train", g, "--data", d, "--algo", "eprop", "--batch", "1",
                                    "--iters", "3000", "--seed", "4", "-o", full, NULL});
    ck_assert_msg(r.status == 0, "%s", r.err);
    cli_result_free(&r);
    r = cli_run_interrupt((const char *const[]){"train", g, "--data", d, "--algo", "eprop",
                                                "--batch", "1", "--iters", "3000", "--seed", "4",
                                                "--checkpoint", ckpt, "-o", part, NULL},
                          "it 300/");
    ck_assert_msg(r.status == 130, "status %d: %s", r.status, r.err);
    ck_assert_msg(strstr(r.err, "--resume"), "%s", r.err);
    ck_assert(exists(ckpt) && !exists(part));
    cli_result_free(&r);
    r = cli_run(NULL, (const char *const[]){"train", g, "--data", d, "--algo", "eprop", "--batch",
                                            "1", "--iters", "3000", "--seed", "4", "--resume", ckpt,
                                            "-o", part, NULL});
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_msg(strstr(r.out, "resuming at iteration"), "%s", r.out);
    cli_result_free(&r);
    size_t n1, n2;
    unsigned char *a = stb_read_file(full, &n1), *b = stb_read_file(part, &n2);
    ck_assert(n1 == n2 && memcmp(a, b, n1) == 0);
    free(a);
    free(b);
}
END_TEST

/* Issue 19: grad and train say, before they start, when the default online
 * engine costs far more than the reverse engine (skip_stack: 806k vs 10.5k
 * multiply-adds per step), and rtrl than bptt; not once the engine is
 * chosen, nor where the online engine is cheap (lsnn: 100k vs 28.6k). */
START_TEST(slow_default_engine_noted)
{
    char params[512], data[512], out[512];
    snprintf(params, sizeof params, "%s", tu_tmp("note_p.st"));
    snprintf(data, sizeof data, "%s", tu_tmp("note_d.st"));
    snprintf(out, sizeof out, "%s", tu_tmp("note_g.st"));
    const char *graph = "models/skip_stack.json";
    struct cli_result r =
        cli_run(NULL, (const char *const[]){"init", graph, "--seed", "1", "-o", params, NULL});
    ck_assert_int_eq(r.status, 0);
    cli_result_free(&r);
    r = cli_run(NULL, (const char *const[]){"data", "delayed_xor", "--graph", graph, "--batch", "2",
                                            "-o", data, NULL});
    ck_assert_msg(r.status == 0, "%s", r.err);
    cli_result_free(&r);
    const char *const variants[][3] = {{"eprop", NULL, "--engine reverse"},
                                       {"rtrl", NULL, "--algo bptt"},
                                       {"eprop", "online", NULL},
                                       {"eprop", "reverse", NULL},
                                       {"bptt", NULL, NULL}};
    for (int k = 0; k < 5; k++) {
        r = cli_run(NULL, (const char *const[]){"grad", graph, "--params", params, "--data", data,
                                                "-o", out, "--algo", variants[k][0],
                                                variants[k][1] ? "--engine" : NULL, variants[k][1],
                                                NULL});
        ck_assert_msg(r.status == 0, "%s", r.err);
        if (variants[k][2]) {
            ck_assert_msg(strstr(r.err, "note:") && strstr(r.err, variants[k][2]) &&
                              strstr(r.err, "multiply-adds per step"),
                          "%s: %s", variants[k][0], r.err);
        } else {
            ck_assert_msg(!strstr(r.err, "note:"), "%s: %s", variants[k][0], r.err);
        }
        cli_result_free(&r);
    }
    r = cli_run(NULL, (const char *const[]){"grad", "models/lsnn.json", "--params", params,
                                            "--data", data, "-o", out, "--algo", "eprop", NULL});
    ck_assert(!strstr(r.err, "note:")); /* fails later on the parameters; no note first */
    cli_result_free(&r);
}
END_TEST

int main(void)
{
    if (tu_tmp_init("cli")) return 1;
    list_cases();
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, invalid_case, 0, n_cases);
    tcase_add_loop_test(tc, fixture_run, 0, 6);
    tcase_add_loop_test(tc, fixture_grad, 0, 3);
    tcase_add_test(tc, usage_errors);
    tcase_add_test(tc, help_everywhere);
    tcase_add_test(tc, failure_leaves_no_output);
    tcase_add_test(tc, init_is_reproducible);
    tcase_add_test(tc, validate_json);
    tcase_add_test(tc, hostile_graphs);
    tcase_add_test(tc, long_chain_validates);
    tcase_add_test(tc, train_runs_and_logs);
    tcase_add_test(tc, train_usage_and_nan);
    tcase_add_test(tc, train_interrupt_and_resume);
    tcase_add_test(tc, slow_default_engine_noted);
    suite_add_tcase(s, tc);
    int failed = tu_run_suite(s, false);
    for (int i = 0; i < n_cases; i++) free(cases[i]);
    if (tu_tmp_remove()) failed++;
    return failed ? 1 : 0;
}
