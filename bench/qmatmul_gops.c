/* qmatmul_gops.c — throughput of the int8 matmul of two activations (qmatmul,
 * codegen/lower_qmatmul.c) against the f32 matmul of the same shapes, in GOP/s (a multiply
 * and an add per product), one thread, compiled for core_number 1: attention-sized products
 * and a few squares.  `bench_qmatmul_gops --cpu NAME` compiles for an LLVM CPU (e.g. haswell)
 * instead of the host, which must run that CPU's code.  Each figure is the best of 7 rounds
 * (the int8 and f32 kernels alternate within a round), so a shared machine's load counts
 * little; BENCH_CPU_TIME=1 times CPU time instead of the wall clock. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "mlufuse/mlufuse.h"
#include "support/bench_args.h"
#include "support/kernel_timing.h"

static const mf_cg_target *target; /* NULL: the host */

/* The kernel of op(a, b) for a [batch, m, k] and b [batch, k, n] of dtype dt. */
static mf_kernel_fn kernel_of(mf_op op, mf_dtype dt, const int64_t s[4], mf_cg_object *obj)
{
    mf_graph *g = mf_graph_new("bench");
    mf_type at = {.dtype = dt, .rank = 3, .shape = {s[0], s[1], s[2]}}, bt = {.dtype = dt, .rank = 3, .shape = {s[0], s[2], s[3]}};
    mf_value *in[2] = {mf_graph_add_input(g, "a", &at), mf_graph_add_input(g, "b", &bt)};
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    if (op == MF_OP_QMATMUL) {
        mf_attr_set_float(op, a, "a_scale", 0.02);
        mf_attr_set_int(op, a, "a_zero_point", -7);
        mf_attr_set_float(op, a, "b_scale", 0.03);
        mf_attr_set_int(op, a, "b_zero_point", 5);
        mf_attr_set_float(op, a, "y_scale", 0.5);
    }
    mf_node *n;
    mf_kernel_fn fn = NULL;
    mf_cg_options one = {target, 3, 1};
    if (mf_graph_add_node(g, op, 2, in, a, &n) || mf_graph_set_outputs(g, 1, n->outputs) ||
        mf_cg_compile(g, &one, obj) || mf_cg_load(obj, &fn))
        fprintf(stderr, "%s: %s\n", mf_op_get(op)->name, mf_last_error());
    mf_graph_destroy(g);
    return fn;
}

/* Seconds per call: the best of 7 rounds of enough calls for about 20 ms each. */
static double best_time(mf_kernel_fn fn, void **args, int reps)
{
    return bench_time_threads(fn, args, 1, reps);
}

int main(int argc, char **argv)
{
    const mf_cg_target *t = bench_target_arg(argc, argv, &target);
    if (!t)
        return 2;
    printf("target %s (%d lanes, vnni %d), one thread; GOP/s = 2 batch m k n / time\n", t->cpu, t->shape.lanes,
           t->shape.vnni);
    printf("%-22s %10s %10s %8s\n", "batch x m x k x n", "int8", "f32", "ratio");
    static const int64_t sizes[][4] = {{8, 128, 64, 128}, {8, 128, 128, 64}, {1, 128, 128, 128},
                                       {1, 256, 256, 256}, {1, 512, 512, 512}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        const int64_t *s = sizes[i];
        mf_cg_object oq, of;
        mf_kernel_fn fq = kernel_of(MF_OP_QMATMUL, MF_I8, s, &oq), ff = kernel_of(MF_OP_MATMUL, MF_F32, s, &of);
        if (!fq || !ff)
            return 1;
        size_t na = (size_t)(s[0] * s[1] * s[2]), nb = (size_t)(s[0] * s[2] * s[3]), ny = (size_t)(s[0] * s[1] * s[3]);
        void *qa[3] = {bench_filled(ny, 0), bench_filled(na, 1), bench_filled(nb, 2)};
        float *fa = bench_filled(4 * na, 3), *fb = bench_filled(4 * nb, 4);
        for (size_t j = 0; j < na; j++)
            fa[j] = (float)(j % 17) / 17.0f;
        for (size_t j = 0; j < nb; j++)
            fb[j] = (float)(j % 13) / 13.0f;
        void *fargs[3] = {bench_filled(4 * ny, 5), fa, fb};
        double ops = 2.0 * (double)s[0] * (double)s[1] * (double)s[2] * (double)s[3];
        int reps = (int)(2e7 / ops) + 1;
        double bq = 1e30, bf = 1e30;
        for (int r = 0; r < 7; r++) {
            double x = best_time(fq, qa, reps), y = best_time(ff, fargs, reps);
            bq = x < bq ? x : bq, bf = y < bf ? y : bf;
        }
        char name[64];
        snprintf(name, sizeof name, "%lld x %lld x %lld x %lld", (long long)s[0], (long long)s[1], (long long)s[2],
                 (long long)s[3]);
        printf("%-22s %10.1f %10.1f %7.2fx\n", name, ops / bq * 1e-9, ops / bf * 1e-9, bf / bq);
        for (int j = 0; j < 3; j++)
            free(qa[j]), free(fargs[j]);
        mf_cg_object_free(&oq);
        mf_cg_object_free(&of);
    }
    return 0;
}
