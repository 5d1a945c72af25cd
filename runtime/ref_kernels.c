/* ref_kernels.c — the runtime's table of reference kernels, one per op of ir/ops.def,
 * built by the same X-macro so an op without its mf_ref_<name> fails to link.  Eager
 * execution, the interpreter and the CPU fallback look kernels up here. */
#include "runtime.h"

static const mf_ref_fn ref_table[MF_OP_COUNT] = {
#define X(ID, name, min_in, max_in, kind, mlu, rule, schema) [MF_OP_##ID] = mf_ref_##name,
#include "ir/ops.def"
#undef X
};

/* The ops whose kernels compute any share of their output's rows (mf_ref_call's part and
 * nparts): the layout and selection kernels that walk the output a row at a time, which a
 * plan runs on the core pool when the output is large (runtime/plan.c). */
bool mf_rt_ref_splits(mf_op op)
{
    switch (op) {
    case MF_OP_PERMUTE: case MF_OP_CONCAT: case MF_OP_UPSAMPLE_NEAREST2D: case MF_OP_SLICE: case MF_OP_PAD:
    case MF_OP_TILE: case MF_OP_EXPAND: case MF_OP_WHERE: case MF_OP_EQUAL: case MF_OP_GREATER: case MF_OP_LESS:
    case MF_OP_GREATER_EQUAL: case MF_OP_LESS_EQUAL: case MF_OP_LOGICAL_AND: case MF_OP_LOGICAL_OR:
    case MF_OP_LOGICAL_XOR:
        return true;
    default:
        return false;
    }
}

/* The reference kernel of op; NULL for a value outside the op list. */
mf_ref_fn mf_rt_ref_kernel(mf_op op)
{
    return (unsigned)op < MF_OP_COUNT ? ref_table[op] : NULL;
}
