/* einsum_rnn.h — typed views of the einsum and rnn ops (ops.def), decoded once and shared by
 * shape inference (ir/op_semantics.c), the reference kernels (runtime/ref_einsum.c,
 * runtime/ref_rnn.c) and the ONNX importer, which encodes them. */
#ifndef MF_IR_EINSUM_RNN_H
#define MF_IR_EINSUM_RNN_H

#include "ir.h"

/* ---- einsum (ir/einsum.c) ----------------------------------------------------------------
 * Each operand's subscripts are one int of `terms` (the output's is `output`): label l of
 * position p (0..63; letters and the dims an ellipsis stands for, named at import) is the
 * base-64 digit p holding l + 1, so a term of rank r has r digits and 0 ends it. */
#define MF_EINSUM_LABELS 64

typedef struct mf_einsum_view {
    int nin;
    int rank[MF_MAX_RANK];
    int label[MF_MAX_RANK][MF_MAX_RANK]; /* [operand][position] */
    int out_rank;
    int out[MF_MAX_RANK];
} mf_einsum_view;

/* The code of a term of n labels (each 0..63, n at most MF_MAX_RANK). */
int64_t mf_einsum_code(const int *labels, int n);
/* Decodes the attributes of an einsum of nin operands; false (with a reason) when a code is
 * malformed or there are more than MF_MAX_RANK operands. */
bool mf_einsum_of(const mf_attr *attrs, int nin, mf_einsum_view *v, char *why, size_t cap);
/* The size of every label over the operands (-1 where unused); false (with a reason) when
 * ranks differ from the terms or a label has two sizes (other than 1, which broadcasts). */
bool mf_einsum_sizes(const mf_einsum_view *v, const mf_type *in, int64_t size[MF_EINSUM_LABELS], char *why,
                     size_t cap);

/* ---- rnn (ir/rnn.c) ----------------------------------------------------------------------
 * ONNX's RNN, GRU and LSTM in one op.  Inputs X, W, R, B, sequence_lens, initial_h, and for
 * LSTM initial_c and P, all present (the importer fills omitted ones: zero bias, full
 * lengths, zero states and peepholes).  output: 0 Y, 1 Y_h, 2 Y_c (one node per output). */
typedef enum { MF_RNN_SIMPLE, MF_RNN_GRU, MF_RNN_LSTM } mf_rnn_cell;
typedef enum { MF_ACT_SIGMOID, MF_ACT_TANH, MF_ACT_RELU, MF_ACT_HARD_SIGMOID, MF_ACT_SOFTSIGN,
               MF_ACT_SOFTPLUS, MF_ACT_COUNT } mf_rnn_act;

typedef struct mf_rnn_view {
    mf_rnn_cell cell;
    int gates;    /* 1, 3 (z r h) or 4 (i o f c) */
    int nacts;    /* activations per direction: 1, 2 or 3 */
    int dirs;     /* 1 or 2 */
    bool reverse; /* one direction, backwards */
    bool batch_first; /* layout 1: X [B, T, I], Y [B, T, D, H], states [B, D, H] */
    bool linear_before_reset, input_forget;
    int output;
    int64_t hidden;
    double clip; /* 0: none */
    mf_rnn_act act[2][3];
} mf_rnn_view;

/* Decodes and checks the attributes; false (with a reason) when one is out of range. */
bool mf_rnn_of(const mf_attr *attrs, mf_rnn_view *v, char *why, size_t cap);
/* The activation named as in ONNX (Sigmoid, Tanh, ...); false when it is not one of these. */
bool mf_rnn_act_from_name(const char *name, mf_rnn_act *out);

#endif
