/* fuzz_api.c - libFuzzer harness: the public API (trellis.h) driven by a
 * byte-coded sequence of calls. Each byte picks a call, the bytes after it
 * its arguments: graphs (the fixed ones), parameters (new, init, set with
 * values that may be NaN or of the wrong count), data (new, random, a task,
 * the caller's arrays with fuzzed shapes, values written through
 * trl_data_tensor), run, grad with fuzzed options (algorithm, engine, order,
 * feedback, threads, cotangents, input gradients), evaluate, a trainer
 * (fuzzed configuration, checkpoint, resume), a comparison, saving and
 * loading results. Handles of one graph are passed with another and NULL is
 * passed where a handle belongs: misuse must be an error, never a crash. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz/util.h"

#define MAX_B 3
#define MAX_T 6

struct prog {
    const uint8_t *p, *end;
};

static unsigned next(struct prog *pr)
{
    return pr->p < pr->end ? *pr->p++ : 0;
}

static double value_of(unsigned b)
{
    static const double v[] = {0, 1, -1, 0.5, 1e30, -1e-30, NAN, INFINITY, 3, -2.5};
    return v[b % (sizeof v / sizeof *v)];
}

struct state {
    trl_graph *g[8];
    int cur;           /* the graph calls are made with */
    trl_params *p;     /* made for some graph */
    trl_data *d;       /* made for some graph */
    trl_result *r;     /* the last run's or grad's */
    trl_real *wrapped; /* the arrays d borrows (trl_data_wrap) */
    trl_error *err;
    char ckpt[64], out[64];
};

static void drop_data(struct state *s)
{
    trl_data_free(s->d);
    s->d = NULL;
    free(s->wrapped);
    s->wrapped = NULL;
}

/* A handle or NULL, by a bit of the program. */
#define MAYBE(pr, x) ((next(pr) & 7) == 0 ? NULL : (x))

static const char *param_name(struct state *s, struct prog *pr)
{
    trl_param_info info;
    unsigned k = next(pr);
    if (k == 255) return "no.such.tensor";
    if (trl_graph_param(s->g[s->cur], (int)(k % 8), &info) != TRL_OK) return "";
    return info.name;
}

static void op_params(struct state *s, struct prog *pr, unsigned op)
{
    trl_error *err = s->err;
    if (op == 0) {
        trl_params_free(s->p);
        s->p = NULL;
        fuzz_check_error(trl_params_new(s->g[s->cur], &s->p, err), err);
    } else if (op == 1) {
        fuzz_check_error(trl_params_init(MAYBE(pr, s->p), next(pr), err), err);
    } else if (op == 2) {
        const char *name = param_name(s, pr);
        size_t count = next(pr) % 40;
        trl_real vals[40];
        for (size_t i = 0; i < count; i++) vals[i] = (trl_real)value_of(next(pr));
        fuzz_check_error(trl_params_set(MAYBE(pr, s->p), name, vals, count, err), err);
    } else {
        trl_tensor t;
        fuzz_check_error(trl_params_tensor(MAYBE(pr, s->p), param_name(s, pr), &t, err), err);
    }
}

/* Caller arrays of fuzzed shapes for trl_data_wrap: every input node, then
 * maybe a target and a mask. */
static void op_wrap(struct state *s, struct prog *pr)
{
    const trl_graph *g = s->g[s->cur];
    trl_graph_info info;
    trl_graph_get_info(g, &info);
    trl_tensor t[10];
    size_t at[10], total = 0;
    int n = 0;
    const int B = 1 + (int)next(pr) % MAX_B, T = 1 + (int)next(pr) % MAX_T;
    for (int i = 0; i < info.n_nodes && n < 8; i++) {
        trl_node_info ni;
        trl_graph_node(g, i, &ni);
        if (!ni.is_input) continue;
        unsigned wrong = next(pr);
        t[n] = (trl_tensor){.name = ni.id, .ndim = 3, .shape = {B, T, ni.size}};
        if (wrong % 11 == 1) t[n].shape[2] += 1;
        if (wrong % 11 == 2) t[n].shape[0] = 0;
        if (wrong % 11 == 3) t[n].ndim = 2;
        if (wrong % 11 == 4) t[n].name = "target_";
        n++;
    }
    unsigned extra = next(pr);
    if ((extra & 1) && info.loss_node >= 0) {
        trl_node_info ln;
        trl_graph_node(g, info.loss_node, &ln);
        t[n++] = (trl_tensor){.name = "target", .ndim = 3, .shape = {B, T, ln.size}};
    }
    if (extra & 2) t[n++] = (trl_tensor){.name = "mask", .ndim = 2, .shape = {B, T}};
    for (int k = 0; k < n; k++) {
        at[k] = total;
        size_t c = 1;
        for (int j = 0; j < t[k].ndim; j++) c *= (size_t)(t[k].shape[j] > 0 ? t[k].shape[j] : 0);
        total += c;
    }
    trl_real *block = calloc(total + 1, sizeof *block);
    if (!block) abort();
    for (size_t i = 0; i < total; i++) block[i] = (trl_real)value_of(next(pr) % 6);
    for (int k = 0; k < n; k++) t[k].data = block + at[k];
    drop_data(s);
    trl_status st = trl_data_wrap(g, t, n, &s->d, s->err);
    fuzz_check_error(st, s->err);
    if (st == TRL_OK)
        s->wrapped = block;
    else
        free(block);
}

static void op_data(struct state *s, struct prog *pr, unsigned op)
{
    trl_error *err = s->err;
    const trl_graph *g = s->g[s->cur];
    if (op == 0) {
        drop_data(s);
        int B = (int)next(pr) % (MAX_B + 1), T = (int)next(pr) % (MAX_T + 1);
        fuzz_check_error(trl_data_new(g, B, T, &s->d, err), err);
    } else if (op == 1) {
        drop_data(s);
        static const char *const spiking[] = {NULL, "in", "a,b", "x", "nope", ",", ""};
        trl_random_data o = {.B = (int)next(pr) % (MAX_B + 1),
                             .T = (int)next(pr) % (MAX_T + 1),
                             .seed = next(pr),
                             .rate_hz = value_of(next(pr)),
                             .spiking = spiking[next(pr) % 7]};
        fuzz_check_error(trl_data_random(g, &o, &s->d, err), err);
    } else if (op == 2) {
        drop_data(s);
        static const char *const tasks[] = {"sine", "evidence", "delayed_xor", "store_recall", ""};
        fuzz_check_error(trl_data_task(g, tasks[next(pr) % 5], next(pr), next(pr) & 1, next(pr),
                                       1 + (int)next(pr) % MAX_B, &s->d, err),
                         err);
    } else if (op == 3) {
        op_wrap(s, pr);
    } else {
        static const char *const names[] = {"in", "a", "b", "x", "target", "mask", "loss"};
        trl_tensor t;
        trl_status st = trl_data_tensor(MAYBE(pr, s->d), names[next(pr) % 7], &t, err);
        fuzz_check_error(st, err);
        if (st != TRL_OK) return;
        size_t count = 1;
        for (int j = 0; j < t.ndim; j++) count *= (size_t)t.shape[j];
        t.data[next(pr) % count] = (trl_real)value_of(next(pr));
    }
}

static void op_grad(struct state *s, struct prog *pr)
{
    trl_grad_opts o = TRL_GRAD_OPTS_INIT;
    o.algo = (trl_algo)(next(pr) % 4);
    o.engine = (trl_engine)(next(pr) % 4);
    o.threads = (int)next(pr) % 3;
    o.order = (int)next(pr) % 4;
    o.feedback = (trl_feedback)(next(pr) % 4);
    o.input_grads = (int)next(pr) % 2;
    trl_tensor cot[4];
    unsigned c = next(pr);
    if (c % 3 == 1 && s->r) { /* the last result's tensors as cotangents */
        o.n_cotangent = trl_result_count(s->r) < 4 ? trl_result_count(s->r) : 4;
        for (int i = 0; i < o.n_cotangent; i++) trl_result_tensor(s->r, i, &cot[i]);
        o.cotangent = cot;
    } else if (c % 3 == 2) {
        o.n_cotangent = 1;
        cot[0] = (trl_tensor){.name = "out", .ndim = 3, .shape = {1, 1, 2}, .data = NULL};
        o.cotangent = cot;
    }
    fuzz_check_error(trl_grad_check(&o, s->err), s->err);
    trl_result *r = NULL;
    trl_status st = trl_grad(MAYBE(pr, s->g[s->cur]), s->p, s->d, &o, &r, s->err);
    fuzz_check_error(st, s->err);
    if (r) {
        trl_result_free(s->r);
        s->r = r;
    }
}

static int stop_after(void *ctx, const trl_train_metrics *m)
{
    return m->iter + 1 >= *(long *)ctx;
}

static void op_train(struct state *s, struct prog *pr)
{
    trl_train_config cfg = TRL_TRAIN_CONFIG_INIT;
    cfg.grad.algo = (trl_algo)(next(pr) % 3);
    cfg.online = (int)next(pr) % 2;
    cfg.optimizer = (trl_optimizer)(next(pr) % 3);
    cfg.lr = value_of(next(pr));
    cfg.clip = value_of(next(pr));
    cfg.iters = (long)(next(pr) % 4);
    cfg.batch = (int)next(pr) % (MAX_B + 1);
    cfg.rate_weight = next(pr) & 1 ? 0.1 : 0;
    cfg.eval_every = (long)(next(pr) % 3);
    cfg.checkpoint_every = (long)(next(pr) % 3);
    cfg.checkpoint_path = next(pr) & 1 ? s->ckpt : NULL;
    trl_trainer *t = NULL;
    trl_error *err = s->err;
    fuzz_check_error(trl_trainer_new(s->g[s->cur], s->p, &cfg, &t, err), err);
    if (!t) return;
    unsigned how = next(pr);
    if (how & 1)
        fuzz_check_error(trl_trainer_set_data(t, s->d, how & 2 ? s->d : NULL, err), err);
    else
        fuzz_check_error(trl_trainer_set_task(t, "sine", 1, err), err);
    if (how & 4) fuzz_check_error(trl_trainer_resume(t, s->ckpt, err), err);
    long stop = (long)(next(pr) % 4);
    fuzz_check_error(trl_trainer_run(t, how & 8 ? stop_after : NULL, &stop, err), err);
    if (how & 16) fuzz_check_error(trl_trainer_checkpoint(t, s->ckpt, err), err);
    trl_trainer_free(t);
}

static void op_other(struct state *s, struct prog *pr, unsigned op)
{
    trl_error *err = s->err;
    const trl_graph *g = MAYBE(pr, s->g[s->cur]);
    trl_result *r = NULL;
    if (op == 0) {
        fuzz_check_error(trl_run(g, s->p, s->d, &r, err), err);
    } else if (op == 1) {
        trl_eval ev;
        fuzz_check_error(trl_evaluate(g, s->p, s->d, &ev, err), err);
    } else if (op == 2) {
        trl_grad_opts algos[3] = {TRL_GRAD_OPTS_INIT, TRL_GRAD_OPTS_INIT, TRL_GRAD_OPTS_INIT};
        int n = (int)next(pr) % 4;
        for (int i = 0; i < n; i++) {
            algos[i].algo = (trl_algo)(next(pr) % 3);
            algos[i].engine = (trl_engine)(next(pr) % 3);
        }
        trl_compare *c = NULL;
        fuzz_check_error(trl_compare_new(g, s->p, s->d, algos, n, &c, err), err);
        for (int k = 0; c && k < 4; k++)
            for (int i = 0; i < trl_compare_count(c, (trl_compare_group)k); i++)
                if (!trl_compare_item_at(c, (trl_compare_group)k, i)) abort();
        trl_compare_free(c);
    } else if (op == 3 && s->r) {
        fuzz_check_error(trl_result_save(s->r, s->out, err), err);
        fuzz_check_error(trl_result_load(s->out, &r, err), err);
    } else if (op == 4) {
        if (s->p) fuzz_check_error(trl_params_save(s->p, s->out, err), err);
        if (s->p) fuzz_check_error(trl_params_load(s->p, s->out, err), err);
    } else if (op == 5 && s->d) {
        fuzz_check_error(trl_data_save(s->d, s->out, err), err);
    }
    if (r) {
        trl_result_free(s->r);
        s->r = r;
    }
}

static struct state st;

static void setup(void)
{
    trl_set_threads(1);
    for (int i = 0; i < fuzz_n_graphs; i++) st.g[i] = fuzz_graph(fuzz_graphs[i]);
    st.err = trl_error_new();
    snprintf(st.ckpt, sizeof st.ckpt, "/dev/shm/trellis-fuzz-%d.ckpt", (int)getpid());
    snprintf(st.out, sizeof st.out, "/dev/shm/trellis-fuzz-%d.out", (int)getpid());
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!st.err) setup();
    struct prog pr = {data, data + size};
    unlink(st.ckpt);
    for (int steps = 0; pr.p < pr.end && steps < 24; steps++) {
        unsigned op = next(&pr);
        switch (op % 6) {
        case 0:
            st.cur = (int)(op / 6) % fuzz_n_graphs;
            break;
        case 1:
            op_params(&st, &pr, op / 6 % 4);
            break;
        case 2:
            op_data(&st, &pr, op / 6 % 5);
            break;
        case 3:
            op_grad(&st, &pr);
            break;
        case 4:
            op_train(&st, &pr);
            break;
        default:
            op_other(&st, &pr, op / 6 % 6);
        }
    }
    trl_result_free(st.r);
    trl_params_free(st.p);
    drop_data(&st);
    st.r = NULL;
    st.p = NULL;
    unlink(st.ckpt);
    unlink(st.out);
    return 0;
}
