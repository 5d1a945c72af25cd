/* lower_matmul.c — the matrix anchors.  matmul (batched, batch dims broadcast) runs as a 1x1
 * convolution: rows of the left operand are "output channels" (broadcast scalars), the right
 * operand's rows are vector-loaded; on the 1x1 GEMM engine where its rows are long
 * (lower_conv_gemm.c), else on the direct-convolution engine; a constant left operand may
 * come packed for the engine (matmul's `packed`: the GEMM's blocks of MR rows, or row_block
 * in lower_conv.c).  linear
 * (y = x wᵀ + b, w [M, K]) is a dot-product microkernel: a tile of rows x columns held in
 * <vw x float> accumulators along K (both operands contiguous there, so no packing), each
 * reduced once at the end; the epilogue runs on each result.  The tile is as big as the
 * target's registers hold with its row and column loads. */
#include <stdlib.h>
#include <string.h>

#include "cg_internal.h"

/* Element strides of a's batch dims aligned right to the output's nbd batch dims. */
static void batch_strides(const mf_type *a, int nbd, int64_t *stride)
{
    int64_t s = a->shape[a->rank - 1] * a->shape[a->rank - 2];
    for (int d = nbd - 1; d >= 0; d--) {
        int ad = d - (nbd - (a->rank - 2));
        int64_t dim = ad >= 0 ? a->shape[ad] : 1;
        stride[d] = dim == 1 ? 0 : s;
        s *= dim;
    }
}

mf_cg_conv_geom mf_cg_matmul_geom(const mf_node *n)
{
    const mf_type *at = &n->inputs[0]->type, *bt = &n->inputs[1]->type, *ot = &n->outputs[0]->type;
    mf_cg_conv_geom g = {
        .cin = at->shape[at->rank - 1], .h = 1, .w = bt->shape[bt->rank - 1],
        .cout = at->shape[at->rank - 2], .kh = 1, .kw = 1, .oh = 1, .ow = bt->shape[bt->rank - 1],
        .sh = 1, .sw = 1, .dh = 1, .dw = 1, .groups = 1, .is_matmul = true,
        .nbd = ot->rank - 2, .wblock = mf_matmul_packed(n->attrs),
    };
    for (int d = 0; d < g.nbd; d++)
        g.bshape[d] = ot->shape[d];
    batch_strides(bt, g.nbd, g.bx_stride);
    batch_strides(at, g.nbd, g.bw_stride);
    return g;
}

mf_status mf_cg_lower_matmul(mf_cg_ctx *c, const mf_node *n, int nepi, const mf_value *const *epi)
{
    mf_cg_conv_geom g = mf_cg_matmul_geom(n);
    g.wt = mf_cg_anchor_input(c, n, 0);
    g.x = mf_cg_anchor_input(c, n, 1);
    g.xdt = mf_cg_anchor_dtype(n, 1);
    if (!g.x || !g.wt)
        return MF_ERR_UNSUPPORTED;
    if (mf_type_numel(&n->outputs[0]->type) == 0)
        return MF_OK; /* K = 0 with a non-empty output never gets here (mf_node_mlu_limit) */
    return mf_cg_emit_conv(c, &g, n->outputs[0], nepi, epi);
}

/* ---- linear -------------------------------------------------------------------------------- */

typedef struct lin {
    mf_cg_ctx *c;
    int64_t rows, m, k;
    int RR, RJ;
    LLVMValueRef x, w, bias;
    mf_dtype xdt, wdt; /* f32, or f16 that the loads widen */
    LLVMValueRef acc[16];
    LLVMTypeRef vt;
} lin;

static LLVMValueRef min_i64(mf_cg_ctx *c, LLVMValueRef a, int64_t b)
{
    LLVMValueRef vb = mf_cg_i64(c, b);
    return LLVMBuildSelect(c->B, LLVMBuildICmp(c->B, LLVMIntSLT, a, vb, ""), a, vb, "");
}

/* Loads vw floats at base + kk (elements of dtype t), masked to the first `live` lanes
 * when live < vw. */
static LLVMValueRef load_k(lin *L, LLVMValueRef base, LLVMValueRef kk, int live, mf_dtype t)
{
    mf_cg_ctx *c = L->c;
    LLVMValueRef ptr = mf_cg_gep_as(c, base, kk, t);
    if (live == c->vw)
        return mf_cg_load_f32_as(c, L->vt, ptr, NULL, t);
    LLVMValueRef bits[MF_CG_MAX_VW];
    for (int i = 0; i < c->vw; i++)
        bits[i] = LLVMConstInt(c->i1, i < live, 0);
    return mf_cg_load_f32_as(c, L->vt, ptr, LLVMConstVector(bits, (unsigned)c->vw), t);
}

/* acc[i][j] += x[r_i, kk..] * w[j_j, kk..] */
static void lin_step(lin *L, LLVMValueRef *xr, LLVMValueRef *wr, LLVMValueRef kk, int live)
{
    mf_cg_ctx *c = L->c;
    LLVMValueRef xv[4], wv[8];
    for (int i = 0; i < L->RR; i++)
        xv[i] = load_k(L, xr[i], kk, live, L->xdt);
    for (int j = 0; j < L->RJ; j++)
        wv[j] = load_k(L, wr[j], kk, live, L->wdt);
    for (int i = 0; i < L->RR; i++)
        for (int j = 0; j < L->RJ; j++) {
            LLVMValueRef a = L->acc[i * L->RJ + j];
            LLVMValueRef s = LLVMBuildLoad2(c->B, L->vt, a, "");
            LLVMBuildStore(c->B, mf_cg_fmuladd(c, xv[i], wv[j], s), a);
        }
}

static LLVMValueRef hsum(mf_cg_ctx *c, LLVMValueRef v)
{
    LLVMValueRef ops[2] = {LLVMConstReal(c->f32, -0.0), v};
    LLVMTypeRef vt = LLVMTypeOf(v);
    LLVMValueRef r = mf_cg_intrin2(c, "llvm.vector.reduce.fadd", &vt, 1, c->f32, 2, ops);
    LLVMSetFastMathFlags(r, LLVMFastMathAllowReassoc);
    return r;
}

/* Stores the epilogue of result (r, j) when both are in range. */
static mf_status lin_store(lin *L, mf_cg_point *p, const mf_value *core, LLVMValueRef r,
                           LLVMValueRef j, LLVMValueRef val, int nepi, const mf_value *const *epi)
{
    mf_cg_ctx *c = L->c;
    LLVMValueRef ok = LLVMBuildAnd(c->B, LLVMBuildICmp(c->B, LLVMIntSLT, r, mf_cg_i64(c, L->rows), ""),
                                   LLVMBuildICmp(c->B, LLVMIntSLT, j, mf_cg_i64(c, L->m), ""), "");
    LLVMBasicBlockRef st = LLVMAppendBasicBlockInContext(c->C, c->body, "store");
    LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(c->C, c->body, "next");
    LLVMBuildCondBr(c->B, ok, st, next);
    LLVMPositionBuilderAtEnd(c->B, st);
    const mf_type *ot = &core->type;
    mf_cg_unravel(c, r, ot->rank - 1, ot->shape, p->coord);
    p->coord[ot->rank - 1] = j;
    if (L->bias)
        val = LLVMBuildFAdd(c->B, val, LLVMBuildLoad2(c->B, c->f32, mf_cg_gep(c, L->bias, j), ""), "");
    p->core_val = val;
    p->nmemo = 0;
    mf_status s = mf_cg_store_epilogue(c, p, nepi, epi);
    LLVMBuildBr(c->B, next);
    LLVMPositionBuilderAtEnd(c->B, next);
    return s;
}

static mf_status lin_tile(lin *L, mf_cg_point *p, const mf_value *core, LLVMValueRef r0,
                          LLVMValueRef j0, int nepi, const mf_value *const *epi)
{
    mf_cg_ctx *c = L->c;
    LLVMValueRef xr[4], wr[8];
    for (int i = 0; i < L->RR; i++) {
        LLVMValueRef r = min_i64(c, LLVMBuildAdd(c->B, r0, mf_cg_i64(c, i), ""), L->rows - 1);
        xr[i] = mf_cg_gep_as(c, L->x, LLVMBuildMul(c->B, r, mf_cg_i64(c, L->k), ""), L->xdt);
    }
    for (int j = 0; j < L->RJ; j++) {
        LLVMValueRef jj = min_i64(c, LLVMBuildAdd(c->B, j0, mf_cg_i64(c, j), ""), L->m - 1);
        wr[j] = mf_cg_gep_as(c, L->w, LLVMBuildMul(c->B, jj, mf_cg_i64(c, L->k), ""), L->wdt);
    }
    for (int a = 0; a < L->RR * L->RJ; a++)
        LLVMBuildStore(c->B, mf_cg_fconst(c, L->vt, 0.0), L->acc[a]);
    int64_t full = L->k / c->vw * c->vw;
    if (full) {
        mf_cg_loop kl;
        mf_cg_loop_begin(c, &kl, mf_cg_i64(c, 0), mf_cg_i64(c, full));
        lin_step(L, xr, wr, kl.iv, c->vw);
        mf_cg_loop_end(c, &kl, c->vw);
    }
    if (L->k > full)
        lin_step(L, xr, wr, mf_cg_i64(c, full), (int)(L->k - full));
    mf_status s = MF_OK;
    for (int i = 0; i < L->RR && !s; i++)
        for (int j = 0; j < L->RJ && !s; j++) {
            LLVMValueRef v = hsum(c, LLVMBuildLoad2(c->B, L->vt, L->acc[i * L->RJ + j], ""));
            s = lin_store(L, p, core, LLVMBuildAdd(c->B, r0, mf_cg_i64(c, i), ""),
                          LLVMBuildAdd(c->B, j0, mf_cg_i64(c, j), ""), v, nepi, epi);
        }
    return s;
}

/* RR rows x RJ columns of accumulators (at most 4 x 4, or 1 x 8 for one row), and their
 * RR + RJ loads, in the target's registers. */
static void choose_tile(lin *L)
{
    L->RR = L->rows >= 4 ? 4 : (int)L->rows;
    L->RJ = L->RR == 1 ? 8 : 4;
    while (L->RR * L->RJ > mf_cg_acc_regs(L->c, L->RR + L->RJ)) {
        if (L->RJ > L->RR && L->RJ > 1)
            L->RJ--;
        else if (L->RR > 1)
            L->RR--;
        else
            break;
    }
}

mf_status mf_cg_lower_linear(mf_cg_ctx *c, const mf_node *n, int nepi, const mf_value *const *epi)
{
    const mf_type *wt = &n->inputs[1]->type, *ot = &n->outputs[0]->type;
    lin L = {.c = c, .m = wt->shape[0], .k = wt->shape[1], .vt = LLVMVectorType(c->f32, (unsigned)c->vw)};
    L.rows = L.m ? mf_type_numel(ot) / L.m : 0;
    L.x = mf_cg_anchor_input(c, n, 0);
    L.w = mf_cg_anchor_input(c, n, 1);
    L.xdt = mf_cg_anchor_dtype(n, 0);
    L.wdt = mf_cg_anchor_dtype(n, 1);
    if (n->ninputs > 2 && !(L.bias = mf_cg_anchor_input(c, n, 2)))
        return MF_ERR_UNSUPPORTED;
    if (!L.x || !L.w)
        return MF_ERR_UNSUPPORTED;
    if (L.rows == 0 || L.m == 0)
        return MF_OK;
    choose_tile(&L);
    if (L.RJ > L.m)
        L.RJ = (int)L.m;
    for (int a = 0; a < L.RR * L.RJ; a++)
        L.acc[a] = mf_cg_entry_alloca(c, L.vt);
    int64_t nr = (L.rows + L.RR - 1) / L.RR, nj = (L.m + L.RJ - 1) / L.RJ;
    mf_cg_point *p = mf_cg_point_over(ot);
    if (!p)
        return mf_error(MF_ERR_NOMEM, "codegen: out of memory");
    p->core = n->outputs[0];
    p->core_map = mf_cg_map_for(ot, ot->rank, ot->shape);
    LLVMValueRef lo, hi;
    mf_cg_part_range(c, nr * nj, 1, &lo, &hi);
    mf_cg_loop items;
    mf_cg_loop_begin(c, &items, lo, hi);
    LLVMValueRef r0 = LLVMBuildMul(c->B, LLVMBuildUDiv(c->B, items.iv, mf_cg_i64(c, nj), ""), mf_cg_i64(c, L.RR), "");
    LLVMValueRef j0 = LLVMBuildMul(c->B, LLVMBuildURem(c->B, items.iv, mf_cg_i64(c, nj), ""), mf_cg_i64(c, L.RJ), "");
    mf_status s = lin_tile(&L, p, n->outputs[0], r0, j0, nepi, epi);
    mf_cg_loop_end(c, &items, 1);
    free(p);
    return s;
}
