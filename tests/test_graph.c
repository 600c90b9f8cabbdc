/* test_graph.c - unit tests of the graph loader (graph/, SPEC sections 1-3)
 * and of core/suggest.c.
 *
 * Runs from the top folder, as `make check` runs it. Covers:
 *   - tests/invalid/<case>/: each graph.json is loaded with graph_load_string
 *     under the file name "graph.json", its errors are printed with
 *     trl_errors_print, and "1\n" followed by that text must equal the case's
 *     `expected` file byte for byte (what `trellis validate graph.json` prints
 *     from inside the case folder, after its exit status);
 *   - valid graphs: the SPEC section 1 example field by field (schedule, edges,
 *     parameter names, shapes, offsets, defaults and prepared params), every
 *     tests/fixtures/<case>/graph.json, the defaults of bias and outputs per
 *     kind, and generated 10,000-node chains in both file orders;
 *   - limits and files: unreadable and missing files, a directory, a file over
 *     GRAPH_MAX_FILE_BYTES (sparse, refused before reading), too many nodes, a
 *     10,000-node delay-0 cycle, and that graph_free returns every byte;
 *   - suggest_closest and suggest_distance.
 */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graph/graph.h"
#include "core/alloc.h"
#include "core/suggest.h"
#include "ops/op.h"
#include "tests/support/testutil.h"

#define INVALID_DIR  "tests/invalid"
#define FIXTURES_DIR "tests/fixtures"
#define MAX_CASES    512
#define CHAIN_NODES  10000

/* ---- helpers */

/* The whole file in a new NUL-terminated buffer, or NULL. */
static char *read_text(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
        n += got;
        if (n + 1 == cap) buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    if (!buf) return NULL;
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

/* The errors as trl_errors_print writes them. */
static char *errors_text(const struct trl_errors *err)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    ck_assert_ptr_nonnull(f);
    trl_errors_print(err, f);
    fclose(f);
    return text;
}

static struct graph *load_text(const char *text, struct trl_errors *err)
{
    return graph_load_string(text, strlen(text), "graph.json", err);
}

/* Loads text that must be valid; fails the test with the errors otherwise. */
static struct graph *load_valid(const char *text)
{
    struct trl_errors err;
    struct graph *g = load_text(text, &err);
    if (!g) {
        char *msg = errors_text(&err);
        ck_abort_msg("valid graph refused:\n%s", msg);
        free(msg);
    }
    return g;
}

/* The text of the only error of an invalid graph. */
static char *load_error(const char *text)
{
    struct trl_errors err;
    struct graph *g = load_text(text, &err);
    ck_assert_ptr_null(g);
    ck_assert_int_ge(err.n, 1);
    return errors_text(&err);
}

static const struct graph_param *find_param(const struct graph *g, const char *name)
{
    for (int i = 0; i < g->n_params; i++)
        if (strcmp(g->params[i].name, name) == 0) return &g->params[i];
    return NULL;
}

/* A parsed REAL param of node n, read through its kind's table. */
static double node_real(const struct graph *g, const char *id, const char *name)
{
    const struct graph_node *n = &g->nodes[graph_find_node(g, id)];
    for (int k = 0; k < n->op->n_param_desc; k++)
        if (strcmp(n->op->param_desc[k].name, name) == 0) {
            double x;
            memcpy(&x, (const char *)n->params + n->op->param_desc[k].offset, sizeof x);
            return x;
        }
    ck_abort_msg("%s has no param %s", id, name);
    return NAN;
}

static int order_pos(const struct graph *g, const char *id)
{
    int i = graph_find_node(g, id);
    for (int k = 0; k < g->n_nodes; k++)
        if (g->order[k] == i) return k;
    return -1;
}

/* ---- tests/invalid/<case>/ */

static char *g_cases[MAX_CASES];
static int g_n_cases;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void cases_scan(void)
{
    DIR *d = opendir(INVALID_DIR);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d)) && g_n_cases < MAX_CASES;)
        if (e->d_name[0] != '.') g_cases[g_n_cases++] = strdup(e->d_name);
    closedir(d);
    qsort(g_cases, (size_t)g_n_cases, sizeof *g_cases, cmp_str);
}

START_TEST(test_invalid_case)
{
    char path[512];
    size_t len = 0;
    snprintf(path, sizeof path, INVALID_DIR "/%s/graph.json", g_cases[_i]);
    char *text = read_text(path, &len);
    ck_assert_msg(text != NULL, "%s: cannot read", path);
    snprintf(path, sizeof path, INVALID_DIR "/%s/expected", g_cases[_i]);
    char *expected = read_text(path, NULL);
    ck_assert_msg(expected != NULL, "%s: cannot read", path);

    struct trl_errors err;
    struct graph *g = graph_load_string(text, len, "graph.json", &err);
    ck_assert_msg(g == NULL, "%s: the invalid graph was accepted", g_cases[_i]);
    char *printed = errors_text(&err);
    char *actual = malloc(strlen(printed) + 3);
    sprintf(actual, "1\n%s", printed);
    ck_assert_msg(strcmp(actual, expected) == 0, "%s:\n--- expected\n%s--- actual\n%s", g_cases[_i],
                  expected, actual);
    free(actual);
    free(printed);
    free(expected);
    free(text);
}
END_TEST

START_TEST(test_invalid_cases_exist)
{
    /* one directory per rule: a missing folder must not pass as "no cases" */
    ck_assert_int_ge(g_n_cases, 35);
}
END_TEST

/* ---- valid graphs */

static const char spec_example[] =
    "{\n"
    "  \"trellis\": 1,\n"
    "  \"name\": \"lsnn-cue\",\n"
    "  \"dt\": 0.5,\n"
    "  \"nodes\": [\n"
    "    {\"id\": \"in\",  \"op\": \"input\", \"size\": 40},\n"
    "    {\"id\": \"lif\", \"op\": \"lif\", \"size\": 50, \"params\": {\"tau_m\": 20, \"v_th\": "
    "0.6},\n"
    "     \"inputs\": [\"in\", {\"from\": \"lif\", \"delay\": 1, \"no_self\": true},\n"
    "                      {\"from\": \"alif\", \"delay\": 1}]},\n"
    "    {\"id\": \"alif\", \"op\": \"alif\", \"size\": 50, \"params\": {\"tau_a\": 2000, "
    "\"beta\": "
    "1.8},\n"
    "     \"inputs\": [\"in\", {\"from\": \"lif\", \"delay\": 1},\n"
    "                      {\"from\": \"alif\", \"delay\": 1, \"no_self\": true}]},\n"
    "    {\"id\": \"out\", \"op\": \"readout\", \"size\": 2, \"params\": {\"tau\": 20},\n"
    "     \"inputs\": [\"lif\", \"alif\"]}\n"
    "  ],\n"
    "  \"outputs\": [\"out\"],\n"
    "  \"loss\": {\"node\": \"out\", \"type\": \"cross_entropy\"}\n"
    "}\n";

START_TEST(test_spec_example_nodes)
{
    struct graph *g = load_valid(spec_example);
    ck_assert_str_eq(g->name, "lsnn-cue");
    ck_assert_str_eq(g->file, "graph.json");
    ck_assert(g->dt == 0.5);
    ck_assert_int_eq(g->n_nodes, 4);
    const char *ids[] = {"in", "lif", "alif", "out"};
    const char *ops[] = {"input", "lif", "alif", "readout"};
    const int sizes[] = {40, 50, 50, 2};
    for (int i = 0; i < 4; i++) {
        ck_assert_str_eq(g->nodes[i].id, ids[i]);
        ck_assert_str_eq(g->nodes[i].op->name, ops[i]);
        ck_assert_int_eq(g->nodes[i].size, sizes[i]);
        ck_assert_int_eq(graph_find_node(g, ids[i]), i);
        ck_assert_int_eq(g->order[i], i);
    }
    ck_assert_int_eq(graph_find_node(g, "lfi"), -1);
    ck_assert_int_eq(graph_find_node(g, ""), -1);
    ck_assert_int_eq(g->n_outputs, 1);
    ck_assert_int_eq(g->outputs[0], 3);
    ck_assert_int_eq(g->loss_node, 3);
    ck_assert_int_eq(g->loss_type, LOSS_CROSS_ENTROPY);
    ck_assert_int_eq(g->max_delay, 1);
    /* bias: the kind's default (lif, alif: no; readout: yes; input: no) */
    ck_assert(!g->nodes[0].bias && !g->nodes[1].bias && !g->nodes[2].bias && g->nodes[3].bias);
    ck_assert_int_eq(g->nodes[1].bias_param, -1);
    ck_assert_int_eq(g->nodes[3].bias_param, 8);
    graph_free(g);
}
END_TEST

START_TEST(test_spec_example_edges)
{
    struct graph *g = load_valid(spec_example);
    ck_assert_int_eq(g->n_edges, 8);
    /* grouped by destination, file order: lif (3), alif (3), out (2) */
    const int src[] = {0, 1, 2, 0, 1, 2, 1, 2}, dst[] = {1, 1, 1, 2, 2, 2, 3, 3};
    const int delay[] = {0, 1, 1, 0, 1, 1, 0, 0}, index[] = {0, 1, 2, 0, 1, 2, 0, 1};
    const bool no_self[] = {0, 1, 0, 0, 0, 1, 0, 0};
    for (int k = 0; k < 8; k++) {
        const struct graph_edge *e = &g->edges[k];
        ck_assert_int_eq(e->src, src[k]);
        ck_assert_int_eq(e->dst, dst[k]);
        ck_assert_int_eq(e->delay, delay[k]);
        ck_assert_int_eq(e->no_self, no_self[k]);
        ck_assert_int_eq(e->input_index, index[k]);
        ck_assert(e->trainable && e->gain == 1.0);
        ck_assert_int_eq(e->param, k);
    }
    ck_assert_int_eq(g->nodes[0].n_in, 0);
    ck_assert_int_eq(g->nodes[1].n_in, 3);
    ck_assert_int_eq(g->nodes[3].n_in, 2);
    for (int j = 0; j < 3; j++) ck_assert_int_eq(g->nodes[2].in[j], 3 + j);
    /* out lists: edges leaving each node, in edge order */
    const int out_in[] = {0, 3}, out_lif[] = {1, 4, 6}, out_alif[] = {2, 5, 7};
    ck_assert_int_eq(g->nodes[0].n_out, 2);
    ck_assert_int_eq(g->nodes[1].n_out, 3);
    ck_assert_int_eq(g->nodes[2].n_out, 3);
    ck_assert_int_eq(g->nodes[3].n_out, 0);
    for (int j = 0; j < 2; j++) ck_assert_int_eq(g->nodes[0].out[j], out_in[j]);
    for (int j = 0; j < 3; j++) ck_assert_int_eq(g->nodes[1].out[j], out_lif[j]);
    for (int j = 0; j < 3; j++) ck_assert_int_eq(g->nodes[2].out[j], out_alif[j]);
    graph_free(g);
}
END_TEST

START_TEST(test_spec_example_params)
{
    struct graph *g = load_valid(spec_example);
    const char *names[] = {"lif.w.in",  "lif.w.lif.d1",  "lif.w.alif.d1",
                           "alif.w.in", "alif.w.lif.d1", "alif.w.alif.d1",
                           "out.w.lif", "out.w.alif",    "out.b"};
    const int rows[] = {50, 50, 50, 50, 50, 50, 2, 2, 2};
    const int cols[] = {40, 50, 50, 40, 50, 50, 50, 50, 1};
    const int node[] = {1, 1, 1, 2, 2, 2, 3, 3, 3};
    ck_assert_int_eq(g->n_params, 9);
    size_t offset = 0;
    for (int i = 0; i < 9; i++) {
        const struct graph_param *p = &g->params[i];
        ck_assert_str_eq(p->name, names[i]);
        ck_assert_int_eq(p->rows, rows[i]);
        ck_assert_int_eq(p->cols, cols[i]);
        ck_assert_int_eq(p->node, node[i]);
        ck_assert_int_eq(p->edge, i < 8 ? i : -1);
        ck_assert_uint_eq(p->count, (size_t)rows[i] * (size_t)cols[i]);
        ck_assert_uint_eq(p->offset, offset);
        ck_assert(p->trainable);
        offset += p->count;
    }
    ck_assert_uint_eq(g->n_param_values, offset);
    ck_assert_uint_eq(offset, 2000 + 2500 + 2500 + 2000 + 2500 + 2500 + 100 + 100 + 2);
    graph_free(g);
}
END_TEST

START_TEST(test_spec_example_op_params)
{
    struct graph *g = load_valid(spec_example);
    /* given values, and the table defaults for the rest */
    ck_assert(node_real(g, "lif", "tau_m") == 20);
    ck_assert(node_real(g, "lif", "v_th") == 0.6);
    ck_assert(node_real(g, "lif", "gamma") == 0.3);
    ck_assert(node_real(g, "alif", "tau_a") == 2000);
    ck_assert(node_real(g, "alif", "beta") == 1.8);
    ck_assert(node_real(g, "alif", "tau_m") == 20);
    ck_assert(node_real(g, "alif", "v_th") == 0.6);
    ck_assert(node_real(g, "out", "tau") == 20);
    /* prepare() ran with the file's dt: the readout's state Jacobian is kappa */
    const struct graph_node *out = &g->nodes[3];
    trl_real h_prev = 0, J = 0;
    out->op->state_jacobian(out->params, 1, 1, &h_prev, &J);
    ck_assert(fabs((double)J - exp(-0.5 / 20)) < 1e-6);
    /* lif with detach_reset (default true): J = alpha */
    const struct graph_node *lif = &g->nodes[1];
    lif->op->state_jacobian(lif->params, 1, 1, &h_prev, &J);
    ck_assert(fabs((double)J - exp(-0.5 / 20)) < 1e-6);
    graph_free(g);
}
END_TEST

START_TEST(test_defaults)
{
    struct graph *g =
        load_valid("{\"trellis\": 1, \"nodes\": ["
                   "{\"id\": \"x\", \"op\": \"input\", \"size\": 3},"
                   "{\"id\": \"d\", \"op\": \"dense\", \"size\": 2, \"inputs\": [\"x\"]},"
                   "{\"id\": \"k\", \"op\": \"leaky\", \"size\": 2, \"inputs\": [\"d\"]},"
                   "{\"id\": \"l\", \"op\": \"lif\", \"size\": 2, \"inputs\": [\"k\"]},"
                   "{\"id\": \"a\", \"op\": \"alif\", \"size\": 2, \"inputs\": [\"l\"]},"
                   "{\"id\": \"r\", \"op\": \"readout\", \"size\": 2, \"inputs\": "
                   "[{\"from\": \"a\", \"gain\": 0.5, \"trainable\": false}]}]}");
    ck_assert_str_eq(g->name, "");
    ck_assert(g->dt == 1.0);
    ck_assert_int_eq(g->loss_node, -1);
    ck_assert_int_eq(g->loss_type, LOSS_NONE);
    ck_assert_int_eq(g->max_delay, 0);
    const bool bias[] = {false, true, true, false, false, true};
    for (int i = 0; i < 6; i++) ck_assert_int_eq(g->nodes[i].bias, bias[i]);
    ck_assert_ptr_nonnull(find_param(g, "d.b"));
    ck_assert_ptr_nonnull(find_param(g, "k.b"));
    ck_assert_ptr_null(find_param(g, "l.b"));
    ck_assert_ptr_null(find_param(g, "a.b"));
    ck_assert_ptr_nonnull(find_param(g, "r.b"));
    ck_assert(node_real(g, "k", "tau_m") == 10);
    ck_assert(node_real(g, "l", "tau_m") == 20 && node_real(g, "l", "v_th") == 0.6);
    ck_assert(node_real(g, "a", "tau_a") == 200 && node_real(g, "a", "beta") == 1.8);
    /* the frozen edge keeps its gain and is not trainable */
    const struct graph_param *w = find_param(g, "r.w.a");
    ck_assert_ptr_nonnull(w);
    ck_assert(!w->trainable);
    ck_assert(g->edges[w->edge].gain == 0.5 && !g->edges[w->edge].trainable);
    ck_assert(find_param(g, "r.b")->trainable);
    /* outputs default: the nodes no edge reads from */
    ck_assert_int_eq(g->n_outputs, 1);
    ck_assert_int_eq(g->outputs[0], 5);
    graph_free(g);
}
END_TEST

START_TEST(test_explicit_bias_and_outputs)
{
    struct graph *g = load_valid(
        "{\"trellis\": 1, \"nodes\": ["
        "{\"id\": \"x\", \"op\": \"input\", \"size\": 3, \"bias\": false, \"inputs\": [], "
        "\"params\": {}},"
        "{\"id\": \"l\", \"op\": \"lif\", \"size\": 2, \"bias\": true, \"inputs\": [\"x\"]},"
        "{\"id\": \"r\", \"op\": \"readout\", \"size\": 2, \"bias\": false, \"inputs\": [\"l\"]},"
        "{\"id\": \"s\", \"op\": \"dense\", \"size\": 1, \"params\": {\"activation\": \"relu\"}, "
        "\"inputs\": [\"l\"]}],"
        "\"outputs\": [\"s\", \"l\"], \"loss\": {\"type\": \"mse\", \"node\": \"r\"}}");
    ck_assert_ptr_nonnull(find_param(g, "l.b"));
    ck_assert_ptr_null(find_param(g, "r.b"));
    ck_assert_int_eq(g->n_outputs, 2);
    ck_assert_int_eq(g->outputs[0], 3);
    ck_assert_int_eq(g->outputs[1], 1);
    ck_assert_int_eq(g->loss_type, LOSS_MSE);
    graph_free(g);
}
END_TEST

/* Issue 19: README's node table says, for every kind, what "bias" allows
 * and its default, as the loader does; and "bias": true loads for every
 * kind but input. */
START_TEST(test_readme_bias_column)
{
    FILE *f = fopen("README.md", "r");
    ck_assert_ptr_nonnull(f);
    char line[1024];
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "| `", 3) != 0) continue;
        char name[32];
        if (sscanf(line, "| `%31[a-z]` |", name) != 1) continue;
        const struct op_kind *op = op_find(name);
        char *last = strrchr(line, '|'); /* the bias column: the last cell */
        *last = 0;
        last = strrchr(line, '|');
        if (!op || !strstr(line, "not allowed") == !strstr(line, "true or false")) continue;
        const char *want = op->is_input       ? "not allowed"
                           : op->default_bias ? "true or false (true)"
                                              : "true or false (false)";
        ck_assert_msg(strstr(last, want), "README's node table, %s: \"%s\" lacks \"%s\"", name,
                      last, want);
        rows++;
        if (op->is_input) continue;
        char json[512];
        snprintf(json, sizeof json,
                 "{\"trellis\": 1, \"nodes\": [{\"id\": \"x\", \"op\": \"input\", \"size\": 2},"
                 "{\"id\": \"n\", \"op\": \"%s\", \"size\": 3, \"bias\": true, \"inputs\": "
                 "[\"x\"]}]}",
                 name);
        struct graph *g = load_valid(json);
        ck_assert_ptr_nonnull(find_param(g, "n.b"));
        graph_free(g);
    }
    fclose(f);
    ck_assert_int_eq(rows, op_n_kinds); /* every kind has its row */
}
END_TEST

START_TEST(test_default_outputs)
{
    /* r and s are read by nobody; l reads itself (delay 3) and is read by r;
     * y is read only by itself, which does not make it any less an output */
    struct graph *g =
        load_valid("{\"trellis\": 1, \"nodes\": ["
                   "{\"id\": \"x\", \"op\": \"input\", \"size\": 1},"
                   "{\"id\": \"r\", \"op\": \"readout\", \"size\": 1, \"inputs\": [\"l\"]},"
                   "{\"id\": \"l\", \"op\": \"lif\", \"size\": 1, \"inputs\": [\"x\", "
                   "{\"from\": \"l\", \"delay\": 3}]},"
                   "{\"id\": \"s\", \"op\": \"dense\", \"size\": 1, \"inputs\": [\"x\"]},"
                   "{\"id\": \"y\", \"op\": \"leaky\", \"size\": 1, \"inputs\": [\"x\", "
                   "{\"from\": \"y\", \"delay\": 1}]}]}");
    ck_assert_int_eq(g->n_outputs, 3);
    ck_assert_int_eq(g->outputs[0], 1);
    ck_assert_int_eq(g->outputs[1], 3);
    ck_assert_int_eq(g->outputs[2], 4);
    ck_assert_int_eq(g->max_delay, 3);
    ck_assert_ptr_nonnull(find_param(g, "l.w.l.d3"));
    /* schedule: inputs, then Kahn: l and s have no delay-0 input but x */
    ck_assert_int_eq(order_pos(g, "x"), 0);
    ck_assert_int_eq(order_pos(g, "l"), 1);
    ck_assert_int_eq(order_pos(g, "s"), 2);
    ck_assert_int_eq(order_pos(g, "y"), 3);
    ck_assert_int_eq(order_pos(g, "r"), 4);
    graph_free(g);
}
END_TEST

START_TEST(test_schedule_inputs_first)
{
    /* inputs first even when listed last; a delayed cycle is fine */
    struct graph *g =
        load_valid("{\"trellis\": 1, \"nodes\": ["
                   "{\"id\": \"c\", \"op\": \"dense\", \"size\": 1, \"inputs\": [\"b\", \"a\"]},"
                   "{\"id\": \"b\", \"op\": \"dense\", \"size\": 1, \"inputs\": [\"a\", "
                   "{\"from\": \"c\", \"delay\": 1}]},"
                   "{\"id\": \"a\", \"op\": \"leaky\", \"size\": 1, \"inputs\": [\"u\", "
                   "{\"from\": \"c\", \"delay\": 2}, {\"from\": \"a\", \"delay\": 1}]},"
                   "{\"id\": \"v\", \"op\": \"input\", \"size\": 1},"
                   "{\"id\": \"u\", \"op\": \"input\", \"size\": 1},"
                   "{\"id\": \"d\", \"op\": \"dense\", \"size\": 1, \"inputs\": [\"v\"]}]}");
    const char *expect[] = {"v", "u", "a", "d", "b", "c"};
    for (int k = 0; k < 6; k++) ck_assert_str_eq(g->nodes[g->order[k]].id, expect[k]);
    graph_free(g);
}
END_TEST

START_TEST(test_fixtures_load)
{
    const char *cases[] = {"alif_adaptation", "ce_masked", "dag_skip",
                           "deep_leaky3",     "lif_eprop", "rnn_tanh"};
    for (int c = 0; c < 6; c++) {
        char path[256];
        snprintf(path, sizeof path, FIXTURES_DIR "/%s/graph.json", cases[c]);
        struct trl_errors err;
        struct graph *g = graph_load(path, &err);
        if (!g) {
            char *msg = errors_text(&err);
            ck_abort_msg("%s refused:\n%s", path, msg);
        }
        ck_assert_str_eq(g->file, path);
        size_t offset = 0;
        for (int i = 0; i < g->n_params; i++) {
            ck_assert_uint_eq(g->params[i].offset, offset);
            offset += g->params[i].count;
        }
        ck_assert_uint_eq(g->n_param_values, offset);
        /* each node after its delay-0 sources */
        for (int k = 0; k < g->n_edges; k++)
            if (g->edges[k].delay == 0)
                ck_assert_int_lt(order_pos(g, g->nodes[g->edges[k].src].id),
                                 order_pos(g, g->nodes[g->edges[k].dst].id));
        graph_free(g);
    }
}
END_TEST

START_TEST(test_fixture_dag_skip)
{
    struct trl_errors err;
    struct graph *g = graph_load(FIXTURES_DIR "/dag_skip/graph.json", &err);
    ck_assert_ptr_nonnull(g);
    const char *expect[] = {"sensor", "spikes", "pre", "fast", "mix", "slow", "out"};
    for (int k = 0; k < 7; k++) ck_assert_str_eq(g->nodes[g->order[k]].id, expect[k]);
    ck_assert(g->dt == 0.5);
    ck_assert_int_eq(g->max_delay, 2);
    ck_assert_int_eq(g->n_params, 18);
    ck_assert_int_eq(g->n_outputs, 1);
    ck_assert_str_eq(g->nodes[g->outputs[0]].id, "out");
    const struct graph_param *p = find_param(g, "pre.w.mix.d2");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p->rows, 5);
    ck_assert_int_eq(p->cols, 4);
    ck_assert(!find_param(g, "out.w.sensor")->trainable);
    ck_assert(g->edges[find_param(g, "slow.w.slow.d1")->edge].gain == 0.5);
    graph_free(g);
}
END_TEST

/* "{"trellis": 1, "nodes": [...]}" with a chain x -> n0 -> n1 -> ... in file
 * order, or listed backwards (every node before its source). */
static char *chain_json(int n, bool backwards)
{
    size_t cap = (size_t)n * 96 + 256, len = 0;
    char *s = malloc(cap);
    len += (size_t)sprintf(s + len, "{\"trellis\": 1, \"nodes\": [");
    for (int k = 0; k < n; k++) {
        int i = backwards ? n - 1 - k : k;
        if (i == 0)
            len += (size_t)sprintf(s + len, "{\"id\": \"n0\", \"op\": \"input\", \"size\": 1}");
        else
            len += (size_t)sprintf(s + len,
                                   "{\"id\": \"n%d\", \"op\": \"dense\", \"size\": 2, \"inputs\": "
                                   "[\"n%d\", {\"from\": \"n%d\", \"delay\": 1}]}",
                                   i, i - 1, i);
        len += (size_t)sprintf(s + len, k + 1 < n ? "," : "]}");
    }
    return s;
}

static void check_chain(bool backwards)
{
    char *text = chain_json(CHAIN_NODES, backwards);
    struct graph *g = load_valid(text);
    free(text);
    ck_assert_int_eq(g->n_nodes, CHAIN_NODES);
    ck_assert_int_eq(g->n_edges, 2 * (CHAIN_NODES - 1));
    char id[32];
    for (int k = 0; k < CHAIN_NODES; k++) {
        snprintf(id, sizeof id, "n%d", k);
        ck_assert_int_eq(g->order[k], graph_find_node(g, id));
    }
    ck_assert_int_eq(g->n_outputs, 1);
    ck_assert_int_eq(g->outputs[0], graph_find_node(g, id));
    ck_assert_int_eq(g->n_params, 3 * (CHAIN_NODES - 1));
    /* per node: from its source [2 x 2] (n1: [2 x 1]), from itself [2 x 2], bias [2] */
    ck_assert_uint_eq(g->n_param_values, (size_t)(4 + 4 + 2) * (CHAIN_NODES - 1) - 2);
    graph_free(g);
}

START_TEST(test_chain_10000)
{
    check_chain(false);
}
END_TEST

START_TEST(test_chain_10000_backwards)
{
    check_chain(true);
}
END_TEST

START_TEST(test_cycle_10000)
{
    /* a delay-0 ring of 10,000 nodes: one error, its text abbreviated */
    size_t cap = (size_t)CHAIN_NODES * 80 + 256, len = 0;
    char *s = malloc(cap);
    len += (size_t)sprintf(s + len, "{\"trellis\": 1, \"nodes\": [{\"id\": \"x\", \"op\": "
                                    "\"input\", \"size\": 1}");
    for (int i = 0; i < CHAIN_NODES; i++)
        len += (size_t)sprintf(s + len,
                               ",{\"id\": \"n%d\", \"op\": \"dense\", \"size\": 1, \"inputs\": "
                               "[\"x\", \"n%d\"]}",
                               i, (i + CHAIN_NODES - 1) % CHAIN_NODES);
    sprintf(s + len, "]}");
    char *msg = load_error(s);
    free(s);
    ck_assert_str_eq(msg, "graph.json: /nodes/1/inputs/1: cycle: n0 -> n1 -> n2 -> n3 -> ... "
                          "(9993 more) -> n9997 -> n9998 -> n9999 -> n0 (add \"delay\": 1 to one "
                          "edge)\n");
    free(msg);
}
END_TEST

/* ---- files and limits */

START_TEST(test_missing_file)
{
    struct trl_errors err;
    ck_assert_ptr_null(graph_load(INVALID_DIR "/no-such-case/graph.json", &err));
    char *msg = errors_text(&err);
    ck_assert_str_eq(msg, INVALID_DIR "/no-such-case/graph.json: cannot read: No such file or "
                                      "directory\n");
    free(msg);
}
END_TEST

START_TEST(test_directory)
{
    struct trl_errors err;
    ck_assert_ptr_null(graph_load(INVALID_DIR, &err));
    char *msg = errors_text(&err);
    ck_assert_str_eq(msg, INVALID_DIR ": cannot read: Is a directory\n");
    free(msg);
}
END_TEST

START_TEST(test_file_too_large)
{
    /* a sparse file: refused from its size, before it is read */
    char path[] = "/tmp/trellis-test-graph-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)GRAPH_MAX_FILE_BYTES + 1), 0);
    close(fd);
    struct trl_errors err;
    ck_assert_ptr_null(graph_load(path, &err));
    unlink(path);
    ck_assert_int_eq(err.n, 1);
    ck_assert_ptr_nonnull(strstr(err.e[0].msg, "too large (67108865 bytes"));
    /* the same limit on text in memory, checked before the text is touched */
    ck_assert_ptr_null(graph_load_string("{}", GRAPH_MAX_FILE_BYTES + 1, "graph.json", &err));
    ck_assert_ptr_nonnull(strstr(err.e[0].msg, "too large"));
}
END_TEST

START_TEST(test_file_read_whole)
{
    /* a file read through graph_load gives the same graph as its text */
    char path[] = "/tmp/trellis-test-graph-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs(spec_example, f);
    fclose(f);
    struct trl_errors err;
    struct graph *g = graph_load(path, &err);
    unlink(path);
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(g->n_params, 9);
    graph_free(g);
}
END_TEST

START_TEST(test_too_many_nodes)
{
    size_t n = GRAPH_MAX_NODES + 1, len = 0;
    char *s = malloc(n * 2 + 64);
    len += (size_t)sprintf(s, "{\"trellis\": 1, \"nodes\": [");
    for (size_t i = 0; i < n; i++) {
        s[len++] = '0';
        s[len++] = ',';
    }
    sprintf(s + len - 1, "]}");
    char *msg = load_error(s);
    free(s);
    ck_assert_str_eq(msg, "graph.json: /nodes: too many nodes (1048577); the limit is 1048576: "
                          "use fewer, larger nodes\n");
    free(msg);
}
END_TEST

/* A graph whose hidden node's id is `id`: input, a recurrent lif, a readout. */
static char *graph_with_id(const char *id, const char *other)
{
    const char *fmt = "{\"trellis\": 1, \"nodes\": [{\"id\": \"in\", \"op\": \"input\", "
                      "\"size\": 2}, {\"id\": \"%s\", \"op\": \"lif\", \"size\": 3, \"inputs\": "
                      "[\"in\", {\"from\": \"%s\", \"delay\": 1}]}, {\"id\": \"%s\", \"op\": "
                      "\"readout\", \"size\": 2, \"bias\": true, \"inputs\": [\"%s\"]}]}";
    size_t n = strlen(fmt) + 3 * strlen(id) + strlen(other) + 1;
    char *s = malloc(n);
    snprintf(s, n, fmt, id, id, other, id);
    return s;
}

START_TEST(test_id_one_mebibyte)
{
    /* SPEC section 1 sets no length on ids: a 1 MiB id works, and so do the
     * parameter names built from it */
    size_t n = (size_t)1 << 20;
    char *id = malloc(n + 1);
    memset(id, 'q', n);
    id[n] = '\0';
    char *text = graph_with_id(id, "out");
    struct graph *g = load_valid(text);
    ck_assert_int_eq(graph_find_node(g, id), 1);
    ck_assert_int_eq(g->n_params, 4);
    ck_assert_uint_eq(strlen(g->params[1].name), 2 * n + 6); /* ID.w.ID.d1 */
    ck_assert_int_eq(strncmp(g->params[1].name + n, ".w.", 3), 0);
    ck_assert_str_eq(g->params[1].name + 2 * n + 3, ".d1");
    ck_assert_uint_eq(strlen(g->params[2].name), n + 6); /* out.w.ID */
    graph_free(g);
    free(text);
    /* the same id twice: the message quotes it cut short, and stays one line */
    text = graph_with_id(id, id);
    char *msg = load_error(text);
    ck_assert_ptr_nonnull(strstr(msg, "/nodes/2/id: duplicate id \"qqqq"));
    ck_assert_uint_lt(strlen(msg), 400);
    free(msg);
    free(text);
    free(id);
}
END_TEST

START_TEST(test_free_returns_memory)
{
    size_t before = trl_mem_stats()->current[TRL_MEM_MISC];
    struct graph *g = load_valid(spec_example);
    ck_assert_uint_gt(trl_mem_stats()->current[TRL_MEM_MISC], before);
    graph_free(g);
    ck_assert_uint_eq(trl_mem_stats()->current[TRL_MEM_MISC], before);
    /* and after a refused graph with many errors */
    char *msg = load_error("{\"trellis\": 2, \"nodes\": [{\"id\": \"a\", \"op\": \"lif\", "
                           "\"size\": 1, \"inputs\": [\"a\", \"b\", {\"from\": \"a\"}]}]}");
    free(msg);
    ck_assert_uint_eq(trl_mem_stats()->current[TRL_MEM_MISC], before);
    graph_free(NULL);
}
END_TEST

START_TEST(test_errors_are_independent)
{
    /* the loader resets err; file names the text */
    struct trl_errors err;
    err.n = 7;
    err.n_total = 9;
    struct graph *g = graph_load_string(spec_example, strlen(spec_example), "x.json", &err);
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(err.n_total, 0);
    ck_assert_str_eq(err.file, "x.json");
    ck_assert_str_eq(g->file, "x.json");
    graph_free(g);
}
END_TEST

/* ---- suggest */

START_TEST(test_suggest_distance)
{
    ck_assert_int_eq(suggest_distance("abc", "abc"), 0);
    ck_assert_int_eq(suggest_distance("", "ab"), 2);
    ck_assert_int_eq(suggest_distance("ab", ""), 2);
    ck_assert_int_eq(suggest_distance("lfi", "lif"), 1); /* a swap is one edit */
    ck_assert_int_eq(suggest_distance("tau_n", "tau_m"), 1);
    ck_assert_int_eq(suggest_distance("inptus", "inputs"), 1);
    ck_assert_int_eq(suggest_distance("hiden", "hidden"), 1);
    ck_assert_int_eq(suggest_distance("mse", "cross_entropy"), SUGGEST_MAX_DISTANCE + 1);
    ck_assert_int_eq(suggest_distance("kitten", "sitting"), SUGGEST_MAX_DISTANCE + 1);
    ck_assert_int_eq(suggest_distance("abcd", "badc"), 2);
    ck_assert_int_eq(suggest_distance("abcdef", "abxdyf"), 2);
    ck_assert_int_eq(suggest_distance("abcdef", "xbxdxf"), SUGGEST_MAX_DISTANCE + 1);
}
END_TEST

START_TEST(test_suggest_closest)
{
    const char *ops[] = {"input", "dense", "leaky", "lif", "alif", "readout"};
    ck_assert_str_eq(suggest_closest("lfi", ops, 6), "lif");
    ck_assert_str_eq(suggest_closest("alf", ops, 6), "alif");
    ck_assert_str_eq(suggest_closest("aif", ops, 6), "lif"); /* lif and alif at 1: first wins */
    ck_assert_str_eq(suggest_closest("redout", ops, 6), "readout");
    ck_assert_str_eq(suggest_closest("lif", ops, 6), "lif");
    ck_assert_ptr_null(suggest_closest("conv", ops, 6));
    ck_assert_ptr_null(suggest_closest(NULL, ops, 6));
    ck_assert_ptr_null(suggest_closest("lif", ops, 0));
    const char *keys[] = {"dt", "id"};
    ck_assert_ptr_null(suggest_closest("x", keys, 2)); /* nothing in common */
    ck_assert_ptr_null(suggest_closest("op", keys, 2));
    ck_assert_str_eq(suggest_closest("d", keys, 2), "dt");
    const char *with_null[] = {NULL, "tanh"};
    ck_assert_str_eq(suggest_closest("tahn", with_null, 2), "tanh");
}
END_TEST

START_TEST(test_suggest_long)
{
    /* megabyte strings: linear time, no allocation */
    size_t n = 1 << 20;
    char *a = malloc(n + 1), *b = malloc(n + 2);
    memset(a, 'a', n);
    a[n] = '\0';
    memset(b, 'a', n + 1);
    b[n + 1] = '\0';
    b[n / 2] = 'b';
    ck_assert_int_eq(suggest_distance(a, b), 1);
    const char *opts[] = {"short", b};
    ck_assert_ptr_eq(suggest_closest(a, opts, 2), b);
    b[10] = 'c';
    ck_assert_int_eq(suggest_distance(a, b), 2);
    b[20] = 'd';
    ck_assert_ptr_null(suggest_closest(a, opts, 2));
    free(a);
    free(b);
}
END_TEST

static Suite *graph_suite(void)
{
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("invalid");
    tcase_add_test(tc, test_invalid_cases_exist);
    tcase_add_loop_test(tc, test_invalid_case, 0, g_n_cases);
    suite_add_tcase(s, tc);

    tc = tcase_create("valid");
    tcase_add_test(tc, test_spec_example_nodes);
    tcase_add_test(tc, test_spec_example_edges);
    tcase_add_test(tc, test_spec_example_params);
    tcase_add_test(tc, test_spec_example_op_params);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_explicit_bias_and_outputs);
    tcase_add_test(tc, test_default_outputs);
    tcase_add_test(tc, test_readme_bias_column);
    tcase_add_test(tc, test_schedule_inputs_first);
    tcase_add_test(tc, test_fixtures_load);
    tcase_add_test(tc, test_fixture_dag_skip);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_chain_10000);
    tcase_add_test(tc, test_chain_10000_backwards);
    tcase_add_test(tc, test_cycle_10000);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_directory);
    tcase_add_test(tc, test_file_too_large);
    tcase_add_test(tc, test_file_read_whole);
    tcase_add_test(tc, test_too_many_nodes);
    tcase_add_test(tc, test_id_one_mebibyte);
    tcase_add_test(tc, test_free_returns_memory);
    tcase_add_test(tc, test_errors_are_independent);
    suite_add_tcase(s, tc);

    tc = tcase_create("suggest");
    tcase_add_test(tc, test_suggest_distance);
    tcase_add_test(tc, test_suggest_closest);
    tcase_add_test(tc, test_suggest_long);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    cases_scan();
    int failed = tu_run_suite(graph_suite(), true);
    for (int i = 0; i < g_n_cases; i++) free(g_cases[i]);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
