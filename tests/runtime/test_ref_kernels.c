/* test_ref_kernels.c — the table of reference kernels: every op of ops.def has one, each
 * entry is that op's own kernel, and an op outside the list gets NULL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/ref_call.h"

static void test_every_op_has_a_kernel(void **state)
{
    for (int op = 0; op < MF_OP_COUNT; op++)
        if (!mf_rt_ref_kernel((mf_op)op))
            fail_msg("op %s has no reference kernel", mf_op_get((mf_op)op)->name);
}

static void test_entries_are_the_named_kernels(void **state)
{
#define X(ID, name, min_in, max_in, kind, mlu, schema)                                    \
    assert_ptr_equal(mf_rt_ref_kernel(MF_OP_##ID), mf_ref_##name);
#include "ir/ops.def"
#undef X
}

static void test_out_of_range_op(void **state)
{
    assert_null(mf_rt_ref_kernel(MF_OP_COUNT));
    assert_null(mf_rt_ref_kernel((mf_op)-1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_op_has_a_kernel),
        cmocka_unit_test(test_entries_are_the_named_kernels),
        cmocka_unit_test(test_out_of_range_op),
    };
    return cmocka_run_group_tests_name("ref_kernels", tests, NULL, NULL);
}
