/* index.c — the index arithmetic of the engines: sums, scaled offsets and bounds of i64
 * values, so that a kernel's loops read as the algorithm rather than as builder calls
 * (chibicc's gen_addr/load/store).  Each helper is one builder call or two, in the order
 * the expression is written; constants fold as LLVMBuild* folds them. */
#include "cg_internal.h"

LLVMValueRef mf_cg_ix_add(mf_cg_ctx *c, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildAdd(c->B, a, b, "");
}

LLVMValueRef mf_cg_ix_sub(mf_cg_ctx *c, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSub(c->B, a, b, "");
}

LLVMValueRef mf_cg_ix_addk(mf_cg_ctx *c, LLVMValueRef a, int64_t k)
{
    return LLVMBuildAdd(c->B, a, mf_cg_i64(c, k), "");
}

LLVMValueRef mf_cg_ix_subk(mf_cg_ctx *c, LLVMValueRef a, int64_t k)
{
    return LLVMBuildSub(c->B, a, mf_cg_i64(c, k), "");
}

LLVMValueRef mf_cg_ix_mulk(mf_cg_ctx *c, LLVMValueRef a, int64_t k)
{
    return LLVMBuildMul(c->B, a, mf_cg_i64(c, k), "");
}

LLVMValueRef mf_cg_ix_madd(mf_cg_ctx *c, LLVMValueRef a, int64_t k, LLVMValueRef b)
{
    return LLVMBuildAdd(c->B, mf_cg_ix_mulk(c, a, k), b, "");
}

LLVMValueRef mf_cg_ix_udivk(mf_cg_ctx *c, LLVMValueRef a, int64_t k)
{
    return LLVMBuildUDiv(c->B, a, mf_cg_i64(c, k), "");
}

LLVMValueRef mf_cg_ix_smink(mf_cg_ctx *c, LLVMValueRef a, int64_t k)
{
    LLVMValueRef less = LLVMBuildICmp(c->B, LLVMIntSLT, a, mf_cg_i64(c, k), "");
    return LLVMBuildSelect(c->B, less, a, mf_cg_i64(c, k), "");
}
