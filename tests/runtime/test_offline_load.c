/* test_offline_load.c — offline models through the API: a graph with MLU subgraphs and
 * CPU-fallback ops written by mf_genoff and run by mf_offline_run equals the compiled
 * module bit for bit, at each CPU level (each its own plan and packed weights) the module
 * compiled for that CPU; the loader picks a code level the (stated) host runs and refuses a
 * file with none, naming its levels; truncated files,
 * a flipped byte in any section and a wrong version are refused with a message; bytes changed
 * behind resealed checksums (the plan, the kernels' object code) never crash the loader. */
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
#include "mlufuse/mlufuse_offline.h"
#include "runtime/mfo.h"
#include "tests/support/mfo_edit.h"
#include "tests/support/tool_run.h"

/* conv+relu on the MLU, pow on the CPU, sigmoid on the MLU, argmax on the CPU (%w's and
%b's values are filled in by small_graph). */
static const char small_mfir[] =
    "graph @small(%x: f32[2,3,8,8]) {\n"
    "  %w = const f32[4,3,3,3] dense<$>\n"
    "  %b = const f32[4] dense<0.5, -0.25, 0, 0.125>\n"
    "  %two = const f32[1] dense<2>\n"
    "  %c = conv2d(%x, %w, %b) {padding=[1,1]} : f32[2,4,8,8]\n"
    "  %r = relu(%c) : f32[2,4,8,8]\n"
    "  %p = pow(%r, %two) : f32[2,4,8,8]\n"
    "  %s = sigmoid(%p) : f32[2,4,8,8]\n"
    "  %a = argmax(%s) {dim=1} : i64[2,1,8,8]\n"
    "  return %s, %a\n"
    "}\n";

/* The x86-64-v3 instruction sets: a host standing for an AVX2 machine. */
static const char v3_host[] = "sse,sse2,sse3,ssse3,sse4.1,sse4.2,popcnt,cx16,sahf,avx,avx2,bmi,bmi2,f16c,fma,lzcnt,movbe";

static char dir[64], path[128];
static unsigned char *file;
static size_t file_len;

static mf_graph *small_graph(void)
{
    char w[2048], text[4096];
    size_t n = 0;
    for (int i = 0; i < 108; i++)
        n += (size_t)snprintf(w + n, sizeof w - n, "%s%g", i ? ", " : "", (i % 7 - 3) * 0.0625);
    const char *at = strchr(small_mfir, '$');
    snprintf(text, sizeof text, "%.*s%s%s", (int)(at - small_mfir), small_mfir, w, at + 1);
    mf_graph *g;
    if (mf_graph_parse(text, "small.mfir", &g))
        fail_msg("%s", mf_last_error());
    return g;
}

static int setup(void **state)
{
    tsupport_tmpdir("offline", dir);
    snprintf(path, sizeof path, "%s/small.mfo", dir);
    mf_graph *g = small_graph();
    mf_genoff_options o = {1, "host,x86-64-v3", "input_format=rgb\n"};
    if (mf_genoff(g, &o, path))
        fail_msg("%s", mf_last_error());
    mf_graph_destroy(g);
    file = (unsigned char *)tsupport_read_file(path, &file_len);
    assert_non_null(file);
    return 0;
}

static int teardown(void **state)
{
    free(file);
    tsupport_rmdir_all(dir);
    return 0;
}

static mf_tensor *input(void)
{
    mf_tensor *x;
    assert_int_equal(mf_tensor_rand(MF_F32, 4, (int64_t[]){2, 3, 8, 8}, 7, -1, 1, MF_DEVICE_CPU, &x), MF_OK);
    return x;
}

static void assert_same_bytes(const mf_tensor *a, const mf_tensor *b)
{
    assert_int_equal(mf_tensor_nbytes(a), mf_tensor_nbytes(b));
    assert_memory_equal(mf_tensor_data(a), mf_tensor_data(b), mf_tensor_nbytes(a));
}

/* A 1x1 conv whose weights each target's GEMM engine packs in panels of its own rows (12
 * output channels at 16 lanes, 6 at 8), so the levels' plans read different constants. */
static mf_graph *packed_graph(void)
{
    static char text[65536];
    size_t n = (size_t)snprintf(
        text, sizeof text,
        "graph @packed(%%x: f32[1,32,8,8]) {\n  %%w = const f32[48,32,1,1] dense<");
    for (int i = 0; i < 48 * 32; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s%g", i ? ", " : "",
                              (i % 13 - 6) * 0.03125);
    snprintf(text + n, sizeof text - n,
             ">\n  %%y = conv2d(%%x, %%w) : f32[1,48,8,8]\n  return %%y\n}\n");
    mf_graph *g;
    if (mf_graph_parse(text, "packed.mfir", &g))
        fail_msg("%s", mf_last_error());
    return g;
}

/* m's outputs (nout of them) for a random input of make()'s graph against a module compiled
 * for cpu (NULL: this machine), byte for byte. */
static void assert_equals_module_of(mf_offline_model *m, mf_graph *(*make)(void), int nout,
                                    const char *cpu)
{
    mf_graph *g = make();
    mf_module_options mo = mf_module_default_options();
    mo.cpu = cpu;
    mf_module *mod;
    if (mf_module_create(g, &mo, &mod))
        fail_msg("%s", mf_last_error());
    const mf_type *t = &g->inputs[0]->type;
    mf_tensor *x, *xd, *want[2], *got[2];
    assert_int_equal(mf_tensor_rand(MF_F32, t->rank, t->shape, 7, -1, 1, MF_DEVICE_CPU, &x), MF_OK);
    assert_int_equal(mf_tensor_to(x, MF_DEVICE_MLU(0), &xd), MF_OK);
    assert_int_equal(mf_module_run(mod, 1, &xd, nout, want), MF_OK);
    if (mf_offline_run(m, 1, &x, nout, got))
        fail_msg("%s", mf_last_error());
    for (int k = 0; k < nout; k++) {
        mf_tensor *w;
        assert_int_equal(mf_tensor_to(want[k], MF_DEVICE_CPU, &w), MF_OK);
        assert_same_bytes(got[k], w);
        mf_tensor_free(w);
        mf_tensor_free(want[k]);
        mf_tensor_free(got[k]);
    }
    mf_tensor_free(x);
    mf_tensor_free(xd);
    mf_module_destroy(mod);
    mf_graph_destroy(g);
}

static void assert_equals_module(mf_offline_model *m, const char *cpu)
{
    assert_equals_module_of(m, small_graph, 2, cpu);
}

static void test_equals_module(void **state)
{
    mf_offline_model *m;
    if (mf_offline_load(path, NULL, &m))
        fail_msg("%s", mf_last_error());
    assert_int_equal(mf_offline_num_inputs(m), 1);
    assert_int_equal(mf_offline_num_outputs(m), 2);
    const char *name;
    mf_dtype dt;
    int rank;
    int64_t shape[MF_MAX_RANK];
    assert_int_equal(mf_offline_io(m, 1, 1, &name, &dt, &rank, shape), MF_OK);
    assert_string_equal(name, "a");
    assert_int_equal(dt, MF_I64);
    assert_int_equal(rank, 4);
    assert_string_equal(mf_offline_meta(m, "batch_size"), "2");
    assert_string_equal(mf_offline_meta(m, "input_format"), "rgb");
    assert_null(mf_offline_meta(m, "no_such_key"));

    assert_equals_module(m, NULL);
    /* a wrong input type is refused, not run */
    mf_tensor *bad, *got[2];
    assert_int_equal(mf_tensor_zeros(MF_F32, 4, (int64_t[]){1, 3, 8, 8}, MF_DEVICE_CPU, &bad), MF_OK);
    assert_int_equal(mf_offline_run(m, 1, &bad, 2, got), MF_ERR_SHAPE);
    mf_tensor_free(bad);
    mf_offline_destroy(m);
}

/* core_number 4 at load time gives the same result as the file's 1. */
static void test_core_number_override(void **state)
{
    mf_offline_model *m1, *m4;
    mf_offline_options o4 = {4, NULL};
    assert_int_equal(mf_offline_load(path, NULL, &m1), MF_OK);
    assert_int_equal(mf_offline_load(path, &o4, &m4), MF_OK);
    mf_tensor *x = input(), *a[2], *b[2];
    assert_int_equal(mf_offline_run(m1, 1, &x, 2, a), MF_OK);
    assert_int_equal(mf_offline_run(m4, 1, &x, 2, b), MF_OK);
    for (int k = 0; k < 2; k++) {
        assert_same_bytes(a[k], b[k]);
        mf_tensor_free(a[k]);
        mf_tensor_free(b[k]);
    }
    mf_tensor_free(x);
    mf_offline_destroy(m1);
    mf_offline_destroy(m4);
}

/* The level a stated AVX2 host gets is the graph as a module for x86-64-v3 compiles it (its
 * own plan and weight layout), run where this host executes AVX2. */
static void test_level_choice(void **state)
{
    mf_offline_model *m;
    mf_offline_options v3 = {0, v3_host}, none = {0, "sse,sse2"};
    assert_int_equal(mf_offline_load_bytes(file, file_len, "small.mfo", &v3, &m), MF_OK);
    bool avx2 = mf_rt_cpu_runs("+avx,+avx2,+bmi,+bmi2,+f16c,+fma,+lzcnt,+movbe", NULL) == MF_OK;
    if (avx2)
        assert_equals_module(m, "x86-64-v3");
    mf_offline_destroy(m);
    /* packed weights: each level reads its own */
    char p2[160];
    snprintf(p2, sizeof p2, "%s/packed.mfo", dir);
    mf_graph *g = packed_graph();
    mf_genoff_options o = {1, "host,x86-64-v3", NULL};
    if (mf_genoff(g, &o, p2))
        fail_msg("%s", mf_last_error());
    mf_graph_destroy(g);
    assert_int_equal(mf_offline_load(p2, NULL, &m), MF_OK);
    assert_equals_module_of(m, packed_graph, 1, NULL);
    mf_offline_destroy(m);
    if (avx2) {
        assert_int_equal(mf_offline_load(p2, &v3, &m), MF_OK);
        assert_equals_module_of(m, packed_graph, 1, "x86-64-v3");
        mf_offline_destroy(m);
    } else
        print_message("skipped: running the x86-64-v3 level (this host lacks AVX2)\n");
    if (mf_rt_cpu_runs("+avx512f", NULL) != MF_OK) /* the host level packs as x86-64-v3 does */
        print_message("note: this host's level packs its weights as x86-64-v3's does, so a level "
                      "reading the other's plan would go unseen here\n");
    assert_int_equal(mf_offline_load_bytes(file, file_len, "small.mfo", &none, &m), MF_ERR_UNSUPPORTED);
    const char *msg = mf_last_error();
    if (!strstr(msg, "no code level") || !strstr(msg, "x86-64-v3") || !strstr(msg, "lacks"))
        fail_msg("%s", msg);
    assert_null(m);
}

static void expect_refused(const unsigned char *data, size_t n, const char *what, const char *needle)
{
    mf_offline_model *m = NULL;
    mf_status s = mf_offline_load_bytes(data, n, "edited.mfo", NULL, &m);
    if (s == MF_OK || m)
        fail_msg("%s: loaded", what);
    if (needle && !strstr(mf_last_error(), needle))
        fail_msg("%s: message \"%s\" lacks \"%s\"", what, mf_last_error(), needle);
}

/* A plan section for every code section, paired in order: a file whose counts differ is
 * refused naming both (a code section's kind turned to plan, then a plan's to code). */
static void test_plans_pair_with_code(void **state)
{
    unsigned char *copy = malloc(file_len);
    assert_non_null(copy);
    static const struct {
        uint32_t from, to;
        const char *message;
    } edits[] = {{MF_MFO_CODE, MF_MFO_PLAN, "3 plan sections for 1 code sections"},
                 {MF_MFO_PLAN, MF_MFO_CODE, "1 plan sections for 3 code sections"}};
    for (int e = 0; e < 2; e++) {
        memcpy(copy, file, file_len);
        for (int i = 0;; i++) { /* the first section of kind `from` becomes one of kind `to` */
            uint32_t kind;
            size_t off, size;
            assert_true(tsupport_mfo_section(copy, file_len, i, &kind, &off, &size));
            if (kind == edits[e].from) {
                memcpy(copy + MF_MFO_HEADER_BYTES + (size_t)i * MF_MFO_SECTION_BYTES, &edits[e].to,
                       4);
                break;
            }
        }
        tsupport_mfo_reseal(copy, file_len);
        expect_refused(copy, file_len, "plan and code counts differ", edits[e].message);
    }
    free(copy);
}

static void test_truncated(void **state)
{
    size_t step = file_len / 1500 + 1;
    for (size_t n = 0; n < file_len; n += step)
        expect_refused(file, n, "truncated", NULL);
    expect_refused(file, file_len - 1, "one byte short", "outside the file");
}

static void test_flipped_byte_in_every_section(void **state)
{
    unsigned char *copy = malloc(file_len);
    char what[64];
    for (int i = 0;; i++) {
        uint32_t kind;
        size_t off, size;
        if (!tsupport_mfo_section(file, file_len, i, &kind, &off, &size))
            break;
        for (size_t at = off; at < off + size; at += size / 7 + 1) {
            memcpy(copy, file, file_len);
            copy[at] ^= 0x10;
            snprintf(what, sizeof what, "section %d byte %zu", i, at - off);
            expect_refused(copy, file_len, what, "checksum");
        }
    }
    for (size_t at = 0; at < 64 + 32; at++) { /* the header and the first table entry */
        memcpy(copy, file, file_len);
        copy[at] ^= 0x01;
        expect_refused(copy, file_len, "header", NULL);
    }
    free(copy);
}

static void test_wrong_version(void **state)
{
    unsigned char *copy = malloc(file_len);
    memcpy(copy, file, file_len);
    uint32_t v = MF_MFO_VERSION + 1;
    memcpy(copy + 8, &v, 4);
    tsupport_mfo_reseal(copy, file_len);
    char want[64];
    snprintf(want, sizeof want, "format version %u", v);
    expect_refused(copy, file_len, "version", want);
    free(copy);
}

/* Changes behind valid checksums reach the plan's and the object loader's own checks: a
 * load either fails with a message or gives a model (which is not run: kernels trust their
 * arguments).  Deterministic: a fixed generator. */
static void test_resealed_edits_never_crash(void **state)
{
    unsigned char *copy = malloc(file_len);
    uint64_t r = 12345;
    int refused = 0, total = 0;
    for (int i = 0;; i++) {
        uint32_t kind;
        size_t off, size;
        if (!tsupport_mfo_section(file, file_len, i, &kind, &off, &size))
            break;
        if (kind == MF_MFO_WEIGHTS || size == 0)
            continue; /* any weights are valid weights */
        for (int k = 0; k < 300; k++, total++) {
            memcpy(copy, file, file_len);
            for (int e = 0; e < 1 + k % 4; e++) {
                r = r * 6364136223846793005ull + 1442695040888963407ull;
                copy[off + (r >> 33) % size] = (unsigned char)(r >> 20);
            }
            tsupport_mfo_reseal(copy, file_len);
            mf_offline_model *m = NULL;
            if (mf_offline_load_bytes(copy, file_len, "edited.mfo", NULL, &m))
                refused++, assert_true(mf_last_error()[0] != 0);
            mf_offline_destroy(m);
        }
    }
    assert_true(refused > total / 4);
    free(copy);
}

static void test_bad_arguments(void **state)
{
    mf_offline_model *m;
    mf_offline_options o = {3, NULL};
    assert_int_equal(mf_offline_load(path, &o, &m), MF_ERR_INVALID);
    assert_int_equal(mf_offline_load("/nonexistent.mfo", NULL, &m), MF_ERR_IO);
    assert_int_equal(mf_offline_load(dir, NULL, &m), MF_ERR_IO);
    mf_graph *g = small_graph();
    mf_genoff_options go = {1, "no-such-cpu", NULL};
    char p2[160];
    snprintf(p2, sizeof p2, "%s/x.mfo", dir);
    assert_int_not_equal(mf_genoff(g, &go, p2), MF_OK);
    assert_int_not_equal(access(p2, F_OK), 0);
    go.cpus = NULL;
    go.core_number = 3;
    assert_int_equal(mf_genoff(g, &go, p2), MF_ERR_INVALID);
    mf_graph_destroy(g);
}

int main(void)
{
    /* An offline model must equal the JIT module bit for bit: the module's compiled kernels
     * (tier 1), made at its creation. */
    setenv("MLUFUSE_TIER", "full", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equals_module), cmocka_unit_test(test_core_number_override),
        cmocka_unit_test(test_level_choice),  cmocka_unit_test(test_plans_pair_with_code),
        cmocka_unit_test(test_truncated),     cmocka_unit_test(test_flipped_byte_in_every_section),
        cmocka_unit_test(test_wrong_version), cmocka_unit_test(test_resealed_edits_never_crash),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests_name("offline_load", tests, setup, teardown);
}
