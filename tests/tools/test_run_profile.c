/* test_run_profile.c — `mlufuse run` profiling as a user runs it: --help lists the options;
 * --profile writes a trace that parses as trace-event JSON, --profile-svg an SVG picture,
 * --profile-summary a table (and, with --json, a "profile" object); the layer-by-layer mode
 * is profiled too; resnet18's FLOPs in the summary are the known 3.63 GFLOP within 1 %;
 * MLUFUSE_PROFILE profiles a run without options and conflicts with --profile; a trace
 * that cannot be written exits 1. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/json.h"
#include "tests/support/tool_run.h"

static char dir[64];

static int setup(void **state)
{
    tsupport_tmpdir("mf-run-profile", dir);
    return 0;
}

static int teardown(void **state)
{
    tsupport_rmdir_all(dir);
    return 0;
}

/* `mlufuse run` on a shared model (its input) with more arguments; stderr apart. */
static tsupport_run run_model(const char *model, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static tsupport_run run_model(const char *model, const char *fmt, ...)
{
    char extra[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(extra, sizeof extra, fmt, ap);
    va_end(ap);
    const char *m = tsupport_shared_dir();
    return tsupport_run_prog("mlufuse", 0, "run %s/models/%s/model.onnx -i %s/models/%s/input.npy %s", m,
                             model, m, model, extra);
}

static tjson *parse_file(const char *path)
{
    char *text = tsupport_read_file(path, NULL), err[128];
    if (!text)
        fail_msg("%s was not written", path);
    tjson *v = tjson_parse(text, err, sizeof err);
    if (!v)
        fail_msg("%s is not JSON: %s", path, err);
    free(text);
    return v;
}

/* The number of complete events of category cat in a trace. */
static int count_cat(const tjson *trace, const char *cat)
{
    const tjson *ev = tjson_get(trace, "traceEvents");
    assert_true(ev && ev->type == TJSON_ARRAY);
    int n = 0;
    for (int i = 0; i < ev->n; i++) {
        const char *c = tjson_str(ev->items[i], "cat");
        n += c && !strcmp(c, cat);
    }
    return n;
}

static void test_help(void **state)
{
    tsupport_run r = tsupport_run_prog("mlufuse", 0, "run --help");
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "--profile FILE.json"));
    assert_non_null(strstr(r.out, "--profile-summary"));
    assert_non_null(strstr(r.out, "--profile-svg FILE.svg"));
    tsupport_run_free(&r);
}

static void test_files_and_table(void **state)
{
    char json[128], svg[128];
    snprintf(json, sizeof json, "%s/mnist.json", dir);
    snprintf(svg, sizeof svg, "%s/mnist.svg", dir);
    tsupport_run r = run_model("mnist_net", "--bench 2 --profile %s --profile-svg %s --profile-summary", json, svg);
    if (r.rc)
        fail_msg("rc %d: %s", r.rc, r.err);
    assert_non_null(strstr(r.out, "profile: 6 runs")); /* the checked run, 3 warm-ups, 2 timed */
    assert_non_null(strstr(r.out, "GFLOP/s"));
    assert_non_null(strstr(r.out, "subgraph 0 (conv2d+relu)"));
    assert_non_null(strstr(r.out, "machine: "));
    tjson *t = parse_file(json);
    assert_int_equal(count_cat(t, "run"), 6);
    assert_true(count_cat(t, "kernel") == count_cat(t, "partition") && count_cat(t, "kernel") >= 6 * 4);
    tjson_free(t);
    char *s = tsupport_read_file(svg, NULL);
    assert_non_null(s);
    assert_true(!strncmp(s, "<?xml", 5) && strstr(s, "</svg>"));
    free(s);
    tsupport_run_free(&r);
}

static void test_json_report(void **state)
{
    tsupport_run r = run_model("mnist_net", "--bench 1 --json --profile-summary");
    assert_int_equal(r.rc, 0);
    char err[128];
    tjson *v = tjson_parse(r.out, err, sizeof err);
    if (!v)
        fail_msg("stdout is not JSON: %s\n%s", err, r.out);
    const tjson *p = tjson_get(v, "profile");
    assert_non_null(p);
    assert_int_equal(tjson_num(p, "runs", -1), 5);
    assert_true(tjson_get(p, "subgraphs") && tjson_get(p, "subgraphs")->n >= 4);
    assert_non_null(tjson_str(p, "cpu"));
    tjson_free(v);
    tsupport_run_free(&r);
}

/* Code for a narrower target is judged against that target's peak on this host: x86-64
 * (SSE, 4 lanes) kernels against the 4-lane peak, which this host always runs. */
static void test_peak_of_the_target(void **state)
{
    tsupport_run r = run_model("mnist_net", "--bench 1 --json --profile-summary --cpu x86-64");
    assert_int_equal(r.rc, 0);
    char err[128];
    tjson *v = tjson_parse(r.out, err, sizeof err);
    if (!v)
        fail_msg("stdout is not JSON: %s\n%s", err, r.out);
    const tjson *rows = tjson_get(tjson_get(v, "profile"), "subgraphs");
    assert_non_null(rows);
    int kernels = 0;
    for (int i = 0; i < rows->n; i++) {
        const char *kind = tjson_str(rows->items[i], "kind");
        if (!kind || strcmp(kind, "kernel"))
            continue;
        kernels++;
        assert_int_equal(tjson_num(rows->items[i], "target_lanes", -1), 4);
        assert_true(tjson_num(rows->items[i], "target_peak_gflops_per_core", 0) > 0);
    }
    assert_true(kernels >= 4);
    tjson_free(v);
    tsupport_run_free(&r);
}

static void test_eager(void **state)
{
    char json[128];
    snprintf(json, sizeof json, "%s/eager.json", dir);
    tsupport_run r = run_model("mnist_net", "--mode eager --profile %s --profile-summary", json);
    if (r.rc)
        fail_msg("rc %d: %s", r.rc, r.err);
    assert_non_null(strstr(r.out, "conv2d: f32[1,1,28,28] -> f32[1,32,26,26]"));
    tjson *t = parse_file(json);
    assert_int_equal(count_cat(t, "run"), 1);
    assert_true(count_cat(t, "cpu_op") >= 8); /* every op that computes (views do not) */
    assert_int_equal(count_cat(t, "kernel"), 0);
    tjson_free(t);
    tsupport_run_free(&r);
}

static double resnet18_flops(const char *winograd)
{
    setenv("MLUFUSE_WINOGRAD", winograd, 1);
    tsupport_run r = run_model("resnet18", "--json --profile-summary");
    unsetenv("MLUFUSE_WINOGRAD");
    assert_int_equal(r.rc, 0);
    tjson *v = tjson_parse(r.out, NULL, 0);
    assert_non_null(v);
    double flops = tjson_num(tjson_get(v, "profile"), "flops_per_run", -1);
    tjson_free(v);
    tsupport_run_free(&r);
    return flops;
}

/* The FLOPs are counted, not timed: resnet18 is 3.63 GFLOP (../shared/bench/flops.py) as
 * direct convolutions.  Winograd's matmuls do fewer (its transforms count none), and the
 * profile counts what runs. */
static void test_resnet18_flops(void **state)
{
    double direct = resnet18_flops("0"), wino = resnet18_flops("1");
    if (fabs(direct / 3.63e9 - 1) > 0.01)
        fail_msg("resnet18: %.0f FLOPs a run", direct);
    if (wino > 0.7 * direct || wino < 0.4 * direct)
        fail_msg("resnet18 with Winograd: %.0f FLOPs a run against %.0f direct", wino, direct);
}

static void test_environment(void **state)
{
    char json[128];
    snprintf(json, sizeof json, "%s/env.json", dir);
    setenv("MLUFUSE_PROFILE", json, 1);
    tsupport_run r = run_model("mnist_net", "--bench 1");
    assert_int_equal(r.rc, 0);
    tjson *t = parse_file(json);
    assert_int_equal(count_cat(t, "run"), 5);
    tjson_free(t);
    tsupport_run_free(&r);
    r = run_model("mnist_net", "--profile %s/other.json", dir);
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(r.err, "already being collected"));
    tsupport_run_free(&r);
    unsetenv("MLUFUSE_PROFILE");
}

static void test_unwritable(void **state)
{
    tsupport_run r = run_model("mnist_net", "--profile /nonexistent/dir/t.json");
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "/nonexistent/dir/t.json"));
    tsupport_run_free(&r);
}

int main(void)
{
    /* The profiles checked here are of compiled (tier 1) runs, Winograd layers included. */
    setenv("MLUFUSE_TIER", "full", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_files_and_table),
        cmocka_unit_test(test_json_report),
        cmocka_unit_test(test_peak_of_the_target),
        cmocka_unit_test(test_eager),
        cmocka_unit_test(test_resnet18_flops),
        cmocka_unit_test(test_environment),
        cmocka_unit_test(test_unwritable),
    };
    return cmocka_run_group_tests_name("run_profile", tests, setup, teardown);
}
