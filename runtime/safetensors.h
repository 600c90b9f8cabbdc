/* safetensors.h - reading and writing safetensors files (SPEC section 4).
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON object
 * {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
 * {string: string}}, then the data section; offsets are relative to it.
 *
 * The reader validates the whole header before any tensor is used: a file it
 * accepts never makes a later read go out of bounds. The writer writes to a
 * temporary file in the destination's folder and renames it, so the
 * destination is either the old file or the complete new one.
 */
#ifndef TRELLIS_SAFETENSORS_H
#define TRELLIS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/error.h"
#include "runtime/real.h"

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
    const void *raw; /* little-endian values inside the file buffer; may be unaligned */
};

struct st_file {
    char *path;
    unsigned char *buf; /* the whole file */
    size_t size;
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

#endif
