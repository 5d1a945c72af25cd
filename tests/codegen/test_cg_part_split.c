/* test_cg_part_split.c — how work items map to partitions (codegen/part_split.c), as plain
 * arithmetic: the bounds every engine emits cover each item exactly once and differ by at
 * most one item (by at most `align` when aligned), partitions nest (p of n is 2p and 2p + 1
 * of 2n), and the output-channel engine's rows
 * split gives 2 threads (4 partitions) equal rows on mobilenet_v2's 7x7 projections. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "codegen/cg_internal.h"

/* Partitions [b(p), b(p+1)) tile [0, total) in order, and sizes are within one step. */
static void check_split(int64_t total, int64_t nparts, int64_t align)
{
    int64_t prev = mf_cg_part_bound(0, nparts, total, align), lo = INT64_MAX, hi = 0, covered = 0;
    assert_int_equal(prev, 0);
    for (int64_t p = 0; p < nparts; p++) {
        int64_t next = mf_cg_part_bound(p + 1, nparts, total, align);
        assert_true(next >= prev);                         /* contiguous, in order: each item once */
        assert_true(next == total || next % align == 0);   /* boundaries on the alignment */
        covered += next - prev;
        lo = next - prev < lo ? next - prev : lo;
        hi = next - prev > hi ? next - prev : hi;
        prev = next;
    }
    assert_int_equal(prev, total);
    assert_int_equal(covered, total);
    /* balanced: sizes are the floor or ceiling of total / nparts, give or take the rounding
     * of both bounds to align */
    int64_t even = total / nparts;
    assert_true(hi <= even + align && lo + align >= even + (align > 1));
    if (align == 1)
        assert_true(hi - lo <= 1);
}

static void test_bounds_cover_once(void **state)
{
    (void)state;
    static const int64_t parts[] = {1, 2, 3, 4, 16};
    static const int64_t aligns[] = {1, 16};
    for (size_t a = 0; a < 2; a++)
        for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++)
            for (int64_t total = 0; total <= 300; total++)
                check_split(total, parts[k], aligns[a]);
    /* a large count: p * total does not overflow for the counts kernels have */
    check_split(802816, 4, 16);
    check_split((int64_t)1 << 40, 16, 1);
}

/* 2 threads run partitions 0-1 and 2-3 (runtime/core_pool.c): their rows. */
static void thread_rows(int64_t items, int64_t rows, int64_t nys, int64_t out[2])
{
    out[0] = out[1] = 0;
    for (int64_t p = 0; p < 4; p++)
        for (int64_t u = mf_cg_part_bound(p, 4, items * nys, 1); u < mf_cg_part_bound(p + 1, 4, items * nys, 1); u++) {
            int64_t s = u % nys;
            out[p / 2] += (s + 1) * rows / nys - s * rows / nys;
        }
}

static void test_rows_split(void **state)
{
    (void)state;
    /* 5 blocks of 32 channels (960->160 at 16 lanes) on a 7x7 plane: one range per block
     * gave the threads 2 and 3 blocks (14 and 21 rows); ranges of 1-2 rows, 17 and 18 */
    int64_t t[2];
    thread_rows(5, 7, 1, t);
    assert_true(t[0] == 14 && t[1] == 21);
    assert_true(mf_cg_rows_imbalance(5, 7, 1, 4) > 0.5);
    int64_t nys = mf_cg_rows_split(5, 7, 4, 1, 7);
    assert_true(nys > 1 && nys <= 7);
    assert_true(mf_cg_rows_imbalance(5, 7, nys, 4) < 0.05);
    thread_rows(5, 7, nys, t);
    assert_int_equal(t[0] + t[1], 35);
    assert_true(t[0] >= 17 && t[1] >= 17);
    /* already even: one range per block */
    assert_int_equal(mf_cg_rows_split(8, 7, 4, 1, 7), 1);
    assert_int_equal(mf_cg_rows_split(1, 112, 4, 4, 112), 4); /* 28 rows each */
    /* the cap holds (weights packed per item: 49 pixels allow one range), and so does the
     * minimum when the cap allows it */
    assert_int_equal(mf_cg_rows_split(5, 7, 4, 1, 1), 1);
    assert_true(mf_cg_rows_split(2, 28, 16, 8, 24) >= 8);
    /* a tall plane of prime height: 16 ranges of 255-256 rows, found first */
    assert_int_equal(mf_cg_rows_split(1, 4093, 16, 16, 4093), 16);
    /* every choice covers the rows: its imbalance is finite and the rows sum to the plane */
    for (int64_t items = 1; items <= 12; items++)
        for (int64_t rows = 1; rows <= 14; rows++) {
            nys = mf_cg_rows_split(items, rows, 4, 1, rows);
            assert_true(nys >= 1 && nys <= rows);
            assert_true(mf_cg_rows_imbalance(items, rows, nys, 4) <= mf_cg_rows_imbalance(items, rows, 1, 4) + 1e-12);
            thread_rows(items, rows, nys, t);
            assert_int_equal(t[0] + t[1], items * rows);
        }
}

/* The 1x1 GEMM's projections split by pixels, expansions and small planes by channel blocks. */
static void test_gemm_split_pixels(void **state)
{
    (void)state;
    /* mobilenet_v2 at 4 partitions, 16 lanes, 2-vector tiles (32 pixels): projections */
    assert_true(mf_cg_gemm_split_pixels(576, 96, 196, 6, 1, 4));  /* 14x14 */
    assert_true(mf_cg_gemm_split_pixels(144, 32, 784, 24, 1, 4)); /* 28x28 */
    assert_true(mf_cg_gemm_split_pixels(96, 24, 3136, 98, 1, 4)); /* 56x56 */
    /* expansions keep the channel split (the depthwise layer after reads its channels) */
    assert_false(mf_cg_gemm_split_pixels(96, 576, 196, 6, 1, 4));
    assert_false(mf_cg_gemm_split_pixels(24, 144, 3136, 98, 1, 4));
    /* 7x7 planes: fewer pixels than channels (960->160), and too few tiles */
    assert_false(mf_cg_gemm_split_pixels(960, 160, 49, 1, 1, 4));
    assert_false(mf_cg_gemm_split_pixels(64, 16, 49, 1, 1, 4));
    /* one core, or already as many chunks as partitions */
    assert_false(mf_cg_gemm_split_pixels(576, 96, 196, 6, 1, 1));
    assert_false(mf_cg_gemm_split_pixels(576, 96, 3136, 98, 4, 4));
    /* chunk q's full tiles [bound(q), bound(q + 1)): 6 tiles on 4 chunks, threads (0-1, 2-3)
     * get 3 each (the partial 7th tile goes with the last chunk) */
    int64_t b[5];
    for (int q = 0; q <= 4; q++)
        b[q] = mf_cg_part_bound(q, 4, 6, 1);
    assert_int_equal(b[0], 0);
    assert_int_equal(b[4], 6);
    assert_int_equal(b[2] - b[0], 3);
    for (int q = 0; q < 4; q++)
        assert_true(b[q + 1] - b[q] >= 1);
}

/* Items shared out by cost: the partial tile's items cheaper than the full tiles'. */
static void test_tail_part_bound(void **state)
{
    (void)state;
    /* shapes: segments, full tiles, blocks, full and tail cost; partitions */
    static const int64_t cases[][6] = {{1, 6, 8, 3, 2}, {1, 4, 8, 4, 2}, {2, 3, 5, 3, 2}, {1, 1, 1, 5, 2},
                                       {3, 9, 1, 2, 2}, {1, 0, 4, 3, 2}};
    static const int64_t parts[] = {1, 2, 3, 4, 16};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (size_t j = 0; j < sizeof parts / sizeof parts[0]; j++) {
            int64_t segs = cases[i][0], nfull = cases[i][1], nmb = cases[i][2], full = cases[i][3], tail = cases[i][4];
            int64_t n = parts[j], total = segs * (nfull + 1) * nmb;
            int64_t us = nfull * nmb * full + nmb * tail, prev = 0;
            assert_int_equal(mf_cg_tail_part_bound(0, n, segs, nfull, nmb, full, tail), 0);
            assert_int_equal(mf_cg_tail_part_bound(n, n, segs, nfull, nmb, full, tail), total);
            for (int64_t p = 1; p <= n; p++) {
                int64_t b = mf_cg_tail_part_bound(p, n, segs, nfull, nmb, full, tail);
                assert_true(b >= prev);
                /* each partition's cost within one item's of its share */
                int64_t cost = 0;
                for (int64_t it = prev; it < b; it++)
                    cost += it % ((nfull + 1) * nmb) < nfull * nmb ? full : tail;
                double share = (double)(segs * us) / (double)n;
                assert_true(cost <= share + 2 * full && cost >= share - 2 * full);
                prev = b;
            }
        }
    /* mobilenet_v2's 14x14 576->96 on 2-vector tiles: 6 full tiles, 8 blocks, a 1-vector tail;
     * by cost the threads (partitions 0-1, 2-3) get 27 and 29 items, costs 81 and 79 */
    int64_t b2 = mf_cg_tail_part_bound(2, 4, 1, 6, 8, 3, 2);
    assert_int_equal(b2, 27);
}

/* Partitions nest (codegen.h): partition p of n is exactly partitions 2p and 2p + 1 of 2n,
 * so the core pool may run a launch as finer partitions or as aligned runs of them
 * (runtime/core_pool.c).  Both bounds' arithmetic, for every p, at 1..16 partitions doubled
 * up to 4 times. */
static void test_bounds_nest(void **state)
{
    for (int64_t total = 0; total <= 300; total += 7)
        for (int64_t align = 1; align <= 16; align *= 4)
            for (int64_t n = 1; n <= 16; n++)
                for (int64_t k = 2; k <= 16; k *= 2)
                    for (int64_t p = 0; p <= n; p++)
                        assert_int_equal(mf_cg_part_bound(p, n, total, align), mf_cg_part_bound(p * k, n * k, total, align));
    static const int64_t shapes[][5] = {{1, 6, 8, 3, 2}, {3, 7, 4, 5, 1}, {2, 0, 5, 1, 1}, {4, 13, 3, 7, 4}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int64_t *h = shapes[i];
        for (int64_t n = 1; n <= 16; n++)
            for (int64_t k = 2; k <= 16; k *= 2)
                for (int64_t p = 0; p <= n; p++)
                    assert_int_equal(mf_cg_tail_part_bound(p, n, h[0], h[1], h[2], h[3], h[4]),
                                     mf_cg_tail_part_bound(p * k, n * k, h[0], h[1], h[2], h[3], h[4]));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounds_cover_once),
        cmocka_unit_test(test_rows_split),
        cmocka_unit_test(test_gemm_split_pixels),
        cmocka_unit_test(test_tail_part_bound),
        cmocka_unit_test(test_bounds_nest),
    };
    return cmocka_run_group_tests_name("codegen_part_split", tests, NULL, NULL);
}
