/* test_onnx_import.c — the ONNX importer op by op: small models exported from PyTorch
 * (tests/frontends/onnx/make_onnx_tests.py) imported and run by the interpreter match
 * PyTorch's outputs; malformed and unsupported models fail with messages that say what and
 * where, never a crash. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlufuse/mlufuse.h"
#include "tests/support/compare.h"

#define DATA "onnx/" /* tests run in their source folder */

static void check_model(void **state)
{
    const char *name = *state;
    char path[512];
    mf_graph *g;
    mf_tensor *x, *want, *got;
    snprintf(path, sizeof path, DATA "ops/%s.onnx", name);
    if (mf_onnx_load(path, 0, &g) != MF_OK)
        fail_msg("%s", mf_last_error());
    assert_int_equal(mf_graph_verify(g), MF_OK);
    snprintf(path, sizeof path, DATA "ops/%s.in.npy", name);
    assert_int_equal(mf_tensor_load_npy(path, &x), MF_OK);
    snprintf(path, sizeof path, DATA "ops/%s.out.npy", name);
    assert_int_equal(mf_tensor_load_npy(path, &want), MF_OK);
    if (mf_graph_interpret(g, 1, &x, 1, &got) != MF_OK)
        fail_msg("%s", mf_last_error());
    assert_int_equal(mf_tensor_rank(got), mf_tensor_rank(want));
    for (int i = 0; i < mf_tensor_rank(want); i++)
        assert_int_equal(mf_tensor_dim(got, i), mf_tensor_dim(want, i));
    double err = tsupport_rel_diff(got, want, 1e-30);
    if (err > 1e-5)
        fail_msg("%s: relative error %.3g", name, err);
    mf_tensor_free(x);
    mf_tensor_free(want);
    mf_tensor_free(got);
    mf_graph_destroy(g);
}

/* Loading path fails with status s and a message containing each of the phrases. */
static void expect_error(const char *path, mf_status s, const char *phrase1, const char *phrase2)
{
    mf_graph *g = (mf_graph *)0x1;
    mf_status got = mf_onnx_load(path, 0, &g);
    if (got != s || !strstr(mf_last_error(), phrase1) || (phrase2 && !strstr(mf_last_error(), phrase2)))
        fail_msg("%s: status %d, message: %s", path, (int)got, mf_last_error());
    assert_null(g);
}

static void test_unsupported_ops_listed_once(void **state)
{
    expect_error(DATA "bad/unsupported_ops.onnx", MF_ERR_UNSUPPORTED,
                 "2 unsupported op types: FooBar ('foo1', 'foo3'); Erf ('erf2')", NULL);
}

static void test_bad_models(void **state)
{
    expect_error(DATA "bad/opset_9.onnx", MF_ERR_UNSUPPORTED, "opset 9 is not supported", "11 to 17");
    expect_error(DATA "bad/symbolic_batch.onnx", MF_ERR_SHAPE, "input 'x'", "give a batch size");
    expect_error(DATA "bad/asymmetric_pads.onnx", MF_ERR_UNSUPPORTED, "node 'conv0' (Conv)", "asymmetric pads");
    expect_error(DATA "bad/undefined_input.onnx", MF_ERR_PARSE, "node 'add0' (Add)", "'ghost' is not defined");
    expect_error(DATA "bad/missing_output.onnx", MF_ERR_PARSE, "graph output 'nowhere' is never computed", NULL);
    expect_error(DATA "bad/short_initializer.onnx", MF_ERR_PARSE, "tensor 'w'", "wrong amount of data");
    expect_error(DATA "bad/shape_mismatch.onnx", MF_ERR_SHAPE, "node 'add0' (Add)", "cannot broadcast");
    expect_error(DATA "bad/dynamic_reshape.onnx", MF_ERR_UNSUPPORTED, "node 'reshape0' (Reshape)", "constant");
    expect_error(DATA "bad/no_such_file.onnx", MF_ERR_IO, "no_such_file.onnx", "No such file");
}

static void test_symbolic_batch_with_override(void **state)
{
    mf_graph *g;
    assert_int_equal(mf_onnx_load(DATA "bad/symbolic_batch.onnx", 4, &g), MF_OK);
    assert_int_equal(mf_graph_num_inputs(g), 1);
    mf_graph_destroy(g);
}

/* Bytes of a real model, damaged in ways a disk or a download damages files. */
static void test_malformed_bytes(void **state)
{
    FILE *f = fopen(DATA "ops/conv_basic.onnx", "rb");
    assert_non_null(f);
    unsigned char buf[8192];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_true(n > 100 && n < sizeof buf);
    mf_graph *g;
    /* every truncation fails cleanly (or, rarely, still parses into a valid model) */
    for (size_t len = 0; len < n; len += 7) {
        mf_status s = mf_onnx_parse(buf, len, "truncated", 0, &g);
        if (s == MF_OK)
            mf_graph_destroy(g);
        else
            assert_true(strlen(mf_last_error()) > 10);
    }
    assert_int_equal(mf_onnx_parse(buf, n / 2, "half.onnx", 0, &g), MF_ERR_PARSE);
    assert_non_null(strstr(mf_last_error(), "half.onnx"));
    const char text[] = "this is not a protobuf at all";
    assert_int_equal(mf_onnx_parse(text, sizeof text, "text.onnx", 0, &g), MF_ERR_PARSE);
    assert_non_null(strstr(mf_last_error(), "not a valid ONNX model"));
    /* flipped bytes: never a crash, an error or a model that verifies */
    unsigned seed = 12345;
    for (int trial = 0; trial < 300; trial++) {
        unsigned char copy[8192];
        memcpy(copy, buf, n);
        for (int k = 0; k < 3; k++) {
            seed = seed * 1103515245u + 12345u;
            copy[(seed >> 8) % n] ^= (unsigned char)(1u << (seed % 8));
        }
        if (mf_onnx_parse(copy, n, "flipped", 0, &g) == MF_OK) {
            assert_int_equal(mf_graph_verify(g), MF_OK);
            mf_graph_destroy(g);
        }
    }
}

static const char *const models[] = {
    "add_broadcast", "avgpool_nopad_count", "avgpool_pad", "batchnorm", "clip_hardtanh_opset11",
    "clip_relu6", "concat", "conv_basic", "conv_depthwise", "conv_dilation_nobias", "conv_groups",
    "conv_stride_pad", "dropout_identity", "exp_log_sqrt", "flatten", "gemm_linear",
    "global_avgpool", "hardsigmoid", "hardswish", "leaky_relu", "log_softmax", "matmul_batched",
    "maxpool_ceil", "mixed_opset17", "neg_abs", "reduce_mean", "reduce_sum", "relu",
    "reshape_view", "resize_nearest", "sigmoid_tanh", "softmax", "softmax_dim1", "sub_mul_div",
    "transpose", "pow_const", "slice_steps", "split_sizes", "split_sizes_opset11",
    "conv_transpose", "pad_reflect_free",
};

int main(void)
{
    enum { N = sizeof models / sizeof models[0] };
    struct CMUnitTest tests[N + 4];
    for (int i = 0; i < N; i++)
        tests[i] = (struct CMUnitTest){models[i], check_model, NULL, NULL, (void *)models[i]};
    tests[N] = (struct CMUnitTest)cmocka_unit_test(test_unsupported_ops_listed_once);
    tests[N + 1] = (struct CMUnitTest)cmocka_unit_test(test_bad_models);
    tests[N + 2] = (struct CMUnitTest)cmocka_unit_test(test_symbolic_batch_with_override);
    tests[N + 3] = (struct CMUnitTest)cmocka_unit_test(test_malformed_bytes);
    return cmocka_run_group_tests_name("onnx_import", tests, NULL, NULL);
}
