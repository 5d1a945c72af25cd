/* ref_cast.c — the reference kernel of cast: every element converted from the input's
 * dtype to the dtype `to`, for every pair of dtypes, with no undefined behaviour:
 *   float to integer truncates toward zero and saturates at the integer's range (NaN
 *     gives 0), like LLVM's fptosi.sat;
 *   integer to a narrower integer wraps (two's complement), like PyTorch;
 *   anything to bool is x != 0 (NaN is true); bool reads as 0 or 1;
 *   to f32 and f16 rounds to nearest even (f16 through f32, exact for integers, since
 *     every integer within f16's range is exact in f32).
 * The same dtype is a plain copy (NaN payloads kept). */
#include <math.h>
#include <string.h>

#include "runtime.h"

typedef mf_ref_scalar scalar;

mf_ref_scalar mf_ref_load_scalar(const void *p, mf_dtype dt, int64_t k)
{
    scalar v = {false, 0.0, 0};
    switch (dt) {
    case MF_F32: v.is_float = true, v.f = ((const float *)p)[k]; break;
    case MF_F16: v.is_float = true, v.f = mf_f16_to_f32(((const uint16_t *)p)[k]); break;
    case MF_I8: v.i = ((const int8_t *)p)[k]; break;
    case MF_I32: v.i = ((const int32_t *)p)[k]; break;
    case MF_I64: v.i = ((const int64_t *)p)[k]; break;
    default: v.i = ((const uint8_t *)p)[k] != 0; break;
    }
    return v;
}

/* d truncated toward zero and clamped to [lo, hi]; NaN gives 0.  lo is a power of two
 * (exact in double); (double)hi may round up to -lo, which the >= test handles. */
static int64_t float_to_int(double d, int64_t lo, int64_t hi)
{
    if (isnan(d))
        return 0;
    if (d <= (double)lo)
        return lo;
    if (d >= (double)hi)
        return hi;
    return (int64_t)d;
}

/* The low `bits` bits of v as a two's complement signed integer (no implementation-
 * defined conversion: the arithmetic is on unsigned values). */
static int64_t wrap(int64_t v, int bits)
{
    uint64_t mask = (1ull << bits) - 1, u = (uint64_t)v & mask, sign = 1ull << (bits - 1);
    return u & sign ? -(int64_t)(mask - u) - 1 : (int64_t)u;
}

static int64_t to_int(scalar v, int bits, int64_t lo, int64_t hi)
{
    return v.is_float ? float_to_int(v.f, lo, hi) : bits < 64 ? wrap(v.i, bits) : v.i;
}

static float to_f32(scalar v)
{
    return v.is_float ? (float)v.f : (float)v.i;
}

static void store(void *p, mf_dtype dt, int64_t k, scalar v)
{
    switch (dt) {
    case MF_F32: ((float *)p)[k] = to_f32(v); break;
    case MF_F16: ((uint16_t *)p)[k] = mf_f32_to_f16(to_f32(v)); break;
    case MF_I8: ((int8_t *)p)[k] = (int8_t)to_int(v, 8, INT8_MIN, INT8_MAX); break;
    case MF_I32: ((int32_t *)p)[k] = (int32_t)to_int(v, 32, INT32_MIN, INT32_MAX); break;
    case MF_I64: ((int64_t *)p)[k] = to_int(v, 64, INT64_MIN, INT64_MAX); break;
    default: ((uint8_t *)p)[k] = v.is_float ? v.f != 0.0 : v.i != 0; break;
    }
}

mf_status mf_ref_cast(const mf_ref_call *c)
{
    mf_dtype from = c->in_types[0].dtype, to = c->out_type->dtype;
    int64_t n = mf_type_numel(c->out_type);
    if (from == to) {
        if (n)
            memcpy(c->out, c->in[0], mf_type_nbytes(c->out_type));
        return MF_OK;
    }
    for (int64_t k = 0; k < n; k++)
        store(c->out, to, k, mf_ref_load_scalar(c->in[0], from, k));
    return MF_OK;
}
