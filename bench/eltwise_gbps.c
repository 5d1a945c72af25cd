/* eltwise_gbps.c — bandwidth of a compiled elementwise chain,
 * sigmoid(x*1.5+0.25)*tanh(x) - relu(x)/3 on 1x64x112x112, in GB/s (bytes read + written)
 * against a plain memcpy of the same bytes, 1 thread and nparts=2 on 2 threads, and the
 * fastest of 200 single launches on 1 thread (wall time, whatever BENCH_CPU_TIME says).
 * `bench_eltwise_gbps --cpu NAME` compiles for an LLVM CPU (e.g. haswell) instead of the host;
 * the host must be able to run that CPU's code.  BENCH_CPU_TIME=1 times one thread in CPU
 * time (kernel_timing.h), for a shared machine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "support/bench_args.h"
#include "support/kernel_timing.h"


static mf_value *node(mf_graph *g, mf_op op, int n, mf_value *a, mf_value *b)
{
    mf_node *nd;
    mf_value *in[2] = {a, b};
    if (mf_graph_add_node(g, op, n, in, NULL, &nd)) {
        fprintf(stderr, "%s\n", mf_last_error());
        exit(1);
    }
    return nd->outputs[0];
}

int main(int argc, char **argv)
{
    static mf_cg_target named;
    mf_cg_options opts = {NULL, 3, 0};
    if (!bench_cpu_arg(argc, argv, &named, &opts.target))
        return 2;
    mf_graph *g = mf_graph_new("chain");
    mf_type xt = {MF_F32, 4, {1, 64, 112, 112}}, one = {MF_F32, 1, {1}};
    mf_value *x = mf_graph_add_input(g, "x", &xt), *k = mf_graph_add_input(g, "k", &one);
    mf_value *b = mf_graph_add_input(g, "b", &one), *three = mf_graph_add_input(g, "t", &one);
    mf_value *s = node(g, MF_OP_SIGMOID, 1, node(g, MF_OP_ADD, 2, node(g, MF_OP_MUL, 2, x, k), b), NULL);
    mf_value *t = node(g, MF_OP_MUL, 2, s, node(g, MF_OP_TANH, 1, x, NULL));
    mf_value *y = node(g, MF_OP_SUB, 2, t, node(g, MF_OP_DIV, 2, node(g, MF_OP_RELU, 1, x, NULL), three));
    mf_graph_set_outputs(g, 1, &y);
    mf_cg_object obj;
    mf_kernel_fn fn;
    if (mf_cg_compile(g, &opts, &obj) || mf_cg_load(&obj, &fn)) {
        fprintf(stderr, "compile: %s\n", mf_last_error());
        return 1;
    }
    size_t n = (size_t)mf_type_numel(&xt), bytes = 2 * n * sizeof(float);
    float *in = malloc(n * sizeof(float)), *out = malloc(n * sizeof(float));
    float kk = 1.5f, bb = 0.25f, tt = 3.0f;
    for (size_t i = 0; i < n; i++)
        in[i] = (float)(i % 1000) / 250.0f - 2.0f;
    memset(out, 0, n * sizeof(float));
    void *args[5] = {out, in, &kk, &bb, &tt};
    int reps = 50;
    fn((void *const *)args, 0, 1);
    double t1 = bench_time_threads(fn, args, 1, reps), t2 = bench_time_threads(fn, args, 2, reps);
    double t0 = bench_now();
    for (int r = 0; r < reps; r++) {
        memcpy(out, in, n * sizeof(float));
        __asm__ volatile("" ::: "memory");
    }
    double tm = (bench_now() - t0) / reps;
    double fastest = 1e9; /* of single launches: what a noisy shared machine can still compare */
    for (int r = 0; r < 4 * reps; r++) {
        double a = bench_now();
        fn((void *const *)args, 0, 1);
        double d = bench_now() - a;
        fastest = d < fastest ? d : fastest;
    }
    printf("eltwise chain 1x64x112x112 (%s): %.3f ms (fastest %.3f)  1 thread %.1f GB/s  "
           "2 threads %.1f GB/s  memcpy %.1f GB/s  (compile %.1f ms)\n",
           opts.target ? opts.target->cpu : "host", t1 * 1e3, fastest * 1e3, bytes / t1 * 1e-9,
           bytes / t2 * 1e-9, bytes / tm * 1e-9, obj.compile_ms);
    mf_cg_object_free(&obj);
    free(in), free(out);
    mf_graph_destroy(g);
    return 0;
}
