/* rewrite.c — what every rewriting pass does last: values it replaced while walking the
 * nodes are replaced among the graph outputs too, and the nodes it made dead are dropped
 * (with the values only they held). */
#include "passes.h"

void mf_pass_apply(mf_graph *g, mf_value *const *repl, int nrepl, const bool *dead, int count)
{
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i]->id < nrepl && repl[g->outputs[i]->id])
            g->outputs[i] = repl[g->outputs[i]->id];
    if (count)
        mf_graph_remove_nodes(g, dead);
}
