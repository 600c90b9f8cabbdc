/* report.c - what `validate` reports, as data and as text (trellis.h). */
#include <stdio.h>
#include <stdlib.h>

#include "api/api.h"
#include "study/summary.h"

static trl_algo_cost cost_of(const struct summary_cost *c)
{
    return (trl_algo_cost){
        .available = c->available, .values = c->values, .macs_per_step = c->macs_per_step};
}

TRL_API trl_status trl_graph_summary(const trl_graph *g, trl_summary *out, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, g ? g->g->file : NULL);
    API_NEED(e, g && out, "the graph and out");
    struct summary s;
    if (summary_compute(g->g, &s)) return api_failed(e);
    *out = (trl_summary){
        .forward_macs = s.forward_macs,
        .bptt = {1, s.history_values, s.bptt_macs},
        .rtrl = cost_of(&s.rtrl),
        .eprop_online = cost_of(&s.eprop),
        .eprop_reverse = {1, s.history_values, s.eprop_reverse_macs},
        .n_trainable_values = s.n_trainable_values,
    };
    _Static_assert(TRL_SUMMARY_ORDERS == SUMMARY_ORDERS, "the public and internal order counts");
    for (int k = 0; k < TRL_SUMMARY_ORDERS; k++)
        out->eprop_online_order[k] = cost_of(&s.eprop_order[k]);
    return TRL_OK;
}

TRL_API trl_status trl_graph_report(const trl_graph *g, int json, char **text, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, g ? g->g->file : NULL);
    API_NEED(e, g && text, "the graph and text");
    *text = NULL;
    struct summary s;
    if (summary_compute(g->g, &s)) return api_failed(e);
    size_t len = 0;
    FILE *f = open_memstream(text, &len);
    if (!f) return api_failed(e);
    int rc = 0;
    if (json)
        rc = summary_print_json(g->g, &s, f);
    else
        summary_print_text(g->g, &s, f);
    if (fclose(f) != 0 || rc != 0 || !*text) {
        free(*text);
        *text = NULL;
        return api_failed(e);
    }
    return TRL_OK;
}

TRL_API void trl_format_count(double v, char *buf, size_t n)
{
    if (buf && n) summary_human(v, buf, n);
}
