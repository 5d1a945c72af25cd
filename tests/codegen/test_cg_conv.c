/* test_cg_conv.c — compiled conv2d against the reference: a sweep over sizes, strides,
 * paddings, dilations, groups (depthwise too) and bias, and the fused epilogues the fusion
 * pass produces (bias + batch norm + relu, residual add + relu, several outputs). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cg_check.h"

typedef struct conv_case {
    int64_t n, cin, h, w, cout, kh, kw, s, p, d, groups;
    bool bias;
} conv_case;

static mf_value *conv(mf_graph *g, const conv_case *k, mf_value *x, mf_value **w_out)
{
    mf_type wt = {MF_F32, 4, {k->cout, k->cin / k->groups, k->kh, k->kw}};
    mf_value *in[3] = {x, cg_in(g, "w", wt), NULL};
    if (k->bias)
        in[2] = cg_in(g, "b", (mf_type){MF_F32, 1, {k->cout}});
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CONV2D, a);
    TREF_INTS(MF_OP_CONV2D, a, "stride", k->s, k->s);
    TREF_INTS(MF_OP_CONV2D, a, "padding", k->p, k->kw > 1 ? k->p : 0);
    TREF_INTS(MF_OP_CONV2D, a, "dilation", k->d, k->d);
    tref_set_int(MF_OP_CONV2D, a, "groups", k->groups);
    if (w_out)
        *w_out = in[1];
    return cg_node(g, MF_OP_CONV2D, k->bias ? 3 : 2, in, a);
}

static const cg_opts tol = {.lo = -1, .hi = 1, .rtol = 1e-4, .atol = 2e-4};

static void test_conv_sweep(void **state)
{
    static const conv_case cases[] = {
        {1, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1, true},     {2, 5, 9, 13, 7, 3, 3, 1, 0, 1, 1, false},
        {1, 8, 20, 37, 16, 1, 1, 1, 0, 1, 1, true},  {1, 6, 17, 17, 10, 3, 3, 2, 1, 1, 1, true},
        {1, 4, 15, 19, 6, 5, 5, 1, 2, 1, 1, false},  {1, 8, 12, 12, 8, 3, 3, 1, 2, 2, 1, true},
        {1, 8, 14, 14, 8, 3, 3, 1, 1, 1, 8, true},   {2, 12, 11, 23, 12, 3, 3, 2, 1, 1, 12, false},
        {1, 8, 10, 10, 12, 3, 3, 1, 1, 1, 4, true},  {1, 3, 23, 23, 5, 7, 7, 2, 3, 1, 1, true},
        {1, 16, 7, 7, 33, 1, 1, 1, 0, 1, 1, true},   {1, 4, 40, 70, 3, 3, 3, 3, 1, 1, 1, true},
        {1, 2, 6, 40, 3, 2, 4, 1, 1, 1, 1, false},   {1, 4, 8, 8, 4, 3, 1, 1, 1, 3, 2, true},
        /* the output-channel engine: narrow or strided outputs with >= 16 channels */
        {1, 32, 9, 9, 40, 3, 3, 2, 1, 1, 1, true},   {1, 64, 7, 7, 64, 3, 3, 1, 1, 1, 1, true},
        {1, 200, 5, 5, 48, 3, 3, 1, 1, 1, 1, false}, {2, 64, 12, 12, 64, 3, 3, 2, 1, 1, 2, true},
        {1, 40, 14, 14, 24, 1, 1, 2, 0, 1, 1, true}, {1, 16, 20, 20, 32, 3, 3, 2, 2, 2, 1, true},
        {1, 3, 30, 30, 16, 7, 7, 2, 3, 1, 1, true},  {1, 24, 56, 56, 17, 3, 3, 2, 1, 1, 1, false},
        {3, 96, 4, 4, 160, 3, 3, 1, 1, 1, 1, true},  {1, 512, 3, 3, 33, 3, 3, 1, 1, 1, 1, true},
        {1, 160, 7, 7, 96, 1, 1, 1, 0, 1, 1, true},  /* 1x1 on a 7x7 plane, vectors of channels */
        /* the GEMM engine over several pixel chunks (57 or 113 tiles: chunks made equal) */
        {1, 64, 60, 60, 24, 1, 1, 1, 0, 1, 1, true},
        /* the plane engine (stride 1, output as wide as the input, narrower than 16):
         * 5x5 kernel, dilation, a last tile of 3 vectors (15x15), 3 vectors in all (6x6),
         * a channel tail (40 = 2 blocks of 20), depthwise, a 3x1 kernel */
        {1, 24, 7, 7, 40, 3, 3, 1, 1, 1, 1, true},    {1, 8, 9, 9, 8, 5, 5, 1, 2, 1, 1, false},
        {1, 6, 11, 11, 10, 3, 3, 1, 2, 2, 1, true},   {2, 16, 15, 15, 24, 3, 3, 1, 1, 1, 2, true},
        {1, 32, 6, 6, 7, 1, 1, 1, 0, 1, 1, true},     {1, 12, 14, 14, 12, 3, 3, 1, 1, 1, 12, false},
        {1, 8, 10, 9, 5, 3, 1, 1, 1, 1, 1, true},
        /* strided pixel engine (masked strided loads at the borders): depthwise, stride 4 */
        {1, 16, 33, 70, 16, 3, 3, 2, 1, 1, 16, true}, {1, 3, 19, 45, 5, 5, 5, 4, 2, 1, 1, true},
        {1, 3, 41, 150, 8, 7, 7, 2, 3, 1, 1, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const conv_case *k = &cases[i];
        mf_graph *g = mf_graph_new("conv");
        mf_value *x = cg_in(g, "x", (mf_type){MF_F32, 4, {k->n, k->cin, k->h, k->w}});
        mf_value *y = conv(g, k, x, NULL);
        assert_int_equal(mf_graph_set_outputs(g, 1, &y), MF_OK);
        cg_opts o = tol;
        o.seed = i;
        cg_check_opts(g, o);
        mf_graph_destroy(g);
    }
}

/* conv + bias + batch_norm + relu, as the fusion pass leaves it without conv-bn folding. */
static void test_conv_bn_relu(void **state)
{
    conv_case k = {1, 8, 16, 16, 24, 3, 3, 1, 1, 1, 1, true};
    mf_graph *g = mf_graph_new("cbr");
    mf_value *x = cg_in(g, "x", (mf_type){MF_F32, 4, {1, 8, 16, 16}});
    mf_value *y = conv(g, &k, x, NULL);
    mf_type ct = {MF_F32, 1, {24}};
    mf_value *bn[5] = {y, cg_in(g, "bw", ct), cg_in(g, "bb", ct), cg_in(g, "bm", ct),
                       cg_in(g, "bv", ct)};
    mf_value *z = CG1(g, MF_OP_RELU, cg_node(g, MF_OP_BATCH_NORM, 5, bn, NULL));
    assert_int_equal(mf_graph_set_outputs(g, 2, (mf_value *[]){z, y}), MF_OK);
    cg_opts o = tol;
    o.lo = 0.05; /* variances must be positive */
    cg_check_opts(g, o);
    mf_graph_destroy(g);
}

static void test_conv_residual(void **state)
{
    conv_case k = {2, 16, 10, 21, 16, 3, 3, 1, 1, 1, 1, false};
    mf_graph *g = mf_graph_new("res");
    mf_value *x = cg_in(g, "x", (mf_type){MF_F32, 4, {2, 16, 10, 21}});
    mf_value *y = conv(g, &k, x, NULL);
    mf_value *r = cg_in(g, "r", (mf_type){MF_F32, 4, {2, 16, 10, 21}});
    mf_value *cb = cg_in(g, "cb", (mf_type){MF_F32, 3, {16, 1, 1}});
    mf_value *z = CG1(g, MF_OP_RELU, CG2(g, MF_OP_ADD, CG2(g, MF_OP_MUL, y, cb), r));
    assert_int_equal(mf_graph_set_outputs(g, 1, &z), MF_OK);
    cg_check_opts(g, tol);
    mf_graph_destroy(g);
}

/* conv * per-channel scale + residual, relu, with the conv itself as a second output. */
static void check_residual(const conv_case *k)
{
    int64_t oh = (k->h + 2 * k->p - k->d * (k->kh - 1) - 1) / k->s + 1;
    int64_t ow = (k->w + 2 * k->p - k->d * (k->kw - 1) - 1) / k->s + 1;
    mf_graph *g = mf_graph_new("res");
    mf_value *x = cg_in(g, "x", (mf_type){MF_F32, 4, {k->n, k->cin, k->h, k->w}});
    mf_value *y = conv(g, k, x, NULL);
    mf_value *r = cg_in(g, "r", (mf_type){MF_F32, 4, {k->n, k->cout, oh, ow}});
    mf_value *cb = cg_in(g, "cb", (mf_type){MF_F32, 3, {k->cout, 1, 1}});
    mf_value *z = CG1(g, MF_OP_RELU, CG2(g, MF_OP_ADD, CG2(g, MF_OP_MUL, y, cb), r));
    assert_int_equal(mf_graph_set_outputs(g, 2, (mf_value *[]){z, y}), MF_OK);
    cg_check_opts(g, tol);
    mf_graph_destroy(g);
}

/* The output-channel engine (stride 2, 7x7 output); channels not a multiple of 16. */
static void test_conv_oc_residual(void **state)
{
    check_residual(&(conv_case){2, 32, 14, 14, 40, 3, 3, 2, 1, 1, 1, true});
}

/* The plane engine (7x7, stride 1), batch 2, a channel count that leaves a tail block. */
static void test_conv_plane_residual(void **state)
{
    check_residual(&(conv_case){2, 48, 7, 7, 52, 3, 3, 1, 1, 1, 1, true});
}

/* The big layer of the benchmark, once, with a sigmoid epilogue (hardswish-like). */
static void test_conv_64(void **state)
{
    conv_case k = {1, 64, 28, 28, 64, 3, 3, 1, 1, 1, 1, true};
    mf_graph *g = mf_graph_new("c64");
    mf_value *x = cg_in(g, "x", (mf_type){MF_F32, 4, {1, 64, 28, 28}});
    mf_value *y = conv(g, &k, x, NULL);
    mf_value *z = CG2(g, MF_OP_MUL, y, CG1(g, MF_OP_SIGMOID, y));
    assert_int_equal(mf_graph_set_outputs(g, 1, &z), MF_OK);
    cg_check_opts(g, tol);
    mf_graph_destroy(g);
}

/* relu(conv(x)) for case k on an input of k's shape, as a graph of its own. */
static mf_graph *relu_conv_graph(const conv_case *k)
{
    mf_graph *g = mf_graph_new("asm");
    mf_value *x = cg_in(g, "x", (mf_type){MF_F32, 4, {k->n, k->cin, k->h, k->w}});
    mf_value *y = CG1(g, MF_OP_RELU, conv(g, k, x, NULL));
    mf_graph_set_outputs(g, 1, &y);
    return g;
}

/* The assembly of g compiled for the named cpu (never the host's); the caller frees it. */
static char *asm_for(mf_graph *g, const char *cpu)
{
    mf_cg_target t;
    assert_int_equal(mf_cg_target_init(cpu, &t), MF_OK);
    mf_cg_options o = {&t, 3, 1};
    char *text = NULL;
    assert_int_equal(mf_cg_compile_asm(g, &o, &text), MF_OK);
    return text;
}

/* FMA code in the registers of the named target (never the host's): zmm for AVX-512,
 * ymm and no zmm for AVX2, xmm only (and no FMA) for baseline x86-64. */
static void test_conv_asm(void **state)
{
    static const struct { const char *cpu, *has, *not1, *not2; bool fma; } cases[] = {
        {"skylake-avx512", "zmm", NULL, NULL, true},
        {"haswell", "ymm", "zmm", NULL, true},
        {"x86-64", "xmm", "ymm", "zmm", false},
    };
    mf_graph *g = relu_conv_graph(&(conv_case){1, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1, true});
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = asm_for(g, cases[i].cpu);
        assert_non_null(strstr(text, cases[i].has));
        assert_true(!cases[i].not1 || !strstr(text, cases[i].not1));
        assert_true(!cases[i].not2 || !strstr(text, cases[i].not2));
        assert_true(cases[i].fma == (strstr(text, "vfmadd") != NULL));
        free(text);
    }
    mf_graph_destroy(g);
}

/* The output-channel engine stores rows of pixels, not vectors of channels: a stride-2
 * first layer (3 -> 32, 27 taps a sum) compiles without scatters for each target. */
static void test_conv_oc_stores_rows(void **state)
{
    static const char *const cpus[] = {"skylake-avx512", "haswell", "x86-64"};
    mf_graph *g = relu_conv_graph(&(conv_case){1, 3, 224, 224, 32, 3, 3, 2, 1, 1, 1, true});
    for (size_t i = 0; i < sizeof cpus / sizeof cpus[0]; i++) {
        char *text = asm_for(g, cpus[i]);
        assert_null(strstr(text, "scatter"));
        free(text);
    }
    mf_graph_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_sweep),    cmocka_unit_test(test_conv_bn_relu),
        cmocka_unit_test(test_conv_residual), cmocka_unit_test(test_conv_oc_residual),
        cmocka_unit_test(test_conv_plane_residual), cmocka_unit_test(test_conv_64),
        cmocka_unit_test(test_conv_asm),      cmocka_unit_test(test_conv_oc_stores_rows),
    };
    return cmocka_run_group_tests_name("codegen_conv", tests, NULL, NULL);
}
