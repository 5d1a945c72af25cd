/* onnx_build.c — packs a tob_model into ONNX protobuf bytes (see onnx_build.h). */
#include <stdlib.h>
#include <string.h>

#include "onnx/onnx.pb-c.h"
#include "tests/support/onnx_build.h"

typedef struct tob_arena {
    void *blocks[1024];
    int n;
} tob_arena;

static void *take(tob_arena *a, size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (p && a->n < 1024)
        a->blocks[a->n++] = p;
    return p;
}

static Onnx__ValueInfoProto *value_info(tob_arena *a, const char *name, int rank, const int64_t *dims)
{
    Onnx__ValueInfoProto *vi = take(a, sizeof *vi);
    onnx__value_info_proto__init(vi);
    vi->name = (char *)name;
    if (rank < 0) /* an output: its type is the importer's to infer */
        return vi;
    Onnx__TensorShapeProto *shape = take(a, sizeof *shape);
    onnx__tensor_shape_proto__init(shape);
    shape->n_dim = (size_t)rank;
    shape->dim = take(a, sizeof *shape->dim * TOB_MAX);
    for (int i = 0; i < rank; i++) {
        Onnx__TensorShapeProto__Dimension *d = take(a, sizeof *d);
        onnx__tensor_shape_proto__dimension__init(d);
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        d->dim_value = dims[i];
        shape->dim[i] = d;
    }
    Onnx__TypeProto__Tensor *tt = take(a, sizeof *tt);
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = shape;
    Onnx__TypeProto *type = take(a, sizeof *type);
    onnx__type_proto__init(type);
    type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    type->tensor_type = tt;
    vi->type = type;
    return vi;
}

static Onnx__TensorProto *initializer(tob_arena *a, const tob_value *v)
{
    Onnx__TensorProto *t = take(a, sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = (char *)v->name;
    t->n_dims = (size_t)v->rank;
    t->dims = (int64_t *)v->dims;
    t->has_data_type = 1;
    t->data_type = v->dtype ? v->dtype : ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->has_raw_data = v->raw != NULL; /* else the (empty) typed fields hold the data */
    t->raw_data.len = v->raw_len;
    t->raw_data.data = (uint8_t *)v->raw;
    return t;
}

static Onnx__NodeProto *node(tob_arena *a, const tob_node *n, int index)
{
    Onnx__NodeProto *p = take(a, sizeof *p);
    onnx__node_proto__init(p);
    char *name = take(a, 16);
    name[0] = 'n';
    name[1] = (char)('0' + index);
    p->name = name;
    p->op_type = (char *)n->op;
    while (p->n_input < TOB_MAX && n->in[p->n_input])
        p->n_input++;
    while (p->n_output < TOB_MAX && n->out[p->n_output])
        p->n_output++;
    p->input = (char **)n->in;
    p->output = (char **)n->out;
    p->attribute = take(a, sizeof *p->attribute * TOB_MAX);
    for (int i = 0; i < TOB_MAX && n->attrs[i].name; i++) {
        Onnx__AttributeProto *at = take(a, sizeof *at);
        onnx__attribute_proto__init(at);
        at->name = (char *)n->attrs[i].name;
        at->has_type = 1;
        at->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        at->n_ints = (size_t)n->attrs[i].n;
        at->ints = (int64_t *)n->attrs[i].ints;
        p->attribute[p->n_attribute++] = at;
    }
    return p;
}

void *tob_pack(const tob_model *m, size_t *len)
{
    tob_arena a = {0};
    Onnx__GraphProto g = ONNX__GRAPH_PROTO__INIT;
    Onnx__ValueInfoProto *ins[TOB_MAX], *outs[TOB_MAX];
    Onnx__TensorProto *inits[TOB_MAX];
    Onnx__NodeProto *nodes[TOB_MAX];
    g.name = "tob";
    g.input = ins;
    g.output = outs;
    g.initializer = inits;
    g.node = nodes;
    for (int i = 0; i < TOB_MAX && m->inputs[i].name; i++)
        ins[g.n_input++] = value_info(&a, m->inputs[i].name, m->inputs[i].rank, m->inputs[i].dims);
    for (int i = 0; i < TOB_MAX && m->inits[i].name; i++)
        inits[g.n_initializer++] = initializer(&a, &m->inits[i]);
    for (int i = 0; i < TOB_MAX && m->nodes[i].op; i++)
        nodes[g.n_node++] = node(&a, &m->nodes[i], i);
    for (int i = 0; i < TOB_MAX && m->outputs[i]; i++)
        outs[g.n_output++] = value_info(&a, m->outputs[i], -1, NULL);
    Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    opset.domain = "";
    opset.has_version = 1;
    opset.version = m->opset ? m->opset : 13;
    Onnx__OperatorSetIdProto *opsets[1] = {&opset};
    Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
    model.has_ir_version = 1;
    model.ir_version = 7;
    model.n_opset_import = 1;
    model.opset_import = opsets;
    model.graph = &g;
    *len = onnx__model_proto__get_packed_size(&model);
    void *buf = malloc(*len ? *len : 1);
    if (buf)
        onnx__model_proto__pack(&model, buf);
    for (int i = 0; i < a.n; i++)
        free(a.blocks[i]);
    return buf;
}
