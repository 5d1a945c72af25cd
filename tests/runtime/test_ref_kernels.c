/* test_ref_kernels.c — the table of reference kernels: an op outside the list gets NULL.
 * (That every op has its own kernel needs no test: the table is built from ops.def with
 * mf_ref_<name>, so a missing kernel fails to link.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/ref_call.h"

static void test_out_of_range_op(void **state)
{
    assert_null(mf_rt_ref_kernel(MF_OP_COUNT));
    assert_null(mf_rt_ref_kernel((mf_op)-1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_out_of_range_op),
    };
    return cmocka_run_group_tests_name("ref_kernels", tests, NULL, NULL);
}
