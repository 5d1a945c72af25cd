/* test_ref_layout.c — the reference view and layout kernels: dropout, flatten and reshape
 * copy bytes; permute (rank 2 to 5, every rank-4 permutation, negative entries), concat
 * (n inputs, middle and negative dims) and upsample_nearest2d, checked on f32 against
 * index arithmetic written here and on i64, i8, i32, f16 and bool data. */
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/support/ref_call.h"

static void *run1(mf_op op, const mf_attr *at, mf_type t, const void *x, mf_type *ot)
{
    const void *in[1] = {x};
    return tref_run(op, at, 1, &t, in, ot);
}

/* ---- views ------------------------------------------------------------------------------ */

static void test_dropout_is_identity(void **state)
{
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_DROPOUT, at);
    tref_set_float(MF_OP_DROPOUT, at, "p", 0.9);
    float x[] = {1, -2, 3, 0.5f};
    mf_type ot;
    float *o = run1(MF_OP_DROPOUT, at, TT(MF_F32, 2, 2), x, &ot);
    TREF_EXPECT(o, 1, -2, 3, 0.5);
    free(o);
    int64_t xi[] = {-1, INT64_MAX, 7};
    int64_t *oi = run1(MF_OP_DROPOUT, NULL, TT(MF_I64, 3), xi, &ot);
    assert_memory_equal(oi, xi, sizeof xi);
    free(oi);
}

static void test_flatten(void **state)
{
    float x[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)i;
    mf_type ot;
    float *o = run1(MF_OP_FLATTEN, NULL, TT(MF_F32, 2, 3, 4), x, &ot);
    assert_int_equal(ot.rank, 2);
    assert_int_equal(ot.shape[1], 12);
    assert_memory_equal(o, x, sizeof x);
    free(o);
    uint8_t b[6] = {1, 0, 1, 1, 0, 0};
    uint8_t *ob = run1(MF_OP_FLATTEN, NULL, TT(MF_BOOL, 1, 2, 3), b, &ot);
    assert_memory_equal(ob, b, sizeof b);
    free(ob);
}

static void test_reshape(void **state)
{
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_RESHAPE, at);
    TREF_INTS(MF_OP_RESHAPE, at, "shape", 3, -1);
    int8_t x[] = {1, -2, 3, -4, 5, -128};
    mf_type ot;
    int8_t *o = run1(MF_OP_RESHAPE, at, TT(MF_I8, 2, 3), x, &ot);
    assert_int_equal(ot.shape[0], 3);
    assert_int_equal(ot.shape[1], 2);
    assert_memory_equal(o, x, sizeof x);
    free(o);
}

/* ---- permute ---------------------------------------------------------------------------- */

static void *run_permute(int rank, const int64_t *perm, mf_type t, const void *x, mf_type *ot)
{
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_PERMUTE, at);
    tref_set_ints(MF_OP_PERMUTE, at, "perm", rank, perm);
    return run1(MF_OP_PERMUTE, at, t, x, ot);
}

static void test_permute_transpose(void **state)
{
    float x[] = {1, 2, 3, 4, 5, 6}; /* [2, 3] */
    mf_type ot;
    float *o = run_permute(2, (int64_t[]){1, 0}, TT(MF_F32, 2, 3), x, &ot);
    assert_int_equal(ot.shape[0], 3);
    TREF_EXPECT(o, 1, 4, 2, 5, 3, 6);
    free(o);
}

static void test_permute_rank3_literal(void **state)
{
    float x[12]; /* [2, 3, 2] -> perm (2, 0, 1) -> [2, 2, 3] */
    for (int i = 0; i < 12; i++)
        x[i] = (float)i;
    mf_type ot;
    float *o = run_permute(3, (int64_t[]){2, 0, 1}, TT(MF_F32, 2, 3, 2), x, &ot);
    TREF_EXPECT(o, 0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11);
    free(o);
}

/* out[i0..ir] = x[j] where j's dim perm[k] index is i_k: by explicit unravel/ravel. */
static int64_t permute_source(const mf_type *t, const int64_t *perm, const mf_type *ot,
                              int64_t flat)
{
    int64_t oidx[MF_MAX_RANK], iidx[MF_MAX_RANK];
    for (int d = ot->rank - 1; d >= 0; d--) {
        oidx[d] = flat % ot->shape[d];
        flat /= ot->shape[d];
    }
    for (int k = 0; k < t->rank; k++)
        iidx[perm[k] < 0 ? perm[k] + t->rank : perm[k]] = oidx[k];
    int64_t src = 0;
    for (int d = 0; d < t->rank; d++)
        src = src * t->shape[d] + iidx[d];
    return src;
}

static void check_permute_f32(mf_type t, const int64_t *perm, uint64_t seed)
{
    int64_t n = mf_type_numel(&t);
    float *x = tref_rand(n, seed, -1, 1);
    mf_type ot;
    float *o = run_permute(t.rank, perm, t, x, &ot);
    for (int64_t i = 0; i < n; i++)
        if (o[i] != x[permute_source(&t, perm, &ot, i)])
            fail_msg("element %lld differs", (long long)i);
    free(x), free(o);
}

/* Checks t under all 24 permutations of 0..3 (Heap's algorithm, iterative). */
static void all_perms4(mf_type t)
{
    int64_t p[4] = {0, 1, 2, 3};
    int cnt[4] = {0};
    int seen = 1;
    check_permute_f32(t, p, 0);
    for (int i = 1; i < 4;) {
        if (cnt[i] < i) {
            int j = i % 2 ? cnt[i] : 0;
            int64_t tmp = p[i];
            p[i] = p[j], p[j] = tmp;
            check_permute_f32(t, p, (uint64_t)seen++);
            cnt[i]++;
            i = 1;
        } else {
            cnt[i++] = 0;
        }
    }
    assert_int_equal(seen, 24);
}

static void test_permute_rank4_all(void **state)
{
    all_perms4(TT(MF_F32, 2, 3, 4, 5));
    all_perms4(TT(MF_F32, 1, 3, 1, 2));
}

static void test_permute_rank5_sweep(void **state)
{
    uint64_t st = 21;
    for (int iter = 0; iter < 40; iter++) {
        int64_t p[5] = {0, 1, 2, 3, 4};
        for (int i = 4; i > 0; i--) {
            int j = (int)(tref_next(&st) % (uint64_t)(i + 1));
            int64_t tmp = p[i];
            p[i] = p[j], p[j] = tmp;
        }
        mf_type t = TT(MF_F32, 1, 1, 1, 1, 1);
        for (int d = 0; d < 5; d++)
            t.shape[d] = 1 + (int64_t)(tref_next(&st) % 4);
        check_permute_f32(t, p, st);
    }
}

static void test_permute_negative_entries(void **state)
{
    check_permute_f32(TT(MF_F32, 2, 3, 4), (int64_t[]){-1, 0, -2}, 3);
}

static void test_permute_i64(void **state)
{
    int64_t x[24];
    for (int i = 0; i < 24; i++)
        x[i] = (int64_t)i * 1000000000000LL - 7; /* needs all 8 bytes */
    mf_type t = TT(MF_I64, 2, 3, 4), ot;
    int64_t perm[] = {2, 1, 0};
    int64_t *o = run_permute(3, perm, t, x, &ot);
    assert_int_equal(ot.dtype, MF_I64);
    for (int64_t i = 0; i < 24; i++)
        assert_int_equal(o[i], x[permute_source(&t, perm, &ot, i)]);
    assert_int_equal(o[1], x[12]); /* out[0][0][1] = x[1][0][0] */
    free(o);
}

static void test_permute_f16_bits(void **state)
{
    uint16_t x[] = {0x3c00, 0x4000, 0x4200, 0xc400, 0x7c00, 0x0001}; /* [3, 2] */
    mf_type ot;
    uint16_t *o = run_permute(2, (int64_t[]){1, 0}, TT(MF_F16, 3, 2), x, &ot);
    uint16_t want[] = {0x3c00, 0x4200, 0x7c00, 0x4000, 0xc400, 0x0001};
    assert_memory_equal(o, want, sizeof want);
    free(o);
}

/* ---- concat ------------------------------------------------------------------------------ */

static void *run_concat(int64_t dim, int n, const mf_type *types, const void *const *in,
                        mf_type *ot)
{
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CONCAT, at);
    tref_set_int(MF_OP_CONCAT, at, "dim", dim);
    return tref_run(MF_OP_CONCAT, at, n, types, in, ot);
}

static void test_concat_dim0_and_dim1(void **state)
{
    float a[] = {1, 2, 3, 4}, b[] = {5, 6}; /* [2, 2] and [1, 2] */
    mf_type types[2] = {TT(MF_F32, 2, 2), TT(MF_F32, 1, 2)}, ot;
    const void *in[2] = {a, b};
    float *o = run_concat(0, 2, types, in, &ot);
    assert_int_equal(ot.shape[0], 3);
    TREF_EXPECT(o, 1, 2, 3, 4, 5, 6);
    free(o);
    types[1] = TT(MF_F32, 2, 1); /* [2, 2] and [2, 1] on dim 1 */
    o = run_concat(1, 2, types, in, &ot);
    TREF_EXPECT(o, 1, 2, 5, 3, 4, 6);
    free(o);
}

static void test_concat_single_input(void **state)
{
    float a[] = {1, 2, 3};
    mf_type t = TT(MF_F32, 3), ot;
    const void *in[1] = {a};
    float *o = run_concat(0, 1, &t, in, &ot);
    TREF_EXPECT(o, 1, 2, 3);
    free(o);
}

/* Concatenation by computing, for each output element, which input and where. */
static void check_concat_f32(int n, const mf_type *types, int64_t dim, uint64_t seed)
{
    float *xs[8];
    const void *in[8];
    for (int k = 0; k < n; k++)
        in[k] = xs[k] = tref_rand(mf_type_numel(&types[k]), seed + (uint64_t)k, -1, 1);
    mf_type ot;
    float *o = run_concat(dim, n, types, in, &ot);
    int d = (int)(dim < 0 ? dim + ot.rank : dim);
    for (int64_t i = 0; i < mf_type_numel(&ot); i++) {
        int64_t idx[MF_MAX_RANK] = {0}, rem = i;
        for (int j = ot.rank - 1; j >= 0; j--) {
            idx[j] = rem % ot.shape[j];
            rem /= ot.shape[j];
        }
        int k = 0;
        while (idx[d] >= types[k].shape[d])
            idx[d] -= types[k++].shape[d];
        int64_t src = 0;
        for (int j = 0; j < ot.rank; j++)
            src = src * types[k].shape[j] + idx[j];
        if (o[i] != xs[k][src])
            fail_msg("element %lld differs", (long long)i);
    }
    for (int k = 0; k < n; k++)
        free(xs[k]);
    free(o);
}

static void test_concat_middle_dim_sweep(void **state)
{
    mf_type types[4] = {TT(MF_F32, 2, 3, 4, 5), TT(MF_F32, 2, 1, 4, 5), TT(MF_F32, 2, 7, 4, 5),
                        TT(MF_F32, 2, 2, 4, 5)};
    check_concat_f32(3, types, 1, 1);
    check_concat_f32(4, types, -3, 2);
    for (int k = 0; k < 4; k++)
        types[k].shape[1] = 3, types[k].shape[2] = k + 1;
    check_concat_f32(4, types, 2, 3);
    check_concat_f32(4, types, -2, 4);
    for (int k = 0; k < 4; k++)
        types[k].shape[2] = 4, types[k].shape[3] = 2 * k + 1;
    check_concat_f32(4, types, 3, 5);
}

static void test_concat_i8(void **state)
{
    int8_t a[] = {1, 2, 3, 4}, b[] = {-1, -2}, c[] = {100, -100, 50, -50, 0, 127};
    mf_type types[3] = {TT(MF_I8, 2, 2), TT(MF_I8, 2, 1), TT(MF_I8, 2, 3)}, ot;
    const void *in[3] = {a, b, c};
    int8_t *o = run_concat(-1, 3, types, in, &ot);
    assert_int_equal(ot.dtype, MF_I8);
    assert_int_equal(ot.shape[1], 6);
    int8_t want[] = {1, 2, -1, 100, -100, 50, 3, 4, -2, -50, 0, 127};
    assert_memory_equal(o, want, sizeof want);
    free(o);
}

static void test_concat_empty_input(void **state)
{
    float a[] = {1, 2}, b[1] = {0};
    mf_type types[2] = {TT(MF_F32, 1, 2), TT(MF_F32, 1, 0)}, ot;
    const void *in[2] = {a, b};
    float *o = run_concat(1, 2, types, in, &ot);
    TREF_EXPECT(o, 1, 2);
    free(o);
}

/* ---- upsample ---------------------------------------------------------------------------- */

static void *run_upsample(int64_t sh, int64_t sw, mf_type t, const void *x, mf_type *ot)
{
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_UPSAMPLE_NEAREST2D, at);
    TREF_INTS(MF_OP_UPSAMPLE_NEAREST2D, at, "scale", sh, sw);
    return run1(MF_OP_UPSAMPLE_NEAREST2D, at, t, x, ot);
}

static void test_upsample_literal(void **state)
{
    float x[] = {1, 2, 3, 4};
    mf_type ot;
    float *o = run_upsample(2, 2, TT(MF_F32, 1, 1, 2, 2), x, &ot);
    assert_int_equal(ot.shape[2], 4);
    TREF_EXPECT(o, 1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4);
    free(o);
    o = run_upsample(1, 3, TT(MF_F32, 1, 1, 2, 2), x, &ot);
    TREF_EXPECT(o, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4);
    free(o);
}

static void test_upsample_sweep(void **state)
{
    uint64_t st = 9;
    for (int iter = 0; iter < 30; iter++) {
        int64_t sh = 1 + (int64_t)(tref_next(&st) % 3), sw = 1 + (int64_t)(tref_next(&st) % 4);
        mf_type t = TT(MF_F32, 1 + (int64_t)(tref_next(&st) % 2), 1 + (int64_t)(tref_next(&st) % 3),
                       1 + (int64_t)(tref_next(&st) % 5), 1 + (int64_t)(tref_next(&st) % 5));
        float *x = tref_rand(mf_type_numel(&t), st, -1, 1);
        mf_type ot;
        float *o = run_upsample(sh, sw, t, x, &ot);
        int64_t h = t.shape[2], w = t.shape[3], oh = ot.shape[2], ow = ot.shape[3];
        assert_int_equal(oh, h * sh);
        assert_int_equal(ow, w * sw);
        for (int64_t i = 0; i < mf_type_numel(&ot); i++) {
            int64_t plane = i / (oh * ow), y = i / ow % oh, xx = i % ow;
            int64_t sy = (int64_t)((double)y * h / oh), sx = (int64_t)((double)xx * w / ow);
            int64_t src = plane * h * w + sy * w + sx;
            if (o[i] != x[src])
                fail_msg("element %lld differs", (long long)i);
        }
        free(x), free(o);
    }
}

/* Every element size the layout kernels copy with a typed move (1, 2, 4, 8 bytes): a rank-5
 * permute like yolov3_tiny's head (1,3,85,h,w -> 1,3,h,w,85) and a 2x upsample, byte for
 * byte against the index formulas. */
static void test_layout_every_element_size(void **state)
{
    const mf_dtype dts[] = {MF_I8, MF_F16, MF_F32, MF_I64};
    for (size_t k = 0; k < sizeof dts / sizeof dts[0]; k++) {
        mf_type t = TT(dts[k], 1, 3, 5, 4, 6), ot;
        size_t es = mf_dtype_size(dts[k]);
        int64_t n = mf_type_numel(&t), perm[5] = {0, 1, 3, 4, 2};
        unsigned char *x = malloc((size_t)n * es);
        for (size_t i = 0; i < (size_t)n * es; i++)
            x[i] = (unsigned char)(i * 37 + 11);
        unsigned char *o = run_permute(5, perm, t, x, &ot);
        for (int64_t i = 0; i < n; i++)
            if (memcmp(o + (size_t)i * es, x + (size_t)permute_source(&t, perm, &ot, i) * es, es))
                fail_msg("permute of %s: element %lld differs", mf_dtype_name(dts[k]), (long long)i);
        free(o);
        mf_type u = TT(dts[k], 2, 3, 3, 5);
        o = run_upsample(2, 3, u, x, &ot);
        for (int64_t i = 0; i < mf_type_numel(&ot); i++) {
            int64_t plane = i / (6 * 15), y = i / 15 % 6, xx = i % 15;
            if (memcmp(o + (size_t)i * es, x + (size_t)(plane * 15 + y / 2 * 5 + xx / 3) * es, es))
                fail_msg("upsample of %s: element %lld differs", mf_dtype_name(dts[k]), (long long)i);
        }
        free(o);
        free(x);
    }
}

static void test_upsample_i32(void **state)
{
    int32_t x[] = {7, -8, 2147483647, 0}; /* two planes of 1x2 */
    mf_type ot;
    int32_t *o = run_upsample(2, 1, TT(MF_I32, 1, 2, 1, 2), x, &ot);
    int32_t want[] = {7, -8, 7, -8, 2147483647, 0, 2147483647, 0};
    assert_memory_equal(o, want, sizeof want);
    free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dropout_is_identity),
        cmocka_unit_test(test_flatten),
        cmocka_unit_test(test_reshape),
        cmocka_unit_test(test_permute_transpose),
        cmocka_unit_test(test_permute_rank3_literal),
        cmocka_unit_test(test_permute_rank4_all),
        cmocka_unit_test(test_permute_rank5_sweep),
        cmocka_unit_test(test_permute_negative_entries),
        cmocka_unit_test(test_permute_i64),
        cmocka_unit_test(test_permute_f16_bits),
        cmocka_unit_test(test_concat_dim0_and_dim1),
        cmocka_unit_test(test_concat_single_input),
        cmocka_unit_test(test_concat_middle_dim_sweep),
        cmocka_unit_test(test_concat_i8),
        cmocka_unit_test(test_concat_empty_input),
        cmocka_unit_test(test_upsample_literal),
        cmocka_unit_test(test_upsample_sweep),
        cmocka_unit_test(test_upsample_i32),
        cmocka_unit_test(test_layout_every_element_size),
    };
    return cmocka_run_group_tests_name("ref_layout", tests, NULL, NULL);
}
