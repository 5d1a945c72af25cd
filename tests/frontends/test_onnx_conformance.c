/* test_onnx_conformance.c — the ONNX project's own operator conformance suite
 * (../shared/onnx-node-tests/node: a one-node model and reference data per folder), run
 * as a user would: each model imported, run layer by layer and fused, every output compared
 * (dtype, shape; values within rtol 1e-3 and atol 1e-7 for f16, bf16, f32 and f64, exact otherwise).  Each
 * test runs in a child process, so a crash or a hang is a class of its own.  The summary
 * counts pass, mismatch, rejected and crash; a test in the expected-pass list
 * (onnx_conformance_pass.txt) that does not pass fails the suite, and a test that passes
 * but is not listed is reported, so the list only grows. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frontends/onnx.h"
#include "mlufuse/mlufuse.h"
#include "tests/support/tool_run.h"

enum { PASS, MISMATCH, REJECTED, CRASH, NCLASSES };
static const char *const class_names[NCLASSES] = {"pass", "mismatch", "rejected", "crash"};

/* A .pb TensorProto as a cpu tensor; NULL (with a message in why) when it cannot be. */
static mf_tensor *read_pb(const char *path, char *why, size_t cap)
{
    size_t len;
    char *bytes = tsupport_read_file(path, &len);
    Onnx__TensorProto *t = bytes ? onnx__tensor_proto__unpack(NULL, len, (const uint8_t *)bytes) : NULL;
    free(bytes);
    if (!t) {
        snprintf(why, cap, "%s: not a TensorProto", path);
        return NULL;
    }
    mf_type type;
    mf_buffer *b;
    mf_tensor *x = NULL;
    if (onnx_tensor(t, &type, &b) == MF_OK) {
        if (mf_tensor_from_data(type.dtype, type.rank, type.shape, b->data, b->nbytes, &x))
            x = NULL;
        mf_buffer_release(b);
    }
    if (!x)
        snprintf(why, cap, "%s: %s", path, mf_last_error());
    onnx__tensor_proto__free_unpacked(t, NULL);
    return x;
}

/* onnx 1.12 writes bf16 reference data as u16 tensors of the same bits (numpy has no
 * bfloat16): *t, when it is u16 where the model has bf16, becomes the bf16 it holds. */
static void u16_as_bf16(mf_tensor **t, mf_dtype model_dtype)
{
    mf_tensor *x;
    if (!*t || model_dtype != MF_BF16 || mf_tensor_dtype(*t) != MF_U16)
        return;
    int64_t shape[8];
    for (int i = 0; i < mf_tensor_rank(*t) && i < 8; i++)
        shape[i] = mf_tensor_dim(*t, i);
    if (mf_tensor_from_data(MF_BF16, mf_tensor_rank(*t), shape, mf_tensor_data(*t), mf_tensor_nbytes(*t), &x))
        return;
    mf_tensor_free(*t);
    *t = x;
}

/* got against want: dtype, shape, then values. */
static bool same(const mf_tensor *got, const mf_tensor *want, char *why, size_t cap)
{
    mf_tensor *host;
    if (mf_tensor_to(got, MF_DEVICE_CPU, &host)) {
        snprintf(why, cap, "%s", mf_last_error());
        return false;
    }
    bool ok = mf_tensor_dtype(host) == mf_tensor_dtype(want) && mf_tensor_rank(host) == mf_tensor_rank(want);
    for (int i = 0; ok && i < mf_tensor_rank(want); i++)
        ok = mf_tensor_dim(host, i) == mf_tensor_dim(want, i);
    if (!ok) {
        char a[128], b[128];
        mf_tensor_describe(host, a, sizeof a);
        mf_tensor_describe(want, b, sizeof b);
        snprintf(why, cap, "got %s, expected %s", a, b);
    } else if (mf_dtype_is_float(mf_tensor_dtype(want))) { /* f16, bf16, f32, f64 */
        mf_dtype dt = mf_tensor_dtype(want);
        for (int64_t i = 0; ok && i < mf_tensor_numel(want); i++) {
            double x = mf_scalar_load(mf_tensor_data(host), dt, i).f, y = mf_scalar_load(mf_tensor_data(want), dt, i).f;
            bool both_nan = isnan(x) && isnan(y);
            ok = both_nan || x == y || fabs(x - y) <= 1e-7 + 1e-3 * fabs(y); /* x == y: equal infinities */
            if (!ok)
                snprintf(why, cap, "element %lld is %g, expected %g", (long long)i, x, y);
        }
    } else if (memcmp(mf_tensor_data(host), mf_tensor_data(want), mf_tensor_nbytes(want))) {
        ok = false;
        snprintf(why, cap, "the values differ");
    }
    mf_tensor_free(host);
    return ok;
}

/* The names of the model's graph inputs that are not initializers (at most 16), in order;
 * returns how many, or -1 when the file does not decode. */
static int input_names(const char *path, char names[16][256])
{
    size_t len;
    char *bytes = tsupport_read_file(path, &len);
    Onnx__ModelProto *m = bytes ? onnx__model_proto__unpack(NULL, len, (const uint8_t *)bytes) : NULL;
    free(bytes);
    if (!m || !m->graph)
        return -1;
    int n = 0;
    for (size_t i = 0; i < m->graph->n_input && n < 16; i++) {
        const char *name = m->graph->input[i]->name ? m->graph->input[i]->name : "";
        bool init = false;
        for (size_t j = 0; j < m->graph->n_initializer && !init; j++)
            init = m->graph->initializer[j]->name && !strcmp(m->graph->initializer[j]->name, name);
        if (!init)
            snprintf(names[n++], 256, "%s", name);
    }
    onnx__model_proto__free_unpacked(m, NULL);
    return n;
}

/* A model the static import refuses, run in stages (mf_onnx_program: NonZero, If, Loop on
 * data it computes); why then is "(staged)", or the refusal with the staged run's error. */
static int run_staged(const char *dir, char *why, size_t cap)
{
    char path[1100], first[512];
    snprintf(first, sizeof first, "%s", why);
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    mf_onnx_program *p;
    if (mf_onnx_program_load(path, NULL, &p))
        return REJECTED; /* why keeps the static import's reason */
    mf_tensor *in[16] = {0}, *want[16] = {0}, *got[16] = {0};
    int ni = mf_onnx_program_num_inputs(p), no = mf_onnx_program_num_outputs(p), cls = PASS;
    if (ni > 16 || no > 16)
        snprintf(why, cap, "more than 16 inputs or outputs"), cls = REJECTED;
    for (int i = 0; i < ni + no && cls == PASS; i++) {
        snprintf(path, sizeof path, "%s/test_data_set_0/%s_%d.pb", dir, i < ni ? "input" : "output", i < ni ? i : i - ni);
        mf_tensor **t = i < ni ? &in[i] : &want[i - ni];
        if (!(*t = read_pb(path, why, cap)))
            cls = REJECTED;
    }
    if (cls == PASS && mf_onnx_program_run(p, ni, in, no, got)) {
        snprintf(why, cap, "%s (staged: %s)", first, mf_last_error());
        cls = REJECTED;
    }
    for (int i = 0; i < no && cls == PASS; i++)
        if (!same(got[i], want[i], why, cap))
            cls = MISMATCH;
    for (int i = 0; i < 16; i++) {
        mf_tensor_free(in[i]);
        mf_tensor_free(want[i]);
        mf_tensor_free(got[i]);
    }
    mf_onnx_program_destroy(p);
    if (cls == PASS)
        snprintf(why, cap, "(staged)");
    return cls;
}

/* Runs one test folder; returns its class, with a reason in why.  A model refused because a
 * shape-like input (a Reshape's shape, Resize's scales, ...) is a graph input is imported
 * again specialized on the test's values: every input after the first bound at import
 * (mf_onnx_load_bound), as a user who knows them would, or every input when the first is
 * shape-like too (Range, ConstantOfShape, a window's size, Unique's data); why then is
 * "(specialized)".  A model refused even so runs in stages (run_staged). */
static int run_one_test(const char *dir, char *why, size_t cap)
{
    char path[1024], names[16][256];
    mf_graph *g;
    mf_tensor *in[16] = {0}, *want[16] = {0}, *got[16] = {0};
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    int nnames = input_names(path, names), nbound = 0;
    if (mf_onnx_load(path, 0, &g)) {
        snprintf(why, cap, "%s", mf_last_error());
        if (nnames < 1 || !strstr(why, "constant"))
            return run_staged(dir, why, cap);
        char pb[1100], first[512];
        snprintf(first, sizeof first, "%s", why);
        const char *bnames[16];
        for (int i = 0; i < nnames; i++) {
            snprintf(pb, sizeof pb, "%s/test_data_set_0/input_%d.pb", dir, i);
            bnames[i] = names[i];
            if (!(in[i] = read_pb(pb, why, cap))) {
                for (int k = 0; k < i; k++)
                    mf_tensor_free(in[k]);
                return REJECTED;
            }
        }
        nbound = nnames - 1;
        mf_status s = mf_onnx_load_bound(path, 0, nbound, bnames + 1, in + 1, &g);
        if (s && strstr(mf_last_error(), "constant")) { /* the first input is shape-like too */
            nbound = nnames;
            s = mf_onnx_load_bound(path, 0, nbound, bnames, in, &g);
        }
        for (int k = nbound == nnames ? 0 : 1; k < nnames; k++) {
            mf_tensor_free(in[k]);
            in[k] = NULL;
        }
        if (s) {
            snprintf(why, cap, "%s (specialized: %s)", first, mf_last_error());
            mf_tensor_free(in[0]);
            return run_staged(dir, why, cap);
        }
        if (nbound == nnames) /* every input bound: the graph has none left */
            in[0] = NULL;
    }
    int ni = mf_graph_num_inputs(g), no = mf_graph_num_outputs(g), cls = PASS;
    for (int i = nbound ? ni : 0; i < ni && i < 16 && cls == PASS; i++) { /* specialized: read above */
        snprintf(path, sizeof path, "%s/test_data_set_0/input_%d.pb", dir, i);
        if (!(in[i] = read_pb(path, why, cap)))
            cls = REJECTED;
    }
    for (int i = 0; i < ni && i < 16 && cls == PASS; i++) {
        mf_dtype dt;
        int rank;
        int64_t shape[8];
        if (!mf_graph_input_type(g, i, &dt, &rank, shape))
            u16_as_bf16(&in[i], dt);
    }
    for (int i = 0; i < no && i < 16 && cls == PASS; i++) {
        snprintf(path, sizeof path, "%s/test_data_set_0/output_%d.pb", dir, i);
        if (!(want[i] = read_pb(path, why, cap)))
            cls = REJECTED;
    }
    if (cls == PASS && (ni > 16 || no > 16))
        snprintf(why, cap, "more than 16 inputs or outputs"), cls = REJECTED;
    for (int mode = 0; mode < 2 && cls == PASS; mode++) { /* layer by layer, then fused */
        mf_tensor *dev[16] = {0};
        mf_module *m = NULL;
        mf_status s = MF_OK;
        for (int i = 0; i < ni && !s; i++)
            s = mf_tensor_to(in[i], MF_DEVICE_MLU(0), &dev[i]);
        if (!s)
            s = mode ? mf_module_create(g, NULL, &m) : MF_OK;
        if (!s)
            s = mode ? mf_module_run(m, ni, dev, no, got) : mf_graph_interpret(g, ni, dev, no, got);
        if (s) {
            snprintf(why, cap, "%s: %s", mode ? "fused" : "layer by layer", mf_last_error());
            cls = REJECTED;
        }
        for (int i = 0; i < no && cls == PASS; i++)
            if ((u16_as_bf16(&want[i], mf_tensor_dtype(got[i])), !same(got[i], want[i], why, cap)))
                cls = MISMATCH;
        for (int i = 0; i < 16; i++) {
            mf_tensor_free(dev[i]);
            mf_tensor_free(got[i]);
            got[i] = NULL;
        }
        mf_module_destroy(m);
    }
    for (int i = 0; i < 16; i++) {
        mf_tensor_free(in[i]);
        mf_tensor_free(want[i]);
    }
    mf_graph_destroy(g);
    if (cls == PASS && nbound)
        snprintf(why, cap, "(specialized)");
    return cls;
}

/* A case's time limit: 60 s, times MF_TEST_TIME_SCALE (1-1000) where the tests run emulated
 * (scripts/test_as_cpu.py sets it: under qemu a case's compiles take 20-50x longer). */
static unsigned case_seconds(void)
{
    const char *s = getenv("MF_TEST_TIME_SCALE");
    long k = s ? strtol(s, NULL, 10) : 1;
    return 60u * (unsigned)(k >= 1 && k <= 1000 ? k : 1);
}

/* The test in a child process: a crash or a hang (case_seconds) is the class crash. */
static int run_isolated(const char *dir, char *why, size_t cap)
{
    int fds[2];
    if (pipe(fds))
        return CRASH;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        alarm(case_seconds());
        char msg[512] = "";
        int cls = run_one_test(dir, msg, sizeof msg);
        if (write(fds[1], msg, strlen(msg)) < 0) {
        }
        _exit(cls);
    }
    close(fds[1]);
    ssize_t n = pid > 0 ? read(fds[0], why, cap - 1) : -1;
    why[n > 0 ? n : 0] = 0;
    close(fds[0]);
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) >= NCLASSES) {
        snprintf(why, cap, "%s", WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "did not finish");
        return CRASH;
    }
    return WEXITSTATUS(st);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_conformance(void **state)
{
    char root[512], list_path[512];
    snprintf(root, sizeof root, "%s/onnx-node-tests/node", tsupport_shared_dir());
    snprintf(list_path, sizeof list_path, "%s/tests/frontends/onnx_conformance_pass.txt", tsupport_source_dir());
    DIR *d = opendir(root);
    if (!d)
        fail_msg("cannot open %s", root);
    char *names[2048];
    int n = 0;
    const char *only = getenv("MF_CONFORMANCE_ONLY"); /* a substring: run just those tests */
    for (struct dirent *de; (de = readdir(d)) && n < 2048;)
        if (!strncmp(de->d_name, "test_", 5) && (!only || strstr(de->d_name, only)))
            names[n++] = strdup(de->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, by_name);
    char *expected = tsupport_read_file(list_path, NULL);
    if (!expected)
        fail_msg("cannot read %s", list_path);
    int count[NCLASSES] = {0}, regressions = 0, fresh = 0, specialized = 0, staged = 0;
    for (int i = 0; i < n; i++) {
        char dir[1024], why[512], line[300];
        snprintf(dir, sizeof dir, "%s/%s", root, names[i]);
        int cls = run_isolated(dir, why, sizeof why);
        count[cls]++;
        specialized += cls == PASS && !strcmp(why, "(specialized)");
        staged += cls == PASS && !strcmp(why, "(staged)");
        snprintf(line, sizeof line, "\n%s\n", names[i]);
        bool listed = strstr(expected, line + 1) == expected || strstr(expected, line);
        if (listed && cls != PASS) {
            printf("REGRESSION %s: %s: %s\n", names[i], class_names[cls], why);
            regressions++;
        } else if (!listed && cls == PASS) {
            printf("newly passing (add it to the list): %s\n", names[i]);
            fresh++;
        } else if (cls == CRASH || getenv("MF_CONFORMANCE_VERBOSE")) {
            printf("%s %s: %s\n", class_names[cls], names[i], why);
        }
        free(names[i]);
    }
    free(expected);
    printf("onnx conformance: %d tests: %d pass (%d of them specialized on their shape-like inputs, %d staged), "
           "%d mismatch, %d rejected, %d crash; %d newly passing\n",
           n, count[PASS], specialized, staged, count[MISMATCH], count[REJECTED], count[CRASH], fresh);
    assert_int_equal(regressions, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_conformance)};
    return cmocka_run_group_tests_name("onnx_conformance", tests, NULL, NULL);
}
