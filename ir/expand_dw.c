/* expand_dw.c — the chains of mobilenet_v2-like networks' inverted residual blocks that run
 * as one kernel.  Expand-depthwise: a 1x1 conv that widens the channels ("expand": stride 1,
 * no padding, one group), an optional activation (relu or clamp: relu6), then a 3x3
 * depthwise conv (groups == channels, stride 1 or 2); segmentation keeps such a chain in one
 * subgraph when the wide tensor is large, and codegen then computes the wide rows a band at a
 * time (codegen/lower_conv_expand_dw.c), so they never go to memory.  Depthwise-project: a
 * depthwise conv alone in its subgraph (with its activation), then the 1x1 projection that
 * narrows its result; codegen computes the depthwise rows a band at a time into a buffer
 * that the projection's GEMM reads at once (codegen/lower_conv_dw_project.c).  The whole
 * block: both at once, expand -> depthwise -> project in one kernel
 * (codegen/lower_conv_expand_dw.c with a projection).  One recognizer each, so they never
 * disagree. */
#include "ir.h"

static bool f32_rank4(const mf_value *v)
{
    return v->type.dtype == MF_F32 && v->type.rank == 4;
}

/* Is v used by exactly one node and not a graph output? */
static bool single_use(const mf_graph *g, const mf_value *v)
{
    return mf_graph_sole_user(g, v) != NULL;
}

/* A 1x1 conv of stride 1, no padding and one group: an expansion or a projection. */
static bool is_pointwise(const mf_node *n)
{
    if (n->op != MF_OP_CONV2D || n->ninputs < 2 || !f32_rank4(n->inputs[0]) || !f32_rank4(n->outputs[0]))
        return false;
    const mf_type *wt = &n->inputs[1]->type;
    mf_conv2d_view v = mf_conv2d_of(n->op, n->attrs);
    return wt->rank == 4 && wt->shape[2] == 1 && wt->shape[3] == 1 && v.groups == 1 && v.stride[0] == 1 &&
           v.stride[1] == 1 && v.padding[0] == 0 && v.padding[1] == 0 && v.dilation[0] == 1 && v.dilation[1] == 1;
}

static bool is_depthwise3x3(const mf_node *n)
{
    if (n->op != MF_OP_CONV2D || n->ninputs < 2 || !f32_rank4(n->inputs[0]) || !f32_rank4(n->outputs[0]))
        return false;
    const mf_type *xt = &n->inputs[0]->type, *wt = &n->inputs[1]->type;
    mf_conv2d_view v = mf_conv2d_of(n->op, n->attrs);
    int64_t c = xt->shape[1];
    /* one channel is a plain conv, for the direct engines: the depthwise one wants groups > 1 */
    return c > 1 && wt->rank == 4 && wt->shape[0] == c && wt->shape[1] == 1 && wt->shape[2] == 3 && wt->shape[3] == 3 &&
           v.groups == c && v.stride[0] == v.stride[1] && (v.stride[0] == 1 || v.stride[0] == 2) &&
           v.padding[0] == 1 && v.padding[1] == 1 && v.dilation[0] == 1 && v.dilation[1] == 1 &&
           n->outputs[0]->type.shape[1] == c;
}

static bool is_activation(const mf_node *n)
{
    return (n->op == MF_OP_RELU || n->op == MF_OP_CLAMP) && n->ninputs == 1 && f32_rank4(n->outputs[0]);
}

/* The node behind n's input 0, looked through one activation (*act; else NULL), each value
 * on the way used once and not a graph output; NULL when there is none.  *v: its output. */
static const mf_node *chain_producer(const mf_graph *g, const mf_node *n, const mf_node **act,
                                     const mf_value **v)
{
    *v = n->inputs[0], *act = NULL;
    const mf_node *p = (*v)->producer;
    if (!p || !single_use(g, *v))
        return NULL;
    if (!is_activation(p))
        return p;
    *act = p;
    *v = p->inputs[0];
    return (*v)->producer && single_use(g, *v) ? (*v)->producer : NULL;
}

bool mf_expand_dw_chain(const mf_graph *g, const mf_node *dw, mf_expand_dw *out)
{
    if (!dw || !is_depthwise3x3(dw))
        return false;
    const mf_value *v;
    const mf_node *act, *p = chain_producer(g, dw, &act, &v);
    if (!p)
        return false;
    const mf_type *wt = &p->outputs[0]->type;
    if (!is_pointwise(p) || wt->shape[1] != dw->inputs[0]->type.shape[1] ||
        3 * wt->shape[1] * wt->shape[3] * 4 > MF_EXPAND_DW_BUFFER ||
        mf_conv2d_of(p->op, p->attrs).packed > MF_EXPAND_DW_MAX_BLOCK)
        return false;
    if (out)
        *out = (mf_expand_dw){.expand = p, .act = act, .dw = dw, .wide_bytes = (int64_t)mf_type_nbytes(&v->type)};
    return true;
}

bool mf_dw_project_chain(const mf_graph *g, const mf_node *project, mf_dw_project *out)
{
    if (!project || !is_pointwise(project) ||
        mf_conv2d_of(project->op, project->attrs).packed > MF_EXPAND_DW_MAX_BLOCK)
        return false;
    const mf_value *v;
    const mf_node *act, *dw = chain_producer(g, project, &act, &v);
    if (!dw)
        return false;
    const mf_type *dt = &dw->outputs[0]->type;
    if (!is_depthwise3x3(dw) || mf_conv2d_of(dw->op, dw->attrs).packed ||
        project->inputs[0]->type.shape[1] != dt->shape[1] ||
        dt->shape[1] * dt->shape[3] * 4 > MF_DW_PROJECT_BUFFER)
        return false;
    if (out)
        *out = (mf_dw_project){.dw = dw, .act = act, .project = project};
    return true;
}

bool mf_inverted_residual_chain(const mf_graph *g, const mf_node *project,
                                mf_inverted_residual *out)
{
    mf_inverted_residual r;
    if (!mf_dw_project_chain(g, project, &r.dp) || !mf_expand_dw_chain(g, r.dp.dw, &r.ed))
        return false;
    if (out)
        *out = r;
    return true;
}
