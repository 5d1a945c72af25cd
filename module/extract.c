/* extract.c — cuts one MLU subgraph out of a segmented graph as a standalone graph: the
 * values it reads from outside become inputs (activations first, then constants, so that
 * weights are kernel arguments and same-shaped layers share a kernel), the values used
 * outside (or graph outputs) become outputs, and value names are dropped so the
 * canonical text — the cache key — does not depend on them. */
#include <stdlib.h>
#include <string.h>

#include "module.h"

typedef struct segment_builder {
    const mf_graph *g;
    int id;
    mf_value **map; /* big graph value id -> sub value */
    mf_segment *seg;
    bool *outside;  /* per value id: read by a node of another subgraph or the CPU, or a graph output */
} segment_builder;

static bool in_segment(const mf_value *v, int id)
{
    return v->producer && v->producer->subgraph == id;
}

static mf_status add_input(segment_builder *b, mf_value *v)
{
    if (b->map[v->id])
        return MF_OK;
    mf_value *in = mf_graph_add_input(b->seg->sub, NULL, &v->type);
    if (!in)
        return mf_error(MF_ERR_NOMEM, "segment: out of memory");
    b->map[v->id] = in;
    b->seg->inputs[b->seg->ninputs++] = v;
    return MF_OK;
}

/* Inputs in the order of first use, activations before constants. */
static mf_status collect_inputs(segment_builder *b, bool constants)
{
    for (int i = 0; i < b->g->nnodes; i++) {
        const mf_node *n = b->g->nodes[i];
        if (n->subgraph != b->id)
            continue;
        for (int j = 0; j < n->ninputs; j++) {
            mf_value *v = n->inputs[j];
            if (in_segment(v, b->id) || v->is_const != constants)
                continue;
            mf_status s = add_input(b, v);
            if (s)
                return s;
        }
    }
    return MF_OK;
}

/* b->outside for every value, in one pass (a graph scan a member was quadratic) */
static void mark_used_outside(segment_builder *b)
{
    for (int i = 0; i < b->g->noutputs; i++)
        b->outside[b->g->outputs[i]->id] = true;
    for (int i = 0; i < b->g->nnodes; i++) {
        const mf_node *n = b->g->nodes[i];
        if (n->subgraph != b->id)
            for (int j = 0; j < n->ninputs; j++)
                b->outside[n->inputs[j]->id] = true;
    }
}

static mf_status copy_nodes(segment_builder *b)
{
    mf_segment *seg = b->seg;
    size_t len = 0;
    for (int i = 0; i < b->g->nnodes; i++) {
        const mf_node *n = b->g->nodes[i];
        if (n->subgraph != b->id)
            continue;
        mf_value *ins[64];
        for (int j = 0; j < n->ninputs && j < 64; j++)
            ins[j] = b->map[n->inputs[j]->id];
        mf_node *copy;
        mf_status s = mf_graph_add_node(seg->sub, n->op, n->ninputs, ins, n->attrs, &copy);
        if (s)
            return mf_error_context(s, "segment %d", b->id);
        b->map[n->outputs[0]->id] = copy->outputs[0];
        if (b->outside[n->outputs[0]->id])
            seg->outputs[seg->noutputs++] = n->outputs[0];
        if (len < sizeof seg->label - 24)
            len += (size_t)snprintf(seg->label + len, sizeof seg->label - len, "%s%s",
                                    copy->id ? "+" : "", mf_op_get(n->op)->name);
    }
    return MF_OK;
}

mf_status mf_mod_extract_segment(const mf_graph *g, int id, mf_segment *out)
{
    memset(out, 0, sizeof *out);
    out->id = id;
    segment_builder b = {g, id, calloc((size_t)g->nvalues + 1, sizeof(mf_value *)), out,
                         calloc((size_t)g->nvalues + 1, sizeof(bool))};
    out->sub = mf_graph_new("subgraph");
    out->inputs = calloc((size_t)g->nvalues + 1, sizeof(mf_value *));
    out->outputs = calloc((size_t)g->nvalues + 1, sizeof(mf_value *));
    mf_status s = MF_OK;
    if (!b.map || !b.outside || !out->sub || !out->inputs || !out->outputs)
        s = mf_error(MF_ERR_NOMEM, "segment: out of memory");
    if (!s) {
        mark_used_outside(&b);
        s = collect_inputs(&b, false);
    }
    if (!s)
        s = collect_inputs(&b, true);
    char ops[96] = "";
    if (!s) {
        s = copy_nodes(&b);
        snprintf(ops, sizeof ops, "%s", out->label);
        snprintf(out->label, sizeof out->label, "subgraph %d (%s)", id, ops);
    }
    if (!s && out->noutputs == 0)
        s = mf_error(MF_ERR_INTERNAL, "segment %d has no outputs", id);
    /* as many outputs as the subgraph has (outs[256] left a 300-output subgraph's last ones
     * unset: "graph output 258 is NULL", or a stray pointer) */
    mf_value **outs = s ? NULL : malloc(sizeof *outs * ((size_t)out->noutputs + 1));
    if (!s && !outs)
        s = mf_error(MF_ERR_NOMEM, "segment: out of memory");
    for (int i = 0; i < out->noutputs && !s; i++)
        outs[i] = b.map[out->outputs[i]->id];
    if (!s)
        s = mf_graph_set_outputs(out->sub, out->noutputs, outs);
    free(outs);
    free(b.map);
    free(b.outside);
    if (!s) { /* kept with the module: its own size, not the graph's values' (8k segments of a
               * 16k-value graph held 2 GB) */
        mf_value **in = realloc(out->inputs, sizeof *in * ((size_t)out->ninputs + 1));
        mf_value **o = realloc(out->outputs, sizeof *o * ((size_t)out->noutputs + 1));
        out->inputs = in ? in : out->inputs;
        out->outputs = o ? o : out->outputs;
    }
    if (s)
        mf_mod_segment_free(out);
    return s;
}

void mf_mod_segment_free(mf_segment *s)
{
    mf_graph_destroy(s->sub);
    free(s->inputs);
    free(s->outputs);
    memset(s, 0, sizeof *s);
}
