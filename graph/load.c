/* load.c - graph_load and graph_load_string: read the file, parse it with
 * jansson (duplicate keys rejected), run every check of SPEC section 1 (in
 * the order loader.h lists) and, when none failed, fill the rest of struct
 * graph: prepared params, default outputs, max_delay and the parameter table.
 *
 * A file is refused before it is read whole if it is larger than
 * GRAPH_MAX_FILE_BYTES; every array the loader allocates is sized from the
 * parsed file (bounded by its size) or checked against a GRAPH_MAX_* limit.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "graph/loader.h"

void *loader_alloc(struct graph_loader *ld, size_t n, size_t size)
{
    void *p = trl_alloc(n, size, TRL_MEM_MISC);
    if (!p && !ld->oom) {
        ld->oom = true;
        trl_errors_add(ld->err, NULL, "out of memory while loading the graph");
    }
    return p;
}

char *loader_strdup(struct graph_loader *ld, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = loader_alloc(ld, n, 1);
    if (p) memcpy(p, s, n);
    return p;
}

/* jansson's message, with a hint for the errors a person makes by hand. */
static void load_report_syntax(const json_error_t *je, struct trl_errors *err)
{
    const char *hint = "";
    char text[JSON_ERROR_TEXT_LENGTH * 4];
    switch (json_error_code(je)) {
    case json_error_invalid_utf8:
        hint = "; the file must be UTF-8 text";
        break;
    case json_error_duplicate_key:
        hint = "; a key may appear only once in an object";
        break;
    case json_error_premature_end_of_input:
        hint = "; the file ends before the JSON does (a missing \"}\" or \"]\"?)";
        break;
    case json_error_stack_overflow:
        hint = "; the file nests arrays or objects too deeply";
        break;
    default:
        break;
    }
    jtext_sanitize(text, sizeof text, je->text);
    if (je->line > 0)
        trl_errors_add_at(err, je->line, je->column, "invalid JSON: %s%s", text, hint);
    else
        trl_errors_add(err, NULL, "invalid JSON: %s%s", text, hint);
}

/* Does another node read node i? Its own recurrent edges do not count: the
 * default outputs (SPEC section 1: "every node with no consumer") of a stack
 * of recurrent layers is its last layer. */
static bool load_has_consumer(const struct graph *g, int i)
{
    for (int j = 0; j < g->nodes[i].n_out; j++)
        if (g->edges[g->nodes[i].out[j]].dst != i) return true;
    return false;
}

/* Everything a valid graph holds beyond what the checks filled. */
static int load_finish(struct graph *g, bool outputs_given)
{
    for (int i = 0; i < g->n_nodes; i++) {
        struct graph_node *n = &g->nodes[i];
        if (n->op->prepare) n->op->prepare(n->params, g->dt);
    }
    for (int k = 0; k < g->n_edges; k++)
        if (g->edges[k].delay > g->max_delay) g->max_delay = g->edges[k].delay;
    if (!outputs_given) {
        g->outputs = trl_alloc((size_t)g->n_nodes, sizeof *g->outputs, TRL_MEM_MISC);
        if (!g->outputs) return -1;
        for (int i = 0; i < g->n_nodes; i++)
            if (!load_has_consumer(g, i)) g->outputs[g->n_outputs++] = i;
    }
    return param_table_build(g);
}

/* The checks that need every node: edges linked, cycles, parameter count. */
static void load_check_graph(struct graph_loader *ld)
{
    struct graph *g = ld->g;
    if (!ld->nodes_ok || ld->oom) return;
    if (edges_link(g) < 0) {
        ld->oom = true;
        trl_errors_add(ld->err, NULL, "out of memory while loading the graph");
        return;
    }
    int n_scheduled = sched_order(g);
    if (n_scheduled < 0 || (n_scheduled < g->n_nodes && !ld->dup_ids &&
                            sched_report_cycles(g, n_scheduled, ld->err) < 0)) {
        ld->oom = true;
        trl_errors_add(ld->err, NULL, "out of memory while loading the graph");
        return;
    }
    param_check_count(ld);
}

static struct graph *load_json(const json_t *root, const char *file, struct trl_errors *err)
{
    struct graph_loader ld = {.root = root, .err = err};
    ld.g = loader_alloc(&ld, 1, sizeof *ld.g);
    if (!ld.g) return NULL;
    ld.g->loss_node = -1;
    ld.g->dt = 1.0;
    ld.g->file = loader_strdup(&ld, file);
    top_check(&ld);
    if (ld.nodes_ok) {
        nodes_collect_ids(&ld);
        if (!ld.oom) nodes_check(&ld);
    }
    if (!ld.oom) top_check_outputs(&ld);
    if (!ld.oom) top_check_loss(&ld);
    load_check_graph(&ld);
    trl_free(ld.ln);
    trl_free(ld.ids);
    if (err->n_total == 0 && load_finish(ld.g, ld.outputs_given) < 0)
        trl_errors_add(err, NULL, "out of memory while loading the graph");
    if (err->n_total > 0) {
        graph_free(ld.g);
        return NULL;
    }
    return ld.g;
}

/* What jansson would report in confusing words: a byte order mark, and a
 * NUL byte (a UTF-16 file, or not a text file at all). */
static int load_check_text(const char *text, size_t len, struct trl_errors *err)
{
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        trl_errors_add(err, NULL,
                       "the file starts with a byte order mark (U+FEFF); save it as UTF-8 "
                       "without one");
        return -1;
    }
    const char *nul = memchr(text, '\0', len);
    if (!nul) return 0;
    int line = 1, col = 1;
    for (const char *p = text; p < nul; p++) {
        col = *p == '\n' ? 1 : col + 1;
        line += *p == '\n';
    }
    trl_errors_add_at(err, line, col,
                      "the file holds a NUL byte; a graph file is UTF-8 text (is it UTF-16?)");
    return -1;
}

struct graph *graph_load_string(const char *text, size_t len, const char *file,
                                struct trl_errors *err)
{
    trl_errors_init(err, file);
    if (len == 0) {
        trl_errors_add(err, NULL,
                       "the file is empty; a graph is a JSON object such as "
                       "{\"trellis\": 1, \"nodes\": [...]}");
        return NULL;
    }
    if (len > GRAPH_MAX_FILE_BYTES) {
        trl_errors_add(err, NULL,
                       "the file is too large (%zu bytes; the limit is %zu): is it a graph file?",
                       len, (size_t)GRAPH_MAX_FILE_BYTES);
        return NULL;
    }
    if (load_check_text(text, len, err) < 0) return NULL;
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!root) {
        load_report_syntax(&je, err);
        return NULL;
    }
    struct graph *g = load_json(root, file, err);
    json_decref(root);
    return g;
}

/* Reads the whole file into a new buffer, refusing one over the limit
 * before reading it (and while reading, for a pipe, whose size is unknown). */
static char *load_read_file(const char *path, size_t *len, struct trl_errors *err)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0) {
        trl_errors_add(err, NULL, "cannot read: %s", strerror(errno));
        if (f) fclose(f);
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        trl_errors_add(err, NULL, "cannot read: %s", strerror(EISDIR));
        fclose(f);
        return NULL;
    }
    size_t cap = S_ISREG(st.st_mode) && st.st_size >= 0 ? (size_t)st.st_size + 1 : 65536;
    if (cap > GRAPH_MAX_FILE_BYTES + 1) cap = GRAPH_MAX_FILE_BYTES + 1;
    char *buf = trl_alloc(cap, 1, TRL_MEM_MISC);
    size_t n = 0;
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap || cap == GRAPH_MAX_FILE_BYTES + 1) break;
        size_t bigger = cap * 2 < GRAPH_MAX_FILE_BYTES + 1 ? cap * 2 : GRAPH_MAX_FILE_BYTES + 1;
        char *more = trl_alloc(bigger, 1, TRL_MEM_MISC);
        if (more) memcpy(more, buf, n);
        trl_free(buf);
        buf = more;
        cap = bigger;
    }
    int failed = ferror(f), saved = errno;
    fclose(f);
    if (!buf || failed) {
        trl_errors_add(err, NULL, "cannot read: %s", buf ? strerror(saved) : "out of memory");
        trl_free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

struct graph *graph_load(const char *path, struct trl_errors *err)
{
    trl_errors_init(err, path);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
        (unsigned long long)st.st_size > GRAPH_MAX_FILE_BYTES) {
        trl_errors_add(err, NULL,
                       "the file is too large (%lld bytes; the limit is %zu): is it a graph file?",
                       (long long)st.st_size, (size_t)GRAPH_MAX_FILE_BYTES);
        return NULL;
    }
    size_t len = 0;
    char *text = load_read_file(path, &len, err);
    if (!text) return NULL;
    struct graph *g = graph_load_string(text, len, path, err);
    trl_free(text);
    return g;
}
