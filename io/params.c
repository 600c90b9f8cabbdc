/* params.c - see params.h. */
#include "io/params.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "io/safetensors.h"
#include "core/suggest.h"
#include "io/feedback.h"

trl_real *params_new(const struct graph *g)
{
    return trl_alloc(g->n_param_values ? g->n_param_values : 1, sizeof(trl_real), TRL_MEM_PARAMS);
}

void params_init(const struct graph *g, uint64_t seed, trl_real *values)
{
    for (int i = 0; i < g->n_params; i++) {
        const struct graph_param *p = &g->params[i];
        trl_real *w = values + p->offset;
        if (p->edge < 0) { /* bias */
            memset(w, 0, p->count * sizeof *w);
            continue;
        }
        const struct graph_edge *e = &g->edges[p->edge];
        double std = e->gain / sqrt((double)g->nodes[e->src].size);
        struct rng r;
        rng_seed_named(&r, seed, p->name);
        for (size_t k = 0; k < p->count; k++) w[k] = (trl_real)(std * rng_normal(&r));
        if (e->no_self)
            for (int j = 0; j < p->rows; j++) w[(size_t)j * p->cols + j] = 0;
    }
}

static void shape_string(const struct graph_param *p, char *buf, size_t n)
{
    if (p->edge < 0)
        snprintf(buf, n, "[%d]", p->rows);
    else
        snprintf(buf, n, "[%d, %d]", p->rows, p->cols);
}

static bool shape_matches(const struct st_tensor *t, const struct graph_param *p)
{
    if (p->edge < 0) return t->ndim == 1 && t->shape[0] == p->rows;
    return t->ndim == 2 && t->shape[0] == p->rows && t->shape[1] == p->cols;
}

static void tensor_shape_string(const struct st_tensor *t, char *buf, size_t n)
{
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < t->ndim && used < n; d++)
        used +=
            (size_t)snprintf(buf + used, n - used, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    if (used < n) snprintf(buf + used, n - used, "]");
}

static void check_no_self(const struct graph *g, const struct graph_param *p, const trl_real *w,
                          struct trl_errors *err)
{
    if (p->edge < 0 || !g->edges[p->edge].no_self) return;
    for (int j = 0; j < p->rows; j++) {
        if (w[(size_t)j * p->cols + j] != 0) {
            trl_errors_add(err, p->name,
                           "diagonal entry [%d, %d] is %g but the edge is no_self; set the "
                           "diagonal to 0",
                           j, j, (double)w[(size_t)j * p->cols + j]);
            return;
        }
    }
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Reports every tensor of the file that is not a parameter of the graph
 * (names sorted once, then a binary search per tensor). */
static void check_extra_keys(const struct graph *g, const struct st_file *f, struct trl_errors *err)
{
    const char **names = trl_alloc((size_t)g->n_params + 1, sizeof *names, TRL_MEM_MISC);
    if (!names) {
        trl_errors_add(err, NULL, "out of memory");
        return;
    }
    for (int i = 0; i < g->n_params; i++) names[i] = g->params[i].name;
    qsort(names, (size_t)g->n_params, sizeof *names, compare_names);
    for (int i = 0; i < f->n; i++) {
        const char *key = f->tensors[i].name;
        if (feedback_edge(g, key) >= 0) continue; /* feedback_read checks it */
        if (bsearch(&key, names, (size_t)g->n_params, sizeof *names, compare_names)) continue;
        const char *s = suggest_closest(key, names, g->n_params);
        trl_errors_add(err, key,
                       "the graph has no parameter of this name%s%s%s; remove it or check the "
                       "graph",
                       s ? "; did you mean \"" : "", s ? s : "", s ? "\"?" : "");
    }
    trl_free(names);
}

int params_load(const struct graph *g, const char *path, trl_real *values, struct trl_errors *err)
{
    return params_load_all(g, path, values, NULL, err);
}

int params_load_all(const struct graph *g, const char *path, trl_real *values, trl_real **fb,
                    struct trl_errors *err)
{
    struct st_file *f = st_open(path, err);
    if (!f) return -1;
    char want[64], got[64];
    for (int i = 0; i < g->n_params; i++) {
        const struct graph_param *p = &g->params[i];
        const struct st_tensor *t = st_find(f, p->name);
        shape_string(p, want, sizeof want);
        if (!t) {
            trl_errors_add(err, p->name, "missing tensor (shape %s); the graph needs it", want);
            continue;
        }
        if (!shape_matches(t, p)) {
            tensor_shape_string(t, got, sizeof got);
            trl_errors_add(err, p->name, "shape %s does not match the graph: expected %s", got,
                           want);
            continue;
        }
        long bad = st_read_real(t, values + p->offset);
        if (bad >= 0)
            trl_errors_add(err, p->name, "value %ld is not finite; parameters must be finite", bad);
        else
            check_no_self(g, p, values + p->offset, err);
    }
    check_extra_keys(g, f, err);
    if (feedback_read(g, f, fb, err) < 0) trl_errors_add(err, NULL, "out of memory");
    st_close(f);
    return err->n_total ? -1 : 0;
}

static int save(const struct graph *g, const trl_real *values, trl_real *const *fb,
                enum params_select which, const double *loss, const char *path,
                struct trl_errors *err)
{
    const int n_fb = feedback_count(g, fb);
    struct st_out *out = trl_alloc((size_t)g->n_params + n_fb + 1, sizeof *out, TRL_MEM_MISC);
    char **names = trl_alloc((size_t)n_fb + 1, sizeof *names, TRL_MEM_MISC);
    int n = 0, k = 0, rc = -1;
    if (!out || !names) goto nomem;
    trl_real loss_value = loss ? (trl_real)*loss : 0;
    for (int i = 0; i < g->n_params; i++) {
        const struct graph_param *p = &g->params[i];
        if (which == PARAMS_TRAINABLE && !p->trainable) continue;
        out[n].name = p->name;
        out[n].ndim = p->edge < 0 ? 1 : 2;
        out[n].shape[0] = p->rows;
        out[n].shape[1] = p->cols;
        out[n].data = values + p->offset;
        n++;
    }
    for (int e = 0; fb && e < g->n_edges; e++) {
        if (!fb[e]) continue;
        if (!(names[k] = feedback_name(g, e))) goto nomem;
        out[n] = (struct st_out){
            .name = names[k++],
            .ndim = 2,
            .shape = {g->nodes[g->edges[e].dst].size, g->nodes[g->edges[e].src].size},
            .data = fb[e]};
        n++;
    }
    if (loss) {
        out[n].name = "loss";
        out[n].ndim = 0;
        out[n].data = &loss_value;
        n++;
    }
    rc = st_write(path, out, n, NULL, err);
    goto done;
nomem:
    trl_errors_add(err, NULL, "out of memory");
done:
    for (int i = 0; names && i < k; i++) trl_free(names[i]);
    trl_free(out);
    trl_free(names);
    return rc;
}

int params_save(const struct graph *g, const trl_real *values, enum params_select which,
                const double *loss, const char *path, struct trl_errors *err)
{
    return save(g, values, NULL, which, loss, path, err);
}

int params_save_all(const struct graph *g, const trl_real *values, trl_real *const *fb,
                    const char *path, struct trl_errors *err)
{
    return save(g, values, fb, PARAMS_ALL, NULL, path, err);
}
