/* test_cg_engines.c — the depthwise engine and the 1x1 GEMM engine against the reference
 * kernels, compiled for every named target this host can run (and the host, and the scalar
 * path), within the seed's per-op 0.3 %: odd sizes, padding, stride 2 (odd and even widths,
 * padding 0 to 2, rows of many vectors; the GEMM's gathered panel), dilation, batch 2,
 * with and without bias, with relu6 (clamp) and residual-add epilogues; and both engines
 * reading weights prepacked in the block the target's kernel asks for (conv2d's `packed`);
 * and matmuls whose left operand is packed so (matmul's `packed`: the Winograd GEMMs, one
 * tile per row on the row engine); strided layers with few taps (mobilenet_v2's first layer)
 * on the pixel engine; the GEMM's input-row prefetch on planes of close rows; small planes (7x7)
 * the plane engine cedes to the output-channel engine (and, on AVX2, 3x3 planes of 8-15-pixel
 * rows, 12-pixel rows in tiles of 4 pixels); rows of one tile read from a padded copy of
 * the input; 1x1 layers on small planes in tiles over the flattened plane.  A target the host
 * cannot execute is skipped, and the test says how many. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>

#include "cg_check.h"
#include "cg_targets.h"

static const mf_cg_target *current; /* the target of check_layers, for packed layers */

/* One conv layer: shape, kernel, stride, padding, dilation, groups, bias, epilogue. */
typedef struct layer {
    int64_t n, cin, h, w, cout, k, s, p, d, groups;
    bool bias;
    bool packed; /* weights in the block the target's kernel reads (as the pack-weights pass
                  * would leave them; the reference kernel unpacks them) */
    int epi; /* 0 none, 1 relu6 (clamp 0..6), 2 add of an input shaped like the output,
              * 3 add of an input [n, c, h, 1] */
} layer;

/* The same with each axis its own kernel side, stride, padding and dilation (ONNX allows it). */
typedef struct layer2 {
    int64_t n, cin, h, w, cout, kh, kw, sh, sw, ph, pw, dh, dw, groups;
} layer2;

/* The conv of l in g, reading inputs x, w and (bias) b. */
static mf_value *conv_node(mf_graph *g, const layer2 *l, bool bias)
{
    mf_value *in[3] = {
        cg_in(g, "x", (mf_type){MF_F32, 4, {l->n, l->cin, l->h, l->w}}),
        cg_in(g, "w", (mf_type){MF_F32, 4, {l->cout, l->cin / l->groups, l->kh, l->kw}}),
        bias ? cg_in(g, "b", (mf_type){MF_F32, 1, {l->cout}}) : NULL};
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CONV2D, a);
    int64_t st[2] = {l->sh, l->sw}, pd[2] = {l->ph, l->pw}, dl[2] = {l->dh, l->dw};
    mf_attr_set_ints(MF_OP_CONV2D, a, "stride", 2, st);
    mf_attr_set_ints(MF_OP_CONV2D, a, "padding", 2, pd);
    mf_attr_set_ints(MF_OP_CONV2D, a, "dilation", 2, dl);
    mf_attr_set_int(MF_OP_CONV2D, a, "groups", l->groups);
    return cg_node(g, MF_OP_CONV2D, bias ? 3 : 2, in, a);
}

static mf_graph *layer_graph(const layer *l)
{
    mf_graph *g = mf_graph_new("layer");
    layer2 sq = {.n = l->n, .cin = l->cin, .h = l->h, .w = l->w, .cout = l->cout};
    sq.kh = sq.kw = l->k, sq.sh = sq.sw = l->s, sq.ph = sq.pw = l->p, sq.dh = sq.dw = l->d;
    sq.groups = l->groups;
    mf_value *y = conv_node(g, &sq, l->bias);
    if (l->packed) {
        int64_t block = mf_cg_conv_weight_block(&current->shape, y->producer);
        if (block <= 0)
            fail_msg("%s: a %lldx%lld conv %lld->%lld stride %lld expected to be packed", current->cpu,
                     (long long)l->h, (long long)l->w, (long long)l->cin, (long long)l->cout, (long long)l->s);
        mf_attr_set_int(MF_OP_CONV2D, y->producer->attrs, "packed", block);
    }
    if (l->epi == 1) {
        mf_attr c[MF_MAX_ATTRS];
        mf_op_default_attrs(MF_OP_CLAMP, c);
        mf_attr_set_float(MF_OP_CLAMP, c, "min", 0.0);
        mf_attr_set_float(MF_OP_CLAMP, c, "max", 6.0);
        y = cg_node(g, MF_OP_CLAMP, 1, &y, c);
    } else if (l->epi == 2) {
        y = CG2(g, MF_OP_ADD, y, cg_in(g, "r", y->type));
    } else if (l->epi == 3) { /* broadcast along columns only: does not flatten */
        mf_type rt = y->type;
        rt.shape[3] = 1;
        y = CG2(g, MF_OP_ADD, y, cg_in(g, "r", rt));
    }
    mf_graph_set_outputs(g, 1, &y);
    return g;
}

static const layer depthwise[] = {
    {1, 16, 19, 37, 16, 3, 1, 1, 1, 16, true, false, 1},   /* odd width, relu6 */
    {2, 8, 23, 41, 8, 3, 2, 1, 1, 8, true, false, 1},      /* stride 2, batch 2 */
    {1, 12, 56, 56, 12, 3, 2, 1, 1, 12, false, false, 0},  /* mobilenet's strided shape, no bias */
    {1, 10, 14, 14, 10, 3, 1, 1, 1, 10, true, false, 2},   /* a 14x14 plane, residual add */
    {1, 9, 7, 7, 9, 3, 1, 1, 1, 9, true, false, 1},        /* a 7x7 plane (flattened at 8, 16 lanes) */
    {2, 7, 7, 7, 7, 5, 1, 2, 1, 7, false, false, 2},       /* 5x5 on a 7x7 plane, residual add */
    {1, 5, 7, 7, 5, 3, 1, 1, 1, 5, true, false, 3},        /* an epilogue that does not flatten */
    {1, 4, 5, 3, 4, 3, 1, 1, 1, 4, true, false, 0},        /* a plane smaller than a vector */
    {1, 6, 28, 30, 6, 5, 1, 2, 1, 6, true, false, 1},      /* efficientnet's 5x5 */
    {1, 6, 29, 31, 6, 5, 2, 2, 1, 6, true, false, 0},      /* 5x5 stride 2 */
    {1, 5, 20, 45, 5, 3, 1, 2, 2, 5, true, false, 1},      /* dilation 2 */
    {1, 4, 3, 5, 4, 3, 1, 1, 1, 4, true, false, 0},        /* narrower than a vector, all border */
    {1, 4, 9, 70, 4, 3, 1, 0, 1, 4, false, false, 0},      /* no padding */
    {1, 3, 11, 40, 3, 3, 3, 1, 1, 3, true, false, 0},      /* stride 3 */
    /* stride 2 (3x3: the pair and its carried sums at 16 lanes, in-lane tap order at 8) */
    {1, 3, 9, 321, 3, 3, 2, 1, 1, 3, true, false, 1},      /* rows of 10+ vectors: the loop's carry, relu6 */
    {2, 6, 30, 66, 6, 3, 2, 1, 1, 6, true, false, 2},      /* even width, batch 2, residual add */
    {1, 5, 21, 67, 5, 3, 2, 1, 1, 5, false, false, 3},     /* odd width, an epilogue that does not flatten */
    {1, 7, 15, 33, 7, 3, 2, 0, 1, 7, true, false, 1},      /* no padding, odd width */
    {1, 5, 17, 45, 5, 3, 2, 2, 1, 5, true, false, 0},      /* padding 2 */
    {1, 9, 14, 14, 9, 3, 2, 1, 1, 9, true, false, 2},      /* mobilenet's 14 -> 7, residual add */
    {1, 17, 28, 28, 17, 3, 2, 1, 1, 17, true, false, 1},   /* 28 -> 14, relu6 */
    {1, 3, 113, 113, 3, 3, 2, 1, 1, 3, true, false, 1},    /* 113 -> 57: a last vector of one output */
};

static const layer pointwise[] = {
    {1, 16, 28, 28, 48, 1, 1, 0, 1, 1, true, false, 1},    /* 784 pixels: whole vectors at every width */
    {1, 24, 7, 7, 40, 1, 1, 0, 1, 1, true, false, 2},      /* 49 pixels: a masked last vector, residual add */
    {2, 13, 9, 11, 19, 1, 1, 0, 1, 1, true, false, 1},     /* batch 2, odd everything, a tail block */
    {1, 70, 5, 13, 7, 1, 1, 0, 1, 1, false, false, 0},     /* fewer channels than a block, no bias */
    {1, 12, 17, 19, 12, 1, 1, 0, 1, 2, true, false, 1},    /* grouped 1x1 */
    {1, 320, 7, 7, 64, 1, 1, 0, 1, 1, true, false, 0},     /* long K */
    {1, 16, 9, 13, 20, 1, 1, 0, 1, 1, true, false, 3},     /* an epilogue that does not flatten */
    {2, 16, 5, 7, 20, 1, 1, 0, 1, 1, false, false, 3},
    /* strided: the chunk's pixels gathered into a panel (odd widths: the last wide load
     * masked; rows of one vector; chunks that start mid-row and share a panel per partition) */
    {1, 16, 56, 56, 24, 1, 2, 0, 1, 1, true, false, 0},
    {2, 13, 15, 17, 19, 1, 2, 0, 1, 1, true, false, 3},    /* batch 2, odd everything, no flattening */
    {1, 9, 13, 6, 11, 1, 2, 0, 1, 1, false, false, 2},     /* 3-pixel rows */
    {1, 12, 19, 23, 10, 1, 3, 0, 1, 2, true, false, 1},    /* stride 3, grouped */
    {1, 512, 30, 30, 10, 1, 2, 0, 1, 1, true, false, 2},   /* long K: several chunks */
    {1, 16, 54, 60, 20, 1, 2, 0, 1, 1, true, false, 1},    /* a chunk a partition, a tile more last */
    {1, 8, 6, 6, 10, 1, 1, 1, 1, 1, true, false, 0},       /* padded 1x1: stays on the direct engines */
};

/* Channel blocks that do not divide the channels (on AVX2: 10 and 11 in blocks of 3 on the
 * plane engine, 10 in blocks of 4 on the row engine): the last block overlaps the one
 * before and stores only its new channels (a residual add must not see a channel twice). */
static const layer overlap[] = {
    {1, 16, 7, 7, 10, 3, 1, 1, 1, 1, true, false, 2},
    {2, 12, 7, 7, 11, 3, 1, 1, 1, 1, false, false, 1},
    {1, 8, 20, 40, 10, 3, 1, 1, 1, 1, true, false, 2},
    /* strided 14-pixel rows, weights packed by each work item: tiles of 5 pixels x 2
     * vectors at 8 lanes, the last block's channels past the layer's masked */
    {1, 12, 28, 27, 44, 3, 2, 1, 1, 1, true, false, 1},
    {1, 10, 56, 56, 32, 3, 2, 1, 1, 1, true, false, 2}, /* 6 x 2 tiles, inner ones looped, weights packed by items */
};

/* Layers whose weights every target's kernel reads packed: the 1x1 GEMM and the strided
 * output-channel engine (whole vectors of channels per block on each target). */
static const layer packed[] = {
    {1, 16, 28, 28, 48, 1, 1, 0, 1, 1, true, true, 1},
    {2, 13, 9, 11, 19, 1, 1, 0, 1, 1, true, true, 2},
    {1, 24, 7, 7, 40, 1, 1, 0, 1, 1, false, true, 3},
    {1, 32, 14, 14, 64, 3, 2, 1, 1, 1, true, true, 1},
    {2, 24, 28, 28, 128, 3, 2, 1, 1, 1, true, true, 0},
    {1, 4, 40, 70, 32, 3, 2, 1, 1, 1, true, true, 1},  /* strided rows wider than 32 (36 taps) */
    {1, 3, 70, 90, 32, 7, 2, 3, 1, 1, true, true, 0},  /* resnet18's 7x7 stride-2 first layer */
    {1, 160, 7, 7, 96, 1, 1, 0, 1, 1, true, true, 2}, /* 1x1 on a 7x7 plane: vectors of channels (flat tiles) */
    {2, 96, 7, 7, 64, 1, 1, 0, 1, 1, true, true, 3},
    {1, 192, 7, 7, 160, 1, 1, 0, 1, 1, true, true, 2}, /* 5 blocks at 16 lanes: tiles split over partitions */
    {1, 64, 56, 56, 128, 1, 2, 0, 1, 1, true, true, 2}, /* resnet18's 1x1 stride-2 downsample */
    {1, 1100, 7, 7, 64, 1, 1, 0, 1, 1, true, true, 1}, /* several equal chunks of input channels (the
                                                         * sums kept between them), the prefetch past
                                                         * the weights' end */
    /* 28- to 30-pixel strided rows: tiles of 6 pixels x 2 vectors at 8 lanes, the inner ones
     * (no padding read) in a loop; a last tile of 4, 3 pixels or none */
    {1, 16, 56, 56, 32, 3, 2, 1, 1, 1, true, true, 2},
    {1, 8, 53, 54, 48, 3, 2, 1, 1, 1, false, true, 1},
    {2, 8, 60, 60, 16, 3, 2, 1, 1, 1, true, true, 3}, /* batch 2, an epilogue that does not flatten */
};

/* Strided layers with few taps (cin x k x k under two vectors: mobilenet_v2's first layer,
 * 3 x 3x3) run on the pixel engine, stride 2 on phase rows (each partition splits the input
 * rows of an output row into their even and odd columns; at 8 lanes and fewer also layers of
 * up to 8 input channels, phase_pixel); stride 3 with plain strided loads between the masked
 * border tiles (odd widths, padding 0 to 2, channels that do not fill a block, batch 2, every
 * epilogue). */
static const layer few_taps[] = {
    {1, 3, 40, 70, 32, 3, 2, 1, 1, 1, true, false, 1},  /* mobilenet_v2's first layer, smaller */
    {1, 3, 29, 224, 32, 3, 2, 1, 1, 1, true, false, 1}, /* its 112-pixel rows */
    {2, 3, 23, 97, 20, 3, 2, 1, 1, 1, false, false, 2}, /* odd width, batch 2, residual add */
    {1, 2, 17, 131, 19, 3, 2, 0, 1, 1, true, false, 3}, /* no padding, an epilogue that does not flatten */
    {1, 3, 15, 83, 17, 3, 2, 2, 1, 1, true, false, 0},  /* padding 2 */
    {1, 1, 19, 150, 24, 5, 2, 2, 1, 1, true, false, 1}, /* 5x5, one input channel */
    {1, 3, 21, 77, 16, 3, 3, 1, 1, 1, true, false, 0},  /* stride 3 */
    /* phase rows: resnet18's 7x7 first layer (the output-channel engine's at 16 lanes), 8
     * channels, groups, dilation, an even kernel (taps in both phases at odd offsets), rows
     * narrower than a vector, one output row (the rows above and below it zeros; the same
     * rows of the next batch index or group are not the ones held), 5x5 */
    {1, 3, 33, 150, 64, 7, 2, 3, 1, 1, true, false, 2},
    {1, 8, 21, 60, 16, 3, 2, 1, 1, 1, true, false, 3},
    {2, 4, 16, 38, 24, 3, 2, 1, 1, 2, true, false, 1},
    {1, 3, 19, 41, 16, 3, 2, 1, 2, 1, true, false, 0},
    {1, 3, 12, 64, 32, 4, 2, 1, 1, 1, false, false, 2},
    {1, 2, 9, 9, 16, 3, 2, 0, 1, 1, false, false, 2},
    {1, 3, 2, 30, 16, 3, 2, 1, 1, 1, true, false, 1},
    {2, 4, 2, 40, 16, 3, 2, 1, 1, 2, true, false, 2}, /* so in each batch index and group */
    {1, 1, 18, 17, 8, 5, 2, 2, 1, 1, true, false, 1},
};

/* Does the pixel engine run strided layer l on target t on phase rows, its weights plain:
 * the rule oc_choose states for stride 2 (phase rows small enough for every layer here). */
static int64_t weight_block(const layer *l, const mf_cg_target *t);

static bool phase_pixel(const layer *l, const mf_cg_target *t)
{
    int64_t taps = l->cin / l->groups * l->k * l->k;
    return l->s == 2 && l->k > 1 &&
           (taps < 2 * t->shape.lanes || (t->shape.lanes <= 8 && l->cin / l->groups <= 8));
}

/* Projections (more input channels than output, more pixels than output channels) compiled
 * for 4 and 16 cores: the GEMM's items are (tile, block of channels), shared out by cost
 * (mf_cg_gemm_split_pixels, mf_cg_tail_part_bound: the partial tile's items cost less), so a
 * partition's items are a stretch of pixels and partitions split tiles between them. */
static const layer projections[] = {
    {1, 96, 14, 14, 24, 1, 1, 0, 1, 1, true, true, 2},   /* mobilenet_v2's 14x14 projection, smaller */
    {1, 144, 28, 28, 32, 1, 1, 0, 1, 1, true, false, 0}, /* 28x28, plain weights */
    {2, 40, 9, 11, 13, 1, 1, 0, 1, 1, true, true, 3},    /* batch 2, odd sizes, a tail block, no flattening */
    {1, 64, 23, 23, 20, 1, 1, 0, 1, 1, false, true, 1},  /* 529 pixels: a partial last tile */
    {1, 128, 14, 14, 48, 1, 1, 0, 1, 1, true, true, 2},  /* several blocks a tile, a 1-vector tail at 16 lanes */
};

/* Small planes (rows under 8 pixels) of kernels larger than 1x1 whose channels fill whole
 * vectors: the plane engine cedes them to the output-channel engine at 8 and 16 lanes, which
 * reads prepacked weights (the check asks for the block: none would mean the plane engine);
 * at fewer lanes, or channels that are no whole vectors, the plane engine keeps them.  Odd
 * and non-square planes, 5x5 kernels, dilation, batch 2, several chunks of input channels at
 * 16 lanes (the sums kept between them), every epilogue; compiled for 1 and 4 cores. */
static const layer small_planes[] = {
    {1, 64, 7, 7, 32, 3, 1, 1, 1, 1, true, false, 1},    /* resnet18's last 3x3, smaller; relu6 */
    {2, 24, 7, 7, 48, 3, 1, 1, 1, 1, true, false, 2},    /* batch 2, residual add, 3 vectors at 16 lanes */
    {1, 40, 5, 5, 16, 3, 1, 1, 1, 1, true, false, 0},    /* a 5x5 plane */
    {1, 16, 6, 6, 32, 5, 1, 2, 1, 1, true, false, 3},    /* a 5x5 kernel, an epilogue that does not flatten */
    {1, 20, 7, 7, 16, 3, 1, 2, 2, 1, false, false, 1},   /* dilation 2, no bias */
    {1, 12, 9, 6, 24, 3, 1, 1, 1, 1, true, false, 2},    /* 6-pixel rows; 24 channels: plane engine at 16 lanes */
    {1, 160, 7, 7, 32, 3, 1, 1, 1, 1, true, false, 2},   /* several chunks of input channels at 16 lanes */
    {1, 8, 7, 7, 20, 3, 1, 1, 1, 1, true, false, 1},     /* channels no whole vectors: the plane engine */
};

/* Planes of rows of 8-15 pixels (14x14, 13x13, 12x12 layers) with 3x3 kernels whose channels
 * fill whole vectors: on 16-register targets (AVX2) the plane engine cedes them too, and rows
 * of 11 or 12 pixels take tiles of 4 pixels, not 6 x 2; 32-register targets and 5x5 kernels
 * keep the plane engine (plane_ceded).  Batch 2, dilation, no bias, every epilogue. */
static const layer mid_planes[] = {
    {1, 16, 14, 14, 16, 3, 1, 1, 1, 1, true, false, 2},  /* resnet18's 14x14, smaller; residual add */
    {1, 24, 12, 12, 48, 3, 1, 1, 1, 1, true, false, 1},  /* 12-pixel rows: 4 x 3 tiles at 8 lanes */
    {1, 16, 9, 11, 32, 3, 1, 1, 1, 1, false, false, 3},  /* 11-pixel rows, no bias, unflattened add */
    {2, 8, 13, 13, 8, 3, 1, 1, 1, 1, true, false, 0},    /* yolov3-tiny's 13x13, one vector; batch 2 */
    {1, 8, 15, 15, 16, 3, 1, 1, 1, 1, true, false, 1},   /* 15-pixel rows */
    {1, 8, 10, 14, 16, 3, 1, 2, 2, 1, true, false, 2},   /* dilation 2 */
    {1, 8, 14, 14, 16, 5, 1, 2, 1, 1, true, false, 2},   /* a 5x5 kernel: the plane engine keeps it */
};

/* Does the plane engine cede layer l (rows under 16 pixels) on target t: the rule that
 * mf_cg_plane_cedes states, so that a change to it is a change to this test too. */
static bool plane_ceded(const layer *l, const mf_cg_target *t)
{
    bool whole = l->cout % t->shape.lanes == 0;
    bool narrow = l->w < 8 || (t->shape.vregs <= 16 && l->k == 3);
    return t->shape.lanes >= 8 && whole && narrow;
}

/* Rows that are one tile masked at both ends (25 to 32 pixels at 8 lanes) and the plane
 * engine's planes (rows under 16 pixels) read a padded copy of the input at 8 and 4 lanes
 * (AVX2, SSE), copied again for each batch index and group: batch 2, groups 2, 5x5,
 * dilation 2, every epilogue; compiled for 1 and 4 cores. */
static const layer padded_rows[] = {
    {1, 16, 14, 14, 20, 3, 1, 1, 1, 1, true, false, 2},  /* a 14x14 plane (16-pixel padded rows), a tail block */
    {2, 12, 13, 11, 10, 3, 1, 1, 1, 2, true, false, 1},  /* batch 2, groups 2, odd plane */
    {1, 8, 12, 12, 9, 5, 1, 2, 1, 1, false, false, 3},   /* 5x5 on a plane, an epilogue that does not flatten */
    {1, 8, 10, 14, 12, 3, 1, 2, 2, 1, true, false, 1},   /* dilation 2 on a plane (12 channels: the plane engine's) */
    {1, 10, 7, 7, 10, 3, 1, 1, 1, 1, true, false, 2},    /* 7x7, 10 channels: the plane engine keeps it */
    {2, 16, 9, 28, 24, 3, 1, 1, 1, 1, true, false, 2},  /* batch 2, residual add */
    {1, 12, 11, 27, 16, 3, 1, 1, 1, 2, true, false, 1}, /* groups 2, odd width */
    {1, 8, 10, 30, 20, 5, 1, 2, 1, 1, false, false, 3}, /* 5x5, no bias, an epilogue that does not flatten */
    {1, 8, 12, 28, 12, 3, 1, 2, 2, 1, true, false, 1},  /* dilation 2 */
    {2, 5, 6, 25, 13, 3, 1, 1, 1, 1, true, false, 0},   /* 25-pixel rows, a tail block */
};

/* 1x1 stride-1 layers on planes the GEMM engine's tiles would leave a fifth of its lanes
 * empty (or smaller than a vector): the output-channel engine's tiles span the rows of the
 * flattened plane (6 pixels x 2 vectors at 8 lanes; mobilenet_v2's 7x7 960->160; at 16
 * lanes tiles that divide the plane, 7 x 2): a last shorter tile (49, 35 pixels at 8 lanes,
 * 11 at 16), none (18), an epilogue that does not flatten (pixel by
 * pixel), weights packed by each item, batch 2, one block's tiles split over 4 partitions,
 * several chunks of input channels. */
static const layer flat_planes[] = {
    {1, 96, 7, 7, 160, 1, 1, 0, 1, 1, true, true, 2},  /* mobilenet_v2's 960->160, smaller */
    {2, 40, 5, 7, 32, 1, 1, 0, 1, 1, true, true, 3},   /* batch 2, an epilogue that does not flatten */
    {1, 24, 6, 3, 48, 1, 1, 0, 1, 1, false, false, 1}, /* 18 pixels: whole tiles; weights packed by items */
    {1, 32, 7, 7, 16, 1, 1, 0, 1, 1, true, true, 2},   /* one block: tiles split over partitions */
    {2, 40, 2, 3, 32, 1, 1, 0, 1, 1, true, true, 2},   /* 6 pixels, fewer than a vector */
    {1, 48, 1, 11, 32, 1, 1, 0, 1, 1, true, true, 1},  /* 11 pixels: no tile divides them */
    {1, 32, 1, 3, 32, 1, 1, 0, 1, 1, true, true, 1},   /* 3 pixels: under the 16-lane divisors */
    {1, 32, 7, 7, 80, 1, 1, 0, 1, 1, true, false, 3},  /* 5 vectors: rows at 16 lanes */
    {1, 16, 1, 3, 40, 1, 1, 0, 1, 1, true, false, 1},  /* 5 vectors at 8 lanes: flat blocks of one */
    {1, 800, 5, 7, 16, 1, 1, 0, 1, 1, true, true, 2},  /* several chunks of input channels (the
                                                        * sums kept between them) */
    /* strided (oc_gathers): each partition gathers every s-th pixel of every s-th row into a
     * stride-1 panel once per batch, then the same tiles: resnet18's 14x14 256->512
     * downsample, smaller; batch 2 with plain weights and an epilogue that does not flatten;
     * stride 3 from odd sizes; several chunks of input channels */
    {1, 64, 14, 14, 32, 1, 2, 0, 1, 1, true, true, 2},
    {2, 24, 13, 13, 16, 1, 2, 0, 1, 1, false, false, 3},
    {1, 16, 20, 19, 24, 1, 3, 0, 1, 1, true, true, 1},
    {1, 300, 13, 14, 16, 1, 2, 0, 1, 1, true, true, 0},
    {1, 32, 14, 14, 80, 1, 2, 0, 1, 1, true, false, 3}, /* 80 channels: gathered at 8 lanes */
    {1, 32, 6, 6, 32, 1, 2, 0, 1, 1, true, true, 2},    /* a 3x3 output: a shorter last tile */
    {2, 600, 6, 6, 32, 1, 2, 0, 1, 1, true, true, 3},   /* chunks, batch 2, no flattening */
};

static int check_cores; /* the core_number check_layers compiles for; 0: 1 */

static void check_layers(const layer *ls, size_t n, const mf_cg_target *t)
{
    current = t;
    for (size_t i = 0; i < n; i++) {
        mf_graph *g = layer_graph(&ls[i]);
        cg_check_opts(g, (cg_opts){.lo = -1, .hi = 1, .seed = 100 + i, .target = t, .relmax = 3e-3,
                                   .cores = check_cores});
        mf_graph_destroy(g);
    }
}

/* The weight block target t's kernel asks of layer l's conv (mf_cg_conv_weight_block). */
static int64_t weight_block(const layer *l, const mf_cg_target *t)
{
    mf_graph *g = layer_graph(l);
    const mf_node *conv = NULL;
    for (int k = 0; k < g->nnodes && !conv; k++)
        if (g->nodes[k]->op == MF_OP_CONV2D)
            conv = g->nodes[k];
    assert_non_null(conv);
    int64_t block = mf_cg_conv_weight_block(&t->shape, conv);
    mf_graph_destroy(g);
    return block;
}

/* Each plane of ls with the weights packed as the target's kernel asks (plain: none asked),
 * which must be where plane_ceded says, at 1 core and (max_cores 4) at 4; returns how many
 * were ceded. */
static int check_planes(const mf_cg_target *t, const layer *ls, size_t n, int max_cores)
{
    current = t;
    int nceded = 0;
    for (int cores = 1; cores <= max_cores; cores *= 4)
        for (size_t i = 0; i < n; i++) {
            layer l = ls[i];
            int64_t block = weight_block(&l, t);
            if ((block > 0) != plane_ceded(&l, t))
                fail_msg("%s: %lldx%lld conv %lld->%lld k%lld: weight block %lld (ceded to the output-channel engine: %d)",
                         t->cpu, (long long)l.h, (long long)l.w, (long long)l.cin, (long long)l.cout, (long long)l.k,
                         (long long)block, plane_ceded(&l, t));
            nceded += block > 0;
            l.packed = block > 0;
            check_cores = cores;
            check_layers(&l, 1, t);
        }
    check_cores = 0;
    return nceded;
}

static void check_small_planes(const mf_cg_target *t)
{
    if (check_planes(t, small_planes, sizeof small_planes / sizeof small_planes[0], 4) == 0 && t->shape.lanes >= 8)
        fail_msg("%s: no small plane went to the output-channel engine", t->cpu);
}

static void check_mid_planes(const mf_cg_target *t)
{
    /* one core: the engine's partitions are the small planes' (16 s more at 4 cores) */
    int nceded = check_planes(t, mid_planes, sizeof mid_planes / sizeof mid_planes[0], 1);
    if (t->shape.lanes == 8 && t->shape.vregs == 16 && nceded == 0)
        fail_msg("%s: no 3x3 plane of rows under 16 pixels went to the output-channel engine", t->cpu);
}

static void test_mid_planes_every_target(void **state)
{
    every_target(check_mid_planes, "3x3 on planes of 8-15-pixel rows");
}

/* The engine each named target's code takes for those planes, compiled or not (a query of
 * the target's shape: AVX-512 targets too, whatever the host).  At 8 lanes and 16 registers
 * the 12-pixel rows' block is 3 vectors (tiles of 4 pixels x 3 vectors; 6 x 2 would be 2). */
static void test_mid_planes_engine_per_target(void **state)
{
    const char *cpus[] = {"x86-64-v2", "haswell", "znver3", "skylake-avx512", "znver4"};
    for (size_t k = 0; k < sizeof cpus / sizeof cpus[0]; k++) {
        mf_cg_target t;
        assert_int_equal(mf_cg_target_init(cpus[k], &t), MF_OK);
        for (size_t i = 0; i < sizeof mid_planes / sizeof mid_planes[0]; i++) {
            int64_t block = weight_block(&mid_planes[i], &t);
            if ((block > 0) != plane_ceded(&mid_planes[i], &t))
                fail_msg("%s: mid plane %zu: weight block %lld", cpus[k], i, (long long)block);
            if (i == 1 && t.shape.lanes == 8 && t.shape.vregs == 16 && block != 24)
                fail_msg("%s: 12x12 24->48: weight block %lld, expected 24 (4 x 3 tiles)", cpus[k], (long long)block);
        }
    }
}

static void check_padded_rows(const mf_cg_target *t)
{
    for (int cores = 1; cores <= 4; cores *= 4) {
        check_cores = cores;
        check_layers(padded_rows, sizeof padded_rows / sizeof padded_rows[0], t);
    }
    check_cores = 0;
}

/* Each flat plane with the weights packed as the target's kernel asks, in whole vectors of
 * channels where flat tiles take the layer (at 16 lanes: its vectors split into blocks of 2-4,
 * or one vector; 5 vectors stay in rows); at 8 lanes (AVX2's 16 registers) the 7x7 960->160's
 * block is 2 vectors (the GEMM engine's would be 6 rows).
 * The strided ones take the output-channel engine's gathered panel where their outputs are
 * whole vectors: at 16 lanes 24 outputs run on the GEMM engine's panel, in blocks of rows. */
static void check_flat_planes(const mf_cg_target *t)
{
    current = t;
    for (int cores = 1; cores <= 4; cores *= 4)
        for (size_t i = 0; i < sizeof flat_planes / sizeof flat_planes[0]; i++) {
            layer l = flat_planes[i];
            int64_t block = weight_block(&(layer){.n = l.n, .cin = l.cin, .h = l.h, .w = l.w, .cout = l.cout,
                                                   .k = 1, .s = l.s, .d = 1, .groups = 1}, t);
            int64_t nvec = l.cout / t->shape.lanes; /* at 16 lanes flat where blocks of 2-4 exist */
            bool flat = t->shape.lanes == 8 || (t->shape.lanes > 8 && l.s == 1 &&
                                                (nvec == 1 || nvec % 2 == 0 || nvec % 3 == 0));
            if (flat && l.cout % t->shape.lanes == 0 && (block <= 0 || block % t->shape.lanes))
                fail_msg("%s: %lldx%lld 1x1 %lld->%lld: weight block %lld, not whole vectors of channels",
                         t->cpu, (long long)l.h, (long long)l.w, (long long)l.cin, (long long)l.cout, (long long)block);
            if (i == 0 && t->shape.lanes == 8 && t->shape.vregs == 16 && block != 16)
                fail_msg("%s: 7x7 96->160: weight block %lld, expected 16 (6 x 2 flat tiles)", t->cpu, (long long)block);
            l.packed = l.packed && block > 0;
            check_cores = cores;
            check_layers(&l, 1, t);
        }
    check_cores = 0;
}

static void test_flat_planes_every_target(void **state)
{
    every_target(check_flat_planes, "1x1 on small planes, flat tiles");
}

static void test_padded_rows_every_target(void **state)
{
    every_target(check_padded_rows, "rows on a padded copy of the input");
}

static void test_small_planes_every_target(void **state)
{
    every_target(check_small_planes, "small planes (output-channel engine, prepacked)");
}

static void check_projections(const mf_cg_target *t)
{
    for (int cores = 4; cores <= 16; cores *= 4) {
        check_cores = cores;
        check_layers(projections, sizeof projections / sizeof projections[0], t);
    }
    check_cores = 0;
}

static void test_projections_by_pixels_every_target(void **state)
{
    every_target(check_projections, "1x1 GEMM split by pixels");
}


static void check_depthwise(const mf_cg_target *t)
{
    check_layers(depthwise, sizeof depthwise / sizeof depthwise[0], t);
}

static void test_depthwise_every_target(void **state)
{
    every_target(check_depthwise, "depthwise");
}

/* compiled for 1, 4 and 16 cores: a strided layer's chunks follow the partitions */
static void check_pointwise(const mf_cg_target *t)
{
    for (int cores = 1; cores <= 16; cores *= 4) {
        check_cores = cores;
        check_layers(pointwise, sizeof pointwise / sizeof pointwise[0], t);
    }
    check_cores = 0;
}

static void test_pointwise_every_target(void **state)
{
    every_target(check_pointwise, "1x1 GEMM");
}

/* A stride-1 1x1 layer of 64 input channels or more prefetches its input rows, however close
 * they lie (14x14: 784 bytes apart; on two cores the other core wrote most of them); one of
 * fewer channels does not (its K loop is too short for 16 rows ahead). */
static void test_gemm_prefetches_close_rows(void **state)
{
    const layer long_k = {1, 96, 14, 14, 24, 1, 1, 0, 1, 1, true, false, 0};
    const layer short_k = {1, 32, 14, 14, 24, 1, 1, 0, 1, 1, true, false, 0};
    for (int i = 0; i < 2; i++) {
        mf_graph *g = layer_graph(i ? &short_k : &long_k);
        char *text = asm_for(g, "skylake-avx512");
        assert_true((strstr(text, "prefetcht0") != NULL) == (i == 0));
        free(text);
        mf_graph_destroy(g);
    }
}

static void check_overlap(const mf_cg_target *t)
{
    check_layers(overlap, sizeof overlap / sizeof overlap[0], t);
}

static void test_overlapping_blocks_every_target(void **state)
{
    every_target(check_overlap, "overlapping channel blocks");
}

static void check_packed(const mf_cg_target *t)
{
    for (size_t i = 0; i < (t->shape.lanes > 1 ? sizeof packed / sizeof packed[0] : 3); i++) {
        layer l = packed[i];
        l.packed = !phase_pixel(&l, t); /* the pixel engine reads them plain */
        if (!l.packed && weight_block(&l, t) != 0)
            fail_msg("%s: strided conv %lld->%lld k%lld packed, not on phase rows", t->cpu,
                     (long long)l.cin, (long long)l.cout, (long long)l.k);
        check_layers(&l, 1, t);
    }
}

static void test_packed_weights_every_target(void **state)
{
    every_target(check_packed, "prepacked weights");
}

/* A matmul [B?, M, K] x [B, K, T] (+ residual add) whose left operand is packed in the
 * block the target's engine asks for (0: plain; how many were packed is counted): the row
 * engine's blocks divide the rows; the 1x1 GEMM engine's (rows of 8 vectors and more) may
 * leave a narrower last block. */
typedef struct mm_case {
    int64_t nb, m, k, t;
    bool broadcast_a, add;
} mm_case;

static const mm_case mm_cases[] = {
    {3, 256, 40, 16, false, true},  /* a 14x14 plane's Winograd GEMM: 16 tiles */
    {2, 128, 24, 49, false, false}, /* a 28x28 plane's: 49 tiles, a masked last vector */
    {4, 30, 17, 16, true, true},    /* the left operand broadcast over the batch */
    {2, 48, 9, 5, false, false},    /* fewer columns than a vector */
    {1, 13, 33, 8, false, true},    /* a prime number of rows */
    {2, 64, 64, 196, false, true},  /* a 56x56 plane's: the 1x1 GEMM engine's (12 x 2 at 16 lanes) */
    {2, 33, 20, 300, false, true},  /* long rows, a narrower last block, a masked last tile */
    {3, 17, 9, 150, true, false},   /* long rows, the left operand broadcast over the batch */
};

static int check_mm_packed(const mf_cg_target *t, const mm_case *mc, uint64_t seed)
{
    mf_graph *g = mf_graph_new("mm");
    mf_type at = mc->broadcast_a ? (mf_type){MF_F32, 2, {mc->m, mc->k}} : (mf_type){MF_F32, 3, {mc->nb, mc->m, mc->k}};
    mf_value *in[2] = {cg_in(g, "a", at), cg_in(g, "b", (mf_type){MF_F32, 3, {mc->nb, mc->k, mc->t}})};
    mf_value *y = cg_node(g, MF_OP_MATMUL, 2, in, NULL);
    int64_t block = mf_cg_conv_weight_block(&t->shape, y->producer);
    if (block > 0) {
        bool gemm = mc->t >= 8 * t->shape.lanes; /* lower_conv_gemm.c's GEMM_MATMUL_MIN_VECTORS */
        assert_true(block <= mc->m && (gemm || mc->m % block == 0)); /* row blocks: none overlaps */
        mf_attr_set_int(MF_OP_MATMUL, y->producer->attrs, "packed", block);
    }
    if (mc->add)
        y = CG2(g, MF_OP_ADD, y, cg_in(g, "r", y->type));
    mf_graph_set_outputs(g, 1, &y);
    cg_check_opts(g, (cg_opts){.lo = -1, .hi = 1, .seed = seed, .target = t, .relmax = 3e-3});
    mf_graph_destroy(g);
    return block > 0;
}

static void check_matmul_packed(const mf_cg_target *t)
{
    int npacked = 0;
    for (size_t i = 0; i < sizeof mm_cases / sizeof mm_cases[0]; i++)
        npacked += check_mm_packed(t, &mm_cases[i], 300 + i);
    if (t->shape.lanes >= 4 && npacked < 2) /* the 14x14 GEMM at least, on every vector unit */
        fail_msg("%s: %d of the matmuls read a packed left operand", t->cpu, npacked);
}

static void test_matmul_packed_every_target(void **state)
{
    every_target(check_matmul_packed, "matmul with a packed left operand");
}

/* The packed left operand of a 14x14 plane's Winograd GEMM is one stream of weights,
 * fetched ahead into L1 and, further on, into L2 (prefetcht0 and prefetcht2). */
static void test_packed_matmul_prefetches(void **state)
{
    (void)state;
    mf_cg_target t;
    assert_int_equal(mf_cg_target_init("skylake-avx512", &t), MF_OK);
    mf_graph *g = mf_graph_new("mm");
    mf_value *in[2] = {cg_in(g, "a", (mf_type){MF_F32, 3, {36, 256, 256}}),
                       cg_in(g, "b", (mf_type){MF_F32, 3, {36, 256, 16}})};
    mf_value *y = cg_node(g, MF_OP_MATMUL, 2, in, NULL);
    int64_t block = mf_cg_conv_weight_block(&t.shape, y->producer);
    assert_true(block > 0);
    mf_attr_set_int(MF_OP_MATMUL, y->producer->attrs, "packed", block);
    mf_graph_set_outputs(g, 1, &y);
    char *text = asm_for(g, "skylake-avx512");
    assert_non_null(strstr(text, "prefetcht0"));
    assert_non_null(strstr(text, "prefetcht2"));
    free(text);
    mf_graph_destroy(g);
}

/* Each at 1 and 4 cores (partitions split an output row's blocks, each its own phase rows);
 * the weights plain where the pixel engine takes the layer, packed where the output-channel
 * engine does with whole vectors of channels. */
static void check_few_taps(const mf_cg_target *t)
{
    int nphase = 0;
    for (int cores = 1; cores <= 4; cores *= 4)
        for (size_t i = 0; i < sizeof few_taps / sizeof few_taps[0]; i++) {
            layer l = few_taps[i];
            int64_t block = weight_block(&l, t);
            if (phase_pixel(&l, t) && block != 0)
                fail_msg(
                    "%s: strided conv %lld->%lld k%lld: weight block %lld, not the pixel engine's",
                    t->cpu, (long long)l.cin, (long long)l.cout, (long long)l.k, (long long)block);
            nphase += phase_pixel(&l, t);
            l.packed = block > 0;
            check_cores = cores;
            check_layers(&l, 1, t);
        }
    check_cores = 0;
    if (t->shape.lanes <= 8 && nphase < 20)
        fail_msg("%s: %d of the strided layers on phase rows", t->cpu, nphase);
}

static void test_strided_few_taps_every_target(void **state)
{
    every_target(check_few_taps, "strided, few taps");
}

/* Strided layers whose two axes differ: strides [1, 2] and [3, 2], padding, dilation and
 * kernel sides apart, and a 1-D row of 2000 pixels (its phase rows split in a loop, not
 * unrolled: a slow compile otherwise, worst on the scalar path). */

static const layer2 axes_apart[] = {
    {1, 3, 17, 41, 16, 3, 3, 1, 2, 1, 1, 1, 1, 1},  /* stride [1, 2] */
    {2, 4, 20, 33, 24, 5, 3, 3, 2, 2, 0, 1, 2, 2},  /* [3, 2], 5x3, dilation [1, 2], groups */
    {1, 2, 11, 29, 8, 1, 4, 1, 2, 0, 3, 1, 1, 1},   /* 1x4, padding [0, 3] */
    {1, 6, 9, 50, 32, 3, 5, 2, 2, 1, 2, 2, 1, 1},   /* 3x5, dilation [2, 1] */
    {1, 1, 1, 2000, 16, 1, 3, 1, 2, 0, 1, 1, 1, 1}, /* a 1-D row of 2000 pixels */
};

static void check_axes_apart(const mf_cg_target *t)
{
    for (size_t i = 0; i < sizeof axes_apart / sizeof axes_apart[0]; i++) {
        const layer2 *l = &axes_apart[i];
        mf_graph *g = mf_graph_new("layer2");
        mf_value *y = conv_node(g, l, true);
        y = CG2(g, MF_OP_ADD, y, cg_in(g, "r", y->type));
        mf_graph_set_outputs(g, 1, &y);
        cg_opts o = {.lo = -1, .hi = 1, .seed = 700 + i, .target = t, .relmax = 3e-3};
        o.cores = i % 2 ? 4 : 1;
        cg_check_opts(g, o);
        mf_graph_destroy(g);
    }
}

static void test_strided_axes_apart_every_target(void **state)
{
    every_target(check_axes_apart, "strided, axes apart");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_depthwise_every_target),
        cmocka_unit_test(test_pointwise_every_target),
        cmocka_unit_test(test_gemm_prefetches_close_rows),
        cmocka_unit_test(test_packed_matmul_prefetches),
        cmocka_unit_test(test_projections_by_pixels_every_target),
        cmocka_unit_test(test_overlapping_blocks_every_target),
        cmocka_unit_test(test_packed_weights_every_target),
        cmocka_unit_test(test_matmul_packed_every_target),
        cmocka_unit_test(test_strided_few_taps_every_target),
        cmocka_unit_test(test_strided_axes_apart_every_target),
        cmocka_unit_test(test_small_planes_every_target),
        cmocka_unit_test(test_mid_planes_every_target),
        cmocka_unit_test(test_mid_planes_engine_per_target),
        cmocka_unit_test(test_padded_rows_every_target),
        cmocka_unit_test(test_flat_planes_every_target),
    };
    return cmocka_run_group_tests_name("codegen_engines", tests, NULL, NULL);
}
