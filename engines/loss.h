/* loss.h - the losses of SPEC section 5, one step at a time.
 *
 *   mse:            L = (1/B) sum_b sum_t m_b(t) 1/2 sum_k (y_k - target_k)^2
 *   cross_entropy:  L = -(1/B) sum_b sum_t m_b(t) sum_k target_k log softmax(y)_k
 *
 * dL/dy(t): mse (m/B)(y - target); cross_entropy (m/B)(softmax(y) sum_k
 * target_k - target) (target need not sum to 1). Sums are in double.
 */
#ifndef TRELLIS_LOSS_H
#define TRELLIS_LOSS_H

#include "graph/graph.h"
#include "io/data.h"
#include "core/real.h"

/* Step t's term of the loss, for y [B, K] against d's target and mask. If dy
 * is not NULL it receives dL/dy(t) [B, K]. */
double loss_step(enum loss_type type, const struct data *d, int t, int K, const trl_real *y,
                 trl_real *dy);

#endif
