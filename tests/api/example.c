/* example.c - the README's library example: load a graph, bind arrays of
 * the caller's as data, compute the deep e-prop gradient, print its norm.
 *
 *   cc example.c $(pkg-config --cflags --libs trellis) -o example
 *   ./example models/lsnn.json
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <trellis.h>

#define B 4
#define T 100

static int fail(trl_error *err)
{
    fprintf(stderr, "%s\n", trl_error_message(err));
    trl_error_free(err);
    return 1;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "models/lsnn.json";
    trl_error *err = trl_error_new();
    trl_graph *g = NULL;
    if (trl_graph_load(path, &g, err) != TRL_OK) return fail(err);

    trl_params *p = NULL;
    if (trl_params_new(g, &p, err) != TRL_OK || trl_params_init(p, 1, err) != TRL_OK)
        return fail(err);

    /* the caller's arrays, [B, T, size] row-major: spikes in, a class target */
    static trl_real x[B][T][40], target[B][T][2];
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            for (int c = 0; c < 40; c++) x[b][t][c] = (trl_real)(rand() % 20 == 0);
            target[b][t][b % 2] = 1;
        }
    trl_tensor tensors[] = {
        {"in", 3, {B, T, 40}, &x[0][0][0]},
        {"target", 3, {B, T, 2}, &target[0][0][0]},
    };
    trl_data *d = NULL;
    if (trl_data_wrap(g, tensors, 2, &d, err) != TRL_OK) return fail(err);

    trl_grad_opts opts = TRL_GRAD_OPTS_INIT;
    opts.algo = TRL_ALGO_EPROP;
    trl_result *grad = NULL;
    if (trl_grad(g, p, d, &opts, &grad, err) != TRL_OK) return fail(err);

    double sum = 0, loss = 0;
    for (int i = 0; i < trl_result_count(grad); i++) {
        trl_tensor t;
        trl_result_tensor(grad, i, &t);
        size_t n = (size_t)t.shape[0] * (t.ndim == 2 ? (size_t)t.shape[1] : 1);
        for (size_t k = 0; k < n; k++) sum += (double)t.data[k] * t.data[k];
    }
    trl_result_loss(grad, &loss);
    printf("%s: loss %.4f, e-prop gradient norm %.4f over %d tensors\n", trl_version(), loss,
           sqrt(sum), trl_result_count(grad));

    trl_result_free(grad);
    trl_data_free(d); /* before the arrays it borrows go */
    trl_params_free(p);
    trl_graph_free(g);
    trl_error_free(err);
    return 0;
}
