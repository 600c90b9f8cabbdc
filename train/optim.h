/* optim.h - optimisers over a graph's flat parameter block.
 *
 *   sgd   v = mu v + g;  theta -= lr v                (momentum mu, default 0.9)
 *   adam  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
 *         theta -= lr (m / (1 - b1^k)) / (sqrt(v / (1 - b2^k)) + eps)
 *         (Kingma and Ba 2015; b1 0.9, b2 0.999, eps 1e-8; k = step count)
 *
 * Only trainable tensors move; a no_self diagonal has gradient 0 and stays 0.
 * The state (m, v, k) lives in the checkpoint, so a resumed run continues
 * exactly as an uninterrupted one.
 */
#ifndef TRELLIS_OPTIM_H
#define TRELLIS_OPTIM_H

#include "graph/graph.h"
#include "core/real.h"

enum optim_kind { OPTIM_ADAM, OPTIM_SGD };

struct optim {
    enum optim_kind kind;
    double lr, momentum, beta1, beta2, eps;
    long step;       /* updates done */
    trl_real *m, *v; /* first/second moments (sgd: m is the velocity), like the params block */
    size_t n;
};

/* NULL if out of memory. */
struct optim *optim_new(const struct graph *g, enum optim_kind kind, double lr);
void optim_free(struct optim *o);
/* One update of params with grad (trainable tensors only). */
void optim_step(struct optim *o, const struct graph *g, trl_real *params, const trl_real *grad);
/* Scales grad so that its norm over the trainable tensors is at most max_norm
 * (no change if max_norm <= 0). Returns the norm before clipping. */
double optim_clip(const struct graph *g, trl_real *grad, double max_norm);

#endif
