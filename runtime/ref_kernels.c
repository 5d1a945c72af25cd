/* ref_kernels.c — the runtime's table of reference kernels, one per op of ir/ops.def,
 * built by the same X-macro so an op without its mf_ref_<name> fails to link.  Eager
 * execution, the interpreter and the CPU fallback look kernels up here. */
#include "runtime.h"

static const mf_ref_fn ref_table[MF_OP_COUNT] = {
#define X(ID, name, min_in, max_in, kind, mlu, rule, schema) [MF_OP_##ID] = mf_ref_##name,
#include "ir/ops.def"
#undef X
};

/* The reference kernel of op; NULL for a value outside the op list. */
mf_ref_fn mf_rt_ref_kernel(mf_op op)
{
    return (unsigned)op < MF_OP_COUNT ? ref_table[op] : NULL;
}
