/* test_packed.c - products with a pre-packed weight (kernels/packed.h).
 *
 * packed_mul against a plain double-precision loop, for both products
 * (z W^T and delta W), on every remainder of the 8-row tile, the 64-row
 * block and the 48-column panel (1..200 rows, 1..97 outputs: last panels of
 * one, two and three vectors), row strides wider than the rows, and
 * accumulation into what out held. packed_sync after W changed; one
 * reserved packed_weight re-packed with W of other shapes (packed_set);
 * packed_mul_into from a column-scaled previous value and from zero. The float32 build takes the
 * AVX-512 kernel where the processor has it; the float64 build checks the BLAS path of the same
 * calls. Tolerance: 1e-5 relative in float32 (sums of <= 67 products), 1e-12 in float64.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "kernels/packed.h"
#include "core/rng.h"
#include "tests/support/testutil.h"

static const double tol = sizeof(trl_real) == sizeof(float) ? 1e-5 : 1e-12;

static trl_real *random_values(size_t n, struct rng *r)
{
    trl_real *v = trl_alloc(n, sizeof *v, TRL_MEM_MISC);
    for (size_t i = 0; v && i < n; i++) v[i] = (trl_real)(rng_uniform(r) * 2 - 1);
    return v;
}

/* Largest |packed - exact| / (1 + |exact|) over out [m][n_out]. */
static double check_product(const struct packed_weight *p, int m, struct rng *r)
{
    const int lda = p->n_in + 3, ldo = p->n_out + 5;
    trl_real *a = random_values((size_t)m * lda, r), *out = random_values((size_t)m * ldo, r);
    double *expect = malloc((size_t)m * ldo * sizeof *expect);
    ck_assert(a && out && expect);
    for (int i = 0; i < m; i++)
        for (int o = 0; o < ldo; o++) {
            double s = out[(size_t)i * ldo + o];
            for (int k = 0; o < p->n_out && k < p->n_in; k++) {
                double w = p->op == PACKED_WT ? p->w[(size_t)o * p->cols + k]
                                              : p->w[(size_t)k * p->cols + o];
                s += (double)a[(size_t)i * lda + k] * w;
            }
            expect[(size_t)i * ldo + o] = s; /* columns past n_out stay as they were */
        }
    packed_mul(p, m, a, lda, out, ldo);
    double worst = 0;
    for (size_t i = 0; i < (size_t)m * ldo; i++) {
        double e = fabs(out[i] - expect[i]) / (1 + fabs(expect[i]));
        if (e > worst) worst = e;
    }
    trl_free(a);
    trl_free(out);
    free(expect);
    return worst;
}

START_TEST(products_match_the_definition)
{
    static const int sizes[][2] = {{1, 1}, {3, 47}, {17, 48}, {64, 49}, {5, 97}, {33, 20}};
    struct rng r;
    rng_seed(&r, 7);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int op = 0; op < 2; op++) {
            const int rows = sizes[s][op], cols = sizes[s][1 - op];
            trl_real *w = random_values((size_t)rows * cols, &r);
            struct packed_weight p;
            ck_assert_int_eq(packed_init(&p, w, rows, cols, op ? PACKED_W : PACKED_WT), 0);
            ck_assert_int_eq(p.n_out, op ? cols : rows);
            for (int m = 1; m <= 200; m += m < 18 ? 1 : m < 70 ? 13 : 61) {
                double e = check_product(&p, m, &r);
                ck_assert_msg(e < tol, "%s, W %d x %d, %d rows: error %g", op ? "delta W" : "z W^T",
                              rows, cols, m, e);
            }
            packed_free(&p);
            trl_free(w);
        }
}
END_TEST

START_TEST(sync_follows_the_weights)
{
    struct rng r;
    rng_seed(&r, 8);
    trl_real *w = random_values(50 * 30, &r);
    struct packed_weight p;
    ck_assert_int_eq(packed_init(&p, w, 50, 30, PACKED_WT), 0);
    for (int i = 0; i < 50 * 30; i++) w[i] = -w[i] * 0.5f;
    packed_sync(&p);
    ck_assert(check_product(&p, 9, &r) < tol);
    ck_assert_uint_eq(packed_bytes(50, 30, PACKED_WT) > 0, p.panels != NULL);
    packed_free(&p);
    trl_free(w);
}
END_TEST

START_TEST(set_reuses_the_reservation)
{
    static const int shapes[][2] = {{10, 96}, {64, 96}, {96, 128}, {1, 1}, {128, 128}};
    struct rng r;
    rng_seed(&r, 9);
    struct packed_weight p;
    ck_assert_int_eq(packed_reserve(&p, 128, 128), 0);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        trl_real *w = random_values((size_t)shapes[i][0] * shapes[i][1], &r);
        packed_set(&p, w, shapes[i][0], shapes[i][1], PACKED_WT);
        double e = check_product(&p, 150, &r);
        ck_assert_msg(e < tol, "W %d x %d after packed_set: error %g", shapes[i][0], shapes[i][1],
                      e);
        trl_free(w);
    }
    packed_free(&p);
}
END_TEST

/* packed_mul_into: out = scale . prev + a W^T, and = a W^T without prev. */
START_TEST(into_starts_from_scaled_prev_or_zero)
{
    struct rng r;
    rng_seed(&r, 10);
    const int m = 150, N = 37, K = 29;
    trl_real *w = random_values((size_t)N * K, &r), *a = random_values((size_t)m * K, &r);
    trl_real *prev = random_values((size_t)m * N, &r), *scale = random_values(N, &r);
    trl_real *out = random_values((size_t)m * N, &r);
    struct packed_weight p;
    ck_assert_int_eq(packed_init(&p, w, N, K, PACKED_WT), 0);
    for (int with_prev = 0; with_prev < 2; with_prev++) {
        packed_mul_into(&p, m, a, K, out, N, with_prev ? prev : NULL, scale);
        double worst = 0;
        for (int i = 0; i < m; i++)
            for (int o = 0; o < N; o++) {
                double e = with_prev ? (double)scale[o] * prev[(size_t)i * N + o] : 0;
                for (int k = 0; k < K; k++)
                    e += (double)a[(size_t)i * K + k] * w[(size_t)o * K + k];
                double d = fabs(out[(size_t)i * N + o] - e) / (1 + fabs(e));
                if (d > worst) worst = d;
            }
        ck_assert_msg(worst < tol, "with_prev %d: error %g", with_prev, worst);
    }
    packed_free(&p);
    trl_free(w);
    trl_free(a);
    trl_free(prev);
    trl_free(scale);
    trl_free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("packed");
    TCase *tc = tcase_create("packed");
    tcase_add_test(tc, products_match_the_definition);
    tcase_add_test(tc, sync_follows_the_weights);
    tcase_add_test(tc, set_reuses_the_reservation);
    tcase_add_test(tc, into_starts_from_scaled_prev_or_zero);
    suite_add_tcase(s, tc);
    int failed = tu_run_suite(s, true);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
