/* ref_slice.c — the reference slice kernel (ONNX Slice: per-axis start, end and step,
 * negative steps included): walks the output a row at a time and reads input[start + i*step]
 * per dim.
 * Moves bytes, so every dtype works. */
#include <string.h>

#include "runtime.h"

mf_status mf_ref_slice(const mf_ref_call *c)
{
    const mf_type *t = &c->in_types[0], *ot = c->out_type;
    int64_t start[MF_MAX_RANK], step[MF_MAX_RANK], count[MF_MAX_RANK], stride[MF_MAX_RANK];
    mf_status s = mf_op_slice_dims(c->op, c->attrs, t, start, step, count);
    if (s)
        return s;
    size_t es = mf_dtype_size(t->dtype);
    int rank = t->rank;
    int64_t acc = 1, base = 0, idx[MF_MAX_RANK] = {0};
    for (int d = rank - 1; d >= 0; d--) {
        stride[d] = acc;
        acc *= t->shape[d];
        base += start[d] * stride[d];
    }
    const char *x = c->in[0];
    char *o = c->out;
    int64_t n = mf_type_numel(ot), off = base;
    if (n == 0)
        return MF_OK;
    if (rank == 0) {
        if (!c->part) /* one element: the first share's */
            memcpy(o, x, es);
        return MF_OK;
    }
    int64_t row = ot->shape[rank - 1], lo, hi;
    mf_ref_part_rows(c, n / row, &lo, &hi);
    mf_ref_row_index(ot, lo, idx);
    for (int d = 0; d < rank - 1; d++)
        off += idx[d] * step[d] * stride[d];
    for (int64_t i = lo * row; i < hi * row; i += row) { /* a row (the last dim) at a time */
        mf_ref_copy_strided(o + (size_t)i * es, x + (size_t)off * es, row, step[rank - 1], es);
        for (int d = rank - 2; d >= 0; d--) { /* odometer over the output's rows */
            off += step[d] * stride[d];
            if (++idx[d] < ot->shape[d])
                break;
            off -= step[d] * stride[d] * idx[d];
            idx[d] = 0;
        }
    }
    return MF_OK;
}
