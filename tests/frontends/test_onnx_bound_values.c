/* test_onnx_bound_values.c — ops whose output shape depends on a value known at import
 * (OneHot's depth, a window's size), bound with mf_onnx_load_bound on the shared ONNX node
 * tests' models: a good value gives the shape it names; NaN, negative, zero or huge values
 * are errors naming the value, never an undefined conversion or a giant allocation; the
 * value left a graph input is refused naming what to bind. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mlufuse/mlufuse.h"
#include "tests/support/tool_run.h"

static void model_path(const char *test, char *path, size_t cap)
{
    snprintf(path, cap, "%s/onnx-node-tests/node/%s/model.onnx", tsupport_shared_dir(), test);
}

/* Loads test's model with input `name` bound to a tensor of dt holding v (rank 0, or [n]). */
static mf_status load_with(const char *test, const char *name, mf_dtype dt, int rank, const int64_t *shape,
                           const void *v, size_t nbytes, mf_graph **g)
{
    char path[1024];
    mf_tensor *t;
    model_path(test, path, sizeof path);
    assert_int_equal(mf_tensor_from_data(dt, rank, shape, v, nbytes, &t), MF_OK);
    mf_status s = mf_onnx_load_bound(path, 0, 1, (const char *[]){name}, (mf_tensor *[]){t}, g);
    mf_tensor_free(t);
    return s;
}

static void test_window_size(void **state)
{
    mf_graph *g = NULL;
    const int32_t ok = 7, bad[] = {-1, INT32_MAX};
    assert_int_equal(load_with("test_hannwindow", "x", MF_I32, 0, NULL, &ok, sizeof ok, &g), MF_OK);
    assert_int_equal(mf_graph_num_inputs(g), 0);
    mf_graph_destroy(g);
    for (size_t i = 0; i < 2; i++) {
        g = NULL;
        assert_int_equal(load_with("test_hannwindow", "x", MF_I32, 0, NULL, &bad[i], sizeof bad[i], &g), MF_ERR_INVALID);
        assert_non_null(strstr(mf_last_error(), "a window of"));
        assert_null(g);
    }
    char path[1024];
    model_path("test_hannwindow", path, sizeof path);
    assert_int_equal(mf_onnx_load(path, 0, &g), MF_ERR_UNSUPPORTED);
    assert_non_null(strstr(mf_last_error(), "the size must be a constant"));
}

/* depth and values bound; depth of each bad value is refused naming it. */
static void test_one_hot_depth(void **state)
{
    char path[1024];
    model_path("test_onehot_without_axis", path, sizeof path);
    const float depths[] = {12, NAN, 1e30f, 0, -3};
    const int32_t values[2] = {0, 1};
    for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++) {
        mf_tensor *d, *v;
        mf_graph *g = NULL;
        assert_int_equal(mf_tensor_from_data(MF_F32, 0, NULL, &depths[i], sizeof depths[i], &d), MF_OK);
        assert_int_equal(mf_tensor_from_data(MF_I32, 1, (int64_t[]){2}, values, sizeof values, &v), MF_OK);
        mf_status s = mf_onnx_load_bound(path, 0, 2, (const char *[]){"depth", "values"}, (mf_tensor *[]){d, v}, &g);
        mf_tensor_free(d);
        mf_tensor_free(v);
        if (i == 0) {
            assert_int_equal(s, MF_OK);
            assert_int_equal(mf_graph_num_inputs(g), 1); /* the indices */
            mf_graph_destroy(g);
            continue;
        }
        assert_int_equal(s, MF_ERR_INVALID);
        assert_non_null(strstr(mf_last_error(), "depth"));
        assert_null(g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_size),
        cmocka_unit_test(test_one_hot_depth),
    };
    return cmocka_run_group_tests_name("onnx_bound_values", tests, NULL, NULL);
}
