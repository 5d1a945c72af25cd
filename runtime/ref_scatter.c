/* ref_scatter.c — reference kernels of the ops that write elements to positions given by
 * an index tensor, and of their gather: scatter_elements (one index per element along a
 * dim), scatter_nd (an index tuple per slice), max_unpool (flat positions) and gather_nd.
 * The data is copied first; every dtype, moved as bytes, or combined in double for the
 * reductions (add, mul, max, min).  An index out of range is an error naming it. */
#include <string.h>

#include "runtime.h"

static int64_t index_at(const void *p, mf_dtype dt, int64_t k)
{
    return dt == MF_I32 ? ((const int32_t *)p)[k] : ((const int64_t *)p)[k];
}

/* Index v on a dim of size n (negative counts from the end) into *out. */
static mf_status in_range(const char *op, int64_t v, int64_t n, int64_t *out)
{
    *out = v < 0 ? v + n : v;
    if (*out < 0 || *out >= n)
        return mf_error(MF_ERR_INVALID, "%s: index %lld is out of range for a dim of %lld", op, (long long)v,
                        (long long)n);
    return MF_OK;
}

/* out[at] = src[from], or combined with it by the reduction. */
static void put(const mf_ref_call *c, int64_t reduction, int64_t at, const void *src, int64_t from)
{
    mf_dtype dt = c->out_type->dtype;
    size_t es = mf_dtype_size(dt);
    if (reduction == 0) {
        memcpy((char *)c->out + (size_t)at * es, (const char *)src + (size_t)from * es, es);
        return;
    }
    mf_scalar a = mf_scalar_load(c->out, dt, at), b = mf_scalar_load(src, dt, from);
    bool fl = a.is_float;
    double x = fl ? a.f : (double)a.i, y = fl ? b.f : (double)b.i, r;
    switch (reduction) {
    case 1: r = x + y; break;
    case 2: r = x * y; break;
    case 3: r = x > y ? x : y; break;
    default: r = x < y ? x : y; break;
    }
    mf_scalar_store(c->out, dt, at, fl ? (mf_scalar){true, r, 0} : (mf_scalar){false, 0.0, (int64_t)r});
}

static void copy_data(const mf_ref_call *c)
{
    memcpy(c->out, c->in[0], mf_type_nbytes(c->out_type));
}

/* out = data; out[i... with dim replaced by idx[i...]] (op)= updates[i...]. */
mf_status mf_ref_scatter_elements(const mf_ref_call *c)
{
    const mf_type *xt = &c->in_types[0], *it = &c->in_types[1];
    int d = mf_dim_of(c->op, c->attrs, xt->rank);
    int64_t red = mf_attr_int(c->op, c->attrs, "reduction"), idx[MF_MAX_RANK] = {0}, n = mf_type_numel(it);
    copy_data(c);
    for (int64_t i = 0; i < n; i++) {
        int64_t k, dst = 0;
        mf_status s = in_range("scatter_elements", index_at(c->in[1], it->dtype, i), xt->shape[d], &k);
        if (s)
            return s;
        for (int e = 0; e < xt->rank; e++)
            dst = dst * xt->shape[e] + (e == d ? k : idx[e]);
        put(c, red, dst, c->in[2], i);
        for (int e = it->rank - 1; e >= 0; e--) {
            if (++idx[e] < it->shape[e])
                break;
            idx[e] = 0;
        }
    }
    return MF_OK;
}

/* The flat offset of the slice that index tuple t (k entries) names in x, and its size. */
static mf_status tuple_offset(const char *op, const mf_type *xt, const void *idx, mf_dtype it, int64_t t, int64_t k,
                              int64_t first_dim, int64_t *slice, int64_t *off)
{
    *slice = 1;
    for (int d = (int)(first_dim + k); d < xt->rank; d++)
        *slice *= xt->shape[d];
    *off = 0;
    for (int64_t j = 0; j < k; j++) {
        int64_t v;
        mf_status s = in_range(op, index_at(idx, it, t * k + j), xt->shape[first_dim + j], &v);
        if (s)
            return s;
        *off = *off * xt->shape[first_dim + j] + v;
    }
    *off *= *slice;
    return MF_OK;
}

/* out = data; out[idx[t]...] (op)= updates[t...] for every tuple t. */
mf_status mf_ref_scatter_nd(const mf_ref_call *c)
{
    const mf_type *xt = &c->in_types[0], *it = &c->in_types[1];
    int64_t red = mf_attr_int(c->op, c->attrs, "reduction"), k = it->shape[it->rank - 1];
    int64_t tuples = k ? mf_type_numel(it) / k : 0;
    copy_data(c);
    for (int64_t t = 0; t < tuples; t++) {
        int64_t slice, off;
        mf_status s = tuple_offset("scatter_nd", xt, c->in[1], it->dtype, t, k, 0, &slice, &off);
        if (s)
            return s;
        for (int64_t e = 0; e < slice; e++)
            put(c, red, off + e, c->in[2], t * slice + e);
    }
    return MF_OK;
}

/* out[t...] = data[batch of t, idx[t]...]: the first batch_dims dims are shared. */
mf_status mf_ref_gather_nd(const mf_ref_call *c)
{
    const mf_type *xt = &c->in_types[0], *it = &c->in_types[1];
    int64_t b = mf_attr_int(c->op, c->attrs, "batch_dims"), k = it->shape[it->rank - 1];
    int64_t batches = 1, tuples = k ? mf_type_numel(it) / k : 0;
    for (int d = 0; d < b; d++)
        batches *= xt->shape[d];
    int64_t per_batch = batches ? tuples / batches : 0, batch_size = mf_type_numel(xt) / (batches ? batches : 1);
    size_t es = mf_dtype_size(xt->dtype);
    for (int64_t t = 0; t < tuples; t++) {
        int64_t slice, off;
        mf_status s = tuple_offset("gather_nd", xt, c->in[1], it->dtype, t, k, b, &slice, &off);
        if (s)
            return s;
        off += (per_batch ? t / per_batch : 0) * batch_size;
        memcpy((char *)c->out + (size_t)(t * slice) * es, (const char *)c->in[0] + (size_t)off * es,
               (size_t)slice * es);
    }
    return MF_OK;
}

/* out = 0; out.flat[idx[i]] = x[i]. */
mf_status mf_ref_max_unpool(const mf_ref_call *c)
{
    const mf_type *it = &c->in_types[1];
    int64_t n = mf_type_numel(it), total = mf_type_numel(c->out_type);
    memset(c->out, 0, mf_type_nbytes(c->out_type));
    for (int64_t i = 0; i < n; i++) {
        int64_t at;
        mf_status s = in_range("max_unpool", index_at(c->in[1], it->dtype, i), total, &at);
        if (s)
            return s;
        put(c, 0, at, c->in[0], i);
    }
    return MF_OK;
}
