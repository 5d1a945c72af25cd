/* test_ref_pad.c — the reference pad kernel: hand-computed constant padding on f32,
 * cropping with negative pads, other dtypes, edge and reflect modes by hand (and their
 * refusals), a sweep against a formulation that copies the input into a pre-filled
 * output, and a sweep of every mode and of crops element by element. */
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/ref_call.h"

static void *run_pad(mf_type t, const void *x, const int64_t *pads, double value, mf_type *ot)
{
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_PAD, at);
    tref_set_ints(MF_OP_PAD, at, "pads", 2 * t.rank, pads);
    tref_set_float(MF_OP_PAD, at, "value", value);
    const void *in[1] = {x};
    return tref_run(MF_OP_PAD, at, 1, &t, in, ot);
}

static void test_pad_2d_by_hand(void **state)
{
    float x[] = {1, 2, 3, 4};
    mf_type ot;
    float *o = run_pad(TT(MF_F32, 2, 2), x, (int64_t[]){1, 0, 0, 1}, -1, &ot);
    assert_int_equal(ot.shape[0], 3);
    assert_int_equal(ot.shape[1], 3);
    TREF_EXPECT(o, -1, -1, -1, 1, 2, -1, 3, 4, -1);
    free(o);
}

static void *run_pad_mode(mf_type t, const void *x, const int64_t *pads, int64_t mode, mf_type *ot)
{
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_PAD, at);
    tref_set_ints(MF_OP_PAD, at, "pads", 2 * t.rank, pads);
    mf_attr_set_int(MF_OP_PAD, at, "mode", mode);
    const void *in[1] = {x};
    return tref_run(MF_OP_PAD, at, 1, &t, in, ot);
}

/* Darknet's same-size max pool pads right and bottom by repeating the edge (YOLOv3-tiny). */
static void test_pad_edge_and_reflect_by_hand(void **state)
{
    float x[] = {1, 2, 3, 4, 5, 6};
    mf_type ot;
    float *o = run_pad_mode(TT(MF_F32, 2, 3), x, (int64_t[]){1, 0, 0, 2}, 2, &ot); /* edge */
    assert_int_equal(ot.shape[0], 3);
    assert_int_equal(ot.shape[1], 5);
    TREF_EXPECT(o, 1, 2, 3, 3, 3, 1, 2, 3, 3, 3, 4, 5, 6, 6, 6);
    free(o);
    o = run_pad_mode(TT(MF_F32, 2, 3), x, (int64_t[]){0, 2, 1, 1}, 1, &ot); /* reflect */
    assert_int_equal(ot.shape[0], 3);
    assert_int_equal(ot.shape[1], 6);
    TREF_EXPECT(o, 3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5, 3, 2, 1, 2, 3, 2);
    free(o);
}

static void test_pad_modes_refused(void **state)
{
    mf_attr at[MF_MAX_ATTRS];
    mf_type in = TT(MF_F32, 2, 3), out;
    mf_op_default_attrs(MF_OP_PAD, at);
    tref_set_ints(MF_OP_PAD, at, "pads", 4, (int64_t[]){0, 3, 0, 0});
    mf_attr_set_int(MF_OP_PAD, at, "mode", 1); /* reflect by the dim's size */
    assert_int_equal(mf_op_infer(MF_OP_PAD, at, 1, &in, &out), MF_ERR_SHAPE);
    mf_attr_set_int(MF_OP_PAD, at, "mode", 4);
    assert_int_equal(mf_op_infer(MF_OP_PAD, at, 1, &in, &out), MF_ERR_INVALID);
    mf_type empty = TT(MF_F32, 2, 0);
    mf_attr_set_int(MF_OP_PAD, at, "mode", 2); /* edge of an empty dim */
    assert_int_equal(mf_op_infer(MF_OP_PAD, at, 1, &empty, &out), MF_ERR_SHAPE);
}

static void test_negative_pads_crop(void **state)
{
    float x[] = {1, 2, 3, 4, 5, 6};
    mf_type ot;
    float *o = run_pad(TT(MF_F32, 2, 3), x, (int64_t[]){0, -1, 0, 1}, 0, &ot);
    assert_int_equal(ot.shape[1], 3);
    TREF_EXPECT(o, 2, 3, 0, 5, 6, 0);
    free(o);
}

static void test_pad_i64_and_bool(void **state)
{
    int64_t x[] = {7, 8};
    mf_type ot;
    int64_t *o = run_pad(TT(MF_I64, 2), x, (int64_t[]){2, 1}, 5, &ot);
    int64_t want[] = {5, 5, 7, 8, 5};
    assert_memory_equal(o, want, sizeof want);
    free(o);
    uint8_t b[] = {1};
    uint8_t *ob = run_pad(TT(MF_BOOL, 1), b, (int64_t[]){1, 1}, 0, &ot);
    assert_int_equal(ob[0], 0);
    assert_int_equal(ob[1], 1);
    assert_int_equal(ob[2], 0);
    free(ob);
}

static void test_pad_nchw_sweep(void **state)
{
    uint64_t seed = 99;
    for (int trial = 0; trial < 40; trial++) {
        int64_t shape[4], pads[8];
        for (int d = 0; d < 4; d++) {
            shape[d] = 1 + (int64_t)(tref_next(&seed) % 4);
            pads[d] = (int64_t)(tref_next(&seed) % 3);
            pads[4 + d] = (int64_t)(tref_next(&seed) % 3);
        }
        mf_type t = tref_type(MF_F32, 4, shape), ot;
        float *x = tref_rand(mf_type_numel(&t), (uint64_t)trial, -1, 1);
        float *o = run_pad(t, x, pads, 0.5, &ot);
        int64_t on = mf_type_numel(&ot);
        double *want = malloc(sizeof *want * (size_t)on);
        for (int64_t i = 0; i < on; i++)
            want[i] = 0.5;
        for (int64_t n = 0; n < shape[0]; n++)
            for (int64_t c = 0; c < shape[1]; c++)
                for (int64_t h = 0; h < shape[2]; h++)
                    for (int64_t w = 0; w < shape[3]; w++) {
                        int64_t oi = (((n + pads[0]) * ot.shape[1] + c + pads[1]) * ot.shape[2] +
                                      h + pads[2]) * ot.shape[3] + w + pads[3];
                        want[oi] = x[((n * shape[1] + c) * shape[2] + h) * shape[3] + w];
                    }
        tref_assert_close(o, want, on);
        free(x);
        free(o);
        free(want);
    }
}

/* One input index along a dim, as ONNX defines each mode (-1: the pad value). */
static int64_t oracle_index(int64_t i, int64_t begin, int64_t dim, int64_t mode)
{
    int64_t j = i - begin;
    if (j >= 0 && j < dim)
        return j;
    if (mode == 0)
        return -1;
    if (mode == 2)
        return j < 0 ? 0 : dim - 1;
    if (mode == 3)
        return ((j % dim) + dim) % dim;
    return j < 0 ? -j : 2 * (dim - 1) - j; /* reflect */
}

/* Every mode, pads from -2 to 3 on rank-3 shapes (the kernel copies a row's overlap between
 * fills in constant mode and maps each element otherwise): element by element against the
 * mode's definition. */
static void test_pad_every_mode_sweep(void **state)
{
    uint64_t seed = 7;
    int checked = 0;
    for (int trial = 0; trial < 400; trial++) {
        int64_t shape[3], pads[6], mode = trial % 4;
        for (int d = 0; d < 3; d++) {
            shape[d] = 1 + (int64_t)(tref_next(&seed) % 6);
            pads[d] = (int64_t)(tref_next(&seed) % 6) - 2;
            pads[3 + d] = (int64_t)(tref_next(&seed) % 6) - 2;
        }
        mf_type t = tref_type(MF_F32, 3, shape), ot;
        mf_attr at[MF_MAX_ATTRS];
        mf_op_default_attrs(MF_OP_PAD, at);
        tref_set_ints(MF_OP_PAD, at, "pads", 6, pads);
        tref_set_float(MF_OP_PAD, at, "value", -7);
        mf_attr_set_int(MF_OP_PAD, at, "mode", mode);
        if (mf_op_infer(MF_OP_PAD, at, 1, &t, &ot) != MF_OK)
            continue; /* a crop past the dim, or reflect wider than it */
        float *x = tref_rand(mf_type_numel(&t), (uint64_t)trial, -1, 1);
        const void *in[1] = {x};
        float *o = tref_run(MF_OP_PAD, at, 1, &t, in, &ot);
        for (int64_t a = 0; a < ot.shape[0]; a++)
            for (int64_t b = 0; b < ot.shape[1]; b++)
                for (int64_t k = 0; k < ot.shape[2]; k++) {
                    int64_t ja = oracle_index(a, pads[0], shape[0], mode), jb = oracle_index(b, pads[1], shape[1], mode),
                            jk = oracle_index(k, pads[2], shape[2], mode);
                    float want = ja < 0 || jb < 0 || jk < 0 ? -7.0f : x[(ja * shape[1] + jb) * shape[2] + jk];
                    float got = o[(a * ot.shape[1] + b) * ot.shape[2] + k];
                    if (got != want)
                        fail_msg("trial %d (mode %lld): element (%lld, %lld, %lld) is %g, want %g", trial,
                                 (long long)mode, (long long)a, (long long)b, (long long)k, got, want);
                }
        checked++;
        free(x);
        free(o);
    }
    assert_true(checked > 200);
}

static void test_pad_rejects_bad_pads(void **state)
{
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_PAD, at);
    tref_set_ints(MF_OP_PAD, at, "pads", 2, (int64_t[]){1, 1});
    mf_type in = TT(MF_F32, 2, 2), out;
    assert_int_equal(mf_op_infer(MF_OP_PAD, at, 1, &in, &out), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "expected 4"));
    tref_set_ints(MF_OP_PAD, at, "pads", 4, (int64_t[]){-3, 0, 0, 0});
    assert_int_equal(mf_op_infer(MF_OP_PAD, at, 1, &in, &out), MF_ERR_SHAPE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pad_2d_by_hand),
        cmocka_unit_test(test_negative_pads_crop),
        cmocka_unit_test(test_pad_edge_and_reflect_by_hand),
        cmocka_unit_test(test_pad_modes_refused),
        cmocka_unit_test(test_pad_i64_and_bool),
        cmocka_unit_test(test_pad_nchw_sweep),
        cmocka_unit_test(test_pad_every_mode_sweep),
        cmocka_unit_test(test_pad_rejects_bad_pads),
    };
    return cmocka_run_group_tests_name("ref_pad", tests, NULL, NULL);
}
