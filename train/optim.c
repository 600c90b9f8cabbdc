/* optim.c - see optim.h. */
#include "train/optim.h"

#include <math.h>

#include "core/alloc.h"

struct optim *optim_new(const struct graph *g, enum optim_kind kind, double lr)
{
    struct optim *o = trl_alloc(1, sizeof *o, TRL_MEM_PARAMS);
    if (!o) return NULL;
    o->kind = kind;
    o->lr = lr;
    o->momentum = 0.9;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->n = g->n_param_values;
    o->m = trl_alloc(o->n ? o->n : 1, sizeof(trl_real), TRL_MEM_PARAMS);
    o->v = trl_alloc(o->n ? o->n : 1, sizeof(trl_real), TRL_MEM_PARAMS);
    if (!o->m || !o->v) {
        optim_free(o);
        return NULL;
    }
    return o;
}

void optim_free(struct optim *o)
{
    if (!o) return;
    trl_free(o->m);
    trl_free(o->v);
    trl_free(o);
}

static void sgd_tensor(struct optim *o, size_t off, size_t n, trl_real *p, const trl_real *g)
{
    for (size_t i = off; i < off + n; i++) {
        o->m[i] = (trl_real)(o->momentum * o->m[i] + g[i]);
        p[i] -= (trl_real)(o->lr * o->m[i]);
    }
}

static void adam_tensor(struct optim *o, size_t off, size_t n, trl_real *p, const trl_real *g)
{
    const double c1 = 1 - pow(o->beta1, (double)o->step), c2 = 1 - pow(o->beta2, (double)o->step);
    for (size_t i = off; i < off + n; i++) {
        o->m[i] = (trl_real)(o->beta1 * o->m[i] + (1 - o->beta1) * g[i]);
        o->v[i] = (trl_real)(o->beta2 * o->v[i] + (1 - o->beta2) * (double)g[i] * g[i]);
        double mhat = o->m[i] / c1, vhat = o->v[i] / c2;
        p[i] -= (trl_real)(o->lr * mhat / (sqrt(vhat) + o->eps));
    }
}

void optim_step(struct optim *o, const struct graph *g, trl_real *params, const trl_real *grad)
{
    o->step++;
    for (int k = 0; k < g->n_params; k++) {
        const struct graph_param *q = &g->params[k];
        if (!q->trainable) continue;
        if (o->kind == OPTIM_ADAM)
            adam_tensor(o, q->offset, q->count, params, grad);
        else
            sgd_tensor(o, q->offset, q->count, params, grad);
    }
}

double optim_clip(const struct graph *g, trl_real *grad, double max_norm)
{
    double sum = 0;
    for (int k = 0; k < g->n_params; k++) {
        const struct graph_param *q = &g->params[k];
        if (!q->trainable) continue;
        for (size_t i = q->offset; i < q->offset + q->count; i++) sum += (double)grad[i] * grad[i];
    }
    double norm = sqrt(sum);
    if (max_norm > 0 && norm > max_norm) {
        const double s = max_norm / norm;
        for (int k = 0; k < g->n_params; k++) {
            const struct graph_param *q = &g->params[k];
            if (!q->trainable) continue;
            for (size_t i = q->offset; i < q->offset + q->count; i++)
                grad[i] = (trl_real)(grad[i] * s);
        }
    }
    return norm;
}
