/* profile_overhead.c — benchmark: what collecting a profile costs a model's runs (issue 17
 * asks for at most 2 % on resnet18).  Runs the model in alternating blocks with profiling
 * off and on (a profile begun and ended around each "on" block, as `mlufuse run --profile`
 * does), so drift of a shared machine hits both alike, and prints the median and the
 * minimum run time of each, their difference, and the profiler's own estimate (events x
 * measured cost of one event).  On a loaded machine wall time is mostly other programs';
 * the calling thread's CPU time is printed too, which at core_number 1 (every partition on
 * the calling thread) is the work the run itself did.
 *
 *   build/bench_profile_overhead [MODEL.onnx [INPUT.npy [ROUNDS [RUNS_PER_BLOCK [CORE_NUMBER]]]]]
 *   (default: ../shared/models/resnet18, 15 rounds of 10 runs, core_number 1) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "support/bench_check.h"
#include "support/kernel_timing.h"

static double clock_ms(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

typedef struct timing {
    double wall, cpu; /* ms */
} timing;

/* One run as `mlufuse run` times it: the module, then the output read back. */
static timing run_once(mf_module *m, mf_tensor *in)
{
    mf_tensor *out, *host;
    double w0 = clock_ms(CLOCK_MONOTONIC), c0 = clock_ms(CLOCK_THREAD_CPUTIME_ID);
    BENCH_CHECK(mf_module_run(m, 1, &in, 1, &out));
    BENCH_CHECK(mf_tensor_to(out, MF_DEVICE_CPU, &host));
    timing t = {clock_ms(CLOCK_MONOTONIC) - w0, clock_ms(CLOCK_THREAD_CPUTIME_ID) - c0};
    mf_tensor_free(host);
    mf_tensor_free(out);
    return t;
}

static void report(const char *what, double *off, double *on, int n)
{
    qsort(off, (size_t)n, sizeof *off, bench_cmp_double);
    qsort(on, (size_t)n, sizeof *on, bench_cmp_double);
    double a = off[n / 2], b = on[n / 2];
    printf("%s: median off %.3f ms, on %.3f ms: %+.2f %%; minimum off %.3f ms, on %.3f ms: %+.2f %%\n",
           what, a, b, 100 * (b - a) / a, off[0], on[0], 100 * (on[0] - off[0]) / off[0]);
}

int main(int argc, char **argv)
{
    const char *model = argc > 1 ? argv[1] : "../shared/models/resnet18/model.onnx";
    const char *input = argc > 2 ? argv[2] : "../shared/models/resnet18/input.npy";
    int rounds = argc > 3 ? atoi(argv[3]) : 15, block = argc > 4 ? atoi(argv[4]) : 10;
    mf_module_options o = mf_module_default_options();
    o.core_number = argc > 5 ? atoi(argv[5]) : 1;
    if (rounds < 1 || block < 1)
        return fprintf(stderr, "usage: %s [MODEL [INPUT [ROUNDS [RUNS_PER_BLOCK [CORE_NUMBER]]]]]\n", argv[0]), 2;
    mf_graph *g;
    mf_module *m;
    mf_tensor *host, *in;
    BENCH_CHECK(mf_onnx_load(model, 0, &g));
    BENCH_CHECK(mf_module_create(g, &o, &m));
    BENCH_CHECK(mf_tensor_load_npy(input, &host));
    BENCH_CHECK(mf_tensor_to(host, MF_DEVICE_MLU(0), &in));
    for (int i = 0; i < 5; i++) /* warm-up */
        run_once(m, in);
    int n = rounds * block;
    double *t[4]; /* wall off, wall on, cpu off, cpu on */
    for (int k = 0; k < 4; k++)
        t[k] = malloc(sizeof *t[k] * (size_t)n);
    double estimate_ms = 0;
    uint64_t events = 0;
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < block; i++) {
            timing x = run_once(m, in);
            t[0][r * block + i] = x.wall, t[2][r * block + i] = x.cpu;
        }
        mf_profile *p;
        mf_profile_stats st;
        BENCH_CHECK(mf_module_profile_begin());
        for (int i = 0; i < block; i++) {
            timing x = run_once(m, in);
            t[1][r * block + i] = x.wall, t[3][r * block + i] = x.cpu;
        }
        BENCH_CHECK(mf_module_profile_end(&p));
        mf_profile_get_stats(p, &st);
        estimate_ms += st.overhead_ms;
        events += st.events;
        mf_profile_destroy(p);
    }
    printf("%s, core_number %d: %d runs each, profiling off and on in alternating blocks of %d\n", model,
           o.core_number, n, block);
    report("wall time", t[0], t[1], n);
    report("thread CPU time", t[2], t[3], n);
    printf("profiler's estimate: %.1f events a run, %.4f ms a run: %.3f %% of the median run\n",
           (double)events / n, estimate_ms / n, 100 * estimate_ms / n / t[0][n / 2]);
    for (int k = 0; k < 4; k++)
        free(t[k]);
    mf_tensor_free(in);
    mf_tensor_free(host);
    mf_module_destroy(m);
    mf_graph_destroy(g);
    return 0;
}
