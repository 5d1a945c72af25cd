/* onnx_fold.c — the importer's constant folding: Constant nodes, and the static-shape
 * arithmetic exporters emit (Shape, Gather, Unsqueeze, Squeeze, ConstantOfShape, integer
 * Add/Sub/Mul/Div), plus any node whose inputs are all small constants (Cast of a constant
 * among them), computed at import by its reference kernel so that no shape computation
 * reaches the graph. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.h"

/* The data of a constant input as int64 values (i64 or i32 constants). */
mf_status onnx_const_ints(const Onnx__NodeProto *n, const mf_value *v, int64_t *out, int cap,
                            int *count)
{
    if (!v || !v->is_const || !v->data || (v->type.dtype != MF_I64 && v->type.dtype != MF_I32))
        return onnx_node_error(n, MF_ERR_UNSUPPORTED,
                               "a shape-like input must be a constant integer tensor");
    int64_t k = mf_type_numel(&v->type);
    if (k > cap)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "a constant input has %lld entries (at most %d)",
                               (long long)k, cap);
    for (int64_t i = 0; i < k; i++)
        out[i] = v->type.dtype == MF_I64 ? ((const int64_t *)v->data->data)[i]
                                          : ((const int32_t *)v->data->data)[i];
    *count = (int)k;
    return MF_OK;
}


mf_status onnx_define_const(onnx_importer *im, const Onnx__NodeProto *n, const mf_type *t,
                              const void *data)
{
    mf_status s = mf_type_check(t, "onnx: a folded constant", NULL, NULL);
    if (s) /* a shape computed from the file's data (ConstantOfShape, Unsqueeze, ...) */
        return onnx_node_error(n, s, "%s", mf_last_error());
    mf_value *v = onnx_const(im, t, data);
    if (!v)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    return onnx_define(im, n->output[0], v);
}

mf_status onnx_cv_constant(onnx_importer *im, const Onnx__NodeProto *n)
{
    const Onnx__AttributeProto *a = onnx_attr(n, "value");
    if (a && a->t) {
        mf_type t;
        mf_buffer *b;
        mf_status s = onnx_tensor(a->t, &t, &b);
        if (s)
            return s;
        s = onnx_define_const(im, n, &t, b->data);
        mf_buffer_release(b);
        return s;
    }
    if ((a = onnx_attr(n, "value_float")) && a->has_f) {
        mf_type t = {MF_F32, 0, {0}};
        return onnx_define_const(im, n, &t, &a->f);
    }
    if ((a = onnx_attr(n, "value_int")) && a->has_i) {
        mf_type t = {MF_I64, 0, {0}};
        return onnx_define_const(im, n, &t, &a->i);
    }
    if ((a = onnx_attr(n, "value_ints"))) {
        mf_type t = {MF_I64, 1, {(int64_t)a->n_ints}};
        return onnx_define_const(im, n, &t, a->ints);
    }
    return onnx_node_error(n, MF_ERR_UNSUPPORTED, "only tensor, float, int and ints values are supported");
}

mf_status onnx_cv_shape(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (s)
        return s;
    int64_t rank = x->type.rank, start = onnx_attr_int(n, "start", 0), end = onnx_attr_int(n, "end", rank);
    if (start < 0)
        start += rank;
    if (end < 0)
        end += rank;
    start = start < 0 ? 0 : start > rank ? rank : start;
    end = end < start ? start : end > rank ? rank : end;
    mf_type t = {MF_I64, 1, {end - start}};
    return onnx_define_const(im, n, &t, x->type.shape + start);
}

/* Size: the element count of the input's static shape, an i64 scalar constant. */
mf_status onnx_cv_size(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (s)
        return s;
    int64_t numel = mf_type_numel(&x->type);
    mf_type t = {MF_I64, 0, {0}};
    return onnx_define_const(im, n, &t, &numel);
}

/* The value of a constant i64/i32 input as int64, with its type. */
static mf_status const_input_ints(onnx_importer *im, const Onnx__NodeProto *n, size_t i,
                                  int64_t *vals, int cap, mf_type *t)
{
    mf_value *v;
    int k;
    mf_status s = onnx_input(im, n, i, &v);
    if (!s && !v)
        s = onnx_node_error(n, MF_ERR_PARSE, "input %zu is missing", i);
    if (!s)
        s = onnx_const_ints(n, v, vals, cap, &k);
    if (!s)
        *t = v->type;
    return s;
}


/* Gather on constants along axis 0 or a 1-D gather (the static-shape pattern). */
mf_status onnx_cv_gather(onnx_importer *im, const Onnx__NodeProto *n)
{
    int64_t data[ONNX_FOLD_CAP], idx[ONNX_FOLD_CAP], out[ONNX_FOLD_CAP];
    mf_type dt, it;
    mf_status s = const_input_ints(im, n, 0, data, ONNX_FOLD_CAP, &dt);
    if (!s)
        s = const_input_ints(im, n, 1, idx, ONNX_FOLD_CAP, &it);
    if (s)
        return s;
    if (dt.rank != 1 || onnx_attr_int(n, "axis", 0) != 0)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "only 1-D constant data on axis 0 is folded");
    int64_t m = mf_type_numel(&it);
    for (int64_t i = 0; i < m; i++) {
        int64_t j = idx[i] < 0 ? idx[i] + dt.shape[0] : idx[i];
        if (j < 0 || j >= dt.shape[0])
            return onnx_node_error(n, MF_ERR_INVALID, "index %lld is out of range", (long long)idx[i]);
        out[i] = data[j];
    }
    mf_type t = it;
    t.dtype = MF_I64;
    return onnx_define_const(im, n, &t, out);
}

/* Unsqueeze/Squeeze: a reshape to the new shape; of a small integer constant (shape
 * arithmetic), the constant with that shape. */
static mf_status squeeze_const(onnx_importer *im, const Onnx__NodeProto *n, bool un)
{
    int64_t data[ONNX_FOLD_CAP], axes[MF_MAX_RANK];
    mf_type t, at;
    int k = 0;
    mf_value *x;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (s)
        return s;
    bool fold = onnx_small_const(x) && (x->type.dtype == MF_I64 || x->type.dtype == MF_I32);
    if (fold)
        s = const_input_ints(im, n, 0, data, ONNX_FOLD_CAP, &t);
    else
        t = x->type;
    if (s)
        return s;
    if (n->n_input > 1 && n->input[1][0]) {
        if ((s = const_input_ints(im, n, 1, axes, MF_MAX_RANK, &at)))
            return s; /* at is not set: its numel must not be read */
        k = (int)mf_type_numel(&at);
    } else {
        k = onnx_attr_ints(n, "axes", axes, MF_MAX_RANK);
    }
    if (un && k < 0)
        return onnx_node_error(n, MF_ERR_INVALID, "Unsqueeze needs axes");
    mf_type o = {MF_I64, 0, {0}};
    int out_rank = un ? t.rank + k : t.rank;
    bool mark[MF_MAX_RANK * 2] = {0};
    for (int i = 0; i < k; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + (un ? out_rank : t.rank) : axes[i];
        if (a < 0 || a >= (un ? out_rank : t.rank) || out_rank > MF_MAX_RANK || mark[a])
            return onnx_node_error(n, MF_ERR_INVALID, "axis %lld is out of range or repeated",
                                   (long long)axes[i]);
        if (!un && t.shape[a] != 1)
            return onnx_node_error(n, MF_ERR_INVALID, "axis %lld has size %lld, not 1", (long long)axes[i],
                                   (long long)t.shape[a]);
        mark[a] = true;
    }
    for (int i = 0, j = 0; i < (un ? out_rank : t.rank); i++) {
        if (un)
            o.shape[o.rank++] = mark[i] ? 1 : t.shape[j++];
        else if (!(mark[i] || (k <= 0 && t.shape[i] == 1)))
            o.shape[o.rank++] = t.shape[i];
    }
    if (mf_type_numel(&o) != mf_type_numel(&t))
        return onnx_node_error(n, MF_ERR_INVALID, "the new shape does not hold the data");
    if (!fold && x->is_const && x->data && mf_type_numel(&t) <= ONNX_FOLD_LIMIT) {
        o.dtype = x->type.dtype; /* the same bytes in the new shape, as a constant */
        return onnx_define_const(im, n, &o, x->data->data);
    }
    if (!fold) {
        mf_attr a[MF_MAX_ATTRS];
        mf_node *node;
        mf_op_default_attrs(MF_OP_RESHAPE, a);
        mf_attr_set_ints(MF_OP_RESHAPE, a, "shape", o.rank, o.shape);
        if ((s = mf_graph_add_node(im->g, MF_OP_RESHAPE, 1, &x, a, &node)))
            return onnx_node_error(n, s, "%s", mf_last_error());
        return onnx_define(im, n->output[0], node->outputs[0]);
    }
    return onnx_define_const(im, n, &o, data);
}

mf_status onnx_cv_unsqueeze(onnx_importer *im, const Onnx__NodeProto *n)
{
    return squeeze_const(im, n, true);
}

mf_status onnx_cv_squeeze(onnx_importer *im, const Onnx__NodeProto *n)
{
    return squeeze_const(im, n, false);
}

/* Element i of constant data of dtype dt, as a double (for folding small constants). */
double onnx_get_elem(const void *data, mf_dtype dt, int64_t i)
{
    return mf_scalar_double(mf_scalar_load(data, dt, i));
}

void onnx_set_elem(void *data, mf_dtype dt, int64_t i, double v)
{
    mf_scalar_store(data, dt, i, (mf_scalar){true, v, 0});
}

bool onnx_small_const(const mf_value *v)
{
    return v && v->is_const && v->data && mf_type_numel(&v->type) <= ONNX_FOLD_CAP;
}

mf_status onnx_cv_constant_of_shape(onnx_importer *im, const Onnx__NodeProto *n)
{
    int64_t shape[MF_MAX_RANK];
    mf_type st, t = {MF_F32, 0, {0}};
    mf_status s = const_input_ints(im, n, 0, shape, MF_MAX_RANK, &st);
    if (s)
        return s;
    t.rank = (int)mf_type_numel(&st);
    double value = 0;
    const Onnx__AttributeProto *a = onnx_attr(n, "value");
    if (a && a->t) {
        mf_type vt;
        mf_buffer *b;
        if ((s = onnx_tensor(a->t, &vt, &b)))
            return s;
        t.dtype = vt.dtype;
        value = mf_type_numel(&vt) ? onnx_get_elem(b->data, vt.dtype, 0) : 0;
        mf_buffer_release(b);
    }
    for (int i = 0; i < t.rank; i++)
        t.shape[i] = shape[i];
    if ((s = mf_type_check(&t, "ConstantOfShape", NULL, NULL))) /* [-1] wrapped to 4 bytes */
        return onnx_node_error(n, s, "%s", mf_last_error());
    if (mf_type_numel(&t) > ONNX_FOLD_LIMIT) { /* a big one: the value expanded in the graph */
        mf_value *v, *y;
        mf_attr ea[MF_MAX_ATTRS];
        mf_op_default_attrs(MF_OP_EXPAND, ea);
        mf_attr_set_ints(MF_OP_EXPAND, ea, "shape", t.rank, t.shape);
        if ((s = onnx_scalar(im, t.dtype, value, &v)) || (s = onnx_add(im, n, MF_OP_EXPAND, 1, &v, ea, &y)))
            return s;
        return onnx_define(im, n->output[0], y);
    }
    unsigned char *out = malloc(mf_type_nbytes(&t) + 8);
    if (!out)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    for (int64_t i = 0; i < mf_type_numel(&t); i++)
        onnx_set_elem(out, t.dtype, i, value);
    s = onnx_define_const(im, n, &t, out);
    free(out);
    return s;
}

/* Integer Add/Sub/Mul/Div of constants, same shape or one side a single element; the
 * reference kernels take f32 only, and shape arithmetic is integer. */
static mf_status fold_int_binary(onnx_importer *im, const Onnx__NodeProto *n, mf_op op,
                                 mf_value *const *in, bool *folded)
{
    int64_t na = mf_type_numel(&in[0]->type), nb = mf_type_numel(&in[1]->type);
    if (in[0]->type.dtype != in[1]->type.dtype || na == 0 || nb == 0 ||
        (!mf_type_equal(&in[0]->type, &in[1]->type) && na != 1 && nb != 1))
        return MF_OK; /* broadcasting other than from one element is left to the graph */
    const mf_type *t = na >= nb ? &in[0]->type : &in[1]->type;
    unsigned char *out = malloc(mf_type_nbytes(t) + 8);
    if (!out)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    for (int64_t i = 0; i < mf_type_numel(t); i++) {
        double a = onnx_get_elem(in[0]->data->data, t->dtype, na == 1 ? 0 : i);
        double b = onnx_get_elem(in[1]->data->data, t->dtype, nb == 1 ? 0 : i);
        double r = op == MF_OP_ADD ? a + b : op == MF_OP_SUB ? a - b : op == MF_OP_MUL ? a * b
                                                                                   : (b ? trunc(a / b) : 0);
        onnx_set_elem(out, t->dtype, i, r);
    }
    *folded = true;
    mf_status s = onnx_define_const(im, n, t, out);
    free(out);
    return s;
}

/* Integer Neg and Abs of a constant (axis arithmetic: LayerNormalization's expansion). */
static mf_status fold_int_unary(onnx_importer *im, const Onnx__NodeProto *n, mf_op op, const mf_value *x,
                                bool *folded)
{
    const mf_type *t = &x->type;
    unsigned char *out = malloc(mf_type_nbytes(t) + 8);
    if (!out)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    for (int64_t i = 0; i < mf_type_numel(t); i++) {
        double v = onnx_get_elem(x->data->data, t->dtype, i);
        onnx_set_elem(out, t->dtype, i, op == MF_OP_NEG ? -v : fabs(v));
    }
    *folded = true;
    mf_status s = onnx_define_const(im, n, t, out);
    free(out);
    return s;
}

mf_status onnx_fold(onnx_importer *im, const Onnx__NodeProto *n, mf_op op, int nin,
                    mf_value *const *in, const mf_attr *attrs, bool *folded)
{
    *folded = false;
    for (int i = 0; i < nin; i++)
        if (!in[i]->is_const || !in[i]->data || mf_type_numel(&in[i]->type) > ONNX_FOLD_LIMIT)
            return MF_OK;
    if (nin == 2 && !mf_dtype_is_float(in[0]->type.dtype) &&
        (op == MF_OP_ADD || op == MF_OP_SUB || op == MF_OP_MUL || op == MF_OP_DIV))
        return fold_int_binary(im, n, op, in, folded);
    if (nin == 1 && !mf_dtype_is_float(in[0]->type.dtype) && (op == MF_OP_NEG || op == MF_OP_ABS))
        return fold_int_unary(im, n, op, in[0], folded);
    mf_type types[64], ot;
    const void *data[64];
    if (nin > 64)
        return MF_OK;
    for (int i = 0; i < nin; i++) {
        types[i] = in[i]->type;
        data[i] = in[i]->data->data;
    }
    mf_attr a[MF_MAX_ATTRS];
    if (attrs)
        memcpy(a, attrs, sizeof a);
    else
        mf_op_default_attrs(op, a);
    if (mf_op_infer(op, a, nin, types, &ot) || mf_type_numel(&ot) > ONNX_FOLD_LIMIT)
        return MF_OK; /* not folded: adding the node reports the error */
    mf_buffer *b = mf_buffer_new_host(mf_type_nbytes(&ot));
    if (!b)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    mf_ref_call call = {op, a, nin, data, types, b->data, &ot, 0, 1};
    mf_status s = mf_rt_ref_kernel(op)(&call);
    if (!s) {
        *folded = true;
        s = onnx_define_const(im, n, &ot, b->data);
    }
    mf_buffer_release(b);
    return s;
}
