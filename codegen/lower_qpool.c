/* lower_qpool.c — int8 max pooling on the codes themselves (the max of codes is the code of
 * the max: scales are positive), W output pixels of a row at a time.
 * - With AVX-512 (masked byte loads): per window element one masked vector load of the
 *   input row (mf_cg_load_row_bytes; a stride s loads s W bytes and keeps every s-th; lanes
 *   in the padding or past the row read -128) and a signed byte max.
 * - Without (AVX2, SSE, whose byte loads at the row's edges LLVM would split into one load
 *   and insert per byte, insertq on AMD's SSE4a): per output row, the max of the window's
 *   input rows into a staging row padded with -128 (whole vector loads, the last ending at
 *   the row's end: the max is idempotent), then per window column one plain load from it.
 * The generic pooling (lower_reduce.c) takes one output at a time; it still lowers what
 * this does not: inputs computed in the subgraph, windows of more than QP_TAPS_MAX
 * elements. */
#include <stdlib.h>

#include "cg_internal.h"

#define QP_TAPS_MAX 64 /* window elements unrolled */

typedef struct qpool {
    mf_cg_ctx *c;
    mf_pool2d_view v;
    int64_t h, w, oh, ow;
    int W;
    LLVMTypeRef i8;
    LLVMValueRef buf; /* the staging row (no masked loads), NULL with them */
    int64_t lead;     /* buf[x + lead] holds input column x */
} qpool;

/* The pointer of the graph input that input 0 of n reads, or NULL. */
static LLVMValueRef plain_input(mf_cg_ctx *c, const mf_node *n)
{
    const mf_value *x = mf_cg_view_source(c->g, n);
    return x ? c->in_ptr[mf_cg_input_index(c->g, x)] : NULL;
}

bool mf_cg_qpool_applies(mf_cg_ctx *c, const mf_node *n)
{
    const mf_type *xt = &n->inputs[0]->type;
    if (n->op != MF_OP_MAX_POOL2D || xt->dtype != MF_I8 || xt->rank != 4 || !plain_input(c, n))
        return false;
    mf_pool2d_view v = mf_pool2d_of(n->op, n->attrs);
    return v.kernel[0] * v.kernel[1] <= QP_TAPS_MAX && v.stride[1] * c->vw <= 4 * MF_CG_MAX_VW;
}

/* max(acc, row[x0 + s l]) over lanes l of the W output pixels from ox0 (padding: -128). */
static LLVMValueRef tap(qpool *p, LLVMValueRef acc, LLVMValueRef plane, LLVMValueRef iy, LLVMValueRef rowok, LLVMValueRef x0,
                        LLVMValueRef ox0)
{
    mf_cg_ctx *c = p->c;
    int64_t s = p->v.stride[1];
    unsigned n = (unsigned)(p->W * s);
    LLVMValueRef e[4 * MF_CG_MAX_VW], keep[4 * MF_CG_MAX_VW], pick[MF_CG_MAX_VW];
    for (unsigned l = 0; l < n; l++) {
        e[l] = LLVMConstInt(c->i64, l, 0);
        keep[l] = LLVMConstInt(c->i1, l % s == 0, 0);
    }
    for (int l = 0; l < p->W; l++)
        pick[l] = LLVMConstInt(c->i32, (unsigned long long)(l * s), 0);
    LLVMValueRef iota = LLVMConstVector(e, n);
    LLVMValueRef ix = LLVMBuildAdd(c->B, mf_cg_splat(c, x0, n), iota, "");
    LLVMValueRef ok = LLVMBuildICmp(c->B, LLVMIntULT, ix, mf_cg_splat(c, mf_cg_i64(c, p->w), n), "");
    /* lane l's output pixel ox0 + l / s must exist: a partial last vector */
    LLVMValueRef lim = mf_cg_splat(c, mf_cg_ix_mulk(c, mf_cg_ix_sub(c, mf_cg_i64(c, p->ow), ox0), s), n);
    ok = LLVMBuildAnd(c->B, ok, LLVMBuildICmp(c->B, LLVMIntSLT, iota, lim, ""), "");
    ok = LLVMBuildAnd(c->B, ok, LLVMBuildAnd(c->B, LLVMConstVector(keep, n), mf_cg_splat(c, rowok, n), ""), "");
    LLVMTypeRef vt = LLVMVectorType(p->i8, n);
    LLVMValueRef x = mf_cg_load_row_bytes(c, plane, p->h, p->w, iy, x0, ok, -128);
    if (s > 1)
        x = LLVMBuildShuffleVector(c->B, x, LLVMGetPoison(vt), LLVMConstVector(pick, (unsigned)p->W), "");
    return LLVMBuildSelect(c->B, LLVMBuildICmp(c->B, LLVMIntSGT, x, acc, ""), x, acc, "");
}

/* The staging row's length for the horizontal pass: every output vector's loads. */
static int64_t stage_len(const qpool *p, int V)
{
    const mf_pool2d_view *v = &p->v;
    int64_t nt = (p->ow + p->W - 1) / p->W, len = nt * p->W * v->stride[1] + (v->kernel[1] - 1) * v->dilation[1];
    return (len + V - 1) / V * V;
}

static LLVMValueRef smax(mf_cg_ctx *c, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSelect(c->B, LLVMBuildICmp(c->B, LLVMIntSGT, a, b, ""), a, b, "");
}

/* buf = -128, then buf[x + lead] = max over the window's rows iy (inside the plane) of the
 * input column x, V bytes at a time (narrower for a row shorter than V, bytes below 4). */
static void stage_rows(qpool *p, LLVMValueRef plane, LLVMValueRef oy, int V)
{
    mf_cg_ctx *c = p->c;
    const mf_pool2d_view *v = &p->v;
    int64_t len = stage_len(p, V);
    LLVMValueRef lo = mf_cg_splat(c, LLVMConstInt(p->i8, (unsigned long long)-128, 1), (unsigned)V);
    mf_cg_loop k;
    mf_cg_loop_begin(c, &k, mf_cg_i64(c, 0), mf_cg_i64(c, len / V));
    LLVMValueRef at = mf_cg_ix_mulk(c, k.iv, V);
    LLVMSetAlignment(LLVMBuildStore(c->B, lo, LLVMBuildGEP2(c->B, p->i8, p->buf, &at, 1, "")), 1);
    mf_cg_loop_end(c, &k, 1);
    int64_t n = p->w < len - p->lead ? p->w : len - p->lead; /* the columns any output reads */
    if (n <= 0)
        return;
    LLVMValueRef out = LLVMBuildGEP2(c->B, p->i8, p->buf, (LLVMValueRef[]){mf_cg_i64(c, p->lead)}, 1, "");
    while (V > 4 && V > n)
        V /= 2;
    LLVMTypeRef vt = LLVMVectorType(p->i8, (unsigned)V);
    for (int64_t ky = 0; ky < v->kernel[0]; ky++) {
        LLVMValueRef iy = mf_cg_ix_addk(c, mf_cg_ix_mulk(c, oy, v->stride[0]), ky * v->dilation[0] - v->padding[0]);
        LLVMBasicBlockRef in = LLVMAppendBasicBlockInContext(c->C, c->body, "qpool_row");
        LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->C, c->body, "qpool_rowdone");
        LLVMBuildCondBr(c->B, LLVMBuildICmp(c->B, LLVMIntULT, iy, mf_cg_i64(c, p->h), ""), in, done);
        LLVMPositionBuilderAtEnd(c->B, in);
        LLVMValueRef src = LLVMBuildGEP2(c->B, p->i8, plane, (LLVMValueRef[]){mf_cg_ix_mulk(c, iy, p->w)}, 1, "");
        bool vec = n >= V;
        mf_cg_loop_begin(c, &k, mf_cg_i64(c, 0), mf_cg_i64(c, vec ? (n + V - 1) / V : n));
        LLVMValueRef off = vec ? mf_cg_ix_smink(c, mf_cg_ix_mulk(c, k.iv, V), n - V) : k.iv; /* the last ends at n */
        LLVMValueRef dst = LLVMBuildGEP2(c->B, p->i8, out, &off, 1, "");
        LLVMValueRef x = LLVMBuildLoad2(c->B, vec ? vt : p->i8, LLVMBuildGEP2(c->B, p->i8, src, &off, 1, ""), "");
        LLVMValueRef b = LLVMBuildLoad2(c->B, vec ? vt : p->i8, dst, "");
        LLVMSetAlignment(x, 1);
        LLVMSetAlignment(b, 1);
        LLVMSetAlignment(LLVMBuildStore(c->B, smax(c, x, b), dst), 1);
        if (vec)
            mf_cg_loop_end(c, &k, 1);
        else
            mf_cg_loop_end_scalar(c, &k, 1);
        LLVMBuildBr(c->B, done);
        LLVMPositionBuilderAtEnd(c->B, done);
    }
}

/* max over the window's columns of the staging row for the W output pixels from ox0. */
static LLVMValueRef staged_taps(qpool *p, LLVMValueRef ox0)
{
    mf_cg_ctx *c = p->c;
    const mf_pool2d_view *v = &p->v;
    int64_t s = v->stride[1];
    unsigned n = (unsigned)(p->W * s);
    LLVMValueRef pick[MF_CG_MAX_VW];
    for (int l = 0; l < p->W; l++)
        pick[l] = LLVMConstInt(c->i32, (unsigned long long)(l * s), 0);
    LLVMTypeRef vt = LLVMVectorType(p->i8, n);
    LLVMValueRef acc = NULL, base = mf_cg_ix_mulk(c, ox0, s);
    for (int64_t kx = 0; kx < v->kernel[1]; kx++) {
        LLVMValueRef at = mf_cg_ix_addk(c, base, kx * v->dilation[1]);
        LLVMValueRef x = LLVMBuildLoad2(c->B, vt, LLVMBuildGEP2(c->B, p->i8, p->buf, &at, 1, ""), "");
        LLVMSetAlignment(x, 1);
        if (s > 1)
            x = LLVMBuildShuffleVector(c->B, x, LLVMGetPoison(vt), LLVMConstVector(pick, (unsigned)p->W), "");
        acc = acc ? smax(c, x, acc) : x;
    }
    return acc;
}

mf_status mf_cg_lower_qmax_pool(mf_cg_ctx *c, const mf_node *n, int nepi, const mf_value *const *epi)
{
    const mf_type *xt = &n->inputs[0]->type, *ot = &n->outputs[0]->type;
    qpool p = {.c = c, .v = mf_pool2d_of(n->op, n->attrs), .h = xt->shape[2], .w = xt->shape[3],
               .oh = ot->shape[2], .ow = ot->shape[3], .W = c->vw, .i8 = LLVMInt8TypeInContext(c->C)};
    const mf_pool2d_view *v = &p.v;
    bool staged = !mf_cg_masked_bytes(c);
    p.lead = v->padding[1];
    LLVMValueRef x = plain_input(c, n);
    mf_cg_point *pt = mf_cg_conv_point(n->outputs[0], 3, (unsigned)p.W, 0, NULL);
    if (!pt)
        return MF_ERR_NOMEM;
    LLVMValueRef lanes[MF_CG_MAX_VW];
    for (int l = 0; l < p.W; l++)
        lanes[l] = LLVMConstInt(c->i64, (unsigned long long)l, 0);
    LLVMValueRef lo, hi;
    mf_cg_part_range(c, ot->shape[0] * ot->shape[1] * p.oh, 1, &lo, &hi);
    mf_cg_loop rows, t;
    mf_cg_loop_begin(c, &rows, lo, hi);
    int64_t dims[3] = {ot->shape[0], ot->shape[1], p.oh};
    mf_cg_unravel(c, rows.iv, 3, dims, pt->coord);
    LLVMValueRef oy = pt->coord[2];
    LLVMValueRef plane = LLVMBuildGEP2(c->B, p.i8, x, (LLVMValueRef[]){mf_cg_ix_mulk(c, mf_cg_ix_madd(c, pt->coord[0], xt->shape[1], pt->coord[1]), p.h * p.w)}, 1, "");
    int V = 4 * (p.W > 4 ? p.W : 4); /* the staging row's bytes per vector: a register */
    if (staged) {
        p.buf = mf_cg_entry_alloca(c, LLVMArrayType2(p.i8, (uint64_t)stage_len(&p, V)));
        LLVMSetAlignment(p.buf, 64);
        stage_rows(&p, plane, oy, V);
    }
    mf_cg_loop_begin(c, &t, mf_cg_i64(c, 0), mf_cg_i64(c, (p.ow + p.W - 1) / p.W));
    LLVMValueRef ox0 = mf_cg_ix_mulk(c, t.iv, p.W);
    LLVMValueRef acc = staged ? staged_taps(&p, ox0) : mf_cg_splat(c, LLVMConstInt(p.i8, (unsigned long long)-128, 1), (unsigned)p.W);
    for (int64_t ky = 0; !staged && ky < v->kernel[0]; ky++) {
        LLVMValueRef iy = mf_cg_ix_addk(c, mf_cg_ix_mulk(c, oy, v->stride[0]), ky * v->dilation[0] - v->padding[0]);
        LLVMValueRef rowok = LLVMBuildICmp(c->B, LLVMIntULT, iy, mf_cg_i64(c, p.h), "");
        for (int64_t kx = 0; kx < v->kernel[1]; kx++) {
            LLVMValueRef x0 = mf_cg_ix_addk(c, mf_cg_ix_mulk(c, ox0, v->stride[1]), kx * v->dilation[1] - v->padding[1]);
            acc = tap(&p, acc, plane, iy, rowok, x0, ox0);
        }
    }
    pt->coord[3] = ox0;
    LLVMValueRef idx = LLVMBuildAdd(c->B, mf_cg_splat(c, ox0, (unsigned)p.W), LLVMConstVector(lanes, (unsigned)p.W), "");
    pt->mask = LLVMBuildICmp(c->B, LLVMIntSLT, idx, mf_cg_splat(c, mf_cg_i64(c, p.ow), (unsigned)p.W), "");
    pt->core_val = LLVMBuildSIToFP(c->B, acc, LLVMVectorType(c->f32, (unsigned)p.W), "");
    pt->nmemo = 0;
    mf_status err = mf_cg_store_epilogue(c, pt, nepi, epi);
    mf_cg_loop_end(c, &t, 1);
    mf_cg_loop_end(c, &rows, 1);
    free(pt);
    return err;
}
