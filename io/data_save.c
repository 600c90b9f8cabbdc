/* data_save.c - writes a data set in the data file format of SPEC section 4,
 * the inverse of data_load: one tensor per input node, [B, T, size], named
 * by the node's id (file order), then "target" [B, T, K] and "mask" [B, T]
 * when the data hold them (K: data_target_size). Written atomically by
 * st_write, in the binary's precision. */
#include "io/data.h"

#include "core/alloc.h"
#include "io/safetensors.h"

static void set_out(struct st_out *o, const char *name, int B, int T, int size, const trl_real *v)
{
    o->name = name;
    o->ndim = size > 0 ? 3 : 2;
    o->shape[0] = B;
    o->shape[1] = T;
    o->shape[2] = size;
    o->data = v;
}

int data_save(const struct graph *g, const struct data *d, const char *path, struct trl_errors *err)
{
    struct st_out *out = trl_alloc((size_t)g->n_nodes + 2, sizeof *out, TRL_MEM_MISC);
    if (!out) {
        trl_errors_add(err, NULL, "out of memory");
        return -1;
    }
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!g->nodes[i].op->is_input) continue;
        if (!d->x[i]) {
            trl_errors_add(err, g->nodes[i].id, "no data for input node \"%s\"", g->nodes[i].id);
            trl_free(out);
            return -1;
        }
        set_out(&out[n++], g->nodes[i].id, d->B, d->T, g->nodes[i].size, d->x[i]);
    }
    const int K = data_target_size(g, d);
    if (K && d->target) set_out(&out[n++], "target", d->B, d->T, K, d->target);
    if (K && d->mask) set_out(&out[n++], "mask", d->B, d->T, 0, d->mask);
    int rc = st_write(path, out, n, NULL, err);
    trl_free(out);
    return rc;
}
