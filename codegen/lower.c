/* lower.c — the lowering driver: classifies a subgraph (pure elementwise chain, or one core
 * op — an anchor or a reduction — with an elementwise prologue and epilogue), checks that
 * every node has a lowering, and hands the parts to lower_*.c.  Also the small IR-building
 * helpers (constants, intrinsics, loops, partition ranges) every lowering uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/DebugInfo.h>

#include "cg_internal.h"

/* ---- helpers ------------------------------------------------------------------------------ */

LLVMValueRef mf_cg_i64(mf_cg_ctx *c, int64_t v)
{
    return LLVMConstInt(c->i64, (unsigned long long)v, 1);
}

LLVMTypeRef mf_cg_vec(mf_cg_ctx *c, LLVMTypeRef elem, unsigned w)
{
    return w == 1 ? elem : LLVMVectorType(elem, w);
}

/* scalar in w lanes; a vector even for w 1 when vec. */
static LLVMValueRef splat(mf_cg_ctx *c, LLVMValueRef scalar, unsigned w, bool vec)
{
    if (w == 1 && !vec)
        return scalar;
    if (LLVMIsConstant(scalar) && w <= 4 * MF_CG_MAX_VW) {
        LLVMValueRef e[4 * MF_CG_MAX_VW];
        for (unsigned i = 0; i < w; i++)
            e[i] = scalar;
        return LLVMConstVector(e, w);
    }
    LLVMTypeRef vt = LLVMVectorType(LLVMTypeOf(scalar), w);
    LLVMValueRef v = LLVMBuildInsertElement(c->B, LLVMGetPoison(vt), scalar,
                                            LLVMConstInt(c->i32, 0, 0), "");
    LLVMValueRef zeros = LLVMConstNull(LLVMVectorType(c->i32, w));
    return LLVMBuildShuffleVector(c->B, v, LLVMGetPoison(vt), zeros, "");
}

LLVMValueRef mf_cg_splat(mf_cg_ctx *c, LLVMValueRef scalar, unsigned w)
{
    return splat(c, scalar, w, false);
}

LLVMValueRef mf_cg_lanes_every(mf_cg_ctx *c, LLVMValueRef wide, int64_t step, int64_t first)
{
    LLVMValueRef idx[MF_CG_MAX_VW];
    for (int i = 0; i < c->vw; i++)
        idx[i] = LLVMConstInt(c->i32, (unsigned long long)(first + step * i), 0);
    return LLVMBuildShuffleVector(c->B, wide, LLVMGetPoison(LLVMTypeOf(wide)),
                                  LLVMConstVector(idx, (unsigned)c->vw), "");
}

LLVMValueRef mf_cg_vsplat(mf_cg_ctx *c, LLVMValueRef scalar)
{
    return splat(c, scalar, (unsigned)c->vw, true);
}

LLVMValueRef mf_cg_vsplat_w(mf_cg_ctx *c, LLVMValueRef scalar, unsigned w)
{
    return splat(c, scalar, w, true);
}

static bool is_vector(LLVMTypeRef ty)
{
    return LLVMGetTypeKind(ty) == LLVMVectorTypeKind;
}

int mf_cg_acc_regs(const mf_cg_ctx *c, int live)
{
    int n = c->shape.vregs - live - (c->shape.fma ? 1 : 2);
    return n > 24 ? 24 : n < 1 ? 1 : n;
}

/* Constants of type ty: a vector type gets a vector, even of one lane. */
LLVMValueRef mf_cg_fconst(mf_cg_ctx *c, LLVMTypeRef ty, double v)
{
    LLVMValueRef x = LLVMConstReal(c->f32, (float)v);
    return is_vector(ty) ? splat(c, x, LLVMGetVectorSize(ty), true) : x;
}

LLVMValueRef mf_cg_iconst(mf_cg_ctx *c, LLVMTypeRef ty, int64_t v)
{
    LLVMValueRef x = LLVMConstInt(c->i32, (unsigned long long)v, 1);
    return is_vector(ty) ? splat(c, x, LLVMGetVectorSize(ty), true) : x;
}

LLVMValueRef mf_cg_intrin2(mf_cg_ctx *c, const char *name, LLVMTypeRef *tys, int ntys,
                           LLVMTypeRef ret, int n, LLVMValueRef *ops)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef f = LLVMGetIntrinsicDeclaration(c->M, id, tys, (size_t)ntys);
    LLVMTypeRef fty = LLVMIntrinsicGetType(c->C, id, tys, (size_t)ntys);
    (void)ret;
    return LLVMBuildCall2(c->B, fty, f, ops, (unsigned)n, "");
}

void mf_cg_prefetch(mf_cg_ctx *c, LLVMValueRef ptr, int locality)
{
    LLVMTypeRef pty = LLVMTypeOf(ptr);
    LLVMValueRef ops[4] = {ptr, LLVMConstInt(c->i32, 0, 0), LLVMConstInt(c->i32, (unsigned long long)locality, 0),
                           LLVMConstInt(c->i32, 1, 0)}; /* read, data */
    mf_cg_intrin2(c, "llvm.prefetch", &pty, 1, NULL, 4, ops);
}

LLVMValueRef mf_cg_intrin(mf_cg_ctx *c, const char *name, LLVMTypeRef ty, int n,
                          LLVMValueRef *ops)
{
    return mf_cg_intrin2(c, name, &ty, 1, ty, n, ops);
}

LLVMValueRef mf_cg_fmuladd(mf_cg_ctx *c, LLVMValueRef a, LLVMValueRef b, LLVMValueRef d)
{
    LLVMValueRef ops[3] = {a, b, d};
    return mf_cg_intrin(c, "llvm.fmuladd", LLVMTypeOf(a), 3, ops);
}

LLVMValueRef mf_cg_gep(mf_cg_ctx *c, LLVMValueRef base, LLVMValueRef idx)
{
    return LLVMBuildGEP2(c->B, c->f32, base, &idx, 1, "");
}

/* The lanes of a compile-time constant mask as bits (false: not a constant of 0/1 lanes). */
static bool const_mask_bits(LLVMValueRef mask, unsigned w, bool *bit)
{
    if (!LLVMIsConstant(mask))
        return false;
    for (unsigned i = 0; i < w; i++) {
        LLVMValueRef e = LLVMGetAggregateElement(mask, i);
        if (!e || !LLVMIsAConstantInt(e))
            return false;
        bit[i] = LLVMConstIntGetZExtValue(e) != 0;
    }
    return true;
}

#define SPLIT_STORES_MAX 4 /* plain stores that replace one masked store, at most */

bool mf_cg_store_split(mf_cg_ctx *c, LLVMValueRef x, LLVMValueRef ptr, LLVMTypeRef et, unsigned align,
                       LLVMValueRef mask)
{
    unsigned w = LLVMGetVectorSize(LLVMTypeOf(x));
    bool bit[64];
    if (c->shape.mask_regs || w > 64 || !const_mask_bits(mask, w, bit))
        return false;
    unsigned at[SPLIT_STORES_MAX], len[SPLIT_STORES_MAX], n = 0;
    for (unsigned i = 0; i < w;) {
        if (!bit[i]) {
            i++;
            continue;
        }
        unsigned j = i;
        while (j < w && bit[j])
            j++;
        for (unsigned rem = j - i; rem;) { /* the run in pieces of 2^k lanes, widest first */
            unsigned k = 1;
            while (k * 2 <= rem)
                k *= 2;
            if (n == SPLIT_STORES_MAX)
                return false;
            at[n] = j - rem, len[n++] = k;
            rem -= k;
        }
        i = j;
    }
    for (unsigned p = 0; p < n; p++) {
        LLVMValueRef piece, idx = LLVMConstInt(c->i64, at[p], 0);
        if (len[p] == 1) {
            piece = LLVMBuildExtractElement(c->B, x, LLVMConstInt(c->i32, at[p], 0), "");
        } else {
            LLVMValueRef sel[64];
            for (unsigned i = 0; i < len[p]; i++)
                sel[i] = LLVMConstInt(c->i32, at[p] + i, 0);
            piece = LLVMBuildShuffleVector(c->B, x, LLVMGetPoison(LLVMTypeOf(x)), LLVMConstVector(sel, len[p]), "");
        }
        LLVMValueRef q = LLVMBuildGEP2(c->B, et, ptr, &idx, 1, "");
        LLVMSetAlignment(LLVMBuildStore(c->B, piece, q), align);
    }
    return true;
}

void mf_cg_store_f32(mf_cg_ctx *c, LLVMValueRef x, LLVMValueRef ptr, LLVMValueRef mask)
{
    if (!mask) {
        LLVMSetAlignment(LLVMBuildStore(c->B, x, ptr), 4);
        return;
    }
    if (mf_cg_store_split(c, x, ptr, c->f32, 4, mask))
        return;
    LLVMValueRef ops[4] = {x, ptr, LLVMConstInt(c->i32, 4, 0), mask};
    LLVMTypeRef tys[2] = {LLVMTypeOf(x), c->ptr};
    mf_cg_intrin2(c, "llvm.masked.store", tys, 2, NULL, 4, ops);
}

void mf_cg_loop_begin(mf_cg_ctx *c, mf_cg_loop *l, LLVMValueRef lo, LLVMValueRef hi)
{
    LLVMValueRef fn = c->body;
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(c->B);
    l->head = LLVMAppendBasicBlockInContext(c->C, fn, "head");
    l->body = LLVMAppendBasicBlockInContext(c->C, fn, "body");
    l->exit = LLVMAppendBasicBlockInContext(c->C, fn, "exit");
    LLVMBuildBr(c->B, l->head);
    LLVMPositionBuilderAtEnd(c->B, l->head);
    l->iv = LLVMBuildPhi(c->B, c->i64, "i");
    LLVMAddIncoming(l->iv, &lo, &pre, 1);
    LLVMBuildCondBr(c->B, LLVMBuildICmp(c->B, LLVMIntSLT, l->iv, hi, ""), l->body, l->exit);
    LLVMPositionBuilderAtEnd(c->B, l->body);
}

/* Closes loop l (the step, the back edge) and returns the back edge's branch. */
static LLVMValueRef loop_close(mf_cg_ctx *c, mf_cg_loop *l, int64_t step)
{
    LLVMValueRef next = LLVMBuildAdd(c->B, l->iv, mf_cg_i64(c, step), "");
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(c->B);
    LLVMValueRef br = LLVMBuildBr(c->B, l->head);
    LLVMAddIncoming(l->iv, &next, &latch, 1);
    LLVMPositionBuilderAtEnd(c->B, l->exit);
    return br;
}

void mf_cg_loop_end(mf_cg_ctx *c, mf_cg_loop *l, int64_t step)
{
    loop_close(c, l, step);
}

/* Sets !llvm.loop on the latch br: a self-referencing node (a temporary stands in for the
 * self) holding n hints, each a name with an i1 or i32 value (value < 0: the name alone). */
static void set_loop_hints(mf_cg_ctx *c, LLVMValueRef br, int n, const char *const *names, const int *values)
{
    LLVMMetadataRef tmp = LLVMTemporaryMDNode(c->C, NULL, 0);
    LLVMMetadataRef ops[4] = {tmp};
    for (int i = 0; i < n; i++) {
        LLVMMetadataRef kv[2] = {LLVMMDStringInContext2(c->C, names[i], strlen(names[i])), NULL};
        bool flag = strstr(names[i], ".enable") != NULL;
        if (values[i] >= 0)
            kv[1] = LLVMValueAsMetadata(LLVMConstInt(flag ? c->i1 : c->i32, (unsigned long long)values[i], 0));
        ops[i + 1] = LLVMMDNodeInContext2(c->C, kv, values[i] >= 0 ? 2 : 1);
    }
    LLVMMetadataRef loop = LLVMMDNodeInContext2(c->C, ops, (size_t)n + 1);
    LLVMMetadataReplaceAllUsesWith(tmp, loop); /* also disposes of tmp */
    unsigned kind = LLVMGetMDKindIDInContext(c->C, "llvm.loop", 9);
    LLVMSetMetadata(br, kind, LLVMMetadataAsValue(c->C, loop));
}

/* Keeps LLVM from vectorizing, interleaving or unrolling the loop. */
void mf_cg_loop_end_scalar(mf_cg_ctx *c, mf_cg_loop *l, int64_t step)
{
    static const char *const names[3] = {"llvm.loop.vectorize.enable", "llvm.loop.interleave.count",
                                         "llvm.loop.unroll.disable"};
    static const int values[3] = {0, 1, -1};
    set_loop_hints(c, loop_close(c, l, step), 3, names, values);
}

/* Asks LLVM to unroll the loop whole (its trip count a constant): LLVM's own unrollers are
 * off (codegen/compile.c), and a forced hint is all they still act on. */
void mf_cg_loop_end_unrolled(mf_cg_ctx *c, mf_cg_loop *l, int64_t step)
{
    static const char *const names[1] = {"llvm.loop.unroll.full"};
    static const int values[1] = {-1};
    set_loop_hints(c, loop_close(c, l, step), 1, names, values);
}

/* Asks LLVM's loop vectorizer for `count` vectors in flight per iteration: a long chain
 * of dependent operations per element (exp, divide) is latency-bound at the vectorizer's
 * own choice (one vector for a large body on AVX-512). */
void mf_cg_loop_end_interleaved(mf_cg_ctx *c, mf_cg_loop *l, int64_t step, int count)
{
    static const char *const names[2] = {"llvm.loop.vectorize.enable", "llvm.loop.interleave.count"};
    const int values[2] = {1, count};
    set_loop_hints(c, loop_close(c, l, step), 2, names, values);
}

/* b(p) = min(total, roundup(p * total / nparts, align)): monotone, b(0) = 0, b(n) = total
 * (mf_cg_part_bound, which the tests check, is the same arithmetic). */
static LLVMValueRef part_bound(mf_cg_ctx *c, LLVMValueRef p, int64_t total, int64_t align)
{
    LLVMValueRef b = LLVMBuildSDiv(c->B, LLVMBuildMul(c->B, p, mf_cg_i64(c, total), ""),
                                   c->nparts, "");
    if (align > 1) {
        b = LLVMBuildAdd(c->B, b, mf_cg_i64(c, align - 1), "");
        b = LLVMBuildMul(c->B, LLVMBuildSDiv(c->B, b, mf_cg_i64(c, align), ""),
                         mf_cg_i64(c, align), "");
    }
    LLVMValueRef t = mf_cg_i64(c, total);
    return LLVMBuildSelect(c->B, LLVMBuildICmp(c->B, LLVMIntSLT, b, t, ""), b, t, "");
}

void mf_cg_part_range(mf_cg_ctx *c, int64_t total, int64_t align, LLVMValueRef *lo,
                      LLVMValueRef *hi)
{
    *lo = part_bound(c, c->part, total, align);
    *hi = part_bound(c, LLVMBuildAdd(c->B, c->part, mf_cg_i64(c, 1), ""), total, align);
}

/* mf_cg_tail_part_bound's arithmetic for partition p (i64). */
static LLVMValueRef tail_part_bound(mf_cg_ctx *c, LLVMValueRef p, int64_t segs, int64_t nfull, int64_t nmb,
                                    int64_t full, int64_t tail)
{
    int64_t F = nfull * nmb, us = F * full + nmb * tail;
    LLVMValueRef u = LLVMBuildSDiv(c->B, mf_cg_ix_mulk(c, p, segs * us), c->nparts, "");
    LLVMValueRef s = mf_cg_ix_udivk(c, u, us);
    LLVMValueRef r = LLVMBuildSub(c->B, u, mf_cg_ix_mulk(c, s, us), "");
    LLVMValueRef i_full = mf_cg_ix_udivk(c, mf_cg_ix_addk(c, r, full - 1), full);
    LLVMValueRef i_tail = mf_cg_ix_addk(c, mf_cg_ix_udivk(c, mf_cg_ix_addk(c, r, tail - 1 - F * full), tail), F);
    LLVMValueRef in_full = LLVMBuildICmp(c->B, LLVMIntSLE, r, mf_cg_i64(c, F * full), "");
    return mf_cg_ix_add(c, mf_cg_ix_mulk(c, s, F + nmb), LLVMBuildSelect(c->B, in_full, i_full, i_tail, ""));
}

void mf_cg_tail_part_range(mf_cg_ctx *c, int64_t segs, int64_t nfull, int64_t nmb, int64_t full, int64_t tail,
                           LLVMValueRef *lo, LLVMValueRef *hi)
{
    *lo = tail_part_bound(c, c->part, segs, nfull, nmb, full, tail);
    *hi = tail_part_bound(c, LLVMBuildAdd(c->B, c->part, mf_cg_i64(c, 1), ""), segs, nfull, nmb, full, tail);
}

void mf_cg_unravel(mf_cg_ctx *c, LLVMValueRef flat, int n, const int64_t *dims,
                   LLVMValueRef *coords)
{
    for (int d = n - 1; d >= 0; d--) {
        if (d == 0) {
            coords[d] = flat;
            break;
        }
        LLVMValueRef ext = mf_cg_i64(c, dims[d]);
        coords[d] = LLVMBuildURem(c->B, flat, ext, "");
        flat = LLVMBuildUDiv(c->B, flat, ext, "");
    }
}

int mf_cg_output_index(const mf_graph *g, const mf_value *v)
{
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i] == v)
            return i;
    return -1;
}

int mf_cg_input_index(const mf_graph *g, const mf_value *v)
{
    for (int i = 0; i < g->ninputs; i++)
        if (g->inputs[i] == v)
            return i;
    return -1;
}

const mf_value *mf_cg_view_source(const mf_graph *g, const mf_node *n)
{
    const mf_value *x = n->inputs[0];
    while (x->producer && mf_op_get(x->producer->op)->kind == MF_KIND_VIEW)
        x = x->producer->inputs[0];
    return mf_cg_input_index(g, x) < 0 ? NULL : x;
}

/* ---- classification ------------------------------------------------------------------------ */

static bool is_core(mf_op op)
{
    mf_op_kind k = mf_op_get(op)->kind;
    return k == MF_KIND_ANCHOR || k == MF_KIND_REDUCTION;
}

/* The first dtype of n's values that is not f32 (what keeps n from being lowered). */
static mf_dtype odd_dtype(const mf_node *n)
{
    if (n->outputs[0]->type.dtype != MF_F32)
        return n->outputs[0]->type.dtype;
    for (int i = 0; i < n->ninputs; i++)
        if (n->inputs[i]->type.dtype != MF_F32)
            return n->inputs[i]->type.dtype;
    return MF_F32;
}

/* The subgraph's core (NULL: elementwise only); an expand-depthwise chain (ir/expand_dw.c)
 * has two anchors, its depthwise conv the core and *chain filled (chain->dw NULL else); a
 * depthwise-project chain too, its projection the core and *dp filled (dp->dw NULL else);
 * an inverted-residual block three, both filled, its projection the core; a Winograd chain
 * (ir/winograd_chain.c) three, its output transform the core and *wc filled (wc->out NULL
 * else). */
static mf_status check_nodes(const mf_graph *g, const mf_node **core, mf_expand_dw *chain,
                             mf_dw_project *dp, mf_winograd_chain *wc)
{
    *core = NULL;
    chain->dw = NULL;
    dp->dw = NULL;
    wc->out = NULL;
    for (int i = 0; i < g->nnodes; i++) {
        const mf_node *n = g->nodes[i];
        const mf_op_info *info = mf_op_get(n->op);
        if (info->has_mlu && !mf_node_has_mlu_code(n))
            return mf_error(MF_ERR_UNSUPPORTED, "codegen: node %d (%s) on %s: only f32 is lowered, and i8 by the int8 ops, f16 by casts and views",
                            n->id, info->name, mf_dtype_name(odd_dtype(n)));
        if (!mf_cg_has_emitter(n->op) && !mf_cg_has_lowering(n->op))
            return mf_error(MF_ERR_UNSUPPORTED, "codegen: node %d (%s) has no lowering", n->id,
                            info->name);
        const char *limit = mf_node_mlu_limit(n); /* what segmentation asked too */
        if (limit)
            return mf_error(MF_ERR_UNSUPPORTED, "codegen: node %d (%s) with %s", n->id, info->name,
                            limit);
        if (!is_core(n->op))
            continue;
        if (*core && !chain->dw && !dp->dw && mf_expand_dw_chain(g, n, chain) &&
            chain->expand == *core) {
            *core = n;
            continue;
        }
        mf_winograd_chain w;
        if (*core && !wc->out && mf_winograd_chain_of(g, n, &w) && mf_winograd_chain_fits(&w) &&
            (n == w.mm ? w.in == *core : w.mm == *core)) {
            if (n == w.out)
                *wc = w;
            *core = n;
            continue;
        }
        mf_dw_project d;
        if (*core && !dp->dw && mf_dw_project_chain(g, n, &d) && d.dw == *core) {
            *dp = d;
            *core = n;
            continue;
        }
        if (*core)
            return mf_error(MF_ERR_UNSUPPORTED,
                            "codegen: node %d (%s) is a second anchor/reduction after node %d (%s)",
                            n->id, info->name, (*core)->id, mf_op_get((*core)->op)->name);
        *core = n;
    }
    return MF_OK;
}

/* Does v depend on (or equal) value `core`? */
static bool depends_on(const mf_value *v, const mf_value *core)
{
    if (v == core)
        return true;
    if (!v->producer)
        return false;
    for (int i = 0; i < v->producer->ninputs; i++)
        if (depends_on(v->producer->inputs[i], core))
            return true;
    return false;
}

/* Indexed by ops.def's list; an anchor or reduction with device code has a lowering here,
 * every other op none (test_cg_op_tables checks both). */
static const mf_cg_lower_fn lowerings[MF_OP_COUNT] = {
    [MF_OP_CONV2D] = mf_cg_lower_conv,
    [MF_OP_LINEAR] = mf_cg_lower_linear,
    [MF_OP_MATMUL] = mf_cg_lower_matmul,
    [MF_OP_WINOGRAD_INPUT] = mf_cg_lower_winograd_input,
    [MF_OP_WINOGRAD_OUTPUT] = mf_cg_lower_winograd_output,
    [MF_OP_QCONV2D] = mf_cg_lower_qconv,
    [MF_OP_QLINEAR] = mf_cg_lower_qlinear,
    [MF_OP_QMATMUL] = mf_cg_lower_qmatmul,
    [MF_OP_MAX_POOL2D] = mf_cg_lower_pool2d,
    [MF_OP_AVG_POOL2D] = mf_cg_lower_pool2d,
    [MF_OP_ADAPTIVE_AVG_POOL2D] = mf_cg_lower_pool2d,
    [MF_OP_SOFTMAX] = mf_cg_lower_softmax,
    [MF_OP_LOG_SOFTMAX] = mf_cg_lower_softmax,
    [MF_OP_SUM] = mf_cg_lower_sum,
    [MF_OP_MEAN] = mf_cg_lower_sum,
    [MF_OP_CONV2D_BLOCKS] = mf_cg_lower_conv2d_blocks,
    [MF_OP_TO_BLOCKS] = mf_cg_lower_to_blocks,
    [MF_OP_FROM_BLOCKS] = mf_cg_lower_from_blocks,
};

static mf_cg_lower_fn lowering(mf_op op)
{
    return (unsigned)op < MF_OP_COUNT ? lowerings[op] : NULL;
}

bool mf_cg_has_lowering(mf_op op)
{
    return lowering(op) != NULL;
}

/* The outputs that do not depend on the core as an elementwise chain, then the core with
 * the others as its epilogue; epi and rest have room for every output. */
static mf_status lower_parts(mf_cg_ctx *c, const mf_node *core, const mf_expand_dw *chain,
                             const mf_dw_project *dp, const mf_winograd_chain *wc,
                             const mf_value **epi, const mf_value **rest)
{
    const mf_graph *g = c->g;
    const mf_value *cv = core->outputs[0];
    int nepi = 0, nrest = 0;
    for (int i = 0; i < g->noutputs; i++) {
        if (depends_on(g->outputs[i], cv))
            epi[nepi++] = g->outputs[i];
        else
            rest[nrest++] = g->outputs[i];
    }
    if (nrest) {
        mf_status s = mf_cg_lower_elementwise(c, nrest, rest);
        if (s)
            return s;
    }
    if (!nepi)
        return MF_OK; /* the core's result is unused: nothing to compute */
    if (!mf_op_takes_epilogue(core->op) && (nepi != 1 || epi[0] != cv))
        return mf_error(MF_ERR_UNSUPPORTED, "codegen: node %d (%s) takes no epilogue", core->id,
                        mf_op_get(core->op)->name);
    if (chain->dw)
        return mf_cg_lower_expand_dw(c, chain, dp->dw ? dp : NULL, nepi, epi);
    if (dp->dw)
        return mf_cg_lower_dw_project(c, dp, nepi, epi);
    if (wc->out)
        return mf_cg_lower_winograd_chain(c, wc, nepi, epi);
    return lowering(core->op)(c, core, nepi, epi);
}

mf_status mf_cg_lower(mf_cg_ctx *c)
{
    const mf_graph *g = c->g;
    const mf_node *core;
    mf_expand_dw chain;
    mf_dw_project dp;
    mf_winograd_chain wc;
    mf_status s = check_nodes(g, &core, &chain, &dp, &wc);
    if (s)
        return s;
    if (!core)
        return mf_cg_lower_elementwise(c, g->noutputs, (const mf_value *const *)g->outputs);
    const mf_value **epi = calloc((size_t)g->noutputs + 1, sizeof *epi);
    const mf_value **rest = calloc((size_t)g->noutputs + 1, sizeof *rest);
    s = epi && rest ? lower_parts(c, core, &chain, &dp, &wc, epi, rest)
                    : mf_error(MF_ERR_NOMEM, "codegen: out of memory");
    free(epi);
    free(rest);
    return s;
}

/* An alloca in the entry block (where mem2reg can promote it), built from anywhere. */
LLVMValueRef mf_cg_entry_alloca(mf_cg_ctx *c, LLVMTypeRef t)
{
    LLVMBasicBlockRef cur = LLVMGetInsertBlock(c->B);
    LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(c->body);
    LLVMValueRef first = LLVMGetFirstInstruction(entry);
    if (first)
        LLVMPositionBuilderBefore(c->B, first);
    else
        LLVMPositionBuilderAtEnd(c->B, entry);
    LLVMValueRef a = LLVMBuildAlloca(c->B, t, "acc");
    LLVMPositionBuilderAtEnd(c->B, cur);
    return a;
}
