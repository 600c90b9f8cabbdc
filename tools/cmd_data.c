/* cmd_data.c - `trellis data TASK [--seed N] [--batch B] [--val] [--iter I]
 * [--graph GRAPH] -o DATA`: writes a built-in task's data (tasks/task.h) as a
 * data file (SPEC section 4), so any tool can train or evaluate on it; and
 * `trellis data random --graph GRAPH --batch B --steps T [--spiking IDS]
 * [--rate HZ] [--seed N] -o DATA`: random inputs and targets of the right
 * shapes for any graph (trl_data_random), for benchmarks.
 *
 * The input tensor is named after the graph's one input node: the task's
 * ready model (models/<task>.json, looked up in the current folder, then
 * next to the folder holding the binary's folder) unless --graph names
 * another graph, which must fit the task. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli.h"

/* The task's default graph: rel if readable from here, else
 * <dir of the binary>/../rel when that is readable, else rel (whose load then
 * fails with the reason). */
static const char *find_model(const char *rel, char *buf, size_t cap)
{
    if (access(rel, R_OK) == 0) return rel;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return rel;
    exe[n] = 0;
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(exe, '/');
        if (!slash) return rel;
        *slash = 0;
    }
    snprintf(buf, cap, "%s/%s", exe, rel);
    return access(buf, R_OK) == 0 ? buf : rel;
}

static void print_tasks(FILE *f)
{
    fprintf(f, "\ntasks (dt = 1 ms):\n");
    trl_task_info k;
    for (int i = 0; trl_task_get(i, &k) == TRL_OK; i++)
        fprintf(f, "\n%s - %s\n  model: %s; default batch %d\n%s", k.name, k.doc, k.model, k.batch,
                k.params);
}

static int unknown_task(const char *name)
{
    char list[256] = "";
    const char *names[64];
    int n = 0;
    size_t len = 0;
    trl_task_info k;
    for (; n < CLI_COUNT(names) - 1 && trl_task_get(n, &k) == TRL_OK && len < sizeof list; n++) {
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", n ? ", " : "", k.name);
        names[n] = k.name;
    }
    names[n++] = "random";
    const char *hint = cli_did_you_mean(name, names, n);
    return cli_usage_error(&cmd_data,
                           "unknown task \"%s\"%s%s one of: %s (or random, for random data "
                           "of any graph)",
                           name, hint, hint[0] ? " Expected" : "; expected", list);
}

/* Writes d to out; prints the errors. */
static int save(const trl_data *d, const char *out, trl_error *err)
{
    return trl_data_save(d, out, err) == TRL_OK ? EXIT_OK : cli_fail(err);
}

/* The parsed command line of both modes. */
struct data_args {
    const char *what; /* TASK or "random" */
    unsigned long long seed, iter;
    int batch, steps;
    double rate;
    bool val, have_batch, have_iter, have_steps, have_rate;
    const char *out, *graph_path, *spiking;
};

/* Generates task k's data for g and writes it; prints the errors. */
static int write_task(const trl_task_info *k, const trl_graph *g, const struct data_args *a,
                      trl_error *err)
{
    trl_data *d = NULL;
    const trl_split split = a->val ? TRL_SPLIT_VAL : TRL_SPLIT_TRAIN;
    const int batch = a->have_batch ? a->batch : k->batch;
    if (trl_data_task(g, k->name, a->seed, split, a->iter, batch, &d, err) != TRL_OK)
        return cli_fail(err);
    int status = save(d, a->out, err);
    if (status == EXIT_OK) {
        int B, T;
        trl_data_shape(d, &B, &T);
        if (a->val)
            fprintf(stderr, "%s: task %s, validation set (seed %llu): ", a->out, k->name, a->seed);
        else
            fprintf(stderr, "%s: task %s, training batch %llu (seed %llu): ", a->out, k->name,
                    a->iter, a->seed);
        fprintf(stderr, "%d samples x %d steps x %d channels\n", B, T, k->n_in);
    }
    trl_data_free(d);
    return status;
}

/* Task mode: the options of random mode are not allowed. */
static int task_main(const struct data_args *a)
{
    trl_task_info k;
    if (trl_task_get(trl_task_find(a->what), &k) != TRL_OK) return unknown_task(a->what);
    if (!a->out) return cli_usage_error(&cmd_data, "-o DATA is required");
    if (a->have_steps || a->spiking || a->have_rate)
        return cli_usage_error(&cmd_data,
                               "--steps, --spiking and --rate apply to \"random\" "
                               "only; task \"%s\" fixes its own",
                               k.name);
    if (a->have_batch && a->batch < 1)
        return cli_usage_error(&cmd_data, "--batch needs at least 1 sample (got %d)", a->batch);
    if (a->val && a->have_iter)
        return cli_usage_error(&cmd_data, "--iter picks a training batch; the validation set "
                                          "(--val) has none");

    char buf[4200];
    const char *path = a->graph_path ? a->graph_path : find_model(k.model, buf, sizeof buf);
    trl_error *err = cli_error_new();
    trl_graph *g = cli_graph(path, err);
    int status = EXIT_INPUT;
    if (g)
        status = write_task(&k, g, a, err);
    else if (err && !a->graph_path)
        fprintf(stderr,
                "trellis data: %s is the ready graph of task \"%s\"; run from the trellis "
                "folder or give --graph GRAPH\n",
                k.model, k.name);
    trl_graph_free(g);
    trl_error_free(err);
    return status;
}

/* Random mode: checks what needs no graph; EXIT_OK or the usage error. */
static int random_check_args(const struct data_args *a)
{
    if (a->val || a->have_iter)
        return cli_usage_error(&cmd_data, "--val and --iter apply to tasks; random data has "
                                          "one stream per seed");
    if (!a->out) return cli_usage_error(&cmd_data, "-o DATA is required");
    if (!a->graph_path) return cli_usage_error(&cmd_data, "random data needs --graph GRAPH");
    if (!a->have_batch || a->batch < 1)
        return cli_usage_error(&cmd_data, "random data needs --batch B, at least 1");
    if (!a->have_steps || a->steps < 1)
        return cli_usage_error(&cmd_data, "random data needs --steps T, at least 1");
    if (a->rate < 0) return cli_usage_error(&cmd_data, "--rate must be >= 0 Hz (got %g)", a->rate);
    return EXIT_OK;
}

/* Generates random data for g and writes it; prints the errors. */
static int write_random(const trl_graph *g, const struct data_args *a, trl_error *err)
{
    trl_graph_info info;
    trl_graph_get_info(g, &info);
    const double p = a->rate * info.dt / 1000.0;
    if (p > 1)
        return cli_usage_error(&cmd_data,
                               "--rate %g Hz at dt = %g ms is %g spikes per step; at most %g Hz",
                               a->rate, info.dt, p, 1000.0 / info.dt);
    const trl_random_data o = {
        .B = a->batch, .T = a->steps, .seed = a->seed, .rate_hz = a->rate, .spiking = a->spiking};
    trl_data *d = NULL;
    trl_status s = trl_data_random(g, &o, &d, err);
    if (s == TRL_ERR_ARGUMENT) /* the --spiking list */
        return cli_usage_error(&cmd_data, "%s", trl_error_at(err, 0, NULL, NULL, NULL));
    if (s != TRL_OK) return cli_fail(err);
    int status = save(d, a->out, err);
    if (status == EXIT_OK)
        fprintf(stderr, "%s: random data for %s (seed %llu): %d samples x %d steps\n", a->out,
                info.file, a->seed, a->batch, a->steps);
    trl_data_free(d);
    return status;
}

static int random_main(const struct data_args *a)
{
    int rc = random_check_args(a);
    if (rc) return rc;
    trl_error *err = cli_error_new();
    trl_graph *g = cli_graph(a->graph_path, err);
    rc = g ? write_random(g, a, err) : EXIT_INPUT;
    trl_graph_free(g);
    trl_error_free(err);
    return rc;
}

static int data_main(int argc, char **argv)
{
    if (argc > 0 && strcmp(argv[0], "shd") == 0) return cmd_data_shd.run(argc - 1, argv + 1);
    struct data_args a = {.rate = TRL_RANDOM_RATE_HZ};
    const char *pos[1];
    int n_pos = 1;
    const struct opt opts[] = {
        {"--seed", NULL, OPT_U64, &a.seed, NULL},
        {"--batch", NULL, OPT_INT, &a.batch, &a.have_batch},
        {"--val", NULL, OPT_FLAG, &a.val, NULL},
        {"--iter", NULL, OPT_U64, &a.iter, &a.have_iter},
        {"--graph", NULL, OPT_STRING, &a.graph_path, NULL},
        {"--steps", NULL, OPT_INT, &a.steps, &a.have_steps},
        {"--spiking", NULL, OPT_STRING, &a.spiking, NULL},
        {"--rate", NULL, OPT_REAL, &a.rate, &a.have_rate},
        {"-o", "--output", OPT_STRING, &a.out, NULL},
    };
    int rc = cli_parse(&cmd_data, argc, argv, opts, CLI_COUNT(opts), pos, &n_pos);
    if (rc < 0) print_tasks(stdout);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    if (n_pos != 1) return cli_usage_error(&cmd_data, "expected one TASK, or random");
    a.what = pos[0];
    return strcmp(a.what, "random") == 0 ? random_main(&a) : task_main(&a);
}

const struct command cmd_data = {
    .name = "data",
    .run = data_main,
    .usage = "TASK [--seed N] [--batch B] [--val] [--iter I] [--graph GRAPH] -o DATA\n"
             "   or: trellis data random --graph GRAPH --batch B --steps T [--spiking ID,ID...] "
             "[--rate HZ] [--seed N] -o DATA\n"
             "   or: trellis data shd FILE.h5 --dt MS --steps T [...] -o DATA (trellis data shd "
             "--help)",
    .summary = "write a task's data (sine, evidence, store_recall, delayed_xor) or random data",
    .help = "Generates a task's data from a seed, the same bytes on every machine, and writes\n"
            "a data file: one [B, T, channels] tensor named after the graph's input node,\n"
            "\"target\" [B, T, K] and \"mask\" [B, T]. Training batch I is a function of\n"
            "(seed, I) alone; the validation set of the seed alone, from another stream.\n\n"
            "`data random` fills any graph's inputs instead, for benchmarks: inputs listed\n"
            "in --spiking get Bernoulli spikes (p = HZ dt / 1000 per step), the others\n"
            "Normal(0, 1); mse targets are a sum of 3 sines per sample and output (periods\n"
            "10-100 steps), mask 1; cross_entropy targets one random class per sample,\n"
            "one-hot at every step, mask 1 on the last 50 steps (the last 10% if T < 500).\n\n"
            "options:\n"
            "  --seed N       random seed (default 0)\n"
            "  --batch B      samples (default: the task's, listed below; required for random)\n"
            "  --val          the validation set instead of a training batch\n"
            "  --iter I       which training batch (default 0)\n"
            "  --graph GRAPH  name the input after this graph's input node, and check that\n"
            "                 it fits the task (default: the task's model, models/TASK.json);\n"
            "                 random: the graph to make data for (required)\n"
            "  --steps T      random: steps per sample (required)\n"
            "  --spiking IDS  random: input nodes that get spikes, comma-separated\n"
            "  --rate HZ      random: their rate (default 20)\n"
            "  -o DATA        output safetensors file\n\n"
            "example:\n"
            "  trellis data evidence --seed 1 -o d.safetensors\n"
            "  trellis init models/evidence.json --seed 1 -o p.safetensors\n"
            "  trellis run models/evidence.json --params p.safetensors --data d.safetensors "
            "-o out.safetensors\n"
            "  trellis data random --graph models/lsnn.json --batch 32 --steps 500 --spiking in "
            "--rate 50 -o r.safetensors\n",
};
