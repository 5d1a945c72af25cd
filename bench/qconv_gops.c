/* qconv_gops.c — throughput of the int8 convolution kernels (qconv2d with per-channel
 * weight scales, requantized to int8: codegen/lower_qconv.c) on resnet18's and
 * mobilenet_v2's layer shapes, one thread, compiled for core_number 1, in GOP/s (a multiply
 * and an add per product) and as a fraction of the target's int8 peak.  That peak is taken
 * as 4x the fp32 FMA peak of the target's lanes measured at the start of the run
 * (mf_rt_limits_peak_now, the core's best clock) when
 * the target has VNNI (vpdpbusd does 4 products a lane at the FMA's rate:
 * ../shared/bench/limits.c measures both), and 2x without (vpmaddubsw + vpmaddwd, two
 * instructions for 2 products a 16-bit lane).  `bench_qconv_gops --cpu NAME` compiles for
 * an LLVM CPU (e.g. haswell) instead of the host, which must run that CPU's code;
 * QCONV_GOPS_LAYERS="cin,hw,cout,k,stride,groups;..." runs the layers listed instead, and
 * QCONV_GOPS_ASM=FILE appends each kernel's assembly to FILE; QCONV_GOPS_UBSW=1 marks the weights'
 * pairs limited (w_pair_max 128, as `mlufuse quantize --ubsw-pairs` makes them), so AVX2 targets
 * take vpmaddubsw (the random weights break that promise: only the time means anything).
 * Each figure is the best of 7 rounds, so a shared machine's load counts little. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "mlufuse/mlufuse.h"
#include "runtime/profiler.h"
#include "support/bench_args.h"
#include "support/kernel_timing.h"

typedef struct layer {
    int64_t cin, hw, cout, k, stride, groups;
    const char *model;
} layer;

static const mf_cg_target *target; /* NULL: the host */
static const mf_cg_target *shape_of; /* the target compiled for, host or named */

/* *block: the channels a block of packed weights, as the pack-weights pass would pack them
 * for this target (mf_cg_conv_weight_block), 0 for plain weights; *taps: whether the
 * rows are taps first, as the pass would put them (mf_cg_qconv_taps_first;
 * QCONV_GOPS_TAPS=0: never, for comparison).  The weights are random either way. */
static mf_kernel_fn kernel_of(const layer *l, mf_cg_object *obj, int64_t *block, bool *taps)
{
    mf_graph *g = mf_graph_new("bench");
    int64_t cg = l->cin / l->groups;
    mf_type xt = {MF_I8, 4, {1, l->cin, l->hw, l->hw}}, wt = {MF_I8, 4, {l->cout, cg, l->k, l->k}};
    mf_type st = {MF_F32, 1, {l->cout}}, bt = {MF_F32, 1, {l->cout}};
    mf_value *in[4] = {mf_graph_add_input(g, "x", &xt), mf_graph_add_input(g, "w", &wt),
                       mf_graph_add_input(g, "ws", &st), mf_graph_add_input(g, "b", &bt)};
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_QCONV2D, a);
    int64_t pad[2] = {l->k / 2, l->k / 2}, stride[2] = {l->stride, l->stride};
    mf_attr_set_ints(MF_OP_QCONV2D, a, "padding", 2, pad);
    mf_attr_set_ints(MF_OP_QCONV2D, a, "stride", 2, stride);
    mf_attr_set_int(MF_OP_QCONV2D, a, "groups", l->groups);
    mf_attr_set_float(MF_OP_QCONV2D, a, "x_scale", 0.02);
    mf_attr_set_int(MF_OP_QCONV2D, a, "x_zero_point", -3);
    mf_attr_set_float(MF_OP_QCONV2D, a, "y_scale", 0.05);
    mf_attr_set_float(MF_OP_QCONV2D, a, "min", 0.0); /* a fused relu */
    const char *ubsw = getenv("QCONV_GOPS_UBSW");
    if (ubsw && !strcmp(ubsw, "1"))
        mf_attr_set_int(MF_OP_QCONV2D, a, "w_pair_max", MF_UBSW_PAIR_MAX);
    mf_node *n;
    mf_kernel_fn fn = NULL;
    mf_cg_options one = {target, 3, 1};
    const char *taps_env = getenv("QCONV_GOPS_TAPS");
    *block = 0;
    *taps = false;
    if (mf_graph_add_node(g, MF_OP_QCONV2D, 4, in, a, &n) || mf_graph_set_outputs(g, 1, n->outputs) ||
        ((*taps = !(taps_env && !strcmp(taps_env, "0")) && mf_cg_qconv_taps_first(&shape_of->shape, n)) &&
         mf_attr_set_int(MF_OP_QCONV2D, n->attrs, "taps_first", 1)) ||
        ((*block = mf_cg_conv_weight_block(&shape_of->shape, n)) > 0 &&
         mf_attr_set_int(MF_OP_QCONV2D, n->attrs, "packed", *block)) ||
        mf_cg_compile(g, &one, obj) || mf_cg_load(obj, &fn))
        fprintf(stderr, "qconv2d: %s\n", mf_last_error());
    char *text = NULL;
    const char *asm_path = getenv("QCONV_GOPS_ASM");
    if (fn && asm_path && mf_cg_compile_asm(g, &one, &text) == MF_OK) {
        FILE *f = fopen(asm_path, "a");
        if (f)
            fputs(text, f), fclose(f);
        free(text);
    }
    const char *obj_path = getenv("QCONV_GOPS_OBJ"); /* the last kernel's object, for objdump */
    FILE *fo = fn && obj_path ? fopen(obj_path, "wb") : NULL;
    if (fo)
        fwrite(obj->data, 1, obj->size, fo), fclose(fo);
    mf_graph_destroy(g);
    return fn;
}

static float *scales(int64_t n, float base)
{
    float *p = aligned_alloc(64, ((size_t)n * sizeof(float) + 63) / 64 * 64);
    for (int64_t i = 0; i < n; i++)
        p[i] = base * (float)(1 + i % 5);
    return p;
}

static int run_layer(const layer *l, double peak)
{
    mf_cg_object obj;
    int64_t block;
    bool taps;
    mf_kernel_fn fn = kernel_of(l, &obj, &block, &taps);
    if (!fn)
        return 1;
    int64_t oh = (l->hw + 2 * (l->k / 2) - l->k) / l->stride + 1, cg = l->cin / l->groups;
    void *args[5] = {bench_filled((size_t)(l->cout * oh * oh), 0), bench_filled((size_t)(l->cin * l->hw * l->hw), 1),
                     bench_filled((size_t)(l->cout * cg * l->k * l->k), 2), scales(l->cout, 0.001f), scales(l->cout, 0.1f)};
    if (block) { /* the same bytes in the packed layout */
        int8_t *pw = bench_filled((size_t)(l->cout * cg * l->k * l->k), 2);
        mf_qconv_weights_pack(args[2], pw, l->cout, cg * l->k * l->k, block);
        free(args[2]);
        args[2] = pw;
    }
    double ops = 2.0 * (double)(l->cout * oh * oh) * (double)(cg * l->k * l->k);
    int reps = (int)(4e9 / ops) + 1; /* about 10 ms: a new thread's stack faults in once */
    double best = 1e30;
    for (int r = 0; r < 7; r++) {
        double t = bench_time_threads(fn, args, 1, reps);
        best = t < best ? t : best;
    }
    double gops = ops / best * 1e-9;
    char name[64];
    snprintf(name, sizeof name, "%lld->%lld %lldx%lld s%lld g%lld @%lld", (long long)l->cin, (long long)l->cout,
             (long long)l->k, (long long)l->k, (long long)l->stride, (long long)l->groups, (long long)l->hw);
    printf("%-14s %-28s %9.3f %9.1f", l->model, name, best * 1e3, gops);
    if (peak > 0)
        printf(" %8.1f %%", 100.0 * gops / peak);
    printf("%s", taps ? "   taps first" : "");
    printf(block ? "   packed %lld\n" : "\n", (long long)block);
    for (int j = 0; j < 5; j++)
        free(args[j]);
    mf_cg_object_free(&obj);
    return 0;
}

static const layer default_layers[] = {
    {3, 224, 64, 7, 2, 1, "resnet18"},     {64, 56, 64, 3, 1, 1, "resnet18"},    {64, 56, 128, 3, 2, 1, "resnet18"},
    {128, 28, 128, 3, 1, 1, "resnet18"},   {128, 28, 256, 3, 2, 1, "resnet18"},  {256, 14, 256, 3, 1, 1, "resnet18"},
    {256, 14, 512, 3, 2, 1, "resnet18"},   {512, 7, 512, 3, 1, 1, "resnet18"},   {64, 56, 128, 1, 2, 1, "resnet18"},
    {3, 224, 32, 3, 2, 1, "mobilenet_v2"}, {16, 112, 96, 1, 1, 1, "mobilenet_v2"}, {144, 56, 24, 1, 1, 1, "mobilenet_v2"},
    {32, 28, 192, 1, 1, 1, "mobilenet_v2"}, {384, 14, 64, 1, 1, 1, "mobilenet_v2"}, {576, 14, 96, 1, 1, 1, "mobilenet_v2"},
    {960, 7, 160, 1, 1, 1, "mobilenet_v2"}, {320, 7, 1280, 1, 1, 1, "mobilenet_v2"},
};

int main(int argc, char **argv)
{
    const mf_cg_target *t = bench_target_arg(argc, argv, &target);
    if (!t)
        return 2;
    shape_of = t;
    double peak = mf_rt_limits_peak_now(t->shape.lanes) * (t->shape.vnni ? 4.0 : 2.0);
    printf("target %s (%d lanes, vnni %d), one thread; int8 peak %.1f GOP/s (%s the fp32 FMA peak)\n", t->cpu,
           t->shape.lanes, t->shape.vnni, peak, t->shape.vnni ? "4x" : "2x");
    printf("%-14s %-28s %9s %9s %10s\n", "model", "layer", "ms", "GOP/s", "of peak");
    layer list[64];
    int nl = 0;
    const char *env = getenv("QCONV_GOPS_LAYERS");
    if (env) {
        const char *s = env;
        while (*s && nl < 64) {
            long long v[6];
            int used = 0;
            if (sscanf(s, "%lld,%lld,%lld,%lld,%lld,%lld%n", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &used) != 6 ||
                v[0] <= 0 || v[1] <= 0 || v[2] <= 0 || v[3] <= 0 || v[4] <= 0 || v[5] <= 0 || v[0] % v[5] ||
                v[2] % v[5]) {
                fprintf(stderr, "bench_qconv_gops: QCONV_GOPS_LAYERS: expected cin,hw,cout,k,stride,groups at '%s'\n", s);
                return 2;
            }
            list[nl++] = (layer){v[0], v[1], v[2], v[3], v[4], v[5], "listed"};
            s += used;
            if (*s == ';')
                s++;
        }
    } else {
        nl = (int)(sizeof default_layers / sizeof default_layers[0]);
        memcpy(list, default_layers, sizeof default_layers);
    }
    for (int i = 0; i < nl; i++)
        if (run_layer(&list[i], peak))
            return 1;
    return 0;
}
