/* data.c - see data.h. */
#include "runtime/data.h"

#include <stdio.h>
#include <string.h>

#include "runtime/alloc.h"
#include "runtime/rng.h"
#include "runtime/safetensors.h"
#include "runtime/suggest.h"

void data_free(struct data *d)
{
    if (!d) return;
    for (int i = 0; i < d->n_nodes; i++) trl_free(d->x[i]);
    trl_free(d->x);
    trl_free(d->target);
    trl_free(d->mask);
    trl_free(d);
}

static struct data *data_alloc(const struct graph *g)
{
    struct data *d = trl_alloc(1, sizeof *d, TRL_MEM_MISC);
    if (!d) return NULL;
    d->n_nodes = g->n_nodes;
    d->x = trl_alloc((size_t)g->n_nodes, sizeof *d->x, TRL_MEM_MISC);
    if (!d->x) {
        trl_free(d);
        return NULL;
    }
    return d;
}

struct data *data_new(const struct graph *g, int B, int T)
{
    struct data *d = data_alloc(g);
    if (!d) return NULL;
    d->B = B;
    d->T = T;
    d->loss_B = B;
    size_t BT = trl_mul2((size_t)B, (size_t)T);
    for (int i = 0; i < g->n_nodes; i++) {
        if (!g->nodes[i].op->is_input) continue;
        d->x[i] = trl_alloc(BT, (size_t)g->nodes[i].size * sizeof(trl_real), TRL_MEM_MISC);
        if (!d->x[i]) goto fail;
    }
    if (g->loss_node >= 0) {
        d->target =
            trl_alloc(BT, (size_t)g->nodes[g->loss_node].size * sizeof(trl_real), TRL_MEM_MISC);
        d->mask = trl_alloc(BT, sizeof(trl_real), TRL_MEM_MISC);
        if (!d->target || !d->mask) goto fail;
        for (size_t k = 0; k < BT; k++) d->mask[k] = 1;
    }
    return d;
fail:
    data_free(d);
    return NULL;
}

/* Checks t against the expected rank and last dimension and against B and T
 * (taken from the first tensor checked); reads it into a new array. */
static trl_real *read_tensor(const struct st_tensor *t, int rank, long last, int *B, int *T,
                             const char *what, struct trl_errors *err)
{
    char shape[96];
    if (rank == 3)
        snprintf(shape, sizeof shape, "[B, T, %ld]", last);
    else
        snprintf(shape, sizeof shape, "[B, T]");
    if (t->ndim != rank || (rank == 3 && t->shape[2] != last)) {
        trl_errors_add(err, t->name, "%s must have shape %s (got %d dimensions%s)", what, shape,
                       t->ndim, rank == 3 && t->ndim == 3 ? ", wrong last size" : "");
        return NULL;
    }
    if (t->shape[0] < 1 || t->shape[1] < 1 || t->shape[0] > (1 << 30) || t->shape[1] > (1 << 30)) {
        trl_errors_add(err, t->name, "B and T must be at least 1 (got [%lld, %lld, ...])",
                       (long long)t->shape[0], (long long)t->shape[1]);
        return NULL;
    }
    if (*B == 0) {
        *B = (int)t->shape[0];
        *T = (int)t->shape[1];
    } else if (t->shape[0] != *B || t->shape[1] != *T) {
        trl_errors_add(err, t->name,
                       "batch and time lengths [%lld, %lld] disagree with the other tensors "
                       "[%d, %d]",
                       (long long)t->shape[0], (long long)t->shape[1], *B, *T);
        return NULL;
    }
    trl_real *v = trl_alloc(t->count, sizeof *v, TRL_MEM_MISC);
    if (!v) {
        trl_errors_add(err, t->name, "out of memory reading %zu values", t->count);
        return NULL;
    }
    long bad = st_read_real(t, v);
    if (bad >= 0) {
        trl_errors_add(err, t->name, "value %ld is not finite; data must be finite", bad);
        trl_free(v);
        return NULL;
    }
    return v;
}

static void check_keys(const struct graph *g, const struct st_file *f, struct trl_errors *err)
{
    const char **known = trl_alloc((size_t)g->n_nodes + 2, sizeof *known, TRL_MEM_MISC);
    if (!known) return;
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op->is_input) known[n++] = g->nodes[i].id;
    known[n++] = "target";
    known[n++] = "mask";
    for (int i = 0; i < f->n; i++) {
        const char *key = f->tensors[i].name;
        int k = 0;
        while (k < n && strcmp(known[k], key) != 0) k++;
        if (k < n) continue;
        const char *s = suggest_closest(key, known, n);
        trl_errors_add(err, key,
                       "unexpected tensor: a data file holds one tensor per input node, "
                       "\"target\" and \"mask\"%s%s%s",
                       s ? "; did you mean \"" : "", s ? s : "", s ? "\"?" : "");
    }
    trl_free(known);
}

struct data *data_load(const struct graph *g, const char *path, enum data_target need,
                       struct trl_errors *err)
{
    struct st_file *f = st_open(path, err);
    if (!f) return NULL;
    struct data *d = data_alloc(g);
    if (!d) {
        trl_errors_add(err, NULL, "out of memory");
        st_close(f);
        return NULL;
    }
    check_keys(g, f, err);
    for (int i = 0; i < g->n_nodes; i++) {
        const struct graph_node *nd = &g->nodes[i];
        if (!nd->op->is_input) continue;
        const struct st_tensor *t = st_find(f, nd->id);
        if (!t)
            trl_errors_add(err, nd->id, "missing tensor for input node \"%s\" (shape [B, T, %d])",
                           nd->id, nd->size);
        else
            d->x[i] = read_tensor(t, 3, nd->size, &d->B, &d->T, "an input", err);
    }
    if (g->loss_node >= 0) {
        int K = g->nodes[g->loss_node].size;
        const struct st_tensor *t = st_find(f, "target");
        if (t)
            d->target = read_tensor(t, 3, K, &d->B, &d->T, "target", err);
        else if (need == DATA_TARGET_REQUIRED)
            trl_errors_add(err, "target",
                           "missing tensor: computing a gradient needs the target [B, T, %d]", K);
        const struct st_tensor *m = st_find(f, "mask");
        if (m) d->mask = read_tensor(m, 2, 0, &d->B, &d->T, "mask", err);
    }
    if (!err->n_total && d->B == 0)
        trl_errors_add(err, NULL,
                       "no input or target tensor: cannot tell the batch and time "
                       "lengths");
    st_close(f);
    if (err->n_total) {
        data_free(d);
        return NULL;
    }
    d->loss_B = d->B;
    return d;
}

struct data *data_subset(const struct graph *g, const struct data *d, uint64_t seed, long iter,
                         int B)
{
    if (B <= 0 || B > d->B) B = d->B;
    struct data *s = data_new(g, B, d->T);
    int *pick = trl_alloc((size_t)d->B, sizeof *pick, TRL_MEM_MISC);
    if (!s || !pick) {
        data_free(s);
        trl_free(pick);
        return NULL;
    }
    for (int b = 0; b < d->B; b++) pick[b] = b;
    if (B < d->B) { /* the first B of a seeded Fisher-Yates shuffle */
        char name[64];
        snprintf(name, sizeof name, "data/batch/%ld", iter);
        struct rng r;
        rng_seed_named(&r, seed, name);
        for (int b = 0; b < B; b++) {
            int k = b + (int)rng_below(&r, (uint64_t)(d->B - b));
            int tmp = pick[b];
            pick[b] = pick[k];
            pick[k] = tmp;
        }
    }
    const size_t T = (size_t)d->T;
    for (int b = 0; b < B; b++) {
        const size_t from = (size_t)pick[b], to = (size_t)b;
        for (int i = 0; i < g->n_nodes; i++) {
            if (!s->x[i]) continue;
            const size_t n = T * g->nodes[i].size;
            memcpy(s->x[i] + to * n, d->x[i] + from * n, n * sizeof(trl_real));
        }
        if (d->target && s->target) {
            const size_t n = T * g->nodes[g->loss_node].size;
            memcpy(s->target + to * n, d->target + from * n, n * sizeof(trl_real));
        }
        if (s->mask)
            for (size_t t = 0; t < T; t++)
                s->mask[to * T + t] = d->mask ? d->mask[from * T + t] : 1;
    }
    trl_free(pick);
    return s;
}
