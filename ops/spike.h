/* spike.h - the spike nonlinearity shared by `lif` and `alif` (SPEC section 2).
 *
 *   z = H(v - A),  H(u) = 1 if u > 0 else 0
 *   psi = (gamma / v_th) * max(0, 1 - |v - A| / v_th)   (pseudo-derivative, H')
 */
#ifndef TRELLIS_SPIKE_H
#define TRELLIS_SPIKE_H

#include <math.h>

#include "core/real.h"

static inline trl_real spike(trl_real u)
{
    return u > 0 ? 1 : 0;
}

/* In the binary's precision, so that a loop over units vectorises. */
static inline trl_real spike_psi(double gamma, double v_th, trl_real u)
{
    const trl_real th = (trl_real)v_th, height = (trl_real)(gamma / v_th);
    const trl_real r = 1 - (u < 0 ? -u : u) / th;
    return r > 0 ? height * r : 0;
}

#endif
