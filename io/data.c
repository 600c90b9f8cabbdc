/* data.c - see data.h.
 *
 * Every data set is read through a streamed file (st_open_stream): data_open
 * checks the header and every value and keeps the file open; data_load does
 * the same, reads all steps into arrays and closes it. A window reads, for
 * each of its samples and tensors, one contiguous range of rows (a tensor is
 * [B, T, ...] sample-major), so its memory and the reads it makes depend on
 * the window's span and never on T.
 */
#include "io/data.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "io/safetensors.h"
#include "core/suggest.h"

#define FINITE_PIECE 1024 /* values checked at a time by data_open */

struct data_stream {
    struct st_file *f;
    const struct st_tensor **x;            /* per node: the input's tensor, or NULL */
    const struct st_tensor *target, *mask; /* or NULL */
};

static void stream_close(struct data_stream *s)
{
    if (!s) return;
    st_close(s->f);
    trl_free(s->x);
    trl_free(s);
}

/* Values per step of a [B, T, n] or [B, T] tensor. */
static size_t step_values(const struct st_tensor *t)
{
    return t->ndim == 3 ? (size_t)t->shape[2] : 1;
}

static void free_arrays(struct data *d)
{
    if (d->borrowed) {
        trl_free(d->x);
        return;
    }
    if (d->x)
        for (int i = 0; i < d->n_nodes; i++) trl_free(d->x[i]);
    trl_free(d->x);
    trl_free(d->target);
    trl_free(d->mask);
}

int data_target_size(const struct graph *g, const struct data *d)
{
    return d->target_size ? d->target_size : g->loss_node >= 0 ? g->nodes[g->loss_node].size : 0;
}

void data_free(struct data *d)
{
    if (!d) return;
    free_arrays(d);
    stream_close(d->stream);
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

int data_check_size(const struct graph *g, int B, int T, struct trl_errors *err)
{
    const size_t limit = trl_alloc_limit(), BT = trl_mul2((size_t)B, (size_t)T);
    size_t largest = 0, total = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!g->nodes[i].op->is_input && i != g->loss_node) continue;
        size_t bytes = trl_mul3(BT, (size_t)g->nodes[i].size, sizeof(trl_real));
        if (bytes > largest) largest = bytes;
        total = total > SIZE_MAX - bytes ? SIZE_MAX : total + bytes;
    }
    if (largest <= limit) return 0;
    if (total == SIZE_MAX)
        trl_errors_add(err, NULL,
                       "%d samples x %d steps: the bytes of the data overflow a size; use fewer "
                       "samples or steps",
                       B, T);
    else
        trl_errors_add(err, NULL,
                       "%d samples x %d steps would need %zu bytes (the largest array %zu); at "
                       "most %zu bytes fit in one array on this machine: use fewer samples or "
                       "steps",
                       B, T, total, largest, limit);
    trl_errors_kind(err, ERR_MEMORY);
    return -1;
}

struct data *data_new(const struct graph *g, int B, int T)
{
    struct data *d = data_alloc(g);
    if (!d) return NULL;
    d->B = B;
    d->T = T;
    d->span = T;
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

/* The index of the first value of v[n] that is not finite, or -1 (NULL: none). */
static long first_nonfinite(const trl_real *v, size_t n)
{
    return v ? st_first_nonfinite(v, n) : -1;
}

struct data *data_wrap(const struct graph *g, int B, int T, trl_real *const *x, trl_real *target,
                       trl_real *mask, struct trl_errors *err)
{
    struct data *d = data_alloc(g);
    if (!d) {
        trl_errors_add(err, NULL, "out of memory");
        trl_errors_kind(err, ERR_MEMORY);
        return NULL;
    }
    *d = (struct data){
        .B = B, .T = T, .loss_B = B, .span = T, .x = d->x, .n_nodes = g->n_nodes, .borrowed = true};
    const size_t BT = (size_t)B * (size_t)T;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!g->nodes[i].op->is_input) continue;
        d->x[i] = x[i];
        long bad = first_nonfinite(x[i], BT * (size_t)g->nodes[i].size);
        if (bad >= 0)
            trl_errors_add(err, g->nodes[i].id, "value %ld is not finite; data must be finite",
                           bad);
    }
    if (g->loss_node >= 0) {
        d->target = target;
        d->mask = mask;
        long bad = first_nonfinite(target, BT * (size_t)g->nodes[g->loss_node].size);
        if (bad >= 0)
            trl_errors_add(err, "target", "value %ld is not finite; data must be finite", bad);
        bad = first_nonfinite(mask, BT);
        if (bad >= 0)
            trl_errors_add(err, "mask", "value %ld is not finite; data must be finite", bad);
    }
    if (err->n_total) {
        data_free(d);
        return NULL;
    }
    return d;
}

/* Checks t against the expected rank and last dimension and against B and T
 * (taken from the first tensor checked). */
static int check_shape(const struct st_tensor *t, int rank, long last, int *B, int *T,
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
        return -1;
    }
    if (t->shape[0] < 1 || t->shape[1] < 1 || t->shape[0] > (1 << 30) || t->shape[1] > (1 << 30)) {
        trl_errors_add(err, t->name, "B and T must be at least 1 (got [%lld, %lld, ...])",
                       (long long)t->shape[0], (long long)t->shape[1]);
        return -1;
    }
    if (*B == 0) {
        *B = (int)t->shape[0];
        *T = (int)t->shape[1];
    } else if (t->shape[0] != *B || t->shape[1] != *T) {
        trl_errors_add(err, t->name,
                       "batch and time lengths [%lld, %lld] disagree with the other tensors "
                       "[%d, %d]",
                       (long long)t->shape[0], (long long)t->shape[1], *B, *T);
        return -1;
    }
    return 0;
}

/* Reads every value of t, a piece at a time, to check that it is finite. */
static int check_finite(const struct st_file *f, const struct st_tensor *t, struct trl_errors *err)
{
    trl_real piece[FINITE_PIECE];
    for (size_t done = 0; done < t->count; done += FINITE_PIECE) {
        const size_t n = t->count - done < FINITE_PIECE ? t->count - done : FINITE_PIECE;
        if (st_read_range(f, t, done, n, piece, err)) return -1;
        long bad = st_first_nonfinite(piece, n);
        if (bad >= 0) {
            trl_errors_add(err, t->name, "value %zu is not finite; data must be finite",
                           done + (size_t)bad);
            return -1;
        }
    }
    return 0;
}

/* A tensor whose shape and values are right, or NULL (with the error). */
static const struct st_tensor *check_tensor(const struct st_file *f, const struct st_tensor *t,
                                            int rank, long last, int *B, int *T, const char *what,
                                            struct trl_errors *err)
{
    if (check_shape(t, rank, last, B, T, what, err) || check_finite(f, t, err)) return NULL;
    return t;
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

/* Finds and checks every tensor the graph reads into s. */
static void check_tensors(const struct graph *g, struct data *d, struct data_stream *s,
                          enum data_target need, struct trl_errors *err)
{
    const struct st_file *f = s->f;
    check_keys(g, f, err);
    for (int i = 0; i < g->n_nodes; i++) {
        const struct graph_node *nd = &g->nodes[i];
        if (!nd->op->is_input) continue;
        const struct st_tensor *t = st_find(f, nd->id);
        if (!t)
            trl_errors_add(err, nd->id, "missing tensor for input node \"%s\" (shape [B, T, %d])",
                           nd->id, nd->size);
        else
            s->x[i] = check_tensor(f, t, 3, nd->size, &d->B, &d->T, "an input", err);
    }
    if (g->loss_node >= 0) {
        int K = g->nodes[g->loss_node].size;
        const struct st_tensor *t = st_find(f, "target");
        if (t)
            s->target = check_tensor(f, t, 3, K, &d->B, &d->T, "target", err);
        else if (need == DATA_TARGET_REQUIRED)
            trl_errors_add(err, "target",
                           "missing tensor: computing a gradient needs the target [B, T, %d]", K);
        const struct st_tensor *m = st_find(f, "mask");
        if (m) s->mask = check_tensor(f, m, 2, 0, &d->B, &d->T, "mask", err);
    }
    if (!err->n_total && d->B == 0)
        trl_errors_add(err, NULL,
                       "no input or target tensor: cannot tell the batch and time "
                       "lengths");
}

/* The stream of an open file (which it then owns: closed on failure too). */
static struct data_stream *stream_new(const struct graph *g, struct st_file *f)
{
    struct data_stream *s = trl_alloc(1, sizeof *s, TRL_MEM_MISC);
    if (s) s->x = trl_alloc((size_t)g->n_nodes, sizeof *s->x, TRL_MEM_MISC);
    if (!s || !s->x) {
        trl_free(s);
        st_close(f);
        return NULL;
    }
    s->f = f;
    return s;
}

struct data *data_open(const struct graph *g, const char *path, enum data_target need,
                       struct trl_errors *err)
{
    struct st_file *f = st_open_stream(path, err);
    if (!f) return NULL;
    struct data_stream *s = stream_new(g, f);
    struct data *d = s ? data_alloc(g) : NULL;
    if (!d) {
        trl_errors_add(err, NULL, "out of memory");
        stream_close(s);
        return NULL;
    }
    d->stream = s;
    check_tensors(g, d, s, need, err);
    if (err->n_total) {
        data_free(d);
        return NULL;
    }
    d->loss_B = d->B;
    return d;
}

/* Arrays for span steps of w->B samples, for the tensors of w's stream. */
static int alloc_arrays(struct data *w, size_t span)
{
    const struct data_stream *s = w->stream;
    const size_t rows = trl_mul2((size_t)w->B, span);
    w->x = trl_alloc((size_t)w->n_nodes, sizeof *w->x, TRL_MEM_MISC);
    if (!w->x) return -1;
    for (int i = 0; i < w->n_nodes; i++)
        if (s->x[i] && !(w->x[i] = trl_alloc_uninit(rows, step_values(s->x[i]) * sizeof(trl_real),
                                                    TRL_MEM_MISC)))
            return -1;
    if (s->target && !(w->target = trl_alloc_uninit(rows, step_values(s->target) * sizeof(trl_real),
                                                    TRL_MEM_MISC)))
        return -1;
    if (s->mask && !(w->mask = trl_alloc_uninit(rows, sizeof(trl_real), TRL_MEM_MISC))) return -1;
    return 0;
}

/* n steps from step t0 of sample `sample` of tensor t into out. */
static int read_rows(const struct data_stream *s, const struct st_tensor *t, int T, int sample,
                     int t0, int n, trl_real *out, struct trl_errors *err)
{
    const size_t per = step_values(t), first = ((size_t)sample * T + (size_t)t0) * per;
    const size_t count = (size_t)n * per;
    if (st_read_range(s->f, t, first, count, out, err)) return -1;
    long bad = st_first_nonfinite(out, count);
    if (bad >= 0) {
        trl_errors_add(err, t->name,
                       "value %zu is not finite, but it was when the file was opened: the file "
                       "changed while in use",
                       first + (size_t)bad);
        return -1;
    }
    return 0;
}

/* Steps [t0, t0 + span) of w's samples (those before T) into its arrays. */
static int fill(struct data *w, int t0, struct trl_errors *err)
{
    const struct data_stream *s = w->stream;
    const int n = w->T - t0 < w->span ? w->T - t0 : w->span;
    w->t0 = -w->span; /* nothing valid until every read succeeds */
    for (int b = 0; b < w->B; b++) {
        const int sample = w->first + b;
        const size_t row = (size_t)b * w->span;
        for (int i = 0; i < w->n_nodes; i++)
            if (s->x[i] && read_rows(s, s->x[i], w->T, sample, t0, n,
                                     w->x[i] + row * step_values(s->x[i]), err))
                return -1;
        if (s->target && read_rows(s, s->target, w->T, sample, t0, n,
                                   w->target + row * step_values(s->target), err))
            return -1;
        if (s->mask && read_rows(s, s->mask, w->T, sample, t0, n, w->mask + row, err)) return -1;
    }
    w->t0 = t0;
    return 0;
}

/* Steps per window: d->window_steps, or as many as fit DATA_WINDOW_BYTES. */
static int window_span(const struct data *d)
{
    if (d->window_steps > 0) return d->window_steps;
    const struct data_stream *s = d->stream;
    size_t per_step = s->target ? step_values(s->target) : 0;
    per_step += s->mask ? 1 : 0;
    for (int i = 0; i < d->n_nodes; i++) per_step += s->x[i] ? step_values(s->x[i]) : 0;
    const size_t bytes = trl_mul3((size_t)d->B, per_step ? per_step : 1, sizeof(trl_real));
    const size_t span = DATA_WINDOW_BYTES / bytes;
    return span < 1 ? 1 : span > (1 << 30) ? 1 << 30 : (int)span;
}

int data_window_new(const struct data *d, struct data *w, struct trl_errors *err)
{
    *w = *d;
    w->x = NULL;
    w->target = w->mask = NULL;
    w->span = window_span(d);
    w->t0 = -w->span;
    if (alloc_arrays(w, (size_t)w->span)) {
        trl_errors_add(err, NULL, "out of memory for a window of %d steps of %d samples", w->span,
                       w->B);
        data_window_free(w);
        return -1;
    }
    return 0;
}

int data_window_at(struct data *w, int t, struct trl_errors *err)
{
    if (t >= w->t0 && t < w->t0 + w->span) return 0;
    return fill(w, t, err);
}

void data_window_free(struct data *w)
{
    free_arrays(w);
    w->x = NULL;
    w->target = w->mask = NULL;
}

struct data *data_load(const struct graph *g, const char *path, enum data_target need,
                       struct trl_errors *err)
{
    struct data *d = data_open(g, path, need, err);
    if (!d) return NULL;
    struct data_stream *s = d->stream;
    trl_free(d->x); /* the streamed set's: replaced by arrays of every step */
    d->x = NULL;
    d->span = d->T;
    if (alloc_arrays(d, (size_t)d->T)) {
        trl_errors_add(err, NULL, "out of memory for %d samples of %d steps", d->B, d->T);
    } else if (fill(d, 0, err) == 0) {
        d->stream = NULL; /* in memory now */
        stream_close(s);
        return d;
    }
    data_free(d);
    return NULL;
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
