/* test_target.c — LLVM is linked and can describe and target this machine: the first
 * brick of code generation and of every cache key. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "codegen/codegen.h"

static void test_host_target(void **state)
{
    mf_cg_target t;
    assert_int_equal(mf_cg_target_init(NULL, &t), MF_OK);
    assert_int_equal(t.llvm_major, 19);
    assert_non_null(strstr(t.triple, "x86_64"));
    assert_true(strlen(t.cpu) > 0);
    assert_true(strlen(t.features) > 0);
}

static void test_named_cpu(void **state)
{
    mf_cg_target t;
    assert_int_equal(mf_cg_target_init("x86-64-v3", &t), MF_OK);
    assert_string_equal(t.cpu, "x86-64-v3");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_target),
        cmocka_unit_test(test_named_cpu),
    };
    return cmocka_run_group_tests_name("codegen_target", tests, NULL, NULL);
}
