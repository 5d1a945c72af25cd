/* lower_winograd.c — the input and output transforms of Winograd F(4,3) (ir/winograd.h;
 * the GEMMs between them are matmul's, the weight transform is folded at compile time).
 * Both are vectorized over tiles: lane l holds tile tx0 + l of one tile row, so a vector
 * of tiles reads and writes 4 * vw consecutive pixels of an image row, deinterleaved on
 * the way in (one wide load per 4 columns of the 6x6 tile, lanes 4l + b picked by a
 * shuffle, as the conv engine's strided load_x does) and interleaved on the way out.  A
 * work item is one tile row (and for the output one channel); its groups of vw tiles run
 * in a loop, the last group, which may hold fewer tiles, with masks known at compile
 * time.  Input loads are masked to the image (padding reads zeros).
 *
 * With channels_last (few tiles: the GEMMs run over channels instead) lane l is channel
 * c0 + l of one tile: the input transform gathers the 6x6 tile of vw channel planes and
 * stores contiguous channel vectors; the output transform loads them and applies the
 * epilogue with channels in the lanes, as the conv engine's output-channel engine does. */
#include <stdlib.h>

#include "cg_internal.h"
#include "ir/winograd.h"

typedef struct wino {
    mf_cg_ctx *c;
    LLVMTypeRef vt, wide;                /* <vw x float>, <4vw x float> */
    int64_t n, ch, h, w, ph, pw, th, tw; /* images, channels, input (or output) plane, tiles */
    int64_t ngroups;                     /* groups of vw tiles per tile row */
    mf_dtype xdt;                        /* the input transform's x: f32, or f16 loads widen */
} wino;

/* sum_k coef[k] * v[k] over the nonzero coefficients (a ±1 is an add or subtract). */
static LLVMValueRef combine(wino *e, const float *coef, int stride, LLVMValueRef *v, int nv)
{
    mf_cg_ctx *c = e->c;
    LLVMValueRef acc = NULL;
    for (int k = 0; k < nv; k++) {
        float a = coef[k * stride];
        if (a == 0)
            continue;
        if (a == 1)
            acc = acc ? LLVMBuildFAdd(c->B, acc, v[k], "") : v[k];
        else if (a == -1)
            acc = acc ? LLVMBuildFSub(c->B, acc, v[k], "") : LLVMBuildFNeg(c->B, v[k], "");
        else if (acc)
            acc = mf_cg_fmuladd(c, mf_cg_fconst(c, e->vt, a), v[k], acc);
        else
            acc = LLVMBuildFMul(c->B, mf_cg_fconst(c, e->vt, a), v[k], "");
    }
    return acc ? acc : mf_cg_fconst(c, e->vt, 0.0);
}

/* <n x i1> of lanes with base + l in [0, limit), l = 0..n-1; base an i64 value. */
static LLVMValueRef lanes_below(mf_cg_ctx *c, LLVMValueRef base, unsigned n, int64_t limit)
{
    LLVMValueRef li[4 * MF_CG_MAX_VW], lim[4 * MF_CG_MAX_VW];
    for (unsigned l = 0; l < n; l++) {
        li[l] = mf_cg_i64(c, (int64_t)l);
        lim[l] = mf_cg_i64(c, limit);
    }
    LLVMTypeRef iv = LLVMVectorType(c->i64, n);
    LLVMValueRef b = LLVMBuildInsertElement(c->B, LLVMGetPoison(iv), base, LLVMConstInt(c->i32, 0, 0), "");
    b = LLVMBuildShuffleVector(c->B, b, LLVMGetPoison(iv), LLVMConstNull(LLVMVectorType(c->i32, n)), "");
    LLVMValueRef ix = LLVMBuildAdd(c->B, b, LLVMConstVector(li, n), "");
    return LLVMBuildICmp(c->B, LLVMIntULT, ix, LLVMConstVector(lim, n), "");
}

static LLVMValueRef const_mask(mf_cg_ctx *c, unsigned n, unsigned live)
{
    LLVMValueRef bits[MF_CG_MAX_VW];
    for (unsigned l = 0; l < n; l++)
        bits[l] = LLVMConstInt(c->i1, l < live, 0);
    return LLVMConstVector(bits, n);
}

static LLVMValueRef masked_load(mf_cg_ctx *c, LLVMTypeRef vt, LLVMValueRef ptr, LLVMValueRef mask)
{
    if (!mask) {
        LLVMValueRef x = LLVMBuildLoad2(c->B, vt, ptr, "");
        LLVMSetAlignment(x, 4);
        return x;
    }
    LLVMValueRef ops[4] = {ptr, LLVMConstInt(c->i32, 4, 0), mask, LLVMConstNull(vt)};
    LLVMTypeRef tys[2] = {vt, c->ptr};
    return mf_cg_intrin2(c, "llvm.masked.load", tys, 2, vt, 4, ops);
}

static void masked_store(mf_cg_ctx *c, LLVMValueRef x, LLVMValueRef ptr, LLVMValueRef mask)
{
    if (!mask) {
        LLVMSetAlignment(LLVMBuildStore(c->B, x, ptr), 4);
        return;
    }
    LLVMValueRef ops[4] = {x, ptr, LLVMConstInt(c->i32, 4, 0), mask};
    LLVMTypeRef tys[2] = {LLVMTypeOf(x), c->ptr};
    mf_cg_intrin2(c, "llvm.masked.store", tys, 2, NULL, 4, ops);
}

/* Lanes first + 4l of a <4vw x float>: one column of a vector of tiles. */
static LLVMValueRef pick(wino *e, LLVMValueRef wide, int first)
{
    mf_cg_ctx *c = e->c;
    LLVMValueRef idx[MF_CG_MAX_VW];
    for (int l = 0; l < c->vw; l++)
        idx[l] = LLVMConstInt(c->i32, (unsigned long long)(4 * l + first), 0);
    return LLVMBuildShuffleVector(c->B, wide, LLVMGetPoison(e->wide), LLVMConstVector(idx, (unsigned)c->vw), "");
}

/* ---- the input transform: x[N, C, H, W] -> V[36, C, T] ------------------------------------ */

/* The 36 transformed vectors of one channel plane for the group of tiles whose first input
 * column is ix0, in the tile row whose first input row is iy0: store mask tmask (NULL: all
 * vw tiles). */
static void input_group(wino *e, LLVMValueRef plane, LLVMValueRef iy0, LLVMValueRef ix0,
                        LLVMValueRef vout, int64_t stride, LLVMValueRef tmask)
{
    mf_cg_ctx *c = e->c;
    unsigned nw = 4 * (unsigned)c->vw;
    LLVMValueRef cm[2] = {lanes_below(c, ix0, nw, e->w), lanes_below(c, mf_cg_ix_addk(c, ix0, 4), nw, e->w)};
    LLVMValueRef d[6][6], r[6][6];
    for (int a = 0; a < 6; a++) {
        LLVMValueRef iy = mf_cg_ix_addk(c, iy0, a);
        LLVMValueRef ok = LLVMBuildICmp(c->B, LLVMIntULT, iy, mf_cg_i64(c, e->h), "");
        LLVMValueRef row = mf_cg_gep_as(c, plane, mf_cg_ix_add(c, mf_cg_ix_mulk(c, iy, e->w), ix0), e->xdt);
        LLVMValueRef wide[2];
        for (int k = 0; k < 2; k++) {
            LLVMValueRef m = LLVMBuildSelect(c->B, ok, cm[k], LLVMConstNull(LLVMTypeOf(cm[k])), "");
            wide[k] = mf_cg_load_f32_as(c, e->wide, mf_cg_gep_as(c, row, mf_cg_i64(c, 4 * k), e->xdt), m, e->xdt);
        }
        for (int b = 0; b < 6; b++)
            d[a][b] = pick(e, wide[b / 4], b % 4);
    }
    for (int i = 0; i < 6; i++) /* Bᵀ d: columns of the tile */
        for (int b = 0; b < 6; b++) {
            LLVMValueRef col[6];
            for (int a = 0; a < 6; a++)
                col[a] = d[a][b];
            r[i][b] = combine(e, mf_wino_bt[i], 1, col, 6);
        }
    for (int i = 0; i < 6; i++) /* (Bᵀ d) B: rows */
        for (int j = 0; j < 6; j++) {
            LLVMValueRef v = combine(e, mf_wino_bt[j], 1, r[i], 6);
            masked_store(c, v, mf_cg_gep(c, vout, mf_cg_i64(c, (i * 6 + j) * stride)), tmask);
        }
}

/* Every channel of one group of tiles; tx0 the group's first tile. */
static void input_channels(wino *e, LLVMValueRef xn, LLVMValueRef ty, LLVMValueRef tx0, LLVMValueRef tbase,
                           LLVMValueRef out, LLVMValueRef tmask)
{
    mf_cg_ctx *c = e->c;
    int64_t T = e->n * e->th * e->tw;
    LLVMValueRef iy0 = mf_cg_ix_subk(c, mf_cg_ix_mulk(c, ty, 4), e->ph);
    LLVMValueRef ix0 = mf_cg_ix_subk(c, mf_cg_ix_mulk(c, tx0, 4), e->pw);
    mf_cg_loop ch;
    mf_cg_loop_begin(c, &ch, mf_cg_i64(c, 0), mf_cg_i64(c, e->ch));
    LLVMValueRef plane = mf_cg_gep_as(c, xn, mf_cg_ix_mulk(c, ch.iv, e->h * e->w), e->xdt);
    LLVMValueRef vout = mf_cg_gep(c, out, mf_cg_ix_add(c, mf_cg_ix_mulk(c, ch.iv, T), mf_cg_ix_add(c, tbase, tx0)));
    input_group(e, plane, iy0, ix0, vout, e->ch * T, tmask);
    mf_cg_loop_end_scalar(c, &ch, 1);
}

/* ---- channels_last: channels in the lanes --------------------------------------------- */

static LLVMValueRef all_true(mf_cg_ctx *c)
{
    return const_mask(c, (unsigned)c->vw, (unsigned)c->vw);
}

/* One tile of vw channels (mask cmask, NULL: all): xc the first channel's plane, vout
 * where its position 0 goes, positions pstride apart. */
static void input_tile_cl(wino *e, LLVMValueRef xc, LLVMValueRef iy0, LLVMValueRef ix0, LLVMValueRef vout,
                          int64_t pstride, LLVMValueRef cmask)
{
    mf_cg_ctx *c = e->c;
    LLVMValueRef off[MF_CG_MAX_VW];
    for (int l = 0; l < c->vw; l++)
        off[l] = mf_cg_i64(c, (int64_t)l * e->h * e->w);
    LLVMValueRef offs = LLVMConstVector(off, (unsigned)c->vw), live = cmask ? cmask : all_true(c);
    LLVMValueRef none = LLVMConstNull(LLVMTypeOf(live));
    LLVMValueRef d[6][6], r[6][6], rowok[6];
    for (int a = 0; a < 6; a++)
        rowok[a] = LLVMBuildICmp(c->B, LLVMIntULT, mf_cg_ix_addk(c, iy0, a), mf_cg_i64(c, e->h), "");
    for (int b = 0; b < 6; b++) {
        LLVMValueRef ix = mf_cg_ix_addk(c, ix0, b);
        LLVMValueRef colok = LLVMBuildICmp(c->B, LLVMIntULT, ix, mf_cg_i64(c, e->w), "");
        for (int a = 0; a < 6; a++) {
            LLVMValueRef at = mf_cg_ix_add(c, mf_cg_ix_mulk(c, mf_cg_ix_addk(c, iy0, a), e->w), ix);
            LLVMValueRef ptrs = mf_cg_gep_as(c, mf_cg_gep_as(c, xc, at, e->xdt), offs, e->xdt);
            LLVMValueRef ok = LLVMBuildAnd(c->B, rowok[a], colok, "");
            d[a][b] = mf_cg_gather_f32_as(c, e->vt, ptrs, LLVMBuildSelect(c->B, ok, live, none, ""), e->xdt);
        }
    }
    for (int i = 0; i < 6; i++)
        for (int b = 0; b < 6; b++) {
            LLVMValueRef col[6];
            for (int a = 0; a < 6; a++)
                col[a] = d[a][b];
            r[i][b] = combine(e, mf_wino_bt[i], 1, col, 6);
        }
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) {
            LLVMValueRef v = combine(e, mf_wino_bt[j], 1, r[i], 6);
            masked_store(c, v, mf_cg_gep(c, vout, mf_cg_i64(c, (i * 6 + j) * pstride)), cmask);
        }
}

/* Opens the loop over this partition's tile rows (image n, tile row ty): q = {n, ty}. */
static void begin_tile_rows(wino *e, mf_cg_loop *items, LLVMValueRef q[2])
{
    mf_cg_ctx *c = e->c;
    LLVMValueRef lo, hi;
    mf_cg_part_range(c, e->n * e->th, 1, &lo, &hi);
    mf_cg_loop_begin(c, items, lo, hi);
    mf_cg_unravel(c, items->iv, 2, (int64_t[]){e->n, e->th}, q);
}

/* Items are tile rows; per tile, the full channel blocks in a loop, then the tail. */
static void lower_input_cl(wino *e, LLVMValueRef x, LLVMValueRef out)
{
    mf_cg_ctx *c = e->c;
    int64_t T = e->n * e->th * e->tw, full = e->ch / c->vw, tail = e->ch % c->vw;
    mf_cg_loop items, tx, cb;
    LLVMValueRef q[2];
    begin_tile_rows(e, &items, q);
    LLVMValueRef xn = mf_cg_gep_as(c, x, mf_cg_ix_mulk(c, q[0], e->ch * e->h * e->w), e->xdt);
    LLVMValueRef iy0 = mf_cg_ix_subk(c, mf_cg_ix_mulk(c, q[1], 4), e->ph);
    mf_cg_loop_begin(c, &tx, mf_cg_i64(c, 0), mf_cg_i64(c, e->tw));
    LLVMValueRef ix0 = mf_cg_ix_subk(c, mf_cg_ix_mulk(c, tx.iv, 4), e->pw);
    LLVMValueRef vt0 = mf_cg_gep(c, out, mf_cg_ix_mulk(c, mf_cg_ix_madd(c, items.iv, e->tw, tx.iv), e->ch));
    if (full) {
        mf_cg_loop_begin(c, &cb, mf_cg_i64(c, 0), mf_cg_i64(c, full));
        LLVMValueRef c0 = mf_cg_ix_mulk(c, cb.iv, c->vw);
        input_tile_cl(e, mf_cg_gep_as(c, xn, mf_cg_ix_mulk(c, c0, e->h * e->w), e->xdt), iy0, ix0, mf_cg_gep(c, vt0, c0),
                      T * e->ch, NULL);
        mf_cg_loop_end_scalar(c, &cb, 1);
    }
    if (tail)
        input_tile_cl(e, mf_cg_gep_as(c, xn, mf_cg_i64(c, full * c->vw * e->h * e->w), e->xdt), iy0, ix0,
                      mf_cg_gep(c, vt0, mf_cg_i64(c, full * c->vw)), T * e->ch,
                      const_mask(c, (unsigned)c->vw, (unsigned)tail));
    mf_cg_loop_end_scalar(c, &tx, 1);
    mf_cg_loop_end(c, &items, 1);
}

mf_status mf_cg_lower_winograd_input(mf_cg_ctx *c, const mf_node *n, int nepi, const mf_value *const *epi)
{
    const mf_type *xt = &n->inputs[0]->type, *ot = &n->outputs[0]->type;
    const int64_t *pad = mf_attr_get(n->op, n->attrs, "padding")->ints;
    wino e = {.c = c, .vt = LLVMVectorType(c->f32, (unsigned)c->vw), .wide = LLVMVectorType(c->f32, 4 * (unsigned)c->vw),
              .n = xt->shape[0], .ch = xt->shape[1], .h = xt->shape[2], .w = xt->shape[3], .ph = pad[0], .pw = pad[1]};
    e.th = mf_wino_tiles(e.h + 2 * e.ph - 2);
    e.tw = mf_wino_tiles(e.w + 2 * e.pw - 2);
    e.ngroups = (e.tw + c->vw - 1) / c->vw;
    LLVMValueRef x = mf_cg_anchor_input(c, n, 0);
    e.xdt = mf_cg_anchor_dtype(n, 0);
    if (!x)
        return MF_ERR_UNSUPPORTED;
    if (mf_type_numel(ot) == 0)
        return MF_OK;
    LLVMValueRef out = c->out_ptr[mf_cg_output_index(c->g, n->outputs[0])];
    if (mf_attr_get(n->op, n->attrs, "channels_last")->i) {
        lower_input_cl(&e, x, out);
        return MF_OK;
    }
    LLVMValueRef lo, hi;
    mf_cg_part_range(c, e.n * e.th, 1, &lo, &hi);
    mf_cg_loop items;
    mf_cg_loop_begin(c, &items, lo, hi); /* one tile row of one image */
    LLVMValueRef q[2];
    mf_cg_unravel(c, items.iv, 2, (int64_t[]){e.n, e.th}, q);
    LLVMValueRef xn = mf_cg_gep_as(c, x, mf_cg_ix_mulk(c, q[0], e.ch * e.h * e.w), e.xdt);
    LLVMValueRef tbase = mf_cg_ix_mulk(c, items.iv, e.tw); /* tile index of (n, ty, 0) */
    if (e.ngroups > 1) {
        mf_cg_loop gl;
        mf_cg_loop_begin(c, &gl, mf_cg_i64(c, 0), mf_cg_i64(c, e.ngroups - 1));
        input_channels(&e, xn, q[1], mf_cg_ix_mulk(c, gl.iv, c->vw), tbase, out, NULL);
        mf_cg_loop_end_scalar(c, &gl, 1);
    }
    int64_t last = (e.ngroups - 1) * c->vw, live = e.tw - last;
    input_channels(&e, xn, q[1], mf_cg_i64(c, last), tbase, out,
                   live < c->vw ? const_mask(c, (unsigned)c->vw, (unsigned)live) : NULL);
    mf_cg_loop_end(c, &items, 1);
    return MF_OK;
}

/* ---- the output transform: M[36, K, T] (+ bias) -> y[N, K, H', W'], with the epilogue ---- */

typedef struct wino_out {
    wino e;
    const mf_value *core;
    int nepi;
    const mf_value *const *epi;
    LLVMValueRef m, bias;
    LLVMValueRef bcoord[1];
} wino_out;

/* Lane i of output row vector chunk q: pixel q*vw + i of the group, tile l = that / 4,
 * column j = that % 4, picked from the pairs (o0, o1) and (o2, o3) interleaved. */
static LLVMValueRef interleave_chunk(mf_cg_ctx *c, LLVMValueRef p01, LLVMValueRef p23, int q)
{
    LLVMValueRef idx[MF_CG_MAX_VW];
    for (int i = 0; i < c->vw; i++) {
        int m = q * c->vw + i, l = m / 4, j = m % 4;
        idx[i] = LLVMConstInt(c->i32, (unsigned long long)(j < 2 ? 2 * l + j : 2 * c->vw + 2 * l + j - 2), 0);
    }
    return LLVMBuildShuffleVector(c->B, p01, p23, LLVMConstVector(idx, (unsigned)c->vw), "");
}

static LLVMValueRef pair(mf_cg_ctx *c, LLVMValueRef a, LLVMValueRef b)
{
    LLVMValueRef idx[2 * MF_CG_MAX_VW];
    for (int l = 0; l < c->vw; l++) {
        idx[2 * l] = LLVMConstInt(c->i32, (unsigned long long)l, 0);
        idx[2 * l + 1] = LLVMConstInt(c->i32, (unsigned long long)(c->vw + l), 0);
    }
    return LLVMBuildShuffleVector(c->B, a, b, LLVMConstVector(idx, 2 * (unsigned)c->vw), "");
}

/* One group of tiles starting at tile tx0 of tile row ty: 36 loads, Aᵀ m A, then per output
 * row the 4 x vw pixels through the epilogue.  last: the group is the row's last, with
 * `live` tiles (compile-time masks); else every pixel is inside. */
static mf_status output_group(wino_out *o, LLVMValueRef k, LLVMValueRef ty, LLVMValueRef tx0,
                              LLVMValueRef mt, bool last, int64_t live, int64_t px0)
{
    wino *e = &o->e;
    mf_cg_ctx *c = e->c;
    int64_t T = e->n * e->th * e->tw, K = e->ch;
    LLVMValueRef tmask = last && live < c->vw ? const_mask(c, (unsigned)c->vw, (unsigned)live) : NULL;
    LLVMValueRef m[36], r[4][6];
    for (int p = 0; p < 36; p++)
        m[p] = masked_load(c, e->vt, mf_cg_gep(c, mt, mf_cg_i64(c, p * K * T)), tmask);
    for (int i = 0; i < 4; i++) /* Aᵀ m */
        for (int j = 0; j < 6; j++) {
            LLVMValueRef col[6];
            for (int a = 0; a < 6; a++)
                col[a] = m[a * 6 + j];
            r[i][j] = combine(e, mf_wino_at[i], 1, col, 6);
        }
    LLVMValueRef bias = o->bias ? mf_cg_vsplat(c, LLVMBuildLoad2(c->B, c->f32, mf_cg_gep(c, o->bias, k), "")) : NULL;
    const mf_type *ot = &o->core->type;
    mf_cg_point *pt = mf_cg_conv_point(o->core, 3, (unsigned)c->vw, 1, o->bcoord);
    if (!pt)
        return MF_ERR_NOMEM;
    pt->coord[1] = k;
    mf_status s = MF_OK;
    LLVMValueRef ox0 = mf_cg_ix_mulk(c, tx0, 4);
    for (int i = 0; i < 4 && !s; i++) {
        LLVMValueRef oy = mf_cg_ix_addk(c, mf_cg_ix_mulk(c, ty, 4), i);
        LLVMBasicBlockRef next = NULL;
        if (ot->shape[2] % 4 && i >= ot->shape[2] % 4) { /* rows past the bottom of the last tile row */
            LLVMBasicBlockRef row = LLVMAppendBasicBlockInContext(c->C, c->body, "row");
            next = LLVMAppendBasicBlockInContext(c->C, c->body, "next");
            LLVMBuildCondBr(c->B, LLVMBuildICmp(c->B, LLVMIntSLT, oy, mf_cg_i64(c, ot->shape[2]), ""), row, next);
            LLVMPositionBuilderAtEnd(c->B, row);
        }
        LLVMValueRef y[4];
        for (int j = 0; j < 4; j++) {
            y[j] = combine(e, mf_wino_at[j], 1, r[i], 6);
            if (bias)
                y[j] = LLVMBuildFAdd(c->B, y[j], bias, "");
        }
        LLVMValueRef p01 = pair(c, y[0], y[1]), p23 = pair(c, y[2], y[3]);
        pt->coord[2] = oy;
        for (int q = 0; q < 4 && !s; q++) {
            int64_t first = (int64_t)q * c->vw; /* the chunk's first pixel in the group */
            if (last && px0 + first >= ot->shape[3])
                break; /* wholly right of the image */
            pt->coord[3] = mf_cg_ix_addk(c, ox0, first);
            int64_t in = last ? ot->shape[3] - (px0 + first) : c->vw;
            pt->mask = in < c->vw ? const_mask(c, (unsigned)c->vw, (unsigned)in) : NULL;
            pt->core_val = interleave_chunk(c, p01, p23, q);
            pt->nmemo = 0;
            s = mf_cg_store_epilogue(c, pt, o->nepi, o->epi);
        }
        if (next) {
            LLVMBuildBr(c->B, next);
            LLVMPositionBuilderAtEnd(c->B, next);
        }
    }
    free(pt);
    return s;
}

/* channels_last: one tile of vw output channels from k0 (mask kmask, NULL: all); mt the
 * tile's position 0, positions pstride apart.  Pixels past the plane's edge are skipped. */
static mf_status output_tile_cl(wino_out *o, LLVMValueRef mt, int64_t pstride, LLVMValueRef k0, LLVMValueRef ty,
                                LLVMValueRef tx, LLVMValueRef kmask, mf_cg_point *pt)
{
    wino *e = &o->e;
    mf_cg_ctx *c = e->c;
    LLVMValueRef m[36], r[4][6];
    for (int p = 0; p < 36; p++)
        m[p] = masked_load(c, e->vt, mf_cg_gep(c, mt, mf_cg_i64(c, p * pstride)), kmask);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 6; j++) {
            LLVMValueRef col[6];
            for (int a = 0; a < 6; a++)
                col[a] = m[a * 6 + j];
            r[i][j] = combine(e, mf_wino_at[i], 1, col, 6);
        }
    LLVMValueRef bias = o->bias ? masked_load(c, e->vt, mf_cg_gep(c, o->bias, k0), kmask) : NULL;
    pt->coord[1] = k0;
    pt->mask = kmask;
    mf_status s = MF_OK;
    for (int i = 0; i < 4 && !s; i++)
        for (int j = 0; j < 4 && !s; j++) {
            LLVMValueRef oy = mf_cg_ix_addk(c, mf_cg_ix_mulk(c, ty, 4), i), ox = mf_cg_ix_addk(c, mf_cg_ix_mulk(c, tx, 4), j);
            LLVMValueRef in = NULL;
            if (e->h % 4 && i >= e->h % 4)
                in = LLVMBuildICmp(c->B, LLVMIntSLT, oy, mf_cg_i64(c, e->h), "");
            if (e->w % 4 && j >= e->w % 4) {
                LLVMValueRef inx = LLVMBuildICmp(c->B, LLVMIntSLT, ox, mf_cg_i64(c, e->w), "");
                in = in ? LLVMBuildAnd(c->B, in, inx, "") : inx;
            }
            LLVMBasicBlockRef next = NULL;
            if (in) {
                LLVMBasicBlockRef st = LLVMAppendBasicBlockInContext(c->C, c->body, "pixel");
                next = LLVMAppendBasicBlockInContext(c->C, c->body, "next");
                LLVMBuildCondBr(c->B, in, st, next);
                LLVMPositionBuilderAtEnd(c->B, st);
            }
            LLVMValueRef y = combine(e, mf_wino_at[j], 1, r[i], 6);
            pt->coord[2] = oy;
            pt->coord[3] = ox;
            pt->core_val = bias ? LLVMBuildFAdd(c->B, y, bias, "") : y;
            pt->nmemo = 0;
            s = mf_cg_store_epilogue(c, pt, o->nepi, o->epi);
            if (next) {
                LLVMBuildBr(c->B, next);
                LLVMPositionBuilderAtEnd(c->B, next);
            }
        }
    return s;
}

static mf_status lower_output_cl(wino_out *o)
{
    wino *e = &o->e;
    mf_cg_ctx *c = e->c;
    int64_t T = e->n * e->th * e->tw, K = e->ch, full = K / c->vw, tail = K % c->vw;
    mf_cg_loop items, tx, kb;
    LLVMValueRef q[2];
    begin_tile_rows(e, &items, q);
    o->bcoord[0] = q[0];
    mf_cg_point *pt = mf_cg_conv_point(o->core, 1, (unsigned)c->vw, 1, o->bcoord);
    if (!pt)
        return MF_ERR_NOMEM;
    mf_cg_loop_begin(c, &tx, mf_cg_i64(c, 0), mf_cg_i64(c, e->tw));
    LLVMValueRef mt0 = mf_cg_gep(c, o->m, mf_cg_ix_mulk(c, mf_cg_ix_madd(c, items.iv, e->tw, tx.iv), K));
    mf_status s = MF_OK;
    if (full) {
        mf_cg_loop_begin(c, &kb, mf_cg_i64(c, 0), mf_cg_i64(c, full));
        LLVMValueRef k0 = mf_cg_ix_mulk(c, kb.iv, c->vw);
        s = output_tile_cl(o, mf_cg_gep(c, mt0, k0), T * K, k0, q[1], tx.iv, NULL, pt);
        mf_cg_loop_end_scalar(c, &kb, 1);
    }
    if (tail && !s)
        s = output_tile_cl(o, mf_cg_gep(c, mt0, mf_cg_i64(c, full * c->vw)), T * K, mf_cg_i64(c, full * c->vw), q[1],
                           tx.iv, const_mask(c, (unsigned)c->vw, (unsigned)tail), pt);
    mf_cg_loop_end_scalar(c, &tx, 1);
    mf_cg_loop_end(c, &items, 1);
    free(pt);
    return s;
}

mf_status mf_cg_lower_winograd_output(mf_cg_ctx *c, const mf_node *n, int nepi, const mf_value *const *epi)
{
    const mf_type *ot = &n->outputs[0]->type;
    bool cl = mf_attr_get(n->op, n->attrs, "channels_last")->i != 0;
    wino_out o = {.e = {.c = c, .vt = LLVMVectorType(c->f32, (unsigned)c->vw),
                        .wide = LLVMVectorType(c->f32, 4 * (unsigned)c->vw), .n = ot->shape[0],
                        .ch = ot->shape[1], .h = ot->shape[2], .w = ot->shape[3]},
                  .core = n->outputs[0], .nepi = nepi, .epi = epi};
    wino *e = &o.e;
    e->th = mf_wino_tiles(e->h);
    e->tw = mf_wino_tiles(e->w);
    e->ngroups = (e->tw + c->vw - 1) / c->vw;
    o.m = mf_cg_anchor_input(c, n, 0);
    if (n->ninputs > 1 && !(o.bias = mf_cg_anchor_input(c, n, 1)))
        return MF_ERR_UNSUPPORTED;
    if (!o.m)
        return MF_ERR_UNSUPPORTED;
    if (mf_type_numel(ot) == 0)
        return MF_OK;
    if (cl)
        return lower_output_cl(&o);
    int64_t T = e->n * e->th * e->tw;
    LLVMValueRef lo, hi;
    mf_cg_part_range(c, e->n * e->ch * e->th, 1, &lo, &hi);
    mf_cg_loop items;
    mf_cg_loop_begin(c, &items, lo, hi); /* one tile row of one channel of one image */
    LLVMValueRef q[3];
    mf_cg_unravel(c, items.iv, 3, (int64_t[]){e->n, e->ch, e->th}, q);
    o.bcoord[0] = q[0];
    LLVMValueRef tbase = mf_cg_ix_mulk(c, mf_cg_ix_madd(c, q[0], e->th, q[2]), e->tw);
    LLVMValueRef mk = mf_cg_gep(c, o.m, mf_cg_ix_add(c, mf_cg_ix_mulk(c, q[1], T), tbase));
    mf_status s = MF_OK;
    if (e->ngroups > 1) {
        mf_cg_loop gl;
        mf_cg_loop_begin(c, &gl, mf_cg_i64(c, 0), mf_cg_i64(c, e->ngroups - 1));
        LLVMValueRef tx0 = mf_cg_ix_mulk(c, gl.iv, c->vw);
        s = output_group(&o, q[1], q[2], tx0, mf_cg_gep(c, mk, tx0), false, c->vw, 0);
        mf_cg_loop_end_scalar(c, &gl, 1);
    }
    int64_t last = (e->ngroups - 1) * c->vw;
    if (!s)
        s = output_group(&o, q[1], q[2], mf_cg_i64(c, last), mf_cg_gep(c, mk, mf_cg_i64(c, last)), true,
                         e->tw - last, 4 * last);
    mf_cg_loop_end(c, &items, 1);
    return s;
}
