/* gemm_time.c - see gemm_time.h. */
#include "kernels/gemm_time.h"

#include <time.h>

#include "core/alloc.h"
#include "core/real.h"
#include "core/rng.h"
#include "kernels/packed.h"

#define GEMM_TRIALS    3
#define GEMM_MAX_CALLS (1 << 24)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static trl_real *random_matrix(int rows, int cols, struct rng *r)
{
    size_t n = (size_t)rows * cols;
    trl_real *m = trl_alloc(n, sizeof *m, TRL_MEM_MISC);
    if (m)
        for (size_t i = 0; i < n; i++) m[i] = (trl_real)(rng_uniform(r) - 0.5);
    return m;
}

/* Seconds for `calls` products C = A W^T, by the BLAS or by the packed W. */
static double time_calls(struct gemm_shape s, const trl_real *A, const trl_real *W, trl_real *C,
                         const struct packed_weight *packed, long calls)
{
    double t0 = now();
    for (long i = 0; i < calls; i++)
        if (packed)
            packed_mul(packed, s.m, A, s.k, C, s.n);
        else
            trl_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, s.m, s.n, s.k, 1, A, s.k, W, s.k, 0,
                     C, s.n);
    return now() - t0;
}

/* Seconds per call, the best of GEMM_TRIALS trials of about budget each. */
static double best_time(struct gemm_shape s, const trl_real *A, const trl_real *W, trl_real *C,
                        const struct packed_weight *packed, double budget)
{
    double one = time_calls(s, A, W, C, packed, 1); /* warm-up, and the first estimate */
    long calls = one > 0 ? (long)(budget / one) + 1 : GEMM_MAX_CALLS;
    if (calls > GEMM_MAX_CALLS) calls = GEMM_MAX_CALLS;
    double best = one;
    for (int t = 0; t < GEMM_TRIALS; t++) {
        double sec = time_calls(s, A, W, C, packed, calls) / (double)calls;
        if (sec < best) best = sec;
    }
    return best;
}

int gemm_time(struct gemm_shape s, double budget, struct gemm_result *r)
{
    struct rng g;
    rng_seed(&g, 1);
    trl_real *A = random_matrix(s.m, s.k, &g), *W = random_matrix(s.n, s.k, &g);
    trl_real *C = trl_alloc((size_t)s.m * s.n, sizeof *C, TRL_MEM_MISC);
    struct packed_weight packed = {0};
    int rc = -1;
    if (A && W && C && packed_init(&packed, W, s.n, s.k, PACKED_WT) == 0) {
        const double flop = 2.0 * s.m * (double)s.k * s.n;
        r->shape = s;
        r->seconds = best_time(s, A, W, C, NULL, budget);
        r->gflops = flop / r->seconds / 1e9;
        r->packed_gflops = 0;
        if (packed.panels && packed_pays(s.m))
            r->packed_gflops = flop / best_time(s, A, W, C, &packed, budget) / 1e9;
        rc = 0;
    }
    packed_free(&packed);
    trl_free(A);
    trl_free(W);
    trl_free(C);
    return rc;
}
