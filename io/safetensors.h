/* safetensors.h - reading and writing safetensors files (SPEC section 4).
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON object
 * {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
 * {string: string}}, then the data section; offsets are relative to it.
 *
 * The reader validates the whole header before any tensor is used: a file it
 * accepts never makes a later read go out of bounds. st_open reads the whole
 * file; st_open_stream reads only the header and keeps the file open, so a
 * caller reads ranges of a tensor when it needs them (st_read_range), in
 * memory that does not grow with the file. The writer writes to a
 * temporary file in the destination's folder and renames it, so the
 * destination is either the old file or the complete new one.
 */
#ifndef TRELLIS_SAFETENSORS_H
#define TRELLIS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"

#define ST_MAX_DIMS    8
#define ST_MAX_HEADER  ((size_t)100 << 20) /* as the reference implementation */
#define ST_MAX_TENSORS 100000

enum st_dtype { ST_F32, ST_F64 };

struct st_tensor {
    char *name;
    enum st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t count;    /* product of shape (1 for a scalar, ndim 0) */
    size_t offset;   /* first byte, counted from the start of the data section */
    const void *raw; /* little-endian values inside the file buffer (may be unaligned);
                        NULL in a streamed file */
};

struct st_file {
    char *path;
    unsigned char *buf;        /* the whole file; NULL when streamed */
    size_t size;               /* bytes of the file */
    size_t data_start;         /* where the data section begins: 8 + the header's length */
    int fd;                    /* streamed: the open file (st_read_range); -1 otherwise */
    struct st_tensor *tensors; /* in order of data offset */
    int n;
    /* "__metadata__" as key, value, key, value, ..., NULL (the form st_write
     * takes), or NULL when the file has none. */
    char **meta;
    int n_meta; /* key/value pairs */
};

/* Reads and validates a file. NULL on any problem, with the reason in err
 * (err->file is set to path). */
struct st_file *st_open(const char *path, struct trl_errors *err);
/* The same checks, but reads only the length field and the header and
 * keeps the file open for st_read_range; tensors have no `raw`. */
struct st_file *st_open_stream(const char *path, struct trl_errors *err);
/* The same on bytes in memory (copied); `path` names it in errors. */
struct st_file *st_open_buffer(const void *bytes, size_t size, const char *path,
                               struct trl_errors *err);
void st_close(struct st_file *f);
/* The tensor of that name, or NULL (borrowed). */
const struct st_tensor *st_find(const struct st_file *f, const char *name);
/* The "__metadata__" value of key, or NULL (borrowed). */
const char *st_meta(const struct st_file *f, const char *key);
/* Converts t to trl_real into out[t->count]. Returns the index of the first
 * non-finite value, or -1 when every value is finite. */
long st_read_real(const struct st_tensor *t, trl_real *out);
/* Converts values [first, first + n) of t (a tensor of f) to trl_real into
 * out[n], from the buffer or, when streamed, from the file; first + n must be
 * at most t->count. Safe to call from several threads at once (pread). 0, or
 * -1 with err set when the file cannot be read or ends early (it changed
 * after it was opened). Values are not checked: see st_first_nonfinite. */
int st_read_range(const struct st_file *f, const struct st_tensor *t, size_t first, size_t n,
                  trl_real *out, struct trl_errors *err);
/* The index of the first value of v[n] that is not finite, or -1. */
long st_first_nonfinite(const trl_real *v, size_t n);

/* A tensor to write: data in the binary's precision (TRL_DTYPE). */
struct st_out {
    const char *name;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const trl_real *data;
};

/* Writes the tensors, in the given order, atomically (temporary file in the
 * same folder, then rename). meta is NULL or a NULL-terminated list of
 * key, value strings for "__metadata__". 0 on success; -1 with err set. */
int st_write(const char *path, const struct st_out *tensors, int n, const char *const *meta,
             struct trl_errors *err);

/* A file written piece by piece, for data too large to hold at once: the
 * header of tensors (their data ignored; may be NULL), then every value of
 * every tensor in order, through st_writer_put, into a temporary file that
 * st_writer_commit renames to path once all of them are there. NULL, or -1,
 * with err set; a writer that failed must still be aborted (or committed). */
struct st_writer;
struct st_writer *st_writer_open(const char *path, const struct st_out *tensors, int n,
                                 const char *const *meta, struct trl_errors *err);
int st_writer_put(struct st_writer *w, const trl_real *v, size_t n, struct trl_errors *err);
/* Checks that every value was put, syncs and renames; frees w either way. */
int st_writer_commit(struct st_writer *w, struct trl_errors *err);
/* Removes the temporary file and frees w (NULL is ignored). */
void st_writer_abort(struct st_writer *w);

#endif
