/* dce.c — dead-op elimination: nodes whose results nothing uses (transitively) are
 * removed, and inference identities (dropout, a reshape or flatten to the shape it already
 * has) are bypassed, so no kernel is compiled for work whose result would be thrown away. */
#include <stdlib.h>

#include "passes.h"

static bool is_identity(const mf_node *n)
{
    if (n->op == MF_OP_DROPOUT)
        return true; /* inference */
    return (n->op == MF_OP_RESHAPE || n->op == MF_OP_FLATTEN) &&
           mf_type_equal(&n->inputs[0]->type, &n->outputs[0]->type);
}

mf_status mf_pass_dce(mf_graph *g, mf_pass_ctx *ctx, int *removed)
{
    (void)ctx;
    bool *dead = calloc((size_t)g->nnodes + 1, 1);
    if (!dead)
        return mf_error(MF_ERR_NOMEM, "dce: out of memory");
    for (int i = 0; i < g->nnodes; i++)
        if (is_identity(g->nodes[i]))
            mf_graph_replace_uses(g, g->nodes[i]->outputs[0], g->nodes[i]->inputs[0]);
    int count = 0;
    mf_status s = mf_graph_mark_dead(g, dead, &count);
    if (!s && count)
        mf_graph_remove_nodes(g, dead);
    free(dead);
    *removed = count;
    return s;
}
