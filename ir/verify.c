/* verify.c — the IR verifier: checks the invariants every pass must keep (definitions
 * before uses, types that re-inference reproduces, attribute types, arity, constant data
 * sizes, well-formed inputs and outputs, consistent ids).  Errors name the node, its op
 * and the value at fault. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

static const char *vname(const mf_value *v, char *buf, size_t cap)
{
    if (v->name)
        snprintf(buf, cap, "%%%s", v->name);
    else
        snprintf(buf, cap, "%%%d", v->id); /* unnamed: by id */
    return buf;
}

static mf_status check_values(const mf_graph *g, bool *defined)
{
    char b[160];
    for (int i = 0; i < g->nvalues; i++) {
        const mf_value *v = g->values[i];
        if (!v || v->id != i)
            return mf_error(MF_ERR_INVALID, "verify: value %d has id %d", i, v ? v->id : -1);
        if (mf_type_check(&v->type, "verify", NULL, NULL))
            return mf_error(MF_ERR_INVALID, "verify: %s has a bad type (%s)", vname(v, b, sizeof b),
                            mf_last_error());
        if (v->is_const) {
            if (v->producer)
                return mf_error(MF_ERR_INVALID, "verify: constant %s has a producer", vname(v, b, sizeof b));
            if (v->data && v->data->nbytes != mf_type_nbytes(&v->type))
                return mf_error(MF_ERR_INVALID, "verify: constant %s holds %zu bytes, its type needs %zu",
                                vname(v, b, sizeof b), v->data->nbytes, mf_type_nbytes(&v->type));
            defined[i] = true;
        }
    }
    for (int i = 0; i < g->ninputs; i++) {
        const mf_value *v = g->inputs[i];
        if (!v || v->id < 0 || v->id >= g->nvalues || g->values[v->id] != v)
            return mf_error(MF_ERR_INVALID, "verify: graph input %d is not a value of the graph", i);
        if (v->producer || v->is_const)
            return mf_error(MF_ERR_INVALID, "verify: graph input %d (%s) is %s", i, vname(v, b, sizeof b),
                            v->is_const ? "a constant" : "produced by a node");
        if (defined[v->id])
            return mf_error(MF_ERR_INVALID, "verify: %s is graph input twice", vname(v, b, sizeof b));
        defined[v->id] = true;
    }
    return MF_OK;
}

/* Node i's inputs are the graph's values, defined before it; re-inference of the op
 * over their types gives *ot. */
static mf_status check_inputs(const mf_graph *g, int i, const bool *defined, mf_type *ot)
{
    const mf_node *n = g->nodes[i];
    const mf_op_info *info = mf_op_get(n->op);
    char b[160];
    mf_type types[64];
    for (int k = 0; k < n->ninputs; k++) {
        const mf_value *v = n->inputs[k];
        if (!v || v->id < 0 || v->id >= g->nvalues || g->values[v->id] != v)
            return mf_error(MF_ERR_INVALID, "verify: node %d (%s): input %d is not a value of the graph", i,
                            info->name, k);
        if (!defined[v->id])
            return mf_error(MF_ERR_INVALID, "verify: node %d (%s): input %s is used before it is defined", i,
                            info->name, vname(v, b, sizeof b));
        types[k] = v->type;
    }
    mf_status s = mf_op_infer(n->op, n->attrs, n->ninputs, types, ot);
    return s ? mf_error_context(s, "verify: node %d", i) : MF_OK;
}

/* Node i's one output is a value of the graph, produced only here, of type *ot. */
static mf_status check_output(const mf_graph *g, int i, bool *defined, const mf_type *ot)
{
    const mf_node *n = g->nodes[i];
    const mf_op_info *info = mf_op_get(n->op);
    char b[160];
    if (n->noutputs != 1)
        return mf_error(MF_ERR_INVALID, "verify: node %d (%s) has %d outputs", i, info->name, n->noutputs);
    const mf_value *o = n->outputs[0];
    if (!o || o->id < 0 || o->id >= g->nvalues || g->values[o->id] != o)
        return mf_error(MF_ERR_INVALID, "verify: node %d (%s): its output is not a value of the graph", i,
                        info->name);
    if (defined[o->id])
        return mf_error(MF_ERR_INVALID, "verify: node %d (%s): output %s is defined twice", i, info->name,
                        vname(o, b, sizeof b));
    if (o->producer != n)
        return mf_error(MF_ERR_INVALID, "verify: node %d (%s): output %s names another producer", i,
                        info->name, vname(o, b, sizeof b));
    if (!mf_type_equal(ot, &o->type)) {
        char want[128], got[128];
        return mf_error(MF_ERR_INVALID, "verify: node %d (%s): output %s is %s but the op gives %s", i,
                        info->name, vname(o, b, sizeof b), mf_type_str(&o->type, got, sizeof got),
                        mf_type_str(ot, want, sizeof want));
    }
    defined[o->id] = true;
    return MF_OK;
}

/* A qconv2d's constant weight pairs (2j, 2j + 1 of a row) of one sign sum within its
 * w_pair_max, as it promises (code for targets without VNNI relies on it: vpmaddubsw would
 * saturate otherwise). */
static mf_status check_weight_pairs(const mf_node *n, int i)
{
    if (n->op != MF_OP_QCONV2D)
        return MF_OK;
    const mf_value *w = n->ninputs > 1 ? n->inputs[1] : NULL;
    int64_t lim = mf_attr_int(n->op, n->attrs, "w_pair_max");
    if (lim >= 256 || !w || !w->is_const || !w->data || w->type.dtype != MF_I8 ||
        w->type.shape[0] == 0)
        return MF_OK;
    int64_t rows = w->type.shape[0], per = mf_type_numel(&w->type) / rows;
    const int8_t *q = w->data->data;
    /* packed weights (quads of 4 bytes of a channel's row, rows of whole quads) keep every
     * pair in one quad: the same pairs at the same even offsets, other channels per row */
    bool packed = mf_conv2d_of(n->op, n->attrs).packed > 0;
    int64_t k;
    mf_qconv_pair_max(q, rows, per, lim, &k);
    if (k >= 0)
        return mf_error(MF_ERR_INVALID, "verify: node %d (qconv2d): weights %d, %d (%s %lld, k %lld) sum "
                        "past w_pair_max = %lld", i, q[k], q[k + 1], packed ? "packed row" : "channel",
                        (long long)(k / per), (long long)(k % per), (long long)lim);
    return MF_OK;
}

/* Node i: op, id, arity, attribute types and annotation, then its inputs and output. */
static mf_status check_node(const mf_graph *g, int i, bool *defined)
{
    const mf_node *n = g->nodes[i];
    if (!n)
        return mf_error(MF_ERR_INVALID, "verify: node %d is NULL", i);
    const mf_op_info *info = mf_op_get(n->op);
    if (!info)
        return mf_error(MF_ERR_INVALID, "verify: node %d has unknown op %d", i, (int)n->op);
    if (n->id != i)
        return mf_error(MF_ERR_INVALID, "verify: node %d (%s) has id %d", i, info->name, n->id);
    if (n->ninputs < info->min_inputs || (info->max_inputs >= 0 && n->ninputs > info->max_inputs) ||
        n->ninputs > 64)
        return mf_error(MF_ERR_INVALID, "verify: node %d (%s) has %d inputs, the op takes %d to %d%s", i,
                        info->name, n->ninputs, info->min_inputs,
                        info->max_inputs < 0 ? 64 : info->max_inputs, info->max_inputs < 0 ? " here" : "");
    for (int k = 0; k < info->nattrs; k++) {
        const mf_attr *a = &n->attrs[k];
        if (a->type != info->attrs[k].type)
            return mf_error(MF_ERR_INVALID, "verify: node %d (%s): attribute %s has the wrong type", i,
                            info->name, info->attrs[k].name);
        if (a->type == MF_ATTR_INTS && (a->n < 0 || a->n > MF_MAX_RANK))
            return mf_error(MF_ERR_INVALID, "verify: node %d (%s): attribute %s has %d entries", i,
                            info->name, info->attrs[k].name, a->n);
    }
    if (n->subgraph < -1)
        return mf_error(MF_ERR_INVALID, "verify: node %d (%s) is in subgraph %d", i, info->name,
                        n->subgraph);
    mf_type ot;
    mf_status s = check_inputs(g, i, defined, &ot);
    if (!s)
        s = check_output(g, i, defined, &ot);
    return s ? s : check_weight_pairs(n, i);
}

mf_status mf_graph_verify(const mf_graph *g)
{
    if (!g)
        return mf_error(MF_ERR_INVALID, "verify: graph is NULL");
    bool *defined = calloc((size_t)g->nvalues + 1, 1);
    if (!defined)
        return mf_error(MF_ERR_NOMEM, "verify: out of memory");
    mf_status s = check_values(g, defined);
    for (int i = 0; i < g->nnodes && !s; i++)
        s = check_node(g, i, defined);
    if (!s && g->noutputs < 1)
        s = mf_error(MF_ERR_INVALID, "verify: graph @%s has no outputs", g->name);
    for (int i = 0; i < g->noutputs && !s; i++) {
        const mf_value *v = g->outputs[i];
        if (!v || v->id < 0 || v->id >= g->nvalues || g->values[v->id] != v || !defined[v->id])
            s = mf_error(MF_ERR_INVALID, "verify: graph output %d is not a defined value of the graph", i);
    }
    free(defined);
    return s;
}
