/* test_cg_reduce.c — compiled reductions against the reference: softmax and log_softmax
 * over every dim, sum/mean over dim sets with and without keepdim, max/avg pooling over
 * kernels, strides, paddings, dilations, ceil_mode and count_include_pad, adaptive
 * pooling, each also with an elementwise prologue and epilogue fused in; the vectorized
 * f32 max pooling (lower_fpool.c) on every target the host runs, on rows wide enough for
 * its unmasked tiles; the vectorized global average pooling likewise, on planes of whole
 * vectors, masked tails and fewer pixels than lanes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cg_check.h"
#include "cg_targets.h"

/* exp(x * k) -> op -> relu(y) * 2, or the bare op. */
static void check_op(mf_op op, const mf_attr *a, mf_type xt, bool fused, uint64_t seed)
{
    mf_graph *g = mf_graph_new("red");
    mf_value *x = cg_in(g, "x", xt);
    mf_value *in = x;
    if (fused) {
        mf_value *k = cg_in(g, "k", (mf_type){MF_F32, 1, {xt.shape[xt.rank - 1]}});
        in = CG1(g, MF_OP_TANH, CG2(g, MF_OP_MUL, x, k));
    }
    mf_value *y = cg_node(g, op, 1, &in, a);
    mf_value *outs[2] = {y, NULL};
    int nout = 1;
    if (fused) {
        mf_value *two = cg_in(g, "two", (mf_type){MF_F32, 1, {1}});
        outs[0] = CG2(g, MF_OP_MUL, CG1(g, MF_OP_RELU, y), two);
        outs[1] = in; /* the prologue's value is used outside too */
        nout = 2;
    }
    assert_int_equal(mf_graph_set_outputs(g, nout, outs), MF_OK);
    cg_check_opts(g, (cg_opts){.lo = -2, .hi = 2, .rtol = 1e-5, .atol = 1e-5, .seed = seed});
    mf_graph_destroy(g);
}

static const mf_type xs[] = {{MF_F32, 2, {3, 37}}, {MF_F32, 4, {2, 3, 5, 7}}, {MF_F32, 1, {100}},
                             {MF_F32, 3, {4, 1, 19}}};

static void test_softmax(void **state)
{
    for (int op = 0; op < 2; op++) {
        mf_op o = op ? MF_OP_LOG_SOFTMAX : MF_OP_SOFTMAX;
        for (int i = 0; i < 4; i++)
            for (int d = -1; d < xs[i].rank; d++) {
                mf_attr a[MF_MAX_ATTRS];
                mf_op_default_attrs(o, a);
                tref_set_int(o, a, "dim", d);
                check_op(o, a, xs[i], false, (uint64_t)d);
                check_op(o, a, xs[i], true, (uint64_t)d);
            }
    }
}

static void test_sum_mean(void **state)
{
    static const struct { int n; int64_t d[3]; } sets[] = {{0, {0}}, {1, {-1}}, {1, {0}}, {2, {0, 2}}, {2, {1, -1}}};
    const mf_type xt = {MF_F32, 4, {2, 3, 5, 7}};
    for (int op = 0; op < 2; op++) {
        mf_op o = op ? MF_OP_MEAN : MF_OP_SUM;
        for (int i = 0; i < 5; i++)
            for (int keep = 0; keep < 2; keep++) {
                mf_attr a[MF_MAX_ATTRS];
                mf_op_default_attrs(o, a);
                tref_set_ints(o, a, "dims", sets[i].n, sets[i].d);
                tref_set_int(o, a, "keepdim", keep);
                check_op(o, a, xt, false, 1);
                if (keep || sets[i].n == 0 || sets[i].d[sets[i].n - 1] != -1)
                    check_op(o, a, xt, true, 2);
            }
    }
}

typedef struct pool_case {
    int64_t h, w, k0, k1, s0, s1, p0, p1, d, ceil, incl;
} pool_case;

static void test_pools(void **state)
{
    static const pool_case cases[] = {
        {8, 8, 2, 2, 2, 2, 0, 0, 1, 0, 1},  {9, 11, 3, 3, 2, 2, 1, 1, 1, 0, 1},
        {9, 11, 3, 3, 2, 2, 1, 1, 1, 1, 0}, {10, 7, 3, 2, 1, 2, 1, 0, 2, 0, 1},
        {13, 13, 3, 3, 2, 2, 0, 0, 1, 1, 1}, {7, 7, 7, 7, 1, 1, 0, 0, 1, 0, 1},
        {12, 9, 5, 3, 3, 2, 2, 1, 1, 1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const pool_case *k = &cases[i];
        mf_type xt = {MF_F32, 4, {2, 3, k->h, k->w}};
        for (int op = 0; op < 2; op++) {
            mf_op o = op ? MF_OP_AVG_POOL2D : MF_OP_MAX_POOL2D;
            mf_attr a[MF_MAX_ATTRS];
            mf_op_default_attrs(o, a);
            TREF_INTS(o, a, "kernel", k->k0, k->k1);
            TREF_INTS(o, a, "stride", k->s0, k->s1);
            TREF_INTS(o, a, "padding", k->p0, k->p1);
            tref_set_int(o, a, "ceil_mode", k->ceil);
            if (o == MF_OP_MAX_POOL2D)
                TREF_INTS(o, a, "dilation", k->d, k->d);
            else
                tref_set_int(o, a, "count_include_pad", k->incl);
            check_op(o, a, xt, false, i);
            check_op(o, a, xt, true, i);
        }
    }
}

static void test_adaptive(void **state)
{
    static const int64_t sizes[][4] = {{7, 7, 1, 1}, {10, 13, 3, 4}, {5, 5, 7, 7}, {14, 9, 2, 9}};
    for (int i = 0; i < 4; i++) {
        mf_type xt = {MF_F32, 4, {2, 3, sizes[i][0], sizes[i][1]}};
        mf_attr a[MF_MAX_ATTRS];
        mf_op_default_attrs(MF_OP_ADAPTIVE_AVG_POOL2D, a);
        TREF_INTS(MF_OP_ADAPTIVE_AVG_POOL2D, a, "output_size", sizes[i][2], sizes[i][3]);
        check_op(MF_OP_ADAPTIVE_AVG_POOL2D, a, xt, false, i);
        check_op(MF_OP_ADAPTIVE_AVG_POOL2D, a, xt, true, i);
    }
}

/* max_pool2d of 1 x 3 x h x w, k x k, stride s, padding p, dilation d, ceil_mode. */
static const pool_case wide_pools[] = {
    {21, 45, 3, 3, 2, 2, 1, 1, 1, 0, 0}, {9, 70, 3, 3, 1, 1, 1, 1, 1, 0, 0}, {8, 67, 2, 2, 2, 2, 0, 0, 1, 1, 0},
    {11, 53, 3, 3, 3, 3, 1, 1, 2, 1, 0}, {7, 90, 2, 2, 4, 4, 1, 1, 1, 0, 0}, {6, 13, 3, 3, 2, 2, 1, 1, 1, 1, 0},
};

static mf_graph *max_pool_graph(const pool_case *k, mf_dtype dt)
{
    mf_graph *g = mf_graph_new("maxpool");
    mf_value *x = cg_in(g, "x", (mf_type){dt, 4, {1, 3, k->h, k->w}});
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_MAX_POOL2D, a);
    TREF_INTS(MF_OP_MAX_POOL2D, a, "kernel", k->k0, k->k1);
    TREF_INTS(MF_OP_MAX_POOL2D, a, "stride", k->s0, k->s1);
    TREF_INTS(MF_OP_MAX_POOL2D, a, "padding", k->p0, k->p1);
    TREF_INTS(MF_OP_MAX_POOL2D, a, "dilation", k->d, k->d);
    tref_set_int(MF_OP_MAX_POOL2D, a, "ceil_mode", k->ceil);
    mf_value *y = cg_node(g, MF_OP_MAX_POOL2D, 1, &x, a);
    mf_value *r = CG1(g, MF_OP_RELU, y); /* an epilogue */
    assert_int_equal(mf_graph_set_outputs(g, 1, &r), MF_OK);
    return g;
}

static void max_pool_on(const mf_cg_target *t)
{
    for (size_t i = 0; i < sizeof wide_pools / sizeof wide_pools[0]; i++) {
        mf_graph *g = max_pool_graph(&wide_pools[i], MF_F32);
        cg_check_opts(g, (cg_opts){.lo = -2, .hi = 2, .seed = i, .target = t});
        mf_graph_destroy(g);
    }
}

static void test_max_pool_targets(void **state)
{
    every_target(max_pool_on, "vectorized f32 max_pool2d");
    /* resnet's 3x3 stride-2 pool is vector code on AVX-512 (the generic pooling: scalar) */
    mf_graph *g = max_pool_graph(&wide_pools[0], MF_F32);
    char *text = asm_for(g, "skylake-avx512");
    assert_non_null(strstr(text, "zmm"));
    free(text);
    mf_graph_destroy(g);
}

/* A global average pool of x (adaptive to 1x1, or avg_pool2d with the plane as its window),
 * with a relu * 2 epilogue when asked. */
static mf_graph *global_avg_graph(mf_type xt, bool adaptive, bool epilogue)
{
    mf_graph *g = mf_graph_new("gap");
    mf_value *x = cg_in(g, "x", xt);
    mf_op o = adaptive ? MF_OP_ADAPTIVE_AVG_POOL2D : MF_OP_AVG_POOL2D;
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(o, a);
    if (adaptive) {
        TREF_INTS(o, a, "output_size", 1, 1);
    } else {
        TREF_INTS(o, a, "kernel", xt.shape[xt.rank - 2], xt.shape[xt.rank - 1]);
        TREF_INTS(o, a, "stride", 1, 1);
    }
    mf_value *y = cg_node(g, o, 1, &x, a);
    if (epilogue) {
        mf_value *two = cg_in(g, "two", (mf_type){MF_F32, 1, {1}});
        y = CG2(g, MF_OP_MUL, CG1(g, MF_OP_RELU, y), two);
    }
    assert_int_equal(mf_graph_set_outputs(g, 1, &y), MF_OK);
    return g;
}

/* planes of 49 (mobilenet_v2's 7x7), 16 and 64 (whole vectors of some targets), 3136, 5 and 1
 * pixels, and a 3-d input (adaptive pooling only) */
static const mf_type global_xs[] = {
    {MF_F32, 4, {1, 37, 7, 7}}, {MF_F32, 4, {2, 3, 4, 4}},  {MF_F32, 4, {1, 5, 8, 8}},
    {MF_F32, 4, {1, 2, 56, 56}}, {MF_F32, 4, {1, 19, 1, 5}}, {MF_F32, 4, {2, 21, 1, 1}},
    {MF_F32, 3, {9, 3, 11}},
};

static void global_avg_on(const mf_cg_target *t)
{
    for (size_t i = 0; i < sizeof global_xs / sizeof global_xs[0]; i++)
        for (int k = 0; k < 4; k++) {
            if (global_xs[i].rank != 4 && !(k & 1)) /* avg_pool2d takes 4-d inputs only */
                continue;
            mf_graph *g = global_avg_graph(global_xs[i], k & 1, k & 2);
            cg_check_opts(g, (cg_opts){.lo = -2, .hi = 2, .rtol = 1e-5, .atol = 1e-5, .seed = i, .target = t});
            mf_graph_destroy(g);
        }
}

static void test_global_avg_targets(void **state)
{
    every_target(global_avg_on, "vectorized global average pooling");
    /* mobilenet_v2's pool of 7x7 planes is vector code on AVX-512 */
    mf_graph *g = global_avg_graph(global_xs[0], true, false);
    char *text = asm_for(g, "skylake-avx512");
    assert_non_null(strstr(text, "zmm"));
    free(text);
    mf_graph_destroy(g);
}

/* Instructions in assembly text: indented lines that are neither directives nor labels. */
static int asm_instructions(const char *text)
{
    int n = 0;
    for (const char *l = text; *l;) {
        const char *e = strchr(l, '\n'), *p = l;
        if (!e)
            e = l + strlen(l);
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        if (p > l && p < e && *p != '.' && *p != '#' && e[-1] != ':')
            n++;
        l = *e ? e + 1 : e;
    }
    return n;
}

/* A 5x5 stride-3 average pool of 1x3x32x32 took 5-8 s to compile for AVX2 targets: LLVM
 * vectorized the output-column loop (stride-3 reads become ~1,200 vinsertps) and the
 * tiny window loops.  Those loops are now left scalar; the kernel stays small for every
 * target, which bounds its compile time without a timed test. */
static void test_pool_code_size(void **state)
{
    static const char *const cpus[] = {"x86-64", "x86-64-v2", "haswell", "znver3", "skylake-avx512"};
    for (int incl = 0; incl < 2; incl++) {
        mf_graph *g = mf_graph_new("pool");
        mf_value *x = cg_in(g, "x", (mf_type){MF_F32, 4, {1, 3, 32, 32}});
        mf_attr a[MF_MAX_ATTRS];
        mf_op_default_attrs(MF_OP_AVG_POOL2D, a);
        TREF_INTS(MF_OP_AVG_POOL2D, a, "kernel", 5, 5);
        TREF_INTS(MF_OP_AVG_POOL2D, a, "stride", 3, 3);
        tref_set_int(MF_OP_AVG_POOL2D, a, "count_include_pad", incl);
        mf_value *y = cg_node(g, MF_OP_AVG_POOL2D, 1, &x, a);
        assert_int_equal(mf_graph_set_outputs(g, 1, &y), MF_OK);
        for (size_t i = 0; i < sizeof cpus / sizeof cpus[0]; i++) {
            mf_cg_target t;
            assert_int_equal(mf_cg_target_init(cpus[i], &t), MF_OK);
            mf_cg_options o = {.target = &t, .opt_level = 3, .core_number = 1};
            char *text = NULL;
            assert_int_equal(mf_cg_compile_asm(g, &o, &text), MF_OK);
            int n = asm_instructions(text);
            if (n > 300)
                fail_msg("%s: the pool kernel has %d instructions (bound 300)", cpus[i], n);
            free(text);
        }
        cg_check(g);
        mf_graph_destroy(g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_softmax), cmocka_unit_test(test_sum_mean),
        cmocka_unit_test(test_pools),   cmocka_unit_test(test_adaptive),
        cmocka_unit_test(test_pool_code_size), cmocka_unit_test(test_max_pool_targets),
        cmocka_unit_test(test_global_avg_targets),
    };
    return cmocka_run_group_tests_name("codegen_reduce", tests, NULL, NULL);
}
