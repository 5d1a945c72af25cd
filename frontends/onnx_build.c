/* onnx_build.c — the small vocabulary the importer's compositions are written in: one op
 * as a new value, a reshape, a permute, a cast, a scalar constant.  An ONNX op that is an
 * exact composition of mlufuse ops (onnx_compose.c, onnx_norm.c, onnx_qdq.c) reads as
 * its algorithm with these. */
#include <string.h>

#include "onnx.h"

mf_status onnx_add(onnx_importer *im, const Onnx__NodeProto *n, mf_op op, int nin, mf_value *const *in,
                   const mf_attr *attrs, mf_value **out)
{
    mf_node *node;
    mf_status s = mf_graph_add_node(im->g, op, nin, in, attrs, &node);
    if (s) {
        char inner[1024];
        snprintf(inner, sizeof inner, "%s", mf_last_error());
        return onnx_node_error(n, s, "%s", inner);
    }
    *out = node->outputs[0];
    return MF_OK;
}

mf_status onnx_add2(onnx_importer *im, const Onnx__NodeProto *n, mf_op op, mf_value *a, mf_value *b,
                    mf_value **out)
{
    mf_value *in[2] = {a, b};
    return onnx_add(im, n, op, 2, in, NULL, out);
}

/* An op whose one ints attribute `name` is vals[0..k). */
static mf_status add_with_ints(onnx_importer *im, const Onnx__NodeProto *n, mf_op op, const char *name,
                               mf_value *x, int k, const int64_t *vals, mf_value **out)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    if (mf_attr_set_ints(op, a, name, k, vals))
        return onnx_node_error(n, MF_ERR_INVALID, "%s", mf_last_error());
    return onnx_add(im, n, op, 1, &x, a, out);
}

mf_status onnx_reshape(onnx_importer *im, const Onnx__NodeProto *n, mf_value *x, int rank,
                       const int64_t *shape, mf_value **out)
{
    return add_with_ints(im, n, MF_OP_RESHAPE, "shape", x, rank, shape, out);
}

mf_status onnx_permute(onnx_importer *im, const Onnx__NodeProto *n, mf_value *x, int rank,
                       const int64_t *perm, mf_value **out)
{
    return add_with_ints(im, n, MF_OP_PERMUTE, "perm", x, rank, perm, out);
}

mf_status onnx_slice_axis(onnx_importer *im, const Onnx__NodeProto *n, mf_value *x, int64_t axis,
                          int64_t start, int64_t end, mf_value **out)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_SLICE, a);
    mf_attr_set_ints(MF_OP_SLICE, a, "starts", 1, &start);
    mf_attr_set_ints(MF_OP_SLICE, a, "ends", 1, &end);
    mf_attr_set_ints(MF_OP_SLICE, a, "axes", 1, &axis);
    return onnx_add(im, n, MF_OP_SLICE, 1, &x, a, out);
}

mf_status onnx_cast(onnx_importer *im, const Onnx__NodeProto *n, mf_value *x, mf_dtype to, mf_value **out)
{
    if (x->type.dtype == to) {
        *out = x;
        return MF_OK;
    }
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CAST, a);
    mf_attr_set_int(MF_OP_CAST, a, "to", (int64_t)to);
    return onnx_add(im, n, MF_OP_CAST, 1, &x, a, out);
}

mf_status onnx_scalar(onnx_importer *im, mf_dtype dt, double v, mf_value **out)
{
    mf_type t = {dt, 0, {0}};
    unsigned char data[8];
    onnx_set_elem(data, dt, 0, v);
    *out = onnx_const(im, &t, data);
    return *out ? MF_OK : mf_error(MF_ERR_NOMEM, "onnx: out of memory");
}

/* (x - mean) / sqrt(var + eps) over dims, each reduced dim kept: the chain LayerNormalization
 * and InstanceNormalization share (mean, x - mean, the mean of its square, 1 / sqrt(var +
 * epsilon), times), so that it fuses.  mean and inv (1 / sqrt(var + eps)) may be NULL. */
mf_status onnx_normalize(onnx_importer *im, const Onnx__NodeProto *n, mf_value *x, int nd, const int64_t *dims,
                         float eps, mf_value **y, mf_value **mean_out, mf_value **inv_out)
{
    mf_attr red[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_MEAN, red);
    mf_attr_set_ints(MF_OP_MEAN, red, "dims", nd, dims);
    mf_attr_set_int(MF_OP_MEAN, red, "keepdim", 1);
    mf_value *veps, *vone, *mean, *d, *sq, *var, *ve, *sd, *inv;
    mf_status s;
    if ((s = onnx_scalar(im, MF_F32, eps, &veps)) || (s = onnx_scalar(im, MF_F32, 1.0, &vone)) ||
        (s = onnx_add(im, n, MF_OP_MEAN, 1, &x, red, &mean)) || (s = onnx_add2(im, n, MF_OP_SUB, x, mean, &d)) ||
        (s = onnx_add2(im, n, MF_OP_MUL, d, d, &sq)) || (s = onnx_add(im, n, MF_OP_MEAN, 1, &sq, red, &var)) ||
        (s = onnx_add2(im, n, MF_OP_ADD, var, veps, &ve)) || (s = onnx_add(im, n, MF_OP_SQRT, 1, &ve, NULL, &sd)) ||
        (s = onnx_add2(im, n, MF_OP_DIV, vone, sd, &inv)) || (s = onnx_add2(im, n, MF_OP_MUL, d, inv, y)))
        return s;
    if (mean_out)
        *mean_out = mean;
    if (inv_out)
        *inv_out = inv;
    return MF_OK;
}

mf_status onnx_scalar_input(onnx_importer *im, const Onnx__NodeProto *n, size_t i, int64_t dflt, int64_t *out)
{
    mf_value *v;
    int64_t vals[1];
    int k;
    mf_status s = onnx_input(im, n, i, &v);
    *out = dflt;
    if (s || !v)
        return s;
    if ((s = onnx_const_ints(n, v, vals, 1, &k)))
        return s;
    if (k != 1)
        return onnx_node_error(n, MF_ERR_SHAPE, "input %zu has %d elements, expected 1", i, k);
    *out = vals[0];
    return MF_OK;
}

/* Defines output i of n as v when the node names it (an omitted optional output is ""). */
mf_status onnx_define_output(onnx_importer *im, const Onnx__NodeProto *n, size_t i, mf_value *v)
{
    return i < n->n_output && n->output[i][0] ? onnx_define(im, n->output[i], v) : MF_OK;
}
