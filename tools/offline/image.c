/* image.c — see image.h.  libpng's simplified API and libjpeg's decompressor do the decoding
 * (libjpeg reports errors by longjmp, never by exiting); the rest is plain loops. */
#include <ctype.h>
#include <math.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h> /* after stdio.h and stddef.h, which it needs */
#include <jerror.h>  /* the warnings jpeg_warn tells apart */
#include <png.h>

#include "image.h"

static int too_many_pixels(const char *name, unsigned long long w, unsigned long long h, long long max,
                           char *err, size_t cap)
{
    if (w * h <= (unsigned long long)max)
        return 0;
    snprintf(err, cap, "%s: %llux%llu pixels, more than the %lld this runner decodes", name, w, h, max);
    return -1;
}

/* libpng's simplified API says "Read Error" when the file ends early */
static void png_failed(const char *name, const png_image *pi, char *err, size_t cap)
{
    bool short_read = !strcmp(pi->message, "Read Error");
    snprintf(err, cap, "%s: %s", name, short_read ? "truncated (the PNG data ends early)" : pi->message);
}

static int read_png(FILE *f, const char *name, long long max_pixels, image *out, char *err, size_t cap)
{
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_stdio(&pi, f)) {
        png_failed(name, &pi, err, cap);
        return -1;
    }
    if (too_many_pixels(name, pi.width, pi.height, max_pixels, err, cap)) {
        png_image_free(&pi);
        return -1;
    }
    pi.format = PNG_FORMAT_RGB;
    out->w = (int)pi.width;
    out->h = (int)pi.height;
    out->rgb = malloc(PNG_IMAGE_SIZE(pi));
    if (!out->rgb || !png_image_finish_read(&pi, NULL, out->rgb, 0, NULL)) {
        if (out->rgb)
            png_failed(name, &pi, err, cap);
        else
            snprintf(err, cap, "%s: out of memory", name);
        png_image_free(&pi);
        free(out->rgb);
        return -1;
    }
    return 0;
}

typedef struct jpeg_failure {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
} jpeg_failure;

static void jpeg_fail(j_common_ptr c)
{
    longjmp(((jpeg_failure *)c->err)->jump, 1);
}

/* libjpeg's warnings: missing or corrupt image data fails the picture (as PIL refuses a
 * truncated file) instead of decoding into grey or garbage; the rest (odd markers, extra
 * bytes) is decoded, silently.  Traces (level > 0) are ignored. */
static void jpeg_warn(j_common_ptr c, int level)
{
    static const int data_lost[] = {JWRN_JPEG_EOF,    JWRN_HIT_MARKER,     JWRN_HUFF_BAD_CODE,
                                    JWRN_MUST_RESYNC, JWRN_NOT_SEQUENTIAL, JWRN_BOGUS_PROGRESSION};
    for (size_t i = 0; level < 0 && i < sizeof data_lost / sizeof data_lost[0]; i++)
        if (c->err->msg_code == data_lost[i])
            jpeg_fail(c);
}

static int read_jpeg(FILE *f, const char *name, long long max_pixels, image *out, char *err, size_t cap)
{
    struct jpeg_decompress_struct d;
    jpeg_failure fail;
    d.err = jpeg_std_error(&fail.mgr);
    fail.mgr.error_exit = jpeg_fail;
    fail.mgr.emit_message = jpeg_warn;
    out->rgb = NULL;
    if (setjmp(fail.jump)) {
        char msg[JMSG_LENGTH_MAX];
        fail.mgr.format_message((j_common_ptr)&d, msg);
        snprintf(err, cap, "%s: %s", name, msg);
        jpeg_destroy_decompress(&d);
        free(out->rgb);
        return -1;
    }
    jpeg_create_decompress(&d);
    jpeg_stdio_src(&d, f);
    jpeg_read_header(&d, TRUE);
    if (too_many_pixels(name, d.image_width, d.image_height, max_pixels, err, cap)) {
        jpeg_destroy_decompress(&d);
        return -1;
    }
    d.out_color_space = JCS_RGB;
    jpeg_start_decompress(&d);
    out->w = (int)d.output_width;
    out->h = (int)d.output_height;
    if (d.output_components != 3 || !(out->rgb = malloc((size_t)out->w * (size_t)out->h * 3))) {
        snprintf(err, cap, "%s: cannot decode into RGB", name);
        jpeg_destroy_decompress(&d);
        return -1;
    }
    while (d.output_scanline < d.output_height) {
        JSAMPROW row = out->rgb + (size_t)d.output_scanline * (size_t)out->w * 3;
        jpeg_read_scanlines(&d, &row, 1);
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    return 0;
}

int image_read(FILE *f, const char *name, long long max_pixels, image *out, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    unsigned char magic[8] = {0};
    if (fread(magic, 1, sizeof magic, f) < 3) {
        snprintf(err, cap, "%s: cannot read, or too short for a picture", name);
        return -1;
    }
    rewind(f);
    int rc = -1;
    if (!memcmp(magic, "\x89PNG", 4))
        rc = read_png(f, name, max_pixels, out, err, cap);
    else if (magic[0] == 0xff && magic[1] == 0xd8)
        rc = read_jpeg(f, name, max_pixels, out, err, cap);
    else
        snprintf(err, cap, "%s: neither PNG nor JPEG", name);
    if (rc)
        memset(out, 0, sizeof *out); /* a failure leaves no picture behind */
    return rc;
}

int image_load(const char *path, image *out, char *err, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        memset(out, 0, sizeof *out);
        snprintf(err, cap, "%s: cannot read", path);
        return -1;
    }
    int rc = image_read(f, path, IMAGE_MAX_PIXELS, out, err, cap);
    fclose(f);
    return rc;
}

int image_write_png(const char *path, const image *im, char *err, size_t cap)
{
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    pi.width = (png_uint_32)im->w;
    pi.height = (png_uint_32)im->h;
    pi.format = PNG_FORMAT_RGB;
    if (!png_image_write_to_file(&pi, path, 0, im->rgb, 0, NULL)) {
        snprintf(err, cap, "%s: %s", path, pi.message);
        return -1;
    }
    return 0;
}

void image_free(image *im)
{
    free(im->rgb);
    im->rgb = NULL;
}

/* torch's area_pixel_compute_source_index for align_corners=False, in float as torch does. */
static void source(int dst, int in, int outn, int *i0, int *i1, float *l1)
{
    float scale = (float)in / (float)outn;
    float src = scale * ((float)dst + 0.5f) - 0.5f;
    if (src < 0)
        src = 0;
    *i0 = (int)src;
    *i1 = *i0 < in - 1 ? *i0 + 1 : *i0;
    *l1 = src - (float)*i0;
}

/* Channel k of the model's order, from an RGB pixel. */
static float channel(const unsigned char *px, const char *format, int c, int k)
{
    if (c == 1)
        return 0.299f * px[0] + 0.587f * px[1] + 0.114f * px[2];
    char ch = format[k];
    return ch == 'r' ? px[0] : ch == 'g' ? px[1] : ch == 'b' ? px[2] : 255.0f;
}

void image_preprocess(const image *im, const prep *p, int c, float *out)
{
    int H = p->resize_h, W = p->resize_w;
    for (int y = 0; y < H; y++) {
        int y0, y1, x0, x1;
        float ly, lx;
        source(y, im->h, H, &y0, &y1, &ly);
        for (int x = 0; x < W; x++) {
            source(x, im->w, W, &x0, &x1, &lx);
            const unsigned char *p00 = im->rgb + ((size_t)y0 * (size_t)im->w + (size_t)x0) * 3,
                                *p01 = im->rgb + ((size_t)y0 * (size_t)im->w + (size_t)x1) * 3,
                                *p10 = im->rgb + ((size_t)y1 * (size_t)im->w + (size_t)x0) * 3,
                                *p11 = im->rgb + ((size_t)y1 * (size_t)im->w + (size_t)x1) * 3;
            for (int k = 0; k < c; k++) {
                float v = (1 - ly) * ((1 - lx) * channel(p00, p->format, c, k) + lx * channel(p01, p->format, c, k)) +
                          ly * ((1 - lx) * channel(p10, p->format, c, k) + lx * channel(p11, p->format, c, k));
                out[((size_t)k * (size_t)H + (size_t)y) * (size_t)W + (size_t)x] =
                    (float)(((double)v * p->scale - p->mean[k < 4 ? k : 0]) / p->std[k < 4 ? k : 0]);
            }
        }
    }
}

/* ---- drawing ------------------------------------------------------------------------------ */

static void put(image *im, int x, int y, const unsigned char *rgb)
{
    if (x >= 0 && y >= 0 && x < im->w && y < im->h)
        memcpy(im->rgb + ((size_t)y * (size_t)im->w + (size_t)x) * 3, rgb, 3);
}

/* 5x7 glyphs, one byte per row (low 5 bits, bit 4 leftmost). */
static const struct {
    char c;
    unsigned char rows[7];
} font[] = {
    {'0', {14, 17, 19, 21, 25, 17, 14}}, {'1', {4, 12, 4, 4, 4, 4, 14}},   {'2', {14, 17, 1, 2, 4, 8, 31}},
    {'3', {31, 2, 4, 2, 1, 17, 14}},     {'4', {2, 6, 10, 18, 31, 2, 2}},  {'5', {31, 16, 30, 1, 1, 17, 14}},
    {'6', {6, 8, 16, 30, 17, 17, 14}},   {'7', {31, 1, 2, 4, 8, 8, 8}},    {'8', {14, 17, 17, 14, 17, 17, 14}},
    {'9', {14, 17, 17, 15, 1, 2, 12}},   {'.', {0, 0, 0, 0, 0, 12, 12}},   {'%', {24, 25, 2, 4, 8, 19, 3}},
    {'A', {14, 17, 17, 31, 17, 17, 17}}, {'B', {30, 17, 17, 30, 17, 17, 30}}, {'C', {14, 17, 16, 16, 16, 17, 14}},
    {'D', {28, 18, 17, 17, 17, 18, 28}}, {'E', {31, 16, 16, 30, 16, 16, 31}}, {'F', {31, 16, 16, 30, 16, 16, 16}},
    {'G', {14, 17, 16, 23, 17, 17, 15}}, {'H', {17, 17, 17, 31, 17, 17, 17}}, {'I', {14, 4, 4, 4, 4, 4, 14}},
    {'J', {7, 2, 2, 2, 2, 18, 12}},      {'K', {17, 18, 20, 24, 20, 18, 17}}, {'L', {16, 16, 16, 16, 16, 16, 31}},
    {'M', {17, 27, 21, 21, 17, 17, 17}}, {'N', {17, 17, 25, 21, 19, 17, 17}}, {'O', {14, 17, 17, 17, 17, 17, 14}},
    {'P', {30, 17, 17, 30, 16, 16, 16}}, {'Q', {14, 17, 17, 17, 21, 18, 13}}, {'R', {30, 17, 17, 30, 20, 18, 17}},
    {'S', {15, 16, 16, 14, 1, 1, 30}},   {'T', {31, 4, 4, 4, 4, 4, 4}},    {'U', {17, 17, 17, 17, 17, 17, 14}},
    {'V', {17, 17, 17, 17, 17, 10, 4}},  {'W', {17, 17, 17, 21, 21, 21, 10}}, {'X', {17, 17, 10, 4, 10, 17, 17}},
    {'Y', {17, 17, 17, 10, 4, 4, 4}},    {'Z', {31, 1, 2, 4, 8, 16, 31}},    {'_', {0, 0, 0, 0, 0, 0, 31}},
    {'-', {0, 0, 0, 31, 0, 0, 0}},
};

static void draw_text(image *im, int x, int y, const char *text, const unsigned char *rgb)
{
    static const unsigned char black[3] = {0, 0, 0};
    int n = (int)strlen(text);
    for (int yy = y - 1; yy < y + 8; yy++) /* a dark band behind the letters */
        for (int xx = x - 1; xx < x + 6 * n; xx++)
            put(im, xx, yy, black);
    for (int i = 0; i < n; i++) {
        char c = (char)toupper((unsigned char)text[i]);
        for (size_t g = 0; g < sizeof font / sizeof font[0]; g++)
            if (font[g].c == c)
                for (int r = 0; r < 7; r++)
                    for (int b = 0; b < 5; b++)
                        if (font[g].rows[r] >> (4 - b) & 1)
                            put(im, x + 6 * i + b, y + r, rgb);
    }
}

/* v rounded, within [lo, hi] */
static int clamp_round(double v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : (int)lround(v);
}

void image_draw_box(image *im, double x1, double y1, double x2, double y2, const unsigned char *rgb,
                    int width, const char *text)
{
    /* A model's boxes can be anywhere, infinite or NaN: one that misses the picture (or has
     * a NaN) draws nothing, the rest is clipped to a margin of `width` around it, which
     * keeps every loop within the picture's size and every line where it was. */
    if (!(x2 >= 0 && y2 >= 0 && x1 < im->w && y1 < im->h) || width < 1 || width > 64)
        return;
    int a = clamp_round(x1, -width, im->w + width), b = clamp_round(y1, -width, im->h + width);
    int c = clamp_round(x2, -width, im->w + width), d = clamp_round(y2, -width, im->h + width);
    for (int t = 0; t < width; t++) {
        for (int x = a; x <= c; x++) {
            put(im, x, b + t, rgb);
            put(im, x, d - t, rgb);
        }
        for (int y = b; y <= d; y++) {
            put(im, a + t, y, rgb);
            put(im, c - t, y, rgb);
        }
    }
    if (text)
        draw_text(im, a < 0 ? 1 : a + 1, b - 10 < 1 ? b + width + 2 : b - 10, text, rgb);
}
