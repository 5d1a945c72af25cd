/* onnx_ops.c — one converter per ONNX op type, each mapping a node onto mlufuse ops (and
 * their attributes), and folding at import the shape arithmetic that exporters emit for
 * static shapes (Shape, Gather, Unsqueeze, Squeeze, Concat, Cast on constants). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.h"

typedef mf_status (*converter)(onnx_importer *im, const Onnx__NodeProto *n);

/* Adds op(in) with attrs and defines the node's first output. */
static mf_status emit(onnx_importer *im, const Onnx__NodeProto *n, mf_op op, int nin,
                      mf_value *const *in, const mf_attr *attrs)
{
    bool folded;
    mf_status s = onnx_fold(im, n, op, nin, in, attrs, &folded);
    if (s || folded)
        return s;
    mf_node *node;
    s = mf_graph_add_node(im->g, op, nin, in, attrs, &node);
    if (s) {
        char inner[1024];
        snprintf(inner, sizeof inner, "%s", mf_last_error());
        return onnx_node_error(n, s, "%s", inner);
    }
    return onnx_define(im, n->output[0], node->outputs[0]);
}

/* A constant single element of any dtype (Clip's bounds take the data's dtype). */
static float const_scalar(const mf_value *v, float dflt)
{
    if (!v || !v->is_const || !v->data || mf_type_numel(&v->type) != 1)
        return dflt;
    return (float)onnx_get_elem(v->data->data, v->type.dtype, 0);
}

static mf_status simple(onnx_importer *im, const Onnx__NodeProto *n, mf_op op, int nin)
{
    mf_value *in[2];
    mf_status s = onnx_inputs(im, n, nin, in);
    return s ? s : emit(im, n, op, nin, in, NULL);
}

#define SIMPLE(name, op, nin)                                              \
    static mf_status name(onnx_importer *im, const Onnx__NodeProto *n)     \
    {                                                                      \
        return simple(im, n, op, nin);                                     \
    }
/* A converter that is one shared converter (reduce, arg_reduce, variadic) for one op. */
#define VIA(name, converter, op)                                           \
    static mf_status name(onnx_importer *im, const Onnx__NodeProto *n)     \
    {                                                                      \
        return converter(im, n, op);                                       \
    }
SIMPLE(cv_add, MF_OP_ADD, 2)
SIMPLE(cv_sub, MF_OP_SUB, 2)
SIMPLE(cv_mul, MF_OP_MUL, 2)
SIMPLE(cv_div, MF_OP_DIV, 2)
SIMPLE(cv_pow, MF_OP_POW, 2)
SIMPLE(cv_matmul, MF_OP_MATMUL, 2)
SIMPLE(cv_relu, MF_OP_RELU, 1)
SIMPLE(cv_sigmoid, MF_OP_SIGMOID, 1)
SIMPLE(cv_tanh, MF_OP_TANH, 1)
SIMPLE(cv_exp, MF_OP_EXP, 1)
SIMPLE(cv_log, MF_OP_LOG, 1)
SIMPLE(cv_sqrt, MF_OP_SQRT, 1)
SIMPLE(cv_hardswish, MF_OP_HARDSWISH, 1)
SIMPLE(cv_reciprocal, MF_OP_RECIPROCAL, 1)
SIMPLE(cv_floor, MF_OP_FLOOR, 1)
SIMPLE(cv_ceil, MF_OP_CEIL, 1)
SIMPLE(cv_round, MF_OP_ROUND, 1)
SIMPLE(cv_erf, MF_OP_ERF, 1)
SIMPLE(cv_cos, MF_OP_COS, 1)
SIMPLE(cv_sin, MF_OP_SIN, 1)
SIMPLE(cv_prelu, MF_OP_PRELU, 2)

/* Neg, Abs, Sign: of an integer tensor as integer ops (a small constant folds). */
static mf_status int_or_float_unary(onnx_importer *im, const Onnx__NodeProto *n, mf_op op)
{
    mf_value *x;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (s)
        return s;
    mf_dtype dt = x->type.dtype;
    if (!mf_dtype_is_float(dt) && dt != MF_BOOL && !onnx_small_const(x))
        return onnx_int_unary(im, n, op, x);
    return emit(im, n, op, 1, &x, NULL);
}
VIA(cv_neg, int_or_float_unary, MF_OP_NEG)
VIA(cv_abs, int_or_float_unary, MF_OP_ABS)
VIA(cv_sign, int_or_float_unary, MF_OP_SIGN)

/* Elu: alpha (default 1). */
static mf_status cv_elu(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (s)
        return s;
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_ELU, a);
    mf_attr_set_float(MF_OP_ELU, a, "alpha", onnx_attr_float(n, "alpha", 1.0f));
    return emit(im, n, MF_OP_ELU, 1, &x, a);
}

/* The converters' vocabulary for the op files beside this one (onnx.h). */
mf_status onnx_emit(onnx_importer *im, const Onnx__NodeProto *n, mf_op op, int nin, mf_value *const *in,
                    const mf_attr *attrs)
{
    return emit(im, n, op, nin, in, attrs);
}

/* LayerNormalization over the dims from axis on, as the ops it is made of (so that it
 * fuses): mean, x - mean, the mean of its square, 1 / sqrt(var + epsilon), times scale,
 * plus bias.  The optional Mean and InvStdDev outputs are those intermediate values. */
static mf_status cv_layer_norm(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *in[3] = {0};
    mf_status s = onnx_inputs(im, n, 2, in);
    if (!s)
        s = onnx_input(im, n, 2, &in[2]);
    if (s)
        return s;
    int rank = in[0]->type.rank;
    int64_t axis = onnx_attr_int(n, "axis", -1), dims[MF_MAX_RANK];
    if (axis < 0)
        axis += rank;
    if (axis < 0 || axis >= rank)
        return onnx_node_error(n, MF_ERR_INVALID, "axis %lld is out of range", (long long)onnx_attr_int(n, "axis", -1));
    int nd = 0;
    for (int64_t d = axis; d < rank; d++)
        dims[nd++] = d;
    mf_value *mean = NULL, *inv = NULL, *y = NULL;
    if ((s = onnx_normalize(im, n, in[0], nd, dims, onnx_attr_float(n, "epsilon", 1e-5f), &y, &mean, &inv)) ||
        (s = onnx_add(im, n, MF_OP_MUL, 2, (mf_value *[]){y, in[1]}, NULL, &y)) ||
        (in[2] && (s = onnx_add(im, n, MF_OP_ADD, 2, (mf_value *[]){y, in[2]}, NULL, &y))))
        return s;
    mf_value *outs[3] = {y, mean, inv};
    for (size_t i = 0; i < n->n_output && i < 3 && !s; i++)
        if (n->output[i][0])
            s = onnx_define(im, n->output[i], outs[i]);
    return s;
}

/* ArgMax/ArgMin: axis, keepdims and select_last_index map onto the op's attributes. */
static mf_status arg_reduce(onnx_importer *im, const Onnx__NodeProto *n, mf_op op)
{
    mf_value *x;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (s)
        return s;
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    mf_attr_set_int(op, a, "dim", onnx_attr_int(n, "axis", 0));
    mf_attr_set_int(op, a, "keepdim", onnx_attr_int(n, "keepdims", 1));
    mf_attr_set_int(op, a, "select_last_index", onnx_attr_int(n, "select_last_index", 0));
    return emit(im, n, op, 1, &x, a);
}

VIA(cv_argmax, arg_reduce, MF_OP_ARGMAX)
VIA(cv_argmin, arg_reduce, MF_OP_ARGMIN)
/* Min and Max take one or more inputs: a chain of binary minimum/maximum. */
static mf_status variadic(onnx_importer *im, const Onnx__NodeProto *n, mf_op op)
{
    mf_value *acc;
    mf_status s = onnx_inputs(im, n, 1, &acc);
    for (size_t i = 1; i < n->n_input && !s; i++) {
        mf_value *in[2] = {acc, NULL};
        mf_node *node;
        if ((s = onnx_input(im, n, i, &in[1])) || !in[1])
            return s ? s : onnx_node_error(n, MF_ERR_PARSE, "input %zu is empty", i);
        if (i + 1 == n->n_input)
            return emit(im, n, op, 2, in, NULL);
        if ((s = mf_graph_add_node(im->g, op, 2, in, NULL, &node)))
            return onnx_node_error(n, s, "%s", mf_last_error());
        acc = node->outputs[0];
    }
    return s ? s : onnx_define(im, n->output[0], acc); /* one input: itself */
}

VIA(cv_min, variadic, MF_OP_MINIMUM)
VIA(cv_max, variadic, MF_OP_MAXIMUM)
static mf_status cv_identity(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (s)
        return s;
    for (size_t i = 0; i < n->n_output && !s; i++)
        s = onnx_define(im, n->output[i], x);
    return s;
}

/* Dropout at inference: the data passes through, and the optional mask output is all
 * true (bool, the data's shape), as the ONNX spec defines it outside training. */
static mf_status cv_dropout(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x, *ratio = NULL, *training = NULL;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (!s)
        s = onnx_input(im, n, 1, &ratio);
    if (!s)
        s = onnx_input(im, n, 2, &training);
    if (s)
        return s;
    /* Training mode drops random elements: no runtime reproduces that, so it is refused
     * rather than run as inference (unless the ratio is 0, where it is the identity). */
    bool trains = training && (!onnx_small_const(training) || onnx_get_elem(training->data->data, training->type.dtype, 0));
    bool drops = !ratio || !onnx_small_const(ratio) || onnx_get_elem(ratio->data->data, ratio->type.dtype, 0) != 0;
    if (trains && drops)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "Dropout in training mode (random) is not supported");
    if ((s = onnx_define(im, n->output[0], x)) || n->n_output < 2 || !n->output[1][0])
        return s;
    mf_type t = x->type;
    t.dtype = MF_BOOL;
    size_t nbytes;
    if ((s = mf_type_check(&t, "onnx: Dropout mask", NULL, &nbytes)))
        return s;
    unsigned char *ones = malloc(nbytes ? nbytes : 1);
    if (!ones)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory for a Dropout mask");
    memset(ones, 1, nbytes);
    mf_value *mask = onnx_const(im, &t, ones);
    free(ones);
    return mask ? onnx_define(im, n->output[1], mask) : mf_error(MF_ERR_NOMEM, "onnx: out of memory");
}

/* Cast: `to` is an ONNX TensorProto data type; the ones with an mlufuse dtype map onto
 * cast (a cast to the input's own dtype is removed; a constant input folds in emit). */
static mf_status cast_to(onnx_importer *im, const Onnx__NodeProto *n, mf_value *x, mf_dtype to);

static mf_status cv_cast(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (s)
        return s;
    const Onnx__AttributeProto *ap = onnx_attr(n, "to");
    if (!ap || !ap->has_i)
        return onnx_node_error(n, MF_ERR_PARSE, "the required attribute 'to' is missing");
    mf_dtype to;
    bool in_range = ap->i >= INT32_MIN && ap->i <= INT32_MAX;
    if (!in_range || !onnx_dtype((int32_t)ap->i, &to)) {
        const ProtobufCEnumValue *ev =
            in_range ? protobuf_c_enum_descriptor_get_value(&onnx__tensor_proto__data_type__descriptor,
                                                            (int)ap->i)
                     : NULL;
        return onnx_node_error(n, MF_ERR_UNSUPPORTED,
                               "cast to ONNX data type %lld (%s) is not supported (FLOAT, FLOAT16, BFLOAT16, "
                               "DOUBLE, INT8 to INT64, UINT8 to UINT64 and BOOL are)",
                               (long long)ap->i, ev ? ev->name : "unknown");
    }
    return cast_to(im, n, x, to);
}

/* x cast to dtype to as n's output (no node when it has that dtype already); every node
 * has an output (onnx_convert_node). */
static mf_status cast_to(onnx_importer *im, const Onnx__NodeProto *n, mf_value *x, mf_dtype to)
{
    if (to == x->type.dtype)
        return onnx_define(im, n->output[0], x);
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CAST, a);
    mf_attr_set_int(MF_OP_CAST, a, "to", (int64_t)to);
    return emit(im, n, MF_OP_CAST, 1, &x, a);
}

/* CastLike: a cast to the dtype of the second input. */
static mf_status cv_cast_like(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *in[2];
    mf_status s = onnx_inputs(im, n, 2, in);
    return s ? s : cast_to(im, n, in[0], in[1]->type.dtype);
}

static mf_status cv_leaky_relu(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x;
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_LEAKY_RELU, a);
    mf_attr_set_float(MF_OP_LEAKY_RELU, a, "negative_slope", onnx_attr_float(n, "alpha", 0.01f));
    mf_status s = onnx_inputs(im, n, 1, &x);
    return s ? s : emit(im, n, MF_OP_LEAKY_RELU, 1, &x, a);
}

static mf_status cv_hardsigmoid(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x;
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_HARDSIGMOID, a);
    mf_attr_set_float(MF_OP_HARDSIGMOID, a, "alpha", onnx_attr_float(n, "alpha", 0.2f));
    mf_attr_set_float(MF_OP_HARDSIGMOID, a, "beta", onnx_attr_float(n, "beta", 0.5f));
    mf_status s = onnx_inputs(im, n, 1, &x);
    return s ? s : emit(im, n, MF_OP_HARDSIGMOID, 1, &x, a);
}

/* Clip of a dtype other than f32 (opset 12 on): maximum with min, then minimum with max,
 * each bound an optional input of x's dtype (constant or not). */
static mf_status clip_by_min_max(onnx_importer *im, const Onnx__NodeProto *n, mf_value *x, mf_value *lo,
                                 mf_value *hi)
{
    mf_status s;
    if (lo && hi && (s = onnx_add(im, n, MF_OP_MAXIMUM, 2, (mf_value *[]){x, lo}, NULL, &x)))
        return s;
    if (hi || lo)
        return emit(im, n, hi ? MF_OP_MINIMUM : MF_OP_MAXIMUM, 2, (mf_value *[]){x, hi ? hi : lo}, NULL);
    return onnx_define(im, n->output[0], x);
}

/* Clip: bounds are attributes before opset 11 and optional constant inputs from 11 on. */
static mf_status cv_clip(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x, *lo = NULL, *hi = NULL;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (!s)
        s = onnx_input(im, n, 1, &lo);
    if (!s)
        s = onnx_input(im, n, 2, &hi);
    if (s)
        return s;
    if (x->type.dtype != MF_F32) /* clamp is f32: other dtypes as maximum and minimum */
        return clip_by_min_max(im, n, x, lo, hi);
    if ((lo && (!lo->is_const || !lo->data)) || (hi && (!hi->is_const || !hi->data)))
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "min and max must be constants");
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CLAMP, a);
    mf_attr_set_float(MF_OP_CLAMP, a, "min", const_scalar(lo, onnx_attr_float(n, "min", -INFINITY)));
    mf_attr_set_float(MF_OP_CLAMP, a, "max", const_scalar(hi, onnx_attr_float(n, "max", INFINITY)));
    return emit(im, n, MF_OP_CLAMP, 1, &x, a);
}

/* The sliding-window geometry of Conv and the pools on 1 or 2 spatial dims, as 2-D (a 1-D
 * window is [1, k]), or on 3 (the pools): begin and end pads from pads or auto_pad
 * (SAME_UPPER puts the odd pad at the end, SAME_LOWER at the beginning, VALID none). */
typedef struct window {
    int nsp;
    int64_t kernel[3], stride[3], dil[3], pb[3], pe[3];
} window;

static mf_status window_of(const Onnx__NodeProto *n, const mf_type *x, const int64_t *kernel, window *w)
{
    int nsp = x->rank - 2, off;
    if (nsp < 1 || nsp > 3)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "%d spatial dims (1-D to 3-D are supported)", nsp);
    off = nsp == 3 ? 0 : 2 - nsp;
    int64_t v[6];
    w->nsp = nsp;
    for (int i = 0; i < 3; i++)
        w->kernel[i] = 1, w->stride[i] = 1, w->dil[i] = 1, w->pb[i] = 0, w->pe[i] = 0;
    for (int i = 0; i < nsp; i++)
        w->kernel[off + i] = kernel[i];
    static const char *const names[2] = {"strides", "dilations"};
    int64_t *dst[2] = {w->stride, w->dil};
    for (int a = 0; a < 2; a++) {
        int k = onnx_attr_ints(n, names[a], v, 6);
        if (k != -1 && k != nsp)
            return onnx_node_error(n, MF_ERR_INVALID, "%s has %d entries, expected %d", names[a], k, nsp);
        for (int i = 0; i < k; i++)
            dst[a][off + i] = v[i];
    }
    char ab[32];
    const char *autopad = onnx_attr_str(n, "auto_pad", "NOTSET", ab, sizeof ab);
    if (!strcmp(autopad, "NOTSET")) {
        int k = onnx_attr_ints(n, "pads", v, 6);
        if (k != -1 && k != 2 * nsp)
            return onnx_node_error(n, MF_ERR_UNSUPPORTED, "pads has %d entries, expected %d", k, 2 * nsp);
        for (int i = 0; i < k / 2; i++)
            w->pb[off + i] = v[i], w->pe[off + i] = v[nsp + i];
    } else if (!strcmp(autopad, "SAME_UPPER") || !strcmp(autopad, "SAME_LOWER")) {
        for (int i = 0; i < nsp; i++) {
            int d = off + i;
            int64_t in = x->shape[2 + i], st = w->stride[d] > 0 ? w->stride[d] : 1, out = (in + st - 1) / st;
            int64_t total = (out - 1) * st + (w->kernel[d] - 1) * w->dil[d] + 1 - in;
            total = total < 0 ? 0 : total;
            w->pb[d] = autopad[5] == 'U' ? total / 2 : total - total / 2;
            w->pe[d] = total - w->pb[d];
        }
    } else if (strcmp(autopad, "VALID")) {
        return onnx_node_error(n, MF_ERR_INVALID, "auto_pad %s", autopad);
    }
    for (int i = 0; i < 3; i++)
        if (w->pb[i] < 0 || w->pe[i] < 0)
            return onnx_node_error(n, MF_ERR_UNSUPPORTED, "negative pads");
    return MF_OK;
}

/* A reshape of x to the given shape, as a graph node. */
static mf_status reshape_to(onnx_importer *im, const Onnx__NodeProto *n, mf_value *x, int rank,
                            const int64_t *shape, mf_value **out)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_RESHAPE, a);
    mf_attr_set_ints(MF_OP_RESHAPE, a, "shape", rank, shape);
    return onnx_add(im, n, MF_OP_RESHAPE, 1, &x, a, out);
}

/* x as 2-D spatial: [N, C, L] to [N, C, 1, L]; a 2-D x as it is. */
static mf_status as_2d(onnx_importer *im, const Onnx__NodeProto *n, mf_value *x, mf_value **out)
{
    *out = x;
    if (x->type.rank != 3)
        return MF_OK;
    int64_t sh[4] = {x->type.shape[0], x->type.shape[1], 1, x->type.shape[2]};
    return reshape_to(im, n, x, 4, sh, out);
}

/* The window's pads as the op's symmetric padding when they are (and, for a pool, at most
 * half the kernel); otherwise a pad op of value fill in front and no padding in the op. */
static mf_status place_pads(onnx_importer *im, const Onnx__NodeProto *n, window *w, bool pool, double fill,
                            mf_value **x, int64_t *padding)
{
    bool sym = true;
    for (int i = 0; i < 2; i++)
        sym = sym && w->pb[i] == w->pe[i] && (!pool || 2 * w->pb[i] <= w->kernel[i]);
    for (int i = 0; i < 2; i++)
        padding[i] = sym ? w->pb[i] : 0;
    if (sym)
        return MF_OK;
    mf_attr a[MF_MAX_ATTRS];
    int64_t pads[8] = {0, 0, w->pb[0], w->pb[1], 0, 0, w->pe[0], w->pe[1]};
    mf_op_default_attrs(MF_OP_PAD, a);
    mf_attr_set_ints(MF_OP_PAD, a, "pads", 8, pads);
    mf_attr_set_float(MF_OP_PAD, a, "value", fill);
    return onnx_add(im, n, MF_OP_PAD, 1, x, a, x);
}

/* Defines the 2-D y as n's output, reshaped back to 1-D for a 1-D window. */
static mf_status define_window_out(onnx_importer *im, const Onnx__NodeProto *n, const window *w, mf_value *y)
{
    if (w->nsp == 2)
        return onnx_define(im, n->output[0], y);
    int64_t sh[3] = {y->type.shape[0], y->type.shape[1], y->type.shape[3]};
    mf_attr ra[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_RESHAPE, ra);
    mf_attr_set_ints(MF_OP_RESHAPE, ra, "shape", 3, sh);
    return emit(im, n, MF_OP_RESHAPE, 1, &y, ra);
}

/* Emits op on the 2-D x, reshaped back to 1-D for a 1-D window. */
static mf_status emit_window_op(onnx_importer *im, const Onnx__NodeProto *n, const window *w, mf_op op, int nin,
                                mf_value **in, const mf_attr *a)
{
    if (w->nsp == 2)
        return emit(im, n, op, nin, in, a);
    mf_value *y = NULL;
    mf_status s = onnx_add(im, n, op, nin, in, a, &y);
    return s ? s : define_window_out(im, n, w, y);
}

/* A 3-D Conv as conv3d, which takes the window's begin and end pads. */
static mf_status conv_3d(onnx_importer *im, const Onnx__NodeProto *n, const window *w, mf_value **in)
{
    mf_op op = MF_OP_CONV3D;
    int64_t pads[6];
    for (int i = 0; i < 3; i++)
        pads[i] = w->pb[i], pads[3 + i] = w->pe[i];
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    mf_attr_set_ints(op, a, "stride", 3, w->stride);
    mf_attr_set_ints(op, a, "dilation", 3, w->dil);
    mf_attr_set_ints(op, a, "pads", 6, pads);
    mf_attr_set_int(op, a, "groups", onnx_attr_int(n, "group", 1));
    return emit(im, n, op, in[2] ? 3 : 2, in, a);
}

/* Conv (1-D to 3-D; any pads and auto_pad): inputs X, W and an optional B. */
static mf_status cv_conv(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *in[3];
    int64_t pad[2];
    mf_status s = onnx_inputs(im, n, 2, in);
    if (!s)
        s = onnx_input(im, n, 2, &in[2]);
    if (s)
        return s;
    mf_op op = MF_OP_CONV2D;
    window w;
    int64_t k[3] = {0, 0, 0};
    if (in[1]->type.rank != in[0]->type.rank || in[1]->type.rank < 3)
        return onnx_node_error(n, MF_ERR_SHAPE, "the weight's rank is not the input's");
    if (in[0]->type.rank > 5)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "%d spatial dims (1-D to 3-D are supported)", in[0]->type.rank - 2);
    for (int i = 0; i + 2 < in[1]->type.rank && i < 3; i++)
        k[i] = in[1]->type.shape[2 + i];
    int64_t ks[4];
    int nk = onnx_attr_ints(n, "kernel_shape", ks, 4);
    for (int i = 0; i < nk; i++)
        if (nk != in[1]->type.rank - 2 || ks[i] != k[i]) {
            char ts[128];
            return onnx_node_error(n, MF_ERR_SHAPE, "kernel_shape contradicts the weight %s",
                                   mf_type_str(&in[1]->type, ts, sizeof ts));
        }
    if ((s = window_of(n, &in[0]->type, k, &w)))
        return s;
    if (w.nsp == 3)
        return conv_3d(im, n, &w, in);
    if ((s = as_2d(im, n, in[0], &in[0])) ||
        (s = as_2d(im, n, in[1], &in[1])) || (s = place_pads(im, n, &w, false, 0, &in[0], pad)))
        return s;
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    mf_attr_set_ints(op, a, "stride", 2, w.stride);
    mf_attr_set_ints(op, a, "padding", 2, pad);
    mf_attr_set_ints(op, a, "dilation", 2, w.dil);
    mf_attr_set_int(op, a, "groups", onnx_attr_int(n, "group", 1));
    return emit_window_op(im, n, &w, op, in[2] ? 3 : 2, in, a);
}

/* The nsp entries of ints attribute name into dst[off..] (dflt where absent). */
static mf_status spatial_ints(const Onnx__NodeProto *n, const char *name, int nsp, int64_t dflt, int64_t *dst)
{
    int64_t v[4];
    int k = onnx_attr_ints(n, name, v, 4), off = 2 - nsp;
    dst[0] = dst[1] = dflt;
    if (k != -1 && k != nsp)
        return onnx_node_error(n, MF_ERR_INVALID, "%s has %d entries, expected %d", name, k, nsp);
    for (int i = 0; i < k; i++)
        dst[off + i] = v[i];
    return MF_OK;
}

/* ConvTranspose's begin and end pads and output size per dim (as 2-D) from pads, or from
 * output_shape or auto_pad SAME_* (ONNX: the total padding, never negative, split with the
 * odd one at the end for SAME_UPPER and at the beginning otherwise). */
static mf_status transpose_pads(const Onnx__NodeProto *n, int nsp, const int64_t *in, const int64_t *full,
                                const int64_t *stride, const int64_t *outpad, window *w, int64_t *want)
{
    int64_t v[8];
    int off = 2 - nsp, nos = onnx_attr_ints(n, "output_shape", v, 8);
    char ab[32];
    const char *autopad = onnx_attr_str(n, "auto_pad", "NOTSET", ab, sizeof ab);
    bool same = !strcmp(autopad, "SAME_UPPER") || !strcmp(autopad, "SAME_LOWER");
    if (nos > 0 && nos != nsp && nos != nsp + 2)
        return onnx_node_error(n, MF_ERR_INVALID, "output_shape has %d entries", nos);
    if (!same && strcmp(autopad, "NOTSET") && strcmp(autopad, "VALID"))
        return onnx_node_error(n, MF_ERR_INVALID, "auto_pad %s", autopad);
    if (nos <= 0 && !same) {
        int k = onnx_attr_ints(n, "pads", v, 8);
        if (k != -1 && k != 2 * nsp)
            return onnx_node_error(n, MF_ERR_INVALID, "pads has %d entries, expected %d", k, 2 * nsp);
        for (int i = 0; i < k / 2; i++)
            w->pb[off + i] = v[i], w->pe[off + i] = v[nsp + i];
        for (int d = 0; d < 2; d++)
            want[d] = full[d] + outpad[d] - w->pb[d] - w->pe[d];
        return MF_OK;
    }
    for (int d = 0; d < 2; d++) {
        want[d] = d < off ? 1 : nos > 0 ? v[nos - nsp + d - off] : in[d] * stride[d];
        int64_t total = full[d] + outpad[d] - want[d];
        total = total < 0 ? 0 : total;
        w->pb[d] = !strcmp(autopad, "SAME_UPPER") ? total / 2 : total - total / 2;
        w->pe[d] = total - w->pb[d];
    }
    return MF_OK;
}

/* ConvTranspose on 3 spatial dims: conv_transpose3d takes begin and end pads itself; those
 * output_shape or auto_pad SAME_* imply are the total padding (full + output_padding - the
 * wanted size) split as for 2-D. */
static mf_status conv_transpose_3d(onnx_importer *im, const Onnx__NodeProto *n, mf_value **in)
{
    mf_op op = MF_OP_CONV_TRANSPOSE3D;
    int64_t stride[3] = {1, 1, 1}, dil[3] = {1, 1, 1}, outpad[3] = {0, 0, 0}, pads[6] = {0}, v[8];
    static const char *const names[3] = {"strides", "dilations", "output_padding"};
    int64_t *dst[3] = {stride, dil, outpad};
    for (int a = 0; a < 3; a++) {
        int k = onnx_attr_ints(n, names[a], v, 8);
        if (k != -1 && k != 3)
            return onnx_node_error(n, MF_ERR_INVALID, "%s has %d entries, expected 3", names[a], k);
        for (int i = 0; i < k; i++)
            dst[a][i] = v[i];
    }
    char ab[32];
    const char *autopad = onnx_attr_str(n, "auto_pad", "NOTSET", ab, sizeof ab);
    int nos = onnx_attr_ints(n, "output_shape", v, 8);
    bool same = !strcmp(autopad, "SAME_UPPER") || !strcmp(autopad, "SAME_LOWER");
    if (nos > 0 || same) {
        if (nos > 0 && nos != 3 && nos != 5)
            return onnx_node_error(n, MF_ERR_INVALID, "output_shape has %d entries", nos);
        for (int d = 0; d < 3; d++) {
            int64_t full = (in[0]->type.shape[2 + d] - 1) * stride[d] + (in[1]->type.shape[2 + d] - 1) * dil[d] + 1;
            int64_t want = nos > 0 ? v[nos - 3 + d] : in[0]->type.shape[2 + d] * stride[d];
            int64_t total = full + outpad[d] - want;
            if (total < 0)
                return onnx_node_error(n, MF_ERR_UNSUPPORTED, "an output %lld beyond the transposed conv's %lld",
                                       (long long)want, (long long)(full + outpad[d]));
            pads[d] = !strcmp(autopad, "SAME_UPPER") ? total / 2 : total - total / 2;
            pads[3 + d] = total - pads[d];
        }
    } else {
        int k = onnx_attr_ints(n, "pads", v, 8);
        if (k != -1 && k != 6)
            return onnx_node_error(n, MF_ERR_INVALID, "pads has %d entries, expected 6", k);
        for (int i = 0; i < k; i++)
            pads[i] = v[i];
    }
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    mf_attr_set_ints(op, a, "stride", 3, stride);
    mf_attr_set_ints(op, a, "dilation", 3, dil);
    mf_attr_set_ints(op, a, "output_padding", 3, outpad);
    mf_attr_set_ints(op, a, "pads", 6, pads);
    mf_attr_set_int(op, a, "groups", onnx_attr_int(n, "group", 1));
    return emit(im, n, op, in[2] ? 3 : 2, in, a);
}

/* ConvTranspose on 1 or 2 spatial dims (1-D as [N, C, 1, L] between reshapes): strides,
 * dilations, group, output_padding, and pads of any kind.  Symmetric pads are the op's;
 * others (uneven ones, those output_shape or auto_pad imply) run the op without padding,
 * its output grown by output_padding where the window needs it, then a slice. */
static mf_status cv_conv_transpose(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *in[3];
    mf_status s = onnx_inputs(im, n, 2, in);
    if (!s)
        s = onnx_input(im, n, 2, &in[2]);
    if (s)
        return s;
    int rank = in[0]->type.rank, nsp = rank - 2, off = 2 - nsp;
    if (nsp < 1 || nsp > 3)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "%d spatial dims (1-D to 3-D are supported)", nsp);
    if (in[1]->type.rank != rank)
        return onnx_node_error(n, MF_ERR_SHAPE, "the weight's rank is not the input's");
    if (nsp == 3)
        return conv_transpose_3d(im, n, in);
    window w = {.nsp = nsp};
    int64_t stride[2], dil[2], outpad[2], ks[2], sz[2] = {1, 1}, full[2], want[2];
    if ((s = spatial_ints(n, "strides", nsp, 1, stride)) || (s = spatial_ints(n, "dilations", nsp, 1, dil)) ||
        (s = spatial_ints(n, "output_padding", nsp, 0, outpad)) || (s = spatial_ints(n, "kernel_shape", nsp, 0, ks)))
        return s;
    for (int d = 0; d < 2; d++) {
        int64_t k = d < off ? 1 : in[1]->type.shape[2 + d - off];
        if (d >= off && ks[d] && ks[d] != k) {
            char ts[128];
            return onnx_node_error(n, MF_ERR_SHAPE, "kernel_shape contradicts the weight %s",
                                   mf_type_str(&in[1]->type, ts, sizeof ts));
        }
        sz[d] = d < off ? 1 : in[0]->type.shape[2 + d - off];
        full[d] = (sz[d] - 1) * stride[d] + (k - 1) * dil[d] + 1;
    }
    if ((s = transpose_pads(n, nsp, sz, full, stride, outpad, &w, want)) || (s = as_2d(im, n, in[0], &in[0])) ||
        (s = as_2d(im, n, in[1], &in[1])))
        return s;
    mf_op op = MF_OP_CONV_TRANSPOSE2D;
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    mf_attr_set_ints(op, a, "stride", 2, stride);
    mf_attr_set_ints(op, a, "dilation", 2, dil);
    mf_attr_set_int(op, a, "groups", onnx_attr_int(n, "group", 1));
    bool sym = w.pb[0] == w.pe[0] && w.pb[1] == w.pe[1];
    for (int d = 0; d < 2; d++)
        sym = sym && want[d] == full[d] + outpad[d] - 2 * w.pb[d];
    if (sym) {
        mf_attr_set_ints(op, a, "padding", 2, w.pb);
        mf_attr_set_ints(op, a, "output_padding", 2, outpad);
        return emit_window_op(im, n, &w, op, in[2] ? 3 : 2, in, a);
    }
    int64_t grow[2], starts[2], ends[2], axes[2] = {2, 3};
    for (int d = 0; d < 2; d++) {
        grow[d] = w.pb[d] + want[d] - full[d];
        grow[d] = grow[d] < 0 ? 0 : grow[d];
        if (grow[d] >= stride[d] && grow[d] >= dil[d])
            return onnx_node_error(n, MF_ERR_UNSUPPORTED, "an output %lld beyond the transposed conv's %lld",
                                   (long long)grow[d], (long long)full[d]);
        starts[d] = w.pb[d], ends[d] = w.pb[d] + want[d];
    }
    mf_attr_set_ints(op, a, "output_padding", 2, grow);
    mf_value *y;
    if ((s = onnx_add(im, n, op, in[2] ? 3 : 2, in, a, &y)))
        return s;
    mf_attr sa[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_SLICE, sa);
    mf_attr_set_ints(MF_OP_SLICE, sa, "starts", 2, starts);
    mf_attr_set_ints(MF_OP_SLICE, sa, "ends", 2, ends);
    mf_attr_set_ints(MF_OP_SLICE, sa, "axes", 2, axes);
    return emit_window_op(im, n, &w, MF_OP_SLICE, 1, &y, sa);
}

/* One pool of the 2-D x over window w (its first two dims): pads the op cannot take
 * (uneven, or over half the kernel) become a pad op of -inf (max) or 0 (average), and an
 * average that must not count them is divided by the same pool of a padded mask of ones. */
static mf_status pool_2d(onnx_importer *im, const Onnx__NodeProto *n, mf_op op, const window *w, bool count_pad,
                         mf_value *x, mf_value **out)
{
    window pw = *w;
    int64_t pad[2];
    bool is_max = op == MF_OP_MAX_POOL2D, op_pads = true;
    for (int i = 0; i < 2; i++)
        op_pads = op_pads && w->pb[i] == w->pe[i] && 2 * w->pb[i] <= w->kernel[i];
    mf_value *mask = NULL;
    mf_status s;
    if (!op_pads && !is_max && !count_pad) {
        /* The plane of ones is an expanded scalar, not a constant as large as the plane. */
        int64_t plane[4] = {1, 1, x->type.shape[2], x->type.shape[3]};
        mf_value *one;
        mf_attr ea[MF_MAX_ATTRS];
        mf_op_default_attrs(MF_OP_EXPAND, ea);
        mf_attr_set_ints(MF_OP_EXPAND, ea, "shape", 4, plane);
        if ((s = onnx_scalar(im, MF_F32, 1, &one)) || (s = onnx_add(im, n, MF_OP_EXPAND, 1, &one, ea, &mask)))
            return s;
        if ((s = place_pads(im, n, &pw, true, 0, &mask, pad)))
            return s;
        count_pad = true;
    }
    if ((s = place_pads(im, n, &pw, true, is_max ? -INFINITY : 0, &x, pad)))
        return s;
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    mf_attr_set_ints(op, a, "kernel", 2, w->kernel);
    mf_attr_set_ints(op, a, "stride", 2, w->stride);
    mf_attr_set_ints(op, a, "padding", 2, pad);
    mf_attr_set_int(op, a, "ceil_mode", onnx_attr_int(n, "ceil_mode", 0));
    if (is_max)
        mf_attr_set_ints(op, a, "dilation", 2, w->dil);
    else
        mf_attr_set_int(op, a, "count_include_pad", count_pad);
    mf_value *counted = NULL;
    if ((s = onnx_add(im, n, op, 1, &x, a, out)) || !mask || (s = onnx_add(im, n, op, 1, &mask, a, &counted)))
        return s;
    return onnx_add(im, n, MF_OP_DIV, 2, (mf_value *[]){*out, counted}, NULL, out);
}

/* A 3-D pool as two 2-D ones: over H and W with D among the channels, then over D with H
 * and W as one dim.  Max is separable, and so is the average: its divisor, the window's
 * size or its count of real elements, is the product of the per-axis ones. */
static mf_status pool_3d(onnx_importer *im, const Onnx__NodeProto *n, mf_op op, const window *w, bool count_pad,
                         mf_value *x, mf_value **out)
{
    window hw = {2, {w->kernel[1], w->kernel[2]}, {w->stride[1], w->stride[2]}, {w->dil[1], w->dil[2]},
                 {w->pb[1], w->pb[2]}, {w->pe[1], w->pe[2]}};
    window d = {2, {w->kernel[0], 1}, {w->stride[0], 1}, {w->dil[0], 1}, {w->pb[0], 0}, {w->pe[0], 0}};
    const int64_t *sh = x->type.shape;
    int64_t batch = sh[0], c = sh[1], depth = sh[2];
    mf_status s;
    if ((s = reshape_to(im, n, x, 4, (int64_t[]){batch, c * depth, sh[3], sh[4]}, &x)) ||
        (s = pool_2d(im, n, op, &hw, count_pad, x, &x)))
        return s;
    int64_t oh = x->type.shape[2], ow = x->type.shape[3];
    if ((s = reshape_to(im, n, x, 4, (int64_t[]){batch * c, 1, depth, oh * ow}, &x)) ||
        (s = pool_2d(im, n, op, &d, count_pad, x, &x)))
        return s;
    return reshape_to(im, n, x, 5, (int64_t[]){batch, c, x->type.shape[2], oh, ow}, out);
}

/* MaxPool's optional Indices output: max_pool_indices of the input x over window w, of the
 * pooled y's spatial sizes (y may be the 2-D form of a 1-D pool). */
static mf_status pool_indices(onnx_importer *im, const Onnx__NodeProto *n, const window *w, mf_value *x,
                              const mf_value *y)
{
    int nsp = w->nsp, off = nsp == 3 ? 0 : 2 - nsp;
    int64_t pads[6], sizes[3];
    for (int i = 0; i < nsp; i++) {
        pads[i] = w->pb[off + i], pads[nsp + i] = w->pe[off + i];
        sizes[i] = y->type.shape[y->type.rank - nsp + i];
    }
    if (onnx_attr_int(n, "storage_order", 0) && nsp != 2)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "storage_order 1 of a %d-D pool", nsp);
    mf_op op = MF_OP_MAX_POOL_INDICES;
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    mf_attr_set_ints(op, a, "kernel", nsp, w->kernel + off);
    mf_attr_set_ints(op, a, "stride", nsp, w->stride + off);
    mf_attr_set_ints(op, a, "dilation", nsp, w->dil + off);
    mf_attr_set_ints(op, a, "pads", 2 * nsp, pads);
    mf_attr_set_ints(op, a, "sizes", nsp, sizes);
    mf_attr_set_int(op, a, "storage_order", onnx_attr_int(n, "storage_order", 0));
    mf_value *idx;
    mf_status s = onnx_add(im, n, op, 1, &x, a, &idx);
    return s ? s : onnx_define(im, n->output[1], idx);
}

/* A dtype whose every value an f32 holds exactly (a max pool of it runs in f32). */
static bool exact_in_f32(mf_dtype dt)
{
    return dt == MF_U8 || dt == MF_I8 || dt == MF_U16 || dt == MF_I16 || dt == MF_F16;
}

static mf_status cast_value(onnx_importer *im, const Onnx__NodeProto *n, mf_value **x, mf_dtype to)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CAST, a);
    mf_attr_set_int(MF_OP_CAST, a, "to", (int64_t)to);
    return onnx_add(im, n, MF_OP_CAST, 1, x, a, x);
}

/* MaxPool and AveragePool on 1, 2 or 3 spatial dims, with any pads and auto_pad; a max
 * pool of 8- and 16-bit integers or f16 runs in f32 between casts. */
static mf_status pool(onnx_importer *im, const Onnx__NodeProto *n, mf_op op)
{
    mf_value *x, *y;
    int64_t kernel[6];
    window w;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (s)
        return s;
    mf_value *x_in = x; /* as given: the indices count its elements */
    int nk = onnx_attr_ints(n, "kernel_shape", kernel, 6);
    if (nk != x->type.rank - 2)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "kernel_shape has %d entries for a rank-%d input", nk,
                               x->type.rank);
    if ((s = window_of(n, &x->type, kernel, &w)))
        return s;
    bool count_pad = onnx_attr_int(n, "count_include_pad", 0) != 0, is_max = op == MF_OP_MAX_POOL2D;
    if (!is_max && (w.dil[0] != 1 || w.dil[1] != 1 || w.dil[2] != 1)) /* AveragePool has dilations from opset 19 */
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "dilations of an average pool");
    mf_dtype dt = x->type.dtype;
    if (dt != MF_F32 && (!is_max || !exact_in_f32(dt)))
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "%s input (f32, and for MaxPool 8- and 16-bit integers and f16, are supported)",
                               mf_dtype_name(dt));
    if (dt != MF_F32 && (s = cast_value(im, n, &x, MF_F32)))
        return s;
    if (w.nsp == 3)
        s = pool_3d(im, n, op, &w, count_pad, x, &y);
    else if (!(s = as_2d(im, n, x, &x)))
        s = pool_2d(im, n, op, &w, count_pad, x, &y);
    if (!s && dt != MF_F32)
        s = cast_value(im, n, &y, dt);
    if (s)
        return s;
    if (n->n_output > 1 && n->output[1][0] && (s = pool_indices(im, n, &w, x_in, y)))
        return s;
    if (w.nsp == 3) /* y has the output's shape */
        return onnx_define(im, n->output[0], y);
    return define_window_out(im, n, &w, y);
}

static mf_status cv_maxpool(onnx_importer *im, const Onnx__NodeProto *n)
{
    return pool(im, n, MF_OP_MAX_POOL2D);
}

static mf_status cv_avgpool(onnx_importer *im, const Onnx__NodeProto *n)
{
    return pool(im, n, MF_OP_AVG_POOL2D);
}

static mf_status cv_global_avgpool(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x;
    int64_t one[2] = {1, 1};
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_ADAPTIVE_AVG_POOL2D, a);
    mf_attr_set_ints(MF_OP_ADAPTIVE_AVG_POOL2D, a, "output_size", 2, one);
    mf_status s = onnx_inputs(im, n, 1, &x);
    return s ? s : emit(im, n, MF_OP_ADAPTIVE_AVG_POOL2D, 1, &x, a);
}

static mf_status cv_batchnorm(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *in[5];
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_BATCH_NORM, a);
    mf_attr_set_float(MF_OP_BATCH_NORM, a, "eps", onnx_attr_float(n, "epsilon", 1e-5f));
    if (im->opset < 9 && !onnx_attr_int(n, "spatial", 1)) /* per-element statistics */
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "spatial = 0 (before opset 9)");
    if (onnx_attr_int(n, "training_mode", 0)) /* opset 14 */
        return onnx_cv_batchnorm_training(im, n);
    mf_status s = onnx_inputs(im, n, 5, in);
    return s ? s : emit(im, n, MF_OP_BATCH_NORM, 5, in, a);
}

/* A new constant: w transposed ([k, n] -> [n, k]) for Gemm with transB = 0. */
static mf_value *transposed_const(onnx_importer *im, const mf_value *w)
{
    mf_type t = w->type;
    t.shape[0] = w->type.shape[1];
    t.shape[1] = w->type.shape[0];
    float *d = malloc(mf_type_nbytes(&t) + 1);
    if (!d)
        return NULL;
    const float *src = w->data->data;
    for (int64_t i = 0; i < t.shape[0]; i++)
        for (int64_t j = 0; j < t.shape[1]; j++)
            d[i * t.shape[1] + j] = src[j * t.shape[0] + i];
    mf_value *v = onnx_const(im, &t, d);
    free(d);
    return v;
}

/* A new f32 constant: v's data times k. */
static mf_value *scaled_const(onnx_importer *im, const mf_value *v, float k, const mf_type *as)
{
    int64_t n = mf_type_numel(&v->type);
    float *d = malloc((size_t)n * sizeof *d + 1);
    if (!d)
        return NULL;
    for (int64_t i = 0; i < n; i++)
        d[i] = ((const float *)v->data->data)[i] * k;
    mf_value *r = onnx_const(im, as ? as : &v->type, d);
    free(d);
    return r;
}

static bool const_f32(const mf_value *v)
{
    return v && v->is_const && v->data && v->type.dtype == MF_F32;
}

/* permute [1, 0] of a 2-D value. */
static mf_status transpose2d(onnx_importer *im, const Onnx__NodeProto *n, mf_value *x, mf_value **out)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_PERMUTE, a);
    mf_attr_set_ints(MF_OP_PERMUTE, a, "perm", 2, (int64_t[]){1, 0});
    return onnx_add(im, n, MF_OP_PERMUTE, 1, &x, a, out);
}

/* Gemm: Y = alpha·A'·B' + beta·C as linear(A', W [N, K], bias): W is B (transB = 1) or B
 * transposed (a constant transposed at import, else a permute); alpha and beta fold into
 * constant W and C, or multiply; a C that is not [N] (it broadcasts to [M, N]) is added. */
static mf_status cv_gemm(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *in[3];
    mf_status s = onnx_inputs(im, n, 2, in);
    if (!s)
        s = onnx_input(im, n, 2, &in[2]);
    if (s)
        return s;
    float alpha = onnx_attr_float(n, "alpha", 1), beta = onnx_attr_float(n, "beta", 1);
    if (in[0]->type.rank != 2 || in[1]->type.rank != 2)
        return onnx_node_error(n, MF_ERR_SHAPE, "A and B must have rank 2");
    mf_value *a = in[0], *w = in[1], *c = in[2], *bias = NULL, *y = NULL;
    if (onnx_attr_int(n, "transA", 0) && (s = transpose2d(im, n, a, &a)))
        return s;
    if (!onnx_attr_int(n, "transB", 0) && const_f32(w)) {
        if (!(w = transposed_const(im, w)))
            return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    } else if (!onnx_attr_int(n, "transB", 0) && (s = transpose2d(im, n, w, &w))) {
        return s;
    }
    bool alpha_in_w = alpha != 1 && const_f32(w);
    if (alpha_in_w && !(w = scaled_const(im, w, alpha, NULL)))
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    int64_t nout = w->type.shape[0];
    if (c && const_f32(c) && mf_type_numel(&c->type) == nout && (alpha == 1 || alpha_in_w) &&
        (c->type.rank == 1 || (c->type.rank == 2 && c->type.shape[0] == 1))) {
        mf_type t = {MF_F32, 1, {nout}};
        if (!(bias = scaled_const(im, c, beta, &t)))
            return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    }
    bool last = !(alpha != 1 && !alpha_in_w) && !(c && !bias);
    mf_value *lin[3] = {a, w, bias};
    if (last)
        return emit(im, n, MF_OP_LINEAR, bias ? 3 : 2, lin, NULL);
    if ((s = onnx_add(im, n, MF_OP_LINEAR, bias ? 3 : 2, lin, NULL, &y)))
        return s;
    mf_type scalar = {MF_F32, 0, {0}};
    if (alpha != 1 && !alpha_in_w) {
        mf_value *k = onnx_const(im, &scalar, &alpha);
        if (!k)
            return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
        if (!c || bias)
            return emit(im, n, MF_OP_MUL, 2, (mf_value *[]){y, k}, NULL);
        if ((s = onnx_add(im, n, MF_OP_MUL, 2, (mf_value *[]){y, k}, NULL, &y)))
            return s;
    }
    if (beta != 1) {
        mf_value *k = onnx_const(im, &scalar, &beta);
        if (!k)
            return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
        if ((s = onnx_add(im, n, MF_OP_MUL, 2, (mf_value *[]){c, k}, NULL, &c)))
            return s;
    }
    return emit(im, n, MF_OP_ADD, 2, (mf_value *[]){y, c}, NULL);
}

static mf_status cv_flatten(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (s)
        return s;
    int64_t axis = onnx_attr_int(n, "axis", 1), rank = x->type.rank;
    if (axis < 0)
        axis += rank;
    if (axis < 0 || axis > rank)
        return onnx_node_error(n, MF_ERR_INVALID, "axis %lld is out of range", (long long)axis);
    mf_attr a[MF_MAX_ATTRS];
    if (axis == 1 && rank >= 2) { /* [N, rest]: a flatten keeps any batch size (no fixed N) */
        mf_op_default_attrs(MF_OP_FLATTEN, a);
        return emit(im, n, MF_OP_FLATTEN, 1, &x, a);
    }
    int64_t shape[2] = {1, 1};
    for (int64_t i = 0; i < rank; i++)
        shape[i >= axis] *= x->type.shape[i];
    mf_op_default_attrs(MF_OP_RESHAPE, a);
    mf_attr_set_ints(MF_OP_RESHAPE, a, "shape", 2, shape);
    return emit(im, n, MF_OP_RESHAPE, 1, &x, a);
}

/* Reshape: the shape is a constant input (an attribute before opset 5); 0 copies the
 * input's dim (allowzero = 0). */
static mf_status cv_reshape(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *in[2];
    int64_t shape[MF_MAX_RANK];
    int k;
    mf_status s = onnx_inputs(im, n, im->opset < 5 ? 1 : 2, in);
    if (!s && im->opset < 5 && (k = onnx_attr_ints(n, "shape", shape, MF_MAX_RANK)) < 0)
        s = onnx_node_error(n, MF_ERR_PARSE, "the shape attribute is missing");
    else if (!s && im->opset >= 5)
        s = onnx_const_ints(n, in[1], shape, MF_MAX_RANK, &k);
    if (s)
        return s;
    for (int i = 0; i < k; i++) {
        if (shape[i] == 0 && !onnx_attr_int(n, "allowzero", 0)) {
            if (i >= in[0]->type.rank)
                return onnx_node_error(n, MF_ERR_SHAPE, "shape entry %d is 0 beyond the input's rank", i);
            shape[i] = in[0]->type.shape[i];
        }
    }
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_RESHAPE, a);
    mf_attr_set_ints(MF_OP_RESHAPE, a, "shape", k, shape);
    return emit(im, n, MF_OP_RESHAPE, 1, in, a);
}

static mf_status cv_transpose(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (s)
        return s;
    int64_t perm[MF_MAX_RANK];
    int k = onnx_attr_ints(n, "perm", perm, MF_MAX_RANK);
    if (k < 0) { /* default: reverse the dims */
        k = x->type.rank;
        for (int i = 0; i < k; i++)
            perm[i] = k - 1 - i;
    }
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_PERMUTE, a);
    mf_attr_set_ints(MF_OP_PERMUTE, a, "perm", k, perm);
    return emit(im, n, MF_OP_PERMUTE, 1, &x, a);
}

/* Softmax and LogSoftmax: from opset 13 over one axis (default -1); before, over the
 * flattened trailing dims from `axis` (default 1), which equals one axis only when it is
 * the last. */
static mf_status softmax(onnx_importer *im, const Onnx__NodeProto *n, mf_op op)
{
    mf_value *x;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (s)
        return s;
    int64_t axis = onnx_attr_int(n, "axis", im->opset >= 13 ? -1 : 1);
    if (im->opset < 13 && axis != -1 && axis != x->type.rank - 1)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "axis %lld before opset 13 (coerced to 2-D)",
                               (long long)axis);
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    mf_attr_set_int(op, a, "dim", axis);
    return emit(im, n, op, 1, &x, a);
}

static mf_status cv_softmax(onnx_importer *im, const Onnx__NodeProto *n)
{
    return softmax(im, n, MF_OP_SOFTMAX);
}

static mf_status cv_log_softmax(onnx_importer *im, const Onnx__NodeProto *n)
{
    return softmax(im, n, MF_OP_LOG_SOFTMAX);
}

/* ReduceMean/ReduceSum: axes is an attribute, or (ReduceSum from 13) a constant input. */
static mf_status reduce(onnx_importer *im, const Onnx__NodeProto *n, mf_op op)
{
    mf_value *x, *axes_in = NULL;
    int64_t axes[MF_MAX_RANK];
    int k = 0;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (!s)
        s = onnx_input(im, n, 1, &axes_in);
    if (s)
        return s;
    if (axes_in)
        s = onnx_const_ints(n, axes_in, axes, MF_MAX_RANK, &k);
    else
        k = onnx_attr_ints(n, "axes", axes, MF_MAX_RANK);
    if (s)
        return s;
    if (k < 0)
        k = 0;
    if (k == 0 && onnx_attr_int(n, "noop_with_empty_axes", 0))
        return cv_identity(im, n);
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    mf_attr_set_ints(op, a, "dims", k, axes);
    mf_attr_set_int(op, a, "keepdim", onnx_attr_int(n, "keepdims", 1));
    return emit(im, n, op, 1, &x, a);
}

VIA(cv_reduce_mean, reduce, MF_OP_MEAN)
VIA(cv_reduce_sum, reduce, MF_OP_SUM)
VIA(cv_reduce_max, reduce, MF_OP_REDUCE_MAX)
VIA(cv_reduce_min, reduce, MF_OP_REDUCE_MIN)
VIA(cv_reduce_prod, reduce, MF_OP_REDUCE_PROD)
VIA(cv_reduce_l1, reduce, MF_OP_REDUCE_L1)
VIA(cv_reduce_l2, reduce, MF_OP_REDUCE_L2)
VIA(cv_reduce_sum_square, reduce, MF_OP_REDUCE_SUM_SQUARE)
VIA(cv_reduce_log_sum, reduce, MF_OP_REDUCE_LOG_SUM)
VIA(cv_reduce_log_sum_exp, reduce, MF_OP_REDUCE_LOG_SUM_EXP)

/* The concat op takes at most 64 inputs; a longer Concat (ssdlite's heads have 90) is a
 * concat of concats of 64. */
#define CONCAT_MAX_IN 64

/* Concat: folded when every input is a small rank-1 constant of one dtype (the shape and
 * scale arithmetic of exporters), else the concat op. */
static mf_status cv_concat(onnx_importer *im, const Onnx__NodeProto *n)
{
    if (n->n_input < 1 || n->n_input > CONCAT_MAX_IN * CONCAT_MAX_IN)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "%zu inputs (1 to %d are supported)", n->n_input,
                               CONCAT_MAX_IN * CONCAT_MAX_IN);
    mf_value **in = malloc(n->n_input * sizeof *in);
    if (!in)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    mf_status s = onnx_inputs(im, n, (int)n->n_input, in);
    /* torch 1.13 exports torchvision's paste of masks as a Concat of a scalar and a [1]:
     * a scalar among rank-1 inputs is taken as [1] */
    bool rank1 = false;
    for (size_t i = 0; !s && i < n->n_input; i++)
        rank1 |= in[i]->type.rank == 1;
    for (size_t i = 0; !s && rank1 && i < n->n_input; i++)
        if (in[i]->type.rank == 0)
            s = onnx_reshape(im, n, in[i], 1, (int64_t[]){1}, &in[i]);
    bool fold = !s;
    int64_t total = 0;
    for (size_t i = 0; fold && i < n->n_input; i++) {
        fold = onnx_small_const(in[i]) && in[i]->type.rank == 1 && in[i]->type.dtype == in[0]->type.dtype;
        total += in[i]->type.rank == 1 ? in[i]->type.shape[0] : 0;
    }
    if (fold && total <= ONNX_FOLD_CAP) {
        unsigned char out[ONNX_FOLD_CAP * 8];
        size_t off = 0;
        for (size_t i = 0; i < n->n_input; i++) {
            memcpy(out + off, in[i]->data->data, mf_type_nbytes(&in[i]->type));
            off += mf_type_nbytes(&in[i]->type);
        }
        mf_type t = {in[0]->type.dtype, 1, {total}};
        free(in);
        return onnx_define_const(im, n, &t, out);
    }
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CONCAT, a);
    mf_attr_set_int(MF_OP_CONCAT, a, "dim", onnx_attr_int(n, "axis", 0));
    mf_value *part[CONCAT_MAX_IN];
    int nin = (int)n->n_input, nparts = 0;
    for (int i = 0; !s && nin > CONCAT_MAX_IN && i < nin; i += CONCAT_MAX_IN) {
        int k = nin - i < CONCAT_MAX_IN ? nin - i : CONCAT_MAX_IN;
        s = onnx_add(im, n, MF_OP_CONCAT, k, in + i, a, &part[nparts++]);
    }
    if (!s)
        s = nparts ? emit(im, n, MF_OP_CONCAT, nparts, part, a) : emit(im, n, MF_OP_CONCAT, nin, in, a);
    free(in);
    return s;
}

/* Pad in constant mode: pads (begin per dim, then end per dim) and the value are
 * constant inputs from opset 11 (attributes before), and from 18 an optional axes input
 * names the dims the pads are for. */
static mf_status cv_pad(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *in[2], *value = NULL, *axes_in = NULL;
    int64_t pads[2 * MF_MAX_RANK], axes[MF_MAX_RANK];
    int k = 0, na = 0;
    bool attrs = im->opset < 11;
    mf_status s = onnx_inputs(im, n, attrs ? 1 : 2, in);
    if (!s && !attrs)
        s = onnx_input(im, n, 2, &value);
    if (!s && !attrs)
        s = onnx_input(im, n, 3, &axes_in);
    if (!s && attrs && (k = onnx_attr_ints(n, "pads", pads, 2 * MF_MAX_RANK)) < 0)
        s = onnx_node_error(n, MF_ERR_PARSE, "the pads attribute is missing");
    else if (!s && !attrs)
        s = onnx_const_ints(n, in[1], pads, 2 * MF_MAX_RANK, &k);
    if (!s && axes_in)
        s = onnx_const_ints(n, axes_in, axes, MF_MAX_RANK, &na);
    if (s)
        return s;
    if (axes_in) { /* pads for the listed axes only: spread onto every dim */
        int rank = in[0]->type.rank;
        int64_t full[2 * MF_MAX_RANK] = {0};
        if (k != 2 * na)
            return onnx_node_error(n, MF_ERR_SHAPE, "%d pads for %d axes", k, na);
        for (int i = 0; i < na; i++) {
            int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];
            if (a < 0 || a >= rank)
                return onnx_node_error(n, MF_ERR_INVALID, "axis %lld is out of range", (long long)axes[i]);
            full[a] = pads[i];
            full[a + rank] = pads[i + na];
        }
        k = 2 * rank;
        memcpy(pads, full, sizeof full);
    }
    char mb[32];
    const char *mode = onnx_attr_str(n, "mode", "constant", mb, sizeof mb);
    static const char *const modes[4] = {"constant", "reflect", "edge", "wrap"};
    int m = 0;
    while (m < 4 && strcmp(mode, modes[m]))
        m++;
    if (m == 4 || (m == 3 && im->opset < 19))
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "mode %s (constant, reflect, edge%s are)", mode,
                               im->opset < 19 ? "" : ", wrap");
    if (value && !onnx_small_const(value))
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "the pad value must be a constant");
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_PAD, a);
    mf_status st = mf_attr_set_ints(MF_OP_PAD, a, "pads", k, pads);
    if (st)
        return onnx_node_error(n, st, "%d pads: at most %d (rank 4)", k, MF_MAX_RANK);
    mf_attr_set_int(MF_OP_PAD, a, "mode", m);
    mf_attr_set_float(MF_OP_PAD, a, "value", value ? onnx_get_elem(value->data->data, value->type.dtype, 0)
                                                   : attrs ? onnx_attr_float(n, "value", 0) : 0);
    return emit(im, n, MF_OP_PAD, 1, in, a);
}

/* Slice: starts, ends, axes and steps are constant inputs from opset 10, and attributes
 * (without steps) before. */
static mf_status cv_slice(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *req[3], *v[4] = {0};
    int64_t vals[4][MF_MAX_RANK];
    int k[4] = {0};
    const char *names[4] = {"starts", "ends", "axes", "steps"};
    bool attrs = im->opset < 10;
    mf_status s = onnx_inputs(im, n, attrs ? 1 : 3, req); /* data, starts and ends are required */
    mf_value *x = req[0];
    for (int i = 0; i < 4 && !s; i++) {
        if (attrs) {
            k[i] = i < 3 ? onnx_attr_ints(n, names[i], vals[i], MF_MAX_RANK) : 0;
            if (k[i] < 0 && i < 2)
                s = onnx_node_error(n, MF_ERR_PARSE, "the %s attribute is missing", names[i]);
            k[i] = k[i] < 0 ? 0 : k[i];
            continue;
        }
        s = onnx_input(im, n, (size_t)i + 1, &v[i]);
        if (!s && v[i])
            s = onnx_const_ints(n, v[i], vals[i], MF_MAX_RANK, &k[i]);
    }
    if (s)
        return s;
    mf_op op = MF_OP_SLICE;
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    for (int i = 0; i < 4; i++)
        mf_attr_set_ints(op, a, names[i], k[i], vals[i]);
    return emit(im, n, op, 1, &x, a);
}

/* Split: one slice per output, sizes from the `split` attribute (before 13) or input
 * (from 13), or equal parts. */
static mf_status cv_split(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x, *sizes_in = NULL;
    int64_t sizes[64];
    int k = -1;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (!s)
        s = onnx_input(im, n, 1, &sizes_in);
    if (!s && sizes_in)
        s = onnx_const_ints(n, sizes_in, sizes, 64, &k);
    else if (!s)
        k = onnx_attr_ints(n, "split", sizes, 64);
    if (s)
        return s;
    int64_t axis = onnx_attr_int(n, "axis", 0), rank = x->type.rank;
    if (axis < 0)
        axis += rank;
    if (axis < 0 || axis >= rank)
        return onnx_node_error(n, MF_ERR_INVALID, "axis %lld is out of range", (long long)axis);
    int nout = (int)n->n_output;
    if (nout < 1 || nout > 64)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "%d outputs (1 to 64)", nout);
    int64_t dim = x->type.shape[axis];
    if (k < 0 && onnx_attr(n, "num_outputs")) { /* opset 18: ceil-sized parts, the last smaller */
        int64_t part = (dim + nout - 1) / nout;
        for (int i = 0; i < nout; i++)
            sizes[i] = part * (i + 1) <= dim ? part : dim - part * i > 0 ? dim - part * i : 0;
        k = nout;
    } else if (k < 0) {
        if (dim % nout)
            return onnx_node_error(n, MF_ERR_SHAPE, "dim %lld does not split into %d equal parts",
                                   (long long)dim, nout);
        for (int i = 0; i < nout; i++)
            sizes[i] = dim / nout;
        k = nout;
    }
    int64_t total = 0;
    for (int i = 0; i < k; i++)
        total += sizes[i];
    if (k != nout || total != dim)
        return onnx_node_error(n, MF_ERR_SHAPE, "split sizes do not add up to dim %lld over %d outputs",
                               (long long)dim, nout);
    int64_t start = 0;
    for (int i = 0; i < nout && !s; i++) {
        mf_value *part;
        if (!(s = onnx_slice_axis(im, n, x, axis, start, start + sizes[i], &part)))
            s = onnx_define(im, n->output[i], part);
        start += sizes[i];
    }
    return s;
}

/* The index of name in list (of n), or -1. */
static int find_name(const char *name, const char *const *list, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(name, list[i]))
            return i;
    return -1;
}

/* Resize and Upsample.  scales: an attribute of Upsample before opset 9, then its input 1;
 * input 1 of Resize 10, then input 2 (after roi) with sizes as input 3.  Nearest with
 * integer H and W scales of a 4-D input, where the source is floor(x / scale), is
 * upsample_nearest2d; everything else is resize (any rank; nearest, linear, cubic; every
 * coordinate transform of opset 11 to 17). */
static mf_status cv_resize(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x, *scales = NULL, *sizes = NULL, *roi = NULL;
    mf_status s = onnx_inputs(im, n, 1, &x);
    bool is_upsample = !strcmp(n->op_type, "Upsample"), scales_attr = is_upsample && im->opset < 9;
    bool v11 = !is_upsample && im->opset >= 11;
    if (!s && !scales_attr)
        s = onnx_input(im, n, v11 ? 2 : 1, &scales);
    if (!s && v11)
        s = onnx_input(im, n, 3, &sizes);
    if (!s && v11)
        s = onnx_input(im, n, 1, &roi);
    if (s)
        return s;
    int rank = x->type.rank;
    char mb[32], cb[64], nb[64];
    static const char *const modes[] = {"nearest", "linear", "cubic"};
    static const char *const coords[] = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                                         "tf_crop_and_resize"};
    static const char *const nearests[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    const char *mode_s = onnx_attr_str(n, "mode", "nearest", mb, sizeof mb);
    const char *coord_s = onnx_attr_str(n, "coordinate_transformation_mode", v11 ? "half_pixel" : "asymmetric", cb, sizeof cb);
    const char *near_s = onnx_attr_str(n, "nearest_mode", v11 ? "round_prefer_floor" : "floor", nb, sizeof nb);
    int mode = find_name(mode_s, modes, 3), coord = find_name(coord_s, coords, 5), near = find_name(near_s, nearests, 4);
    if (mode < 0 && !strcmp(mode_s, "bilinear")) /* Upsample 7's name */
        mode = 1;
    if (mode < 0 || coord < 0 || near < 0)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "mode %s, coordinate_transformation_mode %s, nearest_mode %s",
                               mode_s, coord_s, near_s);
    if (onnx_attr_int(n, "antialias", 0) || onnx_attr(n, "axes"))
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "antialias and axes (opset 18) are not supported");
    char kb[32];
    if (strcmp(onnx_attr_str(n, "keep_aspect_ratio_policy", "stretch", kb, sizeof kb), "stretch"))
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "keep_aspect_ratio_policy %s", kb);
    double f[MF_MAX_RANK];
    int64_t out[MF_MAX_RANK];
    float roi_v[2 * MF_MAX_RANK];
    for (int i = 0; i < rank; i++)
        roi_v[i] = 0, roi_v[rank + i] = 1;
    if (coord == 4 && roi && roi->is_const && roi->data && roi->type.dtype == MF_F32 &&
        mf_type_numel(&roi->type) == 2 * rank)
        memcpy(roi_v, roi->data->data, (size_t)(2 * rank) * sizeof(float));
    else if (coord == 4)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "tf_crop_and_resize needs a constant f32 roi of %d", 2 * rank);
    const Onnx__AttributeProto *sa = scales_attr ? onnx_attr(n, "scales") : NULL;
    if (sa && (int)sa->n_floats == rank) {
        for (int i = 0; i < rank; i++)
            f[i] = sa->floats[i];
    } else if (scales && scales->is_const && scales->data && scales->type.dtype == MF_F32 &&
               mf_type_numel(&scales->type) == rank) {
        for (int i = 0; i < rank; i++)
            f[i] = ((const float *)scales->data->data)[i];
    } else if (sizes && sizes->is_const && sizes->data && mf_type_numel(&sizes->type) == rank) {
        int k;
        if ((s = onnx_const_ints(n, sizes, out, MF_MAX_RANK, &k)))
            return s;
        for (int i = 0; i < rank; i++)
            f[i] = x->type.shape[i] ? (double)out[i] / (double)x->type.shape[i] : 1;
    } else {
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "scales or sizes must be constants with one entry per dim");
    }
    for (int i = 0; i < rank; i++) {
        if (!(f[i] > 0 && f[i] < 1e9))
            return onnx_node_error(n, MF_ERR_INVALID, "scale %g of dim %d is not positive and finite", f[i], i);
        if (!(sizes && !scales_attr && !(scales && mf_type_numel(&scales->type) == rank)))
            out[i] = (int64_t)floor((double)x->type.shape[i] * (coord == 4 ? roi_v[rank + i] - roi_v[i] : 1) * f[i]);
    }
    bool floor_pick = (coord == 0 && near == 0) || (coord == 3 && near == 2);
    if (mode == 0 && rank == 4 && floor_pick && f[0] == 1 && f[1] == 1 && f[2] == floor(f[2]) &&
        f[3] == floor(f[3])) {
        int64_t sc[2] = {(int64_t)f[2], (int64_t)f[3]};
        mf_attr a[MF_MAX_ATTRS];
        mf_op_default_attrs(MF_OP_UPSAMPLE_NEAREST2D, a);
        mf_attr_set_ints(MF_OP_UPSAMPLE_NEAREST2D, a, "scale", 2, sc);
        return emit(im, n, MF_OP_UPSAMPLE_NEAREST2D, 1, &x, a);
    }
    float fs[MF_MAX_RANK];
    for (int i = 0; i < rank; i++)
        fs[i] = (float)f[i];
    mf_type st = {MF_F32, 1, {rank}}, rt = {MF_F32, 1, {2 * rank}};
    mf_value *vs = onnx_const(im, &st, fs), *vr = coord == 4 ? onnx_const(im, &rt, roi_v) : NULL;
    if (!vs || (coord == 4 && !vr))
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    mf_attr a[MF_MAX_ATTRS];
    mf_op op = MF_OP_RESIZE;
    mf_op_default_attrs(op, a);
    mf_attr_set_ints(op, a, "sizes", rank, out);
    mf_attr_set_int(op, a, "mode", mode);
    mf_attr_set_int(op, a, "coord", coord);
    mf_attr_set_int(op, a, "nearest", near);
    mf_attr_set_float(op, a, "cubic_a", onnx_attr_float(n, "cubic_coeff_a", -0.75f));
    mf_attr_set_int(op, a, "exclude_outside", onnx_attr_int(n, "exclude_outside", 0));
    mf_attr_set_float(op, a, "extrapolation", onnx_attr_float(n, "extrapolation_value", 0));
    return emit(im, n, op, vr ? 3 : 2, (mf_value *[]){x, vs, vr}, a);
}

SIMPLE(cv_tan, MF_OP_TAN, 1)
SIMPLE(cv_asin, MF_OP_ASIN, 1)
SIMPLE(cv_acos, MF_OP_ACOS, 1)
SIMPLE(cv_atan, MF_OP_ATAN, 1)
SIMPLE(cv_sinh, MF_OP_SINH, 1)
SIMPLE(cv_cosh, MF_OP_COSH, 1)
SIMPLE(cv_asinh, MF_OP_ASINH, 1)
SIMPLE(cv_acosh, MF_OP_ACOSH, 1)
SIMPLE(cv_atanh, MF_OP_ATANH, 1)
SIMPLE(cv_softplus, MF_OP_SOFTPLUS, 1)
SIMPLE(cv_softsign, MF_OP_SOFTSIGN, 1)
SIMPLE(cv_isnan, MF_OP_ISNAN, 1)
SIMPLE(cv_not, MF_OP_LOGICAL_NOT, 1)
SIMPLE(cv_equal, MF_OP_EQUAL, 2)
SIMPLE(cv_greater, MF_OP_GREATER, 2)
SIMPLE(cv_less, MF_OP_LESS, 2)
SIMPLE(cv_greater_equal, MF_OP_GREATER_EQUAL, 2)
SIMPLE(cv_less_equal, MF_OP_LESS_EQUAL, 2)
SIMPLE(cv_and, MF_OP_LOGICAL_AND, 2)
SIMPLE(cv_or, MF_OP_LOGICAL_OR, 2)
SIMPLE(cv_xor, MF_OP_LOGICAL_XOR, 2)

/* One input and the op's float attributes from the node's (ONNX name, default) pairs,
 * which are named as in the op's schema. */
static mf_status unary_with_floats(onnx_importer *im, const Onnx__NodeProto *n, mf_op op, int na,
                                   const char *const *names, const float *dflt)
{
    mf_value *x;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (s)
        return s;
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    for (int i = 0; i < na; i++)
        mf_attr_set_float(op, a, names[i], onnx_attr_float(n, names[i], dflt[i]));
    return emit(im, n, op, 1, &x, a);
}

static mf_status cv_selu(onnx_importer *im, const Onnx__NodeProto *n)
{
    return unary_with_floats(im, n, MF_OP_SELU, 2, (const char *[]){"alpha", "gamma"},
                             (const float[]){1.67326319217681884765625f, 1.05070102214813232421875f});
}

static mf_status cv_thresholded_relu(onnx_importer *im, const Onnx__NodeProto *n)
{
    return unary_with_floats(im, n, MF_OP_THRESHOLDED_RELU, 1, (const char *[]){"alpha"}, (const float[]){1.0f});
}

static mf_status cv_celu(onnx_importer *im, const Onnx__NodeProto *n)
{
    return unary_with_floats(im, n, MF_OP_CELU, 1, (const char *[]){"alpha"}, (const float[]){1.0f});
}

static mf_status cv_shrink(onnx_importer *im, const Onnx__NodeProto *n)
{
    return unary_with_floats(im, n, MF_OP_SHRINK, 2, (const char *[]){"bias", "lambd"},
                             (const float[]){0.0f, 0.5f});
}

static mf_status cv_isinf(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (s)
        return s;
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_ISINF, a);
    mf_attr_set_int(MF_OP_ISINF, a, "detect_negative", onnx_attr_int(n, "detect_negative", 1));
    mf_attr_set_int(MF_OP_ISINF, a, "detect_positive", onnx_attr_int(n, "detect_positive", 1));
    return emit(im, n, MF_OP_ISINF, 1, &x, a);
}

static mf_status cv_mod(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *in[2];
    mf_status s = onnx_inputs(im, n, 2, in);
    if (s)
        return s;
    int64_t fmod_ = onnx_attr_int(n, "fmod", 0);
    if (!fmod_ && mf_dtype_is_float(in[0]->type.dtype))
        return onnx_node_error(n, MF_ERR_INVALID, "fmod = 0 on floats (the spec requires fmod = 1)");
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_MOD, a);
    mf_attr_set_int(MF_OP_MOD, a, "fmod", fmod_);
    return emit(im, n, MF_OP_MOD, 2, in, a);
}

static mf_status cv_where(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *in[3];
    mf_status s = onnx_inputs(im, n, 3, in);
    return s ? s : emit(im, n, MF_OP_WHERE, 3, in, NULL);
}

/* Sum and Mean of one or more inputs: a chain of adds, times 1/n for Mean. */
static mf_status sum_or_mean(onnx_importer *im, const Onnx__NodeProto *n, bool mean)
{
    mf_value *acc;
    mf_status s = onnx_inputs(im, n, 1, &acc);
    for (size_t i = 1; i < n->n_input && !s; i++) {
        mf_value *in[2] = {acc, NULL};
        if ((s = onnx_input(im, n, i, &in[1])) || !in[1])
            return s ? s : onnx_node_error(n, MF_ERR_PARSE, "input %zu is empty", i);
        if (i + 1 == n->n_input && !mean)
            return emit(im, n, MF_OP_ADD, 2, in, NULL);
        s = onnx_add(im, n, MF_OP_ADD, 2, in, NULL, &acc);
    }
    if (s || !mean || n->n_input == 1)
        return s ? s : onnx_define(im, n->output[0], acc);
    mf_type scalar = {MF_F32, 0, {0}};
    float inv = 1.0f / (float)n->n_input;
    mf_value *vinv = onnx_const(im, &scalar, &inv);
    if (!vinv)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    return emit(im, n, MF_OP_MUL, 2, (mf_value *[]){acc, vinv}, NULL);
}

static mf_status cv_sum(onnx_importer *im, const Onnx__NodeProto *n)
{
    return sum_or_mean(im, n, false);
}

static mf_status cv_mean(onnx_importer *im, const Onnx__NodeProto *n)
{
    return sum_or_mean(im, n, true);
}

/* An op of one data input whose ints attribute `attr` is the node's constant input 1. */
static mf_status with_const_ints(onnx_importer *im, const Onnx__NodeProto *n, mf_op op, const char *attr)
{
    mf_value *in[2];
    int64_t vals[MF_MAX_RANK];
    int k;
    mf_status s = onnx_inputs(im, n, 2, in);
    if (!s)
        s = onnx_const_ints(n, in[1], vals, MF_MAX_RANK, &k);
    if (s)
        return s;
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    mf_attr_set_ints(op, a, attr, k, vals);
    return emit(im, n, op, 1, in, a);
}

static mf_status cv_expand(onnx_importer *im, const Onnx__NodeProto *n)
{
    return with_const_ints(im, n, MF_OP_EXPAND, "shape");
}

static mf_status cv_tile(onnx_importer *im, const Onnx__NodeProto *n)
{
    return with_const_ints(im, n, MF_OP_TILE, "repeats");
}

/* Gather: the static-shape arithmetic folds; any other gather is the gather op. */
static mf_status cv_gather(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *in[2];
    mf_status s = onnx_inputs(im, n, 2, in);
    if (s)
        return s;
    if (onnx_small_const(in[0]) && onnx_small_const(in[1]) && in[0]->type.rank == 1 &&
        (in[0]->type.dtype == MF_I64 || in[0]->type.dtype == MF_I32))
        return onnx_cv_gather(im, n);
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_GATHER, a);
    mf_attr_set_int(MF_OP_GATHER, a, "dim", onnx_attr_int(n, "axis", 0));
    return emit(im, n, MF_OP_GATHER, 2, in, a);
}

static mf_status cv_gather_elements(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *in[2];
    mf_status s = onnx_inputs(im, n, 2, in);
    if (s)
        return s;
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_GATHER_ELEMENTS, a);
    mf_attr_set_int(MF_OP_GATHER_ELEMENTS, a, "dim", onnx_attr_int(n, "axis", 0));
    return emit(im, n, MF_OP_GATHER_ELEMENTS, 2, in, a);
}

static mf_status cv_trilu(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x;
    int64_t k;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (!s)
        s = onnx_scalar_input(im, n, 1, 0, &k);
    if (s)
        return s;
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_TRILU, a);
    mf_attr_set_int(MF_OP_TRILU, a, "upper", onnx_attr_int(n, "upper", 1));
    mf_attr_set_int(MF_OP_TRILU, a, "k", k);
    return emit(im, n, MF_OP_TRILU, 1, &x, a);
}

static mf_status cv_cumsum(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x, *axis_in;
    int64_t axis;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (!s)
        s = onnx_input(im, n, 1, &axis_in);
    if (!s && !axis_in)
        s = onnx_node_error(n, MF_ERR_PARSE, "the axis input is missing");
    if (!s)
        s = onnx_scalar_input(im, n, 1, 0, &axis);
    if (s)
        return s;
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CUMSUM, a);
    mf_attr_set_int(MF_OP_CUMSUM, a, "dim", axis);
    mf_attr_set_int(MF_OP_CUMSUM, a, "exclusive", onnx_attr_int(n, "exclusive", 0));
    mf_attr_set_int(MF_OP_CUMSUM, a, "reverse", onnx_attr_int(n, "reverse", 0));
    return emit(im, n, MF_OP_CUMSUM, 1, &x, a);
}

/* TopK: the indices (topk_indices), and the values gathered at them.  k is an attribute
 * before opset 10 and a constant input after; `largest` comes in 11; the order is always
 * sorted (sorted = 0 leaves it unspecified). */
static mf_status cv_topk(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x, *idx = NULL, *vals = NULL;
    int64_t k = onnx_attr_int(n, "k", -1);
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (!s && im->opset >= 10)
        s = onnx_scalar_input(im, n, 1, -1, &k);
    if (s)
        return s;
    if (n->n_output < 2)
        return onnx_node_error(n, MF_ERR_PARSE, "TopK has 2 outputs, the node %zu", n->n_output);
    mf_attr a[MF_MAX_ATTRS], g[MF_MAX_ATTRS];
    int64_t axis = onnx_attr_int(n, "axis", -1);
    mf_op_default_attrs(MF_OP_TOPK_INDICES, a);
    mf_attr_set_int(MF_OP_TOPK_INDICES, a, "k", k);
    mf_attr_set_int(MF_OP_TOPK_INDICES, a, "dim", axis);
    mf_attr_set_int(MF_OP_TOPK_INDICES, a, "largest", onnx_attr_int(n, "largest", 1));
    mf_op_default_attrs(MF_OP_GATHER_ELEMENTS, g);
    mf_attr_set_int(MF_OP_GATHER_ELEMENTS, g, "dim", axis);
    if ((s = onnx_add(im, n, MF_OP_TOPK_INDICES, 1, &x, a, &idx)) ||
        (s = onnx_add(im, n, MF_OP_GATHER_ELEMENTS, 2, (mf_value *[]){x, idx}, g, &vals)))
        return s;
    if (n->output[0][0] && (s = onnx_define(im, n->output[0], vals)))
        return s;
    return n->output[1][0] ? onnx_define(im, n->output[1], idx) : MF_OK;
}

/* Hardmax: from opset 13 over one axis (default -1); before, over the flattened trailing
 * dims from axis (default 1), which is one axis only when it is the last. */
static mf_status cv_hardmax(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (s)
        return s;
    int64_t axis = onnx_attr_int(n, "axis", im->opset >= 13 ? -1 : 1);
    if (im->opset < 13 && axis != -1 && axis != x->type.rank - 1) {
        /* coerced to 2-D [outer, inner]: hardmax on a reshape, shaped back */
        int64_t r = x->type.rank, ax = axis < 0 ? axis + r : axis, shape2[2] = {1, 1};
        if (ax < 0 || ax > r)
            return onnx_node_error(n, MF_ERR_INVALID, "axis %lld is out of range", (long long)axis);
        for (int64_t i = 0; i < r; i++)
            shape2[i >= ax] *= x->type.shape[i];
        mf_attr ra[MF_MAX_ATTRS], ha[MF_MAX_ATTRS], rb[MF_MAX_ATTRS];
        mf_value *flat, *h;
        mf_op_default_attrs(MF_OP_RESHAPE, ra);
        mf_attr_set_ints(MF_OP_RESHAPE, ra, "shape", 2, shape2);
        mf_op_default_attrs(MF_OP_HARDMAX, ha);
        mf_attr_set_int(MF_OP_HARDMAX, ha, "dim", 1);
        mf_op_default_attrs(MF_OP_RESHAPE, rb);
        mf_attr_set_ints(MF_OP_RESHAPE, rb, "shape", x->type.rank, x->type.shape);
        if ((s = onnx_add(im, n, MF_OP_RESHAPE, 1, &x, ra, &flat)) ||
            (s = onnx_add(im, n, MF_OP_HARDMAX, 1, &flat, ha, &h)))
            return s;
        return emit(im, n, MF_OP_RESHAPE, 1, &h, rb);
    }
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_HARDMAX, a);
    mf_attr_set_int(MF_OP_HARDMAX, a, "dim", axis);
    return emit(im, n, MF_OP_HARDMAX, 1, &x, a);
}

/* GlobalMaxPool: the max over every dim after N and C, kept as 1. */
static mf_status cv_global_maxpool(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (s)
        return s;
    int64_t dims[MF_MAX_RANK];
    int nd = 0;
    for (int d = 2; d < x->type.rank; d++)
        dims[nd++] = d;
    if (!nd)
        return onnx_node_error(n, MF_ERR_SHAPE, "the input has no spatial dims");
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_REDUCE_MAX, a);
    mf_attr_set_ints(MF_OP_REDUCE_MAX, a, "dims", nd, dims);
    mf_attr_set_int(MF_OP_REDUCE_MAX, a, "keepdim", 1);
    return emit(im, n, MF_OP_REDUCE_MAX, 1, &x, a);
}

/* Range of constant start, limit and delta: folded (its length depends on the values). */
static mf_status cv_range(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *in[3];
    mf_status s = onnx_inputs(im, n, 3, in);
    if (s)
        return s;
    for (int i = 0; i < 3; i++)
        if (!onnx_small_const(in[i]) || mf_type_numel(&in[i]->type) != 1 || in[i]->type.dtype != in[0]->type.dtype)
            return onnx_node_error(n, MF_ERR_UNSUPPORTED, "start, limit and delta must be constant scalars of one dtype");
    mf_dtype dt = in[0]->type.dtype;
    double start = onnx_get_elem(in[0]->data->data, dt, 0), limit = onnx_get_elem(in[1]->data->data, dt, 0),
           delta = onnx_get_elem(in[2]->data->data, dt, 0);
    double count = delta ? ceil((limit - start) / delta) : -1;
    if (!(count <= ONNX_FOLD_LIMIT) || dt == MF_BOOL)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "a range of %g elements is not folded", count);
    mf_type t = {dt, 1, {count > 0 ? (int64_t)count : 0}};
    unsigned char *out = malloc(mf_type_nbytes(&t) + 8);
    if (!out)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    for (int64_t i = 0; i < t.shape[0]; i++) /* start + i * delta, in the dtype (numpy.arange) */
        onnx_set_elem(out, dt, i, mf_dtype_is_float(dt) ? (double)(float)(start + (double)i * delta)
                                                        : start + (double)i * delta);
    s = onnx_define_const(im, n, &t, out);
    free(out);
    return s;
}

/* since: the first opset whose version of the op the converter implements; a model of an
 * older opset gets that op refused (its older version has other semantics: Add before 7
 * broadcasts by a given axis, Concat before 4 defaults to axis 1, ...).  Differences between
 * the versions from `since` on are handled in the converter, by im->opset. */
static const struct {
    const char *op_type;
    converter fn;
    int since;
} converters[] = {
    {"Add", cv_add, 7},
    {"Sub", cv_sub, 7},
    {"Mul", cv_mul, 7},
    {"Div", cv_div, 7},
    {"MatMul", cv_matmul, 1},
    {"Gemm", cv_gemm, 7},
    {"Conv", cv_conv, 1},
    {"Relu", cv_relu, 1},
    {"Sigmoid", cv_sigmoid, 1},
    {"Tanh", cv_tanh, 1},
    {"Exp", cv_exp, 1},
    {"Log", cv_log, 1},
    {"Sqrt", cv_sqrt, 1},
    {"Neg", cv_neg, 1},
    {"Abs", cv_abs, 1},
    {"Reciprocal", cv_reciprocal, 1},
    {"Floor", cv_floor, 1},
    {"Ceil", cv_ceil, 1},
    {"Round", cv_round, 1},
    {"Sign", cv_sign, 1},
    {"Erf", cv_erf, 1},
    {"Cos", cv_cos, 1},
    {"Sin", cv_sin, 1},
    {"PRelu", cv_prelu, 1},
    {"Elu", cv_elu, 1},
    {"Min", cv_min, 1},
    {"Max", cv_max, 1},
    {"HardSwish", cv_hardswish, 1},
    {"HardSigmoid", cv_hardsigmoid, 1},
    {"LeakyRelu", cv_leaky_relu, 1},
    {"Clip", cv_clip, 1},
    {"BatchNormalization", cv_batchnorm, 7},
    {"MaxPool", cv_maxpool, 1},
    {"AveragePool", cv_avgpool, 1},
    {"GlobalAveragePool", cv_global_avgpool, 1},
    {"Flatten", cv_flatten, 1},
    {"Reshape", cv_reshape, 1},
    {"Transpose", cv_transpose, 1},
    {"Concat", cv_concat, 4},
    {"Softmax", cv_softmax, 1},
    {"LogSoftmax", cv_log_softmax, 1},
    {"ReduceMean", cv_reduce_mean, 1},
    {"ReduceSum", cv_reduce_sum, 1},
    {"ReduceMax", cv_reduce_max, 1},
    {"ReduceMin", cv_reduce_min, 1},
    {"ReduceProd", cv_reduce_prod, 1},
    {"ReduceL1", cv_reduce_l1, 1},
    {"ReduceL2", cv_reduce_l2, 1},
    {"ReduceSumSquare", cv_reduce_sum_square, 1},
    {"ReduceLogSum", cv_reduce_log_sum, 1},
    {"ReduceLogSumExp", cv_reduce_log_sum_exp, 1},
    {"Dropout", cv_dropout, 1},
    {"Identity", cv_identity, 1},
    {"Constant", onnx_cv_constant, 1},
    {"Shape", onnx_cv_shape, 1},
    {"Gather", cv_gather, 1},
    {"Unsqueeze", onnx_cv_unsqueeze, 1},
    {"Squeeze", onnx_cv_squeeze, 1},
    {"Cast", cv_cast, 6},
    {"ArgMax", cv_argmax, 1},
    {"ArgMin", cv_argmin, 1},
    {"LayerNormalization", cv_layer_norm, 1},
    {"CastLike", cv_cast_like, 1},
    {"Size", onnx_cv_size, 1},
    {"ConstantOfShape", onnx_cv_constant_of_shape, 1},
    {"Pad", cv_pad, 2},
    {"Pow", cv_pow, 7},
    {"ConvTranspose", cv_conv_transpose, 1},
    {"Tan", cv_tan, 1}, {"Asin", cv_asin, 1}, {"Acos", cv_acos, 1}, {"Atan", cv_atan, 1},
    {"Sinh", cv_sinh, 1}, {"Cosh", cv_cosh, 1}, {"Asinh", cv_asinh, 1}, {"Acosh", cv_acosh, 1},
    {"Atanh", cv_atanh, 1}, {"Softplus", cv_softplus, 1}, {"Softsign", cv_softsign, 1},
    {"Selu", cv_selu, 6}, {"ThresholdedRelu", cv_thresholded_relu, 1}, {"Celu", cv_celu, 1},
    {"Shrink", cv_shrink, 1}, {"IsNaN", cv_isnan, 1}, {"IsInf", cv_isinf, 1},
    {"Equal", cv_equal, 7}, {"Greater", cv_greater, 7}, {"Less", cv_less, 7},
    {"GreaterOrEqual", cv_greater_equal, 1}, {"LessOrEqual", cv_less_equal, 1},
    {"And", cv_and, 7}, {"Or", cv_or, 7}, {"Xor", cv_xor, 7}, {"Not", cv_not, 1},
    {"Mod", cv_mod, 1}, {"Where", cv_where, 1}, {"Sum", cv_sum, 1}, {"Mean", cv_mean, 1},
    {"Expand", cv_expand, 1}, {"Tile", cv_tile, 6}, {"GatherElements", cv_gather_elements, 1},
    {"Trilu", cv_trilu, 1}, {"CumSum", cv_cumsum, 1}, {"TopK", cv_topk, 1},
    {"Hardmax", cv_hardmax, 1}, {"GlobalMaxPool", cv_global_maxpool, 1}, {"Range", cv_range, 1},
    {"Slice", cv_slice, 1},
    {"Split", cv_split, 2},
    {"Resize", cv_resize, 1},
    {"Upsample", cv_resize, 7},
    {"QuantizeLinear", onnx_cv_quantize_linear, 10}, {"DequantizeLinear", onnx_cv_dequantize_linear, 10},
    {"QLinearConv", onnx_cv_qlinear_conv, 10}, {"QLinearMatMul", onnx_cv_qlinear_matmul, 10},
    {"ConvInteger", onnx_cv_conv_integer, 10}, {"MatMulInteger", onnx_cv_matmul_integer, 10},
    {"NegativeLogLikelihoodLoss", onnx_cv_nll_loss, 12},
    {"SoftmaxCrossEntropyLoss", onnx_cv_softmax_cross_entropy_loss, 12},
    {"Einsum", onnx_cv_einsum, 12},
    {"RNN", onnx_cv_rnn, 7}, {"GRU", onnx_cv_gru, 7}, {"LSTM", onnx_cv_lstm, 7},
    {"GridSample", onnx_cv_grid_sample, 16},
    {"SpaceToDepth", onnx_cv_space_to_depth, 1}, {"DepthToSpace", onnx_cv_depth_to_space, 1},
    {"EyeLike", onnx_cv_eye_like, 1}, {"OneHot", onnx_cv_one_hot, 9}, {"Compress", onnx_cv_compress, 9},
    {"NonZero", onnx_cv_non_zero, 9},
    {"Unique", onnx_cv_unique, 11}, {"InstanceNormalization", onnx_cv_instance_norm, 6}, {"LRN", onnx_cv_lrn, 1},
    {"HannWindow", onnx_cv_hann_window, 17}, {"HammingWindow", onnx_cv_hamming_window, 17},
    {"BlackmanWindow", onnx_cv_blackman_window, 17},
    {"DynamicQuantizeLinear", onnx_cv_dynamic_quantize_linear, 11},
    {"BitShift", onnx_cv_bit_shift, 11}, {"ScatterElements", onnx_cv_scatter_elements, 11},
    {"Scatter", onnx_cv_scatter_elements, 9}, {"ScatterND", onnx_cv_scatter_nd, 11},
    {"GatherND", onnx_cv_gather_nd, 11}, {"Det", onnx_cv_det, 11},
    {"ReverseSequence", onnx_cv_reverse_sequence, 10}, {"MaxUnpool", onnx_cv_max_unpool, 9},
    {"DFT", onnx_cv_dft, 17}, {"STFT", onnx_cv_stft, 17}, {"MeanVarianceNormalization", onnx_cv_mvn, 9},
    {"RoiAlign", onnx_cv_roi_align, 10}, {"NonMaxSuppression", onnx_cv_non_max_suppression, 10},
    {"TfIdfVectorizer", onnx_cv_tfidf, 9}, {"MelWeightMatrix", onnx_cv_mel_weight_matrix, 17},
};

static int find_converter(const char *op_type)
{
    for (size_t i = 0; i < sizeof converters / sizeof converters[0]; i++)
        if (!strcmp(converters[i].op_type, op_type))
            return (int)i;
    return -1;
}

bool onnx_op_supported(const char *op_type)
{
    return find_converter(op_type) >= 0;
}

mf_status onnx_convert_node(onnx_importer *im, const Onnx__NodeProto *n)
{
    if (n->domain && *n->domain && strcmp(n->domain, "ai.onnx"))
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "domain '%s' is not supported", n->domain);
    int k = n->op_type ? find_converter(n->op_type) : -1;
    if (k < 0)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "unsupported op type");
    if (im->opset == 0)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "the model imports no opset of the default domain");
    if (im->opset < converters[k].since)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED,
                               "the version of opset %lld is not supported (the one of opset %d on is)",
                               (long long)im->opset, converters[k].since);
    if (n->n_output < 1) /* every op has an output: converters may name output[0] */
        return onnx_node_error(n, MF_ERR_PARSE, "the node has no outputs");
    return converters[k].fn(im, n);
}
