/* lower_qconv.c — the int8 anchors with constant weights: qconv2d (every geometry: groups,
 * depthwise, 1x1) and qlinear (its K loop shared with qmatmul's, codegen/qdot.c), with
 * int32 sums from the target's 8-bit dot product (mf_cg_dot4: vpdpbusd with VNNI, int16
 * products without) and the requantization in the epilogue, where qadd,
 * dequantize and any f32 op after them fuse (codegen/quant.c).
 *
 * vpdpbusd multiplies unsigned by signed bytes: activations enter as u = x + 128 (x ^ 0x80),
 * weights stay signed, and sum (x - zp) w = sum u w - (128 + zp) sum w, the weight sums
 * computed per output channel before its tiles (the padding holds u = zp + 128, which
 * adds 0).  qconv2d copies a chunk of output rows' windows into a stack buffer
 * col[K/4][pixel][4] (four k of one pixel in one i32 lane; vector loads of four source rows,
 * interleaved) and sweeps every output channel of the group over it: MR channels x NV vectors
 * of pixels in registers, one broadcast weight quad per channel and k quad.  Where the chunk's
 * windows would not stay in L1 (a long K), the sweep goes tile by tile instead, every channel
 * block over one panel of K of the tile before the next panel (panel_sweep), so each block
 * reads the windows from L1, not from L2; the weights' sums are then gathered on the item's
 * first tile as its passes read them.  The weights are read as they are ([oc][K], K =
 * cin/groups * kh * kw: quads along K), so no packing pass is needed; the last quad of a K
 * not divisible by 4 is assembled from bytes once per channel.  Without VNNI the weights
 * are int16 instead and col's bytes are widened as they are loaded (qconv_wide below),
 * unless the target has AVX2 and the weights' pairs are limited (w_pair_max,
 * MF_UBSW_PAIR_MAX): then the weights stay bytes as with VNNI and vpmaddubsw + vpmaddwd
 * take each quad (mf_cg_dot4_ubsw_step). */
#include <math.h>
#include <stdlib.h>

#include "cg_internal.h"

#define QC_MR_MAX 8
#define QC_NV_MAX 4
#define QC_COL_SMALL (96 * 1024)      /* a chunk's windows (col_bytes), on the kernel's stack */
#define QC_COL_LARGE (256 * 1024)
#define QC_L1_BYTES (24 * 1024)  /* the windows and weights of a pass over K: most of L1 */
#define QC_KB_MIN 16             /* quads per pass at least: the sums' saves stay rare */
#define QC_SPLIT_MAX 8           /* channel ranges per chunk at most: each repeats its im2col */

typedef struct qconv {
    mf_cg_ctx *c;
    mf_cg_conv_geom g;
    const mf_value *core;
    int nepi;
    const mf_value *const *epi;
    LLVMValueRef wscale;
    bool per_channel;
    float xs;
    int xzp;
    mf_cg_requant rq;
    int64_t cing, coutg, K, KQ, KF; /* K; quads (rounded up); whole quads */
    int64_t P, rows, CP, nchunk;    /* plane; output rows per chunk; col's pixels; chunks */
    int64_t RIN, WP;                /* xp: the input rows a chunk reads, the bytes of each */
    int W, MR, NV, V;               /* V: the pixels im2col copies at a time */
    int VC;                         /* copy_rows's pixels a step: V, or 32 or 64 (copy_step) */
    bool wide;                      /* no VNNI: int16 products, the weights widened (qconv_wide) */
    bool ubsw;                      /* no VNNI, AVX2, w_pair_max: bytes as with VNNI, vpmaddubsw */
    bool sums_out;                  /* acc=1: the i32 sums are stored as they are */
    bool panels;                    /* tile by tile, all blocks on a panel of K (panel_sweep) */
    bool oc;                        /* lanes along output channels, packed weights (oc_sweep) */
    bool taps;                      /* weight rows [kh][kw][cin/g] (taps_first): k = tap cing + ic */
    bool quads;                     /* taps and cing % 4 == 0: xp holds quads of channels (stage_quads) */
    LLVMTypeRef i8, vi32, vf, vacc; /* vacc: mf_cg_dot4's */
    bool corr_in_acc;                   /* sums of W lanes, started from -corr (no sub per vector) */
    int64_t KB, nkb;                /* quads per pass over K, and the passes */
    LLVMValueRef col, xp, wsum, wpk, abuf; /* abuf: the tiles' sums between passes */
    LLVMValueRef xrows;             /* quads: stage_quads's four rows */
    LLVMValueRef wcorr;             /* panels: the sum of each output channel's weights */
    LLVMValueRef acc[QC_MR_MAX * QC_NV_MAX];
    LLVMValueRef bcoord[MF_MAX_RANK], xg, oy0, p0, pend; /* the work item: first row, pixel, end */
    LLVMValueRef blo, bhi;          /* and its range of the group's blocks (NULL: all of them) */
} qconv;

static LLVMValueRef gep8(mf_cg_ctx *c, LLVMValueRef base, LLVMValueRef idx)
{
    return LLVMBuildGEP2(c->B, LLVMInt8TypeInContext(c->C), base, &idx, 1, "");
}

static LLVMValueRef load_i8_as_i32(mf_cg_ctx *c, LLVMValueRef ptr, bool sign)
{
    LLVMValueRef b = LLVMBuildLoad2(c->B, LLVMInt8TypeInContext(c->C), ptr, "");
    return sign ? LLVMBuildSExt(c->B, b, c->i32, "") : LLVMBuildZExt(c->B, b, c->i32, "");
}

static LLVMValueRef splat_i32(mf_cg_ctx *c, LLVMValueRef x, int w)
{
    LLVMValueRef v = LLVMBuildInsertElement(c->B, LLVMGetPoison(LLVMVectorType(c->i32, (unsigned)w)), x,
                                            LLVMConstInt(c->i32, 0, 0), "");
    return LLVMBuildShuffleVector(c->B, v, LLVMGetPoison(LLVMTypeOf(v)),
                                  LLVMConstNull(LLVMVectorType(c->i32, (unsigned)w)), "");
}

/* The pixels of a chunk of `rows` output rows, rounded up to whole tiles of nr. */
static int64_t chunk_pixels(const mf_cg_conv_geom *g, int64_t rows, int64_t nr)
{
    return (rows * g->ow + nr - 1) / nr * nr;
}

/* How much of the sweep is useful work: the plane's pixels over the pixels swept (rounded
 * up to tiles in every chunk), less a quarter of a dot product for every load a dot
 * product needs (MR broadcasts and NV column vectors feed MR x NV). */
static double sweep_score(const qconv *q, int mr, int nv, int64_t rows)
{
    const mf_cg_conv_geom *g = &q->g;
    int64_t nr = (int64_t)nv * q->W, nchunk = (g->oh + rows - 1) / rows;
    double useful = (double)(g->oh * g->ow) / (double)(nchunk * chunk_pixels(g, rows, nr));
    return useful * (1.0 - 0.25 * (mr + nv) / (double)(mr * nv));
}

/* The input rows a chunk of q->rows output rows reads, and the bytes of each staged row. */
static void plan_input(qconv *q)
{
    const mf_cg_conv_geom *g = &q->g;
    q->RIN = (q->rows - 1) * g->sh + (g->kh - 1) * g->dh + 1;
    int64_t reach = (g->ow + q->V - 1) / q->V * q->V * g->sw + (g->kw - 1) * g->dw; /* a row's loads */
    q->WP = (reach + q->V - 1) / q->V * q->V;
}

/* copy_rows's pixels a step.  At 16 lanes (AVX-512BW) a step of 16 pixels interleaves four
 * 16-byte loads in 11 shuffles (8 unpacks, 3 inserts), about a third of resnet18's int8 3x3
 * 64->64 layer at 56x56 (perf samples by offset in the kernel, Sapphire Rapids); 32 or 64
 * pixels a step take the unpacks at 32 or 64 bytes and transpose 16-byte lanes after
 * (interleave4_lanes): about 12 and 16 shuffles.  The step with the fewest shuffles a row,
 * strides 1 and 2. */
static bool is_flat(const mf_cg_conv_geom *g);

static int copy_step(const qconv *q)
{
    const mf_cg_conv_geom *g = &q->g;
    if (q->W != 16 || q->V != 16 || g->sw > 2 || is_flat(g) || q->quads)
        return q->V;
    static const int step[3] = {16, 32, 64}, shuffles[3] = {11, 12, 16};
    int best = 0;
    int64_t cost = INT64_MAX;
    for (int i = 0; i < 3; i++) {
        int64_t n = (g->ow + step[i] - 1) / step[i] * shuffles[i];
        if (n < cost)
            cost = n, best = step[i];
    }
    return best;
}

/* The bytes of a chunk's windows: QC_COL_LARGE on a core of 1 MiB of L2 or more (the
 * AVX-512 targets'), else QC_COL_SMALL.  Fewer chunks stage fewer rows and read the weights
 * fewer times: at 256 KB resnet18's int8 3x3 layers ran 10-16 % faster than at 96 KB on
 * Sapphire Rapids (2 MiB of L2), where 384 and 512 KB gained nothing more; 96 KB is what
 * Zen 3's 512 KB was tuned at (40 and 64 KB were slower on both). */
static int64_t col_bytes(const mf_cg_ctx *c)
{
    return c->shape.l2 >= 1024 * 1024 ? QC_COL_LARGE : QC_COL_SMALL;
}

/* Registers: MR x NV accumulators (twice as wide without VNNI), NV column vectors and a
 * broadcast.  The col buffer holds a chunk of whole output rows: as many as col_bytes
 * holds (at least one), or more where that fills the tiles
 * better (a 7x7 plane with a long K: one chunk of 49 pixels, not three of 21 in 64-pixel
 * tiles); never past 4 col_bytes (about L2) but for one row of one vector. */
static void plan(qconv *q)
{
    const mf_cg_ctx *c = q->c;
    const mf_cg_conv_geom *g = &q->g;
    q->W = c->vw;
    /* 32 registers: 6 x 4 accumulators, 4 column vectors, the broadcast; a column vector
     * feeds 6 dot products (4 ran 9-13 % slower on resnet18's 3x3 layers at 16 lanes) */
    int mr = c->shape.vregs >= 32 ? 6 : 3;
    int nvmax = c->shape.vregs >= 32 ? 4 : 2;
    if (q->wide) /* accumulators and col vectors of two registers each: 6 x 2 + 2 + 2 of 16 */
        mr = 6, nvmax /= 2;
    /* ubsw: 4 x 2 accumulators, 2 col vectors, the broadcast, the product, the ones; or
     * 8 x 1 with one col vector, which wastes fewer lanes on a small plane (7x7: 56 pixels
     * swept, not 64) and reads the chunk's windows once per 8 channels, not 4 */
    int mr1 = mr; /* the blocks of one col vector */
    if (q->ubsw)
        mr = 4, mr1 = 8;
    mr = mr > q->coutg ? (int)q->coutg : mr;
    mr1 = mr1 > q->coutg ? (int)q->coutg : mr1;
    int64_t per_pixel = q->KQ * 4, fit = col_bytes(c) / (per_pixel * g->ow);
    fit = fit < 1 ? 1 : fit > g->oh ? g->oh : fit;
    double best = -1.0;
    for (int nv = nvmax; nv >= 1; nv--) {
        int64_t nr = (int64_t)nv * q->W;
        int64_t cand[3] = {fit, (nr + g->ow - 1) / g->ow, g->oh};
        int m = nv == 1 ? mr1 : mr;
        for (int i = 0; i < 3; i++) {
            int64_t rows = cand[i] > g->oh ? g->oh : cand[i];
            bool fallback = nv == 1 && i == 0; /* always planned: one row, one vector */
            if ((i > 0 && rows <= fit) || (per_pixel * chunk_pixels(g, rows, nr) > 4 * col_bytes(c) && !fallback))
                continue;
            double s = sweep_score(q, m, nv, rows);
            if (s > best + 1e-9)
                best = s, q->NV = nv, q->MR = m, q->rows = rows;
        }
    }
    q->CP = chunk_pixels(g, q->rows, (int64_t)q->NV * q->W);
    q->nchunk = (g->oh + q->rows - 1) / q->rows;
    q->V = q->W; /* 4V bytes of col at a time: a vector; s V input bytes per load */
    while (q->V > 4 && (2 * g->ow <= q->V || q->V * g->sw > 64))
        q->V /= 2;
    q->VC = copy_step(q);
    int64_t nr = (int64_t)q->NV * q->W;
    if (q->wide) { /* each block sweeps all tiles: their windows and the weights in L1 */
        q->KB = q->KQ;
        if ((nr * 4 + q->MR * 8) * q->KQ > QC_L1_BYTES) {
            q->KB = QC_L1_BYTES / (q->CP * 4 + q->MR * 8);
            q->KB = q->KB < QC_KB_MIN ? QC_KB_MIN : q->KB;
        }
        q->nkb = (q->KQ + q->KB - 1) / q->KB;
    } else if (q->KF * 4 * q->CP <= QC_L1_BYTES || q->KF < QC_KB_MIN || q->coutg * q->K > q->c->shape.l2 / 2) {
        /* the chunk's windows stay in L1, a short K (a block's work on a tile is less than
         * the setting up of its sums), or the weights do not stay in L2: each block
         * sweeps all of the windows, reading its rows of weights as four streams (a panel
         * order reads every block's rows a panel at a time, which the prefetchers do not
         * follow: resnet18's 7x7 layers, whose 2.4 MB of weights come from memory, ran 8 %
         * slower so) */
        q->KB = q->KF;
        q->nkb = 1;
    } else { /* every block sweeps one tile's panel of KB quads, which stays in L1 */
        q->panels = true;
        int64_t kbmax = QC_L1_BYTES / (nr * 4);
        kbmax = kbmax < QC_KB_MIN ? QC_KB_MIN : kbmax;
        q->nkb = (q->KF + kbmax - 1) / kbmax; /* KF >= QC_KB_MIN: at least one */
        q->KB = (q->KF + q->nkb - 1) / q->nkb;
    }
    plan_input(q);
}

/* ---- the windows: col[kq][pixel][j] = u of window element k = 4 kq + j ---------------------
 * Copied V pixels at a time: four source rows (one per j) are loaded as vectors and
 * interleaved into 4V bytes.  A 1x1 stride-1 conv without padding reads the channel planes
 * as they are (a pixel's window is one byte of each plane); every other geometry first
 * stages the chunk's input rows, flipped and padded with zp + 128, in xp[ic][r][WP], so its
 * loads need no bounds: a row's last vector may run past ow (into the next row's pixels,
 * written after it, or the chunk's padding pixels) and past the row's data in xp (into
 * padding).  k past K repeats the last k: its weight bytes are 0. */

static LLVMValueRef load_bytes(mf_cg_ctx *c, LLVMValueRef ptr, int n)
{
    LLVMValueRef v = LLVMBuildLoad2(c->B, LLVMVectorType(LLVMInt8TypeInContext(c->C), (unsigned)n), ptr, "");
    LLVMSetAlignment(v, 1);
    return v;
}

static void store_bytes(mf_cg_ctx *c, LLVMValueRef v, LLVMValueRef ptr)
{
    LLVMSetAlignment(LLVMBuildStore(c->B, v, ptr), 1);
}

static LLVMValueRef byte_splat(qconv *q, int v, int n)
{
    return mf_cg_splat(q->c, LLVMConstInt(q->i8, (unsigned long long)(v & 0xff), 0), (unsigned)n);
}

/* shufflevector(a, b) by the indices idx[0..n). */
static LLVMValueRef shuffle(mf_cg_ctx *c, LLVMValueRef a, LLVMValueRef b, const unsigned *idx, int n)
{
    LLVMValueRef m[4 * MF_CG_MAX_VW];
    for (int i = 0; i < n; i++)
        m[i] = LLVMConstInt(c->i32, idx[i], 0);
    return LLVMBuildShuffleVector(c->B, a, b ? b : LLVMGetPoison(LLVMTypeOf(a)), LLVMConstVector(m, (unsigned)n), "");
}

/* The 4 x V bytes of r[0..4) as V quads: out[4 p + j] = r[j][p]. */
static LLVMValueRef interleave4(mf_cg_ctx *c, const LLVMValueRef r[4], int V)
{
    unsigned cat[2 * MF_CG_MAX_VW], quad[4 * MF_CG_MAX_VW];
    for (int i = 0; i < 2 * V; i++)
        cat[i] = (unsigned)i;
    for (int p = 0; p < V; p++)
        for (int j = 0; j < 4; j++)
            quad[4 * p + j] = (unsigned)(j * V + p);
    LLVMValueRef lo = shuffle(c, r[0], r[1], cat, 2 * V), hi = shuffle(c, r[2], r[3], cat, 2 * V);
    return shuffle(c, lo, hi, quad, 4 * V);
}

/* interleave4 for V a multiple of 16, as V / 16 vectors of 64 bytes (out[L]: pixels 16 L ..
 * 16 L + 15): the byte and word unpacks within 16-byte lanes leave in lane L of u[m] the
 * quads of pixels 16 L + 4 m .. + 3, and out[L] gathers lane L of u[0..3]. */
static void interleave4_lanes(mf_cg_ctx *c, const LLVMValueRef r[4], int V, LLVMValueRef *out)
{
    unsigned lo[4 * MF_CG_MAX_VW] = {0}, hi[4 * MF_CG_MAX_VW] = {0};
    LLVMTypeRef i16v = LLVMVectorType(LLVMInt16TypeInContext(c->C), (unsigned)V / 2);
    LLVMTypeRef i64v = LLVMVectorType(c->i64, (unsigned)V / 8);
    for (int L = 0; L < V / 16; L++)
        for (int i = 0; i < 8; i++) { /* bytes i of a and b in lane L (punpcklbw; hi: i + 8) */
            lo[16 * L + 2 * i] = (unsigned)(16 * L + i), lo[16 * L + 2 * i + 1] = (unsigned)(V + 16 * L + i);
            hi[16 * L + 2 * i] = (unsigned)(16 * L + 8 + i), hi[16 * L + 2 * i + 1] = (unsigned)(V + 16 * L + 8 + i);
        }
    LLVMValueRef t[4] = {shuffle(c, r[0], r[1], lo, V), shuffle(c, r[0], r[1], hi, V), shuffle(c, r[2], r[3], lo, V),
                         shuffle(c, r[2], r[3], hi, V)};
    for (int L = 0; L < V / 16; L++)
        for (int j = 0; j < 4; j++) { /* words j of a and b in lane L (punpcklwd; hi: j + 4) */
            lo[8 * L + 2 * j] = (unsigned)(8 * L + j), lo[8 * L + 2 * j + 1] = (unsigned)(V / 2 + 8 * L + j);
            hi[8 * L + 2 * j] = (unsigned)(8 * L + 4 + j), hi[8 * L + 2 * j + 1] = (unsigned)(V / 2 + 8 * L + 4 + j);
        }
    LLVMValueRef w[4], u[4];
    for (int k = 0; k < 4; k++)
        w[k] = LLVMBuildBitCast(c->B, t[k], i16v, "");
    u[0] = shuffle(c, w[0], w[2], lo, V / 2), u[1] = shuffle(c, w[0], w[2], hi, V / 2);
    u[2] = shuffle(c, w[1], w[3], lo, V / 2), u[3] = shuffle(c, w[1], w[3], hi, V / 2);
    for (int k = 0; k < 4; k++)
        u[k] = LLVMBuildBitCast(c->B, u[k], i64v, "");
    LLVMTypeRef v64 = LLVMVectorType(LLVMInt8TypeInContext(c->C), 64);
    if (V == 64) { /* the 4 x 4 transpose of 16-byte lanes in two steps of vshufi64x2 */
        static const unsigned half[2][8] = {{0, 1, 2, 3, 8, 9, 10, 11}, {4, 5, 6, 7, 12, 13, 14, 15}};
        static const unsigned pick[2][8] = {{0, 1, 4, 5, 8, 9, 12, 13}, {2, 3, 6, 7, 10, 11, 14, 15}};
        for (int h = 0; h < 2; h++) { /* lanes 2h, 2h + 1 of u[0..3] */
            LLVMValueRef a = shuffle(c, u[0], u[1], half[h], 8), b = shuffle(c, u[2], u[3], half[h], 8);
            for (int k = 0; k < 2; k++)
                out[2 * h + k] = LLVMBuildBitCast(c->B, shuffle(c, a, b, pick[k], 8), v64, "");
        }
        return;
    }
    for (int L = 0; L < V / 16; L++) {
        unsigned pair[4] = {(unsigned)(2 * L), (unsigned)(2 * L + 1), (unsigned)(V / 8 + 2 * L), (unsigned)(V / 8 + 2 * L + 1)};
        unsigned all[8] = {0, 1, 2, 3, 4, 5, 6, 7};
        LLVMValueRef a = shuffle(c, u[0], u[1], pair, 4), b = shuffle(c, u[2], u[3], pair, 4);
        out[L] = LLVMBuildBitCast(c->B, shuffle(c, a, b, all, 8), v64, "");
    }
}

/* V bytes at ptr, ptr + s, ..., ptr + (V - 1) s (reads s V bytes). */
static LLVMValueRef load_strided(mf_cg_ctx *c, LLVMValueRef ptr, int V, int64_t s)
{
    LLVMValueRef v = load_bytes(c, ptr, (int)(V * s));
    if (s == 1)
        return v;
    unsigned idx[4 * MF_CG_MAX_VW]; /* V up to copy_step's 64 */
    for (int p = 0; p < V; p++)
        idx[p] = (unsigned)(p * s);
    return shuffle(c, v, NULL, idx, V);
}

static bool is_flat(const mf_cg_conv_geom *g)
{
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0;
}

/* Where the windows' element k = min(4 kq + j, K - 1) starts: the chunk's first pixel in its
 * plane (flat), or its first row and column in xp (k = ic taps + tap, or taps first
 * k = tap cing + ic). */
static LLVMValueRef window_src(qconv *q, LLVMValueRef kq, int j)
{
    mf_cg_ctx *c = q->c;
    const mf_cg_conv_geom *g = &q->g;
    LLVMValueRef k = mf_cg_ix_addk(c, mf_cg_ix_mulk(c, kq, 4), j);
    k = mf_cg_ix_smink(c, k, q->K - 1);
    int64_t taps = g->kh * g->kw;
    LLVMValueRef ic = q->taps ? LLVMBuildURem(c->B, k, mf_cg_i64(c, q->cing), "") : mf_cg_ix_udivk(c, k, taps);
    if (is_flat(g))
        return gep8(c, q->xg, mf_cg_ix_add(c, mf_cg_ix_mulk(c, ic, q->P), q->p0));
    LLVMValueRef rem = q->taps ? mf_cg_ix_udivk(c, k, q->cing) : LLVMBuildURem(c->B, k, mf_cg_i64(c, taps), "");
    LLVMValueRef ky = mf_cg_ix_udivk(c, rem, g->kw), kx = LLVMBuildURem(c->B, rem, mf_cg_i64(c, g->kw), "");
    LLVMValueRef row = mf_cg_ix_madd(c, ic, q->RIN, mf_cg_ix_mulk(c, ky, g->dh));
    return gep8(c, q->xp, mf_cg_ix_add(c, mf_cg_ix_mulk(c, row, q->WP), mf_cg_ix_mulk(c, kx, g->dw)));
}

/* col[kq][p][j] = zp + 128 for the pixels p in [from, CP) (past the chunk's valid rows). */
static void pad_pixels(qconv *q, LLVMValueRef dst, LLVMValueRef from)
{
    mf_cg_ctx *c = q->c; /* whole vectors: the last may run into the next quad's pixels,
                          * written after it, or the 4V bytes past col's last quad */
    mf_cg_loop v;
    LLVMValueRef b0 = mf_cg_ix_mulk(c, from, 4), nb = mf_cg_ix_sub(c, mf_cg_i64(c, q->CP * 4), b0);
    LLVMValueRef nvec = mf_cg_ix_udivk(c, mf_cg_ix_addk(c, nb, 4 * q->V - 1), 4 * q->V);
    mf_cg_loop_begin(c, &v, mf_cg_i64(c, 0), nvec);
    store_bytes(c, byte_splat(q, q->xzp + 128, 4 * q->V), gep8(c, dst, mf_cg_ix_madd(c, v.iv, 4 * q->V, b0)));
    mf_cg_loop_end(c, &v, 1);
}

/* xp[ic][r][c] = u of input row oy0 sh - ph + r, column c - pw (zp + 128 outside). */
static void stage_rows(qconv *q)
{
    mf_cg_ctx *c = q->c;
    const mf_cg_conv_geom *g = &q->g;
    mf_cg_loop ic, r;
    mf_cg_loop_begin(c, &ic, mf_cg_i64(c, 0), mf_cg_i64(c, q->cing));
    mf_cg_loop_begin(c, &r, mf_cg_i64(c, 0), mf_cg_i64(c, q->RIN));
    LLVMValueRef iy = mf_cg_ix_add(c, mf_cg_ix_subk(c, mf_cg_ix_mulk(c, q->oy0, g->sh), g->ph), r.iv);
    LLVMValueRef dst = gep8(c, q->xp, mf_cg_ix_mulk(c, mf_cg_ix_madd(c, ic.iv, q->RIN, r.iv), q->WP));
    LLVMValueRef plane = gep8(c, q->xg, mf_cg_ix_mulk(c, ic.iv, g->h * g->w));
    mf_cg_stage_qrow(c, plane, g->h, g->w, iy, g->pw, q->WP, q->V, q->xzp, false, dst);
    mf_cg_loop_end(c, &r, 1);
    mf_cg_loop_end(c, &ic, 1);
}

/* col[kq] (dst) for the chunk's nrows valid output rows, from xp (src: the four rows of the
 * quad's k). */
static void copy_rows(qconv *q, const LLVMValueRef src[4], LLVMValueRef dst, LLVMValueRef nrows)
{
    mf_cg_ctx *c = q->c;
    const mf_cg_conv_geom *g = &q->g;
    int V = q->VC;
    mf_cg_loop yl, t;
    mf_cg_loop_begin(c, &yl, mf_cg_i64(c, 0), nrows);
    LLVMValueRef drow = gep8(c, dst, mf_cg_ix_mulk(c, yl.iv, g->ow * 4));
    LLVMValueRef soff = mf_cg_ix_mulk(c, yl.iv, g->sh * q->WP);
    mf_cg_loop_begin(c, &t, mf_cg_i64(c, 0), mf_cg_i64(c, (g->ow + V - 1) / V));
    LLVMValueRef r[4], s = mf_cg_ix_add(c, soff, mf_cg_ix_mulk(c, t.iv, V * g->sw));
    for (int j = 0; j < 4; j++)
        r[j] = load_strided(c, gep8(c, src[j], s), V, g->sw);
    LLVMValueRef d = gep8(c, drow, mf_cg_ix_mulk(c, t.iv, 4 * V));
    if (V == q->V) {
        store_bytes(c, interleave4(c, r, V), d);
    } else {
        LLVMValueRef out[4];
        interleave4_lanes(c, r, V, out);
        for (int L = 0; L < V / 16; L++)
            store_bytes(c, out[L], gep8(c, d, mf_cg_i64(c, 64 * L)));
    }
    mf_cg_loop_end(c, &t, 1);
    mf_cg_loop_end(c, &yl, 1);
}

/* col[kq] (dst) for the chunk's npix pixels straight from the four planes (1x1, stride 1,
 * no padding), flipped as they are copied; whole vectors, then the pixels left. */
static void copy_flat(qconv *q, const LLVMValueRef src[4], LLVMValueRef dst, LLVMValueRef npix)
{
    mf_cg_ctx *c = q->c;
    int V = q->V;
    LLVMValueRef flip = byte_splat(q, 0x80, 1);
    LLVMValueRef nvec = mf_cg_ix_udivk(c, npix, V);
    mf_cg_loop t, p;
    mf_cg_loop_begin(c, &t, mf_cg_i64(c, 0), nvec);
    LLVMValueRef r[4];
    for (int j = 0; j < 4; j++)
        r[j] = load_bytes(c, gep8(c, src[j], mf_cg_ix_mulk(c, t.iv, V)), V);
    LLVMValueRef u = LLVMBuildXor(c->B, interleave4(c, r, V), byte_splat(q, 0x80, 4 * V), "");
    store_bytes(c, u, gep8(c, dst, mf_cg_ix_mulk(c, t.iv, 4 * V)));
    mf_cg_loop_end(c, &t, 1);
    mf_cg_loop_begin(c, &p, mf_cg_ix_mulk(c, nvec, V), npix);
    for (int j = 0; j < 4; j++) {
        LLVMValueRef b = LLVMBuildLoad2(c->B, q->i8, gep8(c, src[j], p.iv), "");
        store_bytes(c, LLVMBuildXor(c->B, b, flip, ""), gep8(c, dst, mf_cg_ix_addk(c, mf_cg_ix_mulk(c, p.iv, 4), j)));
    }
    mf_cg_loop_end_scalar(c, &p, 1);
}

/* quads: xp[cq][r][c][j] = u of channel 4 cq + j at input row oy0 sh - ph + r, column
 * c - pw: four rows staged as stage_rows does, then interleaved, V columns at a time (a
 * ninth of the interleaving that copy_rows would do for a 3x3 window: once per input
 * byte, not once per window byte). */
static void stage_quads(qconv *q)
{
    mf_cg_ctx *c = q->c;
    const mf_cg_conv_geom *g = &q->g;
    mf_cg_loop cq, r, t;
    mf_cg_loop_begin(c, &cq, mf_cg_i64(c, 0), mf_cg_i64(c, q->cing / 4));
    mf_cg_loop_begin(c, &r, mf_cg_i64(c, 0), mf_cg_i64(c, q->RIN));
    LLVMValueRef iy = mf_cg_ix_add(c, mf_cg_ix_subk(c, mf_cg_ix_mulk(c, q->oy0, g->sh), g->ph), r.iv);
    for (int j = 0; j < 4; j++) {
        LLVMValueRef plane = gep8(c, q->xg, mf_cg_ix_mulk(c, mf_cg_ix_addk(c, mf_cg_ix_mulk(c, cq.iv, 4), j), g->h * g->w));
        mf_cg_stage_qrow(c, plane, g->h, g->w, iy, g->pw, q->WP, q->V, q->xzp, false, gep8(c, q->xrows, mf_cg_i64(c, j * q->WP)));
    }
    LLVMValueRef dst = gep8(c, q->xp, mf_cg_ix_mulk(c, mf_cg_ix_madd(c, cq.iv, q->RIN, r.iv), 4 * q->WP));
    mf_cg_loop_begin(c, &t, mf_cg_i64(c, 0), mf_cg_i64(c, q->WP / q->V));
    LLVMValueRef rows[4], at = mf_cg_ix_mulk(c, t.iv, q->V);
    for (int j = 0; j < 4; j++)
        rows[j] = load_bytes(c, gep8(c, q->xrows, mf_cg_ix_addk(c, at, j * q->WP)), q->V);
    store_bytes(c, interleave4(c, rows, q->V), gep8(c, dst, mf_cg_ix_mulk(c, at, 4)));
    mf_cg_loop_end(c, &t, 1);
    mf_cg_loop_end(c, &r, 1);
    mf_cg_loop_end(c, &cq, 1);
}

/* quads: col[kq] (dst) for the chunk's nrows valid output rows, V pixels' quads at a time
 * loaded from xp as they are (src: the quad's channels at its tap), every sw-th quad. */
static void copy_quads(qconv *q, LLVMValueRef src, LLVMValueRef dst, LLVMValueRef nrows)
{
    mf_cg_ctx *c = q->c;
    const mf_cg_conv_geom *g = &q->g;
    int V = q->V;
    LLVMTypeRef vq = LLVMVectorType(c->i32, (unsigned)(V * g->sw));
    unsigned pick[4 * MF_CG_MAX_VW];
    for (int p = 0; p < V; p++)
        pick[p] = (unsigned)(p * g->sw);
    mf_cg_loop yl, t;
    mf_cg_loop_begin(c, &yl, mf_cg_i64(c, 0), nrows);
    LLVMValueRef drow = gep8(c, dst, mf_cg_ix_mulk(c, yl.iv, g->ow * 4));
    LLVMValueRef soff = mf_cg_ix_mulk(c, yl.iv, g->sh * q->WP);
    mf_cg_loop_begin(c, &t, mf_cg_i64(c, 0), mf_cg_i64(c, (g->ow + V - 1) / V));
    LLVMValueRef s = mf_cg_ix_add(c, soff, mf_cg_ix_mulk(c, t.iv, V * g->sw));
    LLVMValueRef v = LLVMBuildLoad2(c->B, vq, gep8(c, src, mf_cg_ix_mulk(c, s, 4)), "");
    LLVMSetAlignment(v, 4);
    if (g->sw > 1)
        v = shuffle(c, v, NULL, pick, V);
    LLVMSetAlignment(LLVMBuildStore(c->B, v, gep8(c, drow, mf_cg_ix_mulk(c, t.iv, 4 * V))), 4);
    mf_cg_loop_end(c, &t, 1);
    mf_cg_loop_end(c, &yl, 1);
}

/* quads: quad kq of a window is channels 4 cq .. 4 cq + 3 at tap kq / (cing / 4). */
static LLVMValueRef quad_src(qconv *q, LLVMValueRef kq)
{
    mf_cg_ctx *c = q->c;
    const mf_cg_conv_geom *g = &q->g;
    int64_t nq = q->cing / 4;
    LLVMValueRef tap = mf_cg_ix_udivk(c, kq, nq), cq = LLVMBuildURem(c->B, kq, mf_cg_i64(c, nq), "");
    LLVMValueRef ky = mf_cg_ix_udivk(c, tap, g->kw), kx = LLVMBuildURem(c->B, tap, mf_cg_i64(c, g->kw), "");
    LLVMValueRef row = mf_cg_ix_madd(c, cq, q->RIN, mf_cg_ix_mulk(c, ky, g->dh));
    return gep8(c, q->xp, mf_cg_ix_mulk(c, mf_cg_ix_add(c, mf_cg_ix_mulk(c, row, q->WP), mf_cg_ix_mulk(c, kx, g->dw)), 4));
}

static void im2col(qconv *q)
{
    mf_cg_ctx *c = q->c;
    bool flat = is_flat(&q->g);
    if (q->quads) {
        LLVMValueRef nrows = mf_cg_ix_udivk(c, mf_cg_ix_sub(c, q->pend, q->p0), q->g.ow);
        stage_quads(q);
        mf_cg_loop kq;
        mf_cg_loop_begin(c, &kq, mf_cg_i64(c, 0), mf_cg_i64(c, q->KQ));
        LLVMValueRef dst = gep8(c, q->col, mf_cg_ix_mulk(c, kq.iv, q->CP * 4));
        copy_quads(q, quad_src(q, kq.iv), dst, nrows);
        pad_pixels(q, dst, mf_cg_ix_mulk(c, nrows, q->g.ow));
        mf_cg_loop_end(c, &kq, 1);
        return;
    }
    LLVMValueRef npix = mf_cg_ix_sub(c, q->pend, q->p0), nrows = NULL;
    if (!flat) {
        stage_rows(q);
        nrows = mf_cg_ix_udivk(c, npix, q->g.ow);
    }
    mf_cg_loop kq;
    mf_cg_loop_begin(c, &kq, mf_cg_i64(c, 0), mf_cg_i64(c, q->KQ));
    LLVMValueRef src[4];
    for (int j = 0; j < 4; j++)
        src[j] = window_src(q, kq.iv, j);
    LLVMValueRef dst = gep8(c, q->col, mf_cg_ix_mulk(c, kq.iv, q->CP * 4));
    if (flat)
        copy_flat(q, src, dst, npix);
    else
        copy_rows(q, src, dst, nrows);
    pad_pixels(q, dst, flat ? npix : mf_cg_ix_mulk(c, nrows, q->g.ow));
    mf_cg_loop_end(c, &kq, 1);
}

/* Per channel of the block: (128 + zp) * sum of its weights, its quad past the whole quads
 * (bytes past K are 0), its scale x_scale * w_scale and its bias. */
typedef struct qchan {
    LLVMValueRef row, corr, tail, mult, bias;
} qchan;

/* (128 + zp) * the sum of a channel's weights (row). */
static LLVMValueRef weight_correction(qconv *q, LLVMValueRef row)
{
    mf_cg_ctx *c = q->c;
    LLVMBuildStore(c->B, LLVMConstInt(c->i32, 0, 0), q->wsum);
    mf_cg_loop k;
    mf_cg_loop_begin(c, &k, mf_cg_i64(c, 0), mf_cg_i64(c, q->K));
    LLVMValueRef s = LLVMBuildAdd(c->B, LLVMBuildLoad2(c->B, c->i32, q->wsum, ""), load_i8_as_i32(c, gep8(c, row, k.iv), true), "");
    LLVMBuildStore(c->B, s, q->wsum);
    mf_cg_loop_end(c, &k, 1);
    return LLVMBuildMul(c->B, LLVMBuildLoad2(c->B, c->i32, q->wsum, ""), LLVMConstInt(c->i32, (unsigned long long)(128 + q->xzp), 0), "");
}

static void channel_setup(qconv *q, LLVMValueRef oc, qchan *ch)
{
    mf_cg_ctx *c = q->c;
    ch->row = gep8(c, q->g.wt, mf_cg_ix_mulk(c, oc, q->K));
    if (q->wcorr)
        ch->corr = LLVMBuildMul(c->B, LLVMBuildLoad2(c->B, c->i32, mf_cg_gep_as(c, q->wcorr, oc, MF_I32), ""),
                                LLVMConstInt(c->i32, (unsigned long long)(128 + q->xzp), 0), "");
    else
        ch->corr = weight_correction(q, ch->row);
    ch->tail = LLVMConstInt(c->i32, 0, 0);
    for (int64_t j = 0; j < q->K - q->KF * 4; j++) {
        LLVMValueRef b = load_i8_as_i32(c, gep8(c, ch->row, mf_cg_i64(c, q->KF * 4 + j)), false);
        ch->tail = LLVMBuildOr(c->B, ch->tail, LLVMBuildShl(c->B, b, LLVMConstInt(c->i32, (unsigned long long)(8 * j), 0), ""), "");
    }
    LLVMValueRef ws = LLVMBuildLoad2(c->B, c->f32, mf_cg_gep(c, q->wscale, q->per_channel ? oc : mf_cg_i64(c, 0)), "");
    ch->mult = LLVMBuildFMul(c->B, LLVMConstReal(c->f32, q->xs), ws, "");
    ch->bias = q->g.bias ? LLVMBuildLoad2(c->B, c->f32, mf_cg_gep(c, q->g.bias, oc), "") : LLVMConstReal(c->f32, 0.0);
}

/* The weight quad kq of a channel (four bytes of its row). */
static LLVMValueRef weight_quad(mf_cg_ctx *c, LLVMValueRef row, LLVMValueRef kq)
{
    LLVMValueRef w = LLVMBuildLoad2(c->B, c->i32, gep8(c, row, mf_cg_ix_mulk(c, kq, 4)), "");
    LLVMSetAlignment(w, 1);
    return w;
}

/* ---- qconv_wide: without VNNI the products are int16 (vpmaddwd): each block's weights are
 * widened once into wpk[kq][r] (four int16 of channel r: one i64, the tail quad's bytes
 * past K 0), and col keeps its bytes, widened as the sweep loads them (vpmovzxbw), with the
 * weight-sum correction as with VNNI.  col in int16 took twice the cache: a 7x7 plane's
 * windows with K = 4608 (516 KB) did not stay in a 512 KB L2, and resnet18's 512-channel
 * layers that keep their weights' pairs ran at 74 GOP/s (znver3) against 115+ for the
 * others. */

static LLVMValueRef widen_quad(qconv *q, LLVMValueRef w32)
{
    mf_cg_ctx *c = q->c;
    LLVMValueRef b = LLVMBuildBitCast(c->B, w32, LLVMVectorType(q->i8, 4), "");
    b = LLVMBuildSExt(c->B, b, LLVMVectorType(LLVMInt16TypeInContext(c->C), 4), "");
    return LLVMBuildBitCast(c->B, b, c->i64, "");
}

static void pack_weights(qconv *q, const qchan *ch, int r)
{
    mf_cg_ctx *c = q->c;
    mf_cg_loop k;
    mf_cg_loop_begin(c, &k, mf_cg_i64(c, 0), mf_cg_i64(c, q->KF));
    LLVMValueRef idx = mf_cg_ix_madd(c, k.iv, q->MR, mf_cg_i64(c, r));
    LLVMBuildStore(c->B, widen_quad(q, weight_quad(c, ch->row, k.iv)), LLVMBuildGEP2(c->B, c->i64, q->wpk, &idx, 1, ""));
    mf_cg_loop_end(c, &k, 1);
    if (q->KF < q->KQ) {
        LLVMValueRef last = mf_cg_i64(c, q->KF * q->MR + r);
        LLVMBuildStore(c->B, widen_quad(q, ch->tail), LLVMBuildGEP2(c->B, c->i64, q->wpk, &last, 1, ""));
    }
}

/* Channel r's widened quad kq, in all 4W int16 lanes. */
static LLVMValueRef packed_quad(qconv *q, LLVMValueRef kq, int r)
{
    mf_cg_ctx *c = q->c;
    LLVMValueRef idx = mf_cg_ix_madd(c, kq, q->MR, mf_cg_i64(c, r));
    LLVMValueRef w = LLVMBuildLoad2(c->B, c->i64, LLVMBuildGEP2(c->B, c->i64, q->wpk, &idx, 1, ""), "");
    w = mf_cg_splat(c, w, (unsigned)q->W);
    return LLVMBuildBitCast(c->B, w, LLVMVectorType(LLVMInt16TypeInContext(c->C), (unsigned)(4 * q->W)), "");
}

/* acc[r][v] += col quad kq . weight quad of channel r, for R channels. */
static void tile_step(qconv *q, int R, LLVMValueRef kq, LLVMValueRef pbase, const LLVMValueRef *wq)
{
    mf_cg_ctx *c = q->c;
    LLVMValueRef xv[QC_NV_MAX];
    for (int v = 0; v < q->NV; v++) {
        LLVMValueRef off = mf_cg_ix_mulk(c, mf_cg_ix_add(c, mf_cg_ix_mulk(c, kq, q->CP), mf_cg_ix_addk(c, pbase, (int64_t)v * q->W)), 4);
        LLVMTypeRef t = q->wide ? LLVMVectorType(q->i8, (unsigned)(4 * q->W)) : q->vi32;
        xv[v] = LLVMBuildLoad2(c->B, t, gep8(c, q->col, off), "");
        LLVMSetAlignment(xv[v], 4);
        if (q->wide) /* u as int16: vpmovzxbw on the load */
            xv[v] = LLVMBuildZExt(c->B, xv[v], LLVMVectorType(LLVMInt16TypeInContext(c->C), (unsigned)(4 * q->W)), "");
    }
    for (int r = 0; r < R; r++) {
        LLVMValueRef w = q->wide ? wq[r] : splat_i32(c, wq[r], q->W);
        for (int v = 0; v < q->NV; v++) {
            LLVMValueRef a = q->acc[r * q->NV + v], prev = LLVMBuildLoad2(c->B, q->vacc, a, "");
            LLVMBuildStore(c->B, q->wide ? mf_cg_dot4_wide(c, prev, xv[v], w)
                                 : q->ubsw ? mf_cg_dot4_ubsw_step(c, prev, xv[v], w) : mf_cg_dot4(c, prev, xv[v], w), a);
        }
    }
}

/* A point of the epilogue on the flattened plane (loop dims batch, channel, pixel:
 * mf_cg_epilogue_flattens), its W lanes along loop dim `lane` (2 pixels, 1 channels). */
static mf_cg_point *flat_point(qconv *q, int lane)
{
    mf_cg_point *pt = mf_cg_conv_point(q->core, lane, (unsigned)q->W, q->g.nbd, q->bcoord);
    if (pt) {
        pt->nloop = 3;
        pt->extent[2] = q->P;
        pt->stride_of[2] = 3;
    }
    return pt;
}

/* The tile's codes (requantized sums) through the epilogue, on the flattened plane; masked
 * stores past pend, or none. */
static mf_status tile_codes(qconv *q, int R, LLVMValueRef oc0, LLVMValueRef pbase, const qchan *ch, bool masked)
{
    mf_cg_ctx *c = q->c;
    mf_cg_point *pt = flat_point(q, 2);
    if (!pt)
        return MF_ERR_NOMEM;
    LLVMValueRef lanes[MF_CG_MAX_VW];
    for (int l = 0; l < q->W; l++)
        lanes[l] = LLVMConstInt(c->i64, (unsigned long long)l, 0);
    mf_status err = MF_OK;
    /* 2 or 4 vectors of a channel's codes packed to bytes together (mf_cg_pack_codes) where
     * the codes are stored; ops fused after (a qadd) take them as they are, not unpacked
     * from the bytes again (resnet18's int8 qconv2d+qadd kernels: 3.5 fewer instructions a
     * vector) */
    bool stored = false;
    for (int i = 0; i < q->nepi; i++)
        stored |= q->epi[i] == q->core;
    bool pack = stored && !q->sums_out && (q->NV == 2 || q->NV == 4) && mf_cg_packs_codes(c, (unsigned)q->W);
    for (int r = 0; r < R && !err; r++) {
        pt->coord[1] = mf_cg_ix_addk(c, oc0, r);
        LLVMValueRef codes[QC_NV_MAX], bytes = NULL;
        for (int v = 0; v < q->NV; v++) {
            LLVMValueRef sum = LLVMBuildLoad2(c->B, q->vacc, q->acc[r * q->NV + v], "");
            if (!q->ubsw)
                sum = mf_cg_dot4_sum(c, sum, (unsigned)q->W);
            LLVMValueRef s = q->corr_in_acc ? sum : LLVMBuildSub(c->B, sum, splat_i32(c, ch[r].corr, q->W), "");
            if (q->sums_out) {
                codes[v] = s;
                continue;
            }
            LLVMValueRef y = LLVMBuildFMul(c->B, LLVMBuildSIToFP(c->B, s, q->vf, ""), mf_cg_vsplat(c, ch[r].mult), "");
            y = LLVMBuildFAdd(c->B, y, mf_cg_vsplat(c, ch[r].bias), "");
            codes[v] = mf_cg_requantize(c, y, &q->rq);
        }
        if (pack) { /* in pixel order: vector v's lane l from byte 16 (l / 4) + 4 v + l % 4 (vpermd) */
            LLVMValueRef b = mf_cg_pack_codes(c, codes, q->NV, (unsigned)q->W), order[4 * MF_CG_MAX_VW];
            for (int n = 0; n < q->NV * q->W; n++)
                order[n] = LLVMConstInt(c->i32, (unsigned long long)(16 * (n % q->W / 4) + 4 * (n / q->W) + n % 4), 0);
            bytes = LLVMBuildShuffleVector(c->B, b, LLVMGetPoison(LLVMTypeOf(b)),
                                           LLVMConstVector(order, (unsigned)(q->NV * q->W)), "");
        }
        for (int v = 0; v < q->NV && !err; v++) {
            LLVMValueRef p = mf_cg_ix_add(c, q->p0, mf_cg_ix_addk(c, pbase, (int64_t)v * q->W));
            pt->coord[2] = p;
            LLVMValueRef idx = LLVMBuildAdd(c->B, mf_cg_splat(c, p, (unsigned)q->W), LLVMConstVector(lanes, (unsigned)q->W), "");
            pt->mask = masked ? LLVMBuildICmp(c->B, LLVMIntSLT, idx, mf_cg_splat(c, q->pend, (unsigned)q->W), "") : NULL;
            pt->core_val = codes[v];
            if (bytes) { /* vector v's bytes, as f32 codes: the store's conversion back folds away */
                LLVMValueRef sel[MF_CG_MAX_VW];
                for (int l = 0; l < q->W; l++)
                    sel[l] = LLVMConstInt(c->i32, (unsigned long long)(v * q->W + l), 0);
                LLVMValueRef b = LLVMBuildShuffleVector(c->B, bytes, LLVMGetPoison(LLVMTypeOf(bytes)),
                                                        LLVMConstVector(sel, (unsigned)q->W), "");
                pt->core_val = LLVMBuildSIToFP(c->B, b, q->vf, "");
            }
            pt->nmemo = 0;
            err = mf_cg_store_epilogue(c, pt, q->nepi, q->epi);
        }
    }
    free(pt);
    return err;
}

/* Without masked byte stores (AVX2: LLVM would test and store each byte) a tile inside
 * the chunk's pixels stores unmasked and only the chunk's last tile masks. */
static mf_status tile_finish(qconv *q, int R, LLVMValueRef oc0, LLVMValueRef pbase, const qchan *ch)
{
    mf_cg_ctx *c = q->c;
    if (mf_cg_masked_bytes(c))
        return tile_codes(q, R, oc0, pbase, ch, true);
    LLVMValueRef end = mf_cg_ix_add(c, q->p0, mf_cg_ix_addk(c, pbase, (int64_t)q->NV * q->W));
    LLVMBasicBlockRef whole = LLVMAppendBasicBlockInContext(c->C, c->body, "whole");
    LLVMBasicBlockRef part = LLVMAppendBasicBlockInContext(c->C, c->body, "part");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(c->C, c->body, "join");
    LLVMBuildCondBr(c->B, LLVMBuildICmp(c->B, LLVMIntSLE, end, q->pend, ""), whole, part);
    LLVMPositionBuilderAtEnd(c->B, whole);
    mf_status err = tile_codes(q, R, oc0, pbase, ch, false);
    LLVMBuildBr(c->B, join);
    LLVMPositionBuilderAtEnd(c->B, part);
    if (!err)
        err = tile_codes(q, R, oc0, pbase, ch, true);
    LLVMBuildBr(c->B, join);
    LLVMPositionBuilderAtEnd(c->B, join);
    return err;
}

/* One tile's sums of R channels (acc) over quads [k0, k1): from minus the weight correction
 * (first) or their saved sums at abuf[slot..], through the epilogue (last) or saved again. */
static mf_status tile_pass(qconv *q, int R, LLVMValueRef oc0, const qchan *ch, LLVMValueRef pbase, LLVMValueRef slot,
                           LLVMValueRef k0, LLVMValueRef k1, bool first, bool last)
{
    mf_cg_ctx *c = q->c;
    int nacc = R * q->NV;
    LLVMValueRef saved[QC_MR_MAX * QC_NV_MAX] = {0};
    for (int a = 0; a < nacc && !(first && last); a++) {
        LLVMValueRef idx = mf_cg_ix_addk(c, slot, a);
        saved[a] = LLVMBuildGEP2(c->B, q->vacc, q->abuf, &idx, 1, "");
    }
    for (int a = 0; a < nacc; a++) {
        LLVMValueRef a0 = q->corr_in_acc ? splat_i32(c, LLVMBuildNeg(c->B, ch[a / q->NV].corr, ""), q->W) : LLVMConstNull(q->vacc);
        LLVMBuildStore(c->B, first ? a0 : LLVMBuildLoad2(c->B, q->vacc, saved[a], ""), q->acc[a]);
    }
    mf_cg_loop k;
    mf_cg_loop_begin(c, &k, k0, k1);
    LLVMValueRef wq[QC_MR_MAX] = {0};
    for (int r = 0; r < R; r++)
        wq[r] = q->wide ? packed_quad(q, k.iv, r) : weight_quad(c, ch[r].row, k.iv);
    tile_step(q, R, k.iv, pbase, wq);
    mf_cg_loop_end(c, &k, 1);
    if (last && !q->wide && q->KF < q->KQ) {
        for (int r = 0; r < R; r++)
            wq[r] = ch[r].tail;
        tile_step(q, R, mf_cg_i64(c, q->KF), pbase, wq);
    }
    if (last)
        return tile_finish(q, R, oc0, pbase, ch);
    for (int a = 0; a < nacc; a++)
        LLVMBuildStore(c->B, LLVMBuildLoad2(c->B, q->vacc, q->acc[a], ""), saved[a]);
    return MF_OK;
}

/* The block's sums over quads [k0, k1) on every tile of the chunk (each tile's saved sums at
 * abuf[t MR NV..]: qconv_wide's passes). */
static mf_status sweep(qconv *q, int R, LLVMValueRef oc0, const qchan *ch, LLVMValueRef k0, LLVMValueRef k1, bool first,
                       bool last)
{
    mf_cg_ctx *c = q->c;
    int64_t nr = (int64_t)q->NV * q->W;
    mf_cg_loop t;
    mf_cg_loop_begin(c, &t, mf_cg_i64(c, 0), mf_cg_i64(c, q->CP / nr));
    mf_status err = tile_pass(q, R, oc0, ch, mf_cg_ix_mulk(c, t.iv, nr), mf_cg_ix_mulk(c, t.iv, (int64_t)q->MR * q->NV),
                              k0, k1, first, last);
    mf_cg_loop_end(c, &t, 1);
    return err;
}

/* One pass over quads [k0, k1) of K: the first (sums from their start), a middle one, or
 * the last (through the epilogue); kfirst is k0 where it is a constant, -1 in the loop. */
typedef mf_status qpass_fn(qconv *q, void *ctx, int64_t kfirst, LLVMValueRef k0, LLVMValueRef k1, bool first, bool last);

/* Quads [0, kend) in q->nkb passes of KB: the first, the middle ones in a loop, the last. */
static mf_status each_pass(qconv *q, int64_t kend, qpass_fn *fn, void *ctx)
{
    mf_cg_ctx *c = q->c;
    if (q->nkb <= 1)
        return fn(q, ctx, 0, mf_cg_i64(c, 0), mf_cg_i64(c, kend), true, true);
    mf_status err = fn(q, ctx, 0, mf_cg_i64(c, 0), mf_cg_i64(c, q->KB), true, false);
    if (!err && q->nkb > 2) {
        mf_cg_loop kb;
        mf_cg_loop_begin(c, &kb, mf_cg_i64(c, 1), mf_cg_i64(c, q->nkb - 1));
        LLVMValueRef k0 = mf_cg_ix_mulk(c, kb.iv, q->KB);
        err = fn(q, ctx, -1, k0, mf_cg_ix_addk(c, k0, q->KB), false, false);
        mf_cg_loop_end(c, &kb, 1);
    }
    int64_t klast = (q->nkb - 1) * q->KB;
    return err ? err : fn(q, ctx, klast, mf_cg_i64(c, klast), mf_cg_i64(c, kend), false, true);
}

/* One block of R channels from oc0, the bi-th of the group (bi: its index, for abuf). */
typedef mf_status qblock_fn(qconv *q, void *ctx, int R, LLVMValueRef oc0, LLVMValueRef bi);

/* The item's channel blocks of its group (all, or [blo, bhi) of them): full blocks of MR in
 * a loop, then the rest (in the last range). */
static mf_status each_block(qconv *q, LLVMValueRef grp, qblock_fn *fn, void *ctx)
{
    mf_cg_ctx *c = q->c;
    int64_t nfull = q->coutg / q->MR, rest = q->coutg % q->MR;
    LLVMValueRef lo = q->blo ? q->blo : mf_cg_i64(c, 0), hi = q->bhi ? mf_cg_ix_smink(c, q->bhi, nfull) : mf_cg_i64(c, nfull);
    mf_cg_loop b;
    mf_cg_loop_begin(c, &b, lo, hi);
    mf_status err = fn(q, ctx, q->MR, mf_cg_ix_madd(c, grp, q->coutg, mf_cg_ix_mulk(c, b.iv, q->MR)), b.iv);
    mf_cg_loop_end(c, &b, 1);
    if (err || !rest)
        return err;
    LLVMBasicBlockRef done = NULL;
    if (q->bhi) { /* the rest is the last block: only the last range's */
        LLVMBasicBlockRef last = LLVMAppendBasicBlockInContext(c->C, c->body, "rest");
        done = LLVMAppendBasicBlockInContext(c->C, c->body, "rest.done");
        LLVMBuildCondBr(c->B, LLVMBuildICmp(c->B, LLVMIntSGT, q->bhi, mf_cg_i64(c, nfull), ""), last, done);
        LLVMPositionBuilderAtEnd(c->B, last);
    }
    err = fn(q, ctx, (int)rest, mf_cg_ix_madd(c, grp, q->coutg, mf_cg_i64(c, nfull * q->MR)), mf_cg_i64(c, nfull));
    if (done) {
        LLVMBuildBr(c->B, done);
        LLVMPositionBuilderAtEnd(c->B, done);
    }
    return err;
}

typedef struct block_sweep {
    int R;
    LLVMValueRef oc0;
    const qchan *ch;
} block_sweep;

static mf_status block_pass(qconv *q, void *ctx, int64_t kfirst, LLVMValueRef k0, LLVMValueRef k1, bool first, bool last)
{
    (void)kfirst;
    const block_sweep *bs = ctx;
    return sweep(q, bs->R, bs->oc0, bs->ch, k0, k1, first, last);
}

/* R channels from oc0 over every tile of the chunk's col: along all of K at once, or (qconv_wide:
 * a K whose tiles' windows and weights do not stay in L1) KB quads at a time over all tiles. */
static mf_status block(qconv *q, void *ctx, int R, LLVMValueRef oc0, LLVMValueRef bi)
{
    (void)ctx, (void)bi;
    mf_cg_ctx *c = q->c;
    qchan ch[QC_MR_MAX];
    for (int r = 0; r < R; r++) {
        channel_setup(q, mf_cg_ix_addk(c, oc0, r), &ch[r]);
        if (q->wide)
            pack_weights(q, &ch[r], r);
    }
    block_sweep bs = {R, oc0, ch};
    return each_pass(q, q->wide ? q->KQ : q->KF, block_pass, &bs);
}

/* acc[0] + the quad sums of 4W weight bytes at byte k (valid of them) of row wr. */
static void weight_sum_step(mf_cg_ctx *c, LLVMValueRef xr, LLVMValueRef wr, LLVMValueRef k, int w, int64_t valid,
                            const LLVMValueRef acc[2])
{
    (void)xr;
    LLVMTypeRef vacc = mf_cg_dot4_acc_type(c, (unsigned)w);
    LLVMValueRef ones = splat_i32(c, LLVMConstInt(c->i32, 0x01010101u, 0), w);
    LLVMValueRef wv = mf_cg_load_quads(c, gep8(c, wr, k), w, valid);
    LLVMBuildStore(c->B, mf_cg_dot4(c, LLVMBuildLoad2(c->B, vacc, acc[0], ""), ones, wv), acc[0]);
}

/* While an item's first tile (pbase 0) is swept, wcorr[oc] of the R channels from oc0 gets
 * the sum of their n weight bytes from 4 k0 (set on the first pass, added after): the
 * bytes the pass is about to read, so the sums cost no pass over the weights of their own
 * (a 512-channel 3x3 layer's 2.4 MB are read from memory once, by the sweep).  Each item
 * sums again: its group's channels are its own. */
static void sum_weights(qconv *q, LLVMValueRef pbase, int R, LLVMValueRef oc0, LLVMValueRef k0, int64_t n, bool first)
{
    mf_cg_ctx *c = q->c;
    LLVMBasicBlockRef sum = LLVMAppendBasicBlockInContext(c->C, c->body, "wsum");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->C, c->body, "wsum.done");
    LLVMBuildCondBr(c->B, LLVMBuildICmp(c->B, LLVMIntEQ, pbase, mf_cg_i64(c, 0), ""), sum, done);
    LLVMPositionBuilderAtEnd(c->B, sum);
    LLVMValueRef from = mf_cg_ix_mulk(c, k0, 4);
    for (int r = 0; r < R; r++) {
        LLVMValueRef oc = mf_cg_ix_addk(c, oc0, r), sums[2];
        LLVMValueRef row = gep8(c, q->g.wt, mf_cg_ix_add(c, mf_cg_ix_mulk(c, oc, q->K), from));
        mf_cg_qdot_sums(c, weight_sum_step, row, row, n, q->W, sums);
        LLVMValueRef slot = mf_cg_gep_as(c, q->wcorr, oc, MF_I32);
        LLVMValueRef v = first ? sums[0] : LLVMBuildAdd(c->B, LLVMBuildLoad2(c->B, c->i32, slot, ""), sums[0], "");
        LLVMBuildStore(c->B, v, slot);
    }
    LLVMBuildBr(c->B, done);
    LLVMPositionBuilderAtEnd(c->B, done);
}

typedef struct panel_pass {
    LLVMValueRef grp, pbase, k0, k1;
    int64_t nbytes; /* the weight bytes of the pass */
    bool first, last;
} panel_pass;

/* One block over the tile's panel; block bi's sums between passes at abuf[bi MR NV..]. */
static mf_status panel_block(qconv *q, void *ctx, int R, LLVMValueRef oc0, LLVMValueRef bi)
{
    const panel_pass *pp = ctx;
    sum_weights(q, pp->pbase, R, oc0, pp->k0, pp->nbytes, pp->first);
    qchan ch[QC_MR_MAX];
    for (int r = 0; r < R; r++)
        channel_setup(q, mf_cg_ix_addk(q->c, oc0, r), &ch[r]);
    return tile_pass(q, R, oc0, ch, pp->pbase, mf_cg_ix_mulk(q->c, bi, (int64_t)q->MR * q->NV), pp->k0, pp->k1,
                     pp->first, pp->last);
}

/* Every channel block of the group over one tile's quads [k0, k1); a last pass's weight
 * bytes run from 4 kfirst to K (with the tail's). */
static mf_status panel_blocks(qconv *q, void *ctx, int64_t kfirst, LLVMValueRef k0, LLVMValueRef k1, bool first,
                              bool last)
{
    const panel_pass *tile = ctx;
    panel_pass pp = {tile->grp, tile->pbase, k0, k1, last ? q->K - 4 * kfirst : 4 * q->KB, first, last};
    return each_block(q, tile->grp, panel_block, &pp);
}

/* The chunk's tiles one at a time: every channel block of the group sweeps a panel of KB
 * quads of the tile's windows (in L1) before the next panel, so the windows are read from
 * L1 by every block, not from L2 once a block as a sweep of the whole chunk would. */
static mf_status panel_sweep(qconv *q, LLVMValueRef grp)
{
    mf_cg_ctx *c = q->c;
    int64_t nr = (int64_t)q->NV * q->W;
    mf_cg_loop t;
    mf_cg_loop_begin(c, &t, mf_cg_i64(c, 0), mf_cg_i64(c, q->CP / nr));
    panel_pass tile = {.grp = grp, .pbase = mf_cg_ix_mulk(c, t.iv, nr)};
    mf_status err = each_pass(q, q->KF, panel_blocks, &tile);
    mf_cg_loop_end(c, &t, 1);
    return err;
}

/* ---- oc_sweep: lanes along output channels (AVX2 without VNNI, pairs limited) ---------------
 * A small plane wastes the pixel lanes of the sweeps above: a 7x7 plane (49 pixels) fills 56
 * lanes in MR 8 x NV 1 tiles, 64 in 4 x 2, and each product there costs a broadcast of a
 * weight quad.  With the weights prepacked in quads of QC_OC_NV x 8 channels (the
 * pack-weights pass, mf_qconv_weights_pack), a tile is QC_OC_PX pixels x QC_OC_NV vectors of
 * 8 channels: per quad, QC_OC_NV loads of weights and QC_OC_PX broadcasts of a pixel's
 * window quad (col as above) feed 10 products, and only the last tile of a chunk has idle
 * pixels (on Zen 3, 4 x 2 tiles ran resnet18's 7x7 layers 2-4 % slower, 6 x 2 5 %).  The correction's weight sums come from the packed block (vpmaddubsw by bytes of
 * 1), once a block.  Codes are stored 8 channels at a time, a scatter of bytes a plane
 * apart: little beside the K quads of each tile. */
#define QC_OC_PX 5
#define QC_OC_NV 2

static int64_t oc_block(int W)
{
    return (int64_t)QC_OC_NV * W;
}

/* A chunk's output rows for oc_sweep: as many as 4 col_bytes of windows hold, one at least. */
static int64_t oc_rows(const qconv *q)
{
    int64_t r = 4 * col_bytes(q->c) / (q->KQ * 4 * q->g.ow);
    return r < 1 ? 1 : r > q->g.oh ? q->g.oh : r;
}

/* sweep_score's measure of oc_sweep's tiles, less their scattered epilogue, which costs about
 * QC_OC_EPI_QUADS quads of products: a short K loses (on Zen 3 mobilenet_v2's 1x1 96->576
 * at 14x14, 24 quads, ran 20-28 % slower on channel lanes, 64->384 at 28x28 36 %), a long
 * one gains (its 7x7 960->160, 240 quads, 10 %; 320->1280, 80 quads, 5 %). */
#define QC_OC_EPI_QUADS 16
static double oc_score(const qconv *q)
{
    const mf_cg_conv_geom *g = &q->g;
    int64_t rows = oc_rows(q), nchunk = (g->oh + rows - 1) / rows;
    double useful = (double)(g->oh * g->ow) / (double)(nchunk * chunk_pixels(g, rows, QC_OC_PX));
    return useful * (1.0 - 0.25 * (QC_OC_PX + QC_OC_NV) / (double)(QC_OC_PX * QC_OC_NV)) *
           (double)q->KQ / (double)(q->KQ + QC_OC_EPI_QUADS);
}

/* Whether oc_sweep takes the planned qconv (plan ran): by 2 % more useful work at least, as
 * resnet18's 7x7 layers (0.80 against 0.63); a 14x14 plane of a short K, or a 28x28 one,
 * stays with the pixel lanes. */
static bool oc_applies(const qconv *q)
{
    return q->ubsw && q->c->vw == 8 && !q->sums_out && q->g.groups == 1 && q->K % 4 == 0 &&
           q->coutg % oc_block(q->c->vw) == 0 && oc_score(q) > 1.02 * sweep_score(q, q->MR, q->NV, q->rows);
}

/* The block's weight quad kq, vector v: 8 channels' 4 bytes (packed: quad kq of the block's
 * channels at 4 (kq B + j)). */
static LLVMValueRef oc_weights(qconv *q, LLVMValueRef wb, LLVMValueRef kq, int v)
{
    mf_cg_ctx *c = q->c;
    LLVMValueRef off = mf_cg_ix_mulk(c, mf_cg_ix_addk(c, mf_cg_ix_mulk(c, kq, oc_block(q->W)), (int64_t)v * q->W), 4);
    LLVMValueRef w = LLVMBuildLoad2(c->B, q->vi32, gep8(c, wb, off), "");
    LLVMSetAlignment(w, 4);
    return w;
}

/* The block's (128 + zp) * sum of weights, per vector of channels. */
static void oc_corrections(qconv *q, LLVMValueRef wb, LLVMValueRef corr[QC_OC_NV])
{
    mf_cg_ctx *c = q->c;
    LLVMValueRef ones = splat_i32(c, LLVMConstInt(c->i32, 0x01010101u, 0), q->W);
    for (int v = 0; v < QC_OC_NV; v++)
        LLVMBuildStore(c->B, LLVMConstNull(q->vi32), q->acc[v]);
    mf_cg_loop k;
    mf_cg_loop_begin(c, &k, mf_cg_i64(c, 0), mf_cg_i64(c, q->KQ));
    for (int v = 0; v < QC_OC_NV; v++) {
        LLVMValueRef a = LLVMBuildLoad2(c->B, q->vi32, q->acc[v], "");
        LLVMBuildStore(c->B, mf_cg_dot4_ubsw_step(c, a, ones, oc_weights(q, wb, k.iv, v)), q->acc[v]);
    }
    mf_cg_loop_end(c, &k, 1);
    for (int v = 0; v < QC_OC_NV; v++)
        corr[v] = LLVMBuildMul(c->B, LLVMBuildLoad2(c->B, q->vi32, q->acc[v], ""),
                               splat_i32(c, LLVMConstInt(c->i32, (unsigned long long)(128 + q->xzp), 0), q->W), "");
}

typedef struct oc_block_vals {
    LLVMValueRef oc0, wb;
    LLVMValueRef corr[QC_OC_NV], mult[QC_OC_NV], bias[QC_OC_NV];
} oc_block_vals;

/* Pixel pix's codes of the block's channels through the epilogue, when pix < pend. */
static mf_status oc_store_pixel(qconv *q, mf_cg_point *pt, const oc_block_vals *b, int p, LLVMValueRef pix)
{
    mf_cg_ctx *c = q->c;
    LLVMBasicBlockRef store = LLVMAppendBasicBlockInContext(c->C, c->body, "oc.store");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->C, c->body, "oc.stored");
    LLVMBuildCondBr(c->B, LLVMBuildICmp(c->B, LLVMIntSLT, pix, q->pend, ""), store, done);
    LLVMPositionBuilderAtEnd(c->B, store);
    mf_status err = MF_OK;
    for (int v = 0; v < QC_OC_NV && !err; v++) {
        LLVMValueRef s = LLVMBuildLoad2(c->B, q->vi32, q->acc[p * QC_OC_NV + v], "");
        LLVMValueRef y = LLVMBuildFAdd(c->B, LLVMBuildFMul(c->B, LLVMBuildSIToFP(c->B, s, q->vf, ""), b->mult[v], ""), b->bias[v], "");
        pt->coord[1] = mf_cg_ix_addk(c, b->oc0, (int64_t)v * q->W);
        pt->coord[2] = pix;
        pt->core_val = mf_cg_requantize(c, y, &q->rq);
        pt->nmemo = 0;
        err = mf_cg_store_epilogue(c, pt, q->nepi, q->epi);
    }
    LLVMBuildBr(c->B, done);
    LLVMPositionBuilderAtEnd(c->B, done);
    return err;
}

/* One tile: QC_OC_PX pixels from the chunk's pixel t0 (col's) x the block's channels. */
static mf_status oc_tile(qconv *q, mf_cg_point *pt, const oc_block_vals *b, LLVMValueRef t0)
{
    mf_cg_ctx *c = q->c;
    for (int a = 0; a < QC_OC_PX * QC_OC_NV; a++)
        LLVMBuildStore(c->B, LLVMBuildNeg(c->B, b->corr[a % QC_OC_NV], ""), q->acc[a]);
    mf_cg_loop k;
    mf_cg_loop_begin(c, &k, mf_cg_i64(c, 0), mf_cg_i64(c, q->KQ));
    LLVMValueRef wv[QC_OC_NV];
    for (int v = 0; v < QC_OC_NV; v++)
        wv[v] = oc_weights(q, b->wb, k.iv, v);
    LLVMValueRef row = mf_cg_ix_add(c, mf_cg_ix_mulk(c, k.iv, q->CP), t0);
    for (int p = 0; p < QC_OC_PX; p++) {
        LLVMValueRef x = LLVMBuildLoad2(c->B, c->i32, gep8(c, q->col, mf_cg_ix_mulk(c, mf_cg_ix_addk(c, row, p), 4)), "");
        LLVMSetAlignment(x, 4);
        x = splat_i32(c, x, q->W);
        for (int v = 0; v < QC_OC_NV; v++) {
            LLVMValueRef a = q->acc[p * QC_OC_NV + v];
            LLVMBuildStore(c->B, mf_cg_dot4_ubsw_step(c, LLVMBuildLoad2(c->B, q->vi32, a, ""), x, wv[v]), a);
        }
    }
    mf_cg_loop_end(c, &k, 1);
    mf_status err = MF_OK;
    for (int p = 0; p < QC_OC_PX && !err; p++)
        err = oc_store_pixel(q, pt, b, p, mf_cg_ix_add(c, q->p0, mf_cg_ix_addk(c, t0, p)));
    return err;
}

/* The item's blocks of channels over every tile of the chunk. */
static mf_status oc_sweep(qconv *q)
{
    mf_cg_ctx *c = q->c;
    int64_t B = oc_block(q->W), nblocks = q->coutg / B;
    mf_cg_point *pt = flat_point(q, 1); /* lanes: channels */
    if (!pt)
        return MF_ERR_NOMEM;
    mf_cg_loop bl, t;
    mf_cg_loop_begin(c, &bl, q->blo ? q->blo : mf_cg_i64(c, 0), q->bhi ? q->bhi : mf_cg_i64(c, nblocks));
    oc_block_vals b = {.oc0 = mf_cg_ix_mulk(c, bl.iv, B)};
    b.wb = gep8(c, q->g.wt, mf_cg_ix_mulk(c, bl.iv, B * q->K));
    oc_corrections(q, b.wb, b.corr);
    LLVMValueRef xs = mf_cg_vsplat(c, LLVMConstReal(c->f32, q->xs));
    for (int v = 0; v < QC_OC_NV; v++) {
        LLVMValueRef oc = mf_cg_ix_addk(c, b.oc0, (int64_t)v * q->W);
        LLVMValueRef ws = q->per_channel ? mf_cg_load_f32_as(c, q->vf, mf_cg_gep(c, q->wscale, oc), NULL, MF_F32)
                                         : mf_cg_vsplat(c, LLVMBuildLoad2(c->B, c->f32, q->wscale, ""));
        b.mult[v] = LLVMBuildFMul(c->B, xs, ws, "");
        b.bias[v] = q->g.bias ? mf_cg_load_f32_as(c, q->vf, mf_cg_gep(c, q->g.bias, oc), NULL, MF_F32) : LLVMConstNull(q->vf);
    }
    mf_cg_loop_begin(c, &t, mf_cg_i64(c, 0), mf_cg_i64(c, q->CP / QC_OC_PX));
    mf_status err = oc_tile(q, pt, &b, mf_cg_ix_mulk(c, t.iv, QC_OC_PX));
    mf_cg_loop_end(c, &t, 1);
    mf_cg_loop_end(c, &bl, 1);
    free(pt);
    return err;
}

/* q's geometry and K from n (no code: also for mf_cg_qconv_weight_block). */
static void qconv_geometry(qconv *q, mf_cg_ctx *c, const mf_node *n)
{
    q->c = c;
    q->g = mf_cg_conv_geom_of(n);
    const mf_cg_conv_geom *g = &q->g;
    q->cing = g->cin / g->groups, q->coutg = g->cout / g->groups;
    q->K = q->cing * g->kh * g->kw, q->KQ = (q->K + 3) / 4, q->KF = q->K / 4, q->P = g->oh * g->ow;
    q->sums_out = mf_attr_int(n->op, n->attrs, "acc") != 0;
    q->taps = mf_conv2d_of(n->op, n->attrs).taps_first != 0 && g->kh * g->kw > 1 && q->cing > 1;
    q->quads = q->taps && q->cing % 4 == 0 && !is_flat(g);
    q->xzp = (int)mf_attr_int(n->op, n->attrs, "x_zero_point");
}

/* q for qconv2d node n on a target of this shape, as far as the choice of its weights'
 * layout needs (geometry, ubsw); false where the device does not run n. */
static bool weight_plan(const mf_cg_target_shape *shape, const mf_node *n, mf_cg_ctx *c, qconv *q)
{
    if (n->op != MF_OP_QCONV2D || mf_type_numel(&n->outputs[0]->type) == 0 || mf_node_mlu_limit(n))
        return false;
    *c = (mf_cg_ctx){.shape = mf_cg_int8_shape(shape), .core_number = 1};
    c->vw = c->shape.lanes;
    *q = (qconv){0};
    qconv_geometry(q, c, n);
    q->ubsw = c->shape.ubsw && c->vw == 8 && mf_attr_int(n->op, n->attrs, "w_pair_max") <= MF_UBSW_PAIR_MAX;
    return true;
}

int64_t mf_cg_qconv_weight_block(const mf_cg_target_shape *shape, const mf_node *n)
{
    mf_cg_ctx c;
    qconv q;
    if (!weight_plan(shape, n, &c, &q))
        return 0;
    plan(&q);
    return oc_applies(&q) ? oc_block(c.vw) : 0;
}

/* Taps first wherever the quads would hold whole taps, but for vpmaddubsw's weights: their
 * pairs, promised small for ONNX's order, are not in the new one (resnet18's int8 3x3
 * 64->64 layer at 56x56 spent a fifth of its time interleaving windows, Sapphire Rapids). */
bool mf_cg_qconv_taps_first(const mf_cg_target_shape *shape, const mf_node *n)
{
    mf_cg_ctx c;
    qconv q;
    if (!weight_plan(shape, n, &c, &q))
        return false;
    return !q.ubsw && q.cing % 4 == 0 && q.g.kh * q.g.kw > 1;
}

mf_status mf_cg_lower_qconv(mf_cg_ctx *c, const mf_node *n, int nepi, const mf_value *const *epi)
{
    const mf_type *ot = &n->outputs[0]->type;
    qconv q = {.core = n->outputs[0], .nepi = nepi, .epi = epi};
    qconv_geometry(&q, c, n);
    mf_cg_conv_geom *g = &q.g;
    g->x = mf_cg_anchor_input(c, n, 0);
    g->wt = mf_cg_anchor_input(c, n, 1);
    q.wscale = mf_cg_anchor_input(c, n, 2);
    if (n->ninputs > 3 && !(g->bias = mf_cg_anchor_input(c, n, 3)))
        return MF_ERR_UNSUPPORTED;
    if (!g->x || !g->wt || !q.wscale)
        return MF_ERR_UNSUPPORTED;
    if (mf_type_numel(ot) == 0)
        return MF_OK;
    if (!mf_cg_epilogue_flattens(q.core, nepi, epi))
        return mf_error(MF_ERR_UNSUPPORTED, "codegen: node %d (qconv2d): an epilogue that does not run on the flattened plane", n->id);
    q.per_channel = n->inputs[2]->type.shape[0] != 1;
    q.xs = (float)mf_attr_float(n->op, n->attrs, "x_scale");
    q.rq = mf_cg_requant_of(n);
    if (!q.sums_out && !g->wblock && mf_cg_qdw_choose(c, g)) { /* the depthwise engine ends in requantization */
        mf_cg_qconv_op op = {.g = *g, .core = q.core, .nepi = nepi, .epi = epi, .wscale = q.wscale,
                             .per_channel = q.per_channel, .xs = q.xs, .xzp = q.xzp, .rq = q.rq};
        return mf_cg_emit_qconv_dw(c, &op);
    }
    q.ubsw = mf_cg_dot4_ubsw(c, (unsigned)c->vw, mf_attr_int(n->op, n->attrs, "w_pair_max"));
    q.wide = !q.ubsw && mf_cg_dot4_widens(c, (unsigned)c->vw);
    plan(&q);
    if (g->wblock && (!oc_applies(&q) || g->wblock != oc_block(c->vw)))
        return mf_error(MF_ERR_UNSUPPORTED, "codegen: qconv2d weights packed in blocks of %lld channels, "
                        "which this target's engine does not read (packed for another target?)", (long long)g->wblock);
    if ((q.oc = g->wblock != 0)) { /* one block of channels a sweep, chunks of oc_rows */
        q.rows = oc_rows(&q);
        q.CP = chunk_pixels(g, q.rows, QC_OC_PX);
        q.nchunk = (g->oh + q.rows - 1) / q.rows;
        q.MR = QC_OC_PX, q.NV = QC_OC_NV, q.nkb = 1, q.panels = false;
        plan_input(&q);
    }
    q.i8 = LLVMInt8TypeInContext(c->C);
    q.vi32 = LLVMVectorType(c->i32, (unsigned)q.W);
    q.vf = LLVMVectorType(c->f32, (unsigned)q.W);
    q.vacc = q.ubsw ? q.vi32 : mf_cg_dot4_acc_type(c, (unsigned)q.W);
    q.corr_in_acc = !q.wide && q.vacc == q.vi32;
    /* 4VC bytes past the last quad: a row's last step may run past CP (VC >= V) */
    q.col = mf_cg_entry_alloca(c, LLVMArrayType2(q.i8, (uint64_t)(q.KQ * 4 * q.CP + 4 * q.VC)));
    LLVMSetAlignment(q.col, 64);
    if (!is_flat(g))
        q.xp = mf_cg_entry_alloca(c, LLVMArrayType2(q.i8, (uint64_t)(q.cing * q.RIN * q.WP + q.VC * q.g.sw)));
    if (q.quads)
        q.xrows = mf_cg_entry_alloca(c, LLVMArrayType2(q.i8, (uint64_t)(4 * q.WP)));
    q.wsum = mf_cg_entry_alloca(c, c->i32);
    if (q.wide)
        q.wpk = mf_cg_entry_alloca(c, LLVMArrayType2(c->i64, (uint64_t)(q.KQ * q.MR)));
    if (q.nkb > 1) { /* the wide sweep saves every tile's sums, the panel sweep every block's */
        int64_t nslots = q.panels ? (q.coutg + q.MR - 1) / q.MR : q.CP / ((int64_t)q.NV * q.W);
        q.abuf = mf_cg_entry_alloca(c, LLVMArrayType2(q.vacc, (uint64_t)(nslots * q.MR * q.NV)));
    }
    if (q.panels) { /* sums from 0, the correction subtracted at the end */
        q.wcorr = mf_cg_entry_alloca(c, LLVMArrayType2(c->i32, (uint64_t)g->cout));
        q.corr_in_acc = false;
    }
    for (int a = 0; a < q.MR * q.NV; a++)
        q.acc[a] = mf_cg_entry_alloca(c, q.vacc);

    /* Fewer chunks than partitions (a 7x7 plane is one chunk: resnet18's 512-channel layers
     * ran on one thread of two) or unequal shares: each chunk's blocks of channels in
     * ranges, an item each, which repeat the chunk's im2col */
    int64_t chunks = g->batch * g->groups * q.nchunk;
    int64_t nblocks = q.oc ? q.coutg / oc_block(c->vw) : (q.coutg + q.MR - 1) / q.MR;
    int64_t nsplit = mf_cg_rows_split(chunks, nblocks, c->core_number,
                                      chunks >= c->core_number ? 1 : (c->core_number + chunks - 1) / chunks, QC_SPLIT_MAX);
    LLVMValueRef lo, hi;
    mf_cg_part_range(c, chunks * nsplit, 1, &lo, &hi);
    mf_cg_loop items;
    mf_cg_loop_begin(c, &items, lo, hi);
    int64_t dims[4] = {g->batch, g->groups, q.nchunk, nsplit};
    LLVMValueRef it[4];
    mf_cg_unravel(c, items.iv, 4, dims, it);
    if (nsplit > 1) {
        q.blo = mf_cg_ix_udivk(c, mf_cg_ix_mulk(c, it[3], nblocks), nsplit);
        q.bhi = mf_cg_ix_udivk(c, mf_cg_ix_mulk(c, mf_cg_ix_addk(c, it[3], 1), nblocks), nsplit);
    }
    q.bcoord[0] = it[0];
    q.xg = gep8(c, g->x, mf_cg_ix_add(c, mf_cg_ix_mulk(c, it[0], g->cin * g->h * g->w), mf_cg_ix_mulk(c, it[1], q.cing * g->h * g->w)));
    q.oy0 = mf_cg_ix_mulk(c, it[2], q.rows);
    q.p0 = mf_cg_ix_mulk(c, q.oy0, g->ow);
    q.pend = mf_cg_ix_smink(c, mf_cg_ix_addk(c, q.p0, q.rows * g->ow), q.P);
    im2col(&q);
    mf_status err = q.oc ? oc_sweep(&q) : q.panels ? panel_sweep(&q, it[1]) : each_block(&q, it[1], block, NULL);
    mf_cg_loop_end(c, &items, 1);
    return err;
}

/* ---- qlinear: one output at a time, a dot product along K ---------------------------------- */

/* acc[0] + x . w and acc[1] + 1 . w over one block of 4W bytes of K at byte k. */
static void qlinear_step(mf_cg_ctx *c, LLVMValueRef xr, LLVMValueRef wr, LLVMValueRef k, int w, int64_t valid,
                         const LLVMValueRef acc[2])
{
    LLVMTypeRef vacc = mf_cg_dot4_acc_type(c, (unsigned)w);
    LLVMValueRef flip = splat_i32(c, LLVMConstInt(c->i32, 0x80808080u, 0), w);
    LLVMValueRef ones = splat_i32(c, LLVMConstInt(c->i32, 0x01010101u, 0), w);
    /* masked-off bytes of x read 0 and flip to 128: their weight bytes are 0 */
    LLVMValueRef xu = LLVMBuildXor(c->B, mf_cg_load_quads(c, gep8(c, xr, k), w, valid), flip, "");
    LLVMValueRef wv = mf_cg_load_quads(c, gep8(c, wr, k), w, valid);
    LLVMBuildStore(c->B, mf_cg_dot4(c, LLVMBuildLoad2(c->B, vacc, acc[0], ""), xu, wv), acc[0]);
    LLVMBuildStore(c->B, mf_cg_dot4(c, LLVMBuildLoad2(c->B, vacc, acc[1], ""), ones, wv), acc[1]);
}

mf_status mf_cg_lower_qlinear(mf_cg_ctx *c, const mf_node *n, int nepi, const mf_value *const *epi)
{
    const mf_type *wt = &n->inputs[1]->type, *ot = &n->outputs[0]->type;
    int64_t nout = wt->shape[0], K = wt->shape[1], rows = nout ? mf_type_numel(ot) / nout : 0;
    LLVMValueRef x = mf_cg_anchor_input(c, n, 0), w = mf_cg_anchor_input(c, n, 1), ws = mf_cg_anchor_input(c, n, 2);
    LLVMValueRef bias = NULL;
    if (n->ninputs > 3 && !(bias = mf_cg_anchor_input(c, n, 3)))
        return MF_ERR_UNSUPPORTED;
    if (!x || !w || !ws)
        return MF_ERR_UNSUPPORTED;
    if (rows == 0 || nout == 0)
        return MF_OK;
    int W = c->vw;
    bool per_channel = n->inputs[2]->type.shape[0] != 1;
    float xs = (float)mf_attr_float(n->op, n->attrs, "x_scale");
    int xzp = (int)mf_attr_int(n->op, n->attrs, "x_zero_point");
    mf_cg_requant rq = mf_cg_requant_of(n);
    mf_cg_point *p = mf_cg_conv_point(n->outputs[0], -1, 1, 0, NULL);
    if (!p)
        return MF_ERR_NOMEM;
    LLVMValueRef lo, hi;
    mf_cg_part_range(c, rows * nout, 1, &lo, &hi);
    mf_cg_loop items;
    mf_cg_loop_begin(c, &items, lo, hi);
    LLVMValueRef r = mf_cg_ix_udivk(c, items.iv, nout), j = LLVMBuildURem(c->B, items.iv, mf_cg_i64(c, nout), "");
    LLVMValueRef xr = gep8(c, x, mf_cg_ix_mulk(c, r, K)), wr = gep8(c, w, mf_cg_ix_mulk(c, j, K));
    LLVMValueRef sums[2];
    mf_cg_qdot_sums(c, qlinear_step, xr, wr, K, W, sums);
    LLVMValueRef sum = sums[0], wsum = sums[1];
    sum = LLVMBuildSub(c->B, sum, LLVMBuildMul(c->B, wsum, LLVMConstInt(c->i32, (unsigned long long)(128 + xzp), 0), ""), "");
    LLVMValueRef sc = LLVMBuildLoad2(c->B, c->f32, mf_cg_gep(c, ws, per_channel ? j : mf_cg_i64(c, 0)), "");
    LLVMValueRef y = LLVMBuildFMul(c->B, LLVMBuildSIToFP(c->B, sum, c->f32, ""), LLVMBuildFMul(c->B, LLVMConstReal(c->f32, xs), sc, ""), "");
    y = LLVMBuildFAdd(c->B, y, bias ? LLVMBuildLoad2(c->B, c->f32, mf_cg_gep(c, bias, j), "") : LLVMConstReal(c->f32, 0.0), "");
    mf_cg_unravel(c, r, ot->rank - 1, ot->shape, p->coord);
    p->coord[ot->rank - 1] = j;
    p->core_val = mf_attr_int(n->op, n->attrs, "acc") ? sum : mf_cg_requantize(c, y, &rq);
    p->nmemo = 0;
    mf_status err = mf_cg_store_epilogue(c, p, nepi, epi);
    mf_cg_loop_end(c, &items, 1);
    free(p);
    return err;
}
