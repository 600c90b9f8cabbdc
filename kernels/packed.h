/* packed.h - a weight matrix packed once for many products with few rows.
 *
 * A recurrent step multiplies the same weight W by a batch of B rows at
 * every step. A BLAS GEMM re-packs W at every call, which on 8-32 rows costs
 * as much as the product (bin/trellis bench --gemm: 40-100 GFLOP/s on
 * 8-16 x 1024 x 1024 against 400 GFLOP/s on square products). Here W is
 * packed once per sequence into column panels of 48 (three AVX-512 vectors,
 * the k-th row of a panel contiguous; the last panel one, two or three
 * vectors wide), and an 8 x 48 register tile streams the panels:
 * out [M][n_out] += a [M][n_in] op(W), op(W) = W^T (forward products:
 * z W^T) or W (backward products: delta W).
 *
 * The same kernel serves the other shape of e-prop's dense traces: a small W
 * (packed per step, packed_set) against an a of many rows (one per
 * parameter), which it reads once, 64 rows at a time, prefetching the next
 * tile; packed_mul_into also starts out from a scaled previous value.
 *
 * The packed path is float32 on processors with AVX-512F; elsewhere (the
 * float64 build, other processors) packed_mul calls the BLAS on W itself, so
 * callers never fork. The panels are the edge's weight at packing time:
 * packed_sync re-packs after the parameters change.
 */
#ifndef TRELLIS_PACKED_H
#define TRELLIS_PACKED_H

#include <stdbool.h>
#include <stddef.h>

#include "core/real.h"

enum packed_op {
    PACKED_WT, /* a [M][cols] W^T -> out [M][rows] */
    PACKED_W,  /* a [M][rows] W   -> out [M][cols] */
};

struct packed_weight {
    const trl_real *w; /* borrowed: W [rows][cols], row-major */
    int rows, cols;
    enum packed_op op;
    int n_in, n_out; /* of the product: cols, rows for PACKED_WT; rows, cols for PACKED_W */
    float *panels;   /* [ceil(n_out / 48)][n_in][48], zero-padded; NULL: BLAS on w */
    void *block;     /* the allocation that holds the (aligned) panels */
};

/* Does this machine and build have the packed path? */
bool packed_available(void);
/* And is it worth packing a large W for products of m rows? (Few rows; a
 * BLAS GEMM, which packs W at every call, is as fast on many.) */
bool packed_pays(int m);

/* Packs W for products op(W) (the BLAS path when the packed one does not
 * apply; then nothing is allocated). 0, or -1 if out of memory. */
int packed_init(struct packed_weight *p, const trl_real *w, int rows, int cols, enum packed_op op);
/* Room for any W up to max_rows x max_cols, for a W that changes at every
 * use (packed_set); 0, or -1 if out of memory. */
int packed_reserve(struct packed_weight *p, int max_rows, int max_cols);
/* Packs w (at most the reserved size) into p's panels, or on the BLAS path
 * just points p at it. */
void packed_set(struct packed_weight *p, const trl_real *w, int rows, int cols, enum packed_op op);
void packed_sync(struct packed_weight *p);
void packed_free(struct packed_weight *p);
/* Bytes packed_init allocates for such a W (0 on the BLAS path). */
size_t packed_bytes(int rows, int cols, enum packed_op op);

/* out [m][n_out] (row stride ldo) += a [m][n_in] (row stride lda) op(W),
 * for any m: a is read once, ROW_BLOCK rows at a time. */
void packed_mul(const struct packed_weight *p, int m, const trl_real *a, int lda, trl_real *out,
                int ldo);
/* out = scale . prev + a op(W): the product written over out, starting from
 * prev [m][n_out] (row stride ldo) scaled column by column by scale
 * [n_out], or from zero when prev is NULL. One pass over out where a
 * scaling pass and packed_mul would make two (e-prop's decaying traces). */
void packed_mul_into(const struct packed_weight *p, int m, const trl_real *a, int lda,
                     trl_real *out, int ldo, const trl_real *prev, const trl_real *scale);

#endif
