/* ref_layout.c — reference kernels of the view and layout ops: dropout (identity at
 * inference), flatten and reshape (the same bytes), permute, concat and
 * upsample_nearest2d.  They move elements without reading them, so every dtype works:
 * sizes come from mf_dtype_size and data is copied as bytes. */
#include <string.h>

#include "runtime.h"

static void copy_bytes(void *dst, const void *src, size_t n)
{
    if (n) /* memcpy with a NULL pointer is undefined even for 0 bytes */
        memcpy(dst, src, n);
}

/* One element of ES bytes a step: no type is punned, and a constant ES makes each memcpy a move. */
#define COPY_LOOP(ES)                                                                                                  \
    for (int64_t i = 0; i < n; i++)                                                                                    \
        memcpy(d + i * (int64_t)(ES), s + i * stride * (int64_t)(ES), ES);

void mf_ref_copy_strided(void *dst, const void *src, int64_t n, int64_t stride, size_t es)
{
    char *d = dst;
    const char *s = src;
    if (n <= 0)
        return;
    if (stride == 1) {
        memcpy(d, s, (size_t)n * es);
        return;
    }
    MF_REF_BY_SIZE(es, COPY_LOOP)
}

void mf_ref_fill(void *dst, const void *src, int64_t n, size_t es)
{
    mf_ref_copy_strided(dst, src, n, 0, es);
}

static mf_status copy_input(const mf_ref_call *c)
{
    copy_bytes(c->out, c->in[0], mf_type_nbytes(c->out_type));
    return MF_OK;
}

mf_status mf_ref_dropout(const mf_ref_call *c)
{
    return copy_input(c);
}

mf_status mf_ref_flatten(const mf_ref_call *c)
{
    return copy_input(c);
}

mf_status mf_ref_reshape(const mf_ref_call *c)
{
    return copy_input(c);
}

/* Walks the output a row (its last dim) at a time; the input offset follows the permuted
 * input strides, the row a strided copy. */
mf_status mf_ref_permute(const mf_ref_call *c)
{
    const mf_type *t = &c->in_types[0];
    const mf_attr *perm = mf_attr_get(c->op, c->attrs, "perm");
    size_t es = mf_dtype_size(t->dtype);
    int rank = t->rank;
    int64_t istride[MF_MAX_RANK], step[MF_MAX_RANK], s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        istride[i] = s;
        s *= t->shape[i];
    }
    for (int i = 0; i < rank; i++)
        step[i] = istride[perm->ints[i] < 0 ? perm->ints[i] + rank : perm->ints[i]];
    mf_ref_rows w;
    for (mf_ref_rows_begin_strided(&w, c->out_type, step, 0), mf_ref_rows_part(&w, c); w.done < w.n;
         mf_ref_rows_next(&w))
        mf_ref_copy_strided((char *)c->out + (size_t)w.done * es, (const char *)c->in[0] + (size_t)w.off[0] * es, w.row,
                            w.step[0], es);
    return MF_OK;
}

/* Each input contributes one contiguous block per index of the dims before `dim`.  A share
 * (mf_ref_call's part) copies the output bytes [nbytes * part / nparts, ...) of them: a
 * concat along dim 1 at batch 1 is one block an input. */
mf_status mf_ref_concat(const mf_ref_call *c)
{
    const mf_type *ot = c->out_type;
    int d = mf_dim_of(c->op, c->attrs, ot->rank);
    size_t es = mf_dtype_size(ot->dtype);
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < d; i++)
        outer *= ot->shape[i];
    for (int i = (int)d + 1; i < ot->rank; i++)
        inner *= ot->shape[i];
    size_t out_row = (size_t)(ot->shape[d] * inner) * es, at = 0;
    int64_t lo, hi;
    mf_ref_part_rows(c, (int64_t)(out_row * (size_t)outer), &lo, &hi);
    for (int k = 0; k < c->nin; k++) {
        size_t row = (size_t)(c->in_types[k].shape[d] * inner) * es;
        const char *x = c->in[k];
        char *o = (char *)c->out + at;
        for (int64_t a = 0; a < outer; a++) { /* the block's bytes within [lo, hi) */
            size_t start = (size_t)a * out_row + at, from = start > (size_t)lo ? start : (size_t)lo;
            size_t end = start + row < (size_t)hi ? start + row : (size_t)hi;
            if (from < end)
                copy_bytes(o + (size_t)a * out_row + (from - start), x + (size_t)a * row + (from - start), end - from);
        }
        at += row;
    }
    return MF_OK;
}

#define WIDEN_LOOP(ES)                                                                                                 \
    for (int64_t i = 0; i < w; i++)                                                                                    \
        for (int64_t r = 0; r < sw; r++)                                                                               \
            memcpy(dst + (i * sw + r) * (int64_t)(ES), src + i * (int64_t)(ES), ES);

/* Each of w elements of src sw times into dst. */
static void widen_row(char *dst, const char *src, int64_t w, int64_t sw, size_t es)
{
    MF_REF_BY_SIZE(es, WIDEN_LOOP)
}

/* out[..., y, x] = in[..., y / sh, x / sw] for integer scales (sh, sw): each input row
 * widened once, then copied to its sh output rows. */
mf_status mf_ref_upsample_nearest2d(const mf_ref_call *c)
{
    const mf_type *t = &c->in_types[0];
    const mf_attr *scale = mf_attr_get(c->op, c->attrs, "scale");
    size_t es = mf_dtype_size(t->dtype);
    int64_t planes = t->shape[0] * t->shape[1], h = t->shape[2], w = t->shape[3];
    int64_t sh = scale->ints[0], sw = scale->ints[1], oh = h * sh, ow = w * sw;
    const char *x = c->in[0];
    char *o = c->out;
    size_t orow = (size_t)ow * es;
    int64_t lo, hi; /* a share: input rows [lo, hi) of all planes' */
    mf_ref_part_rows(c, planes * h, &lo, &hi);
    for (int64_t i = lo; i < hi; i++) { /* input row i: plane i / h, row i % h */
        const char *src = x + (size_t)(i * w) * es;
        char *dst = o + (size_t)((i / h * oh + i % h * sh) * ow) * es;
        widen_row(dst, src, w, sw, es);
        for (int64_t r = 1; r < sh; r++)
            memcpy(dst + (size_t)r * orow, dst, orow);
    }
    return MF_OK;
}
