/* test_module.c — the trace-and-run API: compiled modules equal the reference kernels on
 * the traced MNIST network and a ResNet-style block (fused and with fusion off), new input
 * shapes compile one new specialization and keep the old, a key asked for by 8 threads is
 * compiled once, MLUFUSE_VERIFY catches a wrong kernel, a recompile storm warns, and
 * kernels compiled on several threads are each reported once and give the same result. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlufuse/mlufuse_passes.h"
#include "models/mnist.h"
#include "models/resnet_block.h"
#include "module/module.h"
#include "tests/support/compare.h"

static mf_graph *trace_mnist(mnist_net *net, mf_tensor *x)
{
    mf_tensor *y;
    mf_graph *g;
    assert_int_equal(mf_trace_begin(1, &x), MF_OK);
    assert_int_equal(mnist_forward(net, x, &y), MF_OK);
    assert_int_equal(mf_trace_end(1, &y, &g), MF_OK);
    mf_tensor_free(y);
    return g;
}

/* Runs g fused or not and compares with the interpreter on x. */
static void check_module(const mf_graph *g, mf_tensor *x, int fusion, int cores, double tol)
{
    mf_module_options o = mf_module_default_options();
    o.fusion = fusion;
    o.core_number = cores;
    mf_module *m;
    mf_tensor *got, *want;
    if (mf_module_create(g, &o, &m) != MF_OK)
        fail_msg("%s", mf_last_error());
    assert_int_equal(mf_module_run(m, 1, &x, 1, &got), MF_OK);
    assert_int_equal(mf_graph_interpret(g, 1, &x, 1, &want), MF_OK);
    double d = tsupport_rel_diff(got, want, 1e-30);
    if (d > tol)
        fail_msg("fusion %d cores %d: relative difference %g", fusion, cores, d);
    mf_tensor_free(got);
    mf_tensor_free(want);
    mf_module_destroy(m);
}

static void test_mnist_fused_unfused_and_cores(void **state)
{
    mnist_net net;
    mf_tensor *x;
    assert_int_equal(mnist_init(&net, 2, MF_DEVICE_MLU(0)), MF_OK);
    assert_int_equal(mf_tensor_rand(MF_F32, 4, (int64_t[]){2, 1, 28, 28}, 3, 0, 1, MF_DEVICE_MLU(0), &x), MF_OK);
    mf_graph *g = trace_mnist(&net, x);
    check_module(g, x, 1, 1, 1e-4);
    check_module(g, x, 0, 1, 1e-4); /* DISABLE_MLU_FUSION's path */
    check_module(g, x, 1, 4, 1e-4);
    check_module(g, x, 1, 16, 1e-4);
    mf_tensor_free(x);
    mnist_free(&net);
    mf_graph_destroy(g);
}

/* conv-bn-relu-conv-bn + residual add + relu (examples/models/resnet_block.c), 16 channels,
 * 14x14, traced on mlu:0. */
static mf_graph *trace_resnet_block(mf_tensor **x_out)
{
    mf_graph *g;
    if (resnet_block_trace(16, 14, 1, MF_DEVICE_MLU(0), x_out, &g) != MF_OK)
        fail_msg("%s", mf_last_error());
    return g;
}

static void test_resnet_block(void **state)
{
    mf_tensor *x;
    mf_graph *g = trace_resnet_block(&x);
    check_module(g, x, 1, 1, 1e-4);
    check_module(g, x, 0, 1, 1e-4);
    check_module(g, x, 1, 4, 1e-4);
    mf_tensor_free(x);
    mf_graph_destroy(g);
}

static void test_new_shape_new_specialization(void **state)
{
    mnist_net net;
    mf_tensor *x1, *x3, *y;
    assert_int_equal(mnist_init(&net, 4, MF_DEVICE_MLU(0)), MF_OK);
    assert_int_equal(mf_tensor_rand(MF_F32, 4, (int64_t[]){1, 1, 28, 28}, 5, 0, 1, MF_DEVICE_MLU(0), &x1), MF_OK);
    assert_int_equal(mf_tensor_rand(MF_F32, 4, (int64_t[]){3, 1, 28, 28}, 6, 0, 1, MF_DEVICE_MLU(0), &x3), MF_OK);
    mf_graph *g = trace_mnist(&net, x1);
    mf_module *m;
    mf_kernel_cache_stats s0, s1, s2, s3;
    mf_tensor *want3; /* layer by layer first: its one-op kernels must not blur the counts */
    assert_int_equal(mnist_forward(&net, x3, &want3), MF_OK);
    assert_int_equal(mf_module_create(g, NULL, &m), MF_OK);
    assert_int_equal(mf_module_num_specializations(m), 1);
    mf_kernel_cache_get_stats(&s0);
    assert_int_equal(mf_module_run(m, 1, &x1, 1, &y), MF_OK);
    mf_tensor_free(y);
    mf_kernel_cache_get_stats(&s1);
    assert_int_equal(s1.misses, s0.misses); /* same shapes: nothing compiled */
    assert_int_equal(mf_module_run(m, 1, &x3, 1, &y), MF_OK);
    assert_int_equal(mf_tensor_dim(y, 0), 3);
    mf_kernel_cache_get_stats(&s2);
    assert_true(s2.misses > s1.misses);
    assert_int_equal(mf_module_num_specializations(m), 2);
    mf_tensor *want;
    assert_int_equal(mf_graph_interpret(g, 1, &x3, 1, &want), MF_ERR_SHAPE); /* the graph itself is batch 1 */
    assert_true(tsupport_rel_diff(y, want3, 1e-30) <= 1e-4);
    mf_tensor_free(want3);
    mf_tensor_free(y);
    assert_int_equal(mf_module_run(m, 1, &x3, 1, &y), MF_OK); /* the old ones stay */
    assert_int_equal(mf_module_run(m, 1, &x1, 1, &want), MF_OK);
    mf_kernel_cache_get_stats(&s3);
    assert_int_equal(s3.misses, s2.misses);
    assert_int_equal(mf_module_num_specializations(m), 2);
    mf_tensor_free(y);
    mf_tensor_free(want);
    /* a second module of the same network compiles nothing: the kernels are in the map */
    mf_module *m2;
    assert_int_equal(mf_module_create(g, NULL, &m2), MF_OK);
    mf_kernel_cache_get_stats(&s0);
    assert_int_equal(s0.misses, s3.misses);
    assert_true(s0.hits > s3.hits);
    mf_module_destroy(m2);
    mf_module_destroy(m);
    mf_graph_destroy(g);
    mf_tensor_free(x1);
    mf_tensor_free(x3);
    mnist_free(&net);
}

typedef struct race {
    mf_graph *sub;
    const mf_kernel *got;
    mf_status status;
} race;

static void *ask(void *arg)
{
    race *r = arg;
    mf_cache_options co = {NULL, 3, 1};
    r->status = mf_cache_get(r->sub, &co, &r->got);
    return NULL;
}

static void test_eight_threads_compile_once(void **state)
{
    /* a subgraph no other test uses: tanh(x) * 1.25 on an odd shape */
    mf_type t = {MF_F32, 2, {13, 71}}, st = {MF_F32, 0, {0}};
    mf_graph *sub = mf_graph_new("race");
    mf_value *x = mf_graph_add_input(sub, NULL, &t), *k = mf_graph_add_input(sub, NULL, &st);
    mf_node *a, *b;
    assert_int_equal(mf_graph_add_node(sub, MF_OP_TANH, 1, &x, NULL, &a), MF_OK);
    assert_int_equal(mf_graph_add_node(sub, MF_OP_MUL, 2, (mf_value *[]){a->outputs[0], k}, NULL, &b), MF_OK);
    assert_int_equal(mf_graph_set_outputs(sub, 1, b->outputs), MF_OK);
    mf_kernel_cache_stats before, after;
    mf_kernel_cache_get_stats(&before);
    pthread_t th[8];
    race r[8];
    for (int i = 0; i < 8; i++) {
        r[i] = (race){sub, NULL, MF_ERR_INTERNAL};
        assert_int_equal(pthread_create(&th[i], NULL, ask, &r[i]), 0);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    mf_kernel_cache_get_stats(&after);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(r[i].status, MF_OK);
        assert_ptr_equal(r[i].got, r[0].got);
    }
    assert_int_equal(after.misses - before.misses, 1);
    assert_int_equal(after.hits - before.hits, 7);
    assert_int_equal(after.entries - before.entries, 1);
    mf_graph_destroy(sub);
}

static void test_verify_reports_bad_subgraph(void **state)
{
    /* A threshold of 0 makes the polynomial tanh (within 2e-6 of libm) "wrong". */
    setenv("MLUFUSE_VERIFY", "1", 1);
    setenv("MLUFUSE_VERIFY_RTOL", "0", 1);
    char dir[] = "/tmp/mf-verify-XXXXXX";
    assert_non_null(mkdtemp(dir));
    setenv("MLUFUSE_VERIFY_DIR", dir, 1);
    mf_tensor *x, *y, *out;
    mf_graph *g;
    assert_int_equal(mf_tensor_rand(MF_F32, 2, (int64_t[]){4, 100}, 9, -3, 3, MF_DEVICE_MLU(0), &x), MF_OK);
    assert_int_equal(mf_trace_begin(1, &x), MF_OK);
    assert_int_equal(mf_tanh(x, &y), MF_OK);
    assert_int_equal(mf_trace_end(1, &y, &g), MF_OK);
    mf_module *m;
    assert_int_equal(mf_module_create(g, NULL, &m), MF_OK);
    assert_int_equal(mf_module_run(m, 1, &x, 1, &out), MF_ERR_INTERNAL);
    assert_non_null(strstr(mf_last_error(), "MLUFUSE_VERIFY: subgraph 0 (tanh) on (f32[4,100])"));
    assert_non_null(strstr(mf_last_error(), "relative error"));
    char path[256];
    snprintf(path, sizeof path, "%s/subgraph_0.mfir", dir);
    mf_graph *repro;
    assert_int_equal(mf_graph_load(path, &repro), MF_OK); /* the repro loads and verifies */
    assert_int_equal(mf_graph_num_nodes(repro), 1);
    mf_graph_destroy(repro);
    snprintf(path, sizeof path, "%s/subgraph_0.input0.npy", dir);
    mf_tensor *saved;
    assert_int_equal(mf_tensor_load_npy(path, &saved), MF_OK);
    assert_int_equal(mf_tensor_numel(saved), 400);
    mf_tensor_free(saved);
    mf_module_destroy(m);
    /* at the default threshold the same kernel passes */
    unsetenv("MLUFUSE_VERIFY_RTOL");
    assert_int_equal(mf_module_create(g, NULL, &m), MF_OK);
    assert_int_equal(mf_module_run(m, 1, &x, 1, &out), MF_OK);
    mf_tensor_free(out);
    mf_module_destroy(m);
    unsetenv("MLUFUSE_VERIFY");
    unsetenv("MLUFUSE_VERIFY_DIR");
    mf_graph_destroy(g);
    mf_tensor_free(x);
    mf_tensor_free(y);
}

static void test_specialization_budget_warns_once(void **state)
{
    mf_tensor *x, *y;
    mf_graph *g;
    assert_int_equal(mf_tensor_rand(MF_F32, 2, (int64_t[]){1, 8}, 1, -1, 1, MF_DEVICE_MLU(0), &x), MF_OK);
    assert_int_equal(mf_trace_begin(1, &x), MF_OK);
    assert_int_equal(mf_relu(x, &y), MF_OK);
    assert_int_equal(mf_trace_end(1, &y, &g), MF_OK);
    mf_tensor_free(y);
    mf_module_options o = mf_module_default_options();
    o.max_specializations = 2;
    mf_module *m;
    assert_int_equal(mf_module_create(g, &o, &m), MF_OK);
    /* capture stderr */
    fflush(stderr);
    char path[] = "/tmp/mf-stderr-XXXXXX";
    int fd = mkstemp(path), saved = dup(2);
    dup2(fd, 2);
    for (int64_t n = 2; n <= 5; n++) {
        mf_tensor *xn, *yn;
        assert_int_equal(mf_tensor_rand(MF_F32, 2, (int64_t[]){n, 8}, 1, -1, 1, MF_DEVICE_MLU(0), &xn), MF_OK);
        assert_int_equal(mf_module_run(m, 1, &xn, 1, &yn), MF_OK);
        mf_tensor_free(xn);
        mf_tensor_free(yn);
    }
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char buf[2048] = {0};
    FILE *f = fdopen(fd, "r");
    rewind(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    unlink(path);
    buf[n] = 0;
    assert_non_null(strstr(buf, "3 input-shape specializations (budget 2)"));
    assert_non_null(strstr(buf, "f32[1,8] ") || strstr(buf, "f32[1,8]\n"));
    assert_null(strstr(strstr(buf, "budget") + 1, "budget")); /* once per module */
    assert_int_equal(mf_module_num_specializations(m), 5);
    mf_module_destroy(m);
    mf_graph_destroy(g);
    mf_tensor_free(x);
}

/* The seed's core_version: kernels for a named LLVM CPU (AVX2-only x86-64-v3 here, which
 * this machine also runs) are keyed apart from the host's and compute the same. */
static void test_named_core_version(void **state)
{
    mf_tensor *x;
    mf_graph *g = trace_resnet_block(&x);
    mf_module_options o = mf_module_default_options();
    o.cpu = "x86-64-v3";
    /* an emulated pre-AVX2 host: test_cpu_this_host_cannot_run's case */
    if (mf_cpu_check_runs(o.cpu)) {
        printf("  %s: this host cannot run its code: skipped\n", o.cpu);
        mf_graph_destroy(g);
        mf_tensor_free(x);
        return;
    }
    mf_module *m;
    mf_tensor *got, *want;
    mf_kernel_cache_stats s0, s1;
    mf_kernel_cache_get_stats(&s0);
    assert_int_equal(mf_module_create(g, &o, &m), MF_OK);
    mf_kernel_cache_get_stats(&s1);
    assert_true(s1.compiled > s0.compiled); /* not the host's kernels */
    assert_int_equal(mf_module_run(m, 1, &x, 1, &got), MF_OK);
    assert_int_equal(mf_graph_interpret(g, 1, &x, 1, &want), MF_OK);
    assert_true(tsupport_rel_diff(got, want, 1e-30) <= 1e-4);
    mf_tensor_free(got);
    mf_tensor_free(want);
    mf_module_destroy(m);
    o.cpu = "bad cpu!";
    assert_int_equal(mf_module_create(g, &o, &m), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "'bad cpu!' is not an LLVM CPU name"));
    mf_graph_destroy(g);
    mf_tensor_free(x);
}

/* Code for a CPU this host cannot run compiles but does not run (an AVX-512 kernel on an
 * AVX2 host died of SIGILL); tier fast, the host's generic kernels, runs.  The CPU is the
 * first of a few wide ones that this host lacks something of: where it runs them all (a
 * Sapphire Rapids class host) the module case is skipped, and said so; `make test-avx2` runs
 * it. */
static void test_cpu_this_host_cannot_run(void **state)
{
    static const char *const wide[] = {"sapphirerapids", "cascadelake", "skylake-avx512",
                                       "haswell"};
    const char *cpu = NULL;
    for (size_t i = 0; i < sizeof wide / sizeof wide[0] && !cpu; i++)
        if (mf_cpu_check_runs(wide[i]) == MF_ERR_UNSUPPORTED)
            cpu = wide[i];
    assert_int_equal(mf_cpu_check_runs(NULL), MF_OK);
    assert_int_equal(mf_cpu_check_runs("x86-64"), MF_OK);
    assert_int_equal(mf_cpu_check_runs("bad cpu!"), MF_ERR_INVALID);
    if (!cpu) {
        printf("  this host runs every CPU tried: the module case is skipped\n");
        return;
    }
    assert_int_equal(mf_cpu_check_runs(cpu), MF_ERR_UNSUPPORTED);
    assert_non_null(strstr(mf_last_error(), "cannot run on this host"));
    mf_tensor *x, *got, *want;
    mf_graph *g = trace_resnet_block(&x);
    mf_module_options o = mf_module_default_options();
    o.cpu = cpu;
    o.tier = MF_TIER_FULL;
    mf_module *m;
    assert_int_equal(mf_module_create(g, &o, &m), MF_OK); /* compiles, as for the disk cache */
    assert_int_equal(mf_module_run(m, 1, &x, 1, &got), MF_ERR_UNSUPPORTED);
    assert_non_null(strstr(mf_last_error(), "module_run: code for CPU"));
    mf_module_destroy(m);
    o.tier = MF_TIER_FAST;
    assert_int_equal(mf_module_create(g, &o, &m), MF_OK);
    assert_int_equal(mf_module_run(m, 1, &x, 1, &got), MF_OK);
    assert_int_equal(mf_graph_interpret(g, 1, &x, 1, &want), MF_OK);
    assert_true(tsupport_rel_diff(got, want, 1e-30) <= 1e-4);
    printf("  %s: compiled, not run; its tier fast ran\n", cpu);
    mf_tensor_free(got);
    mf_tensor_free(want);
    mf_module_destroy(m);
    mf_graph_destroy(g);
    mf_tensor_free(x);
}

/* Casts in a module: f32 to f32 compiles (the identity, fused into its chain); a cast
 * through i32 makes its subgraph fall back to the CPU; both equal the interpreter, fused
 * and unfused, on every core count. */
static void test_casts(void **state)
{
    mf_tensor *x, *a, *b, *c, *d, *e, *f, *y;
    mf_graph *g;
    assert_int_equal(mf_tensor_rand(MF_F32, 2, (int64_t[]){3, 37}, 5, -4, 4, MF_DEVICE_MLU(0), &x), MF_OK);
    assert_int_equal(mf_trace_begin(1, &x), MF_OK);
    assert_int_equal(mf_sigmoid(x, &a), MF_OK);
    assert_int_equal(mf_cast(a, MF_F32, &b), MF_OK);
    assert_int_equal(mf_mul(b, x, &c), MF_OK);
    assert_int_equal(mf_trace_end(1, &c, &g), MF_OK);
    check_module(g, x, 1, 1, 1e-5);
    check_module(g, x, 0, 4, 1e-5);
    mf_graph_destroy(g);
    mf_tensor_free(c);

    assert_int_equal(mf_trace_begin(1, &x), MF_OK);
    assert_int_equal(mf_mul(b, x, &c), MF_OK);
    assert_int_equal(mf_mul_scalar(x, 10, &d), MF_OK);
    assert_int_equal(mf_cast(d, MF_I32, &e), MF_OK); /* truncated toward zero */
    assert_int_equal(mf_cast(e, MF_F32, &f), MF_OK);
    assert_int_equal(mf_add(c, f, 1, &y), MF_OK);
    assert_int_equal(mf_trace_end(1, &y, &g), MF_OK);
    check_module(g, x, 1, 1, 1e-5);
    check_module(g, x, 1, 16, 1e-5);
    check_module(g, x, 0, 1, 1e-5);
    mf_tensor *all[] = {x, a, b, c, d, e, f, y};
    for (int i = 0; i < 8; i++)
        mf_tensor_free(all[i]);
    mf_graph_destroy(g);
}

/* A matmul with a 1-D operand has device code for its op but not for its shapes
 * (mf_node_mlu_limit): segmentation itself puts it on the CPU, between two fused
 * subgraphs, so the module compiles every subgraph it is given (nothing falls back after
 * codegen) and equals the interpreter, fused and unfused. */
static void test_codegen_limit_on_cpu(void **state)
{
    mf_tensor *x, *w, *a, *mm, *y;
    assert_int_equal(mf_tensor_rand(MF_F32, 1, (int64_t[]){4}, 3, -1, 1, MF_DEVICE_MLU(0), &x), MF_OK);
    assert_int_equal(mf_tensor_rand(MF_F32, 2, (int64_t[]){4, 3}, 4, -1, 1, MF_DEVICE_MLU(0), &w), MF_OK);
    assert_int_equal(mf_trace_begin(1, &x), MF_OK);
    assert_int_equal(mf_relu(x, &a), MF_OK);
    assert_int_equal(mf_matmul(a, w, &mm), MF_OK);
    assert_int_equal(mf_sigmoid(mm, &y), MF_OK);
    mf_graph *g;
    assert_int_equal(mf_trace_end(1, &y, &g), MF_OK);
    mf_graph *seg;
    assert_int_equal(mf_graph_clone(g, NULL, &seg), MF_OK);
    mf_opt_options o = mf_opt_default_options();
    o.passes = "segment";
    assert_int_equal(mf_graph_optimize(seg, &o, NULL), MF_OK);
    for (int i = 0; i < seg->nnodes; i++)
        assert_int_equal(seg->nodes[i]->subgraph < 0, seg->nodes[i]->op == MF_OP_MATMUL);
    mf_graph_destroy(seg);
    check_module(g, x, 1, 1, 1e-5);
    check_module(g, x, 0, 4, 1e-5);
    mf_graph_destroy(g);
    mf_tensor *all[] = {x, w, a, mm, y};
    for (int i = 0; i < 5; i++)
        mf_tensor_free(all[i]);
}

/* A 20,000-node chain of fusible ops (relu, then sub x, repeated) once overflowed the
 * stack in codegen's recursive walks; segmentation now cuts fused subgraphs at
 * MF_SEG_MAX_NODES, so the chain compiles fused, in pieces, and equals the interpreter. */
static void test_long_chain(void **state)
{
    mf_tensor *x;
    assert_int_equal(mf_tensor_rand(MF_F32, 2, (int64_t[]){2, 19}, 11, 0, 1, MF_DEVICE_MLU(0), &x), MF_OK);
    mf_graph *g = mf_graph_new("chain");
    mf_type xt = {MF_F32, 2, {2, 19}};
    mf_value *in = mf_graph_add_input(g, "x", &xt), *y = in;
    for (int i = 0; i < 10000; i++) {
        mf_node *n;
        assert_int_equal(mf_graph_add_node(g, MF_OP_RELU, 1, &y, NULL, &n), MF_OK);
        mf_value *ab[2] = {n->outputs[0], in};
        assert_int_equal(mf_graph_add_node(g, MF_OP_SUB, 2, ab, NULL, &n), MF_OK);
        y = n->outputs[0];
    }
    assert_int_equal(mf_graph_set_outputs(g, 1, &y), MF_OK);
    check_module(g, x, 1, 1, 1e-5);
    mf_graph_destroy(g);
    mf_tensor_free(x);
}

/* What the on_kernel and progress callbacks saw. */
typedef struct compile_log {
    int in_call, overlaps; /* the module promises one call at a time: count overlaps */
    int kernels, compiled, last_done, total, out_of_order;
    int bad_timings; /* checked in the main thread: cmocka asserts only there */
    char labels[64][80];
} compile_log;

static void log_kernel(const mf_kernel_timing *t, void *ctx)
{
    compile_log *l = ctx;
    if (__atomic_fetch_add(&l->in_call, 1, __ATOMIC_SEQ_CST))
        l->overlaps++;
    if (l->kernels < 64)
        snprintf(l->labels[l->kernels], sizeof l->labels[0], "%s", t->label);
    l->kernels++;
    if (t->source == MF_KERNEL_COMPILED) {
        l->compiled++;
        l->bad_timings += !(t->build_ms >= 0 && t->optimize_ms > 0 && t->emit_ms > 0);
        l->bad_timings += !(t->total_ms + 0.5 >= t->build_ms + t->optimize_ms + t->emit_ms);
    }
    l->bad_timings += strlen(t->key) != 64;
    __atomic_fetch_sub(&l->in_call, 1, __ATOMIC_SEQ_CST);
}

static void log_progress(int done, int total, void *ctx)
{
    compile_log *l = ctx;
    if (done != l->last_done + 1)
        l->out_of_order++;
    l->last_done = done;
    l->total = total;
}

/* Kernels compiled on several threads: every subgraph is reported once, progress counts up
 * to the total, the result equals the one-thread module's bit for bit. */
static void test_parallel_compile(void **state)
{
    mnist_net net;
    mf_tensor *x, *got[2];
    assert_int_equal(mnist_init(&net, 11, MF_DEVICE_MLU(0)), MF_OK);
    assert_int_equal(mf_tensor_rand(MF_F32, 4, (int64_t[]){5, 1, 28, 28}, 9, 0, 1, MF_DEVICE_MLU(0), &x), MF_OK);
    mf_graph *g = trace_mnist(&net, x);
    for (int threads = 1; threads <= 2; threads++) {
        compile_log l = {0};
        mf_module_options o = mf_module_default_options();
        o.compile_threads = threads;
        o.opt_level = 1 + threads; /* keys no other test asked for: really compiled or loaded */
        o.on_kernel = log_kernel;
        o.on_kernel_ctx = &l;
        o.progress = log_progress;
        o.progress_ctx = &l;
        mf_module *m;
        if (mf_module_create(g, &o, &m) != MF_OK)
            fail_msg("%s", mf_last_error());
        assert_int_equal(l.overlaps, 0);
        assert_int_equal(l.out_of_order, 0);
        assert_int_equal(l.bad_timings, 0);
        assert_true(l.kernels > 3);
        assert_int_equal(l.kernels, l.total);
        assert_int_equal(l.last_done, l.total);
        for (int i = 0; i < l.kernels && i < 64; i++) /* each subgraph once */
            for (int j = 0; j < i; j++)
                assert_string_not_equal(l.labels[i], l.labels[j]);
        assert_int_equal(mf_module_run(m, 1, &x, 1, &got[threads - 1]), MF_OK);
        mf_module_destroy(m);
    }
    mf_tensor *want;
    assert_int_equal(mf_graph_interpret(g, 1, &x, 1, &want), MF_OK);
    assert_true(tsupport_rel_diff(got[0], want, 1e-30) < 1e-4);
    assert_true(tsupport_rel_diff(got[1], want, 1e-30) < 1e-4);
    mf_tensor_free(want);
    for (int i = 0; i < 2; i++)
        mf_tensor_free(got[i]);
    mf_tensor_free(x);
    mnist_free(&net);
    mf_graph_destroy(g);
}

static void test_compile_threads_checked(void **state)
{
    mf_tensor *x, *y;
    mf_graph *g;
    mf_module *m = NULL;
    assert_int_equal(mf_tensor_rand(MF_F32, 2, (int64_t[]){2, 8}, 1, -1, 1, MF_DEVICE_MLU(0), &x), MF_OK);
    assert_int_equal(mf_trace_begin(1, &x), MF_OK);
    assert_int_equal(mf_sigmoid(x, &y), MF_OK);
    assert_int_equal(mf_trace_end(1, &y, &g), MF_OK);
    mf_module_options o = mf_module_default_options();
    o.compile_threads = -1;
    assert_int_equal(mf_module_create(g, &o, &m), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "compile_threads -1"));
    setenv("MLUFUSE_COMPILE_THREADS", "two", 1);
    assert_int_equal(mf_module_create(g, NULL, &m), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "MLUFUSE_COMPILE_THREADS=two"));
    setenv("MLUFUSE_COMPILE_THREADS", "1", 1);
    assert_int_equal(mf_module_create(g, NULL, &m), MF_OK);
    unsetenv("MLUFUSE_COMPILE_THREADS");
    mf_module_destroy(m);
    mf_graph_destroy(g);
    mf_tensor_free(x);
    mf_tensor_free(y);
}

static void test_errors(void **state)
{
    mf_module *m = (mf_module *)0x1;
    mf_module_options o = mf_module_default_options();
    o.core_number = 3;
    mf_tensor *x, *y, *wrong;
    mf_graph *g;
    assert_int_equal(mf_tensor_rand(MF_F32, 2, (int64_t[]){2, 8}, 1, -1, 1, MF_DEVICE_MLU(0), &x), MF_OK);
    assert_int_equal(mf_trace_begin(1, &x), MF_OK);
    assert_int_equal(mf_sigmoid(x, &y), MF_OK);
    assert_int_equal(mf_trace_end(1, &y, &g), MF_OK);
    assert_int_equal(mf_module_create(g, &o, &m), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "core_number 3 (must be 1, 4 or 16)"));
    assert_null(m);
    assert_int_equal(mf_module_create(NULL, NULL, &m), MF_ERR_INVALID);
    assert_int_equal(mf_module_create(g, NULL, &m), MF_OK);
    mf_tensor *out = NULL;
    assert_int_equal(mf_tensor_rand(MF_F32, 3, (int64_t[]){2, 8, 1}, 1, -1, 1, MF_DEVICE_MLU(0), &wrong), MF_OK);
    assert_int_equal(mf_module_run(m, 1, &wrong, 1, &out), MF_ERR_SHAPE);
    assert_non_null(strstr(mf_last_error(), "input 0 is f32[2,8,1], the graph takes f32[2,8]"));
    mf_tensor_free(wrong);
    assert_int_equal(mf_tensor_rand(MF_F32, 2, (int64_t[]){2, 8}, 1, -1, 1, MF_DEVICE_CPU, &wrong), MF_OK);
    assert_int_equal(mf_module_run(m, 1, &wrong, 1, &out), MF_ERR_DEVICE);
    assert_int_equal(mf_module_run(m, 2, &wrong, 1, &out), MF_ERR_INVALID);
    assert_null(out);
    mf_tensor_free(wrong);
    mf_module_destroy(m);
    mf_graph_destroy(g);
    mf_tensor_free(x);
    mf_tensor_free(y);
}

int main(void)
{
    /* These tests examine compiled kernels (tier 1) as module creation makes them; the
     * tiers themselves are test_tiers.c's. */
    setenv("MLUFUSE_TIER", "full", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mnist_fused_unfused_and_cores),
        cmocka_unit_test(test_resnet_block),
        cmocka_unit_test(test_new_shape_new_specialization),
        cmocka_unit_test(test_eight_threads_compile_once),
        cmocka_unit_test(test_verify_reports_bad_subgraph),
        cmocka_unit_test(test_specialization_budget_warns_once),
        cmocka_unit_test(test_named_core_version),
        cmocka_unit_test(test_cpu_this_host_cannot_run),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_casts),
        cmocka_unit_test(test_long_chain),
        cmocka_unit_test(test_codegen_limit_on_cpu),
        cmocka_unit_test(test_parallel_compile),
        cmocka_unit_test(test_compile_threads_checked),
    };
    return cmocka_run_group_tests_name("module", tests, NULL, NULL);
}
