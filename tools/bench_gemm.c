/* bench_gemm.c - see bench_gemm.h: GEMM throughput of this machine.
 *
 * The default shapes are the products of the benchmark workloads
 * (bench/README.md): per step, a batch of B rows through a recurrent or
 * delay-0 edge ([32 x 200] x [200 x 200] for the LSNN's fused recurrence,
 * [32 x 128] x [128 x 128] deep, [16 x 128] x [128 x 128] dag,
 * [16 x 1024] x [1024 x 1024] wide), and the same edges over all T*B rows at
 * once ([16000 x 80] x [80 x 200], [6400 x 128] x [128 x 128],
 * [1600 x 128] x [128 x 1024]), and [512 x 1024] x [1024 x 1024]. Shapes are
 * written M x K x N for [M x K] x [K x N].
 */
#include "tools/bench_gemm.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "kernels/packed.h"
#include "core/real.h"
#include "core/rng.h"
#include "tools/bench_proc.h"
#include "tools/cli.h"

#define GEMM_TRIALS    3
#define GEMM_BUDGET    0.15 /* seconds per trial */
#define GEMM_MAX_SIDE  65536
#define GEMM_MAX_CALLS (1 << 24)

static const struct gemm_shape peak_shapes[] = {
    {512, 512, 512}, {1024, 1024, 1024}, {2048, 2048, 2048}};
static const struct gemm_shape workload_shapes[] = {
    {32, 200, 200}, {16000, 80, 200}, {32, 128, 128},    {6400, 128, 128},  {16, 128, 128},
    {16, 96, 128},  {16, 1024, 1024}, {1600, 128, 1024}, {512, 1024, 1024},
};

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
    double t0 = bench_now();
    for (long i = 0; i < calls; i++)
        if (packed)
            packed_mul(packed, s.m, A, s.k, C, s.n);
        else
            trl_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, s.m, s.n, s.k, 1, A, s.k, W, s.k, 0,
                     C, s.n);
    return bench_now() - t0;
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

/* One "MxKxN" at text; the end of it in *end, or NULL if malformed. */
static const char *parse_shape(const char *text, struct gemm_shape *s)
{
    int *side[3] = {&s->m, &s->k, &s->n};
    const char *p = text;
    for (int i = 0; i < 3; i++) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > GEMM_MAX_SIDE || *p == '-' || *p == '+') return NULL;
        *side[i] = (int)v;
        p = end;
        if (i < 2) {
            if (*p != 'x') return NULL;
            p++;
        }
    }
    return p;
}

int gemm_parse_shapes(const char *text, struct gemm_shape *out)
{
    int n = 0;
    for (const char *p = text;;) {
        if (n == BENCH_GEMM_MAX_SHAPES) return -1;
        p = parse_shape(p, &out[n++]);
        if (!p) return -1;
        if (*p == 0) return n;
        if (*p++ != ',') return -1;
    }
}

/* Times every shape; 0, or -1 if out of memory (printed). */
static int measure(const struct gemm_shape *s, int n, struct gemm_result *out)
{
    for (int i = 0; i < n; i++)
        if (gemm_time(s[i], GEMM_BUDGET, &out[i])) {
            fprintf(stderr, "trellis bench: out of memory for a %d x %d x %d product\n", s[i].m,
                    s[i].k, s[i].n);
            return -1;
        }
    return 0;
}

static double peak_of(const struct gemm_result *r, int n)
{
    double best = 0;
    for (int i = 0; i < n; i++)
        if (r[i].gflops > best) best = r[i].gflops;
    return best;
}

static void print_rows(const char *title, const struct gemm_result *r, int n)
{
    printf("%s\n  %6s %6s %6s %12s %10s %10s\n", title, "M", "K", "N", "s/call", "GFLOP/s",
           "packed");
    for (int i = 0; i < n; i++) {
        printf("  %6d %6d %6d %12.3e %10.2f", r[i].shape.m, r[i].shape.k, r[i].shape.n,
               r[i].seconds, r[i].gflops);
        if (r[i].packed_gflops > 0)
            printf(" %10.2f\n", r[i].packed_gflops);
        else
            printf(" %10s\n", "-");
    }
}

static json_t *rows_json(const struct gemm_result *r, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:i, s:i, s:i, s:f, s:f, s:f}", "m", r[i].shape.m, "k",
                                           r[i].shape.k, "n", r[i].shape.n, "seconds", r[i].seconds,
                                           "gflops", r[i].gflops, "packed_gflops",
                                           r[i].packed_gflops));
    return a;
}

static const char *routine_name(void)
{
    return sizeof(trl_real) == sizeof(float) ? "cblas_sgemm" : "cblas_dgemm";
}

static int print_json(const struct gemm_result *pk, int n_pk, const struct gemm_result *sh,
                      int n_sh)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:f, s:o, s:o}", "routine", routine_name(),
                  "precision", TRL_PRECISION, "layout", "C[M,N] = A[M,K] W[N,K]^T, row-major",
                  "blas", openblas_get_config(), "threads", openblas_get_num_threads(), "procs",
                  openblas_get_num_procs(), "peak_gflops", peak_of(pk, n_pk), "peak",
                  rows_json(pk, n_pk), "shapes", rows_json(sh, n_sh));
    int rc = o && json_dumpf(o, stdout, JSON_COMPACT) == 0 ? EXIT_OK : EXIT_INPUT;
    printf("\n");
    json_decref(o);
    return rc;
}

static void print_text(const struct gemm_result *pk, int n_pk, const struct gemm_result *sh,
                       int n_sh)
{
    int th = openblas_get_num_threads();
    printf("%s (%s), C[M,N] = A[M,K] W[N,K]^T row-major, %d BLAS thread%s of %d cores\n%s\n\n",
           routine_name(), TRL_PRECISION, th, th == 1 ? "" : "s", openblas_get_num_procs(),
           openblas_get_config());
    print_rows("peak (square):", pk, n_pk);
    printf("\n");
    print_rows("shapes:", sh, n_sh);
    printf("\npeak %.2f GFLOP/s\n", peak_of(pk, n_pk));
}

int bench_gemm_report(const struct gemm_shape *shapes, int n_sh, bool json)
{
    if (!shapes) {
        shapes = workload_shapes;
        n_sh = (int)(sizeof workload_shapes / sizeof workload_shapes[0]);
    }
    int n_pk = (int)(sizeof peak_shapes / sizeof peak_shapes[0]);
    struct gemm_result pk[sizeof peak_shapes / sizeof peak_shapes[0]], sh[BENCH_GEMM_MAX_SHAPES];
    if (n_sh > BENCH_GEMM_MAX_SHAPES) n_sh = BENCH_GEMM_MAX_SHAPES;
    if (measure(peak_shapes, n_pk, pk) || measure(shapes, n_sh, sh)) return EXIT_INPUT;
    if (json) return print_json(pk, n_pk, sh, n_sh);
    print_text(pk, n_pk, sh, n_sh);
    return EXIT_OK;
}
