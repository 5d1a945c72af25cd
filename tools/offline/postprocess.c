/* postprocess.c — see postprocess.h.  The YOLOv3 decoding follows
 * ../shared/models/make_detector.py (torchvision's batched_nms: a box is dropped when its
 * IoU with a kept box of its class exceeds the threshold), in float as torch computes it. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "postprocess.h"

void post_topk(const float *logits, int n, int k, int *idx, float *prob)
{
    float max = -INFINITY;
    for (int i = 0; i < n; i++)
        max = logits[i] > max ? logits[i] : max;
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += exp((double)logits[i] - max);
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int i = 0; i < n; i++) {
            bool taken = false;
            for (int q = 0; q < j && !taken; q++)
                taken = idx[q] == i;
            if (!taken && (best < 0 || logits[i] > logits[best]))
                best = i;
        }
        idx[j] = best;
        prob[j] = best < 0 ? 0 : (float)(exp((double)logits[best] - max) / sum);
    }
}

static float sigmoid(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

static int by_score(const void *a, const void *b)
{
    float x = ((const detection *)a)->score, y = ((const detection *)b)->score;
    return x > y ? -1 : x < y;
}

static float iou(const detection *a, const detection *b)
{
    float w = fminf(a->x2, b->x2) - fmaxf(a->x1, b->x1), h = fminf(a->y2, b->y2) - fmaxf(a->y1, b->y1);
    float inter = (w > 0 ? w : 0) * (h > 0 ? h : 0);
    float area_a = (a->x2 - a->x1) * (a->y2 - a->y1), area_b = (b->x2 - b->x1) * (b->y2 - b->y1);
    return inter / (area_a + area_b - inter);
}

int post_yolo(const float *rows, int n, int width, const yolo_params *p, detection *out, int cap)
{
    int total = 0, ncand = 0;
    for (int h = 0; h < p->nheads; h++)
        total += 3 * (p->input_h / p->strides[h]) * (p->input_w / p->strides[h]);
    if (total != n || width < 6)
        return -1;
    detection *cand = malloc(sizeof *cand * (size_t)n);
    if (!cand)
        return -1;
    const float *r = rows;
    for (int h = 0; h < p->nheads; h++) {
        int s = p->strides[h], gh = p->input_h / s, gw = p->input_w / s;
        for (int a = 0; a < 3; a++)
            for (int y = 0; y < gh; y++)
                for (int x = 0; x < gw; x++, r += width) {
                    int cls = 0;
                    for (int c = 1; c < width - 5; c++)
                        if (r[5 + c] > r[5 + cls])
                            cls = c;
                    float score = sigmoid(r[4]) * sigmoid(r[5 + cls]);
                    if (!(score > p->conf))
                        continue;
                    float cx = (sigmoid(r[0]) + (float)x) * (float)s, cy = (sigmoid(r[1]) + (float)y) * (float)s;
                    float bw = expf(r[2]) * p->anchors[h][a][0], bh = expf(r[3]) * p->anchors[h][a][1];
                    cand[ncand++] = (detection){cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2, score, (float)cls};
                }
    }
    qsort(cand, (size_t)ncand, sizeof *cand, by_score);
    int kept = 0;
    for (int i = 0; i < ncand; i++) {
        bool drop = false;
        for (int j = 0; j < kept && !drop; j++)
            drop = out[j].cls == cand[i].cls && iou(&out[j], &cand[i]) > p->iou;
        if (!drop && kept < cap)
            out[kept++] = cand[i];
    }
    free(cand);
    return kept;
}
