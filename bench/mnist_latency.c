/* mnist_latency.c — the seed's MNIST network on mlu:0, layer by layer (one-op kernels from
 * the map) against fused (the traced graph compiled into subgraph kernels), median latency
 * of repeated runs at batch 1 and 8; also the compile time per kernel and the per-run
 * overhead of a module whose kernels are all built (a one-op graph on 1 element).
 *     build/bench_mnist_latency [runs]
 * Compare with PyTorch: /usr/bin/python3 ../shared/bench/peers.py ../shared/models/mnist_net */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "models/mnist.h"
#include "support/bench_check.h"


static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of runs of fn, each ending with the result read back to the host. */
typedef mf_status (*run_fn)(void *ctx, mf_tensor **out);

static double median_us(run_fn fn, void *ctx, int runs)
{
    double *t = malloc(sizeof *t * (size_t)runs);
    for (int i = -3; i < runs; i++) {
        mf_tensor *out, *host;
        double t0 = now_us();
        BENCH_CHECK(fn(ctx, &out));
        BENCH_CHECK(mf_tensor_to(out, MF_DEVICE_CPU, &host));
        if (i >= 0)
            t[i] = now_us() - t0;
        mf_tensor_free(out);
        mf_tensor_free(host);
    }
    qsort(t, (size_t)runs, sizeof *t, cmp);
    double m = t[runs / 2];
    free(t);
    return m;
}

typedef struct ctx {
    mnist_net *net;
    mf_module *module;
    mf_tensor *x;
} ctx;

static mf_status eager(void *p, mf_tensor **out)
{
    ctx *c = p;
    return mnist_forward(c->net, c->x, out);
}

static mf_status fused(void *p, mf_tensor **out)
{
    ctx *c = p;
    return mf_module_run(c->module, 1, &c->x, 1, out);
}

static double overhead_us(int runs)
{
    mf_tensor *x, *y;
    mf_graph *g;
    BENCH_CHECK(mf_tensor_rand(MF_F32, 1, (int64_t[]){1}, 1, -1, 1, MF_DEVICE_MLU(0), &x));
    BENCH_CHECK(mf_trace_begin(1, &x));
    BENCH_CHECK(mf_relu(x, &y));
    BENCH_CHECK(mf_trace_end(1, &y, &g));
    mf_tensor_free(y);
    ctx c = {NULL, NULL, x};
    BENCH_CHECK(mf_module_create(g, NULL, &c.module));
    double t = median_us(fused, &c, runs);
    mf_module_destroy(c.module);
    mf_graph_destroy(g);
    mf_tensor_free(x);
    return t;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 50;
    mnist_net net;
    BENCH_CHECK(mnist_init(&net, 1, MF_DEVICE_MLU(0)));
    printf("# mnist_net on mlu:0, median of %d runs (result read back included)\n", runs);
    for (int64_t batch = 1; batch <= 8; batch *= 8) {
        ctx c = {&net, NULL, NULL};
        BENCH_CHECK(mf_tensor_rand(MF_F32, 4, (int64_t[]){batch, 1, 28, 28}, 2, 0, 1, MF_DEVICE_MLU(0), &c.x));
        double te = median_us(eager, &c, runs);
        mf_graph *g;
        mf_tensor *y;
        BENCH_CHECK(mf_trace_begin(1, &c.x));
        BENCH_CHECK(mnist_forward(&net, c.x, &y));
        BENCH_CHECK(mf_trace_end(1, &y, &g));
        mf_tensor_free(y);
        mf_kernel_cache_stats s0, s1;
        mf_kernel_cache_get_stats(&s0);
        double t0 = now_us();
        BENCH_CHECK(mf_module_create(g, NULL, &c.module));
        double compile_ms = (now_us() - t0) / 1e3;
        mf_kernel_cache_get_stats(&s1);
        double tf = median_us(fused, &c, runs);
        printf("batch %lld: layer by layer %.3f ms, fused %.3f ms (%.2fx); module compile %.1f ms "
               "for %llu new kernels\n",
               (long long)batch, te / 1e3, tf / 1e3, te / tf, compile_ms,
               (unsigned long long)(s1.misses - s0.misses));
        mf_module_destroy(c.module);
        mf_graph_destroy(g);
        mf_tensor_free(c.x);
    }
    mf_kernel_cache_stats st;
    mf_kernel_cache_get_stats(&st);
    printf("compile time per kernel: %.1f ms (mean of %llu kernels)\n", st.compile_ms / (double)st.misses,
           (unsigned long long)st.misses);
    printf("per-run overhead of a module whose kernels are built: %.2f us\n", overhead_us(runs * 20));
    mnist_free(&net);
    return 0;
}
