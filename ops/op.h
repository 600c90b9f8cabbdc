/* op.h - what a node kind is: a table of functions.
 *
 * Every kind of SPEC section 2 is one file in ops/ that exports one
 * `const struct op_kind`, listed once in ops/registry.c. The runtime never
 * names a kind: it calls these functions.
 *
 * The model every kind fits (SPEC section 2):
 *
 *     I(t)  = sum_e W_e z_{s_e}(t - d_e) + b          (the runtime computes I)
 *     h(t)  = F(h(t-1), z(t-1), I(t))                 (forward)
 *     z(t)  = G(h(t))                                 (forward)
 *
 * h holds n_state variables per unit (lif: v; alif: v, a; leaky: h;
 * readout: y; dense: its pre-activation I). The gradient algorithms need
 * three Jacobians, all diagonal over units (a unit's state moves only with its
 * own input and its own past):
 *
 *     output Jacobian  dz(t)/dh(t)                      [rows][S][size]
 *     state Jacobian   J(t) = dh(t)/dh(t-1), total, i.e. including the path
 *                      through the node's own z(t-1) (reset, adaptation)
 *                                                       [rows][S*S][size]
 *                      entry (r, c) at [r*S + c]: dh_r(t)/dh_c(t-1)
 *     input Jacobian   dh(t)/dI(t), a constant per state variable   [S]
 *
 * A parameter moves h only through I, so the parameter Jacobian is the input
 * Jacobian times the presynaptic z (times 1 for a bias): the algorithms build
 * it from dhdI and need nothing more from the kind.
 *
 * Array layout: a batch of `rows` samples; a state array holds, per row,
 * S consecutive blocks of `size` values (v block, then a block).
 */
#ifndef TRELLIS_OP_H
#define TRELLIS_OP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/real.h"

#define OP_MAX_STATE 2

enum op_param_type {
    OP_PARAM_REAL,       /* JSON number, stored as double */
    OP_PARAM_BOOL,       /* JSON true/false, stored as bool */
    OP_PARAM_ACTIVATION, /* JSON string naming an activation, stored as int */
};

enum op_bound {
    OP_BOUND_ANY,
    OP_BOUND_POSITIVE, /* > 0 */
    OP_BOUND_NONNEG,   /* >= 0 */
};

/* One key of a node's "params" object. The graph loader parses and checks
 * every kind's params through these tables. */
struct op_param_desc {
    const char *name;
    enum op_param_type type;
    size_t offset; /* into the kind's params struct */
    double def;    /* default (for booleans: 0 or 1; activations: an enum value) */
    enum op_bound bound;
    const char *doc;
};

struct op_kind {
    const char *name;
    const char *doc;         /* one line for help and validate */
    int n_state;             /* state variables per unit (input: 0) */
    const char *state_names; /* e.g. "v,a"; "" for input */
    bool is_input;           /* takes its output from the data file */
    bool spiking;            /* emits spikes (firing rates, rate regulariser) */
    bool default_bias;       /* SPEC section 2's bias default */

    size_t params_size; /* bytes of the kind's params struct */
    const struct op_param_desc *param_desc;
    int n_param_desc;

    /* Computes derived constants (alpha, rho, kappa) once, after parsing. */
    void (*prepare)(void *params, double dt);

    /* One step: h, z from I, h(t-1) and z(t-1). */
    void (*forward)(const void *params, int rows, int size, const trl_real *I,
                    const trl_real *h_prev, const trl_real *z_prev, trl_real *h, trl_real *z);
    /* dz(t)/dh(t) from h(t) and z(t). */
    void (*output_jacobian)(const void *params, int rows, int size, const trl_real *h,
                            const trl_real *z, trl_real *dzdh);
    /* J(t) = dh(t)/dh(t-1) from h(t-1). */
    void (*state_jacobian)(const void *params, int rows, int size, const trl_real *h_prev,
                           trl_real *J);
    /* dh(t)/dI(t): one constant per state variable. */
    void (*input_jacobian)(const void *params, trl_real *dhdI);
    /* Bit r set: row r of J is the same constant on its diagonal entry for every
     * unit and step, and 0 off the diagonal (leaky, readout, lif with
     * detach_reset). The e-prop traces use it to factor (SPEC section 6). */
    unsigned (*constant_rows)(const void *params);
};

/* The registry: every kind, looked up by name. */
extern const struct op_kind *const op_kinds[];
extern const int op_n_kinds;
const struct op_kind *op_find(const char *name);

#endif
