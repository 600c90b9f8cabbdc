/* test_shd.c - the Spiking Heidelberg Digits reader (io/shd.h, SPEC section
 * 11) and `trellis data shd`.
 *
 * Files in the SHD layout are written here with the HDF5 C API (and once by
 * tools/shd_synth.py with h5py). Covers:
 *   - binning against expected steps, for times stored as float16, float32
 *     and float64: spikes exactly on a bin edge go to the later step, the
 *     largest value of the type below an edge to the earlier one, a spike at
 *     T dt and later is dropped (and counted), two spikes in one cell count
 *     2; every other cell is 0 (a direct count);
 *   - double precision: the float64 (and float32) neighbour below an edge;
 *   - target one-hot over the classes (default max label + 1, or given),
 *     mask all ones or on the last K steps, --offset/--limit;
 *   - shd_convert's file equals shd_load's data and reads back with
 *     data_load for a 700-input graph;
 *   - every bad file: missing datasets, wrong types, lengths that differ,
 *     unit >= 700 or < 0, negative / NaN / infinite times, labels out of
 *     range or negative, not HDF5: an error naming the dataset and sample,
 *     and no output file (nor a temporary) left;
 *   - the command line: conversion, errors (exit 1, 2), --help, a file
 *     written by h5py, and a short training run that lowers the loss.
 */
#include <check.h>
#include <dirent.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "io/shd.h"
#include "tests/support/cli_run.h"
#include "tests/support/testutil.h"

enum ttype { F16, F32, F64, I32 };

/* tu_tmp's path, kept (tu_tmp rotates four buffers). */
static const char *tmp_path(const char *name)
{
    static char paths[64][512];
    static int next;
    char *p = paths[next++ % 64];
    snprintf(p, sizeof paths[0], "%s", tu_tmp(name));
    return p;
}

/* What write_file writes; zero fields mean the normal layout. */
struct spec {
    int n;                      /* samples */
    const double *const *times; /* [n][n_spikes[i]] */
    const long *const *units;
    const int *n_times, *n_units;
    const long *labels;
    enum ttype time_type;
    int n_labels;    /* -1: as many as n */
    int n_unit_rows; /* -1: as many as n */
    bool no_labels, no_units, no_spikes;
    bool units_float;  /* units stored as vlen float */
    bool times_plain;  /* times as a plain float dataset, not vlen */
    bool labels_float; /* labels as float */
};

static hid_t file_type(enum ttype t)
{
    if (t == F32) return H5Tcopy(H5T_IEEE_F32LE);
    if (t == F64) return H5Tcopy(H5T_IEEE_F64LE);
    if (t == I32) return H5Tcopy(H5T_STD_I32LE);
    hid_t h = H5Tcopy(H5T_IEEE_F32LE); /* float16, as h5py writes it */
    H5Tset_fields(h, 15, 10, 5, 0, 10);
    H5Tset_size(h, 2);
    H5Tset_ebias(h, 15);
    return h;
}

static void write_vlen(hid_t file, const char *name, hid_t ftype, hid_t mtype, int n,
                       const void *const *rows, const int *lens, size_t elem)
{
    hsize_t dim = (hsize_t)n;
    hid_t space = H5Screate_simple(1, &dim, NULL);
    hid_t fv = H5Tvlen_create(ftype), mv = H5Tvlen_create(mtype);
    hid_t d = H5Dcreate2(file, name, fv, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(d, 0);
    hvl_t *buf = calloc((size_t)n + 1, sizeof *buf);
    for (int i = 0; i < n; i++) buf[i] = (hvl_t){.len = (size_t)lens[i], .p = (void *)rows[i]};
    (void)elem;
    ck_assert_int_ge(H5Dwrite(d, mv, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), 0);
    free(buf);
    H5Dclose(d);
    H5Tclose(fv);
    H5Tclose(mv);
    H5Sclose(space);
}

static void write_plain(hid_t file, const char *name, hid_t ftype, hid_t mtype, int n,
                        const void *v)
{
    hsize_t dim = (hsize_t)n;
    hid_t space = H5Screate_simple(1, &dim, NULL);
    hid_t d = H5Dcreate2(file, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(d, 0);
    ck_assert_int_ge(H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), 0);
    H5Dclose(d);
    H5Sclose(space);
}

static void write_file(const char *path, const struct spec *s)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    if (!s->no_spikes) H5Gclose(H5Gcreate2(f, "spikes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    hid_t tt = file_type(s->time_type);
    if (s->no_spikes) {
    } else if (s->times_plain) {
        write_plain(f, "spikes/times", tt, H5T_NATIVE_DOUBLE, 1, s->times[0]);
    } else {
        write_vlen(f, "spikes/times", tt, H5T_NATIVE_DOUBLE, s->n, (const void *const *)s->times,
                   s->n_times, sizeof(double));
    }
    if (!s->no_spikes && !s->no_units) {
        int rows = s->n_unit_rows ? s->n_unit_rows : s->n;
        if (s->units_float) {
            write_vlen(f, "spikes/units", tt, H5T_NATIVE_DOUBLE, rows,
                       (const void *const *)s->times, s->n_times, sizeof(double));
        } else {
            hid_t ut = file_type(I32);
            write_vlen(f, "spikes/units", ut, H5T_NATIVE_LONG, rows, (const void *const *)s->units,
                       s->n_units, sizeof(long));
            H5Tclose(ut);
        }
    }
    if (!s->no_labels) {
        int n = s->n_labels ? s->n_labels : s->n;
        if (s->labels_float) {
            double v[16] = {0};
            write_plain(f, "labels", H5T_IEEE_F32LE, H5T_NATIVE_DOUBLE, n, v);
        } else {
            write_plain(f, "labels", H5T_STD_I32LE, H5T_NATIVE_LONG, n, s->labels);
        }
    }
    H5Tclose(tt);
    H5Fclose(f);
}

#define SPEC(...) ((struct spec){__VA_ARGS__})

/* Edges: MS = 1000 / 256 ms, so that a time of k / 256 s is exactly the
 * start of step k + 1 (1000 k / 256 / MS = k in double precision). Every time
 * below is exact in float16. */
#define MS      3.90625
#define T_STEPS 100
static const double edge_times[] = {
    0.0,                      /* step 1 */
    1.0 / 256,                /* exactly the edge of step 2 */
    1.0 / 256 - 1.0 / 524288, /* float16's largest below it: step 1 */
    3.0 / 256,                /* step 4 */
    3.0 / 256 - 1.0 / 131072, /* step 3 */
    0.25,                     /* step 65 */
    0.25 - 1.0 / 8192,        /* step 64 */
    0.25 - 1.0 / 8192,        /* the same cell again: count 2 */
    100.0 / 256 - 1.0 / 4096, /* the last step, 100 */
    100.0 / 256,              /* T MS: dropped */
    1.0,                      /* dropped */
};
static const long edge_units[] = {0, 699, 699, 5, 5, 7, 8, 8, 699, 3, 4};
static const int edge_steps[] = {1, 2, 1, 4, 3, 65, 64, 64, 100, 0, 0}; /* 0: dropped */
#define N_EDGE ((int)(sizeof edge_times / sizeof edge_times[0]))

static struct shd_opts opts_of(double ms, int T)
{
    return (struct shd_opts){.dt_ms = ms, .steps = T};
}

/* Bins sample b of path into a fresh array [T * 700]. */
static trl_real *bin_one(const char *path, const struct shd_opts *o, long b, struct shd_stats *s)
{
    struct trl_errors err;
    struct shd_file *f = shd_open(path, &err);
    if (!f) trl_errors_print(&err, stderr);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(shd_plan(f, o, s, &err), 0);
    trl_real *x = calloc((size_t)o->steps * SHD_CHANNELS, sizeof *x);
    int rc = shd_bin(f, o, b, x, s, &err);
    if (rc) trl_errors_print(&err, stderr);
    ck_assert_int_eq(rc, 0);
    shd_close(f);
    return x;
}

/* The expected counts of the edge spikes, by the given steps. */
static void expect_edges(const trl_real *x, const int *steps, const long *units, int n)
{
    trl_real *want = calloc((size_t)T_STEPS * SHD_CHANNELS, sizeof *want);
    for (int k = 0; k < n; k++)
        if (steps[k]) want[(size_t)(steps[k] - 1) * SHD_CHANNELS + (size_t)units[k]] += 1;
    for (size_t i = 0; i < (size_t)T_STEPS * SHD_CHANNELS; i++)
        ck_assert_msg(x[i] == want[i], "step %zu channel %zu: %g, expected %g",
                      i / SHD_CHANNELS + 1, i % SHD_CHANNELS, (double)x[i], (double)want[i]);
    free(want);
}

START_TEST(test_binning)
{
    static const enum ttype types[] = {F16, F32, F64};
    const char *path = tmp_path("edges.h5");
    const double *times[1] = {edge_times};
    const long *units[1] = {edge_units};
    const int n_spikes[1] = {N_EDGE};
    const long labels[1] = {0};
    for (int i = 0; i < 3; i++) {
        write_file(path, &SPEC(.n = 1, .times = times, .units = units, .n_times = n_spikes,
                               .n_units = n_spikes, .labels = labels, .time_type = types[i]));
        struct shd_opts o = opts_of(MS, T_STEPS);
        struct shd_stats s;
        trl_real *x = bin_one(path, &o, 0, &s);
        expect_edges(x, edge_steps, edge_units, N_EDGE);
        ck_assert_int_eq(s.dropped, 2);
        ck_assert_int_eq(s.spikes, N_EDGE - 2);
        ck_assert_int_eq(s.max_count, 2);
        free(x);
    }
}
END_TEST

/* Values whose distance to an edge only double (or float) precision holds. */
START_TEST(test_precision)
{
    const char *path = tmp_path("precision.h5");
    const double t64[] = {nextafter(0.25, 0), 0.25, nextafter(0.25, 1)};
    const double t32[] = {(double)nextafterf(0.25f, 0), 0.25, (double)nextafterf(0.25f, 1)};
    const long u[] = {1, 2, 3};
    const int steps[] = {64, 65, 65};
    const double *times[1] = {t64};
    const long *units[1] = {u};
    const int n[1] = {3};
    const long labels[1] = {0};
    for (int k = 0; k < 2; k++) {
        times[0] = k ? t32 : t64;
        write_file(path, &SPEC(.n = 1, .times = times, .units = units, .n_times = n, .n_units = n,
                               .labels = labels, .time_type = k ? F32 : F64));
        struct shd_opts o = opts_of(MS, T_STEPS);
        struct shd_stats s;
        trl_real *x = bin_one(path, &o, 0, &s);
        expect_edges(x, steps, u, 3);
        free(x);
    }
    /* another width: 0.3 s at 1.5 ms is step floor(200) + 1 = 201 exactly as
     * computed in double: 1000 * 0.3 / 1.5 */
    const double t[] = {0.3};
    times[0] = t;
    const int one[1] = {1};
    write_file(path, &SPEC(.n = 1, .times = times, .units = units, .n_times = one, .n_units = one,
                           .labels = labels, .time_type = F64));
    struct shd_opts o = opts_of(1.5, 300);
    struct shd_stats s;
    trl_real *x = bin_one(path, &o, 0, &s);
    const size_t want = (size_t)floor(1000.0 * 0.3 / 1.5);
    ck_assert(x[want * SHD_CHANNELS + 1] == 1);
    ck_assert_int_eq(s.spikes, 1);
    free(x);
}
END_TEST

/* Three samples, labels 0, 2, 1; sample i has one spike of unit 10 + i at
 * step i + 1 (of 10 ms). */
static const char *three_samples(const char *name)
{
    static const double t0[] = {0.0}, t1[] = {0.015}, t2[] = {0.025};
    static const long u0[] = {10}, u1[] = {11}, u2[] = {12};
    static const double *const times[3] = {t0, t1, t2};
    static const long *const units[3] = {u0, u1, u2};
    static const int n[3] = {1, 1, 1};
    static const long labels[3] = {0, 2, 1};
    const char *path = tmp_path(name);
    write_file(path, &SPEC(.n = 3, .times = times, .units = units, .n_times = n, .n_units = n,
                           .labels = labels, .time_type = F32));
    return path;
}

START_TEST(test_targets_masks)
{
    const char *path = three_samples("three.h5");
    struct trl_errors err;
    struct shd_file *f = shd_open(path, &err);
    ck_assert_ptr_nonnull(f);
    struct shd_opts o = {.dt_ms = 10, .steps = 4};
    struct shd_stats s;
    ck_assert_int_eq(shd_plan(f, &o, &s, &err), 0);
    ck_assert_int_eq(s.classes, 3);
    ck_assert_int_eq(s.B, 3);
    ck_assert_int_eq(s.n_file, 3);
    trl_real target[4 * 5], mask[4];
    shd_target(f, &o, &s, 1, target);
    for (int t = 0; t < 4; t++)
        for (int c = 0; c < 3; c++) ck_assert(target[t * 3 + c] == (c == 2));
    shd_mask(&o, mask);
    for (int t = 0; t < 4; t++) ck_assert(mask[t] == 1);
    o.classes = 5;
    o.loss_steps = 3;
    ck_assert_int_eq(shd_plan(f, &o, &s, &err), 0);
    ck_assert_int_eq(s.classes, 5);
    shd_target(f, &o, &s, 2, target);
    for (int t = 0; t < 4; t++)
        for (int c = 0; c < 5; c++) ck_assert(target[t * 5 + c] == (c == 1));
    shd_mask(&o, mask);
    ck_assert(mask[0] == 0 && mask[1] == 1 && mask[2] == 1 && mask[3] == 1);
    /* a range: sample 1 only; a limit past the end stops at the end */
    o = (struct shd_opts){.dt_ms = 10, .steps = 4, .offset = 1, .limit = 1};
    ck_assert_int_eq(shd_plan(f, &o, &s, &err), 0);
    ck_assert_int_eq(s.B, 1);
    ck_assert_int_eq(s.classes, 3); /* still the whole file's */
    trl_real x[4 * SHD_CHANNELS];
    ck_assert_int_eq(shd_bin(f, &o, 0, x, &s, &err), 0);
    ck_assert(x[1 * SHD_CHANNELS + 11] == 1);
    shd_target(f, &o, &s, 0, target);
    ck_assert(target[2] == 1);
    o.limit = 10;
    ck_assert_int_eq(shd_plan(f, &o, &s, &err), 0);
    ck_assert_int_eq(s.B, 2);
    /* options out of range */
    o = (struct shd_opts){.dt_ms = 10, .steps = 4, .offset = 3};
    ck_assert_int_eq(shd_plan(f, &o, &s, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.e[0].msg, "past the file's 3 samples"));
    trl_errors_init(&err, path);
    o = (struct shd_opts){.dt_ms = 10, .steps = 4, .loss_steps = 5};
    ck_assert_int_eq(shd_plan(f, &o, &s, &err), -1);
    trl_errors_init(&err, path);
    o = (struct shd_opts){.dt_ms = 0, .steps = 4};
    ck_assert_int_eq(shd_plan(f, &o, &s, &err), -1);
    ck_assert_int_eq(err.kind, ERR_ARGUMENT);
    shd_close(f);
}
END_TEST

static const char *const g700 =
    "{\"trellis\": 1, \"dt\": 10, \"nodes\": ["
    "{\"id\": \"spk\", \"op\": \"input\", \"size\": 700},"
    "{\"id\": \"h\", \"op\": \"lif\", \"size\": 8, \"inputs\": [\"spk\"]},"
    "{\"id\": \"y\", \"op\": \"readout\", \"size\": 3, \"inputs\": [\"h\"]}],"
    "\"loss\": {\"node\": \"y\", \"type\": \"cross_entropy\"}}";

START_TEST(test_convert_and_load)
{
    const char *path = three_samples("three2.h5");
    const char *out = tmp_path("three.safetensors");
    struct shd_opts o = {.dt_ms = 10, .steps = 4, .loss_steps = 2, .input = "spk"};
    struct shd_stats s;
    struct trl_errors err;
    ck_assert_int_eq(shd_convert(path, &o, out, &s, &err), 0);
    ck_assert_int_eq(s.B, 3);
    ck_assert_int_eq(s.spikes, 3);
    struct graph *g = tu_graph(g700);
    ck_assert_ptr_nonnull(g);
    struct data *a = data_load(g, out, DATA_TARGET_REQUIRED, &err);
    if (!a) trl_errors_print(&err, stderr);
    ck_assert_ptr_nonnull(a);
    o.input = NULL; /* the graph's one input node */
    struct data *b = shd_load(g, path, &o, &s, &err);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(a->B, 3);
    ck_assert_int_eq(a->T, 4);
    int in = graph_find_node(g, "spk");
    ck_assert_mem_eq(a->x[in], b->x[in], 3 * 4 * SHD_CHANNELS * sizeof(trl_real));
    ck_assert_mem_eq(a->target, b->target, 3 * 4 * 3 * sizeof(trl_real));
    ck_assert_mem_eq(a->mask, b->mask, 3 * 4 * sizeof(trl_real));
    ck_assert(a->x[in][(2 * 4 + 2) * SHD_CHANNELS + 12] == 1);
    ck_assert(a->mask[0] == 0 && a->mask[3] == 1);
    data_free(a);
    data_free(b);
    /* the graph must fit */
    o.classes = 4;
    ck_assert_ptr_null(shd_load(g, path, &o, &s, &err));
    ck_assert_ptr_nonnull(strstr(err.e[0].msg, "the loss node \"y\" has size 3"));
    o.classes = 0;
    o.input = "in";
    ck_assert_ptr_null(shd_load(g, path, &o, &s, &err));
    ck_assert_ptr_nonnull(strstr(err.e[0].msg, "input node \"in\""));
    graph_free(g);
    g = tu_graph("{\"trellis\": 1, \"nodes\": [{\"id\": \"in\", \"op\": \"input\", \"size\": 40},"
                 "{\"id\": \"y\", \"op\": \"readout\", \"size\": 3, \"inputs\": [\"in\"]}]}");
    ck_assert_ptr_null(shd_load(g, path, &o, &s, &err));
    ck_assert_ptr_nonnull(strstr(err.e[0].msg, "has size 40; SHD/SSC spikes have 700"));
    graph_free(g);
}
END_TEST

/* No file of the folder starts with prefix. */
static void expect_no_file(const char *prefix)
{
    DIR *d = opendir(tu_tmp_dir());
    ck_assert_ptr_nonnull(d);
    for (struct dirent *e; (e = readdir(d));)
        ck_assert_msg(strncmp(e->d_name, prefix, strlen(prefix)) != 0, "%s left behind", e->d_name);
    closedir(d);
}

/* Converts path, which must fail with every one of the strings (NULL-ended). */
static void expect_bad(const char *path, const struct shd_opts *o, const char *const *want)
{
    struct trl_errors err;
    struct shd_stats s;
    ck_assert_int_eq(shd_convert(path, o, tmp_path("bad.safetensors"), &s, &err), -1);
    char text[4096];
    FILE *m = fmemopen(text, sizeof text, "w");
    trl_errors_print(&err, m);
    fclose(m);
    for (int i = 0; want[i]; i++)
        ck_assert_msg(strstr(text, want[i]), "expected \"%s\" in: %s", want[i], text);
    ck_assert_ptr_nonnull(strstr(text, path));
    expect_no_file("bad.safetensors");
}

#define BAD(spec_, ...)                                                                            \
    do {                                                                                           \
        write_file(path, &(spec_));                                                                \
        expect_bad(path, &o, (const char *const[]){__VA_ARGS__, NULL});                            \
    } while (0)

START_TEST(test_bad_files)
{
    const char *path = tmp_path("bad.h5");
    static const double ta[] = {0.1, 0.2}, tb[] = {0.3};
    static const long ua[] = {1, 2}, ub[] = {3}, u700[] = {1, 700}, uneg[] = {-1};
    static const double tneg[] = {0.1, -0.001}, tnan[] = {NAN}, tinf[] = {INFINITY};
    const double *times[2] = {ta, tb};
    const long *units[2] = {ua, ub};
    const int n[2] = {2, 1}, n_short[2] = {2, 0};
    const long labels[2] = {0, 1}, neg_label[2] = {0, -3};
    struct shd_opts o = {.dt_ms = 10, .steps = 50};
#define OK_SPEC .n = 2, .times = times, .units = units, .n_times = n, .n_units = n, .labels = labels
    BAD(SPEC(OK_SPEC, .no_labels = true), "labels: missing dataset");
    BAD(SPEC(OK_SPEC, .no_units = true), "spikes/units: missing dataset");
    BAD(SPEC(OK_SPEC, .no_spikes = true), "spikes/times: missing", "no group \"spikes\"");
    BAD(SPEC(OK_SPEC, .time_type = I32), "spikes/times: expected a variable-length list of times",
        "got lists of integer");
    BAD(SPEC(OK_SPEC, .times_plain = true, .time_type = F32),
        "spikes/times: expected a variable-length list", "got a float dataset");
    BAD(SPEC(OK_SPEC, .units_float = true, .time_type = F32), "spikes/units: expected",
        "got lists of float");
    BAD(SPEC(OK_SPEC, .labels_float = true), "labels: expected one integer per sample");
    BAD(SPEC(OK_SPEC, .n_labels = 1), "labels: 1 labels for 2 samples");
    BAD(SPEC(OK_SPEC, .n_unit_rows = 1), "spikes/units: 1 samples, but spikes/times has 2");
    BAD(SPEC(.n = 2, .times = times, .units = units, .n_times = n, .n_units = n_short,
             .labels = labels),
        "spikes/units: sample 1: 0 units for 1 times");
    units[1] = u700;
    const int n2[2] = {2, 2};
    times[1] = ta;
    BAD(SPEC(.n = 2, .times = times, .units = units, .n_times = n2, .n_units = n2,
             .labels = labels),
        "spikes/units: sample 1, spike 1: unit 700 is not a channel (0 to 699)");
    units[1] = uneg;
    times[1] = tb;
    BAD(SPEC(OK_SPEC), "spikes/units: sample 1, spike 0: unit -1 is not a channel");
    units[1] = ub;
    times[0] = tneg;
    BAD(SPEC(OK_SPEC, .time_type = F32), "spikes/times: sample 0, spike 1:", "is negative");
    times[0] = ta;
    times[1] = tnan;
    BAD(SPEC(OK_SPEC, .time_type = F32), "spikes/times: sample 1, spike 0:", "not a number");
    times[1] = tinf;
    BAD(SPEC(OK_SPEC, .time_type = F16), "spikes/times: sample 1, spike 0:", "infinite");
    times[1] = tb;
    BAD(SPEC(.n = 2, .times = times, .units = units, .n_times = n, .n_units = n,
             .labels = neg_label),
        "labels: sample 1: label -3 is negative");
    o.classes = 1;
    BAD(SPEC(OK_SPEC), "labels: sample 1: label 1 is outside the 1 classes (0 to 0)");
    o.classes = 0;
    FILE *f = fopen(path, "w");
    fputs("not hdf5\n", f);
    fclose(f);
    expect_bad(path, &o, (const char *const[]){"not an HDF5 file", NULL});
    expect_bad(tmp_path("missing.h5"), &o, (const char *const[]){"cannot read", NULL});
    /* a file that is fine converts */
    write_file(path, &SPEC(OK_SPEC));
    struct trl_errors err;
    ck_assert_int_eq(shd_convert(path, &o, tmp_path("good.safetensors"), NULL, &err), 0);
}
END_TEST

static void expect_cli(int status, const char *const *argv, const char *want)
{
    struct cli_result r = cli_run(NULL, argv);
    ck_assert_msg(r.status == status, "%s: exit %d, expected %d\nstdout: %s\nstderr: %s", argv[0],
                  r.status, status, r.out, r.err);
    if (want)
        ck_assert_msg(strstr(r.out, want) || strstr(r.err, want), "expected \"%s\" in\n%s%s", want,
                      r.out, r.err);
    cli_result_free(&r);
}

START_TEST(test_cli)
{
    const char *path = three_samples("cli.h5"), *out = tmp_path("cli.safetensors");
    expect_cli(0, (const char *const[]){"data", "shd",       path, "--dt",
                                        "10",   "--steps",   "4",  "--loss-steps",
                                        "2",    "--classes", "4",  "--offset",
                                        "1",    "--limit",   "2",  "--input",
                                        "x",    "-o",        out,  NULL},
               "2 samples x 4 steps of 10 ms x 700 channels, 4 classes");
    struct trl_errors err;
    struct st_file *f = st_open(out, &err);
    ck_assert_ptr_nonnull(f);
    const struct st_tensor *x = st_find(f, "x"), *t = st_find(f, "target"), *m = st_find(f, "mask");
    ck_assert(x && t && m);
    ck_assert_int_eq(x->shape[0], 2);
    ck_assert_int_eq(x->shape[2], 700);
    ck_assert_int_eq(t->shape[2], 4);
    ck_assert_int_eq(m->ndim, 2);
    st_close(f);
    /* a bad file: exit 1, the file and the dataset named, no output */
    const char *bad = tmp_path("cli-bad.h5"), *bout = tmp_path("cli-bad.safetensors");
    static const double tt[] = {0.1};
    static const long uu[] = {900};
    const double *times[1] = {tt};
    const long *units[1] = {uu};
    const int n[1] = {1};
    const long labels[1] = {0};
    write_file(bad, &SPEC(.n = 1, .times = times, .units = units, .n_times = n, .n_units = n,
                          .labels = labels));
    expect_cli(
        1,
        (const char *const[]){"data", "shd", bad, "--dt", "10", "--steps", "4", "-o", bout, NULL},
        "cli-bad.h5: spikes/units: sample 0, spike 0: unit 900");
    expect_no_file("cli-bad.safetensors");
    expect_cli(2, (const char *const[]){"data", "shd", path, "--steps", "4", "-o", bout, NULL},
               "--dt MS");
    expect_cli(2, (const char *const[]){"data", "shd", path, "--dt", "10", "-o", bout, NULL},
               "--steps T");
    expect_cli(2,
               (const char *const[]){"data", "shd", path, "--dt", "10", "--steps", "4",
                                     "--loss-steps", "5", "-o", bout, NULL},
               "--loss-steps 5 is more than the 4 --steps");
    expect_cli(2,
               (const char *const[]){"data", "shd", path, "--dt", "10", "--steps", "4", "--offset",
                                     "7", "-o", bout, NULL},
               "past the file's 3 samples");
    expect_cli(2, (const char *const[]){"data", "shd", path, "--dt", "10", "--stepz", "4", NULL},
               "unknown option");
    static const char *const options[] = {"--dt",         "--steps",  "--input", "--classes",
                                          "--loss-steps", "--offset", "--limit", "-o"};
    for (int i = 0; i < 8; i++)
        expect_cli(0, (const char *const[]){"data", "shd", "--help", NULL}, options[i]);
    expect_cli(0, (const char *const[]){"data", "--help", NULL}, "trellis data shd FILE.h5");
}
END_TEST

/* A learnable file written here: class c fires channels 100 c .. 100 c + 49
 * during steps 5-25, over sparse noise; 4 classes. */
static void learnable_file(const char *path, int n_samples)
{
    double **times = calloc((size_t)n_samples, sizeof *times);
    long **units = calloc((size_t)n_samples, sizeof *units);
    int *n = calloc((size_t)n_samples, sizeof *n);
    long *labels = calloc((size_t)n_samples, sizeof *labels);
    unsigned seed = 7;
    for (int i = 0; i < n_samples; i++) {
        labels[i] = i % 4;
        n[i] = 400;
        times[i] = malloc(400 * sizeof **times);
        units[i] = malloc(400 * sizeof **units);
        for (int k = 0; k < 400; k++) {
            bool noise = k % 4 == 0;
            times[i][k] =
                noise ? (rand_r(&seed) % 300) / 1000.0 : (50 + rand_r(&seed) % 200) / 1000.0;
            units[i][k] = noise ? rand_r(&seed) % 700 : 100 * labels[i] + rand_r(&seed) % 50;
        }
    }
    write_file(path, &SPEC(.n = n_samples, .times = (const double *const *)times,
                           .units = (const long *const *)units, .n_times = n, .n_units = n,
                           .labels = labels, .time_type = F32));
    for (int i = 0; i < n_samples; i++) {
        free(times[i]);
        free(units[i]);
    }
    free(times);
    free(units);
    free(n);
    free(labels);
}

/* The loss of the first and the last line of a train --log CSV. */
static void first_last_loss(const char *csv, double *first, double *last)
{
    FILE *f = fopen(csv, "r");
    ck_assert_ptr_nonnull(f);
    char line[4096];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    int col = 0;
    for (char *p = strtok(line, ","); p && strncmp(p, "loss", 4) != 0; p = strtok(NULL, ",")) col++;
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        char *p = strtok(line, ",");
        for (int c = 0; c < col && p; c++) p = strtok(NULL, ",");
        ck_assert_ptr_nonnull(p);
        *(rows++ ? last : first) = strtod(p, NULL);
    }
    fclose(f);
    ck_assert_int_ge(rows, 2);
}

START_TEST(test_cli_train)
{
    const char *h5 = tmp_path("learn.h5"), *data = tmp_path("learn.safetensors");
    const char *gr = tmp_path("learn.json"), *p = tmp_path("learn-p.safetensors");
    const char *log = tmp_path("learn.csv");
    learnable_file(h5, 32);
    FILE *f = fopen(gr, "w");
    fputs("{\"trellis\": 1, \"dt\": 10, \"nodes\": ["
          "{\"id\": \"in\", \"op\": \"input\", \"size\": 700},"
          "{\"id\": \"h\", \"op\": \"lif\", \"size\": 16, \"inputs\": [{\"from\": \"in\", "
          "\"gain\": 3}, {\"from\": \"h\", \"delay\": 1}]},"
          "{\"id\": \"y\", \"op\": \"readout\", \"size\": 4, \"inputs\": [\"h\"]}],"
          "\"loss\": {\"node\": \"y\", \"type\": \"cross_entropy\"}}",
          f);
    fclose(f);
    expect_cli(0,
               (const char *const[]){"data", "shd", h5, "--dt", "10", "--steps", "30",
                                     "--loss-steps", "10", "-o", data, NULL},
               "32 samples x 30 steps");
    expect_cli(0,
               (const char *const[]){"train", gr, "--data", data, "--algo", "bptt", "--iters", "30",
                                     "--batch", "16", "--lr", "0.01", "--quiet", "--log", log, "-o",
                                     p, NULL},
               NULL);
    double first = 0, last = 0;
    first_last_loss(log, &first, &last);
    ck_assert_msg(last < 0.7 * first, "loss %g -> %g: did not go down", first, last);
}
END_TEST

/* A file as h5py writes it (tools/shd_synth.py; float16 times, uint16 units
 * and labels), converted by the command line. */
START_TEST(test_h5py_file)
{
    const char *h5 = tmp_path("synth.h5"), *out = tmp_path("synth.safetensors");
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 tools/shd_synth.py %s --samples 12 --classes 20 >/dev/null", h5);
    ck_assert_msg(system(cmd) == 0, "%s failed (python3-h5py installed?)", cmd);
    expect_cli(
        0,
        (const char *const[]){"data", "shd", h5, "--dt", "10", "--steps", "100", "-o", out, NULL},
        "12 samples x 100 steps of 10 ms x 700 channels");
    struct shd_opts o = {.dt_ms = 10, .steps = 100};
    struct shd_stats s;
    struct trl_errors err;
    struct shd_file *f = shd_open(h5, &err);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(shd_plan(f, &o, &s, &err), 0);
    ck_assert_int_le(s.classes, 20);
    trl_real *x = calloc(100 * SHD_CHANNELS, sizeof *x);
    ck_assert_int_eq(shd_bin(f, &o, 0, x, &s, &err), 0);
    ck_assert_int_gt(s.spikes, 500);
    free(x);
    shd_close(f);
}
END_TEST

static Suite *shd_suite(void)
{
    Suite *s = suite_create("shd");
    TCase *tc = tcase_create("reader");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_binning);
    tcase_add_test(tc, test_precision);
    tcase_add_test(tc, test_targets_masks);
    tcase_add_test(tc, test_convert_and_load);
    tcase_add_test(tc, test_bad_files);
    suite_add_tcase(s, tc);
    tc = tcase_create("cli");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_cli);
    tcase_add_test(tc, test_cli_train);
    tcase_add_test(tc, test_h5py_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (tu_tmp_init("shd")) return 1;
    int failed = tu_run_suite(shd_suite(), true);
    if (tu_tmp_remove()) failed++;
    return failed ? 1 : 0;
}
