/* grad.c - see grad.h: picks the engine for an algorithm. */
#include "runtime/grad.h"

#include <string.h>

#include "runtime/net.h"

const char *const grad_algo_names[3] = {"bptt", "rtrl", "eprop"};

bool grad_is_online(enum grad_algo algo, enum grad_engine engine)
{
    return algo == GRAD_RTRL || (algo == GRAD_EPROP && engine != GRAD_ENGINE_REVERSE);
}

int grad_compute_hooks(const struct graph *g, const trl_real *params, const struct data *d,
                       enum grad_algo algo, enum grad_engine engine, const struct grad_hooks *hooks,
                       trl_real *grad, double *loss, struct trl_errors *err)
{
    bool prune = algo == GRAD_EPROP;
    if (grad_is_online(algo, engine))
        return grad_forward(g, params, d, prune, hooks, grad, loss, err);
    if (hooks && hooks->on_step) {
        trl_errors_add(err, NULL, "online updates need --algo rtrl or eprop (online engine)");
        return -1;
    }
    return grad_reverse(g, params, d, prune, hooks, grad, loss, err);
}

int grad_compute(const struct graph *g, const trl_real *params, const struct data *d,
                 enum grad_algo algo, enum grad_engine engine, trl_real *grad, double *loss,
                 struct trl_errors *err)
{
    return grad_compute_hooks(g, params, d, algo, engine, NULL, grad, loss, err);
}

void grad_observe_step(const struct net *net, const struct data *d, int t,
                       const struct grad_hooks *hooks)
{
    if (!hooks) return;
    const struct graph *g = net->g;
    if (hooks->z_sum)
        for (int i = 0; i < g->n_nodes; i++) {
            const trl_real *z = net_z(net, i, t);
            double s = 0;
            for (size_t k = 0; k < (size_t)net->B * g->nodes[i].size; k++) s += z[k];
            hooks->z_sum[i] += s;
        }
    if (hooks->loss_z && g->loss_node >= 0) {
        const int K = g->nodes[g->loss_node].size;
        const trl_real *z = net_z(net, g->loss_node, t);
        for (int b = 0; b < net->B; b++)
            memcpy(hooks->loss_z + ((size_t)b * d->T + t) * K, z + (size_t)b * K,
                   (size_t)K * sizeof *z);
    }
}
