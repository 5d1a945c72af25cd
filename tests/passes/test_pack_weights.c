/* test_pack_weights.c — conv2d weights are packed once, when the module's graph is
 * compiled, into the layout of the target's kernel: the compile pipeline leaves the conv
 * reading a new constant holding the packed numbers (computed by the pass, not by a node
 * that would run), its `packed` attribute naming the block; running the pass again packs
 * nothing; the reference interpreter gives the same outputs before and after; and a module
 * built on such a graph (fused and unfused) matches the reference over repeated runs.  The
 * same for a Winograd GEMM's transformed weights (a matmul's constant left operand, packed
 * per [M, K] matrix), and for a qconv2d's int8 weights in quads (AVX2 without VNNI). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "codegen/codegen.h"
#include "ir/ir.h"
#include "module/module.h"
#include "passes/passes.h"
#include "tests/support/pass_graphs.h"
#include "tests/support/compare.h"

/* A 1x1 conv (the GEMM engine) and a strided 3x3 conv (the output-channel engine), with
 * bias and relu, constant weights. */
static const char *const text =
    "graph @packed(%x: f32[1,32,28,28]) {\n"
    "  %w1 = const f32[64,32,1,1] opaque\n"
    "  %b1 = const f32[64] opaque\n"
    "  %w2 = const f32[128,64,3,3] opaque\n"
    "  %b2 = const f32[128] opaque\n"
    "  %c1 = conv2d(%x, %w1, %b1) : f32[1,64,28,28]\n"
    "  %r1 = relu(%c1) : f32[1,64,28,28]\n"
    "  %c2 = conv2d(%r1, %w2, %b2) {stride=[2,2], padding=[1,1]} : f32[1,128,14,14]\n"
    "  %y = relu(%c2) : f32[1,128,14,14]\n"
    "  return %y\n"
    "}\n";

/* A 3x3 conv on a 14x14 plane: Winograd's GEMM, one vector of 16 tiles per row, reads its
 * folded transformed weights as a stream (packed on vector targets). */
static const char *const wino_text =
    "graph @wino(%x: f32[1,64,14,14]) {\n"
    "  %w = const f32[96,64,3,3] opaque\n"
    "  %b = const f32[96] opaque\n"
    "  %c = conv2d(%x, %w, %b) {padding=[1,1]} : f32[1,96,14,14]\n"
    "  %y = relu(%c) : f32[1,96,14,14]\n"
    "  return %y\n"
    "}\n";

/* An int8 3x3 conv on a 7x7 plane whose weights keep their pairs (w_pair_max): on AVX2
 * without VNNI its engine reads them in quads of 16 channels (lower_qconv.c's oc_sweep). */
static const char *const qtext =
    "graph @qpacked(%x: i8[1,256,7,7]) {\n"
    "  %w = const i8[64,256,3,3] opaque\n"
    "  %s = const f32[64] opaque\n"
    "  %b = const f32[64] opaque\n"
    "  %q = qconv2d(%x, %w, %s, %b) {padding=[1,1], x_scale=0.02, y_scale=0.5, min=0, w_pair_max=128} : i8[1,64,7,7]\n"
    "  return %q\n"
    "}\n";

static mf_graph *load_text(const char *src)
{
    return tsupport_parse_filled(src, 7, -0.5f);
}

static mf_graph *load(void)
{
    return load_text(text);
}

static int pipeline(mf_graph *g, const char *passes)
{
    mf_opt_options o = mf_opt_default_options();
    o.passes = passes;
    o.verify = 1;
    mf_opt_result *r = NULL;
    if (mf_graph_optimize(g, &o, &r))
        fail_msg("%s", mf_last_error());
    int changes = 0;
    for (int i = 0; i < mf_opt_result_num_passes(r); i++)
        if (!strcmp(mf_opt_result_pass(r, i)->name, "pack-weights"))
            changes += mf_opt_result_pass(r, i)->changes;
    mf_opt_result_free(r);
    return changes;
}

static void test_compile_pipeline_packs_once(void **state)
{
    mf_graph *g = load(), *orig = load();
    mf_cg_target host; /* what the pipeline packs for: this machine, or MLUFUSE_CPU's */
    assert_int_equal(mf_cg_target_init(mf_cache_default_cpu(NULL), &host), MF_OK);
    int expect = 0;
    for (int i = 0; i < g->nnodes; i++)
        expect += g->nodes[i]->op == MF_OP_CONV2D && mf_cg_conv_weight_block(&host.shape, g->nodes[i]) > 0;
    assert_true(expect >= 1); /* the 1x1 conv at least, on any vector unit */
    assert_int_equal(pipeline(g, MF_COMPILE_PIPELINE), expect);
    int seen = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const mf_node *n = g->nodes[i];
        if (n->op != MF_OP_CONV2D)
            continue;
        int64_t block = mf_conv2d_of(n->op, n->attrs).packed;
        if (!block)
            continue;
        seen++;
        assert_int_equal(block, mf_cg_conv_weight_block(&host.shape, n));
        /* a constant with the packed numbers, computed at compile time */
        const mf_value *w = n->inputs[1];
        assert_true(w->is_const && w->data);
        assert_non_null(strstr(w->name, ".packed"));
        const mf_value *plain = NULL;
        for (int j = 0; j < orig->nvalues; j++)
            if (orig->values[j]->name && !strncmp(orig->values[j]->name, w->name, strlen(orig->values[j]->name)) &&
                w->name[strlen(orig->values[j]->name)] == '.')
                plain = orig->values[j];
        assert_non_null(plain);
        int64_t cout = w->type.shape[0], per = mf_type_numel(&w->type) / cout;
        float *want = malloc(mf_type_nbytes(&w->type));
        mf_conv_weights_pack(plain->data->data, want, cout, per, block);
        assert_memory_equal(w->data->data, want, mf_type_nbytes(&w->type));
        free(want);
    }
    assert_int_equal(seen, expect);
    assert_int_equal(pipeline(g, "pack-weights"), 0); /* packed once: nothing left to pack */
    mf_graph_destroy(g);
    mf_graph_destroy(orig);
}

/* The Winograd GEMM's left operand: a new constant, each [M, K] matrix of the folded
 * transform packed as conv weights of M channels, in the target's block. */
static void test_winograd_gemm_packed(void **state)
{
    mf_graph *g = load_text(wino_text), *plain = load_text(wino_text);
    mf_cg_target host;
    assert_int_equal(mf_cg_target_init(mf_cache_default_cpu(NULL), &host), MF_OK);
    pipeline(plain, "dce,simplify,cse,fold,conv-bn,winograd,fold,simplify,dce"); /* the same, unpacked */
    pipeline(g, MF_COMPILE_PIPELINE);
    const mf_node *mm = NULL, *pm = NULL;
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i]->op == MF_OP_MATMUL)
            mm = g->nodes[i];
    for (int i = 0; i < plain->nnodes; i++)
        if (plain->nodes[i]->op == MF_OP_MATMUL)
            pm = plain->nodes[i];
    if (!mm || !pm) {
        skip(); /* no Winograd on this host's target (MLUFUSE_WINOGRAD=0) */
        return;
    }
    int64_t block = mf_matmul_packed(mm->attrs);
    assert_int_equal(mf_matmul_packed(pm->attrs), 0);
    if (host.shape.lanes >= 4)
        assert_true(block > 0);
    if (block) {
        const mf_value *a = mm->inputs[0], *pa = pm->inputs[0];
        assert_true(a->is_const && a->data && pa->is_const && pa->data);
        assert_non_null(strstr(a->name, ".packed"));
        int64_t m = a->type.shape[1], k = a->type.shape[2];
        assert_int_equal(a->type.shape[0], 36);
        float *want = malloc(mf_type_nbytes(&a->type));
        for (int64_t i = 0; i < 36; i++)
            mf_conv_weights_pack((const float *)pa->data->data + i * m * k, want + i * m * k, m, k, block);
        assert_memory_equal(a->data->data, want, mf_type_nbytes(&a->type));
        free(want);
        assert_int_equal(pipeline(g, "pack-weights"), 0);
    }
    mf_graph_destroy(g);
    mf_graph_destroy(plain);
}

/* The quad layout: quad kq of channel oc at 4 (kq B + oc % B) of its block; a last block
 * narrower than B (20 channels in blocks of 16); unpacking gives the plain bytes back. */
static void test_qconv_quad_layout(void **state)
{
    enum { COUT = 20, PER = 12, B = 16 };
    int8_t plain[COUT * PER], packed[COUT * PER], back[COUT * PER];
    for (int i = 0; i < COUT * PER; i++)
        plain[i] = (int8_t)(i * 7 - 100);
    mf_qconv_weights_pack(plain, packed, COUT, PER, B);
    for (int oc = 0; oc < COUT; oc++)
        for (int k = 0; k < PER; k++) {
            int blk = oc / B, width = oc < B ? B : COUT - B;
            assert_int_equal(packed[blk * B * PER + 4 * ((k / 4) * width + oc % B) + k % 4], plain[oc * PER + k]);
        }
    mf_qconv_weights_unpack(packed, back, COUT, PER, B);
    assert_memory_equal(back, plain, sizeof plain);
}

static mf_node *first_of(mf_graph *g, mf_op op)
{
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i]->op == op)
            return g->nodes[i];
    return NULL;
}

/* The weights of limited pairs: every byte within 63, so no two of a pair sum past 128. */
static mf_graph *load_q(void)
{
    mf_graph *g = load_text(qtext);
    mf_value *w = first_of(g, MF_OP_QCONV2D)->inputs[1];
    int8_t *q = w->data->data;
    for (int64_t i = 0; i < mf_type_numel(&w->type); i++)
        q[i] = (int8_t)(q[i] / 2);
    return g;
}

/* The taps-first order: each channel's [cin_g][taps] bytes transposed, and back. */
static void test_qconv_taps_first_layout(void **state)
{
    enum { COUT = 3, CIN = 5, TAPS = 9 };
    int8_t plain[COUT * CIN * TAPS], taps[COUT * CIN * TAPS], back[COUT * CIN * TAPS];
    for (int i = 0; i < COUT * CIN * TAPS; i++)
        plain[i] = (int8_t)(i * 5 - 60);
    mf_qconv_weights_taps_first(plain, taps, COUT, CIN, TAPS);
    for (int oc = 0; oc < COUT; oc++)
        for (int ic = 0; ic < CIN; ic++)
            for (int t = 0; t < TAPS; t++)
                assert_int_equal(taps[(oc * TAPS + t) * CIN + ic], plain[(oc * CIN + ic) * TAPS + t]);
    mf_qconv_weights_taps_last(taps, back, COUT, CIN, TAPS);
    assert_memory_equal(back, plain, sizeof plain);
}

/* qconv2d: taps first where the target's engine asks (all but vpmaddubsw's), then packed
 * where it asks (the pack-weights pass's new constants holding mf_qconv_weights_taps_first's
 * and mf_qconv_weights_pack's bytes), the interpreter's codes the same byte for byte before
 * and after, and nothing left to do. */
static void test_qconv_weights_packed(void **state)
{
    mf_graph *g = load_q(), *orig = load_q();
    mf_cg_target host;
    assert_int_equal(mf_cg_target_init(mf_cache_default_cpu(NULL), &host), MF_OK);
    int64_t block = mf_cg_conv_weight_block(&host.shape, first_of(g, MF_OP_QCONV2D));
    bool taps = mf_cg_qconv_taps_first(&host.shape, first_of(g, MF_OP_QCONV2D));
    printf("  %s: qconv2d weights %s%s\n", host.cpu, taps ? "taps first, " : "",
           block ? "packed in blocks of 16" : "plain (the target reads them so)");
    assert_int_equal(block, host.shape.ubsw ? 16 : 0); /* AVX2 without VNNI (host or MLUFUSE_CPU) */
    assert_int_equal(taps, !host.shape.ubsw);
    assert_int_equal(pipeline(g, MF_COMPILE_PIPELINE), (block ? 1 : 0) + taps);
    const mf_node *n = first_of(g, MF_OP_QCONV2D);
    assert_int_equal(mf_conv2d_of(n->op, n->attrs).packed, block);
    assert_int_equal(mf_conv2d_of(n->op, n->attrs).taps_first, taps);
    const mf_value *w = n->inputs[1], *pw = first_of(orig, MF_OP_QCONV2D)->inputs[1];
    if (taps) {
        assert_non_null(strstr(w->name, ".taps"));
        int8_t *want = malloc(mf_type_nbytes(&w->type));
        mf_qconv_weights_taps_first(pw->data->data, want, 64, 256, 9);
        assert_memory_equal(w->data->data, want, mf_type_nbytes(&w->type));
        free(want);
        assert_true(mf_attr_int(n->op, n->attrs, "w_pair_max") <= 128); /* bytes within 63: still kept */
    }
    if (block) {
        assert_non_null(strstr(w->name, ".packed"));
        int8_t *want = malloc(mf_type_nbytes(&w->type));
        mf_qconv_weights_pack(pw->data->data, want, 64, 256 * 9, block);
        assert_memory_equal(w->data->data, want, mf_type_nbytes(&w->type));
        free(want);
    }
    mf_tensor *x, *want, *got;
    int8_t xb[256 * 49];
    for (int i = 0; i < 256 * 49; i++)
        xb[i] = (int8_t)((i * 37 + i / 11) % 256 - 128);
    assert_int_equal(mf_tensor_from_data(MF_I8, 4, g->inputs[0]->type.shape, xb, sizeof xb, &x), MF_OK);
    if (mf_graph_interpret(orig, 1, &x, 1, &want) || mf_graph_interpret(g, 1, &x, 1, &got))
        fail_msg("%s", mf_last_error());
    assert_memory_equal(mf_tensor_data(got), mf_tensor_data(want), 64 * 49);
    assert_int_equal(pipeline(g, "pack-weights"), 0);
    mf_tensor_free(x), mf_tensor_free(want), mf_tensor_free(got);
    mf_graph_destroy(g);
    mf_graph_destroy(orig);
}

/* Pairs within w_pair_max = 128 in ONNX's order (tap 0 of channels 0 and 1 is 100, the rest
 * 0: no pair of two) but not taps first (100, 100 side by side): the pass restates the promise as the reordered rows keep it (200), so
 * the graph still verifies, and the codes stay the reference's.  Only where the target
 * asks for the order (not vpmaddubsw's AVX2, which keeps the pairs). */
static void test_taps_first_restates_pairs(void **state)
{
    static const char *const src = "graph @pairs(%x: i8[1,4,5,5]) {\n"
                                   "  %w = const i8[2,4,3,3] opaque\n"
                                   "  %s = const f32[2] opaque\n"
                                   "  %q = qconv2d(%x, %w, %s) {padding=[1,1], x_scale=0.02, y_scale=0.5, w_pair_max=128} : i8[1,2,5,5]\n"
                                   "  return %q\n"
                                   "}\n";
    mf_graph *g = load_text(src), *orig = load_text(src);
    int8_t *w[2] = {first_of(g, MF_OP_QCONV2D)->inputs[1]->data->data, first_of(orig, MF_OP_QCONV2D)->inputs[1]->data->data};
    for (int i = 0; i < 2 * 4 * 9; i++) /* [oc][ic][tap] */
        w[0][i] = w[1][i] = (int8_t)(i % 9 == 0 && i % 36 < 18 ? 100 : 0);
    mf_cg_target host;
    assert_int_equal(mf_cg_target_init(mf_cache_default_cpu(NULL), &host), MF_OK);
    bool taps = mf_cg_qconv_taps_first(&host.shape, first_of(g, MF_OP_QCONV2D));
    pipeline(g, MF_COMPILE_PIPELINE); /* verifies after every pass */
    const mf_node *n = first_of(g, MF_OP_QCONV2D);
    assert_int_equal(mf_conv2d_of(n->op, n->attrs).taps_first, taps);
    assert_int_equal(mf_attr_int(n->op, n->attrs, "w_pair_max"), taps ? 200 : 128);
    mf_tensor *x, *want, *got;
    int8_t xb[4 * 25];
    for (int i = 0; i < 4 * 25; i++)
        xb[i] = (int8_t)((i * 53 + 7) % 256 - 128);
    assert_int_equal(mf_tensor_from_data(MF_I8, 4, g->inputs[0]->type.shape, xb, sizeof xb, &x), MF_OK);
    if (mf_graph_interpret(orig, 1, &x, 1, &want) || mf_graph_interpret(g, 1, &x, 1, &got))
        fail_msg("%s", mf_last_error());
    assert_memory_equal(mf_tensor_data(got), mf_tensor_data(want), 2 * 25);
    mf_tensor_free(x), mf_tensor_free(want), mf_tensor_free(got);
    mf_graph_destroy(g);
    mf_graph_destroy(orig);
}

/* The interpreter (reference kernels, which read packed weights back) before and after;
 * then modules on the original graph, fused and unfused, three runs each. */
static void runs_as_reference(const char *src)
{
    mf_graph *g = load_text(src);
    mf_tensor *x, *want, *got;
    assert_int_equal(mf_tensor_rand(MF_F32, 4, g->inputs[0]->type.shape, 3, -1, 1, MF_DEVICE_CPU, &x), MF_OK);
    if (mf_graph_interpret(g, 1, &x, 1, &want))
        fail_msg("%s", mf_last_error());
    mf_graph *p = load_text(src);
    pipeline(p, MF_COMPILE_PIPELINE);
    if (mf_graph_interpret(p, 1, &x, 1, &got))
        fail_msg("%s", mf_last_error());
    double d = tsupport_rel_diff(got, want, 1e-6);
    if (!(d <= 1e-5))
        fail_msg("interpreter on the packed graph: %g relative", d);
    mf_tensor_free(got);
    mf_graph_destroy(p);
    for (int fusion = 0; fusion <= 1; fusion++) {
        mf_module_options o = mf_module_default_options();
        o.fusion = fusion;
        mf_module *m;
        mf_tensor *xd, *gd;
        if (mf_module_create(g, &o, &m) || mf_tensor_to(x, o.device, &xd))
            fail_msg("%s", mf_last_error());
        for (int run = 0; run < 3; run++) {
            if (mf_module_run(m, 1, &xd, 1, &gd) || mf_tensor_to(gd, MF_DEVICE_CPU, &got))
                fail_msg("%s", mf_last_error());
            mf_tensor_free(gd);
            d = tsupport_rel_diff(got, want, 1e-6);
            if (!(d <= 3e-3))
                fail_msg("module (fusion %d), run %d: %g relative", fusion, run, d);
            mf_tensor_free(got);
        }
        mf_tensor_free(xd);
        mf_module_destroy(m);
    }
    mf_tensor_free(want);
    mf_tensor_free(x);
    mf_graph_destroy(g);
}

static void test_packed_graph_runs_as_reference(void **state)
{
    runs_as_reference(text);
}

static void test_winograd_packed_graph_runs_as_reference(void **state)
{
    runs_as_reference(wino_text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compile_pipeline_packs_once),
        cmocka_unit_test(test_qconv_quad_layout),
        cmocka_unit_test(test_qconv_taps_first_layout),
        cmocka_unit_test(test_qconv_weights_packed),
        cmocka_unit_test(test_taps_first_restates_pairs),
        cmocka_unit_test(test_packed_graph_runs_as_reference),
        cmocka_unit_test(test_winograd_gemm_packed),
        cmocka_unit_test(test_winograd_packed_graph_runs_as_reference),
    };
    return cmocka_run_group_tests_name("pack_weights", tests, NULL, NULL);
}
