/* fuzz_safetensors.c - libFuzzer harness: bytes -> safetensors reader (SPEC
 * section 4). Each input is read three ways: from memory (st_open_buffer),
 * from a file in whole (trl_result_load, the public reader) and streamed
 * (st_open_stream, then every tensor read in ranges). An accepted file must
 * be readable to its last byte; a refused one must say why. */
#include <stdlib.h>

#include "core/alloc.h"
#include "fuzz/util.h"
#include "io/safetensors.h"

/* Reads every value of every tensor, in pieces of a few values. */
static void read_all(const struct st_file *f)
{
    trl_real buf[7];
    struct trl_errors err;
    trl_errors_init(&err, "");
    for (int i = 0; i < f->n; i++) {
        const struct st_tensor *t = &f->tensors[i];
        if (st_find(f, t->name) == NULL) abort();
        for (size_t first = 0; first < t->count; first += 7) {
            size_t n = t->count - first < 7 ? t->count - first : 7;
            if (st_read_range(f, t, first, n, buf, &err)) abort();
        }
    }
    for (int i = 0; i < f->n_meta; i++)
        if (!st_meta(f, f->meta[2 * i])) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct trl_errors e;
    struct st_file *f = st_open_buffer(data, size, "fuzz.safetensors", &e);
    if (!f && e.n_total == 0) abort();
    if (f) {
        read_all(f);
        for (int i = 0; i < f->n; i++) {
            trl_real *v = trl_alloc(f->tensors[i].count + 1, sizeof *v, TRL_MEM_MISC);
            if (!v) abort();
            (void)st_read_real(&f->tensors[i], v);
            trl_free(v);
        }
    }
    const char *path = fuzz_file(data, size);
    struct st_file *s = st_open_stream(path, &e);
    if ((s == NULL) != (f == NULL)) abort(); /* the same checks on the same bytes */
    if (s) read_all(s);
    st_close(s);
    st_close(f);

    trl_error *err = trl_error_new();
    trl_result *r = NULL;
    trl_status st = trl_result_load(path, &r, err);
    fuzz_check_error(st, err);
    for (int i = 0; r && i < trl_result_count(r); i++) {
        trl_tensor t;
        if (trl_result_tensor(r, i, &t) != TRL_OK) abort();
    }
    trl_result_free(r);
    trl_error_free(err);
    return 0;
}
