/* tier_gate.c — the gate of tier_gate.h on mf_mod_set_tier_up_hook. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdbool.h>

#include "compare.h"
#include "module/module.h"
#include "tier_gate.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int reached; /* tier-ups that arrived at the hook */
static bool open;

static void hold(void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&lock);
    reached++;
    pthread_cond_broadcast(&cond);
    while (!open)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
}

void tsupport_gate_close(void)
{
    pthread_mutex_lock(&lock);
    open = false;
    reached = 0;
    pthread_mutex_unlock(&lock);
    mf_mod_set_tier_up_hook(hold, NULL);
}

void tsupport_gate_open(void)
{
    pthread_mutex_lock(&lock);
    open = true;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
}

void tsupport_gate_wait_reached(int n)
{
    pthread_mutex_lock(&lock);
    while (reached < n)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
}

void tsupport_gate_remove(void)
{
    mf_mod_set_tier_up_hook(NULL, NULL);
}

mf_module *tsupport_tier_module(const mf_graph *g, mf_tier_mode tier)
{
    mf_module_options o = mf_module_default_options();
    o.tier = tier;
    mf_module *m;
    if (mf_module_create(g, &o, &m))
        fail_msg("%s", mf_last_error());
    return m;
}

mf_module_tier_info tsupport_tier_run(mf_module *m, const mf_graph *g, mf_tensor *x, const char *what)
{
    mf_tensor *got, *want;
    if (mf_module_run(m, 1, &x, 1, &got))
        fail_msg("%s: %s", what, mf_last_error());
    assert_int_equal(mf_graph_interpret(g, 1, &x, 1, &want), MF_OK);
    double d = tsupport_rel_diff(got, want, 1e-30);
    mf_module_tier_info info;
    mf_module_get_tier_info(m, &info);
    if (d > 3e-3)
        fail_msg("%s (tier %d, %d slices): relative difference %g", what, info.last_run_tier, info.last_run_slices, d);
    mf_tensor_free(got);
    mf_tensor_free(want);
    return info;
}
