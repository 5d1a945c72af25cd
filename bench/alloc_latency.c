/* alloc_latency.c — benchmark: the latency of one allocation plus its free on the device
 * caching allocator (raw blocks, and whole device buffers as tensors get them) against
 * malloc/free, for a few sizes.  Prints the median over repeated runs, in nanoseconds. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "runtime/rt_internal.h"
#include "support/kernel_timing.h"

enum { REPS = 15, ITERS = 20000, LIVE = 64 };

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return v[n / 2];
}

/* Each iteration allocates LIVE blocks of `size` then frees them: ns per alloc+free. */
static double run_malloc(size_t size)
{
    void *p[LIVE];
    double t0 = now_ns();
    for (int it = 0; it < ITERS / LIVE; it++) {
        for (int i = 0; i < LIVE; i++) {
            p[i] = malloc(size);
            *(volatile char *)p[i] = 1;
        }
        for (int i = 0; i < LIVE; i++)
            free(p[i]);
    }
    return (now_ns() - t0) / (double)(ITERS / LIVE * LIVE);
}

static double run_blocks(mf_rt_allocator *a, size_t size)
{
    mf_rt_block *b[LIVE];
    double t0 = now_ns();
    for (int it = 0; it < ITERS / LIVE; it++) {
        for (int i = 0; i < LIVE; i++) {
            if (mf_rt_block_alloc(a, size, &b[i]))
                return -1;
            *(volatile char *)mf_rt_block_ptr(b[i]) = 1;
        }
        for (int i = 0; i < LIVE; i++)
            mf_rt_block_free(b[i]);
    }
    return (now_ns() - t0) / (double)(ITERS / LIVE * LIVE);
}

static double run_buffers(size_t size)
{
    mf_buffer *b[LIVE];
    double t0 = now_ns();
    for (int it = 0; it < ITERS / LIVE; it++) {
        for (int i = 0; i < LIVE; i++) {
            if (mf_rt_alloc(MF_DEVICE_MLU(0), size, &b[i]))
                return -1;
            *(volatile char *)b[i]->data = 1;
        }
        for (int i = 0; i < LIVE; i++)
            mf_buffer_release(b[i]);
    }
    return (now_ns() - t0) / (double)(ITERS / LIVE * LIVE);
}

int main(void)
{
    static const size_t sizes[] = {64, 4096, 256 << 10, 4 << 20};
    mf_rt_allocator *a = mf_rt_allocator_new(0, 0);
    if (!a)
        return 1;
    printf("alloc+free latency, ns (median of %d runs of %d pairs, %d live at once)\n", REPS,
           ITERS, LIVE);
    printf("%10s %12s %14s %16s\n", "bytes", "malloc/free", "caching block", "device buffer");
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        double m[REPS], c[REPS], d[REPS];
        for (int r = 0; r < REPS; r++) {
            m[r] = run_malloc(sizes[s]);
            c[r] = run_blocks(a, sizes[s]);
            d[r] = run_buffers(sizes[s]);
        }
        printf("%10zu %12.1f %14.1f %16.1f\n", sizes[s], median(m, REPS), median(c, REPS),
               median(d, REPS));
    }
    mf_rt_allocator_destroy(a);
    return 0;
}
