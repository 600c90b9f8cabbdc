/* cmd_dot.c - `trellis dot GRAPH`: the graph as Graphviz DOT on stdout,
 * for `trellis dot g.json | dot -Tsvg > g.svg`.
 *
 * Drawing: one box per node, named by its id (as in validate's messages),
 * labelled id, then op and [size] (+ bias), then its numeric params
 * (tau_m=20 v_th=0.6 ...; a boolean only when it differs from the kind's
 * default; the activation's name); input nodes are light-blue "house" shapes; the loss
 * node has a double border and a "loss: TYPE" line; output nodes a bold
 * border. Edges: delay-0 solid; delayed dashed and labelled "d=D", and left
 * out of the ranking (constraint=false) so that feedback does not bend the
 * layers of the delay-0 DAG; no_self noted on the label; frozen edges grey
 * and labelled "frozen". */
#include <stdio.h>
#include <string.h>

#include "tools/cli.h"

/* s as the inside of a DOT double-quoted string, a line break in place of
 * the first space after every `width` characters of a line. */
static void put_wrapped(FILE *f, const char *s, int width)
{
    for (int col = 0; *s; s++, col++) {
        if (*s == '\n' || (*s == ' ' && col >= width)) {
            fputs("\\n", f);
            col = -1;
            continue;
        }
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s, f);
    }
}

/* Node i's params that are worth a look, " name=value" each: every number,
 * a boolean that differs from the kind's default, the activation. */
static void put_params(FILE *f, const trl_graph *g, int i)
{
    int shown = 0;
    for (int k = 0; k < trl_graph_node_param_count(g, i); k++) {
        trl_node_param p;
        if (trl_graph_node_param(g, i, k, &p) != TRL_OK) continue;
        const char *sep = shown ? " " : "\\n";
        if (strcmp(p.type, "real") == 0) {
            fprintf(f, "%s%s=%g", sep, p.name, p.value);
        } else if (strcmp(p.type, "bool") == 0) {
            if (p.is_default) continue;
            fprintf(f, "%s%s=%s", sep, p.name, p.value ? "true" : "false");
        } else if (p.text) {
            fprintf(f, "%s%s", sep, p.text);
        } else {
            continue;
        }
        shown++;
    }
}

static void put_node(FILE *f, const trl_graph *g, const trl_graph_info *info, int i)
{
    trl_node_info n;
    if (trl_graph_node(g, i, &n) != TRL_OK) return;
    fprintf(f, "  \"%s\" [label=\"%s\\n%s [%d]%s", n.id, n.id, n.op, n.size,
            n.bias_param >= 0 ? " + bias" : "");
    put_params(f, g, i);
    if (i == info->loss_node) fprintf(f, "\\nloss: %s", info->loss_type);
    fprintf(f, "\"");
    if (n.is_input) fprintf(f, ", shape=house, fillcolor=\"#dcebf7\"");
    if (i == info->loss_node) fprintf(f, ", peripheries=2");
    if (n.is_output) fprintf(f, ", penwidth=2");
    fprintf(f, "];\n");
}

static void put_edge(FILE *f, const trl_graph *g, int k)
{
    trl_edge_info e;
    trl_node_info src, dst;
    if (trl_graph_edge(g, k, &e) || trl_graph_node(g, e.src, &src) ||
        trl_graph_node(g, e.dst, &dst))
        return;
    char label[64] = "";
    size_t len = 0;
    if (e.delay) len += (size_t)snprintf(label + len, sizeof label - len, "d=%d", e.delay);
    if (e.no_self)
        len += (size_t)snprintf(label + len, sizeof label - len, "%sno_self", len ? ", " : "");
    if (!e.trainable) snprintf(label + len, sizeof label - len, "%sfrozen", len ? ", " : "");
    fprintf(f, "  \"%s\" -> \"%s\"", src.id, dst.id);
    const char *sep = " [";
    if (label[0]) {
        fprintf(f, "%slabel=\"%s\"", sep, label);
        sep = ", ";
    }
    if (e.delay) {
        fprintf(f, "%sstyle=dashed, constraint=false", sep);
        sep = ", ";
    }
    if (!e.trainable) {
        fprintf(f, "%scolor=gray55, fontcolor=gray45", sep);
        sep = ", ";
    }
    fprintf(f, "%s;\n", sep[0] == ',' ? "]" : "");
}

static void put_graph(FILE *f, const trl_graph *g)
{
    trl_graph_info info;
    trl_graph_get_info(g, &info);
    const char *title = info.name[0] ? info.name : info.file;
    fprintf(f, "digraph \"");
    put_wrapped(f, title, 1 << 30);
    fprintf(f, "\" {\n  label=\"");
    put_wrapped(f, title, 60);
    fprintf(f, " (dt %g)\";\n  labelloc=t;\n  fontname=\"Helvetica\";\n", info.dt);
    fprintf(f, "  node [shape=box, style=\"rounded,filled\", fillcolor=white, "
               "fontname=\"Helvetica\", fontsize=11];\n");
    fprintf(f, "  edge [fontname=\"Helvetica\", fontsize=9];\n");
    for (int k = 0; k < info.n_nodes; k++) put_node(f, g, &info, trl_graph_schedule(g, k));
    for (int k = 0; k < info.n_edges; k++) put_edge(f, g, k);
    fprintf(f, "}\n");
}

static int dot_main(int argc, char **argv)
{
    const char *pos[1];
    int n_pos = 1;
    int rc = cli_parse(&cmd_dot, argc, argv, NULL, 0, pos, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    if (n_pos != 1) return cli_usage_error(&cmd_dot, "expected one GRAPH file");
    trl_error *err = cli_error_new();
    trl_graph *g = cli_graph(pos[0], err);
    const int status = g ? EXIT_OK : EXIT_INPUT;
    if (g) put_graph(stdout, g);
    trl_graph_free(g);
    trl_error_free(err);
    return status;
}

const struct command cmd_dot = {
    .name = "dot",
    .run = dot_main,
    .usage = "GRAPH",
    .summary = "print the graph as Graphviz DOT (pipe into dot -Tsvg)",
    .help = "Prints a valid graph in the DOT language on stdout: one box per node (id, op,\n"
            "[size], params), inputs as light-blue houses, the loss node with a double\n"
            "border and outputs in bold; delayed edges dashed and labelled d=DELAY,\n"
            "no_self noted on the edge, frozen edges grey. An invalid graph prints its\n"
            "errors (as validate) and exits 1.\n\n"
            "Drawing it needs Graphviz's dot program (Debian: apt-get install graphviz);\n"
            "without it the shell says \"dot: command not found\" and still creates the\n"
            "(empty) output file.\n\n"
            "example:\n"
            "  command -v dot >/dev/null || echo \"install graphviz\"\n"
            "  trellis dot models/feedback.json | dot -Tsvg > feedback.svg\n",
};
