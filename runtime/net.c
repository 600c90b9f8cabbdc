/* net.c - see net.h. */
#include "runtime/net.h"

#include <string.h>

#include "runtime/alloc.h"

static int max_out_delay(const struct graph *g, int node)
{
    int d = 0;
    const struct graph_node *n = &g->nodes[node];
    for (int k = 0; k < n->n_out; k++)
        if (g->edges[n->out[k]].delay > d) d = g->edges[n->out[k]].delay;
    return d;
}

static int ring_depth(int needed, int keep_steps)
{
    return needed > keep_steps ? needed : keep_steps;
}

static size_t largest_state(const struct graph *g)
{
    size_t m = 1;
    for (int i = 0; i < g->n_nodes; i++) {
        const struct graph_node *n = &g->nodes[i];
        size_t s = (size_t)n->size * (n->op->n_state > 1 ? (size_t)n->op->n_state : 1);
        if (s > m) m = s;
    }
    return m;
}

size_t net_state_bytes(const struct graph *g, int B)
{
    size_t values = 2 * (size_t)B * largest_state(g);
    for (int i = 0; i < g->n_nodes; i++) {
        const struct graph_node *n = &g->nodes[i];
        int zd = ring_depth(max_out_delay(g, i) + 1, 2);
        values += (size_t)B * n->size * ((size_t)zd + 2 * (size_t)n->op->n_state);
    }
    return values * sizeof(trl_real);
}

struct net *net_new(const struct graph *g, const trl_real *params, int B, int keep_steps)
{
    struct net *net = trl_alloc(1, sizeof *net, TRL_MEM_STATE);
    if (!net) return NULL;
    net->g = g;
    net->params = params;
    net->B = B;
    net->nodes = trl_alloc((size_t)g->n_nodes, sizeof *net->nodes, TRL_MEM_STATE);
    size_t big = trl_mul2((size_t)B, largest_state(g));
    net->zeros = trl_alloc(big, sizeof(trl_real), TRL_MEM_STATE);
    net->I = trl_alloc(big, sizeof(trl_real), TRL_MEM_STATE);
    if (!net->nodes || !net->zeros || !net->I) goto fail;
    for (int i = 0; i < g->n_nodes; i++) {
        const struct graph_node *n = &g->nodes[i];
        struct net_node *s = &net->nodes[i];
        s->z_len = (size_t)B * n->size;
        s->h_len = s->z_len * (size_t)n->op->n_state;
        s->z_depth = ring_depth(max_out_delay(g, i) + 1, ring_depth(2, keep_steps));
        s->h_depth = ring_depth(2, keep_steps);
        enum trl_mem_kind kind = keep_steps > 2 ? TRL_MEM_HISTORY : TRL_MEM_STATE;
        s->z = trl_alloc((size_t)s->z_depth, s->z_len * sizeof(trl_real), kind);
        if (!s->z) goto fail;
        if (s->h_len) {
            s->h = trl_alloc((size_t)s->h_depth, s->h_len * sizeof(trl_real), kind);
            if (!s->h) goto fail;
        }
    }
    return net;
fail:
    net_free(net);
    return NULL;
}

void net_free(struct net *net)
{
    if (!net) return;
    if (net->nodes)
        for (int i = 0; i < net->g->n_nodes; i++) {
            trl_free(net->nodes[i].z);
            trl_free(net->nodes[i].h);
        }
    trl_free(net->nodes);
    trl_free(net->zeros);
    trl_free(net->I);
    trl_free(net);
}

void net_reset(struct net *net)
{
    net->t = 0;
    for (int i = 0; i < net->g->n_nodes; i++) {
        struct net_node *s = &net->nodes[i];
        memset(s->z, 0, (size_t)s->z_depth * s->z_len * sizeof(trl_real));
        if (s->h) memset(s->h, 0, (size_t)s->h_depth * s->h_len * sizeof(trl_real));
    }
}

/* The slots of step t >= 0, writable. */
static trl_real *z_slot(struct net *net, int node, int t)
{
    struct net_node *s = &net->nodes[node];
    return s->z + (size_t)(t % s->z_depth) * s->z_len;
}

static trl_real *h_slot(struct net *net, int node, int t)
{
    struct net_node *s = &net->nodes[node];
    return s->h + (size_t)(t % s->h_depth) * s->h_len;
}

const trl_real *net_z(const struct net *net, int node, int t)
{
    const struct net_node *s = &net->nodes[node];
    return t < 0 ? net->zeros : s->z + (size_t)(t % s->z_depth) * s->z_len;
}

const trl_real *net_h(const struct net *net, int node, int t)
{
    const struct net_node *s = &net->nodes[node];
    return t < 0 ? net->zeros : s->h + (size_t)(t % s->h_depth) * s->h_len;
}

void net_input(const struct net *net, int node, int t, trl_real *out)
{
    const struct graph *g = net->g;
    const struct graph_node *n = &g->nodes[node];
    const int B = net->B, size = n->size;
    if (n->bias) {
        const trl_real *b = net->params + g->params[n->bias_param].offset;
        for (int r = 0; r < B; r++) memcpy(out + (size_t)r * size, b, (size_t)size * sizeof *b);
    } else {
        memset(out, 0, (size_t)B * size * sizeof *out);
    }
    for (int k = 0; k < n->n_in; k++) {
        const struct graph_edge *e = &g->edges[n->in[k]];
        if (t - e->delay < 0) continue; /* the source was 0 before t = 0 */
        const int src = g->nodes[e->src].size;
        const trl_real *W = net->params + g->params[e->param].offset;
        trl_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, size, src, 1,
                 net_z(net, e->src, t - e->delay), src, W, src, 1, out, size);
    }
}

static void copy_input(struct net *net, int node, const struct data *d)
{
    const int size = net->g->nodes[node].size, t = net->t;
    trl_real *z = z_slot(net, node, t);
    for (int r = 0; r < net->B; r++)
        memcpy(z + (size_t)r * size, d->x[node] + ((size_t)r * d->T + t) * size,
               (size_t)size * sizeof *z);
}

void net_step(struct net *net, const struct data *d)
{
    const struct graph *g = net->g;
    const int t = net->t;
    for (int k = 0; k < g->n_nodes; k++) {
        const int i = g->order[k];
        const struct graph_node *n = &g->nodes[i];
        if (n->op->is_input) {
            copy_input(net, i, d);
            continue;
        }
        net_input(net, i, t, net->I);
        n->op->forward(n->params, net->B, n->size, net->I, net_h(net, i, t - 1),
                       net_z(net, i, t - 1), h_slot(net, i, t), z_slot(net, i, t));
    }
    net->t++;
}
