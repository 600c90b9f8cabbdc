/* cmd_dot.c - `trellis dot GRAPH`: the graph as Graphviz DOT on stdout,
 * for `trellis dot g.json | dot -Tsvg > g.svg`.
 *
 * Drawing: one box per node, named by its id (as in validate's messages),
 * labelled id, then op and [size] (+ bias), then its numeric params
 * (tau_m=20 v_th=0.6 ...; a boolean or activation only when it differs from
 * the kind's default); input nodes are light-blue "house" shapes; the loss
 * node has a double border and a "loss: TYPE" line; output nodes a bold
 * border. Edges: delay-0 solid; delayed dashed and labelled "d=D", and left
 * out of the ranking (constraint=false) so that feedback does not bend the
 * layers of the delay-0 DAG; no_self noted on the label; frozen edges grey
 * and labelled "frozen". */
#include <stdio.h>
#include <string.h>

#include "ops/activation.h"
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

/* The node's params that are worth a look, " name=value" each. */
static void put_params(FILE *f, const struct graph_node *n)
{
    const char *base = n->params;
    int shown = 0;
    for (int k = 0; k < n->op->n_param_desc; k++) {
        const struct op_param_desc *d = &n->op->param_desc[k];
        const void *v = base + d->offset;
        if (d->type == OP_PARAM_REAL) {
            fprintf(f, "%s%s=%g", shown++ ? " " : "\\n", d->name, *(const double *)v);
        } else if (d->type == OP_PARAM_BOOL && *(const bool *)v != (d->def != 0)) {
            fprintf(f, "%s%s=%s", shown++ ? " " : "\\n", d->name,
                    *(const bool *)v ? "true" : "false");
        } else if (d->type == OP_PARAM_ACTIVATION) {
            int a = *(const int *)v;
            if (a >= 0 && a < ACT_COUNT)
                fprintf(f, "%s%s", shown++ ? " " : "\\n", activation_names[a]);
        }
    }
}

static bool is_output(const struct graph *g, int i)
{
    for (int k = 0; k < g->n_outputs; k++)
        if (g->outputs[k] == i) return true;
    return false;
}

static void put_node(FILE *f, const struct graph *g, int i)
{
    const struct graph_node *n = &g->nodes[i];
    fprintf(f, "  \"%s\" [label=\"%s\\n%s [%d]%s", n->id, n->id, n->op->name, n->size,
            n->bias ? " + bias" : "");
    put_params(f, n);
    if (i == g->loss_node)
        fprintf(f, "\\nloss: %s", g->loss_type == LOSS_MSE ? "mse" : "cross_entropy");
    fprintf(f, "\"");
    if (n->op->is_input) fprintf(f, ", shape=house, fillcolor=\"#dcebf7\"");
    if (i == g->loss_node) fprintf(f, ", peripheries=2");
    if (is_output(g, i)) fprintf(f, ", penwidth=2");
    fprintf(f, "];\n");
}

static void put_edge(FILE *f, const struct graph *g, const struct graph_edge *e)
{
    char label[64] = "";
    size_t len = 0;
    if (e->delay) len += (size_t)snprintf(label + len, sizeof label - len, "d=%d", e->delay);
    if (e->no_self)
        len += (size_t)snprintf(label + len, sizeof label - len, "%sno_self", len ? ", " : "");
    if (!e->trainable) snprintf(label + len, sizeof label - len, "%sfrozen", len ? ", " : "");
    fprintf(f, "  \"%s\" -> \"%s\"", g->nodes[e->src].id, g->nodes[e->dst].id);
    const char *sep = " [";
    if (label[0]) {
        fprintf(f, "%slabel=\"%s\"", sep, label);
        sep = ", ";
    }
    if (e->delay) {
        fprintf(f, "%sstyle=dashed, constraint=false", sep);
        sep = ", ";
    }
    if (!e->trainable) {
        fprintf(f, "%scolor=gray55, fontcolor=gray45", sep);
        sep = ", ";
    }
    fprintf(f, "%s;\n", sep[0] == ',' ? "]" : "");
}

static void put_graph(FILE *f, const struct graph *g)
{
    fprintf(f, "digraph \"");
    put_wrapped(f, g->name[0] ? g->name : g->file, 1 << 30);
    fprintf(f, "\" {\n  label=\"");
    put_wrapped(f, g->name[0] ? g->name : g->file, 60);
    fprintf(f, " (dt %g)\";\n  labelloc=t;\n  fontname=\"Helvetica\";\n", g->dt);
    fprintf(f, "  node [shape=box, style=\"rounded,filled\", fillcolor=white, "
               "fontname=\"Helvetica\", fontsize=11];\n");
    fprintf(f, "  edge [fontname=\"Helvetica\", fontsize=9];\n");
    for (int k = 0; k < g->n_nodes; k++) put_node(f, g, g->order[k]);
    for (int k = 0; k < g->n_edges; k++) put_edge(f, g, &g->edges[k]);
    fprintf(f, "}\n");
}

static int dot_main(int argc, char **argv)
{
    const char *pos[1];
    int n_pos = 1;
    int rc = cli_parse(&cmd_dot, argc, argv, NULL, 0, pos, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    if (n_pos != 1) return cli_usage_error(&cmd_dot, "expected one GRAPH file");
    struct graph *g = cli_load_graph(pos[0]);
    if (!g) return EXIT_INPUT;
    put_graph(stdout, g);
    graph_free(g);
    return EXIT_OK;
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
