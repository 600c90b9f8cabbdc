/* cmd_grad.c - `trellis grad GRAPH --params P --data D --algo A [--engine E]
 * -o GRADS` (SPEC sections 6, 7): one key per trainable parameter and "loss". */
#include <stdio.h>

#include "tools/cli.h"

static int grad_main(int argc, char **argv)
{
    const char *params_path = NULL, *data_path = NULL, *out = NULL, *algo_name = NULL;
    const char *engine_name = NULL, *pos[1];
    int n_pos = 1;
    const struct opt opts[] = {
        {"--params", NULL, OPT_STRING, &params_path, NULL},
        {"--data", NULL, OPT_STRING, &data_path, NULL},
        {"--algo", NULL, OPT_STRING, &algo_name, NULL},
        {"--engine", NULL, OPT_STRING, &engine_name, NULL},
        {"-o", "--output", OPT_STRING, &out, NULL},
    };
    int rc = cli_parse(&cmd_grad, argc, argv, opts, CLI_COUNT(opts), pos, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    if (n_pos != 1) return cli_usage_error(&cmd_grad, "expected one GRAPH file");
    if (!params_path) return cli_usage_error(&cmd_grad, "--params PARAMS is required");
    if (!data_path) return cli_usage_error(&cmd_grad, "--data DATA is required");
    if (!out) return cli_usage_error(&cmd_grad, "-o GRADS is required");
    trl_grad_opts o;
    if ((rc = cli_grad_opts(&cmd_grad, algo_name, engine_name, &o))) return rc;

    trl_error *err = cli_error_new();
    trl_graph *g = cli_graph(pos[0], err);
    trl_params *p = NULL;
    trl_data *d = NULL;
    trl_result *res = NULL;
    int status = EXIT_INPUT;
    /* online: stream the data a window of steps at a time, so that memory
     * does not grow with T; reverse accumulation needs every step at once */
    const unsigned flags = TRL_DATA_TARGET | (trl_grad_is_online(&o) ? TRL_DATA_STREAM : 0);
    if (g) {
        if (trl_params_new(g, &p, err) || trl_params_load(p, params_path, err) ||
            trl_data_load(g, data_path, flags, &d, err) || trl_grad(g, p, d, &o, &res, err) ||
            trl_result_save(res, out, err)) {
            status = cli_fail(err);
        } else {
            double loss;
            trl_result_loss(res, &loss);
            printf("loss %.10g\n", loss);
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

const struct command cmd_grad = {
    .name = "grad",
    .run = grad_main,
    .usage = "GRAPH --params PARAMS --data DATA --algo bptt|rtrl|eprop [--engine online|reverse] "
             "-o GRADS",
    .summary = "gradient of the loss by bptt, rtrl or deep e-prop",
    .help = "Writes one tensor per trainable parameter (same name and shape as in PARAMS)\n"
            "and \"loss\". bptt and rtrl give the exact gradient; eprop the deep e-prop\n"
            "gradient (the exact gradient of the model in which the source of every\n"
            "delayed edge is a constant).\n\n"
            "options:\n"
            "  --params PARAMS   parameter file\n"
            "  --data DATA       data file with a target\n"
            "  --algo ALGO       bptt (reverse, memory grows with T), rtrl (online,\n"
            "                    exact, constant memory in T) or eprop\n"
            "  --engine ENGINE   eprop only: online (default; eligibility traces, constant\n"
            "                    memory in T) or reverse (same gradient, bptt-like cost)\n"
            "  -o GRADS          output safetensors file\n\n"
            "example:\n  trellis grad models/lsnn.json --params p.safetensors --data "
            "d.safetensors --algo eprop -o g.safetensors\n",
};
