/* test_queue.c — queues and events: submission order over 100 000 tasks, two queues whose
 * tasks meet while both run (a rendezvous), events ordering work across queues and timing it, the
 * current-queue scope, eager ops on mlu tensors running on the current queue with the
 * read-back synchronizing, deferred task errors, and the errors of misuse. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/rt_internal.h"

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void sleep_task(void *ctx)
{
    sleep_ms((int)(intptr_t)ctx);
}

/* A task that blocks its queue until the test opens the gate. */
static atomic_int gate;
static void gate_task(void *ctx)
{
    while (!atomic_load(&gate))
        sleep_ms(1);
}

static mf_queue *new_queue(int dev)
{
    mf_queue *q = NULL;
    assert_int_equal(mf_queue_create(dev, &q), MF_OK);
    assert_non_null(q);
    return q;
}

/* ---- order ------------------------------------------------------------------------------ */

static int64_t seen, misordered;
static void order_task(void *ctx)
{
    if ((int64_t)(intptr_t)ctx != seen)
        misordered++;
    seen++;
}

static void test_order_100000(void **state)
{
    mf_queue *q = new_queue(0);
    seen = misordered = 0;
    for (intptr_t i = 0; i < 100000; i++)
        assert_int_equal(mf_queue_enqueue_host(q, order_task, (void *)i), MF_OK);
    assert_int_equal(mf_queue_sync(q), MF_OK);
    assert_int_equal(seen, 100000);
    assert_int_equal(misordered, 0);
    assert_int_equal(mf_queue_query(q), 1);
    assert_int_equal(mf_queue_destroy(q), MF_OK);
}

/* ---- concurrency ------------------------------------------------------------------------ */

/* Two tasks that each wait for the other to start: they finish only when their queues run
 * at the same time (a rendezvous, not a stopwatch).  The wait gives up after 10 s, so a
 * serial runtime fails the test instead of hanging it. */
static atomic_int arrived, met;
static void rendezvous_task(void *ctx)
{
    atomic_fetch_add(&arrived, 1);
    for (int i = 0; i < 10000 && atomic_load(&arrived) < 2; i++)
        sleep_ms(1);
    if (atomic_load(&arrived) >= 2)
        atomic_fetch_add(&met, 1);
}

/* On one queue, the second task starts only after the first has finished. */
static atomic_int running, overlapped;
static void exclusive_task(void *ctx)
{
    if (atomic_fetch_add(&running, 1) != 0)
        atomic_store(&overlapped, 1);
    sleep_ms(5);
    atomic_fetch_sub(&running, 1);
}

static void test_two_queues_overlap(void **state)
{
    mf_queue *a = new_queue(0), *b = new_queue(0);
    atomic_store(&arrived, 0);
    atomic_store(&met, 0);
    assert_int_equal(mf_queue_enqueue_host(a, rendezvous_task, NULL), MF_OK);
    assert_int_equal(mf_queue_enqueue_host(b, rendezvous_task, NULL), MF_OK);
    assert_int_equal(mf_device_sync(0), MF_OK);
    assert_int_equal(atomic_load(&met), 2); /* both saw the other one running */
    assert_int_equal(mf_queue_query(a) && mf_queue_query(b), 1);

    atomic_store(&running, 0);
    atomic_store(&overlapped, 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(mf_queue_enqueue_host(a, exclusive_task, NULL), MF_OK);
    assert_int_equal(mf_queue_sync(a), MF_OK);
    assert_int_equal(atomic_load(&overlapped), 0);
    assert_int_equal(mf_queue_destroy(a), MF_OK);
    assert_int_equal(mf_queue_destroy(b), MF_OK);
}

/* ---- events ----------------------------------------------------------------------------- */

static atomic_int produced, consumed_ok;
static void produce(void *ctx)
{
    sleep_ms(80);
    atomic_store(&produced, 1);
}
static void consume(void *ctx)
{
    atomic_store(&consumed_ok, atomic_load(&produced));
}

static void test_event_orders_queues(void **state)
{
    mf_queue *q1 = new_queue(0), *q2 = new_queue(0);
    mf_event *ev;
    assert_int_equal(mf_event_create(&ev), MF_OK);
    assert_int_equal(mf_event_query(ev), 1); /* never recorded */
    atomic_store(&produced, 0);
    atomic_store(&consumed_ok, 0);
    assert_int_equal(mf_queue_enqueue_host(q1, produce, NULL), MF_OK);
    assert_int_equal(mf_event_record(ev, q1), MF_OK);
    assert_int_equal(mf_event_wait(ev, q2), MF_OK);
    assert_int_equal(mf_queue_enqueue_host(q2, consume, NULL), MF_OK);
    assert_int_equal(mf_event_query(ev), 0);
    assert_int_equal(mf_queue_sync(q2), MF_OK);
    assert_int_equal(atomic_load(&consumed_ok), 1);
    assert_int_equal(mf_event_query(ev), 1);
    mf_event_destroy(ev);
    assert_int_equal(mf_queue_destroy(q1), MF_OK);
    assert_int_equal(mf_queue_destroy(q2), MF_OK);
}

static void test_event_elapsed_and_errors(void **state)
{
    mf_queue *q = new_queue(0);
    mf_event *e0, *e1, *never;
    assert_int_equal(mf_event_create(&e0), MF_OK);
    assert_int_equal(mf_event_create(&e1), MF_OK);
    assert_int_equal(mf_event_create(&never), MF_OK);
    atomic_store(&gate, 0);
    assert_int_equal(mf_queue_enqueue_host(q, gate_task, NULL), MF_OK);
    assert_int_equal(mf_event_record(e0, q), MF_OK);
    assert_int_equal(mf_queue_enqueue_host(q, sleep_task, (void *)(intptr_t)50), MF_OK);
    assert_int_equal(mf_event_record(e1, q), MF_OK);
    double ms = -1;
    assert_int_equal(mf_event_query(e0), 0);
    assert_int_equal(mf_event_elapsed_ms(e0, e1, &ms), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "not completed"));
    assert_int_equal(mf_event_elapsed_ms(never, e1, &ms), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "never recorded"));
    atomic_store(&gate, 1);
    assert_int_equal(mf_event_sync(e1), MF_OK);
    assert_int_equal(mf_event_query(e0), 1);
    assert_int_equal(mf_event_elapsed_ms(e0, e1, &ms), MF_OK);
    assert_true(ms >= 45); /* the task slept 50 ms between the events; no upper bound: load varies */
    /* Destroying an event with a record pending is safe. */
    atomic_store(&gate, 0);
    assert_int_equal(mf_queue_enqueue_host(q, gate_task, NULL), MF_OK);
    assert_int_equal(mf_event_record(never, q), MF_OK);
    mf_event_destroy(never);
    atomic_store(&gate, 1);
    assert_int_equal(mf_queue_sync(q), MF_OK);
    assert_int_equal(mf_event_record(NULL, q), MF_ERR_INVALID);
    assert_int_equal(mf_event_elapsed_ms(e0, e1, NULL), MF_ERR_INVALID);
    mf_event_destroy(e0);
    mf_event_destroy(e1);
    mf_event_destroy(NULL);
    assert_int_equal(mf_queue_destroy(q), MF_OK);
}

/* ---- the current queue and eager ops ----------------------------------------------------- */

static void test_current_queue_scope(void **state)
{
    mf_queue *dflt, *q = new_queue(0), *q1 = new_queue(1);
    assert_int_equal(mf_queue_default(0, &dflt), MF_OK);
    assert_ptr_equal(mf_queue_current(), dflt);
    assert_int_equal(mf_queue_push_current(q), MF_OK);
    assert_ptr_equal(mf_queue_current(), q);
    assert_int_equal(mf_queue_push_current(q1), MF_OK); /* another device's scope */
    assert_ptr_equal(mf_queue_current(), q);
    assert_int_equal(mf_set_device(1), MF_OK);
    assert_ptr_equal(mf_queue_current(), q1);
    assert_int_equal(mf_set_device(0), MF_OK);
    assert_int_equal(mf_queue_pop_current(), MF_OK);
    assert_int_equal(mf_queue_pop_current(), MF_OK);
    assert_ptr_equal(mf_queue_current(), dflt);
    assert_int_equal(mf_queue_pop_current(), MF_ERR_INVALID);
    assert_int_equal(mf_queue_push_current(NULL), MF_ERR_INVALID);
    assert_int_equal(mf_queue_device(q1), 1);
    assert_int_equal(mf_queue_destroy(dflt), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "default queue"));
    /* this thread's current queue: destroying it left the scope stack pointing at freed memory */
    assert_int_equal(mf_queue_push_current(q), MF_OK);
    assert_int_equal(mf_queue_destroy(q), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "this thread's current queue"));
    assert_int_equal(mf_queue_pop_current(), MF_OK);
    assert_int_equal(mf_queue_destroy(q), MF_OK);
    assert_int_equal(mf_queue_destroy(q1), MF_OK);
}

static void test_eager_ops_run_on_current_queue(void **state)
{
    float xs[6] = {-1, 2, -3, 4, -5, 6};
    mf_tensor *x, *xd, *yd, *zd, *z;
    assert_int_equal(mf_tensor_from_data(MF_F32, 1, (int64_t[]){6}, xs, sizeof xs, &x), MF_OK);
    assert_int_equal(mf_tensor_to(x, MF_DEVICE_MLU(0), &xd), MF_OK);
    mf_queue *q = new_queue(0);
    assert_int_equal(mf_queue_push_current(q), MF_OK);
    atomic_store(&gate, 0);
    assert_int_equal(mf_queue_enqueue_host(NULL, gate_task, NULL), MF_OK); /* blocks q */
    assert_int_equal(mf_relu(xd, &yd), MF_OK);
    assert_int_equal(mf_mul_scalar(yd, 10, &zd), MF_OK);
    mf_tensor_free(xd); /* the queued kernels keep what they use alive */
    mf_tensor_free(yd);
    assert_int_equal(mf_queue_query(q), 0); /* nothing ran yet: it is on q, behind the gate */
    assert_null(mf_tensor_data(zd));
    assert_int_equal(mf_queue_pop_current(), MF_OK);
    atomic_store(&gate, 1);
    assert_int_equal(mf_tensor_to(zd, MF_DEVICE_CPU, &z), MF_OK); /* synchronizes */
    const float *p = mf_tensor_data(z);
    float want[6] = {0, 20, 0, 40, 0, 60};
    assert_memory_equal(p, want, sizeof want);
    assert_int_equal(mf_queue_query(q), 1);
    mf_tensor_free(zd);
    mf_tensor_free(z);
    mf_tensor_free(x);
    assert_int_equal(mf_queue_destroy(q), MF_OK);
}

static void test_eager_errors_still_return_at_the_call(void **state)
{
    mf_tensor *a, *b, *y = (mf_tensor *)1;
    assert_int_equal(mf_tensor_empty(MF_F32, 1, (int64_t[]){3}, MF_DEVICE_MLU(0), &a), MF_OK);
    assert_int_equal(mf_tensor_empty(MF_F32, 1, (int64_t[]){4}, MF_DEVICE_MLU(0), &b), MF_OK);
    assert_int_equal(mf_add(a, b, 1, &y), MF_ERR_SHAPE);
    assert_null(y);
    mf_tensor_free(a);
    mf_tensor_free(b);
}

/* ---- deferred errors and misuse ------------------------------------------------------------ */

static mf_status failing_task(void *ctx)
{
    return mf_error(MF_ERR_INTERNAL, "task %d failed on purpose", (int)(intptr_t)ctx);
}

static mf_status sync_self_status;
static void sync_self(void *ctx)
{
    sync_self_status = mf_queue_sync(ctx);
}

static void test_deferred_errors_and_misuse(void **state)
{
    mf_queue *q = new_queue(0);
    assert_int_equal(mf_rt_queue_enqueue(q, failing_task, (void *)(intptr_t)7), MF_OK);
    assert_int_equal(mf_rt_queue_enqueue(q, failing_task, (void *)(intptr_t)8), MF_OK);
    assert_int_equal(mf_queue_sync(q), MF_ERR_INTERNAL);
    assert_string_equal(mf_last_error(), "task 7 failed on purpose"); /* the first one */
    assert_int_equal(mf_queue_sync(q), MF_OK); /* taken */
    assert_int_equal(mf_rt_queue_enqueue(q, failing_task, (void *)(intptr_t)9), MF_OK);
    assert_int_equal(mf_device_sync(0), MF_ERR_INTERNAL);
    assert_string_equal(mf_last_error(), "task 9 failed on purpose");

    assert_int_equal(mf_queue_enqueue_host(q, sync_self, q), MF_OK);
    assert_int_equal(mf_queue_sync(q), MF_OK);
    assert_int_equal(sync_self_status, MF_ERR_INVALID);

    mf_queue *bad = NULL;
    assert_int_equal(mf_queue_create(mf_device_count(), &bad), MF_ERR_DEVICE);
    assert_non_null(strstr(mf_last_error(), "unknown device"));
    assert_null(bad);
    assert_int_equal(mf_queue_create(0, NULL), MF_ERR_INVALID);
    assert_int_equal(mf_queue_default(-3, &bad), MF_ERR_DEVICE);
    assert_int_equal(mf_queue_sync(NULL), MF_ERR_INVALID);
    assert_int_equal(mf_queue_enqueue_host(q, NULL, NULL), MF_ERR_INVALID);
    assert_int_equal(mf_device_sync(42), MF_ERR_DEVICE);
    assert_int_equal(mf_queue_destroy(NULL), MF_OK);
    assert_int_equal(mf_queue_destroy(q), MF_OK);
}

int main(void)
{
    setenv("MLUFUSE_NUM_DEVICES", "2", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_100000),
        cmocka_unit_test(test_two_queues_overlap),
        cmocka_unit_test(test_event_orders_queues),
        cmocka_unit_test(test_event_elapsed_and_errors),
        cmocka_unit_test(test_current_queue_scope),
        cmocka_unit_test(test_eager_ops_run_on_current_queue),
        cmocka_unit_test(test_eager_errors_still_return_at_the_call),
        cmocka_unit_test(test_deferred_errors_and_misuse),
    };
    return cmocka_run_group_tests_name("queue", tests, NULL, NULL);
}
