/* cmd_sweep.c - `trellis sweep --kind leaky|lif|alif ... -o RESULTS.csv`:
 * the depth-scaling experiment. How well does deep e-prop (or rtrl) assign
 * credit to a layer as the stack under the readout grows (Millidge 2025's
 * open question)?
 *
 * For every stack depth d = 1..D and seed s = 1..S, trl_sweep_build makes
 * the stack, its parameters (seed s) and its data (study/sweep.h has the
 * stacks, their gains and their data), and trl_compare_new runs bptt and
 * every algorithm of --algos on it; the CSV has one row per (stack depth,
 * seed, algorithm, node) for the layers and the readout (the node's tensors
 * concatenated) and one for the whole network; the columns are listed in
 * the help text below. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/compare_cli.h"

#define SWEEP_MAX_SEED 1000000

struct sweep_config {
    trl_sweep_stack stack; /* its depth: the deepest */
    int seeds;
    trl_grad_opts algos[TRL_COMPARE_MAX];
    int n_algos;
    const char *out, *plot;
    char python[4096], script[4096]; /* for --plot */
};

/* ---- the CSV ---- */

static const char *const csv_columns =
    "kind,skip,stack_depth,width,seed,algo,scope,node,layer,depth,delayed_only,values,cosine,"
    "rel_err,norm_ratio,sign_agree,norm,norm_exact,mean_z,loss,seconds,seconds_bptt,trace_bytes,"
    "history_bytes";

struct row_ctx {
    FILE *f;
    const struct sweep_config *c;
    int d, seed, a;
    const trl_compare *r;
};

static void csv_row(const struct row_ctx *x, const char *scope, const char *node, int layer,
                    const trl_compare_item *it, double mean_z)
{
    const trl_compare_cost *cost = trl_compare_cost_of(x->r, x->a);
    const trl_compare_cost *exact = trl_compare_cost_of(x->r, -1);
    const trl_metrics *m = &it->m[x->a];
    char name[64];
    compare_cli_label(&cost->algo, name, sizeof name);
    fprintf(x->f, "%s,%d,%d,%d,%d,%s,%s,%s,%d,%d,%d,%zu", x->c->stack.kind, x->c->stack.skip, x->d,
            x->c->stack.width, x->seed, name, scope, node, layer, it->depth, it->delayed_only,
            it->count);
    const double v[] = {m->cosine,     m->rel_err, m->norm_ratio, m->sign_agree, m->norm,
                        m->norm_exact, mean_z,     exact->loss,   cost->seconds, exact->seconds};
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        fputc(',', x->f);
        compare_cli_csv(x->f, v[k]);
    }
    fprintf(x->f, ",%zu,%zu\n", cost->trace_bytes, cost->history_bytes);
}

/* Every row of one (depth, seed): per algorithm, the layers, the readout,
 * the network. */
static void csv_rows(FILE *f, const struct sweep_config *c, int d, int seed, const trl_compare *r)
{
    for (int a = 0; a < trl_compare_algo_count(r); a++) {
        struct row_ctx x = {f, c, d, seed, a, r};
        for (int k = 0; k < trl_compare_count(r, TRL_GROUP_NODE); k++) {
            const trl_compare_item *it = trl_compare_item_at(r, TRL_GROUP_NODE, k);
            bool readout = strcmp(it->name, "out") == 0;
            int layer = readout ? d + 1 : atoi(it->name + 1);
            csv_row(&x, readout ? "readout" : "layer", it->name, layer, it,
                    trl_compare_mean_z(r, it->node));
        }
        csv_row(&x, "network", "all", 0, trl_compare_item_at(r, TRL_GROUP_TOTAL, 0), NAN);
    }
}

/* ---- one depth ---- */

struct depth_summary {
    double cos_net[TRL_COMPARE_MAX], cos_h1[TRL_COMPARE_MAX], rate_min, rate_max, seconds;
    int n;
    bool spiking; /* the layers spike: their rates are reported */
};

static void summarise(const trl_graph *g, const trl_compare *r, struct depth_summary *s)
{
    for (int a = 0; a < trl_compare_algo_count(r); a++) {
        s->cos_net[a] += trl_compare_item_at(r, TRL_GROUP_TOTAL, 0)->m[a].cosine;
        for (int k = 0; k < trl_compare_count(r, TRL_GROUP_NODE); k++) {
            const trl_compare_item *it = trl_compare_item_at(r, TRL_GROUP_NODE, k);
            if (strcmp(it->name, "h1") == 0) s->cos_h1[a] += it->m[a].cosine;
        }
    }
    trl_graph_info gi;
    trl_graph_get_info(g, &gi);
    for (int i = 0; i < gi.n_nodes; i++) {
        trl_node_info ni;
        trl_graph_node(g, i, &ni);
        if (ni.id[0] != 'h') continue;
        s->spiking = ni.spiking;
        double hz = 1000 * trl_compare_mean_z(r, i); /* dt = 1 ms */
        if (s->n == 0 || hz < s->rate_min) s->rate_min = hz;
        if (s->n == 0 || hz > s->rate_max) s->rate_max = hz;
        s->n++;
    }
    s->seconds += trl_compare_cost_of(r, -1)->seconds;
    for (int a = 0; a < trl_compare_algo_count(r); a++)
        s->seconds += trl_compare_cost_of(r, a)->seconds;
}

/* Builds, runs and writes one (depth, seed). 0, or -1 with err set. */
static int run_one(FILE *f, const struct sweep_config *c, int d, int seed, struct depth_summary *s,
                   trl_error *err)
{
    trl_sweep_stack stack = c->stack;
    stack.depth = d;
    trl_graph *g = NULL;
    trl_params *p = NULL;
    trl_data *data = NULL;
    trl_compare *r = NULL;
    bool random_feedback = false; /* draw the matrices that random feedback uses (SPEC 6.3) */
    for (int k = 0; k < c->n_algos; k++)
        random_feedback |= c->algos[k].feedback == TRL_FEEDBACK_RANDOM;
    if (trl_sweep_build(&stack, (uint64_t)seed, &g, &p, &data, err) == TRL_OK &&
        (!random_feedback || trl_params_init_feedback(p, (uint64_t)seed, err) == TRL_OK) &&
        trl_compare_new(g, p, data, c->algos, c->n_algos, &r, err) == TRL_OK) {
        csv_rows(f, c, d, seed, r);
        summarise(g, r, s);
    }
    int rc = r ? 0 : -1;
    trl_compare_free(r);
    trl_data_free(data);
    trl_params_free(p);
    trl_graph_free(g);
    return rc;
}

static void print_progress(const struct sweep_config *c, int d, const struct depth_summary *s)
{
    fprintf(stderr, "sweep %s: depth %d/%d, %d seed%s, %.2f s; cosine", c->stack.kind, d,
            c->stack.depth, c->seeds, c->seeds > 1 ? "s" : "", s->seconds);
    for (int a = 0; a < c->n_algos; a++) {
        char name[64];
        compare_cli_label(&c->algos[a], name, sizeof name);
        fprintf(stderr, "%s %s h1 %.4f network %.4f", a ? ";" : "", name, s->cos_h1[a] / c->seeds,
                s->cos_net[a] / c->seeds);
    }
    if (s->spiking) fprintf(stderr, "; layer rates %.0f-%.0f Hz", s->rate_min, s->rate_max);
    fprintf(stderr, "\n");
}

/* Runs everything into f. 0, or -1 with the errors printed. */
static int run_sweep(FILE *f, const struct sweep_config *c, trl_error *err)
{
    fprintf(f, "%s\n", csv_columns);
    for (int d = 1; d <= c->stack.depth; d++) {
        struct depth_summary s = {0};
        for (int seed = 1; seed <= c->seeds; seed++)
            if (run_one(f, c, d, seed, &s, err)) {
                cli_fail(err);
                return -1;
            }
        print_progress(c, d, &s);
    }
    return 0;
}

/* Writes the CSV whole (trl_output), so a failed sweep leaves no partial
 * output. */
static int write_results(const struct sweep_config *c)
{
    trl_error *err = trl_error_new();
    trl_output *out = NULL;
    int status = EXIT_INPUT;
    if (!err) return EXIT_INPUT;
    if (trl_output_open(c->out, &out, err) != TRL_OK)
        cli_fail(err);
    else if (run_sweep(trl_output_stream(out), c, err))
        trl_output_abort(out);
    else if (trl_output_commit(out, err) != TRL_OK)
        cli_fail(err);
    else
        status = EXIT_OK;
    trl_error_free(err);
    return status;
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

static int check_range(const char *opt, int v, int lo, int hi)
{
    if (v >= lo && v <= hi) return 0;
    return cli_usage_error(&cmd_sweep, "%s must be from %d to %d (got %d)", opt, lo, hi, v);
}

static int check_config(struct sweep_config *c, const char *kind, const struct compare_cli_axes *ax)
{
    if (!kind) return cli_usage_error(&cmd_sweep, "--kind leaky|lif|alif is required");
    if (!trl_sweep_kind_known(kind))
        return cli_usage_error(&cmd_sweep, "--kind must be leaky, lif or alif (got \"%s\")", kind);
    c->stack.kind = kind;
    if (!c->out) return cli_usage_error(&cmd_sweep, "-o RESULTS.csv is required");
    trl_sweep_stack *st = &c->stack;
    int rc = check_range("--depth", st->depth, 1, TRL_SWEEP_MAX_DEPTH);
    if (!rc) rc = check_range("--width", st->width, 1, TRL_SWEEP_MAX_WIDTH);
    if (!rc) rc = check_range("--seeds", c->seeds, 1, SWEEP_MAX_SEED);
    if (!rc) rc = check_range("--T", st->T, 1, TRL_SWEEP_MAX_BT);
    if (!rc) rc = check_range("--batch", st->batch, 1, TRL_SWEEP_MAX_BT / st->T);
    if (rc) return rc;
    c->n_algos = compare_cli_algos(&cmd_sweep, ax, c->algos);
    return c->n_algos < 0 ? EXIT_USAGE : 0;
}

static int sweep_main(int argc, char **argv)
{
    struct sweep_config c = {.stack = {.depth = 8, .width = 32, .T = 50, .batch = 4}, .seeds = 3};
    const char *kind = NULL;
    struct compare_cli_axes ax = {NULL, NULL, NULL, NULL};
    bool skip = false;
    const struct opt opts[] = {
        {"--kind", NULL, OPT_STRING, &kind, NULL},
        {"--depth", NULL, OPT_INT, &c.stack.depth, NULL},
        {"--width", NULL, OPT_INT, &c.stack.width, NULL},
        {"--seeds", NULL, OPT_INT, &c.seeds, NULL},
        {"--skip", NULL, OPT_FLAG, &skip, NULL},
        {"--T", NULL, OPT_INT, &c.stack.T, NULL},
        {"--batch", NULL, OPT_INT, &c.stack.batch, NULL},
        {"--algos", NULL, OPT_STRING, &ax.algos, NULL},
        {"--engine", NULL, OPT_STRING, &ax.engine, NULL},
        {"--order", NULL, OPT_STRING, &ax.orders, NULL},
        {"--feedback", NULL, OPT_STRING, &ax.feedback, NULL},
        {"-o", "--output", OPT_STRING, &c.out, NULL},
        {"--plot", NULL, OPT_STRING, &c.plot, NULL},
    };
    int n_pos = 0;
    int rc = cli_parse(&cmd_sweep, argc, argv, opts, CLI_COUNT(opts), NULL, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    c.stack.skip = skip;
    rc = check_config(&c, kind, &ax);
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
             "[--batch B] [--algos eprop] [--engine E] [--order M,...] [--feedback "
             "symmetric,random] -o RESULTS.csv [--plot PREFIX]",
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
            "  --order LIST    eprop: m-order e-prop, once per order (e.g. 1,2,3; the algo\n"
            "                  column then says \"eprop order 2\"); at most 4 gradients\n"
            "  --feedback LIST symmetric,random: also with random feedback (matrices drawn\n"
            "                  with each seed, like init --feedback random; \"eprop random\")\n"
            "  -o RESULTS.csv  output CSV (written whole at the end)\n"
            "  --plot PREFIX   then run tools/plot.py to make PREFIX.png and PREFIX.svg;\n"
            "                  plot.py is looked up in $TRELLIS_TOOLS, then in ../tools and\n"
            "                  ../../tools from the binary's folder, then ./tools; the\n"
            "                  interpreter is $TRELLIS_PYTHON, python3 or /usr/bin/python3,\n"
            "                  the first with matplotlib (Debian: python3-matplotlib)\n\n"
            "example:\n"
            "  trellis sweep --kind lif --depth 6 --seeds 3 -o lif.csv --plot lif\n",
};
