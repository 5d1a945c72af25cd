/* settings.h — what an offline model records for image mode, as key=value lines of its
 * metadata: `mlufuse genoff` writes them from its flags, the runner reads them back from a
 * file it must not trust.  One table of the keys (how many numbers each takes, their range)
 * serves both, so the writer refuses what the reader would (docs/mfo.md). */
#ifndef MF_OFFLINE_SETTINGS_H
#define MF_OFFLINE_SETTINGS_H

#include <stddef.h>

/* The canonical channel order for s: "rgb", "rgba", "argb" or "bgr", or the seed's 0, 1, 2
 * (rgb, rgba, argb); NULL for anything else. */
const char *offline_input_format(const char *s);

/* "a,b,c" (nothing else around the numbers) into at most max doubles (out may be NULL):
 * the count, or -1 when s is not such a list or has more than max. */
int offline_numbers(const char *s, double *out, int max);

/* "HxW" with 1 <= H, W <= 65536: 0 and the two, or -1. */
int offline_size(const char *s, int *h, int *w);

/* 0 when value is acceptable for key (mean, std, scale, resize, input_format, postprocess,
 * topk, anchors, strides, conf_threshold, nms_threshold; any other key: 0); else -1 with
 * what the key takes in err ("takes 1 to 4 numbers, each within [1e-06, 1e+06]"). */
int offline_setting_check(const char *key, const char *value, char *err, size_t cap);

#endif
