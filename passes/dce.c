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
    int *uses = calloc((size_t)g->nvalues + 1, sizeof(int));
    if (!dead || !uses) {
        free(dead);
        free(uses);
        return mf_error(MF_ERR_NOMEM, "dce: out of memory");
    }
    for (int i = 0; i < g->nnodes; i++)
        if (is_identity(g->nodes[i]))
            mf_graph_replace_uses(g, g->nodes[i]->outputs[0], g->nodes[i]->inputs[0]);
    for (int i = 0; i < g->nnodes; i++)
        for (int k = 0; k < g->nodes[i]->ninputs; k++)
            uses[g->nodes[i]->inputs[k]->id]++;
    for (int i = 0; i < g->noutputs; i++)
        uses[g->outputs[i]->id]++;
    int count = 0;
    for (int i = g->nnodes - 1; i >= 0; i--) { /* reverse order: a dead consumer frees its inputs */
        mf_node *n = g->nodes[i];
        if (uses[n->outputs[0]->id] > 0)
            continue;
        dead[n->id] = true;
        count++;
        for (int k = 0; k < n->ninputs; k++)
            uses[n->inputs[k]->id]--;
    }
    if (count)
        mf_graph_remove_nodes(g, dead);
    free(dead);
    free(uses);
    *removed = count;
    return MF_OK;
}
