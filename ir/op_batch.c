/* op_batch.c — which ops treat dim 0 as an independent batch axis, and so which graphs
 * compute every slice of their batch on its own: what lets a module answer a new batch
 * size at once by running the plan of another batch size slice after slice
 * (module/module.c, docs/tiers.md).  The op table is built from ops.def's rule column: an
 * op whose shape rule has no batch_<rule> here fails to compile. */
#include <stdlib.h>

#include "ir.h"

typedef mf_batch_role (*batch_rule)(const mf_node *n);

static mf_batch_role batch_none(const mf_node *n)
{
    (void)n;
    return MF_BATCH_NONE;
}

/* Elementwise: each output row from the same row of every batched operand. */
static mf_batch_role batch_all(const mf_node *n)
{
    (void)n;
    return MF_BATCH_ALL;
}

/* One batched operand; the others are weights, scales or biases. */
static mf_batch_role batch_first(const mf_node *n)
{
    (void)n;
    return MF_BATCH_FIRST;
}

/* An op along one `dim`: separable unless that dim is the batch. */
static mf_batch_role batch_along_dim(const mf_node *n)
{
    return mf_dim_of(n->op, n->attrs, n->inputs[0]->type.rank) > 0 ? MF_BATCH_FIRST : MF_BATCH_NONE;
}

#define batch_unary batch_all
#define batch_binary batch_all
#define batch_compare batch_all
#define batch_logical batch_all
#define batch_predicate batch_all
#define batch_numeric_binary batch_all
#define batch_where batch_all
#define batch_cast batch_all
#define batch_identity batch_all
#define batch_quantize batch_all
#define batch_dequantize batch_all
#define batch_qadd batch_all
#define batch_batch_norm batch_first
#define batch_conv2d batch_first
#define batch_conv_transpose2d batch_first
#define batch_qconv2d batch_first
#define batch_linear batch_first
#define batch_qlinear batch_first
#define batch_pool batch_first
#define batch_adaptive_pool batch_first
#define batch_upsample batch_first
#define batch_expand batch_first /* the graph check keeps dim 0 the batch, in and out */
#define batch_tile batch_first
#define batch_flatten batch_first /* in and out keep dim 0 (checked): rows stay whole */
#define batch_reshape batch_first
#define batch_softmax batch_along_dim
#define batch_arg_reduce batch_along_dim
#define batch_cumsum batch_along_dim
#define batch_topk batch_along_dim
#define batch_gather batch_along_dim /* the indices must be constant (a second operand) */
/* The blocked layout keeps dim 0 the batch. */
#define batch_to_blocks batch_first
#define batch_from_blocks batch_first
#define batch_conv2d_blocks batch_first
/* Weight transforms fold the batch into tile counts; indices shaped like the output; a
 * crop's roi may move rows; a user's op says nothing. */
#define batch_winograd_weight batch_none
#define batch_winograd_input batch_none
#define batch_winograd_output batch_none
#define batch_gather_elements batch_none
#define batch_resize batch_none
#define batch_custom batch_none
/* The ONNX index, signal and sequence ops run on the CPU and mix rows (or are not worth
 * proving otherwise): never sliced. */
#define batch_bit_shift batch_all
#define batch_numeric_unary batch_all
#define batch_det batch_none
#define batch_dft batch_none
#define batch_einsum batch_none
#define batch_gather_nd batch_none
#define batch_grid_sample batch_none
#define batch_max_unpool batch_none
#define batch_max_pool_indices batch_none /* flat indices count the batch */
#define batch_conv_transpose3d batch_first
#define batch_conv3d batch_first
#define batch_reverse_sequence batch_none
#define batch_rnn batch_none
#define batch_roi_align batch_none
#define batch_scatter_elements batch_none
#define batch_scatter_nd batch_none

/* A matmul of a batch of rows by a weight, or a batched matmul of two batches. */
static mf_batch_role batch_matmul(const mf_node *n)
{
    int ra = n->inputs[0]->type.rank, rb = n->inputs[1]->type.rank;
    if (ra < 2)
        return MF_BATCH_NONE;
    return ra >= 3 && ra == rb ? MF_BATCH_ALL : MF_BATCH_FIRST;
}
#define batch_qmatmul batch_matmul

static mf_batch_role batch_concat(const mf_node *n)
{
    return mf_dim_of(n->op, n->attrs, n->inputs[0]->type.rank) > 0 ? MF_BATCH_ALL : MF_BATCH_NONE;
}

static mf_batch_role batch_reduce(const mf_node *n)
{
    int rank = n->inputs[0]->type.rank;
    return rank > 0 && !mf_reduce_of(n->op, n->attrs, rank).reduced[0] ? MF_BATCH_FIRST : MF_BATCH_NONE;
}

static mf_batch_role batch_permute(const mf_node *n)
{
    return mf_attr_get(n->op, n->attrs, "perm")->ints[0] == 0 ? MF_BATCH_FIRST : MF_BATCH_NONE;
}

static mf_batch_role batch_slice(const mf_node *n)
{
    int64_t start[MF_MAX_RANK], step[MF_MAX_RANK], count[MF_MAX_RANK];
    const mf_type *x = &n->inputs[0]->type;
    if (mf_op_slice_dims(n->op, n->attrs, x, start, step, count))
        return MF_BATCH_NONE;
    return start[0] == 0 && step[0] == 1 && count[0] == x->shape[0] ? MF_BATCH_FIRST : MF_BATCH_NONE;
}

static mf_batch_role batch_pad(const mf_node *n)
{
    const mf_attr *pads = mf_attr_get(n->op, n->attrs, "pads");
    int rank = n->inputs[0]->type.rank;
    return pads->ints[0] == 0 && pads->ints[rank] == 0 ? MF_BATCH_FIRST : MF_BATCH_NONE;
}

/* Triangles of the last two dims: dim 0 is a batch only above them. */
static mf_batch_role batch_trilu(const mf_node *n)
{
    return n->inputs[0]->type.rank >= 3 ? MF_BATCH_FIRST : MF_BATCH_NONE;
}

static const batch_rule batch_rules[MF_OP_COUNT] = {
#define X(ID, name, min_in, max_in, kind, mlu, rule, schema) [MF_OP_##ID] = batch_##rule,
#include "ops.def"
#undef X
};

mf_batch_role mf_node_batch_role(const mf_node *n)
{
    if (n->op >= MF_OP_COUNT || n->ninputs < 1 || n->noutputs != 1 || n->inputs[0]->type.rank < 1)
        return MF_BATCH_NONE;
    return batch_rules[n->op](n);
}

/* A batched value: rank >= 1 with dim 0 the batch. */
static bool batched(const mf_value *v, int64_t batch)
{
    return v->type.rank >= 1 && v->type.shape[0] == batch;
}

/* Whether node n, whose inputs are marked in varies[] (depends on a graph input), keeps
 * every batch row to itself. */
static bool node_separable(const mf_node *n, const bool *varies, int64_t batch)
{
    mf_batch_role role = mf_node_batch_role(n);
    if (role == MF_BATCH_NONE || !batched(n->outputs[0], batch))
        return false;
    for (int i = 0; i < n->ninputs; i++) {
        const mf_value *v = n->inputs[i];
        if (!varies[v->id])
            continue; /* a constant: broadcast (elementwise) or a weight */
        if (role == MF_BATCH_FIRST && i > 0)
            return false; /* a weight computed from the batch */
        if (!batched(v, batch) || (role == MF_BATCH_ALL && v->type.rank != n->outputs[0]->type.rank))
            return false;
    }
    return varies[n->inputs[0]->id];
}

bool mf_graph_batch_separable(const mf_graph *g, int64_t batch)
{
    if (batch < 1 || g->ninputs < 1)
        return false;
    bool *varies = calloc((size_t)g->nvalues + 1, sizeof *varies);
    if (!varies)
        return false;
    bool ok = true;
    for (int i = 0; i < g->ninputs && ok; i++) {
        varies[g->inputs[i]->id] = true;
        ok = batched(g->inputs[i], batch);
    }
    for (int i = 0; i < g->nnodes && ok; i++) {
        const mf_node *n = g->nodes[i];
        bool any = false;
        for (int k = 0; k < n->ninputs; k++)
            any |= varies[n->inputs[k]->id];
        if (!any)
            continue; /* constant folding's business: no batch flows through it */
        ok = node_separable(n, varies, batch);
        for (int k = 0; k < n->noutputs; k++)
            varies[n->outputs[k]->id] = true;
    }
    for (int i = 0; i < g->noutputs && ok; i++)
        ok = varies[g->outputs[i]->id] && batched(g->outputs[i], batch);
    free(varies);
    return ok;
}
