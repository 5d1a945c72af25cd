/* test_ref_einsum_rnn.c — the reference kernels of einsum (contraction, diagonal, sum,
 * broadcast of a dim of 1, integers, malformed terms refused at inference) and rnn (the
 * three cells against hand-computed steps, reverse and bidirectional directions, sequence
 * lengths, batch-first layout, the states as outputs, shapes refused at inference). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>

#include "ir/einsum_rnn.h"
#include "tests/support/ref_call.h"

/* einsum attributes from label strings (lowercase letters), one per operand. */
static void einsum_attrs(mf_attr *a, int nin, const char *const *terms, const char *out)
{
    int64_t codes[MF_MAX_RANK];
    int labels[MF_MAX_RANK];
    for (int i = 0; i < nin; i++) {
        int n = 0;
        for (const char *p = terms[i]; *p; p++)
            labels[n++] = *p - 'a';
        codes[i] = mf_einsum_code(labels, n);
    }
    int n = 0;
    for (const char *p = out; *p; p++)
        labels[n++] = *p - 'a';
    mf_op_default_attrs(MF_OP_EINSUM, a);
    tref_set_ints(MF_OP_EINSUM, a, "terms", nin, codes);
    tref_set_int(MF_OP_EINSUM, a, "output", mf_einsum_code(labels, n));
}

static void test_einsum(void **state)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_type ot;
    const float x[6] = {1, 2, 3, 4, 5, 6}, y[6] = {1, 0, -1, 2, 3, 1}; /* [2,3] and [3,2] */
    einsum_attrs(a, 2, (const char *[]){"ij", "jk"}, "ik");
    float *o = tref_run(MF_OP_EINSUM, a, 2, (mf_type[]){TT(MF_F32, 2, 3), TT(MF_F32, 3, 2)}, (const void *[]){x, y}, &ot);
    assert_true(ot.rank == 2 && ot.shape[0] == 2 && ot.shape[1] == 2);
    TREF_EXPECT(o, 1 - 2 + 9, 0 + 4 + 3, 4 - 5 + 18, 0 + 10 + 6);
    free(o);
    const double sq[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}; /* the diagonal, in f64 */
    einsum_attrs(a, 1, (const char *[]){"ii"}, "i");
    double *d = tref_run(MF_OP_EINSUM, a, 1, (mf_type[]){TT(MF_F64, 3, 3)}, (const void *[]){sq}, &ot);
    assert_true(ot.dtype == MF_F64 && d[0] == 1 && d[1] == 5 && d[2] == 9);
    free(d);
    einsum_attrs(a, 1, (const char *[]){"ij"}, "ji"); /* transpose */
    o = tref_run(MF_OP_EINSUM, a, 1, (mf_type[]){TT(MF_F32, 2, 3)}, (const void *[]){x}, &ot);
    TREF_EXPECT(o, 1, 4, 2, 5, 3, 6);
    free(o);
    const int64_t p[3] = {1, 2, 3}, q[3] = {4, 5, 6}; /* inner product of integers, a scalar */
    einsum_attrs(a, 2, (const char *[]){"i", "i"}, "");
    int64_t *r = tref_run(MF_OP_EINSUM, a, 2, (mf_type[]){TT(MF_I64, 3), TT(MF_I64, 3)}, (const void *[]){p, q}, &ot);
    assert_true(ot.rank == 0 && r[0] == 32);
    free(r);
    const float one[3] = {10, 20, 30}; /* [1,3] broadcast against [2,3] */
    einsum_attrs(a, 2, (const char *[]){"ij", "ij"}, "ij");
    o = tref_run(MF_OP_EINSUM, a, 2, (mf_type[]){TT(MF_F32, 2, 3), TT(MF_F32, 1, 3)}, (const void *[]){x, one}, &ot);
    TREF_EXPECT(o, 10, 40, 90, 40, 100, 180);
    free(o);
    /* a term whose rank is not the operand's, and two sizes for one label, are refused */
    einsum_attrs(a, 1, (const char *[]){"ijk"}, "i");
    assert_int_equal(mf_op_infer(MF_OP_EINSUM, a, 1, (mf_type[]){TT(MF_F32, 2, 3)}, &ot), MF_ERR_INVALID);
    einsum_attrs(a, 2, (const char *[]){"ij", "ij"}, "i");
    assert_int_equal(mf_op_infer(MF_OP_EINSUM, a, 2, (mf_type[]){TT(MF_F32, 2, 3), TT(MF_F32, 3, 2)}, &ot),
                     MF_ERR_INVALID);
}

static double sigm(double x)
{
    return 1 / (1 + exp(-x));
}

/* rnn attributes for one cell, hidden 1. */
static void rnn_attrs(mf_attr *a, mf_rnn_cell cell, int direction, int output)
{
    mf_op_default_attrs(MF_OP_RNN, a);
    tref_set_int(MF_OP_RNN, a, "cell", cell);
    tref_set_int(MF_OP_RNN, a, "hidden", 1);
    tref_set_int(MF_OP_RNN, a, "direction", direction);
    tref_set_int(MF_OP_RNN, a, "output", output);
}

/* Hidden size 1, input size 1, batch 2 (the second of length 1), 2 steps: X [2, 2, 1]. */
static const float xs[4] = {0.5f, -1.0f, 0.25f, 2.0f}; /* [t][b] */
static const int32_t lens[2] = {2, 1};

static void test_simple_rnn(void **state)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_type ot;
    const float w[1] = {0.8f}, r[1] = {-0.5f}, b[2] = {0.1f, 0.2f}, h0[2] = {0.3f, -0.3f};
    mf_type types[6] = {TT(MF_F32, 2, 2, 1), TT(MF_F32, 1, 1, 1), TT(MF_F32, 1, 1, 1), TT(MF_F32, 1, 2),
                        TT(MF_I32, 2), TT(MF_F32, 1, 2, 1)};
    const void *in[6] = {xs, w, r, b, lens, h0};
    rnn_attrs(a, MF_RNN_SIMPLE, 0, 0);
    float *y = tref_run(MF_OP_RNN, a, 6, types, in, &ot);
    assert_true(ot.rank == 4 && ot.shape[0] == 2 && ot.shape[1] == 1 && ot.shape[2] == 2 && ot.shape[3] == 1);
    double h00 = tanh(0.8 * 0.5 - 0.5 * 0.3 + 0.3), h01 = tanh(0.8 * -1.0 - 0.5 * -0.3 + 0.3);
    double h10 = tanh(0.8 * 0.25 - 0.5 * h00 + 0.3);
    TREF_EXPECT(y, h00, h01, h10, 0); /* past its length, batch 1's Y is 0 */
    free(y);
    rnn_attrs(a, MF_RNN_SIMPLE, 1, 1); /* reverse: batch 0 from t = 1, batch 1 from its last step, t = 0 */
    y = tref_run(MF_OP_RNN, a, 6, types, in, &ot);
    double r1 = tanh(0.8 * 0.25 - 0.5 * 0.3 + 0.3), r0 = tanh(0.8 * 0.5 - 0.5 * r1 + 0.3);
    TREF_EXPECT(y, r0, h01);
    free(y);
    /* a weight of the wrong shape is refused */
    types[1] = TT(MF_F32, 1, 2, 1);
    assert_int_equal(mf_op_infer(MF_OP_RNN, a, 6, types, &ot), MF_ERR_SHAPE);
}

static void test_gru_and_lstm(void **state)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_type ot;
    const float w[4] = {0.5f, -0.4f, 0.3f, 0.9f}, r[4] = {0.2f, 0.7f, -0.6f, 0.1f}, b[8] = {0}, h0[2] = {0}, c0[2] = {0};
    const float p[3] = {0}, x1[1] = {1.0f};
    const int32_t len1[1] = {1};
    /* GRU, one step from h = 0: z = σ(0.5), r irrelevant (h = 0), ĥ = tanh(0.3), H = (1 - z) ĥ */
    mf_type gtypes[6] = {TT(MF_F32, 1, 1, 1), TT(MF_F32, 1, 3, 1), TT(MF_F32, 1, 3, 1), TT(MF_F32, 1, 6),
                         TT(MF_I32, 1), TT(MF_F32, 1, 1, 1)};
    rnn_attrs(a, MF_RNN_GRU, 0, 1);
    float *y = tref_run(MF_OP_RNN, a, 6, gtypes, (const void *[]){x1, w, r, b, len1, h0}, &ot);
    TREF_EXPECT(y, (1 - sigm(0.5)) * tanh(0.3));
    free(y);
    /* LSTM, one step from zero states: i = σ(0.5), o = σ(-0.4), f irrelevant, c = tanh(0.9),
     * C = i c, H = o tanh(C); the cell state is output 2 */
    mf_type ltypes[8] = {TT(MF_F32, 1, 1, 1), TT(MF_F32, 1, 4, 1), TT(MF_F32, 1, 4, 1), TT(MF_F32, 1, 8),
                         TT(MF_I32, 1),       TT(MF_F32, 1, 1, 1), TT(MF_F32, 1, 1, 1), TT(MF_F32, 1, 3)};
    const void *lin[8] = {x1, w, r, b, len1, h0, c0, p};
    double cell = sigm(0.5) * tanh(0.9);
    rnn_attrs(a, MF_RNN_LSTM, 2, 1); /* bidirectional: one step, both directions alike */
    ltypes[1] = TT(MF_F32, 2, 4, 1), ltypes[2] = TT(MF_F32, 2, 4, 1), ltypes[3] = TT(MF_F32, 2, 8);
    ltypes[5] = TT(MF_F32, 2, 1, 1), ltypes[6] = TT(MF_F32, 2, 1, 1), ltypes[7] = TT(MF_F32, 2, 3);
    const float w2[8] = {0.5f, -0.4f, 0.3f, 0.9f, 0.5f, -0.4f, 0.3f, 0.9f}, z8[16] = {0};
    lin[1] = w2, lin[2] = z8, lin[3] = z8, lin[5] = z8, lin[6] = z8, lin[7] = z8;
    y = tref_run(MF_OP_RNN, a, 8, ltypes, lin, &ot);
    assert_true(ot.rank == 3 && ot.shape[0] == 2);
    TREF_EXPECT(y, sigm(-0.4) * tanh(cell), sigm(-0.4) * tanh(cell));
    free(y);
    rnn_attrs(a, MF_RNN_LSTM, 2, 2);
    y = tref_run(MF_OP_RNN, a, 8, ltypes, lin, &ot);
    TREF_EXPECT(y, cell, cell);
    free(y);
    /* output 2 (Y_c) of a GRU does not exist */
    rnn_attrs(a, MF_RNN_GRU, 0, 2);
    assert_int_equal(mf_op_infer(MF_OP_RNN, a, 6, gtypes, &ot), MF_ERR_INVALID);
}

static void test_batch_first(void **state)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_type ot;
    /* X [B=2, T=2, 1] holds xs transposed; Y [B, T, D, H] must be Y of layout 0 transposed */
    const float xb[4] = {0.5f, 0.25f, -1.0f, 2.0f}, w[1] = {0.8f}, r[1] = {-0.5f}, b[2] = {0}, h0[2] = {0};
    const int32_t full[2] = {2, 2};
    rnn_attrs(a, MF_RNN_SIMPLE, 0, 0);
    tref_set_int(MF_OP_RNN, a, "layout", 1);
    float *y = tref_run(MF_OP_RNN, a, 6,
                        (mf_type[]){TT(MF_F32, 2, 2, 1), TT(MF_F32, 1, 1, 1), TT(MF_F32, 1, 1, 1), TT(MF_F32, 1, 2),
                                    TT(MF_I32, 2), TT(MF_F32, 2, 1, 1)},
                        (const void *[]){xb, w, r, b, full, h0}, &ot);
    assert_true(ot.rank == 4 && ot.shape[0] == 2 && ot.shape[1] == 2);
    double a0 = tanh(0.4), a1 = tanh(0.2 - 0.5 * a0), b0 = tanh(-0.8), b1 = tanh(1.6 - 0.5 * b0);
    TREF_EXPECT(y, a0, a1, b0, b1);
    free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_einsum),
        cmocka_unit_test(test_simple_rnn),
        cmocka_unit_test(test_gru_and_lstm),
        cmocka_unit_test(test_batch_first),
    };
    return cmocka_run_group_tests_name("ref_einsum_rnn", tests, NULL, NULL);
}
