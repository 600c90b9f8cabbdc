/* dense.c - `dense`: a stateless layer (SPEC section 2).
 *
 *   h(t) = I(t)          (the pre-activation is kept as the state)
 *   z(t) = phi(h(t))
 *
 * params: activation ("identity"); bias on by default.
 * Jacobians: dz/dh = phi'(h); J = 0 (no memory); dh/dI = 1.
 */
#include <stddef.h>
#include <string.h>

#include "ops/activation.h"
#include "ops/op.h"

struct dense_params {
    int activation;
};

static const struct op_param_desc dense_param_desc[] = {
    {"activation", OP_PARAM_ACTIVATION, offsetof(struct dense_params, activation), ACT_IDENTITY,
     OP_BOUND_ANY, "identity, tanh, sigmoid or relu"},
};

static void dense_prepare(void *params, double dt)
{
    (void)params;
    (void)dt;
}

static void dense_forward(const void *params, int rows, int size, const trl_real *I,
                          const trl_real *h_prev, const trl_real *z_prev, trl_real *h, trl_real *z)
{
    const struct dense_params *p = params;
    (void)h_prev;
    (void)z_prev;
    int n = rows * size;
    memcpy(h, I, (size_t)n * sizeof *h);
    activation_apply(p->activation, n, h, z);
}

static void dense_output_jacobian(const void *params, int rows, int size, const trl_real *h,
                                  const trl_real *z, trl_real *dzdh)
{
    const struct dense_params *p = params;
    activation_derivative(p->activation, rows * size, h, z, dzdh);
}

static void dense_state_jacobian(const void *params, int rows, int size, const trl_real *h_prev,
                                 trl_real *J)
{
    (void)params;
    (void)h_prev;
    memset(J, 0, (size_t)rows * size * sizeof *J);
}

static void dense_input_jacobian(const void *params, trl_real *dhdI)
{
    (void)params;
    dhdI[0] = 1;
}

static unsigned dense_constant_rows(const void *params)
{
    (void)params;
    return 1u;
}

const struct op_kind op_dense = {
    .name = "dense",
    .doc = "stateless layer: z = phi(I)",
    .n_state = 1,
    .state_names = "I",
    .default_bias = true,
    .params_size = sizeof(struct dense_params),
    .param_desc = dense_param_desc,
    .n_param_desc = sizeof dense_param_desc / sizeof dense_param_desc[0],
    .prepare = dense_prepare,
    .forward = dense_forward,
    .output_jacobian = dense_output_jacobian,
    .state_jacobian = dense_state_jacobian,
    .input_jacobian = dense_input_jacobian,
    .constant_rows = dense_constant_rows,
};
