/* test_ref_reduce.c — the reference reductions: softmax and log_softmax by hand and on
 * every dim of rank-3/4 tensors (including huge inputs that would overflow a naive exp),
 * and sum/mean over several dims with and without keepdim, against loops written here
 * over unravelled indices. */
#include <math.h>
#include <stdlib.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/ref_call.h"

static float *run_softmax(mf_op op, int64_t dim, mf_type xt, const float *x, mf_type *ot)
{
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(op, at);
    tref_set_int(op, at, "dim", dim);
    const void *in[1] = {x};
    return tref_run(op, at, 1, &xt, in, ot);
}

static void test_softmax_last_dim(void **state)
{
    float x[] = {0, 0, 1, 2, 3, 4}; /* [2, 3] */
    mf_type ot;
    float *o = run_softmax(MF_OP_SOFTMAX, -1, TT(MF_F32, 2, 3), x, &ot);
    TREF_EXPECT(o, 0.21194155761708547, 0.21194155761708547, 0.5761168847658291,
                0.09003057317038046, 0.24472847105479764, 0.6652409557748219);
    free(o);
}

static void test_softmax_dim0(void **state)
{
    float x[] = {0, 1, 2, 0, 0, 3}; /* [2, 3], columns (0, 0) (1, 0) (2, 3) */
    mf_type ot;
    float *o = run_softmax(MF_OP_SOFTMAX, 0, TT(MF_F32, 2, 3), x, &ot);
    TREF_EXPECT(o, 0.5, 0.7310585786300049, 0.2689414213699951, 0.5, 0.2689414213699951,
                0.7310585786300049);
    free(o);
}

static void test_log_softmax_literal(void **state)
{
    float x[] = {1, 2, 3};
    mf_type ot;
    float *o = run_softmax(MF_OP_LOG_SOFTMAX, 0, TT(MF_F32, 3), x, &ot);
    TREF_EXPECT(o, -2.4076059644443806, -1.4076059644443806, -0.4076059644443806);
    free(o);
}

static void test_softmax_is_stable(void **state)
{
    float x[] = {1000, 1001, -1000, -1001};
    mf_type ot;
    float *o = run_softmax(MF_OP_SOFTMAX, 1, TT(MF_F32, 2, 2), x, &ot);
    TREF_EXPECT(o, 0.2689414213699951, 0.7310585786300049, 0.7310585786300049,
                0.2689414213699951);
    free(o);
    o = run_softmax(MF_OP_LOG_SOFTMAX, 1, TT(MF_F32, 2, 2), x, &ot);
    TREF_EXPECT(o, -1.3132616875182228, -0.31326168751822286, -0.31326168751822286,
                -1.3132616875182228);
    free(o);
}

/* Softmax along dim d of x, by stepping through an unravelled index. */
static void naive_softmax(const mf_type *t, const float *x, int d, bool log_out, double *out)
{
    int64_t n = mf_type_numel(t), stride = 1;
    for (int i = t->rank - 1; i > d; i--)
        stride *= t->shape[i];
    for (int64_t i = 0; i < n; i++) {
        int64_t pos = i / stride % t->shape[d], first = i - pos * stride;
        double m = -INFINITY, s = 0;
        for (int64_t j = 0; j < t->shape[d]; j++)
            m = fmax(m, x[first + j * stride]);
        for (int64_t j = 0; j < t->shape[d]; j++)
            s += exp(x[first + j * stride] - m);
        out[i] = log_out ? x[i] - m - log(s) : exp(x[i] - m) / s;
    }
}

static void sweep_softmax(mf_op op)
{
    const mf_type shapes[] = {TT(MF_F32, 7), TT(MF_F32, 3, 5, 4), TT(MF_F32, 2, 3, 4, 5),
                              TT(MF_F32, 1, 1000), TT(MF_F32, 4, 1, 3)};
    for (int k = 0; k < 5; k++) {
        mf_type t = shapes[k];
        int64_t n = mf_type_numel(&t);
        float *x = tref_rand(n, 40 + k, -20, 20);
        double *want = malloc(sizeof(double) * (size_t)n);
        for (int d = -t.rank; d < t.rank; d++) {
            mf_type ot;
            float *o = run_softmax(op, d, t, x, &ot);
            naive_softmax(&t, x, d < 0 ? d + t.rank : d, op == MF_OP_LOG_SOFTMAX, want);
            tref_assert_close_tol(o, want, n, 1e-5, 1e-7);
            free(o);
        }
        free(x), free(want);
    }
}

static void test_softmax_sweep(void **state)
{
    sweep_softmax(MF_OP_SOFTMAX);
}

static void test_log_softmax_sweep(void **state)
{
    sweep_softmax(MF_OP_LOG_SOFTMAX);
}

/* ---- sum and mean --------------------------------------------------------------------- */

static float *run_reduce(mf_op op, int n, const int64_t *dims, int keep, mf_type xt,
                         const float *x, mf_type *ot)
{
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(op, at);
    int64_t none[1] = {0}; /* mf_attr_set_ints memcpys from dims even when n is 0 */
    tref_set_ints(op, at, "dims", n, dims ? dims : none);
    tref_set_int(op, at, "keepdim", keep);
    const void *in[1] = {x};
    return tref_run(op, at, 1, &xt, in, ot);
}

static const float m23[] = {1, 2, 3, 4, 5, 6}; /* [2, 3] */

static void test_sum_all(void **state)
{
    mf_type ot;
    float *o = run_reduce(MF_OP_SUM, 0, NULL, 0, TT(MF_F32, 2, 3), m23, &ot);
    assert_int_equal(ot.rank, 0);
    TREF_EXPECT(o, 21);
    free(o);
    o = run_reduce(MF_OP_SUM, 0, NULL, 1, TT(MF_F32, 2, 3), m23, &ot);
    assert_int_equal(ot.rank, 2);
    assert_int_equal(ot.shape[0] * ot.shape[1], 1);
    TREF_EXPECT(o, 21);
    free(o);
}

static void test_sum_one_dim(void **state)
{
    mf_type ot;
    float *o = run_reduce(MF_OP_SUM, 1, (int64_t[]){0}, 0, TT(MF_F32, 2, 3), m23, &ot);
    assert_int_equal(ot.rank, 1);
    TREF_EXPECT(o, 5, 7, 9);
    free(o);
    o = run_reduce(MF_OP_SUM, 1, (int64_t[]){1}, 1, TT(MF_F32, 2, 3), m23, &ot);
    assert_int_equal(ot.shape[1], 1);
    TREF_EXPECT(o, 6, 15);
    free(o);
}

static void test_mean_multi_dim(void **state)
{
    float x[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)i; /* [2, 3, 4] */
    mf_type ot;
    float *o = run_reduce(MF_OP_MEAN, 2, (int64_t[]){0, 2}, 0, TT(MF_F32, 2, 3, 4), x, &ot);
    assert_int_equal(ot.rank, 1);
    TREF_EXPECT(o, 7.5, 11.5, 15.5);
    free(o);
    o = run_reduce(MF_OP_MEAN, 2, (int64_t[]){-1, -2}, 1, TT(MF_F32, 2, 3, 4), x, &ot);
    assert_int_equal(ot.rank, 3);
    assert_int_equal(ot.shape[0], 2);
    TREF_EXPECT(o, 5.5, 17.5);
    free(o);
}

static void test_mean_global_pool(void **state)
{
    /* mean over (2, 3) with keepdim, as a global average pool */
    float x[] = {1, 2, 3, 4, 10, 20, 30, 40};
    mf_type ot;
    float *o = run_reduce(MF_OP_MEAN, 2, (int64_t[]){2, 3}, 1, TT(MF_F32, 1, 2, 2, 2), x, &ot);
    TREF_EXPECT(o, 2.5, 25);
    free(o);
}

static void test_sum_scalar_input(void **state)
{
    float x[] = {3.5f};
    mf_type ot;
    float *o = run_reduce(MF_OP_SUM, 0, NULL, 0, tref_type(MF_F32, 0, NULL), x, &ot);
    TREF_EXPECT(o, 3.5);
    free(o);
}

static void test_sum_accumulates_in_double(void **state)
{
    /* 2^24 + 1 + 1 + ... : float accumulation would lose every 1 */
    enum { N = 1001 };
    float x[N];
    x[0] = 16777216.0f;
    for (int i = 1; i < N; i++)
        x[i] = 1.0f;
    mf_type ot;
    float *o = run_reduce(MF_OP_SUM, 0, NULL, 0, TT(MF_F32, N), x, &ot);
    TREF_EXPECT(o, 16777216.0 + 1000);
    free(o);
}

/* Sum over the dims in mask, output index built from the kept dims. */
static void naive_reduce(const mf_type *t, const float *x, const bool *mask, bool mean,
                         int64_t on, double *out)
{
    int64_t n = mf_type_numel(t), count = 1;
    for (int d = 0; d < t->rank; d++)
        if (mask[d])
            count *= t->shape[d];
    for (int64_t i = 0; i < on; i++)
        out[i] = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t idx[MF_MAX_RANK], rem = i, o = 0;
        for (int d = t->rank - 1; d >= 0; d--) {
            idx[d] = rem % t->shape[d];
            rem /= t->shape[d];
        }
        for (int d = 0; d < t->rank; d++)
            if (!mask[d])
                o = o * t->shape[d] + idx[d];
        out[o] += x[i];
    }
    if (mean)
        for (int64_t i = 0; i < on; i++)
            out[i] /= (double)count;
}

static void sweep_reduce(mf_op op, uint64_t seed)
{
    uint64_t st = seed;
    for (int iter = 0; iter < 200; iter++) {
        int rank = 1 + (int)(tref_next(&st) % 5);
        mf_type t = tref_type(MF_F32, rank, NULL);
        for (int d = 0; d < rank; d++)
            t.shape[d] = 1 + (int64_t)(tref_next(&st) % 4);
        bool mask[MF_MAX_RANK] = {0};
        int64_t dims[MF_MAX_RANK];
        int nd = 0;
        for (int d = 0; d < rank; d++)
            if (tref_next(&st) % 2) {
                mask[d] = true;
                dims[nd++] = tref_next(&st) % 2 ? d : d - rank;
            }
        if (!nd)
            for (int d = 0; d < rank; d++)
                mask[d] = true;
        for (int i = 0; i + 1 < nd; i++) { /* order must not matter */
            int j = i + (int)(tref_next(&st) % (uint64_t)(nd - i));
            int64_t tmp = dims[i];
            dims[i] = dims[j], dims[j] = tmp;
        }
        int keep = (int)(tref_next(&st) % 2);
        float *x = tref_rand(mf_type_numel(&t), st, -10, 10);
        mf_type ot;
        float *o = run_reduce(op, nd, dims, keep, t, x, &ot);
        int64_t on = mf_type_numel(&ot);
        assert_int_equal(ot.rank, keep ? rank : rank - (nd ? nd : rank));
        double *want = malloc(sizeof(double) * (size_t)on);
        naive_reduce(&t, x, mask, op == MF_OP_MEAN, on, want);
        tref_assert_close_tol(o, want, on, 1e-5, 1e-5);
        free(x), free(o), free(want);
    }
}

static void test_sum_sweep(void **state)
{
    sweep_reduce(MF_OP_SUM, 3);
}

static void test_mean_sweep(void **state)
{
    sweep_reduce(MF_OP_MEAN, 4);
}

/* ONNX's other reductions over dim 1 of [[1, 2], [3, 4]], and over an empty dim, where each
 * gives its identity (max -inf, min inf, prod 1, the sums 0, log_sum_exp -inf). */
static void test_onnx_reductions(void **state)
{
    const float x[4] = {1, 2, 3, 4};
    static const struct { mf_op op; double want[2], empty; } cases[] = {
        {MF_OP_REDUCE_MAX, {2, 4}, -INFINITY},
        {MF_OP_REDUCE_MIN, {1, 3}, INFINITY},
        {MF_OP_REDUCE_PROD, {2, 12}, 1},
        {MF_OP_REDUCE_L1, {3, 7}, 0},
        {MF_OP_REDUCE_L2, {2.2360679775, 5}, 0},
        {MF_OP_REDUCE_SUM_SQUARE, {5, 25}, 0},
        {MF_OP_REDUCE_LOG_SUM, {1.0986122887, 1.9459101091}, -INFINITY},
        {MF_OP_REDUCE_LOG_SUM_EXP, {2.3132616875, 4.3132616875}, -INFINITY},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        mf_type ot;
        float *o = run_reduce(cases[k].op, 1, (int64_t[]){1}, 0, TT(MF_F32, 2, 2), x, &ot);
        tref_assert_close_tol(o, cases[k].want, 2, 1e-6, 0);
        free(o);
        o = run_reduce(cases[k].op, 1, (int64_t[]){1}, 0, TT(MF_F32, 2, 0), x, &ot);
        assert_true(o[0] == (float)cases[k].empty && o[1] == (float)cases[k].empty);
        free(o);
    }
    const float nan_in[2] = {1, NAN};
    mf_type ot;
    float *o = run_reduce(MF_OP_REDUCE_MAX, 0, NULL, 0, TT(MF_F32, 2), nan_in, &ot);
    assert_true(isnan(o[0])); /* NaN wins */
    free(o);
}

/* argmax/argmin along dim 1 of [[1, 3, 3], [NaN, 0, 0]]: ties go to the first index, or
 * the last with select_last_index; NaN is the extreme. */
static void test_arg_reduce(void **state)
{
    const float x[6] = {1, 3, 3, NAN, 0, 0};
    static const struct { mf_op op; int last; int64_t want[2]; } cases[] = {
        {MF_OP_ARGMAX, 0, {1, 0}}, {MF_OP_ARGMAX, 1, {2, 0}},
        {MF_OP_ARGMIN, 0, {0, 0}}, {MF_OP_ARGMIN, 1, {0, 0}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        mf_attr at[MF_MAX_ATTRS];
        mf_op_default_attrs(cases[k].op, at);
        tref_set_int(cases[k].op, at, "dim", -1);
        tref_set_int(cases[k].op, at, "keepdim", 0);
        tref_set_int(cases[k].op, at, "select_last_index", cases[k].last);
        mf_type xt = TT(MF_F32, 2, 3), ot;
        const void *in[1] = {x};
        int64_t *o = tref_run(cases[k].op, at, 1, &xt, in, &ot);
        assert_int_equal(ot.dtype, MF_I64);
        assert_int_equal(ot.rank, 1);
        assert_int_equal(o[0], cases[k].want[0]);
        assert_int_equal(o[1], cases[k].want[1]);
        free(o);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_softmax_last_dim),
        cmocka_unit_test(test_softmax_dim0),
        cmocka_unit_test(test_log_softmax_literal),
        cmocka_unit_test(test_softmax_is_stable),
        cmocka_unit_test(test_softmax_sweep),
        cmocka_unit_test(test_log_softmax_sweep),
        cmocka_unit_test(test_sum_all),
        cmocka_unit_test(test_sum_one_dim),
        cmocka_unit_test(test_mean_multi_dim),
        cmocka_unit_test(test_mean_global_pool),
        cmocka_unit_test(test_sum_scalar_input),
        cmocka_unit_test(test_sum_accumulates_in_double),
        cmocka_unit_test(test_sum_sweep),
        cmocka_unit_test(test_mean_sweep),
        cmocka_unit_test(test_onnx_reductions),
        cmocka_unit_test(test_arg_reduce),
    };
    return cmocka_run_group_tests_name("ref_reduce", tests, NULL, NULL);
}
