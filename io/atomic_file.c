/* atomic_file.c - see atomic_file.h. */
#include "io/atomic_file.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"

struct atomic_file {
    FILE *fp;
    char *path, *tmp; /* tmp NULL: a device or pipe written in place */
};

/* Permissions of a new file under the process umask, as fopen would give. */
static mode_t new_file_mode(void)
{
    mode_t mask = umask(0);
    umask(mask);
    return 0666 & ~mask;
}

/* Makes a rename in path's folder durable; best effort (the file is complete). */
static void sync_folder(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t len = slash ? (size_t)(slash == path ? 1 : slash - path) : 1;
    char *dir = trl_alloc(len + 1, 1, TRL_MEM_MISC);
    if (!dir) return;
    memcpy(dir, slash ? path : ".", len);
    dir[len] = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    trl_free(dir);
}

static void release(struct atomic_file *f)
{
    trl_free(f->path);
    trl_free(f->tmp);
    trl_free(f);
}

/* A destination that exists and is not a regular file: a folder is an error;
 * a device or pipe (/dev/null, /dev/full, /dev/stdout) is written in place,
 * since renaming over it would replace the device with a file. NULL with err
 * set, or f writing in place. */
static struct atomic_file *open_special(const char *path, const struct stat *st,
                                        struct trl_errors *err)
{
    if (S_ISDIR(st->st_mode)) {
        trl_errors_add(err, NULL, "is a folder; name a file to write");
        trl_errors_kind(err, ERR_IO);
        return NULL;
    }
    struct atomic_file *f = trl_alloc(1, sizeof *f, TRL_MEM_MISC);
    if (f) *f = (struct atomic_file){.path = trl_strprintf("%s", path)};
    if (!f || !f->path || !(f->fp = fopen(path, "wb"))) {
        trl_errors_add(err, NULL, "cannot write: %s",
                       f && f->path ? strerror(errno) : "out of memory");
        trl_errors_kind(err, ERR_IO);
        if (f) release(f);
        return NULL;
    }
    return f;
}

struct atomic_file *atomic_file_open(const char *path, struct trl_errors *err)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) return open_special(path, &st, err);
    struct atomic_file *f = trl_alloc(1, sizeof *f, TRL_MEM_MISC);
    size_t n = strlen(path);
    if (f) {
        f->fp = NULL;
        f->path = trl_alloc(n + 1, 1, TRL_MEM_MISC);
        f->tmp = trl_alloc(n + sizeof ".tmp.XXXXXX", 1, TRL_MEM_MISC);
    }
    if (!f || !f->path || !f->tmp) {
        if (f) release(f);
        trl_errors_add(err, NULL, "out of memory");
        trl_errors_kind(err, ERR_MEMORY);
        return NULL;
    }
    memcpy(f->path, path, n + 1);
    strcat(strcpy(f->tmp, path), ".tmp.XXXXXX");
    int fd = mkstemp(f->tmp);
    if (fd < 0) {
        trl_errors_add(err, NULL, "cannot create temporary file %s: %s", f->tmp, strerror(errno));
        trl_errors_kind(err, ERR_IO);
        release(f);
        return NULL;
    }
    if (fchmod(fd, new_file_mode()) || !(f->fp = fdopen(fd, "wb"))) {
        trl_errors_add(err, NULL, "cannot write %s: %s", f->tmp, strerror(errno));
        trl_errors_kind(err, ERR_IO);
        close(fd);
        unlink(f->tmp);
        release(f);
        return NULL;
    }
    return f;
}

FILE *atomic_file_stream(struct atomic_file *f)
{
    return f->fp;
}

int atomic_file_commit(struct atomic_file *f, struct trl_errors *err)
{
    if (!f->tmp) { /* in place: the write's own errors (ENOSPC on /dev/full) */
        bool failed = ferror(f->fp) || fflush(f->fp);
        int saved = errno;
        failed = fclose(f->fp) || failed;
        if (failed) {
            trl_errors_add(err, NULL, "cannot write: %s", strerror(saved ? saved : EIO));
            trl_errors_kind(err, ERR_IO);
        }
        release(f);
        return failed ? -1 : 0;
    }
    bool failed = ferror(f->fp) || fflush(f->fp) || fsync(fileno(f->fp));
    int saved = errno;
    if (fclose(f->fp) && !failed) {
        failed = true;
        saved = errno;
    }
    f->fp = NULL;
    if (failed) {
        trl_errors_add(err, NULL, "cannot write %s: %s", f->tmp, strerror(saved ? saved : EIO));
    } else if (rename(f->tmp, f->path)) {
        trl_errors_add(err, NULL, "cannot rename %s to %s: %s", f->tmp, f->path, strerror(errno));
        failed = true;
    }
    if (failed) {
        trl_errors_kind(err, ERR_IO);
        unlink(f->tmp);
        release(f);
        return -1;
    }
    sync_folder(f->path);
    release(f);
    return 0;
}

void atomic_file_abort(struct atomic_file *f)
{
    if (!f) return;
    if (f->fp) fclose(f->fp);
    if (f->tmp) unlink(f->tmp);
    release(f);
}
