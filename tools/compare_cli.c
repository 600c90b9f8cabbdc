/* compare_cli.c - see compare_cli.h. */
#include "tools/compare_cli.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

int compare_cli_algos(const struct command *cmd, const char *list, const char *engine,
                      trl_grad_opts algos[TRL_COMPARE_MAX])
{
    trl_engine eng = TRL_ENGINE_DEFAULT;
    if (engine && trl_engine_parse(engine, &eng, NULL) != TRL_OK) {
        cli_usage_error(cmd, "--engine must be online or reverse (got \"%s\")", engine);
        return -1;
    }
    int n = 0;
    bool seen[3] = {false, false, false}, eprop = false;
    for (const char *p = list;;) {
        size_t len = strcspn(p, ",");
        char name[16] = "";
        trl_algo a = TRL_ALGO_BPTT;
        if (len < sizeof name) memcpy(name, p, len);
        if (len >= sizeof name || trl_algo_parse(name, &a, NULL) != TRL_OK || seen[a]) {
            cli_usage_error(cmd,
                            "--algos takes a comma-separated list of bptt, rtrl and eprop, "
                            "each at most once (got \"%s\")",
                            list);
            return -1;
        }
        seen[a] = true;
        eprop = eprop || a == TRL_ALGO_EPROP;
        algos[n] = (trl_grad_opts)TRL_GRAD_OPTS_INIT;
        algos[n].algo = a;
        algos[n++].engine = a == TRL_ALGO_EPROP ? eng : TRL_ENGINE_DEFAULT;
        if (!p[len]) break;
        p += len + 1;
    }
    if (engine && !eprop) {
        cli_usage_error(cmd, "--engine applies to eprop only, which --algos does not list");
        return -1;
    }
    return n;
}

void compare_cli_cell(char *buf, size_t cap, double v, int digits)
{
    if (isnan(v))
        snprintf(buf, cap, "-");
    else if (isinf(v))
        snprintf(buf, cap, v > 0 ? "inf" : "-inf");
    else
        snprintf(buf, cap, "%.*g", digits, v);
}

json_t *compare_cli_json_real(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

void compare_cli_csv(FILE *f, double v)
{
    if (isnan(v))
        fputs("NaN", f);
    else if (isinf(v))
        fputs(v > 0 ? "Inf" : "-Inf", f);
    else
        fprintf(f, "%.9g", v);
}

void compare_cli_bytes(char *buf, size_t cap, size_t bytes)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}
