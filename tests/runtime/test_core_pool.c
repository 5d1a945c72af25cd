/* test_core_pool.c — kernel launches on the core pool: every partition of a launch runs
 * exactly once with the right nparts for core_number 1, 4 and 16; other core numbers are
 * refused with a clear message; launches complete in their queue's order; several queues
 * launch on one device at once; the pool uses few threads; a busy worker holds no launch
 * back and sleeping workers are woken (by a launch or a run's announcement); a nested
 * launch's finer partitions cover the work once, and an idle core takes over a busy one's
 * last fine partitions; big copies are split over a started pool. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/rt_internal.h"

/* args[0]: atomic_int counts[16]; args[1]: int64 *nparts_seen */
static void count_kernel(void *const *args, int64_t part, int64_t nparts)
{
    atomic_int *counts = args[0];
    _Atomic int64_t *seen = args[1];
    atomic_fetch_add(&counts[part], 1);
    atomic_store(seen, nparts);
}

static void test_every_partition_once(void **state)
{
    static const int cores[] = {1, 4, 16};
    for (int c = 0; c < 3; c++) {
        atomic_int counts[16];
        for (int i = 0; i < 16; i++)
            atomic_init(&counts[i], 0);
        _Atomic int64_t seen = 0;
        void *args[] = {counts, &seen};
        for (int rep = 0; rep < 50; rep++)
            assert_int_equal(mf_launch(count_kernel, 2, args, cores[c], NULL), MF_OK);
        assert_int_equal(mf_device_sync(0), MF_OK);
        for (int i = 0; i < 16; i++)
            assert_int_equal(atomic_load(&counts[i]), i < cores[c] ? 50 : 0);
        assert_int_equal(atomic_load(&seen), cores[c]);
    }
}

static void test_bad_core_numbers(void **state)
{
    static const int bad[] = {0, -1, 2, 3, 5, 8, 15, 17, 32, 64};
    atomic_int counts[16];
    _Atomic int64_t seen;
    void *args[] = {counts, &seen};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(mf_launch(count_kernel, 2, args, bad[i], NULL), MF_ERR_INVALID);
        assert_non_null(strstr(mf_last_error(), "must be 1, 4 or 16"));
    }
    assert_int_equal(mf_launch(NULL, 0, NULL, 4, NULL), MF_ERR_INVALID);
    assert_int_equal(mf_launch(count_kernel, 2, NULL, 4, NULL), MF_ERR_INVALID);
    assert_int_equal(mf_rt_launch_sync(MF_DEVICE_MLU(0), count_kernel, args, 3), MF_ERR_INVALID);
}

/* A launch completes before the next task of its queue starts. */
static atomic_int slow_done;
static int order_ok;
static void slow_kernel(void *const *args, int64_t part, int64_t nparts)
{
    struct timespec ts = {0, 5 * 1000000L};
    nanosleep(&ts, NULL);
    atomic_fetch_add(&slow_done, 1);
}
static void check_done(void *ctx)
{
    order_ok = atomic_load(&slow_done) == 16;
}

static void test_launch_completes_in_queue_order(void **state)
{
    mf_queue *q;
    assert_int_equal(mf_queue_create(0, &q), MF_OK);
    atomic_store(&slow_done, 0);
    order_ok = 0;
    assert_int_equal(mf_launch(slow_kernel, 0, NULL, 16, q), MF_OK);
    assert_int_equal(mf_queue_enqueue_host(q, check_done, NULL), MF_OK);
    assert_int_equal(mf_queue_sync(q), MF_OK);
    assert_int_equal(order_ok, 1);
    assert_int_equal(mf_queue_destroy(q), MF_OK);
}

/* The threads that ran partitions: few, whatever core_number says. */
static pthread_t runners[64];
static atomic_int nrunners;
static pthread_mutex_t runners_mu = PTHREAD_MUTEX_INITIALIZER;
static void who_kernel(void *const *args, int64_t part, int64_t nparts)
{
    struct timespec ts = {0, 2 * 1000000L};
    nanosleep(&ts, NULL);
    pthread_mutex_lock(&runners_mu);
    pthread_t self = pthread_self();
    int n = atomic_load(&nrunners), known = 0;
    for (int i = 0; i < n; i++)
        known |= pthread_equal(runners[i], self);
    if (!known && n < 64)
        runners[atomic_fetch_add(&nrunners, 1)] = self;
    pthread_mutex_unlock(&runners_mu);
}

static void test_pool_uses_few_threads(void **state)
{
    int workers = mf_rt_pool_default_workers();
    assert_true(workers >= 1 && workers <= 15);
    atomic_store(&nrunners, 0);
    for (int rep = 0; rep < 10; rep++)
        assert_int_equal(mf_launch(who_kernel, 0, NULL, 16, NULL), MF_OK);
    assert_int_equal(mf_device_sync(0), MF_OK);
    /* the workers plus the queue's thread */
    assert_true(atomic_load(&nrunners) <= workers + 1);
    assert_true(atomic_load(&nrunners) >= 1);
}

static void test_many_queues_launch_at_once(void **state)
{
    enum { QUEUES = 4, LAUNCHES = 300 };
    mf_queue *qs[QUEUES];
    atomic_int counts[QUEUES][16];
    _Atomic int64_t seen[QUEUES];
    for (int i = 0; i < QUEUES; i++) {
        assert_int_equal(mf_queue_create(0, &qs[i]), MF_OK);
        for (int p = 0; p < 16; p++)
            atomic_init(&counts[i][p], 0);
    }
    for (int l = 0; l < LAUNCHES; l++) {
        for (int i = 0; i < QUEUES; i++) {
            void *args[] = {counts[i], &seen[i]};
            assert_int_equal(mf_launch(count_kernel, 2, args, l % 2 ? 16 : 4, qs[i]), MF_OK);
        }
    }
    assert_int_equal(mf_device_sync(0), MF_OK);
    for (int i = 0; i < QUEUES; i++) {
        for (int p = 0; p < 16; p++)
            assert_int_equal(atomic_load(&counts[i][p]), p < 4 ? LAUNCHES : LAUNCHES / 2);
        assert_int_equal(mf_queue_destroy(qs[i]), MF_OK);
    }
}

static void test_sync_launch_and_private_pool(void **state)
{
    atomic_int counts[16];
    for (int i = 0; i < 16; i++)
        atomic_init(&counts[i], 0);
    _Atomic int64_t seen = 0;
    void *args[] = {counts, &seen};
    assert_int_equal(mf_rt_launch_sync(MF_DEVICE_MLU(0), count_kernel, args, 16), MF_OK);
    assert_int_equal(mf_rt_launch_sync(MF_DEVICE_CPU, count_kernel, args, 4), MF_OK);
    for (int i = 0; i < 16; i++)
        assert_int_equal(atomic_load(&counts[i]), i < 4 ? 2 : 1);

    mf_rt_core_pool *p;
    assert_int_equal(mf_rt_pool_new(0, &p), MF_ERR_INVALID);
    assert_int_equal(mf_rt_pool_new(3, &p), MF_OK);
    assert_int_equal(mf_rt_pool_workers(p), 3);
    mf_rt_pool_run(p, count_kernel, args, 16);
    assert_int_equal(atomic_load(&counts[15]), 2);
    mf_rt_pool_destroy(p);
}

/* Home partitions: with one worker and 4 partitions the submitter's run is 0-1 and the
 * worker's 2-3.  Part 0 (the submitter's: it claims at the post) waits until part 2 starts,
 * which only the worker can start, and picks from its home first; part 2 waits until part
 * 1 starts, which the submitter picks next from its own home.  No timing involved. */
static atomic_int started[4];
static pthread_t ran_on[4];
static void home_kernel(void *const *args, int64_t part, int64_t nparts)
{
    (void)args, (void)nparts;
    ran_on[part] = pthread_self();
    atomic_store(&started[part], 1);
    while (part == 0 && !atomic_load(&started[2]) && !atomic_load(&started[3]))
        sched_yield();
    while (part == 2 && !atomic_load(&started[1]))
        sched_yield();
}

static atomic_int wide_runs;
static void wide_kernel(void *const *args, int64_t part, int64_t nparts)
{
    (void)args, (void)part, (void)nparts;
    atomic_fetch_add(&wide_runs, 1);
}

static void test_home_partitions(void **state)
{
    mf_rt_core_pool *p;
    assert_int_equal(mf_rt_pool_new(1, &p), MF_OK);
    for (int rep = 0; rep < 20; rep++) {
        for (int i = 0; i < 4; i++)
            atomic_store(&started[i], 0);
        mf_rt_pool_run(p, home_kernel, NULL, 4);
        assert_true(pthread_equal(ran_on[0], pthread_self()));
        assert_true(pthread_equal(ran_on[1], pthread_self()));
        assert_false(pthread_equal(ran_on[2], pthread_self()));
    }
    mf_rt_pool_destroy(p);
    /* the most threads a pool has (16 workers and the submitter) on more partitions than
     * threads: every partition once (a home run per thread, the submitter's included) */
    assert_int_equal(mf_rt_pool_new(MF_RT_MAX_CORE_THREADS, &p), MF_OK);
    for (int n = MF_RT_MAX_CORE_THREADS; n <= 64; n += 47) {
        for (int rep = 0; rep < 20; rep++) {
            atomic_store(&wide_runs, 0);
            mf_rt_pool_run(p, wide_kernel, NULL, n + 1);
            assert_int_equal(atomic_load(&wide_runs), n + 1);
        }
    }
    mf_rt_pool_destroy(p);
    assert_int_equal(mf_rt_pool_new(1, &p), MF_OK);
    /* more partitions than a job tracks: all of them, on the calling thread */
    atomic_store(&wide_runs, 0);
    mf_rt_pool_run(p, wide_kernel, NULL, 100);
    assert_int_equal(atomic_load(&wide_runs), 100);
    mf_rt_pool_destroy(p);
}

/* Nested launches (mf_rt_pool_run_nested): the pool may run partitions p of n as finer ones
 * (2p and 2p + 1 of 2n, ...: at most 4 times finer, 64 in all) or consecutive ones as one of
 * a coarser count (q of n / 2 for 2q and 2q + 1, ...).  Whatever the
 * threads and counts, the calls cover the work once: the kernel counts `units` fine units,
 * a call (part, np) covering [part * units / np, (part + 1) * units / np). */
static atomic_int nest_hits[64 * 4], nest_done, nest_worker_calls, nest_bad;
static int nest_units, nest_parts, nest_fine, nest_homes, nest_one_worker;
static pthread_t nest_submitter;
static void nest_kernel(void *const *args, int64_t part, int64_t np)
{
    (void)args;
    int64_t k = np > 0 ? nest_units / np : 0; /* np is nparts x 4 / a power of two */
    if (np < 1 || nest_units % np || (k & (k - 1)) || np > 64 || part < 0 || part >= np)
        atomic_store(&nest_bad, 1);
    int64_t lo = part * nest_units / np, hi = (part + 1) * nest_units / np;
    /* the core is the thread: 0 the submitter, a worker's its own; only the threads with a
     * home run (core_number of them at most) take part */
    int core = mf_rt_pool_core();
    bool on_worker = !pthread_equal(pthread_self(), nest_submitter);
    if ((core != 0) != on_worker || core < 0 || core >= nest_homes)
        atomic_store(&nest_bad, 2);
    /* with one worker the submitter steals from the worker's half a fine partition at a time */
    if (nest_one_worker && !on_worker && lo >= nest_units / 2 && hi - lo != nest_units / nest_fine)
        atomic_store(&nest_bad, 3);
    /* the worker's second call waits until everything else is done: the submitter has to
     * take the rest of the worker's home run, a fine partition at a time (a failure hangs) */
    if (nest_one_worker && on_worker) {
        int call = atomic_fetch_add(&nest_worker_calls, 1);
        /* with one worker, its home run is the second half of the units: it takes half of
         * what is left there at a time (a quarter of the units, then an eighth: a launch of
         * 4 partitions that ran each as one would fail), or a fine partition of a count
         * that does not halve (17) */
        if (nest_parts % 2 == 0 && hi - lo > (nest_units / 4 >> call) &&
            hi - lo > nest_units / (nest_parts * 4))
            atomic_store(&nest_bad, 4);
        /* and its home run is whole when it first claims (the submitter is held until then):
         * exactly half of it, when the launch is cut finer at all */
        if (call == 0 && nest_parts % 2 == 0 && nest_fine > nest_parts && hi - lo != nest_units / 4)
            atomic_store(&nest_bad, 5);
        if (call == 1)
            while (atomic_load(&nest_done) + (hi - lo) < nest_units)
                sched_yield();
    } else if (nest_one_worker && lo == 0) { /* the submitter's first call: until the worker
                                             * joins (its home run is all that is left) */
        while (nest_parts > 1 && !atomic_load(&nest_worker_calls))
            sched_yield();
    }
    for (int64_t u = lo; u < hi; u++) {
        atomic_fetch_add(&nest_hits[u], 1);
        for (volatile int i = 0; i < 2000; i++) /* some work a unit, so that workers join in */
            ;
    }
    atomic_fetch_add(&nest_done, (int)(hi - lo));
}

static void run_nested(mf_rt_core_pool *p, int nparts, int reps)
{
    nest_parts = nparts;
    nest_units = nparts * 4;
    nest_fine = nparts; /* what core_pool.c cuts it into: up to 4 times finer, at most 64 */
    while (nest_fine < nparts * 4 && nest_fine * 2 <= 64)
        nest_fine *= 2;
    nest_homes = mf_rt_pool_workers(p) + 1 < nparts ? mf_rt_pool_workers(p) + 1 : nparts;
    nest_submitter = pthread_self();
    for (int u = 0; u < nest_units; u++)
        atomic_store(&nest_hits[u], 0);
    for (int rep = 0; rep < reps; rep++) {
        atomic_store(&nest_done, 0);
        atomic_store(&nest_worker_calls, 0);
        mf_rt_pool_run_nested(p, nest_kernel, NULL, nparts);
    }
    assert_int_equal(atomic_load(&nest_bad), 0);
    for (int u = 0; u < nest_units; u++)
        assert_int_equal(atomic_load(&nest_hits[u]), reps);
    assert_int_equal(mf_rt_pool_core(), 0); /* the submitter's core again */
}

static void test_nested_partitions(void **state)
{
    static const int workers[] = {1, 2, 3, 4, 5, 7, 8, 15, MF_RT_MAX_CORE_THREADS};
    static const int counts[] = {1, 4, 16, 17, 64};
    for (size_t w = 0; w < sizeof workers / sizeof workers[0]; w++) {
        mf_rt_core_pool *p;
        assert_int_equal(mf_rt_pool_new(workers[w], &p), MF_OK);
        nest_one_worker = workers[w] == 1;
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++)
            run_nested(p, counts[c], 60);
        mf_rt_pool_destroy(p);
    }
}

/* A launch does not wait for a worker busy elsewhere: with the only worker held in a
 * partition of another thread's launch, this thread's launch runs all its partitions itself
 * and returns.  Then, once every thread has gone idle (spun and slept), a launch wakes them
 * and counts every partition.  No timing involved: a failure is a hang or a wrong count. */
static pthread_t busy_submitter;
static atomic_int worker_held, release_worker;
static void hold_kernel(void *const *args, int64_t part, int64_t nparts)
{
    (void)args, (void)part, (void)nparts;
    if (pthread_equal(pthread_self(), busy_submitter)) {
        while (!atomic_load(&worker_held))
            sched_yield();
        return;
    }
    atomic_store(&worker_held, 1);
    while (!atomic_load(&release_worker))
        sched_yield();
}

static void *hold_worker(void *pool)
{
    mf_rt_pool_run(pool, hold_kernel, NULL, 4);
    return NULL;
}

static void test_busy_worker_and_sleepers(void **state)
{
    mf_rt_core_pool *p;
    assert_int_equal(mf_rt_pool_new(1, &p), MF_OK);
    atomic_store(&worker_held, 0);
    atomic_store(&release_worker, 0);
    assert_int_equal(pthread_create(&busy_submitter, NULL, hold_worker, p), 0);
    while (!atomic_load(&worker_held))
        sched_yield();
    atomic_int counts[16];
    for (int i = 0; i < 16; i++)
        atomic_init(&counts[i], 0);
    _Atomic int64_t seen = 0;
    void *args[] = {counts, &seen};
    mf_rt_pool_run(p, count_kernel, args, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(atomic_load(&counts[i]), 1);
    atomic_store(&release_worker, 1);
    pthread_join(busy_submitter, NULL);

    for (int rep = 0; rep < 3; rep++) {
        struct timespec idle = {0, 20 * 1000000L}; /* past the spin: the worker sleeps */
        nanosleep(&idle, NULL);
        mf_rt_pool_run(p, count_kernel, args, 16);
    }
    for (int i = 0; i < 16; i++)
        assert_int_equal(atomic_load(&counts[i]), i < 4 ? 4 : 3);
    mf_rt_pool_destroy(p);

    /* a run's announcement wakes the device's workers without a job; launches still count */
    mf_rt_cores_expect(MF_DEVICE_CPU, 4);
    mf_rt_cores_expect(MF_DEVICE_MLU(0), 1);
    for (int rep = 0; rep < 3; rep++) {
        struct timespec idle = {0, 20 * 1000000L};
        nanosleep(&idle, NULL);
        mf_rt_cores_expect(MF_DEVICE_MLU(0), 4);
        assert_int_equal(mf_rt_launch_sync(MF_DEVICE_MLU(0), count_kernel, args, 4), MF_OK);
    }
    for (int i = 0; i < 4; i++)
        assert_int_equal(atomic_load(&counts[i]), 7);
}

/* A copy of a megabyte or more, once a launch has started the device's pool, is split over
 * it: every byte lands, whatever the size's remainder, both ways. */
static void test_big_copies_split_over_the_pool(void **state)
{
    atomic_int counts[16];
    _Atomic int64_t seen = 0;
    void *args[] = {counts, &seen};
    assert_int_equal(mf_rt_launch_sync(MF_DEVICE_MLU(0), count_kernel, args, 4), MF_OK);
    assert_non_null(mf_rt_device_started_pool(0));
    assert_null(mf_rt_device_started_pool(-1));
    static const size_t sizes[] = {(1 << 20) + 37, (3 << 20) + 64, 1000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        unsigned char *a = malloc(n + 1), *b = malloc(n + 1), *c = malloc(n + 1);
        assert_non_null(a);
        assert_non_null(b);
        assert_non_null(c);
        for (size_t i = 0; i <= n; i++)
            a[i] = (unsigned char)(i * 131 + k), b[i] = c[i] = 0xEE;
        assert_int_equal(mf_rt_copy(b, MF_DEVICE_MLU(0), a, MF_DEVICE_CPU, n), MF_OK);
        assert_int_equal(mf_rt_copy(c, MF_DEVICE_CPU, b, MF_DEVICE_MLU(0), n), MF_OK);
        assert_memory_equal(a, c, n);
        assert_int_equal(b[n], 0xEE); /* nothing past the end */
        assert_int_equal(c[n], 0xEE);
        free(a), free(b), free(c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_partition_once),
        cmocka_unit_test(test_bad_core_numbers),
        cmocka_unit_test(test_launch_completes_in_queue_order),
        cmocka_unit_test(test_pool_uses_few_threads),
        cmocka_unit_test(test_many_queues_launch_at_once),
        cmocka_unit_test(test_sync_launch_and_private_pool),
        cmocka_unit_test(test_home_partitions),
        cmocka_unit_test(test_nested_partitions),
        cmocka_unit_test(test_busy_worker_and_sleepers),
        cmocka_unit_test(test_big_copies_split_over_the_pool),
    };
    return cmocka_run_group_tests_name("core_pool", tests, NULL, NULL);
}
