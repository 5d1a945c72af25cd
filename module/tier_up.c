/* tier_up.c — a module's background compiler: one thread, started on the first job, that
 * runs queued tier-up jobs (compile a specialization's specialized kernels, then publish
 * them) one after another while runs proceed on tier 0.  Stopping cancels what is queued,
 * raises the cancel flag the running job's compile checks between kernels, and joins the
 * thread, so a module can be destroyed at any time.  Also the MLUFUSE_TIER setting. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tier_up.h"

typedef struct job {
    struct job *next;
    void (*run)(void *ctx, const atomic_bool *cancel);
    void (*discard)(void *ctx);
    void *ctx;
} job;

struct mf_tier_up {
    pthread_mutex_t lock; /* the queue, started, stopping */
    pthread_cond_t work;
    job *head, *tail;
    bool started;
    atomic_bool stopping;
    pthread_t thread;
};

static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER; /* the test hook below */
static void (*tier_up_hook)(void *ctx);
static void *tier_up_hook_ctx;

void mf_mod_set_tier_up_hook(void (*hook)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&hook_lock);
    tier_up_hook = hook;
    tier_up_hook_ctx = ctx;
    pthread_mutex_unlock(&hook_lock);
}

static void call_hook(void)
{
    pthread_mutex_lock(&hook_lock);
    void (*hook)(void *) = tier_up_hook;
    void *ctx = tier_up_hook_ctx;
    pthread_mutex_unlock(&hook_lock);
    if (hook)
        hook(ctx);
}

mf_status mf_mod_tier_from_env(mf_tier_mode *out)
{
    const char *e = getenv("MLUFUSE_TIER");
    *out = MF_TIER_AUTO;
    if (!e || !*e || !strcmp(e, "auto"))
        return MF_OK;
    if (!strcmp(e, "fast"))
        *out = MF_TIER_FAST;
    else if (!strcmp(e, "full"))
        *out = MF_TIER_FULL;
    else
        return mf_error(MF_ERR_INVALID, "MLUFUSE_TIER=%.100s: expected fast, full or auto", e);
    return MF_OK;
}

mf_tier_up *mf_mod_tier_up_new(void)
{
    mf_tier_up *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->work, NULL);
    return t;
}

static void *worker(void *arg)
{
    mf_tier_up *t = arg;
    pthread_mutex_lock(&t->lock);
    for (;;) {
        while (!t->head && !atomic_load(&t->stopping))
            pthread_cond_wait(&t->work, &t->lock);
        if (atomic_load(&t->stopping))
            break;
        job *j = t->head;
        t->head = j->next;
        if (!t->head)
            t->tail = NULL;
        pthread_mutex_unlock(&t->lock);
        call_hook();
        j->run(j->ctx, &t->stopping);
        free(j);
        pthread_mutex_lock(&t->lock);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

static bool start_locked(mf_tier_up *t)
{
    if (t->started)
        return true;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, (size_t)8 << 20); /* it compiles, like compile_kernels' workers */
    t->started = !pthread_create(&t->thread, &attr, worker, t);
    pthread_attr_destroy(&attr);
    return t->started;
}

mf_status mf_mod_tier_up_push(mf_tier_up *t, void (*run)(void *ctx, const atomic_bool *cancel),
                              void (*discard)(void *ctx), void *ctx)
{
    job *j = calloc(1, sizeof *j);
    if (!j)
        return mf_error(MF_ERR_NOMEM, "tier-up: out of memory");
    *j = (job){NULL, run, discard, ctx};
    pthread_mutex_lock(&t->lock);
    if (atomic_load(&t->stopping) || !start_locked(t)) {
        pthread_mutex_unlock(&t->lock);
        free(j);
        return mf_error(MF_ERR_INTERNAL, "tier-up: the background compiler could not start");
    }
    if (t->tail)
        t->tail->next = j;
    else
        t->head = j;
    t->tail = j;
    pthread_cond_signal(&t->work);
    pthread_mutex_unlock(&t->lock);
    return MF_OK;
}

void mf_mod_tier_up_stop(mf_tier_up *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    atomic_store(&t->stopping, true);
    pthread_cond_broadcast(&t->work);
    bool started = t->started;
    job *queued = t->head;
    t->head = t->tail = NULL;
    pthread_mutex_unlock(&t->lock);
    if (started)
        pthread_join(t->thread, NULL);
    for (job *j = queued, *next; j; j = next) {
        next = j->next;
        j->discard(j->ctx);
        free(j);
    }
    pthread_cond_destroy(&t->work);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
