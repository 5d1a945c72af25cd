/* xcore_lines.c — what a thread pays for cache lines the other core wrote: the cost behind a
 * two-thread run's first partition that reads the previous kernel's other half
 * (bench/thread_split.py).  Two threads pinned to CPUs 0 and 1; per round the other thread
 * rewrites a 256 KB buffer (its lines modified in that core's cache), then this one times
 * reading it (from the other core), reading it again (its own L2), writing it after the
 * other core wrote it again (each line's ownership moved), writing it after the other core
 * only read it (each line shared: the write invalidates the other copy), writing it again
 * (its own lines), and reading it after an 8 MB sweep (from L3 or memory).  Best of 200
 * rounds each, microseconds.
 *
 *     build/bench_xcore_lines [KB]
 *
 * A benchmark, not a test: figures depend on the machine (docs/benchmarks.md). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUNDS 200
#define SWEEP_BYTES (8u << 20)

static float *buf, *sweep;
static size_t n; /* floats in buf */
static atomic_int turn;     /* odd: the other thread's turn; -1: stop */
static atomic_int other_op; /* what the other thread does on its turn: 0 write buf, 1 read it */

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}

static int pin(int cpu)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    return sched_setaffinity(0, sizeof s, &s);
}

/* One float a 64-byte line, four chains: the lines' cost, not the adds'. */
static float read_all(const float *p, size_t m)
{
    float s[4] = {0};
    for (size_t i = 0; i + 64 <= m; i += 64)
        for (int l = 0; l < 4; l++)
            s[l] += p[i + 16 * (size_t)l];
    return s[0] + s[1] + s[2] + s[3];
}

static void write_all(float *p, size_t m)
{
    for (size_t i = 0; i < m; i += 16)
        p[i] += 1.0f;
}

static volatile float sink_other;

static void *other(void *arg)
{
    (void)arg;
    pin(1);
    for (;;) {
        int t;
        while ((t = atomic_load(&turn)) >= 0 && !(t & 1))
            ;
        if (t < 0)
            return NULL;
        if (atomic_load(&other_op))
            sink_other += read_all(buf, n);
        else
            write_all(buf, n);
        atomic_store(&turn, t + 1);
    }
}

/* The other thread writes (op 0) or reads (op 1) buf; returns when it has. */
static void other_does(int op)
{
    atomic_store(&other_op, op);
    int t = atomic_load(&turn);
    atomic_store(&turn, t + 1);
    while (atomic_load(&turn) != t + 2)
        ;
}

int main(int argc, char **argv)
{
    size_t kb = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 256;
    if (kb < 4 || kb > 65536) {
        fprintf(stderr, "usage: bench_xcore_lines [KB: 4..65536]\n");
        return 2;
    }
    n = kb * 1024 / sizeof(float) / 64 * 64;
    buf = aligned_alloc(64, n * sizeof(float));
    sweep = aligned_alloc(64, SWEEP_BYTES);
    if (!buf || !sweep || pin(0)) {
        fprintf(stderr, "bench_xcore_lines: needs 2 CPUs and memory\n");
        return 1;
    }
    memset(buf, 0, n * sizeof(float));
    memset(sweep, 0, SWEEP_BYTES);
    pthread_t th;
    if (pthread_create(&th, NULL, other, NULL))
        return 1;
    double remote = 1e30, local = 1e30, owned = 1e30, shared = 1e30, own = 1e30, far = 1e30;
    volatile float sink = 0;
    for (int r = 0; r < ROUNDS; r++) {
        other_does(0);
        double t0 = now_us();
        sink += read_all(buf, n);
        double t1 = now_us();
        sink += read_all(buf, n);
        double t2 = now_us();
        remote = t1 - t0 < remote ? t1 - t0 : remote;
        local = t2 - t1 < local ? t2 - t1 : local;
        other_does(0);
        t0 = now_us();
        write_all(buf, n);
        t1 = now_us();
        owned = t1 - t0 < owned ? t1 - t0 : owned;
        other_does(1);
        t0 = now_us();
        write_all(buf, n);
        t1 = now_us();
        write_all(buf, n);
        t2 = now_us();
        shared = t1 - t0 < shared ? t1 - t0 : shared;
        own = t2 - t1 < own ? t2 - t1 : own;
        sink += read_all(sweep, SWEEP_BYTES / sizeof(float));
        t0 = now_us();
        sink += read_all(buf, n);
        t1 = now_us();
        far = t1 - t0 < far ? t1 - t0 : far;
    }
    atomic_store(&turn, -1);
    pthread_join(th, NULL);
    printf("%zu KB, best of %d: read lines the other core wrote %.1f us, read again (own cache) %.1f us, "
           "read after an 8 MB sweep %.1f us; write lines the other core wrote %.1f us, lines it read %.1f us, "
           "own lines %.1f us\n",
           n * sizeof(float) / 1024, ROUNDS, remote, local, far, owned, shared, own);
    free(buf);
    free(sweep);
    return sink == 12345.0f ? 3 : 0;
}
