/* lower_qconv_dw.c — depthwise qconv2d (groups == channels, no dilation, a horizontal
 * stride that divides the taps of a dot: 1, 2, or 4 with VNNI) without the col buffer: a
 * work item (batch, channel, chunk of output rows) stages the chunk's input rows once,
 * padded (as lower_qconv.c's staging: u = x + 128 bytes with VNNI, int16 x - zp without),
 * then every output vector is a few dot products straight from those rows.
 *
 * The dot product takes G taps per i32 lane (G = 4 bytes by vpdpbusd, G = 2 int16 by
 * vpmaddwd), and G consecutive elements of a staged row are consecutive taps of one output
 * pixel: with stride s, the G W elements loaded from column ox0 s + p s + G j hold, in lane
 * i, taps G j .. G j + G - 1 of output pixel ox0 + P i + p (P = G / s phases).  So a kernel
 * row costs ceil(kw / G) dot products per phase (taps past kw have weight 0), P phases give
 * B = P W consecutive outputs.  With VNNI each phase is requantized as it is, the codes
 * packed to bytes (packssdw, packsswb) and ordered by one byte shuffle; without, one
 * shuffle per output vector puts the phases' lanes in order before the epilogue.  A 3x3
 * stride-1 kernel with VNNI: 12 vpdpbusd for 4 W outputs, against 3 quads copied and swept
 * per pixel through col.
 *
 * Small stride-1 "same" planes (7x7, 14x14, 28x28), whose rows would underfill the blocks,
 * run flattened instead: the plane is staged as one row (pixel oy w + ox), pad rows above
 * and below, blocks run over the plane's pixels (unrolled), and a tap that would wrap into
 * the next or previous row reads the padding instead (a select with a constant mask). */
#include <stdlib.h>

#include "cg_internal.h"

#define QDW_STAGE_BYTES (16 * 1024) /* a chunk's staged rows: within L1 */
#define QDW_MAX_DOTS 64             /* kernel rows x dots per row: weight groups in flight */
#define QDW_MAX_P 4                 /* phases: G / stride */
#define QDW_FLAT_MAX_BLOCKS 16      /* a flattened plane's blocks: straight-line code */

typedef struct qdw {
    mf_cg_ctx *c;
    const mf_cg_qconv_op *op;
    const mf_cg_conv_geom *g;
    int W, G, P, nq, V;     /* lanes, taps per dot, phases, dots per kernel row, staging bytes */
    bool wide;              /* no VNNI: int16 rows, vpmaddwd */
    bool flat;              /* the plane as one row (small stride-1 planes) */
    int64_t B, rows, RIN, WP, nchunk;
    int64_t M;              /* flat: the staged row's margin before the padding rows */
    LLVMTypeRef et;         /* a staged element: i8 (u) or i16 (x - zp) */
    LLVMValueRef xp;        /* the staged rows [RIN][WP] */
    LLVMValueRef wq[QDW_MAX_DOTS], acc0, mult, bias; /* the channel's */
    LLVMValueRef ch, oy0;
    mf_cg_point *pt;
} qdw;

static int taps_per_dot(const mf_cg_ctx *c, int w)
{
    return mf_cg_dot4_widens(c, (unsigned)w) ? 2 : 4;
}

bool mf_cg_qdw_choose(const mf_cg_ctx *c, const mf_cg_conv_geom *g)
{
    int G = taps_per_dot(c, c->vw);
    return c->vw >= 4 && g->groups > 1 && g->cin == g->groups && g->cout == g->groups && g->dh == 1 &&
           g->dw == 1 && G % g->sw == 0 &&
           g->kh * ((g->kw + G - 1) / G) <= QDW_MAX_DOTS;
}

/* The lanes for rows of n outputs: the fewest blocks, then the narrowest vector (a 14-wide
 * row in one block of 4 x 4 lanes, not of 4 x 16); *nblk: the blocks. */
static int lanes_for(const qdw *q, int64_t n, int64_t *nblk)
{
    int W = 4;
    *nblk = -1;
    for (int w = 4; w <= q->c->vw; w *= 2) {
        int64_t k = (n + (int64_t)q->P * w - 1) / ((int64_t)q->P * w);
        if (*nblk < 0 || k < *nblk)
            *nblk = k, W = w;
    }
    return W;
}

/* Flattened when the plane keeps its size at stride 1, the epilogue reads it flat, and it
 * takes fewer blocks than its rows would. */
static bool flat_choose(const qdw *q)
{
    const mf_cg_conv_geom *g = q->g;
    int64_t nrow, nflat;
    lanes_for(q, g->ow, &nrow);
    lanes_for(q, g->oh * g->ow, &nflat);
    return g->sh == 1 && g->sw == 1 && g->oh == g->h && g->ow == g->w && nflat <= QDW_FLAT_MAX_BLOCKS &&
           nflat < g->oh * nrow && mf_cg_epilogue_flattens(q->op->core, q->op->nepi, q->op->epi);
}

static void plan(qdw *q)
{
    const mf_cg_conv_geom *g = q->g;
    int64_t nblk, es = q->wide ? 2 : 1;
    q->V = mf_cg_masked_bytes(q->c) ? 32 : 16;
    q->flat = flat_choose(q);
    q->W = lanes_for(q, q->flat ? g->oh * g->ow : g->ow, &nblk);
    q->B = (int64_t)q->P * q->W;
    int64_t end = nblk * q->G * q->W + (q->P - 1) * g->sw + (int64_t)q->G * (q->nq - 1); /* past the last load */
    if (q->flat) { /* [M: margin][ph rows of padding][the plane][padding] */
        q->M = g->pw;
        q->WP = q->M + (g->kh - 1) * g->w + end - g->pw;
        q->WP = (q->WP + q->V - 1) / q->V * q->V;
        q->rows = g->oh, q->RIN = 1, q->nchunk = 1;
        return;
    }
    q->WP = (end + q->V - 1) / q->V * q->V;
    int64_t fit = QDW_STAGE_BYTES / (q->WP * es);
    q->rows = fit > g->kh ? (fit - g->kh) / g->sh + 1 : 1;
    q->rows = q->rows > g->oh ? g->oh : q->rows;
    q->RIN = (q->rows - 1) * g->sh + g->kh;
    q->nchunk = (g->oh + q->rows - 1) / q->rows;
}

/* The channel's weight groups (taps G j .. G j + G - 1 of kernel row ky, 0 past kw: bytes,
 * or int16 pairs, in an i32 splat over the lanes), the sums' start (VNNI: minus the weight
 * correction), scale and bias. */
static void channel_setup(qdw *q)
{
    mf_cg_ctx *c = q->c;
    const mf_cg_conv_geom *g = q->g;
    LLVMTypeRef i8 = LLVMInt8TypeInContext(c->C), i16 = LLVMInt16TypeInContext(c->C);
    LLVMValueRef row = LLVMBuildGEP2(c->B, i8, g->wt, (LLVMValueRef[]){mf_cg_ix_mulk(c, q->ch, g->kh * g->kw)}, 1, "");
    LLVMValueRef wsum = LLVMConstInt(c->i32, 0, 0);
    for (int64_t ky = 0; ky < g->kh; ky++)
        for (int j = 0; j < q->nq; j++) {
            LLVMValueRef grp = LLVMConstInt(c->i32, 0, 0);
            for (int t = 0; t < q->G && j * q->G + t < g->kw; t++) {
                LLVMValueRef at = mf_cg_i64(c, ky * g->kw + j * q->G + t);
                LLVMValueRef b = LLVMBuildLoad2(c->B, i8, LLVMBuildGEP2(c->B, i8, row, &at, 1, ""), "");
                wsum = LLVMBuildAdd(c->B, wsum, LLVMBuildSExt(c->B, b, c->i32, ""), "");
                if (q->wide)
                    b = LLVMBuildSExt(c->B, b, i16, "");
                b = LLVMBuildZExt(c->B, b, c->i32, "");
                grp = LLVMBuildOr(c->B, grp, LLVMBuildShl(c->B, b, LLVMConstInt(c->i32, (unsigned long long)(t * (q->wide ? 16 : 8)), 0), ""), "");
            }
            grp = mf_cg_splat(c, grp, (unsigned)q->W);
            q->wq[ky * q->nq + j] = q->wide ? LLVMBuildBitCast(c->B, grp, LLVMVectorType(i16, 2 * (unsigned)q->W), "") : grp;
        }
    /* the sums start from the correction's negation (VNNI: -(128 + zp) sum w), not 0 */
    LLVMValueRef corr = LLVMBuildMul(c->B, wsum, LLVMConstInt(c->i32, (unsigned long long)(-128 - q->op->xzp), 1), "");
    q->acc0 = mf_cg_splat(c, q->wide ? LLVMConstInt(c->i32, 0, 0) : corr, (unsigned)q->W);
    LLVMValueRef ws = LLVMBuildLoad2(c->B, c->f32, mf_cg_gep(c, q->op->wscale, q->op->per_channel ? q->ch : mf_cg_i64(c, 0)), "");
    q->mult = mf_cg_splat(c, LLVMBuildFMul(c->B, LLVMConstReal(c->f32, q->op->xs), ws, ""), (unsigned)q->W);
    LLVMValueRef b = g->bias ? LLVMBuildLoad2(c->B, c->f32, mf_cg_gep(c, g->bias, q->ch), "") : LLVMConstReal(c->f32, 0.0);
    q->bias = mf_cg_splat(c, b, (unsigned)q->W);
}

static LLVMValueRef shuffle(mf_cg_ctx *c, LLVMValueRef a, LLVMValueRef b, const unsigned *idx, int n)
{
    LLVMValueRef m[4 * MF_CG_MAX_VW];
    for (int i = 0; i < n; i++)
        m[i] = LLVMConstInt(c->i32, idx[i], 0);
    return LLVMBuildShuffleVector(c->B, a, b ? b : LLVMGetPoison(LLVMTypeOf(a)), LLVMConstVector(m, (unsigned)n), "");
}

/* The P phases' sums side by side in one vector of P W lanes. */
static LLVMValueRef concat(mf_cg_ctx *c, LLVMValueRef *acc, int P, int W)
{
    unsigned idx[4 * MF_CG_MAX_VW];
    for (int i = 0; i < 4 * W; i++)
        idx[i] = (unsigned)i;
    if (P == 1)
        return acc[0];
    LLVMValueRef lo = shuffle(c, acc[0], acc[1], idx, 2 * W);
    return P == 2 ? lo : shuffle(c, lo, shuffle(c, acc[2], acc[3], idx, 2 * W), idx, 4 * W);
}

/* Flat: the elements of the load for block q0, phase p, kernel row ky, dot j whose tap
 * would wrap into another row read the padding instead; NULL when none does. */
static LLVMValueRef wrap_mask(qdw *q, int64_t q0, int p, int j)
{
    const mf_cg_conv_geom *g = q->g;
    LLVMValueRef bits[4 * MF_CG_MAX_VW];
    bool any = false;
    for (int i = 0; i < q->W; i++)
        for (int t = 0; t < q->G; t++) {
            int64_t ox = (q0 + (int64_t)q->P * i + p) % g->ow, ix = ox + q->G * j + t - g->pw;
            bool wraps = q->G * j + t < g->kw && (ix < 0 || ix >= g->w);
            bits[i * q->G + t] = LLVMConstInt(q->c->i1, !wraps, 0);
            any |= wraps;
        }
    return any ? LLVMConstVector(bits, (unsigned)(q->G * q->W)) : NULL;
}

/* The B sums from pixel ox0 of row yl (in the chunk), or of the flat plane's pixel ox0c:
 * the dot products of every kernel row and phase. */
static void block_sums(qdw *q, LLVMValueRef yl, LLVMValueRef ox0, int64_t ox0c, LLVMValueRef *acc)
{
    mf_cg_ctx *c = q->c;
    const mf_cg_conv_geom *g = q->g;
    int W = q->W;
    LLVMTypeRef lt = LLVMVectorType(q->et, (unsigned)(q->G * W));
    LLVMValueRef pad = mf_cg_splat(c, LLVMConstInt(q->et, q->wide ? 0 : (unsigned long long)((q->op->xzp + 128) & 0xff), 0),
                                   (unsigned)(q->G * W));
    for (int p = 0; p < q->P; p++)
        acc[p] = q->acc0;
    for (int64_t ky = 0; ky < g->kh; ky++) {
        LLVMValueRef row = q->flat ? mf_cg_i64(c, q->M + ky * g->w - g->pw)
                                   : mf_cg_ix_mulk(c, mf_cg_ix_addk(c, mf_cg_ix_mulk(c, yl, g->sh), ky), q->WP);
        row = mf_cg_ix_add(c, row, mf_cg_ix_mulk(c, ox0, g->sw));
        for (int p = 0; p < q->P; p++)
            for (int j = 0; j < q->nq; j++) {
                LLVMValueRef at = mf_cg_ix_addk(c, row, p * g->sw + (int64_t)q->G * j);
                LLVMValueRef x = LLVMBuildLoad2(c->B, lt, LLVMBuildGEP2(c->B, q->et, q->xp, &at, 1, ""), "");
                LLVMSetAlignment(x, 1);
                LLVMValueRef keep = q->flat ? wrap_mask(q, ox0c, p, j) : NULL;
                if (keep)
                    x = LLVMBuildSelect(c->B, keep, x, pad, "");
                LLVMValueRef w = q->wq[ky * q->nq + j];
                acc[p] = q->wide ? mf_cg_dot4_wide(c, acc[p], x, w)
                                 : mf_cg_dot4(c, acc[p], LLVMBuildBitCast(c->B, x, LLVMVectorType(c->i32, (unsigned)W), ""), w);
            }
    }
}

/* The P phases' codes (f32 lanes holding -128..127) as the block's B bytes in pixel order:
 * packed (mf_cg_pack_codes: phase s's lane i at byte 16 (i / 4) + 4 s + i % 4, pixel
 * P i + s), then one byte shuffle (vpshufb within 128-bit lanes for 4 phases).
 * Requantizing the phases before ordering them is the same: the epilogue's constants are
 * the channel's, in every lane. */
static LLVMValueRef packed_codes(qdw *q, LLVMValueRef *codes)
{
    LLVMValueRef b = mf_cg_pack_codes(q->c, codes, q->P, (unsigned)q->W);
    unsigned idx[4 * MF_CG_MAX_VW];
    for (int n = 0; n < q->B; n++) {
        int s = n % q->P, i = n / q->P;
        idx[n] = (unsigned)(16 * (i / 4) + 4 * s + i % 4);
    }
    return shuffle(q->c, b, NULL, idx, (int)q->B);
}

/* The block's sums through the epilogue, one output vector at a time, its lanes gathered
 * from the phases; pixels from ox0 along the point's lane dim, of `limit`.  ox0c: ox0 when
 * the block may cross the limit (vectors past it skipped, the one across it masked), or -1. */
static mf_status block(qdw *q, LLVMValueRef yl, LLVMValueRef ox0, int64_t ox0c, int64_t limit)
{
    mf_cg_ctx *c = q->c;
    int W = q->W, P = q->P;
    LLVMValueRef acc[QDW_MAX_P];
    block_sums(q, yl, ox0, ox0c, acc);
    LLVMTypeRef fv = LLVMVectorType(c->f32, (unsigned)W);
    LLVMValueRef bytes = NULL, all = NULL;
    if (!q->wide && P > 1 && mf_cg_packs_codes(c, (unsigned)W)) {
        LLVMValueRef codes[QDW_MAX_P];
        for (int p = 0; p < P; p++) {
            LLVMValueRef y = LLVMBuildFMul(c->B, LLVMBuildSIToFP(c->B, acc[p], fv, ""), q->mult, "");
            codes[p] = mf_cg_requantize(c, LLVMBuildFAdd(c->B, y, q->bias, ""), &q->op->rq);
        }
        bytes = packed_codes(q, codes);
    } else
        all = concat(c, acc, P, W);
    mf_cg_point *pt = q->pt;
    if (!q->flat)
        pt->coord[2] = mf_cg_ix_add(c, q->oy0, yl);
    mf_status err = MF_OK;
    for (int v = 0; v < P && !err; v++) {
        int64_t first = ox0c + (int64_t)v * W;
        if (ox0c >= 0 && first >= limit)
            break;
        unsigned idx[MF_CG_MAX_VW];
        LLVMValueRef bits[MF_CG_MAX_VW];
        for (int l = 0; l < W; l++) {
            int n = v * W + l;
            idx[l] = (unsigned)((n % P) * W + n / P);
            bits[l] = LLVMConstInt(c->i1, first + l < limit, 0);
        }
        pt->coord[pt->lane] = mf_cg_ix_addk(c, ox0, (int64_t)v * W);
        pt->mask = ox0c >= 0 && first + W > limit ? LLVMConstVector(bits, (unsigned)W) : NULL;
        if (bytes) { /* the codes as f32 lanes: the store's conversion back folds away */
            for (int l = 0; l < W; l++)
                idx[l] = (unsigned)(v * W + l);
            pt->core_val = LLVMBuildSIToFP(c->B, shuffle(c, bytes, NULL, idx, W), fv, "");
        } else {
            LLVMValueRef y = LLVMBuildFMul(c->B, LLVMBuildSIToFP(c->B, shuffle(c, all, NULL, idx, W), fv, ""), q->mult, "");
            pt->core_val = mf_cg_requantize(c, LLVMBuildFAdd(c->B, y, q->bias, ""), &q->op->rq);
        }
        pt->nmemo = 0;
        err = mf_cg_store_epilogue(c, pt, q->op->nepi, q->op->epi);
    }
    return err;
}

/* The chunk's rows: whole blocks in a loop, then the partial one. */
static mf_status sweep_rows(qdw *q)
{
    mf_cg_ctx *c = q->c;
    const mf_cg_conv_geom *g = q->g;
    LLVMValueRef nrows = mf_cg_ix_sub(c, mf_cg_ix_smink(c, mf_cg_ix_addk(c, q->oy0, q->rows), g->oh), q->oy0);
    mf_cg_loop y, t;
    mf_cg_loop_begin(c, &y, mf_cg_i64(c, 0), nrows);
    int64_t nfull = g->ow / q->B;
    mf_status err = MF_OK;
    if (nfull > 0) {
        mf_cg_loop_begin(c, &t, mf_cg_i64(c, 0), mf_cg_i64(c, nfull));
        err = block(q, y.iv, mf_cg_ix_mulk(c, t.iv, q->B), -1, g->ow);
        mf_cg_loop_end(c, &t, 1);
    }
    if (!err && g->ow % q->B)
        err = block(q, y.iv, mf_cg_i64(c, nfull * q->B), nfull * q->B, g->ow);
    mf_cg_loop_end(c, &y, 1);
    return err;
}

/* The flat plane: every block at a compile-time pixel. */
static mf_status sweep_flat(qdw *q)
{
    int64_t npix = q->g->oh * q->g->ow;
    mf_status err = MF_OK;
    for (int64_t q0 = 0; q0 < npix && !err; q0 += q->B)
        err = block(q, NULL, mf_cg_i64(q->c, q0), q0, npix);
    return err;
}

/* The work items: (batch, channel, chunk); each stages its rows, then sweeps them. */
static mf_status emit(qdw *q)
{
    mf_cg_ctx *c = q->c;
    const mf_cg_conv_geom *g = q->g;
    q->xp = mf_cg_entry_alloca(c, LLVMArrayType2(q->et, (uint64_t)(q->RIN * q->WP)));
    LLVMSetAlignment(q->xp, 64);
    if (!(q->pt = mf_cg_conv_point(q->op->core, q->flat ? 2 : 3, (unsigned)q->W, 0, NULL)))
        return MF_ERR_NOMEM;
    if (q->flat) { /* the output plane's pixels as one dim */
        q->pt->nloop = 3;
        q->pt->extent[2] = g->oh * g->ow;
        q->pt->stride_of[2] = 3;
    }
    LLVMValueRef lo, hi;
    mf_cg_part_range(c, g->batch * g->cout * q->nchunk, 1, &lo, &hi);
    mf_cg_loop items;
    mf_cg_loop_begin(c, &items, lo, hi);
    int64_t dims[3] = {g->batch, g->cout, q->nchunk};
    LLVMValueRef it[3];
    mf_cg_unravel(c, items.iv, 3, dims, it);
    q->pt->coord[0] = it[0];
    q->pt->coord[1] = q->ch = it[1];
    q->oy0 = mf_cg_ix_mulk(c, it[2], q->rows);
    LLVMValueRef plane = LLVMBuildGEP2(c->B, LLVMInt8TypeInContext(c->C), g->x,
                                       (LLVMValueRef[]){mf_cg_ix_mulk(c, mf_cg_ix_madd(c, it[0], g->cin, it[1]), g->h * g->w)}, 1, "");
    if (q->flat) { /* one row of h w pixels, from M + ph w */
        mf_cg_stage_qrow(c, plane, 1, g->h * g->w, mf_cg_i64(c, 0), q->M + g->ph * g->w, q->WP, q->V, q->op->xzp, q->wide, q->xp);
    } else {
        mf_cg_loop r;
        mf_cg_loop_begin(c, &r, mf_cg_i64(c, 0), mf_cg_i64(c, q->RIN));
        LLVMValueRef iy = mf_cg_ix_add(c, mf_cg_ix_subk(c, mf_cg_ix_mulk(c, q->oy0, g->sh), g->ph), r.iv);
        LLVMValueRef dst = LLVMBuildGEP2(c->B, q->et, q->xp, (LLVMValueRef[]){mf_cg_ix_mulk(c, r.iv, q->WP)}, 1, "");
        mf_cg_stage_qrow(c, plane, g->h, g->w, iy, g->pw, q->WP, q->V, q->op->xzp, q->wide, dst);
        mf_cg_loop_end(c, &r, 1);
    }
    channel_setup(q);
    mf_status err = q->flat ? sweep_flat(q) : sweep_rows(q);
    mf_cg_loop_end(c, &items, 1);
    free(q->pt);
    return err;
}

mf_status mf_cg_emit_qconv_dw(mf_cg_ctx *c, const mf_cg_qconv_op *op)
{
    qdw q = {.c = c, .op = op, .g = &op->g};
    q.G = taps_per_dot(c, c->vw);
    q.wide = q.G == 2;
    q.P = q.G / (int)op->g.sw;
    q.nq = (int)((op->g.kw + q.G - 1) / q.G);
    q.et = q.wide ? LLVMInt16TypeInContext(c->C) : LLVMInt8TypeInContext(c->C);
    plan(&q);
    /* the epilogue's helpers splat to c->vw lanes: the engine's W for its duration */
    int vw = c->vw;
    c->vw = q.W;
    mf_status err = emit(&q);
    c->vw = vw;
    return err;
}
