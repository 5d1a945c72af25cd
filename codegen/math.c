/* math.c — exp, log, tanh and sigmoid as plain IR arithmetic on float or <W x float>, so
 * that they vectorize to the target's vector code with no library calls (LLVM-C-NOTES §6):
 * Cephes' expf range reduction with a degree-5 minimax polynomial (2 ulp), Cephes logf,
 * Eigen's 13/6 rational tanh.  NaN in gives NaN out; infinities and the range ends match
 * libm's.  tanh and sigmoid, the elementwise chains' hot ops, spend no select on NaN:
 * their clamps are compare-selects that the backend turns into one max/min that keeps it.
 * Their divisions stay divisions: a reciprocal estimate with a Newton step was no faster
 * (znver4, haswell) and rounds differently in scalar tails than in vector bodies. */
#include <math.h>

#include "cg_internal.h"

static LLVMValueRef K(mf_cg_ctx *c, LLVMValueRef like, double v)
{
    return mf_cg_fconst(c, LLVMTypeOf(like), v);
}

static LLVMTypeRef int_type(mf_cg_ctx *c, LLVMValueRef like)
{
    LLVMTypeRef t = LLVMTypeOf(like);
    if (LLVMGetTypeKind(t) == LLVMVectorTypeKind)
        return LLVMVectorType(c->i32, LLVMGetVectorSize(t));
    return c->i32;
}

static LLVMValueRef fma_(mf_cg_ctx *c, LLVMValueRef a, LLVMValueRef b, LLVMValueRef d)
{
    return mf_cg_fmuladd(c, a, b, d);
}

static LLVMValueRef minmax(mf_cg_ctx *c, const char *which, LLVMValueRef a, double b)
{
    LLVMValueRef ops[2] = {a, K(c, a, b)};
    return mf_cg_intrin(c, which, LLVMTypeOf(a), 2, ops);
}

static LLVMValueRef is_nan(mf_cg_ctx *c, LLVMValueRef x)
{
    return LLVMBuildFCmp(c->B, LLVMRealUNO, x, x, "");
}

/* 2^n for integer-valued float n in [-152, 128], as two exact powers so that neither the
 * top (2^128 * y < inf when y < 1) nor the subnormal range is lost. */
static LLVMValueRef scale_pow2(mf_cg_ctx *c, LLVMValueRef y, LLVMValueRef n)
{
    LLVMTypeRef it = int_type(c, y);
    LLVMValueRef ni = LLVMBuildFPToSI(c->B, n, it, "");
    LLVMValueRef n1 = LLVMBuildAShr(c->B, ni, mf_cg_iconst(c, it, 1), "");
    LLVMValueRef n2 = LLVMBuildSub(c->B, ni, n1, "");
    LLVMValueRef p1 = LLVMBuildShl(c->B, LLVMBuildAdd(c->B, n1, mf_cg_iconst(c, it, 127), ""),
                                   mf_cg_iconst(c, it, 23), "");
    LLVMValueRef p2 = LLVMBuildShl(c->B, LLVMBuildAdd(c->B, n2, mf_cg_iconst(c, it, 127), ""),
                                   mf_cg_iconst(c, it, 23), "");
    LLVMTypeRef ft = LLVMTypeOf(y);
    y = LLVMBuildFMul(c->B, y, LLVMBuildBitCast(c->B, p1, ft, ""), "");
    return LLVMBuildFMul(c->B, y, LLVMBuildBitCast(c->B, p2, ft, ""), "");
}

/* exp(r) for r in [-ln2/2, ln2/2]: degree-5 minimax polynomial (ARM optimized-routines'
 * expf, 1.95 ulp), five FMAs where Cephes' degree 7 took eight. */
static LLVMValueRef exp_poly(mf_cg_ctx *c, LLVMValueRef r)
{
    static const double p[] = {0x1.0e4020p-7, 0x1.573e2ep-5, 0x1.555e66p-3, 0x1.fffdb6p-2, 0x1.ffffecp-1, 1.0};
    LLVMValueRef y = K(c, r, p[0]);
    for (int i = 1; i < 6; i++)
        y = fma_(c, y, r, K(c, r, p[i]));
    return y;
}

/* r = x - n ln 2, ln 2 in two parts so that r stays exact for |n| up to 150. */
static LLVMValueRef exp_reduce(mf_cg_ctx *c, LLVMValueRef x, LLVMValueRef n)
{
    x = fma_(c, n, K(c, x, -0.693359375), x);
    return fma_(c, n, K(c, x, 2.12194440e-4), x);
}

/* n = round(x log2 e), r = x - n ln 2, exp(x) = 2^n exp(r). */
LLVMValueRef mf_cg_exp(mf_cg_ctx *c, LLVMValueRef x0)
{
    LLVMValueRef x = minmax(c, "llvm.maxnum", x0, -104.0); /* maxnum drops NaN: no poison */
    x = minmax(c, "llvm.minnum", x, 89.0);
    LLVMValueRef n = fma_(c, x, K(c, x, 1.44269504088896341), K(c, x, 0.5));
    n = mf_cg_intrin(c, "llvm.floor", LLVMTypeOf(x), 1, &n);
    LLVMValueRef y = scale_pow2(c, exp_poly(c, exp_reduce(c, x, n)), n);
    return LLVMBuildSelect(c->B, is_nan(c, x0), x0, y, "");
}

/* Cephes logf: x = m 2^e with m in [sqrt(1/2), sqrt(2)), log(m) by a degree-9 polynomial;
 * subnormals are scaled by 2^23 first. */
LLVMValueRef mf_cg_log(mf_cg_ctx *c, LLVMValueRef x0)
{
    LLVMTypeRef ft = LLVMTypeOf(x0), it = int_type(c, x0);
    LLVMValueRef sub = LLVMBuildFCmp(c->B, LLVMRealOLT, x0, K(c, x0, 0x1p-126), "");
    LLVMValueRef x = LLVMBuildSelect(c->B, sub, LLVMBuildFMul(c->B, x0, K(c, x0, 0x1p23), ""), x0, "");
    LLVMValueRef ebias = LLVMBuildSelect(c->B, sub, K(c, x0, 126.0 + 23.0), K(c, x0, 126.0), "");
    LLVMValueRef bits = LLVMBuildBitCast(c->B, x, it, "");
    LLVMValueRef ei = LLVMBuildLShr(c->B, bits, mf_cg_iconst(c, it, 23), "");
    ei = LLVMBuildAnd(c->B, ei, mf_cg_iconst(c, it, 0xff), "");
    LLVMValueRef e = LLVMBuildFSub(c->B, LLVMBuildSIToFP(c->B, ei, ft, ""), ebias, "");
    LLVMValueRef mb = LLVMBuildAnd(c->B, bits, mf_cg_iconst(c, it, 0x007fffff), "");
    mb = LLVMBuildOr(c->B, mb, mf_cg_iconst(c, it, 0x3f000000), "");
    LLVMValueRef m = LLVMBuildBitCast(c->B, mb, ft, ""); /* [0.5, 1) */
    LLVMValueRef small = LLVMBuildFCmp(c->B, LLVMRealOLT, m, K(c, m, 0.707106781186547524), "");
    e = LLVMBuildSelect(c->B, small, LLVMBuildFSub(c->B, e, K(c, e, 1.0), ""), e, "");
    LLVMValueRef m2 = LLVMBuildSelect(c->B, small, LLVMBuildFAdd(c->B, m, m, ""), m, "");
    x = LLVMBuildFSub(c->B, m2, K(c, m, 1.0), "");
    LLVMValueRef z = LLVMBuildFMul(c->B, x, x, "");
    static const double p[] = {7.0376836292E-2, -1.1514610310E-1, 1.1676998740E-1,
                               -1.2420140846E-1, 1.4249322787E-1, -1.6668057665E-1,
                               2.0000714765E-1, -2.4999993993E-1, 3.3333331174E-1};
    LLVMValueRef y = K(c, x, p[0]);
    for (int i = 1; i < 9; i++)
        y = fma_(c, y, x, K(c, x, p[i]));
    y = LLVMBuildFMul(c->B, LLVMBuildFMul(c->B, y, x, ""), z, "");
    y = fma_(c, e, K(c, e, -2.12194440e-4), y);
    y = fma_(c, z, K(c, z, -0.5), y);
    x = LLVMBuildFAdd(c->B, x, y, "");
    x = fma_(c, e, K(c, e, 0.693359375), x);
    /* log(0) = -inf, log(<0) = NaN, log(inf) = inf, NaN stays NaN */
    LLVMValueRef r = x;
    r = LLVMBuildSelect(c->B, LLVMBuildFCmp(c->B, LLVMRealOEQ, x0, K(c, x0, INFINITY), ""), x0, r, "");
    r = LLVMBuildSelect(c->B, LLVMBuildFCmp(c->B, LLVMRealOEQ, x0, K(c, x0, 0.0), ""),
                        K(c, x0, -INFINITY), r, "");
    r = LLVMBuildSelect(c->B, LLVMBuildFCmp(c->B, LLVMRealOLT, x0, K(c, x0, 0.0), ""),
                        K(c, x0, NAN), r, "");
    return LLVMBuildSelect(c->B, is_nan(c, x0), x0, r, "");
}

/* max(x, lo) as a compare-select: x86's max instruction for it returns x when x is NaN,
 * where llvm.maxnum would drop the NaN (and need a select to put it back). */
static LLVMValueRef clamp_lo(mf_cg_ctx *c, LLVMValueRef x, double lo)
{
    LLVMValueRef k = K(c, x, lo);
    return LLVMBuildSelect(c->B, LLVMBuildFCmp(c->B, LLVMRealOLT, x, k, ""), k, x, "");
}

static LLVMValueRef clamp_hi(mf_cg_ctx *c, LLVMValueRef x, double hi)
{
    LLVMValueRef k = K(c, x, hi);
    return LLVMBuildSelect(c->B, LLVMBuildFCmp(c->B, LLVMRealOGT, x, k, ""), k, x, "");
}

/* Eigen's ptanh_float: odd 13/6 rational on [-7.9053, 7.9053], where tanh rounds to +-1.
 * Near 0 it is x (a6 / b3 = 1 - 1.3e-7), so it needs no small-input branch.  As a fraction:
 * |num| <= 0.903 and den in [4.89e-3, 0.903]. */
void mf_cg_tanh_frac(mf_cg_ctx *c, LLVMValueRef x0, LLVMValueRef *num, LLVMValueRef *den)
{
    LLVMValueRef x = clamp_hi(c, clamp_lo(c, x0, -7.90531110763549805), 7.90531110763549805);
    LLVMValueRef x2 = LLVMBuildFMul(c->B, x, x, "");
    static const double a[] = {-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11,
                               5.12229709037114e-08,  1.48572235717979e-05, 6.37261928875436e-04,
                               4.89352455891786e-03};
    static const double b[] = {1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03,
                               4.89352518554385e-03};
    LLVMValueRef p = K(c, x, a[0]);
    for (int i = 1; i < 7; i++)
        p = fma_(c, p, x2, K(c, x, a[i]));
    p = LLVMBuildFMul(c->B, p, x, "");
    LLVMValueRef q = K(c, x, b[0]);
    for (int i = 1; i < 4; i++)
        q = fma_(c, q, x2, K(c, x, b[i]));
    *num = p;
    *den = q;
}

LLVMValueRef mf_cg_tanh(mf_cg_ctx *c, LLVMValueRef x)
{
    LLVMValueRef num, den;
    mf_cg_tanh_frac(c, x, &num, &den);
    return LLVMBuildFDiv(c->B, num, den, "");
}

/* 1 / (1 + e) with e = e^t, t = -x clamped to [-88, 89]: there n = -127 makes the 2^n factor
 * exactly 0 (sigmoid is exactly 1 from x = 88 on, and rounds to 1 from 16.6) and from t =
 * 88.38 on n = 128 makes it +inf (sigmoid is exactly 0 below -88.38, where libm's is under
 * 4.2e-39).  No select on the sign and one division: on Zen 3 the compare and blend of
 * e / (1 + e) for x < 0 took 5 % of an elementwise chain's time.  n comes from the
 * magic-number rounding, whose low bits are n + 127 and shift into the exponent field;
 * t - n ln 2 is one FMA with ln 2 rounded to float (the second FMA of the exact split took
 * another 4 % of the chain): its error, |n| 1.9e-9, is up to 2.42e-7 of e at |n| = 127, so
 * for x < -1 sigmoid is off by up to 6.5 ulp (4.5 ulp on [-20, -1]) where the split gave
 * 1.9-3.7, far inside the 0.3 % of an op.  NaN passes through the clamp and every step.  As
 * a fraction: num = 1, den in [1, +inf]. */
void mf_cg_sigmoid_frac(mf_cg_ctx *c, LLVMValueRef x, LLVMValueRef *num, LLVMValueRef *den)
{
    LLVMTypeRef ft = LLVMTypeOf(x), it = int_type(c, x);
    LLVMValueRef t = clamp_hi(c, clamp_lo(c, LLVMBuildFNeg(c->B, x, ""), -88.0), 89.0);
    LLVMValueRef magic = K(c, x, 0x1.8p23 + 127.0);
    LLVMValueRef y = fma_(c, t, K(c, x, 1.44269504088896341), magic);
    LLVMValueRef n = LLVMBuildFSub(c->B, y, magic, "");
    LLVMValueRef p2n =
        LLVMBuildShl(c->B, LLVMBuildBitCast(c->B, y, it, ""), mf_cg_iconst(c, it, 23), "");
    LLVMValueRef r = fma_(c, n, K(c, x, -0.693147182464599609375), t);
    LLVMValueRef e = LLVMBuildFMul(c->B, exp_poly(c, r), LLVMBuildBitCast(c->B, p2n, ft, ""), "");
    *num = K(c, x, 1.0);
    *den = LLVMBuildFAdd(c->B, K(c, x, 1.0), e, "");
}

LLVMValueRef mf_cg_sigmoid(mf_cg_ctx *c, LLVMValueRef x)
{
    LLVMValueRef num, den;
    mf_cg_sigmoid_frac(c, x, &num, &den);
    return LLVMBuildFDiv(c->B, num, den, "");
}
