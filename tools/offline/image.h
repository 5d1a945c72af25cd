/* image.h — the offline runner's pictures: decoding PNG and JPEG files with Debian's libpng
 * and libjpeg-turbo into 8-bit RGB, the preprocessing an offline model records (bilinear
 * resize, channel order, scale, mean, std, into NCHW floats), drawing detection boxes, and
 * writing a PNG. */
#ifndef MF_OFFLINE_IMAGE_H
#define MF_OFFLINE_IMAGE_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

typedef struct image {
    int w, h;
    unsigned char *rgb; /* w*h*3 bytes, row-major; malloc'ed */
} image;

/* The most pixels a picture may have (as PIL, about 134 megapixels: a decoded picture is 3
 * bytes a pixel, and a small file can claim 65500 x 65500). */
#define IMAGE_MAX_PIXELS (1LL << 27)

/* Decodes a PNG or JPEG stream (by its first bytes) of at most max_pixels pixels into *out;
 * 0, or -1 with a message naming `name` in err: an unreadable, truncated or corrupt picture,
 * or a larger one. */
int image_read(FILE *f, const char *name, long long max_pixels, image *out, char *err, size_t cap);
/* image_read of the file at path, up to IMAGE_MAX_PIXELS. */
int image_load(const char *path, image *out, char *err, size_t cap);
int image_write_png(const char *path, const image *im, char *err, size_t cap);
void image_free(image *im);

/* The preprocessing recorded by genoff. */
typedef struct prep {
    int resize_h, resize_w; /* the model input's H and W unless the file says otherwise */
    double scale;           /* default 1/255 */
    double mean[4], std[4];
    char format[8]; /* "rgb", "bgr", "rgba", "argb": the model's channel order */
} prep;

/* im resized (bilinear, half-pixel centres, no antialiasing: torch's interpolate with
 * align_corners=False) to p's size, its channels in p's order (1 channel: luminance),
 * (v * scale - mean) / std, written as c planes of h*w floats (the model's input must be
 * [c, resize_h, resize_w] per image). */
void image_preprocess(const image *im, const prep *p, int c, float *out);

/* An outline box (x1, y1, x2, y2 in im's pixels, clipped; one that misses the picture or
 * has a NaN draws nothing) of colour rgb, `width` (1 to 64) pixels wide, with text
 * (upper-case letters, digits, '.', '%', ' ') above it in a 5x7 pixel font. */
void image_draw_box(image *im, double x1, double y1, double x2, double y2, const unsigned char *rgb,
                    int width, const char *text);

#endif
