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

/* bytes of a fixed pseudo-random pattern (seed picks which), 64-byte aligned as the
 * runtime's buffers are; free() it. */
void *bench_filled(size_t bytes, int seed);

#endif
