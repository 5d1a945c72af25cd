/* test_cg_elementwise.c — compiled elementwise chains against the reference kernels: every
 * elementwise op over a sweep of shapes, numpy broadcasting, views inside chains, fused
 * chains with several outputs, nparts 1/4/16 agreement, vector code in the assembly,
 * concurrent compiles, and errors for ops without a lowering. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include <pthread.h>

#include "cg_check.h"

static const mf_type shapes[] = {
    {MF_F32, 1, {1}},          {MF_F32, 1, {17}},          {MF_F32, 2, {3, 33}},
    {MF_F32, 3, {2, 5, 7}},    {MF_F32, 4, {1, 16, 9, 9}}, {MF_F32, 4, {2, 3, 4, 37}},
    {MF_F32, 0, {0}},
};
#define NSHAPES (int)(sizeof shapes / sizeof shapes[0])

static void check_unary(mf_op op, const mf_attr *a, double lo, double hi)
{
    cg_check_unary(op, a, shapes, NSHAPES, (cg_opts){.lo = lo, .hi = hi});
}

static void test_unary_ops(void **state)
{
    static const mf_op ops[] = {MF_OP_RELU,    MF_OP_SIGMOID, MF_OP_TANH, MF_OP_HARDSWISH,
                                MF_OP_HARDSIGMOID, MF_OP_EXP, MF_OP_NEG,  MF_OP_ABS,
                                MF_OP_LEAKY_RELU,  MF_OP_CLAMP, MF_OP_DROPOUT};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        check_unary(ops[i], NULL, -8, 8);
    check_unary(MF_OP_LOG, NULL, 1e-3, 50);
    check_unary(MF_OP_SQRT, NULL, 0, 50);
}

static void test_unary_attrs(void **state)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CLAMP, a);
    tref_set_float(MF_OP_CLAMP, a, "min", -0.5);
    tref_set_float(MF_OP_CLAMP, a, "max", 1.25);
    check_unary(MF_OP_CLAMP, a, -3, 3);
    mf_op_default_attrs(MF_OP_CLAMP, a);
    tref_set_float(MF_OP_CLAMP, a, "max", 6);
    check_unary(MF_OP_CLAMP, a, -8, 8);
    mf_op_default_attrs(MF_OP_LEAKY_RELU, a);
    tref_set_float(MF_OP_LEAKY_RELU, a, "negative_slope", 0.2);
    check_unary(MF_OP_LEAKY_RELU, a, -3, 3);
    mf_op_default_attrs(MF_OP_HARDSIGMOID, a);
    tref_set_float(MF_OP_HARDSIGMOID, a, "alpha", 0.2);
    tref_set_float(MF_OP_HARDSIGMOID, a, "beta", 0.4);
    check_unary(MF_OP_HARDSIGMOID, a, -5, 5);
}

/* A cast reaching codegen is f32 to f32 (cast lowers no other dtype; i8 is lowered by the
 * int8 ops only): the identity, alone and inside a fused chain; a cast to any other dtype
 * is refused, naming the dtype. */
static void test_cast(void **state)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CAST, a);
    tref_set_int(MF_OP_CAST, a, "to", MF_F32);
    check_unary(MF_OP_CAST, a, -1e30, 1e30);
    mf_graph *g = mf_graph_new("cast_chain");
    mf_value *x = cg_in(g, "x", TT(MF_F32, 3, 41));
    mf_value *c = cg_node(g, MF_OP_CAST, 1, (mf_value *[]){CG1(g, MF_OP_EXP, x)}, a);
    mf_value *y = CG2(g, MF_OP_MUL, cg_node(g, MF_OP_CAST, 1, &c, a), x);
    assert_int_equal(mf_graph_set_outputs(g, 1, &y), MF_OK);
    cg_check_opts(g, (cg_opts){.lo = -3, .hi = 3});
    mf_graph_destroy(g);

    for (int dt = MF_I8; dt < MF_DTYPE_COUNT; dt++) { /* f16: test_cg_half.c */
        g = mf_graph_new("cast_other");
        x = cg_in(g, "x", TT(MF_F32, 8));
        tref_set_int(MF_OP_CAST, a, "to", dt);
        y = cg_node(g, MF_OP_CAST, 1, &x, a);
        assert_int_equal(mf_graph_set_outputs(g, 1, &y), MF_OK);
        mf_cg_object obj;
        assert_int_equal(mf_cg_compile(g, NULL, &obj), MF_ERR_UNSUPPORTED);
        assert_non_null(strstr(mf_last_error(), mf_dtype_name((mf_dtype)dt)));
        assert_non_null(strstr(mf_last_error(), "only f32 is lowered"));
        assert_null(obj.data);
        mf_graph_destroy(g);
    }
}

/* The polynomials over their whole range, including overflow and underflow ends. */
static void test_math_ranges(void **state)
{
    mf_type t = {MF_F32, 1, {4099}};
    struct { mf_op op; double lo, hi; } r[] = {
        {MF_OP_EXP, -110, 95},   {MF_OP_EXP, -1, 1},     {MF_OP_TANH, -12, 12},
        {MF_OP_TANH, -1e-3, 1e-3}, {MF_OP_SIGMOID, -120, 120}, {MF_OP_LOG, 1e-40, 1e-30},
        {MF_OP_LOG, 0.5, 2},     {MF_OP_LOG, 1, 3e38},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
        mf_graph *g = mf_graph_new("m");
        mf_value *x = cg_in(g, "x", t);
        mf_value *y = CG1(g, r[i].op, x);
        assert_int_equal(mf_graph_set_outputs(g, 1, &y), MF_OK);
        cg_check_opts(g, (cg_opts){.lo = r[i].lo, .hi = r[i].hi, .rtol = 2e-6, .atol = 1e-37});
        mf_graph_destroy(g);
    }
}

static mf_type ty(int rank, const int64_t *s)
{
    mf_type t = {MF_F32, rank, {0}};
    for (int i = 0; i < rank; i++)
        t.shape[i] = s[i];
    return t;
}

static void test_binary_broadcast(void **state)
{
    static const struct { int ra; int64_t a[4]; int rb; int64_t b[4]; } pairs[] = {
        {2, {4, 5}, 1, {5}},          {2, {4, 1}, 2, {1, 5}},      {4, {2, 3, 4, 5}, 3, {3, 1, 1}},
        {1, {1}, 2, {7, 3}},          {3, {3, 1, 5}, 3, {1, 4, 1}}, {4, {1, 8, 6, 6}, 4, {1, 8, 6, 6}},
        {4, {2, 16, 5, 5}, 4, {1, 16, 1, 1}}, {0, {0}, 2, {3, 19}},
    };
    static const mf_op ops[] = {MF_OP_ADD, MF_OP_SUB, MF_OP_MUL, MF_OP_DIV};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        for (size_t k = 0; k < 4; k++) {
            mf_graph *g = mf_graph_new("b");
            mf_value *a = cg_in(g, "a", ty(pairs[i].ra, pairs[i].a));
            mf_value *b = cg_in(g, "b", ty(pairs[i].rb, pairs[i].b));
            mf_value *y = CG2(g, ops[k], a, b);
            mf_value *z = CG2(g, ops[k], b, a);
            assert_int_equal(mf_graph_set_outputs(g, 2, (mf_value *[]){y, z}), MF_OK);
            cg_check_opts(g, (cg_opts){.lo = 0.5, .hi = 2, .seed = i});
            mf_graph_destroy(g);
        }
    }
}

static void test_add_alpha(void **state)
{
    for (int op = 0; op < 2; op++) {
        mf_op o = op ? MF_OP_SUB : MF_OP_ADD;
        mf_attr a[MF_MAX_ATTRS];
        mf_op_default_attrs(o, a);
        tref_set_float(o, a, "alpha", 2.5);
        mf_graph *g = mf_graph_new("alpha");
        mf_value *x = cg_in(g, "x", TT(MF_F32, 3, 50));
        mf_value *y = cg_in(g, "y", TT(MF_F32, 50));
        mf_value *z = cg_node(g, o, 2, (mf_value *[]){x, y}, a);
        assert_int_equal(mf_graph_set_outputs(g, 1, &z), MF_OK);
        cg_check(g);
        mf_graph_destroy(g);
    }
}

static void test_batch_norm(void **state)
{
    static const mf_type xs[] = {{MF_F32, 4, {2, 5, 3, 7}}, {MF_F32, 2, {4, 21}}, {MF_F32, 3, {1, 3, 40}}};
    for (int i = 0; i < 3; i++) {
        mf_graph *g = mf_graph_new("bn");
        mf_value *x = cg_in(g, "x", xs[i]);
        mf_type ct = {MF_F32, 1, {xs[i].shape[1]}};
        mf_value *in[5] = {x, cg_in(g, "w", ct), cg_in(g, "b", ct), cg_in(g, "m", ct),
                           cg_in(g, "v", ct)};
        mf_value *y = cg_node(g, MF_OP_BATCH_NORM, 5, in, NULL);
        mf_value *r = CG1(g, MF_OP_RELU, y);
        assert_int_equal(mf_graph_set_outputs(g, 1, &r), MF_OK);
        cg_check_opts(g, (cg_opts){.lo = 0.1, .hi = 2});
        mf_graph_destroy(g);
    }
}

/* sigmoid(x*1.5+0.25)*tanh(x) - relu(x)/3 with per-channel scalars broadcast. */
static mf_graph *fused_chain(const mf_type *xt)
{
    mf_graph *g = mf_graph_new("chain");
    mf_value *x = cg_in(g, "x", *xt);
    mf_type ct = {MF_F32, 3, {xt->shape[1], 1, 1}}, one = {MF_F32, 1, {1}};
    mf_value *k = cg_in(g, "k", ct), *b = cg_in(g, "b", one), *three = cg_in(g, "three", one);
    mf_value *s = CG1(g, MF_OP_SIGMOID, CG2(g, MF_OP_ADD, CG2(g, MF_OP_MUL, x, k), b));
    mf_value *t = CG2(g, MF_OP_MUL, s, CG1(g, MF_OP_TANH, x));
    mf_value *r = CG2(g, MF_OP_DIV, CG1(g, MF_OP_RELU, x), three);
    mf_value *y = CG2(g, MF_OP_SUB, t, r);
    assert_int_equal(mf_graph_set_outputs(g, 2, (mf_value *[]){y, s}), MF_OK);
    return g;
}

static void test_fused_chain(void **state)
{
    static const mf_type xs[] = {{MF_F32, 4, {1, 8, 13, 13}}, {MF_F32, 4, {2, 3, 32, 16}}};
    for (int i = 0; i < 2; i++) {
        mf_graph *g = fused_chain(&xs[i]);
        cg_check_opts(g, (cg_opts){.lo = 0.5, .hi = 3});
        mf_graph_destroy(g);
    }
}

/* Views in a chain: flatten then a broadcast add, reshape of a sum, an intermediate of
 * another shape that is also an output. */
static void test_views(void **state)
{
    mf_graph *g = mf_graph_new("views");
    mf_value *x = cg_in(g, "x", TT(MF_F32, 2, 6, 1, 1));
    mf_value *b = cg_in(g, "b", TT(MF_F32, 6));
    mf_value *f = CG1(g, MF_OP_FLATTEN, CG1(g, MF_OP_RELU, x));
    mf_value *y = CG2(g, MF_OP_ADD, f, b);
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_RESHAPE, a);
    TREF_INTS(MF_OP_RESHAPE, a, "shape", 3, 4);
    mf_value *r = cg_node(g, MF_OP_RESHAPE, 1, &y, a);
    mf_value *z = CG1(g, MF_OP_EXP, r);
    assert_int_equal(mf_graph_set_outputs(g, 3, (mf_value *[]){z, f, y}), MF_OK);
    cg_check(g);
    mf_graph_destroy(g);
}

/* Vector code, contracted to FMAs, with no libm calls, for named targets (never the
 * host's ISA): AVX-512's zmm, AVX2's ymm and no zmm (test_cg_targets.c covers more). */
static void test_vector_asm(void **state)
{
    static const struct { const char *cpu, *has, *not; } cases[] = {
        {"skylake-avx512", "zmm", NULL}, {"haswell", "ymm", "zmm"}, {"znver3", "ymm", "zmm"}};
    mf_type xt = {MF_F32, 4, {1, 64, 112, 112}};
    mf_graph *g = fused_chain(&xt);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mf_cg_target t;
        assert_int_equal(mf_cg_target_init(cases[i].cpu, &t), MF_OK);
        mf_cg_options o = {&t, 3, 1};
        char *text = NULL;
        assert_int_equal(mf_cg_compile_asm(g, &o, &text), MF_OK);
        assert_non_null(strstr(text, cases[i].has));
        if (cases[i].not)
            assert_null(strstr(text, cases[i].not));
        assert_non_null(strstr(text, "vfmadd"));
        assert_null(strstr(text, "call")); /* no libm in the loop */
        free(text);
    }
    mf_graph_destroy(g);
}

/* A chain longer than MF_CG_MAX_NODES is refused with a message, not a stack overflow. */
static void test_too_long_refused(void **state)
{
    mf_graph *g = mf_graph_new("long");
    mf_value *y = cg_in(g, "x", TT(MF_F32, 8));
    for (int i = 0; i < 20000; i++)
        y = CG1(g, i % 2 ? MF_OP_NEG : MF_OP_RELU, y);
    assert_int_equal(mf_graph_set_outputs(g, 1, &y), MF_OK);
    mf_cg_object obj;
    assert_int_equal(mf_cg_compile(g, NULL, &obj), MF_ERR_UNSUPPORTED);
    assert_non_null(strstr(mf_last_error(), "a subgraph of 20000 ops"));
    mf_graph_destroy(g);
}

/* One compile thread's work and what came of it.  The thread only compiles, runs and
 * compares; the main thread asserts on the result after the join (cmocka's asserts jump
 * out of the test and must not run on another thread). */
typedef struct compile_job {
    mf_graph *g[3];     /* built by the main thread */
    mf_status status;   /* the first failure of rand, interpret, compile or load */
    char error[256];    /* its message (mf_last_error is per thread) */
    int64_t mismatches; /* elements off the reference (rtol, atol 1e-5), or differing
                         * between nparts 1 and 4 or 16 */
    double max_err;     /* max |got - want| at nparts 1 */
} compile_job;

/* Runs fn for nparts 1, 4 and 16 and counts into job the elements of the first run off
 * want, and the later runs that differ from it. */
static void compare_parts(compile_job *job, mf_kernel_fn fn, void *in, const float *want,
                          int64_t n)
{
    float *out = malloc(sizeof(float) * (size_t)n), *first = malloc(sizeof(float) * (size_t)n);
    static const int64_t parts[3] = {1, 4, 16};
    for (int k = 0; k < 3; k++) {
        cg_run_parts(fn, (void *[]){out, in}, parts[k]);
        if (k > 0) {
            job->mismatches += memcmp(first, out, sizeof(float) * (size_t)n) != 0;
            continue;
        }
        for (int64_t i = 0; i < n; i++) {
            double d = fabs((double)out[i] - want[i]);
            job->max_err = d > job->max_err ? d : job->max_err;
            job->mismatches += !(d <= 1e-5 * fabs(want[i]) + 1e-5); /* NaN too */
        }
        memcpy(first, out, sizeof(float) * (size_t)n);
    }
    free(out), free(first);
}

/* cg_check's work on g (one input, one output, no scratch) without cmocka. */
static void compile_and_compare(compile_job *job, const mf_graph *g)
{
    const mf_type *t = &g->inputs[0]->type;
    mf_tensor *in = NULL, *ref = NULL;
    mf_cg_object obj = {0};
    mf_kernel_fn fn = NULL;
    mf_status s = mf_tensor_rand(MF_F32, t->rank, t->shape, 1, -2, 2, MF_DEVICE_CPU, &in);
    if (!s)
        s = mf_graph_interpret(g, 1, &in, 1, &ref);
    if (!s)
        s = mf_cg_compile(g, &(mf_cg_options){NULL, 3, 0}, &obj);
    if (!s)
        s = mf_cg_load(&obj, &fn);
    if (s && !job->status) {
        job->status = s;
        snprintf(job->error, sizeof job->error, "%s", mf_last_error());
    }
    if (!s)
        compare_parts(job, fn, mf_tensor_data_mut(in), mf_tensor_data(ref),
                      mf_type_numel(&g->outputs[0]->type));
    mf_cg_object_free(&obj);
    mf_tensor_free(in), mf_tensor_free(ref);
}

static void *compile_thread(void *arg)
{
    compile_job *job = arg;
    for (int i = 0; i < 3; i++)
        compile_and_compare(job, job->g[i]);
    return NULL;
}

static void test_threads(void **state)
{
    compile_job jobs[2];
    memset(jobs, 0, sizeof jobs);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 3; i++) {
            mf_graph *g = jobs[k].g[i] = mf_graph_new("t");
            mf_value *x = cg_in(g, "x", TT(MF_F32, 4 + k, 9 + i));
            mf_value *y = CG1(g, k ? MF_OP_TANH : MF_OP_SIGMOID, x);
            mf_graph_set_outputs(g, 1, &y);
        }
    pthread_t t[2];
    for (int k = 0; k < 2; k++)
        assert_int_equal(pthread_create(&t[k], NULL, compile_thread, &jobs[k]), 0);
    for (int k = 0; k < 2; k++)
        assert_int_equal(pthread_join(t[k], NULL), 0);
    for (int k = 0; k < 2; k++) {
        if (jobs[k].status)
            fail_msg("thread %d: %s", k, jobs[k].error);
        if (jobs[k].mismatches)
            fail_msg("thread %d: %lld elements off (max |got - want| %g)", k,
                     (long long)jobs[k].mismatches, jobs[k].max_err);
        for (int i = 0; i < 3; i++)
            mf_graph_destroy(jobs[k].g[i]);
    }
}

/* A kernel run from two threads, each doing half the partitions. */
typedef struct half_run {
    mf_kernel_fn fn;
    void *const *args;
    int first;
} half_run;

static void *run_half(void *arg)
{
    half_run *h = arg;
    for (int p = h->first; p < 16; p += 2)
        h->fn(h->args, p, 16);
    return NULL;
}

static void test_two_thread_run(void **state)
{
    mf_graph *g = mf_graph_new("two");
    mf_value *x = cg_in(g, "x", TT(MF_F32, 3, 1000));
    mf_value *y = CG1(g, MF_OP_SIGMOID, x);
    mf_graph_set_outputs(g, 1, &y);
    mf_cg_object obj;
    mf_kernel_fn fn = cg_build(g, &obj, NULL);
    float *in = tref_rand(3000, 5, -4, 4), *a = malloc(12000), *b = malloc(12000);
    fn((void *[]){a, in}, 0, 1);
    void *args[2] = {b, in};
    half_run h[2] = {{fn, args, 0}, {fn, args, 1}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, run_half, &h[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_memory_equal(a, b, 12000);
    /* loading the same object again gives the same kernel */
    mf_kernel_fn again;
    assert_int_equal(mf_cg_load(&obj, &again), MF_OK);
    assert_ptr_equal(fn, again);
    free(in), free(a), free(b);
    mf_cg_object_free(&obj);
    mf_graph_destroy(g);
}

static void test_unsupported(void **state)
{
    mf_graph *g = mf_graph_new("up");
    mf_value *x = cg_in(g, "x", TT(MF_F32, 1, 2, 3, 3));
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_UPSAMPLE_NEAREST2D, a);
    TREF_INTS(MF_OP_UPSAMPLE_NEAREST2D, a, "scale", 2, 2);
    mf_value *y = cg_node(g, MF_OP_UPSAMPLE_NEAREST2D, 1, &x, a);
    mf_graph_set_outputs(g, 1, &y);
    mf_cg_object obj;
    assert_int_equal(mf_cg_compile(g, NULL, &obj), MF_ERR_UNSUPPORTED);
    assert_non_null(strstr(mf_last_error(), "upsample_nearest2d"));
    assert_null(obj.data);
    mf_graph_destroy(g);

    g = mf_graph_new("perm");
    x = cg_in(g, "x", TT(MF_F32, 2, 3));
    mf_op_default_attrs(MF_OP_PERMUTE, a);
    TREF_INTS(MF_OP_PERMUTE, a, "perm", 1, 0);
    y = cg_node(g, MF_OP_PERMUTE, 1, &x, a);
    mf_graph_set_outputs(g, 1, &y);
    assert_int_equal(mf_cg_compile(g, NULL, &obj), MF_ERR_UNSUPPORTED);
    assert_non_null(strstr(mf_last_error(), "permute"));
    mf_graph_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unary_ops),       cmocka_unit_test(test_unary_attrs),
        cmocka_unit_test(test_cast),
        cmocka_unit_test(test_math_ranges),     cmocka_unit_test(test_binary_broadcast),
        cmocka_unit_test(test_add_alpha),       cmocka_unit_test(test_batch_norm),
        cmocka_unit_test(test_fused_chain),     cmocka_unit_test(test_views),
        cmocka_unit_test(test_vector_asm),      cmocka_unit_test(test_threads),
        cmocka_unit_test(test_too_long_refused),
        cmocka_unit_test(test_two_thread_run),  cmocka_unit_test(test_unsupported),
    };
    return cmocka_run_group_tests_name("codegen_elementwise", tests, NULL, NULL);
}
