/* ref_resize.c — reference kernel of resize, after the ONNX Resize reference: every output
 * coordinate maps back to an input coordinate per dim (the coordinate transform), and the
 * output is a tensor product of 1-D weights per dim: one source for nearest, two for linear,
 * four for cubic (Keys' kernel with coefficient a), neighbours outside the input clamped to
 * the edge or, with exclude_outside, dropped and the rest renormalized.  tf_crop_and_resize
 * gives the extrapolation value outside the region of interest. */
#include <math.h>

#include "runtime.h"

enum { NEAREST, LINEAR, CUBIC };
enum { HALF_PIXEL, PYTORCH_HALF_PIXEL, ALIGN_CORNERS, ASYMMETRIC, TF_CROP_AND_RESIZE };

typedef struct taps {
    int n;
    int64_t idx[4];
    double w[4];
    bool outside; /* tf_crop_and_resize beyond the roi */
} taps;

static double original(int coord, double x, double scale, int64_t in, int64_t out, double r0, double r1)
{
    double out_f = scale * (double)in; /* the reference's float output length */
    switch (coord) {
    case PYTORCH_HALF_PIXEL: return out_f == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
    case ALIGN_CORNERS: return out_f == 1 ? 0 : x * (double)(in - 1) / (out_f - 1);
    case ASYMMETRIC: return x / scale;
    case TF_CROP_AND_RESIZE:
        return (out == 1 ? (r1 - r0) * (double)(in - 1) / 2 : x * (r1 - r0) * (double)(in - 1) / (out_f - 1)) +
               r0 * (double)(in - 1);
    default: return (x + 0.5) / scale - 0.5;
    }
}

static int64_t clamp_index(int64_t i, int64_t in)
{
    return i < 0 ? 0 : i >= in ? in - 1 : i;
}

static void taps_for(const mf_ref_call *c, int d, int64_t x, taps *t)
{
    const mf_type *xt = &c->in_types[0];
    int64_t in = xt->shape[d], out = c->out_type->shape[d];
    int mode = (int)mf_attr_int(c->op, c->attrs, "mode"), coord = (int)mf_attr_int(c->op, c->attrs, "coord");
    double scale = ((const float *)c->in[1])[d];
    double r0 = c->nin == 3 ? ((const float *)c->in[2])[d] : 0, r1 = c->nin == 3 ? ((const float *)c->in[2])[xt->rank + d] : 1;
    double xo = original(coord, (double)x, scale, in, out, r0, r1);
    t->outside = coord == TF_CROP_AND_RESIZE && (xo < 0 || xo > (double)(in - 1));
    if (mode == NEAREST) {
        double f = floor(xo);
        int64_t i;
        switch (mf_attr_int(c->op, c->attrs, "nearest")) {
        case 1: i = (int64_t)(xo - f == 0.5 ? f + 1 : round(xo)); break;
        case 2: i = (int64_t)f; break;
        case 3: i = (int64_t)ceil(xo); break;
        default: i = (int64_t)(xo - f == 0.5 ? f : round(xo)); break;
        }
        t->n = 1;
        t->idx[0] = clamp_index(i, in);
        t->w[0] = 1;
        return;
    }
    /* x0 and the ratio in (0, 1]: an integer coordinate is the right end of its interval */
    double x0 = floor(xo), ratio = xo - x0;
    if (ratio == 0) {
        x0 -= 1;
        ratio = 1;
    }
    if (mode == LINEAR) {
        t->n = 2;
        t->idx[0] = (int64_t)x0, t->idx[1] = (int64_t)x0 + 1;
        t->w[0] = 1 - ratio, t->w[1] = ratio;
    } else {
        double a = mf_attr_float(c->op, c->attrs, "cubic_a"), r = ratio, q = 1 - ratio;
        t->n = 4;
        for (int k = 0; k < 4; k++)
            t->idx[k] = (int64_t)x0 - 1 + k;
        t->w[0] = ((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a;
        t->w[1] = ((a + 2) * r - (a + 3)) * r * r + 1;
        t->w[2] = ((a + 2) * q - (a + 3)) * q * q + 1;
        t->w[3] = ((a * (q + 1) - 5 * a) * (q + 1) + 8 * a) * (q + 1) - 4 * a;
    }
    if (mf_attr_int(c->op, c->attrs, "exclude_outside")) {
        double sum = 0;
        for (int k = 0; k < t->n; k++) {
            if (t->idx[k] < 0 || t->idx[k] >= in)
                t->w[k] = 0;
            sum += t->w[k];
        }
        for (int k = 0; k < t->n && sum != 0; k++)
            t->w[k] /= sum;
    }
    for (int k = 0; k < t->n; k++)
        t->idx[k] = clamp_index(t->idx[k], in);
}

mf_status mf_ref_resize(const mf_ref_call *c)
{
    const mf_type *xt = &c->in_types[0], *ot = c->out_type;
    int rank = xt->rank;
    int64_t idx[MF_MAX_RANK] = {0}, n = mf_type_numel(ot), stride[MF_MAX_RANK], s = 1;
    for (int d = rank - 1; d >= 0; d--) {
        stride[d] = s;
        s *= xt->shape[d];
    }
    const float *x = c->in[0];
    float *o = c->out;
    float extrapolation = (float)mf_attr_float(c->op, c->attrs, "extrapolation");
    for (int64_t i = 0; i < n; i++) {
        taps t[MF_MAX_RANK];
        bool outside = false;
        int64_t combos = 1;
        for (int d = 0; d < rank; d++) {
            taps_for(c, d, idx[d], &t[d]);
            outside = outside || t[d].outside;
            combos *= t[d].n;
        }
        double acc = 0;
        for (int64_t k = 0; k < combos && !outside; k++) { /* every combination of taps */
            int64_t rest = k, off = 0;
            double w = 1;
            for (int d = rank - 1; d >= 0; d--) {
                int j = (int)(rest % t[d].n);
                rest /= t[d].n;
                w *= t[d].w[j];
                off += t[d].idx[j] * stride[d];
            }
            if (w != 0)
                acc += w * x[off];
        }
        o[i] = outside ? extrapolation : (float)acc;
        for (int d = rank - 1; d >= 0; d--) {
            if (++idx[d] < ot->shape[d])
                break;
            idx[d] = 0;
        }
    }
    return MF_OK;
}
