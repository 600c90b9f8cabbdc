/* cmd_validate.c - `trellis validate GRAPH [--json]` (SPEC section 7). */
#include <stdio.h>

#include "tools/cli.h"

static int validate_main(int argc, char **argv)
{
    bool as_json = false;
    const char *pos[1];
    int n_pos = 1;
    const struct opt opts[] = {{"--json", NULL, OPT_FLAG, &as_json, NULL}};
    int rc = cli_parse(&cmd_validate, argc, argv, opts, 1, pos, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    if (n_pos != 1) return cli_usage_error(&cmd_validate, "expected one GRAPH file");
    struct graph *g = cli_load_graph(pos[0]);
    if (!g) return EXIT_INPUT;
    struct summary s;
    summary_compute(g, &s);
    if (as_json)
        summary_print_json(g, &s, stdout);
    else
        summary_print_text(g, &s, stdout);
    graph_free(g);
    return EXIT_OK;
}

const struct command cmd_validate = {
    .name = "validate",
    .run = validate_main,
    .usage = "GRAPH [--json]",
    .summary = "check a graph and summarise it: schedule, parameters, memory per algorithm",
    .help = "Prints every error found (file, JSON path, what is wrong, how to fix it) and\n"
            "exits with status 1, or prints the nodes in schedule order, the parameter\n"
            "tensors, and the memory and multiply-adds each gradient algorithm needs.\n\n"
            "options:\n"
            "  --json    the same as one JSON object\n\n"
            "example:\n  trellis validate models/lsnn.json\n",
};
