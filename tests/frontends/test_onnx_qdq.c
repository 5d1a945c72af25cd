/* test_onnx_qdq.c — ONNX's quantized models (frontends/onnx_qdq.c, onnx_qdq_int8.c) on models
 * written by tests/frontends/onnx/make_qdq_models.py with numpy reference outputs: the QDQ
 * format with uint8 activations and per-channel int8 weights around Conv + Relu, int8 QDQ
 * around MatMul, a QDQ residual block (Conv, Add, MaxPool, Flatten, Gemm), QLinearConv
 * (uint8, per-channel weights, int32 bias), QLinearMatMul (int8, per-column scales),
 * MatMulInteger and ConvInteger (groups, depthwise with per-channel weight zero points, sums
 * past 2^24, Cast + Mul after).  Each must map onto its int8 op (qconv2d, qlinear, qadd; the
 * *Integer ops onto qconv2d / qlinear acc=1 but for a uint8 weight past int8 of its zero
 * point) and run layer by layer and fused within the 2 % int8 threshold (max|a - b| / max|b|)
 * of ONNX's semantics (all give 0 %; the *Integer models must be exact); the ONNX node tests
 * of these ops run in test_onnx_conformance. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ir/ir.h"
#include "mlufuse/mlufuse.h"
#include "tests/support/run_graph.h"
#include "tests/support/tool_run.h"

/* max|a - b| / max|b| over every element, both read as doubles through an f64 cast. */
static double rel_error(const mf_tensor *got, const mf_tensor *want)
{
    mf_tensor *a, *b;
    assert_int_equal(mf_cast(got, MF_F64, &a), MF_OK);
    assert_int_equal(mf_cast(want, MF_F64, &b), MF_OK);
    const double *x = mf_tensor_data(a), *y = mf_tensor_data(b);
    double err = 0, scale = 0;
    for (int64_t i = 0; i < mf_tensor_numel(want); i++) {
        err = fmax(err, fabs(x[i] - y[i]));
        scale = fmax(scale, fabs(y[i]));
    }
    mf_tensor_free(a);
    mf_tensor_free(b);
    return scale > 0 ? err / scale : err;
}

/* How many nodes of g have op (the importer drops what only the f32 forms of int8 layers
 * used). */
static int count_op(const mf_graph *g, mf_op op)
{
    int k = 0;
    for (int i = 0; i < g->nnodes; i++)
        k += g->nodes[i]->op == op;
    return k;
}

/* Loads the model, checks that it holds `int8_op` (the int8 layer it must map onto; or
 * MF_OP_COUNT for none), and runs it against the reference output. */
static void check_model(const char *name, mf_op int8_op)
{
    char path[1024];
    const char *src = tsupport_source_dir();
    mf_graph *g;
    mf_tensor *x, *want;
    snprintf(path, sizeof path, "%s/tests/frontends/onnx/qdq/%s.onnx", src, name);
    if (mf_onnx_load(path, 0, &g))
        fail_msg("%s: %s", name, mf_last_error());
    if (int8_op != MF_OP_COUNT)
        assert_int_equal(count_op(g, int8_op), 1);
    snprintf(path, sizeof path, "%s/tests/frontends/onnx/qdq/%s.in.npy", src, name);
    assert_int_equal(mf_tensor_load_npy(path, &x), MF_OK);
    snprintf(path, sizeof path, "%s/tests/frontends/onnx/qdq/%s.out.npy", src, name);
    assert_int_equal(mf_tensor_load_npy(path, &want), MF_OK);
    for (int fused = 0; fused < 2; fused++) {
        mf_tensor *host = tsupport_run_graph(g, x, fused, name);
        assert_int_equal(mf_tensor_dtype(host), mf_tensor_dtype(want));
        assert_int_equal(mf_tensor_numel(host), mf_tensor_numel(want));
        double err = rel_error(host, want);
        printf("%s %s: relative error %.3g%%\n", name, fused ? "fused" : "layer by layer", 100 * err);
        assert_true(strstr(name, "integer") ? err == 0 : err <= 0.02);
        mf_tensor_free(host);
    }
    mf_tensor_free(x);
    mf_tensor_free(want);
    mf_graph_destroy(g);
}

static void test_qdq_conv_uint8(void **state)
{
    check_model("qdq_conv_uint8", MF_OP_QCONV2D);
}

static void test_qdq_matmul_int8(void **state)
{
    check_model("qdq_matmul_int8", MF_OP_QLINEAR);
}

static void test_qlinear_conv_uint8(void **state)
{
    check_model("qlinear_conv_uint8", MF_OP_QCONV2D);
}

static void test_matmul_integer_uint8(void **state)
{
    check_model("matmul_integer_uint8", MF_OP_COUNT);
}

static void test_qlinear_matmul_int8(void **state)
{
    check_model("qlinear_matmul_int8", MF_OP_QLINEAR);
}

static void test_conv_integer_uint8(void **state)
{
    check_model("conv_integer_uint8", MF_OP_QCONV2D);
}

/* An *Integer op on the int8 kernels leaves no f32 conv2d / matmul behind, and its qconv2d
 * or qlinear has acc=1 (the i32 sums). */
static void check_integer(const char *name, mf_op op)
{
    check_model(name, op);
    char path[1024];
    mf_graph *g = NULL;
    snprintf(path, sizeof path, "%s/tests/frontends/onnx/qdq/%s.onnx", tsupport_source_dir(), name);
    assert_int_equal(mf_onnx_load(path, 0, &g), MF_OK);
    assert_int_equal(count_op(g, MF_OP_CONV2D) + count_op(g, MF_OP_MATMUL), 0);
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i]->op == op) {
            assert_int_equal(mf_attr_int(op, g->nodes[i]->attrs, "acc"), 1);
            assert_int_equal(g->nodes[i]->outputs[0]->type.dtype, MF_I32);
        }
    mf_graph_destroy(g);
}

static void test_conv_integer_dw_dynamic(void **state)
{
    check_integer("conv_integer_dw_dynamic", MF_OP_QCONV2D);
}

static void test_conv_integer_group_int8(void **state)
{
    check_integer("conv_integer_group_int8", MF_OP_QCONV2D);
}

static void test_matmul_integer_big(void **state)
{
    check_integer("matmul_integer_big", MF_OP_QLINEAR);
}

/* MatMul of two activations, in the QDQ format and as QLinearMatMul: qmatmul. */
static void test_qdq_matmul_two_uint8(void **state)
{
    check_model("qdq_matmul_two_uint8", MF_OP_QMATMUL);
}

static void test_qlinear_matmul_two_int8(void **state)
{
    check_model("qlinear_matmul_two_int8", MF_OP_QMATMUL);
}

/* A residual block in the QDQ format is int8 from its first quantize to its last dequantize:
 * two qconv2d (relu fused in the first), qadd (+ relu), max pooling and flatten of the codes,
 * qlinear; no f32 conv, add or pool is left. */
static void test_qdq_residual_uint8(void **state)
{
    check_model("qdq_residual_uint8", MF_OP_QADD);
    char path[1024];
    mf_graph *g = NULL;
    snprintf(path, sizeof path, "%s/tests/frontends/onnx/qdq/qdq_residual_uint8.onnx", tsupport_source_dir());
    assert_int_equal(mf_onnx_load(path, 0, &g), MF_OK);
    assert_int_equal(count_op(g, MF_OP_QCONV2D), 2);
    assert_int_equal(count_op(g, MF_OP_QLINEAR), 1);
    assert_int_equal(count_op(g, MF_OP_QUANTIZE), 1);
    assert_int_equal(count_op(g, MF_OP_DEQUANTIZE), 1);
    assert_int_equal(count_op(g, MF_OP_CONV2D) + count_op(g, MF_OP_LINEAR) + count_op(g, MF_OP_ADD) +
                         count_op(g, MF_OP_RELU), 0);
    assert_int_equal(count_op(g, MF_OP_MAX_POOL2D), 1);
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i]->op == MF_OP_MAX_POOL2D)
            assert_int_equal(g->nodes[i]->inputs[0]->type.dtype, MF_I8);
    mf_graph_destroy(g);
}

/* A scale and zero point computed at run time (DynamicQuantizeLinear's expansion) quantize
 * through the graph's own ops: x / scale, round, + zero point, clamp to [0, 255], cast. */
static void test_runtime_scale(void **state)
{
    char path[1024];
    mf_graph *g = NULL;
    snprintf(path, sizeof path, "%s/onnx-node-tests/node/test_dynamicquantizelinear_expanded/model.onnx",
             tsupport_shared_dir());
    assert_int_equal(mf_onnx_load(path, 0, &g), MF_OK);
    int divs = 0, rounds = 0, casts_u8 = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const mf_node *n = g->nodes[i];
        divs += n->op == MF_OP_DIV && !n->inputs[1]->is_const;
        rounds += n->op == MF_OP_ROUND;
        casts_u8 += n->op == MF_OP_CAST && n->outputs[0]->type.dtype == MF_U8;
    }
    assert_true(divs >= 1 && rounds >= 2 && casts_u8 >= 2); /* the zero point's and y's */
    mf_graph_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qdq_conv_uint8),
        cmocka_unit_test(test_qdq_matmul_int8),
        cmocka_unit_test(test_qlinear_conv_uint8),
        cmocka_unit_test(test_matmul_integer_uint8),
        cmocka_unit_test(test_qlinear_matmul_int8),
        cmocka_unit_test(test_conv_integer_uint8),
        cmocka_unit_test(test_conv_integer_dw_dynamic),
        cmocka_unit_test(test_conv_integer_group_int8),
        cmocka_unit_test(test_matmul_integer_big),
        cmocka_unit_test(test_qdq_residual_uint8),
        cmocka_unit_test(test_qdq_matmul_two_uint8),
        cmocka_unit_test(test_qlinear_matmul_two_int8),
        cmocka_unit_test(test_runtime_scale),
    };
    return cmocka_run_group_tests_name("onnx_qdq", tests, NULL, NULL);
}
