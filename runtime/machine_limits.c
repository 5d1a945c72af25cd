/* machine_limits.c — the ceilings the profiler's summary judges kernels against: one core's
 * fp32 FMA peak and its memory bandwidth, measured here and cached in a small text file per
 * machine.  The host's ISA is not assumed: the FMA loop is compiled for AVX-512, AVX2 and
 * plain C with GCC function-level target attributes and chosen at run time with
 * __builtin_cpu_supports, so the same binary calibrates AVX2-only and AVX-512 hosts alike
 * (the method follows ../shared/bench/limits.c: 12 independent accumulator chains, best of
 * several runs; bandwidth is a STREAM triad over arrays much larger than the caches). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "profiler.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define MF_X86 1
#endif

#define CHAINS 12
#define EACH(F) F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9) F(10) F(11)

static volatile float sink;

/* this thread's CPU time, seconds (-1 when the clock fails): a peak sample leaves out time
 * spent descheduled */
static double thread_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
        return -1;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now_s(void)
{
    return (double)mf_rt_prof_now() * 1e-9;
}

#ifdef MF_X86
/* The empty asm keeps each accumulator in a vector register and the chain opaque. */
#define PIN(k) __asm__("" : "+v"(x##k));

__attribute__((target("avx512f"))) static void fma_avx512(long iters)
{
    const __m512 m = _mm512_set1_ps(0.999999f), d = _mm512_set1_ps(1e-6f);
#define DECL(k) __m512 x##k = _mm512_set1_ps((float)k);
#define STEP(k) x##k = _mm512_fmadd_ps(x##k, m, d); PIN(k)
#define SPILL(k) sink += _mm512_reduce_add_ps(x##k);
    EACH(DECL)
    for (long i = 0; i < iters; i++) {
        EACH(STEP)
    }
    EACH(SPILL)
#undef DECL
#undef STEP
#undef SPILL
}

/* A multiply and an add a step on GCC vectors of V (the ISAs without FMA): CHAINS chains of
 * iters steps, their first and last lanes summed into sink. */
#define MULADD_DECL(k) V x##k = m * (float)k;
#define MULADD_STEP(k) x##k = x##k * m + d; PIN(k)
#define MULADD_SPILL(k) sink += x##k[0] + x##k[sizeof x##k / sizeof x##k[0] - 1];
#define MULADD_LOOP                                                                                \
    const V m = (V){0} + 0.999999f, d = (V){0} + 1e-6f;                                           \
    EACH(MULADD_DECL)                                                                              \
    for (long i = 0; i < iters; i++) {                                                             \
        EACH(MULADD_STEP)                                                                          \
    }                                                                                              \
    EACH(MULADD_SPILL)

/* x86-64-v2's SSE has no FMA: 4 lanes (what --cpu x86-64-v2 code gets). */
__attribute__((target("sse4.2"))) static void muladd_sse(long iters)
{
    typedef __attribute__((vector_size(16))) float V;
    MULADD_LOOP
}

/* AVX without FMA (Sandy Bridge, Ivy Bridge): 8 lanes, the peak of that host's 8-lane code (on
 * a host with FMA, code of such a target is judged against the FMA peak of its lanes: it
 * reaches half of it at most). */
__attribute__((target("avx"))) static void muladd_avx(long iters)
{
    typedef __attribute__((vector_size(32))) float V;
    MULADD_LOOP
}

/* AVX2 hosts' FMA loop, which needs AVX and FMA alone (Piledriver has them without AVX2). */
__attribute__((target("avx,fma"))) static void fma_avx(long iters)
{
    const __m256 m = _mm256_set1_ps(0.999999f), d = _mm256_set1_ps(1e-6f);
#define DECL(k) __m256 x##k = _mm256_set1_ps((float)k);
#define STEP(k) x##k = _mm256_fmadd_ps(x##k, m, d); PIN(k)
#define SPILL(k) { float t[8]; _mm256_storeu_ps(t, x##k); sink += t[0] + t[7]; }
    EACH(DECL)
    for (long i = 0; i < iters; i++) {
        EACH(STEP)
    }
    EACH(SPILL)
#undef DECL
#undef STEP
#undef SPILL
}
#endif

/* The scalar path (1 lane): a multiply and an add, or one FMA where the host has it
 * (fmaf compiled for "fma" is one instruction; without it fmaf is a slow libm call). */
static void muladd_scalar(long iters)
{
    const float m = 0.999999f, d = 1e-6f;
#define DECL(k) volatile float v##k = (float)k; float x##k = v##k;
#define STEP(k) x##k = x##k * m + d;
#define SPILL(k) sink += x##k;
    EACH(DECL)
    for (long i = 0; i < iters; i++) {
        EACH(STEP)
    }
    EACH(SPILL)
#undef DECL
#undef STEP
#undef SPILL
}

#ifdef MF_X86
__attribute__((target("fma"))) static void fma_scalar(long iters)
{
    const float m = 0.999999f, d = 1e-6f;
#define DECL(k) float x##k = (float)k;
#define STEP(k) x##k = fmaf(x##k, m, d); PIN(k)
#define SPILL(k) sink += x##k;
    EACH(DECL)
    for (long i = 0; i < iters; i++) {
        EACH(STEP)
    }
    EACH(SPILL)
#undef DECL
#undef STEP
#undef SPILL
}
#endif

typedef struct isa {
    const char *name;
    void (*loop)(long iters);
    int lanes;
} isa;

/* The vector ISAs the host runs, widest first (*n of them, at most 4): each is the peak of
 * code compiled for a target of that many lanes (16 AVX-512, 8 AVX2 or AVX with or without
 * FMA, 4 SSE, 1 scalar). */
static int host_isas(isa *out)
{
    int n = 0;
#ifdef MF_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        out[n++] = (isa){"avx512f", fma_avx512, 16};
    if (__builtin_cpu_supports("avx") && __builtin_cpu_supports("fma"))
        out[n++] = (isa){__builtin_cpu_supports("avx2") ? "avx2+fma" : "avx+fma", fma_avx, 8};
    else if (__builtin_cpu_supports("avx"))
        out[n++] = (isa){"avx", muladd_avx, 8};
    if (__builtin_cpu_supports("sse4.2"))
        out[n++] = (isa){"sse4.2", muladd_sse, 4};
    if (__builtin_cpu_supports("fma")) {
        out[n++] = (isa){"scalar", fma_scalar, 1};
        return n;
    }
#endif
    out[n++] = (isa){"scalar", muladd_scalar, 1};
    return n;
}

static double measure_peak(const isa *v)
{
    /* Many short runs (about 0.5 ms each at peak), best taken: on a shared machine some run
     * finds the core to itself, where one long run would be cut by the scheduler. */
    long iters = v->lanes > 1 ? 250000 : 50000;
    double best = 1e30;
    v->loop(iters * 4); /* wake the core up to its clock */
    for (int r = 0; r < 60; r++) {
        double t0 = now_s();
        v->loop(iters);
        double dt = now_s() - t0;
        best = dt < best ? dt : best;
    }
    return (double)iters * CHAINS * v->lanes * 2 / best / 1e9;
}

/* The host's ISA of that many lanes in *out; false when the host has none. */
static bool isa_of_lanes(int lanes, isa *out)
{
    isa levels[4];
    int n = host_isas(levels);
    for (int i = 0; i < n; i++)
        if (levels[i].lanes == lanes) {
            *out = levels[i];
            return true;
        }
    return false;
}

double mf_rt_limits_peak_now(int lanes)
{
    isa v;
    return isa_of_lanes(lanes, &v) ? measure_peak(&v) : 0;
}

double mf_rt_limits_peak_sample(int lanes, double seconds)
{
    isa level;
    double t0 = thread_s(), t = t0;
    if (!isa_of_lanes(lanes, &level) || t0 < 0 || !(seconds > 0) || seconds > 60)
        return 0;
    const isa *v = &level;
    /* chunks of some tens of microseconds, until the thread has run for the time asked */
    long chunk = v->lanes > 1 ? 20000 : 4000, done = 0;
    do {
        v->loop(chunk);
        done += chunk;
        t = thread_s();
    } while (t >= 0 && t - t0 < seconds);
    return t > t0 ? (double)done * CHAINS * v->lanes * 2 / (t - t0) / 1e9 : 0;
}

/* STREAM triad a[i] = b[i] + s c[i] over 3 x 32 MB: 12 bytes a element, best of 5. */
static mf_status measure_bandwidth(double *gbs)
{
    size_t n = (size_t)8 << 20;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return mf_error(MF_ERR_NOMEM, "machine limits: out of memory for the bandwidth arrays");
    }
    for (size_t i = 0; i < n; i++)
        a[i] = 0, b[i] = 1, c[i] = 2;
    double best = 1e30;
    for (int r = 0; r < 8; r++) {
        double t0 = now_s();
        for (size_t i = 0; i < n; i++)
            a[i] = b[i] + 3.0f * c[i];
        double dt = now_s() - t0;
        if (r)
            best = dt < best ? dt : best;
        sink += a[r];
    }
    *gbs = 12.0 * (double)n / best / 1e9;
    free(a), free(b), free(c);
    return MF_OK;
}

/* The model name from /proc/cpuinfo, else "unknown CPU". */
static void cpu_name(char *buf, size_t cap)
{
    snprintf(buf, cap, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!strncmp(line, "model name", 10) && colon) {
            colon += 1 + (colon[1] == ' ');
            colon[strcspn(colon, "\n")] = 0;
            snprintf(buf, cap, "%s", colon);
            break;
        }
    }
    if (f)
        fclose(f);
}

/* ---- the cache file: "name=value" lines ----------------------------------------------- */

static bool read_cached(const char *path, mf_machine_limits *l)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return false;
    char line[512], cpu[128] = "", isa_name[32] = "";
    double peak = 0, bw = 0, by_lanes[17] = {0};
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        int lanes;
        if (!strncmp(line, "cpu=", 4))
            snprintf(cpu, sizeof cpu, "%s", line + 4);
        else if (!strncmp(line, "isa=", 4))
            snprintf(isa_name, sizeof isa_name, "%s", line + 4);
        else if (!strncmp(line, "peak_gflops=", 12))
            peak = strtod(line + 12, NULL);
        else if (!strncmp(line, "bandwidth_gbs=", 14))
            bw = strtod(line + 14, NULL);
        else if (sscanf(line, "peak_gflops_%d_lanes=", &lanes) == 1 && lanes >= 1 && lanes <= 16)
            by_lanes[lanes] = strtod(strchr(line, '=') + 1, NULL);
    }
    fclose(f);
    if (strcmp(cpu, l->cpu) || strcmp(isa_name, l->isa) || !(peak > 0) || !(bw > 0))
        return false; /* another machine's, or damaged: measure again */
    for (int i = 0; i <= 16; i++)
        if ((l->peak_by_lanes[i] > 0) != (by_lanes[i] > 0))
            return false; /* an older file, without every ISA this host runs */
    l->peak_gflops = peak;
    l->bandwidth_gbs = bw;
    memcpy(l->peak_by_lanes, by_lanes, sizeof by_lanes);
    l->from_cache = 1;
    return true;
}

/* Written to a temporary file and renamed into place, as cache entries are. */
static void write_cached(const char *path, const mf_machine_limits *l)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)mf_rt_prof_now());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f, "# mlufuse machine limits: one core's fp32 FMA peak and STREAM-triad bandwidth\n"
               "cpu=%s\nisa=%s\npeak_gflops=%.2f\nbandwidth_gbs=%.2f\nmeasured=%ld\n",
            l->cpu, l->isa, l->peak_gflops, l->bandwidth_gbs, (long)time(NULL));
    for (int lanes = 16; lanes >= 1; lanes--)
        if (l->peak_by_lanes[lanes] > 0)
            fprintf(f, "peak_gflops_%d_lanes=%.2f\n", lanes, l->peak_by_lanes[lanes]);
    if (fclose(f) || rename(tmp, path))
        remove(tmp);
}

mf_status mf_rt_limits_get(const char *path, mf_machine_limits *out)
{
    memset(out, 0, sizeof *out);
    cpu_name(out->cpu, sizeof out->cpu);
    isa levels[4];
    int n = host_isas(levels);
    snprintf(out->isa, sizeof out->isa, "%s", levels[0].name);
    for (int i = 0; i < n; i++)
        out->peak_by_lanes[levels[i].lanes] = 1; /* which to expect in the cache file */
    if (read_cached(path, out))
        return MF_OK;
    for (int i = 0; i < n; i++)
        out->peak_by_lanes[levels[i].lanes] = measure_peak(&levels[i]);
    out->peak_gflops = out->peak_by_lanes[levels[0].lanes];
    mf_status s = measure_bandwidth(&out->bandwidth_gbs);
    if (!s && path)
        write_cached(path, out);
    return s;
}
