/* error.c - see error.h. */
#include "core/error.h"

#include <string.h>

void trl_errors_init(struct trl_errors *err, const char *file)
{
    memset(err, 0, sizeof *err);
    snprintf(err->file, sizeof err->file, "%s", file ? file : "");
}

void trl_errors_vadd(struct trl_errors *err, const char *path, const char *fmt, va_list ap)
{
    err->n_total++;
    if (err->kind == ERR_NONE) err->kind = ERR_INPUT;
    if (err->n >= TRL_MAX_ERRORS) return;
    struct trl_error_entry *e = &err->e[err->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->path, sizeof e->path, "%s", path ? path : "");
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
}

void trl_errors_kind(struct trl_errors *err, enum err_kind kind)
{
    err->kind = kind;
}

void trl_errors_add(struct trl_errors *err, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    trl_errors_vadd(err, path, fmt, ap);
    va_end(ap);
}

void trl_errors_add_at(struct trl_errors *err, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    trl_errors_vadd(err, NULL, fmt, ap);
    va_end(ap);
    if (err->n_total <= TRL_MAX_ERRORS) {
        err->e[err->n - 1].line = line;
        err->e[err->n - 1].col = col;
    }
}

void trl_errors_print(const struct trl_errors *err, FILE *f)
{
    for (int i = 0; i < err->n; i++) {
        const struct trl_error_entry *e = &err->e[i];
        if (e->line > 0)
            fprintf(f, "%s:%d:%d: %s\n", err->file, e->line, e->col, e->msg);
        else if (e->path[0])
            fprintf(f, "%s: %s: %s\n", err->file, e->path, e->msg);
        else
            fprintf(f, "%s: %s\n", err->file, e->msg);
    }
    if (err->n_total > err->n)
        fprintf(f, "%s: %d more error%s not shown\n", err->file, err->n_total - err->n,
                err->n_total - err->n == 1 ? "" : "s");
}
