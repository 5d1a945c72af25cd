/* onnx_custom.c — ONNX nodes of a non-default domain: each maps by op type to a declared
 * custom op (docs/custom_ops.md), its inputs to the op's Tensor arguments in order, its
 * attributes to the scalar arguments by name (or the onnx(...) names of the declaration),
 * and its outputs to one `custom` node each.  An undeclared op is refused by name. */
#include <string.h>

#include "ir/custom_ops.h"
#include "onnx.h"

bool onnx_is_custom_domain(const Onnx__NodeProto *n)
{
    return n->domain && *n->domain && strcmp(n->domain, "ai.onnx");
}

/* The scalar argument attribute a reads, into its slot; absent keeps the default. */
static mf_status scalar_attr(const Onnx__NodeProto *n, const mf_custom_decl *d, const mf_custom_arg *a, mf_attr *attrs)
{
    const Onnx__AttributeProto *at = onnx_attr(n, a->onnx_name);
    double *slot = &attrs[MF_CUSTOM_ATTR_SLOT0 + a->index].f;
    if (!at) {
        if (!a->has_default)
            return onnx_node_error(n, MF_ERR_INVALID, "custom op %s requires attribute '%s' (argument %s)", d->name,
                                   a->onnx_name, a->name);
        return MF_OK;
    }
    if (at->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT && a->kind != MF_CUSTOM_FLOAT) {
        if (at->i > (1LL << 53) || at->i < -(1LL << 53))
            return onnx_node_error(n, MF_ERR_INVALID, "attribute '%s' = %lld is out of range", a->onnx_name,
                                   (long long)at->i);
        *slot = a->kind == MF_CUSTOM_BOOL ? (at->i != 0) : (double)at->i;
    } else if (at->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT && a->kind == MF_CUSTOM_FLOAT) {
        *slot = at->f;
    } else if (at->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT && a->kind == MF_CUSTOM_FLOAT) {
        *slot = (double)at->i;
    } else {
        return onnx_node_error(n, MF_ERR_INVALID, "attribute '%s' must be %s for argument %s of %s", a->onnx_name,
                               a->kind == MF_CUSTOM_FLOAT ? "a float or an int" : "an int", a->name, d->name);
    }
    return MF_OK;
}

/* Every attribute of n must be one the declaration reads. */
static mf_status known_attrs(const Onnx__NodeProto *n, const mf_custom_decl *d)
{
    for (size_t i = 0; i < n->n_attribute; i++) {
        const char *name = n->attribute[i]->name ? n->attribute[i]->name : "";
        int k = 0;
        while (k < d->nargs && (d->args[k].kind == MF_CUSTOM_TENSOR_ARG || strcmp(d->args[k].onnx_name, name)))
            k++;
        if (k == d->nargs)
            return onnx_node_error(n, MF_ERR_INVALID, "attribute '%s' is not an argument of custom op %s (%s)", name,
                                   d->name, d->where);
    }
    return MF_OK;
}

mf_status onnx_convert_custom(onnx_importer *im, const Onnx__NodeProto *n)
{
    const char *op = n->op_type ? n->op_type : "";
    int index = mf_custom_find(op, strlen(op));
    if (index < 0)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED,
                               "op %s of domain '%s' is not a declared custom op (declare it and load it with "
                               "--custom-ops DECL.txt:LIB.so or mf_custom_ops_load)",
                               op, n->domain);
    const mf_custom_decl *d = &mf_custom_get(index)->decl;
    if (n->n_input != (size_t)d->ntensors)
        return onnx_node_error(n, MF_ERR_INVALID, "custom op %s takes %d tensor inputs, the node has %zu", d->name,
                               d->ntensors, n->n_input);
    if (n->n_output < 1 || n->n_output > (size_t)d->noutputs)
        return onnx_node_error(n, MF_ERR_INVALID, "custom op %s has %d output%s, the node %zu", d->name, d->noutputs,
                               d->noutputs == 1 ? "" : "s", n->n_output);
    mf_value *in[MF_CUSTOM_MAX_TENSORS];
    mf_attr attrs[MF_MAX_ATTRS];
    mf_custom_default_attrs(index, attrs);
    mf_status s = onnx_inputs(im, n, d->ntensors, in);
    if (!s)
        s = known_attrs(n, d);
    for (int k = 0; k < d->nargs && !s; k++)
        if (d->args[k].kind != MF_CUSTOM_TENSOR_ARG)
            s = scalar_attr(n, d, &d->args[k], attrs);
    for (size_t k = 0; k < n->n_output && !s; k++) {
        if (!n->output[k] || !*n->output[k]) /* an output nobody reads */
            continue;
        mf_node *node;
        attrs[1].i = (int64_t)k;
        if ((s = mf_graph_add_node(im->g, MF_OP_CUSTOM, d->ntensors, in, attrs, &node))) {
            char inner[1024];
            snprintf(inner, sizeof inner, "%s", mf_last_error());
            return onnx_node_error(n, s, "%s", inner);
        }
        s = onnx_define(im, n->output[k], node->outputs[0]);
    }
    return s;
}
