/* test_verify.c — the IR verifier: a valid graph passes; graphs broken by editing the
 * structures directly (as a buggy pass would) are rejected with a message naming the
 * node, its op and the value at fault. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

/* x -> conv2d(x, w, b) -> relu -> add(relu, conv) ; returns add */
static mf_graph *build(void)
{
    mf_graph *g = NULL;
    static const char text[] = "graph @v(%x: f32[1,2,5,5]) {\n"
                               "  %w = const f32[3,2,3,3] opaque\n"
                               "  %b = const f32[3] dense<1, 2, 3>\n"
                               "  %c = conv2d(%x, %w, %b) : f32[1,3,3,3]\n"
                               "  %r = relu(%c) : f32[1,3,3,3]\n"
                               "  %s = add(%r, %c) : f32[1,3,3,3]\n"
                               "  return %s\n"
                               "}\n";
    assert_int_equal(mf_graph_parse(text, NULL, &g), MF_OK);
    assert_int_equal(mf_graph_verify(g), MF_OK);
    return g;
}

static void expect_rejected(mf_graph *g, const char *phrase)
{
    mf_status s = mf_graph_verify(g);
    assert_int_not_equal(s, MF_OK);
    if (!strstr(mf_last_error(), phrase))
        fail_msg("message \"%s\" lacks \"%s\"", mf_last_error(), phrase);
}

static void test_valid_graphs_pass(void **state)
{
    mf_graph *g = build();
    assert_int_equal(mf_graph_verify(g), MF_OK);
    mf_graph_destroy(g);
    assert_int_equal(mf_graph_verify(NULL), MF_ERR_INVALID);
}

static void test_use_before_def(void **state)
{
    mf_graph *g = build();
    g->nodes[1]->inputs[0] = g->nodes[2]->outputs[0];
    expect_rejected(g, "node 1 (relu): input %s is used before it is defined");
    mf_graph_destroy(g);
}

static void test_unnamed_value_named_by_id(void **state)
{
    mf_graph *g = build();
    g->nodes[2]->outputs[0]->name = NULL;
    g->nodes[0]->inputs[0] = g->nodes[2]->outputs[0];
    expect_rejected(g, "node 0 (conv2d): input %5 is used before it is defined");
    mf_graph_destroy(g);
}

static void test_stale_output_type(void **state)
{
    mf_graph *g = build();
    g->nodes[1]->outputs[0]->type.shape[1] = 7;
    expect_rejected(g, "node 1 (relu): output %r is f32[1,7,3,3] but the op gives f32[1,3,3,3]");
    mf_graph_destroy(g);
}

static void test_attribute_of_wrong_type(void **state)
{
    mf_graph *g = build();
    g->nodes[0]->attrs[3].type = MF_ATTR_FLOAT; /* groups */
    expect_rejected(g, "node 0 (conv2d): attribute groups has the wrong type");
    mf_graph_destroy(g);
}

static void test_invalid_attribute_value(void **state)
{
    mf_graph *g = build();
    g->nodes[0]->attrs[0].ints[1] = 0; /* stride */
    expect_rejected(g, "node 0: conv2d(f32[1,2,5,5], f32[3,2,3,3], f32[3]): attribute stride[1] = 0");
    mf_graph_destroy(g);
}

static void test_wrong_arity(void **state)
{
    mf_graph *g = build();
    g->nodes[1]->ninputs = 2; /* relu(%c, <garbage>): the count is checked first */
    expect_rejected(g, "node 1 (relu) has 2 inputs");
    g->nodes[1]->ninputs = 1;
    mf_graph_destroy(g);
}

static void test_constant_data_size(void **state)
{
    mf_graph *g = build();
    mf_value *b = g->values[2];
    mf_buffer *old = b->data;
    b->data = mf_buffer_new_host(8);
    expect_rejected(g, "constant %b holds 8 bytes, its type needs 12");
    mf_buffer_release(b->data);
    b->data = old;
    mf_graph_destroy(g);
}

/* qconv2d's w_pair_max: a constant weight pair of one sign summing past it is rejected
 * (the vpmaddubsw path relies on it); pairs are (2j, 2j + 1) of each output channel's row. */
static void test_weight_pairs(void **state)
{
    mf_graph *g = NULL;
    static const char text[] = "graph @q(%x: i8[1,3,2,2]) {\n"
                               "  %w = const i8[2,3,1,1] dense<100, 28, 127, -70, -58, 127>\n"
                               "  %s = const f32[1] dense<0.01>\n"
                               "  %y = qconv2d(%x, %w, %s) {x_scale=0.1, y_scale=0.1, w_pair_max=128} : i8[1,2,2,2]\n"
                               "  return %y\n"
                               "}\n";
    assert_int_equal(mf_graph_parse(text, NULL, &g), MF_OK);
    assert_int_equal(mf_graph_verify(g), MF_OK); /* 127 + -70 across rows: not a pair */
    int8_t *q = g->values[1]->data->data;
    q[1] = 29;
    expect_rejected(g, "weights 100, 29 (channel 0, k 0) sum past w_pair_max = 128");
    q[1] = 28, q[4] = -59;
    expect_rejected(g, "weights -70, -59 (channel 1, k 0)");
    mf_graph_destroy(g);
    /* a promise outside 0..256 is refused where the op's attributes are checked */
    char bad[sizeof text + 8];
    snprintf(bad, sizeof bad, "%.*s300%s", (int)(strstr(text, "128}") - text), text, strstr(text, "}"));
    g = NULL;
    assert_int_not_equal(mf_graph_parse(bad, NULL, &g), MF_OK);
    assert_non_null(strstr(mf_last_error(), "w_pair_max = 300, must be in 0..256"));
    mf_graph_destroy(g);
}

static void test_input_that_is_constant_or_produced(void **state)
{
    mf_graph *g = build();
    g->inputs[0]->is_const = true;
    expect_rejected(g, "graph input 0 (%x) is a constant");
    g->inputs[0]->is_const = false;
    g->inputs[0]->producer = g->nodes[0];
    expect_rejected(g, "graph input 0 (%x) is produced by a node");
    mf_graph_destroy(g);
}

static void test_outputs(void **state)
{
    mf_graph *g = build(), *other = build();
    g->noutputs = 0;
    expect_rejected(g, "has no outputs");
    g->noutputs = 1;
    g->outputs[0] = other->values[3];
    expect_rejected(g, "graph output 0 is not a defined value of the graph");
    mf_graph_destroy(other);
    mf_graph_destroy(g);
}

static void test_value_ids(void **state)
{
    mf_graph *g = build();
    mf_value *t = g->values[1];
    g->values[1] = g->values[2];
    g->values[2] = t;
    expect_rejected(g, "value 1 has id 2");
    mf_graph_destroy(g);
}

static void test_value_produced_twice(void **state)
{
    mf_graph *g = build();
    mf_value *own = g->nodes[2]->outputs[0];
    g->nodes[2]->outputs[0] = g->nodes[1]->outputs[0];
    expect_rejected(g, "node 2 (add): output %r is defined twice");
    g->nodes[2]->outputs[0] = own;
    mf_graph_destroy(g);
}

static void test_input_from_another_graph(void **state)
{
    mf_graph *g = build(), *other = build();
    g->nodes[2]->inputs[1] = other->values[4];
    expect_rejected(g, "node 2 (add): input 1 is not a value of the graph");
    mf_graph_destroy(other);
    mf_graph_destroy(g);
}

static void test_unknown_op_and_node_ids(void **state)
{
    mf_graph *g = build();
    g->nodes[1]->id = 5;
    expect_rejected(g, "node 1 (relu) has id 5");
    g->nodes[1]->id = 1;
    g->nodes[1]->op = MF_OP_COUNT;
    expect_rejected(g, "node 1 has unknown op");
    g->nodes[1]->op = MF_OP_RELU;
    assert_int_equal(mf_graph_verify(g), MF_OK);
    mf_graph_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_graphs_pass),
        cmocka_unit_test(test_use_before_def),
        cmocka_unit_test(test_unnamed_value_named_by_id),
        cmocka_unit_test(test_stale_output_type),
        cmocka_unit_test(test_attribute_of_wrong_type),
        cmocka_unit_test(test_invalid_attribute_value),
        cmocka_unit_test(test_wrong_arity),
        cmocka_unit_test(test_constant_data_size),
        cmocka_unit_test(test_weight_pairs),
        cmocka_unit_test(test_input_that_is_constant_or_produced),
        cmocka_unit_test(test_outputs),
        cmocka_unit_test(test_value_ids),
        cmocka_unit_test(test_value_produced_twice),
        cmocka_unit_test(test_input_from_another_graph),
        cmocka_unit_test(test_unknown_op_and_node_ids),
    };
    return cmocka_run_group_tests_name("verify", tests, NULL, NULL);
}
