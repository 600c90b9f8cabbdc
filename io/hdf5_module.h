/* hdf5_module.h - the optional module libtrellis-hdf5.so.0 (io/shd_hdf5.c):
 * every call of the SHD reader (io/shd.h) into libhdf5, which with its own
 * dependencies (~35 libraries on Debian) would otherwise load into every
 * process that links trellis. The module exports one function,
 * H5M_SYMBOL, which returns the table below; hdf5_module() finds and loads
 * it on first use. It only reports what it finds (types, shapes, values):
 * io/shd.c checks them and writes the messages. Precision-independent.
 *
 * Every call silences HDF5's printing of its error stack while it runs (and
 * restores it); like libhdf5 (serial), the calls must not run at once.
 */
#ifndef TRELLIS_HDF5_MODULE_H
#define TRELLIS_HDF5_MODULE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define H5M_SONAME "libtrellis-hdf5.so.0"
#define H5M_SYMBOL "trl_hdf5_module_v1"
#define H5M_ABI    1 /* the table's version: bump with every change below */

/* A dataset's type class (HDF5's H5T_class_t, the ones the messages name). */
enum h5m_class { H5M_OTHER, H5M_INTEGER, H5M_FLOAT, H5M_STRING, H5M_COMPOUND, H5M_VLEN, H5M_ARRAY };
/* The memory type of a read; HDF5 converts the file's type to it. */
enum h5m_elem { H5M_DOUBLE, H5M_INT64 };

struct h5m_info {
    enum h5m_class cls;  /* the dataset's */
    enum h5m_class base; /* the elements' of a H5M_VLEN dataset */
    int rank;            /* dimensions, -1 when unknown */
    long length;         /* the first dimension when rank is 1 */
};

/* One entry of a variable-length dataset: len values of the elem read. */
struct h5m_list {
    size_t len;
    void *p;
};

/* Handles are HDF5's (hid_t); < 0: failure. */
struct hdf5_module {
    int abi; /* H5M_ABI */
    /* > 0: path is an HDF5 file; 0: it is not; < 0: cannot tell. */
    int (*is_hdf5)(const char *path);
    int64_t (*open_file)(const char *path); /* read-only */
    void (*close_file)(int64_t file);
    /* > 0: the link name (a path, "spikes/times") exists in file. */
    int (*exists)(int64_t file, const char *name);
    /* The dataset name, *info filled; < 0: not a dataset or cannot open. */
    int64_t (*open_dataset)(int64_t file, const char *name, struct h5m_info *info);
    void (*close_dataset)(int64_t dataset);
    /* The whole 1-D dataset, n values of elem into out. 0 or -1. */
    int (*read_all)(int64_t dataset, enum h5m_elem elem, long n, void *out);
    /* Entry i of a 1-D variable-length dataset into *out (to free with
     * free_list, also after a failure). 0 or -1. */
    int (*read_list)(int64_t dataset, enum h5m_elem elem, long i, struct h5m_list *out);
    void (*free_list)(enum h5m_elem elem, struct h5m_list *list);
};

typedef const struct hdf5_module *(*hdf5_module_fn)(void);

/* The module, loaded on the first call (thread-safe; later calls return the
 * same answer). It is $TRELLIS_HDF5_MODULE when that is set, else the first
 * H5M_SONAME found in the folder of the library itself, in ../lib next to
 * the running program, then on the loader's path. NULL with err (of kind
 * ERR_IO) saying what is missing and how to get it. */
const struct hdf5_module *hdf5_module(struct trl_errors *err);

#endif
