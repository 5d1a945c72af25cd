/* settings.c — see settings.h.  The ranges keep every value the runner computes with finite
 * and its conversions defined: (pixel * scale - mean) / std stays far inside float, a stride
 * is a positive integer (the runner also bounds it by the input's size, and the heads' rows),
 * and top-k fits the runner's 64 slots. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "settings.h"

typedef struct numeric_key {
    const char *key;
    int min_count, max_count, multiple; /* the count, a multiple of `multiple` */
    double lo, hi;                      /* each number within [lo, hi] */
    bool integer;
} numeric_key;

static const numeric_key numeric_keys[] = {
    {"mean", 1, 4, 1, -1e6, 1e6, false},
    {"std", 1, 4, 1, 1e-6, 1e6, false},
    {"scale", 1, 1, 1, 1e-6, 1e6, false},
    {"topk", 1, 1, 1, 1, 64, true},
    {"anchors", 6, 48, 6, 0, 1e6, false}, /* (w, h) of 3 anchors a head, up to 8 heads */
    {"strides", 1, 8, 1, 1, 65536, true},
    {"conf_threshold", 1, 1, 1, 0, 1, false},
    {"nms_threshold", 1, 1, 1, 0, 1, false},
};

const char *offline_input_format(const char *s)
{
    static const char *names[] = {"rgb", "rgba", "argb", "bgr"};
    for (int i = 0; s && i < 4; i++)
        if (!strcmp(s, names[i]) || (i < 3 && s[0] == '0' + i && !s[1]))
            return names[i];
    return NULL;
}

int offline_numbers(const char *s, double *out, int max)
{
    int n = 0;
    for (const char *p = s; p && *p; n++) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || (*end && *end != ',') || n == max || (*end == ',' && !end[1]))
            return -1;
        if (out)
            out[n] = v;
        p = *end ? end + 1 : end;
    }
    return n;
}

int offline_size(const char *s, int *h, int *w)
{
    char *end;
    long a = strtol(s, &end, 10);
    if (end == s || *end != 'x' || a < 1 || a > 65536)
        return -1;
    const char *p = end + 1;
    long b = strtol(p, &end, 10);
    if (end == p || *end || b < 1 || b > 65536)
        return -1;
    *h = (int)a, *w = (int)b;
    return 0;
}

static int check_numbers(const numeric_key *k, const char *value, char *err, size_t cap)
{
    double v[48];
    int n = offline_numbers(value, v, k->max_count);
    bool ok = n >= k->min_count && n % k->multiple == 0;
    for (int i = 0; ok && i < n; i++)
        ok = v[i] >= k->lo && v[i] <= k->hi && (!k->integer || v[i] == floor(v[i]));
    if (ok)
        return 0;
    const char *what = k->integer ? "integer" : "number";
    if (k->max_count == 1)
        snprintf(err, cap, "takes one %s within [%g, %g]", what, k->lo, k->hi);
    else
        snprintf(err, cap, "takes %d to %d %ss%s, each within [%g, %g]", k->min_count, k->max_count,
                 what, k->multiple > 1 ? " (a multiple of 6: 3 (w, h) pairs a head)" : "", k->lo,
                 k->hi);
    return -1;
}

int offline_setting_check(const char *key, const char *value, char *err, size_t cap)
{
    for (size_t i = 0; i < sizeof numeric_keys / sizeof numeric_keys[0]; i++)
        if (!strcmp(key, numeric_keys[i].key))
            return check_numbers(&numeric_keys[i], value, err, cap);
    int h, w;
    if (!strcmp(key, "resize") && offline_size(value, &h, &w)) {
        snprintf(err, cap, "takes HxW, each from 1 to 65536");
        return -1;
    }
    if (!strcmp(key, "input_format") && !offline_input_format(value)) {
        snprintf(err, cap, "takes rgb, rgba, argb or bgr (0, 1, 2)");
        return -1;
    }
    if (!strcmp(key, "postprocess") && strcmp(value, "none") && strcmp(value, "softmax-topk") &&
        strcmp(value, "yolo")) {
        snprintf(err, cap, "takes none, softmax-topk or yolo");
        return -1;
    }
    return 0;
}
