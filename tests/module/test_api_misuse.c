/* test_api_misuse.c — the public API under the misuse an audit found crashing or doing harm:
 * every call returns an error status with a message (or, without a status, does nothing),
 * never a crash, never a write outside what it was given.  A cache key named a file
 * outside the cache directory ("../victim" deleted ../victim.mfk); mf_tensor_rand left f64
 * data uninitialised and wrote f16 bits as bf16; NULL options, graphs and out-pointers
 * crashed quantize, the report, the cache listings, the dot printer and the accessors; a
 * staged program took options that every stage then refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mlufuse/mlufuse.h"
#include "mlufuse/mlufuse_cache.h"
#include "mlufuse/mlufuse_passes.h"
#include "mlufuse/mlufuse_quant.h"
#include "tests/support/tool_run.h"

static void expect_invalid(mf_status s, const char *says)
{
    assert_int_equal(s, MF_ERR_INVALID);
    if (!strstr(mf_last_error(), says))
        fail_msg("\"%s\" not in: %s", says, mf_last_error());
}

static void touch(const char *path)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
}

static void test_cache_keys_stay_in_the_directory(void **state)
{
    char dir[128], cache[160], victim[192];
    tsupport_tmpdir("api_misuse", dir);
    snprintf(cache, sizeof cache, "%s/cache", dir);
    assert_int_equal(mkdir(cache, 0700), 0);
    static const char *exts[] = {".mfk", ".hits", ".mfo"};
    for (int i = 0; i < 3; i++) {
        snprintf(victim, sizeof victim, "%s/victim%s", dir, exts[i]);
        touch(victim);
    }
    static const char *bad[] = {"../victim", "", "ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
                                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde"};
    char *text = NULL;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        expect_invalid(mf_kernel_cache_remove(cache, bad[i]), "a cache key is 64 lowercase hex digits");
        expect_invalid(mf_plan_cache_remove(cache, bad[i]), "a cache key is 64 lowercase hex digits");
        expect_invalid(mf_kernel_cache_disassemble(cache, bad[i], &text), "a cache key is 64 lowercase hex digits");
    }
    expect_invalid(mf_kernel_cache_remove(cache, NULL), "not '(null)'");
    /* a file named like an entry but not by a key is no entry: listed, prune could never
     * remove it */
    char odd[256];
    snprintf(odd, sizeof odd, "%s/ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ.mfk", cache);
    touch(odd);
    mf_cache_entry_info *listed;
    int n = -1;
    assert_int_equal(mf_kernel_cache_list(cache, &listed, &n), MF_OK);
    assert_int_equal(n, 0);
    free(listed);
    assert_int_equal(unlink(odd), 0);
    for (int i = 0; i < 3; i++) { /* still there */
        snprintf(victim, sizeof victim, "%s/victim%s", dir, exts[i]);
        assert_int_equal(access(victim, F_OK), 0);
    }
    /* a whole key that has no entry is removed without complaint, as before */
    assert_int_equal(mf_kernel_cache_remove(cache, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
                     MF_OK);
    assert_int_equal(rmdir(cache), 0);
    tsupport_rmdir_all(dir);
}

static void test_cache_null_out_pointers(void **state)
{
    mf_cache_entry_info *e;
    mf_plan_cache_info *p;
    int n;
    size_t bytes;
    char *text, key[65];
    expect_invalid(mf_kernel_cache_list("/tmp", NULL, &n), "out is NULL");
    expect_invalid(mf_kernel_cache_list("/tmp", &e, NULL), "n is NULL");
    expect_invalid(mf_plan_cache_list("/tmp", NULL, &n), "out is NULL");
    expect_invalid(mf_plan_cache_list("/tmp", &p, NULL), "n is NULL");
    expect_invalid(mf_kernel_cache_key_text("/tmp", NULL, &text, key), "prefix is NULL");
    expect_invalid(mf_kernel_cache_key_text("/tmp", "ab", NULL, key), "text is NULL");
    expect_invalid(mf_kernel_cache_key_text("/tmp", "ab", &text, NULL), "key is NULL");
    expect_invalid(mf_kernel_cache_reclaim("/tmp", NULL, &bytes), "removed is NULL");
    expect_invalid(mf_kernel_cache_disassemble("/tmp", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                                               NULL),
                   "text is NULL");
    mf_kernel_cache_get_stats(NULL);
    mf_module_get_tier_info(NULL, NULL);
    mf_profile_get_stats(NULL, NULL);
}

static void test_rand_every_float_dtype(void **state)
{
    mf_tensor *t;
    assert_int_equal(mf_tensor_rand(MF_F64, 1, (int64_t[]){64}, 1, 0.5, 1, MF_DEVICE_CPU, &t), MF_OK);
    const double *d = mf_tensor_data(t);
    for (int i = 0; i < 64; i++)
        if (!(d[i] >= 0.5 && d[i] < 1))
            fail_msg("f64 element %d is %g", i, d[i]);
    mf_tensor_free(t);
    assert_int_equal(mf_tensor_rand(MF_BF16, 1, (int64_t[]){64}, 1, 0.5, 1, MF_DEVICE_CPU, &t), MF_OK);
    const uint16_t *b = mf_tensor_data(t);
    for (int i = 0; i < 64; i++) {
        uint32_t bits = (uint32_t)b[i] << 16;
        float v;
        memcpy(&v, &bits, 4);
        if (!(v >= 0.5f && v <= 1.0f)) /* rounding to bf16 may reach hi */
            fail_msg("bf16 element %d is %g", i, (double)v);
    }
    mf_tensor_free(t);
    /* past float's range (undefined in a conversion), an infinite width, no out */
    expect_invalid(mf_tensor_rand(MF_F32, 1, (int64_t[]){4}, 1, -1e300, 1e300, MF_DEVICE_CPU, &t), "not finite in f32");
    expect_invalid(mf_tensor_rand(MF_F64, 1, (int64_t[]){4}, 1, -1.7e308, 1.7e308, MF_DEVICE_CPU, &t), "not finite");
    expect_invalid(mf_tensor_rand(MF_F32, 1, (int64_t[]){4}, 1, 0, NAN, MF_DEVICE_CPU, &t), "empty or not finite");
    expect_invalid(mf_tensor_rand(MF_F32, 1, (int64_t[]){4}, 1, 0, 1, MF_DEVICE_CPU, NULL), "out is NULL");
}

static void test_null_tensor_accessors(void **state)
{
    assert_int_equal(mf_tensor_rank(NULL), -1);
    assert_int_equal(mf_tensor_dim(NULL, 0), -1);
    assert_null(mf_tensor_shape(NULL));
    assert_int_equal(mf_tensor_numel(NULL), 0);
    assert_int_equal(mf_tensor_nbytes(NULL), 0);
    assert_int_equal(mf_tensor_dtype(NULL), MF_DTYPE_COUNT);
    assert_int_equal(mf_tensor_device(NULL).index, -1);
}

static mf_graph *mnist(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/models/mnist_net/model.onnx", tsupport_shared_dir());
    mf_graph *g;
    assert_int_equal(mf_onnx_load(path, 0, &g), MF_OK);
    return g;
}

static void test_graph_and_quantize_null_arguments(void **state)
{
    mf_graph *g = mnist(), *q = NULL;
    int rank = -1;
    assert_int_equal(mf_graph_input_type(g, 0, NULL, &rank, NULL), MF_OK); /* NULL: not wanted */
    assert_int_equal(rank, 4);
    char *text;
    expect_invalid(mf_graph_dot(NULL, &text), "graph is NULL");
    expect_invalid(mf_graph_dot(g, NULL), "text is NULL");
    mf_quantize_options o = mf_quantize_default_options();
    expect_invalid(mf_quantize(g, NULL, &q), "the options is NULL");
    expect_invalid(mf_quantize(NULL, &o, &q), "the graph is NULL");
    expect_invalid(mf_quantize(g, &o, NULL), "out is NULL");
    expect_invalid(mf_quantize_with_report(g, &o, 1, NULL, &q, NULL), "the report is NULL");
    mf_quant_report_free(NULL);
    /* half reads no calibration sets: a count without the sets is no crash */
    o.dtype = MF_F16, o.ncalib = 1, o.calib = NULL;
    assert_int_equal(mf_quantize(g, &o, &q), MF_OK);
    mf_graph_destroy(q);
    mf_graph_destroy(g);
}

static void test_staged_program_checks_options(void **state)
{
    char path[512];
    snprintf(path, sizeof path, "%s/models/mnist_net/model.onnx", tsupport_shared_dir());
    mf_module_options o = mf_module_default_options();
    mf_onnx_program *p = (mf_onnx_program *)0x1;
    o.core_number = 7;
    expect_invalid(mf_onnx_program_load(path, &o, &p), "onnx program: core_number 7");
    assert_null(p);
    o = mf_module_default_options(), o.tier = (mf_tier_mode)77;
    expect_invalid(mf_onnx_program_load(path, &o, &p), "onnx program: tier 77");
    o = mf_module_default_options(), o.compile_threads = -4;
    expect_invalid(mf_onnx_program_load(path, &o, &p), "compile_threads -4");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_keys_stay_in_the_directory),
        cmocka_unit_test(test_cache_null_out_pointers),
        cmocka_unit_test(test_rand_every_float_dtype),
        cmocka_unit_test(test_null_tensor_accessors),
        cmocka_unit_test(test_graph_and_quantize_null_arguments),
        cmocka_unit_test(test_staged_program_checks_options),
    };
    return cmocka_run_group_tests_name("api_misuse", tests, NULL, NULL);
}
