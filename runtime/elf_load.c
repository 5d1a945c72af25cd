/* elf_load.c — loads one kernel's object code (an ELF64 relocatable object for x86-64, as
 * LLVM emits it with the PIC relocation model) with neither compiler nor linker: the
 * allocatable sections are copied into one private mapping (code and jump stubs, then
 * read-only data and an address table — the GOT — then writable data, each group on its own
 * pages), relocations are applied, and the pages are then protected read+execute or
 * read-only (W^X).  Every header, offset, size and index is checked before it is used. */
#include <elf.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mfo.h"

struct mf_rt_code {
    void *base;
    size_t size;
};

/* libgcc's half conversions, which LLVM calls for f16 loads and stores on a target without
 * F16C (codegen/half.c).  Only their addresses are taken here (the kernels call them with
 * the _Float16 ABI), so a plain declaration serves. */
void __extendhfsf2(void);
void __truncsfhf2(void);

/* The only functions a kernel may call: what LLVM may turn our IR into (memory intrinsics,
 * libm calls of math.c's fallbacks, half conversions).  A kernel asking for any other
 * symbol is refused. */
static const struct {
    const char *name;
    void *addr;
} allowed[] = {
    {"memcpy", (void *)memcpy}, {"memmove", (void *)memmove}, {"memset", (void *)memset},
    {"expf", (void *)expf},     {"logf", (void *)logf},       {"tanhf", (void *)tanhf},
    {"powf", (void *)powf},     {"erff", (void *)erff},       {"sqrtf", (void *)sqrtf},
    {"sinf", (void *)sinf},     {"cosf", (void *)cosf},       {"fmodf", (void *)fmodf},
    {"floorf", (void *)floorf}, {"ceilf", (void *)ceilf},     {"roundf", (void *)roundf},
    {"truncf", (void *)truncf}, {"rintf", (void *)rintf},     {"nearbyintf", (void *)nearbyintf},
    {"fmaf", (void *)fmaf},     {"fmaxf", (void *)fmaxf},     {"fminf", (void *)fminf},
    {"exp2f", (void *)exp2f},   {"log2f", (void *)log2f},     {"expm1f", (void *)expm1f},
    {"exp", (void *)exp},       {"log", (void *)log},         {"sqrt", (void *)sqrt},
    {"__extendhfsf2", (void *)__extendhfsf2}, {"__truncsfhf2", (void *)__truncsfhf2},
};
#define NALLOWED (int)(sizeof allowed / sizeof allowed[0])

typedef struct obj {
    const unsigned char *data;
    size_t size;
    const char *name;
    const Elf64_Ehdr *eh;
    Elf64_Shdr *sh; /* a copy: the input need not be aligned */
    int nsec;
    const Elf64_Shdr *symtab;
    Elf64_Sym *syms;
    size_t nsyms;
    const char *strtab;
    size_t strtab_size;
    size_t *place;   /* per section: offset in the mapping, or SIZE_MAX when not loaded */
    int *slot_of; /* per symbol: its slot in the address table (and stubs) + 1, 0: none */
    int nslots;
    size_t stubs_at, text_end, ro_end, total, table_at; /* layout */
} obj;

#define BAD(...) mf_error(MF_ERR_PARSE, __VA_ARGS__)

static bool in_file(const obj *o, uint64_t off, uint64_t len)
{
    return off <= o->size && len <= o->size - off;
}

static mf_status read_header(obj *o)
{
    if (o->size < sizeof(Elf64_Ehdr))
        return BAD("kernel %s: %zu bytes is too small for an ELF header", o->name, o->size);
    Elf64_Ehdr eh;
    memcpy(&eh, o->data, sizeof eh);
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_ident[EI_DATA] != ELFDATA2LSB)
        return BAD("kernel %s: not a little-endian ELF64 object", o->name);
    if (eh.e_type != ET_REL || eh.e_machine != EM_X86_64)
        return BAD("kernel %s: not an x86-64 relocatable object (type %u, machine %u)", o->name,
                   eh.e_type, eh.e_machine);
    if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 || eh.e_shnum > 1024 ||
        !in_file(o, eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr)))
        return BAD("kernel %s: bad section table (%u entries at offset %llu)", o->name, eh.e_shnum,
                   (unsigned long long)eh.e_shoff);
    o->nsec = eh.e_shnum;
    o->sh = malloc(sizeof(Elf64_Shdr) * (size_t)o->nsec);
    o->place = malloc(sizeof(size_t) * (size_t)o->nsec);
    if (!o->sh || !o->place)
        return mf_error(MF_ERR_NOMEM, "kernel %s: out of memory", o->name);
    memcpy(o->sh, o->data + eh.e_shoff, sizeof(Elf64_Shdr) * (size_t)o->nsec);
    for (int i = 0; i < o->nsec; i++) {
        const Elf64_Shdr *s = &o->sh[i];
        if (s->sh_type != SHT_NOBITS && s->sh_type != SHT_NULL && !in_file(o, s->sh_offset, s->sh_size))
            return BAD("kernel %s: section %d lies outside the object", o->name, i);
        if (s->sh_addralign > 4096 || (s->sh_addralign & (s->sh_addralign - 1)))
            return BAD("kernel %s: section %d has alignment %llu", o->name, i,
                       (unsigned long long)s->sh_addralign);
        if ((s->sh_flags & SHF_ALLOC) && s->sh_size > ((uint64_t)1 << 26))
            return BAD("kernel %s: section %d is %llu bytes", o->name, i, (unsigned long long)s->sh_size);
    }
    return MF_OK;
}

static mf_status read_symbols(obj *o)
{
    for (int i = 0; i < o->nsec; i++)
        if (o->sh[i].sh_type == SHT_SYMTAB) {
            if (o->symtab)
                return BAD("kernel %s: two symbol tables", o->name);
            o->symtab = &o->sh[i];
        }
    if (!o->symtab)
        return BAD("kernel %s: no symbol table", o->name);
    const Elf64_Shdr *st = o->symtab;
    if (st->sh_entsize != sizeof(Elf64_Sym) || st->sh_size % sizeof(Elf64_Sym) || st->sh_link == 0 ||
        st->sh_link >= (unsigned)o->nsec || o->sh[st->sh_link].sh_type != SHT_STRTAB)
        return BAD("kernel %s: bad symbol table", o->name);
    const Elf64_Shdr *str = &o->sh[st->sh_link];
    o->strtab = (const char *)o->data + str->sh_offset;
    o->strtab_size = str->sh_size;
    if (!o->strtab_size || o->strtab[o->strtab_size - 1])
        return BAD("kernel %s: the string table is not terminated", o->name);
    o->nsyms = st->sh_size / sizeof(Elf64_Sym);
    o->syms = malloc(st->sh_size + 1);
    if (!o->syms)
        return mf_error(MF_ERR_NOMEM, "kernel %s: out of memory", o->name);
    memcpy(o->syms, o->data + st->sh_offset, st->sh_size);
    for (size_t i = 0; i < o->nsyms; i++) {
        const Elf64_Sym *s = &o->syms[i];
        if (s->st_name >= o->strtab_size)
            return BAD("kernel %s: symbol %zu has a name outside the string table", o->name, i);
        if (s->st_shndx == SHN_COMMON || (s->st_shndx >= o->nsec && s->st_shndx < SHN_LORESERVE) ||
            (s->st_shndx >= SHN_LORESERVE && s->st_shndx != SHN_ABS))
            return BAD("kernel %s: symbol %zu has section index %u", o->name, i, s->st_shndx);
    }
    return MF_OK;
}

static size_t align_up(size_t x, size_t a)
{
    return (x + a - 1) & ~(a - 1);
}

static int allowed_index(const char *name)
{
    for (int i = 0; i < NALLOWED; i++)
        if (!strcmp(allowed[i].name, name))
            return i;
    return -1;
}

static bool got_relocation(unsigned type)
{
    return type == R_X86_64_GOTPCREL || type == R_X86_64_GOTPCRELX || type == R_X86_64_REX_GOTPCRELX;
}

/* The relocation sections, checked: entries of 24 bytes against our symbol table, for a
 * section that exists. */
static mf_status check_relas(const obj *o)
{
    for (int i = 0; i < o->nsec; i++) {
        const Elf64_Shdr *s = &o->sh[i];
        if (s->sh_type == SHT_REL)
            return mf_error(MF_ERR_UNSUPPORTED, "kernel %s: REL relocations (only RELA)", o->name);
        if (s->sh_type == SHT_RELA &&
            (s->sh_info >= (unsigned)o->nsec || s->sh_link >= (unsigned)o->nsec ||
             s->sh_entsize != sizeof(Elf64_Rela) || s->sh_size % sizeof(Elf64_Rela) ||
             &o->sh[s->sh_link] != o->symtab))
            return BAD("kernel %s: bad relocation section %d", o->name, i);
    }
    return MF_OK;
}

/* Slots of the address table: one per undefined symbol (which must be an allowed library
 * function; calls reach it through a jump stub reading its slot) and one per symbol a
 * GOT-relative load names. */
static mf_status assign_slots(obj *o)
{
    if (!(o->slot_of = calloc(o->nsyms + 1, sizeof(int))))
        return mf_error(MF_ERR_NOMEM, "kernel %s: out of memory", o->name);
    for (size_t i = 1; i < o->nsyms; i++) {
        const Elf64_Sym *s = &o->syms[i];
        if (s->st_shndx != SHN_UNDEF)
            continue;
        const char *name = o->strtab + s->st_name;
        if (!strcmp(name, "_GLOBAL_OFFSET_TABLE_"))
            continue; /* our address table (GCC names it even when nothing uses it) */
        if (allowed_index(name) < 0)
            return mf_error(MF_ERR_UNSUPPORTED, "kernel %s: calls %s, which is not a function kernels may call",
                            o->name, name[0] ? name : "an unnamed symbol");
        o->slot_of[i] = ++o->nslots;
    }
    for (int i = 0; i < o->nsec; i++) {
        const Elf64_Shdr *s = &o->sh[i];
        for (size_t k = 0; s->sh_type == SHT_RELA && k < s->sh_size / sizeof(Elf64_Rela); k++) {
            Elf64_Rela r;
            memcpy(&r, o->data + s->sh_offset + k * sizeof r, sizeof r);
            size_t sym = ELF64_R_SYM(r.r_info);
            if (got_relocation((unsigned)ELF64_R_TYPE(r.r_info)) && sym > 0 && sym < o->nsyms && !o->slot_of[sym] &&
                o->syms[sym].st_shndx != SHN_UNDEF) /* library functions have theirs */
                o->slot_of[sym] = ++o->nslots;
        }
    }
    return MF_OK;
}

#define STUB_BYTES 16 /* jmp *[rip+disp32] to the table slot, padded */

/* Offsets of every allocatable section in the mapping: code and the jump stubs first, then
 * read-only data and the address table, then writable data, each group page-aligned. */
static mf_status lay_out(obj *o)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), at = 0;
    for (int group = 0; group < 3; group++) {
        for (int i = 0; i < o->nsec; i++) {
            const Elf64_Shdr *s = &o->sh[i];
            if (group == 0)
                o->place[i] = SIZE_MAX;
            if (!(s->sh_flags & SHF_ALLOC))
                continue;
            int g = (s->sh_flags & SHF_EXECINSTR) ? 0 : (s->sh_flags & SHF_WRITE) ? 2 : 1;
            if (g == 2 && (s->sh_flags & SHF_EXECINSTR))
                return BAD("kernel %s: section %d is writable and executable", o->name, i);
            if (g != group)
                continue;
            at = align_up(at, s->sh_addralign ? s->sh_addralign : 1);
            o->place[i] = at;
            at += s->sh_size;
        }
        if (group == 0) {
            o->stubs_at = at = align_up(at, 16);
            at += (size_t)o->nslots * STUB_BYTES;
            o->text_end = at = align_up(at, page);
        } else if (group == 1) {
            o->table_at = at = align_up(at, 8);
            at += (size_t)o->nslots * 8;
            o->ro_end = at = align_up(at, page);
        }
    }
    o->total = align_up(at, page);
    if (o->total > ((size_t)1 << 28))
        return BAD("kernel %s: %zu bytes of sections, more than a kernel has", o->name, o->total);
    if (o->stubs_at == 0)
        return BAD("kernel %s: no code", o->name);
    return MF_OK;
}

static size_t stub_at(const obj *o, int slot)
{
    return o->stubs_at + (size_t)slot * STUB_BYTES;
}

/* The address a symbol stands for: in the mapping, or a library function's; with got, the
 * address of its table slot instead; a call to a library function goes to its stub. */
static mf_status symbol_address(const obj *o, unsigned char *base, size_t sym, bool got,
                                uint64_t *out)
{
    if (sym == 0 || sym >= o->nsyms)
        return BAD("kernel %s: a relocation names symbol %zu of %zu", o->name, sym, o->nsyms);
    const Elf64_Sym *s = &o->syms[sym];
    int slot = o->slot_of[sym] - 1;
    if (s->st_shndx == SHN_UNDEF && slot < 0) { /* _GLOBAL_OFFSET_TABLE_ */
        if (got)
            return mf_error(MF_ERR_UNSUPPORTED, "kernel %s: a GOT-relative load of the GOT", o->name);
        *out = (uint64_t)(uintptr_t)(base + o->table_at);
        return MF_OK;
    }
    if (got) {
        *out = (uint64_t)(uintptr_t)(base + o->table_at + 8 * (size_t)slot);
        return MF_OK;
    }
    if (s->st_shndx == SHN_UNDEF) {
        *out = (uint64_t)(uintptr_t)(base + stub_at(o, slot));
        return MF_OK;
    }
    if (s->st_shndx == SHN_ABS) {
        *out = s->st_value;
        return MF_OK;
    }
    if (o->place[s->st_shndx] == SIZE_MAX || s->st_value > o->sh[s->st_shndx].sh_size)
        return BAD("kernel %s: symbol %zu is not in a loaded section", o->name, sym);
    *out = (uint64_t)(uintptr_t)(base + o->place[s->st_shndx]) + s->st_value;
    return MF_OK;
}

static mf_status apply_one(const obj *o, unsigned char *base, int target, const Elf64_Rela *r)
{
    const Elf64_Shdr *t = &o->sh[target];
    unsigned type = ELF64_R_TYPE(r->r_info);
    size_t width = type == R_X86_64_64 ? 8 : 4;
    if (r->r_offset > t->sh_size || width > t->sh_size - r->r_offset)
        return BAD("kernel %s: a relocation at offset %llu is outside its section", o->name,
                   (unsigned long long)r->r_offset);
    bool got = got_relocation(type);
    uint64_t S = 0;
    mf_status st = symbol_address(o, base, ELF64_R_SYM(r->r_info), got, &S);
    if (st)
        return st;
    unsigned char *where = base + o->place[target] + r->r_offset;
    uint64_t P = (uint64_t)(uintptr_t)where;
    switch (type) {
    case R_X86_64_64: {
        uint64_t v = S + (uint64_t)r->r_addend;
        memcpy(where, &v, 8);
        return MF_OK;
    }
    case R_X86_64_PC32:
    case R_X86_64_PLT32:
    case R_X86_64_GOTPCREL:
    case R_X86_64_GOTPCRELX:
    case R_X86_64_REX_GOTPCRELX: {
        int64_t v = (int64_t)(S + (uint64_t)r->r_addend - P);
        if (v < INT32_MIN || v > INT32_MAX)
            return BAD("kernel %s: a PC-relative relocation out of range", o->name);
        int32_t v32 = (int32_t)v;
        memcpy(where, &v32, 4);
        return MF_OK;
    }
    }
    return mf_error(MF_ERR_UNSUPPORTED, "kernel %s: relocation type %u is not supported", o->name, type);
}

static mf_status relocate(const obj *o, unsigned char *base)
{
    for (int i = 0; i < o->nsec; i++) {
        const Elf64_Shdr *s = &o->sh[i];
        if (s->sh_type != SHT_RELA || o->place[s->sh_info] == SIZE_MAX)
            continue; /* not relocations, or of a section that is not loaded */
        for (size_t k = 0; k < s->sh_size / sizeof(Elf64_Rela); k++) {
            Elf64_Rela r;
            memcpy(&r, o->data + s->sh_offset + k * sizeof r, sizeof r);
            mf_status st = apply_one(o, base, (int)s->sh_info, &r);
            if (st)
                return st;
        }
    }
    return MF_OK;
}

/* The address table holds each slot's symbol address; a library function's stub jumps
 * through its slot. */
static mf_status fill_slots(const obj *o, unsigned char *base)
{
    for (size_t i = 1; i < o->nsyms; i++) {
        int slot = o->slot_of[i] - 1;
        if (slot < 0)
            continue;
        uint64_t addr;
        const Elf64_Sym *s = &o->syms[i];
        if (s->st_shndx == SHN_UNDEF) {
            addr = (uint64_t)(uintptr_t)allowed[allowed_index(o->strtab + s->st_name)].addr;
        } else {
            mf_status st = symbol_address(o, base, i, false, &addr);
            if (st)
                return st;
        }
        unsigned char *table = base + o->table_at + 8 * (size_t)slot;
        memcpy(table, &addr, 8);
        unsigned char *stub = base + stub_at(o, slot);
        int32_t disp = (int32_t)(table - (stub + 6));
        stub[0] = 0xff, stub[1] = 0x25; /* jmp *disp32(%rip) */
        memcpy(stub + 2, &disp, 4);
        memset(stub + 6, 0xcc, STUB_BYTES - 6);
    }
    return MF_OK;
}

static mf_status find_entry(const obj *o, unsigned char *base, const char *symbol, mf_rt_kernel_fn *fn)
{
    for (size_t i = 1; i < o->nsyms; i++) {
        const Elf64_Sym *s = &o->syms[i];
        if (strcmp(o->strtab + s->st_name, symbol) || s->st_shndx == SHN_UNDEF || s->st_shndx >= o->nsec)
            continue;
        if (ELF64_ST_TYPE(s->st_info) != STT_FUNC || !(o->sh[s->st_shndx].sh_flags & SHF_EXECINSTR) ||
            o->place[s->st_shndx] == SIZE_MAX || s->st_value >= o->sh[s->st_shndx].sh_size)
            return BAD("kernel %s: %s is not a function in the code", o->name, symbol);
        *fn = (mf_rt_kernel_fn)(void *)(base + o->place[s->st_shndx] + s->st_value);
        return MF_OK;
    }
    return BAD("kernel %s: the object does not define %s", o->name, symbol);
}

static mf_status map_object(obj *o, const char *symbol, mf_rt_code *c, mf_rt_kernel_fn *fn)
{
    unsigned char *base = mmap(NULL, o->total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return mf_error(MF_ERR_NOMEM, "kernel %s: cannot map %zu bytes", o->name, o->total);
    c->base = base;
    c->size = o->total;
    for (int i = 0; i < o->nsec; i++)
        if (o->place[i] != SIZE_MAX && o->sh[i].sh_type != SHT_NOBITS && o->sh[i].sh_type != SHT_NULL)
            memcpy(base + o->place[i], o->data + o->sh[i].sh_offset, o->sh[i].sh_size);
    mf_status s = fill_slots(o, base);
    if (!s)
        s = relocate(o, base);
    if (!s)
        s = find_entry(o, base, symbol, fn);
    if (s)
        return s;
    if (mprotect(base, o->text_end, PROT_READ | PROT_EXEC) ||
        (o->ro_end > o->text_end && mprotect(base + o->text_end, o->ro_end - o->text_end, PROT_READ)))
        return mf_error(MF_ERR_INTERNAL, "kernel %s: cannot protect its pages", o->name);
    return MF_OK;
}

mf_status mf_rt_code_load(const void *object, size_t size, const char *symbol, const char *name,
                          mf_rt_code **out, mf_rt_kernel_fn *fn)
{
    *out = NULL;
    obj o = {.data = object, .size = size, .name = name};
    mf_rt_code *c = calloc(1, sizeof *c);
    mf_status s = c ? read_header(&o) : mf_error(MF_ERR_NOMEM, "kernel %s: out of memory", name);
    if (!s)
        s = read_symbols(&o);
    if (!s)
        s = check_relas(&o);
    if (!s)
        s = assign_slots(&o);
    if (!s)
        s = lay_out(&o);
    if (!s)
        s = map_object(&o, symbol, c, fn);
    free(o.sh);
    free(o.place);
    free(o.syms);
    free(o.slot_of);
    if (s)
        mf_rt_code_free(c);
    else
        *out = c;
    return s;
}

void mf_rt_code_free(mf_rt_code *c)
{
    if (!c)
        return;
    if (c->base)
        munmap(c->base, c->size);
    free(c);
}
