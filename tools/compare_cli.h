/* compare_cli.h - what `trellis compare` and `trellis sweep` share: the
 * --algos list and --engine option, and the formatting of the metrics of
 * trl_compare (trellis.h; NaN, the undefined 0/0, prints as "-" in tables, null
 * in JSON and NaN in CSV; +Inf as "inf", null and Inf). */
#ifndef TRELLIS_COMPARE_CLI_H
#define TRELLIS_COMPARE_CLI_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "tools/cli.h"

/* The axes of a comparison: --algos, --engine, --order and --feedback
 * (NULL: the default). */
struct compare_cli_axes {
    const char *algos;    /* "eprop,rtrl": names bptt, rtrl, eprop, each at most once */
    const char *engine;   /* online or reverse, eprop only */
    const char *orders;   /* "1,2,3": m-order e-prop (SPEC 6.2), eprop only */
    const char *feedback; /* "symmetric,random" (SPEC 6.3) */
};
/* Every algorithm of the list, eprop once per order, each once per feedback
 * mode, into algos (at most TRL_COMPARE_MAX). Returns the number of
 * gradients, or prints a usage error and returns -1. */
int compare_cli_algos(const struct command *cmd, const struct compare_cli_axes *ax,
                      trl_grad_opts algos[TRL_COMPARE_MAX]);
/* The name of a compared gradient: trl_grad_label, then " order M" for
 * M > 1 and " random" for random feedback ("eprop reverse order 2 random"). */
void compare_cli_label(const trl_grad_opts *o, char *buf, size_t cap);
/* A number for a table, right-aligned in width: "-" for NaN, "inf". */
void compare_cli_cell(char *buf, size_t cap, double v, int digits);
/* A number for JSON: null when not finite. New reference. */
json_t *compare_cli_json_real(double v);
/* A number for CSV: NaN, Inf or %.9g. */
void compare_cli_csv(FILE *f, double v);
/* Bytes as "0 B", "12.3 KiB", "1.5 MiB", ... */
void compare_cli_bytes(char *buf, size_t cap, size_t bytes);

#endif
