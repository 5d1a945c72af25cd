/* launch_overhead.c — benchmark: the cost of launching an empty kernel on a queue at
 * core_number 1, 4 and 16, in microseconds: one launch followed by a queue sync (the
 * round trip), and a batch of launches with one sync at the end (the throughput).  Also
 * the synchronous path (mf_rt_launch_sync) the plan executor uses.  Medians of repeats. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "runtime/rt_internal.h"

enum { REPS = 15, ROUND_TRIPS = 500, BATCH = 2000 };

static void empty_kernel(void *const *args, int64_t part, int64_t nparts)
{
    (void)args, (void)part, (void)nparts;
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v)
{
    qsort(v, REPS, sizeof *v, cmp_double);
    return v[REPS / 2];
}

static double round_trip(mf_queue *q, int cores)
{
    double t0 = now_us();
    for (int i = 0; i < ROUND_TRIPS; i++) {
        mf_launch(empty_kernel, 0, NULL, cores, q);
        mf_queue_sync(q);
    }
    return (now_us() - t0) / ROUND_TRIPS;
}

static double batched(mf_queue *q, int cores)
{
    double t0 = now_us();
    for (int i = 0; i < BATCH; i++)
        mf_launch(empty_kernel, 0, NULL, cores, q);
    mf_queue_sync(q);
    return (now_us() - t0) / BATCH;
}

static double direct(int cores)
{
    double t0 = now_us();
    for (int i = 0; i < BATCH; i++)
        mf_rt_launch_sync(MF_DEVICE_MLU(0), empty_kernel, NULL, cores);
    return (now_us() - t0) / BATCH;
}

int main(void)
{
    mf_queue *q;
    if (mf_queue_create(0, &q)) {
        fprintf(stderr, "%s\n", mf_last_error());
        return 1;
    }
    static const int cores[] = {1, 4, 16};
    round_trip(q, 16); /* warm the pool and the queue's thread */
    printf("empty-kernel launch overhead, us (median of %d runs; %d core-pool workers)\n", REPS,
           mf_rt_pool_default_workers());
    printf("%12s %22s %22s %20s\n", "core_number", "launch+sync (round)", "launch (batched)",
           "sync pool launch");
    for (int c = 0; c < 3; c++) {
        double r[REPS], b[REPS], d[REPS];
        for (int i = 0; i < REPS; i++) {
            r[i] = round_trip(q, cores[c]);
            b[i] = batched(q, cores[c]);
            d[i] = direct(cores[c]);
        }
        printf("%12d %22.2f %22.2f %20.2f\n", cores[c], median(r), median(b), median(d));
    }
    mf_queue_destroy(q);
    return 0;
}
