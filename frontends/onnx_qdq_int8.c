/* onnx_qdq_int8.c — quantized ONNX models onto the int8 ops (docs/quantization.md, "Quantized
 * ONNX models").  A per-tensor quantized activation is held as i8 codes (uint8 as x - 128,
 * its zero point shifted likewise), so quantize / dequantize are the int8 ops' own; a
 * dequantized constant weight keeps its integers and scales beside its f32 value.  A
 * QuantizeLinear of conv2d / linear / matmul / add of such values (the QDQ format: DQ ->
 * op -> Q; QLinearConv and QLinearMatMul are written that way too) becomes qconv2d /
 * qlinear / qmatmul / qadd, so the integer tensors between layers never go through f32. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.h"

static onnx_qform *find(const onnx_importer *im, const mf_value *v, bool weight)
{
    for (int i = 0; i < im->nqforms; i++)
        if (im->qforms[i].v == v && (im->qforms[i].scale != NULL) == weight)
            return &im->qforms[i];
    return NULL;
}

static mf_status record(onnx_importer *im, onnx_qform f)
{
    onnx_qform *grown = realloc(im->qforms, sizeof *grown * (size_t)(im->nqforms + 1));
    if (!grown)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    im->qforms = grown;
    im->qforms[im->nqforms++] = f;
    return MF_OK;
}

mf_status onnx_q_requant(onnx_importer *im, const Onnx__NodeProto *n, mf_op op, mf_value *x,
                         double scale, int zp, mf_value **out)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    mf_attr_set_float(op, a, "scale", scale);
    mf_attr_set_int(op, a, "zero_point", zp);
    return onnx_add(im, n, op, 1, &x, a, out);
}

mf_status onnx_q_codes(onnx_importer *im, const Onnx__NodeProto *n, mf_value *x, mf_value **codes)
{
    *codes = x;
    if (x->type.dtype == MF_I8)
        return MF_OK;
    const onnx_qform *f = find(im, x, false);
    if (f) {
        *codes = f->codes;
        return MF_OK;
    }
    if (x->type.dtype != MF_U8)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "%s is not int8 or uint8",
                               mf_dtype_name(x->type.dtype));
    mf_value *xf;
    mf_status s = onnx_cast(im, n, x, MF_F32, &xf); /* exact: quantize {1, -128} is x - 128 */
    if (!s)
        s = onnx_q_requant(im, n, MF_OP_QUANTIZE, xf, 1, -128, codes);
    return s ? s : record(im, (onnx_qform){x, *codes, NULL, -1});
}

mf_status onnx_q_define(onnx_importer *im, const Onnx__NodeProto *n, mf_value *codes, mf_dtype dt)
{
    mf_value *v = codes, *f;
    mf_status s = MF_OK;
    if (dt == MF_U8) { /* made only if something reads the uint8 tensor itself */
        s = onnx_q_requant(im, n, MF_OP_DEQUANTIZE, codes, 1, -128, &f);
        if (!s)
            s = onnx_cast(im, n, f, MF_U8, &v);
        if (!s)
            s = record(im, (onnx_qform){v, codes, NULL, -1});
    }
    return s ? s : onnx_define(im, n->output[0], v);
}

mf_status onnx_q_weight(onnx_importer *im, const mf_value *wf, const mf_value *d,
                        const mf_value *scale, int axis)
{
    int64_t count = mf_type_numel(&d->type), nscale = mf_type_numel(&scale->type);
    const float *src = d->data->data, *sc = scale->data->data;
    if (nscale > 1 && (axis < 0 || axis >= d->type.rank || d->type.shape[axis] != nscale))
        return MF_OK; /* scales that are not one per index of the axis: stays f32 */
    for (int64_t i = 0; i < count; i++)
        if (src[i] < -128 || src[i] > 127)
            return MF_OK; /* a uint8 weight far from its zero point: stays f32 */
    int8_t *q = malloc((size_t)(count > 0 ? count : 1));
    if (!q)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    for (int64_t i = 0; i < count; i++)
        q[i] = (int8_t)src[i];
    mf_type qt = d->type, st = {MF_F32, 1, {nscale}};
    qt.dtype = MF_I8;
    mf_value *codes = onnx_const(im, &qt, q), *scales = onnx_const(im, &st, sc);
    free(q);
    if (!codes || !scales)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    return record(im, (onnx_qform){wf, codes, scales, nscale > 1 ? axis : -1});
}

/* v = dequantize(codes) {scale, zp}? */
static bool dequantized(const mf_value *v, mf_value **codes, double *scale, int *zp)
{
    const mf_node *p = v->producer;
    if (!p || p->op != MF_OP_DEQUANTIZE)
        return false;
    *codes = p->inputs[0];
    *scale = mf_attr_float(p->op, p->attrs, "scale");
    *zp = (int)mf_attr_int(p->op, p->attrs, "zero_point");
    return true;
}

static void set_side(mf_op op, mf_attr *a, const char *side, double scale, int zp)
{
    char name[32];
    snprintf(name, sizeof name, "%s_scale", side);
    mf_attr_set_float(op, a, name, scale);
    snprintf(name, sizeof name, "%s_zero_point", side);
    mf_attr_set_int(op, a, name, zp);
}

/* The [K, N] codes of a MatMul weight as qlinear's [N, K]. */
static mf_value *transposed(onnx_importer *im, const mf_value *codes)
{
    int64_t k = codes->type.shape[0], nout = codes->type.shape[1];
    const int8_t *src = codes->data->data;
    int8_t *t = malloc((size_t)(k * nout > 0 ? k * nout : 1));
    if (!t)
        return NULL;
    for (int64_t i = 0; i < k; i++)
        for (int64_t j = 0; j < nout; j++)
            t[j * k + i] = src[i * nout + j];
    mf_type tt = {MF_I8, 2, {nout, k}};
    mf_value *v = onnx_const(im, &tt, t);
    free(t);
    return v;
}

/* matmul p of two dequantized activations (no activation fused; batch dims equal, or b 2-D):
 * qmatmul. */
static mf_status two_activations(onnx_importer *im, const Onnx__NodeProto *n, const mf_node *p, double ys, int yz,
                                 mf_value **codes)
{
    mf_value *in[2];
    double as, bs;
    int az, bz;
    if (!dequantized(p->inputs[0], &in[0], &as, &az) || !dequantized(p->inputs[1], &in[1], &bs, &bz))
        return MF_OK;
    const mf_type *at = &in[0]->type, *bt = &in[1]->type;
    if (at->rank < 2 || bt->rank < 2 ||
        (bt->rank != 2 && (bt->rank != at->rank || memcmp(at->shape, bt->shape, sizeof(int64_t) * (size_t)(at->rank - 2)))))
        return MF_OK;
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_QMATMUL, a);
    set_side(MF_OP_QMATMUL, a, "a", as, az);
    set_side(MF_OP_QMATMUL, a, "b", bs, bz);
    set_side(MF_OP_QMATMUL, a, "y", ys, yz);
    return onnx_add(im, n, MF_OP_QMATMUL, 2, in, a, codes);
}

/* conv2d / linear / matmul p of a dequantized activation and a recorded weight (and a
 * constant f32 bias): qconv2d or qlinear, requantized to {ys, yz} within [lo, hi]; a matmul
 * of two dequantized activations, qmatmul. */
static mf_status anchor(onnx_importer *im, const Onnx__NodeProto *n, const mf_node *p, double lo,
                        double hi, double ys, int yz, mf_value **codes)
{
    bool matmul = p->op == MF_OP_MATMUL;
    const onnx_qform *w = find(im, p->inputs[1], true);
    if (matmul && !w && lo == -INFINITY && hi == INFINITY)
        return two_activations(im, n, p, ys, yz, codes);
    mf_value *b = !matmul && p->ninputs > 2 ? p->inputs[2] : NULL, *in[4];
    double xs;
    int xz;
    if (!dequantized(p->inputs[0], &in[0], &xs, &xz) || !w ||
        (w->axis >= 0 && w->axis != (matmul ? 1 : 0)) || (matmul && w->codes->type.rank != 2) ||
        (b && (!b->is_const || !b->data || b->type.dtype != MF_F32)))
        return MF_OK;
    mf_op op = p->op == MF_OP_CONV2D ? MF_OP_QCONV2D : MF_OP_QLINEAR;
    in[1] = matmul ? transposed(im, w->codes) : w->codes;
    in[2] = w->scale;
    in[3] = b;
    if (!in[1])
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    static const char *const geometry[] = {"stride", "padding", "dilation"};
    for (int i = 0; op == MF_OP_QCONV2D && i < 3; i++) {
        const mf_attr *g = mf_attr_get(p->op, p->attrs, geometry[i]);
        mf_attr_set_ints(op, a, geometry[i], g->n, g->ints);
    }
    if (op == MF_OP_QCONV2D)
        mf_attr_set_int(op, a, "groups", mf_attr_int(p->op, p->attrs, "groups"));
    set_side(op, a, "x", xs, xz);
    set_side(op, a, "y", ys, yz);
    mf_attr_set_float(op, a, "min", lo);
    mf_attr_set_float(op, a, "max", hi);
    return onnx_add(im, n, op, b ? 4 : 3, in, a, codes);
}

/* add of two dequantized activations of one shape: qadd. */
static mf_status add(onnx_importer *im, const Onnx__NodeProto *n, const mf_node *p, double lo,
                     double hi, double ys, int yz, mf_value **codes)
{
    mf_value *in[2];
    double as, bs;
    int az, bz;
    if (mf_attr_float(p->op, p->attrs, "alpha") != 1.0 ||
        !dequantized(p->inputs[0], &in[0], &as, &az) ||
        !dequantized(p->inputs[1], &in[1], &bs, &bz) || !mf_type_equal(&in[0]->type, &in[1]->type))
        return MF_OK;
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_QADD, a);
    set_side(MF_OP_QADD, a, "a", as, az);
    set_side(MF_OP_QADD, a, "b", bs, bz);
    set_side(MF_OP_QADD, a, "y", ys, yz);
    mf_attr_set_float(MF_OP_QADD, a, "min", lo);
    mf_attr_set_float(MF_OP_QADD, a, "max", hi);
    return onnx_add(im, n, MF_OP_QADD, 2, in, a, codes);
}

/* A max pooling or view of a dequantized activation requantized with its own parameters:
 * the same op on the codes (the max of codes is the code of the max). */
static mf_status same_codes(onnx_importer *im, const Onnx__NodeProto *n, const mf_node *p,
                            double ys, int yz, mf_value **codes)
{
    mf_value *x;
    double xs;
    int xz;
    if (!dequantized(p->inputs[0], &x, &xs, &xz) || (float)xs != (float)ys || xz != yz)
        return MF_OK;
    return onnx_add(im, n, p->op, 1, &x, p->attrs, codes);
}

mf_status onnx_q_fused(onnx_importer *im, const Onnx__NodeProto *n, mf_value *y, float scale,
                       int zp, mf_value **codes)
{
    *codes = NULL;
    double lo = -INFINITY, hi = INFINITY;
    const mf_node *p = y->producer;
    if (p && (p->op == MF_OP_RELU || p->op == MF_OP_CLAMP)) {
        lo = p->op == MF_OP_RELU ? 0 : mf_attr_float(p->op, p->attrs, "min");
        hi = p->op == MF_OP_RELU ? INFINITY : mf_attr_float(p->op, p->attrs, "max");
        p = p->inputs[0]->producer;
    }
    if (!p)
        return MF_OK;
    bool bare = lo == -INFINITY && hi == INFINITY;
    switch (p->op) {
    case MF_OP_CONV2D:
    case MF_OP_LINEAR:
    case MF_OP_MATMUL: return anchor(im, n, p, lo, hi, scale, zp, codes);
    case MF_OP_ADD: return add(im, n, p, lo, hi, scale, zp, codes);
    case MF_OP_MAX_POOL2D:
    case MF_OP_RESHAPE:
    case MF_OP_FLATTEN: return bare ? same_codes(im, n, p, scale, zp, codes) : MF_OK;
    default: return MF_OK;
    }
}

mf_status onnx_q_integer(onnx_importer *im, const Onnx__NodeProto *n, mf_value *x, int xz, const mf_value *a,
                         const mf_value *acc, mf_value **y)
{
    *y = NULL;
    const mf_node *p = acc->producer;
    if (!p || (p->op != MF_OP_CONV2D && p->op != MF_OP_MATMUL) || p->ninputs != 2 || p->inputs[0] != a)
        return MF_OK;
    bool matmul = p->op == MF_OP_MATMUL;
    const mf_value *wf = p->inputs[1];
    if (!wf->is_const || !wf->data || wf->type.dtype != MF_F32 || wf->type.rank != (matmul ? 2 : 4) ||
        a->type.rank < (matmul ? 2 : 4))
        return MF_OK;
    int64_t count = mf_type_numel(&wf->type);
    const float *src = wf->data->data;
    for (int64_t i = 0; i < count; i++)
        if (src[i] < -128 || src[i] > 127)
            return MF_OK; /* w - w_zero_point past int8: stays f32 */
    int8_t *q = malloc((size_t)(count > 0 ? count : 1));
    if (!q)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    for (int64_t i = 0; i < count; i++)
        q[i] = (int8_t)src[i];
    mf_type qt = wf->type, st = {MF_F32, 1, {1}};
    qt.dtype = MF_I8;
    const float one = 1.0f;
    mf_value *in[3] = {NULL, onnx_const(im, &qt, q), onnx_const(im, &st, &one)};
    free(q);
    if (in[1] && matmul)
        in[1] = transposed(im, in[1]);
    if (!in[1] || !in[2])
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    mf_status s = onnx_q_codes(im, n, x, &in[0]);
    if (s)
        return s;
    mf_op op = matmul ? MF_OP_QLINEAR : MF_OP_QCONV2D;
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(op, at);
    static const char *const geometry[] = {"stride", "padding", "dilation"};
    for (int i = 0; !matmul && i < 3; i++) {
        const mf_attr *g = mf_attr_get(p->op, p->attrs, geometry[i]);
        mf_attr_set_ints(op, at, geometry[i], g->n, g->ints);
    }
    if (!matmul)
        mf_attr_set_int(op, at, "groups", mf_attr_int(p->op, p->attrs, "groups"));
    set_side(op, at, "x", 1, x->type.dtype == MF_U8 ? xz - 128 : xz);
    set_side(op, at, "y", 1, 0);
    mf_attr_set_int(op, at, "acc", 1);
    im->qdead = true;
    return onnx_add(im, n, op, 3, in, at, y);
}

mf_status onnx_q_prune(onnx_importer *im)
{
    if (!im->nqforms && !im->qdead)
        return MF_OK;
    bool *dead = calloc((size_t)im->g->nnodes + 1, 1);
    int count = 0;
    if (!dead)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    mf_status s = mf_graph_mark_dead(im->g, dead, &count);
    if (!s && count)
        mf_graph_remove_nodes(im->g, dead);
    free(dead);
    return s;
}
