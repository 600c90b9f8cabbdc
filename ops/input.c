/* input.c - `input`: its output z(t) is the data x(t) (SPEC sections 2, 4).
 *
 * No state, no inputs, no bias, no params. The runtime copies the data file's
 * tensor of the node's id into z at every step.
 */
#include "ops/op.h"

const struct op_kind op_input = {
    .name = "input",
    .doc = "data from the data file: z(t) = x(t)",
    .n_state = 0,
    .state_names = "",
    .is_input = true,
    .default_bias = false,
};
