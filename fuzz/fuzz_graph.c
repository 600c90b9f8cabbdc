/* fuzz_graph.c - libFuzzer harness: bytes -> JSON -> graph (SPEC section 1).
 * Every input is parsed by trl_graph_parse; a graph that loads is walked
 * through every accessor and both validation reports. A failure must come
 * with its message; nothing may crash, leak or read out of bounds. */
#include <stdlib.h>
#include <string.h>

#include "fuzz/util.h"

static void walk(const trl_graph *g)
{
    trl_graph_info info;
    trl_graph_get_info(g, &info);
    for (int i = 0; i < info.n_nodes; i++) {
        trl_node_info n;
        trl_node_param np;
        if (trl_graph_node(g, i, &n) != TRL_OK || trl_graph_find_node(g, n.id) != i) abort();
        for (int k = 0; k < trl_graph_node_param_count(g, i); k++)
            if (trl_graph_node_param(g, i, k, &np) != TRL_OK) abort();
        if (trl_graph_schedule(g, i) < 0) abort();
    }
    for (int i = 0; i < info.n_edges; i++) {
        trl_edge_info e;
        if (trl_graph_edge(g, i, &e) != TRL_OK) abort();
    }
    for (int i = 0; i < info.n_params; i++) {
        trl_param_info p;
        if (trl_graph_param(g, i, &p) != TRL_OK || trl_graph_find_param(g, p.name) != i) abort();
    }
    for (int k = 0; k < info.n_outputs; k++)
        if (trl_graph_output(g, k) < 0) abort();
    trl_summary s;
    trl_error *err = trl_error_new();
    fuzz_check_error(trl_graph_summary(g, &s, err), err);
    for (int json = 0; json < 2; json++) {
        char *text = NULL;
        trl_status st = trl_graph_report(g, json, &text, err);
        fuzz_check_error(st, err);
        trl_string_free(text);
    }
    trl_error_free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    trl_error *err = trl_error_new();
    trl_graph *g = NULL;
    trl_status s = trl_graph_parse((const char *)data, size, "fuzz.json", &g, err);
    fuzz_check_error(s, err);
    if ((s == TRL_OK) != (g != NULL)) abort();
    for (int i = 0; i < trl_error_count(err); i++) {
        const char *path;
        int line, col;
        if (!trl_error_at(err, i, &path, &line, &col)) abort();
    }
    if (g) walk(g);
    trl_graph_free(g);
    trl_error_free(err);
    return 0;
}
