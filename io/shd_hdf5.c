/* shd_hdf5.c - libtrellis-hdf5.so.0, the only file that includes hdf5.h:
 * the table of io/hdf5_module.h over libhdf5. Built on its own, linked with
 * -lhdf5, loaded by io/hdf5_load.c when an SHD file is first read. */
#include <hdf5.h>

#include "io/hdf5_module.h"

/* HDF5 prints its error stack unless told not to; the library never prints. */
struct quiet {
    H5E_auto2_t fn;
    void *data;
};

static struct quiet quiet_on(void)
{
    struct quiet q;
    H5Eget_auto2(H5E_DEFAULT, &q.fn, &q.data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return q;
}

static void quiet_off(struct quiet q)
{
    H5Eset_auto2(H5E_DEFAULT, q.fn, q.data);
}

static enum h5m_class class_of(H5T_class_t c)
{
    switch (c) {
    case H5T_INTEGER:
        return H5M_INTEGER;
    case H5T_FLOAT:
        return H5M_FLOAT;
    case H5T_STRING:
        return H5M_STRING;
    case H5T_COMPOUND:
        return H5M_COMPOUND;
    case H5T_VLEN:
        return H5M_VLEN;
    case H5T_ARRAY:
        return H5M_ARRAY;
    default:
        return H5M_OTHER;
    }
}

static hid_t native(enum h5m_elem e)
{
    return e == H5M_DOUBLE ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64;
}

static int is_hdf5(const char *path)
{
    struct quiet q = quiet_on();
#if H5_VERSION_GE(1, 12, 0)
    htri_t is = H5Fis_accessible(path, H5P_DEFAULT);
#else
    htri_t is = H5Fis_hdf5(path);
#endif
    quiet_off(q);
    return is > 0 ? 1 : is == 0 ? 0 : -1;
}

static int64_t open_file(const char *path)
{
    struct quiet q = quiet_on();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    quiet_off(q);
    return f;
}

static void close_file(int64_t file)
{
    struct quiet q = quiet_on();
    H5Fclose(file);
    quiet_off(q);
}

static int exists(int64_t file, const char *name)
{
    struct quiet q = quiet_on();
    htri_t e = H5Lexists(file, name, H5P_DEFAULT);
    quiet_off(q);
    return e > 0;
}

static void describe(hid_t d, struct h5m_info *info)
{
    hid_t t = H5Dget_type(d);
    H5T_class_t c = H5Tget_class(t);
    info->cls = info->base = class_of(c);
    if (c == H5T_VLEN) {
        hid_t super = H5Tget_super(t);
        info->base = class_of(H5Tget_class(super));
        H5Tclose(super);
    }
    H5Tclose(t);
    hid_t space = H5Dget_space(d);
    hsize_t n = 0;
    info->rank = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    if (info->rank == 1) H5Sget_simple_extent_dims(space, &n, NULL);
    info->length = (long)n;
    if (space >= 0) H5Sclose(space);
}

static int64_t open_dataset(int64_t file, const char *name, struct h5m_info *info)
{
    struct quiet q = quiet_on();
    *info = (struct h5m_info){.cls = H5M_OTHER, .base = H5M_OTHER, .rank = -1};
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    if (d >= 0) describe(d, info);
    quiet_off(q);
    return d;
}

static void close_dataset(int64_t dataset)
{
    struct quiet q = quiet_on();
    H5Dclose(dataset);
    quiet_off(q);
}

static int read_all(int64_t dataset, enum h5m_elem elem, long n, void *out)
{
    if (n == 0) return 0;
    struct quiet q = quiet_on();
    herr_t rc = H5Dread(dataset, native(elem), H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
    quiet_off(q);
    return rc < 0 ? -1 : 0;
}

static int read_list(int64_t dataset, enum h5m_elem elem, long i, struct h5m_list *out)
{
    struct quiet q = quiet_on();
    hsize_t start = (hsize_t)i, one = 1;
    hid_t fs = H5Dget_space(dataset), ms = H5Screate_simple(1, &one, NULL);
    hid_t mem = H5Tvlen_create(native(elem));
    hvl_t v = {0};
    int rc = fs < 0 || ms < 0 || mem < 0 ||
                     H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &one, NULL) < 0 ||
                     H5Dread(dataset, mem, ms, fs, H5P_DEFAULT, &v) < 0
                 ? -1
                 : 0;
    *out = (struct h5m_list){.len = v.len, .p = v.p};
    if (mem >= 0) H5Tclose(mem);
    if (fs >= 0) H5Sclose(fs);
    if (ms >= 0) H5Sclose(ms);
    quiet_off(q);
    return rc;
}

static void free_list(enum h5m_elem elem, struct h5m_list *list)
{
    if (!list->p) return;
    struct quiet q = quiet_on();
    hsize_t one = 1;
    hid_t ms = H5Screate_simple(1, &one, NULL), mem = H5Tvlen_create(native(elem));
    hvl_t v = {.len = list->len, .p = list->p};
#if H5_VERSION_GE(1, 12, 0)
    H5Treclaim(mem, ms, H5P_DEFAULT, &v);
#else
    H5Dvlen_reclaim(mem, ms, H5P_DEFAULT, &v);
#endif
    H5Tclose(mem);
    H5Sclose(ms);
    quiet_off(q);
    *list = (struct h5m_list){0};
}

__attribute__((visibility("default"))) const struct hdf5_module *trl_hdf5_module_v1(void);

const struct hdf5_module *trl_hdf5_module_v1(void)
{
    static const struct hdf5_module table = {
        .abi = H5M_ABI,
        .is_hdf5 = is_hdf5,
        .open_file = open_file,
        .close_file = close_file,
        .exists = exists,
        .open_dataset = open_dataset,
        .close_dataset = close_dataset,
        .read_all = read_all,
        .read_list = read_list,
        .free_list = free_list,
    };
    return &table;
}
