/* perf_map.c — names for JIT code in `perf`: with MLUFUSE_PERF_MAP=1 every kernel linked
 * into the process is appended to /tmp/perf-PID.map ("START SIZE NAME", the file perf reads
 * for code it has no ELF for), so `perf record` / `perf report` attribute samples to kernels
 * instead of "[JIT] tid".  The size comes from the object's symbol table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <llvm-c/Object.h>

#include "cg_internal.h"

static uint64_t symbol_size(const mf_cg_object *obj)
{
    LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRange(obj->data, obj->size, "", 0);
    char *err = NULL;
    LLVMBinaryRef bin = LLVMCreateBinary(buf, NULL, &err);
    uint64_t size = 0;
    if (bin) {
        LLVMSymbolIteratorRef it = LLVMObjectFileCopySymbolIterator(bin);
        for (; it && !LLVMObjectFileIsSymbolIteratorAtEnd(bin, it); LLVMMoveToNextSymbol(it))
            if (!strcmp(LLVMGetSymbolName(it), obj->symbol))
                size = LLVMGetSymbolSize(it);
        if (it)
            LLVMDisposeSymbolIterator(it);
        LLVMDisposeBinary(bin);
    }
    LLVMDisposeMessage(err);
    LLVMDisposeMemoryBuffer(buf);
    return size;
}

void mf_cg_perf_map_add(const mf_cg_object *obj, uint64_t addr)
{
    const char *on = getenv("MLUFUSE_PERF_MAP");
    if (!on || !*on || !strcmp(on, "0"))
        return;
    char path[64];
    snprintf(path, sizeof path, "/tmp/perf-%d.map", (int)getpid());
    FILE *f = fopen(path, "a");
    if (!f)
        return; /* profiling aid only: never fails a load */
    uint64_t size = symbol_size(obj);
    fprintf(f, "%llx %llx %s\n", (unsigned long long)addr, (unsigned long long)(size ? size : 1), obj->symbol);
    fclose(f);
}
