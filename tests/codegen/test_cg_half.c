/* test_cg_half.c — f16 activations in kernels (codegen/half.c): subgraphs as segmentation
 * builds them for a half model (f16 inputs widened by casts that the engines' loads and the
 * evaluator take, results rounded to f16 by a cast fused into the store), for every engine
 * (conv pixel, output-channel, strided, gathered, depthwise, 1x1 GEMM, plane; Winograd's
 * input transform, both layouts, and the whole chain as one kernel; linear, through a view
 * too; matmul; elementwise with a
 * residual; pools; softmax), compiled for x86-64 (no F16C: LLVM's soft conversion), haswell
 * and skylake-avx512 where the host runs them, and for the host; each within the seed's
 * 0.3 % (max|a - b| / max|b|) of the reference kernels on the same f16 inputs, and equal for
 * 1 and 4 partitions.  The assembly converts with F16C where the target has it, and x86-64's
 * object, whose soft conversions call libgcc, loads offline (runtime/elf_load.c) and gives
 * the JIT's bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_check.h"
#include "cg_targets.h"
#include "runtime/mfo.h"

static mf_value *widened(mf_graph *g, const char *name, mf_type t)
{
    t.dtype = MF_F16;
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CAST, a);
    tref_set_int(MF_OP_CAST, a, "to", MF_F32);
    return cg_node(g, MF_OP_CAST, 1, (mf_value *[]){cg_in(g, name, t)}, a);
}

static mf_value *narrowed(mf_graph *g, mf_value *x)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CAST, a);
    tref_set_int(MF_OP_CAST, a, "to", MF_F16);
    return cg_node(g, MF_OP_CAST, 1, &x, a);
}

static mf_graph *finish(mf_graph *g, mf_value *y)
{
    assert_int_equal(mf_graph_set_outputs(g, 1, &y), MF_OK);
    return g;
}

/* relu(conv(widen(x)) + bias), narrowed: x f16 [1, cin, h, w]. */
static mf_graph *conv_graph(int64_t cin, int64_t h, int64_t w, int64_t cout, int64_t k, int64_t s, int64_t p,
                            int64_t groups)
{
    mf_graph *g = mf_graph_new("conv");
    mf_value *in[3] = {widened(g, "x", (mf_type){MF_F32, 4, {1, cin, h, w}}),
                       cg_in(g, "w", (mf_type){MF_F32, 4, {cout, cin / groups, k, k}}),
                       cg_in(g, "b", (mf_type){MF_F32, 1, {cout}})};
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CONV2D, a);
    TREF_INTS(MF_OP_CONV2D, a, "stride", s, s);
    TREF_INTS(MF_OP_CONV2D, a, "padding", p, p);
    tref_set_int(MF_OP_CONV2D, a, "groups", groups);
    return finish(g, narrowed(g, CG1(g, MF_OP_RELU, cg_node(g, MF_OP_CONV2D, 3, in, a))));
}

/* A residual block's tail: relu(conv(widen(x)) + widen(skip)), narrowed. */
static mf_graph *residual_graph(void)
{
    mf_graph *g = mf_graph_new("residual");
    mf_value *in[2] = {widened(g, "x", (mf_type){MF_F32, 4, {1, 8, 9, 9}}),
                       cg_in(g, "w", (mf_type){MF_F32, 4, {8, 8, 3, 3}})};
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CONV2D, a);
    TREF_INTS(MF_OP_CONV2D, a, "padding", 1, 1);
    mf_value *c = cg_node(g, MF_OP_CONV2D, 2, in, a);
    mf_value *skip = widened(g, "skip", (mf_type){MF_F32, 4, {1, 8, 9, 9}});
    return finish(g, narrowed(g, CG1(g, MF_OP_RELU, CG2(g, MF_OP_ADD, c, skip))));
}

static mf_graph *winograd_graph(int channels_last)
{
    mf_graph *g = mf_graph_new("winograd_input");
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_WINOGRAD_INPUT, a);
    TREF_INTS(MF_OP_WINOGRAD_INPUT, a, "padding", 1, 1);
    tref_set_int(MF_OP_WINOGRAD_INPUT, a, "channels_last", channels_last);
    mf_value *x = widened(g, "x", (mf_type){MF_F32, 4, {1, 11, 13, 10}});
    return finish(g, cg_node(g, MF_OP_WINOGRAD_INPUT, 1, &x, a)); /* f32: the transform's */
}

/* A Winograd chain (ir/winograd_chain.c) as one kernel, its input transform loading the f16
 * activation, its epilogue storing f16. */
static mf_graph *winograd_chain_graph(void)
{
    mf_graph *g = mf_graph_new("winograd_chain");
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_WINOGRAD_INPUT, a);
    TREF_INTS(MF_OP_WINOGRAD_INPUT, a, "padding", 1, 1);
    mf_value *x = widened(g, "x", (mf_type){MF_F32, 4, {1, 11, 13, 10}});
    mf_value *v = cg_node(g, MF_OP_WINOGRAD_INPUT, 1, &x, a);
    mf_value *m =
        cg_node(g, MF_OP_MATMUL, 2,
                (mf_value *[]){cg_in(g, "u", (mf_type){MF_F32, 3, {36, 8, 11}}), v}, NULL);
    mf_op_default_attrs(MF_OP_WINOGRAD_OUTPUT, a);
    assert_int_equal(mf_attr_set_ints(MF_OP_WINOGRAD_OUTPUT, a, "size", 3, (int64_t[]){1, 13, 10}),
                     MF_OK);
    mf_value *b = cg_in(g, "b", (mf_type){MF_F32, 1, {8}});
    mf_value *y = cg_node(g, MF_OP_WINOGRAD_OUTPUT, 2, (mf_value *[]){m, b}, a);
    return finish(g, narrowed(g, CG1(g, MF_OP_RELU, y)));
}

/* linear(view(widen(x))): the view and the cast are both looked through. */
static mf_graph *linear_graph(bool view)
{
    mf_graph *g = mf_graph_new("linear");
    mf_value *x = widened(g, "x", view ? (mf_type){MF_F32, 4, {3, 2, 5, 7}} : (mf_type){MF_F32, 2, {3, 70}});
    if (view) {
        mf_attr a[MF_MAX_ATTRS];
        mf_op_default_attrs(MF_OP_FLATTEN, a);
        x = cg_node(g, MF_OP_FLATTEN, 1, &x, a);
    }
    mf_value *in[3] = {x, cg_in(g, "w", (mf_type){MF_F32, 2, {21, 70}}), cg_in(g, "b", (mf_type){MF_F32, 1, {21}})};
    return finish(g, narrowed(g, cg_node(g, MF_OP_LINEAR, 3, in, NULL)));
}

/* n columns: 19 on the row engine, 150 (8 vectors and more at 16 lanes) on the 1x1 GEMM
 * engine */
static mf_graph *matmul_graph(int64_t n)
{
    mf_graph *g = mf_graph_new("matmul");
    mf_value *a = cg_in(g, "a", (mf_type){MF_F32, 3, {2, 5, 7}});
    mf_value *b = widened(g, "b", (mf_type){MF_F32, 3, {2, 7, n}});
    return finish(g, narrowed(g, CG2(g, MF_OP_MATMUL, a, b)));
}

static mf_graph *eltwise_graph(void)
{
    mf_graph *g = mf_graph_new("eltwise");
    mf_value *x = widened(g, "x", (mf_type){MF_F32, 3, {3, 5, 41}});
    mf_value *y = widened(g, "y", (mf_type){MF_F32, 3, {1, 5, 1}});
    return finish(g, narrowed(g, CG2(g, MF_OP_MUL, CG1(g, MF_OP_SIGMOID, x), y)));
}

static mf_graph *pool_graph(mf_op op)
{
    mf_graph *g = mf_graph_new("pool");
    mf_value *x = widened(g, "x", (mf_type){MF_F32, 4, {1, 6, 17, 15}});
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    if (op == MF_OP_MAX_POOL2D) {
        TREF_INTS(op, a, "kernel", 3, 3);
        TREF_INTS(op, a, "stride", 2, 2);
        TREF_INTS(op, a, "padding", 1, 1);
    } else {
        TREF_INTS(op, a, "output_size", 1, 1);
    }
    return finish(g, narrowed(g, cg_node(g, op, 1, &x, a)));
}

static mf_graph *softmax_graph(void)
{
    mf_graph *g = mf_graph_new("softmax");
    mf_value *x = widened(g, "x", (mf_type){MF_F32, 2, {4, 37}});
    return finish(g, narrowed(g, CG1(g, MF_OP_SOFTMAX, x)));
}

#define NGRAPHS 19
static mf_graph *make_graph(int i)
{
    switch (i) {
    case 0: return conv_graph(8, 20, 37, 16, 3, 1, 1, 1);   /* pixel engine */
    case 1: return conv_graph(16, 14, 14, 32, 3, 2, 1, 1);  /* output channels, stride 2 */
    case 2: return conv_graph(3, 40, 40, 8, 7, 2, 3, 1);    /* a first layer */
    case 3: return conv_graph(4, 23, 23, 6, 5, 5, 0, 1);    /* stride 5: gathered */
    case 4: return conv_graph(32, 15, 15, 32, 3, 1, 1, 32); /* depthwise */
    case 5: return conv_graph(32, 15, 15, 32, 3, 2, 1, 32); /* depthwise, stride 2 */
    case 6: return conv_graph(32, 14, 14, 48, 1, 1, 0, 1);  /* 1x1 GEMM */
    case 7: return conv_graph(16, 7, 7, 16, 3, 1, 1, 1);    /* plane */
    case 8: return residual_graph();
    case 9: return winograd_graph(0);
    case 10: return winograd_graph(1);
    case 11: return linear_graph(false);
    case 12: return linear_graph(true);
    case 13: return matmul_graph(19);
    case 14: return eltwise_graph();
    case 15: return pool_graph(MF_OP_MAX_POOL2D);
    case 16: return pool_graph(MF_OP_ADAPTIVE_AVG_POOL2D);
    case 17: return matmul_graph(150);
    case 18: return winograd_chain_graph();
    default: return softmax_graph();
    }
}

/* Output i of a run as floats (an f16 output widened). */
static double *as_doubles(const void *p, mf_dtype dt, int64_t n)
{
    double *d = malloc(sizeof(double) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++)
        d[i] = dt == MF_F16 ? mf_f16_to_f32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
    return d;
}

/* g compiled for target (NULL: the host) against the reference kernels on seeded inputs. */
static void check(const mf_graph *g, const mf_cg_target *target, const char *what)
{
    mf_tensor *in[8] = {0}, *ref = NULL;
    for (int i = 0; i < g->ninputs; i++) {
        const mf_type *t = &g->inputs[i]->type;
        assert_int_equal(mf_tensor_rand(t->dtype, t->rank, t->shape, 11 + (uint64_t)i, -2, 2, MF_DEVICE_CPU, &in[i]), MF_OK);
    }
    if (mf_graph_interpret(g, g->ninputs, in, 1, &ref))
        fail_msg("interpret: %s", mf_last_error());
    mf_cg_object obj;
    mf_kernel_fn fn = cg_build(g, &obj, target);
    const mf_type *ot = &g->outputs[0]->type;
    int64_t n = mf_type_numel(ot);
    size_t nb = mf_type_nbytes(ot);
    void *out[2] = {malloc(nb), malloc(nb)}, *args[10];
    for (int k = 0; k < 2; k++) {
        memset(out[k], 0xff, nb);
        args[0] = out[k];
        for (int i = 0; i < g->ninputs; i++)
            args[1 + i] = mf_tensor_data_mut(in[i]);
        args[1 + g->ninputs] = NULL;
        cg_run_parts(fn, args, k ? 4 : 1);
    }
    double *want = as_doubles(mf_tensor_data(ref), ot->dtype, n), *got = as_doubles(out[0], ot->dtype, n);
    float *gotf = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        gotf[i] = (float)got[i];
    printf("  %s\n", what);
    cg_assert_relmax(gotf, want, n, 0.003);
    if (memcmp(out[0], out[1], nb))
        fail_msg("%s: 1 and 4 partitions differ", what);
    free(gotf);
    free(got);
    free(want);
    free(out[0]);
    free(out[1]);
    mf_cg_object_free(&obj);
    mf_tensor_free(ref);
    for (int i = 0; i < g->ninputs; i++)
        mf_tensor_free(in[i]);
}

static void test_every_engine_on_each_target(void **state)
{
    static const named base = {"x86-64", {NULL}}; /* no F16C: LLVM's soft conversion */
    const named *list[NTARGETS + 1] = {&base};
    for (int t = 0; t < NTARGETS; t++)
        list[t + 1] = &targets[t];
    mf_cg_target host;
    assert_int_equal(mf_cg_target_init(NULL, &host), MF_OK);
    int skipped = 0;
    for (int t = 0; t <= NTARGETS; t++) {
        if (!host_runs(&host, list[t])) {
            skipped++;
            continue;
        }
        mf_cg_target tg;
        assert_int_equal(mf_cg_target_init(list[t]->cpu, &tg), MF_OK);
        for (int i = 0; i < NGRAPHS + 1; i++) {
            mf_graph *g = make_graph(i);
            char what[96];
            snprintf(what, sizeof what, "%s on %s", g->name, list[t]->cpu);
            check(g, &tg, what);
            mf_graph_destroy(g);
        }
    }
    for (int i = 0; i < NGRAPHS + 1; i++) {
        mf_graph *g = make_graph(i);
        check(g, NULL, g->name);
        mf_graph_destroy(g);
    }
    printf("  %d graphs on %d named targets and the host (%s); %d targets skipped\n", NGRAPHS + 1,
           NTARGETS + 1 - skipped, host.cpu, skipped);
}

/* F16C's conversions where the target has them (haswell, znver4), LLVM's soft ones (libgcc's
 * __extendhfsf2 / __truncsfhf2) on x86-64. */
static void test_conversions_follow_target(void **state)
{
    mf_graph *g = conv_graph(8, 20, 37, 16, 3, 1, 1, 1);
    static const struct { const char *cpu; bool f16c; } cases[] = {
        {"haswell", true}, {"znver4", true}, {"skylake-avx512", true}, {"x86-64", false}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = asm_for(g, cases[i].cpu);
        bool widen = strstr(text, "vcvtph2ps") != NULL, narrow = strstr(text, "vcvtps2ph") != NULL;
        if (widen != cases[i].f16c || narrow != cases[i].f16c)
            fail_msg("%s: vcvtph2ps %d, vcvtps2ph %d; expected %d", cases[i].cpu, widen, narrow, cases[i].f16c);
        bool soft = strstr(text, "__extendhfsf2") && strstr(text, "__truncsfhf2");
        if (soft == cases[i].f16c)
            fail_msg("%s: soft conversion calls %d; expected %d", cases[i].cpu, soft, !cases[i].f16c);
        free(text);
    }
    mf_graph_destroy(g);
}

/* The offline loader resolves the soft conversions (an .mfo with an x86-64 code level). */
static void test_soft_conversion_loads_offline(void **state)
{
    mf_graph *g = conv_graph(8, 20, 37, 16, 3, 1, 1, 1);
    mf_cg_target t;
    assert_int_equal(mf_cg_target_init("x86-64", &t), MF_OK);
    mf_cg_object obj;
    mf_kernel_fn jit = cg_build(g, &obj, &t);
    mf_rt_code *code = NULL;
    mf_rt_kernel_fn offline = NULL;
    if (mf_rt_code_load(obj.data, obj.size, obj.symbol, "conv", &code, &offline))
        fail_msg("%s", mf_last_error());
    mf_tensor *in[3];
    for (int i = 0; i < 3; i++) {
        const mf_type *it = &g->inputs[i]->type;
        assert_int_equal(mf_tensor_rand(it->dtype, it->rank, it->shape, 5 + (uint64_t)i, -2, 2, MF_DEVICE_CPU, &in[i]), MF_OK);
    }
    size_t nb = mf_type_nbytes(&g->outputs[0]->type);
    void *out[2] = {calloc(1, nb), calloc(1, nb)};
    for (int k = 0; k < 2; k++) {
        void *args[5] = {out[k], mf_tensor_data_mut(in[0]), mf_tensor_data_mut(in[1]), mf_tensor_data_mut(in[2]), NULL};
        if (k)
            offline(args, 0, 1);
        else
            jit(args, 0, 1);
    }
    assert_memory_equal(out[0], out[1], nb);
    free(out[0]);
    free(out[1]);
    for (int i = 0; i < 3; i++)
        mf_tensor_free(in[i]);
    mf_rt_code_free(code);
    mf_cg_object_free(&obj);
    mf_graph_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_engine_on_each_target),
        cmocka_unit_test(test_conversions_follow_target),
        cmocka_unit_test(test_soft_conversion_loads_offline),
    };
    return cmocka_run_group_tests_name("codegen_half", tests, NULL, NULL);
}
