/* core_scaling.c — does a second core add throughput on this machine, measured so that other
 * processes' load only removes samples (issue 10: on a shared VM a plain two-thread timing
 * says nothing).  Two threads each run short chunks of one kind of work and time every chunk;
 * a chunk during all of which the other thread was inside a chunk is "overlapped", one
 * during none of it "alone".  If the two vCPUs were SMT siblings, or zmm code on both cores
 * dropped their clock, or memory were shared bandwidth, overlapped chunks would be slower.
 * Kinds: 12 independent fp32 FMA chains in zmm (where the host has AVX-512F) and in ymm
 * (AVX2 + FMA), and 64-byte loads streaming over S MB a thread (argv[1], default 2.35: half
 * of mnist_net's 4.7 MB linear weights).  Prints the median chunk of each class and its rate. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define CHUNKS 4000
#define FMA_STEPS 2000 /* a chunk: 12 x FMA_STEPS FMAs, a few µs */

static long stamps[2][CHUNKS][2];
static float *bufs[2];
static size_t buf_floats;
static int kind; /* 0 zmm FMA, 1 ymm FMA, 2 loads */

static long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

#define FMA12(T, fma, a, m, b)                                                                  \
    a[0] = fma(a[0], m, b), a[1] = fma(a[1], m, b), a[2] = fma(a[2], m, b), a[3] = fma(a[3], m, b), \
    a[4] = fma(a[4], m, b), a[5] = fma(a[5], m, b), a[6] = fma(a[6], m, b), a[7] = fma(a[7], m, b), \
    a[8] = fma(a[8], m, b), a[9] = fma(a[9], m, b), a[10] = fma(a[10], m, b), a[11] = fma(a[11], m, b)

__attribute__((target("avx512f"), noinline)) static float zmm_chunk(void)
{
    __m512 a[12], m = _mm512_set1_ps(0.9999f), b = _mm512_set1_ps(1e-4f);
    for (int i = 0; i < 12; i++)
        a[i] = _mm512_set1_ps((float)i);
    for (int k = 0; k < FMA_STEPS; k++)
        FMA12(__m512, _mm512_fmadd_ps, a, m, b);
    for (int i = 1; i < 12; i++)
        a[0] = _mm512_add_ps(a[0], a[i]);
    return _mm512_reduce_add_ps(a[0]);
}

__attribute__((target("avx2,fma"), noinline)) static float ymm_chunk(void)
{
    __m256 a[12], m = _mm256_set1_ps(0.9999f), b = _mm256_set1_ps(1e-4f);
    for (int i = 0; i < 12; i++)
        a[i] = _mm256_set1_ps((float)i);
    for (int k = 0; k < FMA_STEPS; k++)
        FMA12(__m256, _mm256_fmadd_ps, a, m, b);
    for (int i = 1; i < 12; i++)
        a[0] = _mm256_add_ps(a[0], a[i]);
    float out[8];
    _mm256_storeu_ps(out, a[0]);
    return out[0];
}

/* An eighth of the thread's buffer a chunk, in turn: the whole buffer every 8 chunks. */
__attribute__((target("avx2"), noinline)) static float load_chunk(const float *p, size_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    for (size_t i = 0; i < n; i += 16) {
        s0 = _mm256_add_ps(s0, _mm256_load_ps(p + i));
        s1 = _mm256_add_ps(s1, _mm256_load_ps(p + i + 8));
    }
    float out[8];
    _mm256_storeu_ps(out, _mm256_add_ps(s0, s1));
    return out[0];
}

static void *thread_main(void *arg)
{
    int id = (int)(long)arg;
    size_t piece = buf_floats / 8 / 16 * 16;
    volatile float sink = 0;
    for (int i = 0; i < CHUNKS; i++) {
        stamps[id][i][0] = now_ns();
        sink += kind == 0 ? zmm_chunk() : kind == 1 ? ymm_chunk() : load_chunk(bufs[id] + (size_t)(i % 8) * piece, piece);
        stamps[id][i][1] = now_ns();
    }
    (void)sink;
    return NULL;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static void run_kind(const char *name, double work, const char *unit)
{
    pthread_t t[2];
    for (long i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, thread_main, (void *)i);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    static long over[2 * CHUNKS], alone[2 * CHUNKS];
    int no = 0, na = 0;
    for (int id = 0; id < 2; id++) {
        int j = 0;
        for (int i = 0; i < CHUNKS; i++) {
            long a = stamps[id][i][0], b = stamps[id][i][1], shared = 0;
            while (j < CHUNKS && stamps[1 - id][j][1] < a)
                j++;
            for (int k = j; k < CHUNKS && stamps[1 - id][k][0] < b; k++) {
                long s = stamps[1 - id][k][0] > a ? stamps[1 - id][k][0] : a;
                long e = stamps[1 - id][k][1] < b ? stamps[1 - id][k][1] : b;
                shared += e > s ? e - s : 0;
            }
            if (shared > 0.95 * (double)(b - a))
                over[no++] = b - a;
            else if (shared < 0.05 * (double)(b - a))
                alone[na++] = b - a;
        }
    }
    qsort(over, (size_t)no, sizeof *over, cmp_long);
    qsort(alone, (size_t)na, sizeof *alone, cmp_long);
    printf("%-22s overlapped: %5d chunks, median %7.1f us = %6.1f %s   alone: %5d chunks", name, no,
           no ? over[no / 2] / 1e3 : 0, no ? work / (double)over[no / 2] : 0, unit, na);
    if (na)
        printf(", median %7.1f us = %6.1f %s", alone[na / 2] / 1e3, work / (double)alone[na / 2], unit);
    printf("\n");
}

int main(int argc, char **argv)
{
    double mb = argc > 1 ? atof(argv[1]) : 2.35;
    if (!(mb > 0.01 && mb < 4096)) {
        fprintf(stderr, "usage: bench_core_scaling [MB a thread for the loads, default 2.35]\n");
        return 2;
    }
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        printf("skipped: the host has no AVX2 + FMA\n");
        return 0;
    }
    if (__builtin_cpu_supports("avx512f")) {
        kind = 0;
        run_kind("zmm fp32 FMA", 2.0 * 12 * FMA_STEPS * 16, "GFLOP/s");
    }
    kind = 1;
    run_kind("ymm fp32 FMA", 2.0 * 12 * FMA_STEPS * 8, "GFLOP/s");
    buf_floats = (size_t)(mb * 1048576 / sizeof(float)) / 128 * 128;
    for (int i = 0; i < 2; i++) {
        bufs[i] = aligned_alloc(64, buf_floats * sizeof(float));
        if (!bufs[i])
            return 1;
        memset(bufs[i], 0, buf_floats * sizeof(float));
    }
    kind = 2;
    char name[64];
    snprintf(name, sizeof name, "loads, %.2f MB a thread", mb);
    run_kind(name, (double)(buf_floats / 8 / 16 * 16 * sizeof(float)), "GB/s");
    free(bufs[0]);
    free(bufs[1]);
    return 0;
}
#else
int main(void)
{
    printf("skipped: x86-64 only\n");
    return 0;
}
#endif
