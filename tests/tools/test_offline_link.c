/* test_offline_link.c — the offline runner and libmlufuse_rt need no compiler: the runner's
 * link line names only libmlufuse_rt (no LLVM, codegen, cache or passes), ldd finds no LLVM
 * in it, and the shared library defines none of the compiler's functions nor asks for
 * LLVM's. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/tool_run.h"

/* The output of a shell command (the caller frees it). */
static char *shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *shell(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 20, n = 0;
    char *out = malloc(cap);
    for (size_t k; (k = fread(out + n, 1, cap - 1 - n, p)) > 0;)
        n += k;
    out[n] = 0;
    pclose(p);
    return out;
}

static void test_link_line(void **state)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/CMakeFiles/mlufuse-offline.dir/link.txt", tsupport_build_dir());
    char *link = tsupport_read_file(path, NULL);
    assert_non_null(link);
    const char *banned[] = {"LLVM", "mf_codegen", "mf_cache", "mf_passes", "mf_module", "mf_frontends"};
    for (size_t i = 0; i < sizeof banned / sizeof banned[0]; i++)
        if (strstr(link, banned[i]))
            fail_msg("the runner links %s: %s", banned[i], link);
    assert_non_null(strstr(link, "libmlufuse_rt"));
    free(link);
}

static void test_ldd(void **state)
{
    char *out = shell("ldd %s/mlufuse-offline 2>&1", tsupport_build_dir());
    if (!strstr(out, "libmlufuse_rt.so") || strstr(out, "LLVM") || strstr(out, "not found"))
        fail_msg("%s", out);
    free(out);
}

static void test_library_symbols(void **state)
{
    char *defined = shell("nm -D --defined-only %s/libmlufuse_rt.so", tsupport_build_dir());
    const char *banned[] = {" mf_cg_", " mf_cache_", " mf_pass_", " mf_mod_", " mf_genoff", " LLVM"};
    assert_non_null(strstr(defined, " mf_offline_load"));
    for (size_t i = 0; i < sizeof banned / sizeof banned[0]; i++)
        if (strstr(defined, banned[i]))
            fail_msg("libmlufuse_rt defines%s...", banned[i]);
    free(defined);
    char *undefined = shell("nm -D --undefined-only %s/libmlufuse_rt.so", tsupport_build_dir());
    if (strstr(undefined, "LLVM") || strstr(undefined, " mf_"))
        fail_msg("libmlufuse_rt needs: %s", undefined);
    free(undefined);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link_line),
        cmocka_unit_test(test_ldd),
        cmocka_unit_test(test_library_symbols),
    };
    return cmocka_run_group_tests_name("offline_link", tests, NULL, NULL);
}
