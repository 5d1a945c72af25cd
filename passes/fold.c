/* fold.c — constant folding: a node whose inputs are all constants with data is computed
 * once, at compile time, by the evaluator the caller supplies (ctx->eval: the reference
 * kernels), and becomes a constant.  One walk in topological order, so folding cascades
 * through chains of constant nodes. */
#include <stdint.h>
#include <stdlib.h>

#include "passes.h"

#define MAX_IN 64

static bool foldable(const mf_node *n, size_t limit)
{
    /* a weight transform exists to be folded: its result replaces the weight it reads; so
     * does the cast that widens a weight stored as half (quantize --dtype half) */
    if (n->op == MF_OP_WINOGRAD_WEIGHT || (n->op == MF_OP_CAST && n->inputs[0]->type.dtype == MF_F16 &&
                                           n->outputs[0]->type.dtype == MF_F32))
        limit = SIZE_MAX;
    if (n->ninputs > MAX_IN || mf_type_nbytes(&n->outputs[0]->type) > limit)
        return false;
    for (int i = 0; i < n->ninputs; i++)
        if (!n->inputs[i]->is_const || !n->inputs[i]->data) /* opaque: bytes unknown */
            return false;
    return true;
}

/* Computes n into a new constant (*out), or leaves *out NULL when the evaluator declines
 * (an op or dtype it cannot run): that node simply stays.  Out of memory fails. */
static mf_status fold_node(mf_graph *g, const mf_node *n, mf_pass_ctx *ctx, mf_value **out)
{
    const void *in[MAX_IN];
    mf_type types[MAX_IN];
    const mf_value *res = n->outputs[0];
    *out = NULL;
    for (int i = 0; i < n->ninputs; i++) {
        in[i] = n->inputs[i]->data->data;
        types[i] = n->inputs[i]->type;
    }
    mf_buffer *b = mf_buffer_new_host(mf_type_nbytes(&res->type));
    if (!b)
        return mf_error(MF_ERR_NOMEM, "fold: out of memory folding node %d (%s)", n->id,
                        mf_op_get(n->op)->name);
    mf_status s = ctx->eval(n->op, n->attrs, n->ninputs, in, types, b->data, &res->type,
                            ctx->eval_ctx);
    if (s == MF_OK && !(*out = mf_graph_add_const(g, res->name, &res->type, b)))
        s = mf_error(MF_ERR_NOMEM, "fold: out of memory folding node %d (%s)", n->id,
                     mf_op_get(n->op)->name);
    mf_buffer_release(b); /* the constant holds its own reference */
    if (s == MF_ERR_NOMEM)
        return mf_error_context(s, "fold: node %d (%s)", n->id, mf_op_get(n->op)->name);
    return MF_OK;
}

mf_status mf_pass_fold(mf_graph *g, mf_pass_ctx *ctx, int *changes)
{
    *changes = 0;
    if (!ctx->eval)
        return MF_OK;
    int nvals = g->nvalues; /* folded constants get ids past these: never redirected */
    mf_value **repl = calloc((size_t)nvals + 1, sizeof *repl); /* by value id */
    bool *dead = calloc((size_t)g->nnodes + 1, 1);
    mf_status s = MF_OK;
    if (!repl || !dead) {
        s = mf_error(MF_ERR_NOMEM, "fold: out of memory");
        goto out;
    }
    int count = 0;
    for (int i = 0; i < g->nnodes && !s; i++) {
        mf_node *n = g->nodes[i];
        /* Inputs are redirected as the walk reaches each node (rather than by a scan of
         * the graph per fold), so a consumer of a folded node sees the new constant. */
        mf_pass_redirect(n, repl, nvals);
        mf_value *c = NULL;
        if (foldable(n, ctx->fold_limit))
            s = fold_node(g, n, ctx, &c);
        if (c)
            repl[n->outputs[0]->id] = c, dead[n->id] = true, count++;
    }
    mf_pass_apply(g, repl, nvals, dead, count);
    *changes = count;
out:
    free(repl);
    free(dead);
    return s;
}
