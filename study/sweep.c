/* sweep.c - see sweep.h. */
#include "study/sweep.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "tasks/task.h"

#define SWEEP_IN     16
#define SWEEP_OUT    2
#define SWEEP_RATE_P 0.05 /* input spikes per step: 50 Hz at dt = 1 ms */
#define SWEEP_TWO_PI 6.283185307179586

struct sweep_kind {
    const char *name;
    const char *params; /* the node's "params" object */
    bool spiking;
    double in_gain, ff_gain, self_gain, out_gain;
};

static const struct sweep_kind sweep_kinds[] = {
    {"leaky", "{\"tau_m\": 10, \"activation\": \"tanh\"}", false, 3, 3, 0.9, 1},
    {"lif", "{\"tau_m\": 20, \"v_th\": 0.6}", true, 0.9, 1, 0.4, 1},
    {"alif", "{\"tau_m\": 20, \"v_th\": 0.6, \"tau_a\": 200, \"beta\": 0.05}", true, 1, 1.1, 0.4,
     1},
};

const struct sweep_kind *sweep_kind_find(const char *name)
{
    for (size_t k = 0; k < sizeof sweep_kinds / sizeof sweep_kinds[0]; k++)
        if (strcmp(name, sweep_kinds[k].name) == 0) return &sweep_kinds[k];
    return NULL;
}

/* ---- the graph ---- */

struct strbuf {
    char *s;
    size_t len, cap;
    bool failed;
};

static void sb_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || b->failed) {
        b->failed = true;
        return;
    }
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = 2 * (b->len + (size_t)n + 1);
        char *s = realloc(b->s, cap);
        if (!s) {
            b->failed = true;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void sb_layer(struct strbuf *b, const struct sweep_stack *s, int layer)
{
    const struct sweep_kind *k = s->kind;
    char prev[16];
    snprintf(prev, sizeof prev, layer == 1 ? "in" : "h%d", layer - 1);
    sb_printf(b,
              ",\n    {\"id\": \"h%d\", \"op\": \"%s\", \"size\": %d, \"params\": %s, \"inputs\": "
              "[{\"from\": \"%s\", \"gain\": %g}, {\"from\": \"h%d\", \"delay\": 1, \"gain\": "
              "%g%s}]}",
              layer, k->name, s->width, k->params, prev, layer == 1 ? k->in_gain : k->ff_gain,
              layer, k->self_gain, k->spiking ? ", \"no_self\": true" : "");
}

/* The stack as JSON text (malloc), or NULL. */
static char *stack_json(const struct sweep_stack *s)
{
    struct strbuf b = {0};
    const int d = s->depth;
    sb_printf(&b,
              "{\"trellis\": 1, \"name\": \"sweep: %d %s layers of %d%s\", \"dt\": 1,\n"
              "  \"nodes\": [\n    {\"id\": \"in\", \"op\": \"input\", \"size\": %d}",
              d, s->kind->name, s->width, s->skip ? " with skip edges" : "", SWEEP_IN);
    for (int l = 1; l <= d; l++) sb_layer(&b, s, l);
    sb_printf(&b,
              ",\n    {\"id\": \"out\", \"op\": \"readout\", \"size\": %d, \"params\": {\"tau\": "
              "10}, \"inputs\": [{\"from\": \"h%d\", \"gain\": %g}",
              SWEEP_OUT, d, s->kind->out_gain);
    for (int l = d - 1; s->skip && l >= 1; l--)
        sb_printf(&b, ", {\"from\": \"h%d\", \"gain\": %g}", l, s->kind->out_gain);
    sb_printf(&b, "]}\n  ],\n  \"loss\": {\"node\": \"out\", \"type\": \"mse\"}\n}\n");
    if (b.failed) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

struct graph *sweep_graph(const struct sweep_stack *s, struct trl_errors *err)
{
    char name[64];
    snprintf(name, sizeof name, "sweep-%s-depth%d", s->kind->name, s->depth);
    trl_errors_init(err, name);
    char *json = stack_json(s);
    struct graph *g = json ? graph_load_string(json, strlen(json), name, err) : NULL;
    free(json);
    if (!g && err->n == 0) {
        trl_errors_add(err, NULL, "out of memory building the graph");
        trl_errors_kind(err, ERR_MEMORY);
    }
    return g;
}

/* ---- the data ---- */

static void fill_target(struct rng *r, trl_real *target, int T)
{
    for (int k = 0; k < SWEEP_OUT; k++) {
        double a[3], f[3], phi[3];
        for (int j = 0; j < 3; j++) {
            a[j] = 0.5 + 0.5 * rng_uniform(r);
            f[j] = 0.5 + 2.5 * rng_uniform(r);
            phi[j] = SWEEP_TWO_PI * rng_uniform(r);
        }
        for (int t = 0; t < T; t++) {
            double y = 0;
            for (int j = 0; j < 3; j++)
                y += a[j] / 3 * task_sin(SWEEP_TWO_PI * f[j] * t / T + phi[j]);
            target[(size_t)t * SWEEP_OUT + k] = (trl_real)y;
        }
    }
}

struct data *sweep_data(const struct sweep_stack *s, const struct graph *g, int T, int batch,
                        uint64_t seed)
{
    struct data *d = data_new(g, batch, T);
    if (!d) return NULL;
    struct rng r;
    rng_seed_named(&r, seed, "sweep/data");
    trl_real *x = d->x[graph_find_node(g, "in")];
    for (int b = 0; b < batch; b++) {
        size_t n = (size_t)T * SWEEP_IN;
        trl_real *xb = x + (size_t)b * n;
        for (size_t i = 0; i < n; i++)
            xb[i] = (trl_real)(s->kind->spiking ? rng_uniform(&r) < SWEEP_RATE_P : rng_normal(&r));
        fill_target(&r, d->target + (size_t)b * T * SWEEP_OUT, T);
    }
    return d;
}
