/* test_cg_matmul.c — compiled linear and matmul against the reference: sizes around the
 * vector and tile widths, batched and broadcast matmul, bias, and fused epilogues
 * (linear + relu, matmul + residual add). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cg_check.h"

static const cg_opts tol = {.lo = -1, .hi = 1, .rtol = 1e-4, .atol = 2e-4};

static void test_linear(void **state)
{
    static const int64_t cases[][4] = { /* rank-2 rows, (extra leading dim), K, M */
        {1, 0, 16, 8},  {1, 0, 100, 37}, {3, 0, 7, 5},  {5, 0, 64, 10}, {8, 0, 33, 16},
        {2, 3, 31, 9},  {4, 4, 128, 64}, {9, 0, 1, 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int bias = 0; bias < 2; bias++) {
            mf_graph *g = mf_graph_new("lin");
            mf_type xt = cases[i][1] ? (mf_type){MF_F32, 3, {cases[i][0], cases[i][1], cases[i][2]}}
                                     : (mf_type){MF_F32, 2, {cases[i][0], cases[i][2]}};
            mf_value *in[3] = {cg_in(g, "x", xt),
                               cg_in(g, "w", (mf_type){MF_F32, 2, {cases[i][3], cases[i][2]}}),
                               bias ? cg_in(g, "b", (mf_type){MF_F32, 1, {cases[i][3]}}) : NULL};
            mf_value *y = cg_node(g, MF_OP_LINEAR, 2 + bias, in, NULL);
            mf_value *z = CG1(g, MF_OP_RELU, y);
            assert_int_equal(mf_graph_set_outputs(g, 1, &z), MF_OK);
            cg_opts o = tol;
            o.seed = i;
            cg_check_opts(g, o);
            mf_graph_destroy(g);
        }
    }
}

static mf_type T(int rank, const int64_t *s)
{
    mf_type t = {MF_F32, rank, {0}};
    for (int i = 0; i < rank; i++)
        t.shape[i] = s[i];
    return t;
}

static void test_matmul(void **state)
{
    static const struct { int ra; int64_t a[4]; int rb; int64_t b[4]; } cases[] = {
        {2, {4, 8}, 2, {8, 16}},          {2, {7, 13}, 2, {13, 37}},    {3, {2, 5, 6}, 3, {2, 6, 9}},
        {3, {3, 4, 5}, 2, {5, 70}},       {2, {6, 3}, 3, {4, 3, 17}},   {4, {2, 1, 3, 4}, 3, {3, 4, 5}},
        {2, {30, 64}, 2, {64, 64}},       {2, {1, 1}, 2, {1, 1}},
        /* rows of 8 vectors and more: the 1x1 GEMM engine (no batch dim, two of them) */
        {2, {33, 20}, 2, {20, 300}},      {4, {2, 3, 7, 9}, 4, {2, 3, 9, 140}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mf_graph *g = mf_graph_new("mm");
        mf_value *a = cg_in(g, "a", T(cases[i].ra, cases[i].a));
        mf_value *b = cg_in(g, "b", T(cases[i].rb, cases[i].b));
        mf_value *y = CG2(g, MF_OP_MATMUL, a, b);
        mf_value *r = cg_in(g, "r", y->type);
        mf_value *z = CG2(g, MF_OP_ADD, y, r);
        assert_int_equal(mf_graph_set_outputs(g, 2, (mf_value *[]){z, y}), MF_OK);
        cg_opts o = tol;
        o.seed = i;
        cg_check_opts(g, o);
        mf_graph_destroy(g);
    }
}

/* flatten feeding linear: the anchor looks through the view. */
static void test_flatten_linear(void **state)
{
    mf_graph *g = mf_graph_new("fl");
    mf_value *x = cg_in(g, "x", (mf_type){MF_F32, 4, {2, 4, 3, 3}});
    mf_value *f = CG1(g, MF_OP_FLATTEN, x);
    mf_value *w = cg_in(g, "w", (mf_type){MF_F32, 2, {10, 36}});
    mf_value *y = CG2(g, MF_OP_LINEAR, f, w);
    mf_value *z = CG1(g, MF_OP_SIGMOID, y);
    assert_int_equal(mf_graph_set_outputs(g, 1, &z), MF_OK);
    cg_check_opts(g, tol);
    mf_graph_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_matmul),
        cmocka_unit_test(test_flatten_linear),
    };
    return cmocka_run_group_tests_name("codegen_matmul", tests, NULL, NULL);
}
