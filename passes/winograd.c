/* winograd.c — 3x3 stride-1 convolutions as Winograd F(4,3) (ir/winograd.h): conv2d(x, w, b)
 * becomes winograd_output(matmul(winograd_weight(w), winograd_input(x)), b), 36 GEMMs of
 * [K, C] x [C, tiles] with a quarter of the direct convolution's multiplications.  The
 * weight transform has a constant operand, so the fold pass after this one computes it
 * once, when the module is created; the output transform is an anchor, so the conv's
 * epilogue (bias, relu, residual add) still fuses into one kernel.
 *
 * Where it wins (the rule): groups 1, stride 1, dilation 1, a constant f32 3x3 weight, at
 * least 8 input and output channels (else the GEMMs are too thin to pay for the
 * transforms), transformed weights of at most 64 MiB (level 1; level 2, MLUFUSE_WINOGRAD=2 or
 * the module option winograd = 2, lifts it), and an output plane of at least 8x8 (smaller planes, the 7x7 layers, waste a
 * third or more of each 4x4 tile on padding).  The layout follows the target's lanes
 * (ctx->lanes): with at least a vector of tiles the GEMMs run with tiles in the lanes
 * (measured faster, 14x14 planes on AVX-512 included); with fewer (an 8x8 plane has 4
 * tiles) channels_last puts channels in the lanes, so the vectors stay full.  ctx->winograd 0
 * (MLUFUSE_WINOGRAD=0, the module option) turns it off. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/winograd.h"
#include "passes.h"

#define MIN_CHANNELS 8
#define MIN_PLANE 8
/* Transformed weights are 4x the weights (36 values per 9): past this they stay direct
 * rather than make one huge constant (resnet18's largest is 9.4 MB, VGG's 38 MB), unless
 * level 2 asks for speed whatever the memory: yolov3_tiny's 13x13 512->1024 (75.5 MB) then
 * runs as Winograd, its one-thread run 15 % faster for 200 MB more peak RSS
 * (docs/benchmarks.md). */
#define MAX_TRANSFORMED_BYTES ((int64_t)64 << 20)

bool mf_winograd_fits(const mf_type *w, const mf_type *out, const mf_conv2d_view *v, int level)
{
    if (w->rank != 4 || w->shape[2] != 3 || w->shape[3] != 3 || out->rank != 4)
        return false;
    if (v->groups != 1 || v->stride[0] != 1 || v->stride[1] != 1 || v->dilation[0] != 1 || v->dilation[1] != 1)
        return false;
    if (w->shape[0] < MIN_CHANNELS || w->shape[1] < MIN_CHANNELS)
        return false;
    if (level < 2 && w->shape[0] * w->shape[1] * MF_WINO_P * (int64_t)sizeof(float) > MAX_TRANSFORMED_BYTES)
        return false;
    return out->shape[2] >= MIN_PLANE && out->shape[3] >= MIN_PLANE;
}

bool mf_winograd_applies(const mf_node *n, int level)
{
    if (n->op != MF_OP_CONV2D || n->inputs[0]->type.rank != 4 || n->inputs[0]->type.dtype != MF_F32)
        return false;
    if (!mf_pass_f32_data(n->inputs[1]) || (n->ninputs > 2 && n->inputs[2]->type.dtype != MF_F32))
        return false;
    mf_conv2d_view v = mf_conv2d_of(n->op, n->attrs);
    return mf_winograd_fits(&n->inputs[1]->type, &n->outputs[0]->type, &v, level);
}

mf_status mf_pass_winograd_env(int *level)
{
    const char *e = getenv("MLUFUSE_WINOGRAD");
    *level = 1;
    if (!e || !*e)
        return MF_OK;
    if ((e[0] != '0' && e[0] != '1' && e[0] != '2') || e[1])
        return mf_error(MF_ERR_INVALID, "MLUFUSE_WINOGRAD=%.40s: expected 0 (3x3 convs stay direct), 1 (Winograd where it "
                                        "wins, within a memory limit) or 2 (where it wins, whatever the memory)", e);
    *level = e[0] - '0';
    return MF_OK;
}

mf_status mf_pass_winograd_level(int option, const char *who, int *level)
{
    if (option < -1 || option > 2)
        return mf_error(MF_ERR_INVALID, "%s: winograd %d (-1 from MLUFUSE_WINOGRAD, 0 off, 1 within a memory limit, 2 "
                                        "whatever the memory)", who, option);
    *level = option;
    return option < 0 ? mf_pass_winograd_env(level) : MF_OK;
}

bool mf_winograd_channels_last(const mf_node *n, int lanes)
{
    const mf_type *o = &n->outputs[0]->type;
    int64_t tiles = o->shape[0] * mf_wino_tiles(o->shape[2]) * mf_wino_tiles(o->shape[3]);
    return tiles < (lanes > 0 ? lanes : 16);
}

/* "NAME.SUFFIX" for a named value, NULL for an unnamed one. */
static const char *derived(char *buf, size_t cap, const mf_value *v, const char *suffix)
{
    if (!v->name)
        return NULL;
    snprintf(buf, cap, "%s.%s", v->name, suffix);
    return buf;
}

/* Appends the four nodes that replace conv n; *out: the output transform. */
static mf_status rewrite(mf_graph *g, const mf_node *n, int lanes, mf_node **out)
{
    int64_t cl = mf_winograd_channels_last(n, lanes);
    mf_conv2d_view cv = mf_conv2d_of(n->op, n->attrs);
    const mf_type *ot = &n->outputs[0]->type;
    mf_attr a[MF_MAX_ATTRS];
    mf_node *wt, *in, *mm;
    mf_value *x = n->inputs[0], *w = n->inputs[1];
    mf_op_default_attrs(MF_OP_WINOGRAD_WEIGHT, a);
    mf_attr_set_int(MF_OP_WINOGRAD_WEIGHT, a, "channels_last", cl);
    mf_status s = mf_graph_add_node(g, MF_OP_WINOGRAD_WEIGHT, 1, &w, a, &wt);
    if (s)
        return s;
    char name[256];
    const char *wn = derived(name, sizeof name, w, "wino");
    wt->outputs[0]->name = wn ? mf_arena_strdup(g->arena, wn, strlen(wn)) : NULL;
    mf_op_default_attrs(MF_OP_WINOGRAD_INPUT, a);
    mf_attr_set_ints(MF_OP_WINOGRAD_INPUT, a, "padding", 2, cv.padding);
    mf_attr_set_int(MF_OP_WINOGRAD_INPUT, a, "channels_last", cl);
    if ((s = mf_graph_add_node(g, MF_OP_WINOGRAD_INPUT, 1, &x, a, &in)))
        return s;
    mf_value *mi[2] = {wt->outputs[0], in->outputs[0]}; /* [36,K,C] x [36,C,T] */
    if (cl) /* [36,T,C] x [36,C,K] */
        mi[0] = in->outputs[0], mi[1] = wt->outputs[0];
    if ((s = mf_graph_add_node(g, MF_OP_MATMUL, 2, mi, NULL, &mm)))
        return s;
    mf_op_default_attrs(MF_OP_WINOGRAD_OUTPUT, a);
    mf_attr_set_ints(MF_OP_WINOGRAD_OUTPUT, a, "size", 3, (int64_t[]){ot->shape[0], ot->shape[2], ot->shape[3]});
    mf_attr_set_int(MF_OP_WINOGRAD_OUTPUT, a, "channels_last", cl);
    mf_value *oi[2] = {mm->outputs[0], n->ninputs > 2 ? n->inputs[2] : NULL};
    if ((s = mf_graph_add_node(g, MF_OP_WINOGRAD_OUTPUT, n->ninputs > 2 ? 2 : 1, oi, a, out)))
        return s;
    (*out)->outputs[0]->name = n->outputs[0]->name;
    return MF_OK;
}

static mf_status expand(mf_graph *g, const mf_node *n, void *ctx, mf_node **out)
{
    *out = NULL;
    const mf_pass_ctx *pc = ctx;
    return mf_winograd_applies(n, pc->winograd) ? rewrite(g, n, pc->lanes, out) : MF_OK;
}

mf_status mf_pass_winograd(mf_graph *g, mf_pass_ctx *ctx, int *changes)
{
    *changes = 0;
    return ctx->winograd ? mf_pass_expand(g, "winograd", expand, ctx, changes) : MF_OK;
}
