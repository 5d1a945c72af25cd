/* ref_pad.c — reference kernel of pad: each output element is the input element at
 * (index - begin) when that lies inside the input; outside, the pad value (in the tensor's
 * dtype) in constant mode, or the element mirrored about the edge (reflect), the edge
 * element (edge) or the element a period away (wrap).  Negative pads crop.  Every dtype. */
#include <string.h>

#include "runtime.h"

/* Input index of output index i along a dim of `dim` elements padded by `begin` in `mode`
 * (mode's bounds checked in infer_pad), or -1 outside the input (constant mode). */
static int64_t source_index(int64_t i, int64_t begin, int64_t dim, int64_t mode)
{
    int64_t j = i - begin;
    if (mode == 1 && (j < 0 || j >= dim))
        j = j < 0 ? -j : 2 * (dim - 1) - j;
    else if (mode == 2)
        j = j < 0 ? 0 : j >= dim ? dim - 1 : j;
    else if (mode == 3)
        j = ((j % dim) + dim) % dim;
    return j >= 0 && j < dim ? j : -1;
}

/* Walks the output a row (its last dim) at a time: a row whose outer indices fall outside
 * the input is the pad value; otherwise a copy of the columns that read the input directly,
 * and each pad column either side through source_index. */
mf_status mf_ref_pad(const mf_ref_call *c)
{
    const mf_type *t = &c->in_types[0], *ot = c->out_type;
    const mf_attr *pads = mf_attr_get(c->op, c->attrs, "pads");
    size_t es = mf_dtype_size(t->dtype);
    unsigned char fill[8];
    mf_scalar_store(fill, t->dtype, 0, (mf_scalar){true, mf_attr_float(c->op, c->attrs, "value"), 0});
    int rank = t->rank;
    int64_t mode = mf_attr_int(c->op, c->attrs, "mode");
    if (mf_type_numel(ot) == 0)
        return MF_OK;
    if (rank == 0) {
        if (!c->part) /* one element: the first share's */
            memcpy(c->out, c->in[0], es);
        return MF_OK;
    }
    int64_t istride[MF_MAX_RANK], s = 1;
    for (int d = rank - 1; d >= 0; d--) {
        istride[d] = s;
        s *= t->shape[d];
    }
    const unsigned char *x = c->in[0];
    unsigned char *o = c->out;
    const int last = rank - 1;
    const int64_t row = ot->shape[last], w = t->shape[last], begin = pads->ints[last];
    /* output columns [lo, hi) read input columns [lo - begin, hi - begin) in every mode */
    int64_t lo = begin < 0 ? 0 : begin, hi = begin + w < row ? begin + w : row;
    if (hi < lo)
        hi = lo;
    mf_ref_rows r;
    for (mf_ref_rows_begin(&r, ot, 0, NULL), mf_ref_rows_part(&r, c); r.done < r.n; mf_ref_rows_next(&r)) {
        unsigned char *out = o + (size_t)r.done * es;
        int64_t off = 0;
        bool inside = true;
        for (int d = 0; d < last && inside; d++) {
            int64_t j = source_index(r.idx[d], pads->ints[d], t->shape[d], mode);
            inside = j >= 0;
            off += j * istride[d];
        }
        if (!inside) {
            mf_ref_fill(out, fill, row, es);
        } else {
            const unsigned char *in = x + (size_t)off * es; /* only inside: off >= 0 */
            if (hi > lo) /* else lo - begin may lie past the input row */
                mf_ref_copy_strided(out + (size_t)lo * es, in + (size_t)(lo - begin) * es, hi - lo, 1, es);
            for (int64_t k = lo > 0 ? 0 : hi; k < row; k = k + 1 == lo ? hi : k + 1) { /* the pads either side */
                int64_t j = source_index(k, begin, w, mode);
                mf_ref_fill(out + (size_t)k * es, j >= 0 ? in + (size_t)j * es : fill, 1, es);
            }
        }
    }
    return MF_OK;
}
