/* grad.c - see grad.h: picks the engine for an algorithm. */
#include "runtime/grad.h"

const char *const grad_algo_names[3] = {"bptt", "rtrl", "eprop"};

int grad_compute(const struct graph *g, const trl_real *params, const struct data *d,
                 enum grad_algo algo, enum grad_engine engine, trl_real *grad, double *loss,
                 struct trl_errors *err)
{
    switch (algo) {
    case GRAD_BPTT:
        return grad_reverse(g, params, d, false, grad, loss, err);
    case GRAD_RTRL:
        return grad_forward(g, params, d, false, grad, loss, err);
    default:
        if (engine == GRAD_ENGINE_REVERSE) return grad_reverse(g, params, d, true, grad, loss, err);
        return grad_forward(g, params, d, true, grad, loss, err);
    }
}
