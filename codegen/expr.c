/* expr.c — the elementwise expression evaluator: the value of a graph value at one point of
 * an iteration space, built from loads of graph inputs (contiguous, broadcast or strided)
 * through elementwise and view ops, for one lane or a vector of lanes.  Maps say where each
 * value's elements lie relative to the loop dims, so broadcasting costs nothing: a
 * broadcast dim simply has stride 0.  Every lowering uses it for prologues and epilogues. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cg_internal.h"

bool mf_cg_is_pointwise(mf_op op)
{
    return mf_cg_has_emitter(op);
}

static int64_t contig_stride(const mf_type *t, int j)
{
    int64_t s = 1;
    for (int i = t->rank - 1; i > j; i--)
        s *= t->shape[i];
    return s;
}

mf_cg_map mf_cg_map_for(const mf_type *t, int nspace, const int64_t *space)
{
    mf_cg_map m;
    memset(&m, 0, sizeof m);
    for (int j = 0; j < t->rank; j++) {
        int d = j + (nspace - t->rank);
        if (d < 0 || t->shape[j] == 1 || space[d] == 1) {
            m.dim[j] = -1;
            continue;
        }
        m.dim[j] = d;
        m.s[d] = contig_stride(t, j);
    }
    return m;
}

/* Map of an input of type it read by a value of type ot with map om (numpy broadcast). */
static mf_status broadcast_map(const mf_type *it, const mf_type *ot, const mf_cg_map *om,
                               mf_cg_map *im)
{
    if (mf_type_equal(it, ot)) {
        *im = *om;
        return MF_OK;
    }
    memset(im, 0, sizeof *im);
    for (int i = 0; i < it->rank; i++) {
        int j = i + (ot->rank - it->rank);
        if (it->shape[i] == 1 || om->dim[j] == -1) {
            im->dim[i] = -1;
            continue;
        }
        if (om->dim[j] == -2)
            return mf_error(MF_ERR_UNSUPPORTED,
                            "codegen: a broadcast after a reshape that splits or merges dims");
        im->dim[i] = om->dim[j];
        im->s[om->dim[j]] += contig_stride(it, i);
    }
    return MF_OK;
}

/* A view keeps the linear index; dims are known again when the non-1 dims agree. */
void mf_cg_view_map(const mf_type *it, const mf_type *ot, const mf_cg_map *om, mf_cg_map *im)
{
    memcpy(im->s, om->s, sizeof im->s);
    int od[MF_MAX_RANK], n_o = 0, n_i = 0;
    for (int j = 0; j < ot->rank; j++)
        if (ot->shape[j] != 1)
            od[n_o++] = om->dim[j];
    bool same = true;
    for (int i = 0, k = 0; i < it->rank; i++) {
        if (it->shape[i] == 1)
            continue;
        n_i++;
        int j = 0, cnt = 0;
        for (j = 0; j < ot->rank; j++)
            if (ot->shape[j] != 1 && cnt++ == k)
                break;
        if (k >= n_o || ot->shape[j] != it->shape[i])
            same = false;
        k++;
    }
    same = same && n_i == n_o;
    for (int i = 0, k = 0; i < it->rank; i++)
        im->dim[i] = it->shape[i] == 1 ? -1 : same ? od[k++] : -2;
}

mf_status mf_cg_input_maps(const mf_node *n, const mf_cg_map *out, int nspace,
                           mf_cg_map *in_maps)
{
    const mf_type *ot = &n->outputs[0]->type;
    if (mf_op_get(n->op)->kind == MF_KIND_VIEW) {
        mf_cg_view_map(&n->inputs[0]->type, ot, out, &in_maps[0]);
        return MF_OK;
    }
    if (n->op == MF_OP_BATCH_NORM) {
        in_maps[0] = *out;
        mf_cg_map cm;
        memset(&cm, 0, sizeof cm);
        int d = out->dim[1];
        if (d == -2)
            return mf_error(MF_ERR_UNSUPPORTED, "codegen: batch_norm after a merging reshape");
        cm.dim[0] = d;
        if (d >= 0)
            cm.s[d] = 1;
        for (int i = 1; i < 5; i++)
            in_maps[i] = cm;
        return MF_OK;
    }
    for (int i = 0; i < n->ninputs; i++) {
        mf_status s = broadcast_map(&n->inputs[i]->type, ot, out, &in_maps[i]);
        if (s)
            return s;
    }
    return MF_OK;
}

static mf_status unsupported_node(const mf_node *n)
{
    return mf_error(MF_ERR_UNSUPPORTED, "codegen: node %d (%s) cannot be fused here", n->id,
                    mf_op_get(n->op)->name);
}

static bool has_unknown_dims(const mf_type *t, const mf_cg_map *m)
{
    for (int j = 0; j < t->rank; j++)
        if (m->dim[j] == -2)
            return true;
    return false;
}

mf_status mf_cg_visit_leaves(const mf_value *v, const mf_value *core, const mf_cg_map *m,
                             int nspace, mf_cg_leaf_fn fn, void *ctx)
{
    if (v == core)
        return MF_OK;
    if (!v->producer) {
        fn(ctx, v, m);
        return MF_OK;
    }
    const mf_node *n = v->producer;
    if (!mf_cg_is_pointwise(n->op))
        return unsupported_node(n);
    mf_cg_map im[8];
    if (n->ninputs > 8)
        return unsupported_node(n);
    mf_status s = mf_cg_input_maps(n, m, nspace, im);
    if (!s && mf_op_get(n->op)->kind == MF_KIND_VIEW && has_unknown_dims(&n->inputs[0]->type, im)) {
        s = mf_cg_visit_leaves(n->inputs[0], core, &im[0], nspace, fn, ctx);
        if (s == MF_ERR_UNSUPPORTED) { /* evaluated from unravelled coordinates */
            fn(ctx, n->inputs[0], &im[0]);
            s = MF_OK;
        }
        return s;
    }
    for (int i = 0; i < n->ninputs && !s; i++)
        s = mf_cg_visit_leaves(n->inputs[i], core, &im[i], nspace, fn, ctx);
    return s;
}

static void ignore_leaf(void *ctx, const mf_value *leaf, const mf_cg_map *m)
{
}

/* ---- loads and stores ------------------------------------------------------------------- */

static int64_t loop_stride(const mf_cg_point *p, const mf_cg_map *m, int d)
{
    return p->stride_of[d] < 0 ? 0 : m->s[p->stride_of[d]];
}

/* Element offset of the point's first lane. */
static LLVMValueRef offset(mf_cg_ctx *c, mf_cg_point *p, const mf_cg_map *m)
{
    LLVMValueRef off = mf_cg_i64(c, 0);
    for (int d = 0; d < p->nloop; d++) {
        int64_t s = loop_stride(p, m, d);
        if (s)
            off = LLVMBuildAdd(c->B, off, LLVMBuildMul(c->B, p->coord[d], mf_cg_i64(c, s), ""),
                               "");
    }
    return off;
}

/* Vector of pointers base + off + lane * ls, to elements of type et. */
static LLVMValueRef lane_ptrs(mf_cg_ctx *c, mf_cg_point *p, LLVMTypeRef et, LLVMValueRef base,
                              LLVMValueRef off, int64_t ls)
{
    LLVMValueRef idx[MF_CG_MAX_VW];
    for (unsigned i = 0; i < p->width; i++)
        idx[i] = LLVMConstInt(c->i64, (unsigned long long)(i * ls), 1);
    LLVMValueRef lanes = LLVMBuildAdd(c->B, mf_cg_splat(c, off, p->width),
                                      LLVMConstVector(idx, p->width), "");
    return LLVMBuildGEP2(c->B, et, base, &lanes, 1, "");
}

static LLVMValueRef all_true(mf_cg_ctx *c, unsigned w)
{
    return mf_cg_splat(c, LLVMConstInt(c->i1, 1, 0), w);
}

/* Elements of type et (f32, half, or i8 for int8 codes), aligned to their size. */
static unsigned elem_align(mf_cg_ctx *c, LLVMTypeRef et)
{
    return et == c->f32 ? 4 : et == LLVMHalfTypeInContext(c->C) ? 2 : 1;
}

static LLVMValueRef load_elems(mf_cg_ctx *c, mf_cg_point *p, LLVMTypeRef et, LLVMValueRef base,
                               const mf_cg_map *m)
{
    LLVMValueRef off = offset(c, p, m);
    LLVMValueRef ptr = LLVMBuildGEP2(c->B, et, base, &off, 1, "");
    LLVMValueRef align = LLVMConstInt(c->i32, elem_align(c, et), 0);
    if (p->width == 1) { /* a masked-off lane reads the buffer's first element instead */
        if (p->mask)
            ptr = LLVMBuildSelect(c->B, p->mask, ptr, base, "");
        return LLVMBuildLoad2(c->B, et, ptr, "");
    }
    int64_t ls = p->lane < 0 ? 0 : loop_stride(p, m, p->lane);
    LLVMTypeRef vt = mf_cg_vec(c, et, p->width);
    if (ls == 0)
        return mf_cg_splat(c, LLVMBuildLoad2(c->B, et, ptr, ""), p->width);
    if (ls == 1 && !p->mask) {
        LLVMValueRef x = LLVMBuildLoad2(c->B, vt, ptr, "");
        LLVMSetAlignment(x, elem_align(c, et));
        return x;
    }
    LLVMValueRef mask = p->mask ? p->mask : all_true(c, p->width);
    LLVMValueRef zero = LLVMConstNull(vt);
    if (ls == 1) {
        LLVMValueRef ops[4] = {ptr, align, mask, zero};
        LLVMTypeRef tys[2] = {vt, c->ptr};
        return mf_cg_intrin2(c, "llvm.masked.load", tys, 2, vt, 4, ops);
    }
    LLVMValueRef ptrs = lane_ptrs(c, p, et, base, off, ls);
    LLVMValueRef ops[4] = {ptrs, align, mask, zero};
    LLVMTypeRef tys[2] = {vt, LLVMTypeOf(ptrs)};
    return mf_cg_intrin2(c, "llvm.masked.gather", tys, 2, vt, 4, ops);
}

LLVMValueRef mf_cg_load_at(mf_cg_ctx *c, mf_cg_point *p, LLVMValueRef base, const mf_cg_map *m)
{
    return load_elems(c, p, c->f32, base, m);
}

LLVMValueRef mf_cg_load_as(mf_cg_ctx *c, mf_cg_point *p, LLVMValueRef base, const mf_cg_map *m,
                           mf_dtype t)
{
    if (t == MF_F16)
        return mf_cg_widen_half(c, load_elems(c, p, LLVMHalfTypeInContext(c->C), base, m));
    if (t != MF_I8)
        return mf_cg_load_at(c, p, base, m);
    LLVMValueRef q = load_elems(c, p, LLVMInt8TypeInContext(c->C), base, m);
    return LLVMBuildSIToFP(c->B, q, mf_cg_vec(c, c->f32, p->width), "");
}

static void store_elems(mf_cg_ctx *c, mf_cg_point *p, LLVMTypeRef et, LLVMValueRef base,
                        const mf_cg_map *m, LLVMValueRef x)
{
    LLVMValueRef off = offset(c, p, m);
    LLVMValueRef ptr = LLVMBuildGEP2(c->B, et, base, &off, 1, "");
    LLVMValueRef align = LLVMConstInt(c->i32, elem_align(c, et), 0);
    if (p->width == 1) { /* a masked-off lane writes a dummy on the stack instead */
        if (p->mask)
            ptr = LLVMBuildSelect(c->B, p->mask, ptr, mf_cg_entry_alloca(c, et), "");
        LLVMBuildStore(c->B, x, ptr);
        return;
    }
    int64_t ls = loop_stride(p, m, p->lane);
    LLVMTypeRef vt = LLVMTypeOf(x);
    if (ls == 1 && !p->mask) {
        LLVMSetAlignment(LLVMBuildStore(c->B, x, ptr), elem_align(c, et));
        return;
    }
    LLVMValueRef mask = p->mask ? p->mask : all_true(c, p->width);
    LLVMTypeRef vd = LLVMVoidTypeInContext(c->C);
    if (ls == 1) {
        if (mf_cg_store_split(c, x, ptr, et, elem_align(c, et), mask))
            return;
        LLVMValueRef ops[4] = {x, ptr, align, mask};
        LLVMTypeRef tys[2] = {vt, c->ptr};
        mf_cg_intrin2(c, "llvm.masked.store", tys, 2, vd, 4, ops);
        return;
    }
    LLVMValueRef ptrs = lane_ptrs(c, p, et, base, off, ls);
    LLVMValueRef ops[4] = {x, ptrs, align, mask};
    LLVMTypeRef tys[2] = {vt, LLVMTypeOf(ptrs)};
    mf_cg_intrin2(c, "llvm.masked.scatter", tys, 2, vd, 4, ops);
}

void mf_cg_store(mf_cg_ctx *c, mf_cg_point *p, LLVMValueRef base, const mf_cg_map *m,
                 LLVMValueRef x)
{
    store_elems(c, p, c->f32, base, m, x);
}

void mf_cg_store_as(mf_cg_ctx *c, mf_cg_point *p, LLVMValueRef base, const mf_cg_map *m,
                    LLVMValueRef x, mf_dtype t)
{
    if (t == MF_F16) {
        store_elems(c, p, LLVMHalfTypeInContext(c->C), base, m, mf_cg_narrow_half(c, x));
        return;
    }
    if (t == MF_I32) { /* the i32 sums of qconv2d / qlinear acc=1, integers already */
        store_elems(c, p, c->i32, base, m, x);
        return;
    }
    if (t != MF_I8) {
        mf_cg_store(c, p, base, m, x);
        return;
    }
    LLVMTypeRef i8 = LLVMInt8TypeInContext(c->C);
    LLVMValueRef q = p->width > 1 ? mf_cg_codes_to_i32(c, x, (unsigned)p->width) : NULL;
    store_elems(c, p, i8, base, m, q ? LLVMBuildTrunc(c->B, q, mf_cg_vec(c, i8, p->width), "")
                                     : LLVMBuildFPToSI(c->B, x, mf_cg_vec(c, i8, p->width), ""));
}

/* ---- ops ---------------------------------------------------------------------------------- */

static LLVMValueRef fcmp(mf_cg_ctx *c, LLVMRealPredicate pr, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFCmp(c->B, pr, a, b, "");
}

static LLVMValueRef sel(mf_cg_ctx *c, LLVMValueRef cond, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSelect(c->B, cond, a, b, "");
}

static double attr_f(const mf_node *n, const char *name)
{
    return mf_attr_float(n->op, n->attrs, name);
}

/* x < lo ? lo : x > hi ? hi : x, NaN passing through (PyTorch's clamp). */
static LLVMValueRef clamp(mf_cg_ctx *c, LLVMValueRef x, double lo, double hi)
{
    LLVMTypeRef t = LLVMTypeOf(x);
    if (hi < INFINITY)
        x = sel(c, fcmp(c, LLVMRealOGT, x, mf_cg_fconst(c, t, hi)), mf_cg_fconst(c, t, hi), x);
    if (lo > -INFINITY)
        x = sel(c, fcmp(c, LLVMRealOLT, x, mf_cg_fconst(c, t, lo)), mf_cg_fconst(c, t, lo), x);
    return x;
}

/* a + alpha*b (sub passes -alpha), contracted to one FMA when alpha != 1. */
static LLVMValueRef add_alpha(mf_cg_ctx *c, LLVMValueRef a, LLVMValueRef b, double alpha)
{
    if (alpha == 1.0)
        return LLVMBuildFAdd(c->B, a, b, "");
    if (alpha == -1.0)
        return LLVMBuildFSub(c->B, a, b, "");
    return mf_cg_fmuladd(c, b, mf_cg_fconst(c, LLVMTypeOf(b), (float)alpha), a);
}

static LLVMValueRef batch_norm(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    LLVMTypeRef t = LLVMTypeOf(in[0]);
    LLVMValueRef veps = LLVMBuildFAdd(c->B, in[4], mf_cg_fconst(c, t, (float)attr_f(n, "eps")), "");
    LLVMValueRef sd = mf_cg_intrin(c, "llvm.sqrt", t, 1, &veps);
    LLVMValueRef scale = LLVMBuildFDiv(c->B, in[1], sd, "");
    LLVMValueRef xc = LLVMBuildFSub(c->B, in[0], in[3], "");
    return mf_cg_fmuladd(c, xc, scale, in[2]);
}

static LLVMValueRef hardswish(mf_cg_ctx *c, LLVMValueRef x)
{
    LLVMTypeRef t = LLVMTypeOf(x);
    LLVMValueRef r = clamp(c, LLVMBuildFAdd(c->B, x, mf_cg_fconst(c, t, 3.0), ""), 0.0, 6.0);
    return LLVMBuildFDiv(c->B, LLVMBuildFMul(c->B, x, r, ""), mf_cg_fconst(c, t, 6.0), "");
}

static LLVMValueRef hardsigmoid(mf_cg_ctx *c, const mf_node *n, LLVMValueRef x)
{
    LLVMTypeRef t = LLVMTypeOf(x);
    LLVMValueRef r = LLVMBuildFMul(c->B, x, mf_cg_fconst(c, t, (float)attr_f(n, "alpha")), "");
    r = LLVMBuildFAdd(c->B, r, mf_cg_fconst(c, t, (float)attr_f(n, "beta")), "");
    return clamp(c, r, 0.0, 1.0);
}

/* ---- the pointwise emitters: one per elementwise or view op with device code ---------- */

static LLVMValueRef emit_add(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    return add_alpha(c, in[0], in[1], (float)attr_f(n, "alpha"));
}

static LLVMValueRef emit_sub(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    return add_alpha(c, in[0], in[1], -(float)attr_f(n, "alpha"));
}

static LLVMValueRef emit_mul(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    return LLVMBuildFMul(c->B, in[0], in[1], "");
}

static LLVMValueRef emit_div(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    return LLVMBuildFDiv(c->B, in[0], in[1], "");
}

static LLVMValueRef emit_relu(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    LLVMValueRef x = in[0], zero = mf_cg_fconst(c, LLVMTypeOf(x), 0.0);
    return sel(c, fcmp(c, LLVMRealOLT, x, zero), zero, x);
}

static LLVMValueRef emit_clamp(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    return clamp(c, in[0], (float)attr_f(n, "min"), (float)attr_f(n, "max"));
}

static LLVMValueRef emit_leaky_relu(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    LLVMValueRef x = in[0];
    LLVMTypeRef t = LLVMTypeOf(x);
    LLVMValueRef zero = mf_cg_fconst(c, t, 0.0);
    return sel(c, fcmp(c, LLVMRealOGT, x, zero), x,
               LLVMBuildFMul(c->B, x, mf_cg_fconst(c, t, (float)attr_f(n, "negative_slope")), ""));
}

static LLVMValueRef emit_sigmoid(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    return mf_cg_sigmoid(c, in[0]);
}

static LLVMValueRef emit_tanh(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    return mf_cg_tanh(c, in[0]);
}

static LLVMValueRef emit_hardswish(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    return hardswish(c, in[0]);
}

static LLVMValueRef emit_hardsigmoid(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    return hardsigmoid(c, n, in[0]);
}

static LLVMValueRef emit_exp(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    return mf_cg_exp(c, in[0]);
}

static LLVMValueRef emit_log(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    return mf_cg_log(c, in[0]);
}

static LLVMValueRef emit_neg(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    return LLVMBuildFNeg(c->B, in[0], "");
}

static LLVMValueRef emit_abs(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    return mf_cg_intrin(c, "llvm.fabs", LLVMTypeOf(in[0]), 1, &in[0]);
}

static LLVMValueRef emit_sqrt(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    return mf_cg_intrin(c, "llvm.sqrt", LLVMTypeOf(in[0]), 1, &in[0]);
}

static LLVMValueRef emit_batch_norm(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    return batch_norm(c, n, in);
}

/* The views keep the value: a view only re-indexes (eval_view evaluates its input under
 * the view's map). */
static LLVMValueRef emit_same(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    return in[0];
}

/* Casts between the float types codegen takes: values are f32 in registers, so a cast to
 * f16 rounds to the nearest half (what a store and a load would give), others keep it. */
static LLVMValueRef emit_cast(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in)
{
    if (n->outputs[0]->type.dtype != MF_F16)
        return in[0];
    return mf_cg_widen_half(c, mf_cg_narrow_half(c, in[0]));
}

/* Indexed by ops.def's list; an op with device code that is elementwise or a view has an
 * emitter here, every other op none (test_cg_op_tables checks both). */
static const mf_cg_emit_fn emitters[MF_OP_COUNT] = {
    [MF_OP_ADD] = emit_add,
    [MF_OP_SUB] = emit_sub,
    [MF_OP_MUL] = emit_mul,
    [MF_OP_DIV] = emit_div,
    [MF_OP_RELU] = emit_relu,
    [MF_OP_CLAMP] = emit_clamp,
    [MF_OP_LEAKY_RELU] = emit_leaky_relu,
    [MF_OP_SIGMOID] = emit_sigmoid,
    [MF_OP_TANH] = emit_tanh,
    [MF_OP_HARDSWISH] = emit_hardswish,
    [MF_OP_HARDSIGMOID] = emit_hardsigmoid,
    [MF_OP_EXP] = emit_exp,
    [MF_OP_LOG] = emit_log,
    [MF_OP_NEG] = emit_neg,
    [MF_OP_ABS] = emit_abs,
    [MF_OP_SQRT] = emit_sqrt,
    [MF_OP_CAST] = emit_cast,
    [MF_OP_BATCH_NORM] = emit_batch_norm,
    [MF_OP_DROPOUT] = emit_same,
    [MF_OP_FLATTEN] = emit_same,
    [MF_OP_RESHAPE] = emit_same,
    [MF_OP_QUANTIZE] = mf_cg_quant_op,
    [MF_OP_DEQUANTIZE] = mf_cg_quant_op,
    [MF_OP_QADD] = mf_cg_quant_op,
    [MF_OP_MINIMUM] = mf_cg_emit_minimum,
    [MF_OP_MAXIMUM] = mf_cg_emit_maximum,
    [MF_OP_PRELU] = mf_cg_emit_prelu,
    [MF_OP_ELU] = mf_cg_emit_elu,
    [MF_OP_SELU] = mf_cg_emit_selu,
    [MF_OP_CELU] = mf_cg_emit_celu,
    [MF_OP_RECIPROCAL] = mf_cg_emit_reciprocal,
    [MF_OP_FLOOR] = mf_cg_emit_floor,
    [MF_OP_CEIL] = mf_cg_emit_ceil,
    [MF_OP_ROUND] = mf_cg_emit_round,
    [MF_OP_SIGN] = mf_cg_emit_sign,
    [MF_OP_SOFTPLUS] = mf_cg_emit_softplus,
    [MF_OP_SOFTSIGN] = mf_cg_emit_softsign,
    [MF_OP_THRESHOLDED_RELU] = mf_cg_emit_thresholded_relu,
    [MF_OP_SHRINK] = mf_cg_emit_shrink,
};

mf_cg_emit_fn mf_cg_emitter(mf_op op)
{
    return (unsigned)op < MF_OP_COUNT ? emitters[op] : NULL;
}

bool mf_cg_has_emitter(mf_op op)
{
    return mf_cg_emitter(op) != NULL;
}

mf_cg_point *mf_cg_point_over(const mf_type *t)
{
    mf_cg_point *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->nloop = p->nspace = t->rank;
    for (int d = 0; d < t->rank; d++) {
        p->extent[d] = t->shape[d];
        p->stride_of[d] = d;
    }
    p->lane = -1;
    p->width = 1;
    return p;
}

static LLVMValueRef memo_find(mf_cg_point *p, const mf_value *v, const mf_cg_map *m)
{
    for (int i = 0; i < p->nmemo; i++)
        if (p->memo[i].v == v && !memcmp(&p->memo[i].m, m, sizeof *m))
            return p->memo[i].x;
    return NULL;
}

static void memo_add(mf_cg_point *p, const mf_value *v, const mf_cg_map *m, LLVMValueRef x)
{
    if (p->nmemo < (int)(sizeof p->memo / sizeof p->memo[0])) {
        p->memo[p->nmemo].v = v;
        p->memo[p->nmemo].m = *m;
        p->memo[p->nmemo++].x = x;
    }
}

/* A view whose input's dims cannot be told from the loop dims, above a broadcast that
 * needs them: evaluates the input at a point of its own, coordinates unravelled from the
 * linear index (scalar code only). */
static mf_status eval_unravelled(mf_cg_ctx *c, mf_cg_point *p, const mf_value *v,
                                 const mf_cg_map *m, LLVMValueRef *out)
{
    if (p->width != 1)
        return mf_error(MF_ERR_UNSUPPORTED,
                        "codegen: a broadcast after a reshape that splits or merges dims");
    const mf_type *t = &v->type;
    mf_cg_point *q = mf_cg_point_over(t);
    if (!q)
        return mf_error(MF_ERR_NOMEM, "codegen: out of memory");
    mf_cg_unravel(c, offset(c, p, m), t->rank, t->shape, q->coord);
    mf_cg_map qm = mf_cg_map_for(t, t->rank, t->shape);
    mf_status s = mf_cg_eval(c, q, v, &qm, out);
    free(q);
    return s;
}

static mf_status eval_view(mf_cg_ctx *c, mf_cg_point *p, const mf_node *n, const mf_cg_map *m,
                           LLVMValueRef *out)
{
    mf_cg_map im;
    const mf_value *in = n->inputs[0];
    mf_cg_view_map(&in->type, &n->outputs[0]->type, m, &im);
    if (has_unknown_dims(&in->type, &im) &&
        mf_cg_visit_leaves(in, p->core, &im, p->nspace, ignore_leaf, NULL) == MF_ERR_UNSUPPORTED)
        return eval_unravelled(c, p, in, &im, out);
    return mf_cg_eval(c, p, in, &im, out);
}

/* The sigmoid or tanh that produces v when this is its one use (not a subgraph output). */
static const mf_node *sole_fraction(const mf_graph *g, const mf_value *v)
{
    const mf_node *f = v->producer;
    if (!f || (f->op != MF_OP_SIGMOID && f->op != MF_OP_TANH) || v->type.dtype != MF_F32)
        return NULL;
    return mf_graph_num_uses(g, v) == 1 ? f : NULL;
}

/* Is n mul(a, b) of two sigmoids or tanhs read nowhere else, not both tanhs (f gets their
 * nodes)?  A tanh's numerator is about 4.9e-3 x, so two of them multiplied go subnormal where
 * the product itself is still a normal float (under 5e-34). */
static bool fraction_product(const mf_graph *g, const mf_node *n, const mf_node *f[2])
{
    return n->op == MF_OP_MUL && n->outputs[0]->type.dtype == MF_F32 &&
           (f[0] = sole_fraction(g, n->inputs[0])) && (f[1] = sole_fraction(g, n->inputs[1])) &&
           (f[0]->op == MF_OP_SIGMOID || f[1]->op == MF_OP_SIGMOID);
}

/* Such a product as (na nb) / (da db): one division for two (an LSTM cell's sigmoid(i) *
 * tanh(g)).  A sigmoid's numerator is 1, so the numerators' product is exact; a den product
 * that overflows gives 0 where the quotient is under 3e-39 either way (math.c's bounds).
 * On Zen 3 a ymm division issues every 3.5 cycles: the three of an elementwise chain's
 * vector took half of its time. */
static mf_status eval_fraction_product(mf_cg_ctx *c, mf_cg_point *p, const mf_node *n,
                                       const mf_node *const f[2], const mf_cg_map *m,
                                       LLVMValueRef *out)
{
    mf_cg_map im[2], fm;
    LLVMValueRef num[2], den[2];
    mf_status s = mf_cg_input_maps(n, m, p->nspace, im);
    for (int i = 0; i < 2 && !s; i++) {
        LLVMValueRef x;
        s = mf_cg_input_maps(f[i], &im[i], p->nspace, &fm);
        if (!s)
            s = mf_cg_eval(c, p, f[i]->inputs[0], &fm, &x);
        if (!s)
            (f[i]->op == MF_OP_SIGMOID ? mf_cg_sigmoid_frac : mf_cg_tanh_frac)(c, x, &num[i],
                                                                               &den[i]);
    }
    if (s)
        return s;
    LLVMValueRef top = LLVMBuildFMul(c->B, num[0], num[1], ""); /* a sigmoid's 1 folds away */
    *out = LLVMBuildFDiv(c->B, top, LLVMBuildFMul(c->B, den[0], den[1], ""), "");
    return MF_OK;
}

static mf_status eval_node(mf_cg_ctx *c, mf_cg_point *p, const mf_node *n, const mf_cg_map *m,
                           LLVMValueRef *out)
{
    const mf_node *f[2];
    if (fraction_product(c->g, n, f))
        return eval_fraction_product(c, p, n, f, m, out);
    if (mf_op_get(n->op)->kind == MF_KIND_VIEW && mf_cg_has_emitter(n->op))
        return eval_view(c, p, n, m, out);
    if (!mf_cg_is_pointwise(n->op) || n->ninputs > 8)
        return unsupported_node(n);
    mf_cg_map im[8];
    LLVMValueRef in[8];
    mf_status s = mf_cg_input_maps(n, m, p->nspace, im);
    for (int i = 0; i < n->ninputs && !s; i++)
        s = mf_cg_eval(c, p, n->inputs[i], &im[i], &in[i]);
    if (s)
        return s;
    *out = mf_cg_emitter(n->op)(c, n, in);
    return MF_OK;
}

mf_status mf_cg_eval(mf_cg_ctx *c, mf_cg_point *p, const mf_value *v, const mf_cg_map *m,
                     LLVMValueRef *out)
{
    if (v == p->core) {
        if (memcmp(m, &p->core_map, sizeof *m))
            return mf_error(MF_ERR_UNSUPPORTED,
                            "codegen: the epilogue reads the %s result out of order",
                            mf_op_get(v->producer->op)->name);
        *out = p->core_val;
        return MF_OK;
    }
    LLVMValueRef x = memo_find(p, v, m);
    if (x) {
        *out = x;
        return MF_OK;
    }
    mf_status s = MF_OK;
    if (!v->producer) {
        int i = mf_cg_input_index(c->g, v);
        if (i < 0)
            return mf_error(MF_ERR_INTERNAL, "codegen: value %d is neither input nor result",
                            v->id);
        x = mf_cg_load_as(c, p, c->in_ptr[i], m, v->type.dtype);
    } else {
        s = eval_node(c, p, v->producer, m, &x);
    }
    if (!s) {
        memo_add(p, v, m, x);
        *out = x;
    }
    return s;
}
