/* real.h - the one precision switch of trellis.
 *
 * trl_real is float (bin/trellis) or double (bin/trellis-f64, built with
 * -DTRL_F64). Every array of the runtime is trl_real; constants stay double
 * until they meet an array. BLAS calls go through the macros below so that no
 * file forks on precision.
 */
#ifndef TRELLIS_REAL_H
#define TRELLIS_REAL_H

#include <cblas.h>
/* OpenBLAS's header pulls in <complex.h>, whose macro I would shadow the
 * input current I of SPEC section 2; trellis uses no complex numbers. */
#undef I

#ifdef TRL_F64
typedef double trl_real;
#define TRL_DTYPE     "F64"
#define TRL_PRECISION "float64"
#define trl_gemm      cblas_dgemm
#define trl_gemv      cblas_dgemv
#define trl_axpy      cblas_daxpy
#define trl_ger       cblas_dger
#define trl_dot       cblas_ddot
#else
typedef float trl_real;
#define TRL_DTYPE     "F32"
#define TRL_PRECISION "float32"
#define trl_gemm      cblas_sgemm
#define trl_gemv      cblas_sgemv
#define trl_axpy      cblas_saxpy
#define trl_ger       cblas_sger
#define trl_dot       cblas_sdot
#endif

/* TRL_HOT marks the loops that carry the work: GCC compiles each for AVX-512,
 * AVX2 and baseline x86-64 and the loader picks one for the machine
 * (target_clones). Results are the same bits on every path: elementwise
 * operations round alike, -ffp-contract=off forbids fused multiply-adds and
 * nothing is reassociated. Off under the sanitizers and on other compilers. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) &&                             \
    !defined(__SANITIZE_ADDRESS__)
#define TRL_HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TRL_HOT
#endif

/* TRL_INLINE marks the helpers of TRL_HOT functions: inlined always, so that
 * each is compiled for the clone that calls it (a helper left out of line
 * is baseline x86-64 code). */
#if defined(__GNUC__)
#define TRL_INLINE static inline __attribute__((always_inline))
#else
#define TRL_INLINE static inline
#endif

#endif
