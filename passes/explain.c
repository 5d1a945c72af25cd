/* explain.c — the fusion report of `mlufuse opt --explain`: the subgraphs segmentation
 * formed, then, for every edge it left between two subgraphs (or a subgraph and a CPU
 * op), the rule that kept them apart; in a quantized graph, the layers that stayed f32 and
 * why.  Values are named as the printed graph names them. */
#include <stdlib.h>
#include <string.h>

#include "passes.h"

static const char *const block_names[MF_BLOCK_COUNT] = {
    [MF_BLOCK_CPU_OP] = "unsupported op",
    [MF_BLOCK_DTYPE] = "dtype change",
    [MF_BLOCK_DISABLED] = "DISABLE_MLU_FUSION",
    [MF_BLOCK_SECOND_ANCHOR] = "second anchor",
    [MF_BLOCK_ANCHOR_PROLOGUE] = "anchor takes no prologue",
    [MF_BLOCK_AFTER_REDUCTION] = "after a reduction",
    [MF_BLOCK_AFTER_ANCHOR] = "after an anchor",
    [MF_BLOCK_LARGER] = "epilogue larger than its core",
    [MF_BLOCK_CONVEXITY] = "would break convexity",
    [MF_BLOCK_OTHER_PRODUCER] = "joined another producer",
    [MF_BLOCK_FULL] = "subgraph full",
    [MF_BLOCK_CODEGEN_LIMIT] = "codegen limit",
    [MF_BLOCK_NO_EPILOGUE] = "core takes no epilogue",
    [MF_BLOCK_SMALL_EXPANSION] = "small expansion",
    [MF_BLOCK_SMALL_DEPTHWISE] = "small depthwise",
    [MF_BLOCK_LARGE_WINOGRAD] = "large Winograd chain",
    [MF_BLOCK_NARROW_WINOGRAD] = "Winograd on narrow vectors",
    [MF_BLOCK_SMALL_WINOGRAD] = "small Winograd tiles",
};

const char *mf_fuse_block_name(mf_fuse_block b)
{
    return (unsigned)b < MF_BLOCK_COUNT ? block_names[b] : "?";
}

static const char *op_name(const mf_node *n)
{
    return mf_op_get(n->op)->name;
}

/* "%4 (conv2d, sg1)" */
static void put_node(mf_strbuf *t, char **names, const mf_node *n)
{
    if (n->subgraph >= 0)
        mf_sb_printf(t, "%%%s (%s, sg%d)", names[n->outputs[0]->id], op_name(n), n->subgraph);
    else
        mf_sb_printf(t, "%%%s (%s, cpu)", names[n->outputs[0]->id], op_name(n));
}

static void put_reason(mf_strbuf *t, char **names, const mf_fuse_edge *e)
{
    const mf_node *o = e->other;
    const char *core_is = o && mf_op_get(o->op)->kind == MF_KIND_ANCHOR ? "an anchor" : "a reduction";
    const char *what = mf_op_get(e->to->op)->kind == MF_KIND_VIEW ? "a view" : "a reduction";
    char ta[128], tb[128];
    mf_sb_printf(t, "%s: ", mf_fuse_block_name(e->why));
    switch (e->why) {
    case MF_BLOCK_CPU_OP:
        mf_sb_printf(t, "%s has no MLU code and runs on the CPU, with copies at the boundary", op_name(o));
        break;
    case MF_BLOCK_DTYPE:
        if (o->ninputs && o->inputs[0]->type.dtype != o->outputs[0]->type.dtype)
            mf_sb_printf(t, "%s turns %s into %s, and MLU code takes f32 only; it runs on the CPU", op_name(o),
                mf_dtype_name(o->inputs[0]->type.dtype), mf_dtype_name(o->outputs[0]->type.dtype));
        else
            mf_sb_printf(t, "%s works on %s values, and MLU code takes f32 only; it runs on the CPU", op_name(o),
                mf_dtype_name(o->outputs[0]->type.dtype));
        break;
    case MF_BLOCK_DISABLED:
        mf_sb_printf(t, "fusion is switched off: every MLU op is its own subgraph");
        break;
    case MF_BLOCK_SECOND_ANCHOR:
        mf_sb_printf(t, "sg%d already has %s %%%s (one anchor per subgraph)", e->from->subgraph, op_name(o),
            names[o->outputs[0]->id]);
        break;
    case MF_BLOCK_ANCHOR_PROLOGUE:
        mf_sb_printf(t, "%s starts its own subgraph; only views whose results go nowhere else are fused in front of an anchor",
                     op_name(e->to));
        break;
    case MF_BLOCK_AFTER_REDUCTION:
    case MF_BLOCK_AFTER_ANCHOR:
        mf_sb_printf(t, "%s is %s, and sg%d has %s %s %%%s already (one core per subgraph)", op_name(e->to), what,
                     e->from->subgraph, core_is, op_name(o), names[o->outputs[0]->id]);
        break;
    case MF_BLOCK_LARGER:
        mf_sb_printf(t, "%s is bigger than the output of its core %s %%%s, %s", mf_type_str(&e->to->outputs[0]->type, ta, sizeof ta),
            op_name(o), names[o->outputs[0]->id], mf_type_str(&o->outputs[0]->type, tb, sizeof tb));
        break;
    case MF_BLOCK_CONVEXITY:
        mf_sb_printf(t, "a path from sg%d leaves it through ", e->from->subgraph);
        put_node(t, names, e->via);
        mf_sb_printf(t, " and comes back");
        break;
    case MF_BLOCK_OTHER_PRODUCER:
        if (o) {
            mf_sb_printf(t, "it went into the subgraph of ");
            put_node(t, names, o);
            mf_sb_printf(t, " (an op joins one producer's subgraph)");
        } else {
            mf_sb_printf(t, "it went into another subgraph");
        }
        break;
    case MF_BLOCK_FULL:
        mf_sb_printf(t, "sg%d has %d ops, the most one kernel takes", e->from->subgraph, MF_SEG_MAX_NODES);
        break;
    case MF_BLOCK_CODEGEN_LIMIT:
        mf_sb_printf(t, "MLU code cannot build %s with %s; it runs on the CPU", op_name(o),
                     mf_node_mlu_limit(o));
        break;
    case MF_BLOCK_NO_EPILOGUE:
        mf_sb_printf(t, "sg%d ends in %s %%%s, whose kernel takes no epilogue", e->from->subgraph,
                     op_name(o), names[o->outputs[0]->id]);
        break;
    case MF_BLOCK_SMALL_EXPANSION:
        mf_sb_printf(t, "%s %%%s expands to %s, %lld KiB, under the %d KiB from which a 1x1 expansion and its depthwise "
                     "conv run as one kernel", op_name(o), names[o->outputs[0]->id],
                     mf_type_str(&o->outputs[0]->type, ta, sizeof ta),
                     (long long)(mf_type_nbytes(&o->outputs[0]->type) / 1024), MF_SEG_EXPAND_DW_BYTES / 1024);
        break;
    case MF_BLOCK_SMALL_DEPTHWISE:
        mf_sb_printf(
            t,
            "%s %%%s makes %s, %lld KiB, under the %d KiB from which a depthwise conv and its 1x1 "
            "projection run as one kernel",
            op_name(o), names[o->outputs[0]->id], mf_type_str(&o->outputs[0]->type, ta, sizeof ta),
            (long long)(mf_type_nbytes(&o->outputs[0]->type) / 1024),
            MF_SEG_DW_PROJECT_BYTES / 1024);
        break;
    case MF_BLOCK_LARGE_WINOGRAD: { /* other: the chain's output transform */
        const mf_type *ut = &e->to->inputs[0]->type;
        mf_winograd_chain wc = {
            .in = e->from, .mm = e->to, .out = o, .weight_bytes = (int64_t)mf_type_nbytes(ut)};
        if (wc.weight_bytes > MF_WINOGRAD_CHAIN_WEIGHTS)
            mf_sb_printf(t,
                         "%s %%%s multiplies %s transformed weights, %lld KiB, over the %d KiB up "
                         "to which a 3x3 conv's Winograd transforms and GEMMs run as one kernel",
                         op_name(e->to), names[e->to->outputs[0]->id],
                         mf_type_str(ut, ta, sizeof ta), (long long)(wc.weight_bytes / 1024),
                         MF_WINOGRAD_CHAIN_WEIGHTS / 1024);
        else
            mf_sb_printf(
                t,
                "a block of one row of %s %%%s's tiles of all %lld input channels takes "
                "%lld KiB of buffers, over the %d KiB of the kernel that runs a 3x3 conv's "
                "Winograd transforms and GEMMs as one",
                op_name(o), names[o->outputs[0]->id], (long long)ut->shape[2],
                (long long)(mf_winograd_chain_buffer_bytes(&wc) / 1024),
                MF_WINOGRAD_CHAIN_BUFFER / 1024);
        break;
    }
    case MF_BLOCK_NARROW_WINOGRAD:
        mf_sb_printf(
            t,
            "the target has fewer than %d f32 lanes, where a 3x3 conv's Winograd transforms "
            "and GEMMs run as three kernels (as one, resnet18's 56x56 layers ran 10 %% "
            "slower on AVX2 code)",
            MF_WINOGRAD_CHAIN_MIN_LANES);
        break;
    case MF_BLOCK_SMALL_WINOGRAD:
        mf_sb_printf(t,
                     "%s %%%s makes %s, %lld KiB, under the %d KiB from which a 3x3 conv's "
                     "Winograd transforms and GEMMs run as one kernel",
                     op_name(e->from), names[e->from->outputs[0]->id],
                     mf_type_str(&e->from->outputs[0]->type, ta, sizeof ta),
                     (long long)(mf_type_nbytes(&e->from->outputs[0]->type) / 1024),
                     MF_SEG_WINOGRAD_CHAIN_BYTES / 1024);
        break;
    case MF_BLOCK_COUNT:
        break;
    }
}

static void put_subgraphs(mf_strbuf *t, const mf_graph *g, char **names, int nsub)
{
    /* the nodes bucketed by subgraph (-1 first), in graph order within each: one pass, not
     * one a subgraph */
    int *start = calloc((size_t)nsub + 2, sizeof(int)), *order = malloc(sizeof(int) * ((size_t)g->nnodes + 1));
    if (!start || !order) {
        t->oom = true;
        free(start);
        free(order);
        return;
    }
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i]->subgraph >= -1 && g->nodes[i]->subgraph < nsub)
            start[g->nodes[i]->subgraph + 2]++;
    for (int s = 1; s <= nsub + 1; s++)
        start[s] += start[s - 1];
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i]->subgraph >= -1 && g->nodes[i]->subgraph < nsub)
            order[start[g->nodes[i]->subgraph + 1]++] = i;
    for (int s = -1, at = 0; s < nsub; s++) { /* start[s + 1] is now the end of s's bucket */
        bool first = true;
        for (; at < start[s + 1]; at++) {
            const mf_node *n = g->nodes[order[at]];
            if (first)
                s < 0 ? mf_sb_printf(t, "  cpu:") : mf_sb_printf(t, "  sg%d:", s);
            mf_sb_printf(t, "%s %s %%%s", first ? "" : ",", op_name(n), names[n->outputs[0]->id]);
            first = false;
        }
        if (!first)
            mf_sb_printf(t, "\n");
    }
    free(start);
    free(order);
}

/* Is n (a depthwise conv) the middle of an inverted-residual block fused whole? */
static bool in_fused_block(const mf_graph *g, const mf_node *n)
{
    mf_inverted_residual ir;
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i]->subgraph == n->subgraph &&
            mf_inverted_residual_chain(g, g->nodes[i], &ir) && ir.dp.dw == n &&
            ir.ed.expand->subgraph == n->subgraph)
            return true;
    return false;
}

/* The expand-depthwise and depthwise-project chains, whole inverted-residual blocks and
 * Winograd chains fused into one subgraph (segment.c's exceptions to one anchor a
 * subgraph), and why. */
static void put_fused_chains(mf_strbuf *t, const mf_graph *g, char **names)
{
    for (int i = 0; i < g->nnodes; i++) {
        const mf_node *n = g->nodes[i];
        mf_expand_dw ch;
        mf_dw_project dp;
        mf_inverted_residual ir;
        char ta[128];
        if (n->subgraph >= 0 && mf_inverted_residual_chain(g, n, &ir) &&
            ir.ed.expand->subgraph == n->subgraph && ir.dp.dw->subgraph == n->subgraph) {
            mf_sb_printf(t,
                         "  sg%d fuses conv2d %%%s (1x1 expansion) -> conv2d %%%s (3x3 depthwise, "
                         "stride %lld) -> conv2d %%%s (1x1 projection): its %s is %lld KiB, at "
                         "least %d KiB, so it is computed a band of rows at a time, the depthwise "
                         "rows too, and neither is stored\n",
                         n->subgraph, names[ir.ed.expand->outputs[0]->id],
                         names[ir.ed.dw->outputs[0]->id],
                         (long long)mf_conv2d_of(ir.ed.dw->op, ir.ed.dw->attrs).stride[0],
                         names[n->outputs[0]->id],
                         mf_type_str(&ir.ed.expand->outputs[0]->type, ta, sizeof ta),
                         (long long)(ir.ed.wide_bytes / 1024), MF_SEG_EXPAND_DW_BYTES / 1024);
            continue;
        }
        if (n->subgraph >= 0 && mf_dw_project_chain(g, n, &dp) && dp.dw->subgraph == n->subgraph) {
            const mf_type *dt = &dp.dw->outputs[0]->type;
            mf_sb_printf(
                t,
                "  sg%d fuses conv2d %%%s (3x3 depthwise, stride %lld) -> conv2d %%%s (1x1 "
                "projection): its %s is %lld KiB, at least %d KiB, so it is computed a "
                "band of rows at a time and never stored\n",
                n->subgraph, names[dp.dw->outputs[0]->id],
                (long long)mf_conv2d_of(dp.dw->op, dp.dw->attrs).stride[0],
                names[n->outputs[0]->id], mf_type_str(dt, ta, sizeof ta),
                (long long)(mf_type_nbytes(dt) / 1024), MF_SEG_DW_PROJECT_BYTES / 1024);
            continue;
        }
        mf_winograd_chain wc;
        if (n->subgraph >= 0 && n->op == MF_OP_WINOGRAD_OUTPUT && mf_winograd_chain_of(g, n, &wc) &&
            mf_winograd_chain_fits(&wc) && wc.in->subgraph == n->subgraph &&
            wc.mm->subgraph == n->subgraph) {
            mf_sb_printf(t,
                         "  sg%d fuses winograd_input %%%s -> matmul %%%s -> winograd_output %%%s "
                         "(a 3x3 conv as Winograd F(4,3)): its transformed tiles and their "
                         "products are computed a block of tile rows at a time and never stored\n",
                         n->subgraph, names[wc.in->outputs[0]->id], names[wc.mm->outputs[0]->id],
                         names[n->outputs[0]->id]);
            continue;
        }
        if (n->subgraph < 0 || !mf_expand_dw_chain(g, n, &ch) ||
            ch.expand->subgraph != n->subgraph || in_fused_block(g, n))
            continue;
        mf_sb_printf(t, "  sg%d fuses conv2d %%%s (1x1 expansion) -> conv2d %%%s (3x3 depthwise, stride %lld): its %s "
                     "is %lld KiB, at least %d KiB, so it is computed a band of rows at a time and never stored\n",
                     n->subgraph, names[ch.expand->outputs[0]->id], names[n->outputs[0]->id],
                     (long long)mf_conv2d_of(n->op, n->attrs).stride[0],
                     mf_type_str(&ch.expand->outputs[0]->type, ta, sizeof ta), (long long)(ch.wide_bytes / 1024),
                     MF_SEG_EXPAND_DW_BYTES / 1024);
    }
}

static void put_edge(mf_strbuf *t, char **names, const mf_fuse_edge *e)
{
    put_node(t, names, e->from);
    mf_sb_printf(t, " -> ");
    put_node(t, names, e->to);
    mf_sb_printf(t, ": ");
    put_reason(t, names, e);
}

char *mf_fuse_edge_text(char **names, const mf_fuse_edge *e)
{
    mf_strbuf t = {0};
    put_edge(&t, names, e);
    return mf_sb_take(&t);
}

static bool is_int8_layer(mf_op op)
{
    return op == MF_OP_QCONV2D || op == MF_OP_QLINEAR || op == MF_OP_QMATMUL || op == MF_OP_QADD;
}

/* Why a layer of a quantized graph stayed f32, read off the graph as quantization decides
 * (module/quant_rewrite.c); NULL for ops that are not layers it quantizes. */
static const char *why_f32(const mf_node *n)
{
    switch (n->op) {
    case MF_OP_CONV2D:
    case MF_OP_LINEAR:
        if (!n->inputs[1]->is_const || !n->inputs[1]->data)
            return "its weights are computed, not constants";
        if (n->ninputs > 2 && (!n->inputs[2]->is_const || !n->inputs[2]->data))
            return "its bias is computed, not a constant";
        return "its input was not calibrated";
    case MF_OP_MATMUL: {
        const mf_value *a = n->inputs[0], *b = n->inputs[1];
        if ((a->producer && a->producer->op == MF_OP_WINOGRAD_INPUT) ||
            (b->producer && b->producer->op == MF_OP_WINOGRAD_INPUT))
            return NULL; /* a Winograd conv's GEMM, not a layer */
        if (a->is_const || b->is_const)
            return "an operand is a constant";
        if (a->type.rank < 2 || b->type.rank < 2)
            return "an operand has rank 1";
        if (mf_matmul_packed(n->attrs))
            return "its left operand is packed";
        if (b->type.rank != 2 && (b->type.rank != a->type.rank ||
                                  memcmp(a->type.shape, b->type.shape, sizeof(int64_t) * (size_t)(a->type.rank - 2))))
            return "its batch dims differ (broadcast)";
        return "its operands were not calibrated";
    }
    case MF_OP_ADD: {
        const mf_value *a = n->inputs[0], *b = n->inputs[1];
        if (a->is_const || b->is_const)
            return "an operand is a constant";
        if (!mf_type_equal(&a->type, &b->type))
            return "its operands differ in shape (broadcast)";
        if (mf_attr_float(n->op, n->attrs, "alpha") != 1.0)
            return "alpha is not 1";
        bool from_int8 = (a->producer && a->producer->op == MF_OP_DEQUANTIZE) ||
                         (b->producer && b->producer->op == MF_OP_DEQUANTIZE);
        return from_int8 ? "an operand is f32 only" : "neither operand is int8";
    }
    default: return NULL;
    }
}

/* The producer of n's input i when it is an op of that kind, else NULL. */
static const mf_node *from(const mf_node *n, int i, mf_op op)
{
    const mf_node *p = n && i < n->ninputs ? n->inputs[i]->producer : NULL;
    return p && p->op == op ? p : NULL;
}

/* The quantize that ends an int8 conv the qconv-winograd pass sent to f32 Winograd:
 * quantize(clamp?(winograd_output(matmul(..., winograd_input(dequantize(x)))))). */
static bool ends_winograd_qconv(const mf_node *n)
{
    if (n->op != MF_OP_QUANTIZE)
        return false;
    const mf_node *o = from(n, 0, MF_OP_WINOGRAD_OUTPUT);
    if (!o && from(n, 0, MF_OP_CLAMP))
        o = from(from(n, 0, MF_OP_CLAMP), 0, MF_OP_WINOGRAD_OUTPUT);
    const mf_node *mm = from(o, 0, MF_OP_MATMUL);
    const mf_node *in = mm ? from(mm, 0, MF_OP_WINOGRAD_INPUT) : NULL;
    if (mm && !in)
        in = from(mm, 1, MF_OP_WINOGRAD_INPUT); /* channels last: the second operand */
    return from(in, 0, MF_OP_DEQUANTIZE) != NULL;
}

/* In a graph with int8 layers: how many, those that run as f32 Winograd, and each layer
 * that stayed f32 and why. */
static void put_quantization(mf_strbuf *t, const mf_graph *g, char **names)
{
    int nint8 = 0, nwino = 0;
    for (int i = 0; i < g->nnodes; i++) {
        nint8 += is_int8_layer(g->nodes[i]->op);
        nwino += ends_winograd_qconv(g->nodes[i]);
    }
    if (!nint8 && !nwino)
        return;
    mf_sb_printf(t, "int8 layers: %d\n", nint8 + nwino);
    for (int i = 0; i < g->nnodes; i++)
        if (ends_winograd_qconv(g->nodes[i]))
            mf_sb_printf(t, "  f32 Winograd: qconv2d %%%s: 3x3 stride 1 on a target without 8-bit dot products "
                            "(qconv-winograd; int8 in and out)\n", names[g->nodes[i]->outputs[0]->id]);
    for (int i = 0; i < g->nnodes; i++) {
        const char *why = why_f32(g->nodes[i]);
        if (why)
            mf_sb_printf(t, "  stayed f32: %s %%%s: %s\n", op_name(g->nodes[i]),
                         names[g->nodes[i]->outputs[0]->id], why);
    }
}

mf_status mf_pass_explain(const mf_graph *g, const mf_pass_ctx *ctx, char **out)
{
    char **names;
    *out = NULL;
    mf_status s = mf_graph_value_names(g, &names);
    if (s)
        return s;
    mf_strbuf t = {0};
    mf_sb_printf(&t, "subgraphs: %d MLU, %d CPU ops\n", ctx->nsubgraphs, ctx->cpu_ops);
    put_subgraphs(&t, g, names, ctx->nsubgraphs);
    put_fused_chains(&t, g, names);
    mf_sb_printf(&t, "unfused edges: %d\n", ctx->nedges);
    for (int i = 0; i < ctx->nedges; i++) {
        const mf_fuse_edge *e = &ctx->edges[i];
        mf_sb_printf(&t, "  ");
        put_edge(&t, names, e);
        mf_sb_printf(&t, "\n");
    }
    put_quantization(&t, g, names);
    free(names);
    *out = mf_sb_take(&t);
    return *out ? MF_OK : mf_error(MF_ERR_NOMEM, "explain: out of memory");
}
