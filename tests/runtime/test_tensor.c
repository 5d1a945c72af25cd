/* test_tensor.c — tensors through the public API: creation, seeded random data, copies
 * between devices, views, and the errors for bad arguments. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "mlufuse/mlufuse.h"

static void test_zeros_and_accessors(void **state)
{
    mf_tensor *t;
    int64_t shape[] = {2, 3, 4};
    assert_int_equal(mf_tensor_zeros(MF_F32, 3, shape, MF_DEVICE_CPU, &t), MF_OK);
    assert_int_equal(mf_tensor_rank(t), 3);
    assert_int_equal(mf_tensor_dim(t, -1), 4);
    assert_int_equal(mf_tensor_numel(t), 24);
    assert_int_equal(mf_tensor_nbytes(t), 96);
    assert_int_equal(mf_tensor_dtype(t), MF_F32);
    const float *p = mf_tensor_data(t);
    for (int i = 0; i < 24; i++)
        assert_true(p[i] == 0.0f);
    char d[64];
    mf_tensor_describe(t, d, sizeof d);
    assert_string_equal(d, "f32[2,3,4]@cpu:0");
    mf_tensor_free(t);
}

static void test_from_data_roundtrip_through_mlu(void **state)
{
    int64_t data[] = {1, -2, 3, 1LL << 40};
    int64_t shape[] = {4};
    mf_tensor *t, *dev, *back;
    assert_int_equal(mf_tensor_from_data(MF_I64, 1, shape, data, sizeof data, &t), MF_OK);
    assert_int_equal(mf_tensor_to(t, MF_DEVICE_MLU(0), &dev), MF_OK);
    assert_null(mf_tensor_data(dev)); /* device memory is not host-readable through the API */
    assert_int_equal(mf_tensor_device(dev).type, MF_MLU);
    assert_int_equal(mf_tensor_to(dev, MF_DEVICE_CPU, &back), MF_OK);
    assert_memory_equal(mf_tensor_data(back), data, sizeof data);
    mf_tensor_free(t);
    mf_tensor_free(dev);
    mf_tensor_free(back);
}

static void test_rand_is_seeded_and_in_range(void **state)
{
    int64_t shape[] = {1000};
    mf_tensor *a, *b, *c;
    assert_int_equal(mf_tensor_rand(MF_F32, 1, shape, 7, -2, 3, MF_DEVICE_CPU, &a), MF_OK);
    assert_int_equal(mf_tensor_rand(MF_F32, 1, shape, 7, -2, 3, MF_DEVICE_CPU, &b), MF_OK);
    assert_int_equal(mf_tensor_rand(MF_F32, 1, shape, 8, -2, 3, MF_DEVICE_CPU, &c), MF_OK);
    assert_memory_equal(mf_tensor_data(a), mf_tensor_data(b), 4000);
    assert_memory_not_equal(mf_tensor_data(a), mf_tensor_data(c), 4000);
    const float *p = mf_tensor_data(a);
    double mean = 0;
    for (int i = 0; i < 1000; i++) {
        assert_true(p[i] >= -2 && p[i] < 3);
        mean += p[i] / 1000;
    }
    assert_true(mean > 0.2 && mean < 0.8); /* uniform on [-2,3) has mean 0.5 */
    mf_tensor_free(a);
    mf_tensor_free(b);
    mf_tensor_free(c);
}

static void test_rand_f16(void **state)
{
    int64_t shape[] = {64};
    mf_tensor *h;
    assert_int_equal(mf_tensor_rand(MF_F16, 1, shape, 1, 0, 1, MF_DEVICE_CPU, &h), MF_OK);
    assert_int_equal(mf_tensor_nbytes(h), 128);
    const uint16_t *p = mf_tensor_data(h);
    for (int i = 0; i < 64; i++)
        assert_true(p[i] < 0x3c00 + 1); /* 1.0 in half is 0x3c00; all values in [0, 1] */
    mf_tensor_free(h);
}

static void test_errors(void **state)
{
    mf_tensor *t = NULL;
    int64_t big[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    assert_int_equal(mf_tensor_empty(MF_F32, 9, big, MF_DEVICE_CPU, &t), MF_ERR_SHAPE);
    assert_non_null(strstr(mf_last_error(), "rank 9"));
    int64_t neg[] = {2, -1};
    assert_int_equal(mf_tensor_empty(MF_F32, 2, neg, MF_DEVICE_CPU, &t), MF_ERR_SHAPE);
    assert_non_null(strstr(mf_last_error(), "negative"));
    int64_t s[] = {2};
    float d[3] = {0};
    assert_int_equal(mf_tensor_from_data(MF_F32, 1, s, d, sizeof d, &t), MF_ERR_SHAPE);
    assert_non_null(strstr(mf_last_error(), "needs 8 bytes, got 12"));
    assert_int_equal(mf_tensor_empty(MF_F32, 1, s, MF_DEVICE_MLU(99), &t), MF_ERR_DEVICE);
    assert_non_null(strstr(mf_last_error(), "mlu:99"));
    assert_int_equal(mf_tensor_rand(MF_I32, 1, s, 1, 0, 1, MF_DEVICE_CPU, &t), MF_ERR_DTYPE);
    assert_int_equal(mf_tensor_empty((mf_dtype)42, 1, s, MF_DEVICE_CPU, &t), MF_ERR_DTYPE);
    assert_int_equal(mf_tensor_to(NULL, MF_DEVICE_CPU, &t), MF_ERR_INVALID);
    assert_null(t);
    mf_tensor_free(NULL); /* ignored */
}

static void test_views_share_storage(void **state)
{
    float d[6] = {1, 2, 3, 4, 5, 6};
    mf_tensor *t, *r;
    assert_int_equal(mf_tensor_from_data(MF_F32, 2, (int64_t[]){2, 3}, d, sizeof d, &t), MF_OK);
    assert_int_equal(mf_reshape(t, 2, (int64_t[]){3, -1}, &r), MF_OK);
    assert_int_equal(mf_tensor_dim(r, 1), 2);
    assert_ptr_equal(mf_tensor_data(r), mf_tensor_data(t));
    mf_tensor_free(t); /* the view keeps the storage alive */
    assert_true(((const float *)mf_tensor_data(r))[5] == 6.0f);
    mf_tensor_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zeros_and_accessors),
        cmocka_unit_test(test_from_data_roundtrip_through_mlu),
        cmocka_unit_test(test_rand_is_seeded_and_in_range),
        cmocka_unit_test(test_rand_f16),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_views_share_storage),
    };
    return cmocka_run_group_tests_name("tensor", tests, NULL, NULL);
}
