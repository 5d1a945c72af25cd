/* mfo.h — the .mfo offline model format (docs/mfo.md), shared by its writer (module/mfo_write.c,
 * for genoff and the plan cache, which compile) and its loader (runtime/mfo_read.c, which needs no compiler): the header
 * and section table, the checksum, a bounds-checked reader of the section bytes, the ELF
 * object loader for the kernels, and the host's CPU features that pick a code level. */
#ifndef MF_RUNTIME_MFO_H
#define MF_RUNTIME_MFO_H

#include "plan.h"

#define MF_MFO_MAGIC "MLUFUSEO"
#define MF_MFO_VERSION 3 /* 3: a plan a CPU level (2: one plan for every level) */
#define MF_MFO_PRODUCER "mlufuse 0.1.0"
#define MF_MFO_HEADER_BYTES 64
#define MF_MFO_SECTION_BYTES 32
#define MF_MFO_MAX_SECTIONS 64
#define MF_MFO_MAX_LEVELS 8      /* CPU levels a file holds, each a plan and a code section */
#define MF_MFO_WEIGHT_ALIGN 4096 /* the weights section starts on a page: it is mapped */
#define MF_MFO_CONST_ALIGN 64

typedef enum mf_mfo_kind {
    MF_MFO_META = 1,    /* "key=value" lines: producer, batch, core_number, pre/post-processing */
    MF_MFO_PLAN = 2,    /* a CPU level's slots, steps, inputs, outputs, constants (see docs) */
    MF_MFO_WEIGHTS = 3, /* constant bytes, each at a 64-byte aligned offset */
    MF_MFO_CODE = 4     /* one CPU level: its name, features and one ELF object per kernel */
} mf_mfo_kind;

/* A checksum of n bytes (four interleaved 64-bit multiply-xor lanes, so checking the
 * weights of a large model costs milliseconds); the exact function is in docs/mfo.md. */
uint64_t mf_mfo_checksum(const void *data, size_t n);

/* ---- a bounds-checked reader over one section ------------------------------------------ */

typedef struct mf_mfo_cursor {
    const unsigned char *p;
    size_t n, at;
    const char *what; /* the section, for messages */
    mf_status error;  /* sticky: the first failure; later reads return zeros */
} mf_mfo_cursor;

uint32_t mf_mfo_u32(mf_mfo_cursor *c);
uint64_t mf_mfo_u64(mf_mfo_cursor *c);
int64_t mf_mfo_i64(mf_mfo_cursor *c);
double mf_mfo_f64(mf_mfo_cursor *c);
/* A length-prefixed string copied into out (at most cap-1 bytes, else an error). */
void mf_mfo_str(mf_mfo_cursor *c, char *out, size_t cap);

/* ---- kernels: ELF64 relocatable x86-64 objects, loaded without a linker (elf_load.c) ---- */

typedef struct mf_rt_code mf_rt_code; /* the executable mapping of one loaded object */

/* Maps the object code of one kernel: its allocatable sections in one mapping, relocated,
 * then made read+execute (code) and read-only (data), never writable and executable at
 * once; calls to the C library resolve against a fixed table of allowed symbols.  Every
 * offset, size and index of the object is checked first; name says which kernel in
 * messages.  *fn is the address of symbol. */
mf_status mf_rt_code_load(const void *object, size_t size, const char *symbol, const char *name,
                          mf_rt_code **out, mf_rt_kernel_fn *fn);
void mf_rt_code_free(mf_rt_code *c);

/* ---- the host's CPU (cpu_features.c) ---------------------------------------------------- */

/* The instruction-set features a code level needs, by LLVM's names ("+avx2,+fma,..."):
 * MF_OK when this host runs them all, else MF_ERR_UNSUPPORTED naming the first it lacks.
 * Features outside the known table (docs/mfo.md) are not instruction sets our kernels use
 * and are ignored.  host_features NULL: the real host (cpuid); else a comma-separated list
 * standing for the host (tests). */
mf_status mf_rt_cpu_runs(const char *features, const char *host_features);
/* How many known instruction-set features the list enables: the rank of a level. */
int mf_rt_cpu_rank(const char *features);

#endif
