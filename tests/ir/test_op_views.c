/* test_op_views.c — the typed attribute views decode what the schema holds, with the
 * defaults the ops document (a pool without stride steps by its kernel; an op without
 * dilation has 1), and a reduction without dims reduces every dim. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "ir/ir.h"

static void test_conv2d(void **state)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CONV2D, a);
    mf_attr_set_ints(MF_OP_CONV2D, a, "stride", 2, (int64_t[]){2, 3});
    mf_attr_set_ints(MF_OP_CONV2D, a, "padding", 2, (int64_t[]){1, 0});
    mf_attr_set_int(MF_OP_CONV2D, a, "groups", 4);
    mf_conv2d_view v = mf_conv2d_of(MF_OP_CONV2D, a);
    assert_int_equal(v.stride[0], 2);
    assert_int_equal(v.stride[1], 3);
    assert_int_equal(v.padding[0], 1);
    assert_int_equal(v.dilation[1], 1);
    assert_int_equal(v.output_padding[0], 0); /* not conv2d's: 0 */
    assert_int_equal(v.groups, 4);
    mf_op_default_attrs(MF_OP_CONV_TRANSPOSE2D, a);
    mf_attr_set_ints(MF_OP_CONV_TRANSPOSE2D, a, "output_padding", 2, (int64_t[]){1, 1});
    assert_int_equal(mf_conv2d_of(MF_OP_CONV_TRANSPOSE2D, a).output_padding[1], 1);
}

static void test_pool2d(void **state)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_AVG_POOL2D, a);
    mf_attr_set_ints(MF_OP_AVG_POOL2D, a, "kernel", 2, (int64_t[]){5, 3});
    mf_pool2d_view v = mf_pool2d_of(MF_OP_AVG_POOL2D, a);
    assert_int_equal(v.stride[0], 5); /* no stride: the kernel */
    assert_int_equal(v.stride[1], 3);
    assert_int_equal(v.dilation[0], 1); /* avg_pool2d has none */
    assert_true(v.count_include_pad);
    mf_op_default_attrs(MF_OP_MAX_POOL2D, a);
    mf_attr_set_ints(MF_OP_MAX_POOL2D, a, "kernel", 2, (int64_t[]){2, 2});
    mf_attr_set_ints(MF_OP_MAX_POOL2D, a, "stride", 2, (int64_t[]){1, 1});
    mf_attr_set_ints(MF_OP_MAX_POOL2D, a, "dilation", 2, (int64_t[]){2, 2});
    mf_attr_set_int(MF_OP_MAX_POOL2D, a, "ceil_mode", 1);
    v = mf_pool2d_of(MF_OP_MAX_POOL2D, a);
    assert_int_equal(v.stride[0], 1);
    assert_int_equal(v.dilation[1], 2);
    assert_true(v.ceil_mode);
    assert_false(v.count_include_pad);
}

static void test_reduce(void **state)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_SUM, a);
    mf_reduce_view v = mf_reduce_of(MF_OP_SUM, a, 3);
    assert_true(v.reduced[0] && v.reduced[1] && v.reduced[2]);
    mf_attr_set_ints(MF_OP_SUM, a, "dims", 2, (int64_t[]){-1, 0});
    mf_attr_set_int(MF_OP_SUM, a, "keepdim", 1);
    v = mf_reduce_of(MF_OP_SUM, a, 3);
    assert_true(v.reduced[0] && !v.reduced[1] && v.reduced[2]);
    assert_true(v.keepdim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv2d),
        cmocka_unit_test(test_pool2d),
        cmocka_unit_test(test_reduce),
    };
    return cmocka_run_group_tests_name("op_views", tests, NULL, NULL);
}
