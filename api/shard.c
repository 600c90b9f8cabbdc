/* shard.c - trl_grad over processes (trl_grad_opts.n_shards, SPEC section
 * 10): this process's samples of the data, and the sum of every process's
 * part of the result. */
#include "api/api.h"
#include "core/alloc.h"
#include "kernels/parallel.h"

trl_status api_shard_view(const struct graph *g, const struct data *d, const trl_grad_opts *o,
                          struct data *view, int *first, struct trl_errors *e)
{
    if (o->n_shards > d->B)
        return api_fail(e, ERR_ARGUMENT, NULL,
                        "%d shards of a batch of %d samples: each shard needs at least one "
                        "sample (n_shards <= B)",
                        o->n_shards, d->B);
    int count;
    shard_range(d->B, o->n_shards, o->shard, first, &count);
    trl_real **x = trl_alloc((size_t)g->n_nodes + 1, sizeof *x, TRL_MEM_MISC);
    if (!x) return api_fail(e, ERR_MEMORY, NULL, "out of memory");
    data_view(g, d, *first, count, x, view); /* the loss still averages over d->B */
    return TRL_OK;
}

/* The values api_shard_sum adds: the gradient, the loss, the two trace
 * statistics and every input gradient. */
static size_t sum_count(const struct graph *g, const struct data *d, trl_real *const *dx)
{
    size_t n = g->n_param_values + 3;
    for (int i = 0; dx && i < g->n_nodes; i++)
        if (dx[i]) n += (size_t)d->B * d->T * g->nodes[i].size;
    return n;
}

/* Copies the values in or out of v (to_v: in). */
static void sum_pack(const struct graph *g, const struct data *d, trl_real *grad, double *loss,
                     double rows[2], trl_real *const *dx, double *v, bool to_v)
{
    size_t at = 0;
    for (size_t k = 0; k < g->n_param_values; k++, at++)
        if (to_v)
            v[at] = grad[k];
        else
            grad[k] = (trl_real)v[at];
    double *scalars[3] = {loss, &rows[0], &rows[1]};
    for (int k = 0; k < 3; k++, at++)
        if (to_v)
            v[at] = *scalars[k];
        else
            *scalars[k] = v[at];
    for (int i = 0; dx && i < g->n_nodes; i++) {
        const size_t n = dx[i] ? (size_t)d->B * d->T * g->nodes[i].size : 0;
        for (size_t k = 0; k < n; k++, at++)
            if (to_v)
                v[at] = dx[i][k];
            else
                dx[i][k] = (trl_real)v[at];
    }
}

trl_status api_shard_sum(const struct graph *g, const struct data *d, const trl_grad_opts *o,
                         trl_real *grad, double *loss, double rows[2], trl_real *const *dx,
                         struct trl_errors *e)
{
    const size_t n = sum_count(g, d, dx);
    double *v = trl_alloc_uninit(n, sizeof *v, TRL_MEM_MISC);
    if (!v) return api_fail(e, ERR_MEMORY, NULL, "out of memory for the sum of %zu values", n);
    sum_pack(g, d, grad, loss, rows, dx, v, true);
    const int rc = o->reduce(o->reduce_ctx, v, n);
    if (rc == 0) sum_pack(g, d, grad, loss, rows, dx, v, false);
    trl_free(v);
    if (rc) return api_fail(e, ERR_IO, NULL, "the sum over the %d processes failed", o->n_shards);
    return TRL_OK;
}
