/* events.c - see events.h. */
#include "kernels/events.h"

#include <stdbool.h>
#include <stddef.h>

#include "kernels/parallel.h"

#define BLOCK_VECTORS 8 /* outputs kept in registers: 8 vectors of 16 */

/* The plain loops: every build, and the fallback on other processors. */
TRL_HOT static int find_plain(const trl_real *z, int B, int K, int *start, int *pos)
{
    int count = 0;
    for (int b = 0; b < B; b++) {
        const trl_real *zb = z + (size_t)b * K;
        start[b] = count;
        for (int k = 0; k < K; k++) {
            pos[count] = k;
            count += zb[k] != 0;
        }
    }
    start[B] = count;
    return count;
}

TRL_HOT static void add_plain(trl_real *out, const trl_real *z, const trl_real *wt, int B, int N,
                              int K, const int *start, const int *pos)
{
    for (int b = 0; b < B; b++) {
        const trl_real *zb = z + (size_t)b * K;
        trl_real *ob = out + (size_t)b * N;
        for (int e = start[b]; e < start[b + 1]; e++) {
            const trl_real v = zb[pos[e]], *w = wt + (size_t)pos[e] * N;
            for (int i = 0; i < N; i++) ob[i] += v * w[i];
        }
    }
}

#if !defined(TRL_F64) && defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define EVENTS_KERNEL 1

static __mmask16 tail_mask(int n)
{
    return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
}

__attribute__((target("avx512f"))) static int find_avx512(const float *z, int B, int K, int *start,
                                                          int *pos)
{
    const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    int count = 0;
    for (int b = 0; b < B; b++) {
        const float *zb = z + (size_t)b * K;
        start[b] = count;
        for (int k = 0; k < K; k += 16) {
            const __mmask16 m = tail_mask(K - k);
            const __m512 v = _mm512_maskz_loadu_ps(m, zb + k);
            /* != 0 as in C: NaN counts (unordered) */
            const __mmask16 nz = _mm512_mask_cmp_ps_mask(m, v, _mm512_setzero_ps(), _CMP_NEQ_UQ);
            const __m512i idx = _mm512_add_epi32(lanes, _mm512_set1_epi32(k));
            _mm512_storeu_si512(pos + count, _mm512_maskz_compress_epi32(nz, idx));
            count += __builtin_popcount(nz);
        }
    }
    start[B] = count;
    return count;
}

/* ob[0 .. n) += sum over the events of zb[k] wt[k][0 .. n), nv = the
 * vectors that n needs (a constant at each call: the accumulators stay in
 * registers). */
__attribute__((target("avx512f"), always_inline)) static inline void
add_block(const int nv, int n, float *ob, const float *zb, const float *wt, size_t ldw,
          const int *pos, int e0, int e1)
{
    __m512 acc[BLOCK_VECTORS];
    __mmask16 m[BLOCK_VECTORS];
    for (int v = 0; v < nv; v++) {
        m[v] = tail_mask(n - 16 * v);
        acc[v] = _mm512_maskz_loadu_ps(m[v], ob + 16 * v);
    }
    for (int e = e0; e < e1; e++) {
        const float *w = wt + (size_t)pos[e] * ldw;
        const __m512 x = _mm512_set1_ps(zb[pos[e]]);
        for (int v = 0; v < nv; v++) /* a multiply, then an add: the plain loop's bits */
            acc[v] =
                _mm512_add_ps(acc[v], _mm512_mul_ps(x, _mm512_maskz_loadu_ps(m[v], w + 16 * v)));
    }
    for (int v = 0; v < nv; v++) _mm512_mask_storeu_ps(ob + 16 * v, m[v], acc[v]);
}

__attribute__((target("avx512f"))) static void add_avx512(float *out, const float *z,
                                                          const float *wt, int B, int N, int K,
                                                          const int *start, const int *pos)
{
    for (int b = 0; b < B; b++) {
        const float *zb = z + (size_t)b * K;
        float *ob = out + (size_t)b * N;
        const int e0 = start[b], e1 = start[b + 1];
        if (e0 == e1) continue;
        for (int i = 0; i < N; i += 16 * BLOCK_VECTORS) {
            const int n = N - i < 16 * BLOCK_VECTORS ? N - i : 16 * BLOCK_VECTORS;
            switch ((n + 15) / 16) {
            case 1:
                add_block(1, n, ob + i, zb, wt + i, (size_t)N, pos, e0, e1);
                break;
            case 2:
                add_block(2, n, ob + i, zb, wt + i, (size_t)N, pos, e0, e1);
                break;
            case 3:
                add_block(3, n, ob + i, zb, wt + i, (size_t)N, pos, e0, e1);
                break;
            case 4:
                add_block(4, n, ob + i, zb, wt + i, (size_t)N, pos, e0, e1);
                break;
            case 5:
                add_block(5, n, ob + i, zb, wt + i, (size_t)N, pos, e0, e1);
                break;
            case 6:
                add_block(6, n, ob + i, zb, wt + i, (size_t)N, pos, e0, e1);
                break;
            case 7:
                add_block(7, n, ob + i, zb, wt + i, (size_t)N, pos, e0, e1);
                break;
            default:
                add_block(8, n, ob + i, zb, wt + i, (size_t)N, pos, e0, e1);
                break;
            }
        }
    }
}
#endif

int events_find(const trl_real *z, int B, int K, int *start, int *pos)
{
#ifdef EVENTS_KERNEL
    if (cpu_avx512()) return find_avx512(z, B, K, start, pos);
#endif
    return find_plain(z, B, K, start, pos);
}

void events_add(trl_real *out, const trl_real *z, const trl_real *wt, int B, int N, int K,
                const int *start, const int *pos)
{
#ifdef EVENTS_KERNEL
    if (cpu_avx512()) {
        add_avx512(out, z, wt, B, N, K, start, pos);
        return;
    }
#endif
    add_plain(out, z, wt, B, N, K, start, pos);
}
