/* test_ref_conv.c — the reference conv2d: hand-computed cases for padding, stride,
 * dilation, groups and bias, and a sweep against an im2col + matrix-product formulation
 * written here, over random geometries. */
#include <math.h>
#include <stdlib.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/ref_call.h"

typedef struct conv_cfg {
    int64_t stride[2], pad[2], dil[2], groups;
} conv_cfg;

static const conv_cfg plain = {{1, 1}, {0, 0}, {1, 1}, 1};

static float *run_conv(conv_cfg g, mf_type xt, const float *x, mf_type wt, const float *w,
                       const float *bias, mf_type *ot)
{
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CONV2D, at);
    tref_set_ints(MF_OP_CONV2D, at, "stride", 2, g.stride);
    tref_set_ints(MF_OP_CONV2D, at, "padding", 2, g.pad);
    tref_set_ints(MF_OP_CONV2D, at, "dilation", 2, g.dil);
    tref_set_int(MF_OP_CONV2D, at, "groups", g.groups);
    mf_type types[3] = {xt, wt, TT(MF_F32, wt.shape[0])};
    const void *in[3] = {x, w, bias};
    return tref_run(MF_OP_CONV2D, at, bias ? 3 : 2, types, in, ot);
}

static const float x33[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

static void test_conv_valid(void **state)
{
    float w[] = {1, 0, 0, -1}; /* x[i][j] - x[i+1][j+1] */
    mf_type ot;
    float *o = run_conv(plain, TT(MF_F32, 1, 1, 3, 3), x33, TT(MF_F32, 1, 1, 2, 2), w, NULL, &ot);
    assert_int_equal(ot.shape[2], 2);
    assert_int_equal(ot.shape[3], 2);
    TREF_EXPECT(o, -4, -4, -4, -4);
    free(o);
}

static void test_conv_padding(void **state)
{
    float w[] = {1, 1, 1, 1, 1, 1, 1, 1, 1}; /* 3x3 box sum with zero padding 1 */
    conv_cfg g = plain;
    g.pad[0] = g.pad[1] = 1;
    mf_type ot;
    float *o = run_conv(g, TT(MF_F32, 1, 1, 3, 3), x33, TT(MF_F32, 1, 1, 3, 3), w, NULL, &ot);
    TREF_EXPECT(o, 12, 21, 16, 27, 45, 33, 24, 39, 28);
    free(o);
}

static void test_conv_stride_asymmetric_pad(void **state)
{
    float w[] = {1, 2}; /* 1x2 kernel, stride (2, 1), padding (1, 0) */
    conv_cfg g = {{2, 1}, {1, 0}, {1, 1}, 1};
    mf_type ot;
    float *o = run_conv(g, TT(MF_F32, 1, 1, 3, 3), x33, TT(MF_F32, 1, 1, 1, 2), w, NULL, &ot);
    assert_int_equal(ot.shape[2], 3); /* (3 + 2 - 1) / 2 + 1 */
    assert_int_equal(ot.shape[3], 2);
    TREF_EXPECT(o, 0, 0, 4 + 10, 5 + 12, 0, 0); /* rows -1 and 3 are padding */
    free(o);
}

static void test_conv_dilation(void **state)
{
    float x[25];
    for (int i = 0; i < 25; i++)
        x[i] = (float)i;
    float w[] = {1, 0, 2, 0}; /* 2x2 kernel, dilation 2: x[i][j] + 2 x[i+2][j] */
    conv_cfg g = plain;
    g.dil[0] = g.dil[1] = 2;
    mf_type ot;
    float *o = run_conv(g, TT(MF_F32, 1, 1, 5, 5), x, TT(MF_F32, 1, 1, 2, 2), w, NULL, &ot);
    assert_int_equal(ot.shape[2], 3);
    TREF_EXPECT(o, 20, 23, 26, 35, 38, 41, 50, 53, 56); /* 15 i + 3 j + 20 */
    free(o);
}

static void test_conv_groups_and_bias(void **state)
{
    /* 4 input channels of 1x1, 2 groups, 4 outputs: each output sees 2 channels */
    float x[] = {1, 2, 3, 4};
    float w[] = {1, 1, 1, -1, 2, 0, 0, 3}; /* [4, 2, 1, 1] */
    float b[] = {0.5f, 0, -1, 10};
    conv_cfg g = plain;
    g.groups = 2;
    mf_type ot;
    float *o = run_conv(g, TT(MF_F32, 1, 4, 1, 1), x, TT(MF_F32, 4, 2, 1, 1), w, b, &ot);
    TREF_EXPECT(o, 3.5, -1, 5, 22);
    free(o);
}

static void test_conv_batch_multichannel(void **state)
{
    /* N=2, Cin=2 (1x2 images), Cout=1, kernel 1x1 with weights (1, 10), bias 100 */
    float x[] = {1, 2, 3, 4, 5, 6, 7, 8}, w[] = {1, 10}, b[] = {100};
    mf_type ot;
    float *o = run_conv(plain, TT(MF_F32, 2, 2, 1, 2), x, TT(MF_F32, 1, 2, 1, 1), w, b, &ot);
    TREF_EXPECT(o, 131, 142, 175, 186);
    free(o);
}

/* ---- sweep against im2col ------------------------------------------------------------ */

/* Column matrix [cin_g*kh*kw, oh*ow] of group grp of image n, zero where padded. */
static double *im2col(const float *x, const mf_type *xt, const mf_type *wt, const mf_type *ot,
                      conv_cfg g, int64_t n, int64_t grp)
{
    int64_t cg = wt->shape[1], kh = wt->shape[2], kw = wt->shape[3];
    int64_t h = xt->shape[2], w = xt->shape[3], oh = ot->shape[2], ow = ot->shape[3];
    double *col = calloc((size_t)(cg * kh * kw * oh * ow) + 1, sizeof(double));
    for (int64_t r = 0; r < cg * kh * kw; r++) {
        int64_t ci = r / (kh * kw), ki = r / kw % kh, kj = r % kw;
        for (int64_t p = 0; p < oh * ow; p++) {
            int64_t iy = p / ow * g.stride[0] - g.pad[0] + ki * g.dil[0];
            int64_t ix = p % ow * g.stride[1] - g.pad[1] + kj * g.dil[1];
            if (iy >= 0 && iy < h && ix >= 0 && ix < w)
                col[r * oh * ow + p] = x[((n * xt->shape[1] + grp * cg + ci) * h + iy) * w + ix];
        }
    }
    return col;
}

static double *naive_conv(const float *x, mf_type xt, const float *w, mf_type wt,
                          const float *bias, conv_cfg g, const mf_type *ot)
{
    int64_t cout = wt.shape[0], cog = cout / g.groups, kk = wt.shape[1] * wt.shape[2] * wt.shape[3];
    int64_t plane = ot->shape[2] * ot->shape[3];
    double *out = calloc((size_t)mf_type_numel(ot) + 1, sizeof(double));
    for (int64_t n = 0; n < xt.shape[0]; n++)
        for (int64_t grp = 0; grp < g.groups; grp++) {
            double *col = im2col(x, &xt, &wt, ot, g, n, grp);
            for (int64_t oc = grp * cog; oc < (grp + 1) * cog; oc++)
                for (int64_t p = 0; p < plane; p++) {
                    double s = bias ? bias[oc] : 0;
                    for (int64_t r = 0; r < kk; r++)
                        s += (double)w[oc * kk + r] * col[r * plane + p];
                    out[(n * cout + oc) * plane + p] = s;
                }
            free(col);
        }
    return out;
}

static int64_t pick(uint64_t *st, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(tref_next(st) % (uint64_t)(hi - lo + 1));
}

static void check_conv(conv_cfg g, mf_type xt, mf_type wt, bool with_bias, uint64_t seed)
{
    float *x = tref_rand(mf_type_numel(&xt), seed, -1, 1);
    float *w = tref_rand(mf_type_numel(&wt), seed + 1, -1, 1);
    float *b = with_bias ? tref_rand(wt.shape[0], seed + 2, -1, 1) : NULL;
    mf_type ot;
    float *o = run_conv(g, xt, x, wt, w, b, &ot);
    double *want = naive_conv(x, xt, w, wt, b, g, &ot);
    tref_assert_close_tol(o, want, mf_type_numel(&ot), 1e-5, 1e-6);
    free(x), free(w), free(b), free(o), free(want);
}

static void test_conv_sweep(void **state)
{
    uint64_t st = 1234;
    for (int iter = 0; iter < 120; iter++) {
        conv_cfg g;
        int64_t k[2];
        for (int d = 0; d < 2; d++) {
            k[d] = pick(&st, 1, 4);
            g.stride[d] = pick(&st, 1, 3);
            g.dil[d] = pick(&st, 1, 3);
            g.pad[d] = pick(&st, 0, 3);
        }
        g.groups = pick(&st, 1, 3);
        int64_t cin = g.groups * pick(&st, 1, 3), cout = g.groups * pick(&st, 1, 3);
        int64_t h = g.dil[0] * (k[0] - 1) + pick(&st, 1, 8);
        int64_t w = g.dil[1] * (k[1] - 1) + pick(&st, 1, 8);
        mf_type xt = TT(MF_F32, pick(&st, 1, 2), cin, h, w);
        mf_type wt = TT(MF_F32, cout, cin / g.groups, k[0], k[1]);
        check_conv(g, xt, wt, iter % 2, st);
    }
}

static void test_conv_depthwise(void **state)
{
    conv_cfg g = {{2, 2}, {1, 1}, {1, 1}, 8};
    check_conv(g, TT(MF_F32, 2, 8, 9, 11), TT(MF_F32, 8, 1, 3, 3), true, 99);
    g.groups = 4; /* channel multiplier 2 */
    check_conv(g, TT(MF_F32, 1, 4, 7, 7), TT(MF_F32, 8, 1, 3, 3), false, 98);
}

static void test_conv_mnist_size(void **state)
{
    /* MNIST's second conv: 32 -> 64 channels, 3x3, on 26x26 (runs in milliseconds) */
    check_conv(plain, TT(MF_F32, 1, 32, 26, 26), TT(MF_F32, 64, 32, 3, 3), true, 7);
}

static void test_conv_kernel_covers_padded_input(void **state)
{
    /* the window hangs over the padding on both sides at once */
    conv_cfg g = {{1, 1}, {2, 2}, {1, 1}, 1};
    check_conv(g, TT(MF_F32, 1, 2, 1, 2), TT(MF_F32, 3, 2, 5, 5), true, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_valid),
        cmocka_unit_test(test_conv_padding),
        cmocka_unit_test(test_conv_stride_asymmetric_pad),
        cmocka_unit_test(test_conv_dilation),
        cmocka_unit_test(test_conv_groups_and_bias),
        cmocka_unit_test(test_conv_batch_multichannel),
        cmocka_unit_test(test_conv_sweep),
        cmocka_unit_test(test_conv_depthwise),
        cmocka_unit_test(test_conv_mnist_size),
        cmocka_unit_test(test_conv_kernel_covers_padded_input),
    };
    return cmocka_run_group_tests_name("ref_conv", tests, NULL, NULL);
}
