/* test_shape_bounds.c — the one checked element and byte count (mf_type_check) and the
 * shape rules that multiply or add dimensions from files: reshape, slice, upsample, pad,
 * concat and window geometry never wrap around; they give the right size or an error. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

static void test_type_check(void **state)
{
    int64_t n;
    size_t bytes;
    mf_type t = {MF_F32, 2, {3, 4}};
    assert_int_equal(mf_type_check(&t, "t", &n, &bytes), MF_OK);
    assert_int_equal(n, 12);
    assert_int_equal(bytes, 48);
    t = (mf_type){MF_F32, 2, {0, (int64_t)1 << 40}}; /* empty, but each dim still bounded */
    assert_int_equal(mf_type_check(&t, "t", &n, &bytes), MF_OK);
    assert_int_equal(n, 0);
    t = (mf_type){MF_F32, 2, {0, INT64_MAX}};
    assert_int_equal(mf_type_check(&t, "t", &n, &bytes), MF_ERR_SHAPE);
    /* empty, but the other dims' product (2^80) would overflow whoever multiplies them */
    t = (mf_type){MF_F32, 3, {(int64_t)1 << 40, (int64_t)1 << 40, 0}};
    assert_int_equal(mf_type_check(&t, "t", &n, &bytes), MF_ERR_SHAPE);
    t = (mf_type){MF_F32, 1, {(int64_t)4611686018427387903}}; /* 4 bytes each: 2^64 - 4 */
    assert_int_equal(mf_type_check(&t, "t", &n, &bytes), MF_ERR_SHAPE);
    assert_non_null(strstr(mf_last_error(), "t: f32[4611686018427387903] is larger than"));
    t = (mf_type){MF_I8, 4, {65536, 65536, 65536, 65536}}; /* the product wraps to 0 */
    assert_int_equal(mf_type_check(&t, "t", &n, &bytes), MF_ERR_SHAPE);
    t = (mf_type){MF_I8, 1, {MF_MAX_TENSOR_BYTES}};
    assert_int_equal(mf_type_check(&t, "t", &n, &bytes), MF_OK);
    t.dtype = MF_F16;
    assert_int_equal(mf_type_check(&t, "t", &n, &bytes), MF_ERR_SHAPE);
    t = (mf_type){MF_F32, 1, {-1}};
    assert_int_equal(mf_type_check(&t, "t", &n, &bytes), MF_ERR_SHAPE);
    t = (mf_type){MF_F32, MF_MAX_RANK + 1, {1}};
    assert_int_equal(mf_type_check(&t, "t", &n, &bytes), MF_ERR_SHAPE);
}

/* The graph text `body` (after the input %x: IN) parses, or fails with phrase. */
static void expect(const char *in, const char *body, const char *phrase)
{
    char text[1024];
    snprintf(text, sizeof text, "graph @g(%%x: %s) {\n%s}\n", in, body);
    mf_graph *g = NULL;
    mf_status s = mf_graph_parse(text, "t.mfir", &g);
    if (phrase && (s == MF_OK || !strstr(mf_last_error(), phrase)))
        fail_msg("%s: expected '%s', got status %d: %s", body, phrase, (int)s, s ? mf_last_error() : "");
    if (!phrase && s != MF_OK)
        fail_msg("%s: %s", body, mf_last_error());
    mf_graph_destroy(g);
}

static void test_reshape(void **state)
{
    /* 2^32 * 2^32 wrapped to 0: "4 elements cannot be reshaped to 0" */
    expect("f32[4]", "  %y = reshape(%x) {shape=[4294967296,4294967296]} : f32[4294967296,4294967296]\n  return %y\n",
           "too large");
    expect("f32[4]", "  %y = reshape(%x) {shape=[2,-1]} : f32[2,2]\n  return %y\n", NULL);
}

static void test_slice(void **state)
{
    /* one element from a huge step: the count formula overflowed to 0 */
    expect("f32[3,4]", "  %y = slice(%x) {starts=[0], ends=[3], axes=[0], steps=[9223372036854775807]} : f32[1,4]\n"
                       "  return %y\n", NULL);
    expect("f32[3,4]", "  %y = slice(%x) {starts=[2], ends=[-4], axes=[0], steps=[-9223372036854775807]} : f32[1,4]\n"
                       "  return %y\n", NULL);
    expect("f32[3,4]", "  %y = slice(%x) {starts=[2], ends=[1], axes=[0]} : f32[0,4]\n  return %y\n", NULL);
}

static void test_upsample_pad_concat(void **state)
{
    expect("f32[1,1,4,4]", "  %y = upsample_nearest2d(%x) {scale=[2147483649,2147483649]} : f32[1,1,4,4]\n  return %y\n",
           "must be in");
    expect("f32[1,1,4,4]", "  %y = upsample_nearest2d(%x) {scale=[2147483647,2147483647]} : f32[1,1,4,4]\n  return %y\n",
           "too large");
    expect("f32[4]", "  %y = pad(%x) {pads=[9223372036854775807,1]} : f32[4]\n  return %y\n", "out of range");
}

static void test_window_geometry(void **state)
{
    /* dilation * (k - 1) with k from the weight, and huge padding: no wrap-around */
    expect("f32[1,1,8,8]", "  %w = const f32[1,1,3,3] opaque\n"
                           "  %y = conv2d(%x, %w) {stride=[1,1], padding=[9223372036854775807,0], dilation=[1,1]} : f32[1,1,8,8]\n"
                           "  return %y\n", "must be in");
    expect("f32[1,1,8,8]", "  %w = const f32[1,1,1099511627776,1] opaque\n"
                           "  %y = conv2d(%x, %w) {stride=[1,1], padding=[0,0], dilation=[2147483647,1]} : f32[1,1,8,8]\n"
                           "  return %y\n", "out of range");
    expect("f32[1,1,8,8]", "  %y = max_pool2d(%x) {kernel=[2,2], stride=[2,2], padding=[0,0]} : f32[1,1,4,4]\n"
                           "  return %y\n", NULL);
}

static void test_groups_bounded(void **state)
{
    /* with no channels every groups divides them: w->shape[1] * 2^61 wrapped to 0 */
    expect("f32[1,0,4,4]", "  %w = const f32[0,8,1,1] opaque\n"
                           "  %y = conv2d(%x, %w) {groups=2305843009213693952} : f32[1,0,4,4]\n"
                           "  return %y\n", "must be in 1..");
}

static void test_huge_type_in_text(void **state)
{
    mf_graph *g;
    assert_int_equal(mf_graph_parse("graph @g(%x: f32[4611686018427387903,4]) {\n  return %x\n}\n", "t.mfir", &g),
                     MF_ERR_PARSE);
    assert_non_null(strstr(mf_last_error(), "t.mfir:1:14: type: f32[4611686018427387903,4] is larger than"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_check),          cmocka_unit_test(test_reshape),
        cmocka_unit_test(test_slice),               cmocka_unit_test(test_upsample_pad_concat),
        cmocka_unit_test(test_window_geometry),     cmocka_unit_test(test_huge_type_in_text),
        cmocka_unit_test(test_groups_bounded),
    };
    return cmocka_run_group_tests_name("shape_bounds", tests, NULL, NULL);
}
