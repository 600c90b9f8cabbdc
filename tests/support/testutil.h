/* testutil.h - what the library tests share: graphs from text, gradient
 * blocks compared per tensor (the first mismatches and the largest error
 * printed, as in llm.c's check_tensor), fixtures read back. */
#ifndef TRELLIS_TESTS_TESTUTIL_H
#define TRELLIS_TESTS_TESTUTIL_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/real.h"
#include "engines/run.h"
#include "graph/graph.h"
#include "io/data.h"
#include "io/params.h"
#include "study/summary.h"

/* A graph from JSON text; prints the errors and returns NULL if invalid. */
struct graph *tu_graph(const char *json);
/* ||a - b|| / max(||b||, 1e-12). */
double tu_rel_err(const trl_real *a, const trl_real *b, size_t n);
/* Compares two gradient blocks tensor by tensor (trainable tensors only).
 * Prints every tensor beyond tol; returns how many. */
int tu_compare_grads(const struct graph *g, const trl_real *a, const trl_real *b, double tol,
                     const char *label);
/* Compares a gradient block and loss with an expected file holding exactly
 * the trainable tensors and "loss". Returns the number of problems. */
int tu_compare_grad_file(const struct graph *g, const trl_real *grad, double loss, const char *path,
                         double tol, double loss_tol, const char *label);
/* Path of a file of a fixture: tests/fixtures/NAME/FILE (static buffer). */
const char *tu_fixture(const char *name, const char *file);

extern const char *const tu_fixture_names[6];

/* A scratch folder for one test binary: tu_tmp_init("cli") makes
 * /tmp/trellis-test-cli-XXXXXX (0, or -1); tu_tmp(file) is a path inside it
 * (four rotating buffers); tu_tmp_dir() the folder; tu_tmp_remove() deletes
 * it (0, or -1). */
int tu_tmp_init(const char *name);
const char *tu_tmp(const char *file);
const char *tu_tmp_dir(void);
int tu_tmp_remove(void);

/* Runs every test of s (each in its own process when fork, as Check does by
 * default); the number that failed. */
int tu_run_suite(Suite *s, bool fork);

#endif
