/* core_pool.c — a device's cores: persistent worker threads that run the partitions of
 * kernel launches.  A launch is a job on a shared list; workers and the submitting thread
 * claim its partitions (one at a time; a nested launch's in blocks, below), so a
 * 16-partition launch needs no 16 threads
 * (min(online CPUs, 16) - 1 workers plus the submitter).  A job lives on its submitter's
 * stack: a worker takes it off the list under the lock (counted in `inside`), claims and runs
 * partitions until none is left, and leaves; the submitter, out of partitions, takes the job
 * off the list and waits until no worker is inside.
 *
 * Each thread has home partitions — a contiguous run of them, the same for every launch of
 * the same width: the submitter the first, worker i the (i+1)-th of min(threads, nparts)
 * runs — and claims those first, then steals any left.  So partition p of consecutive
 * launches runs on the same core whenever the pool is awake (a layer's output block stays
 * in the L2 of the core that reads it next), and one core's partitions are neighbours in
 * memory; a late or descheduled worker still costs no more than with plain claims.
 *
 * A nested launch (mf_rt_pool_run_nested: compiled kernels, whose partition p of n covers
 * exactly partitions 2p and 2p + 1 of 2n) is cut NEST_SPLIT times finer: a thread claims
 * from the front of its home run half of what is left there, as one aligned block called as
 * one partition of a coarser count (a home run of 8 is run as 4, 2, 1 and 1), and a thief
 * takes the last fine partition of another's run; threads without a home run stay out (the
 * launch keeps to core_number threads).  When the cores run at the same speed each runs half
 * its share in one call and the rest in halving ones (2 threads at core_number 4: 8 calls a
 * launch instead of 4; a thread a partition: 3 calls each); when one is slower (the VM's
 * other tenants, an interrupt) the faster one takes over the slower one's last fine
 * partitions instead of waiting for a quarter of the kernel: with the worker emulated at
 * half speed, mobilenet_v2 at two threads took 4.00 instead of 4.85 ms, and as before at
 * equal speeds (docs/benchmarks.md).
 *
 * Nothing on a launch's path sleeps while there is work or a partition to wait for: the
 * job list is guarded by a spin lock held for a few instructions, claims are a
 * compare-and-swap on the claimer's own home run (a steal, on another's), and waiting spins
 * for a while before it sleeps (spin_until).  A thread that
 * sleeps (on a futex, for a contended mutex or a condition) gives its core away — on a
 * loaded machine to whatever else is runnable — and gets it back tens to hundreds of
 * microseconds later, which a model's launches, microseconds apart, cannot pay (the thread
 * pools of ONNX Runtime and OpenMP spin likewise).  With the claims under a mutex, the
 * submitter slept on it whenever a worker held it, and 4-partition launches of 2-10 µs
 * partitions gained nothing from the second thread (docs/benchmarks.md).  The mutex and conditions serve only sleepers: idle
 * workers waiting for a post, a submitter waiting long for a descheduled worker. */
#include <stdatomic.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "rt_internal.h"

#define MAX_PARTS 64 /* partitions a job's home runs can hold (core numbers are 1, 4 and 16) */
#define NEST_SPLIT 4 /* fine partitions per partition of a nested launch (a power of two) */

/* A thread's home run of a job: the partitions [lo, hi) not yet claimed, as lo | hi << 32 in
 * one word on a line of its own.  The owner claims from the front, others steal from the back,
 * each with one compare-and-swap: the owner's claims touch only its own line, so a launch of
 * many partitions costs no more traffic between the cores than one of a partition a thread. */
typedef struct home_run {
    _Alignas(64) atomic_uint_least64_t left;
} home_run;

typedef struct job {
    struct job *next;
    mf_kernel_fn fn;
    void *const *args;
    int nparts;        /* partitions; of a nested launch, the fine ones */
    int unit;          /* fine partitions per launched partition: NEST_SPLIT when nested, else 1 */
    int nhomes;        /* threads that have home partitions: min(pool threads, launched partitions) */
    home_run runs[MF_RT_MAX_CORE_THREADS + 1]; /* the workers' and the submitter's */
    _Alignas(64) atomic_int inside; /* workers that took the job off the list and have not left */
} job;

typedef struct worker_arg {
    struct mf_rt_core_pool *p;
    int id; /* 1..nworkers; the submitter is 0 */
} worker_arg;

struct mf_rt_core_pool {
    atomic_flag lock;  /* head, the links of the jobs on it and their `inside` increments */
    job *head;         /* jobs posted and not yet retired (some may have nothing left to claim), oldest first */
    atomic_uint posted; /* jobs ever posted: waiting workers watch it change */
    atomic_int idle;   /* workers asleep (or going to sleep) on work_cv */
    atomic_int waiting; /* submitters asleep (or going to sleep) on done_cv */
    atomic_bool stop;
    pthread_mutex_t sleep_mu; /* only for sleeping and waking */
    pthread_cond_t work_cv, done_cv;
    int nworkers;
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

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void lock(mf_rt_core_pool *p)
{
    while (atomic_flag_test_and_set_explicit(&p->lock, memory_order_acquire))
        cpu_relax();
}

static void unlock(mf_rt_core_pool *p)
{
    atomic_flag_clear_explicit(&p->lock, memory_order_release);
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

/* The first of thread `who`'s home partitions: thread t's run is [home(t), home(t + 1)),
 * on the boundaries of the launched partitions. */
static int home(const job *j, int who)
{
    return j->unit * (who * (j->nparts / j->unit) / j->nhomes);
}

static uint64_t run_word(uint64_t lo, uint64_t hi)
{
    return lo | hi << 32;
}

/* How many partitions a claim of run [lo, hi) takes.  Plain launches: one.  Nested ones:
 * the owner takes up to half of what is left, as the largest block whose size divides
 * nparts and its start (so that it is one partition of a coarser count, nparts / size); a
 * thief takes one fine partition. */
static uint64_t claim_size(const job *j, uint64_t lo, uint64_t hi, bool front)
{
    uint64_t n = 1;
    if (front && j->unit > 1)
        while (n * 2 <= (hi - lo) / 2 && lo % (n * 2) == 0 && (uint64_t)j->nparts % (n * 2) == 0)
            n *= 2;
    return n;
}

/* Takes the first (front) or the last partitions left in run r: the first of them, their
 * count in *size; -1 when the run is empty. */
static int take(job *j, int r, bool front, int *size)
{
    uint64_t w = atomic_load(&j->runs[r].left);
    for (;;) {
        uint64_t lo = w & 0xffffffffu, hi = w >> 32;
        if (lo >= hi)
            return -1;
        uint64_t n = claim_size(j, lo, hi, front);
        uint64_t next = front ? run_word(lo + n, hi) : run_word(lo, hi - n);
        if (atomic_compare_exchange_weak(&j->runs[r].left, &w, next)) {
            *size = (int)n;
            return (int)(front ? lo : hi - n);
        }
    }
}

/* Claims partitions of j for thread `who`: from the front of its home run, else the last of
 * another run (the end of a run is what its owner would reach last); -1 when none is left.
 * Lock-free: partitions only ever leave the runs, so -1 stays true for good. */
static int claim(job *j, int who, int *size)
{
    if (j->unit > 1 && who >= j->nhomes) /* a nested launch stays on its core_number threads */
        return -1;
    int part = who < j->nhomes ? take(j, who, true, size) : -1;
    for (int k = 1; k <= j->nhomes && part < 0; k++)
        part = take(j, (who + k) % j->nhomes, false, size);
    return part;
}

/* Wakes the sleepers of cv, if `sleepers` says there are any (read after the caller's own
 * atomic write, so a thread going to sleep either sees that write or is counted here). */
static void wake(mf_rt_core_pool *p, pthread_cond_t *cv, atomic_int *sleepers)
{
    if (atomic_load(sleepers) == 0)
        return;
    pthread_mutex_lock(&p->sleep_mu);
    pthread_cond_broadcast(cv);
    pthread_mutex_unlock(&p->sleep_mu);
}

/* A post (of a job on the list, or of none): sleeping workers wake and spin again for SPIN_NS. */
static void nudge(mf_rt_core_pool *p)
{
    atomic_fetch_add(&p->posted, 1);
    wake(p, &p->work_cv, &p->idle);
}

static _Thread_local int current_core; /* the calling thread's core of its pool: 0 submits */

int mf_rt_pool_core(void)
{
    return current_core;
}

/* Runs partitions of j until none is left to claim: n of them from `first` (aligned to n) are
 * partition first / n of nparts / n. */
static void work_on(job *j, int who)
{
    int n;
    for (int first; (first = claim(j, who, &n)) >= 0;)
        j->fn(j->args, first / n, j->nparts / n);
}

/* Takes j off the list if it is still there (its partitions are all claimed). */
static void retire(mf_rt_core_pool *p, job *j)
{
    lock(p);
    unlink_job(p, j);
    unlock(p);
}

/* How a waiter waits before it sleeps: it spins on the pause instruction for PAUSE_NS, then
 * keeps spinning but yields its core at every check until SPIN_NS.  On a quiet machine a
 * yield returns at once; on a loaded one it lets whatever shares the core run — the other
 * pool thread itself when the scheduler put both on one core, which a plain spin would
 * keep from running for the rest of its time slice — while the waiter stays runnable
 * (no futex wake-up to pay).  The spin outlasts a model's gaps between launches and
 * between runs (a result read back, the next input). */
#define PAUSE_NS 10000
#define SPIN_NS 1000000

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Spins until done() holds or SPIN_NS pass; true if it held. */
static bool spin_until(bool (*done)(const void *), const void *arg)
{
    int64_t start = now_ns();
    for (int i = 0;; i++) {
        if (done(arg))
            return true;
        if ((i & 63) == 63) {
            int64_t spun = now_ns() - start;
            if (spun > SPIN_NS)
                return false;
            if (spun > PAUSE_NS)
                sched_yield();
        }
        cpu_relax();
    }
}

/* Spins, then sleeps on cv (counted in `sleepers`) until done() holds. */
static void wait_until(mf_rt_core_pool *p, pthread_cond_t *cv, atomic_int *sleepers,
                       bool (*done)(const void *), const void *arg)
{
    if (spin_until(done, arg))
        return;
    pthread_mutex_lock(&p->sleep_mu);
    atomic_fetch_add(sleepers, 1);
    while (!done(arg))
        pthread_cond_wait(cv, &p->sleep_mu);
    atomic_fetch_sub(sleepers, 1);
    pthread_mutex_unlock(&p->sleep_mu);
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

/* Called once the caller's own claims found nothing left, and j is off the list: every
 * partition is claimed, so j is done when the workers inside it have left. */
static bool job_done(const void *arg)
{
    const job *j = arg;
    return atomic_load(&j->inside) == 0;
}

static void *worker_main(void *arg)
{
    mf_rt_core_pool *p = ((worker_arg *)arg)->p;
    int who = ((worker_arg *)arg)->id;
    current_core = who;
    while (!atomic_load(&p->stop)) {
        post_watch w = {p, atomic_load(&p->posted)}; /* read before the list: no post is missed */
        lock(p);
        job *j = p->head;
        if (j) /* under the lock: its submitter cannot have taken it off and left */
            atomic_fetch_add(&j->inside, 1);
        unlock(p);
        if (!j) {
            wait_until(p, &p->work_cv, &p->idle, new_post, &w);
            continue;
        }
        work_on(j, who);
        retire(p, j);
        atomic_fetch_sub(&j->inside, 1); /* j is not touched after this: its submitter may return */
        wake(p, &p->done_cv, &p->waiting);
    }
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
    atomic_flag_clear(&p->lock);
    pthread_mutex_init(&p->sleep_mu, NULL);
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
    pthread_mutex_lock(&p->sleep_mu);
    atomic_store(&p->stop, true);
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->sleep_mu);
    for (int i = 0; i < p->nworkers; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->work_cv);
    pthread_cond_destroy(&p->done_cv);
    pthread_mutex_destroy(&p->sleep_mu);
    free(p);
}

int mf_rt_pool_workers(const mf_rt_core_pool *p)
{
    return p->nworkers;
}

static void pool_run(mf_rt_core_pool *p, mf_kernel_fn fn, void *const *args, int nparts, bool nested)
{
    if (nparts <= 1 || nparts > MAX_PARTS || !p) { /* one core, no pool, or more partitions
                                                     * than a job tracks: the submitter runs all */
        for (int part = 0; part < nparts; part++)
            fn(args, part, nparts);
        return;
    }
    int threads = p->nworkers + 1, unit = 1;
    while (nested && unit < NEST_SPLIT && nparts * unit * 2 <= MAX_PARTS)
        unit *= 2;
    job j = {.fn = fn, .args = args, .nparts = nparts * unit, .unit = unit,
             .nhomes = threads < nparts ? threads : nparts};
    for (int t = 0; t < j.nhomes; t++)
        atomic_init(&j.runs[t].left, run_word((uint64_t)home(&j, t), (uint64_t)home(&j, t + 1)));
    atomic_init(&j.inside, 0);
    lock(p);
    job **tail = &p->head;
    while (*tail)
        tail = &(*tail)->next;
    *tail = &j;
    unlock(p);
    nudge(p);
    int outer = current_core; /* a worker of another pool may submit: it stays that core */
    current_core = 0;
    work_on(&j, 0);
    current_core = outer;
    retire(p, &j); /* no worker enters it after this */
    wait_until(p, &p->done_cv, &p->waiting, job_done, &j); /* the others' partitions */
}

void mf_rt_pool_run(mf_rt_core_pool *p, mf_kernel_fn fn, void *const *args, int nparts)
{
    pool_run(p, fn, args, nparts, false);
}

void mf_rt_pool_run_nested(mf_rt_core_pool *p, mf_kernel_fn fn, void *const *args, int nparts)
{
    pool_run(p, fn, args, nparts, true);
}

void mf_rt_cores_expect(mf_device dev, int core_number)
{
    if (core_number > 1 && dev.type == MF_MLU && !mf_rt_device_check(dev)) {
        mf_rt_core_pool *pool = mf_rt_device_pool(dev.index);
        if (pool)
            nudge(pool);
    }
}

static mf_status launch(mf_device dev, mf_kernel_fn kernel, void *const *args, int core_number, bool nested)
{
    mf_status s = mf_rt_check_core_number(core_number);
    if (s)
        return s;
    if (!kernel)
        return mf_error(MF_ERR_INVALID, "launch: the kernel is NULL");
    mf_rt_core_pool *pool = NULL;
    if (core_number > 1 && dev.type == MF_MLU && !(s = mf_rt_device_check(dev)))
        pool = mf_rt_device_pool(dev.index);
    pool_run(pool, kernel, args, core_number, nested);
    return MF_OK;
}

/* A launch on the calling thread (no queue). */
mf_status mf_rt_launch_sync(mf_device dev, mf_kernel_fn kernel, void *const *args,
                            int core_number)
{
    return launch(dev, kernel, args, core_number, false);
}

/* The plan executor's synchronous path: compiled kernels, whose partitions nest. */
mf_status mf_rt_launch_nested(mf_device dev, mf_kernel_fn kernel, void *const *args, int core_number)
{
    return launch(dev, kernel, args, core_number, true);
}
