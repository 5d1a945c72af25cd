/* pack_weights.c — conv2d weights prepacked once, at compile time, into the layout the
 * kernel that will run the conv reads (blocks of output channels, mf_conv_weights_pack):
 * a conv whose weight is a constant with data gets a new constant "NAME.packed" and its
 * `packed` attribute says the block.  Which convs and which block is the target's
 * business (ctx->conv_weight_block, supplied by the module from the code generator); a
 * conv the target's kernels read plain is left alone.  The packed constant is what the
 * plan uploads, so no run repacks. */
#include <stdio.h>

#include "passes.h"

/* "NAME.packed" for a named value, NULL for an unnamed one. */
static const char *packed_name(char *buf, size_t cap, const mf_value *v)
{
    if (!v || !v->name)
        return NULL;
    snprintf(buf, cap, "%s.packed", v->name);
    return buf;
}

static mf_status pack_node(mf_graph *g, mf_node *n, int64_t block)
{
    const mf_value *w = n->inputs[1];
    int64_t cout = w->type.shape[0], per = cout ? mf_type_numel(&w->type) / cout : 0;
    mf_buffer *b = mf_buffer_new_host(mf_type_nbytes(&w->type));
    if (!b)
        return mf_error(MF_ERR_NOMEM, "pack-weights: out of memory packing node %d (conv2d)", n->id);
    mf_conv_weights_pack(w->data->data, b->data, cout, per, block);
    char name[256];
    mf_value *pw = mf_graph_add_const(g, packed_name(name, sizeof name, w), &w->type, b);
    mf_buffer_release(b); /* the constant holds its own reference */
    if (!pw)
        return mf_error(MF_ERR_NOMEM, "pack-weights: out of memory packing node %d (conv2d)", n->id);
    n->inputs[1] = pw; /* the old weight may have other users: it stays for them (dce) */
    return mf_attr_set_int(MF_OP_CONV2D, n->attrs, "packed", block);
}

mf_status mf_pass_pack_weights(mf_graph *g, mf_pass_ctx *ctx, int *changes)
{
    *changes = 0;
    if (!ctx->conv_weight_block)
        return MF_OK;
    int nnodes = g->nnodes;
    for (int i = 0; i < nnodes; i++) {
        mf_node *n = g->nodes[i];
        if (n->op != MF_OP_CONV2D || mf_conv2d_of(n->op, n->attrs).packed)
            continue;
        const mf_value *w = n->inputs[1];
        if (!w->is_const || !w->data || w->type.dtype != MF_F32 || w->type.shape[0] == 0)
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
