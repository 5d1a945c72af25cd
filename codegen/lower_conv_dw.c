/* lower_conv_dw.c — depthwise conv2d (groups == input channels == output channels: each
 * output plane reads one input plane), vectorized along the output row with the target's
 * lanes.  A work item is one (batch, channel) plane: its kh*kw weights are broadcast once,
 * then every row is swept U vectors at a time (U independent FMA chains).  Padding costs
 * nothing in the interior: which rows and which vectors of a row touch the border is known
 * at compile time, so interior rows skip the row checks, interior vectors load without
 * masks, and only the border vectors use constant masks.  Strided rows load stride x vw
 * floats once per group of `stride` taps and keep lanes kx, kx+stride, ... by a shuffle.
 * Bias and the elementwise epilogue are applied before the one store. */
#include <stdlib.h>

#include "cg_internal.h"

#define DW_MAX_TAPS 49  /* kernels up to 7x7 */
#define DW_MAX_STRIDE 4 /* wide loads of stride x vw lanes */
#define DW_U 4          /* vectors of a row in flight */

typedef struct dw_emit {
    mf_cg_ctx *c;
    const mf_cg_conv_geom *g;
    const mf_value *core;
    int nepi;
    const mf_value *const *epi;
    LLVMTypeRef vt;
    int64_t tap_group; /* taps of a row sharing one wide load: the stride when dilation is 1 */
    LLVMValueRef acc[DW_U];
    /* the work item */
    LLVMValueRef w[DW_MAX_TAPS], bias, plane, ch;
    LLVMValueRef bcoord[MF_MAX_RANK];
} dw_emit;

/* Depthwise, and the kernel's broadcast weights fit the target's registers beside the
 * U sums and two loads (a 5x5 kernel on 16 registers ran at 3/4 of the pixel engine's
 * speed, its weights spilled). */
bool mf_cg_dw_choose(const mf_cg_ctx *c, const mf_cg_conv_geom *g)
{
    return !g->is_matmul && g->groups > 1 && g->cin == g->groups && g->cout == g->groups &&
           g->kh * g->kw <= DW_MAX_TAPS && g->sw <= DW_MAX_STRIDE &&
           g->kh * g->kw + DW_U + 2 <= c->shape.vregs;
}

/* Is lane l of the wide load for taps [k0, k0 + tap_group) of the vector at pixel ox0 one
 * that some tap of the group reads, inside the row? */
static bool wide_lane_live(const dw_emit *e, int64_t ox0, int64_t k0, int64_t l)
{
    const mf_cg_conv_geom *g = e->g;
    int64_t r = l % g->sw, ox = ox0 + l / g->sw, ix = ox0 * g->sw - g->pw + k0 * g->dw + l;
    return r < e->tap_group && ox < g->ow && ix >= 0 && ix < g->w;
}

/* Does every tap group of the vector at ox0 load inside the row, and every lane hold an
 * output?  Then it needs no mask. */
static bool vector_inside(const dw_emit *e, int64_t ox0)
{
    const mf_cg_conv_geom *g = e->g;
    if (ox0 + e->c->vw > g->ow)
        return false;
    for (int64_t k0 = 0; k0 < g->kw; k0 += e->tap_group) {
        int64_t lo = ox0 * g->sw - g->pw + k0 * g->dw, hi = lo + g->sw * e->c->vw - 1;
        if (lo < 0 || hi >= g->w)
            return false;
    }
    return true;
}

/* The wide load (sw x vw floats) of the taps [k0, ...) for the vector at pixel ox0 of `row`;
 * masked: with the constant mask of pixel ox0c, NULL when no lane is live. */
static LLVMValueRef wide_load(dw_emit *e, LLVMValueRef row, LLVMValueRef ox0, int64_t ox0c, int64_t k0, bool masked)
{
    mf_cg_ctx *c = e->c;
    const mf_cg_conv_geom *g = e->g;
    unsigned n = (unsigned)(g->sw * c->vw);
    LLVMTypeRef wide = LLVMVectorType(c->f32, n);
    LLVMValueRef ptr = mf_cg_gep(c, row, mf_cg_ix_addk(c, mf_cg_ix_mulk(c, ox0, g->sw), k0 * g->dw - g->pw));
    if (!masked) {
        LLVMValueRef x = LLVMBuildLoad2(c->B, wide, ptr, "");
        LLVMSetAlignment(x, 4);
        return x;
    }
    LLVMValueRef bits[DW_MAX_STRIDE * MF_CG_MAX_VW];
    int live = 0;
    for (unsigned l = 0; l < n; l++) {
        bool on = wide_lane_live(e, ox0c, k0, l);
        bits[l] = LLVMConstInt(c->i1, on, 0);
        live += on;
    }
    if (!live)
        return NULL;
    LLVMValueRef ops[4] = {ptr, LLVMConstInt(c->i32, 4, 0), LLVMConstVector(bits, n), LLVMConstNull(wide)};
    LLVMTypeRef tys[2] = {wide, c->ptr};
    return mf_cg_intrin2(c, "llvm.masked.load", tys, 2, wide, 4, ops);
}

/* Lanes r, r + sw, r + 2 sw, ... of a wide load: the inputs of one tap. */
static LLVMValueRef tap_lanes(dw_emit *e, LLVMValueRef wide, int64_t r)
{
    mf_cg_ctx *c = e->c;
    if (e->g->sw == 1)
        return wide;
    LLVMValueRef idx[MF_CG_MAX_VW];
    for (int i = 0; i < c->vw; i++)
        idx[i] = LLVMConstInt(c->i32, (unsigned long long)(e->g->sw * i + r), 0);
    return LLVMBuildShuffleVector(c->B, wide, LLVMGetPoison(LLVMTypeOf(wide)), LLVMConstVector(idx, (unsigned)c->vw), "");
}

/* acc[u] += the taps of kernel row ky at input row `row`, for U vectors from pixel ox0. */
static void kernel_row(dw_emit *e, LLVMValueRef row, int64_t ky, LLVMValueRef ox0, int64_t ox0c, int U, bool masked)
{
    mf_cg_ctx *c = e->c;
    const mf_cg_conv_geom *g = e->g;
    for (int64_t k0 = 0; k0 < g->kw; k0 += e->tap_group) {
        LLVMValueRef wide[DW_U];
        for (int u = 0; u < U; u++)
            wide[u] = wide_load(e, row, mf_cg_ix_addk(c, ox0, (int64_t)u * c->vw), ox0c + (int64_t)u * c->vw, k0, masked);
        for (int64_t kx = k0; kx < k0 + e->tap_group && kx < g->kw; kx++)
            for (int u = 0; u < U; u++) {
                if (!wide[u])
                    continue;
                LLVMValueRef x = tap_lanes(e, wide[u], kx - k0);
                LLVMValueRef s = LLVMBuildLoad2(c->B, e->vt, e->acc[u], "");
                LLVMBuildStore(c->B, mf_cg_fmuladd(c, e->w[ky * g->kw + kx], x, s), e->acc[u]);
            }
    }
}

/* U vectors of output row oy from pixel ox0 (ox0c when known at compile time): the sums
 * over the kernel (rows outside the input skipped at run time when `checked`), then bias
 * and epilogue. */
static mf_status dw_vectors(dw_emit *e, LLVMValueRef oy, bool checked, LLVMValueRef ox0, int64_t ox0c, int U, bool masked)
{
    mf_cg_ctx *c = e->c;
    const mf_cg_conv_geom *g = e->g;
    for (int u = 0; u < U; u++)
        LLVMBuildStore(c->B, mf_cg_fconst(c, e->vt, 0.0), e->acc[u]);
    LLVMValueRef iy0 = mf_cg_ix_subk(c, mf_cg_ix_mulk(c, oy, g->sh), g->ph);
    for (int64_t ky = 0; ky < g->kh; ky++) {
        LLVMValueRef iy = mf_cg_ix_addk(c, iy0, ky * g->dh);
        LLVMBasicBlockRef next = NULL;
        if (checked) {
            LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(c->C, c->body, "row");
            next = LLVMAppendBasicBlockInContext(c->C, c->body, "next");
            LLVMBuildCondBr(c->B, LLVMBuildICmp(c->B, LLVMIntULT, iy, mf_cg_i64(c, g->h), ""), then, next);
            LLVMPositionBuilderAtEnd(c->B, then);
        }
        kernel_row(e, mf_cg_gep(c, e->plane, mf_cg_ix_mulk(c, iy, g->w)), ky, ox0, ox0c, U, masked);
        if (checked) {
            LLVMBuildBr(c->B, next);
            LLVMPositionBuilderAtEnd(c->B, next);
        }
    }
    mf_cg_point *p = mf_cg_conv_point(e->core, 3, (unsigned)c->vw, g->nbd, e->bcoord);
    if (!p)
        return MF_ERR_NOMEM;
    p->coord[1] = e->ch;
    p->coord[2] = oy;
    mf_status err = MF_OK;
    for (int u = 0; u < U && !err; u++) {
        p->coord[3] = mf_cg_ix_addk(c, ox0, (int64_t)u * c->vw);
        p->mask = NULL;
        if (masked) {
            LLVMValueRef bits[MF_CG_MAX_VW];
            for (int l = 0; l < c->vw; l++)
                bits[l] = LLVMConstInt(c->i1, ox0c + (int64_t)u * c->vw + l < g->ow, 0);
            p->mask = LLVMConstVector(bits, (unsigned)c->vw);
        }
        p->core_val = LLVMBuildLoad2(c->B, e->vt, e->acc[u], "");
        if (e->bias)
            p->core_val = LLVMBuildFAdd(c->B, p->core_val, e->bias, "");
        p->nmemo = 0;
        err = mf_cg_store_epilogue(c, p, e->nepi, e->epi);
    }
    free(p);
    return err;
}

/* Masked vectors [j0, j1) of a row, U at a time, at compile-time pixels. */
static mf_status border_vectors(dw_emit *e, LLVMValueRef oy, bool checked, int64_t j0, int64_t j1)
{
    mf_status err = MF_OK;
    for (int64_t j = j0; j < j1 && !err; j += DW_U) {
        int U = j1 - j < DW_U ? (int)(j1 - j) : DW_U;
        int64_t ox0 = j * e->c->vw;
        err = dw_vectors(e, oy, checked, mf_cg_i64(e->c, ox0), ox0, U, true);
    }
    return err;
}

/* One output row: border vectors masked, the interior ones in a loop of U at a time. */
static mf_status dw_row(dw_emit *e, LLVMValueRef oy, bool checked)
{
    mf_cg_ctx *c = e->c;
    const int64_t VW = c->vw, nv = (e->g->ow + VW - 1) / VW;
    int64_t lo = 0, hi;
    while (lo < nv && !vector_inside(e, lo * VW))
        lo++;
    hi = lo;
    while (hi < nv && vector_inside(e, hi * VW))
        hi++;
    mf_status err = border_vectors(e, oy, checked, 0, lo);
    int64_t ngroups = (hi - lo) / DW_U;
    if (!err && ngroups > 0) {
        mf_cg_loop t;
        mf_cg_loop_begin(c, &t, mf_cg_i64(c, 0), mf_cg_i64(c, ngroups));
        LLVMValueRef ox0 = mf_cg_ix_addk(c, mf_cg_ix_mulk(c, t.iv, DW_U * VW), lo * VW);
        err = dw_vectors(e, oy, checked, ox0, 0, DW_U, false);
        mf_cg_loop_end(c, &t, 1);
    }
    int64_t rest = lo + ngroups * DW_U;
    if (!err && rest < hi) {
        err = dw_vectors(e, oy, checked, mf_cg_i64(c, rest * VW), rest * VW, (int)(hi - rest), false);
    }
    if (!err)
        err = border_vectors(e, oy, checked, hi, nv);
    return err;
}

/* Rows [y0, y1) (compile-time), checked or not. */
static mf_status dw_rows(dw_emit *e, int64_t y0, int64_t y1, bool checked)
{
    if (y0 >= y1)
        return MF_OK;
    mf_cg_loop r;
    mf_cg_loop_begin(e->c, &r, mf_cg_i64(e->c, y0), mf_cg_i64(e->c, y1));
    mf_status err = dw_row(e, r.iv, checked);
    mf_cg_loop_end(e->c, &r, 1);
    return err;
}

mf_status mf_cg_emit_conv_dw(mf_cg_ctx *c, const mf_cg_conv_geom *g, const mf_value *core, int nepi,
                             const mf_value *const *epi)
{
    dw_emit e = {.c = c, .g = g, .core = core, .nepi = nepi, .epi = epi,
                 .vt = LLVMVectorType(c->f32, (unsigned)c->vw), .tap_group = g->dw == 1 ? g->sw : 1};
    for (int u = 0; u < DW_U; u++)
        e.acc[u] = mf_cg_entry_alloca(c, e.vt);
    int64_t nbatch = 1, khw = g->kh * g->kw;
    for (int d = 0; d < g->nbd; d++)
        nbatch *= g->bshape[d];
    LLVMValueRef lo, hi;
    mf_cg_part_range(c, nbatch * g->cout, 1, &lo, &hi);
    mf_cg_loop items;
    mf_cg_loop_begin(c, &items, lo, hi);
    int64_t dims[2] = {nbatch, g->cout};
    LLVMValueRef q[2];
    mf_cg_unravel(c, items.iv, 2, dims, q);
    mf_cg_unravel(c, q[0], g->nbd, g->bshape, e.bcoord);
    e.ch = q[1];
    e.plane = mf_cg_gep(c, g->x, mf_cg_ix_add(c, mf_cg_conv_batch_offset(c, g, e.bcoord, g->bx_stride),
                                              mf_cg_ix_mulk(c, e.ch, g->h * g->w)));
    LLVMValueRef wch = mf_cg_gep(c, g->wt, mf_cg_ix_add(c, mf_cg_conv_batch_offset(c, g, e.bcoord, g->bw_stride),
                                                        mf_cg_ix_mulk(c, e.ch, khw)));
    for (int64_t t = 0; t < khw; t++)
        e.w[t] = mf_cg_vsplat(c, LLVMBuildLoad2(c->B, c->f32, mf_cg_gep(c, wch, mf_cg_i64(c, t)), ""));
    e.bias = g->bias ? mf_cg_vsplat(c, LLVMBuildLoad2(c->B, c->f32, mf_cg_gep(c, g->bias, e.ch), "")) : NULL;
    /* rows whose every kernel row lies inside the input: [ylo, yhi) */
    int64_t ylo = (g->ph + g->sh - 1) / g->sh, yhi = 0;
    for (int64_t oy = 0; oy < g->oh; oy++)
        if (oy * g->sh - g->ph + (g->kh - 1) * g->dh < g->h)
            yhi = oy + 1;
    if (ylo > g->oh)
        ylo = g->oh;
    if (yhi < ylo)
        yhi = ylo;
    mf_status err = dw_rows(&e, 0, ylo, true);
    if (!err)
        err = dw_rows(&e, ylo, yhi, false);
    if (!err)
        err = dw_rows(&e, yhi, g->oh, true);
    mf_cg_loop_end(c, &items, 1);
    return err;
}
