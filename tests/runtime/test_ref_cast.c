/* test_ref_cast.c — the reference kernel of cast: exact values for every pair of dtypes,
 * float to integer truncation toward zero, saturation at the integer's range and NaN as 0,
 * integer narrowing that wraps, anything to bool as x != 0, round to nearest even into f16,
 * bf16 and f32, the same dtype as a bit copy, and inference (dtype `to`, shape kept, a `to`
 * outside the dtypes refused with a message naming the op). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/ref_call.h"

/* Runs cast(x) to dtype `to` over n elements of dtype `from`; the caller frees. */
static void *cast(mf_dtype from, mf_dtype to, int64_t n, const void *x)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CAST, a);
    tref_set_int(MF_OP_CAST, a, "to", to);
    mf_type t = TT(from, n), ot;
    const void *in[1] = {x};
    void *o = tref_run(MF_OP_CAST, a, 1, &t, in, &ot);
    assert_int_equal(ot.dtype, to);
    assert_int_equal(ot.rank, 1);
    assert_int_equal(ot.shape[0], n);
    return o;
}

static uint16_t h(float f)
{
    return mf_f32_to_f16(f);
}

static void test_f32_to_ints(void **state)
{
    float x[] = {0.0f, -0.0f, 1.9f, -1.9f, 2.5f, -2.5f, 127.99f, -128.99f, 300.5f, -300.5f,
                 3e9f, -3e9f, 1e30f, -1e30f, INFINITY, -INFINITY, NAN, -NAN};
    int64_t n = (int64_t)(sizeof x / sizeof x[0]);
    int8_t *o8 = cast(MF_F32, MF_I8, n, x);
    int8_t w8[] = {0, 0, 1, -1, 2, -2, 127, -128, 127, -128, 127, -128, 127, -128, 127, -128, 0, 0};
    assert_memory_equal(o8, w8, sizeof w8);
    int32_t *o32 = cast(MF_F32, MF_I32, n, x);
    int32_t w32[] = {0, 0, 1, -1, 2, -2, 127, -128, 300, -300, INT32_MAX, INT32_MIN,
                     INT32_MAX, INT32_MIN, INT32_MAX, INT32_MIN, 0, 0};
    assert_memory_equal(o32, w32, sizeof w32);
    int64_t *o64 = cast(MF_F32, MF_I64, n, x);
    int64_t w64[] = {0, 0, 1, -1, 2, -2, 127, -128, 300, -300, 3000000000, -3000000000,
                     INT64_MAX, INT64_MIN, INT64_MAX, INT64_MIN, 0, 0};
    assert_memory_equal(o64, w64, sizeof w64);
    free(o8), free(o32), free(o64);
}

/* The edges of the integer ranges, where a float is exactly the bound or one ulp off. */
static void test_f32_to_int_edges(void **state)
{
    float x[] = {2147483520.0f, 2147483648.0f, -2147483648.0f, -2147483904.0f,
                 9223371487098961920.0f, 9223372036854775808.0f, -9223372036854775808.0f,
                 -9223373136366403584.0f, 16777217.0f};
    int64_t n = (int64_t)(sizeof x / sizeof x[0]);
    int32_t *o32 = cast(MF_F32, MF_I32, n, x);
    int32_t w32[] = {2147483520, INT32_MAX, INT32_MIN, INT32_MIN, INT32_MAX, INT32_MAX,
                     INT32_MIN, INT32_MIN, 16777216};
    assert_memory_equal(o32, w32, sizeof w32);
    int64_t *o64 = cast(MF_F32, MF_I64, n, x);
    int64_t w64[] = {2147483520, 2147483648, -2147483648LL, -2147483904LL,
                     9223371487098961920LL, INT64_MAX, INT64_MIN, INT64_MIN, 16777216};
    assert_memory_equal(o64, w64, sizeof w64);
    free(o32), free(o64);
}

static void test_f32_to_bool_and_f16(void **state)
{
    float x[] = {0.0f, -0.0f, 1e-45f, -2.0f, INFINITY, NAN, 65504.0f, 65520.0f, 1.0009765625f,
                 1.00048828125f, 1.00146484375f, 6e-8f};
    int64_t n = (int64_t)(sizeof x / sizeof x[0]);
    uint8_t *ob = cast(MF_F32, MF_BOOL, n, x);
    uint8_t wb[] = {0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    assert_memory_equal(ob, wb, sizeof wb);
    uint16_t *oh = cast(MF_F32, MF_F16, n, x);
    /* 65520 rounds up to inf; 1 + 2^-11 is a tie that rounds to even (1), 1 + 3·2^-11 to
     * 1 + 2^-9; 6e-8 is the smallest subnormal */
    uint16_t wh[] = {0x0000, 0x8000, 0x0000, 0xc000, 0x7c00, 0x7e00, 0x7bff, 0x7c00, 0x3c01,
                     0x3c00, 0x3c02, 0x0001};
    assert_memory_equal(oh, wh, sizeof wh);
    free(ob), free(oh);
}

static void test_f16_to_everything(void **state)
{
    uint16_t x[] = {h(-2.75f), h(0.5f), h(65504.0f), 0x7c00, 0xfc00, 0x7e00, 0x8000, 0x0001};
    int64_t n = (int64_t)(sizeof x / sizeof x[0]);
    float *of = cast(MF_F16, MF_F32, n, x);
    assert_true(of[0] == -2.75f && of[1] == 0.5f && of[2] == 65504.0f);
    assert_true(isinf(of[3]) && of[3] > 0 && isinf(of[4]) && of[4] < 0 && isnan(of[5]));
    assert_true(of[6] == 0.0f && signbit(of[6]) && of[7] == ldexpf(1.0f, -24));
    int8_t *o8 = cast(MF_F16, MF_I8, n, x);
    int8_t w8[] = {-2, 0, 127, 127, -128, 0, 0, 0};
    assert_memory_equal(o8, w8, sizeof w8);
    int32_t *o32 = cast(MF_F16, MF_I32, n, x);
    int32_t w32[] = {-2, 0, 65504, INT32_MAX, INT32_MIN, 0, 0, 0};
    assert_memory_equal(o32, w32, sizeof w32);
    int64_t *o64 = cast(MF_F16, MF_I64, n, x);
    int64_t w64[] = {-2, 0, 65504, INT64_MAX, INT64_MIN, 0, 0, 0};
    assert_memory_equal(o64, w64, sizeof w64);
    uint8_t *ob = cast(MF_F16, MF_BOOL, n, x);
    uint8_t wb[] = {1, 1, 1, 1, 1, 1, 0, 1};
    assert_memory_equal(ob, wb, sizeof wb);
    free(of), free(o8), free(o32), free(o64), free(ob);
}

/* bf16 keeps f32's exponent: narrowing rounds the low 16 bits to nearest even (ties
 * to even, a carry into the exponent, overflow to inf), NaN stays a NaN; widening is exact. */
static void test_bf16_both_ways(void **state)
{
    uint32_t bits[] = {0x3f800000, 0x3f808000, 0x3f818000, 0x3f80c000, 0x3f807fff, 0x3fffffff,
                       0x7f7fffff, 0x7f800000, 0xff800000, 0x7f800001, 0x80000000, 0x3ef5eeb0};
    enum { N = sizeof bits / sizeof bits[0] };
    float x[N];
    memcpy(x, bits, sizeof x);
    uint16_t *ob = cast(MF_F32, MF_BF16, N, x);
    /* 1 + 2^-8 is a tie to 1 (even), 1 + 3·2^-8 a tie to 1 + 2^-6; 0x3fffffff carries to 2 */
    uint16_t wb[N] = {0x3f80, 0x3f80, 0x3f82, 0x3f81, 0x3f80, 0x4000, 0x7f80, 0x7f80, 0xff80, 0, 0x8000, 0x3ef6};
    assert_true((ob[9] & 0x7f80) == 0x7f80 && (ob[9] & 0x7f)); /* a NaN */
    wb[9] = ob[9];
    assert_memory_equal(ob, wb, sizeof wb);
    float *of = cast(MF_BF16, MF_F32, N, ob);
    assert_true(of[0] == 1.0f && of[2] == 1.0f + 0x1p-6f && of[5] == 2.0f && isinf(of[6]) && isnan(of[9]));
    assert_true(of[10] == 0.0f && signbit(of[10]));
    int32_t *oi = cast(MF_BF16, MF_I32, 3, (uint16_t[]){0xc030, 0x4780, 0x7fc0}); /* -2.75, 65536, NaN */
    assert_true(oi[0] == -2 && oi[1] == 65536 && oi[2] == 0);
    free(ob), free(of), free(oi);
}

/* Narrowing wraps (two's complement), widening sign-extends. */
static void test_int_to_int(void **state)
{
    int64_t x[] = {0, 1, -1, 127, 128, -129, 300, -300, 2147483647, 2147483648LL,
                   -2147483649LL, INT64_MAX, INT64_MIN};
    int64_t n = (int64_t)(sizeof x / sizeof x[0]);
    int8_t *o8 = cast(MF_I64, MF_I8, n, x);
    int8_t w8[] = {0, 1, -1, 127, -128, 127, 44, -44, -1, 0, -1, -1, 0};
    assert_memory_equal(o8, w8, sizeof w8);
    int32_t *o32 = cast(MF_I64, MF_I32, n, x);
    int32_t w32[] = {0, 1, -1, 127, 128, -129, 300, -300, INT32_MAX, INT32_MIN, INT32_MAX, -1, 0};
    assert_memory_equal(o32, w32, sizeof w32);
    int8_t *o8b = cast(MF_I32, MF_I8, n - 4, w32); /* the i32 results narrowed again */
    assert_memory_equal(o8b, w8, (size_t)(n - 4));
    int64_t *o64 = cast(MF_I32, MF_I64, n, w32);
    int64_t w64[] = {0, 1, -1, 127, 128, -129, 300, -300, 2147483647, -2147483648LL,
                     2147483647, -1, 0};
    assert_memory_equal(o64, w64, sizeof w64);
    int32_t *o32b = cast(MF_I8, MF_I32, n, w8);
    int32_t w32b[] = {0, 1, -1, 127, -128, 127, 44, -44, -1, 0, -1, -1, 0};
    assert_memory_equal(o32b, w32b, sizeof w32b);
    free(o8), free(o32), free(o8b), free(o64), free(o32b);
}

static void test_int_to_float_and_bool(void **state)
{
    /* 2^24 + 1 ties to even in f32; 2^62 + 2^38 + 1 rounds up to 2^62 + 2^39 directly,
     * but through a double it would become the tie 2^62 + 2^38 and round down to 2^62 */
    int64_t x[] = {0, -7, 16777217, 9007199254740993LL, (1LL << 62) + (1LL << 38) + 1,
                   INT64_MIN, 65519, 65520, -70000};
    int64_t n = (int64_t)(sizeof x / sizeof x[0]);
    float *of = cast(MF_I64, MF_F32, n, x);
    float wf[] = {0.0f, -7.0f, 16777216.0f, 9007199254740992.0f, 4611686568183201792.0f,
                  -9223372036854775808.0f, 65519.0f, 65520.0f, -70000.0f};
    assert_memory_equal(of, wf, sizeof wf);
    uint16_t *oh = cast(MF_I64, MF_F16, n, x);
    uint16_t wh[] = {0x0000, h(-7.0f), 0x7c00, 0x7c00, 0x7c00, 0xfc00, 0x7bff, 0x7c00, 0xfc00};
    assert_memory_equal(oh, wh, sizeof wh);
    uint8_t *ob = cast(MF_I64, MF_BOOL, n, x);
    uint8_t wb[] = {0, 1, 1, 1, 1, 1, 1, 1, 1};
    assert_memory_equal(ob, wb, sizeof wb);
    int8_t y8[] = {-128, 0, 5};
    float *of8 = cast(MF_I8, MF_F32, 3, y8);
    assert_true(of8[0] == -128.0f && of8[1] == 0.0f && of8[2] == 5.0f);
    int32_t y32[] = {INT32_MAX, -3, 0};
    float *of32 = cast(MF_I32, MF_F32, 3, y32);
    assert_true(of32[0] == 2147483648.0f && of32[1] == -3.0f && of32[2] == 0.0f);
    uint8_t *ob32 = cast(MF_I32, MF_BOOL, 3, y32);
    assert_true(ob32[0] == 1 && ob32[1] == 1 && ob32[2] == 0);
    free(of), free(oh), free(ob), free(of8), free(of32), free(ob32);
}

/* bool reads as 0 or 1 (any nonzero byte as 1) into every dtype. */
static void test_bool_to_everything(void **state)
{
    uint8_t x[] = {0, 1, 2};
    float *of = cast(MF_BOOL, MF_F32, 3, x);
    assert_true(of[0] == 0.0f && of[1] == 1.0f && of[2] == 1.0f);
    uint16_t *oh = cast(MF_BOOL, MF_F16, 3, x);
    assert_true(oh[0] == 0 && oh[1] == 0x3c00 && oh[2] == 0x3c00);
    int8_t *o8 = cast(MF_BOOL, MF_I8, 3, x);
    assert_true(o8[0] == 0 && o8[1] == 1 && o8[2] == 1);
    int32_t *o32 = cast(MF_BOOL, MF_I32, 3, x);
    assert_true(o32[0] == 0 && o32[1] == 1 && o32[2] == 1);
    int64_t *o64 = cast(MF_BOOL, MF_I64, 3, x);
    assert_true(o64[0] == 0 && o64[1] == 1 && o64[2] == 1);
    free(of), free(oh), free(o8), free(o32), free(o64);
}

/* The same dtype copies bits (NaN payloads and -0 kept); empty tensors write nothing. */
static void test_same_dtype_and_empty(void **state)
{
    uint32_t bits[] = {0x7fc01234u, 0x80000000u, 0x3f800000u};
    float *o = cast(MF_F32, MF_F32, 3, bits);
    assert_memory_equal(o, bits, sizeof bits);
    free(o);
    int64_t *e = cast(MF_F32, MF_I64, 0, bits);
    free(e);
}

/* v written as element i of dtype dt the plain C way (v is a small integer); unsigned
 * dtypes take -v modulo their range, as C's conversion does. */
static void put(mf_dtype dt, void *p, int i, double v)
{
    int64_t k = (int64_t)v;
    switch (dt) {
    case MF_F32: ((float *)p)[i] = (float)v; break;
    case MF_F16: ((uint16_t *)p)[i] = h((float)v); break;
    case MF_F64: ((double *)p)[i] = v; break;
    case MF_BF16: ((uint16_t *)p)[i] = mf_f32_to_bf16((float)v); break;
    case MF_I8: ((int8_t *)p)[i] = (int8_t)k; break;
    case MF_I16: ((int16_t *)p)[i] = (int16_t)k; break;
    case MF_I32: ((int32_t *)p)[i] = (int32_t)k; break;
    case MF_I64: ((int64_t *)p)[i] = k; break;
    case MF_U8: ((uint8_t *)p)[i] = (uint8_t)k; break;
    case MF_U16: ((uint16_t *)p)[i] = (uint16_t)k; break;
    case MF_U32: ((uint32_t *)p)[i] = (uint32_t)k; break;
    case MF_U64: ((uint64_t *)p)[i] = (uint64_t)k; break;
    default: ((uint8_t *)p)[i] = v != 0; break;
    }
}

/* Every pair on small integers (exact in every dtype) gives the same numbers. */
static void test_every_pair_small_values(void **state)
{
    const double vals[] = {0, 1, -1, 2, -3, 100, -100, 127};
    enum { N = sizeof vals / sizeof vals[0] };
    for (int from = 0; from < MF_DTYPE_COUNT; from++) {
        for (int to = 0; to < MF_DTYPE_COUNT; to++) {
            _Alignas(8) unsigned char in[N * 8], expect[N * 8];
            memset(expect, 0, sizeof expect);
            for (int i = 0; i < N; i++) {
                bool from_unsigned = from == MF_U8 || from == MF_U16 || from == MF_U32 || from == MF_U64;
                double v = (mf_dtype)from == MF_BOOL ? vals[i] != 0 : from_unsigned ? fabs(vals[i]) : vals[i];
                put((mf_dtype)from, in, i, v);
                bool from_float = mf_dtype_is_float((mf_dtype)from);
                bool to_unsigned = to == MF_U8 || to == MF_U16 || to == MF_U32 || to == MF_U64;
                put((mf_dtype)to, expect, i, from_float && to_unsigned && v < 0 ? 0 : v); /* saturates */
            }
            void *o = cast((mf_dtype)from, (mf_dtype)to, N, in);
            if (memcmp(o, expect, (size_t)N * mf_dtype_size((mf_dtype)to)))
                fail_msg("cast %s to %s differs", mf_dtype_name((mf_dtype)from),
                         mf_dtype_name((mf_dtype)to));
            free(o);
        }
    }
}

static void test_inference(void **state)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CAST, a);
    tref_set_int(MF_OP_CAST, a, "to", MF_BOOL);
    mf_type in = TT(MF_I32, 2, 0, 3), out;
    assert_int_equal(mf_op_infer(MF_OP_CAST, a, 1, &in, &out), MF_OK);
    mf_type want = TT(MF_BOOL, 2, 0, 3);
    assert_true(mf_type_equal(&out, &want));
    in = TT(MF_F16);
    assert_int_equal(mf_op_infer(MF_OP_CAST, a, 1, &in, &out), MF_OK);
    assert_int_equal(out.dtype, MF_BOOL);
    assert_int_equal(out.rank, 0);
    in = TT(MF_F32, 4);
    const int64_t bad[] = {-1, MF_DTYPE_COUNT, 1000};
    for (int i = 0; i < 3; i++) {
        tref_set_int(MF_OP_CAST, a, "to", bad[i]);
        assert_int_equal(mf_op_infer(MF_OP_CAST, a, 1, &in, &out), MF_ERR_INVALID);
        assert_non_null(strstr(mf_last_error(), "cast(f32[4]): to = "));
        assert_non_null(strstr(mf_last_error(), "is not a dtype (0 f32, 1 f16, 2 i8, 3 i32, 4 i64, 5 bool, 6 u8, 7 i16, 8 u16, 9 u32, 10 u64, 11 f64, 12 bf16)"));
    }
    mf_type two[2] = {in, in};
    assert_int_equal(mf_op_infer(MF_OP_CAST, a, 2, two, &out), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "cast(f32[4], f32[4]): takes 1 inputs, got 2"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f32_to_ints),
        cmocka_unit_test(test_f32_to_int_edges),
        cmocka_unit_test(test_f32_to_bool_and_f16),
        cmocka_unit_test(test_f16_to_everything),
        cmocka_unit_test(test_bf16_both_ways),
        cmocka_unit_test(test_int_to_int),
        cmocka_unit_test(test_int_to_float_and_bool),
        cmocka_unit_test(test_bool_to_everything),
        cmocka_unit_test(test_same_dtype_and_empty),
        cmocka_unit_test(test_every_pair_small_values),
        cmocka_unit_test(test_inference),
    };
    return cmocka_run_group_tests_name("ref_cast", tests, NULL, NULL);
}
