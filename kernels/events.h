/* events.h - products with a sparse input: spiking outputs, 0 or 1 at most
 * units at most steps (engines/net.c).
 *
 * The nonzero entries of z [B][K] are listed once per step (events_find),
 * and out [B][N] += z W^T then takes one row of the transposed weights
 * wt [K][N] per event (events_add) instead of a dense product. On
 * processors with AVX-512F (float32) a sample's outputs stay in registers,
 * 128 at a time, across all its events, and the list is built sixteen
 * units at a time; the results are the same bits as the plain loops (each
 * event's term is a multiply, then an add, in the events' order).
 */
#ifndef TRELLIS_EVENTS_H
#define TRELLIS_EVENTS_H

#include "core/real.h"

/* Extra entries that pos needs past B * K: the vector path stores sixteen
 * at a time. */
#define EVENTS_SLACK 16

/* pos[start[b] .. start[b + 1]) = the units k with z[b][k] != 0, in order;
 * start has B + 1 entries, pos B * K + EVENTS_SLACK. Returns start[B]. */
int events_find(const trl_real *z, int B, int K, int *start, int *pos);

/* out [B][N] += z [B][K] W^T over the listed events, wt = W^T [K][N]. */
void events_add(trl_real *out, const trl_real *z, const trl_real *wt, int B, int N, int K,
                const int *start, const int *pos);

#endif
