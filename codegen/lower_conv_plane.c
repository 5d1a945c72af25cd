/* lower_conv_plane.c — conv2d on small "same"-width planes (stride 1, output as wide as
 * the input: 7x7 and 14x14 layers).  There a row is narrower than a vector, so the pixel
 * engine wastes lanes and the output-channel engine must repack weights on every call.
 * Here the vectors run over the flattened plane instead: output pixel p = oy*W + ox reads
 * input p + (ky*dh - ph)*W + (kx*dw - pw), one contiguous (masked) load per tap, whose
 * mask — the lanes whose input lies inside the image — is known at compile time.  A work
 * item accumulates R channels x V vectors (of the target's vw lanes) of one tile of the
 * plane over every input channel in registers; the epilogue then runs row by row from a
 * small stack buffer.  Where masks take vector registers (4-8 lanes) the plane is read from
 * a padded copy instead, without masks (pad_plan); small planes whose channels fill
 * vectors go to the output-channel engine (mf_cg_plane_cedes). */
#include <stdlib.h>

#include "cg_internal.h"

#define PLANE_ACC_MAX 24 /* accumulators R*V at most (mf_cg_tile_accs) */
#define PLANE_MAX_PIXELS 256

typedef struct plane_plan {
    int V, R;        /* vectors per tile, channels per block */
    int64_t npix, T; /* pixels of the plane, pixels per tile (V*vw) */
    int64_t ntile;
    /* on a padded copy (pad): the plane's rows are wp wide (ow, and the padding's columns
     * computed and not stored), the copy's planes hp rows of wp */
    bool pad;
    int64_t wp, hp;
} plane_plan;

/* Rows narrower than 16 pixels (14x14 and 7x7 planes), whatever the target's width: a
 * row may span several of its vectors. */
bool mf_cg_plane_choose(const mf_cg_ctx *c, const mf_cg_conv_geom *g)
{
    return !g->is_matmul && g->sh == 1 && g->sw == 1 && g->ow == g->w && g->ow < 16 &&
           g->oh * g->ow <= PLANE_MAX_PIXELS && g->oh * g->ow >= c->vw;
}

/* Small planes (rows under 8 pixels: 7x7) of a kernel larger than 1x1 whose output channels
 * fill whole vectors of 8 lanes or more: there a tile of this engine covers a few rows of one
 * plane, so each weight broadcast feeds at most V vectors, and every input channel restarts
 * the masked loads of the borders; the output-channel engine broadcasts one input pixel
 * against vectors of prepacked weights instead, with whole vectors of channels (no lane
 * wasted).  resnet18's 7x7 512->512 3x3 alone: 78 -> 97-101 % of the peak at 16 lanes,
 * 78 -> 81 % at 8 (haswell code on the Xeon host); in the model 66 -> 74-83 %.
 * With 16 registers (AVX2) rows of 8-15 pixels of a 3x3 kernel go there too: the padded
 * copy's 16-pixel rows of a 14x14 plane hold 14 useful lanes of 16, and its 3 x 4 tiles
 * ran 256->256 at 75-77 % of the peak against the output-channel engine's 100-103 %
 * (counting the padding's taps, which it skips), 13x13 512->1024 at 76 against 90-91 %,
 * 10x10 and 8x8 at 73-85 against 103-109 % (haswell code on Zen 3).  5x5 and 7x7
 * kernels on rows of 14 ran slower there (78 and 75 % against 84 and 86 %) and stay here,
 * as do such planes on 32-register targets (AVX-512: not measured). */
bool mf_cg_plane_cedes(const mf_cg_ctx *c, const mf_cg_conv_geom *g)
{
    bool narrow = g->ow < 8 || (c->shape.vregs <= 16 && g->kh == 3 && g->kw == 3);
    return mf_cg_plane_choose(c, g) && c->vw >= 8 && narrow && g->kh * g->kw > 1 &&
           g->groups == 1 && g->cout % c->vw == 0 && g->cin * g->kh * g->kw >= c->vw;
}

/* Pixels n in tiles of at most 4 vectors. */
static void tiles_of(const mf_cg_ctx *c, int64_t n, plane_plan *pl)
{
    int64_t nvec = (n + c->vw - 1) / c->vw;
    pl->npix = n;
    pl->V = nvec < 4 ? (int)nvec : 4;
    pl->T = (int64_t)pl->V * c->vw;
    pl->ntile = (n + pl->T - 1) / pl->T;
}

/* On targets whose load masks take vector registers (AVX2, SSE) the plane is computed on a
 * padded copy of the input (mf_cg_pad_input) when its tiles are no more: rows of w + 2pw
 * whose padding columns are computed and dropped, every load plain, so the tile has every
 * accumulator (14x14 256->256 3x3 at 8 lanes: 16-pixel rows, 7 tiles as unpadded; 2x4
 * tiles and masks, 75 % of the peak, became 3x4 without). */
static void pad_plan(const mf_cg_ctx *c, const mf_cg_conv_geom *g, plane_plan *pl)
{
    if (c->vw > 8 || c->vw < 4)
        return;
    plane_plan pp = *pl;
    pp.wp = g->w + 2 * g->pw;
    tiles_of(c, g->oh * pp.wp, &pp);
    /* the last read: the last vector's last lane at the last tap */
    int64_t end = (pp.npix + c->vw - 1) / c->vw * c->vw + (g->kh - 1) * g->dh * pp.wp + (g->kw - 1) * g->dw;
    pp.hp = (end + pp.wp - 1) / pp.wp;
    int64_t bytes = (g->cin / g->groups * pp.hp * pp.wp + c->vw) * 4;
    if (pp.ntile > pl->ntile || bytes > MF_CG_PAD_MAX_BYTES)
        return;
    pp.pad = true;
    *pl = pp;
}

static plane_plan plan_for(const mf_cg_ctx *c, const mf_cg_conv_geom *g)
{
    plane_plan pl = {.wp = g->ow};
    tiles_of(c, g->oh * g->ow, &pl);
    pad_plan(c, g, &pl);
    /* The plane is unrolled tile by tile: past two tiles (14x14 at 8 lanes: 7) the 12th
     * accumulator's third row per tile cost more compile than it gained (256 channels: 425
     * against 160 ms, no clear gain; 7x7 512: 45 -> 120 ms for 65 -> 80 % of the peak).
     * AVX-512 keeps its 6x4 (24 of 32 registers: room to spare). */
    pl.R = mf_cg_tile_rows(&c->shape, pl.V, g->cout / g->groups, !pl.pad && pl.ntile > 2 && c->vw <= 8 ? 2 : 0);
    return pl;
}

/* Lane l of vector v of tile t, tap (ky, kx): does its pixel exist and read inside x? */
static bool lane_live(const mf_cg_conv_geom *g, const plane_plan *pl, int64_t p, int64_t ky, int64_t kx)
{
    if (p >= pl->npix)
        return false;
    int64_t iy = p / g->ow + ky * g->dh - g->ph, ix = p % g->ow + kx * g->dw - g->pw;
    return iy >= 0 && iy < g->h && ix >= 0 && ix < g->w;
}

typedef struct plane_emit {
    mf_cg_ctx *c;
    const mf_cg_conv_geom *g;
    plane_plan pl;
    LLVMTypeRef vt;
    LLVMValueRef acc[PLANE_ACC_MAX];
    LLVMValueRef skip; /* of the block (mf_cg_tile_block_start) */
} plane_emit;

/* The operands of tap (ky, kx) of input channel `plane` (mf_cg_tile_fmas). */
typedef struct plane_step {
    plane_emit *e;
    LLVMValueRef plane, wic; /* plane: of x, or of the padded copy (pl.pad) */
    int64_t p0, ky, kx;
} plane_step;

/* Vector v of the tile at p0, shifted by the tap; NULL when it reads only padding. */
static LLVMValueRef step_x(void *ctx, int v)
{
    plane_step *s = ctx;
    mf_cg_ctx *c = s->e->c;
    const mf_cg_conv_geom *g = s->e->g;
    const int VW = c->vw;
    if (s->e->pl.pad) /* tap (ky, kx) of grid pixel p: padded p + ky*dh*wp + kx*dw */
        return mf_cg_load_f32_as(c, s->e->vt, mf_cg_gep(c, s->plane, mf_cg_i64(c, s->p0 + v * VW + s->ky * g->dh * s->e->pl.wp + s->kx * g->dw)),
                                 NULL, MF_F32);
    int64_t shift = (s->ky * g->dh - g->ph) * g->w + (s->kx * g->dw - g->pw);
    LLVMValueRef bits[MF_CG_MAX_VW];
    int live = 0;
    for (int l = 0; l < VW; l++) {
        bool on = lane_live(g, &s->e->pl, s->p0 + v * VW + l, s->ky, s->kx);
        bits[l] = LLVMConstInt(c->i1, on, 0);
        live += on;
    }
    if (!live)
        return NULL;
    LLVMValueRef ptr = mf_cg_gep_as(c, s->plane, mf_cg_i64(c, s->p0 + v * VW + shift), g->xdt);
    return mf_cg_load_f32_as(c, s->e->vt, ptr, live == VW ? NULL : LLVMConstVector(bits, (unsigned)VW), g->xdt);
}

static LLVMValueRef step_w(void *ctx, int j)
{
    plane_step *s = ctx;
    mf_cg_ctx *c = s->e->c;
    const mf_cg_conv_geom *g = s->e->g;
    int64_t khw = g->kh * g->kw;
    LLVMValueRef wp = mf_cg_gep(c, s->wic, mf_cg_i64(c, j * (g->cin / g->groups) * khw + s->ky * g->kw + s->kx));
    return mf_cg_vsplat(c, LLVMBuildLoad2(c->B, c->f32, wp, ""));
}

/* acc[j][v] += w[oc0+j][ic][ky][kx] * x[p + shift] for every tap, over all input channels. */
static void accumulate(plane_emit *e, int R, int64_t p0, int V, LLVMValueRef xg, LLVMValueRef wg)
{
    mf_cg_ctx *c = e->c;
    const mf_cg_conv_geom *g = e->g;
    int64_t cing = g->cin / g->groups, khw = g->kh * g->kw;
    for (int k = 0; k < R * V; k++)
        LLVMBuildStore(c->B, mf_cg_fconst(c, e->vt, 0.0), e->acc[k]);
    mf_cg_loop ic;
    mf_cg_loop_begin(c, &ic, mf_cg_i64(c, 0), mf_cg_i64(c, cing));
    LLVMValueRef plane = e->pl.pad ? mf_cg_gep(c, xg, mf_cg_ix_mulk(c, ic.iv, e->pl.hp * e->pl.wp))
                                   : mf_cg_gep_as(c, xg, LLVMBuildMul(c->B, ic.iv, mf_cg_i64(c, g->h * g->w), ""), g->xdt);
    LLVMValueRef wic = mf_cg_gep(c, wg, LLVMBuildMul(c->B, ic.iv, mf_cg_i64(c, khw), ""));
    for (int64_t ky = 0; ky < g->kh; ky++)
        for (int64_t kx = 0; kx < g->kw; kx++) {
            plane_step st = {e, plane, wic, p0, ky, kx};
            mf_cg_tile_fmas(c, R, V, e->acc, step_w, step_x, &st);
        }
    mf_cg_loop_end(c, &ic, 1);
}

/* The epilogue of one tile: accumulators go to a stack buffer laid out like the plane,
 * then each row piece (cut at vectors: a row may be wider than one) gets its bias and
 * epilogue and is stored. */
static mf_status finish(plane_emit *e, int R, int64_t p0, int V, LLVMValueRef spill, LLVMValueRef oc0,
                        const LLVMValueRef *bcoord, const mf_value *core, int nepi, const mf_value *const *epi)
{
    mf_cg_ctx *c = e->c;
    const mf_cg_conv_geom *g = e->g;
    const int VW = c->vw;
    for (int j = 0; j < R; j++)
        for (int v = 0; v < V; v++) {
            LLVMValueRef st = LLVMBuildStore(c->B, LLVMBuildLoad2(c->B, e->vt, e->acc[j * V + v], ""),
                                             mf_cg_gep(c, spill, mf_cg_i64(c, (int64_t)j * e->pl.T + v * VW)));
            LLVMSetAlignment(st, (unsigned)VW * 4);
        }
    mf_cg_point *pt = mf_cg_conv_point(core, core->type.rank - 1, (unsigned)VW, g->nbd, bcoord);
    if (!pt)
        return MF_ERR_NOMEM;
    int64_t pend = p0 + (int64_t)V * VW < e->pl.npix ? p0 + (int64_t)V * VW : e->pl.npix;
    mf_status err = MF_OK;
    const int64_t wp = e->pl.wp;
    for (int64_t p = p0; p < pend && !err;) { /* row pieces [p, q), at most a vector */
        int64_t oy = p / wp, ox = p % wp, q = oy * wp + g->ow < pend ? oy * wp + g->ow : pend;
        if (ox >= g->ow) { /* a padded row's padding */
            p = (oy + 1) * wp;
            continue;
        }
        if (q - p > VW)
            q = p + VW;
        LLVMValueRef bits[MF_CG_MAX_VW];
        for (int l = 0; l < VW; l++)
            bits[l] = LLVMConstInt(c->i1, l < q - p, 0);
        LLVMValueRef mask = LLVMConstVector(bits, (unsigned)VW);
        pt->coord[2] = mf_cg_i64(c, oy);
        pt->coord[3] = mf_cg_i64(c, ox);
        for (int j = 0; j < R && !err; j++) {
            LLVMBasicBlockRef join = mf_cg_tile_row_begin(c, e->skip, j, R, g->cout / g->groups);
            LLVMValueRef oc = LLVMBuildAdd(c->B, oc0, mf_cg_i64(c, j), "");
            LLVMValueRef ops[4] = {mf_cg_gep(c, spill, mf_cg_i64(c, (int64_t)j * e->pl.T + (p - p0))),
                                   LLVMConstInt(c->i32, 4, 0), mask, mf_cg_fconst(c, e->vt, 0.0)};
            LLVMTypeRef tys[2] = {e->vt, c->ptr};
            pt->core_val = mf_cg_intrin2(c, "llvm.masked.load", tys, 2, e->vt, 4, ops);
            if (g->bias)
                pt->core_val = LLVMBuildFAdd(c->B, pt->core_val,
                                             mf_cg_vsplat(c, LLVMBuildLoad2(c->B, c->f32, mf_cg_gep(c, g->bias, oc), "")), "");
            pt->coord[1] = oc;
            pt->mask = mask;
            pt->nmemo = 0;
            err = mf_cg_store_epilogue(c, pt, nepi, epi);
            mf_cg_tile_row_end(c, join);
        }
        p = q;
    }
    free(pt);
    return err;
}

/* Every tile of the plane for a block of R channels. */
static mf_status emit_block(plane_emit *e, int R, LLVMValueRef xg, LLVMValueRef wg, LLVMValueRef spill,
                            LLVMValueRef oc0, const LLVMValueRef *bcoord, const mf_value *core, int nepi,
                            const mf_value *const *epi)
{
    mf_status err = MF_OK;
    for (int64_t t = 0; t < e->pl.ntile && !err; t++) {
        int64_t p0 = t * e->pl.T, left = e->pl.npix - p0;
        int V = left < e->pl.T ? (int)((left + e->c->vw - 1) / e->c->vw) : e->pl.V;
        accumulate(e, R, p0, V, xg, wg);
        err = finish(e, R, p0, V, spill, oc0, bcoord, core, nepi, epi);
    }
    return err;
}

mf_status mf_cg_emit_conv_plane(mf_cg_ctx *c, const mf_cg_conv_geom *g, const mf_value *core, int nepi,
                                const mf_value *const *epi)
{
    plane_emit e = {c, g, plan_for(c, g), LLVMVectorType(c->f32, (unsigned)c->vw), {0}, NULL};
    LLVMValueRef xpad = NULL, last = NULL;
    if (e.pl.pad)
        xpad = mf_cg_pad_input_begin(c, g->cin / g->groups * e.pl.hp * e.pl.wp, &last);
    for (int k = 0; k < e.pl.R * e.pl.V; k++)
        e.acc[k] = mf_cg_entry_alloca(c, e.vt);
    LLVMValueRef spill = mf_cg_entry_alloca(c, LLVMArrayType2(c->f32, (uint64_t)(e.pl.R * e.pl.T)));
    LLVMSetAlignment(spill, 64);
    int64_t coutg = g->cout / g->groups, cing = g->cin / g->groups;
    int64_t nob = (coutg + e.pl.R - 1) / e.pl.R;
    int64_t nbatch = 1;
    for (int d = 0; d < g->nbd; d++)
        nbatch *= g->bshape[d];
    LLVMValueRef lo, hi;
    mf_cg_part_range(c, nbatch * g->groups * nob, 1, &lo, &hi);
    mf_cg_loop items;
    mf_cg_loop_begin(c, &items, lo, hi);
    int64_t dims[3] = {nbatch, g->groups, nob};
    LLVMValueRef q[3], bcoord[MF_MAX_RANK];
    mf_cg_unravel(c, items.iv, 3, dims, q);
    mf_cg_unravel(c, q[0], g->nbd, g->bshape, bcoord);
    LLVMValueRef xg = mf_cg_gep_as(c, g->x, LLVMBuildAdd(c->B, mf_cg_conv_batch_offset(c, g, bcoord, g->bx_stride),
                                                         LLVMBuildMul(c->B, q[1], mf_cg_i64(c, cing * g->h * g->w), ""), ""), g->xdt);
    if (xpad) {
        mf_cg_pad_input(c, g, xg, mf_cg_ix_madd(c, q[0], g->groups, q[1]), last, xpad, e.pl.hp, e.pl.wp);
        xg = xpad;
    }
    LLVMValueRef ocl0 = mf_cg_tile_block_start(c, q[2], e.pl.R, coutg, &e.skip);
    LLVMValueRef oc0 = mf_cg_ix_madd(c, q[1], coutg, ocl0);
    LLVMValueRef wg = mf_cg_gep(c, g->wt, LLVMBuildAdd(c->B, mf_cg_conv_batch_offset(c, g, bcoord, g->bw_stride),
                                                       LLVMBuildMul(c->B, oc0, mf_cg_i64(c, cing * g->kh * g->kw), ""), ""));
    mf_status err = emit_block(&e, e.pl.R, xg, wg, spill, oc0, bcoord, core, nepi, epi);
    mf_cg_loop_end(c, &items, 1);
    return err;
}
