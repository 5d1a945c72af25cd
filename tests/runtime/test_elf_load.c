/* test_elf_load.c — the kernel object loader on objects with every relocation it supports,
 * made by the system's C compiler (-fPIC -O2) at test time: a call to a libm function
 * (PLT32), the address of a library function (GOTPCREL/REX_GOTPCRELX), a table of pointers
 * (R_X86_64_64 in .data.rel.ro), constants (PC32) and writable data (.data, .bss); the loaded
 * code runs and computes what the same C computes here.  An object calling a function off
 * the allowed list, and objects cut short or with a byte flipped, are refused or loaded, never
 * crash.  The code pages are not writable. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/mfo.h"
#include "tests/support/tool_run.h"

static const char kernel_c[] =
    "#include <math.h>\n"
    "#include <string.h>\n"
    "#include <stdint.h>\n"
    "static float twice(float x) { return 2 * x; }\n"
    "static float half(float x) { return x / 2; }\n"
    "static float (*const ops[])(float) = {twice, half};\n"
    "static int calls;\n"
    "int counter = 5;\n"
    "void *(*volatile setter)(void *, int, size_t);\n"
    "void kernel(void *const *args, int64_t part, int64_t nparts)\n"
    "{\n"
    "    float *out = args[0];\n"
    "    const float *in = args[1];\n"
    "    setter = memset;\n"
    "    setter(out + 4, 0, 4 * sizeof(float));\n"
    "    for (int i = 0; i < 4; i++)\n"
    "        out[i] = ops[i & 1](expf(in[i])) + 0.25f * (float)i;\n"
    "    calls++;\n"
    "    counter += calls;\n"
    "    out[8] = (float)counter;\n"
    "}\n";

static char dir[64];

static unsigned char *compile(const char *source, size_t *n)
{
    char src[128], obj[128], cmd[512];
    snprintf(src, sizeof src, "%s/k.c", dir);
    snprintf(obj, sizeof obj, "%s/k.o", dir);
    tsupport_write_file(src, source);
    snprintf(cmd, sizeof cmd, "cc -std=c11 -fPIC -O2 -fno-asynchronous-unwind-tables -c %s -o %s", src, obj);
    if (system(cmd) != 0)
        fail_msg("cannot compile the test kernel: %s", cmd);
    unsigned char *data = (unsigned char *)tsupport_read_file(obj, n);
    assert_non_null(data);
    return data;
}

static int setup(void **state)
{
    tsupport_tmpdir("elf_load", dir);
    return 0;
}

static int teardown(void **state)
{
    tsupport_rmdir_all(dir);
    return 0;
}

/* The permissions of the mapping holding addr, from /proc/self/maps ("r-xp"). */
static void perms_of(const void *addr, char *out)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    strcpy(out, "none");
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char p[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, p) == 3 && (uintptr_t)addr >= lo && (uintptr_t)addr < hi)
            strcpy(out, p);
    }
    if (f)
        fclose(f);
}

static void test_relocations_run(void **state)
{
    size_t n;
    unsigned char *o = compile(kernel_c, &n);
    mf_rt_code *code;
    mf_rt_kernel_fn fn;
    if (mf_rt_code_load(o, n, "kernel", "test", &code, &fn))
        fail_msg("%s", mf_last_error());
    float in[4] = {0.5f, -1, 2, 0}, out[9];
    memset(out, 0x7f, sizeof out);
    void *args[2] = {out, in};
    fn(args, 0, 1);
    for (int i = 0; i < 4; i++) {
        float want = (i & 1 ? expf(in[i]) / 2 : 2 * expf(in[i])) + 0.25f * (float)i;
        assert_true(fabsf(out[i] - want) <= 1e-6f * fabsf(want));
    }
    for (int i = 4; i < 8; i++)
        assert_true(out[i] == 0);
    assert_true(out[8] == 6); /* 5 + 1: .data and .bss, relocated and writable */
    fn(args, 0, 1);
    assert_true(out[8] == 8);
    char perms[8];
    perms_of((const void *)(uintptr_t)fn, perms);
    assert_string_equal(perms, "r-xp"); /* W^X: code is never writable */
    mf_rt_code_free(code);
    free(o);
}

static void test_refuses_other_calls(void **state)
{
    size_t n;
    unsigned char *o = compile("#include <stdlib.h>\n#include <stdint.h>\n"
                               "void kernel(void *const *a, int64_t p, int64_t n) { (void)p; (void)n;"
                               " if (a) exit(system((const char *)a[0])); }\n",
                               &n);
    mf_rt_code *code = NULL;
    mf_rt_kernel_fn fn;
    assert_int_equal(mf_rt_code_load(o, n, "kernel", "test", &code, &fn), MF_ERR_UNSUPPORTED);
    assert_non_null(strstr(mf_last_error(), "not a function kernels may call"));
    assert_null(code);
    free(o);
    o = compile(kernel_c, &n);
    assert_int_equal(mf_rt_code_load(o, n, "no_such_symbol", "test", &code, &fn), MF_ERR_PARSE);
    free(o);
}

static void test_damaged_objects(void **state)
{
    size_t n;
    unsigned char *o = compile(kernel_c, &n);
    unsigned char *copy = malloc(n);
    mf_rt_code *code;
    mf_rt_kernel_fn fn;
    for (size_t len = 0; len < n; len += 7) {
        code = NULL;
        if (mf_rt_code_load(o, len, "kernel", "cut", &code, &fn) == MF_OK)
            mf_rt_code_free(code);
    }
    uint64_t r = 99;
    for (int k = 0; k < 3000; k++) {
        memcpy(copy, o, n);
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        copy[(r >> 33) % n] ^= (unsigned char)(1u << ((r >> 20) % 8));
        code = NULL;
        if (mf_rt_code_load(copy, n, "kernel", "flipped", &code, &fn) == MF_OK)
            mf_rt_code_free(code); /* loaded (a byte of code or data): not run */
        else
            assert_true(mf_last_error()[0] != 0);
    }
    free(copy);
    free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relocations_run),
        cmocka_unit_test(test_refuses_other_calls),
        cmocka_unit_test(test_damaged_objects),
    };
    return cmocka_run_group_tests_name("elf_load", tests, setup, teardown);
}
