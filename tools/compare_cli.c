/* compare_cli.c - see compare_cli.h. */
#include "tools/compare_cli.h"

#include <math.h>
#include <string.h>

static int find_algo(const char *name, size_t len)
{
    for (int a = 0; a < 3; a++)
        if (strlen(grad_algo_names[a]) == len && strncmp(name, grad_algo_names[a], len) == 0)
            return a;
    return -1;
}

static int parse_engine(const struct command *cmd, const char *engine, enum grad_engine *out)
{
    *out = GRAD_ENGINE_DEFAULT;
    if (!engine) return 0;
    if (strcmp(engine, "online") == 0)
        *out = GRAD_ENGINE_ONLINE;
    else if (strcmp(engine, "reverse") == 0)
        *out = GRAD_ENGINE_REVERSE;
    else
        return cli_usage_error(cmd, "--engine must be online or reverse (got \"%s\")", engine);
    return 0;
}

int compare_cli_algos(const struct command *cmd, const char *list, const char *engine,
                      struct compare_algo *algos)
{
    enum grad_engine eng;
    if (parse_engine(cmd, engine, &eng)) return -1;
    int n = 0;
    bool seen[3] = {false, false, false}, eprop = false;
    for (const char *p = list;;) {
        size_t len = strcspn(p, ",");
        int a = find_algo(p, len);
        if (a < 0 || seen[a]) {
            cli_usage_error(cmd,
                            "--algos takes a comma-separated list of bptt, rtrl and eprop, "
                            "each at most once (got \"%s\")",
                            list);
            return -1;
        }
        seen[a] = true;
        eprop = eprop || a == GRAD_EPROP;
        algos[n++] =
            (struct compare_algo){(enum grad_algo)a, a == GRAD_EPROP ? eng : GRAD_ENGINE_DEFAULT};
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
