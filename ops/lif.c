/* lif.c - `lif`: leaky integrate-and-fire neuron (SPEC section 2; Bellec et
 * al. 2020, eq. 6 with the reset of their supplement).
 *
 *   v(t) = alpha v(t-1) + I(t) - v_th z(t-1),   alpha = exp(-dt / tau_m)
 *   z(t) = H(v(t) - v_th)
 *
 * params: tau_m (20, > 0), v_th (0.6, > 0), gamma (0.3, >= 0),
 *         detach_reset (true); no bias by default.
 * Jacobians, with psi(t) = (gamma / v_th) max(0, 1 - |v(t) - v_th| / v_th):
 *   dz/dv = psi(t)
 *   J(t)  = alpha - v_th psi(t-1)    (the reset's path through z(t-1));
 *           alpha alone when detach_reset (the reset is a constant)
 *   dv/dI = 1
 */
#include <math.h>
#include <stddef.h>

#include "ops/op.h"
#include "ops/spike.h"

struct lif_params {
    double tau_m, v_th, gamma;
    bool detach_reset;
    double alpha; /* derived */
};

static const struct op_param_desc lif_param_desc[] = {
    {"tau_m", OP_PARAM_REAL, offsetof(struct lif_params, tau_m), 20, OP_BOUND_POSITIVE,
     "membrane time constant"},
    {"v_th", OP_PARAM_REAL, offsetof(struct lif_params, v_th), 0.6, OP_BOUND_POSITIVE, "threshold"},
    {"gamma", OP_PARAM_REAL, offsetof(struct lif_params, gamma), 0.3, OP_BOUND_NONNEG,
     "pseudo-derivative height"},
    {"detach_reset", OP_PARAM_BOOL, offsetof(struct lif_params, detach_reset), 1, OP_BOUND_ANY,
     "treat the reset as a constant when differentiating"},
};

static void lif_prepare(void *params, double dt)
{
    struct lif_params *p = params;
    p->alpha = exp(-dt / p->tau_m);
}

TRL_HOT static void lif_forward(const void *params, int rows, int size, const trl_real *I,
                                const trl_real *h_prev, const trl_real *z_prev, trl_real *h,
                                trl_real *z)
{
    const struct lif_params *p = params;
    const trl_real alpha = (trl_real)p->alpha, v_th = (trl_real)p->v_th;
    int n = rows * size;
    for (int i = 0; i < n; i++) {
        h[i] = alpha * h_prev[i] + I[i] - v_th * z_prev[i];
        z[i] = spike(h[i] - v_th);
    }
}

TRL_HOT static void lif_output_jacobian(const void *params, int rows, int size, const trl_real *h,
                                        const trl_real *z, trl_real *dzdh)
{
    const struct lif_params *p = params;
    (void)z;
    int n = rows * size;
    for (int i = 0; i < n; i++) dzdh[i] = spike_psi(p->gamma, p->v_th, h[i] - (trl_real)p->v_th);
}

TRL_HOT static void lif_state_jacobian(const void *params, int rows, int size,
                                       const trl_real *h_prev, trl_real *J)
{
    const struct lif_params *p = params;
    const trl_real alpha = (trl_real)p->alpha, v_th = (trl_real)p->v_th;
    int n = rows * size;
    for (int i = 0; i < n; i++) {
        trl_real reset =
            p->detach_reset ? 0 : v_th * spike_psi(p->gamma, p->v_th, h_prev[i] - v_th);
        J[i] = alpha - reset; /* -v_th z(t-1): constant if detach_reset */
    }
}

static void lif_input_jacobian(const void *params, trl_real *dhdI)
{
    (void)params;
    dhdI[0] = 1;
}

static unsigned lif_constant_rows(const void *params)
{
    const struct lif_params *p = params;
    return p->detach_reset ? 1u : 0u;
}

const struct op_kind op_lif = {
    .name = "lif",
    .doc = "leaky integrate-and-fire: v = alpha v + I - v_th z(t-1), z = H(v - v_th)",
    .n_state = 1,
    .state_names = "v",
    .spiking = true,
    .default_bias = false,
    .params_size = sizeof(struct lif_params),
    .param_desc = lif_param_desc,
    .n_param_desc = sizeof lif_param_desc / sizeof lif_param_desc[0],
    .prepare = lif_prepare,
    .forward = lif_forward,
    .output_jacobian = lif_output_jacobian,
    .state_jacobian = lif_state_jacobian,
    .input_jacobian = lif_input_jacobian,
    .constant_rows = lif_constant_rows,
};
