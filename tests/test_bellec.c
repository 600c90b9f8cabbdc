/* test_bellec.c - deep e-prop on one recurrent LIF layer with a readout is
 * Bellec et al. 2020's e-prop (SPEC section 6), written out here in closed
 * form, independently of the runtime's gradient engines.
 *
 * The runtime is used only to load the graph, parameters and data and, via
 * run_forward, for the spikes (so float32 spikes are the runtime's own; the
 * test recomputes v from them in double and checks that its own spikes agree
 * away from the threshold). Per sample, with psi_j(t) the pseudo-derivative of
 * SPEC section 2 and D the recurrent delay:
 *
 *   eps_jk(t)  = J_j(t) eps_jk(t-1) + x_k(t)   eligibility vector; x = input
 *                spikes for W_in, z_k(t-D) for W_rec (a delayed source is a
 *                constant); J_j(t) = alpha, or alpha - v_th psi_j(t-1) when
 *                the reset is not detached (its own z(t-1) is kept)
 *   e_jk(t)    = psi_j(t) eps_jk(t)            eligibility trace
 *   ebar_jk(t) = kappa ebar_jk(t-1) + e_jk(t)  the readout's filter
 *   L_j(t)     = sum_i W_out[i][j] dL/dy_i(t)  learning signal (symmetric
 *                feedback), dL/dy = (m/B)(y - target) (SPEC section 5, mse)
 *   dW_jk      = sum_b sum_t L_j(t) ebar_jk(t)
 *
 * and, from y(t) = kappa y(t-1) + W_out z(t) + b:
 *
 *   dW_out[i][j] = sum_t dL/dy_i(t) zbar_j(t),  zbar_j(t) = kappa zbar_j(t-1) + z_j(t)
 *   db_i         = sum_t dL/dy_i(t) bbar(t),    bbar(t) = kappa bbar(t-1) + 1
 *
 * Checked (float64): on the lif_eprop fixture, the closed form equals
 * grad_compute eprop with the online and the reverse engine, and the
 * fixture's grad_eprop.safetensors, to 1e-9 relative per tensor (loss to
 * 1e-12), the no_self diagonal is 0, and e-prop is not the exact gradient
 * (grad_exact.safetensors differs); on generated graphs with recurrent delay
 * 2 and 3 (and delay 1 with the reset not detached), the closed form equals
 * both engines. Float32: the closed form against both engines to 1e-4 (same
 * forward, same spikes); the fixture files are not compared, since a float32
 * membrane potential within rounding of the threshold may spike where the
 * float64 reference did not.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engines/grad.h"
#include "io/safetensors.h"
#include "tests/support/randgraph.h"
#include "tests/support/testutil.h"

#ifdef TRL_F64
#define TOL_GRAD     1e-9
#define TOL_LOSS     1e-12
#define TOL_Y        1e-10 /* own readout against run_forward's */
#define SPIKE_MARGIN 1e-9  /* |v - v_th| below which a spike may differ */
#else
#define TOL_GRAD     1e-4 /* observed ~1e-6 */
#define TOL_LOSS     1e-5
#define TOL_Y        1e-4
#define SPIKE_MARGIN 1e-4
#endif

/* One recurrent LIF layer "lif" fed by an input "in" and read by "out". */
struct lif_net {
    const char *label;
    struct graph *g;
    trl_real *params;
    struct data *d;
    int in, lif, out;                 /* node indices */
    int p_in, p_rec, p_out, p_b;      /* param indices */
    int delay;                        /* of the recurrent edge */
    bool no_self;                     /* of the recurrent edge */
    double alpha, v_th, gamma, kappa; /* from the parsed node params */
    bool detach;
};

/* A real or boolean param of a node, through its kind's table. */
static const struct op_param_desc *param_desc(const struct graph_node *n, const char *name)
{
    for (int i = 0; i < n->op->n_param_desc; i++)
        if (strcmp(n->op->param_desc[i].name, name) == 0) return &n->op->param_desc[i];
    ck_abort_msg("node %s has no param %s", n->id, name);
    return NULL;
}

static double node_real(const struct graph_node *n, const char *name)
{
    double v;
    memcpy(&v, (const char *)n->params + param_desc(n, name)->offset, sizeof v);
    return v;
}

static bool node_bool(const struct graph_node *n, const char *name)
{
    bool v;
    memcpy(&v, (const char *)n->params + param_desc(n, name)->offset, sizeof v);
    return v;
}

/* Finds the nodes, edges and constants; the graph must have this shape. */
static void lif_net_bind(struct lif_net *n)
{
    const struct graph *g = n->g;
    n->in = graph_find_node(g, "in");
    n->lif = graph_find_node(g, "lif");
    n->out = graph_find_node(g, "out");
    ck_assert_msg(n->in >= 0 && n->lif >= 0 && n->out >= 0, "%s: nodes in, lif, out", n->label);
    const struct graph_node *L = &g->nodes[n->lif], *O = &g->nodes[n->out];
    ck_assert_str_eq(L->op->name, "lif");
    ck_assert_str_eq(O->op->name, "readout");
    ck_assert_int_eq(g->loss_type, LOSS_MSE);
    ck_assert_int_eq(g->loss_node, n->out);
    ck_assert_msg(L->n_in == 2 && !L->bias && O->n_in == 1 && O->bias,
                  "%s: expected lif <- {in, lif} without bias, out <- lif with bias", n->label);
    n->p_in = n->p_rec = -1;
    for (int k = 0; k < L->n_in; k++) {
        const struct graph_edge *e = &g->edges[L->in[k]];
        if (e->src == n->in && e->delay == 0) n->p_in = e->param;
        if (e->src == n->lif && e->delay >= 1) {
            n->p_rec = e->param;
            n->delay = e->delay;
            n->no_self = e->no_self;
        }
    }
    ck_assert_msg(n->p_in >= 0 && n->p_rec >= 0, "%s: edges in -> lif, lif -> lif", n->label);
    const struct graph_edge *eo = &g->edges[O->in[0]];
    ck_assert_msg(eo->src == n->lif && eo->delay == 0, "%s: edge lif -> out", n->label);
    n->p_out = eo->param;
    n->p_b = O->bias_param;
    n->alpha = exp(-g->dt / node_real(L, "tau_m"));
    n->v_th = node_real(L, "v_th");
    n->gamma = node_real(L, "gamma");
    n->detach = node_bool(L, "detach_reset");
    n->kappa = exp(-g->dt / node_real(O, "tau"));
}

static void lif_net_free(struct lif_net *n)
{
    data_free(n->d);
    trl_free(n->params);
    graph_free(n->g);
}

/* What the closed form saw, for the checks that it is a test at all. */
struct closed_stats {
    long spikes, units; /* z = 1 among B * T * N */
    long psi_nonzero;   /* psi > 0 among B * T * N */
    long flips;         /* own spike != runtime spike with |v - v_th| > margin */
    long near;          /* own spike != runtime spike within the margin */
    double y_err;       /* largest |y_own - y_run| / (1 + |y_run|) */
};

/* Bellec et al.'s e-prop in closed form, in double, from the runtime's spikes
 * z_run [B, T, N] and readout y_run [B, T, K] (compared only). */
static void eprop_closed_form(const struct lif_net *n, const trl_real *z_run, const trl_real *y_run,
                              trl_real *grad, double *loss, struct closed_stats *st)
{
    const struct graph *g = n->g;
    const struct data *d = n->d;
    const int B = d->B, T = d->T, D = n->delay;
    const int N = g->nodes[n->lif].size, Kin = g->nodes[n->in].size, K = g->nodes[n->out].size;
    const trl_real *Win = n->params + g->params[n->p_in].offset;
    const trl_real *Wrec = n->params + g->params[n->p_rec].offset;
    const trl_real *Wout = n->params + g->params[n->p_out].offset;
    const trl_real *bout = n->params + g->params[n->p_b].offset;
    const double c = n->gamma / n->v_th;
    const size_t NKin = (size_t)N * Kin, NN = (size_t)N * N;

    double *v = calloc((size_t)N, sizeof *v), *psi = calloc((size_t)N, sizeof *psi);
    double *psi_prev = calloc((size_t)N, sizeof *psi_prev), *zbar = calloc((size_t)N, sizeof *zbar);
    double *y = calloc((size_t)K, sizeof *y), *dy = calloc((size_t)K, sizeof *dy);
    double *L = calloc((size_t)N, sizeof *L);
    double *eps_in = calloc(NKin, sizeof *eps_in), *ebar_in = calloc(NKin, sizeof *ebar_in);
    double *eps_rec = calloc(NN, sizeof *eps_rec), *ebar_rec = calloc(NN, sizeof *ebar_rec);
    double *g_in = calloc(NKin, sizeof *g_in), *g_rec = calloc(NN, sizeof *g_rec);
    double *g_out = calloc((size_t)K * N, sizeof *g_out), *g_b = calloc((size_t)K, sizeof *g_b);
    ck_assert_msg(v && psi && psi_prev && zbar && y && dy && L && eps_in && ebar_in && eps_rec &&
                      ebar_rec && g_in && g_rec && g_out && g_b,
                  "out of memory");
    memset(st, 0, sizeof *st);
    *loss = 0;

    for (int b = 0; b < B; b++) {
        memset(v, 0, (size_t)N * sizeof *v);
        memset(psi_prev, 0, (size_t)N * sizeof *psi_prev);
        memset(zbar, 0, (size_t)N * sizeof *zbar);
        memset(y, 0, (size_t)K * sizeof *y);
        memset(eps_in, 0, NKin * sizeof *eps_in);
        memset(ebar_in, 0, NKin * sizeof *ebar_in);
        memset(eps_rec, 0, NN * sizeof *eps_rec);
        memset(ebar_rec, 0, NN * sizeof *ebar_rec);
        double bbar = 0;
        for (int t = 0; t < T; t++) {
            const trl_real *x = d->x[n->in] + ((size_t)b * T + t) * Kin;
            const trl_real *z = z_run + ((size_t)b * T + t) * N;
            const trl_real *z1 = t >= 1 ? z_run + ((size_t)b * T + t - 1) * N : NULL;
            const trl_real *zD = t >= D ? z_run + ((size_t)b * T + t - D) * N : NULL;
            /* the layer: v(t) = alpha v(t-1) + W_in x(t) + W_rec z(t-D) - v_th z(t-1) */
            for (int j = 0; j < N; j++) {
                double I = 0;
                for (int k = 0; k < Kin; k++) I += (double)Win[(size_t)j * Kin + k] * x[k];
                for (int k = 0; k < N && zD; k++) I += (double)Wrec[(size_t)j * N + k] * zD[k];
                v[j] = n->alpha * v[j] + I - (z1 ? n->v_th * z1[j] : 0);
                const double u = v[j] - n->v_th;
                if ((u > 0) != (z[j] > 0)) {
                    if (fabs(u) > SPIKE_MARGIN)
                        st->flips++;
                    else
                        st->near++;
                }
                psi[j] = fmax(0, c * (1 - fabs(u) / n->v_th));
                st->spikes += z[j] > 0;
                st->psi_nonzero += psi[j] > 0;
                st->units++;
            }
            /* eligibility vectors, traces and their kappa filter */
            for (int j = 0; j < N; j++) {
                const double J = n->alpha - (n->detach ? 0 : n->v_th * psi_prev[j]);
                for (int k = 0; k < Kin; k++) {
                    size_t jk = (size_t)j * Kin + k;
                    eps_in[jk] = J * eps_in[jk] + x[k];
                    ebar_in[jk] = n->kappa * ebar_in[jk] + psi[j] * eps_in[jk];
                }
                for (int k = 0; k < N; k++) {
                    size_t jk = (size_t)j * N + k;
                    eps_rec[jk] = J * eps_rec[jk] + (zD ? zD[k] : 0);
                    ebar_rec[jk] = n->kappa * ebar_rec[jk] + psi[j] * eps_rec[jk];
                }
                zbar[j] = n->kappa * zbar[j] + z[j];
            }
            bbar = n->kappa * bbar + 1;
            /* the readout, the loss and dL/dy (SPEC section 5: mask, 1/B) */
            const size_t bt = (size_t)b * T + t;
            const double m = d->mask ? d->mask[bt] : 1.0;
            const trl_real *tg = d->target + bt * K;
            for (int i = 0; i < K; i++) {
                double s = bout[i];
                for (int j = 0; j < N; j++) s += (double)Wout[(size_t)i * N + j] * z[j];
                y[i] = n->kappa * y[i] + s;
                double yr = y_run[bt * K + i], e = fabs(y[i] - yr) / (1 + fabs(yr));
                if (e > st->y_err) st->y_err = e;
                dy[i] = m / B * (y[i] - tg[i]);
                *loss += m / B * 0.5 * (y[i] - tg[i]) * (y[i] - tg[i]);
            }
            /* learning signal (symmetric feedback) and the gradient terms */
            for (int j = 0; j < N; j++) {
                L[j] = 0;
                for (int i = 0; i < K; i++) L[j] += (double)Wout[(size_t)i * N + j] * dy[i];
            }
            for (size_t jk = 0; jk < NKin; jk++) g_in[jk] += L[jk / Kin] * ebar_in[jk];
            for (size_t jk = 0; jk < NN; jk++) g_rec[jk] += L[jk / N] * ebar_rec[jk];
            for (int i = 0; i < K; i++) {
                for (int j = 0; j < N; j++) g_out[(size_t)i * N + j] += dy[i] * zbar[j];
                g_b[i] += dy[i] * bbar;
            }
            memcpy(psi_prev, psi, (size_t)N * sizeof *psi);
        }
    }
    if (n->no_self) /* the diagonal is 0 and stays 0: no gradient */
        for (int j = 0; j < N; j++) g_rec[(size_t)j * N + j] = 0;

    memset(grad, 0, g->n_param_values * sizeof *grad);
    for (size_t i = 0; i < NKin; i++) grad[g->params[n->p_in].offset + i] = (trl_real)g_in[i];
    for (size_t i = 0; i < NN; i++) grad[g->params[n->p_rec].offset + i] = (trl_real)g_rec[i];
    for (size_t i = 0; i < (size_t)K * N; i++)
        grad[g->params[n->p_out].offset + i] = (trl_real)g_out[i];
    for (int i = 0; i < K; i++) grad[g->params[n->p_b].offset + i] = (trl_real)g_b[i];

    free(v);
    free(psi);
    free(psi_prev);
    free(zbar);
    free(y);
    free(dy);
    free(L);
    free(eps_in);
    free(ebar_in);
    free(eps_rec);
    free(ebar_rec);
    free(g_in);
    free(g_rec);
    free(g_out);
    free(g_b);
}

/* The same graph text with "outputs": ["lif", "out"] so that run_forward
 * returns the spikes (the parameters are the same tensors). */
static struct graph *with_spike_outputs(const char *text)
{
    const char *brace = strchr(text, '{');
    ck_assert_ptr_nonnull(brace);
    size_t len = strlen(brace) + 64;
    char *buf = malloc(len);
    ck_assert_ptr_nonnull(buf);
    snprintf(buf, len, "{\"outputs\": [\"lif\", \"out\"], %s", brace + 1);
    struct graph *g = tu_graph(buf);
    free(buf);
    ck_assert_ptr_nonnull(g);
    return g;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Runs the closed form on n, with the spikes of run_forward on g_spikes (the
 * same network with the layer among its outputs). */
static void closed_form(const struct lif_net *n, const struct graph *g_spikes, trl_real *grad,
                        double *loss, struct closed_stats *st)
{
    ck_assert_uint_eq(g_spikes->n_param_values, n->g->n_param_values);
    for (int p = 0; p < n->g->n_params; p++)
        ck_assert_str_eq(g_spikes->params[p].name, n->g->params[p].name);
    struct run_result res;
    struct trl_errors err;
    trl_errors_init(&err, n->label);
    ck_assert_int_eq(run_forward(g_spikes, n->params, n->d, &res, &err), 0);
    const trl_real *z = NULL, *y = NULL;
    for (int k = 0; k < g_spikes->n_outputs; k++) {
        if (g_spikes->outputs[k] == graph_find_node(g_spikes, "lif")) z = res.out[k];
        if (g_spikes->outputs[k] == graph_find_node(g_spikes, "out")) y = res.out[k];
    }
    ck_assert_msg(z && y, "%s: run_forward did not return lif and out", n->label);
    eprop_closed_form(n, z, y, grad, loss, st);
    ck_assert_msg(fabs(*loss - res.loss) <= TOL_LOSS * fabs(res.loss),
                  "%s: closed-form loss %.17g, run_forward's %.17g", n->label, *loss, res.loss);
    run_result_free(&res);
    /* the closed form's own forward is the runtime's */
    ck_assert_msg(st->flips == 0,
                  "%s: %ld spikes of the closed form's own v differ from run_forward's away from "
                  "the threshold",
                  n->label, st->flips);
    ck_assert_msg(st->y_err <= TOL_Y, "%s: closed-form readout differs from run_forward's by %.3g",
                  n->label, st->y_err);
    /* and it is a test: the neurons fire, psi is often nonzero */
    double rate = (double)st->spikes / (double)st->units;
    double psi_frac = (double)st->psi_nonzero / (double)st->units;
    ck_assert_msg(rate > 0.02 && rate < 0.8 && psi_frac > 0.05,
                  "%s: firing rate %.3f, psi > 0 in %.3f of the steps: not a test", n->label, rate,
                  psi_frac);
}

/* An engine's e-prop gradient against the closed form; its no_self diagonal
 * exactly 0; its loss against the closed form's. */
static void compare_engine(const struct lif_net *n, const trl_real *closed, double closed_loss,
                           enum grad_engine engine)
{
    const char *name = engine == GRAD_ENGINE_REVERSE ? "reverse" : "online";
    trl_real *grad = params_new(n->g);
    double loss = 0;
    struct trl_errors err;
    trl_errors_init(&err, n->label);
    ck_assert_int_eq(grad_compute(n->g, n->params, n->d, GRAD_EPROP, engine, grad, &loss, &err), 0);
    char label[160];
    snprintf(label, sizeof label, "%s: eprop %s vs closed form", n->label, name);
    int bad = tu_compare_grads(n->g, grad, closed, TOL_GRAD, label);
    ck_assert_msg(bad == 0, "%s: %d tensors differ", label, bad);
    ck_assert_msg(fabs(loss - closed_loss) <= TOL_LOSS * fabs(closed_loss),
                  "%s: loss %.17g, closed form %.17g", label, loss, closed_loss);
    if (n->no_self) {
        const struct graph_param *q = &n->g->params[n->p_rec];
        for (int j = 0; j < q->rows; j++)
            ck_assert_msg(grad[q->offset + (size_t)j * q->cols + j] == 0,
                          "%s: no_self diagonal [%d][%d] of %s is %g", label, j, j, q->name,
                          (double)grad[q->offset + (size_t)j * q->cols + j]);
    }
    trl_free(grad);
}

/* Every tensor of the closed form is nonzero (else a comparison proves
 * little). */
static void assert_nonzero(const struct lif_net *n, const trl_real *grad)
{
    for (int p = 0; p < n->g->n_params; p++) {
        const struct graph_param *q = &n->g->params[p];
        double s = 0;
        for (size_t i = 0; i < q->count; i++) s += fabs((double)grad[q->offset + i]);
        ck_assert_msg(s > 0, "%s: closed-form gradient of %s is 0", n->label, q->name);
    }
}

START_TEST(lif_eprop_fixture)
{
    struct lif_net n = {.label = "lif_eprop"};
    struct trl_errors err;
    trl_errors_init(&err, n.label);
    n.g = graph_load(tu_fixture("lif_eprop", "graph.json"), &err);
    ck_assert_ptr_nonnull(n.g);
    n.params = params_new(n.g);
    ck_assert_int_eq(
        params_load(n.g, tu_fixture("lif_eprop", "params.safetensors"), n.params, &err), 0);
    n.d = data_load(n.g, tu_fixture("lif_eprop", "data.safetensors"), DATA_TARGET_REQUIRED, &err);
    ck_assert_ptr_nonnull(n.d);
    lif_net_bind(&n);
    ck_assert_msg(n.delay == 1 && n.no_self && n.detach,
                  "lif_eprop: expected a delay-1 no_self recurrent edge and a detached reset");
    char *text = read_text(tu_fixture("lif_eprop", "graph.json"));
    struct graph *gs = with_spike_outputs(text);
    free(text);

    trl_real *closed = params_new(n.g);
    double loss;
    struct closed_stats st;
    closed_form(&n, gs, closed, &loss, &st);
    assert_nonzero(&n, closed);
    compare_engine(&n, closed, loss, GRAD_ENGINE_ONLINE);
    compare_engine(&n, closed, loss, GRAD_ENGINE_REVERSE);
#ifdef TRL_F64
    /* the independent reference of the fixture; its loss too */
    int bad =
        tu_compare_grad_file(n.g, closed, loss, tu_fixture("lif_eprop", "grad_eprop.safetensors"),
                             TOL_GRAD, TOL_LOSS, "lif_eprop closed form vs grad_eprop");
    ck_assert_msg(bad == 0, "lif_eprop: closed form differs from grad_eprop.safetensors (%d)", bad);
    /* e-prop is not the exact gradient here: the recurrent paths are pruned */
    struct st_file *f = st_open(tu_fixture("lif_eprop", "grad_exact.safetensors"), &err);
    ck_assert_ptr_nonnull(f);
    const struct graph_param *q = &n.g->params[n.p_rec];
    const struct st_tensor *t = st_find(f, q->name);
    ck_assert_msg(t && t->count == q->count, "grad_exact.safetensors: %s", q->name);
    trl_real *exact = trl_alloc(q->count, sizeof *exact, TRL_MEM_MISC);
    st_read_real(t, exact);
    double diff = tu_rel_err(closed + q->offset, exact, q->count);
    ck_assert_msg(diff > 0.1, "lif_eprop: e-prop's %s within %.3g of the exact gradient", q->name,
                  diff);
    trl_free(exact);
    st_close(f);
#else
    /* float32: the fixture files hold float64 results; a potential within
     * float32 rounding of the threshold may spike differently, so only the
     * engines (same forward, same spikes) are compared above. */
#endif
    trl_free(closed);
    graph_free(gs);
    lif_net_free(&n);
}
END_TEST

/* Generated layers: the recurrent delay, no_self, detach_reset and the
 * constants vary; random parameters (params_init) and data (randgraph_data:
 * spikes or Gaussian inputs, masks with zeros and weights). */
static const struct {
    int delay;
    bool no_self, detach;
    double dt, tau_m, v_th, gamma, tau, gain_in, gain_rec;
    int n_in, n_lif, n_out, B, T;
} gen_cases[] = {
    {2, true, true, 1.0, 20, 0.6, 0.3, 20, 2.0, 1.0, 20, 30, 2, 2, 100},
    {2, false, false, 0.5, 10, 0.5, 0.5, 8, 1.5, 1.5, 12, 16, 3, 3, 80},
    {3, true, true, 2.0, 30, 0.8, 0.4, 15, 2.0, 1.0, 10, 12, 2, 3, 60},
    {1, true, false, 1.0, 20, 0.6, 0.3, 20, 2.0, 1.0, 15, 20, 2, 2, 80},
};
#define N_GEN ((int)(sizeof gen_cases / sizeof gen_cases[0]))

START_TEST(lif_eprop_generated)
{
    const int i = _i;
    char text[2048], label[64];
    snprintf(label, sizeof label, "generated %d (delay %d)", i, gen_cases[i].delay);
    snprintf(text, sizeof text,
             "{\"trellis\": 1, \"dt\": %g, \"nodes\": ["
             "{\"id\": \"in\", \"op\": \"input\", \"size\": %d},"
             "{\"id\": \"lif\", \"op\": \"lif\", \"size\": %d, \"params\": {\"tau_m\": %g, "
             "\"v_th\": %g, \"gamma\": %g, \"detach_reset\": %s}, \"inputs\": ["
             "{\"from\": \"in\", \"gain\": %g}, {\"from\": \"lif\", \"delay\": %d, "
             "\"no_self\": %s, \"gain\": %g}]},"
             "{\"id\": \"out\", \"op\": \"readout\", \"size\": %d, \"params\": {\"tau\": %g}, "
             "\"inputs\": [\"lif\"]}],"
             "\"loss\": {\"node\": \"out\", \"type\": \"mse\"}}",
             gen_cases[i].dt, gen_cases[i].n_in, gen_cases[i].n_lif, gen_cases[i].tau_m,
             gen_cases[i].v_th, gen_cases[i].gamma, gen_cases[i].detach ? "true" : "false",
             gen_cases[i].gain_in, gen_cases[i].delay, gen_cases[i].no_self ? "true" : "false",
             gen_cases[i].gain_rec, gen_cases[i].n_out, gen_cases[i].tau);
    struct lif_net n = {.label = label};
    n.g = tu_graph(text);
    ck_assert_msg(n.g, "%s: graph refused:\n%s", label, text);
    n.params = params_new(n.g);
    params_init(n.g, 77 + (uint64_t)i, n.params);
    n.d = randgraph_data(n.g, 500 + (uint64_t)i, gen_cases[i].B, gen_cases[i].T);
    ck_assert_ptr_nonnull(n.d);
    lif_net_bind(&n);
    const struct graph_param *qb = &n.g->params[n.p_b];
    for (size_t k = 0; k < qb->count; k++) /* a nonzero readout bias */
        n.params[qb->offset + k] = (trl_real)(0.3 - 0.2 * (double)k);
    ck_assert_int_eq(n.delay, gen_cases[i].delay);
    ck_assert_int_eq(n.detach, gen_cases[i].detach);
    struct graph *gs = with_spike_outputs(text);

    trl_real *closed = params_new(n.g);
    double loss;
    struct closed_stats st;
    closed_form(&n, gs, closed, &loss, &st);
    assert_nonzero(&n, closed);
    compare_engine(&n, closed, loss, GRAD_ENGINE_ONLINE);
    compare_engine(&n, closed, loss, GRAD_ENGINE_REVERSE);
    trl_free(closed);
    graph_free(gs);
    lif_net_free(&n);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bellec");
    TCase *tc = tcase_create("eprop closed form");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, lif_eprop_fixture);
    tcase_add_loop_test(tc, lif_eprop_generated, 0, N_GEN);
    suite_add_tcase(s, tc);
    int failed = tu_run_suite(s, true);
    return failed ? 1 : 0;
}
