/* cmd_run.c - `trellis run GRAPH --params P --data D [--states] -o OUT`
 * (SPEC section 7): one key per output node, [B, T, size], and "loss" when
 * there is one; with --states also "ID.v", "ID.a", ... per node's state
 * variable (trl_run_opts). */
#include <stdio.h>

#include "tools/cli.h"

static int run_main(int argc, char **argv)
{
    const char *params_path = NULL, *data_path = NULL, *out = NULL, *pos[1];
    int n_pos = 1;
    bool states = false;
    const struct opt opts[] = {
        {"--params", NULL, OPT_STRING, &params_path, NULL},
        {"--data", NULL, OPT_STRING, &data_path, NULL},
        {"--states", NULL, OPT_FLAG, &states, NULL},
        {"-o", "--output", OPT_STRING, &out, NULL},
    };
    int rc = cli_parse(&cmd_run, argc, argv, opts, CLI_COUNT(opts), pos, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    if (n_pos != 1) return cli_usage_error(&cmd_run, "expected one GRAPH file");
    if (!params_path) return cli_usage_error(&cmd_run, "--params PARAMS is required");
    if (!data_path) return cli_usage_error(&cmd_run, "--data DATA is required");
    if (!out) return cli_usage_error(&cmd_run, "-o OUT is required");

    trl_error *err = cli_error_new();
    trl_graph *g = cli_graph(pos[0], err);
    trl_params *p = NULL;
    trl_data *d = NULL;
    trl_result *res = NULL;
    int status = EXIT_INPUT;
    const trl_run_opts ro = {.states = states};
    if (g) {
        if (trl_params_new(g, &p, err) || trl_params_load(p, params_path, err) ||
            trl_data_load(g, data_path, 0, &d, err) || trl_run_with(g, p, d, &ro, &res, err) ||
            trl_result_save(res, out, err)) {
            status = cli_fail(err);
        } else {
            double loss;
            if (trl_result_loss(res, &loss)) printf("loss %.10g\n", loss);
            status = EXIT_OK;
        }
    }
    trl_result_free(res);
    trl_data_free(d);
    trl_params_free(p);
    trl_graph_free(g);
    trl_error_free(err);
    return status;
}

const struct command cmd_run = {
    .name = "run",
    .run = run_main,
    .usage = "GRAPH --params PARAMS --data DATA [--states] -o OUT",
    .summary = "run a network over a data set: outputs and loss",
    .help = "Writes one tensor per output node, [B, T, size] (its z), and \"loss\" when the\n"
            "graph has a loss and the data a target. With --states, also every node's\n"
            "state variables after each step, [B, T, size] each, named ID.NAME for the\n"
            "kind's variables: v (lif), v and a (alif), h (leaky), y (readout), I (dense,\n"
            "its pre-activation); e.g. rec.v for membrane traces and raster plots.\n\n"
            "options:\n"
            "  --params PARAMS   parameter file (safetensors, F32 or F64)\n"
            "  --data DATA       data file: one [B, T, size] tensor per input node,\n"
            "                    optional target [B, T, K] and mask [B, T]\n"
            "  --states          also write every node's state variables\n"
            "  -o OUT            output safetensors file\n\n"
            "example:\n  trellis run models/lsnn.json --params p.safetensors --data "
            "d.safetensors -o out.safetensors\n",
};
