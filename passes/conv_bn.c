/* conv_bn.c — batch norm folded into the anchor before it: batch_norm(conv2d(x, w, b))
 * with constant weights is conv2d(x, w*s, (b - mean)*s + beta), s = gamma/sqrt(var + eps)
 * per output channel (likewise for linear with a rank-2 result), so inference runs one
 * anchor instead of an anchor and a normalization.  The anchor node is rewritten in place
 * (it already sits before every user of the batch norm); new weights are always new
 * constants, since the old ones may have other users. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "passes.h"

/* The conv2d or linear node whose result bn normalizes and nothing else uses, with every
 * weight a constant with data; NULL when the pattern does not apply. */
static mf_node *bn_anchor(const mf_node *bn, const int *uses)
{
    const mf_value *y = bn->inputs[0];
    mf_node *a = y->producer;
    if (!a || uses[y->id] != 1)
        return NULL;
    /* linear puts its channels last; batch_norm takes dim 1: they agree at rank 2 only */
    if (a->op != MF_OP_CONV2D && !(a->op == MF_OP_LINEAR && y->type.rank == 2))
        return NULL;
    if (a->inputs[1]->type.shape[0] == 0) /* no channels: nothing to scale */
        return NULL;
    if (a->op == MF_OP_CONV2D && mf_conv2d_of(a->op, a->attrs).packed) /* scaled per plain channel */
        return NULL;
    for (int i = 1; i < a->ninputs; i++)
        if (!mf_pass_f32_data(a->inputs[i]))
            return NULL;
    for (int i = 1; i < 5; i++)
        if (!mf_pass_f32_data(bn->inputs[i]))
            return NULL;
    return a;
}

/* "NAME.bn" for a named value, NULL for an unnamed one. */
static const char *derived(char *buf, size_t cap, const mf_value *v)
{
    if (!v || !v->name)
        return NULL;
    snprintf(buf, cap, "%s.bn", v->name);
    return buf;
}

/* Gives anchor a (inputs x, w[, b]) the weight and bias of a followed by bn. */
static mf_status fold_into(mf_graph *g, mf_node *a, const mf_node *bn)
{
    const mf_value *w = a->inputs[1], *b = a->ninputs > 2 ? a->inputs[2] : NULL;
    const float *wd = w->data->data, *bd = b ? b->data->data : NULL;
    const float *gamma = bn->inputs[1]->data->data, *beta = bn->inputs[2]->data->data;
    const float *mean = bn->inputs[3]->data->data, *var = bn->inputs[4]->data->data;
    double eps = mf_attr_float(MF_OP_BATCH_NORM, bn->attrs, "eps");
    int64_t co = w->type.shape[0], per = mf_type_numel(&w->type) / co;
    mf_type bt = {.dtype = MF_F32, .rank = 1, .shape = {co}};

    mf_buffer *nw = mf_buffer_new_host(mf_type_nbytes(&w->type));
    mf_buffer *nb = mf_buffer_new_host(mf_type_nbytes(&bt));
    mf_value **ins = a->ninputs == 3 ? a->inputs : mf_arena_alloc(g->arena, 3 * sizeof *ins);
    mf_status s = MF_OK;
    if (!nw || !nb || !ins)
        goto nomem;
    float *ow = nw->data, *ob = nb->data;
    for (int64_t k = 0; k < co; k++) {
        double sc = (double)gamma[k] / sqrt((double)var[k] + eps);
        for (int64_t j = 0; j < per; j++)
            ow[k * per + j] = (float)((double)wd[k * per + j] * sc);
        ob[k] = (float)(((bd ? (double)bd[k] : 0.0) - mean[k]) * sc + beta[k]);
    }
    char wname[256], bname[256];
    mf_value *cw = mf_graph_add_const(g, derived(wname, sizeof wname, w), &w->type, nw);
    const mf_value *bsrc = b ? b : bn->inputs[2]; /* no bias: named after beta */
    mf_value *cb = mf_graph_add_const(g, derived(bname, sizeof bname, bsrc), &bt, nb);
    if (!cw || !cb)
        goto nomem;
    ins[0] = a->inputs[0], ins[1] = cw, ins[2] = cb;
    a->inputs = ins;
    a->ninputs = 3;
    goto out;
nomem:
    s = mf_error(MF_ERR_NOMEM, "conv-bn: out of memory folding node %d (batch_norm)", bn->id);
out:
    mf_buffer_release(nw);
    mf_buffer_release(nb);
    return s;
}

mf_status mf_pass_conv_bn(mf_graph *g, mf_pass_ctx *ctx, int *changes)
{
    (void)ctx;
    *changes = 0;
    int nvals = g->nvalues; /* new weights get ids past these: never counted or redirected */
    int *uses = calloc((size_t)nvals + 1, sizeof *uses);              /* by value id */
    mf_value **repl = calloc((size_t)nvals + 1, sizeof *repl); /* by value id */
    bool *dead = calloc((size_t)g->nnodes + 1, 1);
    mf_status s = MF_OK;
    if (!uses || !repl || !dead) {
        s = mf_error(MF_ERR_NOMEM, "conv-bn: out of memory");
        goto out;
    }
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i]->ninputs; j++)
            uses[g->nodes[i]->inputs[j]->id]++;
    for (int i = 0; i < g->noutputs; i++)
        uses[g->outputs[i]->id]++;
    int count = 0;
    for (int i = 0; i < g->nnodes && !s; i++) {
        mf_node *n = g->nodes[i];
        /* redirect as the walk goes: the users of a folded batch norm read the anchor */
        mf_pass_redirect(n, repl, nvals);
        mf_node *a = n->op == MF_OP_BATCH_NORM ? bn_anchor(n, uses) : NULL;
        if (!a || (s = fold_into(g, a, n)))
            continue;
        mf_value *y = a->outputs[0], *z = n->outputs[0];
        repl[z->id] = y;
        uses[y->id] = uses[z->id]; /* the batch norm's users, so a second one folds too */
        dead[n->id] = true;
        count++;
    }
    mf_pass_apply(g, repl, nvals, dead, count);
    *changes = count;
out:
    free(uses);
    free(repl);
    free(dead);
    return s;
}
