/* lower_conv_expand_dw.c — the inverted-residual chain fused (ir/expand_dw.c): a 1x1
 * expansion (+ relu/clamp) feeding a 3x3 depthwise conv, without the wide tensor ever
 * going to memory.  Work items are (batch, band of B output rows); for a band, each block
 * of MR expanded channels first computes the wide rows the band reads and the previous
 * band did not (a 1x1 GEMM over those rows as one stretch of pixels, so a 56-pixel row
 * wastes no lanes: MR channels x NV vectors of the target's lanes in registers over the
 * input channels, bias and activation applied, as lower_conv_gemm.c's tiles; prepacked
 * weights read as that engine reads them), into a band buffer of NB = (B - 1) stride + 3
 * rows per channel on the stack, then the depthwise engine's row loop (lower_conv_dw.c,
 * mf_cg_dw_rows) sweeps those channels' band from the buffer while it is in L1.  Rows
 * above and below the input are zero rows of the buffer (the depthwise's padding).  A
 * partition's first band computes all NB rows; each next one moves the 3 - stride rows it
 * shares with the band before to the front and computes B x stride new ones.  The whole
 * inverted-residual block (ir/expand_dw.c's mf_inverted_residual_chain): the depthwise rows
 * (their activation applied) go to a second buffer of the band's B output rows for every
 * channel instead of memory, and once every block of channels has swept its band the
 * projection's GEMM tiles (lower_conv_gemm.c's panel tiles, as lower_conv_dw_project.c runs
 * them) read the band's pixels from it, with the projection's epilogue (the residual add):
 * neither the wide tensor nor the depthwise result goes to memory (mobilenet_v2's 56x56 block
 * on one core: 410 -> 352 us, docs/benchmarks.md). */
#include <stdlib.h>

#include "cg_internal.h"

#define XD_MR_MAX MF_CG_PANEL_MR_MAX /* mf_cg_gemm_panel_blocking's tile */
#define XD_NV_MAX MF_CG_PANEL_NV_MAX
#define XD_BAND 4 /* output rows a band: a block's rows of the buffer stay in L1 */

typedef struct xd_emit {
    mf_cg_ctx *c;
    const mf_expand_dw *chain;
    const mf_dw_project *dp;    /* the projection after the depthwise conv, or NULL */
    mf_cg_conv_geom g1, g2, g3; /* the expansion's, the depthwise's and the projection's geometry */
    mf_cg_dw *dw;
    mf_cg_gemm *gemm; /* the projection's tiles */
    LLVMTypeRef vt;
    int MR, NV;
    int64_t B, NB, nbands, cexp;
    bool packed;
    LLVMValueRef acc[XD_MR_MAX * XD_NV_MAX];
    LLVMValueRef buf;  /* the band buffer: float[cexp][NB][w] */
    LLVMValueRef dbuf; /* with a projection, the band's depthwise rows: float[cexp][B][ow] */
    /* the work item */
    LLVMValueRef bcoord[MF_MAX_RANK], xb, oc0, wpanel, pbuf; /* pbuf: the input pixel at the buffer's start */
} xd_emit;

typedef struct xd_step {
    xd_emit *e;
    LLVMValueRef xk, wk;
    LLVMValueRef *masks;
} xd_step;

static LLVMValueRef step_x(void *ctx, int v)
{
    xd_step *s = ctx;
    mf_cg_ctx *c = s->e->c;
    LLVMValueRef ptr = mf_cg_gep_as(c, s->xk, mf_cg_i64(c, (int64_t)v * c->vw), s->e->g1.xdt);
    return mf_cg_load_f32_as(c, s->e->vt, ptr, s->masks[v], s->e->g1.xdt);
}

static LLVMValueRef step_w(void *ctx, int j)
{
    xd_step *s = ctx;
    mf_cg_ctx *c = s->e->c;
    LLVMValueRef wp = mf_cg_gep(c, s->wk, mf_cg_i64(c, s->e->packed ? j : j * s->e->g1.cin));
    return mf_cg_vsplat(c, LLVMBuildLoad2(c->B, c->f32, wp, ""));
}

/* R channels x NV vectors of pixels from p (of the input plane; the band buffer's pixel p -
 * e->pbuf), rest: the pixels of a last partial tile (NULL: a full one): the sums over the
 * input channels (from the bias), the activation, stored to the buffer. */
static mf_status expand_tile(xd_emit *e, int R, LLVMValueRef p, LLVMValueRef rest)
{
    mf_cg_ctx *c = e->c;
    const mf_cg_conv_geom *g1 = &e->g1;
    const int NV = e->NV;
    LLVMValueRef masks[XD_NV_MAX];
    for (int v = 0; v < NV; v++)
        masks[v] = rest ? mf_cg_lanes_below(c, rest, (int64_t)v * c->vw) : NULL;
    mf_cg_acc_init_bias(c, e->vt, R, NV, g1->bias, e->oc0, e->acc);
    mf_cg_loop kl;
    mf_cg_loop_begin(c, &kl, mf_cg_i64(c, 0), mf_cg_i64(c, g1->cin));
    xd_step st = {e, mf_cg_gep_as(c, e->xb, mf_cg_ix_add(c, mf_cg_ix_mulk(c, kl.iv, g1->h * g1->w), p), g1->xdt),
                  e->packed ? mf_cg_gep(c, e->wpanel, mf_cg_ix_mulk(c, kl.iv, R)) : mf_cg_gep(c, e->wpanel, kl.iv),
                  masks};
    mf_cg_tile_fmas(c, R, NV, e->acc, step_w, step_x, &st);
    if (!rest && R == e->MR)
        mf_cg_loop_end(c, &kl, 1);
    else
        mf_cg_loop_end_scalar(c, &kl, 1);
    mf_cg_emit_fn act = e->chain->act ? mf_cg_emitter(e->chain->act->op) : NULL;
    LLVMValueRef q = mf_cg_ix_sub(c, p, e->pbuf);
    for (int j = 0; j < R; j++) {
        LLVMValueRef oc = mf_cg_ix_addk(c, e->oc0, j);
        LLVMValueRef dst = mf_cg_gep(c, e->buf, mf_cg_ix_add(c, mf_cg_ix_mulk(c, oc, e->NB * g1->w), q));
        for (int v = 0; v < NV; v++) {
            LLVMValueRef x = LLVMBuildLoad2(c->B, e->vt, e->acc[j * NV + v], "");
            if (act)
                x = act(c, e->chain->act, &x);
            if (!x)
                return mf_error(MF_ERR_UNSUPPORTED, "codegen: no activation code for the expand-depthwise chain");
            mf_cg_store_f32(c, x, mf_cg_gep(c, dst, mf_cg_i64(c, (int64_t)v * c->vw)), masks[v]);
        }
    }
    return MF_OK;
}

/* Pixels [p0, p1) of the input plane (whole rows) expanded for R channels: whole tiles in
 * a loop, then a last tile with the pixels left masked. */
static mf_status expand_pixels(xd_emit *e, int R, LLVMValueRef p0, LLVMValueRef p1)
{
    mf_cg_ctx *c = e->c;
    const int64_t nr = (int64_t)e->NV * c->vw;
    LLVMValueRef n = mf_cg_ix_sub(c, p1, p0);
    LLVMValueRef nfull = mf_cg_ix_udivk(c, n, nr);
    mf_cg_loop t;
    mf_cg_loop_begin(c, &t, mf_cg_i64(c, 0), nfull);
    mf_status err = expand_tile(e, R, mf_cg_ix_add(c, p0, mf_cg_ix_mulk(c, t.iv, nr)), NULL);
    mf_cg_loop_end_scalar(c, &t, 1);
    LLVMValueRef rest = mf_cg_ix_sub(c, n, mf_cg_ix_mulk(c, nfull, nr));
    LLVMBasicBlockRef last = LLVMAppendBasicBlockInContext(c->C, c->body, "lasttile");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(c->C, c->body, "tilesdone");
    LLVMBuildCondBr(c->B, LLVMBuildICmp(c->B, LLVMIntNE, rest, mf_cg_i64(c, 0), ""), last, join);
    LLVMPositionBuilderAtEnd(c->B, last);
    if (!err)
        err = expand_tile(e, R, mf_cg_ix_add(c, p0, mf_cg_ix_mulk(c, nfull, nr)), rest);
    LLVMBuildBr(c->B, join);
    LLVMPositionBuilderAtEnd(c->B, join);
    return err;
}

/* Floats [a, b) (i64) of every channel plane of the block's n channels set to 0 (padding
 * rows) or, with from, copied from the same plane's floats from `from` on (memset and
 * memmove: a loop here cost more compile time than the rest of the band's code; bands of
 * one stride-1 row move rows 1-2 onto 0-1, which overlap). */
static void fill_rows(xd_emit *e, LLVMValueRef n, LLVMValueRef a, LLVMValueRef b, LLVMValueRef from)
{
    mf_cg_ctx *c = e->c;
    mf_cg_loop j;
    mf_cg_loop_begin(c, &j, mf_cg_i64(c, 0), n);
    LLVMValueRef plane = mf_cg_gep(c, e->buf, mf_cg_ix_mulk(c, mf_cg_ix_add(c, e->oc0, j.iv), e->NB * e->g1.w));
    LLVMValueRef bytes = mf_cg_ix_mulk(c, mf_cg_ix_sub(c, b, a), 4);
    if (from)
        LLVMBuildMemMove(c->B, mf_cg_gep(c, plane, a), 4, mf_cg_gep(c, plane, from), 4, bytes);
    else
        LLVMBuildMemSet(c->B, mf_cg_gep(c, plane, a), LLVMConstInt(LLVMInt8TypeInContext(c->C), 0, 0), bytes, 4);
    mf_cg_loop_end_scalar(c, &j, 1);
}

/* The band buffer's rows [j0, NB) (input rows ia + j) of the block's n (R at compile time)
 * channels: after the band before (follows), its last NB - j0 rows move to the front; rows
 * inside the input are expanded, the others zeroed. */
static mf_status block_rows(xd_emit *e, int R, LLVMValueRef n, LLVMValueRef ia, LLVMValueRef j0, LLVMValueRef follows)
{
    mf_cg_ctx *c = e->c;
    const mf_cg_conv_geom *g1 = &e->g1;
    const int64_t w = g1->w, step = e->B * e->g2.sh;
    e->wpanel = mf_cg_gep(c, g1->wt, mf_cg_ix_mulk(c, e->oc0, g1->cin)); /* both layouts: oc0 x K */
    LLVMBasicBlockRef mv = LLVMAppendBasicBlockInContext(c->C, c->body, "carry");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(c->C, c->body, "carried");
    LLVMBuildCondBr(c->B, follows, mv, join);
    LLVMPositionBuilderAtEnd(c->B, mv);
    fill_rows(e, n, mf_cg_i64(c, 0), mf_cg_i64(c, (e->NB - step) * w), mf_cg_i64(c, step * w));
    LLVMBuildBr(c->B, join);
    LLVMPositionBuilderAtEnd(c->B, join);
    /* rows [lo, hi) of [j0, NB) lie inside the input */
    LLVMValueRef neg = mf_cg_ix_sub(c, mf_cg_i64(c, 0), ia);
    LLVMValueRef lo = LLVMBuildSelect(c->B, LLVMBuildICmp(c->B, LLVMIntSGT, neg, j0, ""), neg, j0, "");
    LLVMValueRef hi = mf_cg_ix_smink(c, mf_cg_ix_sub(c, mf_cg_i64(c, g1->h), ia), e->NB);
    hi = LLVMBuildSelect(c->B, LLVMBuildICmp(c->B, LLVMIntSLT, hi, lo, ""), lo, hi, "");
    fill_rows(e, n, mf_cg_ix_mulk(c, j0, w), mf_cg_ix_mulk(c, lo, w), NULL);
    fill_rows(e, n, mf_cg_ix_mulk(c, hi, w), mf_cg_i64(c, e->NB * w), NULL);
    e->pbuf = mf_cg_ix_mulk(c, ia, w);
    return expand_pixels(e, R, mf_cg_ix_mulk(c, mf_cg_ix_add(c, ia, lo), w), mf_cg_ix_mulk(c, mf_cg_ix_add(c, ia, hi), w));
}

/* The depthwise band of channels [oc0, oc0 + n) (n: i64), nrows output rows from oy. */
static mf_status dw_band(xd_emit *e, LLVMValueRef n, LLVMValueRef oy, int64_t nrows, LLVMValueRef ia)
{
    mf_cg_ctx *c = e->c;
    mf_cg_loop j;
    mf_cg_loop_begin(c, &j, mf_cg_i64(c, 0), n);
    LLVMValueRef ch = mf_cg_ix_add(c, e->oc0, j.iv);
    mf_cg_dw_plane(e->dw, mf_cg_gep(c, e->buf, mf_cg_ix_mulk(c, ch, e->NB * e->g1.w)), ia, ch, e->bcoord);
    if (e->dp) {
        const mf_value *mid = e->dp->act ? e->dp->act->outputs[0] : e->dp->dw->outputs[0];
        mf_cg_dw_sink(e->dw, mid, mf_cg_gep(c, e->dbuf, mf_cg_ix_mulk(c, ch, e->B * e->g2.ow)), oy);
    }
    mf_status err = mf_cg_dw_rows(e->dw, oy, nrows);
    mf_cg_loop_end_scalar(c, &j, 1);
    return err;
}

/* One band: every block of channels expands its new rows, then sweeps its depthwise rows;
 * with a projection, its tiles then run over the band's pixels. */
static mf_status band(xd_emit *e, LLVMValueRef oy, int64_t nrows, LLVMValueRef ia, LLVMValueRef j0, LLVMValueRef follows)
{
    mf_cg_ctx *c = e->c;
    const int64_t nmb = (e->cexp + e->MR - 1) / e->MR, rtail = e->cexp - (nmb - 1) * e->MR;
    mf_cg_loop b;
    mf_cg_loop_begin(c, &b, mf_cg_i64(c, 0), mf_cg_i64(c, nmb));
    e->oc0 = mf_cg_ix_mulk(c, b.iv, e->MR);
    mf_status err;
    LLVMValueRef n = mf_cg_i64(c, e->MR);
    if (rtail == e->MR) {
        err = block_rows(e, e->MR, n, ia, j0, follows);
    } else {
        LLVMBasicBlockRef full = LLVMAppendBasicBlockInContext(c->C, c->body, "fullblock");
        LLVMBasicBlockRef tail = LLVMAppendBasicBlockInContext(c->C, c->body, "tailblock");
        LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(c->C, c->body, "blockdone");
        LLVMValueRef last = LLVMBuildICmp(c->B, LLVMIntEQ, b.iv, mf_cg_i64(c, nmb - 1), "");
        n = LLVMBuildSelect(c->B, last, mf_cg_i64(c, rtail), n, "");
        LLVMBuildCondBr(c->B, last, tail, full);
        LLVMPositionBuilderAtEnd(c->B, full);
        err = block_rows(e, e->MR, mf_cg_i64(c, e->MR), ia, j0, follows);
        LLVMBuildBr(c->B, join);
        LLVMPositionBuilderAtEnd(c->B, tail);
        if (!err)
            err = block_rows(e, (int)rtail, mf_cg_i64(c, rtail), ia, j0, follows);
        LLVMBuildBr(c->B, join);
        LLVMPositionBuilderAtEnd(c->B, join);
    }
    if (!err)
        err = dw_band(e, n, oy, nrows, ia);
    mf_cg_loop_end_scalar(c, &b, 1);
    if (err || !e->gemm)
        return err;
    LLVMValueRef p0 = mf_cg_ix_mulk(c, oy, e->g2.ow);
    return mf_cg_gemm_panel(e->gemm, e->dbuf, e->B * e->g2.ow, p0,
                            mf_cg_ix_addk(c, p0, nrows * e->g2.ow), e->bcoord);
}

/* Output rows a band: of the heights in [2, 2 XD_BAND] whose buffer fits MF_EXPAND_DW_BUFFER
 * (with a projection, whose depthwise rows' buffer fits MF_DW_PROJECT_BUFFER too: a flat cap,
 * not lower_conv_dw_project.c's eighth of L2, which for 8 lanes' 512 KB would leave 56x56
 * blocks bands of two rows) and that divide the output's (no shorter last band: one copy of
 * the depthwise code fewer), the one whose busiest partition sweeps the fewest rows; of
 * equals XD_BAND, else the largest (28 rows on 4 partitions: bands of 7, where 4 left one
 * partition a band behind: 2 x 4 rows for 7).  None: XD_BAND or the most that fit, and a
 * last band of the rows left (a band of 1 always fits: mf_expand_dw_chain and
 * mf_dw_project_chain). */
static int64_t band_rows(const xd_emit *e, int parts)
{
    const int64_t oh = e->g2.oh, row = e->cexp * e->g1.w * 4,
                  drow = e->dp ? e->cexp * e->g2.ow * 4 : 0;
    int64_t best = 0, best_rows = 0, most = 2 * XD_BAND;
    while (most > 1 && (((most - 1) * e->g2.sh + e->g2.kh) * row > MF_EXPAND_DW_BUFFER ||
                        most * drow > MF_DW_PROJECT_BUFFER))
        most--;
    for (int64_t b = 2; b <= most; b++) {
        if (oh % b)
            continue;
        int64_t items = e->g1.batch * (oh / b), rows = (items + parts - 1) / parts * b;
        if (!best || rows < best_rows || (rows == best_rows && best != XD_BAND && (b == XD_BAND || b > best)))
            best = b, best_rows = rows;
    }
    if (best)
        return best;
    most = most < XD_BAND ? most : XD_BAND;
    return oh < most ? oh : most;
}

static mf_status xd_setup(xd_emit *e, mf_cg_ctx *c, const mf_expand_dw *chain,
                          const mf_dw_project *dp)
{
    const mf_node *x1 = chain->expand, *d = chain->dw;
    e->c = c, e->chain = chain, e->dp = dp, e->vt = LLVMVectorType(c->f32, (unsigned)c->vw);
    e->g1 = mf_cg_conv_geom_of(x1);
    e->g2 = mf_cg_conv_geom_of(d);
    e->g1.x = mf_cg_anchor_input(c, x1, 0);
    e->g1.wt = mf_cg_anchor_input(c, x1, 1);
    e->g1.xdt = mf_cg_anchor_dtype(x1, 0);
    if (!e->g1.x || !e->g1.wt || (x1->ninputs > 2 && !(e->g1.bias = mf_cg_anchor_input(c, x1, 2))))
        return MF_ERR_UNSUPPORTED;
    e->g2.wt = mf_cg_anchor_input(c, d, 1);
    if (!e->g2.wt || (d->ninputs > 2 && !(e->g2.bias = mf_cg_anchor_input(c, d, 2))))
        return MF_ERR_UNSUPPORTED;
    if (e->g2.wblock || mf_cg_anchor_dtype(d, 1) != MF_F32)
        return mf_error(MF_ERR_UNSUPPORTED, "codegen: the depthwise conv of an expand-depthwise chain reads plain f32 weights");
    e->g2.xdt = MF_F32;
    e->packed = e->g1.wblock != 0;
    e->cexp = e->g1.cout;
    if (!mf_cg_dw_choose(c, &e->g2) || !mf_cg_gemm_panel_blocking(c, &e->g1, &e->MR, &e->NV))
        return mf_error(MF_ERR_UNSUPPORTED, "codegen: no engine for the expand-depthwise chain of node %d", d->id);
    e->B = band_rows(e, c->core_number);
    e->NB = (e->B - 1) * e->g2.sh + e->g2.kh;
    e->nbands = (e->g2.oh + e->B - 1) / e->B;
    return MF_OK;
}

mf_status mf_cg_lower_expand_dw(mf_cg_ctx *c, const mf_expand_dw *chain, const mf_dw_project *dp,
                                int nepi, const mf_value *const *epi)
{
    xd_emit e = {0};
    mf_status err = xd_setup(&e, c, chain, dp);
    if (err)
        return err;
    const mf_cg_conv_geom *g1 = &e.g1, *g2 = &e.g2;
    if (mf_type_numel(&(dp ? dp->project : chain->dw)->outputs[0]->type) == 0)
        return MF_OK;
    for (int k = 0; k < e.MR * e.NV; k++)
        e.acc[k] = mf_cg_entry_alloca(c, e.vt);
    /* the band buffer, and a vector of slack */
    e.buf = mf_cg_entry_alloca(c, LLVMArrayType2(c->f32, (uint64_t)(e.cexp * e.NB * g1->w + c->vw)));
    LLVMSetAlignment(e.buf, 64);
    LLVMValueRef last = mf_cg_entry_alloca(c, c->i64); /* the item done before: its rows are in the buffer */
    LLVMBuildStore(c->B, mf_cg_i64(c, -2), last);
    if (dp) {
        err = mf_cg_dw_project_begin(c, g2, dp, e.B, nepi, epi, &e.g3, &e.dbuf, &e.dw, &e.gemm);
        if (err)
            return err;
    } else if (!(e.dw = mf_cg_dw_new(c, g2, chain->dw->outputs[0], nepi, epi))) {
        return MF_ERR_NOMEM;
    }
    LLVMValueRef lo, hi;
    mf_cg_part_range(c, g1->batch * e.nbands, 1, &lo, &hi);
    mf_cg_loop items;
    mf_cg_loop_begin(c, &items, lo, hi);
    LLVMValueRef bnd = LLVMBuildURem(c->B, items.iv, mf_cg_i64(c, e.nbands), "");
    e.bcoord[0] = mf_cg_ix_udivk(c, items.iv, e.nbands);
    e.xb = mf_cg_gep_as(c, g1->x, mf_cg_ix_mulk(c, e.bcoord[0], g1->cin * g1->h * g1->w), g1->xdt);
    LLVMValueRef oy = mf_cg_ix_mulk(c, bnd, e.B);
    LLVMValueRef ia = mf_cg_ix_subk(c, mf_cg_ix_mulk(c, oy, g2->sh), g2->ph);
    /* the band after the one just done (same batch) has its first NB - B stride rows */
    LLVMValueRef follows = LLVMBuildAnd(c->B, LLVMBuildICmp(c->B, LLVMIntNE, bnd, mf_cg_i64(c, 0), ""),
                                        LLVMBuildICmp(c->B, LLVMIntEQ, mf_cg_ix_subk(c, items.iv, 1),
                                                      LLVMBuildLoad2(c->B, c->i64, last, ""), ""), "");
    LLVMValueRef j0 = LLVMBuildSelect(c->B, follows, mf_cg_i64(c, e.NB - e.B * g2->sh), mf_cg_i64(c, 0), "");
    LLVMBuildStore(c->B, items.iv, last);
    int64_t tail = g2->oh - (e.nbands - 1) * e.B;
    if (tail == e.B) {
        err = band(&e, oy, e.B, ia, j0, follows);
    } else {
        LLVMBasicBlockRef full = LLVMAppendBasicBlockInContext(c->C, c->body, "fullband");
        LLVMBasicBlockRef tb = LLVMAppendBasicBlockInContext(c->C, c->body, "tailband");
        LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(c->C, c->body, "banddone");
        LLVMBuildCondBr(c->B, LLVMBuildICmp(c->B, LLVMIntEQ, bnd, mf_cg_i64(c, e.nbands - 1), ""), tb, full);
        LLVMPositionBuilderAtEnd(c->B, full);
        err = band(&e, oy, e.B, ia, j0, follows);
        LLVMBuildBr(c->B, join);
        LLVMPositionBuilderAtEnd(c->B, tb);
        if (!err)
            err = band(&e, oy, tail, ia, j0, follows);
        LLVMBuildBr(c->B, join);
        LLVMPositionBuilderAtEnd(c->B, join);
    }
    mf_cg_loop_end(c, &items, 1);
    mf_cg_dw_free(e.dw);
    mf_cg_gemm_free(e.gemm);
    return err;
}
