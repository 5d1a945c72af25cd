/* test_cg_expand_dw.c — the fused inverted-residual engine (codegen/lower_conv_expand_dw.c:
 * a 1x1 expansion, relu6/relu or none, a 3x3 depthwise conv of stride 1 or 2, relu6 or
 * none, compiled as one kernel; and the whole block, with the 1x1 projection after it and a
 * residual add or none) against the reference kernels within the seed's per-op
 * 0.3 %, for every named target this host can run (and the host, and the scalar path):
 * odd sizes, rows shorter than a vector and rows of many, channel blocks that do not divide
 * the expansion, heights that bands of 4 do not divide, bands of one row (the widest chain
 * whose buffer fits), batch 2, no bias, weights prepacked
 * as the target's GEMM reads them; run for 1, 4 and 16 partitions (cg_check.h).  And fused
 * == unfused: the same chain as two kernels (the 1x1 GEMM engine, then the depthwise
 * engine) gives the same numbers; and which graphs the recognizer (ir/expand_dw.c) takes.
 * A target the host cannot execute is skipped, and the test says how many. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>

#include "cg_chain.h"
#include "cg_targets.h"

static const mf_cg_target *current;

typedef struct chain {
    int64_t n, cin, h, w, cexp, s;
    int act1, act2; /* 0 none, 1 relu6 (clamp 0..6), 2 relu */
    bool bias, packed;
} chain;

/* parts: 0 the whole chain, 1 the expansion (+ its activation), 2 the depthwise (+ its) */
static mf_value *chain_value(mf_graph *g, const chain *l, int parts)
{
    mf_value *y;
    if (parts != 2) {
        mf_value *x = cg_in(g, "x", (mf_type){MF_F32, 4, {l->n, l->cin, l->h, l->w}});
        mf_value *w1 = cg_in(g, "w1", (mf_type){MF_F32, 4, {l->cexp, l->cin, 1, 1}});
        mf_value *b1 = l->bias ? cg_in(g, "b1", (mf_type){MF_F32, 1, {l->cexp}}) : NULL;
        y = cg_conv2d(g, x, w1, b1, 1, 0, 1);
        if (l->packed) {
            int64_t block = mf_cg_conv_weight_block(&current->shape, y->producer);
            if (block > 0)
                mf_attr_set_int(MF_OP_CONV2D, y->producer->attrs, "packed", block);
        }
        y = cg_activation(g, y, l->act1);
    } else {
        y = cg_in(g, "e", (mf_type){MF_F32, 4, {l->n, l->cexp, l->h, l->w}});
    }
    if (parts != 1) {
        mf_value *w2 = cg_in(g, "w2", (mf_type){MF_F32, 4, {l->cexp, 1, 3, 3}});
        mf_value *b2 = l->bias ? cg_in(g, "b2", (mf_type){MF_F32, 1, {l->cexp}}) : NULL;
        y = cg_activation(g, cg_conv2d(g, y, w2, b2, l->s, 1, l->cexp), l->act2);
    }
    return y;
}

static mf_graph *chain_graph(const chain *l, int parts)
{
    mf_graph *g = mf_graph_new("chain");
    mf_value *y = chain_value(g, l, parts);
    mf_graph_set_outputs(g, 1, &y);
    return g;
}

/* The whole inverted-residual block: the chain, then a 1x1 projection (and a residual add). */
typedef struct irblock {
    chain l;
    int64_t cout;
    int64_t packed; /* the projection's weights: 0 plain; -1 in the block the target's GEMM
                     * reads; else in this block */
    int residual;   /* 0 none; 1 an add of the output's shape; 2 of [n, cout, oh, 1] (does not
                     * flatten: the epilogue runs pixel by pixel) */
} irblock;

static int64_t out_size(int64_t n, int64_t s)
{
    return (n + 2 - 3) / s + 1;
}

/* parts: 0 the whole block, 1 the chain, 2 the projection (+ add) */
static mf_graph *block_graph(const irblock *b, int parts)
{
    const chain *l = &b->l;
    const int64_t oh = out_size(l->h, l->s), ow = out_size(l->w, l->s);
    mf_graph *g = mf_graph_new("block");
    mf_value *y = parts != 2 ? chain_value(g, l, 0)
                             : cg_in(g, "d", (mf_type){MF_F32, 4, {l->n, l->cexp, oh, ow}});
    if (parts != 1) {
        mf_value *w3 = cg_in(g, "w3", (mf_type){MF_F32, 4, {b->cout, l->cexp, 1, 1}});
        mf_value *b3 = l->bias ? cg_in(g, "b3", (mf_type){MF_F32, 1, {b->cout}}) : NULL;
        y = cg_conv2d(g, y, w3, b3, 1, 0, 1);
        int64_t blk =
            b->packed < 0 ? mf_cg_conv_weight_block(&current->shape, y->producer) : b->packed;
        if (blk > 0 && blk <= MF_EXPAND_DW_MAX_BLOCK)
            mf_attr_set_int(MF_OP_CONV2D, y->producer->attrs, "packed", blk);
        if (b->residual)
            y = CG2(g, MF_OP_ADD, y,
                    cg_in(g, "r",
                          (mf_type){MF_F32, 4, {l->n, b->cout, oh, b->residual == 2 ? 1 : ow}}));
    }
    mf_graph_set_outputs(g, 1, &y);
    return g;
}

static const chain chains[] = {
    {1, 8, 19, 23, 24, 1, 1, 1, true, false},   /* odd sizes, relu6 both */
    {1, 8, 19, 23, 24, 2, 1, 1, true, false},   /* the same, stride 2 */
    {2, 5, 12, 37, 13, 1, 2, 0, false, false},  /* batch 2, a tail block, relu, no bias */
    {1, 6, 17, 33, 20, 2, 0, 1, true, false},   /* odd width, stride 2, no first activation */
    {1, 16, 28, 28, 48, 1, 1, 1, true, true},   /* packed weights */
    {1, 16, 28, 28, 48, 2, 1, 1, false, true},  /* packed, stride 2 */
    {1, 4, 3, 5, 6, 1, 1, 0, true, false},      /* smaller than a vector */
    {1, 24, 14, 113, 36, 2, 1, 1, true, true},  /* rows of many vectors, odd, stride 2 */
    {1, 3, 11, 9, 7, 2, 1, 1, true, false},     /* 6 output rows: bands of 3 */
    {1, 8, 13, 17, 12, 1, 1, 1, true, false},   /* 13 rows: a last band of 1 */
    {2, 7, 9, 10, 30, 2, 2, 2, true, true},     /* 5 output rows, batch 2, packed */
    {1, 8, 6, 109, 800, 2, 1, 1, true, false}, /* 3 wide rows fill the buffer: bands of 1 */
    {1, 8, 6, 109, 800, 1, 1, 1, true, false}, /* stride 1: each band moves 2 rows up by 1 */
};
#define NCHAINS (sizeof chains / sizeof chains[0])

static const irblock blocks[] = {
    {{1, 8, 19, 23, 24, 1, 1, 1, true, false}, 8, 0, 1},    /* odd sizes, relu6 both, residual */
    {{1, 8, 19, 23, 24, 2, 1, 1, true, false}, 16, 0, 0},   /* the same, stride 2 */
    {{2, 5, 12, 37, 13, 1, 2, 0, false, false}, 5, 0, 1},   /* batch 2, tail blocks, no bias */
    {{1, 16, 28, 28, 48, 1, 1, 1, true, true}, 16, -1, 1},  /* both weights packed */
    {{1, 16, 28, 28, 48, 2, 1, 1, false, true}, 32, -1, 0}, /* packed, stride 2 */
    {{1, 4, 3, 5, 6, 1, 1, 0, true, false}, 4, 0, 2},       /* under a vector, by pixel */
    {{1, 24, 14, 113, 36, 2, 1, 1, true, true}, 12, -1, 0}, /* rows of many vectors */
    {{1, 8, 13, 17, 12, 1, 1, 1, true, false}, 13, 5, 1},   /* a last band of 1, blocks of 5 */
    {{2, 7, 9, 10, 30, 2, 2, 2, true, true}, 7, 7, 2},      /* batch 2, blocks of 7, by pixel */
    {{1, 8, 6, 109, 600, 1, 1, 1, true, false}, 8, 0, 1},   /* a 600 x 109 row: bands of 1 */
    {{1, 24, 30, 30, 72, 1, 1, 1, true, true}, 24, -1, 1},  /* mobilenet_v2's 56x56 block */
};
#define NBLOCKS (sizeof blocks / sizeof blocks[0])

static void check_chains(const mf_cg_target *t)
{
    current = t;
    for (size_t i = 0; i < NCHAINS; i++) {
        mf_graph *g = chain_graph(&chains[i], 0);
        cg_check_opts(g, (cg_opts){.lo = -1, .hi = 1, .seed = 300 + i, .target = t, .relmax = 3e-3});
        mf_graph_destroy(g);
    }
}

static void test_expand_dw_every_target(void **state)
{
    (void)state;
    every_target(check_chains, "expand + depthwise");
}

static void check_blocks(const mf_cg_target *t)
{
    current = t;
    for (size_t i = 0; i < NBLOCKS; i++) {
        mf_graph *g = block_graph(&blocks[i], 0);
        cg_check_opts(g,
                      (cg_opts){.lo = -1, .hi = 1, .seed = 1100 + i, .target = t, .relmax = 3e-3});
        mf_graph_destroy(g);
    }
}

static void test_block_every_target(void **state)
{
    (void)state;
    every_target(check_blocks, "expand + depthwise + projection");
}

static void check_fused_unfused(const mf_cg_target *t)
{
    current = t;
    for (size_t i = 0; i < NCHAINS; i++) {
        const chain *l = &chains[i];
        /* the expansion's inputs: x, w1 (, b1); the depthwise's: e, w2 (, b2) */
        cg_check_split(chain_graph(l, 0), chain_graph(l, 1), chain_graph(l, 2), 500 + i, t, 1e-6);
    }
}

static void test_fused_equals_unfused(void **state)
{
    (void)state;
    every_target(check_fused_unfused, "fused == unfused");
}

/* The block against the chain's kernel, then the projection's (the 1x1 GEMM engine: the same
 * sums in the same order as the fused tiles; blocks of other widths than its own run on
 * another engine, so they are left out). */
static void check_block_unfused(const mf_cg_target *t)
{
    current = t;
    for (size_t i = 0; i < NBLOCKS; i++)
        if (blocks[i].packed <= 0)
            cg_check_split(block_graph(&blocks[i], 0), block_graph(&blocks[i], 1),
                           block_graph(&blocks[i], 2), 1300 + i, t, 1e-5);
}

static void test_block_equals_unfused(void **state)
{
    (void)state;
    every_target(check_block_unfused, "block == chain + projection");
}

/* What the recognizer takes (ir/expand_dw.c): the chain with or without its activation, not
 * an expanded value used twice, weights packed in blocks wider than the tile, a chain whose
 * three wide rows would not fit the band buffer (MF_EXPAND_DW_BUFFER), or one expanding to a
 * single channel (its 3x3 is a plain conv, which the depthwise engine does not take). */
static void test_recognizer(void **state)
{
    (void)state;
    static const struct {
        chain l;
        bool is_chain;
    } cs[] = {
        {{1, 8, 19, 23, 24, 1, 1, 1, true, false}, true},
        {{1, 8, 19, 23, 24, 2, 0, 0, false, false}, true},
        {{1, 8, 6, 109, 800, 1, 1, 1, true, false}, true},    /* 3 x 800 x 109 floats: 1046400 bytes, fits */
        {{1, 8, 6, 110, 800, 1, 1, 1, true, false}, false},   /* 1056000 bytes: over 1 MiB */
        {{1, 8, 19, 23, 1, 1, 1, 1, true, false}, false},     /* one channel: a plain 3x3 conv */
    };
    mf_cg_target host;
    assert_int_equal(mf_cg_target_init(NULL, &host), MF_OK);
    current = &host;
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        mf_graph *g = chain_graph(&cs[i].l, 0);
        const mf_node *dw = g->outputs[0]->producer;
        if (dw->op != MF_OP_CONV2D)
            dw = dw->inputs[0]->producer;
        mf_expand_dw ch;
        assert_int_equal(mf_expand_dw_chain(g, dw, &ch), cs[i].is_chain);
        if (cs[i].is_chain) {
            assert_ptr_equal(ch.dw, dw);
            assert_int_equal(ch.act != NULL, cs[i].l.act1 != 0);
            assert_int_equal(ch.wide_bytes, 4 * cs[i].l.cexp * cs[i].l.h * cs[i].l.w);
        }
        mf_graph_destroy(g);
    }
    /* weights packed for wider blocks than the fused tile holds (a 7x7 plane's 1x1 on the
     * output-channel engine, batch 8 mobilenet_v2): no chain, where codegen had no engine */
    for (int64_t block = 12; block <= 13; block++) {
        mf_graph *g = chain_graph(&cs[0].l, 0);
        const mf_node *dw = g->outputs[0]->producer->inputs[0]->producer;
        mf_node *ex = dw->inputs[0]->producer->inputs[0]->producer;
        mf_attr_set_int(MF_OP_CONV2D, ex->attrs, "packed", block);
        assert_int_equal(mf_expand_dw_chain(g, dw, NULL), block <= MF_EXPAND_DW_MAX_BLOCK);
        mf_graph_destroy(g);
    }
    /* the expanded value used twice: no chain */
    mf_graph *g = chain_graph(&cs[0].l, 0);
    const mf_node *dw = g->outputs[0]->producer->inputs[0]->producer;
    mf_value *outs[2] = {g->outputs[0], dw->inputs[0]};
    mf_graph_set_outputs(g, 2, outs);
    assert_false(mf_expand_dw_chain(g, dw, NULL));
    mf_graph_destroy(g);
}

/* What the block's recognizer takes: a chain and a projection; not the depthwise result
 * used twice, nor a projection after a depthwise conv that no expansion feeds. */
static void test_block_recognizer(void **state)
{
    (void)state;
    mf_cg_target host;
    assert_int_equal(mf_cg_target_init(NULL, &host), MF_OK);
    current = &host;
    mf_graph *g = block_graph(&blocks[0], 0);
    const mf_node *pj = g->outputs[0]->producer->inputs[0]->producer;
    mf_inverted_residual ir;
    assert_true(mf_inverted_residual_chain(g, pj, &ir));
    assert_ptr_equal(ir.dp.project, pj);
    assert_ptr_equal(ir.ed.dw, ir.dp.dw);
    assert_non_null(ir.ed.act);
    assert_non_null(ir.dp.act);
    assert_false(
        mf_inverted_residual_chain(g, ir.ed.dw, NULL)); /* the depthwise conv ends no block */
    mf_value *outs[2] = {g->outputs[0],
                         ir.dp.act->outputs[0]}; /* the depthwise result used twice */
    mf_graph_set_outputs(g, 2, outs);
    assert_false(mf_inverted_residual_chain(g, pj, NULL));
    mf_graph_destroy(g);
    g = block_graph(&blocks[0], 2); /* a projection alone */
    assert_false(mf_inverted_residual_chain(g, g->outputs[0]->producer->inputs[0]->producer, NULL));
    mf_graph_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expand_dw_every_target), cmocka_unit_test(test_fused_equals_unfused),
        cmocka_unit_test(test_block_every_target),     cmocka_unit_test(test_block_equals_unfused),
        cmocka_unit_test(test_block_recognizer),       cmocka_unit_test(test_recognizer),
    };
    return cmocka_run_group_tests_name("codegen_expand_dw", tests, NULL, NULL);
}
