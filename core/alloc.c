/* alloc.c - see alloc.h. Each block carries a 16-byte header with its size
 * and purpose, so trl_free can keep the counts without a table. */
#include "core/alloc.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct block_header {
    size_t bytes;
    size_t kind;
};

static struct trl_mem_stats stats;
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER; /* shards allocate in parallel */

size_t trl_mul2(size_t a, size_t b)
{
    if (a != 0 && b > SIZE_MAX / a) return SIZE_MAX;
    return a * b;
}

size_t trl_mul3(size_t a, size_t b, size_t c)
{
    return trl_mul2(trl_mul2(a, b), c);
}

void *trl_alloc(size_t n, size_t size, enum trl_mem_kind kind)
{
    void *p = trl_alloc_uninit(n, size, kind);
    if (p) memset(p, 0, n * size);
    return p;
}

static size_t alloc_limit = 0;
static pthread_once_t alloc_limit_once = PTHREAD_ONCE_INIT;

static void alloc_limit_init(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    size_t phys = pages > 0 && page > 0 ? trl_mul2((size_t)pages, (size_t)page) : TRL_ALLOC_MAX;
    alloc_limit = phys < TRL_ALLOC_MAX ? phys : TRL_ALLOC_MAX;
}

size_t trl_alloc_limit(void)
{
    pthread_once(&alloc_limit_once, alloc_limit_init);
    return alloc_limit;
}

void *trl_alloc_uninit(size_t n, size_t size, enum trl_mem_kind kind)
{
    size_t bytes = trl_mul2(n, size);
    if (bytes > trl_alloc_limit()) return NULL;
    struct block_header *h = malloc(sizeof *h + (bytes ? bytes : 1));
    if (!h) return NULL;
    h->bytes = bytes;
    h->kind = kind;
    pthread_mutex_lock(&stats_lock);
    stats.current[kind] += bytes;
    if (stats.current[kind] > stats.peak[kind]) stats.peak[kind] = stats.current[kind];
    stats.n_alloc++;
    pthread_mutex_unlock(&stats_lock);
    return h + 1;
}

void trl_free(void *p)
{
    if (!p) return;
    struct block_header *h = (struct block_header *)p - 1;
    pthread_mutex_lock(&stats_lock);
    stats.current[h->kind] -= h->bytes;
    pthread_mutex_unlock(&stats_lock);
    free(h);
}

const struct trl_mem_stats *trl_mem_stats(void)
{
    return &stats;
}

void trl_mem_stats_copy(struct trl_mem_stats *out)
{
    pthread_mutex_lock(&stats_lock);
    *out = stats;
    pthread_mutex_unlock(&stats_lock);
}

void trl_mem_reset_peak(void)
{
    pthread_mutex_lock(&stats_lock);
    for (int k = 0; k < TRL_MEM_KINDS; k++) stats.peak[k] = stats.current[k];
    pthread_mutex_unlock(&stats_lock);
}

char *trl_strprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n < 0 ? NULL : trl_alloc((size_t)n + 1, 1, TRL_MEM_MISC);
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}
