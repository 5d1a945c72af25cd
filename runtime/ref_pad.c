/* ref_pad.c — reference kernel of pad: each output element is the input element at
 * (index - begin) when that lies inside the input; outside, the pad value (in the tensor's
 * dtype) in constant mode, or the element mirrored about the edge (reflect), the edge
 * element (edge) or the element a period away (wrap).  Negative pads crop.  Every dtype. */
#include <string.h>

#include "runtime.h"

mf_status mf_ref_pad(const mf_ref_call *c)
{
    const mf_type *t = &c->in_types[0], *ot = c->out_type;
    const mf_attr *pads = mf_attr_get(c->op, c->attrs, "pads");
    size_t es = mf_dtype_size(t->dtype);
    unsigned char fill[8];
    mf_scalar_store(fill, t->dtype, 0, (mf_scalar){true, mf_attr_float(c->op, c->attrs, "value"), 0});
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
