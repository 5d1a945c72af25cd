/* lower_winograd.c — the input and output transforms of Winograd F(4,3) (ir/winograd.h;
 * the GEMMs between them are matmul's, the weight transform is folded at compile time).
 * Both are vectorized over tiles.  The input transform's work item is one channel plane (the
 * partitions split channels evenly; each writes its 36 rows of V whole), its vector a group
 * of tiles in consecutive lanes: several tile rows when a row has fewer tiles than lanes.
 * An input row of a group is loaded whole (masked to the image: padding reads zeros) and
 * its 6 tile columns picked out by shuffles; the 1-D transforms share common terms.  The
 * output transform's work item is one tile row of one channel: lane l holds tile tx0 + l,
 * its groups of vw tiles run in a loop, the last group, which may hold fewer tiles, with
 * masks known at compile time, and the 4 x vw pixels of an output row are interleaved on
 * the way out.  Rows of at most half the lanes' tiles go R whole tile rows to a work item
 * (a 14x14 plane: 2 rows of 4 tiles at 8 lanes), so the lanes stay full.  Where a plane's
 * tiles are two such vectors of 8 lanes, the input transform writes each 64-byte line of V
 * whole (line_halves).
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
    LLVMTypeRef vt;                      /* <vw x float> */
    int64_t n, ch, h, w, ph, pw, th, tw; /* images, channels, input (or output) plane, tiles */
    int64_t ngroups;                     /* groups of vw tiles per tile row */
    int R, twg, nv;                      /* input, tiles in the lanes: a group's tile rows, its tiles
                                            a row, the loads of an input row per offset */
    int64_t pstride; /* tiles in the lanes: floats between the 36 planes of V or M */
    mf_dtype xdt;                        /* the input transform's x: f32, or f16 loads widen */
} wino;

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

/* ---- the 1-D transforms, with the common terms shared ------------------------------------ */

/* o[j] = sum_b Bᵀ[j][b] v[b] (ir/winograd.h's rows, factored by hand: the reference kernels,
 * which multiply by the matrices, check it) in 14 operations rather than 22: rows 1 and 2
 * share d1 ± d2 and d3 ± d4, rows 3 and 4 share d4 - d2 and d3 - d1. */
static void bt_apply(wino *e, LLVMValueRef v[6], LLVMValueRef o[6])
{
    mf_cg_ctx *c = e->c;
    LLVMBuilderRef B = c->B;
    LLVMValueRef k4 = mf_cg_fconst(c, e->vt, 4), km4 = mf_cg_fconst(c, e->vt, -4);
    LLVMValueRef k2 = mf_cg_fconst(c, e->vt, 2), km2 = mf_cg_fconst(c, e->vt, -2);
    LLVMValueRef s = LLVMBuildFSub(B, v[4], v[2], ""), u = LLVMBuildFSub(B, v[3], v[1], "");
    o[0] = mf_cg_fmuladd(c, k4, LLVMBuildFSub(B, v[0], v[2], ""), s);              /* 4d0 - 5d2 + d4 */
    o[1] = mf_cg_fmuladd(c, km4, LLVMBuildFAdd(B, v[1], v[2], ""), LLVMBuildFAdd(B, v[3], v[4], ""));
    o[2] = mf_cg_fmuladd(c, k4, LLVMBuildFSub(B, v[1], v[2], ""), LLVMBuildFSub(B, v[4], v[3], ""));
    o[3] = mf_cg_fmuladd(c, k2, u, s);                                             /* -2d1 - d2 + 2d3 + d4 */
    o[4] = mf_cg_fmuladd(c, km2, u, s);
    o[5] = mf_cg_fmuladd(c, km4, u, LLVMBuildFSub(B, v[5], v[3], ""));             /* 4d1 - 5d3 + d5 */
}

/* o[i] = sum_a Aᵀ[i][a] v[a] (factored likewise) in 10 operations rather than 14: v1 ± v2 and
 * v3 ± v4 shared. */
static void at_apply(wino *e, LLVMValueRef v[6], LLVMValueRef o[4])
{
    mf_cg_ctx *c = e->c;
    LLVMBuilderRef B = c->B;
    LLVMValueRef p = LLVMBuildFAdd(B, v[1], v[2], ""), q = LLVMBuildFSub(B, v[1], v[2], "");
    LLVMValueRef s = LLVMBuildFAdd(B, v[3], v[4], ""), t = LLVMBuildFSub(B, v[3], v[4], "");
    o[0] = LLVMBuildFAdd(B, LLVMBuildFAdd(B, v[0], p, ""), s, "");
    o[1] = mf_cg_fmuladd(c, mf_cg_fconst(c, e->vt, 2), t, q);
    o[2] = mf_cg_fmuladd(c, mf_cg_fconst(c, e->vt, 4), s, p);
    o[3] = mf_cg_fmuladd(c, mf_cg_fconst(c, e->vt, 8), t, LLVMBuildFAdd(B, q, v[5], ""));
}

/* ---- the input transform: x[N, C, H, W] -> V[36, C, T] ------------------------------------ */

/* Lane l of a vector of `live` lanes, the others poison: source src[l] of srcs, its lane
 * lane[l].  The sources used are paired by two-source shuffles, and those merged by blends:
 * one instruction a source past the first where the target permutes two registers. */
static LLVMValueRef gather_lanes(mf_cg_ctx *c, LLVMValueRef *srcs, const int *src, const int *lane, int live)
{
    int vw = c->vw, used[MF_CG_MAX_VW], nused = 0, slot[MF_CG_MAX_VW];
    for (int l = 0; l < live; l++) {
        int k = 0;
        while (k < nused && used[k] != src[l])
            k++;
        if (k == nused)
            used[nused++] = src[l];
        slot[l] = k; /* the lane's source among the used ones */
    }
    LLVMValueRef part[MF_CG_MAX_VW], idx[MF_CG_MAX_VW];
    LLVMValueRef undef = LLVMGetUndef(c->i32);
    int n = 0;
    for (int k = 0; k < nused; k += 2, n++) { /* lanes of sources k and k + 1 into place */
        for (int l = 0; l < vw; l++) {
            bool from0 = l < live && slot[l] == k, from1 = l < live && slot[l] == k + 1;
            idx[l] = from0 || from1 ? LLVMConstInt(c->i32, (unsigned long long)(lane[l] + (from1 ? vw : 0)), 0) : undef;
        }
        LLVMValueRef b = k + 1 < nused ? srcs[used[k + 1]] : LLVMGetPoison(LLVMTypeOf(srcs[used[k]]));
        part[n] = LLVMBuildShuffleVector(c->B, srcs[used[k]], b, LLVMConstVector(idx, (unsigned)vw), "");
    }
    /* merge: part p holds the lanes of used sources [2p, 2p + 2) */
    for (int span = 2; n > 1; span *= 2) {
        int m = 0;
        for (int p = 0; p < n; p += 2, m++) {
            if (p + 1 == n) {
                part[m] = part[p];
                continue;
            }
            for (int l = 0; l < vw; l++) {
                int g = l < live ? slot[l] / span : -1; /* the part holding lane l at this level */
                idx[l] = g == p ? LLVMConstInt(c->i32, (unsigned long long)l, 0)
                         : g == p + 1 ? LLVMConstInt(c->i32, (unsigned long long)(vw + l), 0)
                                      : undef;
            }
            part[m] = LLVMBuildShuffleVector(c->B, part[p], part[p + 1], LLVMConstVector(idx, (unsigned)vw), "");
        }
        n = m;
    }
    return part[0];
}

/* gather_lanes for two vectors at once (columns b and b + 1 of the tiles): where the lanes
 * both take from a pair of sources fit in one vector, one shuffle collects them for both,
 * and each result is then one two-source shuffle of those (8 shuffles for 4 columns of 16
 * tiles from 4 registers, not 12). */
static void gather_two(mf_cg_ctx *c, LLVMValueRef *srcs, int (*src)[MF_CG_MAX_VW], int (*lane)[MF_CG_MAX_VW],
                       int live, LLVMValueRef out[2])
{
    int vw = c->vw, used[2 * MF_CG_MAX_VW], nused = 0;
    for (int m = 0; m < 2; m++)
        for (int l = 0; l < live; l++) {
            int k = 0;
            while (k < nused && used[k] != src[m][l])
                k++;
            if (k == nused)
                used[nused++] = src[m][l];
        }
    LLVMValueRef mid[2 * MF_CG_MAX_VW], idx[MF_CG_MAX_VW];
    int nmid = 0, msrc[2][MF_CG_MAX_VW], mlane[2][MF_CG_MAX_VW];
    for (int k = 0; k < nused; k += 2) {
        int s0 = used[k], s1 = k + 1 < nused ? used[k + 1] : -1, n[2] = {0, 0};
        for (int m = 0; m < 2; m++)
            for (int l = 0; l < live; l++)
                n[m] += src[m][l] == s0 || src[m][l] == s1;
        bool shared = n[0] + n[1] <= vw;
        int slot = 0;
        for (int m = 0; m < 2; m++) {
            if (!n[m])
                continue;
            if (!shared || slot == 0)
                for (int l = 0; l < vw; l++)
                    idx[l] = LLVMGetUndef(c->i32);
            for (int l = 0; l < live; l++) {
                if (src[m][l] != s0 && src[m][l] != s1)
                    continue;
                idx[slot] = LLVMConstInt(c->i32, (unsigned long long)(lane[m][l] + (src[m][l] == s1 ? vw : 0)), 0);
                msrc[m][l] = nmid;
                mlane[m][l] = slot++;
            }
            if (!shared || m == 1 || !n[1]) {
                LLVMValueRef b = s1 >= 0 ? srcs[s1] : LLVMGetPoison(LLVMTypeOf(srcs[s0]));
                mid[nmid++] = LLVMBuildShuffleVector(c->B, srcs[s0], b, LLVMConstVector(idx, (unsigned)vw), "");
                slot = 0;
            }
        }
    }
    for (int m = 0; m < 2; m++)
        out[m] = gather_lanes(c, mid, msrc[m], mlane[m], live);
}

/* Loads of one input row of a group: per offset k (0: columns b = 0..3 of each tile, 4: b =
 * 4, 5) e->nv vectors from the group's first column on. */
#define MAX_LOADS (2 * MF_CG_MAX_VW + 8)

/* Where a plane's tiles are two vectors of 8 lanes, each a group of R > 1 tile rows (14x14),
 * the plane's two groups share every 64-byte line of V.  V's planes are channels x 64 bytes
 * apart, 16 KB for resnet18's 256 channels, so the 36 lines a group writes can share the
 * L1's sets, and a line written half at a time was evicted between its halves.  Such a
 * plane's lines are written whole instead: its first group stores its vectors on the stack
 * (stash), the second stores each before its own.  stash NULL: a group on its own; first:
 * the plane's first group.  (M's lines, read half at a time by the output transform, cost
 * less: read whole, 14x14's transform went 0.063-0.065 -> 0.059-0.060 ms in a quiet bench and
 * moved within the noise in resnet18, so it stays as it is.) */
typedef struct line_halves {
    LLVMValueRef stash; /* [36 x <vw x float>] on the stack, or NULL */
    bool first;
} line_halves;

static const line_halves unpaired = {NULL, false};

static bool pairs_lines(const wino *e, int R)
{
    int vw = e->c->vw;
    return R > 1 && e->th == 2 * R && R * e->tw == vw && 2 * vw * (int)sizeof(float) == 64;
}

/* The first and second group's line_halves of a plane. */
static void halves(mf_cg_ctx *c, line_halves *first, line_halves *second)
{
    LLVMValueRef stash = mf_cg_entry_alloca(c, LLVMArrayType2(c->f32, (uint64_t)36 * (uint64_t)c->vw));
    LLVMSetAlignment(stash, 64);
    *first = (line_halves){stash, true};
    *second = (line_halves){stash, false};
}

/* Vector pos of the stash. */
static LLVMValueRef stash_slot(mf_cg_ctx *c, const line_halves *lh, int pos)
{
    return mf_cg_gep(c, lh->stash, mf_cg_i64(c, (int64_t)pos * c->vw));
}

static void store_v(wino *e, const line_halves *vs, LLVMValueRef x, LLVMValueRef at, int pos, LLVMValueRef smask)
{
    mf_cg_ctx *c = e->c;
    if (vs->stash && vs->first) {
        mf_cg_store_f32(c, x, stash_slot(c, vs, pos), NULL);
        return;
    }
    if (vs->stash)
        mf_cg_store_f32(c, mf_cg_load_f32_as(c, e->vt, stash_slot(c, vs, pos), NULL, MF_F32),
                        mf_cg_gep(c, at, mf_cg_i64(c, -c->vw)), NULL);
    mf_cg_store_f32(c, x, at, smask);
}

/* The 36 transformed vectors of one group: R tile rows from ty0 of twg tiles from tx0, lane
 * r * twg + t the tile (ty0 + r, tx0 + t), in channel plane `plane`; vout the group's first
 * tile in V's plane 0 (planes stride apart); smask the live lanes (NULL: all); vs where the
 * vectors go (line_halves).  Rows are transformed as they are loaded (Bᵀ over b), then the
 * columns (over a). */
static void input_group(wino *e, LLVMValueRef plane, LLVMValueRef ty0, LLVMValueRef tx0, LLVMValueRef vout,
                        int64_t stride, LLVMValueRef smask, const line_halves *vs)
{
    mf_cg_ctx *c = e->c;
    int vw = c->vw, R = e->R, twg = e->twg, nv = e->nv, live = R * twg;
    LLVMValueRef ix0 = mf_cg_ix_subk(c, mf_cg_ix_mulk(c, tx0, 4), e->pw), cm[2][4];
    for (int k = 0; k < 2; k++)
        for (int q = 0; q < nv; q++) { /* columns in the image and in the group */
            LLVMValueRef in = lanes_below(c, mf_cg_ix_addk(c, ix0, 4 * k + q * vw), (unsigned)vw, e->w);
            int64_t need = 4 * twg - q * vw;
            cm[k][q] = need >= vw ? in : LLVMBuildAnd(c->B, in, const_mask(c, (unsigned)vw, (unsigned)need), "");
        }
    int src[6][MF_CG_MAX_VW], lane[6][MF_CG_MAX_VW]; /* where lane l of column b comes from */
    for (int b = 0; b < 6; b++)
        for (int l = 0; l < live; l++) {
            int r = l / twg, pos = 4 * (l % twg) + (b < 4 ? b : b - 4);
            src[b][l] = (r * 2 + (b >= 4)) * nv + pos / vw;
            lane[b][l] = pos % vw;
        }
    LLVMValueRef t[6][6];
    for (int a = 0; a < 6; a++) {
        LLVMValueRef ld[MAX_LOADS], d[6];
        for (int r = 0; r < R; r++) {
            LLVMValueRef iy = mf_cg_ix_addk(c, mf_cg_ix_mulk(c, ty0, 4), 4 * r + a - e->ph);
            LLVMValueRef ok = LLVMBuildICmp(c->B, LLVMIntULT, iy, mf_cg_i64(c, e->h), "");
            LLVMValueRef row = mf_cg_gep_as(c, plane, mf_cg_ix_add(c, mf_cg_ix_mulk(c, iy, e->w), ix0), e->xdt);
            for (int k = 0; k < 2; k++)
                for (int q = 0; q < nv; q++) {
                    LLVMValueRef m = LLVMBuildSelect(c->B, ok, cm[k][q], LLVMConstNull(LLVMTypeOf(cm[k][q])), "");
                    LLVMValueRef at = mf_cg_gep_as(c, row, mf_cg_i64(c, 4 * k + q * vw), e->xdt);
                    ld[(r * 2 + k) * nv + q] = mf_cg_load_f32_as(c, e->vt, at, m, e->xdt);
                }
        }
        for (int b = 0; b < 6; b += 2)
            gather_two(c, ld, src + b, lane + b, live, d + b);
        bt_apply(e, d, t[a]); /* t[a][j]: row a times B */
    }
    for (int j = 0; j < 6; j++) {
        LLVMValueRef col[6], v[6];
        for (int a = 0; a < 6; a++)
            col[a] = t[a][j];
        bt_apply(e, col, v);
        for (int i = 0; i < 6; i++)
            store_v(e, vs, v[i], mf_cg_gep(c, vout, mf_cg_i64(c, (i * 6 + j) * stride)), i * 6 + j, smask);
    }
}

/* The groups of one tile row group from ty0: at compile time when a row has one or two
 * groups (the second overlapping the first when twg does not divide tw: it writes some
 * tiles again, with the same values), else in a loop. */
static void input_row_groups(wino *e, LLVMValueRef plane, LLVMValueRef ty0, LLVMValueRef vrow, LLVMValueRef smask,
                             const line_halves *vs)
{
    mf_cg_ctx *c = e->c;
    int64_t ngc = (e->tw + e->twg - 1) / e->twg, stride = e->pstride;
    if (ngc <= 2) {
        for (int64_t g = 0; g < ngc; g++) {
            int64_t tx0 = g ? e->tw - e->twg : 0;
            input_group(e, plane, ty0, mf_cg_i64(c, tx0), mf_cg_gep(c, vrow, mf_cg_i64(c, tx0)), stride, smask, vs);
        }
        return;
    }
    mf_cg_loop gl;
    mf_cg_loop_begin(c, &gl, mf_cg_i64(c, 0), mf_cg_i64(c, ngc));
    LLVMValueRef tx0 = mf_cg_ix_smink(c, mf_cg_ix_mulk(c, gl.iv, e->twg), e->tw - e->twg);
    input_group(e, plane, ty0, tx0, mf_cg_gep(c, vrow, tx0), stride, smask, vs);
    mf_cg_loop_end_scalar(c, &gl, 1);
}

/* A group's tiles (tiles in the lanes): R = vw / tw tile rows when a row has fewer tiles than
 * lanes, at most `rows`, else vw tiles of one row. */
static void input_groups_of(wino *e, int64_t rows)
{
    int vw = e->c->vw;
    e->twg = e->tw < vw ? (int)e->tw : vw;
    e->R = e->tw < vw ? (int)(vw / e->tw < rows ? vw / e->tw : rows) : 1;
    e->nv = (4 * e->twg + vw - 1) / vw;
}

/* Tiles in the lanes.  A work item is one channel plane of one image, so the partitions
 * split the channels evenly and each writes its 36 rows of V from start to end (whole cache
 * lines).  A group is R = vw / tw tile rows when a row has fewer tiles than lanes (the
 * vectors stay full: 4 rows of 4 tiles in 16 lanes), else vw tiles of one row; the last
 * group of rows overlaps the one before when R does not divide th. */
static void lower_input_tiles(wino *e, LLVMValueRef x, LLVMValueRef out)
{
    mf_cg_ctx *c = e->c;
    int64_t T = e->n * e->th * e->tw, ngr = (e->th + e->R - 1) / e->R;
    LLVMValueRef smask = e->R * e->twg < c->vw ? const_mask(c, (unsigned)c->vw, (unsigned)(e->R * e->twg)) : NULL;
    LLVMValueRef lo, hi;
    mf_cg_part_range(c, e->n * e->ch, 1, &lo, &hi);
    mf_cg_loop items, rg;
    mf_cg_loop_begin(c, &items, lo, hi); /* plane n * C + ch */
    LLVMValueRef q[2];
    mf_cg_unravel(c, items.iv, 2, (int64_t[]){e->n, e->ch}, q);
    LLVMValueRef plane = mf_cg_gep_as(c, x, mf_cg_ix_mulk(c, items.iv, e->h * e->w), e->xdt);
    LLVMValueRef vplane = mf_cg_gep(c, out, mf_cg_ix_add(c, mf_cg_ix_mulk(c, q[1], T), mf_cg_ix_mulk(c, q[0], e->th * e->tw)));
    if (ngr == 1) {
        input_row_groups(e, plane, mf_cg_i64(c, 0), vplane, smask, &unpaired);
    } else if (pairs_lines(e, e->R)) {
        /* line_halves: the 14x14 transform took 0.10 ms where 28x28's took 0.08 for twice the
         * data; now 0.07 */
        line_halves first, second;
        halves(c, &first, &second);
        input_row_groups(e, plane, mf_cg_i64(c, 0), vplane, NULL, &first);
        input_row_groups(e, plane, mf_cg_i64(c, e->R), mf_cg_gep(c, vplane, mf_cg_i64(c, (int64_t)e->R * e->tw)), NULL,
                         &second);
    } else {
        mf_cg_loop_begin(c, &rg, mf_cg_i64(c, 0), mf_cg_i64(c, ngr));
        LLVMValueRef ty0 = mf_cg_ix_mulk(c, rg.iv, e->R);
        if (e->th % e->R)
            ty0 = mf_cg_ix_smink(c, ty0, e->th - e->R);
        input_row_groups(e, plane, ty0, mf_cg_gep(c, vplane, mf_cg_ix_mulk(c, ty0, e->tw)), smask, &unpaired);
        mf_cg_loop_end_scalar(c, &rg, 1);
    }
    mf_cg_loop_end(c, &items, 1);
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
    for (int b = 0; b < 6; b++) {
        LLVMValueRef col[6], rb[6];
        for (int a = 0; a < 6; a++)
            col[a] = d[a][b];
        bt_apply(e, col, rb);
        for (int i = 0; i < 6; i++)
            r[i][b] = rb[i];
    }
    for (int i = 0; i < 6; i++) {
        LLVMValueRef v[6];
        bt_apply(e, r[i], v);
        for (int j = 0; j < 6; j++)
            mf_cg_store_f32(c, v[j], mf_cg_gep(c, vout, mf_cg_i64(c, (i * 6 + j) * pstride)), cmask);
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

/* Items are tiles (so few tiles still split evenly over the partitions); per tile, the full
 * channel blocks in a loop, then the tail. */
static void lower_input_cl(wino *e, LLVMValueRef x, LLVMValueRef out)
{
    mf_cg_ctx *c = e->c;
    int64_t T = e->n * e->th * e->tw, full = e->ch / c->vw, tail = e->ch % c->vw;
    mf_cg_loop items, cb;
    LLVMValueRef q[3], lo, hi;
    mf_cg_part_range(c, T, 1, &lo, &hi);
    mf_cg_loop_begin(c, &items, lo, hi);
    mf_cg_unravel(c, items.iv, 3, (int64_t[]){e->n, e->th, e->tw}, q);
    LLVMValueRef xn = mf_cg_gep_as(c, x, mf_cg_ix_mulk(c, q[0], e->ch * e->h * e->w), e->xdt);
    LLVMValueRef iy0 = mf_cg_ix_subk(c, mf_cg_ix_mulk(c, q[1], 4), e->ph);
    LLVMValueRef ix0 = mf_cg_ix_subk(c, mf_cg_ix_mulk(c, q[2], 4), e->pw);
    LLVMValueRef vt0 = mf_cg_gep(c, out, mf_cg_ix_mulk(c, items.iv, e->ch));
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
    mf_cg_loop_end(c, &items, 1);
}

/* The input transform's geometry of winograd_input n: its input's plane, padding and tiles. */
static wino input_of(mf_cg_ctx *c, const mf_node *n)
{
    const mf_type *xt = &n->inputs[0]->type;
    const int64_t *pad = mf_attr_get(n->op, n->attrs, "padding")->ints;
    wino e = {.c = c,
              .vt = LLVMVectorType(c->f32, (unsigned)c->vw),
              .n = xt->shape[0],
              .ch = xt->shape[1],
              .h = xt->shape[2],
              .w = xt->shape[3],
              .ph = pad[0],
              .pw = pad[1],
              .xdt = mf_cg_anchor_dtype(n, 0)};
    e.th = mf_wino_tiles(e.h + 2 * e.ph - 2);
    e.tw = mf_wino_tiles(e.w + 2 * e.pw - 2);
    return e;
}

mf_status mf_cg_lower_winograd_input(mf_cg_ctx *c, const mf_node *n, int nepi,
                                     const mf_value *const *epi)
{
    const mf_type *ot = &n->outputs[0]->type;
    wino e = input_of(c, n);
    LLVMValueRef x = mf_cg_anchor_input(c, n, 0);
    if (!x)
        return MF_ERR_UNSUPPORTED;
    if (mf_type_numel(ot) == 0)
        return MF_OK;
    LLVMValueRef out = c->out_ptr[mf_cg_output_index(c->g, n->outputs[0])];
    if (mf_attr_get(n->op, n->attrs, "channels_last")->i) {
        lower_input_cl(&e, x, out);
        return MF_OK;
    }
    input_groups_of(&e, e.th);
    e.pstride = e.ch * e.n * e.th * e.tw;
    lower_input_tiles(&e, x, out);
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

/* r[i][j] = (Aᵀ m)[i][j] of the 36 vectors m (position a * 6 + j). */
static void at_columns(wino *e, LLVMValueRef m[36], LLVMValueRef r[4][6])
{
    for (int j = 0; j < 6; j++) {
        LLVMValueRef col[6], o[4];
        for (int a = 0; a < 6; a++)
            col[a] = m[a * 6 + j];
        at_apply(e, col, o);
        for (int i = 0; i < 4; i++)
            r[i][j] = o[i];
    }
}

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

/* One group of tiles: 36 loads, Aᵀ m A, then per output row the 4 x vw pixels through the
 * epilogue.  R = 1: tiles from tx0 of tile row ty; last: the group is the row's last, with
 * `live` tiles (compile-time masks), its first pixel px0; else every pixel is inside.
 * R > 1 (rows of tw tiles, fewer than the lanes): nrows whole tile rows from ty, tw tiles
 * each, in consecutive lanes (tx0 0), so no lane loads past them: a 14x14 plane's 4 x 4
 * tiles fill 8 lanes with two rows, where one row filled 4 (masked loads and stores, a
 * quarter of the output transform's time on Zen 3). */
static mf_status output_group(wino_out *o, LLVMValueRef k, LLVMValueRef ty, LLVMValueRef tx0,
                              LLVMValueRef mt, bool last, int64_t live, int64_t px0, int R, int nrows)
{
    wino *e = &o->e;
    mf_cg_ctx *c = e->c;
    LLVMValueRef tmask = last && live < c->vw ? const_mask(c, (unsigned)c->vw, (unsigned)live) : NULL;
    LLVMValueRef m[36], r[4][6];
    for (int p = 0; p < 36; p++)
        m[p] = mf_cg_load_f32_as(c, e->vt, mf_cg_gep(c, mt, mf_cg_i64(c, p * e->pstride)), tmask,
                                 MF_F32);
    at_columns(e, m, r);
    LLVMValueRef bias = o->bias ? mf_cg_vsplat(c, LLVMBuildLoad2(c->B, c->f32, mf_cg_gep(c, o->bias, k), "")) : NULL;
    const mf_type *ot = &o->core->type;
    mf_cg_point *pt = mf_cg_conv_point(o->core, 3, (unsigned)c->vw, 1, o->bcoord);
    if (!pt)
        return MF_ERR_NOMEM;
    pt->coord[1] = k;
    mf_status s = MF_OK;
    LLVMValueRef ox0 = mf_cg_ix_mulk(c, tx0, 4);
    int64_t per_chunk = c->vw / 4; /* tiles of one chunk of vw pixels */
    for (int i = 0; i < 4 && !s; i++) {
        LLVMValueRef y[4];
        at_apply(e, r[i], y);
        for (int j = 0; j < 4 && bias; j++)
            y[j] = LLVMBuildFAdd(c->B, y[j], bias, "");
        LLVMValueRef p01 = pair(c, y[0], y[1]), p23 = pair(c, y[2], y[3]);
        for (int rr = 0; rr < (R > 1 ? nrows : 1) && !s; rr++) {
            LLVMValueRef oy = mf_cg_ix_addk(c, mf_cg_ix_mulk(c, mf_cg_ix_addk(c, ty, rr), 4), i);
            LLVMBasicBlockRef next = NULL;
            if (ot->shape[2] % 4 && i >= ot->shape[2] % 4) { /* rows past the bottom of the last tile row */
                LLVMBasicBlockRef row = LLVMAppendBasicBlockInContext(c->C, c->body, "row");
                next = LLVMAppendBasicBlockInContext(c->C, c->body, "next");
                LLVMBuildCondBr(c->B, LLVMBuildICmp(c->B, LLVMIntSLT, oy, mf_cg_i64(c, ot->shape[2]), ""), row, next);
                LLVMPositionBuilderAtEnd(c->B, row);
            }
            pt->coord[2] = oy;
            for (int q = 0; q < 4 && !s; q++) {
                /* the chunk's first pixel in its tile row (R > 1: chunks of other rows skipped) */
                int64_t first = (int64_t)q * c->vw;
                if (R > 1) {
                    if (q * per_chunk / e->tw != rr)
                        continue;
                    first = (q * per_chunk - rr * e->tw) * 4;
                }
                if (last && px0 + first >= ot->shape[3])
                    continue; /* wholly right of the image */
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
    }
    free(pt);
    return s;
}

/* Rows of fewer tiles than half the lanes: R whole tile rows a vector, when a chunk of vw
 * pixels never spans two of them; else 1. */
static int output_rows_per(const wino *e)
{
    int vw = e->c->vw;
    return e->tw * 2 <= vw && vw >= 4 && e->tw % (vw / 4) == 0 ? (int)(vw / e->tw) : 1;
}

/* Channel k's tile row ty (R 1), its tiles from mk on: groups of vw tiles in a loop, then the
 * last, masked at compile time. */
static mf_status output_row(wino_out *o, LLVMValueRef k, LLVMValueRef ty, LLVMValueRef mk)
{
    wino *e = &o->e;
    mf_cg_ctx *c = e->c;
    mf_status s = MF_OK;
    if (e->ngroups > 1) {
        mf_cg_loop gl;
        mf_cg_loop_begin(c, &gl, mf_cg_i64(c, 0), mf_cg_i64(c, e->ngroups - 1));
        LLVMValueRef tx0 = mf_cg_ix_mulk(c, gl.iv, c->vw);
        s = output_group(o, k, ty, tx0, mf_cg_gep(c, mk, tx0), false, c->vw, 0, 1, 1);
        mf_cg_loop_end_scalar(c, &gl, 1);
    }
    int64_t last = (e->ngroups - 1) * c->vw;
    return s ? s
             : output_group(o, k, ty, mf_cg_i64(c, last), mf_cg_gep(c, mk, mf_cg_i64(c, last)),
                            true, e->tw - last, 4 * last, 1, 1);
}

/* nrows whole tile rows from ty in one vector (R of them a group), at mt. */
static mf_status output_rows(wino_out *o, LLVMValueRef k, LLVMValueRef ty, LLVMValueRef mt, int R, int nrows)
{
    return output_group(o, k, ty, mf_cg_i64(o->e.c, 0), mt, true, nrows * o->e.tw, 0, R, nrows);
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
        m[p] = mf_cg_load_f32_as(c, e->vt, mf_cg_gep(c, mt, mf_cg_i64(c, p * pstride)), kmask, MF_F32);
    at_columns(e, m, r);
    LLVMValueRef bias = o->bias ? mf_cg_load_f32_as(c, e->vt, mf_cg_gep(c, o->bias, k0), kmask, MF_F32) : NULL;
    pt->coord[1] = k0;
    pt->mask = kmask;
    mf_status s = MF_OK;
    for (int i = 0; i < 4 && !s; i++) {
        LLVMValueRef yi[4];
        at_apply(e, r[i], yi);
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
            LLVMValueRef y = yi[j];
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

/* The output transform of winograd_output n: its output's plane and tiles, its epilogue and
 * bias (NULL when its pointer is missing: *ok false). */
static wino_out output_of(mf_cg_ctx *c, const mf_node *n, int nepi, const mf_value *const *epi,
                          bool *ok)
{
    const mf_type *ot = &n->outputs[0]->type;
    wino_out o = {.e = {.c = c, .vt = LLVMVectorType(c->f32, (unsigned)c->vw),
                        .n = ot->shape[0],
                        .ch = ot->shape[1], .h = ot->shape[2], .w = ot->shape[3]},
                  .core = n->outputs[0], .nepi = nepi, .epi = epi};
    o.e.th = mf_wino_tiles(o.e.h);
    o.e.tw = mf_wino_tiles(o.e.w);
    o.e.ngroups = (o.e.tw + c->vw - 1) / c->vw;
    *ok = n->ninputs < 2 || (o.bias = mf_cg_anchor_input(c, n, 1)) != NULL;
    return o;
}

mf_status mf_cg_lower_winograd_output(mf_cg_ctx *c, const mf_node *n, int nepi,
                                      const mf_value *const *epi)
{
    const mf_type *ot = &n->outputs[0]->type;
    bool cl = mf_attr_get(n->op, n->attrs, "channels_last")->i != 0, ok;
    wino_out o = output_of(c, n, nepi, epi, &ok);
    wino *e = &o.e;
    o.m = mf_cg_anchor_input(c, n, 0);
    if (!ok || !o.m)
        return MF_ERR_UNSUPPORTED;
    if (mf_type_numel(ot) == 0)
        return MF_OK;
    if (cl)
        return lower_output_cl(&o);
    int64_t T = e->n * e->th * e->tw;
    e->pstride = e->ch * T;
    int R = output_rows_per(e);
    int64_t nrg = (e->th + R - 1) / R, full = e->th / R; /* groups of R tile rows; whole ones */
    LLVMValueRef lo, hi;
    mf_cg_part_range(c, e->n * e->ch * nrg, 1, &lo, &hi);
    mf_cg_loop items;
    mf_cg_loop_begin(c, &items, lo, hi); /* R tile rows of one channel of one image */
    LLVMValueRef q[3];
    mf_cg_unravel(c, items.iv, 3, (int64_t[]){e->n, e->ch, nrg}, q);
    o.bcoord[0] = q[0];
    LLVMValueRef ty = mf_cg_ix_mulk(c, q[2], R);
    LLVMValueRef tbase = mf_cg_ix_mulk(c, mf_cg_ix_madd(c, q[0], e->th, ty), e->tw);
    LLVMValueRef mk = mf_cg_gep(c, o.m, mf_cg_ix_add(c, mf_cg_ix_mulk(c, q[1], T), tbase));
    mf_status s = MF_OK;
    if (R > 1) {
        if (full == nrg) {
            s = output_rows(&o, q[1], ty, mk, R, R);
        } else { /* the last group has th % R rows */
            LLVMBasicBlockRef whole = LLVMAppendBasicBlockInContext(c->C, c->body, "rows.whole");
            LLVMBasicBlockRef part = LLVMAppendBasicBlockInContext(c->C, c->body, "rows.part");
            LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(c->C, c->body, "rows.join");
            LLVMBuildCondBr(c->B, LLVMBuildICmp(c->B, LLVMIntSLT, q[2], mf_cg_i64(c, full), ""), whole, part);
            LLVMPositionBuilderAtEnd(c->B, whole);
            s = output_rows(&o, q[1], ty, mk, R, R);
            LLVMBuildBr(c->B, join);
            LLVMPositionBuilderAtEnd(c->B, part);
            if (!s)
                s = output_rows(&o, q[1], ty, mk, R, (int)(e->th % R));
            LLVMBuildBr(c->B, join);
            LLVMPositionBuilderAtEnd(c->B, join);
        }
        mf_cg_loop_end(c, &items, 1);
        return s;
    }
    s = output_row(&o, q[1], ty, mk);
    mf_cg_loop_end(c, &items, 1);
    return s;
}

/* ---- the whole conv as one kernel: a Winograd chain (ir/winograd_chain.c) ----------------
 * A work item is a block of tile rows of one image (and, where the blocks are fewer than the
 * partitions, one of kg groups of passes over the output channels).  It transforms the
 * block's tiles of every input channel into a stack buffer V laid out as the matmul's
 * operand ([36][C][tb], tb the block's tiles padded to whole vectors, the padding zeroed;
 * skipped when the partition's item before had the same block); then, KC output channels at
 * a time, multiplies U's 36 matrices by it into a second buffer ([36][KC][tb]; plane by
 * plane, so each plane's KC rows of U are one stretch of memory) and transforms those KC
 * channels back, with the epilogue.  V and the products stay in L2, where the three kernels
 * of the unfused chain sent both through memory (1.8 MB each way for resnet18's 56x56
 * layers). */

/* The products' buffer at most: it is read back plane by plane while it is still in L2. */
#define CHAIN_PRODUCTS_BYTES (256 << 10)
/* How far ahead in U the GEMM's steps prefetch (a plain GEP: past U's end it is only a hint).
 * resnet18's four 56x56 layers (their 64x64 U is 590 KB, in L2), in blocks of three tile rows,
 * 100 runs a round: 2.65-2.86 ms at 4-8 KB ahead, 2.76-2.86 at 1-2 KB, 2.73-3.07 without. */
#define CHAIN_PREFETCH_FLOATS 1024

typedef struct wchain {
    wino in;      /* the input transform: x's plane, C channels */
    wino_out out; /* the output transform: K channels, its epilogue */
    LLVMValueRef x, u, vbuf, mbuf;
    LLVMValueRef vblock; /* i64: the block (image x nrb + block) whose tiles vbuf holds, or -1 */
    int64_t C, K, block; /* U's packing block (matmul's `packed`; 0: plain) */
    int64_t rb, nrb, rl; /* tile rows a block, blocks an image, the last block's rows */
    int64_t KC;          /* output channels a pass over the planes (a multiple of R dividing K) */
    int64_t kg;          /* groups of those passes a block splits into (work items) */
    int R, NV;           /* the register tile: output channels x vectors of tiles */
    LLVMValueRef acc[MF_CG_PANEL_MR_MAX * MF_CG_PANEL_NV_MAX];
} wchain;

/* Tiles of a block of `rows` tile rows, padded to whole vectors. */
static int64_t chain_tb(const wchain *w, int64_t rows)
{
    int64_t vw = w->in.c->vw, t = rows * w->in.tw;
    return (t + vw - 1) / vw * vw;
}

/* The output channels of a pass over blocks of tb tiles: the most whole multiples of `unit`
 * (R) dividing K into a multiple of `groups` passes whose products fit CHAIN_PRODUCTS_BYTES,
 * at least one unit; 0 when no such multiple divides K so. */
static int64_t chain_kc(const wchain *w, int64_t unit, int64_t tb, int64_t groups)
{
    int64_t best = 0;
    for (int64_t kc = unit; kc <= w->K; kc += unit)
        if (w->K % kc == 0 && (w->K / kc) % groups == 0 &&
            (!best ||
             (int64_t)MF_WINO_P * kc * tb * (int64_t)sizeof(float) <= CHAIN_PRODUCTS_BYTES))
            best = kc;
    return best;
}

/* The register tile: R output channels (a divisor of U's packing block, or of K when plain,
 * so no tile straddles two blocks) x NV vectors of tiles (of nvec), the most accumulators
 * the target holds; of equal counts the one with fewer operands a step. */
static void chain_tile(wchain *w, int64_t nvec)
{
    mf_cg_ctx *c = w->in.c;
    int64_t unit = w->block ? w->block : w->K;
    int accs = mf_cg_tile_accs(&c->shape), best = 0;
    w->R = 1, w->NV = 1;
    for (int r = 1; r <= MF_CG_PANEL_MR_MAX && r <= unit; r++) {
        int64_t nv = accs / r < nvec ? accs / r : nvec;
        nv = nv < MF_CG_PANEL_NV_MAX ? nv : MF_CG_PANEL_NV_MAX;
        if (unit % r || nv < 1)
            continue;
        if (r * nv > best || (r * nv == best && r + nv < w->R + w->NV))
            best = r * (int)nv, w->R = r, w->NV = (int)nv;
    }
}

/* Blocks of tile rows that leave the fewest lanes empty over the plane (a 14-tile row fills
 * 14 of 16 lanes as well as two rows fill 28 of 32; a 6x6 grid of tiles takes 48 lanes in
 * blocks of 2 rows where blocks of 5 and 1 took 64, and shared out 5 : 1 over two threads:
 * mnist_net's 24x24 layer ran 10 % slower on one thread and 25 % on two than the three
 * kernels), then rows that divide the plane's (no second copy of the code for a last block of
 * other rows: resnet18's compile took 100-150 ms longer), then the fewest (blocks of two rows
 * ran resnet18's 56x56 layers as fast as blocks of one on one core, 15 % slower on two
 * threads: their seven blocks shared out 4 : 3, fourteen 7 : 7); among those whose tiles are
 * one register tile's vectors (each input channel's row of V is what an FMA step loads, so
 * the GEMM reads V as one stretch; two chunks of a wider row ran those GEMMs at 60-65 % of
 * the peak) and whose buffers fit MF_WINOGRAD_CHAIN_BUFFER (the recognizer made sure one row
 * of tiles does); then the register tile, the channels of a pass, and where the blocks are
 * fewer than the partitions, groups of passes (work items), so that every partition has one. */
static void chain_plan(wchain *w)
{
    mf_cg_ctx *c = w->in.c;
    int64_t th = w->in.th, unit = w->block ? w->block : 1, best = -1;
    bool best_divides = false;
    w->rb = 1;
    for (int64_t r = 1; r <= th; r++) {
        int64_t tb = chain_tb(w, r), nrb = (th + r - 1) / r;
        int64_t bytes = (int64_t)MF_WINO_P * (w->C * tb + chain_kc(w, unit, tb, 1) * tb) *
                        (int64_t)sizeof(float);
        chain_tile(w, tb / c->vw);
        if (bytes > MF_WINOGRAD_CHAIN_BUFFER || w->NV * c->vw != tb)
            continue;
        int64_t lanes = (nrb - 1) * tb + chain_tb(w, th - (nrb - 1) * r); /* over the plane */
        bool divides = th % r == 0;
        if (best < 0 || lanes < best || (lanes == best && divides && !best_divides))
            best = lanes, best_divides = divides, w->rb = r;
    }
    w->nrb = (th + w->rb - 1) / w->rb;
    w->rl = th - (w->nrb - 1) * w->rb;
    chain_tile(w, chain_tb(w, w->rb) / c->vw);
    /* a pass is whole tiles, and whole packing blocks (one stretch of each plane of U) */
    int64_t step = w->block > w->R ? w->block : w->R, blocks = w->in.n * w->nrb;
    w->kg = blocks < c->core_number ? (c->core_number + blocks - 1) / blocks : 1;
    /* step divides K (a packing block does, R divides it or K): one group always has a pass */
    while (!(w->KC = chain_kc(w, step, chain_tb(w, w->rb), w->kg)))
        w->kg--;
}

typedef struct chain_step {
    mf_cg_ctx *c;
    LLVMTypeRef vt;
    LLVMValueRef urow, vrow; /* input channel ci's weight of the tile's row 0, its tiles */
    int64_t rs;              /* floats between the weights of two rows */
} chain_step;

static LLVMValueRef step_u(void *ctx, int j)
{
    chain_step *st = ctx;
    mf_cg_ctx *c = st->c;
    LLVMValueRef at = mf_cg_gep(c, st->urow, mf_cg_i64(c, j * st->rs));
    return mf_cg_vsplat(c, LLVMBuildLoad2(c->B, c->f32, at, ""));
}

static LLVMValueRef step_v(void *ctx, int v)
{
    chain_step *st = ctx;
    mf_cg_ctx *c = st->c;
    return mf_cg_load_f32_as(c, st->vt, mf_cg_gep(c, st->vrow, mf_cg_i64(c, (int64_t)v * c->vw)),
                             NULL, MF_F32);
}

/* One register tile's sums: R output channels (U's rows from up) x nv vectors of tiles from
 * tile t0 (i64), over every input channel, into the products at mk. */
static void chain_tile_sums(wchain *w, LLVMValueRef up, LLVMValueRef vp, LLVMValueRef mk,
                            LLVMValueRef t0, int nv, int64_t tb)
{
    mf_cg_ctx *c = w->in.c;
    LLVMTypeRef vt = w->in.vt;
    int64_t B = w->block, cs = B ? B : 1, rs = B ? 1 : w->C;
    for (int a = 0; a < w->R * nv; a++)
        LLVMBuildStore(c->B, mf_cg_fconst(c, vt, 0.0), w->acc[a]);
    mf_cg_loop ci;
    mf_cg_loop_begin(c, &ci, mf_cg_i64(c, 0), mf_cg_i64(c, w->C));
    chain_step st = {c, vt, mf_cg_gep(c, up, mf_cg_ix_mulk(c, ci.iv, cs)),
                     mf_cg_gep(c, vp, mf_cg_ix_add(c, mf_cg_ix_mulk(c, ci.iv, tb), t0)), rs};
    /* U's stretch ahead: its weights come from L2 (or memory), a line every other step */
    mf_cg_prefetch(c,
                   LLVMBuildGEP2(c->B, c->f32, st.urow,
                                 (LLVMValueRef[]){mf_cg_i64(c, CHAIN_PREFETCH_FLOATS)}, 1, ""),
                   3);
    mf_cg_tile_fmas(c, w->R, nv, w->acc, step_u, step_v, &st);
    mf_cg_loop_end(c, &ci, 1);
    LLVMValueRef mt = mf_cg_gep(c, mk, t0);
    for (int j = 0; j < w->R; j++)
        for (int v = 0; v < nv; v++)
            mf_cg_store_f32(c, LLVMBuildLoad2(c->B, vt, w->acc[j * nv + v], ""),
                            mf_cg_gep(c, mt, mf_cg_i64(c, j * tb + (int64_t)v * c->vw)), NULL);
}

/* The products of output channels [k0, k0 + KC) over a block of tb tiles: mbuf[p][k - k0][t]
 * = sum over ci of U[p][k][ci] V[p][ci][t], a register tile of R channels x NV vectors of
 * tiles at a time.  Packed, U's plane p holds blocks of B channels as [C][B]; plain, [K][C]. */
static void chain_products(wchain *w, LLVMValueRef k0, int64_t tb)
{
    mf_cg_ctx *c = w->in.c;
    int64_t C = w->C, K = w->K, B = w->block, KC = w->KC, nvec = tb / c->vw;
    mf_cg_loop p, kt;
    mf_cg_loop_begin(c, &p, mf_cg_i64(c, 0), mf_cg_i64(c, MF_WINO_P));
    LLVMValueRef uplane = mf_cg_gep(c, w->u, mf_cg_ix_mulk(c, p.iv, K * C));
    LLVMValueRef vp = mf_cg_gep(c, w->vbuf, mf_cg_ix_mulk(c, p.iv, C * tb));
    LLVMValueRef mp = mf_cg_gep(c, w->mbuf, mf_cg_ix_mulk(c, p.iv, KC * tb));
    mf_cg_loop_begin(c, &kt, mf_cg_i64(c, 0), mf_cg_i64(c, KC / w->R));
    LLVMValueRef k = mf_cg_ix_add(c, k0, mf_cg_ix_mulk(c, kt.iv, w->R));
    LLVMValueRef up =
        mf_cg_gep(c, uplane,
                  B ? mf_cg_ix_add(c, mf_cg_ix_mulk(c, mf_cg_ix_udivk(c, k, B), B * C),
                                   LLVMBuildURem(c->B, k, mf_cg_i64(c, B), ""))
                    : mf_cg_ix_mulk(c, k, C));
    LLVMValueRef mk = mf_cg_gep(c, mp, mf_cg_ix_mulk(c, kt.iv, w->R * tb));
    int64_t nfull = nvec / w->NV, rest = nvec % w->NV;
    if (nfull == 1) {
        chain_tile_sums(w, up, vp, mk, mf_cg_i64(c, 0), w->NV, tb);
    } else if (nfull > 1) { /* whole register tiles in a loop: one copy of the code for any row */
        mf_cg_loop q;
        mf_cg_loop_begin(c, &q, mf_cg_i64(c, 0), mf_cg_i64(c, nfull));
        chain_tile_sums(w, up, vp, mk, mf_cg_ix_mulk(c, q.iv, (int64_t)w->NV * c->vw), w->NV, tb);
        mf_cg_loop_end_scalar(c, &q, 1);
    }
    if (rest)
        chain_tile_sums(w, up, vp, mk, mf_cg_i64(c, nfull * w->NV * c->vw), (int)rest, tb);
    mf_cg_loop_end_scalar(c, &kt, 1);
    mf_cg_loop_end_scalar(c, &p, 1);
}

/* Output channel k's tile rows [ty0, ty0 + rows) from its products at mk (tile rows tw
 * apart), through the epilogue. */
static mf_status chain_output_rows(wino_out *o, LLVMValueRef k, LLVMValueRef ty0, int64_t rows,
                                   LLVMValueRef mk)
{
    wino *e = &o->e;
    mf_cg_ctx *c = e->c;
    int R = output_rows_per(e);
    int64_t full = rows / R, rem = rows % R;
    mf_status s = MF_OK;
    if (full) {
        mf_cg_loop g;
        mf_cg_loop_begin(c, &g, mf_cg_i64(c, 0), mf_cg_i64(c, full));
        LLVMValueRef ty = mf_cg_ix_add(c, ty0, mf_cg_ix_mulk(c, g.iv, R));
        LLVMValueRef at = mf_cg_gep(c, mk, mf_cg_ix_mulk(c, g.iv, R * e->tw));
        s = R > 1 ? output_rows(o, k, ty, at, R, R) : output_row(o, k, ty, at);
        mf_cg_loop_end_scalar(c, &g, 1);
    }
    if (rem && !s)
        s = output_rows(o, k, mf_cg_ix_addk(c, ty0, full * R),
                        mf_cg_gep(c, mk, mf_cg_i64(c, full * R * e->tw)), R, (int)rem);
    return s;
}

/* The padding lanes of V's rows for blocks of `rows` tile rows: zeros, so that no garbage
 * (a NaN, a denormal) goes through the FMAs; the output transform never reads their products.
 * The whole blocks' once a call (whole blocks never write them; a last block, whose rows lie
 * tb(rl) apart, leaves finite values of its own there); the last block's before it. */
static void chain_zero_padding(wchain *w, int64_t rows)
{
    mf_cg_ctx *c = w->in.c;
    int64_t tb = chain_tb(w, rows), used = rows * w->in.tw;
    if (used == tb)
        return;
    mf_cg_loop z;
    mf_cg_loop_begin(c, &z, mf_cg_i64(c, 0), mf_cg_i64(c, MF_WINO_P * w->C));
    mf_cg_store_f32(c, mf_cg_fconst(c, w->in.vt, 0.0),
                    mf_cg_gep(c, w->vbuf, mf_cg_ix_addk(c, mf_cg_ix_mulk(c, z.iv, tb), used)),
                    const_mask(c, (unsigned)c->vw, (unsigned)(tb - used)));
    mf_cg_loop_end_scalar(c, &z, 1);
}

/* The block of `rows` tile rows from ty0 of image xn (its first channel plane), passes
 * [kc0, kc1) over the output channels. */
static mf_status chain_block(wchain *w, LLVMValueRef xn, LLVMValueRef ty0, int64_t rows,
                             LLVMValueRef block, LLVMValueRef kc0, LLVMValueRef kc1)
{
    wino *e = &w->in;
    mf_cg_ctx *c = e->c;
    int64_t tb = chain_tb(w, rows);
    /* the block's V, unless this partition's item before was the same block's */
    LLVMBasicBlockRef input = LLVMAppendBasicBlockInContext(c->C, c->body, "chain.input");
    LLVMBasicBlockRef have = LLVMAppendBasicBlockInContext(c->C, c->body, "chain.have");
    LLVMBuildCondBr(
        c->B,
        LLVMBuildICmp(c->B, LLVMIntNE, LLVMBuildLoad2(c->B, c->i64, w->vblock, ""), block, ""),
        input, have);
    LLVMPositionBuilderAtEnd(c->B, input);
    LLVMBuildStore(c->B, block, w->vblock);
    if (rows != w->rb)
        chain_zero_padding(w, rows);
    input_groups_of(e, rows);
    e->pstride = w->C * tb;
    LLVMValueRef smask =
        e->R * e->twg < c->vw ? const_mask(c, (unsigned)c->vw, (unsigned)(e->R * e->twg)) : NULL;
    int64_t ngr = (rows + e->R - 1) / e->R;
    mf_cg_loop ch, rg;
    mf_cg_loop_begin(c, &ch, mf_cg_i64(c, 0), mf_cg_i64(c, w->C));
    LLVMValueRef plane = mf_cg_gep_as(c, xn, mf_cg_ix_mulk(c, ch.iv, e->h * e->w), e->xdt);
    LLVMValueRef vrow = mf_cg_gep(c, w->vbuf, mf_cg_ix_mulk(c, ch.iv, tb));
    mf_cg_loop_begin(c, &rg, mf_cg_i64(c, 0), mf_cg_i64(c, ngr));
    LLVMValueRef tyr =
        mf_cg_ix_smink(c, mf_cg_ix_mulk(c, rg.iv, e->R), rows - e->R); /* the last overlaps */
    input_row_groups(e, plane, mf_cg_ix_add(c, ty0, tyr),
                     mf_cg_gep(c, vrow, mf_cg_ix_mulk(c, tyr, e->tw)), smask, &unpaired);
    mf_cg_loop_end_scalar(c, &rg, 1);
    mf_cg_loop_end_scalar(c, &ch, 1);
    LLVMBuildBr(c->B, have);
    LLVMPositionBuilderAtEnd(c->B, have);

    w->out.e.pstride = w->KC * tb;
    mf_status s = MF_OK;
    mf_cg_loop kc, j;
    mf_cg_loop_begin(c, &kc, kc0, kc1);
    LLVMValueRef k0 = mf_cg_ix_mulk(c, kc.iv, w->KC);
    chain_products(w, k0, tb);
    mf_cg_loop_begin(c, &j, mf_cg_i64(c, 0), mf_cg_i64(c, w->KC));
    s = chain_output_rows(&w->out, mf_cg_ix_add(c, k0, j.iv), ty0, rows,
                          mf_cg_gep(c, w->mbuf, mf_cg_ix_mulk(c, j.iv, tb)));
    mf_cg_loop_end_scalar(c, &j, 1);
    mf_cg_loop_end_scalar(c, &kc, 1);
    return s;
}

mf_status mf_cg_lower_winograd_chain(mf_cg_ctx *c, const mf_winograd_chain *ch, int nepi,
                                     const mf_value *const *epi)
{
    const mf_node *in = ch->in, *mm = ch->mm;
    const mf_type *ot = &ch->out->outputs[0]->type, *ut = &mm->inputs[0]->type;
    LLVMTypeRef vt = LLVMVectorType(c->f32, (unsigned)c->vw);
    bool ok;
    wchain w = {.in = input_of(c, in),
                .out = output_of(c, ch->out, nepi, epi, &ok),
                .C = ut->shape[2],
                .K = ut->shape[1],
                .block = mf_matmul_packed(mm->attrs)};
    wino *e = &w.in;
    w.x = mf_cg_anchor_input(c, in, 0);
    w.u = mf_cg_anchor_input(c, mm, 0);
    if (!ok || !w.x || !w.u)
        return MF_ERR_UNSUPPORTED;
    if (mf_type_numel(ot) == 0)
        return MF_OK;
    chain_plan(&w);
    int64_t tb = chain_tb(&w, w.rb);
    for (int k = 0; k < w.R * w.NV; k++)
        w.acc[k] = mf_cg_entry_alloca(c, vt);
    w.vbuf = mf_cg_entry_alloca(c, LLVMArrayType2(c->f32, (uint64_t)(MF_WINO_P * w.C * tb)));
    w.mbuf = mf_cg_entry_alloca(c, LLVMArrayType2(c->f32, (uint64_t)(MF_WINO_P * w.KC * tb)));
    LLVMSetAlignment(w.vbuf, 64);
    LLVMSetAlignment(w.mbuf, 64);
    int64_t blocks = e->n * w.nrb, npass = w.K / w.KC;
    LLVMValueRef lo, hi, q[3];
    mf_cg_part_range(c, blocks * w.kg, 1, &lo, &hi);
    chain_zero_padding(&w, w.rb);
    w.vblock = mf_cg_entry_alloca(c, c->i64);
    LLVMBuildStore(c->B, mf_cg_i64(c, -1), w.vblock);
    mf_cg_loop items;
    mf_cg_loop_begin(c, &items, lo, hi);
    mf_cg_unravel(c, items.iv, 3, (int64_t[]){e->n, w.nrb, w.kg}, q);
    w.out.bcoord[0] = q[0];
    LLVMValueRef xn = mf_cg_gep_as(c, w.x, mf_cg_ix_mulk(c, q[0], w.C * e->h * e->w), e->xdt);
    LLVMValueRef ty0 = mf_cg_ix_mulk(c, q[1], w.rb), bid = mf_cg_ix_madd(c, q[0], w.nrb, q[1]);
    LLVMValueRef kc0 = mf_cg_ix_udivk(c, mf_cg_ix_mulk(c, q[2], npass), w.kg);
    LLVMValueRef kc1 =
        mf_cg_ix_udivk(c, mf_cg_ix_addk(c, mf_cg_ix_mulk(c, q[2], npass), npass), w.kg);
    mf_status s;
    if (w.rl == w.rb) {
        s = chain_block(&w, xn, ty0, w.rb, bid, kc0, kc1);
    } else { /* the last block has fewer rows: its own code */
        LLVMBasicBlockRef whole = LLVMAppendBasicBlockInContext(c->C, c->body, "block.whole");
        LLVMBasicBlockRef last = LLVMAppendBasicBlockInContext(c->C, c->body, "block.last");
        LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(c->C, c->body, "block.join");
        LLVMBuildCondBr(c->B, LLVMBuildICmp(c->B, LLVMIntSLT, q[1], mf_cg_i64(c, w.nrb - 1), ""),
                        whole, last);
        LLVMPositionBuilderAtEnd(c->B, whole);
        s = chain_block(&w, xn, ty0, w.rb, bid, kc0, kc1);
        LLVMBuildBr(c->B, join);
        LLVMPositionBuilderAtEnd(c->B, last);
        if (!s)
            s = chain_block(&w, xn, ty0, w.rl, bid, kc0, kc1);
        LLVMBuildBr(c->B, join);
        LLVMPositionBuilderAtEnd(c->B, join);
    }
    mf_cg_loop_end(c, &items, 1);
    return s;
}
