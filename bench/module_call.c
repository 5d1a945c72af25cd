/* module_call.c — benchmark: one call of a compiled module from C as the Python package makes
 * it on a NumPy array (bench/python_overhead.py compares the two): copy the input into a cpu
 * tensor, move it to mlu:0, run, move the output back and read it.  Prints the median
 * microseconds of a call over repeats, as JSON.
 *   bench_module_call MODEL.(mfir|onnx) [CALLS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlufuse/mlufuse.h"
#include "support/kernel_timing.h"

static int fail(const char *what)
{
    fprintf(stderr, "bench_module_call: %s: %s\n", what, mf_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_module_call MODEL.(mfir|onnx) [CALLS]\n");
        return 2;
    }
    int calls = argc > 2 ? atoi(argv[2]) : 2000;
    if (calls < 1)
        calls = 1;
    mf_graph *g;
    size_t n = strlen(argv[1]);
    if ((n > 5 && !strcmp(argv[1] + n - 5, ".onnx") ? mf_onnx_load(argv[1], 0, &g) : mf_graph_load(argv[1], &g)))
        return fail(argv[1]);
    mf_dtype dt;
    int rank;
    int64_t shape[MF_MAX_RANK];
    mf_module *m;
    mf_tensor *host;
    if (mf_graph_input_type(g, 0, &dt, &rank, shape) || mf_module_create(g, NULL, &m) ||
        mf_tensor_rand(MF_F32, rank, shape, 1, 0, 1, MF_DEVICE_CPU, &host))
        return fail("setup");
    const void *data = mf_tensor_data(host); /* stands for the NumPy array's memory */
    size_t bytes = mf_tensor_nbytes(host);
    double *t = malloc(sizeof *t * (size_t)calls);
    volatile float sink = 0;
    for (int i = -calls / 10 - 1; i < calls; i++) {
        double t0 = bench_now();
        mf_tensor *x, *xd, *y, *yh;
        if (mf_tensor_from_data(dt, rank, shape, data, bytes, &x) || mf_tensor_to(x, MF_DEVICE_MLU(0), &xd) ||
            mf_module_run(m, 1, &xd, 1, &y) || mf_tensor_to(y, MF_DEVICE_CPU, &yh))
            return fail("run");
        sink += *(const float *)mf_tensor_data(yh);
        mf_tensor_free(x);
        mf_tensor_free(xd);
        mf_tensor_free(y);
        mf_tensor_free(yh);
        if (i >= 0)
            t[i] = (bench_now() - t0) * 1e6;
    }
    qsort(t, (size_t)calls, sizeof *t, bench_cmp_double);
    printf("{\"model\": \"%s\", \"calls\": %d, \"median_us\": %.3f}\n", argv[1], calls, t[calls / 2]);
    free(t);
    mf_tensor_free(host);
    mf_module_destroy(m);
    mf_graph_destroy(g);
    return 0;
}
