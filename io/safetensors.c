/* safetensors.c - reading and writing safetensors files (SPEC section 4).
 *
 * Reading (st_open, st_open_buffer) keeps the whole file in one buffer;
 * st_open_stream keeps only the header and the open file. Both validate it in
 * this order, stopping at the first step that fails:
 *   1. the file holds the 8-byte little-endian header length N, N is at most
 *      ST_MAX_HEADER and the header fits in the file (st_open checks this on
 *      the first 8 bytes and fstat's size before it allocates anything);
 *   2. the header is JSON (jansson, duplicate keys rejected) and an object;
 *   3. every entry (errors are collected over all entries): a non-empty name,
 *      exactly the keys dtype, shape and data_offsets, dtype F32 or F64 (other
 *      safetensors dtypes are named as unsupported), at most ST_MAX_DIMS
 *      non-negative dimensions whose product and byte size do not overflow,
 *      data_offsets [begin, end] with end - begin = count * element size and
 *      end inside the data section; "__metadata__" is an object of strings;
 *   4. the tensors, sorted by offset, tile the data section exactly: the
 *      first begins at 0, each begins where the previous ended, the last ends
 *      at the end of the file.
 * Only then does a tensor get its `raw` pointer, so a file that is accepted
 * can be read without bounds checks. Values are copied with memcpy: they may
 * be unaligned in the buffer. A streamed file is read with pread, which
 * reports a file that shrank after it was checked as a short read.
 *
 * Writing (st_write, or st_writer_* for values made piece by piece) builds the header with jansson
 * (compact, keys in the given order, "__metadata__" first; integers only, so no locale enters),
 * pads it with spaces to a multiple of 8 bytes, and writes header and data to
 * "<path>.tmp.XXXXXX" in the destination's folder (io/atomic_file.h); after fflush, fsync and
 * fclose succeed it renames the temporary over path. Any failure unlinks the
 * temporary, so path is either the old file (or nothing) or the new one. A
 * destination that is a device or a pipe (/dev/null, /dev/full) is written in
 * place: a write error (ENOSPC) is reported, and the device is not replaced.
 *
 * Data is copied to and from the host's float and double, so the host must
 * be little-endian with IEEE 754 binary32/binary64: checked at compile time.
 */
#include "io/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "core/alloc.h"
#include "io/atomic_file.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c copies little-endian file data with memcpy: it needs a little-endian host"
#endif
#if defined(__FLOAT_WORD_ORDER__) && __FLOAT_WORD_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c needs doubles stored little-endian"
#endif
_Static_assert(sizeof(float) == 4 && FLT_MANT_DIG == 24 && FLT_MAX_EXP == 128,
               "F32 must be IEEE 754 binary32");
_Static_assert(sizeof(double) == 8 && DBL_MANT_DIG == 53 && DBL_MAX_EXP == 1024,
               "F64 must be IEEE 754 binary64");

#define ST_LEN_BYTES 8 /* the header length field */

/* Safetensors dtypes other than F32 and F64: known, but not read. */
static const char *const st_other_dtypes[] = {
    "BOOL",    "F4",      "F6_E2M3",     "F6_E3M2",     "U8",  "I8",  "F8_E5M2",
    "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16", "U16", "F16",
    "BF16",    "I32",     "U32",         "C64",         "I64", "U64",
};

static size_t st_dtype_size(enum st_dtype d)
{
    return d == ST_F32 ? 4 : 8;
}

static size_t st_nbytes(const struct st_tensor *t)
{
    return t->count * st_dtype_size(t->dtype); /* checked for overflow when parsed */
}

static uint64_t st_get_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = ST_LEN_BYTES - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static void st_put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < ST_LEN_BYTES; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static char *st_strdup(const char *s)
{
    size_t len = strlen(s);
    char *d = trl_alloc(len + 1, 1, TRL_MEM_MISC);
    if (d) memcpy(d, s, len + 1);
    return d;
}

/* The kind of a JSON value, for messages. */
static const char *st_json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a real number";
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    default:
        return "null";
    }
}

/* ---- reading ---------------------------------------------------------- */

/* Step 1 on the first min(size, 8) bytes of a file of `size` bytes. */
static int st_check_prefix(const unsigned char *head, size_t size, size_t *hlen,
                           struct trl_errors *err)
{
    if (size < ST_LEN_BYTES) {
        trl_errors_add(err, NULL,
                       "file is %zu bytes; a safetensors file needs at least 8 (the header "
                       "length)",
                       size);
        return -1;
    }
    uint64_t n = st_get_le64(head);
    if (n > ST_MAX_HEADER) {
        trl_errors_add(err, NULL, "header length %llu exceeds the limit of %zu bytes",
                       (unsigned long long)n, ST_MAX_HEADER);
        return -1;
    }
    if (n > size - ST_LEN_BYTES) {
        trl_errors_add(err, NULL,
                       "header length %llu runs past the end of the file (%zu bytes follow the "
                       "length field)",
                       (unsigned long long)n, size - ST_LEN_BYTES);
        return -1;
    }
    *hlen = (size_t)n;
    return 0;
}

static json_t *st_load_header(const unsigned char *text, size_t len, struct trl_errors *err)
{
    json_error_t jerr;
    json_t *root =
        json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!root) {
        trl_errors_add_at(err, jerr.line > 0 ? jerr.line : 1, jerr.column > 0 ? jerr.column : 1,
                          "header is not valid JSON: %s (at byte %d of the header, which starts "
                          "at byte 8)",
                          jerr.text, jerr.position);
        return NULL;
    }
    if (!json_is_object(root)) {
        trl_errors_add(err, NULL, "header is not a JSON object (got %s)", st_json_kind(root));
        json_decref(root);
        return NULL;
    }
    return root;
}

static int st_parse_meta(struct st_file *f, json_t *meta, struct trl_errors *err)
{
    const char *key;
    json_t *v;
    int bad = 0;
    if (!json_is_object(meta)) {
        trl_errors_add(err, "__metadata__", "__metadata__ must be an object of strings (got %s)",
                       st_json_kind(meta));
        return -1;
    }
    f->meta = trl_alloc(2 * json_object_size(meta) + 1, sizeof *f->meta, TRL_MEM_MISC);
    if (!f->meta) goto fail;
    json_object_foreach(meta, key, v)
    {
        if (!json_is_string(v)) {
            trl_errors_add(err, "__metadata__",
                           "value of \"%.100s\" is %s; __metadata__ values must be strings", key,
                           st_json_kind(v));
            bad = 1;
            continue;
        }
        char **kv = &f->meta[2 * f->n_meta];
        kv[0] = st_strdup(key);
        kv[1] = st_strdup(json_string_value(v));
        f->n_meta++; /* counted before the check so that st_close frees both */
        if (!kv[0] || !kv[1]) goto fail;
    }
    return bad ? -1 : 0;
fail: /* what was allocated belongs to f */
    trl_errors_add(err, "__metadata__", "out of memory");
    return -1;
}

static int st_parse_dtype(struct st_tensor *t, const char *name, const json_t *v,
                          struct trl_errors *err)
{
    if (!json_is_string(v)) {
        trl_errors_add(err, name, "dtype must be a string such as \"F32\" (got %s)",
                       st_json_kind(v));
        return -1;
    }
    const char *s = json_string_value(v);
    if (strcmp(s, "F32") == 0 || strcmp(s, "F64") == 0) {
        t->dtype = s[1] == '3' ? ST_F32 : ST_F64;
        return 0;
    }
    for (size_t i = 0; i < sizeof st_other_dtypes / sizeof *st_other_dtypes; i++) {
        if (strcmp(s, st_other_dtypes[i]) == 0) {
            trl_errors_add(err, name, "dtype %s not supported; trellis reads F32 and F64", s);
            return -1;
        }
    }
    trl_errors_add(err, name,
                   "unknown dtype \"%.40s\"; expected a safetensors dtype (trellis reads F32 "
                   "and F64)",
                   s);
    return -1;
}

/* Fills ndim, shape and count; checks that count * esize fits in size_t. */
static int st_parse_shape(struct st_tensor *t, const char *name, const json_t *v,
                          struct trl_errors *err)
{
    if (!json_is_array(v)) {
        trl_errors_add(err, name, "shape must be an array of non-negative integers (got %s)",
                       st_json_kind(v));
        return -1;
    }
    size_t nd = json_array_size(v);
    if (nd > ST_MAX_DIMS) {
        trl_errors_add(err, name, "shape has %zu dimensions; at most %d are supported", nd,
                       ST_MAX_DIMS);
        return -1;
    }
    int has_zero = 0;
    for (size_t i = 0; i < nd; i++) {
        const json_t *d = json_array_get(v, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0) {
            trl_errors_add(err, name,
                           "shape[%zu] is %s; shape must be an array of non-negative integers", i,
                           json_is_integer(d) ? "negative" : st_json_kind(d));
            return -1;
        }
        t->shape[i] = (int64_t)json_integer_value(d);
        if (t->shape[i] == 0) has_zero = 1;
    }
    t->ndim = (int)nd;
    size_t count = has_zero ? 0 : 1; /* the true product is 0: no overflow */
    for (size_t i = 0; i < nd && count; i++) {
        count = trl_mul2(count, (size_t)t->shape[i]);
        if (count == SIZE_MAX) break;
    }
    if (count == SIZE_MAX || trl_mul2(count, st_dtype_size(t->dtype)) == SIZE_MAX) {
        trl_errors_add(err, name,
                       "shape is too large: the number of elements (or of bytes) overflows");
        return -1;
    }
    t->count = count;
    return 0;
}

static int st_parse_offsets(const char *name, const json_t *v, size_t *begin, size_t *end,
                            struct trl_errors *err)
{
    const json_t *b = json_array_get(v, 0), *e = json_array_get(v, 1);
    if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_integer(b) ||
        !json_is_integer(e) || json_integer_value(b) < 0 || json_integer_value(e) < 0) {
        trl_errors_add(err, name,
                       "data_offsets must be two non-negative integers [begin, end] (got %s%s)",
                       st_json_kind(v),
                       json_is_array(v) && json_array_size(v) != 2 ? " of another length" : "");
        return -1;
    }
    *begin = (size_t)json_integer_value(b);
    *end = (size_t)json_integer_value(e);
    if (*begin > *end) {
        trl_errors_add(err, name, "data_offsets [%zu, %zu]: begin is after end", *begin, *end);
        return -1;
    }
    return 0;
}

/* An entry has exactly the keys dtype, shape and data_offsets. */
static int st_check_keys(const char *name, json_t *entry, struct trl_errors *err)
{
    static const char *const want[] = {"dtype", "shape", "data_offsets"};
    const char *key;
    json_t *v;
    int bad = 0;
    json_object_foreach(entry, key, v)
    {
        if (strcmp(key, want[0]) && strcmp(key, want[1]) && strcmp(key, want[2])) {
            trl_errors_add(err, name,
                           "unexpected key \"%.100s\"; an entry has only dtype, shape and "
                           "data_offsets",
                           key);
            bad = 1;
        }
    }
    for (int i = 0; i < 3; i++) {
        if (!json_object_get(entry, want[i])) {
            trl_errors_add(err, name,
                           "missing key \"%s\"; an entry has dtype, shape and data_offsets",
                           want[i]);
            bad = 1;
        }
    }
    return bad ? -1 : 0;
}

/* The size of the span against shape and dtype, and its place in the data. */
static int st_check_span(const struct st_tensor *t, const char *name, size_t begin, size_t end,
                         size_t data_size, struct trl_errors *err)
{
    size_t need = st_nbytes(t);
    if (end - begin != need) {
        trl_errors_add(err, name,
                       "data_offsets [%zu, %zu] span %zu bytes; shape with %zu elements of %s "
                       "needs %zu (%zu x %zu bytes)",
                       begin, end, end - begin, t->count, t->dtype == ST_F32 ? "F32" : "F64", need,
                       t->count, st_dtype_size(t->dtype));
        return -1;
    }
    if (end > data_size) {
        trl_errors_add(err, name,
                       "data_offsets [%zu, %zu] run past the end of the data section (%zu bytes)",
                       begin, end, data_size);
        return -1;
    }
    return 0;
}

static int st_parse_entry(struct st_tensor *t, const char *name, json_t *entry, size_t data_size,
                          struct trl_errors *err)
{
    size_t begin, end;
    t->name = st_strdup(name);
    if (!t->name) {
        trl_errors_add(err, name, "out of memory");
        return -1;
    }
    if (!name[0]) {
        trl_errors_add(err, NULL, "a tensor name is empty; names must be non-empty strings");
        return -1;
    }
    if (!json_is_object(entry)) {
        trl_errors_add(err, name,
                       "entry must be an object with keys dtype, shape and data_offsets (got %s)",
                       st_json_kind(entry));
        return -1;
    }
    if (st_check_keys(name, entry, err) ||
        st_parse_dtype(t, name, json_object_get(entry, "dtype"), err) ||
        st_parse_shape(t, name, json_object_get(entry, "shape"), err) ||
        st_parse_offsets(name, json_object_get(entry, "data_offsets"), &begin, &end, err) ||
        st_check_span(t, name, begin, end, data_size, err))
        return -1;
    t->offset = begin; /* begin <= end <= data_size: inside the data section */
    return 0;
}

/* Orders by offset; an empty tensor goes before a tensor at the same offset. */
static int st_cmp_offset(const void *pa, const void *pb)
{
    const struct st_tensor *a = pa, *b = pb;
    if (a->offset != b->offset) return a->offset < b->offset ? -1 : 1;
    size_t na = st_nbytes(a), nb = st_nbytes(b);
    if (na != nb) return na < nb ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* Step 4: the sorted tensors tile [0, data_size) without gaps or overlaps. */
static int st_check_layout(struct st_file *f, size_t data_size, struct trl_errors *err)
{
    size_t pos = 0;
    const char *prev = NULL;
    int bad = 0;
    qsort(f->tensors, (size_t)f->n, sizeof *f->tensors, st_cmp_offset);
    for (int i = 0; i < f->n; i++) {
        const struct st_tensor *t = &f->tensors[i];
        size_t begin = t->offset, end = begin + st_nbytes(t);
        if (begin < pos) {
            trl_errors_add(err, t->name,
                           "data_offsets [%zu, %zu] overlap tensor \"%.100s\", which ends at %zu",
                           begin, end, prev, pos);
            bad = 1;
        } else if (begin > pos) {
            trl_errors_add(err, t->name,
                           "bytes [%zu, %zu) of the data section, before this tensor, belong to "
                           "no tensor (a gap)",
                           pos, begin);
            bad = 1;
        }
        if (end > pos) {
            pos = end;
            prev = t->name;
        }
    }
    if (pos != data_size) {
        trl_errors_add(err, NULL,
                       "bytes [%zu, %zu) at the end of the data section belong to no tensor; the "
                       "tensors must cover it exactly",
                       pos, data_size);
        bad = 1;
    }
    return bad ? -1 : 0;
}

/* Steps 3 and 4 on a header that is a JSON object. */
static int st_parse_root(struct st_file *f, json_t *root, size_t hlen, struct trl_errors *err)
{
    size_t data_size = f->size - ST_LEN_BYTES - hlen;
    json_t *meta = json_object_get(root, "__metadata__");
    size_t nt = json_object_size(root) - (meta ? 1 : 0);
    const char *name;
    json_t *entry;
    int bad = 0;
    if (nt > ST_MAX_TENSORS) {
        trl_errors_add(err, NULL, "header has %zu tensors; at most %d are supported", nt,
                       ST_MAX_TENSORS);
        return -1;
    }
    if (meta && st_parse_meta(f, meta, err)) bad = 1;
    f->tensors = trl_alloc(nt, sizeof *f->tensors, TRL_MEM_MISC);
    if (!f->tensors) {
        trl_errors_add(err, NULL, "out of memory for %zu tensors", nt);
        return -1;
    }
    json_object_foreach(root, name, entry)
    {
        if (entry == meta) continue;
        if (st_parse_entry(&f->tensors[f->n++], name, entry, data_size, err)) bad = 1;
    }
    if (bad) return -1;
    return st_check_layout(f, data_size, err);
}

/* Steps 1 to 4 on f->buf, which holds at least the length field and the
 * header of a file of f->size bytes; then, when it holds the whole file,
 * each tensor's raw pointer. */
static int st_parse(struct st_file *f, size_t buf_size, struct trl_errors *err)
{
    size_t hlen;
    json_t *root = NULL;
    if (st_check_prefix(f->buf, f->size, &hlen, err)) goto fail;
    root = st_load_header(f->buf + ST_LEN_BYTES, hlen, err);
    if (!root) goto fail;
    if (st_parse_root(f, root, hlen, err)) goto fail;
    json_decref(root);
    f->data_start = ST_LEN_BYTES + hlen;
    if (buf_size == f->size)
        for (int i = 0; i < f->n; i++)
            f->tensors[i].raw = f->buf + f->data_start + f->tensors[i].offset;
    return 0;
fail:
    json_decref(root);
    return -1;
}

static struct st_file *st_file_new(const char *path, struct trl_errors *err)
{
    struct st_file *f = trl_alloc(1, sizeof *f, TRL_MEM_MISC);
    if (f) {
        f->fd = -1;
        f->path = st_strdup(path ? path : "");
    }
    if (!f || !f->path) {
        trl_errors_add(err, NULL, "out of memory");
        st_close(f);
        return NULL;
    }
    return f;
}

/* Reads n bytes at offset into buf; the number read (short at end of file) or -1. */
static ssize_t st_pread_all(int fd, unsigned char *buf, size_t n, off_t offset)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, buf + done, n - done, offset + (off_t)done);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

/* Step 1 from an open file's size and first 8 bytes: its size and header length. */
static int st_check_fd(int fd, size_t *size, size_t *hlen, struct trl_errors *err)
{
    struct stat st;
    unsigned char head[ST_LEN_BYTES];
    if (fstat(fd, &st)) {
        trl_errors_add(err, NULL, "cannot stat: %s", strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        trl_errors_add(err, NULL, "not a regular file");
        return -1;
    }
    if ((uintmax_t)st.st_size > TRL_ALLOC_MAX) {
        trl_errors_add(err, NULL, "file is %jd bytes; at most %zu can be read",
                       (intmax_t)st.st_size, TRL_ALLOC_MAX);
        return -1;
    }
    *size = (size_t)st.st_size;
    size_t n_head = *size < ST_LEN_BYTES ? *size : ST_LEN_BYTES;
    ssize_t got = st_pread_all(fd, head, n_head, 0);
    if (got < 0) {
        trl_errors_add(err, NULL, "cannot read: %s", strerror(errno));
        return -1;
    }
    return st_check_prefix(head, (size_t)got < n_head ? (size_t)got : *size, hlen, err);
}

/* The first n bytes of the file (all of it, or the length field and the
 * header) into f->buf, for a file of `size` bytes. */
static int st_read_fd(struct st_file *f, int fd, size_t n, size_t size, struct trl_errors *err)
{
    f->buf = trl_alloc(n, 1, TRL_MEM_MISC);
    if (!f->buf) {
        trl_errors_add(err, NULL, "out of memory for %zu bytes of the file", n);
        return -1;
    }
    ssize_t got = st_pread_all(fd, f->buf, n, 0);
    if (got < 0) {
        trl_errors_add(err, NULL, "cannot read: %s", strerror(errno));
        return -1;
    }
    if ((size_t)got != n) {
        trl_errors_add(err, NULL, "file changed while being read (%zd of %zu bytes)", got, n);
        return -1;
    }
    f->size = size;
    return 0;
}

/* st_open (whole) and st_open_stream (header only, file kept open). */
static struct st_file *st_open_mode(const char *path, bool whole, struct trl_errors *err)
{
    struct trl_errors scratch;
    struct st_file *f = NULL;
    size_t size, hlen;
    int fd = -1;
    if (!err) err = &scratch;
    trl_errors_init(err, path);
    f = st_file_new(path, err);
    if (!f) goto fail;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        trl_errors_add(err, NULL, "cannot open: %s", strerror(errno));
        goto fail;
    }
    if (st_check_fd(fd, &size, &hlen, err)) goto fail;
    const size_t n = whole ? size : ST_LEN_BYTES + hlen;
    if (st_read_fd(f, fd, n, size, err) || st_parse(f, n, err)) goto fail;
    if (whole) {
        close(fd);
    } else { /* the header was parsed into names and offsets: its text is not needed */
        f->fd = fd;
        trl_free(f->buf);
        f->buf = NULL;
    }
    return f;
fail:
    if (fd >= 0) close(fd);
    st_close(f);
    return NULL;
}

struct st_file *st_open(const char *path, struct trl_errors *err)
{
    return st_open_mode(path, true, err);
}

struct st_file *st_open_stream(const char *path, struct trl_errors *err)
{
    return st_open_mode(path, false, err);
}

struct st_file *st_open_buffer(const void *bytes, size_t size, const char *path,
                               struct trl_errors *err)
{
    struct trl_errors scratch;
    struct st_file *f = NULL;
    size_t hlen;
    if (!err) err = &scratch;
    trl_errors_init(err, path);
    if (!bytes) size = 0;
    if (st_check_prefix(bytes, size, &hlen, err)) goto fail;
    f = st_file_new(path, err);
    if (!f) goto fail;
    f->buf = trl_alloc(size, 1, TRL_MEM_MISC);
    if (!f->buf) {
        trl_errors_add(err, NULL, "out of memory for %zu bytes", size);
        goto fail;
    }
    memcpy(f->buf, bytes, size);
    f->size = size;
    if (st_parse(f, size, err)) goto fail;
    return f;
fail:
    st_close(f);
    return NULL;
}

void st_close(struct st_file *f)
{
    if (!f) return;
    if (f->fd >= 0) close(f->fd);
    for (int i = 0; i < f->n; i++) trl_free(f->tensors[i].name);
    for (int i = 0; i < 2 * f->n_meta; i++) trl_free(f->meta[i]);
    trl_free(f->meta);
    trl_free(f->tensors);
    trl_free(f->buf);
    trl_free(f->path);
    trl_free(f);
}

const struct st_tensor *st_find(const struct st_file *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *st_meta(const struct st_file *f, const char *key)
{
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta[2 * i], key) == 0) return f->meta[2 * i + 1];
    return NULL;
}

/* double to trl_real; a finite double beyond float's range becomes +-inf
 * explicitly rather than through an out-of-range conversion. */
static trl_real st_to_real(double v)
{
#ifdef TRL_F64
    return v;
#else
    const double overflow = 0x1.ffffffp127; /* FLT_MAX + half an ulp rounds to inf */
    if (v >= overflow) return INFINITY;
    if (v <= -overflow) return -INFINITY;
    return (float)v;
#endif
}

/* n little-endian values of dtype d at p to trl_real. */
static void st_convert(enum st_dtype d, const unsigned char *p, size_t n, trl_real *out)
{
    if (d == ST_F32) {
        for (size_t i = 0; i < n; i++) {
            float v;
            memcpy(&v, p + 4 * i, sizeof v);
            out[i] = (trl_real)v;
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            double v;
            memcpy(&v, p + 8 * i, sizeof v);
            out[i] = st_to_real(v);
        }
    }
}

long st_first_nonfinite(const trl_real *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return (long)i;
    return -1;
}

long st_read_real(const struct st_tensor *t, trl_real *out)
{
    st_convert(t->dtype, t->raw, t->count, out);
    return st_first_nonfinite(out, t->count);
}

#define ST_PIECE_BYTES 16384 /* a streamed read goes through a stack buffer this big */

int st_read_range(const struct st_file *f, const struct st_tensor *t, size_t first, size_t n,
                  trl_real *out, struct trl_errors *err)
{
    const size_t esize = st_dtype_size(t->dtype), per_piece = ST_PIECE_BYTES / esize;
    if (t->raw) {
        st_convert(t->dtype, (const unsigned char *)t->raw + first * esize, n, out);
        return 0;
    }
    unsigned char piece[ST_PIECE_BYTES];
    for (size_t done = 0; done < n;) {
        const size_t k = n - done < per_piece ? n - done : per_piece, bytes = k * esize;
        const size_t at = f->data_start + t->offset + (first + done) * esize;
        ssize_t got = st_pread_all(f->fd, piece, bytes, (off_t)at);
        if (got < 0) {
            trl_errors_add(err, t->name, "cannot read bytes [%zu, %zu) of the file: %s", at,
                           at + bytes, strerror(errno));
            return -1;
        }
        if ((size_t)got != bytes) {
            trl_errors_add(err, t->name,
                           "the file ends at byte %zu, inside this tensor (reading bytes [%zu, "
                           "%zu)); it was %zu bytes when opened: it changed while in use",
                           at + (size_t)got, at, at + bytes, f->size);
            return -1;
        }
        st_convert(t->dtype, piece, k, out + done);
        done += k;
    }
    return 0;
}

/* ---- writing ---------------------------------------------------------- */

/* Product of the shape, or SIZE_MAX when invalid or too large to write. */
static size_t st_out_count(const struct st_out *t)
{
    size_t count = 1;
    if (t->ndim < 0 || t->ndim > ST_MAX_DIMS) return SIZE_MAX;
    for (int i = 0; i < t->ndim; i++)
        if (t->shape[i] < 0) return SIZE_MAX;
    for (int i = 0; i < t->ndim; i++)
        if (t->shape[i] == 0) return 0;
    for (int i = 0; i < t->ndim && count != SIZE_MAX; i++)
        count = trl_mul2(count, (size_t)t->shape[i]);
    /* every trl_real array comes from trl_alloc: more cannot be real data */
    if (trl_mul2(count, sizeof(trl_real)) > TRL_ALLOC_MAX) return SIZE_MAX;
    return count;
}

static int st_check_out(const json_t *root, const struct st_out *t, int i, size_t count,
                        bool need_data, struct trl_errors *err)
{
    char where[32];
    snprintf(where, sizeof where, "tensor %d", i);
    if (!t->name || !t->name[0] || strcmp(t->name, "__metadata__") == 0) {
        trl_errors_add(err, where, "name must be a non-empty string other than __metadata__");
        return -1;
    }
    if (json_object_get(root, t->name)) {
        trl_errors_add(err, t->name, "tensor name appears twice");
        return -1;
    }
    if (t->ndim < 0 || t->ndim > ST_MAX_DIMS) {
        trl_errors_add(err, t->name, "ndim is %d; 0 to %d allowed", t->ndim, ST_MAX_DIMS);
        return -1;
    }
    if (count == SIZE_MAX) {
        trl_errors_add(err, t->name,
                       "shape must be non-negative dimensions whose product fits in memory "
                       "(at most %zu bytes of data)",
                       (size_t)TRL_ALLOC_MAX);
        return -1;
    }
    if (need_data && count && !t->data) {
        trl_errors_add(err, t->name, "data is NULL for %zu values", count);
        return -1;
    }
    return 0;
}

static json_t *st_out_entry(const struct st_out *t, uint64_t begin, uint64_t end)
{
    json_t *e = json_object(), *shape = json_array(), *off = json_array();
    int bad = !e || !shape || !off;
    for (int i = 0; !bad && i < t->ndim; i++)
        bad = json_array_append_new(shape, json_integer((json_int_t)t->shape[i]));
    bad = bad || json_array_append_new(off, json_integer((json_int_t)begin)) ||
          json_array_append_new(off, json_integer((json_int_t)end));
    bad = bad || json_object_set_new(e, "dtype", json_string(TRL_DTYPE));
    bad = bad || json_object_set(e, "shape", shape) || json_object_set(e, "data_offsets", off);
    json_decref(shape);
    json_decref(off);
    if (bad) {
        json_decref(e);
        return NULL;
    }
    return e;
}

static int st_add_meta(json_t *root, const char *const *meta, struct trl_errors *err)
{
    json_t *m = json_object();
    if (!m || json_object_set(root, "__metadata__", m)) {
        trl_errors_add(err, "__metadata__", "out of memory");
        goto fail;
    }
    for (int i = 0; meta[i]; i += 2) {
        if (!meta[i + 1]) {
            trl_errors_add(err, "__metadata__", "key \"%.100s\" has no value", meta[i]);
            goto fail;
        }
        if (json_object_get(m, meta[i])) {
            trl_errors_add(err, "__metadata__", "key \"%.100s\" appears twice", meta[i]);
            goto fail;
        }
        if (json_object_set_new(m, meta[i], json_string(meta[i + 1]))) {
            trl_errors_add(err, "__metadata__",
                           "key \"%.100s\": keys and values must be valid UTF-8", meta[i]);
            goto fail;
        }
    }
    json_decref(m);
    return 0;
fail:
    json_decref(m);
    return -1;
}

/* The header object; every problem with the input is reported. */
static json_t *st_build_header(const struct st_out *tensors, int n, const char *const *meta,
                               bool need_data, uint64_t *total, struct trl_errors *err)
{
    json_t *root = json_object();
    uint64_t offset = 0;
    int bad = 0;
    if (!root) goto nomem;
    if (n < 0 || n > ST_MAX_TENSORS || (n > 0 && !tensors)) {
        trl_errors_add(err, NULL, "%d tensors; 0 to %d allowed", n, ST_MAX_TENSORS);
        goto fail;
    }
    if (meta && st_add_meta(root, meta, err)) goto fail;
    for (int i = 0; i < n; i++) {
        const struct st_out *t = &tensors[i];
        size_t count = st_out_count(t);
        if (st_check_out(root, t, i, count, need_data, err)) {
            bad = 1;
            continue;
        }
        uint64_t bytes = (uint64_t)count * sizeof(trl_real); /* <= TRL_ALLOC_MAX */
        if (offset > (uint64_t)INT64_MAX - bytes) {
            trl_errors_add(err, t->name, "the tensors hold more bytes than a file can");
            goto fail;
        }
        json_t *e = st_out_entry(t, offset, offset + bytes);
        if (!e) goto nomem;
        if (json_object_set_new(root, t->name, e)) {
            trl_errors_add(err, t->name, "name must be valid UTF-8");
            bad = 1;
        }
        offset += bytes;
    }
    if (bad) goto fail;
    *total = offset;
    return root;
nomem:
    trl_errors_add(err, NULL, "out of memory");
fail:
    json_decref(root);
    return NULL;
}

/* The header as written: compact JSON padded with spaces to a multiple of 8. */
static char *st_header_text(const json_t *root, size_t *len, struct trl_errors *err)
{
    char *json = json_dumps(root, JSON_COMPACT);
    char *text = NULL;
    if (!json) {
        trl_errors_add(err, NULL, "out of memory for the header");
        goto fail;
    }
    size_t n = strlen(json), padded = (n + 7) / 8 * 8;
    if (padded > ST_MAX_HEADER) {
        trl_errors_add(err, NULL, "header would be %zu bytes; at most %zu allowed", padded,
                       ST_MAX_HEADER);
        goto fail;
    }
    text = trl_alloc(padded + 1, 1, TRL_MEM_MISC);
    if (!text) {
        trl_errors_add(err, NULL, "out of memory for the header");
        goto fail;
    }
    memcpy(text, json, n);
    memset(text + n, ' ', padded - n);
    *len = padded;
    free(json);
    return text;
fail:
    free(json);
    return NULL;
}

/* A file written through atomic_file (io/atomic_file.h): the header first,
 * then the values in order; committed only once every value is there. */
struct st_writer {
    struct atomic_file *f;
    uint64_t left; /* values still to put */
};

void st_writer_abort(struct st_writer *w)
{
    if (!w) return;
    atomic_file_abort(w->f);
    trl_free(w);
}

/* The length field and the header, into w's file (a short write sets the
 * stream's error, which the commit reports). */
static int st_writer_header(struct st_writer *w, const struct st_out *tensors, int n,
                            const char *const *meta, bool need_data, struct trl_errors *err)
{
    size_t hlen = 0;
    uint64_t bytes = 0;
    char *header = NULL;
    json_t *root = st_build_header(tensors, n, meta, need_data, &bytes, err);
    if (root) header = st_header_text(root, &hlen, err);
    json_decref(root);
    if (!header) return -1;
    w->left = bytes / sizeof(trl_real);
    unsigned char len[ST_LEN_BYTES];
    st_put_le64(len, hlen);
    FILE *fp = atomic_file_stream(w->f);
    if (fwrite(len, 1, sizeof len, fp) == sizeof len) fwrite(header, 1, hlen, fp);
    trl_free(header);
    return 0;
}

static struct st_writer *st_writer_start(const char *path, const struct st_out *tensors, int n,
                                         const char *const *meta, bool need_data,
                                         struct trl_errors *err)
{
    trl_errors_init(err, path);
    struct st_writer *w = trl_alloc(1, sizeof *w, TRL_MEM_MISC);
    if (!w) {
        trl_errors_add(err, NULL, "out of memory");
        return NULL;
    }
    *w = (struct st_writer){0};
    w->f = atomic_file_open(path, err);
    if (!w->f || st_writer_header(w, tensors, n, meta, need_data, err)) {
        st_writer_abort(w);
        return NULL;
    }
    return w;
}

struct st_writer *st_writer_open(const char *path, const struct st_out *tensors, int n,
                                 const char *const *meta, struct trl_errors *err)
{
    return st_writer_start(path, tensors, n, meta, false, err);
}

int st_writer_put(struct st_writer *w, const trl_real *v, size_t n, struct trl_errors *err)
{
    if (n > w->left) {
        trl_errors_add(err, NULL, "%zu values put where the header leaves %llu", n,
                       (unsigned long long)w->left);
        return -1;
    }
    if (n) fwrite(v, sizeof *v, n, atomic_file_stream(w->f)); /* errors: at the commit */
    w->left -= n;
    return 0;
}

int st_writer_commit(struct st_writer *w, struct trl_errors *err)
{
    if (w->left) {
        trl_errors_add(err, NULL, "%llu values of the header were never put",
                       (unsigned long long)w->left);
        st_writer_abort(w);
        return -1;
    }
    int rc = atomic_file_commit(w->f, err);
    trl_free(w);
    return rc;
}

int st_write(const char *path, const struct st_out *tensors, int n, const char *const *meta,
             struct trl_errors *err)
{
    struct trl_errors scratch;
    if (!err) err = &scratch;
    struct st_writer *w = st_writer_start(path, tensors, n, meta, true, err);
    if (!w) return -1;
    for (int i = 0; i < n; i++) st_writer_put(w, tensors[i].data, st_out_count(&tensors[i]), err);
    return st_writer_commit(w, err);
}
