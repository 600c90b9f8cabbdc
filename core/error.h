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

enum trl_status {
    TRL_OK = 0,
    TRL_ERR_INPUT = 1, /* bad graph, data or parameter file: exit status 1 */
    TRL_ERR_USAGE = 2, /* bad command line: exit status 2 */
};

struct trl_error {
    char path[256]; /* JSON pointer or tensor name; "" when line/col or nothing */
    int line, col;  /* > 0 for syntax errors */
    char msg[768];
};

struct trl_errors {
    char file[512]; /* the file the errors are about */
    int n;          /* errors stored, at most TRL_MAX_ERRORS */
    int n_total;    /* errors found, stored or not */
    struct trl_error e[TRL_MAX_ERRORS];
};

void trl_errors_init(struct trl_errors *err, const char *file);
/* Records an error at a JSON path (or tensor name); path may be NULL. */
void trl_errors_add(struct trl_errors *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void trl_errors_vadd(struct trl_errors *err, const char *path, const char *fmt, va_list ap);
/* Records a syntax error at line:col. */
void trl_errors_add_at(struct trl_errors *err, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Prints every stored error, one per line, and a count of the ones left out. */
void trl_errors_print(const struct trl_errors *err, FILE *f);

#endif
