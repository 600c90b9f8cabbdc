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

#include "tools/cli.h"

#define GEMM_BUDGET 0.15 /* seconds per trial */

/* One measured product. */
struct gemm_result {
    struct gemm_shape shape;
    double seconds, gflops, packed_gflops;
};

static const struct gemm_shape peak_shapes[] = {
    {512, 512, 512}, {1024, 1024, 1024}, {2048, 2048, 2048}};
static const struct gemm_shape workload_shapes[] = {
    {32, 200, 200}, {16000, 80, 200}, {32, 128, 128},    {6400, 128, 128},  {16, 128, 128},
    {16, 96, 128},  {16, 1024, 1024}, {1600, 128, 1024}, {512, 1024, 1024},
};

/* One "MxKxN" at text; the end of it in *end, or NULL if malformed. */
static const char *parse_shape(const char *text, struct gemm_shape *s)
{
    int *side[3] = {&s->m, &s->k, &s->n};
    const char *p = text;
    for (int i = 0; i < 3; i++) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > TRL_GEMM_MAX_SIDE || *p == '-' || *p == '+') return NULL;
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
    for (int i = 0; i < n; i++) {
        trl_gemm_timing t;
        if (trl_time_gemm(s[i].m, s[i].k, s[i].n, GEMM_BUDGET, &t, NULL) != TRL_OK) {
            fprintf(stderr, "trellis bench: out of memory for a %d x %d x %d product\n", s[i].m,
                    s[i].k, s[i].n);
            return -1;
        }
        out[i] = (struct gemm_result){s[i], t.seconds, t.gflops, t.packed_gflops};
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
    trl_blas_info blas;
    trl_blas_get_info(&blas);
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:f, s:o, s:o}", "routine", routine_name(),
                  "precision", trl_precision(), "layout", "C[M,N] = A[M,K] W[N,K]^T, row-major",
                  "blas", blas.config, "threads", blas.threads, "procs", blas.procs, "peak_gflops",
                  peak_of(pk, n_pk), "peak", rows_json(pk, n_pk), "shapes", rows_json(sh, n_sh));
    int rc = o && json_dumpf(o, stdout, JSON_COMPACT) == 0 ? EXIT_OK : EXIT_INPUT;
    printf("\n");
    json_decref(o);
    return rc;
}

static void print_text(const struct gemm_result *pk, int n_pk, const struct gemm_result *sh,
                       int n_sh)
{
    trl_blas_info blas;
    trl_blas_get_info(&blas);
    printf("%s (%s), C[M,N] = A[M,K] W[N,K]^T row-major, %d BLAS thread%s of %d cores\n%s\n\n",
           routine_name(), trl_precision(), blas.threads, blas.threads == 1 ? "" : "s", blas.procs,
           blas.config);
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
