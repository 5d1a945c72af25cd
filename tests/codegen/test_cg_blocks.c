/* test_cg_blocks.c — the blocked channel layout's kernels (codegen/lower_conv_blocks.c:
 * to_blocks, from_blocks, conv2d_blocks 1x1 and depthwise, with epilogues) against the
 * reference kernels (runtime/ref_blocks.c) for every named target this host can run, the
 * host and the scalar path, blocks of the target's lanes; 1, 4 and 16 partitions
 * (cg_check.h).  Rows of 1-29 pixels (tiles of a row, of part of one, a last shorter tile;
 * narrow rows in items of several, a last item of fewer),
 * channel blocks that the 1x1 tile's vectors do not divide, stride 2, batch 2, no bias, a
 * residual add.  And the reference kernels against conv2d on NCHW: to_blocks, the blocked
 * conv and from_blocks give conv2d's numbers.  A target the host cannot execute is skipped,
 * and the test says how many. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>

#include "cg_check.h"
#include "cg_chain.h"
#include "cg_targets.h"

static mf_value *to_blocks(mf_graph *g, mf_value *x, int64_t b)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_TO_BLOCKS, a);
    mf_attr_set_int(MF_OP_TO_BLOCKS, a, "block", b);
    return cg_node(g, MF_OP_TO_BLOCKS, 1, &x, a);
}

static mf_value *conv_blocks(mf_graph *g, mf_value *x, mf_value *w, mf_value *bias, int64_t s,
                             int64_t p, int64_t groups)
{
    return cg_conv_op(g, MF_OP_CONV2D_BLOCKS, x, w, bias, s, p, groups);
}

static void check_graph(mf_graph *g, mf_value *y, const mf_cg_target *t, uint64_t seed)
{
    assert_int_equal(mf_graph_set_outputs(g, 1, &y), MF_OK);
    cg_check_opts(g, (cg_opts){.target = t, .seed = seed, .relmax = 3e-3, .lo = -1, .hi = 1});
    mf_graph_destroy(g);
}

typedef struct pw_case {
    int64_t n, h, w, cbi, cbo;
    bool bias;
    int epi; /* 0 none, 1 relu6, 2 a residual add */
} pw_case;

/* Blocks of the target's lanes, or (other_blocks) of a quarter and of twice as many: a graph
 * need not match the target, its kernels are then correct lane by lane. */
static bool other_blocks;

static int64_t block_for(const mf_cg_target *t, size_t i)
{
    int64_t L = t->shape.lanes;
    return !other_blocks ? L : i % 2 ? 2 * L : (L >= 4 ? L / 4 : 1);
}

static void check_pointwise(const mf_cg_target *t)
{
    static const pw_case cases[] = {
        {1, 14, 14, 6, 36, true, 1}, {1, 7, 7, 10, 60, true, 2}, {1, 28, 28, 2, 12, true, 1},
        {2, 3, 17, 3, 3, false, 0},  {1, 2, 29, 1, 5, true, 2},  {1, 5, 1, 4, 1, true, 1},
        {1, 1, 9, 2, 7, false, 1},   {1, 9, 5, 3, 5, true, 2}, /* items of 2 rows, a last of 1 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const pw_case *k = &cases[i];
        const int64_t B = block_for(t, i);
        mf_graph *g = mf_graph_new("pointwise");
        mf_value *x = cg_in(g, "x", (mf_type){MF_F32, 5, {k->n, k->h, k->cbi, k->w, B}});
        mf_value *w = cg_in(g, "w", (mf_type){MF_F32, 3, {k->cbo, k->cbi * B, B}});
        mf_value *b = k->bias ? cg_in(g, "b", (mf_type){MF_F32, 1, {k->cbo * B}}) : NULL;
        mf_value *y = conv_blocks(g, x, w, b, 1, 0, 1);
        if (k->epi == 2)
            y = CG2(g, MF_OP_ADD, y,
                    cg_in(g, "r", (mf_type){MF_F32, 5, {k->n, k->h, k->cbo, k->w, B}}));
        else
            y = cg_activation(g, y, k->epi);
        check_graph(g, y, t, 100 + i);
    }
}

typedef struct dw_case {
    int64_t n, h, w, cb, k, s, p;
    bool bias;
} dw_case;

static void check_depthwise(const mf_cg_target *t)
{
    static const dw_case cases[] = {
        {1, 14, 14, 3, 3, 1, 1, true}, {1, 28, 28, 2, 3, 2, 1, true}, {1, 7, 7, 4, 3, 1, 1, true},
        {2, 9, 23, 1, 3, 2, 1, false}, {1, 1, 1, 2, 3, 1, 1, true},   {1, 6, 5, 2, 5, 1, 2, true},
        {1, 4, 30, 1, 3, 1, 0, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const dw_case *k = &cases[i];
        const int64_t B = block_for(t, i);
        mf_graph *g = mf_graph_new("depthwise");
        mf_value *x = cg_in(g, "x", (mf_type){MF_F32, 5, {k->n, k->h, k->cb, k->w, B}});
        mf_value *w = cg_in(g, "w", (mf_type){MF_F32, 4, {k->cb, k->k, k->k, B}});
        mf_value *b = k->bias ? cg_in(g, "b", (mf_type){MF_F32, 1, {k->cb * B}}) : NULL;
        mf_value *y = cg_activation(g, conv_blocks(g, x, w, b, k->s, k->p, k->cb * B), 1);
        check_graph(g, y, t, 200 + i);
    }
}

static void check_reblock(const mf_cg_target *t)
{
    const int64_t B = block_for(t, 1);
    mf_graph *g = mf_graph_new("to_blocks");
    check_graph(g, to_blocks(g, cg_in(g, "x", (mf_type){MF_F32, 4, {2, 3 * B, 5, 7}}), B), t, 300);
    g = mf_graph_new("from_blocks");
    check_graph(g, CG1(g, MF_OP_FROM_BLOCKS, cg_in(g, "x", (mf_type){MF_F32, 5, {2, 4, 3, 9, B}})),
                t, 301);
}

static void test_pointwise(void **state)
{
    (void)state;
    every_target(check_pointwise, "conv2d_blocks 1x1");
}

static void test_depthwise(void **state)
{
    (void)state;
    every_target(check_depthwise, "conv2d_blocks depthwise");
}

static void test_reblock(void **state)
{
    (void)state;
    every_target(check_reblock, "to_blocks, from_blocks");
}

static void test_other_blocks(void **state)
{
    (void)state;
    other_blocks = true;
    every_target(check_pointwise, "conv2d_blocks 1x1, blocks other than the lanes");
    every_target(check_depthwise, "conv2d_blocks depthwise, blocks other than the lanes");
    every_target(check_reblock, "to_blocks, from_blocks, blocks other than the lanes");
    other_blocks = false;
}

/* The reference kernels mean what conv2d means: from_blocks(conv2d_blocks(to_blocks(x),
 * the weights laid out in blocks)) == conv2d(x, w) (mf_graph_interpret), for a 1x1 conv and
 * a depthwise one, blocks of 1, 4 and 16. */
static void test_reference_is_conv2d(void **state)
{
    (void)state;
    static const int64_t blocks[] = {1, 4, 16};
    for (int dw = 0; dw < 2; dw++)
        for (size_t bi = 0; bi < sizeof blocks / sizeof *blocks; bi++) {
            const int64_t B = blocks[bi], C = 32, O = dw ? 32 : 48, H = 6, W = 5, k = dw ? 3 : 1;
            mf_tensor *x, *w, *bias;
            int64_t xs[4] = {2, C, H, W}, ws[4] = {O, dw ? 1 : C, k, k}, bs[1] = {O};
            assert_int_equal(mf_tensor_rand(MF_F32, 4, xs, 1, -1, 1, MF_DEVICE_CPU, &x), MF_OK);
            assert_int_equal(mf_tensor_rand(MF_F32, 4, ws, 2, -1, 1, MF_DEVICE_CPU, &w), MF_OK);
            assert_int_equal(mf_tensor_rand(MF_F32, 1, bs, 3, -1, 1, MF_DEVICE_CPU, &bias), MF_OK);
            /* NCHW */
            mf_graph *g = mf_graph_new("nchw");
            mf_value *gx = cg_in(g, "x", (mf_type){MF_F32, 4, {2, C, H, W}});
            mf_value *gw = cg_in(g, "w", (mf_type){MF_F32, 4, {O, dw ? 1 : C, k, k}});
            mf_value *gb = cg_in(g, "b", (mf_type){MF_F32, 1, {O}});
            mf_value *y = cg_conv2d(g, gx, gw, gb, dw ? 2 : 1, dw ? 1 : 0, dw ? C : 1);
            assert_int_equal(mf_graph_set_outputs(g, 1, &y), MF_OK);
            mf_tensor *want = NULL, *got = NULL, *ins[3] = {x, w, bias};
            assert_int_equal(mf_graph_interpret(g, 3, ins, 1, &want), MF_OK);
            mf_graph_destroy(g);
            /* blocked, the weights laid out by hand */
            mf_tensor *wb;
            int64_t wbs[4] = {O / B, dw ? k : C, dw ? k : B, B};
            if (dw)
                wbs[1] = k, wbs[2] = k;
            assert_int_equal(mf_tensor_zeros(MF_F32, dw ? 4 : 3, wbs, MF_DEVICE_CPU, &wb), MF_OK);
            const float *wv = mf_tensor_data(w);
            float *wbv = mf_tensor_data_mut(wb);
            for (int64_t o = 0; o < O; o++)
                for (int64_t i = 0; i < (dw ? k * k : C); i++)
                    wbv[((o / B) * (dw ? k * k : C) + i) * B + o % B] =
                        wv[o * (dw ? k * k : C) + i];
            g = mf_graph_new("blocked");
            gx = cg_in(g, "x", (mf_type){MF_F32, 4, {2, C, H, W}});
            gw = cg_in(g, "w",
                       dw ? (mf_type){MF_F32, 4, {O / B, k, k, B}}
                          : (mf_type){MF_F32, 3, {O / B, C, B}});
            gb = cg_in(g, "b", (mf_type){MF_F32, 1, {O}});
            y = conv_blocks(g, to_blocks(g, gx, B), gw, gb, dw ? 2 : 1, dw ? 1 : 0, dw ? C : 1);
            y = CG1(g, MF_OP_FROM_BLOCKS, y);
            assert_int_equal(mf_graph_set_outputs(g, 1, &y), MF_OK);
            mf_tensor *ins2[3] = {x, wb, bias};
            assert_int_equal(mf_graph_interpret(g, 3, ins2, 1, &got), MF_OK);
            mf_graph_destroy(g);
            assert_int_equal(mf_tensor_numel(got), mf_tensor_numel(want));
            const float *a = mf_tensor_data(got), *b = mf_tensor_data(want);
            for (int64_t i = 0; i < mf_tensor_numel(got); i++)
                assert_float_equal(a[i], b[i], 1e-5);
            mf_tensor_free(got), mf_tensor_free(want), mf_tensor_free(wb);
            mf_tensor_free(x), mf_tensor_free(w), mf_tensor_free(bias);
        }
}

/* Shapes the ops refuse, with a message naming what. */
static void test_bad_shapes(void **state)
{
    (void)state;
    mf_graph *g = mf_graph_new("bad");
    mf_value *x = cg_in(g, "x", (mf_type){MF_F32, 4, {1, 12, 4, 4}});
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_TO_BLOCKS, a);
    mf_attr_set_int(MF_OP_TO_BLOCKS, a, "block", 8);
    mf_node *n = NULL;
    assert_int_equal(mf_graph_add_node(g, MF_OP_TO_BLOCKS, 1, &x, a, &n), MF_ERR_SHAPE);
    assert_non_null(strstr(mf_last_error(), "not whole blocks of 8"));
    mf_attr_set_int(MF_OP_TO_BLOCKS, a, "block", 0);
    assert_int_equal(mf_graph_add_node(g, MF_OP_TO_BLOCKS, 1, &x, a, &n), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "block = 0, must be in 1..64"));
    mf_value *x0 = cg_in(g, "x0", (mf_type){MF_F32, 5, {1, 2, 3, 2, 0}});
    assert_int_equal(mf_graph_add_node(g, MF_OP_FROM_BLOCKS, 1, &x0, NULL, &n), MF_ERR_SHAPE);
    assert_non_null(strstr(mf_last_error(), "blocks of 0 channels, must be 1..64"));
    mf_value *xb = cg_in(g, "xb", (mf_type){MF_F32, 5, {1, 4, 3, 4, 4}});
    mf_value *w = cg_in(g, "w", (mf_type){MF_F32, 3, {2, 8, 4}});
    mf_op_default_attrs(MF_OP_CONV2D_BLOCKS, a);
    assert_int_equal(mf_graph_add_node(g, MF_OP_CONV2D_BLOCKS, 2, (mf_value *[]){xb, w}, a, &n),
                     MF_ERR_SHAPE);
    assert_non_null(strstr(mf_last_error(), "needs groups 1 and weights [Cout/4, 12, 4]"));
    mf_value *w2 = cg_in(g, "w2", (mf_type){MF_F32, 2, {8, 12}});
    assert_int_equal(mf_graph_add_node(g, MF_OP_CONV2D_BLOCKS, 2, (mf_value *[]){xb, w2}, a, &n),
                     MF_ERR_SHAPE);
    assert_non_null(strstr(mf_last_error(), "weights of rank 2"));
    mf_value *wd = cg_in(g, "wd", (mf_type){MF_F32, 4, {3, 3, 3, 4}});
    mf_attr_set_int(MF_OP_CONV2D_BLOCKS, a, "groups", 3);
    assert_int_equal(mf_graph_add_node(g, MF_OP_CONV2D_BLOCKS, 2, (mf_value *[]){xb, wd}, a, &n),
                     MF_ERR_SHAPE);
    assert_non_null(strstr(mf_last_error(), "needs groups 12"));
    mf_value *w1 = cg_in(g, "w1", (mf_type){MF_F32, 3, {2, 12, 4}});
    mf_op_default_attrs(MF_OP_CONV2D_BLOCKS, a);
    mf_attr_set_ints(MF_OP_CONV2D_BLOCKS, a, "stride", 2, (int64_t[]){2, 2});
    assert_int_equal(mf_graph_add_node(g, MF_OP_CONV2D_BLOCKS, 2, (mf_value *[]){xb, w1}, a, &n),
                     MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "stride 1 without padding"));
    /* rows longer than the kernels unroll run on the CPU (mf_node_mlu_limit) */
    mf_value *xw = cg_in(g, "xw", (mf_type){MF_F32, 5, {1, 1, 3, 100, 4}});
    mf_value *w5 = cg_in(g, "w5", (mf_type){MF_F32, 4, {3, 3, 3, 4}});
    mf_op_default_attrs(MF_OP_CONV2D_BLOCKS, a);
    mf_attr_set_int(MF_OP_CONV2D_BLOCKS, a, "groups", 12);
    mf_attr_set_ints(MF_OP_CONV2D_BLOCKS, a, "padding", 2, (int64_t[]){1, 1});
    assert_int_equal(mf_graph_add_node(g, MF_OP_CONV2D_BLOCKS, 2, (mf_value *[]){xw, w5}, a, &n),
                     MF_OK);
    assert_non_null(mf_node_mlu_limit(n));
    assert_non_null(strstr(mf_node_mlu_limit(n), "more than 64 pixels"));
    mf_graph_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pointwise),  cmocka_unit_test(test_depthwise),
        cmocka_unit_test(test_reblock),    cmocka_unit_test(test_reference_is_conv2d),
        cmocka_unit_test(test_bad_shapes), cmocka_unit_test(test_other_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
