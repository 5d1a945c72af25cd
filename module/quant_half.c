/* quant_half.c — `mlufuse quantize --dtype half`: the prepared f32 graph rebuilt with its
 * inputs, its f32 weights and its outputs stored as f16, and every op still computing in
 * f32: an f16 input is widened by a cast at entry, an f16 weight by a cast where it is used
 * (the module's constant folding widens it once, at creation), and each output is narrowed
 * to f16 at the end.  The .mfir it writes holds half the weight bytes. */
#include <stdlib.h>

#include "quant.h"

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

mf_status mf_mod_quant_half(const mf_graph *g, mf_graph **out)
{
    *out = NULL;
    mf_graph *c = mf_graph_new(g->name);
    mf_value **map = calloc((size_t)g->nvalues + 1, sizeof *map);
    mf_status s = c && map ? MF_OK : mf_error(MF_ERR_NOMEM, "quantize: out of memory");
    for (int i = 0; i < g->ninputs && !s; i++) {
        mf_type t = g->inputs[i]->type;
        bool widen = t.dtype == MF_F32;
        t.dtype = widen ? MF_F16 : t.dtype;
        mf_value *x = mf_graph_add_input(c, g->inputs[i]->name, &t);
        s = !x ? mf_error(MF_ERR_NOMEM, "quantize: out of memory")
            : widen ? cast_node(c, x, MF_F32, &map[g->inputs[i]->id]) : (map[g->inputs[i]->id] = x, MF_OK);
    }
    if (!s)
        s = mf_mod_copy_body(g, c, map, half_const);
    mf_value **outs = s ? NULL : calloc((size_t)c->noutputs + 1, sizeof *outs);
    if (!s && !outs)
        s = mf_error(MF_ERR_NOMEM, "quantize: out of memory");
    for (int i = 0; !s && i < c->noutputs; i++)
        s = c->outputs[i]->type.dtype == MF_F32 ? cast_node(c, c->outputs[i], MF_F16, &outs[i]) : (outs[i] = c->outputs[i], MF_OK);
    if (!s)
        s = mf_graph_set_outputs(c, c->noutputs, outs);
    free(outs);
    free(map);
    if (!s)
        s = mf_graph_verify(c);
    if (s)
        mf_graph_destroy(c);
    else
        *out = c;
    return s;
}
