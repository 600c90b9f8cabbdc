/* test_tasks.c - unit tests of the built-in tasks (tasks/), data_save and
 * `trellis data`.
 *
 * Runs from the top folder, as `make check` runs it. Covers:
 *   - the registry: every task by name, its table, the name list;
 *   - shapes: every task bound to its models/<task>.json, B x T x channels,
 *     target one-hot (classification) and mask values in {0, 1};
 *   - the definitions, over thousands of samples: per-group firing rates
 *     within a few percent of the documented rates and exactly 0 where a
 *     group is documented silent, class balance near 1/2, the evidence answer
 *     is the majority side, the store_recall target is the stored bit, the
 *     delayed_xor target is the XOR, masks exactly on the documented periods;
 *     the sine target is a sum of the five documented sines (least squares
 *     residual ~ 0, amplitudes in [0.5, 2]);
 *   - reproducibility: same (seed, iteration) -> same bytes, another
 *     iteration or seed -> other data, a fixed validation set on its own
 *     stream, batches that are prefixes of larger ones, sine frozen, and
 *     golden hashes of the integer structure of each task (spike positions,
 *     classes, masks) so a change of the generator cannot pass unnoticed;
 *   - binding errors: wrong sizes, loss type, dt, missing or extra inputs;
 *     a graph without a loss gets the task's data, target and mask included;
 *   - data_save -> data_load round trips bit for bit, and a failed save;
 *   - task_sin against libm;
 *   - the command line: `trellis data`, then `init` and `run` on its output,
 *     and its usage errors (TRELLIS_BIN names the binary; by default the
 *     trellis of this test's build folder, else bin/trellis).
 * Files go to a fresh folder under /tmp, removed at the end.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "tasks/task.h"
#include "tests/support/testutil.h"

#define TWO_PI 6.28318530717958647692

/* Assertions for hot loops: Check's ck_assert reports every passing check
 * to the parent process (a write per call); these stay silent until one
 * fails. */
#define EXPECT_MSG(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) ck_abort_msg(__VA_ARGS__);                                                    \
    } while (0)
#define EXPECT(cond) EXPECT_MSG(cond, "failed: %s", #cond)
#define EXPECT_EQ(a, b)                                                                            \
    EXPECT_MSG((a) == (b), "failed: %s == %s (%d vs %d)", #a, #b, (int)(a), (int)(b))

static char g_tmp[256] = "/tmp/trellis_tasks_XXXXXX";
static char g_bin[1024];

/* ---- helpers ---------------------------------------------------------- */

static const struct task_kind *must_find(const char *name)
{
    const struct task_kind *k = task_find(name);
    ck_assert_msg(k != NULL, "task %s not found", name);
    return k;
}

static struct graph *load_model(const struct task_kind *k)
{
    struct trl_errors err;
    struct graph *g = graph_load(k->model, &err);
    if (!g) trl_errors_print(&err, stderr);
    ck_assert_msg(g != NULL, "%s does not load", k->model);
    return g;
}

static int input_of(const struct task_kind *k, const struct graph *g)
{
    struct trl_errors err;
    int in = task_check_graph(k, g, &err);
    if (in < 0) trl_errors_print(&err, stderr);
    ck_assert_int_ge(in, 0);
    return in;
}

static struct data *gen(const struct task_kind *k, const struct graph *g, uint64_t seed,
                        enum task_split split, uint64_t iter, int B)
{
    struct trl_errors err;
    struct data *d = task_data_new(k, g, seed, split, iter, B, &err);
    if (!d) trl_errors_print(&err, stderr);
    ck_assert_ptr_nonnull(d);
    return d;
}

/* Sum of x over steps [t0, t1) and channels [c0, c1) of one sample. */
static double count(const trl_real *x, int n_in, int t0, int t1, int c0, int c1)
{
    double s = 0;
    for (int t = t0; t < t1; t++)
        for (int c = c0; c < c1; c++) s += x[(size_t)t * n_in + c];
    return s;
}

/* Spikes over channel-steps, checked against a rate. */
struct rate {
    double spikes, n;
};

static void rate_add(struct rate *r, double spikes, double n)
{
    r->spikes += spikes;
    r->n += n;
}

static void rate_check(const struct rate *r, double hz, double rel_tol, const char *what)
{
    double p = hz / 1000.0, got = r->spikes / r->n;
    ck_assert_msg(fabs(got - p) <= rel_tol * p, "%s: %.5f spikes per step, expected %.5f (%g Hz)",
                  what, got, p, hz);
}

/* The class of a one-hot target row. */
static int class_of(const trl_real *row)
{
    return row[1] > row[0];
}

/* A constant one-hot target over T steps; returns its class. */
static int check_one_hot(const trl_real *tg, int T)
{
    int cls = class_of(tg);
    for (int t = 0; t < T; t++) {
        EXPECT(tg[2 * t] == (cls == 0) && tg[2 * t + 1] == (cls == 1));
    }
    return cls;
}

static bool same_data(const struct data *a, const struct data *b, int in, const struct task_kind *k)
{
    size_t BT = (size_t)a->B * a->T;
    return a->B == b->B && a->T == b->T &&
           memcmp(a->x[in], b->x[in], BT * k->n_in * sizeof(trl_real)) == 0 &&
           memcmp(a->target, b->target, BT * k->K * sizeof(trl_real)) == 0 &&
           memcmp(a->mask, b->mask, BT * sizeof(trl_real)) == 0;
}

/* Is sample i of a equal to sample j of b? */
static bool same_sample(const struct data *a, int i, const struct data *b, int j, int in,
                        const struct task_kind *k)
{
    size_t T = (size_t)k->T, nx = T * k->n_in, nt = T * k->K;
    return memcmp(a->x[in] + i * nx, b->x[in] + j * nx, nx * sizeof(trl_real)) == 0 &&
           memcmp(a->target + i * nt, b->target + j * nt, nt * sizeof(trl_real)) == 0 &&
           memcmp(a->mask + i * T, b->mask + j * T, T * sizeof(trl_real)) == 0;
}

static uint64_t fnv(uint64_t h, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        h ^= (v >> (8 * i)) & 0xff;
        h *= 0x100000001b3ull;
    }
    return h;
}

/* A hash of what does not depend on the precision: the position and sign of
 * every nonzero input, every sample's class (classification tasks) and the
 * mask. */
static uint64_t structure_hash(const struct task_kind *k, const struct data *d, int in)
{
    uint64_t h = 0xcbf29ce484222325ull;
    size_t BT = (size_t)d->B * d->T;
    for (size_t i = 0; i < BT * k->n_in; i++)
        if (d->x[in][i] != 0) h = fnv(fnv(h, i), d->x[in][i] > 0);
    for (int b = 0; k->loss == LOSS_CROSS_ENTROPY && b < d->B; b++)
        h = fnv(h, (uint64_t)class_of(d->target + (size_t)b * d->T * 2));
    for (size_t i = 0; i < BT; i++)
        if (d->mask[i] != 0) h = fnv(h, i);
    return h;
}

static void tmp_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", g_tmp, name);
}

/* ---- registry and shapes ---------------------------------------------- */

START_TEST(test_registry)
{
    const char *names[] = {"sine", "evidence", "store_recall", "delayed_xor"};
    ck_assert_int_eq(task_n_kinds, 4);
    char list[256];
    task_list_names(list, sizeof list);
    ck_assert_str_eq(list, "sine, evidence, store_recall, delayed_xor");
    for (int i = 0; i < 4; i++) {
        const struct task_kind *k = must_find(names[i]);
        char model[128];
        snprintf(model, sizeof model, "models/%s.json", names[i]);
        ck_assert_str_eq(k->model, model);
        ck_assert(k->T > 0 && k->n_in > 0 && k->batch > 0 && k->sample && k->doc && k->params);
        ck_assert_int_eq(k->K, k->loss == LOSS_MSE ? 1 : 2);
    }
    ck_assert_ptr_null(task_find("evidenc"));
    ck_assert_ptr_null(task_find(""));
    char small[8];
    task_list_names(small, sizeof small);
    ck_assert_str_eq(small, "sine, e");
}
END_TEST

/* Every task on its model: shapes, value sets. */
START_TEST(test_shapes)
{
    const struct task_kind *k = task_kinds[_i];
    struct graph *g = load_model(k);
    int in = input_of(k, g);
    ck_assert_int_eq(g->nodes[in].size, k->n_in);
    struct data *d = gen(k, g, 3, TASK_TRAIN, 0, 5);
    ck_assert_int_eq(d->B, 5);
    ck_assert_int_eq(d->T, k->T);
    for (int i = 0; i < g->n_nodes; i++) ck_assert((d->x[i] != NULL) == (i == in));
    ck_assert(d->target && d->mask);
    size_t BT = (size_t)d->B * d->T;
    bool analog = strcmp(k->name, "delayed_xor") == 0;
    for (size_t i = 0; i < BT * k->n_in; i++) {
        trl_real v = d->x[in][i];
        EXPECT_MSG(v == 0 || v == 1 || (analog && v == -1), "%s: input %zu is %g", k->name, i,
                   (double)v);
    }
    for (size_t i = 0; i < BT; i++) EXPECT(d->mask[i] == 0 || d->mask[i] == 1);
    for (int b = 0; k->loss == LOSS_CROSS_ENTROPY && b < d->B; b++)
        check_one_hot(d->target + (size_t)b * d->T * 2, d->T);
    for (size_t i = 0; i < BT * k->K; i++) EXPECT(isfinite((double)d->target[i]));
    data_free(d);
    graph_free(g);
}
END_TEST

/* ---- sine --------------------------------------------------------------- */

/* Solves the n x n system A x = b in place (partial pivoting); x in b. */
static void solve(double *A, double *b, int n)
{
    for (int c = 0; c < n; c++) {
        int p = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(A[r * n + c]) > fabs(A[p * n + c])) p = r;
        for (int j = 0; j < n; j++) {
            double t = A[c * n + j];
            A[c * n + j] = A[p * n + j];
            A[p * n + j] = t;
        }
        double t = b[c];
        b[c] = b[p];
        b[p] = t;
        for (int r = c + 1; r < n; r++) {
            double f = A[r * n + c] / A[c * n + c];
            for (int j = c; j < n; j++) A[r * n + j] -= f * A[c * n + j];
            b[r] -= f * b[c];
        }
    }
    for (int c = n - 1; c >= 0; c--) {
        for (int j = c + 1; j < n; j++) b[c] -= A[c * n + j] * b[j];
        b[c] /= A[c * n + c];
    }
}

/* The documented target: least squares on sin and cos at 0.5, 1, 2, 3, 4 Hz
 * leaves no residual, and each amplitude is in [0.5, 2]. */
static void check_sine_target(const trl_real *y, int T)
{
    const double f[5] = {0.5, 1, 2, 3, 4};
    double A[100] = {0}, rhs[10] = {0}, phi[10];
    for (int t = 0; t < T; t++) {
        for (int k = 0; k < 5; k++) {
            phi[2 * k] = sin(TWO_PI * f[k] * t / 1000.0);
            phi[2 * k + 1] = cos(TWO_PI * f[k] * t / 1000.0);
        }
        for (int i = 0; i < 10; i++) {
            rhs[i] += phi[i] * y[t];
            for (int j = 0; j < 10; j++) A[i * 10 + j] += phi[i] * phi[j];
        }
    }
    solve(A, rhs, 10);
    for (int k = 0; k < 5; k++) {
        double amp = hypot(rhs[2 * k], rhs[2 * k + 1]);
        ck_assert_msg(amp >= 0.5 - 1e-4 && amp <= 2 + 1e-4, "amplitude %d is %g", k, amp);
    }
    double worst = 0;
    for (int t = 0; t < T; t++) {
        double fit = 0;
        for (int k = 0; k < 5; k++)
            fit += rhs[2 * k] * sin(TWO_PI * f[k] * t / 1000.0) +
                   rhs[2 * k + 1] * cos(TWO_PI * f[k] * t / 1000.0);
        worst = fmax(worst, fabs(fit - y[t]));
    }
    ck_assert_msg(worst < 1e-4, "residual %g: the target is not the documented sum of sines",
                  worst);
}

START_TEST(test_sine)
{
    const struct task_kind *k = must_find("sine");
    struct graph *g = load_model(k);
    int in = input_of(k, g);
    ck_assert_int_eq(k->T, 1000);
    ck_assert_int_eq(k->n_in, 20);
    ck_assert(k->fixed);
    struct data *a = gen(k, g, 11, TASK_TRAIN, 0, 3), *b = gen(k, g, 11, TASK_TRAIN, 9, 3);
    struct data *v = gen(k, g, 11, TASK_VAL, 0, 3), *o = gen(k, g, 12, TASK_TRAIN, 0, 3);
    ck_assert(same_data(a, b, in, k) && same_data(a, v, in, k));
    ck_assert(!same_data(a, o, in, k));
    for (int s = 1; s < 3; s++) EXPECT(same_sample(a, 0, a, s, in, k));
    for (int i = 0; i < 3 * k->T; i++) EXPECT(a->mask[i] == 1);
    for (int c = 0; c < 20; c++) {
        double n = 0;
        for (int t = 0; t < k->T; t++) n += a->x[in][t * 20 + c];
        ck_assert_msg(n > 0, "channel %d never fires", c);
    }
    struct rate r = {0};
    rate_add(&r, count(a->x[in], 20, 0, k->T, 0, 20), 20.0 * k->T);
    rate_check(&r, 50, 0.15, "sine input"); /* 20,000 draws: sd 2% */
    check_sine_target(a->target, k->T);
    check_sine_target(o->target, k->T);
    data_free(a);
    data_free(b);
    data_free(v);
    data_free(o);
    graph_free(g);
}
END_TEST

/* ---- evidence ----------------------------------------------------------- */

struct ev_stats {
    struct rate cue, recall, noise;
    int n, right, right_cues;
};

static void evidence_check_sample(const trl_real *x, const trl_real *tg, const trl_real *m,
                                  struct ev_stats *st)
{
    int n_right = 0;
    double in_cues = 0;
    for (int k = 0; k < 7; k++) {
        int t0 = 75 * k;
        double L = count(x, 40, t0, t0 + 50, 0, 10), R = count(x, 40, t0, t0 + 50, 10, 20);
        EXPECT_MSG((L > 0) != (R > 0), "cue %d: exactly one side must fire (%g, %g)", k, L, R);
        n_right += R > 0;
        in_cues += L + R;
        rate_add(&st->cue, L + R, 50 * 10);
    }
    EXPECT_MSG(count(x, 40, 0, 825, 0, 20) == in_cues, "cue groups fire outside the cues");
    EXPECT(count(x, 40, 0, 675, 20, 30) == 0);
    rate_add(&st->recall, count(x, 40, 675, 825, 20, 30), 150 * 10);
    rate_add(&st->noise, count(x, 40, 0, 825, 30, 40), 825 * 10);
    int cls = check_one_hot(tg, 825);
    EXPECT_EQ(cls, n_right >= 4);
    for (int t = 0; t < 825; t++) EXPECT(m[t] == (t >= 675));
    st->n++;
    st->right += cls;
    st->right_cues += n_right;
}

START_TEST(test_evidence)
{
    const struct task_kind *k = must_find("evidence");
    struct graph *g = load_model(k);
    int in = input_of(k, g);
    ck_assert_int_eq(k->T, 825);
    ck_assert_int_eq(k->n_in, 40);
    struct ev_stats st = {0};
    struct data *d = data_new(g, 50, k->T);
    ck_assert_ptr_nonnull(d);
    for (int it = 0; it < 40; it++) {
        task_fill(k, in, 5, TASK_TRAIN, (uint64_t)it, d);
        for (int b = 0; b < d->B; b++)
            evidence_check_sample(d->x[in] + (size_t)b * 825 * 40, d->target + (size_t)b * 825 * 2,
                                  d->mask + (size_t)b * 825, &st);
    }
    rate_check(&st.cue, 40, 0.03, "evidence cue groups");
    rate_check(&st.recall, 40, 0.03, "evidence recall group");
    rate_check(&st.noise, 10, 0.03, "evidence noise group");
    double right = (double)st.right / st.n, cues = (double)st.right_cues / (7.0 * st.n);
    ck_assert_msg(fabs(right - 0.5) < 0.05, "class balance %.3f over %d samples", right, st.n);
    ck_assert_msg(fabs(cues - 0.5) < 0.03, "right cues %.3f", cues);
    data_free(d);
    graph_free(g);
}
END_TEST

/* ---- store_recall ------------------------------------------------------- */

struct sr_stats {
    struct rate active, noise;
    int n, ones, store_seen[10], recall_seen[10];
};

static void store_recall_check_sample(const trl_real *x, const trl_real *tg, const trl_real *m,
                                      struct sr_stats *st)
{
    int store = -1, recall = -1, bit[10];
    for (int j = 0; j < 10; j++) {
        int t0 = 60 * j, t1 = t0 + 60;
        double v0 = count(x, 50, t0, t1, 0, 10), v1 = count(x, 50, t0, t1, 10, 20);
        double s = count(x, 50, t0, t1, 20, 30), r = count(x, 50, t0, t1, 30, 40);
        if (r > 0) {
            EXPECT_MSG(recall < 0, "two recall slots");
            EXPECT_MSG(v0 == 0 && v1 == 0 && s == 0, "slot %d: recall with a value", j);
            recall = j;
        } else {
            EXPECT_MSG((v0 > 0) != (v1 > 0), "slot %d: exactly one value group must fire", j);
            bit[j] = v1 > 0;
        }
        if (s > 0) {
            EXPECT_MSG(store < 0, "two store slots");
            store = j;
        }
        rate_add(&st->active, v0 + v1 + s + r, (s > 0 ? 2 : 1) * 60 * 10);
    }
    EXPECT(store >= 0 && store <= 7 && recall >= store + 2 && recall <= 9);
    rate_add(&st->noise, count(x, 50, 0, 600, 40, 50), 600 * 10);
    int cls = check_one_hot(tg, 600);
    EXPECT_EQ(cls, bit[store]);
    for (int t = 0; t < 600; t++) EXPECT(m[t] == (t / 60 == recall));
    st->n++;
    st->ones += cls;
    st->store_seen[store]++;
    st->recall_seen[recall]++;
}

START_TEST(test_store_recall)
{
    const struct task_kind *k = must_find("store_recall");
    struct graph *g = load_model(k);
    int in = input_of(k, g);
    ck_assert_int_eq(k->T, 600);
    ck_assert_int_eq(k->n_in, 50);
    struct sr_stats st = {0};
    struct data *d = data_new(g, 50, k->T);
    ck_assert_ptr_nonnull(d);
    for (int it = 0; it < 40; it++) {
        task_fill(k, in, 6, TASK_TRAIN, (uint64_t)it, d);
        for (int b = 0; b < d->B; b++)
            store_recall_check_sample(d->x[in] + (size_t)b * 600 * 50,
                                      d->target + (size_t)b * 600 * 2, d->mask + (size_t)b * 600,
                                      &st);
    }
    rate_check(&st.active, 40, 0.03, "store_recall value, store and recall groups");
    rate_check(&st.noise, 10, 0.03, "store_recall noise group");
    double ones = (double)st.ones / st.n;
    ck_assert_msg(fabs(ones - 0.5) < 0.05, "class balance %.3f over %d samples", ones, st.n);
    for (int j = 0; j < 8; j++) ck_assert_msg(st.store_seen[j] > 100, "store slot %d rare", j);
    for (int j = 2; j < 10; j++) ck_assert_msg(st.recall_seen[j] > 0, "recall slot %d unseen", j);
    data_free(d);
    graph_free(g);
}
END_TEST

/* ---- delayed_xor -------------------------------------------------------- */

START_TEST(test_delayed_xor)
{
    const struct task_kind *k = must_find("delayed_xor");
    struct graph *g = load_model(k);
    int in = input_of(k, g);
    ck_assert_int_eq(k->T, 50);
    ck_assert_int_eq(k->n_in, 2);
    int seen[4] = {0}, n = 4000;
    struct data *d = gen(k, g, 8, TASK_TRAIN, 2, n);
    for (int b = 0; b < n; b++) {
        const trl_real *x = d->x[in] + (size_t)b * 100, *m = d->mask + (size_t)b * 50;
        int a = x[5 * 2] > 0, c = x[25 * 2 + 1] > 0;
        for (int t = 0; t < 50; t++) {
            double xa = t >= 5 && t < 10 ? 2 * a - 1 : 0, xb = t >= 25 && t < 30 ? 2 * c - 1 : 0;
            EXPECT_MSG(x[2 * t] == xa && x[2 * t + 1] == xb, "sample %d step %d", b, t);
            EXPECT(m[t] == (t >= 40));
        }
        EXPECT_EQ(check_one_hot(d->target + (size_t)b * 100, 50), a ^ c);
        seen[2 * a + c]++;
    }
    for (int p = 0; p < 4; p++)
        ck_assert_msg(fabs(seen[p] / (double)n - 0.25) < 0.03, "pattern %d: %d of %d", p, seen[p],
                      n);
    data_free(d);
    graph_free(g);
}
END_TEST

/* ---- reproducibility ---------------------------------------------------- */

START_TEST(test_reproducible)
{
    const struct task_kind *k = task_kinds[_i];
    struct graph *g = load_model(k);
    int in = input_of(k, g);
    struct data *a = gen(k, g, 7, TASK_TRAIN, 3, 4), *b = gen(k, g, 7, TASK_TRAIN, 3, 4);
    struct data *c = gen(k, g, 7, TASK_TRAIN, 4, 4), *s = gen(k, g, 8, TASK_TRAIN, 3, 4);
    struct data *v1 = gen(k, g, 7, TASK_VAL, 0, 4), *v2 = gen(k, g, 7, TASK_VAL, 99, 6);
    struct data *t0 = gen(k, g, 7, TASK_TRAIN, 0, 4), *big = gen(k, g, 7, TASK_TRAIN, 3, 9);
    ck_assert(same_data(a, b, in, k));
    ck_assert(!same_data(a, s, in, k)); /* another seed: other data, even frozen */
    for (int i = 0; i < 4; i++) {
        ck_assert(same_sample(v1, i, v2, i, in, k)); /* the validation set is fixed */
        ck_assert(same_sample(a, i, big, i, in, k)); /* a batch is a prefix of a larger one */
    }
    ck_assert_msg(same_data(a, c, in, k) == k->fixed, "%s: another iteration", k->name);
    ck_assert_msg(same_data(v1, t0, in, k) == k->fixed, "%s: validation vs batch 0", k->name);
    if (!k->fixed) ck_assert(!same_sample(a, 0, a, 1, in, k));
    data_free(a);
    data_free(b);
    data_free(c);
    data_free(s);
    data_free(v1);
    data_free(v2);
    data_free(t0);
    data_free(big);
    graph_free(g);
}
END_TEST

/* The generators' output for seed 1, batch 0 and the validation set, pinned:
 * the same seed must give the same data on every machine and in every
 * version. A deliberate change of a task updates these numbers. */
START_TEST(test_golden)
{
    static const uint64_t expected[4][2] = {
        {0xf58c9d0c36765042ull, 0xf58c9d0c36765042ull}, /* sine: spikes only, frozen */
        {0x52f214f8d64a90dbull, 0x279e22710af546c8ull}, /* evidence */
        {0x3afc68218b79d42cull, 0x2d542992803e3b72ull}, /* store_recall */
        {0x10486927ef4fd828ull, 0x3d418e1a25e25178ull}, /* delayed_xor */
    };
    const struct task_kind *k = task_kinds[_i];
    struct graph *g = load_model(k);
    int in = input_of(k, g);
    struct data *t = gen(k, g, 1, TASK_TRAIN, 0, 8), *v = gen(k, g, 1, TASK_VAL, 0, 8);
    uint64_t ht = structure_hash(k, t, in), hv = structure_hash(k, v, in);
    ck_assert_msg(ht == expected[_i][0] && hv == expected[_i][1],
                  "%s: the data of seed 1 changed (hashes 0x%016llx, 0x%016llx)", k->name,
                  (unsigned long long)ht, (unsigned long long)hv);
    data_free(t);
    data_free(v);
    graph_free(g);
}
END_TEST

/* ---- binding errors ----------------------------------------------------- */

/* Binds task name to graph text; the errors must hold each needle. */
static void expect_bind_error(const char *task, const char *json, const char *const *needles,
                              int n_needles)
{
    struct graph *g = tu_graph(json);
    ck_assert_ptr_nonnull(g);
    struct trl_errors err;
    const struct task_kind *k = must_find(task);
    ck_assert_ptr_null(task_data_new(k, g, 1, TASK_TRAIN, 0, 2, &err));
    ck_assert_int_ge(err.n, 1);
    char text[4096] = "";
    for (int i = 0; i < err.n; i++) {
        size_t len = strlen(text);
        snprintf(text + len, sizeof text - len, "%s: %s\n", err.e[i].path, err.e[i].msg);
    }
    ck_assert_str_eq(err.file, "test.json");
    for (int i = 0; i < n_needles; i++)
        ck_assert_msg(strstr(text, needles[i]) != NULL, "no \"%s\" in:\n%s", needles[i], text);
    graph_free(g);
}

#define GRAPH_HEAD "{\"trellis\": 1, "
#define LEAKY_OUT(size, loss)                                                                      \
    "{\"id\": \"h\", \"op\": \"leaky\", \"size\": 4, \"inputs\": [\"in\"]},"                       \
    "{\"id\": \"out\", \"op\": \"readout\", \"size\": " #size ", \"inputs\": [\"h\"]}], "          \
    "\"loss\": {\"node\": \"out\", \"type\": \"" loss "\"}}"

START_TEST(test_bind_errors)
{
    const char *wrong[] = {"/nodes/0/size",
                           "40 input channels",
                           "set the size of input node",
                           "/loss/type",
                           "\"cross_entropy\" (got \"mse\")",
                           "/nodes/2/size",
                           "loss node \"out\" to 2 (got 3)"};
    expect_bind_error(
        "evidence",
        GRAPH_HEAD
        "\"nodes\": [{\"id\": \"in\", \"op\": \"input\", \"size\": 20}," LEAKY_OUT(3, "mse"),
        wrong, 7);
    const char *dt[] = {"/dt", "set \"dt\": 1 (got 0.5)"};
    expect_bind_error("delayed_xor",
                      GRAPH_HEAD "\"dt\": 0.5, \"nodes\": [{\"id\": \"in\", \"op\": \"input\", "
                                 "\"size\": 2}," LEAKY_OUT(2, "cross_entropy"),
                      dt, 2);
    const char *two[] = {"/nodes", "the graph has 2 (\"in\", \"in2\")", "keep one, of size 2"};
    expect_bind_error(
        "delayed_xor",
        GRAPH_HEAD "\"nodes\": [{\"id\": \"in\", \"op\": \"input\", \"size\": 2}, {\"id\": "
                   "\"in2\", \"op\": \"input\", \"size\": 2},"
                   "{\"id\": \"h\", \"op\": \"leaky\", \"size\": 4, \"inputs\": [\"in\", \"in2\"]},"
                   "{\"id\": \"out\", \"op\": \"readout\", \"size\": 2, \"inputs\": [\"h\"]}], "
                   "\"loss\": {\"node\": \"out\", \"type\": \"cross_entropy\"}}",
        two, 3);
    /* a graph that fits, but an empty batch */
    struct graph *g = load_model(must_find("delayed_xor"));
    struct trl_errors err;
    ck_assert_ptr_null(task_data_new(must_find("delayed_xor"), g, 1, TASK_TRAIN, 0, 0, &err));
    ck_assert_ptr_nonnull(strstr(err.e[0].msg, "at least one sample"));
    graph_free(g);
}
END_TEST

/* Issue 19: a graph without a loss gets the task's data all the same (to
 * run it on): the inputs, target and mask of the graph with the loss, and
 * the file holds them. */
START_TEST(test_graph_without_a_loss)
{
#define SINE_NODES                                                                                 \
    GRAPH_HEAD "\"nodes\": [{\"id\": \"in\", \"op\": \"input\", \"size\": 20},"                    \
               "{\"id\": \"out\", \"op\": \"readout\", \"size\": 1, \"inputs\": [\"in\"]}]"
    struct graph *with = tu_graph(SINE_NODES ", \"loss\": {\"node\": \"out\", \"type\": \"mse\"}}");
    struct graph *without = tu_graph(SINE_NODES "}");
    ck_assert(with && without);
    const struct task_kind *k = must_find("sine");
    struct trl_errors err;
    struct data *a = task_data_new(k, with, 3, TASK_TRAIN, 2, 2, &err);
    struct data *b = task_data_new(k, without, 3, TASK_TRAIN, 2, 2, &err);
    ck_assert(a && b && b->target && b->mask);
    const size_t BT = (size_t)2 * k->T;
    ck_assert(memcmp(a->x[0], b->x[0], BT * 20 * sizeof(trl_real)) == 0);
    ck_assert(memcmp(a->target, b->target, BT * sizeof(trl_real)) == 0);
    ck_assert(memcmp(a->mask, b->mask, BT * sizeof(trl_real)) == 0);
    const char *path = "tests/out/task_no_loss.safetensors";
    trl_errors_init(&err, path);
    ck_assert_int_eq(data_save(without, b, path, &err), 0);
    struct data *back = data_load(with, path, DATA_TARGET_REQUIRED, &err);
    ck_assert_ptr_nonnull(back);
    ck_assert(memcmp(a->target, back->target, BT * sizeof(trl_real)) == 0);
    data_free(back);
    data_free(a);
    data_free(b);
    graph_free(with);
    graph_free(without);
#undef SINE_NODES
}
END_TEST

/* ---- data_save ---------------------------------------------------------- */

START_TEST(test_round_trip)
{
    const struct task_kind *k = task_kinds[_i];
    struct graph *g = load_model(k);
    int in = input_of(k, g);
    struct data *d = gen(k, g, 4, TASK_VAL, 0, 3);
    char path[512];
    tmp_path(path, sizeof path, "round_trip.safetensors");
    struct trl_errors err;
    trl_errors_init(&err, path);
    ck_assert_int_eq(data_save(g, d, path, &err), 0);
    struct data *back = data_load(g, path, DATA_TARGET_REQUIRED, &err);
    if (!back) trl_errors_print(&err, stderr);
    ck_assert_ptr_nonnull(back);
    ck_assert(same_data(d, back, in, k));

    /* the keys: the input node's id, target and mask, in that order */
    struct st_file *f = st_open(path, &err);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(f->n, 3);
    ck_assert_str_eq(f->tensors[0].name, g->nodes[in].id);
    ck_assert_str_eq(f->tensors[1].name, "target");
    ck_assert_str_eq(f->tensors[2].name, "mask");
    ck_assert_int_eq(f->tensors[2].ndim, 2);
    st_close(f);
    data_free(back);
    remove(path);

    /* a failed save leaves no file */
    tmp_path(path, sizeof path, "no_such_folder/d.safetensors");
    trl_errors_init(&err, path);
    ck_assert_int_eq(data_save(g, d, path, &err), -1);
    ck_assert_int_ge(err.n, 1);
    ck_assert_int_ne(access(path, F_OK), 0);
    data_free(d);
    graph_free(g);
}
END_TEST

/* ---- task_sin ----------------------------------------------------------- */

START_TEST(test_sin)
{
    double worst_small = 0, worst = 0;
    for (int i = -200000; i <= 200000; i++) {
        double x = i * 1e-4 * 3.7; /* [-74, 74] */
        worst_small = fmax(worst_small, fabs(task_sin(x) - sin(x)));
        double y = i * 0.0499;
        worst = fmax(worst, fabs(task_sin(y) - sin(y)));
    }
    ck_assert_msg(worst_small < 1e-14, "task_sin error %g on [-74, 74]", worst_small);
    ck_assert_msg(worst < 1e-12, "task_sin error %g on [-1e4, 1e4]", worst);
    ck_assert(task_sin(0) == 0);
}
END_TEST

/* ---- command line ------------------------------------------------------- */

/* Runs `g_bin args` with stdout and stderr to files in g_tmp; the exit status. */
static int run_cli(const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s >%s/cli.out 2>%s/cli.err", g_bin, args, g_tmp, g_tmp);
    int rc = system(cmd);
    ck_assert_msg(rc != -1 && WIFEXITED(rc), "cannot run %s", cmd);
    return WEXITSTATUS(rc);
}

/* Does the file g_tmp/name hold needle? */
static bool file_has(const char *name, const char *needle)
{
    char path[512], buf[16384];
    tmp_path(path, sizeof path, name);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strstr(buf, needle) != NULL;
}

START_TEST(test_cli_end_to_end)
{
    char args[2048], d[512], p[512], o[512];
    tmp_path(d, sizeof d, "d.safetensors");
    tmp_path(p, sizeof p, "p.safetensors");
    tmp_path(o, sizeof o, "o.safetensors");
    snprintf(args, sizeof args, "data evidence --seed 1 --batch 4 -o %s", d);
    ck_assert_int_eq(run_cli(args), 0);
    ck_assert(file_has("cli.err", "4 samples x 825 steps x 40 channels"));
    snprintf(args, sizeof args, "init models/evidence.json --seed 1 -o %s", p);
    ck_assert_int_eq(run_cli(args), 0);
    snprintf(args, sizeof args, "run models/evidence.json --params %s --data %s -o %s", p, d, o);
    ck_assert_int_eq(run_cli(args), 0);

    /* the file holds what the library generates (spikes and one-hot
     * targets are exact in either precision) */
    const struct task_kind *k = must_find("evidence");
    struct graph *g = load_model(k);
    int in = input_of(k, g);
    struct trl_errors err;
    trl_errors_init(&err, d);
    struct data *got = data_load(g, d, DATA_TARGET_REQUIRED, &err);
    ck_assert_ptr_nonnull(got);
    struct data *want = gen(k, g, 1, TASK_TRAIN, 0, 4);
    ck_assert(same_data(got, want, in, k));

    /* the outputs: "out" [4, 825, 2] and a finite loss */
    struct st_file *f = st_open(o, &err);
    ck_assert_ptr_nonnull(f);
    const struct st_tensor *out = st_find(f, "out"), *loss = st_find(f, "loss");
    ck_assert(out && out->ndim == 3 && out->shape[0] == 4 && out->shape[1] == 825 &&
              out->shape[2] == 2);
    ck_assert(loss && loss->count == 1);
    trl_real lv;
    ck_assert_int_eq(st_read_real(loss, &lv), -1);
    ck_assert(lv > 0);
    st_close(f);
    data_free(got);
    data_free(want);

    graph_free(g);

    /* --val and --graph: the input tensor takes the name of that graph's input */
    char gpath[512];
    tmp_path(gpath, sizeof gpath, "xor.json");
    FILE *gf = fopen(gpath, "w");
    ck_assert_ptr_nonnull(gf);
    fputs("{\"trellis\": 1, \"nodes\": [{\"id\": \"bits\", \"op\": \"input\", \"size\": 2},"
          "{\"id\": \"y\", \"op\": \"dense\", \"size\": 2, \"inputs\": [\"bits\"]}],"
          "\"loss\": {\"node\": \"y\", \"type\": \"cross_entropy\"}}",
          gf);
    fclose(gf);
    snprintf(args, sizeof args, "data delayed_xor --val --batch 3 --graph %s -o %s", gpath, d);
    ck_assert_int_eq(run_cli(args), 0);
    ck_assert(file_has("cli.err", "validation set (seed 0): 3 samples x 50 steps x 2 channels"));
    k = must_find("delayed_xor");
    g = graph_load(gpath, &err);
    ck_assert_ptr_nonnull(g);
    in = input_of(k, g);
    trl_errors_init(&err, d);
    got = data_load(g, d, DATA_TARGET_REQUIRED, &err);
    ck_assert_ptr_nonnull(got);
    want = gen(k, g, 0, TASK_VAL, 0, 3);
    ck_assert(same_data(got, want, in, k));
    data_free(got);
    data_free(want);
    graph_free(g);
}
END_TEST

START_TEST(test_cli_errors)
{
    char args[1024], d[512];
    tmp_path(d, sizeof d, "e.safetensors");
    ck_assert_int_eq(run_cli("data evidnce -o x.safetensors"), 2);
    ck_assert(file_has("cli.err", "unknown task \"evidnce\"; did you mean \"evidence\"? Expected "
                                  "one of: sine, evidence, store_recall, delayed_xor"));
    ck_assert_int_eq(run_cli("data evidence"), 2);
    ck_assert(file_has("cli.err", "-o DATA is required"));
    ck_assert_int_eq(run_cli("data -o x.safetensors"), 2);
    snprintf(args, sizeof args, "data sine --batch 0 -o %s", d);
    ck_assert_int_eq(run_cli(args), 2);
    snprintf(args, sizeof args, "data sine --val --iter 3 -o %s", d);
    ck_assert_int_eq(run_cli(args), 2);
    snprintf(args, sizeof args, "data evidence --graph models/sine.json -o %s", d);
    ck_assert_int_eq(run_cli(args), 1);
    ck_assert(file_has("cli.err", "models/sine.json: /nodes/0/size: task \"evidence\" has 40"));
    ck_assert_int_ne(access(d, F_OK), 0);
    ck_assert_int_eq(run_cli("data --help"), 0);
    ck_assert(file_has("cli.out", "store_recall - "));
    ck_assert(file_has("cli.out", "mask 1 on steps 40-49"));
}
END_TEST

static Suite *tasks_suite(void)
{
    Suite *s = suite_create("tasks");
    TCase *tc = tcase_create("tables");
    tcase_add_test(tc, test_registry);
    tcase_add_loop_test(tc, test_shapes, 0, task_n_kinds);
    tcase_add_test(tc, test_bind_errors);
    tcase_add_test(tc, test_graph_without_a_loss);
    tcase_add_loop_test(tc, test_round_trip, 0, task_n_kinds);
    tcase_add_test(tc, test_sin);
    suite_add_tcase(s, tc);
    tc = tcase_create("definitions");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_sine);
    tcase_add_test(tc, test_evidence);
    tcase_add_test(tc, test_store_recall);
    tcase_add_test(tc, test_delayed_xor);
    suite_add_tcase(s, tc);
    tc = tcase_create("streams");
    tcase_add_loop_test(tc, test_reproducible, 0, task_n_kinds);
    tcase_add_loop_test(tc, test_golden, 0, task_n_kinds);
    suite_add_tcase(s, tc);
    tc = tcase_create("cli");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_cli_end_to_end);
    tcase_add_test(tc, test_cli_errors);
    suite_add_tcase(s, tc);
    return s;
}

/* The CLI under test: TRELLIS_BIN, else the trellis next to this test's
 * folder (build/VARIANT/trellis), else bin/trellis. */
static void find_bin(const char *argv0)
{
    const char *env = getenv("TRELLIS_BIN");
    if (env && *env) {
        snprintf(g_bin, sizeof g_bin, "%s", env);
        return;
    }
    snprintf(g_bin, sizeof g_bin, "%s", argv0);
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(g_bin, '/');
        if (slash)
            *slash = 0;
        else
            snprintf(g_bin, sizeof g_bin, ".");
    }
    size_t len = strlen(g_bin);
    snprintf(g_bin + len, sizeof g_bin - len, "/trellis");
    if (access(g_bin, X_OK) != 0) snprintf(g_bin, sizeof g_bin, "bin/trellis");
}

int main(int argc, char **argv)
{
    (void)argc;
    find_bin(argv[0]);
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    int failed = tu_run_suite(tasks_suite(), true);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_tmp);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
