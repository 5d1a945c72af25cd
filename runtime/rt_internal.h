/* rt_internal.h — internals of the virtual MLU devices, shared by device.c (the device
 * table), caching_allocator.c, pinned.c, queue.c, event.c, core_pool.c, warn.c and
 * device_memory.c.  Nothing outside runtime/ (and its tests and benchmarks) includes it;
 * the public face is include/mlufuse/mlufuse_runtime.h. */
#ifndef MF_RT_INTERNAL_H
#define MF_RT_INTERNAL_H

#include <pthread.h>

#include "mlufuse/mlufuse_runtime.h"
#include "runtime.h"

#define MF_RT_MAX_DEVICES 64
#define MF_RT_MAX_CORE_THREADS 16

/* ---- the device table (device.c) --------------------------------------------------------
 * Built once on first use (pthread_once) and kept for the life of the process. */

typedef struct mf_rt_allocator mf_rt_allocator;
typedef struct mf_rt_core_pool mf_rt_core_pool;

int mf_rt_num_devices(void);
/* MF_OK if index names a device (after resolving -1 to the current one into *out). */
mf_status mf_rt_device_resolve(int index, int *out);
mf_rt_allocator *mf_rt_device_allocator(int dev);
/* The device's core pool, started on first use.  NULL (with a message) if its threads
 * could not be started. */
mf_rt_core_pool *mf_rt_device_pool(int dev);
/* The device's core pool if a launch on more than one core started it, else NULL. */
mf_rt_core_pool *mf_rt_device_started_pool(int dev);
/* The device's default queue, started on first use. */
mf_status mf_rt_device_default_queue(int dev, mf_queue **out);
/* Queues register with their device so a device sync finds them. */
void mf_rt_device_add_queue(int dev, mf_queue *q);
void mf_rt_device_remove_queue(int dev, mf_queue *q);
mf_status mf_rt_device_sync_index(int dev);
/* MLUFUSE_DEVICE_MEMORY_MB, else the machine's physical memory; 0 if neither is known. */
size_t mf_rt_default_memory_limit(void);

/* ---- the caching allocator (caching_allocator.c) ----------------------------------------
 * Thread-safe: one mutex per device's allocator. */

typedef struct mf_rt_block mf_rt_block;

/* A new allocator for device dev with the given limit (0: unlimited); NULL if out of
 * memory. */
mf_rt_allocator *mf_rt_allocator_new(int dev, size_t limit);
/* Frees the allocator and its cached segments; live blocks must have been freed. */
void mf_rt_allocator_destroy(mf_rt_allocator *a);
/* A block of at least nbytes (64-byte aligned) or MF_ERR_NOMEM with a message naming the
 * request and the device's usage. */
mf_status mf_rt_block_alloc(mf_rt_allocator *a, size_t nbytes, mf_rt_block **out);
void mf_rt_block_free(mf_rt_block *b);
void *mf_rt_block_ptr(const mf_rt_block *b);
size_t mf_rt_block_size(const mf_rt_block *b);
void mf_rt_allocator_stats(mf_rt_allocator *a, mf_memory_stats *out);
void mf_rt_allocator_reset_peak(mf_rt_allocator *a);
void mf_rt_allocator_empty_cache(mf_rt_allocator *a);
void mf_rt_allocator_set_limit(mf_rt_allocator *a, size_t limit);

/* ---- queues (queue.c) --------------------------------------------------------------------
 * A task returns a status; a failure (with the thread's message) becomes the queue's
 * deferred error.  The task owns ctx and frees it. */

typedef mf_status (*mf_rt_task_fn)(void *ctx);

mf_status mf_rt_queue_new(int dev, bool is_default, mf_queue **out);
/* Enqueues fn(ctx).  On failure fn is not called and ctx still belongs to the caller.
 * Thread-safe. */
mf_status mf_rt_queue_enqueue(mf_queue *q, mf_rt_task_fn fn, void *ctx);
/* The calling thread's current queue for device dev. */
mf_status mf_rt_queue_current_for(int dev, mf_queue **out);
/* Whether q is its device's default queue (the profiler names queue tracks by it). */
bool mf_rt_queue_is_default(const mf_queue *q);
/* Waits for q; skipped (MF_OK) when called from q's own thread. */
mf_status mf_rt_queue_sync_quiet(mf_queue *q);
/* The queue whose task the calling thread is running, or NULL. */
mf_queue *mf_rt_queue_running(void);

/* ---- the core pool (core_pool.c) ---------------------------------------------------------
 * Persistent workers that run the partitions of launches; the submitting thread works on
 * its own launch too.  Thread-safe: several queues may launch at once. */

mf_status mf_rt_pool_new(int nworkers, mf_rt_core_pool **out);
void mf_rt_pool_destroy(mf_rt_core_pool *p); /* joins the workers; no launch may be running */
int mf_rt_pool_workers(const mf_rt_core_pool *p);
/* Runs kernel partitions 0..nparts-1 and returns when all are done (more than 64: all on
 * the calling thread).  Each thread runs its own contiguous run of partitions first. */
void mf_rt_pool_run(mf_rt_core_pool *p, mf_kernel_fn fn, void *const *args, int nparts);
/* As mf_rt_pool_run, for a kernel whose partitions nest (partition p of n is exactly
 * partitions 2p and 2p + 1 of 2n, as every compiled kernel's: codegen.h): the pool may run
 * each partition as several finer ones, so that a core left idle takes over part of a slower
 * core's share, and aligned runs of them as one partition of a coarser count: a call's
 * nparts is then nparts x 2^k for some k (negative too), at most 4 x nparts and 64. */
void mf_rt_pool_run_nested(mf_rt_core_pool *p, mf_kernel_fn fn, void *const *args, int nparts);
/* The calling thread's core in the pool whose partition it is running: i for worker i, 0 for
 * the thread that submitted the launch (and any thread outside a pool). */
int mf_rt_pool_core(void);
/* mf_rt_launch_sync for a kernel whose partitions nest (mf_rt_pool_run_nested). */
mf_status mf_rt_launch_nested(mf_device dev, mf_kernel_fn kernel, void *const *args, int core_number);
/* The number of workers a device pool gets: min(online CPUs, 16) - 1, at least 1 (the
 * submitting thread is the other core). */
int mf_rt_pool_default_workers(void);
/* MF_OK for core_number 1, 4 or 16. */
mf_status mf_rt_check_core_number(int core_number);

/* ---- warnings (warn.c) -------------------------------------------------------------------- */

/* Records a warning retrievably (mf_runtime_warning); prints it on stderr when MLUFUSE_LOG
 * names "runtime" (or "all").  Thread-safe. */
void mf_rt_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same for a malformed environment variable, always printed (as the cache's are): a
 * typo that changes what runs must not pass unseen. */
void mf_rt_warn_env(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- pinned memory (pinned.c) -------------------------------------------------------------- */

/* Tests only: caps the bytes the runtime will try to lock (SIZE_MAX: no cap), so the
 * fallback can be exercised where mlock never fails (root). */
void mf_rt_pinned_set_budget(size_t bytes);
/* Tests only: forgets that the fallback warning was given, so it is given again. */
void mf_rt_pinned_reset_warning(void);

#endif /* MF_RT_INTERNAL_H */
