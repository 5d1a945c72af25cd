/* lower_fpool.c — f32 max pooling, vw output pixels of a row at a time
 * (vw the target's lanes): per window element one vector load of s*vw inputs of the row
 * keeping every s-th lane (stride s), and a vector max.  The tiles of a row whose loads all
 * lie inside it run in a loop without masks; the border tiles are unrolled with their
 * masks known at compile time (padding lanes read -inf); rows of the window outside the
 * input are skipped at run time.  The generic pooling (lower_reduce.c) took one output at
 * a time (resnet18's 3x3 stride-2 pool: 0.81 ms, 5 GB/s); it still lowers what this does
 * not: inputs computed in the subgraph, windows over FP_TAPS_MAX, strides over 4. */
#include <math.h>
#include <stdlib.h>

#include "cg_internal.h"

#define FP_TAPS_MAX 64  /* window elements unrolled */
#define FP_BORDER_MAX 4 /* border tiles unrolled per row, at most */

typedef struct fpool {
    mf_cg_ctx *c;
    mf_pool2d_view v;
    mf_dtype xdt;
    int64_t h, w, oh, ow, ntiles, tlo, thi; /* [tlo, thi): the tiles without masks */
    LLVMTypeRef vt, wide;                  /* vw lanes; s*vw lanes (one tap's load) */
    LLVMValueRef acc;                      /* alloca of the tile's running max */
    int nepi;
    const mf_value *const *epi;
} fpool;

/* Does every load of tile t lie inside the row, and every output pixel exist? */
static bool tile_inside(const fpool *p, int64_t t)
{
    int64_t s = p->v.stride[1], ox0 = t * p->c->vw, ox1 = ox0 + p->c->vw - 1;
    int64_t lo = ox0 * s - p->v.padding[1];
    int64_t hi = ox1 * s - p->v.padding[1] + (p->v.kernel[1] - 1) * p->v.dilation[1] + (s - 1);
    return ox1 < p->ow && lo >= 0 && hi < p->w;
}

/* p's tiles a row and [tlo, thi), the run of them without masks (empty: tlo == thi). */
static void tile_range(fpool *p)
{
    p->ntiles = (p->ow + p->c->vw - 1) / p->c->vw;
    for (p->tlo = 0; p->tlo < p->ntiles && !tile_inside(p, p->tlo);)
        p->tlo++;
    for (p->thi = p->tlo; p->thi < p->ntiles && tile_inside(p, p->thi);)
        p->thi++;
}

bool mf_cg_fpool_applies(mf_cg_ctx *c, const mf_node *n)
{
    const mf_type *xt = &n->inputs[0]->type;
    const mf_value *src;
    if (n->op != MF_OP_MAX_POOL2D || xt->rank != 4 || xt->dtype != MF_F32 || !(src = mf_cg_view_source(c->g, n)) ||
        src->type.dtype != MF_F32)
        return false;
    mf_pool2d_view v = mf_pool2d_of(n->op, n->attrs);
    fpool p = {.c = c, .v = v, .w = xt->shape[3], .ow = n->outputs[0]->type.shape[3]};
    tile_range(&p);
    return v.kernel[0] * v.kernel[1] <= FP_TAPS_MAX && v.stride[1] <= 4 &&
           p.ntiles - (p.thi - p.tlo) <= FP_BORDER_MAX;
}

/* max(acc, x) where x is larger or NaN: the reference's rule (NaN propagates). */
static LLVMValueRef vmax(mf_cg_ctx *c, LLVMValueRef acc, LLVMValueRef x)
{
    LLVMValueRef take = LLVMBuildOr(c->B, LLVMBuildFCmp(c->B, LLVMRealOGT, x, acc, ""),
                                    LLVMBuildFCmp(c->B, LLVMRealUNO, x, x, ""), "");
    return LLVMBuildSelect(c->B, take, x, acc, "");
}

/* The inputs x0 + s*l of row `row` for lanes l of the tile (tap column x0); border tiles
 * (ox0c >= 0: the tile's first pixel, a constant) mask lanes in the padding or past the
 * row to -inf, and NULL when no lane is live. */
static LLVMValueRef tap(fpool *p, LLVMValueRef row, LLVMValueRef x0, int64_t ox0c, int64_t x0c)
{
    mf_cg_ctx *c = p->c;
    const int VW = c->vw;
    int64_t s = p->v.stride[1];
    unsigned n = (unsigned)(s * VW);
    LLVMValueRef ptr = mf_cg_gep_as(c, row, x0, p->xdt), mask = NULL;
    if (ox0c >= 0) {
        LLVMValueRef bits[4 * MF_CG_MAX_VW];
        int live = 0;
        for (unsigned l = 0; l < n; l++) {
            bool on = l % s == 0 && ox0c + l / s < p->ow && x0c + l >= 0 && x0c + l < p->w;
            bits[l] = LLVMConstInt(c->i1, on, 0);
            live += on;
        }
        if (!live)
            return NULL;
        mask = live < (int)n ? LLVMConstVector(bits, n) : NULL;
    }
    LLVMValueRef x = mf_cg_load_f32_as(c, n == 1 ? c->f32 : p->wide, ptr, mask, p->xdt);
    if (mask)
        x = LLVMBuildSelect(c->B, mask, x, mf_cg_fconst(c, p->wide, -INFINITY), "");
    if (n == 1)
        return mf_cg_vsplat(c, x);
    if (s == 1)
        return x;
    return mf_cg_lanes_every(c, x, s, 0);
}

/* One tile of vw output pixels from ox0 (ox0c: the same as a constant on border tiles,
 * else -1) of output row oy of plane: the window's max through the epilogue. */
static mf_status emit_tile(fpool *p, mf_cg_point *pt, LLVMValueRef plane, LLVMValueRef oy, LLVMValueRef ox0, int64_t ox0c)
{
    mf_cg_ctx *c = p->c;
    const mf_pool2d_view *v = &p->v;
    LLVMBuildStore(c->B, mf_cg_fconst(c, p->vt, -INFINITY), p->acc);
    for (int64_t ky = 0; ky < v->kernel[0]; ky++) {
        LLVMValueRef iy = mf_cg_ix_addk(c, mf_cg_ix_mulk(c, oy, v->stride[0]), ky * v->dilation[0] - v->padding[0]);
        LLVMBasicBlockRef in = LLVMAppendBasicBlockInContext(c->C, c->body, "in");
        LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(c->C, c->body, "next");
        LLVMBuildCondBr(c->B, LLVMBuildICmp(c->B, LLVMIntULT, iy, mf_cg_i64(c, p->h), ""), in, next);
        LLVMPositionBuilderAtEnd(c->B, in);
        LLVMValueRef row = mf_cg_gep_as(c, plane, mf_cg_ix_mulk(c, iy, p->w), p->xdt);
        LLVMValueRef acc = LLVMBuildLoad2(c->B, p->vt, p->acc, "");
        for (int64_t kx = 0; kx < v->kernel[1]; kx++) {
            int64_t off = kx * v->dilation[1] - v->padding[1];
            LLVMValueRef x0 = mf_cg_ix_addk(c, mf_cg_ix_mulk(c, ox0, v->stride[1]), off);
            LLVMValueRef x = tap(p, row, x0, ox0c, ox0c * v->stride[1] + off);
            if (x)
                acc = vmax(c, acc, x);
        }
        LLVMBuildStore(c->B, acc, p->acc);
        LLVMBuildBr(c->B, next);
        LLVMPositionBuilderAtEnd(c->B, next);
    }
    pt->coord[3] = ox0;
    pt->mask = NULL;
    if (ox0c >= 0 && ox0c + c->vw > p->ow) {
        LLVMValueRef bits[MF_CG_MAX_VW];
        for (int l = 0; l < c->vw; l++)
            bits[l] = LLVMConstInt(c->i1, ox0c + l < p->ow, 0);
        pt->mask = LLVMConstVector(bits, (unsigned)c->vw);
    }
    pt->core_val = LLVMBuildLoad2(c->B, p->vt, p->acc, "");
    pt->nmemo = 0;
    return mf_cg_store_epilogue(c, pt, p->nepi, p->epi);
}

mf_status mf_cg_lower_fmax_pool(mf_cg_ctx *c, const mf_node *n, int nepi, const mf_value *const *epi)
{
    const mf_type *xt = &n->inputs[0]->type, *ot = &n->outputs[0]->type;
    const mf_value *src = mf_cg_view_source(c->g, n);
    fpool p = {.c = c, .v = mf_pool2d_of(n->op, n->attrs), .xdt = src->type.dtype, .h = xt->shape[2],
               .w = xt->shape[3], .oh = ot->shape[2], .ow = ot->shape[3],
               .vt = LLVMVectorType(c->f32, (unsigned)c->vw), .nepi = nepi, .epi = epi};
    p.wide = LLVMVectorType(c->f32, (unsigned)(p.v.stride[1] * c->vw));
    tile_range(&p);
    p.acc = mf_cg_entry_alloca(c, p.vt);
    mf_cg_point *pt = mf_cg_conv_point(n->outputs[0], 3, (unsigned)c->vw, 0, NULL);
    if (!pt)
        return MF_ERR_NOMEM;
    LLVMValueRef lo, hi;
    mf_cg_part_range(c, ot->shape[0] * ot->shape[1] * p.oh, 1, &lo, &hi);
    mf_cg_loop rows;
    mf_cg_loop_begin(c, &rows, lo, hi);
    int64_t dims[3] = {ot->shape[0], ot->shape[1], p.oh};
    mf_cg_unravel(c, rows.iv, 3, dims, pt->coord);
    LLVMValueRef plane = mf_cg_gep_as(c, c->in_ptr[mf_cg_input_index(c->g, src)],
                                      mf_cg_ix_mulk(c, mf_cg_ix_madd(c, pt->coord[0], xt->shape[1], pt->coord[1]), p.h * p.w), p.xdt);
    mf_status err = MF_OK;
    for (int64_t t = 0; t < p.ntiles && !err; t++) {
        if (t == p.tlo && p.thi > p.tlo) { /* the tiles without masks, in a loop */
            mf_cg_loop tl;
            mf_cg_loop_begin(c, &tl, mf_cg_i64(c, p.tlo), mf_cg_i64(c, p.thi));
            err = emit_tile(&p, pt, plane, pt->coord[2], mf_cg_ix_mulk(c, tl.iv, c->vw), -1);
            mf_cg_loop_end_scalar(c, &tl, 1);
            t = p.thi - 1;
            continue;
        }
        err = emit_tile(&p, pt, plane, pt->coord[2], mf_cg_i64(c, t * c->vw), t * c->vw);
    }
    mf_cg_loop_end(c, &rows, 1);
    free(pt);
    return err;
}
