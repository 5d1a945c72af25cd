/* test_cg_onnx_elementwise.c — the emitters of codegen/expr_onnx.c against the reference
 * kernels (max|got - want| / max|want| at most 0.3 %, the per-op bar): the unary ops with
 * their attributes over several shapes, minimum, maximum and prelu with broadcasting both
 * ways, and a fused chain of them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "cg_check.h"

static const mf_type shapes[] = {
    {MF_F32, 1, {17}}, {MF_F32, 2, {3, 33}}, {MF_F32, 4, {2, 3, 4, 37}}, {MF_F32, 0, {0}},
};

static void check_unary(mf_op op, const mf_attr *a, double lo, double hi)
{
    cg_check_unary(op, a, shapes, (int)(sizeof shapes / sizeof shapes[0]),
                   (cg_opts){.lo = lo, .hi = hi, .seed = 1, .relmax = 3e-3});
}

static void test_unary(void **state)
{
    static const mf_op ops[] = {MF_OP_ELU,      MF_OP_SELU,     MF_OP_CELU,  MF_OP_FLOOR,
                                MF_OP_CEIL,     MF_OP_ROUND,    MF_OP_SIGN,  MF_OP_SOFTPLUS,
                                MF_OP_SOFTSIGN, MF_OP_THRESHOLDED_RELU, MF_OP_SHRINK};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        check_unary(ops[i], NULL, -8, 8);
    check_unary(MF_OP_RECIPROCAL, NULL, 0.25, 4);
    check_unary(MF_OP_SOFTPLUS, NULL, -30, 30); /* both sides of its switch at 20 */
}

static void test_unary_attrs(void **state)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_ELU, a);
    tref_set_float(MF_OP_ELU, a, "alpha", 0.5);
    check_unary(MF_OP_ELU, a, -4, 4);
    mf_op_default_attrs(MF_OP_CELU, a);
    tref_set_float(MF_OP_CELU, a, "alpha", 2);
    check_unary(MF_OP_CELU, a, -4, 4);
    mf_op_default_attrs(MF_OP_THRESHOLDED_RELU, a);
    tref_set_float(MF_OP_THRESHOLDED_RELU, a, "alpha", 0.75);
    check_unary(MF_OP_THRESHOLDED_RELU, a, -2, 2);
    mf_op_default_attrs(MF_OP_SHRINK, a);
    tref_set_float(MF_OP_SHRINK, a, "bias", 0.25);
    tref_set_float(MF_OP_SHRINK, a, "lambd", 1);
    check_unary(MF_OP_SHRINK, a, -2, 2);
    mf_op_default_attrs(MF_OP_SELU, a);
    tref_set_float(MF_OP_SELU, a, "alpha", 2);
    tref_set_float(MF_OP_SELU, a, "gamma", 3);
    check_unary(MF_OP_SELU, a, -3, 3);
}

static void test_binary(void **state)
{
    static const mf_op ops[] = {MF_OP_MINIMUM, MF_OP_MAXIMUM, MF_OP_PRELU};
    mf_type big = {MF_F32, 4, {2, 3, 4, 5}}, per_channel = {MF_F32, 3, {3, 1, 1}};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        mf_graph *g = mf_graph_new("b");
        mf_value *a = cg_in(g, "a", big), *b = cg_in(g, "b", per_channel);
        mf_value *y = CG2(g, ops[k], a, b);
        mf_value *z = ops[k] == MF_OP_PRELU ? CG2(g, ops[k], a, a) : CG2(g, ops[k], b, a);
        assert_int_equal(mf_graph_set_outputs(g, 2, (mf_value *[]){y, z}), MF_OK);
        cg_check_opts(g, (cg_opts){.lo = -2, .hi = 2, .seed = k + 7, .relmax = 3e-3});
        mf_graph_destroy(g);
    }
}

/* round(elu(min(x, y))) + sign(x): one fused elementwise kernel. */
static void test_fused_chain(void **state)
{
    mf_graph *g = mf_graph_new("chain");
    mf_value *x = cg_in(g, "x", (mf_type){MF_F32, 2, {8, 40}}), *y = cg_in(g, "y", (mf_type){MF_F32, 1, {40}});
    mf_value *m = CG2(g, MF_OP_MINIMUM, x, y), *e = CG1(g, MF_OP_ELU, m), *r = CG1(g, MF_OP_ROUND, e);
    mf_value *out = CG2(g, MF_OP_ADD, r, CG1(g, MF_OP_SIGN, x));
    assert_int_equal(mf_graph_set_outputs(g, 1, &out), MF_OK);
    cg_check_opts(g, (cg_opts){.lo = -6, .hi = 6, .seed = 3, .relmax = 3e-3});
    mf_graph_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unary),
        cmocka_unit_test(test_unary_attrs),
        cmocka_unit_test(test_binary),
        cmocka_unit_test(test_fused_chain),
    };
    return cmocka_run_group_tests_name("cg_onnx_elementwise", tests, NULL, NULL);
}
