/* node_params.c - a node's "params" object, parsed through its kind's table
 * of struct op_param_desc (ops/op.h): every key must be in the table, each
 * value has the table's type (a number, true/false, or an activation name)
 * and bound, and a key left out takes the table's default. The loader never
 * names a kind or a parameter: a new kind brings its own table.
 */
#include <stdio.h>
#include <string.h>

#include "graph/loader.h"
#include "ops/activation.h"

#define NODE_PARAMS_MAX 32 /* keys in one kind's table (ops have at most 6) */

static void node_params_default(const struct op_kind *op, void *out)
{
    for (int k = 0; k < op->n_param_desc; k++) {
        const struct op_param_desc *d = &op->param_desc[k];
        char *at = (char *)out + d->offset;
        if (d->type == OP_PARAM_REAL) {
            memcpy(at, &d->def, sizeof d->def);
        } else if (d->type == OP_PARAM_BOOL) {
            bool b = d->def != 0;
            memcpy(at, &b, sizeof b);
        } else {
            int a = (int)d->def;
            memcpy(at, &a, sizeof a);
        }
    }
}

/* A number within the descriptor's bound. */
static int node_params_real(struct graph_loader *ld, const struct op_param_desc *d,
                            const json_t *params, const char *ppath, char *at)
{
    double x = 0;
    if (field_number(ld, params, ppath, d->name, &x) != 1) return -1;
    const char *need = NULL;
    if (d->bound == OP_BOUND_POSITIVE && !(x > 0)) need = "> 0";
    if (d->bound == OP_BOUND_NONNEG && !(x >= 0)) need = ">= 0";
    if (need) {
        char kpath[GRAPH_PATH_MAX], got[64];
        jtext_path_key(kpath, ppath, d->name);
        jtext_describe(got, sizeof got, json_object_get(params, d->name));
        trl_errors_add(ld->err, kpath, "%s must be %s (got %s)", d->name, need, got);
        return -1;
    }
    memcpy(at, &x, sizeof x);
    return 0;
}

static int node_params_activation(struct graph_loader *ld, const struct op_param_desc *d,
                                  const json_t *params, const char *ppath, char *at)
{
    const char *s = NULL;
    if (field_string(ld, params, ppath, d->name, &s) != 1) return -1;
    int a = activation_find(s);
    if (a < 0) {
        char kpath[GRAPH_PATH_MAX];
        jtext_path_key(kpath, ppath, d->name);
        field_unknown_name(ld, kpath, d->name, s, activation_names, ACT_COUNT);
        return -1;
    }
    memcpy(at, &a, sizeof a);
    return 0;
}

static int node_params_one(struct graph_loader *ld, const struct op_param_desc *d,
                           const json_t *params, const char *ppath, void *out)
{
    char *at = (char *)out + d->offset;
    bool b = false;
    switch (d->type) {
    case OP_PARAM_REAL:
        return node_params_real(ld, d, params, ppath, at);
    case OP_PARAM_BOOL:
        if (field_bool(ld, params, ppath, d->name, &b) != 1) return -1;
        memcpy(at, &b, sizeof b);
        return 0;
    default:
        return node_params_activation(ld, d, params, ppath, at);
    }
}

/* Unknown keys: against the table, or every key when the kind has none. */
static void node_params_keys(struct graph_loader *ld, const struct op_kind *op,
                             const json_t *params, const char *ppath)
{
    char kpath[GRAPH_PATH_MAX], q[128], owner[64];
    const char *key;
    const json_t *v;
    if (op->n_param_desc == 0) {
        json_object_foreach((json_t *)params, key, v)
        {
            jtext_path_key(kpath, ppath, key);
            jtext_quote(q, sizeof q, key);
            trl_errors_add(ld->err, kpath,
                           "unknown key %s; remove it (a node of kind %s takes no params)", q,
                           op->name);
        }
        return;
    }
    const char *names[NODE_PARAMS_MAX];
    int n = op->n_param_desc < NODE_PARAMS_MAX ? op->n_param_desc : NODE_PARAMS_MAX;
    for (int k = 0; k < n; k++) names[k] = op->param_desc[k].name;
    snprintf(owner, sizeof owner, "%s params", op->name);
    struct field_keys keys = {owner, names, n};
    field_check_keys(ld, params, ppath, &keys);
}

int node_params_parse(struct graph_loader *ld, const struct op_kind *op, const json_t *params,
                      const char *node_path, void *out)
{
    if (out) node_params_default(op, out);
    if (!params) return 0;
    char ppath[GRAPH_PATH_MAX];
    jtext_path_key(ppath, node_path, "params");
    node_params_keys(ld, op, params, ppath);
    int status = 0;
    for (int k = 0; k < op->n_param_desc; k++) {
        const struct op_param_desc *d = &op->param_desc[k];
        if (json_object_get(params, d->name) && node_params_one(ld, d, params, ppath, out) < 0)
            status = -1;
    }
    return status;
}
