/* test_ref_conv_transpose.c — the reference transposed convolution: a hand-computed case,
 * and a sweep against its definition as the adjoint of conv2d (<conv(y), x> equals
 * <y, convT(x)> for every y and x), which shares no code with the kernel. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/ref_call.h"

static void set_geometry(mf_op op, mf_attr *at, int64_t s, int64_t p, int64_t d, int64_t g)
{
    mf_op_default_attrs(op, at);
    TREF_INTS(op, at, "stride", s, s);
    TREF_INTS(op, at, "padding", p, p);
    TREF_INTS(op, at, "dilation", d, d);
    tref_set_int(op, at, "groups", g);
}

static void test_stride2_by_hand(void **state)
{
    /* x = [[1, 2]] (1x1x1x2), w = [[1, 10]] (1x1x1x2), stride 2: each input writes two. */
    float x[] = {1, 2}, w[] = {1, 10};
    mf_attr at[MF_MAX_ATTRS];
    set_geometry(MF_OP_CONV_TRANSPOSE2D, at, 2, 0, 1, 1);
    mf_type t[2] = {TT(MF_F32, 1, 1, 1, 2), TT(MF_F32, 1, 1, 1, 2)}, ot;
    const void *in[2] = {x, w};
    float *o = tref_run(MF_OP_CONV_TRANSPOSE2D, at, 2, t, in, &ot);
    assert_int_equal(ot.shape[3], 4);
    TREF_EXPECT(o, 1, 10, 2, 20);
    free(o);
    /* with a bias and output_padding 1 */
    float b[] = {0.5f};
    tref_set_ints(MF_OP_CONV_TRANSPOSE2D, at, "output_padding", 2, (int64_t[]){0, 1});
    mf_type t3[3] = {t[0], t[1], TT(MF_F32, 1)};
    const void *in3[3] = {x, w, b};
    o = tref_run(MF_OP_CONV_TRANSPOSE2D, at, 3, t3, in3, &ot);
    assert_int_equal(ot.shape[3], 5);
    TREF_EXPECT(o, 1.5, 10.5, 2.5, 20.5, 0.5);
    free(o);
}

static double dot(const float *a, const float *b, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

static void test_adjoint_of_conv2d(void **state)
{
    uint64_t seed = 5;
    int checked = 0;
    for (int trial = 0; trial < 60; trial++) {
        int64_t g = 1 + (int64_t)(tref_next(&seed) % 2), cin = g * (1 + (int64_t)(tref_next(&seed) % 3));
        int64_t cout = g * (1 + (int64_t)(tref_next(&seed) % 3)), k = 1 + (int64_t)(tref_next(&seed) % 3);
        int64_t s = 1 + (int64_t)(tref_next(&seed) % 3), d = 1 + (int64_t)(tref_next(&seed) % 2);
        int64_t p = (int64_t)(tref_next(&seed) % (k * d / 2 + 1)), h = 4 + (int64_t)(tref_next(&seed) % 5);
        /* conv2d: [1, cout, h, h] -> [1, cin, oh, oh] with weight [cin, cout/g, k, k] */
        mf_attr ca[MF_MAX_ATTRS], ta[MF_MAX_ATTRS];
        set_geometry(MF_OP_CONV2D, ca, s, p, d, g);
        set_geometry(MF_OP_CONV_TRANSPOSE2D, ta, s, p, d, g);
        mf_type yt = TT(MF_F32, 1, cout, h, h), wt = TT(MF_F32, cin, cout / g, k, k), ct[2] = {yt, wt}, xt;
        if (h + 2 * p < d * (k - 1) + 1)
            continue;
        float *y = tref_rand(mf_type_numel(&yt), seed + 1, -1, 1);
        float *w = tref_rand(mf_type_numel(&wt), seed + 2, -1, 1);
        const void *cin_[2] = {y, w};
        float *cy = tref_run(MF_OP_CONV2D, ca, 2, ct, cin_, &xt);
        /* output_padding restores the rows the stride cut, so convT maps back to [1, cout, h, h] */
        int64_t op = h - ((xt.shape[2] - 1) * s - 2 * p + d * (k - 1) + 1);
        if (op < 0 || (op >= s && op >= d)) {
            free(y), free(w), free(cy);
            continue;
        }
        TREF_INTS(MF_OP_CONV_TRANSPOSE2D, ta, "output_padding", op, op);
        float *x = tref_rand(mf_type_numel(&xt), seed + 3, -1, 1);
        mf_type tt[2] = {xt, wt}, rt;
        const void *tin[2] = {x, w};
        float *tx = tref_run(MF_OP_CONV_TRANSPOSE2D, ta, 2, tt, tin, &rt);
        int64_t hh = rt.shape[2];
        assert_int_equal(hh, h);
        double lhs = dot(cy, x, mf_type_numel(&xt)), rhs = 0;
        for (int64_t c = 0; c < cout; c++)
            for (int64_t i = 0; i < hh; i++)
                for (int64_t j = 0; j < hh; j++)
                    rhs += (double)y[(c * h + i) * h + j] * tx[(c * hh + i) * hh + j];
        if (fabs(lhs - rhs) > 1e-4 * (1 + fabs(lhs)))
            fail_msg("trial %d: g %lld cin %lld cout %lld k %lld s %lld d %lld p %lld h %lld: %g vs %g", trial,
                     (long long)g, (long long)cin, (long long)cout, (long long)k, (long long)s, (long long)d,
                     (long long)p, (long long)h, lhs, rhs);
        free(y), free(w), free(cy), free(x), free(tx);
        checked++;
    }
    assert_true(checked >= 20); /* the sweep must not skip its way to green */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stride2_by_hand),
        cmocka_unit_test(test_adjoint_of_conv2d),
    };
    return cmocka_run_group_tests_name("ref_conv_transpose", tests, NULL, NULL);
}
