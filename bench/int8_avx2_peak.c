/* int8_avx2_peak.c — one core's peaks of the AVX2 instructions the int8 kernels for targets
 * without VNNI rest on (docs/benchmarks.md): vpmaddwd + vpaddd (int16 pairs into int32, what
 * qconv2d's int16 path issues), vpmaddubsw (u8 x s8 pairs into int16, saturating: not used)
 * and the ymm fp32 FMA the f32 kernels use, in GOP/s (a multiply and an add per product).
 * 10 independent chains (all in registers) hide the latencies (a product and its add: 4-5
 * cycles); CPU time of this thread, best of 5.  Runs only where the host has AVX2 and FMA. */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

#define CHAINS 10
#define ITERS 20000000L

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#define KERNEL(name, type, set1, body)                      \
    __attribute__((target("avx2,fma"), noinline)) static int name(long n, int x) \
    {                                                             \
        type a = set1(x), b = set1(x + 2), acc[CHAINS];           \
        _Pragma("GCC unroll 10") for (int i = 0; i < CHAINS; i++) \
            acc[i] = set1(x + i); /* distinct chains: none merge */                                        \
        for (long k = 0; k < n; k++) {                            \
            _Pragma("GCC unroll 10") for (int i = 0; i < CHAINS; i++) \
                acc[i] = body;                                    \
            __asm__ volatile("" : "+x"(a));                       \
        }                                                         \
        int s = 0;                                                \
        for (int i = 0; i < CHAINS; i++)                          \
            s ^= (int)acc[i][0];                                  \
        return s;                                                 \
    }

/* each product reads its chain's accumulator, so no product is common to two chains */
KERNEL(madd_wd, __m256i, _mm256_set1_epi16, _mm256_add_epi32(acc[i], _mm256_madd_epi16(acc[i], b)))
KERNEL(madd_ubs, __m256i, _mm256_set1_epi16, _mm256_add_epi16(acc[i], _mm256_maddubs_epi16(acc[i], b)))
KERNEL(fma_ps, __m256, _mm256_set1_ps, _mm256_fmadd_ps(a, b, acc[i]))

static void report(const char *what, int (*f)(long, int), double ops_per_call_iter)
{
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        double t0 = now();
        volatile int sink = f(ITERS, 3);
        (void)sink;
        double t = now() - t0;
        best = t < best ? t : best;
    }
    printf("%-28s %7.1f GOP/s\n", what, ops_per_call_iter * CHAINS * (double)ITERS / best * 1e-9);
}

int main(void)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        printf("this host has no AVX2 + FMA: nothing to measure\n");
        return 0;
    }
    report("vpmaddwd+vpaddd ymm (int16)", madd_wd, 16 * 2.0);
    report("vpmaddubsw+vpaddw ymm (int8)", madd_ubs, 32 * 2.0);
    report("vfmadd ymm (fp32)", fma_ps, 8 * 2.0);
    return 0;
}
