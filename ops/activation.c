/* activation.c - see activation.h. */
#include "ops/activation.h"

#include <math.h>
#include <string.h>

#include "ops/fastmath.h"

#ifdef TRL_F64
#define TANH(x)    tanh(x)
#define SIGMOID(x) (1.0 / (1.0 + exp(-(x))))
#else /* float32: vectorisable versions (ops/fastmath.h) */
#define TANH(x)    fast_tanhf(x)
#define SIGMOID(x) fast_sigmoidf(x)
#endif

const char *const activation_names[ACT_COUNT] = {"identity", "tanh", "sigmoid", "relu"};
const bool activation_smooth[ACT_COUNT] = {true, true, true, false};

int activation_find(const char *s)
{
    for (int i = 0; i < ACT_COUNT; i++)
        if (strcmp(activation_names[i], s) == 0) return i;
    return -1;
}

TRL_HOT void activation_apply(int act, int n, const trl_real *h, trl_real *z)
{
    switch (act) {
    case ACT_TANH:
        for (int i = 0; i < n; i++) z[i] = TANH(h[i]);
        break;
    case ACT_SIGMOID:
        for (int i = 0; i < n; i++) z[i] = SIGMOID(h[i]);
        break;
    case ACT_RELU:
        for (int i = 0; i < n; i++) z[i] = h[i] > 0 ? h[i] : 0;
        break;
    default:
        if (z != h) memcpy(z, h, (size_t)n * sizeof *z);
    }
}

TRL_HOT void activation_derivative(int act, int n, const trl_real *h, const trl_real *z,
                                   trl_real *dzdh)
{
    switch (act) {
    case ACT_TANH:
        for (int i = 0; i < n; i++) dzdh[i] = 1 - z[i] * z[i];
        break;
    case ACT_SIGMOID:
        for (int i = 0; i < n; i++) dzdh[i] = z[i] * (1 - z[i]);
        break;
    case ACT_RELU:
        for (int i = 0; i < n; i++) dzdh[i] = h[i] > 0 ? 1 : 0;
        break;
    default:
        for (int i = 0; i < n; i++) dzdh[i] = 1;
    }
}
