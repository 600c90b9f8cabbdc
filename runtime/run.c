/* run.c - see run.h. */
#include "runtime/run.h"

#include <string.h>

#include "runtime/alloc.h"
#include "runtime/loss.h"
#include "runtime/net.h"
#include "runtime/safetensors.h"

void run_result_free(struct run_result *res)
{
    if (res->out)
        for (int i = 0; i < res->n_outputs; i++) trl_free(res->out[i]);
    trl_free(res->out);
    memset(res, 0, sizeof *res);
}

/* Copies z(t) [B, size] into out [B, T, size]. */
static void gather(trl_real *out, const trl_real *z, int B, int T, int t, int size)
{
    for (int b = 0; b < B; b++)
        memcpy(out + ((size_t)b * T + t) * size, z + (size_t)b * size, (size_t)size * sizeof *z);
}

int run_forward(const struct graph *g, const trl_real *params, const struct data *d,
                struct run_result *res, struct trl_errors *err)
{
    memset(res, 0, sizeof *res);
    struct net *net = net_new(g, params, d->B, 0);
    res->n_outputs = g->n_outputs;
    res->out = trl_alloc((size_t)g->n_outputs, sizeof *res->out, TRL_MEM_MISC);
    if (!net || !res->out) goto fail;
    for (int i = 0; i < g->n_outputs; i++) {
        size_t n = trl_mul3((size_t)d->B, (size_t)d->T, (size_t)g->nodes[g->outputs[i]].size);
        res->out[i] = trl_alloc(n, sizeof(trl_real), TRL_MEM_MISC);
        if (!res->out[i]) goto fail;
    }
    res->has_loss = g->loss_node >= 0 && d->target;
    int K = g->loss_node >= 0 ? g->nodes[g->loss_node].size : 0;
    double loss = 0;
    for (int t = 0; t < d->T; t++) {
        net_step(net, d);
        for (int i = 0; i < g->n_outputs; i++)
            gather(res->out[i], net_z(net, g->outputs[i], t), d->B, d->T, t,
                   g->nodes[g->outputs[i]].size);
        if (res->has_loss)
            loss += loss_step(g->loss_type, d, t, K, net_z(net, g->loss_node, t), NULL);
    }
    res->loss = loss;
    net_free(net);
    return 0;
fail:
    trl_errors_add(err, NULL, "out of memory for a batch of %d x %d steps", d->B, d->T);
    net_free(net);
    run_result_free(res);
    return -1;
}

int run_result_save(const struct graph *g, const struct data *d, const struct run_result *res,
                    const char *path, struct trl_errors *err)
{
    struct st_out *out = trl_alloc((size_t)res->n_outputs + 1, sizeof *out, TRL_MEM_MISC);
    if (!out) {
        trl_errors_add(err, NULL, "out of memory");
        return -1;
    }
    int n = 0;
    for (int i = 0; i < res->n_outputs; i++, n++) {
        out[n].name = g->nodes[g->outputs[i]].id;
        out[n].ndim = 3;
        out[n].shape[0] = d->B;
        out[n].shape[1] = d->T;
        out[n].shape[2] = g->nodes[g->outputs[i]].size;
        out[n].data = res->out[i];
    }
    trl_real loss = (trl_real)res->loss;
    if (res->has_loss) {
        out[n].name = "loss";
        out[n].ndim = 0;
        out[n].data = &loss;
        n++;
    }
    int rc = st_write(path, out, n, NULL, err);
    trl_free(out);
    return rc;
}
