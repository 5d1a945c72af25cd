/* dot.c — Graphviz text of a (segmented) graph, for `mlufuse opt --dot`: one cluster per
 * MLU subgraph, so what fused is visible at a glance; CPU ops are grey boxes outside every
 * cluster; graph inputs and outputs are ovals; constants (weights) are left out, their
 * count noted on the node, to keep big models readable. */
#include <stdlib.h>

#include "ir.h"

static void put_op(mf_strbuf *o, char **names, const mf_node *n, const char *indent)
{
    char t[128];
    int nconst = 0;
    for (int i = 0; i < n->ninputs; i++)
        nconst += n->inputs[i]->is_const;
    mf_sb_printf(o, "%sn%d [label=\"%s\\n%%%s : %s%s\"%s];\n", indent, n->id, mf_op_get(n->op)->name,
        names[n->outputs[0]->id], mf_type_str(&n->outputs[0]->type, t, sizeof t),
        nconst ? " (+consts)" : "", n->subgraph < 0 ? ", style=filled, fillcolor=grey85" : "");
}

mf_status mf_graph_dot(const mf_graph *g, char **text)
{
    if (!text || !g)
        return mf_error(MF_ERR_INVALID, "mf_graph_dot: %s is NULL", text ? "graph" : "text");
    char **names;
    *text = NULL;
    mf_status s = mf_graph_value_names(g, &names);
    if (s)
        return s;
    mf_strbuf o = {0};
    int nsub = 0;
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i]->subgraph >= nsub)
            nsub = g->nodes[i]->subgraph + 1;
    mf_sb_printf(&o, "digraph \"%s\" {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\"];\n", g->name);
    for (int i = 0; i < g->ninputs; i++)
        mf_sb_printf(&o, "  v%d [shape=oval, label=\"%%%s\"];\n", g->inputs[i]->id, names[g->inputs[i]->id]);
    for (int sg = 0; sg < nsub; sg++) {
        mf_sb_printf(&o, "  subgraph cluster_sg%d {\n    label=\"sg%d\"; style=rounded; color=blue;\n", sg, sg);
        for (int i = 0; i < g->nnodes; i++)
            if (g->nodes[i]->subgraph == sg)
                put_op(&o, names, g->nodes[i], "    ");
        mf_sb_printf(&o, "  }\n");
    }
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i]->subgraph < 0)
            put_op(&o, names, g->nodes[i], "  ");
    for (int i = 0; i < g->nnodes; i++) { /* edges from producers and graph inputs */
        const mf_node *n = g->nodes[i];
        for (int k = 0; k < n->ninputs; k++) {
            const mf_value *v = n->inputs[k];
            if (v->producer)
                mf_sb_printf(&o, "  n%d -> n%d;\n", v->producer->id, n->id);
            else if (!v->is_const)
                mf_sb_printf(&o, "  v%d -> n%d;\n", v->id, n->id);
        }
    }
    for (int i = 0; i < g->noutputs; i++) {
        const mf_value *v = g->outputs[i];
        mf_sb_printf(&o, "  out%d [shape=oval, label=\"return %%%s\"];\n", i, names[v->id]);
        if (v->producer)
            mf_sb_printf(&o, "  n%d -> out%d;\n", v->producer->id, i);
        else
            mf_sb_printf(&o, "  v%d -> out%d;\n", v->id, i);
    }
    mf_sb_printf(&o, "}\n");
    free(names);
    *text = mf_sb_take(&o);
    return *text ? MF_OK : mf_error(MF_ERR_NOMEM, "dot: out of memory");
}
