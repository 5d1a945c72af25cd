/* ref_conv_transpose.c — the reference transposed 2-D convolution (NCHW input, weight
 * [Cin, Cout/groups, KH, KW], optional bias), the gradient of conv2d: each input element
 * scatters weight × itself into the output window it maps to.  Accumulates in double. */
#include <stdlib.h>

#include "runtime.h"

mf_status mf_ref_conv_transpose2d(const mf_ref_call *c)
{
    const mf_type *xt = &c->in_types[0], *wt = &c->in_types[1], *ot = c->out_type;
    const float *x = c->in[0], *w = c->in[1], *bias = c->nin > 2 ? c->in[2] : NULL;
    mf_conv2d_view geo = mf_conv2d_of(c->op, c->attrs);
    int64_t groups = geo.groups;
    int64_t n = xt->shape[0], cin = xt->shape[1], h = xt->shape[2], wd = xt->shape[3];
    int64_t cout_g = wt->shape[1], kh = wt->shape[2], kw = wt->shape[3];
    int64_t cout = ot->shape[1], oh = ot->shape[2], ow = ot->shape[3], cin_g = cin / groups;
    size_t per_image = (size_t)(cout * oh * ow);
    double *acc = malloc(sizeof *acc * (per_image ? per_image : 1));
    if (!acc)
        return mf_error(MF_ERR_NOMEM, "conv_transpose2d: out of memory for the accumulator");
    for (int64_t b = 0; b < n; b++) {
        for (int64_t oc = 0; oc < cout; oc++)
            for (int64_t i = 0; i < oh * ow; i++)
                acc[oc * oh * ow + i] = bias ? bias[oc] : 0.0;
        for (int64_t ic = 0; ic < cin; ic++) {
            int64_t g = ic / cin_g;
            for (int64_t iy = 0; iy < h; iy++)
                for (int64_t ix = 0; ix < wd; ix++) {
                    double v = x[((b * cin + ic) * h + iy) * wd + ix];
                    for (int64_t j = 0; j < cout_g; j++) {
                        int64_t oc = g * cout_g + j;
                        const float *wp = w + (ic * cout_g + j) * kh * kw;
                        for (int64_t ky = 0; ky < kh; ky++) {
                            int64_t oy = iy * geo.stride[0] - geo.padding[0] + ky * geo.dilation[0];
                            if (oy < 0 || oy >= oh)
                                continue;
                            for (int64_t kx = 0; kx < kw; kx++) {
                                int64_t ox = ix * geo.stride[1] - geo.padding[1] + kx * geo.dilation[1];
                                if (ox >= 0 && ox < ow)
                                    acc[(oc * oh + oy) * ow + ox] += v * wp[ky * kw + kx];
                            }
                        }
                    }
                }
        }
        float *o = (float *)c->out + (size_t)b * per_image;
        for (size_t i = 0; i < per_image; i++)
            o[i] = (float)acc[i];
    }
    free(acc);
    return MF_OK;
}
