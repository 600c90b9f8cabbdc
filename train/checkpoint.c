/* checkpoint.c - training checkpoints (train.h): every parameter, the
 * optimiser's moments ("optim.m.NAME", "optim.v.NAME" per trainable tensor)
 * and, in "__metadata__", the next iteration, the optimiser and its step
 * count, and the precision; the feedback matrices (io/feedback.h) under
 * their names when training has them. Written atomically by st_write, so the last good
 * checkpoint survives any failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "io/feedback.h"
#include "io/safetensors.h"
#include "train/train.h"

static const char *optim_name(enum optim_kind k)
{
    return k == OPTIM_ADAM ? "adam" : "sgd";
}

static void set_shape(struct st_out *t, const struct graph_param *q)
{
    t->ndim = q->edge < 0 ? 1 : 2;
    t->shape[0] = q->rows;
    t->shape[1] = q->cols;
}

int train_checkpoint_save(const struct graph *g, const trl_real *params, const struct optim *o,
                          const struct train_config *cfg, long next_iter, const char *path,
                          struct trl_errors *err)
{
    const int n_fb = feedback_count(g, cfg->feedback);
    struct st_out *out =
        trl_alloc((size_t)g->n_params * 3 + (size_t)n_fb + 1, sizeof *out, TRL_MEM_MISC);
    char **names =
        trl_alloc((size_t)g->n_params * 2 + (size_t)n_fb + 1, sizeof *names, TRL_MEM_MISC);
    int n = 0, k = 0, rc = -1;
    if (!out || !names) goto nomem;
    for (int p = 0; p < g->n_params; p++) {
        const struct graph_param *q = &g->params[p];
        out[n].name = q->name;
        set_shape(&out[n], q);
        out[n++].data = params + q->offset;
        if (!q->trainable) continue;
        for (int which = 0; which < 2; which++, k++) {
            names[k] = trl_strprintf("optim.%c.%s", which ? 'v' : 'm', q->name);
            if (!names[k]) goto nomem;
            out[n].name = names[k];
            set_shape(&out[n], q);
            out[n++].data = (which ? o->v : o->m) + q->offset;
        }
    }
    for (int e = 0; n_fb && e < g->n_edges; e++) {
        if (!cfg->feedback[e]) continue;
        if (!(names[k] = feedback_name(g, e))) goto nomem;
        out[n].name = names[k++];
        set_shape(&out[n], &g->params[g->edges[e].param]);
        out[n++].data = cfg->feedback[e];
    }
    char iter[32], step[32], seed[32];
    snprintf(iter, sizeof iter, "%ld", next_iter);
    snprintf(step, sizeof step, "%ld", o->step);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)cfg->seed);
    const char *meta[] = {"trellis_checkpoint",
                          "1",
                          "next_iteration",
                          iter,
                          "optimizer",
                          optim_name(o->kind),
                          "optimizer_step",
                          step,
                          "precision",
                          TRL_PRECISION,
                          "seed",
                          seed,
                          "graph",
                          g->name,
                          NULL};
    rc = st_write(path, out, n, meta, err);
    goto done;
nomem:
    trl_errors_add(err, NULL, "out of memory writing a checkpoint");
done:
    for (int i = 0; names && i < k; i++) trl_free(names[i]);
    trl_free(out);
    trl_free(names);
    return rc;
}

/* Reads tensor `name` of q's shape into dst. */
static void read_tensor(const struct st_file *f, const char *name, const struct graph_param *q,
                        trl_real *dst, struct trl_errors *err)
{
    const struct st_tensor *t = st_find(f, name);
    if (!t || t->count != q->count) {
        trl_errors_add(err, name,
                       "missing or of the wrong size in the checkpoint; was it "
                       "written for this graph?");
        return;
    }
    if (st_read_real(t, dst) >= 0) trl_errors_add(err, name, "holds a value that is not finite");
}

static int check_meta(const struct st_file *f, struct optim *o, long *next_iter,
                      struct trl_errors *err)
{
    const char *mark = st_meta(f, "trellis_checkpoint"), *prec = st_meta(f, "precision");
    const char *opt = st_meta(f, "optimizer"), *iter = st_meta(f, "next_iteration");
    const char *step = st_meta(f, "optimizer_step");
    if (!mark || !prec || !opt || !iter || !step) {
        trl_errors_add(err, NULL,
                       "not a trellis checkpoint (no trellis_checkpoint metadata); "
                       "resuming takes a checkpoint that training wrote");
        return -1;
    }
    if (strcmp(prec, TRL_PRECISION) != 0)
        trl_errors_add(err, NULL, "checkpoint written by the %s build; resume it with the %s build",
                       prec, prec);
    if (strcmp(opt, optim_name(o->kind)) != 0)
        trl_errors_add(err, NULL,
                       "checkpoint uses the %s optimizer; resume with the same optimizer", opt);
    char *end;
    *next_iter = strtol(iter, &end, 10);
    if (*end || *next_iter < 0) trl_errors_add(err, NULL, "bad next_iteration \"%s\"", iter);
    o->step = strtol(step, &end, 10);
    return err->n_total ? -1 : 0;
}

int train_checkpoint_load(const struct graph *g, trl_real *params, struct optim *o, long *next_iter,
                          const char *path, struct trl_errors *err)
{
    return train_checkpoint_load_all(g, params, NULL, o, next_iter, path, err);
}

int train_checkpoint_load_all(const struct graph *g, trl_real *params, trl_real **fb,
                              struct optim *o, long *next_iter, const char *path,
                              struct trl_errors *err)
{
    struct st_file *f = st_open(path, err);
    if (!f) return -1;
    if (check_meta(f, o, next_iter, err) == 0) {
        for (int p = 0; p < g->n_params; p++) {
            const struct graph_param *q = &g->params[p];
            read_tensor(f, q->name, q, params + q->offset, err);
            if (!q->trainable) continue;
            for (int which = 0; which < 2; which++) {
                char *name = trl_strprintf("optim.%c.%s", which ? 'v' : 'm', q->name);
                if (!name) {
                    trl_errors_add(err, NULL, "out of memory reading a checkpoint");
                    break;
                }
                read_tensor(f, name, q, (which ? o->v : o->m) + q->offset, err);
                trl_free(name);
            }
        }
        if (fb && feedback_read(g, f, fb, err) < 0) trl_errors_add(err, NULL, "out of memory");
    }
    st_close(f);
    return err->n_total ? -1 : 0;
}
