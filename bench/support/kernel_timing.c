/* kernel_timing.c — the shared timing of the kernel benchmarks (see kernel_timing.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernel_timing.h"
#include "runtime/profiler.h"

double bench_now(void)
{
    struct timespec ts;
    static int cpu = -1; /* BENCH_CPU_TIME=1: the process's CPU time (kernel_timing.h) */
    if (cpu < 0)
        cpu = getenv("BENCH_CPU_TIME") && !strcmp(getenv("BENCH_CPU_TIME"), "1");
    clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct job {
    mf_kernel_fn fn;
    void **args;
    int64_t part, nparts;
    int reps;
} job;

static void *run(void *arg)
{
    job *j = arg;
    for (int r = 0; r < j->reps; r++)
        j->fn((void *const *)j->args, j->part, j->nparts);
    return NULL;
}

double bench_time_threads(mf_kernel_fn fn, void **args, int nthreads, int reps)
{
    pthread_t t[2];
    job j[2];
    double t0 = bench_now();
    for (int i = 0; i < nthreads && i < 2; i++) {
        j[i] = (job){fn, args, i, nthreads, reps};
        pthread_create(&t[i], NULL, run, &j[i]);
    }
    for (int i = 0; i < nthreads && i < 2; i++)
        pthread_join(t[i], NULL);
    return (bench_now() - t0) / reps;
}

static double thread_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum { BATCHES = 11 };

bench_share bench_against_peak(void (*call)(void *), void *ctx, double flop, int lanes, int reps)
{
    double best = 1e30, at_clock[BATCHES];
    int per = reps / BATCHES + 1;
    for (int b = 0; b < BATCHES; b++) {
        double t0 = thread_now();
        for (int r = 0; r < per; r++)
            call(ctx);
        double t = (thread_now() - t0) / per;
        best = t < best ? t : best;
        /* as long as the batch, within 0.2-1 ms: a shorter sample is a few of the FMA loop's
         * 40-microsecond chunks; in a longer one the clock drifts back up (the FMA loop alone
         * lowers it less than a kernel does) */
        double span = t * per < 2e-4 ? 2e-4 : t * per > 1e-3 ? 1e-3 : t * per;
        double peak = mf_rt_limits_peak_sample(lanes, span);
        at_clock[b] = peak > 0 ? flop / t * 1e-9 / peak : 0;
    }
    qsort(at_clock, BATCHES, sizeof *at_clock, bench_cmp_double);
    return (bench_share){best, at_clock[BATCHES / 2]};
}

typedef struct kernel_call {
    mf_kernel_fn fn;
    void **args;
} kernel_call;

static void call_kernel(void *ctx)
{
    kernel_call *k = ctx;
    k->fn((void *const *)k->args, 0, 1);
}

bench_share bench_kernel_against_peak(mf_kernel_fn fn, void **args, double flop, int lanes,
                                      int reps)
{
    kernel_call k = {fn, args};
    return bench_against_peak(call_kernel, &k, flop, lanes, reps);
}

void *bench_filled(size_t bytes, int seed)
{
    unsigned char *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    for (size_t i = 0; p && i < bytes; i++)
        p[i] = (unsigned char)((i * 2654435761u + (size_t)seed) >> 13);
    return p;
}
