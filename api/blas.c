/* blas.c - the BLAS library's threads and build (trellis.h). trellis splits
 * a batch over its own threads (kernels/parallel.h); the products of one step
 * are small, and BLAS threads on top of them cost more in hand-offs than they
 * save (bptt on the evidence task: 0.7 s per iteration with two OpenBLAS
 * threads, 0.3 s with one). So the library's default is one BLAS thread
 * unless OPENBLAS_NUM_THREADS says otherwise. */
#include <pthread.h>
#include <stdlib.h>

#include "api/api.h"

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

/* The default: 1 unless OPENBLAS_NUM_THREADS is set (then its number, as
 * OpenBLAS itself reads it). */
static void blas_default(void)
{
    const char *env = getenv("OPENBLAS_NUM_THREADS");
    if (!env)
        openblas_set_num_threads(1);
    else if (atoi(env) >= 1)
        openblas_set_num_threads(atoi(env));
}

void api_blas_once(void)
{
    pthread_once(&blas_once, blas_default);
}

TRL_API void trl_blas_set_threads(int n)
{
    api_blas_once(); /* so that a later first graph does not undo n */
    if (n >= 1)
        openblas_set_num_threads(n);
    else
        blas_default();
}

TRL_API void trl_blas_get_info(trl_blas_info *out)
{
    *out = (trl_blas_info){.config = openblas_get_config(),
                           .threads = openblas_get_num_threads(),
                           .procs = openblas_get_num_procs()};
}
