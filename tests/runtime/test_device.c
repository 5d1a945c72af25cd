/* test_device.c — the virtual MLU devices: the count from MLUFUSE_NUM_DEVICES, the current
 * device per thread, tensors on each device drawing on that device's allocator, and the
 * errors for unknown devices. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mlufuse/mlufuse.h"
#include "mlufuse/mlufuse_runtime.h"

static void test_count_from_environment(void **state)
{
    assert_int_equal(mf_device_count(), 3);
}

static void *other_thread(void *arg)
{
    *(int *)arg = mf_get_device(); /* a new thread starts on device 0 */
    mf_set_device(1);
    return NULL;
}

static void test_current_device_is_per_thread(void **state)
{
    assert_int_equal(mf_get_device(), 0);
    assert_int_equal(mf_set_device(2), MF_OK);
    assert_int_equal(mf_get_device(), 2);
    int seen = -1;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, other_thread, &seen), 0);
    pthread_join(t, NULL);
    assert_int_equal(seen, 0);
    assert_int_equal(mf_get_device(), 2);
    assert_int_equal(mf_queue_device(mf_queue_current()), 2);
    assert_int_equal(mf_set_device(0), MF_OK);
}

static void test_unknown_devices(void **state)
{
    assert_int_equal(mf_set_device(3), MF_ERR_DEVICE);
    assert_non_null(strstr(mf_last_error(), "unknown device mlu:3 (this process has mlu:0..mlu:2)"));
    assert_int_equal(mf_set_device(-1), MF_ERR_DEVICE);
    assert_int_equal(mf_get_device(), 0);
    mf_tensor *t = NULL;
    assert_int_equal(mf_tensor_empty(MF_F32, 1, (int64_t[]){2}, MF_DEVICE_MLU(3), &t), MF_ERR_DEVICE);
    assert_null(t);
    assert_int_equal(mf_tensor_empty(MF_F32, 1, (int64_t[]){2}, MF_DEVICE_MLU(-1), &t), MF_ERR_DEVICE);
    assert_int_equal(mf_device_sync(3), MF_ERR_DEVICE);
    mf_queue *q = NULL;
    assert_int_equal(mf_queue_create(7, &q), MF_ERR_DEVICE);
}

static void test_tensors_use_their_devices_memory(void **state)
{
    size_t a0 = mf_memory_allocated(0), a2 = mf_memory_allocated(2);
    mf_tensor *x, *y, *z;
    float v[3] = {1, -2, 3};
    assert_int_equal(mf_tensor_from_data(MF_F32, 1, (int64_t[]){3}, v, sizeof v, &x), MF_OK);
    assert_int_equal(mf_tensor_to(x, MF_DEVICE_MLU(2), &y), MF_OK);
    assert_int_equal(mf_memory_allocated(2), a2 + 64);
    assert_int_equal(mf_memory_allocated(0), a0);
    assert_int_equal(mf_set_device(2), MF_OK);
    assert_int_equal(mf_memory_allocated(-1), a2 + 64);
    assert_int_equal(mf_set_device(0), MF_OK);
    mf_tensor *r;
    assert_int_equal(mf_abs(y, &r), MF_OK);
    assert_int_equal(mf_tensor_device(r).index, 2);
    assert_int_equal(mf_tensor_to(r, MF_DEVICE_MLU(1), &z), MF_OK); /* device to device */
    mf_tensor *back;
    assert_int_equal(mf_tensor_to(z, MF_DEVICE_CPU, &back), MF_OK);
    float want[3] = {1, 2, 3};
    assert_memory_equal(mf_tensor_data(back), want, sizeof want);
    mf_tensor_free(x);
    mf_tensor_free(y);
    mf_tensor_free(z);
    mf_tensor_free(r);
    mf_tensor_free(back);
    assert_int_equal(mf_device_sync(2), MF_OK);
    assert_int_equal(mf_memory_allocated(2), a2);
}

int main(void)
{
    setenv("MLUFUSE_NUM_DEVICES", "3", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count_from_environment),
        cmocka_unit_test(test_current_device_is_per_thread),
        cmocka_unit_test(test_unknown_devices),
        cmocka_unit_test(test_tensors_use_their_devices_memory),
    };
    return cmocka_run_group_tests_name("device", tests, NULL, NULL);
}
