/* train_log.c - see train_log.h. */
#include "tools/train_log.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct train_log {
    const trl_graph *g;
    FILE *file;
    bool csv, tty, quiet, line_open;
    double last_draw;
    long every; /* plain output: a line every this many iterations */
};

struct train_log *train_log_open(const char *path, const trl_graph *g, bool append, bool quiet)
{
    struct train_log *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->g = g;
    l->tty = isatty(STDOUT_FILENO);
    l->quiet = quiet;
    l->last_draw = -1;
    if (!path) return l;
    size_t n = strlen(path);
    l->csv = n > 4 && strcmp(path + n - 4, ".csv") == 0;
    bool fresh = !append || access(path, F_OK) != 0;
    l->file = fopen(path, fresh ? "w" : "a");
    if (!l->file) {
        fprintf(stderr, "%s: cannot write the log: %s\n", path, strerror(errno));
        free(l);
        return NULL;
    }
    setvbuf(l->file, NULL, _IOLBF, 0);
    if (l->csv && fresh) {
        fprintf(
            l->file,
            "iter,loss,reg_loss,accuracy,nmse,grad_norm,val_loss,val_accuracy,val_nmse,seconds");
        trl_graph_info gi;
        trl_graph_get_info(g, &gi);
        for (int p = 0; p < gi.n_params; p++) {
            trl_param_info pi;
            trl_graph_param(g, p, &pi);
            if (pi.trainable) fprintf(l->file, ",gnorm.%s", pi.name);
        }
        for (int i = 0; i < gi.n_nodes; i++) {
            trl_node_info ni;
            trl_graph_node(g, i, &ni);
            if (ni.spiking) fprintf(l->file, ",rate.%s", ni.id);
        }
        fprintf(l->file, "\n");
    }
    return l;
}

void train_log_start(struct train_log *l, const trl_train_config *cfg, const char *source,
                     long start)
{
    l->every = cfg->iters / 20 > 0 ? cfg->iters / 20 : 1;
    if (l->quiet) return;
    trl_graph_info gi;
    trl_graph_get_info(l->g, &gi);
    const trl_grad_opts *o = &cfg->grad;
    printf("training %s on %s: %s%s%s, %s lr %g, batch %d, %ld iterations%s (%s)\n", gi.file,
           source, trl_algo_name(o->algo),
           o->algo == TRL_ALGO_EPROP && o->engine == TRL_ENGINE_REVERSE ? " (reverse engine)" : "",
           cfg->online ? ", online updates" : "", cfg->optimizer == TRL_OPTIM_ADAM ? "adam" : "sgd",
           cfg->lr, cfg->batch, cfg->iters, start ? " (resumed)" : "", trl_precision());
    if (start) printf("resuming at iteration %ld\n", start + 1);
    fflush(stdout);
}

static void csv_value(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, ",%.9g", v);
    else
        fprintf(f, ",");
}

static void json_value(FILE *f, const char *key, double v, bool comma)
{
    fprintf(f, "%s\"%s\": ", comma ? ", " : "", key);
    if (isfinite(v))
        fprintf(f, "%.9g", v);
    else
        fprintf(f, "null");
}

static void write_record(struct train_log *l, const trl_train_metrics *m)
{
    FILE *f = l->file;
    trl_graph_info gi;
    trl_graph_get_info(l->g, &gi);
    double vl = m->evaluated ? m->val_loss : NAN, va = m->evaluated ? m->val_accuracy : NAN;
    double vn = m->evaluated ? m->val_nmse : NAN;
    if (l->csv) {
        fprintf(f, "%ld", m->iter + 1);
        const double v[] = {m->loss, m->reg_loss, m->accuracy, m->nmse,   m->grad_norm,
                            vl,      va,          vn,          m->seconds};
        for (int k = 0; k < 9; k++) csv_value(f, v[k]);
        for (int p = 0; p < gi.n_params; p++) {
            trl_param_info pi;
            trl_graph_param(l->g, p, &pi);
            if (pi.trainable) csv_value(f, m->tensor_norm[p]);
        }
        for (int i = 0; i < gi.n_nodes; i++) {
            trl_node_info ni;
            trl_graph_node(l->g, i, &ni);
            if (ni.spiking) csv_value(f, m->rate_hz[i]);
        }
        fprintf(f, "\n");
        return;
    }
    fprintf(f, "{\"iter\": %ld", m->iter + 1);
    json_value(f, "loss", m->loss, true);
    json_value(f, "reg_loss", m->reg_loss, true);
    json_value(f, "accuracy", m->accuracy, true);
    json_value(f, "nmse", m->nmse, true);
    json_value(f, "grad_norm", m->grad_norm, true);
    json_value(f, "val_loss", vl, true);
    json_value(f, "val_accuracy", va, true);
    json_value(f, "val_nmse", vn, true);
    json_value(f, "seconds", m->seconds, true);
    fprintf(f, ", \"gnorm\": {");
    for (int p = 0, first = 1; p < gi.n_params; p++) {
        trl_param_info pi;
        trl_graph_param(l->g, p, &pi);
        if (pi.trainable) {
            json_value(f, pi.name, m->tensor_norm[p], !first);
            first = 0;
        }
    }
    fprintf(f, "}, \"rate_hz\": {");
    for (int i = 0, first = 1; i < gi.n_nodes; i++) {
        trl_node_info ni;
        trl_graph_node(l->g, i, &ni);
        if (ni.spiking) {
            json_value(f, ni.id, m->rate_hz[i], !first);
            first = 0;
        }
    }
    fprintf(f, "}}\n");
}

static void format_duration(double s, char *buf, size_t n)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, n, "?");
    else if (s < 60)
        snprintf(buf, n, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

/* "it 120/1000  loss 0.5121  acc 87.5%  val 0.48 / 85.0%  12.3 it/s  ETA 1m12s" */
static void progress_text(const trl_train_metrics *m, long done_this_run, char *buf, size_t n)
{
    char eta[32], acc[32] = "", val[64] = "";
    double rate = m->seconds > 0 ? done_this_run / m->seconds : 0;
    format_duration(rate > 0 ? (m->iters - m->iter - 1) / rate : NAN, eta, sizeof eta);
    if (isfinite(m->accuracy)) snprintf(acc, sizeof acc, "  acc %5.1f%%", 100 * m->accuracy);
    if (isfinite(m->nmse)) snprintf(acc, sizeof acc, "  nmse %.3g", m->nmse);
    if (m->evaluated && isfinite(m->val_accuracy))
        snprintf(val, sizeof val, "  val %.4g / %.1f%%", m->val_loss, 100 * m->val_accuracy);
    else if (m->evaluated && isfinite(m->val_nmse))
        snprintf(val, sizeof val, "  val %.4g / nmse %.3g", m->val_loss, m->val_nmse);
    else if (m->evaluated)
        snprintf(val, sizeof val, "  val %.4g", m->val_loss);
    snprintf(buf, n, "it %ld/%ld  loss %.4g%s%s  %.3g it/s  ETA %s", m->iter + 1, m->iters, m->loss,
             acc, val, rate, eta);
}

void train_log_iteration(struct train_log *l, const trl_train_metrics *m)
{
    static long first_iter = -1;
    if (first_iter < 0) first_iter = m->iter;
    if (l->file) write_record(l, m);
    if (l->quiet) return;
    char text[256];
    progress_text(m, m->iter - first_iter + 1, text, sizeof text);
    bool last = m->iter + 1 == m->iters;
    if (l->tty) {
        if (m->evaluated || last || m->seconds - l->last_draw > 0.1) {
            printf("\r\033[K%s", text);
            l->line_open = true;
            l->last_draw = m->seconds;
            if (m->evaluated) { /* keep evaluation lines on screen */
                printf("\n");
                l->line_open = false;
            }
        }
    } else if (m->evaluated || last || (m->iter + 1) % l->every == 0) {
        printf("%s\n", text);
    }
    fflush(stdout);
}

void train_log_end(struct train_log *l)
{
    if (l && l->line_open) printf("\n");
    if (l) l->line_open = false;
}

void train_log_close(struct train_log *l)
{
    if (!l) return;
    if (l->file) fclose(l->file);
    free(l);
}
