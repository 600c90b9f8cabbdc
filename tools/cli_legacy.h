/* cli_legacy.h - the internal headers and helpers of the tools not yet on the
 * public API (cli.h, CLI_LEGACY in the Makefile). It goes when they do. */
#ifndef TRELLIS_CLI_LEGACY_H
#define TRELLIS_CLI_LEGACY_H

#include "core/alloc.h"
#include "core/error.h"
#include "core/real.h"
#include "engines/run.h"
#include "graph/graph.h"
#include "io/data.h"
#include "io/params.h"
#include "study/summary.h"

/* Prints the errors and returns EXIT_INPUT. */
int cli_input_error(const struct trl_errors *err);
/* Loads the graph or prints why not. */
struct graph *cli_load_graph(const char *path);

#endif
