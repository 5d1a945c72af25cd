/* postprocess.h — what the offline runner makes of a model's output for one image: the
 * top-k classes of a classifier (softmax), or the boxes of a YOLOv3 detector (decoding of
 * the raw heads, score threshold, per-class non-maximum suppression, by score). */
#ifndef MF_OFFLINE_POSTPROCESS_H
#define MF_OFFLINE_POSTPROCESS_H

#include <stddef.h>

/* The k best of n logits after a softmax: classes in idx, probabilities in prob. */
void post_topk(const float *logits, int n, int k, int *idx, float *prob);

typedef struct yolo_params {
    int nheads;
    int strides[8];
    float anchors[8][3][2]; /* per head, 3 anchors (w, h) in input pixels */
    int input_h, input_w;
    float conf, iou;
} yolo_params;

typedef struct detection {
    float x1, y1, x2, y2, score, cls;
} detection;

/* Decodes one image's rows (n rows of `width` values: tx, ty, tw, th, objectness, class
 * logits; heads in order, each head's rows ordered anchor, y, x) into at most cap
 * detections sorted by score; returns how many, or -1 when the rows do not fit the heads. */
int post_yolo(const float *rows, int n, int width, const yolo_params *p, detection *out, int cap);

#endif
