/* perf_map.c — names for JIT code in `perf`: with MLUFUSE_PERF_MAP=1 every kernel linked
 * into the process is appended to /tmp/perf-PID.map ("START SIZE NAME", the file perf reads
 * for code it has no ELF for), so `perf record` / `perf report` attribute samples to kernels
 * instead of "[JIT] tid".  Sizes and the offsets of functions LLVM outlined from a kernel
 * (named KERNEL.FUNCTION) come from the object's symbol table: the whole .text section is
 * linked as one piece, so every function sits at the entry's address plus the difference
 * of their offsets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <llvm-c/Object.h>

#include "cg_internal.h"

typedef struct text_symbol {
    const char *name;
    uint64_t offset, size;
} text_symbol;

/* The function symbols of the object's .text (n at most cap); -1 if it cannot be read. */
static int text_symbols(LLVMBinaryRef bin, text_symbol *out, int cap)
{
    LLVMSymbolIteratorRef sym = LLVMObjectFileCopySymbolIterator(bin);
    LLVMSectionIteratorRef sec = LLVMObjectFileCopySectionIterator(bin);
    int n = sym && sec ? 0 : -1;
    for (; n >= 0 && n < cap && !LLVMObjectFileIsSymbolIteratorAtEnd(bin, sym); LLVMMoveToNextSymbol(sym)) {
        const char *name = LLVMGetSymbolName(sym);
        if (!name || !*name || !LLVMGetSymbolSize(sym))
            continue;
        LLVMMoveToContainingSection(sec, sym);
        if (LLVMObjectFileIsSectionIteratorAtEnd(bin, sec)) {
            LLVMDisposeSectionIterator(sec); /* at the end: start again for the next symbol */
            sec = LLVMObjectFileCopySectionIterator(bin);
            continue;
        }
        const char *secname = LLVMGetSectionName(sec);
        if (secname && !strcmp(secname, ".text"))
            out[n++] = (text_symbol){name, LLVMGetSymbolAddress(sym), LLVMGetSymbolSize(sym)};
    }
    if (sym)
        LLVMDisposeSymbolIterator(sym);
    if (sec)
        LLVMDisposeSectionIterator(sec);
    return n;
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
    LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRange(obj->data, obj->size, "", 0);
    char *err = NULL;
    LLVMBinaryRef bin = LLVMCreateBinary(buf, NULL, &err);
    text_symbol syms[64];
    int n = bin ? text_symbols(bin, syms, 64) : -1;
    uint64_t entry = 0;
    bool found = false;
    for (int i = 0; i < n; i++)
        if (!strcmp(syms[i].name, obj->symbol))
            entry = syms[i].offset, found = true;
    for (int i = 0; found && i < n; i++) {
        if (!strcmp(syms[i].name, obj->symbol))
            fprintf(f, "%llx %llx %s\n", (unsigned long long)addr, (unsigned long long)syms[i].size, obj->symbol);
        else
            fprintf(f, "%llx %llx %s.%s\n", (unsigned long long)(addr - entry + syms[i].offset),
                    (unsigned long long)syms[i].size, obj->symbol, syms[i].name);
    }
    if (!found)
        fprintf(f, "%llx 1 %s\n", (unsigned long long)addr, obj->symbol);
    if (bin)
        LLVMDisposeBinary(bin);
    LLVMDisposeMessage(err);
    LLVMDisposeMemoryBuffer(buf);
    fclose(f);
}
