/* segment.c — MLU subgraph segmentation with fusion (DESIGN.md's rules): walking nodes in
 * topological order, an elementwise or view op joins the subgraph of one of its
 * producers (preferring one with an anchor or a reduction, whose epilogue it becomes); a
 * reduction joins a purely elementwise producer subgraph (its prologue); conv, matmul and
 * linear start a subgraph (one anchor each, no prologue but views and widening casts).  A
 * cast that widens an f16 activation to f32 goes into its consumer's subgraph, whose loads
 * widen it (the edge of a half model's kernel; no f32 copy between kernels).  A join that would let
 * a path leave the subgraph and come back is refused, so subgraphs stay convex.  Ops without device
 * code (for their op, their dtypes or their shapes: codegen's limits, asked here so that nothing
 * later undoes a subgraph) run on the CPU (subgraph -1).  Without fusion every MLU op is alone. The
 * exceptions to one anchor a subgraph: the depthwise conv of an expand-depthwise chain
 * (ir/expand_dw.c) joins the subgraph of its 1x1 expansion when the expanded tensor has
 * MF_SEG_EXPAND_DW_BYTES or more, and the 1x1 projection of a depthwise-project chain the subgraph
 * of its depthwise conv when the depthwise result has MF_SEG_DW_PROJECT_BYTES or more, so that
 * codegen computes the wide tensor a band of rows at a time and never stores it; and the three
 * nodes of a Winograd conv (ir/winograd_chain.c) share one subgraph on targets of 16 lanes or
 * more when its transformed tiles have MF_SEG_WINOGRAD_CHAIN_BYTES or more.  A subgraph takes at
 * most MF_SEG_MAX_NODES ops.  Every refusal is recorded, so `mlufuse opt --explain` can say why two
 * subgraphs were not fused. */
#include <stdlib.h>
#include <string.h>

#include "passes.h"

typedef struct seg_info {
    const mf_node *core; /* the anchor or reduction, or NULL (elementwise only) */
    int64_t core_numel;  /* elements of the core's output: epilogues may not be larger */
    bool views_only;     /* reshapes/flattens only: an anchor may take them as its prologue */
    int nnodes;          /* ops in it, at most MF_SEG_MAX_NODES */
    int lo, hi;          /* positions of its first and last node in g->nodes */
} seg_info;

typedef struct segmenter {
    mf_graph *g;
    seg_info *segs;
    int nsegs;
    int *mark; /* per node: visit stamp for reachability */
    int *swept; /* per subgraph: the stamp of the search that went through all its members */
    int *uses;  /* per value id: its uses by nodes and as a graph output (the pass moves no edge) */
    int stamp;
    int *moved;          /* scratch for merge_siblings */
    int *pos;            /* per node id: its position in g->nodes */
    int *why_at;         /* per node: index of its first input's entry in why[] */
    mf_fuse_block *why;  /* per node input: the refusal, or MF_BLOCK_COUNT (joined / n/a) */
    const mf_node **who; /* per node input: the node behind the refusal */
    const mf_node *via;  /* the outside node of the last convexity refusal */
    bool *deferred;      /* per node id: a widening cast waiting for its consumer */
    int lanes;           /* the target's f32 lanes (ctx->lanes; 0: unknown) */
} segmenter;

/* A node runs on the CPU unless codegen can build it: its op has device code for its dtypes
 * (mf_node_has_mlu_code: f32, and i8 for the int8 ops) and its shapes are within codegen's
 * limits (mf_node_mlu_limit).  Codegen checks the same, so it never refuses a subgraph. */
static bool has_device_code(const mf_node *n)
{
    return mf_node_has_mlu_code(n) && !mf_node_mlu_limit(n);
}

/* Does value v depend on subgraph s through a node outside s?  (Then joining a consumer
 * of v to s would leave s and come back.)  Records the first outside node in sg->via. */
static bool reaches_through_outside(segmenter *sg, const mf_value *v, int s, const mf_node *outside)
{
    const mf_node *n = v->producer;
    if (!n || sg->pos[n->id] < sg->segs[s].lo) /* made before s began: cannot depend on it */
        return false;
    if (n->subgraph == s && outside) {
        sg->via = outside;
        return true;
    }
    if (n->subgraph == s || sg->mark[n->id] == sg->stamp)
        return false;
    sg->mark[n->id] = sg->stamp;
    if (sg->deferred[n->id]) /* a widening cast goes where its consumer goes: not outside */
        return reaches_through_outside(sg, n->inputs[0], s, outside);
    for (int i = 0; i < n->ninputs; i++)
        if (reaches_through_outside(sg, n->inputs[i], s, outside ? outside : n))
            return true;
    if (n->subgraph < 0)
        return false;
    /* A subgraph runs as one kernel, after the inputs of all its members: reaching one
     * member reaches them all.  (Else two convex subgraphs could each wait for the other:
     * s feeding one member of t while another member of t feeds s.) */
    const seg_info *t = &sg->segs[n->subgraph];
    if (sg->swept[n->subgraph] == sg->stamp) /* its members are entered by their inputs too: */
        return false;                         /* sweep them once a search, not once a member */
    sg->swept[n->subgraph] = sg->stamp;
    for (int k = t->lo; k <= t->hi; k++) {
        const mf_node *m = sg->g->nodes[k];
        if (m->subgraph != n->subgraph || sg->mark[m->id] == sg->stamp)
            continue;
        sg->mark[m->id] = sg->stamp;
        for (int i = 0; i < m->ninputs; i++)
            if (reaches_through_outside(sg, m->inputs[i], s, outside ? outside : n))
                return true;
    }
    return false;
}

static bool convex_join(segmenter *sg, const mf_node *n, int s)
{
    sg->stamp++;
    for (int i = 0; i < n->ninputs; i++) {
        const mf_value *v = n->inputs[i];
        if (v->producer && v->producer->subgraph != s && reaches_through_outside(sg, v, s, NULL))
            return false;
    }
    return true;
}

/* Can anchor n take subgraph s (views only) as its prologue?  Views of contiguous data
 * cost nothing in front of an anchor (codegen looks through them), so flatten -> linear
 * is one kernel; each view's result must go nowhere else, or it would need a store. */
static bool view_prologue(segmenter *sg, const mf_node *n, int s)
{
    if (!sg->segs[s].views_only || mf_op_get(n->op)->kind != MF_KIND_ANCHOR)
        return false;
    for (int i = sg->segs[s].lo; i <= sg->segs[s].hi; i++) {
        const mf_node *m = sg->g->nodes[i];
        if (m->subgraph != s)
            continue;
        if (sg->uses[m->outputs[0]->id] != 1)
            return false;
        for (int k = 0; k < sg->g->noutputs; k++)
            if (sg->g->outputs[k] == m->outputs[0])
                return false;
    }
    return convex_join(sg, n, s);
}

/* Nodes of subgraph s that a Winograd chain's input transform accounts for: itself and the
 * widening cast its loads take (placed with it), and its matmul when with_mm. */
static int chain_members(const mf_winograd_chain *wc, int s, bool with_mm)
{
    const mf_node *cast = wc->in->inputs[0]->producer;
    return 1 + with_mm + (cast && cast->subgraph == s && mf_node_widens_half(cast));
}

/* Anchor n into subgraph s: MF_BLOCK_COUNT when n is the projection of an inverted-residual
 * block whose expand-depthwise chain (and activations) make up s, the depthwise conv of an
 * expand-depthwise chain whose expansion (and activation) make up s, with a wide tensor large
 * enough, or the projection of a depthwise-project chain whose depthwise conv (and
 * activation) make up s, with a depthwise result large enough, or the matmul or output
 * transform of a Winograd chain whose earlier nodes make up s; MF_BLOCK_SMALL_EXPANSION,
 * _SMALL_DEPTHWISE, _LARGE_WINOGRAD or _SMALL_WINOGRAD when only the size is wrong,
 * _NARROW_WINOGRAD when the target's vectors are; else the second anchor. */
static mf_fuse_block chain_join(segmenter *sg, const mf_node *n, int s, const mf_node **who)
{
    mf_expand_dw ch;
    mf_dw_project dp;
    mf_inverted_residual ir;
    mf_winograd_chain wc;
    const seg_info *si = &sg->segs[s];
    /* a Winograd conv's matmul into its input transform's subgraph, its output transform
     * into theirs: one kernel whose transformed tiles never go to memory */
    if (mf_winograd_chain_of(sg->g, n, &wc) &&
        (n == wc.mm ? si->core == wc.in && si->nnodes == chain_members(&wc, s, false)
                    : si->core == wc.mm && wc.in->subgraph == s &&
                          si->nnodes == chain_members(&wc, s, true))) {
        if (!mf_winograd_chain_fits(&wc)) {
            *who = wc.out; /* the report sizes the chain's buffers by its output */
            return MF_BLOCK_LARGE_WINOGRAD;
        }
        if (sg->lanes > 0 && sg->lanes < MF_WINOGRAD_CHAIN_MIN_LANES)
            return MF_BLOCK_NARROW_WINOGRAD;
        if (mf_type_nbytes(&wc.in->outputs[0]->type) < MF_SEG_WINOGRAD_CHAIN_BYTES)
            return MF_BLOCK_SMALL_WINOGRAD;
        return convex_join(sg, n, s) ? MF_BLOCK_COUNT : MF_BLOCK_SECOND_ANCHOR;
    }
    /* the projection of an expand-depthwise chain fused already: the whole block, whatever
     * the depthwise result's size (it is never stored; its rows are in L1 or L2 anyway) */
    if (mf_inverted_residual_chain(sg->g, n, &ir) && ir.ed.dw == si->core &&
        ir.ed.expand->subgraph == s && (!ir.dp.act || ir.dp.act->subgraph == s) &&
        si->nnodes == 2 + !!ir.ed.act + !!ir.dp.act)
        return convex_join(sg, n, s) ? MF_BLOCK_COUNT : MF_BLOCK_SECOND_ANCHOR;
    if (mf_dw_project_chain(sg->g, n, &dp) && dp.dw == si->core && si->nnodes == (dp.act ? 2 : 1) &&
        (!dp.act || dp.act->subgraph == s)) {
        if (mf_type_nbytes(&dp.dw->outputs[0]->type) < MF_SEG_DW_PROJECT_BYTES)
            return MF_BLOCK_SMALL_DEPTHWISE;
        return convex_join(sg, n, s) ? MF_BLOCK_COUNT : MF_BLOCK_SECOND_ANCHOR;
    }
    if (!mf_expand_dw_chain(sg->g, n, &ch) || ch.expand != si->core || si->nnodes != (ch.act ? 2 : 1) ||
        (ch.act && ch.act->subgraph != s))
        return MF_BLOCK_SECOND_ANCHOR;
    if (ch.wide_bytes < MF_SEG_EXPAND_DW_BYTES)
        return MF_BLOCK_SMALL_EXPANSION;
    return convex_join(sg, n, s) ? MF_BLOCK_COUNT : MF_BLOCK_SECOND_ANCHOR;
}

/* Why n may not join subgraph s, or MF_BLOCK_COUNT when it may; *who: the core in the way. */
static mf_fuse_block join_refusal(segmenter *sg, const mf_node *n, int s, const mf_node **who)
{
    const seg_info *si = &sg->segs[s];
    mf_op_kind kind = mf_op_get(n->op)->kind;
    *who = si->core;
    if (si->nnodes >= MF_SEG_MAX_NODES)
        return MF_BLOCK_FULL;
    if (view_prologue(sg, n, s))
        return MF_BLOCK_COUNT;
    if (kind == MF_KIND_ANCHOR && si->core && mf_op_get(si->core->op)->kind == MF_KIND_ANCHOR)
        return chain_join(sg, n, s, who);
    if (kind == MF_KIND_ANCHOR || kind == MF_KIND_LAYOUT)
        return si->core && mf_op_get(si->core->op)->kind == MF_KIND_ANCHOR ? MF_BLOCK_SECOND_ANCHOR
                                                                          : MF_BLOCK_ANCHOR_PROLOGUE;
    if (si->core && !mf_op_takes_epilogue(si->core->op))
        return MF_BLOCK_NO_EPILOGUE;
    if ((kind == MF_KIND_REDUCTION || kind == MF_KIND_VIEW) && si->core) /* one core; a view would re-index it */
        return mf_op_get(si->core->op)->kind == MF_KIND_ANCHOR ? MF_BLOCK_AFTER_ANCHOR : MF_BLOCK_AFTER_REDUCTION;
    if (si->core && mf_type_numel(&n->outputs[0]->type) > si->core_numel)
        return MF_BLOCK_LARGER;
    if (!convex_join(sg, n, s)) {
        *who = sg->via;
        return MF_BLOCK_CONVEXITY;
    }
    return MF_BLOCK_COUNT;
}

/* A cast from f16 to f32 with one consumer waits for it: the consumer's loads widen the
 * f16 (an anchor's engine for the inputs mf_node_loads_half names; the evaluator for
 * everything else), so the f32 never goes to memory. */
static bool defers(const segmenter *sg, const mf_node *n)
{
    if (!mf_node_widens_half(n) || sg->uses[n->outputs[0]->id] != 1)
        return false;
    for (int k = 0; k < sg->g->noutputs; k++)
        if (sg->g->outputs[k] == n->outputs[0])
            return false;
    return true;
}

static int new_segment(segmenter *sg, const mf_node *n)
{
    mf_op_kind kind = mf_op_get(n->op)->kind;
    seg_info *si = &sg->segs[sg->nsegs];
    si->core = kind == MF_KIND_ANCHOR || kind == MF_KIND_REDUCTION ? n : NULL;
    si->core_numel = mf_type_numel(&n->outputs[0]->type);
    si->views_only = kind == MF_KIND_VIEW;
    si->nnodes = 0; /* the caller counts n in */
    si->lo = si->hi = sg->pos[n->id];
    return sg->nsegs++;
}

/* The producer of n's input i for fusion: a widening cast that waits for n is looked
 * through (n may join the subgraph that narrowed the value: the round trip stays in
 * registers). */
static const mf_node *fusion_producer(const segmenter *sg, const mf_node *n, int i)
{
    const mf_node *p = n->inputs[i]->producer;
    return p && sg->deferred[p->id] ? p->inputs[0]->producer : p;
}

/* The producer subgraph n joins, or -1: one with a core first (n becomes its epilogue).
 * Records, per input, why its producer's subgraph was not joined. */
static int pick(segmenter *sg, const mf_node *n, bool fuse)
{
    int best = -1, at = sg->why_at[n->id];
    for (int i = 0; i < n->ninputs; i++) {
        const mf_node *p = fusion_producer(sg, n, i);
        if (!p || p->subgraph < 0)
            continue;
        if (!fuse) {
            sg->why[at + i] = MF_BLOCK_DISABLED;
            continue;
        }
        sg->why[at + i] = join_refusal(sg, n, p->subgraph, &sg->who[at + i]);
        if (sg->why[at + i] != MF_BLOCK_COUNT)
            continue;
        if (best < 0 || (sg->segs[p->subgraph].core && !sg->segs[best].core))
            best = p->subgraph;
    }
    for (int i = 0; i < n->ninputs; i++) { /* joinable producers that lost to best */
        const mf_node *p = fusion_producer(sg, n, i);
        if (p && p->subgraph >= 0 && p->subgraph != best && sg->why[at + i] == MF_BLOCK_COUNT) {
            sg->why[at + i] = MF_BLOCK_OTHER_PRODUCER;
            sg->who[at + i] = NULL; /* record_edges names the producer n joined */
        }
    }
    return best;
}

/* Is subgraph s (after relabelling) still convex: does no input of a member come from
 * outside s by a path that started in s? */
static bool convex(segmenter *sg, int s)
{
    for (int i = sg->segs[s].lo; i <= sg->segs[s].hi; i++) {
        const mf_node *n = sg->g->nodes[i];
        if (n->subgraph != s)
            continue;
        sg->stamp++;
        for (int k = 0; k < n->ninputs; k++) {
            const mf_value *v = n->inputs[k];
            if (v->producer && v->producer->subgraph != s && reaches_through_outside(sg, v, s, NULL))
                return false;
        }
    }
    return true;
}

/* Sibling fusion: once n joined s, another purely elementwise subgraph that also feeds n
 * (a branch of the same chain, e.g. tanh(x) beside sigmoid(x*a+b)) merges into s when s
 * has no core either and the union stays convex. */
static void merge_siblings(segmenter *sg, const mf_node *n, int s)
{
    if (sg->segs[s].core)
        return;
    for (int i = 0; i < n->ninputs; i++) {
        const mf_node *p = n->inputs[i]->producer;
        int t = p ? p->subgraph : -1;
        if (t < 0 || t == s || sg->segs[t].core ||
            sg->segs[s].nnodes + sg->segs[t].nnodes > MF_SEG_MAX_NODES)
            continue;
        int count = 0, lo = sg->segs[s].lo, hi = sg->segs[s].hi;
        sg->segs[s].views_only = false; /* n, elementwise, is in s */
        for (int k = sg->segs[t].lo; k <= sg->segs[t].hi; k++)
            if (sg->g->nodes[k]->subgraph == t) {
                sg->g->nodes[k]->subgraph = s;
                sg->moved[count++] = k;
            }
        sg->segs[s].lo = lo < sg->segs[t].lo ? lo : sg->segs[t].lo;
        sg->segs[s].hi = hi > sg->segs[t].hi ? hi : sg->segs[t].hi;
        if (!convex(sg, s)) { /* undo */
            for (int k = 0; k < count; k++)
                sg->g->nodes[sg->moved[k]]->subgraph = t;
            sg->segs[s].lo = lo, sg->segs[s].hi = hi;
        } else {
            sg->segs[s].nnodes += count;
            sg->segs[t].nnodes = 0;
        }
    }
}

static void place(segmenter *sg, mf_node *n, int sid)
{
    n->subgraph = sid;
    sg->segs[sid].nnodes++;
    if (sg->pos[n->id] < sg->segs[sid].lo)
        sg->segs[sid].lo = sg->pos[n->id];
    if (sg->pos[n->id] > sg->segs[sid].hi)
        sg->segs[sid].hi = sg->pos[n->id];
}

/* Places the widening casts that wait for n: into n's subgraph sid when its code widens
 * them (sid < 0: n runs on the CPU), else each alone. */
static void place_deferred(segmenter *sg, const mf_node *n, int sid)
{
    for (int i = 0; i < n->ninputs; i++) {
        mf_node *p = n->inputs[i]->producer;
        if (!p || !sg->deferred[p->id])
            continue;
        sg->deferred[p->id] = false;
        bool takes = sid >= 0 && (mf_op_get(n->op)->kind != MF_KIND_ANCHOR || mf_node_loads_half(n, i));
        place(sg, p, takes ? sid : new_segment(sg, p));
    }
}

/* Subgraph ids 0..n-1 in order of first node, after merges left holes. */
static int renumber(mf_graph *g, int nsegs, int *map)
{
    int next = 0;
    for (int i = 0; i < nsegs; i++)
        map[i] = -1;
    for (int i = 0; i < g->nnodes; i++) {
        int s = g->nodes[i]->subgraph;
        if (s >= 0 && map[s] < 0)
            map[s] = next++;
        if (s >= 0)
            g->nodes[i]->subgraph = map[s];
    }
    return next;
}

static mf_status add_edge(mf_pass_ctx *ctx, const mf_fuse_edge *e)
{
    if (ctx->nedges == ctx->edges_cap) {
        int cap = ctx->edges_cap ? 2 * ctx->edges_cap : 16;
        mf_fuse_edge *p = realloc(ctx->edges, sizeof *p * (size_t)cap);
        if (!p)
            return mf_error(MF_ERR_NOMEM, "segment: out of memory");
        ctx->edges = p;
        ctx->edges_cap = cap;
    }
    ctx->edges[ctx->nedges++] = *e;
    return MF_OK;
}

static mf_fuse_block cpu_reason(const mf_node *cpu)
{
    if (!mf_op_get(cpu->op)->has_mlu)
        return MF_BLOCK_CPU_OP;
    return mf_node_has_mlu_code(cpu) ? MF_BLOCK_CODEGEN_LIMIT : MF_BLOCK_DTYPE;
}

/* Every edge that crosses a subgraph boundary (CPU to CPU edges are no boundary), with
 * the refusal recorded when its consumer was placed. */
static mf_status record_edges(segmenter *sg, mf_pass_ctx *ctx)
{
    ctx->nedges = 0;
    for (int i = 0; i < sg->g->nnodes; i++) {
        const mf_node *n = sg->g->nodes[i];
        int at = sg->why_at[n->id];
        for (int k = 0; k < n->ninputs; k++) {
            const mf_node *p = n->inputs[k]->producer;
            bool repeat = false;
            for (int j = 0; j < k; j++)
                repeat |= n->inputs[j] == n->inputs[k];
            if (!p || repeat || (p->subgraph >= 0 && p->subgraph == n->subgraph) ||
                (p->subgraph < 0 && n->subgraph < 0))
                continue;
            mf_fuse_edge e = {p, n, n->inputs[k], MF_BLOCK_OTHER_PRODUCER, NULL, NULL};
            const mf_node *cpu = p->subgraph < 0 ? p : n->subgraph < 0 ? n : NULL;
            if (cpu)
                e.why = cpu_reason(cpu), e.other = cpu;
            else if (sg->why[at + k] != MF_BLOCK_COUNT)
                e.why = sg->why[at + k], e.other = sg->who[at + k];
            if (e.why == MF_BLOCK_OTHER_PRODUCER) /* the producer whose subgraph n joined */
                for (int j = 0; j < n->ninputs && !e.other; j++)
                    if (n->inputs[j]->producer && n->inputs[j]->producer->subgraph == n->subgraph)
                        e.other = n->inputs[j]->producer;
            if (e.why == MF_BLOCK_CONVEXITY)
                e.via = e.other; /* the outside node the path runs through */
            mf_status s = add_edge(ctx, &e);
            if (s)
                return s;
        }
    }
    return MF_OK;
}

mf_status mf_pass_segment(mf_graph *g, mf_pass_ctx *ctx, int *changes)
{
    int ninputs = 0;
    for (int i = 0; i < g->nnodes; i++)
        ninputs += g->nodes[i]->ninputs;
    size_t nn = (size_t)g->nnodes + 1;
    segmenter sg = {.g = g, .lanes = ctx->lanes, .segs = calloc(nn, sizeof(seg_info)), .mark = calloc(nn, sizeof(int)),
                    .swept = calloc(nn, sizeof(int)), .uses = calloc((size_t)g->nvalues + 1, sizeof(int)),
                    .moved = calloc(nn, sizeof(int)), .pos = calloc(nn, sizeof(int)),
                    .why_at = calloc(nn, sizeof(int)),
                    .why = calloc((size_t)ninputs + 1, sizeof(mf_fuse_block)),
                    .who = calloc((size_t)ninputs + 1, sizeof(mf_node *)),
                    .deferred = calloc((size_t)g->nvalues + (size_t)g->nnodes + 1, sizeof(bool))};
    mf_status s = MF_OK;
    if (!sg.segs || !sg.mark || !sg.swept || !sg.uses || !sg.moved || !sg.pos || !sg.why_at || !sg.why || !sg.who || !sg.deferred) {
        s = mf_error(MF_ERR_NOMEM, "segment: out of memory");
        goto out;
    }
    for (int i = 0, at = 0; i < g->nnodes; i++) {
        g->nodes[i]->subgraph = -1;
        sg.pos[g->nodes[i]->id] = i;
        sg.why_at[g->nodes[i]->id] = at;
        for (int k = 0; k < g->nodes[i]->ninputs; k++) {
            sg.why[at + k] = MF_BLOCK_COUNT;
            sg.uses[g->nodes[i]->inputs[k]->id]++;
        }
        at += g->nodes[i]->ninputs;
    }
    for (int k = 0; k < g->noutputs; k++)
        sg.uses[g->outputs[k]->id]++;
    ctx->cpu_ops = 0;
    for (int i = 0; i < g->nnodes; i++) {
        mf_node *n = g->nodes[i];
        if (!has_device_code(n)) {
            ctx->cpu_ops++;
            place_deferred(&sg, n, -1);
            continue;
        }
        if (ctx->fuse && defers(&sg, n)) {
            sg.deferred[n->id] = true;
            continue;
        }
        int sid = pick(&sg, n, ctx->fuse);
        mf_op_kind kind = mf_op_get(n->op)->kind;
        if (sid < 0) {
            sid = new_segment(&sg, n);
        } else if (kind == MF_KIND_REDUCTION || kind == MF_KIND_ANCHOR) {
            sg.segs[sid].core = n; /* the prologue's subgraph now ends in this core */
            sg.segs[sid].core_numel = mf_type_numel(&n->outputs[0]->type);
        }
        if (kind != MF_KIND_VIEW)
            sg.segs[sid].views_only = false;
        n->subgraph = sid;
        sg.segs[sid].nnodes++;
        sg.segs[sid].hi = i; /* nodes come in order: n is the last so far */
        place_deferred(&sg, n, sid);
        if (ctx->fuse && mf_op_get(n->op)->kind == MF_KIND_ELEMENTWISE)
            merge_siblings(&sg, n, sid);
    }
    ctx->nsubgraphs = renumber(g, sg.nsegs, sg.mark);
    *changes = ctx->nsubgraphs;
    s = record_edges(&sg, ctx);
out:
    free(sg.segs);
    free(sg.mark);
    free(sg.swept);
    free(sg.uses);
    free(sg.moved);
    free(sg.pos);
    free(sg.why_at);
    free(sg.why);
    free(sg.who);
    free(sg.deferred);
    return s;
}
