/* test_plan_cache.c — the plan cache (module/plan_cache.c, docs/tiers.md): a tier-1 plan is
 * saved to the disk cache and loads back, other weights give another key or fail the load;
 * a fresh module (a new process as far as modules go: nothing in it is compiled) at the same
 * input shapes runs its own saved plan from its first run, with no pass and no kernel
 * requested, in auto and full mode, equal to the interpreter; one at a new batch size runs
 * at once, in slices, on the saved plan of a batch size dividing it, then on its own tier 1;
 * a corrupt or truncated plan, or one whose weights differ only where the key's fingerprint
 * does not look, is reported, removed and the module starts without it; MLUFUSE_PLAN_CACHE=off
 * turns it off and a bad value is refused; the listing shows the saved plans.  The
 * background compiler is held by the test hook: no timing, no host assumption.  Runs in a
 * disk cache of its own (a temporary directory). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mlufuse/mlufuse_offline.h"
#include "models/mnist.h"
#include "module/module.h"
#include "tests/support/compare.h"
#include "tests/support/tier_gate.h"


static char dir[256];
static mnist_net net;

/* MNIST (random weights, seed 2) traced at a batch size, and an input for it. */
static mf_graph *trace(int64_t batch, mf_tensor **x)
{
    mf_tensor *y;
    mf_graph *g;
    assert_int_equal(mf_tensor_rand(MF_F32, 4, (int64_t[]){batch, 1, 28, 28}, 3 + (uint64_t)batch, 0, 1,
                                    MF_DEVICE_MLU(0), x), MF_OK);
    assert_int_equal(mf_trace_begin(1, x), MF_OK);
    assert_int_equal(mnist_forward(&net, *x, &y), MF_OK);
    assert_int_equal(mf_trace_end(1, &y, &g), MF_OK);
    mf_tensor_free(y);
    return g;
}

static int count_plans(void)
{
    mf_plan_cache_info *all;
    int n;
    assert_int_equal(mf_plan_cache_list(NULL, &all, &n), MF_OK);
    free(all);
    return n;
}

static void clear_plans(void)
{
    mf_plan_cache_info *all;
    int n;
    assert_int_equal(mf_plan_cache_list(NULL, &all, &n), MF_OK);
    for (int i = 0; i < n; i++)
        assert_int_equal(mf_plan_cache_remove(NULL, all[i].key), MF_OK);
    free(all);
}

/* Batch 1 compiled in full: its plan is saved once, and loads back with batch 1's inputs. */
static void save_batch1(void)
{
    mf_tensor *x;
    mf_graph *g = trace(1, &x);
    mf_module *m = tsupport_tier_module(g, MF_TIER_FULL);
    assert_int_equal(tsupport_tier_run(m, g, x, "batch 1").last_run_tier, 1);
    mf_module_destroy(m);
    mf_tensor_free(x);
    mf_graph_destroy(g);
}

static uint64_t sum_of(void *ctx)
{
    return mf_mod_plan_weights_sum(ctx);
}

static uint64_t wrong_sum(void *ctx)
{
    return mf_mod_plan_weights_sum(ctx) + 1;
}

/* The key of g's plan at its own input types, as a module with default options makes it. */
static void key_of(const mf_graph *g, char key[65])
{
    mf_module_options o = mf_module_default_options();
    o.fusion = mf_pass_ctx_default().fuse; /* as module creation resolves them */
    o.winograd = mf_pass_ctx_default().winograd;
    mf_type t = g->inputs[0]->type;
    assert_int_equal(mf_mod_plan_key(g, &t, mf_mod_plan_weights_fingerprint(g), &o, key), MF_OK);
}

static void test_save_load_roundtrip(void **state)
{
    (void)state;
    clear_plans();
    save_batch1();
    assert_int_equal(count_plans(), 1);
    save_batch1(); /* already there: not written twice */
    assert_int_equal(count_plans(), 1);
    mf_tensor *x;
    mf_graph *g = trace(1, &x);
    char key[65];
    mf_type t = g->inputs[0]->type;
    mf_graph *c; /* as the module holds it */
    assert_int_equal(mf_graph_clone(g, NULL, &c), MF_OK);
    key_of(c, key);
    assert_true(mf_mod_plan_cached(key));
    mf_offline_model *om = NULL;
    assert_int_equal(mf_mod_plan_load(key, &t, 1, sum_of, c, &om), MF_OK);
    assert_non_null(om);
    mf_offline_destroy(om);
    assert_int_not_equal(mf_mod_plan_load(key, &t, 1, wrong_sum, c, &om), MF_OK); /* other weights */
    assert_null(om);
    assert_non_null(strstr(mf_last_error(), "other weights"));
    assert_false(mf_mod_plan_cached(key));
    save_batch1();
    assert_true(mf_mod_plan_cached(key));
    mf_type other = t;
    other.shape[2] = 27; /* a file whose inputs differ from the graph's is refused and removed */
    assert_int_not_equal(mf_mod_plan_load(key, &other, 1, sum_of, c, &om), MF_OK);
    assert_false(mf_mod_plan_cached(key));
    /* other weights (another seed) make another key */
    mnist_net other_net;
    assert_int_equal(mnist_init(&other_net, 5, MF_DEVICE_MLU(0)), MF_OK);
    mnist_net keep = net;
    net = other_net;
    mf_tensor *x5;
    mf_graph *g5 = trace(1, &x5);
    net = keep;
    char key5[65];
    key_of(g5, key5);
    assert_string_not_equal(key, key5);
    mf_tensor_free(x5);
    mf_graph_destroy(g5);
    mnist_free(&other_net);
    mf_graph_destroy(c);
    mf_tensor_free(x);
    mf_graph_destroy(g);
}

/* A fresh module at the graph's own input shapes whose plan is saved: its first run is on
 * that plan (tier 1, one slice, from the plan cache), and neither a pass pipeline nor a
 * kernel request ran for it; nothing is left to tier up.  Equal to the interpreter. */
static void check_runs_own_saved_plan(int64_t batch, mf_tier_mode tier)
{
    mf_tensor *x;
    mf_graph *g = trace(batch, &x);
    tsupport_gate_close();
    mf_kernel_cache_stats before, after;
    mf_kernel_cache_get_stats(&before);
    int pipelines = mf_mod_pipeline_runs();
    mf_module *m = tsupport_tier_module(g, tier);
    mf_module_tier_info info = tsupport_tier_run(m, g, x, "own saved plan");
    assert_int_equal(mf_mod_pipeline_runs(), pipelines);
    mf_kernel_cache_get_stats(&after);
    assert_int_equal(after.hits + after.misses, before.hits + before.misses);
    assert_int_equal(info.last_run_tier, 1);
    assert_int_equal(info.last_run_slices, 1);
    assert_int_equal(info.last_run_saved, 1);
    assert_int_equal(info.pending, 0);
    assert_int_equal(mf_module_wait_tier_up(m), MF_OK);
    info = tsupport_tier_run(m, g, x, "own saved plan, again");
    assert_int_equal(info.last_run_saved, 1);
    mf_module_destroy(m);
    tsupport_gate_remove();
    mf_tensor_free(x);
    mf_graph_destroy(g);
}

static void test_same_shapes_run_own_saved_plan(void **state)
{
    (void)state;
    clear_plans();
    save_batch1();
    check_runs_own_saved_plan(1, MF_TIER_AUTO);
    check_runs_own_saved_plan(1, MF_TIER_FULL);
    assert_int_equal(count_plans(), 1);
}

/* A fresh module at batch 4 (nothing of it compiled) runs batch 1's saved plan in 4 slices
 * while its own tier 1 is held, then its own plan; both equal to the interpreter. */
static void check_new_batch_on_saved_plan(int64_t batch, int slices)
{
    mf_tensor *x;
    mf_graph *g = trace(batch, &x);
    tsupport_gate_close();
    mf_module *m = tsupport_tier_module(g, MF_TIER_AUTO);
    mf_module_tier_info info = tsupport_tier_run(m, g, x, "new batch, saved plan");
    assert_int_equal(info.last_run_tier, 1);
    assert_int_equal(info.last_run_slices, slices);
    assert_int_equal(info.pending, 1);
    tsupport_gate_wait_reached(1);
    tsupport_gate_open();
    assert_int_equal(mf_module_wait_tier_up(m), MF_OK);
    info = tsupport_tier_run(m, g, x, "new batch, own plan");
    assert_int_equal(info.last_run_tier, 1);
    assert_int_equal(info.last_run_slices, 1);
    mf_module_destroy(m);
    tsupport_gate_remove();
    mf_tensor_free(x);
    mf_graph_destroy(g);
}

static void test_new_batch_runs_saved_plan(void **state)
{
    (void)state;
    clear_plans();
    save_batch1();
    check_new_batch_on_saved_plan(4, 4);
    assert_int_equal(count_plans(), 2); /* batch 4's own plan is saved after its tier-up */
    check_runs_own_saved_plan(4, MF_TIER_AUTO); /* and the next module at batch 4 runs it */
    check_new_batch_on_saved_plan(6, 6);
}

/* A new batch with no usable plan: tier 0 first (MNIST's batch-5 kernels are not cached). */
static void check_new_batch_on_tier0(int64_t batch)
{
    mf_tensor *x;
    mf_graph *g = trace(batch, &x);
    tsupport_gate_close();
    mf_module *m = tsupport_tier_module(g, MF_TIER_AUTO);
    assert_int_equal(tsupport_tier_run(m, g, x, "new batch, no plan").last_run_tier, 0);
    tsupport_gate_open();
    assert_int_equal(mf_module_wait_tier_up(m), MF_OK);
    mf_module_destroy(m);
    tsupport_gate_remove();
    mf_tensor_free(x);
    mf_graph_destroy(g);
}

/* Overwrites the saved plan: truncated to half, or one byte flipped in its middle. */
static void damage_plan(bool cut)
{
    mf_plan_cache_info *all;
    int n;
    assert_int_equal(mf_plan_cache_list(NULL, &all, &n), MF_OK);
    assert_int_equal(n, 1);
    char path[512];
    snprintf(path, sizeof path, "%s/%s.mfo", dir, all[0].key);
    free(all);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    if (cut) {
        assert_int_equal(truncate(path, st.st_size / 2), 0);
    } else {
        FILE *f = fopen(path, "r+b");
        assert_non_null(f);
        fseek(f, st.st_size / 2, SEEK_SET);
        int c = fgetc(f);
        fseek(f, st.st_size / 2, SEEK_SET);
        fputc(c ^ 0x5a, f);
        fclose(f);
    }
    assert_int_equal(count_plans(), 1);
    mf_plan_cache_info *again;
    assert_int_equal(mf_plan_cache_list(NULL, &again, &n), MF_OK);
    assert_int_equal(again[0].valid, 0); /* the listing names the damage */
    assert_true(strlen(again[0].problem) > 0);
    free(again);
}

/* A module at batch 1 whose saved plan fails its checks: reported, removed, and the module
 * starts without it (the kernels are in this process's map: tier 1 after the passes), equal
 * to the interpreter; its own plan is saved afresh. */
static void check_same_shapes_fall_back(void)
{
    mf_tensor *x;
    mf_graph *g = trace(1, &x);
    int pipelines = mf_mod_pipeline_runs();
    mf_module *m = tsupport_tier_module(g, MF_TIER_AUTO);
    mf_module_tier_info info = tsupport_tier_run(m, g, x, "damaged own plan");
    assert_int_equal(info.last_run_saved, 0);
    assert_true(mf_mod_pipeline_runs() > pipelines);
    assert_int_equal(mf_module_wait_tier_up(m), MF_OK);
    mf_module_destroy(m);
    mf_tensor_free(x);
    mf_graph_destroy(g);
    mf_plan_cache_info *all;
    int n;
    assert_int_equal(mf_plan_cache_list(NULL, &all, &n), MF_OK);
    assert_int_equal(n, 1);
    assert_int_equal(all[0].valid, 1);
    free(all);
}

static void test_damaged_plan_falls_back(void **state)
{
    (void)state;
    for (int cut = 0; cut < 2; cut++) {
        clear_plans();
        save_batch1();
        damage_plan(cut);
        check_new_batch_on_tier0(10 + cut); /* reported, removed, compiled instead */
        mf_plan_cache_info *all;
        int n;
        assert_int_equal(mf_plan_cache_list(NULL, &all, &n), MF_OK);
        for (int i = 0; i < n; i++) /* the damaged file is gone; batch 10's own plan may be saved */
            assert_int_equal(all[i].valid, 1);
        free(all);
    }
    for (int cut = 0; cut < 2; cut++) { /* the same at the saved plan's own batch size */
        clear_plans();
        save_batch1();
        damage_plan(cut);
        check_same_shapes_fall_back();
    }
}

/* The first constant of g bigger than the fingerprint's windows can cover. */
static mf_value *big_const(const mf_graph *g)
{
    for (int i = 0; i < g->nvalues; i++)
        if (g->values[i]->is_const && g->values[i]->data && g->values[i]->data->nbytes > (1 << 16))
            return g->values[i];
    fail_msg("no constant over 64 KiB");
    return NULL;
}

/* Weights that differ only between the fingerprint's windows keep the key: the load compares
 * the full sum, refuses the plan, and the module computes with its own weights. */
static void test_weights_between_windows(void **state)
{
    (void)state;
    clear_plans();
    save_batch1();
    mf_tensor *x;
    mf_graph *g = trace(1, &x);
    mf_value *w = big_const(g);
    float *f = w->data->data;
    size_t at = (w->data->nbytes - 256) / 15 / 2 / sizeof *f; /* between the first two windows */
    char before[65], after[65];
    key_of(g, before);
    float keep = f[at];
    f[at] += 1.0f;
    key_of(g, after);
    assert_string_equal(before, after);
    check_same_shapes_fall_back();
    f[at] = keep;
    mf_tensor_free(x);
    mf_graph_destroy(g);
}

static void test_off_switch(void **state)
{
    (void)state;
    clear_plans();
    save_batch1();
    setenv("MLUFUSE_PLAN_CACHE", "off", 1);
    check_new_batch_on_tier0(12);
    assert_int_equal(count_plans(), 1); /* nothing saved either */
    setenv("MLUFUSE_PLAN_CACHE", "maybe", 1);
    mf_tensor *x;
    mf_graph *g = trace(1, &x);
    mf_module *m = NULL;
    assert_int_equal(mf_module_create(g, NULL, &m), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "MLUFUSE_PLAN_CACHE"));
    unsetenv("MLUFUSE_PLAN_CACHE");
    mf_tensor_free(x);
    mf_graph_destroy(g);
}

static void test_listing_shows_plans(void **state)
{
    (void)state;
    clear_plans();
    save_batch1();
    mf_plan_cache_info *all;
    int n;
    assert_int_equal(mf_plan_cache_list(NULL, &all, &n), MF_OK);
    assert_int_equal(n, 1);
    assert_int_equal(all[0].valid, 1);
    assert_int_equal(all[0].batch, 1);
    assert_true(all[0].kernels > 0);
    assert_true(all[0].bytes > 0);
    assert_true(strlen(all[0].cpu) > 0);
    assert_int_equal(mf_plan_cache_remove(NULL, all[0].key), MF_OK);
    free(all);
    assert_int_equal(count_plans(), 0);
}

static void remove_dir(void)
{
    DIR *d = opendir(dir);
    for (struct dirent *de; d && (de = readdir(d));) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (de->d_name[0] != '.')
            unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

int main(void)
{
    /* a disk cache of its own, before the library resolves the directory */
    snprintf(dir, sizeof dir, "%s/mf-plan-cache-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir))
        return 1;
    setenv("MLUFUSE_CACHE_DIR", dir, 1);
    unsetenv("MLUFUSE_CACHE");
    unsetenv("MLUFUSE_PLAN_CACHE");
    if (mnist_init(&net, 2, MF_DEVICE_MLU(0)))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_save_load_roundtrip),
        cmocka_unit_test(test_same_shapes_run_own_saved_plan),
        cmocka_unit_test(test_new_batch_runs_saved_plan),
        cmocka_unit_test(test_damaged_plan_falls_back),
        cmocka_unit_test(test_weights_between_windows),
        cmocka_unit_test(test_off_switch),
        cmocka_unit_test(test_listing_shows_plans),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    mnist_free(&net);
    remove_dir();
    return rc;
}
