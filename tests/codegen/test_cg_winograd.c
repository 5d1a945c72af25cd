/* test_cg_winograd.c — Winograd F(4,3) on every target this host can run: the input and
 * output transforms' lowerings against their reference kernels in both layouts (tiles or
 * channels in the lanes; odd sizes, padding 0, 1 and 2, batch 2, channel counts that are
 * not multiples of the lanes, tile rows longer than a vector of tiles, groups of several
 * tile rows (the last overlapping the one before), the bias, relu and
 * residual-add epilogue), on each named target,
 * the host and the scalar path; and whole 3x3 convolutions that the winograd pass rewrites,
 * run by a module compiled for each target, against the reference conv2d within 0.3 %.
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

/* Nodes of op in g after the compile pipeline for a target of `lanes` lanes. */
static int count_after_pipeline(const mf_graph *g, int lanes, mf_op op)
{
    mf_graph *c;
    assert_int_equal(mf_graph_clone(g, NULL, &c), MF_OK);
    mf_opt_options o = mf_opt_default_options();
    o.passes = MF_COMPILE_PIPELINE;
    o.winograd = 1;
    o.lanes = lanes;
    assert_int_equal(mf_graph_optimize(c, &o, NULL), MF_OK);
    int k = 0;
    for (int i = 0; i < c->nnodes; i++)
        k += c->nodes[i]->op == op;
    mf_graph_destroy(c);
    return k;
}

/* Convs run per layout (tiles in the lanes, channels in the lanes). */
static int layouts[2];

static void check_convs(const char *cpu, int lanes)
{
    static const int64_t shapes[][6] = {
        /* n, cin, h, w, cout, pad */
        {2, 9, 13, 10, 11, 1}, /* batch 2, odd channels and plane */
        {1, 8, 11, 35, 8, 0},  /* no padding: 9x33 output */
        {1, 16, 20, 70, 20, 1}, /* 18 tiles a row */
        {1, 12, 8, 8, 24, 1},   /* 4 tiles: channels in the lanes on targets of 8 and 16 */
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
    printf("  Winograd convs checked for %d named targets + host %s; %d skipped; %d with tiles, %d with channels in "
           "the lanes\n", ran, host.cpu, skipped, layouts[0], layouts[1]);
    assert_true(layouts[0] > 0 && (host.shape.lanes <= 4 || layouts[1] > 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transforms_every_target),
        cmocka_unit_test(test_convs_every_target),
    };
    return cmocka_run_group_tests_name("codegen_winograd", tests, NULL, NULL);
}
