/* generic_kernels.c — tier 0's table: which generic kernel (generic_*.c) serves a CPU op of
 * given op and types.  An op absent here, or a case a generic kernel does not take (another
 * dtype, broadcasting, packed weights), keeps its reference kernel. */
#include "generic.h"

static bool all_f32(int nin, const mf_type *in_types, const mf_type *out_type)
{
    for (int i = 0; i < nin; i++)
        if (in_types[i].dtype != MF_F32)
            return false;
    return out_type->dtype == MF_F32;
}

mf_ref_fn mf_rt_generic_kernel(mf_op op, const mf_attr *attrs, int nin, const mf_type *in_types,
                               const mf_type *out_type)
{
    if (!all_f32(nin, in_types, out_type))
        return NULL;
    switch (op) {
    case MF_OP_CONV2D:
        /* plain weights only: packed blocks are the LLVM engines' layout */
        return in_types[0].rank == 4 && mf_conv2d_of(op, attrs).packed == 0 ? mf_gen_conv2d : NULL;
    case MF_OP_LINEAR:
        return in_types[1].rank == 2 ? mf_gen_linear : NULL;
    case MF_OP_MATMUL:
        return in_types[0].rank == 2 && in_types[1].rank == 2 && mf_matmul_packed(attrs) == 0 ? mf_gen_matmul : NULL;
    case MF_OP_RELU:
        return mf_gen_relu;
    case MF_OP_CLAMP:
        return mf_gen_clamp;
    case MF_OP_ADD:
        return mf_type_equal(&in_types[0], out_type) && mf_type_equal(&in_types[1], out_type) ? mf_gen_add : NULL;
    default:
        return NULL;
    }
}
