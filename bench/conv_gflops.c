/* conv_gflops.c — throughput of a compiled conv2d kernel (3x3, 64->64, 1x64x56x56, bias and
 * relu fused) in GFLOP/s, single-threaded (compiled for core_number 1) and with nparts=2 on 2
 * threads (compiled for core_number 4), plus a few other
 * layer shapes, and resnet18's 3x3 stride-1 layers as Winograd F(4,3) in effective GFLOP/s
 * (three kernels, and where segmentation fuses the chain, one).  Compare with the FMA peak: 2
 * zmm FMAs/cycle = 64 flop/cycle/core.
 * `bench_conv_gflops --cpu NAME` compiles for an LLVM CPU (e.g. haswell) instead of the
 * host; the host must be able to run that CPU's code.  The one-thread figure is the best CPU
 * time of a few batches (a shared machine's load does not count), with its fraction of
 * the FMA peak of the target's lanes measured at the start of the run (at the core's best
 * clock, mf_rt_limits_peak_now) and its fraction at the clock the core ran it at (each batch
 * against a sample of the FMA loop taken just after it, bench_against_peak);
 * CONV_GFLOPS_MOBILE=1 runs mobilenet_v2's layers only, CONV_GFLOPS_DW=1 the depthwise ones,
 * CONV_GFLOPS_WINOGRAD=1 the Winograd ones (the GEMM's weights packed as the pass packs them);
 * CONV_GFLOPS_LAYERS="cin,hw,cout,k,stride,groups;..." runs the layers listed, and
 * CONV_GFLOPS_ASM=FILE appends each one-thread kernel's assembly to FILE, and
 * CONV_GFLOPS_COLD=1 times one-thread runs with cold caches (as deep in a model; no
 * two-thread figure), CONV_GFLOPS_PARTS=1 times each of the 4 partitions of the core_number 4
 * kernel alone (CPU time: the split's balance, free of the machine's load), and
 * CONV_GFLOPS_XCORE=1 each thread's home run on 2 pinned threads with the input left split
 * over their caches (CONV_GFLOPS_XCORE=out: and each half of the output last written by the
 * other core, as a model's reused memory may be). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "codegen/codegen.h"
#include "mlufuse/mlufuse.h"
#include "runtime/profiler.h"
#include "support/bench_args.h"
#include "support/kernel_timing.h"


/* On 2 MiB pages where the kernel gives them, as the runtime's device memory is
 * (runtime/caching_allocator.c): the layers see the TLB a model's do. */
static float *rnd(int64_t n)
{
    void *v = NULL;
    size_t bytes = (sizeof(float) * (size_t)n + 63) / 64 * 64;
    if (posix_memalign(&v, (size_t)2 << 20, bytes ? bytes : 64)) {
        fprintf(stderr, "bench_conv_gflops: out of memory\n");
        exit(1);
    }
#ifdef MADV_HUGEPAGE
    (void)madvise(v, bytes, MADV_HUGEPAGE);
#endif
    float *p = v;
    for (int64_t i = 0; i < n; i++)
        p[i] = (float)((i * 7919 % 1000) / 500.0 - 1.0);
    return p;
}

static const mf_cg_target *target; /* NULL: the host */
static int lanes; /* the target's f32 lanes: which FMA peak its kernels are judged against */
/* one core's FMA peak for those lanes, GFLOP/s, measured at the start (0: the host cannot
 * run the target's code) */
static double peak;

static double of_peak(double gflops)
{
    return peak > 0 ? 100 * gflops / peak : 0;
}

/* CONV_GFLOPS_COLD=1: one thread's CPU time of a run that starts with nothing of its
 * operands cached (a 32 MB buffer written before each), as a layer deep in a model whose
 * weights do not stay in L2 runs; the median of 21 runs. */
static double thread_cpu_time_cold(mf_kernel_fn fn, void **args)
{
    static char *junk;
    const size_t njunk = (size_t)32 << 20;
    if (!junk && !(junk = malloc(njunk)))
        return 0;
    double t[21];
    for (int i = 0; i < 21; i++) {
        memset(junk, i, njunk);
        struct timespec t0, t1;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
        fn((void *const *)args, 0, 1);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
        t[i] = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    }
    qsort(t, 21, sizeof t[0], bench_cmp_double);
    return t[10];
}

/* The 4 partitions of a core_number 4 kernel, each timed alone on this thread (CPU time, best
 * of 7 batches), and the pool's home runs on 2 threads (partitions 0-1, then 2-3, each run
 * as a pair): the split's own balance, free of the machine's load.  The slower run is what
 * a launch on 2 threads waits for, without the threads' contention for memory. */
static void part_times(mf_kernel_fn fn, void **args, int reps, char *out, size_t cap)
{
    double t[4], sum = 0;
    int per = reps / 7 + 1;
    for (int p = 0; p < 4; p++) {
        t[p] = 1e30;
        for (int b = 0; b < 7; b++) {
            struct timespec t0, t1;
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
            for (int r = 0; r < per; r++)
                fn((void *const *)args, p, 4);
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
            double d = ((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9) / per;
            t[p] = d < t[p] ? d : t[p];
        }
        sum += t[p];
    }
    double run[2]; /* each thread's home run, partitions 0-1 and 2-3, one after the other */
    for (int h = 0; h < 2; h++) {
        run[h] = 1e30;
        for (int b = 0; b < 7; b++) {
            struct timespec t0, t1;
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
            for (int r = 0; r < per; r++)
                for (int p = 2 * h; p < 2 * h + 2; p++)
                    fn((void *const *)args, p, 4);
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
            double d = ((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9) / per;
            run[h] = d < run[h] ? d : run[h];
        }
    }
    double a = run[0], b = run[1], pmax = 0;
    for (int p = 0; p < 4; p++)
        pmax = t[p] > pmax ? t[p] : pmax;
    snprintf(out, cap, "partitions alone %.1f %.1f %.1f %.1f us: imbalance %.0f %%; home runs 0-1 %.1f, 2-3 %.1f us: "
             "imbalance %.0f %%", t[0] * 1e6, t[1] * 1e6, t[2] * 1e6, t[3] * 1e6, 100 * (pmax * 4 / sum - 1), a * 1e6,
             b * 1e6, 100 * ((a > b ? a : b) * 2 / (a + b) - 1));
}

/* CONV_GFLOPS_XCORE=1: the home runs of the core_number 4 kernel on 2 threads pinned to
 * CPUs 0 and 1, each run after the threads rewrote half of the input's channels each (as a
 * depthwise layer split by channels leaves it: half in the other core's cache).  Each thread's
 * CPU time of its run, median of the reps; the launch waits for the slower thread.  With
 * `out`, each thread also writes a word of every line of the output half that the other
 * writes (exactly a channel split's home run; a pixel split's in part): every line it then
 * stores has to come from the other core. */
typedef struct xcore {
    mf_kernel_fn fn;
    void **args;
    float *x;
    int64_t nx, reps;
    float *y; /* the output, its lines to move first (NULL: not) */
    int64_t ny;
    atomic_int arrived;
    double med[2];
} xcore;

typedef struct xcore_arg {
    xcore *x;
    int h;
} xcore_arg;

static void xbarrier(xcore *x, int *round)
{
    int goal = 2 * ++*round;
    atomic_fetch_add(&x->arrived, 1);
    while (atomic_load(&x->arrived) < goal)
        sched_yield();
}

static void *xcore_thread(void *arg)
{
    xcore *x = ((xcore_arg *)arg)->x;
    int h = ((xcore_arg *)arg)->h, round = 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(h, &set);
    sched_setaffinity(0, sizeof set, &set);
    double *t = malloc(sizeof(double) * (size_t)x->reps);
    for (int64_t r = 0; r < x->reps; r++) {
        for (int64_t i = h * x->nx / 2; i < (h + 1) * x->nx / 2; i++)
            x->x[i] = -x->x[i];
        for (int64_t i = (1 - h) * x->ny / 2; x->y && i < (2 - h) * x->ny / 2; i += 16)
            x->y[i] = 0;
        xbarrier(x, &round);
        struct timespec t0, t1;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
        for (int p = 2 * h; p < 2 * h + 2; p++)
            x->fn((void *const *)x->args, p, 4);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
        t[r] = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
        xbarrier(x, &round);
    }
    qsort(t, (size_t)x->reps, sizeof *t, bench_cmp_double);
    x->med[h] = t[x->reps / 2];
    free(t);
    return NULL;
}

static void xcore_times(mf_kernel_fn fn, void **args, float *xin, int64_t nx, float *y, int64_t ny, char *out,
                        size_t cap)
{
    xcore x = {.fn = fn, .args = args, .x = xin, .nx = nx, .reps = 301, .y = y, .ny = ny};
    atomic_init(&x.arrived, 0);
    pthread_t th[2];
    xcore_arg a[2] = {{&x, 0}, {&x, 1}};
    for (int h = 0; h < 2; h++)
        pthread_create(&th[h], NULL, xcore_thread, &a[h]);
    for (int h = 0; h < 2; h++)
        pthread_join(th[h], NULL);
    snprintf(out, cap, "input split over cores%s: home runs 0-1 %.1f, 2-3 %.1f us (median CPU time)",
             y ? ", output lines the other's" : "", x.med[0] * 1e6, x.med[1] * 1e6);
}

/* One kernel of a single-node graph op(in...) (+ relu when relu), compiled for one core;
 * a matmul's left operand packed as the pack-weights pass would (*block: its block, 0 plain). */
static mf_kernel_fn one_kernel(mf_op op, int nin, const mf_type *types, const mf_attr *a, bool relu, mf_cg_object *obj,
                               int64_t *block)
{
    mf_graph *g = mf_graph_new("stage");
    mf_value *in[3];
    for (int i = 0; i < nin; i++)
        in[i] = mf_graph_add_input(g, NULL, &types[i]);
    mf_node *n, *r = NULL;
    mf_kernel_fn fn = NULL;
    mf_cg_options one = {target, 3, 1};
    if (mf_graph_add_node(g, op, nin, in, a, &n)) {
        fprintf(stderr, "winograd %s: %s\n", mf_op_get(op)->name, mf_last_error());
        mf_graph_destroy(g);
        return NULL;
    }
    if (block) {
        const mf_cg_target *tt = bench_target_or_host(target);
        *block = tt ? mf_cg_conv_weight_block(&tt->shape, n) : 0;
        if (*block)
            mf_attr_set_int(op, n->attrs, "packed", *block);
    }
    if ((relu && mf_graph_add_node(g, MF_OP_RELU, 1, n->outputs, NULL, &r)) ||
        mf_graph_set_outputs(g, 1, relu ? r->outputs : n->outputs) || mf_cg_compile(g, &one, obj) || mf_cg_load(obj, &fn))
        fprintf(stderr, "winograd %s: %s\n", mf_op_get(op)->name, mf_last_error());
    const char *asm_path = getenv("CONV_GFLOPS_ASM");
    char *text = NULL;
    if (fn && block && asm_path && mf_cg_compile_asm(g, &one, &text) == MF_OK) {
        FILE *f = fopen(asm_path, "a");
        if (f) {
            fprintf(f, "# winograd matmul %s\n%s", *block ? "packed" : "plain", text);
            fclose(f);
        }
    }
    free(text);
    mf_graph_destroy(g);
    return fn;
}

/* The Winograd chain as one kernel (ir/winograd_chain.c): input transform, matmul of the
 * transformed weights (packed in `block`, as the pack-weights pass packs the matmul's), output
 * transform with bias and relu; NULL where segmentation would not fuse it. */
static mf_kernel_fn chain_kernel(const mf_type *xt, const mf_type *ut, const mf_type *bt,
                                 const mf_attr *ai, const mf_attr *ao, int64_t block,
                                 mf_cg_object *obj)
{
    mf_graph *g = mf_graph_new("chain");
    mf_value *x = mf_graph_add_input(g, NULL, xt), *u = mf_graph_add_input(g, NULL, ut);
    mf_value *b = mf_graph_add_input(g, NULL, bt);
    mf_node *in, *mm, *out, *r;
    mf_winograd_chain wc;
    mf_attr am[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_MATMUL, am);
    mf_attr_set_int(MF_OP_MATMUL, am, "packed", block);
    mf_kernel_fn fn = NULL;
    mf_cg_options one = {target, 3, 1};
    if (mf_graph_add_node(g, MF_OP_WINOGRAD_INPUT, 1, &x, ai, &in) ||
        mf_graph_add_node(g, MF_OP_MATMUL, 2, (mf_value *[]){u, in->outputs[0]}, am, &mm) ||
        mf_graph_add_node(g, MF_OP_WINOGRAD_OUTPUT, 2, (mf_value *[]){mm->outputs[0], b}, ao,
                          &out) ||
        mf_graph_add_node(g, MF_OP_RELU, 1, out->outputs, NULL, &r) ||
        mf_graph_set_outputs(g, 1, r->outputs))
        fprintf(stderr, "winograd chain: %s\n", mf_last_error());
    else if (mf_winograd_chain_of(g, out, &wc) && mf_winograd_chain_fits(&wc) &&
             (mf_cg_compile(g, &one, obj) || mf_cg_load(obj, &fn)))
        fprintf(stderr, "winograd chain: %s\n", mf_last_error());
    mf_graph_destroy(g);
    return fn;
}

/* the Winograd layer as three kernels, one after the other */
typedef struct three_kernels {
    mf_kernel_fn *fn;
    void *(*args)[4];
} three_kernels;

static void run_three(void *ctx)
{
    three_kernels *t = ctx;
    for (int i = 0; i < 3; i++)
        t->fn[i](t->args[i], 0, 1);
}

/* The three kernels of a Winograd F(4,3) 3x3 stride-1 conv (input transform, the 36 GEMMs,
 * output transform with bias and relu), one thread, in effective GFLOP/s: the direct
 * convolution's FLOPs over the time of the three, and its fraction of the target's peak.
 * The three together, the GEMMs and the fused kernel: the best batch's thread CPU time
 * (bench_against_peak); the transforms alone: the wall-clock mean of their runs. */
static int bench_winograd(int64_t cin, int64_t hw, int64_t cout)
{
    int64_t tiles = ((hw + 3) / 4) * ((hw + 3) / 4);
    bool cl = tiles < lanes; /* the layout the pass picks (mf_winograd_channels_last) */
    mf_type xt = {MF_F32, 4, {1, cin, hw, hw}}, vt = {MF_F32, 3, {36, cin, tiles}};
    mf_type ut = {MF_F32, 3, {36, cout, cin}}, mt = {MF_F32, 3, {36, cout, tiles}}, bt = {MF_F32, 1, {cout}};
    if (cl) {
        vt = (mf_type){MF_F32, 3, {36, tiles, cin}};
        ut = (mf_type){MF_F32, 3, {36, cin, cout}};
        mt = (mf_type){MF_F32, 3, {36, tiles, cout}};
    }
    mf_attr ai[MF_MAX_ATTRS], ao[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_WINOGRAD_INPUT, ai);
    mf_attr_set_ints(MF_OP_WINOGRAD_INPUT, ai, "padding", 2, (int64_t[]){1, 1});
    mf_attr_set_int(MF_OP_WINOGRAD_INPUT, ai, "channels_last", cl);
    mf_op_default_attrs(MF_OP_WINOGRAD_OUTPUT, ao);
    mf_attr_set_ints(MF_OP_WINOGRAD_OUTPUT, ao, "size", 3, (int64_t[]){1, hw, hw});
    mf_attr_set_int(MF_OP_WINOGRAD_OUTPUT, ao, "channels_last", cl);
    mf_cg_object obj[3];
    mf_attr am[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_MATMUL, am);
    int64_t block = 0;
    mf_kernel_fn fn[3] = {one_kernel(MF_OP_WINOGRAD_INPUT, 1, &xt, ai, false, &obj[0], NULL),
                          one_kernel(MF_OP_MATMUL, 2, cl ? (mf_type[]){vt, ut} : (mf_type[]){ut, vt}, am, false, &obj[1],
                                     cl ? NULL : &block),
                          one_kernel(MF_OP_WINOGRAD_OUTPUT, 2, (mf_type[]){mt, bt}, ao, true, &obj[2], NULL)};
    if (!fn[0] || !fn[1] || !fn[2])
        return 1;
    float *x = rnd(mf_type_numel(&xt)), *u = rnd(mf_type_numel(&ut)), *b = rnd(cout);
    if (block) { /* the transformed weights as the pack-weights pass leaves them (per matrix) */
        float *pu = rnd(mf_type_numel(&ut));
        for (int64_t i = 0; i < 36; i++)
            mf_conv_weights_pack(u + i * cout * cin, pu + i * cout * cin, cout, cin, block);
        free(u);
        u = pu;
    }
    float *v = rnd(mf_type_numel(&vt)), *m = rnd(mf_type_numel(&mt)), *y = rnd(cin * hw * hw * cout / cin);
    void *args[3][4] = {{v, x}, {m, cl ? (void *)v : u, cl ? (void *)u : v}, {y, m, b}};
    double flop = 2.0 * (double)(cout * hw * hw) * (double)cin * 9;
    int reps = (int)(2e10 / (flop * 20)) + 3;
    for (int i = 0; i < 3; i++)
        fn[i](args[i], 0, 1);
    double t_input = bench_time_threads(fn[0], args[0], 1, reps);
    double t_output = bench_time_threads(fn[2], args[2], 1, reps);
    bench_share gemm =
        bench_kernel_against_peak(fn[1], args[1], 2.0 * 36 * cout * cin * tiles, lanes, reps);
    three_kernels three = {fn, args};
    bench_share chained = bench_against_peak(run_three, &three, flop, lanes, reps), fused = {0};
    mf_cg_object fobj = {0};
    mf_kernel_fn ffn = cl ? NULL : chain_kernel(&xt, &ut, &bt, ai, ao, block, &fobj);
    if (ffn) {
        void *fargs[4] = {y, x, u, b};
        ffn(fargs, 0, 1);
        fused = bench_kernel_against_peak(ffn, fargs, flop, lanes, reps);
    }
    printf("winograd %3lldx%-3lld %3lld->%-3lld %s%s: %7.2f ms  1 thread %6.1f effective GFLOP/s = "
           "%5.1f %% of peak"
           "  (input %.3f, gemm %.3f = %.0f %% of peak, %.0f %% at its clock, output %.3f ms; "
           "compile %.1f ms)\n",
           (long long)hw, (long long)hw, (long long)cin, (long long)cout,
           cl ? "ch-last" : "tiles  ", block ? " packed" : "", chained.seconds * 1e3,
           flop / chained.seconds * 1e-9, of_peak(flop / chained.seconds * 1e-9), t_input * 1e3,
           gemm.seconds * 1e3, of_peak(2.0 * 36 * cout * cin * tiles / gemm.seconds * 1e-9),
           100 * gemm.at_clock, t_output * 1e3,
           obj[0].compile_ms + obj[1].compile_ms + obj[2].compile_ms);
    if (ffn)
        printf("winograd %3lldx%-3lld %3lld->%-3lld one kernel: %7.3f ms  1 thread %6.1f "
               "effective GFLOP/s = %5.1f %% of peak  (compile %.1f ms)\n",
               (long long)hw, (long long)hw, (long long)cin, (long long)cout, fused.seconds * 1e3,
               flop / fused.seconds * 1e-9, of_peak(flop / fused.seconds * 1e-9), fobj.compile_ms);
    mf_cg_object_free(&fobj);
    for (int i = 0; i < 3; i++)
        mf_cg_object_free(&obj[i]);
    free(x), free(u), free(b), free(v), free(m), free(y);
    return 0;
}

static int bench(int64_t cin, int64_t hw, int64_t cout, int64_t k, int64_t stride, int64_t groups)
{
    mf_graph *g = mf_graph_new("conv");
    mf_type xt = {MF_F32, 4, {1, cin, hw, hw}}, wt = {MF_F32, 4, {cout, cin / groups, k, k}};
    mf_type bt = {MF_F32, 1, {cout}};
    mf_value *in[3] = {mf_graph_add_input(g, "x", &xt), mf_graph_add_input(g, "w", &wt),
                       mf_graph_add_input(g, "b", &bt)};
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CONV2D, a);
    int64_t pad[2] = {k / 2, k / 2}, st[2] = {stride, stride};
    mf_attr_set_ints(MF_OP_CONV2D, a, "padding", 2, pad);
    mf_attr_set_ints(MF_OP_CONV2D, a, "stride", 2, st);
    mf_attr_set_int(MF_OP_CONV2D, a, "groups", groups);
    mf_node *n, *r;
    if (mf_graph_add_node(g, MF_OP_CONV2D, 3, in, a, &n) ||
        mf_graph_add_node(g, MF_OP_RELU, 1, n->outputs, NULL, &r) ||
        mf_graph_set_outputs(g, 1, r->outputs)) {
        fprintf(stderr, "graph: %s\n", mf_last_error());
        return 1;
    }
    /* the weights as a module would pass them: packed for the target's kernel */
    const mf_cg_target *tt = bench_target_or_host(target);
    int64_t block = tt ? mf_cg_conv_weight_block(&tt->shape, n) : 0;
    if (block)
        mf_attr_set_int(MF_OP_CONV2D, n->attrs, "packed", block);
    /* each run with the kernel a module of that many cores would get */
    mf_cg_object obj, obj2;
    mf_kernel_fn fn, fn2;
    mf_cg_options one = {target, 3, 1}, four = {target, 3, 4};
    if (mf_cg_compile(g, &one, &obj) || mf_cg_load(&obj, &fn) || mf_cg_compile(g, &four, &obj2) ||
        mf_cg_load(&obj2, &fn2)) {
        fprintf(stderr, "compile: %s\n", mf_last_error());
        return 1;
    }
    const char *asm_path = getenv("CONV_GFLOPS_ASM");
    char *text = NULL;
    if (asm_path && mf_cg_compile_asm(g, &one, &text) == MF_OK) {
        FILE *f = fopen(asm_path, "a");
        if (f) {
            fprintf(f, "# conv %lldx%lld %lld->%lld k%lld s%lld g%lld\n%s", (long long)hw, (long long)hw,
                    (long long)cin, (long long)cout, (long long)k, (long long)stride, (long long)groups, text);
            fclose(f);
        }
    }
    free(text);
    const mf_type *ot = &r->outputs[0]->type;
    int64_t on = mf_type_numel(ot);
    float *out = rnd(on), *x = rnd(mf_type_numel(&xt));
    float *w = rnd(mf_type_numel(&wt)), *b = rnd(cout);
    if (block) {
        float *pw = rnd(mf_type_numel(&wt));
        mf_conv_weights_pack(w, pw, cout, mf_type_numel(&wt) / cout, block);
        free(w);
        w = pw;
    }
    void *args[4] = {out, x, w, b};
    double flop = 2.0 * (double)on * (double)(cin / groups) * (double)(k * k);
    int reps = (int)(2e10 / (flop * 20)) + 3;
    fn((void *const *)args, 0, 1); /* warm up */
    bool cold = getenv("CONV_GFLOPS_COLD") != NULL;
    bench_share one_thread = {0};
    if (cold)
        one_thread.seconds = thread_cpu_time_cold(fn, args);
    else
        one_thread = bench_kernel_against_peak(fn, args, flop, lanes, reps);
    double t1 = one_thread.seconds, t2 = cold ? t1 : bench_time_threads(fn2, args, 2, reps);
    double g1 = flop / t1 * 1e-9;
    char parts[256] = "";
    if (getenv("CONV_GFLOPS_PARTS"))
        part_times(fn2, args, reps, parts, sizeof parts);
    char clock[32] = ""; /* the cold runs are not interleaved with FMA samples */
    if (!cold)
        snprintf(clock, sizeof clock, " (%5.1f at its clock)", 100 * one_thread.at_clock);
    printf("conv %3lldx%-3lld %4lld->%-4lld k%lld s%lld g%-3lld %s: %7.3f ms  1 thread %6.1f "
           "GFLOP/s %5.1f %%peak%s  2 threads %6.1f GFLOP/s  (compile %.1f ms)\n",
           (long long)hw, (long long)hw, (long long)cin, (long long)cout, (long long)k,
           (long long)stride, (long long)groups, block ? "packed" : "plain ", t1 * 1e3, g1,
           of_peak(g1), clock, flop / t2 * 1e-9, obj.compile_ms);
    if (*parts)
        printf("    %s\n", parts);
    const char *xc = getenv("CONV_GFLOPS_XCORE");
    if (xc) {
        bool moved = !strcmp(xc, "out");
        xcore_times(fn2, args, x, mf_type_numel(&xt), moved ? out : NULL, on, parts, sizeof parts);
        printf("    %s\n", parts);
    }
    mf_cg_object_free(&obj);
    mf_cg_object_free(&obj2);
    free(out), free(x), free(w), free(b);
    mf_graph_destroy(g);
    return 0;
}

static int resnet_layers(void);

int main(int argc, char **argv)
{
    static mf_cg_target named;
    if (!bench_cpu_arg(argc, argv, &named, &target))
        return 2;
    mf_cg_target t;
    if (!target && mf_cg_target_init(NULL, &t) == MF_OK)
        printf("target: %s (host)\n", t.cpu);
    else if (target)
        printf("target: %s\n", target->cpu);
    const mf_cg_target *shaped = target ? target : &t;
    lanes = shaped->shape.lanes;
    peak = mf_rt_limits_peak_now(lanes);
    mf_machine_limits lim;
    if (peak > 0 && mf_machine_limits_get(&lim) == MF_OK)
        printf(
            "peak: %.1f GFLOP/s a core at %d lanes (%s), measured now at the core's best clock\n",
            peak, lanes, lim.cpu);
    const char *list = getenv("CONV_GFLOPS_LAYERS");
    if (list) { /* "cin,hw,cout,k,stride,groups;..." */
        int rc = 0;
        for (const char *p = list; *p;) {
            long long v[6];
            int used = 0;
            if (sscanf(p, "%lld,%lld,%lld,%lld,%lld,%lld%n", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &used) != 6 ||
                v[5] < 1 || v[0] % v[5] || v[2] % v[5]) {
                fprintf(stderr, "CONV_GFLOPS_LAYERS: expected cin,hw,cout,k,stride,groups at '%s'\n", p);
                return 2;
            }
            rc |= bench(v[0], v[1], v[2], v[3], v[4], v[5]);
            p += used;
            p += *p == ';';
        }
        return rc;
    }
    bool only_mobile = getenv("CONV_GFLOPS_MOBILE") || getenv("CONV_GFLOPS_DW"); /* mobilenet_v2 alone */
    bool only_wino = getenv("CONV_GFLOPS_WINOGRAD") != NULL; /* the Winograd layers alone */
    int rc = 0;
    if (!only_mobile) {
        if (!only_wino)
            rc |= resnet_layers();
        printf("Winograd F(4,3) (passes/winograd.c), target peak %.1f GFLOP/s (%d lanes):\n", peak, lanes);
        rc |= bench_winograd(64, 56, 64);
        rc |= bench_winograd(128, 28, 128);
        rc |= bench_winograd(256, 14, 256);
        if (only_wino)
            return rc;
    }
    /* mobilenet_v2's 1x1 layers (expansions and projections) and depthwise layers, resnet18's
     * 1x1 stride-2 downsamples */
    if (getenv("CONV_GFLOPS_DW")) /* the depthwise layers alone */
        goto depthwise;
    rc |= bench(3, 224, 32, 3, 2, 1); /* mobilenet_v2's first layer */
    rc |= bench(16, 112, 96, 1, 1, 1);
    rc |= bench(24, 56, 144, 1, 1, 1);
    rc |= bench(144, 56, 24, 1, 1, 1);
    rc |= bench(32, 28, 192, 1, 1, 1);
    rc |= bench(192, 28, 32, 1, 1, 1);
    rc |= bench(96, 14, 576, 1, 1, 1);
    rc |= bench(576, 14, 96, 1, 1, 1);
    rc |= bench(160, 7, 960, 1, 1, 1);
    rc |= bench(960, 7, 160, 1, 1, 1);
    rc |= bench(320, 7, 1280, 1, 1, 1);
    rc |= bench(64, 56, 128, 1, 2, 1);
    rc |= bench(128, 28, 256, 1, 2, 1);
    rc |= bench(256, 14, 512, 1, 2, 1);
depthwise:
    rc |= bench(32, 112, 32, 3, 1, 32);
    rc |= bench(96, 112, 96, 3, 2, 96);
    rc |= bench(144, 56, 144, 3, 1, 144);
    rc |= bench(144, 56, 144, 3, 2, 144);
    rc |= bench(576, 14, 576, 3, 1, 576);
    rc |= bench(960, 7, 960, 3, 1, 960);
    rc |= bench(240, 28, 240, 5, 1, 240); /* efficientnet's 5x5 */
    return rc;
}

static int resnet_layers(void)
{
    int rc = bench(3, 224, 64, 7, 2, 1); /* resnet18's first layer */
    rc |= bench(64, 56, 64, 3, 1, 1);
    rc |= bench(64, 56, 64, 1, 1, 1);
    rc |= bench(128, 28, 128, 3, 1, 1);
    rc |= bench(256, 14, 256, 3, 1, 1);
    rc |= bench(512, 7, 512, 3, 1, 1);
    rc |= bench(64, 56, 128, 3, 2, 1);
    rc |= bench(128, 28, 256, 3, 2, 1); /* resnet18's strided 3x3 layers */
    rc |= bench(256, 14, 512, 3, 2, 1);
    return rc;
}
