/* test_api.c - the public library (include/trellis.h), through the public
 * header alone: every call, its errors (status, file, JSON path), arrays of
 * the caller's bound without a copy, results against the internal engines'
 * files, and two threads on two sets of handles giving the serial results.
 */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trellis.h"
#include "tests/support/testutil.h"

#define LSNN    "models/lsnn.json"
#define FIXTURE "tests/fixtures/lif_eprop/"
/* float64 is held to the fixtures' 1e-6; float32 to its rounding */
#ifdef TRL_F64
#define TOL      1e-6
#define TOL_LOSS 0
#else
#define TOL      2e-3
#define TOL_LOSS 1e-3
#endif

static trl_graph *load(const char *path)
{
    trl_error *err = trl_error_new();
    trl_graph *g = NULL;
    ck_assert_msg(trl_graph_load(path, &g, err) == TRL_OK, "%s", trl_error_message(err));
    trl_error_free(err);
    return g;
}

static trl_params *params_of(const trl_graph *g, uint64_t seed)
{
    trl_params *p = NULL;
    ck_assert_int_eq(trl_params_new(g, &p, NULL), TRL_OK);
    ck_assert_int_eq(trl_params_init(p, seed, NULL), TRL_OK);
    return p;
}

START_TEST(version_and_precision)
{
    char want[64];
    snprintf(want, sizeof want, "%s %s", TRL_VERSION_STRING, trl_precision());
    ck_assert_str_eq(trl_version(), want);
#ifdef TRL_F64
    ck_assert_str_eq(trl_precision(), "float64");
    ck_assert_int_eq(sizeof(trl_real), 8);
#else
    ck_assert_str_eq(trl_precision(), "float32");
#endif
    ck_assert_str_eq(trl_status_name(TRL_ERR_INPUT), "invalid input");
}
END_TEST

START_TEST(graph_errors_are_data)
{
    trl_error *err = trl_error_new();
    trl_graph *g = (trl_graph *)1;
    const char *text = "{\"trellis\": 1, \"nodes\": [{\"id\": \"a\", \"op\": \"input\", "
                       "\"size\": 2}, {\"id\": \"b\", \"op\": \"dense\", \"size\": 2, "
                       "\"inputs\": [{\"from\": \"nope\"}]}]}";
    ck_assert_int_eq(trl_graph_parse(text, strlen(text), "mine.json", &g, err), TRL_ERR_INPUT);
    ck_assert_ptr_null(g);
    ck_assert_int_eq(trl_error_status(err), TRL_ERR_INPUT);
    ck_assert_str_eq(trl_error_file(err), "mine.json");
    ck_assert_int_ge(trl_error_count(err), 1);
    const char *path = NULL;
    int line = -1, col = -1;
    const char *msg = trl_error_at(err, 0, &path, &line, &col);
    ck_assert_ptr_nonnull(msg);
    ck_assert_str_eq(path, "/nodes/1/inputs/0/from");
    ck_assert_int_eq(line, 0);
    ck_assert_ptr_nonnull(strstr(trl_error_message(err), "mine.json: /nodes/1/inputs/0/from: "));
    ck_assert_ptr_null(trl_error_at(err, trl_error_count(err), NULL, NULL, NULL));

    /* syntax errors carry line and column */
    ck_assert_int_eq(trl_graph_parse("{\n  \"trellis\": 1,,\n}", 19, "s.json", &g, err),
                     TRL_ERR_INPUT);
    trl_error_at(err, 0, &path, &line, &col);
    ck_assert_int_eq(line, 2);
    ck_assert_int_gt(col, 0);

    /* a missing file */
    ck_assert_int_ne(trl_graph_load("tests/no/such.json", &g, err), TRL_OK);
    ck_assert_ptr_nonnull(strstr(trl_error_message(err), "tests/no/such.json"));
    /* NULL arguments are an argument error, not a crash; err may be NULL */
    ck_assert_int_eq(trl_graph_load(NULL, &g, err), TRL_ERR_ARGUMENT);
    ck_assert_int_eq(trl_graph_load(NULL, &g, NULL), TRL_ERR_ARGUMENT);
    trl_error_free(err);
    trl_error_free(NULL);
    trl_graph_free(NULL);
}
END_TEST

START_TEST(graph_structure)
{
    trl_graph *g = load(LSNN);
    trl_graph_info info;
    trl_graph_get_info(g, &info);
    ck_assert_str_eq(info.name, "lsnn-cue");
    ck_assert_int_eq(info.n_nodes, 4);
    ck_assert_str_eq(info.loss_type, "cross_entropy");
    ck_assert_int_eq(info.max_delay, 1);
    int lif = trl_graph_find_node(g, "lif");
    ck_assert_int_ge(lif, 0);
    ck_assert_int_eq(trl_graph_find_node(g, "nope"), -1);
    trl_node_info n;
    ck_assert_int_eq(trl_graph_node(g, lif, &n), TRL_OK);
    ck_assert_str_eq(n.op, "lif");
    ck_assert_int_eq(n.size, 50);
    ck_assert(n.spiking && !n.is_input && !n.is_output);
    ck_assert_int_eq(trl_graph_node(g, 99, &n), TRL_ERR_ARGUMENT);
    ck_assert_int_eq(trl_graph_schedule(g, 0), trl_graph_find_node(g, "in"));
    ck_assert_int_eq(trl_graph_output(g, 0), trl_graph_find_node(g, "out"));
    /* lif's params with defaults filled in */
    int found = 0;
    for (int k = 0; k < trl_graph_node_param_count(g, lif); k++) {
        trl_node_param q;
        ck_assert_int_eq(trl_graph_node_param(g, lif, k, &q), TRL_OK);
        if (strcmp(q.name, "v_th") == 0) found = q.value == 0.6;
        if (strcmp(q.name, "gamma") == 0) ck_assert(q.is_default);
    }
    ck_assert(found);
    size_t total = 0;
    for (int i = 0; i < info.n_params; i++) {
        trl_param_info p;
        ck_assert_int_eq(trl_graph_param(g, i, &p), TRL_OK);
        ck_assert_int_eq(p.offset, total);
        ck_assert_int_eq(trl_graph_find_param(g, p.name), i);
        total += p.count;
    }
    ck_assert_int_eq(total, info.n_param_values);
    for (int i = 0; i < info.n_edges; i++) {
        trl_edge_info e;
        ck_assert_int_eq(trl_graph_edge(g, i, &e), TRL_OK);
        ck_assert_int_ge(e.param, 0);
    }
    ck_assert_int_ge(trl_op_count(), 6);
    trl_op_info op;
    ck_assert_int_eq(trl_op_get(0, &op), TRL_OK);
    ck_assert_int_eq(trl_op_get(trl_op_count(), &op), TRL_ERR_ARGUMENT);
    trl_graph_free(g);
}
END_TEST

START_TEST(summary_and_report)
{
    trl_graph *g = load(LSNN);
    trl_summary s;
    ck_assert_int_eq(trl_graph_summary(g, &s, NULL), TRL_OK);
    ck_assert(s.forward_macs > 0 && s.rtrl.available && s.eprop_online.values > 0);
    ck_assert(s.bptt.macs_per_step > s.forward_macs);
    ck_assert_double_eq(s.eprop_online_order[0].values, s.eprop_online.values);
    for (int k = 1; k < TRL_SUMMARY_ORDERS; k++) /* lsnn's recurrent edges: more per order */
        ck_assert(s.eprop_online_order[k].available &&
                  s.eprop_online_order[k].values > s.eprop_online_order[k - 1].values);
    char *text = NULL, *json = NULL;
    ck_assert_int_eq(trl_graph_report(g, 0, &text, NULL), TRL_OK);
    ck_assert_int_eq(trl_graph_report(g, 1, &json, NULL), TRL_OK);
    ck_assert_ptr_nonnull(strstr(text, "lif"));
    ck_assert_int_eq(json[0], '{');
    trl_string_free(text);
    trl_string_free(json);
    trl_graph_free(g);
}
END_TEST

START_TEST(params_roundtrip_and_checks)
{
    trl_graph *g = load(LSNN);
    trl_params *p = params_of(g, 3), *q = NULL;
    ck_assert_int_eq(trl_params_new(g, &q, NULL), TRL_OK);
    const char *path = "tests/out/api_params.safetensors";
    ck_assert_int_eq(trl_params_save(p, path, NULL), TRL_OK);
    ck_assert_int_eq(trl_params_load(q, path, NULL), TRL_OK);
    ck_assert_int_eq(trl_params_size(p), trl_params_size(q));
    ck_assert(memcmp(trl_params_values(p), trl_params_values(q),
                     trl_params_size(p) * sizeof(trl_real)) == 0);

    trl_error *err = trl_error_new();
    trl_tensor t;
    ck_assert_int_eq(trl_params_tensor(p, "lif.w.lif.d1", &t, err), TRL_OK);
    ck_assert_int_eq(t.ndim, 2);
    ck_assert_int_eq(t.shape[0], 50);
    ck_assert_int_eq(trl_params_tensor(p, "lif.w.nope", &t, err), TRL_ERR_ARGUMENT);
    ck_assert_str_eq(trl_error_file(err), "");
    /* no_self diagonal and sizes are checked */
    trl_real *w = calloc(2500, sizeof *w);
    w[0] = 1;
    ck_assert_int_eq(trl_params_set(p, "lif.w.lif.d1", w, 2500, err), TRL_ERR_INPUT);
    ck_assert_int_eq(trl_params_set(p, "lif.w.lif.d1", w, 10, err), TRL_ERR_ARGUMENT);
    w[0] = 0;
    w[1] = 0.5;
    ck_assert_int_eq(trl_params_set(p, "lif.w.lif.d1", w, 2500, err), TRL_OK);
    ck_assert(trl_params_tensor(p, "lif.w.lif.d1", &t, NULL) == TRL_OK && t.data[1] == 0.5);
    free(w);
    /* a file that fails leaves the values as they were */
    ck_assert_int_eq(trl_params_load(q, FIXTURE "data.safetensors", err), TRL_ERR_INPUT);
    ck_assert_str_eq(trl_error_file(err), FIXTURE "data.safetensors");
    ck_assert(memcmp(trl_params_values(q), trl_params_values(p), 40 * sizeof(trl_real)) == 0);
    trl_error_free(err);
    trl_params_free(p);
    trl_params_free(q);
    trl_graph_free(g);
}
END_TEST

/* An evidence-shaped batch in the caller's arrays. */
struct batch {
    trl_real *x, *target;
    trl_tensor t[2];
};

static void batch_new(struct batch *b, int B, int T, unsigned seed)
{
    b->x = calloc((size_t)B * T * 40, sizeof *b->x);
    b->target = calloc((size_t)B * T * 2, sizeof *b->target);
    unsigned state = seed; /* rand_r, not rand: two threads build batches at once */
    for (int i = 0; i < B * T * 40; i++) b->x[i] = (trl_real)(rand_r(&state) % 10 == 0);
    for (int i = 0; i < B * T; i++) b->target[(size_t)i * 2 + (i / T) % 2] = 1;
    b->t[0] = (trl_tensor){"in", 3, {B, T, 40}, b->x};
    b->t[1] = (trl_tensor){"target", 3, {B, T, 2}, b->target};
}

static void batch_free(struct batch *b)
{
    free(b->x);
    free(b->target);
}

START_TEST(data_wrap_borrows)
{
    trl_graph *g = load(LSNN);
    struct batch b;
    batch_new(&b, 3, 20, 1);
    trl_data *d = NULL;
    ck_assert_int_eq(trl_data_wrap(g, b.t, 2, &d, NULL), TRL_OK);
    int B, T;
    trl_data_shape(d, &B, &T);
    ck_assert(B == 3 && T == 20);
    trl_tensor t;
    ck_assert_int_eq(trl_data_tensor(d, "in", &t, NULL), TRL_OK);
    ck_assert_ptr_eq(t.data, b.x); /* no copy */
    ck_assert_int_eq(trl_data_tensor(d, "mask", &t, NULL), TRL_ERR_ARGUMENT);
    trl_data_free(d);

    /* wrong shapes, names and values name the tensor */
    trl_error *err = trl_error_new();
    trl_tensor bad[2] = {b.t[0], b.t[1]};
    bad[0].shape[2] = 41;
    ck_assert_int_eq(trl_data_wrap(g, bad, 2, &d, err), TRL_ERR_ARGUMENT);
    ck_assert_ptr_null(d);
    const char *path;
    trl_error_at(err, 0, &path, NULL, NULL);
    ck_assert_str_eq(path, "in");
    ck_assert_ptr_nonnull(strstr(trl_error_message(err), "[B, T, 40]"));
    bad[0] = b.t[0];
    bad[0].name = "inn";
    ck_assert_int_eq(trl_data_wrap(g, bad, 2, &d, err), TRL_ERR_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(trl_error_message(err), "did you mean \"in\""));
    ck_assert_int_eq(trl_data_wrap(g, b.t + 1, 1, &d, err), TRL_ERR_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(trl_error_message(err), "every input node needs"));
    bad[1] = b.t[1];
    bad[1].shape[1] = 19;
    ck_assert_int_eq(trl_data_wrap(g, (trl_tensor[]){b.t[0], bad[1]}, 2, &d, err),
                     TRL_ERR_ARGUMENT);
    b.x[5] = NAN;
    ck_assert_int_eq(trl_data_wrap(g, b.t, 2, &d, err), TRL_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(trl_error_message(err), "not finite"));
    trl_error_free(err);
    batch_free(&b);
    trl_graph_free(g);
}
END_TEST

START_TEST(data_new_task_random_save)
{
    trl_graph *g = load("models/evidence.json");
    trl_data *d = NULL, *e = NULL, *r = NULL;
    ck_assert_int_eq(trl_data_new(g, 2, 5, &d, NULL), TRL_OK);
    trl_tensor t;
    ck_assert_int_eq(trl_data_tensor(d, "mask", &t, NULL), TRL_OK);
    ck_assert(t.ndim == 2 && t.data[9] == 1);
    ck_assert_int_eq(trl_data_new(g, 0, 5, &e, NULL), TRL_ERR_ARGUMENT);
    int k = trl_task_find("evidence");
    ck_assert_int_ge(k, 0);
    trl_task_info info;
    ck_assert_int_eq(trl_task_get(k, &info), TRL_OK);
    ck_assert_int_eq(trl_data_task(g, "evidence", 1, TRL_SPLIT_VAL, 0, 4, &e, NULL), TRL_OK);
    int B, T;
    trl_data_shape(e, &B, &T);
    ck_assert(B == 4 && T == info.T);
    trl_error *err = trl_error_new();
    ck_assert_int_eq(trl_data_task(g, "evidense", 1, TRL_SPLIT_TRAIN, 0, 4, &r, err),
                     TRL_ERR_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(trl_error_message(err), "the tasks are"));
    ck_assert_ptr_nonnull(strstr(trl_error_message(err), "did you mean \"evidence\"?"));
    trl_random_data ro = {.B = 2, .T = 30, .seed = 5, .rate_hz = 20, .spiking = "in"};
    ck_assert_int_eq(trl_data_random(g, &ro, &r, err), TRL_OK);
    ck_assert_int_eq(trl_data_save(r, "tests/out/api_data.safetensors", err), TRL_OK);
    trl_data *back = NULL;
    ck_assert_int_eq(
        trl_data_load(g, "tests/out/api_data.safetensors", TRL_DATA_TARGET, &back, err), TRL_OK);
    trl_tensor a, c;
    trl_data_tensor(r, "in", &a, NULL);
    trl_data_tensor(back, "in", &c, NULL);
    ck_assert(memcmp(a.data, c.data, 2 * 30 * 40 * sizeof(trl_real)) == 0);
    trl_data_free(r);
    ro.spiking = "target"; /* the caller's list is wrong, not a file */
    ck_assert_int_eq(trl_data_random(g, &ro, &r, err), TRL_ERR_ARGUMENT);
    ck_assert_ptr_null(r);
    trl_error_free(err);
    trl_data_free(back);
    trl_data_free(d);
    trl_data_free(e);
    trl_graph_free(g);
}
END_TEST

/* Every tensor of r against the file's of the same name (the same set of
 * names), to tol relative; the loss to 1e-9 relative. */
static void expect_file(const trl_result *r, const char *path, double tol)
{
    trl_result *want = NULL;
    trl_error *err = trl_error_new();
    ck_assert_msg(trl_result_load(path, &want, err) == TRL_OK, "%s", trl_error_message(err));
    ck_assert_int_eq(trl_result_count(r), trl_result_count(want));
    for (int i = 0; i < trl_result_count(want); i++) {
        trl_tensor w, x;
        trl_result_tensor(want, i, &w);
        ck_assert_msg(trl_result_find(r, w.name, &x, err) == TRL_OK, "%s missing", w.name);
        ck_assert_int_eq(x.ndim, w.ndim);
        size_t n = 1;
        for (int k = 0; k < w.ndim; k++) {
            ck_assert_int_eq(x.shape[k], w.shape[k]);
            n *= (size_t)w.shape[k];
        }
        double dd = 0, ee = 0;
        for (size_t k = 0; k < n; k++) {
            dd += ((double)x.data[k] - w.data[k]) * ((double)x.data[k] - w.data[k]);
            ee += (double)w.data[k] * w.data[k];
        }
        ck_assert_msg(sqrt(dd) <= tol * fmax(sqrt(ee), 1e-12), "%s: %s off by %g relative", path,
                      w.name, sqrt(dd) / fmax(sqrt(ee), 1e-12));
    }
    double a, b;
    ck_assert(trl_result_loss(r, &a) && trl_result_loss(want, &b));
    ck_assert_double_le(fabs(a - b), 1e-9 * fabs(b) + TOL_LOSS);
    trl_result_free(want);
    trl_error_free(err);
}

START_TEST(limits_refused_before_allocation)
{
    /* sizes beyond memory are refused with the numbers, nothing allocated */
    trl_graph *g = load("models/evidence.json");
    trl_graph *other = load("models/sine.json");
    trl_error *err = trl_error_new();
    trl_data *d = NULL;
    trl_memory before, after;
    trl_memory_stats(&before);
    ck_assert_int_eq(trl_data_new(g, 1 << 30, 1 << 30, &d, err), TRL_ERR_MEMORY);
    ck_assert_ptr_null(d);
    ck_assert_msg(strstr(trl_error_message(err), "1073741824 samples x 1073741824 steps"), "%s",
                  trl_error_message(err));
    trl_random_data ro = {.B = 1 << 30, .T = 1 << 20, .seed = 1};
    ck_assert_int_eq(trl_data_random(g, &ro, &d, err), TRL_ERR_MEMORY);
    ck_assert_msg(strstr(trl_error_message(err), "bytes fit in one array"), "%s",
                  trl_error_message(err));
    trl_memory_stats(&after);
    ck_assert_uint_eq(after.peak[TRL_MEMORY_MISC], before.peak[TRL_MEMORY_MISC]);
    /* handles of another graph are refused by every call that takes them */
    trl_params *p = params_of(other, 1);
    ck_assert_int_eq(trl_data_new(g, 2, 3, &d, NULL), TRL_OK);
    trl_eval ev;
    ck_assert_int_eq(trl_evaluate(g, p, d, &ev, err), TRL_ERR_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(trl_error_message(err), "another graph"));
    trl_data_free(d);
    trl_params_free(p);
    trl_error_free(err);
    trl_graph_free(other);
    trl_graph_free(g);
}
END_TEST

START_TEST(run_and_grad_match_the_fixture)
{
    trl_graph *g = load(FIXTURE "graph.json");
    trl_params *p = NULL;
    trl_data *d = NULL;
    trl_error *err = trl_error_new();
    ck_assert_int_eq(trl_params_new(g, &p, err), TRL_OK);
    ck_assert_int_eq(trl_params_load(p, FIXTURE "params.safetensors", err), TRL_OK);
    ck_assert_int_eq(trl_data_load(g, FIXTURE "data.safetensors", TRL_DATA_TARGET, &d, err),
                     TRL_OK);
    trl_result *run = NULL;
    ck_assert_int_eq(trl_run(g, p, d, &run, err), TRL_OK);
    double loss;
    ck_assert(trl_result_loss(run, &loss));
    expect_file(run, FIXTURE "out.safetensors", TOL);

    const trl_algo algos[] = {TRL_ALGO_BPTT, TRL_ALGO_RTRL, TRL_ALGO_EPROP};
    trl_result *bptt = NULL;
    for (int a = 0; a < 3; a++) {
        trl_grad_opts o = TRL_GRAD_OPTS_INIT;
        o.algo = algos[a];
        trl_result *r = NULL;
        ck_assert_msg(trl_grad(g, p, d, &o, &r, err) == TRL_OK, "%s", trl_error_message(err));
        double l;
        ck_assert(trl_result_loss(r, &l));
        ck_assert_double_eq_tol(l, loss, 1e-6 * loss);
        expect_file(r, a == 2 ? FIXTURE "grad_eprop.safetensors" : FIXTURE "grad_exact.safetensors",
                    TOL);
        if (a == 0) {
            bptt = r;
            continue;
        }
        trl_result_free(r);
    }
    /* saved as the CLI's gradient file: trainable tensors and "loss" */
    ck_assert_int_eq(trl_result_save(bptt, "tests/out/api_grad.safetensors", err), TRL_OK);
    trl_tensor t;
    ck_assert_int_eq(trl_result_find(bptt, "lif.w.in", &t, err), TRL_OK);
    ck_assert_int_eq(trl_result_find(bptt, "nope", &t, err), TRL_ERR_ARGUMENT);
    trl_grad_stats st;
    trl_result_grad_stats(bptt, &st);
    ck_assert(st.trace_rows_total == 0);
    trl_result_free(bptt);
    trl_result_free(run);
    trl_error_free(err);
    trl_data_free(d);
    trl_params_free(p);
    trl_graph_free(g);
}
END_TEST

START_TEST(grad_options_and_errors)
{
    trl_error *err = trl_error_new();
    trl_grad_opts o = TRL_GRAD_OPTS_INIT;
    o.engine = TRL_ENGINE_REVERSE;
    ck_assert_int_eq(trl_grad_check(&o, err), TRL_ERR_ARGUMENT);
    ck_assert_ptr_null(strstr(trl_error_message(err), "--")); /* no CLI flags */
    o.algo = TRL_ALGO_EPROP;
    ck_assert_int_eq(trl_grad_check(&o, err), TRL_OK);
    ck_assert_str_eq(trl_grad_label(&o), "eprop reverse");
    ck_assert(!trl_grad_is_online(&o));
    trl_algo a;
    ck_assert_int_eq(trl_algo_parse("rtrl", &a, NULL), TRL_OK);
    ck_assert_int_eq(a, TRL_ALGO_RTRL);
    ck_assert_int_eq(trl_algo_parse("rtlr", &a, err), TRL_ERR_ARGUMENT);
    trl_engine e;
    ck_assert_int_eq(trl_engine_parse("online", &e, NULL), TRL_OK);
    ck_assert_str_eq(trl_engine_name(e), "online");
    ck_assert_str_eq(trl_algo_name(TRL_ALGO_BPTT), "bptt");

    /* a graph without a loss names /loss; data without a target names it */
    const char *text = "{\"trellis\": 1, \"nodes\": [{\"id\": \"in\", \"op\": \"input\", "
                       "\"size\": 2}, {\"id\": \"h\", \"op\": \"leaky\", \"size\": 3, "
                       "\"inputs\": [\"in\"]}]}";
    trl_graph *g = NULL;
    ck_assert_int_eq(trl_graph_parse(text, strlen(text), "noloss", &g, NULL), TRL_OK);
    trl_params *p = params_of(g, 1);
    trl_data *d = NULL;
    ck_assert_int_eq(trl_data_new(g, 1, 4, &d, NULL), TRL_OK);
    trl_result *r = NULL;
    ck_assert_int_eq(trl_grad(g, p, d, &o, &r, err), TRL_ERR_INPUT);
    const char *path;
    trl_error_at(err, 0, &path, NULL, NULL);
    ck_assert_str_eq(path, "/loss");
    ck_assert_int_eq(trl_run(g, p, d, &r, err), TRL_OK);
    double loss;
    ck_assert(!trl_result_loss(r, &loss) && isnan(loss));
    trl_result_free(r);
    /* handles of another graph are refused */
    trl_graph *other = load(LSNN);
    trl_params *po = params_of(other, 1);
    ck_assert_int_eq(trl_run(g, po, d, &r, err), TRL_ERR_ARGUMENT);
    trl_params_free(po);
    trl_graph_free(other);
    trl_data_free(d);
    trl_params_free(p);
    trl_graph_free(g);
    trl_error_free(err);
}
END_TEST

/* A gradient's tensors end to end (malloc'd), *n values. */
static trl_real *flat_grad(const trl_result *r, size_t *n)
{
    trl_real *v = NULL;
    *n = 0;
    for (int i = 0; i < trl_result_count(r); i++) {
        trl_tensor t;
        trl_result_tensor(r, i, &t);
        size_t m = (size_t)t.shape[0] * (t.ndim == 2 ? (size_t)t.shape[1] : 1);
        v = realloc(v, (*n + m) * sizeof *v);
        memcpy(v + *n, t.data, m * sizeof *t.data);
        *n += m;
    }
    return v;
}

/* ---- shards over processes (SPEC 10) ---- */

static int reduce_calls;
static int reduce_none(void *ctx, double *values, size_t n) /* one process: the sum is itself */
{
    (void)values, (void)n;
    reduce_calls++;
    return ctx != NULL; /* a non-NULL ctx: the sum fails */
}

START_TEST(grad_shards_add_up_to_the_batch)
{
    trl_graph *g = load("models/delayed_xor.json");
    trl_params *p = params_of(g, 3);
    trl_random_data rd = {.B = 5, .T = 30, .seed = 3};
    trl_data *d = NULL;
    ck_assert_int_eq(trl_data_random(g, &rd, &d, NULL), TRL_OK);
    const trl_algo algos[] = {TRL_ALGO_BPTT, TRL_ALGO_RTRL, TRL_ALGO_EPROP};
    const double tol = sizeof(trl_real) == 8 ? 1e-10 : 1e-4;
    for (int a = 0; a < 3; a++) {
        trl_grad_opts o = TRL_GRAD_OPTS_INIT;
        o.algo = algos[a];
        trl_result *r = NULL;
        ck_assert_int_eq(trl_grad(g, p, d, &o, &r, NULL), TRL_OK);
        size_t n, m;
        double whole_loss, loss, sum_loss = 0;
        trl_real *whole = flat_grad(r, &n);
        trl_result_loss(r, &whole_loss);
        trl_result_free(r);
        double *sum = calloc(n, sizeof *sum);
        o.n_shards = 3; /* 1, 2 and 2 samples, each scaled by its count / 5 */
        o.reduce = reduce_none;
        for (o.shard = 0; o.shard < 3; o.shard++) {
            reduce_calls = 0;
            ck_assert_int_eq(trl_grad(g, p, d, &o, &r, NULL), TRL_OK);
            ck_assert_int_eq(reduce_calls, 1);
            trl_real *part = flat_grad(r, &m);
            ck_assert_uint_eq(m, n);
            for (size_t k = 0; k < n; k++) sum[k] += part[k];
            trl_result_loss(r, &loss);
            sum_loss += loss;
            free(part);
            trl_result_free(r);
        }
        double diff = 0, norm = 0;
        for (size_t k = 0; k < n; k++) {
            diff += (sum[k] - whole[k]) * (sum[k] - whole[k]);
            norm += (double)whole[k] * whole[k];
        }
        ck_assert_msg(sqrt(diff) <= tol * sqrt(norm), "algo %d: %g of %g", a, sqrt(diff),
                      sqrt(norm));
        ck_assert_double_eq_tol(sum_loss, whole_loss, tol * fabs(whole_loss));
        free(sum);
        free(whole);
    }
    /* a failed sum, more shards than samples, no reduce function */
    trl_error *err = trl_error_new();
    trl_grad_opts o = TRL_GRAD_OPTS_INIT;
    trl_result *r = NULL;
    o.n_shards = 2;
    o.reduce = reduce_none;
    o.reduce_ctx = &o;
    ck_assert_int_eq(trl_grad(g, p, d, &o, &r, err), TRL_ERR_IO);
    o.n_shards = 6;
    o.reduce_ctx = NULL;
    ck_assert_int_eq(trl_grad(g, p, d, &o, &r, err), TRL_ERR_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(trl_error_message(err), "6 shards of a batch of 5"));
    o.n_shards = 2;
    o.reduce = NULL;
    ck_assert_int_eq(trl_grad(g, p, d, &o, &r, err), TRL_ERR_ARGUMENT);
    ck_assert_ptr_null(r);
    trl_error_free(err);
    trl_data_free(d);
    trl_params_free(p);
    trl_graph_free(g);
}
END_TEST

/* ---- two threads on two sets of handles ---- */

struct job {
    const char *graph;
    trl_algo algo;
    unsigned seed;
    trl_real *grad; /* out: the flat gradient */
    size_t n;
    double loss;
};

static void *job_run(void *arg)
{
    struct job *j = arg;
    trl_graph *g = load(j->graph);
    trl_params *p = params_of(g, j->seed);
    struct batch b;
    batch_new(&b, 6, 60, j->seed);
    trl_data *d = NULL;
    ck_assert_int_eq(trl_data_wrap(g, b.t, 2, &d, NULL), TRL_OK);
    trl_grad_opts o = TRL_GRAD_OPTS_INIT;
    o.algo = j->algo;
    o.threads = 2;
    trl_result *r = NULL;
    ck_assert_int_eq(trl_grad(g, p, d, &o, &r, NULL), TRL_OK);
    trl_result_loss(r, &j->loss);
    j->grad = flat_grad(r, &j->n);
    trl_result_free(r);
    trl_data_free(d);
    batch_free(&b);
    trl_params_free(p);
    trl_graph_free(g);
    return NULL;
}

START_TEST(two_threads_give_the_serial_results)
{
    struct job serial[2] = {{LSNN, TRL_ALGO_EPROP, 1, NULL, 0, 0},
                            {"models/evidence.json", TRL_ALGO_BPTT, 2, NULL, 0, 0}};
    struct job both[2] = {serial[0], serial[1]};
    for (int k = 0; k < 2; k++) job_run(&serial[k]);
    pthread_t th[2];
    for (int k = 0; k < 2; k++)
        ck_assert_int_eq(pthread_create(&th[k], NULL, job_run, &both[k]), 0);
    for (int k = 0; k < 2; k++) pthread_join(th[k], NULL);
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(serial[k].n, both[k].n);
        ck_assert(serial[k].loss == both[k].loss);
        ck_assert(memcmp(serial[k].grad, both[k].grad, serial[k].n * sizeof(trl_real)) == 0);
        free(serial[k].grad);
        free(both[k].grad);
    }
}
END_TEST

/* ---- training ---- */

struct seen {
    long calls, last_iter;
    int stop_at;
};

static int on_iter(void *ctx, const trl_train_metrics *m)
{
    struct seen *s = ctx;
    s->calls++;
    s->last_iter = m->iter;
    ck_assert(isfinite(m->loss) && isfinite(m->grad_norm));
    return s->stop_at >= 0 && m->iter + 1 == s->stop_at;
}

static trl_trainer *trainer_for(trl_graph *g, trl_params *p, long iters, const char *ckpt)
{
    trl_train_config c = TRL_TRAIN_CONFIG_INIT;
    c.grad.algo = TRL_ALGO_EPROP;
    c.iters = iters;
    c.batch = 8;
    c.seed = 4;
    c.eval_every = 2;
    c.checkpoint_path = ckpt;
    trl_trainer *t = NULL;
    ck_assert_int_eq(trl_trainer_new(g, p, &c, &t, NULL), TRL_OK);
    ck_assert_int_eq(trl_trainer_set_task(t, "evidence", 16, NULL), TRL_OK);
    return t;
}

START_TEST(trainer_stops_resumes_and_matches)
{
    trl_graph *g = load("models/evidence.json");
    const char *ckpt = "tests/out/api_train.ckpt.safetensors";
    /* straight through */
    trl_params *a = params_of(g, 1);
    trl_trainer *t = trainer_for(g, a, 4, NULL);
    struct seen s = {0, -1, -1};
    ck_assert_int_eq(trl_trainer_run(t, on_iter, &s, NULL), TRL_OK);
    ck_assert_int_eq(s.calls, 4);
    ck_assert_int_eq(trl_trainer_iteration(t), 4);
    trl_trainer_free(t);
    /* stopped by the callback after 2, checkpointed, resumed by a new trainer */
    trl_params *b = params_of(g, 1);
    t = trainer_for(g, b, 4, ckpt);
    s = (struct seen){0, -1, 2};
    ck_assert_int_eq(trl_trainer_run(t, on_iter, &s, NULL), TRL_STOPPED);
    ck_assert_int_eq(trl_trainer_iteration(t), 2);
    trl_trainer_free(t);
    trl_params *c = params_of(g, 9);
    t = trainer_for(g, c, 4, NULL);
    ck_assert_int_eq(trl_trainer_resume(t, ckpt, NULL), TRL_OK);
    ck_assert_int_eq(trl_trainer_iteration(t), 2);
    s = (struct seen){0, -1, -1};
    ck_assert_int_eq(trl_trainer_run(t, on_iter, &s, NULL), TRL_OK);
    ck_assert_int_eq(s.calls, 2);
    ck_assert(memcmp(trl_params_values(a), trl_params_values(c),
                     trl_params_size(a) * sizeof(trl_real)) == 0);
    /* a bad checkpoint leaves the trainer as it was */
    trl_error *err = trl_error_new();
    ck_assert_int_ne(trl_trainer_resume(t, LSNN, err), TRL_OK);
    ck_assert_int_eq(trl_trainer_iteration(t), 4);
    trl_eval ev;
    trl_data *val = NULL;
    ck_assert_int_eq(trl_data_task(g, "evidence", 4, TRL_SPLIT_VAL, 0, 16, &val, NULL), TRL_OK);
    ck_assert_int_eq(trl_evaluate(g, c, val, &ev, err), TRL_OK);
    ck_assert(ev.accuracy >= 0 && ev.accuracy <= 1 && isnan(ev.nmse));
    trl_trainer_free(t);
    /* configuration errors */
    trl_train_config bad = TRL_TRAIN_CONFIG_INIT;
    bad.online = 1; /* bptt has no online gradient */
    ck_assert_int_eq(trl_trainer_new(g, c, &bad, &t, err), TRL_ERR_ARGUMENT);
    ck_assert_ptr_null(t);
    ck_assert_ptr_null(strstr(trl_error_message(err), "--"));
    bad = (trl_train_config)TRL_TRAIN_CONFIG_INIT;
    bad.lr = 0;
    ck_assert_int_eq(trl_trainer_new(g, c, &bad, &t, err), TRL_ERR_ARGUMENT);
    trl_error_free(err);
    trl_data_free(val);
    trl_params_free(a);
    trl_params_free(b);
    trl_params_free(c);
    trl_graph_free(g);
}
END_TEST

START_TEST(compare_against_bptt)
{
    trl_graph *g = load(FIXTURE "graph.json");
    trl_params *p = NULL;
    trl_data *d = NULL;
    ck_assert_int_eq(trl_params_new(g, &p, NULL), TRL_OK);
    ck_assert_int_eq(trl_params_load(p, FIXTURE "params.safetensors", NULL), TRL_OK);
    ck_assert_int_eq(trl_data_load(g, FIXTURE "data.safetensors", 0, &d, NULL), TRL_OK);
    trl_grad_opts algos[2] = {TRL_GRAD_OPTS_INIT, TRL_GRAD_OPTS_INIT};
    algos[0].algo = TRL_ALGO_RTRL;
    algos[1].algo = TRL_ALGO_EPROP;
    trl_compare *c = NULL;
    ck_assert_int_eq(trl_compare_new(g, p, d, algos, 2, &c, NULL), TRL_OK);
    ck_assert_int_eq(trl_compare_algo_count(c), 2);
    const trl_compare_item *total = trl_compare_item_at(c, TRL_GROUP_TOTAL, 0);
    ck_assert_double_gt(total->m[0].cosine, 1 - 1e-4); /* rtrl is exact */
    ck_assert_double_lt(total->m[1].cosine, 0.99);     /* e-prop is not */
    ck_assert_int_gt(trl_compare_count(c, TRL_GROUP_TENSOR), 0);
    ck_assert_ptr_null(trl_compare_item_at(c, TRL_GROUP_NODE, 99));
    ck_assert_ptr_nonnull(trl_compare_cost_of(c, -1));
    ck_assert_ptr_null(trl_compare_cost_of(c, 2));
    ck_assert(trl_compare_mean_z(c, 0) >= 0);
    trl_compare_free(c);
    trl_data_free(d);
    trl_params_free(p);
    trl_graph_free(g);
}
END_TEST

START_TEST(threads_and_memory)
{
    int before = trl_threads();
    trl_set_threads(3);
    ck_assert_int_eq(trl_threads(), 3);
    trl_set_threads(0);
    ck_assert_int_eq(trl_threads(), before);
    trl_memory m0, m1;
    trl_memory_stats(&m0);
    trl_graph *g = load(LSNN);
    trl_params *p = params_of(g, 1);
    trl_memory_stats(&m1);
    ck_assert(m1.allocations > m0.allocations);
    ck_assert(m1.current[TRL_MEMORY_PARAMS] >=
              m0.current[TRL_MEMORY_PARAMS] + 4 * trl_params_size(p));
    trl_params_free(p);
    trl_graph_free(g);
    trl_memory_reset_peak();
    trl_memory_stats(&m1);
    ck_assert_int_eq(m1.peak[TRL_MEMORY_TRACE], m1.current[TRL_MEMORY_TRACE]);
    trl_gemm_timing gt;
    ck_assert_int_eq(trl_time_gemm(8, 8, 8, 0.001, &gt, NULL), TRL_OK);
    ck_assert(gt.gflops > 0);
    ck_assert_int_eq(trl_time_gemm(0, 8, 8, 0.001, &gt, NULL), TRL_ERR_ARGUMENT);
}
END_TEST

/* A plan's numbers are the summary's for the call's algorithm, scaled to
 * the samples it holds. */
START_TEST(plans_follow_the_summary)
{
    trl_graph *g = load(LSNN);
    trl_summary s;
    ck_assert_int_eq(trl_graph_summary(g, &s, NULL), TRL_OK);
    trl_set_threads(2);
    trl_plan pl;
    ck_assert_int_eq(trl_plan_call(g, NULL, 5, 7, &pl, NULL), TRL_OK);
    ck_assert_int_eq(pl.threads, 2);
    ck_assert_int_eq(pl.samples_held, 0);
    ck_assert(pl.macs_per_step == s.forward_macs && pl.trace_bytes == 0 && pl.history_bytes == 0);
    ck_assert_int_eq(trl_plan_call(g, NULL, 1, 7, &pl, NULL), TRL_OK);
    ck_assert_int_eq(pl.threads, 1); /* no more threads than samples */
    trl_grad_opts o = TRL_GRAD_OPTS_INIT;
    ck_assert_int_eq(trl_plan_call(g, &o, 4, 7, &pl, NULL), TRL_OK);
    ck_assert(pl.samples_held >= 1 && pl.samples_held <= 4 && pl.trace_bytes == 0);
    ck_assert(pl.macs_per_step == s.bptt.macs_per_step);
    ck_assert(pl.history_bytes == s.bptt.values * sizeof(trl_real) * 7 * pl.samples_held);
    o.algo = TRL_ALGO_EPROP;
    ck_assert_int_eq(trl_plan_call(g, &o, 4, 7, &pl, NULL), TRL_OK);
    ck_assert(pl.macs_per_step == s.eprop_online.macs_per_step && pl.history_bytes == 0);
    ck_assert(pl.trace_bytes == s.eprop_online.values * sizeof(trl_real) * pl.samples_held);
    o.engine = TRL_ENGINE_REVERSE;
    o.threads = 1;
    ck_assert_int_eq(trl_plan_call(g, &o, 4, 7, &pl, NULL), TRL_OK);
    ck_assert(pl.macs_per_step == s.eprop_reverse.macs_per_step && pl.trace_bytes == 0);
    ck_assert_int_eq(pl.threads, 1);
    ck_assert_int_eq(pl.samples_held, 4); /* one thread holds the whole batch */
    trl_error *err = trl_error_new();
    ck_assert_int_eq(trl_plan_call(g, NULL, 0, 7, &pl, err), TRL_ERR_ARGUMENT);
    o.algo = TRL_ALGO_BPTT;
    ck_assert_int_eq(trl_plan_call(g, &o, 4, 7, &pl, err), TRL_ERR_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(trl_error_message(err), "eprop only"));
    trl_error_free(err);
    trl_set_threads(0);
    trl_graph_free(g);
}
END_TEST

START_TEST(suggest_names)
{
    const char *const names[] = {"--seed", "--iters", "--batch"};
    ck_assert_ptr_eq(trl_suggest("--iter", names, 3), names[1]);
    ck_assert_ptr_eq(trl_suggest("--bacth", names, 3), names[2]);
    ck_assert_ptr_null(trl_suggest("--frobnicate", names, 3));
    ck_assert_ptr_null(trl_suggest(NULL, names, 3));
    ck_assert_ptr_null(trl_suggest("--seed", NULL, 0));
}
END_TEST

/* BLAS threads set before the first graph stay set. */
START_TEST(blas_threads)
{
    trl_blas_set_threads(2);
    trl_graph *g = load(LSNN);
    trl_blas_info b;
    trl_blas_get_info(&b);
    ck_assert_int_eq(b.threads, 2);
    ck_assert(b.procs >= 1 && b.config && b.config[0]);
    trl_blas_set_threads(0);
    trl_blas_get_info(&b);
    if (!getenv("OPENBLAS_NUM_THREADS")) ck_assert_int_eq(b.threads, 1);
    trl_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("api");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, version_and_precision);
    tcase_add_test(tc, graph_errors_are_data);
    tcase_add_test(tc, graph_structure);
    tcase_add_test(tc, summary_and_report);
    tcase_add_test(tc, params_roundtrip_and_checks);
    tcase_add_test(tc, data_wrap_borrows);
    tcase_add_test(tc, data_new_task_random_save);
    tcase_add_test(tc, limits_refused_before_allocation);
    tcase_add_test(tc, run_and_grad_match_the_fixture);
    tcase_add_test(tc, grad_options_and_errors);
    tcase_add_test(tc, grad_shards_add_up_to_the_batch);
    tcase_add_test(tc, two_threads_give_the_serial_results);
    tcase_add_test(tc, trainer_stops_resumes_and_matches);
    tcase_add_test(tc, compare_against_bptt);
    tcase_add_test(tc, threads_and_memory);
    tcase_add_test(tc, plans_follow_the_summary);
    tcase_add_test(tc, blas_threads);
    tcase_add_test(tc, suggest_names);
    suite_add_tcase(s, tc);
    int failed = tu_run_suite(s, true);
    return failed ? 1 : 0;
}
