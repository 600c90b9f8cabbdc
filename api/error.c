/* error.c - the public error object, status names and the version (trellis.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

_Static_assert((int)ERR_INPUT == TRL_ERR_INPUT && (int)ERR_ARGUMENT == TRL_ERR_ARGUMENT &&
                   (int)ERR_IO == TRL_ERR_IO && (int)ERR_MEMORY == TRL_ERR_MEMORY &&
                   (int)ERR_NUMERIC == TRL_ERR_NUMERIC,
               "core/error.h's kinds are the public status codes");

TRL_API const char *trl_version(void)
{
    return TRL_VERSION_STRING " " TRL_PRECISION;
}

TRL_API const char *trl_precision(void)
{
    return TRL_PRECISION;
}

TRL_API const char *trl_status_name(trl_status s)
{
    switch (s) {
    case TRL_OK:
        return "success";
    case TRL_ERR_INPUT:
        return "invalid input";
    case TRL_ERR_ARGUMENT:
        return "invalid argument";
    case TRL_ERR_IO:
        return "file error";
    case TRL_ERR_MEMORY:
        return "out of memory";
    case TRL_ERR_NUMERIC:
        return "numerical error";
    case TRL_STOPPED:
        return "stopped";
    }
    return "unknown status";
}

TRL_API trl_error *trl_error_new(void)
{
    trl_error *err = calloc(1, sizeof *err);
    if (err) trl_errors_init(&err->e, NULL);
    return err;
}

TRL_API void trl_error_free(trl_error *err)
{
    if (!err) return;
    free(err->text);
    free(err);
}

TRL_API trl_status trl_error_status(const trl_error *err)
{
    return err ? api_status(&err->e) : TRL_OK;
}

TRL_API const char *trl_error_message(const trl_error *err)
{
    if (!err) return "";
    trl_error *w = (trl_error *)err; /* the text is a cache of the errors */
    free(w->text);
    w->text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&w->text, &len);
    if (!f) return "out of memory for the error message";
    trl_errors_print(&err->e, f);
    if (fclose(f) != 0 || !w->text) return "out of memory for the error message";
    if (len > 0 && w->text[len - 1] == '\n') w->text[len - 1] = 0; /* lines joined, none after */
    return w->text;
}

TRL_API const char *trl_error_file(const trl_error *err)
{
    return err ? err->e.file : "";
}

TRL_API int trl_error_count(const trl_error *err)
{
    return err ? err->e.n : 0;
}

TRL_API int trl_error_total(const trl_error *err)
{
    return err ? err->e.n_total : 0;
}

TRL_API const char *trl_error_at(const trl_error *err, int i, const char **path, int *line,
                                 int *column)
{
    if (!err || i < 0 || i >= err->e.n) return NULL;
    const struct trl_error_entry *x = &err->e.e[i];
    if (path) *path = x->path;
    if (line) *line = x->line;
    if (column) *column = x->col;
    return x->msg;
}

TRL_API void trl_string_free(char *s)
{
    free(s);
}

struct trl_errors *api_errors(trl_error *err, struct trl_errors *scratch, const char *file)
{
    struct trl_errors *e = err ? &err->e : scratch;
    trl_errors_init(e, file);
    return e;
}

trl_status api_status(const struct trl_errors *e)
{
    return e->n_total ? (trl_status)e->kind : TRL_OK;
}

trl_status api_fail(struct trl_errors *e, enum err_kind kind, const char *path, const char *fmt,
                    ...)
{
    va_list ap;
    va_start(ap, fmt);
    trl_errors_vadd(e, path, fmt, ap);
    va_end(ap);
    trl_errors_kind(e, kind);
    return (trl_status)kind;
}

trl_status api_failed(struct trl_errors *e)
{
    if (!e->n_total) return api_fail(e, ERR_MEMORY, NULL, "out of memory");
    return api_status(e);
}

trl_status api_same_graph(struct trl_errors *e, const struct graph *g, const trl_params *p,
                          const trl_data *d)
{
    if (p->g != g || d->g != g)
        return api_fail(e, ERR_ARGUMENT, NULL, "the parameters and data belong to another graph");
    return TRL_OK;
}
