/* rewrite.c — the bookkeeping of rewriting passes, which walk the nodes in order keeping
 * repl (by value id: what users of a replaced value read instead): each node's inputs are
 * redirected when the walk reaches it, so rewrites cascade in one pass; at the end the
 * graph outputs follow repl too, and the nodes made dead are dropped (with the values only
 * they held). */
#include "passes.h"

void mf_pass_redirect(mf_node *n, mf_value *const *repl, int nrepl)
{
    for (int j = 0; j < n->ninputs; j++)
        if (n->inputs[j]->id < nrepl && repl[n->inputs[j]->id])
            n->inputs[j] = repl[n->inputs[j]->id];
}

void mf_pass_apply(mf_graph *g, mf_value *const *repl, int nrepl, const bool *dead, int count)
{
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i]->id < nrepl && repl[g->outputs[i]->id])
            g->outputs[i] = repl[g->outputs[i]->id];
    if (count)
        mf_graph_remove_nodes(g, dead);
}
