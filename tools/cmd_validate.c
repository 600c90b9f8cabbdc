/* cmd_validate.c - `trellis validate GRAPH [--json]` (SPEC section 7). */
#include <stdio.h>

#include "tools/cli.h"

static int validate_main(int argc, char **argv)
{
    bool as_json = false;
    const char *pos[1];
    int n_pos = 1;
    const struct opt opts[] = {{"--json", NULL, OPT_FLAG, &as_json, NULL}};
    int rc = cli_parse(&cmd_validate, argc, argv, opts, CLI_COUNT(opts), pos, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    if (n_pos != 1) return cli_usage_error(&cmd_validate, "expected one GRAPH file");
    trl_error *err = cli_error_new();
    trl_graph *g = cli_graph(pos[0], err);
    char *text = NULL;
    int status = EXIT_INPUT;
    if (g && trl_graph_report(g, as_json, &text, err) != TRL_OK)
        status = cli_fail(err);
    else if (g)
        status = fputs(text, stdout) < 0 ? EXIT_INPUT : EXIT_OK;
    trl_string_free(text);
    trl_graph_free(g);
    trl_error_free(err);
    return status;
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
