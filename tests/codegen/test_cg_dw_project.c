/* test_cg_dw_project.c — the fused depthwise + projection engine
 * (codegen/lower_conv_dw_project.c: a 3x3 depthwise conv of stride 1 or 2, relu6/relu or
 * none, a 1x1 projection, a residual add or none, compiled as one kernel) against the
 * reference kernels within the seed's per-op 0.3 %, for every named target this host can run
 * (and the host, and the scalar path): odd sizes, rows shorter than a vector and rows of
 * many, channel blocks that do not divide the projection, bands of one row (the widest row
 * the buffer takes), batch 2 and 3, no bias, weights prepacked as the target's GEMM reads
 * them; run for 1, 4 and 16 partitions (cg_check.h), so partitions of a row or none.  And
 * fused == unfused: the same chain as two kernels (the depthwise engine, then the 1x1 GEMM
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
    int64_t n, c, h, w, s, cout;
    int act; /* 0 none, 1 relu6 (clamp 0..6), 2 relu */
    bool bias;
    int64_t packed; /* 0 plain; -1 in the block the target's GEMM reads; else in this block */
    int residual;   /* 0 none; 1 an add of the output's shape; 2 of [n, cout, oh, 1] (does not
                     * flatten: the epilogue runs pixel by pixel) */
} chain;

static int64_t out_size(int64_t n, int64_t s)
{
    return (n + 2 - 3) / s + 1;
}

/* parts: 0 the whole chain, 1 the depthwise (+ its activation), 2 the projection (+ add) */
static mf_graph *chain_graph(const chain *l, int parts)
{
    mf_graph *g = mf_graph_new("chain");
    const int64_t oh = out_size(l->h, l->s), ow = out_size(l->w, l->s);
    mf_value *y;
    if (parts != 2) {
        mf_value *x = cg_in(g, "x", (mf_type){MF_F32, 4, {l->n, l->c, l->h, l->w}});
        mf_value *w1 = cg_in(g, "w1", (mf_type){MF_F32, 4, {l->c, 1, 3, 3}});
        mf_value *b1 = l->bias ? cg_in(g, "b1", (mf_type){MF_F32, 1, {l->c}}) : NULL;
        y = cg_activation(g, cg_conv2d(g, x, w1, b1, l->s, 1, l->c), l->act);
    } else {
        y = cg_in(g, "d", (mf_type){MF_F32, 4, {l->n, l->c, oh, ow}});
    }
    if (parts != 1) {
        mf_value *w2 = cg_in(g, "w2", (mf_type){MF_F32, 4, {l->cout, l->c, 1, 1}});
        mf_value *b2 = l->bias ? cg_in(g, "b2", (mf_type){MF_F32, 1, {l->cout}}) : NULL;
        y = cg_conv2d(g, y, w2, b2, 1, 0, 1);
        int64_t block = l->packed < 0 ? mf_cg_conv_weight_block(&current->shape, y->producer) : l->packed;
        if (block > 0 && block <= MF_EXPAND_DW_MAX_BLOCK)
            mf_attr_set_int(MF_OP_CONV2D, y->producer->attrs, "packed", block);
        if (l->residual)
            y = CG2(g, MF_OP_ADD, y,
                    cg_in(g, "r", (mf_type){MF_F32, 4, {l->n, l->cout, oh, l->residual == 2 ? 1 : ow}}));
    }
    mf_graph_set_outputs(g, 1, &y);
    return g;
}

static const chain chains[] = {
    {1, 16, 19, 23, 1, 24, 1, true, 0, 1},   /* odd sizes, relu6, residual */
    {1, 16, 19, 23, 2, 24, 1, true, 0, 0},   /* the same, stride 2 */
    {2, 12, 12, 37, 1, 13, 2, false, 0, 1},  /* batch 2, a tail block, relu, no bias */
    {1, 48, 28, 28, 1, 16, 1, true, -1, 1},  /* packed weights */
    {1, 48, 28, 28, 2, 32, 1, false, -1, 0}, /* packed, stride 2 */
    {1, 6, 3, 5, 1, 4, 1, true, 0, 0},       /* smaller than a vector */
    {1, 24, 14, 113, 2, 12, 1, true, -1, 1}, /* rows of many vectors, odd, stride 2 */
    {3, 40, 7, 7, 1, 20, 0, true, 0, 1},     /* batch 3, 7x7, no activation */
    {1, 600, 5, 109, 1, 8, 1, true, 0, 0},   /* a row of 600 x 109 floats: bands of one row */
    {1, 32, 30, 30, 1, 16, 1, true, -1, 0},  /* mobilenet_v2's first block, smaller */
    {1, 96, 20, 57, 1, 24, 1, true, 0, 0},   /* bands of several rows, fewer than the plane's */
    {2, 20, 9, 15, 2, 26, 1, true, 5, 2},    /* packed in blocks of 5 (a tail of 1), an epilogue
                                              * pixel by pixel, stride 2, batch 2 */
    {1, 24, 13, 19, 1, 26, 2, false, 7, 2},  /* blocks of 7 (a tail of 5), pixel by pixel */
    {1, 8, 1, 9, 1, 5, 1, true, 0, 0},       /* one row: border rows only */
    {1, 8, 2, 10, 2, 5, 1, true, 0, 1},      /* stride 2 to one row */
    {1, 8, 3, 11, 2, 5, 2, true, 0, 1},      /* stride 2 to two rows, odd height */
    {1, 8, 5, 1, 1, 4, 1, false, 0, 0},      /* one column */
    {2, 200, 11, 57, 2, 16, 1, true, 0, 0},  /* stride 2, several bands, batch 2 */
};
#define NCHAINS (sizeof chains / sizeof chains[0])

static void check_chains(const mf_cg_target *t)
{
    current = t;
    for (size_t i = 0; i < NCHAINS; i++) {
        mf_graph *g = chain_graph(&chains[i], 0);
        cg_check_opts(g,
                      (cg_opts){.lo = -1, .hi = 1, .seed = 700 + i, .target = t, .relmax = 3e-3});
        mf_graph_destroy(g);
    }
}

static void test_dw_project_every_target(void **state)
{
    (void)state;
    every_target(check_chains, "depthwise + projection");
}

static void check_fused_unfused(const mf_cg_target *t)
{
    current = t;
    for (size_t i = 0; i < NCHAINS; i++) {
        const chain *l = &chains[i];
        if (l->packed > 0) /* a block the projection's own engine does not read */
            continue;
        /* the depthwise's inputs: x, w1 (, b1); the projection's: d, w2 (, b2) (, r).  The
         * same sums in the same order where both run the GEMM's tiles; another engine for the
         * unfused projection (a 7x7 plane's) orders them otherwise */
        cg_check_split(chain_graph(l, 0), chain_graph(l, 1), chain_graph(l, 2), 900 + i, t, 1e-5);
    }
}

static void test_fused_equals_unfused(void **state)
{
    (void)state;
    every_target(check_fused_unfused, "fused == unfused");
}

static const mf_node *projection_of(const mf_graph *g)
{
    const mf_node *p = g->outputs[0]->producer;
    return p->op == MF_OP_ADD ? p->inputs[0]->producer : p;
}

/* What the recognizer takes (ir/expand_dw.c): the chain with or without its activation, of
 * stride 1 or 2; not a depthwise result used twice, weights packed in blocks wider than the
 * tile, a row of the depthwise result wider than the band buffer (MF_DW_PROJECT_BUFFER), a
 * strided projection, or a one-channel 3x3 conv (the depthwise engine wants groups > 1: fused,
 * codegen had no engine for it). */
static void test_recognizer(void **state)
{
    (void)state;
    static const struct {
        chain l;
        bool is_chain;
    } cs[] = {
        {{1, 16, 19, 23, 1, 24, 1, true, 0, 1}, true},
        {{1, 16, 19, 23, 2, 24, 0, false, 0, 0}, true},
        {{1, 600, 5, 109, 1, 8, 2, true, 0, 0}, true},  /* 600 x 109 x 4 = 261600 bytes: fits */
        {{1, 602, 5, 109, 1, 8, 2, true, 0, 0}, false}, /* 262472 bytes: over 256 KiB */
        {{1, 1, 19, 23, 1, 8, 2, true, 0, 0}, false},   /* one channel: a plain 3x3 conv */
    };
    mf_cg_target host;
    assert_int_equal(mf_cg_target_init(NULL, &host), MF_OK);
    current = &host;
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        mf_graph *g = chain_graph(&cs[i].l, 0);
        const mf_node *pj = projection_of(g);
        mf_dw_project dp;
        assert_int_equal(mf_dw_project_chain(g, pj, &dp), cs[i].is_chain);
        if (cs[i].is_chain) {
            assert_ptr_equal(dp.project, pj);
            assert_int_equal(dp.act != NULL, cs[i].l.act != 0);
            assert_int_equal(dp.dw->op, MF_OP_CONV2D);
            assert_int_equal(mf_conv2d_of(dp.dw->op, dp.dw->attrs).groups, cs[i].l.c);
        }
        mf_graph_destroy(g);
    }
    /* weights packed for wider blocks than the fused tile holds: no chain */
    for (int64_t block = 12; block <= 13; block++) {
        mf_graph *g = chain_graph(&cs[0].l, 0);
        mf_node *pj = (mf_node *)projection_of(g);
        mf_attr_set_int(MF_OP_CONV2D, pj->attrs, "packed", block);
        assert_int_equal(mf_dw_project_chain(g, pj, NULL), block <= MF_EXPAND_DW_MAX_BLOCK);
        mf_graph_destroy(g);
    }
    /* a strided projection: no chain */
    mf_graph *g = chain_graph(&cs[0].l, 0);
    mf_node *pj = (mf_node *)projection_of(g);
    int64_t st[2] = {2, 2};
    mf_attr_set_ints(MF_OP_CONV2D, pj->attrs, "stride", 2, st);
    assert_false(mf_dw_project_chain(g, pj, NULL));
    mf_graph_destroy(g);
    /* the depthwise result used twice: no chain */
    g = chain_graph(&cs[0].l, 0);
    pj = (mf_node *)projection_of(g);
    mf_value *outs[2] = {g->outputs[0], pj->inputs[0]};
    mf_graph_set_outputs(g, 2, outs);
    assert_false(mf_dw_project_chain(g, pj, NULL));
    mf_graph_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dw_project_every_target),
        cmocka_unit_test(test_fused_equals_unfused),
        cmocka_unit_test(test_recognizer),
    };
    return cmocka_run_group_tests_name("codegen_dw_project", tests, NULL, NULL);
}
