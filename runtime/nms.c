/* nms.c — non-maximum suppression (ONNX NonMaxSuppression, torchvision.ops.nms): per batch
 * and class, the boxes by decreasing score, each kept unless it overlaps a kept one by more
 * than the IoU threshold.  How many it keeps depends on the values, so the importer calls it
 * when boxes and scores are known (shapes in mlufuse are static). */
#include <stdlib.h>

#include "runtime.h"

typedef struct scored {
    float score;
    int64_t index;
} scored;

/* Decreasing score; equal scores keep the lower index first (ONNX Runtime's order). */
static int by_score(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return (x->index > y->index) - (x->index < y->index);
}

/* Box i as y1 <= y2, x1 <= x2: corners in either order (flipped), or center and size. */
static void corners(const float *b, bool center_point, float c[4])
{
    if (center_point) {
        c[0] = b[1] - b[3] / 2, c[2] = b[1] + b[3] / 2; /* [x_center, y_center, w, h] */
        c[1] = b[0] - b[2] / 2, c[3] = b[0] + b[2] / 2;
        return;
    }
    c[0] = b[0] < b[2] ? b[0] : b[2], c[2] = b[0] < b[2] ? b[2] : b[0];
    c[1] = b[1] < b[3] ? b[1] : b[3], c[3] = b[1] < b[3] ? b[3] : b[1];
}

static bool overlaps(const float a[4], const float b[4], float threshold)
{
    float y0 = a[0] > b[0] ? a[0] : b[0], x0 = a[1] > b[1] ? a[1] : b[1];
    float y1 = a[2] < b[2] ? a[2] : b[2], x1 = a[3] < b[3] ? a[3] : b[3];
    if (y1 <= y0 || x1 <= x0)
        return false;
    float inter = (y1 - y0) * (x1 - x0);
    float area_a = (a[2] - a[0]) * (a[3] - a[1]), area_b = (b[2] - b[0]) * (b[3] - b[1]);
    float uni = area_a + area_b - inter;
    if (area_a <= 0 || area_b <= 0 || uni <= 0)
        return false;
    return inter / uni > threshold;
}

/* Greedy selection over one batch and class: appends (batch, class, box) triples to sel. */
static void select_class(const mf_rt_nms_args *a, const float *boxes, const float *scores, int64_t b,
                         int64_t c, scored *order, float (*kept)[4], int64_t *sel, int64_t *count)
{
    int64_t m = 0, nkept = 0;
    for (int64_t i = 0; i < a->num_boxes; i++)
        if (!a->has_score_threshold || scores[i] > a->score_threshold)
            order[m++] = (scored){scores[i], i};
    qsort(order, (size_t)m, sizeof *order, by_score);
    for (int64_t j = 0; j < m && nkept < a->max_per_class; j++) {
        float box[4];
        corners(boxes + 4 * order[j].index, a->center_point_box, box);
        bool drop = false;
        for (int64_t k = 0; k < nkept && !drop; k++)
            drop = overlaps(kept[k], box, a->iou_threshold);
        if (drop)
            continue;
        for (int q = 0; q < 4; q++)
            kept[nkept][q] = box[q];
        nkept++;
        int64_t *t = sel + 3 * (*count)++;
        t[0] = b, t[1] = c, t[2] = order[j].index;
    }
}

mf_status mf_rt_nms(const mf_rt_nms_args *a, const float *boxes, const float *scores, int64_t **selected,
                    int64_t *count)
{
    *selected = NULL;
    *count = 0;
    int64_t n = a->num_boxes, per = a->max_per_class < n ? a->max_per_class : n;
    if (per < 0)
        per = 0;
    scored *order = malloc(sizeof *order * (size_t)(n ? n : 1));
    float (*kept)[4] = malloc(sizeof *kept * (size_t)(per ? per : 1));
    int64_t *sel = malloc(sizeof *sel * 3 * (size_t)(a->num_batches * a->num_classes * per + 1));
    if (!order || !kept || !sel) {
        free(order), free(kept), free(sel);
        return mf_error(MF_ERR_NOMEM, "nms: out of memory for %lld boxes", (long long)n);
    }
    for (int64_t b = 0; b < a->num_batches; b++)
        for (int64_t c = 0; c < a->num_classes && per > 0; c++)
            select_class(a, boxes + b * n * 4, scores + (b * a->num_classes + c) * n, b, c, order, kept,
                         sel, count);
    free(order);
    free(kept);
    *selected = sel;
    return MF_OK;
}
