/* test_winograd_pass.c — which convolutions the winograd pass rewrites (3x3, stride 1,
 * dilation 1, groups 1, constant weights, 8+ channels, an 8x8 plane or more) and which it
 * leaves (level 2 past the size limit too), and the layout it picks for the target's lanes; that the fold after it turns every weight transform into a
 * constant, also past the 1 MiB folding limit; that the switch turns it off; and that the
 * rewritten graph computes the same as the direct convolutions (reference kernels, 0.3 %). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "module/module.h"
#include "passes/passes.h"
#include "tests/support/compare.h"
#include "tests/support/pass_graphs.h"

static const char *const convs =
    "graph @convs(%x: f32[1,16,20,20], %y: f32[1,4,20,20], %s: f32[1,16,8,8], %wv: f32[16,16,3,3],\n"
    "             %z: f32[1,512,8,8]) {\n"
    "  %w = const f32[16,16,3,3] opaque\n"
    "  %b = const f32[16] opaque\n"
    "  %wb = const f32[128,16,3,3] opaque\n"
    "  %w4 = const f32[4,4,3,3] opaque\n"
    "  %w1 = const f32[16,16,1,1] opaque\n"
    "  %wg = const f32[16,8,3,3] opaque\n"
    "  %wh = const f32[1024,512,3,3] opaque\n"
    "  %a = conv2d(%x, %w, %b) {padding=[1,1]} : f32[1,16,20,20]\n"
    "  %r = relu(%a) : f32[1,16,20,20]\n"
    "  %big = conv2d(%x, %wb) {padding=[1,1]} : f32[1,128,20,20]\n"
    "  %nopad = conv2d(%x, %w) : f32[1,16,18,18]\n"
    "  %small = conv2d(%s, %w) {padding=[1,1]} : f32[1,16,8,8]\n"
    "  %strided = conv2d(%x, %w, %b) {stride=[2,2], padding=[1,1]} : f32[1,16,10,10]\n"
    "  %dilated = conv2d(%x, %w) {padding=[2,2], dilation=[2,2]} : f32[1,16,20,20]\n"
    "  %grouped = conv2d(%x, %wg) {padding=[1,1], groups=2} : f32[1,16,20,20]\n"
    "  %pointwise = conv2d(%x, %w1) : f32[1,16,20,20]\n"
    "  %thin = conv2d(%y, %w4) {padding=[1,1]} : f32[1,4,20,20]\n"
    "  %varying = conv2d(%x, %wv) {padding=[1,1]} : f32[1,16,20,20]\n"
    "  %huge = conv2d(%z, %wh) {padding=[1,1]} : f32[1,1024,8,8]\n"
    "  return %r, %big, %nopad, %small, %strided, %dilated, %grouped, %pointwise, %thin, %varying, %huge\n"
    "}\n";

/* Parses convs with every opaque constant filled with seeded values in [-0.5, 0.5). */
static mf_graph *load(void)
{
    return tsupport_parse_filled(convs, 12345, -0.5f);
}

/* The node that makes the graph output named `name`. */
static const mf_node *node_of(const mf_graph *g, const char *name)
{
    for (int i = 0; i < g->noutputs; i++) {
        const mf_value *v = g->outputs[i];
        if (v->producer && v->producer->op == MF_OP_RELU)
            v = v->producer->inputs[0];
        if (v->name && !strcmp(v->name, name))
            return v->producer;
    }
    fail_msg("no output %s", name);
    return NULL;
}

static mf_op producer_of(const mf_graph *g, const char *name)
{
    return node_of(g, name)->op;
}

static int64_t channels_last(const mf_graph *g, const char *name)
{
    const mf_node *n = node_of(g, name);
    return mf_attr_int(n->op, n->attrs, "channels_last");
}

static int run(mf_graph *g, const char *passes, int level, int lanes)
{
    mf_pass_ctx ctx = mf_pass_ctx_default();
    ctx.winograd = level;
    ctx.lanes = lanes;
    return tsupport_run_passes(g, passes, &ctx);
}

static void test_which_convs(void **state)
{
    mf_graph *g = load();
    assert_int_equal(run(g, "winograd", 1, 16), 4);
    static const char *const yes[] = {"a", "big", "nopad", "small"};
    static const char *const no[] = {"strided", "dilated", "grouped", "pointwise", "thin", "varying", "huge"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        if (producer_of(g, yes[i]) != MF_OP_WINOGRAD_OUTPUT)
            fail_msg("%s was not rewritten", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        if (producer_of(g, no[i]) != MF_OP_CONV2D)
            fail_msg("%s was rewritten", no[i]);
    /* 25 tiles of the 20x20 plane fill 16 lanes; the 4 of the 8x8 plane fill 4, not 16 */
    assert_int_equal(channels_last(g, "a"), 0);
    assert_int_equal(channels_last(g, "small"), 1);
    mf_graph_destroy(g);
    g = load();
    assert_int_equal(run(g, "winograd", 1, 4), 4);
    assert_int_equal(channels_last(g, "a"), 0);
    assert_int_equal(channels_last(g, "small"), 0);
    mf_graph_destroy(g);

    g = load();
    assert_int_equal(run(g, "winograd", 0, 16), 0);
    mf_graph_destroy(g);

    /* level 2 (MLUFUSE_WINOGRAD=2) lifts the limit on the transformed weights' size: the
     * 1024x512 conv (75.5 MB of them) goes too, and nothing else changes */
    g = load();
    assert_int_equal(run(g, "winograd", 2, 16), 5);
    assert_int_equal(producer_of(g, "huge"), MF_OP_WINOGRAD_OUTPUT);
    assert_int_equal(producer_of(g, "strided"), MF_OP_CONV2D);
    mf_graph_destroy(g);
}

/* MLUFUSE_WINOGRAD: 0, 1 or 2 as the pass context's level; anything else an error that names
 * the variable (the module and mf_graph_optimize refuse it); the module option wins over it. */
static void test_level_from_env(void **state)
{
    int level = -1;
    unsetenv("MLUFUSE_WINOGRAD");
    assert_int_equal(mf_pass_winograd_env(&level), MF_OK);
    assert_int_equal(level, 1);
    assert_int_equal(mf_pass_ctx_default().winograd, 1);
    static const char *const good[] = {"0", "1", "2"};
    for (int i = 0; i < 3; i++) {
        setenv("MLUFUSE_WINOGRAD", good[i], 1);
        assert_int_equal(mf_pass_winograd_env(&level), MF_OK);
        assert_int_equal(level, i);
        assert_int_equal(mf_pass_ctx_default().winograd, i);
    }
    static const char *const bad[] = {"3", "-1", "on", "22", "1 "};
    for (int i = 0; i < 5; i++) {
        setenv("MLUFUSE_WINOGRAD", bad[i], 1);
        assert_int_equal(mf_pass_winograd_env(&level), MF_ERR_INVALID);
        assert_non_null(strstr(mf_last_error(), "MLUFUSE_WINOGRAD"));
        mf_graph *g = load();
        assert_int_equal(mf_graph_optimize(g, NULL, NULL), MF_ERR_INVALID);
        mf_opt_options o = mf_opt_default_options();
        o.winograd = 2; /* the option decides: the variable is not read */
        o.passes = "winograd";
        assert_int_equal(mf_graph_optimize(g, &o, NULL), MF_OK);
        assert_int_equal(producer_of(g, "huge"), MF_OP_WINOGRAD_OUTPUT);
        mf_module *m = NULL;
        assert_int_equal(mf_module_create(g, NULL, &m), MF_ERR_INVALID);
        assert_null(m);
        assert_non_null(strstr(mf_last_error(), "MLUFUSE_WINOGRAD"));
        mf_graph_destroy(g);
    }
    unsetenv("MLUFUSE_WINOGRAD");
    mf_module_options mo = mf_module_default_options();
    mo.winograd = 3;
    mf_module *m = NULL;
    mf_graph *one = load();
    assert_int_equal(mf_module_create(one, &mo, &m), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "winograd 3"));
    mf_graph_destroy(one);
    mf_graph *g = load();
    mf_opt_options o = mf_opt_default_options();
    o.winograd = 3;
    assert_int_equal(mf_graph_optimize(g, &o, NULL), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "winograd 3"));
    mf_graph_destroy(g);
}

/* After winograd,fold no weight transform is left: each matmul reads a [36, K, C]
 * constant with data, the 128-channel one 2.4 MB (over the 1 MiB limit). */
static void test_weights_folded(void **state)
{
    mf_graph *g = load();
    run(g, "winograd,fold,dce", 1, 16);
    int matmuls = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const mf_node *n = g->nodes[i];
        assert_int_not_equal(n->op, MF_OP_WINOGRAD_WEIGHT);
        if (n->op != MF_OP_MATMUL)
            continue;
        const mf_value *u = n->inputs[0]->is_const ? n->inputs[0] : n->inputs[1]; /* channels last: second */
        assert_true(u->is_const && u->data);
        assert_int_equal(u->type.shape[0], 36);
        matmuls++;
    }
    assert_int_equal(matmuls, 4);
    mf_graph_destroy(g);
}

/* The rewritten graph (reference kernels of the Winograd ops) equals the direct one. */
static void test_same_outputs(void **state)
{
    mf_graph *g = load(), *w = load();
    run(w, MF_COMPILE_PIPELINE, 1, 16);
    mf_tensor *in[5], *want[11], *got[11];
    tsupport_rand_inputs(g, 7, -1, 1, in);
    assert_int_equal(mf_graph_interpret(g, 5, in, 11, want), MF_OK);
    assert_int_equal(mf_graph_interpret(w, 5, in, 11, got), MF_OK);
    for (int i = 0; i < 11; i++) {
        double d = tsupport_rel_diff(got[i], want[i], 1e-30);
        if (!(d <= 3e-3))
            fail_msg("output %d: relative difference %g", i, d);
    }
    tsupport_free_tensors(11, got);
    tsupport_free_tensors(11, want);
    tsupport_free_tensors(5, in);
    mf_graph_destroy(g);
    mf_graph_destroy(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_which_convs),
        cmocka_unit_test(test_level_from_env),
        cmocka_unit_test(test_weights_folded),
        cmocka_unit_test(test_same_outputs),
    };
    return cmocka_run_group_tests_name("winograd_pass", tests, NULL, NULL);
}
