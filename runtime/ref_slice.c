/* ref_slice.c — the reference slice kernel (ONNX Slice: per-axis start, end and step,
 * negative steps included): walks the output a row at a time and reads input[start + i*step]
 * per dim (mf_ref_rows over the input's strides times the steps).  Moves bytes, so every
 * dtype works. */
#include "runtime.h"

mf_status mf_ref_slice(const mf_ref_call *c)
{
    const mf_type *t = &c->in_types[0], *ot = c->out_type;
    int64_t start[MF_MAX_RANK], step[MF_MAX_RANK], count[MF_MAX_RANK], stride[MF_MAX_RANK];
    mf_status s = mf_op_slice_dims(c->op, c->attrs, t, start, step, count);
    if (s)
        return s;
    size_t es = mf_dtype_size(t->dtype);
    int64_t acc = 1, base = 0;
    for (int d = t->rank - 1; d >= 0; d--) { /* input strides; the output steps step[d] of them */
        stride[d] = acc * step[d];
        base += start[d] * acc;
        acc *= t->shape[d];
    }
    mf_ref_rows w;
    for (mf_ref_rows_begin_strided(&w, ot, stride, base), mf_ref_rows_part(&w, c); w.done < w.n;
         mf_ref_rows_next(&w)) /* a row (the last dim) at a time */
        mf_ref_copy_strided((char *)c->out + (size_t)w.done * es, (const char *)c->in[0] + (size_t)w.off[0] * es, w.row,
                            w.step[0], es);
    return MF_OK;
}
