/* kernel_timing.c — the shared timing of the kernel benchmarks (see kernel_timing.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernel_timing.h"

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

void *bench_filled(size_t bytes, int seed)
{
    unsigned char *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    for (size_t i = 0; p && i < bytes; i++)
        p[i] = (unsigned char)((i * 2654435761u + (size_t)seed) >> 13);
    return p;
}
