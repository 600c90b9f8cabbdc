/* randgraph.c - see randgraph.h. */
#include "tests/support/randgraph.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "ops/activation.h"
#include "ops/op.h"

/* The kinds come from the registry (ops/registry.c), their parameters from
 * each kind's table: a new kind is drawn without a change here. */
static bool drawable(const struct op_kind *k, bool smooth)
{
    return !k->is_input && !(smooth && k->spiking);
}

static const struct op_kind *input_kind(void)
{
    for (int i = 0; i < op_n_kinds; i++)
        if (op_kinds[i]->is_input) return op_kinds[i];
    return NULL;
}

static const struct op_kind *random_kind(struct rng *r, bool smooth, bool output)
{
    const struct op_kind *pick[32];
    int n = 0;
    for (int i = 0; i < op_n_kinds && n < 32; i++)
        if (drawable(op_kinds[i], smooth || output)) pick[n++] = op_kinds[i];
    return pick[rng_below(r, (uint64_t)n)];
}

/* A value around the documented default: 0.25 to 1.5 times it (positive
 * defaults keep their sign, so bounds hold); booleans either way;
 * activations any (smooth ones only on smooth graphs). */
static json_t *node_params(struct rng *r, const struct op_kind *k, bool smooth)
{
    json_t *p = json_object();
    for (int i = 0; i < k->n_param_desc; i++) {
        const struct op_param_desc *d = &k->param_desc[i];
        json_t *v = NULL;
        if (d->type == OP_PARAM_REAL) {
            v = json_real(d->def * (0.25 + 1.25 * rng_uniform(r)));
        } else if (d->type == OP_PARAM_BOOL) {
            v = json_boolean(rng_below(r, 2));
        } else {
            int a;
            do a = (int)rng_below(r, ACT_COUNT);
            while (smooth && !activation_smooth[a]);
            v = json_string(activation_names[a]);
        }
        json_object_set_new(p, d->name, v);
    }
    return p;
}

static json_t *edge(struct rng *r, const char *from, int delay, bool self,
                    const struct op_kind *dst)
{
    json_t *e = json_object();
    json_object_set_new(e, "from", json_string(from));
    if (delay) json_object_set_new(e, "delay", json_integer(delay));
    if (self && rng_below(r, 2)) json_object_set_new(e, "no_self", json_true());
    if (rng_below(r, 6) == 0) json_object_set_new(e, "trainable", json_false());
    double gain = dst->spiking ? 2 + 4 * rng_uniform(r) : 0.5 + rng_uniform(r);
    json_object_set_new(e, "gain", json_real(gain));
    return e;
}

char *randgraph_json(uint64_t seed, const struct randgraph_opts *o)
{
    struct rng r;
    rng_seed(&r, seed);
    int n_in = 1 + (int)rng_below(&r, 2),
        n_hidden = 1 + (int)rng_below(&r, (uint64_t)o->max_hidden);
    int n = n_in + (n_hidden < 30 ? n_hidden : 30);
    char ids[32][16];
    const struct op_kind *ops[32];
    json_t *nodes = json_array();
    for (int i = 0; i < n; i++) snprintf(ids[i], sizeof ids[i], "n%d", i);
    for (int i = 0; i < n; i++) {
        json_t *nd = json_object();
        json_object_set_new(nd, "id", json_string(ids[i]));
        ops[i] = i < n_in ? input_kind() : random_kind(&r, o->smooth, i == n - 1);
        json_object_set_new(nd, "op", json_string(ops[i]->name));
        json_object_set_new(nd, "size", json_integer(1 + (int)rng_below(&r, 4)));
        if (i >= n_in) {
            json_object_set_new(nd, "params", node_params(&r, ops[i], o->smooth));
            json_t *in = json_array();
            /* one delay-0 edge from an earlier node, so every node has an input */
            json_array_append_new(in, edge(&r, ids[rng_below(&r, (uint64_t)i)], 0, false, ops[i]));
            for (int s = 0; s < n; s++) {
                if (s < i && rng_below(&r, 3) == 0) {
                    bool dup = false;
                    for (size_t k = 0; k < json_array_size(in); k++)
                        dup |= strcmp(json_string_value(
                                          json_object_get(json_array_get(in, k), "from")),
                                      ids[s]) == 0;
                    if (!dup) json_array_append_new(in, edge(&r, ids[s], 0, false, ops[i]));
                }
                if (!o->no_delays && rng_below(&r, 3) == 0)
                    json_array_append_new(
                        in, edge(&r, ids[s], 1 + (int)rng_below(&r, 3), s == i, ops[i]));
            }
            json_object_set_new(nd, "inputs", in);
            if (rng_below(&r, 4) == 0)
                json_object_set_new(nd, "bias", json_boolean(rng_below(&r, 2)));
        }
        json_array_append_new(nodes, nd);
    }
    json_t *root = json_object();
    static const double dts[] = {0.5, 1.0, 2.0};
    json_object_set_new(root, "trellis", json_integer(1));
    json_object_set_new(root, "dt", json_real(dts[rng_below(&r, 3)]));
    json_object_set_new(root, "nodes", nodes);
    json_t *loss = json_object();
    json_object_set_new(loss, "node", json_string(ids[n - 1]));
    json_object_set_new(loss, "type", json_string(rng_below(&r, 2) ? "mse" : "cross_entropy"));
    json_object_set_new(root, "loss", loss);
    char *text = json_dumps(root, JSON_PRESERVE_ORDER);
    json_decref(root);
    return text;
}

struct data *randgraph_data(const struct graph *g, uint64_t seed, int B, int T)
{
    struct rng r;
    rng_seed(&r, seed ^ 0x5eedull);
    struct data *d = data_new(g, B, T);
    if (!d) return NULL;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!d->x[i]) continue;
        size_t n = (size_t)B * T * g->nodes[i].size;
        bool spikes = rng_below(&r, 2);
        for (size_t k = 0; k < n; k++)
            d->x[i][k] = spikes ? (rng_uniform(&r) < 0.2) : (trl_real)rng_normal(&r);
    }
    if (g->loss_node >= 0) {
        int K = g->nodes[g->loss_node].size;
        for (size_t bt = 0; bt < (size_t)B * T; bt++) {
            d->mask[bt] = rng_below(&r, 4) == 0 ? 0 : (trl_real)(0.5 + rng_uniform(&r));
            if (g->loss_type == LOSS_CROSS_ENTROPY) {
                int c = (int)rng_below(&r, (uint64_t)K);
                for (int k = 0; k < K; k++) d->target[bt * K + k] = k == c;
            } else {
                for (int k = 0; k < K; k++) d->target[bt * K + k] = (trl_real)rng_normal(&r);
            }
        }
    }
    return d;
}
