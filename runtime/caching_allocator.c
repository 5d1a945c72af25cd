/* caching_allocator.c — device memory for one virtual MLU, in the manner of PyTorch's CUDA
 * caching allocator: memory comes from the system in segments that are split into blocks
 * and kept for reuse when freed.  Two pools: small requests (<= 1 MiB) share 2 MiB
 * segments; large ones get 20 MiB segments (requests < 10 MiB) or their own (rounded to
 * 2 MiB).  A freed block merges with free neighbours of its segment; empty_cache returns
 * whole free segments.  Each pool keeps its free blocks sorted by (size, address) for best
 * fit.  Segments are whole 2 MiB pages, aligned to one and advised to be transparent huge
 * pages (segment_memory).  Every function takes the allocator's mutex, so all are
 * thread-safe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "rt_internal.h"

#define ALIGN ((size_t)64)
#define SMALL_SIZE ((size_t)1 << 20)       /* largest request of the small pool */
#define SMALL_SEGMENT ((size_t)2 << 20)    /* segment size of the small pool */
#define MIN_LARGE_ALLOC ((size_t)10 << 20) /* requests below share a LARGE_SEGMENT */
#define LARGE_SEGMENT ((size_t)20 << 20)
#define ROUND_LARGE ((size_t)2 << 20)
#define HUGE_PAGE ((size_t)2 << 20) /* segments start on one */
#define MIB(x) ((double)(x) / 1048576.0)

typedef struct pool {
    mf_rt_block **free; /* sorted by (size, ptr) */
    size_t n, cap;
    bool small;
} pool;

struct mf_rt_block {
    char *ptr;
    size_t size;
    mf_rt_block *prev, *next; /* address neighbours within the segment */
    pool *pool;
    mf_rt_allocator *alloc;
    bool allocated;
};

struct mf_rt_allocator {
    pthread_mutex_t mu;
    int device;
    pool small, large;
    mf_rt_block *spare; /* recycled block records, linked by next */
    mf_memory_stats st;
    bool huge_pages; /* MLUFUSE_HUGE_PAGES: segments advised to be huge pages */
};

/* ---- the free sets ------------------------------------------------------------------ */

static bool block_less(const mf_rt_block *a, size_t size, const char *ptr)
{
    return a->size < size || (a->size == size && a->ptr < ptr);
}

/* The first free block not less than (size, ptr). */
static size_t lower_bound(const pool *p, size_t size, const char *ptr)
{
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (block_less(p->free[mid], size, ptr))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool pool_insert(pool *p, mf_rt_block *b)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 64;
        mf_rt_block **grown = realloc(p->free, cap * sizeof *grown);
        if (!grown)
            return false;
        p->free = grown;
        p->cap = cap;
    }
    size_t i = lower_bound(p, b->size, b->ptr);
    memmove(p->free + i + 1, p->free + i, (p->n - i) * sizeof *p->free);
    p->free[i] = b;
    p->n++;
    return true;
}

static void pool_remove(pool *p, mf_rt_block *b)
{
    size_t i = lower_bound(p, b->size, b->ptr);
    if (i < p->n && p->free[i] == b) {
        memmove(p->free + i, p->free + i + 1, (p->n - i - 1) * sizeof *p->free);
        p->n--;
    }
}

/* ---- block records ------------------------------------------------------------------- */

static mf_rt_block *record_new(mf_rt_allocator *a)
{
    mf_rt_block *b = a->spare;
    if (b)
        a->spare = b->next;
    else if (!(b = malloc(sizeof *b)))
        return NULL;
    memset(b, 0, sizeof *b);
    b->alloc = a;
    return b;
}

static void record_recycle(mf_rt_allocator *a, mf_rt_block *b)
{
    b->next = a->spare;
    a->spare = b;
}

/* ---- segments ------------------------------------------------------------------------ */

static size_t segment_size(size_t size)
{
    if (size <= SMALL_SIZE)
        return SMALL_SEGMENT;
    if (size < MIN_LARGE_ALLOC)
        return LARGE_SEGMENT;
    return (size + ROUND_LARGE - 1) / ROUND_LARGE * ROUND_LARGE;
}

/* System memory for a segment of seg bytes (mostly a multiple of HUGE_PAGE).  A model's weights
 * are read once a run, a stream of megabytes: on 4 KiB pages every 64 lines of it cost a
 * page walk, and the hardware prefetchers stop at each page's end.  Aligned to 2 MiB and
 * advised (where the kernel's transparent huge pages are "madvise" or "always"), the
 * segment is mapped in 2 MiB pages: resnet18 on one core up to 8 % faster in quiet minutes and
 * 12-18 % in a slow one, its 14x14 Winograd GEMMs 15-35 % (docs/benchmarks.md, 2026-12-07).
 * The advice is a hint: where it is refused (no THP in the kernel) the pages stay small. */
static void *segment_memory(const mf_rt_allocator *a, size_t seg)
{
    if (!a->huge_pages)
        return aligned_alloc(ALIGN, seg);
    void *p = NULL;
    if (posix_memalign(&p, HUGE_PAGE, seg)) /* any size, unlike aligned_alloc */
        return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, seg, MADV_HUGEPAGE);
#endif
    return p;
}

/* A new free segment of seg bytes in pool p, within the limit; NULL if it would pass the
 * limit or the system has no memory. */
static mf_rt_block *segment_new(mf_rt_allocator *a, pool *p, size_t seg)
{
    if (seg > a->st.limit || a->st.reserved > a->st.limit - seg)
        return NULL;
    mf_rt_block *b = record_new(a);
    if (!b)
        return NULL;
    b->ptr = segment_memory(a, seg);
    if (!b->ptr) {
        record_recycle(a, b);
        return NULL;
    }
    b->size = seg;
    b->pool = p;
    a->st.reserved += seg;
    a->st.num_segments++;
    if (a->st.reserved > a->st.max_reserved)
        a->st.max_reserved = a->st.reserved;
    return b;
}

/* Returns every free whole segment of p to the system. */
static void pool_release_cached(mf_rt_allocator *a, pool *p)
{
    size_t kept = 0;
    for (size_t i = 0; i < p->n; i++) {
        mf_rt_block *b = p->free[i];
        if (b->prev || b->next) {
            p->free[kept++] = b;
            continue;
        }
        free(b->ptr);
        a->st.reserved -= b->size;
        a->st.num_segments--;
        record_recycle(a, b);
    }
    p->n = kept;
}

static void release_cached(mf_rt_allocator *a)
{
    pool_release_cached(a, &a->small);
    pool_release_cached(a, &a->large);
}

/* A segment for a request of size bytes: the pool's usual segment size, else exactly the
 * request; after emptying the cache, the same again. */
static mf_rt_block *grow(mf_rt_allocator *a, pool *p, size_t size)
{
    size_t seg = segment_size(size);
    for (int attempt = 0; attempt < 2; attempt++) {
        mf_rt_block *b = segment_new(a, p, seg);
        if (!b && seg != size)
            b = segment_new(a, p, size);
        if (b)
            return b;
        if (attempt == 0 && (a->small.n || a->large.n)) {
            release_cached(a);
            a->st.num_cache_flushes++;
        } else {
            break;
        }
    }
    return NULL;
}

/* ---- allocation ---------------------------------------------------------------------- */

/* Splits the tail of b beyond size off as a free block when it is worth keeping: any
 * remainder in the small pool, more than SMALL_SIZE in the large one. */
static void maybe_split(mf_rt_allocator *a, mf_rt_block *b, size_t size)
{
    size_t rest = b->size - size;
    if (rest < ALIGN || (!b->pool->small && rest <= SMALL_SIZE))
        return;
    mf_rt_block *r = record_new(a);
    if (!r)
        return; /* keeps the whole block: correct, only less frugal */
    r->ptr = b->ptr + size;
    r->size = rest;
    r->pool = b->pool;
    r->prev = b;
    r->next = b->next;
    if (b->next)
        b->next->prev = r;
    b->next = r;
    b->size = size;
    if (!pool_insert(r->pool, r)) { /* cannot list it: merge it back */
        b->next = r->next;
        if (r->next)
            r->next->prev = b;
        b->size += rest;
        record_recycle(a, r);
    }
}

static mf_status out_of_memory(mf_rt_allocator *a, size_t nbytes)
{
    a->st.num_ooms++;
    return mf_error(MF_ERR_NOMEM,
                    "mlu:%d out of memory: tried to allocate %zu bytes (%.2f MiB); %.2f MiB "
                    "allocated, %.2f MiB reserved (%.2f MiB cached), limit %.2f MiB",
                    a->device, nbytes, MIB(nbytes), MIB(a->st.allocated), MIB(a->st.reserved),
                    MIB(a->st.reserved - a->st.allocated), MIB(a->st.limit));
}

mf_status mf_rt_block_alloc(mf_rt_allocator *a, size_t nbytes, mf_rt_block **out)
{
    if (nbytes > SIZE_MAX / 2) {
        pthread_mutex_lock(&a->mu);
        mf_status s = out_of_memory(a, nbytes);
        pthread_mutex_unlock(&a->mu);
        return s;
    }
    size_t size = nbytes ? (nbytes + ALIGN - 1) / ALIGN * ALIGN : ALIGN;
    pthread_mutex_lock(&a->mu);
    pool *p = size <= SMALL_SIZE ? &a->small : &a->large;
    mf_rt_block *b = NULL;
    size_t i = lower_bound(p, size, NULL);
    if (i < p->n) {
        b = p->free[i];
        memmove(p->free + i, p->free + i + 1, (p->n - i - 1) * sizeof *p->free);
        p->n--;
    } else if (!(b = grow(a, p, size))) {
        mf_status s = out_of_memory(a, nbytes);
        pthread_mutex_unlock(&a->mu);
        return s;
    }
    maybe_split(a, b, size);
    b->allocated = true;
    a->st.allocated += b->size;
    a->st.num_allocs++;
    if (a->st.allocated > a->st.max_allocated)
        a->st.max_allocated = a->st.allocated;
    pthread_mutex_unlock(&a->mu);
    *out = b;
    return MF_OK;
}

/* Folds b's free neighbour n (b->next) into b. */
static void absorb_next(mf_rt_allocator *a, mf_rt_block *b)
{
    mf_rt_block *n = b->next;
    pool_remove(n->pool, n);
    b->size += n->size;
    b->next = n->next;
    if (n->next)
        n->next->prev = b;
    record_recycle(a, n);
}

void mf_rt_block_free(mf_rt_block *b)
{
    if (!b)
        return;
    mf_rt_allocator *a = b->alloc;
    pthread_mutex_lock(&a->mu);
    b->allocated = false;
    a->st.allocated -= b->size;
    a->st.num_frees++;
    if (b->next && !b->next->allocated)
        absorb_next(a, b);
    if (b->prev && !b->prev->allocated) {
        mf_rt_block *prev = b->prev;
        pool_remove(prev->pool, prev);
        absorb_next(a, prev);
        b = prev;
    }
    if (!pool_insert(b->pool, b)) {
        /* Cannot cache it: a whole segment goes back to the system, a piece stays unlisted
         * (lost to reuse until its neighbours merge with it). */
        if (!b->prev && !b->next) {
            free(b->ptr);
            a->st.reserved -= b->size;
            a->st.num_segments--;
            record_recycle(a, b);
        }
    }
    pthread_mutex_unlock(&a->mu);
}

void *mf_rt_block_ptr(const mf_rt_block *b)
{
    return b->ptr;
}

size_t mf_rt_block_size(const mf_rt_block *b)
{
    return b->size;
}

/* ---- the allocator ------------------------------------------------------------------- */

/* MLUFUSE_HUGE_PAGES: on (or 1; the default) or off (or 0); anything else is ignored with a
 * warning. */
static bool env_huge_pages(void)
{
    const char *s = getenv("MLUFUSE_HUGE_PAGES");
    if (!s || !strcmp(s, "on") || !strcmp(s, "1"))
        return true;
    if (!strcmp(s, "off") || !strcmp(s, "0"))
        return false;
    mf_rt_warn_env("MLUFUSE_HUGE_PAGES=\"%s\" is not on or off; using on", s);
    return true;
}

mf_rt_allocator *mf_rt_allocator_new(int dev, size_t limit)
{
    mf_rt_allocator *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    pthread_mutex_init(&a->mu, NULL);
    a->device = dev;
    a->small.small = true;
    a->st.limit = limit ? limit : SIZE_MAX;
    a->huge_pages = env_huge_pages();
    return a;
}

void mf_rt_allocator_destroy(mf_rt_allocator *a)
{
    if (!a)
        return;
    release_cached(a);
    free(a->small.free);
    free(a->large.free);
    while (a->spare) {
        mf_rt_block *b = a->spare;
        a->spare = b->next;
        free(b);
    }
    pthread_mutex_destroy(&a->mu);
    free(a);
}

void mf_rt_allocator_stats(mf_rt_allocator *a, mf_memory_stats *out)
{
    pthread_mutex_lock(&a->mu);
    *out = a->st;
    pthread_mutex_unlock(&a->mu);
}

void mf_rt_allocator_reset_peak(mf_rt_allocator *a)
{
    pthread_mutex_lock(&a->mu);
    a->st.max_allocated = a->st.allocated;
    a->st.max_reserved = a->st.reserved;
    pthread_mutex_unlock(&a->mu);
}

void mf_rt_allocator_empty_cache(mf_rt_allocator *a)
{
    pthread_mutex_lock(&a->mu);
    release_cached(a);
    pthread_mutex_unlock(&a->mu);
}

void mf_rt_allocator_set_limit(mf_rt_allocator *a, size_t limit)
{
    pthread_mutex_lock(&a->mu);
    a->st.limit = limit ? limit : SIZE_MAX;
    pthread_mutex_unlock(&a->mu);
}

/* ---- the public memory API ------------------------------------------------------------ */

static mf_status lookup(int device, mf_rt_allocator **out)
{
    int dev = 0;
    mf_status s = mf_rt_device_resolve(device, &dev);
    if (!s)
        *out = mf_rt_device_allocator(dev);
    return s;
}

mf_status mf_memory_get_stats(int device, mf_memory_stats *out)
{
    mf_rt_allocator *a;
    if (!out)
        return mf_error(MF_ERR_INVALID, "memory_get_stats: out is NULL");
    mf_status s = lookup(device, &a);
    if (!s)
        mf_rt_allocator_stats(a, out);
    return s;
}

static mf_memory_stats stats_or_zero(int device)
{
    mf_memory_stats st = {0};
    mf_memory_get_stats(device, &st);
    return st;
}

size_t mf_memory_allocated(int device) { return stats_or_zero(device).allocated; }
size_t mf_max_memory_allocated(int device) { return stats_or_zero(device).max_allocated; }
size_t mf_memory_reserved(int device) { return stats_or_zero(device).reserved; }
size_t mf_max_memory_reserved(int device) { return stats_or_zero(device).max_reserved; }
size_t mf_memory_limit(int device) { return stats_or_zero(device).limit; }

mf_status mf_memory_reset_peak(int device)
{
    mf_rt_allocator *a;
    mf_status s = lookup(device, &a);
    if (!s)
        mf_rt_allocator_reset_peak(a);
    return s;
}

mf_status mf_memory_empty_cache(int device)
{
    mf_rt_allocator *a;
    mf_status s = lookup(device, &a);
    if (!s)
        mf_rt_allocator_empty_cache(a);
    return s;
}

mf_status mf_memory_set_limit(int device, size_t bytes)
{
    mf_rt_allocator *a;
    mf_status s = lookup(device, &a);
    if (s)
        return s;
    mf_rt_allocator_set_limit(a, bytes ? bytes : mf_rt_default_memory_limit());
    return MF_OK;
}
