/* test_runtime_threads.c — eight threads using the allocator and the queues at once: each
 * allocates and frees device tensors, runs eager ops on its own queue and on the shared
 * default queue, launches kernels and host callbacks, and checks its results; afterwards
 * the device's statistics balance.  Meant to run under ASan and TSan too. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "runtime/rt_internal.h"

enum { THREADS = 8, ROUNDS = 150 };

static void fill_kernel(void *const *args, int64_t part, int64_t nparts)
{
    float *x = args[0];
    int64_t n = (int64_t)(intptr_t)args[1], lo = n * part / nparts, hi = n * (part + 1) / nparts;
    for (int64_t i = lo; i < hi; i++)
        x[i] = (float)i;
}

static void bump(void *ctx)
{
    atomic_fetch_add((atomic_int *)ctx, 1);
}

typedef struct worker {
    int id;
    int failures;
    atomic_int callbacks;
} worker;

static bool eager_round(int64_t n, float scale)
{
    mf_tensor *x, *xd, *yd = NULL, *y;
    if (mf_tensor_rand(MF_F32, 1, &n, (uint64_t)n, -1, 1, MF_DEVICE_CPU, &x) ||
        mf_tensor_to(x, MF_DEVICE_MLU(0), &xd))
        return false;
    bool ok = !mf_mul_scalar(xd, scale, &yd);
    mf_tensor_free(xd);
    ok = ok && !mf_tensor_to(yd, MF_DEVICE_CPU, &y);
    if (ok) {
        const float *a = mf_tensor_data(x), *b = mf_tensor_data(y);
        for (int64_t i = 0; i < n && ok; i++)
            ok = b[i] == a[i] * scale;
        mf_tensor_free(y);
    }
    mf_tensor_free(yd);
    mf_tensor_free(x);
    return ok;
}

static bool launch_round(mf_queue *q, int64_t n, int cores, atomic_int *callbacks)
{
    mf_buffer *b;
    if (mf_rt_alloc(MF_DEVICE_MLU(0), (size_t)n * sizeof(float), &b))
        return false;
    void *args[] = {b->data, (void *)(intptr_t)n};
    bool ok = !mf_launch(fill_kernel, 2, args, cores, q) &&
              !mf_queue_enqueue_host(q, bump, callbacks) && !mf_queue_sync(q);
    for (int64_t i = 0; i < n && ok; i++)
        ok = ((float *)b->data)[i] == (float)i;
    mf_buffer_release(b);
    return ok;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    mf_queue *own;
    if (mf_queue_create(0, &own)) {
        w->failures++;
        return NULL;
    }
    static const int cores[] = {1, 4, 16};
    for (int r = 0; r < ROUNDS; r++) {
        int64_t n = 1 + (w->id * 131 + r * 977) % 5000;
        bool use_own = (r + w->id) % 2;
        if (use_own)
            mf_queue_push_current(own);
        if (!eager_round(n, (float)(r % 7) + 0.5f))
            w->failures++;
        if (use_own)
            mf_queue_pop_current();
        if (!launch_round(use_own ? own : mf_queue_current(), n, cores[r % 3], &w->callbacks))
            w->failures++;
    }
    if (mf_queue_destroy(own))
        w->failures++;
    return NULL;
}

static void test_eight_threads(void **state)
{
    size_t before = mf_memory_allocated(0);
    pthread_t t[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i].id = i;
        w[i].failures = 0;
        atomic_init(&w[i].callbacks, 0);
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(w[i].failures, 0);
        assert_int_equal(atomic_load(&w[i].callbacks), ROUNDS);
    }
    assert_int_equal(mf_device_sync(0), MF_OK);
    mf_memory_stats st;
    assert_int_equal(mf_memory_get_stats(0, &st), MF_OK);
    assert_int_equal(st.allocated, before);
    assert_int_equal(st.num_allocs, st.num_frees);
    assert_int_equal(mf_memory_empty_cache(0), MF_OK);
    assert_int_equal(mf_memory_reserved(0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eight_threads),
    };
    return cmocka_run_group_tests_name("runtime_threads", tests, NULL, NULL);
}
