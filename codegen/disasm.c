/* disasm.c — the assembly of a kernel's object code (its .text sections), for
 * `mlufuse cache show --disasm`: what the MLU would run, read back from a cache entry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Core.h>
#include <llvm-c/Disassembler.h>
#include <llvm-c/Object.h>
#include <llvm-c/Target.h>

#include "codegen.h"

typedef struct text {
    char *buf;
    size_t len, cap;
} text;

static bool append(text *t, const char *s)
{
    size_t n = strlen(s);
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->len + n + 1) * 2;
        char *b = realloc(t->buf, cap);
        if (!b)
            return false;
        t->buf = b;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, s, n + 1);
    t->len += n;
    return true;
}

static bool disassemble_section(LLVMDisasmContextRef dc, const uint8_t *code, uint64_t size, text *t)
{
    for (uint64_t pc = 0; pc < size;) {
        char ins[256], line[320];
        size_t n = LLVMDisasmInstruction(dc, (uint8_t *)code + pc, size - pc, pc, ins, sizeof ins);
        if (!n) {
            snprintf(line, sizeof line, "  %6llx:  .byte 0x%02x\n", (unsigned long long)pc, code[pc]);
            n = 1;
        } else {
            snprintf(line, sizeof line, "  %6llx: %s\n", (unsigned long long)pc, ins);
        }
        if (!append(t, line))
            return false;
        pc += n;
    }
    return true;
}

mf_status mf_cg_disassemble(const void *object, size_t size, const char *triple, char **out)
{
    mf_cg_target host;
    mf_status s = mf_cg_target_init(NULL, &host); /* initializes the native target */
    if (s)
        return s;
    LLVMInitializeNativeDisassembler();
    LLVMDisasmContextRef dc = LLVMCreateDisasm(triple ? triple : host.triple, NULL, 0, NULL, NULL);
    if (!dc)
        return mf_error(MF_ERR_UNSUPPORTED, "no disassembler for %s", triple ? triple : host.triple);
    LLVMMemoryBufferRef mb = LLVMCreateMemoryBufferWithMemoryRangeCopy(object, size, "kernel") /* aligned copy */;
    char *err = NULL;
    LLVMBinaryRef bin = LLVMCreateBinary(mb, NULL, &err);
    text t = {0};
    if (!bin) {
        s = mf_error(MF_ERR_PARSE, "not an object file: %s", err ? err : "?");
        LLVMDisposeMessage(err);
    } else {
        LLVMSectionIteratorRef si = LLVMObjectFileCopySectionIterator(bin);
        for (; !s && !LLVMObjectFileIsSectionIteratorAtEnd(bin, si); LLVMMoveToNextSection(si)) {
            const char *name = LLVMGetSectionName(si);
            if (!name || strncmp(name, ".text", 5))
                continue;
            char head[128];
            snprintf(head, sizeof head, "%s:\n", name);
            if (!append(&t, head) || !disassemble_section(dc, (const uint8_t *)LLVMGetSectionContents(si),
                                                          LLVMGetSectionSize(si), &t))
                s = mf_error(MF_ERR_NOMEM, "out of memory disassembling");
        }
        LLVMDisposeSectionIterator(si);
        LLVMDisposeBinary(bin);
    }
    LLVMDisposeMemoryBuffer(mb);
    LLVMDisasmDispose(dc);
    if (s) {
        free(t.buf);
        return s;
    }
    *out = t.buf ? t.buf : strdup("");
    return MF_OK;
}
