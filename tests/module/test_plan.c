/* test_plan.c — the plan builder and executor without code generation: a segmented graph
 * whose MLU subgraphs run hand-written kernels, with a CPU-fallback op between them, must
 * compute what the interpreter computes; copies appear exactly at the device/host
 * boundaries, and the arena reuses memory across live ranges; a kernel step's estimated cost
 * decides whether its launch is split, and a small kernel reading a split one's output is split
 * too. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "module/module.h"

#define N 16 /* elements of every activation in these graphs: f32[1,1,4,4] */

/* relu on N elements, partitioned */
static void relu_kernel(void *const *args, int64_t part, int64_t nparts)
{
    float *o = args[0];
    const float *x = args[1];
    for (int64_t i = part * N / nparts; i < (part + 1) * N / nparts; i++)
        o[i] = x[i] > 0 ? x[i] : 0;
}

/* o = x * w + x (w a per-element constant): a "fused" mul + add with two outputs, in
 * node order: the product (also a graph output) and the sum */
static void muladd_kernel(void *const *args, int64_t part, int64_t nparts)
{
    float *prod = args[0], *sum = args[1];
    const float *x = args[2], *w = args[3];
    for (int64_t i = part * N / nparts; i < (part + 1) * N / nparts; i++) {
        prod[i] = x[i] * w[i];
        sum[i] = prod[i] + x[i];
    }
}

/* relu_kernel, noting the partition count it was launched with */
static int64_t relu_nparts_seen;
static _Atomic int64_t relu_nparts_max;
static void relu_noting_kernel(void *const *args, int64_t part, int64_t nparts)
{
    if (part == 0)
        relu_nparts_seen = nparts;
    for (int64_t m = relu_nparts_max; nparts > m && !atomic_compare_exchange_weak(&relu_nparts_max, &m, nparts);)
        ;
    relu_kernel(args, part, nparts);
}

static mf_node *node(mf_graph *g, mf_op op, int nin, mf_value **in, const mf_attr *a, int sub)
{
    mf_node *n;
    assert_int_equal(mf_graph_add_node(g, op, nin, in, a, &n), MF_OK);
    n->subgraph = sub;
    return n;
}

/* x -> relu [sg 0] -> upsample x1 [cpu] -> mul w, add x [sg 1] -> outputs (sum, prod) */
static mf_graph *build(mf_buffer *w)
{
    mf_type t = {MF_F32, 4, {1, 1, 4, 4}};
    mf_graph *g = mf_graph_new("t");
    mf_value *x = mf_graph_add_input(g, "x", &t), *wc = mf_graph_add_const(g, "w", &t, w);
    mf_value *r = node(g, MF_OP_RELU, 1, &x, NULL, 0)->outputs[0];
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_UPSAMPLE_NEAREST2D, a);
    mf_attr_set_ints(MF_OP_UPSAMPLE_NEAREST2D, a, "scale", 2, (int64_t[]){1, 1});
    mf_value *u = node(g, MF_OP_UPSAMPLE_NEAREST2D, 1, &r, a, -1)->outputs[0];
    mf_value *p = node(g, MF_OP_MUL, 2, (mf_value *[]){u, wc}, NULL, 1)->outputs[0];
    mf_value *s = node(g, MF_OP_ADD, 2, (mf_value *[]){p, u}, NULL, 1)->outputs[0];
    assert_int_equal(mf_graph_set_outputs(g, 2, (mf_value *[]){s, p}), MF_OK);
    return g;
}

/* Runs p on a random input and checks both outputs against the interpreter's, exactly. */
static void run_as_interpreter(const mf_plan *p, mf_graph *g, int cores)
{
    mf_tensor *x, *xd, *out[2], *want[2];
    assert_int_equal(mf_tensor_rand(MF_F32, 4, (int64_t[]){1, 1, 4, 4}, 9, -1, 1, MF_DEVICE_CPU, &x), MF_OK);
    assert_int_equal(mf_tensor_to(x, MF_DEVICE_MLU(0), &xd), MF_OK);
    assert_int_equal(mf_rt_plan_run(p, &xd, out), MF_OK);
    assert_int_equal(mf_graph_interpret(g, 1, &x, 2, want), MF_OK);
    for (int k = 0; k < 2; k++) {
        mf_tensor *host;
        assert_int_equal(mf_tensor_to(out[k], MF_DEVICE_CPU, &host), MF_OK);
        const float *got = mf_tensor_data(host), *ref = mf_tensor_data(want[k]);
        for (int i = 0; i < N; i++)
            if (got[i] != ref[i])
                fail_msg("cores %d output %d element %d: %g, want %g", cores, k, i, got[i], ref[i]);
        mf_tensor_free(host);
        mf_tensor_free(out[k]);
        mf_tensor_free(want[k]);
    }
    mf_tensor_free(x);
    mf_tensor_free(xd);
}

static void test_plan_matches_interpreter(void **state)
{
    mf_buffer *w = mf_buffer_new_host(N * 4);
    for (int i = 0; i < N; i++)
        ((float *)w->data)[i] = (float)i / 4 - 1;
    mf_graph *g = build(w);
    mf_buffer_release(w);
    mf_segment segs[2];
    assert_int_equal(mf_mod_extract_segment(g, 0, &segs[0]), MF_OK);
    assert_int_equal(mf_mod_extract_segment(g, 1, &segs[1]), MF_OK);
    assert_string_equal(segs[1].label, "subgraph 1 (mul+add)");
    assert_int_equal(segs[1].ninputs, 2); /* the activation, then the weight */
    assert_true(segs[1].inputs[1]->is_const);
    assert_int_equal(segs[1].noutputs, 2);
    assert_int_equal(segs[1].outputs[0]->producer->op, MF_OP_MUL);

    mf_rt_kernel_fn kernels[2] = {relu_kernel, muladd_kernel};
    size_t scratch[2] = {0, 0};
    for (int cores = 1; cores <= 16; cores *= 4) {
        mf_plan *p;
        assert_int_equal(mf_mod_build_plan(g, segs, 2, kernels, scratch, MF_DEVICE_MLU(0), cores, &p), MF_OK);
        int copies = 0, kernels_run = 0, cpu = 0;
        for (int i = 0; i < p->nsteps; i++) {
            copies += p->steps[i].kind == MF_STEP_COPY;
            kernels_run += p->steps[i].kind == MF_STEP_KERNEL;
            cpu += p->steps[i].kind == MF_STEP_CPU_OP;
        }
        assert_int_equal(kernels_run, 2);
        assert_int_equal(cpu, 1);
        assert_int_equal(copies, 2); /* relu's result to the host, upsample's back */
        assert_true(p->device_bytes <= 2 * 64);

        run_as_interpreter(p, g, cores);
        mf_rt_plan_free(p);
    }
    mf_mod_segment_free(&segs[0]);
    mf_mod_segment_free(&segs[1]);
    mf_graph_destroy(g);
}

/* build() with a zero weight, cut into its two subgraphs */
static mf_graph *build_zero_weight(mf_segment segs[2])
{
    mf_buffer *w = mf_buffer_new_host(N * 4);
    memset(w->data, 0, N * 4);
    mf_graph *g = build(w);
    mf_buffer_release(w);
    assert_int_equal(mf_mod_extract_segment(g, 0, &segs[0]), MF_OK);
    assert_int_equal(mf_mod_extract_segment(g, 1, &segs[1]), MF_OK);
    return g;
}

/* A chain of WIDE adds, each of its own constant, all in subgraph 0, every sum a graph
 * output: one kernel step of WIDE outputs and WIDE + 1 inputs.  Plans took at most 70
 * arguments a step ("plan step ...: 102 arguments" for a fused chain of 100 adds), and the
 * extraction kept 256 outputs (a 300-output subgraph's last ones were unset). */
#define WIDE 300

static void chain_kernel(void *const *args, int64_t part, int64_t nparts)
{
    const float *x = args[WIDE]; /* outputs 0..WIDE-1, then x, then the constants */
    for (int64_t i = part * N / nparts; i < (part + 1) * N / nparts; i++) {
        float v = x[i];
        for (int k = 0; k < WIDE; k++) {
            v += ((const float *)args[WIDE + 1 + k])[i];
            ((float *)args[k])[i] = v;
        }
    }
}

static void test_wide_kernel_steps(void **state)
{
    mf_type t = {MF_F32, 4, {1, 1, 4, 4}};
    mf_graph *g = mf_graph_new("wide");
    mf_value *v = mf_graph_add_input(g, "x", &t), *outs[WIDE];
    for (int k = 0; k < WIDE; k++) {
        mf_buffer *w = mf_buffer_new_host(N * 4);
        for (int i = 0; i < N; i++)
            ((float *)w->data)[i] = (float)(k % 7) - 3 + (float)i / 16;
        char name[16];
        snprintf(name, sizeof name, "c%d", k);
        mf_value *c = mf_graph_add_const(g, name, &t, w);
        mf_buffer_release(w);
        v = outs[k] = node(g, MF_OP_ADD, 2, (mf_value *[]){v, c}, NULL, 0)->outputs[0];
    }
    assert_int_equal(mf_graph_set_outputs(g, WIDE, outs), MF_OK);
    mf_segment seg;
    assert_int_equal(mf_mod_extract_segment(g, 0, &seg), MF_OK);
    assert_int_equal(seg.noutputs, WIDE);
    assert_int_equal(seg.ninputs, WIDE + 1);
    assert_int_equal(mf_graph_num_outputs(seg.sub), WIDE);
    for (int k = 0; k < WIDE; k++)
        assert_ptr_equal(seg.outputs[k], outs[k]);
    mf_rt_kernel_fn kernels[1] = {chain_kernel};
    size_t scratch[1] = {0};
    mf_plan *p;
    assert_int_equal(mf_mod_build_plan(g, &seg, 1, kernels, scratch, MF_DEVICE_MLU(0), 4, &p), MF_OK);
    mf_tensor *x, *xd, *out[WIDE], *want[WIDE];
    assert_int_equal(mf_tensor_rand(MF_F32, 4, (int64_t[]){1, 1, 4, 4}, 3, -1, 1, MF_DEVICE_CPU, &x), MF_OK);
    assert_int_equal(mf_tensor_to(x, MF_DEVICE_MLU(0), &xd), MF_OK);
    assert_int_equal(mf_rt_plan_run(p, &xd, out), MF_OK);
    assert_int_equal(mf_graph_interpret(g, 1, &x, WIDE, want), MF_OK);
    for (int k = 0; k < WIDE; k++) {
        mf_tensor *host;
        assert_int_equal(mf_tensor_to(out[k], MF_DEVICE_CPU, &host), MF_OK);
        const float *got = mf_tensor_data(host), *ref = mf_tensor_data(want[k]);
        for (int i = 0; i < N; i++)
            if (fabsf(got[i] - ref[i]) > 1e-4f * (1 + fabsf(ref[i])))
                fail_msg("output %d element %d: %g, want %g", k, i, got[i], ref[i]);
        mf_tensor_free(host);
        mf_tensor_free(out[k]);
        mf_tensor_free(want[k]);
    }
    mf_tensor_free(x);
    mf_tensor_free(xd);
    mf_rt_plan_free(p);
    mf_mod_segment_free(&seg);
    mf_graph_destroy(g);
}

static void test_plan_rejects_wrong_inputs(void **state)
{
    mf_segment segs[2];
    mf_graph *g = build_zero_weight(segs);
    mf_rt_kernel_fn kernels[2] = {relu_kernel, muladd_kernel};
    size_t scratch[2] = {0, 0};
    mf_plan *p;
    assert_int_equal(mf_mod_build_plan(g, segs, 2, kernels, scratch, MF_DEVICE_MLU(0), 1, &p), MF_OK);
    mf_tensor *x, *out[2];
    assert_int_equal(mf_tensor_zeros(MF_F32, 4, (int64_t[]){1, 1, 4, 5}, MF_DEVICE_MLU(0), &x), MF_OK);
    assert_int_equal(mf_rt_plan_run(p, &x, out), MF_ERR_SHAPE);
    assert_non_null(strstr(mf_last_error(), "input 0 is f32[1,1,4,5], the plan expects f32[1,1,4,4]"));
    mf_tensor_free(x);
    assert_int_equal(mf_tensor_zeros(MF_F32, 4, (int64_t[]){1, 1, 4, 4}, MF_DEVICE_CPU, &x), MF_OK);
    assert_int_equal(mf_rt_plan_run(p, &x, out), MF_ERR_DEVICE);
    mf_tensor_free(x);
    mf_rt_plan_free(p);
    mf_mod_segment_free(&segs[0]);
    mf_mod_segment_free(&segs[1]);
    mf_graph_destroy(g);
}

/* The kernel step's cost (its site's FLOPs and bytes) picks its partitions: under the grain
 * one, on the calling thread; above it the plan's core_number; and the results do not change. */
static void test_plan_launch_grain(void **state)
{
    mf_segment segs[2];
    mf_graph *g = build_zero_weight(segs);
    mf_rt_kernel_fn kernels[2] = {relu_noting_kernel, muladd_kernel};
    size_t scratch[2] = {0, 0};
    struct { int cores; double flops, bytes, grain_us; int64_t want; } cases[] = {
        {4, 1e3, 1e3, 25, 1},     /* ~0.05 us of work: not split */
        {4, 1e7, 1e3, 25, 4},     /* 10 MFLOP: ~200 us */
        {4, 1e3, 4e6, 25, 4},     /* 4 MB moved: ~200 us */
        {4, 1e3, 1e3, 0, 4},      /* grain 0: every launch split */
        {16, 1e3, 1e3, 25, 1},
        {16, 1e9, 1e3, 25, 16},
        {1, 1e9, 1e9, 25, 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        mf_plan *p;
        assert_int_equal(mf_mod_build_plan(g, segs, 2, kernels, scratch, MF_DEVICE_MLU(0), cases[c].cores, &p), MF_OK);
        for (int i = 0; i < p->nsteps; i++) {
            p->steps[i].site.flops = cases[c].flops;
            p->steps[i].site.bytes = cases[c].bytes;
        }
        mf_mod_plan_launch_grain(p, cases[c].grain_us);
        relu_nparts_seen = 0;
        relu_nparts_max = 0;
        run_as_interpreter(p, g, cases[c].cores);
        /* one partition on the calling thread, or the plan's core_number launched, which the
         * pool may run as finer partitions or as runs of them (a nested launch: nparts x 2^k) */
        int nparts = 0;
        for (int i = 0; i < p->nsteps; i++)
            if (p->steps[i].kind == MF_STEP_KERNEL && p->steps[i].kernel == relu_noting_kernel)
                nparts = p->steps[i].nparts;
        /* nested: some call is of the finest count (a thread's last fine partition) */
        bool seen_ok = cases[c].want == 1 ? relu_nparts_seen == 1 && relu_nparts_max == 1
                                          : relu_nparts_seen >= 2 && relu_nparts_max == 4 * cases[c].want;
        if (nparts != cases[c].want || !seen_ok)
            fail_msg("case %zu: launched %d partitions (the kernel saw %lld of a launch), want %lld", c, nparts,
                     (long long)relu_nparts_seen, (long long)cases[c].want);
        mf_rt_plan_free(p);
    }
    mf_mod_segment_free(&segs[0]);
    mf_mod_segment_free(&segs[1]);
    mf_graph_destroy(g);
}

#define NWIDE (128 * 128) /* elements of build_chain's wide activations: 64 KB */

/* relu on NWIDE elements, partitioned */
static void relu_wide_kernel(void *const *args, int64_t part, int64_t nparts)
{
    float *o = args[0];
    const float *x = args[1];
    for (int64_t i = part * NWIDE / nparts; i < (part + 1) * NWIDE / nparts; i++)
        o[i] = x[i] > 0 ? x[i] : 0;
}

/* x -> relu [sg 0] -> relu [sg 1] -> relu [sg 2] -> upsample x1 [cpu] -> relu [sg 3] -> output,
 * on f32[1,1,side,side] */
static mf_graph *build_chain(int64_t side, mf_segment segs[4])
{
    mf_type t = {MF_F32, 4, {1, 1, side, side}};
    mf_graph *g = mf_graph_new("chain");
    mf_value *v = mf_graph_add_input(g, "x", &t);
    for (int k = 0; k < 3; k++)
        v = node(g, MF_OP_RELU, 1, &v, NULL, k)->outputs[0];
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_UPSAMPLE_NEAREST2D, a);
    mf_attr_set_ints(MF_OP_UPSAMPLE_NEAREST2D, a, "scale", 2, (int64_t[]){1, 1});
    v = node(g, MF_OP_UPSAMPLE_NEAREST2D, 1, &v, a, -1)->outputs[0];
    v = node(g, MF_OP_RELU, 1, &v, NULL, 3)->outputs[0];
    assert_int_equal(mf_graph_set_outputs(g, 1, &v), MF_OK);
    for (int k = 0; k < 4; k++)
        assert_int_equal(mf_mod_extract_segment(g, k, &segs[k]), MF_OK);
    return g;
}

/* Builds build_chain(side) at `cores`, gives its subgraphs' steps `flops`, applies the grain
 * and checks each subgraph's partitions against want, then the result against the interpreter. */
static void spread_case(size_t c, int64_t side, int cores, const double flops[4], const int want[4])
{
    mf_segment segs[4];
    mf_graph *g = build_chain(side, segs);
    mf_rt_kernel_fn k = side * side == NWIDE ? relu_wide_kernel : relu_kernel;
    mf_rt_kernel_fn kernels[4] = {k, k, k, k};
    size_t scratch[4] = {0};
    mf_plan *p;
    assert_int_equal(mf_mod_build_plan(g, segs, 4, kernels, scratch, MF_DEVICE_MLU(0), cores, &p), MF_OK);
    for (int i = 0; i < p->nsteps; i++)
        if (p->steps[i].kind == MF_STEP_KERNEL)
            p->steps[i].site.flops = flops[p->steps[i].segment];
    mf_mod_plan_launch_grain(p, 25);
    for (int i = 0; i < p->nsteps; i++) {
        const mf_plan_step *st = &p->steps[i];
        if (st->kind == MF_STEP_KERNEL && st->nparts != want[st->segment])
            fail_msg("case %zu: subgraph %d launches %d partitions, want %d", c, st->segment, st->nparts,
                     want[st->segment]);
    }
    mf_tensor *x, *xd, *ref, *out, *host;
    assert_int_equal(mf_tensor_rand(MF_F32, 4, (int64_t[]){1, 1, side, side}, 5, -1, 1, MF_DEVICE_CPU, &x), MF_OK);
    assert_int_equal(mf_tensor_to(x, MF_DEVICE_MLU(0), &xd), MF_OK);
    assert_int_equal(mf_graph_interpret(g, 1, &x, 1, &ref), MF_OK);
    assert_int_equal(mf_rt_plan_run(p, &xd, &out), MF_OK);
    assert_int_equal(mf_tensor_to(out, MF_DEVICE_CPU, &host), MF_OK);
    assert_memory_equal(mf_tensor_data(host), mf_tensor_data(ref), (size_t)(side * side) * sizeof(float));
    mf_tensor_free(host);
    mf_tensor_free(out);
    mf_tensor_free(ref);
    mf_tensor_free(xd);
    mf_tensor_free(x);
    mf_rt_plan_free(p);
    for (int j = 0; j < 4; j++)
        mf_mod_segment_free(&segs[j]);
    mf_graph_destroy(g);
}

/* A kernel under the grain that reads tens of KB of a split kernel's output is split as well
 * (each core then reads the share it wrote), and so is the next such reader; one reading what a
 * CPU op made, only unsplit kernels' outputs, or a few bytes, stays on one core; the results do
 * not change. */
static void test_launch_grain_spread(void **state)
{
    const double big = 1e7, small = 1e3; /* FLOPs: ~200 us and ~0.02 us */
    struct { int64_t side; int cores; double flops[4]; int want[4]; } cases[] = {
        {128, 4, {big, small, small, small}, {4, 4, 4, 1}},
        {128, 4, {small, big, small, small}, {1, 4, 4, 1}},
        {128, 4, {small, small, small, big}, {1, 1, 1, 4}},
        {128, 4, {small, small, small, small}, {1, 1, 1, 1}},
        {128, 16, {big, small, small, small}, {16, 16, 16, 1}},
        {128, 1, {big, small, small, small}, {1, 1, 1, 1}},
        {4, 4, {big, small, small, small}, {4, 1, 1, 1}}, /* 64 bytes a reader */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        spread_case(c, cases[c].side, cases[c].cores, cases[c].flops, cases[c].want);
}

/* MLUFUSE_LAUNCH_GRAIN_US: microseconds, default 25; anything else is refused with its name. */
static void test_launch_grain_env(void **state)
{
    double us = -1;
    unsetenv("MLUFUSE_LAUNCH_GRAIN_US");
    assert_int_equal(mf_mod_launch_grain_us(&us), MF_OK);
    assert_true(us == 25);
    setenv("MLUFUSE_LAUNCH_GRAIN_US", "0", 1);
    assert_int_equal(mf_mod_launch_grain_us(&us), MF_OK);
    assert_true(us == 0);
    setenv("MLUFUSE_LAUNCH_GRAIN_US", "12.5", 1);
    assert_int_equal(mf_mod_launch_grain_us(&us), MF_OK);
    assert_true(us == 12.5);
    const char *bad[] = {"-1", "fast", "10us", "nan", "1e9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("MLUFUSE_LAUNCH_GRAIN_US", bad[i], 1);
        assert_int_equal(mf_mod_launch_grain_us(&us), MF_ERR_INVALID);
        assert_non_null(strstr(mf_last_error(), "MLUFUSE_LAUNCH_GRAIN_US"));
    }
    unsetenv("MLUFUSE_LAUNCH_GRAIN_US");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_matches_interpreter),
        cmocka_unit_test(test_plan_rejects_wrong_inputs),
        cmocka_unit_test(test_wide_kernel_steps),
        cmocka_unit_test(test_plan_launch_grain),
        cmocka_unit_test(test_launch_grain_spread),
        cmocka_unit_test(test_launch_grain_env),
    };
    return cmocka_run_group_tests_name("plan", tests, NULL, NULL);
}
