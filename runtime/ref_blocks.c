/* ref_blocks.c — the reference kernels of the blocked channel layout (ops.def: to_blocks,
 * from_blocks, conv2d_blocks) as plain loops, the oracle of codegen/lower_conv_blocks.c.
 * A blocked tensor [N, H, C/B, W, B] holds channel cb B + l of pixel (h, w) at
 * (((n H + h) C/B + cb) W + w) B + l. */
#include "runtime.h"

static int64_t blocked_at(const mf_type *t, int64_t n, int64_t h, int64_t cb, int64_t w, int64_t l)
{
    const int64_t *s = t->shape;
    return (((n * s[1] + h) * s[2] + cb) * s[3] + w) * s[4] + l;
}

mf_status mf_ref_to_blocks(const mf_ref_call *c)
{
    const mf_type *x = &c->in_types[0];
    const float *in = c->in[0];
    float *out = c->out;
    int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3],
            B = c->out_type->shape[4];
    for (int64_t n = 0; n < N; n++)
        for (int64_t ch = 0; ch < C; ch++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t w = 0; w < W; w++)
                    out[blocked_at(c->out_type, n, h, ch / B, w, ch % B)] =
                        in[((n * C + ch) * H + h) * W + w];
    return MF_OK;
}

mf_status mf_ref_from_blocks(const mf_ref_call *c)
{
    const mf_type *x = &c->in_types[0];
    const float *in = c->in[0];
    float *out = c->out;
    int64_t N = x->shape[0], H = x->shape[1], W = x->shape[3], B = x->shape[4], C = x->shape[2] * B;
    for (int64_t n = 0; n < N; n++)
        for (int64_t ch = 0; ch < C; ch++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t w = 0; w < W; w++)
                    out[((n * C + ch) * H + h) * W + w] =
                        in[blocked_at(x, n, h, ch / B, w, ch % B)];
    return MF_OK;
}

/* Sums in double, as ref_conv.c's. */
mf_status mf_ref_conv2d_blocks(const mf_ref_call *c)
{
    const mf_type *x = &c->in_types[0], *wt = &c->in_types[1], *o = c->out_type;
    const float *in = c->in[0], *w = c->in[1], *bias = c->nin > 2 ? c->in[2] : NULL;
    float *out = c->out;
    const int64_t *stride = mf_attr_get(c->op, c->attrs, "stride")->ints;
    const int64_t *pad = mf_attr_get(c->op, c->attrs, "padding")->ints;
    int64_t B = x->shape[4], H = x->shape[1], W = x->shape[3], cin = x->shape[2] * B;
    bool pointwise = wt->rank == 3;
    int64_t kh = pointwise ? 1 : wt->shape[1], kw = pointwise ? 1 : wt->shape[2];
    for (int64_t n = 0; n < o->shape[0]; n++)
        for (int64_t oy = 0; oy < o->shape[1]; oy++)
            for (int64_t ob = 0; ob < o->shape[2]; ob++)
                for (int64_t ox = 0; ox < o->shape[3]; ox++)
                    for (int64_t l = 0; l < B; l++) {
                        int64_t oc = ob * B + l;
                        double s = bias ? bias[oc] : 0;
                        for (int64_t ky = 0; ky < kh; ky++)
                            for (int64_t kx = 0; kx < kw; kx++) {
                                int64_t iy = oy * stride[0] + ky - pad[0],
                                        ix = ox * stride[1] + kx - pad[1];
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                                    continue;
                                if (pointwise)
                                    for (int64_t k = 0; k < cin; k++)
                                        s += (double)w[(ob * cin + k) * B + l] *
                                             in[blocked_at(x, n, iy, k / B, ix, k % B)];
                                else
                                    s += (double)w[((ob * kh + ky) * kw + kx) * B + l] *
                                         in[blocked_at(x, n, iy, ob, ix, l)];
                            }
                        out[blocked_at(o, n, oy, ob, ox, l)] = (float)s;
                    }
    return MF_OK;
}
