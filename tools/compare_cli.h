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

/* Parses "eprop,rtrl" (names bptt, rtrl, eprop; each at most once) and the
 * --engine name (NULL: default; online or reverse, eprop only) into algos.
 * Returns the number of algorithms, or prints a usage error and returns -1. */
int compare_cli_algos(const struct command *cmd, const char *list, const char *engine,
                      trl_grad_opts algos[TRL_COMPARE_MAX]);
/* A number for a table, right-aligned in width: "-" for NaN, "inf". */
void compare_cli_cell(char *buf, size_t cap, double v, int digits);
/* A number for JSON: null when not finite. New reference. */
json_t *compare_cli_json_real(double v);
/* A number for CSV: NaN, Inf or %.9g. */
void compare_cli_csv(FILE *f, double v);
/* Bytes as "0 B", "12.3 KiB", "1.5 MiB", ... */
void compare_cli_bytes(char *buf, size_t cap, size_t bytes);

#endif
