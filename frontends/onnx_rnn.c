/* onnx_rnn.c — RNN, GRU and LSTM (opset 7 on; layout from 14) as the rnn op
 * (ir/einsum_rnn.h): omitted optional inputs become constants (zero bias, states and
 * peepholes; every sequence at full length), and each output the model uses is one node
 * of the op. */
#include <stdlib.h>
#include <string.h>

#include "ir/einsum_rnn.h"
#include "onnx.h"

/* A new f32 constant of zeros, or i32 lengths all equal to fill. */
static mf_value *filled(onnx_importer *im, mf_dtype dt, int rank, const int64_t *shape, int32_t fill)
{
    mf_type t = {dt, rank, {0}};
    memcpy(t.shape, shape, (size_t)rank * sizeof *shape);
    size_t nbytes = mf_type_nbytes(&t);
    int32_t *data = calloc(nbytes / sizeof(int32_t) + 1, sizeof(int32_t));
    if (!data)
        return NULL;
    for (size_t i = 0; dt == MF_I32 && i < nbytes / sizeof(int32_t); i++)
        data[i] = fill;
    mf_value *v = onnx_const(im, &t, data);
    free(data);
    return v;
}

/* The activations attribute as codes; *count 0 when absent. */
static mf_status activations(const Onnx__NodeProto *n, int64_t *codes, int *count)
{
    const Onnx__AttributeProto *a = onnx_attr(n, "activations");
    *count = 0;
    if (onnx_attr(n, "activation_alpha") || onnx_attr(n, "activation_beta"))
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "activation_alpha and activation_beta are not supported");
    if (!a)
        return MF_OK;
    if (a->n_strings > MF_MAX_RANK)
        return onnx_node_error(n, MF_ERR_INVALID, "%zu activations", a->n_strings);
    for (size_t i = 0; i < a->n_strings; i++) {
        char name[32];
        mf_rnn_act act;
        snprintf(name, sizeof name, "%.*s", (int)a->strings[i].len, (const char *)a->strings[i].data);
        if (!mf_rnn_act_from_name(name, &act))
            return onnx_node_error(n, MF_ERR_UNSUPPORTED, "activation '%s' (Sigmoid, Tanh, Relu, HardSigmoid, "
                                   "Softsign and Softplus are supported)", name);
        codes[(*count)++] = act;
    }
    return MF_OK;
}

static mf_status recurrent(onnx_importer *im, const Onnx__NodeProto *n, mf_rnn_cell cell)
{
    static const int gates[3] = {1, 3, 4};
    mf_value *in[8] = {0};
    mf_status s = onnx_inputs(im, n, 3, in);
    for (int i = 3; i < 8 && !s; i++)
        s = onnx_input(im, n, (size_t)i, &in[i]);
    if (s)
        return s;
    char buf[32];
    const char *dir = onnx_attr_str(n, "direction", "forward", buf, sizeof buf);
    int64_t direction = !strcmp(dir, "forward") ? 0 : !strcmp(dir, "reverse") ? 1 : !strcmp(dir, "bidirectional") ? 2 : -1;
    if (direction < 0)
        return onnx_node_error(n, MF_ERR_INVALID, "direction '%s'", dir);
    int64_t layout = onnx_attr_int(n, "layout", 0), d = direction == 2 ? 2 : 1, codes[MF_MAX_RANK];
    int ncodes;
    if ((s = activations(n, codes, &ncodes)))
        return s;
    const mf_type *xt = &in[0]->type, *rt = &in[2]->type;
    if (xt->rank != 3 || rt->rank != 3)
        return onnx_node_error(n, MF_ERR_SHAPE, "X and R must have rank 3");
    int64_t h = onnx_attr_int(n, "hidden_size", rt->shape[2]), t = xt->shape[layout != 0], b = xt->shape[layout == 0];
    int64_t bias[2] = {d, 2 * gates[cell] * h}, state[3] = {layout ? b : d, layout ? d : b, h}, peep[2] = {d, 3 * h};
    if ((!in[3] && !(in[3] = filled(im, MF_F32, 2, bias, 0))) ||
        (!in[4] && !(in[4] = filled(im, MF_I32, 1, &b, (int32_t)t))) ||
        (!in[5] && !(in[5] = filled(im, MF_F32, 3, state, 0))) ||
        (cell == MF_RNN_LSTM && !in[6] && !(in[6] = filled(im, MF_F32, 3, state, 0))) ||
        (cell == MF_RNN_LSTM && !in[7] && !(in[7] = filled(im, MF_F32, 2, peep, 0))))
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_RNN, a);
    mf_attr_set_int(MF_OP_RNN, a, "cell", cell);
    mf_attr_set_int(MF_OP_RNN, a, "hidden", h);
    mf_attr_set_int(MF_OP_RNN, a, "direction", direction);
    mf_attr_set_int(MF_OP_RNN, a, "layout", layout);
    mf_attr_set_int(MF_OP_RNN, a, "linear_before_reset", onnx_attr_int(n, "linear_before_reset", 0));
    mf_attr_set_int(MF_OP_RNN, a, "input_forget", onnx_attr_int(n, "input_forget", 0));
    mf_attr_set_float(MF_OP_RNN, a, "clip", onnx_attr(n, "clip") ? onnx_attr_float(n, "clip", 0) : 0);
    mf_attr_set_ints(MF_OP_RNN, a, "activations", ncodes, codes);
    int nin = cell == MF_RNN_LSTM ? 8 : 6;
    for (int out = 0; out < (cell == MF_RNN_LSTM ? 3 : 2) && out < (int)n->n_output; out++) {
        mf_value *y;
        if (!n->output[out][0])
            continue;
        mf_attr_set_int(MF_OP_RNN, a, "output", out);
        if ((s = onnx_add(im, n, MF_OP_RNN, nin, in, a, &y)) || (s = onnx_define(im, n->output[out], y)))
            return s;
    }
    return MF_OK;
}

mf_status onnx_cv_rnn(onnx_importer *im, const Onnx__NodeProto *n)
{
    return recurrent(im, n, MF_RNN_SIMPLE);
}

mf_status onnx_cv_gru(onnx_importer *im, const Onnx__NodeProto *n)
{
    return recurrent(im, n, MF_RNN_GRU);
}

mf_status onnx_cv_lstm(onnx_importer *im, const Onnx__NodeProto *n)
{
    return recurrent(im, n, MF_RNN_LSTM);
}
