/* graph_edit.c — the public graph access that passes of users' own (mlufuse_passes.h) edit
 * graphs with: nodes by index in topological order, their ops, producers and numeric
 * attributes, and one rewrite, bypassing a node.  Every index is checked. */
#include <stdlib.h>
#include <string.h>

#include "ir.h"

static const mf_node *node_at(const mf_graph *g, int i)
{
    return g && i >= 0 && i < g->nnodes ? g->nodes[i] : NULL;
}

const char *mf_graph_node_op(const mf_graph *g, int i)
{
    const mf_node *n = node_at(g, i);
    return n ? mf_op_get(n->op)->name : NULL;
}

int mf_graph_node_num_inputs(const mf_graph *g, int i)
{
    const mf_node *n = node_at(g, i);
    return n ? n->ninputs : -1;
}

int mf_graph_node_input_node(const mf_graph *g, int i, int k)
{
    const mf_node *n = node_at(g, i);
    if (!n || k < 0 || k >= n->ninputs || !n->inputs[k]->producer)
        return -1;
    const mf_node *p = n->inputs[k]->producer;
    for (int j = 0; j < i; j++) /* producers come first: topological order */
        if (g->nodes[j] == p)
            return j;
    return -1;
}

mf_status mf_graph_node_attr(const mf_graph *g, int i, const char *name, double *value)
{
    const mf_node *n = node_at(g, i);
    if (!n || !name || !value)
        return mf_error(MF_ERR_INVALID, "graph has no node %d", i);
    const mf_attr *a = mf_attr_get(n->op, n->attrs, name);
    if (!a)
        return mf_error(MF_ERR_INVALID, "node %d (%s) has no attribute '%s'", i, mf_op_get(n->op)->name, name);
    if (a->type == MF_ATTR_INTS)
        return mf_error(MF_ERR_INVALID, "node %d (%s): attribute '%s' is a list, not a number", i,
                        mf_op_get(n->op)->name, name);
    *value = a->type == MF_ATTR_FLOAT ? a->f : (double)a->i;
    return MF_OK;
}

mf_status mf_graph_node_bypass(mf_graph *g, int i, int k)
{
    mf_node *n = g && i >= 0 && i < g->nnodes ? g->nodes[i] : NULL;
    if (!n)
        return mf_error(MF_ERR_INVALID, "bypass: graph has no node %d", i);
    const char *op = mf_op_get(n->op)->name;
    if (k < 0 || k >= n->ninputs)
        return mf_error(MF_ERR_INVALID, "bypass: node %d (%s) has no input %d", i, op, k);
    if (n->noutputs != 1)
        return mf_error(MF_ERR_INVALID, "bypass: node %d (%s) has %d outputs", i, op, n->noutputs);
    mf_value *from = n->outputs[0], *to = n->inputs[k];
    if (!mf_type_equal(&from->type, &to->type)) {
        char a[128], b[128];
        return mf_error(MF_ERR_SHAPE, "bypass: node %d (%s) makes %s but its input %d is %s", i, op,
                        mf_type_str(&from->type, a, sizeof a), k, mf_type_str(&to->type, b, sizeof b));
    }
    bool *dead = calloc((size_t)g->nnodes, sizeof *dead);
    if (!dead)
        return mf_error(MF_ERR_NOMEM, "bypass: out of memory");
    for (int j = i + 1; j < g->nnodes; j++)
        for (int q = 0; q < g->nodes[j]->ninputs; q++)
            if (g->nodes[j]->inputs[q] == from)
                g->nodes[j]->inputs[q] = to;
    for (int q = 0; q < g->noutputs; q++)
        if (g->outputs[q] == from)
            g->outputs[q] = to;
    dead[i] = true;
    mf_graph_remove_nodes(g, dead);
    free(dead);
    return MF_OK;
}
