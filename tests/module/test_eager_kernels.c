/* test_eager_kernels.c — the layer-by-layer mode on an mlu runs one-op kernels from the
 * keyed instruction map: the first call of an op with new shapes compiles once, the next
 * compiles nothing, and results equal the reference kernels (the same op on the cpu). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "mlufuse/mlufuse.h"
#include "tests/support/compare.h"

static void test_second_call_compiles_nothing(void **state)
{
    mf_tensor *x, *w, *b, *xd, *wd, *bd, *ref, *y1, *y2;
    assert_int_equal(mf_tensor_rand(MF_F32, 4, (int64_t[]){1, 3, 17, 19}, 1, -1, 1, MF_DEVICE_CPU, &x), MF_OK);
    assert_int_equal(mf_tensor_rand(MF_F32, 4, (int64_t[]){5, 3, 3, 3}, 2, -1, 1, MF_DEVICE_CPU, &w), MF_OK);
    assert_int_equal(mf_tensor_rand(MF_F32, 1, (int64_t[]){5}, 3, -1, 1, MF_DEVICE_CPU, &b), MF_OK);
    assert_int_equal(mf_tensor_to(x, MF_DEVICE_MLU(0), &xd), MF_OK);
    assert_int_equal(mf_tensor_to(w, MF_DEVICE_MLU(0), &wd), MF_OK);
    assert_int_equal(mf_tensor_to(b, MF_DEVICE_MLU(0), &bd), MF_OK);
    mf_conv2d_params p = MF_CONV2D_DEFAULT;
    p.stride[1] = 2;
    assert_int_equal(mf_conv2d(x, w, b, p, &ref), MF_OK);

    mf_kernel_cache_stats s0, s1, s2;
    mf_kernel_cache_get_stats(&s0);
    assert_int_equal(mf_conv2d(xd, wd, bd, p, &y1), MF_OK);
    mf_kernel_cache_get_stats(&s1);
    assert_int_equal(s1.misses - s0.misses, 1);
    assert_int_equal(mf_conv2d(xd, wd, bd, p, &y2), MF_OK);
    mf_kernel_cache_get_stats(&s2);
    assert_int_equal(s2.misses, s1.misses);
    assert_int_equal(s2.hits - s1.hits, 1);
    assert_true(tsupport_rel_diff(y1, ref, 1e-30) <= 1e-4);
    assert_true(tsupport_rel_diff(y2, ref, 1e-30) <= 1e-4);
    mf_tensor *all[] = {x, w, b, xd, wd, bd, ref, y1, y2};
    for (int i = 0; i < 9; i++)
        mf_tensor_free(all[i]);
}

static void test_chain_of_eager_ops_on_mlu(void **state)
{
    mf_tensor *x, *xd, *r[4], *d[4];
    assert_int_equal(mf_tensor_rand(MF_F32, 2, (int64_t[]){7, 33}, 4, -2, 2, MF_DEVICE_CPU, &x), MF_OK);
    assert_int_equal(mf_tensor_to(x, MF_DEVICE_MLU(0), &xd), MF_OK);
    assert_int_equal(mf_sigmoid(x, &r[0]), MF_OK);
    assert_int_equal(mf_sigmoid(xd, &d[0]), MF_OK);
    assert_int_equal(mf_mul_scalar(r[0], 3, &r[1]), MF_OK);
    assert_int_equal(mf_mul_scalar(d[0], 3, &d[1]), MF_OK);
    assert_int_equal(mf_softmax(r[1], 1, &r[2]), MF_OK);
    assert_int_equal(mf_softmax(d[1], 1, &d[2]), MF_OK);
    assert_int_equal(mf_sum(r[2], 0, NULL, 0, &r[3]), MF_OK); /* upsample-free chain: all compiled */
    assert_int_equal(mf_sum(d[2], 0, NULL, 0, &d[3]), MF_OK);
    for (int i = 0; i < 4; i++) {
        assert_true(tsupport_rel_diff(d[i], r[i], 1e-30) <= 1e-5);
        mf_tensor_free(r[i]);
        mf_tensor_free(d[i]);
    }
    mf_tensor_free(x);
    mf_tensor_free(xd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_call_compiles_nothing),
        cmocka_unit_test(test_chain_of_eager_ops_on_mlu),
    };
    return cmocka_run_group_tests_name("eager_kernels", tests, NULL, NULL);
}
