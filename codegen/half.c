/* half.c — f16 as a storage type in kernels: a half activation is loaded and widened to f32
 * (F16C's vcvtph2ps where the target has it, LLVM's soft conversion elsewhere), computed in
 * f32 and rounded to f16 on store (vcvtps2ph, round to nearest even).  The evaluator
 * (expr.c) and the anchors' engines read their f16 inputs through these. */
#include "cg_internal.h"

static LLVMTypeRef same_shape(mf_cg_ctx *c, LLVMValueRef x, LLVMTypeRef elem)
{
    LLVMTypeRef t = LLVMTypeOf(x);
    if (LLVMGetTypeKind(t) != LLVMVectorTypeKind)
        return elem;
    return LLVMVectorType(elem, LLVMGetVectorSize(t));
}

LLVMValueRef mf_cg_widen_half(mf_cg_ctx *c, LLVMValueRef h)
{
    return LLVMBuildFPExt(c->B, h, same_shape(c, h, c->f32), "");
}

LLVMValueRef mf_cg_narrow_half(mf_cg_ctx *c, LLVMValueRef x)
{
    return LLVMBuildFPTrunc(c->B, x, same_shape(c, x, LLVMHalfTypeInContext(c->C)), "");
}

LLVMValueRef mf_cg_gep_as(mf_cg_ctx *c, LLVMValueRef base, LLVMValueRef idx, mf_dtype t)
{
    LLVMTypeRef et = t == MF_F16 ? LLVMHalfTypeInContext(c->C) : c->f32;
    return LLVMBuildGEP2(c->B, et, base, &idx, 1, "");
}

LLVMValueRef mf_cg_load_f32_as(mf_cg_ctx *c, LLVMTypeRef vt, LLVMValueRef ptr, LLVMValueRef mask,
                               mf_dtype t)
{
    bool half = t == MF_F16;
    LLVMTypeRef et = half ? LLVMHalfTypeInContext(c->C) : c->f32;
    bool vec = LLVMGetTypeKind(vt) == LLVMVectorTypeKind;
    LLVMTypeRef lt = vec ? LLVMVectorType(et, LLVMGetVectorSize(vt)) : et;
    unsigned align = half ? 2 : 4;
    LLVMValueRef x;
    if (!mask) {
        x = LLVMBuildLoad2(c->B, lt, ptr, "");
        LLVMSetAlignment(x, align);
    } else {
        LLVMValueRef ops[4] = {ptr, LLVMConstInt(c->i32, align, 0), mask, LLVMConstNull(lt)};
        LLVMTypeRef tys[2] = {lt, c->ptr};
        x = mf_cg_intrin2(c, "llvm.masked.load", tys, 2, lt, 4, ops);
    }
    return half ? mf_cg_widen_half(c, x) : x;
}

LLVMValueRef mf_cg_gather_f32_as(mf_cg_ctx *c, LLVMTypeRef vt, LLVMValueRef ptrs, LLVMValueRef mask,
                                 mf_dtype t)
{
    bool half = t == MF_F16;
    LLVMTypeRef lt = half ? LLVMVectorType(LLVMHalfTypeInContext(c->C), LLVMGetVectorSize(vt)) : vt;
    LLVMValueRef ops[4] = {ptrs, LLVMConstInt(c->i32, half ? 2 : 4, 0), mask, LLVMConstNull(lt)};
    LLVMTypeRef tys[2] = {lt, LLVMTypeOf(ptrs)};
    LLVMValueRef x = mf_cg_intrin2(c, "llvm.masked.gather", tys, 2, lt, 4, ops);
    return half ? mf_cg_widen_half(c, x) : x;
}
