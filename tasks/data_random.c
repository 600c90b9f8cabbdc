/* data_random.c - see data_random.h: random inputs and targets for any graph.
 * Sines come from task_sin and spikes from task_spikes (tasks/task.h), so the
 * bytes do not depend on the machine's libm. */
#include "tasks/data_random.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "tasks/task.h"

#define TWO_PI      6.28318530717958647692
#define N_SINES     3
#define AMP_LO      0.2
#define AMP_HI      0.5
#define PERIOD_LO   10.0
#define PERIOD_HI   100.0
#define MASK_FULL_T 500

int data_random_mask_steps(int T)
{
    if (T >= MASK_FULL_T) return DATA_RANDOM_MASK_STEPS;
    int n = (T + 9) / 10;
    return n < 1 ? 1 : n;
}

/* "in, spikes" (the input node ids) into buf, for messages. */
static void list_inputs(const struct graph *g, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < g->n_nodes && len < cap; i++) {
        if (!g->nodes[i].op->is_input) continue;
        int n = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", g->nodes[i].id);
        if (n < 0) break;
        len += (size_t)n;
    }
}

/* Marks one id of the list (id, len bytes); 0 or -1 with err set. */
static int mark_one(const struct graph *g, const char *id, size_t len, bool *spiking,
                    struct trl_errors *err)
{
    char inputs[512];
    list_inputs(g, inputs, sizeof inputs);
    if (len == 0) {
        trl_errors_add(err, NULL, "the spiking inputs are input node ids separated by commas (%s)",
                       inputs);
        return -1;
    }
    char *name = trl_strprintf("%.*s", len > INT_MAX ? INT_MAX : (int)len, id);
    if (!name) {
        trl_errors_add(err, NULL, "out of memory");
        return -1;
    }
    int i = graph_find_node(g, name);
    if (i < 0 || !g->nodes[i].op->is_input)
        trl_errors_add(err, NULL,
                       "spiking inputs: \"%.100s\" is not an input node; expected one of: %s", name,
                       inputs);
    else
        spiking[i] = true;
    trl_free(name);
    return i < 0 || !g->nodes[i].op->is_input ? -1 : 0;
}

int data_random_spiking(const struct graph *g, const char *ids, bool *spiking,
                        struct trl_errors *err)
{
    memset(spiking, 0, (size_t)g->n_nodes * sizeof *spiking);
    for (const char *p = ids;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (mark_one(g, p, len, spiking, err)) return -1;
        if (!comma) return 0;
        p = comma + 1;
    }
}

/* Sample b of input node i: spikes at probability p, or Normal(0, 1);
 * -1 if out of memory for the seed's name. */
static int fill_input(const struct graph *g, int i, int b, const struct data_random_opts *o,
                      trl_real *x)
{
    char *name = trl_strprintf("random/x/%s/%d", g->nodes[i].id, b);
    if (!name) return -1;
    struct rng r;
    rng_seed_named(&r, o->seed, name);
    trl_free(name);
    int n = g->nodes[i].size;
    size_t count = (size_t)o->T * n;
    if (o->spiking && o->spiking[i]) {
        memset(x, 0, count * sizeof *x);
        task_spikes(&r, x, n, 0, o->T, 0, n, o->rate_hz * g->dt / 1000.0);
        return 0;
    }
    for (size_t k = 0; k < count; k++) x[k] = (trl_real)rng_normal(&r);
    return 0;
}

/* mse: a sum of N_SINES sines per output k; target is [T, K]. */
static void fill_smooth(struct rng *r, int T, int K, trl_real *target, trl_real *mask)
{
    for (int k = 0; k < K; k++) {
        double amp[N_SINES], omega[N_SINES], phase[N_SINES];
        for (int i = 0; i < N_SINES; i++) {
            amp[i] = AMP_LO + (AMP_HI - AMP_LO) * rng_uniform(r);
            omega[i] = TWO_PI / (PERIOD_LO + (PERIOD_HI - PERIOD_LO) * rng_uniform(r));
            phase[i] = TWO_PI * rng_uniform(r);
        }
        for (int t = 0; t < T; t++) {
            double y = 0;
            for (int i = 0; i < N_SINES; i++) y += amp[i] * task_sin(omega[i] * t + phase[i]);
            target[(size_t)t * K + k] = (trl_real)y;
        }
    }
    for (int t = 0; t < T; t++) mask[t] = 1;
}

/* cross_entropy: one class, one-hot at every step, mask on the last steps. */
static void fill_class(struct rng *r, int T, int K, trl_real *target, trl_real *mask)
{
    task_one_hot(target, T, K, (int)rng_below(r, (uint64_t)K));
    int from = T - data_random_mask_steps(T);
    for (int t = 0; t < T; t++) mask[t] = t >= from;
}

static void fill_target(const struct graph *g, int b, const struct data_random_opts *o,
                        struct data *d)
{
    char name[64];
    snprintf(name, sizeof name, "random/target/%d", b);
    struct rng r;
    rng_seed_named(&r, o->seed, name);
    int K = g->nodes[g->loss_node].size;
    trl_real *target = d->target + (size_t)b * o->T * K, *mask = d->mask + (size_t)b * o->T;
    if (g->loss_type == LOSS_CROSS_ENTROPY)
        fill_class(&r, o->T, K, target, mask);
    else
        fill_smooth(&r, o->T, K, target, mask);
}

static int check_opts(const struct graph *g, const struct data_random_opts *o,
                      struct trl_errors *err)
{
    if (o->B < 1) trl_errors_add(err, NULL, "a batch needs at least one sample (got %d)", o->B);
    if (o->T < 1) trl_errors_add(err, NULL, "a sequence needs at least one step (got %d)", o->T);
    double p = o->rate_hz * g->dt / 1000.0;
    if (!(p >= 0 && p <= 1))
        trl_errors_add(err, NULL,
                       "a spike rate of %g Hz at dt = %g ms gives a spike probability of %g per "
                       "step; it must lie in [0, 1] (rate <= %g Hz)",
                       o->rate_hz, g->dt, p, 1000.0 / g->dt);
    return err->n_total ? -1 : 0;
}

struct data *data_random_new(const struct graph *g, const struct data_random_opts *o,
                             struct trl_errors *err)
{
    trl_errors_init(err, g->file);
    if (check_opts(g, o, err) || data_check_size(g, o->B, o->T, err)) return NULL;
    struct data *d = data_new(g, o->B, o->T);
    if (!d) {
        trl_errors_add(err, NULL, "out of memory for %d samples of %d steps", o->B, o->T);
        return NULL;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        if (!g->nodes[i].op->is_input) continue;
        size_t per_sample = (size_t)o->T * g->nodes[i].size;
        for (int b = 0; b < o->B; b++)
            if (fill_input(g, i, b, o, d->x[i] + b * per_sample)) {
                trl_errors_add(err, NULL, "out of memory");
                data_free(d);
                return NULL;
            }
    }
    if (d->target)
        for (int b = 0; b < o->B; b++) fill_target(g, b, o, d);
    return d;
}
