/* test_split_k.c — which 1x1 convs the split-k pass splits over their input channels (after
 * a depthwise conv, through clamp or not, batch 1, 32+ input channels a thread) and which it
 * leaves; the sliced weights; that the rewritten graph computes the same (reference kernels);
 * and that a module at core_number 4 (where it applies) gives the interpreter's outputs, the
 * partial sums added by the vectorized sum with a residual add in its epilogue. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "module/module.h"
#include "passes/passes.h"
#include "tests/support/compare.h"
#include "tests/support/pass_graphs.h"

static const char *const blocks =
    "graph @blocks(%x: f32[1,64,14,14], %y: f32[1,24,14,14], %x2: f32[2,64,14,14], %z: f32[1,96,7,7]) {\n"
    "  %wd = const f32[64,1,3,3] opaque\n"
    "  %bd = const f32[64] opaque\n"
    "  %wp = const f32[24,64,1,1] opaque\n"
    "  %bp = const f32[24] opaque\n"
    "  %wn = const f32[24,64,1,1] opaque\n"
    "  %w3 = const f32[24,64,3,3] opaque\n"
    "  %wx = const f32[24,64,1,1] opaque\n"
    "  %wz = const f32[96,1,3,3] opaque\n"
    "  %wq = const f32[40,96,1,1] opaque\n"
    "  %bq = const f32[40] opaque\n"
    "  %d = conv2d(%x, %wd, %bd) {padding=[1,1], groups=64} : f32[1,64,14,14]\n"
    "  %a = clamp(%d) {min=0, max=6} : f32[1,64,14,14]\n"
    "  %p = conv2d(%a, %wp, %bp) : f32[1,24,14,14]\n"
    "  %res = add(%p, %y) : f32[1,24,14,14]\n"
    "  %q = conv2d(%d, %wn) : f32[1,24,14,14]\n"
    "  %plain = conv2d(%x, %wx) : f32[1,24,14,14]\n"
    "  %wide = conv2d(%a, %w3) {padding=[1,1]} : f32[1,24,14,14]\n"
    "  %strided = conv2d(%a, %wp, %bp) {stride=[2,2]} : f32[1,24,7,7]\n"
    "  %d2 = conv2d(%x2, %wd, %bd) {padding=[1,1], groups=64} : f32[2,64,14,14]\n"
    "  %batched = conv2d(%d2, %wp, %bp) : f32[2,24,14,14]\n"
    "  %dz = conv2d(%z, %wz) {padding=[1,1], groups=96} : f32[1,96,7,7]\n"
    "  %rz = relu(%dz) : f32[1,96,7,7]\n"
    "  %small = conv2d(%rz, %wq, %bq) : f32[1,40,7,7]\n"
    "  return %res, %q, %plain, %wide, %strided, %batched, %small\n"
    "}\n";

#define NOUT 7

static mf_graph *load(void)
{
    return tsupport_parse_filled(blocks, 4242, -0.5f);
}

static int run(mf_graph *g, int parts)
{
    mf_pass_ctx ctx = mf_pass_ctx_default();
    ctx.split_k = parts;
    return tsupport_run_passes(g, "split-k", &ctx);
}

/* The op that makes graph output i (through the residual add of output 0). */
static const mf_node *maker(const mf_graph *g, int i)
{
    const mf_node *n = g->outputs[i]->producer;
    return n->op == MF_OP_ADD ? n->inputs[0]->producer : n;
}

static void test_which_convs(void **state)
{
    (void)state;
    static const int parts[] = {0, 1, 2, 3, 4};
    static const int want[] = {0, 0, 3, 1, 0}; /* 3: only the 96-channel one has 32 a slice */
    for (int t = 0; t < 5; t++) {
        mf_graph *g = load();
        assert_int_equal(run(g, parts[t]), want[t]);
        mf_graph_destroy(g);
    }
    mf_graph *g = load();
    run(g, 2);
    static const bool split[NOUT] = {true, true, false, false, false, false, true};
    for (int i = 0; i < NOUT; i++)
        if ((maker(g, i)->op == MF_OP_SUM) != split[i])
            fail_msg("output %d: %s", i, split[i] ? "not split" : "split");
    mf_graph_destroy(g);
}

/* The grouped conv's weight holds slice s of every output channel's weights at s*K + k, its
 * bias the original's then zeros; the sum takes dim 1 of [1, S, K, H, W]. */
static void test_sliced_weights(void **state)
{
    (void)state;
    mf_graph *g = load(), *orig = load();
    run(g, 2);
    const mf_node *sum = maker(g, 0), *view = sum->inputs[0]->producer, *conv = view->inputs[0]->producer;
    assert_int_equal(view->op, MF_OP_RESHAPE);
    assert_int_equal(conv->op, MF_OP_CONV2D);
    assert_int_equal(mf_conv2d_of(conv->op, conv->attrs).groups, 2);
    const mf_type *wt = &conv->inputs[1]->type;
    assert_int_equal(wt->shape[0], 48);
    assert_int_equal(wt->shape[1], 32);
    const mf_node *p = maker(orig, 0);
    const float *w = p->inputs[1]->data->data, *b = p->inputs[2]->data->data;
    const float *w2 = conv->inputs[1]->data->data, *b2 = conv->inputs[2]->data->data;
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < 24; k++) {
            assert_memory_equal(w2 + (s * 24 + k) * 32, w + k * 64 + s * 32, 32 * sizeof(float));
            assert_true(b2[s * 24 + k] == (s ? 0.0f : b[k]));
        }
    mf_graph_destroy(g);
    mf_graph_destroy(orig);
}

static void check_close(mf_tensor **got, mf_tensor **want, double tol)
{
    for (int i = 0; i < NOUT; i++) {
        double d = tsupport_rel_diff(got[i], want[i], 1e-30);
        if (!(d <= tol))
            fail_msg("output %d: relative difference %g", i, d);
    }
}

/* The rewritten graph (reference kernels) computes what the original does, at 2 and 3 slices. */
static void test_same_outputs(void **state)
{
    (void)state;
    mf_graph *g = load();
    mf_tensor *in[4], *want[NOUT], *got[NOUT];
    tsupport_rand_inputs(g, 9, -1, 1, in);
    assert_int_equal(mf_graph_interpret(g, 4, in, NOUT, want), MF_OK);
    for (int parts = 2; parts <= 3; parts++) {
        mf_graph *w = load();
        assert_true(run(w, parts) > 0);
        assert_int_equal(mf_graph_interpret(w, 4, in, NOUT, got), MF_OK);
        check_close(got, want, 1e-5);
        tsupport_free_tensors(NOUT, got);
        mf_graph_destroy(w);
    }
    tsupport_free_tensors(NOUT, want);
    tsupport_free_tensors(4, in);
    mf_graph_destroy(g);
}

/* Compiled at core_number 4 (split-k applies: two threads or more) and at 1 (it does not),
 * fused: the interpreter's outputs within float rounding, 14x14 and 7x7 planes (a tail of
 * lanes on every target) and a residual add in the sum's epilogue. */
static void test_module_outputs(void **state)
{
    (void)state;
    mf_graph *g = load();
    mf_tensor *in[4], *dev[4], *want[NOUT], *got[NOUT];
    tsupport_rand_inputs(g, 11, -1, 1, in);
    assert_int_equal(mf_graph_interpret(g, 4, in, NOUT, want), MF_OK);
    for (int i = 0; i < 4; i++)
        assert_int_equal(mf_tensor_to(in[i], MF_DEVICE_MLU(0), &dev[i]), MF_OK);
    static const int cores[] = {4, 1};
    for (int c = 0; c < 2; c++) {
        mf_module_options o = mf_module_default_options();
        o.core_number = cores[c];
        o.tier = MF_TIER_FULL; /* the compiled kernels, not the generic ones of tier 0 */
        mf_module *m = NULL;
        if (mf_module_create(g, &o, &m) != MF_OK)
            fail_msg("%s", mf_last_error());
        assert_int_equal(mf_module_run(m, 4, dev, NOUT, got), MF_OK);
        mf_tensor *host[NOUT];
        for (int i = 0; i < NOUT; i++)
            assert_int_equal(mf_tensor_to(got[i], MF_DEVICE_CPU, &host[i]), MF_OK);
        check_close(host, want, 1e-5);
        tsupport_free_tensors(NOUT, host);
        tsupport_free_tensors(NOUT, got);
        mf_module_destroy(m);
    }
    tsupport_free_tensors(NOUT, want);
    tsupport_free_tensors(4, dev);
    tsupport_free_tensors(4, in);
    mf_graph_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_which_convs),
        cmocka_unit_test(test_sliced_weights),
        cmocka_unit_test(test_same_outputs),
        cmocka_unit_test(test_module_outputs),
    };
    return cmocka_run_group_tests_name("split_k", tests, NULL, NULL);
}
