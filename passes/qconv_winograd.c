/* qconv_winograd.c — int8 3x3 convolutions as f32 Winograd where the target's int8 products
 * are slower: without 8-bit dot products (VNNI) direct int8 convolution issues two
 * multiplies per 32 products, and f32 F(4,3) does a quarter of the multiplications
 * (ctx->qconv_prefers_winograd asks the code generator).  A qconv2d whose f32 twin the
 * winograd pass takes becomes
 *     quantize(clamp(conv2d(dequantize(x), w * w_scale, b), min, max))
 * the convolution the reference computes in int32 and scales (x_scale * w_scale per
 * channel, plus b), in f32 instead, then the same requantization: codes differ only where
 * f32 rounding moves a value across a rounding boundary (within the 2 % of int8 ops).  The
 * tensors between layers stay int8: fusion puts the dequantize in its producer's epilogue
 * and the clamp and quantize in the output transform's.  The winograd pass right after
 * rewrites the conv2d; with ctx->winograd off this pass does nothing. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "passes.h"

static bool has_data(const mf_value *v)
{
    return v->is_const && v->data;
}

static bool applies(const mf_node *n)
{
    if (n->op != MF_OP_QCONV2D || mf_attr_int(n->op, n->attrs, "acc"))
        return false;
    if (!has_data(n->inputs[1]) || !has_data(n->inputs[2]))
        return false;
    mf_conv2d_view v = mf_conv2d_of(n->op, n->attrs);
    return mf_winograd_fits(&n->inputs[1]->type, &n->outputs[0]->type, &v);
}

/* The real weights w * w_scale (per output channel, or one scale), named "W.f32". */
static mf_value *real_weights(mf_graph *g, const mf_value *w, const mf_value *scale)
{
    mf_type t = w->type;
    t.dtype = MF_F32;
    int64_t co = t.shape[0], per = mf_type_numel(&t) / co;
    mf_buffer *b = mf_buffer_new_host(mf_type_nbytes(&t));
    if (!b)
        return NULL;
    const int8_t *q = w->data->data;
    const float *s = scale->data->data;
    float *o = b->data;
    for (int64_t k = 0; k < co; k++)
        for (int64_t j = 0; j < per; j++)
            o[k * per + j] = (float)q[k * per + j] * s[scale->type.shape[0] == 1 ? 0 : k];
    char name[256];
    if (w->name)
        snprintf(name, sizeof name, "%s.f32", w->name);
    mf_value *v = mf_graph_add_const(g, w->name ? name : NULL, &t, b);
    mf_buffer_release(b);
    return v;
}

static mf_status rewrite(mf_graph *g, const mf_node *n, mf_node **out)
{
    mf_op q = n->op;
    mf_attr a[MF_MAX_ATTRS];
    mf_node *dq, *conv, *y;
    mf_value *x = n->inputs[0];
    mf_op_default_attrs(MF_OP_DEQUANTIZE, a);
    mf_attr_set_float(MF_OP_DEQUANTIZE, a, "scale", mf_attr_float(q, n->attrs, "x_scale"));
    mf_attr_set_int(MF_OP_DEQUANTIZE, a, "zero_point", mf_attr_int(q, n->attrs, "x_zero_point"));
    mf_status s = mf_graph_add_node(g, MF_OP_DEQUANTIZE, 1, &x, a, &dq);
    if (s)
        return s;
    mf_value *in[3] = {dq->outputs[0], real_weights(g, n->inputs[1], n->inputs[2]),
                       n->ninputs > 3 ? n->inputs[3] : NULL};
    if (!in[1])
        return mf_error(MF_ERR_NOMEM, "qconv-winograd: out of memory for the real weights");
    mf_conv2d_view v = mf_conv2d_of(q, n->attrs);
    mf_op_default_attrs(MF_OP_CONV2D, a);
    mf_attr_set_ints(MF_OP_CONV2D, a, "stride", 2, v.stride);
    mf_attr_set_ints(MF_OP_CONV2D, a, "padding", 2, v.padding);
    mf_attr_set_ints(MF_OP_CONV2D, a, "dilation", 2, v.dilation);
    mf_attr_set_int(MF_OP_CONV2D, a, "groups", v.groups);
    if ((s = mf_graph_add_node(g, MF_OP_CONV2D, n->ninputs > 3 ? 3 : 2, in, a, &conv)))
        return s;
    y = conv;
    double lo = mf_attr_float(q, n->attrs, "min"), hi = mf_attr_float(q, n->attrs, "max");
    if (lo > -INFINITY || hi < INFINITY) { /* a fused relu or relu6, in real units */
        mf_op_default_attrs(MF_OP_CLAMP, a);
        mf_attr_set_float(MF_OP_CLAMP, a, "min", lo);
        mf_attr_set_float(MF_OP_CLAMP, a, "max", hi);
        if ((s = mf_graph_add_node(g, MF_OP_CLAMP, 1, &conv->outputs[0], a, &y)))
            return s;
    }
    mf_op_default_attrs(MF_OP_QUANTIZE, a);
    mf_attr_set_float(MF_OP_QUANTIZE, a, "scale", mf_attr_float(q, n->attrs, "y_scale"));
    mf_attr_set_int(MF_OP_QUANTIZE, a, "zero_point", mf_attr_int(q, n->attrs, "y_zero_point"));
    if ((s = mf_graph_add_node(g, MF_OP_QUANTIZE, 1, &y->outputs[0], a, out)))
        return s;
    (*out)->outputs[0]->name = n->outputs[0]->name;
    return MF_OK;
}

static mf_status expand(mf_graph *g, const mf_node *n, void *arg, mf_node **out)
{
    (void)arg;
    *out = NULL;
    return applies(n) ? rewrite(g, n, out) : MF_OK;
}

mf_status mf_pass_qconv_winograd(mf_graph *g, mf_pass_ctx *ctx, int *changes)
{
    *changes = 0;
    if (!ctx->winograd || !ctx->qconv_prefers_winograd)
        return MF_OK;
    int count = 0;
    for (int i = 0; i < g->nnodes; i++)
        count += applies(g->nodes[i]);
    if (!count || !ctx->qconv_prefers_winograd(ctx->target_ctx)) /* the target asked only when needed */
        return MF_OK;
    return mf_pass_expand(g, "qconv-winograd", expand, NULL, changes);
}
