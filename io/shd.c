/* shd.c - see shd.h (SPEC section 11). */
#include "io/shd.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "core/alloc.h"
#include "io/safetensors.h"

#define SHD_TIMES  "spikes/times"
#define SHD_UNITS  "spikes/units"
#define SHD_LABELS "labels"

struct shd_file {
    hid_t file, times, units;
    hid_t times_mem, units_mem; /* vlen double, vlen int64 */
    long n;
    int64_t *labels; /* [n] */
    int64_t max_label;
};

/* HDF5 prints its error stack unless told not to; the library never prints. */
struct h5_quiet {
    H5E_auto2_t fn;
    void *data;
};

static void h5_quiet_on(struct h5_quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->fn, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void h5_quiet_off(const struct h5_quiet *q)
{
    H5Eset_auto2(H5E_DEFAULT, q->fn, q->data);
}

static const char *class_name(H5T_class_t c)
{
    switch (c) {
    case H5T_INTEGER:
        return "integer";
    case H5T_FLOAT:
        return "float";
    case H5T_STRING:
        return "string";
    case H5T_COMPOUND:
        return "compound";
    case H5T_VLEN:
        return "variable-length";
    case H5T_ARRAY:
        return "array";
    default:
        return "other";
    }
}

/* The length of the 1-D dataset d, or -1 with err set. */
static long dataset_length(hid_t d, const char *name, struct trl_errors *err)
{
    hid_t space = H5Dget_space(d);
    hsize_t n = 0;
    int rank = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    if (rank == 1) H5Sget_simple_extent_dims(space, &n, NULL);
    if (space >= 0) H5Sclose(space);
    if (rank != 1) {
        trl_errors_add(err, name,
                       "expected one entry per sample (a 1-D dataset), got %d dimensions", rank);
        return -1;
    }
    return (long)n;
}

/* Opens dataset name, checks its type (a vlen list of `want` or, with vlen
 * false, a plain `want`) and returns it, or -1 with err set. */
static hid_t open_dataset(hid_t file, const char *name, bool vlen, H5T_class_t want,
                          const char *what, struct trl_errors *err)
{
    if (H5Lexists(file, "spikes", H5P_DEFAULT) <= 0 && strchr(name, '/')) {
        trl_errors_add(err, name,
                       "missing: the file has no group \"spikes\" (is it an SHD/SSC file?)");
        return -1;
    }
    if (H5Lexists(file, name, H5P_DEFAULT) <= 0) {
        trl_errors_add(err, name, "missing dataset: SHD/SSC files hold %s, %s and %s", SHD_TIMES,
                       SHD_UNITS, SHD_LABELS);
        return -1;
    }
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    if (d < 0) {
        trl_errors_add(err, name, "not a dataset, or it cannot be opened");
        return -1;
    }
    hid_t t = H5Dget_type(d);
    H5T_class_t c = H5Tget_class(t), base = c;
    if (vlen && c == H5T_VLEN) {
        hid_t super = H5Tget_super(t);
        base = H5Tget_class(super);
        H5Tclose(super);
    }
    H5Tclose(t);
    if ((vlen && c != H5T_VLEN) || base != want) {
        if (vlen && c == H5T_VLEN)
            trl_errors_add(err, name,
                           "expected a variable-length list of %s per sample, got lists of %s",
                           what, class_name(base));
        else
            trl_errors_add(err, name, "expected %s%s per sample, got a %s dataset",
                           vlen ? "a variable-length list of " : "", what, class_name(c));
        H5Dclose(d);
        return -1;
    }
    return d;
}

/* Reads the labels whole and checks them. */
static int read_labels(struct shd_file *f, hid_t file, struct trl_errors *err)
{
    hid_t d = open_dataset(file, SHD_LABELS, false, H5T_INTEGER, "one integer", err);
    if (d < 0) return -1;
    long n = dataset_length(d, SHD_LABELS, err);
    int rc = -1;
    if (n < 0) goto done;
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
    if (n && H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, f->labels) < 0) {
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
    H5Dclose(d);
    return rc;
}

static int open_layout(struct shd_file *f, const char *path, struct trl_errors *err)
{
#if H5_VERSION_GE(1, 12, 0)
    htri_t is = H5Fis_accessible(path, H5P_DEFAULT);
#else
    htri_t is = H5Fis_hdf5(path);
#endif
    if (is <= 0) {
        trl_errors_add(err, NULL,
                       "not an HDF5 file (SHD/SSC files are the .h5 inside the .h5.gz: gunzip it)");
        return -1;
    }
    f->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f->file < 0) {
        trl_errors_add(err, NULL, "cannot be opened by HDF5");
        return -1;
    }
    f->times = open_dataset(f->file, SHD_TIMES, true, H5T_FLOAT, "times (float16, 32 or 64)", err);
    if (f->times < 0) return -1;
    f->units = open_dataset(f->file, SHD_UNITS, true, H5T_INTEGER, "integer units", err);
    if (f->units < 0) return -1;
    f->n = dataset_length(f->times, SHD_TIMES, err);
    long n_units = dataset_length(f->units, SHD_UNITS, err);
    if (f->n < 0 || n_units < 0) return -1;
    if (n_units != f->n) {
        trl_errors_add(err, SHD_UNITS, "%ld samples, but %s has %ld: they must be as many", n_units,
                       SHD_TIMES, f->n);
        return -1;
    }
    if (f->n == 0) {
        trl_errors_add(err, SHD_TIMES, "the file holds no samples");
        return -1;
    }
    f->times_mem = H5Tvlen_create(H5T_NATIVE_DOUBLE);
    f->units_mem = H5Tvlen_create(H5T_NATIVE_INT64);
    if (f->times_mem < 0 || f->units_mem < 0) {
        trl_errors_add(err, NULL, "out of memory");
        return -1;
    }
    return read_labels(f, f->file, err);
}

struct shd_file *shd_open(const char *path, struct trl_errors *err)
{
    trl_errors_init(err, path);
    if (access(path, R_OK) != 0) {
        trl_errors_add(err, NULL, "cannot read: %s", strerror(errno));
        trl_errors_kind(err, ERR_IO);
        return NULL;
    }
    struct shd_file *f = trl_alloc(1, sizeof *f, TRL_MEM_MISC);
    if (!f) {
        trl_errors_add(err, NULL, "out of memory");
        return NULL;
    }
    *f = (struct shd_file){.file = -1, .times = -1, .units = -1, .times_mem = -1, .units_mem = -1};
    struct h5_quiet q;
    h5_quiet_on(&q);
    int rc = open_layout(f, path, err);
    h5_quiet_off(&q);
    if (rc) {
        shd_close(f);
        return NULL;
    }
    return f;
}

void shd_close(struct shd_file *f)
{
    if (!f) return;
    struct h5_quiet q;
    h5_quiet_on(&q);
    if (f->times_mem >= 0) H5Tclose(f->times_mem);
    if (f->units_mem >= 0) H5Tclose(f->units_mem);
    if (f->times >= 0) H5Dclose(f->times);
    if (f->units >= 0) H5Dclose(f->units);
    if (f->file >= 0) H5Fclose(f->file);
    h5_quiet_off(&q);
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

/* Reads one vlen entry of d into *v (to free with H5Dvlen_reclaim). */
static int read_entry(hid_t d, hid_t mem, long i, hvl_t *v)
{
    hsize_t start = (hsize_t)i, one = 1;
    hid_t fs = H5Dget_space(d), ms = H5Screate_simple(1, &one, NULL);
    int rc = fs < 0 || ms < 0 ||
                     H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &one, NULL) < 0 ||
                     H5Dread(d, mem, ms, fs, H5P_DEFAULT, v) < 0
                 ? -1
                 : 0;
    if (fs >= 0) H5Sclose(fs);
    if (ms >= 0) H5Sclose(ms);
    return rc;
}

static void reclaim(hid_t mem, hvl_t *v)
{
    hsize_t one = 1;
    hid_t ms = H5Screate_simple(1, &one, NULL);
#if H5_VERSION_GE(1, 12, 0)
    H5Treclaim(mem, ms, H5P_DEFAULT, v);
#else
    H5Dvlen_reclaim(mem, ms, H5P_DEFAULT, v);
#endif
    H5Sclose(ms);
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
    hvl_t t = {0}, u = {0};
    struct h5_quiet q;
    h5_quiet_on(&q);
    int rc = -1;
    if (read_entry(f->times, f->times_mem, i, &t)) {
        trl_errors_add(err, SHD_TIMES, "sample %ld cannot be read", i);
    } else if (read_entry(f->units, f->units_mem, i, &u)) {
        trl_errors_add(err, SHD_UNITS, "sample %ld cannot be read", i);
    } else if (t.len != u.len) {
        trl_errors_add(err, SHD_UNITS, "sample %ld: %zu units for %zu times: they must be as many",
                       i, u.len, t.len);
    } else {
        rc = bin_spikes(t.p, u.p, t.len, i, o, x, s, err);
    }
    reclaim(f->times_mem, &t);
    reclaim(f->units_mem, &u);
    h5_quiet_off(&q);
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
