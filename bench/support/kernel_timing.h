/* kernel_timing.h — what the kernel benchmarks share: a monotonic clock, the time of one
 * call of a compiled kernel split over 1 or 2 threads (partition i on thread i), and the
 * operands' bytes. */
#ifndef MF_BENCH_KERNEL_TIMING_H
#define MF_BENCH_KERNEL_TIMING_H

#include "codegen/codegen.h"

/* Seconds.  With BENCH_CPU_TIME=1 the process's CPU time instead of the wall clock: on a
 * machine shared past its cores, one thread's figures then leave out the time it waited
 * (two threads' times add up, so only one-thread figures mean anything that way). */
double bench_now(void);
/* Seconds per call of fn over reps calls, nthreads (1 or 2) threads each running its part. */
double bench_time_threads(mf_kernel_fn fn, void **args, int nthreads, int reps);

/* A kernel's one-thread time, and its fraction of the FMA peak at the clock the core ran it
 * at: batches of calls alternate with samples of the FMA loop of the target's lanes run for
 * as long (0.2-1 ms; mf_rt_limits_peak_sample), both timed in this thread's CPU time.  seconds: the
 * best batch's time a call; at_clock: the median over batches of the batch's FLOP/s over the
 * sample after it (0 when the host cannot run code of that many lanes).  Against the peak
 * measured at the best clock (mf_rt_limits_peak_now) the same time gives a lower fraction:
 * dense AVX-512 code runs the core at a lower clock.  call(ctx) is one call of what is
 * measured, flop its FLOPs. */
typedef struct bench_share {
    double seconds, at_clock;
} bench_share;
bench_share bench_against_peak(void (*call)(void *), void *ctx, double flop, int lanes, int reps);
/* The same for one partition of a compiled kernel: fn(args, 0, 1). */
bench_share bench_kernel_against_peak(mf_kernel_fn fn, void **args, double flop, int lanes,
                                      int reps);

/* qsort's order of doubles, ascending (the benchmarks' medians) */
int bench_cmp_double(const void *a, const void *b);

/* bytes of a fixed pseudo-random pattern (seed picks which), 64-byte aligned as the
 * runtime's buffers are; free() it. */
void *bench_filled(size_t bytes, int seed);

#endif
