/* lower_conv_dw_project.c — the depthwise-project chain (ir/expand_dw.c) as one kernel: a
 * partition's output rows, a band at a time, go through the depthwise engine's row loop into
 * a stack buffer of every channel's band (activation applied), which the projection's GEMM
 * tiles then read as one stretch of pixels: the depthwise result never goes to memory, and
 * on two cores each thread's projection reads only what its own depthwise rows wrote. */
#include "cg_internal.h"

/* Rows a band: as many as fit an eighth of L2 (the projection's weights and the output's
 * lines stay beside the buffer) and MF_DW_PROJECT_BUFFER, at least one (a row fits the
 * latter: mf_dw_project_chain). */
static int64_t band_rows(const mf_cg_ctx *c, int64_t channels, int64_t ow, int64_t oh)
{
    int64_t cap = c->shape.l2 / 8 < MF_DW_PROJECT_BUFFER ? c->shape.l2 / 8 : MF_DW_PROJECT_BUFFER;
    int64_t b = cap / (channels * ow * 4);
    b = b < 1 ? 1 : b;
    return b < oh ? b : oh;
}

typedef struct dp_emit {
    mf_cg_ctx *c;
    const mf_dw_project *dp;
    mf_cg_conv_geom g1, g2; /* the depthwise's and the projection's geometry */
    mf_cg_dw *dw;
    mf_cg_gemm *gemm;
    int64_t B;
    LLVMValueRef buf; /* float[C][B x ow] */
} dp_emit;

static mf_status dp_setup(dp_emit *e, mf_cg_ctx *c, const mf_dw_project *dp)
{
    const mf_node *d = dp->dw, *pj = dp->project;
    e->c = c, e->dp = dp;
    e->g1 = mf_cg_conv_geom_of(d);
    e->g1.x = mf_cg_anchor_input(c, d, 0);
    e->g1.wt = mf_cg_anchor_input(c, d, 1);
    e->g1.xdt = mf_cg_anchor_dtype(d, 0);
    if (!e->g1.x || !e->g1.wt || (d->ninputs > 2 && !(e->g1.bias = mf_cg_anchor_input(c, d, 2))))
        return MF_ERR_UNSUPPORTED;
    if (mf_cg_anchor_dtype(d, 1) != MF_F32)
        return mf_error(MF_ERR_UNSUPPORTED,
                        "codegen: the depthwise-project chain of node %d reads f32 weights only",
                        pj->id);
    if (!mf_cg_dw_choose(c, &e->g1))
        return mf_error(MF_ERR_UNSUPPORTED, "codegen: no depthwise engine for node %d", d->id);
    e->B = band_rows(c, e->g1.cout, e->g1.ow, e->g1.oh);
    return MF_OK;
}

/* p, the same pointer, through an empty asm statement (band()'s reason; empty, so that emitting
 * it needs no assembly parser, which the targets are not initialized with). */
static LLVMValueRef opaque_ptr(mf_cg_ctx *c, LLVMValueRef p)
{
    LLVMTypeRef pt = LLVMTypeOf(p);
    LLVMTypeRef fty = LLVMFunctionType(pt, &pt, 1, 0);
    LLVMValueRef as = LLVMGetInlineAsm(fty, "", 0, "=r,0", 4, 0, 0, LLVMInlineAsmDialectATT, 0);
    return LLVMBuildCall2(c->B, fty, as, &p, 1, "");
}

/* Output rows [y, y + n) (i64, n <= B) of batch element bcoord[0]: every channel's depthwise
 * rows into the buffer, then the projection over their pixels.  The channel's plane and
 * buffer pass an empty asm statement, so that LLVM sees no relation between them and the
 * channel loop's counter: else loop strength reduction weighed every load and store of the
 * rows' code against it, 100 of the kernel's 130 ms of instruction selection (mobilenet_v2's
 * 112x112 block; 28 ms without). */
static mf_status band(dp_emit *e, const LLVMValueRef *bcoord, LLVMValueRef y, LLVMValueRef n)
{
    mf_cg_ctx *c = e->c;
    const mf_cg_conv_geom *g1 = &e->g1;
    const mf_value *mid = e->dp->act ? e->dp->act->outputs[0] : e->dp->dw->outputs[0];
    LLVMValueRef xb =
        mf_cg_gep_as(c, g1->x, mf_cg_ix_mulk(c, bcoord[0], g1->cin * g1->h * g1->w), g1->xdt);
    mf_cg_loop ch;
    mf_cg_loop_begin(c, &ch, mf_cg_i64(c, 0), mf_cg_i64(c, g1->cout));
    LLVMValueRef plane = mf_cg_gep_as(c, xb, mf_cg_ix_mulk(c, ch.iv, g1->h * g1->w), g1->xdt);
    mf_cg_dw_plane(e->dw, opaque_ptr(c, plane), NULL, ch.iv, bcoord);
    mf_cg_dw_sink(e->dw, mid,
                  opaque_ptr(c, mf_cg_gep(c, e->buf, mf_cg_ix_mulk(c, ch.iv, e->B * g1->ow))), y);
    mf_status err = mf_cg_dw_rows_between(e->dw, y, mf_cg_ix_add(c, y, n));
    mf_cg_loop_end_scalar(c, &ch, 1);
    if (err)
        return err;
    LLVMValueRef p0 = mf_cg_ix_mulk(c, y, g1->ow);
    return mf_cg_gemm_panel(e->gemm, e->buf, e->B * g1->ow, p0,
                            mf_cg_ix_add(c, p0, mf_cg_ix_mulk(c, n, g1->ow)), bcoord);
}

mf_status mf_cg_dw_project_begin(mf_cg_ctx *c, const mf_cg_conv_geom *gdw, const mf_dw_project *dp,
                                 int64_t rows, int nepi, const mf_value *const *epi,
                                 mf_cg_conv_geom *gpj, LLVMValueRef *buf, mf_cg_dw **dw,
                                 mf_cg_gemm **gemm)
{
    const mf_node *pj = dp->project;
    *gpj = mf_cg_conv_geom_of(pj);
    gpj->wt = mf_cg_anchor_input(c, pj, 1);
    gpj->xdt = MF_F32;
    if (!gpj->wt || (pj->ninputs > 2 && !(gpj->bias = mf_cg_anchor_input(c, pj, 2))))
        return MF_ERR_UNSUPPORTED;
    if (mf_cg_anchor_dtype(pj, 1) != MF_F32)
        return mf_error(MF_ERR_UNSUPPORTED,
                        "codegen: the depthwise-project chain of node %d reads f32 weights only",
                        pj->id);
    /* the band buffer, and a vector of slack */
    *buf = mf_cg_entry_alloca(
        c, LLVMArrayType2(c->f32, (uint64_t)(gdw->cout * rows * gdw->ow + c->vw)));
    LLVMSetAlignment(*buf, 64);
    *dw = mf_cg_dw_new(c, gdw, dp->dw->outputs[0], 0, NULL);
    *gemm = *dw ? mf_cg_gemm_new(c, gpj, dp->project->outputs[0], nepi, epi) : NULL;
    if (*gemm)
        return MF_OK;
    mf_status err = *dw ? MF_ERR_UNSUPPORTED : MF_ERR_NOMEM; /* the message is set */
    mf_cg_dw_free(*dw);
    *dw = NULL;
    return err;
}

mf_status mf_cg_lower_dw_project(mf_cg_ctx *c, const mf_dw_project *dp, int nepi,
                                 const mf_value *const *epi)
{
    dp_emit e = {0};
    mf_status err = dp_setup(&e, c, dp);
    if (err || mf_type_numel(&dp->project->outputs[0]->type) == 0)
        return err;
    const mf_cg_conv_geom *g1 = &e.g1;
    const int64_t oh = g1->oh;
    err = mf_cg_dw_project_begin(c, g1, dp, e.B, nepi, epi, &e.g2, &e.buf, &e.dw, &e.gemm);
    if (err)
        return err;
    /* the partition's rows [lo, hi) of batch x oh (contiguous runs, as the pool shares
     * partitions over threads: 14 rows on 4 partitions, 3, 4, 3, 4); per batch element they
     * cover, its rows [r0, r1) in bands of B */
    LLVMValueRef lo, hi;
    mf_cg_part_range(c, g1->batch * oh, 1, &lo, &hi);
    mf_cg_loop b;
    mf_cg_loop_begin(c, &b, mf_cg_ix_udivk(c, lo, oh),
                     mf_cg_ix_udivk(c, mf_cg_ix_addk(c, hi, oh - 1), oh));
    LLVMValueRef base = mf_cg_ix_mulk(c, b.iv, oh);
    LLVMValueRef r0 = mf_cg_ix_sub(c, lo, base),
                 r1 = mf_cg_ix_smink(c, mf_cg_ix_sub(c, hi, base), oh);
    r0 = LLVMBuildSelect(c->B, LLVMBuildICmp(c->B, LLVMIntSLT, r0, mf_cg_i64(c, 0), ""),
                         mf_cg_i64(c, 0), r0, "");
    mf_cg_loop k;
    mf_cg_loop_begin(c, &k, mf_cg_i64(c, 0),
                     mf_cg_ix_udivk(c, mf_cg_ix_addk(c, mf_cg_ix_sub(c, r1, r0), e.B - 1), e.B));
    LLVMValueRef y = mf_cg_ix_add(c, r0, mf_cg_ix_mulk(c, k.iv, e.B));
    LLVMValueRef bcoord[MF_MAX_RANK] = {b.iv};
    err = band(&e, bcoord, y, mf_cg_ix_smink(c, mf_cg_ix_sub(c, r1, y), e.B));
    mf_cg_loop_end_scalar(c, &k, 1);
    mf_cg_loop_end_scalar(c, &b, 1);
    mf_cg_dw_free(e.dw);
    mf_cg_gemm_free(e.gemm);
    return err;
}
