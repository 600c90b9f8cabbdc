/* summary.c - see summary.h. */
#include "study/summary.h"

#include <jansson.h>
#include <string.h>

#include "core/real.h"
#include "engines/trace_plan.h"

static void plan_cost(const struct graph *g, enum trace_algo algo, int orders, double forward,
                      struct summary_cost *c)
{
    struct trace_plan *p = trace_plan_new_orders(g, algo, NULL, orders);
    c->available = p != NULL;
    if (!p) return;
    c->values = (double)trace_plan_values(p, g);
    c->macs_per_step = forward;
    for (int i = 0; i < g->n_nodes; i++) c->macs_per_step += trace_plan_node_macs(p, g, i);
    trace_plan_free(p);
}

int summary_compute(const struct graph *g, struct summary *s)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < g->n_nodes; i++) {
        const struct graph_node *n = &g->nodes[i];
        s->history_values += (double)(n->op->n_state + 1) * n->size;
        if (!n->op->is_input) s->history_values += n->size;
    }
    double back = 0, back_pruned = 0;
    for (int k = 0; k < g->n_edges; k++) {
        const struct graph_edge *e = &g->edges[k];
        double m = (double)g->nodes[e->dst].size * g->nodes[e->src].size;
        s->forward_macs += m;
        bool src_grad = !g->nodes[e->src].op->is_input;
        double w = g->params[e->param].trainable ? m : 0;
        back += (src_grad ? m : 0) + w;
        back_pruned += (src_grad && e->delay == 0 ? m : 0) + w;
    }
    s->bptt_macs = s->forward_macs + back;
    s->eprop_reverse_macs = s->forward_macs + back_pruned;
    for (int p = 0; p < g->n_params; p++)
        if (g->params[p].trainable) s->n_trainable_values += g->params[p].count;
    plan_cost(g, TRACE_RTRL, 1, s->forward_macs, &s->rtrl);
    plan_cost(g, TRACE_EPROP, 1, s->forward_macs, &s->eprop);
    s->eprop_order[0] = s->eprop;
    for (int k = 1; k < SUMMARY_ORDERS; k++)
        plan_cost(g, TRACE_EPROP, k + 1, s->forward_macs, &s->eprop_order[k]);
    return 0;
}

static void print_inputs(const struct graph *g, const struct graph_node *n, FILE *f)
{
    for (int k = 0; k < n->n_in; k++) {
        const struct graph_edge *e = &g->edges[n->in[k]];
        fprintf(f, "%s%s", k ? ", " : "", g->nodes[e->src].id);
        if (e->delay) fprintf(f, "@%d", e->delay);
        if (e->no_self) fprintf(f, " no_self");
        if (!e->trainable) fprintf(f, " frozen");
    }
}

void summary_human(double v, char *buf, size_t n)
{
    const char *unit[] = {"", "k", "M", "G", "T", "P"};
    int u = 0;
    while (v >= 1000 && u < 5) {
        v /= 1000;
        u++;
    }
    snprintf(buf, n, u ? "%.3g%s" : "%.0f%s", v, unit[u]);
}

static void print_cost_line(FILE *f, const char *name, const struct summary_cost *c)
{
    char v[32], b[32], m[32];
    if (!c->available) {
        fprintf(f, "  %-14s too many traces to plan: over %d (node, tensor) pairs\n", name,
                TRACE_PLAN_MAX_SLOTS);
        return;
    }
    summary_human(c->values, v, sizeof v);
    summary_human(c->values * sizeof(trl_real), b, sizeof b);
    summary_human(c->macs_per_step, m, sizeof m);
    fprintf(f, "  %-14s %10s values  %10sB   constant in T      %10s\n", name, v, b, m);
}

static void print_eprop_nodes(const struct graph *g, FILE *f)
{
    struct trace_plan *p = trace_plan_new(g, TRACE_EPROP);
    if (!p) return;
    fprintf(f, "\neprop traces per node (per sample; %s):\n", "SPEC section 6");
    static const char *const kinds[] = {"-", "owner", "factored", "dense"};
    for (int k = 0; k < g->n_nodes; k++) {
        int i = g->order[k];
        if (!p->n_node_slots[i]) continue;
        char v[32], m[32];
        summary_human((double)trace_plan_node_values(p, g, i), v, sizeof v);
        summary_human(trace_plan_node_macs(p, g, i), m, sizeof m);
        fprintf(f, "  %-12s %10s values %10s MACs/step  ", g->nodes[i].id, v, m);
        for (int s = 0; s < p->n_node_slots[i]; s++) {
            const struct trace_slot *sl = &p->slots[p->first_slot[i] + s];
            fprintf(f, "%s%s:%s", s ? " " : "", g->params[sl->param].name, kinds[sl->kind]);
        }
        fprintf(f, "\n");
    }
    trace_plan_free(p);
}

void summary_print_text(const struct graph *g, const struct summary *s, FILE *f)
{
    fprintf(f, "%s: valid graph \"%s\", dt %g, %d nodes, %d edges\n\nschedule:\n", g->file, g->name,
            g->dt, g->n_nodes, g->n_edges);
    fprintf(f, "  %-4s %-12s %-8s %7s  %-6s %s\n", "#", "id", "op", "size", "state", "inputs");
    for (int k = 0; k < g->n_nodes; k++) {
        const struct graph_node *n = &g->nodes[g->order[k]];
        fprintf(f, "  %-4d %-12s %-8s %7d  %-6s ", k + 1, n->id, n->op->name, n->size,
                n->op->state_names[0] ? n->op->state_names : "-");
        print_inputs(g, n, f);
        fprintf(f, "%s\n", n->bias ? (n->n_in ? " + bias" : "bias") : "");
    }
    fprintf(f, "\noutputs:");
    for (int i = 0; i < g->n_outputs; i++) fprintf(f, " %s", g->nodes[g->outputs[i]].id);
    if (g->loss_node >= 0)
        fprintf(f, "\nloss: %s on %s\n", g->loss_type == LOSS_MSE ? "mse" : "cross_entropy",
                g->nodes[g->loss_node].id);
    else
        fprintf(f, "\nloss: none (run only; grad needs a loss)\n");
    fprintf(f, "\nparameters: %d tensors, %zu values (%zu trainable)\n", g->n_params,
            g->n_param_values, s->n_trainable_values);
    for (int p = 0; p < g->n_params; p++) {
        const struct graph_param *q = &g->params[p];
        char shape[48];
        if (q->edge < 0)
            snprintf(shape, sizeof shape, "[%d]", q->rows);
        else
            snprintf(shape, sizeof shape, "[%d, %d]", q->rows, q->cols);
        fprintf(f, "  %-28s %-14s%s\n", q->name, shape, q->trainable ? "" : " frozen");
    }
    char v[32], b[32], m[32];
    fprintf(f, "\nmemory per sample (%s, %zu bytes per value) and multiply-adds per step:\n",
            TRL_PRECISION, sizeof(trl_real));
    summary_human(s->history_values, v, sizeof v);
    summary_human(s->history_values * sizeof(trl_real), b, sizeof b);
    summary_human(s->bptt_macs, m, sizeof m);
    fprintf(f, "  %-14s %10s values  %10sB   per step (x T)     %10s\n", "bptt", v, b, m);
    summary_human(s->eprop_reverse_macs, m, sizeof m);
    fprintf(f, "  %-14s %10s values  %10sB   per step (x T)     %10s\n", "eprop reverse", v, b, m);
    print_cost_line(f, "rtrl", &s->rtrl);
    print_cost_line(f, "eprop online", &s->eprop);
    fprintf(f, "\neprop online trace memory per order (--order M, %s):\n", "SPEC section 6.2");
    for (int k = 0; k < SUMMARY_ORDERS; k++) {
        char name[24];
        snprintf(name, sizeof name, "order %d", k + 1);
        print_cost_line(f, name, &s->eprop_order[k]);
    }
    if (g->loss_node >= 0) print_eprop_nodes(g, f);
}

static json_t *cost_json(const struct summary_cost *c)
{
    if (!c->available) return json_null();
    return json_pack("{s:f, s:f, s:f}", "values", c->values, "bytes", c->values * sizeof(trl_real),
                     "macs_per_step", c->macs_per_step);
}

/* [{"order": M, "online": {values, bytes, macs_per_step} or null}] (SPEC 6.2). */
static json_t *orders_json(const struct summary *s)
{
    json_t *a = json_array();
    for (int k = 0; a && k < SUMMARY_ORDERS; k++)
        json_array_append_new(
            a, json_pack("{s:i, s:o}", "order", k + 1, "online", cost_json(&s->eprop_order[k])));
    return a;
}

static json_t *nodes_json(const struct graph *g)
{
    json_t *a = json_array();
    for (int k = 0; a && k < g->n_nodes; k++) {
        const struct graph_node *n = &g->nodes[g->order[k]];
        json_t *in = json_array();
        for (int e = 0; in && e < n->n_in; e++) {
            const struct graph_edge *ed = &g->edges[n->in[e]];
            json_array_append_new(in, json_pack("{s:s, s:i, s:b, s:b}", "from",
                                                g->nodes[ed->src].id, "delay", ed->delay, "no_self",
                                                ed->no_self, "trainable", ed->trainable));
        }
        json_array_append_new(a, json_pack("{s:s, s:s, s:i, s:s, s:b, s:o}", "id", n->id, "op",
                                           n->op->name, "size", n->size, "state",
                                           n->op->state_names, "bias", n->bias, "inputs", in));
    }
    return a;
}

static json_t *params_json(const struct graph *g)
{
    json_t *a = json_array();
    for (int p = 0; a && p < g->n_params; p++) {
        const struct graph_param *q = &g->params[p];
        json_t *shape =
            q->edge < 0 ? json_pack("[i]", q->rows) : json_pack("[i, i]", q->rows, q->cols);
        json_array_append_new(a, json_pack("{s:s, s:o, s:b}", "name", q->name, "shape", shape,
                                           "trainable", q->trainable));
    }
    return a;
}

static json_t *eprop_nodes_json(const struct graph *g)
{
    struct trace_plan *p = trace_plan_new(g, TRACE_EPROP);
    if (!p) return json_null();
    json_t *a = json_array();
    static const char *const kinds[] = {"none", "owner", "factored", "dense"};
    for (int k = 0; a && k < g->n_nodes; k++) {
        int i = g->order[k];
        if (!p->n_node_slots[i]) continue;
        json_t *slots = json_array();
        for (int s = 0; slots && s < p->n_node_slots[i]; s++) {
            const struct trace_slot *sl = &p->slots[p->first_slot[i] + s];
            json_array_append_new(
                slots, json_pack("{s:s, s:s, s:I}", "param", g->params[sl->param].name, "kind",
                                 kinds[sl->kind], "values", (json_int_t)sl->values));
        }
        json_array_append_new(a, json_pack("{s:s, s:I, s:f, s:o}", "node", g->nodes[i].id, "values",
                                           (json_int_t)trace_plan_node_values(p, g, i),
                                           "macs_per_step", trace_plan_node_macs(p, g, i), "traces",
                                           slots));
    }
    trace_plan_free(p);
    return a;
}

int summary_print_json(const struct graph *g, const struct summary *s, FILE *f)
{
    json_t *outputs = json_array();
    for (int i = 0; outputs && i < g->n_outputs; i++)
        json_array_append_new(outputs, json_string(g->nodes[g->outputs[i]].id));
    json_t *loss = g->loss_node < 0
                       ? json_null()
                       : json_pack("{s:s, s:s}", "node", g->nodes[g->loss_node].id, "type",
                                   g->loss_type == LOSS_MSE ? "mse" : "cross_entropy");
    json_t *history = json_pack("{s:f, s:f}", "values_per_step", s->history_values,
                                "bytes_per_step", s->history_values * sizeof(trl_real));
    json_t *root =
        json_pack("{s:s, s:b, s:s, s:f, s:s, s:o, s:o, s:o, s:{s:i, s:I, s:I, s:o}, s:f, "
                  "s:{s:o, s:o, s:o, s:o}, s:{s:f, s:f, s:f, s:o, s:o}, s:o}",
                  "file", g->file, "valid", 1, "name", g->name, "dt", g->dt, "precision",
                  TRL_PRECISION, "schedule", nodes_json(g), "outputs", outputs, "loss", loss,
                  "parameters", "tensors", g->n_params, "values", (json_int_t)g->n_param_values,
                  "trainable", (json_int_t)s->n_trainable_values, "list", params_json(g),
                  "bytes_per_value", (double)sizeof(trl_real), "memory_per_sample", "bptt", history,
                  "eprop_reverse", json_deep_copy(history), "rtrl", cost_json(&s->rtrl), "eprop",
                  cost_json(&s->eprop), "macs_per_step_per_sample", "forward", s->forward_macs,
                  "bptt", s->bptt_macs, "eprop_reverse", s->eprop_reverse_macs, "rtrl",
                  s->rtrl.available ? json_real(s->rtrl.macs_per_step) : json_null(), "eprop",
                  s->eprop.available ? json_real(s->eprop.macs_per_step) : json_null(),
                  "eprop_traces", g->loss_node >= 0 ? eprop_nodes_json(g) : json_array());
    if (!root || json_object_set_new(root, "eprop_online_orders", orders_json(s))) {
        json_decref(root);
        return -1;
    }
    int rc = json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', f);
    json_decref(root);
    return rc;
}
