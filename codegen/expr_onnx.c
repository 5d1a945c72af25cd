/* expr_onnx.c — pointwise emitters of the elementwise ops ONNX import added (ops.def):
 * minimum and maximum (NaN wins), prelu, the rounding ops, sign, reciprocal and the
 * activations Elu, Selu, Celu, Softplus, Softsign, ThresholdedRelu and Shrink, so that they
 * fuse like the older ones.  Each matches its reference kernel (runtime/ref_elementwise.c)
 * within the op tolerance: e^x - 1 stands for expm1, whose relative error near 0 only
 * matters where the value is tiny. */
#include <math.h>

#include "cg_internal.h"

static LLVMValueRef K(mf_cg_ctx *c, LLVMValueRef like, double v)
{
    return mf_cg_fconst(c, LLVMTypeOf(like), v);
}

static LLVMValueRef pick(mf_cg_ctx *c, LLVMRealPredicate pr, LLVMValueRef a, LLVMValueRef b, LLVMValueRef yes,
                         LLVMValueRef no)
{
    return LLVMBuildSelect(c->B, LLVMBuildFCmp(c->B, pr, a, b, ""), yes, no, "");
}

static double attr(const mf_node *n, const char *name)
{
    return mf_attr_float(n->op, n->attrs, name);
}

/* a when a is NaN or a `pr` b, else b (the reference's isnan(a) || a < b ? a : b). */
static LLVMValueRef nan_wins(mf_cg_ctx *c, LLVMRealPredicate pr, LLVMValueRef a, LLVMValueRef b)
{
    LLVMValueRef first = LLVMBuildOr(c->B, LLVMBuildFCmp(c->B, LLVMRealUNO, a, a, ""),
                                     LLVMBuildFCmp(c->B, pr, a, b, ""), "");
    return LLVMBuildSelect(c->B, first, a, b, "");
}

/* k * (e^x - 1) for x below 0, x otherwise (Elu, Selu's inner part). */
static LLVMValueRef exp_linear(mf_cg_ctx *c, LLVMValueRef x, double k)
{
    LLVMValueRef em1 = LLVMBuildFSub(c->B, mf_cg_exp(c, x), K(c, x, 1), "");
    return pick(c, LLVMRealOLT, x, K(c, x, 0), LLVMBuildFMul(c->B, em1, K(c, x, (float)k), ""), x);
}

LLVMValueRef mf_cg_emit_minimum(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    return nan_wins(c, LLVMRealOLT, in[0], in[1]);
}

LLVMValueRef mf_cg_emit_maximum(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    return nan_wins(c, LLVMRealOGT, in[0], in[1]);
}

LLVMValueRef mf_cg_emit_prelu(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    return pick(c, LLVMRealOLT, in[0], K(c, in[0], 0), LLVMBuildFMul(c->B, in[0], in[1], ""), in[0]);
}

LLVMValueRef mf_cg_emit_elu(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    return exp_linear(c, in[0], attr(n, "alpha"));
}

LLVMValueRef mf_cg_emit_selu(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    return LLVMBuildFMul(c->B, exp_linear(c, in[0], attr(n, "alpha")), K(c, in[0], (float)attr(n, "gamma")), "");
}

/* x > 0 ? x : alpha * (e^(x / alpha) - 1). */
LLVMValueRef mf_cg_emit_celu(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    LLVMValueRef x = in[0], alpha = K(c, x, (float)attr(n, "alpha"));
    LLVMValueRef em1 = LLVMBuildFSub(c->B, mf_cg_exp(c, LLVMBuildFDiv(c->B, x, alpha, "")), K(c, x, 1), "");
    return pick(c, LLVMRealOGT, x, K(c, x, 0), x, LLVMBuildFMul(c->B, alpha, em1, ""));
}

LLVMValueRef mf_cg_emit_reciprocal(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    return LLVMBuildFDiv(c->B, K(c, in[0], 1), in[0], "");
}

LLVMValueRef mf_cg_emit_floor(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    return mf_cg_intrin(c, "llvm.floor", LLVMTypeOf(in[0]), 1, in);
}

LLVMValueRef mf_cg_emit_ceil(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    return mf_cg_intrin(c, "llvm.ceil", LLVMTypeOf(in[0]), 1, in);
}

/* Halves to the even neighbour, as the reference. */
LLVMValueRef mf_cg_emit_round(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    return mf_cg_intrin(c, "llvm.roundeven", LLVMTypeOf(in[0]), 1, in);
}

/* 1 above 0, -1 below, 0 and NaN as they are. */
LLVMValueRef mf_cg_emit_sign(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    LLVMValueRef x = in[0], zero = K(c, x, 0);
    return pick(c, LLVMRealOGT, x, zero, K(c, x, 1), pick(c, LLVMRealOLT, x, zero, K(c, x, -1), x));
}

/* log(1 + e^x), x itself above 20 (as the reference).  log1p(e) as log(u) * e / (u - 1)
 * with u = 1 + e (Goldberg): exact where e is tiny and 1 + e rounds. */
LLVMValueRef mf_cg_emit_softplus(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    LLVMValueRef x = in[0], e = mf_cg_exp(c, x), u = LLVMBuildFAdd(c->B, K(c, x, 1), e, "");
    LLVMValueRef d = LLVMBuildFSub(c->B, u, K(c, x, 1), "");
    LLVMValueRef ratio = LLVMBuildFDiv(c->B, LLVMBuildFMul(c->B, mf_cg_log(c, u), e, ""), d, "");
    LLVMValueRef sp = pick(c, LLVMRealOEQ, d, K(c, x, 0), e, ratio);
    return pick(c, LLVMRealOGT, x, K(c, x, 20), x, sp);
}

LLVMValueRef mf_cg_emit_softsign(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    LLVMValueRef x = in[0], ax = mf_cg_intrin(c, "llvm.fabs", LLVMTypeOf(x), 1, in);
    return LLVMBuildFDiv(c->B, x, LLVMBuildFAdd(c->B, K(c, x, 1), ax, ""), "");
}

LLVMValueRef mf_cg_emit_thresholded_relu(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    return pick(c, LLVMRealOGT, in[0], K(c, in[0], (float)attr(n, "alpha")), in[0], K(c, in[0], 0));
}

/* x < -lambd ? x + bias : x > lambd ? x - bias : 0. */
LLVMValueRef mf_cg_emit_shrink(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    LLVMValueRef x = in[0], bias = K(c, x, (float)attr(n, "bias")), lambd = K(c, x, (float)attr(n, "lambd"));
    LLVMValueRef above = pick(c, LLVMRealOGT, x, lambd, LLVMBuildFSub(c->B, x, bias, ""), K(c, x, 0));
    return pick(c, LLVMRealOLT, x, LLVMBuildFNeg(c->B, lambd, ""), LLVMBuildFAdd(c->B, x, bias, ""), above);
}
