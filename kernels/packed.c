/* packed.c - see packed.h. */
#include "kernels/packed.h"

#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "kernels/parallel.h"

#define PANEL 48 /* columns of a panel: three 16-float vectors */
#define TILE  8  /* rows of the register tile: 8 x 3 accumulators */

#if !defined(TRL_F64) && defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define PACKED_KERNEL 1

/* c [mr][cols] += a [mr][k] P for one panel P [k][16 nv] (cols <= 16 nv
 * of it are real). mr and nv are constants at every call site, so the
 * mr x nv accumulators stay in registers. */
/* What a product starts from: what out holds (b NULL), or b->scale[c] *
 * b->prev[r][c] (prev at out's row stride), or zero (b->prev NULL). */
struct base {
    const float *prev, *scale;
};

__attribute__((target("avx512f"), always_inline)) static inline void
panel_tile(const int mr, const int nv, int k, const float *a, int lda, const float *p, float *c,
           int ldc, int cols, const struct base *b)
{
    __m512 acc[TILE][3], w[3];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) acc[r][v] = _mm512_setzero_ps();
    for (int j = 0; j < k; j++, p += 16 * nv) {
        for (int v = 0; v < nv; v++) w[v] = _mm512_load_ps(p + 16 * v);
        for (int r = 0; r < mr; r++) {
            const __m512 x = _mm512_set1_ps(a[(size_t)r * lda + j]);
            for (int v = 0; v < nv; v++) acc[r][v] = _mm512_fmadd_ps(x, w[v], acc[r][v]);
        }
    }
    for (int v = 0; v < nv; v++) {
        const int n = cols - 16 * v;
        const __mmask16 m = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
        const __m512 sc =
            b && b->prev ? _mm512_maskz_loadu_ps(m, b->scale + 16 * v) : _mm512_setzero_ps();
        for (int r = 0; r < mr; r++) {
            const size_t at = (size_t)r * ldc + 16 * v;
            __m512 start = _mm512_setzero_ps();
            if (!b)
                start = _mm512_maskz_loadu_ps(m, c + at);
            else if (b->prev)
                start = _mm512_mul_ps(sc, _mm512_maskz_loadu_ps(m, b->prev + at));
            _mm512_mask_storeu_ps(c + at, m, _mm512_add_ps(start, acc[r][v]));
        }
    }
}

/* The cache lines of a tile's TILE rows: k values of a, cols of out and of
 * prev (when not NULL), rows lda and ldo apart. */
__attribute__((target("avx512f"), always_inline)) static inline void
prefetch_tile(const float *a, int lda, int k, const float *out, const float *prev, int ldo,
              int cols)
{
    for (int q = 0; q < TILE; q++) {
        for (int x = 0; x < k; x += 16)
            _mm_prefetch((const char *)(a + (size_t)q * lda + x), _MM_HINT_T1);
        for (int x = 0; x < cols; x += 16) {
            _mm_prefetch((const char *)(out + (size_t)q * ldo + x), _MM_HINT_T1);
            if (prev) _mm_prefetch((const char *)(prev + (size_t)q * ldo + x), _MM_HINT_T1);
        }
    }
}

/* out [m][cols] (+)= a [m][k] P for one panel of nv vectors: 8-row tiles,
 * then one tile of the remaining rows (each height a constant). */
__attribute__((target("avx512f"), always_inline)) static inline void
tile_rows(const int nv, int m, int k, const float *a, int lda, const float *panel, float *out,
          int ldo, int cols, const struct base *b)
{
    struct base rb = b ? *b : (struct base){0};
    const struct base *at = b ? &rb : NULL;
    int r = 0;
    for (; r + TILE <= m; r += TILE) {
        if (r + 2 * TILE <= m) /* the next tile into L2 while this one computes */
            prefetch_tile(a + (size_t)(r + TILE) * lda, lda, k, out + (size_t)(r + TILE) * ldo,
                          rb.prev ? rb.prev + (size_t)TILE * ldo : NULL, ldo, cols);
        panel_tile(TILE, nv, k, a + (size_t)r * lda, lda, panel, out + (size_t)r * ldo, ldo, cols,
                   at);
        if (rb.prev) rb.prev += (size_t)TILE * ldo;
    }
    a += (size_t)r * lda;
    out += (size_t)r * ldo;
    switch (m - r) {
    case 7:
        panel_tile(7, nv, k, a, lda, panel, out, ldo, cols, at);
        break;
    case 6:
        panel_tile(6, nv, k, a, lda, panel, out, ldo, cols, at);
        break;
    case 5:
        panel_tile(5, nv, k, a, lda, panel, out, ldo, cols, at);
        break;
    case 4:
        panel_tile(4, nv, k, a, lda, panel, out, ldo, cols, at);
        break;
    case 3:
        panel_tile(3, nv, k, a, lda, panel, out, ldo, cols, at);
        break;
    case 2:
        panel_tile(2, nv, k, a, lda, panel, out, ldo, cols, at);
        break;
    case 1:
        panel_tile(1, nv, k, a, lda, panel, out, ldo, cols, at);
        break;
    default:
        break;
    }
}

/* One panel whatever its width: full panels have three vectors, the last
 * one as few as its columns need. */
__attribute__((target("avx512f"))) static void tile_panel(int m, int k, const float *a, int lda,
                                                          const float *panel, float *out, int ldo,
                                                          int cols, const struct base *b)
{
    if (cols > 32)
        tile_rows(3, m, k, a, lda, panel, out, ldo, cols, b);
    else if (cols > 16)
        tile_rows(2, m, k, a, lda, panel, out, ldo, cols, b);
    else
        tile_rows(1, m, k, a, lda, panel, out, ldo, cols, b);
}

/* Blocks of ROW_BLOCK rows of a, each through every panel while it is in
 * L1/L2: a of many rows (e-prop's dense traces, one row per parameter) is
 * read from memory once. */
#define ROW_BLOCK 64

__attribute__((target("avx512f"))) static void packed_kernel(const struct packed_weight *p, int m,
                                                             const float *a, int lda, float *out,
                                                             int ldo, const struct base *b)
{
    const int k = p->n_in;
    for (int r0 = 0; r0 < m; r0 += ROW_BLOCK) {
        const int rows = m - r0 < ROW_BLOCK ? m - r0 : ROW_BLOCK;
        for (int n0 = 0; n0 < p->n_out; n0 += PANEL) {
            struct base pb = b ? *b : (struct base){0};
            if (pb.prev) {
                pb.prev += (size_t)r0 * ldo + n0;
                pb.scale += n0;
            }
            tile_panel(rows, k, a + (size_t)r0 * lda, lda, p->panels + (size_t)n0 * k,
                       out + (size_t)r0 * ldo + n0, ldo,
                       p->n_out - n0 < PANEL ? p->n_out - n0 : PANEL, b ? &pb : NULL);
        }
    }
}
#else
#define PACKED_KERNEL 0
#endif

/* Above this many rows a BLAS GEMM, which packs W once per call, is as fast
 * (bin/trellis bench --gemm compares the two). */
#define PACKED_MAX_ROWS 64

bool packed_available(void)
{
    return PACKED_KERNEL && cpu_avx512();
}

bool packed_pays(int m)
{
    return packed_available() && m <= PACKED_MAX_ROWS;
}

/* Columns of the panel that starts at column n0: 48, or the rest rounded up
 * to whole vectors. */
static int panel_width(int n_out, int n0)
{
    const int rest = n_out - n0;
    return rest >= PANEL ? PANEL : (rest + 15) / 16 * 16;
}

/* Values of the panels of a product with n_in inputs and n_out outputs;
 * panel n0 / 48 starts at n0 * n_in. */
static size_t panel_values(int n_in, int n_out)
{
    const int last = n_out / PANEL * PANEL;
    return trl_mul2((size_t)n_in, (size_t)last + (size_t)panel_width(n_out, last));
}

size_t packed_bytes(int rows, int cols, enum packed_op op)
{
    if (!packed_available()) return 0;
    return panel_values(op == PACKED_WT ? cols : rows, op == PACKED_WT ? rows : cols) *
               sizeof(float) +
           64;
}

/* The panel of W^T at column n0, width wd: panel[j][c] = W[n0 + c][j], in
 * blocks of 16 j so that the rows read and the panel rows written stay in
 * L1; zeros past n_out. */
static void pack_wt_panel(const struct packed_weight *p, int n0, int wd, float *panel)
{
    const int cols = p->n_out - n0 < wd ? p->n_out - n0 : wd;
    for (int j0 = 0; j0 < p->n_in; j0 += 16) {
        const int j1 = p->n_in - j0 < 16 ? p->n_in : j0 + 16;
        for (int c = 0; c < cols; c++) {
            const trl_real *w = p->w + ((size_t)n0 + c) * p->cols;
            for (int j = j0; j < j1; j++) panel[(size_t)j * wd + c] = (float)w[j];
        }
        for (int j = j0; j < j1; j++)
            memset(panel + (size_t)j * wd + cols, 0, (size_t)(wd - cols) * sizeof *panel);
    }
}

/* The panel of W at column n0: panel[j][c] = W[j][n0 + c]. */
static void pack_w_panel(const struct packed_weight *p, int n0, int wd, float *panel)
{
    const int cols = p->n_out - n0 < wd ? p->n_out - n0 : wd;
    for (int j = 0; j < p->n_in; j++) {
        const trl_real *w = p->w + (size_t)j * p->cols + n0;
        float *row = panel + (size_t)j * wd;
        for (int c = 0; c < cols; c++) row[c] = (float)w[c];
        memset(row + cols, 0, (size_t)(wd - cols) * sizeof *row);
    }
}

void packed_sync(struct packed_weight *p)
{
    if (!p->panels) return;
    for (int n0 = 0; n0 < p->n_out; n0 += PANEL) {
        float *panel = p->panels + (size_t)n0 * p->n_in;
        if (p->op == PACKED_WT)
            pack_wt_panel(p, n0, panel_width(p->n_out, n0), panel);
        else
            pack_w_panel(p, n0, panel_width(p->n_out, n0), panel);
    }
}

static void set_shape(struct packed_weight *p, const trl_real *w, int rows, int cols,
                      enum packed_op op)
{
    p->w = w;
    p->rows = rows;
    p->cols = cols;
    p->op = op;
    p->n_in = op == PACKED_WT ? cols : rows;
    p->n_out = op == PACKED_WT ? rows : cols;
}

int packed_reserve(struct packed_weight *p, int max_rows, int max_cols)
{
    *p = (struct packed_weight){0};
    if (!packed_available()) return 0;
    /* panels on a 64-byte boundary: each vector load is one cache line; room
     * for either product of any W up to max_rows x max_cols */
    const size_t a = panel_values(max_cols, max_rows), b = panel_values(max_rows, max_cols);
    const size_t bytes = trl_mul2(a > b ? a : b, sizeof(float));
    p->block = trl_alloc_uninit(bytes == SIZE_MAX ? bytes : bytes + 64, 1, TRL_MEM_STATE);
    if (!p->block) return -1;
    p->panels = (float *)(((uintptr_t)p->block + 63) & ~(uintptr_t)63);
    return 0;
}

void packed_set(struct packed_weight *p, const trl_real *w, int rows, int cols, enum packed_op op)
{
    set_shape(p, w, rows, cols, op);
    packed_sync(p);
}

int packed_init(struct packed_weight *p, const trl_real *w, int rows, int cols, enum packed_op op)
{
    if (packed_reserve(p, rows, cols)) return -1;
    packed_set(p, w, rows, cols, op);
    return 0;
}

void packed_free(struct packed_weight *p)
{
    trl_free(p->block);
    p->block = NULL;
    p->panels = NULL;
}

static void blas_mul(const struct packed_weight *p, int m, const trl_real *a, int lda,
                     trl_real *out, int ldo, trl_real beta)
{
    if (p->op == PACKED_WT)
        trl_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, p->rows, p->cols, 1, a, lda, p->w,
                 p->cols, beta, out, ldo);
    else
        trl_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, p->cols, p->rows, 1, a, lda, p->w,
                 p->cols, beta, out, ldo);
}

void packed_mul(const struct packed_weight *p, int m, const trl_real *a, int lda, trl_real *out,
                int ldo)
{
#if PACKED_KERNEL
    if (p->panels) {
        packed_kernel(p, m, a, lda, out, ldo, NULL);
        return;
    }
#endif
    blas_mul(p, m, a, lda, out, ldo, 1);
}

void packed_mul_into(const struct packed_weight *p, int m, const trl_real *a, int lda,
                     trl_real *out, int ldo, const trl_real *prev, const trl_real *scale)
{
#if PACKED_KERNEL
    if (p->panels) {
        const struct base b = {prev, scale};
        packed_kernel(p, m, a, lda, out, ldo, &b);
        return;
    }
#endif
    if (prev)
        for (size_t r = 0; r < (size_t)m; r++)
            for (int c = 0; c < p->n_out; c++) out[r * ldo + c] = scale[c] * prev[r * ldo + c];
    blas_mul(p, m, a, lda, out, ldo, prev ? 1 : 0);
}
