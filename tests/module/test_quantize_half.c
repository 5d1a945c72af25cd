/* test_quantize_half.c — `quantize --dtype half` (module/quant_half.c): the graph takes and
 * gives f16, its weights and activations are f16 in the printed .mfir, and it computes in f32, so the result
 * on mnist_net, layer by layer and fused, is within 0.3 % (max|a - b| / max|b|) of the f32
 * model on the same (f16-exact) input; constant folding widens the half weights once (a run
 * never converts them); options that need int8 are refused. */
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
#include "mlufuse/mlufuse_passes.h"
#include "mlufuse/mlufuse_quant.h"
#include "tests/support/run_graph.h"
#include "tests/support/tool_run.h"

static mf_graph *load_mnist(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/models/mnist_net/model.onnx", tsupport_shared_dir());
    mf_graph *g;
    if (mf_onnx_load(path, 0, &g))
        fail_msg("%s", mf_last_error());
    return g;
}

/* g run on x (layer by layer, or fused), the output as f32 on the cpu. */
static mf_tensor *run(const mf_graph *g, const mf_tensor *x, bool fused)
{
    mf_tensor *host = tsupport_run_graph(g, x, fused, NULL), *f;
    assert_int_equal(mf_cast(host, MF_F32, &f), MF_OK);
    mf_tensor_free(host);
    return f;
}

static double rel_error(const mf_tensor *a, const mf_tensor *b)
{
    const float *x = mf_tensor_data(a), *y = mf_tensor_data(b);
    double err = 0, scale = 0;
    for (int64_t i = 0; i < mf_tensor_numel(b); i++) {
        err = fmax(err, fabs((double)x[i] - y[i]));
        scale = fmax(scale, fabs((double)y[i]));
    }
    return err / scale;
}

static void test_half_mnist(void **state)
{
    mf_graph *g = load_mnist(), *h;
    mf_quantize_options o = mf_quantize_default_options();
    o.dtype = MF_F16;
    assert_int_equal(mf_quantize(g, &o, &h), MF_OK);
    mf_dtype dt;
    int rank;
    int64_t shape[MF_MAX_RANK];
    assert_int_equal(mf_graph_input_type(h, 0, &dt, &rank, shape), MF_OK);
    assert_int_equal(dt, MF_F16);
    char *text;
    assert_int_equal(mf_graph_print(h, 1, &text), MF_OK);
    assert_null(strstr(text, "const f32")); /* every weight is stored as half */
    assert_non_null(strstr(text, "const f16"));
    free(text);
    mf_tensor *x16, *x32;
    assert_int_equal(mf_tensor_rand(MF_F16, rank, shape, 7, 0, 1, MF_DEVICE_CPU, &x16), MF_OK);
    assert_int_equal(mf_cast(x16, MF_F32, &x32), MF_OK); /* the same numbers, exactly */
    for (int fused = 0; fused < 2; fused++) {
        mf_tensor *want = run(g, x32, fused), *got = run(h, x16, fused);
        double err = rel_error(got, want);
        printf("mnist_net half %s: %.4f %% from f32\n", fused ? "fused" : "layer by layer", 100 * err);
        assert_true(err <= 0.003);
        assert_true(err > 0); /* the weights did change: half is really stored */
        mf_tensor_free(want);
        mf_tensor_free(got);
    }
    mf_tensor_free(x16);
    mf_tensor_free(x32);
    mf_graph_destroy(h);
    mf_graph_destroy(g);
}

static int count_casts(const mf_graph *g)
{
    int n = 0;
    for (int i = 0; i < mf_graph_num_nodes(g); i++)
        n += !strcmp(mf_graph_node_op(g, i), "cast");
    return n;
}

/* Constant folding widens every half weight once, also past its 1 MiB limit (mnist_net's
 * fc1 weight is 4.7 MB in f32): no f16 constant is left, only the activations' casts
 * (the input and the results of mnist_net's 8 compute ops other than the last each
 * widened for its one use, the 9 results narrowed; its reshape is a view of the widened
 * pool output), so the f32 kernels read f32 weights and a run never converts them. */
static void test_half_weights_fold(void **state)
{
    mf_graph *g = load_mnist(), *h;
    mf_quantize_options o = mf_quantize_default_options();
    o.dtype = MF_F16;
    assert_int_equal(mf_quantize(g, &o, &h), MF_OK);
    int before = count_casts(h);
    mf_opt_options oo = mf_opt_default_options();
    oo.passes = "fold,dce";
    assert_int_equal(mf_graph_optimize(h, &oo, NULL), MF_OK);
    char *text;
    assert_int_equal(mf_graph_print(h, 1, &text), MF_OK);
    assert_null(strstr(text, "const f16"));
    free(text);
    assert_int_equal(count_casts(h), 9 + 9);
    assert_true(before > count_casts(h));
    mf_graph_destroy(h);
    mf_graph_destroy(g);
}

static void test_half_refuses_int8_options(void **state)
{
    mf_graph *g = load_mnist(), *h = (mf_graph *)0x1;
    mf_quantize_options o = mf_quantize_default_options();
    o.dtype = MF_F16;
    o.firstconv = 1;
    o.nmean = o.nstd = 1;
    o.mean[0] = 0, o.std[0] = 1;
    assert_int_equal(mf_quantize(g, &o, &h), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "firstconv is for int8"));
    o = mf_quantize_default_options();
    o.dtype = MF_BOOL;
    assert_int_equal(mf_quantize(g, &o, &h), MF_ERR_UNSUPPORTED);
    assert_non_null(strstr(mf_last_error(), "dtype bool is not supported (i8 and f16 are)"));
    mf_graph_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_half_mnist),
        cmocka_unit_test(test_half_weights_fold),
        cmocka_unit_test(test_half_refuses_int8_options),
    };
    return cmocka_run_group_tests_name("quantize_half", tests, NULL, NULL);
}
