/* compare.c - see compare.h. */
#include "study/compare.h"

#include <limits.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "io/params.h"

/* ---- metrics ---- */

int cmp_sign(double x)
{
    return (x > 0) - (x < 0);
}

double cmp_ratio(double num, double den)
{
    if (den > 0) return num / den;
    return num > 0 ? INFINITY : NAN;
}

void cmp_sums_add(struct cmp_sums *s, const trl_real *g, const trl_real *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double a = g[i], b = e[i], d = a - b;
        s->gg += a * a;
        s->ee += b * b;
        s->ge += a * b;
        s->dd += d * d;
        s->agree += cmp_sign(a) == cmp_sign(b);
    }
    s->n += n;
}

void cmp_sums_merge(struct cmp_sums *into, const struct cmp_sums *from)
{
    into->gg += from->gg;
    into->ee += from->ee;
    into->ge += from->ge;
    into->dd += from->dd;
    into->n += from->n;
    into->agree += from->agree;
}

struct cmp_metrics cmp_metrics_of(const struct cmp_sums *s)
{
    struct cmp_metrics m;
    m.n = s->n;
    m.norm = sqrt(s->gg);
    m.norm_exact = sqrt(s->ee);
    double den = m.norm * m.norm_exact;
    m.cosine = den > 0 ? fmax(-1.0, fmin(1.0, s->ge / den)) : NAN;
    m.rel_err = cmp_ratio(sqrt(s->dd), m.norm_exact);
    m.norm_ratio = cmp_ratio(m.norm, m.norm_exact);
    m.sign_agree = s->n ? (double)s->agree / (double)s->n : NAN;
    return m;
}

struct cmp_metrics cmp_metrics_vec(const trl_real *g, const trl_real *e, size_t n)
{
    struct cmp_sums s = {0};
    cmp_sums_add(&s, g, e, n);
    return cmp_metrics_of(&s);
}

/* ---- structure ---- */

/* 0-1 breadth-first search backwards from the loss node: a delay-0 edge
 * costs 1, a delayed edge 0. A node is expanded once, when it leaves the
 * deque with its final distance, so each edge pushes at most once and the
 * deque never holds more than n_edges + 1 entries. */
static void depth_search(const struct graph *g, int *depth, int *deque, bool *done)
{
    const int cap = g->n_edges + 2;
    int head = 0, len = 1;
    for (int i = 0; i < g->n_nodes; i++) depth[i] = INT_MAX;
    depth[g->loss_node] = 0;
    deque[0] = g->loss_node;
    while (len > 0) {
        int u = deque[head];
        head = (head + 1) % cap;
        len--;
        if (done[u]) continue;
        done[u] = true;
        const struct graph_node *n = &g->nodes[u];
        for (int k = 0; k < n->n_in; k++) {
            const struct graph_edge *e = &g->edges[n->in[k]];
            int w = e->delay == 0, v = e->src;
            if (done[v] || depth[u] + w >= depth[v]) continue;
            depth[v] = depth[u] + w;
            if (w) {
                deque[(head + len) % cap] = v;
            } else {
                head = (head + cap - 1) % cap;
                deque[head] = v;
            }
            len++;
        }
    }
    for (int i = 0; i < g->n_nodes; i++)
        if (depth[i] == INT_MAX) depth[i] = -1;
}

/* Plain search backwards from the loss node over delay-0 edges. */
static void delay0_search(const struct graph *g, bool *reach, int *stack)
{
    int top = 0;
    memset(reach, 0, (size_t)g->n_nodes * sizeof *reach);
    reach[g->loss_node] = true;
    stack[top++] = g->loss_node;
    while (top > 0) {
        const struct graph_node *n = &g->nodes[stack[--top]];
        for (int k = 0; k < n->n_in; k++) {
            const struct graph_edge *e = &g->edges[n->in[k]];
            if (e->delay != 0 || reach[e->src]) continue;
            reach[e->src] = true;
            stack[top++] = e->src;
        }
    }
}

int compare_depths(const struct graph *g, int *depth, bool *delayed_only)
{
    if (g->loss_node < 0) return -1;
    int *deque =
        trl_alloc((size_t)g->n_edges + (size_t)g->n_nodes + 2, sizeof *deque, TRL_MEM_MISC);
    bool *mark = trl_alloc((size_t)g->n_nodes, sizeof *mark, TRL_MEM_MISC);
    if (!deque || !mark) {
        trl_free(deque);
        trl_free(mark);
        return -1;
    }
    depth_search(g, depth, deque, mark);
    delay0_search(g, mark, deque);
    for (int i = 0; i < g->n_nodes; i++) delayed_only[i] = !mark[i];
    trl_free(deque);
    trl_free(mark);
    return 0;
}

/* ---- running the algorithms ---- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One measured grad_compute call into grad. */
static int measure(const struct graph *g, const trl_real *params, const struct data *d,
                   const struct grad_hooks *hooks, trl_real *grad, struct compare_cost *c,
                   struct trl_errors *err)
{
    const struct trl_mem_stats *st = trl_mem_stats();
    trl_mem_reset_peak();
    size_t trace0 = st->current[TRL_MEM_TRACE], hist0 = st->current[TRL_MEM_HISTORY];
    double t0 = now_seconds();
    int rc =
        grad_compute_hooks(g, params, d, c->algo.algo, c->algo.engine, hooks, grad, &c->loss, err);
    c->seconds = now_seconds() - t0;
    c->trace_bytes = st->peak[TRL_MEM_TRACE] - trace0;
    c->history_bytes = st->peak[TRL_MEM_HISTORY] - hist0;
    return rc;
}

/* The exact run, which also sums every node's z for mean_z. */
static int run_exact(const struct graph *g, const trl_real *params, const struct data *d,
                     struct compare_report *r, trl_real *grad, struct trl_errors *err)
{
    struct grad_hooks hooks = {.z_sum = r->mean_z};
    r->exact.algo = (struct compare_algo){GRAD_BPTT, GRAD_ENGINE_DEFAULT, 1, NULL};
    if (measure(g, params, d, &hooks, grad, &r->exact, err)) return -1;
    for (int i = 0; i < g->n_nodes; i++) r->mean_z[i] /= (double)d->B * d->T * g->nodes[i].size;
    return 0;
}

/* ---- grouping ---- */

static void item_init(struct compare_item *it, const char *name, int node, int depth)
{
    memset(it, 0, sizeof *it);
    it->name = name;
    it->node = node;
    it->depth = depth;
    it->delayed_only = true;
}

/* Counts one tensor into a group. */
static void item_count(struct compare_item *it, size_t count, bool delayed_only)
{
    it->n_tensors++;
    it->count += count;
    it->delayed_only = it->delayed_only && delayed_only;
}

static void sums_merge_n(struct cmp_sums *into, const struct cmp_sums *from, int n_algos)
{
    for (int a = 0; a < n_algos; a++) cmp_sums_merge(&into[a], &from[a]);
}

static void item_finish(struct compare_item *it, const struct cmp_sums *s, int n_algos)
{
    for (int a = 0; a < n_algos; a++) it->m[a] = cmp_metrics_of(&s[a]);
}

/* Sums per group: index k of a group kind, algorithm a at [k * n_algos + a]. */
struct groups {
    struct cmp_sums *tensor, *node, *depth, total[COMPARE_MAX_ALGOS];
    int *node_item;  /* per node: its item, or -1 */
    int *depth_item; /* per depth + 1 (0: unreachable): its item, or -1 */
    int max_depth;
};

static void groups_free(struct groups *gr)
{
    trl_free(gr->tensor);
    trl_free(gr->node);
    trl_free(gr->depth);
    trl_free(gr->node_item);
    trl_free(gr->depth_item);
}

/* Counts the items and allocates them and their sums. */
static int groups_alloc(const struct graph *g, const int *depth, struct compare_report *r,
                        struct groups *gr)
{
    int n_alg = r->n_algos, max_depth = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (depth[i] > max_depth) max_depth = depth[i];
    gr->max_depth = max_depth;
    gr->node_item = trl_alloc((size_t)g->n_nodes, sizeof(int), TRL_MEM_MISC);
    gr->depth_item = trl_alloc((size_t)max_depth + 2, sizeof(int), TRL_MEM_MISC);
    if (!gr->node_item || !gr->depth_item) return -1;
    for (int i = 0; i < g->n_nodes; i++) gr->node_item[i] = -1;
    for (int k = 0; k < max_depth + 2; k++) gr->depth_item[k] = -1;
    for (int p = 0; p < g->n_params; p++) {
        const struct graph_param *q = &g->params[p];
        if (!q->trainable) continue;
        r->n_tensors++;
        if (gr->node_item[q->node] < 0) gr->node_item[q->node] = r->n_nodes++;
        gr->depth_item[depth[q->node] + 1] = INT_MAX; /* used */
    }
    for (int k = 1; k < max_depth + 2; k++) /* ascending depth, then unreachable */
        if (gr->depth_item[k] == INT_MAX) gr->depth_item[k] = r->n_depths++;
    if (gr->depth_item[0] == INT_MAX) gr->depth_item[0] = r->n_depths++;
    size_t nt = (size_t)r->n_tensors, nn = (size_t)r->n_nodes, nd = (size_t)r->n_depths;
    r->tensors = trl_alloc(nt + 1, sizeof *r->tensors, TRL_MEM_MISC);
    r->nodes = trl_alloc(nn + 1, sizeof *r->nodes, TRL_MEM_MISC);
    r->depths = trl_alloc(nd + 1, sizeof *r->depths, TRL_MEM_MISC);
    gr->tensor = trl_alloc((nt + 1) * (size_t)n_alg, sizeof(struct cmp_sums), TRL_MEM_MISC);
    gr->node = trl_alloc((nn + 1) * (size_t)n_alg, sizeof(struct cmp_sums), TRL_MEM_MISC);
    gr->depth = trl_alloc((nd + 1) * (size_t)n_alg, sizeof(struct cmp_sums), TRL_MEM_MISC);
    return r->tensors && r->nodes && r->depths && gr->tensor && gr->node && gr->depth ? 0 : -1;
}

static void items_init(const struct graph *g, const int *depth, struct compare_report *r,
                       const struct groups *gr)
{
    item_init(&r->total, NULL, -1, -1);
    for (int i = 0; i < g->n_nodes; i++)
        if (gr->node_item[i] >= 0)
            item_init(&r->nodes[gr->node_item[i]], g->nodes[i].id, i, depth[i]);
    for (int k = 0; k < gr->max_depth + 2; k++)
        if (gr->depth_item[k] >= 0) item_init(&r->depths[gr->depth_item[k]], NULL, -1, k - 1);
}

/* Fills every item from the gradients. */
static void groups_fill(const struct graph *g, const int *depth, const bool *delayed_only,
                        trl_real *const *grads, const trl_real *exact, struct compare_report *r,
                        struct groups *gr)
{
    const int n_alg = r->n_algos;
    items_init(g, depth, r, gr);
    for (int p = 0, t = 0; p < g->n_params; p++) {
        const struct graph_param *q = &g->params[p];
        if (!q->trainable) continue;
        int dep = depth[q->node], ni = gr->node_item[q->node], di = gr->depth_item[dep + 1];
        bool late = delayed_only[q->node];
        struct cmp_sums *s = &gr->tensor[(size_t)t * n_alg];
        for (int a = 0; a < n_alg; a++)
            cmp_sums_add(&s[a], grads[a] + q->offset, exact + q->offset, q->count);
        struct compare_item *ti = &r->tensors[t++];
        item_init(ti, q->name, q->node, dep);
        item_count(ti, q->count, late);
        item_finish(ti, s, n_alg);
        item_count(&r->nodes[ni], q->count, late);
        sums_merge_n(&gr->node[(size_t)ni * n_alg], s, n_alg);
        item_count(&r->depths[di], q->count, late);
        sums_merge_n(&gr->depth[(size_t)di * n_alg], s, n_alg);
        item_count(&r->total, q->count, late);
        sums_merge_n(gr->total, s, n_alg);
        if (dep > r->total.depth) r->total.depth = dep;
    }
    for (int k = 0; k < r->n_nodes; k++)
        item_finish(&r->nodes[k], &gr->node[(size_t)k * n_alg], n_alg);
    for (int k = 0; k < r->n_depths; k++)
        item_finish(&r->depths[k], &gr->depth[(size_t)k * n_alg], n_alg);
    item_finish(&r->total, gr->total, n_alg);
}

static int fill_report(const struct graph *g, trl_real *const *grads, const trl_real *exact,
                       struct compare_report *r, struct trl_errors *err)
{
    int *depth = trl_alloc((size_t)g->n_nodes, sizeof *depth, TRL_MEM_MISC);
    bool *late = trl_alloc((size_t)g->n_nodes, sizeof *late, TRL_MEM_MISC);
    struct groups gr = {0};
    int rc = -1;
    if (depth && late && compare_depths(g, depth, late) == 0 &&
        groups_alloc(g, depth, r, &gr) == 0) {
        groups_fill(g, depth, late, grads, exact, r, &gr);
        rc = 0;
    } else {
        trl_errors_add(err, NULL, "out of memory comparing the gradients");
    }
    groups_free(&gr);
    trl_free(depth);
    trl_free(late);
    return rc;
}

void compare_free(struct compare_report *r)
{
    if (!r) return;
    trl_free(r->mean_z);
    trl_free(r->tensors);
    trl_free(r->nodes);
    trl_free(r->depths);
    trl_free(r);
}

static void free_grads(trl_real **grads, int n)
{
    for (int a = 0; a < n; a++) trl_free(grads[a]);
}

struct compare_report *compare_new(const struct graph *g, const trl_real *params,
                                   const struct data *d, const struct compare_algo *algos,
                                   int n_algos, struct trl_errors *err)
{
    if (g->loss_node < 0) {
        trl_errors_add(err, "/loss",
                       "the graph has no loss; add \"loss\": {\"node\": ID, "
                       "\"type\": \"mse\"} to compare gradients");
        return NULL;
    }
    if (n_algos < 1 || n_algos > COMPARE_MAX_ALGOS) {
        trl_errors_add(err, NULL, "compare takes 1 to %d algorithms (got %d)", COMPARE_MAX_ALGOS,
                       n_algos);
        return NULL;
    }
    struct compare_report *r = trl_alloc(1, sizeof *r, TRL_MEM_MISC);
    trl_real *exact = params_new(g), *grads[COMPARE_MAX_ALGOS] = {0};
    bool ok = r && exact;
    for (int a = 0; ok && a < n_algos; a++) ok = (grads[a] = params_new(g)) != NULL;
    if (ok) ok = (r->mean_z = trl_alloc((size_t)g->n_nodes, sizeof(double), TRL_MEM_MISC)) != NULL;
    if (!ok) trl_errors_add(err, NULL, "out of memory for the gradients");
    if (ok) {
        r->n_algos = n_algos;
        ok = run_exact(g, params, d, r, exact, err) == 0;
    }
    for (int a = 0; ok && a < n_algos; a++) {
        const struct grad_hooks hooks = {.order = algos[a].order, .feedback = algos[a].feedback};
        r->cost[a].algo = algos[a];
        ok = measure(g, params, d, &hooks, grads[a], &r->cost[a], err) == 0;
    }
    if (ok) ok = fill_report(g, grads, exact, r, err) == 0;
    free_grads(grads, n_algos);
    trl_free(exact);
    if (ok) return r;
    compare_free(r);
    return NULL;
}
