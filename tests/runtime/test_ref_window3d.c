/* test_ref_window3d.c — the ops over mf_window_of's 1- to 3-D window: max_pool_indices (ONNX
 * MaxPool's Indices: flat positions, first of equal maxima, padding skipped, storage_order 1
 * column-major, 1-D and 3-D), conv_transpose3d against a gather-form formula written
 * independently (uneven pads, output_padding, groups, stride and dilation per dim), the same
 * kernel for conv_transpose2d as depth 1, conv3d of depth 1 against conv2d, conv3d and
 * conv_transpose3d as adjoints, and the shape rules' refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/ref_call.h"

/* max_pool_indices of x (f32, type t) over kernel, stride, pads, dilation 1 to sizes. */
static int64_t *indices(mf_type t, const float *x, int nsp, const int64_t *k, const int64_t *st, const int64_t *pads,
                        const int64_t *sizes, int64_t storage_order)
{
    mf_op op = MF_OP_MAX_POOL_INDICES;
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    int64_t ones[3] = {1, 1, 1};
    tref_set_ints(op, a, "kernel", nsp, k);
    tref_set_ints(op, a, "stride", nsp, st);
    tref_set_ints(op, a, "dilation", nsp, ones);
    tref_set_ints(op, a, "pads", 2 * nsp, pads);
    tref_set_ints(op, a, "sizes", nsp, sizes);
    tref_set_int(op, a, "storage_order", storage_order);
    mf_type ot;
    int64_t *o = tref_run(op, a, 1, &t, (const void *[]){x}, &ot);
    assert_int_equal(ot.dtype, MF_I64);
    return o;
}

static void test_indices_2d(void **state)
{
    const float x[18] = {1, 2, 3, 4, 5, 6, 7, 8, 9, /* plane 1: all equal, the first wins */
                         0, 0, 0, 0, 0, 0, 0, 0, 0};
    int64_t *o = indices(TT(MF_F32, 2, 1, 3, 3), x, 2, (int64_t[]){2, 2}, (int64_t[]){1, 1},
                         (int64_t[]){0, 0, 0, 0}, (int64_t[]){2, 2}, 0);
    assert_memory_equal(o, ((int64_t[]){4, 5, 7, 8, 9, 10, 12, 13}), 8 * sizeof(int64_t));
    free(o);
    o = indices(TT(MF_F32, 1, 1, 3, 3), x, 2, (int64_t[]){2, 2}, (int64_t[]){1, 1}, (int64_t[]){0, 0, 0, 0},
                (int64_t[]){2, 2}, 1); /* column-major: w * H + h */
    assert_memory_equal(o, ((int64_t[]){4, 7, 5, 8}), 4 * sizeof(int64_t));
    free(o);
    o = indices(TT(MF_F32, 1, 1, 3, 3), x, 2, (int64_t[]){2, 2}, (int64_t[]){2, 2}, (int64_t[]){1, 1, 1, 1},
                (int64_t[]){2, 2}, 0); /* the padding is never a position */
    assert_memory_equal(o, ((int64_t[]){0, 2, 6, 8}), 4 * sizeof(int64_t));
    free(o);
}

static void test_indices_1d_and_3d(void **state)
{
    const float x1[8] = {3, 1, 4, 1, 5, 9, 2, 6};
    int64_t *o = indices(TT(MF_F32, 1, 2, 4), x1, 1, (int64_t[]){2}, (int64_t[]){2}, (int64_t[]){0, 0},
                         (int64_t[]){2}, 0);
    assert_memory_equal(o, ((int64_t[]){0, 2, 5, 7}), 4 * sizeof(int64_t));
    free(o);
    const float x3[16] = {5, 1, 2, 7, 0, 3, 6, 4, /* plane 1 */ 1, 1, 1, 1, 1, 1, 8, 1};
    o = indices(TT(MF_F32, 1, 2, 2, 2, 2), x3, 3, (int64_t[]){2, 2, 2}, (int64_t[]){1, 1, 1},
                (int64_t[]){0, 0, 0, 0, 0, 0}, (int64_t[]){1, 1, 1}, 0);
    assert_memory_equal(o, ((int64_t[]){3, 14}), 2 * sizeof(int64_t));
    free(o);
}

/* Transposed conv in gather form: out[z] sums x[i] w[k] over i * s - pb + k * d = z. */
static double gather_at(const float *x, const float *w, const int64_t *in, const int64_t *k, const int64_t *s,
                        const int64_t *d, const int64_t *pb, const int64_t *o, int64_t b, int64_t oc, int64_t cin,
                        int64_t cin_g, int64_t cout_g)
{
    double acc = 0;
    int64_t g = oc / cout_g, j = oc % cout_g;
    for (int64_t ic = g * cin_g; ic < (g + 1) * cin_g; ic++)
        for (int64_t kz = 0; kz < k[0]; kz++)
            for (int64_t ky = 0; ky < k[1]; ky++)
                for (int64_t kx = 0; kx < k[2]; kx++) {
                    int64_t t[3] = {o[0] + pb[0] - kz * d[0], o[1] + pb[1] - ky * d[1], o[2] + pb[2] - kx * d[2]};
                    bool hit = true;
                    for (int q = 0; q < 3; q++)
                        hit = hit && t[q] >= 0 && t[q] % s[q] == 0 && t[q] / s[q] < in[q];
                    if (hit)
                        acc += (double)x[(((b * cin + ic) * in[0] + t[0] / s[0]) * in[1] + t[1] / s[1]) * in[2] +
                                         t[2] / s[2]] *
                               w[(((ic * cout_g + j) * k[0] + kz) * k[1] + ky) * k[2] + kx];
                }
    return acc;
}

static void test_conv_transpose3d(void **state)
{
    int64_t in[3] = {2, 3, 4}, k[3] = {2, 3, 2}, s[3] = {2, 1, 2}, d[3] = {1, 2, 1}, pb[3] = {1, 0, 0},
            pe[3] = {0, 2, 1}, op[3] = {1, 0, 1}, n = 2, cin = 4, cout_g = 3, groups = 2;
    float *x = tref_rand(n * cin * in[0] * in[1] * in[2], 7, -1, 1);
    float *w = tref_rand(cin * cout_g * k[0] * k[1] * k[2], 8, -1, 1), bias[6] = {0.5f, -1, 2, 0, 0.25f, -0.75f};
    mf_op cop = MF_OP_CONV_TRANSPOSE3D;
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(cop, a);
    tref_set_ints(cop, a, "stride", 3, s);
    tref_set_ints(cop, a, "dilation", 3, d);
    tref_set_ints(cop, a, "output_padding", 3, op);
    TREF_INTS(cop, a, "pads", pb[0], pb[1], pb[2], pe[0], pe[1], pe[2]);
    tref_set_int(cop, a, "groups", groups);
    mf_type ot, t[3] = {TT(MF_F32, n, cin, in[0], in[1], in[2]), TT(MF_F32, cin, cout_g, k[0], k[1], k[2]),
                        TT(MF_F32, cout_g * groups)};
    float *y = tref_run(cop, a, 3, t, (const void *[]){x, w, bias}, &ot);
    int64_t o3[3];
    for (int q = 0; q < 3; q++) {
        o3[q] = (in[q] - 1) * s[q] + (k[q] - 1) * d[q] + 1 + op[q] - pb[q] - pe[q];
        assert_int_equal(ot.shape[2 + q], o3[q]);
    }
    int64_t vol = o3[0] * o3[1] * o3[2], total = n * cout_g * groups * vol;
    double *want = malloc(sizeof *want * (size_t)total);
    for (int64_t i = 0; i < total; i++) {
        int64_t b = i / (cout_g * groups * vol), oc = i / vol % (cout_g * groups), r = i % vol;
        int64_t o[3] = {r / (o3[1] * o3[2]), r / o3[2] % o3[1], r % o3[2]};
        want[i] = bias[oc] + gather_at(x, w, in, k, s, d, pb, o, b, oc, cin, cin / groups, cout_g);
    }
    tref_assert_close(y, want, total);
    free(x), free(w), free(y), free(want);
}

/* conv_transpose2d runs the same kernel: it equals conv_transpose3d of depth 1. */
static void test_conv_transpose2d_is_depth_1(void **state)
{
    float *x = tref_rand(2 * 3 * 4, 3, -1, 1), *w = tref_rand(2 * 3 * 3 * 2, 4, -1, 1);
    mf_attr a2[MF_MAX_ATTRS], a3[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CONV_TRANSPOSE2D, a2);
    mf_op_default_attrs(MF_OP_CONV_TRANSPOSE3D, a3);
    TREF_INTS(MF_OP_CONV_TRANSPOSE2D, a2, "stride", 2, 3);
    TREF_INTS(MF_OP_CONV_TRANSPOSE2D, a2, "padding", 1, 1);
    TREF_INTS(MF_OP_CONV_TRANSPOSE3D, a3, "stride", 1, 2, 3);
    TREF_INTS(MF_OP_CONV_TRANSPOSE3D, a3, "pads", 0, 1, 1, 0, 1, 1);
    mf_type o2, o3, t2[2] = {TT(MF_F32, 1, 2, 3, 4), TT(MF_F32, 2, 3, 3, 2)},
                    t3[2] = {TT(MF_F32, 1, 2, 1, 3, 4), TT(MF_F32, 2, 3, 1, 3, 2)};
    float *y2 = tref_run(MF_OP_CONV_TRANSPOSE2D, a2, 2, t2, (const void *[]){x, w}, &o2);
    float *y3 = tref_run(MF_OP_CONV_TRANSPOSE3D, a3, 2, t3, (const void *[]){x, w}, &o3);
    assert_int_equal(mf_type_numel(&o2), mf_type_numel(&o3));
    assert_memory_equal(y2, y3, (size_t)mf_type_numel(&o2) * sizeof(float));
    free(x), free(w), free(y2), free(y3);
}

/* conv3d of depth 1 is conv2d (the reference oracle), groups, stride and dilation included. */
static void test_conv3d_depth_1(void **state)
{
    float *x = tref_rand(4 * 5 * 6, 5, -1, 1), *w = tref_rand(6 * 2 * 3 * 3, 6, -1, 1);
    float bias[6] = {1, 2, 3, -1, -2, -3};
    mf_attr a2[MF_MAX_ATTRS], a3[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CONV2D, a2);
    mf_op_default_attrs(MF_OP_CONV3D, a3);
    TREF_INTS(MF_OP_CONV2D, a2, "stride", 2, 1);
    TREF_INTS(MF_OP_CONV2D, a2, "padding", 1, 1);
    TREF_INTS(MF_OP_CONV2D, a2, "dilation", 1, 2);
    tref_set_int(MF_OP_CONV2D, a2, "groups", 2);
    TREF_INTS(MF_OP_CONV3D, a3, "stride", 1, 2, 1);
    TREF_INTS(MF_OP_CONV3D, a3, "pads", 0, 1, 1, 0, 1, 1);
    TREF_INTS(MF_OP_CONV3D, a3, "dilation", 1, 1, 2);
    tref_set_int(MF_OP_CONV3D, a3, "groups", 2);
    mf_type o2, o3, t2[3] = {TT(MF_F32, 1, 4, 5, 6), TT(MF_F32, 6, 2, 3, 3), TT(MF_F32, 6)},
                    t3[3] = {TT(MF_F32, 1, 4, 1, 5, 6), TT(MF_F32, 6, 2, 1, 3, 3), TT(MF_F32, 6)};
    float *y2 = tref_run(MF_OP_CONV2D, a2, 3, t2, (const void *[]){x, w, bias}, &o2);
    float *y3 = tref_run(MF_OP_CONV3D, a3, 3, t3, (const void *[]){x, w, bias}, &o3);
    int64_t n = mf_type_numel(&o2);
    assert_int_equal(n, mf_type_numel(&o3));
    double *want = malloc(sizeof *want * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        want[i] = y2[i];
    tref_assert_close(y3, want, n);
    free(x), free(w), free(y2), free(y3), free(want);
}

/* conv3d and conv_transpose3d are adjoint: <conv(x, w), y> = <x, conv_transpose(y, w)> for one
 * geometry and one weight ([Cout, Cin, ...] for the conv is [Cin, Cout, ...] for its transpose). */
static void test_conv3d_adjoint(void **state)
{
    float *x = tref_rand(2 * 125, 9, -1, 1), *w = tref_rand(3 * 2 * 27, 10, -1, 1), *y = tref_rand(3 * 27, 11, -1, 1);
    mf_attr ac[MF_MAX_ATTRS], at[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CONV3D, ac);
    mf_op_default_attrs(MF_OP_CONV_TRANSPOSE3D, at);
    TREF_INTS(MF_OP_CONV3D, ac, "stride", 2, 2, 2);
    TREF_INTS(MF_OP_CONV3D, ac, "pads", 1, 1, 1, 1, 1, 1);
    TREF_INTS(MF_OP_CONV_TRANSPOSE3D, at, "stride", 2, 2, 2);
    TREF_INTS(MF_OP_CONV_TRANSPOSE3D, at, "pads", 1, 1, 1, 1, 1, 1);
    mf_type oc, ot, tc[2] = {TT(MF_F32, 1, 2, 5, 5, 5), TT(MF_F32, 3, 2, 3, 3, 3)},
                    tt[2] = {TT(MF_F32, 1, 3, 3, 3, 3), TT(MF_F32, 3, 2, 3, 3, 3)};
    float *cx = tref_run(MF_OP_CONV3D, ac, 2, tc, (const void *[]){x, w}, &oc);
    float *ty = tref_run(MF_OP_CONV_TRANSPOSE3D, at, 2, tt, (const void *[]){y, w}, &ot);
    assert_int_equal(mf_type_numel(&oc), 81);
    assert_int_equal(mf_type_numel(&ot), 250);
    double lhs = 0, rhs = 0;
    for (int i = 0; i < 81; i++)
        lhs += (double)cx[i] * y[i];
    for (int i = 0; i < 250; i++)
        rhs += (double)x[i] * ty[i];
    tref_assert_close((float[]){(float)lhs}, (double[]){rhs}, 1);
    free(x), free(w), free(y), free(cx), free(ty);
}

static void test_refusals(void **state)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_type ot, x2 = TT(MF_F32, 4, 4), x4 = TT(MF_F32, 1, 1, 4, 4);
    mf_op_default_attrs(MF_OP_MAX_POOL_INDICES, a);
    TREF_INTS(MF_OP_MAX_POOL_INDICES, a, "kernel", 2, 2);
    TREF_INTS(MF_OP_MAX_POOL_INDICES, a, "stride", 1, 1);
    TREF_INTS(MF_OP_MAX_POOL_INDICES, a, "dilation", 1, 1);
    TREF_INTS(MF_OP_MAX_POOL_INDICES, a, "pads", 0, 0, 0, 0);
    TREF_INTS(MF_OP_MAX_POOL_INDICES, a, "sizes", 3, 3);
    assert_int_equal(mf_op_infer(MF_OP_MAX_POOL_INDICES, a, 1, &x2, &ot), MF_ERR_SHAPE); /* no spatial dims */
    assert_int_equal(mf_op_infer(MF_OP_MAX_POOL_INDICES, a, 1, &x4, &ot), MF_OK);
    TREF_INTS(MF_OP_MAX_POOL_INDICES, a, "sizes", 9, 3); /* windows past the input: padding only */
    assert_int_equal(mf_op_infer(MF_OP_MAX_POOL_INDICES, a, 1, &x4, &ot), MF_ERR_SHAPE);
    TREF_INTS(MF_OP_MAX_POOL_INDICES, a, "pads", 0, 0, 0);
    assert_int_equal(mf_op_infer(MF_OP_MAX_POOL_INDICES, a, 1, &x4, &ot), MF_ERR_INVALID);
    mf_op_default_attrs(MF_OP_CONV_TRANSPOSE3D, a);
    TREF_INTS(MF_OP_CONV_TRANSPOSE3D, a, "output_padding", 0, 1, 0);
    mf_type t[2] = {TT(MF_F32, 1, 2, 2, 2, 2), TT(MF_F32, 2, 1, 2, 2, 2)};
    assert_int_equal(mf_op_infer(MF_OP_CONV_TRANSPOSE3D, a, 2, t, &ot), MF_ERR_INVALID); /* >= stride 1 */
    mf_op_default_attrs(MF_OP_CONV_TRANSPOSE3D, a);
    t[1] = TT(MF_F32, 3, 1, 2, 2, 2);
    assert_int_equal(mf_op_infer(MF_OP_CONV_TRANSPOSE3D, a, 2, t, &ot), MF_ERR_SHAPE); /* channels */
    t[1] = TT(MF_F32, 2, 1, 2, 2);
    assert_int_equal(mf_op_infer(MF_OP_CONV_TRANSPOSE3D, a, 2, t, &ot), MF_ERR_SHAPE); /* rank */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_indices_2d),          cmocka_unit_test(test_indices_1d_and_3d),
        cmocka_unit_test(test_conv_transpose3d),    cmocka_unit_test(test_conv_transpose2d_is_depth_1),
        cmocka_unit_test(test_conv3d_depth_1),      cmocka_unit_test(test_conv3d_adjoint),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
