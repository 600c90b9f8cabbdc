/* bench_gemm.h - this machine's GEMM throughput in the runtime's precision
 * (`trellis bench --gemm`): the yardstick for "how close to the machine's
 * limit" in `trellis bench` and bench/run_bench.py.
 *
 * One measurement (trl_time_gemm) times cblas_sgemm in bin/trellis, cblas_dgemm
 * in bin/trellis-f64, on C[M, N] = A[M, K] W[N, K]^T, row-major: the layout of
 * the runtime's forward products (a batch of rows times an edge's weights).
 * Calls are repeated until a trial lasts the time budget; the best of three
 * trials counts. GFLOP/s = 2 M K N / seconds per call / 1e9. The peak is the
 * best of the square sizes 512, 1024 and 2048. Where the runtime multiplies
 * few rows by a pre-packed weight of its own, that product is timed too, on
 * one thread.
 */
#ifndef TRELLIS_BENCH_GEMM_H
#define TRELLIS_BENCH_GEMM_H

#include <stdbool.h>

#define BENCH_GEMM_MAX_SHAPES 32

/* [m x k] x [k x n] */
struct gemm_shape {
    int m, k, n;
};

/* Parses "32x128x128,512x1024x1024" into at most BENCH_GEMM_MAX_SHAPES
 * shapes (each side 1 to TRL_GEMM_MAX_SIDE); the count, or -1 if malformed. */
int gemm_parse_shapes(const char *text, struct gemm_shape *out);

/* Measures the peak and n shapes (shapes NULL: the workloads' shapes) and
 * prints a table, or one JSON object. Returns a CLI exit status. */
int bench_gemm_report(const struct gemm_shape *shapes, int n, bool json);

#endif
