/* leaky.c - `leaky`: a leaky rate unit (SPEC section 2).
 *
 *   h(t) = alpha h(t-1) + (1 - alpha) I(t),   alpha = exp(-dt / tau_m)
 *   z(t) = phi(h(t))
 *
 * params: tau_m (10, > 0), activation ("tanh"); bias on by default.
 * Jacobians: dz/dh = phi'(h); J = alpha (a constant: the e-prop traces of a
 * leaky node factor, SPEC section 6); dh/dI = 1 - alpha.
 */
#include <math.h>
#include <stddef.h>

#include "ops/activation.h"
#include "ops/op.h"

struct leaky_params {
    double tau_m;
    int activation;
    double alpha; /* derived */
};

static const struct op_param_desc leaky_param_desc[] = {
    {"tau_m", OP_PARAM_REAL, offsetof(struct leaky_params, tau_m), 10, OP_BOUND_POSITIVE,
     "time constant (same unit as dt)"},
    {"activation", OP_PARAM_ACTIVATION, offsetof(struct leaky_params, activation), ACT_TANH,
     OP_BOUND_ANY, "identity, tanh, sigmoid or relu"},
};

static void leaky_prepare(void *params, double dt)
{
    struct leaky_params *p = params;
    p->alpha = exp(-dt / p->tau_m);
}

TRL_HOT static void leaky_forward(const void *params, int rows, int size, const trl_real *I,
                                  const trl_real *h_prev, const trl_real *z_prev, trl_real *h,
                                  trl_real *z)
{
    const struct leaky_params *p = params;
    const trl_real alpha = (trl_real)p->alpha, gain = (trl_real)(1.0 - p->alpha);
    (void)z_prev;
    int n = rows * size;
    for (int i = 0; i < n; i++) h[i] = alpha * h_prev[i] + gain * I[i];
    activation_apply(p->activation, n, h, z);
}

static void leaky_output_jacobian(const void *params, int rows, int size, const trl_real *h,
                                  const trl_real *z, trl_real *dzdh)
{
    const struct leaky_params *p = params;
    activation_derivative(p->activation, rows * size, h, z, dzdh);
}

static void leaky_state_jacobian(const void *params, int rows, int size, const trl_real *h_prev,
                                 trl_real *J)
{
    const struct leaky_params *p = params;
    (void)h_prev;
    int n = rows * size;
    for (int i = 0; i < n; i++) J[i] = (trl_real)p->alpha;
}

static void leaky_input_jacobian(const void *params, trl_real *dhdI)
{
    const struct leaky_params *p = params;
    dhdI[0] = (trl_real)(1.0 - p->alpha);
}

static unsigned leaky_constant_rows(const void *params)
{
    (void)params;
    return 1u;
}

const struct op_kind op_leaky = {
    .name = "leaky",
    .doc = "leaky rate unit: h = alpha h + (1 - alpha) I, z = phi(h)",
    .n_state = 1,
    .state_names = "h",
    .default_bias = true,
    .params_size = sizeof(struct leaky_params),
    .param_desc = leaky_param_desc,
    .n_param_desc = sizeof leaky_param_desc / sizeof leaky_param_desc[0],
    .prepare = leaky_prepare,
    .forward = leaky_forward,
    .output_jacobian = leaky_output_jacobian,
    .state_jacobian = leaky_state_jacobian,
    .input_jacobian = leaky_input_jacobian,
    .constant_rows = leaky_constant_rows,
};
