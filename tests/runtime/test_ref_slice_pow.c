/* test_ref_slice_pow.c — the reference slice (ONNX semantics: negative indices, clamping,
 * steps of either sign, any dtype) and pow kernels, by hand and against index arithmetic
 * written here. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/ref_call.h"

static void *run_slice(mf_type t, const void *x, int n, const int64_t *starts, const int64_t *ends,
                       const int64_t *axes, const int64_t *steps, mf_type *ot)
{
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_SLICE, at);
    tref_set_ints(MF_OP_SLICE, at, "starts", n, starts);
    tref_set_ints(MF_OP_SLICE, at, "ends", n, ends);
    tref_set_ints(MF_OP_SLICE, at, "axes", axes ? n : 0, axes);
    tref_set_ints(MF_OP_SLICE, at, "steps", steps ? n : 0, steps);
    const void *in[1] = {x};
    return tref_run(MF_OP_SLICE, at, 1, &t, in, ot);
}

static void test_slice_by_hand(void **state)
{
    float x[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}; /* [3, 4] */
    mf_type ot;
    float *o = run_slice(TT(MF_F32, 3, 4), x, 2, (int64_t[]){1, -3}, (int64_t[]){100, -1}, NULL, NULL, &ot);
    assert_int_equal(ot.shape[0], 2);
    assert_int_equal(ot.shape[1], 2);
    TREF_EXPECT(o, 5, 6, 9, 10);
    free(o);
    o = run_slice(TT(MF_F32, 3, 4), x, 1, (int64_t[]){-1}, (int64_t[]){INT64_MIN}, (int64_t[]){1},
                  (int64_t[]){-2}, &ot); /* x[:, ::-2] */
    assert_int_equal(ot.shape[1], 2);
    TREF_EXPECT(o, 3, 1, 7, 5, 11, 9);
    free(o);
}

static void test_slice_empty_and_i64(void **state)
{
    int64_t x[] = {10, 20, 30, 40};
    mf_type ot;
    int64_t *o = run_slice(TT(MF_I64, 4), x, 1, (int64_t[]){1}, (int64_t[]){4}, NULL, (int64_t[]){2}, &ot);
    assert_int_equal(ot.shape[0], 2);
    assert_int_equal(o[0], 20);
    assert_int_equal(o[1], 40);
    free(o);
    o = run_slice(TT(MF_I64, 4), x, 1, (int64_t[]){3}, (int64_t[]){1}, NULL, NULL, &ot);
    assert_int_equal(ot.shape[0], 0);
    free(o);
}

static void test_slice_sweep(void **state)
{
    uint64_t seed = 3;
    for (int trial = 0; trial < 50; trial++) {
        int64_t shape[3], st[3], en[3], sp[3], cnt[3];
        for (int d = 0; d < 3; d++) {
            shape[d] = 1 + (int64_t)(tref_next(&seed) % 6);
            sp[d] = (tref_next(&seed) % 2 ? 1 : -1) * (1 + (int64_t)(tref_next(&seed) % 2));
            st[d] = (int64_t)(tref_next(&seed) % 9) - 4;
            en[d] = (int64_t)(tref_next(&seed) % 9) - 4;
        }
        mf_type t = tref_type(MF_F32, 3, shape), ot;
        float *x = tref_rand(mf_type_numel(&t), (uint64_t)trial, -1, 1);
        float *o = run_slice(t, x, 3, st, en, NULL, sp, &ot);
        /* python's slice.indices, written out: the first index and the count per dim */
        int64_t first[3];
        for (int d = 0; d < 3; d++) {
            int64_t n = shape[d], b = st[d] < 0 ? st[d] + n : st[d], e = en[d] < 0 ? en[d] + n : en[d];
            if (sp[d] > 0) {
                b = b < 0 ? 0 : b > n ? n : b;
                e = e < 0 ? 0 : e > n ? n : e;
            } else {
                b = b < -1 ? -1 : b > n - 1 ? n - 1 : b;
                e = e < -1 ? -1 : e > n - 1 ? n - 1 : e;
            }
            cnt[d] = 0;
            for (int64_t i = b; sp[d] > 0 ? i < e : i > e; i += sp[d])
                cnt[d]++;
            first[d] = b;
            assert_int_equal(ot.shape[d], cnt[d]);
        }
        int64_t on = cnt[0] * cnt[1] * cnt[2], k = 0;
        double *want = malloc(sizeof *want * (size_t)(on ? on : 1));
        for (int64_t i = 0; i < cnt[0]; i++)
            for (int64_t j = 0; j < cnt[1]; j++)
                for (int64_t l = 0; l < cnt[2]; l++)
                    want[k++] = x[((first[0] + i * sp[0]) * shape[1] + first[1] + j * sp[1]) * shape[2] +
                                  first[2] + l * sp[2]];
        tref_assert_close(o, want, on);
        free(x), free(o), free(want);
    }
}

static void test_slice_errors(void **state)
{
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_SLICE, at);
    tref_set_ints(MF_OP_SLICE, at, "starts", 1, (int64_t[]){0});
    tref_set_ints(MF_OP_SLICE, at, "ends", 2, (int64_t[]){1, 1});
    mf_type in = TT(MF_F32, 4, 4), out;
    assert_int_equal(mf_op_infer(MF_OP_SLICE, at, 1, &in, &out), MF_ERR_INVALID);
    tref_set_ints(MF_OP_SLICE, at, "ends", 1, (int64_t[]){1});
    tref_set_ints(MF_OP_SLICE, at, "steps", 1, (int64_t[]){0});
    assert_int_equal(mf_op_infer(MF_OP_SLICE, at, 1, &in, &out), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "step 0 is 0"));
}

static void test_pow_broadcast(void **state)
{
    float a[] = {1, 2, 3, 4, 0.25f, 9}, e[] = {2, 0.5f};
    mf_type t[2] = {TT(MF_F32, 3, 2), TT(MF_F32, 2)}, ot;
    const void *in[2] = {a, e};
    float *o = tref_run(MF_OP_POW, NULL, 2, t, in, &ot);
    TREF_EXPECT(o, 1, sqrt(2.0), 9, 2, 0.0625, 3);
    free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slice_by_hand),
        cmocka_unit_test(test_slice_empty_and_i64),
        cmocka_unit_test(test_slice_sweep),
        cmocka_unit_test(test_slice_errors),
        cmocka_unit_test(test_pow_broadcast),
    };
    return cmocka_run_group_tests_name("ref_slice_pow", tests, NULL, NULL);
}
