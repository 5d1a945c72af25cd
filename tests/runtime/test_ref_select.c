/* test_ref_select.c — the reference kernels of the ONNX ops on any dtype and of the ones
 * that pick elements by position: comparisons (NaN compares false, i64 exactly), the
 * logical ops, where and mod with broadcasting, gather (negative and out-of-range
 * indices), gather_elements, trilu, cumsum, topk_indices and argmax (ties keep the lower
 * index; integers exactly),
 * hardmax, tile and expand, and the added math activations. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/ref_call.h"

static void test_compare_and_logical(void **state)
{
    const float a[4] = {1, 2, NAN, 4}, b[1] = {2};
    mf_type ot;
    static const struct { mf_op op; uint8_t want[4]; } cases[] = {
        {MF_OP_EQUAL, {0, 1, 0, 0}},         {MF_OP_GREATER, {0, 0, 0, 1}}, {MF_OP_LESS, {1, 0, 0, 0}},
        {MF_OP_GREATER_EQUAL, {0, 1, 0, 1}}, {MF_OP_LESS_EQUAL, {1, 1, 0, 0}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint8_t *o = tref_run(cases[k].op, NULL, 2, (mf_type[]){TT(MF_F32, 4), TT(MF_F32, 1)},
                              (const void *[]){a, b}, &ot);
        assert_int_equal(ot.dtype, MF_BOOL);
        assert_memory_equal(o, cases[k].want, 4);
        free(o);
    }
    /* i64 beyond 2^53 compares exactly */
    const int64_t x[2] = {(1ll << 60) + 1, 5}, y[2] = {1ll << 60, 5};
    uint8_t *o = tref_run(MF_OP_GREATER, NULL, 2, (mf_type[]){TT(MF_I64, 2), TT(MF_I64, 2)},
                          (const void *[]){x, y}, &ot);
    assert_true(o[0] == 1 && o[1] == 0);
    free(o);
    const uint8_t p[4] = {0, 0, 1, 1}, q[2] = {0, 1};
    o = tref_run(MF_OP_LOGICAL_XOR, NULL, 2, (mf_type[]){TT(MF_BOOL, 2, 2), TT(MF_BOOL, 2)},
                 (const void *[]){p, q}, &ot);
    assert_memory_equal(o, ((uint8_t[]){0, 1, 1, 0}), 4);
    free(o);
    o = tref_run(MF_OP_LOGICAL_NOT, NULL, 1, (mf_type[]){TT(MF_BOOL, 4)}, (const void *[]){p}, &ot);
    assert_memory_equal(o, ((uint8_t[]){1, 1, 0, 0}), 4);
    free(o);
}

static void test_where_and_mod(void **state)
{
    const uint8_t cond[2] = {1, 0};
    const int32_t x[4] = {1, 2, 3, 4}, y[1] = {-7};
    mf_type ot;
    int32_t *o = tref_run(MF_OP_WHERE, NULL, 3, (mf_type[]){TT(MF_BOOL, 2), TT(MF_I32, 2, 2), TT(MF_I32, 1)},
                          (const void *[]){cond, x, y}, &ot);
    assert_int_equal(ot.dtype, MF_I32);
    assert_memory_equal(o, ((int32_t[]){1, -7, 3, -7}), sizeof(int32_t[4]));
    free(o);
    const int64_t a[4] = {-4, 7, 5, INT64_MIN}, b[4] = {3, -3, 0, -1};
    int64_t *m = tref_run(MF_OP_MOD, NULL, 2, (mf_type[]){TT(MF_I64, 4), TT(MF_I64, 4)}, (const void *[]){a, b}, &ot);
    assert_memory_equal(m, ((int64_t[]){2, -2, 0, 0}), sizeof(int64_t[4])); /* the divisor's sign */
    free(m);
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_MOD, at);
    tref_set_int(MF_OP_MOD, at, "fmod", 1);
    const float fa[2] = {-4.5f, 7}, fb[2] = {2, -3};
    float *f = tref_run(MF_OP_MOD, at, 2, (mf_type[]){TT(MF_F32, 2), TT(MF_F32, 2)}, (const void *[]){fa, fb}, &ot);
    TREF_EXPECT(f, -0.5, 1); /* C's fmod: the dividend's sign */
    free(f);
}

static void test_gather(void **state)
{
    const float x[6] = {0, 1, 2, 3, 4, 5}; /* [3, 2] */
    const int64_t idx[2] = {-1, 0};
    mf_type ot;
    float *o = tref_run(MF_OP_GATHER, NULL, 2, (mf_type[]){TT(MF_F32, 3, 2), TT(MF_I64, 2)},
                        (const void *[]){x, idx}, &ot);
    assert_true(ot.rank == 2 && ot.shape[0] == 2 && ot.shape[1] == 2);
    TREF_EXPECT(o, 4, 5, 0, 1);
    free(o);
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_GATHER_ELEMENTS, at);
    tref_set_int(MF_OP_GATHER_ELEMENTS, at, "dim", 1);
    const int32_t ie[6] = {1, 1, 0, 0, 1, 0};
    o = tref_run(MF_OP_GATHER_ELEMENTS, at, 2, (mf_type[]){TT(MF_F32, 3, 2), TT(MF_I32, 3, 2)},
                 (const void *[]){x, ie}, &ot);
    TREF_EXPECT(o, 1, 1, 2, 2, 5, 4);
    free(o);
    /* an index out of range is an error, not a read outside x */
    const int64_t bad[1] = {3};
    mf_type types[2] = {TT(MF_F32, 3, 2), TT(MF_I64, 1)};
    float out[2];
    mf_attr d[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_GATHER, d);
    assert_int_equal(mf_op_infer(MF_OP_GATHER, d, 2, types, &ot), MF_OK);
    mf_ref_call call = {MF_OP_GATHER, d, 2, (const void *[]){x, bad}, types, out, &ot, 0, 1};
    assert_int_equal(mf_rt_ref_kernel(MF_OP_GATHER)(&call), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "index 3 is out of range"));
}

static void test_trilu_cumsum_tile_expand(void **state)
{
    const float x[6] = {1, 2, 3, 4, 5, 6}; /* [2, 3] */
    mf_type ot;
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_TRILU, at);
    tref_set_int(MF_OP_TRILU, at, "k", 1);
    float *o = tref_run(MF_OP_TRILU, at, 1, (mf_type[]){TT(MF_F32, 2, 3)}, (const void *[]){x}, &ot);
    TREF_EXPECT(o, 0, 2, 3, 0, 0, 6);
    free(o);
    tref_set_int(MF_OP_TRILU, at, "upper", 0);
    o = tref_run(MF_OP_TRILU, at, 1, (mf_type[]){TT(MF_F32, 2, 3)}, (const void *[]){x}, &ot);
    TREF_EXPECT(o, 1, 2, 0, 4, 5, 6);
    free(o);
    mf_op_default_attrs(MF_OP_CUMSUM, at);
    tref_set_int(MF_OP_CUMSUM, at, "dim", 1);
    tref_set_int(MF_OP_CUMSUM, at, "exclusive", 1);
    tref_set_int(MF_OP_CUMSUM, at, "reverse", 1);
    o = tref_run(MF_OP_CUMSUM, at, 1, (mf_type[]){TT(MF_F32, 2, 3)}, (const void *[]){x}, &ot);
    TREF_EXPECT(o, 5, 3, 0, 11, 6, 0);
    free(o);
    mf_op_default_attrs(MF_OP_TILE, at);
    TREF_INTS(MF_OP_TILE, at, "repeats", 2, 1);
    o = tref_run(MF_OP_TILE, at, 1, (mf_type[]){TT(MF_F32, 1, 3)}, (const void *[]){x}, &ot);
    assert_true(ot.shape[0] == 2 && ot.shape[1] == 3);
    TREF_EXPECT(o, 1, 2, 3, 1, 2, 3);
    free(o);
    mf_op_default_attrs(MF_OP_EXPAND, at);
    TREF_INTS(MF_OP_EXPAND, at, "shape", 2, 1);
    o = tref_run(MF_OP_EXPAND, at, 1, (mf_type[]){TT(MF_F32, 1, 2)}, (const void *[]){x}, &ot);
    assert_true(ot.rank == 2 && ot.shape[0] == 2 && ot.shape[1] == 2);
    TREF_EXPECT(o, 1, 2, 1, 2);
    free(o);
}

static void test_topk_and_hardmax(void **state)
{
    const float x[5] = {3, 7, NAN, 7, 1};
    mf_type ot;
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_TOPK_INDICES, at);
    tref_set_int(MF_OP_TOPK_INDICES, at, "k", 3);
    int64_t *i = tref_run(MF_OP_TOPK_INDICES, at, 1, (mf_type[]){TT(MF_F32, 5)}, (const void *[]){x}, &ot);
    assert_memory_equal(i, ((int64_t[]){2, 1, 3}), sizeof(int64_t[3])); /* NaN largest; ties by index */
    free(i);
    tref_set_int(MF_OP_TOPK_INDICES, at, "largest", 0);
    i = tref_run(MF_OP_TOPK_INDICES, at, 1, (mf_type[]){TT(MF_F32, 5)}, (const void *[]){x}, &ot);
    assert_memory_equal(i, ((int64_t[]){4, 0, 1}), sizeof(int64_t[3]));
    free(i);
    /* integers compare exactly: i64 past 2^53 (sequence lengths sorted by an export of
     * pack_padded_sequence), u64 by its bits */
    const int64_t xi[4] = {(1ll << 60) + 1, -3, 1ll << 60, 5};
    i = tref_run(MF_OP_TOPK_INDICES, at, 1, (mf_type[]){TT(MF_I64, 4)}, (const void *[]){xi}, &ot);
    assert_memory_equal(i, ((int64_t[]){1, 3, 2}), sizeof(int64_t[3]));
    free(i);
    const uint64_t xu[4] = {1ull << 63, 2, (1ull << 63) + 1, 7};
    tref_set_int(MF_OP_TOPK_INDICES, at, "largest", 1);
    tref_set_int(MF_OP_TOPK_INDICES, at, "k", 2);
    i = tref_run(MF_OP_TOPK_INDICES, at, 1, (mf_type[]){TT(MF_U64, 4)}, (const void *[]){xu}, &ot);
    assert_memory_equal(i, ((int64_t[]){2, 0}), sizeof(int64_t[2]));
    free(i);
    /* argmax and argmin of integers (ids in exported NLP models), exactly */
    mf_attr am[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_ARGMAX, am);
    i = tref_run(MF_OP_ARGMAX, am, 1, (mf_type[]){TT(MF_I64, 4)}, (const void *[]){xi}, &ot);
    assert_int_equal(i[0], 0);
    free(i);
    i = tref_run(MF_OP_ARGMIN, am, 1, (mf_type[]){TT(MF_U64, 4)}, (const void *[]){xu}, &ot);
    assert_int_equal(i[0], 1);
    free(i);
    const float h[4] = {1, 5, 5, 0};
    float *o = tref_run(MF_OP_HARDMAX, NULL, 1, (mf_type[]){TT(MF_F32, 2, 2)}, (const void *[]){h}, &ot);
    TREF_EXPECT(o, 0, 1, 1, 0);
    free(o);
}

static void test_math(void **state)
{
    const float x[3] = {-1, 0.5f, 2};
    mf_type ot;
    float *o = tref_run(MF_OP_SOFTSIGN, NULL, 1, (mf_type[]){TT(MF_F32, 3)}, (const void *[]){x}, &ot);
    TREF_EXPECT(o, -0.5, 1.0 / 3, 2.0 / 3);
    free(o);
    o = tref_run(MF_OP_SOFTPLUS, NULL, 1, (mf_type[]){TT(MF_F32, 3)}, (const void *[]){x}, &ot);
    TREF_EXPECT(o, log1p(exp(-1)), log1p(exp(0.5)), log1p(exp(2)));
    free(o);
    o = tref_run(MF_OP_SHRINK, NULL, 1, (mf_type[]){TT(MF_F32, 3)}, (const void *[]){x}, &ot);
    TREF_EXPECT(o, -1, 0, 2);
    free(o);
    o = tref_run(MF_OP_SELU, NULL, 1, (mf_type[]){TT(MF_F32, 3)}, (const void *[]){x}, &ot);
    TREF_EXPECT(o, 1.0507009873554805 * 1.6732632423543772 * expm1(-1), 1.0507009873554805 * 0.5,
                1.0507009873554805 * 2);
    free(o);
    const float inf[3] = {-INFINITY, INFINITY, NAN};
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_ISINF, at);
    tref_set_int(MF_OP_ISINF, at, "detect_negative", 0);
    uint8_t *b = tref_run(MF_OP_ISINF, at, 1, (mf_type[]){TT(MF_F32, 3)}, (const void *[]){inf}, &ot);
    assert_memory_equal(b, ((uint8_t[]){0, 1, 0}), 3);
    free(b);
}

/* pad's modes on [1, 2, 3] padded by 2 before and 1 after: reflect, edge and wrap; a
 * reflect pad as large as the dim is refused. */
static void test_pad_modes(void **state)
{
    const float x[3] = {1, 2, 3};
    static const struct { int64_t mode; float want[6]; } cases[] = {
        {1, {3, 2, 1, 2, 3, 2}}, {2, {1, 1, 1, 2, 3, 3}}, {3, {2, 3, 1, 2, 3, 1}},
    };
    mf_type ot;
    mf_attr at[MF_MAX_ATTRS];
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        mf_op_default_attrs(MF_OP_PAD, at);
        TREF_INTS(MF_OP_PAD, at, "pads", 2, 1);
        tref_set_int(MF_OP_PAD, at, "mode", cases[k].mode);
        float *o = tref_run(MF_OP_PAD, at, 1, (mf_type[]){TT(MF_F32, 3)}, (const void *[]){x}, &ot);
        assert_memory_equal(o, cases[k].want, sizeof cases[k].want);
        free(o);
    }
    mf_op_default_attrs(MF_OP_PAD, at);
    TREF_INTS(MF_OP_PAD, at, "pads", 3, 0);
    tref_set_int(MF_OP_PAD, at, "mode", 1);
    mf_type t = TT(MF_F32, 3);
    assert_int_equal(mf_op_infer(MF_OP_PAD, at, 1, &t, &ot), MF_ERR_SHAPE);
    assert_non_null(strstr(mf_last_error(), "in reflect mode"));
}

/* resize of [0, 10] to 3 elements: linear align_corners gives the midpoint; nearest
 * asymmetric with ceil picks the right neighbour; cubic at an input point is that point. */
static void test_resize(void **state)
{
    const float x[2] = {0, 10}, sc[1] = {1.5f}, one[1] = {1};
    mf_type ot;
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_RESIZE, at);
    TREF_INTS(MF_OP_RESIZE, at, "sizes", 3);
    tref_set_int(MF_OP_RESIZE, at, "mode", 1);
    tref_set_int(MF_OP_RESIZE, at, "coord", 2);
    float *o = tref_run(MF_OP_RESIZE, at, 2, (mf_type[]){TT(MF_F32, 2), TT(MF_F32, 1)}, (const void *[]){x, sc}, &ot);
    TREF_EXPECT(o, 0, 5, 10);
    free(o);
    tref_set_int(MF_OP_RESIZE, at, "mode", 0);
    tref_set_int(MF_OP_RESIZE, at, "coord", 3);
    tref_set_int(MF_OP_RESIZE, at, "nearest", 3);
    o = tref_run(MF_OP_RESIZE, at, 2, (mf_type[]){TT(MF_F32, 2), TT(MF_F32, 1)}, (const void *[]){x, sc}, &ot);
    TREF_EXPECT(o, 0, 10, 10); /* 0, ceil(0.67) = 1, ceil(1.33) = 2 clamped to 1 */
    free(o);
    mf_op_default_attrs(MF_OP_RESIZE, at);
    TREF_INTS(MF_OP_RESIZE, at, "sizes", 2);
    tref_set_int(MF_OP_RESIZE, at, "mode", 2);
    o = tref_run(MF_OP_RESIZE, at, 2, (mf_type[]){TT(MF_F32, 2), TT(MF_F32, 1)}, (const void *[]){x, one}, &ot);
    TREF_EXPECT(o, 0, 10);
    free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compare_and_logical), cmocka_unit_test(test_where_and_mod),
        cmocka_unit_test(test_gather),              cmocka_unit_test(test_trilu_cumsum_tile_expand),
        cmocka_unit_test(test_topk_and_hardmax),    cmocka_unit_test(test_math),
        cmocka_unit_test(test_pad_modes),           cmocka_unit_test(test_resize),
    };
    return cmocka_run_group_tests_name("ref_select", tests, NULL, NULL);
}
