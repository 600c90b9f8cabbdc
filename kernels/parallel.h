/* parallel.h - threads over the batch.
 *
 * Samples of a batch are independent until their gradients are summed, so a
 * computation over B samples splits into contiguous shards (one per thread;
 * for the online gradient engines, cache-sized chunks dealt to the threads in
 * a fixed order, engines/grad.c), each running the whole engine (its own
 * network state, traces, history) on its samples; the results are added at
 * the end in a fixed order. No lock or barrier inside the step loop.
 */
#ifndef TRELLIS_PARALLEL_H
#define TRELLIS_PARALLEL_H

#include "io/data.h"

/* Threads the runtime uses (at least 1): the calling thread's own count
 * (par_call_threads), else the process default (par_set_threads), else
 * TRELLIS_THREADS, else the online processors. */
int par_threads(void);
/* The process default; n < 1 clears it. Atomic. */
void par_set_threads(int n);
/* The count for the calls this thread makes from now on (n < 1: none, the
 * default applies); returns the one it replaces. Thread-local, so that calls
 * on different threads may use different counts. */
int par_call_threads(int n);

/* Bytes of one core's L2 cache (sysconf; 512 KiB if unknown), or what
 * par_set_cache_bytes said (0: back to the machine's; tests use it so that
 * chunk sizes do not depend on the host). */
size_t par_cache_bytes(void);
void par_set_cache_bytes(size_t n);

/* Does the processor have AVX-512F (the float32 kernels of packed.c and
 * events.c)? Asked once. */
bool cpu_avx512(void);

/* Shards of a batch: the number of shards for B samples (at most
 * par_threads(), at most B), and shard k's first sample and count. */
int shard_count(int B);
void shard_range(int B, int n_shards, int k, int *first, int *count);

/* A view of samples [first, first + count) of d, sharing its arrays (x
 * must hold g->n_nodes pointers) or, when d is streamed, its file; the loss
 * still averages over d->loss_B. */
void data_view(const struct graph *g, const struct data *d, int first, int count, trl_real **x,
               struct data *view);

/* Runs fn(ctx, k) for k = 0 .. n-1, k > 0 on new threads, k = 0 on the
 * caller's; returns 0, or -1 if a thread could not be started (then every
 * k has been run on the caller's thread instead). */
int parallel_run(int n, void (*fn)(void *ctx, int k), void *ctx);

#endif
