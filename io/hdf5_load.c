/* hdf5_load.c - finds and loads the optional module libtrellis-hdf5.so.0
 * (io/hdf5_module.h) on first use, so that libhdf5 loads only into a process
 * that reads an SHD file. */
#define _GNU_SOURCE /* dladdr */
#include "io/hdf5_module.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const struct hdf5_module *loaded;
static char why[512]; /* why the first module found could not be loaded */

/* out = the folder of file (up to its last '/'), '/', rest. 0, or -1 when
 * file names no folder or out is too short. */
static int beside(char *out, size_t size, const char *file, const char *rest)
{
    const char *slash = strrchr(file, '/');
    if (!slash) return -1;
    int n = snprintf(out, size, "%.*s/%s", (int)(slash - file), file, rest);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Notes the first reason a module could not be loaded: what[: detail]. */
static void failed(const char *what, const char *detail)
{
    if (!why[0])
        snprintf(why, sizeof why, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
}

/* Loads path (a file name, or a soname for the loader's path): true when
 * loaded. A file that is not there is skipped quietly unless must. */
static bool try_load(const char *path, bool must)
{
    if (!must && access(path, F_OK) != 0) return false;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        failed(e ? e : path, NULL);
        return false;
    }
    hdf5_module_fn fn = (hdf5_module_fn)dlsym(h, H5M_SYMBOL);
    const struct hdf5_module *m = fn ? fn() : NULL;
    if (!m || m->abi != H5M_ABI) {
        failed(path, m ? "a module of another trellis version (rebuild it)"
                       : "not a trellis HDF5 module (no " H5M_SYMBOL ")");
        dlclose(h);
        return false;
    }
    loaded = m;
    return true;
}

static void load(void)
{
    const char *env = getenv("TRELLIS_HDF5_MODULE");
    if (env && *env) {
        try_load(env, true);
        return;
    }
    char path[4096], exe[4096];
    Dl_info self;
    if (dladdr((void *)hdf5_module, &self) && self.dli_fname &&
        !beside(path, sizeof path, self.dli_fname, H5M_SONAME) && try_load(path, false))
        return;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        if (!beside(path, sizeof path, exe, "../lib/" H5M_SONAME) && try_load(path, false)) return;
    }
    try_load(H5M_SONAME, true);
}

const struct hdf5_module *hdf5_module(struct trl_errors *err)
{
    pthread_once(&once, load);
    if (loaded) return loaded;
    trl_errors_add(err, NULL,
                   "the SHD reader needs the module " H5M_SONAME
                   " and libhdf5 (Debian: install libhdf5-dev, then rebuild and reinstall "
                   "trellis; TRELLIS_HDF5_MODULE may name the module): %s",
                   why);
    trl_errors_kind(err, ERR_IO);
    return NULL;
}
