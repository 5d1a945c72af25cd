/* test_custom_ops.c — custom ops through the C API with the example library
 * (examples/custom_ops/): mf_custom_ops_load and its errors (missing library, missing
 * symbol, conflicting declarations: nothing registered), the .mfir text form
 * (custom.NAME, custom.NAME.K, scalar arguments by name) and its errors (undeclared op,
 * wrong arity, wrong types, shape function failures), the values the C functions compute
 * (one and two outputs, a shape function, int/float/bool arguments), a C function returning
 * non-zero as a clean error, and a fused module against the layer-by-layer interpreter
 * with a custom op in the middle of a graph. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlufuse/mlufuse.h"
#include "mlufuse/mlufuse_custom_ops.h"
#include "tests/support/compare.h"
#include "tests/support/tool_run.h"

static char lib[512], decl[512];

static int load_examples(void **state)
{
    (void)state;
    snprintf(lib, sizeof lib, "%s/libmf_example_custom_ops.so", tsupport_build_dir());
    snprintf(decl, sizeof decl, "%s/examples/custom_ops/example_ops.txt", tsupport_source_dir());
    int n = 0;
    if (mf_custom_ops_load(decl, lib, &n) || n != 5) {
        fprintf(stderr, "loading the examples: %s\n", mf_last_error());
        return -1;
    }
    return 0;
}

static mf_graph *parse(const char *text)
{
    mf_graph *g;
    if (mf_graph_parse(text, "test.mfir", &g))
        fail_msg("%s\n%s", mf_last_error(), text);
    return g;
}

static void expect_parse_error(const char *text, const char *message)
{
    mf_graph *g = NULL;
    mf_status s = mf_graph_parse(text, "test.mfir", &g);
    if (!s || !strstr(mf_last_error(), message))
        fail_msg("status %d, message '%s', wanted '%s'", (int)s, s ? mf_last_error() : "", message);
    assert_null(g);
}

static mf_tensor *tensor(int rank, const int64_t *shape, const float *data)
{
    mf_tensor *t;
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= shape[i];
    assert_int_equal(mf_tensor_from_data(MF_F32, rank, shape, data, (size_t)n * 4, &t), MF_OK);
    return t;
}

/* Runs g on the reference kernels (layer by layer) with one or two inputs. */
static void interpret(const mf_graph *g, int n_in, mf_tensor *const *in, int n_out, mf_tensor **out)
{
    if (mf_graph_interpret(g, n_in, in, n_out, out))
        fail_msg("%s", mf_last_error());
}

/* ---- loading ---------------------------------------------------------------------------- */

static void test_load_again_and_errors(void **state)
{
    (void)state;
    int before = mf_custom_ops_count(), n = 0;
    assert_int_equal(mf_custom_ops_load(decl, lib, &n), MF_OK); /* the same again: nothing changes */
    assert_int_equal(n, 5);
    assert_int_equal(mf_custom_ops_count(), before);

    assert_int_equal(mf_custom_ops_load(decl, "/nonexistent/libops.so", NULL), MF_ERR_IO);
    assert_non_null(strstr(mf_last_error(), "cannot open /nonexistent/libops.so"));
    assert_int_equal(mf_custom_ops_load("/nonexistent/ops.txt", lib, NULL), MF_ERR_IO);

    /* a missing symbol on line 2: the op of line 1 is not registered either */
    const char *missing = "fresh_op(Tensor x) -> Tensor : symbol=example_swish shape=same(x)\n"
                          "other_op(Tensor x) -> Tensor : symbol=no_such_function shape=same(x)\n";
    assert_int_equal(mf_custom_ops_load_text(missing, "missing.txt", lib, NULL), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "missing.txt:2: custom op other_op: symbol 'no_such_function' is not in"));
    const char *missing_shape = "fresh_op(Tensor x) -> Tensor : symbol=example_swish shape=fn(no_shape)\n";
    assert_int_equal(mf_custom_ops_load_text(missing_shape, "m.txt", lib, NULL), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "shape function 'no_shape' is not in"));
    assert_int_equal(mf_custom_ops_count(), before);

    /* a registered name declared differently */
    const char *conflict = "example_swish(Tensor x, float beta=2.0) -> Tensor : symbol=example_swish shape=same(x)\n";
    assert_int_equal(mf_custom_ops_load_text(conflict, "c.txt", lib, NULL), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "c.txt:1: custom op 'example_swish' is already declared differently"));

    /* malformed text: file:line:col */
    assert_int_equal(mf_custom_ops_load_text("\nx(Tensor a) -> : symbol=s shape=same(a)\n", "bad.txt", lib, NULL),
                     MF_ERR_PARSE);
    assert_non_null(strstr(mf_last_error(), "bad.txt:2:16: expected Tensor (an output), found ':'"));
    assert_int_equal(mf_custom_ops_count(), before);
}

/* ---- the text form ---------------------------------------------------------------------- */

static const char middle[] = "graph @g(%x: f32[2,3], %y: f32[3]) {\n"
                             "  %a = relu(%x) : f32[2,3]\n"
                             "  %s = custom.example_swish(%a) {beta=0.5} : f32[2,3]\n"
                             "  %lo = custom.example_minmax.0(%s, %y) : f32[2,3]\n"
                             "  %hi = custom.example_minmax.1(%s, %y) : f32[2,3]\n"
                             "  %r = custom.example_repeat_rows(%lo) {times=3} : f32[6,3]\n"
                             "  %t = custom.example_scale_shift(%hi) {scale=2, relu=true} : f32[2,3]\n"
                             "  %u = add(%t, %y) : f32[2,3]\n"
                             "  %v = sigmoid(%u) : f32[2,3]\n"
                             "  return %r, %v\n"
                             "}\n";

static void test_text_round_trip(void **state)
{
    (void)state;
    mf_graph *g = parse(middle);
    assert_int_equal(mf_graph_verify(g), MF_OK);
    char *t;
    assert_int_equal(mf_graph_print(g, 0, &t), MF_OK);
    assert_non_null(strstr(t, " = custom.example_swish(%a) {beta=0.5} : f32[2,3]\n"));
    assert_non_null(strstr(t, " = custom.example_minmax.1(%s, %y) : f32[2,3]\n"));
    assert_non_null(strstr(t, " = custom.example_scale_shift(%hi) {scale=2, relu=true} : f32[2,3]\n"));
    mf_graph *again = parse(t);
    char *t2;
    assert_int_equal(mf_graph_print(again, 0, &t2), MF_OK);
    assert_string_equal(t, t2);
    assert_true(mf_graph_hash(g) == mf_graph_hash(again));
    assert_string_equal(mf_graph_node_op(g, 1), "custom");
    double beta;
    assert_int_equal(mf_graph_node_attr(g, 1, "a0", &beta), MF_OK);
    assert_true(beta == 0.5);
    free(t);
    free(t2);
    mf_graph_destroy(again);
    mf_graph_destroy(g);
}

static void test_text_errors(void **state)
{
    (void)state;
    expect_parse_error("graph @g(%x: f32[2]) {\n  %0 = custom.nope(%x) : f32[2]\n  return %0\n}\n",
                       "test.mfir:2:8: custom op 'nope' is not declared (load its declarations with --custom-ops");
    expect_parse_error("graph @g(%x: f32[2]) {\n  %0 = custom.example_swish(%x, %x) : f32[2]\n  return %0\n}\n",
                       "custom op example_swish takes 1 tensor, got 2");
    expect_parse_error("graph @g(%x: f32[2]) {\n  %0 = custom.example_swish(%x) {beta=true} : f32[2]\n  return %0\n}\n",
                       "test.mfir:2:39: expected a number, found 'true'");
    expect_parse_error("graph @g(%x: f32[2]) {\n  %0 = custom.example_swish(%x) {gamma=1} : f32[2]\n  return %0\n}\n",
                       "custom op example_swish has no scalar argument 'gamma'");
    expect_parse_error("graph @g(%x: f32[2]) {\n  %0 = custom.example_repeat_rows(%x) {times=1.5} : f32[2]\n  return %0\n}\n",
                       "expected an integer");
    expect_parse_error("graph @g(%x: f32[2]) {\n  %0 = custom.example_scale_shift(%x) : f32[2]\n  return %0\n}\n",
                       "custom op example_scale_shift requires argument 'scale'");
    expect_parse_error("graph @g(%x: f32[2]) {\n  %0 = custom.example_minmax(%x, %x) : f32[2]\n  return %0\n}\n",
                       "custom op example_minmax has 2 outputs: name one as custom.example_minmax.K");
    expect_parse_error("graph @g(%x: f32[2]) {\n  %0 = custom.example_minmax.2(%x, %x) : f32[2]\n  return %0\n}\n",
                       "custom op example_minmax has no output '2'");
    expect_parse_error("graph @g(%x: f32[2], %y: f32[3]) {\n  %0 = custom.example_minmax.0(%x, %y) : f32[2]\n  return %0\n}\n",
                       "custom op example_minmax: f32[2] and f32[3] do not broadcast");
    /* the shape function refuses, with its own reason */
    expect_parse_error("graph @g(%x: f32[2]) {\n  %0 = custom.example_repeat_rows(%x) {times=0} : f32[2]\n  return %0\n}\n",
                       "custom op example_repeat_rows: shape function example_repeat_rows_shape returned 1: times must "
                       "be at least 1 (is 0)");
    expect_parse_error("graph @g(%x: f32[2]) {\n  %0 = custom.example_swish(%x) : f32[3]\n  return %0\n}\n",
                       "result declared f32[3] but inferred f32[2]");
}

/* ---- running ------------------------------------------------------------------------------ */

static float swish(float v, float beta)
{
    return v / (1.0f + expf(-beta * v));
}

/* Every custom op's values, worked out here, on the reference kernels. */
static void test_values(void **state)
{
    (void)state;
    mf_graph *g = parse(middle);
    const float xv[6] = {-1, 0.5f, 2, 3, -0.25f, 1}, yv[3] = {0.1f, 0.4f, -2};
    mf_tensor *in[2] = {tensor(2, (int64_t[]){2, 3}, xv), tensor(1, (int64_t[]){3}, yv)}, *out[2];
    interpret(g, 2, in, 2, out);
    assert_int_equal(mf_tensor_dim(out[0], 0), 6);
    const float *r = mf_tensor_data(out[0]), *v = mf_tensor_data(out[1]);
    for (int i = 0; i < 6; i++) {
        float s = swish(xv[i] > 0 ? xv[i] : 0, 0.5f), y = yv[i % 3];
        float lo = s < y ? s : y, hi = s < y ? y : s;
        float t = 2 * hi > 0 ? 2 * hi : 0;
        for (int k = 0; k < 3; k++)
            assert_float_equal(r[k * 6 + i], lo, 1e-6);
        assert_float_equal(v[i], 1.0f / (1.0f + expf(-(t + y))), 1e-6);
    }
    for (int i = 0; i < 2; i++)
        mf_tensor_free(in[i]), mf_tensor_free(out[i]);
    mf_graph_destroy(g);
}

/* Fused (module: MLU subgraphs around the CPU custom ops) against layer by layer. */
static void test_fused_matches_eager(void **state)
{
    (void)state;
    const char *text = "graph @g(%x: f32[4,16], %w: f32[8,16], %y: f32[8]) {\n"
                       "  %a = linear(%x, %w) : f32[4,8]\n"
                       "  %b = add(%a, %y) : f32[4,8]\n"
                       "  %s = custom.example_swish(%b) {beta=1.5} : f32[4,8]\n"
                       "  %lo = custom.example_minmax.0(%s, %y) : f32[4,8]\n"
                       "  %c = mul(%lo, %s) : f32[4,8]\n"
                       "  %d = tanh(%c) : f32[4,8]\n"
                       "  return %d\n"
                       "}\n";
    mf_graph *g = parse(text);
    mf_tensor *in[3], *dev[3], *want, *got, *got_cpu;
    const int64_t shapes[3][2] = {{4, 16}, {8, 16}, {8, 1}};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(mf_tensor_rand(MF_F32, i == 2 ? 1 : 2, shapes[i], 11 + (uint64_t)i, -1, 1, MF_DEVICE_CPU, &in[i]),
                         MF_OK);
        assert_int_equal(mf_tensor_to(in[i], MF_DEVICE_MLU(0), &dev[i]), MF_OK);
    }
    interpret(g, 3, in, 1, &want);
    mf_module *m;
    if (mf_module_create(g, NULL, &m))
        fail_msg("%s", mf_last_error());
    if (mf_module_run(m, 3, dev, 1, &got))
        fail_msg("%s", mf_last_error());
    assert_int_equal(mf_tensor_to(got, MF_DEVICE_CPU, &got_cpu), MF_OK);
    double diff = tsupport_rel_diff(got_cpu, want, 1e-6);
    if (diff > 3e-3)
        fail_msg("fused differs from layer by layer by %g", diff);
    mf_module_destroy(m);
    for (int i = 0; i < 3; i++)
        mf_tensor_free(in[i]), mf_tensor_free(dev[i]);
    mf_tensor_free(want), mf_tensor_free(got), mf_tensor_free(got_cpu);
    mf_graph_destroy(g);
}

/* A C function returning non-zero fails the run with its value, in both modes. */
static void test_function_error(void **state)
{
    (void)state;
    mf_graph *g = parse("graph @g(%x: f32[2]) {\n  %0 = relu(%x) : f32[2]\n"
                        "  %1 = custom.example_checked(%0) {code=3} : f32[2]\n  %2 = exp(%1) : f32[2]\n  return %2\n}\n");
    mf_tensor *x = tensor(1, (int64_t[]){2}, (float[]){1, 2}), *dx, *out = NULL;
    assert_int_equal(mf_graph_interpret(g, 1, &x, 1, &out), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "custom op example_checked: example_checked returned 3"));
    assert_null(out);
    assert_int_equal(mf_tensor_to(x, MF_DEVICE_MLU(0), &dx), MF_OK);
    mf_module *m;
    assert_int_equal(mf_module_create(g, NULL, &m), MF_OK);
    assert_int_not_equal(mf_module_run(m, 1, &dx, 1, &out), MF_OK);
    assert_non_null(strstr(mf_last_error(), "(custom.example_checked): custom op example_checked: example_checked returned 3"));
    /* a dtype the function refuses (it returns 1) */
    mf_graph *h = parse("graph @g(%x: i64[2]) {\n  %0 = custom.example_swish(%x) : i64[2]\n  return %0\n}\n");
    mf_tensor *xi, *o2 = NULL;
    assert_int_equal(mf_tensor_from_data(MF_I64, 1, (int64_t[]){2}, (int64_t[]){1, 2}, 16, &xi), MF_OK);
    assert_int_equal(mf_graph_interpret(h, 1, &xi, 1, &o2), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "example_swish returned 1"));
    mf_module_destroy(m);
    mf_tensor_free(x), mf_tensor_free(dx), mf_tensor_free(xi);
    mf_graph_destroy(g);
    mf_graph_destroy(h);
}

/* Loads and parses from several threads at once: the registry is process-wide and locked. */
static void *load_and_parse(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20; i++) {
        mf_graph *g = NULL;
        if (mf_custom_ops_load(decl, lib, NULL) || mf_graph_parse(middle, "t.mfir", &g))
            return (void *)1;
        mf_graph_destroy(g);
    }
    return NULL;
}

static void test_concurrent_loads(void **state)
{
    (void)state;
    int before = mf_custom_ops_count();
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, load_and_parse, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        assert_null(rc);
    }
    assert_int_equal(mf_custom_ops_count(), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_again_and_errors),
        cmocka_unit_test(test_text_round_trip),
        cmocka_unit_test(test_text_errors),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_fused_matches_eager),
        cmocka_unit_test(test_function_error),
        cmocka_unit_test(test_concurrent_loads),
    };
    return cmocka_run_group_tests_name("custom_ops", tests, load_examples, NULL);
}
