/* lower_elementwise.c — elementwise chains: one loop nest per output shape that evaluates
 * every output of that shape and stores it.  Dims are collapsed wherever every operand's
 * strides allow (often down to one flat loop), the innermost loop is left scalar for LLVM's
 * loop vectorizer (as wide as the target's vectors, FMA-contracted), and partitions split
 * the flat index space.
 * Also the epilogue store that anchors and reductions share. */
#include <stdlib.h>
#include <string.h>

#include "cg_internal.h"

/* One output shape's iteration space and the maps of everything read or written. */
typedef struct ew_space {
    int nspace;
    int64_t space[MF_MAX_RANK];
    int nmaps, maps_cap;
    mf_cg_map *maps; /* malloc'ed: a long chain reads many times (no limit to refuse at) */
    mf_status err;
} ew_space;

static void collect_leaf(void *ctx, const mf_value *leaf, const mf_cg_map *m)
{
    ew_space *sp = ctx;
    if (sp->err)
        return;
    if (sp->nmaps == sp->maps_cap) {
        int cap = sp->maps_cap ? 2 * sp->maps_cap : 128;
        mf_cg_map *maps = realloc(sp->maps, sizeof *maps * (size_t)cap);
        if (!maps) {
            sp->err = mf_error(MF_ERR_NOMEM, "codegen: out of memory");
            return;
        }
        sp->maps = maps;
        sp->maps_cap = cap;
    }
    sp->maps[sp->nmaps++] = *m;
}

/* Can space dim b (inner) be merged into the group ending at dim a? */
static bool mergeable(const ew_space *sp, int a, int b)
{
    for (int i = 0; i < sp->nmaps; i++)
        if (sp->maps[i].s[a] != sp->maps[i].s[b] * sp->space[b])
            return false;
    return true;
}

/* Loop dims = groups of non-unit space dims; p gets extents and stride_of. */
static void collapse(const ew_space *sp, mf_cg_point *p)
{
    p->nloop = 0;
    p->nspace = sp->nspace;
    int last = -1;
    for (int d = 0; d < sp->nspace; d++) {
        if (sp->space[d] == 1)
            continue;
        if (last >= 0 && mergeable(sp, last, d)) {
            p->extent[p->nloop - 1] *= sp->space[d];
        } else {
            p->extent[p->nloop] = sp->space[d];
            p->nloop++;
        }
        p->stride_of[p->nloop - 1] = d;
        last = d;
    }
    if (p->nloop == 0) {
        p->nloop = 1;
        p->extent[0] = 1;
        p->stride_of[0] = -1;
    }
}

/* Evaluates subgraph output v at point p under map m and stores it to v's buffer. */
static mf_status store_output(mf_cg_ctx *c, mf_cg_point *p, const mf_value *v, const mf_cg_map *m)
{
    LLVMValueRef x;
    mf_status s = mf_cg_eval(c, p, v, m, &x);
    if (!s)
        mf_cg_store_as(c, p, c->out_ptr[mf_cg_output_index(c->g, v)], m, x, v->type.dtype);
    return s;
}

static mf_status store_all(mf_cg_ctx *c, mf_cg_point *p, const ew_space *sp, int n,
                           const mf_value *const *outs)
{
    for (int i = 0; i < n; i++) {
        mf_cg_map m = mf_cg_map_for(&outs[i]->type, sp->nspace, sp->space);
        mf_status s = store_output(c, p, outs[i], &m);
        if (s)
            return s;
    }
    return MF_OK;
}

/* Vectors in flight per iteration of the inner loop: 32 lanes' worth, so that the long
 * dependent chains of exp, tanh and divide overlap (bench_eltwise_gbps' sigmoid/tanh chain,
 * haswell code: 0.91 ms at 1 ymm, 0.63 at 4, 0.69 at 8; znver4 within noise at 1-4 zmm;
 * docs/benchmarks.md, 2026-12-03), at most 4 (8 ran slower on 16 registers). */
static int interleave_count(const mf_cg_ctx *c)
{
    int n = 32 / (c->vw > 0 ? c->vw : 1);
    return n < 1 ? 1 : n > 4 ? 4 : n;
}

/* rows x inner loop nest over this partition's [lo, hi) of the flat index space. */
static mf_status emit_nest(mf_cg_ctx *c, mf_cg_point *p, const ew_space *sp, int n,
                           const mf_value *const *outs)
{
    int64_t total = 1;
    for (int d = 0; d < p->nloop; d++)
        total *= p->extent[d];
    int64_t inner = p->extent[p->nloop - 1];
    LLVMValueRef lo, hi, vin = mf_cg_i64(c, inner);
    mf_cg_part_range(c, total, 16, &lo, &hi);
    LLVMValueRef r0 = LLVMBuildSDiv(c->B, lo, vin, "");
    LLVMValueRef r1 = LLVMBuildSDiv(c->B, LLVMBuildAdd(c->B, hi, mf_cg_i64(c, inner - 1), ""), vin, "");
    mf_cg_loop rows;
    mf_cg_loop_begin(c, &rows, r0, r1);
    mf_cg_unravel(c, rows.iv, p->nloop - 1, p->extent, p->coord);
    LLVMValueRef base = LLVMBuildMul(c->B, rows.iv, vin, "");
    LLVMValueRef ilo = LLVMBuildSub(c->B, lo, base, ""), ihi = LLVMBuildSub(c->B, hi, base, "");
    LLVMValueRef zero = mf_cg_i64(c, 0);
    ilo = LLVMBuildSelect(c->B, LLVMBuildICmp(c->B, LLVMIntSLT, ilo, zero, ""), zero, ilo, "");
    ihi = LLVMBuildSelect(c->B, LLVMBuildICmp(c->B, LLVMIntSLT, vin, ihi, ""), vin, ihi, "");
    mf_cg_loop in;
    mf_cg_loop_begin(c, &in, ilo, ihi);
    p->coord[p->nloop - 1] = in.iv;
    p->nmemo = 0;
    mf_status s = store_all(c, p, sp, n, outs);
    mf_cg_loop_end_interleaved(c, &in, 1, interleave_count(c));
    mf_cg_loop_end(c, &rows, 1);
    return s;
}

static mf_status lower_group(mf_cg_ctx *c, int n, const mf_value *const *outs)
{
    ew_space *sp = calloc(1, sizeof *sp);
    mf_cg_point *p = calloc(1, sizeof *p);
    mf_status s = MF_OK;
    if (!sp || !p) {
        s = mf_error(MF_ERR_NOMEM, "codegen: out of memory");
        goto done;
    }
    const mf_type *t = &outs[0]->type;
    sp->nspace = t->rank;
    for (int d = 0; d < t->rank; d++)
        sp->space[d] = t->shape[d];
    for (int i = 0; i < n && !s; i++) {
        mf_cg_map m = mf_cg_map_for(&outs[i]->type, sp->nspace, sp->space);
        collect_leaf(sp, outs[i], &m);
        s = mf_cg_visit_leaves(outs[i], NULL, &m, sp->nspace, collect_leaf, sp);
    }
    if (!s)
        s = sp->err;
    if (s)
        goto done;
    collapse(sp, p);
    p->lane = -1;
    p->width = 1;
    s = emit_nest(c, p, sp, n, outs);
done:
    if (sp)
        free(sp->maps);
    free(sp);
    free(p);
    return s;
}

mf_status mf_cg_lower_elementwise(mf_cg_ctx *c, int n, const mf_value *const *outs)
{
    bool *done = calloc((size_t)n + 1, sizeof *done);
    const mf_value **group = calloc((size_t)n + 1, sizeof *group);
    mf_status s = done && group ? MF_OK : mf_error(MF_ERR_NOMEM, "codegen: out of memory");
    for (int i = 0; i < n && !s; i++) {
        if (done[i])
            continue;
        int k = 0;
        for (int j = i; j < n; j++) {
            if (!done[j] && mf_type_equal(&outs[j]->type, &outs[i]->type)) {
                group[k++] = outs[j];
                done[j] = true;
            }
        }
        s = lower_group(c, k, group);
    }
    free(done);
    free(group);
    return s;
}

/* On the scalar path the engines' values are <1 x T>; the evaluator's are scalars. */
static LLVMValueRef lane0(mf_cg_ctx *c, LLVMValueRef v)
{
    if (!v || LLVMGetTypeKind(LLVMTypeOf(v)) != LLVMVectorTypeKind)
        return v;
    return LLVMBuildExtractElement(c->B, v, LLVMConstInt(c->i32, 0, 0), "");
}

mf_status mf_cg_store_epilogue(mf_cg_ctx *c, mf_cg_point *p, int n, const mf_value *const *epi)
{
    const mf_type *ct = &p->core->type;
    if (p->width == 1) {
        p->core_val = lane0(c, p->core_val);
        p->mask = lane0(c, p->mask);
    }
    for (int i = 0; i < n; i++) {
        const mf_type *t = &epi[i]->type;
        mf_cg_map m = mf_cg_map_for(ct, ct->rank, ct->shape);
        if (!mf_type_equal(t, ct)) {
            if (mf_type_numel(t) != mf_type_numel(ct))
                return mf_error(MF_ERR_UNSUPPORTED,
                                "codegen: an epilogue output larger than the %s result",
                                mf_op_get(p->core->producer->op)->name);
            mf_cg_map cm = m;
            mf_cg_view_map(t, ct, &cm, &m);
        }
        mf_status s = store_output(c, p, epi[i], &m);
        if (s)
            return s;
    }
    return MF_OK;
}
