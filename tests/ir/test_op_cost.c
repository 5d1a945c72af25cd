/* test_op_cost.c — the FLOP counts the profiler reports (ir/op_cost.c) equal hand-computed
 * values: 2 per multiply-accumulate for conv2d (strided, grouped), conv_transpose2d, linear
 * and matmul (batched); one per element for elementwise ops, per window element for
 * pooling; none for views. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ir/ir.h"

static const char text[] =
    "graph @cost(%x: f32[2,4,9,9], %t: f32[1,4,5,5], %l: f32[2,3,16], %a: f32[4,5,7], %b: f32[4,7,3],"
    " %p: f32[1,2,8,8]) {\n"
    "  %w = const f32[6,2,3,3] opaque\n"
    "  %wt = const f32[4,3,3,3] opaque\n"
    "  %wl = const f32[8,16] opaque\n"
    "  %bl = const f32[8] opaque\n"
    "  %c = conv2d(%x, %w) {stride=[2,2], padding=[1,1], groups=2} : f32[2,6,5,5]\n"
    "  %ct = conv_transpose2d(%t, %wt) {stride=[2,2]} : f32[1,3,11,11]\n"
    "  %y = linear(%l, %wl, %bl) : f32[2,3,8]\n"
    "  %m = matmul(%a, %b) : f32[4,5,3]\n"
    "  %mp = max_pool2d(%p) {kernel=[2,2], stride=[2,2]} : f32[1,2,4,4]\n"
    "  %r = relu(%p) : f32[1,2,8,8]\n"
    "  %v = reshape(%p) {shape=[2,64]} : f32[2,64]\n"
    "  return %c, %ct, %y, %m, %mp, %r, %v\n"
    "}\n";

static double flops_of(const mf_graph *g, const char *op)
{
    for (int i = 0; i < g->nnodes; i++)
        if (!strcmp(mf_op_get(g->nodes[i]->op)->name, op))
            return mf_node_flops(g->nodes[i]);
    fail_msg("no %s node", op);
    return -1;
}

static void test_hand_computed(void **state)
{
    mf_graph *g = NULL;
    if (mf_graph_parse(text, "cost.mfir", &g))
        fail_msg("%s", mf_last_error());
    /* out [2,6,5,5] = 300 elements, each a window of (4/2 channels) x 3 x 3 = 18 MACs */
    assert_true(flops_of(g, "conv2d") == 2.0 * 300 * 18);
    /* every input element (100) scatters into (3 channels) x 3 x 3 = 27 outputs */
    assert_true(flops_of(g, "conv_transpose2d") == 2.0 * 100 * 27);
    /* out [2,3,8] = 48 elements, each a dot product of 16; the bias is not counted */
    assert_true(flops_of(g, "linear") == 2.0 * 48 * 16);
    /* out [4,5,3] = 60 elements, each a dot product of 7 */
    assert_true(flops_of(g, "matmul") == 2.0 * 60 * 7);
    assert_true(flops_of(g, "max_pool2d") == 32.0 * 4); /* 32 outputs, 2x2 windows */
    assert_true(flops_of(g, "relu") == 128.0);
    assert_true(flops_of(g, "reshape") == 0.0);
    mf_graph_destroy(g);
}

static void test_by_types(void **state)
{
    /* the same count without a graph: conv2d 1x3x224x224 by 64x3x7x7, stride 2, pad 3
     * (resnet18's first layer) is 118,013,952 MACs */
    mf_type in[2] = {{MF_F32, 4, {1, 3, 224, 224}}, {MF_F32, 4, {64, 3, 7, 7}}};
    mf_type out = {MF_F32, 4, {1, 64, 112, 112}};
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CONV2D, a);
    assert_true(mf_op_flops(MF_OP_CONV2D, a, 2, in, &out) == 2.0 * 118013952);
    mf_type cast_in = {MF_F32, 1, {10}}, cast_out = {MF_F16, 1, {10}};
    mf_op_default_attrs(MF_OP_CAST, a);
    assert_true(mf_op_flops(MF_OP_CAST, a, 1, &cast_in, &cast_out) == 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_computed),
        cmocka_unit_test(test_by_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
