/* outside.c — a program outside the build tree, built against an installed mlufuse (with
 * pkg-config and with find_package(mlufuse)) by test_install.c: traces conv2d+relu, compiles
 * it, runs it on mlu:0 and checks the result against the reference interpreter. */
#include <math.h>
#include <stdio.h>

#include <mlufuse/mlufuse.h>

#define CHECK(call)                                                                            \
    do {                                                                                       \
        if ((call) != MF_OK) {                                                                 \
            fprintf(stderr, "outside: %s: %s\n", #call, mf_last_error());                      \
            return 1;                                                                          \
        }                                                                                      \
    } while (0)

int main(void)
{
    mf_tensor *x, *w, *c, *y, *got, *want, *got_cpu, *want_cpu;
    mf_graph *g;
    mf_module *m;
    CHECK(mf_tensor_rand(MF_F32, 4, (int64_t[]){1, 3, 8, 8}, 1, -1, 1, MF_DEVICE_MLU(0), &x));
    CHECK(mf_tensor_rand(MF_F32, 4, (int64_t[]){4, 3, 3, 3}, 2, -1, 1, MF_DEVICE_MLU(0), &w));
    CHECK(mf_trace_begin(1, &x));
    CHECK(mf_conv2d(x, w, NULL, MF_CONV2D_DEFAULT, &c));
    CHECK(mf_relu(c, &y));
    CHECK(mf_trace_end(1, &y, &g));
    CHECK(mf_module_create(g, NULL, &m));
    CHECK(mf_module_run(m, 1, &x, 1, &got));
    CHECK(mf_graph_interpret(g, 1, &x, 1, &want));
    CHECK(mf_tensor_to(got, MF_DEVICE_CPU, &got_cpu));
    CHECK(mf_tensor_to(want, MF_DEVICE_CPU, &want_cpu));
    const float *a = mf_tensor_data(got_cpu), *b = mf_tensor_data(want_cpu);
    double err = 0;
    for (int64_t i = 0; i < mf_tensor_numel(got_cpu); i++)
        err = fmax(err, fabs((double)a[i] - b[i]));
    printf("outside: mlufuse %s, %lld outputs, max error %g\n", mf_version(),
           (long long)mf_tensor_numel(got_cpu), err);
    int rc = err < 1e-4 ? 0 : 1;
    mf_tensor *ts[] = {x, w, c, y, got, want, got_cpu, want_cpu};
    for (int i = 0; i < 8; i++)
        mf_tensor_free(ts[i]);
    mf_module_destroy(m);
    mf_graph_destroy(g);
    return rc;
}
