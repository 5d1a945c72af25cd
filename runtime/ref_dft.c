/* ref_dft.c — the reference kernel of dft: the discrete Fourier transform (or its inverse,
 * scaled by 1 / length) along one dim of a real ([..., 1]) or complex ([..., 2]) signal,
 * zero-padded or cut to `length`, in double by the definition (O(n^2): small signals).
 * onesided keeps the length / 2 + 1 non-negative frequencies. */
#include <math.h>

#include "runtime.h"

mf_status mf_ref_dft(const mf_ref_call *c)
{
    const mf_type *t = &c->in_types[0], *ot = c->out_type;
    int d = mf_dim_of(c->op, c->attrs, t->rank - 1);
    bool inverse = mf_attr_int(c->op, c->attrs, "inverse") != 0;
    int64_t comp = t->shape[t->rank - 1], n = t->shape[d], outer = 1, mid = 1, kout = ot->shape[d];
    int64_t len = mf_attr_int(c->op, c->attrs, "length");
    if (!len)
        len = n;
    for (int i = 0; i < d; i++)
        outer *= t->shape[i];
    for (int i = d + 1; i < t->rank - 1; i++)
        mid *= t->shape[i];
    const float *x = c->in[0];
    float *o = c->out;
    double sign = inverse ? 1.0 : -1.0, scale = inverse ? 1.0 / (double)len : 1.0;
    for (int64_t a = 0; a < outer; a++)
        for (int64_t m = 0; m < mid; m++)
            for (int64_t k = 0; k < kout; k++) {
                double re = 0, im = 0;
                for (int64_t j = 0; j < len && j < n; j++) {
                    const float *p = x + ((a * n + j) * mid + m) * comp;
                    double xr = p[0], xi = comp == 2 ? p[1] : 0.0;
                    double w = sign * 2.0 * M_PI * (double)((j * k) % len) / (double)len;
                    re += xr * cos(w) - xi * sin(w);
                    im += xr * sin(w) + xi * cos(w);
                }
                float *q = o + ((a * kout + k) * mid + m) * 2;
                q[0] = (float)(re * scale);
                q[1] = (float)(im * scale);
            }
    return MF_OK;
}
