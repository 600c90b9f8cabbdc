/* run.c - a forward pass: the outputs, the loss, and on request every
 * node's state variables (trellis.h; SPEC sections 2 and 7). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "kernels/parallel.h"

/* State variable k of a kind's comma-separated names ("v,a"): its length,
 * and where it starts in *at. */
static size_t state_name(const char *names, int k, const char **at)
{
    for (; k > 0 && names; k--) {
        names = strchr(names, ',');
        if (names) names++;
    }
    *at = names ? names : "";
    return strcspn(*at, ",");
}

/* Bytes of the "ID.NAME" names of every state variable. */
static size_t names_bytes(const struct graph *g)
{
    size_t n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        n += (size_t)g->nodes[i].op->n_state * (strlen(g->nodes[i].id) + 2) +
             strlen(g->nodes[i].op->state_names) + 1;
    return n;
}

/* The result's tensors: the outputs, then every state variable of every
 * node in file order (the names written into r->names). */
static void fill(trl_result *r, const struct graph *g, const struct data *d)
{
    const struct run_result *res = &r->run;
    int n = 0;
    for (int i = 0; i < g->n_outputs; i++) {
        const struct graph_node *x = &g->nodes[g->outputs[i]];
        r->tensors[n++] = (trl_tensor){
            .name = x->id, .ndim = 3, .shape = {d->B, d->T, x->size}, .data = res->out[i]};
    }
    char *name = r->names;
    for (int i = 0; res->states && i < g->n_nodes; i++) {
        const struct graph_node *x = &g->nodes[i];
        for (int s = 0; s < x->op->n_state; s++) {
            const char *var;
            const int len = (int)state_name(x->op->state_names, s, &var);
            r->tensors[n++] =
                (trl_tensor){.name = name,
                             .ndim = 3,
                             .shape = {d->B, d->T, x->size},
                             .data = res->states[i] + (size_t)s * d->B * d->T * x->size};
            name += sprintf(name, "%s.%.*s", x->id, len, var) + 1;
        }
    }
}

static int count_states(const struct graph *g)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) n += g->nodes[i].op->n_state;
    return n;
}

TRL_API trl_status trl_run_with(const trl_graph *tg, const trl_params *p, const trl_data *td,
                                const trl_run_opts *opts, trl_result **out, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, tg ? tg->g->file : NULL);
    API_NEED(e, out, "out");
    *out = NULL;
    API_NEED(e, tg && p && td, "the graph, the parameters and the data");
    const trl_run_opts none = TRL_RUN_OPTS_INIT, *o = opts ? opts : &none;
    const struct graph *g = tg->g;
    if (api_same_graph(e, g, p, td) != TRL_OK) return api_status(e);
    if (o->threads < 0)
        return api_fail(e, ERR_ARGUMENT, NULL, "threads must be >= 0 (0: the default), got %d",
                        o->threads);
    const struct data *d = td->d;
    if (d->stream)
        return api_fail(e, ERR_ARGUMENT, NULL,
                        "a forward pass needs the data in memory (load it without streaming)");
    trl_result *r = api_result_new(g->n_outputs + (o->states ? count_states(g) : 0));
    if (r && o->states) r->names = malloc(names_bytes(g));
    if (!r || (o->states && !r->names)) {
        trl_result_free(r);
        return api_fail(e, ERR_MEMORY, NULL, "out of memory");
    }
    const int before = par_call_threads(o->threads);
    const int rc = run_forward_states(g, p->values, d, o->states != 0, &r->run, e);
    par_call_threads(before);
    if (rc) {
        trl_result_free(r);
        return api_failed(e);
    }
    fill(r, g, d);
    r->has_loss = r->run.has_loss;
    r->loss = r->run.has_loss ? r->run.loss : NAN;
    *out = r;
    return TRL_OK;
}

TRL_API trl_status trl_run(const trl_graph *g, const trl_params *p, const trl_data *d,
                           trl_result **out, trl_error *err)
{
    return trl_run_with(g, p, d, NULL, out, err);
}
