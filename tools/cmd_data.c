/* cmd_data.c - `trellis data TASK [--seed N] [--batch B] [--val] [--iter I]
 * [--graph GRAPH] -o DATA`: writes a built-in task's data (tasks/task.h) as a
 * data file (SPEC section 4), so any tool can train or evaluate on it.
 *
 * The input tensor is named after the graph's one input node: the task's
 * ready model (models/<task>.json, looked up in the current folder, then
 * next to the folder holding the binary's folder) unless --graph names
 * another graph, which must fit the task (task_check_graph). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tasks/task.h"
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
    for (int i = 0; i < task_n_kinds; i++) {
        const struct task_kind *k = task_kinds[i];
        fprintf(f, "\n%s - %s\n  model: %s; default batch %d\n%s", k->name, k->doc, k->model,
                k->batch, k->params);
    }
}

static int unknown_task(const char *name)
{
    char names[256];
    task_list_names(names, sizeof names);
    return cli_usage_error(&cmd_data, "unknown task \"%s\"; expected one of: %s", name, names);
}

static void print_summary(const struct task_kind *k, const struct data *d, unsigned long long seed,
                          bool val, unsigned long long iter, const char *out)
{
    if (val)
        fprintf(stderr, "%s: task %s, validation set (seed %llu): ", out, k->name, seed);
    else
        fprintf(stderr, "%s: task %s, training batch %llu (seed %llu): ", out, k->name, iter, seed);
    fprintf(stderr, "%d samples x %d steps x %d channels\n", d->B, d->T, k->n_in);
}

/* Generates and writes; prints the errors. */
static int write_data(const struct task_kind *k, const struct graph *g, unsigned long long seed,
                      bool val, unsigned long long iter, int batch, const char *out)
{
    struct trl_errors err;
    struct data *d = task_data_new(k, g, seed, val ? TASK_VAL : TASK_TRAIN, iter, batch, &err);
    if (!d) return cli_input_error(&err);
    trl_errors_init(&err, out);
    int status = data_save(g, d, out, &err) ? cli_input_error(&err) : EXIT_OK;
    if (status == EXIT_OK) print_summary(k, d, seed, val, iter, out);
    data_free(d);
    return status;
}

static int data_main(int argc, char **argv)
{
    unsigned long long seed = 0, iter = 0;
    int batch = 0;
    bool val = false, have_batch = false, have_iter = false;
    const char *out = NULL, *graph_path = NULL, *pos[1];
    int n_pos = 1;
    const struct opt opts[] = {
        {"--seed", NULL, OPT_U64, &seed, NULL},
        {"--batch", NULL, OPT_INT, &batch, &have_batch},
        {"--val", NULL, OPT_FLAG, &val, NULL},
        {"--iter", NULL, OPT_U64, &iter, &have_iter},
        {"--graph", NULL, OPT_STRING, &graph_path, NULL},
        {"-o", "--output", OPT_STRING, &out, NULL},
    };
    int rc = cli_parse(&cmd_data, argc, argv, opts, 6, pos, &n_pos);
    if (rc < 0) print_tasks(stdout);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    if (n_pos != 1) return cli_usage_error(&cmd_data, "expected one TASK");
    const struct task_kind *k = task_find(pos[0]);
    if (!k) return unknown_task(pos[0]);
    if (!out) return cli_usage_error(&cmd_data, "-o DATA is required");
    if (have_batch && batch < 1)
        return cli_usage_error(&cmd_data, "--batch needs at least 1 sample (got %d)", batch);
    if (val && have_iter)
        return cli_usage_error(&cmd_data, "--iter picks a training batch; the validation set "
                                          "(--val) has none");

    char buf[4200];
    const char *path = graph_path ? graph_path : find_model(k->model, buf, sizeof buf);
    struct graph *g = cli_load_graph(path);
    if (!g) {
        if (!graph_path)
            fprintf(stderr,
                    "trellis data: %s is the ready graph of task \"%s\"; run from the trellis "
                    "folder or give --graph GRAPH\n",
                    k->model, k->name);
        return EXIT_INPUT;
    }
    int status = write_data(k, g, seed, val, iter, have_batch ? batch : k->batch, out);
    graph_free(g);
    return status;
}

const struct command cmd_data = {
    .name = "data",
    .run = data_main,
    .usage = "TASK [--seed N] [--batch B] [--val] [--iter I] [--graph GRAPH] -o DATA",
    .summary = "write a built-in task's data: sine, evidence, store_recall, delayed_xor",
    .help = "Generates a task's data from a seed, the same bytes on every machine, and writes\n"
            "a data file: one [B, T, channels] tensor named after the graph's input node,\n"
            "\"target\" [B, T, K] and \"mask\" [B, T]. Training batch I is a function of\n"
            "(seed, I) alone; the validation set of the seed alone, from another stream.\n\n"
            "options:\n"
            "  --seed N       random seed (default 0)\n"
            "  --batch B      samples (default: the task's, listed below)\n"
            "  --val          the validation set instead of a training batch\n"
            "  --iter I       which training batch (default 0)\n"
            "  --graph GRAPH  name the input after this graph's input node, and check that\n"
            "                 it fits the task (default: the task's model, models/TASK.json)\n"
            "  -o DATA        output safetensors file\n\n"
            "example:\n"
            "  trellis data evidence --seed 1 -o d.safetensors\n"
            "  trellis init models/evidence.json --seed 1 -o p.safetensors\n"
            "  trellis run models/evidence.json --params p.safetensors --data d.safetensors "
            "-o out.safetensors\n",
};
