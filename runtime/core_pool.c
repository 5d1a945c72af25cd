/* core_pool.c — a device's cores: persistent worker threads that run the partitions of
 * kernel launches.  A launch is a job on a shared list; workers and the submitting thread
 * take partitions from the job's counter, so a 16-partition launch needs no 16 threads
 * (min(online CPUs, 16) - 1 workers plus the submitter).  Partition claims and completions
 * happen under the pool's mutex; a job lives on its submitter's stack and is never touched
 * by a worker after its last partition is counted. */
#include <stdlib.h>
#include <unistd.h>

#include "rt_internal.h"

typedef struct job {
    struct job *next;
    mf_kernel_fn fn;
    void *const *args;
    int nparts;
    int next_part; /* the next partition to claim */
    int done;      /* partitions finished */
} job;

struct mf_rt_core_pool {
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    job *head; /* jobs with partitions left to claim, oldest first */
    int nworkers, idle;
    bool stop;
    pthread_t threads[MF_RT_MAX_CORE_THREADS];
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

/* Claims the next partition of j (the caller holds the lock); -1 when none is left. */
static int claim(mf_rt_core_pool *p, job *j)
{
    if (j->next_part >= j->nparts)
        return -1;
    int part = j->next_part++;
    if (j->next_part == j->nparts)
        unlink_job(p, j);
    return part;
}

/* Runs one partition without the lock, then counts it (with the lock held again). */
static void run_part(mf_rt_core_pool *p, job *j, int part)
{
    pthread_mutex_unlock(&p->mu);
    j->fn(j->args, part, j->nparts);
    pthread_mutex_lock(&p->mu);
    if (++j->done == j->nparts)
        pthread_cond_broadcast(&p->done_cv);
}

static void *worker_main(void *arg)
{
    mf_rt_core_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stop) {
            p->idle++;
            pthread_cond_wait(&p->work_cv, &p->mu);
            p->idle--;
        }
        if (p->stop)
            break;
        job *j = p->head;
        run_part(p, j, claim(p, j));
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
        if (pthread_create(&p->threads[p->nworkers], NULL, worker_main, p))
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
    if (nparts <= 1 || !p) { /* one core, or no pool: the submitter runs everything */
        for (int part = 0; part < nparts; part++)
            fn(args, part, nparts);
        return;
    }
    job j = {NULL, fn, args, nparts, 0, 0};
    pthread_mutex_lock(&p->mu);
    job **tail = &p->head;
    while (*tail)
        tail = &(*tail)->next;
    *tail = &j;
    if (p->idle > 0) {
        if (p->idle < nparts - 1)
            pthread_cond_broadcast(&p->work_cv);
        else
            for (int i = 0; i < nparts - 1; i++)
                pthread_cond_signal(&p->work_cv);
    }
    int part;
    while ((part = claim(p, &j)) >= 0)
        run_part(p, &j, part);
    while (j.done < j.nparts)
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
    mf_rt_core_pool *pool = NULL;
    if (core_number > 1 && dev.type == MF_MLU && !(s = mf_rt_device_check(dev)))
        pool = mf_rt_device_pool(dev.index);
    mf_rt_pool_run(pool, kernel, args, core_number);
    return MF_OK;
}
