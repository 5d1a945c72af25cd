/* generic_conv.c — tier 0's convolution and matrix products on the generic GEMM: a conv is
 * im2col (skipped for 1x1 stride-1 convs, whose input already is the matrix) and one GEMM per
 * image and group; a depthwise conv is a direct loop whose inner walk along an output row the
 * compiler vectorizes for each ISA (target_clones); linear and 2-D matmul are one GEMM. */
#include <stdlib.h>
#include <string.h>

#include "generic.h"

typedef struct conv_shape {
    int64_t n, cin, h, w, cout, kh, kw, oh, ow;
    mf_conv2d_view v;
} conv_shape;

static conv_shape conv_shape_of(const mf_ref_call *c)
{
    const mf_type *x = &c->in_types[0], *w = &c->in_types[1];
    return (conv_shape){x->shape[0], x->shape[1], x->shape[2], x->shape[3], w->shape[0],
                        w->shape[2], w->shape[3], c->out_type->shape[2], c->out_type->shape[3],
                        mf_conv2d_of(c->op, c->attrs)};
}

/* col[(c*kh + i)*kw + j][oy*ow + ox] = x[c][oy*sh - ph + i*dh][ox*sw - pw + j*dw], 0 outside. */
static void im2col(const conv_shape *s, int64_t channels, const float *x, float *col)
{
    int64_t plane = s->oh * s->ow;
    for (int64_t c = 0; c < channels; c++)
        for (int64_t i = 0; i < s->kh; i++)
            for (int64_t j = 0; j < s->kw; j++, col += plane) {
                const float *xc = x + c * s->h * s->w;
                int64_t y0, y1, x0, x1;
                mf_ref_conv_valid_range(s->h, s->oh, s->v.stride[0], s->v.padding[0], i * s->v.dilation[0], &y0, &y1);
                mf_ref_conv_valid_range(s->w, s->ow, s->v.stride[1], s->v.padding[1], j * s->v.dilation[1], &x0, &x1);
                memset(col, 0, sizeof(float) * (size_t)plane);
                for (int64_t oy = y0; oy < y1; oy++) {
                    const float *row = xc + (oy * s->v.stride[0] - s->v.padding[0] + i * s->v.dilation[0]) * s->w;
                    float *dst = col + oy * s->ow;
                    int64_t ix = x0 * s->v.stride[1] - s->v.padding[1] + j * s->v.dilation[1];
                    for (int64_t ox = x0; ox < x1; ox++, ix += s->v.stride[1])
                        dst[ox] = row[ix];
                }
            }
}

static void add_bias(float *o, const float *bias, int64_t channels, int64_t plane)
{
    for (int64_t c = 0; bias && c < channels; c++)
        for (int64_t p = 0; p < plane; p++)
            o[c * plane + p] += bias[c];
}

/* One channel of a depthwise conv: out = bias + sum over the window, row by row. */
__attribute__((target_clones("avx512f", "avx2", "default"))) static void
depthwise_plane(const conv_shape *s, const float *x, const float *w, float bias, float *o)
{
    int64_t sw = s->v.stride[1];
    for (int64_t p = 0; p < s->oh * s->ow; p++)
        o[p] = bias;
    for (int64_t i = 0; i < s->kh; i++)
        for (int64_t j = 0; j < s->kw; j++) {
            float wv = w[i * s->kw + j];
            int64_t y0, y1, x0, x1;
            mf_ref_conv_valid_range(s->h, s->oh, s->v.stride[0], s->v.padding[0], i * s->v.dilation[0], &y0, &y1);
            mf_ref_conv_valid_range(s->w, s->ow, sw, s->v.padding[1], j * s->v.dilation[1], &x0, &x1);
            for (int64_t oy = y0; oy < y1; oy++) {
                const float *row = x + (oy * s->v.stride[0] - s->v.padding[0] + i * s->v.dilation[0]) * s->w +
                                   j * s->v.dilation[1] - s->v.padding[1];
                float *orow = o + oy * s->ow;
                if (sw == 1) {
                    for (int64_t ox = x0; ox < x1; ox++)
                        orow[ox] += wv * row[ox];
                } else {
                    for (int64_t ox = x0; ox < x1; ox++)
                        orow[ox] += wv * row[ox * sw];
                }
            }
        }
}

static mf_status conv_depthwise(const mf_ref_call *c, const conv_shape *s)
{
    const float *x = c->in[0], *w = c->in[1], *bias = c->nin > 2 ? c->in[2] : NULL;
    float *o = c->out;
    int64_t in_plane = s->h * s->w, out_plane = s->oh * s->ow, wsize = s->kh * s->kw;
    for (int64_t n = 0; n < s->n; n++)
        for (int64_t ch = 0; ch < s->cout; ch++)
            depthwise_plane(s, x + (n * s->cin + ch) * in_plane, w + ch * wsize, bias ? bias[ch] : 0.0f,
                            o + (n * s->cout + ch) * out_plane);
    return MF_OK;
}

static bool is_pointwise(const conv_shape *s)
{
    return s->kh == 1 && s->kw == 1 && s->v.stride[0] == 1 && s->v.stride[1] == 1 &&
           s->v.padding[0] == 0 && s->v.padding[1] == 0;
}

mf_status mf_gen_conv2d(const mf_ref_call *c)
{
    conv_shape s = conv_shape_of(c);
    int64_t groups = s.v.groups, cin_g = s.cin / groups, cout_g = s.cout / groups;
    if (groups == s.cin && groups == s.cout)
        return conv_depthwise(c, &s);
    const float *x = c->in[0], *w = c->in[1], *bias = c->nin > 2 ? c->in[2] : NULL;
    float *o = c->out;
    int64_t plane = s.oh * s.ow, depth = cin_g * s.kh * s.kw;
    float *col = NULL;
    if (!is_pointwise(&s) && !(col = malloc(sizeof(float) * (size_t)(depth * plane + 1))))
        return mf_error(MF_ERR_NOMEM, "conv2d: out of memory for a %lldx%lld im2col matrix",
                        (long long)depth, (long long)plane);
    mf_status st = MF_OK;
    for (int64_t n = 0; n < s.n && !st; n++)
        for (int64_t g = 0; g < groups && !st; g++) {
            const float *xg = x + (n * s.cin + g * cin_g) * s.h * s.w;
            if (col)
                im2col(&s, cin_g, xg, col);
            float *og = o + (n * s.cout + g * cout_g) * plane;
            st = mf_gen_sgemm(cout_g, plane, depth, w + g * cout_g * depth, depth, 1,
                              col ? col : xg, plane, 1, og, plane);
            if (!st)
                add_bias(og, bias ? bias + g * cout_g : NULL, cout_g, plane);
        }
    free(col);
    return st;
}

/* y[rows, m] = x[rows, k] * W[m, k]^T + bias: W read transposed in place by the packing. */
mf_status mf_gen_linear(const mf_ref_call *c)
{
    const mf_type *wt = &c->in_types[1];
    const float *bias = c->nin > 2 ? c->in[2] : NULL;
    int64_t m = wt->shape[0], k = wt->shape[1];
    int64_t rows = m ? mf_type_numel(c->out_type) / m : 0;
    float *o = c->out;
    mf_status s = mf_gen_sgemm(rows, m, k, c->in[0], k, 1, c->in[1], 1, k, o, m);
    for (int64_t r = 0; !s && bias && r < rows; r++)
        for (int64_t j = 0; j < m; j++)
            o[r * m + j] += bias[j];
    return s;
}

mf_status mf_gen_matmul(const mf_ref_call *c)
{
    const mf_type *a = &c->in_types[0], *b = &c->in_types[1];
    int64_t m = a->shape[0], k = a->shape[1], n = b->shape[1];
    return mf_gen_sgemm(m, n, k, c->in[0], k, 1, c->in[1], n, 1, c->out, n);
}
