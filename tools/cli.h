/* cli.h - what the commands of the `trellis` tool share: the command table,
 * option parsing and the exit statuses of SPEC section 7 (0 success, 1 invalid
 * input, 2 usage error). The tool is a client of the public API (trellis.h,
 * SPEC section 8) and of nothing else. */
#ifndef TRELLIS_CLI_H
#define TRELLIS_CLI_H

#include <stdbool.h>

#include "trellis.h"

enum { EXIT_OK = 0, EXIT_INPUT = 1, EXIT_USAGE = 2 };

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage; /* arguments after the command name */
    const char *summary;
    const char *help; /* options and an example, printed by --help */
};

enum opt_kind { OPT_FLAG, OPT_STRING, OPT_INT, OPT_U64, OPT_REAL };

struct opt {
    const char *name; /* "--seed"; a short alias may follow in alias */
    const char *alias;
    enum opt_kind kind;
    void *value; /* bool *, const char **, int *, unsigned long long *, double * */
    bool *seen;  /* if not NULL, set when the option is given */
};

/* The entries of an array: cli_parse(cmd, argc, argv, opts, CLI_COUNT(opts), ...). */
#define CLI_COUNT(array) ((int)(sizeof(array) / sizeof((array)[0])))
#define CLI_MAX_OPTS     48 /* options of one command */

/* Parses argv (after the command name) into the options and at most
 * *n_pos positional arguments. Prints the problem (an unknown option with
 * the closest known one) and returns EXIT_USAGE, or returns -1 if --help was
 * given (help printed), or 0. */
int cli_parse(const struct command *cmd, int argc, char **argv, const struct opt *opts, int n_opts,
              const char **pos, int *n_pos);
/* Prints "trellis NAME: message" and the command's usage line to stderr;
 * returns EXIT_USAGE. */
int cli_usage_error(const struct command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "; did you mean "NAME"?" for the closest of names to s (trl_suggest), or
 * "" when none is close; the text lasts until the next call. */
const char *cli_did_you_mean(const char *s, const char *const *names, int n);
/* Prints err's message to stderr and returns the exit status of its status
 * (SPEC section 7): EXIT_USAGE for TRL_ERR_ARGUMENT, EXIT_INPUT otherwise. */
int cli_fail(const trl_error *err);
/* A new error object, or NULL with "out of memory" printed. */
trl_error *cli_error_new(void);
/* Loads the graph, or prints why not (NULL). err is the caller's (NULL:
 * the graph is not loaded, cli_error_new has said why). */
trl_graph *cli_graph(const char *path, trl_error *err);
/* --algo and --engine (either may be NULL: --algo is then required) into
 * o: a usage error that names the options when they are wrong or do not go
 * together. 0 or EXIT_USAGE (printed). */
int cli_grad_opts(const struct command *cmd, const char *algo, const char *engine,
                  trl_grad_opts *o);

extern const struct command cmd_validate, cmd_init, cmd_run, cmd_eval, cmd_grad, cmd_data,
    cmd_train, cmd_compare, cmd_sweep, cmd_dot, cmd_bench;

/* The internal headers that cmd_train.c, train_log.c, cmd_compare.c,
 * compare_cli.c and cmd_sweep.c still use, until they are on the public API
 * too; every other file of tools/ is compiled with CLI_PUBLIC_ONLY (Makefile,
 * CLI_LEGACY), so that it cannot use them. */
#ifndef CLI_PUBLIC_ONLY
#include "tools/cli_legacy.h"
#endif

#endif
