/* compare_cli.c - see compare_cli.h. */
#include "tools/compare_cli.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The next item of a comma-separated list at *p into buf (cap bytes):
 * 0, or -1 when it does not fit. *p moves past it; NULL after the last. */
static int next_item(const char **p, char *buf, size_t cap)
{
    size_t len = strcspn(*p, ",");
    if (len >= cap) return -1;
    memcpy(buf, *p, len);
    buf[len] = '\0';
    *p = (*p)[len] ? *p + len + 1 : NULL;
    return 0;
}

/* --algos into algos[0..): the number, or -1 (printed). */
static int parse_algos(const struct command *cmd, const char *list, trl_grad_opts *algos)
{
    int n = 0;
    bool seen[3] = {false, false, false};
    for (const char *p = list; p;) {
        char name[16];
        trl_algo a = TRL_ALGO_BPTT;
        if (next_item(&p, name, sizeof name) || trl_algo_parse(name, &a, NULL) != TRL_OK ||
            seen[a]) {
            cli_usage_error(cmd,
                            "--algos takes a comma-separated list of bptt, rtrl and eprop, "
                            "each at most once (got \"%s\")",
                            list);
            return -1;
        }
        seen[a] = true;
        algos[n] = (trl_grad_opts)TRL_GRAD_OPTS_INIT;
        algos[n++].algo = a;
    }
    return n;
}

/* --order into orders[0..8): the number, or -1 (printed). */
static int parse_orders(const struct command *cmd, const char *list, int orders[8])
{
    int n = 0;
    for (const char *p = list; p;) {
        char item[16], *end = NULL;
        long m = 0;
        if (n < 8 && !next_item(&p, item, sizeof item)) m = strtol(item, &end, 10);
        if (m < 1 || m > 1000000 || !end || *end || end == item) {
            cli_usage_error(cmd,
                            "--order takes up to 8 comma-separated orders from 1 to 1000000 "
                            "(got \"%s\")",
                            list);
            return -1;
        }
        orders[n++] = (int)m;
    }
    return n;
}

/* --feedback into modes[0..2): the number, or -1 (printed). */
static int parse_feedback(const struct command *cmd, const char *list, trl_feedback modes[2])
{
    int n = 0;
    for (const char *p = list; p;) {
        char item[16] = "";
        bool ok = n < 2 && !next_item(&p, item, sizeof item);
        trl_feedback f = strcmp(item, "random") == 0 ? TRL_FEEDBACK_RANDOM : TRL_FEEDBACK_SYMMETRIC;
        ok = ok && (f == TRL_FEEDBACK_RANDOM || strcmp(item, "symmetric") == 0) &&
             (n == 0 || modes[0] != f);
        if (!ok) {
            cli_usage_error(cmd,
                            "--feedback takes symmetric, random or both, comma-separated "
                            "(got \"%s\"; adaptive is a training rule)",
                            list);
            return -1;
        }
        modes[n++] = f;
    }
    return n;
}

int compare_cli_algos(const struct command *cmd, const struct compare_cli_axes *ax,
                      trl_grad_opts algos[TRL_COMPARE_MAX])
{
    trl_engine eng = TRL_ENGINE_DEFAULT;
    if (ax->engine && trl_engine_parse(ax->engine, &eng, NULL) != TRL_OK) {
        cli_usage_error(cmd, "--engine must be online or reverse (got \"%s\")", ax->engine);
        return -1;
    }
    trl_grad_opts base[3];
    int orders[8] = {1}, n_orders = 1, n_fb = 1;
    trl_feedback fb[2] = {TRL_FEEDBACK_SYMMETRIC};
    int n_base = parse_algos(cmd, ax->algos ? ax->algos : "eprop", base);
    if (n_base < 0 || (ax->orders && (n_orders = parse_orders(cmd, ax->orders, orders)) < 0) ||
        (ax->feedback && (n_fb = parse_feedback(cmd, ax->feedback, fb)) < 0))
        return -1;
    bool eprop = false;
    for (int a = 0; a < n_base; a++) eprop = eprop || base[a].algo == TRL_ALGO_EPROP;
    if ((ax->engine || ax->orders) && !eprop) {
        cli_usage_error(cmd, "%s applies to eprop only, which --algos does not list",
                        ax->engine ? "--engine" : "--order");
        return -1;
    }
    int n = 0, want = 0;
    for (int a = 0; a < n_base; a++) want += (base[a].algo == TRL_ALGO_EPROP ? n_orders : 1) * n_fb;
    if (want > TRL_COMPARE_MAX) {
        cli_usage_error(cmd,
                        "at most %d gradients besides bptt (got %d: the algorithms, eprop once "
                        "per --order, each once per --feedback mode)",
                        TRL_COMPARE_MAX, want);
        return -1;
    }
    for (int a = 0; a < n_base; a++) {
        const bool is_eprop = base[a].algo == TRL_ALGO_EPROP;
        for (int k = 0; k < (is_eprop ? n_orders : 1); k++)
            for (int f = 0; f < n_fb; f++) {
                algos[n] = base[a];
                algos[n].engine = is_eprop ? eng : TRL_ENGINE_DEFAULT;
                algos[n].order = is_eprop ? orders[k] : 0;
                algos[n++].feedback = fb[f];
            }
    }
    return n;
}

void compare_cli_label(const trl_grad_opts *o, char *buf, size_t cap)
{
    char order[32] = "";
    if (o->order > 1) snprintf(order, sizeof order, " order %d", o->order);
    snprintf(buf, cap, "%s%s%s", trl_grad_label(o), order,
             o->feedback == TRL_FEEDBACK_RANDOM ? " random" : "");
}

void compare_cli_cell(char *buf, size_t cap, double v, int digits)
{
    if (isnan(v))
        snprintf(buf, cap, "-");
    else if (isinf(v))
        snprintf(buf, cap, v > 0 ? "inf" : "-inf");
    else
        snprintf(buf, cap, "%.*g", digits, v);
}

json_t *compare_cli_json_real(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

void compare_cli_csv(FILE *f, double v)
{
    if (isnan(v))
        fputs("NaN", f);
    else if (isinf(v))
        fputs(v > 0 ? "Inf" : "-Inf", f);
    else
        fprintf(f, "%.9g", v);
}

void compare_cli_bytes(char *buf, size_t cap, size_t bytes)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}
