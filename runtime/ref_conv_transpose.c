/* ref_conv_transpose.c — the reference transposed convolution, 2-D (NCHW, weight [Cin,
 * Cout/groups, KH, KW]) and 3-D (NCDHW, weight [Cin, Cout/groups, KD, KH, KW]), optional
 * bias: the gradient of a convolution, each input element scattering weight × itself into
 * the output window it maps to.  One kernel over mf_window_of's 3-D geometry (a 2-D op is
 * a 3-D one of depth 1).  Accumulates in double. */
#include <stdlib.h>

#include "runtime.h"

/* The last three dims of t (rank 4 or 5; a missing depth is 1). */
static void dims3(const mf_type *t, int64_t out[3])
{
    for (int i = 0; i < 3; i++)
        out[i] = t->rank - 3 + i >= 2 ? t->shape[t->rank - 3 + i] : 1;
}

/* Scatters input plane x (channel ic) through the weights w[j] of its group into acc. */
static void scatter_plane(const mf_window_view *v, const float *x, const int64_t in[3], const float *w,
                          int64_t cout_g, const int64_t k[3], int64_t oc0, const int64_t out[3], double *acc)
{
    int64_t kvol = k[0] * k[1] * k[2], ovol = out[0] * out[1] * out[2];
    for (int64_t iz = 0; iz < in[0]; iz++)
        for (int64_t iy = 0; iy < in[1]; iy++)
            for (int64_t ix = 0; ix < in[2]; ix++) {
                double xv = x[(iz * in[1] + iy) * in[2] + ix];
                for (int64_t kz = 0; kz < k[0]; kz++) {
                    int64_t oz = iz * v->stride[0] - v->pad_begin[0] + kz * v->dilation[0];
                    if (oz < 0 || oz >= out[0])
                        continue;
                    for (int64_t ky = 0; ky < k[1]; ky++) {
                        int64_t oy = iy * v->stride[1] - v->pad_begin[1] + ky * v->dilation[1];
                        if (oy < 0 || oy >= out[1])
                            continue;
                        for (int64_t kx = 0; kx < k[2]; kx++) {
                            int64_t ox = ix * v->stride[2] - v->pad_begin[2] + kx * v->dilation[2];
                            if (ox < 0 || ox >= out[2])
                                continue;
                            int64_t at = (oz * out[1] + oy) * out[2] + ox, tap = (kz * k[1] + ky) * k[2] + kx;
                            for (int64_t j = 0; j < cout_g; j++)
                                acc[(oc0 + j) * ovol + at] += xv * w[j * kvol + tap];
                        }
                    }
                }
            }
}

static mf_status conv_transpose(const mf_ref_call *c)
{
    const mf_type *xt = &c->in_types[0], *wt = &c->in_types[1], *ot = c->out_type;
    const float *x = c->in[0], *w = c->in[1], *bias = c->nin > 2 ? c->in[2] : NULL;
    mf_window_view v = mf_window_of(c->op, c->attrs);
    int64_t groups = c->attrs[mf_op_attr_index(c->op, "groups")].i;
    int64_t n = xt->shape[0], cin = xt->shape[1], cout = ot->shape[1], cout_g = wt->shape[1], cin_g = cin / groups;
    int64_t in[3], k[3], out[3];
    dims3(xt, in), dims3(wt, k), dims3(ot, out);
    int64_t ivol = in[0] * in[1] * in[2], kvol = k[0] * k[1] * k[2], ovol = out[0] * out[1] * out[2];
    size_t per_image = (size_t)(cout * ovol);
    double *acc = malloc(sizeof *acc * (per_image ? per_image : 1));
    if (!acc)
        return mf_error(MF_ERR_NOMEM, "%s: out of memory for the accumulator", mf_op_get(c->op)->name);
    for (int64_t b = 0; b < n; b++) {
        for (int64_t oc = 0; oc < cout; oc++)
            for (int64_t i = 0; i < ovol; i++)
                acc[oc * ovol + i] = bias ? bias[oc] : 0.0;
        for (int64_t ic = 0; ic < cin; ic++)
            scatter_plane(&v, x + (b * cin + ic) * ivol, in, w + ic * cout_g * kvol, cout_g, k,
                          ic / cin_g * cout_g, out, acc);
        float *o = (float *)c->out + (size_t)b * per_image;
        for (size_t i = 0; i < per_image; i++)
            o[i] = (float)acc[i];
    }
    free(acc);
    return MF_OK;
}

mf_status mf_ref_conv_transpose2d(const mf_ref_call *c)
{
    return conv_transpose(c);
}

mf_status mf_ref_conv_transpose3d(const mf_ref_call *c)
{
    return conv_transpose(c);
}
