/* op_cost.c — the arithmetic work of one op, for the profiler's GFLOP/s and roofline
 * columns.  Anchors count 2 FLOPs per multiply-accumulate (bias and epilogues excluded),
 * as ../shared/bench/flops.py counts models, so a model's total is comparable with the
 * published figures (resnet18: 3.63 GFLOP).  Other ops count one FLOP per element they
 * compute (pooling: per window element); views and layout ops count none. */
#include "ir.h"

static double numel(const mf_type *t)
{
    return (double)mf_type_numel(t);
}

/* The product of w's dims from `from` on: the MACs one output element takes. */
static double tail_product(const mf_type *w, int from)
{
    double p = 1;
    for (int i = from; i < w->rank; i++)
        p *= (double)w->shape[i];
    return p;
}

static double anchor_macs(mf_op op, int nin, const mf_type *in, const mf_type *out)
{
    if (nin < 2)
        return 0;
    switch (op) {
    case MF_OP_CONV2D: /* w [Cout, Cin/groups, kh, kw]: one window per output element */
    case MF_OP_QCONV2D:
        return numel(out) * tail_product(&in[1], 1);
    case MF_OP_CONV2D_BLOCKS: /* w [Cout/B, Cin, B] or [C/B, kh, kw, B]: a window an element */
        return in[1].rank == 3 ? numel(out) * (double)in[1].shape[1]
                               : numel(out) * (double)in[1].shape[1] * (double)in[1].shape[2];
    case MF_OP_CONV_TRANSPOSE2D: /* w [Cin, Cout/groups, kh, kw]: scattered per input element */
        return numel(&in[0]) * tail_product(&in[1], 1);
    case MF_OP_LINEAR: /* x [..., K] · w[N, K]ᵀ */
    case MF_OP_MATMUL:
    case MF_OP_QLINEAR:
    case MF_OP_QMATMUL:
        return in[0].rank ? numel(out) * (double)in[0].shape[in[0].rank - 1] : numel(out);
    default:
        return 0;
    }
}

static double pool_window(mf_op op, const mf_attr *attrs, const mf_type *in, const mf_type *out)
{
    if (op == MF_OP_ADAPTIVE_AVG_POOL2D)
        return numel(in);
    const mf_attr *k = mf_attr_get(op, attrs, "kernel");
    double w = 1;
    for (int i = 0; k && i < k->n; i++)
        w *= (double)k->ints[i];
    return numel(out) * w;
}

double mf_op_flops(mf_op op, const mf_attr *attrs, int nin, const mf_type *in, const mf_type *out)
{
    switch (mf_op_get(op)->kind) {
    case MF_KIND_ANCHOR: return 2 * anchor_macs(op, nin, in, out);
    case MF_KIND_ELEMENTWISE: return op == MF_OP_CAST ? 0 : numel(out);
    case MF_KIND_REDUCTION:
        if (op == MF_OP_MAX_POOL2D || op == MF_OP_AVG_POOL2D || op == MF_OP_ADAPTIVE_AVG_POOL2D)
            return pool_window(op, attrs, &in[0], out);
        return nin ? numel(&in[0]) : 0;
    case MF_KIND_VIEW:
    case MF_KIND_LAYOUT: return 0;
    }
    return 0;
}

double mf_node_flops(const mf_node *n)
{
    mf_type in[64];
    int nin = n->ninputs < 64 ? n->ninputs : 64;
    for (int i = 0; i < nin; i++)
        in[i] = n->inputs[i]->type;
    return mf_op_flops(n->op, n->attrs, nin, in, &n->outputs[0]->type);
}
