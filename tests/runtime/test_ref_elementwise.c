/* test_ref_elementwise.c — the reference kernels of the elementwise ops: hand-computed
 * cases for each op, and sweeps of the broadcasting binary ops and the unary functions
 * against formulations written independently here (index unravel, double libm). */
#include <math.h>
#include <stdlib.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/ref_call.h"

/* Runs a two-input op on literal float data. */
static float *run2(mf_op op, const mf_attr *attrs, mf_type ta, const float *a, mf_type tb,
                   const float *b, mf_type *ot)
{
    mf_type types[2] = {ta, tb};
    const void *in[2] = {a, b};
    return tref_run(op, attrs, 2, types, in, ot);
}

static float *run1(mf_op op, const mf_attr *attrs, mf_type t, const float *x, mf_type *ot)
{
    const void *in[1] = {x};
    return tref_run(op, attrs, 1, &t, in, ot);
}

static void test_add_same_shape(void **state)
{
    float a[] = {1, 2, 3, 4}, b[] = {10, 20, 30, 40};
    mf_type ot;
    float *o = run2(MF_OP_ADD, NULL, TT(MF_F32, 2, 2), a, TT(MF_F32, 2, 2), b, &ot);
    TREF_EXPECT(o, 11, 22, 33, 44);
    free(o);
}

static void test_add_alpha(void **state)
{
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_ADD, at);
    tref_set_float(MF_OP_ADD, at, "alpha", 0.5);
    float a[] = {1, 2, 3}, b[] = {10, 20, -30};
    mf_type ot;
    float *o = run2(MF_OP_ADD, at, TT(MF_F32, 3), a, TT(MF_F32, 3), b, &ot);
    TREF_EXPECT(o, 6, 12, -12);
    free(o);
}

static void test_sub_alpha(void **state)
{
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_SUB, at);
    tref_set_float(MF_OP_SUB, at, "alpha", 2.0);
    float a[] = {1, 2, 3}, b[] = {10, 20, -30};
    mf_type ot;
    float *o = run2(MF_OP_SUB, at, TT(MF_F32, 3), a, TT(MF_F32, 3), b, &ot);
    TREF_EXPECT(o, -19, -38, 63);
    free(o);
}

static void test_sub_default_alpha(void **state)
{
    float a[] = {5, 2}, b[] = {1, 7};
    mf_type ot;
    float *o = run2(MF_OP_SUB, NULL, TT(MF_F32, 2), a, TT(MF_F32, 2), b, &ot);
    TREF_EXPECT(o, 4, -5);
    free(o);
}

static void test_add_broadcast_row(void **state)
{
    float a[] = {1, 2, 3, 4, 5, 6}, b[] = {100, 200, 300};
    mf_type ot;
    float *o = run2(MF_OP_ADD, NULL, TT(MF_F32, 2, 3), a, TT(MF_F32, 3), b, &ot);
    assert_int_equal(ot.rank, 2);
    TREF_EXPECT(o, 101, 202, 303, 104, 205, 306);
    free(o);
}

static void test_mul_broadcast_outer(void **state)
{
    float a[] = {1, 2}, b[] = {3, 4, 5};
    mf_type ot;
    float *o = run2(MF_OP_MUL, NULL, TT(MF_F32, 2, 1), a, TT(MF_F32, 1, 3), b, &ot);
    assert_int_equal(ot.shape[0], 2);
    assert_int_equal(ot.shape[1], 3);
    TREF_EXPECT(o, 3, 4, 5, 6, 8, 10);
    free(o);
}

static void test_div_and_scalar(void **state)
{
    float a[] = {1, -2, 3, 8}, s[] = {4};
    mf_type ot;
    float *o = run2(MF_OP_DIV, NULL, TT(MF_F32, 2, 2), a, tref_type(MF_F32, 0, NULL), s, &ot);
    TREF_EXPECT(o, 0.25, -0.5, 0.75, 2);
    free(o);
    o = run2(MF_OP_DIV, NULL, tref_type(MF_F32, 0, NULL), s, TT(MF_F32, 4), a, &ot);
    TREF_EXPECT(o, 4, -2, 4.0 / 3.0, 0.5);
    free(o);
}

/* The ops ONNX brought (Min, Max, PRelu, Elu, Reciprocal, Floor, Ceil, Round, Sign, Erf,
 * Cos, Sin) on values where their definitions differ from the obvious. */
static void test_onnx_elementwise_ops(void **state)
{
    mf_type ot;
    const float a[4] = {1, NAN, -2, 0}, b[4] = {0, 3, NAN, 0};
    float *o = run2(MF_OP_MINIMUM, NULL, TT(MF_F32, 4), a, TT(MF_F32, 4), b, &ot);
    assert_true(o[0] == 0 && isnan(o[1]) && isnan(o[2]) && o[3] == 0); /* NaN wins either side */
    free(o);
    o = run2(MF_OP_MAXIMUM, NULL, TT(MF_F32, 4), a, TT(MF_F32, 4), b, &ot);
    assert_true(o[0] == 1 && isnan(o[1]) && isnan(o[2]));
    free(o);
    const float x[4] = {-2, -1, 1, 2}, slope[2] = {0.5f, 0.25f}; /* [2,2] x, slope per column */
    o = run2(MF_OP_PRELU, NULL, TT(MF_F32, 2, 2), x, TT(MF_F32, 2), slope, &ot);
    assert_true(o[0] == -1.0f && o[1] == -0.25f && o[2] == 1 && o[3] == 2);
    free(o);
    const float r[8] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 2.4f, -2.6f, 0};
    o = run1(MF_OP_ROUND, NULL, TT(MF_F32, 8), r, &ot);
    const float half_even[8] = {0, 2, 2, -0.0f, -2, 2, -3, 0};
    for (int i = 0; i < 8; i++)
        assert_true(o[i] == half_even[i]);
    free(o);
    const float sg[4] = {-3, 0, 2, NAN};
    o = run1(MF_OP_SIGN, NULL, TT(MF_F32, 4), sg, &ot);
    assert_true(o[0] == -1 && o[1] == 0 && o[2] == 1 && isnan(o[3]));
    free(o);
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_ELU, at);
    tref_set_float(MF_OP_ELU, at, "alpha", 2.0);
    const float e[2] = {-1, 3};
    o = run1(MF_OP_ELU, at, TT(MF_F32, 2), e, &ot);
    assert_true(fabsf(o[0] - 2.0f * (expf(-1) - 1)) < 1e-6f && o[1] == 3);
    free(o);
    static const struct { mf_op op; float x, want; } one[] = {
        {MF_OP_RECIPROCAL, 4, 0.25f}, {MF_OP_FLOOR, -1.5f, -2}, {MF_OP_CEIL, -1.5f, -1},
        {MF_OP_ERF, 0, 0},             {MF_OP_COS, 0, 1},       {MF_OP_SIN, 0, 0},
    };
    for (size_t k = 0; k < sizeof one / sizeof one[0]; k++) {
        o = run1(one[k].op, NULL, TT(MF_F32, 1), &one[k].x, &ot);
        assert_true(o[0] == one[k].want);
        free(o);
    }
}

static void test_div_by_zero_is_ieee(void **state)
{
    float a[] = {1, -1, 0}, b[] = {0, 0, 0};
    mf_type ot;
    float *o = run2(MF_OP_DIV, NULL, TT(MF_F32, 3), a, TT(MF_F32, 3), b, &ot);
    TREF_EXPECT(o, INFINITY, -INFINITY, NAN);
    free(o);
}

/* Broadcasting by unravelling each output index and re-ravelling it per input. */
static int64_t source_index(const mf_type *t, const mf_type *ot, int64_t flat)
{
    int64_t idx[MF_MAX_RANK];
    for (int d = ot->rank - 1; d >= 0; d--) {
        idx[d] = flat % ot->shape[d];
        flat /= ot->shape[d];
    }
    int64_t src = 0;
    for (int d = 0; d < t->rank; d++) {
        int od = d + ot->rank - t->rank;
        src = src * t->shape[d] + (t->shape[d] == 1 ? 0 : idx[od]);
    }
    return src;
}

static double naive_binary(mf_op op, double alpha, double x, double y)
{
    switch (op) {
    case MF_OP_ADD: return x + alpha * y;
    case MF_OP_SUB: return x - alpha * y;
    case MF_OP_MUL: return x * y;
    default: return x / y;
    }
}

/* Random shape pairs: each dim of b is either a's, 1, or missing (and vice versa). */
static void random_pair(uint64_t *st, mf_type *a, mf_type *b)
{
    int rank = 1 + (int)(tref_next(st) % 5);
    *a = tref_type(MF_F32, rank, NULL), *b = *a;
    for (int d = 0; d < rank; d++) {
        int64_t n = 1 + (int64_t)(tref_next(st) % 4);
        int r = (int)(tref_next(st) % 4);
        a->shape[d] = r == 1 ? 1 : n;
        b->shape[d] = r == 2 ? 1 : n;
    }
    int drop = (int)(tref_next(st) % (uint64_t)rank); /* make b lower-rank sometimes */
    if (tref_next(st) % 2) {
        b->rank = rank - drop;
        for (int d = 0; d < b->rank; d++)
            b->shape[d] = b->shape[d + drop];
    }
}

static void test_binary_broadcast_sweep(void **state)
{
    const mf_op ops[] = {MF_OP_ADD, MF_OP_SUB, MF_OP_MUL, MF_OP_DIV};
    uint64_t st = 42;
    for (int iter = 0; iter < 200; iter++) {
        mf_op op = ops[iter % 4];
        mf_type ta, tb, ot;
        random_pair(&st, &ta, &tb);
        if (iter % 8 >= 4) { /* swap so a is the lower-rank side too */
            mf_type t = ta;
            ta = tb, tb = t;
        }
        double alpha = 1.0;
        mf_attr at[MF_MAX_ATTRS];
        mf_op_default_attrs(op, at);
        if (op == MF_OP_ADD || op == MF_OP_SUB) {
            alpha = tref_uniform(&st, -2, 2);
            tref_set_float(op, at, "alpha", alpha);
        }
        float *a = tref_rand(mf_type_numel(&ta), st + 1, -3, 3);
        float *b = tref_rand(mf_type_numel(&tb), st + 2, 0.5, 4);
        float *o = run2(op, at, ta, a, tb, b, &ot);
        int64_t n = mf_type_numel(&ot);
        double *want = malloc(sizeof(double) * (size_t)n);
        for (int64_t i = 0; i < n; i++)
            want[i] = naive_binary(op, (float)alpha, a[source_index(&ta, &ot, i)],
                                   b[source_index(&tb, &ot, i)]);
        tref_assert_close(o, want, n);
        free(a), free(b), free(o), free(want);
    }
}

/* ---- unary -------------------------------------------------------------------------- */

static const float unary_in[] = {-4, -1.5f, -0.25f, 0, 0.5f, 2, 3.5f};
#define UNARY_T TT(MF_F32, 7)

static float *run_unary(mf_op op, const mf_attr *at)
{
    mf_type ot;
    return run1(op, at, UNARY_T, unary_in, &ot);
}

static void test_relu(void **state)
{
    float *o = run_unary(MF_OP_RELU, NULL);
    TREF_EXPECT(o, 0, 0, 0, 0, 0.5, 2, 3.5);
    free(o);
}

static void test_clamp(void **state)
{
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CLAMP, at);
    tref_set_float(MF_OP_CLAMP, at, "min", -1);
    tref_set_float(MF_OP_CLAMP, at, "max", 2.5);
    float *o = run_unary(MF_OP_CLAMP, at);
    TREF_EXPECT(o, -1, -1, -0.25, 0, 0.5, 2, 2.5);
    free(o);
}

static void test_clamp_one_sided(void **state)
{
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CLAMP, at); /* max defaults to +inf */
    tref_set_float(MF_OP_CLAMP, at, "min", 0.4);
    float *o = run_unary(MF_OP_CLAMP, at);
    TREF_EXPECT(o, 0.4, 0.4, 0.4, 0.4, 0.5, 2, 3.5);
    free(o);
    mf_op_default_attrs(MF_OP_CLAMP, at);
    o = run_unary(MF_OP_CLAMP, at); /* both infinite: identity */
    tref_assert_close(o, (double[]){-4, -1.5, -0.25, 0, 0.5, 2, 3.5}, 7);
    free(o);
}

static void test_leaky_relu(void **state)
{
    float *o = run_unary(MF_OP_LEAKY_RELU, NULL);
    TREF_EXPECT(o, -0.04, -0.015, -0.0025, 0, 0.5, 2, 3.5);
    free(o);
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_LEAKY_RELU, at);
    tref_set_float(MF_OP_LEAKY_RELU, at, "negative_slope", 0.2);
    o = run_unary(MF_OP_LEAKY_RELU, at);
    TREF_EXPECT(o, -0.8, -0.3, -0.05, 0, 0.5, 2, 3.5);
    free(o);
}

static void test_sigmoid(void **state)
{
    float x[] = {0, 1, -1, 100, -100};
    mf_type ot;
    float *o = run1(MF_OP_SIGMOID, NULL, TT(MF_F32, 5), x, &ot);
    TREF_EXPECT(o, 0.5, 0.7310585786300049, 0.2689414213699951, 1, 3.720075976020836e-44);
    free(o);
}

static void test_tanh(void **state)
{
    float x[] = {0, 0.5f, -2, 20};
    mf_type ot;
    float *o = run1(MF_OP_TANH, NULL, TT(MF_F32, 4), x, &ot);
    TREF_EXPECT(o, 0, 0.46211715726000974, -0.9640275800758169, 1);
    free(o);
}

static void test_hardswish(void **state)
{
    /* x * clamp(x + 3, 0, 6) / 6 */
    float *o = run_unary(MF_OP_HARDSWISH, NULL);
    TREF_EXPECT(o, 0, -0.375, -0.114583333333, 0, 0.291666666667, 1.666666666667, 3.5);
    free(o);
}

static void test_hardsigmoid(void **state)
{
    float *o = run_unary(MF_OP_HARDSIGMOID, NULL); /* clamp(x / 6 + 0.5, 0, 1) */
    TREF_EXPECT(o, 0, 0.25, 0.458333333333, 0.5, 0.583333333333, 0.833333333333, 1);
    free(o);
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_HARDSIGMOID, at);
    tref_set_float(MF_OP_HARDSIGMOID, at, "alpha", 0.2); /* the ONNX defaults */
    tref_set_float(MF_OP_HARDSIGMOID, at, "beta", 0.5);
    o = run_unary(MF_OP_HARDSIGMOID, at);
    TREF_EXPECT(o, 0, 0.2, 0.45, 0.5, 0.6, 0.9, 1);
    free(o);
}

static void test_exp_log(void **state)
{
    float x[] = {0, 1, -2, 0.5f};
    mf_type ot;
    float *o = run1(MF_OP_EXP, NULL, TT(MF_F32, 4), x, &ot);
    TREF_EXPECT(o, 1, 2.718281828459045, 0.1353352832366127, 1.6487212707001282);
    free(o);
    float y[] = {1, 2.718281828f, 0.5f, 0, -1};
    o = run1(MF_OP_LOG, NULL, TT(MF_F32, 5), y, &ot);
    TREF_EXPECT(o, 0, 1, -0.6931471805599453, -INFINITY, NAN);
    free(o);
}

static void test_neg_abs_sqrt(void **state)
{
    float *o = run_unary(MF_OP_NEG, NULL);
    TREF_EXPECT(o, 4, 1.5, 0.25, 0, -0.5, -2, -3.5);
    free(o);
    o = run_unary(MF_OP_ABS, NULL);
    TREF_EXPECT(o, 4, 1.5, 0.25, 0, 0.5, 2, 3.5);
    free(o);
    float x[] = {0, 1, 2.25f, 16, -1};
    mf_type ot;
    o = run1(MF_OP_SQRT, NULL, TT(MF_F32, 5), x, &ot);
    TREF_EXPECT(o, 0, 1, 1.5, 4, NAN);
    free(o);
}

static void test_nan_propagates(void **state)
{
    float x[] = {NAN};
    const mf_op ops[] = {MF_OP_RELU, MF_OP_CLAMP, MF_OP_LEAKY_RELU, MF_OP_SIGMOID,
                         MF_OP_HARDSWISH, MF_OP_ABS};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        mf_attr at[MF_MAX_ATTRS];
        mf_op_default_attrs(ops[i], at);
        if (ops[i] == MF_OP_CLAMP) {
            tref_set_float(MF_OP_CLAMP, at, "min", 0);
            tref_set_float(MF_OP_CLAMP, at, "max", 1);
        }
        mf_type ot;
        float *o = run1(ops[i], at, TT(MF_F32, 1), x, &ot);
        if (!isnan(o[0]))
            fail_msg("%s(NaN) = %g", mf_op_get(ops[i])->name, (double)o[0]);
        free(o);
    }
}

/* Each unary op against a double formulation, on random data over a wide range. */
static double naive_unary(mf_op op, double x)
{
    switch (op) {
    case MF_OP_RELU: return fmax(x, 0);
    case MF_OP_LEAKY_RELU: return x >= 0 ? x : 0.01 * x;
    case MF_OP_SIGMOID: return 0.5 * (1 + tanh(x / 2));
    case MF_OP_TANH: return tanh(x);
    case MF_OP_HARDSWISH: return x <= -3 ? 0 : x >= 3 ? x : x * (x + 3) / 6;
    case MF_OP_HARDSIGMOID: return x <= -3 ? 0 : x >= 3 ? 1 : (x + 3) / 6;
    case MF_OP_EXP: return exp(x);
    case MF_OP_LOG: return log(fabs(x));
    case MF_OP_NEG: return -x;
    case MF_OP_ABS: return fabs(x);
    default: return sqrt(fabs(x));
    }
}

static void test_unary_sweep(void **state)
{
    const mf_op ops[] = {MF_OP_RELU, MF_OP_LEAKY_RELU, MF_OP_SIGMOID, MF_OP_TANH,
                         MF_OP_HARDSWISH, MF_OP_HARDSIGMOID, MF_OP_EXP, MF_OP_LOG,
                         MF_OP_NEG, MF_OP_ABS, MF_OP_SQRT};
    const int64_t n = 1000;
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        float *x = tref_rand(n, 7 + k, -8, 8);
        if (ops[k] == MF_OP_LOG || ops[k] == MF_OP_SQRT)
            for (int64_t i = 0; i < n; i++)
                x[i] = fabsf(x[i]) + 1e-3f;
        mf_type ot;
        float *o = run1(ops[k], NULL, TT(MF_F32, 10, 100), x, &ot);
        double want[1000];
        for (int64_t i = 0; i < n; i++)
            want[i] = naive_unary(ops[k], x[i]);
        tref_assert_close(o, want, n);
        free(x), free(o);
    }
}

/* ---- batch norm -------------------------------------------------------------------- */

static float *run_bn(mf_type xt, const float *x, const float *w, const float *b,
                     const float *mean, const float *var, double eps, mf_type *ot)
{
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_BATCH_NORM, at);
    tref_set_float(MF_OP_BATCH_NORM, at, "eps", eps);
    mf_type ct = TT(MF_F32, xt.shape[1]);
    mf_type types[5] = {xt, ct, ct, ct, ct};
    const void *in[5] = {x, w, b, mean, var};
    return tref_run(MF_OP_BATCH_NORM, at, 5, types, in, ot);
}

static void test_batch_norm_literal(void **state)
{
    /* [1, 2, 2]: channel 0 mean 1 var 4 w 2 b 1; channel 1 mean -1 var 0.25 w 1 b 0 */
    float x[] = {1, 3, 0, -2}, w[] = {2, 1}, b[] = {1, 0}, mean[] = {1, -1}, var[] = {4, 0.25f};
    mf_type ot;
    float *o = run_bn(TT(MF_F32, 1, 2, 2), x, w, b, mean, var, 0, &ot);
    TREF_EXPECT(o, 1, 3, 2, -2);
    free(o);
    o = run_bn(TT(MF_F32, 1, 2, 2), x, w, b, mean, var, 0.75, &ot); /* var + eps: 4.75, 1 */
    TREF_EXPECT(o, 1, 1 + 4 / sqrt(4.75), 1, -1);
    free(o);
}

static void test_batch_norm_sweep(void **state)
{
    const mf_type shapes[] = {TT(MF_F32, 3, 4), TT(MF_F32, 2, 5, 7), TT(MF_F32, 2, 3, 4, 5)};
    for (int k = 0; k < 3; k++) {
        mf_type xt = shapes[k], ot;
        int64_t n = mf_type_numel(&xt), ch = xt.shape[1], inner = n / xt.shape[0] / ch;
        float *x = tref_rand(n, 100 + k, -5, 5), *w = tref_rand(ch, 200 + k, -2, 2);
        float *b = tref_rand(ch, 300 + k, -1, 1), *mean = tref_rand(ch, 400 + k, -1, 1);
        float *var = tref_rand(ch, 500 + k, 0.1, 3);
        float *o = run_bn(xt, x, w, b, mean, var, 1e-5, &ot);
        double *want = malloc(sizeof(double) * (size_t)n);
        for (int64_t i = 0; i < n; i++) {
            int64_t cc = i / inner % ch;
            want[i] = (x[i] - mean[cc]) / sqrt(var[cc] + 1e-5) * w[cc] + b[cc];
        }
        tref_assert_close_tol(o, want, n, 1e-5, 1e-5);
        free(x), free(w), free(b), free(mean), free(var), free(o), free(want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_same_shape),
        cmocka_unit_test(test_add_alpha),
        cmocka_unit_test(test_sub_alpha),
        cmocka_unit_test(test_sub_default_alpha),
        cmocka_unit_test(test_add_broadcast_row),
        cmocka_unit_test(test_mul_broadcast_outer),
        cmocka_unit_test(test_div_and_scalar),
        cmocka_unit_test(test_div_by_zero_is_ieee),
        cmocka_unit_test(test_onnx_elementwise_ops),
        cmocka_unit_test(test_binary_broadcast_sweep),
        cmocka_unit_test(test_relu),
        cmocka_unit_test(test_clamp),
        cmocka_unit_test(test_clamp_one_sided),
        cmocka_unit_test(test_leaky_relu),
        cmocka_unit_test(test_sigmoid),
        cmocka_unit_test(test_tanh),
        cmocka_unit_test(test_hardswish),
        cmocka_unit_test(test_hardsigmoid),
        cmocka_unit_test(test_exp_log),
        cmocka_unit_test(test_neg_abs_sqrt),
        cmocka_unit_test(test_nan_propagates),
        cmocka_unit_test(test_unary_sweep),
        cmocka_unit_test(test_batch_norm_literal),
        cmocka_unit_test(test_batch_norm_sweep),
    };
    return cmocka_run_group_tests_name("ref_elementwise", tests, NULL, NULL);
}
