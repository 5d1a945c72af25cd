/* target.c — which machine the MLU's code is generated for: LLVM's native target is
 * initialized once, and a target is described by triple, CPU name and feature string (the
 * seed's core_version), the inputs of every cache key, and by the shape derived from them
 * (vector lanes, registers, FMA, caches) that every lowering cuts its kernels to. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Core.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>

#include "cg_internal.h"
#include "cpu_names.h"

static pthread_once_t native_once = PTHREAD_ONCE_INIT;
static int native_failed;

static void init_native(void)
{
    native_failed = LLVMInitializeNativeTarget() || LLVMInitializeNativeAsmPrinter();
}

static const char *const cpu_names[] = {MF_CG_CPU_NAMES};

/* LLVM takes an unknown CPU name with a warning and makes generic code: refuse it instead,
 * listing the names it knows. */
static mf_status check_cpu_name(const char *cpu)
{
    for (int i = 0; cpu_names[i]; i++)
        if (!strcmp(cpu, cpu_names[i]))
            return MF_OK;
    char list[4096];
    size_t n = 0;
    for (int i = 0; cpu_names[i] && n < sizeof list; i++)
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? " " : "", cpu_names[i]);
    return mf_error(MF_ERR_INVALID, "'%s' is not a CPU LLVM knows; valid names: %s", cpu, list);
}

/* A second probe function: acc + even * even + odd * odd of int16 pairs, on 8 x i32 lanes,
 * which LLVM compiles to vpdpwssd where the target has VNNI (AVX-512 VNNI or AVX-VNNI) and
 * to vpmaddwd + vpaddd elsewhere: the assembly names the target's 8-bit dot product too. */
static void add_dot_probe(LLVMContextRef C, LLVMModuleRef M, LLVMBuilderRef B)
{
    LLVMTypeRef i16 = LLVMInt16TypeInContext(C), i32 = LLVMInt32TypeInContext(C), ptr = LLVMPointerTypeInContext(C, 0);
    LLVMTypeRef v16 = LLVMVectorType(i16, 16), v8 = LLVMVectorType(i32, 8);
    LLVMValueRef f = LLVMAddFunction(M, "mf_probe_dot", LLVMFunctionType(LLVMVoidTypeInContext(C), &ptr, 1, 0));
    LLVMPositionBuilderAtEnd(B, LLVMAppendBasicBlockInContext(C, f, "entry"));
    LLVMValueRef p = LLVMGetParam(f, 0), half[2][2];
    for (int i = 0; i < 2; i++) {
        LLVMValueRef off = LLVMConstInt(LLVMInt64TypeInContext(C), (unsigned long long)i * 16, 0);
        LLVMValueRef x = LLVMBuildLoad2(B, v16, LLVMBuildGEP2(B, i16, p, &off, 1, ""), "");
        for (int odd = 0; odd < 2; odd++) {
            LLVMValueRef idx[8];
            for (int l = 0; l < 8; l++)
                idx[l] = LLVMConstInt(i32, (unsigned long long)(2 * l + odd), 0);
            LLVMValueRef sh = LLVMBuildShuffleVector(B, x, LLVMGetPoison(v16), LLVMConstVector(idx, 8), "");
            half[i][odd] = LLVMBuildSExt(B, sh, v8, "");
        }
    }
    LLVMValueRef even = LLVMBuildMul(B, half[0][0], half[1][0], ""), odd = LLVMBuildMul(B, half[0][1], half[1][1], "");
    LLVMValueRef acc = LLVMBuildLoad2(B, v8, p, "");
    LLVMBuildStore(B, LLVMBuildAdd(B, acc, LLVMBuildAdd(B, even, odd, ""), ""), p);
    LLVMBuildRetVoid(B);
}

/* A third: a <32 x i16> add with 512-bit vectors allowed, one vpaddw on zmm where the target
 * has AVX-512BW (512-bit byte and word vectors) and two on ymm where it does not. */
static void add_bw_probe(LLVMContextRef C, LLVMModuleRef M, LLVMBuilderRef B, LLVMValueRef like)
{
    LLVMTypeRef ptr = LLVMPointerTypeInContext(C, 0), v32 = LLVMVectorType(LLVMInt16TypeInContext(C), 32);
    LLVMValueRef f = LLVMAddFunction(M, "mf_probe_bw", LLVMFunctionType(LLVMVoidTypeInContext(C), &ptr, 1, 0));
    for (int i = 0; i < 2; i++) { /* the fma probe's vector width attributes */
        const char *k = i ? "min-legal-vector-width" : "prefer-vector-width";
        LLVMAttributeRef a = LLVMGetStringAttributeAtIndex(like, LLVMAttributeFunctionIndex, k, (unsigned)strlen(k));
        LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex, a);
    }
    LLVMPositionBuilderAtEnd(B, LLVMAppendBasicBlockInContext(C, f, "entry"));
    LLVMValueRef x = LLVMBuildLoad2(B, v32, LLVMGetParam(f, 0), "");
    LLVMBuildStore(B, LLVMBuildAdd(B, x, x, ""), LLVMGetParam(f, 0));
    LLVMBuildRetVoid(B);
}

/* Whether a line of the assembly text has both words. */
static bool line_has(const char *text, const char *a, const char *b)
{
    for (const char *p = strstr(text, a); p; p = strstr(p + 1, a)) {
        const char *end = strchr(p, '\n');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *q = strstr(p, b);
        if (q && (size_t)(q - p) < n)
            return true;
    }
    return false;
}

/* CPUs whose 256-bit FMAs take both 128-bit pipes: one a cycle at 8 lanes. */
static const char *const one_ymm_fma[] = {"znver1", "bdver1", "bdver2", "bdver3", "bdver4", "btver2", NULL};

/* CPUs whose cores issue two 512-bit FMAs a cycle (LLVM names): Intel's Xeon cores from
 * Skylake-SP on.  Client cores with AVX-512 (Ice Lake, Tiger Lake, Rocket Lake) fuse ports
 * 0 and 1 into one; Zen 4 splits each into two 256-bit halves. */
static const char *const two_zmm_fma[] = {"skylake-avx512", "cascadelake", "cooperlake", "icelake-server",
                                          "sapphirerapids", "emeraldrapids", "graniterapids", "graniterapids-d",
                                          "diamondrapids", NULL};

/* The FMA ports of a shape's lanes, the one place the notion is derived: what the name
 * says, or AMX in the features (every AMX core is a Sapphire Rapids or later server core;
 * a VM may report its model as one LLVM names a client core, as a Xeon host here did,
 * "rocketlake" with AMX).  8 and 4 lanes: the two 256-bit FMA ports of every x86-64 FMA
 * core since Haswell but Zen 1.  It sizes the 1x1 GEMM tile (codegen/lower_conv_gemm.c);
 * a wrong guess costs speed, never correctness. */
int mf_cg_fma_ports(const char *cpu, const char *features, const mf_cg_target_shape *sh)
{
    if (!sh->fma)
        return 0;
    if (sh->lanes < 16) {
        for (int i = 0; sh->lanes == 8 && one_ymm_fma[i]; i++)
            if (!strcmp(cpu, one_ymm_fma[i]))
                return 1;
        return sh->lanes >= 4 ? 2 : 1;
    }
    for (int i = 0; two_zmm_fma[i]; i++)
        if (!strcmp(cpu, two_zmm_fma[i]))
            return 2;
    return strstr(features, "+amx-tile") ? 2 : 1;
}

/* Does the feature list `has` ("+avx2,-avx512f,..." as LLVM gives the host's, or "avx,avx2")
 * name feature f as present? */
static bool has_feature(const char *has, const char *f, size_t len)
{
    for (const char *p = has; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (*p == '+')
            p++, n--;
        if (n == len && !strncmp(p, f, len))
            return true;
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}

bool mf_cg_uses_run_on(const char *uses, const char *has, char *why, size_t why_cap)
{
    bool runs = true;
    size_t n = 0;
    if (why_cap)
        why[0] = 0;
    for (const char *p = uses; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len && !has_feature(has, p, len)) {
            runs = false;
            if (n < why_cap)
                n += (size_t)snprintf(why + n, why_cap - n, "%s%.*s", n ? ", " : "", (int)len, p);
        }
        if (!end)
            break;
        p = end + 1;
    }
    return runs;
}

bool mf_cg_target_runs_here(const mf_cg_target *t, char *why, size_t why_cap)
{
    mf_cg_target host;
    char lacks[128];
    if (mf_cg_target_init(NULL, &host) ||
        mf_cg_uses_run_on(t->shape.uses, host.features, lacks, sizeof lacks))
        return true; /* no host target: nothing compiles or runs anyway */
    if (why_cap)
        snprintf(why, why_cap,
                 "code for CPU '%s' cannot run on this host ('%s' lacks %s): name a CPU this "
                 "host runs",
                 t->cpu, host.cpu, lacks);
    return false;
}

/* A fourth probe, of instructions the kernels may use beyond the width: a <16 x half> widened
 * to float (F16C's vcvtph2ps, AVX512-FP16's vcvtph2psx, or libm calls) and a <64 x i8>
 * reversed (AVX512-VBMI's vpermb, else byte shuffles). */
static void add_use_probe(LLVMContextRef C, LLVMModuleRef M, LLVMBuilderRef B, LLVMValueRef like)
{
    LLVMTypeRef ptr = LLVMPointerTypeInContext(C, 0), i32 = LLVMInt32TypeInContext(C);
    LLVMTypeRef vh = LLVMVectorType(LLVMHalfTypeInContext(C), 16),
                vb = LLVMVectorType(LLVMInt8TypeInContext(C), 64);
    LLVMValueRef f =
        LLVMAddFunction(M, "mf_probe_use", LLVMFunctionType(LLVMVoidTypeInContext(C), &ptr, 1, 0));
    for (int i = 0; i < 2; i++) { /* the fma probe's vector width attributes */
        const char *k = i ? "min-legal-vector-width" : "prefer-vector-width";
        LLVMAttributeRef a =
            LLVMGetStringAttributeAtIndex(like, LLVMAttributeFunctionIndex, k, (unsigned)strlen(k));
        LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex, a);
    }
    LLVMPositionBuilderAtEnd(B, LLVMAppendBasicBlockInContext(C, f, "entry"));
    LLVMValueRef p = LLVMGetParam(f, 0);
    LLVMValueRef h = LLVMBuildLoad2(B, vh, p, "");
    LLVMBuildStore(B, LLVMBuildFPExt(B, h, LLVMVectorType(LLVMFloatTypeInContext(C), 16), ""), p);
    LLVMValueRef rev[64];
    for (int l = 0; l < 64; l++)
        rev[l] = LLVMConstInt(i32, (unsigned long long)(63 - l), 0);
    LLVMValueRef b = LLVMBuildLoad2(B, vb, p, "");
    LLVMBuildStore(B, LLVMBuildShuffleVector(B, b, LLVMGetPoison(vb), LLVMConstVector(rev, 64), ""),
                   p);
    LLVMBuildRetVoid(B);
}

/* The LLVM features a target's code uses, as its probes show them (shape.uses). */
static void list_uses(const mf_cg_target_shape *sh, const char *text, const char *use_text,
                      char *out, size_t cap)
{
    bool fma3 = strstr(text, "vfmadd132") || strstr(text, "vfmadd213") || strstr(text, "vfmadd231");
    bool vex_vnni = line_has(text, "{vex}", "vpdpwssd");
    const struct {
        bool used;
        const char *name;
    } use[] = {
        {sh->lanes >= 8, "avx"},
        {sh->ubsw || sh->lanes == 16 || (sh->vnni && sh->lanes >= 8),
         "avx2"}, /* 256-bit integers */
        {sh->lanes == 16, "avx512f"},
        {fma3, "fma"},
        {strstr(text, "vfmaddps") != NULL, "fma4"}, /* FMA4's mnemonics have no 132/213/231 */
        {sh->bw, "avx512bw"},
        {sh->vnni && (sh->lanes == 16 || !vex_vnni), "avx512vnni"}, /* EVEX, 512-bit at 16 lanes */
        {sh->vnni && vex_vnni, "avxvnni"},                          /* VEX: Alder Lake, SPR */
        {strstr(use_text, "vcvtph2ps") != NULL, "f16c"}, /* every AVX512-FP16 core has F16C */
        {strstr(use_text, "vcvtph2psx") != NULL, "avx512fp16"},
        {strstr(use_text, "vpermb") != NULL, "avx512vbmi"},
    };
    size_t n = 0;
    out[0] = 0;
    for (size_t i = 0; i < sizeof use / sizeof use[0]; i++)
        if (use[i].used && n < cap)
            n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? "," : "", use[i].name);
}

/* Reads the shape off the assembly of a <16 x float> multiply-add and fma compiled for tm
 * with 512-bit vectors allowed: the registers the backend splits them into give the width
 * (zmm, ymm, xmm, none), vfmadd says FMA exists, and vpdpwssd in the dot probe says VNNI does (its
 * vpmaddwd on ymm, without VNNI, says 256-bit integer vectors: AVX2's vpmaddubsw; vpaddw on
 * zmm says AVX-512BW).
 * Asking the backend, not a table of CPU names, keeps this right for every CPU LLVM knows
 * and for explicit feature strings. */
static mf_status probe_shape(LLVMTargetMachineRef tm, const char *triple, mf_cg_target_shape *sh)
{
    LLVMContextRef C = LLVMContextCreate();
    LLVMModuleRef M = LLVMModuleCreateWithNameInContext("mf_probe", C);
    LLVMSetTarget(M, triple);
    LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(tm);
    LLVMSetModuleDataLayout(M, dl);
    LLVMDisposeTargetData(dl);
    LLVMTypeRef vt = LLVMVectorType(LLVMFloatTypeInContext(C), 16), ptr = LLVMPointerTypeInContext(C, 0);
    LLVMValueRef f = LLVMAddFunction(M, "mf_probe", LLVMFunctionType(LLVMVoidTypeInContext(C), &ptr, 1, 0));
    static const char *const attrs[2] = {"prefer-vector-width", "min-legal-vector-width"};
    for (int i = 0; i < 2; i++)
        LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex,
                                LLVMCreateStringAttribute(C, attrs[i], (unsigned)strlen(attrs[i]), "512", 3));
    LLVMBuilderRef B = LLVMCreateBuilderInContext(C);
    LLVMPositionBuilderAtEnd(B, LLVMAppendBasicBlockInContext(C, f, "entry"));
    LLVMValueRef x = LLVMBuildLoad2(B, vt, LLVMGetParam(f, 0), "");
    unsigned id = LLVMLookupIntrinsicID("llvm.fma", 8);
    LLVMValueRef ops[3] = {x, x, x};
    LLVMValueRef r = LLVMBuildCall2(B, LLVMIntrinsicGetType(C, id, &vt, 1),
                                    LLVMGetIntrinsicDeclaration(M, id, &vt, 1), ops, 3, "");
    LLVMBuildStore(B, r, LLVMGetParam(f, 0));
    /* the width from a multiply and an add: without FMA the fma above is a libm call a lane
     * (xmm registers), which on AVX without FMA (Sandy Bridge) hid its 8-lane ymm vectors */
    LLVMValueRef off = LLVMConstInt(LLVMInt64TypeInContext(C), 1, 0);
    LLVMBuildStore(B, LLVMBuildFAdd(B, LLVMBuildFMul(B, x, x, ""), x, ""),
                   LLVMBuildGEP2(B, vt, LLVMGetParam(f, 0), &off, 1, ""));
    LLVMBuildRetVoid(B);
    add_dot_probe(C, M, B);
    add_bw_probe(C, M, B, f);
    add_use_probe(C, M, B, f); /* last: the shape reads the text before it */
    LLVMDisposeBuilder(B);
    char *err = NULL;
    LLVMMemoryBufferRef buf = NULL;
    mf_status s = MF_OK;
    if (LLVMTargetMachineEmitToMemoryBuffer(tm, M, LLVMAssemblyFile, &err, &buf)) {
        s = mf_error(MF_ERR_INTERNAL, "codegen: the target probe failed: %s", err);
        LLVMDisposeMessage(err);
    } else {
        size_t n = LLVMGetBufferSize(buf);
        char *text = malloc(n + 1);
        if (!text) {
            s = mf_error(MF_ERR_NOMEM, "codegen: out of memory");
        } else {
            memcpy(text, LLVMGetBufferStart(buf), n);
            text[n] = 0;
            char *use_text = strstr(text, "mf_probe_use:");
            if (use_text) /* the width, FMA and VNNI from the first three probes alone */
                *use_text++ = 0;
            sh->lanes = strstr(text, "zmm") ? 16 : strstr(text, "ymm") ? 8 : strstr(text, "xmm") ? 4 : 1;
            sh->vregs = sh->lanes == 16 ? 32 : 16;
            sh->fma = strstr(text, "vfmadd") != NULL;
            sh->vnni = strstr(text, "vpdpwssd") != NULL;
            sh->ubsw = !sh->vnni && sh->lanes == 8 && line_has(text, "vpmaddwd", "ymm");
            sh->bw = sh->lanes == 16 && line_has(text, "vpaddw", "zmm");
            sh->mask_regs = sh->lanes == 16; /* AVX-512F's k registers */
            sh->l1d = 32 * 1024; /* every x86-64 core of the last decade */
            sh->l2 = sh->lanes == 16 ? 1024 * 1024 : sh->lanes == 8 ? 512 * 1024 : 256 * 1024;
            list_uses(sh, text, use_text ? use_text : "", sh->uses, sizeof sh->uses);
            free(text);
        }
        LLVMDisposeMemoryBuffer(buf);
    }
    LLVMDisposeModule(M);
    LLVMContextDispose(C);
    return s;
}

/* Shapes already probed, by CPU name and features: a registry guarded by memo_lock (a
 * probe costs a compile; every kernel compile describes its target again). */
#define MEMO_SLOTS 16
static struct {
    char cpu[64];
    char *features;
    mf_cg_target_shape shape;
} memo[MEMO_SLOTS];
static int memo_n;
static pthread_mutex_t memo_lock = PTHREAD_MUTEX_INITIALIZER;

static bool memo_find(const mf_cg_target *t, mf_cg_target_shape *sh)
{
    bool found = false;
    pthread_mutex_lock(&memo_lock);
    for (int i = 0; i < memo_n && !found; i++)
        if (!strcmp(memo[i].cpu, t->cpu) && !strcmp(memo[i].features, t->features)) {
            *sh = memo[i].shape;
            found = true;
        }
    pthread_mutex_unlock(&memo_lock);
    return found;
}

static void memo_add(const mf_cg_target *t, const mf_cg_target_shape *sh)
{
    pthread_mutex_lock(&memo_lock);
    char *f = memo_n < MEMO_SLOTS ? strdup(t->features) : NULL;
    if (f) {
        snprintf(memo[memo_n].cpu, sizeof memo[memo_n].cpu, "%s", t->cpu);
        memo[memo_n].features = f;
        memo[memo_n++].shape = *sh;
    }
    pthread_mutex_unlock(&memo_lock);
}

mf_status mf_cg_target_init(const char *cpu, mf_cg_target *out)
{
    return mf_cg_target_init_features(cpu, NULL, out);
}

/* LLVM's feature strings: "+name" or "-name", comma separated. */
static bool valid_features(const char *f)
{
    for (const char *p = f; *p;) {
        if (*p != '+' && *p != '-')
            return false;
        size_t n = strspn(p + 1, "abcdefghijklmnopqrstuvwxyz0123456789-_.");
        if (n == 0 || (p[1 + n] && (p[1 + n] != ',' || !p[2 + n])))
            return false;
        p += 1 + n + (p[1 + n] == ',');
    }
    return true;
}

mf_status mf_cg_target_init_features(const char *cpu, const char *extra, mf_cg_target *out)
{
    if (extra && (!cpu || !valid_features(extra)))
        return mf_error(MF_ERR_INVALID, "'%s' is not a feature string for a named CPU ('+name,-name')", extra);
    pthread_once(&native_once, init_native);
    if (native_failed)
        return mf_error(MF_ERR_INTERNAL, "LLVM has no native target for this machine");
    memset(out, 0, sizeof *out);
    LLVMGetVersion(&out->llvm_major, &out->llvm_minor, &out->llvm_patch);

    char *triple = LLVMGetDefaultTargetTriple();
    char *host_cpu = LLVMGetHostCPUName();
    char *features = LLVMGetHostCPUFeatures();
    snprintf(out->triple, sizeof out->triple, "%s", triple);
    snprintf(out->cpu, sizeof out->cpu, "%s", cpu ? cpu : host_cpu);
    if (cpu && (!*cpu || strspn(cpu, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != strlen(cpu))) {
        LLVMDisposeMessage(triple);
        LLVMDisposeMessage(host_cpu);
        LLVMDisposeMessage(features);
        return mf_error(MF_ERR_INVALID, "'%s' is not an LLVM CPU name", cpu);
    }
    if (cpu && !strncmp(out->triple, "x86_64", 6)) {
        mf_status s = check_cpu_name(cpu);
        if (s) {
            LLVMDisposeMessage(triple);
            LLVMDisposeMessage(host_cpu);
            LLVMDisposeMessage(features);
            return s;
        }
    }
    /* A named CPU takes its own features; "+64bit" keeps LLVM from aborting on a 64-bit
     * triple when the name is not one it knows (it then warns and targets a generic CPU). */
    snprintf(out->features, sizeof out->features, "%s%s%s",
             !cpu ? features : strncmp(out->triple, "x86_64", 6) ? "" : "+64bit",
             extra && *extra && cpu && !strncmp(out->triple, "x86_64", 6) ? "," : "", extra ? extra : "");
    LLVMDisposeMessage(triple);
    LLVMDisposeMessage(host_cpu);
    LLVMDisposeMessage(features);

    LLVMTargetRef target;
    char *err = NULL;
    if (LLVMGetTargetFromTriple(out->triple, &target, &err)) {
        mf_status s = mf_error(MF_ERR_UNSUPPORTED, "LLVM target %s: %s", out->triple, err);
        LLVMDisposeMessage(err);
        return s;
    }
    LLVMTargetMachineRef tm = LLVMCreateTargetMachine(target, out->triple, out->cpu, out->features,
                                                      LLVMCodeGenLevelAggressive, LLVMRelocPIC,
                                                      LLVMCodeModelDefault);
    if (!tm)
        return mf_error(MF_ERR_UNSUPPORTED, "LLVM cannot target cpu '%s' on %s", out->cpu,
                        out->triple);
    mf_status s = MF_OK;
    if (!memo_find(out, &out->shape)) {
        s = probe_shape(tm, out->triple, &out->shape);
        if (!s) {
            out->shape.fma_ports = mf_cg_fma_ports(out->cpu, out->features, &out->shape);
            memo_add(out, &out->shape);
        }
    }
    LLVMDisposeTargetMachine(tm);
    return s;
}
