/* ref_pool.c — reference 2-D pooling over the last two dims: max_pool2d (dilation, -inf
 * padding, ceil_mode), avg_pool2d (ceil_mode, count_include_pad, with PyTorch's divisor
 * rules) and adaptive_avg_pool2d; and max_pool_indices over 1 to 3 dims (ONNX MaxPool's Indices).  Output sizes come from mf_op_infer; each kernel walks
 * windows per output element.  Averages accumulate in double. */
#include <math.h>
#include <string.h>

#include "runtime.h"

typedef struct pool_geom {
    int64_t planes, h, w, oh, ow;
    int64_t kh, kw, sh, sw, ph, pw, dh, dw;
} pool_geom;

/* Planes are all dims before the last two (N*C for NCHW). */
static void plane_dims(const mf_ref_call *c, pool_geom *g)
{
    const mf_type *x = &c->in_types[0];
    g->planes = 1;
    for (int i = 0; i < x->rank - 2; i++)
        g->planes *= x->shape[i];
    g->h = x->shape[x->rank - 2];
    g->w = x->shape[x->rank - 1];
    g->oh = c->out_type->shape[x->rank - 2];
    g->ow = c->out_type->shape[x->rank - 1];
}

/* Kernel, stride (none given: the kernel), padding and dilation (absent: 1). */
static pool_geom pool_geometry(const mf_ref_call *c)
{
    pool_geom g;
    plane_dims(c, &g);
    mf_pool2d_view v = mf_pool2d_of(c->op, c->attrs);
    g.kh = v.kernel[0], g.kw = v.kernel[1];
    g.sh = v.stride[0], g.sw = v.stride[1];
    g.ph = v.padding[0], g.pw = v.padding[1];
    g.dh = v.dilation[0], g.dw = v.dilation[1];
    return g;
}

/* The max over one window; NaN wins, as in PyTorch. */
static float max_window(const pool_geom *g, const float *xp, int64_t y, int64_t x)
{
    float m = -INFINITY;
    for (int64_t i = 0; i < g->kh; i++) {
        int64_t iy = y * g->sh - g->ph + i * g->dh;
        if (iy < 0 || iy >= g->h)
            continue;
        for (int64_t j = 0; j < g->kw; j++) {
            int64_t ix = x * g->sw - g->pw + j * g->dw;
            if (ix < 0 || ix >= g->w)
                continue;
            float v = xp[iy * g->w + ix];
            if (v > m || isnan(v))
                m = v;
        }
    }
    return m;
}

/* The max over one window of an i8 plane (padding never wins: it is outside the input). */
static int8_t max_window_i8(const pool_geom *g, const int8_t *xp, int64_t y, int64_t x)
{
    int m = -128;
    for (int64_t i = 0; i < g->kh; i++) {
        int64_t iy = y * g->sh - g->ph + i * g->dh;
        for (int64_t j = 0; iy >= 0 && iy < g->h && j < g->kw; j++) {
            int64_t ix = x * g->sw - g->pw + j * g->dw;
            if (ix >= 0 && ix < g->w && xp[iy * g->w + ix] > m)
                m = xp[iy * g->w + ix];
        }
    }
    return (int8_t)m;
}

mf_status mf_ref_max_pool2d(const mf_ref_call *c)
{
    pool_geom g = pool_geometry(c);
    if (c->in_types[0].dtype == MF_I8) { /* quantized: same scale and zero point out */
        const int8_t *xi = c->in[0];
        int8_t *oi = c->out;
        for (int64_t p = 0; p < g.planes; p++)
            for (int64_t y = 0; y < g.oh; y++)
                for (int64_t xo = 0; xo < g.ow; xo++)
                    oi[(p * g.oh + y) * g.ow + xo] = max_window_i8(&g, xi + p * g.h * g.w, y, xo);
        return MF_OK;
    }
    const float *x = c->in[0];
    float *o = c->out;
    for (int64_t p = 0; p < g.planes; p++)
        for (int64_t y = 0; y < g.oh; y++)
            for (int64_t xo = 0; xo < g.ow; xo++)
                o[(p * g.oh + y) * g.ow + xo] = max_window(&g, x + p * g.h * g.w, y, xo);
    return MF_OK;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* PyTorch's avg_pool2d window: the end is clipped to input + padding, which gives the
 * divisor when count_include_pad; then the window is clipped to the input for the sum
 * (and for the divisor otherwise).  An empty window gives 0. */
static float avg_window(const pool_geom *g, const float *xp, int64_t y, int64_t x, bool incl)
{
    int64_t y0 = y * g->sh - g->ph, x0 = x * g->sw - g->pw;
    int64_t y1 = min64(y0 + g->kh, g->h + g->ph), x1 = min64(x0 + g->kw, g->w + g->pw);
    int64_t padded = (y1 - y0) * (x1 - x0);
    y0 = max64(y0, 0), x0 = max64(x0, 0);
    y1 = min64(y1, g->h), x1 = min64(x1, g->w);
    if (y0 >= y1 || x0 >= x1)
        return 0.0f;
    double sum = 0.0;
    for (int64_t i = y0; i < y1; i++)
        for (int64_t j = x0; j < x1; j++)
            sum += xp[i * g->w + j];
    int64_t count = incl ? padded : (y1 - y0) * (x1 - x0);
    return (float)(sum / (double)count);
}

mf_status mf_ref_avg_pool2d(const mf_ref_call *c)
{
    pool_geom g = pool_geometry(c);
    bool incl = mf_pool2d_of(c->op, c->attrs).count_include_pad;
    const float *x = c->in[0];
    float *o = c->out;
    for (int64_t p = 0; p < g.planes; p++)
        for (int64_t y = 0; y < g.oh; y++)
            for (int64_t xo = 0; xo < g.ow; xo++)
                o[(p * g.oh + y) * g.ow + xo] = avg_window(&g, x + p * g.h * g.w, y, xo, incl);
    return MF_OK;
}

/* Window [floor(i*in/out), ceil((i+1)*in/out)) of adaptive pooling. */
static void adaptive_range(int64_t i, int64_t in, int64_t out, int64_t *lo, int64_t *hi)
{
    *lo = i * in / out;
    *hi = ((i + 1) * in + out - 1) / out;
}

mf_status mf_ref_adaptive_avg_pool2d(const mf_ref_call *c)
{
    pool_geom g;
    plane_dims(c, &g);
    const float *x = c->in[0];
    float *o = c->out;
    for (int64_t p = 0; p < g.planes; p++) {
        const float *xp = x + p * g.h * g.w;
        for (int64_t y = 0; y < g.oh; y++) {
            int64_t y0, y1;
            adaptive_range(y, g.h, g.oh, &y0, &y1);
            for (int64_t xo = 0; xo < g.ow; xo++) {
                int64_t x0, x1;
                adaptive_range(xo, g.w, g.ow, &x0, &x1);
                double sum = 0.0;
                for (int64_t i = y0; i < y1; i++)
                    for (int64_t j = x0; j < x1; j++)
                        sum += xp[i * g.w + j];
                int64_t count = (y1 - y0) * (x1 - x0);
                o[(p * g.oh + y) * g.ow + xo] = count ? (float)(sum / (double)count) : NAN;
            }
        }
    }
    return MF_OK;
}

/* ONNX MaxPool's Indices: for each window (mf_window_of, as 3-D) the flat position in x of
 * its first largest element, scanning in row-major order; storage_order 1 numbers each
 * plane column-major (w * H + h in 2-D), as ONNX defines.  NaN never wins (ONNX's reference
 * compares with >). */
mf_status mf_ref_max_pool_indices(const mf_ref_call *c)
{
    const mf_type *xt = &c->in_types[0], *ot = c->out_type;
    mf_window_view v = mf_window_of(c->op, c->attrs);
    bool col_major = c->attrs[mf_op_attr_index(c->op, "storage_order")].i != 0;
    int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, planes = xt->shape[0] * xt->shape[1];
    for (int i = 0; i < v.nsp; i++)
        in[3 - v.nsp + i] = xt->shape[2 + i], out[3 - v.nsp + i] = ot->shape[2 + i];
    int64_t ivol = in[0] * in[1] * in[2], *o = c->out;
    for (int64_t p = 0; p < planes; p++)
        for (int64_t oz = 0; oz < out[0]; oz++)
            for (int64_t oy = 0; oy < out[1]; oy++)
                for (int64_t ox = 0; ox < out[2]; ox++) {
                    int64_t o3[3] = {oz, oy, ox}, best = -1, at[3] = {0, 0, 0};
                    double best_v = 0;
                    for (int64_t t = 0; t < v.kernel[0] * v.kernel[1] * v.kernel[2]; t++) {
                        int64_t tap[3] = {t / (v.kernel[1] * v.kernel[2]), t / v.kernel[2] % v.kernel[1], t % v.kernel[2]};
                        int64_t pos[3], k = 0;
                        bool inside = true;
                        for (int d = 0; d < 3; d++) {
                            pos[d] = o3[d] * v.stride[d] - v.pad_begin[d] + tap[d] * v.dilation[d];
                            inside = inside && pos[d] >= 0 && pos[d] < in[d];
                        }
                        if (!inside)
                            continue;
                        k = (pos[0] * in[1] + pos[1]) * in[2] + pos[2];
                        double xv = mf_scalar_double(mf_scalar_load(c->in[0], xt->dtype, p * ivol + k));
                        if (best < 0 || xv > best_v)
                            best = k, best_v = xv, memcpy(at, pos, sizeof at);
                    }
                    if (best >= 0 && col_major) /* the plane's dims reversed: w, h, d */
                        best = (at[2] * in[1] + at[1]) * in[0] + at[0];
                    *o++ = best < 0 ? -1 : p * ivol + best;
                }
    return MF_OK;
}
