/* parallel.c - see parallel.h. */
#include "kernels/parallel.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_THREADS 256

static _Atomic int threads_set;             /* the process default, 0: none */
static _Thread_local int threads_this_call; /* a call's own, 0: none */

int par_threads(void)
{
    if (threads_this_call > 0) return threads_this_call;
    if (threads_set > 0) return threads_set;
    const char *env = getenv("TRELLIS_THREADS");
    long n = env ? strtol(env, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    return n > MAX_THREADS ? MAX_THREADS : (int)n;
}

void par_set_threads(int n)
{
    threads_set = n < 1 ? 0 : n > MAX_THREADS ? MAX_THREADS : n;
}

int par_call_threads(int n)
{
    int before = threads_this_call;
    threads_this_call = n < 1 ? 0 : n > MAX_THREADS ? MAX_THREADS : n;
    return before;
}

static _Atomic size_t cache_set; /* par_set_cache_bytes, 0: none */

void par_set_cache_bytes(size_t n)
{
    cache_set = n;
}

size_t par_cache_bytes(void)
{
    if (cache_set) return cache_set;
    long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    return l2 > 0 ? (size_t)l2 : (size_t)512 << 10;
}

bool cpu_avx512(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    static int known = -1;
    if (known < 0) known = __builtin_cpu_supports("avx512f") ? 1 : 0;
    return known;
#else
    return false;
#endif
}

int shard_count(int B)
{
    int n = par_threads();
    return n < B ? n : B > 0 ? B : 1;
}

void shard_range(int B, int n_shards, int k, int *first, int *count)
{
    *first = (int)((long)B * k / n_shards);
    *count = (int)((long)B * (k + 1) / n_shards) - *first;
}

void data_view(const struct graph *g, const struct data *d, int first, int count, trl_real **x,
               struct data *view)
{
    *view = *d;
    view->B = count;
    view->x = x;
    view->first = d->first + first; /* a streamed view reads these samples of the file */
    const size_t rows = (size_t)first * (size_t)d->span;
    for (int i = 0; i < d->n_nodes; i++)
        x[i] = d->x[i] ? d->x[i] + rows * (size_t)g->nodes[i].size : NULL;
    if (d->target) view->target = d->target + rows * (size_t)data_target_size(g, d);
    if (d->mask) view->mask = d->mask + rows;
}

struct job {
    void (*fn)(void *ctx, int k);
    void *ctx;
    int k;
};

static void *job_main(void *arg)
{
    struct job *j = arg;
    j->fn(j->ctx, j->k);
    return NULL;
}

int parallel_run(int n, void (*fn)(void *ctx, int k), void *ctx)
{
    pthread_t tid[MAX_THREADS];
    struct job jobs[MAX_THREADS];
    int started = 0, rc = 0;
    for (int k = 1; k < n && k < MAX_THREADS; k++) {
        jobs[k] = (struct job){fn, ctx, k};
        if (pthread_create(&tid[k], NULL, job_main, &jobs[k]) != 0) {
            rc = -1;
            break;
        }
        started = k;
    }
    fn(ctx, 0);
    for (int k = 1; k <= started; k++) pthread_join(tid[k], NULL);
    for (int k = started + 1; k < n && rc; k++) fn(ctx, k); /* the ones that did not start */
    return rc;
}
