/* trellis.h - the public interface of libtrellis.
 *
 * trellis runs recurrent networks written as JSON graphs (SPEC.md): it loads
 * and validates a graph, initialises or reads its parameters, runs it over a
 * data set, and computes gradients with BPTT, RTRL or deep e-prop. The
 * command-line tool `trellis` is a thin client of these calls.
 *
 * Precision: the library is built twice, libtrellis (trl_real = float) and
 * libtrellis-f64 (trl_real = double, -DTRELLIS_F64); a client compiles with
 * the same define as the library it links.
 *
 * Ownership: *_new / *_load return objects the caller frees with the matching
 * *_free; functions that fail return -1 or NULL and fill a struct trl_errors
 * (core/error.h), which names the file and the place.
 */
#ifndef TRELLIS_H
#define TRELLIS_H

#define TRELLIS_VERSION "0.1.0"

#include "graph/graph.h"     /* graph_load, graph_free: the validated graph */
#include "core/alloc.h"   /* trl_alloc, trl_free, memory counts */
#include "io/data.h"    /* data_load: a data file bound to a graph */
#include "core/error.h"   /* struct trl_errors */
#include "io/params.h"  /* params_new, params_init, params_load, params_save */
#include "core/real.h"    /* trl_real */
#include "engines/run.h"     /* run_forward: outputs and loss */
#include "study/summary.h" /* summary_print: what `validate` reports */

#endif
