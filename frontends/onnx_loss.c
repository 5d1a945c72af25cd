/* onnx_loss.c — NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (opset 12 on) as the
 * ops they are made of: deterministic, they run at inference like any other node.  The loss
 * of one element is -input[n, target, d...] times the target's weight (1 without weights; 0
 * where target is ignore_index); reduction none keeps it per element, sum adds it up, mean
 * divides that sum by the sum of the weights (the count when there are none). */
#include <string.h>

#include "onnx.h"

typedef enum { REDUCE_NONE, REDUCE_SUM, REDUCE_MEAN } loss_reduction;

static mf_status reduction_of(const Onnx__NodeProto *n, loss_reduction *out)
{
    char buf[16];
    const char *r = onnx_attr_str(n, "reduction", "mean", buf, sizeof buf);
    if (!strcmp(r, "none"))
        *out = REDUCE_NONE;
    else if (!strcmp(r, "sum"))
        *out = REDUCE_SUM;
    else if (!strcmp(r, "mean"))
        *out = REDUCE_MEAN;
    else
        return onnx_node_error(n, MF_ERR_INVALID, "reduction '%s' (none, sum and mean are)", r);
    return MF_OK;
}

/* A scalar constant of dtype dt holding v. */
static mf_status scalar(onnx_importer *im, mf_dtype dt, double v, mf_value **out)
{
    mf_type t = {dt, 0, {0}};
    unsigned char data[16] = {0};
    onnx_set_elem(data, dt, 0, v);
    *out = onnx_const(im, &t, data);
    return *out ? MF_OK : mf_error(MF_ERR_NOMEM, "onnx: out of memory");
}

static mf_status reshape(onnx_importer *im, const Onnx__NodeProto *n, mf_value *x, int rank, const int64_t *shape,
                         mf_value **out)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_RESHAPE, a);
    mf_attr_set_ints(MF_OP_RESHAPE, a, "shape", rank, shape);
    return onnx_add(im, n, MF_OP_RESHAPE, 1, &x, a, out);
}

/* op over every dim (sum or mean), a scalar. */
static mf_status reduce_all(onnx_importer *im, const Onnx__NodeProto *n, mf_op op, mf_value *x, mf_value **out)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    mf_attr_set_int(op, a, "keepdim", 0);
    return onnx_add(im, n, op, 1, &x, a, out);
}

/* -x[n, t, d...] per element of t [N, d...] (x is [N, C, d...]). */
static mf_status picked(onnx_importer *im, const Onnx__NodeProto *n, mf_value *x, mf_value *t, mf_value **out)
{
    int64_t shape[MF_MAX_RANK];
    int r = x->type.rank;
    shape[0] = x->type.shape[0];
    shape[1] = 1;
    for (int i = 2; i < r; i++)
        shape[i] = x->type.shape[i];
    mf_attr g[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_GATHER_ELEMENTS, g);
    mf_attr_set_int(MF_OP_GATHER_ELEMENTS, g, "dim", 1);
    mf_value *tu, *p, *flat;
    mf_status s;
    if ((s = reshape(im, n, t, r, shape, &tu)) ||
        (s = onnx_add(im, n, MF_OP_GATHER_ELEMENTS, 2, (mf_value *[]){x, tu}, g, &p)) ||
        (s = reshape(im, n, p, t->type.rank, t->type.shape, &flat)))
        return s;
    return onnx_add(im, n, MF_OP_NEG, 1, &flat, NULL, out);
}

/* The loss of log-probabilities x [N, C, d...] against targets t [N, d...] with optional
 * class weights w [C]. */
static mf_status nll(onnx_importer *im, const Onnx__NodeProto *n, mf_value *x, mf_value *t, mf_value *w,
                     mf_value **out)
{
    loss_reduction red = REDUCE_MEAN;
    mf_status s = reduction_of(n, &red);
    if (s)
        return s;
    if (x->type.rank < 2 || t->type.rank != x->type.rank - 1)
        return onnx_node_error(n, MF_ERR_SHAPE, "the input has rank %d and the target %d, expected [N, C, d...] and [N, d...]",
                               x->type.rank, t->type.rank);
    if (t->type.dtype != MF_I64 && t->type.dtype != MF_I32)
        return onnx_node_error(n, MF_ERR_DTYPE, "the target is %s, expected i32 or i64", mf_dtype_name(t->type.dtype));
    if (w && (w->type.rank != 1 || w->type.shape[0] != x->type.shape[1] || w->type.dtype != x->type.dtype))
        return onnx_node_error(n, MF_ERR_SHAPE, "the weight must be [C] of the input's dtype");
    mf_value *valid = NULL, *wt = NULL, *loss, *k;
    bool ignores = onnx_attr(n, "ignore_index") != NULL;
    if (ignores) { /* an ignored target picks class 0, with weight 0 */
        mf_value *eq, *zero;
        if ((s = scalar(im, t->type.dtype, (double)onnx_attr_int(n, "ignore_index", 0), &k)) ||
            (s = onnx_add(im, n, MF_OP_EQUAL, 2, (mf_value *[]){t, k}, NULL, &eq)) ||
            (s = onnx_add(im, n, MF_OP_LOGICAL_NOT, 1, &eq, NULL, &valid)) ||
            (s = scalar(im, t->type.dtype, 0, &zero)) ||
            (s = onnx_add(im, n, MF_OP_WHERE, 3, (mf_value *[]){valid, t, zero}, NULL, &t)))
            return s;
    }
    if ((s = picked(im, n, x, t, &loss)))
        return s;
    if (w && (s = onnx_add(im, n, MF_OP_GATHER, 2, (mf_value *[]){w, t}, NULL, &wt)))
        return s;
    if (ignores && wt) {
        mf_value *zero;
        if ((s = scalar(im, x->type.dtype, 0, &zero)) ||
            (s = onnx_add(im, n, MF_OP_WHERE, 3, (mf_value *[]){valid, wt, zero}, NULL, &wt)))
            return s;
    } else if (ignores) {
        mf_attr c[MF_MAX_ATTRS];
        mf_op_default_attrs(MF_OP_CAST, c);
        mf_attr_set_int(MF_OP_CAST, c, "to", (int64_t)x->type.dtype);
        if ((s = onnx_add(im, n, MF_OP_CAST, 1, &valid, c, &wt)))
            return s;
    }
    if (wt && (s = onnx_add(im, n, MF_OP_MUL, 2, (mf_value *[]){loss, wt}, NULL, &loss)))
        return s;
    if (red == REDUCE_NONE) {
        *out = loss;
        return MF_OK;
    }
    if (red == REDUCE_MEAN && !wt)
        return reduce_all(im, n, MF_OP_MEAN, loss, out);
    if ((s = reduce_all(im, n, MF_OP_SUM, loss, &loss)) || red == REDUCE_SUM) {
        *out = loss;
        return s;
    }
    mf_value *wsum;
    if ((s = reduce_all(im, n, MF_OP_SUM, wt, &wsum)))
        return s;
    return onnx_add(im, n, MF_OP_DIV, 2, (mf_value *[]){loss, wsum}, NULL, out);
}

/* The inputs (input or scores, target, optional weight). */
static mf_status loss_inputs(onnx_importer *im, const Onnx__NodeProto *n, mf_value **in)
{
    mf_status s = onnx_inputs(im, n, 2, in);
    in[2] = NULL;
    return s ? s : onnx_input(im, n, 2, &in[2]);
}

mf_status onnx_cv_nll_loss(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *in[3], *loss;
    mf_status s = loss_inputs(im, n, in);
    if (!s)
        s = nll(im, n, in[0], in[1], in[2], &loss);
    return s ? s : onnx_define(im, n->output[0], loss);
}

/* SoftmaxCrossEntropyLoss: the loss of log_softmax over the classes (dim 1), which is the
 * optional second output. */
mf_status onnx_cv_softmax_cross_entropy_loss(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *in[3], *logp, *loss;
    mf_status s = loss_inputs(im, n, in);
    if (s)
        return s;
    if (in[0]->type.rank < 2)
        return onnx_node_error(n, MF_ERR_SHAPE, "the scores have rank %d, expected [N, C, d...]", in[0]->type.rank);
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_LOG_SOFTMAX, a);
    mf_attr_set_int(MF_OP_LOG_SOFTMAX, a, "dim", 1);
    if ((s = onnx_add(im, n, MF_OP_LOG_SOFTMAX, 1, &in[0], a, &logp)) ||
        (s = nll(im, n, logp, in[1], in[2], &loss)) || (s = onnx_define(im, n->output[0], loss)))
        return s;
    return n->n_output > 1 && n->output[1][0] ? onnx_define(im, n->output[1], logp) : MF_OK;
}
