/* test_onnx_staged.c — staged runs (mf_onnx_program) of exported models whose shapes depend
 * on their data (tests/models/make_staged.py): an SSD-style head that thresholds its scores
 * (NonZero) and runs batched NMS, at opsets 11 and 17 and with nothing passing its threshold
 * (opset 13: empty outputs); a scripted If on a computed condition and a Loop of a computed
 * count.  Each matches PyTorch; a static model runs as one stage; malformed and runaway
 * control flow is refused with a clear error. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlufuse/mlufuse.h"
#include "tests/support/compare.h"

#define MAX_IO 8

static const char *models_dir(void)
{
    const char *src = getenv("MF_SOURCE_DIR");
    return src ? src : "../..";
}

static mf_onnx_program *load(const char *rel)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/tests/models/%s/model.onnx", models_dir(), rel);
    mf_module_options o = mf_module_default_options();
    o.tier = MF_TIER_FAST; /* no LLVM compile: the unit tier */
    mf_onnx_program *p = NULL;
    if (mf_onnx_program_load(path, &o, &p))
        fail_msg("%s: %s", rel, mf_last_error());
    return p;
}

/* Runs tests/models/REL on its inputs; every output matches PyTorch's (dtype, shape, and
 * values within 1e-3, integers exactly).  Returns the number of stages. */
static int run_matches(const char *rel)
{
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/tests/models/%s", models_dir(), rel);
    mf_tensor *in[MAX_IO] = {0}, *want[MAX_IO] = {0}, *got[MAX_IO] = {0};
    int nin = tsupport_load_npys(dir, "input", MAX_IO, in), nout = tsupport_load_npys(dir, "output", MAX_IO, want);
    mf_onnx_program *p = load(rel);
    assert_int_equal(mf_onnx_program_num_inputs(p), nin);
    assert_int_equal(mf_onnx_program_num_outputs(p), nout);
    if (mf_onnx_program_run(p, nin, in, nout, got))
        fail_msg("%s: %s", rel, mf_last_error());
    for (int k = 0; k < nout; k++) {
        char g[128], w[128];
        mf_tensor_describe(got[k], g, sizeof g);
        mf_tensor_describe(want[k], w, sizeof w);
        if (strcmp(g, w))
            fail_msg("%s: output %d is %s, PyTorch's %s", rel, k, g, w);
        int64_t n = mf_tensor_numel(want[k]);
        if (mf_tensor_dtype(want[k]) == MF_F32 && n) {
            double d = tsupport_rel_diff(got[k], want[k], 1e-6);
            if (d > 1e-3)
                fail_msg("%s: output %d differs by %g", rel, k, d);
        } else if (n) {
            assert_memory_equal(mf_tensor_data(got[k]), mf_tensor_data(want[k]), mf_tensor_nbytes(want[k]));
        }
    }
    int stages = mf_onnx_program_num_stages(p);
    for (int k = 0; k < MAX_IO; k++) {
        mf_tensor_free(in[k]);
        mf_tensor_free(want[k]);
        mf_tensor_free(got[k]);
    }
    mf_onnx_program_destroy(p);
    return stages;
}

static void test_ssd_post_op11(void **state)
{
    (void)state;
    assert_true(run_matches("staged/ssd_post_op11") >= 2);
}

static void test_ssd_post_op17(void **state)
{
    (void)state;
    assert_true(run_matches("staged/ssd_post_op17") >= 2);
}

static void test_ssd_empty_op13(void **state)
{
    (void)state;
    assert_true(run_matches("staged/ssd_empty_op13") >= 2);
}

static void test_if_loop_computed(void **state)
{
    (void)state;
    assert_true(run_matches("staged/if_loop_op13") >= 2);
}

/* A model without data-dependent shapes is one stage, and matches as the static import does. */
static void test_static_model_one_stage(void **state)
{
    (void)state;
    assert_int_equal(run_matches("exports/yolo_head_op11"), 1);
}

/* Refused with a message naming what is wrong, never a crash. */
static void expect_refused(const char *name, const char *msg)
{
    char rel[256];
    snprintf(rel, sizeof rel, "staged/bad/%s", name);
    char path[1200];
    snprintf(path, sizeof path, "%s/tests/models/%s.onnx", models_dir(), rel);
    mf_onnx_program *p = NULL;
    assert_int_equal(mf_onnx_program_load(path, NULL, &p), MF_OK);
    int64_t shape[1] = {2};
    float x[2] = {1, 2};
    mf_tensor *in, *out = NULL;
    assert_int_equal(mf_tensor_from_data(MF_F32, 1, shape, x, sizeof x, &in), MF_OK);
    mf_status s = mf_onnx_program_run(p, 1, &in, 1, &out);
    assert_int_not_equal(s, MF_OK);
    assert_null(out);
    if (!strstr(mf_last_error(), msg))
        fail_msg("%s: '%s' does not say '%s'", name, mf_last_error(), msg);
    mf_tensor_free(in);
    mf_onnx_program_destroy(p);
}

static void test_bad_control_flow(void **state)
{
    (void)state;
    expect_refused("if_no_branch", "has no else_branch graph");
    expect_refused("if_cond_shape", "the condition has 3 elements");
    expect_refused("loop_arity", "its body has 2 inputs");
    expect_refused("loop_huge", "more than the 4096 iterations");
    expect_refused("loop_forever", "runs past the 4096 iterations");
    expect_refused("loop_nested", "past 65536 iterations in all");
    /* and bad calls */
    mf_onnx_program *p = load("staged/if_loop_op13");
    mf_tensor *out[2] = {0};
    assert_int_equal(mf_onnx_program_run(p, 0, NULL, 2, out), MF_ERR_INVALID);
    assert_int_equal(mf_onnx_program_run(p, 0, NULL, 1, out), MF_ERR_INVALID);
    mf_onnx_program_destroy(p);
    assert_int_equal(mf_onnx_program_load("/nonexistent.onnx", NULL, &p), MF_ERR_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ssd_post_op11),    cmocka_unit_test(test_ssd_post_op17),
        cmocka_unit_test(test_ssd_empty_op13),   cmocka_unit_test(test_if_loop_computed),
        cmocka_unit_test(test_static_model_one_stage), cmocka_unit_test(test_bad_control_flow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
