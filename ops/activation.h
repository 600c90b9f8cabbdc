/* activation.h - the activations phi of `dense` and `leaky` (SPEC section 2). */
#ifndef TRELLIS_ACTIVATION_H
#define TRELLIS_ACTIVATION_H

#include <stdbool.h>

#include "core/real.h"

enum activation { ACT_IDENTITY, ACT_TANH, ACT_SIGMOID, ACT_RELU, ACT_COUNT };

extern const char *const activation_names[ACT_COUNT];
/* Differentiable everywhere (relu is not, at 0): finite differences hold. */
extern const bool activation_smooth[ACT_COUNT];
/* The activation named s, or -1. */
int activation_find(const char *s);
/* z = phi(h), n values. */
void activation_apply(int act, int n, const trl_real *h, trl_real *z);
/* dzdh = phi'(h), from h and z = phi(h); relu'(0) = 0. */
void activation_derivative(int act, int n, const trl_real *h, const trl_real *z, trl_real *dzdh);

#endif
