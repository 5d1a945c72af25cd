/* tier_up.h — a module's background compiler (tier_up.c): a queue of tier-up jobs run one at
 * a time on one thread of its own.  Thread-safe. */
#ifndef MF_MODULE_TIER_UP_H
#define MF_MODULE_TIER_UP_H

#include "module.h"

typedef struct mf_tier_up mf_tier_up;

mf_tier_up *mf_mod_tier_up_new(void); /* NULL when out of memory */
/* Queues run(ctx, cancel) for the background thread (started on the first push).  A job
 * still queued when the compiler stops gets discard(ctx) instead, on the stopping thread;
 * a running job sees *cancel turn true and should return soon.  Fails (nothing queued)
 * when the thread cannot start or the compiler is stopping. */
mf_status mf_mod_tier_up_push(mf_tier_up *t, void (*run)(void *ctx, const atomic_bool *cancel),
                              void (*discard)(void *ctx), void *ctx);
/* Cancels, joins the thread, discards queued jobs and frees t (NULL: nothing). */
void mf_mod_tier_up_stop(mf_tier_up *t);

#endif
