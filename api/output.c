/* output.c - the caller's files written whole (trellis.h; io/atomic_file.h). */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "io/atomic_file.h"

struct trl_output {
    struct atomic_file *f;
    char *path; /* for the errors of commit */
};

TRL_API trl_status trl_output_open(const char *path, trl_output **out, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, path);
    API_NEED(e, out, "out");
    *out = NULL;
    API_NEED(e, path, "the path");
    trl_output *o = malloc(sizeof *o);
    if (!o) return api_fail(e, ERR_MEMORY, NULL, "out of memory");
    o->path = strdup(path);
    o->f = o->path ? atomic_file_open(path, e) : NULL;
    if (!o->f) {
        free(o->path);
        free(o);
        return api_failed(e);
    }
    *out = o;
    return TRL_OK;
}

TRL_API FILE *trl_output_stream(trl_output *o)
{
    return o ? atomic_file_stream(o->f) : NULL;
}

TRL_API trl_status trl_output_commit(trl_output *o, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, o ? o->path : NULL);
    API_NEED(e, o, "the output");
    int rc = atomic_file_commit(o->f, e);
    free(o->path);
    free(o);
    return rc ? api_failed(e) : TRL_OK;
}

TRL_API void trl_output_abort(trl_output *o)
{
    if (!o) return;
    atomic_file_abort(o->f);
    free(o->path);
    free(o);
}
