/* device_memory.c — storage for tensors and copies between devices: host memory for the
 * cpu, blocks of the device's caching allocator for a virtual MLU.  The MLU's memory is
 * host-addressable (its cores are threads), so a copy is a memcpy; what makes it a device
 * is that only the runtime hands it out, and that its work runs on queues: a synchronous
 * copy from a device first waits for it; mf_tensor_copy_async orders a copy on a queue. */
#include <stdlib.h>
#include <string.h>

#include "profiler.h"
#include "rt_internal.h"

static const char *type_name(mf_device dev)
{
    return dev.type == MF_CPU ? "cpu" : "mlu";
}

mf_status mf_rt_device_check(mf_device dev)
{
    int n = mf_rt_num_devices();
    if (dev.type == MF_CPU && dev.index == 0)
        return MF_OK;
    if (dev.type == MF_MLU && dev.index >= 0 && dev.index < n)
        return MF_OK;
    if (dev.type != MF_CPU && dev.type != MF_MLU)
        return mf_error(MF_ERR_DEVICE, "unknown device type %d", (int)dev.type);
    return mf_error(MF_ERR_DEVICE, "unknown device %s:%d (this process has cpu:0 and "
                    "mlu:0..mlu:%d)", type_name(dev), dev.index, n - 1);
}

/* free_fn of device storage: the block goes back to its allocator's cache. */
static void free_device(mf_buffer *b)
{
    mf_rt_block_free(b->owner);
}

mf_status mf_rt_alloc(mf_device dev, size_t nbytes, mf_buffer **out)
{
    mf_status s = mf_rt_device_check(dev);
    if (s)
        return s;
    if (dev.type == MF_CPU) {
        mf_buffer *h = mf_buffer_new_host(nbytes);
        if (!h)
            return mf_error(MF_ERR_NOMEM, "out of memory allocating %zu bytes on cpu:0", nbytes);
        *out = h;
        return MF_OK;
    }
    mf_buffer *b = calloc(1, sizeof *b);
    if (!b)
        return mf_error(MF_ERR_NOMEM, "out of memory allocating a buffer record");
    mf_rt_block *blk;
    if ((s = mf_rt_block_alloc(mf_rt_device_allocator(dev.index), nbytes, &blk))) {
        free(b);
        return s;
    }
    atomic_init(&b->refs, 1);
    b->data = mf_rt_block_ptr(blk);
    b->nbytes = nbytes;
    b->device = dev;
    b->free_fn = free_device;
    b->owner = blk;
    *out = b;
    return MF_OK;
}

/* Waits for queued work that may still write the source.  The destination needs no wait:
 * device storage returns to the allocator only after the tasks that use it have run, and
 * callers copy into storage they own (waiting there would deadlock a queue that is held
 * back, e.g. by an event, while the host prepares its inputs). */
static mf_status sync_for_copy(mf_device dst_dev, mf_device src_dev)
{
    (void)dst_dev;
    return mf_rt_device_sync(src_dev);
}

/* A copy of at least this many bytes is split over the device's core pool, when a launch on
 * more than one core has started it: a model's result read back is the serial part of a
 * two-thread run (a 3 MB output: about a fifth of elementwise_chain's).  Its 4 pieces are
 * the byte ranges a 4-partition kernel of contiguous blocks wrote, claimed by the same
 * threads (core_pool.c's home partitions), so each core mostly reads what its L2 holds. */
#define SPLIT_COPY_BYTES ((size_t)1 << 20)
#define COPY_PIECES 4

/* args: dst, src, &n */
static void copy_piece(void *const *args, int64_t part, int64_t nparts)
{
    size_t n = *(const size_t *)args[2], lines = (n + 63) / 64;
    size_t begin = (size_t)part * lines / (size_t)nparts * 64, end = (size_t)(part + 1) * lines / (size_t)nparts * 64;
    if (end > n)
        end = n;
    if (begin < end)
        memcpy((char *)args[0] + begin, (const char *)args[1] + begin, end - begin);
}

static void copy_bytes(void *dst, mf_device dst_dev, const void *src, mf_device src_dev, size_t n)
{
    mf_device mlu = dst_dev.type == MF_MLU ? dst_dev : src_dev;
    mf_rt_core_pool *pool = n >= SPLIT_COPY_BYTES && mlu.type == MF_MLU ? mf_rt_device_started_pool(mlu.index) : NULL;
    if (!pool) {
        memcpy(dst, src, n);
        return;
    }
    void *args[] = {dst, (void *)src, &n};
    mf_rt_pool_run(pool, copy_piece, args, COPY_PIECES);
}

mf_status mf_rt_copy(void *dst, mf_device dst_dev, const void *src, mf_device src_dev, size_t n)
{
    mf_status s = sync_for_copy(dst_dev, src_dev);
    if (s)
        return mf_error_context(s, "copy %s:%d -> %s:%d", type_name(src_dev), src_dev.index,
                                type_name(dst_dev), dst_dev.index);
    int64_t t0 = dst_dev.type != src_dev.type ? mf_rt_prof_start() : 0;
    if (n)
        copy_bytes(dst, dst_dev, src, src_dev, n);
    mf_rt_prof_copy(dst_dev, src_dev, n, t0);
    return MF_OK;
}

/* ---- copies on a queue ------------------------------------------------------------------ */

typedef struct copy_task {
    mf_tensor *dst, *src; /* retained until the copy has run */
} copy_task;

static mf_status run_copy(void *ctx)
{
    copy_task *c = ctx;
    size_t n = mf_type_nbytes(&c->dst->type);
    int64_t t0 = c->dst->device.type != c->src->device.type ? mf_rt_prof_start() : 0;
    if (n)
        memcpy(mf_rt_tensor_ptr(c->dst), mf_rt_tensor_ptr(c->src), n);
    mf_rt_prof_copy(c->dst->device, c->src->device, n, t0);
    mf_tensor_free(c->dst);
    mf_tensor_free(c->src);
    free(c);
    return MF_OK;
}

static mf_status check_copy(const mf_tensor *dst, const mf_tensor *src, int *dev)
{
    char a[192], b[192];
    if (!dst || !src)
        return mf_error(MF_ERR_INVALID, "tensor_copy_async: %s is NULL", dst ? "src" : "dst");
    mf_tensor_describe(dst, a, sizeof a);
    mf_tensor_describe(src, b, sizeof b);
    if (!mf_type_equal(&dst->type, &src->type))
        return mf_error(MF_ERR_SHAPE, "tensor_copy_async(%s <- %s): types differ", a, b);
    if (dst->device.type != MF_MLU && src->device.type != MF_MLU)
        return mf_error(MF_ERR_DEVICE, "tensor_copy_async(%s <- %s): neither is on an mlu "
                        "device", a, b);
    *dev = src->device.type == MF_MLU ? src->device.index : dst->device.index;
    return MF_OK;
}

/* q runs on the device of an mlu side (between two devices, either one's queue will do). */
static bool queue_fits(const mf_queue *q, const mf_tensor *dst, const mf_tensor *src)
{
    int qd = mf_queue_device(q);
    return (dst->device.type == MF_MLU && dst->device.index == qd) ||
           (src->device.type == MF_MLU && src->device.index == qd);
}

mf_status mf_tensor_copy_async(mf_tensor *dst, const mf_tensor *src, mf_queue *q)
{
    int dev = 0;
    mf_status s = check_copy(dst, src, &dev);
    if (s)
        return s;
    if (!q && (s = mf_rt_queue_current_for(dev, &q)))
        return mf_error_context(s, "tensor_copy_async");
    if (!queue_fits(q, dst, src))
        return mf_error(MF_ERR_DEVICE, "tensor_copy_async: the queue is on mlu:%d, the "
                        "tensors are not", mf_queue_device(q));
    copy_task *c = malloc(sizeof *c);
    if (!c)
        return mf_error(MF_ERR_NOMEM, "tensor_copy_async: out of memory");
    c->dst = mf_tensor_retain(dst);
    c->src = mf_tensor_retain((mf_tensor *)src); /* the count is not the tensor's value */
    if ((s = mf_rt_queue_enqueue(q, run_copy, c))) {
        mf_tensor_free(c->dst);
        mf_tensor_free(c->src);
        free(c);
        return s;
    }
    bool host_side_unpinned = (dst->device.type == MF_CPU && !mf_tensor_is_pinned(dst)) ||
                              (src->device.type == MF_CPU && !mf_tensor_is_pinned(src));
    return host_side_unpinned ? mf_queue_sync(q) : MF_OK;
}
