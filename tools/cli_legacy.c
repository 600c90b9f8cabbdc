/* cli_legacy.c - see cli_legacy.h. */
#include <stdio.h>

#include "tools/cli.h"

int cli_input_error(const struct trl_errors *err)
{
    trl_errors_print(err, stderr);
    return EXIT_INPUT;
}

struct graph *cli_load_graph(const char *path)
{
    struct trl_errors err;
    struct graph *g = graph_load(path, &err);
    if (!g) cli_input_error(&err);
    return g;
}
