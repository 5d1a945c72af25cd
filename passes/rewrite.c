/* rewrite.c — the bookkeeping of rewriting passes.  Passes that replace values walk the
 * nodes in order keeping repl (by value id: what users of a replaced value read instead):
 * each node's inputs are redirected when the walk reaches it, so rewrites cascade in one
 * pass; at the end the graph outputs follow repl too, and the nodes made dead are dropped
 * (with the values only they held).  Passes that expand a node into several (winograd,
 * qconv-winograd) hand mf_pass_expand a callback that appends the new nodes; it puts them
 * where the node was. */
#include <stdlib.h>

#include "passes.h"

bool mf_pass_f32_data(const mf_value *v)
{
    return v->is_const && v->data && v->type.dtype == MF_F32;
}

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

mf_status mf_pass_expand(mf_graph *g, const char *pass, mf_pass_expand_fn expand, void *arg, int *changes)
{
    *changes = 0;
    int n0 = g->nnodes, k = 0, cap = 2 * n0 + 16, count = 0;
    mf_node **order = malloc(sizeof *order * (size_t)cap);
    mf_node **by = calloc((size_t)n0 + 1, sizeof *by); /* by original node id: its replacement */
    mf_status s = order && by ? MF_OK : mf_error(MF_ERR_NOMEM, "%s: out of memory", pass);
    for (int i = 0; i < n0 && !s; i++) {
        mf_node *n = g->nodes[i], *o = NULL;
        int first = g->nnodes;
        if ((s = expand(g, n, arg, &o))) {
            mf_error_context(s, "%s: node %d (%s)", pass, n->id, mf_op_get(n->op)->name);
            break;
        }
        if (o == n) {
            s = mf_error(MF_ERR_INTERNAL, "%s: node %d replaced by itself", pass, n->id);
            break;
        }
        int need = k + g->nnodes - first + 1;
        if (need > cap) {
            mf_node **grown = realloc(order, sizeof *order * (size_t)(cap = 2 * need));
            if (!grown) {
                s = mf_error(MF_ERR_NOMEM, "%s: out of memory", pass);
                break;
            }
            order = grown;
        }
        for (int j = first; j < g->nnodes; j++) /* the new nodes go where n was */
            order[k++] = g->nodes[j];
        order[k++] = n;
        by[n->id] = o;
        count += o != NULL;
    }
    /* Uses move to the new nodes only now: on a failure above nothing reads the appended
     * nodes, which stay after everything they read, and the graph is as it was. */
    bool *dead = !s && count ? calloc((size_t)k + 1, 1) : NULL; /* by node id: positions below */
    if (!s && count && !dead)
        s = mf_error(MF_ERR_NOMEM, "%s: out of memory", pass);
    if (dead) {
        for (int i = 0; i < n0; i++)
            if (by[g->nodes[i]->id])
                mf_graph_replace_uses(g, g->nodes[i]->outputs[0], by[g->nodes[i]->id]->outputs[0]);
        for (int i = 0; i < k; i++) {
            dead[i] = order[i]->id < n0 && by[order[i]->id];
            g->nodes[i] = order[i];
        }
        for (int i = 0; i < k; i++)
            order[i]->id = i;
        g->nnodes = k;
        mf_graph_remove_nodes(g, dead);
        *changes = count;
    }
    free(dead);
    free(order);
    free(by);
    return s;
}
