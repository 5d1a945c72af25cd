/* mlufuse_runtime.h — the public API of the virtual MLU devices: the current device, device
 * memory statistics and limits (a caching allocator), page-locked host tensors, queues
 * (asynchronous, in order within a queue, concurrent across queues), events, and kernel
 * launches split over core_number partitions.  Included by mlufuse.h (at its end); may be
 * included alone.  Devices are numbered 0 .. mf_device_count()-1; a device argument of -1
 * means the calling thread's current device. */
#ifndef MLUFUSE_RUNTIME_H
#define MLUFUSE_RUNTIME_H

#include "mlufuse/mlufuse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- devices -------------------------------------------------------------------------- */

/* The number of MLU devices (env MLUFUSE_NUM_DEVICES, 1..64, default 1).  Thread-safe. */
int mf_device_count(void);
/* Makes `index` the calling thread's current device (the seed's set_device): the device of
 * mf_queue_current() and of the -1 arguments below.  Per thread; fails with MF_ERR_DEVICE
 * for an unknown index, leaving the current device unchanged. */
mf_status mf_set_device(int index);
int mf_get_device(void); /* the calling thread's current device; 0 until set */
/* Waits until every queue of the device has run all its tasks.  Returns the first deferred
 * error of a task that failed on one of them (and clears it).  Thread-safe; must not be
 * called from a task (host callback) while another queue's task waits on it. */
mf_status mf_device_sync(int device);

/* ---- device memory (a caching allocator per device) ------------------------------------
 * Freed device memory stays cached for reuse; `reserved` counts what the allocator holds
 * from the system, `allocated` what tensors use (each request rounded up to 64 bytes; a
 * block may be larger when the remainder is too small to split off).  All of these are
 * thread-safe. */
typedef struct mf_memory_stats {
    size_t allocated, max_allocated; /* bytes in live blocks; the peak since reset */
    size_t reserved, max_reserved;   /* bytes of segments held (live + cached) */
    size_t limit;                    /* the device memory limit in bytes */
    uint64_t num_allocs, num_frees;  /* block allocations and frees so far */
    uint64_t num_segments;           /* segments held now */
    uint64_t num_ooms;               /* allocations refused for want of memory */
    uint64_t num_cache_flushes;      /* times the cache was emptied to satisfy a request */
} mf_memory_stats;

mf_status mf_memory_get_stats(int device, mf_memory_stats *out);
/* Convenience readers; 0 for an unknown device. */
size_t mf_memory_allocated(int device);
size_t mf_max_memory_allocated(int device);
size_t mf_memory_reserved(int device); /* the seed's memory_cached */
size_t mf_max_memory_reserved(int device);
/* Sets the peaks to the current values. */
mf_status mf_memory_reset_peak(int device);
/* Returns every cached segment without a live block to the system. */
mf_status mf_memory_empty_cache(int device);
/* Caps the device's reserved memory at `bytes` (0: the default, env MLUFUSE_DEVICE_MEMORY_MB,
 * else the machine's physical memory).  An allocation that would pass the cap first empties
 * the cache and retries, then fails with MF_ERR_NOMEM naming the request and the usage.
 * Lowering the cap below what is live frees nothing live; later allocations fail until
 * usage drops. */
mf_status mf_memory_set_limit(int device, size_t bytes);
size_t mf_memory_limit(int device);

/* ---- pinned (page-locked) host memory ------------------------------------------------ */

/* A new cpu tensor in page-locked memory, whose copies to and from a device may run
 * asynchronously on a queue.  Where the system refuses to lock the pages (the memory-lock
 * limit), the tensor is ordinary memory instead and a warning is recorded (once; read it
 * with mf_runtime_warning; printed on stderr when MLUFUSE_LOG names "runtime"): never a
 * failure for that reason.  The caller owns one reference.  Thread-safe. */
mf_status mf_tensor_empty_pinned(mf_dtype dt, int rank, const int64_t *shape, mf_tensor **out);
int mf_tensor_is_pinned(const mf_tensor *t); /* 1 if t's storage is page-locked */
/* Copies the runtime's latest warning into buf (always terminated; "" if none) and returns
 * how many warnings were recorded so far.  Thread-safe. */
size_t mf_runtime_warning(char *buf, size_t cap);

/* ---- queues ---------------------------------------------------------------------------
 * A queue runs its tasks (launches, copies, host callbacks, event records and waits) one
 * after another in submission order, on its own thread; different queues run concurrently.
 * Each device has a default queue that always exists.  Eager ops on mlu tensors are
 * enqueued on the calling thread's current queue for their device; copying a device tensor
 * to the host waits for the device.  A task that fails leaves a deferred error, returned
 * (and cleared) by the next mf_queue_sync / mf_device_sync. */
typedef struct mf_queue mf_queue;

/* A new queue on `device`; the caller owns it and destroys it with mf_queue_destroy. */
mf_status mf_queue_create(int device, mf_queue **out);
/* Waits for q's tasks, then frees q.  The default queues cannot be destroyed.  q must not be
 * in use by another thread (nor on a current-queue stack) when this is called. */
mf_status mf_queue_destroy(mf_queue *q);
/* The device's default queue (owned by the runtime; never destroyed). */
mf_status mf_queue_default(int device, mf_queue **out);
/* Waits until q has run every task submitted before the call.  Thread-safe; a task must not
 * sync its own queue (MF_ERR_INVALID). */
mf_status mf_queue_sync(mf_queue *q);
/* 1 when q has no task pending or running, else 0.  Thread-safe. */
int mf_queue_query(mf_queue *q);
int mf_queue_device(const mf_queue *q);
/* The calling thread's current queue: the innermost pushed queue of the current device,
 * else that device's default queue.  Not owned by the caller.  NULL (with a message) only
 * if the default queue's thread could not be started. */
mf_queue *mf_queue_current(void);
/* A scope for the calling thread, like the seed's `with Queue(q):`: push makes q the current
 * queue for q's device until the matching pop.  At most 32 deep.  Per thread. */
mf_status mf_queue_push_current(mf_queue *q);
mf_status mf_queue_pop_current(void);

/* The kernel ABI: args holds buffer pointers; the kernel computes partition `part` of
 * `nparts`. */
typedef void (*mf_kernel_fn)(void *const *args, int64_t part, int64_t nparts);
/* Enqueues a launch of `kernel` over core_number partitions (1, 4 or 16; anything else is
 * MF_ERR_INVALID) on q (NULL: the current queue).  The nargs pointers are copied; the
 * memory they point to must stay valid until the launch has run.  The partitions run on the
 * device's core pool and the launch completes, in q's order, when all are done.
 * Thread-safe. */
mf_status mf_launch(mf_kernel_fn kernel, int nargs, void *const *args, int core_number,
                    mf_queue *q);
/* Enqueues fn(ctx) on q (NULL: the current queue); fn runs on q's thread, in order.  fn may
 * enqueue more work but must not sync q.  Thread-safe. */
typedef void (*mf_host_fn)(void *ctx);
mf_status mf_queue_enqueue_host(mf_queue *q, mf_host_fn fn, void *ctx);
/* Copies src into dst (same dtype and shape; at least one on an mlu device, and that device
 * is q's) on q (NULL: the current queue of the mlu side's device).  Between pinned host
 * memory and a device, or between devices, the copy is asynchronous: it is ordered on q and
 * the call returns at once (both tensors are retained until it has run; read dst after a
 * sync or an event).  With ordinary host memory the call waits for the copy. */
mf_status mf_tensor_copy_async(mf_tensor *dst, const mf_tensor *src, mf_queue *q);

/* ---- events ---------------------------------------------------------------------------- */
typedef struct mf_event mf_event;

/* A new event; the caller owns it.  Destroying it while a record or wait is pending is
 * safe (the queue keeps it alive until then). */
mf_status mf_event_create(mf_event **out);
void mf_event_destroy(mf_event *ev); /* NULL is ignored */
/* Enqueues on q (NULL: current) a marker that completes ev when q reaches it, noting the
 * time.  A new record replaces the previous one.  Thread-safe. */
mf_status mf_event_record(mf_event *ev, mf_queue *q);
/* Makes q (NULL: current) wait, before its later tasks, until the latest record of ev
 * (at the time of this call) has completed.  No effect if ev was never recorded. */
mf_status mf_event_wait(mf_event *ev, mf_queue *q);
/* 1 if ev's latest record has completed (or ev was never recorded), else 0. */
int mf_event_query(mf_event *ev);
/* Waits on the host until ev's latest record has completed. */
mf_status mf_event_sync(mf_event *ev);
/* Milliseconds between the completions of two recorded and completed events;
 * MF_ERR_INVALID if either was not recorded or has not completed yet. */
mf_status mf_event_elapsed_ms(mf_event *start, mf_event *end, double *ms);

#ifdef __cplusplus
}
#endif
#endif /* MLUFUSE_RUNTIME_H */
