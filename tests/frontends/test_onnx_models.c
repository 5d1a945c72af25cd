/* test_onnx_models.c — the shared torchvision models and the YOLOv3-tiny detector (../shared/models) imported from ONNX
 * and run by the interpreter on the reference kernels match PyTorch's golden outputs
 * within 1e-3 (max abs error over max abs output). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "mlufuse/mlufuse.h"
#include "tests/support/compare.h"

static void run_model(const char *name)
{
    const char *shared = getenv("MF_SHARED_DIR");
    char path[1024];
    mf_graph *g;
    mf_tensor *x, *want, *got;
    snprintf(path, sizeof path, "%s/models/%s/model.onnx", shared ? shared : "../../../shared", name);
    if (mf_onnx_load(path, 0, &g) != MF_OK)
        fail_msg("%s", mf_last_error());
    assert_int_equal(mf_graph_verify(g), MF_OK);
    snprintf(path, sizeof path, "%s/models/%s/input.npy", shared ? shared : "../../../shared", name);
    assert_int_equal(mf_tensor_load_npy(path, &x), MF_OK);
    snprintf(path, sizeof path, "%s/models/%s/output.npy", shared ? shared : "../../../shared", name);
    assert_int_equal(mf_tensor_load_npy(path, &want), MF_OK);
    if (mf_graph_interpret(g, 1, &x, 1, &got) != MF_OK)
        fail_msg("%s", mf_last_error());
    assert_int_equal(mf_tensor_numel(got), mf_tensor_numel(want));
    double err = tsupport_rel_diff(got, want, 1e-30);
    printf("%s: relative error %.3g\n", name, err);
    assert_true(err <= 1e-3);
    mf_tensor_free(x);
    mf_tensor_free(want);
    mf_tensor_free(got);
    mf_graph_destroy(g);
}

static void test_mnist_net(void **state) { run_model("mnist_net"); }
static void test_elementwise_chain(void **state) { run_model("elementwise_chain"); }
static void test_mobilenet_v2(void **state) { run_model("mobilenet_v2"); }
static void test_resnet18(void **state) { run_model("resnet18"); }
/* A detector exported from PyTorch: Pad in edge mode, Resize, Concat, LeakyRelu. */
static void test_yolov3_tiny(void **state) { run_model("yolov3_tiny"); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mnist_net),
        cmocka_unit_test(test_elementwise_chain),
        cmocka_unit_test(test_mobilenet_v2),
        cmocka_unit_test(test_resnet18),
        cmocka_unit_test(test_yolov3_tiny),
    };
    return cmocka_run_group_tests_name("onnx_models", tests, NULL, NULL);
}
