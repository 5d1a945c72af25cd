/* qdot.c — the K loop that qlinear (lower_qconv.c) and qmatmul's unblocked path
 * (lower_qmatmul.c) share: two int32 sums of one row pair along K by the target's 8-bit dot
 * product (mf_cg_dot4), each caller passing the step that feeds them.  One implementation of
 * the chained accumulators, whole blocks, masked tail and reduction. */
#include "cg_internal.h"

/* Independent sums along K, steps taken in turn: one chain of vpdpbusd waits its latency (5
 * cycles) at every step, where the target issues two a cycle (integer sums: any order). */
#define QL_CHAINS 4

static LLVMValueRef reduce_add(mf_cg_ctx *c, LLVMValueRef v)
{
    return mf_cg_intrin(c, "llvm.vector.reduce.add", LLVMTypeOf(v), 1, &v);
}

LLVMValueRef mf_cg_load_quads(mf_cg_ctx *c, LLVMValueRef ptr, int w, int64_t valid)
{
    LLVMTypeRef v8 = LLVMVectorType(LLVMInt8TypeInContext(c->C), (unsigned)(4 * w));
    LLVMValueRef x;
    if (valid >= 4 * w) {
        x = LLVMBuildLoad2(c->B, v8, ptr, "");
        LLVMSetAlignment(x, 1);
    } else {
        LLVMValueRef bits[4 * MF_CG_MAX_VW];
        for (int l = 0; l < 4 * w; l++)
            bits[l] = LLVMConstInt(c->i1, l < valid, 0);
        LLVMValueRef ops[4] = {ptr, LLVMConstInt(c->i32, 1, 0), LLVMConstVector(bits, (unsigned)(4 * w)), LLVMConstNull(v8)};
        LLVMTypeRef tys[2] = {v8, c->ptr};
        x = mf_cg_intrin2(c, "llvm.masked.load", tys, 2, v8, 4, ops);
    }
    return LLVMBuildBitCast(c->B, x, LLVMVectorType(c->i32, (unsigned)w), "");
}

void mf_cg_qdot_sums(mf_cg_ctx *c, mf_cg_qdot_step *step, LLVMValueRef xr, LLVMValueRef wr, int64_t K, int W,
                     LLVMValueRef out[2])
{
    LLVMTypeRef vacc = mf_cg_dot4_acc_type(c, (unsigned)W); /* all lanes are summed: no pairing */
    int64_t blk = 4 * (int64_t)W, nfull = K / blk;
    LLVMValueRef acc[QL_CHAINS][2];
    for (int ch = 0; ch < QL_CHAINS; ch++)
        for (int a = 0; a < 2; a++) {
            acc[ch][a] = mf_cg_entry_alloca(c, vacc);
            LLVMBuildStore(c->B, LLVMConstNull(vacc), acc[ch][a]);
        }
    mf_cg_loop k;
    mf_cg_loop_begin(c, &k, mf_cg_i64(c, 0), mf_cg_i64(c, nfull / QL_CHAINS));
    for (int ch = 0; ch < QL_CHAINS; ch++)
        step(c, xr, wr, mf_cg_ix_mulk(c, mf_cg_ix_madd(c, k.iv, QL_CHAINS, mf_cg_i64(c, ch)), blk), W, blk, acc[ch]);
    mf_cg_loop_end(c, &k, 1);
    for (int64_t b = nfull / QL_CHAINS * QL_CHAINS; b < nfull; b++)
        step(c, xr, wr, mf_cg_i64(c, b * blk), W, blk, acc[b % QL_CHAINS]);
    if (K % blk)
        step(c, xr, wr, mf_cg_i64(c, nfull * blk), W, K % blk, acc[nfull % QL_CHAINS]);
    for (int a = 0; a < 2; a++) {
        LLVMValueRef sum = LLVMBuildLoad2(c->B, vacc, acc[0][a], "");
        for (int ch = 1; ch < QL_CHAINS; ch++)
            sum = LLVMBuildAdd(c->B, sum, LLVMBuildLoad2(c->B, vacc, acc[ch][a], ""), "");
        out[a] = reduce_add(c, sum);
    }
}
