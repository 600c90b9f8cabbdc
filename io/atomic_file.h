/* atomic_file.h - every file trellis writes whole goes through here: it is
 * written to "<path>.tmp.XXXXXX" in the destination's folder, with the mode
 * a plain fopen would give (0666 less the umask), flushed and synced, then
 * renamed over path. A failure at any step removes the temporary, so path is
 * either what it was (or absent) or the complete new file. A destination
 * that is a device or a pipe (/dev/null, /dev/full) is written in place (a
 * write error such as ENOSPC is reported; the device is never replaced by a
 * file); a folder is refused. */
#ifndef TRELLIS_ATOMIC_FILE_H
#define TRELLIS_ATOMIC_FILE_H

#include <stdio.h>

#include "core/error.h"

struct atomic_file;

/* Creates the temporary of path. NULL with err set (the temporary's name and
 * the reason) on failure. */
struct atomic_file *atomic_file_open(const char *path, struct trl_errors *err);
/* The stream to write to (binary; owned by the atomic file). */
FILE *atomic_file_stream(struct atomic_file *f);
/* Flushes, syncs, closes and renames over path; frees f either way. 0, or -1
 * with err set (and the temporary removed). */
int atomic_file_commit(struct atomic_file *f, struct trl_errors *err);
/* Closes and removes the temporary, leaving path as it was; frees f (NULL is
 * ignored). */
void atomic_file_abort(struct atomic_file *f);

#endif
