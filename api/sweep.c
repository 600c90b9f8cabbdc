/* sweep.c - the stacks of the depth-scaling study (trellis.h; study/sweep.h). */
#include "api/api.h"
#include "study/sweep.h"

_Static_assert(TRL_SWEEP_MAX_DEPTH == SWEEP_MAX_D && TRL_SWEEP_MAX_WIDTH == SWEEP_MAX_W &&
                   TRL_SWEEP_MAX_BT == SWEEP_MAX_BT,
               "one set of sweep limits");

TRL_API int trl_sweep_kind_known(const char *kind)
{
    return kind && sweep_kind_find(kind) != NULL;
}

static trl_status check_stack(const trl_sweep_stack *s, struct trl_errors *e)
{
    if (!sweep_kind_find(s->kind))
        return api_fail(e, ERR_ARGUMENT, NULL,
                        "the stack kind must be leaky, lif or alif (got \"%s\")", s->kind);
    if (s->depth < 1 || s->depth > SWEEP_MAX_D || s->width < 1 || s->width > SWEEP_MAX_W ||
        s->T < 1 || s->batch < 1 || s->batch > SWEEP_MAX_BT / s->T)
        return api_fail(e, ERR_ARGUMENT, NULL,
                        "a stack has 1 to %d layers of 1 to %d units and data of batch * T at "
                        "most %d (got depth %d, width %d, batch %d, T %d)",
                        SWEEP_MAX_D, SWEEP_MAX_W, SWEEP_MAX_BT, s->depth, s->width, s->batch, s->T);
    return TRL_OK;
}

TRL_API trl_status trl_sweep_build(const trl_sweep_stack *s, uint64_t seed, trl_graph **g,
                                   trl_params **p, trl_data **d, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, NULL);
    API_NEED(e, g && p && d, "g, p and d");
    *g = NULL, *p = NULL, *d = NULL;
    API_NEED(e, s && s->kind, "the stack and its kind");
    trl_status st = check_stack(s, e);
    if (st != TRL_OK) return st;
    const struct sweep_stack stack = {sweep_kind_find(s->kind), s->depth, s->width, s->skip != 0};
    st = api_graph_wrap(sweep_graph(&stack, e), g, e);
    if (st == TRL_OK) st = trl_params_new(*g, p, err);
    if (st == TRL_OK) st = trl_params_init(*p, seed, err);
    if (st == TRL_OK)
        st = api_data_wrap(*g, sweep_data(&stack, (*g)->g, s->T, s->batch, seed), d, e);
    if (st == TRL_OK) return TRL_OK;
    trl_params_free(*p);
    trl_graph_free(*g);
    *g = NULL, *p = NULL;
    return st;
}
