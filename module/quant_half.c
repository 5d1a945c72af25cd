/* quant_half.c — `mlufuse quantize --dtype half`: the prepared f32 graph rebuilt so that
 * every tensor kept in memory is f16 and every op still computes in f32.  Inputs, f32
 * weights and outputs are f16; the result of each compute op is narrowed by a cast to f16
 * (fused into its kernel's store), and each use of it widened by a cast of its own (fused
 * into the consumer's loads: passes/segment.c puts it in the consumer's subgraph, cse keeps
 * it apart).  Views re-index the widened value, so they cost nothing in front of an anchor.
 * A weight's widening cast is folded once, at module creation.  The .mfir it writes holds
 * half the weight bytes; the plan, half the activation bytes. */
#include <stdlib.h>

#include "quant.h"

typedef struct half_graph {
    const mf_graph *g;
    mf_graph *c;
    mf_value **map;    /* by value id of g: its value in c (f32; constants widened) */
    mf_value **stored; /* by value id of g: the f16 form kept in memory, or NULL */
} half_graph;

static mf_status cast_node(mf_graph *c, mf_value *x, mf_dtype to, mf_value **out)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CAST, a);
    mf_attr_set_int(MF_OP_CAST, a, "to", (int64_t)to);
    mf_node *n;
    mf_status s = mf_graph_add_node(c, MF_OP_CAST, 1, &x, a, &n);
    *out = s ? NULL : n->outputs[0];
    return s;
}

/* An f32 constant with data becomes an f16 constant and a cast back to f32; others stay. */
static mf_status half_const(mf_graph *c, const mf_value *v, mf_value **out)
{
    if (v->type.dtype != MF_F32 || !v->data) {
        *out = mf_graph_add_const(c, v->name, &v->type, v->data);
        return *out ? MF_OK : mf_error(MF_ERR_NOMEM, "quantize: out of memory");
    }
    mf_type t = v->type;
    t.dtype = MF_F16;
    int64_t count = mf_type_numel(&t);
    mf_buffer *b = mf_buffer_new_host(mf_type_nbytes(&t) ? mf_type_nbytes(&t) : 1);
    if (!b)
        return mf_error(MF_ERR_NOMEM, "quantize: out of memory");
    for (int64_t i = 0; i < count; i++)
        ((uint16_t *)b->data)[i] = mf_f32_to_f16(((const float *)v->data->data)[i]);
    mf_value *h = mf_graph_add_const(c, v->name, &t, b);
    mf_buffer_release(b);
    return h ? cast_node(c, h, MF_F32, out) : mf_error(MF_ERR_NOMEM, "quantize: out of memory");
}

static bool is_view(const mf_value *v)
{
    return v->producer && mf_op_get(v->producer->op)->kind == MF_KIND_VIEW;
}

/* v of g as one consumer reads it, in f32: a constant or a non-f32 value as mapped, a
 * stored activation widened by a cast of its own, a view rebuilt over its widened input. */
static mf_status widen(half_graph *h, const mf_value *v, mf_value **out)
{
    if (h->stored[v->id])
        return cast_node(h->c, h->stored[v->id], MF_F32, out);
    if (!is_view(v) || v->type.dtype != MF_F32) {
        *out = h->map[v->id];
        return MF_OK;
    }
    const mf_node *n = v->producer;
    mf_value *in;
    mf_node *copy;
    mf_status s = widen(h, n->inputs[0], &in);
    if (!s)
        s = mf_graph_add_node(h->c, n->op, 1, &in, n->attrs, &copy);
    *out = s ? NULL : copy->outputs[0];
    return s;
}

static mf_status copy_inputs(half_graph *h)
{
    for (int i = 0; i < h->g->ninputs; i++) {
        const mf_value *v = h->g->inputs[i];
        mf_type t = v->type;
        t.dtype = t.dtype == MF_F32 ? MF_F16 : t.dtype;
        mf_value *x = mf_graph_add_input(h->c, v->name, &t);
        if (!x)
            return mf_error(MF_ERR_NOMEM, "quantize: out of memory");
        if (v->type.dtype == MF_F32)
            h->stored[v->id] = x;
        h->map[v->id] = x;
    }
    return MF_OK;
}

/* Each op on its widened inputs; its f32 result narrowed to f16 once.  Views are made per
 * use (widen), not here. */
static mf_status copy_nodes(half_graph *h)
{
    for (int i = 0; i < h->g->nnodes; i++) {
        const mf_node *n = h->g->nodes[i];
        if (is_view(n->outputs[0]) && n->outputs[0]->type.dtype == MF_F32)
            continue;
        mf_value **ins = mf_arena_alloc(h->c->arena, sizeof *ins * (size_t)(n->ninputs + 1));
        if (!ins)
            return mf_error(MF_ERR_NOMEM, "quantize: out of memory");
        mf_status s = MF_OK;
        for (int j = 0; j < n->ninputs && !s; j++)
            s = widen(h, n->inputs[j], &ins[j]);
        mf_node *copy;
        if (!s)
            s = mf_graph_add_node(h->c, n->op, n->ninputs, ins, n->attrs, &copy);
        if (s)
            return s;
        const mf_value *v = n->outputs[0];
        h->map[v->id] = copy->outputs[0];
        if (v->type.dtype == MF_F32 && (s = cast_node(h->c, copy->outputs[0], MF_F16, &h->stored[v->id])))
            return s;
    }
    return MF_OK;
}

static mf_status copy_outputs(half_graph *h)
{
    mf_value **outs = calloc((size_t)h->g->noutputs + 1, sizeof *outs);
    mf_status s = outs ? MF_OK : mf_error(MF_ERR_NOMEM, "quantize: out of memory");
    for (int i = 0; i < h->g->noutputs && !s; i++) {
        const mf_value *v = h->g->outputs[i];
        if (h->stored[v->id] || v->type.dtype != MF_F32)
            outs[i] = h->stored[v->id] ? h->stored[v->id] : h->map[v->id];
        else if (!(s = widen(h, v, &outs[i])))
            s = cast_node(h->c, outs[i], MF_F16, &outs[i]);
    }
    if (!s)
        s = mf_graph_set_outputs(h->c, h->g->noutputs, outs);
    free(outs);
    return s;
}

mf_status mf_mod_quant_half(const mf_graph *g, mf_graph **out)
{
    *out = NULL;
    half_graph h = {g, mf_graph_new(g->name), calloc((size_t)g->nvalues + 1, sizeof(mf_value *)),
                    calloc((size_t)g->nvalues + 1, sizeof(mf_value *))};
    mf_status s = h.c && h.map && h.stored ? MF_OK : mf_error(MF_ERR_NOMEM, "quantize: out of memory");
    if (!s)
        s = copy_inputs(&h);
    for (int i = 0; i < g->nvalues && !s; i++)
        if (g->values[i]->is_const)
            s = half_const(h.c, g->values[i], &h.map[g->values[i]->id]);
    if (!s)
        s = copy_nodes(&h);
    if (!s)
        s = copy_outputs(&h);
    free(h.map);
    free(h.stored);
    if (!s)
        s = mf_graph_verify(h.c);
    if (s)
        mf_graph_destroy(h.c);
    else
        *out = h.c;
    return s;
}
