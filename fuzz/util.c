/* util.c - shared parts of the harnesses (util.h). */
#define _GNU_SOURCE
#include "fuzz/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

const char *fuzz_file(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("trellis-fuzz", MFD_CLOEXEC);
        if (fd < 0) abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0)) abort();
    for (size_t done = 0; done < size;) {
        ssize_t n = pwrite(fd, data + done, size - done, (off_t)done);
        if (n <= 0) abort();
        done += (size_t)n;
    }
    return path;
}

void fuzz_check_error(trl_status s, const trl_error *err)
{
    if (s == TRL_OK || s == TRL_STOPPED) return;
    if (trl_error_status(err) != s || !trl_error_message(err)[0]) {
        fprintf(stderr, "status %d without a matching error (\"%s\")\n", (int)s,
                trl_error_message(err));
        abort();
    }
}

trl_graph *fuzz_graph(const char *text)
{
    trl_graph *g = NULL;
    trl_error *err = trl_error_new();
    if (trl_graph_parse(text, strlen(text), "fixed.json", &g, err) != TRL_OK) {
        fprintf(stderr, "a fixed graph is invalid: %s\n", trl_error_message(err));
        abort();
    }
    trl_error_free(err);
    return g;
}

const char *const fuzz_graphs[] = {
    /* lif + alif recurrent, cross-entropy readout */
    "{\"trellis\": 1, \"nodes\": ["
    "{\"id\": \"in\", \"op\": \"input\", \"size\": 3},"
    "{\"id\": \"lif\", \"op\": \"lif\", \"size\": 4, \"inputs\": [\"in\","
    " {\"from\": \"lif\", \"delay\": 1, \"no_self\": true}, {\"from\": \"alif\", \"delay\": 2}]},"
    "{\"id\": \"alif\", \"op\": \"alif\", \"size\": 3, \"inputs\": [\"in\","
    " {\"from\": \"lif\", \"delay\": 1, \"trainable\": false}]},"
    "{\"id\": \"out\", \"op\": \"readout\", \"size\": 2, \"inputs\": [\"lif\", \"alif\"]}],"
    "\"loss\": {\"node\": \"out\", \"type\": \"cross_entropy\"}}",
    /* two inputs, a leaky and a dense layer with bias, mse */
    "{\"trellis\": 1, \"nodes\": ["
    "{\"id\": \"a\", \"op\": \"input\", \"size\": 2},"
    "{\"id\": \"b\", \"op\": \"input\", \"size\": 1},"
    "{\"id\": \"h\", \"op\": \"leaky\", \"size\": 3, \"inputs\": [\"a\", \"b\","
    " {\"from\": \"h\", \"delay\": 1}]},"
    "{\"id\": \"d\", \"op\": \"dense\", \"size\": 2, \"bias\": true, \"inputs\": [\"h\"]},"
    "{\"id\": \"y\", \"op\": \"readout\", \"size\": 1, \"inputs\": [\"d\", \"a\"]}],"
    "\"outputs\": [\"y\", \"h\"], \"loss\": {\"node\": \"y\", \"type\": \"mse\"}}",
    /* no loss */
    "{\"trellis\": 1, \"nodes\": ["
    "{\"id\": \"x\", \"op\": \"input\", \"size\": 1},"
    "{\"id\": \"r\", \"op\": \"lif\", \"size\": 2, \"inputs\": [\"x\", {\"from\": \"r\", "
    "\"delay\": 3}]}]}",
};
const int fuzz_n_graphs = sizeof fuzz_graphs / sizeof *fuzz_graphs;
