/* cmd_init.c - `trellis init GRAPH --seed N -o PARAMS` (SPEC sections 1, 3). */
#include <stdio.h>
#include <string.h>

#include "io/feedback.h"
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
    int rc = cli_parse(&cmd_init, argc, argv, opts, 3, pos, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    if (n_pos != 1) return cli_usage_error(&cmd_init, "expected one GRAPH file");
    if (!have_seed) return cli_usage_error(&cmd_init, "--seed N is required");
    if (!out) return cli_usage_error(&cmd_init, "-o PARAMS is required");
    if (feedback && strcmp(feedback, "random"))
        return cli_usage_error(&cmd_init,
                               "--feedback takes random (got \"%s\"): symmetric "
                               "feedback needs no matrices",
                               feedback);

    struct graph *g = cli_load_graph(pos[0]);
    if (!g) return EXIT_INPUT;
    struct trl_errors err;
    trl_errors_init(&err, out);
    int status = EXIT_OK;
    trl_real *values = params_new(g), **fb = feedback ? feedback_new(g) : NULL;
    if (!values || (feedback && (!fb || feedback_init(g, seed, fb)))) {
        trl_errors_add(&err, NULL, "out of memory for %zu parameters", g->n_param_values);
        status = cli_input_error(&err);
    } else {
        params_init(g, seed, values);
        if (params_save_all(g, values, fb, out, &err)) status = cli_input_error(&err);
    }
    if (status == EXIT_OK)
        fprintf(stderr, "%s: %d tensors, %zu parameters (seed %llu)\n", out, g->n_params,
                g->n_param_values, seed);
    trl_free(values);
    feedback_free(g, fb);
    graph_free(g);
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
