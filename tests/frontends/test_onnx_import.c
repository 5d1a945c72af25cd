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
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlufuse/mlufuse.h"
#include "onnx/onnx.pb-c.h"
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
                 "1 unsupported op type: FooBar ('foo1', 'foo3')", NULL);
}

static void test_bad_models(void **state)
{
    expect_error(DATA "bad/opset_22.onnx", MF_ERR_UNSUPPORTED, "opset 22 is not supported", "1 to 21");
    expect_error(DATA "bad/symbolic_batch.onnx", MF_ERR_SHAPE, "input 'x'", "give a batch size");
    expect_error(DATA "bad/undefined_input.onnx", MF_ERR_PARSE, "node 'add0' (Add)", "'ghost' is not defined");
    expect_error(DATA "bad/missing_output.onnx", MF_ERR_PARSE, "graph output 'nowhere' is never computed", NULL);
    expect_error(DATA "bad/short_initializer.onnx", MF_ERR_PARSE, "tensor 'w'", "wrong amount of data");
    expect_error(DATA "bad/shape_mismatch.onnx", MF_ERR_SHAPE, "node 'add0' (Add)", "cannot broadcast");
    expect_error(DATA "bad/dynamic_reshape.onnx", MF_ERR_UNSUPPORTED, "node 'reshape0' (Reshape)", "constant");
    expect_error(DATA "bad/no_such_file.onnx", MF_ERR_IO, "no_such_file.onnx", "No such file");
    expect_error(DATA "bad/scan_op8_batch2.onnx", MF_ERR_UNSUPPORTED, "node 'scan0' (Scan)",
                 "batch of more than one");
    expect_error(DATA "bad/scan_op8_sequence_lens.onnx", MF_ERR_UNSUPPORTED, "node 'scan0' (Scan)",
                 "sequence_lens");
    expect_error(DATA "bad/scan_op8_rank0.onnx", MF_ERR_SHAPE, "node 'scan0' (Scan)",
                 "no dim to scan");
    expect_error(DATA "bad/scan_axis_out_of_range.onnx", MF_ERR_PARSE, "node 'scan0' (Scan)",
                 "scan_input_axes[0] = 4");
    expect_error(DATA "bad/scan_output_axis_out_of_range.onnx", MF_ERR_SHAPE, "node 'scan0' (Scan)",
                 "cannot stack along axis 5");
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

/* ---- Cast, on models built here from the protobuf-c structs (the generator needs torch) -- */

/* A model: input x f32[2,3]; node 'cast0' (Cast) with attribute to (when has_to) on x, or
 * on the initializer c = i64[3] {1, -2, 300} when on_const; output y.  Packed into a
 * malloc'd buffer; *len its size. */
static void *cast_model(bool has_to, int64_t to, bool on_const, size_t *len)
{
    Onnx__TensorShapeProto__Dimension d0 = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT, d1 = d0;
    d0.value_case = d1.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    d0.dim_value = 2;
    d1.dim_value = 3;
    Onnx__TensorShapeProto__Dimension *dims[2] = {&d0, &d1};
    Onnx__TensorShapeProto shape = ONNX__TENSOR_SHAPE_PROTO__INIT;
    shape.n_dim = 2;
    shape.dim = dims;
    Onnx__TypeProto__Tensor tt = ONNX__TYPE_PROTO__TENSOR__INIT;
    tt.has_elem_type = 1;
    tt.elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt.shape = &shape;
    Onnx__TypeProto type = ONNX__TYPE_PROTO__INIT;
    type.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    type.tensor_type = &tt;
    Onnx__ValueInfoProto in = ONNX__VALUE_INFO_PROTO__INIT, out = ONNX__VALUE_INFO_PROTO__INIT;
    in.name = "x";
    in.type = &type;
    out.name = "y";
    Onnx__ValueInfoProto *ins[1] = {&in}, *outs[1] = {&out};

    int64_t cdims[1] = {3}, cdata[3] = {1, -2, 300};
    Onnx__TensorProto c = ONNX__TENSOR_PROTO__INIT;
    c.name = "c";
    c.n_dims = 1;
    c.dims = cdims;
    c.has_data_type = 1;
    c.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    c.n_int64_data = 3;
    c.int64_data = cdata;
    Onnx__TensorProto *inits[1] = {&c};

    Onnx__AttributeProto attr = ONNX__ATTRIBUTE_PROTO__INIT;
    attr.name = "to";
    attr.has_type = 1;
    attr.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    attr.has_i = 1;
    attr.i = to;
    Onnx__AttributeProto *attrs[1] = {&attr};
    char *node_in[1] = {on_const ? "c" : "x"}, *node_out[1] = {"y"};
    Onnx__NodeProto node = ONNX__NODE_PROTO__INIT;
    node.name = "cast0";
    node.op_type = "Cast";
    node.n_input = 1;
    node.input = node_in;
    node.n_output = 1;
    node.output = node_out;
    node.n_attribute = has_to ? 1 : 0;
    node.attribute = attrs;
    Onnx__NodeProto *nodes[1] = {&node};

    Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
    graph.name = "cast";
    graph.n_node = 1;
    graph.node = nodes;
    graph.n_initializer = 1;
    graph.initializer = inits;
    graph.n_input = 1;
    graph.input = ins;
    graph.n_output = 1;
    graph.output = outs;
    Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    opset.domain = "";
    opset.has_version = 1;
    opset.version = 13;
    Onnx__OperatorSetIdProto *opsets[1] = {&opset};
    Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
    model.has_ir_version = 1;
    model.ir_version = 7;
    model.n_opset_import = 1;
    model.opset_import = opsets;
    model.graph = &graph;

    *len = onnx__model_proto__get_packed_size(&model);
    void *buf = malloc(*len);
    assert_non_null(buf);
    assert_int_equal(onnx__model_proto__pack(&model, buf), *len);
    return buf;
}

static mf_status load_cast(bool has_to, int64_t to, bool on_const, mf_graph **g)
{
    size_t len;
    void *buf = cast_model(has_to, to, on_const, &len);
    mf_status s = mf_onnx_parse(buf, len, "cast.onnx", 0, g);
    free(buf);
    return s;
}

/* Every supported ONNX data type maps onto its dtype; the values are the cast's. */
static void test_cast_types(void **state)
{
    static const struct { int64_t onnx; mf_dtype dt; } map[] = {
        {ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16, MF_F16}, {ONNX__TENSOR_PROTO__DATA_TYPE__INT8, MF_I8},
        {ONNX__TENSOR_PROTO__DATA_TYPE__INT32, MF_I32},   {ONNX__TENSOR_PROTO__DATA_TYPE__INT64, MF_I64},
        {ONNX__TENSOR_PROTO__DATA_TYPE__BOOL, MF_BOOL},   {ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16, MF_BF16},
    };
    const float xs[6] = {-2.75f, 0.0f, 1.5f, 300.25f, -0.5f, 7.0f};
    mf_tensor *x, *y;
    assert_int_equal(mf_tensor_from_data(MF_F32, 2, (int64_t[]){2, 3}, xs, sizeof xs, &x), MF_OK);
    for (size_t k = 0; k < sizeof map / sizeof map[0]; k++) {
        mf_graph *g;
        if (load_cast(true, map[k].onnx, false, &g) != MF_OK)
            fail_msg("to = %lld: %s", (long long)map[k].onnx, mf_last_error());
        assert_int_equal(mf_graph_verify(g), MF_OK);
        assert_int_equal(mf_graph_num_nodes(g), 1);
        char *text, want[64];
        assert_int_equal(mf_graph_print(g, 0, &text), MF_OK);
        snprintf(want, sizeof want, " = cast(%%x) {to=%d} : %s[2,3]\n", (int)map[k].dt,
                 mf_dtype_name(map[k].dt));
        if (!strstr(text, want))
            fail_msg("expected '%s' in\n%s", want, text);
        free(text);
        assert_int_equal(mf_graph_interpret(g, 1, &x, 1, &y), MF_OK);
        assert_int_equal(mf_tensor_dtype(y), map[k].dt);
        mf_tensor *ref;
        assert_int_equal(mf_cast(x, map[k].dt, &ref), MF_OK);
        assert_memory_equal(mf_tensor_data(y), mf_tensor_data(ref), mf_tensor_nbytes(ref));
        if (map[k].dt == MF_I32) {
            const int32_t want_i[6] = {-2, 0, 1, 300, 0, 7};
            assert_memory_equal(mf_tensor_data(y), want_i, sizeof want_i);
        }
        mf_tensor_free(ref);
        mf_tensor_free(y);
        mf_graph_destroy(g);
    }
    /* to the input's own type: no node, the output is the input */
    mf_graph *g;
    assert_int_equal(load_cast(true, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, false, &g), MF_OK);
    assert_int_equal(mf_graph_num_nodes(g), 0);
    assert_int_equal(mf_graph_interpret(g, 1, &x, 1, &y), MF_OK);
    assert_memory_equal(mf_tensor_data(y), xs, sizeof xs);
    mf_tensor_free(y);
    mf_graph_destroy(g);
    mf_tensor_free(x);
}

/* A Cast of a constant is computed at import: no node, a constant of the new dtype. */
static void test_cast_of_constant_folds(void **state)
{
    mf_graph *g;
    mf_tensor *x, *y;
    if (load_cast(true, ONNX__TENSOR_PROTO__DATA_TYPE__INT8, true, &g) != MF_OK)
        fail_msg("%s", mf_last_error());
    assert_int_equal(mf_graph_num_nodes(g), 0);
    char *text;
    assert_int_equal(mf_graph_print(g, 0, &text), MF_OK);
    assert_non_null(strstr(text, "const i8[3] dense<1, -2, 44>"));
    free(text);
    assert_int_equal(mf_tensor_zeros(MF_F32, 2, (int64_t[]){2, 3}, MF_DEVICE_CPU, &x), MF_OK);
    assert_int_equal(mf_graph_interpret(g, 1, &x, 1, &y), MF_OK);
    assert_int_equal(mf_tensor_dtype(y), MF_I8);
    const int8_t want[3] = {1, -2, 44};
    assert_memory_equal(mf_tensor_data(y), want, sizeof want);
    mf_tensor_free(x);
    mf_tensor_free(y);
    mf_graph_destroy(g);
}

static void expect_cast_error(bool has_to, int64_t to, mf_status s, const char *phrase)
{
    mf_graph *g = (mf_graph *)0x1;
    mf_status got = load_cast(has_to, to, false, &g);
    if (got != s || !strstr(mf_last_error(), "node 'cast0' (Cast)") || !strstr(mf_last_error(), phrase))
        fail_msg("to = %lld: status %d, message: %s", (long long)to, (int)got, mf_last_error());
    assert_null(g);
}

static void test_cast_errors(void **state)
{
    expect_cast_error(true, ONNX__TENSOR_PROTO__DATA_TYPE__STRING, MF_ERR_UNSUPPORTED,
                      "cast to ONNX data type 8 (STRING) is not supported");
    expect_cast_error(true, 1000, MF_ERR_UNSUPPORTED, "cast to ONNX data type 1000 (unknown)");
    expect_cast_error(true, (int64_t)1 << 40, MF_ERR_UNSUPPORTED, "(unknown) is not supported");
    expect_cast_error(false, 0, MF_ERR_PARSE, "the required attribute 'to' is missing");
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

/* A shape input bound at import (specialization): the reshape resolves, the bound input
 * leaves the graph's inputs; a wrong dtype, a shape the model excludes and a name that is no
 * input are errors. */
/* Uneven Conv pads (once refused; the file is kept with the bad models) become a pad op in
 * front of a conv without padding. */
static void test_asymmetric_conv_pads(void **state)
{
    mf_graph *g = NULL;
    if (mf_onnx_load(DATA "bad/asymmetric_pads.onnx", 0, &g) != MF_OK)
        fail_msg("%s", mf_last_error());
    char *text;
    assert_int_equal(mf_graph_print(g, 0, &text), MF_OK);
    if (!strstr(text, " = pad(") || !strstr(text, " = conv2d("))
        fail_msg("%s", text);
    free(text);
    mf_graph_destroy(g);
}

/* A Concat of 90 inputs (more than the concat op's 64) is a concat of concats, in order. */
static void test_long_concat(void **state)
{
    mf_graph *g = NULL;
    if (mf_onnx_load(DATA "bad/concat90.onnx", 0, &g) != MF_OK)
        fail_msg("%s", mf_last_error());
    assert_int_equal(mf_graph_verify(g), MF_OK);
    const float xs[2] = {-1.5f, 2.0f};
    mf_tensor *x, *y;
    assert_int_equal(mf_tensor_from_data(MF_F32, 2, (int64_t[]){1, 2}, xs, sizeof xs, &x), MF_OK);
    assert_int_equal(mf_graph_interpret(g, 1, &x, 1, &y), MF_OK);
    assert_int_equal(mf_tensor_numel(y), 180);
    const float *v = mf_tensor_data(y);
    for (int i = 0; i < 180; i += 4) { /* x, relu(x), x, relu(x), ... */
        assert_true(v[i] == -1.5f && v[i + 1] == 2.0f);
        assert_true(v[i + 2] == 0.0f && v[i + 3] == 2.0f);
    }
    mf_tensor_free(y);
    mf_tensor_free(x);
    mf_graph_destroy(g);
}

static void test_bound_inputs(void **state)
{
    mf_tensor *shape, *wrong_dtype, *wrong_shape;
    assert_int_equal(mf_tensor_from_data(MF_I64, 1, (int64_t[]){2}, (int64_t[]){3, -1}, 16, &shape), MF_OK);
    assert_int_equal(mf_tensor_from_data(MF_I32, 1, (int64_t[]){2}, (int32_t[]){3, -1}, 8, &wrong_dtype), MF_OK);
    assert_int_equal(mf_tensor_from_data(MF_I64, 1, (int64_t[]){1}, (int64_t[]){-1}, 8, &wrong_shape), MF_OK);
    mf_graph *g = NULL;
    assert_int_equal(mf_onnx_load_bound(DATA "bad/dynamic_reshape.onnx", 0, 1, (const char *[]){"s"}, &shape, &g), MF_OK);
    assert_int_equal(mf_graph_num_inputs(g), 1);
    char *text;
    assert_int_equal(mf_graph_print(g, 0, &text), MF_OK);
    if (!strstr(text, "reshape(") || !strstr(text, "{shape=[3,-1]}"))
        fail_msg("%s", text);
    free(text);
    mf_graph_destroy(g);
    assert_int_equal(mf_onnx_load_bound(DATA "bad/dynamic_reshape.onnx", 0, 1, (const char *[]){"s"}, &wrong_dtype, &g),
                     MF_ERR_DTYPE);
    assert_non_null(strstr(mf_last_error(), "input 's' is bound to a i32 value"));
    assert_int_equal(mf_onnx_load_bound(DATA "bad/dynamic_reshape.onnx", 0, 1, (const char *[]){"s"}, &wrong_shape, &g),
                     MF_ERR_SHAPE);
    assert_int_equal(mf_onnx_load_bound(DATA "bad/dynamic_reshape.onnx", 0, 1, (const char *[]){"t"}, &shape, &g),
                     MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "'t' is bound to a value but is no graph input"));
    assert_null(g);
    mf_tensor_free(shape);
    mf_tensor_free(wrong_dtype);
    mf_tensor_free(wrong_shape);
}

int main(void)
{
    enum { N = sizeof models / sizeof models[0] };
    struct CMUnitTest tests[N + 10];
    for (int i = 0; i < N; i++)
        tests[i] = (struct CMUnitTest){models[i], check_model, NULL, NULL, (void *)models[i]};
    tests[N] = (struct CMUnitTest)cmocka_unit_test(test_unsupported_ops_listed_once);
    tests[N + 1] = (struct CMUnitTest)cmocka_unit_test(test_bad_models);
    tests[N + 2] = (struct CMUnitTest)cmocka_unit_test(test_symbolic_batch_with_override);
    tests[N + 3] = (struct CMUnitTest)cmocka_unit_test(test_malformed_bytes);
    tests[N + 4] = (struct CMUnitTest)cmocka_unit_test(test_cast_types);
    tests[N + 5] = (struct CMUnitTest)cmocka_unit_test(test_cast_of_constant_folds);
    tests[N + 6] = (struct CMUnitTest)cmocka_unit_test(test_cast_errors);
    tests[N + 7] = (struct CMUnitTest)cmocka_unit_test(test_bound_inputs);
    tests[N + 8] = (struct CMUnitTest)cmocka_unit_test(test_asymmetric_conv_pads);
    tests[N + 9] = (struct CMUnitTest)cmocka_unit_test(test_long_concat);
    return cmocka_run_group_tests_name("onnx_import", tests, NULL, NULL);
}
