/* pack_weights.c — conv2d weights prepacked once, at compile time, into the layout the
 * kernel that will run the conv reads (blocks of output channels, mf_conv_weights_pack;
 * qconv2d's int8 weights in quads of 4 bytes, mf_qconv_weights_pack; before that, where the
 * target asks, qconv2d's rows taps first, mf_qconv_weights_taps_first):
 * a conv whose weight is a constant with data gets a new constant "NAME.packed" and its
 * `packed` attribute says the block.  A matmul whose left operand is such a constant (the
 * Winograd GEMMs' transformed weights) likewise, each of its [M, K] matrices packed as the
 * weights of M channels.  Which convs and which block is the target's
 * business (ctx->conv_weight_block, supplied by the module from the code generator); a
 * conv the target's kernels read plain is left alone.  The packed constant is what the
 * plan uploads, so no run repacks. */
#include <stdio.h>

#include "passes.h"

/* A new constant "NAME.SUFFIX" of w's type holding b (NULL when out of memory). */
static mf_value *replacement(mf_graph *g, const mf_value *w, const char *suffix, mf_buffer *b)
{
    char name[256];
    if (w->name)
        snprintf(name, sizeof name, "%s.%s", w->name, suffix);
    mf_value *v = mf_graph_add_const(g, w->name ? name : NULL, &w->type, b);
    mf_buffer_release(b); /* the constant holds its own reference */
    return v;
}

/* qconv2d n's weight rows taps first.  Its pairs of weights change: a w_pair_max promise is
 * restated for the new rows (the target asking for this order does not rely on it). */
static mf_status put_taps_first(mf_graph *g, mf_node *n)
{
    const mf_value *w = n->inputs[1];
    int64_t cout = w->type.shape[0], cin_g = w->type.shape[1], taps = w->type.shape[2] * w->type.shape[3];
    mf_buffer *b = mf_buffer_new_host(mf_type_nbytes(&w->type));
    if (!b)
        return mf_error(MF_ERR_NOMEM, "pack-weights: out of memory reordering node %d (qconv2d)", n->id);
    mf_qconv_weights_taps_first(w->data->data, b->data, cout, cin_g, taps);
    int64_t pairs = mf_attr_int(n->op, n->attrs, "w_pair_max");
    if (pairs < 256) {
        int64_t m = mf_qconv_pair_max(b->data, cout, cin_g * taps, 256, NULL);
        pairs = m > pairs ? m : pairs;
    }
    mf_value *tw = replacement(g, w, "taps", b);
    if (!tw)
        return mf_error(MF_ERR_NOMEM, "pack-weights: out of memory reordering node %d (qconv2d)", n->id);
    n->inputs[1] = tw; /* the old weight may have other users: it stays for them (dce) */
    mf_status s = mf_attr_set_int(n->op, n->attrs, "w_pair_max", pairs);
    return s ? s : mf_attr_set_int(n->op, n->attrs, "taps_first", 1);
}

/* Whether qconv2d n has constant weights in ONNX's order that the target reads taps first. */
static bool wants_taps_first(const mf_node *n, mf_pass_ctx *ctx)
{
    if (n->op != MF_OP_QCONV2D || !ctx->qconv_taps_first)
        return false;
    mf_conv2d_view v = mf_conv2d_of(n->op, n->attrs);
    const mf_value *w = n->inputs[1];
    return !v.taps_first && !v.packed && w->is_const && w->data && w->type.dtype == MF_I8 &&
           mf_type_numel(&w->type) > 0 && ctx->qconv_taps_first(n, ctx->target_ctx);
}

/* The weight operand of n: conv2d's weight, matmul's left operand. */
static int weight_input(const mf_node *n)
{
    return n->op == MF_OP_MATMUL ? 0 : 1;
}

static mf_status pack_node(mf_graph *g, mf_node *n, int64_t block)
{
    int wi = weight_input(n);
    const mf_value *w = n->inputs[wi];
    const char *op = mf_op_get(n->op)->name;
    /* conv2d: one matrix of cout rows; matmul: every [M, K] matrix of the batch */
    int64_t cout = w->type.shape[n->op == MF_OP_MATMUL ? w->type.rank - 2 : 0];
    int64_t per = n->op == MF_OP_MATMUL ? w->type.shape[w->type.rank - 1] : mf_type_numel(&w->type) / cout;
    int64_t nmat = mf_type_numel(&w->type) / (cout * per);
    mf_buffer *b = mf_buffer_new_host(mf_type_nbytes(&w->type));
    if (!b)
        return mf_error(MF_ERR_NOMEM, "pack-weights: out of memory packing node %d (%s)", n->id, op);
    if (n->op == MF_OP_QCONV2D)
        mf_qconv_weights_pack(w->data->data, b->data, cout, per, block);
    else
        for (int64_t i = 0; i < nmat; i++)
            mf_conv_weights_pack((const float *)w->data->data + i * cout * per, (float *)b->data + i * cout * per,
                                 cout, per, block);
    mf_value *pw = replacement(g, w, "packed", b);
    if (!pw)
        return mf_error(MF_ERR_NOMEM, "pack-weights: out of memory packing node %d (%s)", n->id, op);
    n->inputs[wi] = pw; /* the old weight may have other users: it stays for them (dce) */
    return mf_attr_set_int(n->op, n->attrs, "packed", block);
}

mf_status mf_pass_pack_weights(mf_graph *g, mf_pass_ctx *ctx, int *changes)
{
    *changes = 0;
    if (!ctx->conv_weight_block)
        return MF_OK;
    int nnodes = g->nnodes;
    for (int i = 0; i < nnodes; i++) {
        mf_node *n = g->nodes[i];
        if (wants_taps_first(n, ctx)) {
            mf_status s = put_taps_first(g, n);
            if (s)
                return s;
            ++*changes;
        }
        bool conv = n->op == MF_OP_CONV2D || n->op == MF_OP_QCONV2D;
        if (conv ? mf_conv2d_of(n->op, n->attrs).packed : n->op != MF_OP_MATMUL || mf_matmul_packed(n->attrs))
            continue;
        const mf_value *w = n->inputs[weight_input(n)];
        if (!w->is_const || !w->data || w->type.dtype != (n->op == MF_OP_QCONV2D ? MF_I8 : MF_F32) ||
            mf_type_numel(&w->type) == 0 ||
            (n->op == MF_OP_MATMUL && w->type.rank < 2))
            continue;
        int64_t block = ctx->conv_weight_block(n, ctx->target_ctx);
        if (block <= 0)
            continue;
        mf_status s = pack_node(g, n, block);
        if (s)
            return s;
        ++*changes;
    }
    return MF_OK;
}
