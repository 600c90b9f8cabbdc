/* fuzz_bind.c - libFuzzer harness: bytes as a parameter file and as a data
 * file of fixed graphs (SPEC sections 3, 4). Each input is loaded as the
 * parameters of each fixed graph, and as its data (whole, and streamed, with
 * and without a required target); what binds is then run and differentiated,
 * so that every accepted file is one the engines can use. */
#include <stdlib.h>

#include "fuzz/util.h"

static trl_graph *graphs[8];
static trl_params *inits[8];

static void setup(void)
{
    trl_error *err = trl_error_new();
    trl_set_threads(1);
    for (int i = 0; i < fuzz_n_graphs; i++) {
        graphs[i] = fuzz_graph(fuzz_graphs[i]);
        if (trl_params_new(graphs[i], &inits[i], err) || trl_params_init(inits[i], 7, err)) abort();
    }
    trl_error_free(err);
}

/* Uses what bound: a run, and a gradient when the graph has a loss. */
static void use(const trl_graph *g, const trl_params *p, const trl_data *d, trl_error *err)
{
    trl_result *r = NULL;
    fuzz_check_error(trl_run(g, p, d, &r, err), err);
    trl_result_free(r);
    trl_graph_info info;
    trl_graph_get_info(g, &info);
    if (info.loss_node < 0) return;
    trl_grad_opts o = TRL_GRAD_OPTS_INIT;
    o.algo = TRL_ALGO_EPROP;
    r = NULL;
    fuzz_check_error(trl_grad(g, p, d, &o, &r, err), err);
    trl_result_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!graphs[0]) setup();
    const char *path = fuzz_file(data, size);
    trl_error *err = trl_error_new();
    for (int i = 0; i < fuzz_n_graphs; i++) {
        trl_params *p = NULL;
        if (trl_params_new(graphs[i], &p, err)) abort();
        trl_status s = trl_params_load(p, path, err);
        fuzz_check_error(s, err);
        static const unsigned flags[] = {0, TRL_DATA_TARGET, TRL_DATA_STREAM,
                                         TRL_DATA_STREAM | TRL_DATA_TARGET};
        for (int k = 0; k < 4; k++) {
            trl_data *d = NULL;
            trl_status sd = trl_data_load(graphs[i], path, flags[k], &d, err);
            fuzz_check_error(sd, err);
            if (d) use(graphs[i], s == TRL_OK ? p : inits[i], d, err);
            trl_data_free(d);
        }
        trl_params_free(p);
    }
    trl_error_free(err);
    return 0;
}
