/* lower_qmatmul.c — qmatmul: a [.., M, K] . b [.., K, N] of two int8 activations, both with
 * zero points (attention's q k^T and softmax . v), int32 sums by the target's 8-bit dot
 * product (mf_cg_dot4) and the requantization in the epilogue, where dequantize and any f32
 * op after it fuse (codegen/quant.c).  With u = a + 128 (a ^ 0x80, unsigned for vpdpbusd):
 *   sum (a - azp)(b - bzp) = sum u b - (128 + azp) sum b - bzp (sum u - (128 + azp) K).
 *
 * Blocked (vector targets): a work item is one batch and a block of NR = NV x W columns of b,
 * packed once on the stack as bp[K/4][NR][4] (four k of one column in one i32 lane: a
 * vector of bp is one dot-product operand; zero past K and past N), with its column sums.
 * Rows of a then go MR at a time over K: one broadcast quad of u per row and k quad, NV
 * vector loads of bp, MR x NV accumulators in registers (6 x 4 with 32 registers and VNNI's
 * vpdpbusd; without VNNI the products are int16, vpmaddwd, each accumulator two registers,
 * and the tile's rows are staged as int16 once so a step broadcasts a quad from memory).  The row sums of u come from a dot product with ones per row (1 / NR of the
 * work).  The scalar path, and a K whose bp would not fit the stack, take one output at a
 * time along K (the shared K loop, codegen/qdot.c). */
#include <math.h>
#include <stdlib.h>

#include "cg_internal.h"

#define QM_MR 6
#define QM_NV_MAX 4
#define QM_PACK_BYTES (192 * 1024) /* bp on the kernel's stack: at most about L2 / 5 */

static LLVMValueRef gep8(mf_cg_ctx *c, LLVMValueRef base, LLVMValueRef idx)
{
    return LLVMBuildGEP2(c->B, LLVMInt8TypeInContext(c->C), base, &idx, 1, "");
}

static LLVMValueRef splat_i32(mf_cg_ctx *c, LLVMValueRef x, int w)
{
    LLVMValueRef v = LLVMBuildInsertElement(c->B, LLVMGetPoison(LLVMVectorType(c->i32, (unsigned)w)), x,
                                            LLVMConstInt(c->i32, 0, 0), "");
    return LLVMBuildShuffleVector(c->B, v, LLVMGetPoison(LLVMTypeOf(v)),
                                  LLVMConstNull(LLVMVectorType(c->i32, (unsigned)w)), "");
}

/* The operands and constants of one qmatmul node. */
typedef struct qmm {
    mf_cg_ctx *c;
    const mf_node *n;
    int nepi;
    const mf_value *const *epi;
    int64_t M, K, N, KQ, batches, bstride;
    int azp, bzp;
    float s;
    mf_cg_requant rq;
    LLVMValueRef a, b;
} qmm;

/* ---- one output at a time --------------------------------------------------------------- */

/* u = x + 128 for the block of 4W bytes of row xr at byte k, and *ones: bytes of 1 below
 * `valid`, 0 past it (u . ones is the block's share of the row sum). */
static LLVMValueRef load_u(mf_cg_ctx *c, LLVMValueRef xr, LLVMValueRef k, int w, int64_t valid, LLVMValueRef *ones)
{
    LLVMValueRef flip = splat_i32(c, LLVMConstInt(c->i32, 0x80808080u, 0), w), bytes[4 * MF_CG_MAX_VW];
    for (int l = 0; l < 4 * w; l++)
        bytes[l] = LLVMConstInt(LLVMInt8TypeInContext(c->C), l < valid, 0);
    *ones = LLVMBuildBitCast(c->B, LLVMConstVector(bytes, (unsigned)(4 * w)), LLVMVectorType(c->i32, (unsigned)w), "");
    return LLVMBuildXor(c->B, mf_cg_load_quads(c, gep8(c, xr, k), w, valid), flip, "");
}

/* acc[0] + u . w and acc[1] + u . 1 (ones only below `valid`) over one block of 4W bytes of K
 * at byte k, u = x + 128 (qmatmul's row sums). */
static void qmatmul_step(mf_cg_ctx *c, LLVMValueRef xr, LLVMValueRef wr, LLVMValueRef k, int w, int64_t valid,
                         const LLVMValueRef acc[2])
{
    LLVMTypeRef vacc = mf_cg_dot4_acc_type(c, (unsigned)w);
    LLVMValueRef ones, xu = load_u(c, xr, k, w, valid, &ones);
    LLVMValueRef wv = mf_cg_load_quads(c, gep8(c, wr, k), w, valid);
    LLVMBuildStore(c->B, mf_cg_dot4(c, LLVMBuildLoad2(c->B, vacc, acc[0], ""), xu, wv), acc[0]);
    LLVMBuildStore(c->B, mf_cg_dot4(c, LLVMBuildLoad2(c->B, vacc, acc[1], ""), xu, ones), acc[1]);
}

/* The sum as i32 (any lanes) from sum u b, the column sums of b and the row sums of u. */
static LLVMValueRef corrected(qmm *q, LLVMValueRef ub, LLVMValueRef bs, LLVMValueRef us)
{
    mf_cg_ctx *c = q->c;
    LLVMTypeRef t = LLVMTypeOf(ub);
    unsigned w = LLVMGetTypeKind(t) == LLVMVectorTypeKind ? LLVMGetVectorSize(t) : 1;
    LLVMValueRef off = LLVMConstInt(c->i32, (unsigned long long)(128 + q->azp), 0);
    LLVMValueRef asum = LLVMBuildSub(c->B, us, LLVMConstInt(c->i32, (unsigned long long)((128 + q->azp) * q->K), 0), "");
    LLVMValueRef bcorr = LLVMBuildMul(c->B, asum, LLVMConstInt(c->i32, (unsigned long long)(int64_t)q->bzp, 1), "");
    if (w > 1 && LLVMGetTypeKind(LLVMTypeOf(bcorr)) != LLVMVectorTypeKind)
        bcorr = splat_i32(c, bcorr, (int)w);
    LLVMValueRef sum = LLVMBuildSub(c->B, ub, LLVMBuildMul(c->B, bs, w > 1 ? splat_i32(c, off, (int)w) : off, ""), "");
    return LLVMBuildSub(c->B, sum, bcorr, "");
}

static LLVMValueRef requantized(qmm *q, LLVMValueRef sum)
{
    mf_cg_ctx *c = q->c;
    LLVMTypeRef ft = LLVMGetTypeKind(LLVMTypeOf(sum)) == LLVMVectorTypeKind
                         ? LLVMVectorType(c->f32, LLVMGetVectorSize(LLVMTypeOf(sum))) : c->f32;
    LLVMValueRef y = LLVMBuildFMul(c->B, LLVMBuildSIToFP(c->B, sum, ft, ""), mf_cg_fconst(c, ft, q->s), "");
    return mf_cg_requantize(c, y, &q->rq);
}

/* A work item is one column j of one batch's b, copied once into a stack buffer (K bytes,
 * laid out as qlinear's weight row) with its sum; each row of a is then a dot product along
 * K, sum u by a dot product with ones (zero past K in the tail). */
static mf_status unblocked(qmm *q)
{
    mf_cg_ctx *c = q->c;
    const mf_type *ot = &q->n->outputs[0]->type;
    int64_t K = q->K, N = q->N, M = q->M;
    int W = c->vw;
    LLVMTypeRef i8 = LLVMInt8TypeInContext(c->C);
    LLVMValueRef col = mf_cg_entry_alloca(c, LLVMArrayType2(i8, (uint64_t)(K + 4 * (int64_t)W)));
    LLVMValueRef bsum = mf_cg_entry_alloca(c, c->i32);
    mf_cg_point *p = mf_cg_conv_point(q->n->outputs[0], -1, 1, 0, NULL);
    if (!p)
        return MF_ERR_NOMEM;
    LLVMValueRef lo, hi;
    mf_cg_part_range(c, q->batches * N, 1, &lo, &hi);
    mf_cg_loop items;
    mf_cg_loop_begin(c, &items, lo, hi);
    LLVMValueRef bi = mf_cg_ix_udivk(c, items.iv, N), j = LLVMBuildURem(c->B, items.iv, mf_cg_i64(c, N), "");
    LLVMValueRef bcol = gep8(c, q->b, mf_cg_ix_add(c, mf_cg_ix_mulk(c, bi, q->bstride), j));
    LLVMBuildStore(c->B, LLVMConstInt(c->i32, 0, 0), bsum);
    mf_cg_loop k;
    mf_cg_loop_begin(c, &k, mf_cg_i64(c, 0), mf_cg_i64(c, K));
    LLVMValueRef v = LLVMBuildLoad2(c->B, i8, gep8(c, bcol, mf_cg_ix_mulk(c, k.iv, N)), "");
    LLVMBuildStore(c->B, v, gep8(c, col, k.iv));
    LLVMBuildStore(c->B, LLVMBuildAdd(c->B, LLVMBuildLoad2(c->B, c->i32, bsum, ""), LLVMBuildSExt(c->B, v, c->i32, ""), ""),
                   bsum);
    mf_cg_loop_end(c, &k, 1);
    LLVMValueRef bs = LLVMBuildLoad2(c->B, c->i32, bsum, "");
    mf_cg_loop rows;
    mf_cg_loop_begin(c, &rows, mf_cg_i64(c, 0), mf_cg_i64(c, M));
    LLVMValueRef r = mf_cg_ix_madd(c, bi, M, rows.iv), xr = gep8(c, q->a, mf_cg_ix_mulk(c, r, K));
    LLVMValueRef sums[2];
    mf_cg_qdot_sums(c, qmatmul_step, xr, col, K, W, sums);
    mf_cg_unravel(c, r, ot->rank - 1, ot->shape, p->coord);
    p->coord[ot->rank - 1] = j;
    p->core_val = requantized(q, corrected(q, sums[0], bs, sums[1]));
    p->nmemo = 0;
    mf_status err = mf_cg_store_epilogue(c, p, q->nepi, q->epi);
    mf_cg_loop_end(c, &rows, 1);
    mf_cg_loop_end(c, &items, 1);
    free(p);
    return err;
}

/* ---- blocked: NR columns of b packed, MR x NV tiles ------------------------------------- */

typedef struct qblk {
    qmm *q;
    int W, MR, NV, NR;
    int64_t nblk;                      /* column blocks per batch */
    LLVMTypeRef vi32, vacc;
    bool wide;                         /* no VNNI: int16 products (vpmaddwd) */
    LLVMValueRef bp, csum, usum;       /* stack: packed block, column sums (NV x W), row sums (MR) */
    LLVMValueRef a16;                  /* wide: the tile's rows as int16 u, [MR][4 KQ] */
    LLVMValueRef acc[QM_MR * QM_NV_MAX];
    LLVMValueRef bi, n0;               /* the work item: batch, first column */
} qblk;

/* Which tile the target's registers hold: MR rows x NV vectors of columns, NV no more than
 * the columns need. */
static void plan(qblk *k)
{
    const mf_cg_ctx *c = k->q->c;
    bool wide = k->wide = mf_cg_dot4_widens(c, (unsigned)c->vw);
    k->W = c->vw;
    k->MR = QM_MR;
    k->NV = wide ? (c->shape.vregs >= 32 ? 2 : 1) : (c->shape.vregs >= 32 ? 4 : 2);
    int64_t need = (k->q->N + k->W - 1) / k->W;
    if (k->NV > need)
        k->NV = (int)need;
    if (k->MR > k->q->M)
        k->MR = (int)k->q->M;
    k->NR = k->NV * k->W;
    k->nblk = (k->q->N + k->NR - 1) / k->NR;
}

/* bp[kq][n][j] = b[4 kq + j][n0 + n], 0 past K or N; whole blocks by vector loads of four
 * rows interleaved, the last block byte by byte over a zeroed bp. */
static void pack_block(qblk *k, LLVMValueRef bb)
{
    qmm *q = k->q;
    mf_cg_ctx *c = q->c;
    LLVMTypeRef i8 = LLVMInt8TypeInContext(c->C), vW = LLVMVectorType(i8, (unsigned)k->W);
    LLVMValueRef full = LLVMBuildICmp(c->B, LLVMIntSLE, mf_cg_ix_addk(c, k->n0, k->NR), mf_cg_i64(c, q->N), "");
    LLVMBasicBlockRef vec = LLVMAppendBasicBlockInContext(c->C, c->body, "pack_vec");
    LLVMBasicBlockRef edge = LLVMAppendBasicBlockInContext(c->C, c->body, "pack_edge");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->C, c->body, "packed");
    LLVMBuildCondBr(c->B, full, vec, edge);

    LLVMPositionBuilderAtEnd(c->B, vec);
    mf_cg_loop kq;
    mf_cg_loop_begin(c, &kq, mf_cg_i64(c, 0), mf_cg_i64(c, q->KQ));
    for (int v = 0; v < k->NV; v++) {
        LLVMValueRef r[4];
        for (int j = 0; j < 4; j++) {
            LLVMValueRef kk = mf_cg_ix_addk(c, mf_cg_ix_mulk(c, kq.iv, 4), j);
            LLVMValueRef in = LLVMBuildICmp(c->B, LLVMIntSLT, kk, mf_cg_i64(c, q->K), "");
            LLVMValueRef row = mf_cg_ix_smink(c, kk, q->K - 1); /* in range; zero where k >= K */
            LLVMValueRef src = gep8(c, bb, mf_cg_ix_add(c, mf_cg_ix_mulk(c, row, q->N), mf_cg_ix_addk(c, k->n0, v * k->W)));
            LLVMValueRef x = LLVMBuildLoad2(c->B, vW, src, "");
            LLVMSetAlignment(x, 1);
            r[j] = q->K % 4 ? LLVMBuildSelect(c->B, in, x, LLVMConstNull(vW), "") : x;
        }
        LLVMValueRef m[4 * MF_CG_MAX_VW], cat[2 * MF_CG_MAX_VW];
        for (int i = 0; i < 2 * k->W; i++)
            cat[i] = LLVMConstInt(c->i32, (unsigned long long)i, 0);
        for (int p = 0; p < k->W; p++)
            for (int j = 0; j < 4; j++)
                m[4 * p + j] = LLVMConstInt(c->i32, (unsigned long long)(j * k->W + p), 0);
        LLVMValueRef lo = LLVMBuildShuffleVector(c->B, r[0], r[1], LLVMConstVector(cat, (unsigned)(2 * k->W)), "");
        LLVMValueRef hi = LLVMBuildShuffleVector(c->B, r[2], r[3], LLVMConstVector(cat, (unsigned)(2 * k->W)), "");
        LLVMValueRef quads = LLVMBuildShuffleVector(c->B, lo, hi, LLVMConstVector(m, (unsigned)(4 * k->W)), "");
        LLVMValueRef dst = gep8(c, k->bp, mf_cg_ix_mulk(c, mf_cg_ix_madd(c, kq.iv, k->NR, mf_cg_i64(c, v * k->W)), 4));
        LLVMSetAlignment(LLVMBuildStore(c->B, quads, dst), 1);
    }
    mf_cg_loop_end(c, &kq, 1);
    LLVMBuildBr(c->B, done);

    LLVMPositionBuilderAtEnd(c->B, edge);
    mf_cg_loop z;
    mf_cg_loop_begin(c, &z, mf_cg_i64(c, 0), mf_cg_i64(c, q->KQ * k->NR));
    LLVMBuildStore(c->B, LLVMConstInt(c->i32, 0, 0), LLVMBuildGEP2(c->B, c->i32, k->bp, &z.iv, 1, ""));
    mf_cg_loop_end(c, &z, 1);
    mf_cg_loop kk, nn;
    mf_cg_loop_begin(c, &kk, mf_cg_i64(c, 0), mf_cg_i64(c, q->K));
    LLVMValueRef ncols = LLVMBuildSub(c->B, mf_cg_i64(c, q->N), k->n0, "");
    mf_cg_loop_begin(c, &nn, mf_cg_i64(c, 0), ncols);
    LLVMValueRef x = LLVMBuildLoad2(c->B, i8, gep8(c, bb, mf_cg_ix_add(c, mf_cg_ix_mulk(c, kk.iv, q->N), mf_cg_ix_add(c, k->n0, nn.iv))), "");
    LLVMValueRef at = mf_cg_ix_add(c, mf_cg_ix_mulk(c, mf_cg_ix_madd(c, mf_cg_ix_udivk(c, kk.iv, 4), k->NR, nn.iv), 4),
                                   LLVMBuildURem(c->B, kk.iv, mf_cg_i64(c, 4), ""));
    LLVMBuildStore(c->B, x, gep8(c, k->bp, at));
    mf_cg_loop_end(c, &nn, 1);
    mf_cg_loop_end(c, &kk, 1);
    LLVMBuildBr(c->B, done);
    LLVMPositionBuilderAtEnd(c->B, done);
}

/* csum[v] = the column sums of b over the block's NV vectors (a dot product of bp with ones). */
static void column_sums(qblk *k)
{
    mf_cg_ctx *c = k->q->c;
    LLVMValueRef ones = splat_i32(c, LLVMConstInt(c->i32, 0x01010101u, 0), k->W);
    for (int v = 0; v < k->NV; v++)
        LLVMBuildStore(c->B, LLVMConstNull(k->vacc), k->acc[v]);
    mf_cg_loop kq;
    mf_cg_loop_begin(c, &kq, mf_cg_i64(c, 0), mf_cg_i64(c, k->q->KQ));
    for (int v = 0; v < k->NV; v++) {
        LLVMValueRef src = LLVMBuildGEP2(c->B, c->i32, k->bp, (LLVMValueRef[]){mf_cg_ix_madd(c, kq.iv, k->NR, mf_cg_i64(c, v * k->W))}, 1, "");
        LLVMValueRef bv = LLVMBuildLoad2(c->B, k->vi32, src, "");
        LLVMSetAlignment(bv, 4);
        LLVMBuildStore(c->B, mf_cg_dot4(c, LLVMBuildLoad2(c->B, k->vacc, k->acc[v], ""), ones, bv), k->acc[v]);
    }
    mf_cg_loop_end(c, &kq, 1);
    for (int v = 0; v < k->NV; v++) {
        LLVMValueRef s = mf_cg_dot4_sum(c, LLVMBuildLoad2(c->B, k->vacc, k->acc[v], ""), (unsigned)k->W);
        LLVMBuildStore(c->B, s, LLVMBuildGEP2(c->B, k->vi32, k->csum, (LLVMValueRef[]){mf_cg_i64(c, v)}, 1, ""));
    }
}

/* usum[i] = sum u over row i of a (row pointer xr), by the shared K loop (its second sum). */
static void usum_step(mf_cg_ctx *c, LLVMValueRef xr, LLVMValueRef wr, LLVMValueRef k, int w, int64_t valid,
                      const LLVMValueRef acc[2])
{
    (void)wr;
    LLVMTypeRef vacc = mf_cg_dot4_acc_type(c, (unsigned)w);
    LLVMValueRef ones, xu = load_u(c, xr, k, w, valid, &ones);
    LLVMBuildStore(c->B, mf_cg_dot4(c, LLVMBuildLoad2(c->B, vacc, acc[1], ""), xu, ones), acc[1]);
}

/* The quad of row xr at k quad kq as an i32 (bytes past K: 0; their bp bytes are 0 too). */
static LLVMValueRef row_quad(qblk *k, LLVMValueRef xr, LLVMValueRef kq, bool tail)
{
    mf_cg_ctx *c = k->q->c;
    LLVMValueRef p = gep8(c, xr, mf_cg_ix_mulk(c, kq, 4));
    if (!tail) {
        LLVMValueRef x = LLVMBuildLoad2(c->B, c->i32, p, "");
        LLVMSetAlignment(x, 1);
        return x;
    }
    LLVMValueRef x = LLVMConstInt(c->i32, 0, 0);
    for (int64_t j = 0; j < k->q->K % 4; j++) {
        LLVMValueRef b = LLVMBuildLoad2(c->B, LLVMInt8TypeInContext(c->C), gep8(c, p, mf_cg_i64(c, j)), "");
        b = LLVMBuildShl(c->B, LLVMBuildZExt(c->B, b, c->i32, ""), LLVMConstInt(c->i32, (unsigned long long)(8 * j), 0), "");
        x = LLVMBuildOr(c->B, x, b, "");
    }
    return x;
}

/* Without VNNI: a16[i] = the int16 u of row xr (16 bytes a vector; the bytes of the last
 * quad past K are 0), so the tile's steps broadcast a quad of u from memory (vpbroadcastq:
 * no shuffle-port work per row and step, which bounded the AVX2 kernel). */
static void stage_row16(qblk *k, LLVMValueRef xr, int i)
{
    mf_cg_ctx *c = k->q->c;
    int64_t K = k->q->K, nv = K / 16;
    LLVMTypeRef i8 = LLVMInt8TypeInContext(c->C), i16 = LLVMInt16TypeInContext(c->C);
    LLVMTypeRef v8 = LLVMVectorType(i8, 16), v16 = LLVMVectorType(i16, 16);
    LLVMValueRef row = LLVMBuildGEP2(c->B, i16, k->a16, (LLVMValueRef[]){mf_cg_i64(c, (int64_t)i * 4 * k->q->KQ)}, 1, "");
    LLVMValueRef flip = mf_cg_splat(c, LLVMConstInt(i8, 0x80, 0), 16);
    mf_cg_loop t;
    mf_cg_loop_begin(c, &t, mf_cg_i64(c, 0), mf_cg_i64(c, nv));
    LLVMValueRef x = LLVMBuildLoad2(c->B, v8, gep8(c, xr, mf_cg_ix_mulk(c, t.iv, 16)), "");
    LLVMSetAlignment(x, 1);
    x = LLVMBuildZExt(c->B, LLVMBuildXor(c->B, x, flip, ""), v16, "");
    LLVMSetAlignment(LLVMBuildStore(c->B, x, LLVMBuildGEP2(c->B, i16, row, (LLVMValueRef[]){mf_cg_ix_mulk(c, t.iv, 16)}, 1, "")), 2);
    mf_cg_loop_end(c, &t, 1);
    for (int64_t kk = nv * 16; kk < 4 * k->q->KQ; kk++) {
        LLVMValueRef u = LLVMConstInt(i16, 0, 0);
        if (kk < K) {
            LLVMValueRef b = LLVMBuildLoad2(c->B, i8, gep8(c, xr, mf_cg_i64(c, kk)), "");
            u = LLVMBuildZExt(c->B, LLVMBuildXor(c->B, b, LLVMConstInt(i8, 0x80, 0), ""), i16, "");
        }
        LLVMBuildStore(c->B, u, LLVMBuildGEP2(c->B, i16, row, (LLVMValueRef[]){mf_cg_i64(c, kk)}, 1, ""));
    }
}

/* The quad kq of staged row i as <4W x i16>, broadcast. */
static LLVMValueRef row_quad16(qblk *k, int i, LLVMValueRef kq)
{
    mf_cg_ctx *c = k->q->c;
    LLVMTypeRef i16 = LLVMInt16TypeInContext(c->C), v4 = LLVMVectorType(i16, 4);
    LLVMValueRef at = mf_cg_ix_add(c, mf_cg_i64(c, (int64_t)i * 4 * k->q->KQ), mf_cg_ix_mulk(c, kq, 4));
    LLVMValueRef q = LLVMBuildLoad2(c->B, v4, LLVMBuildGEP2(c->B, i16, k->a16, &at, 1, ""), "");
    LLVMSetAlignment(q, 8);
    LLVMValueRef idx[4 * MF_CG_MAX_VW];
    for (int l = 0; l < 4 * k->W; l++)
        idx[l] = LLVMConstInt(c->i32, (unsigned long long)(l % 4), 0);
    return LLVMBuildShuffleVector(c->B, q, LLVMGetPoison(v4), LLVMConstVector(idx, (unsigned)(4 * k->W)), "");
}

/* One k quad of the tile: rows xr[0..MR) broadcast, NV vectors of bp. */
static void tile_step(qblk *k, LLVMValueRef const *xr, LLVMValueRef kq, bool tail)
{
    mf_cg_ctx *c = k->q->c;
    LLVMValueRef bv[QM_NV_MAX];
    for (int v = 0; v < k->NV; v++) {
        LLVMValueRef src = LLVMBuildGEP2(c->B, c->i32, k->bp, (LLVMValueRef[]){mf_cg_ix_madd(c, kq, k->NR, mf_cg_i64(c, v * k->W))}, 1, "");
        bv[v] = LLVMBuildLoad2(c->B, k->vi32, src, "");
        LLVMSetAlignment(bv[v], 4);
    }
    if (k->wide) {
        LLVMTypeRef v16 = LLVMVectorType(LLVMInt16TypeInContext(c->C), (unsigned)(4 * k->W));
        LLVMTypeRef v8 = LLVMVectorType(LLVMInt8TypeInContext(c->C), (unsigned)(4 * k->W));
        for (int v = 0; v < k->NV; v++)
            bv[v] = LLVMBuildSExt(c->B, LLVMBuildBitCast(c->B, bv[v], v8, ""), v16, "");
        for (int i = 0; i < k->MR; i++) {
            LLVMValueRef u = row_quad16(k, i, kq);
            for (int v = 0; v < k->NV; v++) {
                LLVMValueRef a = k->acc[i * k->NV + v];
                LLVMBuildStore(c->B, mf_cg_dot4_wide(c, LLVMBuildLoad2(c->B, k->vacc, a, ""), u, bv[v]), a);
            }
        }
        return;
    }
    LLVMValueRef flip = LLVMConstInt(c->i32, 0x80808080u, 0);
    for (int i = 0; i < k->MR; i++) {
        LLVMValueRef u = splat_i32(c, LLVMBuildXor(c->B, row_quad(k, xr[i], kq, tail), flip, ""), k->W);
        for (int v = 0; v < k->NV; v++) {
            LLVMValueRef a = k->acc[i * k->NV + v];
            LLVMBuildStore(c->B, mf_cg_dot4(c, LLVMBuildLoad2(c->B, k->vacc, a, ""), u, bv[v]), a);
        }
    }
}

/* Lanes n0 + v W + l < N. */
static LLVMValueRef col_mask(qblk *k, LLVMValueRef col)
{
    mf_cg_ctx *c = k->q->c;
    LLVMValueRef idx[MF_CG_MAX_VW];
    for (int l = 0; l < k->W; l++)
        idx[l] = LLVMConstInt(c->i64, (unsigned long long)l, 0);
    LLVMValueRef cols = LLVMBuildAdd(c->B, mf_cg_splat(c, col, (unsigned)k->W), LLVMConstVector(idx, (unsigned)k->W), "");
    return LLVMBuildICmp(c->B, LLVMIntSLT, cols, mf_cg_splat(c, mf_cg_i64(c, k->q->N), (unsigned)k->W), "");
}

/* The MR rows from row r0 (of the block of rows rb): sums over K, then the epilogue. */
static mf_status row_tile(qblk *k, LLVMValueRef rb, mf_cg_point *p)
{
    qmm *q = k->q;
    mf_cg_ctx *c = q->c;
    const mf_type *ot = &q->n->outputs[0]->type;
    LLVMValueRef skip = NULL;
    LLVMValueRef r0 = mf_cg_tile_block_start(c, rb, k->MR, q->M, &skip);
    LLVMValueRef xr[QM_MR], abase = gep8(c, q->a, mf_cg_ix_mulk(c, k->bi, q->M * q->K));
    for (int i = 0; i < k->MR; i++) {
        xr[i] = gep8(c, abase, mf_cg_ix_mulk(c, mf_cg_ix_addk(c, r0, i), q->K));
        LLVMValueRef sums[2];
        if (k->wide)
            stage_row16(k, xr[i], i);
        if (q->bzp) {
            mf_cg_qdot_sums(c, usum_step, xr[i], xr[i], q->K, k->W, sums);
            LLVMBuildStore(c->B, sums[1], LLVMBuildGEP2(c->B, c->i32, k->usum, (LLVMValueRef[]){mf_cg_i64(c, i)}, 1, ""));
        }
    }
    for (int a = 0; a < k->MR * k->NV; a++)
        LLVMBuildStore(c->B, LLVMConstNull(k->vacc), k->acc[a]);
    int64_t KF = q->K / 4;
    mf_cg_loop kq;
    mf_cg_loop_begin(c, &kq, mf_cg_i64(c, 0), mf_cg_i64(c, KF));
    tile_step(k, xr, kq.iv, false);
    mf_cg_loop_end(c, &kq, 1);
    if (q->K % 4) /* wide: a16's last quad is whole, its bytes past K 0 */
        tile_step(k, xr, mf_cg_i64(c, KF), true);
    mf_status err = MF_OK;
    for (int i = 0; i < k->MR && !err; i++) {
        LLVMBasicBlockRef join = mf_cg_tile_row_begin(c, skip, i, k->MR, q->M);
        LLVMValueRef us = q->bzp ? LLVMBuildLoad2(c->B, c->i32, LLVMBuildGEP2(c->B, c->i32, k->usum, (LLVMValueRef[]){mf_cg_i64(c, i)}, 1, ""), "")
                                 : LLVMConstInt(c->i32, (unsigned long long)((128 + q->azp) * q->K), 0);
        p->coord[ot->rank - 2] = mf_cg_ix_addk(c, r0, i);
        for (int v = 0; v < k->NV && !err; v++) {
            LLVMValueRef acc = mf_cg_dot4_sum(c, LLVMBuildLoad2(c->B, k->vacc, k->acc[i * k->NV + v], ""), (unsigned)k->W);
            LLVMValueRef cs = LLVMBuildLoad2(c->B, k->vi32, LLVMBuildGEP2(c->B, k->vi32, k->csum, (LLVMValueRef[]){mf_cg_i64(c, v)}, 1, ""), "");
            LLVMValueRef col = mf_cg_ix_addk(c, k->n0, v * k->W);
            p->coord[ot->rank - 1] = col;
            p->mask = q->N % k->NR ? col_mask(k, col) : NULL;
            p->core_val = requantized(q, corrected(q, acc, cs, us));
            p->nmemo = 0;
            err = mf_cg_store_epilogue(c, p, q->nepi, q->epi);
        }
        mf_cg_tile_row_end(c, join);
    }
    return err;
}

static mf_status blocked(qmm *q)
{
    mf_cg_ctx *c = q->c;
    const mf_type *ot = &q->n->outputs[0]->type;
    qblk k = {.q = q};
    plan(&k);
    k.vi32 = LLVMVectorType(c->i32, (unsigned)k.W);
    k.vacc = mf_cg_dot4_acc_type(c, (unsigned)k.W);
    k.bp = mf_cg_entry_alloca(c, LLVMArrayType2(c->i32, (uint64_t)(q->KQ * k.NR)));
    LLVMSetAlignment(k.bp, 64);
    k.csum = mf_cg_entry_alloca(c, LLVMArrayType2(k.vi32, (uint64_t)k.NV));
    k.usum = mf_cg_entry_alloca(c, LLVMArrayType2(c->i32, QM_MR));
    if (k.wide) {
        k.a16 = mf_cg_entry_alloca(c, LLVMArrayType2(LLVMInt16TypeInContext(c->C), (uint64_t)(k.MR * 4 * q->KQ)));
        LLVMSetAlignment(k.a16, 64);
    }
    for (int a = 0; a < k.MR * k.NV; a++)
        k.acc[a] = mf_cg_entry_alloca(c, k.vacc);
    mf_cg_point *p = mf_cg_conv_point(q->n->outputs[0], ot->rank - 1, (unsigned)k.W, 0, NULL);
    if (!p)
        return MF_ERR_NOMEM;
    LLVMValueRef lo, hi;
    mf_cg_part_range(c, q->batches * k.nblk, 1, &lo, &hi);
    mf_cg_loop items;
    mf_cg_loop_begin(c, &items, lo, hi);
    k.bi = mf_cg_ix_udivk(c, items.iv, k.nblk);
    k.n0 = mf_cg_ix_mulk(c, LLVMBuildURem(c->B, items.iv, mf_cg_i64(c, k.nblk), ""), k.NR);
    mf_cg_unravel(c, k.bi, ot->rank - 2, ot->shape, p->coord);
    pack_block(&k, gep8(c, q->b, mf_cg_ix_mulk(c, k.bi, q->bstride)));
    column_sums(&k);
    mf_cg_loop rows;
    mf_cg_loop_begin(c, &rows, mf_cg_i64(c, 0), mf_cg_i64(c, (q->M + k.MR - 1) / k.MR));
    mf_status err = row_tile(&k, rows.iv, p);
    mf_cg_loop_end(c, &rows, 1);
    mf_cg_loop_end(c, &items, 1);
    free(p);
    return err;
}

mf_status mf_cg_lower_qmatmul(mf_cg_ctx *c, const mf_node *n, int nepi, const mf_value *const *epi)
{
    const mf_type *at = &n->inputs[0]->type, *bt = &n->inputs[1]->type, *ot = &n->outputs[0]->type;
    qmm q = {.c = c, .n = n, .nepi = nepi, .epi = epi};
    q.M = at->shape[at->rank - 2], q.K = at->shape[at->rank - 1], q.N = bt->shape[bt->rank - 1];
    q.KQ = (q.K + 3) / 4;
    q.batches = q.M * q.N > 0 ? mf_type_numel(ot) / (q.M * q.N) : 0;
    q.bstride = bt->rank == 2 ? 0 : q.K * q.N;
    q.a = mf_cg_anchor_input(c, n, 0), q.b = mf_cg_anchor_input(c, n, 1);
    if (!q.a || !q.b)
        return MF_ERR_UNSUPPORTED;
    if (mf_type_numel(ot) == 0)
        return MF_OK;
    q.azp = (int)mf_attr_int(n->op, n->attrs, "a_zero_point"), q.bzp = (int)mf_attr_int(n->op, n->attrs, "b_zero_point");
    q.s = (float)mf_attr_float(n->op, n->attrs, "a_scale") * (float)mf_attr_float(n->op, n->attrs, "b_scale");
    q.rq = (mf_cg_requant){(float)mf_attr_float(n->op, n->attrs, "y_scale"), -INFINITY, INFINITY,
                           (int)mf_attr_int(n->op, n->attrs, "y_zero_point")};
    bool fits = q.K > 0 && q.KQ * 4 * (QM_NV_MAX * c->vw + 2 * QM_MR) <= QM_PACK_BYTES;
    return c->vw >= 4 && fits ? blocked(&q) : unblocked(&q);
}
