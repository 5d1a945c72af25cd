/* fuzz_image.c — the offline runner's picture decoder (tools/offline/image.c: PNG through
 * libpng, JPEG through libjpeg-turbo) on arbitrary bytes, with a limit of 2^20 pixels so a
 * claimed huge picture is refused quickly.  A decode either fails with a message or gives a
 * picture within the limit, which is then preprocessed at two sizes and channel orders (the
 * bilinear resize reads only its pixels) and has boxes drawn on it from infinite, NaN, huge
 * and inside coordinates (the drawing writes only its pixels). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/fuzz/fuzz.h"
#include "tools/offline/image.h"

#define MAX_PIXELS (1LL << 20)

static void use(image *im)
{
    static float out[4 * 9 * 7];
    prep rgb = {9, 7, 1.0 / 255, {0.5, 0.5, 0.5, 0}, {0.25, 0.25, 0.25, 1}, "bgr"};
    prep gray = {1, 2, 1.0, {0}, {1}, "rgb"};
    prep argb = {3, 1, 1.0 / 255, {0}, {1, 1, 1, 1}, "argb"};
    image_preprocess(im, &rgb, 3, out);
    image_preprocess(im, &gray, 1, out);
    image_preprocess(im, &argb, 4, out);
    static const unsigned char red[3] = {255, 0, 0};
    const double w = im->w, h = im->h,
                 boxes[][4] = {
                     {1, 1, w - 2, h - 2}, {-1e300, -5, 1e300, h + 5},
                     {NAN, 0, 3, 3},       {-INFINITY, -INFINITY, INFINITY, INFINITY},
                     {w + 1, 0, w + 9, h}, {-3e9, 2, 3e9, 2},
                     {0.4, 0.4, 0.6, 0.6}, {w - 1, h - 1, w - 1, h - 1},
                 };
    for (size_t i = 0; i < sizeof boxes / sizeof boxes[0]; i++)
        image_draw_box(im, boxes[i][0], boxes[i][1], boxes[i][2], boxes[i][3], red, 2,
                       "PERSON 99%");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fuzz_stream(data, size);
    if (!f)
        return 0;
    image im;
    char err[256] = "";
    if (image_read(f, "fuzz", MAX_PIXELS, &im, err, sizeof err) == 0) {
        if (im.w < 1 || im.h < 1 || (long long)im.w * im.h > MAX_PIXELS || !im.rgb)
            abort(); /* a picture past the limit, or none */
        use(&im);
        image_free(&im);
    } else if (!err[0] || im.rgb) {
        abort(); /* every refusal says why, and leaves nothing behind */
    }
    fclose(f);
    return 0;
}
