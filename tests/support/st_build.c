/* st_build.c - see st_build.h. */
#include "tests/support/st_build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned char *stb_raw(uint64_t len_field, const void *header, size_t header_len, const void *data,
                       size_t data_len, size_t *size)
{
    size_t total = 8 + header_len + data_len;
    unsigned char *b = calloc(total ? total : 1, 1);
    if (!b) return NULL;
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(len_field >> (8 * i));
    if (header_len) memcpy(b + 8, header, header_len);
    if (data && data_len) memcpy(b + 8 + header_len, data, data_len);
    *size = total;
    return b;
}

unsigned char *stb_bytes(const char *header, size_t data_len, size_t *size)
{
    size_t n = strlen(header);
    return stb_raw(n, header, n, NULL, data_len, size);
}

int stb_write_file(const char *path, const void *bytes, size_t size)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) return -1;
    int bad = size && fwrite(bytes, 1, size, fp) != size;
    if (fclose(fp)) bad = 1;
    return bad ? -1 : 0;
}

unsigned char *stb_read_file(const char *path, size_t *size)
{
    FILE *fp = fopen(path, "rb");
    unsigned char *b = NULL;
    size_t cap = 0, n = 0;
    if (!fp) return NULL;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            unsigned char *nb = realloc(b, cap);
            if (!nb) goto fail;
            b = nb;
        }
        size_t got = fread(b + n, 1, cap - n, fp);
        n += got;
        if (got == 0) break;
    }
    if (ferror(fp)) goto fail;
    fclose(fp);
    *size = n;
    return b;
fail:
    fclose(fp);
    free(b);
    return NULL;
}
