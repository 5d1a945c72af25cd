/* test_cg_winograd.c — Winograd F(4,3) on every target this host can run: the input and
 * output transforms' lowerings against their reference kernels in both layouts (tiles or
 * channels in the lanes; odd sizes, padding 0, 1 and 2, batch 2, channel counts that are
 * not multiples of the lanes, tile rows longer than a vector of tiles, groups of several
 * tile rows (the last overlapping the one before), the bias, relu and
 * residual-add epilogue), on each named target,
 * the host and the scalar path; the three as one kernel (a Winograd chain: blocks of tile rows,
 * packed and plain weights, kernels for 1 and 4 cores) against the reference; and whole 3x3
 * convolutions that the winograd pass rewrites, run by a module compiled for each target,
 * against the reference conv2d within 0.3 %, and fused (the chain one kernel) against unfused.
 * A target the host cannot execute is skipped and counted. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>

#include "cg_check.h"
#include "cg_targets.h"
#include "module/module.h"
#include "tests/support/compare.h"

/* ---- the transforms, one kernel each ---------------------------------------------------- */

static mf_graph *input_graph(int64_t n, int64_t c, int64_t h, int64_t w, int64_t pad, int cl)
{
    mf_graph *g = mf_graph_new("wino_in");
    mf_value *x = cg_in(g, "x", (mf_type){MF_F32, 4, {n, c, h, w}});
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_WINOGRAD_INPUT, a);
    TREF_INTS(MF_OP_WINOGRAD_INPUT, a, "padding", pad, pad);
    tref_set_int(MF_OP_WINOGRAD_INPUT, a, "channels_last", cl);
    mf_value *v = cg_node(g, MF_OP_WINOGRAD_INPUT, 1, &x, a);
    mf_graph_set_outputs(g, 1, &v);
    return g;
}

/* winograd_output of M for output [n, k, oh, ow]; with bias, relu and a residual add when
 * epilogue. */
static mf_graph *output_graph(int64_t n, int64_t k, int64_t oh, int64_t ow, bool epilogue, int cl)
{
    mf_graph *g = mf_graph_new("wino_out");
    int64_t t = n * ((oh + 3) / 4) * ((ow + 3) / 4);
    mf_value *in[2] = {cg_in(g, "m", cl ? (mf_type){MF_F32, 3, {36, t, k}} : (mf_type){MF_F32, 3, {36, k, t}}),
                       epilogue ? cg_in(g, "b", (mf_type){MF_F32, 1, {k}}) : NULL};
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_WINOGRAD_OUTPUT, a);
    assert_int_equal(mf_attr_set_ints(MF_OP_WINOGRAD_OUTPUT, a, "size", 3, (int64_t[]){n, oh, ow}), MF_OK);
    tref_set_int(MF_OP_WINOGRAD_OUTPUT, a, "channels_last", cl);
    mf_value *y = cg_node(g, MF_OP_WINOGRAD_OUTPUT, epilogue ? 2 : 1, in, a);
    if (epilogue) {
        mf_value *skip = cg_in(g, "skip", (mf_type){MF_F32, 4, {n, k, oh, ow}});
        y = CG1(g, MF_OP_RELU, CG2(g, MF_OP_ADD, y, skip));
    }
    mf_graph_set_outputs(g, 1, &y);
    return g;
}

static void check_transforms(const mf_cg_target *t)
{
    mf_graph *gs[] = {
        /* tiles in the lanes */
        input_graph(2, 5, 11, 13, 1, 0), /* batch 2, odd plane */
        input_graph(1, 3, 9, 10, 0, 0),  /* no padding */
        input_graph(1, 7, 20, 70, 1, 0), /* 18 tiles a row: more than one vector of tiles */
        input_graph(1, 2, 6, 6, 2, 0),   /* padding 2, 2x2 tiles */
        /* groups of several tile rows (rows of fewer tiles than lanes), the last group of
         * rows overlapping the one before, a row's input in two vectors */
        input_graph(1, 3, 28, 28, 1, 0), /* 7x7 tiles: 2 rows in 16 lanes */
        input_graph(2, 3, 14, 14, 1, 0), /* 4x4 tiles: 4 rows in 16 lanes, 2 in 8 */
        input_graph(1, 4, 30, 18, 1, 0), /* 8x5 tiles: 3 rows in 16 lanes, 20 columns a row */
        input_graph(1, 2, 13, 21, 2, 0), /* padding 2, 5x6 tiles */
        input_graph(1, 2, 56, 56, 1, 0), /* 14x14 tiles: 2 overlapping groups a row in 8 lanes */
        output_graph(2, 5, 11, 13, true, 0),
        output_graph(1, 3, 9, 10, false, 0),
        output_graph(1, 7, 20, 70, true, 0),
        output_graph(1, 17, 8, 8, true, 0),
        /* rows of fewer tiles than half the lanes: several tile rows a vector (2 or 4 of a 14x14
         * plane's 4 x 4 tiles at 8 or 16 lanes; 4 rows of 2 tiles at 8), a last group of fewer
         * rows (2 of 4; 1 of 2 in the 11x13 case above), the bottom rows past the plane */
        output_graph(2, 6, 14, 14, true, 0),
        output_graph(1, 5, 7, 7, false, 0),
        output_graph(1, 4, 22, 8, true, 0),
        output_graph(1, 3, 13, 14, true, 0),
        /* channels in the lanes: counts below, at and past a vector */
        input_graph(2, 5, 11, 13, 1, 1),
        input_graph(1, 19, 9, 10, 0, 1),
        input_graph(1, 16, 14, 14, 1, 1),
        input_graph(1, 33, 6, 6, 2, 1),
        output_graph(2, 5, 11, 13, true, 1),
        output_graph(1, 19, 9, 10, false, 1),
        output_graph(1, 16, 14, 14, true, 1),
        output_graph(1, 33, 8, 8, true, 1),
    };
    for (size_t i = 0; i < sizeof gs / sizeof gs[0]; i++) {
        cg_check_opts(gs[i], (cg_opts){.lo = -1, .hi = 1, .seed = 40 + i, .target = t, .relmax = 1e-5});
        mf_graph_destroy(gs[i]);
    }
}

static void test_transforms_every_target(void **state)
{
    (void)state;
    every_target(check_transforms, "Winograd transforms");
}

/* ---- the whole chain as one kernel (ir/winograd_chain.c) -------------------------------- */

/* relu(winograd_output(matmul(U, winograd_input(x)), b) + skip) of a conv of cin -> k
 * channels, U an input packed in blocks of `block` rows (0: plain): one subgraph, which
 * codegen lowers as one kernel only as the chain. */
static mf_graph *chain_graph(int64_t n, int64_t cin, int64_t h, int64_t w, int64_t k, int64_t pad,
                             int64_t block)
{
    mf_graph *g = mf_graph_new("wino_chain");
    mf_value *x = cg_in(g, "x", (mf_type){MF_F32, 4, {n, cin, h, w}});
    mf_value *u = cg_in(g, "u", (mf_type){MF_F32, 3, {36, k, cin}});
    mf_value *b = cg_in(g, "b", (mf_type){MF_F32, 1, {k}});
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_WINOGRAD_INPUT, a);
    TREF_INTS(MF_OP_WINOGRAD_INPUT, a, "padding", pad, pad);
    mf_value *v = cg_node(g, MF_OP_WINOGRAD_INPUT, 1, &x, a);
    mf_op_default_attrs(MF_OP_MATMUL, a);
    tref_set_int(MF_OP_MATMUL, a, "packed", block);
    mf_value *m = cg_node(g, MF_OP_MATMUL, 2, (mf_value *[]){u, v}, a);
    mf_op_default_attrs(MF_OP_WINOGRAD_OUTPUT, a);
    assert_int_equal(mf_attr_set_ints(MF_OP_WINOGRAD_OUTPUT, a, "size", 3,
                                      (int64_t[]){n, h + 2 * pad - 2, w + 2 * pad - 2}),
                     MF_OK);
    mf_value *y = cg_node(g, MF_OP_WINOGRAD_OUTPUT, 2, (mf_value *[]){m, b}, a);
    mf_value *skip = cg_in(g, "skip", y->type);
    y = CG1(g, MF_OP_RELU, CG2(g, MF_OP_ADD, y, skip));
    mf_graph_set_outputs(g, 1, &y);
    mf_winograd_chain wc;
    assert_true(mf_winograd_chain_of(g, m->producer, &wc) && mf_winograd_chain_fits(&wc));
    return g;
}

static void check_chains(const mf_cg_target *t)
{
    static const int64_t shapes[][7] = {
        /* n, cin, h, w, k, pad, block */
        {1, 8, 20, 28, 16, 1, 8}, /* 5x7 tiles: two tile rows a vector at 16 lanes */
        {2, 5, 11, 13, 6, 1, 0},  /* batch 2, odd plane, plain weights of 6 rows */
        {1, 6, 14, 14, 8, 1, 4},  /* 4x4 tiles: several tile rows a vector */
        {1, 3, 10, 70, 8, 0, 8},  /* no padding, 17 tiles a row: more than a vector of them */
        {1, 4, 56, 56, 8, 1, 8},  /* 14x14 tiles: blocks of tile rows, a block per partition */
        {1, 2, 9, 9, 12, 2, 12},  /* padding 2, a packing block of 12 rows */
        {3, 4, 12, 12, 24, 1, 8}, /* three images' blocks, three packing blocks */
        {1, 5, 26, 38, 7, 1, 0},  /* plain weights of 7 rows (a prime: one-row register tiles) */
        {1, 8, 16, 16, 128, 1,
         8}, /* products of 128 channels: passes over them, split over partitions */
        {1, 3, 44, 64, 8, 1, 8}, /* 11 tile rows: a last block of fewer rows */
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int64_t *s = shapes[i];
        mf_graph *g = chain_graph(s[0], s[1], s[2], s[3], s[4], s[5], s[6]);
        for (int cores = 1; cores <= 4;
             cores *= 4) /* 4: blocks split by passes over output channels */
            cg_check_opts(g, (cg_opts){.lo = -1,
                                       .hi = 1,
                                       .seed = 60 + i,
                                       .target = t,
                                       .relmax = 1e-4,
                                       .cores = cores});
        mf_graph_destroy(g);
    }
}

static void test_chains_every_target(void **state)
{
    (void)state;
    every_target(check_chains, "Winograd chains");
}

/* A chain is the stride-1 3x3 conv of its input: an output of the same number of tiles on
 * another grid (which shape inference allows) is not one (the kernel's blocks follow the
 * input's grid: it wrote past the output). */
static void test_chain_is_the_convs_grid(void **state)
{
    (void)state;
    mf_graph *g = mf_graph_new("wino_grid");
    mf_value *x = cg_in(g, "x", (mf_type){MF_F32, 4, {1, 4, 8, 8}}); /* 2 x 2 tiles */
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_WINOGRAD_INPUT, a);
    TREF_INTS(MF_OP_WINOGRAD_INPUT, a, "padding", 1, 1);
    mf_value *v = cg_node(g, MF_OP_WINOGRAD_INPUT, 1, &x, a);
    mf_value *m = cg_node(g, MF_OP_MATMUL, 2,
                          (mf_value *[]){cg_in(g, "u", (mf_type){MF_F32, 3, {36, 4, 4}}), v}, NULL);
    mf_op_default_attrs(MF_OP_WINOGRAD_OUTPUT, a);
    assert_int_equal(mf_attr_set_ints(MF_OP_WINOGRAD_OUTPUT, a, "size", 3, (int64_t[]){1, 4, 16}),
                     MF_OK); /* 1 x 4 */
    mf_value *y = cg_node(g, MF_OP_WINOGRAD_OUTPUT, 1, &m, a);
    mf_graph_set_outputs(g, 1, &y);
    assert_false(mf_winograd_chain_of(g, m->producer, NULL) ||
                 mf_winograd_chain_of(g, y->producer, NULL));
    mf_graph_destroy(g);
}

/* ---- whole convolutions through the pass and a module ---------------------------------- */

static mf_value *const_rand(mf_graph *g, const char *name, int rank, const int64_t *shape, uint64_t seed)
{
    mf_tensor *t;
    assert_int_equal(mf_tensor_rand(MF_F32, rank, shape, seed, -0.5, 0.5, MF_DEVICE_CPU, &t), MF_OK);
    mf_type ty = {MF_F32, rank, {0}};
    memcpy(ty.shape, shape, sizeof *shape * (size_t)rank);
    size_t nb = mf_type_nbytes(&ty);
    mf_buffer *b = mf_buffer_new_host(nb);
    assert_non_null(b);
    memcpy(b->data, mf_tensor_data(t), nb);
    mf_value *v = mf_graph_add_const(g, name, &ty, b);
    mf_buffer_release(b);
    mf_tensor_free(t);
    return v;
}

/* relu(conv2d(x, w, b) + skip) with constant w and b; x and skip are inputs. */
static mf_graph *conv_graph(int64_t n, int64_t cin, int64_t h, int64_t w, int64_t cout, int64_t pad, uint64_t seed)
{
    mf_graph *g = mf_graph_new("wino_conv");
    mf_value *x = cg_in(g, "x", (mf_type){MF_F32, 4, {n, cin, h, w}});
    mf_value *in[3] = {x, const_rand(g, "w", 4, (int64_t[]){cout, cin, 3, 3}, seed),
                       const_rand(g, "b", 1, (int64_t[]){cout}, seed + 1)};
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CONV2D, a);
    TREF_INTS(MF_OP_CONV2D, a, "padding", pad, pad);
    mf_value *y = cg_node(g, MF_OP_CONV2D, 3, in, a);
    mf_value *skip = cg_in(g, "skip", y->type);
    y = CG1(g, MF_OP_RELU, CG2(g, MF_OP_ADD, y, skip));
    mf_graph_set_outputs(g, 1, &y);
    return g;
}

/* g after the compile pipeline (fused) for a target of `lanes` lanes: a copy to destroy. */
static mf_graph *after_pipeline(const mf_graph *g, int lanes)
{
    mf_graph *c;
    assert_int_equal(mf_graph_clone(g, NULL, &c), MF_OK);
    mf_opt_options o = mf_opt_default_options();
    o.passes = MF_COMPILE_PIPELINE;
    o.winograd = 1;
    o.lanes = lanes;
    o.fusion = 1;
    assert_int_equal(mf_graph_optimize(c, &o, NULL), MF_OK);
    return c;
}

/* Nodes of op in g after the compile pipeline for a target of `lanes` lanes. */
static int count_after_pipeline(const mf_graph *g, int lanes, mf_op op)
{
    mf_graph *c = after_pipeline(g, lanes);
    int k = 0;
    for (int i = 0; i < c->nnodes; i++)
        k += c->nodes[i]->op == op;
    mf_graph_destroy(c);
    return k;
}

/* Whether that pipeline fuses g's Winograd chain into one subgraph. */
static bool chain_fused(const mf_graph *g, int lanes)
{
    mf_graph *c = after_pipeline(g, lanes);
    bool fused = false;
    mf_winograd_chain wc;
    for (int i = 0; i < c->nnodes; i++)
        if (c->nodes[i]->op == MF_OP_WINOGRAD_OUTPUT && mf_winograd_chain_of(c, c->nodes[i], &wc))
            fused = wc.in->subgraph == c->nodes[i]->subgraph && wc.mm->subgraph == c->nodes[i]->subgraph;
    mf_graph_destroy(c);
    return fused;
}

/* Convs run per layout (tiles in the lanes, channels in the lanes), as a fused chain, and on
 * targets of MF_WINOGRAD_CHAIN_MIN_LANES or more (where segmentation fuses chains). */
static int layouts[2], chains, wide;

static void check_convs(const char *cpu, int lanes)
{
    static const int64_t shapes[][6] = {
        /* n, cin, h, w, cout, pad */
        {2, 9, 13, 10, 11, 1},   /* batch 2, odd channels and plane */
        {1, 8, 11, 35, 8, 0},    /* no padding: 9x33 output */
        {1, 16, 20, 70, 20, 1},  /* 18 tiles a row */
        {1, 12, 8, 8, 24, 1},    /* 4 tiles: channels in the lanes on targets of 8 and 16 */
        {1, 16, 112, 112, 8, 1}, /* 1.8 MB of transformed tiles: one kernel at 16 lanes */
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int64_t *s = shapes[i];
        mf_graph *g = conv_graph(s[0], s[1], s[2], s[3], s[4], s[5], 70 + i);
        if (count_after_pipeline(g, lanes, MF_OP_WINOGRAD_OUTPUT) != 1)
            fail_msg("conv %zu was not rewritten for %d lanes", i, lanes);
        layouts[mf_winograd_channels_last(g->nodes[0], lanes)]++;
        mf_tensor *in[2], *got, *want;
        for (int k = 0; k < 2; k++)
            assert_int_equal(mf_tensor_rand(MF_F32, g->inputs[k]->type.rank, g->inputs[k]->type.shape, 90 + i + k,
                                            -1, 1, MF_DEVICE_MLU(0), &in[k]),
                             MF_OK);
        chains += chain_fused(g, lanes);
        wide += lanes >= MF_WINOGRAD_CHAIN_MIN_LANES;
        mf_module_options o = mf_module_default_options();
        o.cpu = cpu;
        o.winograd = 1;
        mf_module *m;
        if (mf_module_create(g, &o, &m))
            fail_msg("%s: %s", cpu ? cpu : "host", mf_last_error());
        assert_int_equal(mf_module_run(m, 2, in, 1, &got), MF_OK);
        assert_int_equal(mf_graph_interpret(g, 2, in, 1, &want), MF_OK);
        double d = tsupport_rel_diff(got, want, 1e-30);
        if (!(d <= 3e-3))
            fail_msg("%s, conv %zu: relative difference %g", cpu ? cpu : "host", i, d);
        mf_module_destroy(m);
        /* unfused (one kernel per op): the same within float rounding */
        mf_tensor *unfused;
        o.fusion = 0;
        if (mf_module_create(g, &o, &m))
            fail_msg("%s: %s", cpu ? cpu : "host", mf_last_error());
        assert_int_equal(mf_module_run(m, 2, in, 1, &unfused), MF_OK);
        d = tsupport_rel_diff(got, unfused, 1e-30);
        if (!(d <= 1e-5))
            fail_msg("%s, conv %zu: fused and unfused differ by %g", cpu ? cpu : "host", i, d);
        mf_tensor_free(unfused);
        mf_tensor_free(got);
        mf_tensor_free(want);
        mf_tensor_free(in[0]);
        mf_tensor_free(in[1]);
        mf_module_destroy(m);
        mf_graph_destroy(g);
    }
}

static void test_convs_every_target(void **state)
{
    mf_cg_target host;
    assert_int_equal(mf_cg_target_init(NULL, &host), MF_OK);
    int ran = 0, skipped = 0;
    for (int i = 0; i < NTARGETS; i++) {
        mf_cg_target t;
        assert_int_equal(mf_cg_target_init(targets[i].cpu, &t), MF_OK);
        if (!host_runs(&host, &targets[i])) {
            printf("  %s: skipped, this host (%s) cannot run its code\n", targets[i].cpu, host.cpu);
            skipped++;
            continue;
        }
        check_convs(targets[i].cpu, t.shape.lanes);
        ran++;
    }
    check_convs(NULL, host.shape.lanes);
    printf("  Winograd convs checked for %d named targets + host %s; %d skipped; %d with tiles, %d "
           "with channels in "
           "the lanes, %d fused into one kernel\n",
           ran, host.cpu, skipped, layouts[0], layouts[1], chains);
    assert_true(layouts[0] > 0 && (host.shape.lanes <= 4 || layouts[1] > 0) &&
                (chains > 0) == (wide > 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transforms_every_target),
        cmocka_unit_test(test_chains_every_target),
        cmocka_unit_test(test_chain_is_the_convs_grid),
        cmocka_unit_test(test_convs_every_target),
    };
    return cmocka_run_group_tests_name("codegen_winograd", tests, NULL, NULL);
}
