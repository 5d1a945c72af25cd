/* test_trace.c — the trace recorder: a traced graph computes what the eager calls did,
 * tensors from before the trace become constants held by reference, and misuse of the
 * begin/end protocol is reported without leaking or corrupting the next trace. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/mnist.h"

static float max_abs_diff(const mf_tensor *a, const mf_tensor *b)
{
    const float *x = mf_tensor_data(a), *y = mf_tensor_data(b);
    float d = 0;
    assert_int_equal(mf_tensor_numel(a), mf_tensor_numel(b));
    for (int64_t i = 0; i < mf_tensor_numel(a); i++)
        d = fmaxf(d, fabsf(x[i] - y[i]));
    return d;
}

static void test_traced_mnist_equals_eager(void **state)
{
    mnist_net net;
    mf_tensor *x, *x2, *eager, *traced, *replayed, *replayed2, *eager2;
    mf_graph *g;
    assert_int_equal(mnist_init(&net, 3, MF_DEVICE_CPU), MF_OK);
    assert_int_equal(mf_tensor_rand(MF_F32, 4, (int64_t[]){2, 1, 28, 28}, 5, 0, 1, MF_DEVICE_CPU, &x), MF_OK);
    assert_int_equal(mnist_forward(&net, x, &eager), MF_OK);

    assert_int_equal(mf_trace_begin(1, &x), MF_OK);
    assert_true(mf_trace_active());
    assert_int_equal(mnist_forward(&net, x, &traced), MF_OK);
    assert_int_equal(mf_trace_end(1, &traced, &g), MF_OK);
    assert_false(mf_trace_active());
    assert_int_equal(mf_graph_verify(g), MF_OK);
    assert_int_equal(mf_graph_num_nodes(g), 12);
    assert_int_equal(mf_graph_num_inputs(g), 1);
    /* the traced call still computed its result */
    assert_true(max_abs_diff(eager, traced) == 0.0f);

    /* weights are referenced by the graph: freeing the model does not break it */
    mnist_free(&net);
    assert_int_equal(mf_graph_interpret(g, 1, &x, 1, &replayed), MF_OK);
    assert_true(max_abs_diff(eager, replayed) <= 1e-6f);

    /* a new input gives a new, different answer, the same as eager on it */
    assert_int_equal(mf_tensor_rand(MF_F32, 4, (int64_t[]){2, 1, 28, 28}, 6, 0, 1, MF_DEVICE_CPU, &x2), MF_OK);
    assert_int_equal(mf_graph_interpret(g, 1, &x2, 1, &replayed2), MF_OK);
    assert_true(max_abs_diff(replayed, replayed2) > 1e-4f);
    assert_int_equal(mnist_init(&net, 3, MF_DEVICE_CPU), MF_OK);
    assert_int_equal(mnist_forward(&net, x2, &eager2), MF_OK);
    assert_true(max_abs_diff(eager2, replayed2) <= 1e-6f);

    mf_tensor *all[] = {x, x2, eager, traced, replayed, replayed2, eager2};
    for (int i = 0; i < 7; i++)
        mf_tensor_free(all[i]);
    mnist_free(&net);
    mf_graph_destroy(g);
}

static void test_outside_tensors_become_constants(void **state)
{
    mf_tensor *x, *w, *y, *z;
    mf_graph *g;
    char *text;
    assert_int_equal(mf_tensor_from_data(MF_F32, 1, (int64_t[]){2}, (float[]){1, 2}, 8, &x), MF_OK);
    assert_int_equal(mf_tensor_from_data(MF_F32, 1, (int64_t[]){2}, (float[]){10, 20}, 8, &w), MF_OK);
    assert_int_equal(mf_trace_begin(1, &x), MF_OK);
    assert_int_equal(mf_mul(x, w, &y), MF_OK);
    assert_int_equal(mf_add_scalar(y, 0.5, &z), MF_OK);
    assert_int_equal(mf_trace_end(1, &z, &g), MF_OK);
    assert_int_equal(mf_graph_print(g, 0, &text), MF_OK);
    assert_non_null(strstr(text, "const f32[2] dense<10, 20>"));
    assert_non_null(strstr(text, "const f32[] dense<0.5>"));
    assert_non_null(strstr(text, "= mul("));
    free(text);
    /* held by reference: writing the weight after tracing is seen by the graph */
    ((float *)mf_tensor_data_mut(w))[0] = 100;
    mf_tensor *out;
    assert_int_equal(mf_graph_interpret(g, 1, &x, 1, &out), MF_OK);
    assert_true(((const float *)mf_tensor_data(out))[0] == 100.5f);
    mf_tensor_free(out);
    mf_tensor *all[] = {x, w, y, z};
    for (int i = 0; i < 4; i++)
        mf_tensor_free(all[i]);
    mf_graph_destroy(g);
}

static void test_protocol_errors(void **state)
{
    mf_tensor *x, *y, *stranger;
    mf_graph *g = NULL;
    assert_int_equal(mf_tensor_zeros(MF_F32, 1, (int64_t[]){3}, MF_DEVICE_CPU, &x), MF_OK);
    assert_int_equal(mf_tensor_zeros(MF_F32, 1, (int64_t[]){3}, MF_DEVICE_CPU, &stranger), MF_OK);
    assert_int_equal(mf_trace_end(1, &x, &g), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "no trace is active"));
    assert_int_equal(mf_trace_begin(1, &x), MF_OK);
    assert_int_equal(mf_trace_begin(1, &x), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "already active"));
    assert_int_equal(mf_relu(x, &y), MF_OK);
    assert_int_equal(mf_trace_end(1, &stranger, &g), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "output 0 was not computed inside the trace"));
    assert_null(g);
    assert_true(mf_trace_active()); /* still recording: the caller may end it properly */
    assert_int_equal(mf_trace_end(1, &y, &g), MF_OK);
    mf_graph_destroy(g);
    /* a failing op inside a trace is not recorded; abort drops the trace */
    assert_int_equal(mf_trace_begin(1, &x), MF_OK);
    mf_tensor *bad = NULL;
    assert_int_equal(mf_softmax(x, 4, &bad), MF_ERR_INVALID);
    mf_trace_abort();
    assert_false(mf_trace_active());
    mf_tensor_free(x);
    mf_tensor_free(y);
    mf_tensor_free(stranger);
}

static void test_interpret_errors(void **state)
{
    mf_tensor *x, *y, *wrong, *out = NULL;
    mf_graph *g;
    assert_int_equal(mf_tensor_zeros(MF_F32, 2, (int64_t[]){2, 3}, MF_DEVICE_CPU, &x), MF_OK);
    assert_int_equal(mf_tensor_zeros(MF_F32, 2, (int64_t[]){3, 2}, MF_DEVICE_CPU, &wrong), MF_OK);
    assert_int_equal(mf_trace_begin(1, &x), MF_OK);
    assert_int_equal(mf_sigmoid(x, &y), MF_OK);
    assert_int_equal(mf_trace_end(1, &y, &g), MF_OK);
    assert_int_equal(mf_graph_interpret(g, 1, &wrong, 1, &out), MF_ERR_SHAPE);
    assert_non_null(strstr(mf_last_error(), "input 0 is f32[3,2], expected f32[2,3]"));
    assert_int_equal(mf_graph_interpret(g, 0, NULL, 1, &out), MF_ERR_INVALID);
    assert_int_equal(mf_graph_interpret(g, 1, &x, 2, &out), MF_ERR_INVALID);
    assert_null(out);
    assert_int_equal(mf_graph_interpret(g, 1, &x, 1, &out), MF_OK);
    assert_true(((const float *)mf_tensor_data(out))[0] == 0.5f); /* sigmoid(0) */
    mf_tensor_free(out);
    mf_tensor_free(x);
    mf_tensor_free(y);
    mf_tensor_free(wrong);
    mf_graph_destroy(g);
}

/* A traced chain of casts prints as .mfir, parses back to the same text and hash, and the
 * parsed graph computes the bytes the eager calls did. */
static void test_traced_cast_roundtrips_mfir(void **state)
{
    const float xs[] = {-1.5f, 0.25f, 2.75f, -3.5f, 7.9f, 0.0f};
    mf_tensor *x, *a, *b, *c, *y, *out;
    mf_graph *g, *g2;
    char *text, *text2;
    assert_int_equal(mf_tensor_from_data(MF_F32, 2, (int64_t[]){2, 3}, xs, sizeof xs, &x), MF_OK);
    assert_int_equal(mf_trace_begin(1, &x), MF_OK);
    assert_int_equal(mf_cast(x, MF_I32, &a), MF_OK);
    assert_int_equal(mf_cast(a, MF_F32, &b), MF_OK);
    assert_int_equal(mf_relu(b, &c), MF_OK);
    assert_int_equal(mf_cast(c, MF_F16, &y), MF_OK);
    assert_int_equal(mf_trace_end(1, &y, &g), MF_OK);
    assert_int_equal(mf_graph_num_nodes(g), 4);
    assert_int_equal(mf_graph_print(g, 0, &text), MF_OK);
    assert_non_null(strstr(text, " = cast(%0) {to=3} : i32[2,3]\n"));
    assert_non_null(strstr(text, ") {to=0} : f32[2,3]\n"));
    assert_non_null(strstr(text, ") {to=1} : f16[2,3]\n"));
    if (mf_graph_parse(text, "traced", &g2) != MF_OK)
        fail_msg("%s\n%s", mf_last_error(), text);
    assert_int_equal(mf_graph_verify(g2), MF_OK);
    assert_int_equal(mf_graph_print(g2, 0, &text2), MF_OK);
    assert_string_equal(text, text2);
    assert_true(mf_graph_hash(g) == mf_graph_hash(g2));
    assert_int_equal(mf_graph_interpret(g2, 1, &x, 1, &out), MF_OK);
    assert_int_equal(mf_tensor_dtype(out), MF_F16);
    const uint16_t want[] = {0x0000, 0x0000, 0x4000, 0x0000, 0x4700, 0x0000}; /* 0 0 2 0 7 0 */
    assert_memory_equal(mf_tensor_data(y), want, sizeof want);
    assert_memory_equal(mf_tensor_data(out), want, sizeof want);
    free(text);
    free(text2);
    mf_tensor *all[] = {x, a, b, c, y, out};
    for (int i = 0; i < 6; i++)
        mf_tensor_free(all[i]);
    mf_graph_destroy(g);
    mf_graph_destroy(g2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_traced_mnist_equals_eager),
        cmocka_unit_test(test_outside_tensors_become_constants),
        cmocka_unit_test(test_protocol_errors),
        cmocka_unit_test(test_interpret_errors),
        cmocka_unit_test(test_traced_cast_roundtrips_mfir),
    };
    return cmocka_run_group_tests_name("trace", tests, NULL, NULL);
}
