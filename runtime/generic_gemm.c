/* generic_gemm.c — tier 0's f32 GEMM: the Goto/BLIS loop nest (B blocks of KC x NC packed
 * into NR-wide panels, A blocks of MC x KC into MR-tall panels) around an MR x NR
 * register-blocked micro-kernel.  One micro-kernel per ISA (AVX-512, AVX2+FMA, plain C),
 * each compiled with its own target attribute and chosen once from cpuid, so the library
 * is built for baseline x86-64 and still runs near the host's peak with no JIT. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "generic.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define MF_GEN_X86 1
#endif

enum { KC = 256, MC = 120, NC = 2048, MAX_MR = 8, MAX_NR = 32 };

/* c[MR x NR] (row stride ldc) = or += the product of one packed A panel and one B panel. */
typedef void (*micro_kernel)(int64_t kc, const float *pa, const float *pb, float *c, int64_t ldc,
                             bool accumulate);

typedef struct gemm_isa {
    const char *name;
    int mr, nr;
    micro_kernel kernel;
} gemm_isa;

#ifdef MF_GEN_X86
__attribute__((target("avx512f"))) static void kernel_avx512(int64_t kc, const float *pa,
                                                             const float *pb, float *c,
                                                             int64_t ldc, bool accumulate)
{
    __m512 c0[8], c1[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        c0[i] = c1[i] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kc; k++, pa += 8, pb += 32) {
        __m512 b0 = _mm512_loadu_ps(pb), b1 = _mm512_loadu_ps(pb + 16);
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) {
            __m512 a = _mm512_set1_ps(pa[i]);
            c0[i] = _mm512_fmadd_ps(a, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(a, b1, c1[i]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        float *row = c + i * ldc;
        if (accumulate) {
            c0[i] = _mm512_add_ps(c0[i], _mm512_loadu_ps(row));
            c1[i] = _mm512_add_ps(c1[i], _mm512_loadu_ps(row + 16));
        }
        _mm512_storeu_ps(row, c0[i]);
        _mm512_storeu_ps(row + 16, c1[i]);
    }
}

__attribute__((target("avx2,fma"))) static void kernel_avx2(int64_t kc, const float *pa,
                                                            const float *pb, float *c,
                                                            int64_t ldc, bool accumulate)
{
    __m256 c0[6], c1[6];
#pragma GCC unroll 6
    for (int i = 0; i < 6; i++)
        c0[i] = c1[i] = _mm256_setzero_ps();
    for (int64_t k = 0; k < kc; k++, pa += 6, pb += 16) {
        __m256 b0 = _mm256_loadu_ps(pb), b1 = _mm256_loadu_ps(pb + 8);
#pragma GCC unroll 6
        for (int i = 0; i < 6; i++) {
            __m256 a = _mm256_broadcast_ss(pa + i);
            c0[i] = _mm256_fmadd_ps(a, b0, c0[i]);
            c1[i] = _mm256_fmadd_ps(a, b1, c1[i]);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < 6; i++) {
        float *row = c + i * ldc;
        if (accumulate) {
            c0[i] = _mm256_add_ps(c0[i], _mm256_loadu_ps(row));
            c1[i] = _mm256_add_ps(c1[i], _mm256_loadu_ps(row + 8));
        }
        _mm256_storeu_ps(row, c0[i]);
        _mm256_storeu_ps(row + 8, c1[i]);
    }
}
#endif

/* Any CPU: a 4 x 8 tile the compiler keeps in registers and vectorizes for the baseline. */
static void kernel_plain(int64_t kc, const float *pa, const float *pb, float *c, int64_t ldc,
                         bool accumulate)
{
    float t[4][8] = {{0}};
    for (int64_t k = 0; k < kc; k++, pa += 4, pb += 8)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 8; j++)
                t[i][j] += pa[i] * pb[j];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++)
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + t[i][j] : t[i][j];
}

/* Every micro-kernel, best first; host_runs says whether this CPU (and its OS) runs it. */
static bool host_runs(const char *name)
{
#ifdef MF_GEN_X86
    __builtin_cpu_init();
    if (!strcmp(name, "avx512f"))
        return __builtin_cpu_supports("avx512f");
    if (!strcmp(name, "avx2"))
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return !strcmp(name, "generic");
}

static const gemm_isa isas[] = {
#ifdef MF_GEN_X86
    {"avx512f", 8, 32, kernel_avx512},
    {"avx2", 6, 16, kernel_avx2},
#endif
    {"generic", 4, 8, kernel_plain},
};

static _Atomic(const gemm_isa *) chosen; /* NULL until first use */

static const gemm_isa *isa(void)
{
    const gemm_isa *g = atomic_load(&chosen);
    for (size_t i = 0; !g && i < sizeof isas / sizeof isas[0]; i++)
        if (host_runs(isas[i].name))
            g = &isas[i]; /* every thread finds the same one: a benign race */
    atomic_store(&chosen, g);
    return g;
}

bool mf_gen_sgemm_use_isa(const char *name)
{
    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++)
        if (name && !strcmp(isas[i].name, name) && host_runs(name)) {
            atomic_store(&chosen, &isas[i]);
            return true;
        }
    if (!name)
        atomic_store(&chosen, NULL);
    return false;
}

const char *mf_gen_sgemm_isa(void)
{
    return isa()->name;
}

/* A block of rows [0, mc) x depth [0, kc) into MR-tall panels, zero-padded at the edge. */
static void pack_a(int mr, int64_t mc, int64_t kc, const float *a, int64_t rsa, int64_t csa,
                   float *dst)
{
    for (int64_t i0 = 0; i0 < mc; i0 += mr)
        for (int64_t k = 0; k < kc; k++)
            for (int i = 0; i < mr; i++, dst++)
                *dst = i0 + i < mc ? a[(i0 + i) * rsa + k * csa] : 0.0f;
}

/* A block of depth [0, kc) x columns [0, nc) into NR-wide panels, zero-padded. */
static void pack_b(int nr, int64_t kc, int64_t nc, const float *b, int64_t rsb, int64_t csb,
                   float *dst)
{
    for (int64_t j0 = 0; j0 < nc; j0 += nr) {
        int64_t w = nc - j0 < nr ? nc - j0 : nr;
        for (int64_t k = 0; k < kc; k++, dst += nr) {
            const float *src = b + k * rsb + j0 * csb;
            if (csb == 1) {
                memcpy(dst, src, sizeof(float) * (size_t)w);
            } else {
                for (int64_t j = 0; j < w; j++)
                    dst[j] = src[j * csb];
            }
            for (int64_t j = w; j < nr; j++)
                dst[j] = 0.0f;
        }
    }
}

/* The micro-kernels over one packed A block and B block; edge tiles go through a
 * scratch tile so the kernels only ever see full MR x NR tiles. */
static void macro_kernel(const gemm_isa *g, int64_t mc, int64_t nc, int64_t kc, const float *pa,
                         const float *pb, float *c, int64_t ldc, bool accumulate)
{
    float tile[MAX_MR * MAX_NR];
    for (int64_t j0 = 0; j0 < nc; j0 += g->nr) {
        int64_t w = nc - j0 < g->nr ? nc - j0 : g->nr;
        for (int64_t i0 = 0; i0 < mc; i0 += g->mr) {
            int64_t h = mc - i0 < g->mr ? mc - i0 : g->mr;
            const float *a = pa + i0 * kc, *b = pb + j0 * kc;
            float *ct = c + i0 * ldc + j0;
            if (h == g->mr && w == g->nr) {
                g->kernel(kc, a, b, ct, ldc, accumulate);
                continue;
            }
            g->kernel(kc, a, b, tile, g->nr, false);
            for (int64_t i = 0; i < h; i++)
                for (int64_t j = 0; j < w; j++)
                    ct[i * ldc + j] = accumulate ? ct[i * ldc + j] + tile[i * g->nr + j]
                                                 : tile[i * g->nr + j];
        }
    }
}

mf_status mf_gen_sgemm(int64_t m, int64_t n, int64_t k, const float *a, int64_t rsa, int64_t csa,
                  const float *b, int64_t rsb, int64_t csb, float *c, int64_t ldc)
{
    const gemm_isa *g = isa();
    if (k == 0) {
        for (int64_t i = 0; i < m; i++)
            memset(c + i * ldc, 0, sizeof(float) * (size_t)n);
        return MF_OK;
    }
    /* Buffers for the largest blocks, taken once per call (64-byte aligned for the loads). */
    float *pa_buf = aligned_alloc(64, sizeof(float) * MC * KC);
    float *pb_buf = aligned_alloc(64, sizeof(float) * (NC + MAX_NR) * KC);
    if (!pa_buf || !pb_buf) {
        free(pa_buf);
        free(pb_buf);
        return mf_error(MF_ERR_NOMEM, "gemm %lldx%lldx%lld: out of memory for packed blocks",
                        (long long)m, (long long)n, (long long)k);
    }
    for (int64_t jc = 0; jc < n; jc += NC) {
        int64_t nc = n - jc < NC ? n - jc : NC;
        for (int64_t pc = 0; pc < k; pc += KC) {
            int64_t kc = k - pc < KC ? k - pc : KC;
            pack_b(g->nr, kc, nc, b + pc * rsb + jc * csb, rsb, csb, pb_buf);
            for (int64_t ic = 0; ic < m; ic += MC) {
                int64_t mc = m - ic < MC ? m - ic : MC;
                pack_a(g->mr, mc, kc, a + ic * rsa + pc * csa, rsa, csa, pa_buf);
                macro_kernel(g, mc, nc, kc, pa_buf, pb_buf, c + ic * ldc + jc, ldc, pc > 0);
            }
        }
    }
    free(pa_buf);
    free(pb_buf);
    return MF_OK;
}
