/* split_k.c — a 1x1 convolution that reads a depthwise conv's output, split over its input
 * channels between the threads a launch runs on (ctx->split_k of them).  The depthwise
 * kernel splits its channels between partitions, so at two threads each core holds half the
 * channels it wrote; a 1x1 conv split by output channels or by pixels then reads the other
 * half from the other core's cache, at 3-4x the cost of its own (docs/benchmarks.md:
 * mobilenet_v2's projections, the first partition of each thread a third slower than its
 * second).  Split by input channels instead, each thread reads what it wrote:
 *
 *     conv2d(x, w[K,C,1,1], b)  ->  sum(reshape(conv2d(x, w'[S*K,C/S,1,1], b'; groups=S),
 *                                               [N,S,K,H,W]), dims=[1])
 *
 * w' stacks the S slices of w's input channels, b' is b then zeros; group s, partitions
 * s*P/S.. of the launch, runs on thread s (the pool's home runs), and a small reduction adds
 * the S partial outputs (the conv's epilogue, a residual add, fuses into it).  Where it
 * applies: batch 1 (the depthwise's partitions then split channels), a constant f32 1x1
 * stride-1 weight of at least MIN_SLICE input channels a thread, the depthwise conv not fused
 * into its expansion (ir/expand_dw.c: those kernels split rows, not channels), through any
 * relu or clamp.  The partial sums add in a different order than one thread's: the result
 * moves within float rounding. */
#include <stdio.h>
#include <string.h>

#include "passes.h"

/* Input channels a thread's slice needs for its GEMM to run at full speed; mobilenet_v2's
 * narrowest projection (144 -> 24) has 72 a thread at two. */
#define MIN_SLICE 32

static bool f32_const(const mf_value *v)
{
    return v->is_const && v->data && v->type.dtype == MF_F32;
}

/* The depthwise conv whose output x is, through relu and clamp; NULL if none. */
static const mf_node *depthwise_source(const mf_value *x)
{
    const mf_node *p = x->producer;
    while (p && (p->op == MF_OP_RELU || p->op == MF_OP_CLAMP) && p->ninputs == 1)
        p = p->inputs[0]->producer;
    if (!p || p->op != MF_OP_CONV2D || p->outputs[0]->type.rank != 4)
        return NULL;
    mf_conv2d_view v = mf_conv2d_of(p->op, p->attrs);
    int64_t c = p->outputs[0]->type.shape[1];
    return v.groups > 1 && v.groups == c && p->inputs[0]->type.shape[1] == c ? p : NULL;
}

bool mf_split_k_applies(const mf_graph *g, const mf_node *n, int parts)
{
    if (parts < 2 || n->op != MF_OP_CONV2D || n->ninputs < 2)
        return false;
    const mf_type *xt = &n->inputs[0]->type, *wt = &n->inputs[1]->type;
    if (xt->dtype != MF_F32 || xt->rank != 4 || xt->shape[0] != 1 || !f32_const(n->inputs[1]))
        return false;
    if (n->ninputs > 2 && (!f32_const(n->inputs[2]) || n->inputs[2]->type.rank != 1))
        return false;
    mf_conv2d_view v = mf_conv2d_of(n->op, n->attrs);
    if (wt->rank != 4 || wt->shape[2] != 1 || wt->shape[3] != 1 || v.groups != 1 || v.stride[0] != 1 ||
        v.stride[1] != 1 || v.padding[0] || v.padding[1] || v.dilation[0] != 1 || v.dilation[1] != 1 ||
        mf_attr_int(n->op, n->attrs, "packed"))
        return false;
    int64_t cin = wt->shape[1];
    if (cin % parts || cin / parts < MIN_SLICE)
        return false;
    const mf_node *dw = depthwise_source(n->inputs[0]);
    mf_expand_dw ch;
    return dw && !(mf_expand_dw_chain(g, dw, &ch) && ch.wide_bytes >= MF_SEG_EXPAND_DW_BYTES);
}

/* "NAME.SUFFIX" for a named value, NULL for an unnamed one. */
static const char *derived(char *buf, size_t cap, const mf_value *v, const char *suffix)
{
    if (!v->name)
        return NULL;
    snprintf(buf, cap, "%s.%s", v->name, suffix);
    return buf;
}

/* w'[s*K + k][j] = w[k][s*C/S + j]; b' = b, then zeros. */
static mf_status sliced_weights(mf_graph *g, const mf_node *n, int parts, mf_value **w2, mf_value **b2)
{
    const mf_value *w = n->inputs[1], *b = n->ninputs > 2 ? n->inputs[2] : NULL;
    int64_t k = w->type.shape[0], cin = w->type.shape[1], slice = cin / parts;
    mf_type wt = {.dtype = MF_F32, .rank = 4, .shape = {parts * k, slice, 1, 1}};
    mf_type bt = {.dtype = MF_F32, .rank = 1, .shape = {parts * k}};
    mf_buffer *wb = mf_buffer_new_host(mf_type_nbytes(&wt)), *bb = mf_buffer_new_host(mf_type_nbytes(&bt));
    mf_status s = MF_OK;
    if (!wb || !bb) {
        s = mf_error(MF_ERR_NOMEM, "split-k: out of memory for node %d's weights", n->id);
        goto out;
    }
    const float *src = w->data->data;
    float *dst = wb->data, *bias = bb->data;
    for (int64_t p = 0; p < parts; p++)
        for (int64_t o = 0; o < k; o++)
            memcpy(dst + (p * k + o) * slice, src + o * cin + p * slice, sizeof(float) * (size_t)slice);
    memset(bias, 0, mf_type_nbytes(&bt));
    if (b)
        memcpy(bias, b->data->data, sizeof(float) * (size_t)k);
    char name[256];
    *w2 = mf_graph_add_const(g, derived(name, sizeof name, w, "split_k"), &wt, wb);
    *b2 = mf_graph_add_const(g, b ? derived(name, sizeof name, b, "split_k") : NULL, &bt, bb);
    if (!*w2 || !*b2)
        s = mf_error(MF_ERR_NOMEM, "split-k: out of memory for node %d's weights", n->id);
out:
    mf_buffer_release(wb);
    mf_buffer_release(bb);
    return s;
}

/* Appends the grouped conv, the reshape and the sum that replace conv n; *out: the sum. */
static mf_status rewrite(mf_graph *g, const mf_node *n, int parts, mf_node **out)
{
    const mf_type *ot = &n->outputs[0]->type;
    int64_t k = ot->shape[1];
    mf_value *w2 = NULL, *b2 = NULL;
    mf_status s = sliced_weights(g, n, parts, &w2, &b2);
    if (s)
        return s;
    mf_attr a[MF_MAX_ATTRS];
    memcpy(a, n->attrs, sizeof a);
    mf_attr_set_int(MF_OP_CONV2D, a, "groups", parts);
    mf_value *ci[3] = {n->inputs[0], w2, b2};
    mf_node *conv, *view;
    if ((s = mf_graph_add_node(g, MF_OP_CONV2D, 3, ci, a, &conv)))
        return s;
    mf_op_default_attrs(MF_OP_RESHAPE, a);
    mf_attr_set_ints(MF_OP_RESHAPE, a, "shape", 5, (int64_t[]){ot->shape[0], parts, k, ot->shape[2], ot->shape[3]});
    if ((s = mf_graph_add_node(g, MF_OP_RESHAPE, 1, conv->outputs, a, &view)))
        return s;
    mf_op_default_attrs(MF_OP_SUM, a);
    mf_attr_set_ints(MF_OP_SUM, a, "dims", 1, (int64_t[]){1});
    if ((s = mf_graph_add_node(g, MF_OP_SUM, 1, view->outputs, a, out)))
        return s;
    (*out)->outputs[0]->name = n->outputs[0]->name;
    return MF_OK;
}

static mf_status expand(mf_graph *g, const mf_node *n, void *ctx, mf_node **out)
{
    *out = NULL;
    const mf_pass_ctx *pc = ctx;
    return mf_split_k_applies(g, n, pc->split_k) ? rewrite(g, n, pc->split_k, out) : MF_OK;
}

mf_status mf_pass_split_k(mf_graph *g, mf_pass_ctx *ctx, int *changes)
{
    *changes = 0;
    return ctx->split_k >= 2 ? mf_pass_expand(g, "split-k", expand, ctx, changes) : MF_OK;
}
