/* st_build.h - raw safetensors bytes for tests.
 *
 * The writer in io/ only makes valid files; tests of the reader need
 * files that are wrong in exactly one way: any header text, a header length
 * field that lies, any data. These helpers assemble such bytes and move them
 * to and from files. Memory comes from malloc: release it with free.
 */
#ifndef TRELLIS_TESTS_ST_BUILD_H
#define TRELLIS_TESTS_ST_BUILD_H

#include <stddef.h>
#include <stdint.h>

/* len_field as 8 little-endian bytes, then header_len bytes of header, then
 * data_len bytes of data (zeros when data is NULL). *size gets the total. */
unsigned char *stb_raw(uint64_t len_field, const void *header, size_t header_len, const void *data,
                       size_t data_len, size_t *size);
/* A file whose length field is strlen(header), with data_len zero bytes of data. */
unsigned char *stb_bytes(const char *header, size_t data_len, size_t *size);
/* Writes size bytes to path (created or truncated). 0 on success, -1 on error. */
int stb_write_file(const char *path, const void *bytes, size_t size);
/* The whole content of path, or NULL. */
unsigned char *stb_read_file(const char *path, size_t *size);

#endif
