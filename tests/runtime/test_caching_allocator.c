/* test_caching_allocator.c — the device caching allocator: exact statistics after scripted
 * sequences (rounding, splitting, best fit, merging, empty_cache, peaks), the limit and its
 * out-of-memory message, errors for unknown devices and oversize requests, segments on 2 MiB
 * pages advised to be huge (MLUFUSE_HUGE_PAGES), and a million random allocations and frees
 * with overlap checks (run under ASan for leaks). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/rt_internal.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

static mf_rt_block *alloc_ok(mf_rt_allocator *a, size_t n)
{
    mf_rt_block *b = NULL;
    assert_int_equal(mf_rt_block_alloc(a, n, &b), MF_OK);
    assert_non_null(b);
    assert_int_equal((uintptr_t)mf_rt_block_ptr(b) % 64, 0);
    return b;
}

static mf_memory_stats stats(mf_rt_allocator *a)
{
    mf_memory_stats st;
    mf_rt_allocator_stats(a, &st);
    return st;
}

static char *ptr(mf_rt_block *b)
{
    return mf_rt_block_ptr(b);
}

static void test_small_pool_split_merge(void **state)
{
    mf_rt_allocator *al = mf_rt_allocator_new(0, 0);
    mf_rt_block *a = alloc_ok(al, 1), *b = alloc_ok(al, 100), *c = alloc_ok(al, 1000);
    mf_memory_stats st = stats(al);
    assert_int_equal(st.allocated, 64 + 128 + 1024);
    assert_int_equal(st.reserved, 2 * MiB);
    assert_int_equal(st.num_segments, 1);
    assert_ptr_equal(ptr(b), ptr(a) + 64); /* carved from one segment, in order */
    assert_ptr_equal(ptr(c), ptr(b) + 128);

    mf_rt_block_free(b);
    assert_int_equal(stats(al).allocated, 64 + 1024);
    mf_rt_block *d = alloc_ok(al, 64); /* best fit: b's hole, not the segment's tail */
    assert_ptr_equal(ptr(d), ptr(a) + 64);
    assert_int_equal(mf_rt_block_size(d), 64);

    char *base = ptr(a);
    mf_rt_block_free(a);
    mf_rt_block_free(d);
    mf_rt_block_free(c);
    st = stats(al);
    assert_int_equal(st.allocated, 0);
    assert_int_equal(st.reserved, 2 * MiB);
    assert_int_equal(st.max_allocated, 64 + 128 + 1024);
    assert_int_equal(st.num_allocs, 4);
    assert_int_equal(st.num_frees, 4);

    /* Everything merged back: two 1 MiB blocks fill the one segment exactly. */
    mf_rt_block *x = alloc_ok(al, MiB), *y = alloc_ok(al, MiB);
    assert_ptr_equal(ptr(x), base);
    assert_ptr_equal(ptr(y), base + MiB);
    assert_int_equal(stats(al).reserved, 2 * MiB);
    assert_int_equal(stats(al).max_allocated, 2 * MiB);
    mf_rt_block_free(y);
    mf_rt_block_free(x);

    mf_rt_allocator_reset_peak(al);
    assert_int_equal(stats(al).max_allocated, 0);
    mf_rt_allocator_empty_cache(al);
    st = stats(al);
    assert_int_equal(st.reserved, 0);
    assert_int_equal(st.num_segments, 0);
    assert_int_equal(st.max_reserved, 2 * MiB); /* the peak survives until reset */
    mf_rt_allocator_destroy(al);
}

static void test_large_pool_rules(void **state)
{
    mf_rt_allocator *al = mf_rt_allocator_new(0, 0);
    mf_rt_block *a = alloc_ok(al, 3 * MiB); /* < 10 MiB: a 20 MiB segment, split */
    assert_int_equal(stats(al).reserved, 20 * MiB);
    assert_int_equal(stats(al).allocated, 3 * MiB);
    /* 16.5 MiB fits the 17 MiB rest; the 0.5 MiB left is too small to split off. */
    mf_rt_block *b = alloc_ok(al, 16 * MiB + 512 * KiB);
    assert_ptr_equal(ptr(b), ptr(a) + 3 * MiB);
    assert_int_equal(mf_rt_block_size(b), 17 * MiB);
    assert_int_equal(stats(al).allocated, 20 * MiB);
    mf_rt_block *c = alloc_ok(al, 12 * MiB); /* >= 10 MiB: its own segment */
    assert_int_equal(stats(al).reserved, 32 * MiB);
    assert_int_equal(stats(al).num_segments, 2);
    mf_rt_block *s = alloc_ok(al, 4 * KiB); /* small requests never use large blocks */
    assert_int_equal(stats(al).reserved, 34 * MiB);
    mf_rt_block_free(c);
    mf_rt_block_free(a);
    mf_rt_block_free(b);
    mf_rt_block_free(s);
    assert_int_equal(stats(al).allocated, 0);
    mf_rt_block *again = alloc_ok(al, 11 * MiB); /* reuses the cached 12 MiB segment */
    assert_int_equal(stats(al).reserved, 34 * MiB);
    assert_int_equal(mf_rt_block_size(again), 12 * MiB);
    mf_rt_block_free(again);
    mf_rt_allocator_empty_cache(al);
    assert_int_equal(stats(al).reserved, 0);
    mf_rt_allocator_destroy(al);
}

static void test_limit_flushes_then_fails(void **state)
{
    mf_rt_allocator *al = mf_rt_allocator_new(0, 4 * MiB);
    mf_rt_block *a = alloc_ok(al, MiB), *b = NULL;
    assert_int_equal(stats(al).reserved, 2 * MiB);
    assert_int_equal(mf_rt_block_alloc(al, 3 * MiB, &b), MF_ERR_NOMEM);
    assert_null(b);
    const char *msg = mf_last_error();
    assert_non_null(strstr(msg, "mlu:0 out of memory"));
    assert_non_null(strstr(msg, "tried to allocate 3145728 bytes (3.00 MiB)"));
    assert_non_null(strstr(msg, "1.00 MiB allocated"));
    assert_non_null(strstr(msg, "2.00 MiB reserved"));
    assert_non_null(strstr(msg, "limit 4.00 MiB"));
    assert_int_equal(stats(al).num_ooms, 1);

    mf_rt_block_free(a); /* now the small segment is cached and whole: a flush frees it */
    b = alloc_ok(al, 3 * MiB);
    mf_memory_stats st = stats(al);
    assert_int_equal(st.num_cache_flushes, 2);
    assert_int_equal(st.reserved, 3 * MiB); /* an exact segment: 20 MiB would pass */
    assert_int_equal(st.allocated, 3 * MiB);
    mf_rt_block_free(b);

    mf_rt_allocator_set_limit(al, 0); /* no limit */
    b = alloc_ok(al, 5 * MiB);
    assert_int_equal(stats(al).reserved, 3 * MiB + 20 * MiB);
    mf_rt_block_free(b);
    mf_rt_allocator_destroy(al);
}

static void test_public_stats_follow_tensors(void **state)
{
    assert_int_equal(mf_memory_empty_cache(0), MF_OK);
    size_t before = mf_memory_allocated(0);
    mf_tensor *t;
    assert_int_equal(mf_tensor_empty(MF_F32, 2, (int64_t[]){3, 5}, MF_DEVICE_MLU(0), &t), MF_OK);
    assert_int_equal(mf_memory_allocated(0), before + 64); /* 60 bytes, rounded */
    assert_true(mf_memory_reserved(0) >= 2 * MiB);
    assert_true(mf_max_memory_allocated(0) >= before + 64);
    mf_tensor_free(t);
    assert_int_equal(mf_memory_allocated(0), before);
    assert_int_equal(mf_memory_reset_peak(0), MF_OK);
    assert_int_equal(mf_max_memory_allocated(0), before);
    assert_int_equal(mf_memory_empty_cache(-1), MF_OK);
    if (!before)
        assert_int_equal(mf_memory_reserved(0), 0);
}

static void test_public_limit_and_oversize(void **state)
{
    mf_buffer *b = NULL;
    assert_int_equal(mf_rt_alloc(MF_DEVICE_MLU(0), SIZE_MAX / 4, &b), MF_ERR_NOMEM);
    assert_non_null(strstr(mf_last_error(), "out of memory: tried to allocate"));
    assert_null(b);
    mf_tensor *t = NULL;
    /* 32 TiB: a valid shape (under MF_MAX_TENSOR_BYTES) that no device holds */
    assert_int_equal(mf_tensor_empty(MF_F32, 2, (int64_t[]){1 << 20, 1 << 23}, MF_DEVICE_MLU(0),
                                     &t),
                     MF_ERR_NOMEM);
    /* past the bound the shape itself is refused, before any allocation */
    assert_int_equal(mf_tensor_empty(MF_F32, 2, (int64_t[]){1 << 30, 1 << 25}, MF_DEVICE_MLU(0),
                                     &t),
                     MF_ERR_SHAPE);

    size_t dflt = mf_memory_limit(0);
    assert_int_equal(mf_memory_set_limit(0, 8 * MiB), MF_OK);
    assert_int_equal(mf_memory_limit(0), 8 * MiB);
    assert_int_equal(mf_tensor_empty(MF_I8, 1, (int64_t[]){9 * (int64_t)MiB}, MF_DEVICE_MLU(0), &t),
                     MF_ERR_NOMEM);
    assert_non_null(strstr(mf_last_error(), "9.00 MiB"));
    assert_int_equal(mf_tensor_empty(MF_I8, 1, (int64_t[]){7 * (int64_t)MiB}, MF_DEVICE_MLU(0), &t),
                     MF_OK);
    mf_tensor_free(t);
    assert_int_equal(mf_memory_set_limit(0, 0), MF_OK);
    assert_int_equal(mf_memory_limit(0), dflt);
    mf_memory_stats st;
    assert_int_equal(mf_memory_get_stats(0, &st), MF_OK);
    assert_true(st.num_ooms >= 3);
}

static void test_unknown_devices(void **state)
{
    mf_buffer *b = NULL;
    int n = mf_device_count();
    assert_int_equal(mf_rt_alloc(MF_DEVICE_MLU(n), 16, &b), MF_ERR_DEVICE);
    assert_non_null(strstr(mf_last_error(), "unknown device mlu:"));
    assert_int_equal(mf_rt_alloc((mf_device){MF_CPU, 1}, 16, &b), MF_ERR_DEVICE);
    mf_memory_stats st;
    assert_int_equal(mf_memory_get_stats(n, &st), MF_ERR_DEVICE);
    assert_int_equal(mf_memory_get_stats(0, NULL), MF_ERR_INVALID);
    assert_int_equal(mf_memory_allocated(n + 3), 0);
    assert_int_equal(mf_memory_empty_cache(-7), MF_ERR_DEVICE);
    assert_int_equal(mf_memory_set_limit(99, MiB), MF_ERR_DEVICE);
    assert_int_equal(mf_memory_reset_peak(n), MF_ERR_DEVICE);
}

/* xorshift64: cheap and reproducible. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static size_t random_size(uint64_t *s)
{
    uint64_t r = rnd(s) % 1000;
    if (r < 900)
        return 1 + rnd(s) % 4096;
    if (r < 995)
        return 1 + rnd(s) % (2 * MiB);
    return 1 + rnd(s) % (24 * MiB);
}

/* Stamps a block's first and last words with its tag, so overlapping blocks show. */
static void stamp(mf_rt_block *b, uint64_t tag)
{
    size_t n = mf_rt_block_size(b);
    memcpy(ptr(b), &tag, 8);
    memcpy(ptr(b) + n - 8, &tag, 8);
}

static bool stamped(mf_rt_block *b, uint64_t tag)
{
    uint64_t x, y;
    memcpy(&x, ptr(b), 8);
    memcpy(&y, ptr(b) + mf_rt_block_size(b) - 8, 8);
    return x == tag && y == tag;
}

static void test_million_random(void **state)
{
    enum { SLOTS = 512, OPS = 1000000 };
    mf_rt_allocator *al = mf_rt_allocator_new(0, 0);
    mf_rt_block *live[SLOTS] = {0};
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    size_t sum = 0;
    for (int op = 0; op < OPS; op++) {
        int i = (int)(rnd(&seed) % SLOTS);
        if (live[i]) {
            assert_true(stamped(live[i], (uint64_t)i * 2654435761u + 1));
            sum -= mf_rt_block_size(live[i]);
            mf_rt_block_free(live[i]);
            live[i] = NULL;
        } else {
            size_t n = random_size(&seed);
            live[i] = alloc_ok(al, n);
            assert_true(mf_rt_block_size(live[i]) >= n);
            stamp(live[i], (uint64_t)i * 2654435761u + 1);
            sum += mf_rt_block_size(live[i]);
        }
        if (op % 100000 == 0)
            assert_int_equal(stats(al).allocated, sum);
    }
    assert_int_equal(stats(al).allocated, sum);
    for (int i = 0; i < SLOTS; i++)
        mf_rt_block_free(live[i]);
    mf_memory_stats st = stats(al);
    assert_int_equal(st.allocated, 0);
    assert_int_equal(st.num_allocs, st.num_frees);
    mf_rt_allocator_empty_cache(al);
    assert_int_equal(stats(al).reserved, 0);
    mf_rt_allocator_destroy(al);
}

/* Whether the mapping holding p carries the kernel's huge-page advice ("hg" among the
 * VmFlags of /proc/self/smaps); -1 when smaps cannot tell. */
static int advised_huge(const void *p)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return -1;
    char line[512];
    int in = 0, found = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
            in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
        else if (in && !strncmp(line, "VmFlags:", 8)) {
            found = strstr(line, " hg") != NULL;
            break;
        }
    }
    fclose(f);
    return found;
}

/* Every segment, small pool and large, starts on a 2 MiB page and, where the kernel has
 * transparent huge pages, is advised to be made of them; a bad MLUFUSE_HUGE_PAGES warns and
 * keeps the default; =off allocates without the advice (not read back: the C library may hand
 * out heap pages an earlier round advised). */
static void test_segments_on_huge_pages(void **state)
{
    /* qemu-user (make test-avx2 sets MF_TEST_EMULATED) takes madvise and does nothing */
    bool thp = access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0 &&
               !getenv("MF_TEST_EMULATED");
    for (int round = 0; round < 3; round++) {
        setenv("MLUFUSE_HUGE_PAGES", round == 0 ? "on" : round == 1 ? "sometimes" : "off", 1);
        mf_rt_allocator *al = mf_rt_allocator_new(0, 0);
        mf_rt_block *small = alloc_ok(al, 1000), *large = alloc_ok(al, 3 * MiB),
                    *own = alloc_ok(al, 30 * MiB);
        mf_rt_block *blocks[3] = {small, large, own};
        for (int i = 0; i < 3; i++) {
            if (round < 2)
                assert_int_equal((uintptr_t)ptr(blocks[i]) % (2 * MiB), 0);
            if (thp && round < 2) {
                int advised = advised_huge(ptr(blocks[i]));
                thp = advised != -1; /* smaps without VmFlags: the advice cannot be read back */
                if (thp)
                    assert_int_equal(advised, 1);
            }
            memset(ptr(blocks[i]), 1, mf_rt_block_size(blocks[i])); /* the pages are usable */
            mf_rt_block_free(blocks[i]);
        }
        mf_rt_allocator_destroy(al);
    }
    if (!thp)
        print_message(
            "skipped: reading the huge-page advice back (no transparent huge pages in this "
            "kernel, no VmFlags in smaps, or emulated)\n");
    unsetenv("MLUFUSE_HUGE_PAGES");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_pool_split_merge),
        cmocka_unit_test(test_large_pool_rules),
        cmocka_unit_test(test_limit_flushes_then_fails),
        cmocka_unit_test(test_public_stats_follow_tensors),
        cmocka_unit_test(test_public_limit_and_oversize),
        cmocka_unit_test(test_unknown_devices),
        cmocka_unit_test(test_segments_on_huge_pages),
        cmocka_unit_test(test_million_random),
    };
    return cmocka_run_group_tests_name("caching_allocator", tests, NULL, NULL);
}
