/* cmd_data_shd.c - `trellis data shd FILE.h5 --dt MS --steps T [--input ID]
 * [--classes C] [--loss-steps K] [--offset K] [--limit N] -o OUT` (SPEC
 * section 11): a Spiking Heidelberg Digits / Speech Commands file as a data
 * file, through trl_shd_convert (one sample in memory at a time). Reached
 * from `trellis data` (cmd_data.c). */
#include <stdio.h>

#include "tools/cli.h"

struct shd_args {
    double dt;
    int steps, classes, loss_steps, offset, limit;
    bool have_dt, have_steps;
    const char *input, *out;
};

static int check_args(const struct shd_args *a)
{
    if (!a->have_dt || !(a->dt > 0))
        return cli_usage_error(&cmd_data_shd, "--dt MS, the step in ms (> 0), is required");
    if (!a->have_steps || a->steps < 1)
        return cli_usage_error(&cmd_data_shd, "--steps T, at least 1, is required");
    if (a->loss_steps > a->steps)
        return cli_usage_error(&cmd_data_shd, "--loss-steps %d is more than the %d --steps",
                               a->loss_steps, a->steps);
    if (!a->out) return cli_usage_error(&cmd_data_shd, "-o OUT is required");
    return EXIT_OK;
}

static void print_summary(const char *in, const struct shd_args *a, const trl_shd_info *s)
{
    const double bytes =
        (double)s->B * s->T * (TRL_SHD_CHANNELS + s->classes + 1) * (double)sizeof(trl_real);
    const double total = (double)(s->spikes + s->dropped);
    fprintf(stderr,
            "%s: %s samples %d to %lld of %lld: %d samples x %d steps of %g ms x %d "
            "channels, %d classes (%.1f MB)\n",
            a->out, in, a->offset, (long long)a->offset + s->B - 1, (long long)s->file_samples,
            s->B, s->T, a->dt, TRL_SHD_CHANNELS, s->classes, bytes / 1e6);
    fprintf(stderr,
            "%s: %lld spikes, %lld (%.1f%%) after %g ms dropped; at most %lld in one step "
            "and channel\n",
            a->out, (long long)s->spikes, (long long)s->dropped,
            total > 0 ? 100.0 * (double)s->dropped / total : 0.0, s->T * a->dt,
            (long long)s->max_count);
}

static int data_shd_main(int argc, char **argv)
{
    struct shd_args a = {0};
    const char *pos[1];
    int n_pos = 1;
    const struct opt opts[] = {
        {"--dt", NULL, OPT_REAL, &a.dt, &a.have_dt},
        {"--steps", NULL, OPT_INT, &a.steps, &a.have_steps},
        {"--input", NULL, OPT_STRING, &a.input, NULL},
        {"--classes", NULL, OPT_INT, &a.classes, NULL},
        {"--loss-steps", NULL, OPT_INT, &a.loss_steps, NULL},
        {"--offset", NULL, OPT_INT, &a.offset, NULL},
        {"--limit", NULL, OPT_INT, &a.limit, NULL},
        {"-o", "--output", OPT_STRING, &a.out, NULL},
    };
    int rc = cli_parse(&cmd_data_shd, argc, argv, opts, 8, pos, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    if (n_pos != 1) return cli_usage_error(&cmd_data_shd, "expected one FILE.h5");
    rc = check_args(&a);
    if (rc) return rc;
    trl_shd_opts o = {.dt_ms = a.dt,
                      .steps = a.steps,
                      .input = a.input,
                      .classes = a.classes,
                      .loss_steps = a.loss_steps,
                      .offset = a.offset,
                      .limit = a.limit};
    trl_shd_info info;
    trl_error *err = trl_error_new();
    if (!err) return cli_usage_error(&cmd_data_shd, "out of memory");
    if (trl_shd_convert(pos[0], &o, a.out, &info, err) == TRL_OK) {
        print_summary(pos[0], &a, &info);
        rc = EXIT_OK;
    } else {
        rc = cli_fail(err);
    }
    trl_error_free(err);
    return rc;
}

const struct command cmd_data_shd = {
    .name = "data shd",
    .run = data_shd_main,
    .usage = "FILE.h5 --dt MS --steps T [--input ID] [--classes C] [--loss-steps K] "
             "[--offset K] [--limit N] -o OUT",
    .summary = "convert a Spiking Heidelberg Digits (SHD) or Speech Commands (SSC) file",
    .help = "Reads the HDF5 files of Cramer et al. (2020) (https://zenkelab.org/datasets/,\n"
            "shd_train.h5.gz, shd_test.h5.gz, ssc_*.h5.gz; gunzip them first): spikes/times\n"
            "(seconds) and spikes/units, a list per sample, and labels. Writes a data file:\n"
            "ID [B, T, 700] counting each sample's spikes per step and channel (a spike at\n"
            "time s goes to step floor(1000 s / MS) + 1; spikes after step T are dropped and\n"
            "counted), target [B, T, C] one-hot at every step, mask [B, T]. One sample is in\n"
            "memory at a time; the output holds B x T x (700 + C + 1) values (the full SHD\n"
            "training set at --dt 10 --steps 100: 8156 samples, 2.35 GB in float32).\n\n"
            "options:\n"
            "  --dt MS          step width in ms; use the graph's \"dt\" (required)\n"
            "  --steps T        steps per sample (required); SHD samples last up to ~1.4 s\n"
            "  --input ID       name of the input tensor: the graph's input node (default in)\n"
            "  --classes C      target size (default: the file's largest label + 1)\n"
            "  --loss-steps K   mask 1 on the last K steps only (default: every step)\n"
            "  --offset K       first sample (default 0)\n"
            "  --limit N        at most N samples (default: all to the end)\n"
            "  -o OUT           output safetensors file\n\n"
            "example:\n"
            "  gunzip -k shd_train.h5.gz\n"
            "  trellis data shd shd_train.h5 --dt 10 --steps 100 -o shd_train.safetensors\n",
};
