/* feedback.c - see feedback.h. */
#include "io/feedback.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/rng.h"

trl_real **feedback_new(const struct graph *g)
{
    return trl_alloc((size_t)g->n_edges + 1, sizeof(trl_real *), TRL_MEM_PARAMS);
}

void feedback_free(const struct graph *g, trl_real **fb)
{
    if (!fb) return;
    for (int e = 0; e < g->n_edges; e++) trl_free(fb[e]);
    trl_free(fb);
}

int feedback_count(const struct graph *g, trl_real *const *fb)
{
    int n = 0;
    for (int e = 0; fb && e < g->n_edges; e++) n += fb[e] != NULL;
    return n;
}

char *feedback_name(const struct graph *g, int edge)
{
    const struct graph_edge *e = &g->edges[edge];
    if (e->delay)
        return trl_strprintf("%s.fb.%s.d%d", g->nodes[e->dst].id, g->nodes[e->src].id, e->delay);
    return trl_strprintf("%s.fb.%s", g->nodes[e->dst].id, g->nodes[e->src].id);
}

int feedback_edge(const struct graph *g, const char *name)
{
    if (!strstr(name, ".fb.")) return -1;
    for (int e = 0; e < g->n_edges; e++) {
        char *mine = feedback_name(g, e);
        const bool same = mine && strcmp(mine, name) == 0;
        trl_free(mine);
        if (same) return e;
    }
    return -1;
}

static size_t matrix_count(const struct graph *g, int edge)
{
    return g->params[g->edges[edge].param].count;
}

trl_real *feedback_matrix(const struct graph *g, trl_real **fb, int edge)
{
    if (!fb[edge]) fb[edge] = trl_alloc(matrix_count(g, edge), sizeof(trl_real), TRL_MEM_PARAMS);
    return fb[edge];
}

int feedback_init(const struct graph *g, uint64_t seed, trl_real **fb)
{
    for (int k = 0; k < g->n_edges; k++) {
        const struct graph_edge *e = &g->edges[k];
        if (g->nodes[e->src].op->is_input) continue;
        trl_real *w = feedback_matrix(g, fb, k);
        char *name = feedback_name(g, k);
        if (!w || !name) {
            trl_free(name);
            return -1;
        }
        const double std = e->gain / sqrt((double)g->nodes[e->src].size);
        struct rng r;
        rng_seed_named(&r, seed, name);
        trl_free(name);
        const int rows = g->nodes[e->dst].size, cols = g->nodes[e->src].size;
        for (size_t i = 0; i < matrix_count(g, k); i++) w[i] = (trl_real)(std * rng_normal(&r));
        if (e->no_self)
            for (int j = 0; j < rows && j < cols; j++) w[(size_t)j * cols + j] = 0;
    }
    return 0;
}

/* Problems of one matrix of a file into err; 0 if it may be used. */
static int check_matrix(const struct graph *g, int edge, const struct st_tensor *t, trl_real *tmp,
                        struct trl_errors *err)
{
    const struct graph_edge *e = &g->edges[edge];
    const int rows = g->nodes[e->dst].size, cols = g->nodes[e->src].size;
    if (t->ndim != 2 || t->shape[0] != rows || t->shape[1] != cols) {
        trl_errors_add(err, t->name,
                       "a feedback matrix has its edge's weight shape [%d, %d]; fix its shape",
                       rows, cols);
        return -1;
    }
    long bad = st_read_real(t, tmp);
    if (bad >= 0) {
        trl_errors_add(err, t->name, "value %ld is not finite; feedback matrices must be finite",
                       bad);
        return -1;
    }
    for (int j = 0; e->no_self && j < rows; j++)
        if (tmp[(size_t)j * cols + j] != 0) {
            trl_errors_add(err, t->name,
                           "diagonal entry [%d, %d] is %g but the edge is no_self; set the "
                           "diagonal to 0",
                           j, j, (double)tmp[(size_t)j * cols + j]);
            return -1;
        }
    return 0;
}

int feedback_read(const struct graph *g, const struct st_file *f, trl_real **fb,
                  struct trl_errors *err)
{
    int n = 0;
    for (int i = 0; i < f->n; i++) {
        const struct st_tensor *t = &f->tensors[i];
        const int edge = feedback_edge(g, t->name);
        if (edge < 0) continue;
        n++;
        trl_real *tmp = trl_alloc(t->count + 1, sizeof *tmp, TRL_MEM_MISC);
        if (!tmp) return -1;
        if (check_matrix(g, edge, t, tmp, err) == 0 && fb) {
            trl_free(fb[edge]);
            fb[edge] = tmp;
        } else {
            trl_free(tmp);
        }
    }
    return n;
}

trl_real **feedback_copy(const struct graph *g, trl_real *const *src)
{
    trl_real **fb = feedback_new(g);
    for (int e = 0; fb && src && e < g->n_edges; e++) {
        if (!src[e]) continue;
        if (!feedback_matrix(g, fb, e)) {
            feedback_free(g, fb);
            return NULL;
        }
        memcpy(fb[e], src[e], matrix_count(g, e) * sizeof(trl_real));
    }
    return fb;
}

void feedback_adapt(const struct graph *g, trl_real **fb, const trl_real *before,
                    const trl_real *after, double decay)
{
    for (int e = 0; fb && e < g->n_edges; e++) {
        if (!fb[e]) continue;
        const size_t off = g->params[g->edges[e].param].offset;
        for (size_t i = 0; i < matrix_count(g, e); i++)
            fb[e][i] += (after[off + i] - before[off + i]) - (trl_real)decay * fb[e][i];
    }
}
