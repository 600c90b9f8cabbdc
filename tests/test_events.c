/* test_events.c - event-driven products (kernels/events.h).
 *
 * events_find against the definition (the nonzero units of each sample, in
 * order; NaN counts as nonzero, -0 does not) and events_add against the
 * plain loop it replaces, bit for bit: each event's term a multiply, then
 * an add, in the events' order. Every remainder of the sixteen-unit scan
 * and of the 16-wide vectors and 128-output blocks of the kernel (1..40
 * units, 1..300 outputs), spikes of 1 and other values, samples without
 * events. The float32 build takes the AVX-512 kernels where the processor
 * has them; the float64 build checks the plain loops.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "kernels/events.h"
#include "core/rng.h"
#include "tests/support/testutil.h"

/* z [B][K] with about a fifth of the entries nonzero: 1 (a spike) or a
 * value in (-2, 2); sample 0 has none. */
static trl_real *sparse_values(int B, int K, struct rng *r)
{
    trl_real *z = trl_alloc((size_t)B * K, sizeof *z, TRL_MEM_MISC);
    ck_assert_ptr_nonnull(z);
    for (int i = K; i < B * K; i++) {
        if (rng_below(r, 5)) continue;
        z[i] = rng_below(r, 2) ? 1 : (trl_real)(rng_uniform(r) * 4 - 2);
    }
    return z;
}

START_TEST(find_lists_the_nonzero_units)
{
    struct rng r;
    rng_seed(&r, 11);
    for (int K = 1; K <= 40; K++) {
        enum { B = 4 };
        trl_real *z = sparse_values(B, K, &r);
        z[(size_t)B * K - 1] = (trl_real)NAN; /* != 0, as in C */
        z[K] = (trl_real)-0.0;                /* == 0 */
        int start[B + 1], *pos = trl_alloc((size_t)B * K + EVENTS_SLACK, sizeof *pos, TRL_MEM_MISC);
        int n = events_find(z, B, K, start, pos), count = 0;
        for (int b = 0; b < B; b++) {
            ck_assert_int_eq(start[b], count);
            for (int k = 0; k < K; k++)
                if (z[(size_t)b * K + k] != 0) ck_assert_int_eq(pos[count++], k);
        }
        ck_assert_int_eq(start[B], count);
        ck_assert_int_eq(n, count);
        trl_free(pos);
        trl_free(z);
    }
}
END_TEST

START_TEST(add_equals_the_plain_loop)
{
    static const int outputs[] = {1, 15, 16, 17, 100, 127, 128, 129, 200, 256, 300};
    struct rng r;
    rng_seed(&r, 12);
    for (int K = 1; K <= 40; K += 3)
        for (size_t o = 0; o < sizeof outputs / sizeof outputs[0]; o++) {
            enum { B = 5 };
            const int N = outputs[o];
            trl_real *z = sparse_values(B, K, &r),
                     *wt = trl_alloc((size_t)K * N, sizeof *wt, TRL_MEM_MISC);
            trl_real *out = trl_alloc((size_t)B * N, sizeof *out, TRL_MEM_MISC);
            trl_real *expect = trl_alloc((size_t)B * N, sizeof *expect, TRL_MEM_MISC);
            int start[B + 1],
                *pos = trl_alloc((size_t)B * K + EVENTS_SLACK, sizeof *pos, TRL_MEM_MISC);
            for (size_t i = 0; i < (size_t)K * N; i++) wt[i] = (trl_real)(rng_uniform(&r) - 0.5);
            for (size_t i = 0; i < (size_t)B * N; i++)
                out[i] = expect[i] = (trl_real)rng_uniform(&r);
            for (int b = 0; b < B; b++) /* the plain loop, in the events' order */
                for (int k = 0; k < K; k++) {
                    const trl_real v = z[(size_t)b * K + k];
                    if (v == 0) continue;
                    for (int i = 0; i < N; i++)
                        expect[(size_t)b * N + i] += v * wt[(size_t)k * N + i];
                }
            events_find(z, B, K, start, pos);
            events_add(out, z, wt, B, N, K, start, pos);
            ck_assert_msg(memcmp(out, expect, (size_t)B * N * sizeof *out) == 0,
                          "K %d N %d: not the plain loop's bits", K, N);
            trl_free(pos);
            trl_free(expect);
            trl_free(out);
            trl_free(wt);
            trl_free(z);
        }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("events");
    TCase *tc = tcase_create("events");
    tcase_add_test(tc, find_lists_the_nonzero_units);
    tcase_add_test(tc, add_equals_the_plain_loop);
    suite_add_tcase(s, tc);
    int failed = tu_run_suite(s, true);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
