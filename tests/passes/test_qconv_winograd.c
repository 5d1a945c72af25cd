/* test_qconv_winograd.c — the qconv-winograd pass: which int8 convolutions it turns into
 * dequantize -> conv2d -> (clamp) -> quantize (those whose f32 twin the winograd pass takes,
 * not ConvInteger's i32 sums) and which it leaves; that it asks the target and stays off
 * without one, for targets with VNNI (named LLVM CPUs: no code runs) and with Winograd off;
 * and that the rewritten graph's codes are the int8 reference's within one step (reference
 * kernels through the whole compile pipeline, and compiled modules for haswell and x86-64-v2
 * where the host runs their code). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "module/module.h"
#include "passes/passes.h"
#include "tests/codegen/cg_targets.h"
#include "tests/support/pass_graphs.h"

static const char *const convs =
    "graph @qconvs(%x: f32[1,16,20,20], %s: f32[1,16,7,7]) {\n"
    "  %w = const i8[16,16,3,3] opaque\n"
    "  %ws = const f32[16] opaque\n"
    "  %w1s = const f32[1] opaque\n"
    "  %b = const f32[16] opaque\n"
    "  %wp = const i8[16,16,1,1] opaque\n"
    "  %q = quantize(%x) {scale=0.02, zero_point=-3} : i8[1,16,20,20]\n"
    "  %qs = quantize(%s) {scale=0.02, zero_point=-3} : i8[1,16,7,7]\n"
    "  %relu = qconv2d(%q, %w, %ws, %b) {padding=[1,1], x_scale=0.02, x_zero_point=-3, y_scale=0.05, y_zero_point=-128, min=0} : i8[1,16,20,20]\n"
    "  %plain = qconv2d(%q, %w, %w1s) {x_scale=0.02, x_zero_point=-3, y_scale=0.04, y_zero_point=5} : i8[1,16,18,18]\n"
    "  %six = qconv2d(%relu, %w, %ws, %b) {padding=[1,1], x_scale=0.05, x_zero_point=-128, y_scale=0.03, y_zero_point=-128, min=0, max=6} : i8[1,16,20,20]\n"
    "  %strided = qconv2d(%q, %w, %ws, %b) {stride=[2,2], padding=[1,1], x_scale=0.02, x_zero_point=-3, y_scale=0.05} : i8[1,16,10,10]\n"
    "  %small = qconv2d(%qs, %w, %ws, %b) {padding=[1,1], x_scale=0.02, x_zero_point=-3, y_scale=0.05} : i8[1,16,7,7]\n"
    "  %pointwise = qconv2d(%q, %wp, %ws) {x_scale=0.02, x_zero_point=-3, y_scale=0.05} : i8[1,16,20,20]\n"
    "  %sums = qconv2d(%q, %w, %ws) {padding=[1,1], x_scale=0.02, x_zero_point=-3, y_scale=1, acc=1} : i32[1,16,20,20]\n"
    "  return %relu, %plain, %six, %strided, %small, %pointwise, %sums\n"
    "}\n";

/* Parses convs with weights in -127..127, scales in [0.001, 0.003), biases in [-0.5, 0.5). */
static mf_graph *load(void)
{
    mf_graph *g = tsupport_parse_filled(convs, 777, -0.5f);
    for (int i = 0; i < g->nvalues; i++) {
        mf_value *v = g->values[i];
        if (v->is_const && v->type.rank == 1 && v->name && v->name[0] == 'w') /* the scales */
            for (int64_t k = 0; k < mf_type_numel(&v->type); k++)
                ((float *)v->data->data)[k] = 0.001f + 0.002f * (((float *)v->data->data)[k] + 0.5f);
    }
    return g;
}

/* The op that makes graph output i. */
static mf_op producer_of(const mf_graph *g, int i)
{
    return g->outputs[i]->producer->op;
}

static bool answer_yes(void *target)
{
    (void)target;
    return true;
}

static bool answer_no(void *target)
{
    (void)target;
    return false;
}

/* Runs passes with the target's answer; returns the first pass's changes. */
static int run(mf_graph *g, const char *passes, bool winograd, bool (*prefers)(void *))
{
    mf_pass_ctx ctx = mf_pass_ctx_default();
    ctx.winograd = winograd;
    ctx.lanes = 8;
    ctx.qconv_prefers_winograd = prefers;
    return tsupport_run_passes(g, passes, &ctx);
}

static void test_which_convs(void **state)
{
    (void)state;
    mf_graph *g = load();
    assert_int_equal(run(g, "qconv-winograd", true, answer_yes), 3);
    /* relu, plain (no padding, one scale), six (relu6) become f32 convs between a dequantize
     * and a quantize; the clamp only where min or max is finite */
    for (int i = 0; i < 3; i++) {
        const mf_node *q = g->outputs[i]->producer, *c = q->inputs[0]->producer;
        assert_int_equal(q->op, MF_OP_QUANTIZE);
        assert_int_equal(c->op, i == 1 ? MF_OP_CONV2D : MF_OP_CLAMP);
        const mf_node *conv = i == 1 ? c : c->inputs[0]->producer;
        assert_int_equal(conv->op, MF_OP_CONV2D);
        assert_int_equal(conv->inputs[0]->producer->op, MF_OP_DEQUANTIZE);
        assert_true(conv->inputs[1]->is_const && conv->inputs[1]->data && conv->inputs[1]->type.dtype == MF_F32);
        assert_true(mf_winograd_applies(conv, 1));
    }
    /* relu and plain share one dequantize of %q; relu and six one copy of w * ws */
    int dequantizes = 0;
    for (int i = 0; i < g->nnodes; i++)
        dequantizes += g->nodes[i]->op == MF_OP_DEQUANTIZE;
    assert_int_equal(dequantizes, 2);
    const mf_node *six = g->outputs[2]->producer->inputs[0]->producer;
    assert_ptr_equal(six->inputs[0]->producer->inputs[1], g->outputs[0]->producer->inputs[0]->producer->inputs[0]->producer->inputs[1]);
    assert_ptr_not_equal(g->outputs[1]->producer->inputs[0]->producer->inputs[1], six->inputs[0]->producer->inputs[1]);
    assert_true(mf_attr_float(six->op, six->attrs, "min") == 0 && mf_attr_float(six->op, six->attrs, "max") == 6);
    /* strided, a 7x7 plane, 1x1, and i32 sums stay int8 */
    for (int i = 3; i < 7; i++)
        assert_int_equal(producer_of(g, i), MF_OP_QCONV2D);
    mf_graph_destroy(g);

    g = load(); /* a target with fast int8 products, Winograd off, no target: nothing */
    assert_int_equal(run(g, "qconv-winograd", true, answer_no), 0);
    assert_int_equal(run(g, "qconv-winograd", false, answer_yes), 0);
    assert_int_equal(run(g, "qconv-winograd", true, NULL), 0);
    mf_graph_destroy(g);
}

/* The module's pipeline asks the target it compiles for: haswell and x86-64-v2 (no VNNI)
 * take the rewrite, cascadelake and alderlake (VNNI, AVX-VNNI) keep int8, unless
 * MLUFUSE_QCONV_WINOGRAD says otherwise; --explain names the layers it rewrote.  Only passes
 * run. */
/* The qconv2d left after the compile pipeline for cpu, with env as MLUFUSE_QCONV_WINOGRAD
 * (NULL: unset). */
static int qconvs_left(const char *cpu, const char *env)
{
    if (env)
        setenv("MLUFUSE_QCONV_WINOGRAD", env, 1);
    mf_graph *g = load();
    mf_opt_options o = mf_opt_default_options();
    o.cpu = cpu;
    o.winograd = 1;
    mf_status s = mf_graph_optimize(g, &o, NULL);
    unsetenv("MLUFUSE_QCONV_WINOGRAD");
    if (s)
        fail_msg("%s: %s", cpu, mf_last_error());
    int qconvs = 0;
    for (int k = 0; k < g->nnodes; k++)
        qconvs += g->nodes[k]->op == MF_OP_QCONV2D;
    mf_graph_destroy(g);
    return qconvs;
}

static void test_targets(void **state)
{
    (void)state;
    /* env NULL: the target decides; "1" rewrites for cascadelake too, "0" for none */
    static const struct {
        const char *cpu, *env;
        int qconvs;
    } cases[] = {{"haswell", NULL, 4},    {"x86-64-v2", NULL, 4}, {"cascadelake", NULL, 7},
                 {"alderlake", NULL, 7}, {"cascadelake", "1", 4}, {"haswell", "0", 7}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int qconvs = qconvs_left(cases[i].cpu, cases[i].env);
        if (qconvs != cases[i].qconvs)
            fail_msg("%s (MLUFUSE_QCONV_WINOGRAD %s): %d qconv2d left, expected %d", cases[i].cpu,
                     cases[i].env ? cases[i].env : "unset", qconvs, cases[i].qconvs);
    }
    /* --explain names them */
    mf_graph *g = load();
    mf_opt_options o = mf_opt_default_options();
    o.cpu = "haswell";
    o.winograd = 1;
    mf_opt_result *r = NULL;
    if (mf_graph_optimize(g, &o, &r))
        fail_msg("%s", mf_last_error());
    const char *text = mf_opt_result_explain(r);
    if (!strstr(text, "int8 layers: 7\n") ||
        !strstr(text, "  f32 Winograd: qconv2d %six: 3x3 stride 1 on a target without 8-bit dot products"))
        fail_msg("explain:\n%s", text);
    mf_opt_result_free(r);
    mf_graph_destroy(g);
}

/* The codes of interpret's outputs 0..2 (the rewritten layers) against the reference's:
 * at most one step apart, under 1 % apart, and not all one code. */
static void check_codes(const char *what, mf_tensor *const *got, mf_tensor *const *want)
{
    for (int i = 0; i < 3; i++) {
        mf_tensor *a, *b;
        assert_int_equal(mf_tensor_to(got[i], MF_DEVICE_CPU, &a), MF_OK);
        assert_int_equal(mf_tensor_to(want[i], MF_DEVICE_CPU, &b), MF_OK);
        const int8_t *p = mf_tensor_data(a), *q = mf_tensor_data(b);
        int64_t n = mf_tensor_numel(a), differ = 0, spread = 0;
        for (int64_t k = 0; k < n; k++) {
            int d = abs(p[k] - q[k]);
            differ += d != 0;
            spread += q[k] != q[0];
            if (d > 1)
                fail_msg("%s: output %d, code %lld: %d against %d", what, i, (long long)k, p[k], q[k]);
        }
        if (differ * 100 > n || !spread) /* rounding ties only; and not all one code */
            fail_msg("%s: output %d: %lld of %lld codes differ (spread %lld)", what, i, (long long)differ,
                     (long long)n, (long long)spread);
        mf_tensor_free(a);
        mf_tensor_free(b);
    }
}

/* Through the compile pipeline (Winograd, folded transforms, reference kernels) the codes
 * are the int8 reference's within one step, and most are equal. */
static void test_same_codes(void **state)
{
    (void)state;
    mf_graph *g = load(), *w = load();
    run(w, MF_COMPILE_PIPELINE, true, answer_yes);
    mf_tensor *in[2], *want[7], *got[7];
    tsupport_rand_inputs(g, 3, -2, 2, in);
    assert_int_equal(mf_graph_interpret(g, 2, in, 7, want), MF_OK);
    assert_int_equal(mf_graph_interpret(w, 2, in, 7, got), MF_OK);
    check_codes("reference kernels", got, want);
    tsupport_free_tensors(7, got);
    tsupport_free_tensors(7, want);
    tsupport_free_tensors(2, in);
    mf_graph_destroy(g);
    mf_graph_destroy(w);
}

/* Compiled for haswell and x86-64-v2 (the fused Winograd kernels with the requantization in
 * their epilogue), where this host runs their code: the codes as above. */
static void test_compiled_codes(void **state)
{
    (void)state;
    mf_cg_target host;
    assert_int_equal(mf_cg_target_init(NULL, &host), MF_OK);
    mf_graph *g = load();
    mf_tensor *in[2], *want[7];
    tsupport_rand_inputs(g, 5, -2, 2, in);
    assert_int_equal(mf_graph_interpret(g, 2, in, 7, want), MF_OK);
    int ran = 0, skipped = 0;
    for (int t = 0; t < 2; t++) {
        if (!host_runs(&host, &targets[t])) { /* x86-64-v2, haswell */
            printf("  %s: not run (this host cannot execute its code)\n", targets[t].cpu);
            skipped++;
            continue;
        }
        mf_module_options o = mf_module_default_options();
        o.cpu = targets[t].cpu;
        o.winograd = 1;
        o.tier = MF_TIER_FULL;
        mf_module *m = NULL;
        mf_tensor *dev[2], *got[7];
        for (int i = 0; i < 2; i++)
            assert_int_equal(mf_tensor_to(in[i], o.device, &dev[i]), MF_OK);
        if (mf_module_create(g, &o, &m) || mf_module_run(m, 2, dev, 7, got))
            fail_msg("%s: %s", targets[t].cpu, mf_last_error());
        check_codes(targets[t].cpu, got, want);
        tsupport_free_tensors(7, got);
        tsupport_free_tensors(2, dev);
        mf_module_destroy(m);
        ran++;
    }
    printf("  compiled codes within one step of the reference on %d targets; %d skipped\n", ran, skipped);
    tsupport_free_tensors(7, want);
    tsupport_free_tensors(2, in);
    mf_graph_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_which_convs),
        cmocka_unit_test(test_targets),
        cmocka_unit_test(test_same_codes),
        cmocka_unit_test(test_compiled_codes),
    };
    return cmocka_run_group_tests_name("qconv_winograd", tests, NULL, NULL);
}
