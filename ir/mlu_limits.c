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

const char *mf_node_mlu_limit(const mf_node *n)
{
    if (n->op == MF_OP_MATMUL)
        return matmul_limit(n);
    if (mf_op_get(n->op)->kind == MF_KIND_REDUCTION && n->ninputs &&
        mf_type_numel(&n->inputs[0]->type) == 0 && mf_type_numel(&n->outputs[0]->type) != 0)
        return "a reduction of an empty tensor into a non-empty one";
    return NULL;
}

bool mf_op_takes_epilogue(mf_op op)
{
    return op != MF_OP_WINOGRAD_INPUT; /* its output is a layout the GEMM reads, not pixels */
}
