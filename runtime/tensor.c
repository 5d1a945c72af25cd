/* tensor.c — tensors: a type, a device and a view into refcounted storage.  Creation,
 * seeded random data, copies between devices (the seed's .to(mlu) / .cpu()), views. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

static atomic_uint_fast64_t next_uid = 1;

static mf_status check_type(const char *what, mf_dtype dt, int rank, const int64_t *shape,
                            mf_type *t)
{
    if ((unsigned)dt >= MF_DTYPE_COUNT)
        return mf_error(MF_ERR_DTYPE, "%s: unknown dtype %d", what, (int)dt);
    if (rank < 0 || rank > MF_MAX_RANK)
        return mf_error(MF_ERR_SHAPE, "%s: rank %d is outside 0..%d", what, rank, MF_MAX_RANK);
    if (rank > 0 && !shape)
        return mf_error(MF_ERR_INVALID, "%s: shape is NULL for rank %d", what, rank);
    t->dtype = dt;
    t->rank = rank;
    memset(t->shape, 0, sizeof t->shape);
    for (int i = 0; i < rank; i++)
        t->shape[i] = shape[i];
    return mf_type_check(t, what, NULL, NULL);
}

static mf_tensor *wrap(const mf_type *t, mf_device dev, mf_buffer *storage, size_t offset)
{
    mf_tensor *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    atomic_init(&x->refs, 1);
    x->uid = atomic_fetch_add(&next_uid, 1);
    x->type = *t;
    x->device = dev;
    x->storage = storage;
    x->offset = offset;
    return x;
}

mf_status mf_rt_tensor_new(const mf_type *t, mf_device dev, mf_tensor **out)
{
    mf_buffer *b;
    size_t nbytes;
    mf_status s = mf_type_check(t, "tensor", NULL, &nbytes);
    if (s || (s = mf_rt_alloc(dev, nbytes, &b)))
        return s;
    mf_tensor *x = wrap(t, dev, b, 0);
    if (!x) {
        mf_buffer_release(b);
        return mf_error(MF_ERR_NOMEM, "out of memory creating a tensor");
    }
    *out = x;
    return MF_OK;
}

mf_status mf_rt_tensor_view(const mf_tensor *src, const mf_type *t, mf_tensor **out)
{
    if (mf_type_nbytes(t) != mf_type_nbytes(&src->type))
        return mf_error(MF_ERR_INTERNAL, "view of %zu bytes over %zu", mf_type_nbytes(t),
                        mf_type_nbytes(&src->type));
    mf_tensor *x = wrap(t, src->device, mf_buffer_retain(src->storage), src->offset);
    if (!x) {
        mf_buffer_release(src->storage);
        return mf_error(MF_ERR_NOMEM, "out of memory creating a tensor view");
    }
    *out = x;
    return MF_OK;
}

mf_status mf_tensor_empty(mf_dtype dt, int rank, const int64_t *shape, mf_device dev,
                          mf_tensor **out)
{
    mf_type t;
    if (!out)
        return mf_error(MF_ERR_INVALID, "tensor_empty: out is NULL");
    mf_status s = check_type("tensor_empty", dt, rank, shape, &t);
    return s ? s : mf_rt_tensor_new(&t, dev, out);
}

mf_status mf_tensor_zeros(mf_dtype dt, int rank, const int64_t *shape, mf_device dev,
                          mf_tensor **out)
{
    mf_status s = mf_tensor_empty(dt, rank, shape, dev, out);
    if (!s)
        memset(mf_rt_tensor_ptr(*out), 0, mf_type_nbytes(&(*out)->type));
    return s;
}

mf_status mf_tensor_from_data(mf_dtype dt, int rank, const int64_t *shape, const void *data,
                              size_t nbytes, mf_tensor **out)
{
    mf_type t;
    if (!out || (!data && nbytes))
        return mf_error(MF_ERR_INVALID, "tensor_from_data: %s is NULL", out ? "data" : "out");
    mf_status s = check_type("tensor_from_data", dt, rank, shape, &t);
    if (s)
        return s;
    if (nbytes != mf_type_nbytes(&t)) {
        char ts[128];
        return mf_error(MF_ERR_SHAPE, "tensor_from_data: %s needs %zu bytes, got %zu",
                        mf_type_str(&t, ts, sizeof ts), mf_type_nbytes(&t), nbytes);
    }
    s = mf_rt_tensor_new(&t, MF_DEVICE_CPU, out);
    if (!s && nbytes)
        memcpy(mf_rt_tensor_ptr(*out), data, nbytes);
    return s;
}

/* splitmix64 of (seed, index): counter-based, so any element is reproducible alone. */
static uint64_t mix(uint64_t seed, uint64_t i)
{
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + i + 0x632BE59BD9B4E019ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

mf_status mf_tensor_rand(mf_dtype dt, int rank, const int64_t *shape, uint64_t seed, double lo,
                         double hi, mf_device dev, mf_tensor **out)
{
    if (!out)
        return mf_error(MF_ERR_INVALID, "tensor_rand: out is NULL");
    if (!mf_dtype_is_float(dt))
        return mf_error(MF_ERR_DTYPE, "tensor_rand: dtype %s is not a float type",
                        mf_dtype_name(dt));
    /* the range's width finite, and within float unless the values are doubles (a double
     * past FLT_MAX converted to float is undefined) */
    double limit = dt == MF_F64 ? DBL_MAX : FLT_MAX;
    if (!(lo <= hi) || !(lo >= -limit && hi <= limit) || !isfinite(hi - lo))
        return mf_error(MF_ERR_INVALID, "tensor_rand: the range [%g, %g) is empty or not finite in %s", lo, hi,
                        mf_dtype_name(dt));
    mf_tensor *host;
    mf_status s = mf_tensor_empty(dt, rank, shape, MF_DEVICE_CPU, &host);
    if (s)
        return s;
    int64_t n = mf_type_numel(&host->type);
    void *data = mf_rt_tensor_ptr(host);
    for (int64_t i = 0; i < n; i++) {
        double u = (double)(mix(seed, (uint64_t)i) >> 11) * 0x1.0p-53, v = lo + (hi - lo) * u;
        if (dt == MF_F64)
            ((double *)data)[i] = v;
        else if (dt == MF_F32)
            ((float *)data)[i] = (float)v;
        else if (dt == MF_BF16)
            ((uint16_t *)data)[i] = mf_f32_to_bf16((float)v);
        else
            ((uint16_t *)data)[i] = mf_f32_to_f16((float)v);
    }
    if (dev.type == MF_CPU) {
        *out = host;
        return MF_OK;
    }
    s = mf_tensor_to(host, dev, out);
    mf_tensor_free(host);
    return s;
}

mf_status mf_tensor_to(const mf_tensor *t, mf_device dev, mf_tensor **out)
{
    if (!t || !out)
        return mf_error(MF_ERR_INVALID, "tensor_to: %s is NULL", t ? "out" : "tensor");
    mf_status s = mf_rt_tensor_new(&t->type, dev, out);
    if (s)
        return s;
    s = mf_rt_copy(mf_rt_tensor_ptr(*out), dev, mf_rt_tensor_ptr(t), t->device,
                   mf_type_nbytes(&t->type));
    if (s) {
        mf_tensor_free(*out);
        *out = NULL;
    }
    return s;
}

mf_tensor *mf_tensor_retain(mf_tensor *t)
{
    if (t)
        atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    return t;
}

void mf_tensor_free(mf_tensor *t)
{
    if (!t || atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
        return;
    mf_buffer_release(t->storage);
    free(t);
}

/* The accessors of a NULL tensor give what no tensor has (as mf_tensor_data does): rank and
 * dims -1, no shape, 0 elements and bytes, dtype MF_DTYPE_COUNT, device cpu:-1. */
mf_dtype mf_tensor_dtype(const mf_tensor *t) { return t ? t->type.dtype : MF_DTYPE_COUNT; }
int mf_tensor_rank(const mf_tensor *t) { return t ? t->type.rank : -1; }
const int64_t *mf_tensor_shape(const mf_tensor *t) { return t ? t->type.shape : NULL; }
int64_t mf_tensor_numel(const mf_tensor *t) { return t ? mf_type_numel(&t->type) : 0; }
size_t mf_tensor_nbytes(const mf_tensor *t) { return t ? mf_type_nbytes(&t->type) : 0; }
mf_device mf_tensor_device(const mf_tensor *t) { return t ? t->device : (mf_device){MF_CPU, -1}; }

int64_t mf_tensor_dim(const mf_tensor *t, int i)
{
    if (!t)
        return -1;
    if (i < 0)
        i += t->type.rank;
    return i >= 0 && i < t->type.rank ? t->type.shape[i] : -1;
}

const void *mf_tensor_data(const mf_tensor *t)
{
    return t && t->device.type == MF_CPU ? mf_rt_tensor_ptr(t) : NULL;
}

void *mf_tensor_data_mut(mf_tensor *t)
{
    return t && t->device.type == MF_CPU ? mf_rt_tensor_ptr(t) : NULL;
}

void mf_tensor_describe(const mf_tensor *t, char *buf, size_t cap)
{
    char ts[160];
    if (!t) {
        snprintf(buf, cap, "(null)");
        return;
    }
    snprintf(buf, cap, "%s@%s:%d", mf_type_str(&t->type, ts, sizeof ts),
             t->device.type == MF_CPU ? "cpu" : "mlu", t->device.index);
}
