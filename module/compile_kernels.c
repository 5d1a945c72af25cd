/* compile_kernels.c — a specialization's kernels, made on several threads at once.  Each
 * kernel is independent (codegen gives every compile its own LLVM context and target
 * machine, the map compiles a key once, the JIT serializes linking), so the segments are
 * handed out one at a time to a few workers; the caller's thread is one of them.  Results
 * land in the segment's slot, so the caller sees them in segment order whatever finished
 * first.  Progress and timing callbacks run under one lock: one call at a time. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "module.h"

#define MAX_COMPILE_THREADS 64

typedef struct compile_job {
    mf_segment *segs;
    int n;
    const mf_cache_options *co;
    const mf_module_options *mo;
    const atomic_bool *cancel;
    mf_kernel_result *results;
    pthread_mutex_t lock; /* next, done and the callbacks */
    int next, done;
} compile_job;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int mf_mod_compile_threads(const mf_module_options *mo, int nkernels)
{
    int t = mo && mo->compile_threads > 0 ? mo->compile_threads : 0;
    const char *e = getenv("MLUFUSE_COMPILE_THREADS");
    if (!t && e && *e)
        t = atoi(e); /* validated by mf_mod_check_env: a positive number */
    if (t <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        t = cores > 0 ? (int)cores : 1;
    }
    if (t > MAX_COMPILE_THREADS)
        t = MAX_COMPILE_THREADS;
    return t < nkernels ? t : (nkernels > 0 ? nkernels : 1);
}

mf_status mf_mod_check_compile_env(void)
{
    const char *e = getenv("MLUFUSE_COMPILE_THREADS");
    if (!e || !*e)
        return MF_OK;
    char *end;
    long v = strtol(e, &end, 10);
    if (*end || v < 1 || v > MAX_COMPILE_THREADS)
        return mf_error(MF_ERR_INVALID, "MLUFUSE_COMPILE_THREADS=%s: expected a number from 1 to %d", e,
                        MAX_COMPILE_THREADS);
    return MF_OK;
}

static void report(compile_job *j, int k)
{
    const mf_kernel_result *r = &j->results[k];
    pthread_mutex_lock(&j->lock);
    j->done++;
    if (j->mo->on_kernel && !r->status) {
        const mf_kernel *kern = r->kernel;
        mf_kernel_timing t = {
            .label = j->segs[k].label,
            .key = kern->key,
            .source = !r->made ? MF_KERNEL_FROM_MEMORY
                      : kern->loaded ? MF_KERNEL_FROM_DISK : MF_KERNEL_COMPILED,
            .total_ms = r->wall_ms,
        };
        if (r->made) {
            t.build_ms = kern->build_ms;
            t.optimize_ms = kern->optimize_ms;
            t.emit_ms = kern->emit_ms;
            t.load_ms = kern->load_ms;
        }
        j->mo->on_kernel(&t, j->mo->on_kernel_ctx);
    }
    if (j->mo->progress)
        j->mo->progress(j->done, j->n, j->mo->progress_ctx);
    pthread_mutex_unlock(&j->lock);
}

static bool cancelled(const compile_job *j)
{
    return j->cancel && atomic_load(j->cancel);
}

/* A spare thread (idle_worker) waits while a run is in flight in this process, so it starts no
 * kernel that would share the run's cores; it returns at once when nothing is left to start. */
static void wait_for_no_run(compile_job *j)
{
    const struct timespec pause = {0, 2000000}; /* 2 ms: a run's gap is seen soon enough */
    while (mf_mod_runs_in_flight() > 0 && !cancelled(j)) {
        pthread_mutex_lock(&j->lock);
        bool left = j->next < j->n;
        pthread_mutex_unlock(&j->lock);
        if (!left)
            return;
        nanosleep(&pause, NULL);
    }
}

static void work(compile_job *j, bool spare)
{
    for (;;) {
        if (spare)
            wait_for_no_run(j);
        pthread_mutex_lock(&j->lock);
        int k = j->next < j->n ? j->next++ : -1;
        pthread_mutex_unlock(&j->lock);
        if (k < 0)
            return;
        mf_kernel_result *r = &j->results[k];
        if (cancelled(j)) { /* the module is going away */
            r->status = MF_ERR_INVALID;
            snprintf(r->message, sizeof r->message, "compile cancelled");
            continue;
        }
        double t0 = now_ms();
        r->status = mf_mod_cache_get(j->segs[k].sub, j->co, j->segs[k].label, &r->kernel, &r->made);
        r->wall_ms = now_ms() - t0;
        if (r->status) /* the message is per thread: keep it with the result */
            snprintf(r->message, sizeof r->message, "%s", mf_last_error());
        report(j, k);
    }
}

static void *worker(void *arg)
{
    work(arg, false);
    return NULL;
}

/* A background compile's spare thread, the one that uses the last core: it starts a kernel
 * only while no run is in flight, and runs in the lowest scheduling class (SCHED_IDLE), so a
 * run that begins during that kernel preempts it at once.  The other threads keep the normal
 * class and a core's worth of the runs' room, as before: tier-up still progresses on a busy
 * machine, and back-to-back runs leave the spare thread waiting rather than holding a kernel. */
static void *idle_worker(void *arg)
{
    struct sched_param none = {0};
    pthread_setschedparam(pthread_self(), SCHED_IDLE, &none); /* best effort: else a normal thread */
    work(arg, true);
    return NULL;
}

/* Whether a background compile (not a set thread count) gives its last thread the idle class. */
static bool last_idle(const mf_module_options *mo, bool background)
{
    const char *e = getenv("MLUFUSE_COMPILE_THREADS");
    return background && !(mo && mo->compile_threads > 0) && !(e && *e);
}

mf_status mf_mod_compile_kernels(mf_segment *segs, int n, const mf_cache_options *co,
                                 const mf_module_options *mo, const atomic_bool *cancel,
                                 mf_kernel_result *results)
{
    compile_job j = {.segs = segs, .n = n, .co = co, .mo = mo, .cancel = cancel, .results = results};
    memset(results, 0, sizeof *results * (size_t)n);
    pthread_mutex_init(&j.lock, NULL);
    int nthreads = mf_mod_compile_threads(mo, n);
    bool idle = last_idle(mo, cancel != NULL) && nthreads > 1;
    pthread_t tid[MAX_COMPILE_THREADS];
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, (size_t)8 << 20); /* lowering recurses per op of a chain */
    int started = 0;
    for (int i = 1; i < nthreads; i++) { /* a thread that cannot start leaves more for the rest */
        if (pthread_create(&tid[started], &attr, idle && i == nthreads - 1 ? idle_worker : worker, &j))
            break;
        started++;
    }
    pthread_attr_destroy(&attr);
    work(&j, false);
    for (int i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    pthread_mutex_destroy(&j.lock);
    return MF_OK;
}
