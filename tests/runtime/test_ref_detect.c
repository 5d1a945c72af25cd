/* test_ref_detect.c — the detection kernels against hand-computed values: roi_align's bins
 * (average and max of the weighted corners, both coordinate modes) and the greedy order,
 * suppression and limits of non-maximum suppression (mf_rt_nms). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>

#include "tests/support/ref_call.h"

/* A 4x4 plane x[y][x] = 4y + x: bilinear samples of a linear ramp are exact, so a bin's
 * average is the ramp at the bin's centre. */
static const float ramp[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static float *roi_align(int64_t mode, int64_t half_pixel, const float *box)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_ROI_ALIGN, a);
    TREF_INTS(MF_OP_ROI_ALIGN, a, "output", 2, 2);
    tref_set_int(MF_OP_ROI_ALIGN, a, "sampling_ratio", 2);
    tref_set_int(MF_OP_ROI_ALIGN, a, "mode", mode);
    tref_set_int(MF_OP_ROI_ALIGN, a, "half_pixel", half_pixel);
    static const int64_t batch[1] = {0};
    mf_type ot;
    float *o = tref_run(MF_OP_ROI_ALIGN, a, 3, (mf_type[]){TT(MF_F32, 1, 1, 4, 4), TT(MF_F32, 1, 4), TT(MF_I64, 1)},
                        (const void *[]){ramp, box, batch}, &ot);
    assert_int_equal(ot.rank, 4);
    assert_int_equal(ot.shape[2] * ot.shape[3], 4);
    return o;
}

static void test_roi_align(void **state)
{
    (void)state;
    float *o = roi_align(0, 0, (const float[]){0, 0, 2, 2}); /* bins of 1 pixel from (0, 0) */
    TREF_EXPECT(o, 2.5, 3.5, 6.5, 7.5);
    free(o);
    o = roi_align(0, 1, (const float[]){0.5f, 0.5f, 2.5f, 2.5f}); /* half_pixel shifts by -0.5 */
    TREF_EXPECT(o, 2.5, 3.5, 6.5, 7.5);
    free(o);
    /* output_half_pixel makes a roi at least one pixel: [1, 1.5] widens to [1, 2] */
    o = roi_align(0, 0, (const float[]){1, 1, 1.5f, 1.5f});
    TREF_EXPECT(o, 6.25, 6.75, 8.25, 8.75);
    free(o);
    o = roi_align(0, 0, (const float[]){NAN, 0, 2, 2}); /* a NaN roi samples nothing: 0 */
    TREF_EXPECT(o, 0, 0, 0, 0);
    free(o);
    /* max: the largest weighted corner of the samples; bin (0, 0)'s is at (0.75, 0.75):
     * 0.75 * 0.75 * x[1][1] = 2.8125 */
    o = roi_align(1, 0, (const float[]){0, 0, 2, 2});
    tref_assert_close(o, (const double[]){2.8125}, 1);
    free(o);
}

static void test_nms(void **state)
{
    (void)state;
    /* boxes as [y1, x1, y2, x2]: 0 and 1 overlap by IoU 0.6, 2 lies apart, 3 is flipped 2 */
    static const float boxes[] = {0, 0, 10, 10, 0, 2.5f, 10, 12.5f, 20, 20, 30, 30, 30, 30, 20, 20};
    static const float scores[] = {0.8f, 0.9f, 0.3f, 0.35f, /* class 1: */ 0.1f, 0.2f, 0.7f, 0.6f};
    mf_rt_nms_args a = {1, 2, 4, 10, 0.5f, false, 0, false};
    int64_t *sel, count;
    assert_int_equal(mf_rt_nms(&a, boxes, scores, &sel, &count), MF_OK);
    static const int64_t want[] = {0, 0, 1, 0, 0, 3, 0, 1, 2, 0, 1, 1};
    assert_int_equal(count, 4);
    assert_memory_equal(sel, want, sizeof want);
    free(sel);
    /* a higher threshold keeps 0 beside 1; a score threshold drops the low ones */
    a.iou_threshold = 0.7f, a.has_score_threshold = true, a.score_threshold = 0.5f;
    assert_int_equal(mf_rt_nms(&a, boxes, scores, &sel, &count), MF_OK);
    static const int64_t want2[] = {0, 0, 1, 0, 0, 0, 0, 1, 2}; /* 3 still overlaps 2 fully */
    assert_int_equal(count, 3);
    assert_memory_equal(sel, want2, sizeof want2);
    free(sel);
    a.max_per_class = 1; /* one per class */
    assert_int_equal(mf_rt_nms(&a, boxes, scores, &sel, &count), MF_OK);
    assert_int_equal(count, 2);
    assert_int_equal(sel[2], 1);
    assert_int_equal(sel[5], 2);
    free(sel);
    a.max_per_class = 0; /* ONNX's default: nothing */
    assert_int_equal(mf_rt_nms(&a, boxes, scores, &sel, &count), MF_OK);
    assert_int_equal(count, 0);
    free(sel);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roi_align),
        cmocka_unit_test(test_nms),
    };
    return cmocka_run_group_tests_name("ref_detect", tests, NULL, NULL);
}
