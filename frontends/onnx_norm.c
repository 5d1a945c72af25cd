/* onnx_norm.c — ONNX's normalizations other than LayerNormalization, as the mlufuse ops
 * they are made of, so that they fuse: InstanceNormalization (the normalize chain of
 * onnx_build.c over the spatial dims), LRN (a windowed mean of squares across channels,
 * as a pad and an average pool), MeanVarianceNormalization (its function body) and
 * BatchNormalization's training mode (the batch's statistics). */
#include "onnx.h"

/* A per-channel [C] parameter shaped [C, 1, ...] to broadcast against x [N, C, ...]. */
static mf_status per_channel(onnx_importer *im, const Onnx__NodeProto *n, mf_value *p, int rank, mf_value **out)
{
    int64_t shape[MF_MAX_RANK];
    shape[0] = mf_type_numel(&p->type);
    for (int i = 1; i < rank - 1; i++)
        shape[i] = 1;
    return onnx_reshape(im, n, p, rank - 1, shape, out);
}

mf_status onnx_cv_instance_norm(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *in[3];
    mf_status s = onnx_inputs(im, n, 3, in);
    if (s)
        return s;
    int rank = in[0]->type.rank;
    if (rank < 3)
        return onnx_node_error(n, MF_ERR_SHAPE, "the input has rank %d, expected at least 3", rank);
    int64_t dims[MF_MAX_RANK];
    for (int d = 2; d < rank; d++)
        dims[d - 2] = d;
    mf_value *y, *scale, *bias;
    if ((s = onnx_normalize(im, n, in[0], rank - 2, dims, onnx_attr_float(n, "epsilon", 1e-5f), &y, NULL, NULL)) ||
        (s = per_channel(im, n, in[1], rank, &scale)) || (s = per_channel(im, n, in[2], rank, &bias)) ||
        (s = onnx_add2(im, n, MF_OP_MUL, y, scale, &y)) || (s = onnx_add2(im, n, MF_OP_ADD, y, bias, &y)))
        return s;
    return onnx_define(im, n->output[0], y);
}

/* LRN: y = x / (bias + alpha * mean)^beta, mean the average of x^2 over the `size` channels
 * from c - floor((size-1)/2) to c + ceil((size-1)/2) (zeros outside): x^2 as [N, 1, C, rest],
 * zero-padded on C, through an average pool of [size, 1]. */
mf_status onnx_cv_lrn(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (s)
        return s;
    int64_t size = onnx_attr_int(n, "size", 0), rest = 1;
    const mf_type *t = &x->type;
    if (t->rank < 2 || size < 1 || size > 4096)
        return onnx_node_error(n, MF_ERR_INVALID, "size %lld or the input's rank %d is out of range",
                               (long long)size, t->rank);
    for (int d = 2; d < t->rank; d++)
        rest *= t->shape[d];
    int64_t r4[4] = {t->shape[0], 1, t->shape[1], rest}, pads[8] = {0, 0, (size - 1) / 2, 0, 0, 0, size / 2, 0};
    mf_attr pa[MF_MAX_ATTRS], pool[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_PAD, pa);
    mf_attr_set_ints(MF_OP_PAD, pa, "pads", 8, pads);
    mf_op_default_attrs(MF_OP_AVG_POOL2D, pool);
    mf_attr_set_ints(MF_OP_AVG_POOL2D, pool, "kernel", 2, (int64_t[2]){size, 1});
    mf_attr_set_ints(MF_OP_AVG_POOL2D, pool, "stride", 2, (int64_t[2]){1, 1});
    mf_value *sq, *r, *p, *m, *mb, *va, *vb, *vbeta, *scaled, *base, *den, *y;
    if ((s = onnx_add2(im, n, MF_OP_MUL, x, x, &sq)) || (s = onnx_reshape(im, n, sq, 4, r4, &r)) ||
        (s = onnx_add(im, n, MF_OP_PAD, 1, &r, pa, &p)) || (s = onnx_add(im, n, MF_OP_AVG_POOL2D, 1, &p, pool, &m)) ||
        (s = onnx_reshape(im, n, m, t->rank, t->shape, &mb)) ||
        (s = onnx_scalar(im, MF_F32, onnx_attr_float(n, "alpha", 1e-4f), &va)) ||
        (s = onnx_scalar(im, MF_F32, onnx_attr_float(n, "bias", 1.0f), &vb)) ||
        (s = onnx_scalar(im, MF_F32, onnx_attr_float(n, "beta", 0.75f), &vbeta)) ||
        (s = onnx_add2(im, n, MF_OP_MUL, mb, va, &scaled)) || (s = onnx_add2(im, n, MF_OP_ADD, scaled, vb, &base)) ||
        (s = onnx_add2(im, n, MF_OP_POW, base, vbeta, &den)) || (s = onnx_add2(im, n, MF_OP_DIV, x, den, &y)))
        return s;
    return onnx_define(im, n->output[0], y);
}

/* MeanVarianceNormalization: its function body, (x - E[x]) / (sqrt(E[x^2] - E[x]^2) + 1e-9)
 * over `axes` (default N, H, W). */
mf_status onnx_cv_mvn(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (s)
        return s;
    int64_t axes[MF_MAX_RANK] = {0, 2, 3};
    int k = onnx_attr_ints(n, "axes", axes, MF_MAX_RANK);
    mf_attr red[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_MEAN, red);
    if (mf_attr_set_ints(MF_OP_MEAN, red, "dims", k < 0 ? 3 : k, axes))
        return onnx_node_error(n, MF_ERR_INVALID, "%s", mf_last_error());
    mf_attr_set_int(MF_OP_MEAN, red, "keepdim", 1);
    mf_value *eps, *m, *m2, *sq, *ex2, *var, *sd, *d, *den, *y;
    if ((s = onnx_scalar(im, MF_F32, 1e-9, &eps)) || (s = onnx_add(im, n, MF_OP_MEAN, 1, &x, red, &m)) ||
        (s = onnx_add2(im, n, MF_OP_MUL, m, m, &m2)) || (s = onnx_add2(im, n, MF_OP_MUL, x, x, &sq)) ||
        (s = onnx_add(im, n, MF_OP_MEAN, 1, &sq, red, &ex2)) || (s = onnx_add2(im, n, MF_OP_SUB, ex2, m2, &var)) ||
        (s = onnx_add(im, n, MF_OP_SQRT, 1, &var, NULL, &sd)) || (s = onnx_add2(im, n, MF_OP_SUB, x, m, &d)) ||
        (s = onnx_add2(im, n, MF_OP_ADD, sd, eps, &den)) || (s = onnx_add2(im, n, MF_OP_DIV, d, den, &y)))
        return s;
    return onnx_define(im, n->output[0], y);
}

/* BatchNormalization with training_mode = 1 (opset 14 on): x normalized by the batch's own
 * statistics over every dim but the channels (the biased variance, as the spec's reference),
 * and the running statistics updated: running = input * momentum + batch * (1 - momentum). */
mf_status onnx_cv_batchnorm_training(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *in[5];
    mf_status s = onnx_inputs(im, n, 5, in);
    if (s)
        return s;
    int rank = in[0]->type.rank, nd = 0;
    if (rank < 2)
        return onnx_node_error(n, MF_ERR_SHAPE, "the input has rank %d, expected at least 2", rank);
    int64_t dims[MF_MAX_RANK], channels = in[0]->type.shape[1];
    for (int d = 0; d < rank; d++)
        if (d != 1)
            dims[nd++] = d;
    float momentum = onnx_attr_float(n, "momentum", 0.9f);
    mf_attr red[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_MEAN, red);
    mf_attr_set_ints(MF_OP_MEAN, red, "dims", nd, dims);
    mf_attr_set_int(MF_OP_MEAN, red, "keepdim", 1);
    mf_value *y, *mean, *scale, *bias, *d, *sq, *var, *keep, *fresh, *stat[2];
    if ((s = onnx_normalize(im, n, in[0], nd, dims, onnx_attr_float(n, "epsilon", 1e-5f), &y, &mean,
                            NULL)) ||
        (s = per_channel(im, n, in[1], rank, &scale)) ||
        (s = per_channel(im, n, in[2], rank, &bias)) ||
        (s = onnx_add2(im, n, MF_OP_MUL, y, scale, &y)) ||
        (s = onnx_add2(im, n, MF_OP_ADD, y, bias, &y)) ||
        (s = onnx_add2(im, n, MF_OP_SUB, in[0], mean, &d)) ||
        (s = onnx_add2(im, n, MF_OP_MUL, d, d, &sq)) ||
        (s = onnx_add(im, n, MF_OP_MEAN, 1, &sq, red, &var)) ||
        (s = onnx_reshape(im, n, mean, 1, &channels, &stat[0])) ||
        (s = onnx_reshape(im, n, var, 1, &channels, &stat[1])) ||
        (s = onnx_scalar(im, MF_F32, momentum, &keep)) ||
        (s = onnx_scalar(im, MF_F32, 1.0 - momentum, &fresh)) ||
        (s = onnx_define(im, n->output[0], y)))
        return s;
    for (int k = 0; k < 2 && !s; k++) {
        mf_value *old, *add, *running;
        if (!(s = onnx_add2(im, n, MF_OP_MUL, in[3 + k], keep, &old)) &&
            !(s = onnx_add2(im, n, MF_OP_MUL, stat[k], fresh, &add)) &&
            !(s = onnx_add2(im, n, MF_OP_ADD, old, add, &running)))
            s = onnx_define_output(im, n, 1 + (size_t)k, running);
    }
    return s;
}
