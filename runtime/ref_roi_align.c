/* ref_roi_align.c — the reference kernel of roi_align (ONNX RoiAlign, torchvision's
 * roi_align): each region of interest of a feature map pooled to a fixed grid of bins
 * from bilinear samples, as ONNX Runtime and torchvision compute it. */
#include <math.h>

#include "runtime.h"

/* The bilinear sample of plane[h][w] at (y, x): 0 outside [-1, h] x [-1, w], the border
 * value clamped inside.  In max mode it is the largest weighted corner, as ONNX Runtime
 * takes it, not the interpolated value. */
static float sample(const float *plane, int64_t h, int64_t w, double y, double x, bool max_mode)
{
    if (!(y >= -1.0 && y <= (double)h && x >= -1.0 && x <= (double)w)) /* NaN too */
        return 0.0f;
    y = y <= 0 ? 0 : y;
    x = x <= 0 ? 0 : x;
    int64_t y0 = (int64_t)y, x0 = (int64_t)x, y1 = y0 + 1, x1 = x0 + 1;
    if (y0 >= h - 1)
        y0 = y1 = h - 1, y = (double)y0;
    if (x0 >= w - 1)
        x0 = x1 = w - 1, x = (double)x0;
    double ly = y - (double)y0, lx = x - (double)x0, hy = 1 - ly, hx = 1 - lx;
    double v[4] = {hy * hx * plane[y0 * w + x0], hy * lx * plane[y0 * w + x1],
                   ly * hx * plane[y1 * w + x0], ly * lx * plane[y1 * w + x1]};
    if (!max_mode)
        return (float)(v[0] + v[1] + v[2] + v[3]);
    return (float)fmax(fmax(v[0], v[1]), fmax(v[2], v[3]));
}

typedef struct roi_geometry {
    double y0, x0, bin_h, bin_w; /* the roi's top left corner and bin size, in feature pixels */
    int64_t grid_h, grid_w;      /* samples per bin along each axis */
} roi_geometry;

/* Samples per bin along an axis: sampling_ratio, or as many as the bin has pixels (ONNX
 * Runtime's ceil), at most 2^16 so that a roi of absurd size from a file stays finite; none
 * for an empty or NaN size (the bin is then 0). */
static int64_t samples_per_bin(double size, int64_t bins, int64_t ratio)
{
    if (ratio > 0)
        return ratio;
    double g = ceil(size / (double)bins);
    return g >= 1 ? (int64_t)fmin(g, 65536.0) : 0;
}

static roi_geometry roi_of(const float *box, const mf_ref_call *c, int64_t oh, int64_t ow)
{
    double scale = mf_attr_get(c->op, c->attrs, "spatial_scale")->f;
    int64_t ratio = mf_attr_get(c->op, c->attrs, "sampling_ratio")->i;
    bool half_pixel = mf_attr_get(c->op, c->attrs, "half_pixel")->i != 0;
    double off = half_pixel ? 0.5 : 0.0;
    roi_geometry r = {box[1] * scale - off, box[0] * scale - off, 0, 0, 0, 0};
    double rh = box[3] * scale - off - r.y0, rw = box[2] * scale - off - r.x0;
    if (!half_pixel) /* output_half_pixel: a roi covers at least one pixel */
        rh = fmax(rh, 1.0), rw = fmax(rw, 1.0);
    r.bin_h = rh / (double)oh, r.bin_w = rw / (double)ow;
    r.grid_h = samples_per_bin(rh, oh, ratio);
    r.grid_w = samples_per_bin(rw, ow, ratio);
    return r;
}

/* One bin (ph, pw) of one roi over one channel plane. */
static float pool_bin(const float *plane, int64_t h, int64_t w, const roi_geometry *r, int64_t ph,
                      int64_t pw, bool max_mode)
{
    double acc = 0;
    bool first = true;
    for (int64_t iy = 0; iy < r->grid_h; iy++) {
        double y = r->y0 + (double)ph * r->bin_h + ((double)iy + 0.5) * r->bin_h / (double)r->grid_h;
        for (int64_t ix = 0; ix < r->grid_w; ix++) {
            double x = r->x0 + (double)pw * r->bin_w + ((double)ix + 0.5) * r->bin_w / (double)r->grid_w;
            float v = sample(plane, h, w, y, x, max_mode);
            acc = !max_mode ? acc + v : first ? v : fmax(acc, v);
            first = false;
        }
    }
    int64_t count = r->grid_h * r->grid_w;
    return max_mode ? (float)acc : (float)(acc / (double)(count > 0 ? count : 1));
}

mf_status mf_ref_roi_align(const mf_ref_call *c)
{
    const mf_type *xt = &c->in_types[0], *ot = c->out_type;
    int64_t n = xt->shape[0], ch = xt->shape[1], h = xt->shape[2], w = xt->shape[3];
    int64_t nroi = ot->shape[0], oh = ot->shape[2], ow = ot->shape[3];
    bool max_mode = mf_attr_get(c->op, c->attrs, "mode")->i == 1;
    const float *x = c->in[0], *rois = c->in[1];
    float *o = c->out;
    for (int64_t r = 0; r < nroi; r++) {
        int64_t b = c->in_types[2].dtype == MF_I32 ? ((const int32_t *)c->in[2])[r] : ((const int64_t *)c->in[2])[r];
        if (b < 0 || b >= n)
            return mf_error(MF_ERR_INVALID, "roi_align: roi %lld has batch index %lld, outside 0..%lld",
                            (long long)r, (long long)b, (long long)n - 1);
        roi_geometry g = roi_of(rois + 4 * r, c, oh, ow);
        for (int64_t k = 0; k < ch; k++) {
            const float *plane = x + (b * ch + k) * h * w;
            float *dst = o + ((r * ch + k) * oh) * ow;
            for (int64_t ph = 0; ph < oh; ph++)
                for (int64_t pw = 0; pw < ow; pw++)
                    dst[ph * ow + pw] = pool_bin(plane, h, w, &g, ph, pw, max_mode);
        }
    }
    return MF_OK;
}
