/* test_data_random.c - random data for any graph (tasks/data_random.h) and
 * the commands built on it, `trellis data random` and `trellis bench`.
 *
 * Runs from the top folder, as `make check` runs it. Covers:
 *   - shapes: every input node [B, T, size], target [B, T, K] and mask
 *     [B, T] when the graph has a loss, none without;
 *   - the definitions, over many samples: spiking inputs are 0/1 at rate
 *     dt / 1000 per step within 3% (two rates, two dt), other inputs have
 *     mean 0 and variance 1; mse targets are smooth sums of sines (bounded
 *     by 1.5, steps below the largest slope, not constant) with mask 1;
 *     cross_entropy targets one-hot, the same class at every step, every
 *     class drawn, the mask exactly on the last 50 steps (T >= 500) or the
 *     last 10% rounded up;
 *   - streams: the same seed gives the same bytes, another seed other data,
 *     a smaller batch and a shorter sequence are prefixes;
 *   - errors: an unknown or non-input --spiking id, an empty id, B, T or a
 *     rate out of range;
 *   - the command line: `data random` output read back by `run`, usage
 *     errors (exit 2); `bench` on that data (run and each algorithm) and
 *     `bench --gemm` print the documented JSON keys (no timing is checked).
 * Files go to a fresh folder under /tmp, removed at the end.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tasks/data_random.h"
#include "tests/support/cli_run.h"
#include "tests/support/testutil.h"

static const char *const g_mse =
    "{\"trellis\": 1, \"dt\": 1, \"nodes\": ["
    "{\"id\": \"s\", \"op\": \"input\", \"size\": 20},"
    "{\"id\": \"x\", \"op\": \"input\", \"size\": 10},"
    "{\"id\": \"h\", \"op\": \"leaky\", \"size\": 8, \"inputs\": [\"s\", \"x\","
    " {\"from\": \"h\", \"delay\": 1}]},"
    "{\"id\": \"y\", \"op\": \"readout\", \"size\": 3, \"inputs\": [\"h\"]}],"
    "\"loss\": {\"node\": \"y\", \"type\": \"mse\"}}";

static const char *const g_ce =
    "{\"trellis\": 1, \"dt\": 2, \"nodes\": ["
    "{\"id\": \"in\", \"op\": \"input\", \"size\": 30},"
    "{\"id\": \"z\", \"op\": \"lif\", \"size\": 6, \"inputs\": [\"in\","
    " {\"from\": \"z\", \"delay\": 1, \"no_self\": true}]},"
    "{\"id\": \"out\", \"op\": \"readout\", \"size\": 4, \"inputs\": [\"z\"]}],"
    "\"loss\": {\"node\": \"out\", \"type\": \"cross_entropy\"}}";

static const char *const g_none = "{\"trellis\": 1, \"nodes\": ["
                                  "{\"id\": \"in\", \"op\": \"input\", \"size\": 3},"
                                  "{\"id\": \"d\", \"op\": \"dense\", \"size\": 2, "
                                  "\"inputs\": [\"in\"]}]}";

/* Random data with spiking[] set from ids (NULL: none). */
static struct data *make(const struct graph *g, const char *ids, int B, int T, double hz,
                         uint64_t seed)
{
    bool spiking[16] = {false};
    struct trl_errors err;
    trl_errors_init(&err, "test");
    ck_assert_int_le(g->n_nodes, 16);
    if (ids) ck_assert_int_eq(data_random_spiking(g, ids, spiking, &err), 0);
    struct data_random_opts o = {.B = B, .T = T, .seed = seed, .rate_hz = hz, .spiking = spiking};
    struct data *d = data_random_new(g, &o, &err);
    if (!d) trl_errors_print(&err, stderr);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(d->B, B);
    ck_assert_int_eq(d->T, T);
    return d;
}

static int node(const struct graph *g, const char *id)
{
    int i = graph_find_node(g, id);
    ck_assert_int_ge(i, 0);
    return i;
}

/* The fraction of ones in x (n values), each of which must be 0 or 1. */
static double spike_fraction(const trl_real *x, size_t n)
{
    size_t ones = 0;
    for (size_t k = 0; k < n; k++) {
        if (x[k] != 0 && x[k] != 1) ck_abort_msg("spike value %g at %zu", (double)x[k], k);
        ones += x[k] == 1;
    }
    return (double)ones / (double)n;
}

/* ---- definitions ------------------------------------------------------ */

START_TEST(test_inputs)
{
    struct graph *g = tu_graph(g_mse);
    int B = 50, T = 400, s = node(g, "s"), x = node(g, "x");
    struct data *d = make(g, "s", B, T, 50, 3);
    double p = spike_fraction(d->x[s], (size_t)B * T * 20);
    ck_assert_msg(fabs(p - 0.05) < 0.03 * 0.05, "50 Hz at dt 1: %g spikes per step", p);
    double sum = 0, sq = 0;
    size_t n = (size_t)B * T * 10;
    for (size_t k = 0; k < n; k++) {
        sum += d->x[x][k];
        sq += (double)d->x[x][k] * d->x[x][k];
    }
    ck_assert_msg(fabs(sum / n) < 0.01, "normal input mean %g", sum / n);
    ck_assert_msg(fabs(sq / n - 1) < 0.02, "normal input variance %g", sq / n);
    ck_assert_ptr_null(d->x[node(g, "h")]);
    data_free(d);
    d = make(g, "x,s", 10, 100, 50, 3); /* both spiking */
    spike_fraction(d->x[x], (size_t)10 * 100 * 10);
    data_free(d);
    graph_free(g);

    g = tu_graph(g_ce); /* dt 2 ms: 20 Hz is 0.04 per step */
    d = make(g, "in", 40, 500, 20, 4);
    p = spike_fraction(d->x[node(g, "in")], (size_t)40 * 500 * 30);
    ck_assert_msg(fabs(p - 0.04) < 0.03 * 0.04, "20 Hz at dt 2: %g spikes per step", p);
    data_free(d);
    graph_free(g);
}
END_TEST

/* One output of one sample of an mse target: bounded, smooth, not flat. */
static void check_smooth(const trl_real *y, int T, int K)
{
    double lo = 1e9, hi = -1e9, max_step = 0;
    for (int t = 0; t < T; t++) {
        double v = y[(size_t)t * K];
        ck_assert_msg(fabs(v) < 1.5, "target %g beyond 3 x 0.5", v);
        lo = fmin(lo, v);
        hi = fmax(hi, v);
        if (t) max_step = fmax(max_step, fabs(v - y[(size_t)(t - 1) * K]));
    }
    /* |dy/dt| <= sum A 2 pi / P < 3 x 0.5 x 2 pi / 10 */
    ck_assert_msg(max_step < 0.95, "a step of %g: not smooth", max_step);
    ck_assert_msg(hi - lo > 0.1, "a range of %g over %d steps: flat", hi - lo, T);
}

START_TEST(test_mse_target)
{
    struct graph *g = tu_graph(g_mse);
    int B = 8, T = 300, K = 3;
    struct data *d = make(g, NULL, B, T, 20, 5);
    ck_assert_ptr_nonnull(d->target);
    for (int b = 0; b < B; b++)
        for (int k = 0; k < K; k++) check_smooth(d->target + (size_t)b * T * K + k, T, K);
    for (size_t k = 0; k < (size_t)B * T; k++) ck_assert(d->mask[k] == 1);
    ck_assert(d->target[0] != d->target[T * K]); /* samples differ */
    data_free(d);
    graph_free(g);
}
END_TEST

/* Sample b: one class, one-hot at every step; returns it. */
static int check_one_hot(const trl_real *tg, int T, int K)
{
    int cls = -1;
    for (int k = 0; k < K; k++)
        if (tg[k] == 1) cls = k;
    ck_assert_int_ge(cls, 0);
    for (int t = 0; t < T; t++)
        for (int k = 0; k < K; k++) ck_assert(tg[(size_t)t * K + k] == (k == cls));
    return cls;
}

static void check_mask(const trl_real *m, int T, int ones)
{
    for (int t = 0; t < T; t++)
        ck_assert_msg(m[t] == (t >= T - ones),
                      "T %d: mask %g at step %d, expected 1 on the last %d", T, (double)m[t], t,
                      ones);
}

START_TEST(test_ce_target)
{
    static const int Ts[] = {1, 7, 100, 499, 500, 600};
    static const int ones[] = {1, 1, 10, 50, 50, 50};
    struct graph *g = tu_graph(g_ce);
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(data_random_mask_steps(Ts[i]), ones[i]);
        struct data *d = make(g, "in", 40, Ts[i], 20, 6);
        bool seen[4] = {false};
        for (int b = 0; b < 40; b++) {
            seen[check_one_hot(d->target + (size_t)b * Ts[i] * 4, Ts[i], 4)] = true;
            check_mask(d->mask + (size_t)b * Ts[i], Ts[i], ones[i]);
        }
        ck_assert(seen[0] && seen[1] && seen[2] && seen[3]);
        data_free(d);
    }
    graph_free(g);
}
END_TEST

START_TEST(test_no_loss)
{
    struct graph *g = tu_graph(g_none);
    struct data *d = make(g, NULL, 2, 5, 20, 1);
    ck_assert_ptr_null(d->target);
    ck_assert_ptr_null(d->mask);
    ck_assert_ptr_nonnull(d->x[0]);
    data_free(d);
    graph_free(g);
}
END_TEST

/* ---- streams ---------------------------------------------------------- */

/* Sample b, steps [0, T) of node i of a equal those of c (same sizes). */
static bool same_prefix(const struct data *a, const struct data *c, int i, int size, int B, int T)
{
    for (int b = 0; b < B; b++)
        if (memcmp(a->x[i] + (size_t)b * a->T * size, c->x[i] + (size_t)b * c->T * size,
                   (size_t)T * size * sizeof(trl_real)))
            return false;
    return true;
}

START_TEST(test_streams)
{
    struct graph *g = tu_graph(g_mse);
    int s = node(g, "s"), x = node(g, "x");
    struct data *a = make(g, "s", 6, 120, 30, 9), *b = make(g, "s", 6, 120, 30, 9);
    struct data *other = make(g, "s", 6, 120, 30, 10), *small = make(g, "s", 2, 120, 30, 9);
    struct data *longer = make(g, "s", 6, 400, 30, 9);
    ck_assert(same_prefix(a, b, s, 20, 6, 120) && same_prefix(a, b, x, 10, 6, 120));
    ck_assert(memcmp(a->target, b->target, (size_t)6 * 120 * 3 * sizeof(trl_real)) == 0);
    ck_assert(!same_prefix(a, other, x, 10, 6, 120));
    ck_assert(same_prefix(a, small, x, 10, 2, 120) && same_prefix(a, small, s, 20, 2, 120));
    ck_assert(memcmp(a->target, small->target, (size_t)2 * 120 * 3 * sizeof(trl_real)) == 0);
    ck_assert(same_prefix(a, longer, x, 10, 6, 120) && same_prefix(a, longer, s, 20, 6, 120));
    data_free(a);
    data_free(b);
    data_free(other);
    data_free(small);
    data_free(longer);
    graph_free(g);
}
END_TEST

/* ---- errors ----------------------------------------------------------- */

static void expect_spiking_error(const struct graph *g, const char *ids, const char *msg)
{
    bool spiking[16];
    struct trl_errors err;
    trl_errors_init(&err, "test");
    ck_assert_int_eq(data_random_spiking(g, ids, spiking, &err), -1);
    ck_assert_msg(strstr(err.e[0].msg, msg), "\"%s\": %s", ids, err.e[0].msg);
}

static void expect_new_error(const struct graph *g, int B, int T, double hz, const char *msg)
{
    struct trl_errors err;
    struct data_random_opts o = {.B = B, .T = T, .rate_hz = hz};
    ck_assert_ptr_null(data_random_new(g, &o, &err));
    ck_assert_msg(strstr(err.e[0].msg, msg), "%s", err.e[0].msg);
}

START_TEST(test_errors)
{
    struct graph *g = tu_graph(g_mse);
    expect_spiking_error(g, "h", "\"h\" is not an input node; expected one of: s, x");
    expect_spiking_error(g, "nope", "\"nope\" is not an input node");
    expect_spiking_error(g, "s,,x", "input node ids separated by commas");
    expect_spiking_error(g, "", "input node ids separated by commas");
    expect_new_error(g, 0, 10, 20, "at least one sample");
    expect_new_error(g, 1, 0, 20, "at least one step");
    expect_new_error(g, 1, 10, 1500, "rate <= 1000 Hz");
    expect_new_error(g, 1, 10, -1, "must lie in [0, 1]");
    graph_free(g);
}
END_TEST

/* ---- command line ----------------------------------------------------- */

static void expect_cli(int status, const char *const *argv, const char *needle)
{
    struct cli_result r = cli_run(NULL, argv);
    ck_assert_msg(r.status == status, "%s %s: exit %d, expected %d\n%s", argv[0], argv[1], r.status,
                  status, r.err);
    if (needle)
        ck_assert_msg(strstr(r.out, needle) || strstr(r.err, needle), "%s %s: no \"%s\" in\n%s%s",
                      argv[0], argv[1], needle, r.out, r.err);
    cli_result_free(&r);
}

START_TEST(test_cli_data_random)
{
    const char *d = tu_tmp("d.safetensors"), *p = tu_tmp("p.safetensors"),
               *o = tu_tmp("o.safetensors");
    const char *gr = "models/lsnn.json";
    expect_cli(0,
               (const char *const[]){"data", "random", "--graph", gr, "--batch", "3", "--steps",
                                     "40", "--spiking", "in", "--rate", "50", "-o", d, NULL},
               "3 samples x 40 steps");
    expect_cli(0, (const char *const[]){"init", gr, "--seed", "1", "-o", p, NULL}, NULL);
    expect_cli(0, (const char *const[]){"run", gr, "--params", p, "--data", d, "-o", o, NULL},
               "loss");
    expect_cli(
        2, (const char *const[]){"data", "random", "--batch", "3", "--steps", "4", "-o", d, NULL},
        "random data needs --graph GRAPH");
    expect_cli(
        2, (const char *const[]){"data", "random", "--graph", gr, "--steps", "4", "-o", d, NULL},
        "random data needs --batch B");
    expect_cli(
        2, (const char *const[]){"data", "random", "--graph", gr, "--batch", "2", "-o", d, NULL},
        "random data needs --steps T");
    expect_cli(2,
               (const char *const[]){"data", "random", "--graph", gr, "--batch", "2", "--steps",
                                     "4", "--spiking", "lif", "-o", d, NULL},
               "\"lif\" is not an input node; expected one of: in");
    expect_cli(2,
               (const char *const[]){"data", "random", "--graph", gr, "--batch", "2", "--steps",
                                     "4", "--rate", "5000", "-o", d, NULL},
               "at most 1000 Hz");
    expect_cli(2,
               (const char *const[]){"data", "random", "--graph", gr, "--batch", "2", "--steps",
                                     "4", "--val", "-o", d, NULL},
               "--val and --iter apply to tasks");
    expect_cli(2, (const char *const[]){"data", "evidence", "--steps", "4", "-o", d, NULL},
               "apply to \"random\" only");
}
END_TEST

START_TEST(test_cli_bench)
{
    const char *d = tu_tmp("bd.safetensors"), *p = tu_tmp("bp.safetensors"), *gr = tu_tmp("g.json");
    FILE *f = fopen(gr, "w");
    ck_assert_ptr_nonnull(f);
    fputs(g_ce, f);
    fclose(f);
    expect_cli(0,
               (const char *const[]){"data", "random", "--graph", gr, "--batch", "2", "--steps",
                                     "30", "--spiking", "in", "-o", d, NULL},
               NULL);
    expect_cli(0, (const char *const[]){"init", gr, "--seed", "1", "-o", p, NULL}, NULL);
    static const char *const algos[][2] = {
        {"run", NULL}, {"bptt", NULL}, {"rtrl", NULL}, {"eprop", "online"}, {"eprop", "reverse"}};
    for (int i = 0; i < 5; i++) {
        const char *argv[16] = {"bench",     gr,  "--params", p,
                                "--data",    d,   "--algo",   algos[i][0],
                                "--repeat",  "2", "--json",   algos[i][1] ? "--engine" : NULL,
                                algos[i][1], NULL};
        expect_cli(0, argv, "\"median_s\":");
        expect_cli(0, argv, "\"mem_peak_bytes\":");
    }
    expect_cli(0,
               (const char *const[]){"bench", gr, "--params", p, "--data", d, "--algo", "bptt",
                                     "--repeat", "1", NULL},
               "GFLOP/s");
    expect_cli(0,
               (const char *const[]){"bench", "--gemm", "--shapes", "8x16x4,1x1x1", "--json", NULL},
               "\"peak_gflops\":");
    expect_cli(2, (const char *const[]){"bench", "--gemm", "--shapes", "8x16", NULL},
               "--shapes needs");
    expect_cli(
        2, (const char *const[]){"bench", gr, "--params", p, "--data", d, "--algo", "fast", NULL},
        "--algo must be run, bptt, rtrl or eprop");
    expect_cli(2,
               (const char *const[]){"bench", gr, "--params", p, "--data", d, "--algo", "bptt",
                                     "--engine", "online", NULL},
               "--engine applies to --algo eprop only");
    expect_cli(2,
               (const char *const[]){"bench", gr, "--params", p, "--data", d, "--algo", "run",
                                     "--repeat", "0", NULL},
               "--repeat must be 1");
    expect_cli(
        1, (const char *const[]){"bench", gr, "--params", d, "--data", d, "--algo", "run", NULL},
        NULL);
}
END_TEST

static Suite *data_random_suite(void)
{
    Suite *s = suite_create("data_random");
    TCase *tc = tcase_create("definitions");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_inputs);
    tcase_add_test(tc, test_mse_target);
    tcase_add_test(tc, test_ce_target);
    tcase_add_test(tc, test_no_loss);
    tcase_add_test(tc, test_streams);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("cli");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_cli_data_random);
    tcase_add_test(tc, test_cli_bench);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (tu_tmp_init("data-random")) return 1;
    int failed = tu_run_suite(data_random_suite(), true);
    if (tu_tmp_remove()) failed++;
    return failed ? 1 : 0;
}
