/* test_compare.c - the study tools: study/compare.h, `trellis compare`,
 * `trellis sweep`, `trellis dot`, tools/plot.py and the example models.
 *
 *   metrics: cosine, relative error, norm ratio and sign agreement (zeros
 *   included) of known vectors; NaN and Inf where undefined; sums merge as
 *   concatenation;
 *   depth and delayed_only: hand-made graphs, the fixtures, and random graphs
 *   against a Bellman-Ford relaxation;
 *   compare_new: rtrl equals bptt on random graphs, eprop equals bptt on
 *   graphs without delayed edges (cosine 1, relative error 0 to rounding);
 *   eprop is exactly 0 on delayed_only tensors; node and depth groups equal
 *   the metrics of their tensors concatenated, recomputed here;
 *   the CLI: compare's tables and --json, usage errors, dot's structure (and
 *   `dot -Tsvg` when graphviz is installed), sweep's CSV on a tiny
 *   configuration, and --plot's PNG and SVG when python3 with matplotlib is
 *   available (skipped with a note otherwise);
 *   models/skip_stack, two_paths, feedback: valid, run, every gradient.
 */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "study/compare.h"
#include "engines/grad.h"
#include "tests/support/cli_run.h"
#include "tests/support/randgraph.h"
#include "tests/support/st_build.h"
#include "tests/support/testutil.h"

#ifdef TRL_F64
#define TOL 1e-9
#else
#define TOL 2e-3
#endif

static bool near(double a, double b, double tol)
{
    return fabs(a - b) <= tol * fmax(1.0, fabs(b));
}

/* ---- metrics ---- */

START_TEST(metrics_known_vectors)
{
    const trl_real g[] = {1, 2, 2}, e[] = {2, 1, 2};
    struct cmp_metrics m = cmp_metrics_vec(g, e, 3);
    ck_assert(near(m.cosine, 8.0 / 9.0, 1e-7));
    ck_assert(near(m.rel_err, sqrt(2.0) / 3.0, 1e-7));
    ck_assert(near(m.norm_ratio, 1.0, 1e-7));
    ck_assert(near(m.norm, 3, 1e-7) && near(m.norm_exact, 3, 1e-7));
    ck_assert(near(m.sign_agree, 1.0, 0));
    ck_assert_uint_eq(m.n, 3);

    const trl_real a[] = {3, 4}, b[] = {-6, -8}; /* opposite, twice as long */
    m = cmp_metrics_vec(a, b, 2);
    ck_assert(near(m.cosine, -1, 1e-7));
    ck_assert(near(m.rel_err, 1.5, 1e-7)); /* |(9, 12)| / |(6, 8)| = 15 / 10 */
    ck_assert(near(m.norm_ratio, 0.5, 1e-7));
    ck_assert(near(m.sign_agree, 0, 0));
}
END_TEST

START_TEST(metrics_sign_agreement_with_zeros)
{
    /* (+,+) agrees, (0,0) agrees, (-,+) no, (0,-) no, (+,0) no: 2 of 5 */
    const trl_real g[] = {1, 0, -2, 0, 3}, e[] = {2, 0, 1, -1, 0};
    struct cmp_metrics m = cmp_metrics_vec(g, e, 5);
    ck_assert(near(m.sign_agree, 0.4, 1e-12));
    ck_assert_int_eq(cmp_sign(0.0), 0);
    ck_assert_int_eq(cmp_sign(-1e-300), -1);
    ck_assert_int_eq(cmp_sign(2.5), 1);
}
END_TEST

START_TEST(metrics_undefined_values)
{
    const trl_real zero[] = {0, 0}, x[] = {1, -1};
    struct cmp_metrics m = cmp_metrics_vec(zero, x, 2); /* g = 0 */
    ck_assert(isnan(m.cosine));
    ck_assert(near(m.rel_err, 1, 1e-12));
    ck_assert(m.norm_ratio == 0);
    m = cmp_metrics_vec(zero, zero, 2); /* both 0: 0/0 */
    ck_assert(isnan(m.cosine) && isnan(m.rel_err) && isnan(m.norm_ratio));
    ck_assert(m.sign_agree == 1);
    m = cmp_metrics_vec(x, zero, 2); /* e = 0, g not */
    ck_assert(isnan(m.cosine));
    ck_assert(isinf(m.rel_err) && m.rel_err > 0 && isinf(m.norm_ratio));
    m = cmp_metrics_vec(x, x, 0); /* no entries */
    ck_assert(isnan(m.sign_agree) && isnan(m.cosine));
    ck_assert(isnan(cmp_ratio(0, 0)) && isinf(cmp_ratio(1, 0)) && cmp_ratio(1, 4) == 0.25);
}
END_TEST

START_TEST(metrics_merge_is_concatenation)
{
    const trl_real g[] = {0.5, -1, 2, 0, 3, -0.25}, e[] = {1, -1, 1.5, 0.5, -2, -0.5};
    struct cmp_sums s1 = {0}, s2 = {0};
    cmp_sums_add(&s1, g, e, 2);
    cmp_sums_add(&s2, g + 2, e + 2, 4);
    cmp_sums_merge(&s1, &s2);
    struct cmp_metrics a = cmp_metrics_of(&s1), b = cmp_metrics_vec(g, e, 6);
    ck_assert(near(a.cosine, b.cosine, 1e-12) && near(a.rel_err, b.rel_err, 1e-12));
    ck_assert(near(a.norm_ratio, b.norm_ratio, 1e-12) && a.sign_agree == b.sign_agree);
    /* independently: <g,e> = 0.5+1+3+0-6+0.125 = -1.375 */
    double gg = 0.25 + 1 + 4 + 0 + 9 + 0.0625, ee = 1 + 1 + 2.25 + 0.25 + 4 + 0.25;
    ck_assert(near(a.cosine, -1.375 / sqrt(gg * ee), 1e-7));
    ck_assert(near(a.sign_agree, 4.0 / 6.0, 1e-12)); /* entries 0, 1, 2, 5 agree */
}
END_TEST

/* ---- structure ---- */

/* in -> a -> out; b reaches out only through a delayed edge into a; c has no
 * consumer; d feeds out only with delay 2; p feeds out with delay 1 and
 * through q with delay 0. */
static const char *const hand_graph =
    "{\"trellis\": 1, \"name\": \"hand\", \"nodes\": ["
    "{\"id\": \"in\", \"op\": \"input\", \"size\": 3},"
    "{\"id\": \"b\", \"op\": \"leaky\", \"size\": 4, \"inputs\": [{\"from\": \"in\", \"gain\": "
    "2}]},"
    "{\"id\": \"a\", \"op\": \"leaky\", \"size\": 4, \"inputs\": [{\"from\": \"in\", \"gain\": 2}, "
    "{\"from\": \"b\", \"delay\": 1, \"gain\": 2}]},"
    "{\"id\": \"c\", \"op\": \"dense\", \"size\": 2, \"inputs\": [\"in\"]},"
    "{\"id\": \"d\", \"op\": \"leaky\", \"size\": 3, \"inputs\": [{\"from\": \"in\", \"gain\": "
    "2}]},"
    "{\"id\": \"p\", \"op\": \"leaky\", \"size\": 3, \"inputs\": [{\"from\": \"in\", \"gain\": "
    "2}]},"
    "{\"id\": \"q\", \"op\": \"leaky\", \"size\": 3, \"inputs\": [{\"from\": \"p\", \"gain\": 2}]},"
    "{\"id\": \"out\", \"op\": \"readout\", \"size\": 2, \"inputs\": [\"a\", \"q\", "
    "{\"from\": \"d\", \"delay\": 2}, {\"from\": \"p\", \"delay\": 1}]}],"
    "\"loss\": {\"node\": \"out\", \"type\": \"mse\"}}";

static void expect_depths(const struct graph *g, const char *const *ids, const int *want_depth,
                          const bool *want_late, int n)
{
    int *depth = calloc((size_t)g->n_nodes, sizeof *depth);
    bool *late = calloc((size_t)g->n_nodes, sizeof *late);
    ck_assert_int_eq(compare_depths(g, depth, late), 0);
    for (int k = 0; k < n; k++) {
        int i = graph_find_node(g, ids[k]);
        ck_assert_msg(i >= 0, "%s", ids[k]);
        ck_assert_msg(depth[i] == want_depth[k], "%s: depth %d, expected %d", ids[k], depth[i],
                      want_depth[k]);
        ck_assert_msg(late[i] == want_late[k], "%s: delayed_only %d", ids[k], late[i]);
    }
    free(depth);
    free(late);
}

START_TEST(depth_hand_graph)
{
    struct graph *g = tu_graph(hand_graph);
    ck_assert_ptr_nonnull(g);
    const char *ids[] = {"out", "a", "q", "p", "b", "c", "d", "in"};
    const int depth[] = {0, 1, 1, 0, 1, -1, 0, 1};
    const bool late[] = {false, false, false, false, true, true, true, false};
    expect_depths(g, ids, depth, late, 8);
    graph_free(g);
    /* no loss: no depth */
    g = tu_graph("{\"trellis\": 1, \"nodes\": [{\"id\": \"x\", \"op\": \"input\", \"size\": 1},"
                 "{\"id\": \"y\", \"op\": \"dense\", \"size\": 1, \"inputs\": [\"x\"]}]}");
    int d[2];
    bool l[2];
    ck_assert_int_eq(compare_depths(g, d, l), -1);
    graph_free(g);
}
END_TEST

static struct graph *fixture_graph(const char *name)
{
    struct trl_errors err;
    struct graph *g = graph_load(tu_fixture(name, "graph.json"), &err);
    if (!g) trl_errors_print(&err, stderr);
    ck_assert_ptr_nonnull(g);
    return g;
}

START_TEST(depth_fixtures)
{
    struct graph *g = fixture_graph("dag_skip");
    const char *ids[] = {"out", "mix", "slow", "fast", "sensor", "pre", "spikes"};
    const int depth[] = {0, 1, 1, 1, 1, 2, 2};
    const bool late[7] = {false};
    expect_depths(g, ids, depth, late, 7);
    graph_free(g);
    g = fixture_graph("deep_leaky3");
    const char *ids3[] = {"y", "h3", "h2", "h1", "x"};
    const int depth3[] = {0, 1, 2, 3, 4};
    expect_depths(g, ids3, depth3, late, 5);
    graph_free(g);
    g = fixture_graph("alif_adaptation");
    const char *ids4[] = {"out", "lif", "alif", "in"};
    const int depth4[] = {0, 1, 1, 2};
    expect_depths(g, ids4, depth4, late, 4);
    graph_free(g);
}
END_TEST

/* Bellman-Ford over every edge (delay-0 costs 1, delayed 0) and a fixed point
 * of delay-0 reachability: the definitions, without the 0-1 search. */
static void brute_depths(const struct graph *g, int *depth, bool *late)
{
    const int inf = 1 << 29;
    bool *reach = calloc((size_t)g->n_nodes, sizeof *reach);
    for (int i = 0; i < g->n_nodes; i++) depth[i] = inf;
    depth[g->loss_node] = 0;
    reach[g->loss_node] = true;
    for (int round = 0; round <= g->n_nodes; round++)
        for (int k = 0; k < g->n_edges; k++) {
            const struct graph_edge *e = &g->edges[k];
            int w = e->delay == 0;
            if (depth[e->dst] < inf && depth[e->dst] + w < depth[e->src])
                depth[e->src] = depth[e->dst] + w;
            if (w && reach[e->dst]) reach[e->src] = true;
        }
    for (int i = 0; i < g->n_nodes; i++) {
        if (depth[i] == inf) depth[i] = -1;
        late[i] = !reach[i];
    }
    free(reach);
}

START_TEST(depth_random_graphs_match_brute_force)
{
    struct randgraph_opts o = {.max_hidden = 8};
    for (uint64_t seed = 1; seed <= 60; seed++) {
        char *json = randgraph_json(seed * 977, &o);
        struct graph *g = tu_graph(json);
        ck_assert_ptr_nonnull(g);
        int n = g->n_nodes, *d1 = calloc((size_t)n, sizeof(int)),
            *d2 = calloc((size_t)n, sizeof(int));
        bool *l1 = calloc((size_t)n, sizeof(bool)), *l2 = calloc((size_t)n, sizeof(bool));
        ck_assert_int_eq(compare_depths(g, d1, l1), 0);
        brute_depths(g, d2, l2);
        for (int i = 0; i < n; i++)
            ck_assert_msg(d1[i] == d2[i] && l1[i] == l2[i], "seed %llu node %s: %d/%d vs %d/%d\n%s",
                          (unsigned long long)seed, g->nodes[i].id, d1[i], l1[i], d2[i], l2[i],
                          json);
        free(d1);
        free(d2);
        free(l1);
        free(l2);
        graph_free(g);
        free(json);
    }
}
END_TEST

/* ---- compare_new ---- */

static struct compare_report *compare_random(uint64_t seed, const struct randgraph_opts *o,
                                             const struct compare_algo *algos, int n,
                                             struct graph **gp)
{
    char *json = randgraph_json(seed, o);
    struct graph *g = tu_graph(json);
    ck_assert_ptr_nonnull(g);
    trl_real *params = params_new(g);
    params_init(g, seed, params);
    struct data *d = randgraph_data(g, seed, 2, 10);
    struct trl_errors err;
    trl_errors_init(&err, "random");
    struct compare_report *r = compare_new(g, params, d, algos, n, &err);
    if (!r) trl_errors_print(&err, stderr);
    ck_assert_ptr_nonnull(r);
    trl_free(params);
    data_free(d);
    free(json);
    *gp = g;
    return r;
}

/* Every tensor of algorithm a is the exact gradient to rounding. */
static void expect_exact(const struct compare_report *r, int a, const char *what)
{
    for (int k = 0; k < r->n_tensors; k++) {
        const struct cmp_metrics *m = &r->tensors[k].m[a];
        if (m->norm_exact <= 1e-12 && m->norm <= 1e-12) continue; /* both zero */
        ck_assert_msg(m->rel_err <= TOL && m->cosine >= 1 - TOL && near(m->norm_ratio, 1, TOL),
                      "%s: %s: cosine %.17g, rel_err %g, norm_ratio %.17g", what,
                      r->tensors[k].name, m->cosine, m->rel_err, m->norm_ratio);
    }
}

START_TEST(rtrl_equals_bptt)
{
    struct randgraph_opts o = {.max_hidden = 4};
    const struct compare_algo algos[] = {{.algo = GRAD_RTRL, .engine = GRAD_ENGINE_DEFAULT}};
    for (uint64_t seed = 1; seed <= 12; seed++) {
        struct graph *g;
        struct compare_report *r = compare_random(seed * 389, &o, algos, 1, &g);
        expect_exact(r, 0, "rtrl");
        ck_assert(r->total.m[0].rel_err <= TOL || r->total.m[0].norm_exact == 0);
        ck_assert(near(r->cost[0].loss, r->exact.loss, 1e-6));
        compare_free(r);
        graph_free(g);
    }
}
END_TEST

START_TEST(eprop_equals_bptt_without_delays)
{
    struct randgraph_opts o = {.max_hidden = 5, .no_delays = true};
    const struct compare_algo algos[] = {{.algo = GRAD_EPROP, .engine = GRAD_ENGINE_ONLINE},
                                         {.algo = GRAD_EPROP, .engine = GRAD_ENGINE_REVERSE}};
    for (uint64_t seed = 1; seed <= 12; seed++) {
        struct graph *g;
        struct compare_report *r = compare_random(seed * 131, &o, algos, 2, &g);
        expect_exact(r, 0, "eprop online");
        expect_exact(r, 1, "eprop reverse");
        for (int k = 0; k < r->n_tensors; k++) /* only a node cut off from the loss */
            ck_assert(!r->tensors[k].delayed_only || r->tensors[k].depth == -1);
        compare_free(r);
        graph_free(g);
    }
}
END_TEST

/* The gradient of one algorithm, computed here. */
static trl_real *grad_of(const struct graph *g, const trl_real *params, const struct data *d,
                         enum grad_algo algo)
{
    trl_real *grad = params_new(g);
    double loss;
    struct trl_errors err;
    trl_errors_init(&err, "grad");
    ck_assert_int_eq(grad_compute(g, params, d, algo, GRAD_ENGINE_DEFAULT, grad, &loss, &err), 0);
    return grad;
}

/* Cosine of the tensors of g selected by keep, concatenated, in double. */
static double concat_cosine(const struct graph *g, const trl_real *x, const trl_real *y,
                            bool (*keep)(const struct graph *, int, int), int arg)
{
    double xy = 0, xx = 0, yy = 0;
    for (int p = 0; p < g->n_params; p++) {
        const struct graph_param *q = &g->params[p];
        if (!q->trainable || !keep(g, p, arg)) continue;
        for (size_t k = q->offset; k < q->offset + q->count; k++) {
            xy += (double)x[k] * y[k];
            xx += (double)x[k] * x[k];
            yy += (double)y[k] * y[k];
        }
    }
    return xy / sqrt(xx * yy);
}

static bool of_node(const struct graph *g, int p, int node)
{
    return g->params[p].node == node;
}

static int *node_depths;

static bool of_depth(const struct graph *g, int p, int depth)
{
    return node_depths[g->params[p].node] == depth;
}

START_TEST(groups_are_concatenations)
{
    struct graph *g = fixture_graph("dag_skip");
    struct trl_errors err;
    trl_real *params = params_new(g);
    ck_assert_int_eq(params_load(g, tu_fixture("dag_skip", "params.safetensors"), params, &err), 0);
    struct data *d =
        data_load(g, tu_fixture("dag_skip", "data.safetensors"), DATA_TARGET_REQUIRED, &err);
    ck_assert_ptr_nonnull(d);
    const struct compare_algo algos[] = {{.algo = GRAD_EPROP, .engine = GRAD_ENGINE_DEFAULT}};
    struct compare_report *r = compare_new(g, params, d, algos, 1, &err);
    ck_assert_ptr_nonnull(r);
    trl_real *exact = grad_of(g, params, d, GRAD_BPTT), *ep = grad_of(g, params, d, GRAD_EPROP);
    for (int k = 0; k < r->n_nodes; k++) {
        double want = concat_cosine(g, ep, exact, of_node, r->nodes[k].node);
        ck_assert_msg(near(r->nodes[k].m[0].cosine, want, 1e-6), "node %s: %g vs %g",
                      r->nodes[k].name, r->nodes[k].m[0].cosine, want);
    }
    node_depths = calloc((size_t)g->n_nodes, sizeof(int));
    bool *late = calloc((size_t)g->n_nodes, sizeof(bool));
    compare_depths(g, node_depths, late);
    ck_assert_int_eq(r->n_depths, 3); /* 0, 1, 2 */
    for (int k = 0; k < r->n_depths; k++) {
        ck_assert_int_eq(r->depths[k].depth, k);
        double want = concat_cosine(g, ep, exact, of_depth, k);
        ck_assert_msg(near(r->depths[k].m[0].cosine, want, 1e-6), "depth %d", k);
    }
    ck_assert_int_eq(r->total.n_tensors, 17); /* 18 tensors, one frozen */
    ck_assert_int_eq(r->n_tensors, 17);
    ck_assert_uint_eq(r->total.count, 271);
    ck_assert_int_eq(r->total.depth, 2);
    /* the readout's own tensors are exact; below it e-prop differs */
    ck_assert(r->depths[0].m[0].rel_err <= TOL);
    ck_assert(r->depths[1].m[0].cosine < 0.99 && r->depths[1].m[0].rel_err > 0.1);
    free(node_depths);
    free(late);
    trl_free(exact);
    trl_free(ep);
    compare_free(r);
    trl_free(params);
    data_free(d);
    graph_free(g);
}
END_TEST

START_TEST(eprop_zero_on_delayed_only_and_costs)
{
    struct graph *g = tu_graph(hand_graph);
    trl_real *params = params_new(g);
    params_init(g, 3, params);
    struct data *d = randgraph_data(g, 3, 2, 12);
    struct trl_errors err;
    trl_errors_init(&err, "hand");
    const struct compare_algo algos[] = {{.algo = GRAD_EPROP, .engine = GRAD_ENGINE_ONLINE},
                                         {.algo = GRAD_RTRL, .engine = GRAD_ENGINE_DEFAULT}};
    struct compare_report *r = compare_new(g, params, d, algos, 2, &err);
    ck_assert_ptr_nonnull(r);
    int late = 0;
    for (int k = 0; k < r->n_tensors; k++) {
        const struct compare_item *it = &r->tensors[k];
        if (!it->delayed_only) continue;
        late++;
        ck_assert_msg(it->m[0].norm == 0, "%s: eprop norm %g", it->name, it->m[0].norm);
        if (it->depth >= 0) ck_assert_msg(it->m[0].norm_exact > 0, "%s", it->name);
    }
    ck_assert_int_eq(late, 6); /* b, c, d: weights and bias each */
    /* depth groups: 0, 1, then the unreachable c */
    ck_assert_int_eq(r->n_depths, 3);
    ck_assert_int_eq(r->depths[0].depth, 0);
    ck_assert_int_eq(r->depths[1].depth, 1);
    ck_assert_int_eq(r->depths[2].depth, -1);
    ck_assert(r->depths[2].delayed_only && !r->depths[1].delayed_only);
    ck_assert(isnan(r->depths[2].m[0].cosine)); /* exact gradient 0 there */
    /* costs: bptt stores history, the online algorithms carry traces */
    ck_assert(r->exact.history_bytes > 0 && r->exact.trace_bytes == 0);
    for (int a = 0; a < 2; a++) {
        ck_assert(r->cost[a].trace_bytes > 0 && r->cost[a].history_bytes == 0);
        ck_assert(r->cost[a].seconds >= 0);
    }
    int in = graph_find_node(g, "in"); /* mean_z of the input: the mean of the data */
    double sum = 0;
    for (size_t k = 0; k < (size_t)d->B * d->T * 3; k++) sum += d->x[in][k];
    ck_assert(near(r->mean_z[in], sum / (d->B * d->T * 3), 1e-9));
    compare_free(r);
    trl_free(params);
    data_free(d);
    graph_free(g);
}
END_TEST

/* ---- the command line ---- */

static void write_case(const char *json, const char *graph, const char *params, const char *data)
{
    ck_assert_int_eq(stb_write_file(graph, json, strlen(json)), 0);
    struct graph *g = tu_graph(json);
    trl_real *p = params_new(g);
    params_init(g, 5, p);
    struct data *d = randgraph_data(g, 5, 2, 12);
    struct trl_errors err;
    ck_assert_int_eq(params_save(g, p, PARAMS_ALL, NULL, params, &err), 0);
    ck_assert_int_eq(data_save(g, d, data, &err), 0);
    trl_free(p);
    data_free(d);
    graph_free(g);
}

static struct cli_result run_ok(const char *const *argv)
{
    struct cli_result r = cli_run(NULL, argv);
    ck_assert_msg(r.status == 0, "%s: exit %d\n%s", argv[0], r.status, r.err);
    return r;
}

START_TEST(cli_compare_table)
{
    write_case(hand_graph, tu_tmp("hand.json"), tu_tmp("hand.p.st"), tu_tmp("hand.d.st"));
    struct cli_result r = run_ok(
        (const char *const[]){"compare", tu_tmp("hand.json"), "--params", tu_tmp("hand.p.st"),
                              "--data", tu_tmp("hand.d.st"), "--algos", "eprop,rtrl", NULL});
    const char *want[] = {"per tensor",   "per node",   "per depth", "time and memory",
                          "a.w.b.d1",     "out.w.p.d1", "c.w.in",    "none",
                          "all",          "cosine",     "rel_err",   "norm_ratio",
                          "sign_agree",   "eprop",      "rtrl",      "bptt",
                          "delayed_only", "undefined"};
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++)
        ck_assert_msg(strstr(r.out, want[k]), "\"%s\" not in\n%s", want[k], r.out);
    ck_assert_msg(strstr(r.out, "1*"), "delayed_only marker missing\n%s", r.out);
    cli_result_free(&r);
}
END_TEST

static json_t *find_by(json_t *array, const char *key, const char *value)
{
    size_t i;
    json_t *o;
    json_array_foreach(array, i, o)
    {
        if (strcmp(json_string_value(json_object_get(o, key)), value) == 0) return o;
    }
    ck_abort_msg("%s %s not found", key, value);
    return NULL;
}

START_TEST(cli_compare_json)
{
    write_case(hand_graph, tu_tmp("hand.json"), tu_tmp("hand.p.st"), tu_tmp("hand.d.st"));
    struct cli_result r = run_ok((const char *const[]){
        "compare", tu_tmp("hand.json"), "--params", tu_tmp("hand.p.st"), "--data",
        tu_tmp("hand.d.st"), "--engine", "reverse", "--json", NULL});
    json_error_t e;
    json_t *j = json_loads(r.out, 0, &e);
    ck_assert_msg(j, "not JSON: %s\n%s", e.text, r.out);
    json_t *tensors = json_object_get(j, "tensors");
    ck_assert_int_eq(json_array_size(tensors), 18);
    json_t *b = find_by(tensors, "name", "b.w.in");
    ck_assert_int_eq(json_integer_value(json_object_get(b, "depth")), 1);
    ck_assert(json_is_true(json_object_get(b, "delayed_only")));
    json_t *m = json_object_get(json_object_get(b, "algos"), "eprop reverse");
    ck_assert(json_is_null(json_object_get(m, "cosine"))); /* eprop gives 0: 0/0 */
    ck_assert(near(json_real_value(json_object_get(m, "rel_err")), 1, 1e-12));
    ck_assert(json_real_value(json_object_get(m, "norm_ratio")) == 0);
    ck_assert(json_is_null(json_object_get(find_by(tensors, "name", "c.w.in"), "depth")));
    json_t *a = find_by(json_object_get(j, "nodes"), "id", "a");
    ck_assert_int_eq(json_integer_value(json_object_get(a, "depth")), 1);
    ck_assert(json_is_number(json_object_get(a, "mean_z")));
    ck_assert_int_eq(json_array_size(json_object_get(j, "depths")), 3);
    ck_assert(json_is_object(json_object_get(j, "total")));
    json_t *cost = json_object_get(j, "cost");
    ck_assert_int_eq(json_array_size(cost), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(cost, 0), "algo")), "bptt");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(cost, 1), "engine")),
                     "reverse");
    ck_assert(json_integer_value(json_object_get(json_array_get(cost, 0), "history_bytes")) > 0);
    json_decref(j);
    cli_result_free(&r);
}
END_TEST

static void expect_status(int status, const char *const *argv, const char *needle)
{
    struct cli_result r = cli_run(NULL, argv);
    ck_assert_msg(r.status == status, "%s: exit %d, expected %d\n%s", argv[0], r.status, status,
                  r.err);
    if (needle)
        ck_assert_msg(strstr(r.err, needle) || strstr(r.out, needle), "\"%s\" not in\n%s%s", needle,
                      r.out, r.err);
    cli_result_free(&r);
}

START_TEST(cli_errors_and_help)
{
    write_case(hand_graph, tu_tmp("hand.json"), tu_tmp("hand.p.st"), tu_tmp("hand.d.st"));
    const char *g = tu_tmp("hand.json"), *p = tu_tmp("hand.p.st"), *d = tu_tmp("hand.d.st");
    expect_status(2, (const char *const[]){"compare", g, "--data", d, NULL}, "--params");
    expect_status(
        2, (const char *const[]){"compare", g, "--params", p, "--data", d, "--algos", "sgd", NULL},
        "bptt, rtrl and eprop");
    expect_status(2,
                  (const char *const[]){"compare", g, "--params", p, "--data", d, "--algos",
                                        "eprop,eprop", NULL},
                  "at most once");
    expect_status(2,
                  (const char *const[]){"compare", g, "--params", p, "--data", d, "--algos", "rtrl",
                                        "--engine", "reverse", NULL},
                  "eprop only");
    expect_status(
        1, (const char *const[]){"compare", tu_tmp("nope.json"), "--params", p, "--data", d, NULL},
        "nope.json");
    expect_status(1, (const char *const[]){"compare", g, "--params", d, "--data", d, NULL}, d);
    expect_status(2, (const char *const[]){"sweep", "-o", tu_tmp("x.csv"), NULL}, "--kind");
    expect_status(2, (const char *const[]){"sweep", "--kind", "gru", "-o", tu_tmp("x.csv"), NULL},
                  "leaky, lif or alif");
    expect_status(2,
                  (const char *const[]){"sweep", "--kind", "lif", "--depth", "0", "-o",
                                        tu_tmp("x.csv"), NULL},
                  "--depth");
    expect_status(2, (const char *const[]){"sweep", "--kind", "lif", NULL}, "-o");
    expect_status(2, (const char *const[]){"dot", NULL}, "GRAPH");
    expect_status(1, (const char *const[]){"dot", tu_tmp("nope.json"), NULL}, "nope.json");
    static const char *const cmds[] = {"compare", "sweep", "dot"};
    for (int k = 0; k < 3; k++)
        expect_status(0, (const char *const[]){cmds[k], "--help", NULL}, "example:");
    expect_status(0, (const char *const[]){"--help", NULL}, "sweep");
}
END_TEST

/* Does the n bytes of b hold needle? */
static bool holds(const char *b, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; b && i + m <= n; i++)
        if (memcmp(b + i, needle, m) == 0) return true;
    return false;
}

static int count(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

START_TEST(cli_dot)
{
    struct graph *g = fixture_graph("dag_skip");
    struct cli_result r =
        run_ok((const char *const[]){"dot", tu_fixture("dag_skip", "graph.json"), NULL});
    ck_assert(strncmp(r.out, "digraph ", 8) == 0);
    for (int i = 0; i < g->n_nodes; i++) {
        char want[128];
        snprintf(want, sizeof want, "\"%s\" [label=\"%s\\n%s", g->nodes[i].id, g->nodes[i].id,
                 g->nodes[i].op->name);
        ck_assert_msg(strstr(r.out, want), "%s not in\n%s", want, r.out);
    }
    ck_assert_int_eq(count(r.out, " -> "), g->n_edges);
    int delayed = 0;
    for (int k = 0; k < g->n_edges; k++) delayed += g->edges[k].delay > 0;
    ck_assert_int_eq(count(r.out, "style=dashed"), delayed);
    ck_assert(strstr(r.out, "\"mix\" -> \"pre\" [label=\"d=2\", style=dashed, constraint=false]"));
    ck_assert(strstr(r.out, "label=\"d=1, no_self\""));
    ck_assert(strstr(r.out, "\"sensor\" -> \"out\" [label=\"frozen\", style") == NULL);
    ck_assert(strstr(r.out, "\"sensor\" -> \"out\" [label=\"frozen\", color=gray55"));
    ck_assert_int_eq(count(r.out, "peripheries=2"), 1);
    ck_assert_int_eq(count(r.out, "shape=house"), 2);
    ck_assert(strstr(r.out, "tau_m=8 v_th=0.5 gamma=0.5 detach_reset=false"));
    ck_assert(r.out[strlen(r.out) - 2] == '}');
    if (system("command -v dot >/dev/null 2>&1") == 0) {
        ck_assert_int_eq(stb_write_file(tu_tmp("g.dot"), r.out, strlen(r.out)), 0);
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "dot -Tsvg %s -o %s", tu_tmp("g.dot"), tu_tmp("g.svg"));
        ck_assert_int_eq(system(cmd), 0);
        size_t n;
        char *svg = (char *)stb_read_file(tu_tmp("g.svg"), &n);
        ck_assert(holds(svg, n, "<svg") && holds(svg, n, "slow"));
        free(svg);
    } else {
        printf("test_compare: graphviz (dot) not installed: `dot -Tsvg` not checked\n");
    }
    cli_result_free(&r);
    graph_free(g);
}
END_TEST

static const char *const sweep_header =
    "kind,skip,stack_depth,width,seed,algo,scope,node,layer,depth,delayed_only,values,cosine,"
    "rel_err,norm_ratio,sign_agree,norm,norm_exact,mean_z,loss,seconds,seconds_bptt,trace_bytes,"
    "history_bytes";

/* The lines of a file (malloc'd copy in *text). */
static int read_lines(const char *path, char **text, char **lines, int max)
{
    size_t n;
    unsigned char *b = stb_read_file(path, &n);
    ck_assert_msg(b, "%s not written", path);
    *text = realloc(b, n + 1);
    (*text)[n] = 0;
    int k = 0;
    for (char *s = strtok(*text, "\n"); s && k < max; s = strtok(NULL, "\n")) lines[k++] = s;
    return k;
}

/* Field i (0-based) of a CSV line into buf. */
static const char *field(const char *line, int i, char *buf, size_t cap)
{
    for (; i > 0 && line; i--) line = strchr(line, ',') ? strchr(line, ',') + 1 : NULL;
    ck_assert_ptr_nonnull(line);
    size_t len = strcspn(line, ",");
    snprintf(buf, cap, "%.*s", (int)(len < cap ? len : cap - 1), line);
    return buf;
}

START_TEST(cli_sweep_tiny)
{
    const char *out = tu_tmp("sweep.csv");
    struct cli_result r =
        run_ok((const char *const[]){"sweep", "--kind", "lif", "--depth", "2", "--width", "4",
                                     "--seeds", "1", "--T", "10", "-o", out, NULL});
    ck_assert_msg(strstr(r.err, "depth 1/2") && strstr(r.err, "depth 2/2"), "%s", r.err);
    cli_result_free(&r);
    char *text, *lines[64], buf[64];
    int n = read_lines(out, &text, lines, 64);
    ck_assert_str_eq(lines[0], sweep_header);
    ck_assert_int_eq(n, 1 + 3 + 4); /* d=1: h1, out, all; d=2: h1, h2, out, all */
    for (int k = 1; k < n; k++) ck_assert_int_eq(count(lines[k], ","), 23);
    ck_assert_str_eq(field(lines[4], 7, buf, sizeof buf), "h1"); /* d=2, h1 */
    ck_assert_str_eq(field(lines[4], 9, buf, sizeof buf), "2");  /* its depth */
    ck_assert_str_eq(field(lines[7], 6, buf, sizeof buf), "network");
    free(text);
    /* the CSV gets the mode of every other output: 0666 less the umask */
    mode_t mask = umask(022);
    const char *out2 = tu_tmp("sweep-mode.csv");
    r = run_ok((const char *const[]){"sweep", "--kind", "lif", "--depth", "1", "--width", "4",
                                     "--seeds", "1", "--T", "5", "-o", out2, NULL});
    cli_result_free(&r);
    umask(mask);
    struct stat st;
    ck_assert_int_eq(stat(out2, &st), 0);
    ck_assert_msg((st.st_mode & 0777) == 0644, "sweep wrote mode %o", st.st_mode & 0777);

    r = run_ok((const char *const[]){"sweep", "--kind", "leaky", "--depth", "2", "--width", "4",
                                     "--seeds", "2", "--T", "10", "--batch", "2", "--skip",
                                     "--algos", "eprop,rtrl", "-o", out, NULL});
    cli_result_free(&r);
    n = read_lines(out, &text, lines, 64);
    ck_assert_int_eq(n, 1 + 2 * 2 * (3 + 4));
    for (int k = 1; k < n; k++) {
        bool layer = strcmp(field(lines[k], 6, buf, sizeof buf), "layer") == 0;
        if (layer) ck_assert_str_eq(field(lines[k], 9, buf, sizeof buf), "1"); /* skip edges */
        if (strcmp(field(lines[k], 5, buf, sizeof buf), "rtrl") == 0)
            ck_assert(near(atof(field(lines[k], 12, buf, sizeof buf)), 1, TOL));
    }
    free(text);
}
END_TEST

/* python3 with matplotlib, as sweep looks for it. */
static bool have_matplotlib(void)
{
    const char *env = getenv("TRELLIS_PYTHON");
    const char *cands[] = {env && *env ? env : "python3", "python3", "/usr/bin/python3"};
    for (int k = 0; k < 3; k++) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "%s -c 'import matplotlib' >/dev/null 2>&1", cands[k]);
        if (system(cmd) == 0) return true;
    }
    return false;
}

START_TEST(cli_sweep_plot)
{
    const char *out = tu_tmp("plot.csv");
    /* a missing plot.py fails before the sweep runs, leaving no CSV */
    setenv("TRELLIS_TOOLS", tu_tmp_dir(), 1);
    expect_status(1,
                  (const char *const[]){"sweep", "--kind", "leaky", "--depth", "1", "-o", out,
                                        "--plot", tu_tmp("fig"), NULL},
                  "plot.py");
    unsetenv("TRELLIS_TOOLS");
    ck_assert(access(out, F_OK) != 0);
    if (!have_matplotlib()) {
        printf("test_compare: python3 with matplotlib not found: sweep --plot not checked\n");
        return;
    }
    struct cli_result r = run_ok((const char *const[]){"sweep", "--kind", "alif", "--depth", "2",
                                                       "--width", "4", "--seeds", "2", "--T", "10",
                                                       "-o", out, "--plot", tu_tmp("fig"), NULL});
    cli_result_free(&r);
    size_t n;
    unsigned char *png = stb_read_file(tu_tmp("fig.png"), &n);
    ck_assert_msg(png && n > 1000, "no PNG");
    ck_assert(memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0);
    free(png);
    char *svg = (char *)stb_read_file(tu_tmp("fig.svg"), &n);
    ck_assert(holds(svg, n, "<svg"));
    free(svg);
}
END_TEST

/* ---- the example models ---- */

START_TEST(models_compute_every_gradient)
{
    static const char *const names[] = {"skip_stack", "two_paths", "feedback"};
    char path[64];
    snprintf(path, sizeof path, "models/%s.json", names[_i]);
    struct trl_errors err;
    struct graph *g = graph_load(path, &err);
    if (!g) trl_errors_print(&err, stderr);
    ck_assert_ptr_nonnull(g);
    ck_assert_msg(strncmp(g->name, names[_i], strlen(names[_i])) == 0, "%s: name", path);
    trl_real *params = params_new(g), *grads[4];
    params_init(g, 2, params);
    struct data *d = randgraph_data(g, 2, 2, 15);
    struct run_result res;
    ck_assert_int_eq(run_forward(g, params, d, &res, &err), 0);
    ck_assert(isfinite(res.loss) && res.loss > 0);
    run_result_free(&res);
    const enum grad_algo algo[] = {GRAD_BPTT, GRAD_RTRL, GRAD_EPROP, GRAD_EPROP};
    const enum grad_engine eng[] = {GRAD_ENGINE_DEFAULT, GRAD_ENGINE_DEFAULT, GRAD_ENGINE_ONLINE,
                                    GRAD_ENGINE_REVERSE};
    for (int a = 0; a < 4; a++) {
        double loss;
        grads[a] = params_new(g);
        ck_assert_int_eq(grad_compute(g, params, d, algo[a], eng[a], grads[a], &loss, &err), 0);
    }
    ck_assert_int_eq(tu_compare_grads(g, grads[1], grads[0], TOL, path), 0);
    ck_assert_int_eq(tu_compare_grads(g, grads[2], grads[3], TOL, path), 0);
    const char *ids[][6] = {{"out", "h4", "h3", "h2", "h1", "in"},
                            {"out", "short", "long3", "long2", "long1", "in"},
                            {"out", "h3", "h2", "h1", "in", "in"}};
    const int depths[][6] = {{0, 1, 1, 1, 1, 2}, {0, 1, 1, 2, 3, 2}, {0, 1, 2, 3, 4, 4}};
    const bool late[6] = {false};
    expect_depths(g, ids[_i], depths[_i], late, 6);
    for (int a = 0; a < 4; a++) trl_free(grads[a]);
    trl_free(params);
    data_free(d);
    graph_free(g);
}
END_TEST

int main(void)
{
    if (tu_tmp_init("compare")) return 1;
    Suite *s = suite_create("compare");
    TCase *tc = tcase_create("compare");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, metrics_known_vectors);
    tcase_add_test(tc, metrics_sign_agreement_with_zeros);
    tcase_add_test(tc, metrics_undefined_values);
    tcase_add_test(tc, metrics_merge_is_concatenation);
    tcase_add_test(tc, depth_hand_graph);
    tcase_add_test(tc, depth_fixtures);
    tcase_add_test(tc, depth_random_graphs_match_brute_force);
    tcase_add_test(tc, rtrl_equals_bptt);
    tcase_add_test(tc, eprop_equals_bptt_without_delays);
    tcase_add_test(tc, groups_are_concatenations);
    tcase_add_test(tc, eprop_zero_on_delayed_only_and_costs);
    tcase_add_test(tc, cli_compare_table);
    tcase_add_test(tc, cli_compare_json);
    tcase_add_test(tc, cli_errors_and_help);
    tcase_add_test(tc, cli_dot);
    tcase_add_test(tc, cli_sweep_tiny);
    tcase_add_test(tc, cli_sweep_plot);
    tcase_add_loop_test(tc, models_compute_every_gradient, 0, 3);
    suite_add_tcase(s, tc);
    int failed = tu_run_suite(s, false);
    if (tu_tmp_remove()) failed++;
    return failed ? 1 : 0;
}
