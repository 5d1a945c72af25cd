/* jit.c — linking kernels into the process: one ORC LLJIT for the whole process, created on
 * first use; objects are added and looked up under one mutex (LLJIT's C API is not safe for
 * concurrent adds).  Loading an object whose symbol is already linked returns the linked
 * address when the bytes are the same, so the cache may load an entry twice. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>

#include "cg_internal.h"

typedef struct loaded {
    char symbol[64];
    uint64_t digest;
    size_t size;
    mf_kernel_fn fn;
} loaded;

static pthread_mutex_t jit_lock = PTHREAD_MUTEX_INITIALIZER;
static LLVMOrcLLJITRef jit;
static loaded *table;
static int ntable, table_cap;

static uint64_t digest(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static mf_status from_llvm_error(LLVMErrorRef err, const char *what)
{
    char *m = LLVMGetErrorMessage(err);
    mf_status s = mf_error(MF_ERR_INTERNAL, "codegen: %s: %s", what, m);
    LLVMDisposeErrorMessage(m);
    return s;
}

/* Session errors are reported through mf_error on the failing call, not stderr. */
static void quiet_reporter(void *ctx, LLVMErrorRef err)
{
    LLVMConsumeError(err);
}

static mf_status jit_create(void)
{
    mf_cg_target t;
    mf_status s = mf_cg_target_init(NULL, &t); /* initializes the native target */
    if (s)
        return s;
    LLVMOrcLLJITBuilderRef b = LLVMOrcCreateLLJITBuilder();
    LLVMErrorRef err = LLVMOrcCreateLLJIT(&jit, b);
    if (err) {
        jit = NULL;
        return from_llvm_error(err, "cannot create the JIT");
    }
    LLVMOrcExecutionSessionSetErrorReporter(LLVMOrcLLJITGetExecutionSession(jit), quiet_reporter,
                                            NULL);
    return MF_OK;
}

static loaded *find(const char *symbol)
{
    for (int i = 0; i < ntable; i++)
        if (!strcmp(table[i].symbol, symbol))
            return &table[i];
    return NULL;
}

static mf_status remember(const mf_cg_object *obj, uint64_t d, mf_kernel_fn fn)
{
    if (ntable == table_cap) {
        int cap = table_cap ? table_cap * 2 : 64;
        loaded *t = realloc(table, sizeof *t * (size_t)cap);
        if (!t)
            return mf_error(MF_ERR_NOMEM, "codegen: out of memory for the kernel table");
        table = t;
        table_cap = cap;
    }
    loaded *e = &table[ntable++];
    snprintf(e->symbol, sizeof e->symbol, "%s", obj->symbol);
    e->digest = d;
    e->size = obj->size;
    e->fn = fn;
    return MF_OK;
}

static mf_status add_and_lookup(const mf_cg_object *obj, mf_kernel_fn *out)
{
    LLVMMemoryBufferRef buf =
        LLVMCreateMemoryBufferWithMemoryRangeCopy(obj->data, obj->size, obj->symbol);
    LLVMErrorRef err = LLVMOrcLLJITAddObjectFile(jit, LLVMOrcLLJITGetMainJITDylib(jit), buf);
    if (err)
        return from_llvm_error(err, "cannot add the object");
    LLVMOrcExecutorAddress addr = 0;
    err = LLVMOrcLLJITLookup(jit, &addr, obj->symbol);
    if (err)
        return from_llvm_error(err, "cannot link the kernel");
    if (!addr)
        return mf_error(MF_ERR_INTERNAL, "kernel %s linked at address 0", obj->symbol);
    *out = (mf_kernel_fn)(uintptr_t)addr;
    mf_cg_perf_map_add(obj, addr);
    return MF_OK;
}

mf_status mf_cg_load(const mf_cg_object *obj, mf_kernel_fn *out)
{
    if (!obj || !out || !obj->data || !obj->size || !obj->symbol[0])
        return mf_error(MF_ERR_INVALID, "mf_cg_load: no object");
    uint64_t d = digest(obj->data, obj->size);
    pthread_mutex_lock(&jit_lock);
    mf_status s = jit ? MF_OK : jit_create();
    loaded *e = s ? NULL : find(obj->symbol);
    if (e) {
        if (e->digest == d && e->size == obj->size)
            *out = e->fn;
        else
            s = mf_error(MF_ERR_INVALID, "mf_cg_load: another kernel named %s is loaded",
                         obj->symbol);
    } else if (!s) {
        s = add_and_lookup(obj, out);
        if (!s)
            s = remember(obj, d, *out);
    }
    pthread_mutex_unlock(&jit_lock);
    return s;
}
