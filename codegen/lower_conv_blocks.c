/* lower_conv_blocks.c — the blocked channel layout's ops (ops.def: to_blocks, from_blocks,
 * conv2d_blocks).  A tensor [N, H, C/B, W, B] holds one pixel's block of B channels in one
 * vector (B is the target's lanes in the graphs the blocked-layout pass makes; another width
 * lowers correctly, its epilogue lane by lane), so both conv engines keep channels in lanes:
 *  - a 1x1 conv (groups 1): tiles of P pixels of a row x RO vectors of output channels, the
 *    sums over every input channel in registers, each k step P broadcasts of the input and
 *    RO vector loads of the weights [Cout/B][Cin][B] (one stream a tile);
 *  - a depthwise conv: per row and channel block, chunks of P pixels, each tap one vector
 *    FMA a pixel from the tap's weight vector: no shuffles, and the border taps are left
 *    out at compile time but for the rows, checked at run time.
 * Work items are (image, output row, block of channel vectors), blocks innermost: a
 * partition's items are whole rows but for its ends, and a thread's rows of every channel
 * block are one stretch of memory (the layout's point: docs/benchmarks.md, 2026-12-06
 * 22:17-).  The epilogue (relu6, a residual add, ...) runs on each vector before its store.
 * to_blocks and from_blocks move a row of pixels at a time, a block of channels a vector. */
#include <stdlib.h>

#include "cg_internal.h"

#define BLOCKS_P_MAX 14 /* pixels a tile at most (a 14-pixel row is one) */

/* A 1x1 tile's weight vectors are streams that the first row's pass reads from memory (a
 * model's weights do not stay in L2 between runs) faster than the hardware prefetchers run
 * ahead: each k step fetches every stream's line this many bytes on.  In mobilenet_v2, one
 * core, alternated rounds: at 16 lanes its 7x7 layers 1.5-5 points of the peak faster, the
 * 14x14 and 28x28 ones unchanged (512 and 2048 bytes: less); haswell code 14x14 4-12 points,
 * 7x7 2-5, 28x28 2-4 (docs/benchmarks.md, 2026-12-07).  Weights that fit L1 are left alone
 * (28x28 32->192 at 16 lanes ran no faster). */
#define BLOCKS_PREFETCH_BYTES 1024

typedef struct blk_emit {
    mf_cg_ctx *c;
    const mf_value *core;
    int nepi;
    const mf_value *const *epi;
    LLVMTypeRef vt;
    LLVMValueRef x, w, bias;
    mf_dtype xdt, wdt, bdt; /* f32, or f16 where a widening cast was looked through */
    int64_t N, H, W, cb_in, OH, OW, cb_out, B;
    int64_t sh, sw, ph, pw, kh, kw;
    LLVMValueRef acc[MF_CG_TILE_MAX * 4];
    int64_t rows; /* output rows a 1x1 work item takes: several on planes narrower than a tile */
    /* the tile being emitted: weights at k, each pixel's input at k */
    LLVMValueRef wk, xpix[MF_CG_TILE_MAX];
    int64_t cin;
    bool prefetch; /* the weights' streams, BLOCKS_PREFETCH_BYTES ahead */
} blk_emit;

/* Pixels a tile and channel vectors of a 1x1 tile: RO x P accumulators, RO weight vectors and
 * a broadcast within the target's registers, scored by the pixels a row's chunks average
 * (AVX-512: 2 x 14 on 14- and 28-pixel rows, 3 x 7 on 7; AVX2: 1 x 14, 3 x 4 on 7). */
static void pointwise_tile(const mf_cg_ctx *c, int64_t ow, int64_t nvec, int *ro, int *p)
{
    int regs = c->shape.vregs - (c->shape.fma ? 1 : 2);
    double best = 0;
    for (int r = nvec < 4 ? (int)nvec : 4; r >= 1; r--) {
        int q = (regs - r) / r;
        q = q > BLOCKS_P_MAX ? BLOCKS_P_MAX : q;
        q = q > ow ? (int)ow : q;
        if (q < 1)
            continue;
        /* pixels a chunk on average: a 7-pixel row in chunks of 6 and 1 is 3.5 */
        int64_t chunks = (ow + q - 1) / q;
        double score = (double)r * (double)ow / (double)chunks;
        if (score > best) {
            best = score;
            *ro = r;
            *p = (int)((ow + chunks - 1) / chunks);
        }
    }
}

/* One k step of an R x V tile: the V weight vectors of input channel k held, each pixel's
 * input broadcast once (acc[j V + v] += x_j w_v). */
static void tile_step(blk_emit *e, int R, int V)
{
    mf_cg_ctx *c = e->c;
    LLVMValueRef w[MF_CG_TILE_MAX];
    for (int v = 0; v < V; v++)
        w[v] = mf_cg_load_f32_as(
            c, e->vt, mf_cg_gep_as(c, e->wk, mf_cg_i64(c, (int64_t)v * e->cin * e->B), e->wdt),
            NULL, e->wdt);
    for (int j = 0; j < R; j++) {
        LLVMValueRef x = mf_cg_vsplat_w(c, mf_cg_load_f32_as(c, c->f32, e->xpix[j], NULL, e->xdt),
                                        (unsigned)e->B);
        for (int v = 0; v < V; v++) {
            LLVMValueRef a = e->acc[j * V + v];
            LLVMBuildStore(c->B, mf_cg_fmuladd(c, w[v], x, LLVMBuildLoad2(c->B, e->vt, a, "")), a);
        }
    }
}

/* The tile's vectors at channel block ob + v and pixel p0 + j of the rows from oy (flattened:
 * row oy + (p0 + j) / OW), through the epilogue: as
 * vectors when a block is the target's vector, else lane by lane (a graph's blocks need not
 * be this target's: correct, not fast). */
static mf_status store_tile(blk_emit *e, LLVMValueRef n, LLVMValueRef oy, LLVMValueRef ob,
                            int64_t p0, int R, int V)
{
    mf_cg_ctx *c = e->c;
    bool whole = e->B == c->vw;
    LLVMValueRef bc[1] = {n};
    mf_cg_point *pt = mf_cg_conv_point(e->core, whole ? 4 : -1, whole ? (unsigned)c->vw : 1, 1, bc);
    if (!pt)
        return MF_ERR_NOMEM;
    mf_status err = MF_OK;
    for (int j = 0; j < R && !err; j++)
        for (int v = 0; v < V && !err; v++) {
            pt->coord[1] = mf_cg_ix_addk(c, oy, (p0 + j) / e->OW);
            pt->coord[2] = mf_cg_ix_addk(c, ob, v);
            pt->coord[3] = mf_cg_i64(c, (p0 + j) % e->OW);
            LLVMValueRef sums = LLVMBuildLoad2(c->B, e->vt, e->acc[j * V + v], "");
            for (int64_t l = 0; l < (whole ? 1 : e->B) && !err; l++) {
                pt->coord[4] = mf_cg_i64(c, l);
                pt->mask = NULL;
                pt->core_val =
                    whole ? sums : LLVMBuildExtractElement(c->B, sums, mf_cg_i64(c, l), "");
                pt->nmemo = 0;
                err = mf_cg_store_epilogue(c, pt, e->nepi, e->epi);
            }
        }
    free(pt);
    return err;
}

/* Accumulators of an R x V tile set to the bias of channel blocks ob .. ob + V - 1. */
static void init_acc(blk_emit *e, LLVMValueRef ob, int R, int V)
{
    mf_cg_ctx *c = e->c;
    for (int v = 0; v < V; v++) {
        LLVMValueRef b = LLVMConstNull(e->vt);
        if (e->bias)
            b = mf_cg_load_f32_as(
                c, e->vt,
                mf_cg_gep_as(c, e->bias, mf_cg_ix_mulk(c, mf_cg_ix_addk(c, ob, v), e->B), e->bdt),
                NULL, e->bdt);
        for (int j = 0; j < R; j++)
            LLVMBuildStore(c->B, b, e->acc[j * V + v]);
    }
}

/* The 1x1 tile of R pixels from p0 of the rows from oy (flattened, as store_tile's), V channel
 * vectors from block ob. */
static mf_status pointwise_chunk(blk_emit *e, LLVMValueRef n, LLVMValueRef oy, LLVMValueRef ob,
                                 int64_t p0, int R, int V)
{
    mf_cg_ctx *c = e->c;
    init_acc(e, ob, R, V);
    /* input pixel (y, x) of channel block cb, lane l: ((n H + y) Cb + cb) W B + x B + l */
    LLVMValueRef first = mf_cg_ix_madd(c, n, e->H, oy);
    LLVMValueRef wpanel = mf_cg_gep_as(c, e->w, mf_cg_ix_mulk(c, ob, e->cin * e->B), e->wdt);
    mf_cg_loop cb, l;
    mf_cg_loop_begin(c, &cb, mf_cg_i64(c, 0), mf_cg_i64(c, e->cb_in));
    LLVMValueRef wb = mf_cg_gep_as(c, wpanel, mf_cg_ix_mulk(c, cb.iv, e->B * e->B), e->wdt);
    int64_t r0 = p0 / e->OW, r1 = (p0 + R - 1) / e->OW; /* the rows the tile touches */
    LLVMValueRef rowp[MF_CG_TILE_MAX];
    for (int64_t r = r0; r <= r1; r++)
        rowp[r - r0] = mf_cg_gep_as(
            c, e->x,
            mf_cg_ix_mulk(
                c, mf_cg_ix_add(c, mf_cg_ix_mulk(c, mf_cg_ix_addk(c, first, r), e->cb_in), cb.iv),
                e->W * e->B),
            e->xdt);
    mf_cg_loop_begin(c, &l, mf_cg_i64(c, 0), mf_cg_i64(c, e->B));
    for (int j = 0; j < R; j++) {
        int64_t p = p0 + j;
        e->xpix[j] = mf_cg_gep_as(c, rowp[p / e->OW - r0],
                                  mf_cg_ix_addk(c, l.iv, (p % e->OW) * e->B), e->xdt);
    }
    e->wk = mf_cg_gep_as(c, wb, mf_cg_ix_mulk(c, l.iv, e->B), e->wdt);
    int64_t ahead = BLOCKS_PREFETCH_BYTES / (int64_t)mf_dtype_size(e->wdt);
    for (int v = 0; e->prefetch && v < V; v++) { /* a plain GEP: past the weights, a hint */
        LLVMValueRef at = mf_cg_i64(c, v * e->cin * e->B + ahead);
        mf_cg_prefetch(c, mf_cg_gep_as(c, e->wk, at, e->wdt), 3);
    }
    tile_step(e, R, V);
    mf_cg_loop_end(c, &l, 1);
    mf_cg_loop_end_scalar(c, &cb, 1);
    return store_tile(e, n, oy, ob, p0, R, V);
}

/* The depthwise chunk of R pixels from ox of row oy in channel block ob. */
static mf_status depthwise_chunk(blk_emit *e, LLVMValueRef n, LLVMValueRef oy, LLVMValueRef ob,
                                 int64_t ox, int R)
{
    mf_cg_ctx *c = e->c;
    init_acc(e, ob, R, 1);
    LLVMValueRef iy0 = mf_cg_ix_subk(c, mf_cg_ix_mulk(c, oy, e->sh), e->ph);
    for (int64_t ky = 0; ky < e->kh; ky++) {
        LLVMValueRef iy = mf_cg_ix_addk(c, iy0, ky);
        LLVMValueRef inside =
            LLVMBuildAnd(c->B, LLVMBuildICmp(c->B, LLVMIntSGE, iy, mf_cg_i64(c, 0), ""),
                         LLVMBuildICmp(c->B, LLVMIntSLT, iy, mf_cg_i64(c, e->H), ""), "");
        LLVMBasicBlockRef taps = LLVMAppendBasicBlockInContext(c->C, c->body, "taps");
        LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(c->C, c->body, "nexttaps");
        LLVMBuildCondBr(c->B, inside, taps, next);
        LLVMPositionBuilderAtEnd(c->B, taps);
        /* pixel (iy, ix) of block ob: ((n H + iy) Cb + ob) W B + ix B */
        LLVMValueRef row = mf_cg_gep_as(
            c, e->x,
            mf_cg_ix_mulk(
                c, mf_cg_ix_add(c, mf_cg_ix_mulk(c, mf_cg_ix_madd(c, n, e->H, iy), e->cb_in), ob),
                e->W * e->B),
            e->xdt);
        for (int64_t kx = 0; kx < e->kw; kx++) {
            LLVMValueRef tap =
                mf_cg_ix_addk(c, mf_cg_ix_mulk(c, ob, e->kh * e->kw), ky * e->kw + kx);
            LLVMValueRef wv = mf_cg_load_f32_as(
                c, e->vt, mf_cg_gep_as(c, e->w, mf_cg_ix_mulk(c, tap, e->B), e->wdt), NULL, e->wdt);
            for (int j = 0; j < R; j++) {
                int64_t ix = (ox + j) * e->sw + kx - e->pw;
                if (ix < 0 || ix >= e->W)
                    continue; /* padding: no tap */
                LLVMValueRef xv = mf_cg_load_f32_as(
                    c, e->vt, mf_cg_gep_as(c, row, mf_cg_i64(c, ix * e->B), e->xdt), NULL, e->xdt);
                LLVMValueRef a = LLVMBuildLoad2(c->B, e->vt, e->acc[j], "");
                LLVMBuildStore(c->B, mf_cg_fmuladd(c, wv, xv, a), e->acc[j]);
            }
        }
        LLVMBuildBr(c->B, next);
        LLVMPositionBuilderAtEnd(c->B, next);
    }
    return store_tile(e, n, oy, ob, ox, R, 1); /* one row: pixel ox of row oy */
}

/* The chunks of P pixels of rr rows from oy (a 1x1 item's rows, or a depthwise item's one) for
 * V channel vectors from block ob. */
static mf_status emit_rows(blk_emit *e, bool pointwise, LLVMValueRef n, LLVMValueRef oy,
                           LLVMValueRef ob, int64_t rr, int P, int V)
{
    mf_status err = MF_OK;
    for (int64_t p0 = 0; p0 < rr * e->OW && !err; p0 += P) {
        int R = (int)(rr * e->OW - p0 < P ? rr * e->OW - p0 : P);
        err = pointwise ? pointwise_chunk(e, n, oy, ob, p0, R, V)
                        : depthwise_chunk(e, n, oy, ob, p0, R);
    }
    return err;
}

/* body(e, full) if cond, else body(e, other): two copies of the code, chosen at run time. */
static mf_status either(blk_emit *e, LLVMValueRef cond, const char *name,
                        mf_status (*body)(blk_emit *, void *, bool), void *arg)
{
    mf_cg_ctx *c = e->c;
    LLVMBasicBlockRef yes = LLVMAppendBasicBlockInContext(c->C, c->body, name);
    LLVMBasicBlockRef no = LLVMAppendBasicBlockInContext(c->C, c->body, "else");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(c->C, c->body, "join");
    LLVMBuildCondBr(c->B, cond, yes, no);
    LLVMPositionBuilderAtEnd(c->B, yes);
    mf_status err = body(e, arg, true);
    LLVMBuildBr(c->B, join);
    LLVMPositionBuilderAtEnd(c->B, no);
    if (!err)
        err = body(e, arg, false);
    LLVMBuildBr(c->B, join);
    LLVMPositionBuilderAtEnd(c->B, join);
    return err;
}

/* An item's code: its rows (the last group may have fewer), its channel vectors (the last
 * block may have fewer). */
typedef struct item_code {
    bool pointwise;
    LLVMValueRef n, group, oy, obt, ob;
    int64_t ngroups, rlast, nobt, rtail;
    int ro, P, V;
} item_code;

static mf_status item_rows(blk_emit *e, void *arg, bool last)
{
    item_code *it = arg;
    return emit_rows(e, it->pointwise, it->n, it->oy, it->ob, last ? it->rlast : e->rows, it->P,
                     it->V);
}

static mf_status item_vectors(blk_emit *e, void *arg, bool tail)
{
    item_code *it = arg;
    it->V = tail ? (int)it->rtail : it->ro;
    if (it->rlast == e->rows)
        return item_rows(e, it, false);
    return either(
        e, LLVMBuildICmp(e->c->B, LLVMIntEQ, it->group, mf_cg_i64(e->c, it->ngroups - 1), ""),
        "lastrows", item_rows, it);
}

static mf_status lower_conv_blocks_items(blk_emit *e, bool pointwise)
{
    mf_cg_ctx *c = e->c;
    item_code it = {.pointwise = pointwise, .ro = 1, .P = 1};
    /* a 1x1 item takes several rows of a plane narrower than a tile where the registers hold
     * tiles of two channel vectors and 14 pixels (7x7 at 16 lanes: rows in pairs, so a tile's
     * weight vectors, streamed from L2, serve 14 pixels: the 7x7 layers at 70-73 % of the peak
     * against 62-64 % a row at a time); with 16 registers a row (haswell code: two-row tiles
     * of 1 x 14 were no faster in the one run measured: mobilenet_v2 at 7.31 ms against
     * 6.67-6.91 for 3 x 4 tiles a row before) */
    e->rows = pointwise && e->OW < BLOCKS_P_MAX && c->shape.vregs >= 32 ? BLOCKS_P_MAX / e->OW : 1;
    e->rows = e->rows < e->OH ? e->rows : e->OH;
    if (pointwise)
        pointwise_tile(c, e->rows * e->OW, e->cb_out, &it.ro, &it.P);
    else /* P sums, a weight and an input vector in registers */
        it.P = (int)(e->OW < BLOCKS_P_MAX ? e->OW : BLOCKS_P_MAX);
    if (!pointwise && it.P > c->shape.vregs - 4)
        it.P = c->shape.vregs - 4;
    if ((int64_t)it.ro * it.P > (int64_t)(sizeof e->acc / sizeof *e->acc))
        return mf_error(MF_ERR_UNSUPPORTED, "codegen: conv2d_blocks tile of %d x %d is too large",
                        it.ro, it.P);
    for (int k = 0; k < it.ro * it.P; k++)
        e->acc[k] = mf_cg_entry_alloca(c, e->vt);
    it.nobt = (e->cb_out + it.ro - 1) / it.ro;
    it.rtail = e->cb_out - (it.nobt - 1) * it.ro;
    it.ngroups = (e->OH + e->rows - 1) / e->rows;
    it.rlast = e->OH - (it.ngroups - 1) * e->rows;
    LLVMValueRef lo, hi, q[3];
    mf_cg_part_range(c, e->N * it.ngroups * it.nobt, 1, &lo, &hi);
    mf_cg_loop items;
    mf_cg_loop_begin(c, &items, lo, hi);
    mf_cg_unravel(c, items.iv, 3, (int64_t[]){e->N, it.ngroups, it.nobt}, q);
    it.n = q[0], it.group = q[1], it.obt = q[2];
    it.oy = mf_cg_ix_mulk(c, q[1], e->rows);
    it.ob = mf_cg_ix_mulk(c, q[2], it.ro);
    mf_status err =
        it.rtail == it.ro
            ? item_vectors(e, &it, false)
            : either(e, LLVMBuildICmp(c->B, LLVMIntEQ, q[2], mf_cg_i64(c, it.nobt - 1), ""),
                     "tailblock", item_vectors, &it);
    mf_cg_loop_end_scalar(c, &items, 1);
    return err;
}

mf_status mf_cg_lower_conv2d_blocks(mf_cg_ctx *c, const mf_node *n, int nepi,
                                    const mf_value *const *epi)
{
    const mf_type *xt = &n->inputs[0]->type, *wt = &n->inputs[1]->type, *ot = &n->outputs[0]->type;
    const int64_t *st = mf_attr_get(n->op, n->attrs, "stride")->ints;
    const int64_t *pad = mf_attr_get(n->op, n->attrs, "padding")->ints;
    bool pointwise = wt->rank == 3;
    blk_emit e = {.c = c,
                  .core = n->outputs[0],
                  .nepi = nepi,
                  .epi = epi,
                  .N = xt->shape[0],
                  .H = xt->shape[1],
                  .cb_in = xt->shape[2],
                  .W = xt->shape[3],
                  .B = xt->shape[4],
                  .OH = ot->shape[1],
                  .cb_out = ot->shape[2],
                  .OW = ot->shape[3],
                  .sh = st[0],
                  .sw = st[1],
                  .ph = pad[0],
                  .pw = pad[1],
                  .kh = pointwise ? 1 : wt->shape[1],
                  .kw = pointwise ? 1 : wt->shape[2]};
    e.vt = LLVMVectorType(c->f32, (unsigned)e.B);
    e.cin = e.cb_in * e.B;
    e.xdt = mf_cg_anchor_dtype(n, 0);
    e.wdt = mf_cg_anchor_dtype(n, 1);
    e.prefetch = pointwise && e.cin * e.cb_out * e.B * (int64_t)mf_dtype_size(e.wdt) > c->shape.l1d;
    e.bdt = n->ninputs > 2 ? mf_cg_anchor_dtype(n, 2) : MF_F32;
    e.x = mf_cg_anchor_input(c, n, 0);
    e.w = mf_cg_anchor_input(c, n, 1);
    if (!e.x || !e.w || (n->ninputs > 2 && !(e.bias = mf_cg_anchor_input(c, n, 2))))
        return MF_ERR_UNSUPPORTED;
    if (mf_type_numel(ot) == 0)
        return MF_OK;
    return lower_conv_blocks_items(&e, pointwise);
}

/* to_blocks: per (image, row), every block of channels a vector at a time, gathered from
 * the B planes; from_blocks: each vector's lanes to their planes. */
static mf_status lower_reblock(mf_cg_ctx *c, const mf_node *n, bool to)
{
    const mf_type *bt = to ? &n->outputs[0]->type : &n->inputs[0]->type;
    int64_t N = bt->shape[0], H = bt->shape[1], CB = bt->shape[2], W = bt->shape[3],
            B = bt->shape[4];
    mf_dtype xdt = mf_cg_anchor_dtype(n, 0);
    LLVMValueRef x = mf_cg_anchor_input(c, n, 0);
    int oi = mf_cg_output_index(c->g, n->outputs[0]);
    if (!x || oi < 0)
        return MF_ERR_UNSUPPORTED;
    if (mf_type_numel(bt) == 0)
        return MF_OK;
    LLVMValueRef out = c->out_ptr[oi];
    LLVMTypeRef vt = LLVMVectorType(c->f32, (unsigned)B);
    LLVMValueRef *offs = malloc(sizeof *offs * (size_t)B), *all = malloc(sizeof *all * (size_t)B);
    if (!offs || !all) {
        free(offs), free(all);
        return mf_error(MF_ERR_NOMEM, "codegen: out of memory");
    }
    for (int64_t l = 0; l < B; l++) {
        offs[l] = mf_cg_i64(c, l * H * W);
        all[l] = LLVMConstInt(c->i1, 1, 0);
    }
    LLVMValueRef lanes = LLVMConstVector(offs, (unsigned)B),
                 mask = LLVMConstVector(all, (unsigned)B);
    free(offs), free(all);
    LLVMValueRef lo, hi, q[2];
    mf_cg_part_range(c, N * H, 1, &lo, &hi);
    mf_cg_loop items, cb, w;
    mf_cg_loop_begin(c, &items, lo, hi);
    mf_cg_unravel(c, items.iv, 2, (int64_t[]){N, H}, q);
    mf_cg_loop_begin(c, &cb, mf_cg_i64(c, 0), mf_cg_i64(c, CB));
    mf_cg_loop_begin(c, &w, mf_cg_i64(c, 0), mf_cg_i64(c, W));
    /* blocked: (((n H + h) CB + cb) W + w) B; planes: ((n CB + cb) B H + h) W + w, lane l + l H W
     */
    LLVMValueRef bat = mf_cg_ix_mulk(
        c,
        mf_cg_ix_add(c, mf_cg_ix_mulk(c, mf_cg_ix_add(c, mf_cg_ix_mulk(c, items.iv, CB), cb.iv), W),
                     w.iv),
        B);
    LLVMValueRef pat = mf_cg_ix_add(
        c,
        mf_cg_ix_mulk(
            c, mf_cg_ix_add(c, mf_cg_ix_mulk(c, mf_cg_ix_madd(c, q[0], CB, cb.iv), B * H), q[1]),
            W),
        w.iv);
    if (to) {
        LLVMValueRef ptrs = mf_cg_gep_as(c, mf_cg_gep_as(c, x, pat, xdt), lanes, xdt);
        LLVMValueRef v = mf_cg_gather_f32_as(c, vt, ptrs, mask, xdt);
        LLVMSetAlignment(LLVMBuildStore(c->B, v, mf_cg_gep(c, out, bat)), 4);
    } else {
        LLVMValueRef v = mf_cg_load_f32_as(c, vt, mf_cg_gep_as(c, x, bat, xdt), NULL, xdt);
        LLVMValueRef dst = mf_cg_gep(c, out, pat);
        for (int64_t l = 0; l < B; l++)
            LLVMBuildStore(c->B, LLVMBuildExtractElement(c->B, v, mf_cg_i64(c, l), ""),
                           mf_cg_gep(c, dst, mf_cg_i64(c, l * H * W)));
    }
    mf_cg_loop_end_scalar(c, &w, 1);
    mf_cg_loop_end_scalar(c, &cb, 1);
    mf_cg_loop_end_scalar(c, &items, 1);
    return MF_OK;
}

mf_status mf_cg_lower_to_blocks(mf_cg_ctx *c, const mf_node *n, int nepi,
                                const mf_value *const *epi)
{
    (void)nepi, (void)epi; /* mf_op_takes_epilogue: none */
    return lower_reblock(c, n, true);
}

mf_status mf_cg_lower_from_blocks(mf_cg_ctx *c, const mf_node *n, int nepi,
                                  const mf_value *const *epi)
{
    (void)nepi, (void)epi;
    return lower_reblock(c, n, false);
}
