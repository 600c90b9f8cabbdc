/* error.h - errors as values with a location (jansson's json_error_t style).
 *
 * A library call that fails fills a struct trl_errors and returns -1 or NULL;
 * only the command-line tool prints and picks the exit status. Validation
 * collects every error it finds, up to TRL_MAX_ERRORS, like a compiler.
 *
 * Printed form, one line per error:
 *   FILE: /json/path: message            (semantic errors: a JSON pointer)
 *   FILE:LINE:COL: message               (syntax errors)
 *   FILE: message                        (errors about the whole file)
 */
#ifndef TRELLIS_ERROR_H
#define TRELLIS_ERROR_H

#include <stdarg.h>
#include <stdio.h>

#define TRL_MAX_ERRORS 20

/* What kind of failure err holds; the values are the public trl_status
 * codes (include/trellis.h). An error recorded without a kind is ERR_INPUT. */
enum err_kind {
    ERR_NONE = 0,
    ERR_INPUT = 1,    /* bad graph, data or parameter file or value */
    ERR_ARGUMENT = 2, /* a bad argument of a call */
    ERR_IO = 3,       /* a file that cannot be read or written */
    ERR_MEMORY = 4,   /* out of memory, or beyond a size limit */
    ERR_NUMERIC = 5,  /* a loss or gradient that is not finite */
};

struct trl_error_entry {
    char path[256]; /* JSON pointer or tensor name; "" when line/col or nothing */
    int line, col;  /* > 0 for syntax errors */
    char msg[768];
};

struct trl_errors {
    char file[512];     /* the file the errors are about */
    int n;              /* errors stored, at most TRL_MAX_ERRORS */
    int n_total;        /* errors found, stored or not */
    enum err_kind kind; /* of the first error recorded (ERR_NONE: none) */
    struct trl_error_entry e[TRL_MAX_ERRORS];
};

void trl_errors_init(struct trl_errors *err, const char *file);
/* Records an error at a JSON path (or tensor name); path may be NULL. */
void trl_errors_add(struct trl_errors *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void trl_errors_vadd(struct trl_errors *err, const char *path, const char *fmt, va_list ap);
/* Sets the kind of the errors recorded (the last call wins). */
void trl_errors_kind(struct trl_errors *err, enum err_kind kind);
/* Records a syntax error at line:col. */
void trl_errors_add_at(struct trl_errors *err, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Prints every stored error, one per line, and a count of the ones left out. */
void trl_errors_print(const struct trl_errors *err, FILE *f);

#endif
