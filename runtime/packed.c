/* packed.c - see packed.h. */
#include "runtime/packed.h"

#include <stdint.h>
#include <string.h>

#include "runtime/alloc.h"

#define PANEL 48 /* columns of a panel: three 16-float vectors */
#define TILE  8  /* rows of the register tile: 8 x 3 accumulators */

#if !defined(TRELLIS_F64) && defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define PACKED_KERNEL 1

static bool have_avx512(void)
{
    static int known = -1;
    if (known < 0) known = __builtin_cpu_supports("avx512f") ? 1 : 0;
    return known;
}

/* c [mr][cols] += a [mr][k] P for one panel P [k][48]; cols <= 48 of the
 * panel are real. mr is a constant at every call site, so the accumulators
 * stay in registers. */
__attribute__((target("avx512f"), always_inline)) static inline void
panel_tile(const int mr, int k, const float *a, int lda, const float *p, float *c, int ldc,
           int cols)
{
    __m512 acc[TILE][3];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < 3; v++) acc[r][v] = _mm512_setzero_ps();
    for (int j = 0; j < k; j++, p += PANEL) {
        const __m512 w0 = _mm512_load_ps(p), w1 = _mm512_load_ps(p + 16),
                     w2 = _mm512_load_ps(p + 32);
        for (int r = 0; r < mr; r++) {
            const __m512 x = _mm512_set1_ps(a[(size_t)r * lda + j]);
            acc[r][0] = _mm512_fmadd_ps(x, w0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(x, w1, acc[r][1]);
            acc[r][2] = _mm512_fmadd_ps(x, w2, acc[r][2]);
        }
    }
    for (int v = 0; v < 3; v++) {
        const int n = cols - 16 * v;
        if (n <= 0) break;
        const __mmask16 m = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
        for (int r = 0; r < mr; r++) {
            float *cr = c + (size_t)r * ldc + 16 * v;
            _mm512_mask_storeu_ps(cr, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, cr), acc[r][v]));
        }
    }
}

__attribute__((target("avx512f"))) static void
packed_kernel(const struct packed_weight *p, int m, const float *a, int lda, float *out, int ldo)
{
    const int k = p->n_in;
    for (int n0 = 0; n0 < p->n_out; n0 += PANEL) {
        const float *panel = p->panels + (size_t)(n0 / PANEL) * k * PANEL;
        const int cols = p->n_out - n0 < PANEL ? p->n_out - n0 : PANEL;
        int r = 0;
        for (; r + TILE <= m; r += TILE)
            panel_tile(TILE, k, a + (size_t)r * lda, lda, panel, out + (size_t)r * ldo + n0, ldo,
                       cols);
        const float *ar = a + (size_t)r * lda;
        float *cr = out + (size_t)r * ldo + n0;
        switch (m - r) { /* the last rows, one constant tile height each */
        case 7:
            panel_tile(7, k, ar, lda, panel, cr, ldo, cols);
            break;
        case 6:
            panel_tile(6, k, ar, lda, panel, cr, ldo, cols);
            break;
        case 5:
            panel_tile(5, k, ar, lda, panel, cr, ldo, cols);
            break;
        case 4:
            panel_tile(4, k, ar, lda, panel, cr, ldo, cols);
            break;
        case 3:
            panel_tile(3, k, ar, lda, panel, cr, ldo, cols);
            break;
        case 2:
            panel_tile(2, k, ar, lda, panel, cr, ldo, cols);
            break;
        case 1:
            panel_tile(1, k, ar, lda, panel, cr, ldo, cols);
            break;
        default:
            break;
        }
    }
}
#else
#define PACKED_KERNEL 0
static bool have_avx512(void)
{
    return false;
}
#endif

/* Products of more rows than this go to the BLAS (bin/trellis bench --gemm
 * compares the two). */
#define PACKED_MAX_ROWS 64

bool packed_pays(int m)
{
    return PACKED_KERNEL && have_avx512() && m <= PACKED_MAX_ROWS;
}

static size_t panel_values(int n_in, int n_out)
{
    return trl_mul3((size_t)(n_out + PANEL - 1) / PANEL, (size_t)n_in, PANEL);
}

size_t packed_bytes(int rows, int cols, enum packed_op op)
{
    if (!packed_pays(1)) return 0;
    return panel_values(op == PACKED_WT ? cols : rows, op == PACKED_WT ? rows : cols) *
               sizeof(float) +
           64;
}

/* Panel q of W^T: panel[j][c] = W[48 q + c][j], in blocks of 16 j so that
 * both the rows read and the panel rows written stay in L1. */
static void pack_wt_panel(const struct packed_weight *p, size_t q, float *panel)
{
    const size_t n0 = q * PANEL;
    const int cols = p->n_out - (int)n0 < PANEL ? p->n_out - (int)n0 : PANEL;
    for (int j0 = 0; j0 < p->n_in; j0 += 16) {
        const int j1 = p->n_in - j0 < 16 ? p->n_in : j0 + 16;
        for (int c = 0; c < cols; c++) {
            const trl_real *w = p->w + (n0 + (size_t)c) * p->cols;
            for (int j = j0; j < j1; j++) panel[(size_t)j * PANEL + c] = (float)w[j];
        }
        for (int j = j0; j < j1; j++) /* padding past n_out */
            memset(panel + (size_t)j * PANEL + cols, 0, (size_t)(PANEL - cols) * sizeof *panel);
    }
}

/* Panel q of W: panel[j][c] = W[j][48 q + c], rows of W copied in pieces. */
static void pack_w_panel(const struct packed_weight *p, size_t q, float *panel)
{
    const size_t n0 = q * PANEL;
    const int cols = p->n_out - (int)n0 < PANEL ? p->n_out - (int)n0 : PANEL;
    for (int j = 0; j < p->n_in; j++) {
        const trl_real *w = p->w + (size_t)j * p->cols + n0;
        float *row = panel + (size_t)j * PANEL;
        for (int c = 0; c < cols; c++) row[c] = (float)w[c];
        memset(row + cols, 0, (size_t)(PANEL - cols) * sizeof *row);
    }
}

void packed_sync(struct packed_weight *p)
{
    if (!p->panels) return;
    const size_t n_panels = (size_t)(p->n_out + PANEL - 1) / PANEL;
    for (size_t q = 0; q < n_panels; q++) {
        float *panel = p->panels + q * (size_t)p->n_in * PANEL;
        if (p->op == PACKED_WT)
            pack_wt_panel(p, q, panel);
        else
            pack_w_panel(p, q, panel);
    }
}

int packed_init(struct packed_weight *p, const trl_real *w, int rows, int cols, enum packed_op op)
{
    *p = (struct packed_weight){.w = w, .rows = rows, .cols = cols, .op = op};
    p->n_in = op == PACKED_WT ? cols : rows;
    p->n_out = op == PACKED_WT ? rows : cols;
    if (!packed_pays(1)) return 0;
    /* panels on a 64-byte boundary: each vector load is one cache line */
    const size_t bytes = trl_mul2(panel_values(p->n_in, p->n_out), sizeof(float));
    p->block = trl_alloc_uninit(bytes == SIZE_MAX ? bytes : bytes + 64, 1, TRL_MEM_STATE);
    if (!p->block) return -1;
    p->panels = (float *)(((uintptr_t)p->block + 63) & ~(uintptr_t)63);
    packed_sync(p);
    return 0;
}

void packed_free(struct packed_weight *p)
{
    trl_free(p->block);
    p->block = NULL;
    p->panels = NULL;
}

void packed_mul(const struct packed_weight *p, int m, const trl_real *a, int lda, trl_real *out,
                int ldo)
{
#if PACKED_KERNEL
    if (p->panels && m <= PACKED_MAX_ROWS) {
        packed_kernel(p, m, a, lda, out, ldo);
        return;
    }
#endif
    if (p->op == PACKED_WT)
        trl_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, p->rows, p->cols, 1, a, lda, p->w,
                 p->cols, 1, out, ldo);
    else
        trl_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, p->cols, p->rows, 1, a, lda, p->w,
                 p->cols, 1, out, ldo);
}
