/* tier_gate.c — the gate of tier_gate.h on mf_mod_set_tier_up_hook. */
#include <pthread.h>
#include <stdbool.h>

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
