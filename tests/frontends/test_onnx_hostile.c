/* test_onnx_hostile.c — the ONNX importer on crafted models (built here with protobuf-c):
 * dims that ask for terabytes with a few bytes of data, empty repeated fields, two nodes
 * writing one value, a Conv whose kernel_shape contradicts its weight, and an input with a
 * zero dimension run fused.  Each gets an error that names what and where, or runs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlufuse/mlufuse.h"
#include "tests/support/onnx_build.h"

static mf_status load(const tob_model *m, mf_graph **g)
{
    size_t len;
    void *buf = tob_pack(m, &len);
    assert_non_null(buf);
    *g = NULL;
    mf_status s = mf_onnx_parse(buf, len, "crafted.onnx", 0, g);
    free(buf);
    return s;
}

static void expect_error(const tob_model *m, mf_status want, const char *phrase)
{
    mf_graph *g;
    mf_status s = load(m, &g);
    if (s != want || !strstr(mf_last_error(), phrase))
        fail_msg("status %d (want %d), message: %s", (int)s, (int)want, mf_last_error());
    assert_null(g);
}

/* A 2^40-element initializer with 16 bytes of raw data is refused before any allocation
 * (it asked for 8.3 GB before); past the size bound the dims alone are refused. */
static void test_initializer_dims_checked_before_allocation(void **state)
{
    static const float four[4] = {1, 2, 3, 4};
    tob_model m = {
        .inputs = {{"x", 1, {4}}},
        .inits = {{"w", 2, {1 << 20, 1 << 20}, four, sizeof four}},
        .nodes = {{"Add", {"x", "w"}, {"y"}}},
        .outputs = {"y"},
    };
    expect_error(&m, MF_ERR_PARSE, "wrong amount of data");
    m.inits[0].dims[0] = (int64_t)1 << 40;
    expect_error(&m, MF_ERR_SHAPE, "is larger than");
    m.inits[0].dims[0] = -3;
    expect_error(&m, MF_ERR_SHAPE, "negative");
}

/* Empty repeated fields (an ints attribute with no entries, an initializer with no data)
 * have NULL arrays: nothing may be copied from them (UBSan caught memcpy(dst, NULL, 0)). */
static void test_empty_repeated_fields(void **state)
{
    tob_model m = {
        .inputs = {{"x", 2, {0, 4}}},
        .inits = {{"e", 2, {0, 4}, NULL, 0}},
        .nodes = {{"Add", {"x", "e"}, {"y"}, {{"unused_ints", 0}}}},
        .outputs = {"y"},
    };
    mf_graph *g;
    if (load(&m, &g))
        fail_msg("%s", mf_last_error());
    mf_graph_destroy(g);
    static float w[2 * 4];
    tob_model conv = {
        .inputs = {{"x", 4, {1, 4, 8, 8}}},
        .inits = {{"w", 4, {2, 4, 1, 1}, w, sizeof w}},
        .nodes = {{"Conv", {"x", "w"}, {"y"}, {{"pads", 0}}}},
        .outputs = {"y"},
    };
    expect_error(&conv, MF_ERR_UNSUPPORTED, "pads has 0 entries");
}

/* A node with no outputs (the fuzzer's: Max read output[0] of an empty list). */
static void test_node_without_outputs(void **state)
{
    static const char *const ops[] = {"Max", "Relu", "Dropout", "Size"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        tob_model m = {
            .inputs = {{"x", 1, {4}}},
            .nodes = {{ops[i], {"x", "x"}}},
            .outputs = {"x"},
        };
        if (!strcmp(ops[i], "Relu") || !strcmp(ops[i], "Dropout") || !strcmp(ops[i], "Size"))
            m.nodes[0].in[1] = NULL;
        expect_error(&m, MF_ERR_PARSE, "the node has no outputs");
    }
}

static void test_two_producers_of_one_value(void **state)
{
    tob_model m = {
        .inputs = {{"x", 1, {4}}},
        .nodes = {{"Relu", {"x"}, {"y"}}, {"Neg", {"x"}, {"y"}}},
        .outputs = {"y"},
    };
    expect_error(&m, MF_ERR_PARSE, "'y' is produced twice");
}

static void test_kernel_shape_must_match_the_weight(void **state)
{
    static float w[2 * 3 * 3 * 3];
    tob_model m = {
        .inputs = {{"x", 4, {1, 3, 8, 8}}},
        .inits = {{"w", 4, {2, 3, 3, 3}, w, sizeof w}},
        .nodes = {{"Conv", {"x", "w"}, {"y"}, {{"kernel_shape", 2, {5, 5}}}}},
        .outputs = {"y"},
    };
    expect_error(&m, MF_ERR_SHAPE, "kernel_shape contradicts the weight f32[2,3,3,3]");
    m.nodes[0].attrs[0].ints[0] = m.nodes[0].attrs[0].ints[1] = 3; /* agreeing: imports */
    mf_graph *g;
    if (load(&m, &g))
        fail_msg("%s", mf_last_error());
    mf_graph_destroy(g);
}

/* An input with a zero dimension compiles and runs fused (it called a NULL kernel). */
static void test_zero_element_input_runs_fused(void **state)
{
    tob_model m = {
        .inputs = {{"x", 2, {0, 4}}},
        .nodes = {{"Relu", {"x"}, {"r"}}, {"Sigmoid", {"r"}, {"y"}}},
        .outputs = {"y"},
    };
    mf_graph *g;
    assert_int_equal(load(&m, &g), MF_OK);
    mf_module *mod;
    if (mf_module_create(g, NULL, &mod))
        fail_msg("%s", mf_last_error());
    mf_tensor *x, *y;
    assert_int_equal(mf_tensor_zeros(MF_F32, 2, (int64_t[]){0, 4}, MF_DEVICE_MLU(0), &x), MF_OK);
    if (mf_module_run(mod, 1, &x, 1, &y))
        fail_msg("%s", mf_last_error());
    assert_int_equal(mf_tensor_dim(y, 0), 0);
    assert_int_equal(mf_tensor_dim(y, 1), 4);
    mf_tensor_free(x);
    mf_tensor_free(y);
    mf_module_destroy(mod);
    mf_graph_destroy(g);
}

/* Shapes computed from a file's data are checked like any other: ConstantOfShape of [-1]
 * wrapped to a 4-byte buffer and a memcpy of 2^64 - 4 bytes; Unsqueeze with a repeated
 * axis read dims that were never set. */
static void test_shapes_from_constant_data(void **state)
{
    static const int64_t minus_one[1] = {-1}, huge[2] = {(int64_t)1 << 32, (int64_t)1 << 32};
    tob_model m = {
        .inputs = {{"x", 1, {4}}},
        .inits = {{"s", 1, {1}, minus_one, sizeof minus_one, 7 /* INT64 */}},
        .nodes = {{"ConstantOfShape", {"s"}, {"c"}}, {"Add", {"x", "c"}, {"y"}}},
        .outputs = {"y"},
    };
    expect_error(&m, MF_ERR_SHAPE, "negative");
    m.inits[0] = (tob_value){"s", 1, {2}, huge, sizeof huge, 7};
    expect_error(&m, MF_ERR_SHAPE, "is larger than");

    static const int64_t data[2] = {3, 4}, twice[2] = {0, 0};
    tob_model u = {
        .inputs = {{"x", 1, {4}}},
        .inits = {{"d", 1, {2}, data, sizeof data, 7}, {"a", 1, {2}, twice, sizeof twice, 7}},
        .nodes = {{"Unsqueeze", {"d", "a"}, {"y"}}},
        .outputs = {"y"},
    };
    expect_error(&u, MF_ERR_INVALID, "repeated");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_initializer_dims_checked_before_allocation),
        cmocka_unit_test(test_empty_repeated_fields),
        cmocka_unit_test(test_two_producers_of_one_value),
        cmocka_unit_test(test_node_without_outputs),
        cmocka_unit_test(test_kernel_shape_must_match_the_weight),
        cmocka_unit_test(test_zero_element_input_runs_fused),
        cmocka_unit_test(test_shapes_from_constant_data),
    };
    return cmocka_run_group_tests_name("onnx_hostile", tests, NULL, NULL);
}
