/* cli.c - see cli.h. */
#include "tools/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/mpi.h"

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

int cli_file_hash(const char *path, uint64_t *h)
{
    if (!path) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot read: %s\n", path, strerror(errno));
        return -1;
    }
    unsigned char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        for (size_t i = 0; i < n; i++) *h = (*h ^ buf[i]) * 0x100000001b3ull;
    int bad = ferror(f);
    fclose(f);
    if (bad) fprintf(stderr, "%s: cannot read\n", path);
    return bad ? -1 : 0;
}

int cli_mpi_same_files(const struct cli_mpi *m, const char *cmd, const char *const *files, size_t n)
{
    if (m->size <= 1) return 0;
    uint64_t h = CLI_HASH_INIT;
    for (size_t k = 0; k < n; k++)
        if (cli_file_hash(files[k], &h)) return EXIT_INPUT;
    return cli_mpi_same(m, cmd, h);
}

int cli_rule_opts(const struct command *cmd, const struct cli_rule *r, bool training,
                  trl_grad_opts *o, double *decay)
{
    if (r->order_seen && o->algo != TRL_ALGO_EPROP)
        return cli_usage_error(cmd,
                               "--order applies to --algo eprop only (%s is exact: it keeps every "
                               "path)",
                               trl_algo_name(o->algo));
    if (r->order_seen && r->order < 1)
        return cli_usage_error(cmd, "--order must be at least 1 (1 is deep e-prop)");
    o->order = r->order_seen ? r->order : 1;
    const char *fb = r->feedback ? r->feedback : "symmetric";
    if (!strcmp(fb, "symmetric"))
        o->feedback = TRL_FEEDBACK_SYMMETRIC;
    else if (!strcmp(fb, "random"))
        o->feedback = TRL_FEEDBACK_RANDOM;
    else if (!strcmp(fb, "adaptive") && training)
        o->feedback = TRL_FEEDBACK_ADAPTIVE;
    else if (!strcmp(fb, "adaptive"))
        return cli_usage_error(cmd, "--feedback adaptive is a training rule (the matrices follow "
                                    "the weight updates): use it with trellis train");
    else
        return cli_usage_error(cmd, "--feedback must be symmetric or random%s (got \"%s\")",
                               training ? " or adaptive" : "", fb);
    if (r->decay_seen && o->feedback != TRL_FEEDBACK_ADAPTIVE)
        return cli_usage_error(cmd, "--feedback-decay applies to train --feedback adaptive only "
                                    "(the matrices do not change otherwise)");
    if (r->decay_seen && !(r->decay >= 0 && r->decay <= 1))
        return cli_usage_error(cmd, "--feedback-decay must be from 0 to 1 (got %g)", r->decay);
    if (decay) *decay = r->decay_seen ? r->decay : 0;
    return 0;
}

void cli_cost_note(const struct command *cmd, const trl_graph *g, const trl_grad_opts *o,
                   bool online_updates)
{
    const bool eprop_default = o->algo == TRL_ALGO_EPROP && o->engine == TRL_ENGINE_DEFAULT;
    trl_summary s; /* planned only where a note may follow */
    if (online_updates || !(eprop_default || o->algo == TRL_ALGO_RTRL) ||
        trl_graph_summary(g, &s, NULL) != TRL_OK)
        return;
    const trl_algo_cost *slow = NULL, *fast = NULL;
    const char *what = NULL, *option = NULL;
    if (eprop_default) {
        slow = &s.eprop_online;
        fast = &s.eprop_reverse;
        what = "eprop's online engine (the default)";
        option = "--engine reverse";
    } else if (o->algo == TRL_ALGO_RTRL) {
        slow = &s.rtrl;
        fast = &s.bptt;
        what = "rtrl";
        option = "--algo bptt";
    }
    if (!slow || !slow->available ||
        slow->macs_per_step < CLI_COST_NOTE_RATIO * fast->macs_per_step)
        return;
    char a[32], b[32];
    trl_format_count(slow->macs_per_step, a, sizeof a);
    trl_format_count(fast->macs_per_step, b, sizeof b);
    fprintf(stderr,
            "trellis %s: note: %s needs %s multiply-adds per step and sample on this graph, %s "
            "%s for the same gradient (about %.0fx fewer; its memory grows with T)%s\n",
            cmd->name, what, a, option, b, slow->macs_per_step / fast->macs_per_step,
            o->algo == TRL_ALGO_EPROP ? "; --engine online keeps the online engine and this note "
                                        "away"
                                      : "");
}

int cli_grad_outside(const char *cotangent_path, bool input_grads, trl_grad_opts *o,
                     struct cli_cotangent *held)
{
    *held = (struct cli_cotangent){0};
    o->input_grads = input_grads;
    if (!cotangent_path) return 0;
    trl_error *err = trl_error_new();
    if (!err || trl_result_load(cotangent_path, &held->file, err) != TRL_OK) {
        int rc = err ? cli_fail(err) : EXIT_INPUT;
        trl_error_free(err);
        return rc;
    }
    trl_error_free(err);
    const int n = trl_result_count(held->file);
    held->tensors = calloc((size_t)n + 1, sizeof *held->tensors);
    if (!held->tensors) {
        fprintf(stderr, "%s: out of memory\n", cotangent_path);
        return EXIT_INPUT;
    }
    for (int i = 0; i < n; i++) trl_result_tensor(held->file, i, &held->tensors[i]);
    o->cotangent = held->tensors;
    o->n_cotangent = n;
    return 0;
}

void cli_cotangent_free(struct cli_cotangent *held)
{
    trl_result_free(held->file);
    free(held->tensors);
    *held = (struct cli_cotangent){0};
}

int cli_grad_fail(const trl_error *err, const char *cotangent_path)
{
    if (!cotangent_path || strcmp(trl_error_file(err), "cotangent") != 0) return cli_fail(err);
    for (int i = 0; i < trl_error_count(err); i++) {
        const char *path, *msg = trl_error_at(err, i, &path, NULL, NULL);
        fprintf(stderr, "%s: %s%s%s\n", cotangent_path, path, *path ? ": " : "", msg);
    }
    return trl_error_status(err) == TRL_ERR_ARGUMENT ? EXIT_USAGE : EXIT_INPUT;
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
