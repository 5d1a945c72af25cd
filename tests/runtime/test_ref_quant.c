/* test_ref_quant.c — the int8 reference kernels: quantize and dequantize exactly (rounding
 * half to even, saturation, NaN), and every int8 kernel within 2 % (max|a-b| / max|b|, the
 * seed's threshold for quantized ops) of the f32 reference kernel on the same quantized
 * inputs — qconv2d over strides, padding, dilation, groups and depthwise, per channel and
 * per tensor weight scales, with relu and relu6 epilogues; qlinear, qmatmul, qadd, and
 * max_pool2d on int8. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/ref_call.h"

#define TOL 0.02

static void check_rel(const float *got, const float *want, int64_t n, double tol, const char *what)
{
    double dmax = 0, wmax = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        dmax = d > dmax ? d : dmax;
        wmax = fabs(want[i]) > wmax ? fabs(want[i]) : wmax;
    }
    if (!(dmax <= tol * wmax))
        fail_msg("%s: max|a-b| / max|b| = %g / %g = %.4f > %.3f", what, dmax, wmax, dmax / wmax, tol);
}

/* Random int8 data in [lo, hi]. */
static int8_t *rand_i8(int64_t n, uint64_t seed, int lo, int hi)
{
    int8_t *q = malloc((size_t)n + 1);
    uint64_t st = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int64_t i = 0; i < n; i++)
        q[i] = (int8_t)(lo + (int)(tref_next(&st) % (uint64_t)(hi - lo + 1)));
    return q;
}

static float *dequant(const int8_t *q, int64_t n, float scale, int zp)
{
    float *f = malloc(sizeof *f * (size_t)n + 1);
    for (int64_t i = 0; i < n; i++)
        f[i] = (float)(q[i] - zp) * scale;
    return f;
}

static void test_quantize_rounding(void **state)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_QUANTIZE, a);
    tref_set_float(MF_OP_QUANTIZE, a, "scale", 0.5);
    tref_set_int(MF_OP_QUANTIZE, a, "zero_point", 3);
    float x[] = {0.25f, 0.75f, -0.25f, 100.0f, -100.0f, NAN, 1.0f, -66.0f};
    mf_type ot, t = TT(MF_F32, 8);
    int8_t *q = tref_run(MF_OP_QUANTIZE, a, 1, &t, (const void *[]){x}, &ot);
    assert_int_equal(ot.dtype, MF_I8);
    /* 0.5 -> 0 and 1.5 -> 2 (half to even), then + 3; saturated; NaN -> zero point */
    int8_t want[] = {3, 5, 3, 127, -128, 3, 5, -128};
    assert_memory_equal(q, want, sizeof want);
    mf_op_default_attrs(MF_OP_DEQUANTIZE, a);
    tref_set_float(MF_OP_DEQUANTIZE, a, "scale", 0.5);
    tref_set_int(MF_OP_DEQUANTIZE, a, "zero_point", 3);
    t = TT(MF_I8, 8);
    float *d = tref_run(MF_OP_DEQUANTIZE, a, 1, &t, (const void *[]){q}, &ot);
    TREF_EXPECT(d, 0, 1, 0, 62, -65.5, 0, 1, -65.5);
    free(q);
    free(d);
}

typedef struct qconv_case {
    int64_t n, cin, h, w, cout, kh, kw, stride, pad, dil, groups;
    bool per_channel, bias;
    double lo, hi; /* epilogue clamp */
} qconv_case;

/* qconv2d against conv2d of the dequantized input and weights (then the clamp), both
 * dequantized; the output scale covers the f32 result's range. */
static void check_qconv(const qconv_case *c, uint64_t seed)
{
    int64_t cin_g = c->cin / c->groups;
    mf_type xt = TT(MF_I8, c->n, c->cin, c->h, c->w), wt = TT(MF_I8, c->cout, cin_g, c->kh, c->kw);
    int64_t nx = mf_type_numel(&xt), nw = mf_type_numel(&wt), ns = c->per_channel ? c->cout : 1;
    int8_t *x = rand_i8(nx, seed, -128, 127), *w = rand_i8(nw, seed + 1, -127, 127);
    float xs = 0.02f, *ws = tref_rand(ns, seed + 2, 0.001, 0.01), *bias = tref_rand(c->cout, seed + 3, -1, 1);
    int xzp = -20;
    float *xf = dequant(x, nx, xs, xzp), *wf = malloc(sizeof *wf * (size_t)nw);
    for (int64_t i = 0; i < nw; i++)
        wf[i] = (float)w[i] * ws[c->per_channel ? i / (nw / c->cout) : 0];
    mf_attr fa[MF_MAX_ATTRS], qa[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CONV2D, fa);
    mf_op_default_attrs(MF_OP_QCONV2D, qa);
    for (int k = 0; k < 2; k++) {
        mf_op op = k ? MF_OP_QCONV2D : MF_OP_CONV2D;
        mf_attr *a = k ? qa : fa;
        TREF_INTS(op, a, "stride", c->stride, c->stride);
        TREF_INTS(op, a, "padding", c->pad, c->pad);
        TREF_INTS(op, a, "dilation", c->dil, c->dil);
        tref_set_int(op, a, "groups", c->groups);
    }
    mf_type ft[3] = {xt, wt, TT(MF_F32, c->cout)}, ot;
    ft[0].dtype = ft[1].dtype = MF_F32;
    float *want = tref_run(MF_OP_CONV2D, fa, c->bias ? 3 : 2, ft, (const void *[]){xf, wf, bias}, &ot);
    int64_t no = mf_type_numel(&ot);
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < no; i++) {
        want[i] = want[i] < c->lo ? (float)c->lo : want[i] > c->hi ? (float)c->hi : want[i];
        lo = fminf(lo, want[i]), hi = fmaxf(hi, want[i]);
    }
    lo = fminf(lo, 0), hi = fmaxf(hi, 0);
    float ys = (hi - lo) / 255;
    int yzp = (int)nearbyintf(-128 - lo / ys);
    yzp = yzp > 127 ? 127 : yzp < -128 ? -128 : yzp;
    tref_set_float(MF_OP_QCONV2D, qa, "x_scale", xs);
    tref_set_int(MF_OP_QCONV2D, qa, "x_zero_point", xzp);
    tref_set_float(MF_OP_QCONV2D, qa, "y_scale", ys);
    tref_set_int(MF_OP_QCONV2D, qa, "y_zero_point", yzp);
    tref_set_float(MF_OP_QCONV2D, qa, "min", c->lo);
    tref_set_float(MF_OP_QCONV2D, qa, "max", c->hi);
    mf_type qt[4] = {xt, wt, TT(MF_F32, ns), TT(MF_F32, c->cout)}, qot;
    int8_t *q = tref_run(MF_OP_QCONV2D, qa, c->bias ? 4 : 3, qt, (const void *[]){x, w, ws, bias}, &qot);
    assert_true(mf_type_equal(&(mf_type){MF_I8, ot.rank, {0}}, &(mf_type){qot.dtype, ot.rank, {0}}));
    float *got = dequant(q, no, ys, yzp);
    char what[160];
    snprintf(what, sizeof what, "qconv2d %lldx%lldx%lldx%lld -> %lld, k%lldx%lld s%lld p%lld d%lld g%lld%s",
             (long long)c->n, (long long)c->cin, (long long)c->h, (long long)c->w, (long long)c->cout,
             (long long)c->kh, (long long)c->kw, (long long)c->stride, (long long)c->pad, (long long)c->dil,
             (long long)c->groups, c->per_channel ? " per channel" : "");
    check_rel(got, want, no, TOL, what);
    free(x), free(w), free(ws), free(bias), free(xf), free(wf), free(want), free(q), free(got);
}

static void test_qconv2d_within_2_percent(void **state)
{
    const qconv_case cases[] = {
        {1, 3, 16, 16, 8, 3, 3, 1, 1, 1, 1, true, true, -INFINITY, INFINITY},
        {2, 8, 9, 11, 16, 3, 3, 2, 1, 1, 1, true, true, 0, INFINITY},      /* relu */
        {1, 16, 12, 12, 16, 3, 3, 1, 1, 1, 16, true, true, 0, 6},          /* depthwise, relu6 */
        {1, 8, 10, 10, 8, 3, 3, 2, 1, 1, 8, true, false, -INFINITY, INFINITY}, /* depthwise s2 */
        {1, 8, 10, 10, 12, 3, 3, 1, 2, 2, 4, false, true, -INFINITY, INFINITY}, /* groups, dilation */
        {1, 4, 7, 7, 6, 1, 1, 1, 0, 1, 1, false, false, 0, INFINITY},      /* 1x1 */
        {1, 3, 23, 23, 4, 7, 7, 2, 3, 1, 1, true, true, -INFINITY, INFINITY}, /* resnet's stem */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check_qconv(&cases[i], 100 + i);
}

static void test_qlinear_within_2_percent(void **state)
{
    for (int per_channel = 0; per_channel < 2; per_channel++) {
        int64_t m = 3, k = 200, n = 17, ns = per_channel ? n : 1;
        int8_t *x = rand_i8(m * k, 7, -128, 127), *w = rand_i8(n * k, 8, -127, 127);
        float xs = 0.05f, *ws = tref_rand(ns, 9, 0.001, 0.01), *bias = tref_rand(n, 10, -2, 2);
        int xzp = 11;
        float *xf = dequant(x, m * k, xs, xzp), *wf = malloc(sizeof *wf * (size_t)(n * k));
        for (int64_t i = 0; i < n * k; i++)
            wf[i] = (float)w[i] * ws[per_channel ? i / k : 0];
        mf_type ft[3] = {TT(MF_F32, m, k), TT(MF_F32, n, k), TT(MF_F32, n)}, ot;
        float *want = tref_run(MF_OP_LINEAR, NULL, 3, ft, (const void *[]){xf, wf, bias}, &ot);
        float amax = 0;
        for (int64_t i = 0; i < m * n; i++)
            amax = fmaxf(amax, fabsf(want[i]));
        mf_attr a[MF_MAX_ATTRS];
        mf_op_default_attrs(MF_OP_QLINEAR, a);
        tref_set_float(MF_OP_QLINEAR, a, "x_scale", xs);
        tref_set_int(MF_OP_QLINEAR, a, "x_zero_point", xzp);
        tref_set_float(MF_OP_QLINEAR, a, "y_scale", amax / 127);
        mf_type qt[4] = {TT(MF_I8, m, k), TT(MF_I8, n, k), TT(MF_F32, ns), TT(MF_F32, n)};
        int8_t *q = tref_run(MF_OP_QLINEAR, a, 4, qt, (const void *[]){x, w, ws, bias}, &ot);
        float *got = dequant(q, m * n, amax / 127, 0);
        check_rel(got, want, m * n, TOL, per_channel ? "qlinear per channel" : "qlinear");
        free(x), free(w), free(ws), free(bias), free(xf), free(wf), free(want), free(q), free(got);
    }
}

static void test_qmatmul_within_2_percent(void **state)
{
    int64_t b = 2, m = 5, k = 64, n = 7;
    int8_t *x = rand_i8(b * m * k, 21, -128, 127), *y = rand_i8(b * k * n, 22, -128, 127);
    float as = 0.03f, bs = 0.07f;
    int azp = -5, bzp = 9;
    float *xf = dequant(x, b * m * k, as, azp), *yf = dequant(y, b * k * n, bs, bzp);
    mf_type ft[2] = {TT(MF_F32, b, m, k), TT(MF_F32, b, k, n)}, ot;
    float *want = tref_run(MF_OP_MATMUL, NULL, 2, ft, (const void *[]){xf, yf}, &ot);
    float amax = 0;
    for (int64_t i = 0; i < b * m * n; i++)
        amax = fmaxf(amax, fabsf(want[i]));
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_QMATMUL, a);
    tref_set_float(MF_OP_QMATMUL, a, "a_scale", as);
    tref_set_int(MF_OP_QMATMUL, a, "a_zero_point", azp);
    tref_set_float(MF_OP_QMATMUL, a, "b_scale", bs);
    tref_set_int(MF_OP_QMATMUL, a, "b_zero_point", bzp);
    tref_set_float(MF_OP_QMATMUL, a, "y_scale", amax / 127);
    mf_type qt[2] = {TT(MF_I8, b, m, k), TT(MF_I8, b, k, n)};
    int8_t *q = tref_run(MF_OP_QMATMUL, a, 2, qt, (const void *[]){x, y}, &ot);
    float *got = dequant(q, b * m * n, amax / 127, 0);
    check_rel(got, want, b * m * n, TOL, "qmatmul");
    free(x), free(y), free(xf), free(yf), free(want), free(q), free(got);
}

static void test_qadd_relu_within_2_percent(void **state)
{
    int64_t n = 1000;
    int8_t *x = rand_i8(n, 31, -128, 127), *y = rand_i8(n, 32, -128, 127);
    float *xf = dequant(x, n, 0.1f, 3), *yf = dequant(y, n, 0.04f, -7), *want = malloc(sizeof *want * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        want[i] = fmaxf(xf[i] + yf[i], 0);
    float ys = 18.0f / 255;
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_QADD, a);
    tref_set_float(MF_OP_QADD, a, "a_scale", 0.1);
    tref_set_int(MF_OP_QADD, a, "a_zero_point", 3);
    tref_set_float(MF_OP_QADD, a, "b_scale", 0.04);
    tref_set_int(MF_OP_QADD, a, "b_zero_point", -7);
    tref_set_float(MF_OP_QADD, a, "y_scale", ys);
    tref_set_int(MF_OP_QADD, a, "y_zero_point", -128);
    tref_set_float(MF_OP_QADD, a, "min", 0);
    mf_type qt[2] = {TT(MF_I8, n), TT(MF_I8, n)}, ot;
    int8_t *q = tref_run(MF_OP_QADD, a, 2, qt, (const void *[]){x, y}, &ot);
    float *got = dequant(q, n, ys, -128);
    check_rel(got, want, n, TOL, "qadd + relu");
    free(x), free(y), free(xf), free(yf), free(want), free(q), free(got);
}

/* max_pool2d on int8 is exact: the quantized max of the window. */
static void test_max_pool_int8_exact(void **state)
{
    int64_t n = 2 * 3 * 9 * 9;
    int8_t *x = rand_i8(n, 41, -128, 127);
    float *xf = dequant(x, n, 0.1f, 0);
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_MAX_POOL2D, a);
    TREF_INTS(MF_OP_MAX_POOL2D, a, "kernel", 3, 3);
    TREF_INTS(MF_OP_MAX_POOL2D, a, "stride", 2, 2);
    TREF_INTS(MF_OP_MAX_POOL2D, a, "padding", 1, 1);
    mf_type ft = TT(MF_F32, 2, 3, 9, 9), qt = TT(MF_I8, 2, 3, 9, 9), ot, qot;
    float *want = tref_run(MF_OP_MAX_POOL2D, a, 1, &ft, (const void *[]){xf}, &ot);
    int8_t *q = tref_run(MF_OP_MAX_POOL2D, a, 1, &qt, (const void *[]){x}, &qot);
    assert_int_equal(qot.dtype, MF_I8);
    float *got = dequant(q, mf_type_numel(&ot), 0.1f, 0);
    check_rel(got, want, mf_type_numel(&ot), 0, "max_pool2d int8");
    free(x), free(xf), free(want), free(q), free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantize_rounding),
        cmocka_unit_test(test_qconv2d_within_2_percent),
        cmocka_unit_test(test_qlinear_within_2_percent),
        cmocka_unit_test(test_qmatmul_within_2_percent),
        cmocka_unit_test(test_qadd_relu_within_2_percent),
        cmocka_unit_test(test_max_pool_int8_exact),
    };
    return cmocka_run_group_tests_name("ref_quant", tests, NULL, NULL);
}
