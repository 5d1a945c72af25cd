/* event.c — events: markers recorded on a queue that complete when the queue reaches them,
 * noting the time.  Other queues (or the host) can wait for them, which is how work is
 * ordered across queues; two completed events give the time between them.  Records are
 * numbered; an event completes its latest record.  Pending markers hold a reference, so an
 * event may be destroyed before they run. */
#include <stdlib.h>
#include <time.h>

#include "rt_internal.h"

struct mf_event {
    atomic_int refs;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t recorded;  /* the latest record's number; 0: never recorded */
    uint64_t completed; /* the highest record number that has completed */
    double done_ms;     /* CLOCK_MONOTONIC when `completed` completed */
};

typedef struct marker {
    mf_event *ev;
    uint64_t gen;
} marker;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static mf_event *event_retain(mf_event *ev)
{
    atomic_fetch_add_explicit(&ev->refs, 1, memory_order_relaxed);
    return ev;
}

static void event_release(mf_event *ev)
{
    if (atomic_fetch_sub_explicit(&ev->refs, 1, memory_order_acq_rel) != 1)
        return;
    pthread_cond_destroy(&ev->cv);
    pthread_mutex_destroy(&ev->mu);
    free(ev);
}

mf_status mf_event_create(mf_event **out)
{
    if (!out)
        return mf_error(MF_ERR_INVALID, "event_create: out is NULL");
    mf_event *ev = calloc(1, sizeof *ev);
    if (!ev)
        return mf_error(MF_ERR_NOMEM, "event_create: out of memory");
    atomic_init(&ev->refs, 1);
    pthread_mutex_init(&ev->mu, NULL);
    pthread_cond_init(&ev->cv, NULL);
    *out = ev;
    return MF_OK;
}

void mf_event_destroy(mf_event *ev)
{
    if (ev)
        event_release(ev);
}

static mf_status complete_marker(void *ctx)
{
    marker *m = ctx;
    mf_event *ev = m->ev;
    pthread_mutex_lock(&ev->mu);
    if (m->gen > ev->completed) {
        ev->completed = m->gen;
        ev->done_ms = now_ms();
    }
    pthread_cond_broadcast(&ev->cv);
    pthread_mutex_unlock(&ev->mu);
    event_release(ev);
    free(m);
    return MF_OK;
}

/* Blocks the waiting queue's thread until the record it waits for has completed. */
static mf_status wait_marker(void *ctx)
{
    marker *m = ctx;
    mf_event *ev = m->ev;
    pthread_mutex_lock(&ev->mu);
    while (ev->completed < m->gen)
        pthread_cond_wait(&ev->cv, &ev->mu);
    pthread_mutex_unlock(&ev->mu);
    event_release(ev);
    free(m);
    return MF_OK;
}

static mf_status resolve(mf_queue **q, const char *what)
{
    if (*q)
        return MF_OK;
    *q = mf_queue_current();
    return *q ? MF_OK : mf_error_context(MF_ERR_INTERNAL, "%s", what);
}

/* Enqueues fn on q for record number gen of ev. */
static mf_status enqueue_marker(mf_event *ev, uint64_t gen, mf_queue *q, mf_rt_task_fn fn)
{
    marker *m = malloc(sizeof *m);
    if (!m)
        return mf_error(MF_ERR_NOMEM, "event: out of memory");
    m->ev = event_retain(ev);
    m->gen = gen;
    mf_status s = mf_rt_queue_enqueue(q, fn, m);
    if (s) {
        event_release(ev);
        free(m);
    }
    return s;
}

mf_status mf_event_record(mf_event *ev, mf_queue *q)
{
    if (!ev)
        return mf_error(MF_ERR_INVALID, "event_record: the event is NULL");
    mf_status s = resolve(&q, "event_record");
    if (s)
        return s;
    /* Numbering and enqueuing under the event's lock keep record order equal to number
     * order when two threads record the same event on one queue. */
    pthread_mutex_lock(&ev->mu);
    uint64_t gen = ev->recorded + 1;
    s = enqueue_marker(ev, gen, q, complete_marker);
    if (!s)
        ev->recorded = gen;
    pthread_mutex_unlock(&ev->mu);
    return s;
}

mf_status mf_event_wait(mf_event *ev, mf_queue *q)
{
    if (!ev)
        return mf_error(MF_ERR_INVALID, "event_wait: the event is NULL");
    mf_status s = resolve(&q, "event_wait");
    if (s)
        return s;
    pthread_mutex_lock(&ev->mu);
    uint64_t gen = ev->recorded;
    bool pending = ev->completed < gen;
    pthread_mutex_unlock(&ev->mu);
    return pending ? enqueue_marker(ev, gen, q, wait_marker) : MF_OK;
}

int mf_event_query(mf_event *ev)
{
    if (!ev)
        return 1;
    pthread_mutex_lock(&ev->mu);
    int done = ev->completed >= ev->recorded;
    pthread_mutex_unlock(&ev->mu);
    return done;
}

mf_status mf_event_sync(mf_event *ev)
{
    if (!ev)
        return mf_error(MF_ERR_INVALID, "event_sync: the event is NULL");
    pthread_mutex_lock(&ev->mu);
    uint64_t gen = ev->recorded;
    while (ev->completed < gen)
        pthread_cond_wait(&ev->cv, &ev->mu);
    pthread_mutex_unlock(&ev->mu);
    return MF_OK;
}

/* The completion time of ev's latest record, or an error saying why there is none. */
static mf_status done_time(mf_event *ev, const char *which, double *ms)
{
    pthread_mutex_lock(&ev->mu);
    uint64_t rec = ev->recorded, done = ev->completed;
    *ms = ev->done_ms;
    pthread_mutex_unlock(&ev->mu);
    if (!rec)
        return mf_error(MF_ERR_INVALID, "event_elapsed_ms: the %s event was never recorded",
                        which);
    if (done < rec)
        return mf_error(MF_ERR_INVALID, "event_elapsed_ms: the %s event has not completed yet "
                                        "(sync or query it first)", which);
    return MF_OK;
}

mf_status mf_event_elapsed_ms(mf_event *start, mf_event *end, double *ms)
{
    double t0, t1;
    if (!start || !end || !ms)
        return mf_error(MF_ERR_INVALID, "event_elapsed_ms: NULL argument");
    mf_status s = done_time(start, "start", &t0);
    if (!s)
        s = done_time(end, "end", &t1);
    if (!s)
        *ms = t1 - t0;
    return s;
}
