/* pinned.c — page-locked host tensors (the seed's pinned memory): cpu tensors whose pages
 * are mlock'ed, so copies between them and a device may run asynchronously on a queue.
 * Where the system refuses the lock (RLIMIT_MEMLOCK), the tensor keeps ordinary memory and
 * a warning is recorded once: pinning is a speed-up, never a reason to fail. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rt_internal.h"

static const char pinned_tag = 'P'; /* buffer->owner of storage that is locked */
static atomic_size_t locked_bytes;
static atomic_size_t budget = SIZE_MAX;
static atomic_bool warned;

void mf_rt_pinned_set_budget(size_t bytes)
{
    atomic_store(&budget, bytes);
}

void mf_rt_pinned_reset_warning(void)
{
    atomic_store(&warned, false);
}

/* The bytes behind a pinned buffer of nbytes: whole pages, at least one. */
static size_t page_len(size_t nbytes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return nbytes ? (nbytes + page - 1) / page * page : page;
}

static void free_pinned(mf_buffer *b)
{
    if (b->owner == &pinned_tag) {
        munlock(b->data, page_len(b->nbytes));
        atomic_fetch_sub(&locked_bytes, page_len(b->nbytes));
    }
    free(b->data);
}

/* Locks len bytes at p, within the budget; errno says why not. */
static bool lock_pages(void *p, size_t len)
{
    size_t before = atomic_fetch_add(&locked_bytes, len);
    if (before + len > atomic_load(&budget) || before + len < before) {
        atomic_fetch_sub(&locked_bytes, len);
        errno = ENOMEM;
        return false;
    }
    if (mlock(p, len) == 0)
        return true;
    int e = errno;
    atomic_fetch_sub(&locked_bytes, len);
    errno = e;
    return false;
}

static void warn_once(size_t len, int err)
{
    if (atomic_exchange(&warned, true))
        return;
    mf_rt_warn("pinned memory: could not lock %zu bytes (%s; raise the memory-lock limit, "
               "ulimit -l); using ordinary memory, so copies will be synchronous",
               len, strerror(err));
}

/* Page-aligned storage of nbytes, locked where the system allows. */
static mf_buffer *pinned_buffer(size_t nbytes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), len = page_len(nbytes);
    if (nbytes > SIZE_MAX / 2)
        return NULL;
    mf_buffer *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    if (!(b->data = aligned_alloc(page, len))) {
        free(b);
        return NULL;
    }
    atomic_init(&b->refs, 1);
    b->nbytes = nbytes;
    b->device = MF_DEVICE_CPU;
    b->free_fn = free_pinned;
    if (lock_pages(b->data, len))
        b->owner = (void *)&pinned_tag;
    else
        warn_once(len, errno);
    return b;
}

static mf_status check_shape(mf_dtype dt, int rank, const int64_t *shape, mf_type *t)
{
    if ((unsigned)dt >= MF_DTYPE_COUNT)
        return mf_error(MF_ERR_DTYPE, "tensor_empty_pinned: unknown dtype %d", (int)dt);
    if (rank < 0 || rank > MF_MAX_RANK || (rank && !shape))
        return mf_error(MF_ERR_SHAPE, "tensor_empty_pinned: bad rank %d or NULL shape", rank);
    memset(t, 0, sizeof *t);
    t->dtype = dt;
    t->rank = rank;
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 0 || (shape[i] && n > INT64_MAX / 16 / shape[i]))
            return mf_error(MF_ERR_SHAPE, "tensor_empty_pinned: dim %d (%lld) is negative or "
                            "overflows", i, (long long)shape[i]);
        n *= shape[i];
        t->shape[i] = shape[i];
    }
    return MF_OK;
}

mf_status mf_tensor_empty_pinned(mf_dtype dt, int rank, const int64_t *shape, mf_tensor **out)
{
    mf_type t;
    if (!out)
        return mf_error(MF_ERR_INVALID, "tensor_empty_pinned: out is NULL");
    mf_status s = check_shape(dt, rank, shape, &t);
    if (s)
        return s;
    mf_buffer *b = pinned_buffer(mf_type_nbytes(&t));
    if (!b)
        return mf_error(MF_ERR_NOMEM, "tensor_empty_pinned: out of memory for %zu bytes",
                        mf_type_nbytes(&t));
    /* A view of a stand-in tensor over b gives a real tensor (fresh uid) retaining b. */
    mf_tensor tmp = {.type = t, .device = MF_DEVICE_CPU, .storage = b};
    atomic_init(&tmp.refs, 1);
    s = mf_rt_tensor_view(&tmp, &t, out);
    mf_buffer_release(b);
    return s;
}

int mf_tensor_is_pinned(const mf_tensor *t)
{
    return t && t->storage && t->storage->free_fn == free_pinned &&
           t->storage->owner == &pinned_tag;
}
