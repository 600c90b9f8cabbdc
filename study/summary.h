/* summary.h - what `trellis validate` reports about a valid graph (SPEC
 * section 7): the nodes in schedule order, the parameter tensors, and the
 * memory and multiply-adds each gradient algorithm needs per sample.
 *
 * Formulas (values per sample; bytes = values * sizeof(trl_real)):
 *   forward MACs per step   sum over edges of dst.size * src.size
 *   bptt, eprop reverse     per step stored: sum over nodes of (S + 1) * size
 *                           (h and z) + size for every non-input (dL/dI):
 *                           memory grows linearly with T
 *   rtrl, eprop online      the traces of trace_plan.h, constant in T
 *   eprop online order M    the same with M - 1 delayed crossings (SPEC 6.2)
 */
#ifndef TRELLIS_SUMMARY_H
#define TRELLIS_SUMMARY_H

#include <stddef.h>
#include <stdio.h>

#include "graph/graph.h"

struct summary_cost {
    int available;        /* 0 if the plan is too large to build */
    double values;        /* rtrl/eprop: trace values per sample */
    double macs_per_step; /* per sample: forward + traces (+ backward for reverse) */
};

/* m-order e-prop online: orders 1..SUMMARY_ORDERS reported (SPEC 6.2). */
#define SUMMARY_ORDERS 3

struct summary {
    double forward_macs;       /* per step and sample */
    double history_values;     /* bptt / eprop reverse: values per step and sample */
    double bptt_macs;          /* per step and sample: forward + backward */
    double eprop_reverse_macs; /* same without delayed edges backward */
    struct summary_cost rtrl, eprop;
    size_t n_trainable_values;
    struct summary_cost eprop_order[SUMMARY_ORDERS]; /* online, order k + 1 */
};

/* Computes the numbers; 0, or -1 if out of memory. */
int summary_compute(const struct graph *g, struct summary *s);
void summary_print_text(const struct graph *g, const struct summary *s, FILE *f);
/* One JSON object. 0, or -1 if out of memory. */
int summary_print_json(const struct graph *g, const struct summary *s, FILE *f);

/* v with a unit prefix and 3 digits: "806k", "12.7M", "75". */
void summary_human(double v, char *buf, size_t n);

#endif
