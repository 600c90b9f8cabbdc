/* cmd_train.c - `trellis train`: train a graph on a built-in task or a data
 * file with bptt, rtrl or deep e-prop, with live progress, a log, evaluation
 * and checkpoints (trl_trainer, trellis.h). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli.h"
#include "tools/mpi.h"
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
    struct cli_rule rule; /* --order, --feedback, --feedback-decay */
    trl_grad_opts rule_opts;
    double decay;
};

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
        CLI_RULE_OPTS(a->rule),
    };
    int rc = cli_parse(&cmd_train, argc, argv, opts, CLI_COUNT(opts), pos, &n_pos);
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
    if (a->online && !strcmp(a->algo, "bptt"))
        return cli_usage_error(&cmd_train, "--online needs --algo rtrl or eprop (online engine): "
                                           "bptt has no gradient before the sequence ends");
    if (a->online && a->engine && !strcmp(a->engine, "reverse"))
        return cli_usage_error(&cmd_train,
                               "--online needs eprop's online engine: with --engine reverse eprop "
                               "has no gradient before the sequence ends (drop --engine reverse)");
    trl_algo_parse(a->algo, &a->rule_opts.algo, NULL);
    if ((rc = cli_rule_opts(&cmd_train, &a->rule, true, &a->rule_opts, &a->decay))) return rc;
    if (strcmp(a->optimizer, "adam") && strcmp(a->optimizer, "sgd"))
        return cli_usage_error(&cmd_train, "--optimizer must be adam or sgd");
    if (a->iters < 1 || a->batch < 1 || a->val_batch < 1)
        return cli_usage_error(&cmd_train, "--iters, --batch and --val-batch must be at least 1");
    if (!(a->lr > 0) || a->rate_weight < 0 || a->rate_target < 0)
        return cli_usage_error(&cmd_train,
                               "--lr must be > 0, --rate-weight and --rate-target >= 0");
    return 0;
}

/* The default checkpoint path: OUT without ".safetensors", plus ".ckpt.safetensors". */
static void default_checkpoint(const char *out, char *buf, size_t n)
{
    size_t len = strlen(out), ext = strlen(".safetensors");
    if (len > ext && strcmp(out + len - ext, ".safetensors") == 0) len -= ext;
    snprintf(buf, n, "%.*s.ckpt.safetensors", (int)len, out);
}

static int on_iteration(void *ctx, const trl_train_metrics *m)
{
    train_log_iteration(ctx, m);
    return interrupted;
}

/* "sine, evidence, ..." */
static void task_names(char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < trl_task_count() && len < cap; i++) {
        trl_task_info ti;
        trl_task_get(i, &ti);
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", ti.name);
    }
}

/* Prints a failure of the training itself as "trellis train: ..." lines. */
static void print_train_errors(const trl_error *err)
{
    for (int i = 0; i < trl_error_count(err); i++) {
        const char *path = NULL;
        const char *msg = trl_error_at(err, i, &path, NULL, NULL);
        fprintf(stderr, "trellis train: %s%s%s\n", path, *path ? ": " : "", msg);
    }
    int more = trl_error_total(err) - trl_error_count(err);
    if (more > 0)
        fprintf(stderr, "trellis train: %d more error%s not shown\n", more, more == 1 ? "" : "s");
}

/* The batches: a task and its validation set, or data files (*train_data,
 * *val, freed by the caller). 0, or the exit status of the failure (printed). */
static int set_sources(const struct train_args *a, const trl_graph *g, trl_trainer *t,
                       trl_data **train_data, trl_data **val, trl_error *err)
{
    if (a->task) {
        if (trl_task_find(a->task) < 0) {
            char names[256];
            task_names(names, sizeof names);
            return cli_usage_error(&cmd_train, "unknown task \"%s\"; the tasks are %s", a->task,
                                   names);
        }
        return trl_trainer_set_task(t, a->task, a->val_batch, err) ? cli_fail(err) : 0;
    }
    if (trl_data_load(g, a->data, TRL_DATA_TARGET, train_data, err) != TRL_OK ||
        (a->val_data && trl_data_load(g, a->val_data, TRL_DATA_TARGET, val, err) != TRL_OK) ||
        trl_trainer_set_data(t, *train_data, *val, err) != TRL_OK)
        return cli_fail(err);
    return 0;
}

/* The starting point: a checkpoint, a parameter file, or the seed's init. */
static int init_params(const struct train_args *a, trl_trainer *t, trl_params *p, trl_error *err)
{
    trl_status s = a->resume ? trl_trainer_resume(t, a->resume, err)
                   : a->init ? trl_params_load(p, a->init, err)
                             : trl_params_init(p, a->seed, err);
    if (s != TRL_OK) return cli_fail(err);
    if (a->rule_opts.feedback != TRL_FEEDBACK_SYMMETRIC && !trl_params_feedback_count(p)) {
        fprintf(stderr,
                "%s: --feedback %s needs feedback matrices (n.fb.s) in --params and there are "
                "none; " CLI_FEEDBACK_HINT "\n",
                a->resume ? a->resume
                : a->init ? a->init
                          : a->graph,
                a->rule.feedback);
        return EXIT_INPUT;
    }
    return 0;
}

static trl_train_config config_of(const struct train_args *a, const char *checkpoint)
{
    trl_train_config cfg = TRL_TRAIN_CONFIG_INIT;
    trl_algo_parse(a->algo, &cfg.grad.algo, NULL); /* parse_args checked both */
    if (a->engine) trl_engine_parse(a->engine, &cfg.grad.engine, NULL);
    cfg.online = a->online;
    cfg.optimizer = strcmp(a->optimizer, "sgd") ? TRL_OPTIM_ADAM : TRL_OPTIM_SGD;
    cfg.lr = a->lr;
    cfg.momentum = a->momentum;
    cfg.clip = a->clip;
    cfg.iters = a->iters;
    cfg.batch = a->batch;
    cfg.seed = a->seed;
    cfg.rate_target_hz = a->rate_target;
    cfg.rate_weight = a->rate_weight;
    cfg.eval_every = a->eval_every;
    cfg.checkpoint_every = a->checkpoint_every;
    cfg.checkpoint_path = checkpoint;
    cfg.grad.order = a->rule_opts.order;
    cfg.grad.feedback = a->rule_opts.feedback;
    cfg.feedback_decay = a->decay;
    return cfg;
}

/* Trains and writes the parameters; the exit status. */
static int run_training(const struct train_args *a, const trl_train_config *cfg, trl_trainer *t,
                        const trl_params *p, struct train_log *log, trl_error *err)
{
    train_log_start(log, cfg, a->task ? a->task : a->data, trl_trainer_iteration(t));
    interrupted = 0;
    struct sigaction sa = {.sa_handler = on_sigint}, old;
    sigaction(SIGINT, &sa, &old);
    trl_status s = trl_trainer_run(t, on_iteration, log, err);
    sigaction(SIGINT, &old, NULL);
    train_log_end(log);
    if (s == TRL_STOPPED) {
        if (cfg->checkpoint_path) /* NULL on mpirun ranks other than 0 */
            fprintf(stderr, "\ninterrupted: checkpoint written to %s; continue with --resume %s\n",
                    cfg->checkpoint_path, cfg->checkpoint_path);
        return 130;
    }
    if (s != TRL_OK) {
        print_train_errors(err);
        if (cfg->checkpoint_path && access(cfg->checkpoint_path, F_OK) == 0)
            fprintf(stderr, "trellis train: the last good checkpoint is %s (--resume it)\n",
                    cfg->checkpoint_path);
        return EXIT_INPUT;
    }
    if (!a->out) return EXIT_OK; /* a rank other than 0 */
    if (trl_params_save(p, a->out, err) != TRL_OK) return cli_fail(err);
    if (!a->quiet) fprintf(stderr, "parameters written to %s\n", a->out);
    return EXIT_OK;
}

/* Under mpirun (tools/mpi.h): every rank checks that it reads what rank 0
 * reads and trains its shard of each batch; rank 0 alone prints, logs and
 * writes. */
static int join_ranks(struct train_args *a, const struct cli_mpi *mpi, trl_train_config *cfg)
{
    if (mpi->size <= 1) return 0;
    const char *files[] = {a->graph, a->data, a->val_data, a->init, a->resume};
    int rc = cli_mpi_same_files(mpi, "train", files, sizeof files / sizeof files[0]);
    if (rc) return rc;
    if (a->online)
        return cli_usage_error(&cmd_train, "--online updates the weights at every step of "
                                           "every sample: it cannot be split over mpirun ranks");
    if (a->batch < mpi->size)
        return cli_usage_error(&cmd_train, "--batch %d is smaller than the %d ranks", a->batch,
                               mpi->size);
    cfg->shard = mpi->rank;
    cfg->n_shards = mpi->size;
    cfg->reduce = cli_mpi_sum;
    if (mpi->rank == 0) return 0;
    a->quiet = true;
    a->log = NULL;
    a->out = NULL;
    cfg->checkpoint_path = NULL;
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
    struct cli_mpi mpi;
    cli_mpi_start(&mpi);
    char ckpt[1024];
    default_checkpoint(a.out, ckpt, sizeof ckpt);
    trl_train_config cfg = config_of(&a, a.checkpoint ? a.checkpoint : ckpt);
    if ((rc = join_ranks(&a, &mpi, &cfg))) return cli_mpi_end(&mpi, rc);
    trl_error *err = trl_error_new();
    trl_graph *g = err ? cli_graph(a.graph, err) : NULL;
    if (!g) {
        trl_error_free(err);
        return cli_mpi_end(&mpi, EXIT_INPUT);
    }
    if (!a.quiet && mpi.rank == 0) cli_cost_note(&cmd_train, g, &cfg.grad, a.online);
    int status = EXIT_INPUT;
    trl_params *p = NULL;
    trl_trainer *t = NULL;
    trl_data *train_data = NULL, *val = NULL;
    struct train_log *log = NULL;
    trl_graph_info gi;
    trl_graph_get_info(g, &gi);
    if (gi.loss_node < 0) {
        fprintf(stderr, "%s: /loss: the graph has no loss; add \"loss\" to train it\n", gi.file);
        goto done;
    }
    if (trl_params_new(g, &p, err) != TRL_OK || trl_trainer_new(g, p, &cfg, &t, err) != TRL_OK) {
        status = cli_fail(err);
        goto done;
    }
    if ((rc = set_sources(&a, g, t, &train_data, &val, err)) || (rc = init_params(&a, t, p, err))) {
        status = rc;
        goto done;
    }
    log = train_log_open(a.log, g, a.resume != NULL, a.quiet);
    if (log) status = run_training(&a, &cfg, t, p, log, err);
done:
    train_log_close(log);
    trl_trainer_free(t);
    trl_params_free(p);
    trl_data_free(train_data);
    trl_data_free(val);
    trl_graph_free(g);
    trl_error_free(err);
    return cli_mpi_end(&mpi, status);
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
        "  --order M              eprop: m-order e-prop (default 1; M >= T: exact)\n"
        "  --feedback MODE        symmetric (default), random (the n.fb.s matrices of\n"
        "                         --params, from init --feedback random) or adaptive\n"
        "                         (random, and each matrix follows its edge's updates)\n"
        "  --feedback-decay L     adaptive: fb <- fb + dW - L fb after each update (0)\n"
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
