/* readout.c - `readout`: a leaky, non-spiking output (SPEC section 2; Bellec et
 * al. 2020, the output neurons with their kappa filter).
 *
 *   y(t) = kappa y(t-1) + I(t),   kappa = exp(-dt / tau)
 *   z(t) = y(t)
 *
 * params: tau (20, > 0); bias on by default.
 * Jacobians: dz/dy = 1; J = kappa (a constant); dy/dI = 1.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "ops/op.h"

struct readout_params {
    double tau;
    double kappa; /* derived */
};

static const struct op_param_desc readout_param_desc[] = {
    {"tau", OP_PARAM_REAL, offsetof(struct readout_params, tau), 20, OP_BOUND_POSITIVE,
     "output time constant"},
};

static void readout_prepare(void *params, double dt)
{
    struct readout_params *p = params;
    p->kappa = exp(-dt / p->tau);
}

TRL_HOT static void readout_forward(const void *params, int rows, int size, const trl_real *I,
                                    const trl_real *h_prev, const trl_real *z_prev, trl_real *h,
                                    trl_real *z)
{
    const struct readout_params *p = params;
    const trl_real kappa = (trl_real)p->kappa;
    (void)z_prev;
    int n = rows * size;
    for (int i = 0; i < n; i++) h[i] = kappa * h_prev[i] + I[i];
    memcpy(z, h, (size_t)n * sizeof *z);
}

static void readout_output_jacobian(const void *params, int rows, int size, const trl_real *h,
                                    const trl_real *z, trl_real *dzdh)
{
    (void)params;
    (void)h;
    (void)z;
    int n = rows * size;
    for (int i = 0; i < n; i++) dzdh[i] = 1;
}

static void readout_state_jacobian(const void *params, int rows, int size, const trl_real *h_prev,
                                   trl_real *J)
{
    const struct readout_params *p = params;
    (void)h_prev;
    int n = rows * size;
    for (int i = 0; i < n; i++) J[i] = (trl_real)p->kappa;
}

static void readout_input_jacobian(const void *params, trl_real *dhdI)
{
    (void)params;
    dhdI[0] = 1;
}

static unsigned readout_constant_rows(const void *params)
{
    (void)params;
    return 1u;
}

const struct op_kind op_readout = {
    .name = "readout",
    .doc = "leaky output: y = kappa y + I, z = y",
    .n_state = 1,
    .state_names = "y",
    .default_bias = true,
    .params_size = sizeof(struct readout_params),
    .param_desc = readout_param_desc,
    .n_param_desc = sizeof readout_param_desc / sizeof readout_param_desc[0],
    .prepare = readout_prepare,
    .forward = readout_forward,
    .output_jacobian = readout_output_jacobian,
    .state_jacobian = readout_state_jacobian,
    .input_jacobian = readout_input_jacobian,
    .constant_rows = readout_constant_rows,
};
