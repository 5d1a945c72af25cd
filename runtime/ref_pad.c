/* ref_pad.c — reference kernel of pad: each output element is the input element at
 * (index - begin) when that lies inside the input; outside, the pad value (in the tensor's
 * dtype) in constant mode, or the element mirrored about the edge (reflect), the edge
 * element (edge) or the element a period away (wrap).  Negative pads crop.  Every dtype. */
#include <string.h>

#include "runtime.h"

/* The pad value as bytes of dtype dt. */
static void value_bytes(mf_dtype dt, double v, unsigned char *out)
{
    float f = (float)v;
    uint16_t h = mf_f32_to_f16(f);
    int8_t b = (int8_t)v;
    int32_t i = (int32_t)v;
    int64_t l = (int64_t)v;
    switch (dt) {
    case MF_F32: memcpy(out, &f, 4); break;
    case MF_F16: memcpy(out, &h, 2); break;
    case MF_I32: memcpy(out, &i, 4); break;
    case MF_I64: memcpy(out, &l, 8); break;
    case MF_BOOL: out[0] = v != 0; break;
    default: memcpy(out, &b, 1); break;
    }
}

mf_status mf_ref_pad(const mf_ref_call *c)
{
    const mf_type *t = &c->in_types[0], *ot = c->out_type;
    const mf_attr *pads = mf_attr_get(c->op, c->attrs, "pads");
    size_t es = mf_dtype_size(t->dtype);
    unsigned char fill[8];
    value_bytes(t->dtype, mf_attr_float(c->op, c->attrs, "value"), fill);
    int rank = t->rank;
    int64_t mode = mf_attr_int(c->op, c->attrs, "mode");
    int64_t istride[MF_MAX_RANK], idx[MF_MAX_RANK] = {0}, s = 1;
    for (int d = rank - 1; d >= 0; d--) {
        istride[d] = s;
        s *= t->shape[d];
    }
    const unsigned char *x = c->in[0];
    unsigned char *o = c->out;
    int64_t n = mf_type_numel(ot);
    for (int64_t i = 0; i < n; i++) {
        int64_t off = 0;
        bool inside = true;
        for (int d = 0; d < rank && inside; d++) {
            int64_t j = idx[d] - pads->ints[d], dim = t->shape[d];
            if (mode == 1 && (j < 0 || j >= dim)) /* mode's bounds checked in infer_pad */
                j = j < 0 ? -j : 2 * (dim - 1) - j;
            else if (mode == 2)
                j = j < 0 ? 0 : j >= dim ? dim - 1 : j;
            else if (mode == 3)
                j = ((j % dim) + dim) % dim;
            inside = j >= 0 && j < dim;
            off += j * istride[d];
        }
        memcpy(o + (size_t)i * es, inside ? x + (size_t)off * es : fill, es);
        for (int d = rank - 1; d >= 0; d--) { /* odometer over the output */
            if (++idx[d] < ot->shape[d])
                break;
            idx[d] = 0;
        }
    }
    return MF_OK;
}
