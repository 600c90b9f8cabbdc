/* shd.c - see shd.h (SPEC section 11). */
#include "io/shd.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "io/hdf5_module.h"
#include "io/safetensors.h"

#define SHD_TIMES  "spikes/times"
#define SHD_UNITS  "spikes/units"
#define SHD_LABELS "labels"

struct shd_file {
    const struct hdf5_module *h5;
    int64_t file, times, units; /* HDF5 handles, -1: not open */
    long n;
    int64_t *labels; /* [n] */
    int64_t max_label;
};

static const char *class_name(enum h5m_class c)
{
    static const char *const names[] = {
        [H5M_OTHER] = "other",   [H5M_INTEGER] = "integer",   [H5M_FLOAT] = "float",
        [H5M_STRING] = "string", [H5M_COMPOUND] = "compound", [H5M_VLEN] = "variable-length",
        [H5M_ARRAY] = "array",
    };
    return names[c];
}

/* The length of the 1-D dataset name (described by info), or -1 with err set. */
static long dataset_length(const struct h5m_info *info, const char *name, struct trl_errors *err)
{
    if (info->rank != 1) {
        trl_errors_add(err, name,
                       "expected one entry per sample (a 1-D dataset), got %d dimensions",
                       info->rank);
        return -1;
    }
    return info->length;
}

/* Opens dataset name, checks its type (a vlen list of `want` or, with vlen
 * false, a plain `want`) and returns it with its length in *n, or -1 with err
 * set. */
static int64_t open_dataset(const struct shd_file *f, const char *name, bool vlen,
                            enum h5m_class want, const char *what, long *n, struct trl_errors *err)
{
    const struct hdf5_module *h5 = f->h5;
    if (h5->exists(f->file, "spikes") <= 0 && strchr(name, '/')) {
        trl_errors_add(err, name,
                       "missing: the file has no group \"spikes\" (is it an SHD/SSC file?)");
        return -1;
    }
    if (h5->exists(f->file, name) <= 0) {
        trl_errors_add(err, name, "missing dataset: SHD/SSC files hold %s, %s and %s", SHD_TIMES,
                       SHD_UNITS, SHD_LABELS);
        return -1;
    }
    struct h5m_info info;
    int64_t d = h5->open_dataset(f->file, name, &info);
    if (d < 0) {
        trl_errors_add(err, name, "not a dataset, or it cannot be opened");
        return -1;
    }
    const enum h5m_class c = info.cls, base = vlen && c == H5M_VLEN ? info.base : c;
    if ((vlen && c != H5M_VLEN) || base != want) {
        if (vlen && c == H5M_VLEN)
            trl_errors_add(err, name,
                           "expected a variable-length list of %s per sample, got lists of %s",
                           what, class_name(base));
        else
            trl_errors_add(err, name, "expected %s%s per sample, got a %s dataset",
                           vlen ? "a variable-length list of " : "", what, class_name(c));
        h5->close_dataset(d);
        return -1;
    }
    *n = dataset_length(&info, name, err);
    if (*n < 0) {
        h5->close_dataset(d);
        return -1;
    }
    return d;
}

/* Reads the labels whole and checks them. */
static int read_labels(struct shd_file *f, struct trl_errors *err)
{
    long n = 0;
    int64_t d = open_dataset(f, SHD_LABELS, false, H5M_INTEGER, "one integer", &n, err);
    if (d < 0) return -1;
    int rc = -1;
    if (n != f->n) {
        trl_errors_add(err, SHD_LABELS, "%ld labels for %ld samples (%s): they must be as many", n,
                       f->n, SHD_TIMES);
        goto done;
    }
    f->labels = trl_alloc((size_t)n + 1, sizeof *f->labels, TRL_MEM_MISC);
    if (!f->labels) {
        trl_errors_add(err, SHD_LABELS, "out of memory for %ld labels", n);
        goto done;
    }
    if (f->h5->read_all(d, H5M_INT64, n, f->labels) < 0) {
        trl_errors_add(err, SHD_LABELS, "cannot be read");
        goto done;
    }
    f->max_label = -1;
    for (long i = 0; i < n; i++) {
        if (f->labels[i] < 0) {
            trl_errors_add(err, SHD_LABELS, "sample %ld: label %lld is negative", i,
                           (long long)f->labels[i]);
            goto done;
        }
        if (f->labels[i] > f->max_label) f->max_label = f->labels[i];
    }
    rc = 0;
done:
    f->h5->close_dataset(d);
    return rc;
}

static int open_layout(struct shd_file *f, const char *path, struct trl_errors *err)
{
    if (f->h5->is_hdf5(path) <= 0) {
        trl_errors_add(err, NULL,
                       "not an HDF5 file (SHD/SSC files are the .h5 inside the .h5.gz: gunzip it)");
        return -1;
    }
    f->file = f->h5->open_file(path);
    if (f->file < 0) {
        trl_errors_add(err, NULL, "cannot be opened by HDF5");
        return -1;
    }
    long n_units = 0;
    f->times = open_dataset(f, SHD_TIMES, true, H5M_FLOAT, "times (float16, 32 or 64)", &f->n, err);
    if (f->times < 0) return -1;
    f->units = open_dataset(f, SHD_UNITS, true, H5M_INTEGER, "integer units", &n_units, err);
    if (f->units < 0) return -1;
    if (n_units != f->n) {
        trl_errors_add(err, SHD_UNITS, "%ld samples, but %s has %ld: they must be as many", n_units,
                       SHD_TIMES, f->n);
        return -1;
    }
    if (f->n == 0) {
        trl_errors_add(err, SHD_TIMES, "the file holds no samples");
        return -1;
    }
    return read_labels(f, err);
}

struct shd_file *shd_open(const char *path, struct trl_errors *err)
{
    trl_errors_init(err, path);
    if (access(path, R_OK) != 0) {
        trl_errors_add(err, NULL, "cannot read: %s", strerror(errno));
        trl_errors_kind(err, ERR_IO);
        return NULL;
    }
    const struct hdf5_module *h5 = hdf5_module(err);
    if (!h5) return NULL;
    struct shd_file *f = trl_alloc(1, sizeof *f, TRL_MEM_MISC);
    if (!f) {
        trl_errors_add(err, NULL, "out of memory");
        return NULL;
    }
    *f = (struct shd_file){.h5 = h5, .file = -1, .times = -1, .units = -1};
    if (open_layout(f, path, err)) {
        shd_close(f);
        return NULL;
    }
    return f;
}

void shd_close(struct shd_file *f)
{
    if (!f) return;
    if (f->times >= 0) f->h5->close_dataset(f->times);
    if (f->units >= 0) f->h5->close_dataset(f->units);
    if (f->file >= 0) f->h5->close_file(f->file);
    trl_free(f->labels);
    trl_free(f);
}

int shd_plan(const struct shd_file *f, const struct shd_opts *o, struct shd_stats *s,
             struct trl_errors *err)
{
    *s = (struct shd_stats){.n_file = f->n, .T = o->steps};
    if (!(o->dt_ms > 0) || !isfinite(o->dt_ms) || o->steps < 1) {
        trl_errors_add(err, NULL, "the bin width (%g ms) must be > 0 and the steps (%d) >= 1",
                       o->dt_ms, o->steps);
        trl_errors_kind(err, ERR_ARGUMENT);
        return -1;
    }
    if (o->loss_steps < 0 || o->loss_steps > o->steps || o->offset < 0 || o->limit < 0 ||
        o->classes < 0) {
        trl_errors_add(err, NULL,
                       "the loss steps (%d) must be from 0 to the steps (%d); the offset (%ld), "
                       "limit (%ld) and classes (%d) must be >= 0",
                       o->loss_steps, o->steps, o->offset, o->limit, o->classes);
        trl_errors_kind(err, ERR_ARGUMENT);
        return -1;
    }
    if (o->offset >= f->n) {
        trl_errors_add(err, NULL, "the first sample (offset %ld) is past the file's %ld samples",
                       o->offset, f->n);
        trl_errors_kind(err, ERR_ARGUMENT);
        return -1;
    }
    long B = f->n - o->offset;
    if (o->limit && o->limit < B) B = o->limit;
    if (B > (1L << 30)) B = 1L << 30;
    s->B = (int)B;
    if (!o->classes && f->max_label >= (1 << 24)) {
        trl_errors_add(err, SHD_LABELS, "the largest label, %lld, makes too many classes",
                       (long long)f->max_label);
        return -1;
    }
    s->classes = o->classes ? o->classes : (int)f->max_label + 1;
    for (long b = 0; b < B; b++) {
        int64_t l = f->labels[o->offset + b];
        if (l >= s->classes) {
            trl_errors_add(err, SHD_LABELS,
                           "sample %ld: label %lld is outside the %d classes (0 to %d)",
                           o->offset + b, (long long)l, s->classes, s->classes - 1);
            return -1;
        }
    }
    return 0;
}

/* Counts the spikes of one sample into x (SPEC section 11's binning). */
static int bin_spikes(const double *times, const int64_t *units, size_t n, long i,
                      const struct shd_opts *o, trl_real *x, struct shd_stats *s,
                      struct trl_errors *err)
{
    for (size_t k = 0; k < n; k++) {
        if (units[k] < 0 || units[k] >= SHD_CHANNELS) {
            trl_errors_add(err, SHD_UNITS,
                           "sample %ld, spike %zu: unit %lld is not a channel (0 to %d)", i, k,
                           (long long)units[k], SHD_CHANNELS - 1);
            return -1;
        }
        if (!(times[k] >= 0) || !isfinite(times[k])) {
            trl_errors_add(err, SHD_TIMES, "sample %ld, spike %zu: time %g s is %s", i, k, times[k],
                           isnan(times[k]) ? "not a number"
                           : times[k] < 0  ? "negative"
                                           : "infinite");
            return -1;
        }
        double step = floor(1000.0 * times[k] / o->dt_ms); /* 0-based */
        if (step >= o->steps) {
            s->dropped++;
            continue;
        }
        trl_real *c = &x[(size_t)step * SHD_CHANNELS + (size_t)units[k]];
        *c += 1;
        if ((long)*c > s->max_count) s->max_count = (long)*c;
        s->spikes++;
    }
    return 0;
}

int shd_bin(struct shd_file *f, const struct shd_opts *o, long b, trl_real *x, struct shd_stats *s,
            struct trl_errors *err)
{
    const long i = o->offset + b;
    memset(x, 0, (size_t)o->steps * SHD_CHANNELS * sizeof *x);
    const struct hdf5_module *h5 = f->h5;
    struct h5m_list t = {0}, u = {0};
    int rc = -1;
    if (h5->read_list(f->times, H5M_DOUBLE, i, &t)) {
        trl_errors_add(err, SHD_TIMES, "sample %ld cannot be read", i);
    } else if (h5->read_list(f->units, H5M_INT64, i, &u)) {
        trl_errors_add(err, SHD_UNITS, "sample %ld cannot be read", i);
    } else if (t.len != u.len) {
        trl_errors_add(err, SHD_UNITS, "sample %ld: %zu units for %zu times: they must be as many",
                       i, u.len, t.len);
    } else {
        rc = bin_spikes(t.p, u.p, t.len, i, o, x, s, err);
    }
    h5->free_list(H5M_DOUBLE, &t);
    h5->free_list(H5M_INT64, &u);
    return rc;
}

void shd_target(const struct shd_file *f, const struct shd_opts *o, const struct shd_stats *s,
                long b, trl_real *target)
{
    const int64_t l = f->labels[o->offset + b];
    memset(target, 0, (size_t)o->steps * (size_t)s->classes * sizeof *target);
    for (int t = 0; t < o->steps; t++) target[(size_t)t * (size_t)s->classes + (size_t)l] = 1;
}

void shd_mask(const struct shd_opts *o, trl_real *mask)
{
    const int first = o->loss_steps ? o->steps - o->loss_steps : 0;
    for (int t = 0; t < o->steps; t++) mask[t] = t >= first ? 1 : 0;
}

/* The values of every tensor, in the file's order: x of each sample, then
 * target of each, then mask of each. */
static int write_values(struct shd_file *f, const struct shd_opts *o, struct shd_stats *s,
                        struct st_writer *w, trl_real *buf, struct trl_errors *err,
                        struct trl_errors *werr)
{
    const size_t T = (size_t)o->steps;
    for (long b = 0; b < s->B; b++) {
        if (shd_bin(f, o, b, buf, s, err)) return -1;
        if (st_writer_put(w, buf, T * SHD_CHANNELS, werr)) goto write_error;
    }
    for (long b = 0; b < s->B; b++) {
        shd_target(f, o, s, b, buf);
        if (st_writer_put(w, buf, T * (size_t)s->classes, werr)) goto write_error;
    }
    shd_mask(o, buf);
    for (long b = 0; b < s->B; b++)
        if (st_writer_put(w, buf, T, werr)) goto write_error;
    return 0;
write_error:
    *err = *werr;
    return -1;
}

int shd_convert(const char *path, const struct shd_opts *o, const char *out, struct shd_stats *s,
                struct trl_errors *err)
{
    struct shd_stats scratch;
    if (!s) s = &scratch;
    struct shd_file *f = shd_open(path, err);
    if (!f) return -1;
    trl_real *buf = NULL;
    struct st_writer *w = NULL;
    int rc = -1;
    if (shd_plan(f, o, s, err)) goto done;
    const int C = s->classes > SHD_CHANNELS ? s->classes : SHD_CHANNELS;
    buf = trl_alloc((size_t)o->steps * (size_t)C, sizeof *buf, TRL_MEM_MISC);
    if (!buf) {
        trl_errors_add(err, NULL, "out of memory for one sample of %d steps", o->steps);
        goto done;
    }
    const char *input = o->input ? o->input : "in";
    const struct st_out tensors[3] = {
        {.name = input, .ndim = 3, .shape = {s->B, o->steps, SHD_CHANNELS}},
        {.name = "target", .ndim = 3, .shape = {s->B, o->steps, s->classes}},
        {.name = "mask", .ndim = 2, .shape = {s->B, o->steps}},
    };
    char dt[32], first[32];
    snprintf(dt, sizeof dt, "%.17g", o->dt_ms);
    snprintf(first, sizeof first, "%ld", o->offset);
    const char *meta[] = {"shd_source", path, "shd_dt_ms", dt, "shd_offset", first, NULL};
    struct trl_errors werr;
    w = st_writer_open(out, tensors, 3, meta, &werr);
    if (!w) {
        *err = werr;
        goto done;
    }
    if (write_values(f, o, s, w, buf, err, &werr)) goto done;
    rc = st_writer_commit(w, &werr);
    w = NULL;
    if (rc) *err = werr;
done:
    st_writer_abort(w);
    trl_free(buf);
    shd_close(f);
    return rc;
}

/* The input node shd_load fills, or -1 with err set. */
static int load_input(const struct graph *g, const char *name, struct trl_errors *err)
{
    int in = -1, n_inputs = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!g->nodes[i].op->is_input) continue;
        n_inputs++;
        if (!name || strcmp(g->nodes[i].id, name) == 0) in = i;
    }
    if (n_inputs != 1 || in < 0) {
        trl_errors_add(err, NULL,
                       "graph %s: needs one input node%s%s%s to take the spikes (it has %d input "
                       "nodes)",
                       g->file, name ? " \"" : "", name ? name : "", name ? "\"" : "", n_inputs);
        return -1;
    }
    if (g->nodes[in].size != SHD_CHANNELS) {
        trl_errors_add(err, NULL,
                       "graph %s: input node \"%s\" has size %d; SHD/SSC spikes have %d channels",
                       g->file, g->nodes[in].id, g->nodes[in].size, SHD_CHANNELS);
        return -1;
    }
    return in;
}

/* Fills d from f. */
static int load_values(struct shd_file *f, const struct shd_opts *o, struct shd_stats *s, int in,
                       struct data *d, struct trl_errors *err)
{
    const size_t T = (size_t)o->steps;
    for (long b = 0; b < s->B; b++) {
        if (shd_bin(f, o, b, d->x[in] + (size_t)b * T * SHD_CHANNELS, s, err)) return -1;
        if (d->target) shd_target(f, o, s, b, d->target + (size_t)b * T * (size_t)s->classes);
        if (d->mask) shd_mask(o, d->mask + (size_t)b * T);
    }
    return 0;
}

struct data *shd_load(const struct graph *g, const char *path, const struct shd_opts *o,
                      struct shd_stats *s, struct trl_errors *err)
{
    struct shd_stats scratch;
    if (!s) s = &scratch;
    struct shd_file *f = shd_open(path, err);
    if (!f) return NULL;
    struct data *d = NULL;
    int in = -1;
    if (shd_plan(f, o, s, err) || (in = load_input(g, o->input, err)) < 0) goto done;
    if (g->loss_node >= 0 && g->nodes[g->loss_node].size != s->classes) {
        trl_errors_add(err, NULL,
                       "graph %s: the loss node \"%s\" has size %d, but the data have %d classes",
                       g->file, g->nodes[g->loss_node].id, g->nodes[g->loss_node].size, s->classes);
        goto done;
    }
    d = data_new(g, s->B, o->steps);
    if (!d) {
        trl_errors_add(err, NULL, "out of memory for %d samples x %d steps x %d channels", s->B,
                       o->steps, SHD_CHANNELS);
        trl_errors_kind(err, ERR_MEMORY);
    } else if (load_values(f, o, s, in, d, err)) {
        data_free(d);
        d = NULL;
    }
done:
    shd_close(f);
    return d;
}
