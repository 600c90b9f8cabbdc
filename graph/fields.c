/* fields.c - reading the typed members of a JSON object, with one error per
 * wrong member that says what the member must be and what the file has, and
 * the check that an object holds no key outside a known set ("did you mean"
 * for a typo). Shared by every part of the graph file.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "graph/loader.h"
#include "core/suggest.h"

#define FIELD_TEXT_MAX 512

static bool field_known(const char *key, const char *const *known, int n_known)
{
    for (int i = 0; i < n_known; i++)
        if (strcmp(key, known[i]) == 0) return true;
    return false;
}

/* In file order; the message lists the known keys: "(node keys: id, op, ...)". */
void field_check_keys(struct graph_loader *ld, const json_t *obj, const char *path,
                      const struct field_keys *keys)
{
    const char *const *known = keys->names;
    int n_known = keys->n;
    const char *key;
    const json_t *v;
    char list[FIELD_TEXT_MAX], q[FIELD_TEXT_MAX], kpath[GRAPH_PATH_MAX], sq[FIELD_TEXT_MAX];
    jtext_join(list, sizeof list, known, n_known);
    json_object_foreach((json_t *)obj, key, v)
    {
        if (field_known(key, known, n_known)) continue;
        jtext_path_key(kpath, path, key);
        jtext_quote(q, sizeof q, key);
        const char *s = suggest_closest(key, known, n_known);
        if (s) {
            jtext_quote(sq, sizeof sq, s);
            trl_errors_add(ld->err, kpath, "unknown key %s; did you mean %s? (%s: %s)", q, sq,
                           keys->owner, list);
        } else {
            trl_errors_add(ld->err, kpath, "unknown key %s; remove it (%s: %s)", q, keys->owner,
                           list);
        }
    }
}

/* "unknown op "lfi"; did you mean "lif"? (expected one of: ...)". */
void field_unknown_name(struct graph_loader *ld, const char *path, const char *what, const char *s,
                        const char *const *options, int n)
{
    char list[FIELD_TEXT_MAX], q[FIELD_TEXT_MAX], sq[FIELD_TEXT_MAX];
    jtext_join(list, sizeof list, options, n);
    jtext_quote(q, sizeof q, s);
    const char *best = suggest_closest(s, options, n);
    if (best) {
        jtext_quote(sq, sizeof sq, best);
        trl_errors_add(ld->err, path, "unknown %s %s; did you mean %s? (expected one of: %s)", what,
                       q, sq, list);
    } else {
        trl_errors_add(ld->err, path, "unknown %s %s; expected one of: %s", what, q, list);
    }
}

bool field_typo_for(const json_t *obj, const struct field_keys *keys, const char *key)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (field_known(k, keys->names, keys->n)) continue;
        const char *s = suggest_closest(k, keys->names, keys->n);
        if (s && strcmp(s, key) == 0) return true;
    }
    return false;
}

/* `fix` says what to add. */
void field_missing(struct graph_loader *ld, const json_t *obj, const struct field_keys *keys,
                   const char *path, const char *key, const char *fix)
{
    if (field_typo_for(obj, keys, key)) return;
    if (path[0])
        trl_errors_add(ld->err, path, "missing \"%s\"; %s", key, fix);
    else
        trl_errors_add(ld->err, NULL, "missing \"%s\" at the top level; %s", key, fix);
}

/* The member key of obj and its path, or NULL when absent. */
static const json_t *field_get(const json_t *obj, const char *path, const char *key,
                               char kpath[GRAPH_PATH_MAX])
{
    jtext_path_key(kpath, path, key);
    return json_object_get(obj, key);
}

static void field_wrong(struct graph_loader *ld, const char *kpath, const char *key,
                        const char *must, const json_t *v)
{
    char got[FIELD_TEXT_MAX];
    jtext_describe(got, sizeof got, v);
    trl_errors_add(ld->err, kpath, "%s must be %s (got %s)", key, must, got);
}

int field_int(struct graph_loader *ld, const json_t *obj, const char *path, const char *key,
              long long lo, long long hi, long long *out)
{
    char kpath[GRAPH_PATH_MAX];
    const json_t *v = field_get(obj, path, key, kpath);
    if (!v) return 0;
    if (json_is_real(v)) {
        double x = json_real_value(v);
        char got[64];
        jtext_real(got, sizeof got, x);
        if (x == floor(x) && x >= (double)lo && x <= (double)hi)
            trl_errors_add(ld->err, kpath, "%s must be an integer (got %s); write %.0f", key, got,
                           x);
        else
            trl_errors_add(ld->err, kpath, "%s must be an integer between %lld and %lld (got %s)",
                           key, lo, hi, got);
        return -1;
    }
    if (!json_is_integer(v)) {
        field_wrong(ld, kpath, key, "an integer", v);
        return -1;
    }
    long long x = (long long)json_integer_value(v);
    if (x < lo || x > hi) {
        trl_errors_add(ld->err, kpath, "%s must be between %lld and %lld (got %lld)", key, lo, hi,
                       x);
        return -1;
    }
    *out = x;
    return 1;
}

int field_bool(struct graph_loader *ld, const json_t *obj, const char *path, const char *key,
               bool *out)
{
    char kpath[GRAPH_PATH_MAX];
    const json_t *v = field_get(obj, path, key, kpath);
    if (!v) return 0;
    if (!json_is_boolean(v)) {
        field_wrong(ld, kpath, key, "true or false", v);
        return -1;
    }
    *out = json_is_true(v);
    return 1;
}

int field_number(struct graph_loader *ld, const json_t *obj, const char *path, const char *key,
                 double *out)
{
    char kpath[GRAPH_PATH_MAX];
    const json_t *v = field_get(obj, path, key, kpath);
    if (!v) return 0;
    if (!json_is_number(v)) {
        field_wrong(ld, kpath, key, "a number", v);
        return -1;
    }
    double x = json_number_value(v);
    if (!isfinite(x)) {
        field_wrong(ld, kpath, key, "a finite number", v);
        return -1;
    }
    *out = x;
    return 1;
}

int field_string(struct graph_loader *ld, const json_t *obj, const char *path, const char *key,
                 const char **out)
{
    char kpath[GRAPH_PATH_MAX];
    const json_t *v = field_get(obj, path, key, kpath);
    if (!v) return 0;
    if (!json_is_string(v)) {
        field_wrong(ld, kpath, key, "a string", v);
        return -1;
    }
    *out = json_string_value(v);
    return 1;
}
