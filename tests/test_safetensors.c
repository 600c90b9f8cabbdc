/* test_safetensors.c - unit tests of io/safetensors.c (SPEC section 4).
 *
 * Built twice, with trl_real float and double. Covers:
 *   - round trips through st_write and st_open (values bit for bit, names,
 *     shapes, order, scalars, empty tensors, metadata), the exact bytes the
 *     writer produces, and reading F32 and F64 files in either precision;
 *   - the fixtures written by Python (tests/fixtures/<case>/), read from the
 *     top folder, as `make check` runs the tests;
 *   - one test per malformed-file rule, each asserting that st_open and
 *     st_open_buffer refuse the file with a message holding the key words;
 *   - every truncation of a small valid file, thousands of random buffers,
 *     random JSON headers and random mutations of a valid file: each must be
 *     refused with an error or accepted with in-bounds tensors (ASan/UBSan
 *     check the reads);
 *   - the writer's failures (missing or read-only folder, destination that is
 *     a folder, a file size limit hit in the middle, invalid input): no file
 *     is left behind and an existing destination keeps its bytes.
 * Files go to a fresh folder under /tmp, removed at the end.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "tests/support/st_build.h"
#include "tests/support/testutil.h"

#ifdef TRL_F64
#define NATIVE ST_F64
#else
#define NATIVE ST_F32
#endif

static char g_tmp[256]; /* the test folder, made in main */

/* ---- helpers ---------------------------------------------------------- */

static void tpath(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", g_tmp, name);
}

/* A new empty folder g_tmp/name; its path in out. */
static void fresh_dir(char *out, size_t cap, const char *name)
{
    tpath(out, cap, name);
    ck_assert_msg(mkdir(out, 0777) == 0, "mkdir %s: %s", out, strerror(errno));
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    ck_assert_ptr_nonnull(d);
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st)) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        chmod(path, 0700);
        for (struct dirent *e; d && (e = readdir(d));) {
            char sub[1024];
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            remove_tree(sub);
        }
        if (d) closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Every stored error, printed, for failure messages (static buffer). */
static const char *errors_text(const struct trl_errors *err)
{
    static char text[8192];
    FILE *fp = fmemopen(text, sizeof text, "w");
    if (!fp) return "(fmemopen failed)";
    trl_errors_print(err, fp);
    fclose(fp);
    text[sizeof text - 1] = '\0';
    return text;
}

/* Some error has path `path` (any when NULL) and a message holding w1 and w2. */
static int has_error(const struct trl_errors *err, const char *path, const char *w1, const char *w2)
{
    for (int i = 0; i < err->n; i++) {
        const struct trl_error_entry *e = &err->e[i];
        if (path && strcmp(e->path, path)) continue;
        if (w1 && !strstr(e->msg, w1)) continue;
        if (w2 && !strstr(e->msg, w2)) continue;
        return 1;
    }
    return 0;
}

/* Both readers refuse the bytes with an error at `path` holding w1 and w2. */
static void expect_reject_bytes(const unsigned char *b, size_t n, const char *path, const char *w1,
                                const char *w2)
{
    struct trl_errors err;
    char file[512];
    struct st_file *f = st_open_buffer(b, n, "mem.safetensors", &err);
    ck_assert_msg(f == NULL, "accepted a file that should fail with \"%s\"", w1);
    ck_assert_int_ge(err.n, 1);
    ck_assert_str_eq(err.file, "mem.safetensors");
    ck_assert_msg(has_error(&err, path, w1, w2), "expected \"%s\" \"%s\" at \"%s\"; got:\n%s", w1,
                  w2 ? w2 : "", path ? path : "", errors_text(&err));

    tpath(file, sizeof file, "reject.safetensors");
    ck_assert_int_eq(stb_write_file(file, b, n), 0);
    f = st_open(file, &err);
    ck_assert_msg(f == NULL, "st_open accepted a file that should fail with \"%s\"", w1);
    ck_assert_str_eq(err.file, file);
    ck_assert_msg(has_error(&err, path, w1, w2), "st_open: expected \"%s\"; got:\n%s", w1,
                  errors_text(&err));
    unlink(file);
}

/* A file with this header (length field = its length) and data_len zero bytes. */
static void expect_reject(const char *header, size_t data_len, const char *path, const char *w1,
                          const char *w2)
{
    size_t n;
    unsigned char *b = stb_bytes(header, data_len, &n);
    ck_assert_ptr_nonnull(b);
    expect_reject_bytes(b, n, path, w1, w2);
    free(b);
}

static struct st_file *open_ok(const unsigned char *b, size_t n)
{
    struct trl_errors err;
    struct st_file *f = st_open_buffer(b, n, "mem.safetensors", &err);
    ck_assert_msg(f != NULL, "refused a valid file:\n%s", errors_text(&err));
    ck_assert_int_eq(err.n, 0);
    return f;
}

static struct st_file *open_header_ok(const char *header, const void *data, size_t data_len)
{
    size_t n, hlen = strlen(header);
    unsigned char *b = stb_raw(hlen, header, hlen, data, data_len, &n);
    ck_assert_ptr_nonnull(b);
    struct st_file *f = open_ok(b, n);
    free(b);
    return f;
}

static unsigned char *read_all(const char *path, size_t *n)
{
    unsigned char *b = stb_read_file(path, n);
    ck_assert_msg(b != NULL, "cannot read %s", path);
    return b;
}

static void write_ok(const char *path, const struct st_out *t, int n, const char *const *meta)
{
    struct trl_errors err;
    int rc = st_write(path, t, n, meta, &err);
    ck_assert_msg(rc == 0, "st_write failed:\n%s", errors_text(&err));
}

static size_t elem_size(enum st_dtype d)
{
    return d == ST_F32 ? 4 : 8;
}

/* An accepted file keeps every tensor inside its buffer, tiling the data
 * section in order; each tensor reads and is found by name. */
static void check_accepted(const struct st_file *f)
{
    const unsigned char *end = f->buf + f->size;
    size_t total = 0;
    const unsigned char *next = NULL;
    for (int i = 0; i < f->n; i++) {
        const struct st_tensor *t = &f->tensors[i];
        const unsigned char *raw = t->raw;
        size_t bytes = t->count * elem_size(t->dtype);
        ck_assert(raw >= f->buf + 8 && raw <= end && bytes <= (size_t)(end - raw));
        if (next) ck_assert(raw == next);
        next = raw + bytes;
        total += bytes;
        ck_assert(t->ndim >= 0 && t->ndim <= ST_MAX_DIMS);
        ck_assert_ptr_eq(st_find(f, t->name), t);
        trl_real *v = malloc((t->count ? t->count : 1) * sizeof *v);
        ck_assert_ptr_nonnull(v);
        long bad = st_read_real(t, v);
        ck_assert(bad >= -1 && bad < (long)t->count);
        free(v);
    }
    if (f->n) ck_assert(next == end);
    ck_assert(total <= f->size);
}

/* Opens bytes that may be anything: refused with an error, or accepted whole. */
static void open_any(const unsigned char *b, size_t n)
{
    struct trl_errors err;
    struct st_file *f = st_open_buffer(b, n, "fuzz", &err);
    if (f) {
        ck_assert_int_eq(err.n, 0);
        check_accepted(f);
        st_close(f);
    } else {
        ck_assert_int_ge(err.n, 1);
        ck_assert(err.e[0].msg[0] != '\0');
    }
}

static uint64_t rng_state;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A small valid file made by st_write: metadata, a matrix, a scalar, a vector. */
static unsigned char *small_valid_file(size_t *n)
{
    static const trl_real w[6] = {1, -2, 3.5, 0.25, -0.125, 8};
    static const trl_real s[1] = {42};
    static const trl_real b[3] = {0.5, 1.5, -7};
    const struct st_out t[] = {
        {.name = "w", .ndim = 2, .shape = {2, 3}, .data = w},
        {.name = "loss", .ndim = 0, .data = s},
        {.name = "b", .ndim = 1, .shape = {3}, .data = b},
    };
    const char *const meta[] = {"format", "pt", NULL};
    char path[512];
    tpath(path, sizeof path, "small.safetensors");
    write_ok(path, t, 3, meta);
    unsigned char *bytes = read_all(path, n);
    unlink(path);
    return bytes;
}

/* ---- round trips ------------------------------------------------------ */

START_TEST(test_round_trip)
{
    trl_real a[6], b[4], c[1] = {-0.0};
    for (int i = 0; i < 6; i++) a[i] = (trl_real)(i * 0.375 - 1.25);
    for (int i = 0; i < 4; i++) b[i] = (trl_real)(1e-30 * (i + 1)) - (trl_real)(i * 1e20);
    const struct st_out out[] = {
        {.name = "w", .ndim = 2, .shape = {2, 3}, .data = a},
        {.name = "b", .ndim = 1, .shape = {4}, .data = b},
        {.name = "c.d.e", .ndim = 3, .shape = {1, 1, 1}, .data = c},
    };
    char path[512];
    struct trl_errors err;
    tpath(path, sizeof path, "round.safetensors");
    write_ok(path, out, 3, NULL);
    struct st_file *f = st_open(path, &err);
    ck_assert_msg(f != NULL, "%s", errors_text(&err));
    ck_assert_str_eq(f->path, path);
    ck_assert_int_eq(f->n, 3);
    ck_assert_ptr_null(f->meta);
    for (int i = 0; i < 3; i++) {
        const struct st_tensor *t = &f->tensors[i];
        trl_real got[6];
        ck_assert_str_eq(t->name, out[i].name); /* offset order = order written */
        ck_assert_int_eq(t->dtype, NATIVE);
        ck_assert_int_eq(t->ndim, out[i].ndim);
        for (int d = 0; d < t->ndim; d++) ck_assert_int_eq(t->shape[d], out[i].shape[d]);
        ck_assert_uint_eq(t->count, i == 0 ? 6 : i == 1 ? 4 : 1);
        ck_assert_int_eq(st_read_real(t, got), -1);
        ck_assert(memcmp(got, out[i].data, t->count * sizeof *got) == 0); /* bit for bit, -0 too */
    }
    ck_assert_ptr_null(st_find(f, "missing"));
    ck_assert_ptr_null(st_find(f, "c.d"));
    st_close(f);
    unlink(path);
}
END_TEST

START_TEST(test_scalars_and_empty)
{
    const trl_real loss = (trl_real)3.25, one = 1;
    const struct st_out out[] = {
        {.name = "loss", .ndim = 0, .data = &loss},
        {.name = "none", .ndim = 1, .shape = {0}, .data = NULL},
        {.name = "none2", .ndim = 2, .shape = {3, 0}, .data = NULL},
        {.name = "one", .ndim = 0, .data = &one},
    };
    char path[512];
    size_t n;
    tpath(path, sizeof path, "scalar.safetensors");
    write_ok(path, out, 4, NULL);
    unsigned char *bytes = read_all(path, &n);
    ck_assert_ptr_nonnull(strstr((const char *)bytes + 8, "\"shape\":[],"));
    struct st_file *f = open_ok(bytes, n);
    const struct st_tensor *t = st_find(f, "loss");
    trl_real v[2] = {0, 0};
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->ndim, 0);
    ck_assert_uint_eq(t->count, 1);
    ck_assert_int_eq(st_read_real(t, v), -1);
    ck_assert(v[0] == loss);
    t = st_find(f, "none2");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->ndim, 2);
    ck_assert_uint_eq(t->count, 0);
    ck_assert_int_eq(st_read_real(t, v), -1);
    ck_assert_uint_eq(st_find(f, "none")->count, 0);
    ck_assert_uint_eq(st_find(f, "one")->count, 1);
    ck_assert_uint_eq(n, 8 + (size_t)(bytes[0] | bytes[1] << 8) + 2 * sizeof(trl_real));
    st_close(f);
    free(bytes);
    unlink(path);
}
END_TEST

START_TEST(test_empty_file_of_tensors)
{
    static const unsigned char want[] = {8,   0,   0,   0,   0,   0,   0,   0,
                                         '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    char path[512];
    size_t n;
    tpath(path, sizeof path, "empty.safetensors");
    write_ok(path, NULL, 0, NULL);
    unsigned char *bytes = read_all(path, &n);
    ck_assert_uint_eq(n, sizeof want);
    ck_assert(memcmp(bytes, want, n) == 0);
    struct st_file *f = open_ok(bytes, n);
    ck_assert_int_eq(f->n, 0);
    st_close(f);
    free(bytes);
    unlink(path);
}
END_TEST

START_TEST(test_metadata)
{
    const trl_real x[2] = {1, 2};
    const struct st_out out[] = {{.name = "x", .ndim = 1, .shape = {2}, .data = x}};
    const char *const meta[] = {"format", "pt", "trellis", "0.1 \"quoted\" \xc3\xa9", "", "", NULL};
    char path[512], path2[512];
    size_t n, n2;
    tpath(path, sizeof path, "meta.safetensors");
    tpath(path2, sizeof path2, "meta2.safetensors");
    write_ok(path, out, 1, meta);
    unsigned char *bytes = read_all(path, &n);
    ck_assert(memcmp(bytes + 8, "{\"__metadata__\":{\"format\":\"pt\",", 31) == 0); /* first */
    struct st_file *f = open_ok(bytes, n);
    ck_assert_int_eq(f->n_meta, 3);
    ck_assert_str_eq(st_meta(f, "format"), "pt");
    ck_assert_str_eq(st_meta(f, "trellis"), "0.1 \"quoted\" \xc3\xa9");
    ck_assert_str_eq(st_meta(f, ""), "");
    ck_assert_ptr_null(st_meta(f, "missing"));
    ck_assert_ptr_null(f->meta[6]);
    /* the list st_open gives is the list st_write takes: same bytes again */
    write_ok(path2, out, 1, (const char *const *)f->meta);
    unsigned char *bytes2 = read_all(path2, &n2);
    ck_assert_uint_eq(n, n2);
    ck_assert(memcmp(bytes, bytes2, n) == 0);
    st_close(f);
    free(bytes);
    free(bytes2);

    f = open_header_ok("{\"__metadata__\":{}}", NULL, 0);
    ck_assert_int_eq(f->n, 0);
    ck_assert_int_eq(f->n_meta, 0);
    ck_assert_ptr_null(st_meta(f, "format"));
    st_close(f);
    unlink(path);
    unlink(path2);
}
END_TEST

/* The writer's bytes, against a file written out by hand. */
START_TEST(test_byte_layout)
{
#ifdef TRL_F64
    static const unsigned char want[] =
        "\x88\0\0\0\0\0\0\0"
        "{\"__metadata__\":{\"k\":\"v\"},"
        "\"a\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]},"
        "\"s\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[16,24]}}  "
        "\0\0\0\0\0\0\xf0\x3f"  /* 1.0 */
        "\0\0\0\0\0\0\0\xc0"    /* -2.0 */
        "\0\0\0\0\0\0\xe0\x3f"; /* 0.5 */
#else
    static const unsigned char want[] =
        "\x88\0\0\0\0\0\0\0"
        "{\"__metadata__\":{\"k\":\"v\"},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[8,12]}}    "
        "\0\0\x80\x3f" /* 1.0 */
        "\0\0\0\xc0"   /* -2.0 */
        "\0\0\0\x3f";  /* 0.5 */
#endif
    const trl_real a[2] = {1, -2}, s = 0.5;
    const struct st_out out[] = {
        {.name = "a", .ndim = 1, .shape = {2}, .data = a},
        {.name = "s", .ndim = 0, .data = &s},
    };
    const char *const meta[] = {"k", "v", NULL};
    char path[512];
    size_t n;
    tpath(path, sizeof path, "layout.safetensors");
    write_ok(path, out, 2, meta);
    unsigned char *bytes = read_all(path, &n);
    ck_assert_uint_eq(n, sizeof want - 1);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(bytes[i] == want[i], "byte %zu: got 0x%02x, want 0x%02x", i, bytes[i],
                      want[i]);
    struct st_file *f = open_ok(want, sizeof want - 1);
    ck_assert_int_eq(f->n, 2);
    st_close(f);
    free(bytes);
    unlink(path);
}
END_TEST

START_TEST(test_deterministic)
{
    trl_real v[64];
    for (int i = 0; i < 64; i++) v[i] = (trl_real)sin(i * 0.7);
    const struct st_out out[] = {
        {.name = "z", .ndim = 3, .shape = {2, 4, 8}, .data = v},
        {.name = "a", .ndim = 1, .shape = {64}, .data = v},
    };
    const char *const meta[] = {"b", "2", "a", "1", NULL};
    char p1[512], p2[512];
    size_t n1, n2;
    tpath(p1, sizeof p1, "det1.safetensors");
    tpath(p2, sizeof p2, "det2.safetensors");
    write_ok(p1, out, 2, meta);
    write_ok(p2, out, 2, meta);
    unsigned char *b1 = read_all(p1, &n1), *b2 = read_all(p2, &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert(memcmp(b1, b2, n1) == 0);
    /* given order kept: z before a in the header and in the data */
    ck_assert(strstr((char *)b1 + 8, "\"z\"") < strstr((char *)b1 + 8, "\"a\":{"));
    ck_assert_uint_eq((b1[0] | (size_t)b1[1] << 8) % 8, 0); /* header padded to 8 */
    free(b1);
    free(b2);
    unlink(p1);
    unlink(p2);
}
END_TEST

/* An F64 tensor then an F32 tensor, the data at an odd offset (unaligned). */
START_TEST(test_mixed_dtypes_unaligned)
{
    const char *h = "{\"d\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]},"
                    "\"f\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}} ";
    unsigned char data[24];
    const double d[2] = {0.5, -1e-3};
    const float s[2] = {-2.25f, 1e30f};
    memcpy(data, d, 16);
    memcpy(data + 16, s, 8);
    ck_assert_uint_eq(strlen(h) % 2, 1);
    struct st_file *f = open_header_ok(h, data, sizeof data);
    trl_real v[2];
    const struct st_tensor *td = st_find(f, "d"), *tf = st_find(f, "f");
    ck_assert_int_eq(td->dtype, ST_F64);
    ck_assert_int_eq(tf->dtype, ST_F32);
    ck_assert_int_eq(st_read_real(td, v), -1);
    ck_assert(v[0] == (trl_real)0.5 && v[1] == (trl_real)-1e-3);
    ck_assert_int_eq(st_read_real(tf, v), -1);
    ck_assert(v[0] == (trl_real)-2.25f && v[1] == (trl_real)1e30f);
    st_close(f);
}
END_TEST

START_TEST(test_non_finite)
{
    const char *h64 = "{\"x\":{\"dtype\":\"F64\",\"shape\":[4],\"data_offsets\":[0,32]}}";
    const char *h32 = "{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}";
    double d[4] = {1, 2, NAN, INFINITY};
    float s[3] = {1, -INFINITY, NAN};
    trl_real v[4];
    struct st_file *f = open_header_ok(h64, d, sizeof d);
    ck_assert_int_eq(st_read_real(&f->tensors[0], v), 2);
    st_close(f);
    f = open_header_ok(h32, s, sizeof s);
    ck_assert_int_eq(st_read_real(&f->tensors[0], v), 1);
    st_close(f);
    /* finite doubles beyond float's range are infinite as trl_real = float */
    d[0] = 1;
    d[1] = -1e300;
    d[2] = 3.4028235e38; /* above FLT_MAX, but rounds to it */
    d[3] = 1e39;
    f = open_header_ok(h64, d, sizeof d);
    long bad = st_read_real(&f->tensors[0], v);
#ifdef TRL_F64
    ck_assert_int_eq(bad, -1);
#else
    ck_assert_int_eq(bad, 1);
    ck_assert(isinf(v[1]) && v[1] < 0);
    ck_assert(v[2] == FLT_MAX);
    ck_assert(isinf(v[3]) && v[3] > 0);
#endif
    st_close(f);
}
END_TEST

START_TEST(test_open_errors)
{
    char path[512], dir[512];
    struct trl_errors err;
    tpath(path, sizeof path, "does-not-exist.safetensors");
    ck_assert_ptr_null(st_open(path, &err));
    ck_assert_str_eq(err.file, path);
    ck_assert_msg(has_error(&err, NULL, "cannot open", strerror(ENOENT)), "%s", errors_text(&err));
    ck_assert_ptr_null(st_open(path, NULL)); /* err may be NULL */
    fresh_dir(dir, sizeof dir, "a-folder.safetensors");
    ck_assert_ptr_null(st_open(dir, &err));
    ck_assert_msg(has_error(&err, NULL, "not a regular file", NULL), "%s", errors_text(&err));
    rmdir(dir);
    ck_assert_ptr_null(st_open_buffer(NULL, 0, "nothing", &err));
    ck_assert(has_error(&err, NULL, "at least 8", NULL));
}
END_TEST

/* ---- files written by Python ------------------------------------------ */

static const struct {
    const char *name;
    int n;
} fixtures[] = {{"alif_adaptation", 9}, {"ce_masked", 4}, {"dag_skip", 18},
                {"deep_leaky3", 11},    {"lif_eprop", 4}, {"rnn_tanh", 5}};

START_TEST(test_fixture_params)
{
    char path[512];
    struct trl_errors err;
    snprintf(path, sizeof path, "tests/fixtures/%s/params.safetensors", fixtures[_i].name);
    struct st_file *f = st_open(path, &err);
    ck_assert_msg(f != NULL, "%s", errors_text(&err));
    ck_assert_int_eq(f->n, fixtures[_i].n);
    for (int i = 0; i < f->n; i++) {
        const struct st_tensor *t = &f->tensors[i];
        ck_assert_int_eq(t->dtype, ST_F64);
        ck_assert(t->ndim == 1 || t->ndim == 2);
        ck_assert_uint_eq(t->count, (size_t)t->shape[0] * (size_t)(t->ndim == 2 ? t->shape[1] : 1));
    }
    check_accepted(f);
    /* written again by trellis and read back: the same names, shapes, values */
    char again[512];
    struct st_out *out = calloc((size_t)f->n, sizeof *out);
    trl_real **vals = calloc((size_t)f->n, sizeof *vals);
    ck_assert(out && vals);
    for (int i = 0; i < f->n; i++) {
        const struct st_tensor *t = &f->tensors[i];
        vals[i] = malloc(t->count * sizeof **vals);
        ck_assert_int_eq(st_read_real(t, vals[i]), -1);
        out[i] = (struct st_out){.name = t->name, .ndim = t->ndim, .data = vals[i]};
        memcpy(out[i].shape, t->shape, sizeof t->shape);
    }
    tpath(again, sizeof again, "again.safetensors");
    write_ok(again, out, f->n, NULL);
    struct st_file *g = st_open(again, &err);
    ck_assert_msg(g != NULL, "%s", errors_text(&err));
    ck_assert_int_eq(g->n, f->n);
    for (int i = 0; i < f->n; i++) {
        const struct st_tensor *t = st_find(g, f->tensors[i].name);
        trl_real *v = malloc(f->tensors[i].count * sizeof *v);
        ck_assert_ptr_nonnull(t);
        ck_assert_int_eq(t->ndim, f->tensors[i].ndim);
        ck_assert(memcmp(t->shape, f->tensors[i].shape, sizeof t->shape) == 0);
        ck_assert_int_eq(st_read_real(t, v), -1);
        ck_assert(memcmp(v, vals[i], t->count * sizeof *v) == 0);
        free(v);
        free(vals[i]);
    }
    free(vals);
    free(out);
    st_close(g);
    st_close(f);
    unlink(again);
}
END_TEST

START_TEST(test_fixture_rnn_tanh)
{
    static const struct {
        const char *name;
        int rows, cols;
        double first, last;
    } want[] = {
        {"rnn.b", 16, 0, 0.008756289197837944, 0.23112881699210613},
        {"rnn.w.rnn.d1", 16, 16, 0.20453977561897, 0.10234673540656154},
        {"rnn.w.x", 16, 3, -0.13750998854287244, -0.13898118526344114},
        {"y.b", 2, 0, -0.25560032326984283, 0.07807622941447988},
        {"y.w.rnn", 2, 16, 0.2411080458860358, -0.014138020616062855},
    };
    struct trl_errors err;
    struct st_file *f = st_open("tests/fixtures/rnn_tanh/params.safetensors", &err);
    ck_assert_msg(f != NULL, "%s", errors_text(&err));
    ck_assert_int_eq(f->n, 5);
    ck_assert_ptr_null(f->meta);
    for (int i = 0; i < 5; i++) {
        const struct st_tensor *t = &f->tensors[i];
        trl_real v[256];
        ck_assert_str_eq(t->name, want[i].name);
        ck_assert_int_eq(t->ndim, want[i].cols ? 2 : 1);
        ck_assert_int_eq(t->shape[0], want[i].rows);
        if (want[i].cols) ck_assert_int_eq(t->shape[1], want[i].cols);
        ck_assert_int_eq(st_read_real(t, v), -1);
        ck_assert(v[0] == (trl_real)want[i].first);
        ck_assert(v[t->count - 1] == (trl_real)want[i].last);
    }
    st_close(f);

    f = st_open("tests/fixtures/rnn_tanh/out.safetensors", &err);
    ck_assert_msg(f != NULL, "%s", errors_text(&err));
    const struct st_tensor *loss = st_find(f, "loss"), *y = st_find(f, "y");
    trl_real l;
    ck_assert(loss && y);
    ck_assert_int_eq(loss->ndim, 0);
    ck_assert_uint_eq(loss->count, 1);
    ck_assert_int_eq(st_read_real(loss, &l), -1);
    ck_assert(l == (trl_real)45.099661466009906);
    ck_assert_int_eq(y->ndim, 3);
    ck_assert(y->shape[0] == 3 && y->shape[1] == 40 && y->shape[2] == 2);
    st_close(f);
}
END_TEST

/* ---- malformed files: one rule per test ------------------------------- */

#define ENTRY_A "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}"

START_TEST(test_bad_short_file)
{
    static const unsigned char b[8] = {0};
    for (size_t n = 0; n < 8; n++) expect_reject_bytes(b, n, NULL, "at least 8", "header length");
}
END_TEST

START_TEST(test_bad_header_past_end)
{
    size_t n;
    unsigned char *b = stb_raw(1000, "{}", 2, NULL, 0, &n);
    expect_reject_bytes(b, n, NULL, "header length 1000", "past the end of the file");
    free(b);
    b = stb_raw(3, "{}", 2, NULL, 0, &n); /* one byte too many */
    expect_reject_bytes(b, n, NULL, "past the end of the file", NULL);
    free(b);
}
END_TEST

START_TEST(test_bad_header_too_large)
{
    size_t n;
    unsigned char *b = stb_raw(ST_MAX_HEADER + 1, "{}", 2, NULL, 0, &n);
    expect_reject_bytes(b, n, NULL, "exceeds the limit", NULL);
    free(b);
    b = stb_raw(UINT64_MAX, "{}", 2, NULL, 0, &n);
    expect_reject_bytes(b, n, NULL, "exceeds the limit", NULL);
    free(b);
}
END_TEST

START_TEST(test_bad_json)
{
    size_t n;
    expect_reject("{\"a\":", 0, NULL, "not valid JSON", "byte");
    expect_reject("", 0, NULL, "not valid JSON", NULL);
    expect_reject("{} x", 0, NULL, "not valid JSON", NULL);
    expect_reject("{\"a\":1,\"a\":2}", 0, NULL, "not valid JSON", "duplicate");
    expect_reject("{\"\xff\":1}", 0, NULL, "not valid JSON", NULL);       /* bad UTF-8 */
    expect_reject("{\"a\\u0000b\":{}}", 0, NULL, "not valid JSON", NULL); /* NUL in a name */
    unsigned char *b = stb_raw(4, "{\0}}", 4, NULL, 0, &n);               /* raw NUL */
    expect_reject_bytes(b, n, NULL, "not valid JSON", NULL);
    free(b);
    /* where: line and column of the header */
    struct trl_errors err;
    b = stb_bytes("{\n  \"a\": }", 0, &n);
    ck_assert_ptr_null(st_open_buffer(b, n, "x", &err));
    ck_assert_int_eq(err.e[0].line, 2);
    ck_assert_int_gt(err.e[0].col, 0);
    free(b);
}
END_TEST

START_TEST(test_bad_header_not_object)
{
    expect_reject("[1,2]", 0, NULL, "not a JSON object", "array");
    expect_reject("42", 0, NULL, "not a JSON object", "integer");
    expect_reject("\"text\"", 0, NULL, "not a JSON object", "string");
    expect_reject("null", 0, NULL, "not a JSON object", NULL);
}
END_TEST

START_TEST(test_bad_entry_not_object)
{
    expect_reject("{\"a\":[0,8]}", 8, "a", "must be an object", "array");
    expect_reject("{\"a\":\"F32\"}", 8, "a", "must be an object", "string");
}
END_TEST

START_TEST(test_bad_missing_key)
{
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "a", "missing key",
                  "data_offsets");
    expect_reject("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "a", "missing key",
                  "\"dtype\"");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "a", "missing key",
                  "\"shape\"");
    expect_reject("{\"a\":{}}", 8, "a", "missing key", NULL);
}
END_TEST

START_TEST(test_bad_extra_key)
{
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8,
                  "a", "unexpected key", "\"x\"");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"Shape\":[2],\"data_offsets\":[0,8]}}", 8, "a",
                  "unexpected key", "\"Shape\"");
}
END_TEST

START_TEST(test_bad_dtype_unknown)
{
    expect_reject("{\"a\":{\"dtype\":\"F128\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "a",
                  "unknown dtype", "F128");
    expect_reject("{\"a\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "a",
                  "unknown dtype", "F32 and F64");
    expect_reject("{\"a\":{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "a",
                  "dtype must be a string", NULL);
}
END_TEST

START_TEST(test_bad_dtype_unsupported)
{
    static const char *const dtypes[] = {
        "BOOL", "U8",  "I8",      "I16",     "U16",     "F16", "BF16",    "I32",     "U32",
        "I64",  "U64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4",  "F6_E2M3", "F6_E3M2", "C64",
    };
    for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++) {
        char header[256], msg[128];
        snprintf(header, sizeof header,
                 "{\"a\":{\"dtype\":\"%s\",\"shape\":[8],\"data_offsets\":[0,8]}}", dtypes[i]);
        snprintf(msg, sizeof msg, "dtype %s not supported; trellis reads F32 and F64", dtypes[i]);
        expect_reject(header, 8, "a", msg, NULL);
    }
}
END_TEST

START_TEST(test_bad_shape_not_array)
{
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8, "a",
                  "shape must be an array of non-negative integers", "integer");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":{},\"data_offsets\":[0,8]}}", 8, "a",
                  "shape must be an array", NULL);
}
END_TEST

START_TEST(test_bad_shape_element)
{
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "a",
                  "shape[0] is negative", "non-negative integers");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,2.0],\"data_offsets\":[0,8]}}", 8, "a",
                  "shape[1] is a real number", "non-negative integers");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8, "a",
                  "shape[0] is a string", NULL);
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[null],\"data_offsets\":[0,8]}}", 8, "a",
                  "shape[0] is null", NULL);
}
END_TEST

START_TEST(test_bad_shape_too_many_dims)
{
    expect_reject(
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]}}", 8, "a",
        "shape has 9 dimensions", "at most 8");
    /* eight is fine */
    struct st_file *f = open_header_ok(
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]}}",
        "\0\0\0\0\0\0\0", 8);
    ck_assert_int_eq(f->tensors[0].ndim, 8);
    st_close(f);
}
END_TEST

START_TEST(test_bad_shape_overflow)
{
    /* elements overflow size_t */
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,2],"
                  "\"data_offsets\":[0,8]}}",
                  8, "a", "too large", "overflows");
    /* elements fit, bytes do not */
    expect_reject("{\"a\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],"
                  "\"data_offsets\":[0,8]}}",
                  8, "a", "too large", "overflows");
    /* beyond JSON integers (jansson refuses it) */
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],"
                  "\"data_offsets\":[0,8]}}",
                  8, NULL, "not valid JSON", NULL);
    /* a zero anywhere makes the product 0, however large the rest */
    struct st_file *f = open_header_ok("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,"
                                       "4294967296,0],\"data_offsets\":[0,0]}}",
                                       NULL, 0);
    ck_assert_uint_eq(f->tensors[0].count, 0);
    st_close(f);
}
END_TEST

START_TEST(test_bad_offsets_form)
{
    static const char *const bad[] = {"[0]",     "[0,8,8]",   "8",  "[-1,7]", "[0,-8]",
                                      "[0.0,8]", "[\"0\",8]", "[]", "null"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char header[256];
        snprintf(header, sizeof header,
                 "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":%s}}", bad[i]);
        expect_reject(header, 8, "a", "data_offsets must be two non-negative integers", NULL);
    }
}
END_TEST

START_TEST(test_bad_offsets_begin_after_end)
{
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8, "a",
                  "[8, 4]", "begin is after end");
}
END_TEST

START_TEST(test_bad_offsets_size)
{
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,12]}}", 12, "a",
                  "span 12 bytes", "needs 8");
    expect_reject("{\"a\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "a",
                  "span 8 bytes", "needs 16");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,0]}}", 0, "a",
                  "needs 4", NULL);
}
END_TEST

START_TEST(test_bad_offsets_past_data)
{
    expect_reject("{" ENTRY_A "}", 4, "a", "past the end of the data section", "(4 bytes)");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[1000000,1000004]}}", 8,
                  "a", "past the end of the data section", NULL);
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],"
                  "\"data_offsets\":[9223372036854775807,9223372036854775807]}}",
                  0, "a", "past the end of the data section", NULL);
}
END_TEST

START_TEST(test_bad_overlap)
{
    expect_reject("{" ENTRY_A ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                  12, "b", "overlap", "\"a\"");
    /* the same span twice */
    expect_reject("{" ENTRY_A ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
                  NULL, "overlap", NULL);
    /* an empty tensor inside another */
    expect_reject("{" ENTRY_A ",\"b\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}", 8,
                  "b", "overlap", NULL);
}
END_TEST

START_TEST(test_bad_gap)
{
    expect_reject("{" ENTRY_A ",\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}",
                  16, "b", "bytes [8, 12)", "belong to no tensor");
    /* the first tensor must begin at 0 */
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "a",
                  "bytes [0, 4)", "belong to no tensor");
}
END_TEST

START_TEST(test_bad_not_covering)
{
    expect_reject("{" ENTRY_A "}", 12, NULL, "bytes [8, 12) at the end of the data section",
                  "cover it exactly");
    expect_reject("{}", 1, NULL, "bytes [0, 1) at the end of the data section", NULL);
    expect_reject("{\"__metadata__\":{\"a\":\"b\"}}", 8, NULL, "belong to no tensor", NULL);
    /* in any order of the entries: sorted by offset first; an empty tensor
     * where another begins ("z" at 0) goes before it, whatever its name */
    struct st_file *f =
        open_header_ok("{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}," ENTRY_A
                       ",\"e\":{\"dtype\":\"F64\",\"shape\":[0],\"data_offsets\":[12,12]},"
                       "\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}",
                       "\0\0\0\0\0\0\0\0\0\0\0", 12);
    ck_assert_int_eq(f->n, 4);
    ck_assert_str_eq(f->tensors[0].name, "z");
    ck_assert_str_eq(f->tensors[1].name, "a");
    ck_assert_str_eq(f->tensors[2].name, "b");
    ck_assert_str_eq(f->tensors[3].name, "e");
    st_close(f);
}
END_TEST

/* A header with n entries, each made by entry(i) into a growing buffer. */
static char *many_entries(int n, const char *fmt_entry)
{
    size_t cap = (size_t)n * 80 + 16, len = 1;
    char *h = malloc(cap);
    ck_assert_ptr_nonnull(h);
    h[0] = '{';
    for (int i = 0; i < n; i++) {
        len += (size_t)snprintf(h + len, cap - len, fmt_entry, i);
        if (i + 1 < n) h[len++] = ',';
    }
    h[len++] = '}';
    h[len] = '\0';
    return h;
}

START_TEST(test_bad_too_many_tensors)
{
    char *h = many_entries(ST_MAX_TENSORS + 1, "\"t%d\":0");
    expect_reject(h, 0, NULL, "100001 tensors", "at most 100000");
    free(h);
    /* the limit itself is fine, and __metadata__ does not count */
    h = many_entries(ST_MAX_TENSORS,
                     "\"t%d\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}");
    size_t len = strlen(h);
    memcpy(h + len - 1, ",\"__metadata__\":{}}", 20);
    struct st_file *f = open_header_ok(h, NULL, 0);
    ck_assert_int_eq(f->n, ST_MAX_TENSORS);
    ck_assert_ptr_nonnull(st_find(f, "t99999"));
    st_close(f);
    free(h);
}
END_TEST

START_TEST(test_bad_metadata_not_object)
{
    expect_reject("{\"__metadata__\":[\"a\",\"b\"]}", 0, "__metadata__",
                  "must be an object of strings", "array");
    expect_reject("{\"__metadata__\":\"x\"}", 0, "__metadata__", "must be an object of strings",
                  NULL);
}
END_TEST

START_TEST(test_bad_metadata_value)
{
    expect_reject("{\"__metadata__\":{\"a\":\"1\",\"b\":2}}", 0, "__metadata__",
                  "value of \"b\" is an integer", "must be strings");
    expect_reject("{\"__metadata__\":{\"a\":{\"b\":\"c\"}}}", 0, "__metadata__",
                  "value of \"a\" is an object", NULL);
    /* a tensor-like entry under the name __metadata__ is still metadata */
    expect_reject("{\"__metadata__\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0,
                  "__metadata__", "must be strings", NULL);
}
END_TEST

START_TEST(test_bad_empty_name)
{
    expect_reject("{\"\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, NULL,
                  "name is empty", NULL);
}
END_TEST

/* Errors of every entry are collected, like a compiler. */
START_TEST(test_bad_several_entries)
{
    struct trl_errors err;
    size_t n;
    unsigned char *b = stb_bytes("{\"a\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                                 "\"b\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[2,6]},"
                                 "\"c\":[]}",
                                 6, &n);
    ck_assert_ptr_null(st_open_buffer(b, n, "x", &err));
    ck_assert_int_eq(err.n, 3);
    ck_assert(has_error(&err, "a", "dtype I8 not supported", NULL));
    ck_assert(has_error(&err, "b", "negative", NULL));
    ck_assert(has_error(&err, "c", "must be an object", NULL));
    free(b);
}
END_TEST

/* ---- truncation and random input -------------------------------------- */

START_TEST(test_truncated)
{
    size_t n;
    char path[512];
    unsigned char *b = small_valid_file(&n);
    tpath(path, sizeof path, "trunc.safetensors");
    for (size_t len = 0; len <= n; len++) {
        struct trl_errors err;
        struct st_file *f = st_open_buffer(b, len, "mem", &err);
        ck_assert_int_eq(stb_write_file(path, b, len), 0);
        struct st_file *g = st_open(path, &err);
        if (len < n) {
            ck_assert_msg(f == NULL && g == NULL, "accepted %zu of %zu bytes", len, n);
            ck_assert_int_ge(err.n, 1);
        } else {
            ck_assert_msg(f && g, "refused the whole file: %s", errors_text(&err));
            check_accepted(f);
            ck_assert_str_eq(st_meta(g, "format"), "pt");
        }
        st_close(f);
        st_close(g);
    }
    /* and longer: any extra byte is data no tensor covers */
    unsigned char *longer = calloc(n + 8, 1);
    memcpy(longer, b, n);
    for (size_t extra = 1; extra <= 8; extra++)
        expect_reject_bytes(longer, n + extra, NULL, "belong to no tensor", NULL);
    free(longer);
    free(b);
    unlink(path);
}
END_TEST

START_TEST(test_random_bytes)
{
    unsigned char b[320];
    rng_state = 0x9e3779b97f4a7c15u;
    for (int iter = 0; iter < 4000; iter++) {
        size_t len = rng() % sizeof b;
        for (size_t i = 0; i < len; i++) b[i] = (unsigned char)rng();
        if (len >= 8 && iter % 3) { /* a length field that fits, to reach the JSON parser */
            uint64_t h = rng() % (len - 7);
            for (int i = 0; i < 8; i++) b[i] = (unsigned char)(h >> (8 * i));
            if (h && iter % 2) b[8] = '{';
        }
        open_any(b, len);
    }
}
END_TEST

/* Headers made of JSON-like tokens, to reach the entry and layout checks. */
START_TEST(test_random_headers)
{
    static const char *const tok[] = {
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"a\"",
        "\"b\"",
        "\"dtype\"",
        "\"shape\"",
        "\"data_offsets\"",
        "\"F32\"",
        "\"F64\"",
        "\"I64\"",
        "\"__metadata__\"",
        "0",
        "4",
        "8",
        "12",
        "16",
        "-1",
        "2",
        "1e3",
        "null",
        "\"\"",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
        "\"data_offsets\":[0,8]",
        "\"shape\":[2]",
        "\"dtype\":\"F32\"",
        "\"data_offsets\":[8,16]",
        "\"dtype\":\"F64\"",
        "\"shape\":[]"};
    char h[1024];
    rng_state = 12345;
    for (int iter = 0; iter < 4000; iter++) {
        size_t len = 0;
        int ntok = 1 + (int)(rng() % 40);
        if (iter % 2) len += (size_t)snprintf(h, sizeof h, "{\"a\":{");
        for (int t = 0; t < ntok; t++) {
            const char *s = tok[rng() % (sizeof tok / sizeof *tok)];
            if (len + strlen(s) + 1 >= sizeof h) break;
            memcpy(h + len, s, strlen(s));
            len += strlen(s);
        }
        h[len] = '\0';
        size_t n;
        unsigned char *b = stb_raw(len, h, len, NULL, rng() % 24, &n);
        open_any(b, n);
        free(b);
    }
}
END_TEST

START_TEST(test_random_mutations)
{
    size_t n;
    unsigned char *orig = small_valid_file(&n), *b = calloc(n + 16, 1);
    int accepted = 0;
    rng_state = 777;
    for (int iter = 0; iter < 6000; iter++) {
        size_t len = n;
        memcpy(b, orig, n);
        int k = 1 + (int)(rng() % 4);
        for (int m = 0; m < k; m++) {
            size_t at = rng() % n;
            switch (rng() % 4) {
            case 0:
                b[at] = (unsigned char)rng();
                break;
            case 1:
                b[at] ^= (unsigned char)(1u << (rng() % 8));
                break;
            case 2:
                b[at] = "0123456789[]{},:\" -.eF"[rng() % 22];
                break;
            default:
                len = at + rng() % 16;
                break; /* cut or extend */
            }
        }
        struct trl_errors err;
        struct st_file *f = st_open_buffer(b, len, "m", &err);
        if (f) {
            accepted++;
            check_accepted(f);
            st_close(f);
        } else {
            ck_assert_int_ge(err.n, 1);
        }
    }
    ck_assert_int_gt(accepted, 0); /* e.g. mutations inside the data section */
    free(orig);
    free(b);
}
END_TEST

/* ---- writing: failures leave nothing behind --------------------------- */

static const trl_real wvals[4] = {1, 2, 3, 4};
static const struct st_out wtensor[] = {{.name = "w", .ndim = 2, .shape = {2, 2}, .data = wvals}};

START_TEST(test_write_missing_folder)
{
    char path[512], parent[512];
    struct trl_errors err;
    tpath(parent, sizeof parent, "no-such-folder");
    tpath(path, sizeof path, "no-such-folder/x.safetensors");
    ck_assert_int_eq(st_write(path, wtensor, 1, NULL, &err), -1);
    ck_assert_str_eq(err.file, path);
    ck_assert_msg(has_error(&err, NULL, "cannot create temporary file", strerror(ENOENT)), "%s",
                  errors_text(&err));
    ck_assert_int_ne(access(path, F_OK), 0);
    ck_assert_int_ne(access(parent, F_OK), 0);
    ck_assert_int_eq(st_write(path, wtensor, 1, NULL, NULL), -1); /* err may be NULL */
}
END_TEST

START_TEST(test_write_read_only_folder)
{
    char dir[512], path[512];
    struct trl_errors err;
    fresh_dir(dir, sizeof dir, "read-only");
    tpath(path, sizeof path, "read-only/x.safetensors");
    ck_assert_int_eq(chmod(dir, 0555), 0);
    if (access(dir, W_OK) == 0) { /* root: permissions do not stop the write */
        ck_assert_int_eq(st_write(path, wtensor, 1, NULL, &err), 0);
        ck_assert_int_eq(count_entries(dir), 1);
    } else {
        ck_assert_int_eq(st_write(path, wtensor, 1, NULL, &err), -1);
        ck_assert_msg(has_error(&err, NULL, "cannot create", strerror(EACCES)), "%s",
                      errors_text(&err));
        ck_assert_int_eq(count_entries(dir), 0);
    }
    chmod(dir, 0700);
    remove_tree(dir);
}
END_TEST

/* The rename fails (the destination is a folder): the temporary goes. */
START_TEST(test_write_onto_folder)
{
    char dir[512], path[512];
    struct trl_errors err;
    fresh_dir(dir, sizeof dir, "onto");
    tpath(path, sizeof path, "onto/target");
    ck_assert_int_eq(mkdir(path, 0777), 0);
    ck_assert_int_eq(st_write(path, wtensor, 1, NULL, &err), -1);
    ck_assert_msg(has_error(&err, NULL, "is a folder", NULL), "%s", errors_text(&err));
    ck_assert_int_eq(count_entries(dir), 1);
    ck_assert_int_eq(count_entries(path), 0);
    remove_tree(dir);
}
END_TEST

/* A device is written in place: /dev/full reports the full disk, /dev/null
 * takes everything, and neither is replaced by a file. */
START_TEST(test_write_to_devices)
{
    struct trl_errors err;
    struct stat st;
    ck_assert_int_eq(st_write("/dev/full", wtensor, 1, NULL, &err), -1);
    ck_assert_msg(has_error(&err, NULL, "cannot write", strerror(ENOSPC)), "%s", errors_text(&err));
    ck_assert_int_eq(stat("/dev/full", &st), 0);
    ck_assert(S_ISCHR(st.st_mode));
    ck_assert_int_eq(st_write("/dev/null", wtensor, 1, NULL, &err), 0);
    ck_assert_int_eq(stat("/dev/null", &st), 0);
    ck_assert(S_ISCHR(st.st_mode));
}
END_TEST

/* A write that fails half way (file size limit): the old file stays. */
START_TEST(test_write_fails_midway)
{
    char dir[512], path[512];
    struct trl_errors err;
    struct rlimit old, lim;
    size_t n_before, n_after;
    static trl_real big[4096];
    const struct st_out t[] = {{.name = "big", .ndim = 1, .shape = {4096}, .data = big}};
    fresh_dir(dir, sizeof dir, "midway");
    tpath(path, sizeof path, "midway/p.safetensors");
    write_ok(path, wtensor, 1, NULL);
    unsigned char *before = read_all(path, &n_before);

    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 1024;
    ck_assert(old.rlim_max == RLIM_INFINITY || old.rlim_max >= 1024);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = st_write(path, t, 1, NULL, &err);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);

    ck_assert_int_eq(rc, -1);
    ck_assert_msg(has_error(&err, NULL, "cannot write", strerror(EFBIG)), "%s", errors_text(&err));
    ck_assert_int_eq(count_entries(dir), 1);
    unsigned char *after = read_all(path, &n_after);
    ck_assert_uint_eq(n_after, n_before);
    ck_assert(memcmp(before, after, n_before) == 0);
    free(before);
    free(after);
    remove_tree(dir);
}
END_TEST

START_TEST(test_write_replaces_on_success)
{
    char dir[512], path[512];
    struct trl_errors err;
    struct stat st;
    fresh_dir(dir, sizeof dir, "replace");
    tpath(path, sizeof path, "replace/p.safetensors");
    ck_assert_int_eq(stb_write_file(path, "old contents", 12), 0);
    write_ok(path, wtensor, 1, NULL);
    ck_assert_int_eq(count_entries(dir), 1);
    struct st_file *f = st_open(path, &err);
    ck_assert_msg(f != NULL, "%s", errors_text(&err));
    ck_assert_int_eq(f->n, 1);
    ck_assert_uint_eq(f->tensors[0].count, 4);
    st_close(f);
    /* permissions as a plain new file would get, not mkstemp's 0600 */
    mode_t mask = umask(022);
    write_ok(path, wtensor, 1, NULL);
    umask(mask);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0644);
    remove_tree(dir);
}
END_TEST

/* Bad input is refused before any file is made; the old file stays. */
START_TEST(test_write_bad_input)
{
    static const trl_real v[2] = {1, 2};
    static const struct {
        struct st_out t[2];
        int n;
        const char *meta[5];
        const char *word;
    } cases[] = {
        {{{.name = NULL, .ndim = 1, .shape = {2}, .data = v}}, 1, {NULL}, "non-empty"},
        {{{.name = "", .ndim = 1, .shape = {2}, .data = v}}, 1, {NULL}, "non-empty"},
        {{{.name = "__metadata__", .ndim = 1, .shape = {2}, .data = v}}, 1, {NULL}, "other than"},
        {{{.name = "a", .ndim = 1, .shape = {2}, .data = v},
          {.name = "a", .ndim = 1, .shape = {2}, .data = v}},
         2,
         {NULL},
         "appears twice"},
        {{{.name = "a", .ndim = -1, .data = v}}, 1, {NULL}, "ndim is -1"},
        {{{.name = "a", .ndim = 9, .shape = {1, 1, 1, 1, 1, 1, 1, 1}, .data = v}},
         1,
         {NULL},
         "ndim is 9"},
        {{{.name = "a", .ndim = 2, .shape = {2, -1}, .data = v}}, 1, {NULL}, "non-negative"},
        {{{.name = "a", .ndim = 2, .shape = {INT64_MAX, INT64_MAX}, .data = v}},
         1,
         {NULL},
         "fits in memory"},
        {{{.name = "a", .ndim = 1, .shape = {INT64_MAX / 2}, .data = v}},
         1,
         {NULL},
         "fits in memory"},
        {{{.name = "a", .ndim = 1, .shape = {2}, .data = NULL}}, 1, {NULL}, "data is NULL"},
        {{{.name = "a\xff", .ndim = 1, .shape = {2}, .data = v}}, 1, {NULL}, "UTF-8"},
        {{{.name = "a", .ndim = 1, .shape = {2}, .data = v}}, -1, {NULL}, "0 to 100000"},
        {{{.name = "a", .ndim = 1, .shape = {2}, .data = v}}, 1, {"k", NULL}, "has no value"},
        {{{.name = "a", .ndim = 1, .shape = {2}, .data = v}}, 1, {"k", "\xc3", NULL}, "UTF-8"},
        {{{.name = "a", .ndim = 1, .shape = {2}, .data = v}},
         1,
         {"k", "1", "k", "2", NULL},
         "appears twice"},
    };
    char dir[512], path[512];
    size_t n0;
    fresh_dir(dir, sizeof dir, "bad-input");
    tpath(path, sizeof path, "bad-input/p.safetensors");
    write_ok(path, wtensor, 1, NULL);
    unsigned char *before = read_all(path, &n0);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct trl_errors err;
        size_t n1;
        const char *const *meta = cases[i].meta[0] ? cases[i].meta : NULL;
        ck_assert_int_eq(st_write(path, cases[i].t, cases[i].n, meta, &err), -1);
        ck_assert_msg(has_error(&err, NULL, cases[i].word, NULL), "case %zu: %s", i,
                      errors_text(&err));
        ck_assert_int_eq(count_entries(dir), 1);
        unsigned char *after = read_all(path, &n1);
        ck_assert(n1 == n0 && memcmp(before, after, n0) == 0);
        free(after);
    }
    /* more than ST_MAX_TENSORS */
    struct trl_errors err;
    ck_assert_int_eq(st_write(path, wtensor, ST_MAX_TENSORS + 1, NULL, &err), -1);
    ck_assert(has_error(&err, NULL, "0 to 100000", NULL));
    free(before);
    remove_tree(dir);
}
END_TEST

/* ---- runner ----------------------------------------------------------- */

static Suite *safetensors_suite(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("read_write");
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_scalars_and_empty);
    tcase_add_test(tc, test_empty_file_of_tensors);
    tcase_add_test(tc, test_metadata);
    tcase_add_test(tc, test_byte_layout);
    tcase_add_test(tc, test_deterministic);
    tcase_add_test(tc, test_mixed_dtypes_unaligned);
    tcase_add_test(tc, test_non_finite);
    tcase_add_test(tc, test_open_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("fixtures");
    tcase_add_loop_test(tc, test_fixture_params, 0, (int)(sizeof fixtures / sizeof *fixtures));
    tcase_add_test(tc, test_fixture_rnn_tanh);
    suite_add_tcase(s, tc);

    tc = tcase_create("malformed");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_bad_short_file);
    tcase_add_test(tc, test_bad_header_past_end);
    tcase_add_test(tc, test_bad_header_too_large);
    tcase_add_test(tc, test_bad_json);
    tcase_add_test(tc, test_bad_header_not_object);
    tcase_add_test(tc, test_bad_entry_not_object);
    tcase_add_test(tc, test_bad_missing_key);
    tcase_add_test(tc, test_bad_extra_key);
    tcase_add_test(tc, test_bad_dtype_unknown);
    tcase_add_test(tc, test_bad_dtype_unsupported);
    tcase_add_test(tc, test_bad_shape_not_array);
    tcase_add_test(tc, test_bad_shape_element);
    tcase_add_test(tc, test_bad_shape_too_many_dims);
    tcase_add_test(tc, test_bad_shape_overflow);
    tcase_add_test(tc, test_bad_offsets_form);
    tcase_add_test(tc, test_bad_offsets_begin_after_end);
    tcase_add_test(tc, test_bad_offsets_size);
    tcase_add_test(tc, test_bad_offsets_past_data);
    tcase_add_test(tc, test_bad_overlap);
    tcase_add_test(tc, test_bad_gap);
    tcase_add_test(tc, test_bad_not_covering);
    tcase_add_test(tc, test_bad_too_many_tensors);
    tcase_add_test(tc, test_bad_metadata_not_object);
    tcase_add_test(tc, test_bad_metadata_value);
    tcase_add_test(tc, test_bad_empty_name);
    tcase_add_test(tc, test_bad_several_entries);
    suite_add_tcase(s, tc);

    tc = tcase_create("robustness");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_truncated);
    tcase_add_test(tc, test_random_bytes);
    tcase_add_test(tc, test_random_headers);
    tcase_add_test(tc, test_random_mutations);
    suite_add_tcase(s, tc);

    tc = tcase_create("write_failures");
    tcase_add_test(tc, test_write_missing_folder);
    tcase_add_test(tc, test_write_read_only_folder);
    tcase_add_test(tc, test_write_onto_folder);
    tcase_add_test(tc, test_write_to_devices);
    tcase_add_test(tc, test_write_fails_midway);
    tcase_add_test(tc, test_write_replaces_on_success);
    tcase_add_test(tc, test_write_bad_input);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    snprintf(g_tmp, sizeof g_tmp, "/tmp/trellis_st_XXXXXX");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    int failed = tu_run_suite(safetensors_suite(), true);
    remove_tree(g_tmp);
    return failed ? 1 : 0;
}
