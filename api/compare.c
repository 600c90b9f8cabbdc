/* compare.c - an algorithm's gradient against the exact one (trellis.h;
 * study/compare.h has the definitions of every metric and group). */
#include <math.h>
#include <stdlib.h>

#include "api/api.h"
#include "study/compare.h"

_Static_assert(TRL_COMPARE_MAX == COMPARE_MAX_ALGOS, "one limit on compared algorithms");

struct trl_compare {
    struct compare_report *r;
    int n_algos;
    trl_compare_cost exact, cost[TRL_COMPARE_MAX];
    trl_compare_item *items[4]; /* per trl_compare_group */
    int count[4];
    int n_graph_nodes; /* mean_z's length */
};

static trl_grad_opts opts_of(struct compare_algo a)
{
    trl_grad_opts o = TRL_GRAD_OPTS_INIT;
    o.algo = a.algo == GRAD_RTRL    ? TRL_ALGO_RTRL
             : a.algo == GRAD_EPROP ? TRL_ALGO_EPROP
                                    : TRL_ALGO_BPTT;
    o.engine = a.engine == GRAD_ENGINE_ONLINE    ? TRL_ENGINE_ONLINE
               : a.engine == GRAD_ENGINE_REVERSE ? TRL_ENGINE_REVERSE
                                                 : TRL_ENGINE_DEFAULT;
    o.order = a.order;
    o.feedback = a.feedback ? TRL_FEEDBACK_RANDOM : TRL_FEEDBACK_SYMMETRIC;
    return o;
}

static trl_compare_cost cost_of(const struct compare_cost *c)
{
    return (trl_compare_cost){.algo = opts_of(c->algo),
                              .seconds = c->seconds,
                              .trace_bytes = c->trace_bytes,
                              .history_bytes = c->history_bytes,
                              .loss = c->loss};
}

static void item_of(const struct compare_item *in, int n_algos, trl_compare_item *out)
{
    *out = (trl_compare_item){.name = in->name,
                              .node = in->node,
                              .depth = in->depth,
                              .delayed_only = in->delayed_only,
                              .n_tensors = in->n_tensors,
                              .count = in->count};
    for (int k = 0; k < n_algos; k++) {
        const struct cmp_metrics *m = &in->m[k];
        out->m[k] = (trl_metrics){m->cosine, m->rel_err,    m->norm_ratio, m->sign_agree,
                                  m->norm,   m->norm_exact, m->n};
    }
}

static int group_of(trl_compare *c, trl_compare_group grp, const struct compare_item *in, int n)
{
    c->items[grp] = calloc((size_t)n + 1, sizeof *c->items[grp]);
    if (!c->items[grp]) return -1;
    for (int i = 0; i < n; i++) item_of(&in[i], c->n_algos, &c->items[grp][i]);
    c->count[grp] = n;
    return 0;
}

TRL_API trl_status trl_compare_new(const trl_graph *g, const trl_params *p, const trl_data *d,
                                   const trl_grad_opts *algos, int n_algos, trl_compare **out,
                                   trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, g ? g->g->file : NULL);
    API_NEED(e, out, "out");
    *out = NULL;
    API_NEED(e, g && p && d && (algos || n_algos == 0),
             "the graph, the parameters, the data and the algorithms");
    if (api_same_graph(e, g->g, p, d) != TRL_OK) return api_status(e);
    if (n_algos < 0 || n_algos > TRL_COMPARE_MAX)
        return api_fail(e, ERR_ARGUMENT, NULL, "from 0 to %d algorithms (got %d)", TRL_COMPARE_MAX,
                        n_algos);
    if (d->d->stream || !d->d->target)
        return api_fail(e, ERR_INPUT, "target",
                        "a comparison needs the data in memory with a target");
    struct compare_algo internal[TRL_COMPARE_MAX];
    for (int k = 0; k < n_algos; k++) {
        trl_real **fb = NULL;
        if (api_grad_check(&algos[k], e) != TRL_OK) return api_status(e);
        if (algos[k].n_shards > 1)
            return api_fail(e, ERR_ARGUMENT, NULL,
                            "a comparison runs in one process: n_shards must be 0 or 1");
        if (api_feedback(&algos[k], p, &fb, e) != TRL_OK) return api_status(e);
        internal[k] = (struct compare_algo){api_algo(algos[k].algo), api_engine(algos[k].engine),
                                            algos[k].order, fb};
    }
    trl_compare *c = calloc(1, sizeof *c);
    if (!c) return api_fail(e, ERR_MEMORY, NULL, "out of memory");
    c->r = compare_new(g->g, p->values, d->d, internal, n_algos, e);
    if (!c->r) {
        free(c);
        return api_failed(e);
    }
    const struct compare_report *r = c->r;
    c->n_algos = r->n_algos;
    c->n_graph_nodes = g->g->n_nodes;
    c->exact = cost_of(&r->exact);
    for (int k = 0; k < r->n_algos; k++) c->cost[k] = cost_of(&r->cost[k]);
    if (group_of(c, TRL_GROUP_TENSOR, r->tensors, r->n_tensors) ||
        group_of(c, TRL_GROUP_NODE, r->nodes, r->n_nodes) ||
        group_of(c, TRL_GROUP_DEPTH, r->depths, r->n_depths) ||
        group_of(c, TRL_GROUP_TOTAL, &r->total, 1)) {
        trl_compare_free(c);
        return api_fail(e, ERR_MEMORY, NULL, "out of memory");
    }
    *out = c;
    return TRL_OK;
}

TRL_API void trl_compare_free(trl_compare *c)
{
    if (!c) return;
    for (int k = 0; k < 4; k++) free(c->items[k]);
    compare_free(c->r);
    free(c);
}

TRL_API int trl_compare_algo_count(const trl_compare *c)
{
    return c ? c->n_algos : 0;
}

TRL_API const trl_compare_cost *trl_compare_cost_of(const trl_compare *c, int k)
{
    if (!c || k < -1 || k >= c->n_algos) return NULL;
    return k < 0 ? &c->exact : &c->cost[k];
}

TRL_API int trl_compare_count(const trl_compare *c, trl_compare_group group)
{
    return c && (unsigned)group < 4 ? c->count[group] : 0;
}

TRL_API const trl_compare_item *trl_compare_item_at(const trl_compare *c, trl_compare_group group,
                                                    int i)
{
    if (i < 0 || i >= trl_compare_count(c, group)) return NULL;
    return &c->items[group][i];
}

TRL_API double trl_compare_mean_z(const trl_compare *c, int node)
{
    if (!c || node < 0 || node >= c->n_graph_nodes) return NAN;
    return c->r->mean_z[node];
}
