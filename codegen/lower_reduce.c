/* lower_reduce.c — reductions with an elementwise prologue (evaluated where the reduction
 * reads) and epilogue (applied to each result before its store): softmax and log_softmax
 * over any dim (max, then sum of exp, then normalize, per lane), sum/mean over any dims,
 * max/avg pooling (padding, stride, dilation, ceil_mode, count_include_pad) and adaptive
 * average pooling.  Work items are output lanes or rows, split between partitions.  Scalar
 * code; sums carry the reassoc flag so LLVM vectorizes contiguous ones.  Average pooling's
 * column and window loops are marked scalar: vectorized (strided column reads, windows of
 * a few pixels) they gained nothing and took AVX2 targets seconds to compile.  A global
 * average pool of a plain input (one output pixel whose window is the whole plane) sums each
 * plane a vector of the target's lanes at a time instead (global_avg). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cg_internal.h"

typedef struct red {
    mf_cg_ctx *c;
    const mf_node *n;
    const mf_value *x;  /* the reduction's input (an expression of graph inputs) */
    mf_cg_point *in;    /* point over x's dims */
    mf_cg_point *out;   /* point over the output's dims, for the epilogue */
    int nepi;
    const mf_value *const *epi;
} red;

static LLVMValueRef var(mf_cg_ctx *c, LLVMTypeRef t, LLVMValueRef init)
{
    LLVMBasicBlockRef cur = LLVMGetInsertBlock(c->B);
    LLVMValueRef first = LLVMGetFirstInstruction(LLVMGetEntryBasicBlock(c->body));
    LLVMPositionBuilderBefore(c->B, first);
    LLVMValueRef a = LLVMBuildAlloca(c->B, t, "v");
    LLVMPositionBuilderAtEnd(c->B, cur);
    LLVMBuildStore(c->B, init, a);
    return a;
}

static LLVMValueRef get(mf_cg_ctx *c, LLVMValueRef a)
{
    return LLVMBuildLoad2(c->B, c->f32, a, "");
}

/* x at the input point's current coordinates. */
static mf_status read_x(red *r, LLVMValueRef *v)
{
    const mf_type *t = &r->x->type;
    mf_cg_map m = mf_cg_map_for(t, t->rank, t->shape);
    r->in->nmemo = 0;
    return mf_cg_eval(r->c, r->in, r->x, &m, v);
}

static mf_status finish(red *r, LLVMValueRef v)
{
    const mf_type *ot = &r->n->outputs[0]->type;
    r->out->core = r->n->outputs[0];
    r->out->core_map = mf_cg_map_for(ot, ot->rank, ot->shape);
    r->out->core_val = v;
    r->out->nmemo = 0;
    return mf_cg_store_epilogue(r->c, r->out, r->nepi, r->epi);
}

static void add_to(mf_cg_ctx *c, LLVMValueRef acc, LLVMValueRef v)
{
    LLVMValueRef s = LLVMBuildFAdd(c->B, get(c, acc), v, "");
    LLVMSetFastMathFlags(s, LLVMFastMathAllowReassoc);
    LLVMBuildStore(c->B, s, acc);
}

/* acc = max(acc, v), NaN winning as in PyTorch. */
static void max_into(mf_cg_ctx *c, LLVMValueRef acc, LLVMValueRef v)
{
    LLVMValueRef m = get(c, acc);
    LLVMValueRef take = LLVMBuildOr(c->B, LLVMBuildFCmp(c->B, LLVMRealOGT, v, m, ""),
                                    LLVMBuildFCmp(c->B, LLVMRealUNO, v, v, ""), "");
    LLVMBuildStore(c->B, LLVMBuildSelect(c->B, take, v, m, ""), acc);
}

/* ---- softmax -------------------------------------------------------------------------------- */

static mf_status softmax(red *r)
{
    mf_cg_ctx *c = r->c;
    const mf_type *t = &r->x->type;
    int d = mf_dim_of(r->n->op, r->n->attrs, t->rank); /* in range: inference checked it */
    int64_t lanes = mf_type_numel(t) / t->shape[d], len = t->shape[d];
    int64_t other[MF_MAX_RANK];
    int no = 0;
    for (int i = 0; i < t->rank; i++)
        if (i != d)
            other[no++] = t->shape[i];
    LLVMValueRef lo, hi, oc[MF_MAX_RANK];
    mf_cg_part_range(c, lanes, 1, &lo, &hi);
    mf_cg_loop item;
    mf_cg_loop_begin(c, &item, lo, hi);
    mf_cg_unravel(c, item.iv, no, other, oc);
    for (int i = 0, k = 0; i < t->rank; i++)
        if (i != d)
            r->in->coord[i] = r->out->coord[i] = oc[k++];
    LLVMValueRef mx = var(c, c->f32, LLVMConstReal(c->f32, -INFINITY));
    LLVMValueRef sum = var(c, c->f32, LLVMConstReal(c->f32, 0.0));
    LLVMValueRef x;
    mf_status s = MF_OK;
    mf_cg_loop l;
    for (int pass = 0; pass < 3 && !s; pass++) {
        LLVMValueRef m = pass ? get(c, mx) : NULL;
        LLVMValueRef lse = pass == 2 ? mf_cg_log(c, get(c, sum)) : NULL;
        LLVMValueRef inv = pass == 2 ? LLVMBuildFDiv(c->B, LLVMConstReal(c->f32, 1.0), get(c, sum), "") : NULL;
        mf_cg_loop_begin(c, &l, mf_cg_i64(c, 0), mf_cg_i64(c, len));
        r->in->coord[d] = r->out->coord[d] = l.iv;
        s = read_x(r, &x);
        if (s)
            break;
        if (pass == 0) {
            max_into(c, mx, x);
        } else {
            LLVMValueRef z = LLVMBuildFSub(c->B, x, m, "");
            if (pass == 1)
                add_to(c, sum, mf_cg_exp(c, z));
            else if (r->n->op == MF_OP_LOG_SOFTMAX)
                s = finish(r, LLVMBuildFSub(c->B, z, lse, ""));
            else
                s = finish(r, LLVMBuildFMul(c->B, mf_cg_exp(c, z), inv, ""));
        }
        mf_cg_loop_end(c, &l, 1);
    }
    if (!s)
        mf_cg_loop_end(c, &item, 1);
    return s;
}

/* ---- sum / mean ------------------------------------------------------------------------------ */

static mf_status reduce_sum(red *r)
{
    mf_cg_ctx *c = r->c;
    const mf_type *t = &r->x->type, *ot = &r->n->outputs[0]->type;
    mf_reduce_view rv = mf_reduce_of(r->n->op, r->n->attrs, t->rank);
    int64_t count = 1;
    for (int i = 0; i < t->rank; i++)
        if (rv.reduced[i])
            count *= t->shape[i];
    LLVMValueRef lo, hi;
    mf_cg_part_range(c, mf_type_numel(ot), 1, &lo, &hi);
    mf_cg_loop item;
    mf_cg_loop_begin(c, &item, lo, hi);
    mf_cg_unravel(c, item.iv, ot->rank, ot->shape, r->out->coord);
    for (int i = 0, k = 0; i < t->rank; i++) {
        if (!rv.reduced[i])
            r->in->coord[i] = r->out->coord[k++];
        else if (rv.keepdim)
            k++;
    }
    LLVMValueRef acc = var(c, c->f32, LLVMConstReal(c->f32, 0.0));
    mf_cg_loop loops[MF_MAX_RANK];
    int nl = 0;
    for (int i = 0; i < t->rank; i++) {
        if (!rv.reduced[i])
            continue;
        mf_cg_loop_begin(c, &loops[nl], mf_cg_i64(c, 0), mf_cg_i64(c, t->shape[i]));
        r->in->coord[i] = loops[nl++].iv;
    }
    LLVMValueRef x;
    mf_status s = read_x(r, &x);
    if (s)
        return s;
    add_to(c, acc, x);
    while (nl > 0)
        mf_cg_loop_end(c, &loops[--nl], 1);
    LLVMValueRef v = get(c, acc);
    if (r->n->op == MF_OP_MEAN)
        v = LLVMBuildFDiv(c->B, v, LLVMConstReal(c->f32, (double)count), "");
    s = finish(r, v);
    mf_cg_loop_end(c, &item, 1);
    return s;
}

/* ---- pooling --------------------------------------------------------------------------------- */

typedef struct pool {
    int64_t h, w, kh, kw, sh, sw, ph, pw, dh, dw;
    bool incl;
} pool;

static LLVMValueRef imax(mf_cg_ctx *c, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSelect(c->B, LLVMBuildICmp(c->B, LLVMIntSGT, a, b, ""), a, b, "");
}

static LLVMValueRef imin(mf_cg_ctx *c, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSelect(c->B, LLVMBuildICmp(c->B, LLVMIntSLT, a, b, ""), a, b, "");
}

/* The window of output (oy, ox): [y0, y1) x [x0, x1) clipped to the input, and the count
 * that divides an average. */
typedef struct window {
    LLVMValueRef y0, y1, x0, x1, count;
} window;

static window avg_window(mf_cg_ctx *c, const pool *pl, LLVMValueRef oy, LLVMValueRef ox)
{
    window w;
    w.y0 = LLVMBuildSub(c->B, LLVMBuildMul(c->B, oy, mf_cg_i64(c, pl->sh), ""), mf_cg_i64(c, pl->ph), "");
    w.x0 = LLVMBuildSub(c->B, LLVMBuildMul(c->B, ox, mf_cg_i64(c, pl->sw), ""), mf_cg_i64(c, pl->pw), "");
    w.y1 = imin(c, LLVMBuildAdd(c->B, w.y0, mf_cg_i64(c, pl->kh), ""), mf_cg_i64(c, pl->h + pl->ph));
    w.x1 = imin(c, LLVMBuildAdd(c->B, w.x0, mf_cg_i64(c, pl->kw), ""), mf_cg_i64(c, pl->w + pl->pw));
    LLVMValueRef padded = LLVMBuildMul(c->B, LLVMBuildSub(c->B, w.y1, w.y0, ""),
                                       LLVMBuildSub(c->B, w.x1, w.x0, ""), "");
    LLVMValueRef zero = mf_cg_i64(c, 0);
    w.y0 = imax(c, w.y0, zero), w.x0 = imax(c, w.x0, zero);
    w.y1 = imin(c, w.y1, mf_cg_i64(c, pl->h)), w.x1 = imin(c, w.x1, mf_cg_i64(c, pl->w));
    LLVMValueRef clipped = LLVMBuildMul(c->B, LLVMBuildSub(c->B, w.y1, w.y0, ""),
                                        LLVMBuildSub(c->B, w.x1, w.x0, ""), "");
    w.count = pl->incl ? padded : clipped;
    return w;
}

/* floor(i*in/out) .. ceil((i+1)*in/out) */
static void adaptive_range(mf_cg_ctx *c, LLVMValueRef i, int64_t in, int64_t out,
                           LLVMValueRef *lo, LLVMValueRef *hi)
{
    *lo = LLVMBuildSDiv(c->B, LLVMBuildMul(c->B, i, mf_cg_i64(c, in), ""), mf_cg_i64(c, out), "");
    LLVMValueRef e = LLVMBuildAdd(c->B, LLVMBuildMul(c->B, i, mf_cg_i64(c, in), ""), mf_cg_i64(c, in + out - 1), "");
    *hi = LLVMBuildSDiv(c->B, e, mf_cg_i64(c, out), "");
}

/* Sum over a clipped window; returns the sum divided by count (0 for an empty window). */
static mf_status window_avg(red *r, window w, int iy_dim, LLVMValueRef *out)
{
    mf_cg_ctx *c = r->c;
    LLVMValueRef acc = var(c, c->f32, LLVMConstReal(c->f32, 0.0));
    mf_cg_loop ly, lx;
    mf_cg_loop_begin(c, &ly, w.y0, w.y1);
    mf_cg_loop_begin(c, &lx, w.x0, w.x1);
    r->in->coord[iy_dim] = ly.iv;
    r->in->coord[iy_dim + 1] = lx.iv;
    LLVMValueRef x;
    mf_status s = read_x(r, &x);
    if (s)
        return s;
    add_to(c, acc, x);
    mf_cg_loop_end_scalar(c, &lx, 1);
    mf_cg_loop_end_scalar(c, &ly, 1);
    LLVMValueRef cnt = LLVMBuildSIToFP(c->B, w.count, c->f32, "");
    LLVMValueRef avg = LLVMBuildFDiv(c->B, get(c, acc), cnt, "");
    LLVMValueRef empty = LLVMBuildOr(c->B, LLVMBuildICmp(c->B, LLVMIntSGE, w.y0, w.y1, ""),
                                     LLVMBuildICmp(c->B, LLVMIntSGE, w.x0, w.x1, ""), "");
    *out = LLVMBuildSelect(c->B, empty, LLVMConstReal(c->f32, 0.0), avg, "");
    return MF_OK;
}

/* Max over the dilated window, skipping padding. */
static mf_status window_max(red *r, const pool *pl, LLVMValueRef oy, LLVMValueRef ox, int iy_dim,
                            LLVMValueRef *out)
{
    mf_cg_ctx *c = r->c;
    LLVMValueRef acc = var(c, c->f32, LLVMConstReal(c->f32, -INFINITY));
    LLVMValueRef y0 = LLVMBuildSub(c->B, LLVMBuildMul(c->B, oy, mf_cg_i64(c, pl->sh), ""), mf_cg_i64(c, pl->ph), "");
    LLVMValueRef x0 = LLVMBuildSub(c->B, LLVMBuildMul(c->B, ox, mf_cg_i64(c, pl->sw), ""), mf_cg_i64(c, pl->pw), "");
    mf_cg_loop ky, kx;
    mf_cg_loop_begin(c, &ky, mf_cg_i64(c, 0), mf_cg_i64(c, pl->kh));
    LLVMValueRef iy = LLVMBuildAdd(c->B, y0, LLVMBuildMul(c->B, ky.iv, mf_cg_i64(c, pl->dh), ""), "");
    mf_cg_loop_begin(c, &kx, mf_cg_i64(c, 0), mf_cg_i64(c, pl->kw));
    LLVMValueRef ix = LLVMBuildAdd(c->B, x0, LLVMBuildMul(c->B, kx.iv, mf_cg_i64(c, pl->dw), ""), "");
    LLVMValueRef ok = LLVMBuildAnd(c->B, LLVMBuildICmp(c->B, LLVMIntULT, iy, mf_cg_i64(c, pl->h), ""),
                                   LLVMBuildICmp(c->B, LLVMIntULT, ix, mf_cg_i64(c, pl->w), ""), "");
    LLVMBasicBlockRef in = LLVMAppendBasicBlockInContext(c->C, c->body, "in");
    LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(c->C, c->body, "next");
    LLVMBuildCondBr(c->B, ok, in, next);
    LLVMPositionBuilderAtEnd(c->B, in);
    r->in->coord[iy_dim] = iy;
    r->in->coord[iy_dim + 1] = ix;
    LLVMValueRef x;
    mf_status s = read_x(r, &x);
    if (s)
        return s;
    max_into(c, acc, x);
    LLVMBuildBr(c->B, next);
    LLVMPositionBuilderAtEnd(c->B, next);
    mf_cg_loop_end(c, &kx, 1);
    mf_cg_loop_end(c, &ky, 1);
    *out = get(c, acc);
    return MF_OK;
}

static pool pool_params(const mf_node *n, const mf_type *t)
{
    pool pl = {.h = t->shape[t->rank - 2], .w = t->shape[t->rank - 1], .dh = 1, .dw = 1};
    if (n->op == MF_OP_ADAPTIVE_AVG_POOL2D)
        return pl;
    mf_pool2d_view v = mf_pool2d_of(n->op, n->attrs);
    pl.kh = v.kernel[0], pl.kw = v.kernel[1];
    pl.sh = v.stride[0], pl.sw = v.stride[1];
    pl.ph = v.padding[0], pl.pw = v.padding[1];
    pl.dh = v.dilation[0], pl.dw = v.dilation[1];
    pl.incl = v.count_include_pad; /* avg_pool2d's; false for max_pool2d */
    return pl;
}

static mf_status pool2d(red *r)
{
    mf_cg_ctx *c = r->c;
    const mf_type *t = &r->x->type, *ot = &r->n->outputs[0]->type;
    pool pl = pool_params(r->n, t);
    int yd = t->rank - 2;
    int64_t oh = ot->shape[yd], ow = ot->shape[yd + 1];
    LLVMValueRef lo, hi;
    mf_cg_part_range(c, mf_type_numel(ot) / ow, 1, &lo, &hi);
    mf_cg_loop row, col;
    mf_cg_loop_begin(c, &row, lo, hi);
    mf_cg_unravel(c, row.iv, ot->rank - 1, ot->shape, r->out->coord);
    for (int i = 0; i < yd; i++)
        r->in->coord[i] = r->out->coord[i];
    LLVMValueRef oy = r->out->coord[yd];
    mf_cg_loop_begin(c, &col, mf_cg_i64(c, 0), mf_cg_i64(c, ow));
    LLVMValueRef ox = col.iv, v;
    r->out->coord[yd + 1] = ox;
    mf_status s;
    if (r->n->op == MF_OP_MAX_POOL2D) {
        s = window_max(r, &pl, oy, ox, yd, &v);
    } else if (r->n->op == MF_OP_AVG_POOL2D) {
        s = window_avg(r, avg_window(c, &pl, oy, ox), yd, &v);
    } else {
        window w;
        adaptive_range(c, oy, pl.h, oh, &w.y0, &w.y1);
        adaptive_range(c, ox, pl.w, ow, &w.x0, &w.x1);
        w.count = LLVMBuildMul(c->B, LLVMBuildSub(c->B, w.y1, w.y0, ""), LLVMBuildSub(c->B, w.x1, w.x0, ""), "");
        s = window_avg(r, w, yd, &v);
    }
    if (!s)
        s = finish(r, v);
    mf_cg_loop_end_scalar(c, &col, 1);
    mf_cg_loop_end(c, &row, 1);
    return s;
}

/* ---- global average pooling ------------------------------------------------------------------ */

/* Is n an average pool whose one output pixel averages the whole plane of a plain f32 input
 * (adaptive to 1x1, or a window covering the plane without padding)?  Its planes are then
 * contiguous runs of h*w floats. */
static bool global_avg_applies(const mf_cg_ctx *c, const mf_node *n)
{
    const mf_type *t = &n->inputs[0]->type, *ot = &n->outputs[0]->type;
    const mf_value *src = mf_cg_view_source(c->g, n);
    if (t->rank < 3 || !src || src->type.dtype != MF_F32 || ot->shape[ot->rank - 2] != 1 ||
        ot->shape[ot->rank - 1] != 1)
        return false;
    if (n->op == MF_OP_ADAPTIVE_AVG_POOL2D)
        return true;
    if (n->op != MF_OP_AVG_POOL2D)
        return false;
    pool pl = pool_params(n, t);
    return pl.kh == pl.h && pl.kw == pl.w && pl.ph == 0 && pl.pw == 0;
}

/* One vector of a plane's sum: the load of the vw floats at plane + at, masked to the first
 * `live` lanes when fewer than vw (the masked ones read 0) and added to acc. */
static LLVMValueRef add_vector(mf_cg_ctx *c, LLVMValueRef acc, LLVMValueRef plane, LLVMValueRef at, int live)
{
    LLVMTypeRef vt = LLVMTypeOf(acc);
    LLVMValueRef mask = NULL;
    if (live < c->vw) {
        LLVMValueRef bits[MF_CG_MAX_VW];
        for (int l = 0; l < c->vw; l++)
            bits[l] = LLVMConstInt(c->i1, l < live, 0);
        mask = LLVMConstVector(bits, (unsigned)c->vw);
    }
    LLVMValueRef x = mf_cg_load_f32_as(c, vt, mf_cg_gep(c, plane, at), mask, MF_F32);
    LLVMValueRef sum = LLVMBuildFAdd(c->B, acc, x, "");
    LLVMSetFastMathFlags(sum, LLVMFastMathAllowReassoc);
    return sum;
}

/* Each plane (an output pixel a work item) summed vw lanes at a time, whole vectors in a loop
 * and the tail masked, then across the lanes: mobilenet_v2's 1280 planes of 7x7 took the
 * scalar window loop (one add a float, its latency each time) tens of microseconds. */
static mf_status global_avg(red *r)
{
    mf_cg_ctx *c = r->c;
    const mf_type *t = &r->x->type, *ot = &r->n->outputs[0]->type;
    const int64_t hw = t->shape[t->rank - 2] * t->shape[t->rank - 1], nfull = hw / c->vw;
    const int tail = (int)(hw % c->vw);
    LLVMTypeRef vt = LLVMVectorType(c->f32, (unsigned)c->vw);
    LLVMValueRef acc = mf_cg_entry_alloca(c, vt);
    LLVMValueRef base = c->in_ptr[mf_cg_input_index(c->g, mf_cg_view_source(c->g, r->n))];
    LLVMValueRef lo, hi;
    mf_cg_part_range(c, mf_type_numel(ot), 1, &lo, &hi);
    mf_cg_loop item;
    mf_cg_loop_begin(c, &item, lo, hi);
    mf_cg_unravel(c, item.iv, ot->rank, ot->shape, r->out->coord);
    LLVMValueRef plane = mf_cg_gep(c, base, mf_cg_ix_mulk(c, item.iv, hw));
    LLVMBuildStore(c->B, mf_cg_fconst(c, vt, 0.0), acc);
    if (nfull > 0) {
        mf_cg_loop v;
        mf_cg_loop_begin(c, &v, mf_cg_i64(c, 0), mf_cg_i64(c, nfull));
        LLVMValueRef at = mf_cg_ix_mulk(c, v.iv, c->vw);
        LLVMBuildStore(c->B, add_vector(c, LLVMBuildLoad2(c->B, vt, acc, ""), plane, at, c->vw), acc);
        mf_cg_loop_end(c, &v, 1);
    }
    LLVMValueRef sum = LLVMBuildLoad2(c->B, vt, acc, "");
    if (tail)
        sum = add_vector(c, sum, plane, mf_cg_i64(c, nfull * c->vw), tail);
    LLVMValueRef ops[2] = {LLVMConstReal(c->f32, -0.0), sum};
    LLVMValueRef total = mf_cg_intrin2(c, "llvm.vector.reduce.fadd", &vt, 1, c->f32, 2, ops);
    LLVMSetFastMathFlags(total, LLVMFastMathAllowReassoc);
    mf_status s = finish(r, LLVMBuildFDiv(c->B, total, LLVMConstReal(c->f32, (double)hw), ""));
    mf_cg_loop_end(c, &item, 1);
    return s;
}

/* Sets up the points of reduction n and runs the lowering of its family. */
static mf_status lower_reduction(mf_cg_ctx *c, const mf_node *n, int nepi,
                                 const mf_value *const *epi, mf_status (*family)(red *r))
{
    red r = {c, n, n->inputs[0], mf_cg_point_over(&n->inputs[0]->type),
             mf_cg_point_over(&n->outputs[0]->type), nepi, epi};
    mf_status s = MF_OK;
    if (!r.in || !r.out) {
        s = mf_error(MF_ERR_NOMEM, "codegen: out of memory");
        goto done;
    }
    if (mf_type_numel(&n->outputs[0]->type) == 0) /* (an empty input with a non-empty */
        goto done;                                  /* output is refused: mf_node_mlu_limit) */
    s = family(&r);
done:
    free(r.in);
    free(r.out);
    return s;
}

mf_status mf_cg_lower_softmax(mf_cg_ctx *c, const mf_node *n, int nepi, const mf_value *const *epi)
{
    return lower_reduction(c, n, nepi, epi, softmax);
}

mf_status mf_cg_lower_sum(mf_cg_ctx *c, const mf_node *n, int nepi, const mf_value *const *epi)
{
    return lower_reduction(c, n, nepi, epi, reduce_sum);
}

mf_status mf_cg_lower_pool2d(mf_cg_ctx *c, const mf_node *n, int nepi, const mf_value *const *epi)
{
    if (mf_cg_qpool_applies(c, n)) /* int8 max pooling, vectorized (lower_qpool.c) */
        return mf_cg_lower_qmax_pool(c, n, nepi, epi);
    if (mf_cg_fpool_applies(c, n)) /* f32 max pooling, vectorized (lower_fpool.c) */
        return mf_cg_lower_fmax_pool(c, n, nepi, epi);
    if (global_avg_applies(c, n))
        return lower_reduction(c, n, nepi, epi, global_avg);
    return lower_reduction(c, n, nepi, epi, pool2d);
}
