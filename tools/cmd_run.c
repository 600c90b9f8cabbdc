/* cmd_run.c - `trellis run GRAPH --params P --data D -o OUT` (SPEC section 7):
 * one key per output node, [B, T, size], and "loss" when there is one. */
#include <stdio.h>

#include "tools/cli.h"

static int run_main(int argc, char **argv)
{
    const char *params_path = NULL, *data_path = NULL, *out = NULL, *pos[1];
    int n_pos = 1;
    const struct opt opts[] = {
        {"--params", NULL, OPT_STRING, &params_path, NULL},
        {"--data", NULL, OPT_STRING, &data_path, NULL},
        {"-o", "--output", OPT_STRING, &out, NULL},
    };
    int rc = cli_parse(&cmd_run, argc, argv, opts, 3, pos, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    if (n_pos != 1) return cli_usage_error(&cmd_run, "expected one GRAPH file");
    if (!params_path) return cli_usage_error(&cmd_run, "--params PARAMS is required");
    if (!data_path) return cli_usage_error(&cmd_run, "--data DATA is required");
    if (!out) return cli_usage_error(&cmd_run, "-o OUT is required");

    struct graph *g = cli_load_graph(pos[0]);
    if (!g) return EXIT_INPUT;
    int status = EXIT_INPUT;
    struct data *d = NULL;
    struct run_result res = {0};
    struct trl_errors err;
    trl_errors_init(&err, params_path);
    trl_real *params = params_new(g);
    if (!params) {
        trl_errors_add(&err, NULL, "out of memory for %zu parameters", g->n_param_values);
        goto done;
    }
    if (params_load(g, params_path, params, &err)) goto done;
    trl_errors_init(&err, data_path);
    d = data_load(g, data_path, DATA_TARGET_OPTIONAL, &err);
    if (!d) goto done;
    trl_errors_init(&err, out);
    if (run_forward(g, params, d, &res, &err) || run_result_save(g, d, &res, out, &err)) goto done;
    status = EXIT_OK;
    if (res.has_loss) printf("loss %.10g\n", res.loss);
done:
    if (status != EXIT_OK) cli_input_error(&err);
    run_result_free(&res);
    data_free(d);
    trl_free(params);
    graph_free(g);
    return status;
}

const struct command cmd_run = {
    .name = "run",
    .run = run_main,
    .usage = "GRAPH --params PARAMS --data DATA -o OUT",
    .summary = "run a network over a data set: outputs and loss",
    .help = "Writes one tensor per output node, [B, T, size] (its z), and \"loss\" when the\n"
            "graph has a loss and the data a target.\n\n"
            "options:\n"
            "  --params PARAMS   parameter file (safetensors, F32 or F64)\n"
            "  --data DATA       data file: one [B, T, size] tensor per input node,\n"
            "                    optional target [B, T, K] and mask [B, T]\n"
            "  -o OUT            output safetensors file\n\n"
            "example:\n  trellis run models/lsnn.json --params p.safetensors --data "
            "d.safetensors -o out.safetensors\n",
};
