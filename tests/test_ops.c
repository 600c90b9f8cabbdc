/* test_ops.c - every node kind's table (ops/) against SPEC section 2 and
 * against its own forward function.
 *
 * The gradient engines trust the tables blindly: a wrong Jacobian gives a
 * wrong gradient in bptt, rtrl and eprop alike, so the three would still agree
 * with each other. These tests check each function of each kind on its own,
 * for several parameter settings parsed and prepared by graph_load_string:
 *
 *   params          every key of the kind's table is parsed to the value
 *                   written (or SPEC's default), and the bounds are enforced
 *   forward         h and z against SPEC section 2's equations written out
 *                   here in double (lif/alif: reset by v_th z(t-1), alif's
 *                   a and A = v_th + beta a, z = H(v - A) strictly > 0;
 *                   leaky with (1 - alpha); readout kappa; activations)
 *   output_jacobian smooth kinds: central differences of forward's z with
 *                   respect to its h; lif/alif: the pseudo-derivative
 *                   psi = (gamma / v_th) max(0, 1 - |v - A| / v_th) (and
 *                   -beta psi for alif's a) at chosen points, kinks and the
 *                   zero region included
 *   state_jacobian  central differences of the map h(t-1) -> h(t) through
 *                   forward, where z(t-1) is fed as a smooth surrogate whose
 *                   derivative is psi (the integral of the triangle), so the
 *                   differences see exactly the model SPEC section 6
 *                   differentiates: the reset path removed by detach_reset,
 *                   alif's adaptation path always kept. Every entry (r, c) of
 *                   alif's 2x2 block, and that no unit moves another unit.
 *                   Also the closed forms at the kink points.
 *   input_jacobian  central differences of forward's h with respect to I
 *   constant_rows   a flagged row is the same diagonal value for every unit,
 *                   sample and h(t-1), and 0 off the diagonal; the rows SPEC
 *                   makes constant are flagged
 *   registry        every kind by name, unknown names NULL, every function of
 *                   every non-input kind set, state_names with n_state names
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "ops/activation.h"
#include "ops/op.h"
#include "core/rng.h"
#include "tests/support/testutil.h"

#define ROWS 3 /* samples in a batch */
#define SIZE 5 /* units */
#define NZ   (ROWS * SIZE)
#define NH   (ROWS * OP_MAX_STATE * SIZE)
#define NJ   (ROWS * OP_MAX_STATE * OP_MAX_STATE * SIZE)

#ifdef TRL_F64
#define TOL_EQ        1e-12 /* forward and Jacobians against closed forms */
#define FD_EPS        1e-5  /* central differences */
#define TOL_FD        1e-8
#define SPIKE_MARGIN  1e-9 /* |v - A| below which z is not compared */
#define TRL_NEXTAFTER nextafter
#else
#define TOL_EQ        2e-6
#define FD_EPS        1e-2
#define TOL_FD        2e-4
#define SPIKE_MARGIN  1e-4
#define TRL_NEXTAFTER nextafterf
#endif

/* ---- the parameter settings */

/* One node of a kind with its params as JSON and every value they mean
 * (SPEC section 2's defaults filled in by hand where the JSON omits them). */
struct setting {
    const char *op;
    double dt;
    const char *params; /* JSON object */
    double tau_m, v_th, gamma, tau_a, beta, tau;
    int detach_reset;
    const char *activation;
};

static const struct setting settings[] = {
    /* SPEC defaults: "{}" */
    {"lif", 1.0, "{}", 20, 0.6, 0.3, 0, 0, 0, 1, NULL},
    {"lif", 0.5, "{\"tau_m\": 5, \"v_th\": 1.0, \"gamma\": 0.5, \"detach_reset\": false}", 5, 1.0,
     0.5, 0, 0, 0, 0, NULL},
    {"lif", 2.0, "{\"tau_m\": 30, \"v_th\": 0.3, \"gamma\": 1.0, \"detach_reset\": true}", 30, 0.3,
     1.0, 0, 0, 0, 1, NULL},
    {"alif", 1.0, "{}", 20, 0.6, 0.3, 200, 1.8, 0, 1, NULL},
    {"alif", 1.0,
     "{\"tau_m\": 10, \"v_th\": 0.5, \"gamma\": 0.4, \"tau_a\": 50, \"beta\": 0.7, "
     "\"detach_reset\": false}",
     10, 0.5, 0.4, 50, 0.7, 0, 0, NULL},
    {"alif", 0.5,
     "{\"tau_m\": 25, \"v_th\": 1.2, \"gamma\": 0.3, \"tau_a\": 500, \"beta\": 2.5, "
     "\"detach_reset\": true}",
     25, 1.2, 0.3, 500, 2.5, 0, 1, NULL},
    {"alif", 2.0, "{\"beta\": 0, \"gamma\": 0, \"detach_reset\": false}", 20, 0.6, 0, 200, 0, 0, 0,
     NULL},
    {"leaky", 1.0, "{}", 10, 0, 0, 0, 0, 0, 0, "tanh"},
    {"leaky", 0.5, "{\"tau_m\": 3, \"activation\": \"identity\"}", 3, 0, 0, 0, 0, 0, 0, "identity"},
    {"leaky", 2.0, "{\"tau_m\": 7, \"activation\": \"sigmoid\"}", 7, 0, 0, 0, 0, 0, 0, "sigmoid"},
    {"leaky", 1.0, "{\"tau_m\": 15, \"activation\": \"relu\"}", 15, 0, 0, 0, 0, 0, 0, "relu"},
    {"readout", 1.0, "{}", 0, 0, 0, 0, 0, 20, 0, NULL},
    {"readout", 0.5, "{\"tau\": 4}", 0, 0, 0, 0, 0, 4, 0, NULL},
    {"readout", 2.0, "{\"tau\": 100}", 0, 0, 0, 0, 0, 100, 0, NULL},
    {"dense", 1.0, "{}", 0, 0, 0, 0, 0, 0, 0, "identity"},
    {"dense", 1.0, "{\"activation\": \"tanh\"}", 0, 0, 0, 0, 0, 0, 0, "tanh"},
    {"dense", 1.0, "{\"activation\": \"sigmoid\"}", 0, 0, 0, 0, 0, 0, 0, "sigmoid"},
    {"dense", 1.0, "{\"activation\": \"relu\"}", 0, 0, 0, 0, 0, 0, 0, "relu"},
};
#define N_SETTINGS ((int)(sizeof settings / sizeof settings[0]))

static bool is_op(const struct setting *s, const char *op)
{
    return strcmp(s->op, op) == 0;
}

static bool spiking(const struct setting *s)
{
    return is_op(s, "lif") || is_op(s, "alif");
}

/* ---- reference equations (SPEC section 2), in double */

static double ref_alpha(const struct setting *s)
{
    return exp(-s->dt / s->tau_m);
}

static double ref_rho(const struct setting *s)
{
    return exp(-s->dt / s->tau_a);
}

static double ref_kappa(const struct setting *s)
{
    return exp(-s->dt / s->tau);
}

static double ref_phi(const char *act, double h)
{
    if (strcmp(act, "tanh") == 0) return tanh(h);
    if (strcmp(act, "sigmoid") == 0) return 1 / (1 + exp(-h));
    if (strcmp(act, "relu") == 0) return h > 0 ? h : 0;
    return h;
}

/* psi(u), u = v - A */
static double ref_psi(const struct setting *s, double u)
{
    double r = 1 - fabs(u) / s->v_th;
    return r > 0 ? s->gamma / s->v_th * r : 0;
}

/* The integral of psi from -infinity to u: a smooth (C^1) stand-in for H
 * whose derivative is exactly psi. */
static double ref_psi_integral(const struct setting *s, double u)
{
    const double w = s->v_th, c = s->gamma / s->v_th;
    if (u <= -w) return 0;
    if (u <= 0) return c * (u + w) * (u + w) / (2 * w);
    if (u < w) return c * w / 2 + c * (u - u * u / (2 * w));
    return c * w;
}

/* Number of state variables the SPEC gives the kind. */
static int ref_states(const struct setting *s)
{
    return is_op(s, "alif") ? 2 : 1;
}

/* u = v - A of unit j of sample b, from a state array [ROWS][S][SIZE]. */
static double ref_u(const struct setting *s, const trl_real *h, int b, int j)
{
    if (is_op(s, "alif")) {
        const trl_real *v = h + (size_t)b * 2 * SIZE, *a = v + SIZE;
        return (double)v[j] - (s->v_th + s->beta * (double)a[j]);
    }
    return (double)h[(size_t)b * SIZE + j] - s->v_th;
}

/* h(t), z(t) of SPEC section 2 from I(t), h(t-1), z(t-1). */
static void ref_forward(const struct setting *s, const trl_real *I, const trl_real *h_prev,
                        const trl_real *z_prev, double *h, double *z)
{
    for (int b = 0; b < ROWS; b++)
        for (int j = 0; j < SIZE; j++) {
            const size_t bj = (size_t)b * SIZE + j;
            const double in = I[bj], zp = z_prev[bj];
            if (is_op(s, "alif")) {
                const size_t v = (size_t)b * 2 * SIZE + j, a = v + SIZE;
                h[a] = ref_rho(s) * h_prev[a] + zp;
                h[v] = ref_alpha(s) * h_prev[v] + in - s->v_th * zp;
                z[bj] = h[v] - (s->v_th + s->beta * h[a]) > 0 ? 1 : 0;
            } else if (is_op(s, "lif")) {
                h[bj] = ref_alpha(s) * h_prev[bj] + in - s->v_th * zp;
                z[bj] = h[bj] - s->v_th > 0 ? 1 : 0;
            } else if (is_op(s, "leaky")) {
                h[bj] = ref_alpha(s) * h_prev[bj] + (1 - ref_alpha(s)) * in;
                z[bj] = ref_phi(s->activation, h[bj]);
            } else if (is_op(s, "readout")) {
                h[bj] = ref_kappa(s) * h_prev[bj] + in;
                z[bj] = h[bj];
            } else { /* dense */
                h[bj] = in;
                z[bj] = ref_phi(s->activation, in);
            }
        }
}

/* ---- a node of a setting, loaded the real way */

struct node_case {
    const struct setting *s;
    struct graph *g;
    const struct graph_node *node;
    const struct op_kind *k;
    const void *p;
    int S;
    char label[320];
};

static struct graph *load_graph(const char *text)
{
    struct trl_errors err;
    struct graph *g = graph_load_string(text, strlen(text), "test.json", &err);
    if (!g) trl_errors_print(&err, stderr);
    return g;
}

static void graph_text(char *buf, size_t cap, const char *op, double dt, const char *params)
{
    snprintf(
        buf, cap,
        "{\"trellis\": 1, \"dt\": %.17g, \"nodes\": ["
        "{\"id\": \"in\", \"op\": \"input\", \"size\": %d},"
        "{\"id\": \"n\", \"op\": \"%s\", \"size\": %d, \"params\": %s, \"inputs\": [\"in\"]}]}",
        dt, SIZE, op, SIZE, params);
}

static void case_load(struct node_case *c, int i)
{
    char text[1024];
    c->s = &settings[i];
    graph_text(text, sizeof text, c->s->op, c->s->dt, c->s->params);
    snprintf(c->label, sizeof c->label, "%s %s dt=%g", c->s->op, c->s->params, c->s->dt);
    c->g = load_graph(text);
    ck_assert_msg(c->g, "%s: graph refused:\n%s", c->label, text);
    int n = graph_find_node(c->g, "n");
    ck_assert_int_ge(n, 0);
    c->node = &c->g->nodes[n];
    c->k = c->node->op;
    c->p = c->node->params;
    c->S = c->k->n_state;
    ck_assert_msg(strcmp(c->k->name, c->s->op) == 0, "%s: node has kind %s", c->label, c->k->name);
    ck_assert_msg(c->S == ref_states(c->s), "%s: n_state %d, SPEC says %d", c->label, c->S,
                  ref_states(c->s));
}

static void case_free(struct node_case *c)
{
    graph_free(c->g);
}

/* ---- helpers */

static struct rng test_rng;

static double uniform(double lo, double hi)
{
    return lo + (hi - lo) * rng_uniform(&test_rng);
}

static int close_enough(double got, double want, double tol)
{
    return fabs(got - want) <= tol * (1 + fabs(want));
}

/* Counts a mismatch and prints the first few. */
static int mismatch(int *bad, const char *label, const char *what, int b, int r, int c, int j,
                    double got, double want)
{
    if (*bad < 12)
        fprintf(stderr, "%s: %s [sample %d, row %d, col %d, unit %d]: got %.17g, expected %.17g\n",
                label, what, b, r, c, j, got, want);
    return ++*bad;
}

/* Random I, h(t-1), z(t-1) for a setting: spiking states around the
 * threshold (so both z = 0 and z = 1 occur) and z(t-1) in {0, 1}; other
 * kinds get any reals (their z(t-1) must be ignored). */
static void random_inputs(const struct setting *s, trl_real *I, trl_real *h_prev, trl_real *z_prev)
{
    const int S = ref_states(s);
    for (int i = 0; i < NZ; i++) {
        if (spiking(s)) {
            I[i] = (trl_real)uniform(-s->v_th, 2 * s->v_th);
            z_prev[i] = rng_below(&test_rng, 2) ? 1 : 0;
        } else {
            I[i] = (trl_real)uniform(-2, 2);
            z_prev[i] = (trl_real)uniform(-3, 3);
        }
    }
    for (int b = 0; b < ROWS; b++)
        for (int j = 0; j < SIZE; j++) {
            trl_real *h = h_prev + (size_t)b * S * SIZE + j;
            h[0] = spiking(s) ? (trl_real)uniform(-s->v_th, 2 * s->v_th) : (trl_real)uniform(-2, 2);
            if (S == 2) h[SIZE] = (trl_real)uniform(0, 1.5);
        }
}

/* ---- params */

/* Each key of the kind's table is parsed to the value the setting means. */
static void params_parsed(int si)
{
    struct node_case c;
    case_load(&c, si);
    const struct setting *s = c.s;
    for (int d = 0; d < c.k->n_param_desc; d++) {
        const struct op_param_desc *pd = &c.k->param_desc[d];
        const char *at = (const char *)c.p + pd->offset;
        if (pd->type == OP_PARAM_REAL) {
            double want = strcmp(pd->name, "tau_m") == 0   ? s->tau_m
                          : strcmp(pd->name, "v_th") == 0  ? s->v_th
                          : strcmp(pd->name, "gamma") == 0 ? s->gamma
                          : strcmp(pd->name, "tau_a") == 0 ? s->tau_a
                          : strcmp(pd->name, "beta") == 0  ? s->beta
                          : strcmp(pd->name, "tau") == 0   ? s->tau
                                                           : NAN;
            ck_assert_msg(!isnan(want), "%s: param %s unknown to this test: add it", c.label,
                          pd->name);
            double got;
            memcpy(&got, at, sizeof got);
            ck_assert_msg(got == want, "%s: param %s parsed as %.17g, expected %.17g", c.label,
                          pd->name, got, want);
        } else if (pd->type == OP_PARAM_BOOL) {
            ck_assert_msg(strcmp(pd->name, "detach_reset") == 0,
                          "%s: param %s unknown to this test: add it", c.label, pd->name);
            bool got;
            memcpy(&got, at, sizeof got);
            ck_assert_msg(got == (s->detach_reset != 0), "%s: detach_reset parsed as %d", c.label,
                          (int)got);
        } else {
            int got;
            memcpy(&got, at, sizeof got);
            ck_assert_msg(got >= 0 && got < ACT_COUNT &&
                              strcmp(activation_names[got], s->activation) == 0,
                          "%s: activation parsed as %d, expected %s", c.label, got, s->activation);
        }
    }
    case_free(&c);
}
START_TEST(params_parsed_all)
{
    for (int si = 0; si < N_SETTINGS; si++) params_parsed(si);
}
END_TEST

/* A positive param refuses 0 and -1; a non-negative one takes 0, refuses -1. */
static void params_bounds_enforced(int si)
{
    const struct op_kind *k = op_kinds[si];
    for (int d = 0; d < k->n_param_desc; d++) {
        const struct op_param_desc *pd = &k->param_desc[d];
        if (pd->type != OP_PARAM_REAL || pd->bound == OP_BOUND_ANY) continue;
        const double values[2] = {0, -1};
        for (int v = 0; v < 2; v++) {
            char params[128], text[1024];
            snprintf(params, sizeof params, "{\"%s\": %g}", pd->name, values[v]);
            graph_text(text, sizeof text, k->name, 1.0, params);
            struct trl_errors err;
            struct graph *g = graph_load_string(text, strlen(text), "test.json", &err);
            bool want_ok = pd->bound == OP_BOUND_NONNEG && values[v] == 0;
            ck_assert_msg((g != NULL) == want_ok, "%s %s: %s accepted = %d, expected %d", k->name,
                          params, pd->bound == OP_BOUND_POSITIVE ? "positive" : "non-negative",
                          g != NULL, want_ok);
            graph_free(g);
        }
    }
}
START_TEST(params_bounds_enforced_all)
{
    for (int si = 0; si < op_n_kinds; si++) params_bounds_enforced(si);
}
END_TEST

/* ---- forward */

static void forward_matches_equations(int si)
{
    struct node_case c;
    case_load(&c, si);
    rng_seed(&test_rng, 1000 + (uint64_t)si);
    int bad = 0, spikes[2] = {0, 0};
    for (int draw = 0; draw < 20; draw++) {
        trl_real I[NZ], h_prev[NH] = {0}, z_prev[NZ], h[NH], z[NZ];
        double hr[NH], zr[NZ];
        random_inputs(c.s, I, h_prev, z_prev);
        c.k->forward(c.p, ROWS, SIZE, I, h_prev, z_prev, h, z);
        ref_forward(c.s, I, h_prev, z_prev, hr, zr);
        for (int b = 0; b < ROWS; b++)
            for (int r = 0; r < c.S; r++)
                for (int j = 0; j < SIZE; j++) {
                    size_t i = ((size_t)b * c.S + r) * SIZE + j;
                    if (!close_enough(h[i], hr[i], TOL_EQ))
                        mismatch(&bad, c.label, "h", b, r, 0, j, h[i], hr[i]);
                }
        for (int b = 0; b < ROWS; b++)
            for (int j = 0; j < SIZE; j++) {
                size_t i = (size_t)b * SIZE + j;
                if (spiking(c.s)) { /* H is exact away from the threshold */
                    double A = is_op(c.s, "alif")
                                   ? c.s->v_th + c.s->beta * hr[(size_t)b * 2 * SIZE + SIZE + j]
                                   : c.s->v_th;
                    double v = hr[(size_t)b * c.S * SIZE + j];
                    if (fabs(v - A) < SPIKE_MARGIN) continue;
                    spikes[zr[i] > 0]++;
                    if (z[i] != zr[i])
                        mismatch(&bad, c.label, "z (spike)", b, 0, 0, j, z[i], zr[i]);
                } else if (!close_enough(z[i], zr[i], TOL_EQ)) {
                    mismatch(&bad, c.label, "z", b, 0, 0, j, z[i], zr[i]);
                }
            }
    }
    ck_assert_msg(bad == 0, "%s: forward differs from SPEC section 2 in %d values", c.label, bad);
    if (spiking(c.s))
        ck_assert_msg(spikes[0] > 10 && spikes[1] > 10,
                      "%s: the draws gave %d silent and %d spiking units: not a test", c.label,
                      spikes[0], spikes[1]);
    case_free(&c);
}
START_TEST(forward_matches_equations_all)
{
    for (int si = 0; si < N_SETTINGS; si++) forward_matches_equations(si);
}
END_TEST

/* z = H(v - A) with H(0) = 0: v exactly at the threshold does not spike, the
 * next representable value above does (alif: a = 0, so A = v_th). */
static void spike_threshold_is_strict(int si)
{
    struct node_case c;
    case_load(&c, si);
    if (!spiking(c.s)) {
        case_free(&c);
        return;
    }
    trl_real I[NZ], h_prev[NH] = {0}, z_prev[NZ] = {0}, h[NH], z[NZ];
    const trl_real th = (trl_real)c.s->v_th;
    for (int i = 0; i < NZ; i++) I[i] = i % 2 ? th : TRL_NEXTAFTER(th, 10 * th);
    c.k->forward(c.p, ROWS, SIZE, I, h_prev, z_prev, h, z);
    for (int b = 0; b < ROWS; b++)
        for (int j = 0; j < SIZE; j++) {
            size_t i = (size_t)b * SIZE + j;
            double v = h[(size_t)b * c.S * SIZE + j];
            ck_assert_msg(v == (double)I[i], "%s: v = %.17g from I = %.17g with h(t-1) = 0",
                          c.label, v, (double)I[i]);
            ck_assert_msg(z[i] == (i % 2 ? 0 : 1),
                          "%s: v - v_th = %.3g gave z = %g (H(u) = 1 only for u > 0)", c.label,
                          v - (double)th, (double)z[i]);
        }
    case_free(&c);
}
START_TEST(spike_threshold_is_strict_all)
{
    for (int si = 0; si < N_SETTINGS; si++) spike_threshold_is_strict(si);
}
END_TEST

/* ---- output Jacobian */

/* Smooth kinds: dz/dh against central differences of forward's z, taken
 * along forward's own h (I moved by +-eps / (dh/dI)). */
static void output_jacobian_finite_differences(int si)
{
    struct node_case c;
    case_load(&c, si);
    if (spiking(c.s)) {
        case_free(&c);
        return;
    }
    rng_seed(&test_rng, 2000 + (uint64_t)si);
    const double gain = is_op(c.s, "leaky") ? 1 - ref_alpha(c.s) : 1;
    int bad = 0, compared = 0;
    for (int draw = 0; draw < 10; draw++) {
        trl_real I[NZ], h_prev[NH] = {0}, z_prev[NZ], h[NH], z[NZ], dzdh[NH];
        trl_real Ip[NZ], Im[NZ], hp[NH], hm[NH], zp[NZ], zm[NZ];
        random_inputs(c.s, I, h_prev, z_prev);
        c.k->forward(c.p, ROWS, SIZE, I, h_prev, z_prev, h, z);
        c.k->output_jacobian(c.p, ROWS, SIZE, h, z, dzdh);
        for (int i = 0; i < NZ; i++) {
            Ip[i] = (trl_real)(I[i] + FD_EPS / gain);
            Im[i] = (trl_real)(I[i] - FD_EPS / gain);
        }
        c.k->forward(c.p, ROWS, SIZE, Ip, h_prev, z_prev, hp, zp);
        c.k->forward(c.p, ROWS, SIZE, Im, h_prev, z_prev, hm, zm);
        for (int i = 0; i < NZ; i++) {
            if (c.s->activation && strcmp(c.s->activation, "relu") == 0 &&
                fabs((double)h[i]) < 4 * FD_EPS)
                continue; /* relu's kink: checked below */
            double fd = ((double)zp[i] - zm[i]) / ((double)hp[i] - hm[i]);
            compared++;
            if (!close_enough(dzdh[i], fd, TOL_FD))
                mismatch(&bad, c.label, "dz/dh", i / SIZE, 0, 0, i % SIZE, dzdh[i], fd);
        }
    }
    ck_assert_msg(bad == 0, "%s: output Jacobian differs from finite differences in %d values",
                  c.label, bad);
    ck_assert_int_gt(compared, 100);
    if (c.s->activation && strcmp(c.s->activation, "relu") == 0) { /* relu'(0) = 0 */
        trl_real h0[NZ] = {0}, z0[NZ] = {0}, d0[NZ];
        h0[1] = -1;
        h0[2] = 1;
        z0[2] = 1;
        c.k->output_jacobian(c.p, ROWS, SIZE, h0, z0, d0);
        ck_assert_msg(d0[0] == 0 && d0[1] == 0 && d0[2] == 1,
                      "%s: relu' at 0, -1, 1 is %g, %g, %g; expected 0, 0, 1", c.label,
                      (double)d0[0], (double)d0[1], (double)d0[2]);
    }
    case_free(&c);
}
START_TEST(output_jacobian_finite_differences_all)
{
    for (int si = 0; si < N_SETTINGS; si++) output_jacobian_finite_differences(si);
}
END_TEST

/* Points u = v - A (in units of v_th) where the pseudo-derivative is checked:
 * the peak, the slopes, the kinks at +-v_th, and the zero region. */
static const double u_points[] = {0,     0.25, -0.25, 0.5, -0.5, 0.999, -0.999, 1,   -1,
                                  1.001, 1.25, -1.25, 3,   -3,   1e-9,  -1e-9,  0.75};
#define N_U_POINTS ((int)(sizeof u_points / sizeof u_points[0]))

/* Spiking kinds: dz/dv = psi and (alif) dz/da = -beta psi at chosen points,
 * and the state Jacobian's closed form of SPEC section 2 at the same points:
 *   lif:  J = alpha - v_th psi(t-1)  (alpha when detach_reset)
 *   alif: [alpha - v_th psi, v_th beta psi; psi, rho - beta psi]
 *         (first row [alpha, 0] when detach_reset) */
static void pseudo_derivative_at_chosen_points(int si)
{
    struct node_case c;
    case_load(&c, si);
    if (!spiking(c.s)) {
        case_free(&c);
        return;
    }
    rng_seed(&test_rng, 3000 + (uint64_t)si);
    const bool alif = is_op(c.s, "alif");
    const double w = c.s->v_th, beta = c.s->beta, alpha = ref_alpha(c.s);
    int bad = 0;
    for (int p0 = 0; p0 < N_U_POINTS; p0 += NZ) {
        trl_real h[NH] = {0}, z[NZ] = {0}, dzdh[NH], J[NJ];
        for (int b = 0; b < ROWS; b++)
            for (int j = 0; j < SIZE; j++) {
                int p = (p0 + b * SIZE + j) % N_U_POINTS;
                double a = alif ? uniform(0, 2) : 0;
                trl_real *v = h + (size_t)b * c.S * SIZE + j;
                v[0] = (trl_real)(w + beta * a + u_points[p] * w);
                if (alif) v[SIZE] = (trl_real)a;
                z[(size_t)b * SIZE + j] = u_points[p] > 0;
            }
        c.k->output_jacobian(c.p, ROWS, SIZE, h, z, dzdh);
        c.k->state_jacobian(c.p, ROWS, SIZE, h, J);
        for (int b = 0; b < ROWS; b++)
            for (int j = 0; j < SIZE; j++) {
                double u = ref_u(c.s, h, b, j), psi = ref_psi(c.s, u);
                /* the op computes u in trl_real: allow its rounding, times the slope */
                double tol = TOL_EQ * (1 + c.s->gamma / (w * w) * (fabs(u) + w + beta * 2));
                const trl_real *d = dzdh + (size_t)b * c.S * SIZE + j;
                if (!close_enough(d[0], psi, tol))
                    mismatch(&bad, c.label, "dz/dv", b, 0, 0, j, d[0], psi);
                if (fabs(u) > 1.01 * w && d[0] != 0)
                    mismatch(&bad, c.label, "dz/dv (zero region)", b, 0, 0, j, d[0], 0);
                if (alif && !close_enough(d[SIZE], -beta * psi, tol))
                    mismatch(&bad, c.label, "dz/da", b, 1, 0, j, d[SIZE], -beta * psi);
                const double reset = c.s->detach_reset ? 0 : 1;
                double want[4] = {alpha - reset * w * psi, reset * w * beta * psi, psi,
                                  ref_rho(c.s) - beta * psi};
                for (int rc = 0; rc < c.S * c.S; rc++) {
                    double got = J[((size_t)b * c.S * c.S + rc) * SIZE + j];
                    if (!close_enough(got, want[rc], tol))
                        mismatch(&bad, c.label, "J closed form", b, rc / c.S, rc % c.S, j, got,
                                 want[rc]);
                }
            }
    }
    ck_assert_msg(bad == 0, "%s: %d values differ from SPEC's pseudo-derivative", c.label, bad);
    case_free(&c);
}
START_TEST(pseudo_derivative_at_chosen_points_all)
{
    for (int si = 0; si < N_SETTINGS; si++) pseudo_derivative_at_chosen_points(si);
}
END_TEST

/* ---- state Jacobian */

/* h(t) from h(t-1) through forward, with z(t-1) replaced by the smooth
 * surrogate P(u(t-1)) (P' = psi) wherever SPEC differentiates through it:
 * lif's and alif's reset unless detach_reset, alif's adaptation always.
 * z_held is the value of a detached z(t-1). */
static void surrogate_map(const struct node_case *c, const trl_real *I, const trl_real *h_prev,
                          const trl_real *z_held, trl_real *h)
{
    trl_real zs[NZ], zr[NZ], z[NZ], h_adapt[NH];
    if (!spiking(c->s)) {
        c->k->forward(c->p, ROWS, SIZE, I, h_prev, z_held, h, z);
        return;
    }
    for (int b = 0; b < ROWS; b++)
        for (int j = 0; j < SIZE; j++) {
            size_t i = (size_t)b * SIZE + j;
            zs[i] = (trl_real)ref_psi_integral(c->s, ref_u(c->s, h_prev, b, j));
            zr[i] = c->s->detach_reset ? z_held[i] : zs[i];
        }
    c->k->forward(c->p, ROWS, SIZE, I, h_prev, zr, h, z); /* v: the reset input */
    if (c->S == 2) { /* a: the adaptation input, always the surrogate */
        c->k->forward(c->p, ROWS, SIZE, I, h_prev, zs, h_adapt, z);
        for (int b = 0; b < ROWS; b++)
            memcpy(h + ((size_t)b * 2 + 1) * SIZE, h_adapt + ((size_t)b * 2 + 1) * SIZE,
                   SIZE * sizeof *h);
    }
}

/* Is u at least margin away from psi's kinks (-v_th, 0, v_th)? */
static bool away_from_kinks(const struct setting *s, double u, double margin)
{
    return fabs(u) > margin && fabs(u - s->v_th) > margin && fabs(u + s->v_th) > margin;
}

/* Random h(t-1) whose u(t-1) covers every region of psi but stays clear of
 * its kinks, where central differences of P are not exact. */
static void random_h_prev(const struct node_case *c, trl_real *h_prev)
{
    const double margin = 4 * (1 + c->s->beta) * FD_EPS;
    for (int b = 0; b < ROWS; b++)
        for (int j = 0; j < SIZE; j++) {
            trl_real *v = h_prev + (size_t)b * c->S * SIZE + j;
            if (!spiking(c->s)) {
                v[0] = (trl_real)uniform(-2, 2);
                continue;
            }
            do {
                double a = c->S == 2 ? uniform(0, 1.5) : 0;
                double u = uniform(-1.6, 1.6) * c->s->v_th;
                v[0] = (trl_real)(c->s->v_th + c->s->beta * a + u);
                if (c->S == 2) v[SIZE] = (trl_real)a;
            } while (!away_from_kinks(c->s, ref_u(c->s, h_prev, b, j), margin));
        }
}

/* J(t) entry (r, c) of every unit against central differences of the
 * surrogate map, one state variable of one unit at a time: the unit's own
 * entries equal J, every other unit's are 0. */
static void state_jacobian_finite_differences(int si)
{
    struct node_case c;
    case_load(&c, si);
    rng_seed(&test_rng, 4000 + (uint64_t)si);
    int bad = 0;
    double psi_seen = 0;
    for (int draw = 0; draw < 4; draw++) {
        trl_real I[NZ], h_prev[NH] = {0}, z_held[NZ], J[NJ], hp[NH], hm[NH], unused[NH];
        random_inputs(c.s, I, unused, z_held);
        random_h_prev(&c, h_prev);
        if (spiking(c.s)) /* the detached z(t-1) is the spike itself */
            for (int b = 0; b < ROWS; b++)
                for (int j = 0; j < SIZE; j++) {
                    double u = ref_u(c.s, h_prev, b, j);
                    z_held[(size_t)b * SIZE + j] = u > 0;
                    psi_seen += ref_psi(c.s, u);
                }
        c.k->state_jacobian(c.p, ROWS, SIZE, h_prev, J);
        for (int b = 0; b < ROWS; b++)
            for (int col = 0; col < c.S; col++)
                for (int j = 0; j < SIZE; j++) {
                    size_t at = ((size_t)b * c.S + col) * SIZE + j;
                    const trl_real keep = h_prev[at];
                    h_prev[at] = (trl_real)(keep + FD_EPS);
                    double up = h_prev[at];
                    surrogate_map(&c, I, h_prev, z_held, hp);
                    h_prev[at] = (trl_real)(keep - FD_EPS);
                    double step = up - h_prev[at];
                    surrogate_map(&c, I, h_prev, z_held, hm);
                    h_prev[at] = keep;
                    for (int b2 = 0; b2 < ROWS; b2++)
                        for (int r = 0; r < c.S; r++)
                            for (int j2 = 0; j2 < SIZE; j2++) {
                                size_t o = ((size_t)b2 * c.S + r) * SIZE + j2;
                                double fd = ((double)hp[o] - hm[o]) / step;
                                bool own = b2 == b && j2 == j;
                                double got =
                                    own ? J[((size_t)b * c.S * c.S + r * c.S + col) * SIZE + j] : 0;
                                if (!close_enough(got, fd, TOL_FD))
                                    mismatch(&bad, c.label, own ? "J" : "cross-unit dh/dh(t-1)", b,
                                             r, col, j, got, fd);
                            }
                }
    }
    ck_assert_msg(bad == 0,
                  "%s: state Jacobian differs from finite differences of the surrogate map in %d "
                  "values",
                  c.label, bad);
    if (spiking(c.s) && c.s->gamma > 0)
        ck_assert_msg(psi_seen > 0, "%s: psi(t-1) was 0 everywhere: not a test", c.label);
    case_free(&c);
}
START_TEST(state_jacobian_finite_differences_all)
{
    for (int si = 0; si < N_SETTINGS; si++) state_jacobian_finite_differences(si);
}
END_TEST

/* ---- input Jacobian */

static void input_jacobian_finite_differences(int si)
{
    struct node_case c;
    case_load(&c, si);
    rng_seed(&test_rng, 5000 + (uint64_t)si);
    trl_real dhdI[OP_MAX_STATE] = {0};
    c.k->input_jacobian(c.p, dhdI);
    int bad = 0;
    for (int draw = 0; draw < 3; draw++) {
        trl_real I[NZ], h_prev[NH] = {0}, z_prev[NZ], hp[NH], hm[NH], z[NZ];
        random_inputs(c.s, I, h_prev, z_prev);
        for (int i = 0; i < NZ; i++) {
            const trl_real keep = I[i];
            I[i] = (trl_real)(keep + FD_EPS);
            double up = I[i];
            c.k->forward(c.p, ROWS, SIZE, I, h_prev, z_prev, hp, z);
            I[i] = (trl_real)(keep - FD_EPS);
            double step = up - I[i];
            c.k->forward(c.p, ROWS, SIZE, I, h_prev, z_prev, hm, z);
            I[i] = keep;
            for (int b = 0; b < ROWS; b++)
                for (int r = 0; r < c.S; r++)
                    for (int j = 0; j < SIZE; j++) {
                        size_t o = ((size_t)b * c.S + r) * SIZE + j;
                        double fd = ((double)hp[o] - hm[o]) / step;
                        bool own = b * SIZE + j == i;
                        if (!close_enough(own ? dhdI[r] : 0, fd, TOL_FD))
                            mismatch(&bad, c.label, own ? "dh/dI" : "cross-unit dh/dI", b, r, 0, j,
                                     own ? dhdI[r] : 0, fd);
                    }
        }
    }
    /* and the values SPEC section 2 gives */
    double want[2] = {is_op(c.s, "leaky") ? 1 - ref_alpha(c.s) : 1, 0};
    for (int r = 0; r < c.S; r++)
        if (!close_enough(dhdI[r], want[r], TOL_EQ))
            mismatch(&bad, c.label, "dh/dI closed form", 0, r, 0, 0, dhdI[r], want[r]);
    ck_assert_msg(bad == 0, "%s: input Jacobian wrong in %d values", c.label, bad);
    case_free(&c);
}
START_TEST(input_jacobian_finite_differences_all)
{
    for (int si = 0; si < N_SETTINGS; si++) input_jacobian_finite_differences(si);
}
END_TEST

/* ---- constant rows */

static void constant_rows_are_constant(int si)
{
    struct node_case c;
    case_load(&c, si);
    rng_seed(&test_rng, 6000 + (uint64_t)si);
    const unsigned rows = c.k->constant_rows(c.p);
    /* SPEC section 6 / trace_plan.h: leaky, readout, dense (J = 0), and the v
     * row of lif and alif with detach_reset are constant */
    unsigned want = spiking(c.s) ? (c.s->detach_reset ? 1u : 0u) : 1u;
    ck_assert_msg((rows & want) == want, "%s: constant_rows 0x%x, expected at least 0x%x", c.label,
                  rows, want);
    ck_assert_msg(rows < (1u << c.S), "%s: constant_rows 0x%x flags a row beyond n_state %d",
                  c.label, rows, c.S);
    int bad = 0;
    double first[OP_MAX_STATE] = {0};
    for (int draw = 0; draw < 8; draw++) {
        trl_real h_prev[NH] = {0}, J[NJ], I[NZ], z[NZ];
        random_inputs(c.s, I, h_prev, z);
        if (draw % 2) random_h_prev(&c, h_prev);
        c.k->state_jacobian(c.p, ROWS, SIZE, h_prev, J);
        for (int r = 0; r < c.S; r++) {
            if (!(rows & (1u << r))) continue;
            for (int b = 0; b < ROWS; b++)
                for (int j = 0; j < SIZE; j++)
                    for (int col = 0; col < c.S; col++) {
                        double got = J[((size_t)b * c.S * c.S + r * c.S + col) * SIZE + j];
                        if (draw == 0 && b == 0 && j == 0 && col == r) first[r] = got;
                        double want_v = col == r ? first[r] : 0;
                        if (got != want_v)
                            mismatch(&bad, c.label, "constant row", b, r, col, j, got, want_v);
                    }
        }
    }
    ck_assert_msg(bad == 0, "%s: %d entries of a row flagged constant vary", c.label, bad);
    case_free(&c);
}
START_TEST(constant_rows_are_constant_all)
{
    for (int si = 0; si < N_SETTINGS; si++) constant_rows_are_constant(si);
}
END_TEST

/* ---- registry */

/* SPEC section 2's table: n_state, bias default, state names; spiking
 * (z = H(v - A), the kinds with a pseudo-derivative). */
static const struct {
    const char *name;
    int n_state;
    bool bias, spiking;
    const char *state_names; /* NULL: not fixed by SPEC */
} spec_kinds[] = {
    {"input", 0, false, false, ""},  {"dense", 1, true, false, NULL},
    {"leaky", 1, true, false, "h"},  {"lif", 1, false, true, "v"},
    {"alif", 2, false, true, "v,a"}, {"readout", 1, true, false, "y"},
};
#define N_SPEC_KINDS ((int)(sizeof spec_kinds / sizeof spec_kinds[0]))

START_TEST(registry_complete)
{
    ck_assert_msg(op_n_kinds == N_SPEC_KINDS,
                  "%d kinds registered, SPEC section 2 has %d: test the new kind here", op_n_kinds,
                  N_SPEC_KINDS);
    for (int i = 0; i < N_SPEC_KINDS; i++) {
        const struct op_kind *k = op_find(spec_kinds[i].name);
        ck_assert_msg(k, "op_find(\"%s\") is NULL", spec_kinds[i].name);
        ck_assert_str_eq(k->name, spec_kinds[i].name);
        ck_assert_msg(k->n_state == spec_kinds[i].n_state, "%s: n_state %d, SPEC %d", k->name,
                      k->n_state, spec_kinds[i].n_state);
        ck_assert_msg(k->default_bias == spec_kinds[i].bias, "%s: default_bias %d, SPEC %d",
                      k->name, k->default_bias, spec_kinds[i].bias);
        ck_assert_msg(k->spiking == spec_kinds[i].spiking, "%s: spiking %d, expected %d", k->name,
                      k->spiking, spec_kinds[i].spiking);
        if (spec_kinds[i].state_names) ck_assert_str_eq(k->state_names, spec_kinds[i].state_names);
    }
    for (int i = 0; i < op_n_kinds; i++) {
        const struct op_kind *k = op_kinds[i];
        ck_assert_msg(k && k->name && k->name[0], "op_kinds[%d] has no name", i);
        ck_assert_msg(op_find(k->name) == k, "op_find(\"%s\") is not op_kinds[%d]", k->name, i);
        ck_assert_msg(k->doc && k->doc[0], "%s: no doc", k->name);
        ck_assert_msg(k->state_names, "%s: state_names is NULL", k->name);
        ck_assert_msg(k->n_state >= 0 && k->n_state <= OP_MAX_STATE, "%s: n_state %d", k->name,
                      k->n_state);
        /* state_names: n_state non-empty comma-separated names */
        int names = 0;
        const char *s = k->state_names;
        if (*s)
            for (const char *p = s;; p++)
                if (*p == ',' || *p == '\0') {
                    ck_assert_msg(p > s, "%s: empty name in state_names \"%s\"", k->name,
                                  k->state_names);
                    names++;
                    if (!*p) break;
                    s = p + 1;
                }
        ck_assert_msg(names == k->n_state, "%s: state_names \"%s\" has %d names, n_state %d",
                      k->name, k->state_names, names, k->n_state);
        ck_assert_msg(k->n_param_desc == 0 || (k->param_desc && k->params_size > 0),
                      "%s: %d param descriptions without a table or params struct", k->name,
                      k->n_param_desc);
        for (int d = 0; d < k->n_param_desc; d++)
            ck_assert_msg(k->param_desc[d].name && k->param_desc[d].doc &&
                              k->param_desc[d].offset < k->params_size,
                          "%s: param description %d incomplete", k->name, d);
        if (k->is_input) {
            ck_assert_msg(k->n_state == 0 && !k->default_bias, "%s: an input with state or bias",
                          k->name);
            continue;
        }
        ck_assert_msg(k->n_state >= 1, "%s: a non-input kind without state", k->name);
        ck_assert_msg(k->prepare && k->forward && k->output_jacobian && k->state_jacobian &&
                          k->input_jacobian && k->constant_rows,
                      "%s: a function pointer is NULL (prepare %d forward %d output_jacobian %d "
                      "state_jacobian %d input_jacobian %d constant_rows %d)",
                      k->name, !!k->prepare, !!k->forward, !!k->output_jacobian,
                      !!k->state_jacobian, !!k->input_jacobian, !!k->constant_rows);
        bool tested = false;
        for (int t = 0; t < N_SETTINGS; t++) tested |= strcmp(settings[t].op, k->name) == 0;
        ck_assert_msg(tested, "kind %s has no setting in test_ops.c: add one", k->name);
    }
    ck_assert_ptr_null(op_find("no_such_kind"));
    ck_assert_ptr_null(op_find(""));
    ck_assert_ptr_null(op_find("li"));
    ck_assert_ptr_null(op_find("lifx"));
}
END_TEST

/* SPEC section 2's defaults and ranges, as the tables declare them. */
START_TEST(registry_param_defaults)
{
    static const struct {
        const char *kind, *param;
        double def;
        enum op_bound bound;
    } want[] = {
        {"leaky", "tau_m", 10, OP_BOUND_POSITIVE},
        {"lif", "tau_m", 20, OP_BOUND_POSITIVE},
        {"lif", "v_th", 0.6, OP_BOUND_POSITIVE},
        {"lif", "gamma", 0.3, OP_BOUND_NONNEG},
        {"lif", "detach_reset", 1, OP_BOUND_ANY},
        {"alif", "tau_m", 20, OP_BOUND_POSITIVE},
        {"alif", "v_th", 0.6, OP_BOUND_POSITIVE},
        {"alif", "gamma", 0.3, OP_BOUND_NONNEG},
        {"alif", "detach_reset", 1, OP_BOUND_ANY},
        {"alif", "tau_a", 200, OP_BOUND_POSITIVE},
        {"alif", "beta", 1.8, OP_BOUND_NONNEG},
        {"readout", "tau", 20, OP_BOUND_POSITIVE},
        {"dense", "activation", ACT_IDENTITY, OP_BOUND_ANY},
        {"leaky", "activation", ACT_TANH, OP_BOUND_ANY},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct op_kind *k = op_find(want[i].kind);
        ck_assert_ptr_nonnull(k);
        const struct op_param_desc *d = NULL;
        for (int p = 0; p < k->n_param_desc; p++)
            if (strcmp(k->param_desc[p].name, want[i].param) == 0) d = &k->param_desc[p];
        ck_assert_msg(d, "%s has no param %s", want[i].kind, want[i].param);
        ck_assert_msg(d->def == want[i].def && d->bound == want[i].bound,
                      "%s.%s: default %g bound %d, SPEC %g bound %d", want[i].kind, want[i].param,
                      d->def, d->bound, want[i].def, want[i].bound);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ops");
    TCase *tp = tcase_create("params");
    tcase_add_test(tp, params_parsed_all);
    tcase_add_test(tp, params_bounds_enforced_all);
    suite_add_tcase(s, tp);
    TCase *tf = tcase_create("forward");
    tcase_add_test(tf, forward_matches_equations_all);
    tcase_add_test(tf, spike_threshold_is_strict_all);
    suite_add_tcase(s, tf);
    TCase *tj = tcase_create("jacobians");
    tcase_add_test(tj, output_jacobian_finite_differences_all);
    tcase_add_test(tj, pseudo_derivative_at_chosen_points_all);
    tcase_add_test(tj, state_jacobian_finite_differences_all);
    tcase_add_test(tj, input_jacobian_finite_differences_all);
    tcase_add_test(tj, constant_rows_are_constant_all);
    suite_add_tcase(s, tj);
    TCase *tr = tcase_create("registry");
    tcase_add_test(tr, registry_complete);
    tcase_add_test(tr, registry_param_defaults);
    suite_add_tcase(s, tr);
    int failed = tu_run_suite(s, true);
    return failed ? 1 : 0;
}
