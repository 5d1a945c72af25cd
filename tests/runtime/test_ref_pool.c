/* test_ref_pool.c — the reference pooling kernels: hand-computed max/avg pools with
 * padding, dilation, ceil_mode and count_include_pad, adaptive pools with divisible and
 * non-divisible sizes, and sweeps against explicit window lists built here (output sizes
 * are recomputed here too, from PyTorch's formula). */
#include <math.h>
#include <stdlib.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/ref_call.h"

typedef struct pool_cfg {
    int64_t k[2], s[2], p[2], d[2]; /* s {0, 0}: no stride given */
    int ceil_mode, include_pad;
} pool_cfg;

static float *run_pool(mf_op op, pool_cfg g, mf_type xt, const float *x, mf_type *ot)
{
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(op, at);
    tref_set_ints(op, at, "kernel", 2, g.k);
    tref_set_ints(op, at, "stride", g.s[0] ? 2 : 0, g.s);
    tref_set_ints(op, at, "padding", 2, g.p);
    tref_set_int(op, at, "ceil_mode", g.ceil_mode);
    if (op == MF_OP_MAX_POOL2D)
        tref_set_ints(op, at, "dilation", 2, g.d);
    else
        tref_set_int(op, at, "count_include_pad", g.include_pad);
    const void *in[1] = {x};
    return tref_run(op, at, 1, &xt, in, ot);
}

static float seq[25];

static int setup_seq(void **state)
{
    for (int i = 0; i < 25; i++)
        seq[i] = (float)i;
    return 0;
}

static pool_cfg cfg(int64_t k, int64_t s, int64_t p)
{
    return (pool_cfg){{k, k}, {s, s}, {p, p}, {1, 1}, 0, 1};
}

static void test_max_pool_basic(void **state)
{
    mf_type ot;
    float *o = run_pool(MF_OP_MAX_POOL2D, cfg(2, 2, 0), TT(MF_F32, 1, 1, 4, 4), seq, &ot);
    assert_int_equal(ot.shape[2], 2);
    TREF_EXPECT(o, 5, 7, 13, 15);
    free(o);
}

static void test_max_pool_pads_with_minus_inf(void **state)
{
    float x[] = {-1, -2, -3, -4, -5, -6, -7, -8, -9};
    mf_type ot;
    float *o = run_pool(MF_OP_MAX_POOL2D, cfg(3, 1, 1), TT(MF_F32, 1, 1, 3, 3), x, &ot);
    TREF_EXPECT(o, -1, -1, -2, -1, -1, -2, -4, -4, -5);
    free(o);
}

static void test_max_pool_ceil_mode(void **state)
{
    pool_cfg g = cfg(2, 2, 0);
    g.ceil_mode = 1;
    mf_type ot;
    float *o = run_pool(MF_OP_MAX_POOL2D, g, TT(MF_F32, 1, 1, 5, 5), seq, &ot);
    assert_int_equal(ot.shape[2], 3);
    assert_int_equal(ot.shape[3], 3);
    TREF_EXPECT(o, 6, 8, 9, 16, 18, 19, 21, 23, 24);
    free(o);
}

static void test_max_pool_dilation(void **state)
{
    pool_cfg g = cfg(2, 1, 0);
    g.d[0] = g.d[1] = 2;
    mf_type ot;
    float *o = run_pool(MF_OP_MAX_POOL2D, g, TT(MF_F32, 1, 1, 4, 4), seq, &ot);
    TREF_EXPECT(o, 10, 11, 14, 15);
    free(o);
}

static void test_max_pool_default_stride_and_planes(void **state)
{
    /* no stride: stride = kernel; two planes (N=1, C=2) of 2x4 */
    pool_cfg g = cfg(2, 0, 0);
    float x[] = {1, 9, 2, 3, 4, 5, 8, 6, -1, -2, -3, -4, -5, -6, -7, -8};
    mf_type ot;
    float *o = run_pool(MF_OP_MAX_POOL2D, g, TT(MF_F32, 1, 2, 2, 4), x, &ot);
    TREF_EXPECT(o, 9, 8, -1, -3);
    free(o);
}

static void test_max_pool_nan_wins(void **state)
{
    float x[] = {1, NAN, 3, 4};
    mf_type ot;
    float *o = run_pool(MF_OP_MAX_POOL2D, cfg(2, 2, 0), TT(MF_F32, 1, 1, 2, 2), x, &ot);
    assert_true(isnan(o[0]));
    free(o);
}

static void test_avg_pool_basic(void **state)
{
    mf_type ot;
    float *o = run_pool(MF_OP_AVG_POOL2D, cfg(2, 2, 0), TT(MF_F32, 1, 1, 4, 4), seq, &ot);
    TREF_EXPECT(o, 2.5, 4.5, 10.5, 12.5);
    free(o);
}

static void test_avg_pool_padding(void **state)
{
    float x[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    mf_type ot;
    pool_cfg g = cfg(2, 2, 1);
    float *o = run_pool(MF_OP_AVG_POOL2D, g, TT(MF_F32, 1, 1, 3, 3), x, &ot);
    TREF_EXPECT(o, 0.25, 1.25, 2.75, 7);
    free(o);
    g.include_pad = 0;
    o = run_pool(MF_OP_AVG_POOL2D, g, TT(MF_F32, 1, 1, 3, 3), x, &ot);
    TREF_EXPECT(o, 1, 2.5, 5.5, 7);
    free(o);
}

static void test_avg_pool_ceil_mode(void **state)
{
    pool_cfg g = cfg(2, 2, 0);
    g.ceil_mode = 1; /* the last window is cut by the input edge: divides by what is left */
    mf_type ot;
    float *o = run_pool(MF_OP_AVG_POOL2D, g, TT(MF_F32, 1, 1, 5, 5), seq, &ot);
    TREF_EXPECT(o, 3, 5, 6.5, 13, 15, 16.5, 20.5, 22.5, 24);
    free(o);
}

static void test_avg_pool_ceil_mode_with_padding(void **state)
{
    /* 4x4, kernel 3, stride 2, padding 1, ceil: windows start at -1, 1, 3; the last one
     * is clipped to input + padding = 5 for the include-pad divisor */
    pool_cfg g = cfg(3, 2, 1);
    g.ceil_mode = 1;
    mf_type ot;
    float *o = run_pool(MF_OP_AVG_POOL2D, g, TT(MF_F32, 1, 1, 4, 4), seq, &ot);
    assert_int_equal(ot.shape[2], 3);
    TREF_EXPECT(o, 10.0 / 9, 24.0 / 9, 10.0 / 6, 51.0 / 9, 10, 5.5, 25.0 / 6, 7, 3.75);
    free(o);
    g.include_pad = 0;
    o = run_pool(MF_OP_AVG_POOL2D, g, TT(MF_F32, 1, 1, 4, 4), seq, &ot);
    TREF_EXPECT(o, 2.5, 4, 5, 8.5, 10, 11, 12.5, 14, 15);
    free(o);
}

/* ---- sweeps against explicit window lists ---------------------------------------------- */

static int64_t torch_out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool up)
{
    double span = (double)(in + 2 * p - d * (k - 1) - 1) / (double)s;
    int64_t n = (int64_t)(up ? ceil(span) : floor(span)) + 1;
    if (up && (n - 1) * s >= in + p)
        n--;
    return n;
}

/* One window's positions along one dim: every tap, with flags for where it lands. */
typedef struct taps {
    int n;
    int64_t at[16];
} taps;

static taps window_taps(int64_t o, int64_t k, int64_t s, int64_t p, int64_t d)
{
    taps t = {0};
    for (int64_t i = 0; i < k; i++)
        t.at[t.n++] = o * s - p + i * d;
    return t;
}

static double naive_pool_at(mf_op op, pool_cfg g, const float *plane, int64_t h, int64_t w,
                            int64_t oy, int64_t ox)
{
    taps ty = window_taps(oy, g.k[0], g.s[0], g.p[0], g.d[0]);
    taps tx = window_taps(ox, g.k[1], g.s[1], g.p[1], g.d[1]);
    double best = -INFINITY, sum = 0;
    int64_t inside = 0, in_padded = 0;
    for (int i = 0; i < ty.n; i++)
        for (int j = 0; j < tx.n; j++) {
            int64_t y = ty.at[i], x = tx.at[j];
            if (y < h + g.p[0] && x < w + g.p[1])
                in_padded++; /* taps never start before -padding */
            if (y < 0 || y >= h || x < 0 || x >= w)
                continue;
            inside++;
            sum += plane[y * w + x];
            best = fmax(best, plane[y * w + x]);
        }
    if (op == MF_OP_MAX_POOL2D)
        return best;
    if (!inside)
        return 0;
    return sum / (double)(g.include_pad ? in_padded : inside);
}

static int64_t pick(uint64_t *st, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(tref_next(st) % (uint64_t)(hi - lo + 1));
}

static void check_pool(mf_op op, pool_cfg g, mf_type xt, uint64_t seed)
{
    float *x = tref_rand(mf_type_numel(&xt), seed, -5, 5);
    mf_type ot;
    float *o = run_pool(op, g, xt, x, &ot);
    int64_t h = xt.shape[2], w = xt.shape[3];
    int64_t oh = torch_out_size(h, g.k[0], g.s[0], g.p[0], g.d[0], g.ceil_mode);
    int64_t ow = torch_out_size(w, g.k[1], g.s[1], g.p[1], g.d[1], g.ceil_mode);
    assert_int_equal(ot.shape[2], oh);
    assert_int_equal(ot.shape[3], ow);
    int64_t planes = xt.shape[0] * xt.shape[1];
    double *want = malloc(sizeof(double) * (size_t)(planes * oh * ow + 1));
    for (int64_t pl = 0; pl < planes; pl++)
        for (int64_t y = 0; y < oh; y++)
            for (int64_t xx = 0; xx < ow; xx++)
                want[(pl * oh + y) * ow + xx] = naive_pool_at(op, g, x + pl * h * w, h, w, y, xx);
    tref_assert_close(o, want, planes * oh * ow);
    free(x), free(o), free(want);
}

static pool_cfg random_cfg(uint64_t *st, bool dilation)
{
    pool_cfg g;
    for (int d = 0; d < 2; d++) {
        g.k[d] = pick(st, 1, 5);
        g.s[d] = pick(st, 1, 4);
        g.p[d] = pick(st, 0, g.k[d] / 2);
        g.d[d] = dilation ? pick(st, 1, 3) : 1;
    }
    g.ceil_mode = (int)pick(st, 0, 1);
    g.include_pad = (int)pick(st, 0, 1);
    return g;
}

static void sweep(mf_op op, uint64_t seed)
{
    uint64_t st = seed;
    for (int iter = 0; iter < 300; iter++) {
        pool_cfg g = random_cfg(&st, op == MF_OP_MAX_POOL2D);
        int64_t h = g.d[0] * (g.k[0] - 1) + pick(&st, 1, 9);
        int64_t w = g.d[1] * (g.k[1] - 1) + pick(&st, 1, 9);
        check_pool(op, g, TT(MF_F32, pick(&st, 1, 2), pick(&st, 1, 3), h, w), st);
    }
}

static void test_max_pool_sweep(void **state)
{
    sweep(MF_OP_MAX_POOL2D, 5);
}

static void test_avg_pool_sweep(void **state)
{
    sweep(MF_OP_AVG_POOL2D, 6);
}

static void test_pool_resnet_stem(void **state)
{
    /* resnet's max_pool(3, 2, 1) after the stem, and an ImageNet-style avg_pool(3, 1, 1) */
    pool_cfg g = cfg(3, 2, 1);
    check_pool(MF_OP_MAX_POOL2D, g, TT(MF_F32, 1, 4, 112, 112), 31);
    g = cfg(3, 1, 1);
    g.include_pad = 0;
    check_pool(MF_OP_AVG_POOL2D, g, TT(MF_F32, 1, 4, 17, 17), 32);
}

/* ---- adaptive ------------------------------------------------------------------------ */

static float *run_adaptive(mf_type xt, const float *x, int64_t oh, int64_t ow, mf_type *ot)
{
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_ADAPTIVE_AVG_POOL2D, at);
    TREF_INTS(MF_OP_ADAPTIVE_AVG_POOL2D, at, "output_size", oh, ow);
    const void *in[1] = {x};
    return tref_run(MF_OP_ADAPTIVE_AVG_POOL2D, at, 1, &xt, in, ot);
}

static void test_adaptive_divisible(void **state)
{
    mf_type ot;
    float *o = run_adaptive(TT(MF_F32, 1, 1, 4, 4), seq, 2, 2, &ot);
    TREF_EXPECT(o, 2.5, 4.5, 10.5, 12.5);
    free(o);
    o = run_adaptive(TT(MF_F32, 1, 1, 4, 4), seq, 1, 1, &ot); /* global average */
    TREF_EXPECT(o, 7.5);
    free(o);
}

static void test_adaptive_non_divisible_rank3(void **state)
{
    mf_type ot;
    float *o = run_adaptive(TT(MF_F32, 1, 1, 5), seq, 1, 3, &ot); /* windows {0,1} {1,2,3} {3,4} */
    assert_int_equal(ot.rank, 3);
    TREF_EXPECT(o, 0.5, 2, 3.5);
    free(o);
    o = run_adaptive(TT(MF_F32, 1, 1, 3), seq, 1, 5, &ot); /* more outputs than inputs */
    TREF_EXPECT(o, 0, 0.5, 1, 1.5, 2);
    free(o);
}

static void check_adaptive(mf_type xt, int64_t oh, int64_t ow, uint64_t seed)
{
    float *x = tref_rand(mf_type_numel(&xt), seed, -3, 3);
    mf_type ot;
    float *o = run_adaptive(xt, x, oh, ow, &ot);
    int64_t h = xt.shape[xt.rank - 2], w = xt.shape[xt.rank - 1];
    int64_t planes = mf_type_numel(&xt) / (h * w), n = planes * oh * ow;
    double *want = malloc(sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < n; i++) {
        int64_t pl = i / (oh * ow), y = i / ow % oh, xx = i % ow;
        int64_t y0 = (int64_t)floor((double)y * h / oh);
        int64_t y1 = (int64_t)ceil((double)(y + 1) * h / oh);
        int64_t x0 = (int64_t)floor((double)xx * w / ow);
        int64_t x1 = (int64_t)ceil((double)(xx + 1) * w / ow);
        double s = 0;
        for (int64_t a = y0; a < y1; a++)
            for (int64_t b = x0; b < x1; b++)
                s += x[pl * h * w + a * w + b];
        want[i] = s / (double)((y1 - y0) * (x1 - x0));
    }
    tref_assert_close(o, want, n);
    free(x), free(o), free(want);
}

static void test_adaptive_sweep(void **state)
{
    uint64_t st = 8;
    for (int iter = 0; iter < 100; iter++) {
        int64_t h = pick(&st, 1, 13), w = pick(&st, 1, 13);
        mf_type xt = iter % 2 ? TT(MF_F32, pick(&st, 1, 2), pick(&st, 1, 3), h, w)
                              : TT(MF_F32, pick(&st, 1, 3), h, w);
        check_adaptive(xt, pick(&st, 1, 9), pick(&st, 1, 9), st);
    }
    check_adaptive(TT(MF_F32, 1, 8, 7, 7), 1, 1, 9); /* resnet's head */
    check_adaptive(TT(MF_F32, 1, 8, 13, 13), 6, 6, 10); /* alexnet's head */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_pool_basic),
        cmocka_unit_test(test_max_pool_pads_with_minus_inf),
        cmocka_unit_test(test_max_pool_ceil_mode),
        cmocka_unit_test(test_max_pool_dilation),
        cmocka_unit_test(test_max_pool_default_stride_and_planes),
        cmocka_unit_test(test_max_pool_nan_wins),
        cmocka_unit_test(test_avg_pool_basic),
        cmocka_unit_test(test_avg_pool_padding),
        cmocka_unit_test(test_avg_pool_ceil_mode),
        cmocka_unit_test(test_avg_pool_ceil_mode_with_padding),
        cmocka_unit_test(test_max_pool_sweep),
        cmocka_unit_test(test_avg_pool_sweep),
        cmocka_unit_test(test_pool_resnet_stem),
        cmocka_unit_test(test_adaptive_divisible),
        cmocka_unit_test(test_adaptive_non_divisible_rank3),
        cmocka_unit_test(test_adaptive_sweep),
    };
    return cmocka_run_group_tests_name("ref_pool", tests, setup_seq, NULL);
}
