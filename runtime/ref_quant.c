/* ref_quant.c — reference kernels of the int8 ops (docs/quantization.md): quantize and
 * dequantize, qconv2d and qlinear (i8 activations and weights, int32 accumulation, per
 * output channel weight scales, f32 bias), qmatmul and qadd.  Every one ends in the same
 * requantization, which compiled kernels must reproduce:
 *   y = acc * x_scale * w_scale[c] + bias[c], clamped to [min, max] (a fused relu or relu6),
 *   q = clamp(round_half_even(y / y_scale) + y_zero_point, -128, 127).
 * With acc=1 qconv2d and qlinear store the i32 sum itself (ONNX's ConvInteger, MatMulInteger).
 * The oracle of the int8 codegen and the CPU fallback; plain loops the compiler vectorizes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

/* round-half-even(y / scale) + zp saturated to int8; NaN gives the zero point. */
static int8_t quantize_one(float y, float scale, int zp)
{
    float r = nearbyintf(y / scale);
    if (isnan(r))
        return (int8_t)zp;
    r += (float)zp;
    return (int8_t)(r < -128.0f ? -128 : r > 127.0f ? 127 : (int)r);
}

static float attr_f(const mf_ref_call *c, const char *name)
{
    return (float)mf_attr_float(c->op, c->attrs, name);
}

static int attr_i(const mf_ref_call *c, const char *name)
{
    return (int)mf_attr_int(c->op, c->attrs, name);
}

/* The requantizing epilogue's constants, read once per call. */
typedef struct requant {
    float y_scale, lo, hi;
    int y_zp;
} requant;

static requant requant_of(const mf_ref_call *c)
{
    return (requant){attr_f(c, "y_scale"), attr_f(c, "min"), attr_f(c, "max"), attr_i(c, "y_zero_point")};
}

static int8_t requantize(const requant *r, float y)
{
    y = y < r->lo ? r->lo : y > r->hi ? r->hi : y;
    return quantize_one(y, r->y_scale, r->y_zp);
}

mf_status mf_ref_quantize(const mf_ref_call *c)
{
    const float *x = c->in[0];
    int8_t *o = c->out;
    float s = attr_f(c, "scale");
    int zp = attr_i(c, "zero_point");
    for (int64_t i = 0, n = mf_type_numel(c->out_type); i < n; i++)
        o[i] = quantize_one(x[i], s, zp);
    return MF_OK;
}

mf_status mf_ref_dequantize(const mf_ref_call *c)
{
    const int8_t *q = c->in[0];
    float *o = c->out;
    float s = attr_f(c, "scale");
    int zp = attr_i(c, "zero_point");
    for (int64_t i = 0, n = mf_type_numel(c->out_type); i < n; i++)
        o[i] = (float)(q[i] - zp) * s;
    return MF_OK;
}

/* The weight scale of output channel oc: one per channel, or one for all. */
static float weight_scale(const mf_ref_call *c, int64_t oc)
{
    const float *ws = c->in[2];
    return c->in_types[2].shape[0] == 1 ? ws[0] : ws[oc];
}

/* One group's input as columns: col[k][p], k over (channel, ki, kj) of the window, p over
 * output positions, holding x - x_zero_point (0 in the padding, which is real zero). */
static void im2col(const mf_ref_call *c, const int8_t *x, int zp, int64_t cin_g, int16_t *col)
{
    const mf_type *xt = &c->in_types[0], *wt = &c->in_types[1];
    mf_conv2d_view v = mf_conv2d_of(c->op, c->attrs);
    int64_t h = xt->shape[2], w = xt->shape[3], kh = wt->shape[2], kw = wt->shape[3];
    int64_t oh = c->out_type->shape[2], ow = c->out_type->shape[3];
    for (int64_t ic = 0; ic < cin_g; ic++)
        for (int64_t ki = 0; ki < kh; ki++)
            for (int64_t kj = 0; kj < kw; kj++) {
                int16_t *row = col + ((ic * kh + ki) * kw + kj) * oh * ow;
                for (int64_t oy = 0; oy < oh; oy++) {
                    int64_t iy = oy * v.stride[0] - v.padding[0] + ki * v.dilation[0];
                    for (int64_t ox = 0; ox < ow; ox++) {
                        int64_t ix = ox * v.stride[1] - v.padding[1] + kj * v.dilation[1];
                        bool in = iy >= 0 && iy < h && ix >= 0 && ix < w;
                        row[oy * ow + ox] = in ? (int16_t)(x[(ic * h + iy) * w + ix] - zp) : 0;
                    }
                }
            }
}

mf_status mf_ref_qconv2d(const mf_ref_call *c)
{
    const mf_type *xt = &c->in_types[0], *wt = &c->in_types[1];
    int64_t n = xt->shape[0], cin = xt->shape[1], cout = wt->shape[0];
    int64_t groups = mf_conv2d_of(c->op, c->attrs).groups, cin_g = cin / groups, cout_g = cout / groups;
    int64_t k = cin_g * wt->shape[2] * wt->shape[3];
    int64_t plane = c->out_type->shape[2] * c->out_type->shape[3];
    const int8_t *x = c->in[0], *w = c->in[1];
    const float *bias = c->nin > 3 ? c->in[3] : NULL;
    int8_t *o = c->out;
    int32_t *o32 = attr_i(c, "acc") ? c->out : NULL;
    float xs = attr_f(c, "x_scale");
    int xzp = attr_i(c, "x_zero_point");
    requant r = requant_of(c);
    mf_conv2d_view cv = mf_conv2d_of(c->op, c->attrs);
    int8_t *plain = NULL; /* packed weights (the pack-weights pass) read back in plain order */
    if ((cv.packed > 0 || cv.taps_first) && cout > 0) {
        int8_t *tmp = malloc((size_t)(cout * k));
        if (!tmp || !(plain = malloc((size_t)(cout * k)))) {
            free(tmp);
            return mf_error(MF_ERR_NOMEM, "qconv2d: out of memory unpacking the weights");
        }
        if (cv.packed > 0)
            mf_qconv_weights_unpack(w, cv.taps_first ? tmp : plain, cout, k, cv.packed);
        if (cv.taps_first)
            mf_qconv_weights_taps_last(cv.packed > 0 ? tmp : w, plain, cout, cin_g, wt->shape[2] * wt->shape[3]);
        free(tmp);
        w = plain;
    }
    int16_t *col = malloc(sizeof *col * (size_t)(k * plane > 0 ? k * plane : 1));
    int32_t *acc = malloc(sizeof *acc * (size_t)(plane ? plane : 1));
    if (!col || !acc) {
        free(col), free(acc), free(plain);
        return mf_error(MF_ERR_NOMEM, "qconv2d: out of memory for %lld x %lld columns",
                        (long long)k, (long long)plane);
    }
    for (int64_t b = 0; b < n; b++)
        for (int64_t g = 0; g < groups; g++) {
            im2col(c, x + (b * cin + g * cin_g) * xt->shape[2] * xt->shape[3], xzp, cin_g, col);
            for (int64_t oc = g * cout_g; oc < (g + 1) * cout_g; oc++) {
                memset(acc, 0, sizeof *acc * (size_t)plane);
                const int8_t *wr = w + oc * k;
                for (int64_t kk = 0; kk < k; kk++) {
                    int32_t wv = wr[kk];
                    const int16_t *cr = col + kk * plane;
                    for (int64_t p = 0; p < plane; p++)
                        acc[p] += wv * cr[p];
                }
                if (o32) {
                    memcpy(o32 + (b * cout + oc) * plane, acc, sizeof *acc * (size_t)plane);
                    continue;
                }
                float m = xs * weight_scale(c, oc), bv = bias ? bias[oc] : 0.0f;
                int8_t *op = o + (b * cout + oc) * plane;
                for (int64_t p = 0; p < plane; p++)
                    op[p] = requantize(&r, (float)acc[p] * m + bv);
            }
        }
    free(col);
    free(acc);
    free(plain);
    return MF_OK;
}

mf_status mf_ref_qlinear(const mf_ref_call *c)
{
    const mf_type *xt = &c->in_types[0], *wt = &c->in_types[1];
    int64_t kdim = wt->shape[1], nout = wt->shape[0], rows = kdim ? mf_type_numel(xt) / kdim : 0;
    const int8_t *x = c->in[0], *w = c->in[1];
    const float *bias = c->nin > 3 ? c->in[3] : NULL;
    int8_t *o = c->out;
    int32_t *o32 = attr_i(c, "acc") ? c->out : NULL;
    float xs = attr_f(c, "x_scale");
    int xzp = attr_i(c, "x_zero_point");
    requant r = requant_of(c);
    int16_t *xr = malloc(sizeof *xr * (size_t)(kdim ? kdim : 1));
    if (!xr)
        return mf_error(MF_ERR_NOMEM, "qlinear: out of memory for a %lld-element row", (long long)kdim);
    for (int64_t m = 0; m < rows; m++) {
        for (int64_t kk = 0; kk < kdim; kk++)
            xr[kk] = (int16_t)(x[m * kdim + kk] - xzp);
        for (int64_t j = 0; j < nout; j++) {
            int32_t acc = 0;
            for (int64_t kk = 0; kk < kdim; kk++)
                acc += xr[kk] * w[j * kdim + kk];
            if (o32) {
                o32[m * nout + j] = acc;
                continue;
            }
            float y = (float)acc * (xs * weight_scale(c, j)) + (bias ? bias[j] : 0.0f);
            o[m * nout + j] = requantize(&r, y);
        }
    }
    free(xr);
    return MF_OK;
}

mf_status mf_ref_qmatmul(const mf_ref_call *c)
{
    const mf_type *at = &c->in_types[0], *bt = &c->in_types[1];
    int64_t m = at->shape[at->rank - 2], k = at->shape[at->rank - 1], n = bt->shape[bt->rank - 1];
    int64_t batches = m * k > 0 ? mf_type_numel(at) / (m * k) : 0, bstride = bt->rank == 2 ? 0 : k * n;
    const int8_t *a = c->in[0], *b = c->in[1];
    int8_t *o = c->out;
    int azp = attr_i(c, "a_zero_point"), bzp = attr_i(c, "b_zero_point");
    float s = attr_f(c, "a_scale") * attr_f(c, "b_scale");
    requant r = {attr_f(c, "y_scale"), -INFINITY, INFINITY, attr_i(c, "y_zero_point")};
    for (int64_t bi = 0; bi < batches; bi++)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                int32_t acc = 0;
                for (int64_t kk = 0; kk < k; kk++)
                    acc += (a[(bi * m + i) * k + kk] - azp) * (b[bi * bstride + kk * n + j] - bzp);
                o[(bi * m + i) * n + j] = requantize(&r, (float)acc * s);
            }
    return MF_OK;
}

mf_status mf_ref_qadd(const mf_ref_call *c)
{
    const int8_t *a = c->in[0], *b = c->in[1];
    int8_t *o = c->out;
    float as = attr_f(c, "a_scale"), bs = attr_f(c, "b_scale");
    int azp = attr_i(c, "a_zero_point"), bzp = attr_i(c, "b_zero_point");
    requant r = requant_of(c);
    for (int64_t i = 0, n = mf_type_numel(c->out_type); i < n; i++)
        o[i] = requantize(&r, (float)(a[i] - azp) * as + (float)(b[i] - bzp) * bs);
    return MF_OK;
}
