/* cmd_train.c - `trellis train`: train a graph on a built-in task or a data
 * file with bptt, rtrl or deep e-prop, with live progress, a log, evaluation
 * and checkpoints (train/train.h). */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "train/train.h"
#include "tasks/task.h"
#include "tools/cli.h"
#include "tools/train_log.h"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

struct train_args {
    const char *graph, *task, *data, *val_data, *out, *init, *algo, *engine, *optimizer;
    const char *log, *resume, *checkpoint;
    unsigned long long seed;
    int iters, batch, val_batch, eval_every, checkpoint_every;
    double lr, clip, rate_target, rate_weight, momentum;
    bool online, quiet;
};

/* Batches from a task: (seed, iteration) -> data. */
struct task_source {
    const struct task_kind *kind;
};

static struct data *task_batch(void *ctx, const struct graph *g, uint64_t seed, long iter, int B,
                               struct trl_errors *err)
{
    const struct task_source *ts = ctx;
    return task_data_new(ts->kind, g, seed, TASK_TRAIN, (uint64_t)iter, B, err);
}

/* Batches drawn from a data file. */
static struct data *file_batch(void *ctx, const struct graph *g, uint64_t seed, long iter, int B,
                               struct trl_errors *err)
{
    struct data *d = data_subset(g, ctx, seed, iter, B);
    if (!d) trl_errors_add(err, NULL, "out of memory for a batch of %d", B);
    return d;
}

static int parse_args(int argc, char **argv, struct train_args *a)
{
    const char *pos[1];
    int n_pos = 1;
    const struct opt opts[] = {
        {"--task", NULL, OPT_STRING, &a->task, NULL},
        {"--data", NULL, OPT_STRING, &a->data, NULL},
        {"--val-data", NULL, OPT_STRING, &a->val_data, NULL},
        {"--algo", NULL, OPT_STRING, &a->algo, NULL},
        {"--engine", NULL, OPT_STRING, &a->engine, NULL},
        {"--online", NULL, OPT_FLAG, &a->online, NULL},
        {"-o", "--output", OPT_STRING, &a->out, NULL},
        {"--params", NULL, OPT_STRING, &a->init, NULL},
        {"--seed", NULL, OPT_U64, &a->seed, NULL},
        {"--iters", NULL, OPT_INT, &a->iters, NULL},
        {"--batch", NULL, OPT_INT, &a->batch, NULL},
        {"--val-batch", NULL, OPT_INT, &a->val_batch, NULL},
        {"--lr", NULL, OPT_REAL, &a->lr, NULL},
        {"--optimizer", NULL, OPT_STRING, &a->optimizer, NULL},
        {"--momentum", NULL, OPT_REAL, &a->momentum, NULL},
        {"--clip", NULL, OPT_REAL, &a->clip, NULL},
        {"--rate-target", NULL, OPT_REAL, &a->rate_target, NULL},
        {"--rate-weight", NULL, OPT_REAL, &a->rate_weight, NULL},
        {"--log", NULL, OPT_STRING, &a->log, NULL},
        {"--eval-every", NULL, OPT_INT, &a->eval_every, NULL},
        {"--checkpoint-every", NULL, OPT_INT, &a->checkpoint_every, NULL},
        {"--checkpoint", NULL, OPT_STRING, &a->checkpoint, NULL},
        {"--resume", NULL, OPT_STRING, &a->resume, NULL},
        {"--quiet", "-q", OPT_FLAG, &a->quiet, NULL},
    };
    int rc =
        cli_parse(&cmd_train, argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, &n_pos);
    if (rc) return rc;
    if (n_pos != 1) return cli_usage_error(&cmd_train, "expected one GRAPH file");
    a->graph = pos[0];
    if (!a->task == !a->data)
        return cli_usage_error(&cmd_train, "give either --task TASK or --data DATA");
    if (a->val_data && !a->data) return cli_usage_error(&cmd_train, "--val-data goes with --data");
    if (!a->out) return cli_usage_error(&cmd_train, "-o PARAMS is required");
    if (!a->algo ||
        (strcmp(a->algo, "bptt") && strcmp(a->algo, "rtrl") && strcmp(a->algo, "eprop")))
        return cli_usage_error(&cmd_train, "--algo must be bptt, rtrl or eprop");
    if (a->engine &&
        (strcmp(a->algo, "eprop") || (strcmp(a->engine, "online") && strcmp(a->engine, "reverse"))))
        return cli_usage_error(&cmd_train, "--engine online|reverse goes with --algo eprop");
    if (a->online && (!strcmp(a->algo, "bptt") || (a->engine && !strcmp(a->engine, "reverse"))))
        return cli_usage_error(&cmd_train, "--online needs --algo rtrl or eprop (online engine): "
                                           "bptt has no gradient before the sequence ends");
    if (strcmp(a->optimizer, "adam") && strcmp(a->optimizer, "sgd"))
        return cli_usage_error(&cmd_train, "--optimizer must be adam or sgd");
    if (a->iters < 1 || a->batch < 1 || a->val_batch < 1)
        return cli_usage_error(&cmd_train, "--iters, --batch and --val-batch must be at least 1");
    if (!(a->lr > 0) || a->rate_weight < 0 || a->rate_target < 0)
        return cli_usage_error(&cmd_train,
                               "--lr must be > 0, --rate-weight and --rate-target >= 0");
    return 0;
}

static enum grad_algo algo_of(const char *s)
{
    return !strcmp(s, "bptt") ? GRAD_BPTT : !strcmp(s, "rtrl") ? GRAD_RTRL : GRAD_EPROP;
}

/* The default checkpoint path: OUT without ".safetensors", plus ".ckpt.safetensors". */
static void default_checkpoint(const char *out, char *buf, size_t n)
{
    size_t len = strlen(out), ext = strlen(".safetensors");
    if (len > ext && strcmp(out + len - ext, ".safetensors") == 0) len -= ext;
    snprintf(buf, n, "%.*s.ckpt.safetensors", (int)len, out);
}

struct run_ctx {
    struct train_log *log;
};

static int on_iteration(void *ctx, const struct graph *g, const struct train_metrics *m)
{
    struct run_ctx *rc = ctx;
    train_log_iteration(rc->log, g, m);
    return interrupted;
}

static int load_sources(const struct train_args *a, const struct graph *g, struct task_source *ts,
                        struct data **train_data, struct data **val, struct train_source *src)
{
    struct trl_errors err;
    trl_errors_init(&err, a->graph);
    if (a->task) {
        ts->kind = task_find(a->task);
        if (!ts->kind) {
            char names[256];
            task_list_names(names, sizeof names);
            return cli_usage_error(&cmd_train, "unknown task \"%s\"; the tasks are %s", a->task,
                                   names);
        }
        if (task_check_graph(ts->kind, g, &err) < 0) return cli_input_error(&err);
        *val = task_data_new(ts->kind, g, a->seed, TASK_VAL, 0, a->val_batch, &err);
        if (!*val) return cli_input_error(&err);
        *src = (struct train_source){.batch = task_batch, .ctx = ts, .val = *val};
        return 0;
    }
    trl_errors_init(&err, a->data);
    *train_data = data_load(g, a->data, DATA_TARGET_REQUIRED, &err);
    if (!*train_data) return cli_input_error(&err);
    if (a->val_data) {
        trl_errors_init(&err, a->val_data);
        *val = data_load(g, a->val_data, DATA_TARGET_REQUIRED, &err);
        if (!*val) return cli_input_error(&err);
    }
    *src = (struct train_source){.batch = file_batch, .ctx = *train_data, .val = *val};
    return 0;
}

static int init_params(const struct train_args *a, const struct graph *g, trl_real *params,
                       struct optim *o, long *start)
{
    struct trl_errors err;
    if (a->resume) {
        trl_errors_init(&err, a->resume);
        if (train_checkpoint_load(g, params, o, start, a->resume, &err))
            return cli_input_error(&err);
        return 0;
    }
    if (a->init) {
        trl_errors_init(&err, a->init);
        if (params_load(g, a->init, params, &err)) return cli_input_error(&err);
        return 0;
    }
    params_init(g, a->seed, params);
    return 0;
}

static int train_main(int argc, char **argv)
{
    struct train_args a = {.optimizer = "adam",
                           .iters = 200,
                           .batch = 32,
                           .val_batch = 128,
                           .eval_every = 25,
                           .lr = 3e-3,
                           .momentum = 0.9,
                           .rate_target = 10};
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    struct graph *g = cli_load_graph(a.graph);
    if (!g) return EXIT_INPUT;
    trl_graph *pg = NULL; /* the default engine's cost (cli_cost_note) */
    trl_grad_opts go;
    if (!a.quiet && !cli_grad_opts(&cmd_train, a.algo, a.engine, &go) &&
        trl_graph_load(a.graph, &pg, NULL) == TRL_OK)
        cli_cost_note(&cmd_train, pg, &go, a.online);
    trl_graph_free(pg);
    int status = EXIT_INPUT;
    struct data *train_data = NULL, *val = NULL;
    struct task_source ts = {0};
    struct train_source src;
    struct trl_errors err;
    trl_errors_init(&err, a.graph);
    trl_real *params = params_new(g);
    struct optim *o = optim_new(g, strcmp(a.optimizer, "sgd") ? OPTIM_ADAM : OPTIM_SGD, a.lr);
    struct train_log *log = NULL;
    long start = 0;
    char ckpt[1024];
    default_checkpoint(a.out, ckpt, sizeof ckpt);
    if (g->loss_node < 0) {
        trl_errors_add(&err, "/loss", "the graph has no loss; add \"loss\" to train it");
        status = cli_input_error(&err);
        goto done;
    }
    if (!params || !o) {
        fprintf(stderr, "trellis train: out of memory for %zu parameters\n", g->n_param_values);
        goto done;
    }
    o->momentum = a.momentum;
    if ((rc = load_sources(&a, g, &ts, &train_data, &val, &src)) ||
        (rc = init_params(&a, g, params, o, &start))) {
        status = rc;
        goto done;
    }
    struct train_config cfg = {.algo = algo_of(a.algo),
                               .engine = a.engine && !strcmp(a.engine, "reverse")
                                             ? GRAD_ENGINE_REVERSE
                                             : GRAD_ENGINE_ONLINE,
                               .online = a.online,
                               .optimizer = o->kind,
                               .lr = a.lr,
                               .clip = a.clip,
                               .iters = a.iters,
                               .batch = a.batch,
                               .seed = a.seed,
                               .rate_target_hz = a.rate_target,
                               .rate_weight = a.rate_weight,
                               .eval_every = a.eval_every,
                               .checkpoint_every = a.checkpoint_every,
                               .checkpoint_path = a.checkpoint ? a.checkpoint : ckpt};
    log = train_log_open(a.log, g, a.resume != NULL, a.quiet, &err);
    if (!log) {
        status = cli_input_error(&err);
        goto done;
    }
    train_log_start(log, g, &cfg, a.task ? a.task : a.data, start);
    struct run_ctx ctx = {.log = log};
    interrupted = 0;
    struct sigaction sa = {.sa_handler = on_sigint}, old;
    sigaction(SIGINT, &sa, &old);
    trl_errors_init(&err, "trellis train");
    enum train_status ts_status =
        train_run(g, params, o, &cfg, &src, start, on_iteration, &ctx, &err);
    sigaction(SIGINT, &old, NULL);
    train_log_end(log);
    if (ts_status == TRAIN_FAILED) {
        trl_errors_print(&err, stderr);
        if (access(cfg.checkpoint_path, F_OK) == 0)
            fprintf(stderr, "trellis train: the last good checkpoint is %s (--resume it)\n",
                    cfg.checkpoint_path);
        goto done;
    }
    if (ts_status == TRAIN_INTERRUPTED) {
        fprintf(stderr, "\ninterrupted: checkpoint written to %s; continue with --resume %s\n",
                cfg.checkpoint_path, cfg.checkpoint_path);
        status = 130;
        goto done;
    }
    if (params_save(g, params, PARAMS_ALL, NULL, a.out, &err)) {
        status = cli_input_error(&err);
        goto done;
    }
    if (!a.quiet) fprintf(stderr, "parameters written to %s\n", a.out);
    status = EXIT_OK;
done:
    train_log_close(log);
    optim_free(o);
    trl_free(params);
    data_free(train_data);
    data_free(val);
    graph_free(g);
    return status;
}

const struct command cmd_train = {
    .name = "train",
    .run = train_main,
    .usage =
        "GRAPH (--task TASK | --data DATA [--val-data VDATA]) --algo bptt|rtrl|eprop -o PARAMS "
        "[options]",
    .summary = "train a graph on a built-in task or a data file",
    .help =
        "Trains GRAPH with the gradient of --algo and writes its parameters to PARAMS.\n"
        "Progress is a line redrawn in place on a terminal, plain lines otherwise.\n"
        "Ctrl-C writes a checkpoint and exits (status 130); --resume continues it exactly.\n\n"
        "source:\n"
        "  --task TASK            built-in task: sine, evidence, store_recall, delayed_xor\n"
        "                         (trellis data --help describes them)\n"
        "  --data DATA            a data file; each iteration draws --batch samples\n"
        "  --val-data VDATA       validation data for --data (a task has its own)\n"
        "gradient:\n"
        "  --algo ALGO            bptt, rtrl or eprop\n"
        "  --engine ENGINE        eprop: online (default) or reverse\n"
        "  --online               rtrl/eprop online: update the weights at every step\n"
        "optimisation:\n"
        "  --params INIT          start from these parameters (default: init with --seed)\n"
        "  --seed N               seed of init and of the batches (default 0)\n"
        "  --iters N              iterations (default 200)\n"
        "  --batch B              samples per iteration (default 32)\n"
        "  --lr LR                learning rate (default 0.003)\n"
        "  --optimizer adam|sgd   (default adam; betas 0.9, 0.999, eps 1e-8)\n"
        "  --momentum M           sgd momentum (default 0.9)\n"
        "  --clip NORM            clip the gradient's global norm (default: no clipping)\n"
        "  --rate-target HZ       firing-rate regulariser target (default 10)\n"
        "  --rate-weight C        its weight (default 0: off)\n"
        "monitoring:\n"
        "  --log FILE             per-iteration log: CSV if FILE ends in .csv, else JSON lines\n"
        "  --eval-every K         validation every K iterations (default 25)\n"
        "  --val-batch B          validation samples of a task (default 128)\n"
        "  --checkpoint-every K   checkpoint every K iterations (default: on Ctrl-C only)\n"
        "  --checkpoint FILE      checkpoint path (default PARAMS with .ckpt.safetensors)\n"
        "  --resume CKPT          continue from a checkpoint\n"
        "  --quiet                no progress output\n\n"
        "example:\n"
        "  trellis train models/evidence.json --task evidence --algo eprop -o "
        "evidence.safetensors\n",
};
