/* data.c - data sets: files, the caller's arrays, tasks, random data
 * (trellis.h; SPEC section 4). */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/suggest.h"
#include "tasks/data_random.h"
#include "tasks/task.h"

trl_status api_data_wrap(const trl_graph *g, struct data *d, trl_data **out, struct trl_errors *e)
{
    if (!d) return api_failed(e);
    *out = malloc(sizeof **out);
    if (!*out) {
        data_free(d);
        return api_fail(e, ERR_MEMORY, NULL, "out of memory");
    }
    **out = (trl_data){.g = g->g, .d = d};
    return TRL_OK;
}

TRL_API trl_status trl_data_load(const trl_graph *g, const char *path, unsigned flags,
                                 trl_data **out, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, path);
    API_NEED(e, out, "out");
    *out = NULL;
    API_NEED(e, g && path, "the graph and the path");
    if (flags & ~(TRL_DATA_TARGET | TRL_DATA_STREAM))
        return api_fail(e, ERR_ARGUMENT, NULL, "unknown data flags 0x%x", flags);
    enum data_target need = flags & TRL_DATA_TARGET ? DATA_TARGET_REQUIRED : DATA_TARGET_OPTIONAL;
    struct data *d =
        flags & TRL_DATA_STREAM ? data_open(g->g, path, need, e) : data_load(g->g, path, need, e);
    return api_data_wrap(g, d, out, e);
}

/* The names a data set may hold, for "did you mean". */
static const char **known_names(const struct graph *g, int *n)
{
    const char **names = malloc(((size_t)g->n_nodes + 2) * sizeof *names);
    if (!names) return NULL;
    *n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op->is_input) names[(*n)++] = g->nodes[i].id;
    names[(*n)++] = "target";
    names[(*n)++] = "mask";
    return names;
}

/* Checks one tensor's shape against B and T (from the first) and its last
 * size (-1: a [B, T] tensor). */
static void check_shape(const trl_tensor *t, long last, int *B, int *T, struct trl_errors *e)
{
    const int rank = last < 0 ? 2 : 3;
    if (t->ndim != rank || (rank == 3 && t->shape[2] != last)) {
        if (rank == 3)
            api_fail(e, ERR_ARGUMENT, t->name, "expected shape [B, T, %ld] (got %d dimensions%s)",
                     last, t->ndim, t->ndim == 3 ? ", wrong last size" : "");
        else
            api_fail(e, ERR_ARGUMENT, t->name, "expected shape [B, T] (got %d dimensions)",
                     t->ndim);
        return;
    }
    if (t->shape[0] < 1 || t->shape[1] < 1 || t->shape[0] > (1 << 30) || t->shape[1] > (1 << 30)) {
        api_fail(e, ERR_ARGUMENT, t->name, "B and T must be at least 1 (got [%lld, %lld, ...])",
                 (long long)t->shape[0], (long long)t->shape[1]);
        return;
    }
    if (!t->data) {
        api_fail(e, ERR_ARGUMENT, t->name, "the data pointer is NULL");
        return;
    }
    if (*B == 0) {
        *B = (int)t->shape[0];
        *T = (int)t->shape[1];
    } else if (t->shape[0] != *B || t->shape[1] != *T) {
        api_fail(e, ERR_ARGUMENT, t->name,
                 "batch and time lengths [%lld, %lld] disagree with the other tensors [%d, %d]",
                 (long long)t->shape[0], (long long)t->shape[1], *B, *T);
    }
}

/* Sorts the caller's tensors into x (per node), target and mask. */
static void bind(const struct graph *g, const trl_tensor *ts, int n, trl_real **x,
                 trl_real **target, trl_real **mask, int *B, int *T, struct trl_errors *e)
{
    int n_known = 0;
    const char **known = known_names(g, &n_known);
    if (!known) {
        api_fail(e, ERR_MEMORY, NULL, "out of memory");
        return;
    }
    for (int k = 0; k < n; k++) {
        const trl_tensor *t = &ts[k];
        if (!t->name) {
            api_fail(e, ERR_ARGUMENT, NULL, "tensor %d has no name", k);
            continue;
        }
        int i = graph_find_node(g, t->name);
        if (i >= 0 && g->nodes[i].op->is_input) {
            check_shape(t, g->nodes[i].size, B, T, e);
            x[i] = t->data;
        } else if (strcmp(t->name, "target") == 0) {
            check_shape(t, g->loss_node >= 0 ? g->nodes[g->loss_node].size : t->shape[2], B, T, e);
            *target = t->data;
        } else if (strcmp(t->name, "mask") == 0) {
            check_shape(t, -1, B, T, e);
            *mask = t->data;
        } else {
            const char *s = suggest_closest(t->name, known, n_known);
            api_fail(e, ERR_ARGUMENT, t->name,
                     "not an input node of the graph, \"target\" or \"mask\"%s%s%s",
                     s ? "; did you mean \"" : "", s ? s : "", s ? "\"?" : "");
        }
    }
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op->is_input && !x[i])
            api_fail(e, ERR_ARGUMENT, g->nodes[i].id,
                     "missing: every input node needs an array [B, T, %d]", g->nodes[i].size);
    free(known);
}

TRL_API trl_status trl_data_wrap(const trl_graph *g, const trl_tensor *tensors, int n,
                                 trl_data **out, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, "data");
    API_NEED(e, out, "out");
    *out = NULL;
    API_NEED(e, g && (tensors || n == 0), "the graph and the tensors");
    trl_real **x = calloc((size_t)g->g->n_nodes, sizeof *x);
    if (!x) return api_fail(e, ERR_MEMORY, NULL, "out of memory");
    trl_real *target = NULL, *mask = NULL;
    int B = 0, T = 0;
    bind(g->g, tensors, n, x, &target, &mask, &B, &T, e);
    struct data *d = e->n_total ? NULL : data_wrap(g->g, B, T, x, target, mask, e);
    free(x);
    return api_data_wrap(g, d, out, e);
}

TRL_API trl_status trl_data_new(const trl_graph *g, int B, int T, trl_data **out, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, "data");
    API_NEED(e, out, "out");
    *out = NULL;
    API_NEED(e, g, "the graph");
    if (B < 1 || T < 1 || B > (1 << 30) || T > (1 << 30))
        return api_fail(e, ERR_ARGUMENT, NULL, "B and T must be from 1 to 2^30 (got %d, %d)", B, T);
    if (data_check_size(g->g, B, T, e)) return api_status(e);
    return api_data_wrap(g, data_new(g->g, B, T), out, e);
}

TRL_API void trl_data_free(trl_data *d)
{
    if (!d) return;
    data_free(d->d);
    free(d);
}

TRL_API void trl_data_shape(const trl_data *d, int *B, int *T)
{
    if (B) *B = d ? d->d->B : 0;
    if (T) *T = d ? d->d->T : 0;
}

TRL_API trl_status trl_data_tensor(trl_data *d, const char *name, trl_tensor *out, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, "data");
    API_NEED(e, d && name && out, "the data set, the name and out");
    const struct graph *g = d->g;
    if (d->d->stream)
        return api_fail(e, ERR_ARGUMENT, name,
                        "a streamed data set holds no arrays; load it without streaming");
    *out = (trl_tensor){.name = name, .ndim = 3, .shape = {d->d->B, d->d->T, 0}};
    int i = graph_find_node(g, name);
    if (i >= 0 && g->nodes[i].op->is_input) {
        out->name = g->nodes[i].id;
        out->shape[2] = g->nodes[i].size;
        out->data = d->d->x[i];
    } else if (strcmp(name, "target") == 0 && d->d->target) {
        out->name = "target";
        out->shape[2] = data_target_size(g, d->d);
        out->data = d->d->target;
    } else if (strcmp(name, "mask") == 0 && d->d->mask) {
        out->name = "mask";
        out->ndim = 2;
        out->data = d->d->mask;
    } else {
        return api_fail(e, ERR_ARGUMENT, name,
                        "the data set holds no such tensor (input ids, \"target\" and \"mask\" "
                        "when the graph has a loss)");
    }
    return TRL_OK;
}

TRL_API trl_status trl_data_save(const trl_data *d, const char *path, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, path);
    API_NEED(e, d && path, "the data set and the path");
    if (d->d->stream) return api_fail(e, ERR_ARGUMENT, NULL, "a streamed data set cannot be saved");
    if (data_save(d->g, d->d, path, e)) return api_failed(e);
    return TRL_OK;
}

TRL_API int trl_task_count(void)
{
    return task_n_kinds;
}

TRL_API trl_status trl_task_get(int i, trl_task_info *out)
{
    if (i < 0 || i >= task_n_kinds) return TRL_ERR_ARGUMENT;
    const struct task_kind *k = task_kinds[i];
    *out = (trl_task_info){.name = k->name,
                           .doc = k->doc,
                           .model = k->model,
                           .params = k->params,
                           .T = k->T,
                           .n_in = k->n_in,
                           .K = k->K,
                           .loss = k->loss == LOSS_MSE ? "mse" : "cross_entropy",
                           .batch = k->batch};
    return TRL_OK;
}

TRL_API int trl_task_find(const char *name)
{
    for (int i = 0; name && i < task_n_kinds; i++)
        if (strcmp(task_kinds[i]->name, name) == 0) return i;
    return -1;
}

const struct task_kind *api_task(const char *name, struct trl_errors *e)
{
    const struct task_kind *k = task_find(name);
    if (k) return k;
    const char *names[64];
    int n = task_n_kinds < 64 ? task_n_kinds : 64;
    for (int i = 0; i < n; i++) names[i] = task_kinds[i]->name;
    const char *close = suggest_closest(name, names, n);
    char list[256];
    task_list_names(list, sizeof list);
    api_fail(e, ERR_ARGUMENT, NULL, "unknown task \"%s\"%s%s%s; the tasks are %s", name,
             close ? " (did you mean \"" : "", close ? close : "", close ? "\"?)" : "", list);
    return NULL;
}

TRL_API trl_status trl_data_task(const trl_graph *g, const char *task, uint64_t seed,
                                 trl_split split, uint64_t iteration, int B, trl_data **out,
                                 trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, g ? g->g->file : NULL);
    API_NEED(e, out, "out");
    *out = NULL;
    API_NEED(e, g && task, "the graph and the task");
    const struct task_kind *k = api_task(task, e);
    if (!k) return api_failed(e);
    if (B < 1 || B > (1 << 24))
        return api_fail(e, ERR_ARGUMENT, NULL, "the batch size must be from 1 to 2^24 (got %d)", B);
    enum task_split s = split == TRL_SPLIT_VAL ? TASK_VAL : TASK_TRAIN;
    return api_data_wrap(g, task_data_new(k, g->g, seed, s, iteration, B, e), out, e);
}

TRL_API trl_status trl_data_random(const trl_graph *g, const trl_random_data *opts, trl_data **out,
                                   trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, g ? g->g->file : NULL);
    API_NEED(e, out, "out");
    *out = NULL;
    API_NEED(e, g && opts, "the graph and the options");
    bool *spiking = calloc((size_t)g->g->n_nodes, sizeof *spiking);
    if (!spiking) return api_fail(e, ERR_MEMORY, NULL, "out of memory");
    struct data *d = NULL;
    if (opts->spiking && data_random_spiking(g->g, opts->spiking, spiking, e)) {
        trl_errors_kind(e, ERR_ARGUMENT); /* the caller's list, not the graph, is wrong */
    } else {
        struct data_random_opts o = {.B = opts->B,
                                     .T = opts->T,
                                     .seed = opts->seed,
                                     .rate_hz = opts->rate_hz,
                                     .spiking = spiking};
        d = data_random_new(g->g, &o, e);
    }
    free(spiking);
    return api_data_wrap(g, d, out, e);
}
