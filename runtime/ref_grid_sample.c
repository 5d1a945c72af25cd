/* ref_grid_sample.c — the reference kernel of grid_sample (ONNX GridSample 16, PyTorch's
 * grid_sample on 4-D input): each output pixel samples x at the grid's normalized (x, y)
 * in [-1, 1], bilinear, nearest (halves to even) or bicubic (A = -0.75), outside the
 * input as zeros, the border, or the input reflected. */
#include <math.h>

#include "runtime.h"

enum { BILINEAR, NEAREST, BICUBIC };
enum { ZEROS, BORDER, REFLECTION };

typedef struct sampler {
    const float *plane; /* one channel of x */
    int64_t h, w;
    int padding;
    bool align;
} sampler;

static double unnormalize(double coord, int64_t size, bool align)
{
    return align ? (coord + 1) / 2 * (double)(size - 1) : ((coord + 1) * (double)size - 1) / 2;
}

/* coord reflected into [twice_low / 2, twice_high / 2]. */
static double reflect(double coord, int64_t twice_low, int64_t twice_high)
{
    if (twice_low == twice_high)
        return 0;
    double lo = twice_low / 2.0, span = (twice_high - twice_low) / 2.0;
    coord = fabs(coord - lo);
    double extra = fmod(coord, span);
    int64_t flips = (int64_t)floor(coord / span);
    return flips % 2 == 0 ? extra + lo : span - extra + lo;
}

/* The padding mode applied to a source coordinate (zeros leaves it as it is). */
static double padded(const sampler *s, double coord, int64_t size)
{
    if (s->padding == REFLECTION)
        coord = s->align ? reflect(coord, 0, 2 * (size - 1)) : reflect(coord, -1, 2 * size - 1);
    if (s->padding != ZEROS)
        coord = fmin((double)(size - 1), fmax(coord, 0));
    return coord;
}

/* x at integer (ix, iy), 0 outside. */
static double at(const sampler *s, int64_t ix, int64_t iy)
{
    return ix >= 0 && ix < s->w && iy >= 0 && iy < s->h ? s->plane[iy * s->w + ix] : 0;
}

static double cubic(double t, int k) /* the weight of tap k (0..3) at fraction t */
{
    const double a = -0.75;
    double d = k == 0 ? t + 1 : k == 1 ? t : k == 2 ? 1 - t : 2 - t;
    return d <= 1 ? ((a + 2) * d - (a + 3)) * d * d + 1 : ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
}

static double sample(const sampler *s, int mode, double gx, double gy)
{
    double x = unnormalize(gx, s->w, s->align), y = unnormalize(gy, s->h, s->align);
    if (mode == BICUBIC) { /* the padding applies to each tap */
        double x0 = floor(x), y0 = floor(y), sum = 0;
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                double tx = padded(s, x0 - 1 + j, s->w), ty = padded(s, y0 - 1 + i, s->h);
                sum += cubic(x - x0, j) * cubic(y - y0, i) * at(s, (int64_t)tx, (int64_t)ty);
            }
        return sum;
    }
    x = padded(s, x, s->w);
    y = padded(s, y, s->h);
    if (mode == NEAREST)
        return at(s, (int64_t)nearbyint(x), (int64_t)nearbyint(y));
    double x0 = floor(x), y0 = floor(y), fx = x - x0, fy = y - y0;
    int64_t ix = (int64_t)x0, iy = (int64_t)y0;
    return at(s, ix, iy) * (1 - fx) * (1 - fy) + at(s, ix + 1, iy) * fx * (1 - fy) +
           at(s, ix, iy + 1) * (1 - fx) * fy + at(s, ix + 1, iy + 1) * fx * fy;
}

mf_status mf_ref_grid_sample(const mf_ref_call *c)
{
    const mf_type *xt = &c->in_types[0], *ot = c->out_type;
    const float *x = c->in[0], *grid = c->in[1];
    float *out = c->out;
    int mode = (int)mf_attr_int(c->op, c->attrs, "mode");
    sampler s = {NULL, xt->shape[2], xt->shape[3], (int)mf_attr_int(c->op, c->attrs, "padding"),
                 mf_attr_int(c->op, c->attrs, "align_corners") != 0};
    int64_t nc = xt->shape[1], oh = ot->shape[2], ow = ot->shape[3];
    for (int64_t b = 0; b < xt->shape[0]; b++)
        for (int64_t ch = 0; ch < nc; ch++) {
            s.plane = x + (b * nc + ch) * s.h * s.w;
            for (int64_t p = 0; p < oh * ow; p++) {
                const float *g = grid + (b * oh * ow + p) * 2;
                out[(b * nc + ch) * oh * ow + p] = (float)sample(&s, mode, g[0], g[1]);
            }
        }
    return MF_OK;
}
