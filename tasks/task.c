/* task.c - see task.h: binding a task to a graph, filling a data set from
 * per-sample streams, and the helpers the task files share.
 *
 * task_sin: x is reduced to r in [-pi, pi] with 2 pi split in two parts
 * (Cody and Waite), folded to [-pi/2, pi/2] by sin(pi - r) = sin r, and
 * summed as the nested Taylor series
 *     sin r = r (1 - r^2/(2*3) (1 - r^2/(4*5) (1 - ... (1 - r^2/(20*21))))),
 * whose first omitted term, (pi/2)^23 / 23!, is below 2e-18.
 */
#include "tasks/task.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

#define TWO_PI_HI 6.28318530717958623200  /* nearest double to 2 pi */
#define TWO_PI_LO 2.44929359829470635e-16 /* 2 pi - TWO_PI_HI */
#define PI_HI     3.14159265358979311600
#define PI_LO     1.22464679914735317e-16

double task_sin(double x)
{
    double n = floor(x / TWO_PI_HI + 0.5); /* floor is exact */
    double r = (x - n * TWO_PI_HI) - n * TWO_PI_LO;
    if (r > PI_HI / 2)
        r = (PI_HI - r) + PI_LO;
    else if (r < -PI_HI / 2)
        r = (-PI_HI - r) - PI_LO;
    /* 1 / ((2k)(2k + 1)), k = 1 .. 10: constants, rounded once by the compiler */
    static const double inv[10] = {1.0 / 6,   1.0 / 20,  1.0 / 42,  1.0 / 72,  1.0 / 110,
                                   1.0 / 156, 1.0 / 210, 1.0 / 272, 1.0 / 342, 1.0 / 420};
    double r2 = r * r, s = 1;
    for (int k = 9; k >= 0; k--) s = 1 - r2 * inv[k] * s;
    return r * s;
}

double task_rate_p(double rate_hz)
{
    return rate_hz * TASK_DT / 1000.0;
}

void task_spikes(struct rng *r, trl_real *x, int stride, int t0, int t1, int c0, int c1, double p)
{
    /* a spike when a uniform 64-bit integer falls below p 2^64: no division
     * or conversion per draw, and exact for every p = m 2^-e */
    uint64_t thr = p >= 1 ? UINT64_MAX : p <= 0 ? 0 : (uint64_t)(p * 18446744073709551616.0);
    for (int t = t0; t < t1; t++)
        for (int c = c0; c < c1; c++)
            if (rng_next(r) < thr) x[(size_t)t * stride + c] = 1;
}

void task_one_hot(trl_real *target, int T, int K, int cls)
{
    for (int t = 0; t < T; t++)
        for (int j = 0; j < K; j++) target[(size_t)t * K + j] = j == cls;
}

static const char *loss_name(enum loss_type t)
{
    return t == LOSS_MSE ? "mse" : t == LOSS_CROSS_ENTROPY ? "cross_entropy" : "none";
}

/* The index of the one input node, or -1 with the problem in err. */
static int check_input(const struct task_kind *k, const struct graph *g, struct trl_errors *err)
{
    int found = -1, n = 0;
    char ids[256] = "";
    for (int i = 0; i < g->n_nodes; i++) {
        if (!g->nodes[i].op->is_input) continue;
        if (n++ == 0) found = i;
        size_t len = strlen(ids);
        snprintf(ids + len, sizeof ids - len, "%s\"%s\"", len ? ", " : "", g->nodes[i].id);
    }
    if (n == 0) {
        trl_errors_add(err, "/nodes",
                       "task \"%s\" feeds its %d channels into one input node, and the graph has "
                       "none: add {\"id\": \"in\", \"op\": \"input\", \"size\": %d}",
                       k->name, k->n_in, k->n_in);
        return -1;
    }
    if (n > 1) {
        trl_errors_add(err, "/nodes",
                       "task \"%s\" feeds one input node, and the graph has %d (%s): keep one, of "
                       "size %d",
                       k->name, n, ids, k->n_in);
        return -1;
    }
    if (g->nodes[found].size != k->n_in) {
        char path[64];
        snprintf(path, sizeof path, "/nodes/%d/size", found);
        trl_errors_add(err, path,
                       "task \"%s\" has %d input channels: set the size of input node \"%s\" to "
                       "%d (got %d)",
                       k->name, k->n_in, g->nodes[found].id, k->n_in, g->nodes[found].size);
        return -1;
    }
    return found;
}

static void check_loss(const struct task_kind *k, const struct graph *g, struct trl_errors *err)
{
    const char *what = k->loss == LOSS_MSE ? "outputs" : "classes";
    if (g->loss_node < 0) return; /* data to run it on; training refuses it itself */
    if (g->loss_type != k->loss)
        trl_errors_add(err, "/loss/type", "task \"%s\" needs the loss \"%s\" (got \"%s\")", k->name,
                       loss_name(k->loss), loss_name(g->loss_type));
    const struct graph_node *nd = &g->nodes[g->loss_node];
    if (nd->size != k->K) {
        char path[64];
        snprintf(path, sizeof path, "/nodes/%d/size", g->loss_node);
        trl_errors_add(err, path,
                       "task \"%s\" has %d %s: set the size of the loss node \"%s\" to %d (got %d)",
                       k->name, k->K, what, nd->id, k->K, nd->size);
    }
}

int task_check_graph(const struct task_kind *k, const struct graph *g, struct trl_errors *err)
{
    trl_errors_init(err, g->file);
    if (g->dt != TASK_DT)
        trl_errors_add(err, "/dt",
                       "task \"%s\" is defined on steps of 1 ms (its rates and periods count "
                       "steps): set \"dt\": 1 (got %g)",
                       k->name, g->dt);
    int in = check_input(k, g, err);
    check_loss(k, g, err);
    return err->n_total ? -1 : in;
}

void task_fill(const struct task_kind *k, int input_node, uint64_t seed, enum task_split split,
               uint64_t iteration, struct data *d)
{
    size_t T = (size_t)k->T, nx = T * k->n_in, nt = T * k->K;
    trl_real *x = d->x[input_node];
    for (int b = 0; b < d->B; b++) {
        if (k->fixed && b > 0) { /* the one pattern, drawn once per batch */
            memcpy(x + b * nx, x, nx * sizeof *x);
            memcpy(d->target + b * nt, d->target, nt * sizeof *x);
            memcpy(d->mask + b * T, d->mask, T * sizeof *x);
            continue;
        }
        char name[160];
        if (split == TASK_VAL)
            snprintf(name, sizeof name, "%s/val/%d", k->name, b);
        else
            snprintf(name, sizeof name, "%s/train/%llu/%d", k->name, (unsigned long long)iteration,
                     b);
        struct rng r;
        rng_seed_named(&r, seed, name);
        k->sample(seed, &r, x + b * nx, d->target + b * nt, d->mask + b * T);
    }
}

struct data *task_data_new(const struct task_kind *k, const struct graph *g, uint64_t seed,
                           enum task_split split, uint64_t iteration, int B, struct trl_errors *err)
{
    int in = task_check_graph(k, g, err);
    if (in < 0) return NULL;
    if (B < 1) {
        trl_errors_add(err, NULL, "a batch needs at least one sample (got %d)", B);
        return NULL;
    }
    struct data *d = data_new(g, B, k->T);
    if (d && g->loss_node < 0) { /* the task's target and mask all the same */
        d->target_size = k->K;
        d->target = trl_alloc((size_t)B * k->T, (size_t)k->K * sizeof *d->target, TRL_MEM_MISC);
        d->mask = trl_alloc((size_t)B * k->T, sizeof *d->mask, TRL_MEM_MISC);
        if (!d->target || !d->mask) {
            data_free(d);
            d = NULL;
        }
    }
    if (!d) {
        trl_errors_add(err, NULL, "out of memory for %d samples of %d steps x %d channels", B, k->T,
                       k->n_in);
        return NULL;
    }
    task_fill(k, in, seed, split, iteration, d);
    return d;
}
