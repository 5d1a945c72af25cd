/* cache_warm_start.c — what the on-disk kernel cache saves: the seed's MNIST network and a
 * ResNet-style block (conv-bn-relu-conv-bn + residual + relu, 64 channels at 56x56) compiled
 * in a fresh process with an empty cache (cold) and again in another fresh process (warm,
 * every kernel loaded from disk).  Median of repeated process pairs.
 *     build/bench_cache_warm_start [pairs] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "models/mnist.h"
#include "models/resnet_block.h"
#include "support/bench_check.h"


static mf_graph *trace_mnist(void)
{
    mnist_net net;
    mf_tensor *x, *y;
    mf_graph *g;
    BENCH_CHECK(mnist_init(&net, 1, MF_DEVICE_CPU));
    BENCH_CHECK(mf_tensor_rand(MF_F32, 4, (int64_t[]){1, 1, 28, 28}, 2, 0, 1, MF_DEVICE_CPU, &x));
    BENCH_CHECK(mf_trace_begin(1, &x));
    BENCH_CHECK(mnist_forward(&net, x, &y));
    BENCH_CHECK(mf_trace_end(1, &y, &g));
    mf_tensor_free(x);
    mf_tensor_free(y);
    mnist_free(&net);
    return g;
}

static mf_graph *trace_resnet_block(void)
{
    mf_graph *g;
    BENCH_CHECK(resnet_block_trace(64, 56, 1, MF_DEVICE_CPU, NULL, &g));
    return g;
}

/* In a child process: build the graph, make the module, report ms and kernels through a pipe. */
static void child_compile(int which, int fd)
{
    mf_graph *g = which ? trace_resnet_block() : trace_mnist();
    mf_module_options o = mf_module_default_options();
    o.device = MF_DEVICE_CPU;
    struct timespec t0, t1;
    mf_module *m;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    BENCH_CHECK(mf_module_create(g, &o, &m));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    mf_kernel_cache_stats st;
    mf_kernel_cache_get_stats(&st);
    double r[3] = {(t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6, (double)st.compiled,
                   (double)st.loaded};
    _exit(write(fd, r, sizeof r) == sizeof r ? 0 : 1); /* _exit: no second flush of the parent's stdout */
}

static void in_process(int which, double *r)
{
    int fds[2];
    if (pipe(fds))
        exit(1);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
        child_compile(which, fds[1]);
    int st;
    waitpid(pid, &st, 0);
    if (read(fds[0], r, 3 * sizeof(double)) != 3 * sizeof(double)) {
        fprintf(stderr, "bench: the child failed\n");
        exit(1);
    }
    close(fds[0]);
    close(fds[1]);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int pairs = argc > 1 ? atoi(argv[1]) : 5;
    char dir[] = "/tmp/mf-bench-cache-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    setenv("MLUFUSE_CACHE_DIR", dir, 1);
    unsetenv("MLUFUSE_CACHE");
    const char *names[2] = {"mnist_net (traced)", "resnet block 64ch 56x56"};
    printf("# module creation in a fresh process, median of %d: cold (empty cache) vs warm (loaded)\n", pairs);
    for (int which = 0; which < 2; which++) {
        double cold[64], warm[64], r[3], kernels = 0;
        for (int i = 0; i < pairs && i < 64; i++) {
            char cmd[128];
            snprintf(cmd, sizeof cmd, "rm -f %s/*", dir);
            if (system(cmd))
                return 1;
            in_process(which, r);
            cold[i] = r[0];
            kernels = r[1];
            in_process(which, r);
            warm[i] = r[0];
            if (r[1] != 0)
                fprintf(stderr, "bench: the warm run compiled %g kernels\n", r[1]);
        }
        qsort(cold, (size_t)pairs, sizeof *cold, cmp);
        qsort(warm, (size_t)pairs, sizeof *warm, cmp);
        printf("%-26s %2.0f kernels: cold %8.1f ms, warm %6.2f ms (%.0fx)\n", names[which], kernels,
               cold[pairs / 2], warm[pairs / 2], cold[pairs / 2] / warm[pairs / 2]);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) ? 1 : 0;
}
