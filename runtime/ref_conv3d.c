/* ref_conv3d.c — the reference 3-D convolution (NCDHW input, [Cout, Cin/groups, KD, KH, KW]
 * weight, optional bias) over mf_window_of's geometry: begin and end pads, stride, dilation
 * and groups per dim.  A direct loop accumulating in double, the oracle and the CPU path of
 * ONNX's 3-D Conv. */
#include "runtime.h"

/* One output element: the window at o (3-D) of output channel oc over image x (all channels). */
static double window_sum(const mf_window_view *v, const float *x, const int64_t in[3], int64_t cin_g,
                         const float *w, const int64_t k[3], const int64_t o[3])
{
    double acc = 0;
    for (int64_t ic = 0; ic < cin_g; ic++)
        for (int64_t kz = 0; kz < k[0]; kz++) {
            int64_t z = o[0] * v->stride[0] - v->pad_begin[0] + kz * v->dilation[0];
            if (z < 0 || z >= in[0])
                continue;
            for (int64_t ky = 0; ky < k[1]; ky++) {
                int64_t y = o[1] * v->stride[1] - v->pad_begin[1] + ky * v->dilation[1];
                if (y < 0 || y >= in[1])
                    continue;
                const float *xr = x + ((ic * in[0] + z) * in[1] + y) * in[2];
                const float *wr = w + ((ic * k[0] + kz) * k[1] + ky) * k[2];
                for (int64_t kx = 0; kx < k[2]; kx++) {
                    int64_t xx = o[2] * v->stride[2] - v->pad_begin[2] + kx * v->dilation[2];
                    if (xx >= 0 && xx < in[2])
                        acc += (double)xr[xx] * wr[kx];
                }
            }
        }
    return acc;
}

mf_status mf_ref_conv3d(const mf_ref_call *c)
{
    const mf_type *xt = &c->in_types[0], *wt = &c->in_types[1], *ot = c->out_type;
    const float *x = c->in[0], *w = c->in[1], *bias = c->nin > 2 ? c->in[2] : NULL;
    mf_window_view v = mf_window_of(c->op, c->attrs);
    int64_t groups = c->attrs[mf_op_attr_index(c->op, "groups")].i;
    int64_t cin = xt->shape[1], cout = ot->shape[1], cin_g = cin / groups, cout_g = cout / groups;
    int64_t in[3] = {xt->shape[2], xt->shape[3], xt->shape[4]}, k[3] = {wt->shape[2], wt->shape[3], wt->shape[4]};
    int64_t out[3] = {ot->shape[2], ot->shape[3], ot->shape[4]};
    int64_t ivol = in[0] * in[1] * in[2], kvol = k[0] * k[1] * k[2], ovol = out[0] * out[1] * out[2];
    float *o = c->out;
    for (int64_t b = 0; b < xt->shape[0]; b++)
        for (int64_t oc = 0; oc < cout; oc++) {
            const float *xg = x + (b * cin + oc / cout_g * cin_g) * ivol, *wc = w + oc * cin_g * kvol;
            for (int64_t i = 0; i < ovol; i++) {
                int64_t at[3] = {i / (out[1] * out[2]), i / out[2] % out[1], i % out[2]};
                *o++ = (float)((bias ? bias[oc] : 0.0) + window_sum(&v, xg, in, cin_g, wc, k, at));
            }
        }
    return MF_OK;
}
