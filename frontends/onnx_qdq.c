/* onnx_qdq.c — ONNX's quantized operators: QuantizeLinear / DequantizeLinear (the QDQ
 * format: per-tensor or per-axis, int8 or uint8), QLinearConv, QLinearMatMul, ConvInteger
 * and MatMulInteger, each written as mlufuse ops with ONNX's integer semantics:
 *   dequantize(x) = (x - zero_point) * scale;
 *   quantize(y)   = saturate(round_half_even(y / scale) + zero_point);
 *   the integer ops accumulate (x - x_zp) * (w - w_zp) exactly: the shifted integers are
 *   f32 values (a constant weight is shifted once, at import) fed to conv2d / matmul,
 *   whose sums are exact below 2^24; QLinear* requantize acc * (x_scale * w_scale / y_scale).
 * Conv's attributes are read by the Conv converter itself, on a node that names the shifted
 * values.  Compute stays f32 (conv and matmul fuse like any f32 op); the result is cast to
 * the node's integer dtype. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.h"

static bool has_data(const mf_value *v)
{
    return v && v->is_const && v->data;
}

static bool quantized_dtype(mf_dtype dt)
{
    return dt == MF_I8 || dt == MF_U8;
}

/* A new f32 constant of type t (dtype set to f32) whose element i is f(i, ctx). */
static mf_status f32_const(onnx_importer *im, mf_type t, float (*f)(int64_t, const void *), const void *ctx,
                           mf_value **out)
{
    t.dtype = MF_F32;
    int64_t count = mf_type_numel(&t);
    float *data = malloc(sizeof *data * (size_t)(count ? count : 1));
    if (!data)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    for (int64_t i = 0; i < count; i++)
        data[i] = f(i, ctx);
    *out = onnx_const(im, &t, data);
    free(data);
    return *out ? MF_OK : mf_error(MF_ERR_NOMEM, "onnx: out of memory");
}

/* Which entry of a parameter made by `param` (a scalar, or [C,1,...,1] aligned to the end
 * of t) element i of a tensor of type t uses. */
static int64_t param_index(const mf_type *t, const mf_value *p, int64_t i)
{
    int64_t count = mf_type_numel(&p->type), inner = 1;
    if (count == 1)
        return 0;
    for (int d = t->rank - p->type.rank + 1; d < t->rank; d++)
        inner *= t->shape[d];
    return (i / inner) % count;
}

static float param_f32(const mf_value *p, int64_t i)
{
    return ((const float *)p->data->data)[i];
}

static float elem_of(int64_t i, const void *ctx)
{
    const mf_value *v = ctx;
    return v ? (float)onnx_get_elem(v->data->data, v->type.dtype, i) : 0.0f;
}

/* A scale or zero point (scalar or 1-D of C entries along `axis` of a rank-`rank` tensor) as
 * an f32 constant that broadcasts against that tensor: [C] becomes [C,1,...,1].  A NULL zero
 * point is 0.  Scales and zero points must be constants. */
static mf_status param(onnx_importer *im, const Onnx__NodeProto *n, const mf_value *v, const char *what, int axis,
                       int rank, mf_value **out)
{
    if (v && !has_data(v))
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "%s must be a constant", what);
    if (v && v->type.rank > 1)
        return onnx_node_error(n, MF_ERR_SHAPE, "%s must be a scalar or 1-D", what);
    mf_type t = {MF_F32, 0, {0}};
    if (v && v->type.rank == 1 && v->type.shape[0] != 1) {
        if (axis < 0 || axis >= rank)
            return onnx_node_error(n, MF_ERR_INVALID, "axis %d is out of range for rank %d", axis, rank);
        t.rank = rank - axis;
        t.shape[0] = v->type.shape[0];
        for (int d = 1; d < t.rank; d++)
            t.shape[d] = 1;
    }
    return f32_const(im, t, elem_of, v, out);
}

typedef struct shift_ctx {
    const mf_value *x, *zp;
} shift_ctx;

static float shift_elem(int64_t i, const void *ctx)
{
    const shift_ctx *c = ctx;
    return (float)onnx_get_elem(c->x->data->data, c->x->type.dtype, i) - param_f32(c->zp, param_index(&c->x->type, c->zp, i));
}

/* x - zp (zp from `param`) as f32, integers exact; a constant x (a weight) is shifted here,
 * once. */
static mf_status shifted(onnx_importer *im, const Onnx__NodeProto *n, mf_value *x, mf_value *zp, mf_value **out)
{
    if (has_data(x))
        return f32_const(im, x->type, shift_elem, &(shift_ctx){x, zp}, out);
    mf_value *xf;
    mf_status s = onnx_cast(im, n, x, MF_F32, &xf);
    return s ? s : onnx_add2(im, n, MF_OP_SUB, xf, zp, out);
}

typedef struct product_ctx {
    const mf_type *t;
    const mf_value *a, *b, *c;
} product_ctx;

static float product_elem(int64_t i, const void *ctx)
{
    const product_ctx *p = ctx;
    float ab = param_f32(p->a, param_index(p->t, p->a, i)) * param_f32(p->b, param_index(p->t, p->b, i));
    return ab / param_f32(p->c, 0);
}

/* The requantization multiplier a * b / c (params; c a scalar) over the shape of whichever
 * of a and b is not a scalar. */
static mf_status multiplier(onnx_importer *im, mf_value *a, mf_value *b, mf_value *c, mf_value **out)
{
    if (mf_type_numel(&a->type) > 1 && mf_type_numel(&b->type) > 1)
        return mf_error(MF_ERR_UNSUPPORTED, "onnx: per-row and per-column scales together are not supported");
    const mf_type *t = mf_type_numel(&a->type) > 1 ? &a->type : &b->type;
    return f32_const(im, *t, product_elem, &(product_ctx){t, a, b, c}, out);
}

/* scaled (f32, in units of the output scale) quantized to dtype dt and defined as n's
 * output: round_half_even(scaled) + zp, saturated to dt's range. */
static mf_status requantize(onnx_importer *im, const Onnx__NodeProto *n, mf_value *scaled, mf_value *zp, mf_dtype dt)
{
    mf_value *r, *z, *c, *t;
    mf_status s = onnx_add(im, n, MF_OP_ROUND, 1, &scaled, NULL, &r);
    if (!s)
        s = onnx_add2(im, n, MF_OP_ADD, r, zp, &z);
    if (s)
        return s;
    int64_t lo, hi;
    mf_dtype_int_range(dt, &lo, &hi);
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CLAMP, a);
    mf_attr_set_float(MF_OP_CLAMP, a, "min", (double)lo);
    mf_attr_set_float(MF_OP_CLAMP, a, "max", (double)hi);
    s = onnx_add(im, n, MF_OP_CLAMP, 1, &z, a, &c);
    if (!s)
        s = onnx_cast(im, n, c, dt, &t);
    return s ? s : onnx_define(im, n->output[0], t);
}

/* A scale and zero point computed in the graph (DynamicQuantizeLinear's expansion): one
 * of each, as f32 values that broadcast; *zf stays NULL without a zero point (param's 0). */
static mf_status computed_params(onnx_importer *im, const Onnx__NodeProto *n, mf_value *scale, mf_value *zp,
                                 mf_value **sf, mf_value **zf)
{
    *zf = NULL;
    if (mf_type_numel(&scale->type) != 1 || (zp && mf_type_numel(&zp->type) != 1) || scale->type.dtype != MF_F32)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED,
                               "a scale or zero point that is not a constant must be one f32 (per tensor)");
    *sf = scale;
    return zp ? onnx_cast(im, n, zp, MF_F32, zf) : MF_OK;
}

/* The axis attribute (default 1) made non-negative for rank. */
static int axis_of(const Onnx__NodeProto *n, int rank)
{
    int64_t axis = onnx_attr_int(n, "axis", 1);
    return (int)(axis < 0 ? axis + rank : axis);
}

/* The inputs of n at the given positions (-1 or past the end: NULL); the first `need`
 * must be present. */
static mf_status inputs_at(onnx_importer *im, const Onnx__NodeProto *n, int count, const int *pos, int need,
                           mf_value **in)
{
    mf_status s = MF_OK;
    for (int i = 0; i < count && !s; i++) {
        in[i] = NULL;
        s = pos[i] < 0 ? MF_OK : onnx_input(im, n, (size_t)pos[i], &in[i]);
        if (!s && i < need && !in[i])
            s = onnx_node_error(n, MF_ERR_PARSE, "input %d is required", pos[i]);
    }
    return s;
}

/* A constant per-tensor f32 scale and zero point of a tensor of dtype dt (int8 or uint8) as
 * the parameters of its int8 codes (uint8's zero point shifted by -128): true when they are. */
static bool per_tensor(const mf_value *scale, const mf_value *zp, mf_dtype dt, float *qs, int *qz)
{
    if (!has_data(scale) || scale->type.dtype != MF_F32 || mf_type_numel(&scale->type) != 1 || !quantized_dtype(dt) ||
        (zp && (!has_data(zp) || zp->type.dtype != dt || mf_type_numel(&zp->type) != 1)))
        return false;
    *qs = param_f32(scale, 0);
    *qz = (zp ? (int)onnx_get_elem(zp->data->data, dt, 0) : 0) - (dt == MF_U8 ? 128 : 0);
    return *qs > 0 && isfinite(*qs);
}

/* QuantizeLinear(y, scale, zero_point?): y / scale rounded half to even, plus the zero point,
 * saturated to the zero point's dtype (uint8 without one). */
mf_status onnx_cv_quantize_linear(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *in[3], *sf, *zf = NULL, *q;
    mf_status s = inputs_at(im, n, 3, (const int[]){0, 1, 2}, 2, in);
    if (s)
        return s;
    mf_dtype dt = in[2] ? in[2]->type.dtype : MF_U8;
    if (!quantized_dtype(dt) || in[0]->type.dtype != MF_F32)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "quantizes %s to %s (f32 to int8 or uint8 is supported)",
                               mf_dtype_name(in[0]->type.dtype), mf_dtype_name(dt));
    float qs;
    int qz;
    mf_value *codes;
    if (per_tensor(in[1], in[2], dt, &qs, &qz)) { /* the int8 ops' quantize, or an int8 layer */
        s = onnx_q_fused(im, n, in[0], qs, qz, &codes);
        if (!s && !codes)
            s = onnx_q_requant(im, n, MF_OP_QUANTIZE, in[0], qs, qz, &codes);
        return s ? s : onnx_q_define(im, n, codes, dt);
    }
    int rank = in[0]->type.rank, axis = axis_of(n, rank);
    if (!has_data(in[1]) || (in[2] && !has_data(in[2])))
        s = computed_params(im, n, in[1], in[2], &sf, &zf);
    else
        s = param(im, n, in[1], "y_scale", axis, rank, &sf);
    if (!s && zf == NULL)
        s = param(im, n, in[2], "y_zero_point", axis, rank, &zf);
    if (!s)
        s = onnx_add2(im, n, MF_OP_DIV, in[0], sf, &q);
    return s ? s : requantize(im, n, q, zf, dt);
}

/* DynamicQuantizeLinear(x): uint8 with the scale and zero point of x's range widened to
 * hold 0, as ONNX's function body computes them: scale = (max - min) / 255, zero point =
 * round(clamp(-min / scale, 0, 255)); then QuantizeLinear.  Outputs y, scale, zero point. */
mf_status onnx_cv_dynamic_quantize_linear(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x, *zero, *qmax, *lo, *hi, *mn, *mx, *range, *scale, *ms, *neg, *zc, *zpf, *zp, *q;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (s)
        return s;
    if (x->type.dtype != MF_F32)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "the input is %s, expected f32", mf_dtype_name(x->type.dtype));
    mf_attr clip[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CLAMP, clip);
    mf_attr_set_float(MF_OP_CLAMP, clip, "min", 0);
    mf_attr_set_float(MF_OP_CLAMP, clip, "max", 255);
    if ((s = onnx_scalar(im, MF_F32, 0, &zero)) || (s = onnx_scalar(im, MF_F32, 255, &qmax)) ||
        (s = onnx_add(im, n, MF_OP_REDUCE_MIN, 1, &x, NULL, &lo)) || (s = onnx_add(im, n, MF_OP_REDUCE_MAX, 1, &x, NULL, &hi)) ||
        (s = onnx_add2(im, n, MF_OP_MINIMUM, lo, zero, &mn)) || (s = onnx_add2(im, n, MF_OP_MAXIMUM, hi, zero, &mx)) ||
        (s = onnx_add2(im, n, MF_OP_SUB, mx, mn, &range)) || (s = onnx_add2(im, n, MF_OP_DIV, range, qmax, &scale)) ||
        (s = onnx_add2(im, n, MF_OP_DIV, mn, scale, &ms)) || (s = onnx_add2(im, n, MF_OP_SUB, zero, ms, &neg)) ||
        (s = onnx_add(im, n, MF_OP_CLAMP, 1, &neg, clip, &zc)) || (s = onnx_add(im, n, MF_OP_ROUND, 1, &zc, NULL, &zpf)) ||
        (s = onnx_cast(im, n, zpf, MF_U8, &zp)) || (s = onnx_add2(im, n, MF_OP_DIV, x, scale, &q)) ||
        (s = requantize(im, n, q, zpf, MF_U8)))
        return s;
    if ((s = onnx_define_output(im, n, 1, scale)))
        return s;
    return onnx_define_output(im, n, 2, zp);
}

typedef struct scale_ctx {
    const mf_value *d, *scale;
} scale_ctx;

static float scale_elem(int64_t i, const void *ctx)
{
    const scale_ctx *c = ctx;
    return param_f32(c->d, i) * param_f32(c->scale, param_index(&c->d->type, c->scale, i));
}

/* (w - zp) * scale of the constant integer weight w (zp and scale from `param` along axis)
 * as an f32 constant, recorded with its integers for the int8 ops (int8 and uint8). */
static mf_status dequantized_weight(onnx_importer *im, mf_value *w, mf_value *zp, mf_value *scale, int axis,
                                    mf_value **out)
{
    mf_value *d;
    mf_status s = shifted(im, NULL, w, zp, &d);
    if (!s)
        s = f32_const(im, d->type, scale_elem, &(scale_ctx){d, scale}, out);
    if (!s && quantized_dtype(w->type.dtype))
        s = onnx_q_weight(im, *out, d, scale, axis);
    return s;
}

/* DequantizeLinear(x, scale, zero_point?): (x - zero_point) * scale in f32: the int8 ops'
 * dequantize with per-tensor parameters; a constant x (a weight) becomes an f32 constant at
 * import. */
mf_status onnx_cv_dequantize_linear(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *in[3], *sf, *zf, *d, *y;
    mf_status s = inputs_at(im, n, 3, (const int[]){0, 1, 2}, 2, in);
    if (s)
        return s;
    mf_dtype dt = in[0]->type.dtype;
    if (!quantized_dtype(dt) && dt != MF_I32)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "dequantizes %s (int8, uint8 and int32 are supported)",
                               mf_dtype_name(dt));
    float qs;
    int qz;
    if (!has_data(in[0]) && per_tensor(in[1], in[2], dt, &qs, &qz)) {
        s = onnx_q_codes(im, n, in[0], &d);
        if (!s)
            s = onnx_q_requant(im, n, MF_OP_DEQUANTIZE, d, qs, qz, &y);
        return s ? s : onnx_define(im, n->output[0], y);
    }
    int rank = in[0]->type.rank, axis = axis_of(n, rank);
    s = param(im, n, in[1], "x_scale", axis, rank, &sf);
    if (!s)
        s = param(im, n, in[2], "x_zero_point", axis, rank, &zf);
    if (!s && has_data(in[0]))
        s = dequantized_weight(im, in[0], zf, sf, axis, &y);
    else if (!s && !(s = shifted(im, n, in[0], zf, &d)))
        s = onnx_add2(im, n, MF_OP_MUL, d, sf, &y);
    return s ? s : onnx_define(im, n->output[0], y);
}

/* ---- the integer anchors ------------------------------------------------------------------ */

/* A name for an intermediate value of n, kept by the graph's arena. */
static const char *temp_name(onnx_importer *im, const Onnx__NodeProto *n, const char *what)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s.%s", n->output[0], what);
    return mf_arena_strdup(im->g->arena, buf, strlen(buf));
}

/* conv2d (with n's Conv attributes, through the Conv converter) or matmul of the shifted
 * operands a and b (and an f32 bias), accumulated exactly in f32. */
static mf_status accumulate(onnx_importer *im, const Onnx__NodeProto *n, bool conv, mf_value *a, mf_value *b,
                            mf_value *bias, mf_value **out)
{
    if (!conv)
        return onnx_add2(im, n, MF_OP_MATMUL, a, b, out);
    const char *names[3] = {temp_name(im, n, "x"), temp_name(im, n, "w"), bias ? temp_name(im, n, "b") : NULL};
    const char *acc = temp_name(im, n, "acc");
    if (!names[0] || !names[1] || (bias && !names[2]) || !acc)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    mf_value *vals[3] = {a, b, bias};
    for (int i = 0; i < (bias ? 3 : 2); i++) {
        mf_status s = onnx_define(im, names[i], vals[i]);
        if (s)
            return s;
    }
    Onnx__NodeProto c = *n;
    c.op_type = "Conv";
    c.n_input = bias ? 3 : 2;
    c.input = (char **)names;
    c.n_output = 1;
    c.output = (char **)&acc;
    mf_status s = onnx_convert_node(im, &c);
    *out = s ? NULL : onnx_lookup(im, acc);
    return s;
}

typedef struct bias_ctx {
    const mf_value *b, *w_scale;
    float x_scale;
} bias_ctx;

static float bias_elem(int64_t i, const void *ctx)
{
    const bias_ctx *c = ctx;
    int64_t k = i % mf_type_numel(&c->w_scale->type);
    return (float)onnx_get_elem(c->b->data->data, c->b->type.dtype, i) * c->x_scale * param_f32(c->w_scale, k);
}

/* QLinearConv (2-D) / QLinearMatMul (2-D weight) with per-tensor x and y parameters and a
 * constant weight, written in the QDQ format (dequantize, Conv or MatMul, quantize) that
 * onnx_q_fused maps onto qconv2d or qlinear; the int32 bias becomes f32 bias * x_scale *
 * w_scale.  Where the Conv converter writes more than one conv2d (asymmetric pads), the
 * f32 result is quantized. */
static mf_status qlinear_int8(onnx_importer *im, const Onnx__NodeProto *n, bool conv, mf_value *const *in, float xs,
                              int xz, float ys, int yz)
{
    mf_value *w = in[3], *codes, *xf, *wz, *ws, *wf, *bias = NULL, *acc;
    int wr = w->type.rank, w_axis = conv ? 0 : wr - 1;
    mf_status s = onnx_q_codes(im, n, in[0], &codes);
    if (!s)
        s = onnx_q_requant(im, n, MF_OP_DEQUANTIZE, codes, xs, xz, &xf);
    if (!s)
        s = param(im, n, in[5], "w_zero_point", w_axis, wr, &wz);
    if (!s)
        s = param(im, n, in[4], "w_scale", w_axis, wr, &ws);
    if (!s)
        s = dequantized_weight(im, w, wz, ws, w_axis, &wf);
    if (!s && in[8])
        s = f32_const(im, (mf_type){MF_F32, 1, {w->type.shape[0]}}, bias_elem, &(bias_ctx){in[8], ws, xs}, &bias);
    if (!s)
        s = accumulate(im, n, conv, xf, wf, bias, &acc);
    if (!s)
        s = onnx_q_fused(im, n, acc, ys, yz, &codes);
    if (!s && !codes)
        s = onnx_q_requant(im, n, MF_OP_QUANTIZE, acc, ys, yz, &codes);
    return s ? s : onnx_q_define(im, n, codes, in[7]->type.dtype);
}

/* QLinearMatMul of two activations (b computed at run time), every parameter per tensor,
 * batch dims equal or b 2-D: dequantize both, MatMul, quantize, which onnx_q_fused maps onto
 * qmatmul. */
static mf_status qmatmul_int8(onnx_importer *im, const Onnx__NodeProto *n, mf_value *const *in, const float *qs,
                              const int *qz)
{
    mf_value *codes[2], *f[2], *acc, *y;
    mf_status s = MF_OK;
    for (int i = 0; i < 2 && !s; i++) {
        s = onnx_q_codes(im, n, in[3 * i], &codes[i]);
        if (!s)
            s = onnx_q_requant(im, n, MF_OP_DEQUANTIZE, codes[i], qs[i], qz[i], &f[i]);
    }
    if (!s)
        s = onnx_add2(im, n, MF_OP_MATMUL, f[0], f[1], &acc);
    if (!s)
        s = onnx_q_fused(im, n, acc, qs[2], qz[2], &y);
    if (!s && !y)
        s = onnx_q_requant(im, n, MF_OP_QUANTIZE, acc, qs[2], qz[2], &y);
    return s ? s : onnx_q_define(im, n, y, in[7]->type.dtype);
}

/* QLinearConv and QLinearMatMul: x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp (and
 * QLinearConv's int32 bias); weights per tensor or per output channel (Conv: axis 0 of the
 * weight; MatMul: per column of b), MatMul's a per tensor or per row. */
static mf_status qlinear(onnx_importer *im, const Onnx__NodeProto *n, bool conv)
{
    mf_value *in[9], *xz, *wz, *xs, *ws, *ys, *yz, *a, *b, *bias = NULL, *acc, *m, *scaled;
    mf_status s = inputs_at(im, n, 9, (const int[]){0, 1, 2, 3, 4, 5, 6, 7, conv ? 8 : -1}, 8, in);
    if (s)
        return s;
    mf_value *x = in[0], *w = in[3];
    mf_dtype dt = in[7]->type.dtype;
    if (!quantized_dtype(x->type.dtype) || !quantized_dtype(w->type.dtype) || !quantized_dtype(dt))
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "takes %s and %s to %s (int8 and uint8 are supported)",
                               mf_dtype_name(x->type.dtype), mf_dtype_name(w->type.dtype), mf_dtype_name(dt));
    float xqs, yqs;
    int xqz, yqz;
    const mf_value *ib = in[8];
    bool bias_ok = !ib || (has_data(ib) && ib->type.dtype == MF_I32 && mf_type_numel(&ib->type) == w->type.shape[0]);
    if (has_data(w) && w->type.rank == (conv ? 4 : 2) && mf_type_numel(&in[4]->type) > 0 && bias_ok &&
        per_tensor(in[1], in[2], x->type.dtype, &xqs, &xqz) && per_tensor(in[6], in[7], dt, &yqs, &yqz))
        return qlinear_int8(im, n, conv, in, xqs, xqz, yqs, yqz);
    float qs[3];
    int qz[3];
    const mf_type *xt = &x->type, *wt = &w->type;
    bool mm_shapes = xt->rank >= 2 && wt->rank >= 2 &&
                     (wt->rank == 2 || (wt->rank == xt->rank && !memcmp(xt->shape, wt->shape, sizeof(int64_t) * (size_t)(xt->rank - 2))));
    if (!conv && !has_data(w) && mm_shapes && per_tensor(in[1], in[2], x->type.dtype, &qs[0], &qz[0]) &&
        per_tensor(in[4], in[5], w->type.dtype, &qs[1], &qz[1]) && per_tensor(in[6], in[7], dt, &qs[2], &qz[2]))
        return qmatmul_int8(im, n, in, qs, qz);
    int xr = x->type.rank, wr = w->type.rank, yr = conv ? xr : (xr > wr ? xr : wr);
    int x_axis = xr - 2, w_axis = conv ? 0 : wr - 1, y_axis = conv ? 1 : yr - 1;
    s = param(im, n, in[2], "x_zero_point", x_axis, xr, &xz);
    if (!s)
        s = param(im, n, in[5], "w_zero_point", w_axis, wr, &wz);
    if (!s)
        s = param(im, n, in[1], "x_scale", conv ? 0 : yr - 2, conv ? 1 : yr, &xs);
    if (!s)
        s = param(im, n, in[4], "w_scale", y_axis, yr, &ws);
    if (!s)
        s = param(im, n, in[6], "y_scale", 0, 1, &ys);
    if (!s)
        s = param(im, n, in[7], "y_zero_point", 0, 1, &yz);
    if (!s)
        s = shifted(im, n, x, xz, &a);
    if (!s)
        s = shifted(im, n, w, wz, &b);
    mf_value *zero;
    if (!s && in[8]) /* the int32 bias, in units of x_scale * w_scale like the accumulator */
        s = param(im, n, NULL, "", 0, 1, &zero);
    if (!s && in[8])
        s = shifted(im, n, in[8], zero, &bias);
    if (!s)
        s = accumulate(im, n, conv, a, b, bias, &acc);
    if (!s)
        s = multiplier(im, xs, ws, ys, &m);
    if (!s)
        s = onnx_add2(im, n, MF_OP_MUL, acc, m, &scaled);
    return s ? s : requantize(im, n, scaled, yz, dt);
}

/* ConvInteger and MatMulInteger: x, w, x_zp?, w_zp?; the int32 accumulator (on the int8
 * kernels, onnx_q_integer, for a constant weight that fits int8 and a per-tensor x_zp). */
static mf_status integer_op(onnx_importer *im, const Onnx__NodeProto *n, bool conv)
{
    mf_value *in[4], *xz, *wz, *a, *b, *acc, *y;
    mf_status s = inputs_at(im, n, 4, (const int[]){0, 1, 2, 3}, 2, in);
    if (s)
        return s;
    mf_value *x = in[0], *w = in[1];
    if (!quantized_dtype(x->type.dtype) || !quantized_dtype(w->type.dtype))
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "takes %s and %s (int8 and uint8 are supported)",
                               mf_dtype_name(x->type.dtype), mf_dtype_name(w->type.dtype));
    int xr = x->type.rank, wr = w->type.rank;
    s = param(im, n, in[2], "x_zero_point", xr - 2, xr, &xz);
    if (!s)
        s = param(im, n, in[3], "w_zero_point", conv ? 0 : wr - 1, wr, &wz);
    if (!s)
        s = shifted(im, n, x, xz, &a);
    if (!s)
        s = shifted(im, n, w, wz, &b);
    if (!s)
        s = accumulate(im, n, conv, a, b, NULL, &acc);
    y = NULL;
    if (!s && has_data(w) && mf_type_numel(&xz->type) == 1) /* onto the int8 kernels: the f32 form is dropped */
        s = onnx_q_integer(im, n, x, (int)param_f32(xz, 0), a, acc, &y);
    if (!s && !y)
        s = onnx_cast(im, n, acc, MF_I32, &y);
    return s ? s : onnx_define(im, n->output[0], y);
}

mf_status onnx_cv_qlinear_conv(onnx_importer *im, const Onnx__NodeProto *n)
{
    return qlinear(im, n, true);
}

mf_status onnx_cv_qlinear_matmul(onnx_importer *im, const Onnx__NodeProto *n)
{
    return qlinear(im, n, false);
}

mf_status onnx_cv_conv_integer(onnx_importer *im, const Onnx__NodeProto *n)
{
    return integer_op(im, n, true);
}

mf_status onnx_cv_matmul_integer(onnx_importer *im, const Onnx__NodeProto *n)
{
    return integer_op(im, n, false);
}
