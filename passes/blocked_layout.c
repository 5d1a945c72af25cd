/* blocked_layout.c — regions of small-plane convolutions moved to the blocked channel layout
 * (ops.def: to_blocks, conv2d_blocks, from_blocks), blocks of the target's lanes.  On two
 * cores NCHW forces each layer's split on its neighbours' data: a depthwise conv split by
 * channels and the projection after it by pixels read half their input from the other core,
 * and a split by rows shares a line a channel plane at every boundary (a 14x14 plane is
 * 12.25 lines).  In [N, H, C/B, W, B] every layer splits by rows and a thread's rows of every
 * channel block are one stretch of memory: mobilenet_v2's 14x14 block ran 141-150 us at two
 * threads against NCHW's 167-198 (docs/benchmarks.md, 2026-12-06 22:17-).
 *
 * Members: conv2d nodes with constant f32 weights that are 1x1 (stride 1, no padding,
 * groups 1) or depthwise (groups = channels, kernel up to 5x5), both planes at most
 * MAX_PLANE pixels and the channels whole blocks; and elementwise ops of the same shapes
 * (relu6, residual adds) that read a member's result.  A connected region of at least
 * MIN_CONVS members' convs is rewritten: each member reads the blocked results of the members
 * before it, a value from outside goes through one to_blocks, and a result read outside
 * (or a graph output) comes back through from_blocks (dce drops those nobody reads).  The
 * weights are laid out once, here: [Cout/B][Cin][B] and [C/B][kh][kw][B]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes.h"

#define MAX_PLANE                                                                                  \
    (28 * 28)       /* pixels: where NCHW's splits cross cores (56x56 layers split                 \
                     * by rows already, in the fused expand-depthwise kernels) */
#define MAX_ROW 28  /* pixels a row: the kernels unroll a row's chunks */
#define MIN_CONVS 3 /* a region pays its two reorders back over a few layers */
#define MAX_IN 4    /* inputs of an elementwise member at most */

typedef struct blk_pass {
    mf_graph *g;
    int64_t B;
    bool *member;       /* by node id */
    mf_value **blocked; /* by value id (originals): its blocked replacement (weights: laid out) */
    int maxid;          /* the largest node id */
} blk_pass;

static bool f32_rank4(const mf_value *v)
{
    return v->type.dtype == MF_F32 && v->type.rank == 4;
}

static int64_t plane(const mf_value *v)
{
    return v->type.shape[2] * v->type.shape[3];
}

/* Is n a conv the blocked engines run (its geometry, constants and planes)? */
static bool conv_member(const mf_node *n, int64_t B)
{
    if (n->op != MF_OP_CONV2D || !f32_rank4(n->inputs[0]) || !f32_rank4(n->outputs[0]))
        return false;
    const mf_value *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
    if (!mf_pass_f32_data(w) || (n->ninputs > 2 && n->inputs[2]->type.dtype != MF_F32))
        return false;
    mf_conv2d_view v = mf_conv2d_of(n->op, n->attrs);
    int64_t cin = x->type.shape[1], cout = y->type.shape[1], kh = w->type.shape[2],
            kw = w->type.shape[3];
    if (v.packed || v.dilation[0] != 1 || v.dilation[1] != 1 || cin % B || cout % B ||
        plane(x) > MAX_PLANE || plane(y) > MAX_PLANE || plane(y) == 0 ||
        x->type.shape[3] > MAX_ROW || y->type.shape[3] > MAX_ROW)
        return false;
    bool pointwise = v.groups == 1 && kh == 1 && kw == 1 && v.stride[0] == 1 && v.stride[1] == 1 &&
                     v.padding[0] == 0 && v.padding[1] == 0;
    bool depthwise = v.groups == cin && cout == cin && kh <= 5 && kw <= 5;
    return pointwise || depthwise;
}

/* Is n an elementwise op on values of its output's shape, one of them a member's result? */
static bool elementwise_member(const mf_node *n, const bool *member, int64_t B)
{
    const mf_op_info *info = mf_op_get(n->op);
    if (info->kind != MF_KIND_ELEMENTWISE || !info->has_mlu || n->noutputs != 1 ||
        n->ninputs > MAX_IN || !f32_rank4(n->outputs[0]) || n->outputs[0]->type.shape[1] % B)
        return false;
    bool reads_member = false;
    for (int i = 0; i < n->ninputs; i++) {
        const mf_value *x = n->inputs[i];
        if (!mf_type_equal(&x->type, &n->outputs[0]->type))
            return false;
        reads_member |= x->producer && member[x->producer->id];
    }
    return reads_member;
}

/* Union-find over node ids. */
static int root(int *up, int i)
{
    while (up[i] != i)
        i = up[i] = up[up[i]];
    return i;
}

static bool pointwise(const mf_node *n)
{
    return n->op == MF_OP_CONV2D && mf_conv2d_of(n->op, n->attrs).groups == 1;
}

static bool reads_member(const mf_node *n, const bool *member)
{
    for (int k = 0; k < n->ninputs; k++)
        if (n->inputs[k]->producer && member[n->inputs[k]->producer->id])
            return true;
    return false;
}

/* A region's reorders cost by the bytes they move: a 1x1 conv that narrows the channels as
 * the region's first layer is left NCHW (to_blocks then moves its smaller result), and one
 * that widens them as its last (no member conv reads its result, even through elementwise
 * members) likewise (from_blocks moves its smaller input): mobilenet_v2's 28x28 144->32
 * projection and 7x7 320->1280 layer, whose reorders took 34 and 62 us at two threads. */
static void trim_edges(blk_pass *p, bool *feeds_conv)
{
    mf_graph *g = p->g;
    for (bool changed = true; changed;) {
        changed = false;
        memset(feeds_conv, 0, (size_t)p->maxid + 1);
        for (int i = g->nnodes - 1; i >= 0; i--) { /* users come later */
            const mf_node *m = g->nodes[i];
            if (!p->member[m->id])
                continue;
            for (int k = 0; k < m->ninputs; k++) {
                const mf_node *q = m->inputs[k]->producer;
                if (q && p->member[q->id] && (m->op == MF_OP_CONV2D || feeds_conv[m->id]))
                    feeds_conv[q->id] = true;
            }
        }
        for (int i = 0; i < g->nnodes; i++) {
            const mf_node *m = g->nodes[i];
            if (!p->member[m->id])
                continue;
            const mf_type *x = &m->inputs[0]->type, *y = &m->outputs[0]->type;
            bool drop =
                m->op == MF_OP_CONV2D
                    ? pointwise(m) && ((x->shape[1] > y->shape[1] && !reads_member(m, p->member)) ||
                                       (y->shape[1] > x->shape[1] && !feeds_conv[m->id]))
                    : !reads_member(m, p->member);
            if (drop)
                p->member[m->id] = false, changed = true;
        }
    }
}

/* Marks the members, trims the regions' edges, then keeps only the regions with MIN_CONVS
 * convs or more. */
static mf_status find_members(blk_pass *p, int *nregions)
{
    mf_graph *g = p->g;
    int n = g->nnodes;
    int *up = malloc(sizeof *up * (size_t)(p->maxid + 1)),
        *convs = calloc((size_t)p->maxid + 1, sizeof *convs);
    bool *feeds = malloc((size_t)p->maxid + 1);
    if (!up || !convs || !feeds) {
        free(up), free(convs), free(feeds);
        return mf_error(MF_ERR_NOMEM, "blocked-layout: out of memory");
    }
    for (int i = 0; i < n; i++) {
        mf_node *m = g->nodes[i];
        p->member[m->id] = conv_member(m, p->B) || elementwise_member(m, p->member, p->B);
    }
    trim_edges(p, feeds);
    for (int i = 0; i < n; i++) {
        mf_node *m = g->nodes[i];
        up[m->id] = m->id;
        if (!p->member[m->id])
            continue;
        for (int k = 0; k < m->ninputs; k++) {
            const mf_node *q = m->inputs[k]->producer;
            if (q && p->member[q->id])
                up[root(up, m->id)] = root(up, q->id);
        }
    }
    for (int i = 0; i < n; i++)
        if (p->member[g->nodes[i]->id] && g->nodes[i]->op == MF_OP_CONV2D)
            convs[root(up, g->nodes[i]->id)]++;
    *nregions = 0;
    for (int i = 0; i < n; i++) {
        int id = g->nodes[i]->id;
        if (p->member[id] && convs[root(up, id)] < MIN_CONVS)
            p->member[id] = false;
        *nregions += p->member[id] && root(up, id) == id;
    }
    free(up);
    free(convs);
    free(feeds);
    return MF_OK;
}

/* v's name, NAME.blocks (unnamed without one) */
static void name_blocked(mf_graph *g, mf_value *v, const mf_value *of)
{
    char name[256];
    if (!of->name)
        return;
    int n = snprintf(name, sizeof name, "%s.blocks", of->name);
    v->name =
        mf_arena_strdup(g->arena, name, (size_t)(n < (int)sizeof name ? n : (int)sizeof name - 1));
}

/* x's blocked value: a member's result, else (once per value) to_blocks(x). */
static mf_value *blocked_of(blk_pass *p, mf_value *x)
{
    if (p->blocked[x->id])
        return p->blocked[x->id];
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_TO_BLOCKS, a);
    mf_attr_set_int(MF_OP_TO_BLOCKS, a, "block", p->B);
    mf_node *t;
    if (mf_graph_add_node(p->g, MF_OP_TO_BLOCKS, 1, &x, a, &t))
        return NULL;
    p->blocked[x->id] = t->outputs[0];
    name_blocked(p->g, t->outputs[0], x);
    return t->outputs[0];
}

/* conv n's weights laid out in blocks: [Cout/B][Cin][B] (1x1) or [C/B][kh][kw][B]; once for
 * convs that share them. */
static mf_value *blocked_weights(blk_pass *p, const mf_node *n)
{
    const mf_value *w = n->inputs[1];
    if (p->blocked[w->id])
        return p->blocked[w->id];
    int64_t cout = w->type.shape[0], per = mf_type_numel(&w->type) / (cout ? cout : 1), B = p->B;
    bool pointwise = mf_conv2d_of(n->op, n->attrs).groups == 1;
    mf_type t = pointwise ? (mf_type){MF_F32, 3, {cout / B, per, B}}
                          : (mf_type){MF_F32, 4, {cout / B, w->type.shape[2], w->type.shape[3], B}};
    mf_buffer *b = mf_buffer_new_host(mf_type_nbytes(&t));
    if (!b)
        return NULL;
    const float *src = w->data->data;
    float *dst = b->data;
    for (int64_t o = 0; o < cout; o++)
        for (int64_t k = 0; k < per; k++)
            dst[((o / B) * per + k) * B + o % B] = src[o * per + k];
    char name[256];
    if (w->name)
        snprintf(name, sizeof name, "%s.blocks", w->name);
    mf_value *v = mf_graph_add_const(p->g, w->name ? name : NULL, &t, b);
    mf_buffer_release(b);
    p->blocked[w->id] = v;
    return v;
}

/* A member: its blocked node, and from_blocks of its result for readers outside. */
static mf_status expand(mf_graph *g, const mf_node *n, void *arg, mf_node **out)
{
    blk_pass *p = arg;
    *out = NULL;
    if (!p->member[n->id])
        return MF_OK;
    mf_value *in[MAX_IN];
    mf_node *m;
    mf_status s;
    if (n->op == MF_OP_CONV2D) {
        mf_conv2d_view v = mf_conv2d_of(n->op, n->attrs);
        in[0] = blocked_of(p, n->inputs[0]);
        in[1] = blocked_weights(p, n);
        in[2] = n->ninputs > 2 ? n->inputs[2] : NULL;
        if (!in[0] || !in[1])
            return mf_error(MF_ERR_NOMEM, "blocked-layout: out of memory");
        mf_attr a[MF_MAX_ATTRS];
        mf_op_default_attrs(MF_OP_CONV2D_BLOCKS, a);
        mf_attr_set_ints(MF_OP_CONV2D_BLOCKS, a, "stride", 2, v.stride);
        mf_attr_set_ints(MF_OP_CONV2D_BLOCKS, a, "padding", 2, v.padding);
        mf_attr_set_int(MF_OP_CONV2D_BLOCKS, a, "groups", v.groups);
        s = mf_graph_add_node(g, MF_OP_CONV2D_BLOCKS, n->ninputs, in, a, &m);
    } else {
        for (int i = 0; i < n->ninputs; i++)
            if (!(in[i] = blocked_of(p, n->inputs[i])))
                return mf_error(MF_ERR_NOMEM, "blocked-layout: out of memory");
        s = mf_graph_add_node(g, n->op, n->ninputs, in, n->attrs, &m);
    }
    if (s)
        return s;
    p->blocked[n->outputs[0]->id] = m->outputs[0];
    name_blocked(g, m->outputs[0], n->outputs[0]);
    if ((s = mf_graph_add_node(g, MF_OP_FROM_BLOCKS, 1, m->outputs, NULL, out)))
        return s;
    (*out)->outputs[0]->name = n->outputs[0]->name;
    return MF_OK;
}

mf_status mf_pass_blocked_layout(mf_graph *g, mf_pass_ctx *ctx, int *changes)
{
    *changes = 0;
    if (ctx->lanes < 4 || ctx->lanes > MF_MAX_BLOCK) /* no target, or no vectors to fill */
        return MF_OK;
    blk_pass p = {.g = g, .B = ctx->lanes};
    int maxid = 0;
    for (int i = 0; i < g->nnodes; i++)
        maxid = g->nodes[i]->id > maxid ? g->nodes[i]->id : maxid;
    p.maxid = maxid;
    p.member = calloc((size_t)maxid + 1, sizeof *p.member);
    p.blocked = calloc((size_t)g->nvalues + 1, sizeof *p.blocked);
    mf_status s =
        p.member && p.blocked ? MF_OK : mf_error(MF_ERR_NOMEM, "blocked-layout: out of memory");
    int regions = 0;
    if (!s)
        s = find_members(&p, &regions);
    if (!s && regions)
        s = mf_pass_expand(g, "blocked-layout", expand, &p, changes);
    free(p.member);
    free(p.blocked);
    return s;
}
