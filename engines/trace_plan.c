/* trace_plan.c - see trace_plan.h.
 *
 * For every owner node o (a node with trainable parameters) one breadth-first
 * search over the propagated edges, restricted to nodes that reach the loss,
 * finds the nodes its parameters reach; every (node, parameter) pair becomes
 * a slot. The work is proportional to the number of slots, which is capped
 * (TRACE_PLAN_MAX_SLOTS) so that a hostile graph cannot make it quadratic.
 */
#include "engines/trace_plan.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

bool trace_plan_propagates(const struct trace_plan *p, const struct graph_edge *e)
{
    return p->algo == TRACE_RTRL || e->delay == 0;
}

/* Nodes from which a loss node is reachable through propagated edges. */
static void mark_reaches_loss(struct trace_plan *p, const struct graph *g, int *queue)
{
    int head = 0, tail = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (p->is_loss[i]) {
            p->reaches_loss[i] = true;
            queue[tail++] = i;
        }
    while (head < tail) {
        const struct graph_node *n = &g->nodes[queue[head++]];
        for (int k = 0; k < n->n_in; k++) {
            const struct graph_edge *e = &g->edges[n->in[k]];
            if (!trace_plan_propagates(p, e) || p->reaches_loss[e->src]) continue;
            p->reaches_loss[e->src] = true;
            queue[tail++] = e->src;
        }
    }
}

/* m-order e-prop: per node, the fewest delayed edges on a path to a loss node
 * (levels of delay-0 closures, up to orders - 1), and reaches_loss where that
 * is within orders - 1. */
static void count_loss_crossings(struct trace_plan *p, const struct graph *g, int *queue)
{
    int tail = 0, start = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        p->loss_crossings[i] = p->is_loss[i] ? 0 : INT_MAX;
        if (p->is_loss[i]) queue[tail++] = i;
    }
    for (int level = 0; start < tail; level++) {
        for (int h = start; h < tail; h++) { /* tail grows: the delay-0 closure */
            const struct graph_node *n = &g->nodes[queue[h]];
            for (int k = 0; k < n->n_in; k++) {
                const struct graph_edge *e = &g->edges[n->in[k]];
                if (e->delay != 0 || p->loss_crossings[e->src] != INT_MAX) continue;
                p->loss_crossings[e->src] = level;
                queue[tail++] = e->src;
            }
        }
        const int end = tail;
        for (int h = start; h < end && level + 1 < p->orders; h++) {
            const struct graph_node *n = &g->nodes[queue[h]];
            for (int k = 0; k < n->n_in; k++) {
                const struct graph_edge *e = &g->edges[n->in[k]];
                if (e->delay == 0 || p->loss_crossings[e->src] != INT_MAX) continue;
                p->loss_crossings[e->src] = level + 1;
                queue[tail++] = e->src;
            }
        }
        start = end;
    }
    for (int i = 0; i < g->n_nodes; i++) p->reaches_loss[i] = p->loss_crossings[i] < p->orders;
}

/* The nodes of o's crossings-k slots (k >= 1): reached from the nodes of its
 * crossings-(k-1) slots, prev, through one delayed edge and then delay-0
 * edges, among those within orders-1-k crossings of the loss. Into out;
 * returns how many. */
static int next_crossing_set(const struct trace_plan *p, const struct graph *g, const int *prev,
                             int n_prev, int k, int *out, int *seen, int stamp)
{
    const int budget = p->orders - 1 - k;
    int tail = 0;
    for (int pass = 0; pass < 2; pass++) { /* the delayed edges out of prev, then the closure */
        const int *from = pass ? out : prev;
        for (int h = 0; h < (pass ? tail : n_prev); h++) {
            const struct graph_node *n = &g->nodes[from[h]];
            for (int j = 0; j < n->n_out; j++) {
                const struct graph_edge *e = &g->edges[n->out[j]];
                if ((e->delay == 0) != pass || p->loss_crossings[e->dst] > budget ||
                    seen[e->dst] == stamp)
                    continue;
                seen[e->dst] = stamp;
                out[tail++] = e->dst;
            }
        }
    }
    return tail;
}

/* Nodes reached from o's children (stamped with `stamp`); returns how many
 * were reached, in queue[0..n). o itself is among them if its parameters come
 * back to it. */
static int reach_from(const struct trace_plan *p, const struct graph *g, int o, int *queue,
                      int *mark, int stamp)
{
    int head = 0, tail = 0;
    queue[tail++] = o;
    mark[o] = stamp;
    bool o_reached = false;
    while (head < tail) {
        const struct graph_node *n = &g->nodes[queue[head++]];
        for (int k = 0; k < n->n_out; k++) {
            const struct graph_edge *e = &g->edges[n->out[k]];
            if (!trace_plan_propagates(p, e) || !p->reaches_loss[e->dst]) continue;
            if (e->dst == o) o_reached = true;
            if (mark[e->dst] == stamp) continue;
            mark[e->dst] = stamp;
            queue[tail++] = e->dst;
        }
    }
    /* queue[0] is o; keep it only if reached again (as a DENSE owner) */
    if (!o_reached) queue[0] = queue[--tail];
    return tail;
}

static int param_k(const struct graph_param *q)
{
    return q->edge < 0 ? 1 : q->cols;
}

/* Fills the kind and size of the slot (m, q) of owner o. */
static void classify(const struct trace_plan *p, const struct graph *g, struct trace_slot *s, int o,
                     bool owner_returns, const int *mark, int stamp)
{
    const struct graph_param *q = &g->params[s->param];
    const struct graph_node *m = &g->nodes[s->node], *on = &g->nodes[o];
    size_t K = (size_t)param_k(q), theta = q->count;
    s->edge = -1;
    if (s->node == o && !owner_returns) {
        unsigned constant = on->op->constant_rows(on->params);
        s->kind = TRACE_OWNER;
        s->values = 0;
        for (int r = 0; r < on->op->n_state; r++) {
            bool per_synapse = !(constant & (1u << r));
            if (per_synapse) s->synapse_rows |= 1u << r;
            s->values += per_synapse ? (size_t)on->size * K : K;
        }
        if (s->synapse_rows && s->depth == 1)
            s->row_scales = (size_t)on->op->n_state * (size_t)on->size;
        return;
    }
    int carriers = 0, edge = -1;
    for (int k = 0; k < m->n_in; k++) {
        const struct graph_edge *e = &g->edges[m->in[k]];
        if (!trace_plan_propagates(p, e) || mark[e->src] != stamp) continue;
        carriers++;
        edge = m->in[k];
    }
    bool scalar = m->op->n_state == 1 && (m->op->constant_rows(m->params) & 1u);
    if (s->node != o && !owner_returns && scalar && carriers == 1 && g->edges[edge].src == o &&
        g->edges[edge].delay == 0) {
        s->kind = TRACE_FACTORED;
        s->edge = edge;
        s->values = theta;
        if (s->depth == 1) s->row_scales = (size_t)on->size * (p->is_loss[s->node] ? 2 : 1);
        return;
    }
    s->kind = TRACE_DENSE;
    s->values = (size_t)m->op->n_state * m->size * theta;
}

static int *schedule_position(const struct graph *g)
{
    int *pos = trl_alloc((size_t)g->n_nodes, sizeof *pos, TRL_MEM_MISC);
    if (pos)
        for (int k = 0; k < g->n_nodes; k++) pos[g->order[k]] = k;
    return pos;
}

static int compare_slots(const void *a, const void *b)
{
    const struct trace_slot *x = a, *y = b;
    if (x->order != y->order) return x->order - y->order;
    if (x->crossings != y->crossings) return x->crossings - y->crossings;
    return x->param - y->param;
}

/* Each node's trainable tensors: the parameter table lists a node's tensors
 * together, so one pass finds each node's first tensor and their count. */
static void trainable_ranges(const struct graph *g, int *first, int *count)
{
    for (int i = 0; i < g->n_nodes; i++) first[i] = -1;
    for (int i = 0; i < g->n_params; i++) {
        const int node = g->params[i].node;
        if (first[node] < 0) first[node] = i;
        count[node] += g->params[i].trainable;
    }
}

/* Scratch of the crossings-k sets of m-order e-prop. */
struct crossing_sets {
    int *buf[2]; /* the sets of k - 1 and k, n_nodes + 1 each */
    int *seen;   /* per node: the stamp of the last set it entered */
    int stamp;
};

/* o's slots of crossings 1..orders-1, all DENSE (trace_plan.h), from the
 * nodes r0[0..n0) of its crossings-0 slots: counted into *total, or, with
 * fill, appended to p->slots. The last crossings are read by no delayed
 * edge and keep one step. */
static void higher_crossings(struct trace_plan *p, const struct graph *g, int o, const int *r0,
                             int n0, struct crossing_sets *cs, const int *first, size_t count,
                             bool fill, size_t *total)
{
    const int *prev = r0;
    int n_prev = n0;
    for (int k = 1; k < p->orders && n_prev > 0 && *total <= TRACE_PLAN_MAX_SLOTS; k++) {
        int *out = cs->buf[k % 2];
        const int n = next_crossing_set(p, g, prev, n_prev, k, out, cs->seen, ++cs->stamp);
        *total += (size_t)n * count;
        for (int i = first[o]; fill && i < g->n_params && g->params[i].node == o; i++) {
            if (!g->params[i].trainable) continue;
            for (int j = 0; j < n; j++) {
                struct trace_slot *s = &p->slots[p->n_slots++];
                const struct graph_node *m = &g->nodes[out[j]];
                *s = (struct trace_slot){.node = out[j],
                                         .crossings = k,
                                         .param = i,
                                         .kind = TRACE_DENSE,
                                         .edge = -1,
                                         .depth = k < p->orders - 1 ? p->depth[out[j]] : 1,
                                         .values =
                                             (size_t)m->op->n_state * m->size * g->params[i].count};
            }
        }
        prev = out;
        n_prev = n;
    }
}

/* Two passes over the owners: count the slots (failing fast past the cap,
 * before anything is allocated), then allocate and fill them. */
static int collect_slots(struct trace_plan *p, const struct graph *g, int *queue, int *mark)
{
    int *first = trl_alloc((size_t)g->n_nodes, sizeof *first, TRL_MEM_MISC);
    int *count = trl_alloc((size_t)g->n_nodes, sizeof *count, TRL_MEM_MISC);
    struct crossing_sets cs = {0};
    int rc = -1;
    if (!first || !count) goto done;
    if (p->orders > 1) {
        cs.buf[0] = trl_alloc(2 * ((size_t)g->n_nodes + 1), sizeof(int), TRL_MEM_MISC);
        cs.seen = trl_alloc((size_t)g->n_nodes, sizeof(int), TRL_MEM_MISC);
        if (!cs.buf[0] || !cs.seen) goto done;
        cs.buf[1] = cs.buf[0] + g->n_nodes + 1;
    }
    size_t total = 0;
    trainable_ranges(g, first, count);
    for (int fill = 0; fill < 2; fill++) {
        if (fill) {
            for (int i = 0; i < g->n_nodes; i++) mark[i] = 0;
            p->slots = trl_alloc(total + 1, sizeof *p->slots, TRL_MEM_MISC);
            if (!p->slots) goto done;
        }
        for (int o = 0; o < g->n_nodes; o++) {
            if (g->nodes[o].op->is_input || !p->reaches_loss[o] || !count[o]) continue;
            int n = reach_from(p, g, o, queue, mark, o + 1);
            bool returns = n > 0 && queue[0] == o;
            if (!returns) queue[n++] = o; /* the owner carries its own trace */
            if (!fill) total += (size_t)n * (size_t)count[o];
            for (int i = first[o]; fill && i < g->n_params && g->params[i].node == o; i++) {
                if (!g->params[i].trainable) continue;
                for (int k = 0; k < n; k++) {
                    struct trace_slot *s = &p->slots[p->n_slots++];
                    s->node = queue[k];
                    s->param = i;
                    s->depth = p->depth[s->node];
                    classify(p, g, s, o, returns, mark, o + 1);
                }
            }
            size_t more = 0;
            if (p->orders > 1)
                higher_crossings(p, g, o, queue, n, &cs, first, (size_t)count[o], fill, &more);
            if (!fill) total += more;
            if (total > TRACE_PLAN_MAX_SLOTS) goto done;
        }
    }
    rc = 0;
done:
    trl_free(first);
    trl_free(count);
    trl_free(cs.buf[0]);
    trl_free(cs.seen);
    return rc;
}

/* m-order e-prop reads every order but the last d steps back through a
 * delayed edge: those keep 1 + the longest delay out of the node. */
static void compute_depths(struct trace_plan *p, const struct graph *g)
{
    for (int i = 0; i < g->n_nodes; i++) {
        int d = 0;
        const struct graph_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_out; k++) {
            const struct graph_edge *e = &g->edges[n->out[k]];
            if ((p->orders > 1 || trace_plan_propagates(p, e)) && e->delay > d) d = e->delay;
        }
        p->depth[i] = 1 + d;
    }
}

struct trace_plan *trace_plan_new(const struct graph *g, enum trace_algo algo)
{
    return trace_plan_new_for(g, algo, NULL);
}

struct trace_plan *trace_plan_new_for(const struct graph *g, enum trace_algo algo,
                                      const bool *loss_nodes)
{
    return trace_plan_new_orders(g, algo, loss_nodes, 1);
}

struct trace_plan *trace_plan_new_orders(const struct graph *g, enum trace_algo algo,
                                         const bool *loss_nodes, int orders)
{
    struct trace_plan *p = trl_alloc(1, sizeof *p, TRL_MEM_MISC);
    int *queue = trl_alloc((size_t)g->n_nodes + 1, sizeof *queue, TRL_MEM_MISC);
    int *mark = trl_alloc((size_t)g->n_nodes, sizeof *mark, TRL_MEM_MISC);
    int *pos = schedule_position(g);
    if (!p || !queue || !mark || !pos) goto fail;
    p->algo = algo;
    p->orders = algo == TRACE_EPROP && orders > 1 ? orders : 1;
    p->loss_crossings = trl_alloc((size_t)g->n_nodes, sizeof *p->loss_crossings, TRL_MEM_MISC);
    p->reaches_loss = trl_alloc((size_t)g->n_nodes, sizeof *p->reaches_loss, TRL_MEM_MISC);
    p->is_loss = trl_alloc((size_t)g->n_nodes, sizeof *p->is_loss, TRL_MEM_MISC);
    p->depth = trl_alloc((size_t)g->n_nodes, sizeof *p->depth, TRL_MEM_MISC);
    p->first_slot = trl_alloc((size_t)g->n_nodes, sizeof *p->first_slot, TRL_MEM_MISC);
    p->n_node_slots = trl_alloc((size_t)g->n_nodes, sizeof *p->n_node_slots, TRL_MEM_MISC);
    if (!p->reaches_loss || !p->is_loss || !p->depth || !p->first_slot || !p->n_node_slots ||
        !p->loss_crossings)
        goto fail;
    for (int i = 0; i < g->n_nodes; i++)
        p->is_loss[i] = loss_nodes ? loss_nodes[i] : i == g->loss_node;
    compute_depths(p, g);
    if (p->orders > 1) {
        count_loss_crossings(p, g, queue);
    } else {
        mark_reaches_loss(p, g, queue);
        for (int i = 0; i < g->n_nodes; i++)
            p->loss_crossings[i] = p->reaches_loss[i] ? 0 : INT_MAX;
    }
    if (collect_slots(p, g, queue, mark)) goto fail;
    for (int i = 0; i < p->n_slots; i++) p->slots[i].order = pos[p->slots[i].node];
    qsort(p->slots, (size_t)p->n_slots, sizeof *p->slots, compare_slots);
    for (int i = p->n_slots - 1; i >= 0; i--) {
        p->first_slot[p->slots[i].node] = i;
        p->n_node_slots[p->slots[i].node]++;
    }
    trl_free(queue);
    trl_free(mark);
    trl_free(pos);
    return p;
fail:
    trl_free(queue);
    trl_free(mark);
    trl_free(pos);
    trace_plan_free(p);
    return NULL;
}

void trace_plan_free(struct trace_plan *p)
{
    if (!p) return;
    trl_free(p->slots);
    trl_free(p->first_slot);
    trl_free(p->n_node_slots);
    trl_free(p->depth);
    trl_free(p->reaches_loss);
    trl_free(p->is_loss);
    trl_free(p->loss_crossings);
    trl_free(p);
}

const struct trace_slot *trace_plan_slot_at(const struct trace_plan *p, int node, int param,
                                            int crossings)
{
    int lo = p->first_slot[node], hi = lo + p->n_node_slots[node] - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const struct trace_slot *s = &p->slots[mid];
        if (s->crossings == crossings && s->param == param) return s;
        if (s->crossings < crossings || (s->crossings == crossings && s->param < param))
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

const struct trace_slot *trace_plan_slot(const struct trace_plan *p, const struct graph *g,
                                         int node, int param)
{
    (void)g;
    return trace_plan_slot_at(p, node, param, 0);
}

const struct trace_slot *trace_plan_parent(const struct trace_plan *p, const struct graph *g,
                                           const struct trace_slot *s, const struct graph_edge *e)
{
    (void)g;
    if (trace_plan_propagates(p, e)) return trace_plan_slot_at(p, e->src, s->param, s->crossings);
    return s->crossings > 0 ? trace_plan_slot_at(p, e->src, s->param, s->crossings - 1) : NULL;
}

size_t trace_plan_crossing_values(const struct trace_plan *p, int k)
{
    size_t v = 0;
    for (int i = 0; i < p->n_slots; i++)
        if (p->slots[i].crossings == k)
            v += p->slots[i].values * (size_t)p->slots[i].depth + p->slots[i].row_scales;
    return v;
}

size_t trace_plan_node_values(const struct trace_plan *p, const struct graph *g, int node)
{
    size_t v = 0;
    for (int i = 0; i < p->n_node_slots[node]; i++) {
        const struct trace_slot *s = &p->slots[p->first_slot[node] + i];
        v += s->values * (size_t)s->depth + s->row_scales;
    }
    if (p->n_node_slots[node]) /* dz/dh, kept as long as the traces */
        v += (size_t)p->depth[node] * g->nodes[node].op->n_state * g->nodes[node].size;
    return v;
}

size_t trace_plan_values(const struct trace_plan *p, const struct graph *g)
{
    size_t v = 0;
    for (int i = 0; i < g->n_nodes; i++) v += trace_plan_node_values(p, g, i);
    return v;
}

/* Multiply-adds of one parent term of a dense trace (see grad_forward.c). */
static double parent_term_macs(const struct trace_plan *p, const struct graph *g,
                               const struct trace_slot *s, const struct trace_slot *sp)
{
    const double Nm = g->nodes[s->node].size, Np = g->nodes[sp->node].size;
    const double P = (double)g->params[s->param].count, Sp = g->nodes[sp->node].op->n_state;
    (void)p;
    if (sp->kind == TRACE_OWNER) return Sp * P + Nm * P;
    if (sp->kind == TRACE_FACTORED) {
        const double No = g->nodes[g->edges[sp->edge].src].size;
        return Nm * Np + Nm * Np * No + Nm * P;
    }
    return Sp * (Nm * Np + Nm * Np * P); /* per state row: W diag(dz/dh), then the GEMM */
}

static double slot_macs(const struct trace_plan *p, const struct graph *g,
                        const struct trace_slot *s)
{
    const struct graph_node *m = &g->nodes[s->node];
    const double S = m->op->n_state, P = (double)g->params[s->param].count;
    double macs = 0;
    if (s->kind == TRACE_OWNER) {
        const double K = g->params[s->param].edge < 0 ? 1 : g->params[s->param].cols;
        for (int r = 0; r < m->op->n_state; r++)
            macs += (s->synapse_rows & (1u << r)) ? m->size * K * (S + 1) : 2 * K;
    } else if (s->kind == TRACE_FACTORED) {
        macs = P * (g->nodes[g->edges[s->edge].src].op->n_state + 2);
    } else {
        macs = S * m->size * P * (S + 1);
        for (int k = 0; k < m->n_in; k++) {
            const struct graph_edge *e = &g->edges[m->in[k]];
            const struct trace_slot *sp = trace_plan_parent(p, g, s, e);
            if (sp) macs += parent_term_macs(p, g, s, sp);
        }
    }
    if (p->is_loss[s->node]) { /* the gradient's step term */
        if (s->kind == TRACE_OWNER)
            macs += S * P + P;
        else if (s->kind == TRACE_FACTORED)
            macs += m->size * (double)g->nodes[g->edges[s->edge].src].size + P;
        else
            macs += S * m->size * P;
    }
    return macs;
}

double trace_plan_node_macs(const struct trace_plan *p, const struct graph *g, int node)
{
    double macs = 0;
    for (int i = 0; i < p->n_node_slots[node]; i++)
        macs += slot_macs(p, g, &p->slots[p->first_slot[node] + i]);
    return macs;
}
