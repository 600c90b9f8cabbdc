/* shd.c - the Spiking Heidelberg Digits reader (trellis.h; SPEC section 11):
 * the public options onto io/shd.h's. */
#include "api/api.h"
#include "io/shd.h"

static struct shd_opts shd_opts_of(const trl_shd_opts *o)
{
    return (struct shd_opts){.dt_ms = o->dt_ms,
                             .steps = o->steps,
                             .classes = o->classes,
                             .loss_steps = o->loss_steps,
                             .offset = (long)o->offset,
                             .limit = (long)o->limit,
                             .input = o->input};
}

static void info_of(const struct shd_stats *s, trl_shd_info *info)
{
    if (!info) return;
    *info = (trl_shd_info){.file_samples = s->n_file,
                           .B = s->B,
                           .T = s->T,
                           .classes = s->classes,
                           .spikes = s->spikes,
                           .dropped = s->dropped,
                           .max_count = s->max_count};
}

TRL_API trl_status trl_shd_convert(const char *h5_path, const trl_shd_opts *opts,
                                   const char *out_path, trl_shd_info *info, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, h5_path);
    API_NEED(e, h5_path && opts && out_path, "the file, the options and the output path");
    const struct shd_opts o = shd_opts_of(opts);
    struct shd_stats s = {0};
    if (shd_convert(h5_path, &o, out_path, &s, e)) return api_failed(e);
    info_of(&s, info);
    return TRL_OK;
}

TRL_API trl_status trl_data_shd(const trl_graph *g, const char *h5_path, const trl_shd_opts *opts,
                                trl_data **out, trl_shd_info *info, trl_error *err)
{
    struct trl_errors scratch, *e = api_errors(err, &scratch, h5_path);
    API_NEED(e, out, "out");
    *out = NULL;
    API_NEED(e, g && h5_path && opts, "the graph, the file and the options");
    const struct shd_opts o = shd_opts_of(opts);
    struct shd_stats s = {0};
    trl_status st = api_data_wrap(g, shd_load(g->g, h5_path, &o, &s, e), out, e);
    if (st == TRL_OK) info_of(&s, info);
    return st;
}
