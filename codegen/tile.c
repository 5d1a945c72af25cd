/* tile.c — the register tile of the conv engines that broadcast a weight against vectors of
 * pixels: R channels x V vectors of accumulators.  The row and plane engines size it by one
 * rule from the target's vector registers and overlap their last block of channels; the
 * 1x1 GEMM engine shares the FMA step. */
#include "cg_internal.h"

/* Accumulators of a tile: the registers less the operands of a step (the fewer kind held,
 * one of the other in flight: mf_cg_tile_fmas) and a spare (without FMA two more: a product
 * waits for its add), at most 24 (more only adds loop overhead): 12 of AVX2's 16, a 3x4
 * tile (keeping all four inputs left 8, a 2x4 tile), 24 of AVX-512's 32. */
int mf_cg_tile_accs(const mf_cg_target_shape *s)
{
    int n = s->vregs - (s->fma ? 4 : 6);
    return n > 24 ? 24 : n < 1 ? 1 : n;
}

int mf_cg_tile_rows(const mf_cg_target_shape *s, int vecs, int64_t total, int held)
{
    int64_t r = (mf_cg_tile_accs(s) - held) / vecs;
    if (r < 1)
        r = 1;
    if (r > total)
        r = total;
    int64_t nblocks = (total + r - 1) / r;
    return (int)((total + nblocks - 1) / nblocks);
}

/* Bytes a cycle a core's L2 feeds a tile's input vectors when they do not stay in L1: each
 * k step loads V new lines, a row of the operand apart, so the hardware's L1 prefetch
 * (strides up to 2 KB) misses most of them.  Measured on an AVX-512 Xeon with two FMA pipes
 * (docs/benchmarks.md): the 1x1 GEMM engine's 6 x 4 tiles (256 bytes for 12 cycles of FMAs)
 * ran at 56-61 % of the peak on 14x14 576->96 and 96->576, 12 x 2 (128 bytes) at 67-68 %,
 * 8 x 3 in between. */
#define TILE_L2_BYTES_A_CYCLE 12.0

double mf_cg_tile_l2_feed(const mf_cg_target_shape *s, int R, int V)
{
    int ports = s->fma_ports > 0 ? s->fma_ports : 1;
    double fma = (double)R * V / ports, load = (double)V * s->lanes * 4 / TILE_L2_BYTES_A_CYCLE;
    return load > fma ? fma / load : 1.0;
}

void mf_cg_tile_fmas(mf_cg_ctx *c, int R, int V, LLVMValueRef *acc, mf_cg_tile_load_fn bcast,
                     mf_cg_tile_load_fn vec, void *ctx)
{
    LLVMTypeRef vt = LLVMVectorType(c->f32, (unsigned)c->vw);
    LLVMValueRef x[MF_CG_TILE_MAX], w[MF_CG_TILE_MAX];
    bool rows_held = R <= V; /* hold the fewer operands; each of the others is loaded once */
    for (int i = 0; i < (rows_held ? R : V); i++)
        (rows_held ? w : x)[i] = rows_held ? bcast(ctx, i) : vec(ctx, i);
    for (int o = 0; o < (rows_held ? V : R); o++) {
        LLVMValueRef s = rows_held ? vec(ctx, o) : bcast(ctx, o);
        if (!s)
            continue;
        for (int i = 0; i < (rows_held ? R : V); i++) {
            int j = rows_held ? i : o, v = rows_held ? o : i;
            LLVMValueRef xv = rows_held ? s : x[v], wv = rows_held ? w[j] : s;
            if (!xv)
                continue;
            LLVMValueRef a = acc[j * V + v];
            LLVMBuildStore(c->B, mf_cg_fmuladd(c, wv, xv, LLVMBuildLoad2(c->B, vt, a, "")), a);
        }
    }
}

LLVMValueRef mf_cg_tile_block_start(mf_cg_ctx *c, LLVMValueRef b, int R, int64_t total, LLVMValueRef *skip)
{
    LLVMValueRef first = mf_cg_ix_mulk(c, b, R);
    *skip = NULL;
    if (total % R == 0)
        return first;
    LLVMValueRef start = mf_cg_ix_smink(c, first, total - R);
    *skip = mf_cg_ix_sub(c, first, start);
    return start;
}

LLVMBasicBlockRef mf_cg_tile_row_begin(mf_cg_ctx *c, LLVMValueRef skip, int j, int R, int64_t total)
{
    if (!skip || j >= R - total % R) /* rows the block before never has */
        return NULL;
    LLVMBasicBlockRef row = LLVMAppendBasicBlockInContext(c->C, c->body, "fresh");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(c->C, c->body, "stored");
    LLVMBuildCondBr(c->B, LLVMBuildICmp(c->B, LLVMIntSLE, skip, mf_cg_i64(c, j), ""), row, join);
    LLVMPositionBuilderAtEnd(c->B, row);
    return join;
}

void mf_cg_tile_row_end(mf_cg_ctx *c, LLVMBasicBlockRef join)
{
    if (!join)
        return;
    LLVMBuildBr(c->B, join);
    LLVMPositionBuilderAtEnd(c->B, join);
}

void mf_cg_acc_init_bias(mf_cg_ctx *c, LLVMTypeRef vt, int R, int V, LLVMValueRef bias, LLVMValueRef oc0,
                         LLVMValueRef *acc)
{
    for (int j = 0; j < R; j++) {
        LLVMValueRef b = bias ? mf_cg_vsplat(c, LLVMBuildLoad2(c->B, c->f32, mf_cg_gep(c, bias, mf_cg_ix_addk(c, oc0, j)), ""))
                              : mf_cg_fconst(c, vt, 0.0);
        for (int v = 0; v < V; v++)
            LLVMBuildStore(c->B, b, acc[j * V + v]);
    }
}
