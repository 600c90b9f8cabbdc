/* gemm_time.h - this machine's matrix-product throughput in the library's
 * precision: the yardstick for "how close to the machine's limit" that
 * `trellis bench` and bench/run_bench.py report.
 *
 * One measurement times trl_gemm (cblas_sgemm in float32, cblas_dgemm in
 * float64) on C[M, N] = A[M, K] W[N, K]^T, row-major: the layout of the
 * forward products (a batch of rows times an edge's weights). Calls are
 * repeated until a trial lasts the time budget; the best of three trials
 * counts. GFLOP/s = 2 M K N / seconds per call / 1e9. Where the engines
 * multiply few rows by a pre-packed weight (kernels/packed.h), that product
 * is timed too, on one thread.
 */
#ifndef TRELLIS_GEMM_TIME_H
#define TRELLIS_GEMM_TIME_H

#define GEMM_MAX_SIDE 65536

struct gemm_shape {
    int m, k, n;
};

struct gemm_result {
    struct gemm_shape shape;
    double seconds; /* per call, best trial */
    double gflops;
    double packed_gflops; /* the same product by kernels/packed.h, or 0 where it is not used */
};

/* Times one shape (sides 1 to GEMM_MAX_SIDE) for about budget seconds per
 * trial; 0, or -1 if out of memory. */
int gemm_time(struct gemm_shape s, double budget, struct gemm_result *r);

#endif
