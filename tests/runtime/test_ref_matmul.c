/* test_ref_matmul.c — the reference linear and matmul: hand-computed cases (bias, 1-D
 * promotion both sides, the 1-D·1-D dot) and sweeps against a per-element formulation
 * written here, with leading dims for linear and broadcast batches for matmul. */
#include <math.h>
#include <stdlib.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/ref_call.h"

static float *run2(mf_op op, mf_type ta, const float *a, mf_type tb, const float *b,
                   mf_type *ot)
{
    mf_type types[2] = {ta, tb};
    const void *in[2] = {a, b};
    return tref_run(op, NULL, 2, types, in, ot);
}

static float *run_linear(mf_type xt, const float *x, mf_type wt, const float *w,
                         const float *bias, mf_type *ot)
{
    mf_type types[3] = {xt, wt, TT(MF_F32, wt.shape[0])};
    const void *in[3] = {x, w, bias};
    return tref_run(MF_OP_LINEAR, NULL, bias ? 3 : 2, types, in, ot);
}

static void test_linear_literal(void **state)
{
    float x[] = {1, 2, 3, 4, 5, 6};         /* [2, 3] */
    float w[] = {1, 0, -1, 0.5f, 0.5f, 0.5f}; /* [2, 3] */
    mf_type ot;
    float *o = run_linear(TT(MF_F32, 2, 3), x, TT(MF_F32, 2, 3), w, NULL, &ot);
    assert_int_equal(ot.shape[1], 2);
    TREF_EXPECT(o, -2, 3, -2, 7.5);
    free(o);
}

static void test_linear_bias_1d_input(void **state)
{
    float x[] = {1, -1}, w[] = {2, 3, 4, 5, 6, 7}, b[] = {10, 20, 30}; /* w [3, 2] */
    mf_type ot;
    float *o = run_linear(TT(MF_F32, 2), x, TT(MF_F32, 3, 2), w, b, &ot);
    assert_int_equal(ot.rank, 1);
    assert_int_equal(ot.shape[0], 3);
    TREF_EXPECT(o, 9, 19, 29);
    free(o);
}

static void test_linear_sweep(void **state)
{
    const mf_type xs[] = {TT(MF_F32, 5, 17), TT(MF_F32, 2, 3, 17), TT(MF_F32, 2, 1, 3, 17),
                          TT(MF_F32, 1, 64)};
    for (int k = 0; k < 4; k++) {
        mf_type xt = xs[k], wt = TT(MF_F32, 9, xt.shape[xt.rank - 1]), ot;
        int64_t kk = wt.shape[1], rows = mf_type_numel(&xt) / kk;
        float *x = tref_rand(mf_type_numel(&xt), 10 + k, -1, 1);
        float *w = tref_rand(mf_type_numel(&wt), 20 + k, -1, 1);
        float *b = k % 2 ? tref_rand(9, 30 + k, -1, 1) : NULL;
        float *o = run_linear(xt, x, wt, w, b, &ot);
        assert_int_equal(mf_type_numel(&ot), rows * 9);
        double *want = malloc(sizeof(double) * (size_t)(rows * 9));
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < 9; j++) {
                double s = 0;
                for (int64_t i = kk - 1; i >= 0; i--) /* summed backwards on purpose */
                    s += (double)x[r * kk + i] * w[j * kk + i];
                want[r * 9 + j] = s + (b ? b[j] : 0);
            }
        tref_assert_close(o, want, rows * 9);
        free(x), free(w), free(b), free(o), free(want);
    }
}

static void test_matmul_2d(void **state)
{
    float a[] = {1, 2, 3, 4, 5, 6}, b[] = {7, 8, 9, 10, 11, 12}; /* [2,3] x [3,2] */
    mf_type ot;
    float *o = run2(MF_OP_MATMUL, TT(MF_F32, 2, 3), a, TT(MF_F32, 3, 2), b, &ot);
    TREF_EXPECT(o, 58, 64, 139, 154);
    free(o);
}

static void test_matmul_1d_left(void **state)
{
    float a[] = {1, 2, 3}, b[] = {7, 8, 9, 10, 11, 12};
    mf_type ot;
    float *o = run2(MF_OP_MATMUL, TT(MF_F32, 3), a, TT(MF_F32, 3, 2), b, &ot);
    assert_int_equal(ot.rank, 1);
    TREF_EXPECT(o, 58, 64);
    free(o);
}

static void test_matmul_1d_right(void **state)
{
    float a[] = {1, 2, 3, 4, 5, 6}, b[] = {1, 0, -1};
    mf_type ot;
    float *o = run2(MF_OP_MATMUL, TT(MF_F32, 2, 3), a, TT(MF_F32, 3), b, &ot);
    assert_int_equal(ot.rank, 1);
    TREF_EXPECT(o, -2, -2);
    free(o);
}

static void test_matmul_dot(void **state)
{
    float a[] = {1, 2, 3}, b[] = {4, -5, 6};
    mf_type ot;
    float *o = run2(MF_OP_MATMUL, TT(MF_F32, 3), a, TT(MF_F32, 3), b, &ot);
    assert_int_equal(ot.rank, 0);
    TREF_EXPECT(o, 12);
    free(o);
}

static void test_matmul_batched_literal(void **state)
{
    /* [2, 1, 2] x [2, 1]: two row vectors times one shared column */
    float a[] = {1, 2, 3, 4}, b[] = {10, 1};
    mf_type ot;
    float *o = run2(MF_OP_MATMUL, TT(MF_F32, 2, 1, 2), a, TT(MF_F32, 2, 1), b, &ot);
    assert_int_equal(ot.rank, 3);
    TREF_EXPECT(o, 12, 34);
    free(o);
}

/* C[idx] computed one element at a time from the torch rules, with explicit unravel. */
static double naive_matmul_at(const mf_type *ta, const float *a, const mf_type *tb,
                              const float *b, const mf_type *ot, int64_t flat)
{
    bool a1 = ta->rank == 1, b1 = tb->rank == 1;
    int64_t idx[MF_MAX_RANK + 2] = {0}, full[MF_MAX_RANK + 2];
    int orank = ot->rank; /* re-insert the dims that 1-D promotion removed */
    int frank = 0;
    for (int d = 0; d < orank; d++)
        full[frank++] = ot->shape[d];
    if (b1)
        full[frank++] = 1;
    if (a1) {
        full[frank] = full[frank - 1];
        full[frank - 1] = 1;
        frank++;
    }
    for (int d = frank - 1; d >= 0; d--) {
        idx[d] = flat % full[d];
        flat /= full[d];
    }
    int64_t i = idx[frank - 2], j = idx[frank - 1], k = a1 ? ta->shape[0] : ta->shape[ta->rank - 1];
    int64_t m = a1 ? 1 : ta->shape[ta->rank - 2], p = b1 ? 1 : tb->shape[tb->rank - 1];
    int abr = a1 ? 0 : ta->rank - 2, bbr = b1 ? 0 : tb->rank - 2;
    int64_t aoff = 0, boff = 0;
    for (int d = 0; d < abr; d++)
        aoff = aoff * ta->shape[d] + (ta->shape[d] == 1 ? 0 : idx[d + frank - 2 - abr]);
    for (int d = 0; d < bbr; d++)
        boff = boff * tb->shape[d] + (tb->shape[d] == 1 ? 0 : idx[d + frank - 2 - bbr]);
    double s = 0;
    for (int64_t l = 0; l < k; l++)
        s += (double)a[aoff * m * k + i * k + l] * b[boff * k * p + l * p + j];
    return s;
}

static void check_matmul(mf_type ta, mf_type tb, uint64_t seed)
{
    float *a = tref_rand(mf_type_numel(&ta), seed, -1, 1);
    float *b = tref_rand(mf_type_numel(&tb), seed + 1, -1, 1);
    mf_type ot;
    float *o = run2(MF_OP_MATMUL, ta, a, tb, b, &ot);
    int64_t n = mf_type_numel(&ot);
    double *want = malloc(sizeof(double) * (size_t)(n + 1));
    for (int64_t i = 0; i < n; i++)
        want[i] = naive_matmul_at(&ta, a, &tb, b, &ot, i);
    tref_assert_close(o, want, n);
    free(a), free(b), free(o), free(want);
}

static void test_matmul_batched_broadcast(void **state)
{
    check_matmul(TT(MF_F32, 2, 1, 3, 4), TT(MF_F32, 5, 4, 2), 1);
    check_matmul(TT(MF_F32, 3, 4), TT(MF_F32, 2, 3, 4, 5), 2);
    check_matmul(TT(MF_F32, 1, 3, 2, 4), TT(MF_F32, 2, 1, 4, 3), 3);
    check_matmul(TT(MF_F32, 7, 6, 5), TT(MF_F32, 7, 5, 6), 4);
    check_matmul(TT(MF_F32, 1, 1, 16), TT(MF_F32, 16, 33), 5);
}

static void test_matmul_batched_1d(void **state)
{
    check_matmul(TT(MF_F32, 2, 3, 4), TT(MF_F32, 4), 11);  /* [2, 3] */
    check_matmul(TT(MF_F32, 4), TT(MF_F32, 2, 4, 3), 12);  /* [2, 3] */
    check_matmul(TT(MF_F32, 5), TT(MF_F32, 3, 1, 5, 2), 13);
    check_matmul(TT(MF_F32, 9), TT(MF_F32, 9), 14);
}

static void test_matmul_sweep(void **state)
{
    uint64_t st = 77;
    for (int iter = 0; iter < 100; iter++) {
        int64_t m = 1 + (int64_t)(tref_next(&st) % 5), k = 1 + (int64_t)(tref_next(&st) % 6);
        int64_t p = 1 + (int64_t)(tref_next(&st) % 5);
        int ra = (int)(tref_next(&st) % 5), rb = (int)(tref_next(&st) % 5); /* 0: 1-D */
        mf_type ta = tref_type(MF_F32, ra ? ra + 1 : 1, NULL);
        mf_type tb = tref_type(MF_F32, rb ? rb + 1 : 1, NULL);
        int64_t batch[4];
        for (int d = 0; d < 4; d++)
            batch[d] = 1 + (int64_t)(tref_next(&st) % 3);
        for (int d = 0; d < ra - 1; d++)
            ta.shape[d] = tref_next(&st) % 3 ? batch[4 - (ra - 1) + d] : 1;
        for (int d = 0; d < rb - 1; d++)
            tb.shape[d] = tref_next(&st) % 3 ? batch[4 - (rb - 1) + d] : 1;
        if (ra)
            ta.shape[ra - 1] = m, ta.shape[ra] = k;
        else
            ta.shape[0] = k;
        if (rb)
            tb.shape[rb - 1] = k, tb.shape[rb] = p;
        else
            tb.shape[0] = k;
        check_matmul(ta, tb, st);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_literal),
        cmocka_unit_test(test_linear_bias_1d_input),
        cmocka_unit_test(test_linear_sweep),
        cmocka_unit_test(test_matmul_2d),
        cmocka_unit_test(test_matmul_1d_left),
        cmocka_unit_test(test_matmul_1d_right),
        cmocka_unit_test(test_matmul_dot),
        cmocka_unit_test(test_matmul_batched_literal),
        cmocka_unit_test(test_matmul_batched_broadcast),
        cmocka_unit_test(test_matmul_batched_1d),
        cmocka_unit_test(test_matmul_sweep),
    };
    return cmocka_run_group_tests_name("ref_matmul", tests, NULL, NULL);
}
