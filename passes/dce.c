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
    /* every identity's output read as its input, in one walk (a graph scan an identity was
     * quadratic: 16k dropouts took a second); in topological order an identity's input is
     * already resolved when it is seen */
    mf_value **to = calloc((size_t)g->nvalues + 1, sizeof *to);
    if (!to) {
        free(dead);
        return mf_error(MF_ERR_NOMEM, "dce: out of memory");
    }
    for (int i = 0; i < g->nnodes; i++) {
        mf_node *n = g->nodes[i];
        for (int j = 0; j < n->ninputs; j++)
            if (to[n->inputs[j]->id])
                n->inputs[j] = to[n->inputs[j]->id];
        if (is_identity(n))
            to[n->outputs[0]->id] = n->inputs[0];
    }
    for (int i = 0; i < g->noutputs; i++)
        if (to[g->outputs[i]->id])
            g->outputs[i] = to[g->outputs[i]->id];
    free(to);
    int count = 0;
    mf_status s = mf_graph_mark_dead(g, dead, &count);
    if (!s && count)
        mf_graph_remove_nodes(g, dead);
    free(dead);
    *removed = count;
    return s;
}
