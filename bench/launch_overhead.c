/* launch_overhead.c — benchmark: the cost of launching an empty kernel on a queue at
 * core_number 1, 4 and 16, in microseconds: one launch followed by a queue sync (the
 * round trip), and a batch of launches with one sync at the end (the throughput).  Also
 * the synchronous path (mf_rt_launch_sync) the plan executor uses.  Medians of repeats.
 * Then what the pool's threads give small kernels: a kernel of 4 partitions of W µs of
 * arithmetic each, launched at core_number 1 and 4 with G µs of the caller's own work before
 * each launch (the unsplit steps between a model's split ones; the pool spins through short
 * gaps and sleeps after long ones), median and p90 wall time of each.  Row "2000a": the
 * same 2 ms gap with the pool told 30 µs before the launch (mf_rt_cores_expect: what a
 * plan run does as it begins).  Last, cores of unequal speed: a kernel of W µs at
 * core_number 4 whose partitions take F times as long on the workers as on the submitting
 * thread (a worker slowed by another tenant of the machine), launched plain (4 partitions,
 * 2 a thread) and nested (mf_rt_launch_nested, as a plan launches: finer partitions claimed
 * by halves), against the ideal W / (1 + 1 / F) on two threads. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "runtime/rt_internal.h"
#include "support/kernel_timing.h"

enum { REPS = 15, ROUND_TRIPS = 500, BATCH = 2000, BUSY_LAUNCHES = 301 };

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

static double median(double *v)
{
    qsort(v, REPS, sizeof *v, bench_cmp_double);
    return v[REPS / 2];
}

/* args[0]: long, iterations of a dependent multiply-add chain */
static void busy_kernel(void *const *args, int64_t part, int64_t nparts)
{
    (void)part, (void)nparts;
    volatile double x = 1.0;
    for (long i = *(const long *)args[0]; i > 0; i--)
        x = x * 1.0000001 + 1e-9;
}

static void spin_us(double us)
{
    for (double until = now_us() + us; now_us() < until;)
        ;
}

/* Iterations of busy_kernel per microsecond: the best of 5 timings. */
static double busy_rate(void)
{
    long n = 1000000;
    void *args[] = {&n};
    double best = 1e30;
    for (int i = 0; i < 5; i++) {
        double t0 = now_us();
        busy_kernel(args, 0, 1);
        double t = now_us() - t0;
        best = t < best ? t : best;
    }
    return (double)n / best;
}

/* Sorts v (BUSY_LAUNCHES of them) and returns its element at fraction q. */
static double quantile(double *v, double q)
{
    qsort(v, BUSY_LAUNCHES, sizeof *v, bench_cmp_double);
    return v[(int)(q * (BUSY_LAUNCHES - 1))];
}

static void busy_table(void)
{
    static const double work_us[] = {2, 5, 10, 25, 50}, gap_us[] = {0, 20, 200, 2000, 2000};
    static const double told_us[] = {0, 0, 0, 0, 30}; /* told this long before the launch */
    static double one[BUSY_LAUNCHES], two[BUSY_LAUNCHES];
    double rate = busy_rate();
    printf("\n4 partitions of W us each after G us of the caller's work, wall us: core_number 1 | 4 "
           "(median, p90)\n%6s %6s %16s %16s %8s\n", "W", "G", "1: med p90", "4: med p90", "gain");
    for (int w = 0; w < 5; w++) {
        for (int g = 0; g < 5; g++) {
            long n = (long)(work_us[w] * rate);
            void *args[] = {&n};
            for (int i = 0; i < BUSY_LAUNCHES; i++) { /* alternated: both see the same load */
                spin_us(gap_us[g]);
                double t0 = now_us();
                mf_rt_launch_sync(MF_DEVICE_MLU(0), busy_kernel, args, 1);
                for (int part = 1; part < 4; part++)
                    busy_kernel(args, part, 4);
                one[i] = now_us() - t0;
                spin_us(gap_us[g] - told_us[g]);
                if (told_us[g] > 0) {
                    mf_rt_cores_expect(MF_DEVICE_MLU(0), 4);
                    spin_us(told_us[g]);
                }
                t0 = now_us();
                mf_rt_launch_sync(MF_DEVICE_MLU(0), busy_kernel, args, 4);
                two[i] = now_us() - t0;
            }
            double m1 = quantile(one, 0.5), p1 = quantile(one, 0.9);
            double m4 = quantile(two, 0.5), p4 = quantile(two, 0.9);
            printf("%6.0f %5.0f%s %8.1f %7.1f %8.1f %7.1f %7.2fx\n", work_us[w], gap_us[g], told_us[g] > 0 ? "a" : " ",
                   m1, p1, m4, p4, m1 / m4);
        }
    }
}

/* args[0]: long, busy_kernel iterations of the whole kernel; args[1]: double, how many times
 * longer a partition takes on a worker than on the submitting thread (core 0). */
static void uneven_kernel(void *const *args, int64_t part, int64_t nparts)
{
    long n = (long)((double)*(const long *)args[0] / (double)nparts *
                    (mf_rt_pool_core() ? *(const double *)args[1] : 1.0));
    void *share[] = {&n};
    busy_kernel(share, part, nparts);
}

static void uneven_table(void)
{
    static const double slow[] = {1.0, 1.5, 2.0}, work_us = 400;
    static double plain[BUSY_LAUNCHES], nested[BUSY_LAUNCHES];
    long n = (long)(work_us * busy_rate());
    printf("\na kernel of %.0f us at core_number 4, a worker's partitions F times slower, wall us "
           "(median, p90)\n%6s %16s %16s %8s\n", work_us, "F", "plain: med p90", "nested: med p90", "ideal");
    for (int f = 0; f < 3; f++) {
        double factor = slow[f];
        void *args[] = {&n, &factor};
        for (int i = 0; i < BUSY_LAUNCHES; i++) { /* alternated: both see the same load */
            double t0 = now_us();
            mf_rt_launch_sync(MF_DEVICE_MLU(0), uneven_kernel, args, 4);
            plain[i] = now_us() - t0;
            t0 = now_us();
            mf_rt_launch_nested(MF_DEVICE_MLU(0), uneven_kernel, args, 4);
            nested[i] = now_us() - t0;
        }
        double mp = quantile(plain, 0.5), pp = quantile(plain, 0.9);
        double mn = quantile(nested, 0.5), pn = quantile(nested, 0.9);
        printf("%6.1f %8.1f %7.1f %8.1f %7.1f %8.1f\n", slow[f], mp, pp, mn, pn, work_us / (1 + 1 / slow[f]));
    }
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
    busy_table();
    uneven_table();
    return 0;
}
