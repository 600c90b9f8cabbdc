/* net.c - see net.h. */
#include "engines/net.h"

#include <stdbool.h>
#include <string.h>

#include "core/alloc.h"
#include "kernels/events.h"

/* rows copies of node n's bias (0 without one) into out: where its input
 * starts before the products are added. */
static void fill_bias(const struct net *net, const struct graph_node *n, size_t rows, trl_real *out)
{
    const size_t N = (size_t)n->size;
    if (!n->bias) {
        memset(out, 0, rows * N * sizeof *out);
        return;
    }
    const trl_real *b = net->params + net->g->params[n->bias_param].offset;
    for (size_t r = 0; r < rows; r++) memcpy(out + r * N, b, N * sizeof *b);
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
        int zd = ring_depth(graph_max_out_delay(g, i) + 1, 2);
        values += (size_t)B * n->size * ((size_t)zd + 2 * (size_t)n->op->n_state);
    }
    return values * sizeof(trl_real);
}

/* Edges whose source may be mostly zeros: spiking nodes and inputs. */
static bool edge_may_be_sparse(const struct graph *g, const struct graph_edge *e)
{
    const struct op_kind *op = g->nodes[e->src].op;
    return op->spiking || op->is_input;
}

/* wt [K][N] = W^T for W [N][K], in 16 x 16 blocks that stay in L1. */
static void transpose(trl_real *wt, const trl_real *W, int N, int K)
{
    for (int i0 = 0; i0 < N; i0 += 16)
        for (int j0 = 0; j0 < K; j0 += 16) {
            const int i1 = N - i0 < 16 ? N : i0 + 16, j1 = K - j0 < 16 ? K : j0 + 16;
            for (int i = i0; i < i1; i++)
                for (int j = j0; j < j1; j++) wt[(size_t)j * N + i] = W[(size_t)i * K + j];
        }
}

void net_sync_weights(struct net *net)
{
    const struct graph *g = net->g;
    for (int k = 0; k < g->n_edges; k++) {
        if (!net->wt[k]) continue;
        const struct graph_edge *e = &g->edges[k];
        transpose(net->wt[k], net->params + g->params[e->param].offset, g->nodes[e->dst].size,
                  g->nodes[e->src].size);
    }
    for (int k = 0; net->packed && k < g->n_edges; k++) packed_sync(&net->packed[k]);
}

/* Every edge's W for the products of a step: packed for the batch's few
 * rows where that pays, else the BLAS on W itself (packed_init). Edges from
 * spiking and input sources use it at the steps where their source is too
 * dense for events (dense input data, bursts). */
static int alloc_packed(struct net *net)
{
    const struct graph *g = net->g;
    net->packed = trl_alloc((size_t)g->n_edges + 1, sizeof *net->packed, TRL_MEM_STATE);
    if (!net->packed) return -1;
    for (int k = 0; k < g->n_edges; k++) {
        const struct graph_edge *e = &g->edges[k];
        const trl_real *W = net->params + g->params[e->param].offset;
        const int N = g->nodes[e->dst].size, K = g->nodes[e->src].size;
        if (!packed_pays(net->B))
            net->packed[k] = (struct packed_weight){
                .w = W, .rows = N, .cols = K, .op = PACKED_WT, .n_in = K, .n_out = N};
        else if (packed_init(&net->packed[k], W, N, K, PACKED_WT))
            return -1;
    }
    return 0;
}

static int alloc_transposed(struct net *net)
{
    const struct graph *g = net->g;
    net->wt = trl_alloc((size_t)g->n_edges + 1, sizeof *net->wt, TRL_MEM_STATE);
    if (!net->wt) return -1;
    for (int k = 0; k < g->n_edges; k++) {
        if (!edge_may_be_sparse(g, &g->edges[k])) continue;
        net->wt[k] = trl_alloc(g->params[g->edges[k].param].count, sizeof(trl_real), TRL_MEM_STATE);
        if (!net->wt[k]) return -1;
    }
    net_sync_weights(net);
    return 0;
}

/* The event lists of a node whose output can be sparse. */
static int alloc_events(struct net *net, int i)
{
    const struct op_kind *op = net->g->nodes[i].op;
    for (int k = 0; k < 2; k++) {
        struct net_events *ev = &net->nodes[i].ev[k];
        ev->t = -1;
        if (!op->spiking && !op->is_input) continue;
        ev->pos = trl_alloc(net->nodes[i].z_len + EVENTS_SLACK, sizeof(int), TRL_MEM_STATE);
        ev->start = trl_alloc((size_t)net->B + 1, sizeof(int), TRL_MEM_STATE);
        if (!ev->pos || !ev->start) return -1;
    }
    return 0;
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
    if (!net->nodes || !net->zeros || !net->I || alloc_transposed(net) || alloc_packed(net))
        goto fail;
    for (int i = 0; i < g->n_nodes; i++) {
        const struct graph_node *n = &g->nodes[i];
        struct net_node *s = &net->nodes[i];
        s->z_len = (size_t)B * n->size;
        s->h_len = s->z_len * (size_t)n->op->n_state;
        s->z_depth = ring_depth(graph_max_out_delay(g, i) + 1, ring_depth(2, keep_steps));
        s->h_depth = ring_depth(2, keep_steps);
        enum trl_mem_kind kind = keep_steps > 2 ? TRL_MEM_HISTORY : TRL_MEM_STATE;
        /* every slot is written before it is read (t < 0 reads net->zeros) */
        s->z = trl_alloc_uninit((size_t)s->z_depth, s->z_len * sizeof(trl_real), kind);
        if (!s->z || alloc_events(net, i)) goto fail;
        if (s->h_len) {
            s->h = trl_alloc_uninit((size_t)s->h_depth, s->h_len * sizeof(trl_real), kind);
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
            for (int k = 0; k < 2; k++) {
                trl_free(net->nodes[i].ev[k].pos);
                trl_free(net->nodes[i].ev[k].start);
            }
        }
    trl_free(net->nodes);
    if (net->wt)
        for (int k = 0; k < net->g->n_edges; k++) trl_free(net->wt[k]);
    trl_free(net->wt);
    if (net->packed)
        for (int k = 0; k < net->g->n_edges; k++) packed_free(&net->packed[k]);
    trl_free(net->packed);
    trl_free(net->zeros);
    trl_free(net->I);
    trl_free(net);
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

/* The nonzero outputs of node i at step t >= 0 (found on first use). */
static const struct net_events *node_events(struct net *net, int i, int t)
{
    struct net_events *ev = &net->nodes[i].ev[t % 2];
    if (ev->t == t) return ev;
    events_find(net_z(net, i, t), net->B, net->g->nodes[i].size, ev->start, ev->pos);
    ev->t = t;
    return ev;
}

/* out [B][N] += z [B][K] W^T from the transposed weights wt [K][N], one row
 * of wt per nonzero z (kernels/events.h), if at most a quarter of z is
 * nonzero; returns false (nothing done) otherwise, for a GEMM. */
static bool add_events(trl_real *out, const trl_real *z, const trl_real *wt, int B, int N, int K,
                       const struct net_events *ev)
{
    if (4 * (size_t)ev->start[B] > (size_t)B * K) return false;
    events_add(out, z, wt, B, N, K, ev->start, ev->pos);
    return true;
}

void net_input(struct net *net, int node, int t, trl_real *out)
{
    const struct graph *g = net->g;
    const struct graph_node *n = &g->nodes[node];
    const int B = net->B, size = n->size;
    fill_bias(net, n, (size_t)B, out);
    for (int k = 0; k < n->n_in; k++) {
        const struct graph_edge *e = &g->edges[n->in[k]];
        if (t - e->delay < 0) continue; /* the source was 0 before t = 0 */
        const int src = g->nodes[e->src].size;
        const trl_real *z = net_z(net, e->src, t - e->delay);
        if (net->wt[n->in[k]] && add_events(out, z, net->wt[n->in[k]], B, size, src,
                                            node_events(net, e->src, t - e->delay)))
            continue;
        packed_mul(&net->packed[n->in[k]], B, z, src, out, size);
    }
}

static void copy_input(struct net *net, int node, const struct data *d)
{
    const int size = net->g->nodes[node].size, t = net->t;
    trl_real *z = z_slot(net, node, t);
    for (int r = 0; r < net->B; r++) /* step t is row r * span + t - t0 (data.h: windows) */
        memcpy(z + (size_t)r * size, d->x[node] + ((size_t)r * d->span + (t - d->t0)) * size,
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

/* ---- whole sequences, component by component ------------------------------
 *
 * With every step kept (keep_steps >= T), a sequence can run one strongly
 * connected component of the graph (all edges, delays included) at a time,
 * in an order where edges between components go forward. An edge from an
 * earlier component then has its source's whole sequence ready, and its
 * product for all steps is one GEMM over T x B rows (the peer's trick for
 * edges outside recurrent loops); only the edges inside a component are
 * stepped. Until a node's step t runs, its z slot for t holds that step's
 * precomputed input. */

/* Tarjan's algorithm, iterative: comp[i] for every node, components numbered
 * so that every edge goes from a component to the same or a later one. */
static int net_components(const struct graph *g, int *comp)
{
    const int n = g->n_nodes;
    int *index = trl_alloc((size_t)n, sizeof(int), TRL_MEM_MISC);
    int *low = trl_alloc((size_t)n, sizeof(int), TRL_MEM_MISC);
    int *stack = trl_alloc((size_t)n, sizeof(int), TRL_MEM_MISC);
    int *call = trl_alloc((size_t)n, sizeof(int), TRL_MEM_MISC); /* DFS path */
    int *next = trl_alloc((size_t)n, sizeof(int), TRL_MEM_MISC); /* next out-edge to visit */
    bool *on = trl_alloc((size_t)n, sizeof(bool), TRL_MEM_MISC);
    int count = -1;
    if (!index || !low || !stack || !call || !next || !on) goto done;
    int counter = 1, sp = 0, found = 0;
    for (int root = 0; root < n; root++) {
        if (index[root]) continue;
        int depth = 0;
        call[depth++] = root;
        index[root] = low[root] = counter++;
        stack[sp++] = root;
        on[root] = true;
        while (depth) {
            const int v = call[depth - 1];
            const struct graph_node *nv = &g->nodes[v];
            if (next[v] < nv->n_out) {
                const int w = g->edges[nv->out[next[v]++]].dst;
                if (!index[w]) {
                    index[w] = low[w] = counter++;
                    stack[sp++] = w;
                    on[w] = true;
                    call[depth++] = w;
                } else if (on[w] && index[w] < low[v]) {
                    low[v] = index[w];
                }
                continue;
            }
            depth--;
            if (depth && low[v] < low[call[depth - 1]]) low[call[depth - 1]] = low[v];
            if (low[v] != index[v]) continue;
            int w;
            do { /* a component, found after every component it reaches */
                w = stack[--sp];
                on[w] = false;
                comp[w] = found;
            } while (w != v);
            found++;
        }
    }
    for (int i = 0; i < n; i++) comp[i] = found - 1 - comp[i]; /* sources first */
    count = found;
done:
    trl_free(index);
    trl_free(low);
    trl_free(stack);
    trl_free(call);
    trl_free(next);
    trl_free(on);
    return count;
}

/* Outputs up to which a product over all steps goes through the packed
 * weight: one panel, where the BLAS would copy all of z for a few columns
 * (bin/trellis bench --gemm: 800 x 1024 x 10 in 0.14 ms against 0.26). */
#define PACKED_NARROW 48

/* out [rows][N] += z [rows][K] W^T, event-driven when z is mostly zeros. */
TRL_HOT static void add_block(trl_real *out, const trl_real *z, const trl_real *W,
                              const trl_real *wt, const struct packed_weight *pw, int rows, int N,
                              int K)
{
    if (wt) {
        size_t nonzero = 0, total = (size_t)rows * K;
        for (size_t i = 0; i < total; i++) nonzero += z[i] != 0;
        if (4 * nonzero <= total) {
            for (int r = 0; r < rows; r++) {
                const trl_real *zr = z + (size_t)r * K;
                trl_real *o = out + (size_t)r * N;
                for (int k = 0; k < K; k++) {
                    if (zr[k] == 0) continue;
                    const trl_real v = zr[k], *w = wt + (size_t)k * N;
                    for (int i = 0; i < N; i++) o[i] += v * w[i];
                }
            }
            return;
        }
    }
    if (pw->panels && N <= PACKED_NARROW)
        packed_mul(pw, rows, z, K, out, N);
    else
        trl_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, N, K, 1, z, K, W, K, 1, out, N);
}

/* The input of node i from outside its component, for every step, into its
 * z slots: bias plus one product per external edge over all steps. */
static void precompute_inputs(struct net *net, int i, const int *comp, int T)
{
    const struct graph *g = net->g;
    const struct graph_node *n = &g->nodes[i];
    const int B = net->B, N = n->size;
    trl_real *all = z_slot(net, i, 0); /* slots 0..T-1 are contiguous */
    const size_t rows = (size_t)T * B;
    fill_bias(net, n, rows, all);
    for (int k = 0; k < n->n_in; k++) {
        const struct graph_edge *e = &g->edges[n->in[k]];
        if (comp[e->src] == comp[i] || e->delay >= T) continue;
        const int K = g->nodes[e->src].size;
        add_block(all + (size_t)e->delay * B * N, z_slot(net, e->src, 0),
                  net->params + g->params[e->param].offset, net->wt[n->in[k]],
                  &net->packed[n->in[k]], (T - e->delay) * B, N, K);
    }
}

/* Step t of node i: the precomputed input plus its component's own edges. */
static void step_in_component(struct net *net, int i, int t, const int *comp)
{
    const struct graph *g = net->g;
    const struct graph_node *n = &g->nodes[i];
    const int B = net->B, N = n->size;
    memcpy(net->I, z_slot(net, i, t), (size_t)B * N * sizeof *net->I);
    for (int k = 0; k < n->n_in; k++) {
        const struct graph_edge *e = &g->edges[n->in[k]];
        if (comp[e->src] != comp[i] || t - e->delay < 0) continue;
        const int K = g->nodes[e->src].size;
        const trl_real *z = net_z(net, e->src, t - e->delay);
        if (net->wt[n->in[k]] && add_events(net->I, z, net->wt[n->in[k]], B, N, K,
                                            node_events(net, e->src, t - e->delay)))
            continue;
        packed_mul(&net->packed[n->in[k]], B, z, K, net->I, N);
    }
    n->op->forward(n->params, B, N, net->I, net_h(net, i, t - 1), net_z(net, i, t - 1),
                   h_slot(net, i, t), z_slot(net, i, t));
}

bool net_prefers_sequence(const struct graph *g)
{
    int *comp = trl_alloc((size_t)g->n_nodes, sizeof(int), TRL_MEM_MISC);
    bool prefer = false;
    if (comp && net_components(g, comp) >= 0) {
        double all = 0, batched = 0;
        for (int k = 0; k < g->n_edges; k++) {
            const struct graph_edge *e = &g->edges[k];
            const double macs = (double)g->nodes[e->dst].size * g->nodes[e->src].size;
            all += macs;
            if (comp[e->src] != comp[e->dst] && !edge_may_be_sparse(g, e)) batched += macs;
        }
        prefer = batched >= 0.25 * all;
    }
    trl_free(comp);
    return prefer;
}

int net_run_sequence(struct net *net, const struct data *d)
{
    const struct graph *g = net->g;
    const int T = d->T;
    int *comp = trl_alloc((size_t)g->n_nodes, sizeof(int), TRL_MEM_MISC);
    int n_comp = comp ? net_components(g, comp) : -1;
    if (n_comp < 0) {
        trl_free(comp);
        return -1;
    }
    for (int c = 0; c < n_comp; c++) {
        for (int k = 0; k < g->n_nodes; k++) { /* inputs: copy; others: outside inputs */
            const int i = g->order[k];
            if (comp[i] != c) continue;
            if (g->nodes[i].op->is_input)
                for (net->t = 0; net->t < T; net->t++) copy_input(net, i, d);
            else
                precompute_inputs(net, i, comp, T);
        }
        for (int t = 0; t < T; t++)
            for (int k = 0; k < g->n_nodes; k++) {
                const int i = g->order[k];
                if (comp[i] == c && !g->nodes[i].op->is_input) step_in_component(net, i, t, comp);
            }
    }
    net->t = T;
    trl_free(comp);
    return 0;
}
