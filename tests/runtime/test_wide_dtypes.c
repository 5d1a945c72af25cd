/* test_wide_dtypes.c — the dtypes beyond f32 that ONNX inference uses (u8, i16, u16, u32,
 * u64, f64 beside f16, i8, i32, i64, bool): .npy files round-trip each, .mfir constants
 * print and parse back bit for bit, out-of-range literals are refused, and the binary
 * arithmetic runs on the CPU with each dtype's own rules (unsigned wrap, integer division
 * truncating with no trap on a zero divisor, f64 kept in double). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mlufuse/mlufuse.h"

static void test_npy_round_trip(void **state)
{
    const mf_dtype dts[] = {MF_U8, MF_I16, MF_U16, MF_U32, MF_U64, MF_F64};
    _Alignas(8) unsigned char bytes[4 * 8];
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (unsigned char)(37 * i + 5);
    char path[64];
    snprintf(path, sizeof path, "/tmp/mf_wide_%d.npy", (int)getpid());
    for (size_t d = 0; d < sizeof dts / sizeof dts[0]; d++) {
        int64_t shape[1] = {4};
        mf_tensor *t, *back;
        assert_int_equal(mf_tensor_from_data(dts[d], 1, shape, bytes, 4 * mf_dtype_size(dts[d]), &t), MF_OK);
        assert_int_equal(mf_tensor_save_npy(t, path), MF_OK);
        assert_int_equal(mf_tensor_load_npy(path, &back), MF_OK);
        assert_int_equal(mf_tensor_dtype(back), dts[d]);
        assert_memory_equal(mf_tensor_data(back), bytes, 4 * mf_dtype_size(dts[d]));
        mf_tensor_free(t);
        mf_tensor_free(back);
    }
    unlink(path);
}

/* Parses text, prints it, and checks the print parses to the same print. */
static void round_trip(const char *text)
{
    mf_graph *g, *g2;
    char *a, *b;
    if (mf_graph_parse(text, "<wide>", &g))
        fail_msg("%s", mf_last_error());
    assert_int_equal(mf_graph_print(g, 0, &a), MF_OK);
    if (mf_graph_parse(a, "<printed>", &g2))
        fail_msg("%s\n%s", mf_last_error(), a);
    assert_int_equal(mf_graph_print(g2, 0, &b), MF_OK);
    assert_string_equal(a, b);
    free(a);
    free(b);
    mf_graph_destroy(g);
    mf_graph_destroy(g2);
}

static void test_mfir_constants(void **state)
{
    round_trip("graph @g(%x: u8[3]) {\n  %c = const u8[3] dense<0, 128, 255>\n  %y = add(%x, %c) : u8[3]\n  return %y\n}\n");
    round_trip("graph @g(%x: i16[2]) {\n  %c = const i16[2] dense<-32768, 32767>\n  %y = mul(%x, %c) : i16[2]\n  return %y\n}\n");
    round_trip("graph @g(%x: u16[1]) {\n  %c = const u16[1] dense<65535>\n  %y = div(%x, %c) : u16[1]\n  return %y\n}\n");
    round_trip("graph @g(%x: u32[1]) {\n  %c = const u32[1] dense<4294967295>\n  %y = sub(%x, %c) : u32[1]\n  return %y\n}\n");
    round_trip("graph @g(%x: u64[1]) {\n  %c = const u64[1] dense<9007199254740993>\n  %y = maximum(%x, %c) : u64[1]\n  return %y\n}\n");
    round_trip("graph @g(%x: f64[2]) {\n  %c = const f64[2] dense<0.1, 1e300>\n  %y = minimum(%x, %c) : f64[2]\n  return %y\n}\n");
    mf_graph *g = (mf_graph *)0x1;
    assert_int_not_equal(mf_graph_parse("graph @g(%x: u8[1]) {\n  %c = const u8[1] dense<256>\n  return %c\n}\n", "<t>", &g), MF_OK);
    assert_non_null(strstr(mf_last_error(), "256 is out of range for u8"));
    assert_int_not_equal(mf_graph_parse("graph @g(%x: u16[1]) {\n  %c = const u16[1] dense<-1>\n  return %c\n}\n", "<t>", &g), MF_OK);
    assert_non_null(strstr(mf_last_error(), "-1 is out of range for u16"));
}

/* Runs `op`(a, b) layer by layer on n elements of dtype dt; the caller frees. */
static mf_tensor *run_binary(const char *op, const char *dt, mf_dtype d, int n, const void *a, const void *b)
{
    char text[256];
    snprintf(text, sizeof text, "graph @g(%%a: %s[%d], %%b: %s[%d]) {\n  %%y = %s(%%a, %%b) : %s[%d]\n  return %%y\n}\n",
             dt, n, dt, n, op, dt, n);
    mf_graph *g;
    if (mf_graph_parse(text, "<t>", &g))
        fail_msg("%s", mf_last_error());
    int64_t shape[1] = {n};
    mf_tensor *in[2], *out;
    assert_int_equal(mf_tensor_from_data(d, 1, shape, a, (size_t)n * mf_dtype_size(d), &in[0]), MF_OK);
    assert_int_equal(mf_tensor_from_data(d, 1, shape, b, (size_t)n * mf_dtype_size(d), &in[1]), MF_OK);
    if (mf_graph_interpret(g, 2, in, 1, &out))
        fail_msg("%s", mf_last_error());
    assert_int_equal(mf_tensor_dtype(out), d);
    mf_tensor_free(in[0]);
    mf_tensor_free(in[1]);
    mf_graph_destroy(g);
    return out;
}

static void test_integer_arithmetic(void **state)
{
    const uint8_t a8[4] = {250, 3, 7, 0}, b8[4] = {10, 5, 0, 1};
    mf_tensor *y = run_binary("add", "u8", MF_U8, 4, a8, b8);
    assert_memory_equal(mf_tensor_data(y), ((uint8_t[]){4, 8, 7, 1}), 4); /* 260 wraps to 4 */
    mf_tensor_free(y);
    y = run_binary("sub", "u8", MF_U8, 4, a8, b8);
    assert_memory_equal(mf_tensor_data(y), ((uint8_t[]){240, 254, 7, 255}), 4);
    mf_tensor_free(y);
    y = run_binary("div", "u8", MF_U8, 4, a8, b8);
    assert_memory_equal(mf_tensor_data(y), ((uint8_t[]){25, 0, 0, 0}), 4); /* 7 / 0 is 0, no trap */
    mf_tensor_free(y);
    const int16_t a16[3] = {-7, 32767, -32768}, b16[3] = {2, 1, -1};
    y = run_binary("div", "i16", MF_I16, 3, a16, b16);
    assert_memory_equal(mf_tensor_data(y), ((int16_t[]){-3, 32767, -32768}), 6); /* toward zero; wraps */
    mf_tensor_free(y);
    y = run_binary("maximum", "i16", MF_I16, 3, a16, b16);
    assert_memory_equal(mf_tensor_data(y), ((int16_t[]){2, 32767, -1}), 6);
    mf_tensor_free(y);
    const uint64_t a64[2] = {(1ull << 53) + 1, 5}, b64[2] = {1, 7};
    y = run_binary("add", "u64", MF_U64, 2, a64, b64);
    assert_memory_equal(mf_tensor_data(y), ((uint64_t[]){(1ull << 53) + 2, 12}), 16); /* exact past 2^53 */
    mf_tensor_free(y);
}

static void test_f64_stays_double(void **state)
{
    const double a[2] = {0.1, 1e300}, b[2] = {0.2, 1e300};
    mf_tensor *y = run_binary("add", "f64", MF_F64, 2, a, b);
    const double *o = mf_tensor_data(y);
    assert_true(o[0] == 0.1 + 0.2); /* not rounded through f32 */
    assert_true(o[1] == 2e300);     /* beyond f32's range */
    mf_tensor_free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_npy_round_trip),
        cmocka_unit_test(test_mfir_constants),
        cmocka_unit_test(test_integer_arithmetic),
        cmocka_unit_test(test_f64_stays_double),
    };
    return cmocka_run_group_tests_name("wide_dtypes", tests, NULL, NULL);
}
