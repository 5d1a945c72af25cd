/* device.c — the table of virtual MLU devices mlu:0 .. mlu:N-1 (N from MLUFUSE_NUM_DEVICES)
 * and the calling thread's current device.  Each device owns a caching allocator, a core
 * pool and a default queue (both started on first use) and knows its queues, so a device
 * sync can wait for all of them.  The table is built once and lives for the process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt_internal.h"

typedef struct dev_entry {
    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t sync_cv; /* signalled when syncing drops to 0 */
    int syncing;            /* device syncs looking at queues now */
    mf_rt_allocator *alloc;
    mf_rt_core_pool *pool;
    mf_queue *default_queue;
    mf_queue **queues;
    int nqueues, queues_cap;
} dev_entry;

static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static dev_entry table[MF_RT_MAX_DEVICES];
static int ndevices;
static _Thread_local int current_device;

static int env_device_count(void)
{
    const char *s = getenv("MLUFUSE_NUM_DEVICES");
    if (!s || !*s)
        return 1;
    char *end;
    long n = strtol(s, &end, 10);
    if (*end || n < 1 || n > MF_RT_MAX_DEVICES) {
        mf_rt_warn_env("MLUFUSE_NUM_DEVICES=\"%s\" is not a number in 1..%d; using 1 device", s,
                   MF_RT_MAX_DEVICES);
        return 1;
    }
    return (int)n;
}

/* The default limit: MLUFUSE_DEVICE_MEMORY_MB, else the machine's physical memory. */
static size_t env_memory_limit(void)
{
    const char *s = getenv("MLUFUSE_DEVICE_MEMORY_MB");
    if (s && *s) {
        char *end;
        unsigned long long mb = strtoull(s, &end, 10);
        if (!*end && mb > 0 && mb < (1ull << 40))
            return (size_t)mb << 20;
        mf_rt_warn_env("MLUFUSE_DEVICE_MEMORY_MB=\"%s\" is not a positive number; ignored", s);
    }
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0)
        return 0;
    return (size_t)pages * (size_t)page;
}

static size_t default_limit;

size_t mf_rt_default_memory_limit(void)
{
    mf_rt_num_devices();
    return default_limit;
}

static void build_table(void)
{
    ndevices = env_device_count();
    size_t limit = default_limit = env_memory_limit();
    for (int i = 0; i < ndevices; i++) {
        pthread_mutex_init(&table[i].mu, NULL);
        pthread_cond_init(&table[i].sync_cv, NULL);
        table[i].alloc = mf_rt_allocator_new(i, limit);
        if (!table[i].alloc) { /* out of memory at start-up: fewer devices */
            ndevices = i;
            break;
        }
    }
}

int mf_rt_num_devices(void)
{
    pthread_once(&table_once, build_table);
    return ndevices;
}

int mf_device_count(void)
{
    return mf_rt_num_devices();
}

mf_status mf_rt_device_resolve(int index, int *out)
{
    int n = mf_rt_num_devices();
    if (index == -1)
        index = current_device;
    if (index < 0 || index >= n)
        return mf_error(MF_ERR_DEVICE, "unknown device mlu:%d (this process has mlu:0..mlu:%d)",
                        index, n - 1);
    *out = index;
    return MF_OK;
}

mf_status mf_set_device(int index)
{
    int n = mf_rt_num_devices();
    if (index < 0 || index >= n)
        return mf_error(MF_ERR_DEVICE, "set_device: unknown device mlu:%d (this process has "
                        "mlu:0..mlu:%d)", index, n - 1);
    current_device = index;
    return MF_OK;
}

int mf_get_device(void)
{
    return current_device;
}

mf_rt_allocator *mf_rt_device_allocator(int dev)
{
    return dev >= 0 && dev < mf_rt_num_devices() ? table[dev].alloc : NULL;
}

mf_rt_core_pool *mf_rt_device_pool(int dev)
{
    dev_entry *d = &table[dev];
    pthread_mutex_lock(&d->mu);
    if (!d->pool && mf_rt_pool_new(mf_rt_pool_default_workers(), &d->pool))
        d->pool = NULL;
    mf_rt_core_pool *p = d->pool;
    pthread_mutex_unlock(&d->mu);
    return p;
}

mf_rt_core_pool *mf_rt_device_started_pool(int dev)
{
    if (dev < 0 || dev >= mf_rt_num_devices())
        return NULL;
    dev_entry *d = &table[dev];
    pthread_mutex_lock(&d->mu);
    mf_rt_core_pool *p = d->pool;
    pthread_mutex_unlock(&d->mu);
    return p;
}

/* Appends q to d's queues (d->mu held); false if out of memory. */
static bool add_queue_locked(dev_entry *d, mf_queue *q)
{
    if (d->nqueues == d->queues_cap) {
        int cap = d->queues_cap ? 2 * d->queues_cap : 8;
        mf_queue **grown = realloc(d->queues, (size_t)cap * sizeof *grown);
        if (!grown)
            return false;
        d->queues = grown;
        d->queues_cap = cap;
    }
    d->queues[d->nqueues++] = q;
    return true;
}

mf_status mf_rt_device_default_queue(int dev, mf_queue **out)
{
    dev_entry *d = &table[dev];
    mf_status s = MF_OK;
    pthread_mutex_lock(&d->mu);
    if (!d->default_queue && !(s = mf_rt_queue_new(dev, true, &d->default_queue)) &&
        !add_queue_locked(d, d->default_queue))
        mf_rt_warn("out of memory registering the default queue of mlu:%d", dev);
    *out = d->default_queue;
    pthread_mutex_unlock(&d->mu);
    return s;
}

void mf_rt_device_add_queue(int dev, mf_queue *q)
{
    dev_entry *d = &table[dev];
    pthread_mutex_lock(&d->mu);
    bool ok = add_queue_locked(d, q);
    pthread_mutex_unlock(&d->mu);
    if (!ok) /* the queue still works; only a device sync will not see it */
        mf_rt_warn("out of memory registering a queue on mlu:%d", dev);
}

/* Waits while a device sync is looking at the queues, so none is freed under it. */
void mf_rt_device_remove_queue(int dev, mf_queue *q)
{
    dev_entry *d = &table[dev];
    pthread_mutex_lock(&d->mu);
    while (d->syncing)
        pthread_cond_wait(&d->sync_cv, &d->mu);
    for (int i = 0; i < d->nqueues; i++) {
        if (d->queues[i] == q) {
            d->queues[i] = d->queues[--d->nqueues];
            break;
        }
    }
    pthread_mutex_unlock(&d->mu);
}

/* Syncs a snapshot of the device's queues without holding the device's lock (a task may
 * need it to find a default queue); queue destruction waits meanwhile.  The first
 * deferred error wins. */
mf_status mf_rt_device_sync_index(int dev)
{
    dev_entry *d = &table[dev];
    mf_queue *local[64], **qs = local;
    pthread_mutex_lock(&d->mu);
    int n = d->nqueues;
    if (n > 64 && !(qs = malloc((size_t)n * sizeof *qs))) {
        pthread_mutex_unlock(&d->mu);
        return mf_error(MF_ERR_NOMEM, "device_sync: out of memory");
    }
    if (n)
        memcpy(qs, d->queues, (size_t)n * sizeof *qs);
    d->syncing++;
    pthread_mutex_unlock(&d->mu);

    mf_status first = MF_OK;
    char msg[1024] = "";
    for (int i = 0; i < n; i++) {
        mf_status s = mf_rt_queue_sync_quiet(qs[i]);
        if (s && !first) {
            first = s;
            snprintf(msg, sizeof msg, "%s", mf_last_error());
        }
    }
    pthread_mutex_lock(&d->mu);
    if (--d->syncing == 0)
        pthread_cond_broadcast(&d->sync_cv);
    pthread_mutex_unlock(&d->mu);
    if (qs != local)
        free(qs);
    return first ? mf_error(first, "%s", msg) : MF_OK;
}

mf_status mf_device_sync(int device)
{
    int dev = 0;
    mf_status s = mf_rt_device_resolve(device, &dev);
    return s ? s : mf_rt_device_sync_index(dev);
}

mf_status mf_rt_device_sync(mf_device dev)
{
    if (dev.type != MF_MLU || dev.index < 0 || dev.index >= mf_rt_num_devices())
        return MF_OK;
    return mf_rt_device_sync_index(dev.index);
}
