/* cli.h - what the commands of the `trellis` tool share: the command table,
 * option parsing and the exit statuses of SPEC section 7 (0 success, 1 invalid
 * input, 2 usage error). The tool is a client of the public API (trellis.h,
 * SPEC section 8) and of nothing else. */
#ifndef TRELLIS_CLI_H
#define TRELLIS_CLI_H

#include <stdbool.h>
#include <stdint.h>

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

/* Folds the bytes of the file at path (nothing when path is NULL) into *h,
 * 64-bit FNV-1a: what two processes compare to know they read the same
 * files. 0, or -1 if it cannot be read (printed). */
int cli_file_hash(const char *path, uint64_t *h);
#define CLI_HASH_INIT 0xcbf29ce484222325ull
struct cli_mpi;
/* Under mpirun (tools/mpi.h): do all ranks read the same files (NULL paths
 * skipped)? 0, or EXIT_INPUT, printed (cli_file_hash, cli_mpi_same). */
int cli_mpi_same_files(const struct cli_mpi *m, const char *cmd, const char *const *files,
                       size_t n);
/* --order, --feedback and --feedback-decay (SPEC 7, v2): put CLI_RULE_OPTS(r)
 * in the option table and call cli_rule_opts after cli_grad_opts. */
struct cli_rule {
    int order;
    const char *feedback;
    double decay;
    bool order_seen, decay_seen;
};
#define CLI_RULE_OPTS(r)                                                                           \
    {"--order", NULL, OPT_INT, &(r).order, &(r).order_seen},                                       \
        {"--feedback", NULL, OPT_STRING, &(r).feedback, NULL},                                     \
    {                                                                                              \
        "--feedback-decay", NULL, OPT_REAL, &(r).decay, &(r).decay_seen                            \
    }
/* The rule's options into o (and the decay into *decay when training): a
 * usage error that says why an option does not apply (--order without
 * eprop, adaptive feedback or a decay outside training). 0 or EXIT_USAGE. */
int cli_rule_opts(const struct command *cmd, const struct cli_rule *r, bool training,
                  trl_grad_opts *o, double *decay);
/* The hint after "random feedback needs feedback matrices". */
#define CLI_FEEDBACK_HINT "make them with: trellis init GRAPH --seed N --feedback random -o PARAMS"
/* Before a gradient or training (issue 19): a note on stderr when the
 * online engine that runs by default costs far more multiply-adds per step
 * (validate's numbers) than a way to the same gradient: eprop's online
 * engine against --engine reverse when no engine was chosen, rtrl against
 * bptt; never when online_updates asks for the online engine. */
void cli_cost_note(const struct command *cmd, const trl_graph *g, const trl_grad_opts *o,
                   bool online_updates);
#define CLI_COST_NOTE_RATIO 20.0

/* The cotangent file of grad --cotangent, held while o points into it. */
struct cli_cotangent {
    trl_result *file;
    trl_tensor *tensors;
};
/* --cotangent FILE and --input-grads of grad (SPEC 6.4) into o: FILE's
 * tensors (named by output ids) are read into *held, which o then points
 * into (free it after the gradient with cli_cotangent_free). 0, or the exit
 * status (the problem printed). */
int cli_grad_outside(const char *cotangent_path, bool input_grads, trl_grad_opts *o,
                     struct cli_cotangent *held);
void cli_cotangent_free(struct cli_cotangent *held);
/* cli_fail for a gradient's failure: problems in the cotangents are
 * printed as being about cotangent_path. */
int cli_grad_fail(const trl_error *err, const char *cotangent_path);

extern const struct command cmd_validate, cmd_init, cmd_run, cmd_eval, cmd_grad, cmd_data,
    cmd_train, cmd_compare, cmd_sweep, cmd_dot, cmd_bench, cmd_data_shd;

#endif
