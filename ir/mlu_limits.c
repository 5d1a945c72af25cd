/* mlu_limits.c — the shapes of a node that MLU code (codegen/) cannot build although its op
 * and dtypes have device code, as a query on the node that needs no LLVM.  Segmentation
 * (passes/segment.c) asks it before a node joins a subgraph, so such a node runs on the
 * CPU from the start; codegen asks the same before it lowers a subgraph, so the two never
 * disagree and nothing after segmentation has to undo a subgraph. */
#include "ir.h"

static const char *matmul_limit(const mf_node *n)
{
    const mf_type *a = &n->inputs[0]->type, *b = &n->inputs[1]->type;
    if (a->rank < 2 || b->rank < 2)
        return "a 1-D operand";
    if (mf_type_numel(&n->outputs[0]->type) != 0 && a->shape[a->rank - 1] == 0)
        return "K = 0 (an empty sum)";
    return NULL;
}

/* The blocked conv's kernels unroll a row's chunks and a window's taps (the blocked-layout
 * pass makes rows of at most 28 pixels and windows of at most 5x5). */
#define BLOCKS_MAX_ROW 64
#define BLOCKS_MAX_TAPS 25

static const char *conv2d_blocks_limit(const mf_node *n)
{
    const mf_type *w = &n->inputs[1]->type;
    if (n->outputs[0]->type.shape[3] > BLOCKS_MAX_ROW)
        return "an output row of more than 64 pixels";
    if (w->rank == 4 && w->shape[1] * w->shape[2] > BLOCKS_MAX_TAPS)
        return "a window of more than 25 taps";
    return NULL;
}

const char *mf_node_mlu_limit(const mf_node *n)
{
    if (n->op == MF_OP_MATMUL)
        return matmul_limit(n);
    if (n->op == MF_OP_CONV2D_BLOCKS)
        return conv2d_blocks_limit(n);
    if (mf_op_get(n->op)->kind == MF_KIND_REDUCTION && n->ninputs &&
        mf_type_numel(&n->inputs[0]->type) == 0 && mf_type_numel(&n->outputs[0]->type) != 0)
        return "a reduction of an empty tensor into a non-empty one";
    return NULL;
}

bool mf_op_takes_epilogue(mf_op op)
{
    /* their outputs are layouts that the next kernel reads, written by a loop of their own */
    return op != MF_OP_WINOGRAD_INPUT && op != MF_OP_TO_BLOCKS && op != MF_OP_FROM_BLOCKS;
}
