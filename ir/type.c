/* type.c — dtypes and tensor types (dtype + shape): sizes, names, formatting, and the
 * f16 <-> f32 conversions used wherever half data is read or written. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ir.h"

static const struct {
    const char *name;
    size_t size;
} dtypes[MF_DTYPE_COUNT] = {
    [MF_F32] = {"f32", 4}, [MF_F16] = {"f16", 2}, [MF_I8] = {"i8", 1},
    [MF_I32] = {"i32", 4}, [MF_I64] = {"i64", 8}, [MF_BOOL] = {"bool", 1},
};

const char *mf_dtype_name(mf_dtype t)
{
    return (unsigned)t < MF_DTYPE_COUNT ? dtypes[t].name : "?";
}

size_t mf_dtype_size(mf_dtype t)
{
    return (unsigned)t < MF_DTYPE_COUNT ? dtypes[t].size : 0;
}

bool mf_dtype_from_name(const char *s, size_t len, mf_dtype *out)
{
    for (int i = 0; i < MF_DTYPE_COUNT; i++) {
        if (strlen(dtypes[i].name) == len && memcmp(dtypes[i].name, s, len) == 0) {
            *out = (mf_dtype)i;
            return true;
        }
    }
    return false;
}

bool mf_dtype_is_float(mf_dtype t)
{
    return t == MF_F32 || t == MF_F16;
}

bool mf_dtype_has_mlu_code(mf_dtype t)
{
    return t == MF_F32 || t == MF_I8;
}

/* The ops whose lowerings read and write i8 (codegen/expr.c, codegen/lower_qconv.c,
 * and max_pool2d, whose max of codes is the code of the max): an i8 value is its
 * integer code there, held in f32 lanes between load and store. */
static bool op_lowers_i8(mf_op op)
{
    switch (op) {
    case MF_OP_QUANTIZE:
    case MF_OP_DEQUANTIZE:
    case MF_OP_QCONV2D:
    case MF_OP_QLINEAR:
    case MF_OP_QADD:
    case MF_OP_MAX_POOL2D: return true;
    default: return mf_op_get(op)->kind == MF_KIND_VIEW;
    }
}

static bool value_lowers(const mf_node *n, const mf_value *v)
{
    mf_dtype t = v->type.dtype;
    return t == MF_F32 || (t == MF_I8 && op_lowers_i8(n->op));
}

bool mf_node_has_mlu_code(const mf_node *n)
{
    if (!mf_op_get(n->op)->has_mlu || !value_lowers(n, n->outputs[0]))
        return false;
    for (int i = 0; i < n->ninputs; i++)
        if (!value_lowers(n, n->inputs[i]))
            return false;
    return true;
}

int64_t mf_type_numel(const mf_type *t)
{
    for (int i = 0; i < t->rank; i++) /* [0, 2^40, 2^40] is empty: never multiply the rest */
        if (t->shape[i] == 0)
            return 0;
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= t->shape[i];
    return n;
}

size_t mf_type_nbytes(const mf_type *t)
{
    return (size_t)mf_type_numel(t) * mf_dtype_size(t->dtype);
}

mf_status mf_type_check(const mf_type *t, const char *what, int64_t *numel, size_t *nbytes)
{
    if (t->rank < 0 || t->rank > MF_MAX_RANK)
        return mf_error(MF_ERR_SHAPE, "%s: rank %d is outside 0..%d", what, t->rank, MF_MAX_RANK);
    if ((unsigned)t->dtype >= MF_DTYPE_COUNT)
        return mf_error(MF_ERR_DTYPE, "%s: unknown dtype %d", what, (int)t->dtype);
    int64_t limit = MF_MAX_TENSOR_BYTES / (int64_t)mf_dtype_size(t->dtype), n = 1;
    bool empty = false;
    for (int i = 0; i < t->rank; i++) {
        if (t->shape[i] < 0)
            return mf_error(MF_ERR_SHAPE, "%s: dimension %d is negative (%lld)", what, i,
                            (long long)t->shape[i]);
        empty |= t->shape[i] == 0;
    }
    /* A zero dimension makes the count 0, but code multiplies subsets of the others
     * (flatten, strides, planes): bound the product of max(d, 1), so every partial
     * product of any shape that passes fits. */
    for (int i = 0; i < t->rank; i++) {
        int64_t d = t->shape[i] ? t->shape[i] : 1;
        if (n > limit / d) {
            char buf[160];
            return mf_error(MF_ERR_SHAPE, "%s: %s is larger than %lld bytes", what,
                            mf_type_str(t, buf, sizeof buf), (long long)MF_MAX_TENSOR_BYTES);
        }
        n *= d;
    }
    if (empty)
        n = 0;
    if (numel)
        *numel = n;
    if (nbytes)
        *nbytes = (size_t)n * mf_dtype_size(t->dtype);
    return MF_OK;
}

bool mf_type_equal(const mf_type *a, const mf_type *b)
{
    if (a->dtype != b->dtype || a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->shape[i] != b->shape[i])
            return false;
    return true;
}

char *mf_type_str(const mf_type *t, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "%s[", mf_dtype_name(t->dtype));
    for (int i = 0; i < t->rank && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, i ? ",%lld" : "%lld", (long long)t->shape[i]);
    if (n < cap)
        snprintf(buf + n, cap - n, "]");
    return buf;
}

/* IEEE half conversions, round to nearest even; NaN and infinities preserved. */
float mf_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    float f;
    if (exp == 0)
        f = ldexpf((float)man, -24);
    else if (exp == 31)
        f = man ? NAN : INFINITY;
    else
        f = ldexpf((float)(man | 0x400), (int)exp - 25);
    uint32_t bits;
    memcpy(&bits, &f, 4);
    bits |= sign;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t mf_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t exp = (x >> 23) & 0xff, man = x & 0x7fffff;
    if (exp == 0xff)
        return sign | 0x7c00 | (man ? 0x200 : 0);
    int e = (int)exp - 127 + 15;
    if (e >= 31)
        return sign | 0x7c00;
    if (e <= 0) {
        if (e < -10)
            return sign;
        man |= 0x800000;
        int shift = 14 - e;
        uint32_t half = man >> shift, rest = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rest > mid || (rest == mid && (half & 1)))
            half++;
        return sign | (uint16_t)half;
    }
    uint32_t half = ((uint32_t)e << 10) | (man >> 13), rest = man & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (half & 1)))
        half++; /* may carry into the exponent, which is right */
    return sign | (uint16_t)half;
}
