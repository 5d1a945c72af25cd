/* kernel_timing.h — what the kernel benchmarks share: a monotonic clock and the time of one
 * call of a compiled kernel split over 1 or 2 threads (partition i on thread i). */
#ifndef MF_BENCH_KERNEL_TIMING_H
#define MF_BENCH_KERNEL_TIMING_H

#include "codegen/codegen.h"

double bench_now(void); /* seconds */
/* Seconds per call of fn over reps calls, nthreads (1 or 2) threads each running its part. */
double bench_time_threads(mf_kernel_fn fn, void **args, int nthreads, int reps);

#endif
