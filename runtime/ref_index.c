/* ref_index.c — reference kernels of the ops that pick elements by position: tile,
 * gather, gather_elements, trilu, cumsum, topk_indices and hardmax.  Data is moved as bytes,
 * so they take every dtype (cumsum adds and topk compares every numeric dtype; hardmax
 * compares f32).
 * An index out of range is an error naming it (ONNX leaves it undefined). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

/* The size of the dims before d, of d, and after d. */
static void split_at(const mf_type *t, int d, int64_t *outer, int64_t *mid, int64_t *inner)
{
    *outer = *inner = 1;
    for (int i = 0; i < d; i++)
        *outer *= t->shape[i];
    for (int i = d + 1; i < t->rank; i++)
        *inner *= t->shape[i];
    *mid = t->shape[d];
}

static int64_t index_at(const void *p, mf_dtype dt, int64_t k)
{
    return dt == MF_I32 ? ((const int32_t *)p)[k] : ((const int64_t *)p)[k];
}

/* Index v on a dim of size n (negative counts from the end) into *out. */
static mf_status checked_index(const char *op, int64_t v, int64_t n, int64_t *out)
{
    *out = v < 0 ? v + n : v;
    if (*out < 0 || *out >= n)
        return mf_error(MF_ERR_INVALID, "%s: index %lld is out of range for a dim of %lld", op,
                        (long long)v, (long long)n);
    return MF_OK;
}

/* A row (the last dim) at a time: x's row repeated to fill it. */
mf_status mf_ref_tile(const mf_ref_call *c)
{
    const mf_type *ot = c->out_type, *xt = &c->in_types[0];
    size_t es = mf_dtype_size(ot->dtype);
    const char *x = c->in[0];
    char *o = c->out;
    const int last = ot->rank - 1;
    const int64_t w = ot->rank ? xt->shape[last] : 1;
    mf_ref_rows r;
    for (mf_ref_rows_begin(&r, ot, 0, NULL), mf_ref_rows_part(&r, c); r.done < r.n; mf_ref_rows_next(&r)) {
        int64_t src = 0;
        for (int d = 0; d < last; d++)
            src = src * xt->shape[d] + r.idx[d] % xt->shape[d];
        src *= w;
        for (int64_t k = 0; k < r.row; k += w)
            memcpy(o + (size_t)(r.done + k) * es, x + (size_t)src * es, (size_t)(r.row - k < w ? r.row - k : w) * es);
    }
    return MF_OK;
}

/* out[outer, j..., inner] = x[outer, idx[j...], inner]. */
mf_status mf_ref_gather(const mf_ref_call *c)
{
    const mf_type *xt = &c->in_types[0], *it = &c->in_types[1];
    int d = mf_dim_of(c->op, c->attrs, xt->rank);
    int64_t outer, mid, inner, m = mf_type_numel(it);
    split_at(xt, d, &outer, &mid, &inner);
    size_t es = mf_dtype_size(xt->dtype), row = (size_t)inner * es;
    const char *x = c->in[0];
    char *o = c->out;
    for (int64_t a = 0; a < outer; a++)
        for (int64_t j = 0; j < m; j++) {
            int64_t k;
            mf_status s = checked_index("gather", index_at(c->in[1], it->dtype, j), mid, &k);
            if (s)
                return s;
            memcpy(o + (size_t)(a * m + j) * row, x + (size_t)(a * mid + k) * row, row);
        }
    return MF_OK;
}

/* out[i...] = x[i... with dim replaced by idx[i...]]. */
mf_status mf_ref_gather_elements(const mf_ref_call *c)
{
    const mf_type *xt = &c->in_types[0], *it = &c->in_types[1];
    int d = mf_dim_of(c->op, c->attrs, xt->rank);
    size_t es = mf_dtype_size(xt->dtype);
    int64_t idx[MF_MAX_RANK] = {0}, n = mf_type_numel(it);
    const char *x = c->in[0];
    char *o = c->out;
    for (int64_t i = 0; i < n; i++) {
        int64_t k, src = 0;
        mf_status s = checked_index("gather_elements", index_at(c->in[1], it->dtype, i), xt->shape[d], &k);
        if (s)
            return s;
        for (int e = 0; e < xt->rank; e++)
            src = src * xt->shape[e] + (e == d ? k : idx[e]);
        memcpy(o + (size_t)i * es, x + (size_t)src * es, es);
        for (int e = it->rank - 1; e >= 0; e--) {
            if (++idx[e] < it->shape[e])
                break;
            idx[e] = 0;
        }
    }
    return MF_OK;
}

/* Keeps row r, column j of every matrix when j - r >= k (upper) or j - r <= k (lower). */
mf_status mf_ref_trilu(const mf_ref_call *c)
{
    const mf_type *t = c->out_type;
    size_t es = mf_dtype_size(t->dtype);
    int64_t rows = t->shape[t->rank - 2], cols = t->shape[t->rank - 1], n = mf_type_numel(t);
    int64_t k = mf_attr_int(c->op, c->attrs, "k");
    bool upper = mf_attr_int(c->op, c->attrs, "upper") != 0;
    const char *x = c->in[0];
    char *o = c->out;
    for (int64_t i = 0; i < n; i++) {
        int64_t col = i % cols, row = (i / cols) % rows;
        bool keep = upper ? col - row >= k : col - row <= k;
        if (keep)
            memcpy(o + (size_t)i * es, x + (size_t)i * es, es);
        else
            memset(o + (size_t)i * es, 0, es);
    }
    return MF_OK;
}

/* Running sums along dim, in double (floats) or wrapping int64 (integers), every numeric
 * dtype; exclusive starts at 0 and leaves the element itself out; reverse runs from the end. */
mf_status mf_ref_cumsum(const mf_ref_call *c)
{
    const mf_type *t = c->out_type;
    int d = mf_dim_of(c->op, c->attrs, t->rank);
    bool excl = mf_attr_int(c->op, c->attrs, "exclusive"), rev = mf_attr_int(c->op, c->attrs, "reverse");
    int64_t outer, mid, inner;
    split_at(t, d, &outer, &mid, &inner);
    for (int64_t a = 0; a < outer; a++)
        for (int64_t b = 0; b < inner; b++) {
            mf_scalar acc = {mf_dtype_is_float(t->dtype), 0.0, 0};
            for (int64_t j0 = 0; j0 < mid; j0++) {
                int64_t j = rev ? mid - 1 - j0 : j0, k = (a * mid + j) * inner + b;
                mf_scalar v = mf_scalar_load(c->in[0], t->dtype, k), sum = acc;
                sum.f += v.f;
                sum.i = (int64_t)((uint64_t)sum.i + (uint64_t)v.i);
                mf_scalar_store(c->out, t->dtype, k, excl ? acc : sum);
                acc = sum;
            }
        }
    return MF_OK;
}

/* Whether a goes before b: the larger (or smaller) first, NaN as the largest, the lower
 * index first among equals (ONNX TopK); every dtype compares exactly (mf_ref_order). */
static bool before(mf_scalar a, int64_t ia, mf_scalar b, int64_t ib, bool largest, mf_dtype dt)
{
    int o = mf_ref_order(a, b, dt);
    if (o == 2 && isnan(a.f) != isnan(b.f))
        return largest ? isnan(a.f) : isnan(b.f);
    if (o == 1 || o == -1)
        return largest ? o == 1 : o == -1;
    return ia < ib;
}

/* The positions of the k first elements of every line along dim, in order (a selection
 * by insertion: k and the lines are small in inference graphs); every numeric dtype. */
mf_status mf_ref_topk_indices(const mf_ref_call *c)
{
    const mf_type *xt = &c->in_types[0];
    int d = mf_dim_of(c->op, c->attrs, xt->rank);
    int64_t k = mf_attr_int(c->op, c->attrs, "k"), outer, mid, inner;
    bool largest = mf_attr_int(c->op, c->attrs, "largest") != 0;
    split_at(xt, d, &outer, &mid, &inner);
    int64_t *o = c->out;
    int64_t *best = malloc((size_t)(k + 1) * sizeof *best);
    if (!best)
        return mf_error(MF_ERR_NOMEM, "topk: out of memory");
#define AT(j) mf_scalar_load(c->in[0], xt->dtype, base + (j) * inner)
    for (int64_t a = 0; a < outer; a++)
        for (int64_t b = 0; b < inner; b++) {
            int64_t base = a * mid * inner + b, nb = 0;
            for (int64_t j = 0; j < mid && k > 0; j++) {
                mf_scalar v = AT(j);
                if (nb == k && !before(v, j, AT(best[k - 1]), best[k - 1], largest, xt->dtype))
                    continue;
                int64_t p = nb < k ? nb++ : k - 1;
                while (p > 0 && before(v, j, AT(best[p - 1]), best[p - 1], largest, xt->dtype)) {
                    best[p] = best[p - 1];
                    p--;
                }
                best[p] = j;
            }
            for (int64_t j = 0; j < k; j++)
                o[(a * k + j) * inner + b] = best[j];
        }
#undef AT
    free(best);
    return MF_OK;
}

/* 1 at the first largest element of every line along dim, 0 elsewhere. */
mf_status mf_ref_hardmax(const mf_ref_call *c)
{
    const mf_type *t = c->out_type;
    int d = mf_dim_of(c->op, c->attrs, t->rank);
    int64_t outer, mid, inner;
    split_at(t, d, &outer, &mid, &inner);
    const float *x = c->in[0];
    float *o = c->out;
    for (int64_t a = 0; a < outer; a++)
        for (int64_t b = 0; b < inner; b++) {
            int64_t base = a * mid * inner + b, arg = 0;
            for (int64_t j = 0; j < mid; j++) {
                o[base + j * inner] = 0.0f;
                if (x[base + j * inner] > x[base + arg * inner])
                    arg = j;
            }
            if (mid)
                o[base + arg * inner] = 1.0f;
        }
    return MF_OK;
}

/* The first lens[b] steps along the time axis of each batch entry b reversed, the rest
 * copied (batch and time are dims 0 and 1, in either order). */
mf_status mf_ref_reverse_sequence(const mf_ref_call *c)
{
    const mf_type *t = &c->in_types[0];
    int bax = (int)mf_attr_int(c->op, c->attrs, "batch_axis");
    int64_t inner = 1, steps = t->shape[1 - bax];
    for (int d = 2; d < t->rank; d++)
        inner *= t->shape[d];
    size_t es = mf_dtype_size(t->dtype), row = (size_t)inner * es;
    memcpy(c->out, c->in[0], mf_type_nbytes(t));
    for (int64_t b = 0; b < t->shape[bax]; b++) {
        int64_t len = index_at(c->in[1], c->in_types[1].dtype, b);
        if (len < 0 || len > steps)
            return mf_error(MF_ERR_INVALID, "reverse_sequence: length %lld is outside 0..%lld", (long long)len,
                            (long long)steps);
        for (int64_t s = 0; s < len; s++) {
            int64_t src = bax ? s * t->shape[1] + b : b * steps + s;
            int64_t dst = bax ? (len - 1 - s) * t->shape[1] + b : b * steps + len - 1 - s;
            memcpy((char *)c->out + (size_t)dst * row, (const char *)c->in[0] + (size_t)src * row, row);
        }
    }
    return MF_OK;
}
