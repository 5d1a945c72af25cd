/* part_split.c — how a kernel's work items map to partitions, as plain arithmetic: the
 * bounds every engine's mf_cg_part_range emits (so a test can check that they cover the
 * items once and evenly), and how finely an engine whose items are (block, range of rows)
 * cuts its rows so that partitions get equal rows, not only equal counts of items.  The
 * pool runs a launch's partitions as contiguous home runs per thread (runtime/core_pool.c:
 * 2 threads, 4 partitions: 0-1 and 2-3), so partitions of equal work give threads equal work. */
#include "cg_internal.h"

int64_t mf_cg_part_bound(int64_t p, int64_t nparts, int64_t total, int64_t align)
{
    int64_t b = p * total / nparts;
    if (align > 1)
        b = (b + align - 1) / align * align;
    return b < total ? b : total;
}

/* Rows of range s of nys over `rows` rows (oc_item_decode's y0, y1). */
static int64_t range_rows(int64_t s, int64_t nys, int64_t rows)
{
    return (s + 1) * rows / nys - s * rows / nys;
}

double mf_cg_rows_imbalance(int64_t items, int64_t rows, int64_t nys, int64_t parts)
{
    int64_t total = items * nys, most = 0;
    for (int64_t p = 0; p < parts; p++) {
        int64_t lo = mf_cg_part_bound(p, parts, total, 1), hi = mf_cg_part_bound(p + 1, parts, total, 1), sum = 0;
        for (int64_t u = lo; u < hi; u++)
            sum += range_rows(u % nys, nys, rows);
        most = sum > most ? sum : most;
    }
    return items * rows > 0 ? (double)most * (double)parts / (double)(items * rows) - 1 : 0;
}

/* Evaluating a candidate walks its items: only splits of few items (where the imbalance is
 * large) are searched; past this many items a partition's extra item is a small share.  The
 * search stops at an imbalance of SPLIT_EVEN (a tall plane of prime height, 4093 rows on 16
 * partitions, needs 16 ranges, not all 4093 tried). */
#define SPLIT_SEARCH_ITEMS 4096
#define SPLIT_EVEN 0.01

int64_t mf_cg_rows_split(int64_t items, int64_t rows, int64_t parts, int64_t min_nys, int64_t max_nys)
{
    if (max_nys > rows)
        max_nys = rows;
    if (min_nys > max_nys)
        min_nys = max_nys;
    if (min_nys < 1)
        min_nys = 1;
    if (max_nys <= min_nys || parts <= 1 || items * rows > SPLIT_SEARCH_ITEMS)
        return min_nys;
    int64_t best = min_nys;
    double best_imb = mf_cg_rows_imbalance(items, rows, min_nys, parts);
    for (int64_t nys = min_nys + 1; nys <= max_nys && best_imb > SPLIT_EVEN; nys++) {
        double imb = mf_cg_rows_imbalance(items, rows, nys, parts);
        if (imb < best_imb - 1e-9) { /* the fewest ranges for the least imbalance */
            best_imb = imb;
            best = nys;
        }
    }
    return best;
}

/* The 1x1 GEMM engine's items are (chunk of pixels, block of channels), blocks innermost; a
 * plane that fits one chunk thus split its blocks of output channels, so every partition read
 * the whole input.  On a projection (more input channels than output, mobilenet_v2's
 * 576->96 after a depthwise layer split by channels) that is each thread reading twice what
 * it needs, half of it from the other core's cache: 64-70 us for a thread's first partition
 * against 32-35 us.  Chunks of pixels a partition read 1/parts of the input each and all the
 * weights, which is less when the plane has more pixels than the layer output channels.
 * Expansions keep the channel split: their input is small, and their output blocks are the
 * channels the depthwise layer after them reads on the same core. */
bool mf_cg_gemm_split_pixels(int64_t cing, int64_t coutg, int64_t npix, int64_t nfull, int64_t nchunk,
                             int64_t parts)
{
    return parts > 1 && nchunk < parts && cing > coutg && npix > coutg && nfull >= parts;
}

/* A segment's cost r into items: ceil over the full items, then ceil over the tail ones. */
int64_t mf_cg_tail_part_bound(int64_t p, int64_t nparts, int64_t segs, int64_t nfull, int64_t nmb, int64_t full,
                              int64_t tail)
{
    int64_t F = nfull * nmb, us = F * full + nmb * tail, u = p * segs * us / nparts;
    int64_t s = u / us, r = u - s * us;
    int64_t i = r <= F * full ? (r + full - 1) / full : F + (r - F * full + tail - 1) / tail;
    return s * (F + nmb) + i;
}
