/* test_cg_math.c — codegen/math.c's special functions (exp, log, tanh, sigmoid) at the
 * inputs a random sweep never draws: infinities, NaN, huge, tiny and denormal values and
 * the ends of each function's range, against libm in double, for every named target the
 * host runs, the host and the scalar path.  Each input appears in the vector loop and in
 * its scalar tail.  Also products of two of sigmoid and tanh, which take one division. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "cg_check.h"
#include "cg_targets.h"
#include "tests/support/text.h"

static const float specials[] = {
    INFINITY, -INFINITY, NAN, -NAN, 0.0f, -0.0f, 1e-45f, -1e-45f, 1e-40f, -1e-40f, FLT_MIN, -FLT_MIN,
    1e-30f, -1e-30f, 1e-19f, -1e-18f, 1e-7f, -1e-7f, 3e-4f, -3e-4f, 0.5f, -0.5f, 1.0f, -1.0f, 2.5f, -2.5f, 7.9f, -7.9f,
    8.0f, -8.0f, 9.0f, -9.0f, 20.0f, -20.0f, 87.0f, -87.0f, 87.5f, -87.5f, 88.0f, -88.0f, 88.4f,
    -88.4f, 88.8f, -88.8f, 89.0f, -89.0f, 100.0f, -100.0f, 104.0f, -104.0f, 1e10f, -1e10f, 1e30f,
    -1e30f, FLT_MAX, -FLT_MAX,
};
#define NSPECIAL (int)(sizeof specials / sizeof specials[0])
#define COPIES 4 /* the vector loop takes the first copies, the scalar tail the rest */

static double ref_sigmoid(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

static const struct {
    mf_op op;
    double (*ref)(double);
} fns[] = {
    {MF_OP_EXP, exp}, {MF_OP_LOG, log}, {MF_OP_TANH, tanh}, {MF_OP_SIGMOID, ref_sigmoid},
};

/* got against libm's want for input x: NaN for NaN, the same float infinity, else within 3e-6
 * relative (2 ulp of the polynomials, one of the reciprocal estimate) or 1e-37 absolute
 * (results flushed below FLT_MIN).  The range ends: sigmoid is exactly 0 below -88.4 (no
 * denormal) and stays in [0, 1]; tanh stays in [-1, 1] (within 2 ulp of +-1 from 7.9 on, where
 * the rational is clamped). */
static void check_value(mf_op op, float x, float got, double want, const char *cpu)
{
    const char *name = mf_op_get(op)->name;
    if (isnan(want)) {
        if (!isnan(got))
            fail_msg("%s %s(%g) = %g, want NaN", cpu, name, (double)x, (double)got);
        return;
    }
    if (isinf((float)want)) { /* libm's value rounds to a float infinity */
        if (got != (float)want)
            fail_msg("%s %s(%g) = %g, want %g", cpu, name, (double)x, (double)got, want);
        return;
    }
    double err = fabs((double)got - want);
    if (isnan(got) || err > 3e-6 * fabs(want) + 1e-37)
        fail_msg("%s %s(%g) = %.9g, want %.9g", cpu, name, (double)x, (double)got, want);
    if (op == MF_OP_SIGMOID && x < -88.4f && got != 0.0f)
        fail_msg("%s sigmoid(%g) = %g, want exactly 0", cpu, (double)x, (double)got);
    if (op == MF_OP_SIGMOID && !(got >= 0.0f && got <= 1.0f))
        fail_msg("%s sigmoid(%g) = %.9g, outside [0, 1]", cpu, (double)x, (double)got);
    if (op == MF_OP_TANH && fabsf(got) > 1.0f)
        fail_msg("%s tanh(%g) = %.9g, outside [-1, 1]", cpu, (double)x, (double)got);
}

static void check_fn(mf_op op, double (*ref)(double), const mf_cg_target *t)
{
    enum { N = NSPECIAL * COPIES };
    mf_graph *g = mf_graph_new("special");
    mf_value *x = cg_in(g, "x", (mf_type){MF_F32, 1, {N}});
    mf_value *y = CG1(g, op, x);
    assert_int_equal(mf_graph_set_outputs(g, 1, &y), MF_OK);
    mf_cg_object obj;
    mf_kernel_fn fn = cg_build(g, &obj, t);
    float in[N], out[N];
    for (int i = 0; i < N; i++)
        in[i] = specials[i % NSPECIAL];
    void *args[2] = {out, in};
    fn((void *const *)args, 0, 1);
    for (int i = 0; i < N; i++)
        check_value(op, in[i], out[i], ref((double)in[i]), t->cpu);
    mf_cg_object_free(&obj);
    mf_graph_destroy(g);
}

static void check_all(const mf_cg_target *t)
{
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        check_fn(fns[i].op, fns[i].ref, t);
}

/* Every named target the host runs, the host and the scalar path. */
static void test_math_special_values(void **state)
{
    (void)state;
    every_target(check_all, "special values");
}

/* mul(a(x), b(y)) for sigmoid and tanh pairs read nowhere else: one division for the two
 * (expr.c's fraction_product; not for two tanhs, whose numerators' product would go
 * subnormal first), at every pair of special values, against libm's product. */
static double ref_of(mf_op op, double x)
{
    return op == MF_OP_SIGMOID ? ref_sigmoid(x) : tanh(x);
}

static const mf_op pair_ops[][2] = {
    {MF_OP_SIGMOID, MF_OP_TANH},
    {MF_OP_TANH, MF_OP_SIGMOID},
    {MF_OP_SIGMOID, MF_OP_SIGMOID},
    {MF_OP_TANH, MF_OP_TANH},
};

/* a(x) * b(y); with `shared`, a(x) is also an output (its division stays). */
static mf_graph *pair_graph(mf_op a, mf_op b, int64_t n, bool shared)
{
    mf_graph *g = mf_graph_new("pair");
    mf_value *x = cg_in(g, "x", (mf_type){MF_F32, 1, {n}}),
             *y = cg_in(g, "y", (mf_type){MF_F32, 1, {n}});
    mf_value *ax = CG1(g, a, x), *outs[2] = {CG2(g, MF_OP_MUL, ax, CG1(g, b, y)), ax};
    assert_int_equal(mf_graph_set_outputs(g, shared ? 2 : 1, outs), MF_OK);
    return g;
}

/* got against want within 5e-6 relative, with 1e-37 of slack only where want is subnormal */
static bool near(double got, double want)
{
    if (isnan(want))
        return isnan(got);
    return !isnan(got) &&
           fabs(got - want) <= 5e-6 * fabs(want) + (fabs(want) < FLT_MIN ? 1e-37 : 0.0);
}

/* Every pair of special values, then 63 more pairs (each special value against another) at
 * the end, where the scalar tail of a loop of up to 64 lanes a step takes them. */
static void check_pairs(const mf_cg_target *t)
{
    enum { NPAIR = NSPECIAL * NSPECIAL, N = NPAIR + 63 };
    static float x[N], y[N], out[N], side[N];
    for (int i = 0; i < N; i++) {
        int a = i < NPAIR ? i / NSPECIAL : (i - NPAIR) % NSPECIAL,
            b = i < NPAIR ? i % NSPECIAL : (7 * i + 3) % NSPECIAL;
        x[i] = specials[a];
        y[i] = specials[b];
    }
    for (size_t k = 0; k < sizeof pair_ops / sizeof pair_ops[0]; k++)
        for (int shared = 0; shared < 2; shared++) {
            mf_graph *g = pair_graph(pair_ops[k][0], pair_ops[k][1], N, shared);
            mf_cg_object obj;
            mf_kernel_fn fn = cg_build(g, &obj, t);
            void *args[4] = {out, side, x, y}, *args1[3] = {out, x, y};
            fn(shared ? (void *const *)args : (void *const *)args1, 0, 1);
            for (int i = 0; i < N; i++) {
                double a = ref_of(pair_ops[k][0], x[i]), want = a * ref_of(pair_ops[k][1], y[i]);
                if (!near(out[i], want))
                    fail_msg("%s %s(%g) * %s(%g) = %.9g, want %.9g%s", t->cpu,
                             mf_op_get(pair_ops[k][0])->name, (double)x[i],
                             mf_op_get(pair_ops[k][1])->name, (double)y[i], (double)out[i], want,
                             shared ? " (first factor also an output)" : "");
                if (shared && !near(side[i], a))
                    fail_msg("%s %s(%g) = %.9g, want %.9g (also a factor)", t->cpu,
                             mf_op_get(pair_ops[k][0])->name, (double)x[i], (double)side[i], a);
            }
            mf_cg_object_free(&obj);
            mf_graph_destroy(g);
        }
}

static void test_fraction_products(void **state)
{
    (void)state;
    every_target(check_pairs, "sigmoid and tanh products");
}

/* The product takes at most half the vector divisions of the same product whose first factor is
 * also an output (haswell and skylake-avx512 code; compiled only, so on every host). */
static void test_fraction_product_divides_once(void **state)
{
    (void)state;
    const char *cpus[] = {"haswell", "skylake-avx512"};
    for (size_t k = 0; k < 2; k++) {
        int n[2];
        for (int shared = 0; shared < 2; shared++) {
            mf_graph *g = pair_graph(MF_OP_SIGMOID, MF_OP_TANH, 4096, shared);
            char *text = asm_for(g, cpus[k]);
            n[shared] = tsupport_count(text, "vdivps");
            free(text);
            mf_graph_destroy(g);
        }
        if (n[0] == 0 || 2 * n[0] > n[1])
            fail_msg("%s: %d vector divisions merged, %d with the sigmoid also an output", cpus[k],
                     n[0], n[1]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_math_special_values),
        cmocka_unit_test(test_fraction_products),
        cmocka_unit_test(test_fraction_product_divides_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
