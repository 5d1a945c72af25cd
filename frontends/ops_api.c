/* ops_api.c — the public op functions of mlufuse.h.  Each turns its C arguments into the
 * op's attributes, runs the op eagerly (runtime/eager.c) and, when the thread is tracing,
 * records it (trace.c).  No op logic lives here: rules are in ir/, kernels in runtime/. */
#include <string.h>

#include "frontends.h"

static mf_status call(mf_op op, const mf_attr *attrs, int nin, const mf_tensor *const *in,
                      mf_tensor **out)
{
    mf_status s = mf_rt_eager(op, attrs, nin, in, out);
    if (s)
        return s;
    s = mf_fe_trace_record(op, attrs, nin, in, *out);
    if (s) {
        mf_tensor_free(*out);
        *out = NULL;
    }
    return s;
}

static mf_status unary(mf_op op, const mf_tensor *x, mf_tensor **out)
{
    return call(op, NULL, 1, &x, out);
}

static mf_status binary(mf_op op, const mf_tensor *a, const mf_tensor *b, mf_tensor **out)
{
    const mf_tensor *in[2] = {a, b};
    return call(op, NULL, 2, in, out);
}

/* Runs op with one float attribute set. */
static mf_status with_float(mf_op op, const char *name, double v, int nin,
                            const mf_tensor *const *in, mf_tensor **out)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    mf_attr_set_float(op, a, name, v);
    return call(op, a, nin, in, out);
}

static mf_status with_ints(mf_op op, const char *name, int n, const int64_t *v,
                           const mf_tensor *x, mf_tensor **out)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    mf_status s = mf_attr_set_ints(op, a, name, n, v);
    return s ? s : call(op, a, 1, &x, out);
}

mf_status mf_conv2d(const mf_tensor *x, const mf_tensor *w, const mf_tensor *bias,
                    mf_conv2d_params p, mf_tensor **out)
{
    mf_op op = MF_OP_CONV2D;
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    mf_attr_set_ints(op, a, "stride", 2, p.stride);
    mf_attr_set_ints(op, a, "padding", 2, p.padding);
    mf_attr_set_ints(op, a, "dilation", 2, p.dilation);
    mf_attr_set_int(op, a, "groups", p.groups);
    const mf_tensor *in[3] = {x, w, bias};
    return call(op, a, bias ? 3 : 2, in, out);
}

mf_status mf_linear(const mf_tensor *x, const mf_tensor *w, const mf_tensor *bias,
                    mf_tensor **out)
{
    const mf_tensor *in[3] = {x, w, bias};
    return call(MF_OP_LINEAR, NULL, bias ? 3 : 2, in, out);
}

mf_status mf_matmul(const mf_tensor *a, const mf_tensor *b, mf_tensor **out)
{
    return binary(MF_OP_MATMUL, a, b, out);
}

mf_status mf_add(const mf_tensor *a, const mf_tensor *b, double alpha, mf_tensor **out)
{
    const mf_tensor *in[2] = {a, b};
    return with_float(MF_OP_ADD, "alpha", alpha, 2, in, out);
}

mf_status mf_sub(const mf_tensor *a, const mf_tensor *b, double alpha, mf_tensor **out)
{
    const mf_tensor *in[2] = {a, b};
    return with_float(MF_OP_SUB, "alpha", alpha, 2, in, out);
}

mf_status mf_mul(const mf_tensor *a, const mf_tensor *b, mf_tensor **out)
{
    return binary(MF_OP_MUL, a, b, out);
}

mf_status mf_div(const mf_tensor *a, const mf_tensor *b, mf_tensor **out)
{
    return binary(MF_OP_DIV, a, b, out);
}

/* a op s with s as a rank-0 tensor of a's dtype on a's device (a trace constant). */
static mf_status with_scalar(mf_op op, const mf_tensor *a, double s, mf_tensor **out)
{
    if (!a || !out)
        return mf_error(MF_ERR_INVALID, "%s: %s is NULL", mf_op_get(op)->name, a ? "out" : "input 0");
    if (a->type.dtype != MF_F32)
        return mf_error(MF_ERR_DTYPE, "%s: scalar operands need an f32 tensor, got %s",
                        mf_op_get(op)->name, mf_dtype_name(a->type.dtype));
    float v = (float)s;
    mf_tensor *host, *scalar;
    mf_status st = mf_tensor_from_data(MF_F32, 0, NULL, &v, sizeof v, &host);
    if (st)
        return st;
    if (a->device.type == MF_CPU) {
        scalar = host;
    } else {
        st = mf_tensor_to(host, a->device, &scalar);
        mf_tensor_free(host);
        if (st)
            return st;
    }
    st = binary(op, a, scalar, out);
    mf_tensor_free(scalar);
    return st;
}

mf_status mf_add_scalar(const mf_tensor *a, double s, mf_tensor **out)
{
    return with_scalar(MF_OP_ADD, a, s, out);
}

mf_status mf_mul_scalar(const mf_tensor *a, double s, mf_tensor **out)
{
    return with_scalar(MF_OP_MUL, a, s, out);
}

mf_status mf_relu(const mf_tensor *x, mf_tensor **out) { return unary(MF_OP_RELU, x, out); }
mf_status mf_sigmoid(const mf_tensor *x, mf_tensor **out) { return unary(MF_OP_SIGMOID, x, out); }
mf_status mf_tanh(const mf_tensor *x, mf_tensor **out) { return unary(MF_OP_TANH, x, out); }
mf_status mf_hardswish(const mf_tensor *x, mf_tensor **out) { return unary(MF_OP_HARDSWISH, x, out); }
mf_status mf_hardsigmoid(const mf_tensor *x, mf_tensor **out) { return unary(MF_OP_HARDSIGMOID, x, out); }
mf_status mf_exp(const mf_tensor *x, mf_tensor **out) { return unary(MF_OP_EXP, x, out); }
mf_status mf_log(const mf_tensor *x, mf_tensor **out) { return unary(MF_OP_LOG, x, out); }
mf_status mf_neg(const mf_tensor *x, mf_tensor **out) { return unary(MF_OP_NEG, x, out); }
mf_status mf_abs(const mf_tensor *x, mf_tensor **out) { return unary(MF_OP_ABS, x, out); }
mf_status mf_sqrt(const mf_tensor *x, mf_tensor **out) { return unary(MF_OP_SQRT, x, out); }

mf_status mf_cast(const mf_tensor *x, mf_dtype to, mf_tensor **out)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CAST, a);
    mf_attr_set_int(MF_OP_CAST, a, "to", (int64_t)to);
    return call(MF_OP_CAST, a, 1, &x, out);
}

mf_status mf_clamp(const mf_tensor *x, double lo, double hi, mf_tensor **out)
{
    mf_op op = MF_OP_CLAMP;
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    mf_attr_set_float(op, a, "min", lo);
    mf_attr_set_float(op, a, "max", hi);
    return call(op, a, 1, &x, out);
}

/* relu6 and hardtanh are clamps; the graph records them as such. */
mf_status mf_relu6(const mf_tensor *x, mf_tensor **out) { return mf_clamp(x, 0, 6, out); }

mf_status mf_hardtanh(const mf_tensor *x, double lo, double hi, mf_tensor **out)
{
    return mf_clamp(x, lo, hi, out);
}

mf_status mf_leaky_relu(const mf_tensor *x, double negative_slope, mf_tensor **out)
{
    return with_float(MF_OP_LEAKY_RELU, "negative_slope", negative_slope, 1, &x, out);
}

/* Pool parameters: a zero stride means "the kernel size", a zero dilation means 1. */
static mf_status pool(mf_op op, const mf_tensor *x, mf_pool2d_params p, mf_tensor **out)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    int64_t stride[2], dil[2];
    for (int i = 0; i < 2; i++) {
        stride[i] = p.stride[i] ? p.stride[i] : p.kernel[i];
        dil[i] = p.dilation[i] ? p.dilation[i] : 1;
    }
    mf_attr_set_ints(op, a, "kernel", 2, p.kernel);
    mf_attr_set_ints(op, a, "stride", 2, stride);
    mf_attr_set_ints(op, a, "padding", 2, p.padding);
    mf_attr_set_int(op, a, "ceil_mode", p.ceil_mode != 0);
    if (op == MF_OP_MAX_POOL2D) {
        mf_attr_set_ints(op, a, "dilation", 2, dil);
    } else {
        if (dil[0] != 1 || dil[1] != 1)
            return mf_error(MF_ERR_INVALID, "avg_pool2d: dilation is not supported");
        mf_attr_set_int(op, a, "count_include_pad", p.count_include_pad != 0);
    }
    return call(op, a, 1, &x, out);
}

mf_status mf_max_pool2d(const mf_tensor *x, mf_pool2d_params p, mf_tensor **out)
{
    return pool(MF_OP_MAX_POOL2D, x, p, out);
}

mf_status mf_avg_pool2d(const mf_tensor *x, mf_pool2d_params p, mf_tensor **out)
{
    return pool(MF_OP_AVG_POOL2D, x, p, out);
}

mf_status mf_adaptive_avg_pool2d(const mf_tensor *x, int64_t out_h, int64_t out_w,
                                 mf_tensor **out)
{
    int64_t size[2] = {out_h, out_w};
    return with_ints(MF_OP_ADAPTIVE_AVG_POOL2D, "output_size", 2, size, x, out);
}

mf_status mf_batch_norm(const mf_tensor *x, const mf_tensor *weight, const mf_tensor *bias,
                        const mf_tensor *mean, const mf_tensor *var, double eps,
                        mf_tensor **out)
{
    const mf_tensor *in[5] = {x, weight, bias, mean, var};
    return with_float(MF_OP_BATCH_NORM, "eps", eps, 5, in, out);
}

mf_status mf_dropout(const mf_tensor *x, double p, mf_tensor **out)
{
    return with_float(MF_OP_DROPOUT, "p", p, 1, &x, out);
}

mf_status mf_flatten(const mf_tensor *x, int start_dim, int end_dim, mf_tensor **out)
{
    mf_op op = MF_OP_FLATTEN;
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    mf_attr_set_int(op, a, "start_dim", start_dim);
    mf_attr_set_int(op, a, "end_dim", end_dim);
    return call(op, a, 1, &x, out);
}

mf_status mf_reshape(const mf_tensor *x, int rank, const int64_t *shape, mf_tensor **out)
{
    if (rank < 0 || rank > MF_MAX_RANK || (rank && !shape))
        return mf_error(MF_ERR_SHAPE, "reshape: rank %d is outside 0..%d or shape is NULL", rank,
                        MF_MAX_RANK);
    return with_ints(MF_OP_RESHAPE, "shape", rank, shape, x, out);
}

mf_status mf_permute(const mf_tensor *x, const int *perm, mf_tensor **out)
{
    if (!x || !perm)
        return mf_error(MF_ERR_INVALID, "permute: %s is NULL", x ? "perm" : "input 0");
    int64_t p[MF_MAX_RANK];
    for (int i = 0; i < x->type.rank; i++)
        p[i] = perm[i];
    return with_ints(MF_OP_PERMUTE, "perm", x->type.rank, p, x, out);
}

mf_status mf_transpose(const mf_tensor *x, int dim0, int dim1, mf_tensor **out)
{
    if (!x)
        return mf_error(MF_ERR_INVALID, "transpose: input 0 is NULL");
    int rank = x->type.rank;
    if (dim0 < 0)
        dim0 += rank;
    if (dim1 < 0)
        dim1 += rank;
    if (dim0 < 0 || dim0 >= rank || dim1 < 0 || dim1 >= rank)
        return mf_error(MF_ERR_INVALID, "transpose: dims %d, %d are out of range for rank %d",
                        dim0, dim1, rank);
    int perm[MF_MAX_RANK];
    for (int i = 0; i < rank; i++)
        perm[i] = i;
    perm[dim0] = dim1;
    perm[dim1] = dim0;
    return mf_permute(x, perm, out);
}

mf_status mf_concat(int n, const mf_tensor *const *xs, int dim, mf_tensor **out)
{
    mf_op op = MF_OP_CONCAT;
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    mf_attr_set_int(op, a, "dim", dim);
    return call(op, a, n, xs, out);
}

mf_status mf_softmax(const mf_tensor *x, int dim, mf_tensor **out)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_SOFTMAX, a);
    mf_attr_set_int(MF_OP_SOFTMAX, a, "dim", dim);
    return call(MF_OP_SOFTMAX, a, 1, &x, out);
}

mf_status mf_log_softmax(const mf_tensor *x, int dim, mf_tensor **out)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_LOG_SOFTMAX, a);
    mf_attr_set_int(MF_OP_LOG_SOFTMAX, a, "dim", dim);
    return call(MF_OP_LOG_SOFTMAX, a, 1, &x, out);
}

static mf_status reduce(mf_op op, const mf_tensor *x, int ndims, const int *dims, int keepdim,
                        mf_tensor **out)
{
    if (ndims < 0 || ndims > MF_MAX_RANK || (ndims && !dims))
        return mf_error(MF_ERR_INVALID, "%s: %d dims (0..%d) or dims is NULL",
                        mf_op_get(op)->name, ndims, MF_MAX_RANK);
    int64_t d[MF_MAX_RANK];
    for (int i = 0; i < ndims; i++)
        d[i] = dims[i];
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    mf_attr_set_ints(op, a, "dims", ndims, d);
    mf_attr_set_int(op, a, "keepdim", keepdim != 0);
    return call(op, a, 1, &x, out);
}

mf_status mf_sum(const mf_tensor *x, int ndims, const int *dims, int keepdim, mf_tensor **out)
{
    return reduce(MF_OP_SUM, x, ndims, dims, keepdim, out);
}

mf_status mf_mean(const mf_tensor *x, int ndims, const int *dims, int keepdim, mf_tensor **out)
{
    return reduce(MF_OP_MEAN, x, ndims, dims, keepdim, out);
}

mf_status mf_upsample_nearest2d(const mf_tensor *x, int64_t scale_h, int64_t scale_w,
                                mf_tensor **out)
{
    int64_t scale[2] = {scale_h, scale_w};
    return with_ints(MF_OP_UPSAMPLE_NEAREST2D, "scale", 2, scale, x, out);
}
