/* codegen.h — the code generator's interface to the layers above: the target a kernel is
 * compiled for (part of every cache key), and the compilation of one MLU subgraph, with
 * concrete shapes, to object code and to a callable kernel.  Only codegen/ includes llvm-c/.
 *
 * A subgraph reaches codegen as a standalone mf_graph: its inputs are the values it reads
 * (activations first, then what were constants in the model — weights are arguments, never
 * baked into code, so same-shaped layers share one kernel), its outputs the values used
 * outside it, and no constants with data.  The kernel ABI (DESIGN.md):
 *     void kernel(void *const *args, int64_t part, int64_t nparts);
 * args = outputs (graph output order), then inputs (graph input order), then one scratch
 * buffer of scratch_bytes when that is non-zero; the kernel computes partition `part` of
 * `nparts` and partitions never write the same bytes.  Partitions nest: partition p of n is
 * exactly partitions 2p and 2p + 1 of 2n (every engine's bounds are floor(p * items / n),
 * mf_cg_part_range, or a function of p / n, mf_cg_tail_part_range), so the core pool may run
 * a launch as finer partitions (runtime/core_pool.c).  Output buffers must not overlap
 * input buffers (the kernel's pointers are noalias). */
#ifndef MF_CODEGEN_H
#define MF_CODEGEN_H

#include "ir/ir.h"

/* What shapes a kernel: the vector unit and caches of the target it is compiled for (never
 * of the host that builds it).  Derived from the target machine (CPU name + features) by
 * compiling a probe: AVX-512 gives 16 lanes and 32 registers, AVX/AVX2 8 lanes and 16,
 * SSE 4 lanes and 16; lanes 1 is the scalar path (any target, always correct). */
typedef struct mf_cg_target_shape {
    int lanes;          /* f32 lanes of one vector register: 1, 4, 8 or 16 */
    int vregs;          /* vector registers the code may use: 16 or 32 */
    bool fma;           /* fused multiply-add instructions (else a mul and an add) */
    bool vnni;          /* 8-bit dot products in the vector unit (AVX-512 VNNI or AVX-VNNI:
                         * vpdpbusd), which the int8 kernels use; else int16 products */
    bool ubsw;          /* no VNNI, 8 lanes and 256-bit integer vectors (AVX2): vpmaddubsw,
                         * which qconv2d uses for weights of w_bits 7 (codegen/quant.c) */
    bool bw;            /* 16 lanes with AVX-512BW (512-bit byte and word vectors: vpackssdw,
                         * vpacksswb, byte shuffles), which the int8 kernels need at 16 lanes;
                         * without it they are cut to 8 (mf_cg_int8_shape) */
    bool mask_regs;     /* AVX-512's mask registers (set where the probe sees zmm): a masked
                         * vector store is one store under a k mask.  Without them it is VEX's
                         * vmaskmovps, microcoded and slow on AMD cores (on Zen 3, mobilenet_v2's
                         * 7x7 160->960 layer lost a tenth of its time to them), or per-lane
                         * stores on SSE; stores under a constant mask are then split into plain
                         * ones (mf_cg_store_split) */
    int64_t l1d, l2;    /* cache sizes in bytes (typical for the class: LLVM does not say) */
    int fma_ports;      /* vector FMAs of `lanes` width the core starts a cycle (mf_cg_fma_ports):
                         * 2 on most FMA cores, 1 where a 512-bit vector takes both 256-bit pipes
                         * (Zen 4, Intel's AVX-512 client cores) or 256 bits take two 128-bit
                         * ones (Zen 1, Bulldozer); 0 without FMA */
    char uses[128];     /* the LLVM features its code uses, as the probes show them ("avx,avx2,
                         * avx512f,fma,avx512bw,avx512vnni,f16c", ...): what a host must have to
                         * run it (mf_cg_target_runs_here) */
} mf_cg_target_shape;

typedef struct mf_cg_target {
    char triple[64];
    char cpu[64];        /* LLVM CPU name, e.g. "znver4": the seed's core_version */
    char features[4096]; /* LLVM feature string, e.g. "+avx2,+avx512f,..." */
    unsigned llvm_major, llvm_minor, llvm_patch;
    mf_cg_target_shape shape; /* of cpu + features; part of the cache key */
} mf_cg_target;

/* Describes the host (cpu NULL) or a named LLVM CPU with the host's triple, checks that
 * LLVM can create a target machine for it and derives its shape (a probe compiled once
 * per CPU and feature string, then remembered).  Thread-safe. */
mf_status mf_cg_target_init(const char *cpu, mf_cg_target *out);
/* Whether a host with the features `has` (LLVM's list, "+avx2,-avx512f,...", or plain names)
 * runs code that uses the features `uses` (shape.uses): it has every one.  When not and
 * why_cap > 0, `why` lists those it lacks.  x86-64's SSE levels (SSE4.1 in x86-64-v2 code) are
 * not listed: every host of the last decade has them. */
bool mf_cg_uses_run_on(const char *uses, const char *has, char *why, size_t why_cap);
/* Whether this host runs code compiled for t (its shape.uses against the host's features,
 * mf_cg_uses_run_on); when not, `why` (of why_cap bytes) says so, naming the target, the host
 * and what it lacks. */
bool mf_cg_target_runs_here(const mf_cg_target *t, char *why, size_t why_cap);
/* shape.fma_ports of a target of that CPU name, feature string and probed shape. */
int mf_cg_fma_ports(const char *cpu, const char *features, const mf_cg_target_shape *shape);

/* The block of output channels in which the kernel compiled for a target of this shape
 * reads conv2d or qconv2d node n's weights, or matmul node n's left operand (rows), (the pack-weights
 * pass packs them so, mf_conv_weights_pack), 0 when it reads them plain. */
int64_t mf_cg_conv_weight_block(const mf_cg_target_shape *shape, const mf_node *n);

/* Whether a target of this shape runs an int8 3x3 convolution faster as f32 Winograd on its
 * dequantized input (the qconv-winograd pass): true without 8-bit dot products (VNNI). */
bool mf_cg_qconv_prefers_winograd(const mf_cg_target_shape *shape);

/* Whether the kernel compiled for a target of this shape reads qconv2d node n's weight rows
 * taps first (the pack-weights pass reorders them so, mf_qconv_weights_taps_first): where
 * 4 input channels of one tap make a quad, a window copy without shuffles. */
bool mf_cg_qconv_taps_first(const mf_cg_target_shape *shape, const mf_node *n);

typedef void (*mf_kernel_fn)(void *const *args, int64_t part, int64_t nparts);

typedef struct mf_cg_options {
    const mf_cg_target *target; /* NULL: the host */
    int opt_level;              /* 0..3, default pipeline default<O3> at 3 */
    int core_number;            /* partitions the kernel will be launched with (1, 4, 16), so
                                 * work is cut for that many; 0: 16 */
} mf_cg_options;

/* Object code of one kernel, as the cache stores it. */
typedef struct mf_cg_object {
    void *data; /* malloc'ed ELF object; freed by mf_cg_object_free */
    size_t size;
    char symbol[64];      /* the kernel's name inside the object */
    size_t scratch_bytes; /* size of the scratch argument, 0 for none */
    double compile_ms;    /* the whole compile: the three phases and the rest */
    double build_ms;      /* lowering to LLVM IR (and verifying it) */
    double optimize_ms;   /* LLVM's optimization pipeline */
    double emit_ms;       /* instruction selection and object emission */
} mf_cg_object;

/* The most ops one kernel takes: lowering walks expressions recursively (about 1 KB of
 * stack per op of a chain), so longer subgraphs are refused, never overflow the stack
 * (segmentation cuts fused subgraphs at 512 ops, MF_SEG_MAX_NODES). */
#define MF_CG_MAX_NODES 2048

/* Which of codegen's per-op tables (indexed by ops.def's list) builds op: a pointwise
 * emitter (elementwise and view ops) or a core lowering (anchors and reductions).  An op
 * with device code (ops.def's mlu column) has exactly one, every other op neither. */
bool mf_cg_has_emitter(mf_op op);
bool mf_cg_has_lowering(mf_op op);

/* Lowers sub to LLVM IR, optimizes it and emits object code.  Thread-safe (each call uses
 * its own LLVM context and target machine).  MF_ERR_UNSUPPORTED names the first node that
 * has no lowering, or says the subgraph has more than MF_CG_MAX_NODES ops. */
mf_status mf_cg_compile(const mf_graph *sub, const mf_cg_options *opt, mf_cg_object *out);
void mf_cg_object_free(mf_cg_object *obj);
/* Debugging and tests: the same compilation, emitting assembly text (malloc'ed, the caller
 * frees it) instead of an object. */
mf_status mf_cg_compile_asm(const mf_graph *sub, const mf_cg_options *opt, char **text);

/* Links object code into the process (one shared ORC LLJIT; adding and looking up are
 * serialized by a lock, so any thread may call it) and returns the kernel's address. */
mf_status mf_cg_load(const mf_cg_object *obj, mf_kernel_fn *out);

/* The assembly of the .text sections of object code (triple NULL: the host's); malloc'ed. */
mf_status mf_cg_disassemble(const void *object, size_t size, const char *triple, char **out);

#endif
