/* cmd_grad.c - `trellis grad GRAPH --params P --data D --algo A [--engine E]
 * -o GRADS` (SPEC sections 6, 7): one key per trainable parameter and "loss". */
#include <stdio.h>
#include <string.h>

#include "engines/grad.h"
#include "io/feedback.h"
#include "tools/cli.h"

static int parse_algo(const char *s, enum grad_algo *algo)
{
    for (int a = 0; a < 3; a++)
        if (strcmp(s, grad_algo_names[a]) == 0) {
            *algo = (enum grad_algo)a;
            return 0;
        }
    return -1;
}

static int grad_main(int argc, char **argv)
{
    const char *params_path = NULL, *data_path = NULL, *out = NULL, *algo_name = NULL;
    const char *engine_name = NULL, *pos[1];
    int n_pos = 1;
    struct cli_rule rule = {0};
    const struct opt opts[] = {
        CLI_RULE_OPTS(rule),
        {"--params", NULL, OPT_STRING, &params_path, NULL},
        {"--data", NULL, OPT_STRING, &data_path, NULL},
        {"--algo", NULL, OPT_STRING, &algo_name, NULL},
        {"--engine", NULL, OPT_STRING, &engine_name, NULL},
        {"-o", "--output", OPT_STRING, &out, NULL},
    };
    int rc = cli_parse(&cmd_grad, argc, argv, opts, 8, pos, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    enum grad_algo algo;
    enum grad_engine engine = GRAD_ENGINE_DEFAULT;
    if (n_pos != 1) return cli_usage_error(&cmd_grad, "expected one GRAPH file");
    if (!params_path) return cli_usage_error(&cmd_grad, "--params PARAMS is required");
    if (!data_path) return cli_usage_error(&cmd_grad, "--data DATA is required");
    if (!out) return cli_usage_error(&cmd_grad, "-o GRADS is required");
    if (!algo_name || parse_algo(algo_name, &algo))
        return cli_usage_error(&cmd_grad, "--algo must be bptt, rtrl or eprop%s%s%s",
                               algo_name ? " (got \"" : "", algo_name ? algo_name : "",
                               algo_name ? "\")" : "");
    if (engine_name) {
        if (algo != GRAD_EPROP)
            return cli_usage_error(&cmd_grad, "--engine applies to --algo eprop only");
        if (strcmp(engine_name, "online") == 0)
            engine = GRAD_ENGINE_ONLINE;
        else if (strcmp(engine_name, "reverse") == 0)
            engine = GRAD_ENGINE_REVERSE;
        else
            return cli_usage_error(&cmd_grad, "--engine must be online or reverse (got \"%s\")",
                                   engine_name);
    }

    trl_grad_opts o = TRL_GRAD_OPTS_INIT;
    o.algo = (trl_algo)algo;
    if ((rc = cli_rule_opts(&cmd_grad, &rule, false, &o, NULL))) return rc;
    struct graph *g = cli_load_graph(pos[0]);
    if (!g) return EXIT_INPUT;
    trl_real **fb = feedback_new(g);
    int status = EXIT_INPUT;
    struct data *d = NULL;
    trl_real *grad = NULL;
    struct trl_errors err;
    trl_errors_init(&err, pos[0]);
    if (g->loss_node < 0) {
        trl_errors_add(&err, "/loss",
                       "the graph has no loss; add \"loss\": {\"node\": ID, "
                       "\"type\": \"mse\"} to compute a gradient");
        goto done;
    }
    trl_errors_init(&err, params_path);
    trl_real *params = params_new(g);
    grad = params_new(g);
    if (!params || !grad) {
        trl_free(params);
        trl_errors_add(&err, NULL, "out of memory for %zu parameters", g->n_param_values);
        goto done;
    }
    if (!fb || params_load_all(g, params_path, params, fb, &err)) {
        trl_free(params);
        goto done;
    }
    if (o.feedback == TRL_FEEDBACK_RANDOM && !feedback_count(g, fb)) {
        trl_errors_add(&err, NULL,
                       "--feedback random needs feedback matrices (n.fb.s) and the "
                       "file holds none; " CLI_FEEDBACK_HINT);
        trl_free(params);
        goto done;
    }
    const struct grad_hooks hooks = {.order = o.order,
                                     .feedback = o.feedback == TRL_FEEDBACK_RANDOM ? fb : NULL};
    trl_errors_init(&err, data_path);
    /* online: stream the data a window of steps at a time, so that memory
     * does not grow with T; reverse accumulation needs every step at once */
    d = grad_is_online(algo, engine) ? data_open(g, data_path, DATA_TARGET_REQUIRED, &err)
                                     : data_load(g, data_path, DATA_TARGET_REQUIRED, &err);
    double loss = 0;
    if (d && grad_compute_hooks(g, params, d, algo, engine, &hooks, grad, &loss, &err) == 0) {
        trl_errors_init(&err, out);
        if (params_save(g, grad, PARAMS_TRAINABLE, &loss, out, &err) == 0) {
            status = EXIT_OK;
            printf("loss %.10g\n", loss);
        }
    }
    trl_free(params);
done:
    if (status != EXIT_OK) cli_input_error(&err);
    trl_free(grad);
    feedback_free(g, fb);
    data_free(d);
    graph_free(g);
    return status;
}

const struct command cmd_grad = {
    .name = "grad",
    .run = grad_main,
    .usage = "GRAPH --params PARAMS --data DATA --algo bptt|rtrl|eprop [--engine online|reverse] "
             "[--order M] [--feedback symmetric|random] -o GRADS",
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
            "  --order M         eprop only: m-order e-prop, the paths crossing at most M-1\n"
            "                    delayed edges (default 1; M >= T is the exact gradient)\n"
            "  --feedback MODE   symmetric (default: the weights carry credit back) or\n"
            "                    random (the feedback matrices n.fb.s of PARAMS, written\n"
            "                    by init --feedback random, in place of the weights)\n"
            "  -o GRADS          output safetensors file\n\n"
            "example:\n  trellis grad models/lsnn.json --params p.safetensors --data "
            "d.safetensors --algo eprop -o g.safetensors\n",
};
