/* test_log.c — the library's one logging path: MLUFUSE_LOG decides what reaches stderr
 * (warnings unless "none", a subsystem's notes when listed, everything for all or 1), and
 * every attribute schema of ops.def parses (a malformed one would fail inference, not
 * abort the process). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "ir/ir.h"

static void test_gating(void **state)
{
    unsetenv("MLUFUSE_LOG");
    assert_true(mf_log_enabled(MF_LOG_WARNING, "cache"));
    assert_false(mf_log_enabled(MF_LOG_INFO, "module"));
    setenv("MLUFUSE_LOG", "runtime,module", 1);
    assert_true(mf_log_enabled(MF_LOG_INFO, "module"));
    assert_true(mf_log_enabled(MF_LOG_INFO, "runtime"));
    assert_false(mf_log_enabled(MF_LOG_INFO, "cache"));
    setenv("MLUFUSE_LOG", "modules", 1); /* whole words only */
    assert_false(mf_log_enabled(MF_LOG_INFO, "module"));
    setenv("MLUFUSE_LOG", "all", 1);
    assert_true(mf_log_enabled(MF_LOG_INFO, "codegen"));
    setenv("MLUFUSE_LOG", "1", 1);
    assert_true(mf_log_enabled(MF_LOG_INFO, "cache"));
    setenv("MLUFUSE_LOG", "none", 1);
    assert_false(mf_log_enabled(MF_LOG_WARNING, "cache"));
    unsetenv("MLUFUSE_LOG");
}

static void test_every_schema_parses(void **state)
{
    assert_null(mf_op_schema_problem());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gating),
        cmocka_unit_test(test_every_schema_parses),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
