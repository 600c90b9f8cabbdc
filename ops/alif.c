/* alif.c - `alif`: adaptive LIF neuron of the LSNN (SPEC section 2; Bellec et
 * al. 2020, eq. 7 and the two-variable eligibility trace of their eq. 25-27).
 *
 *   a(t) = rho a(t-1) + z(t-1),                 rho = exp(-dt / tau_a)
 *   v(t) = alpha v(t-1) + I(t) - v_th z(t-1),   alpha = exp(-dt / tau_m)
 *   A(t) = v_th + beta a(t)
 *   z(t) = H(v(t) - A(t))
 *
 * params: as lif, plus tau_a (200, > 0) and beta (1.8, >= 0); no bias by
 * default ("bias": true adds one).
 * Jacobians, with psi(t) = (gamma / v_th) max(0, 1 - |v(t) - A(t)| / v_th):
 *   dz/dv = psi,  dz/da = -beta psi
 *   J(t) = [ alpha - v_th psi'   v_th beta psi' ]   psi' = psi(t-1); the first
 *          [ psi'                rho - beta psi' ]  row is [alpha 0] when
 *                                                   detach_reset
 *   (the adaptation input z(t-1) always keeps its gradient: second row)
 *   dv/dI = 1, da/dI = 0
 */
#include <math.h>
#include <stddef.h>

#include "ops/op.h"
#include "ops/spike.h"

struct alif_params {
    double tau_m, v_th, gamma;
    bool detach_reset;
    double tau_a, beta;
    double alpha, rho; /* derived */
};

static const struct op_param_desc alif_param_desc[] = {
    {"tau_m", OP_PARAM_REAL, offsetof(struct alif_params, tau_m), 20, OP_BOUND_POSITIVE,
     "membrane time constant"},
    {"v_th", OP_PARAM_REAL, offsetof(struct alif_params, v_th), 0.6, OP_BOUND_POSITIVE,
     "baseline threshold"},
    {"gamma", OP_PARAM_REAL, offsetof(struct alif_params, gamma), 0.3, OP_BOUND_NONNEG,
     "pseudo-derivative height"},
    {"detach_reset", OP_PARAM_BOOL, offsetof(struct alif_params, detach_reset), 1, OP_BOUND_ANY,
     "treat the reset as a constant when differentiating"},
    {"tau_a", OP_PARAM_REAL, offsetof(struct alif_params, tau_a), 200, OP_BOUND_POSITIVE,
     "adaptation time constant"},
    {"beta", OP_PARAM_REAL, offsetof(struct alif_params, beta), 1.8, OP_BOUND_NONNEG,
     "adaptation strength"},
};

static void alif_prepare(void *params, double dt)
{
    struct alif_params *p = params;
    p->alpha = exp(-dt / p->tau_m);
    p->rho = exp(-dt / p->tau_a);
}

/* restrict and plain indices: a step's outputs never overlap its inputs, and
 * so written the loop vectorises (per-row pointers kept it one unit at a
 * time, a fifth of the LSNN's run). */
TRL_HOT static void alif_forward(const void *params, int rows, int size, const trl_real *restrict I,
                                 const trl_real *restrict h_prev, const trl_real *restrict z_prev,
                                 trl_real *restrict h, trl_real *restrict z)
{
    const struct alif_params *p = params;
    const trl_real alpha = (trl_real)p->alpha, rho = (trl_real)p->rho;
    const trl_real v_th = (trl_real)p->v_th, beta = (trl_real)p->beta;
    for (int r = 0; r < rows; r++) {
        const size_t v0 = (size_t)r * 2 * size, a0 = v0 + size, z0 = (size_t)r * size;
        for (int j = 0; j < size; j++) {
            const trl_real a = rho * h_prev[a0 + j] + z_prev[z0 + j];
            const trl_real v = alpha * h_prev[v0 + j] + I[z0 + j] - v_th * z_prev[z0 + j];
            h[a0 + j] = a;
            h[v0 + j] = v;
            z[z0 + j] = spike(v - (v_th + beta * a));
        }
    }
}

TRL_HOT static void alif_output_jacobian(const void *params, int rows, int size, const trl_real *h,
                                         const trl_real *z, trl_real *dzdh)
{
    const struct alif_params *p = params;
    const trl_real v_th = (trl_real)p->v_th, beta = (trl_real)p->beta;
    (void)z;
    for (int r = 0; r < rows; r++) {
        const trl_real *v = h + (size_t)r * 2 * size, *a = v + size;
        trl_real *dv = dzdh + (size_t)r * 2 * size, *da = dv + size;
        for (int j = 0; j < size; j++) {
            trl_real psi = spike_psi(p->gamma, p->v_th, v[j] - (v_th + beta * a[j]));
            dv[j] = psi;
            da[j] = -beta * psi;
        }
    }
}

TRL_HOT static void alif_state_jacobian(const void *params, int rows, int size,
                                        const trl_real *restrict h_prev, trl_real *restrict J)
{
    const struct alif_params *p = params;
    const trl_real alpha = (trl_real)p->alpha, rho = (trl_real)p->rho;
    const trl_real v_th = (trl_real)p->v_th, beta = (trl_real)p->beta;
    const trl_real detached = p->detach_reset ? 0 : 1;
    for (int r = 0; r < rows; r++) {
        const size_t v0 = (size_t)r * 2 * size, a0 = v0 + size, j0 = (size_t)r * 4 * size;
        for (int j = 0; j < size; j++) { /* rows Jvv, Jva, Jav, Jaa of J */
            const trl_real psi =
                spike_psi(p->gamma, p->v_th, h_prev[v0 + j] - (v_th + beta * h_prev[a0 + j]));
            /* -v_th z(t-1): constant if detach_reset */
            J[j0 + j] = alpha - detached * v_th * psi;
            J[j0 + size + j] = detached * v_th * beta * psi;
            /* + z(t-1) in the adaptation: always differentiated */
            J[j0 + 2 * (size_t)size + j] = psi;
            J[j0 + 3 * (size_t)size + j] = rho - beta * psi;
        }
    }
}

static void alif_input_jacobian(const void *params, trl_real *dhdI)
{
    (void)params;
    dhdI[0] = 1;
    dhdI[1] = 0;
}

static unsigned alif_constant_rows(const void *params)
{
    const struct alif_params *p = params;
    return p->detach_reset ? 1u : 0u;
}

const struct op_kind op_alif = {
    .name = "alif",
    .doc = "adaptive LIF: threshold v_th + beta a, a = rho a + z(t-1)",
    .n_state = 2,
    .state_names = "v,a",
    .spiking = true,
    .default_bias = false,
    .params_size = sizeof(struct alif_params),
    .param_desc = alif_param_desc,
    .n_param_desc = sizeof alif_param_desc / sizeof alif_param_desc[0],
    .prepare = alif_prepare,
    .forward = alif_forward,
    .output_jacobian = alif_output_jacobian,
    .state_jacobian = alif_state_jacobian,
    .input_jacobian = alif_input_jacobian,
    .constant_rows = alif_constant_rows,
};
