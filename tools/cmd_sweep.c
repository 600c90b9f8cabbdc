/* cmd_sweep.c - `trellis sweep --kind leaky|lif|alif ... -o RESULTS.csv`:
 * the depth-scaling experiment. How well does deep e-prop (or rtrl) assign
 * credit to a layer as the stack under the readout grows (Millidge 2025's
 * open question)?
 *
 * For every stack depth d = 1..D and seed s = 1..S, a graph is built in
 * memory (JSON text, graph_load_string):
 *
 *   in (16 channels) -> h1 -> h2 -> ... -> hd -> out (readout, 2 units, mse)
 *
 * every hL of the chosen kind and width W with a delay-1 self edge (no_self
 * for lif and alif); with --skip also a delay-0 edge from every hL to out.
 * Parameters: params_init(seed) with these edge gains (SPEC section 1:
 * weights ~ Normal(0, gain^2 / from.size)), chosen so that activity neither
 * dies out nor saturates with depth:
 *
 *   kind   node params                        in->h1  hL->hL+1  self  ->out
 *   leaky  tau_m 10, tanh                       3       3        0.9    1
 *   lif    tau_m 20, v_th 0.6                  0.9      1        0.4    1
 *   alif   tau_m 20, v_th 0.6, tau_a 200,       1      1.1       0.4    1
 *          beta 0.05
 *
 * Measured over 8 layers, 3 seeds, T 50: lif and alif fire at 10-55 Hz in
 * every layer and seed for widths 16 to 64 (layer means 20-45 Hz; gain 1
 * everywhere makes rates fall to a few Hz by layer 6, gain 1.5 climbs past
 * 300 Hz); leaky keeps the gradient norm of every layer within a factor 1.3
 * of the others (gain 1 makes the deepest layer's 10 times smaller). The
 * progress lines and the mean_z column report the rates. alif's beta is
 * small because a(t) sums spikes without a (1 - rho) factor: beta * rate *
 * tau_a is the threshold rise, 0.05 * 0.03 * 200 = 0.3 at 30 Hz.
 *
 * Data (data_new; --batch B x --T T steps of dt 1 ms, from the stream
 * rng_seed_named(seed, "sweep/data"), so every depth sees the same data):
 * inputs are Poisson spikes at 50 Hz (Bernoulli p = 0.05 per step) for lif
 * and alif, standard normal values for leaky; the target of each sample and
 * output is a smooth random curve, sum over j = 1..3 of
 * (a_j / 3) sin(2 pi f_j t / T + phi_j), a_j ~ U(0.5, 1), f_j ~ U(0.5, 3),
 * phi_j ~ U(0, 2 pi).
 *
 * compare_new (study/compare.h) runs bptt and every algorithm of --algos;
 * the CSV has one row per (stack depth, seed, algorithm, node) for the
 * layers and the readout (the node's tensors concatenated) and one for the
 * whole network; the columns are listed in the help text below. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/rng.h"
#include "tasks/task.h"
#include "tools/compare_cli.h"

#define SWEEP_IN       16
#define SWEEP_OUT      2
#define SWEEP_RATE_P   0.05 /* input spikes per step: 50 Hz at dt = 1 ms */
#define SWEEP_MAX_D    64
#define SWEEP_MAX_W    4096
#define SWEEP_MAX_BT   10000000
#define SWEEP_MAX_SEED 1000000
#define SWEEP_TWO_PI   6.283185307179586

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

struct sweep_config {
    const struct sweep_kind *kind;
    int depth, width, seeds, T, batch;
    bool skip;
    struct compare_algo algos[COMPARE_MAX_ALGOS];
    int n_algos;
    const char *out, *plot;
    char python[4096], script[4096]; /* for --plot */
};

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

static void sb_layer(struct strbuf *b, const struct sweep_config *c, int layer)
{
    const struct sweep_kind *k = c->kind;
    char prev[16];
    snprintf(prev, sizeof prev, layer == 1 ? "in" : "h%d", layer - 1);
    sb_printf(b,
              ",\n    {\"id\": \"h%d\", \"op\": \"%s\", \"size\": %d, \"params\": %s, \"inputs\": "
              "[{\"from\": \"%s\", \"gain\": %g}, {\"from\": \"h%d\", \"delay\": 1, \"gain\": "
              "%g%s}]}",
              layer, k->name, c->width, k->params, prev, layer == 1 ? k->in_gain : k->ff_gain,
              layer, k->self_gain, k->spiking ? ", \"no_self\": true" : "");
}

/* The stack of depth d as JSON text (malloc), or NULL. */
static char *stack_json(const struct sweep_config *c, int d)
{
    struct strbuf b = {0};
    sb_printf(&b,
              "{\"trellis\": 1, \"name\": \"sweep: %d %s layers of %d%s\", \"dt\": 1,\n"
              "  \"nodes\": [\n    {\"id\": \"in\", \"op\": \"input\", \"size\": %d}",
              d, c->kind->name, c->width, c->skip ? " with skip edges" : "", SWEEP_IN);
    for (int l = 1; l <= d; l++) sb_layer(&b, c, l);
    sb_printf(&b,
              ",\n    {\"id\": \"out\", \"op\": \"readout\", \"size\": %d, \"params\": {\"tau\": "
              "10}, \"inputs\": [{\"from\": \"h%d\", \"gain\": %g}",
              SWEEP_OUT, d, c->kind->out_gain);
    for (int l = d - 1; c->skip && l >= 1; l--)
        sb_printf(&b, ", {\"from\": \"h%d\", \"gain\": %g}", l, c->kind->out_gain);
    sb_printf(&b, "]}\n  ],\n  \"loss\": {\"node\": \"out\", \"type\": \"mse\"}\n}\n");
    if (b.failed) {
        free(b.s);
        return NULL;
    }
    return b.s;
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

static struct data *sweep_data(const struct sweep_config *c, const struct graph *g, uint64_t seed)
{
    struct data *d = data_new(g, c->batch, c->T);
    if (!d) return NULL;
    struct rng r;
    rng_seed_named(&r, seed, "sweep/data");
    trl_real *x = d->x[graph_find_node(g, "in")];
    for (int b = 0; b < c->batch; b++) {
        size_t n = (size_t)c->T * SWEEP_IN;
        trl_real *xb = x + (size_t)b * n;
        for (size_t i = 0; i < n; i++)
            xb[i] = (trl_real)(c->kind->spiking ? rng_uniform(&r) < SWEEP_RATE_P : rng_normal(&r));
        fill_target(&r, d->target + (size_t)b * c->T * SWEEP_OUT, c->T);
    }
    return d;
}

/* ---- the CSV ---- */

static const char *const csv_columns =
    "kind,skip,stack_depth,width,seed,algo,scope,node,layer,depth,delayed_only,values,cosine,"
    "rel_err,norm_ratio,sign_agree,norm,norm_exact,mean_z,loss,seconds,seconds_bptt,trace_bytes,"
    "history_bytes";

struct row_ctx {
    FILE *f;
    const struct sweep_config *c;
    int d, seed, a;
    const struct compare_report *r;
};

static void csv_row(const struct row_ctx *x, const char *scope, const char *node, int layer,
                    const struct compare_item *it, double mean_z)
{
    const struct compare_cost *cost = &x->r->cost[x->a];
    const struct cmp_metrics *m = &it->m[x->a];
    fprintf(x->f, "%s,%d,%d,%d,%d,%s,%s,%s,%d,%d,%d,%zu", x->c->kind->name, x->c->skip, x->d,
            x->c->width, x->seed, compare_algo_label(cost->algo), scope, node, layer, it->depth,
            it->delayed_only, it->count);
    const double v[] = {m->cosine,     m->rel_err,         m->norm_ratio, m->sign_agree,
                        m->norm,       m->norm_exact,      mean_z,        x->r->exact.loss,
                        cost->seconds, x->r->exact.seconds};
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        fputc(',', x->f);
        compare_cli_csv(x->f, v[k]);
    }
    fprintf(x->f, ",%zu,%zu\n", cost->trace_bytes, cost->history_bytes);
}

/* Every row of one (depth, seed): per algorithm, the layers, the readout,
 * the network. */
static void csv_rows(FILE *f, const struct sweep_config *c, int d, int seed,
                     const struct compare_report *r)
{
    for (int a = 0; a < r->n_algos; a++) {
        struct row_ctx x = {f, c, d, seed, a, r};
        for (int k = 0; k < r->n_nodes; k++) {
            const struct compare_item *it = &r->nodes[k];
            bool readout = strcmp(it->name, "out") == 0;
            int layer = readout ? d + 1 : atoi(it->name + 1);
            csv_row(&x, readout ? "readout" : "layer", it->name, layer, it, r->mean_z[it->node]);
        }
        csv_row(&x, "network", "all", 0, &r->total, NAN);
    }
}

/* ---- one depth ---- */

struct depth_summary {
    double cos_net[COMPARE_MAX_ALGOS], cos_h1[COMPARE_MAX_ALGOS], rate_min, rate_max, seconds;
    int n;
};

static void summarise(const struct graph *g, const struct compare_report *r,
                      struct depth_summary *s)
{
    for (int a = 0; a < r->n_algos; a++) {
        s->cos_net[a] += r->total.m[a].cosine;
        for (int k = 0; k < r->n_nodes; k++)
            if (strcmp(r->nodes[k].name, "h1") == 0) s->cos_h1[a] += r->nodes[k].m[a].cosine;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].id[0] != 'h') continue;
        double hz = 1000 * r->mean_z[i]; /* dt = 1 ms */
        if (s->n == 0 || hz < s->rate_min) s->rate_min = hz;
        if (s->n == 0 || hz > s->rate_max) s->rate_max = hz;
        s->n++;
    }
}

/* Builds, runs and writes one (depth, seed). 0, or -1 with err set. */
static int run_one(FILE *f, const struct sweep_config *c, int d, int seed, struct depth_summary *s,
                   struct trl_errors *err)
{
    char name[64];
    snprintf(name, sizeof name, "sweep-%s-depth%d", c->kind->name, d);
    trl_errors_init(err, name);
    char *json = stack_json(c, d);
    struct graph *g = json ? graph_load_string(json, strlen(json), name, err) : NULL;
    free(json);
    if (!g) {
        if (err->n == 0) trl_errors_add(err, NULL, "out of memory building the graph");
        return -1;
    }
    trl_real *params = params_new(g);
    struct data *data = params ? sweep_data(c, g, (uint64_t)seed) : NULL;
    struct compare_report *r = NULL;
    if (!data)
        trl_errors_add(err, NULL, "out of memory for the parameters and data");
    else {
        params_init(g, (uint64_t)seed, params);
        r = compare_new(g, params, data, c->algos, c->n_algos, err);
    }
    if (r) {
        csv_rows(f, c, d, seed, r);
        summarise(g, r, s);
        s->seconds += r->exact.seconds;
        for (int a = 0; a < r->n_algos; a++) s->seconds += r->cost[a].seconds;
    }
    compare_free(r);
    data_free(data);
    trl_free(params);
    graph_free(g);
    return r ? 0 : -1;
}

static void print_progress(const struct sweep_config *c, int d, const struct depth_summary *s)
{
    fprintf(stderr, "sweep %s: depth %d/%d, %d seed%s, %.2f s; cosine", c->kind->name, d, c->depth,
            c->seeds, c->seeds > 1 ? "s" : "", s->seconds);
    for (int a = 0; a < c->n_algos; a++)
        fprintf(stderr, "%s %s h1 %.4f network %.4f", a ? ";" : "", compare_algo_label(c->algos[a]),
                s->cos_h1[a] / c->seeds, s->cos_net[a] / c->seeds);
    if (c->kind->spiking) fprintf(stderr, "; layer rates %.0f-%.0f Hz", s->rate_min, s->rate_max);
    fprintf(stderr, "\n");
}

/* Runs everything into f. 0, or -1 with the errors printed. */
static int run_sweep(FILE *f, const struct sweep_config *c)
{
    fprintf(f, "%s\n", csv_columns);
    for (int d = 1; d <= c->depth; d++) {
        struct depth_summary s = {0};
        for (int seed = 1; seed <= c->seeds; seed++) {
            struct trl_errors err;
            if (run_one(f, c, d, seed, &s, &err)) {
                cli_input_error(&err);
                return -1;
            }
        }
        print_progress(c, d, &s);
    }
    return 0;
}

/* Writes the CSV through a temporary file renamed into place, so a failed
 * sweep leaves no partial output. */
static int write_results(const struct sweep_config *c)
{
    size_t n = strlen(c->out) + 16;
    char *tmp = malloc(n);
    if (!tmp) return EXIT_INPUT;
    snprintf(tmp, n, "%s.tmp.XXXXXX", c->out);
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        fprintf(stderr, "%s: cannot write: %s\n", c->out, strerror(errno));
        if (fd >= 0) close(fd);
        free(tmp);
        return EXIT_INPUT;
    }
    int rc = run_sweep(f, c);
    bool write_failed = ferror(f) != 0;
    if (fclose(f) != 0) write_failed = true;
    if (rc == 0 && write_failed) fprintf(stderr, "%s: cannot write: %s\n", c->out, strerror(errno));
    if (rc == 0 && !write_failed && rename(tmp, c->out) != 0) {
        fprintf(stderr, "%s: cannot write: %s\n", c->out, strerror(errno));
        write_failed = true;
    }
    if (rc || write_failed) unlink(tmp);
    free(tmp);
    return rc || write_failed ? EXIT_INPUT : EXIT_OK;
}

/* ---- plotting ---- */

/* Runs argv; quiet: output to /dev/null. The exit status, or -1. */
static int run_program(char *const *argv, bool quiet)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (quiet) {
            FILE *null = freopen("/dev/null", "w", stdout);
            if (null) dup2(STDOUT_FILENO, STDERR_FILENO);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool has_matplotlib(const char *python)
{
    char *argv[] = {(char *)python, "-c", "import matplotlib", NULL};
    return run_program(argv, true) == 0;
}

/* The first of $TRELLIS_PYTHON, python3, /usr/bin/python3 that imports
 * matplotlib. */
static bool find_python(char *buf, size_t cap)
{
    const char *env = getenv("TRELLIS_PYTHON");
    const char *cands[] = {env && *env ? env : "python3", "python3", "/usr/bin/python3"};
    for (int k = env && *env ? 0 : 1; k < 3; k++)
        if (has_matplotlib(cands[k])) {
            snprintf(buf, cap, "%s", cands[k]);
            return true;
        }
    return false;
}

/* plot.py: in $TRELLIS_TOOLS, else next to the binary's folder
 * (<dir>/../tools, <dir>/../../tools for build/VARIANT/trellis), else
 * ./tools. */
static bool find_script(char *buf, size_t cap)
{
    const char *env = getenv("TRELLIS_TOOLS");
    if (env && *env) {
        snprintf(buf, cap, "%s/plot.py", env);
        return access(buf, R_OK) == 0;
    }
    char exe[2048];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        for (int up = 1; up <= 2; up++) {
            snprintf(buf, cap, "%s/%s/tools/plot.py", exe, up == 1 ? ".." : "../..");
            if (access(buf, R_OK) == 0) return true;
        }
    }
    snprintf(buf, cap, "tools/plot.py");
    return access(buf, R_OK) == 0;
}

/* Checked before the sweep runs, so a missing tool fails at once. */
static int plot_ready(struct sweep_config *c)
{
    if (!find_script(c->script, sizeof c->script)) {
        fprintf(stderr, "trellis sweep: --plot needs tools/plot.py: not found next to the binary "
                        "(../tools or ../../tools) nor in ./tools; set TRELLIS_TOOLS to the "
                        "folder that holds it\n");
        return EXIT_INPUT;
    }
    if (!find_python(c->python, sizeof c->python)) {
        fprintf(stderr, "trellis sweep: --plot needs python3 with matplotlib (Debian: apt-get "
                        "install python3-matplotlib); tried $TRELLIS_PYTHON, python3 and "
                        "/usr/bin/python3\n");
        return EXIT_INPUT;
    }
    return EXIT_OK;
}

static int plot(const struct sweep_config *c)
{
    char *argv[] = {
        (char *)c->python, (char *)c->script, "sweep", (char *)c->out, "-o", (char *)c->plot, NULL};
    int rc = run_program(argv, false);
    if (rc == 0) return EXIT_OK;
    fprintf(stderr, "trellis sweep: %s %s failed (exit %d); the results are in %s\n", c->python,
            c->script, rc, c->out);
    return EXIT_INPUT;
}

/* ---- the command ---- */

static const struct sweep_kind *find_kind(const char *name)
{
    for (size_t k = 0; k < sizeof sweep_kinds / sizeof sweep_kinds[0]; k++)
        if (strcmp(name, sweep_kinds[k].name) == 0) return &sweep_kinds[k];
    return NULL;
}

static int check_range(const char *opt, int v, int lo, int hi)
{
    if (v >= lo && v <= hi) return 0;
    return cli_usage_error(&cmd_sweep, "%s must be from %d to %d (got %d)", opt, lo, hi, v);
}

static int check_config(struct sweep_config *c, const char *kind, const char *algos,
                        const char *engine)
{
    if (!kind) return cli_usage_error(&cmd_sweep, "--kind leaky|lif|alif is required");
    c->kind = find_kind(kind);
    if (!c->kind)
        return cli_usage_error(&cmd_sweep, "--kind must be leaky, lif or alif (got \"%s\")", kind);
    if (!c->out) return cli_usage_error(&cmd_sweep, "-o RESULTS.csv is required");
    int rc = check_range("--depth", c->depth, 1, SWEEP_MAX_D);
    if (!rc) rc = check_range("--width", c->width, 1, SWEEP_MAX_W);
    if (!rc) rc = check_range("--seeds", c->seeds, 1, SWEEP_MAX_SEED);
    if (!rc) rc = check_range("--T", c->T, 1, SWEEP_MAX_BT);
    if (!rc) rc = check_range("--batch", c->batch, 1, SWEEP_MAX_BT / c->T);
    if (rc) return rc;
    c->n_algos = compare_cli_algos(&cmd_sweep, algos, engine, c->algos);
    return c->n_algos < 0 ? EXIT_USAGE : 0;
}

static int sweep_main(int argc, char **argv)
{
    struct sweep_config c = {0};
    c.depth = 8, c.width = 32, c.seeds = 3, c.T = 50, c.batch = 4;
    const char *kind = NULL, *algos = "eprop", *engine = NULL;
    const struct opt opts[] = {
        {"--kind", NULL, OPT_STRING, &kind, NULL},     {"--depth", NULL, OPT_INT, &c.depth, NULL},
        {"--width", NULL, OPT_INT, &c.width, NULL},    {"--seeds", NULL, OPT_INT, &c.seeds, NULL},
        {"--skip", NULL, OPT_FLAG, &c.skip, NULL},     {"--T", NULL, OPT_INT, &c.T, NULL},
        {"--batch", NULL, OPT_INT, &c.batch, NULL},    {"--algos", NULL, OPT_STRING, &algos, NULL},
        {"--engine", NULL, OPT_STRING, &engine, NULL}, {"-o", "--output", OPT_STRING, &c.out, NULL},
        {"--plot", NULL, OPT_STRING, &c.plot, NULL},
    };
    int n_pos = 0;
    int rc = cli_parse(&cmd_sweep, argc, argv, opts, 11, NULL, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    rc = check_config(&c, kind, algos, engine);
    if (rc) return rc;
    if (c.plot && (rc = plot_ready(&c)) != 0) return rc;
    rc = write_results(&c);
    if (rc == EXIT_OK) fprintf(stderr, "wrote %s\n", c.out);
    if (rc == EXIT_OK && c.plot) rc = plot(&c);
    return rc;
}

const struct command cmd_sweep = {
    .name = "sweep",
    .run = sweep_main,
    .usage = "--kind leaky|lif|alif [--depth D] [--width W] [--seeds S] [--skip] [--T T] "
             "[--batch B] [--algos eprop] [--engine E] -o RESULTS.csv [--plot PREFIX]",
    .summary = "depth-scaling experiment: e-prop's gradient against the exact one per layer",
    .help = "For every stack depth d = 1..D and seed s = 1..S, builds the stack\n"
            "  in (16 channels) -> h1 -> ... -> hd -> out (readout, 2 units, mse)\n"
            "of layers of --kind and --width, each with a delay-1 self edge (no_self for\n"
            "lif and alif) and, with --skip, a delay-0 edge from every layer to out;\n"
            "initialises it with params_init(s) and runs `trellis compare` on random data\n"
            "(lif/alif: 50 Hz Poisson input spikes; leaky: Gaussian input; a smooth random\n"
            "target). Edge gains (in->h1, hL->hL+1, self, ->out): leaky 3, 3, 0.9, 1\n"
            "(tau_m 10, tanh); lif 0.9, 1, 0.4, 1 (tau_m 20, v_th 0.6); alif 1, 1.1, 0.4,\n"
            "1 (lif's params, tau_a 200, beta 0.05): 10-55 Hz in every layer. Progress\n"
            "goes to stderr, a line per depth: the cosine of h1 (the layer furthest from\n"
            "the readout) and of the whole network, mean over seeds, and the layer rates.\n\n"
            "CSV columns (one row per stack depth, seed, algorithm and node, for every\n"
            "layer, the readout and the whole network):\n"
            "  kind, skip (0/1), stack_depth (d), width, seed, algo\n"
            "  scope         layer, readout or network\n"
            "  node          h1..hd, out, or all (network)\n"
            "  layer         1..d from the input up; d+1 the readout; 0 the network\n"
            "  depth         delay-0 edges from the node to the loss (d - layer + 1 without\n"
            "                --skip; the network row: the deepest)\n"
            "  delayed_only  1 if no delay-0 path reaches the loss (eprop gives 0 there)\n"
            "  values        gradient entries compared\n"
            "  cosine, rel_err, norm_ratio, sign_agree   against bptt, as in `compare`\n"
            "  norm, norm_exact   |g| and |g_exact|\n"
            "  mean_z        mean output per unit and step (spikes per ms for lif/alif)\n"
            "  loss          the loss (bptt's)\n"
            "  seconds, seconds_bptt   wall time of the algorithm's and bptt's gradient\n"
            "  trace_bytes, history_bytes   peak trace / history memory of the algorithm\n"
            "Undefined values (0/0) are written NaN.\n\n"
            "options:\n"
            "  --kind KIND     leaky, lif or alif (required)\n"
            "  --depth D       deepest stack (default 8)\n"
            "  --width W       units per layer (default 32)\n"
            "  --seeds S       seeds 1..S per depth (default 3)\n"
            "  --skip          add a delay-0 edge from every layer to the readout\n"
            "  --T T           steps per sample (default 50)\n"
            "  --batch B       samples (default 4)\n"
            "  --algos LIST    compared with bptt: from eprop, rtrl, bptt (default eprop)\n"
            "  --engine E      eprop's engine: online (default) or reverse\n"
            "  -o RESULTS.csv  output CSV (written whole at the end)\n"
            "  --plot PREFIX   then run tools/plot.py to make PREFIX.png and PREFIX.svg;\n"
            "                  plot.py is looked up in $TRELLIS_TOOLS, then in ../tools and\n"
            "                  ../../tools from the binary's folder, then ./tools; the\n"
            "                  interpreter is $TRELLIS_PYTHON, python3 or /usr/bin/python3,\n"
            "                  the first with matplotlib (Debian: python3-matplotlib)\n\n"
            "example:\n"
            "  trellis sweep --kind lif --depth 6 --seeds 3 -o lif.csv --plot lif\n",
};
