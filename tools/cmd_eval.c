/* cmd_eval.c - `trellis eval GRAPH --params P --data D [--json]`: how well a
 * network does on a data set, scored as training's validation scores it
 * (trl_evaluate): the loss, and for a cross_entropy loss the accuracy (per
 * sample, the argmax of the softmax summed over the masked steps against
 * the argmax of the target summed the same way), for an mse loss the nMSE
 * (squared error over the masked steps / the target's variance). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>

#include "tools/cli.h"

/* A JSON number, or null when not finite (JSON has no NaN). */
static json_t *number(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static int print_json(const trl_graph_info *g, const char *data, int B, int T, const trl_eval *ev)
{
    json_t *o = json_pack("{s:s, s:s, s:i, s:i, s:s, s:o, s:o, s:o}", "graph", g->file, "data",
                          data, "B", B, "T", T, "loss_type", g->loss_type, "loss", number(ev->loss),
                          "accuracy", number(ev->accuracy), "nmse", number(ev->nmse));
    int rc = o && json_dumpf(o, stdout, JSON_COMPACT) == 0 ? EXIT_OK : EXIT_INPUT;
    printf("\n");
    json_decref(o);
    return rc;
}

static void print_text(const trl_graph_info *g, const char *data, int B, int T, const trl_eval *ev)
{
    printf("%s on %s: %d sample%s x %d steps\n", g->file, data, B, B == 1 ? "" : "s", T);
    printf("loss      %.10g (%s)\n", ev->loss, g->loss_type);
    if (isfinite(ev->accuracy))
        printf("accuracy  %.1f%% (per sample: argmax over the masked steps)\n", 100 * ev->accuracy);
    if (isfinite(ev->nmse)) printf("nmse      %.6g (squared error / target variance)\n", ev->nmse);
}

static int eval_main(int argc, char **argv)
{
    const char *params_path = NULL, *data_path = NULL, *pos[1];
    bool as_json = false;
    int n_pos = 1;
    const struct opt opts[] = {
        {"--params", NULL, OPT_STRING, &params_path, NULL},
        {"--data", NULL, OPT_STRING, &data_path, NULL},
        {"--json", NULL, OPT_FLAG, &as_json, NULL},
    };
    int rc = cli_parse(&cmd_eval, argc, argv, opts, CLI_COUNT(opts), pos, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    if (n_pos != 1) return cli_usage_error(&cmd_eval, "expected one GRAPH file");
    if (!params_path) return cli_usage_error(&cmd_eval, "--params PARAMS is required");
    if (!data_path) return cli_usage_error(&cmd_eval, "--data DATA is required");

    trl_error *err = cli_error_new();
    trl_graph *g = cli_graph(pos[0], err);
    trl_params *p = NULL;
    trl_data *d = NULL;
    trl_eval ev;
    int status = EXIT_INPUT;
    if (g) {
        if (trl_params_new(g, &p, err) || trl_params_load(p, params_path, err) ||
            trl_data_load(g, data_path, TRL_DATA_TARGET, &d, err) ||
            trl_evaluate(g, p, d, &ev, err)) {
            status = cli_fail(err);
        } else {
            trl_graph_info info;
            trl_graph_get_info(g, &info);
            int B, T;
            trl_data_shape(d, &B, &T);
            status = EXIT_OK;
            if (as_json)
                status = print_json(&info, data_path, B, T, &ev);
            else
                print_text(&info, data_path, B, T, &ev);
        }
    }
    trl_data_free(d);
    trl_params_free(p);
    trl_graph_free(g);
    trl_error_free(err);
    return status;
}

const struct command cmd_eval = {
    .name = "eval",
    .run = eval_main,
    .usage = "GRAPH --params PARAMS --data DATA [--json]",
    .summary = "score a network on a data set: loss, and accuracy or nMSE",
    .help = "Runs the network over the data set and scores it as training's validation\n"
            "does. A cross_entropy loss gives the accuracy: per sample, the class with the\n"
            "largest softmax summed over the masked steps against the target's (samples\n"
            "whose mask is 0 at every step are not counted). An mse loss gives the nMSE:\n"
            "the squared error over the masked steps divided by the target's variance\n"
            "there (0 is perfect; 1 is no better than the target's mean).\n\n"
            "options:\n"
            "  --params PARAMS   parameter file\n"
            "  --data DATA       data file with a target (and optional mask)\n"
            "  --json            one JSON object: graph, data, B, T, loss_type, loss,\n"
            "                    accuracy, nmse (null where it does not apply)\n\n"
            "example:\n"
            "  trellis data evidence --seed 1 --val -o val.safetensors\n"
            "  trellis eval models/evidence.json --params trained.safetensors --data "
            "val.safetensors\n",
};
