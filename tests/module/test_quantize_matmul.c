/* test_quantize_matmul.c — `quantize` on products of two activations: a two-head
 * self-attention block (tests/module/onnx/attention.onnx, from make_attention_model.py)
 * gets a qmatmul for q k^T and one for softmax . v (module/quant_rewrite.c), both operands
 * quantized per tensor over their calibrated ranges (32 random inputs); fused, its output
 * on 20 held-out random inputs is within 2 % of the f32 model's (max |q - f| / max |f| and
 * relative L2, over all of them), and layer by layer on the reference kernels it gives the
 * fused result. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mlufuse/mlufuse.h"
#include "mlufuse/mlufuse_quant.h"
#include "tests/support/run_graph.h"
#include "tests/support/tool_run.h"

static mf_graph *load_attention(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/module/onnx/attention.onnx", tsupport_source_dir());
    mf_graph *g;
    if (mf_onnx_load(path, 0, &g))
        fail_msg("%s", mf_last_error());
    return g;
}

/* Accumulates max |a - b|, max |b|, sum (a - b)^2 and sum b^2 of one output into e[4]. */
static void add_error(const mf_tensor *a, const mf_tensor *b, double e[4])
{
    const float *x = mf_tensor_data(a), *y = mf_tensor_data(b);
    for (int64_t i = 0; i < mf_tensor_numel(b); i++) {
        double d = (double)x[i] - y[i];
        e[0] = fmax(e[0], fabs(d)), e[1] = fmax(e[1], fabs((double)y[i]));
        e[2] += d * d, e[3] += (double)y[i] * y[i];
    }
}

static int count_op(const mf_graph *g, const char *op)
{
    int n = 0;
    for (int i = 0; i < mf_graph_num_nodes(g); i++)
        n += !strcmp(mf_graph_node_op(g, i), op);
    return n;
}

static void test_quantize_matmul(void **state)
{
    mf_graph *g = load_attention(), *q;
    mf_dtype dt;
    int rank;
    int64_t shape[MF_MAX_RANK];
    assert_int_equal(mf_graph_input_type(g, 0, &dt, &rank, shape), MF_OK);
    enum { NCALIB = 32, NHELD = 20 };
    mf_tensor *calib[NCALIB];
    for (int i = 0; i < NCALIB; i++)
        assert_int_equal(mf_tensor_rand(dt, rank, shape, 1 + (uint64_t)i, 0, 1, MF_DEVICE_CPU, &calib[i]), MF_OK);
    mf_quantize_options o = mf_quantize_default_options();
    o.per_channel = 1;
    o.ncalib = NCALIB;
    o.calib = calib;
    if (mf_quantize(g, &o, &q))
        fail_msg("%s", mf_last_error());
    assert_int_equal(count_op(q, "qmatmul"), 2);
    double e[4] = {0}, same[4] = {0};
    for (int i = 0; i < NHELD; i++) {
        mf_tensor *x;
        assert_int_equal(mf_tensor_rand(dt, rank, shape, 1000001 + (uint64_t)i, 0, 1, MF_DEVICE_CPU, &x), MF_OK);
        mf_tensor *want = tsupport_run_graph(g, x, true, "f32"), *got = tsupport_run_graph(q, x, true, "int8"),
                  *ref = tsupport_run_graph(q, x, false, "int8");
        add_error(got, want, e);
        add_error(got, ref, same);
        mf_tensor_free(want);
        mf_tensor_free(got);
        mf_tensor_free(ref);
        mf_tensor_free(x);
    }
    double max_rel = e[0] / e[1], l2 = sqrt(e[2] / e[3]);
    printf("attention int8 (2 qmatmul) against f32 over %d held-out inputs: max |q - f| / max |f| %.2f %%, "
           "relative L2 %.2f %%\n", NHELD, 100 * max_rel, 100 * l2);
    assert_true(max_rel <= 0.02);
    assert_true(l2 <= 0.02);
    assert_true(same[0] <= 1e-6 * same[1]); /* the fused kernels give the reference's codes */
    for (int i = 0; i < NCALIB; i++)
        mf_tensor_free(calib[i]);
    mf_graph_destroy(q);
    mf_graph_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantize_matmul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
