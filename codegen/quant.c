/* quant.c — the int8 vocabulary of the lowerings (docs/quantization.md): an i8 value is its
 * integer code held in f32 lanes between its load and its store (exact: codes are small
 * integers), so quantize, dequantize and qadd are elementwise ops of the evaluator and fuse
 * into any kernel; the requantization every int8 op ends in, bit for bit the reference
 * kernels' (runtime/ref_quant.c); and the 8-bit dot product the target has. */
#include <math.h>
#include <string.h>

#include "cg_internal.h"

static LLVMValueRef fcmp(mf_cg_ctx *c, LLVMRealPredicate pr, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFCmp(c->B, pr, a, b, "");
}

static LLVMValueRef sel(mf_cg_ctx *c, LLVMValueRef cond, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSelect(c->B, cond, a, b, "");
}

mf_cg_requant mf_cg_requant_of(const mf_node *n)
{
    return (mf_cg_requant){
        .y_scale = (float)mf_attr_float(n->op, n->attrs, "y_scale"),
        .lo = (float)mf_attr_float(n->op, n->attrs, "min"),
        .hi = (float)mf_attr_float(n->op, n->attrs, "max"),
        .y_zp = (int)mf_attr_int(n->op, n->attrs, "y_zero_point"),
    };
}

/* Ends the current block in a branch to join and continues there with a, coming from
 * block from, or b, from the block just ended. */
static LLVMValueRef join_two(mf_cg_ctx *c, LLVMBasicBlockRef join, LLVMValueRef a, LLVMBasicBlockRef from, LLVMValueRef b)
{
    LLVMBasicBlockRef last = LLVMGetInsertBlock(c->B);
    LLVMBuildBr(c->B, join);
    LLVMPositionBuilderAtEnd(c->B, join);
    LLVMValueRef x = LLVMBuildPhi(c->B, LLVMTypeOf(a), "");
    LLVMValueRef vals[2] = {a, b};
    LLVMBasicBlockRef bbs[2] = {from, last};
    LLVMAddIncoming(x, vals, bbs, 2);
    return x;
}

static LLVMValueRef rint_of(mf_cg_ctx *c, LLVMValueRef x)
{
    return mf_cg_intrin(c, "llvm.rint", LLVMTypeOf(x), 1, &x); /* half to even in the default rounding mode */
}

/* The reference's code of y (runtime/ref_quant.c), before its saturation. */
static float code_of(float y, float scale, int zp)
{
    return rintf(y / scale) + (float)zp;
}

/* A real value whose code is exactly `code` (-128 or 127): every y beyond it saturates to
 * that code, so clamping y to it changes no code. */
static float saturating_real(float scale, int zp, float code)
{
    float y = (code - (float)zp) * scale;
    while (code_of(y, scale, zp) < code)
        y = nextafterf(y, INFINITY);
    while (code_of(y, scale, zp) > code)
        y = nextafterf(y, -INFINITY);
    return y;
}

/* y / scale rounded as the division rounds, without the divider (a zmm vdivps holds one
 * port 10 cycles on Intel): q0 = y r with r = RN(1 / scale), the remainder y - q0 scale
 * (exact by an FMA), then q0 + remainder r rounded once.  Markstein's theorem makes that the
 * correctly rounded quotient when r is within half an ulp of 1 / scale and q0 within one ulp
 * of the quotient, which holds without overflow or underflow: y is clamped to the codes'
 * range first, and a quotient too small for an exact remainder (under 2^-100) rounds to 0
 * either way.  Needs the target's FMA (llvm.fma is a libcall without it). */
static LLVMValueRef div_by_const(mf_cg_ctx *c, LLVMValueRef y, float scale)
{
    LLVMTypeRef t = LLVMTypeOf(y);
    LLVMValueRef r = mf_cg_fconst(c, t, 1.0f / scale), s = mf_cg_fconst(c, t, scale);
    LLVMValueRef q0 = LLVMBuildFMul(c->B, y, r, "");
    LLVMValueRef rem[3] = {LLVMBuildFNeg(c->B, q0, ""), s, y};
    LLVMValueRef q1[3] = {mf_cg_intrin(c, "llvm.fma", t, 3, rem), r, q0};
    return mf_cg_intrin(c, "llvm.fma", t, 3, q1);
}

/* Whether div_by_const applies: the target has FMA, scale and its reciprocal are normal. */
static bool fast_div(const mf_cg_ctx *c, float scale)
{
    return c->shape.fma && scale > 0 && isnormal(scale) && isnormal(1.0f / scale);
}

/* The code of y clamped to [lo, hi].  code_of is monotonic, so with the clamps narrowed to
 * where the codes saturate the code needs no clamp of its own, and the quotient stays in
 * the range div_by_const needs. */
static LLVMValueRef code_fast(mf_cg_ctx *c, LLVMValueRef y, float lo, float hi, float scale, int zp)
{
    LLVMTypeRef t = LLVMTypeOf(y);
    float slo = saturating_real(scale, zp, -128), shi = saturating_real(scale, zp, 127);
    lo = lo < slo ? slo : lo > shi ? shi : lo;
    hi = hi < slo ? slo : hi > shi ? shi : hi;
    LLVMValueRef vlo = mf_cg_fconst(c, t, lo), vhi = mf_cg_fconst(c, t, hi);
    /* NaN's code is zp: when lo's is too (a relu's lo = 0), NaN becomes lo (maxps's
     * operand order) and needs no test of its own */
    bool nan_to_lo = code_of(lo, scale, zp) == (float)zp;
    if (nan_to_lo)
        y = sel(c, fcmp(c, LLVMRealOGT, y, vlo), y, vlo);
    else /* as the reference's clamps: NaN passes both (and becomes zp below) */
        y = sel(c, fcmp(c, LLVMRealOLT, y, vlo), vlo, y);
    y = sel(c, fcmp(c, LLVMRealOGT, y, vhi), vhi, y);
    LLVMValueRef r = rint_of(c, div_by_const(c, y, scale));
    LLVMValueRef q = LLVMBuildFAdd(c->B, r, mf_cg_fconst(c, t, zp), "");
    return nan_to_lo ? q : sel(c, fcmp(c, LLVMRealUNO, r, r), mf_cg_fconst(c, t, zp), q);
}

LLVMValueRef mf_cg_quantize_code(mf_cg_ctx *c, LLVMValueRef y, float scale, int zp)
{
    LLVMTypeRef t = LLVMTypeOf(y);
    if (fast_div(c, scale))
        return code_fast(c, y, -INFINITY, INFINITY, scale, zp);
    /* a division, as the reference: y * (1 / scale) rounds differently */
    LLVMValueRef r = rint_of(c, LLVMBuildFDiv(c->B, y, mf_cg_fconst(c, t, scale), ""));
    LLVMValueRef q = LLVMBuildFAdd(c->B, r, mf_cg_fconst(c, t, zp), "");
    q = sel(c, fcmp(c, LLVMRealOLT, q, mf_cg_fconst(c, t, -128)), mf_cg_fconst(c, t, -128), q);
    q = sel(c, fcmp(c, LLVMRealOGT, q, mf_cg_fconst(c, t, 127)), mf_cg_fconst(c, t, 127), q);
    return sel(c, fcmp(c, LLVMRealUNO, r, r), mf_cg_fconst(c, t, zp), q);
}

LLVMValueRef mf_cg_requantize(mf_cg_ctx *c, LLVMValueRef y, const mf_cg_requant *r)
{
    LLVMTypeRef t = LLVMTypeOf(y);
    if (fast_div(c, r->y_scale))
        return code_fast(c, y, r->lo, r->hi, r->y_scale, r->y_zp);
    if (r->lo > -INFINITY)
        y = sel(c, fcmp(c, LLVMRealOLT, y, mf_cg_fconst(c, t, r->lo)), mf_cg_fconst(c, t, r->lo), y);
    if (r->hi < INFINITY)
        y = sel(c, fcmp(c, LLVMRealOGT, y, mf_cg_fconst(c, t, r->hi)), mf_cg_fconst(c, t, r->hi), y);
    return mf_cg_quantize_code(c, y, r->y_scale, r->y_zp);
}

static bool is_x86(mf_cg_ctx *c);

bool mf_cg_packs_codes(mf_cg_ctx *c, unsigned w)
{
    /* SSE2's packs on 4 lanes; AVX2's on 8 (VNNI or the ubsw shape imply AVX2); AVX-512BW's
     * on 16 (LLVM cannot select them without BW: cascadelake with -avx512bw aborted) */
    return is_x86(c) && (w == 4 || (w == 8 && (c->shape.vnni || c->shape.ubsw)) ||
                         (w == 16 && c->shape.vnni && c->shape.bw));
}

/* The integer k when v is a constant vector of w lanes that all hold the float k, |k| <= 2^15. */
static bool int_splat(LLVMValueRef v, unsigned w, int *k)
{
    if (!LLVMIsAConstant(v))
        return false;
    double first = 0;
    for (unsigned i = 0; i < w; i++) {
        LLVMValueRef e = LLVMGetAggregateElement(v, i);
        LLVMBool lossy = 0;
        double d = e && LLVMIsAConstantFP(e) ? LLVMConstRealGetDouble(e, &lossy) : NAN;
        if (!(fabs(d) <= 32768.0) || d != floor(d) || (i && d != first))
            return false;
        first = d;
    }
    *k = (int)first;
    return true;
}

/* Codes built as rint(x) + zp (code_fast's): x rounded to i32 lanes by vcvtps2dq, which
 * rounds as rint does (to nearest even: the default mode, which nothing here changes) and
 * converts in one instruction where the sum's fptosi takes three (vrndscaleps, vaddps,
 * vcvttps2dq), and *zp, to add as an integer; NULL for any other form, or where the target
 * has no such conversion at w lanes.  A code is in -128..127, so x is far inside i32. */
static LLVMValueRef rounded_lanes(mf_cg_ctx *c, LLVMValueRef code, unsigned w, int *zp)
{
    unsigned rint_id = LLVMLookupIntrinsicID("llvm.rint", 9);
    if (!is_x86(c) || !(w == 4 || (w == 8 && c->shape.lanes >= 8) || (w == 16 && c->shape.lanes >= 16)) ||
        !LLVMIsAInstruction(code) || LLVMGetInstructionOpcode(code) != LLVMFAdd)
        return NULL;
    LLVMValueRef r = LLVMGetOperand(code, 0), k = LLVMGetOperand(code, 1);
    if (LLVMIsAConstant(r))
        r = k, k = LLVMGetOperand(code, 0);
    LLVMValueRef f = LLVMIsACallInst(r) ? LLVMGetCalledValue(r) : NULL;
    if (!f || !LLVMIsAFunction(f) || LLVMGetIntrinsicID(f) != rint_id || !int_splat(k, w, zp))
        return NULL;
    LLVMValueRef x = LLVMGetOperand(r, 0);
    LLVMTypeRef vi32 = LLVMVectorType(c->i32, w);
    if (w == 16) /* the masked form: all lanes, the current rounding mode (4) */
        return mf_cg_intrin2(c, "llvm.x86.avx512.mask.cvtps2dq.512", NULL, 0, vi32, 4,
                             (LLVMValueRef[]){x, LLVMGetPoison(vi32), LLVMConstInt(LLVMInt16TypeInContext(c->C), 0xffff, 0),
                                              LLVMConstInt(c->i32, 4, 0)});
    return mf_cg_intrin2(c, w == 8 ? "llvm.x86.avx.cvt.ps2dq.256" : "llvm.x86.sse2.cvtps2dq", NULL, 0, vi32, 1, &x);
}

/* The i32 codes from rounded_lanes' x and zp (x NULL: fptosi of code). */
static LLVMValueRef with_zp(mf_cg_ctx *c, LLVMValueRef code, LLVMValueRef x, int zp, unsigned w)
{
    if (!x)
        return LLVMBuildFPToSI(c->B, code, LLVMVectorType(c->i32, w), "");
    return zp ? LLVMBuildAdd(c->B, x, mf_cg_splat(c, LLVMConstInt(c->i32, (unsigned long long)zp, 1), w), "") : x;
}

LLVMValueRef mf_cg_codes_to_i32(mf_cg_ctx *c, LLVMValueRef code, unsigned w)
{
    int zp = 0;
    LLVMValueRef x = rounded_lanes(c, code, w, &zp);
    return with_zp(c, code, x, zp, w);
}

LLVMValueRef mf_cg_pack_codes(mf_cg_ctx *c, LLVMValueRef *codes, int n, unsigned w)
{
    const char *dw = w == 16 ? "llvm.x86.avx512.packssdw.512" : w == 8 ? "llvm.x86.avx2.packssdw" : "llvm.x86.sse2.packssdw.128";
    const char *wb = w == 16 ? "llvm.x86.avx512.packsswb.512" : w == 8 ? "llvm.x86.avx2.packsswb" : "llvm.x86.sse2.packsswb.128";
    LLVMTypeRef i16 = LLVMInt16TypeInContext(c->C), i16v = LLVMVectorType(i16, 2 * w);
    LLVMTypeRef i8v = LLVMVectorType(LLVMInt8TypeInContext(c->C), 4 * w);
    /* codes of one zero point added once per pair, as int16 between the packs: the codes
     * less zp, in -255..255, pass packssdw unsaturated, and the sums are the codes */
    LLVMValueRef x[4] = {0};
    int zk[4] = {0};
    bool shared = true;
    for (int k = 0; k < n; k++) {
        x[k] = rounded_lanes(c, codes[k], w, &zk[k]);
        shared &= x[k] && zk[k] == zk[0];
    }
    for (int k = 0; k < n && !shared; k++)
        x[k] = with_zp(c, codes[k], x[k], zk[k], w);
    int zp = zk[0];
    LLVMValueRef lo = mf_cg_intrin2(c, dw, NULL, 0, i16v, 2, (LLVMValueRef[]){x[0], x[1]});
    LLVMValueRef hi = n == 4 ? mf_cg_intrin2(c, dw, NULL, 0, i16v, 2, (LLVMValueRef[]){x[2], x[3]}) : lo;
    if (shared && zp) {
        LLVMValueRef z = mf_cg_splat(c, LLVMConstInt(i16, (unsigned long long)zp, 1), 2 * w);
        lo = LLVMBuildAdd(c->B, lo, z, "");
        hi = n == 4 ? LLVMBuildAdd(c->B, hi, z, "") : lo;
    }
    return mf_cg_intrin2(c, wb, NULL, 0, i8v, 2, (LLVMValueRef[]){lo, hi});
}

/* (q - zp) * scale: the real value of code q. */
static LLVMValueRef dequantize(mf_cg_ctx *c, LLVMValueRef q, float scale, int zp)
{
    LLVMTypeRef t = LLVMTypeOf(q);
    LLVMValueRef d = LLVMBuildFSub(c->B, q, mf_cg_fconst(c, t, zp), "");
    return LLVMBuildFMul(c->B, d, mf_cg_fconst(c, t, scale), "");
}

static float attr_f(const mf_node *n, const char *name)
{
    return (float)mf_attr_float(n->op, n->attrs, name);
}

static int attr_i(const mf_node *n, const char *name)
{
    return (int)mf_attr_int(n->op, n->attrs, name);
}

LLVMValueRef mf_cg_quant_op(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    switch (n->op) {
    case MF_OP_QUANTIZE: return mf_cg_quantize_code(c, in[0], attr_f(n, "scale"), attr_i(n, "zero_point"));
    case MF_OP_DEQUANTIZE: return dequantize(c, in[0], attr_f(n, "scale"), attr_i(n, "zero_point"));
    case MF_OP_QADD: {
        LLVMValueRef a = dequantize(c, in[0], attr_f(n, "a_scale"), attr_i(n, "a_zero_point"));
        LLVMValueRef b = dequantize(c, in[1], attr_f(n, "b_scale"), attr_i(n, "b_zero_point"));
        mf_cg_requant r = mf_cg_requant_of(n);
        return mf_cg_requantize(c, LLVMBuildFAdd(c->B, a, b, ""), &r);
    }
    default: return NULL;
    }
}

/* acc + the dot products of int16 pairs: the form LLVM 19 selects vpmaddwd (or vpdpwssd)
 * for; a and b hold 2W int16, the result W int32. */
static LLVMValueRef dot2_i16(mf_cg_ctx *c, LLVMValueRef a, LLVMValueRef b, unsigned w)
{
    LLVMTypeRef vi32 = LLVMVectorType(c->i32, w);
    LLVMValueRef sum = NULL;
    for (int odd = 0; odd < 2; odd++) {
        LLVMValueRef idx[4 * MF_CG_MAX_VW];
        for (unsigned l = 0; l < w; l++)
            idx[l] = LLVMConstInt(c->i32, 2 * l + (unsigned)odd, 0);
        LLVMValueRef mask = LLVMConstVector(idx, w);
        LLVMValueRef ah = LLVMBuildSExt(c->B, LLVMBuildShuffleVector(c->B, a, LLVMGetPoison(LLVMTypeOf(a)), mask, ""), vi32, "");
        LLVMValueRef bh = LLVMBuildSExt(c->B, LLVMBuildShuffleVector(c->B, b, LLVMGetPoison(LLVMTypeOf(b)), mask, ""), vi32, "");
        LLVMValueRef p = LLVMBuildMul(c->B, ah, bh, "");
        sum = sum ? LLVMBuildAdd(c->B, sum, p, "") : p;
    }
    return sum;
}

static bool is_x86(mf_cg_ctx *c)
{
    return !strncmp(LLVMGetTarget(c->M), "x86_64", 6);
}

/* The pair sums of a . b (n int16 each, n a multiple of 8) by SSE2's pmaddwd on each 128
 * bits (every x86-64 has it; the backend widens it where the target can): LLVM's own
 * matching of the generic form gives up once the int16 come from bytes. */
static LLVMValueRef pmaddwd(mf_cg_ctx *c, LLVMValueRef a, LLVMValueRef b, unsigned n)
{
    LLVMValueRef part[2 * MF_CG_MAX_VW / 4];
    unsigned np = n / 8;
    for (unsigned k = 0; k < np; k++) {
        LLVMValueRef idx[8];
        for (unsigned l = 0; l < 8; l++)
            idx[l] = LLVMConstInt(c->i32, 8 * k + l, 0);
        LLVMValueRef m = LLVMConstVector(idx, 8);
        LLVMValueRef ops[2] = {LLVMBuildShuffleVector(c->B, a, LLVMGetPoison(LLVMTypeOf(a)), m, ""),
                               LLVMBuildShuffleVector(c->B, b, LLVMGetPoison(LLVMTypeOf(b)), m, "")};
        part[k] = mf_cg_intrin2(c, "llvm.x86.sse2.pmadd.wd", NULL, 0, NULL, 2, ops);
    }
    /* concatenate the <4 x i32> parts, pairwise */
    for (unsigned len = 4; np > 1; len *= 2, np /= 2)
        for (unsigned k = 0; k < np / 2; k++) {
            LLVMValueRef idx[2 * MF_CG_MAX_VW];
            for (unsigned l = 0; l < 2 * len; l++)
                idx[l] = LLVMConstInt(c->i32, l, 0);
            part[k] = LLVMBuildShuffleVector(c->B, part[2 * k], part[2 * k + 1], LLVMConstVector(idx, 2 * len), "");
        }
    return part[0];
}

/* vnni is the 256-bit probe's (target.c); 16 lanes take 512-bit vectors of bytes: BW */
static bool has_dot4(const mf_cg_ctx *c, unsigned w)
{
    return c->shape.vnni && (w == 4 || w == 8 || (w == 16 && c->shape.bw));
}

mf_cg_target_shape mf_cg_int8_shape(const mf_cg_target_shape *s)
{
    mf_cg_target_shape t = *s;
    if (s->lanes != 16 || s->bw)
        return t;
    /* AVX-512F implies AVX2 and FMA; vnni (the probe's 256-bit vpdpwssd) needs VL */
    t.lanes = 8, t.vregs = 16, t.ubsw = !s->vnni, t.l2 = 512 * 1024, t.fma_ports = s->fma ? 2 : 0;
    return t;
}

/* Without 8-bit dot products an int8 product costs two multiplies per 32 (vpmaddubsw then
 * vpmaddwd, or pmaddwd on widened bytes): resnet18's 3x3 layers ran at 138-158 GOP/s on Zen 3
 * (AVX2, one core), f32 Winograd F(4,3) at 162-213 effective GFLOP/s.  With VNNI, int8 is
 * about twice f32 (docs/quantization.md). */
bool mf_cg_qconv_prefers_winograd(const mf_cg_target_shape *s)
{
    return !s->vnni && s->lanes >= 4;
}

LLVMTypeRef mf_cg_dot4_acc_type(mf_cg_ctx *c, unsigned w)
{
    return LLVMVectorType(c->i32, has_dot4(c, w) ? w : 2 * w);
}

LLVMValueRef mf_cg_dot4(mf_cg_ctx *c, LLVMValueRef acc, LLVMValueRef u, LLVMValueRef s)
{
    unsigned w = LLVMGetVectorSize(LLVMTypeOf(u));
    if (has_dot4(c, w)) {
        /* one vpdpbusd (the EVEX form with AVX-512 VNNI, the VEX form with AVX-VNNI) */
        const char *name = w == 16 ? "llvm.x86.avx512.vpdpbusd.512"
                           : w == 8 ? "llvm.x86.avx512.vpdpbusd.256" : "llvm.x86.avx512.vpdpbusd.128";
        LLVMValueRef ops[3] = {acc, u, s};
        return mf_cg_intrin2(c, name, NULL, 0, LLVMTypeOf(acc), 3, ops);
    }
    /* u8 x s8 in int16 (no saturation: vpmaddubsw's pairs could exceed int16) */
    LLVMTypeRef v8 = LLVMVectorType(LLVMInt8TypeInContext(c->C), 4 * w);
    LLVMTypeRef v16 = LLVMVectorType(LLVMInt16TypeInContext(c->C), 4 * w);
    LLVMValueRef a = LLVMBuildZExt(c->B, LLVMBuildBitCast(c->B, u, v8, ""), v16, "");
    LLVMValueRef b = LLVMBuildSExt(c->B, LLVMBuildBitCast(c->B, s, v8, ""), v16, "");
    return mf_cg_dot4_wide(c, acc, a, b);
}

/* vpmaddubsw's pair sums of u8 x s8 saturate at 32767; with pairs of weights of one sign
 * within MF_UBSW_PAIR_MAX they reach at most 255 x 128 = 32640, so the sums are exact and
 * vpmaddwd by ones takes them to int32: two multiplies per 32 products, as the int16 path,
 * on half its bytes. */
bool mf_cg_dot4_ubsw(const mf_cg_ctx *c, unsigned w, int64_t w_pair_max)
{
    return c->shape.ubsw && w == 8 && w_pair_max <= MF_UBSW_PAIR_MAX && is_x86((mf_cg_ctx *)c);
}

LLVMValueRef mf_cg_dot4_ubsw_step(mf_cg_ctx *c, LLVMValueRef acc, LLVMValueRef u, LLVMValueRef s)
{
    LLVMTypeRef i16 = LLVMInt16TypeInContext(c->C), v8 = LLVMVectorType(LLVMInt8TypeInContext(c->C), 32);
    LLVMValueRef ops[2] = {LLVMBuildBitCast(c->B, u, v8, ""), LLVMBuildBitCast(c->B, s, v8, "")};
    LLVMValueRef pairs = mf_cg_intrin2(c, "llvm.x86.avx2.pmadd.ub.sw", NULL, 0, NULL, 2, ops);
    LLVMValueRef wd[2] = {pairs, mf_cg_splat(c, LLVMConstInt(i16, 1, 0), 16)};
    return LLVMBuildAdd(c->B, acc, mf_cg_intrin2(c, "llvm.x86.avx2.pmadd.wd", NULL, 0, NULL, 2, wd), "");
}

bool mf_cg_dot4_widens(const mf_cg_ctx *c, unsigned w)
{
    return !has_dot4(c, w);
}

/* the two pair sums of each lane stay apart in the accumulator until mf_cg_dot4_sum */
LLVMValueRef mf_cg_dot4_wide(mf_cg_ctx *c, LLVMValueRef acc, LLVMValueRef a, LLVMValueRef b)
{
    unsigned n = LLVMGetVectorSize(LLVMTypeOf(a)); /* 4W int16 */
    LLVMValueRef pairs = is_x86(c) && n % 8 == 0 ? pmaddwd(c, a, b, n) : dot2_i16(c, a, b, n / 2);
    return LLVMBuildAdd(c->B, acc, pairs, "");
}

LLVMValueRef mf_cg_dot4_sum(mf_cg_ctx *c, LLVMValueRef acc, unsigned w)
{
    if (has_dot4(c, w))
        return acc;
    LLVMValueRef idx[2][MF_CG_MAX_VW];
    for (unsigned l = 0; l < w; l++) {
        idx[0][l] = LLVMConstInt(c->i32, 2 * l, 0);
        idx[1][l] = LLVMConstInt(c->i32, 2 * l + 1, 0);
    }
    LLVMValueRef pz = LLVMGetPoison(LLVMTypeOf(acc));
    LLVMValueRef lo = LLVMBuildShuffleVector(c->B, acc, pz, LLVMConstVector(idx[0], w), "");
    LLVMValueRef hi = LLVMBuildShuffleVector(c->B, acc, pz, LLVMConstVector(idx[1], w), "");
    return LLVMBuildAdd(c->B, lo, hi, "");
}

bool mf_cg_masked_bytes(const mf_cg_ctx *c)
{
    return c->shape.vregs >= 32;
}

/* Without AVX-512 there are no masked byte loads (LLVM would test and load each byte): one
 * plain load where the bytes lie inside the row, else n bytes from clamped addresses. */
LLVMValueRef mf_cg_load_row_bytes(mf_cg_ctx *c, LLVMValueRef plane, int64_t h, int64_t w, LLVMValueRef iy,
                                  LLVMValueRef x0, LLVMValueRef ok, int fill)
{
    LLVMTypeRef i8 = LLVMInt8TypeInContext(c->C), vt = LLVMTypeOf(ok);
    unsigned n = LLVMGetVectorSize(vt);
    vt = LLVMVectorType(i8, n);
    LLVMValueRef fb = LLVMConstInt(i8, (unsigned long long)(fill & 0xff), 0), zero = mf_cg_i64(c, 0);
    if (mf_cg_masked_bytes(c)) {
        LLVMValueRef at = mf_cg_ix_add(c, mf_cg_ix_mulk(c, iy, w), x0);
        LLVMValueRef ops[4] = {LLVMBuildGEP2(c->B, i8, plane, &at, 1, ""), LLVMConstInt(c->i32, 1, 0), ok, mf_cg_splat(c, fb, n)};
        LLVMTypeRef tys[2] = {vt, c->ptr};
        return mf_cg_intrin2(c, "llvm.masked.load", tys, 2, vt, 4, ops);
    }
    LLVMBasicBlockRef whole = LLVMAppendBasicBlockInContext(c->C, c->body, "whole");
    LLVMBasicBlockRef edge = LLVMAppendBasicBlockInContext(c->C, c->body, "edge");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(c->C, c->body, "join");
    LLVMValueRef inside = LLVMConstInt(c->i1, 0, 0);
    if (w >= (int64_t)n) /* unsigned: a negative x0 is past w - n */
        inside = LLVMBuildAnd(c->B, LLVMBuildICmp(c->B, LLVMIntULT, iy, mf_cg_i64(c, h), ""),
                              LLVMBuildICmp(c->B, LLVMIntULE, x0, mf_cg_i64(c, w - (int64_t)n), ""), "");
    LLVMBuildCondBr(c->B, inside, whole, edge);
    LLVMPositionBuilderAtEnd(c->B, whole);
    LLVMValueRef at = mf_cg_ix_add(c, mf_cg_ix_mulk(c, iy, w), x0);
    LLVMValueRef xw = LLVMBuildLoad2(c->B, vt, LLVMBuildGEP2(c->B, i8, plane, &at, 1, ""), "");
    LLVMSetAlignment(xw, 1);
    LLVMBuildBr(c->B, join);
    LLVMPositionBuilderAtEnd(c->B, edge);
    LLVMValueRef yc = mf_cg_ix_smink(c, sel(c, LLVMBuildICmp(c->B, LLVMIntSLT, iy, zero, ""), zero, iy), h - 1);
    LLVMValueRef row = mf_cg_ix_mulk(c, yc, w), xe = mf_cg_splat(c, fb, n);
    for (unsigned l = 0; l < n; l++) {
        LLVMValueRef xi = mf_cg_ix_addk(c, x0, l);
        xi = mf_cg_ix_smink(c, sel(c, LLVMBuildICmp(c->B, LLVMIntSLT, xi, zero, ""), zero, xi), w - 1);
        xi = mf_cg_ix_add(c, row, xi);
        LLVMValueRef lane = LLVMConstInt(c->i32, l, 0);
        LLVMValueRef b = LLVMBuildLoad2(c->B, i8, LLVMBuildGEP2(c->B, i8, plane, &xi, 1, ""), "");
        xe = LLVMBuildInsertElement(c->B, xe, sel(c, LLVMBuildExtractElement(c->B, ok, lane, ""), b, fb), lane, "");
    }
    return join_two(c, join, xw, whole, xe);
}

/* u = x + 128 (x ^ 0x80), or when wide the int16 x - zp, of bytes x (a vector or one). */
static LLVMValueRef staged(mf_cg_ctx *c, LLVMValueRef x, int zp, bool wide)
{
    LLVMTypeRef i8 = LLVMInt8TypeInContext(c->C), i16 = LLVMInt16TypeInContext(c->C), t = LLVMTypeOf(x);
    unsigned n = LLVMGetTypeKind(t) == LLVMVectorTypeKind ? LLVMGetVectorSize(t) : 1;
    if (!wide)
        return LLVMBuildXor(c->B, x, mf_cg_splat(c, LLVMConstInt(i8, 0x80, 0), n), "");
    return LLVMBuildSub(c->B, LLVMBuildSExt(c->B, x, n > 1 ? LLVMVectorType(i16, n) : i16, ""),
                        mf_cg_splat(c, LLVMConstInt(i16, (unsigned long long)(zp & 0xffff), 0), n), "");
}

/* The padding first (V elements at a time), then, for a row inside the plane, its bytes
 * over it: whole vectors, the last one ending at the row's end (overlapping the one
 * before; narrower vectors for a row shorter than V), or byte by byte for a row under 4
 * bytes.  No masks: AVX2 has no masked byte loads (LLVM would load byte by byte). */
void mf_cg_stage_qrow(mf_cg_ctx *c, LLVMValueRef plane, int64_t h, int64_t w, LLVMValueRef iy, int64_t pw, int64_t wp,
                      int V, int zp, bool wide, LLVMValueRef dst)
{
    LLVMTypeRef i8 = LLVMInt8TypeInContext(c->C), et = wide ? LLVMInt16TypeInContext(c->C) : i8;
    LLVMValueRef pad = staged(c, mf_cg_splat(c, LLVMConstInt(i8, (unsigned long long)(zp & 0xff), 0), (unsigned)V), zp, wide);
    mf_cg_loop cc, k;
    mf_cg_loop_begin(c, &cc, mf_cg_i64(c, 0), mf_cg_i64(c, wp / V));
    LLVMValueRef at = mf_cg_ix_mulk(c, cc.iv, V);
    LLVMSetAlignment(LLVMBuildStore(c->B, pad, LLVMBuildGEP2(c->B, et, dst, &at, 1, "")), 1);
    mf_cg_loop_end(c, &cc, 1);
    int64_t n = pw >= wp ? 0 : w < wp - pw ? w : wp - pw; /* the row's bytes that land in dst */
    if (n == 0)
        return;
    LLVMBasicBlockRef in = LLVMAppendBasicBlockInContext(c->C, c->body, "row");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->C, c->body, "staged");
    LLVMBuildCondBr(c->B, LLVMBuildICmp(c->B, LLVMIntULT, iy, mf_cg_i64(c, h), ""), in, done);
    LLVMPositionBuilderAtEnd(c->B, in);
    LLVMValueRef src = LLVMBuildGEP2(c->B, i8, plane, (LLVMValueRef[]){mf_cg_ix_mulk(c, iy, w)}, 1, "");
    LLVMValueRef out = LLVMBuildGEP2(c->B, et, dst, (LLVMValueRef[]){mf_cg_i64(c, pw)}, 1, "");
    while (V > 4 && V > n) /* a short row: narrower vectors, still overlapping */
        V /= 2;
    if (n >= V) {
        LLVMTypeRef vt = LLVMVectorType(i8, (unsigned)V);
        mf_cg_loop_begin(c, &k, mf_cg_i64(c, 0), mf_cg_i64(c, (n + V - 1) / V));
        LLVMValueRef off = mf_cg_ix_smink(c, mf_cg_ix_mulk(c, k.iv, V), n - V); /* the last ends at n */
        LLVMValueRef x = LLVMBuildLoad2(c->B, vt, LLVMBuildGEP2(c->B, i8, src, &off, 1, ""), "");
        LLVMSetAlignment(x, 1);
        LLVMSetAlignment(LLVMBuildStore(c->B, staged(c, x, zp, wide), LLVMBuildGEP2(c->B, et, out, &off, 1, "")), 1);
        mf_cg_loop_end(c, &k, 1);
    } else {
        mf_cg_loop_begin(c, &k, mf_cg_i64(c, 0), mf_cg_i64(c, n));
        LLVMValueRef x = LLVMBuildLoad2(c->B, i8, LLVMBuildGEP2(c->B, i8, src, &k.iv, 1, ""), "");
        LLVMBuildStore(c->B, staged(c, x, zp, wide), LLVMBuildGEP2(c->B, et, out, &k.iv, 1, ""));
        mf_cg_loop_end_scalar(c, &k, 1);
    }
    LLVMBuildBr(c->B, done);
    LLVMPositionBuilderAtEnd(c->B, done);
}
