/* target.c — which machine the MLU's code is generated for: LLVM's native target is
 * initialized once, and a target is described by triple, CPU name and feature string (the
 * seed's core_version), the inputs of every cache key. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <llvm-c/Core.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>

#include "codegen.h"
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

mf_status mf_cg_target_init(const char *cpu, mf_cg_target *out)
{
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
    snprintf(out->features, sizeof out->features, "%s",
             !cpu ? features : strncmp(out->triple, "x86_64", 6) ? "" : "+64bit");
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
    LLVMDisposeTargetMachine(tm);
    return MF_OK;
}
