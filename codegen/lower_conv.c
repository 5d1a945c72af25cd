/* lower_conv.c — conv2d (NCHW, any stride, padding, dilation, groups) as register-blocked
 * direct convolution, also the engine of matmul: each work item is one output row of R
 * output channels; along the row, tiles of V x vw pixels sit in R*V <vw x float>
 * accumulators (vw the target's lanes, R*V what its registers hold), fed by vector loads
 * of the input (masked at the borders; stride-2 rows from their even and odd columns split
 * apart, phase_rows) and broadcasts of single weights.  The elementwise
 * epilogue is applied to the accumulators before the one store.  Work items (batch, group,
 * channel block, row) are split between partitions.  Narrow outputs (where much of a vector
 * of pixels would be padding) and strided ones go to a second engine that vectorizes over
 * output channels instead (see emit_conv_oc), except strided ones with under two vectors of
 * taps, or at 8 lanes and fewer of up to 8 input channels (oc_choose).  mf_cg_emit_conv picks, in
 * order: the 1x1 GEMM engine (lower_conv_gemm.c; any stride, no padding; matmuls with long rows)
 * unless its lanes would be mostly empty where the output-channel engine's fill (oc_fills_lanes),
 * the depthwise engine (lower_conv_dw.c), the plane engine (lower_conv_plane.c) unless it cedes a
 * small plane to the next one (plane_runs), the output-channel engine, this one; the choice depends
 * on the geometry and the target only, so the pack-weights pass can ask which layout the weights
 * should have (mf_cg_conv_weight_block). */
#include <stdlib.h>
#include <string.h>

#include "cg_internal.h"

#define ACC_MAX 24 /* accumulators at most (mf_cg_tile_accs) */

/* Per work item: where its inputs start and what its outputs are. */
typedef struct conv_item {
    LLVMValueRef xg;    /* float*: x of this batch index and group */
    LLVMValueRef wg;    /* float*: weights of the first channel of the block */
    LLVMValueRef oc0;   /* first output channel (over all groups) */
    LLVMValueRef oy, iy0;
    LLVMValueRef bcoord[MF_MAX_RANK];
} conv_item;

typedef struct conv_emit {
    mf_cg_ctx *c;
    const mf_cg_conv_geom *g;
    const mf_value *core;
    int nepi;
    const mf_value *const *epi;
    int V, R;
    LLVMValueRef acc[ACC_MAX]; /* allocas */
    LLVMTypeRef vt;
    mf_status err;
    LLVMValueRef skip; /* of the item's block (mf_cg_tile_block_start) */
    /* padded rows (choose_padded): the input of the item's batch index and group copied,
     * f32, into rows of wp floats with zeros around (NULL: the loads read x, masked) */
    LLVMValueRef xpad;
    int64_t wp;
    /* phase rows (phase_rows): a ring of input rows, each split into the even and odd
     * columns of the zero-padded row (lp floats each, f32); tags: the row a slot holds; the
     * row table: where each of the item's rows starts */
    bool phases;
    LLVMValueRef xphase, phase_last, phase_tags, phase_rowtab; /* i64 tags: slot's row; i64 table */
    int64_t lp;
} conv_emit;

static LLVMValueRef lane_consts(mf_cg_ctx *c, int64_t first, int64_t step)
{
    LLVMValueRef e[MF_CG_MAX_VW];
    for (int i = 0; i < c->vw; i++)
        e[i] = mf_cg_i64(c, first + i * step);
    return LLVMConstVector(e, (unsigned)c->vw);
}

/* Mask of lanes whose index ix0 + l*step lies in [0, n). */
static LLVMValueRef range_mask(mf_cg_ctx *c, LLVMValueRef ix0, int64_t first, int64_t step,
                               int64_t n)
{
    LLVMValueRef ix = LLVMBuildAdd(c->B, mf_cg_vsplat(c, ix0), lane_consts(c, first, step), "");
    LLVMValueRef vn = mf_cg_vsplat(c, LLVMConstInt(c->i64, (unsigned long long)n, 0));
    return LLVMBuildICmp(c->B, LLVMIntULT, ix, vn, "");
}

/* vw inputs x[row + ix0 + l*sw], l = 0..vw-1, for one vector of a tile. */
static LLVMValueRef load_x(conv_emit *e, LLVMValueRef row, LLVMValueRef ix0, int64_t lane0,
                           bool masked)
{
    mf_cg_ctx *c = e->c;
    const mf_cg_conv_geom *g = e->g;
    const int VW = c->vw;
    LLVMValueRef at = LLVMBuildAdd(c->B, ix0, mf_cg_i64(c, lane0 * g->sw), "");
    if (e->phases) /* a phase row: consecutive pixels, no border */
        return mf_cg_load_f32_as(
            c, e->vt, mf_cg_gep(c, row, LLVMBuildAdd(c->B, ix0, mf_cg_i64(c, lane0), "")), NULL,
            MF_F32);
    mf_dtype xdt = e->xpad ? MF_F32 : g->xdt;
    LLVMValueRef ptr = mf_cg_gep_as(c, row, at, xdt);
    if (!masked && g->sw == 1)
        return mf_cg_load_f32_as(c, e->vt, ptr, NULL, xdt);
    if (!masked && g->sw == 2) { /* two loads, keep the even lanes */
        LLVMTypeRef wide = LLVMVectorType(c->f32, 2 * (unsigned)VW);
        return mf_cg_lanes_every(c, mf_cg_load_f32_as(c, wide, ptr, NULL, g->xdt), 2, 0);
    }
    LLVMValueRef mask = masked ? range_mask(c, at, 0, g->sw, g->w)
                               : mf_cg_vsplat(c, LLVMConstInt(c->i1, 1, 0));
    if (g->sw == 1)
        return mf_cg_load_f32_as(c, e->vt, ptr, mask, g->xdt);
    if (g->sw <= 4) { /* a masked load of sw vectors keeping every sw-th lane: no gather */
        unsigned n = (unsigned)(g->sw * VW);
        LLVMTypeRef wide = LLVMVectorType(c->f32, n);
        LLVMValueRef li[4 * MF_CG_MAX_VW], keep[4 * MF_CG_MAX_VW];
        for (unsigned l = 0; l < n; l++)
            li[l] = mf_cg_i64(c, (int64_t)l);
        LLVMTypeRef iv = LLVMVectorType(c->i64, n);
        LLVMValueRef at1 = LLVMBuildInsertElement(c->B, LLVMGetPoison(iv), at, LLVMConstInt(c->i32, 0, 0), "");
        LLVMValueRef ats = LLVMBuildShuffleVector(c->B, at1, LLVMGetPoison(iv), LLVMConstNull(LLVMVectorType(c->i32, n)), "");
        for (unsigned l = 0; l < n; l++)
            keep[l] = mf_cg_i64(c, g->w);
        LLVMValueRef ix = LLVMBuildAdd(c->B, ats, LLVMConstVector(li, n), "");
        LLVMValueRef in = LLVMBuildICmp(c->B, LLVMIntULT, ix, LLVMConstVector(keep, n), "");
        for (unsigned l = 0; l < n; l++)
            keep[l] = LLVMConstInt(c->i1, l % (unsigned)g->sw == 0, 0);
        LLVMValueRef wm = LLVMBuildAnd(c->B, in, LLVMConstVector(keep, n), "");
        return mf_cg_lanes_every(c, mf_cg_load_f32_as(c, wide, ptr, wm, g->xdt), g->sw, 0);
    }
    return mf_cg_gather_f32_as(c, e->vt, mf_cg_gep_as(c, ptr, lane_consts(c, 0, g->sw), g->xdt), mask, g->xdt);
}

/* The operands of one (ic, ky, kx) step of a tile (mf_cg_tile_fmas). */
typedef struct conv_step {
    conv_emit *e;
    LLVMValueRef row, wk, ix0;
    bool masked;
} conv_step;

static LLVMValueRef step_x(void *ctx, int v)
{
    conv_step *s = ctx;
    return load_x(s->e, s->row, s->ix0, (int64_t)v * s->e->c->vw, s->masked);
}

/* plain: w[oc][ic][ky][kx]; packed: the block's R weights of one tap side by side */
static LLVMValueRef step_w(void *ctx, int j)
{
    conv_step *s = ctx;
    mf_cg_ctx *c = s->e->c;
    const mf_cg_conv_geom *g = s->e->g;
    LLVMValueRef wp = mf_cg_gep(c, s->wk, mf_cg_i64(c, g->wblock ? j : j * (g->cin / g->groups) * g->kh * g->kw));
    return mf_cg_vsplat(c, LLVMBuildLoad2(c->B, c->f32, wp, ""));
}

/* acc[j][v] += w[j] * x[v] for one (ic, ky, kx). */
static void fma_step(conv_emit *e, int R, LLVMValueRef row, LLVMValueRef wk, LLVMValueRef ix0,
                     bool masked)
{
    conv_step st = {e, row, wk, ix0, masked};
    mf_cg_tile_fmas(e->c, R, e->V, e->acc, step_w, step_x, &st);
}

/* Packed weights are one stream (row_block), but the hardware prefetchers do not run far
 * enough ahead of it: packed alone, resnet18's 14x14 GEMMs were no faster in the model.
 * Each input channel's step fetches the lines this many bytes on (past a block's panel:
 * the next block's, the partition's next item).  In the model on the Xeon host (loaded,
 * against the 7x7 convs' time) 2 KB beat 1 and 4 KB (docs/benchmarks.md).  That keeps
 * about 32 lines in flight, about 10 GB/s at a DRAM latency near 200 ns: what the 14x14
 * GEMMs' 9.4 MB of weights streamed at 16 lanes.  A second fetch into L2 only, further on,
 * keeps more in flight (L2 tracks more misses than L1's fill buffers): 0.79-0.94 ->
 * 0.66-0.89 ms a layer at one core, 0.46-0.49 -> 0.37-0.42 ms at two; no change at 8 lanes,
 * where the FMAs bound them. */
#define ROW_PREFETCH_BYTES 2048
#define ROW_PREFETCH_L2_BYTES 8192

static void prefetch_panel(conv_emit *e, LLVMValueRef wic, int R)
{
    mf_cg_ctx *c = e->c;
    int64_t step = (int64_t)R * e->g->kh * e->g->kw; /* floats a step reads */
    for (int64_t off = 0; off < step; off += 16) { /* a 64-byte line at a time; a plain GEP:
                                                    * past the weights it is only a hint */
        LLVMValueRef idx = mf_cg_i64(c, ROW_PREFETCH_BYTES / 4 + off);
        mf_cg_prefetch(c, LLVMBuildGEP2(c->B, c->f32, wic, &idx, 1, ""), 3);
        idx = mf_cg_i64(c, ROW_PREFETCH_L2_BYTES / 4 + off);
        mf_cg_prefetch(c, LLVMBuildGEP2(c->B, c->f32, wic, &idx, 1, ""), 1);
    }
}

/* With phase rows (phase_rows): one loop over the item's kh rows of every input channel, in
 * the order of their weights, each where the row table says (rows outside the input are
 * zeros). */
static void accumulate_phases(conv_emit *e, const conv_item *it, int R, LLVMValueRef ox0)
{
    mf_cg_ctx *c = e->c;
    const mf_cg_conv_geom *g = e->g;
    const int64_t tap = g->wblock ? R : 1;
    mf_cg_loop r;
    mf_cg_loop_begin(c, &r, mf_cg_i64(c, 0), mf_cg_i64(c, g->cin / g->groups * g->kh));
    LLVMValueRef off = LLVMBuildLoad2(
        c->B, c->i64, LLVMBuildGEP2(c->B, c->i64, e->phase_rowtab, &r.iv, 1, ""), "");
    LLVMValueRef row = mf_cg_gep(c, e->xphase, off);
    LLVMValueRef wr = mf_cg_gep(c, it->wg, mf_cg_ix_mulk(c, r.iv, g->kw * tap));
    if (g->wblock)
        prefetch_panel(e, wr, R);
    for (int64_t kx = 0; kx < g->kw; kx++) { /* padded column 2*ox + kx*dw: phase kx*dw % 2 */
        LLVMValueRef xrow = mf_cg_gep(c, row, mf_cg_i64(c, kx * g->dw % 2 * e->lp));
        LLVMValueRef ix0 = LLVMBuildAdd(c->B, ox0, mf_cg_i64(c, kx * g->dw / 2), "");
        fma_step(e, R, xrow, mf_cg_gep(c, wr, mf_cg_i64(c, kx * tap)), ix0, false);
    }
    mf_cg_loop_end(c, &r, 1);
}

/* The ic and ky loops around the unrolled kx steps of one tile starting at pixel ox0. */
static void accumulate(conv_emit *e, const conv_item *it, int R, LLVMValueRef ox0, bool masked)
{
    mf_cg_ctx *c = e->c;
    const mf_cg_conv_geom *g = e->g;
    const int64_t tap = g->wblock ? R : 1; /* floats from one tap's weights to the next's */
    mf_cg_acc_init_bias(c, e->vt, R, e->V, g->bias, it->oc0, e->acc);
    if (e->phases) {
        accumulate_phases(e, it, R, ox0);
        return;
    }
    /* padded rows: column ix of the input at ix + pw, zeros around: no load masked */
    LLVMValueRef ixb = LLVMBuildSub(c->B, LLVMBuildMul(c->B, ox0, mf_cg_i64(c, g->sw), ""),
                                    mf_cg_i64(c, e->xpad ? 0 : g->pw), "");
    int64_t rowlen = e->xpad ? e->wp : g->w;
    mf_dtype xdt = e->xpad ? MF_F32 : g->xdt;
    masked = masked && !e->xpad;
    mf_cg_loop ic, ky;
    mf_cg_loop_begin(c, &ic, mf_cg_i64(c, 0), mf_cg_i64(c, g->cin / g->groups));
    LLVMValueRef plane = mf_cg_gep_as(c, e->xpad ? e->xpad : it->xg, LLVMBuildMul(c->B, ic.iv, mf_cg_i64(c, g->h * rowlen), ""), xdt);
    LLVMValueRef wic = mf_cg_gep(c, it->wg, LLVMBuildMul(c->B, ic.iv, mf_cg_i64(c, g->kh * g->kw * tap), ""));
    if (g->wblock)
        prefetch_panel(e, wic, R);
    mf_cg_loop_begin(c, &ky, mf_cg_i64(c, 0), mf_cg_i64(c, g->kh));
    LLVMValueRef iy = LLVMBuildAdd(c->B, it->iy0, LLVMBuildMul(c->B, ky.iv, mf_cg_i64(c, g->dh), ""), "");
    LLVMValueRef inside = LLVMBuildICmp(c->B, LLVMIntULT, iy, mf_cg_i64(c, g->h), "");
    LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(c->C, c->body, "row");
    LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(c->C, c->body, "next");
    LLVMBuildCondBr(c->B, inside, then, next);
    LLVMPositionBuilderAtEnd(c->B, then);
    LLVMValueRef row = mf_cg_gep_as(c, plane, LLVMBuildMul(c->B, iy, mf_cg_i64(c, rowlen), ""), xdt);
    LLVMValueRef wky = mf_cg_gep(c, wic, LLVMBuildMul(c->B, ky.iv, mf_cg_i64(c, g->kw * tap), ""));
    for (int64_t kx = 0; kx < g->kw; kx++) {
        LLVMValueRef ix0 = LLVMBuildAdd(c->B, ixb, mf_cg_i64(c, kx * g->dw), "");
        fma_step(e, R, row, mf_cg_gep(c, wky, mf_cg_i64(c, kx * tap)), ix0, masked);
    }
    LLVMBuildBr(c->B, next);
    LLVMPositionBuilderAtEnd(c->B, next);
    mf_cg_loop_end(c, &ky, 1);
    mf_cg_loop_end(c, &ic, 1);
}

/* A point over the output of an anchor `core` (its own loop space), vectorized along dim
 * `lane` with `width` lanes, with the batch coords set: what the epilogue evaluator runs
 * at.  calloc'd; NULL with an error when out of memory. */
mf_cg_point *mf_cg_conv_point(const mf_value *core, int lane, unsigned width, int nbd, const LLVMValueRef *bcoord)
{
    const mf_type *ot = &core->type;
    mf_cg_point *p = calloc(1, sizeof *p);
    if (!p) {
        mf_error(MF_ERR_NOMEM, "codegen: out of memory");
        return NULL;
    }
    p->nloop = p->nspace = ot->rank;
    for (int d = 0; d < ot->rank; d++) {
        p->extent[d] = ot->shape[d];
        p->stride_of[d] = d;
    }
    p->lane = lane;
    p->width = width;
    p->core = core;
    p->core_map = mf_cg_map_for(ot, ot->rank, ot->shape);
    for (int d = 0; d < nbd; d++)
        p->coord[d] = bcoord[d];
    return p;
}

/* Stores the epilogue of every accumulator of the tile (the bias is in them already). */
static void store_tile(conv_emit *e, const conv_item *it, int R, LLVMValueRef ox0, bool masked)
{
    mf_cg_ctx *c = e->c;
    const mf_cg_conv_geom *g = e->g;
    const mf_type *ot = &e->core->type;
    mf_cg_point *p = mf_cg_conv_point(e->core, ot->rank - 1, (unsigned)c->vw, g->nbd, it->bcoord);
    if (!p) {
        e->err = MF_ERR_NOMEM;
        return;
    }
    int cdim = g->is_matmul ? ot->rank - 2 : 1;
    if (!g->is_matmul)
        p->coord[2] = it->oy;
    for (int j = 0; j < R && !e->err; j++) {
        LLVMBasicBlockRef join = mf_cg_tile_row_begin(c, e->skip, j, R, g->cout / g->groups);
        p->coord[cdim] = LLVMBuildAdd(c->B, it->oc0, mf_cg_i64(c, j), "");
        for (int v = 0; v < e->V && !e->err; v++) {
            LLVMValueRef ox = LLVMBuildAdd(c->B, ox0, mf_cg_i64(c, v * c->vw), "");
            p->coord[p->lane] = ox;
            p->mask = masked ? range_mask(c, ox, 0, 1, g->ow) : NULL;
            p->core_val = LLVMBuildLoad2(c->B, e->vt, e->acc[j * e->V + v], "");
            p->nmemo = 0;
            e->err = mf_cg_store_epilogue(c, p, e->nepi, e->epi);
        }
        mf_cg_tile_row_end(c, join);
    }
    free(p);
}

/* Is the tile at pixel t*TW free of borders: every loaded input and output in range? */
static bool tile_inside(const conv_emit *e, int64_t t)
{
    const mf_cg_conv_geom *g = e->g;
    int64_t tw = (int64_t)e->V * e->c->vw, ox0 = t * tw, ox1 = ox0 + tw - 1;
    if (ox1 >= g->ow)
        return false;
    if (e->phases) /* the phase rows hold the padding */
        return true;
    int64_t lo = ox0 * g->sw - g->pw, hi = ox1 * g->sw - g->pw + (g->kw - 1) * g->dw;
    if (g->sw == 2)
        hi += 1; /* the pair load reads one past the last lane */
    return lo >= 0 && hi < g->w;
}

static void tile_loop(conv_emit *e, const conv_item *it, int R, int64_t t0, int64_t t1,
                      bool masked)
{
    if (t0 >= t1 || e->err)
        return;
    mf_cg_ctx *c = e->c;
    if (masked && t1 - t0 <= 2) { /* border tiles: masks known at compile time */
        for (int64_t k = t0; k < t1; k++) {
            int V = e->V;
            int64_t left = e->g->ow - k * V * c->vw; /* pixels from the tile's first on */
            LLVMValueRef ox0 = mf_cg_i64(c, k * V * c->vw);
            if (left < (int64_t)V * c->vw) /* a row's last tile: only the vectors it fills */
                e->V = (int)((left + c->vw - 1) / c->vw);
            accumulate(e, it, R, ox0, masked);
            store_tile(e, it, R, ox0, masked);
            e->V = V;
        }
        return;
    }
    mf_cg_loop t;
    mf_cg_loop_begin(c, &t, mf_cg_i64(c, t0), mf_cg_i64(c, t1));
    LLVMValueRef ox0 = LLVMBuildMul(c->B, t.iv, mf_cg_i64(c, (int64_t)e->V * c->vw), "");
    accumulate(e, it, R, ox0, masked);
    store_tile(e, it, R, ox0, masked);
    mf_cg_loop_end(c, &t, 1);
}

/* One output row of R channels: border tiles masked, the middle ones not. */
static void emit_row(conv_emit *e, const conv_item *it, int R)
{
    int64_t tw = (int64_t)e->V * e->c->vw, ntiles = (e->g->ow + tw - 1) / tw;
    int64_t lo = 0, hi;
    while (lo < ntiles && !tile_inside(e, lo))
        lo++;
    hi = lo;
    while (hi < ntiles && tile_inside(e, hi))
        hi++;
    if (lo == hi) {
        tile_loop(e, it, R, 0, ntiles, true);
        return;
    }
    tile_loop(e, it, R, 0, lo, true);
    tile_loop(e, it, R, lo, hi, false);
    tile_loop(e, it, R, hi, ntiles, true);
}

LLVMValueRef mf_cg_conv_batch_offset(mf_cg_ctx *c, const mf_cg_conv_geom *g, const LLVMValueRef *bc,
                                     const int64_t *stride)
{
    LLVMValueRef off = mf_cg_i64(c, 0);
    for (int d = 0; d < g->nbd; d++)
        off = LLVMBuildAdd(c->B, off, LLVMBuildMul(c->B, bc[d], mf_cg_i64(c, stride[d]), ""), "");
    return off;
}

/* Padded rows, where a row is one tile masked at both ends on a target whose masks take
 * vector registers (AVX2: the 4 masks of a 28-pixel row left a 2x4 tile, 70 % of the peak):
 * each partition copies the input of its item's batch index and group, once, into rows of
 * wp = V*vw + (kw-1)*dw floats, column ix at ix + pw and zeros around, so that every load
 * is plain and the tile has every accumulator (3x4 at 8 lanes).  Stride 1, plain weights,
 * the copy a stack buffer of at most 1 MiB (28x28 planes of 256 channels; the input's
 * working set grows by wp / w); it costs a pass over the input per partition, against
 * cout / R passes of the tiles.  Sets e->wp (0: none). */
static bool padded_rows(conv_emit *e)
{
    const mf_cg_conv_geom *g = e->g;
    const mf_cg_ctx *c = e->c;
    e->wp = 0;
    if (c->vw > 8 || c->vw < 4 || g->sw != 1 || g->is_matmul || g->wblock)
        return false;
    int64_t wp = (int64_t)e->V * c->vw + (g->kw - 1) * g->dw;
    int64_t bytes = (g->cin / g->groups * g->h * wp + c->vw) * 4;
    if (bytes > MF_CG_PAD_MAX_BYTES || g->cout / g->groups < (int64_t)mf_cg_tile_accs(&c->shape) / e->V)
        return false;
    e->wp = wp;
    return true;
}

LLVMValueRef mf_cg_pad_input_begin(mf_cg_ctx *c, int64_t nfloats, LLVMValueRef *last)
{
    LLVMValueRef buf = mf_cg_entry_alloca(c, LLVMArrayType2(c->f32, (uint64_t)(nfloats + c->vw)));
    LLVMSetAlignment(buf, 64);
    *last = mf_cg_entry_alloca(c, c->i64);
    LLVMBuildStore(c->B, mf_cg_i64(c, -1), *last);
    return buf;
}

void mf_cg_pad_input(mf_cg_ctx *c, const mf_cg_conv_geom *g, LLVMValueRef xg, LLVMValueRef bg, LLVMValueRef last,
                     LLVMValueRef dst, int64_t hp, int64_t wp)
{
    const int VW = c->vw;
    LLVMTypeRef vt = LLVMVectorType(c->f32, (unsigned)VW);
    LLVMValueRef fresh = LLVMBuildICmp(c->B, LLVMIntNE, LLVMBuildLoad2(c->B, c->i64, last, ""), bg, "");
    LLVMBasicBlockRef copy = LLVMAppendBasicBlockInContext(c->C, c->body, "pad");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->C, c->body, "padded");
    LLVMBuildCondBr(c->B, fresh, copy, done);
    LLVMPositionBuilderAtEnd(c->B, copy);
    LLVMBuildStore(c->B, bg, last);
    mf_cg_loop ic, r;
    mf_cg_loop_begin(c, &ic, mf_cg_i64(c, 0), mf_cg_i64(c, g->cin / g->groups));
    mf_cg_loop_begin(c, &r, mf_cg_i64(c, 0), mf_cg_i64(c, hp));
    LLVMValueRef iy = mf_cg_ix_subk(c, r.iv, g->ph);
    LLVMValueRef row_in = mf_cg_vsplat(c, LLVMBuildICmp(c->B, LLVMIntULT, iy, mf_cg_i64(c, g->h), ""));
    LLVMValueRef src = mf_cg_gep_as(c, xg, mf_cg_ix_add(c, mf_cg_ix_mulk(c, ic.iv, g->h * g->w), mf_cg_ix_mulk(c, iy, g->w)), g->xdt);
    LLVMValueRef dst_row = mf_cg_gep(c, dst, mf_cg_ix_add(c, mf_cg_ix_mulk(c, ic.iv, hp * wp), mf_cg_ix_mulk(c, r.iv, wp)));
    /* vectors of the padded row (the last one runs into the next row, copied after it, or
     * the buffer's spare vector); lanes outside the input are zeros */
    for (int64_t j = 0; j < wp; j += VW) {
        LLVMValueRef bits[MF_CG_MAX_VW];
        int live = 0;
        for (int l = 0; l < VW; l++) {
            int64_t ix = j + l - g->pw;
            bool on = ix >= 0 && ix < g->w;
            bits[l] = LLVMConstInt(c->i1, on, 0);
            live += on;
        }
        LLVMValueRef v = mf_cg_fconst(c, vt, 0.0);
        if (live) {
            LLVMValueRef at = mf_cg_gep_as(c, src, mf_cg_i64(c, j - g->pw), g->xdt);
            LLVMValueRef mask = LLVMBuildAnd(c->B, LLVMConstVector(bits, (unsigned)VW), row_in, "");
            v = mf_cg_load_f32_as(c, vt, at, mask, g->xdt);
        }
        LLVMValueRef st = LLVMBuildStore(c->B, v, mf_cg_gep(c, dst_row, mf_cg_i64(c, j)));
        LLVMSetAlignment(st, 4);
    }
    mf_cg_loop_end(c, &r, 1);
    mf_cg_loop_end(c, &ic, 1);
    LLVMBuildBr(c->B, done);
    LLVMPositionBuilderAtEnd(c->B, done);
}

/* Phase rows, for stride-2 rows: output pixel ox reads padded column 2*ox + kx*dw, which
 * lies in the even or odd columns of the padded row at ox + kx*dw / 2.  Each partition
 * splits the input rows its item's output row reads into their even and odd columns (lp
 * floats each, zeros for the padding), so every tap of a tile is one plain load: no
 * shuffle picking every other lane of two loads, no masks at the borders, and most loads
 * on whole lines (two of a 3x3 kernel's three taps).  The items of one output row follow
 * one another (its blocks of channels innermost), so its rows are split once for all of
 * them; they sit in a ring of slots that keeps the rows the next output row shares (a 3x3
 * kernel's third row), and a row table tells the tiles where each is.  On the Xeon host
 * (bench_conv_gflops, medians of alternated runs, docs/benchmarks.md) mobilenet_v2's first
 * layer (3->32, 112-pixel rows) ran at 65-66 -> 75-79 % of the peak at 16 lanes (its rows'
 * one loop with no bounds check 65 -> 72 %, the ring 73.5 -> 79 %), 75 -> 88.5 % as haswell
 * code, where it left the output-channel engine (oc_choose); resnet18's 7x7 first layer
 * 83 -> 92 % there. */
#define PHASE_MAX_BYTES (32 << 10)

static int64_t phase_row_floats(const mf_cg_ctx *c, const mf_cg_conv_geom *g)
{
    return ((g->ow + c->vw - 1) / c->vw * c->vw + (g->kw - 1) * g->dw / 2 + c->vw - 1) / c->vw *
           c->vw;
}

/* Input rows a ring of phase rows holds: the span of one output row's rows, so that they
 * take distinct slots (row iy in slot (iy + ph) % ring). */
static int64_t phase_ring(const mf_cg_conv_geom *g)
{
    return (g->kh - 1) * g->dh + 1;
}

static bool phase_rows(const mf_cg_ctx *c, const mf_cg_conv_geom *g)
{
    return g->sw == 2 && g->kh * g->kw > 1 && !g->is_matmul &&
           g->cin / g->groups * phase_ring(g) * 2 * phase_row_floats(c, g) * 4 <= PHASE_MAX_BYTES;
}

/* Phase columns j .. j + vw - 1 of one row: the padded columns 2j .. 2j + 2vw - 1 of its input
 * row src (mask: the lanes inside it, NULL all), even ones to dst + j, odd ones to dst + lp + j. */
static void split_chunk(conv_emit *e, LLVMValueRef src, LLVMValueRef dst, LLVMValueRef j,
                        LLVMValueRef mask)
{
    mf_cg_ctx *c = e->c;
    const mf_cg_conv_geom *g = e->g;
    const int VW = c->vw;
    LLVMTypeRef wide = LLVMVectorType(c->f32, 2 * (unsigned)VW);
    LLVMValueRef at = LLVMBuildSub(c->B, mf_cg_ix_mulk(c, j, 2), mf_cg_i64(c, g->pw), "");
    LLVMValueRef x = mf_cg_load_f32_as(c, wide, mf_cg_gep_as(c, src, at, g->xdt), mask, g->xdt);
    for (int h = 0; h < 2; h++)
        mf_cg_store_f32(c, mf_cg_lanes_every(c, x, 2, h),
                        mf_cg_gep(c, dst, mf_cg_ix_addk(c, j, h * e->lp)), NULL);
}

/* Splits the rows output row oy reads (bg: its batch index and group) into the ring of phase
 * rows, those it does not hold already, and points the row table at them; nothing when the
 * partition's previous item had the same output row. */
static void split_phase_rows(conv_emit *e, LLVMValueRef xg, LLVMValueRef bg, LLVMValueRef oy)
{
    mf_cg_ctx *c = e->c;
    const mf_cg_conv_geom *g = e->g;
    const int VW = c->vw;
    const int64_t ring = phase_ring(g), cing = g->cin / g->groups;
    const int64_t span = (g->oh - 1) * g->sh + ring; /* padded rows an image's output reads */
    LLVMValueRef key = mf_cg_ix_madd(c, bg, g->oh, oy);
    LLVMValueRef fresh =
        LLVMBuildICmp(c->B, LLVMIntNE, LLVMBuildLoad2(c->B, c->i64, e->phase_last, ""), key, "");
    LLVMBasicBlockRef split = LLVMAppendBasicBlockInContext(c->C, c->body, "split");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->C, c->body, "split_done");
    LLVMBuildCondBr(c->B, fresh, split, done);
    LLVMPositionBuilderAtEnd(c->B, split);
    LLVMBuildStore(c->B, key, e->phase_last);
    mf_cg_loop ky, ic;
    mf_cg_loop_begin(c, &ky, mf_cg_i64(c, 0), mf_cg_i64(c, g->kh));
    LLVMValueRef prow =
        mf_cg_ix_add(c, mf_cg_ix_mulk(c, oy, g->sh), mf_cg_ix_mulk(c, ky.iv, g->dh));
    LLVMValueRef iy = LLVMBuildSub(c->B, prow, mf_cg_i64(c, g->ph), ""); /* prow: iy + ph >= 0 */
    LLVMValueRef slot = LLVMBuildURem(c->B, prow, mf_cg_i64(c, ring), "");
    LLVMValueRef tag = LLVMBuildGEP2(c->B, c->i64, e->phase_tags, &slot, 1, "");
    LLVMValueRef row_key = mf_cg_ix_madd(c, bg, span, prow);
    LLVMBasicBlockRef copy = LLVMAppendBasicBlockInContext(c->C, c->body, "split_copy");
    LLVMBasicBlockRef held = LLVMAppendBasicBlockInContext(c->C, c->body, "split_held");
    LLVMBuildCondBr(
        c->B, LLVMBuildICmp(c->B, LLVMIntNE, LLVMBuildLoad2(c->B, c->i64, tag, ""), row_key, ""),
        copy, held);
    LLVMPositionBuilderAtEnd(c->B, copy);
    LLVMBuildStore(c->B, row_key, tag);
    LLVMValueRef inside = LLVMBuildICmp(c->B, LLVMIntULT, iy, mf_cg_i64(c, g->h), "");
    mf_cg_loop_begin(c, &ic, mf_cg_i64(c, 0), mf_cg_i64(c, cing));
    LLVMValueRef dst =
        mf_cg_gep(c, e->xphase, mf_cg_ix_mulk(c, mf_cg_ix_madd(c, ic.iv, ring, slot), 2 * e->lp));
    LLVMBasicBlockRef in = LLVMAppendBasicBlockInContext(c->C, c->body, "split_row");
    LLVMBasicBlockRef out = LLVMAppendBasicBlockInContext(c->C, c->body, "split_zeros");
    LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(c->C, c->body, "split_next");
    LLVMBuildCondBr(c->B, inside, in, out);
    LLVMPositionBuilderAtEnd(c->B, out); /* a row above or below the input: zeros */
    if (2 * e->lp <= 8 * VW) {
        for (int64_t j = 0; j < 2 * e->lp; j += VW)
            mf_cg_store_f32(c, mf_cg_fconst(c, e->vt, 0.0), mf_cg_gep(c, dst, mf_cg_i64(c, j)),
                            NULL);
    } else {
        mf_cg_loop z;
        mf_cg_loop_begin(c, &z, mf_cg_i64(c, 0), mf_cg_i64(c, 2 * e->lp / VW));
        mf_cg_store_f32(c, mf_cg_fconst(c, e->vt, 0.0),
                        mf_cg_gep(c, dst, mf_cg_ix_mulk(c, z.iv, VW)), NULL);
        mf_cg_loop_end(c, &z, 1);
    }
    LLVMBuildBr(c->B, next);
    LLVMPositionBuilderAtEnd(c->B, in);
    LLVMValueRef src = mf_cg_gep_as(
        c, xg, mf_cg_ix_add(c, mf_cg_ix_mulk(c, ic.iv, g->h * g->w), mf_cg_ix_mulk(c, iy, g->w)),
        g->xdt);
    /* chunks of vw phase columns j .. j + vw - 1 (padded columns 2j .. 2j + 2vw - 1): those
     * wholly inside the input in a loop (a wide row would unroll into a slow compile), the
     * ones at the borders with their masks known at compile time */
    int64_t jlo = e->lp, jhi = e->lp;
    for (int64_t j = 0; j < e->lp; j += VW)
        if (2 * j - g->pw >= 0 && 2 * j - g->pw + 2 * VW <= g->w) {
            jlo = jlo < j ? jlo : j;
            jhi = j + VW;
        }
    if (jhi - jlo > 4 * VW) {
        mf_cg_loop k;
        mf_cg_loop_begin(c, &k, mf_cg_i64(c, jlo / VW), mf_cg_i64(c, jhi / VW));
        split_chunk(e, src, dst, mf_cg_ix_mulk(c, k.iv, VW), NULL);
        mf_cg_loop_end(c, &k, 1);
    }
    for (int64_t j = 0; j < e->lp; j += VW) {
        if (jhi - jlo > 4 * VW && j >= jlo && j < jhi)
            continue;
        LLVMValueRef bits[2 * MF_CG_MAX_VW];
        int live = 0;
        for (int l = 0; l < 2 * VW; l++) {
            int64_t ix = 2 * j + l - g->pw;
            bool on = ix >= 0 && ix < g->w;
            bits[l] = LLVMConstInt(c->i1, on, 0);
            live += on;
        }
        if (!live) {
            mf_cg_store_f32(c, mf_cg_fconst(c, e->vt, 0.0), mf_cg_gep(c, dst, mf_cg_i64(c, j)),
                            NULL);
            mf_cg_store_f32(c, mf_cg_fconst(c, e->vt, 0.0),
                            mf_cg_gep(c, dst, mf_cg_i64(c, e->lp + j)), NULL);
        } else {
            split_chunk(e, src, dst, mf_cg_i64(c, j),
                        live == 2 * VW ? NULL : LLVMConstVector(bits, 2 * (unsigned)VW));
        }
    }
    LLVMBuildBr(c->B, next);
    LLVMPositionBuilderAtEnd(c->B, next);
    mf_cg_loop_end(c, &ic, 1);
    LLVMBuildBr(c->B, held);
    LLVMPositionBuilderAtEnd(c->B, held);
    /* the row table: input channel ic's row ky at (ic * ring + slot) * 2 * lp floats */
    mf_cg_loop_begin(c, &ic, mf_cg_i64(c, 0), mf_cg_i64(c, cing));
    LLVMValueRef at = mf_cg_ix_madd(c, ic.iv, g->kh, ky.iv);
    LLVMBuildStore(c->B, mf_cg_ix_mulk(c, mf_cg_ix_madd(c, ic.iv, ring, slot), 2 * e->lp),
                   LLVMBuildGEP2(c->B, c->i64, e->phase_rowtab, &at, 1, ""));
    mf_cg_loop_end_scalar(c, &ic, 1); /* a few strided entries: vectorized, a scatter */
    mf_cg_loop_end(c, &ky, 1);
    LLVMBuildBr(c->B, done);
    LLVMPositionBuilderAtEnd(c->B, done);
}

/* A matmul whose right operand (K x columns) does not stay in L1: every block of rows reads
 * it again from L2, and at 8 lanes a 3 x 4 tile asks 128 bytes of it for 6 cycles of FMAs,
 * twice what L2 feeds (mf_cg_tile_l2_feed).  The 56x56 plane's Winograd GEMMs (196 tiles, K
 * 64: 49 KiB) on Zen 3 in 2 x 6 tiles: 0.736-0.745 -> 0.678-0.706 ms alone (bench_conv_gflops),
 * 0.74-0.88 -> 0.69-0.78 ms in resnet18.  At 16 lanes unmeasured: its tiles stay. */
static bool streams_x(const mf_cg_ctx *c, const mf_cg_conv_geom *g)
{
    return g->is_matmul && c->vw <= 8 && g->cin * g->ow * 4 > c->shape.l1d;
}

/* Picks V (vectors per tile) and R (channels per block, mf_cg_tile_rows).  A row costs its padded width plus about a
 * vector per tile (the tile's loop and broadcasts), so narrow vectors do not end up in
 * one-vector tiles (8-lane depthwise rows ran at a third of the speed that way); a streamed
 * matmul operand divides that by the share of the FMAs L2 can feed (streams_x).  A strided
 * tile at a border costs its width again: its wide loads are masked, and their masks built
 * per kx (mobilenet_v2's first layer, 3->32 s2 to 112-pixel rows at 16 lanes: two masked
 * tiles of 4 vectors 49 %, four tiles of 2 vectors, two of them plain, 68-76 %). */
static void choose_blocking(conv_emit *e)
{
    const mf_cg_conv_geom *g = e->g;
    int64_t best = -1;
    int bestv = 1;
    for (int v = 4; v >= 1; v--) {
        int64_t tw = (int64_t)v * e->c->vw, ntiles = (g->ow + tw - 1) / tw;
        int64_t cost = ntiles * (tw + e->c->vw);
        e->V = v; /* for tile_inside */
        for (int64_t t = 0; t < ntiles && g->sw > 1 && !e->phases; t++)
            cost += tile_inside(e, t) ? 0 : tw;
        if (e->phases) { /* the last tile as wide as its pixels; blocks overlapping */
            int64_t coutg = g->cout / g->groups, r = mf_cg_tile_rows(&e->c->shape, v, coutg, 0);
            cost = (ntiles - 1) * (tw + e->c->vw) +
                   (g->ow - (ntiles - 1) * tw + 2 * e->c->vw - 1) / e->c->vw * e->c->vw;
            cost = cost * ((coutg + r - 1) / r * r) / coutg;
        }
        if (streams_x(e->c, g))
            cost = (int64_t)((double)cost / mf_cg_tile_l2_feed(&e->c->shape, mf_cg_tile_rows(&e->c->shape, v, g->cout, 0), v));
        if (best < 0 || cost < best) {
            best = cost;
            bestv = v;
        }
    }
    e->V = bestv;
    /* A row that is one tile masked at both ends keeps the masks of both (AVX2 holds masks in
     * vector registers): 28-pixel rows at 8 lanes spilled a 3x4 tile (43 % of the peak, 58 %
     * as 2x4); 56-pixel rows, masked at one end a tile, ran 3x4 at 80-88 %. */
    bool both_ends = (g->ow + (int64_t)e->V * e->c->vw - 1) / ((int64_t)e->V * e->c->vw) == 1 && !tile_inside(e, 0);
    e->R = mf_cg_tile_rows(&e->c->shape, e->V, g->cout / g->groups, both_ends && e->c->vw <= 8 ? 2 : 0);
    e->wp = 0;
    if (both_ends && padded_rows(e)) /* no mask to hold: the whole tile */
        e->R = mf_cg_tile_rows(&e->c->shape, e->V, g->cout / g->groups, 0);
}

/* ---- the output-channel engine ------------------------------------------------------------
 * For narrow or strided outputs: accumulators hold vw output channels of one pixel, fed by
 * broadcasts of single inputs (so stride and width do not matter) and vector loads of
 * weights laid out [ic][ky][kx][RO][vw]: prepacked once by the graph when they are
 * constants (the pack-weights pass, geom.wblock), else packed by each work item,
 * transposed vw x vw at a time, into a stack buffer (so partitions share no scratch).  Work items are
 * (batch, group, block of RO*vw channels, range of rows); one covers its rows in tiles of
 * P pixels of one row (the border tiles' columns known at compile time, so padding is
 * skipped statically; a strided row's inner tiles in a loop), or, 1x1 stride-1 layers,
 * ranges of tiles over the flattened plane (oc_flat_geom; strided 1x1 layers too, on a
 * stride-1 copy of the pixels they read that each partition gathers first: oc_gathers).  Input channels come in
 * chunks that fit the packed buffer (1.5 x L1; flat tiles: half of L1 with the input lines
 * they read); between chunks the sums wait in a stack buffer (L2 / 4); prepacked weights are
 * prefetched a chunk ahead (oc_prefetch_spread; flat tiles also 2 KB ahead).  The epilogue
 * transposes the tile in registers and stores each channel's row of pixels
 * (oc_rows_epilogue). */

typedef struct oc_plan {
    int RO, P;          /* vw-channel vectors per block, pixels per tile */
    int64_t nob, CI, nchunk;
    int64_t nys; /* row ranges per block (more work items to share out); flat: tile ranges */
    bool flat;   /* tiles over the flattened plane (oc_flat_tiles) */
    bool loop;   /* a row's inner tiles (no padding read) in a loop */
} oc_plan;

/* Vectors of channels a tile of P pixels holds: P*ro accumulators, ro weight vectors and
 * one broadcast in the registers, at most 4 and the block's vectors. */
static int64_t oc_vectors(const mf_cg_ctx *c, const mf_cg_conv_geom *g, int P, int64_t nvec)
{
    int64_t ro = mf_cg_acc_regs(c, 1) / P;
    while (ro > 1 && ro * P + ro + 1 > c->shape.vregs)
        ro--;
    if (ro < 1)
        ro = 1;
    if (ro > 4)
        ro = 4;
    if (ro > nvec)
        ro = nvec;
    /* one vector fewer per block when that divides the channels into whole blocks: no
     * padded lanes, and the weights can be prepacked (blocks of whole vectors only) */
    if (nvec % ro && ro > 1 && nvec % (ro - 1) == 0 && g->cout / g->groups % c->vw == 0)
        ro--;
    return ro;
}

/* A 1x1 stride-1 layer without padding reads pixel p of the flattened plane at input pixel
 * p, so its tiles may span rows: P pixels of the plane (the last tile the rest), the most
 * accumulators in whole blocks of vectors (the larger P of equals).  At 8 lanes (AVX2) the
 * GEMM engine's 16-pixel tiles left 49 of a 7x7 plane's 64 lanes, and this engine's rows of
 * 7 pixels 7 x 1 tiles (7 x 2 needs 17 registers): over the 49 pixels 6 x 2, mobilenet_v2's
 * 7x7 1x1 layers 76-81 -> 88-94 % of the peak.  At 16 lanes the flat plan's chunks (weights
 * and input lines in half of L1) ran 160->960, 960->160, 320->1280, 960->320 and resnet18's
 * 256->512 downsample at 79-88 % of the peak against 67-81 % in rows (five alternated
 * rounds, docs/benchmarks.md, 2026-12-07).  Flat blocks are whole vectors (oc_flat_tiles):
 * at 16 lanes only where the vectors split into blocks of 2-4 (5 or 7 vectors would take
 * blocks of one; rows hold 3 with a masked one). */
static bool oc_flat_geom(const mf_cg_ctx *c, const mf_cg_conv_geom *g)
{
    int64_t nvec = g->cout / c->vw;
    bool blocks = c->vw <= 8 || nvec == 1 || nvec % 2 == 0 || nvec % 3 == 0;
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && !g->ph && !g->pw &&
           g->oh == g->h && g->ow == g->w && g->groups == 1 && g->cout % c->vw == 0 &&
           !g->is_matmul && blocks;
}

static void oc_flat_tiles(const mf_cg_ctx *c, const mf_cg_conv_geom *g, int64_t nvec, int *P, int64_t *ro)
{
    int64_t npix = g->oh * g->ow;
    /* At 16 lanes a plane's last, shorter tile, code of its own, tripled the compile of the
     * 320->1280 kernel (34 -> 105 ms) for no speed: tiles there divide the plane where 4
     * pixels or more do (7 x 3 and 7 x 2 on 7x7: 38-50 ms, 79-86 % of the peak). */
    for (int divide = c->vw >= 16; divide >= 0; divide--) {
        int64_t best = 0;
        for (int p = divide ? 4 : 1; p <= 8 && p <= npix; p++) {
            int64_t r = oc_vectors(c, g, p, nvec);
            while (nvec % r) /* whole blocks: the flat epilogue masks no lane (5 vectors: 1) */
                r--;
            if ((divide && npix % p) || r * p < best)
                continue;
            best = r * p;
            *P = p;
            *ro = r;
        }
        if (best)
            return;
    }
}

/* A 1x1 strided layer without padding whose output the flat tiles take (oc_flat_geom):
 * each partition first gathers the input it reads (every sw-th column of every sh-th row)
 * into a stack panel laid out as a stride-1 plane, once per batch, and the tiles run on
 * that (*flat: the layer as they see it).  In rows, resnet18's 14x14 256->512 downsample (a
 * 7x7 output) took 7 x 1 tiles, each broadcast from its own line of the input read from
 * L2 (46 % of the AVX2 peak on Zen 3); the GEMM engine's gathered panel left a third of its
 * 16-pixel tiles' lanes empty (68 %, docs/benchmarks.md). */
static bool oc_gathers(const mf_cg_ctx *c, const mf_cg_conv_geom *g, mf_cg_conv_geom *flat)
{
    if (g->kh != 1 || g->kw != 1 || (g->sh == 1 && g->sw == 1) || g->ph || g->pw || g->is_matmul ||
        !mf_cg_gathers_strided(g) || (g->cin * g->oh * g->ow + c->vw) * 4 > c->shape.l2 / 4)
        return false;
    *flat = *g;
    flat->h = g->oh, flat->w = g->ow, flat->sh = flat->sw = 1, flat->xdt = MF_F32;
    for (int d = 0; d < g->nbd; d++)
        flat->bx_stride[d] = 0; /* the panel holds one batch */
    return oc_flat_geom(c, flat);
}

static bool oc_choose(const mf_cg_ctx *c, const mf_cg_conv_geom *g, int parts, oc_plan *pl)
{
    mf_cg_conv_geom gathered;
    if (oc_gathers(c, g, &gathered))
        g = &gathered;
    pl->flat = pl->loop = false;
    if (g->is_matmul)
        return false;
    const int64_t VW = c->vw;
    int64_t coutg = g->cout / g->groups, cing = g->cin / g->groups;
    /* strided rows of any width, stride-1 rows up to 32 pixels: at 8 lanes the pixel
     * engine's stride-2 loads ran a 56 -> 28 layer at a third of this engine's speed, and
     * resnet18's 7x7 stride-2 first layer (112-pixel rows) at half, once this engine's
     * weights were prepacked */
    pl->flat = oc_flat_geom(c, g);
    if (coutg < VW || (g->ow > 32 && g->sw == 1 && !pl->flat) || cing * g->kh * g->kw < VW)
        return false;
    /* a strided layer with few taps (mobilenet_v2's first, 3 x 3x3 = 27) pays the tile's
     * transposing epilogue every 27 broadcasts: at 16 lanes the pixel engine ran it at 68-76
     * % of the peak against 61 %, and compiled it in 0.24 s against 1 s (the 7x7 stem, 147
     * taps, stays: 82-85 % here, 79-80 % there on phase rows).  At 8 lanes the pixel engine
     * on phase rows (phase_rows) takes layers of up to 8 input channels: haswell code on the
     * Xeon host, 3x3 3->32 92 % against 76 %, 7x7 3->64 95-96 against 83-85 %, 3x3 8->16 to
     * 112-pixel rows 87 against 74-76 %; 16->32 to 56-pixel rows ran at 55-59 against 76-78 %
     * and stays here. */
    if (g->sw > 1 && (cing * g->kh * g->kw < 2 * VW || (VW <= 8 && cing <= 8 && phase_rows(c, g))))
        return false;
    /* the pixel engine wins unless much of its vectors is padding (the plane engine's small
     * planes come here whatever their padding: plane_runs) */
    if (g->sw == 1 && !pl->flat && !mf_cg_plane_cedes(c, g)) {
        int64_t padded = (g->ow + VW - 1) / VW * VW;
        for (int64_t tw = 2 * VW; tw <= 4 * VW; tw += VW)
            if ((g->ow + tw - 1) / tw * tw < padded)
                padded = (g->ow + tw - 1) / tw * tw;
        if (g->ow * 4 > padded * 3)
            return false;
    }
    int64_t nvec = (coutg + VW - 1) / VW;
    int64_t ntr = (g->ow + 7) / 8;
    pl->P = (int)((g->ow + ntr - 1) / ntr);
    int64_t ro = oc_vectors(c, g, pl->P, nvec);
    /* Tiles of 7 or 8 pixels leave AVX2's 16 registers one vector of channels: 7 or 8
     * accumulators, a broadcast per FMA.  In rows of up to 16 pixels narrower tiles (at
     * most twice as many a row) with 3 more accumulators win: 5 pixels x 2 vectors at 8
     * lanes (resnet18's 28 -> 14 layer 80 -> 97 % of the peak, its kernel compiled in 240
     * against 105 ms: each tile's epilogue transposes and stores every vector).  Not 4 x 2
     * for 7 x 1 (no gain), nor in the stem's 112-pixel rows, whose 14 tiles a row, unrolled,
     * already fill the instruction cache (6 x 2 ran it at 34 % of the peak against 81 %).
     * Strided rows of 17-32 pixels take 6 x 2 with the inner tiles (no padding read) in one
     * loop (pl->loop, below): unrolled, 6 x 2 ran 56 -> 28 at 80 % for twice the compile;
     * looped, 79 -> 92 % for the same compile.  AVX-512 holds 2 or more vectors wherever
     * the block has them: its tiles stay. */
    if (ro == 1 && ntr <= 2)
        for (int64_t n = ntr + 1; n <= 2 * ntr && n <= g->ow; n++) {
            int64_t p = (g->ow + n - 1) / n, r = oc_vectors(c, g, (int)p, nvec);
            if (r * p >= ro * pl->P + 3) {
                pl->P = (int)p;
                ro = r;
            }
        }
    /* Stride-1 rows of 6, 11 or 12 pixels would take 6 x 2 tiles, which ran their 3x3 and
     * 5x5 layers at 51-70 % of the AVX2 peak where tiles of 4 pixels (x 2 or 3 vectors) ran
     * them at 89-106 % (haswell code on Zen 3; 12x12 8->16 and 64->128 3x3, 11x11 32->64
     * 3x3, 12x12 and 6x6 5x5).  Rows of 17 and 18 (three tiles of 6) and AVX-512 were not
     * measured: their tiles stay. */
    if (ro == 2 && pl->P == 6 && g->sw == 1 && !pl->flat && g->ow <= 12 && c->shape.vregs <= 16) {
        pl->P = 4;
        ro = oc_vectors(c, g, 4, nvec);
    }
    if (ro == 1 && ntr > 2 && ntr <= 4 && g->sw > 1 && nvec % 2 == 0 &&
        oc_vectors(c, g, 6, nvec) == 2) {
        pl->P = 6;
        ro = 2;
    }
    /* Strided rows run their inner tiles in a loop: unrolled, the stems' 112-pixel rows
     * (14 tiles of 8 pixels at 8 lanes) made their kernels the model's slowest to compile,
     * resnet18's 7x7 3->64 1.33-1.70 s and mobilenet_v2's 3x3 3->32 0.88-1.01 s (both
     * compile threads on one core) against 0.26-0.40 and 0.17-0.32 s looped, and ran no
     * faster: 3.17-3.19 against 2.71-3.15 ms and 349-403 against 346-373 us on Zen 3
     * (fastest launches in the model, three or four rounds interleaved). */
    if (g->sw > 1)
        pl->loop = true;
    if (pl->flat)
        oc_flat_tiles(c, g, nvec, &pl->P, &ro);
    pl->nob = (nvec + ro - 1) / ro;
    pl->RO = (int)((nvec + pl->nob - 1) / pl->nob);
    int64_t per_ic = (int64_t)pl->RO * VW * g->kh * g->kw * 4;
    /* 48 KiB of weights: mostly in L1.  A flat tile's broadcasts also read a few pixels of
     * each input channel: a 64-byte line a channel that its pass brings into L1 beside the
     * weights.  At 48 KiB of weights the two did not fit, and every pass read both from L2
     * again; with the chunk's weights and lines in half of L1, on Zen 3 (alone, warm)
     * 960->160 ran at 86 % of the peak against 75 %, 320->1280 at 80 against 55-65 %,
     * 160->960 at 75 against 71 % (docs/benchmarks.md). */
    pl->CI = pl->flat ? c->shape.l1d / 2 / (per_ic + 64) : c->shape.l1d * 3 / 2 / per_ic;
    if (pl->CI < 1)
        pl->CI = 1;
    if (pl->CI > cing)
        pl->CI = cing;
    pl->nchunk = (cing + pl->CI - 1) / pl->CI;
    pl->CI = (cing + pl->nchunk - 1) / pl->nchunk; /* equal chunks: the prefetch's distance fits */
    if (pl->nchunk > 1 && g->oh * g->ow * pl->RO * VW * 4 > c->shape.l2 / 4)
        return false;
    int64_t nbatch = 1;
    for (int d = 0; d < g->nbd; d++)
        nbatch *= g->bshape[d];
    int64_t items = nbatch * g->groups * pl->nob;
    /* more items than blocks when partitions would idle or get unequal rows (960->160 on
     * a 7x7 plane: 5 blocks on 4 partitions, 2 threads doing 2 and 3 of them); an item
     * that packs its block's weights serves >= 32 pixels, prepacked ones any row */
    int64_t rows = pl->flat ? (g->oh * g->ow + pl->P - 1) / pl->P : g->oh; /* flat: tiles */
    int64_t cap = g->wblock ? rows : g->oh * g->ow / 32;
    pl->nys = mf_cg_rows_split(items, rows, parts, items >= parts ? 1 : (parts + items - 1) / items, cap);
    return true;
}

/* Does the plane engine run the layer: it takes it (mf_cg_plane_choose) and does not cede it
 * to this engine (mf_cg_plane_cedes), which takes it only where its blocks are whole
 * vectors of channels dividing the layer's, so that its weights are prepacked (packing them
 * on every call is what the plane engine is for). */
static bool plane_runs(const mf_cg_ctx *c, const mf_cg_conv_geom *g)
{
    if (!mf_cg_plane_choose(c, g))
        return false;
    oc_plan pl;
    return !(mf_cg_plane_cedes(c, g) && oc_choose(c, g, 1, &pl) && g->cout % ((int64_t)pl.RO * c->vw) == 0);
}

static LLVMValueRef array_alloca(mf_cg_ctx *c, int64_t nfloats)
{
    LLVMValueRef a = mf_cg_entry_alloca(c, LLVMArrayType2(c->f32, (uint64_t)nfloats));
    LLVMSetAlignment(a, 64);
    return a;
}

/* In-register transpose of vw vectors (row j, lane i) -> (row i, lane j). */
static void transpose(mf_cg_ctx *c, LLVMValueRef *r)
{
    const int VW = c->vw;
    for (int b = VW / 2; b >= 1; b /= 2) {
        LLVMValueRef m0[MF_CG_MAX_VW], m1[MF_CG_MAX_VW];
        for (int l = 0; l < VW; l++) {
            m0[l] = LLVMConstInt(c->i32, (unsigned long long)((l & b) ? VW + l - b : l), 0);
            m1[l] = LLVMConstInt(c->i32, (unsigned long long)((l & b) ? VW + l : l + b), 0);
        }
        LLVMValueRef s0 = LLVMConstVector(m0, (unsigned)VW), s1 = LLVMConstVector(m1, (unsigned)VW);
        for (int i = 0; i < VW; i++) {
            if (i & b)
                continue;
            LLVMValueRef a = r[i], bb = r[i + b];
            r[i] = LLVMBuildShuffleVector(c->B, a, bb, s0, "");
            r[i + b] = LLVMBuildShuffleVector(c->B, a, bb, s1, "");
        }
    }
}

/* Packs rows wrow + j*K (j < vw*RO, rows with ocl0 + j >= coutg read as 0), columns
 * [0, L), into pk[col][RO][vw]. */
static void oc_pack(mf_cg_ctx *c, const oc_plan *pl, LLVMValueRef wrow, int64_t K,
                    LLVMValueRef ocl0, int64_t coutg, LLVMValueRef L, LLVMValueRef pk)
{
    const int VW = c->vw;
    LLVMTypeRef vt = LLVMVectorType(c->f32, (unsigned)VW);
    LLVMValueRef nkb = mf_cg_ix_udivk(c, mf_cg_ix_addk(c, L, VW - 1), VW);
    mf_cg_loop kb;
    mf_cg_loop_begin(c, &kb, mf_cg_i64(c, 0), nkb);
    LLVMValueRef col0 = mf_cg_ix_mulk(c, kb.iv, VW);
    LLVMValueRef lanes = LLVMBuildAdd(c->B, mf_cg_vsplat(c, col0), lane_consts(c, 0, 1), "");
    LLVMValueRef colmask = LLVMBuildICmp(c->B, LLVMIntULT, lanes, mf_cg_vsplat(c, L), "");
    LLVMValueRef zero = mf_cg_fconst(c, vt, 0.0);
    for (int r = 0; r < pl->RO; r++) {
        LLVMValueRef rows[MF_CG_MAX_VW];
        for (int j = 0; j < VW; j++) {
            int64_t jj = (int64_t)r * VW + j;
            LLVMValueRef ok = LLVMBuildICmp(c->B, LLVMIntULT, mf_cg_ix_addk(c, ocl0, jj), mf_cg_i64(c, coutg), "");
            LLVMValueRef m = LLVMBuildAnd(c->B, colmask, mf_cg_vsplat(c, ok), "");
            LLVMValueRef ptr = mf_cg_gep(c, wrow, mf_cg_ix_add(c, mf_cg_i64(c, jj * K), col0));
            LLVMValueRef ops[4] = {ptr, LLVMConstInt(c->i32, 4, 0), m, zero};
            LLVMTypeRef tys[2] = {vt, c->ptr};
            rows[j] = mf_cg_intrin2(c, "llvm.masked.load", tys, 2, vt, 4, ops);
        }
        transpose(c, rows);
        for (int i = 0; i < VW; i++) {
            LLVMValueRef at = mf_cg_ix_addk(c, mf_cg_ix_mulk(c, mf_cg_ix_addk(c, col0, i), (int64_t)pl->RO * VW),
                                            (int64_t)r * VW);
            LLVMValueRef st = LLVMBuildStore(c->B, rows[i], mf_cg_gep(c, pk, at));
            LLVMSetAlignment(st, (unsigned)VW * 4);
        }
    }
    mf_cg_loop_end(c, &kb, 1);
}

/* What the parts of emit_conv_oc share: the plan's constants, then the values of the
 * current work item, of its chunk of input channels and of its output row. */
typedef struct oc_emit {
    mf_cg_ctx *c;
    const mf_cg_conv_geom *g;
    const oc_plan *pl;
    const mf_value *core;
    int nepi;
    const mf_value *const *epi;
    LLVMTypeRef vt;
    unsigned valign;
    int64_t coutg, cing, khw, K, BW;
    LLVMValueRef acc[4 * 8]; /* the tile's sums, [pixel][vector]: RO <= 4, P <= 8 */
    LLVMValueRef pk;         /* the packed weights of one chunk */
    LLVMValueRef part;       /* the sums between chunks; NULL with one chunk */
    /* the work item */
    LLVMValueRef bcoord[MF_MAX_RANK], y0, y1, xg, ocl0, oc0, wrow;
    LLVMValueRef bias[4], mask[4]; /* per vector of the block; NULL: none, all lanes live */
    /* the chunk of input channels */
    LLVMValueRef cnt, first, last, xc;
    /* the output row; flat plans: the tile's first pixel of the plane (oy, iy0 row 0) */
    LLVMValueRef oy, iy0, pix;
    LLVMValueRef col; /* a looped tile's first column (NULL: the tile's ox0) */
    bool flat_epi; /* flat: the epilogue runs on the flattened plane (else pixel by pixel) */
    LLVMValueRef pass; /* the tile's pass over the chunk (row x tile); NULL: no prefetch */
    int64_t pf_lines;  /* lines the spread fetches an input channel of a pass (oc_spread_lines) */
} oc_emit;

/* Decodes work item iv (batch, group, block of channels, range of rows) into the rows
 * [y0, y1) and the item's input, weight and channel bases. */
static void oc_item_decode(oc_emit *e, LLVMValueRef iv, int64_t nbatch)
{
    mf_cg_ctx *c = e->c;
    const mf_cg_conv_geom *g = e->g;
    const oc_plan *pl = e->pl;
    int64_t dims[4] = {nbatch, g->groups, pl->nob, pl->nys};
    LLVMValueRef q[4];
    mf_cg_unravel(c, iv, 4, dims, q);
    int64_t rows = pl->flat ? (g->oh * g->ow + pl->P - 1) / pl->P : g->oh; /* flat: tiles */
    e->y0 = mf_cg_ix_udivk(c, mf_cg_ix_mulk(c, q[3], rows), pl->nys);
    e->y1 = mf_cg_ix_udivk(c, mf_cg_ix_mulk(c, mf_cg_ix_addk(c, q[3], 1), rows), pl->nys);
    mf_cg_unravel(c, q[0], g->nbd, g->bshape, e->bcoord);
    e->xg = mf_cg_gep_as(c, g->x, mf_cg_ix_add(c, mf_cg_conv_batch_offset(c, g, e->bcoord, g->bx_stride),
                                               mf_cg_ix_mulk(c, q[1], e->cing * g->h * g->w)), g->xdt);
    e->ocl0 = mf_cg_ix_mulk(c, q[2], e->BW);
    e->oc0 = mf_cg_ix_madd(c, q[1], e->coutg, e->ocl0);
    e->wrow = mf_cg_gep(c, g->wt, mf_cg_ix_add(c, mf_cg_conv_batch_offset(c, g, e->bcoord, g->bw_stride),
                                               mf_cg_ix_mulk(c, e->oc0, e->K)));
}

/* oc_gathers: the item's batch of the strided input into the panel (e->xg) unless this
 * partition's previous item gathered it. */
static void oc_gather(oc_emit *e, const mf_cg_conv_geom *strided, LLVMValueRef key)
{
    mf_cg_ctx *c = e->c;
    LLVMValueRef at = mf_cg_conv_batch_offset(c, strided, e->bcoord, strided->bx_stride);
    LLVMBasicBlockRef fill = LLVMAppendBasicBlockInContext(c->C, c->body, "gather");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(c->C, c->body, "gathered");
    LLVMBuildCondBr(c->B, LLVMBuildICmp(c->B, LLVMIntNE, LLVMBuildLoad2(c->B, c->i64, key, ""), at, ""), fill, join);
    LLVMPositionBuilderAtEnd(c->B, fill);
    mf_cg_gather_strided(c, strided, mf_cg_gep_as(c, strided->x, at, strided->xdt), strided->cin, e->xg,
                         strided->oh * strided->ow, mf_cg_i64(c, 0), mf_cg_i64(c, strided->oh));
    LLVMBuildStore(c->B, at, key);
    LLVMBuildBr(c->B, join);
    LLVMPositionBuilderAtEnd(c->B, join);
}

/* The bias vectors and, when the block can pass the group's last channel, the lane masks
 * of the item's block. */
static void oc_bias_and_masks(oc_emit *e)
{
    mf_cg_ctx *c = e->c;
    const int VW = c->vw;
    LLVMTypeRef vt = e->vt;
    bool need_mask = e->coutg % e->BW != 0;
    for (int r = 0; r < e->pl->RO; r++) {
        LLVMValueRef ocl = mf_cg_ix_addk(c, e->ocl0, (int64_t)r * VW);
        if (need_mask)
            e->mask[r] = range_mask(c, ocl, 0, 1, e->coutg);
        if (!e->g->bias)
            continue;
        LLVMValueRef bp = mf_cg_gep(c, e->g->bias, mf_cg_ix_addk(c, e->oc0, (int64_t)r * VW));
        if (e->mask[r]) {
            LLVMValueRef ops[4] = {bp, LLVMConstInt(c->i32, 4, 0), e->mask[r], mf_cg_fconst(c, vt, 0.0)};
            LLVMTypeRef tys[2] = {vt, c->ptr};
            e->bias[r] = mf_cg_intrin2(c, "llvm.masked.load", tys, 2, vt, 4, ops);
        } else {
            e->bias[r] = LLVMBuildLoad2(c->B, vt, bp, "");
            LLVMSetAlignment(e->bias[r], 4);
        }
    }
}

/* Opens the loop over chunks of CI input channels and packs the chunk's weights. */
static void oc_chunk_begin(oc_emit *e, mf_cg_loop *ch)
{
    mf_cg_ctx *c = e->c;
    const mf_cg_conv_geom *g = e->g;
    const oc_plan *pl = e->pl;
    mf_cg_loop_begin(c, ch, mf_cg_i64(c, 0), mf_cg_i64(c, pl->nchunk));
    LLVMValueRef ic0 = mf_cg_ix_mulk(c, ch->iv, pl->CI);
    e->cnt = mf_cg_ix_smink(c, mf_cg_ix_sub(c, mf_cg_i64(c, e->cing), ic0), pl->CI);
    e->first = LLVMBuildICmp(c->B, LLVMIntEQ, ch->iv, mf_cg_i64(c, 0), "");
    e->last = LLVMBuildICmp(c->B, LLVMIntEQ, ch->iv, mf_cg_i64(c, pl->nchunk - 1), "");
    if (e->g->wblock) /* prepacked by the graph: the chunk's part of the block, as it is */
        e->pk = mf_cg_gep(c, e->wrow, mf_cg_ix_mulk(c, ic0, e->khw * e->BW));
    else
        oc_pack(c, pl, mf_cg_gep(c, e->wrow, mf_cg_ix_mulk(c, ic0, e->khw)), e->K, e->ocl0, e->coutg,
                mf_cg_ix_mulk(c, e->cnt, e->khw), e->pk);
    e->xc = mf_cg_gep_as(c, e->xg, mf_cg_ix_mulk(c, ic0, g->h * g->w), g->xdt);
}

/* Starts the sums of a tile of np pixels at 0, or on later chunks at the partial sums
 * kept at pbase. */
static void oc_tile_init(oc_emit *e, int np, LLVMValueRef pbase)
{
    mf_cg_ctx *c = e->c;
    const int VW = c->vw, RO = e->pl->RO;
    for (int p = 0; p < np; p++)
        for (int r = 0; r < RO; r++) {
            LLVMValueRef init = mf_cg_fconst(c, e->vt, 0.0);
            if (e->part) {
                LLVMValueRef pv = LLVMBuildLoad2(c->B, e->vt, mf_cg_gep(c, pbase, mf_cg_i64(c, (int64_t)p * e->BW + r * VW)), "");
                LLVMSetAlignment(pv, e->valign);
                init = LLVMBuildSelect(c->B, e->first, init, pv, "");
            }
            LLVMBuildStore(c->B, init, e->acc[p * RO + r]);
        }
}

/* One kernel row's taps: for each kx, RO weight vectors times the broadcast input pixel
 * of each of the tile's np pixels, skipping the pixels that fall in the padding. */
static void oc_tile_taps(oc_emit *e, LLVMValueRef row, LLVMValueRef wky, int64_t ox0, int np)
{
    mf_cg_ctx *c = e->c;
    const mf_cg_conv_geom *g = e->g;
    const int VW = c->vw, RO = e->pl->RO;
    for (int64_t kx = 0; kx < g->kw; kx++) {
        LLVMValueRef wv[4];
        for (int r = 0; r < RO; r++) {
            wv[r] = LLVMBuildLoad2(c->B, e->vt, mf_cg_gep(c, wky, mf_cg_i64(c, kx * e->BW + r * VW)), "");
            LLVMSetAlignment(wv[r], e->valign);
        }
        for (int p = 0; p < np; p++) {
            int64_t ix = (ox0 + p) * g->sw - g->pw + kx * g->dw;
            if (!e->pl->flat && !e->col && (ix < 0 || ix >= g->w))
                continue;
            LLVMValueRef xs = mf_cg_load_f32_as(c, c->f32, mf_cg_gep_as(c, row, mf_cg_i64(c, ix), g->xdt), NULL, g->xdt);
            LLVMValueRef xb = mf_cg_vsplat(c, xs);
            for (int r = 0; r < RO; r++) {
                LLVMValueRef a = e->acc[p * RO + r];
                LLVMValueRef s = LLVMBuildLoad2(c->B, e->vt, a, "");
                LLVMBuildStore(c->B, mf_cg_fmuladd(c, wv[r], xb, s), a);
            }
        }
    }
}

/* Prepacked weights are one stream (blocks, then chunks, one after the other), read once
 * from memory per run: mobilenet_v2's 7x7 1x1 layers (0.6-1.6 MB each; the model's 14 MB
 * do not stay in L2 between runs) ran at 59-69 % of the peak in the model against 80-88 %
 * alone, warm: the first row's pass over a chunk waits on memory, the others do not.  So
 * the stream past the chunk is fetched into L2 spread over all the chunk's passes (rows x
 * tiles), m lines an input channel: pass r fetches lines (r*CI .. r*CI + CI-1) * m past
 * it, in order (lines i*npass + r, strided over many pages, gained half as much; a whole
 * line set a step in every pass, nothing: the first pass's burst waits as before).  Cold,
 * alone: the model's eight such layers a quarter faster at 16 lanes (docs/benchmarks.md).
 * m covers the chunk (oc_spread_lines): at one line a channel the 7 passes of a 7x7 3x3
 * layer fetched 7 of its 18 lines a channel (two vectors x 9 taps), and resnet18's three
 * 7x7 512->512 layers ran at 58-62 % of the peak in the model, against 72-78 % at 3 lines
 * (docs/benchmarks.md, 2026-12-07). */
static void oc_prefetch_spread(oc_emit *e, LLVMValueRef ic)
{
    mf_cg_ctx *c = e->c;
    LLVMValueRef line = mf_cg_ix_add(c, mf_cg_ix_mulk(c, e->pass, e->pl->CI), ic);
    int64_t m = e->pf_lines;
    for (int64_t j = 0; j < m; j++) {
        LLVMValueRef idx = mf_cg_ix_add(c, mf_cg_i64(c, e->pl->CI * e->khw * e->BW + j * 16),
                                        mf_cg_ix_mulk(c, line, 16 * m));
        /* a plain GEP: past the weights, a hint */
        mf_cg_prefetch(c, LLVMBuildGEP2(c->B, c->f32, e->pk, &idx, 1, ""), 2);
    }
}

/* Adds the chunk's input channels and kernel rows into the tile's sums (rows outside the
 * input skipped at run time).  Up to OC_UNROLLED_ROWS kernel rows are unrolled (LLVM's own
 * unroller is off: codegen/compile.c): in resnet18 its 7x7 512->512 layers ran 1.32-1.33 ms
 * in a loop against 1.28 unrolled, two 3x3 stride-2 layers 0.68 and 0.73 against 0.65 and
 * 0.71; its 7x7 stem ran faster in a loop (1.44 against 1.50 ms). */
#define OC_UNROLLED_ROWS 3
static void oc_tile_accumulate(oc_emit *e, int64_t ox0, int np)
{
    mf_cg_ctx *c = e->c;
    const mf_cg_conv_geom *g = e->g;
    mf_cg_loop icl, ky;
    mf_cg_loop_begin(c, &icl, mf_cg_i64(c, 0), e->cnt);
    LLVMValueRef plane = mf_cg_gep_as(c, e->xc, mf_cg_ix_mulk(c, icl.iv, g->h * g->w), g->xdt);
    LLVMValueRef wic = mf_cg_gep(c, e->pk, mf_cg_ix_mulk(c, icl.iv, e->khw * e->BW));
    if (e->pass)
        oc_prefetch_spread(e, icl.iv);
    if (e->pl->flat && g->wblock) { /* beside the spread (at 16 lanes without: no faster) */
        /* Their first pass over a chunk reads the weights from L3 at a line a channel,
         * faster than the hardware prefetchers run ahead: each channel fetches the line
         * ROW_PREFETCH_BYTES on (the stream goes on into the next chunk and block).  In
         * mobilenet_v2 on Zen 3 the 7x7 1x1 layers 2.07-2.11 -> 1.97-2.04 ms (one thread,
         * fastest launches, four rounds); alone and warm 1-2 points of the peak slower. */
        LLVMValueRef idx = mf_cg_i64(c, ROW_PREFETCH_BYTES / 4);
        mf_cg_prefetch(c, LLVMBuildGEP2(c->B, c->f32, wic, &idx, 1, ""), 3); /* a plain GEP: a hint */
    }
    mf_cg_loop_begin(c, &ky, mf_cg_i64(c, 0), mf_cg_i64(c, g->kh));
    LLVMValueRef iy = mf_cg_ix_add(c, e->iy0, mf_cg_ix_mulk(c, ky.iv, g->dh));
    LLVMValueRef inside = LLVMBuildICmp(c->B, LLVMIntULT, iy, mf_cg_i64(c, g->h), "");
    LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(c->C, c->body, "row");
    LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(c->C, c->body, "next");
    LLVMBuildCondBr(c->B, inside, then, next);
    LLVMPositionBuilderAtEnd(c->B, then);
    LLVMValueRef at = e->pl->flat ? e->pix : mf_cg_ix_mulk(c, iy, g->w);
    if (e->col)
        at = mf_cg_ix_add(c, at, mf_cg_ix_mulk(c, e->col, g->sw));
    LLVMValueRef row = mf_cg_gep_as(c, plane, at, g->xdt);
    LLVMValueRef wky = mf_cg_gep(c, wic, mf_cg_ix_mulk(c, ky.iv, g->kw * e->BW));
    oc_tile_taps(e, row, wky, ox0, np);
    LLVMBuildBr(c->B, next);
    LLVMPositionBuilderAtEnd(c->B, next);
    if (g->kh <= OC_UNROLLED_ROWS)
        mf_cg_loop_end_unrolled(c, &ky, 1);
    else
        mf_cg_loop_end(c, &ky, 1);
    mf_cg_loop_end(c, &icl, 1);
}

/* Before the last chunk: stores the tile's sums to pbase and branches to join.  On the
 * last chunk (and always with one chunk) it goes on to fin, the epilogue. */
static void oc_tile_keep_partial(oc_emit *e, int np, LLVMValueRef pbase, LLVMBasicBlockRef fin,
                                 LLVMBasicBlockRef join)
{
    mf_cg_ctx *c = e->c;
    const int VW = c->vw, RO = e->pl->RO;
    if (!e->part) {
        LLVMBuildBr(c->B, fin);
        return;
    }
    LLVMBasicBlockRef keep = LLVMAppendBasicBlockInContext(c->C, c->body, "keep");
    LLVMBuildCondBr(c->B, e->last, fin, keep);
    LLVMPositionBuilderAtEnd(c->B, keep);
    for (int p = 0; p < np; p++)
        for (int r = 0; r < RO; r++) {
            LLVMValueRef st = LLVMBuildStore(c->B, LLVMBuildLoad2(c->B, e->vt, e->acc[p * RO + r], ""),
                                             mf_cg_gep(c, pbase, mf_cg_i64(c, (int64_t)p * e->BW + r * VW)));
            LLVMSetAlignment(st, e->valign);
        }
    LLVMBuildBr(c->B, join);
}

/* Lane l < n of a vw-lane mask: the first n pixels of a row vector. */
static LLVMValueRef first_lanes(mf_cg_ctx *c, int n)
{
    LLVMValueRef e[MF_CG_MAX_VW];
    for (int l = 0; l < c->vw; l++)
        e[l] = LLVMConstInt(c->i1, l < n, 0);
    return LLVMConstVector(e, (unsigned)c->vw);
}

/* Flat tiles whose epilogue reads something that does not flatten (broadcast along rows
 * but not columns): channel j's pixels p0 .. p0+n-1 of the tile (lanes of rows[j]) one at a
 * time at (row, column).  Rare, so simple. */
static mf_status oc_flat_by_pixel(oc_emit *e, LLVMValueRef *rows, int r, int p0, int n)
{
    mf_cg_ctx *c = e->c;
    mf_cg_point *pt = mf_cg_conv_point(e->core, -1, 1, e->g->nbd, e->bcoord);
    if (!pt)
        return MF_ERR_NOMEM;
    mf_status err = MF_OK;
    for (int i = 0; i < n && !err; i++) {
        LLVMValueRef pix = mf_cg_ix_addk(c, e->pix, p0 + i);
        pt->coord[2] = mf_cg_ix_udivk(c, pix, e->g->ow);
        pt->coord[3] = LLVMBuildURem(c->B, pix, mf_cg_i64(c, e->g->ow), "");
        for (int j = 0; j < c->vw && !err; j++) { /* whole blocks (oc_flat_tiles): no lane masked */
            pt->coord[1] = mf_cg_ix_addk(c, e->oc0, (int64_t)r * c->vw + j);
            pt->core_val = LLVMBuildExtractElement(c->B, rows[j], LLVMConstInt(c->i32, (unsigned)i, 0), "");
            pt->nmemo = 0;
            err = mf_cg_store_epilogue(c, pt, e->nepi, e->epi);
        }
    }
    free(pt);
    return err;
}

/* The vw channels of vector r of the block at pixels ox0 .. ox0+n-1 (n <= vw): their sums
 * plus bias, transposed in registers so that each vector holds one channel's n pixels of
 * the row, through the epilogue.  A row vector is one contiguous store; a vector of
 * channels was a scatter of vw lanes, which cost mobilenet_v2's first layer (27 taps a
 * sum) half its speed. */
static mf_status oc_rows_epilogue(oc_emit *e, mf_cg_point *pt, int r, int p0, int n)
{
    mf_cg_ctx *c = e->c;
    const int VW = c->vw, RO = e->pl->RO;
    LLVMValueRef rows[MF_CG_MAX_VW];
    for (int i = 0; i < VW; i++) {
        if (i >= n) {
            rows[i] = LLVMGetUndef(e->vt);
            continue;
        }
        rows[i] = LLVMBuildLoad2(c->B, e->vt, e->acc[(p0 + i) * RO + r], "");
        if (e->bias[r])
            rows[i] = LLVMBuildFAdd(c->B, rows[i], e->bias[r], "");
    }
    transpose(c, rows);
    LLVMValueRef live = n < VW ? first_lanes(c, n) : NULL;
    mf_status err = MF_OK;
    if (e->pl->flat && !e->flat_epi) /* flat tiles, an epilogue that does not flatten */
        return oc_flat_by_pixel(e, rows, r, p0, n);
    for (int j = 0; j < VW && !err; j++) {
        LLVMValueRef ocl = mf_cg_ix_addk(c, e->ocl0, (int64_t)r * VW + j);
        pt->coord[1] = mf_cg_ix_addk(c, e->oc0, (int64_t)r * VW + j);
        pt->mask = live;
        if (e->mask[r]) { /* a channel past the group's last: no lane stored */
            LLVMValueRef ok = LLVMBuildICmp(c->B, LLVMIntULT, ocl, mf_cg_i64(c, e->coutg), "");
            LLVMValueRef all = mf_cg_vsplat(c, ok);
            pt->mask = live ? LLVMBuildAnd(c->B, live, all, "") : all;
        }
        pt->core_val = rows[j];
        pt->nmemo = 0;
        err = mf_cg_store_epilogue(c, pt, e->nepi, e->epi);
    }
    return err;
}

/* The tile's sums plus bias through the epilogue into the outputs, a row vector (lanes:
 * pixels) per channel, vw pixels at a time. */
static mf_status oc_tile_epilogue(oc_emit *e, int64_t ox0, int np)
{
    mf_cg_ctx *c = e->c;
    const int VW = c->vw, RO = e->pl->RO;
    bool flat = e->pl->flat;
    mf_cg_point *pt = mf_cg_conv_point(e->core, flat ? 2 : 3, (unsigned)VW, e->g->nbd, e->bcoord); /* lanes: pixels */
    if (!pt)
        return MF_ERR_NOMEM;
    pt->coord[2] = e->oy;
    if (flat) { /* loop dims (batch, channel, pixel of the plane): mf_cg_epilogue_flattens */
        pt->nloop = 3;
        pt->extent[2] = e->g->oh * e->g->ow;
        pt->stride_of[2] = 3;
    }
    mf_status err = MF_OK;
    for (int p0 = 0; p0 < np && !err; p0 += VW) {
        pt->coord[flat ? 2 : 3] = flat ? mf_cg_ix_addk(c, e->pix, p0)
                                  : e->col ? mf_cg_ix_addk(c, e->col, ox0 + p0) : mf_cg_i64(c, ox0 + p0);
        for (int r = 0; r < RO && !err; r++)
            err = oc_rows_epilogue(e, pt, r, p0, np - p0 < VW ? np - p0 : VW);
    }
    free(pt);
    return err;
}

/* The tile of np pixels from column ox0 of row oy: its sums over the chunk, then either
 * kept for the next chunk or finished through the epilogue. */
static mf_status oc_tile(oc_emit *e, int64_t ox0, int np)
{
    mf_cg_ctx *c = e->c;
    LLVMValueRef pbase = NULL;
    if (e->part) { /* the sums of pixel (oy, ox0) on */
        LLVMValueRef pixel = e->pl->flat ? e->pix : mf_cg_ix_addk(c, mf_cg_ix_mulk(c, e->oy, e->g->ow), ox0);
        if (e->col)
            pixel = mf_cg_ix_add(c, pixel, e->col);
        pbase = mf_cg_gep(c, e->part, mf_cg_ix_mulk(c, pixel, e->BW));
    }
    oc_tile_init(e, np, pbase);
    oc_tile_accumulate(e, ox0, np);
    LLVMBasicBlockRef fin = LLVMAppendBasicBlockInContext(c->C, c->body, "fin");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(c->C, c->body, "join");
    oc_tile_keep_partial(e, np, pbase, fin, join);
    LLVMPositionBuilderAtEnd(c->B, fin);
    mf_status err = oc_tile_epilogue(e, ox0, np);
    LLVMBuildBr(c->B, join);
    LLVMPositionBuilderAtEnd(c->B, join);
    return err;
}

/* Flat plans: the item's tiles [y0, y1) of P pixels over the flattened plane, in a loop but
 * the last tile of the plane when it is shorter (its own code, after the loop). */
static mf_status oc_flat_row(oc_emit *e, bool spread)
{
    mf_cg_ctx *c = e->c;
    const int64_t P = e->pl->P, npix = e->g->oh * e->g->ow, nfull = npix / P;
    e->oy = e->iy0 = mf_cg_i64(c, 0);
    mf_cg_loop t;
    mf_cg_loop_begin(c, &t, e->y0, mf_cg_ix_smink(c, e->y1, nfull));
    e->pix = mf_cg_ix_mulk(c, t.iv, P);
    if (spread)
        e->pass = mf_cg_ix_sub(c, t.iv, e->y0);
    mf_status err = oc_tile(e, 0, (int)P);
    mf_cg_loop_end(c, &t, 1);
    if (err || npix % P == 0)
        return err;
    LLVMBasicBlockRef rest = LLVMAppendBasicBlockInContext(c->C, c->body, "rest");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->C, c->body, "rested");
    LLVMBuildCondBr(c->B, LLVMBuildICmp(c->B, LLVMIntSGT, e->y1, mf_cg_i64(c, nfull), ""), rest, done);
    LLVMPositionBuilderAtEnd(c->B, rest);
    e->pix = mf_cg_i64(c, nfull * P);
    if (spread)
        e->pass = mf_cg_ix_sub(c, mf_cg_i64(c, nfull), e->y0);
    err = oc_tile(e, 0, (int)(npix % P));
    LLVMBuildBr(c->B, done);
    LLVMPositionBuilderAtEnd(c->B, done);
    return err;
}

/* Lines of the next chunk a pass fetches an input channel (oc_prefetch_spread): the chunk's
 * lines a channel (taps x the block's vectors) over the fewest passes an item makes (its
 * rows, or flat tiles, x tiles a row), so every item's passes cover the chunk; at most
 * SPREAD_LINES_MAX, so a big kernel on a tiny plane (few passes, taps mostly padding) does
 * not spend its steps on prefetches (a 7x7 kernel on a 3x3 plane ran 4x slower). */
#define SPREAD_LINES_MAX 4

static int64_t oc_spread_lines(const oc_emit *e)
{
    const oc_plan *pl = e->pl;
    const mf_cg_conv_geom *g = e->g;
    int64_t npass = pl->flat ? (g->oh * g->ow + pl->P - 1) / pl->P / pl->nys
                             : g->oh / pl->nys * ((g->ow + pl->P - 1) / pl->P);
    int64_t lines = (e->khw * e->BW * 4 + 63) / 64;
    npass = npass < 1 ? 1 : npass;
    int64_t m = (lines + npass - 1) / npass;
    return m < SPREAD_LINES_MAX ? m : SPREAD_LINES_MAX;
}

/* Work items of the output-channel engine (see oc_plan): per item its block's bias and
 * masks, then per chunk of input channels the packed weights and every row's tiles. */
static mf_status emit_conv_oc(mf_cg_ctx *c, const mf_cg_conv_geom *g, const oc_plan *pl,
                              const mf_value *core, int nepi, const mf_value *const *epi)
{
    const mf_cg_conv_geom *strided = NULL;
    mf_cg_conv_geom gathered;
    LLVMValueRef key = NULL; /* the batch offset of the input last gathered, -1 before */
    if (oc_gathers(c, g, &gathered)) {
        strided = g;
        gathered.x = array_alloca(c, g->cin * g->oh * g->ow + c->vw); /* a vector of slack */
        key = mf_cg_entry_alloca(c, c->i64);
        LLVMBuildStore(c->B, mf_cg_i64(c, -1), key);
        g = &gathered;
    }
    oc_emit e = {.c = c, .g = g, .pl = pl, .core = core, .nepi = nepi, .epi = epi,
                 .vt = LLVMVectorType(c->f32, (unsigned)c->vw), .valign = (unsigned)c->vw * 4};
    e.coutg = g->cout / g->groups, e.cing = g->cin / g->groups, e.khw = g->kh * g->kw;
    e.K = e.cing * e.khw, e.BW = (int64_t)pl->RO * c->vw;
    for (int k = 0; k < pl->RO * pl->P; k++)
        e.acc[k] = mf_cg_entry_alloca(c, e.vt);
    e.flat_epi = pl->flat && mf_cg_epilogue_flattens(core, nepi, epi);
    int64_t lpad = (pl->CI * e.khw + c->vw - 1) / c->vw * c->vw;
    if (g->wblock)
        e.valign = 4; /* the packed constant's alignment is the plan's */
    else
        e.pk = array_alloca(c, lpad * e.BW);
    e.part = pl->nchunk > 1 ? array_alloca(c, g->oh * g->ow * e.BW) : NULL;
    int64_t nbatch = 1;
    for (int d = 0; d < g->nbd; d++)
        nbatch *= g->bshape[d];
    LLVMValueRef lo, hi;
    mf_cg_part_range(c, nbatch * g->groups * pl->nob * pl->nys, 1, &lo, &hi);
    mf_cg_loop items, ch, oyl;
    mf_cg_loop_begin(c, &items, lo, hi);
    oc_item_decode(&e, items.iv, nbatch);
    if (strided)
        oc_gather(&e, strided, key);
    oc_bias_and_masks(&e);
    oc_chunk_begin(&e, &ch);
    /* at 8 lanes too since the spread covers the chunk: haswell code for resnet18's 7x7
     * layers in the model 56-61 -> 68-85 % of the peak (one line a channel: no gain) */
    bool spread = g->wblock;
    e.pf_lines = spread ? oc_spread_lines(&e) : 0;
    mf_status err = MF_OK;
    if (pl->flat)
        err = oc_flat_row(&e, spread);
    else {
        mf_cg_loop_begin(c, &oyl, e.y0, e.y1);
        e.oy = oyl.iv;
        e.iy0 = mf_cg_ix_subk(c, mf_cg_ix_mulk(c, e.oy, g->sh), g->ph);
        int64_t ntile = (g->ow + pl->P - 1) / pl->P, tlo = ntile, thi = ntile;
        for (int64_t t = 0; pl->loop && t < ntile; t++) { /* the inner tiles [tlo, thi) */
            int64_t x0 = t * pl->P * g->sw - g->pw, x1 = ((t + 1) * pl->P - 1) * g->sw - g->pw + (g->kw - 1) * g->dw;
            bool in = (t + 1) * pl->P <= g->ow && x0 >= 0 && x1 < g->w;
            if (in && tlo == ntile)
                tlo = t;
            if (!in && tlo < ntile && thi == ntile)
                thi = t;
        }
        if (thi - tlo < 2)
            tlo = thi = ntile;
        for (int64_t t = 0; t < ntile && !err; t++) {
            int64_t ox0 = t * pl->P;
            if (t == tlo) { /* one loop for them */
                mf_cg_loop tl;
                mf_cg_loop_begin(c, &tl, mf_cg_i64(c, tlo), mf_cg_i64(c, thi));
                e.col = mf_cg_ix_mulk(c, tl.iv, pl->P);
                if (spread)
                    e.pass = mf_cg_ix_add(c, mf_cg_ix_mulk(c, mf_cg_ix_sub(c, e.oy, e.y0), ntile), tl.iv);
                err = oc_tile(&e, 0, pl->P);
                mf_cg_loop_end(c, &tl, 1);
                e.col = NULL;
                t = thi - 1;
                continue;
            }
            if (spread)
                e.pass = mf_cg_ix_addk(c, mf_cg_ix_mulk(c, mf_cg_ix_sub(c, e.oy, e.y0), ntile), ox0 / pl->P);
            err = oc_tile(&e, ox0, (int)(g->ow - ox0 < pl->P ? g->ow - ox0 : pl->P));
        }
        mf_cg_loop_end(c, &oyl, 1);
    }
    mf_cg_loop_end(c, &ch, 1);
    mf_cg_loop_end(c, &items, 1);
    return err;
}

static int64_t engine_block(const mf_cg_ctx *c, const mf_cg_conv_geom *g);

/* A 1x1 layer that the GEMM engine would run with under 80 % of its lanes holding pixels
 * and whose channels fill whole vectors of the output-channel engine, which takes it
 * instead: a 7x7 plane fills 49 of 64 lanes of pixels, 960 channels fill 60 vectors.  (On
 * AVX2 resnet18's 1x1 stride-2 256->512, a 7x7 output, ran there at 46 % of the peak and at
 * 68 % on the GEMM's gathered panel, but its GEMM kernel took twice the compile, 46 -> 106
 * ms at best of six, loaded: resnet18's cold compile may not grow.) */
static bool oc_fills_lanes(const mf_cg_ctx *c, const mf_cg_conv_geom *g)
{
    int mr, nv;
    oc_plan pl;
    if (!mf_cg_gemm_blocking(&c->shape, g, &mr, &nv) || g->groups != 1 || g->cout % c->vw)
        return false;
    int64_t npix = g->oh * g->ow, nr = (int64_t)nv * c->vw;
    return npix * 5 < (npix + nr - 1) / nr * nr * 4 && oc_choose(c, g, 1, &pl);
}

mf_status mf_cg_emit_conv(mf_cg_ctx *c, const mf_cg_conv_geom *g, const mf_value *core,
                          int nepi, const mf_value *const *epi)
{
    if (g->wblock && g->wblock != engine_block(c, g))
        return mf_error(MF_ERR_UNSUPPORTED, "codegen: conv2d weights packed in blocks of %lld channels, "
                        "which this target's engine does not read (packed for another target?)",
                        (long long)g->wblock);
    int mr, nv;
    bool oc_first = oc_fills_lanes(c, g);
    if (!oc_first && mf_cg_gemm_blocking(&c->shape, g, &mr, &nv))
        return mf_cg_emit_conv_gemm(c, g, core, nepi, epi);
    if (mf_cg_dw_choose(c, g))
        return mf_cg_emit_conv_dw(c, g, core, nepi, epi);
    if (!oc_first && plane_runs(c, g))
        return mf_cg_emit_conv_plane(c, g, core, nepi, epi);
    oc_plan pl;
    if (oc_choose(c, g, c->core_number, &pl))
        return emit_conv_oc(c, g, &pl, core, nepi, epi);
    conv_emit e = {.c = c,
                   .g = g,
                   .core = core,
                   .nepi = nepi,
                   .epi = epi,
                   .vt = LLVMVectorType(c->f32, (unsigned)c->vw),
                   .err = MF_OK};
    e.phases = phase_rows(c, g);
    choose_blocking(&e);
    if (g->wblock) /* row_block's, checked above */
        e.R = (int)g->wblock;
    for (int k = 0; k < e.R * e.V; k++)
        e.acc[k] = mf_cg_entry_alloca(c, e.vt);
    LLVMValueRef last = NULL;
    if (e.wp) /* rows only: the rows above and below are skipped, as unpadded */
        e.xpad = mf_cg_pad_input_begin(c, g->cin / g->groups * g->h * e.wp, &last);
    if (e.phases) { /* the tiles' loads, the last one's padding lanes too */
        e.lp = phase_row_floats(c, g);
        e.xphase =
            mf_cg_pad_input_begin(c, g->cin / g->groups * phase_ring(g) * 2 * e.lp, &e.phase_last);
        e.phase_tags = mf_cg_entry_alloca(c, LLVMArrayType2(c->i64, (uint64_t)phase_ring(g)));
        e.phase_rowtab =
            mf_cg_entry_alloca(c, LLVMArrayType2(c->i64, (uint64_t)(g->cin / g->groups * g->kh)));
        for (int64_t k = 0; k < phase_ring(g); k++) { /* no row held */
            LLVMValueRef at = mf_cg_i64(c, k);
            LLVMBuildStore(c->B, mf_cg_i64(c, -1),
                           LLVMBuildGEP2(c->B, c->i64, e.phase_tags, &at, 1, ""));
        }
    }
    int64_t coutg = g->cout / g->groups, cing = g->cin / g->groups;
    int64_t nob = (coutg + e.R - 1) / e.R;
    int64_t nbatch = 1;
    for (int d = 0; d < g->nbd; d++)
        nbatch *= g->bshape[d];
    int64_t total = nbatch * g->groups * nob * g->oh;
    LLVMValueRef lo, hi;
    mf_cg_part_range(c, total, 1, &lo, &hi);
    mf_cg_loop items;
    mf_cg_loop_begin(c, &items, lo, hi);
    /* q: batch, group, block, row; with phase rows a row's blocks follow one another */
    int64_t dims[4] = {nbatch, g->groups, e.phases ? g->oh : nob, e.phases ? nob : g->oh};
    LLVMValueRef q[4];
    mf_cg_unravel(c, items.iv, 4, dims, q);
    if (e.phases) {
        LLVMValueRef oy = q[2];
        q[2] = q[3];
        q[3] = oy;
    }
    conv_item it;
    mf_cg_unravel(c, q[0], g->nbd, g->bshape, it.bcoord);
    LLVMValueRef xoff = LLVMBuildAdd(c->B, mf_cg_conv_batch_offset(c, g, it.bcoord, g->bx_stride),
                                     LLVMBuildMul(c->B, q[1], mf_cg_i64(c, cing * g->h * g->w), ""), "");
    it.xg = mf_cg_gep_as(c, g->x, xoff, g->xdt);
    if (e.xpad)
        mf_cg_pad_input(c, &(mf_cg_conv_geom){.cin = g->cin, .groups = g->groups, .h = g->h, .w = g->w, .pw = g->pw,
                                              .xdt = g->xdt},
                        it.xg, mf_cg_ix_madd(c, q[0], g->groups, q[1]), last, e.xpad, g->h, e.wp);
    /* packed blocks divide the channels (row_block): none overlaps */
    LLVMValueRef ocl0 = g->wblock ? mf_cg_ix_mulk(c, q[2], e.R) : mf_cg_tile_block_start(c, q[2], e.R, coutg, &e.skip);
    it.oc0 = LLVMBuildAdd(c->B, LLVMBuildMul(c->B, q[1], mf_cg_i64(c, coutg), ""), ocl0, "");
    LLVMValueRef woff = LLVMBuildAdd(c->B, mf_cg_conv_batch_offset(c, g, it.bcoord, g->bw_stride),
                                     LLVMBuildMul(c->B, it.oc0, mf_cg_i64(c, cing * g->kh * g->kw), ""), "");
    it.wg = mf_cg_gep(c, g->wt, woff);
    it.oy = q[3];
    it.iy0 = LLVMBuildSub(c->B, LLVMBuildMul(c->B, q[3], mf_cg_i64(c, g->sh), ""), mf_cg_i64(c, g->ph), "");
    if (e.phases)
        split_phase_rows(&e, it.xg, mf_cg_ix_madd(c, q[0], g->groups, q[1]), q[3]);
    emit_row(&e, &it, e.R);
    mf_cg_loop_end(c, &items, 1);
    return e.err;
}

/* The block in which this engine reads packed weights, 0 when it reads them plain: a
 * matmul whose rows are one tile wide (the Winograd GEMMs of 14x14 and 28x28 planes) uses
 * each weight for that one tile only, so its left operand is a stream: read plain, the R
 * rows of a block are R streams of K floats (1 KB at K = 256), too short and too many for
 * the hardware prefetchers (resnet18's 14x14 GEMMs moved 6 GB/s of a 17.8 GB/s host);
 * packed, every block's panel follows the previous one's, one stream.  The block divides
 * the rows, so no block overlaps the one before (as plain ones do) and no narrower last
 * block needs its own copy of the tile's code (that grew the compile by a sixth): the
 * largest divisor down to half the register tile's rows (256 rows on AVX-512: 16 of 24;
 * 128 rows of 49-pixel tiles: 4 of 6), else plain. */
static int64_t row_block(const mf_cg_ctx *c, const mf_cg_conv_geom *g)
{
    if (!g->is_matmul || g->groups != 1)
        return 0;
    conv_emit e = {.c = (mf_cg_ctx *)c, .g = g};
    choose_blocking(&e);
    if (g->ow > (int64_t)e.V * c->vw)
        return 0;
    for (int r = e.R; 2 * r >= e.R; r--)
        if (g->cout % r == 0)
            return r;
    return 0;
}

/* The value behind an anchor's input: views keep the layout and a widening cast from f16
 * is done by the engine's loads, so both are looked through. */
static const mf_value *anchor_source(const mf_node *n, int i)
{
    const mf_value *v = n->inputs[i];
    bool widen = mf_node_loads_half(n, i);
    while (v->producer && (mf_op_get(v->producer->op)->kind == MF_KIND_VIEW || (widen && mf_node_widens_half(v->producer))))
        v = v->producer->inputs[0];
    return v;
}

mf_dtype mf_cg_anchor_dtype(const mf_node *n, int i)
{
    return anchor_source(n, i)->type.dtype;
}

/* The anchor's own inputs must be graph inputs: its loads are the vector kernel's, not
 * the expression evaluator's. */
LLVMValueRef mf_cg_anchor_input(mf_cg_ctx *c, const mf_node *n, int i)
{
    const mf_value *v = anchor_source(n, i);
    int k = mf_cg_input_index(c->g, v);
    if (k < 0) {
        mf_error(MF_ERR_UNSUPPORTED, "codegen: input %d of node %d (%s) is computed in the subgraph; an anchor takes graph inputs only",
                 i, n->id, mf_op_get(n->op)->name);
        return NULL;
    }
    return c->in_ptr[k];
}

mf_cg_conv_geom mf_cg_conv_geom_of(const mf_node *n)
{
    const mf_type *xt = &n->inputs[0]->type, *wt = &n->inputs[1]->type, *ot = &n->outputs[0]->type;
    mf_conv2d_view v = mf_conv2d_of(n->op, n->attrs);
    mf_cg_conv_geom g = {
        .batch = xt->shape[0], .cin = xt->shape[1], .h = xt->shape[2], .w = xt->shape[3],
        .cout = wt->shape[0], .kh = wt->shape[2], .kw = wt->shape[3],
        .oh = ot->shape[2], .ow = ot->shape[3],
        .sh = v.stride[0], .sw = v.stride[1], .ph = v.padding[0], .pw = v.padding[1],
        .dh = v.dilation[0], .dw = v.dilation[1], .groups = v.groups,
        .nbd = 1, .wblock = v.packed,
    };
    g.bshape[0] = g.batch;
    g.bx_stride[0] = g.cin * g.h * g.w;
    g.bw_stride[0] = 0;
    return g;
}

/* The block of output channels in which the engine mf_cg_emit_conv picks reads packed
 * weights (the same choices, in the same order), 0 when it reads them plain. */
static int64_t engine_block(const mf_cg_ctx *c, const mf_cg_conv_geom *g)
{
    int mr, nv;
    bool oc_first = oc_fills_lanes(c, g);
    if (!oc_first && mf_cg_gemm_blocking(&c->shape, g, &mr, &nv))
        return g->groups == 1 ? mr : 0;
    if (mf_cg_dw_choose(c, g) || (!oc_first && plane_runs(c, g)))
        return 0;
    oc_plan pl;
    if (oc_choose(c, g, 1, &pl)) { /* blocks of whole vectors only: no lane past the group */
        int64_t bw = (int64_t)pl.RO * c->vw;
        return g->groups == 1 && g->cout % bw == 0 ? bw : 0;
    }
    return row_block(c, g);
}

int64_t mf_cg_conv_weight_block(const mf_cg_target_shape *shape, const mf_node *n)
{
    if (n->op == MF_OP_QCONV2D)
        return mf_cg_qconv_weight_block(shape, n);
    if ((n->op != MF_OP_CONV2D && n->op != MF_OP_MATMUL) || mf_type_numel(&n->outputs[0]->type) == 0 ||
        mf_node_mlu_limit(n))
        return 0;
    mf_cg_ctx c = {.shape = *shape, .vw = shape->lanes, .core_number = 1};
    mf_cg_conv_geom g = n->op == MF_OP_MATMUL ? mf_cg_matmul_geom(n) : mf_cg_conv_geom_of(n);
    g.wblock = 0;
    return engine_block(&c, &g);
}

mf_status mf_cg_lower_conv(mf_cg_ctx *c, const mf_node *n, int nepi, const mf_value *const *epi)
{
    const mf_type *ot = &n->outputs[0]->type;
    mf_cg_conv_geom g = mf_cg_conv_geom_of(n);
    g.x = mf_cg_anchor_input(c, n, 0);
    g.wt = mf_cg_anchor_input(c, n, 1);
    g.xdt = mf_cg_anchor_dtype(n, 0);
    if (n->ninputs > 2 && !(g.bias = mf_cg_anchor_input(c, n, 2)))
        return MF_ERR_UNSUPPORTED;
    if (!g.x || !g.wt)
        return MF_ERR_UNSUPPORTED;
    if (mf_type_numel(ot) == 0)
        return MF_OK;
    return mf_cg_emit_conv(c, &g, n->outputs[0], nepi, epi);
}
