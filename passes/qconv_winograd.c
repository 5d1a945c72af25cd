/* qconv_winograd.c — int8 3x3 convolutions as f32 Winograd where the target's int8 products
 * are slower (no VNNI: ctx->qconv_prefers_winograd): qconv2d(x, w, s, b) becomes
 * quantize(clamp(conv2d(dequantize(x), w * s, b), min, max)), the reference's scaled int32
 * sums in f32, for the winograd pass right after (docs/quantization.md, "int8 3x3 layers as
 * f32 Winograd").  ctx->qconv_winograd forces it either way; off with ctx->winograd. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "passes.h"

static bool has_data(const mf_value *v)
{
    return v->is_const && v->data;
}

static bool applies(const mf_node *n, int level)
{
    if (n->op != MF_OP_QCONV2D || mf_attr_int(n->op, n->attrs, "acc"))
        return false;
    mf_conv2d_view v = mf_conv2d_of(n->op, n->attrs);
    if (v.packed || v.taps_first) /* packed weights: the target's int8 engine took it already */
        return false;
    if (!has_data(n->inputs[1]) || !has_data(n->inputs[2]))
        return false;
    return mf_winograd_fits(&n->inputs[1]->type, &n->outputs[0]->type, &v, level);
}

/* What the rewrites share, by value id below nvalues: one dequantize of an input and one
 * real copy of a weight (with its first scales), however many convs read them (cse ran
 * before this pass). */
typedef struct shared {
    int nvalues;
    mf_node **dequantized; /* by x's id */
    mf_value **real;       /* by w's id, with the scales of real_scales */
    const mf_value **real_scales;
    int level; /* the winograd pass's (mf_winograd_fits) */
} shared;

/* The real weights w * w_scale (per output channel, or one scale), named "W.f32". */
static mf_value *real_weights(mf_graph *g, shared *sh, const mf_value *w, const mf_value *scale)
{
    if (w->id < sh->nvalues && sh->real[w->id] && sh->real_scales[w->id] == scale)
        return sh->real[w->id];
    mf_type t = w->type;
    t.dtype = MF_F32;
    int64_t co = t.shape[0], per = mf_type_numel(&t) / co;
    mf_buffer *b = mf_buffer_new_host(mf_type_nbytes(&t));
    if (!b)
        return NULL;
    const int8_t *q = w->data->data;
    const float *s = scale->data->data;
    float *o = b->data;
    for (int64_t k = 0; k < co; k++) {
        float sk = s[scale->type.shape[0] == 1 ? 0 : k];
        for (int64_t j = 0; j < per; j++)
            o[k * per + j] = (float)q[k * per + j] * sk;
    }
    char name[256];
    if (w->name)
        snprintf(name, sizeof name, "%s.f32", w->name);
    mf_value *v = mf_graph_add_const(g, w->name ? name : NULL, &t, b);
    mf_buffer_release(b);
    if (v && w->id < sh->nvalues && !sh->real[w->id]) /* the first scales keep the slot */
        sh->real[w->id] = v, sh->real_scales[w->id] = scale;
    return v;
}

/* dequantize(x) with n's x_scale and x_zero_point, made once per x and parameters. */
static mf_status dequantized(mf_graph *g, shared *sh, const mf_node *n, mf_value **out)
{
    mf_value *x = n->inputs[0];
    double scale = mf_attr_float(n->op, n->attrs, "x_scale");
    int64_t zp = mf_attr_int(n->op, n->attrs, "x_zero_point");
    mf_node *d = x->id < sh->nvalues ? sh->dequantized[x->id] : NULL;
    if (!d || mf_attr_float(d->op, d->attrs, "scale") != scale || mf_attr_int(d->op, d->attrs, "zero_point") != zp) {
        mf_attr a[MF_MAX_ATTRS];
        mf_op_default_attrs(MF_OP_DEQUANTIZE, a);
        mf_attr_set_float(MF_OP_DEQUANTIZE, a, "scale", scale);
        mf_attr_set_int(MF_OP_DEQUANTIZE, a, "zero_point", zp);
        mf_status s = mf_graph_add_node(g, MF_OP_DEQUANTIZE, 1, &x, a, &d);
        if (s)
            return s;
        if (x->id < sh->nvalues)
            sh->dequantized[x->id] = d;
    }
    *out = d->outputs[0];
    return MF_OK;
}

static mf_status rewrite(mf_graph *g, shared *sh, const mf_node *n, mf_node **out)
{
    mf_op q = n->op;
    mf_attr a[MF_MAX_ATTRS];
    mf_node *conv, *y;
    mf_value *in[3] = {NULL, real_weights(g, sh, n->inputs[1], n->inputs[2]), n->ninputs > 3 ? n->inputs[3] : NULL};
    if (!in[1])
        return mf_error(MF_ERR_NOMEM, "out of memory for the real weights");
    mf_status s = dequantized(g, sh, n, &in[0]);
    if (s)
        return s;
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
    *out = NULL;
    return applies(n, ((const shared *)arg)->level) ? rewrite(g, arg, n, out) : MF_OK;
}

mf_status mf_pass_qconv_winograd(mf_graph *g, mf_pass_ctx *ctx, int *changes)
{
    *changes = 0;
    if (!ctx->winograd || ctx->qconv_winograd == 0 || (ctx->qconv_winograd < 0 && !ctx->qconv_prefers_winograd))
        return MF_OK;
    int count = 0;
    for (int i = 0; i < g->nnodes; i++)
        count += applies(g->nodes[i], ctx->winograd);
    /* the target asked only when it decides and there is something to decide */
    if (!count || (ctx->qconv_winograd < 0 && !ctx->qconv_prefers_winograd(ctx->target_ctx)))
        return MF_OK;
    shared sh = {g->nvalues, calloc((size_t)g->nvalues + 1, sizeof *sh.dequantized),
                 calloc((size_t)g->nvalues + 1, sizeof *sh.real), calloc((size_t)g->nvalues + 1, sizeof *sh.real_scales), ctx->winograd};
    mf_status s = sh.dequantized && sh.real && sh.real_scales
                      ? mf_pass_expand(g, "qconv-winograd", expand, &sh, changes)
                      : mf_error(MF_ERR_NOMEM, "qconv-winograd: out of memory");
    free(sh.dequantized);
    free(sh.real);
    free(sh.real_scales);
    return s;
}
