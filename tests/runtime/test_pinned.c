/* test_pinned.c — page-locked host tensors: pinning where allowed, the fallback to ordinary
 * memory with one retrievable warning where the lock is refused (never a failure), and
 * copies between pinned memory and a device running asynchronously on a queue, while
 * ordinary host memory copies synchronously. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "runtime/rt_internal.h"

static atomic_int gate;
static void gate_task(void *ctx)
{
    struct timespec ts = {0, 1000000L};
    while (!atomic_load(&gate))
        nanosleep(&ts, NULL);
}

static mf_tensor *pinned(int64_t n)
{
    mf_tensor *t = NULL;
    assert_int_equal(mf_tensor_empty_pinned(MF_F32, 1, &n, &t), MF_OK);
    assert_non_null(t);
    assert_int_equal(mf_tensor_device(t).type, MF_CPU);
    assert_non_null(mf_tensor_data(t));
    assert_int_equal((uintptr_t)mf_tensor_data(t) % (uintptr_t)sysconf(_SC_PAGESIZE), 0);
    return t;
}

static void test_pinned_where_allowed(void **state)
{
    mf_tensor *t = pinned(1024), *plain, *dev;
    assert_int_equal(mf_tensor_is_pinned(t), 1);
    memset(mf_tensor_data_mut(t), 0x5a, 4096);
    assert_int_equal(mf_tensor_empty(MF_F32, 1, (int64_t[]){4}, MF_DEVICE_CPU, &plain), MF_OK);
    assert_int_equal(mf_tensor_empty(MF_F32, 1, (int64_t[]){4}, MF_DEVICE_MLU(0), &dev), MF_OK);
    assert_int_equal(mf_tensor_is_pinned(plain), 0);
    assert_int_equal(mf_tensor_is_pinned(dev), 0);
    assert_int_equal(mf_tensor_is_pinned(NULL), 0);
    mf_tensor *zero = pinned(0); /* an empty tensor still gets a page */
    mf_tensor_free(zero);
    mf_tensor_free(t);
    mf_tensor_free(plain);
    mf_tensor_free(dev);
}

static void test_fallback_warns_once(void **state)
{
    char msg[512];
    mf_rt_pinned_set_budget(0);
    mf_rt_pinned_reset_warning();
    size_t before = mf_runtime_warning(NULL, 0);
    mf_tensor *a = pinned(100000), *b = pinned(10);
    assert_int_equal(mf_tensor_is_pinned(a), 0);
    assert_int_equal(mf_tensor_is_pinned(b), 0);
    ((float *)mf_tensor_data_mut(a))[99999] = 1; /* ordinary, usable memory */
    assert_int_equal(mf_runtime_warning(msg, sizeof msg), before + 1);
    assert_non_null(strstr(msg, "pinned memory: could not lock"));
    assert_non_null(strstr(msg, "ordinary memory"));
    mf_rt_pinned_set_budget(SIZE_MAX);
    mf_tensor *c = pinned(10);
    assert_int_equal(mf_tensor_is_pinned(c), 1);
    mf_tensor_free(a);
    mf_tensor_free(b);
    mf_tensor_free(c);
}

/* Where the memory-lock limit binds (not for root), the real refusal takes the same path. */
static void test_fallback_under_rlimit(void **state)
{
    if (geteuid() == 0)
        skip();
    struct rlimit old, none = {0, 0};
    assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &old), 0);
    none.rlim_max = old.rlim_max;
    assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &none), 0);
    mf_tensor *t = pinned(1 << 20);
    assert_int_equal(mf_tensor_is_pinned(t), 0);
    mf_tensor_free(t);
    assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &old), 0);
}

static void test_async_copies_round_trip(void **state)
{
    enum { N = 1 << 16 };
    mf_tensor *src = pinned(N), *back = pinned(N), *dev;
    float *s = mf_tensor_data_mut(src);
    for (int i = 0; i < N; i++)
        s[i] = (float)i * 0.5f;
    memset(mf_tensor_data_mut(back), 0, N * sizeof(float));
    assert_int_equal(mf_tensor_empty(MF_F32, 1, (int64_t[]){N}, MF_DEVICE_MLU(0), &dev), MF_OK);
    mf_queue *q;
    assert_int_equal(mf_queue_create(0, &q), MF_OK);
    atomic_store(&gate, 0);
    assert_int_equal(mf_queue_enqueue_host(q, gate_task, NULL), MF_OK);
    assert_int_equal(mf_tensor_copy_async(dev, src, q), MF_OK);
    assert_int_equal(mf_tensor_copy_async(back, dev, q), MF_OK);
    mf_tensor_free(dev); /* the queued copies keep it */
    assert_int_equal(mf_queue_query(q), 0); /* returned at once: both copies are queued */
    atomic_store(&gate, 1);
    assert_int_equal(mf_queue_sync(q), MF_OK);
    assert_memory_equal(mf_tensor_data(back), s, N * sizeof(float));
    mf_tensor_free(src);
    mf_tensor_free(back);
    assert_int_equal(mf_queue_destroy(q), MF_OK);
}

static void test_unpinned_copy_is_synchronous(void **state)
{
    float v[4] = {1, 2, 3, 4};
    mf_tensor *h, *d, *out;
    assert_int_equal(mf_tensor_from_data(MF_F32, 1, (int64_t[]){4}, v, sizeof v, &h), MF_OK);
    assert_int_equal(mf_tensor_empty(MF_F32, 1, (int64_t[]){4}, MF_DEVICE_MLU(0), &d), MF_OK);
    assert_int_equal(mf_tensor_empty(MF_F32, 1, (int64_t[]){4}, MF_DEVICE_CPU, &out), MF_OK);
    assert_int_equal(mf_tensor_copy_async(d, h, NULL), MF_OK);
    assert_int_equal(mf_tensor_copy_async(out, d, NULL), MF_OK);
    assert_memory_equal(mf_tensor_data(out), v, sizeof v); /* no sync needed */
    mf_tensor_free(h);
    mf_tensor_free(d);
    mf_tensor_free(out);
}

static void test_copy_errors(void **state)
{
    mf_tensor *a, *b, *c, *d1;
    assert_int_equal(mf_tensor_empty(MF_F32, 1, (int64_t[]){4}, MF_DEVICE_CPU, &a), MF_OK);
    assert_int_equal(mf_tensor_empty(MF_F32, 1, (int64_t[]){4}, MF_DEVICE_CPU, &b), MF_OK);
    assert_int_equal(mf_tensor_empty(MF_F32, 1, (int64_t[]){5}, MF_DEVICE_MLU(0), &c), MF_OK);
    assert_int_equal(mf_tensor_empty(MF_F32, 1, (int64_t[]){4}, MF_DEVICE_MLU(1), &d1), MF_OK);
    assert_int_equal(mf_tensor_copy_async(a, b, NULL), MF_ERR_DEVICE);
    assert_non_null(strstr(mf_last_error(), "neither is on an mlu device"));
    assert_int_equal(mf_tensor_copy_async(c, a, NULL), MF_ERR_SHAPE);
    assert_non_null(strstr(mf_last_error(), "f32[5]@mlu:0 <- f32[4]@cpu:0"));
    mf_queue *q0;
    assert_int_equal(mf_queue_default(0, &q0), MF_OK);
    assert_int_equal(mf_tensor_copy_async(d1, a, q0), MF_ERR_DEVICE);
    assert_int_equal(mf_tensor_copy_async(NULL, a, q0), MF_ERR_INVALID);
    assert_int_equal(mf_tensor_copy_async(d1, a, NULL), MF_OK); /* mlu:1's current queue */
    assert_int_equal(mf_tensor_empty_pinned(MF_F32, -1, NULL, &a), MF_ERR_SHAPE);
    assert_int_equal(mf_tensor_empty_pinned(MF_DTYPE_COUNT, 0, NULL, &b), MF_ERR_DTYPE);
    assert_int_equal(mf_tensor_empty_pinned(MF_F32, 1, (int64_t[]){-2}, &b), MF_ERR_SHAPE);
    assert_int_equal(mf_tensor_empty_pinned(MF_F32, 0, NULL, NULL), MF_ERR_INVALID);
    mf_tensor_free(a);
    mf_tensor_free(b);
    mf_tensor_free(c);
    mf_tensor_free(d1);
}

int main(void)
{
    setenv("MLUFUSE_NUM_DEVICES", "2", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pinned_where_allowed),
        cmocka_unit_test(test_fallback_warns_once),
        cmocka_unit_test(test_fallback_under_rlimit),
        cmocka_unit_test(test_async_copies_round_trip),
        cmocka_unit_test(test_unpinned_copy_is_synchronous),
        cmocka_unit_test(test_copy_errors),
    };
    return cmocka_run_group_tests_name("pinned", tests, NULL, NULL);
}
