/* ref_conv.c — the reference 2-D convolution (NCHW input, [Cout, Cin/groups, KH, KW]
 * weight, optional bias as a third input) with stride, padding, dilation and groups.
 * A direct loop whose innermost walk is along an output row, accumulating in double:
 * plain enough to trust as the oracle, fast enough for MNIST-sized tests. */
#include <stdlib.h>

#include "runtime.h"

typedef struct conv_geom {
    int64_t n, cin, h, w;      /* input */
    int64_t cout, kh, kw;      /* weight */
    int64_t oh, ow;            /* output */
    int64_t sh, sw, ph, pw, dh, dw, groups;
} conv_geom;

static conv_geom conv_geometry(const mf_ref_call *c)
{
    const mf_type *x = &c->in_types[0], *w = &c->in_types[1];
    mf_conv2d_view v = mf_conv2d_of(c->op, c->attrs);
    return (conv_geom){
        .n = x->shape[0], .cin = x->shape[1], .h = x->shape[2], .w = x->shape[3],
        .cout = w->shape[0], .kh = w->shape[2], .kw = w->shape[3],
        .oh = c->out_type->shape[2], .ow = c->out_type->shape[3],
        .sh = v.stride[0], .sw = v.stride[1], .ph = v.padding[0], .pw = v.padding[1],
        .dh = v.dilation[0], .dw = v.dilation[1], .groups = v.groups,
    };
}

void mf_ref_conv_valid_range(int64_t in, int64_t out, int64_t s, int64_t p, int64_t off,
                             int64_t *lo, int64_t *hi)
{
    int64_t shift = p - off; /* need o*s >= shift and o*s < in + shift */
    *lo = shift <= 0 ? 0 : (shift + s - 1) / s;
    int64_t end = in + shift; /* o*s < end */
    *hi = end <= 0 ? 0 : (end + s - 1) / s;
    if (*hi > out)
        *hi = out;
    if (*lo > *hi)
        *lo = *hi;
}

/* Adds weight * one input plane (one channel) into the double accumulator plane. */
static void accumulate_plane(const conv_geom *g, const float *xp, const float *wp, double *acc)
{
    for (int64_t ki = 0; ki < g->kh; ki++) {
        int64_t y0, y1;
        mf_ref_conv_valid_range(g->h, g->oh, g->sh, g->ph, ki * g->dh, &y0, &y1);
        for (int64_t kj = 0; kj < g->kw; kj++) {
            double wv = wp[ki * g->kw + kj];
            int64_t x0, x1;
            mf_ref_conv_valid_range(g->w, g->ow, g->sw, g->pw, kj * g->dw, &x0, &x1);
            for (int64_t oy = y0; oy < y1; oy++) {
                const float *row = xp + (oy * g->sh - g->ph + ki * g->dh) * g->w;
                double *arow = acc + oy * g->ow;
                int64_t ix = x0 * g->sw - g->pw + kj * g->dw;
                for (int64_t ox = x0; ox < x1; ox++, ix += g->sw)
                    arow[ox] += wv * row[ix];
            }
        }
    }
}

mf_status mf_ref_conv2d(const mf_ref_call *c)
{
    conv_geom g = conv_geometry(c);
    const float *x = c->in[0], *w = c->in[1], *bias = c->nin > 2 ? c->in[2] : NULL;
    float *o = c->out;
    int64_t plane = g.oh * g.ow, cin_g = g.cin / g.groups, cout_g = g.cout / g.groups;
    int64_t packed = mf_conv2d_of(c->op, c->attrs).packed;
    float *plain = NULL; /* packed weights (the pack-weights pass) read back in plain order */
    if (packed > 0 && g.cout > 0) {
        int64_t per = cin_g * g.kh * g.kw;
        if (!(plain = malloc(sizeof(float) * (size_t)(g.cout * per + 1))))
            return mf_error(MF_ERR_NOMEM, "conv2d: out of memory unpacking the weights");
        mf_conv_weights_unpack(w, plain, g.cout, per, packed);
        w = plain;
    }
    double *acc = malloc(sizeof(double) * (size_t)(plane ? plane : 1));
    if (!acc) {
        free(plain);
        return mf_error(MF_ERR_NOMEM, "conv2d: out of memory for a %lld-element accumulator",
                        (long long)plane);
    }
    for (int64_t b = 0; b < g.n; b++) {
        for (int64_t oc = 0; oc < g.cout; oc++) {
            double init = bias ? bias[oc] : 0.0;
            for (int64_t i = 0; i < plane; i++)
                acc[i] = init;
            int64_t grp = oc / cout_g;
            for (int64_t ic = 0; ic < cin_g; ic++) {
                const float *xp = x + ((b * g.cin) + grp * cin_g + ic) * g.h * g.w;
                const float *wp = w + (oc * cin_g + ic) * g.kh * g.kw;
                accumulate_plane(&g, xp, wp, acc);
            }
            float *op = o + (b * g.cout + oc) * plane;
            for (int64_t i = 0; i < plane; i++)
                op[i] = (float)acc[i];
        }
    }
    free(acc);
    free(plain);
    return MF_OK;
}
