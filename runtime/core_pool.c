/* core_pool.c — a device's cores: persistent worker threads that run the partitions of
 * kernel launches.  A launch is a job on a shared list; workers and the submitting thread
 * claim its partitions one at a time, so a 16-partition launch needs no 16 threads
 * (min(online CPUs, 16) - 1 workers plus the submitter).  Partition claims and completions
 * happen under the pool's mutex; a job lives on its submitter's stack and is never touched
 * by a worker after its last partition is counted.
 *
 * Each thread has home partitions — a contiguous run of them, the same for every launch of
 * the same width: the submitter the first, worker i the (i+1)-th of min(threads, nparts)
 * runs — and claims those first, then steals any left.  So partition p of consecutive
 * launches runs on the same core whenever the pool is awake (a layer's output block stays
 * in the L2 of the core that reads it next), and one core's partitions are neighbours in
 * memory; a late or descheduled worker still costs no more than with plain claims.
 *
 * Waiting spins for a while before it sleeps: a model's launches come microseconds apart,
 * and a futex wake-up costs tens of microseconds, which small kernels cannot pay (the
 * thread pools of ONNX Runtime and OpenMP spin likewise).  Sleepers are woken as before. */
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "rt_internal.h"

#define MAX_PARTS 64 /* partitions a job tracks (core numbers are 1, 4 and 16) */

typedef struct job {
    struct job *next;
    mf_kernel_fn fn;
    void *const *args;
    int nparts, nclaimed;
    int nhomes;        /* threads that have home partitions: min(pool threads, nparts) */
    uint64_t claimed;  /* bit p: partition p is taken (nparts <= MAX_PARTS) */
    atomic_int done;   /* partitions finished (counted under the lock; read by spinners) */
} job;

typedef struct worker_arg {
    struct mf_rt_core_pool *p;
    int id; /* 1..nworkers; the submitter is 0 */
} worker_arg;

struct mf_rt_core_pool {
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    job *head; /* jobs with partitions left to claim, oldest first */
    int nworkers, idle;
    atomic_uint posted; /* jobs ever posted: spinning workers watch it change */
    atomic_bool stop;
    pthread_t threads[MF_RT_MAX_CORE_THREADS];
    worker_arg ids[MF_RT_MAX_CORE_THREADS];
};

int mf_rt_pool_default_workers(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus > MF_RT_MAX_CORE_THREADS)
        cpus = MF_RT_MAX_CORE_THREADS;
    return cpus > 2 ? (int)cpus - 1 : 1;
}

mf_status mf_rt_check_core_number(int core_number)
{
    if (core_number == 1 || core_number == 4 || core_number == 16)
        return MF_OK;
    return mf_error(MF_ERR_INVALID, "core_number %d is not supported: it must be 1, 4 or 16",
                    core_number);
}

static void unlink_job(mf_rt_core_pool *p, job *j)
{
    for (job **at = &p->head; *at; at = &(*at)->next) {
        if (*at == j) {
            *at = j->next;
            return;
        }
    }
}

/* The first of thread `who`'s home partitions: thread t's run is [home(t), home(t + 1)). */
static int home(const job *j, int who)
{
    return who * j->nparts / j->nhomes;
}

/* Claims a partition of j for thread `who` (the caller holds the lock): its first free
 * home partition, else the last free one of another run (the end of a run is what its
 * owner would reach last); -1 when none is left. */
static int claim(mf_rt_core_pool *p, job *j, int who)
{
    if (j->nclaimed >= j->nparts)
        return -1;
    int part = -1;
    if (who < j->nhomes)
        for (int q = home(j, who); q < home(j, who + 1) && part < 0; q++)
            if (!(j->claimed >> q & 1))
                part = q;
    for (int q = j->nparts - 1; q >= 0 && part < 0; q--)
        if (!(j->claimed >> q & 1))
            part = q;
    j->claimed |= (uint64_t)1 << part;
    if (++j->nclaimed == j->nparts)
        unlink_job(p, j);
    return part;
}

/* Runs one partition without the lock, then counts it (with the lock held again).  j is
 * not read after the count: a spinning submitter may return at once. */
static void run_part(mf_rt_core_pool *p, job *j, int part)
{
    int nparts = j->nparts;
    pthread_mutex_unlock(&p->mu);
    j->fn(j->args, part, nparts);
    pthread_mutex_lock(&p->mu);
    if (atomic_fetch_add(&j->done, 1) + 1 == nparts)
        pthread_cond_broadcast(&p->done_cv);
}

#define SPIN_NS 100000 /* how long a waiter spins before it sleeps */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Spins (without the lock) until done() holds or SPIN_NS pass; true if it held. */
static bool spin_until(bool (*done)(const void *), const void *arg)
{
    int64_t until = now_ns() + SPIN_NS;
    for (int i = 0;; i++) {
        if (done(arg))
            return true;
        if ((i & 63) == 63 && now_ns() > until)
            return false;
        cpu_relax();
    }
}

typedef struct post_watch {
    const mf_rt_core_pool *p;
    unsigned seen;
} post_watch;

static bool new_post(const void *arg)
{
    const post_watch *w = arg;
    return atomic_load(&w->p->posted) != w->seen || atomic_load(&w->p->stop);
}

static bool job_done(const void *arg)
{
    const job *j = arg;
    return atomic_load(&j->done) == j->nparts;
}

static void *worker_main(void *arg)
{
    mf_rt_core_pool *p = ((worker_arg *)arg)->p;
    int who = ((worker_arg *)arg)->id;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (!p->head && !p->stop) { /* spin for the next launch, then sleep */
            post_watch w = {p, atomic_load(&p->posted)};
            pthread_mutex_unlock(&p->mu);
            spin_until(new_post, &w);
            pthread_mutex_lock(&p->mu);
        }
        while (!p->head && !p->stop) {
            p->idle++;
            pthread_cond_wait(&p->work_cv, &p->mu);
            p->idle--;
        }
        if (p->stop)
            break;
        job *j = p->head;
        run_part(p, j, claim(p, j, who));
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

mf_status mf_rt_pool_new(int nworkers, mf_rt_core_pool **out)
{
    if (nworkers < 1 || nworkers > MF_RT_MAX_CORE_THREADS)
        return mf_error(MF_ERR_INVALID, "core pool: %d workers (1..%d)", nworkers,
                        MF_RT_MAX_CORE_THREADS);
    mf_rt_core_pool *p = calloc(1, sizeof *p);
    if (!p)
        return mf_error(MF_ERR_NOMEM, "core pool: out of memory");
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    for (; p->nworkers < nworkers; p->nworkers++) {
        p->ids[p->nworkers] = (worker_arg){p, p->nworkers + 1};
        if (pthread_create(&p->threads[p->nworkers], NULL, worker_main, &p->ids[p->nworkers]))
            goto fail;
    }
    *out = p;
    return MF_OK;
fail:;
    int started = p->nworkers;
    mf_rt_pool_destroy(p);
    return mf_error(MF_ERR_INTERNAL, "core pool: could not start worker %d of %d", started + 1,
                    nworkers);
}

void mf_rt_pool_destroy(mf_rt_core_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nworkers; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->work_cv);
    pthread_cond_destroy(&p->done_cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int mf_rt_pool_workers(const mf_rt_core_pool *p)
{
    return p->nworkers;
}

void mf_rt_pool_run(mf_rt_core_pool *p, mf_kernel_fn fn, void *const *args, int nparts)
{
    if (nparts <= 1 || nparts > MAX_PARTS || !p) { /* one core, no pool, or more partitions
                                                     * than a job tracks: the submitter runs all */
        for (int part = 0; part < nparts; part++)
            fn(args, part, nparts);
        return;
    }
    int threads = p->nworkers + 1;
    job j = {NULL, fn, args, nparts, 0, threads < nparts ? threads : nparts, 0, 0};
    pthread_mutex_lock(&p->mu);
    job **tail = &p->head;
    while (*tail)
        tail = &(*tail)->next;
    *tail = &j;
    atomic_fetch_add(&p->posted, 1);
    if (p->idle > 0) {
        if (p->idle < nparts - 1)
            pthread_cond_broadcast(&p->work_cv);
        else
            for (int i = 0; i < nparts - 1; i++)
                pthread_cond_signal(&p->work_cv);
    }
    int part;
    while ((part = claim(p, &j, 0)) >= 0)
        run_part(p, &j, part);
    if (atomic_load(&j.done) < j.nparts) { /* the others' partitions: spin, then sleep */
        pthread_mutex_unlock(&p->mu);
        if (spin_until(job_done, &j))
            return;
        pthread_mutex_lock(&p->mu);
    }
    while (atomic_load(&j.done) < j.nparts)
        pthread_cond_wait(&p->done_cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

/* A launch on the calling thread (no queue): the plan executor's synchronous path. */
mf_status mf_rt_launch_sync(mf_device dev, mf_kernel_fn kernel, void *const *args,
                            int core_number)
{
    mf_status s = mf_rt_check_core_number(core_number);
    if (s)
        return s;
    if (!kernel)
        return mf_error(MF_ERR_INVALID, "launch: the kernel is NULL");
    mf_rt_core_pool *pool = NULL;
    if (core_number > 1 && dev.type == MF_MLU && !(s = mf_rt_device_check(dev)))
        pool = mf_rt_device_pool(dev.index);
    mf_rt_pool_run(pool, kernel, args, core_number);
    return MF_OK;
}
