/* lower_conv_gemm.c — 1x1 convolutions without padding as a GEMM: out[oc, p] = sum over ic
 * of w[oc, ic] * x[ic, p], with the pixels p of the whole plane flattened, so a tile never
 * straddles a row end (a 28-pixel row no longer fills 32 lanes); also matmuls with long rows
 * (GEMM_MATMUL_MIN_VECTORS).  A strided layer first
 * gathers its chunk's pixels (every sw-th column of every sh-th row) into a stack panel laid
 * out as stride 1 lays out the plane, once per chunk and partition: the same microkernel
 * then reads the panel (resnet18's 1x1 stride-2 downsample ran at 41 % of the AVX2 peak on
 * the output-channel engine); compiled for several cores, a chunk is at most a partition's
 * share of the tiles, so that a partition gathers about the pixels it computes, not the
 * whole plane.  The
 * microkernel holds MR output channels x NV vectors of the target's lanes in registers
 * (MR*NV accumulators, NV loads and one broadcast: MR and NV from its register count), and
 * runs the whole K loop on them before the epilogue.  Work items are (batch, group, chunk of
 * pixels, block of MR channels): the chunk's K x pixels of input are sized to stay in L2
 * while every channel block sweeps it (a projection compiled for several cores gets chunks of one
 * tile, so a partition's items are a stretch of pixels and no thread reads the whole input:
 * mf_cg_gemm_split_pixels), each block's MR x K weight panel stays in L1 over
 * the chunk's tiles (the engine depends on the geometry and the target alone, so a pass can
 * prepack its weights).  The weight panel is read by broadcasts, either from the plain [oc][ic]
 * layout (MR rows) or, when the graph prepacked it (conv2d's or matmul's `packed` attribute),
 * from [block][ic][MR] (one contiguous stream).  The epilogue runs on the flattened plane when
 * what it reads flattens too, else pixel by pixel; a matmul's at its output's own dims. */
#include <stdlib.h>

#include "cg_internal.h"

#define GEMM_MR_MAX MF_CG_PANEL_MR_MAX
#define GEMM_NV_MAX MF_CG_PANEL_NV_MAX

typedef struct gemm_plan {
    int MR, NV;
    int64_t N, NR;     /* pixels of a plane, pixels per tile (NV * vw) */
    int64_t ntile, chunk, nchunk, nmb; /* tiles; tiles per chunk; chunks; channel blocks */
    int64_t nfull;     /* whole tiles (ntile - 1 when the last is partial) */
    int64_t PK;        /* strided: floats of the panel per input channel (whole output rows), else 0 */
} gemm_plan;

#define GEMM_MAX_STRIDE 4 /* the gather's wide loads: stride x vw lanes */

/* A matmul [.., M, K] x [.., K, N] is a 1x1 layer of K -> M channels on N pixels, each batch
 * its own weights (bw_stride), so this engine runs one whose rows are long: resnet18's 56x56
 * Winograd GEMMs (N = 196) 0.49-0.56 -> 0.45-0.47 ms each in the model at 16 lanes, 0.68-0.77
 * -> 0.62-0.72 at 8 (the direct-convolution engine's rows read the right operand again for
 * every block of rows).  Shorter rows stay there: its one-tile rows stream the packed left
 * operand with its prefetches (the 14x14 GEMMs, N = 16, 0.66-0.70 ms there against
 * 1.13-1.17 here; the 28x28 ones, N = 49, 0.47 against 0.49-0.50, at 8 lanes 0.70 against
 * 0.74-0.82). */
#define GEMM_MATMUL_MIN_VECTORS 8

static bool strided(const mf_cg_conv_geom *g)
{
    return g->sh != 1 || g->sw != 1;
}

/* The tiling of the plane for a tile of mr x nv vectors: the chunk's input (K x pixels) in
 * half of L2; for a strided layer, the panel rows that a chunk's pixels can span. */
static void plan_tiles(const mf_cg_target_shape *s, const mf_cg_conv_geom *g, int mr, int nv, int parts,
                       gemm_plan *pl)
{
    int64_t coutg = g->cout / g->groups, cing = g->cin / g->groups;
    pl->MR = mr, pl->NV = nv;
    pl->N = g->oh * g->ow;
    pl->NR = (int64_t)nv * s->lanes;
    pl->ntile = (pl->N + pl->NR - 1) / pl->NR;
    pl->nfull = pl->N / pl->NR;
    pl->chunk = s->l2 / 2 / (cing * pl->NR * 4);
    /* a strided layer: a chunk a partition at most, so that each gathers only the pixels it
     * computes (a plane in one chunk had every partition gather the whole of it: 56x56
     * 64->128 stride 2 ran 1.1x as fast on two cores as on one) */
    if (strided(g) && parts > 1 && pl->chunk > (pl->ntile + parts - 1) / parts)
        pl->chunk = (pl->ntile + parts - 1) / parts;
    if (pl->chunk < 1)
        pl->chunk = 1;
    if (pl->chunk > pl->ntile)
        pl->chunk = pl->ntile;
    pl->nchunk = (pl->ntile + pl->chunk - 1) / pl->chunk;
    /* chunks of equal tiles: a partition's items then cost the same (196 tiles in chunks of
     * 128 and 68 left two of four partitions with half the work) */
    pl->chunk = (pl->ntile + pl->nchunk - 1) / pl->nchunk;
    pl->nmb = (coutg + pl->MR - 1) / pl->MR;
    /* a projection whose plane is one chunk: items of one tile (and a block of channels),
     * so a partition's items are a stretch of pixels, not blocks of channels (each of which
     * read the whole input, half of it from the other core's cache; mf_cg_gemm_split_pixels).
     * Tiles, not a chunk of them a partition: the partial tile costs about a full one (a
     * 4-pixel tail of 14x14's 196 on 2-vector tiles took 20 us of a 576->96 partition's 57,
     * the partition that also had 2 full tiles against its neighbours' 1), and the items
     * (tile, block) share out evenly: 7 x 8 of 576->96 are 14 a partition. */
    const int64_t nfull = pl->nfull;
    if (!strided(g) && mf_cg_gemm_split_pixels(cing, coutg, pl->N, nfull, pl->nchunk, parts)) {
        pl->nchunk = pl->ntile;
        pl->chunk = 1;
    }
    pl->PK = 0;
    if (strided(g)) { /* L pixels from any column span at most (L + 2 ow - 2) / ow rows */
        int64_t most =
            pl->chunk == 1 ? 1 : (nfull + pl->nchunk - 1) / pl->nchunk + (nfull < pl->ntile);
        int64_t rows = (most * pl->NR + 2 * g->ow - 2) / g->ow;
        pl->PK = (rows < g->oh ? rows : g->oh) * g->ow;
    }
}

/* Lanes that hold pixels, over the tiles of N pixels at NV vectors per tile. */
static double lane_use(int64_t N, int64_t nr)
{
    return (double)N / (double)((N + nr - 1) / nr * nr);
}

bool mf_cg_gemm_blocking(const mf_cg_target_shape *s, const mf_cg_conv_geom *g, int *mr, int *nv)
{
    if ((g->is_matmul && g->ow < GEMM_MATMUL_MIN_VECTORS * s->lanes) || g->kh != 1 || g->kw != 1 ||
        g->ph != 0 || g->pw != 0 || !mf_cg_gathers_strided(g) ||
        (!strided(g) && (g->oh != g->h || g->ow != g->w)) || g->oh * g->ow < s->lanes)
        return false;
    int64_t coutg = g->cout / g->groups, N = g->oh * g->ow;
    double best = -1;
    for (int n = GEMM_NV_MAX; n >= 1; n--) {
        /* the NV inputs held across the MR broadcasts: on AVX2 this 6x2 (56x56 64->64) ran
         * at 82-85 % of the peak where mf_cg_tile_accs' 3x4 ran at 72-78 % */
        int acc = s->vregs - (n + 1) - (s->fma ? 1 : 2);
        int m = (acc > 24 ? 24 : acc) / n;
        if (m > GEMM_MR_MAX)
            m = GEMM_MR_MAX;
        if (m > coutg)
            m = (int)coutg;
        if (m < 1)
            continue;
        /* FMAs per load, times the share of lanes that hold pixels, of the FMA pipes the
         * input rows from L2 can feed, and of the blocks' rows that hold channels (a tail
         * block is one more copy of the tile's code: 12 x 2 on 32 channels, 12 + 12 + 8,
         * grew the kernel by a third over 8 x 3's four blocks) */
        int64_t nb = (coutg + m - 1) / m;
        double score = (double)m * n / (m + n) * lane_use(N, (int64_t)n * s->lanes) * mf_cg_tile_l2_feed(s, m, n) *
                       ((double)coutg / (double)(nb * m));
        if (score > best + 1e-9) {
            best = score;
            *mr = m;
            *nv = n;
        }
    }
    if (best <= 0)
        return false;
    if (!strided(g))
        return true;
    /* the panel lives on the stack: at most L2 (it is sized for half of it but for whole
     * rows; very wide rows with long K would not fit) */
    gemm_plan pl;
    plan_tiles(s, g, *mr, *nv, 1, &pl);
    return (pl.PK * (g->cin / g->groups) + s->lanes) * 4 <= s->l2;
}

static void plan_for(const mf_cg_ctx *c, const mf_cg_conv_geom *g, gemm_plan *pl)
{
    int mr, nv;
    mf_cg_gemm_blocking(&c->shape, g, &mr, &nv);
    plan_tiles(&c->shape, g, mr, nv, c->core_number, pl);
}

typedef struct gemm_emit {
    mf_cg_ctx *c;
    const mf_cg_conv_geom *g;
    gemm_plan pl;
    bool packed, flat; /* flat: the epilogue runs on the flattened plane */
    const mf_value *core;
    int nepi;
    const mf_value *const *epi;
    LLVMTypeRef vt;
    int64_t cing, coutg;
    LLVMValueRef acc[GEMM_MR_MAX * GEMM_NV_MAX];
    LLVMValueRef spill; /* the tile's sums when the epilogue does not flatten */
    /* what the tiles read: input channel k's pixel p at xsrc + k * xk + p - pbase (stride 1:
     * the plane, pbase 0; strided: the panel, pbase its first row's first pixel); pend: the
     * pixels' end (NULL: the plane's) */
    LLVMValueRef xsrc, pbase, pend;
    int64_t xk;
    mf_dtype xdt;
    /* the work item */
    LLVMValueRef bcoord[MF_MAX_RANK], xg, wpanel, oc0;
} gemm_emit;

/* Mask of the lanes of vector v of the tile at pixel p0 that hold pixels (compile time);
 * NULL: all of them. */
static LLVMValueRef tail_mask(gemm_emit *e, int64_t p0, int v)
{
    mf_cg_ctx *c = e->c;
    int64_t first = p0 + (int64_t)v * c->vw;
    if (first + c->vw <= e->pl.N)
        return NULL;
    LLVMValueRef bits[MF_CG_MAX_VW];
    for (int l = 0; l < c->vw; l++)
        bits[l] = LLVMConstInt(c->i1, first + l < e->pl.N, 0);
    return LLVMConstVector(bits, (unsigned)c->vw);
}

/* The operands of one k step of a tile (mf_cg_tile_fmas). */
typedef struct gemm_step {
    gemm_emit *e;
    int R;
    LLVMValueRef xrow, wk;
    LLVMValueRef *masks;
} gemm_step;

static LLVMValueRef step_x(void *ctx, int v)
{
    gemm_step *s = ctx;
    mf_cg_ctx *c = s->e->c;
    LLVMValueRef ptr = mf_cg_gep_as(c, s->xrow, mf_cg_i64(c, (int64_t)v * c->vw), s->e->xdt);
    return mf_cg_load_f32_as(c, s->e->vt, ptr, s->masks[v], s->e->xdt);
}

/* packed: panel[k][MR] (a block's MR weights of one k side by side); plain: w[oc][k] */
static LLVMValueRef step_w(void *ctx, int j)
{
    gemm_step *s = ctx;
    mf_cg_ctx *c = s->e->c;
    LLVMValueRef wp = mf_cg_gep(c, s->wk, mf_cg_i64(c, s->e->packed ? j : j * s->e->cing));
    return mf_cg_vsplat(c, LLVMBuildLoad2(c->B, c->f32, wp, ""));
}

/* Input rows further apart than the L1's stride prefetcher follows (2 KB on Intel cores
 * since Sandy Bridge) are fetched GEMM_PREFETCH_ROWS k steps ahead, a line at a time, for a
 * tile's full K loop only when K holds four times as many: 56x56 144->24 at 16 lanes went
 * from 0.183 to 0.134 ms (best of four interleaved rounds; docs/benchmarks.md); short K
 * loops (16->96; 32->16 as x86-64 code, 0.425 -> 0.561 ms) mostly fetched rows past the tile's.
 * A stride-1 plane's rows closer than that are fetched too: on two cores its input was mostly
 * written by the other core's depthwise layer, and the prefetcher does not hide those misses
 * (14x14 576->96 with the input split over both cores' caches: the slower thread 87-92 ->
 * 77-78 us, one thread 0.106 -> 0.101 ms); a strided layer's panel was just gathered, a fused
 * engine's panel (mf_cg_gemm_panel) just written. */
#define GEMM_PREFETCH_ROWS 16
#define GEMM_PREFETCH_STRIDE 2048

static void prefetch_rows(gemm_emit *e, LLVMValueRef xrow, int NV)
{
    mf_cg_ctx *c = e->c;
    if (e->xdt != MF_F32 || e->cing < 4 * GEMM_PREFETCH_ROWS ||
        (e->pbase && (e->pend || e->xk * 4 <= GEMM_PREFETCH_STRIDE)))
        return;
    for (int64_t off = 0; off < (int64_t)NV * c->vw; off += 16) { /* a 64-byte line at a time; a
                                                                     * plain GEP: past the last row
                                                                     * it is only a hint */
        LLVMValueRef idx = mf_cg_i64(c, GEMM_PREFETCH_ROWS * e->xk + off);
        mf_cg_prefetch(c, LLVMBuildGEP2(c->B, c->f32, xrow, &idx, 1, ""), 3);
    }
}

/* The sums of R channels x NV vectors of the tile at pixel p over every input channel;
 * masks[v]: the lanes of vector v that hold pixels (NULL: all); once: the tile runs once a
 * stretch of pixels (a last tile masked at run time), its K loop left rolled. */
static void accumulate(gemm_emit *e, int R, int NV, LLVMValueRef p, LLVMValueRef *masks, bool once)
{
    mf_cg_ctx *c = e->c;
    mf_cg_acc_init_bias(c, e->vt, R, NV, e->g->bias, e->oc0, e->acc);
    mf_cg_loop kl;
    mf_cg_loop_begin(c, &kl, mf_cg_i64(c, 0), mf_cg_i64(c, e->cing));
    LLVMValueRef at = e->pbase ? mf_cg_ix_sub(c, p, e->pbase) : p;
    gemm_step st = {e, R, mf_cg_gep_as(c, e->xsrc, mf_cg_ix_add(c, mf_cg_ix_mulk(c, kl.iv, e->xk), at), e->xdt),
                    e->packed ? mf_cg_gep(c, e->wpanel, mf_cg_ix_mulk(c, kl.iv, R)) : mf_cg_gep(c, e->wpanel, kl.iv),
                    masks};
    if (R == e->pl.MR && NV == e->pl.NV)
        prefetch_rows(e, st.xrow, NV);
    mf_cg_tile_fmas(c, R, NV, e->acc, step_w, step_x, &st);
    /* the tail block's and the last tile's loops run once per item or chunk (a panel's last
     * tile once per stretch): unrolled they only cost compile time */
    if (R == e->pl.MR && NV == e->pl.NV && !once)
        mf_cg_loop_end(c, &kl, 1);
    else
        mf_cg_loop_end_scalar(c, &kl, 1);
}

/* The epilogue of the tile's sums (the bias is in them already): a conv's on the flattened
 * plane, the point's loop dims (batch, channel, pixel), the pixel reading the strides of the
 * output's last dim; a matmul's at the output's own dims [batch..., M, N]. */
static mf_status finish_flat(gemm_emit *e, int R, int NV, LLVMValueRef p, LLVMValueRef *masks)
{
    mf_cg_ctx *c = e->c;
    const mf_cg_conv_geom *g = e->g;
    const int cdim = g->is_matmul ? g->nbd : 1, pdim = cdim + 1; /* matmul: [batch..., M, N] */
    mf_cg_point *pt = mf_cg_conv_point(e->core, pdim, (unsigned)c->vw, g->nbd, e->bcoord);
    if (!pt)
        return MF_ERR_NOMEM;
    if (!g->is_matmul) { /* the plane's rows and columns as one loop dim */
        pt->nloop = 3;
        pt->extent[2] = e->pl.N;
        pt->stride_of[2] = 3;
    }
    mf_status err = MF_OK;
    for (int j = 0; j < R && !err; j++) {
        pt->coord[cdim] = mf_cg_ix_addk(c, e->oc0, j);
        for (int v = 0; v < NV && !err; v++) {
            pt->coord[pdim] = mf_cg_ix_addk(c, p, (int64_t)v * c->vw);
            pt->mask = masks[v];
            pt->core_val = LLVMBuildLoad2(c->B, e->vt, e->acc[j * NV + v], "");
            pt->nmemo = 0;
            err = mf_cg_store_epilogue(c, pt, e->nepi, e->epi);
        }
    }
    free(pt);
    return err;
}

/* The same where a conv's epilogue reads something that does not flatten (broadcast along
 * rows but not columns, say): the sums go to a stack buffer and the epilogue runs pixel by
 * pixel at (row, column).  Rare, so simple.  Never a matmul's (flat: its own dims). */
static mf_status finish_by_pixel(gemm_emit *e, int R, int NV, LLVMValueRef p)
{
    mf_cg_ctx *c = e->c;
    const mf_cg_conv_geom *g = e->g;
    const int64_t nr = (int64_t)NV * c->vw;
    for (int j = 0; j < R; j++)
        for (int v = 0; v < NV; v++) {
            LLVMValueRef st = LLVMBuildStore(c->B, LLVMBuildLoad2(c->B, e->vt, e->acc[j * NV + v], ""),
                                             mf_cg_gep(c, e->spill, mf_cg_i64(c, j * nr + (int64_t)v * c->vw)));
            LLVMSetAlignment(st, 4);
        }
    mf_cg_point *pt = mf_cg_conv_point(e->core, -1, 1, g->nbd, e->bcoord);
    if (!pt)
        return MF_ERR_NOMEM;
    mf_cg_loop i;
    LLVMValueRef left = mf_cg_ix_sub(c, e->pend ? e->pend : mf_cg_i64(c, e->pl.N), p);
    LLVMValueRef n = mf_cg_ix_smink(c, left, nr);
    mf_cg_loop_begin(c, &i, mf_cg_i64(c, 0), n);
    LLVMValueRef pix = mf_cg_ix_add(c, p, i.iv);
    pt->coord[2] = mf_cg_ix_udivk(c, pix, g->ow);
    pt->coord[3] = LLVMBuildURem(c->B, pix, mf_cg_i64(c, g->ow), "");
    mf_status err = MF_OK;
    for (int j = 0; j < R && !err; j++) {
        pt->coord[1] = mf_cg_ix_addk(c, e->oc0, j);
        pt->core_val = LLVMBuildLoad2(c->B, c->f32, mf_cg_gep(c, e->spill, mf_cg_ix_addk(c, i.iv, j * nr)), "");
        pt->nmemo = 0;
        err = mf_cg_store_epilogue(c, pt, e->nepi, e->epi);
    }
    mf_cg_loop_end_scalar(c, &i, 1);
    free(pt);
    return err;
}

static mf_status finish(gemm_emit *e, int R, int NV, LLVMValueRef p, LLVMValueRef *masks)
{
    return e->flat ? finish_flat(e, R, NV, p, masks) : finish_by_pixel(e, R, NV, p);
}

/* The tiles of the item's chunk for a block of R channels: full tiles in a loop, the
 * plane's last (partial) tile with fewer vectors and a masked last vector. */
/* What a block's tiles cover: the item's chunk (block_tiles), or pixels [p0, p1) of a panel
 * (panel_tiles). */
typedef struct tiles_args {
    LLVMValueRef chunk, p0, p1;
} tiles_args;

/* The full tiles [t0, t1) of a chunk: with chunks of one tile, that tile (the partial one a
 * chunk of its own); else the full tiles shared out as partitions share items
 * (mf_cg_part_bound), the partial one in the last chunk (plan_tiles sizes a strided
 * layer's panel for the most a chunk gets). */
static void chunk_tiles(gemm_emit *e, LLVMValueRef chunk, LLVMValueRef *t0, LLVMValueRef *t1)
{
    mf_cg_ctx *c = e->c;
    const gemm_plan *pl = &e->pl;
    const int64_t nfull = pl->nfull;
    if (pl->chunk == 1) {
        *t0 = chunk;
        *t1 = mf_cg_ix_smink(c, mf_cg_ix_addk(c, chunk, 1), nfull);
    } else {
        *t0 = mf_cg_ix_udivk(c, mf_cg_ix_mulk(c, chunk, nfull), pl->nchunk);
        *t1 = mf_cg_ix_udivk(c, mf_cg_ix_mulk(c, mf_cg_ix_addk(c, chunk, 1), nfull), pl->nchunk);
    }
}

static mf_status block_tiles(gemm_emit *e, int R, const tiles_args *ta)
{
    LLVMValueRef chunk = ta->chunk;
    mf_cg_ctx *c = e->c;
    const gemm_plan *pl = &e->pl;
    const int64_t nfull = pl->nfull;
    LLVMValueRef t0, t1;
    chunk_tiles(e, chunk, &t0, &t1);
    mf_cg_loop t;
    mf_cg_loop_begin(c, &t, t0, t1);
    LLVMValueRef p = mf_cg_ix_mulk(c, t.iv, pl->NR), full[GEMM_NV_MAX] = {0};
    accumulate(e, R, pl->NV, p, full, false);
    mf_status err = finish(e, R, pl->NV, p, full);
    /* a tile runs the whole K loop: unrolling a few tiles (a 7x7 plane's 3) only grows the
     * code (a 1x1 stride-2 256->512 kernel: 221 -> 597 lines of assembly against the
     * output-channel engine's) */
    mf_cg_loop_end_scalar(c, &t, 1);
    if (err || nfull == pl->ntile)
        return err;
    /* the last tile belongs to the last chunk */
    LLVMBasicBlockRef tail = LLVMAppendBasicBlockInContext(c->C, c->body, "tail");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(c->C, c->body, "join");
    LLVMBuildCondBr(c->B, LLVMBuildICmp(c->B, LLVMIntEQ, chunk, mf_cg_i64(c, pl->nchunk - 1), ""), tail, join);
    LLVMPositionBuilderAtEnd(c->B, tail);
    int64_t p0 = nfull * pl->NR;
    int NV = (int)((pl->N - p0 + c->vw - 1) / c->vw);
    LLVMValueRef masks[GEMM_NV_MAX];
    for (int v = 0; v < NV; v++)
        masks[v] = tail_mask(e, p0, v);
    accumulate(e, R, NV, mf_cg_i64(c, p0), masks, false);
    err = finish(e, R, NV, mf_cg_i64(c, p0), masks);
    LLVMBuildBr(c->B, join);
    LLVMPositionBuilderAtEnd(c->B, join);
    return err;
}

/* Block b (i64) of group `group`'s output channels: its first channel and its weights (both
 * layouts start block b's panel at oc0 * K: packed blocks are MR x K floats too). */
static void block_begin(gemm_emit *e, LLVMValueRef group, LLVMValueRef b)
{
    mf_cg_ctx *c = e->c;
    const mf_cg_conv_geom *g = e->g;
    e->oc0 = mf_cg_ix_madd(c, group, e->coutg, mf_cg_ix_mulk(c, b, e->pl.MR));
    e->wpanel = mf_cg_gep(c, g->wt,
                          mf_cg_ix_add(c, mf_cg_conv_batch_offset(c, g, e->bcoord, g->bw_stride),
                                       mf_cg_ix_mulk(c, e->oc0, e->cing)));
}

/* tiles(e, R, ta) for block b (i64) at its width: MR rows, or the last block's rtail when MR
 * does not divide the channels (a second copy of the tiles' code, chosen at run time). */
static mf_status each_block_width(gemm_emit *e, LLVMValueRef b,
                                  mf_status (*tiles)(gemm_emit *, int, const tiles_args *),
                                  const tiles_args *ta)
{
    mf_cg_ctx *c = e->c;
    const gemm_plan *pl = &e->pl;
    int64_t rtail = e->coutg - (pl->nmb - 1) * pl->MR;
    if (rtail == pl->MR)
        return tiles(e, pl->MR, ta);
    LLVMBasicBlockRef full = LLVMAppendBasicBlockInContext(c->C, c->body, "full");
    LLVMBasicBlockRef tail = LLVMAppendBasicBlockInContext(c->C, c->body, "tailblock");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(c->C, c->body, "join");
    LLVMBuildCondBr(c->B, LLVMBuildICmp(c->B, LLVMIntEQ, b, mf_cg_i64(c, pl->nmb - 1), ""), tail,
                    full);
    LLVMPositionBuilderAtEnd(c->B, full);
    mf_status err = tiles(e, pl->MR, ta);
    LLVMBuildBr(c->B, join);
    LLVMPositionBuilderAtEnd(c->B, tail);
    if (!err)
        err = tiles(e, (int)rtail, ta);
    LLVMBuildBr(c->B, join);
    LLVMPositionBuilderAtEnd(c->B, join);
    return err;
}

/* vw inputs from ptr, every sw-th one: one load of sw x vw floats, masked where the row
 * ends before them (mask: the live lanes of the wide load, NULL when all are). */
static LLVMValueRef strided_load(mf_cg_ctx *c, const mf_cg_conv_geom *g, LLVMValueRef ptr, LLVMValueRef mask)
{
    const int64_t sw = g->sw;
    if (sw == 1)
        return mf_cg_load_f32_as(c, LLVMVectorType(c->f32, (unsigned)c->vw), ptr, mask, g->xdt);
    return mf_cg_lanes_every(
        c, mf_cg_load_f32_as(c, LLVMVectorType(c->f32, (unsigned)(sw * c->vw)), ptr, mask, g->xdt),
        sw, 0);
}

/* Output row `src` (the input row it reads) into the panel at dst, a vector at a time: whole
 * vectors, so the last one may write past the row's end (into the next row, written after
 * it, or the panel's slack); only the wide loads that would read past the input row's end
 * are masked (compile time). */
static void gather_row(mf_cg_ctx *c, const mf_cg_conv_geom *g, LLVMValueRef src, LLVMValueRef dst)
{
    const int64_t vw = c->vw, nvec = (g->ow + vw - 1) / vw, span = g->sw * vw;
    int64_t nplain = g->w / span < nvec ? g->w / span : nvec;
    mf_cg_loop j;
    if (nplain > 0) {
        mf_cg_loop_begin(c, &j, mf_cg_i64(c, 0), mf_cg_i64(c, nplain));
        LLVMValueRef x = strided_load(c, g, mf_cg_gep_as(c, src, mf_cg_ix_mulk(c, j.iv, span), g->xdt), NULL);
        LLVMSetAlignment(LLVMBuildStore(c->B, x, mf_cg_gep(c, dst, mf_cg_ix_mulk(c, j.iv, vw))), 4);
        mf_cg_loop_end_scalar(c, &j, 1);
    }
    for (int64_t v = nplain; v < nvec; v++) {
        LLVMValueRef bits[GEMM_MAX_STRIDE * MF_CG_MAX_VW];
        for (int64_t l = 0; l < span; l++)
            bits[l] = LLVMConstInt(c->i1, v * span + l < g->w, 0);
        LLVMValueRef x = strided_load(c, g, mf_cg_gep_as(c, src, mf_cg_i64(c, v * span), g->xdt),
                                      LLVMConstVector(bits, (unsigned)span));
        LLVMSetAlignment(LLVMBuildStore(c->B, x, mf_cg_gep(c, dst, mf_cg_i64(c, v * vw))), 4);
    }
}

bool mf_cg_gathers_strided(const mf_cg_conv_geom *g)
{
    return g->sw <= GEMM_MAX_STRIDE;
}

void mf_cg_gather_strided(mf_cg_ctx *c, const mf_cg_conv_geom *g, LLVMValueRef xg, int64_t cing, LLVMValueRef panel,
                          int64_t pk, LLVMValueRef oy0, LLVMValueRef oy1)
{
    mf_cg_loop k, oy;
    mf_cg_loop_begin(c, &k, mf_cg_i64(c, 0), mf_cg_i64(c, cing));
    LLVMValueRef plane = mf_cg_gep_as(c, xg, mf_cg_ix_mulk(c, k.iv, g->h * g->w), g->xdt);
    LLVMValueRef pkk = mf_cg_gep(c, panel, mf_cg_ix_mulk(c, k.iv, pk));
    mf_cg_loop_begin(c, &oy, oy0, oy1);
    gather_row(c, g, mf_cg_gep_as(c, plane, mf_cg_ix_mulk(c, oy.iv, g->sh * g->w), g->xdt),
               mf_cg_gep(c, pkk, mf_cg_ix_mulk(c, mf_cg_ix_sub(c, oy.iv, oy0), g->ow)));
    mf_cg_loop_end_scalar(c, &oy, 1);
    mf_cg_loop_end_scalar(c, &k, 1);
}

/* Strided: points the tiles at the panel of the item's chunk, gathering it unless this
 * partition's previous item (the chunk's previous block of channels) did (key: the last
 * gathered chunk's index over batch, group and chunk; -1 before the first). */
static void panel_for_chunk(gemm_emit *e, LLVMValueRef panel, LLVMValueRef key, LLVMValueRef item, LLVMValueRef chunk)
{
    mf_cg_ctx *c = e->c;
    const gemm_plan *pl = &e->pl;
    const int64_t ow = e->g->ow;
    LLVMValueRef t0, t1;
    chunk_tiles(e, chunk, &t0, &t1);
    LLVMValueRef last = LLVMBuildICmp(c->B, LLVMIntEQ, chunk, mf_cg_i64(c, pl->nchunk - 1), "");
    LLVMValueRef p0 = mf_cg_ix_mulk(c, t0, pl->NR);
    LLVMValueRef p1 =
        LLVMBuildSelect(c->B, last, mf_cg_i64(c, pl->N), mf_cg_ix_mulk(c, t1, pl->NR), "");
    LLVMValueRef oy0 = mf_cg_ix_udivk(c, p0, ow), oy1 = mf_cg_ix_udivk(c, mf_cg_ix_addk(c, p1, ow - 1), ow);
    LLVMValueRef id = mf_cg_ix_udivk(c, item, pl->nmb);
    LLVMBasicBlockRef fill = LLVMAppendBasicBlockInContext(c->C, c->body, "gather");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(c->C, c->body, "gathered");
    LLVMBuildCondBr(c->B, LLVMBuildICmp(c->B, LLVMIntNE, LLVMBuildLoad2(c->B, c->i64, key, ""), id, ""), fill, join);
    LLVMPositionBuilderAtEnd(c->B, fill);
    mf_cg_gather_strided(c, e->g, e->xg, e->cing, panel, pl->PK, oy0, oy1);
    LLVMBuildStore(c->B, id, key);
    LLVMBuildBr(c->B, join);
    LLVMPositionBuilderAtEnd(c->B, join);
    e->xsrc = panel;
    e->xk = pl->PK;
    e->xdt = MF_F32;
    e->pbase = mf_cg_ix_mulk(c, oy0, ow);
}

/* Can the epilogue run on the flattened plane: does everything it reads step over the
 * output's rows as over its columns (row stride = width x column stride)? */
typedef struct flat_check {
    int64_t ow;
    bool ok;
} flat_check;

static void check_leaf(void *ctx, const mf_value *leaf, const mf_cg_map *m)
{
    flat_check *f = ctx;
    (void)leaf;
    if (m->s[2] != m->s[3] * f->ow || m->dim[2] == -2 || m->dim[3] == -2)
        f->ok = false;
}

static bool same_shape(const mf_type *a, const mf_type *b)
{
    if (a->rank != b->rank)
        return false;
    for (int d = 0; d < a->rank; d++)
        if (a->shape[d] != b->shape[d])
            return false;
    return true;
}

bool mf_cg_epilogue_flattens(const mf_value *core, int nepi, const mf_value *const *epi)
{
    const mf_type *ot = &core->type;
    if (ot->rank != 4)
        return false;
    flat_check f = {ot->shape[3], true};
    for (int i = 0; i < nepi && f.ok; i++) {
        if (epi[i]->type.rank != 4 || !same_shape(&epi[i]->type, ot))
            return false;
        mf_cg_map m = mf_cg_map_for(&epi[i]->type, 4, ot->shape);
        check_leaf(&f, epi[i], &m);
        if (mf_cg_visit_leaves(epi[i], core, &m, 4, check_leaf, &f))
            return false;
    }
    return f.ok;
}

/* The emitter of layer g with output `core` and its epilogue (a matmul's at its own dims). */
static gemm_emit emit_of(mf_cg_ctx *c, const mf_cg_conv_geom *g, const mf_value *core, int nepi,
                         const mf_value *const *epi)
{
    return (gemm_emit){.c = c,
                       .g = g,
                       .packed = g->wblock != 0,
                       .flat = g->is_matmul || mf_cg_epilogue_flattens(core, nepi, epi),
                       .core = core,
                       .nepi = nepi,
                       .epi = epi,
                       .vt = LLVMVectorType(c->f32, (unsigned)c->vw)};
}

mf_status mf_cg_emit_conv_gemm(mf_cg_ctx *c, const mf_cg_conv_geom *g, const mf_value *core, int nepi,
                               const mf_value *const *epi)
{
    gemm_emit e = emit_of(c, g, core, nepi, epi);
    plan_for(c, g, &e.pl);
    const gemm_plan *pl = &e.pl;
    e.cing = g->cin / g->groups, e.coutg = g->cout / g->groups;
    for (int k = 0; k < pl->MR * pl->NV; k++)
        e.acc[k] = mf_cg_entry_alloca(c, e.vt);
    if (!e.flat)
        e.spill = mf_cg_entry_alloca(c, LLVMArrayType2(c->f32, (uint64_t)(pl->MR * pl->NR)));
    LLVMValueRef panel = NULL, key = NULL;
    if (pl->PK) { /* the gathered rows, and a vector of slack for the last row's spill */
        panel = mf_cg_entry_alloca(c, LLVMArrayType2(c->f32, (uint64_t)(pl->PK * e.cing + c->vw)));
        LLVMSetAlignment(panel, 64);
        key = mf_cg_entry_alloca(c, c->i64);
        LLVMBuildStore(c->B, mf_cg_i64(c, -1), key);
    }
    int64_t nbatch = 1;
    for (int d = 0; d < g->nbd; d++)
        nbatch *= g->bshape[d];
    LLVMValueRef lo, hi;
    const int64_t nfull = pl->nfull;
    if (pl->chunk == 1 && !pl->PK && nfull < pl->ntile && c->core_number > 1) {
        /* tiles split over partitions: items of the partial tile cost less than a full
         * tile's (per k step a tile loads its vectors and the block's broadcasts: about
         * NV + 1 vectors' worth; 576->96's 1-vector tail took 11 us to 2-vector tiles' 15),
         * so partitions share out the cost, not the count of items (by count the partition
         * with the tail was left the lightest: 192->64's 3.6 us against 5.7-7.0) */
        int64_t tail_nv = (pl->N - nfull * pl->NR + c->vw - 1) / c->vw;
        mf_cg_tail_part_range(c, nbatch * g->groups, nfull, pl->nmb, pl->NV + 1, tail_nv + 1, &lo, &hi);
    } else {
        mf_cg_part_range(c, nbatch * g->groups * pl->nchunk * pl->nmb, 1, &lo, &hi);
    }
    mf_cg_loop items;
    mf_cg_loop_begin(c, &items, lo, hi);
    int64_t dims[4] = {nbatch, g->groups, pl->nchunk, pl->nmb};
    LLVMValueRef q[4];
    mf_cg_unravel(c, items.iv, 4, dims, q);
    mf_cg_unravel(c, q[0], g->nbd, g->bshape, e.bcoord);
    e.xg = mf_cg_gep_as(c, g->x, mf_cg_ix_add(c, mf_cg_conv_batch_offset(c, g, e.bcoord, g->bx_stride),
                                              mf_cg_ix_mulk(c, q[1], e.cing * g->h * g->w)), g->xdt);
    e.xsrc = e.xg, e.xk = pl->N, e.xdt = g->xdt, e.pbase = NULL;
    if (pl->PK)
        panel_for_chunk(&e, panel, key, items.iv, q[2]);
    block_begin(&e, q[1], q[3]);
    tiles_args ta = {.chunk = q[2]};
    mf_status err = each_block_width(&e, q[3], block_tiles, &ta);
    mf_cg_loop_end(c, &items, 1);
    return err;
}

/* ---- the tiles on a panel of pixels at run time (the fused engines) ------------------- */

bool mf_cg_gemm_panel_blocking(const mf_cg_ctx *c, const mf_cg_conv_geom *g, int *mr, int *nv)
{
    const mf_cg_target_shape *s = &c->shape;
    int m = 0, n = 0;
    bool gemm = mf_cg_gemm_blocking(s, g, &m, &n);
    if (!gemm)
        m = g->cout < 4 ? (int)g->cout : 4;
    if (g->wblock && g->wblock != m) { /* packed for another engine's block: take its rows */
        m = (int)g->wblock;
        gemm = false;
    }
    if (m < 1 || m > GEMM_MR_MAX)
        return false;
    for (int v = GEMM_NV_MAX; v >= 1 && !gemm; v--) { /* as many vectors as the registers hold */
        int room = s->vregs - (v + 1) - (s->fma ? 1 : 2);
        if (m * v <= (room < 24 ? room : 24)) {
            n = v;
            break;
        }
    }
    *mr = m, *nv = n;
    return n >= 1 && n <= GEMM_NV_MAX;
}

LLVMValueRef mf_cg_lanes_below(mf_cg_ctx *c, LLVMValueRef n, int64_t first)
{
    LLVMValueRef lane[MF_CG_MAX_VW];
    for (int l = 0; l < c->vw; l++)
        lane[l] = LLVMConstInt(c->i64, (unsigned long long)(first + l), 0);
    LLVMValueRef v = c->vw > 1
                         ? mf_cg_splat(c, n, (unsigned)c->vw)
                         : LLVMBuildInsertElement(c->B, LLVMGetPoison(LLVMVectorType(c->i64, 1)), n,
                                                  mf_cg_i64(c, 0), "");
    return LLVMBuildICmp(c->B, LLVMIntULT, LLVMConstVector(lane, (unsigned)c->vw), v, "");
}

struct mf_cg_gemm {
    gemm_emit e;
};

mf_cg_gemm *mf_cg_gemm_new(mf_cg_ctx *c, const mf_cg_conv_geom *g, const mf_value *core, int nepi,
                           const mf_value *const *epi)
{
    int mr, nv;
    if (!mf_cg_gemm_panel_blocking(c, g, &mr, &nv)) {
        mf_error(MF_ERR_UNSUPPORTED,
                 "codegen: no GEMM tile for the %lld -> %lld 1x1 conv's weights", (long long)g->cin,
                 (long long)g->cout);
        return NULL;
    }
    mf_cg_gemm *h = calloc(1, sizeof *h);
    if (!h) {
        mf_error(MF_ERR_NOMEM, "codegen: out of memory");
        return NULL;
    }
    gemm_emit *e = &h->e;
    *e = emit_of(c, g, core, nepi, epi);
    e->cing = g->cin, e->coutg = g->cout, e->xdt = MF_F32;
    plan_tiles(&c->shape, g, mr, nv, 1, &e->pl);
    for (int k = 0; k < mr * nv; k++)
        e->acc[k] = mf_cg_entry_alloca(c, e->vt);
    if (!e->flat)
        e->spill = mf_cg_entry_alloca(c, LLVMArrayType2(c->f32, (uint64_t)(mr * e->pl.NR)));
    return h;
}

void mf_cg_gemm_free(mf_cg_gemm *h)
{
    free(h);
}

/* Block oc0's R channels over pixels [p0, p1): whole tiles in a loop, then a last tile of
 * the pixels left, masked at run time (whole tiles: one copy of the code for any stretch;
 * the fused engines' stretches are bands of rows of large planes, so the vectors of the last
 * tile that hold no pixel are few). */
static mf_status panel_tiles(gemm_emit *e, int R, const tiles_args *ta)
{
    mf_cg_ctx *c = e->c;
    LLVMValueRef p0 = ta->p0, p1 = ta->p1;
    const int NV = e->pl.NV;
    const int64_t nr = e->pl.NR;
    LLVMValueRef n = mf_cg_ix_sub(c, p1, p0), nfull = mf_cg_ix_udivk(c, n, nr),
                 full[GEMM_NV_MAX] = {0};
    mf_cg_loop t;
    mf_cg_loop_begin(c, &t, mf_cg_i64(c, 0), nfull);
    LLVMValueRef p = mf_cg_ix_add(c, p0, mf_cg_ix_mulk(c, t.iv, nr));
    accumulate(e, R, NV, p, full, false);
    mf_status err = finish(e, R, NV, p, full);
    mf_cg_loop_end_scalar(c, &t, 1);
    LLVMValueRef rest = mf_cg_ix_sub(c, n, mf_cg_ix_mulk(c, nfull, nr));
    p = mf_cg_ix_add(c, p0, mf_cg_ix_mulk(c, nfull, nr));
    LLVMBasicBlockRef last = LLVMAppendBasicBlockInContext(c->C, c->body, "lasttile");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(c->C, c->body, "tilesdone");
    LLVMBuildCondBr(c->B, LLVMBuildICmp(c->B, LLVMIntNE, rest, mf_cg_i64(c, 0), ""), last, join);
    LLVMPositionBuilderAtEnd(c->B, last);
    LLVMValueRef masks[GEMM_NV_MAX];
    for (int v = 0; v < NV; v++)
        masks[v] = mf_cg_lanes_below(c, rest, (int64_t)v * c->vw);
    accumulate(e, R, NV, p, masks, true);
    if (!err)
        err = finish(e, R, NV, p, masks);
    LLVMBuildBr(c->B, join);
    LLVMPositionBuilderAtEnd(c->B, join);
    return err;
}

mf_status mf_cg_gemm_panel(mf_cg_gemm *h, LLVMValueRef panel, int64_t xk, LLVMValueRef p0,
                           LLVMValueRef p1, const LLVMValueRef *bcoord)
{
    gemm_emit *e = &h->e;
    mf_cg_ctx *c = e->c;
    for (int d = 0; d < e->g->nbd; d++)
        e->bcoord[d] = bcoord[d];
    e->xsrc = panel, e->xk = xk, e->pbase = p0, e->pend = p1;
    mf_cg_loop b;
    mf_cg_loop_begin(c, &b, mf_cg_i64(c, 0), mf_cg_i64(c, e->pl.nmb));
    block_begin(e, mf_cg_i64(c, 0), b.iv);
    tiles_args ta = {.p0 = p0, .p1 = p1};
    mf_status err = each_block_width(e, b.iv, panel_tiles, &ta);
    mf_cg_loop_end_scalar(c, &b, 1);
    return err;
}
