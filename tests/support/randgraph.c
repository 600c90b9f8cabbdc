/* randgraph.c - see randgraph.h. */
#include "tests/support/randgraph.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

static const char *const kinds_all[] = {"dense", "leaky", "lif", "alif", "readout"};
static const char *const kinds_smooth[] = {"dense", "leaky", "readout"};
static const char *const acts_all[] = {"identity", "tanh", "sigmoid", "relu"};

static bool spiking(const char *op)
{
    return strcmp(op, "lif") == 0 || strcmp(op, "alif") == 0;
}

static json_t *node_params(struct rng *r, const char *op, bool smooth)
{
    json_t *p = json_object();
    if (strcmp(op, "dense") == 0 || strcmp(op, "leaky") == 0)
        json_object_set_new(p, "activation", json_string(acts_all[rng_below(r, smooth ? 3 : 4)]));
    if (strcmp(op, "leaky") == 0)
        json_object_set_new(p, "tau_m", json_real(2 + 20 * rng_uniform(r)));
    if (strcmp(op, "readout") == 0)
        json_object_set_new(p, "tau", json_real(2 + 20 * rng_uniform(r)));
    if (spiking(op)) {
        json_object_set_new(p, "tau_m", json_real(5 + 20 * rng_uniform(r)));
        json_object_set_new(p, "v_th", json_real(0.3 + 0.7 * rng_uniform(r)));
        json_object_set_new(p, "gamma", json_real(0.2 + 0.8 * rng_uniform(r)));
        json_object_set_new(p, "detach_reset", json_boolean(rng_below(r, 2)));
    }
    if (strcmp(op, "alif") == 0) {
        json_object_set_new(p, "tau_a", json_real(10 + 200 * rng_uniform(r)));
        json_object_set_new(p, "beta", json_real(2 * rng_uniform(r)));
    }
    return p;
}

static json_t *edge(struct rng *r, const char *from, int delay, bool self, const char *dst_op)
{
    json_t *e = json_object();
    json_object_set_new(e, "from", json_string(from));
    if (delay) json_object_set_new(e, "delay", json_integer(delay));
    if (self && rng_below(r, 2)) json_object_set_new(e, "no_self", json_true());
    if (rng_below(r, 6) == 0) json_object_set_new(e, "trainable", json_false());
    double gain = spiking(dst_op) ? 2 + 4 * rng_uniform(r) : 0.5 + rng_uniform(r);
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
    const char *ops[32];
    json_t *nodes = json_array();
    for (int i = 0; i < n; i++) snprintf(ids[i], sizeof ids[i], "n%d", i);
    for (int i = 0; i < n; i++) {
        json_t *nd = json_object();
        json_object_set_new(nd, "id", json_string(ids[i]));
        if (i < n_in) {
            ops[i] = "input";
        } else if (i == n - 1) {
            ops[i] =
                o->smooth || rng_below(&r, 2) ? "readout" : (rng_below(&r, 2) ? "dense" : "leaky");
        } else {
            ops[i] = o->smooth ? kinds_smooth[rng_below(&r, 3)] : kinds_all[rng_below(&r, 5)];
        }
        json_object_set_new(nd, "op", json_string(ops[i]));
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
