/* queue.c — the seed's Queues: each queue is a FIFO of tasks run one at a time, in
 * submission order, by the queue's own thread; different queues run concurrently.  Kernel
 * launches, copies, host callbacks and event markers are all tasks.  Also the calling
 * thread's stack of current queues (the seed's `with Queue(q):`) and mf_launch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "profiler.h"
#include "rt_internal.h"

#define MAX_CURRENT_DEPTH 32
#define SPIN_NS 20000 /* how long a thread spins before it sleeps on a condition */

typedef struct task {
    struct task *next;
    mf_rt_task_fn fn; /* or host, for a user callback */
    mf_host_fn host;
    void *ctx;
} task;

struct mf_queue {
    int device;
    bool is_default;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    task *head, *tail;
    _Atomic uint64_t submitted, completed; /* changed under mu; read without it to spin */
    int sleeping, waiters; /* the thread waits for work; hosts wait in sync */
    bool stop;
    mf_status error; /* the first deferred error since the last sync */
    char error_msg[1024];
};

static _Thread_local mf_queue *running_queue;
static _Thread_local mf_queue *current_stack[MAX_CURRENT_DEPTH];
static _Thread_local int current_depth;

mf_queue *mf_rt_queue_running(void)
{
    return running_queue;
}

/* ---- the queue's thread ---------------------------------------------------------------- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Spins up to SPIN_NS until *a reaches target: a wake-up through a condition variable costs
 * tens of microseconds, more than most kernels.  True if it got there. */
static bool spin_until(_Atomic uint64_t *a, uint64_t target)
{
    uint64_t deadline = 0;
    for (int i = 0;; i++) {
        if (atomic_load_explicit(a, memory_order_acquire) >= target)
            return true;
        if ((i & 63) == 63) {
            uint64_t t = now_ns();
            if (!deadline)
                deadline = t + SPIN_NS;
            else if (t > deadline)
                return false;
        }
    }
}

static void run_task(mf_queue *q, task *t)
{
    mf_status s = MF_OK;
    if (t->host)
        t->host(t->ctx);
    else
        s = t->fn(t->ctx);
    free(t);
    pthread_mutex_lock(&q->mu);
    if (s && !q->error) {
        q->error = s;
        snprintf(q->error_msg, sizeof q->error_msg, "%s", mf_last_error());
    }
    q->completed++;
    if (q->waiters)
        pthread_cond_broadcast(&q->done_cv);
}

static void *queue_main(void *arg)
{
    mf_queue *q = arg;
    running_queue = q;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        if (!q->head && !q->stop) {
            uint64_t next = atomic_load(&q->completed) + 1;
            pthread_mutex_unlock(&q->mu);
            spin_until(&q->submitted, next);
            pthread_mutex_lock(&q->mu);
        }
        while (!q->head && !q->stop) {
            q->sleeping++;
            pthread_cond_wait(&q->work_cv, &q->mu);
            q->sleeping--;
        }
        if (!q->head)
            break; /* stopping, and nothing left */
        task *t = q->head;
        q->head = t->next;
        if (!q->head)
            q->tail = NULL;
        pthread_mutex_unlock(&q->mu);
        run_task(q, t); /* returns with the lock held */
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* ---- creation and destruction -------------------------------------------------------- */

mf_status mf_rt_queue_new(int dev, bool is_default, mf_queue **out)
{
    mf_queue *q = calloc(1, sizeof *q);
    if (!q)
        return mf_error(MF_ERR_NOMEM, "queue_create: out of memory");
    q->device = dev;
    q->is_default = is_default;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->work_cv, NULL);
    pthread_cond_init(&q->done_cv, NULL);
    if (pthread_create(&q->thread, NULL, queue_main, q)) {
        pthread_cond_destroy(&q->work_cv);
        pthread_cond_destroy(&q->done_cv);
        pthread_mutex_destroy(&q->mu);
        free(q);
        return mf_error(MF_ERR_INTERNAL, "queue_create: could not start the queue's thread on "
                                         "mlu:%d", dev);
    }
    if (!is_default) /* device.c registers the default queue itself */
        mf_rt_device_add_queue(dev, q);
    *out = q;
    return MF_OK;
}

mf_status mf_queue_create(int device, mf_queue **out)
{
    int dev = 0;
    if (!out)
        return mf_error(MF_ERR_INVALID, "queue_create: out is NULL");
    mf_status s = mf_rt_device_resolve(device, &dev);
    return s ? mf_error_context(s, "queue_create") : mf_rt_queue_new(dev, false, out);
}

mf_status mf_queue_destroy(mf_queue *q)
{
    if (!q)
        return MF_OK;
    if (q->is_default)
        return mf_error(MF_ERR_INVALID, "queue_destroy: the default queue of mlu:%d cannot be "
                                        "destroyed", q->device);
    if (running_queue == q)
        return mf_error(MF_ERR_INVALID, "queue_destroy: a queue cannot destroy itself");
    for (int i = 0; i < current_depth; i++) /* this thread's ops would still enqueue on it */
        if (current_stack[i] == q)
            return mf_error(MF_ERR_INVALID, "queue_destroy: the queue is this thread's current queue "
                                            "(mf_queue_pop_current first)");
    mf_status s = mf_queue_sync(q);
    mf_rt_device_remove_queue(q->device, q);
    pthread_mutex_lock(&q->mu);
    q->stop = true;
    pthread_cond_signal(&q->work_cv);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->thread, NULL);
    pthread_cond_destroy(&q->work_cv);
    pthread_cond_destroy(&q->done_cv);
    pthread_mutex_destroy(&q->mu);
    free(q);
    return s;
}

mf_status mf_queue_default(int device, mf_queue **out)
{
    int dev = 0;
    if (!out)
        return mf_error(MF_ERR_INVALID, "queue_default: out is NULL");
    mf_status s = mf_rt_device_resolve(device, &dev);
    return s ? s : mf_rt_device_default_queue(dev, out);
}

int mf_queue_device(const mf_queue *q)
{
    return q ? q->device : -1;
}

bool mf_rt_queue_is_default(const mf_queue *q)
{
    return q && q->is_default;
}

/* ---- submission and waiting ------------------------------------------------------------ */

static mf_status enqueue(mf_queue *q, mf_rt_task_fn fn, mf_host_fn host, void *ctx)
{
    task *t = malloc(sizeof *t);
    if (!t)
        return mf_error(MF_ERR_NOMEM, "out of memory enqueuing a task on mlu:%d", q->device);
    *t = (task){NULL, fn, host, ctx};
    pthread_mutex_lock(&q->mu);
    if (q->tail)
        q->tail->next = t;
    else
        q->head = t;
    q->tail = t;
    q->submitted++;
    if (q->sleeping)
        pthread_cond_signal(&q->work_cv);
    pthread_mutex_unlock(&q->mu);
    return MF_OK;
}

mf_status mf_rt_queue_enqueue(mf_queue *q, mf_rt_task_fn fn, void *ctx)
{
    return enqueue(q, fn, NULL, ctx);
}

/* Waits for everything submitted so far; takes (and clears) the deferred error. */
static mf_status wait_done(mf_queue *q)
{
    uint64_t target = atomic_load(&q->submitted);
    spin_until(&q->completed, target);
    pthread_mutex_lock(&q->mu);
    q->waiters++;
    while (q->completed < target)
        pthread_cond_wait(&q->done_cv, &q->mu);
    q->waiters--;
    mf_status s = q->error;
    char msg[sizeof q->error_msg];
    if (s)
        memcpy(msg, q->error_msg, sizeof msg);
    q->error = MF_OK;
    pthread_mutex_unlock(&q->mu);
    return s ? mf_error(s, "%s", msg) : MF_OK;
}

mf_status mf_rt_queue_sync_quiet(mf_queue *q)
{
    return running_queue == q ? MF_OK : wait_done(q);
}

mf_status mf_queue_sync(mf_queue *q)
{
    if (!q)
        return mf_error(MF_ERR_INVALID, "queue_sync: the queue is NULL");
    if (running_queue == q)
        return mf_error(MF_ERR_INVALID, "queue_sync: a task cannot wait for its own queue");
    return wait_done(q);
}

int mf_queue_query(mf_queue *q)
{
    if (!q)
        return 1;
    pthread_mutex_lock(&q->mu);
    int idle = q->completed == q->submitted;
    pthread_mutex_unlock(&q->mu);
    return idle;
}

/* ---- the current queue ----------------------------------------------------------------- */

mf_status mf_rt_queue_current_for(int dev, mf_queue **out)
{
    for (int i = current_depth - 1; i >= 0; i--) {
        if (current_stack[i]->device == dev) {
            *out = current_stack[i];
            return MF_OK;
        }
    }
    return mf_rt_device_default_queue(dev, out);
}

mf_queue *mf_queue_current(void)
{
    mf_queue *q = NULL;
    return mf_rt_queue_current_for(mf_get_device(), &q) ? NULL : q;
}

mf_status mf_queue_push_current(mf_queue *q)
{
    if (!q)
        return mf_error(MF_ERR_INVALID, "queue_push_current: the queue is NULL");
    if (current_depth == MAX_CURRENT_DEPTH)
        return mf_error(MF_ERR_INVALID, "queue_push_current: more than %d nested queues",
                        MAX_CURRENT_DEPTH);
    current_stack[current_depth++] = q;
    return MF_OK;
}

mf_status mf_queue_pop_current(void)
{
    if (!current_depth)
        return mf_error(MF_ERR_INVALID, "queue_pop_current: no queue was pushed on this thread");
    current_stack[--current_depth] = NULL;
    return MF_OK;
}

/* A queue argument: q itself, or the current queue of the calling thread's device. */
static mf_status resolve_queue(mf_queue *q, const char *what, mf_queue **out)
{
    if (q) {
        *out = q;
        return MF_OK;
    }
    mf_status s = mf_rt_queue_current_for(mf_get_device(), out);
    return s ? mf_error_context(s, "%s", what) : MF_OK;
}

/* ---- launches and host callbacks -------------------------------------------------------- */

typedef struct launch {
    mf_kernel_fn kernel;
    int device, nparts;
    void *args[]; /* copied */
} launch;

static mf_status run_launch(void *ctx)
{
    launch *l = ctx;
    mf_status s = MF_OK;
    if (mf_rt_prof_on()) { /* a user's kernel has no description: its queue's track says whose */
        mf_rt_prof_site site = {.name = "mf_launch"};
        s = mf_rt_prof_launch(MF_DEVICE_MLU(l->device), &site, l->kernel, l->args, l->nparts, false);
    } else {
        mf_rt_pool_run(l->nparts > 1 ? mf_rt_device_pool(l->device) : NULL, l->kernel, l->args,
                       l->nparts);
    }
    free(l);
    return s;
}

mf_status mf_launch(mf_kernel_fn kernel, int nargs, void *const *args, int core_number,
                    mf_queue *q)
{
    if (!kernel)
        return mf_error(MF_ERR_INVALID, "launch: the kernel is NULL");
    if (nargs < 0 || nargs > 4096 || (nargs && !args))
        return mf_error(MF_ERR_INVALID, "launch: bad argument list (%d arguments%s)", nargs,
                        nargs > 0 && !args ? ", NULL array" : "");
    mf_status s = mf_rt_check_core_number(core_number);
    if (s)
        return mf_error_context(s, "launch");
    if ((s = resolve_queue(q, "launch", &q)))
        return s;
    launch *l = malloc(sizeof *l + (size_t)nargs * sizeof(void *));
    if (!l)
        return mf_error(MF_ERR_NOMEM, "launch: out of memory");
    l->kernel = kernel;
    l->device = q->device;
    l->nparts = core_number;
    if (nargs)
        memcpy(l->args, args, (size_t)nargs * sizeof(void *));
    if ((s = mf_rt_queue_enqueue(q, run_launch, l)))
        free(l);
    return s;
}

mf_status mf_queue_enqueue_host(mf_queue *q, mf_host_fn fn, void *ctx)
{
    if (!fn)
        return mf_error(MF_ERR_INVALID, "queue_enqueue_host: the function is NULL");
    mf_status s = resolve_queue(q, "queue_enqueue_host", &q);
    return s ? s : enqueue(q, NULL, fn, ctx);
}
