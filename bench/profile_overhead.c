/* profile_overhead.c — benchmark: what collecting a profile costs a model's runs (issue 17
 * asks for at most 2 % on resnet18).  Runs the model in alternating blocks with profiling
 * off and on (a profile begun and ended around each "on" block, as `mlufuse run --profile`
 * does), so drift of a shared machine hits both alike, and prints the median and the
 * minimum run time of each, their difference, and the profiler's own estimate (events x
 * measured cost of one event).
 *
 *   build/bench_profile_overhead [MODEL.onnx [INPUT.npy [ROUNDS [RUNS_PER_BLOCK]]]]
 *   (default: ../shared/models/resnet18, 15 rounds of 10 runs) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "support/bench_check.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One run as `mlufuse run` times it: the module, then the output read back. */
static double run_once(mf_module *m, mf_tensor *in)
{
    mf_tensor *out, *host;
    double t0 = now_ms();
    BENCH_CHECK(mf_module_run(m, 1, &in, 1, &out));
    BENCH_CHECK(mf_tensor_to(out, MF_DEVICE_CPU, &host));
    double dt = now_ms() - t0;
    mf_tensor_free(host);
    mf_tensor_free(out);
    return dt;
}

int main(int argc, char **argv)
{
    const char *model = argc > 1 ? argv[1] : "../shared/models/resnet18/model.onnx";
    const char *input = argc > 2 ? argv[2] : "../shared/models/resnet18/input.npy";
    int rounds = argc > 3 ? atoi(argv[3]) : 15, block = argc > 4 ? atoi(argv[4]) : 10;
    if (rounds < 1 || block < 1)
        return fprintf(stderr, "usage: %s [MODEL [INPUT [ROUNDS [RUNS_PER_BLOCK]]]]\n", argv[0]), 2;
    mf_graph *g;
    mf_module *m;
    mf_tensor *host, *in;
    BENCH_CHECK(mf_onnx_load(model, 0, &g));
    BENCH_CHECK(mf_module_create(g, NULL, &m));
    BENCH_CHECK(mf_tensor_load_npy(input, &host));
    BENCH_CHECK(mf_tensor_to(host, MF_DEVICE_MLU(0), &in));
    for (int i = 0; i < 5; i++) /* warm-up */
        run_once(m, in);
    int n = rounds * block;
    double *off = malloc(sizeof *off * (size_t)n), *on = malloc(sizeof *on * (size_t)n);
    double estimate_ms = 0;
    uint64_t events = 0;
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < block; i++)
            off[r * block + i] = run_once(m, in);
        mf_profile *p;
        mf_profile_stats st;
        BENCH_CHECK(mf_module_profile_begin());
        for (int i = 0; i < block; i++)
            on[r * block + i] = run_once(m, in);
        BENCH_CHECK(mf_module_profile_end(&p));
        mf_profile_get_stats(p, &st);
        estimate_ms += st.overhead_ms;
        events += st.events;
        mf_profile_destroy(p);
    }
    qsort(off, (size_t)n, sizeof *off, cmp_double);
    qsort(on, (size_t)n, sizeof *on, cmp_double);
    double med_off = off[n / 2], med_on = on[n / 2];
    printf("%s: %d runs each, profiling off and on in alternating blocks of %d\n", model, n, block);
    printf("median: off %.3f ms, on %.3f ms: %+.2f %%\n", med_off, med_on, 100 * (med_on - med_off) / med_off);
    printf("minimum: off %.3f ms, on %.3f ms: %+.2f %%\n", off[0], on[0], 100 * (on[0] - off[0]) / off[0]);
    printf("profiler's estimate: %.1f events a run, %.4f ms a run: %.3f %% of the median run\n",
           (double)events / n, estimate_ms / n, 100 * estimate_ms / n / med_off);
    free(off);
    free(on);
    mf_tensor_free(in);
    mf_tensor_free(host);
    mf_module_destroy(m);
    mf_graph_destroy(g);
    return 0;
}
