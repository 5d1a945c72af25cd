/* lower_conv_dw.c — depthwise conv2d (groups == input channels == output channels: each
 * output plane reads one input plane), vectorized along the output row with the target's
 * lanes.  A work item is one (batch, channel) plane: its kh*kw weights are broadcast once,
 * then R output rows are swept together, U vectors at a time (R x U independent FMA chains):
 * each input row is loaded once for all R output rows that read it, so a 3x3 stride-1 kernel
 * loads 6 rows for 4 output rows instead of 12 (loads, not FMAs, bounded the one-row sweep;
 * R and U from the target's registers, dw_blocking).  Padding costs
 * nothing in the interior: which rows and which vectors of a row touch the border is known
 * at compile time, so interior rows skip the row checks, interior vectors load without
 * masks, and only the border vectors use constant masks.  Strided rows load stride x vw
 * floats once per group of `stride` taps and keep lanes kx, kx+stride, ... by a shuffle;
 * stride 2 at 8 and 16 lanes loads one aligned pair of vectors a row and splits it into
 * even and odd columns (the pair: dw_pair_mode), the taps one output to the left summed
 * apart and moved over once per output vector.
 * The sums start from the bias; the elementwise epilogue is applied before the one store.
 * A partition takes its planes last first (LIFO after a producer that wrote them in order).
 * Small planes whose rows underfill the vectors (7x7 at 16 lanes: 7 of 16; 14x14 at 8: two
 * masked border vectors) run flattened instead (dw_flat_plane): vectors over the plane's
 * pixels p = oy*W + ox, each tap one contiguous load at p + shift. */
#include <stdlib.h>

#include "cg_internal.h"

#define DW_MAX_TAPS 49  /* kernels up to 7x7 */
#define DW_MAX_STRIDE 4 /* wide loads of stride x vw lanes */
#define DW_MAX_U 4      /* vectors of a row in flight */
#define DW_MAX_R 4      /* output rows swept together */

struct mf_cg_dw {
    mf_cg_ctx *c;
    const mf_cg_conv_geom *g;
    const mf_value *core;
    int nepi;
    const mf_value *const *epi;
    LLVMTypeRef vt;
    int64_t tap_group; /* taps of a row sharing one wide load: the stride when dilation is 1 */
    int U, R;          /* vectors of a row, rows of a sweep (dw_blocking) */
    int64_t pair_kc;   /* stride 2: the tap at the pair's even columns (dw_pair_mode) */
    bool pair;
    LLVMValueRef acc[DW_MAX_R][DW_MAX_U];
    LLVMValueRef side[DW_MAX_R][DW_MAX_U], carry[DW_MAX_R]; /* the pair's second sums (dw_pair_mode) */
    /* the work item */
    LLVMValueRef w[DW_MAX_TAPS], bias, plane, ch;
    LLVMValueRef row0; /* the input row at the plane's start (NULL: 0; a band buffer's first row) */
    LLVMValueRef bcoord[MF_MAX_RANK];
    /* into a band buffer (mf_cg_dw_sink): value `sink` (the result or its activation) of
     * output row oy, pixel ox at to + (oy - to_row0) * ow + ox, instead of the epilogue */
    const mf_value *sink;
    LLVMValueRef to, to_row0;
};
typedef struct mf_cg_dw dw_emit;

/* Vector registers a sweep of R rows x U vectors holds: the kernel's broadcast weights, the
 * sums (twice over, and a carry a row, for stride 2's pair: dw_pair_mode), one wide load
 * (sw registers) and the tap taken out of it. */
static int dw_registers(const mf_cg_conv_geom *g, int R, int U, bool pair)
{
    return (int)(g->kh * g->kw) + R * U * (pair ? 2 : 1) + (pair ? R : 0) + (int)g->sw + 1;
}

/* Depthwise, and the weights fit the target's registers beside four sums (a 5x5 kernel
 * on 16 registers ran at 3/4 of the pixel engine's speed, its weights spilled). */
bool mf_cg_dw_choose(const mf_cg_ctx *c, const mf_cg_conv_geom *g)
{
    return !g->is_matmul && g->groups > 1 && g->cin == g->groups && g->cout == g->groups &&
           g->kh * g->kw <= DW_MAX_TAPS && g->sw <= DW_MAX_STRIDE &&
           dw_registers(g, 1, DW_MAX_U, false) <= c->shape.vregs;
}

/* The sweep with the fewest cycles per output vector that fits the registers: each vector
 * costs its kh*kw FMAs, the wide loads of the input rows the sweep reads shared by its R
 * rows (counted twice: most straddle a cache line), and the FMA latency (4 cycles) over the
 * R x U chains; ties go to the chain count nearest 8 (two FMA pipes x 4 cycles): more only
 * adds code, which compile time pays (a 4x4 sweep doubled the depthwise kernels' compile). */
static void dw_blocking(const mf_cg_ctx *c, const mf_cg_conv_geom *g, int64_t tap_group, bool pair, int *R, int *U)
{
    const int64_t groups = pair ? 1 : (g->kw + tap_group - 1) / tap_group, taps = g->kh * g->kw;
    double best = 1e30;
    *R = 1, *U = 1;
    for (int u = DW_MAX_U; u >= 1; u /= 2)
        for (int r = 1; r <= DW_MAX_R && r <= g->oh; r++) {
            if (dw_registers(g, r, u, pair) > c->shape.vregs)
                continue;
            double rows = (double)((r - 1) * g->sh + (g->kh - 1) * g->dh + 1);
            double loads = 2.0 * rows * (double)groups / r, latency = 4.0 * (double)taps / (r * u * (pair ? 2 : 1));
            double cost = (double)taps;
            cost = loads > cost ? loads : cost;
            cost = latency > cost ? latency : cost;
            if (cost < best - 1e-9 || (cost < best + 1e-9 && abs(r * u - 8) < abs(*R * *U - 8)))
                best = cost, *R = r, *U = u;
        }
}

/* ---- stride 2 from one load per row: the pair ---------------------------------------------
 * The 2 vw columns from c0 = 2 ox0 - pw + kc split once into even and odd columns (one
 * in-lane shuffle each, see dw_lane_order); tap kx reads the even or odd ones of the output
 * s = floor((kx - kc) / 2) before, s = 0 or -1.  The taps with s = -1 sum into a second
 * accumulator at their own output; the vector's sums are then this one plus the second
 * one moved up a lane, its first lane from the vector before (carried along the row, 0
 * at its start: kc <= pw puts the columns before the first pair in the padding).  A 3x3
 * row then costs one aligned wide load and two shuffles, where the tap groups took two
 * unaligned wide loads (every one split across cache lines at 16 lanes) and three. */
static int64_t pair_base(const dw_emit *e)
{
    return e->pair_kc - e->g->pw;
}

static void pair_tap(const dw_emit *e, int64_t kx, int64_t *shift, int *odd)
{
    int64_t d = kx - e->pair_kc;
    *odd = (int)(((d % 2) + 2) % 2);
    *shift = (d - *odd) / 2;
}

static bool dw_pair_mode(const dw_emit *e)
{
    const mf_cg_conv_geom *g = e->g;
    if (g->sw != 2 || g->dw != 1 || e->c->vw < 8 || e->pair_kc < 0 || e->pair_kc > g->pw)
        return false;
    for (int64_t kx = 0; kx < g->kw; kx++) {
        int64_t sh;
        int odd;
        pair_tap(e, kx, &sh, &odd);
        if (sh < -1 || sh > 0)
            return false;
    }
    return true;
}

/* Does the pair of the vector at ox0 lie inside the row, and every lane hold an output? */
static bool pair_inside(const dw_emit *e, int64_t ox0)
{
    int64_t c0 = 2 * ox0 + pair_base(e);
    return ox0 + e->c->vw <= e->g->ow && c0 >= 0 && c0 + 2 * e->c->vw <= e->g->w;
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
    if (e->pair)
        return pair_inside(e, ox0);
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
    LLVMValueRef ptr = mf_cg_gep_as(c, row, mf_cg_ix_addk(c, mf_cg_ix_mulk(c, ox0, g->sw), k0 * g->dw - g->pw), g->xdt);
    if (!masked)
        return mf_cg_load_f32_as(c, wide, ptr, NULL, g->xdt);
    LLVMValueRef bits[DW_MAX_STRIDE * MF_CG_MAX_VW];
    int live = 0;
    for (unsigned l = 0; l < n; l++) {
        bool on = wide_lane_live(e, ox0c, k0, l);
        bits[l] = LLVMConstInt(c->i1, on, 0);
        live += on;
    }
    if (!live)
        return NULL;
    return mf_cg_load_f32_as(c, wide, ptr, LLVMConstVector(bits, n), g->xdt);
}

/* Stride 2 on 8 or 16 lanes takes a tap's lanes in 128-bit-lane order (one vshufps, where
 * the output's order costs a cross-lane permute more per tap): 128-bit lane k of the tap
 * holds outputs 2k, 2k+1 (from the wide load's first half) and vw/2 + 2k, vw/2 + 2k + 1
 * (its second half); the sums are put back in order once, before the epilogue. */
static bool dw_lane_order(const dw_emit *e)
{
    return e->g->sw == 2 && e->tap_group == 2 && e->c->vw >= 8;
}

/* Lanes r, r + sw, r + 2 sw, ... of a wide load: the inputs of one tap (dw_lane_order's
 * order for stride 2). */
static LLVMValueRef tap_lanes(dw_emit *e, LLVMValueRef wide, int64_t r)
{
    mf_cg_ctx *c = e->c;
    if (e->g->sw == 1)
        return wide;
    LLVMValueRef idx[MF_CG_MAX_VW];
    bool lanes = dw_lane_order(e);
    for (int i = 0; i < c->vw; i++) {
        int64_t src = e->g->sw * i + r;
        if (lanes) /* lane 4k + 2h + j: half h's element 4k + 2j + r */
            src = (i % 4 / 2) * c->vw + i / 4 * 4 + 2 * (i % 2) + r;
        idx[i] = LLVMConstInt(c->i32, (unsigned long long)src, 0);
    }
    return LLVMBuildShuffleVector(c->B, wide, LLVMGetPoison(LLVMTypeOf(wide)), LLVMConstVector(idx, (unsigned)c->vw), "");
}

/* The sums of a vector in the output's order. */
static LLVMValueRef output_order(dw_emit *e, LLVMValueRef v)
{
    mf_cg_ctx *c = e->c;
    if (!dw_lane_order(e))
        return v;
    LLVMValueRef idx[MF_CG_MAX_VW];
    for (int o = 0; o < c->vw; o++) { /* output o = h vw/2 + 2k + j sits in lane 4k + 2h + j */
        int h = o / (c->vw / 2), k = o % (c->vw / 2) / 2, j = o % 2;
        idx[o] = LLVMConstInt(c->i32, (unsigned long long)(4 * k + 2 * h + j), 0);
    }
    return LLVMBuildShuffleVector(c->B, v, LLVMGetPoison(e->vt), LLVMConstVector(idx, (unsigned)c->vw), "");
}

/* The taps of the vector at ox0 of `row` (masked: at the compile-time pixel ox0c), and
 * which of them sum into the second accumulator. */
static void pair_taps(dw_emit *e, LLVMValueRef row, LLVMValueRef ox0, int64_t ox0c, bool masked, LLVMValueRef *x,
                      bool *side)
{
    mf_cg_ctx *c = e->c;
    const mf_cg_conv_geom *g = e->g;
    const int vw = c->vw;
    const int64_t c0c = 2 * ox0c + pair_base(e);
    LLVMValueRef mask = NULL, bits[2 * MF_CG_MAX_VW];
    if (masked) {
        for (int l = 0; l < 2 * vw; l++)
            bits[l] = LLVMConstInt(c->i1, c0c + l >= 0 && c0c + l < g->w, 0);
        mask = LLVMConstVector(bits, (unsigned)(2 * vw));
    }
    LLVMValueRef c0 = mf_cg_ix_addk(c, mf_cg_ix_mulk(c, ox0, 2), pair_base(e));
    LLVMValueRef pair = mf_cg_load_f32_as(c, LLVMVectorType(c->f32, (unsigned)(2 * vw)), mf_cg_gep_as(c, row, c0, g->xdt),
                                          mask, g->xdt);
    LLVMValueRef half[2] = {tap_lanes(e, pair, 0), tap_lanes(e, pair, 1)};
    for (int64_t kx = 0; kx < g->kw; kx++) {
        int64_t sh;
        int odd;
        pair_tap(e, kx, &sh, &odd);
        x[kx] = half[odd];
        side[kx] = sh < 0;
    }
}

/* The kernel rows of input row d of a sweep (rows iy0 + d) that output row r reads: ky
 * with r sh + ky dh == d, or -1. */
static int64_t kernel_row_of(const mf_cg_conv_geom *g, int64_t d, int r)
{
    int64_t rest = d - r * g->sh;
    if (rest < 0 || rest % g->dh)
        return -1;
    return rest / g->dh < g->kh ? rest / g->dh : -1;
}

/* acc[r][u] (or the pair's second sums) += w[ky][kx] x for the nrows output rows that read
 * input row d of the sweep. */
static void tap_fmas(dw_emit *e, int64_t d, int nrows, int u, int64_t kx, LLVMValueRef x, bool side)
{
    mf_cg_ctx *c = e->c;
    for (int r = 0; r < nrows; r++) {
        int64_t ky = kernel_row_of(e->g, d, r);
        if (ky < 0)
            continue;
        LLVMValueRef a = side ? e->side[r][u] : e->acc[r][u];
        LLVMBuildStore(c->B, mf_cg_fmuladd(c, e->w[ky * e->g->kw + kx], x, LLVMBuildLoad2(c->B, e->vt, a, "")), a);
    }
}

/* The taps of input row d of the sweep (at `row`) for the nrows output rows that read it, U
 * vectors from pixel ox0: one wide load per vector and tap group (or the pair), each tap
 * taken out of it once and used by every row. */
static void input_row(dw_emit *e, LLVMValueRef row, int64_t d, int nrows, LLVMValueRef ox0, int64_t ox0c, int U,
                      bool masked)
{
    mf_cg_ctx *c = e->c;
    const mf_cg_conv_geom *g = e->g;
    if (e->pair) {
        for (int u = 0; u < U; u++) {
            LLVMValueRef x[DW_MAX_TAPS];
            bool side[DW_MAX_TAPS];
            pair_taps(e, row, mf_cg_ix_addk(c, ox0, (int64_t)u * c->vw), ox0c + (int64_t)u * c->vw, masked, x, side);
            for (int64_t kx = 0; kx < g->kw; kx++)
                tap_fmas(e, d, nrows, u, kx, x[kx], side[kx]);
        }
        return;
    }
    for (int64_t k0 = 0; k0 < g->kw; k0 += e->tap_group)
        for (int u = 0; u < U; u++) {
            LLVMValueRef wide = wide_load(e, row, mf_cg_ix_addk(c, ox0, (int64_t)u * c->vw), ox0c + (int64_t)u * c->vw,
                                          k0, masked);
            if (!wide)
                continue;
            for (int64_t kx = k0; kx < k0 + e->tap_group && kx < g->kw; kx++)
                tap_fmas(e, d, nrows, u, kx, tap_lanes(e, wide, kx - k0), false);
        }
}

/* The second sums of vector u of row r moved up a lane, the first from the vector before
 * (whose sums the carry keeps). */
static LLVMValueRef side_sums(dw_emit *e, int r, int u)
{
    mf_cg_ctx *c = e->c;
    LLVMValueRef v = output_order(e, LLVMBuildLoad2(c->B, e->vt, e->side[r][u], ""));
    LLVMValueRef before = LLVMBuildLoad2(c->B, e->vt, e->carry[r], ""), idx[MF_CG_MAX_VW];
    LLVMBuildStore(c->B, v, e->carry[r]);
    for (int i = 0; i < c->vw; i++)
        idx[i] = LLVMConstInt(c->i32, (unsigned long long)(i ? i - 1 : 2 * c->vw - 1), 0);
    return LLVMBuildShuffleVector(c->B, v, before, LLVMConstVector(idx, (unsigned)c->vw), "");
}

/* The sink's value at point p into the band buffer. */
static mf_status sink_store(dw_emit *e, mf_cg_point *p)
{
    mf_cg_ctx *c = e->c;
    LLVMValueRef x;
    mf_status err = mf_cg_eval(c, p, e->sink, &p->core_map, &x);
    if (err)
        return err;
    LLVMValueRef row = mf_cg_ix_sub(c, p->coord[2], e->to_row0);
    mf_cg_store_f32(
        c, x, mf_cg_gep(c, e->to, mf_cg_ix_add(c, mf_cg_ix_mulk(c, row, e->g->ow), p->coord[3])),
        p->mask);
    return MF_OK;
}

/* U vectors of output rows [oy, oy + nrows) from pixel ox0 (ox0c when known at compile
 * time): the sums over the kernel (input rows outside the input skipped at run time when
 * `checked`), then bias and epilogue. */
static mf_status dw_vectors(dw_emit *e, LLVMValueRef oy, int nrows, bool checked, LLVMValueRef ox0, int64_t ox0c,
                            int U, bool masked)
{
    mf_cg_ctx *c = e->c;
    const mf_cg_conv_geom *g = e->g;
    for (int r = 0; r < nrows; r++) /* the sums start from the bias: no add at the end */
        for (int u = 0; u < U; u++)
            LLVMBuildStore(c->B, e->bias ? e->bias : mf_cg_fconst(c, e->vt, 0.0), e->acc[r][u]);
    if (e->pair)
        for (int r = 0; r < nrows; r++)
            for (int u = 0; u < U; u++)
                LLVMBuildStore(c->B, mf_cg_fconst(c, e->vt, 0.0), e->side[r][u]);
    LLVMValueRef iy0 = mf_cg_ix_subk(c, mf_cg_ix_mulk(c, oy, g->sh), g->ph);
    int64_t nd = (nrows - 1) * g->sh + (g->kh - 1) * g->dh + 1;
    for (int64_t d = 0; d < nd; d++) {
        bool read = false;
        for (int r = 0; r < nrows; r++)
            read |= kernel_row_of(g, d, r) >= 0;
        if (!read)
            continue;
        LLVMValueRef iy = mf_cg_ix_addk(c, iy0, d);
        LLVMBasicBlockRef next = NULL;
        if (checked) {
            LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(c->C, c->body, "row");
            next = LLVMAppendBasicBlockInContext(c->C, c->body, "next");
            LLVMBuildCondBr(c->B, LLVMBuildICmp(c->B, LLVMIntULT, iy, mf_cg_i64(c, g->h), ""), then, next);
            LLVMPositionBuilderAtEnd(c->B, then);
        }
        LLVMValueRef at = e->row0 ? mf_cg_ix_sub(c, iy, e->row0) : iy;
        input_row(e, mf_cg_gep_as(c, e->plane, mf_cg_ix_mulk(c, at, g->w), g->xdt), d, nrows, ox0, ox0c, U, masked);
        if (checked) {
            LLVMBuildBr(c->B, next);
            LLVMPositionBuilderAtEnd(c->B, next);
        }
    }
    mf_cg_point *p = mf_cg_conv_point(e->core, 3, (unsigned)c->vw, g->nbd, e->bcoord);
    if (!p)
        return MF_ERR_NOMEM;
    p->coord[1] = e->ch;
    mf_status err = MF_OK;
    for (int r = 0; r < nrows && !err; r++)
        for (int u = 0; u < U && !err; u++) {
            p->coord[2] = mf_cg_ix_addk(c, oy, r);
            p->coord[3] = mf_cg_ix_addk(c, ox0, (int64_t)u * c->vw);
            p->mask = NULL;
            if (masked) {
                LLVMValueRef bits[MF_CG_MAX_VW];
                for (int l = 0; l < c->vw; l++)
                    bits[l] = LLVMConstInt(c->i1, ox0c + (int64_t)u * c->vw + l < g->ow, 0);
                p->mask = LLVMConstVector(bits, (unsigned)c->vw);
            }
            p->core_val = output_order(e, LLVMBuildLoad2(c->B, e->vt, e->acc[r][u], ""));
            if (e->pair)
                p->core_val = LLVMBuildFAdd(c->B, p->core_val, side_sums(e, r, u), "");
            p->nmemo = 0;
            err = e->sink ? sink_store(e, p) : mf_cg_store_epilogue(c, p, e->nepi, e->epi);
        }
    free(p);
    return err;
}

/* Masked vectors [j0, j1) of nrows rows, U at a time, at compile-time pixels. */
static mf_status border_vectors(dw_emit *e, LLVMValueRef oy, int nrows, bool checked, int64_t j0, int64_t j1)
{
    mf_status err = MF_OK;
    for (int64_t j = j0; j < j1 && !err; j += e->U) {
        int U = j1 - j < e->U ? (int)(j1 - j) : e->U;
        int64_t ox0 = j * e->c->vw;
        err = dw_vectors(e, oy, nrows, checked, mf_cg_i64(e->c, ox0), ox0, U, true);
    }
    return err;
}

/* nrows output rows from oy: border vectors masked, the interior ones in a loop of U at a
 * time. */
static mf_status dw_row(dw_emit *e, LLVMValueRef oy, int nrows, bool checked)
{
    mf_cg_ctx *c = e->c;
    const int64_t VW = c->vw, nv = (e->g->ow + VW - 1) / VW;
    int64_t lo = 0, hi;
    while (lo < nv && !vector_inside(e, lo * VW))
        lo++;
    hi = lo;
    while (hi < nv && vector_inside(e, hi * VW))
        hi++;
    for (int r = 0; r < nrows && e->pair; r++) /* the columns before the row: padding */
        LLVMBuildStore(c->B, mf_cg_fconst(c, e->vt, 0.0), e->carry[r]);
    mf_status err = border_vectors(e, oy, nrows, checked, 0, lo);
    int64_t ngroups = (hi - lo) / e->U;
    if (!err && ngroups > 0) {
        mf_cg_loop t;
        mf_cg_loop_begin(c, &t, mf_cg_i64(c, 0), mf_cg_i64(c, ngroups));
        LLVMValueRef ox0 = mf_cg_ix_addk(c, mf_cg_ix_mulk(c, t.iv, e->U * VW), lo * VW);
        err = dw_vectors(e, oy, nrows, checked, ox0, 0, e->U, false);
        mf_cg_loop_end(c, &t, 1);
    }
    int64_t rest = lo + ngroups * e->U;
    if (!err && rest < hi)
        err = dw_vectors(e, oy, nrows, checked, mf_cg_i64(c, rest * VW), rest * VW, (int)(hi - rest), false);
    if (!err)
        err = border_vectors(e, oy, nrows, checked, hi, nv);
    return err;
}

/* The n rows from y0 (n known at compile time), checked or not: sweeps of R rows, then the
 * rows left over in one shorter sweep.  A few sweeps are emitted one after the other rather
 * than as a loop, so the next sweep's loads overlap this one's FMA chains (LLVM's unroller,
 * off since it cost compile time: codegen/compile.c, did that for the 14x14 planes at 16
 * lanes: 0.029 ms looped against 0.020-0.021 straight). */
#define DW_STRAIGHT_SWEEPS 4
static mf_status dw_rows(dw_emit *e, LLVMValueRef y0, int64_t n, bool checked, int R)
{
    if (n <= 0)
        return MF_OK;
    int64_t nsweeps = n / R, left = n % R;
    mf_status err = MF_OK;
    if (nsweeps <= DW_STRAIGHT_SWEEPS) {
        for (int64_t k = 0; k < nsweeps && !err; k++)
            err = dw_row(e, mf_cg_ix_addk(e->c, y0, k * R), R, checked);
    } else {
        mf_cg_loop r;
        mf_cg_loop_begin(e->c, &r, mf_cg_i64(e->c, 0), mf_cg_i64(e->c, nsweeps));
        err = dw_row(e, mf_cg_ix_add(e->c, y0, mf_cg_ix_mulk(e->c, r.iv, R)), R, checked);
        mf_cg_loop_end(e->c, &r, 1);
    }
    if (!err && left)
        err = dw_row(e, mf_cg_ix_addk(e->c, y0, n - left), (int)left, checked);
    return err;
}

/* Flattened: stride 1, no dilation, "same" size, a plane of at most DW_FLAT_MAX_VECTORS
 * vectors, an epilogue that reads the output's pixels flat, and rows that waste the row
 * sweep's vectors: under half a vector (7x7 at 16 lanes: 38 -> 49 % of the FMA peak), or
 * all border vectors without AVX-512's cheap masked loads (8 lanes: 7x7 21 -> 40-45 %,
 * 14x14 33 -> 52 %; 14x14 at 16 lanes stays on rows: 70 % there, 51 % flattened). */
#define DW_FLAT_MAX_VECTORS 32 /* straight-line code: vectors x taps FMAs per plane */
static bool dw_flat_choose(const mf_cg_ctx *c, const mf_cg_conv_geom *g, const mf_value *core, int nepi,
                           const mf_value *const *epi)
{
    int64_t npix = g->oh * g->ow, nvec = (npix + c->vw - 1) / c->vw;
    return c->vw > 1 && g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1 && g->oh == g->h && g->ow == g->w &&
           (2 * g->ow <= c->vw || (c->vw < 16 && g->ow < 2 * c->vw && g->ow % c->vw)) &&
           nvec <= DW_FLAT_MAX_VECTORS &&
           mf_cg_epilogue_flattens(core, nepi, epi);
}

/* Input of tap shift for the vector of pixels [p0, p0 + vw): lanes whose pixel exists and
 * whose input (row iy, column ix) lies inside the plane, else 0; NULL when no lane does.
 * Loads whose every lane lies inside the plane's memory are plain loads (a select zeroes
 * the padding lanes); only those at the plane's ends need a masked load. */
static LLVMValueRef flat_tap(dw_emit *e, int64_t p0, int64_t ky, int64_t kx)
{
    mf_cg_ctx *c = e->c;
    const mf_cg_conv_geom *g = e->g;
    const int64_t npix = g->oh * g->ow, shift = (ky - g->ph) * g->w + (kx - g->pw);
    LLVMValueRef bits[MF_CG_MAX_VW];
    int live = 0;
    for (int l = 0; l < c->vw; l++) {
        int64_t p = p0 + l, iy = p / g->ow + ky - g->ph, ix = p % g->ow + kx - g->pw;
        bool on = p < npix && iy >= 0 && iy < g->h && ix >= 0 && ix < g->w;
        bits[l] = LLVMConstInt(c->i1, on, 0);
        live += on;
    }
    if (!live)
        return NULL;
    LLVMValueRef ptr = mf_cg_gep_as(c, e->plane, mf_cg_i64(c, p0 + shift), g->xdt);
    LLVMValueRef mask = live == c->vw ? NULL : LLVMConstVector(bits, (unsigned)c->vw);
    bool inside = p0 + shift >= 0 && p0 + shift + c->vw <= npix;
    if (!mask || !inside)
        return mf_cg_load_f32_as(c, e->vt, ptr, mask, g->xdt);
    return LLVMBuildSelect(c->B, mask, mf_cg_load_f32_as(c, e->vt, ptr, NULL, g->xdt),
                           mf_cg_fconst(c, e->vt, 0.0), "");
}

/* The work item's plane, flattened: every vector's sum over the taps, then bias and the
 * epilogue on the flattened pixels (as lower_conv_gemm.c's finish_flat). */
static mf_status dw_flat_plane(dw_emit *e)
{
    mf_cg_ctx *c = e->c;
    const mf_cg_conv_geom *g = e->g;
    const int64_t npix = g->oh * g->ow;
    mf_cg_point *pt = mf_cg_conv_point(e->core, 2, (unsigned)c->vw, g->nbd, e->bcoord);
    if (!pt)
        return MF_ERR_NOMEM;
    pt->nloop = 3;
    pt->extent[2] = npix;
    pt->stride_of[2] = 3;
    pt->coord[1] = e->ch;
    mf_status err = MF_OK;
    for (int64_t p0 = 0; p0 < npix && !err; p0 += c->vw) {
        LLVMValueRef acc = mf_cg_fconst(c, e->vt, 0.0);
        for (int64_t ky = 0; ky < g->kh; ky++)
            for (int64_t kx = 0; kx < g->kw; kx++) {
                LLVMValueRef x = flat_tap(e, p0, ky, kx);
                if (x)
                    acc = mf_cg_fmuladd(c, e->w[ky * g->kw + kx], x, acc);
            }
        LLVMValueRef bits[MF_CG_MAX_VW];
        for (int l = 0; l < c->vw; l++)
            bits[l] = LLVMConstInt(c->i1, p0 + l < npix, 0);
        pt->coord[2] = mf_cg_i64(c, p0);
        pt->mask = p0 + c->vw > npix ? LLVMConstVector(bits, (unsigned)c->vw) : NULL;
        pt->core_val = e->bias ? LLVMBuildFAdd(c->B, acc, e->bias, "") : acc;
        pt->nmemo = 0;
        err = mf_cg_store_epilogue(c, pt, e->nepi, e->epi);
    }
    free(pt);
    return err;
}

/* The output rows whose every kernel row lies inside the input: [*ylo, *yhi). */
static void dw_inner_rows(const mf_cg_conv_geom *g, int64_t *ylo, int64_t *yhi)
{
    *ylo = (g->ph + g->sh - 1) / g->sh, *yhi = 0;
    for (int64_t oy = 0; oy < g->oh; oy++)
        if (oy * g->sh - g->ph + (g->kh - 1) * g->dh < g->h)
            *yhi = oy + 1;
    if (*ylo > g->oh)
        *ylo = g->oh;
    if (*yhi < *ylo)
        *yhi = *ylo;
}

/* The sweep's state: blocking, and the accumulators in the entry block. */
static void dw_init(dw_emit *e, mf_cg_ctx *c, const mf_cg_conv_geom *g, const mf_value *core, int nepi,
                    const mf_value *const *epi)
{
    *e = (dw_emit){.c = c, .g = g, .core = core, .nepi = nepi, .epi = epi,
                   .vt = LLVMVectorType(c->f32, (unsigned)c->vw), .tap_group = g->dw == 1 ? g->sw : 1};
    e->pair_kc = g->kw - 1 - (g->kw - 1 - g->pw) % 2; /* the last tap of the pad's parity */
    e->pair = dw_pair_mode(e);
    dw_blocking(c, g, e->tap_group, e->pair, &e->R, &e->U);
    for (int r = 0; r < e->R; r++) {
        for (int u = 0; u < e->U; u++) {
            e->acc[r][u] = mf_cg_entry_alloca(c, e->vt);
            e->side[r][u] = e->pair ? mf_cg_entry_alloca(c, e->vt) : NULL;
        }
        e->carry[r] = e->pair ? mf_cg_entry_alloca(c, e->vt) : NULL;
    }
}

/* The work item's channel: its weights broadcast, its bias. */
static void dw_channel(dw_emit *e, LLVMValueRef ch)
{
    mf_cg_ctx *c = e->c;
    const mf_cg_conv_geom *g = e->g;
    const int64_t khw = g->kh * g->kw;
    e->ch = ch;
    LLVMValueRef wch = mf_cg_gep(c, g->wt, mf_cg_ix_add(c, mf_cg_conv_batch_offset(c, g, e->bcoord, g->bw_stride),
                                                        mf_cg_ix_mulk(c, ch, khw)));
    for (int64_t t = 0; t < khw; t++)
        e->w[t] = mf_cg_vsplat(c, LLVMBuildLoad2(c->B, c->f32, mf_cg_gep(c, wch, mf_cg_i64(c, t)), ""));
    e->bias = g->bias ? mf_cg_vsplat(c, LLVMBuildLoad2(c->B, c->f32, mf_cg_gep(c, g->bias, ch), "")) : NULL;
}

mf_cg_dw *mf_cg_dw_new(mf_cg_ctx *c, const mf_cg_conv_geom *g, const mf_value *core, int nepi,
                       const mf_value *const *epi)
{
    dw_emit *e = malloc(sizeof *e);
    if (!e) {
        mf_error(MF_ERR_NOMEM, "codegen: out of memory");
        return NULL;
    }
    dw_init(e, c, g, core, nepi, epi);
    return e;
}

void mf_cg_dw_free(mf_cg_dw *e)
{
    free(e);
}

void mf_cg_dw_plane(mf_cg_dw *e, LLVMValueRef plane, LLVMValueRef row0, LLVMValueRef ch, const LLVMValueRef *bcoord)
{
    for (int d = 0; d < e->g->nbd; d++)
        e->bcoord[d] = bcoord[d];
    e->plane = plane;
    e->row0 = row0;
    dw_channel(e, ch);
}

mf_status mf_cg_dw_rows(mf_cg_dw *e, LLVMValueRef oy, int64_t n)
{
    return dw_rows(e, oy, n, false, e->R);
}

void mf_cg_dw_sink(mf_cg_dw *e, const mf_value *v, LLVMValueRef to, LLVMValueRef to_row0)
{
    e->sink = v, e->to = to, e->to_row0 = to_row0;
}

/* max(lo, min(k, hi)) for i64 lo <= hi */
static LLVMValueRef clamp_row(mf_cg_ctx *c, int64_t k, LLVMValueRef lo, LLVMValueRef hi)
{
    LLVMValueRef v = mf_cg_i64(c, k);
    v = LLVMBuildSelect(c->B, LLVMBuildICmp(c->B, LLVMIntSLT, v, hi, ""), v, hi, "");
    return LLVMBuildSelect(c->B, LLVMBuildICmp(c->B, LLVMIntSGT, lo, v, ""), lo, v, "");
}

/* As the whole-plane engine splits a plane's rows (mf_cg_emit_conv_dw), for a range known at
 * run time: the rows that read padding one at a time at their own index, so that their
 * checks fold; the others in sweeps of R without checks, then one at a time. */
mf_status mf_cg_dw_rows_between(mf_cg_dw *e, LLVMValueRef y, LLVMValueRef end)
{
    mf_cg_ctx *c = e->c;
    int64_t ylo, yhi;
    dw_inner_rows(e->g, &ylo, &yhi);
    mf_status err = MF_OK;
    for (int64_t r = 0; r < e->g->oh && !err; r = r + 1 == ylo ? yhi : r + 1) {
        if (r >= ylo && r < yhi)
            continue;
        LLVMValueRef in =
            LLVMBuildAnd(c->B, LLVMBuildICmp(c->B, LLVMIntSLE, y, mf_cg_i64(c, r), ""),
                         LLVMBuildICmp(c->B, LLVMIntSGT, end, mf_cg_i64(c, r), ""), "");
        LLVMBasicBlockRef row = LLVMAppendBasicBlockInContext(c->C, c->body, "borderrow");
        LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(c->C, c->body, "borderdone");
        LLVMBuildCondBr(c->B, in, row, join);
        LLVMPositionBuilderAtEnd(c->B, row);
        err = dw_row(e, mf_cg_i64(c, r), 1, true);
        LLVMBuildBr(c->B, join);
        LLVMPositionBuilderAtEnd(c->B, join);
    }
    LLVMValueRef a = clamp_row(c, ylo, y, end), b = clamp_row(c, yhi, a, end);
    LLVMValueRef nsweeps = mf_cg_ix_udivk(c, mf_cg_ix_sub(c, b, a), e->R);
    mf_cg_loop sw;
    mf_cg_loop_begin(c, &sw, mf_cg_i64(c, 0), nsweeps);
    if (!err)
        err = dw_row(e, mf_cg_ix_add(c, a, mf_cg_ix_mulk(c, sw.iv, e->R)), e->R, false);
    mf_cg_loop_end_scalar(c, &sw, 1);
    if (e->R > 1) {
        mf_cg_loop one;
        mf_cg_loop_begin(c, &one, mf_cg_ix_add(c, a, mf_cg_ix_mulk(c, nsweeps, e->R)), b);
        if (!err)
            err = dw_row(e, one.iv, 1, false);
        mf_cg_loop_end_scalar(c, &one, 1);
    }
    return err;
}

mf_status mf_cg_emit_conv_dw(mf_cg_ctx *c, const mf_cg_conv_geom *g, const mf_value *core, int nepi,
                             const mf_value *const *epi)
{
    dw_emit e;
    dw_init(&e, c, g, core, nepi, epi);
    int64_t nbatch = 1;
    for (int d = 0; d < g->nbd; d++)
        nbatch *= g->bshape[d];
    LLVMValueRef lo, hi;
    mf_cg_part_range(c, nbatch * g->cout, 1, &lo, &hi);
    mf_cg_loop items;
    mf_cg_loop_begin(c, &items, lo, hi);
    int64_t dims[2] = {nbatch, g->cout};
    LLVMValueRef q[2];
    /* the partition's planes last first: a producer that wrote them in channel order (the 1x1
     * GEMM engine's channel blocks, mobilenet_v2's expansions) still holds its last planes in
     * L2, and these are read before the first planes' reads evict them */
    LLVMValueRef item = LLVMBuildSub(c->B, LLVMBuildAdd(c->B, lo, hi, ""),
                                     LLVMBuildAdd(c->B, items.iv, mf_cg_i64(c, 1), ""), "");
    mf_cg_unravel(c, item, 2, dims, q);
    mf_cg_unravel(c, q[0], g->nbd, g->bshape, e.bcoord);
    e.plane = mf_cg_gep_as(c, g->x, mf_cg_ix_add(c, mf_cg_conv_batch_offset(c, g, e.bcoord, g->bx_stride),
                                                 mf_cg_ix_mulk(c, q[1], g->h * g->w)), g->xdt);
    dw_channel(&e, q[1]);
    if (dw_flat_choose(c, g, core, nepi, epi)) {
        mf_status err = dw_flat_plane(&e);
        mf_cg_loop_end(c, &items, 1);
        return err;
    }
    int64_t ylo, yhi;
    dw_inner_rows(g, &ylo, &yhi);
    mf_status err = dw_rows(&e, mf_cg_i64(c, 0), ylo, true, 1); /* the border rows one at a time: their checks */
    if (!err)
        err = dw_rows(&e, mf_cg_i64(c, ylo), yhi - ylo, false, e.R);
    if (!err)
        err = dw_rows(&e, mf_cg_i64(c, yhi), g->oh - yhi, true, 1);
    mf_cg_loop_end(c, &items, 1);
    return err;
}
