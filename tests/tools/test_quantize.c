/* test_quantize.c — post-training int8 quantization end to end:
 *   the seed's quick start step by step on its MNIST net (../shared/models/mnist_net):
 *     quantize with mean [0], std [1/255] and firstconv, run on the CPU, save the .mfir,
 *     reload it and run it on mlu:0 — the same outputs, within 2 % of the f32 net on the
 *     normalized input; and the same through `mlufuse quantize` and `mlufuse run`;
 *   mnist_net, resnet18 and mobilenet_v2 with per-channel weights, calibrated on 32 random
 *     inputs, within 2 % relative L2 of the f32 outputs on held-out random inputs, with
 *     the same top-1 class;
 *   bad options fail with a message naming what is wrong. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlufuse/mlufuse.h"
#include "tests/support/tool_run.h"

static mf_graph *load_model(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/models/%s/model.onnx", tsupport_shared_dir(), name);
    mf_graph *g = NULL;
    if (mf_onnx_load(path, 0, &g) != MF_OK)
        fail_msg("%s", mf_last_error());
    return g;
}

/* n sets of g's single input, uniform in [0, 1) from seed. */
static mf_tensor **random_inputs(const mf_graph *g, int n, uint64_t seed)
{
    mf_dtype dt;
    int rank;
    int64_t shape[MF_MAX_RANK];
    assert_int_equal(mf_graph_input_type(g, 0, &dt, &rank, shape), MF_OK);
    mf_tensor **t = calloc((size_t)n, sizeof *t);
    for (int i = 0; i < n; i++)
        assert_int_equal(mf_tensor_rand(dt, rank, shape, seed + (uint64_t)i, 0, 1, MF_DEVICE_CPU, &t[i]), MF_OK);
    return t;
}

static void free_inputs(mf_tensor **t, int n)
{
    for (int i = 0; i < n; i++)
        mf_tensor_free(t[i]);
    free(t);
}

static double rel_l2(const mf_tensor *got, const mf_tensor *want)
{
    const float *a = mf_tensor_data(got), *b = mf_tensor_data(want);
    double d2 = 0, r2 = 0;
    assert_int_equal(mf_tensor_numel(got), mf_tensor_numel(want));
    for (int64_t i = 0; i < mf_tensor_numel(want); i++)
        d2 += ((double)a[i] - b[i]) * ((double)a[i] - b[i]), r2 += (double)b[i] * b[i];
    return sqrt(d2 / r2);
}

/* The graph's output 0 for x, compiled for `dev` (x is copied there and back). */
static mf_tensor *run_on(const mf_graph *g, mf_device dev, const mf_tensor *x)
{
    mf_module_options mo = mf_module_default_options();
    mo.device = dev;
    mf_module *m;
    mf_tensor *xd, *yd, *y;
    if (mf_module_create(g, &mo, &m) != MF_OK)
        fail_msg("%s", mf_last_error());
    assert_int_equal(mf_tensor_to(x, dev, &xd), MF_OK);
    if (mf_module_run(m, 1, &xd, 1, &yd) != MF_OK)
        fail_msg("%s", mf_last_error());
    assert_int_equal(mf_tensor_to(yd, MF_DEVICE_CPU, &y), MF_OK);
    mf_tensor_free(xd);
    mf_tensor_free(yd);
    mf_module_destroy(m);
    return y;
}

/* x * k, a new cpu tensor. */
static mf_tensor *scaled(const mf_tensor *x, float k)
{
    mf_tensor *y;
    assert_int_equal(mf_mul_scalar(x, k, &y), MF_OK);
    return y;
}

static void test_seed_quick_start(void **state)
{
    mf_graph *net = load_model("mnist_net");
    /* net_quantization = quantize_dynamic_mlu(net, {'mean': [0], 'std': [1/255],
     *                                               'firstconv': True}, dtype='int8') */
    mf_quantize_options o = mf_quantize_default_options();
    o.nmean = o.nstd = 1;
    o.mean[0] = 0, o.std[0] = 1.0f / 255;
    o.firstconv = 1;
    o.ncalib = 8;
    mf_tensor **calib = random_inputs(net, o.ncalib, 1);
    o.calib = calib;
    mf_graph *q = NULL;
    if (mf_quantize(net, &o, &q) != MF_OK)
        fail_msg("%s", mf_last_error());
    /* firstconv: the normalization is folded away, the first op quantizes the raw input */
    char *text = NULL;
    assert_int_equal(mf_graph_print(q, 0, &text), MF_OK);
    assert_null(strstr(text, " = sub("));
    assert_non_null(strstr(text, " = quantize(%input)"));
    assert_non_null(strstr(text, " = qconv2d("));
    /* output = net_quantization(input_data), on the CPU */
    mf_tensor **x = random_inputs(net, 1, 777);
    mf_tensor *cpu_out;
    if (mf_graph_interpret(q, 1, x, 1, &cpu_out) != MF_OK)
        fail_msg("%s", mf_last_error());
    /* torch.save / load_state_dict: the .mfir text carries every scale and weight */
    char dir[128], path[256];
    tsupport_tmpdir("quickstart", dir);
    snprintf(path, sizeof path, "%s/test_quantization.mfir", dir);
    tsupport_write_file(path, text);
    mf_graph *reloaded = NULL;
    assert_int_equal(mf_graph_load(path, &reloaded), MF_OK);
    assert_int_equal(mf_graph_hash(reloaded), mf_graph_hash(q));
    /* net_mlu = net_quantization.to(mlu); output = net_mlu(input_mlu) */
    mf_tensor *mlu_out = run_on(reloaded, MF_DEVICE_MLU(0), x[0]);
    assert_true(rel_l2(mlu_out, cpu_out) <= 1e-6);
    /* against the f32 net on the normalized input (x - 0) / (1/255) */
    mf_tensor *x255 = scaled(x[0], 255), *want = run_on(net, MF_DEVICE_MLU(0), x255);
    double err = rel_l2(mlu_out, want);
    printf("quick start: int8 vs f32 relative L2 %.4f %%\n", 100 * err);
    assert_true(err <= 0.02);
    tsupport_rmdir_all(dir);
    free(text);
    mf_tensor_free(x255), mf_tensor_free(want), mf_tensor_free(mlu_out), mf_tensor_free(cpu_out);
    free_inputs(x, 1);
    free_inputs(calib, o.ncalib);
    mf_graph_destroy(reloaded), mf_graph_destroy(q), mf_graph_destroy(net);
}

static void test_cli_quick_start(void **state)
{
    char dir[128];
    tsupport_tmpdir("quantize_cli", dir);
    const char *shared = tsupport_shared_dir();
    tsupport_run r = tsupport_run_prog("mlufuse", 0,
        "quantize %s/models/mnist_net/model.onnx -o %s/q.mfir --dtype int8 --calib-random 4 "
        "--seed 3 --mean 0 --std 1/255 --firstconv --per-channel --method percentile=99.99", shared, dir);
    if (r.rc)
        fail_msg("quantize: rc %d: %s", r.rc, r.err);
    assert_non_null(strstr(r.out, "4 calibration sets"));
    tsupport_run_free(&r);
    r = tsupport_run_prog("mlufuse", 0, "run %s/q.mfir --random", dir);
    if (r.rc)
        fail_msg("run: rc %d: %s", r.rc, r.err);
    tsupport_run_free(&r);
    /* a .npy file calibrates as well; the report compares on held-out inputs */
    r = tsupport_run_prog("mlufuse", 0,
        "quantize %s/models/mnist_net/model.onnx -o %s/q2.mfir --calib %s/models/mnist_net/input.npy "
        "--method entropy --report --held-out 3", shared, dir, shared);
    if (r.rc)
        fail_msg("quantize --report: rc %d: %s", r.rc, r.err);
    assert_non_null(strstr(r.out, "relative L2 error: "));
    assert_non_null(strstr(r.out, "top-1 agreement: "));
    assert_non_null(strstr(r.out, "<- worst"));
    tsupport_run_free(&r);
    /* opt --explain names the layers of a quantized graph that stayed f32, and why */
    char path[256];
    snprintf(path, sizeof path, "%s/mixed.mfir", dir);
    tsupport_write_file(path,
        "graph @mixed(%x: f32[1,2,5,5], %w: f32[4,2,3,3]) {\n"
        "  %qw = const i8[4,2,3,3] opaque\n"
        "  %s = const f32[1] dense<0.5>\n"
        "  %q = quantize(%x) {scale=0.1} : i8[1,2,5,5]\n"
        "  %c = qconv2d(%q, %qw, %s) {x_scale=0.1, y_scale=0.2} : i8[1,4,3,3]\n"
        "  %d = dequantize(%c) {scale=0.2} : f32[1,4,3,3]\n"
        "  %f = conv2d(%x, %w) : f32[1,4,3,3]\n"
        "  %a = add(%d, %f) : f32[1,4,3,3]\n"
        "  return %a\n"
        "}\n");
    r = tsupport_run_prog("mlufuse", 0, "opt %s --explain", path);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "int8 layers: 1\n"));
    assert_non_null(strstr(r.out, "stayed f32: conv2d %f: its weights are computed, not constants\n"));
    assert_non_null(strstr(r.out, "stayed f32: add %a: an operand is f32 only\n"));
    tsupport_run_free(&r);
    /* --ubsw-pairs says how many convolutions got limited pairs: every one with 0 (no limit
     * on the error), none with a limit no layer's rounding error meets */
    r = tsupport_run_prog("mlufuse", 0,
        "quantize %s/models/mnist_net/model.onnx -o %s/u.mfir --calib-random 2 --ubsw-pairs --ubsw-max-error 0",
        shared, dir);
    if (r.rc)
        fail_msg("quantize --ubsw-pairs: rc %d: %s", r.rc, r.err);
    assert_non_null(strstr(r.out, "vpmaddubsw pairs: 1 of 1 convolutions limited, 0 kept their weights "
                                  "(--ubsw-max-error 0: every layer), 1 run as f32 Winograd without VNNI\n"));
    tsupport_run_free(&r);
    r = tsupport_run_prog("mlufuse", 0,
        "quantize %s/models/mnist_net/model.onnx -o %s/u.mfir --calib-random 2 --ubsw-pairs --ubsw-max-error 1e-12",
        shared, dir);
    if (r.rc)
        fail_msg("quantize --ubsw-pairs: rc %d: %s", r.rc, r.err);
    assert_non_null(strstr(r.out, "vpmaddubsw pairs: 0 of 1 convolutions limited, 1 kept their weights"));
    tsupport_run_free(&r);
    /* usage errors */
    r = tsupport_run_prog("mlufuse", 0, "quantize %s/models/mnist_net/model.onnx -o %s/x.mfir", shared, dir);
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(r.err, "--calib"));
    tsupport_run_free(&r);
    r = tsupport_run_prog("mlufuse", 0,
        "quantize %s/models/mnist_net/model.onnx -o %s/x.mfir --calib-random 1 --ubsw-pairs --ubsw-max-error -1",
        shared, dir);
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(r.err, "--ubsw-max-error -1: expected a number >= 0"));
    tsupport_run_free(&r);
    r = tsupport_run_prog("mlufuse", 0,
        "quantize %s/models/mnist_net/model.onnx -o %s/x.mfir --calib-random 1 --mean 0,0 --std 1,1", shared, dir);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "2 mean/std values for an input of 1 channels"));
    tsupport_run_free(&r);
    tsupport_rmdir_all(dir);
}

/* With pairs some qconv2d promise limited weight pairs (w_pair_max = 128, checked on the
 * weights by the verifier); without, none does.  Returns how many do (counted in the text
 * too), and in *nconv those that could (not depthwise, not run as f32 Winograd without
 * VNNI: mf_quant_pair_counts). */
static int check_pairs(const mf_graph *q, bool pairs, int *nconv)
{
    char *text = NULL;
    assert_int_equal(mf_graph_print(q, 1, &text), MF_OK);
    int n = 0;
    for (const char *p = strstr(text, "w_pair_max=128"); p; p = strstr(p + 1, "w_pair_max=128"))
        n++;
    free(text);
    int limited, kept, winograd;
    mf_quant_pair_counts(q, &limited, &kept, &winograd);
    assert_int_equal(limited, n);
    *nconv = limited + kept;
    assert_true(pairs ? n > 0 : n == 0);
    return n;
}

/* Per-channel int8 within `limit` relative L2 of f32 (the 2 %) and the same top-1 on
 * held-out inputs; with pairs, conv weights for AVX2's vpmaddubsw (--ubsw-pairs) in the
 * layers whose weight error stays within max_error.  Returns the qconv2d layers with
 * limited pairs, and in *nconv all qconv2d. */
static int check_model_as(const char *name, int held_out, bool pairs, double max_error, double limit, int *nconv)
{
    mf_graph *g = load_model(name);
    mf_quantize_options o = mf_quantize_default_options();
    o.per_channel = 1;
    o.ubsw_pairs = pairs;
    o.ubsw_max_error = max_error;
    o.ncalib = 32;
    mf_tensor **calib = random_inputs(g, o.ncalib, 1), **held = random_inputs(g, held_out, 1000);
    o.calib = calib;
    mf_graph *q = NULL;
    mf_quant_report rep;
    if (mf_quantize_with_report(g, &o, held_out, held, &q, &rep) != MF_OK)
        fail_msg("%s: %s", name, mf_last_error());
    int n = check_pairs(q, pairs, nconv);
    printf("%s%s: relative L2 %.4f %%, top-1 %d / %d, %d int8 layers, %d / %d qconv2d with limited pairs\n", name,
           pairs ? " (ubsw pairs)" : "", 100 * rep.rel_l2, rep.top1_agree, rep.top1_total, rep.nlayers, n, *nconv);
    assert_true(rep.rel_l2 <= limit);
    assert_int_equal(rep.top1_agree, rep.top1_total);
    assert_int_equal(rep.top1_total, held_out);
    assert_true(rep.nlayers > 0);
    for (int i = 0; i < rep.nlayers; i++)
        assert_true(rep.layers[i].rel_l2 > 0 && rep.layers[i].rel_l2 < 0.05);
    mf_quant_report_free(&rep);
    free_inputs(calib, o.ncalib);
    free_inputs(held, held_out);
    mf_graph_destroy(q);
    mf_graph_destroy(g);
    return n;
}

static void check_model(const char *name, int held_out)
{
    int nconv;
    check_model_as(name, held_out, false, MF_UBSW_MAX_ERROR_DEFAULT, 0.02, &nconv);
}

static void test_mnist_net_int8(void **state) { check_model("mnist_net", 50); }
static void test_resnet18_int8(void **state) { check_model("resnet18", 4); }
static void test_mobilenet_v2_int8(void **state) { check_model("mobilenet_v2", 4); }
/* the weights' scales grow where a pair would pass the limit: a little less accurate.  Of
 * resnet18's 20 qconv2d, the ten 3x3 stride-1 ones that targets without VNNI run as f32
 * Winograd never take pairs; the other ten do with 0 (every layer) and with the default bound
 * (their weights err by 1.15 % at most with pairs), and a bound of 0.0112 keeps the plain
 * codes of the three 512-channel 3x3 layers (1.14-1.15 %) */
static void test_resnet18_int8_pairs(void **state)
{
    int nconv, all = check_model_as("resnet18", 4, true, 0, 0.02, &nconv);
    assert_int_equal(all, nconv);
    assert_int_equal(nconv, 10);
    assert_int_equal(check_model_as("resnet18", 4, true, MF_UBSW_MAX_ERROR_DEFAULT, 0.02, &nconv), all);
    assert_int_equal(check_model_as("resnet18", 4, true, 0.0112, 0.02, &nconv), all - 3);
}
static void test_mnist_net_int8_pairs(void **state)
{
    int nconv;
    check_model_as("mnist_net", 50, true, 0, 0.02, &nconv);
}

/* Counts past int (wrapped), sets x inputs past int (an overflowed loop bound left the
 * inputs NULL), a negative batch (ignored): refused with exit 2. */
static void test_cli_bad_counts(void **state)
{
    static const char *bad[][2] = {
        {"--calib-random 4294967298", "bad number '4294967298'"},
        {"--calib-random 1500000000", "take at most 1000000 sets"},
        {"--calib-random 1 --report --held-out 2000000", "take at most 1000000 sets"},
        {"--calib-random 1 --batch -5", "--batch must not be negative"},
        {"--calib-random 2 --iterations ''", "bad number ''"},
        {"--calib-random 2 --batch ''", "bad number ''"},
        {"--calib-random 2 --method percentile=", "bad number 'percentile='"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tsupport_run r = tsupport_run_prog("mlufuse", 1, "quantize %s/models/mnist_net/model.onnx -o /nonexistent/q.mfir %s",
                                           tsupport_shared_dir(), bad[i][0]);
        if (r.rc != 2 || !strstr(r.out, bad[i][1]))
            fail_msg("%s: rc %d: %s", bad[i][0], r.rc, r.out);
        tsupport_run_free(&r);
    }
}

static void test_bad_options(void **state)
{
    mf_graph *g = load_model("mnist_net"), *q = (mf_graph *)0x1;
    mf_quantize_options o = mf_quantize_default_options();
    assert_int_equal(mf_quantize(g, &o, &q), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "no calibration inputs"));
    assert_null(q);
    mf_tensor **calib = random_inputs(g, 1, 1);
    o.calib = calib, o.ncalib = 1;
    o.firstconv = 1;
    assert_int_equal(mf_quantize(g, &o, &q), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "firstconv needs mean and std"));
    o.firstconv = 0, o.dtype = MF_BOOL;
    assert_int_equal(mf_quantize(g, &o, &q), MF_ERR_UNSUPPORTED);
    o.dtype = MF_I8, o.method = MF_QUANT_PERCENTILE, o.percentile = 20;
    assert_int_equal(mf_quantize(g, &o, &q), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "percentile 20"));
    free_inputs(calib, 1);
    mf_graph_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_quick_start),
        cmocka_unit_test(test_cli_quick_start),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_cli_bad_counts),
        cmocka_unit_test(test_mnist_net_int8),
        cmocka_unit_test(test_resnet18_int8),
        cmocka_unit_test(test_mobilenet_v2_int8),
        cmocka_unit_test(test_mnist_net_int8_pairs),
        cmocka_unit_test(test_resnet18_int8_pairs),
    };
    return cmocka_run_group_tests_name("quantize", tests, NULL, NULL);
}
