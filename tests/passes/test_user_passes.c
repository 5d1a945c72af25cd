/* test_user_passes.c — passes of users' own: registration rules, the graph access they edit
 * with, pipelines that run them (mf_graph_optimize), and the tools' --load-pass with the
 * example library (examples/passes/drop_double_relu.c) in `opt` and `run`, with its errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlufuse/mlufuse.h"
#include "tests/support/tool_run.h"

static const char double_relu[] = "graph @g(%0: f32[2,8]) {\n"
                                  "  %1 = relu(%0) : f32[2,8]\n"
                                  "  %2 = relu(%1) : f32[2,8]\n"
                                  "  %3 = leaky_relu(%2) {negative_slope = 0.25} : f32[2,8]\n"
                                  "  %4 = reshape(%3) {shape = [16]} : f32[16]\n"
                                  "  return %4\n"
                                  "}\n";

static mf_graph *parse(const char *text)
{
    mf_graph *g;
    if (mf_graph_parse(text, "test.mfir", &g))
        fail_msg("%s", mf_last_error());
    return g;
}

/* Bypasses the first relu whose input is a relu; counts its calls in *ctx. */
static mf_status drop_one(mf_graph *g, int *changes, void *ctx)
{
    ++*(int *)ctx;
    for (int i = 0; i < mf_graph_num_nodes(g); i++) {
        int p = mf_graph_node_input_node(g, i, 0);
        if (!strcmp(mf_graph_node_op(g, i), "relu") && p >= 0 && !strcmp(mf_graph_node_op(g, p), "relu")) {
            *changes = 1;
            return mf_graph_node_bypass(g, i, 0);
        }
    }
    return MF_OK;
}

static mf_status failing(mf_graph *g, int *changes, void *ctx)
{
    return MF_ERR_UNSUPPORTED; /* the pipeline names the pass that failed */
}

static void test_registration_rules(void **state)
{
    static int calls;
    assert_int_equal(mf_pass_register("test-drop-one", "drops one double relu", drop_one, &calls), MF_OK);
    assert_int_equal(mf_pass_register("test-drop-one", NULL, drop_one, NULL), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "exists already"));
    assert_int_equal(mf_pass_register("dce", NULL, drop_one, NULL), MF_ERR_INVALID); /* a built-in's */
    assert_int_equal(mf_pass_register("Bad_Name", NULL, drop_one, NULL), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "bad pass name 'Bad_Name'"));
    assert_int_equal(mf_pass_register("-x", NULL, drop_one, NULL), MF_ERR_INVALID);
    assert_int_equal(mf_pass_register("", NULL, drop_one, NULL), MF_ERR_INVALID);
    assert_int_equal(mf_pass_register("no-fn", NULL, NULL, NULL), MF_ERR_INVALID);
    bool listed = false;
    for (int i = 0; i < mf_opt_num_passes(); i++)
        listed |= !strcmp(mf_opt_pass_name(i, NULL), "test-drop-one");
    assert_true(listed);

    mf_graph *g = parse(double_relu);
    mf_opt_options o = mf_opt_default_options();
    o.passes = "test-drop-one,test-drop-one,dce";
    mf_opt_result *r;
    assert_int_equal(mf_graph_optimize(g, &o, &r), MF_OK);
    assert_int_equal(calls, 2);
    assert_int_equal(mf_graph_num_nodes(g), 3);
    assert_int_equal(mf_opt_result_pass(r, 0)->changes, 1);
    assert_int_equal(mf_opt_result_pass(r, 1)->changes, 0);
    mf_opt_result_free(r);

    assert_int_equal(mf_pass_register("test-failing", NULL, failing, NULL), MF_OK);
    o.passes = "dce,test-failing";
    assert_int_equal(mf_graph_optimize(g, &o, NULL), MF_ERR_UNSUPPORTED);
    assert_non_null(strstr(mf_last_error(), "pass test-failing"));
    mf_graph_destroy(g);
}

static void test_graph_access(void **state)
{
    mf_graph *g = parse(double_relu);
    assert_string_equal(mf_graph_node_op(g, 0), "relu");
    assert_null(mf_graph_node_op(g, 4));
    assert_null(mf_graph_node_op(g, -1));
    assert_int_equal(mf_graph_node_num_inputs(g, 2), 1);
    assert_int_equal(mf_graph_node_num_inputs(g, 9), -1);
    assert_int_equal(mf_graph_node_input_node(g, 0, 0), -1); /* a graph input */
    assert_int_equal(mf_graph_node_input_node(g, 1, 0), 0);
    assert_int_equal(mf_graph_node_input_node(g, 1, 1), -1);
    double v;
    assert_int_equal(mf_graph_node_attr(g, 2, "negative_slope", &v), MF_OK);
    assert_true(v == 0.25);
    assert_int_equal(mf_graph_node_attr(g, 2, "nope", &v), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "no attribute 'nope'"));
    assert_int_equal(mf_graph_node_attr(g, 3, "shape", &v), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "is a list"));
    assert_int_equal(mf_graph_node_bypass(g, 3, 0), MF_ERR_SHAPE); /* f32[16] is not f32[2,8] */
    assert_non_null(strstr(mf_last_error(), "makes f32[16] but its input 0 is f32[2,8]"));
    assert_int_equal(mf_graph_node_bypass(g, 0, 1), MF_ERR_INVALID);
    assert_int_equal(mf_graph_node_bypass(g, 7, 0), MF_ERR_INVALID);
    assert_int_equal(mf_graph_node_bypass(g, 1, 0), MF_OK);
    assert_int_equal(mf_graph_num_nodes(g), 3);
    assert_int_equal(mf_graph_verify(g), MF_OK);
    assert_int_equal(mf_graph_node_input_node(g, 1, 0), 0); /* leaky_relu now reads the first relu */
    mf_graph_destroy(g);
}

static void test_load_pass_in_the_tools(void **state)
{
    char lib[4096], model[] = "/tmp/mf-user-pass-XXXXXX.mfir";
    snprintf(lib, sizeof lib, "%s/libmf_example_passes.so", tsupport_build_dir());
    int fd = mkstemps(model, 5);
    assert_true(fd >= 0);
    close(fd);
    tsupport_write_file(model, double_relu);
    tsupport_run r = tsupport_run_prog("mlufuse", 1, "opt %s --load-pass %s --passes dce,drop-double-relu,dce --json",
                                       model, lib);
    if (r.rc || !strstr(r.out, "\"name\": \"drop-double-relu\"") || !strstr(r.out, "\"nodes\": 3"))
        fail_msg("opt: rc %d\n%s", r.rc, r.out);
    tsupport_run_free(&r);
    r = tsupport_run_prog("mlufuse", 1, "opt --load-pass %s --list-passes", lib);
    assert_non_null(strstr(r.out, "drop-double-relu relu(relu(x)) -> relu(x)"));
    tsupport_run_free(&r);
    r = tsupport_run_prog("mlufuse", 1, "run %s --random --load-pass %s --passes dce,drop-double-relu,segment", model, lib);
    if (r.rc)
        fail_msg("run: rc %d\n%s", r.rc, r.out);
    tsupport_run_free(&r);
    r = tsupport_run_prog("mlufuse", 1, "run %s --random --passes dce", model);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.out, "must end with segment"));
    tsupport_run_free(&r);
    r = tsupport_run_prog("mlufuse", 1, "opt %s --load-pass /nonexistent/lib.so", model);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.out, "cannot open /nonexistent/lib.so"));
    tsupport_run_free(&r);
    r = tsupport_run_prog("mlufuse", 1, "opt %s --load-pass libm.so.6", model);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.out, "libm.so.6 has no function mlufuse_register_passes"));
    tsupport_run_free(&r);
    r = tsupport_run_prog("mlufuse", 1, "opt %s --load-pass %s --load-pass %s", model, lib, lib);
    assert_int_equal(r.rc, 1); /* the second registration of its pass is refused */
    assert_non_null(strstr(r.out, "exists already"));
    tsupport_run_free(&r);
    remove(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registration_rules),
        cmocka_unit_test(test_graph_access),
        cmocka_unit_test(test_load_pass_in_the_tools),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
