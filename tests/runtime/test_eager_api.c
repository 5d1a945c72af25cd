/* test_eager_api.c — the layer-by-layer API: results of a few ops through the public
 * functions (the kernels themselves are tested in test_ref_*), and the error contract:
 * bad calls return a status whose message names the op, the shapes and the reason, and
 * produce nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "mlufuse/mlufuse.h"

static mf_tensor *vec(int n, const float *v)
{
    mf_tensor *t;
    int64_t shape[] = {n};
    assert_int_equal(mf_tensor_from_data(MF_F32, 1, shape, v, sizeof(float) * (size_t)n, &t), MF_OK);
    return t;
}

static mf_tensor *mat(int64_t r, int64_t c, uint64_t seed)
{
    mf_tensor *t;
    assert_int_equal(mf_tensor_rand(MF_F32, 2, (int64_t[]){r, c}, seed, -1, 1, MF_DEVICE_CPU, &t), MF_OK);
    return t;
}

static void test_add_alpha_and_scalars(void **state)
{
    mf_tensor *a = vec(3, (float[]){1, 2, 3}), *b = vec(3, (float[]){10, 20, 30}), *y, *z;
    assert_int_equal(mf_add(a, b, 0.5, &y), MF_OK);
    const float *p = mf_tensor_data(y);
    assert_true(p[0] == 6 && p[1] == 12 && p[2] == 18);
    assert_int_equal(mf_sub(a, b, 2, &z), MF_OK);
    p = mf_tensor_data(z);
    assert_true(p[0] == -19 && p[2] == -57);
    mf_tensor_free(y);
    mf_tensor_free(z);
    assert_int_equal(mf_mul_scalar(a, 1.5, &y), MF_OK);
    assert_int_equal(mf_add_scalar(y, 0.25, &z), MF_OK);
    p = mf_tensor_data(z);
    assert_true(p[0] == 1.75f && p[1] == 3.25f && p[2] == 4.75f);
    mf_tensor_free(y);
    mf_tensor_free(z);
    mf_tensor_free(a);
    mf_tensor_free(b);
}

static void test_ops_on_mlu_match_cpu(void **state)
{
    mf_tensor *x = mat(4, 8, 3), *w = mat(5, 8, 4), *xd, *wd, *y_cpu, *y_dev, *y_back;
    assert_int_equal(mf_tensor_to(x, MF_DEVICE_MLU(0), &xd), MF_OK);
    assert_int_equal(mf_tensor_to(w, MF_DEVICE_MLU(0), &wd), MF_OK);
    assert_int_equal(mf_linear(x, w, NULL, &y_cpu), MF_OK);
    assert_int_equal(mf_linear(xd, wd, NULL, &y_dev), MF_OK);
    assert_int_equal(mf_tensor_device(y_dev).type, MF_MLU);
    assert_int_equal(mf_tensor_to(y_dev, MF_DEVICE_CPU, &y_back), MF_OK);
    const float *a = mf_tensor_data(y_cpu), *b = mf_tensor_data(y_back);
    for (int i = 0; i < 20; i++) /* the mlu runs a compiled kernel: equal within float rounding */
        assert_true(fabsf(a[i] - b[i]) <= 1e-5f * (1 + fabsf(a[i])));
    mf_tensor *all[] = {x, w, xd, wd, y_cpu, y_dev, y_back};
    for (int i = 0; i < 7; i++)
        mf_tensor_free(all[i]);
}

static void test_shape_mismatch_names_op_and_shapes(void **state)
{
    mf_tensor *a = mat(2, 3, 1), *b = mat(4, 3, 2), *y = (mf_tensor *)0x1;
    assert_int_equal(mf_add(a, b, 1, &y), MF_ERR_SHAPE);
    assert_null(y);
    assert_non_null(strstr(mf_last_error(), "add(f32[2,3], f32[4,3])"));
    assert_non_null(strstr(mf_last_error(), "broadcast"));
    assert_int_equal(mf_matmul(a, b, &y), MF_ERR_SHAPE);
    assert_non_null(strstr(mf_last_error(), "matmul(f32[2,3], f32[4,3]): inner dims differ"));
    mf_tensor_free(a);
    mf_tensor_free(b);
}

static void test_conv_errors(void **state)
{
    mf_tensor *x, *w, *y = NULL;
    assert_int_equal(mf_tensor_zeros(MF_F32, 4, (int64_t[]){1, 3, 8, 8}, MF_DEVICE_CPU, &x), MF_OK);
    assert_int_equal(mf_tensor_zeros(MF_F32, 4, (int64_t[]){4, 2, 3, 3}, MF_DEVICE_CPU, &w), MF_OK);
    assert_int_equal(mf_conv2d(x, w, NULL, MF_CONV2D_DEFAULT, &y), MF_ERR_SHAPE);
    assert_non_null(strstr(mf_last_error(), "conv2d(f32[1,3,8,8], f32[4,2,3,3])"));
    mf_conv2d_params p = MF_CONV2D_DEFAULT;
    p.stride[0] = 0;
    assert_int_equal(mf_conv2d(x, w, NULL, p, &y), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "stride"));
    p = MF_CONV2D_DEFAULT;
    p.groups = 0;
    assert_int_equal(mf_conv2d(x, w, NULL, p, &y), MF_ERR_INVALID);
    assert_null(y);
    mf_tensor_free(x);
    mf_tensor_free(w);
}

static void test_dtype_device_and_null_errors(void **state)
{
    mf_tensor *i, *f = mat(2, 2, 1), *d, *y = NULL;
    assert_int_equal(mf_tensor_zeros(MF_I32, 2, (int64_t[]){2, 2}, MF_DEVICE_CPU, &i), MF_OK);
    assert_int_equal(mf_relu(i, &y), MF_ERR_DTYPE);
    assert_non_null(strstr(mf_last_error(), "relu(i32[2,2]): input 0 is i32, expected f32"));
    assert_int_equal(mf_tensor_to(f, MF_DEVICE_MLU(0), &d), MF_OK);
    assert_int_equal(mf_mul(f, d, &y), MF_ERR_DEVICE);
    assert_non_null(strstr(mf_last_error(), "mul(f32[2,2]@cpu:0, f32[2,2]@mlu:0)"));
    assert_int_equal(mf_relu(NULL, &y), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "relu: input 0 is NULL"));
    assert_int_equal(mf_relu(f, NULL), MF_ERR_INVALID);
    assert_int_equal(mf_softmax(f, 2, &y), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "dim 2 is out of range"));
    assert_int_equal(mf_reshape(f, 2, (int64_t[]){3, -1}, &y), MF_ERR_SHAPE);
    assert_int_equal(mf_transpose(f, 0, 5, &y), MF_ERR_INVALID);
    assert_null(y);
    mf_tensor *b;
    assert_int_equal(mf_tensor_zeros(MF_BOOL, 1, (int64_t[]){2}, MF_DEVICE_CPU, &b), MF_OK);
    assert_int_equal(mf_add(b, b, 1, &y), MF_ERR_DTYPE); /* said "input 1 is bool, expected bool" */
    assert_non_null(strstr(mf_last_error(), "input 0 is bool, expected a numeric dtype"));
    mf_tensor_free(b);
    mf_tensor_free(i);
    mf_tensor_free(f);
    mf_tensor_free(d);
}

static void test_relu6_hardtanh_are_clamps(void **state)
{
    mf_tensor *x = vec(4, (float[]){-3, 0.5f, 7, 2}), *a, *b;
    assert_int_equal(mf_relu6(x, &a), MF_OK);
    assert_int_equal(mf_hardtanh(x, -1, 1, &b), MF_OK);
    const float *p = mf_tensor_data(a), *q = mf_tensor_data(b);
    assert_true(p[0] == 0 && p[1] == 0.5f && p[2] == 6 && p[3] == 2);
    assert_true(q[0] == -1 && q[1] == 0.5f && q[2] == 1 && q[3] == 1);
    mf_tensor_free(x);
    mf_tensor_free(a);
    mf_tensor_free(b);
}

/* A cpu tensor of device tensor t (synchronizes); t is freed. */
static mf_tensor *to_cpu(mf_tensor *t)
{
    mf_tensor *h;
    assert_int_equal(mf_tensor_to(t, MF_DEVICE_CPU, &h), MF_OK);
    mf_tensor_free(t);
    return h;
}

/* cast on the cpu (reference kernel) and on an mlu (f32 to f32: the compiled kernel; other
 * dtypes: the reference kernel on the queue) gives the same bytes. */
static void test_cast_cpu_and_mlu(void **state)
{
    const float xs[] = {-2.75f, -0.5f, 0.0f, 1.5f, 300.25f, NAN};
    mf_tensor *x = vec(6, xs), *xd, *t[2][4];
    assert_int_equal(mf_tensor_to(x, MF_DEVICE_MLU(0), &xd), MF_OK);
    for (int dev = 0; dev < 2; dev++) {
        mf_tensor *in = dev ? xd : x;
        assert_int_equal(mf_cast(in, MF_I32, &t[dev][0]), MF_OK);
        assert_int_equal(mf_cast(t[dev][0], MF_BOOL, &t[dev][1]), MF_OK);
        assert_int_equal(mf_cast(in, MF_F16, &t[dev][2]), MF_OK);
        assert_int_equal(mf_cast(in, MF_F32, &t[dev][3]), MF_OK);
        for (int k = 0; k < 4; k++) {
            assert_int_equal(mf_tensor_device(t[dev][k]).type, dev ? MF_MLU : MF_CPU);
            assert_int_equal(mf_tensor_rank(t[dev][k]), 1);
            assert_int_equal(mf_tensor_dim(t[dev][k], 0), 6);
            if (dev)
                t[dev][k] = to_cpu(t[dev][k]);
        }
    }
    const mf_dtype dts[4] = {MF_I32, MF_BOOL, MF_F16, MF_F32};
    for (int k = 0; k < 4; k++) {
        assert_int_equal(mf_tensor_dtype(t[0][k]), dts[k]);
        assert_int_equal(mf_tensor_dtype(t[1][k]), dts[k]);
        assert_memory_equal(mf_tensor_data(t[0][k]), mf_tensor_data(t[1][k]), mf_tensor_nbytes(t[0][k]));
    }
    const int32_t want_i[] = {-2, 0, 0, 1, 300, 0};
    const uint8_t want_b[] = {1, 0, 0, 1, 1, 0};
    const uint16_t want_h[] = {0xc180, 0xb800, 0x0000, 0x3e00, 0x5cb1, 0x7e00};
    assert_memory_equal(mf_tensor_data(t[0][0]), want_i, sizeof want_i);
    assert_memory_equal(mf_tensor_data(t[0][1]), want_b, sizeof want_b);
    assert_memory_equal(mf_tensor_data(t[0][2]), want_h, sizeof want_h);
    assert_memory_equal(mf_tensor_data(t[0][3]), xs, sizeof xs);
    for (int dev = 0; dev < 2; dev++)
        for (int k = 0; k < 4; k++)
            mf_tensor_free(t[dev][k]);
    mf_tensor_free(x);
    mf_tensor_free(xd);
}

static void test_cast_errors(void **state)
{
    mf_tensor *x = vec(3, (float[]){1, 2, 3}), *y = (mf_tensor *)0x1;
    assert_int_equal(mf_cast(x, (mf_dtype)MF_DTYPE_COUNT, &y), MF_ERR_INVALID);
    assert_null(y);
    assert_non_null(strstr(mf_last_error(), "cast(f32[3]): to = 13 is not a dtype"));
    assert_int_equal(mf_cast(x, (mf_dtype)100, &y), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "cast(f32[3]): to = 100 is not a dtype"));
    assert_int_equal(mf_cast(NULL, MF_I32, &y), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "cast: input 0 is NULL"));
    assert_int_equal(mf_cast(x, MF_I32, NULL), MF_ERR_INVALID);
    mf_tensor_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_alpha_and_scalars),
        cmocka_unit_test(test_ops_on_mlu_match_cpu),
        cmocka_unit_test(test_shape_mismatch_names_op_and_shapes),
        cmocka_unit_test(test_conv_errors),
        cmocka_unit_test(test_dtype_device_and_null_errors),
        cmocka_unit_test(test_relu6_hardtanh_are_clamps),
        cmocka_unit_test(test_cast_cpu_and_mlu),
        cmocka_unit_test(test_cast_errors),
    };
    return cmocka_run_group_tests_name("eager_api", tests, NULL, NULL);
}
