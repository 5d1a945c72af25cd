/* test_install.c — `make install` as a user meets it: the tree holds the shared and static
 * libraries, headers, pkg-config and CMake files, the command, its --help texts and the
 * Python package; libmlufuse.so exports only the public mf_* API; a program outside the tree
 * builds and runs against the install with pkg-config (shared and static) and with
 * find_package(mlufuse); the Python package imports from the install without help. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/tool_run.h"

static char prefix[] = "/tmp/mf-install-XXXXXX";
static char out[1 << 16];

/* Runs a shell command line (stderr merged into out); returns its exit code. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    tsupport_run r = tsupport_run_sh(1, "%s", cmd);
    snprintf(out, sizeof out, "%s", r.out);
    tsupport_run_free(&r);
    return r.rc;
}

static int setup(void **state)
{
    if (!mkdtemp(prefix))
        return -1;
    if (sh("cmake --install '%s' --prefix '%s'", tsupport_build_dir(), prefix)) {
        fprintf(stderr, "cmake --install failed:\n%s\n", out);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    sh("rm -rf '%s'", prefix);
    return 0;
}

static void test_tree_holds_every_part(void **state)
{
    static const char *const files[] = {
        "lib/libmlufuse.so.0", "lib/libmlufuse.so", "lib/libmlufuse.a", "include/mlufuse/mlufuse.h",
        "include/mlufuse/mlufuse_runtime.h", "include/mlufuse/mlufuse_custom_ops.h", "lib/pkgconfig/mlufuse.pc", "lib/cmake/mlufuse/mlufuseConfig.cmake",
        "lib/cmake/mlufuse/mlufuseConfigVersion.cmake", "bin/mlufuse", "share/doc/mlufuse/mlufuse-run.txt",
        "share/doc/mlufuse/mlufuse.txt", "share/doc/mlufuse/mlufuse-genoff.txt", "bin/mlufuse-offline",
        "lib/libmlufuse_rt.so", "lib/python3/dist-packages/mlufuse/__init__.py"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", prefix, files[i]);
        if (access(path, F_OK))
            fail_msg("missing after install: %s", files[i]);
    }
    assert_int_equal(sh("grep -q -- '--time-compile' '%s/share/doc/mlufuse/mlufuse-run.txt'", prefix), 0);
    assert_int_equal(sh("readelf -d '%s/lib/libmlufuse.so' | grep -q 'SONAME.*libmlufuse.so.0'", prefix), 0);
}

/* The offline runtime alone, as its own install part: the runner and libmlufuse_rt, no LLVM. */
static void test_runtime_part_alone(void **state)
{
    char rt[128];
    snprintf(rt, sizeof rt, "%s/runtime-only", prefix);
    assert_int_equal(sh("cmake --install '%s' --component runtime --prefix '%s'", tsupport_build_dir(), rt), 0);
    assert_int_equal(sh("test -x '%s/bin/mlufuse-offline' && test -f '%s/lib/libmlufuse_rt.so' && "
                        "test -f '%s/lib/libmlufuse_rt.a' && test -f '%s/include/mlufuse/mlufuse_offline.h'",
                        rt, rt, rt, rt), 0);
    assert_int_equal(sh("test -e '%s/bin/mlufuse' || test -e '%s/lib/libmlufuse.so.0'", rt, rt), 1);
    assert_int_equal(sh("ldd '%s/bin/mlufuse-offline' | grep -c LLVM", rt), 1); /* none */
    assert_int_equal(sh("ldd '%s/bin/mlufuse-offline' | grep -q 'libmlufuse_rt.so => %s/'", rt, rt), 0);
    assert_int_equal(sh("'%s/bin/mlufuse-offline' --help", rt), 0);
}

static void test_only_the_public_api_is_exported(void **state)
{
    assert_int_equal(sh("nm -D --defined-only '%s/lib/libmlufuse.so' | awk '{print $3}' | grep -v '^mf_' "
                        "| grep -v '^MLUFUSE_0$'", prefix), 1); /* grep -v found nothing else */
    assert_int_equal(sh("nm -D --defined-only '%s/lib/libmlufuse.so' | grep -c ' mf_'", prefix), 0);
    assert_true(atoi(out) > 100);
    assert_int_equal(sh("nm -D --defined-only '%s/lib/libmlufuse.so' | grep -E ' (mf_cg_|mf_rt_|mf_cache_get)'",
                        prefix), 1); /* internals stay inside */
    assert_int_equal(sh("objdump -T '%s/lib/libmlufuse.so' | grep -c 'MLUFUSE_0 *mf_module_create'", prefix), 0);
    assert_int_equal(sh("objdump -T '%s/lib/libmlufuse.so' | grep -c 'MLUFUSE_0 *mf_custom_ops_load$'", prefix), 0);
}

static void test_outside_program_with_pkg_config(void **state)
{
    const char *src = tsupport_source_dir();
    int rc = sh("export PKG_CONFIG_PATH='%s/lib/pkgconfig' && cd '%s' && "
                "cc -o outside-shared '%s/tests/install/outside.c' $(pkg-config --cflags --libs mlufuse) -lm "
                "-Wl,-rpath,'%s/lib' && ./outside-shared",
                prefix, prefix, src, prefix);
    if (rc || !strstr(out, "outside: mlufuse 0."))
        fail_msg("shared, pkg-config: rc %d\n%s", rc, out);
    assert_int_equal(sh("ldd '%s/outside-shared' | grep -q '%s/lib/libmlufuse.so.0'", prefix, prefix), 0);
    rc = sh("export PKG_CONFIG_PATH='%s/lib/pkgconfig' && cd '%s' && "
            "cc -o outside-static '%s/tests/install/outside.c' $(pkg-config --cflags mlufuse) "
            "-Wl,--whole-archive '%s/lib/libmlufuse.a' "
            "-Wl,--no-whole-archive $(pkg-config --static --libs-only-other --libs-only-L mlufuse) "
            "$(pkg-config --static --libs mlufuse | sed 's/-lmlufuse//') && ./outside-static",
            prefix, prefix, src, prefix);
    if (rc || !strstr(out, "outside: mlufuse 0."))
        fail_msg("static, pkg-config: rc %d\n%s", rc, out);
    assert_int_equal(sh("ldd '%s/outside-static' | grep -c libmlufuse", prefix), 1); /* none */
}

static void test_outside_program_with_find_package(void **state)
{
    const char *src = tsupport_source_dir();
    int rc = sh("cmake -S '%s/tests/install/outside' -B '%s/outside-build' -DCMAKE_PREFIX_PATH='%s' >/dev/null && "
                "cmake --build '%s/outside-build' >/dev/null && '%s/outside-build/outside'",
                src, prefix, prefix, prefix, prefix);
    if (rc || !strstr(out, "outside: mlufuse 0."))
        fail_msg("find_package: rc %d\n%s", rc, out);
}

static void test_python_package_from_the_install(void **state)
{
    int rc = sh("cd / && env -u MLUFUSE_LIBRARY PYTHONPATH='%s/lib/python3/dist-packages' /usr/bin/python3 -c "
                "\"import mlufuse, numpy as np; t = mlufuse.tensor(np.ones(3, np.float32)).to('mlu:0'); "
                "print('python', mlufuse.__version__, mlufuse.ops.relu(t).numpy().sum(), mlufuse.__file__)\"",
                prefix);
    if (rc || !strstr(out, "python 0.") || !strstr(out, " 3.0 ") || !strstr(out, prefix))
        fail_msg("python from the install: rc %d\n%s", rc, out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_holds_every_part),
        cmocka_unit_test(test_only_the_public_api_is_exported),
        cmocka_unit_test(test_runtime_part_alone),
        cmocka_unit_test(test_outside_program_with_pkg_config),
        cmocka_unit_test(test_outside_program_with_find_package),
        cmocka_unit_test(test_python_package_from_the_install),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
