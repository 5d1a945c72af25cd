/* test_tiers.c — tiered compilation: tiers fast, full and auto give the interpreter's
 * results within the op tolerance (a traced conv stack with every conv path, MNIST, a
 * ResNet block); with the background compiler held by the test hook, a run proceeds on
 * tier 0 while tier 1 is pending and the next run after release is tier 1; a new batch
 * size starts on tier 0 unless tier 1 of a batch size dividing it is in place: then a
 * graph that keeps its batch rows apart runs that plan slice after slice at once, and one
 * that mixes them (a softmax over the batch) stays on tier 0; a module destroyed with a tier-up pending or running leaks
 * nothing (run it under make sanitize); bad MLUFUSE_TIER values and tier options are
 * refused at module creation.  No test depends on timing or on the host CPU. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/mnist.h"
#include "models/resnet_block.h"
#include "module/module.h"
#include "tests/support/compare.h"
#include "tests/support/tier_gate.h"


/* x [batch,6,20,19] -> conv 3x3 (bias) -> relu -> depthwise 3x3 s2 -> conv 1x1 -> grouped
 * 3x3 (3 groups) + add -> max pool -> flatten -> linear: each conv path of tier 0. */
static mf_graph *trace_conv_stack(int64_t batch, mf_tensor **x_out)
{
    mf_tensor *w[6], *x, *t[10];
    /* weights of the four convs and the linear; w[4] is the first conv's bias */
    const int64_t shapes[6][4] = {{24, 6, 3, 3}, {24, 1, 3, 3}, {36, 24, 1, 1}, {36, 12, 3, 3}, {24}, {10, 36 * 25}};
    const int ranks[6] = {4, 4, 4, 4, 1, 2};
    for (int i = 0; i < 6; i++)
        assert_int_equal(mf_tensor_rand(MF_F32, ranks[i], shapes[i], 100 + (uint64_t)i, -0.3, 0.3,
                                        MF_DEVICE_MLU(0), &w[i]), MF_OK);
    assert_int_equal(mf_tensor_rand(MF_F32, 4, (int64_t[]){batch, 6, 20, 19}, 7, -1, 1, MF_DEVICE_MLU(0), &x), MF_OK);
    mf_conv2d_params pad1 = MF_CONV2D_DEFAULT, dw = MF_CONV2D_DEFAULT, grouped = MF_CONV2D_DEFAULT;
    pad1.padding[0] = pad1.padding[1] = 1;
    dw = pad1;
    dw.stride[0] = dw.stride[1] = 2;
    dw.groups = 24;
    grouped = pad1;
    grouped.groups = 3;
    mf_graph *g;
    assert_int_equal(mf_trace_begin(1, &x), MF_OK);
    assert_int_equal(mf_conv2d(x, w[0], w[4], pad1, &t[0]), MF_OK);
    assert_int_equal(mf_relu(t[0], &t[1]), MF_OK);
    assert_int_equal(mf_conv2d(t[1], w[1], NULL, dw, &t[2]), MF_OK);
    assert_int_equal(mf_conv2d(t[2], w[2], NULL, MF_CONV2D_DEFAULT, &t[3]), MF_OK);
    assert_int_equal(mf_conv2d(t[3], w[3], NULL, grouped, &t[4]), MF_OK);
    assert_int_equal(mf_add(t[4], t[3], 1.0, &t[5]), MF_OK);
    mf_pool2d_params pool = {{2, 2}, {2, 2}, {0, 0}, {1, 1}, 0, 0};
    assert_int_equal(mf_max_pool2d(t[5], pool, &t[6]), MF_OK);
    assert_int_equal(mf_flatten(t[6], 1, -1, &t[7]), MF_OK);
    assert_int_equal(mf_linear(t[7], w[5], NULL, &t[8]), MF_OK);
    assert_int_equal(mf_trace_end(1, &t[8], &g), MF_OK);
    for (int i = 0; i < 9; i++)
        mf_tensor_free(t[i]);
    for (int i = 0; i < 6; i++)
        mf_tensor_free(w[i]);
    *x_out = x;
    return g;
}

/* The tier the run of m on x took, checked against the interpreter running g. */
static int run_and_compare(mf_module *m, const mf_graph *g, mf_tensor *x, const char *what)
{
    return tsupport_tier_run(m, g, x, what).last_run_tier;
}

/* Every tier equals the interpreter; fast stays on 0, full is 1 at once, auto reaches 1. */
static void check_tiers(const mf_graph *g, mf_tensor *x)
{
    mf_module *fast = tsupport_tier_module(g, MF_TIER_FAST), *full = tsupport_tier_module(g, MF_TIER_FULL), *aut = tsupport_tier_module(g, MF_TIER_AUTO);
    assert_int_equal(run_and_compare(fast, g, x, "fast"), 0);
    assert_int_equal(mf_module_wait_tier_up(fast), MF_OK); /* nothing pending: returns at once */
    assert_int_equal(run_and_compare(fast, g, x, "fast again"), 0);
    assert_int_equal(run_and_compare(full, g, x, "full"), 1);
    run_and_compare(aut, g, x, "auto, first run"); /* tier 0, or 1 if the kernels were cached */
    assert_int_equal(mf_module_wait_tier_up(aut), MF_OK);
    assert_int_equal(run_and_compare(aut, g, x, "auto after tier-up"), 1);
    mf_module_tier_info info;
    mf_module_get_tier_info(aut, &info);
    assert_int_equal(info.mode, MF_TIER_AUTO);
    assert_int_equal(info.pending, 0);
    assert_int_equal(info.failed, 0);
    mf_module_destroy(fast);
    mf_module_destroy(full);
    mf_module_destroy(aut);
}

static void test_conv_stack_tiers_equal(void **state)
{
    (void)state;
    mf_tensor *x;
    mf_graph *g = trace_conv_stack(2, &x);
    check_tiers(g, x);
    mf_tensor_free(x);
    mf_graph_destroy(g);
}

static void test_mnist_tiers_equal(void **state)
{
    (void)state;
    mnist_net net;
    mf_tensor *x, *y;
    mf_graph *g;
    assert_int_equal(mnist_init(&net, 2, MF_DEVICE_MLU(0)), MF_OK);
    assert_int_equal(mf_tensor_rand(MF_F32, 4, (int64_t[]){3, 1, 28, 28}, 3, 0, 1, MF_DEVICE_MLU(0), &x), MF_OK);
    assert_int_equal(mf_trace_begin(1, &x), MF_OK);
    assert_int_equal(mnist_forward(&net, x, &y), MF_OK);
    assert_int_equal(mf_trace_end(1, &y, &g), MF_OK);
    check_tiers(g, x);
    mf_tensor_free(y);
    mf_tensor_free(x);
    mnist_free(&net);
    mf_graph_destroy(g);
}

/* The unit tier runs with MLUFUSE_CACHE=off and a resnet block of its own size, so no
 * kernel is cached when the module is made: auto starts on tier 0. */
static void test_runs_on_tier0_while_tier1_is_held(void **state)
{
    (void)state;
    mf_tensor *x;
    mf_graph *g;
    assert_int_equal(resnet_block_trace(8, 9, 5, MF_DEVICE_MLU(0), &x, &g), MF_OK);
    tsupport_gate_close();
    mf_module *m = tsupport_tier_module(g, MF_TIER_AUTO);
    tsupport_gate_wait_reached(1); /* the background compiler is at the hook: nothing compiled */
    mf_module_tier_info info;
    mf_module_get_tier_info(m, &info);
    assert_int_equal(info.pending, 1);
    for (int i = 0; i < 3; i++) /* runs proceed while tier 1 is pending */
        assert_int_equal(run_and_compare(m, g, x, "held"), 0);
    tsupport_gate_open();
    assert_int_equal(mf_module_wait_tier_up(m), MF_OK);
    assert_int_equal(run_and_compare(m, g, x, "released"), 1);
    mf_module_get_tier_info(m, &info);
    assert_int_equal(info.pending, 0);
    assert_true(info.tier_up_ms > 0);
    mf_module_destroy(m);
    tsupport_gate_remove();
    mf_tensor_free(x);
    mf_graph_destroy(g);
}

/* A new batch size is a new specialization: it answers on tier 0 while its tier 1 waits.
 * (Batches 1 and 3: no earlier test compiled them, or the kernel map would start them on
 * tier 1, as a warm start does.) */
static void test_new_batch_starts_on_tier0(void **state)
{
    (void)state;
    mf_tensor *x1, *x3;
    mf_graph *g = trace_conv_stack(1, &x1), *g3 = trace_conv_stack(3, &x3); /* same weights */
    tsupport_gate_close();
    mf_module *m = tsupport_tier_module(g, MF_TIER_AUTO);
    tsupport_gate_wait_reached(1);
    assert_int_equal(run_and_compare(m, g3, x3, "batch 3, held"), 0);
    assert_int_equal(mf_module_num_specializations(m), 2);
    tsupport_gate_open();
    assert_int_equal(mf_module_wait_tier_up(m), MF_OK);
    assert_int_equal(run_and_compare(m, g3, x3, "batch 3, released"), 1);
    assert_int_equal(run_and_compare(m, g, x1, "batch 1, released"), 1);
    mf_module_destroy(m);
    tsupport_gate_remove();
    mf_tensor_free(x1);
    mf_tensor_free(x3);
    mf_graph_destroy(g);
    mf_graph_destroy(g3);
}

/* A module of g (batch 1, input x1) running on its tier 1; the background compiler is then
 * held, so the next new shape's own tier 1 waits. */
static mf_module *on_tier1_then_hold(const mf_graph *g, mf_tensor *x1)
{
    mf_module *m = tsupport_tier_module(g, MF_TIER_AUTO);
    assert_int_equal(mf_module_wait_tier_up(m), MF_OK);
    assert_int_equal(run_and_compare(m, g, x1, "batch 1"), 1);
    tsupport_gate_close();
    return m;
}

static void release_all(mf_module *m, mf_tensor *x1, mf_tensor *xn, mf_graph *g, mf_graph *gn)
{
    mf_module_destroy(m);
    tsupport_gate_remove();
    mf_tensor_free(x1);
    mf_tensor_free(xn);
    mf_graph_destroy(g);
    mf_graph_destroy(gn);
}

/* A new batch (gn, xn) of m while its own tier 1 is held: the first run is on `tier` in
 * `slices` slices; after release, on its own tier-1 plan; each equal to the interpreter. */
static void check_new_batch(mf_module *m, const mf_graph *gn, mf_tensor *xn, int tier, int slices)
{
    assert_int_equal(run_and_compare(m, gn, xn, "new batch, own tier 1 held"), tier);
    mf_module_tier_info info;
    mf_module_get_tier_info(m, &info);
    assert_int_equal(info.last_run_slices, slices);
    assert_int_equal(info.pending, 1);
    tsupport_gate_wait_reached(1);
    tsupport_gate_open();
    assert_int_equal(mf_module_wait_tier_up(m), MF_OK);
    assert_int_equal(run_and_compare(m, gn, xn, "new batch, own plan"), 1);
    mf_module_get_tier_info(m, &info);
    assert_int_equal(info.last_run_slices, 1);
}

/* A new batch size runs at once on the tier-1 plan of batch 1, in slices. */
static void test_new_batch_runs_in_slices(void **state)
{
    (void)state;
    mf_tensor *x1, *x6;
    mf_graph *g = trace_conv_stack(1, &x1), *g6 = trace_conv_stack(6, &x6);
    mf_module *m = on_tier1_then_hold(g, x1);
    check_new_batch(m, g6, x6, 1, 6);
    release_all(m, x1, x6, g, g6);
}

/* x [batch,12] -> linear -> relu -> softmax over dim 0: rows mix, so no slices. */
static mf_graph *trace_batch_softmax(int64_t batch, mf_tensor **x_out)
{
    mf_tensor *w, *x, *t[3];
    assert_int_equal(mf_tensor_rand(MF_F32, 2, (int64_t[]){7, 12}, 11, -0.5, 0.5, MF_DEVICE_MLU(0), &w), MF_OK);
    assert_int_equal(mf_tensor_rand(MF_F32, 2, (int64_t[]){batch, 12}, 12, -1, 1, MF_DEVICE_MLU(0), &x), MF_OK);
    mf_graph *g;
    assert_int_equal(mf_trace_begin(1, &x), MF_OK);
    assert_int_equal(mf_linear(x, w, NULL, &t[0]), MF_OK);
    assert_int_equal(mf_relu(t[0], &t[1]), MF_OK);
    assert_int_equal(mf_softmax(t[1], 0, &t[2]), MF_OK);
    assert_int_equal(mf_trace_end(1, &t[2], &g), MF_OK);
    for (int i = 0; i < 3; i++)
        mf_tensor_free(t[i]);
    mf_tensor_free(w);
    *x_out = x;
    return g;
}

static void test_new_batch_mixing_rows_is_not_sliced(void **state)
{
    (void)state;
    mf_tensor *x1, *x4;
    mf_graph *g = trace_batch_softmax(1, &x1), *g4 = trace_batch_softmax(4, &x4);
    mf_module *m = on_tier1_then_hold(g, x1);
    check_new_batch(m, g4, x4, 0, 1); /* tier 0 */
    release_all(m, x1, x4, g, g4);
}

static void *destroy_module(void *m)
{
    mf_module_destroy(m);
    return NULL;
}

/* Destroying a module whose tier-up is held (one running at the hook, one queued behind it)
 * cancels both and joins: no leak, no use after free, whichever comes first. */
static void test_destroy_with_tier_up_pending(void **state)
{
    (void)state;
    mf_tensor *x1, *x2;
    /* shapes no earlier test compiled: the kernel map would make them tier 1 at once */
    mf_graph *g = trace_conv_stack(4, &x1), *g2 = trace_conv_stack(5, &x2);
    tsupport_gate_close();
    mf_module *m = tsupport_tier_module(g, MF_TIER_AUTO);
    tsupport_gate_wait_reached(1);
    assert_int_equal(run_and_compare(m, g2, x2, "second shape, queued"), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, destroy_module, m), 0);
    tsupport_gate_open();
    pthread_join(t, NULL);
    tsupport_gate_remove();
    mf_tensor_free(x1);
    mf_tensor_free(x2);
    mf_graph_destroy(g);
    mf_graph_destroy(g2);
}

static void test_bad_tier_refused(void **state)
{
    (void)state;
    mf_tensor *x;
    mf_graph *g = trace_conv_stack(1, &x);
    mf_module *m = NULL;
    mf_module_options o = mf_module_default_options();
    setenv("MLUFUSE_TIER", "fastest", 1);
    assert_int_equal(mf_module_create(g, &o, &m), MF_ERR_INVALID);
    assert_null(m);
    assert_non_null(strstr(mf_last_error(), "MLUFUSE_TIER=fastest"));
    o.tier = MF_TIER_FULL; /* the option wins over the environment */
    assert_int_equal(mf_module_create(g, &o, &m), MF_OK);
    mf_module_destroy(m);
    setenv("MLUFUSE_TIER", "fast", 1);
    o.tier = MF_TIER_ENV;
    assert_int_equal(mf_module_create(g, &o, &m), MF_OK);
    mf_module_tier_info info;
    mf_module_get_tier_info(m, &info);
    assert_int_equal(info.mode, MF_TIER_FAST);
    mf_module_destroy(m);
    unsetenv("MLUFUSE_TIER");
    o.tier = (mf_tier_mode)7;
    assert_int_equal(mf_module_create(g, &o, &m), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "tier 7"));
    mf_tensor_free(x);
    mf_graph_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_stack_tiers_equal),
        cmocka_unit_test(test_mnist_tiers_equal),
        cmocka_unit_test(test_runs_on_tier0_while_tier1_is_held),
        cmocka_unit_test(test_new_batch_starts_on_tier0),
        cmocka_unit_test(test_new_batch_runs_in_slices),
        cmocka_unit_test(test_new_batch_mixing_rows_is_not_sliced),
        cmocka_unit_test(test_destroy_with_tier_up_pending),
        cmocka_unit_test(test_bad_tier_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
