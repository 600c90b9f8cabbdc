/* cmd_compare.c - `trellis compare GRAPH --params P --data D [--algos LIST]
 * [--engine E] [--order M,...]
 * [--feedback symmetric,random] [--json]`: the gradients of several algorithms against the
 * exact one (bptt) on the same graph, parameters and data, per tensor, per
 * node, per depth and for the whole network, with the time and trace memory
 * of each algorithm. The metrics and the depth are defined in
 * trellis.h (trl_compare); tools/compare_cli.h says how undefined values print. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tools/compare_cli.h"

/* ---- the table ---- */

struct table {
    const trl_compare *c;
    int n_algos;
    int name_w, algo_w; /* widths of the first column and of the algo column */
    bool any_late, any_undefined;
};

/* cosine: 4 decimals; ratios: 4 decimals in [1e-3, 1e4), else 3 digits with
 * an exponent; "-" for NaN. */
static void ratio_cell(char *buf, size_t cap, double v)
{
    if (v == 0 || (fabs(v) >= 1e-3 && fabs(v) < 1e4))
        snprintf(buf, cap, "%.4f", v);
    else
        compare_cli_cell(buf, cap, v, 3);
}

static void print_metric_cells(struct table *t, const trl_metrics *m)
{
    char c[32], e[32], n[32], s[32];
    if (m->cosine == m->cosine)
        snprintf(c, sizeof c, "%.4f", m->cosine);
    else
        snprintf(c, sizeof c, "-");
    ratio_cell(e, sizeof e, m->rel_err);
    ratio_cell(n, sizeof n, m->norm_ratio);
    if (m->sign_agree == m->sign_agree)
        snprintf(s, sizeof s, "%.1f%%", 100 * m->sign_agree);
    else
        snprintf(s, sizeof s, "-");
    t->any_undefined = t->any_undefined || strcmp(c, "-") == 0 || strcmp(e, "-") == 0;
    printf("  %9s %10s %10s %10s\n", c, e, n, s);
}

static void print_metric_header(const struct table *t)
{
    printf("  %-*s %9s %10s %10s %10s\n", t->algo_w, "algo", "cosine", "rel_err", "norm_ratio",
           "sign_agree");
}

/* The name of compared gradient a (-1: the reference) into buf. */
static const char *label_of(const trl_compare *c, int a, char *buf, size_t cap)
{
    compare_cli_label(&trl_compare_cost_of(c, a)->algo, buf, cap);
    return buf;
}

/* The rows of one item: its label columns on the first, one row per algorithm. */
static void print_item(struct table *t, const char *label, const char *cols,
                       const trl_compare_item *it)
{
    for (int a = 0; a < t->n_algos; a++) {
        printf("  %-*s %s", t->name_w, a ? "" : label, a ? "" : cols);
        if (a) printf("%*s", (int)strlen(cols), "");
        char name[64];
        printf("  %-*s", t->algo_w, label_of(t->c, a, name, sizeof name));
        print_metric_cells(t, &it->m[a]);
    }
}

static void depth_text(char *buf, size_t cap, const trl_compare_item *it, struct table *t)
{
    if (it->depth < 0)
        snprintf(buf, cap, "none");
    else
        snprintf(buf, cap, "%d%s", it->depth, it->delayed_only ? "*" : "");
    t->any_late = t->any_late || it->delayed_only;
}

static void print_tensors(struct table *t)
{
    printf("\nper tensor\n  %-*s %6s %8s", t->name_w, "tensor", "depth", "values");
    print_metric_header(t);
    for (int k = 0; k < trl_compare_count(t->c, TRL_GROUP_TENSOR); k++) {
        const trl_compare_item *it = trl_compare_item_at(t->c, TRL_GROUP_TENSOR, k);
        char d[32], cols[64];
        depth_text(d, sizeof d, it, t);
        snprintf(cols, sizeof cols, "%6s %8zu", d, it->count);
        print_item(t, it->name, cols, it);
    }
}

static void print_nodes(struct table *t)
{
    printf("\nper node (its tensors concatenated; mean_z: mean output per unit and step)\n");
    printf("  %-*s %6s %8s %8s", t->name_w, "node", "depth", "values", "mean_z");
    print_metric_header(t);
    for (int k = 0; k < trl_compare_count(t->c, TRL_GROUP_NODE); k++) {
        const trl_compare_item *it = trl_compare_item_at(t->c, TRL_GROUP_NODE, k);
        char d[32], cols[64];
        depth_text(d, sizeof d, it, t);
        snprintf(cols, sizeof cols, "%6s %8zu %8.4f", d, it->count,
                 trl_compare_mean_z(t->c, it->node));
        print_item(t, it->name, cols, it);
    }
}

static void print_depths(struct table *t)
{
    printf("\nper depth (delay-0 edges to the loss; the tensors of a depth concatenated)\n");
    printf("  %-*s %7s %8s", t->name_w, "depth", "tensors", "values");
    print_metric_header(t);
    const int n_depths = trl_compare_count(t->c, TRL_GROUP_DEPTH);
    for (int k = 0; k <= n_depths; k++) {
        const trl_compare_item *it = k < n_depths ? trl_compare_item_at(t->c, TRL_GROUP_DEPTH, k)
                                                  : trl_compare_item_at(t->c, TRL_GROUP_TOTAL, 0);
        char d[32], cols[64];
        if (k == n_depths)
            snprintf(d, sizeof d, "all");
        else
            depth_text(d, sizeof d, it, t);
        snprintf(cols, sizeof cols, "%7d %8zu", it->n_tensors, it->count);
        print_item(t, d, cols, it);
    }
}

static void print_cost_row(const trl_compare *c, int a, int w, const char *note)
{
    const trl_compare_cost *cost = trl_compare_cost_of(c, a);
    char tb[32], hb[32], name[64];
    compare_cli_bytes(tb, sizeof tb, cost->trace_bytes);
    compare_cli_bytes(hb, sizeof hb, cost->history_bytes);
    printf("  %-*s %10.4f %12s %12s %14.8g%s\n", w, label_of(c, a, name, sizeof name),
           cost->seconds, tb, hb, cost->loss, note);
}

static int algo_width(const trl_compare *c)
{
    int w = 4;
    for (int a = 0; a < trl_compare_algo_count(c); a++) {
        char name[64];
        int n = (int)strlen(label_of(c, a, name, sizeof name));
        if (n > w) w = n;
    }
    return w;
}

static void print_costs(const trl_compare *c)
{
    const int w = algo_width(c) > 14 ? algo_width(c) : 14;
    printf("\ntime and memory (wall time of the gradient call; peak bytes allocated during it)\n");
    printf("  %-*s %10s %12s %12s %14s\n", w, "algo", "seconds", "traces", "history", "loss");
    print_cost_row(c, -1, w, "  (reference)");
    for (int a = 0; a < trl_compare_algo_count(c); a++) print_cost_row(c, a, w, "");
}

static int name_width(const trl_compare *c)
{
    int w = 6;
    for (int k = 0; k < trl_compare_count(c, TRL_GROUP_TENSOR); k++) {
        int n = (int)strlen(trl_compare_item_at(c, TRL_GROUP_TENSOR, k)->name);
        if (n > w) w = n;
    }
    return w;
}

static void print_text(const trl_graph *g, const trl_data *d, const trl_compare *c)
{
    struct table t = {c, trl_compare_algo_count(c), name_width(c), algo_width(c), false, false};
    trl_graph_info gi;
    int B, T;
    trl_graph_get_info(g, &gi);
    trl_data_shape(d, &B, &T);
    printf("%s: gradients against bptt (exact), %d samples x %d steps, %s\n", gi.file, B, T,
           trl_precision());
    print_tensors(&t);
    print_nodes(&t);
    print_depths(&t);
    print_costs(c);
    if (t.any_late || t.any_undefined) printf("\n");
    if (t.any_late)
        printf("* delayed_only: no path of delay-0 edges reaches the loss, so eprop's "
               "gradient is exactly 0\n");
    if (t.any_undefined) printf("- undefined (0/0: a zero gradient)\n");
}

/* ---- JSON ---- */

static json_t *metrics_json(const trl_metrics *m)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o}", "cosine", compare_cli_json_real(m->cosine),
                     "rel_err", compare_cli_json_real(m->rel_err), "norm_ratio",
                     compare_cli_json_real(m->norm_ratio), "sign_agree",
                     compare_cli_json_real(m->sign_agree), "norm", compare_cli_json_real(m->norm));
}

enum item_kind { ITEM_TENSOR, ITEM_NODE, ITEM_GROUP };

static json_t *item_json(const trl_graph *g, const trl_compare *c, const trl_compare_item *it,
                         enum item_kind kind)
{
    json_t *o = json_object(), *by = json_object();
    if (kind == ITEM_TENSOR) {
        trl_node_info ni;
        trl_graph_node(g, it->node, &ni);
        json_object_set_new(o, "name", json_string(it->name));
        json_object_set_new(o, "node", json_string(ni.id));
    } else if (kind == ITEM_NODE) {
        json_object_set_new(o, "id", json_string(it->name));
        json_object_set_new(o, "mean_z", compare_cli_json_real(trl_compare_mean_z(c, it->node)));
    }
    json_object_set_new(o, "depth", it->depth >= 0 ? json_integer(it->depth) : json_null());
    json_object_set_new(o, "delayed_only", json_boolean(it->delayed_only));
    json_object_set_new(o, "tensors", json_integer(it->n_tensors));
    json_object_set_new(o, "values", json_integer((json_int_t)it->count));
    json_object_set_new(o, "norm_exact", compare_cli_json_real(it->m[0].norm_exact));
    for (int a = 0; a < trl_compare_algo_count(c); a++) {
        char name[64];
        json_object_set_new(by, label_of(c, a, name, sizeof name), metrics_json(&it->m[a]));
    }
    json_object_set_new(o, "algos", by);
    return o;
}

static json_t *items_json(const trl_graph *g, const trl_compare *c, trl_compare_group group,
                          enum item_kind kind)
{
    json_t *a = json_array();
    for (int k = 0; k < trl_compare_count(c, group); k++)
        json_array_append_new(a, item_json(g, c, trl_compare_item_at(c, group, k), kind));
    return a;
}

static json_t *cost_json(const trl_compare_cost *c)
{
    bool reverse = !trl_grad_is_online(&c->algo);
    return json_pack(
        "{s:s, s:s, s:i, s:s, s:o, s:I, s:I, s:o}", "algo", trl_algo_name(c->algo.algo), "engine",
        reverse ? "reverse" : "online", "order", c->algo.order > 1 ? c->algo.order : 1, "feedback",
        c->algo.feedback == TRL_FEEDBACK_RANDOM ? "random" : "symmetric", "seconds",
        compare_cli_json_real(c->seconds), "trace_bytes", (json_int_t)c->trace_bytes,
        "history_bytes", (json_int_t)c->history_bytes, "loss", compare_cli_json_real(c->loss));
}

static int print_json(const trl_graph *g, const trl_data *d, const trl_compare *c)
{
    json_t *algos = json_array(), *cost = json_array();
    const int n_algos = trl_compare_algo_count(c);
    for (int a = 0; a < n_algos; a++) {
        char name[64];
        json_array_append_new(algos, json_string(label_of(c, a, name, sizeof name)));
    }
    for (int a = -1; a < n_algos; a++)
        json_array_append_new(cost, cost_json(trl_compare_cost_of(c, a)));
    trl_graph_info gi;
    int B, T;
    trl_graph_get_info(g, &gi);
    trl_data_shape(d, &B, &T);
    json_t *o = json_pack(
        "{s:s, s:s, s:i, s:i, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "graph", gi.file,
        "precision", trl_precision(), "batch", B, "steps", T, "exact", "bptt", "loss",
        compare_cli_json_real(trl_compare_cost_of(c, -1)->loss), "algos", algos, "tensors",
        items_json(g, c, TRL_GROUP_TENSOR, ITEM_TENSOR), "nodes",
        items_json(g, c, TRL_GROUP_NODE, ITEM_NODE), "depths",
        items_json(g, c, TRL_GROUP_DEPTH, ITEM_GROUP), "total",
        item_json(g, c, trl_compare_item_at(c, TRL_GROUP_TOTAL, 0), ITEM_GROUP), "cost", cost);
    if (!o) return -1;
    int rc = json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(9));
    printf("\n");
    json_decref(o);
    return rc;
}

/* ---- the command ---- */

/* The parameters and data for g, or the exit status of the failure (printed). */
static int load_inputs(const trl_graph *g, const char *params_path, const char *data_path,
                       trl_params **params, trl_data **d, trl_error *err)
{
    trl_graph_info gi;
    trl_graph_get_info(g, &gi);
    if (gi.loss_node < 0) {
        fprintf(stderr,
                "%s: /loss: the graph has no loss; add \"loss\": {\"node\": ID, \"type\": "
                "\"mse\"} to compare gradients\n",
                gi.file);
        return EXIT_INPUT;
    }
    if (trl_params_new(g, params, err) != TRL_OK ||
        trl_params_load(*params, params_path, err) != TRL_OK ||
        trl_data_load(g, data_path, TRL_DATA_TARGET, d, err) != TRL_OK)
        return cli_fail(err);
    return EXIT_OK;
}

static int run_compare(const char *graph_path, const char *params_path, const char *data_path,
                       const trl_grad_opts *algos, int n_algos, bool as_json)
{
    trl_error *err = trl_error_new();
    trl_graph *g = err ? cli_graph(graph_path, err) : NULL;
    trl_params *params = NULL;
    trl_data *d = NULL;
    trl_compare *c = NULL;
    int status = g ? load_inputs(g, params_path, data_path, &params, &d, err) : EXIT_INPUT;
    bool random = false;
    for (int a = 0; a < n_algos; a++) random = random || algos[a].feedback == TRL_FEEDBACK_RANDOM;
    if (status == EXIT_OK && random && !trl_params_feedback_count(params)) {
        fprintf(stderr,
                "%s: --feedback random needs feedback matrices (n.fb.s) and the file holds "
                "none; " CLI_FEEDBACK_HINT "\n",
                params_path);
        status = EXIT_INPUT;
    }
    if (status == EXIT_OK && trl_compare_new(g, params, d, algos, n_algos, &c, err) != TRL_OK)
        status = cli_fail(err);
    else if (status == EXIT_OK && as_json)
        status = print_json(g, d, c) ? EXIT_INPUT : EXIT_OK;
    else if (status == EXIT_OK)
        print_text(g, d, c);
    trl_compare_free(c);
    trl_params_free(params);
    trl_data_free(d);
    trl_graph_free(g);
    trl_error_free(err);
    return status;
}

static int compare_main(int argc, char **argv)
{
    const char *params_path = NULL, *data_path = NULL;
    struct compare_cli_axes ax = {NULL, NULL, NULL, NULL};
    const char *pos[1];
    bool as_json = false;
    int n_pos = 1;
    const struct opt opts[] = {
        {"--params", NULL, OPT_STRING, &params_path, NULL},
        {"--data", NULL, OPT_STRING, &data_path, NULL},
        {"--algos", NULL, OPT_STRING, &ax.algos, NULL},
        {"--engine", NULL, OPT_STRING, &ax.engine, NULL},
        {"--order", NULL, OPT_STRING, &ax.orders, NULL},
        {"--feedback", NULL, OPT_STRING, &ax.feedback, NULL},
        {"--json", NULL, OPT_FLAG, &as_json, NULL},
    };
    int rc = cli_parse(&cmd_compare, argc, argv, opts, CLI_COUNT(opts), pos, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    if (n_pos != 1) return cli_usage_error(&cmd_compare, "expected one GRAPH file");
    if (!params_path) return cli_usage_error(&cmd_compare, "--params PARAMS is required");
    if (!data_path) return cli_usage_error(&cmd_compare, "--data DATA is required");
    trl_grad_opts algos[TRL_COMPARE_MAX];
    int n_algos = compare_cli_algos(&cmd_compare, &ax, algos);
    if (n_algos < 0) return EXIT_USAGE;
    return run_compare(pos[0], params_path, data_path, algos, n_algos, as_json);
}

const struct command cmd_compare = {
    .name = "compare",
    .run = compare_main,
    .usage = "GRAPH --params PARAMS --data DATA [--algos eprop,rtrl] [--engine online|reverse] "
             "[--order M,...] [--feedback symmetric,random] [--json]",
    .summary = "compare gradients of eprop/rtrl with the exact one, per tensor, node and depth",
    .help = "Computes the exact gradient (bptt) and the gradient of every algorithm of\n"
            "--algos on the same graph, parameters and data, and compares them for every\n"
            "trainable tensor, every node (its tensors concatenated), every depth (the\n"
            "tensors of that depth concatenated) and the whole network. Then the wall time\n"
            "and peak trace and history memory of each gradient call.\n\n"
            "metrics (g: the algorithm's gradient, e: the exact one):\n"
            "  cosine       <g, e> / (|g| |e|)\n"
            "  rel_err      |g - e| / |e|\n"
            "  norm_ratio   |g| / |e|\n"
            "  sign_agree   fraction of entries with sign(g) == sign(e), where sign(0) = 0\n"
            "               (two zeros agree; a zero against a nonzero does not)\n"
            "  depth        least number of delay-0 edges on a path from the tensor's node\n"
            "               to the loss node (delayed edges count 0; the loss node's own\n"
            "               tensors: 0; \"none\": no path)\n"
            "  *            delayed_only: no path of delay-0 edges reaches the loss; eprop,\n"
            "               which holds the source of every delayed edge constant, gives 0\n"
            "Undefined values (0/0, e.g. the cosine of a zero gradient) print as \"-\" and\n"
            "are null in JSON.\n\n"
            "options:\n"
            "  --params PARAMS   parameter file\n"
            "  --data DATA       data file with a target\n"
            "  --algos LIST      comma-separated, from bptt, rtrl, eprop (default eprop)\n"
            "  --engine ENGINE   eprop's engine: online (default) or reverse\n"
            "  --order LIST      eprop: m-order e-prop, once per order (e.g. 1,2,3,5;\n"
            "                    default 1; M >= T gives the exact gradient)\n"
            "  --feedback LIST   symmetric (default), random (the n.fb.s matrices of\n"
            "                    --params, from init --feedback random) or both: every\n"
            "                    algorithm once per mode; the reference stays bptt with\n"
            "                    the weights. At most 4 gradients in all\n"
            "  --json            one JSON object instead of the tables\n\n"
            "example:\n"
            "  trellis init models/skip_stack.json --seed 1 -o p.safetensors\n"
            "  trellis data delayed_xor --graph models/skip_stack.json --batch 8 -o d.safetensors\n"
            "  trellis compare models/skip_stack.json --params p.safetensors --data "
            "d.safetensors --algos eprop,rtrl\n",
};
