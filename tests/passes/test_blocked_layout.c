/* test_blocked_layout.c — the blocked-layout pass (passes/blocked_layout.c): an
 * inverted-residual chain of small-plane 1x1 and depthwise convs becomes conv2d_blocks
 * nodes between one to_blocks and one from_blocks, its relu6s and residual add reading the
 * blocked values, the weights laid out as new constants; the reference interpreter gives the
 * same outputs before and after (blocks of 4, 8 and 16); what stays NCHW: a region of fewer
 * than three convs, channels that are not whole blocks, planes over 28x28, weights that are
 * not constants, no target (lanes 0); a result read outside the region comes back through
 * from_blocks; a region's first narrowing and last widening 1x1 convs stay NCHW; convs that
 * share a weight share its laid-out copy; rows wider than the
 * kernels unroll stay; and a module built on the chain (the compile pipeline, fused and
 * unfused, 1 and 4 partitions) matches the reference. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "ir/ir.h"
#include "passes/passes.h"
#include "module/module.h"
#include "tests/support/compare.h"
#include "tests/support/pass_graphs.h"

/* mobilenet_v2's 14x14 block: expansion + relu6, depthwise + relu6, projection + residual
 * add, c channels (6c expanded) on hw x hw; the expansion's weights a constant or an input;
 * with extra_use, %ea is an output too (a result read outside the region). */
static mf_graph *chain(int64_t c, int64_t hw, bool const_weights, bool extra_use)
{
    char *t = malloc(8192), w1[64], head[128];
    long long C = c, E = 6 * c, S = hw;
    snprintf(w1, sizeof w1, "f32[%lld,%lld,1,1]", E, C);
    snprintf(head, sizeof head, "%%x: f32[1,%lld,%lld,%lld]%s%s", C, S, S,
             const_weights ? "" : ", %w1: ", const_weights ? "" : w1);
    int n = snprintf(t, 8192, "graph @chain(%s) {\n", head);
    if (const_weights)
        n += snprintf(t + n, 8192 - (size_t)n, "  %%w1 = const %s opaque\n", w1);
    snprintf(t + n, 8192 - (size_t)n,
             "  %%b1 = const f32[%lld] opaque\n"
             "  %%w2 = const f32[%lld,1,3,3] opaque\n"
             "  %%b2 = const f32[%lld] opaque\n"
             "  %%w3 = const f32[%lld,%lld,1,1] opaque\n"
             "  %%b3 = const f32[%lld] opaque\n"
             "  %%e = conv2d(%%x, %%w1, %%b1) : f32[1,%lld,%lld,%lld]\n"
             "  %%ea = clamp(%%e) {min=0.0, max=6.0} : f32[1,%lld,%lld,%lld]\n"
             "  %%d = conv2d(%%ea, %%w2, %%b2) {stride=[1,1], padding=[1,1], groups=%lld} : "
             "f32[1,%lld,%lld,%lld]\n"
             "  %%da = clamp(%%d) {min=0.0, max=6.0} : f32[1,%lld,%lld,%lld]\n"
             "  %%p = conv2d(%%da, %%w3, %%b3) : f32[1,%lld,%lld,%lld]\n"
             "  %%s = add(%%p, %%x) : f32[1,%lld,%lld,%lld]\n"
             "  return %%s%s\n}\n",
             E, E, E, C, E, C, E, S, S, E, S, S, E, E, S, S, E, S, S, C, S, S, C, S, S,
             extra_use ? ", %ea" : "");
    mf_graph *g = tsupport_parse_filled(t, 11, -0.5f);
    free(t);
    return g;
}

static int count_op(const mf_graph *g, mf_op op)
{
    int n = 0;
    for (int i = 0; i < g->nnodes; i++)
        n += g->nodes[i]->op == op;
    return n;
}

/* blocked-layout then dce, for lanes; returns the pass's changes */
static int run_pass(mf_graph *g, int lanes)
{
    mf_pass_ctx ctx = mf_pass_ctx_default();
    ctx.lanes = lanes;
    int changes = tsupport_run_passes(g, "blocked-layout,dce", &ctx);
    return changes;
}

static void assert_same_outputs(const mf_graph *a, const mf_graph *b)
{
    mf_tensor *in[2] = {0}, *wa[2] = {0}, *wb[2] = {0};
    tsupport_rand_inputs(a, 5, -1, 1, in);
    assert_int_equal(mf_graph_interpret(a, a->ninputs, in, a->noutputs, wa), MF_OK);
    assert_int_equal(mf_graph_interpret(b, b->ninputs, in, b->noutputs, wb), MF_OK);
    for (int k = 0; k < a->noutputs; k++) {
        assert_int_equal(mf_tensor_numel(wa[k]), mf_tensor_numel(wb[k]));
        const float *x = mf_tensor_data(wa[k]), *y = mf_tensor_data(wb[k]);
        double top = 0, err = 0;
        for (int64_t i = 0; i < mf_tensor_numel(wa[k]); i++) {
            top = fmax(top, fabs(x[i]));
            err = fmax(err, fabs((double)x[i] - y[i]));
        }
        assert_true(err <= 1e-5 * (top > 1 ? top : 1));
    }
    tsupport_free_tensors(a->ninputs, in);
    tsupport_free_tensors(a->noutputs, wa);
    tsupport_free_tensors(b->noutputs, wb);
}

static void test_chain_becomes_blocked(void **state)
{
    (void)state;
    static const int lanes[] = {4, 8, 16};
    for (int i = 0; i < 3; i++) {
        mf_graph *g = chain(32, 14, true, false), *orig = chain(32, 14, true, false);
        assert_int_equal(run_pass(g, lanes[i]), 6); /* three convs, two clamps, the add */
        assert_int_equal(count_op(g, MF_OP_CONV2D), 0);
        assert_int_equal(count_op(g, MF_OP_CONV2D_BLOCKS), 3);
        assert_int_equal(count_op(g, MF_OP_TO_BLOCKS),
                         1); /* %x once, for the expansion and the add */
        assert_int_equal(count_op(g, MF_OP_FROM_BLOCKS), 1); /* the output only */
        for (int k = 0; k < g->nnodes; k++) {
            const mf_node *n = g->nodes[k];
            if (n->op == MF_OP_CLAMP || n->op == MF_OP_ADD)
                assert_int_equal(n->outputs[0]->type.rank, 5);
            if (n->op == MF_OP_CONV2D_BLOCKS) { /* weights laid out here, as constants */
                assert_true(n->inputs[1]->is_const && n->inputs[1]->data);
                assert_int_equal(n->inputs[1]->type.shape[n->inputs[1]->type.rank - 1], lanes[i]);
            }
        }
        assert_same_outputs(orig, g);
        mf_graph_destroy(g);
        mf_graph_destroy(orig);
    }
}

static void test_result_read_outside(void **state)
{
    (void)state;
    mf_graph *g = chain(32, 7, true, true), *orig = chain(32, 7, true, true);
    assert_int_equal(run_pass(g, 16), 6);
    assert_int_equal(count_op(g, MF_OP_FROM_BLOCKS), 2); /* the sum and %ea */
    assert_same_outputs(orig, g);
    mf_graph_destroy(g);
    mf_graph_destroy(orig);
}

static void test_what_stays(void **state)
{
    (void)state;
    struct {
        int64_t c, hw;
        bool const_weights;
        int lanes;
        const char *why;
    } cases[] = {
        {32, 14, true, 0, "no target"},
        {36, 14, true, 8, "36 channels are not whole blocks of 8"},
        {32, 56, true, 16, "a 56x56 plane"},
        {32, 14, false, 16, "the expansion's weights are an input: two convs are left"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        mf_graph *g = chain(cases[i].c, cases[i].hw, cases[i].const_weights, false);
        int nodes = g->nnodes;
        if (run_pass(g, cases[i].lanes) != 0)
            fail_msg("%s: rewritten", cases[i].why);
        assert_int_equal(g->nnodes, nodes);
        assert_int_equal(count_op(g, MF_OP_CONV2D_BLOCKS), 0);
        mf_graph_destroy(g);
    }
}

/* Two 1x1 convs sharing one weight (and a depthwise conv of stride 2 between them, batch 2):
 * one laid-out copy of the weight; the interpreter agrees. */
static const char *const shared_text =
    "graph @shared(%x: f32[2,32,14,14]) {\n"
    "  %w = const f32[32,32,1,1] opaque\n"
    "  %wd = const f32[32,1,5,5] opaque\n"
    "  %a = conv2d(%x, %w) : f32[2,32,14,14]\n"
    "  %r = relu(%a) : f32[2,32,14,14]\n"
    "  %d = conv2d(%r, %wd) {stride=[2,2], padding=[2,2], groups=32} : f32[2,32,7,7]\n"
    "  %b = conv2d(%d, %w) : f32[2,32,7,7]\n"
    "  return %b\n"
    "}\n";

static void test_shared_weights(void **state)
{
    (void)state;
    mf_graph *g = tsupport_parse_filled(shared_text, 3, -0.5f),
             *orig = tsupport_parse_filled(shared_text, 3, -0.5f);
    assert_int_equal(run_pass(g, 16), 4);
    int laid_out = 0;
    for (int i = 0; i < g->nvalues; i++)
        laid_out += g->values[i]->is_const && g->values[i]->type.rank == 3;
    assert_int_equal(laid_out, 1);
    assert_same_outputs(orig, g);
    mf_graph_destroy(g);
    mf_graph_destroy(orig);
}

/* Rows wider than the kernels unroll (1 x 200) stay NCHW. */
static void test_wide_rows_stay(void **state)
{
    (void)state;
    static const char *const wide =
        "graph @wide(%x: f32[1,16,1,200]) {\n"
        "  %w = const f32[16,16,1,1] opaque\n"
        "  %wd = const f32[16,1,3,3] opaque\n"
        "  %a = conv2d(%x, %w) : f32[1,16,1,200]\n"
        "  %d = conv2d(%a, %wd) {padding=[1,1], groups=16} : f32[1,16,1,200]\n"
        "  %b = conv2d(%d, %w) : f32[1,16,1,200]\n"
        "  return %b\n"
        "}\n";
    mf_graph *g = tsupport_parse_filled(wide, 3, -0.5f);
    assert_int_equal(run_pass(g, 16), 0);
    mf_graph_destroy(g);
}

/* A region's edges: a 1x1 conv that narrows the channels as its first layer and one that
 * widens them as its last stay NCHW (the reorders then move their smaller sides). */
static void test_edges_trimmed(void **state)
{
    (void)state;
    static const char *const text =
        "graph @edges(%x: f32[1,48,14,14]) {\n"
        "  %w0 = const f32[16,48,1,1] opaque\n"
        "  %w1 = const f32[96,16,1,1] opaque\n"
        "  %wd = const f32[96,1,3,3] opaque\n"
        "  %w2 = const f32[16,96,1,1] opaque\n"
        "  %w3 = const f32[64,16,1,1] opaque\n"
        "  %p0 = conv2d(%x, %w0) : f32[1,16,14,14]\n"
        "  %e = conv2d(%p0, %w1) : f32[1,96,14,14]\n"
        "  %ea = clamp(%e) {min=0.0, max=6.0} : f32[1,96,14,14]\n"
        "  %d = conv2d(%ea, %wd) {padding=[1,1], groups=96} : f32[1,96,14,14]\n"
        "  %p = conv2d(%d, %w2) : f32[1,16,14,14]\n"
        "  %s = add(%p, %p0) : f32[1,16,14,14]\n"
        "  %x2 = conv2d(%s, %w3) : f32[1,64,14,14]\n"
        "  %y = clamp(%x2) {min=0.0, max=6.0} : f32[1,64,14,14]\n"
        "  return %y\n"
        "}\n";
    mf_graph *g = tsupport_parse_filled(text, 4, -0.5f),
             *orig = tsupport_parse_filled(text, 4, -0.5f);
    assert_int_equal(run_pass(g, 16), 5); /* three convs, the clamp and the add */
    assert_int_equal(count_op(g, MF_OP_CONV2D), 2);
    assert_int_equal(count_op(g, MF_OP_CONV2D_BLOCKS), 3);
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i]->op == MF_OP_TO_BLOCKS) /* %p0's 16 channels, not %x's 48 */
            assert_int_equal(g->nodes[i]->inputs[0]->type.shape[1], 16);
    assert_same_outputs(orig, g);
    mf_graph_destroy(g);
    mf_graph_destroy(orig);
}

/* Modules on the chain (the compile pipeline: blocked on a vector target), fused and unfused,
 * 1 and 4 partitions, two runs each: the reference's outputs within 1e-5. */
static void test_module_runs(void **state)
{
    (void)state;
    mf_graph *g = chain(32, 14, true, true);
    mf_tensor *in[1] = {0}, *want[2] = {0};
    tsupport_rand_inputs(g, 9, -1, 1, in);
    assert_int_equal(mf_graph_interpret(g, 1, in, 2, want), MF_OK);
    for (int fusion = 0; fusion <= 1; fusion++)
        for (int cores = 1; cores <= 4; cores += 3) {
            mf_module_options o = mf_module_default_options();
            o.fusion = fusion;
            o.core_number = cores;
            o.tier = MF_TIER_FULL;
            mf_module *m;
            mf_tensor *xd;
            if (mf_module_create(g, &o, &m) || mf_tensor_to(in[0], o.device, &xd))
                fail_msg("%s", mf_last_error());
            for (int run = 0; run < 2; run++) {
                mf_tensor *out[2], *host;
                if (mf_module_run(m, 1, &xd, 2, out))
                    fail_msg("%s", mf_last_error());
                for (int k = 0; k < 2; k++) {
                    assert_int_equal(mf_tensor_to(out[k], MF_DEVICE_CPU, &host), MF_OK);
                    double d = tsupport_rel_diff(host, want[k], 1e-6);
                    if (!(d <= 1e-5))
                        fail_msg("fusion %d, %d cores, output %d: %g relative", fusion, cores, k,
                                 d);
                    mf_tensor_free(host);
                    mf_tensor_free(out[k]);
                }
            }
            mf_tensor_free(xd);
            mf_module_destroy(m);
        }
    tsupport_free_tensors(1, in);
    tsupport_free_tensors(2, want);
    mf_graph_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_becomes_blocked),
        cmocka_unit_test(test_result_read_outside),
        cmocka_unit_test(test_what_stays),
        cmocka_unit_test(test_shared_weights),
        cmocka_unit_test(test_wide_rows_stay),
        cmocka_unit_test(test_edges_trimmed),
        cmocka_unit_test(test_module_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
