/* schedule.c - the order in which a step evaluates the nodes (SPEC section
 * 2), and the delay-0 cycles that make such an order impossible.
 *
 * sched_order: input nodes first, in file order; then Kahn's algorithm over
 * the delay-0 edges between the other nodes, with a FIFO seeded with the
 * nodes that have no such edge in, in file order. O(nodes + edges); g->order
 * itself is the FIFO.
 *
 * sched_report_cycles: the nodes Kahn's algorithm could not place lie on or
 * after a delay-0 cycle. A depth-first search over them (iterative, so a long
 * chain cannot overflow the C stack) reports one cycle per back edge, listing
 * the ids from the back edge's target along the search stack, at the path of
 * the back edge (the edge to give a delay). O(nodes + edges) plus the text.
 */
#include <stdio.h>
#include <string.h>

#include "graph/loader.h"

#define SCHED_CYCLE_SHOWN 8 /* a longer cycle shows its first and last ids */

enum { SCHED_WHITE, SCHED_GRAY, SCHED_BLACK };

static bool sched_is_input(const struct graph_node *n)
{
    return n->op && n->op->is_input;
}

/* Does edge k hold back its destination in Kahn's algorithm? */
static bool sched_edge_counts(const struct graph *g, int k)
{
    const struct graph_edge *e = &g->edges[k];
    return e->src >= 0 && e->delay == 0 && !sched_is_input(&g->nodes[e->src]);
}

int sched_order(struct graph *g)
{
    int *indeg = trl_alloc((size_t)g->n_nodes, sizeof *indeg, TRL_MEM_MISC);
    g->order = trl_alloc((size_t)g->n_nodes, sizeof *g->order, TRL_MEM_MISC);
    if (!indeg || !g->order) {
        trl_free(indeg);
        return -1;
    }
    for (int k = 0; k < g->n_edges; k++)
        if (sched_edge_counts(g, k)) indeg[g->edges[k].dst]++;
    int tail = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (sched_is_input(&g->nodes[i])) g->order[tail++] = i;
    int head = tail;
    for (int i = 0; i < g->n_nodes; i++)
        if (!sched_is_input(&g->nodes[i]) && indeg[i] == 0) g->order[tail++] = i;
    while (head < tail) {
        const struct graph_node *u = &g->nodes[g->order[head++]];
        for (int j = 0; j < u->n_out; j++)
            if (sched_edge_counts(g, u->out[j]) && --indeg[g->edges[u->out[j]].dst] == 0)
                g->order[tail++] = g->edges[u->out[j]].dst;
    }
    trl_free(indeg);
    return tail;
}

/* Working arrays of the depth-first search. */
struct sched_dfs {
    char *color;
    int *stack; /* nodes on the search path */
    int *next;  /* per stack level: the next out-edge to try */
    int *pos;   /* per node: its stack level while gray */
    int top;    /* levels in use */
};

static void sched_append(char *out, size_t n, const char *s)
{
    size_t len = strlen(out);
    snprintf(out + len, n - len, "%s", s);
}

/* "a -> b -> c -> a" for the cycle stack[from..top) closed by its first node. */
static void sched_cycle_text(const struct graph *g, const struct sched_dfs *d, int from, char *out,
                             size_t n)
{
    int len = d->top - from;
    out[0] = '\0';
    for (int l = from; l < d->top; l++) {
        int i = l - from;
        if (len > SCHED_CYCLE_SHOWN && i >= SCHED_CYCLE_SHOWN / 2 && i < len - 3) {
            if (i == SCHED_CYCLE_SHOWN / 2) {
                char skip[48];
                snprintf(skip, sizeof skip, "... (%d more) -> ", len - SCHED_CYCLE_SHOWN / 2 - 3);
                sched_append(out, n, skip);
            }
            continue;
        }
        const char *id = g->nodes[d->stack[l]].id;
        sched_append(out, n, id ? id : "?");
        sched_append(out, n, " -> ");
    }
    const char *first = g->nodes[d->stack[from]].id;
    sched_append(out, n, first ? first : "?");
}

static void sched_report_back_edge(const struct graph *g, const struct sched_dfs *d, int k,
                                   struct trl_errors *err)
{
    const struct graph_edge *e = &g->edges[k];
    char path[GRAPH_PATH_MAX], text[600];
    snprintf(path, sizeof path, "/nodes/%d/inputs/%d", e->dst, e->input_index);
    if (err->n >= TRL_MAX_ERRORS) { /* counted, not shown */
        trl_errors_add(err, path, "cycle");
        return;
    }
    sched_cycle_text(g, d, d->pos[e->dst], text, sizeof text);
    trl_errors_add(err, path, "cycle: %s (add \"delay\": 1 to one edge)", text);
}

/* One step of the search from the node on top of the stack. */
static void sched_dfs_step(const struct graph *g, struct sched_dfs *d, struct trl_errors *err)
{
    int u = d->stack[d->top - 1];
    const struct graph_node *n = &g->nodes[u];
    while (d->next[d->top - 1] < n->n_out) {
        int k = n->out[d->next[d->top - 1]++];
        int v = g->edges[k].dst;
        if (g->edges[k].delay != 0 || d->color[v] == SCHED_BLACK) continue;
        if (d->color[v] == SCHED_GRAY) {
            sched_report_back_edge(g, d, k, err);
            continue;
        }
        d->color[v] = SCHED_GRAY;
        d->pos[v] = d->top;
        d->stack[d->top] = v;
        d->next[d->top++] = 0;
        return;
    }
    d->color[u] = SCHED_BLACK;
    d->top--;
}

int sched_report_cycles(const struct graph *g, int n_scheduled, struct trl_errors *err)
{
    size_t n = (size_t)g->n_nodes;
    struct sched_dfs d = {
        .color = trl_alloc(n, 1, TRL_MEM_MISC),
        .stack = trl_alloc(n, sizeof(int), TRL_MEM_MISC),
        .next = trl_alloc(n, sizeof(int), TRL_MEM_MISC),
        .pos = trl_alloc(n, sizeof(int), TRL_MEM_MISC),
    };
    int status = d.color && d.stack && d.next && d.pos ? 0 : -1;
    if (status == 0) {
        /* a scheduled node is on no cycle: black from the start */
        for (int i = 0; i < n_scheduled; i++) d.color[g->order[i]] = SCHED_BLACK;
        for (int r = 0; r < g->n_nodes; r++) {
            if (d.color[r] != SCHED_WHITE) continue;
            d.color[r] = SCHED_GRAY;
            d.pos[r] = 0;
            d.stack[0] = r;
            d.next[0] = 0;
            d.top = 1;
            while (d.top > 0) sched_dfs_step(g, &d, err);
        }
    }
    trl_free(d.color);
    trl_free(d.stack);
    trl_free(d.next);
    trl_free(d.pos);
    return status;
}
