/* test_run_tool.c — `mlufuse run` as a user runs it: the shared models match PyTorch fused,
 * layer by layer, at core_number 4 and with DISABLE_MLU_FUSION=1; --json carries the keys
 * scripts read; bad flags and files exit 2 and 1 with a message on stderr. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlufuse/mlufuse.h"
#include "tests/support/tool_run.h"

/* Runs `mlufuse ARGS` (stderr merged), returns the exit code and the output in out. */
static int mlufuse(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int mlufuse(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tsupport_run r = tsupport_run_progv("mlufuse", 1, fmt, ap);
    va_end(ap);
    snprintf(out, cap, "%s", r.out);
    tsupport_run_free(&r);
    return r.rc;
}

static char out[1 << 16];

/* Runs mlufuse ARGS; fails unless it exits rc with `says` in its output. */
static void expect_out(int rc, const char *says, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void expect_out(int rc, const char *says, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tsupport_run r = tsupport_run_progv("mlufuse", 1, fmt, ap);
    va_end(ap);
    if (r.rc != rc || !strstr(r.out, says))
        fail_msg("mlufuse exited %d (want %d), \"%s\" wanted in: %s", r.rc, rc, says, r.out);
    tsupport_run_free(&r);
}

static const char *models(void)
{
    return tsupport_shared_dir();
}

static void check_model(const char *name, const char *extra)
{
    const char *m = models();
    int rc = mlufuse(out, sizeof out, "run %s/models/%s/model.onnx -i %s/models/%s/input.npy --expect %s/models/%s/output.npy %s",
                     m, name, m, name, m, name, extra);
    if (rc != 0 || !strstr(out, "expected outputs: match"))
        fail_msg("%s %s: rc %d\n%s", name, extra, rc, out);
}

static void test_shared_models_match(void **state)
{
    static const char *const names[] = {"mnist_net", "elementwise_chain", "mobilenet_v2", "resnet18"};
    for (int i = 0; i < 4; i++) {
        check_model(names[i], "");
        check_model(names[i], "--core-number 4");
    }
    check_model("mnist_net", "--mode eager");
    setenv("DISABLE_MLU_FUSION", "1", 1);
    check_model("mobilenet_v2", "");
    check_model("resnet18", "");
    unsetenv("DISABLE_MLU_FUSION");
}

static void test_json_keys(void **state)
{
    const char *m = models();
    int rc = mlufuse(out, sizeof out, "run %s/models/mnist_net/model.onnx -i %s/models/mnist_net/input.npy "
                                      "--expect %s/models/mnist_net/output.npy --bench 3 --json", m, m, m);
    assert_int_equal(rc, 0);
    const char *keys[] = {"\"compile_ms\": ", "\"compiled\": ", "\"loaded\": ", "\"cache_hits\": ",
                          "\"median_ms\": ", "\"p90_ms\": ", "\"throughput\": ", "\"match\": true"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strstr(out, keys[i]))
            fail_msg("missing %s in %s", keys[i], out);
    assert_true(out[0] == '{' && strchr(out, '}'));
}

/* --time-compile: a row per kernel with its source and phases, totals and the wall time,
 * as text and in --json; compile threads are checked. */
static void test_time_compile(void **state)
{
    const char *m = models();
    int rc = mlufuse(out, sizeof out, "run %s/models/mnist_net/model.onnx -i %s/models/mnist_net/input.npy "
                                      "--time-compile --compile-threads 2", m, m);
    assert_int_equal(rc, 0);
    const char *text[] = {"compile time by kernel", "optimize", "subgraph 0 (", "wall time of the compile"};
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
        if (!strstr(out, text[i]))
            fail_msg("missing '%s' in %s", text[i], out);
    rc = mlufuse(out, sizeof out, "run %s/models/mnist_net/model.onnx -i %s/models/mnist_net/input.npy "
                                  "--time-compile --json", m, m);
    assert_int_equal(rc, 0);
    const char *keys[] = {"\"compile_timing\": {\"wall_ms\": ", "\"optimize_ms\": ", "\"emit_ms\": ",
                          "\"kernels\": [{\"label\": \"subgraph ", "\"source\": \""};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strstr(out, keys[i]))
            fail_msg("missing %s in %s", keys[i], out);
    assert_int_equal(mlufuse(out, sizeof out, "run %s/models/mnist_net/model.onnx --random --compile-threads 0x", m), 2);
    assert_non_null(strstr(out, "bad number"));
    assert_int_equal(mlufuse(out, sizeof out, "run %s/models/mnist_net/model.onnx --random --compile-threads 99", m), 2);
    assert_non_null(strstr(out, "--compile-threads must be 1 to 64"));
}

/* --tier: each tier matches the golden output and --json says which tier ran; tier-up is
 * reported; bad values are refused by the option (exit 2) and by MLUFUSE_TIER (exit 1). */
static void test_tiers(void **state)
{
    const char *m = models();
    const char *want[][2] = {{"fast", "\"first_run_tier\": 0"}, {"full", "\"first_run_tier\": 1"},
                             {"auto", "\"tier_up_ms\": "}};
    for (int i = 0; i < 3; i++) {
        int rc = mlufuse(out, sizeof out, "run %s/models/mnist_net/model.onnx -i %s/models/mnist_net/input.npy "
                                          "--expect %s/models/mnist_net/output.npy --tier %s --json", m, m, m, want[i][0]);
        assert_int_equal(rc, 0);
        char mode[64];
        snprintf(mode, sizeof mode, "\"tier\": \"%s\"", want[i][0]);
        const char *keys[] = {mode, want[i][1], "\"match\": true", "\"first_output_ms\": ", "\"full_speed_ms\": "};
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            if (!strstr(out, keys[k]))
                fail_msg("--tier %s: missing %s in %s", want[i][0], keys[k], out);
    }
    assert_int_equal(mlufuse(out, sizeof out, "run %s/models/mnist_net/model.onnx --random --tier quick", m), 2);
    assert_non_null(strstr(out, "--tier must be fast, full or auto"));
    setenv("MLUFUSE_TIER", "quick", 1);
    assert_int_equal(mlufuse(out, sizeof out, "run %s/models/mnist_net/model.onnx --random", m), 1);
    assert_non_null(strstr(out, "MLUFUSE_TIER=quick"));
    setenv("MLUFUSE_TIER", "full", 1);
}

static void test_mismatch_and_outputs(void **state)
{
    const char *m = models();
    /* the elementwise chain's output is not mnist's: shapes differ -> bad input */
    int rc = mlufuse(out, sizeof out, "run %s/models/mnist_net/model.onnx -i %s/models/mnist_net/input.npy "
                                      "--expect %s/models/elementwise_chain/output.npy", m, m, m);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "holds"));
    assert_non_null(strstr(out, "shape differs"));
    /* a random input against the golden output: a real mismatch, exit 1 */
    rc = mlufuse(out, sizeof out, "run %s/models/mnist_net/model.onnx --random --seed 7 --expect %s/models/mnist_net/output.npy",
                 m, m);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "MISMATCH"));
    char dir[] = "/tmp/mf-run-XXXXXX";
    assert_non_null(mkdtemp(dir));
    rc = mlufuse(out, sizeof out, "run %s/models/mnist_net/model.onnx --random -o %s", m, dir);
    assert_int_equal(rc, 0);
    char path[256];
    snprintf(path, sizeof path, "%s/output0.npy", dir);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fclose(f);
    remove(path);
    rmdir(dir);
}

static void test_mfir_model(void **state)
{
    char path[] = "/tmp/mf-model-XXXXXX.mfir";
    int fd = mkstemps(path, 5);
    FILE *f = fdopen(fd, "w");
    fputs("graph @g(%x: f32[2,3]) {\n  %s = const f32[] dense<2>\n  %0 = mul(%x, %s) : f32[2,3]\n"
          "  %1 = relu(%0) : f32[2,3]\n  return %1\n}\n", f);
    fclose(f);
    int rc = mlufuse(out, sizeof out, "run %s --random --bench 2", path);
    if (rc != 0) {
        remove(path);
        fail_msg("rc %d: %s", rc, out);
    }
    /* one kernel, compiled or (from an earlier run, the cache being shared) loaded, or its
     * whole plan saved by an earlier run */
    assert_true(strstr(out, "1 kernels compiled, 0 loaded") || strstr(out, "0 kernels compiled, 1 loaded") ||
                strstr(out, "(its saved plan: no pass, no compile)"));
    assert_non_null(strstr(out, "over 2 runs"));
    /* --min-time goes on past N runs until that much time is timed (a run of this graph is
     * microseconds, so 20 ms takes far more than 2 runs), capped at 2000 */
    rc = mlufuse(out, sizeof out, "run %s --random --bench 2 --min-time 0.02 --json", path);
    remove(path);
    if (rc != 0)
        fail_msg("rc %d: %s", rc, out);
    const char *runs = strstr(out, "\"runs\": ");
    assert_non_null(runs);
    int n = atoi(runs + 8);
    assert_true(n > 2 && n <= 2000);
}

static void test_malformed_mfir_model(void **state)
{
    char path[] = "/tmp/mf-bad-XXXXXX.mfir";
    int fd = mkstemps(path, 5);
    FILE *f = fdopen(fd, "w");
    fputs("graph @g(%x: f32[2,3]) {\n  %0 = relu(%x) : f32[2,3]\n  %1 = conv4d(%0) : f32[2,3]\n  return %1\n}\n", f);
    fclose(f);
    int rc = mlufuse(out, sizeof out, "run %s --random", path);
    remove(path);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, ":3:"));
    assert_non_null(strstr(out, "unknown op 'conv4d'"));
}

static void test_usage_errors(void **state)
{
    assert_int_equal(mlufuse(out, sizeof out, "run --help"), 0);
    assert_non_null(strstr(out, "usage: mlufuse run MODEL"));
    assert_int_equal(mlufuse(out, sizeof out, "--help"), 0);
    assert_non_null(strstr(out, "run"));
    assert_int_equal(mlufuse(out, sizeof out, "frobnicate"), 2);
    assert_non_null(strstr(out, "unknown command 'frobnicate'"));
    expect_out(2, "--core-number must be 1, 4 or 16", "run x.onnx --core-number 3");
    expect_out(2, "--mode must be eager or fused", "run x.onnx --mode turbo");
    expect_out(2, "bad number 'abc'", "run x.onnx --bench abc");
    /* an int flag past int's range was wrapped (4294967300 ran as core_number 4), "" read as 0,
     * and NaN tolerances matched nothing */
    expect_out(2, "bad number '4294967300'", "run x.onnx --core-number 4294967300");
    expect_out(2, "bad number ''", "run x.onnx --opt-level ''");
    expect_out(2, "bad number 'nan'", "run x.onnx --rtol nan");
    expect_out(2, "--rtol and --atol must be numbers >= 0", "run x.onnx --rtol -1");
    expect_out(2, "bad number ''", "run x.onnx --batch ''"); /* strtoll's "" was 0, its overflow LLONG_MAX */
    expect_out(2, "bad number '99999999999999999999'", "run x.onnx --batch 99999999999999999999");
    expect_out(2, "bad number '-1'", "run x.onnx --seed -1");
    /* a model that runs in stages took --json and --bench and printed text, once */
    expect_out(2, "runs in stages (", "run %s/tests/frontends/onnx/bad/dynamic_reshape.onnx --json", tsupport_source_dir());
    /* and dropped --passes and --compile-threads: now each stage's module gets them */
    expect_out(1, "(in stages: onnx program: the pipeline 'dce' must end with segment)",
               "run %s/tests/frontends/onnx/bad/dynamic_reshape.onnx --passes dce", tsupport_source_dir());
    /* environment variables: a malformed device count was ignored unseen, a tolerance of
     * "abc" read as 0 */
    setenv("MLUFUSE_NUM_DEVICES", "4junk", 1);
    expect_out(0, "warning: MLUFUSE_NUM_DEVICES=\"4junk\" is not a number", "run %s/models/mnist_net/model.onnx --random",
               models());
    unsetenv("MLUFUSE_NUM_DEVICES");
    setenv("MLUFUSE_VERIFY_RTOL", "abc", 1);
    expect_out(1, "MLUFUSE_VERIFY_RTOL=abc: expected a relative tolerance", "run %s/models/mnist_net/model.onnx --random",
               models());
    unsetenv("MLUFUSE_VERIFY_RTOL");
    /* an empty --output-dir: mkdirs read past its end */
    expect_out(1, "--output-dir : No such file or directory", "run %s/models/mnist_net/model.onnx --random -o ''", models());
    assert_int_equal(mlufuse(out, sizeof out, "run x.onnx --bench 3 --min-time -1"), 2);
    assert_non_null(strstr(out, "--min-time must be 0 to 3600 seconds"));
    assert_int_equal(mlufuse(out, sizeof out, "run"), 2);
    assert_int_equal(mlufuse(out, sizeof out, "run /nonexistent/model.onnx --random"), 1);
    assert_non_null(strstr(out, "/nonexistent/model.onnx"));
    assert_int_equal(mlufuse(out, sizeof out, "run %s/models/mnist_net/model.onnx", models()), 1);
    assert_non_null(strstr(out, "takes 1 input, 0 given"));
    assert_int_equal(mlufuse(out, sizeof out, "run %s/models/mnist_net/model.onnx -i /nonexistent.npy", models()), 1);
}

/* Writes text to a new temporary .mfir file; path gets its name. */
static void temp_mfir(char *path, const char *text)
{
    strcpy(path, "/tmp/mf-model-XXXXXX.mfir");
    int fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
}

/* The usage errors that were silent or wrong: a misspelt --cpu (it compiled generic code
 * under the bogus name), --batch 0, a directory as model or input, a missing output
 * directory, and --json's mode under DISABLE_MLU_FUSION=1. */
static void test_usage_errors_that_were_silent(void **state)
{
    const char *m = models();
    assert_int_equal(mlufuse(out, sizeof out, "run %s/models/mnist_net/model.onnx --random --cpu nonsense", m), 2);
    assert_non_null(strstr(out, "'nonsense' is not a CPU LLVM knows; valid names:"));
    assert_non_null(strstr(out, " haswell "));
    assert_null(strstr(out, "recognized processor")); /* LLVM's own complaint never shows */
    assert_int_equal(mlufuse(out, sizeof out, "run %s/models/mnist_net/model.onnx --random --batch 0", m), 2);
    assert_non_null(strstr(out, "--batch must be at least 1"));
    assert_int_equal(mlufuse(out, sizeof out, "run /tmp --random"), 1);
    assert_non_null(strstr(out, "/tmp: is a directory"));
    assert_int_equal(mlufuse(out, sizeof out, "run %s/models/mnist_net/model.onnx -i /tmp", m), 1);
    assert_non_null(strstr(out, "/tmp: is a directory"));

    char dir[] = "/tmp/mf-run-XXXXXX", deep[128], file[160];
    assert_non_null(mkdtemp(dir));
    snprintf(deep, sizeof deep, "%s/a/b", dir);
    assert_int_equal(mlufuse(out, sizeof out, "run %s/models/mnist_net/model.onnx --random -o %s", m, deep), 0);
    snprintf(file, sizeof file, "%s/output0.npy", deep);
    assert_int_equal(access(file, F_OK), 0);
    remove(file);
    rmdir(deep);
    snprintf(deep, sizeof deep, "%s/a", dir);
    rmdir(deep);
    rmdir(dir);

    setenv("DISABLE_MLU_FUSION", "1", 1);
    assert_int_equal(mlufuse(out, sizeof out, "run %s/models/mnist_net/model.onnx --random --json", m), 0);
    unsetenv("DISABLE_MLU_FUSION");
    assert_non_null(strstr(out, "\"mode\": \"unfused\""));
    assert_int_equal(mlufuse(out, sizeof out, "run %s/models/mnist_net/model.onnx --random --json", m), 0);
    assert_non_null(strstr(out, "\"mode\": \"fused\""));
}

/* Zero-element tensors run fused: a graph input [0,4] and an empty slice inside a graph
 * (both called a NULL kernel and died with SIGSEGV). */
static void test_zero_element_tensors_run_fused(void **state)
{
    static const char *const graphs[] = {
        "graph @z(%x: f32[0,4]) {\n  %y = relu(%x) : f32[0,4]\n  return %y\n}\n",
        "graph @s(%x: f32[3,4]) {\n  %e = slice(%x) {starts=[2], ends=[1], axes=[0]} : f32[0,4]\n"
        "  %y = relu(%e) : f32[0,4]\n  return %y\n}\n",
    };
    for (int i = 0; i < 2; i++) {
        char path[64];
        temp_mfir(path, graphs[i]);
        int rc = mlufuse(out, sizeof out, "run %s --random", path);
        int rc_unfused = mlufuse(out + strlen(out), sizeof out - strlen(out), "run %s --random --core-number 4", path);
        remove(path);
        if (rc != 0 || rc_unfused != 0)
            fail_msg("%s: rc %d, %d\n%s", graphs[i], rc, rc_unfused, out);
    }
}

/* --expect compares every dtype: integers exactly, and a dtype or shape that differs is
 * named (it said "output is i64[3] but out0.npy holds i64[3]"). */
static void test_expect_integer_outputs(void **state)
{
    char dir[] = "/tmp/mf-expect-XXXXXX", model[64], in[96], want[96], wrong[96], wrong_type[96];
    assert_non_null(mkdtemp(dir));
    snprintf(model, sizeof model, "%s/m.mfir", dir);
    tsupport_write_file(model, "graph @c(%x: f32[3]) {\n  %y = cast(%x) {to=4} : i64[3]\n  return %y\n}\n");
    const float x[3] = {1, -2, 300};
    const int64_t y[3] = {1, -2, 300}, z[3] = {1, -2, 301};
    mf_tensor *t;
    snprintf(in, sizeof in, "%s/in.npy", dir);
    snprintf(want, sizeof want, "%s/want.npy", dir);
    snprintf(wrong, sizeof wrong, "%s/wrong.npy", dir);
    snprintf(wrong_type, sizeof wrong_type, "%s/wrong_type.npy", dir);
    assert_int_equal(mf_tensor_from_data(MF_F32, 1, (int64_t[]){3}, x, sizeof x, &t), MF_OK);
    assert_int_equal(mf_tensor_save_npy(t, in), MF_OK);
    assert_int_equal(mf_tensor_save_npy(t, wrong_type), MF_OK);
    mf_tensor_free(t);
    assert_int_equal(mf_tensor_from_data(MF_I64, 1, (int64_t[]){3}, y, sizeof y, &t), MF_OK);
    assert_int_equal(mf_tensor_save_npy(t, want), MF_OK);
    mf_tensor_free(t);
    assert_int_equal(mf_tensor_from_data(MF_I64, 1, (int64_t[]){3}, z, sizeof z, &t), MF_OK);
    assert_int_equal(mf_tensor_save_npy(t, wrong), MF_OK);
    mf_tensor_free(t);
    for (int mode = 0; mode < 2; mode++) {
        const char *m = mode ? "--mode eager" : "";
        int rc = mlufuse(out, sizeof out, "run %s -i %s --expect %s %s", model, in, want, m);
        if (rc != 0 || !strstr(out, "expected outputs: match"))
            fail_msg("rc %d: %s", rc, out);
        assert_int_equal(mlufuse(out, sizeof out, "run %s -i %s --expect %s --atol 5 %s", model, in, wrong, m), 1);
        assert_non_null(strstr(out, "MISMATCH")); /* integers are exact, whatever the tolerance */
        assert_int_equal(mlufuse(out, sizeof out, "run %s -i %s --expect %s %s", model, in, wrong_type, m), 1);
        assert_non_null(strstr(out, "output is i64[3]"));
        assert_non_null(strstr(out, "holds f32[3]"));
        assert_non_null(strstr(out, "the dtype differs"));
    }
    remove(model), remove(in), remove(want), remove(wrong), remove(wrong_type);
    rmdir(dir);
}

/* Writes a tensor of dt and shape holding data to dir/name.npy; path gets the file's name. */
static void save_npy(const char *dir, const char *name, mf_dtype dt, int rank, const int64_t *shape,
                     const void *data, size_t nbytes, char *path, size_t cap)
{
    mf_tensor *t;
    snprintf(path, cap, "%s/%s.npy", dir, name);
    assert_int_equal(mf_tensor_from_data(dt, rank, shape, data, nbytes, &t), MF_OK);
    assert_int_equal(mf_tensor_save_npy(t, path), MF_OK);
    mf_tensor_free(t);
}

/* --bind NAME=FILE.npy specializes an ONNX model on graph inputs the user knows: OneHot's
 * depth and values, without which the model is refused naming what to bind. */
static void test_bind_shape_like_inputs(void **state)
{
    char dir[] = "/tmp/mf-bind-XXXXXX", model[512], idx[96], depth[96], values[96], want[96];
    assert_non_null(mkdtemp(dir));
    snprintf(model, sizeof model, "%s/onnx-node-tests/node/test_onehot_without_axis/model.onnx", tsupport_shared_dir());
    const int64_t ix[3] = {0, 7, -1};
    const float d = 12;
    const int32_t v[2] = {-1, 5};
    int32_t y[36];
    for (int i = 0; i < 36; i++)
        y[i] = (i / 12 == 0 && i % 12 == 0) || (i / 12 == 1 && i % 12 == 7) || (i / 12 == 2 && i % 12 == 11) ? 5 : -1;
    save_npy(dir, "idx", MF_I64, 1, (int64_t[]){3}, ix, sizeof ix, idx, sizeof idx);
    save_npy(dir, "depth", MF_F32, 0, NULL, &d, sizeof d, depth, sizeof depth);
    save_npy(dir, "values", MF_I32, 1, (int64_t[]){2}, v, sizeof v, values, sizeof values);
    save_npy(dir, "want", MF_I32, 2, (int64_t[]){3, 12}, y, sizeof y, want, sizeof want);
    for (int mode = 0; mode < 2; mode++) {
        const char *m = mode ? "--mode eager" : "";
        int rc = mlufuse(out, sizeof out, "run %s --bind depth=%s --bind values=%s -i %s --expect %s %s", model, depth,
                         values, idx, want, m);
        if (rc != 0 || !strstr(out, "expected outputs: match"))
            fail_msg("rc %d: %s", rc, out);
    }
    /* unbound, depth is a shape-like input the static import refuses: the run goes in stages */
    int rc = mlufuse(out, sizeof out, "run %s -i %s -i %s -i %s --expect %s", model, idx, depth, values, want);
    if (rc != 0 || !strstr(out, "expected outputs: match"))
        fail_msg("rc %d: %s", rc, out);
    assert_int_equal(mlufuse(out, sizeof out, "run %s --bind depth -i %s", model, idx), 2);
    assert_non_null(strstr(out, "expected NAME=FILE.npy"));
    assert_int_equal(mlufuse(out, sizeof out, "run %s --bind nosuch=%s -i %s", model, depth, idx), 1);
    assert_non_null(strstr(out, "'nosuch' is bound to a value but is no graph input"));
    assert_int_equal(mlufuse(out, sizeof out, "run %s --bind depth=%s/missing.npy -i %s", model, dir, idx), 1);
    assert_non_null(strstr(out, "--bind depth: "));
    remove(idx), remove(depth), remove(values), remove(want);
    rmdir(dir);
}

int main(void)
{
    /* The compile counts and timings checked here are tier 1's, made before the first run;
     * test_tiers names its tiers. */
    setenv("MLUFUSE_TIER", "full", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_models_match),
        cmocka_unit_test(test_json_keys),
        cmocka_unit_test(test_time_compile),
        cmocka_unit_test(test_tiers),
        cmocka_unit_test(test_mismatch_and_outputs),
        cmocka_unit_test(test_mfir_model),
        cmocka_unit_test(test_malformed_mfir_model),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_usage_errors_that_were_silent),
        cmocka_unit_test(test_zero_element_tensors_run_fused),
        cmocka_unit_test(test_expect_integer_outputs),
        cmocka_unit_test(test_bind_shape_like_inputs),
    };
    return cmocka_run_group_tests_name("run_tool", tests, NULL, NULL);
}
