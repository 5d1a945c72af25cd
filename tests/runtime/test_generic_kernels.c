/* test_generic_kernels.c — tier 0's generic kernels against the reference: the GEMM (every
 * micro-kernel this host runs, edge tiles, depths past one K block, widths past one N block,
 * transposed operands) against a double-precision loop, and conv2d / linear / matmul
 * against their reference kernels within the op tolerance (0.3 %) over geometries that hit
 * each path: im2col, pointwise, grouped, depthwise, strides, padding, dilation; relu, clamp
 * and add exactly. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "runtime/generic.h"
#include "tests/support/ref_call.h"

static const char *const isa_names[] = {"avx512f", "avx2", "generic"};

static double max_rel(const float *got, const double *want, int64_t n)
{
    double err = 0, scale = 1e-30;
    for (int64_t i = 0; i < n; i++) {
        err = fmax(err, fabs(got[i] - want[i]));
        scale = fmax(scale, fabs(want[i]));
    }
    return err / scale;
}

/* C = A * B with A read through (rsa, csa) and B through (rsb, csb). */
static void check_gemm(int64_t m, int64_t n, int64_t k, bool trans_a, bool trans_b)
{
    float *a = tref_rand(m * k + 1, 7 + (uint64_t)m, -1, 1), *b = tref_rand(k * n + 1, 11 + (uint64_t)n, -1, 1);
    int64_t rsa = trans_a ? 1 : k, csa = trans_a ? m : 1, rsb = trans_b ? 1 : n, csb = trans_b ? k : 1;
    double *want = calloc((size_t)(m * n + 1), sizeof *want);
    float *c = malloc(sizeof(float) * (size_t)(m * n + 1));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            for (int64_t p = 0; p < k; p++)
                want[i * n + j] += (double)a[i * rsa + p * csa] * b[p * rsb + j * csb];
    assert_int_equal(mf_gen_sgemm(m, n, k, a, rsa, csa, b, rsb, csb, c, n), MF_OK);
    double d = max_rel(c, want, m * n);
    if (d > 1e-5)
        fail_msg("gemm %s %lldx%lldx%lld (trans %d %d): relative error %g", mf_gen_sgemm_isa(),
                 (long long)m, (long long)n, (long long)k, trans_a, trans_b, d);
    free(a), free(b), free(c), free(want);
}

static void test_gemm_every_isa(void **state)
{
    (void)state;
    int ran = 0;
    for (size_t i = 0; i < sizeof isa_names / sizeof isa_names[0]; i++) {
        if (!mf_gen_sgemm_use_isa(isa_names[i])) {
            printf("gemm: skipped %s (this host cannot run it)\n", isa_names[i]);
            continue;
        }
        ran++;
        check_gemm(1, 1, 1, false, false);
        check_gemm(8, 32, 16, false, false);   /* one full AVX-512 tile */
        check_gemm(7, 33, 300, false, false);  /* edge tiles, two K blocks */
        check_gemm(130, 2100, 5, false, false); /* two M blocks, two N blocks */
        check_gemm(9, 17, 513, true, false);
        check_gemm(5, 40, 64, false, true);    /* linear's transposed weight */
        check_gemm(3, 4, 0, false, false);     /* empty depth: zeros */
    }
    mf_gen_sgemm_use_isa(NULL);
    assert_true(ran >= 1); /* the plain kernel runs everywhere */
}

/* The generic conv2d against the reference on one geometry (f32, NCHW, bias optional). */
static void check_conv(int64_t n, int64_t cin, int64_t h, int64_t w, int64_t cout, int64_t kh,
                       int64_t kw, int64_t stride, int64_t pad, int64_t dil, int64_t groups, bool bias)
{
    mf_attr attrs[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CONV2D, attrs);
    TREF_INTS(MF_OP_CONV2D, attrs, "stride", stride, stride);
    TREF_INTS(MF_OP_CONV2D, attrs, "padding", pad, pad);
    TREF_INTS(MF_OP_CONV2D, attrs, "dilation", dil, dil);
    tref_set_int(MF_OP_CONV2D, attrs, "groups", groups);
    mf_type types[3] = {TT(MF_F32, n, cin, h, w), TT(MF_F32, cout, cin / groups, kh, kw), TT(MF_F32, cout)};
    float *x = tref_rand(n * cin * h * w, 3, -1, 1), *wt = tref_rand(cout * cin / groups * kh * kw, 5, -1, 1);
    float *b = tref_rand(cout, 9, -1, 1);
    const void *in[3] = {x, wt, b};
    int nin = bias ? 3 : 2;
    mf_type out_type;
    float *want = tref_run(MF_OP_CONV2D, attrs, nin, types, in, &out_type);
    int64_t numel = mf_type_numel(&out_type);
    float *got = malloc(sizeof(float) * (size_t)(numel + 1));
    mf_ref_fn fn = mf_rt_generic_kernel(MF_OP_CONV2D, attrs, nin, types, &out_type);
    assert_non_null(fn);
    mf_ref_call call = {MF_OP_CONV2D, attrs, nin, in, types, got, &out_type, 0, 1};
    assert_int_equal(fn(&call), MF_OK);
    double *wantd = malloc(sizeof(double) * (size_t)(numel + 1));
    for (int64_t i = 0; i < numel; i++)
        wantd[i] = want[i];
    double d = max_rel(got, wantd, numel);
    if (d > 3e-3)
        fail_msg("conv %lldx%lldx%lldx%lld -> %lld, %lldx%lld s%lld p%lld d%lld g%lld: relative error %g",
                 (long long)n, (long long)cin, (long long)h, (long long)w, (long long)cout, (long long)kh,
                 (long long)kw, (long long)stride, (long long)pad, (long long)dil, (long long)groups, d);
    free(x), free(wt), free(b), free(want), free(got), free(wantd);
}

static void test_conv_geometries(void **state)
{
    (void)state;
    check_conv(1, 3, 23, 21, 16, 7, 7, 2, 3, 1, 1, true);   /* resnet's stem, odd sizes */
    check_conv(2, 40, 9, 8, 20, 3, 3, 1, 1, 1, 1, true);    /* K = 360: two K blocks */
    check_conv(1, 24, 12, 12, 10, 1, 1, 1, 0, 1, 1, false); /* pointwise: no im2col */
    check_conv(1, 24, 12, 12, 10, 1, 1, 2, 0, 1, 1, true);  /* strided 1x1 */
    check_conv(2, 12, 10, 11, 9, 3, 3, 1, 2, 2, 3, true);   /* grouped, dilated */
    check_conv(1, 16, 15, 13, 16, 3, 3, 2, 1, 1, 16, true); /* depthwise, stride 2 */
    check_conv(2, 8, 9, 9, 8, 5, 5, 1, 2, 1, 8, false);     /* depthwise 5x5 */
    check_conv(1, 2, 48, 47, 3, 3, 3, 1, 1, 1, 1, true);    /* plane 2256: two N blocks */
}

static void test_linear_and_matmul(void **state)
{
    (void)state;
    mf_type lt[3] = {TT(MF_F32, 3, 70), TT(MF_F32, 45, 70), TT(MF_F32, 45)};
    float *x = tref_rand(3 * 70, 1, -1, 1), *w = tref_rand(45 * 70, 2, -1, 1), *b = tref_rand(45, 3, -1, 1);
    const void *lin[3] = {x, w, b};
    mf_type out_type;
    float *want = tref_run(MF_OP_LINEAR, NULL, 3, lt, lin, &out_type);
    float got[3 * 45];
    mf_ref_fn fn = mf_rt_generic_kernel(MF_OP_LINEAR, NULL, 3, lt, &out_type);
    assert_non_null(fn);
    assert_int_equal(fn(&(mf_ref_call){MF_OP_LINEAR, NULL, 3, lin, lt, got, &out_type, 0, 1}), MF_OK);
    double wantd[3 * 45];
    for (int i = 0; i < 3 * 45; i++)
        wantd[i] = want[i];
    assert_true(max_rel(got, wantd, 3 * 45) <= 3e-3);
    free(want);

    mf_type mt[2] = {TT(MF_F32, 3, 70), TT(MF_F32, 70, 45)};
    const void *min[2] = {x, w};
    want = tref_run(MF_OP_MATMUL, NULL, 2, mt, min, &out_type);
    fn = mf_rt_generic_kernel(MF_OP_MATMUL, NULL, 2, mt, &out_type);
    assert_non_null(fn);
    assert_int_equal(fn(&(mf_ref_call){MF_OP_MATMUL, NULL, 2, min, mt, got, &out_type, 0, 1}), MF_OK);
    for (int i = 0; i < 3 * 45; i++)
        wantd[i] = want[i];
    assert_true(max_rel(got, wantd, 3 * 45) <= 3e-3);
    free(want), free(x), free(w), free(b);
}

/* What no generic kernel takes goes to the reference kernel (NULL here). */
static void test_no_kernel_outside_f32(void **state)
{
    (void)state;
    mf_type t[2] = {TT(MF_I32, 3, 4), TT(MF_I32, 4, 5)}, out = TT(MF_I32, 3, 5);
    assert_null(mf_rt_generic_kernel(MF_OP_MATMUL, NULL, 2, t, &out));
    mf_type b[2] = {TT(MF_F32, 2, 3, 4), TT(MF_F32, 2, 4, 5)}, bo = TT(MF_F32, 2, 3, 5);
    assert_null(mf_rt_generic_kernel(MF_OP_MATMUL, NULL, 2, b, &bo)); /* batched: reference */
    mf_type bc[2] = {TT(MF_F32, 2, 3, 4), TT(MF_F32, 4)};
    assert_null(mf_rt_generic_kernel(MF_OP_ADD, NULL, 2, bc, &bc[0])); /* broadcasting: reference */
}

/* relu, clamp (relu6) and a same-shape add equal their reference kernels exactly, NaN too. */
static void test_elementwise(void **state)
{
    (void)state;
    const int64_t n = 1000;
    float *a = tref_rand(n, 21, -8, 8), *b = tref_rand(n, 22, -8, 8);
    a[5] = NAN;
    mf_type t[2] = {TT(MF_F32, 10, 100), TT(MF_F32, 10, 100)};
    const void *in[2] = {a, b};
    const mf_op ops[3] = {MF_OP_RELU, MF_OP_CLAMP, MF_OP_ADD};
    for (int k = 0; k < 3; k++) {
        mf_attr attrs[MF_MAX_ATTRS];
        mf_op_default_attrs(ops[k], attrs);
        if (ops[k] == MF_OP_CLAMP) {
            tref_set_float(ops[k], attrs, "min", 0);
            tref_set_float(ops[k], attrs, "max", 6);
        } else if (ops[k] == MF_OP_ADD) {
            tref_set_float(ops[k], attrs, "alpha", 0.5);
        }
        int nin = ops[k] == MF_OP_ADD ? 2 : 1;
        mf_type out_type;
        float *want = tref_run(ops[k], attrs, nin, t, in, &out_type), got[1000];
        mf_ref_fn fn = mf_rt_generic_kernel(ops[k], attrs, nin, t, &out_type);
        assert_non_null(fn);
        assert_int_equal(fn(&(mf_ref_call){ops[k], attrs, nin, in, t, got, &out_type, 0, 1}), MF_OK);
        for (int64_t i = 0; i < n; i++)
            if (!(got[i] == want[i] || (isnan(got[i]) && isnan(want[i]))))
                fail_msg("%s: element %lld is %g, the reference gives %g", mf_op_get(ops[k])->name,
                         (long long)i, got[i], want[i]);
        free(want);
    }
    free(a), free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_every_isa),
        cmocka_unit_test(test_conv_geometries),
        cmocka_unit_test(test_linear_and_matmul),
        cmocka_unit_test(test_no_kernel_outside_f32),
        cmocka_unit_test(test_elementwise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
