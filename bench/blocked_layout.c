/* blocked_layout.c — would a blocked channel layout keep mobilenet_v2's inverted-residual
 * blocks on their cores at two threads?  In NCHW a layer split by channels (the depthwise
 * convs) and the next split by pixels (the projections) make each thread read half its
 * input from the other core's cache, and a split by rows (tried: docs/benchmarks.md)
 * shares a cache line a channel plane at every boundary (a 14x14 plane is 12.25 lines).  In
 * a layout of blocks of L channels (L = the target's lanes: a vector is one pixel's block)
 * every layer of the block can split by rows, and with rows outermost,
 * [H][C/L][W][L], a thread's rows of every channel block are one stretch of memory.
 *
 * The block — 1x1 expansion + relu6, 3x3 depthwise + relu6, 1x1 projection + the residual
 * add — in hand-written kernels (bench/support/blocked_kernels.h) for one and two threads
 * (pinned to CPUs 0 and 1, rows split in halves, a spin barrier between layers), in two
 * orders of the dims: channel blocks outermost ([C/L][H][W][L], NCHWc) and rows outermost;
 * each checked against a plain NCHW reference, and timed against mlufuse's own kernels for
 * the same block and weights (NCHW; mf_module_run at core_number 1 and 4) in the same run.
 * The three stages of mobilenet_v2 that run these blocks: 28x28 32->192, 14x14 96->576,
 * 7x7 160->960.  Not product code: the evidence for the layout (docs/benchmarks.md).
 *
 *   bench_blocked_layout [--cpu NAME]   (NAME's lanes pick the kernels: 16 AVX-512, 8 AVX2) */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlufuse/mlufuse.h"
#include "support/bench_args.h"
#include "support/kernel_timing.h"

/* the layout of the block being measured */
static int bl_lanes, bl_h, bl_w;
static bool bl_rows_outer;

/* float offset of pixel (y, x) of channel block cb in a tensor of ncb blocks */
static inline size_t bl_at(int ncb, int cb, int y, int x)
{
    if (bl_rows_outer)
        return (((size_t)y * (size_t)ncb + (size_t)cb) * (size_t)bl_w + (size_t)x) *
               (size_t)bl_lanes;
    return (((size_t)cb * (size_t)bl_h + (size_t)y) * (size_t)bl_w + (size_t)x) * (size_t)bl_lanes;
}

#define BL_LANES 16
#define BL_TARGET "avx512f"
#define BL_RO 2
#define BL_W 7
#include "support/blocked_kernels.h"
#undef BL_W
#define BL_W 14
#include "support/blocked_kernels.h"
#undef BL_W
#define BL_W 28
#include "support/blocked_kernels.h"
#undef BL_W
#undef BL_LANES
#undef BL_TARGET
#undef BL_RO
#define BL_LANES 8
#define BL_TARGET "avx2,fma"
#define BL_RO 1
#define BL_W 7
#include "support/blocked_kernels.h"
#undef BL_W
#define BL_W 14
#include "support/blocked_kernels.h"
#undef BL_W
#define BL_W 28
#include "support/blocked_kernels.h"

typedef void pointwise_fn(const float *, int, const float *, const float *, float *, int, int, int,
                          int, const float *);
typedef void depthwise_fn(const float *, const float *, const float *, float *, int, int, int, int);

/* One block: its shape, weights (plain and blocked), activations (blocked) and kernels. */
typedef struct block {
    int hw, ci, ce;                             /* plane, input (= output) and expanded channels */
    float *x, *w1, *b1, *w2, *b2, *w3, *b3;     /* NCHW input, [o][i] / [c][9] weights, biases */
    float *bx, *be, *bd, *by, *bw1, *bw2, *bw3; /* blocked */
    pointwise_fn *pw;
    depthwise_fn *dw;
} block;

static float *floats(size_t n)
{
    float *p = aligned_alloc(64, (n * 4 + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "bench_blocked_layout: out of memory\n");
        exit(2);
    }
    memset(p, 0, n * 4);
    return p;
}

static float *random_floats(size_t n, unsigned *seed, float scale)
{
    float *p = floats(n);
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1103515245u + 12345u;
        p[i] = ((float)(*seed >> 8) / (float)(1u << 24) * 2 - 1) * scale;
    }
    return p;
}

/* NCHW (one image) -> the blocked layout, and back */
static void to_blocked(const float *a, float *b, int c)
{
    for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < bl_h; y++)
            for (int x = 0; x < bl_w; x++)
                b[bl_at(c / bl_lanes, ch / bl_lanes, y, x) + (size_t)(ch % bl_lanes)] =
                    a[((size_t)ch * (size_t)bl_h + (size_t)y) * (size_t)bl_w + (size_t)x];
}

/* [o][i] weights -> [o / L][i][L] */
static void weights_blocked(const float *w, float *b, int co, int ci)
{
    int L = bl_lanes;
    for (int o = 0; o < co; o++)
        for (int k = 0; k < ci; k++)
            b[((size_t)(o / L) * (size_t)ci + (size_t)k) * (size_t)L + (size_t)(o % L)] =
                w[(size_t)o * (size_t)ci + (size_t)k];
}

static void block_layout(block *b)
{
    to_blocked(b->x, b->bx, b->ci);
    weights_blocked(b->w1, b->bw1, b->ce, b->ci);
    weights_blocked(b->w2, b->bw2, b->ce, 9);
    weights_blocked(b->w3, b->bw3, b->ci, b->ce);
}

static void block_init(block *b, int hw, int ci, int ce, int lanes)
{
    unsigned seed = (unsigned)(hw * 1000 + ci);
    size_t np = (size_t)hw * (size_t)hw;
    *b = (block){.hw = hw, .ci = ci, .ce = ce};
    b->x = random_floats((size_t)ci * np, &seed, 1);
    b->w1 = random_floats((size_t)ce * (size_t)ci, &seed, 0.1f);
    b->b1 = random_floats((size_t)ce, &seed, 0.1f);
    b->w2 = random_floats((size_t)ce * 9, &seed, 0.3f);
    b->b2 = random_floats((size_t)ce, &seed, 0.1f);
    b->w3 = random_floats((size_t)ci * (size_t)ce, &seed, 0.05f);
    b->b3 = random_floats((size_t)ci, &seed, 0.1f);
    b->bx = floats((size_t)ci * np);
    b->be = floats((size_t)ce * np);
    b->bd = floats((size_t)ce * np);
    b->by = floats((size_t)ci * np);
    b->bw1 = floats((size_t)ce * (size_t)ci);
    b->bw2 = floats((size_t)ce * 9);
    b->bw3 = floats((size_t)ci * (size_t)ce);
    static pointwise_fn *const pw[2][3] = {{pointwise_16_7, pointwise_16_14, pointwise_16_28},
                                           {pointwise_8_7, pointwise_8_14, pointwise_8_28}};
    static depthwise_fn *const dw[2][3] = {{depthwise_16_7, depthwise_16_14, depthwise_16_28},
                                           {depthwise_8_7, depthwise_8_14, depthwise_8_28}};
    int wi = hw == 7 ? 0 : hw == 14 ? 1 : 2;
    b->pw = pw[lanes == 8][wi];
    b->dw = dw[lanes == 8][wi];
}

static void block_free(block *b)
{
    float *all[] = {b->x,  b->w1, b->b1, b->w2, b->b2,  b->w3,  b->b3,
                    b->bx, b->be, b->bd, b->by, b->bw1, b->bw2, b->bw3};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        free(all[i]);
}

/* the block in plain loops over NCHW: out[ci][hw][hw] */
static void block_reference(const block *b, float *out)
{
    int hw = b->hw, ci = b->ci, ce = b->ce;
    size_t np = (size_t)hw * (size_t)hw;
    float *e = floats((size_t)ce * np), *d = floats((size_t)ce * np);
    for (int o = 0; o < ce; o++)
        for (size_t p = 0; p < np; p++) {
            float s = b->b1[o];
            for (int k = 0; k < ci; k++)
                s += b->w1[(size_t)o * (size_t)ci + (size_t)k] * b->x[(size_t)k * np + p];
            e[(size_t)o * np + p] = fminf(fmaxf(s, 0), 6);
        }
    for (int c = 0; c < ce; c++)
        for (int y = 0; y < hw; y++)
            for (int x = 0; x < hw; x++) {
                float s = b->b2[c];
                for (int ky = 0; ky < 3; ky++)
                    for (int kx = 0; kx < 3; kx++) {
                        int iy = y + ky - 1, ix = x + kx - 1;
                        if (iy >= 0 && iy < hw && ix >= 0 && ix < hw)
                            s += b->w2[c * 9 + ky * 3 + kx] *
                                 e[(size_t)c * np + (size_t)(iy * hw + ix)];
                    }
                d[(size_t)c * np + (size_t)(y * hw + x)] = fminf(fmaxf(s, 0), 6);
            }
    for (int o = 0; o < ci; o++)
        for (size_t p = 0; p < np; p++) {
            float s = b->b3[o];
            for (int k = 0; k < ce; k++)
                s += b->w3[(size_t)o * (size_t)ce + (size_t)k] * d[(size_t)k * np + p];
            out[(size_t)o * np + p] = s + b->x[(size_t)o * np + p];
        }
    free(e);
    free(d);
}

/* ---- the hand-written block on 1 or 2 pinned threads ------------------------------------ */

typedef struct team {
    const block *b;
    int nthreads, reps;
    atomic_int arrived;
    double best;        /* seconds a block, the best batch's mean (thread 0) */
    double layer[2][3]; /* seconds a block in each layer, summed per thread, then averaged */
} team;

typedef struct member {
    team *t;
    int id, gen;
} member;

static void barrier(member *m)
{
    int goal = m->t->nthreads * ++m->gen;
    atomic_fetch_add(&m->t->arrived, 1);
    while (atomic_load(&m->t->arrived) < goal)
        sched_yield();
}

#define BATCH 200

static void *member_main(void *arg)
{
    member *m = arg;
    team *t = m->t;
    const block *b = t->b;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(m->id, &set);
    sched_setaffinity(0, sizeof set, &set);
    int r0 = m->id * b->hw / t->nthreads, r1 = (m->id + 1) * b->hw / t->nthreads;
    double start = 0;
    for (int r = 0; r <= t->reps; r++) {
        if (r % BATCH == 0) {
            barrier(m);
            double now = bench_now();
            if (m->id == 0 && r > BATCH && (t->best == 0 || (now - start) / BATCH < t->best))
                t->best = (now - start) / BATCH;
            start = now;
            if (r == t->reps)
                break;
        }
        double q0 = bench_now();
        b->pw(b->bx, b->ci, b->bw1, b->b1, b->be, b->ce, r0, r1, 1, NULL);
        double q1 = bench_now();
        barrier(m);
        double q2 = bench_now();
        b->dw(b->be, b->bw2, b->b2, b->bd, b->ce, b->hw, r0, r1);
        double q3 = bench_now();
        barrier(m);
        double q4 = bench_now();
        b->pw(b->bd, b->ce, b->bw3, b->b3, b->by, b->ci, r0, r1, 0, b->bx);
        double q5 = bench_now();
        barrier(m);
        if (r >= BATCH) {
            t->layer[m->id][0] += q1 - q0;
            t->layer[m->id][1] += q3 - q2;
            t->layer[m->id][2] += q5 - q4;
        }
    }
    return NULL;
}

static void team_run(team *t)
{
    atomic_store(&t->arrived, 0);
    t->best = 0;
    memset(t->layer, 0, sizeof t->layer);
    pthread_t th[2];
    member m[2] = {{t, 0, 0}, {t, 1, 0}};
    for (int i = 0; i < t->nthreads; i++)
        pthread_create(&th[i], NULL, member_main, &m[i]);
    for (int i = 0; i < t->nthreads; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < t->nthreads; i++)
        for (int l = 0; l < 3; l++)
            t->layer[i][l] /= t->reps - BATCH;
}

/* max |a - b| / max |b| of the blocked output against the NCHW reference */
static double blocked_error(const block *b, const float *ref)
{
    size_t n = (size_t)b->ci * (size_t)b->hw * (size_t)b->hw;
    float *r = floats(n);
    to_blocked(ref, r, b->ci);
    double err = 0, top = 0;
    for (size_t i = 0; i < n; i++) {
        err = fmax(err, fabs((double)r[i] - (double)b->by[i]));
        top = fmax(top, fabs((double)r[i]));
    }
    free(r);
    return err / top;
}

/* ---- mlufuse's kernels for the same block --------------------------------------------- */

static void append_dense(char **s, size_t *len, size_t *cap, const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (*cap - *len < 32) {
            *cap = *cap * 2 + 64;
            if (!(*s = realloc(*s, *cap))) {
                fprintf(stderr, "bench_blocked_layout: out of memory\n");
                exit(2);
            }
        }
        *len += (size_t)snprintf(*s + *len, *cap - *len, i ? ", %.9g" : "%.9g", (double)v[i]);
    }
}

static void append(char **s, size_t *len, size_t *cap, const char *text)
{
    size_t n = strlen(text);
    if (*cap - *len <= n) {
        *cap = *cap * 2 + n + 64;
        if (!(*s = realloc(*s, *cap))) {
            fprintf(stderr, "bench_blocked_layout: out of memory\n");
            exit(2);
        }
    }
    memcpy(*s + *len, text, n + 1);
    *len += n;
}

/* The block as .mfir text, its weights dense. */
static char *block_mfir(const block *b)
{
    char *s = NULL, line[512];
    size_t len = 0, cap = 0;
    int hw = b->hw, ci = b->ci, ce = b->ce;
    snprintf(line, sizeof line, "graph @block(%%x: f32[1,%d,%d,%d]) {\n", ci, hw, hw);
    append(&s, &len, &cap, line);
    struct {
        const char *name, *type;
        const float *v;
        size_t n;
    } c[6] = {{"w1", "f32[%d,%d,1,1]", b->w1, (size_t)ce * (size_t)ci},
              {"b1", "f32[%d]", b->b1, (size_t)ce},
              {"w2", "f32[%d,1,3,3]", b->w2, (size_t)ce * 9},
              {"b2", "f32[%d]", b->b2, (size_t)ce},
              {"w3", "f32[%d,%d,1,1]", b->w3, (size_t)ci * (size_t)ce},
              {"b3", "f32[%d]", b->b3, (size_t)ci}};
    int dims[6][2] = {{ce, ci}, {ce, 0}, {ce, 0}, {ce, 0}, {ci, ce}, {ci, 0}};
    for (int i = 0; i < 6; i++) {
        char type[64];
        snprintf(type, sizeof type, c[i].type, dims[i][0], dims[i][1]);
        snprintf(line, sizeof line, "  %%%s = const %s dense<", c[i].name, type);
        append(&s, &len, &cap, line);
        append_dense(&s, &len, &cap, c[i].v, c[i].n);
        append(&s, &len, &cap, ">\n");
    }
    snprintf(line, sizeof line,
             "  %%e = conv2d(%%x, %%w1, %%b1) : f32[1,%d,%d,%d]\n"
             "  %%ea = clamp(%%e) {min=0.0, max=6.0} : f32[1,%d,%d,%d]\n"
             "  %%d = conv2d(%%ea, %%w2, %%b2) {stride=[1,1], padding=[1,1], groups=%d} : "
             "f32[1,%d,%d,%d]\n"
             "  %%da = clamp(%%d) {min=0.0, max=6.0} : f32[1,%d,%d,%d]\n"
             "  %%p = conv2d(%%da, %%w3, %%b3) : f32[1,%d,%d,%d]\n"
             "  %%s = add(%%p, %%x) : f32[1,%d,%d,%d]\n  return %%s\n}\n",
             ce, hw, hw, ce, hw, hw, ce, ce, hw, hw, ce, hw, hw, ci, hw, hw, ci, hw, hw);
    append(&s, &len, &cap, line);
    return s;
}

/* Median seconds of mf_module_run on the block at core_number; *err: its output against
 * the reference.  Negative: it failed (the message printed). */
static double mlufuse_time(const block *b, const mf_cg_target *target, int core_number, int reps,
                           const float *ref, double *err)
{
    char *text = block_mfir(b);
    mf_graph *g = NULL;
    mf_module *m = NULL;
    mf_tensor *x = NULL, *xd = NULL;
    mf_module_options opt = mf_module_default_options();
    opt.core_number = core_number;
    opt.cpu = target ? target->cpu : NULL;
    opt.tier = MF_TIER_FULL;
    int64_t shape[4] = {1, b->ci, b->hw, b->hw};
    size_t n = (size_t)b->ci * (size_t)b->hw * (size_t)b->hw;
    double *t = malloc(sizeof *t * (size_t)reps), med = -1;
    if (!t || mf_graph_parse(text, "block", &g) || mf_module_create(g, &opt, &m) ||
        mf_tensor_from_data(MF_F32, 4, shape, b->x, n * 4, &x) ||
        mf_tensor_to(x, MF_DEVICE_MLU(0), &xd)) {
        fprintf(stderr, "bench_blocked_layout: mlufuse: %s\n", mf_last_error());
        goto done;
    }
    for (int i = -reps / 10 - 1; i < reps; i++) {
        mf_tensor *y = NULL, *yh = NULL;
        double t0 = bench_now();
        if (mf_module_run(m, 1, &xd, 1, &y)) {
            fprintf(stderr, "bench_blocked_layout: mlufuse: %s\n", mf_last_error());
            goto done;
        }
        double dt = bench_now() - t0;
        if (i >= 0)
            t[i] = dt;
        if (i == reps - 1 && !mf_tensor_to(y, MF_DEVICE_CPU, &yh)) {
            const float *yv = mf_tensor_data(yh);
            double e = 0, top = 0;
            for (size_t k = 0; k < n; k++) {
                e = fmax(e, fabs((double)yv[k] - (double)ref[k]));
                top = fmax(top, fabs((double)ref[k]));
            }
            *err = e / top;
        }
        mf_tensor_free(yh);
        mf_tensor_free(y);
    }
    qsort(t, (size_t)reps, sizeof *t, bench_cmp_double);
    med = t[reps / 2];
done:
    free(t);
    mf_tensor_free(xd);
    mf_tensor_free(x);
    mf_module_destroy(m);
    mf_graph_destroy(g);
    free(text);
    return med;
}

int main(int argc, char **argv)
{
    static mf_cg_target named;
    const mf_cg_target *target;
    if (!bench_cpu_arg(argc, argv, &named, &target))
        return 2;
    const mf_cg_target *shaped = bench_target_or_host(target);
    if (!shaped)
        return 2;
    int lanes = shaped->shape.lanes;
    bool runs = lanes == 16
                    ? __builtin_cpu_supports("avx512f")
                    : lanes == 8 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    printf("target %s: %d lanes", shaped->cpu, lanes);
    if (!runs) {
        printf(": skipped (kernels for 16 lanes need AVX-512F, for 8 AVX2 + FMA: this machine has "
               "not %s)\n",
               lanes == 16 || lanes == 8 ? "them" : "a kernel of this width");
        return 0;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    printf("; blocks of %d channels; %ld CPUs online%s\n", lanes, ncpu,
           ncpu < 2 ? " (two threads share one: their figures mean nothing)" : "");
    printf("us a block: best mean of %d-run batches (hand-written), median run (mlufuse)\n", BATCH);
    static const int shapes[3][3] = {{28, 32, 192}, {14, 96, 576}, {7, 160, 960}};
    int rc = 0;
    for (int s = 0; s < 3; s++) {
        block b;
        bl_lanes = lanes, bl_h = bl_w = shapes[s][0];
        block_init(&b, shapes[s][0], shapes[s][1], shapes[s][2], lanes);
        size_t n = (size_t)b.ci * (size_t)b.hw * (size_t)b.hw;
        float *ref = floats(n);
        block_reference(&b, ref);
        printf("\n%dx%d %d -> %d -> %d + add:\n", b.hw, b.hw, b.ci, b.ce, b.ci);
        printf("  %-34s %8s %8s  %s\n", "", "1 thread", "2",
               "per layer, us (1 thread | 2: thread 0, thread 1)");
        for (int order = 0; order < 2; order++) {
            bl_rows_outer = order == 1;
            block_layout(&b);
            double one = 0, one_layer[3] = {0}, err = 0;
            team t = {.b = &b, .reps = 2000 + BATCH};
            for (int nt = 1; nt <= 2; nt++) {
                t.nthreads = nt;
                team_run(&t);
                err = fmax(err, blocked_error(&b, ref));
                if (nt == 1) {
                    one = t.best;
                    memcpy(one_layer, t.layer[0], sizeof one_layer);
                }
            }
            printf("  %-34s %8.1f %8.1f  expand %.1f | %.1f, %.1f; depthwise %.1f | %.1f, %.1f; "
                   "project %.1f | %.1f, %.1f\n",
                   order ? "[H][C/L][W][L] (rows outermost)" : "[C/L][H][W][L] (NCHWc)", one * 1e6,
                   t.best * 1e6, one_layer[0] * 1e6, t.layer[0][0] * 1e6, t.layer[1][0] * 1e6,
                   one_layer[1] * 1e6, t.layer[0][1] * 1e6, t.layer[1][1] * 1e6, one_layer[2] * 1e6,
                   t.layer[0][2] * 1e6, t.layer[1][2] * 1e6);
            if (err > 1e-5) {
                printf("  error: the blocked output is %.2e off the reference\n", err);
                rc = 1;
            }
        }
        double e1 = 0, e4 = 0;
        double m1 = mlufuse_time(&b, target, 1, 1000, ref, &e1),
               m4 = mlufuse_time(&b, target, 4, 1000, ref, &e4);
        if (m1 < 0 || m4 < 0)
            rc = 1;
        else
            printf("  %-34s %8.1f %8.1f  (output within %.1e, %.1e of the reference)\n",
                   "mlufuse, NCHW (core_number 1, 4)", m1 * 1e6, m4 * 1e6, e1, e4);
        free(ref);
        block_free(&b);
    }
    return rc;
}
