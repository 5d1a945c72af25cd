/* cg_internal.h — internals shared by the files of codegen/: the lowering context (one LLVM
 * module holding one kernel), the elementwise expression evaluator every lowering uses for
 * prologues and epilogues, the vectorizable math functions, and small IR-building helpers.
 * Only codegen/ includes this header (it pulls in llvm-c/). */
#ifndef MF_CG_INTERNAL_H
#define MF_CG_INTERNAL_H

#include <llvm-c/Core.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>

#include "codegen.h"

/* The most lanes a vector of the shape has (<16 x float>, a zmm): the size of lane arrays.
 * Kernels use c->vw lanes, the target's (mf_cg_target_shape). */
#define MF_CG_MAX_VW 16

/* One kernel under construction.  The ABI function unpacks args and calls `body`, whose
 * pointer parameters (outputs, inputs, scratch) are noalias so that LLVM vectorizes
 * without runtime alias checks. */
typedef struct mf_cg_ctx {
    LLVMContextRef C;
    LLVMModuleRef M;
    LLVMBuilderRef B;
    LLVMValueRef body;           /* the internal function being filled */
    LLVMTypeRef f32, i64, i32, i1, ptr;
    LLVMValueRef part, nparts;   /* i64 parameters of body */
    const mf_graph *g;
    LLVMValueRef *out_ptr;       /* per graph output */
    LLVMValueRef *in_ptr;        /* per graph input */
    size_t scratch_bytes;
    int core_number; /* partitions launches will run (mf_cg_options), >= 1 */
    mf_cg_target_shape shape; /* of the target compiled for: blocking follows it */
    int vw;                   /* shape.lanes: f32 lanes of one vector register */
} mf_cg_ctx;

/* ---- helpers (codegen/lower.c) --------------------------------------------------------- */

LLVMValueRef mf_cg_i64(mf_cg_ctx *c, int64_t v);
/* A float constant of type ty (scalar float or <W x float>: splat). */
LLVMValueRef mf_cg_fconst(mf_cg_ctx *c, LLVMTypeRef ty, double v);
LLVMValueRef mf_cg_iconst(mf_cg_ctx *c, LLVMTypeRef ty, int64_t v); /* i32 or <W x i32> */
LLVMTypeRef mf_cg_vec(mf_cg_ctx *c, LLVMTypeRef elem, unsigned w);  /* w 1: elem itself */
LLVMValueRef mf_cg_splat(mf_cg_ctx *c, LLVMValueRef scalar, unsigned w); /* w 1: scalar */
/* scalar in a vector of c->vw lanes, a <1 x T> on the scalar path (the engines' vectors). */
LLVMValueRef mf_cg_vsplat(mf_cg_ctx *c, LLVMValueRef scalar);
/* The same in w lanes (a vector even for w 1: the blocked layout's blocks of any width). */
LLVMValueRef mf_cg_vsplat_w(mf_cg_ctx *c, LLVMValueRef scalar, unsigned w);
/* Lanes first, first + step, first + 2 step, ... of vector wide: c->vw of them (a strided
 * row's inputs out of one wide load). */
LLVMValueRef mf_cg_lanes_every(mf_cg_ctx *c, LLVMValueRef wide, int64_t step, int64_t first);
/* Calls overloaded intrinsic `name` (e.g. "llvm.fma") over type ty with n operands. */
LLVMValueRef mf_cg_intrin(mf_cg_ctx *c, const char *name, LLVMTypeRef ty, int n,
                          LLVMValueRef *ops);
LLVMValueRef mf_cg_intrin2(mf_cg_ctx *c, const char *name, LLVMTypeRef *tys, int ntys,
                           LLVMTypeRef ret, int n, LLVMValueRef *ops);
/* A hint that the line at ptr will be read: locality 3 into L1, 2 into L2 (llvm.prefetch;
 * never faults, so ptr may lie past the tensor). */
void mf_cg_prefetch(mf_cg_ctx *c, LLVMValueRef ptr, int locality);
/* a*b + c with contraction allowed (one FMA). */
LLVMValueRef mf_cg_fmuladd(mf_cg_ctx *c, LLVMValueRef a, LLVMValueRef b, LLVMValueRef d);
LLVMValueRef mf_cg_gep(mf_cg_ctx *c, LLVMValueRef base, LLVMValueRef idx); /* float* + idx */
/* Stores float vector x at ptr, aligned to one element; mask (<W x i1>, or NULL: all lanes)
 * stores the live lanes only (mf_cg_load_f32_as loads so). */
void mf_cg_store_f32(mf_cg_ctx *c, LLVMValueRef x, LLVMValueRef ptr, LLVMValueRef mask);
/* Stores the lanes of x (elements et, aligned to align) that a compile-time constant mask
 * selects as at most 4 plain stores of 2^k lanes, on a target without mask registers
 * (shape.mask_regs), and says whether it did; else the caller stores under the mask. */
bool mf_cg_store_split(mf_cg_ctx *c, LLVMValueRef x, LLVMValueRef ptr, LLVMTypeRef et, unsigned align,
                       LLVMValueRef mask);

/* ---- index arithmetic (codegen/index.c) ------------------------------------------------
 * On i64 values; k is a compile-time constant.  Operands go to the builder in the order
 * written (a before b), so an engine written with these builds what it would by hand. */

LLVMValueRef mf_cg_ix_add(mf_cg_ctx *c, LLVMValueRef a, LLVMValueRef b);            /* a + b */
LLVMValueRef mf_cg_ix_sub(mf_cg_ctx *c, LLVMValueRef a, LLVMValueRef b);            /* a - b */
LLVMValueRef mf_cg_ix_addk(mf_cg_ctx *c, LLVMValueRef a, int64_t k);                /* a + k */
LLVMValueRef mf_cg_ix_subk(mf_cg_ctx *c, LLVMValueRef a, int64_t k);                /* a - k */
LLVMValueRef mf_cg_ix_mulk(mf_cg_ctx *c, LLVMValueRef a, int64_t k);                /* a * k */
LLVMValueRef mf_cg_ix_madd(mf_cg_ctx *c, LLVMValueRef a, int64_t k, LLVMValueRef b); /* a*k + b */
LLVMValueRef mf_cg_ix_udivk(mf_cg_ctx *c, LLVMValueRef a, int64_t k); /* a / k, unsigned */
LLVMValueRef mf_cg_ix_smink(mf_cg_ctx *c, LLVMValueRef a, int64_t k); /* min(a, k), signed */

/* A counted loop [lo, hi) stepping by step; iv is the i64 induction variable.  Between
 * begin and end the builder is in the body; after end it is after the loop. */
typedef struct mf_cg_loop {
    LLVMBasicBlockRef head, body, exit;
    LLVMValueRef iv;
} mf_cg_loop;
void mf_cg_loop_begin(mf_cg_ctx *c, mf_cg_loop *l, LLVMValueRef lo, LLVMValueRef hi);
void mf_cg_loop_end(mf_cg_ctx *c, mf_cg_loop *l, int64_t step);
/* The same, and LLVM leaves the loop as it is: not vectorized, interleaved or unrolled
 * (short loops whose vectorization costs more to compile than it saves). */
void mf_cg_loop_end_scalar(mf_cg_ctx *c, mf_cg_loop *l, int64_t step);
/* The same, and LLVM unrolls the loop whole (a constant trip count): LLVM's own unrollers
 * are off (compile.c), so the engines say which loops to unroll. */
void mf_cg_loop_end_unrolled(mf_cg_ctx *c, mf_cg_loop *l, int64_t step);
/* Closes a loop for LLVM's vectorizer with `count` vectors interleaved per iteration. */
void mf_cg_loop_end_interleaved(mf_cg_ctx *c, mf_cg_loop *l, int64_t step, int count);
/* [*lo, *hi) = this partition's share of `total` work items, boundaries rounded to `align`. */
void mf_cg_part_range(mf_cg_ctx *c, int64_t total, int64_t align, LLVMValueRef *lo,
                      LLVMValueRef *hi);
/* part_split.c: partition p's first item of `total` (of nparts), rounded up to `align`: what
 * mf_cg_part_range emits.  Monotone, 0 at p = 0, total at p = nparts. */
int64_t mf_cg_part_bound(int64_t p, int64_t nparts, int64_t total, int64_t align);
/* Work items that are `items` blocks x nys ranges of `rows` rows (range s: rows [s * rows /
 * nys, (s + 1) * rows / nys)) split over `parts` partitions: the rows of the busiest
 * partition over the mean, less 1. */
double mf_cg_rows_imbalance(int64_t items, int64_t rows, int64_t nys, int64_t parts);
/* The nys in [min_nys, max_nys] (and <= rows) of the least such imbalance, the smallest of
 * equals (each range costs an item's setup), or the first within 1 %. */
int64_t mf_cg_rows_split(int64_t items, int64_t rows, int64_t parts, int64_t min_nys, int64_t max_nys);
/* Whether a 1x1 GEMM (cing -> coutg channels, npix pixels in nfull full tiles, nchunk chunks
 * by its L2 sizing) compiled for `parts` partitions gets `parts` chunks of pixels, one a
 * partition (chunk q: full tiles [mf_cg_part_bound(q, parts, nfull, 1), ...)), instead of
 * sharing out blocks of output channels. */
bool mf_cg_gemm_split_pixels(int64_t cing, int64_t coutg, int64_t npix, int64_t nfull, int64_t nchunk,
                             int64_t parts);
/* Work items in segs segments of nfull x nmb items that cost `full` each and then nmb that
 * cost `tail` each (a GEMM's blocks of channels over its full tiles, then over the partial
 * tile): partition p's first item when partitions share out the cost, not the count (the
 * first item whose cost starts at or after p / nparts of the total).  Monotone, 0 at p = 0,
 * segs (nfull + 1) nmb at p = nparts; mf_cg_tail_part_range emits it. */
int64_t mf_cg_tail_part_bound(int64_t p, int64_t nparts, int64_t segs, int64_t nfull, int64_t nmb, int64_t full,
                              int64_t tail);
void mf_cg_tail_part_range(mf_cg_ctx *c, int64_t segs, int64_t nfull, int64_t nmb, int64_t full, int64_t tail,
                           LLVMValueRef *lo, LLVMValueRef *hi);
/* Unravels a flat index over dims[0..n) (row-major) into coords (i64 values). */
void mf_cg_unravel(mf_cg_ctx *c, LLVMValueRef flat, int n, const int64_t *dims,
                   LLVMValueRef *coords);
int mf_cg_output_index(const mf_graph *g, const mf_value *v); /* -1 when not an output */
int mf_cg_input_index(const mf_graph *g, const mf_value *v);  /* -1 when not an input */
/* The graph input that input 0 of n reads through views (a pooling's plain source), or NULL. */
const mf_value *mf_cg_view_source(const mf_graph *g, const mf_node *n);

/* Vector registers free for accumulators in a kernel that also keeps `live` other vectors
 * (inputs, broadcasts) in registers: what the target has, less a spare (two without FMA,
 * where a product waits for its add), at most 24 (more only adds loop overhead). */
int mf_cg_acc_regs(const mf_cg_ctx *c, int live);

/* ---- register tiles (codegen/tile.c) ----------------------------------------------------
 * Of the engines that broadcast one weight against vectors of pixels (rows, plane; the 1x1
 * GEMM's FMA step): R channels x V vectors of accumulators. */

/* Accumulators such a tile may hold on a target of shape s (12 on AVX2, 24 on AVX-512). */
int mf_cg_tile_accs(const mf_cg_target_shape *s);
/* Channels per block for tiles of `vecs` vectors: what the accumulators hold less `held`
 * registers the engine keeps for something else, at most `total` (the channels of a group),
 * evened out over the blocks of `total`. */
int mf_cg_tile_rows(const mf_cg_target_shape *s, int vecs, int64_t total, int held);
/* The share of the cycles of an R x V tile's k step (its FMAs over the target's FMA pipes)
 * that streaming its V input vectors from L2 leaves them, when they do not stay in L1: 1 on
 * one-pipe cores (Zen 4's 6 x 4 takes 24 cycles for 16 of loads) and for AVX2's 6 x 2 (6
 * cycles for about 5); about half for AVX2's 3 x 4. */
double mf_cg_tile_l2_feed(const mf_cg_target_shape *s, int R, int V);
/* Rows or vectors of a tile at most. */
#define MF_CG_TILE_MAX 24
/* Operand i of a tile step: a broadcast weight (row i) or an input vector (vector i; NULL:
 * all padding, no FMA). */
typedef LLVMValueRef (*mf_cg_tile_load_fn)(void *ctx, int i);
/* One step of an R x V tile: acc[j*V + v] (allocas of c->vw lanes) += bcast(j) * vec(v).
 * The fewer of the two kinds of operands stay in registers and each of the others is loaded
 * just before its FMAs: R*V + min(R, V) + 1 registers (a 3x4 tile in AVX2's 16 kept all
 * four inputs and spilled an accumulator). */
void mf_cg_tile_fmas(mf_cg_ctx *c, int R, int V, LLVMValueRef *acc, mf_cg_tile_load_fn bcast,
                     mf_cg_tile_load_fn vec, void *ctx);
/* A tile's accumulators set to their channels' bias (channel oc0 + j for row j; bias NULL:
 * zero), so that the epilogue adds nothing: on short K (16->96 at 112x112, K = 16) the
 * bias add was a third of the epilogue's vector ops, beside 16 FMAs an accumulator. */
void mf_cg_acc_init_bias(mf_cg_ctx *c, LLVMTypeRef vt, int R, int V, LLVMValueRef bias, LLVMValueRef oc0,
                         LLVMValueRef *acc);
/* The first row (channel within the group) of block b (i64) of R rows of `total`.  When R
 * does not divide total, the last block overlaps the one before: it computes R rows as
 * every block does (one copy of the code, not a second one for a narrower block), and
 * *skip (i64; NULL when the blocks tile exactly) is how many of its first rows the block
 * before already stored. */
LLVMValueRef mf_cg_tile_block_start(mf_cg_ctx *c, LLVMValueRef b, int R, int64_t total, LLVMValueRef *skip);
/* Around the stores of row j of such a block: a branch taken when j >= skip, so no output is
 * stored twice (an epilogue may read what it overwrites: a residual add); none for the rows
 * no block skips.  A branch, not a store mask: the other blocks' stores stay plain.  Returns
 * the block that mf_cg_tile_row_end joins at (NULL: no branch). */
LLVMBasicBlockRef mf_cg_tile_row_begin(mf_cg_ctx *c, LLVMValueRef skip, int j, int R, int64_t total);
void mf_cg_tile_row_end(mf_cg_ctx *c, LLVMBasicBlockRef join);

/* ---- the expression evaluator (codegen/expr.c) ------------------------------------------
 * Evaluates an elementwise/view expression of graph values at one point of an iteration
 * space ("loop dims"), for 1 lane (scalars) or c->vw lanes along one loop dim. */

/* Where value v's elements are, relative to the loop dims: v's linear index is
 * sum(coord[m] * s[m]); dim[j] names the loop dim that v's dim j follows (-1: always 0, the
 * dim is broadcast; -2: unknown, after a reshape that splits or merges dims). */
typedef struct mf_cg_map {
    int64_t s[MF_MAX_RANK];
    int dim[MF_MAX_RANK];
} mf_cg_map;

typedef struct mf_cg_point {
    int nloop;
    int64_t extent[MF_MAX_RANK];     /* size of each loop dim */
    LLVMValueRef coord[MF_MAX_RANK]; /* i64; the lane dim's coord is the first lane's */
    int lane;                        /* loop dim along the lanes, -1 for scalars */
    unsigned width;                  /* 1 or c->vw */
    LLVMValueRef mask;               /* <W x i1> of live lanes, or NULL: all */
    /* Loop dims may be groups of a value space's dims (collapsed): strides in maps are
     * over the `nspace` dims, and loop dim m reads the stride of space dim stride_of[m]. */
    int nspace;
    int stride_of[MF_MAX_RANK];
    const mf_value *core;  /* value held in registers (an anchor's or reduction's result) */
    LLVMValueRef core_val; /* its value at this point */
    mf_cg_map core_map;    /* the only map under which core_val is valid */
    /* memo of values evaluated at this point */
    int nmemo;
    struct {
        const mf_value *v;
        mf_cg_map m;
        LLVMValueRef x;
    } memo[64];
} mf_cg_point;

/* A calloc'd scalar point (width 1, no lane) whose loop dims are t's dims, one to one;
 * NULL when out of memory. */
mf_cg_point *mf_cg_point_over(const mf_type *t);
/* The identity map of a value of type t that spans the space dims (row-major strides,
 * size-1 dims broadcast). */
mf_cg_map mf_cg_map_for(const mf_type *t, int nspace, const int64_t *space);
/* The map of a view's input of type it, given the view's output type ot and map om (same
 * linear index; dims known when the non-1 dims agree, -2 otherwise). */
void mf_cg_view_map(const mf_type *it, const mf_type *ot, const mf_cg_map *om, mf_cg_map *im);
/* Fills the maps of every input of node n from the map of its output; MF_ERR_UNSUPPORTED
 * when a broadcast follows a reshape that hides the dims. */
mf_status mf_cg_input_maps(const mf_node *n, const mf_cg_map *out, int nspace,
                           mf_cg_map *in_maps);
/* Visits every graph input reached from v (stopping at core) with its map, so lowerings
 * can choose loop shapes before emitting code. */
typedef void (*mf_cg_leaf_fn)(void *ctx, const mf_value *leaf, const mf_cg_map *m);
mf_status mf_cg_visit_leaves(const mf_value *v, const mf_value *core, const mf_cg_map *m,
                             int nspace, mf_cg_leaf_fn fn, void *ctx);
/* The value of v at point p (float or <W x float>). */
mf_status mf_cg_eval(mf_cg_ctx *c, mf_cg_point *p, const mf_value *v, const mf_cg_map *m,
                     LLVMValueRef *out);
/* Stores x (of point p's width) to float* base at linear offset sum(coord*s), masked. */
void mf_cg_store(mf_cg_ctx *c, mf_cg_point *p, LLVMValueRef base, const mf_cg_map *m,
                 LLVMValueRef x);
LLVMValueRef mf_cg_load_at(mf_cg_ctx *c, mf_cg_point *p, LLVMValueRef base, const mf_cg_map *m);
/* The same for a buffer of dtype t: i8 elements are loaded as their codes in f32 lanes,
 * and stored from them (the value must be an integer in [-128, 127]). */
LLVMValueRef mf_cg_load_as(mf_cg_ctx *c, mf_cg_point *p, LLVMValueRef base, const mf_cg_map *m,
                           mf_dtype t);
void mf_cg_store_as(mf_cg_ctx *c, mf_cg_point *p, LLVMValueRef base, const mf_cg_map *m,
                    LLVMValueRef x, mf_dtype t);
/* f16 storage (codegen/half.c): float or <W x float> to and from half or <W x half>, by the
 * target's conversions (F16C's vcvtph2ps / vcvtps2ph; without F16C, LLVM's soft ones). */
LLVMValueRef mf_cg_widen_half(mf_cg_ctx *c, LLVMValueRef h);
LLVMValueRef mf_cg_narrow_half(mf_cg_ctx *c, LLVMValueRef x);
/* A pointer `idx` elements past base, for elements of dtype t (f32 or f16). */
LLVMValueRef mf_cg_gep_as(mf_cg_ctx *c, LLVMValueRef base, LLVMValueRef idx, mf_dtype t);
/* A load of vt (float or <W x float>) at ptr, from elements of dtype t (f32 or f16: then
 * widened), aligned to one element; mask (<W x i1>, or NULL: all lanes) loads the live
 * lanes only, the others 0. */
LLVMValueRef mf_cg_load_f32_as(mf_cg_ctx *c, LLVMTypeRef vt, LLVMValueRef ptr, LLVMValueRef mask,
                               mf_dtype t);
/* The same from a vector of lane pointers (a masked gather). */
LLVMValueRef mf_cg_gather_f32_as(mf_cg_ctx *c, LLVMTypeRef vt, LLVMValueRef ptrs, LLVMValueRef mask,
                                 mf_dtype t);

/* Is v elementwise in the sense of the evaluator (an elementwise or view op's output)? */
bool mf_cg_is_pointwise(mf_op op);

/* ---- the per-op tables, indexed by ops.def's list ---------------------------------------
 * Adding an op with device code is one entry in one of them: a pointwise emitter (an
 * elementwise or view op, evaluated at a point by the evaluator; codegen/expr.c) or a core
 * lowering (an anchor or reduction: a loop nest with the subgraph's prologue and epilogue;
 * codegen/lower.c).  mf_cg_has_emitter/mf_cg_has_lowering (codegen.h) say which. */

/* The op of node n on its evaluated inputs in[0..ninputs) (float or <W x float>). */
typedef LLVMValueRef (*mf_cg_emit_fn)(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in);
/* Fills the body for core node n, storing the epilogue outputs epi[0..nepi). */
typedef mf_status (*mf_cg_lower_fn)(mf_cg_ctx *c, const mf_node *n, int nepi,
                                    const mf_value *const *epi);
mf_cg_emit_fn mf_cg_emitter(mf_op op); /* NULL: none */
/* The emitters of codegen/expr_onnx.c (the elementwise ops ONNX import added). */
LLVMValueRef mf_cg_emit_minimum(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in);
LLVMValueRef mf_cg_emit_maximum(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in);
LLVMValueRef mf_cg_emit_prelu(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in);
LLVMValueRef mf_cg_emit_elu(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in);
LLVMValueRef mf_cg_emit_selu(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in);
LLVMValueRef mf_cg_emit_celu(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in);
LLVMValueRef mf_cg_emit_reciprocal(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in);
LLVMValueRef mf_cg_emit_floor(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in);
LLVMValueRef mf_cg_emit_ceil(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in);
LLVMValueRef mf_cg_emit_round(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in);
LLVMValueRef mf_cg_emit_sign(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in);
LLVMValueRef mf_cg_emit_softplus(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in);
LLVMValueRef mf_cg_emit_softsign(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in);
LLVMValueRef mf_cg_emit_thresholded_relu(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in);
LLVMValueRef mf_cg_emit_shrink(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in);

/* ---- math (codegen/math.c): vectorizable polynomials on float or <W x float> ------------ */

LLVMValueRef mf_cg_exp(mf_cg_ctx *c, LLVMValueRef x);
LLVMValueRef mf_cg_log(mf_cg_ctx *c, LLVMValueRef x);
LLVMValueRef mf_cg_tanh(mf_cg_ctx *c, LLVMValueRef x);
LLVMValueRef mf_cg_sigmoid(mf_cg_ctx *c, LLVMValueRef x);
/* tanh and sigmoid as num / den before their one division, each bounded (math.c), so that
 * the product of two of them takes one division (mf_cg_eval) */
void mf_cg_tanh_frac(mf_cg_ctx *c, LLVMValueRef x, LLVMValueRef *num, LLVMValueRef *den);
void mf_cg_sigmoid_frac(mf_cg_ctx *c, LLVMValueRef x, LLVMValueRef *num, LLVMValueRef *den);

/* ---- target (codegen/target.c) ---------------------------------------------------------- */

/* mf_cg_target_init for a named CPU with features changed by `features` (LLVM's "+name,-name",
 * NULL: the CPU's own), e.g. cascadelake with "-avx512bw": what a VM that hides a feature
 * reports, and how tests reach shapes no CPU name has. */
mf_status mf_cg_target_init_features(const char *cpu, const char *features, mf_cg_target *out);

/* ---- int8 (codegen/quant.c): an i8 value is its integer code in f32 lanes --------------- */

/* The shape the int8 kernels of a target of shape s are cut to: s, or where s has 16 lanes
 * without AVX-512BW (whose packs and byte vectors they need at 16 lanes) 8 lanes of 16
 * registers, with VNNI's vpdpbusd where the target has it at 256 bits (AVX-512VL), else
 * AVX2's vpmaddubsw / vpmaddwd. */
mf_cg_target_shape mf_cg_int8_shape(const mf_cg_target_shape *s);

/* The requantization of an int8 op's result (attributes y_scale, y_zero_point, min, max). */
typedef struct mf_cg_requant {
    float y_scale, lo, hi;
    int y_zp;
} mf_cg_requant;
mf_cg_requant mf_cg_requant_of(const mf_node *n);
/* clamp(round_half_even(y / scale) + zp, -128, 127), NaN to zp: the code of real value y. */
LLVMValueRef mf_cg_quantize_code(mf_cg_ctx *c, LLVMValueRef y, float scale, int zp);
/* y clamped to [r.lo, r.hi], then its code (the reference kernels' requantize). */
LLVMValueRef mf_cg_requantize(mf_cg_ctx *c, LLVMValueRef y, const mf_cg_requant *r);
/* Whether mf_cg_pack_codes packs vectors of w lanes for the target (x86: SSE2, AVX2 and
 * AVX-512BW signed packs). */
bool mf_cg_packs_codes(mf_cg_ctx *c, unsigned w);
/* n (2 or 4) vectors of w codes (f32 lanes holding -128..127) packed to bytes by
 * packssdw + packsswb (3 instructions for 4 vectors, where truncating each is 2): code i
 * of vector s at byte 16 (i / 4) + 4 s + i % 4 of the <4w x i8> result (with n = 2 the
 * bytes at 16 j + 8.. repeat 16 j..); the caller orders them by one byte shuffle. */
LLVMValueRef mf_cg_pack_codes(mf_cg_ctx *c, LLVMValueRef *codes, int n, unsigned w);
/* w codes (f32 lanes holding -128..127) as i32 lanes: fptosi, or where the codes are
 * rint(x) + zp, vcvtps2dq of x and an integer add (two instructions, not three). */
LLVMValueRef mf_cg_codes_to_i32(mf_cg_ctx *c, LLVMValueRef code, unsigned w);
/* quantize, dequantize and qadd on evaluated inputs; NULL for other ops. */
LLVMValueRef mf_cg_quant_op(mf_cg_ctx *c, const mf_node *n, LLVMValueRef *in);
/* acc + per i32 lane of u and s (<W x i32>) the sum of 4 products of u's unsigned bytes by
 * s's signed bytes: vpdpbusd where the target has VNNI, int16 products (vpmaddwd)
 * elsewhere.  acc is of mf_cg_dot4_acc_type: W lanes with VNNI, else 2W (each lane's two
 * pair sums apart, added once by mf_cg_dot4_sum, not at every step).  The sum of all
 * lanes of acc is the sum of all products either way. */
LLVMTypeRef mf_cg_dot4_acc_type(mf_cg_ctx *c, unsigned w);
LLVMValueRef mf_cg_dot4(mf_cg_ctx *c, LLVMValueRef acc, LLVMValueRef u, LLVMValueRef s);
LLVMValueRef mf_cg_dot4_sum(mf_cg_ctx *c, LLVMValueRef acc, unsigned w); /* <W x i32> */
/* Without VNNI (mf_cg_dot4_widens): the same step on operands already widened to int16
 * (<4W x i16>: u zero-extended, s sign-extended), so a kernel that reuses an operand widens
 * it once, not at every step. */
bool mf_cg_dot4_widens(const mf_cg_ctx *c, unsigned w);
/* Instead, where the target has AVX2 and no VNNI and qconv2d's w_pair_max allows it: acc
 * (<8 x i32>) + the dot products of the quads of u (unsigned) and s (signed bytes) by
 * vpmaddubsw and vpmaddwd with ones, exact (no pair sum saturates). */
bool mf_cg_dot4_ubsw(const mf_cg_ctx *c, unsigned w, int64_t w_pair_max);
/* The block of output channels in which qconv2d's engine reads packed weights on this
 * target (lower_qconv.c's oc_sweep), 0 when it reads them plain. */
int64_t mf_cg_qconv_weight_block(const mf_cg_target_shape *shape, const mf_node *n);
LLVMValueRef mf_cg_dot4_ubsw_step(mf_cg_ctx *c, LLVMValueRef acc, LLVMValueRef u, LLVMValueRef s);
/* Masked byte loads and stores (AVX-512: 32 registers), which AVX2 lacks. */
bool mf_cg_masked_bytes(const mf_cg_ctx *c);
/* The bytes x0 .. x0 + n - 1 (n: ok's lanes) of row iy of a plane of h rows of w bytes, fill
 * where ok is false; iy and x0 may lie outside the plane (ok false there).  A lane where ok
 * is false but the row holds the byte may read it instead of fill. */
LLVMValueRef mf_cg_load_row_bytes(mf_cg_ctx *c, LLVMValueRef plane, int64_t h, int64_t w, LLVMValueRef iy,
                                  LLVMValueRef x0, LLVMValueRef ok, int fill);
LLVMValueRef mf_cg_dot4_wide(mf_cg_ctx *c, LLVMValueRef acc, LLVMValueRef a, LLVMValueRef b);
/* Row iy of an int8 plane (h x w) staged in wp elements at dst, column c holding input column
 * c - pw, V bytes at a time (wp a multiple of V): u = x + 128 bytes (zp + 128 outside the
 * plane), or when wide the int16 x - zp (0 outside). */
void mf_cg_stage_qrow(mf_cg_ctx *c, LLVMValueRef plane, int64_t h, int64_t w, LLVMValueRef iy, int64_t pw, int64_t wp,
                      int V, int zp, bool wide, LLVMValueRef dst);

/* ---- lowerings -------------------------------------------------------------------------- */

/* Fills body for the whole subgraph (codegen/lower.c picks one of the below). */
mf_status mf_cg_lower(mf_cg_ctx *c);
/* Stores every output in outs[0..n) by one loop nest per output shape (lower_elementwise.c). */
mf_status mf_cg_lower_elementwise(mf_cg_ctx *c, int n, const mf_value *const *outs);
/* Evaluates and stores the outputs in epi[0..n) at point p, whose loop dims are the core's
 * output dims (the epilogue of an anchor or reduction). */
mf_status mf_cg_store_epilogue(mf_cg_ctx *c, mf_cg_point *p, int n,
                               const mf_value *const *epi);
/* lower_conv_blocks.c: the blocked channel layout's ops */
mf_status mf_cg_lower_conv2d_blocks(mf_cg_ctx *c, const mf_node *n, int nepi,
                                    const mf_value *const *epi);
mf_status mf_cg_lower_to_blocks(mf_cg_ctx *c, const mf_node *n, int nepi,
                                const mf_value *const *epi);
mf_status mf_cg_lower_from_blocks(mf_cg_ctx *c, const mf_node *n, int nepi,
                                  const mf_value *const *epi);
mf_status mf_cg_lower_conv(mf_cg_ctx *c, const mf_node *n, int nepi,
                           const mf_value *const *epi);
mf_status mf_cg_lower_matmul(mf_cg_ctx *c, const mf_node *n, int nepi,
                             const mf_value *const *epi);
mf_status mf_cg_lower_linear(mf_cg_ctx *c, const mf_node *n, int nepi,
                             const mf_value *const *epi);
/* Reductions by family (lower_reduce.c): softmax and log_softmax; sum and mean; the pools. */
mf_status mf_cg_lower_softmax(mf_cg_ctx *c, const mf_node *n, int nepi,
                              const mf_value *const *epi);
mf_status mf_cg_lower_sum(mf_cg_ctx *c, const mf_node *n, int nepi, const mf_value *const *epi);
mf_status mf_cg_lower_pool2d(mf_cg_ctx *c, const mf_node *n, int nepi,
                             const mf_value *const *epi);
/* int8 anchors (lower_qconv.c: qconv2d, qlinear; lower_qmatmul.c): int32 sums by mf_cg_dot4,
 * requantized in the epilogue. */
mf_status mf_cg_lower_qconv(mf_cg_ctx *c, const mf_node *n, int nepi, const mf_value *const *epi);
mf_status mf_cg_lower_qlinear(mf_cg_ctx *c, const mf_node *n, int nepi, const mf_value *const *epi);
mf_status mf_cg_lower_qmatmul(mf_cg_ctx *c, const mf_node *n, int nepi, const mf_value *const *epi);
/* The K loop of qlinear and of qmatmul's unblocked path (qdot.c): the two int32 sums that
 * `step` accumulates over K bytes of rows xr and wr, 4W bytes a step (the last `valid` < 4W,
 * its bytes past K read as 0), into acc[0] and acc[1] (of mf_cg_dot4_acc_type), in
 * independent chains so the dot products overlap; out = each sum over all lanes (i32). */
typedef void mf_cg_qdot_step(mf_cg_ctx *c, LLVMValueRef xr, LLVMValueRef wr, LLVMValueRef k, int w, int64_t valid,
                             const LLVMValueRef acc[2]);
void mf_cg_qdot_sums(mf_cg_ctx *c, mf_cg_qdot_step *step, LLVMValueRef xr, LLVMValueRef wr, int64_t K, int W,
                     LLVMValueRef out[2]);
/* The quads of 4W bytes at ptr as <W x i32> (bytes at or past `valid` read as 0 when valid < 4W). */
LLVMValueRef mf_cg_load_quads(mf_cg_ctx *c, LLVMValueRef ptr, int w, int64_t valid);
bool mf_cg_qpool_applies(mf_cg_ctx *c, const mf_node *n); /* mf_cg_lower_qmax_pool lowers n */
mf_status mf_cg_lower_qmax_pool(mf_cg_ctx *c, const mf_node *n, int nepi, const mf_value *const *epi);
bool mf_cg_fpool_applies(mf_cg_ctx *c, const mf_node *n); /* mf_cg_lower_fmax_pool lowers n */
mf_status mf_cg_lower_fmax_pool(mf_cg_ctx *c, const mf_node *n, int nepi, const mf_value *const *epi);
/* Winograd F(4,3)'s input and output transforms (lower_winograd.c). */
mf_status mf_cg_lower_winograd_input(mf_cg_ctx *c, const mf_node *n, int nepi,
                                     const mf_value *const *epi);
mf_status mf_cg_lower_winograd_output(mf_cg_ctx *c, const mf_node *n, int nepi,
                                      const mf_value *const *epi);
/* A Winograd chain (ir/winograd_chain.c) as one kernel: the input transform, the GEMMs and
 * the output transform (with the epilogue) a block of tile rows at a time. */
mf_status mf_cg_lower_winograd_chain(mf_cg_ctx *c, const mf_winograd_chain *ch, int nepi,
                                     const mf_value *const *epi);

/* The direct-convolution tile engine shared by conv2d and matmul (lower_conv.c): out[b,
 * oc, oy, ox] = sum over ic, ky, kx of w[b?, oc, ic, ky, kx] * x[b, ic, iy, ix]. */
typedef struct mf_cg_conv_geom {
    int64_t batch, cin, h, w, cout, kh, kw, oh, ow;
    int64_t sh, sw, ph, pw, dh, dw, groups;
    /* batch dims (the output's leading dims): per dim its size and the element stride
     * of x and of w along it (0 where that operand is broadcast) */
    int nbd;
    int64_t bshape[MF_MAX_RANK], bx_stride[MF_MAX_RANK], bw_stride[MF_MAX_RANK];
    LLVMValueRef x, wt, bias; /* float* (bias may be NULL) */
    mf_dtype xdt, wdt;        /* what x and wt hold: f32, or f16 that the loads widen */
    /* matmul: w is the left operand [rows = cout][K = cin] and x the right [K][ow]; the
     * output has no h dim.  conv: output [batch, cout, oh, ow]. */
    bool is_matmul;
    /* conv weights prepacked by the graph (conv2d's and matmul's `packed` attribute):
     * blocks of this many output channels, each laid out [ic][ky][kx][channel of the
     * block], the last block narrower when cout is not a multiple; 0: the plain
     * [oc][ic][ky][kx] */
    int64_t wblock;
} mf_cg_conv_geom;
/* The engine geometry of matmul node n, no buffers yet (lower_matmul.c). */
mf_cg_conv_geom mf_cg_matmul_geom(const mf_node *n);
/* The engine geometry of conv2d node n, no buffers yet (lower_conv.c). */
mf_cg_conv_geom mf_cg_conv_geom_of(const mf_node *n);
/* The buffer of input i of anchor n (looking through views); NULL with an error set when
 * it is computed inside the subgraph. */
LLVMValueRef mf_cg_anchor_input(mf_cg_ctx *c, const mf_node *n, int i);
/* The dtype of that buffer: f16 when a widening cast was looked through (the engine's
 * loads widen), else the input's. */
mf_dtype mf_cg_anchor_dtype(const mf_node *n, int i);
mf_status mf_cg_emit_conv(mf_cg_ctx *c, const mf_cg_conv_geom *g, const mf_value *core,
                          int nepi, const mf_value *const *epi);

/* Element offset of batch coords bc along per-dim strides (lower_conv.c). */
LLVMValueRef mf_cg_conv_batch_offset(mf_cg_ctx *c, const mf_cg_conv_geom *g, const LLVMValueRef *bc,
                                     const int64_t *stride);
/* A calloc'd point over the output of anchor `core`, `width` lanes along dim `lane`, batch
 * coords set, for the epilogue evaluator (lower_conv.c); NULL with an error if out of
 * memory. */
mf_cg_point *mf_cg_conv_point(const mf_value *core, int lane, unsigned width, int nbd,
                              const LLVMValueRef *bcoord);
/* A padded copy of a conv's input (AVX2 holds load masks in vector registers; with the
 * copy no load is masked): a stack buffer of nfloats (and a spare vector), and *last, the
 * batch index x group copied (none yet), set before the work items' loop. */
#define MF_CG_PAD_MAX_BYTES ((int64_t)1 << 20) /* the buffer at most (28x28 planes of 256 channels) */
LLVMValueRef mf_cg_pad_input_begin(mf_cg_ctx *c, int64_t nfloats, LLVMValueRef *last);
/* Copies, unless *last is bg already, the input at xg (g: cin/groups planes of h x w, of
 * g->xdt) to dst as f32 planes of hp rows of wp: padded row r, column j hold input row r - ph,
 * column j - pw, zeros outside it. */
void mf_cg_pad_input(mf_cg_ctx *c, const mf_cg_conv_geom *g, LLVMValueRef xg, LLVMValueRef bg, LLVMValueRef last,
                     LLVMValueRef dst, int64_t hp, int64_t wp);
/* The plane engine (lower_conv_plane.c): stride-1 convs whose output is as wide as the
 * input and narrower than 16 (7x7, 14x14 layers). */
bool mf_cg_plane_choose(const mf_cg_ctx *c, const mf_cg_conv_geom *g);
/* Whether a layer the plane engine would take goes to the output-channel engine instead,
 * with prepacked weights (small planes, rows under 8 pixels: mf_cg_emit_conv decides, as the
 * output-channel plan must also prepack). */
bool mf_cg_plane_cedes(const mf_cg_ctx *c, const mf_cg_conv_geom *g);
mf_status mf_cg_emit_conv_plane(mf_cg_ctx *c, const mf_cg_conv_geom *g, const mf_value *core, int nepi,
                                const mf_value *const *epi);

/* The depthwise engine (lower_conv_dw.c): groups == input channels == output channels. */
bool mf_cg_dw_choose(const mf_cg_ctx *c, const mf_cg_conv_geom *g);
mf_status mf_cg_emit_conv_dw(mf_cg_ctx *c, const mf_cg_conv_geom *g, const mf_value *core, int nepi,
                             const mf_value *const *epi);
/* Its row loop on any buffer (the fused expand + depthwise engine's band of wide rows):
 * mf_cg_dw_new chooses the sweep for g and allocates its accumulators (NULL with an error
 * set when out of memory; the caller frees it with mf_cg_dw_free); mf_cg_dw_plane points it
 * at one channel's plane (`plane` holds input rows from row0 on, row0 NULL: 0; every row a
 * sweep reads must be there, zeros for the padding rows) and loads that channel's weights
 * and bias; mf_cg_dw_rows emits the n output rows from oy (no row checks), bias and
 * epilogue included. */
typedef struct mf_cg_dw mf_cg_dw;
mf_cg_dw *mf_cg_dw_new(mf_cg_ctx *c, const mf_cg_conv_geom *g, const mf_value *core, int nepi,
                       const mf_value *const *epi);
void mf_cg_dw_free(mf_cg_dw *e);
void mf_cg_dw_plane(mf_cg_dw *e, LLVMValueRef plane, LLVMValueRef row0, LLVMValueRef ch, const LLVMValueRef *bcoord);
mf_status mf_cg_dw_rows(mf_cg_dw *e, LLVMValueRef oy, int64_t n);
/* The fused depthwise + projection engine's: after mf_cg_dw_sink, the sweeps store value v
 * (the depthwise's result, or an elementwise chain of it: its activation) of output row oy
 * at to + (oy - to_row0) * ow (a band buffer of whole rows) instead of running the epilogue;
 * mf_cg_dw_rows_between emits output rows [y, end) (i64, at run time) of an input plane
 * whose padding rows are not stored (rows outside the input are skipped). */
void mf_cg_dw_sink(mf_cg_dw *e, const mf_value *v, LLVMValueRef to, LLVMValueRef to_row0);
mf_status mf_cg_dw_rows_between(mf_cg_dw *e, LLVMValueRef y, LLVMValueRef end);

/* The fused inverted-residual chain (lower_conv_expand_dw.c, ir/expand_dw.c): the 1x1
 * expansion's rows computed a band at a time into a buffer the depthwise engine reads; with
 * dp (its depthwise conv's projection; NULL: none) the depthwise rows go to a second buffer
 * that the projection's GEMM tiles read, the epilogue the projection's. */
mf_status mf_cg_lower_expand_dw(mf_cg_ctx *c, const mf_expand_dw *ch, const mf_dw_project *dp,
                                int nepi, const mf_value *const *epi);
/* The fused depthwise + projection chain (lower_conv_dw_project.c, ir/expand_dw.c): the
 * depthwise rows a band at a time into a buffer that the projection's GEMM tiles read. */
mf_status mf_cg_lower_dw_project(mf_cg_ctx *c, const mf_dw_project *dp, int nepi,
                                 const mf_value *const *epi);

/* A qconv2d's geometry (x and wt: int8), its epilogue and its quantization constants
 * (lower_qconv.c), for its engines. */
typedef struct mf_cg_qconv_op {
    mf_cg_conv_geom g;
    const mf_value *core;
    int nepi;
    const mf_value *const *epi;
    LLVMValueRef wscale; /* f32[cout] or f32[1] */
    bool per_channel;
    float xs;
    int xzp;
    mf_cg_requant rq;
} mf_cg_qconv_op;
/* The direct int8 depthwise engine (lower_qconv_dw.c): groups == channels, no dilation,
 * horizontal stride 1 or 2 (or 4 with VNNI: a stride that divides the taps of a dot). */
bool mf_cg_qdw_choose(const mf_cg_ctx *c, const mf_cg_conv_geom *g);
mf_status mf_cg_emit_qconv_dw(mf_cg_ctx *c, const mf_cg_qconv_op *op);

/* The 1x1 GEMM engine (lower_conv_gemm.c): 1x1 convs without padding (strided ones on a
 * gathered panel), on the flattened plane, and matmuls whose rows hold 8 vectors or more;
 * MR channels x NV vectors per tile from the target's registers (false: not GEMM-shaped:
 * another engine runs it). */
bool mf_cg_gemm_blocking(const mf_cg_target_shape *s, const mf_cg_conv_geom *g, int *mr, int *nv);
/* Can the epilogue of a conv's result run on its flattened plane: does everything it reads
 * step over the output's rows as over its columns? */
bool mf_cg_epilogue_flattens(const mf_value *core, int nepi, const mf_value *const *epi);
mf_status mf_cg_emit_conv_gemm(mf_cg_ctx *c, const mf_cg_conv_geom *g, const mf_value *core, int nepi,
                               const mf_value *const *epi);
/* Its tiles on a panel that a fused engine fills (a stride-1, ungrouped 1x1 conv g; g->x
 * unused): MR x NV, the GEMM engine's blocking where its weights are read (plain, or packed
 * in its block), else the block they are packed in, or 4 rows, and the vectors the
 * registers hold beside them (false: no tile of at most 12 rows fits).  mf_cg_gemm_new
 * allocates the tile's sums (NULL with an error set when there is no tile or memory; freed
 * by mf_cg_gemm_free); mf_cg_gemm_panel emits every channel block's tiles over pixels [p0,
 * p1) (i64, at run time) of the conv's output, input channel k's pixel p read from panel +
 * k * xk + p - p0, the last tile masked, bias and epilogue included. */
#define MF_CG_PANEL_MR_MAX 12 /* the GEMM engine's largest tile */
#define MF_CG_PANEL_NV_MAX 4
_Static_assert(MF_CG_PANEL_MR_MAX == MF_EXPAND_DW_MAX_BLOCK, "the fused chains' blocks are the tile's");
bool mf_cg_gemm_panel_blocking(const mf_cg_ctx *c, const mf_cg_conv_geom *g, int *mr, int *nv);
typedef struct mf_cg_gemm mf_cg_gemm;
mf_cg_gemm *mf_cg_gemm_new(mf_cg_ctx *c, const mf_cg_conv_geom *g, const mf_value *core, int nepi,
                           const mf_value *const *epi);
void mf_cg_gemm_free(mf_cg_gemm *h);
mf_status mf_cg_gemm_panel(mf_cg_gemm *h, LLVMValueRef panel, int64_t xk, LLVMValueRef p0,
                           LLVMValueRef p1, const LLVMValueRef *bcoord);
/* Both fused engines' set-up of a depthwise-project chain (gdw: its depthwise conv's
 * geometry): *gpj, the projection's geometry, weights and bias (where *gemm keeps pointing);
 * *buf, a stack buffer of `rows` output rows of every depthwise channel; *dw, the depthwise
 * engine without an epilogue (its caller sinks the rows into *buf); *gemm, the projection's
 * tiles with the epilogue.  On an error (set) nothing is left to free. */
mf_status mf_cg_dw_project_begin(mf_cg_ctx *c, const mf_cg_conv_geom *gdw, const mf_dw_project *dp,
                                 int64_t rows, int nepi, const mf_value *const *epi,
                                 mf_cg_conv_geom *gpj, LLVMValueRef *buf, mf_cg_dw **dw,
                                 mf_cg_gemm **gemm);
/* The lanes l of a vector with first + l < n (n: i64 at run time). */
LLVMValueRef mf_cg_lanes_below(mf_cg_ctx *c, LLVMValueRef n, int64_t first);
/* Can mf_cg_gather_strided read the strided 1x1 layer g (its stride, with wide loads). */
bool mf_cg_gathers_strided(const mf_cg_conv_geom *g);
/* The output rows [oy0, oy1) of input channels 0 .. cing-1 of the strided 1x1 layer g into a
 * panel laid out as stride 1 lays out the plane: channel k (plane k from xg) at panel + k *
 * pk, row oy at (oy - oy0) * ow; every sw-th column of every sh-th input row, as f32.  Whole
 * vectors: the panel needs vw floats of slack past its last row. */
void mf_cg_gather_strided(mf_cg_ctx *c, const mf_cg_conv_geom *g, LLVMValueRef xg, int64_t cing, LLVMValueRef panel,
                          int64_t pk, LLVMValueRef oy0, LLVMValueRef oy1);

/* An alloca in the body's entry block, built from any insertion point (lower.c). */
LLVMValueRef mf_cg_entry_alloca(mf_cg_ctx *c, LLVMTypeRef t);

/* perf_map.c: with MLUFUSE_PERF_MAP=1, names the kernel linked at addr for perf. */
void mf_cg_perf_map_add(const mf_cg_object *obj, uint64_t addr);

#endif
