/* machine.c - threads, memory counts and the machine's product throughput
 * (trellis.h). */
#include "api/api.h"
#include "core/alloc.h"
#include "kernels/gemm_time.h"
#include "kernels/parallel.h"

_Static_assert((int)TRL_MEMORY_KINDS == (int)TRL_MEM_KINDS &&
                   (int)TRL_MEMORY_TRACE == (int)TRL_MEM_TRACE &&
                   (int)TRL_MEMORY_HISTORY == (int)TRL_MEM_HISTORY &&
                   (int)TRL_MEMORY_STATE == (int)TRL_MEM_STATE &&
                   (int)TRL_MEMORY_PARAMS == (int)TRL_MEM_PARAMS &&
                   (int)TRL_MEMORY_MISC == (int)TRL_MEM_MISC,
               "the public memory purposes are core/alloc.h's");
_Static_assert(TRL_GEMM_MAX_SIDE == GEMM_MAX_SIDE, "the public product limit is gemm_time's");

TRL_API int trl_threads(void)
{
    return par_threads();
}

TRL_API void trl_set_threads(int n)
{
    par_set_threads(n);
}

TRL_API void trl_memory_stats(trl_memory *out)
{
    struct trl_mem_stats s;
    trl_mem_stats_copy(&s);
    for (int k = 0; k < TRL_MEMORY_KINDS; k++) {
        out->current[k] = s.current[k];
        out->peak[k] = s.peak[k];
    }
    out->allocations = s.n_alloc;
}

TRL_API void trl_memory_reset_peak(void)
{
    trl_mem_reset_peak();
}

TRL_API trl_status trl_time_gemm(int m, int k, int n, double budget, trl_gemm_timing *out,
                                 trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, NULL);
    API_NEED(e, out, "out");
    if (m < 1 || k < 1 || n < 1 || m > GEMM_MAX_SIDE || k > GEMM_MAX_SIDE || n > GEMM_MAX_SIDE)
        return api_fail(e, ERR_ARGUMENT, NULL, "each side must be from 1 to %d (got %d x %d x %d)",
                        GEMM_MAX_SIDE, m, k, n);
    if (!(budget > 0) || budget > 60)
        return api_fail(e, ERR_ARGUMENT, NULL, "the time budget must be in (0, 60] s (got %g)",
                        budget);
    struct gemm_result r;
    if (gemm_time((struct gemm_shape){m, k, n}, budget, &r))
        return api_fail(e, ERR_MEMORY, NULL, "out of memory for a %d x %d x %d product", m, k, n);
    *out = (trl_gemm_timing){r.seconds, r.gflops, r.packed_gflops};
    return TRL_OK;
}
