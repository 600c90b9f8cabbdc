/* spike.h - the spike nonlinearity shared by `lif` and `alif` (SPEC section 2).
 *
 *   z = H(v - A),  H(u) = 1 if u > 0 else 0
 *   psi = (gamma / v_th) * max(0, 1 - |v - A| / v_th)   (pseudo-derivative, H')
 */
#ifndef TRELLIS_SPIKE_H
#define TRELLIS_SPIKE_H

#include <math.h>

#include "runtime/real.h"

static inline trl_real spike(trl_real u)
{
    return u > 0 ? 1 : 0;
}

static inline trl_real spike_psi(double gamma, double v_th, trl_real u)
{
    double r = 1.0 - fabs((double)u) / v_th;
    return r > 0 ? (trl_real)(gamma / v_th * r) : 0;
}

#endif
