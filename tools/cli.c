/* cli.c - see cli.h. */
#include "tools/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_usage_error(const struct command *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "trellis %s: ", cmd->name);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: trellis %s %s\n(trellis %s --help for more)\n", cmd->name, cmd->usage,
            cmd->name);
    return EXIT_USAGE;
}

const char *cli_did_you_mean(const char *s, const char *const *names, int n)
{
    static char hint[160];
    const char *best = trl_suggest(s, names, n);
    if (!best) return "";
    snprintf(hint, sizeof hint, "; did you mean \"%s\"?", best);
    return hint;
}

int cli_fail(const trl_error *err)
{
    fprintf(stderr, "%s\n", trl_error_message(err));
    return trl_error_status(err) == TRL_ERR_ARGUMENT ? EXIT_USAGE : EXIT_INPUT;
}

trl_error *cli_error_new(void)
{
    trl_error *err = trl_error_new();
    if (!err) fprintf(stderr, "trellis: out of memory\n");
    return err;
}

trl_graph *cli_graph(const char *path, trl_error *err)
{
    trl_graph *g = NULL;
    if (err && trl_graph_load(path, &g, err) != TRL_OK) cli_fail(err);
    return g;
}

int cli_grad_opts(const struct command *cmd, const char *algo, const char *engine, trl_grad_opts *o)
{
    *o = (trl_grad_opts)TRL_GRAD_OPTS_INIT;
    if (!algo) return cli_usage_error(cmd, "--algo bptt|rtrl|eprop is required");
    static const char *const algos[] = {"bptt", "rtrl", "eprop"}, *const engines[] = {"online",
                                                                                      "reverse"};
    if (trl_algo_parse(algo, &o->algo, NULL) != TRL_OK)
        return cli_usage_error(cmd, "--algo must be bptt, rtrl or eprop (got \"%s\")%s", algo,
                               cli_did_you_mean(algo, algos, CLI_COUNT(algos)));
    if (!engine) return 0;
    if (trl_engine_parse(engine, &o->engine, NULL) != TRL_OK)
        return cli_usage_error(cmd, "--engine must be online or reverse (got \"%s\")%s", engine,
                               cli_did_you_mean(engine, engines, CLI_COUNT(engines)));
    if (o->algo != TRL_ALGO_EPROP)
        return cli_usage_error(cmd, "--engine applies to --algo eprop only (%s has one engine)",
                               algo);
    return 0;
}

static int parse_value(const struct command *cmd, const struct opt *o, const char *arg)
{
    char *end = NULL;
    errno = 0;
    switch (o->kind) {
    case OPT_STRING:
        *(const char **)o->value = arg;
        return 0;
    case OPT_INT: {
        long v = strtol(arg, &end, 10);
        if (errno || !*arg || *end || v < 0 || v > 1000000000)
            return cli_usage_error(cmd, "%s needs a whole number from 0 to 1e9 (got \"%s\")",
                                   o->name, arg);
        *(int *)o->value = (int)v;
        return 0;
    }
    case OPT_U64: {
        unsigned long long v = strtoull(arg, &end, 10);
        if (errno || !*arg || *end || arg[0] == '-')
            return cli_usage_error(cmd, "%s needs a non-negative whole number (got \"%s\")",
                                   o->name, arg);
        *(unsigned long long *)o->value = v;
        return 0;
    }
    case OPT_REAL: {
        double v = strtod(arg, &end);
        if (errno || !*arg || *end || v != v)
            return cli_usage_error(cmd, "%s needs a number (got \"%s\")", o->name, arg);
        *(double *)o->value = v;
        return 0;
    }
    default:
        return 0;
    }
}

static void print_help(const struct command *cmd)
{
    printf("usage: trellis %s %s\n\n%s\n%s", cmd->name, cmd->usage, cmd->summary,
           cmd->help ? cmd->help : "");
}

/* An option that is not one of opts: the error, with the closest name. */
static int unknown_option(const struct command *cmd, const char *a, const struct opt *opts,
                          int n_opts)
{
    const char *names[2 * CLI_MAX_OPTS + 1];
    int n = 0;
    names[n++] = "--help";
    for (int k = 0; k < n_opts && k < CLI_MAX_OPTS; k++) {
        names[n++] = opts[k].name;
        if (opts[k].alias) names[n++] = opts[k].alias;
    }
    return cli_usage_error(cmd, "unknown option \"%s\"%s", a, cli_did_you_mean(a, names, n));
}

int cli_parse(const struct command *cmd, int argc, char **argv, const struct opt *opts, int n_opts,
              const char **pos, int *n_pos)
{
    int max_pos = *n_pos;
    *n_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_help(cmd);
            return -1;
        }
        if (a[0] != '-' || a[1] == 0) {
            if (*n_pos >= max_pos) return cli_usage_error(cmd, "unexpected argument \"%s\"", a);
            pos[(*n_pos)++] = a;
            continue;
        }
        const struct opt *o = NULL;
        for (int k = 0; k < n_opts && !o; k++)
            if (strcmp(a, opts[k].name) == 0 || (opts[k].alias && strcmp(a, opts[k].alias) == 0))
                o = &opts[k];
        if (!o) return unknown_option(cmd, a, opts, n_opts);
        if (o->seen) *o->seen = true;
        if (o->kind == OPT_FLAG) {
            *(bool *)o->value = true;
            continue;
        }
        if (i + 1 >= argc) return cli_usage_error(cmd, "%s needs a value", o->name);
        int rc = parse_value(cmd, o, argv[++i]);
        if (rc) return rc;
    }
    return 0;
}
