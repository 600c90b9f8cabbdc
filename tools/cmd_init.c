/* cmd_init.c - `trellis init GRAPH --seed N -o PARAMS` (SPEC sections 1, 3). */
#include <stdio.h>
#include <string.h>

#include "tools/cli.h"

static int init_main(int argc, char **argv)
{
    unsigned long long seed = 0;
    bool have_seed = false;
    const char *out = NULL, *feedback = NULL, *pos[1];
    int n_pos = 1;
    const struct opt opts[] = {
        {"--seed", NULL, OPT_U64, &seed, &have_seed},
        {"-o", "--output", OPT_STRING, &out, NULL},
        {"--feedback", NULL, OPT_STRING, &feedback, NULL},
    };
    int rc = cli_parse(&cmd_init, argc, argv, opts, CLI_COUNT(opts), pos, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    if (n_pos != 1) return cli_usage_error(&cmd_init, "expected one GRAPH file");
    if (!have_seed) return cli_usage_error(&cmd_init, "--seed N is required");
    if (!out) return cli_usage_error(&cmd_init, "-o PARAMS is required");
    if (feedback && strcmp(feedback, "random"))
        return cli_usage_error(&cmd_init,
                               "--feedback takes random (got \"%s\"): symmetric "
                               "feedback needs no matrices",
                               feedback);

    trl_error *err = cli_error_new();
    trl_graph *g = cli_graph(pos[0], err);
    trl_params *p = NULL;
    int status = EXIT_INPUT;
    if (g) {
        if (trl_params_new(g, &p, err) || trl_params_init(p, seed, err) ||
            (feedback && trl_params_init_feedback(p, seed, err)) || trl_params_save(p, out, err)) {
            status = cli_fail(err);
        } else {
            trl_graph_info info;
            trl_graph_get_info(g, &info);
            fprintf(stderr, "%s: %d tensors, %zu parameters (seed %llu)\n", out, info.n_params,
                    info.n_param_values, seed);
            status = EXIT_OK;
        }
    }
    trl_params_free(p);
    trl_graph_free(g);
    trl_error_free(err);
    return status;
}

const struct command cmd_init = {
    .name = "init",
    .run = init_main,
    .usage = "GRAPH --seed N [--feedback random] -o PARAMS",
    .summary = "write freshly initialised parameters",
    .help = "Weights ~ Normal(0, gain^2 / from.size), no_self diagonals 0, biases 0.\n"
            "The same seed gives the same bytes on every machine.\n\n"
            "options:\n"
            "  --seed N       random seed (required)\n"
            "  -o PARAMS      output safetensors file\n"
            "  --feedback random  also a feedback matrix n.fb.s[.dD] for every edge whose\n"
            "                 source is not an input, drawn like the weights (SPEC 6.3)\n\n"
            "example:\n  trellis init models/lsnn.json --seed 1 -o params.safetensors\n",
};
