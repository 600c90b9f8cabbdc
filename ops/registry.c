/* registry.c - the list of node kinds. A new kind is one file in ops/ and
 * one line here. */
#include <string.h>

#include "ops/op.h"

extern const struct op_kind op_input, op_dense, op_leaky, op_lif, op_alif, op_readout;

const struct op_kind *const op_kinds[] = {
    &op_input, &op_dense, &op_leaky, &op_lif, &op_alif, &op_readout,
};
const int op_n_kinds = sizeof op_kinds / sizeof op_kinds[0];

const struct op_kind *op_find(const char *name)
{
    for (int i = 0; i < op_n_kinds; i++)
        if (strcmp(op_kinds[i]->name, name) == 0) return op_kinds[i];
    return NULL;
}
