/* plan.c - what a call will hold and compute, before it runs (trellis.h):
 * the threads over the batch, the samples in memory at once, and validate's
 * per-sample counts (study/summary.h, SPEC section 7) scaled to them. */
#include "api/api.h"
#include "kernels/parallel.h"
#include "study/summary.h"

/* The summary's cost of an online algorithm. */
static const struct summary_cost *online_cost(const struct summary *s, enum grad_algo algo)
{
    return algo == GRAD_RTRL ? &s->rtrl : &s->eprop;
}

/* A gradient's plan; s is the graph's summary. */
static void grad_plan(const struct graph *g, const struct summary *s, const trl_grad_opts *o, int B,
                      int T, trl_plan *out)
{
    const enum grad_algo algo = api_algo(o->algo);
    const enum grad_engine engine = api_engine(o->engine);
    out->samples_held = grad_samples_held(g, algo, engine, B);
    if (grad_is_online(algo, engine)) {
        const struct summary_cost *c = online_cost(s, algo);
        out->macs_per_step = c->available ? c->macs_per_step : 0;
        out->trace_bytes = c->values * sizeof(trl_real) * out->samples_held;
    } else {
        out->macs_per_step = algo == GRAD_BPTT ? s->bptt_macs : s->eprop_reverse_macs;
        out->history_bytes = s->history_values * sizeof(trl_real) * T * out->samples_held;
    }
}

TRL_API trl_status trl_plan_call(const trl_graph *tg, const trl_grad_opts *opts, int B, int T,
                                 trl_plan *out, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, tg ? tg->g->file : NULL);
    API_NEED(e, tg && out, "the graph and out");
    if (B < 1 || T < 1)
        return api_fail(e, ERR_ARGUMENT, NULL, "B and T must be at least 1 (got %d, %d)", B, T);
    if (opts && api_grad_check(opts, e) != TRL_OK) return api_status(e);
    const struct graph *g = tg->g;
    struct summary s;
    if (summary_compute(g, &s)) return api_failed(e);
    *out = (trl_plan){.macs_per_step = s.forward_macs};
    const int before = par_call_threads(opts ? opts->threads : 0);
    out->threads = shard_count(B);
    if (opts) grad_plan(g, &s, opts, B, T, out);
    par_call_threads(before);
    return TRL_OK;
}
