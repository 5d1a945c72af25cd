/* cpu_features.c — which code levels of an offline model this host can run: a level names
 * the LLVM features it was compiled with ("+avx2,+fma,..."); the instruction-set features
 * among them are looked up in a table of cpuid bits (with the OS's register-state support
 * for AVX and AVX-512), so no compiler is needed to decide. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "mfo.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

enum { L1_ECX, L1_EDX, L7_EBX, L7_ECX, L7_EDX, L71_EAX, LX1_ECX, NREGS };
enum { NEED_NONE, NEED_AVX_STATE, NEED_AVX512_STATE };

/* The instruction sets our kernels may contain, by LLVM's feature names. */
static const struct feature {
    const char *name;
    int reg, bit, state;
} features[] = {
    {"sse", L1_EDX, 25, 0},          {"sse2", L1_EDX, 26, 0},         {"sse3", L1_ECX, 0, 0},
    {"ssse3", L1_ECX, 9, 0},         {"sse4.1", L1_ECX, 19, 0},       {"sse4.2", L1_ECX, 20, 0},
    {"popcnt", L1_ECX, 23, 0},       {"cx16", L1_ECX, 13, 0},         {"movbe", L1_ECX, 22, 0},
    {"avx", L1_ECX, 28, NEED_AVX_STATE},  {"fma", L1_ECX, 12, NEED_AVX_STATE},
    {"f16c", L1_ECX, 29, NEED_AVX_STATE}, {"avx2", L7_EBX, 5, NEED_AVX_STATE},
    {"bmi", L7_EBX, 3, 0},           {"bmi2", L7_EBX, 8, 0},          {"lzcnt", LX1_ECX, 5, 0},
    {"sahf", LX1_ECX, 0, 0},         {"sse4a", LX1_ECX, 6, 0},        {"fma4", LX1_ECX, 16, NEED_AVX_STATE},
    {"xop", LX1_ECX, 11, NEED_AVX_STATE},
    {"avx512f", L7_EBX, 16, NEED_AVX512_STATE},    {"avx512dq", L7_EBX, 17, NEED_AVX512_STATE},
    {"avx512ifma", L7_EBX, 21, NEED_AVX512_STATE}, {"avx512cd", L7_EBX, 28, NEED_AVX512_STATE},
    {"avx512bw", L7_EBX, 30, NEED_AVX512_STATE},   {"avx512vl", L7_EBX, 31, NEED_AVX512_STATE},
    {"avx512vbmi", L7_ECX, 1, NEED_AVX512_STATE},  {"avx512vbmi2", L7_ECX, 6, NEED_AVX512_STATE},
    {"avx512vnni", L7_ECX, 11, NEED_AVX512_STATE}, {"avx512bitalg", L7_ECX, 12, NEED_AVX512_STATE},
    {"avx512vpopcntdq", L7_ECX, 14, NEED_AVX512_STATE},
    {"avx512fp16", L7_EDX, 23, NEED_AVX512_STATE}, {"avx512bf16", L71_EAX, 5, NEED_AVX512_STATE},
    {"avxvnni", L71_EAX, 4, NEED_AVX_STATE},
    {"gfni", L7_ECX, 8, 0},          {"vaes", L7_ECX, 9, NEED_AVX_STATE},
    {"vpclmulqdq", L7_ECX, 10, NEED_AVX_STATE},
};
#define NFEATURES (int)(sizeof features / sizeof features[0])

static const struct feature *known(const char *name, size_t len)
{
    for (int i = 0; i < NFEATURES; i++)
        if (strlen(features[i].name) == len && !strncmp(features[i].name, name, len))
            return &features[i];
    return NULL;
}

#if defined(__x86_64__)
/* The cpuid registers and the OS's saved-state mask, read once: cpuid traps to the hypervisor
 * in a virtual machine, and a code level lists dozens of features. */
static unsigned host_regs[NREGS], host_xcr0;
static pthread_once_t host_once = PTHREAD_ONCE_INIT;

static void read_host(void)
{
    unsigned a, b, c, d;
    if (__get_cpuid(1, &a, &b, &c, &d))
        host_regs[L1_ECX] = c, host_regs[L1_EDX] = d;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d))
        host_regs[L7_EBX] = b, host_regs[L7_ECX] = c, host_regs[L7_EDX] = d;
    if (__get_cpuid_count(7, 1, &a, &b, &c, &d))
        host_regs[L71_EAX] = a;
    if (__get_cpuid(0x80000001u, &a, &b, &c, &d))
        host_regs[LX1_ECX] = c;
    if (host_regs[L1_ECX] >> 27 & 1) { /* OSXSAVE: the OS saves the vector registers */
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        host_xcr0 = lo;
    }
}

static bool host_has(const struct feature *f)
{
    pthread_once(&host_once, read_host);
    if (!(host_regs[f->reg] >> f->bit & 1))
        return false;
    if (f->state == NEED_NONE)
        return true;
    unsigned want = f->state == NEED_AVX_STATE ? 0x6u : 0xe6u; /* XMM|YMM (+ opmask, ZMM) */
    return (host_xcr0 & want) == want;
}
#else
static bool host_has(const struct feature *f)
{
    return false; /* the code levels are x86-64 machine code */
}
#endif

/* Whether the host (or the list standing for it) has feature f. */
static bool has(const struct feature *f, const char *host_features)
{
    if (!host_features)
        return host_has(f);
    size_t n = strlen(f->name);
    for (const char *p = host_features; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && !strncmp(p, f->name, n))
            return true;
        p += len + (end != NULL);
    }
    return false;
}

mf_status mf_rt_cpu_runs(const char *list, const char *host_features)
{
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const struct feature *f = len > 1 && p[0] == '+' ? known(p + 1, len - 1) : NULL;
        if (f && !has(f, host_features))
            return mf_error(MF_ERR_UNSUPPORTED, "this CPU lacks %s", f->name);
        p += len + (end != NULL);
    }
    return MF_OK;
}

int mf_rt_cpu_rank(const char *list)
{
    int n = 0;
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        n += len > 1 && p[0] == '+' && known(p + 1, len - 1);
        p += len + (end != NULL);
    }
    return n;
}
