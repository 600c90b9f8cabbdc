/* alloc.h - the runtime's own allocator with a byte count per purpose.
 *
 * Every array the runtime sizes from a graph or a file goes through
 * trl_alloc, which checks the size, zeroes the memory and counts the bytes
 * under a purpose. The counts answer "how much memory do the traces take"
 * without asking the operating system, and a test uses them to show that an
 * online algorithm's memory does not grow with T.
 */
#ifndef TRELLIS_ALLOC_H
#define TRELLIS_ALLOC_H

#include <stddef.h>
#include <stdint.h>

enum trl_mem_kind {
    TRL_MEM_MISC,    /* graph tables, files, small scratch */
    TRL_MEM_PARAMS,  /* parameters and gradients */
    TRL_MEM_STATE,   /* network state and delay ring buffers */
    TRL_MEM_HISTORY, /* stored history for reverse accumulation (grows with T) */
    TRL_MEM_TRACE,   /* forward sensitivities / eligibility traces */
    TRL_MEM_KINDS
};

/* Largest single allocation the runtime will attempt (bytes). */
#define TRL_ALLOC_MAX ((size_t)1 << 40)
/* What trl_alloc accepts in one block: TRL_ALLOC_MAX or the machine's
 * physical memory, whichever is smaller (a block that cannot fit is refused
 * before malloc, rather than overcommitted and then killed when zeroed). */
size_t trl_alloc_limit(void);

/* Zeroed memory of n * size bytes, or NULL if the product overflows, exceeds
 * TRL_ALLOC_MAX or malloc fails. Free with trl_free. */
void *trl_alloc(size_t n, size_t size, enum trl_mem_kind kind);
/* The same without zeroing, for arrays every element of which is written
 * before it is read (stored history, traces): large blocks then cost no
 * pass over memory before their first use. */
void *trl_alloc_uninit(size_t n, size_t size, enum trl_mem_kind kind);
void trl_free(void *p);

struct trl_mem_stats {
    size_t current[TRL_MEM_KINDS]; /* bytes live now */
    size_t peak[TRL_MEM_KINDS];    /* largest value of current */
    uint64_t n_alloc;              /* number of trl_alloc calls that succeeded */
};
/* Process-wide counters, kept under a lock (threads allocate at once). */
const struct trl_mem_stats *trl_mem_stats(void);
/* A consistent copy of them. */
void trl_mem_stats_copy(struct trl_mem_stats *out);
void trl_mem_reset_peak(void);

/* A formatted string of any length in memory from trl_alloc (TRL_MEM_MISC),
 * or NULL if out of memory: names built from node ids, which have no length
 * limit (SPEC section 1). */
char *trl_strprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* a * b and a * b * c for sizes; return SIZE_MAX on overflow. */
size_t trl_mul2(size_t a, size_t b);
size_t trl_mul3(size_t a, size_t b, size_t c);

#endif
