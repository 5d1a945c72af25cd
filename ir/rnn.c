/* rnn.c — the rnn op's attributes (ir/einsum_rnn.h) decoded into one struct: the cell,
 * its gates and activations per direction, layout and the ONNX options. */
#include <stdio.h>
#include <string.h>

#include "einsum_rnn.h"

static const char *const act_names[MF_ACT_COUNT] = {"Sigmoid", "Tanh", "Relu", "HardSigmoid", "Softsign",
                                                    "Softplus"};

bool mf_rnn_act_from_name(const char *name, mf_rnn_act *out)
{
    for (int a = 0; a < MF_ACT_COUNT; a++)
        if (!strcmp(name, act_names[a])) {
            *out = (mf_rnn_act)a;
            return true;
        }
    return false;
}

bool mf_rnn_of(const mf_attr *attrs, mf_rnn_view *v, char *why, size_t cap)
{
    static const mf_rnn_act dflt[3][3] = {{MF_ACT_TANH}, {MF_ACT_SIGMOID, MF_ACT_TANH},
                                          {MF_ACT_SIGMOID, MF_ACT_TANH, MF_ACT_TANH}};
    int64_t cell = mf_attr_int(MF_OP_RNN, attrs, "cell"), dir = mf_attr_int(MF_OP_RNN, attrs, "direction");
    const mf_attr *acts = mf_attr_get(MF_OP_RNN, attrs, "activations");
    memset(v, 0, sizeof *v);
    if (cell < 0 || cell > MF_RNN_LSTM || dir < 0 || dir > 2) {
        snprintf(why, cap, "cell %lld or direction %lld is out of range", (long long)cell, (long long)dir);
        return false;
    }
    v->cell = (mf_rnn_cell)cell;
    v->gates = (int[]){1, 3, 4}[cell];
    v->nacts = (int[]){1, 2, 3}[cell];
    v->dirs = dir == 2 ? 2 : 1;
    v->reverse = dir == 1;
    v->batch_first = mf_attr_int(MF_OP_RNN, attrs, "layout") != 0;
    v->linear_before_reset = mf_attr_int(MF_OP_RNN, attrs, "linear_before_reset") != 0;
    v->input_forget = mf_attr_int(MF_OP_RNN, attrs, "input_forget") != 0;
    v->output = (int)mf_attr_int(MF_OP_RNN, attrs, "output");
    v->hidden = mf_attr_int(MF_OP_RNN, attrs, "hidden");
    v->clip = mf_attr_float(MF_OP_RNN, attrs, "clip");
    int max_out = v->cell == MF_RNN_LSTM ? 2 : 1;
    if (v->output < 0 || v->output > max_out || v->hidden < 1 || !(v->clip >= 0)) {
        snprintf(why, cap, "output %d, hidden %lld or clip %g is out of range", v->output, (long long)v->hidden,
                 v->clip);
        return false;
    }
    /* none: the defaults; one direction's worth: the same for both */
    if (acts->n && acts->n != v->nacts && acts->n != v->nacts * v->dirs) {
        snprintf(why, cap, "%d activations, expected %d per direction", acts->n, v->nacts);
        return false;
    }
    for (int d = 0; d < 2; d++)
        for (int k = 0; k < v->nacts; k++) {
            int64_t a = acts->n ? acts->ints[(d * v->nacts + k) % acts->n] : dflt[cell][k];
            if (a < 0 || a >= MF_ACT_COUNT) {
                snprintf(why, cap, "activation %lld is out of range", (long long)a);
                return false;
            }
            v->act[d][k] = (mf_rnn_act)a;
        }
    return true;
}
