/* util.h - what the libFuzzer harnesses share: a file that holds the
 * current input (the loaders read paths), checks that every failure is
 * reported, and small graphs to bind files and calls to. */
#ifndef TRELLIS_FUZZ_UTIL_H
#define TRELLIS_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "trellis.h"

/* Writes bytes into the process's scratch file (a memfd, made once) and
 * returns its path (/proc/self/fd/N). Aborts if the file cannot be written:
 * that is the harness failing, not the library. */
const char *fuzz_file(const uint8_t *data, size_t size);

/* Aborts unless a failed call said what went wrong: a status other than
 * TRL_OK must come with a message and the same status in err. */
void fuzz_check_error(trl_status s, const trl_error *err);

/* A graph parsed from text that must be valid (aborts otherwise). */
trl_graph *fuzz_graph(const char *text);

/* Graphs the harnesses bind files and calls to: every node kind, delays,
 * a frozen edge, a bias, both losses. */
extern const char *const fuzz_graphs[];
extern const int fuzz_n_graphs;

#endif
