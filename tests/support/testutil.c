/* testutil.c - see testutil.h. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include "tests/support/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

const char *const tu_fixture_names[6] = {"lif_eprop", "alif_adaptation", "deep_leaky3",
                                         "dag_skip",  "rnn_tanh",        "ce_masked"};

struct graph *tu_graph(const char *json)
{
    struct trl_errors err;
    struct graph *g = graph_load_string(json, strlen(json), "test.json", &err);
    if (!g) trl_errors_print(&err, stderr);
    return g;
}

double tu_rel_err(const trl_real *a, const trl_real *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return sqrt(num) / fmax(sqrt(den), 1e-12);
}

static void print_mismatch(const char *label, const char *name, const trl_real *a,
                           const trl_real *b, size_t n, double err)
{
    double max_diff = 0;
    fprintf(stderr, "%s: %s: relative error %.3g\n", label, name, err);
    for (size_t i = 0, shown = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > max_diff) max_diff = d;
        if (d > 0 && shown < 5) {
            fprintf(stderr, "  [%zu] %.17g vs %.17g\n", i, (double)a[i], (double)b[i]);
            shown++;
        }
    }
    fprintf(stderr, "  max abs diff %.3g\n", max_diff);
}

int tu_compare_grads(const struct graph *g, const trl_real *a, const trl_real *b, double tol,
                     const char *label)
{
    int bad = 0;
    for (int p = 0; p < g->n_params; p++) {
        const struct graph_param *q = &g->params[p];
        if (!q->trainable) continue;
        double err = tu_rel_err(a + q->offset, b + q->offset, q->count);
        if (!(err <= tol)) {
            print_mismatch(label, q->name, a + q->offset, b + q->offset, q->count, err);
            bad++;
        }
    }
    return bad;
}

int tu_compare_grad_file(const struct graph *g, const trl_real *grad, double loss, const char *path,
                         double tol, double loss_tol, const char *label)
{
    struct trl_errors err;
    trl_errors_init(&err, path);
    struct st_file *f = st_open(path, &err);
    if (!f) {
        trl_errors_print(&err, stderr);
        return 1;
    }
    int bad = 0, expected_keys = 1;
    for (int p = 0; p < g->n_params; p++) {
        const struct graph_param *q = &g->params[p];
        const struct st_tensor *t = st_find(f, q->name);
        if (!q->trainable) {
            if (t) fprintf(stderr, "%s: %s: frozen tensor in the expected file\n", label, q->name);
            bad += t != NULL;
            continue;
        }
        expected_keys++;
        if (!t || t->count != q->count) {
            fprintf(stderr, "%s: %s: missing or wrong size in %s\n", label, q->name, path);
            bad++;
            continue;
        }
        trl_real *want = trl_alloc(t->count, sizeof *want, TRL_MEM_MISC);
        st_read_real(t, want);
        double e = tu_rel_err(grad + q->offset, want, q->count);
        if (!(e <= tol)) {
            print_mismatch(label, q->name, grad + q->offset, want, q->count, e);
            bad++;
        }
        trl_free(want);
    }
    const struct st_tensor *lt = st_find(f, "loss");
    trl_real want_loss = 0;
    if (!lt || lt->count != 1) {
        bad++;
    } else {
        st_read_real(lt, &want_loss);
        if (!(fabs(loss - want_loss) <= loss_tol * fabs((double)want_loss))) {
            fprintf(stderr, "%s: loss %.17g vs %.17g\n", label, loss, (double)want_loss);
            bad++;
        }
    }
    if (f->n != expected_keys) {
        fprintf(stderr, "%s: %s has %d keys, expected %d\n", label, path, f->n, expected_keys);
        bad++;
    }
    st_close(f);
    return bad;
}

const char *tu_fixture(const char *name, const char *file)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "tests/fixtures/%s/%s", name, file);
    return buf;
}

static char tmp_dir[256];

int tu_tmp_init(const char *name)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/trellis-test-%s-XXXXXX", name);
    return mkdtemp(tmp_dir) ? 0 : -1;
}

const char *tu_tmp(const char *file)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp_dir, file);
    return buf[k];
}

const char *tu_tmp_dir(void)
{
    return tmp_dir;
}

int tu_tmp_remove(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp_dir);
    return system(cmd) == 0 ? 0 : -1;
}

int tu_run_suite(Suite *s, bool fork)
{
    SRunner *sr = srunner_create(s);
    if (!fork) srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_ENV); /* CK_VERBOSITY, normal when unset */
    const int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed;
}
