/* cmd_grad.c - `trellis grad GRAPH --params P --data D --algo A [--engine E]
 * [--cotangent FILE] [--input-grads] -o GRADS` (SPEC sections 6, 6.4, 7): one
 * key per trainable parameter, "loss", and dL/dx per input id if asked.
 * Under mpirun (SPEC section 10) each rank computes its share of the batch
 * and rank 0 writes the sum. */
#include <stdio.h>

#include "tools/cli.h"
#include "tools/mpi.h"

/* The gradient of opts on the loaded files, written to out (NULL: a rank
 * other than 0 under mpirun, which computes its share only). */
static int grad_write(const char *graph_path, const char *params_path, const char *data_path,
                      const trl_grad_opts *opts, const char *cot_path, const char *out)
{
    trl_error *err = trl_error_new();
    trl_graph *g = err ? cli_graph(graph_path, err) : NULL;
    trl_params *p = NULL;
    trl_data *d = NULL;
    trl_result *r = NULL;
    int status = EXIT_INPUT;
    if (!g) goto done;
    if (out) cli_cost_note(&cmd_grad, g, opts, false);
    /* online: stream the data a window of steps at a time, so that memory
     * does not grow with T; reverse accumulation needs every step at once */
    unsigned flags = opts->cotangent ? 0 : TRL_DATA_TARGET;
    if (trl_grad_is_online(opts) && !opts->input_grads) flags |= TRL_DATA_STREAM;
    if (trl_params_new(g, &p, err) || trl_params_load(p, params_path, err) ||
        trl_data_load(g, data_path, flags, &d, err)) {
        status = cli_fail(err);
        goto done;
    }
    int B, T;
    trl_data_shape(d, &B, &T);
    if (opts->n_shards > B) {
        fprintf(stderr, "%s: %d sample%s for %d mpirun ranks: each rank needs one at least\n",
                data_path, B, B == 1 ? "" : "s", opts->n_shards);
        goto done;
    }
    if (opts->feedback == TRL_FEEDBACK_RANDOM && !trl_params_feedback_count(p)) {
        fprintf(stderr,
                "%s: --feedback random needs feedback matrices (n.fb.s) and the file holds "
                "none; " CLI_FEEDBACK_HINT "\n",
                params_path);
        goto done;
    }
    if (trl_grad(g, p, d, opts, &r, err)) {
        status = cli_grad_fail(err, cot_path);
        goto done;
    }
    status = EXIT_OK;
    if (!out) goto done;
    if (trl_result_save(r, out, err)) {
        status = cli_fail(err);
        goto done;
    }
    double loss;
    trl_result_loss(r, &loss);
    printf("loss %.10g\n", loss);
done:
    trl_result_free(r);
    trl_data_free(d);
    trl_params_free(p);
    trl_graph_free(g);
    trl_error_free(err);
    return status;
}

static int grad_main(int argc, char **argv)
{
    const char *params_path = NULL, *data_path = NULL, *out = NULL, *algo_name = NULL;
    const char *engine_name = NULL, *cot_path = NULL, *pos[1];
    bool input_grads = false;
    int n_pos = 1;
    struct cli_rule rule = {0};
    const struct opt opts[] = {
        CLI_RULE_OPTS(rule),
        {"--params", NULL, OPT_STRING, &params_path, NULL},
        {"--data", NULL, OPT_STRING, &data_path, NULL},
        {"--algo", NULL, OPT_STRING, &algo_name, NULL},
        {"--engine", NULL, OPT_STRING, &engine_name, NULL},
        {"--cotangent", NULL, OPT_STRING, &cot_path, NULL},
        {"--input-grads", NULL, OPT_FLAG, &input_grads, NULL},
        {"-o", "--output", OPT_STRING, &out, NULL},
    };
    int rc = cli_parse(&cmd_grad, argc, argv, opts, CLI_COUNT(opts), pos, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    if (n_pos != 1) return cli_usage_error(&cmd_grad, "expected one GRAPH file");
    if (!params_path) return cli_usage_error(&cmd_grad, "--params PARAMS is required");
    if (!data_path) return cli_usage_error(&cmd_grad, "--data DATA is required");
    if (!out) return cli_usage_error(&cmd_grad, "-o GRADS is required");
    trl_grad_opts o;
    struct cli_cotangent cot = {0};
    rc = cli_grad_opts(&cmd_grad, algo_name, engine_name, &o);
    if (!rc) rc = cli_rule_opts(&cmd_grad, &rule, false, &o, NULL);
    if (rc) return rc;
    struct cli_mpi mpi;
    cli_mpi_start(&mpi);
    const char *files[] = {pos[0], params_path, data_path, cot_path};
    rc = cli_mpi_same_files(&mpi, "grad", files, sizeof files / sizeof files[0]);
    if (!rc) rc = cli_grad_outside(cot_path, input_grads, &o, &cot);
    if (mpi.size > 1) {
        o.shard = mpi.rank;
        o.n_shards = mpi.size;
        o.reduce = cli_mpi_sum;
    }
    if (!rc) rc = grad_write(pos[0], params_path, data_path, &o, cot_path, mpi.rank ? NULL : out);
    cli_cotangent_free(&cot);
    return cli_mpi_end(&mpi, rc);
}

const struct command cmd_grad = {
    .name = "grad",
    .run = grad_main,
    .usage =
        "GRAPH --params PARAMS --data DATA --algo bptt|rtrl|eprop [--engine online|reverse] "
        "[--order M] [--feedback symmetric|random] [--cotangent FILE] [--input-grads] -o GRADS",
    .summary = "gradient of the loss by bptt, rtrl or deep e-prop",
    .help = "Writes one tensor per trainable parameter (same name and shape as in PARAMS)\n"
            "and \"loss\". bptt and rtrl give the exact gradient; eprop the deep e-prop\n"
            "gradient (the exact gradient of the model in which the source of every\n"
            "delayed edge is a constant).\n"
            "Under mpirun -np R each rank computes its share of the samples (every rank\n"
            "reads the same files); rank 0 writes the sum, that of one process to\n"
            "rounding, input gradients and cotangents included.\n\n"
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
            "  --cotangent FILE  a loss from outside: FILE holds dL/dy [B, T, size] for some\n"
            "                    or all output nodes, named by id (others: 0); the gradient\n"
            "                    is that of sum(cotangent * y) and \"loss\" that sum; the\n"
            "                    graph needs no loss and DATA no target (SPEC 6.4)\n"
            "  --input-grads     also write dL/dx [B, T, size] for every input node, named\n"
            "                    by id (by reverse accumulation: DATA is read into memory)\n"
            "  -o GRADS          output safetensors file\n\n"
            "example:\n  trellis grad models/lsnn.json --params p.safetensors --data "
            "d.safetensors --algo eprop -o g.safetensors\n",
};
