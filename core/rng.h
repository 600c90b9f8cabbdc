/* rng.h - a portable random number generator: the same seed gives the same
 * numbers, bit for bit, on every machine.
 *
 * Uniform bits: xoshiro256** (Blackman and Vigna 2018), seeded through
 * splitmix64. Uniform doubles: the top 53 bits / 2^53, in [0, 1).
 * Normal: Marsaglia's polar method, with a logarithm computed here from
 * +, -, *, / only (rng_log), so no libm difference between machines can
 * change a bit; sqrt is exact by IEEE 754. The project is compiled with
 * -ffp-contract=off so that no fused multiply-add changes the rounding.
 */
#ifndef TRELLIS_RNG_H
#define TRELLIS_RNG_H

#include <stdint.h>

struct rng {
    uint64_t s[4];
    double spare; /* the polar method makes normals in pairs */
    int has_spare;
};

void rng_seed(struct rng *r, uint64_t seed);
/* A stream for one named purpose: the seed mixed with the name (FNV-1a), so
 * a tensor's values depend on the seed and its own name only. */
void rng_seed_named(struct rng *r, uint64_t seed, const char *name);
uint64_t rng_next(struct rng *r);
double rng_uniform(struct rng *r);             /* [0, 1) */
double rng_normal(struct rng *r);              /* mean 0, variance 1 */
uint64_t rng_below(struct rng *r, uint64_t n); /* uniform integer in [0, n), n >= 1 */
/* Natural logarithm of x > 0 (finite), from basic arithmetic only. */
double rng_log(double x);

#endif
