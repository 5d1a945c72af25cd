/* test_custom_ops_tool.c — --custom-ops DECL.txt:LIB.so on `mlufuse run`, `opt` and
 * `genoff` with the example library, as a user runs them: an ONNX model with custom-domain
 * nodes (tests/frontends/onnx/custom/, from make_custom_op_models.py) matching NumPy's
 * output in both modes, the custom ops as CPU ops between MLU subgraphs in opt's graph,
 * genoff refusing a model that calls one (an .mfo holds no custom ops), and the errors: an
 * undeclared custom-domain op named, ONNX attributes of the wrong type or that no argument
 * reads, a malformed declaration with file:line:col, a missing
 * library, a bad option. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/tool_run.h"

static char dir[64], ops[1024], model[512], in_npy[512], out_npy[512], undeclared[512], mfir[128];

static const char small_mfir[] = "graph @g(%x: f32[2,8]) {\n"
                                 "  %a = relu(%x) : f32[2,8]\n"
                                 "  %s = custom.example_swish(%a) {beta=2} : f32[2,8]\n"
                                 "  %b = sigmoid(%s) : f32[2,8]\n"
                                 "  return %b\n"
                                 "}\n";

static int setup(void **state)
{
    (void)state;
    tsupport_tmpdir("custom-ops-tool", dir);
    snprintf(ops, sizeof ops, "%s/examples/custom_ops/example_ops.txt:%s/libmf_example_custom_ops.so",
             tsupport_source_dir(), tsupport_build_dir());
    const char *onnx = "tests/frontends/onnx/custom";
    snprintf(model, sizeof model, "%s/%s/example_ops.onnx", tsupport_source_dir(), onnx);
    snprintf(in_npy, sizeof in_npy, "%s/%s/example_ops.in.npy", tsupport_source_dir(), onnx);
    snprintf(out_npy, sizeof out_npy, "%s/%s/example_ops.out.npy", tsupport_source_dir(), onnx);
    snprintf(undeclared, sizeof undeclared, "%s/%s/undeclared.onnx", tsupport_source_dir(), onnx);
    snprintf(mfir, sizeof mfir, "%s/small.mfir", dir);
    tsupport_write_file(mfir, small_mfir);
    unsetenv("DISABLE_MLU_FUSION");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tsupport_rmdir_all(dir);
    return 0;
}

static void expect_rc(tsupport_run *r, int rc, const char *needle)
{
    if (r->rc != rc || (needle && !strstr(r->out, needle)))
        fail_msg("rc %d (wanted %d), output lacks '%s':\n%s", r->rc, rc, needle ? needle : "", r->out);
    tsupport_run_free(r);
}

static void test_run_onnx_both_modes(void **state)
{
    (void)state;
    tsupport_run r = tsupport_run_prog("mlufuse", 1, "run %s -i %s --expect %s --custom-ops %s", model, in_npy,
                                       out_npy, ops);
    expect_rc(&r, 0, NULL);
    r = tsupport_run_prog("mlufuse", 1, "run %s -i %s --expect %s --mode eager --custom-ops %s", model, in_npy,
                          out_npy, ops);
    expect_rc(&r, 0, NULL);
    r = tsupport_run_prog("mlufuse", 1, "run %s --random --custom-ops %s", mfir, ops);
    expect_rc(&r, 0, NULL);
}

static void test_opt_places_custom_on_cpu(void **state)
{
    (void)state;
    tsupport_run r = tsupport_run_prog("mlufuse", 0, "opt %s --custom-ops %s", mfir, ops);
    if (r.rc || !strstr(r.out, "= relu(%x) : f32[2,8] @sg0\n") ||
        !strstr(r.out, "= custom.example_swish(%a) {beta=2} : f32[2,8]\n") ||
        !strstr(r.out, "= sigmoid(%s) : f32[2,8] @sg1\n"))
        fail_msg("rc %d:\n%s%s", r.rc, r.out, r.err);
    tsupport_run_free(&r);
    r = tsupport_run_prog("mlufuse", 1, "opt %s --custom-ops %s", model, ops);
    expect_rc(&r, 0, "custom.example_minmax.1(");
    /* the printed graph reads back with the declarations loaded */
    char out[128];
    snprintf(out, sizeof out, "%s/opt.mfir", dir);
    r = tsupport_run_prog("mlufuse", 1, "opt %s --custom-ops %s -o %s", model, ops, out);
    expect_rc(&r, 0, NULL);
    r = tsupport_run_prog("mlufuse", 1, "run %s -i %s --expect %s --custom-ops %s", out, in_npy, out_npy, ops);
    expect_rc(&r, 0, NULL);
}

static void test_genoff_refuses(void **state)
{
    (void)state;
    char mfo[128];
    snprintf(mfo, sizeof mfo, "%s/m.mfo", dir);
    tsupport_run r = tsupport_run_prog("mlufuse", 1, "genoff %s -o %s --cpu x86-64 --custom-ops %s", model, mfo, ops);
    expect_rc(&r, 1, "genoff: the model calls custom op example_swish (declared at ");
    assert_int_not_equal(access(mfo, F_OK), 0);
    r = tsupport_run_prog("mlufuse", 1, "genoff --help");
    expect_rc(&r, 0, "--custom-ops DECL.txt:LIB.so");
}

static void test_errors(void **state)
{
    (void)state;
    tsupport_run r = tsupport_run_prog("mlufuse", 1, "run %s -i %s", model, in_npy);
    expect_rc(&r, 1, "node 'swish' (example_swish): op example_swish of domain 'com.example' is not a declared custom op");
    r = tsupport_run_prog("mlufuse", 1, "run %s --random --custom-ops %s", undeclared, ops);
    expect_rc(&r, 1, "node 'mystery' (not_declared): op not_declared of domain 'com.example' is not a declared custom op");
    r = tsupport_run_prog("mlufuse", 1, "run %s --random", mfir);
    expect_rc(&r, 1, "custom op 'example_swish' is not declared");
    char path[512];
    snprintf(path, sizeof path, "%s/tests/frontends/onnx/custom/bad_attr.onnx", tsupport_source_dir());
    r = tsupport_run_prog("mlufuse", 1, "opt %s --custom-ops %s", path, ops);
    expect_rc(&r, 1, "node 'swish' (example_swish): attribute 'beta' must be a float or an int for argument beta");
    snprintf(path, sizeof path, "%s/tests/frontends/onnx/custom/unknown_attr.onnx", tsupport_source_dir());
    r = tsupport_run_prog("mlufuse", 1, "opt %s --custom-ops %s", path, ops);
    expect_rc(&r, 1, "attribute 'gamma' is not an argument of custom op example_swish (");

    char bad[128];
    snprintf(bad, sizeof bad, "%s/bad.txt", dir);
    tsupport_write_file(bad, "# fine\nswish(Tensor x, float beta=) -> Tensor : symbol=example_swish shape=same(x)\n");
    r = tsupport_run_prog("mlufuse", 1, "opt %s --custom-ops %s:%s/libmf_example_custom_ops.so", mfir, bad,
                          tsupport_build_dir());
    expect_rc(&r, 1, "opt: --custom-ops: ");
    r = tsupport_run_prog("mlufuse", 1, "opt %s --custom-ops %s:%s/libmf_example_custom_ops.so", mfir, bad,
                          tsupport_build_dir());
    expect_rc(&r, 1, "bad.txt:2:28: expected a number, found ')'");
    r = tsupport_run_prog("mlufuse", 1, "run %s --random --custom-ops %s:/nonexistent/lib.so", mfir, bad);
    expect_rc(&r, 1, "run: --custom-ops: ");
    r = tsupport_run_prog("mlufuse", 1, "run %s --random --custom-ops just-a-file.txt", mfir);
    expect_rc(&r, 2, "run: --custom-ops takes DECL.txt:LIB.so, not 'just-a-file.txt'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_onnx_both_modes),
        cmocka_unit_test(test_opt_places_custom_on_cpu),
        cmocka_unit_test(test_genoff_refuses),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests_name("custom_ops_tool", tests, setup, teardown);
}
