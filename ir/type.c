/* type.c — dtypes and tensor types (dtype + shape): sizes, names, formatting, one element
 * of any dtype widened (the load and store every mixed-dtype reader shares), and the
 * f16 <-> f32 conversions used wherever half data is read or written. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ir.h"

/* What every dtype is: its name in .mfir, its size, and for integers the range a value
 * saturates to (u64's upper bound is INT64_MAX: elements are widened to int64). */
static const struct {
    const char *name;
    size_t size;
    bool is_float;
    int64_t lo, hi;
} dtypes[MF_DTYPE_COUNT] = {
    [MF_F32] = {"f32", 4, true, 0, 0},
    [MF_F16] = {"f16", 2, true, 0, 0},
    [MF_F64] = {"f64", 8, true, 0, 0},
    [MF_BF16] = {"bf16", 2, true, 0, 0},
    [MF_I8] = {"i8", 1, false, INT8_MIN, INT8_MAX},
    [MF_I16] = {"i16", 2, false, INT16_MIN, INT16_MAX},
    [MF_I32] = {"i32", 4, false, INT32_MIN, INT32_MAX},
    [MF_I64] = {"i64", 8, false, INT64_MIN, INT64_MAX},
    [MF_U8] = {"u8", 1, false, 0, UINT8_MAX},
    [MF_U16] = {"u16", 2, false, 0, UINT16_MAX},
    [MF_U32] = {"u32", 4, false, 0, UINT32_MAX},
    [MF_U64] = {"u64", 8, false, 0, INT64_MAX},
    [MF_BOOL] = {"bool", 1, false, 0, 1},
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
    return (unsigned)t < MF_DTYPE_COUNT && dtypes[t].is_float;
}

void mf_dtype_int_range(mf_dtype t, int64_t *lo, int64_t *hi)
{
    *lo = dtypes[t].lo;
    *hi = dtypes[t].hi;
}

bool mf_dtype_has_mlu_code(mf_dtype t)
{
    return t == MF_F32 || t == MF_I8 || t == MF_F16;
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
    case MF_OP_QMATMUL:
    case MF_OP_QADD:
    case MF_OP_MAX_POOL2D: return true;
    default: return mf_op_get(op)->kind == MF_KIND_VIEW;
    }
}

/* f16 is a storage type: codegen loads it widened to f32 and stores it rounded, so the
 * casts between f32 and f16 and the views take it (a half model's activations in memory,
 * module/quant_half.c); every op computes in f32. */
static bool op_lowers_f16(const mf_node *n)
{
    if (n->op == MF_OP_CAST)
        return mf_dtype_is_float(n->inputs[0]->type.dtype) && mf_dtype_is_float(n->outputs[0]->type.dtype);
    return mf_op_get(n->op)->kind == MF_KIND_VIEW;
}

/* qconv2d / qlinear with acc=1 store their i32 sums as they are (no epilogue follows). */
static bool is_i32_sum(const mf_node *n, const mf_value *v)
{
    return (n->op == MF_OP_QCONV2D || n->op == MF_OP_QLINEAR) && v == n->outputs[0] &&
           mf_attr_int(n->op, n->attrs, "acc");
}

static bool value_lowers(const mf_node *n, const mf_value *v)
{
    mf_dtype t = v->type.dtype;
    return t == MF_F32 || (t == MF_I8 && op_lowers_i8(n->op)) || (t == MF_F16 && op_lowers_f16(n)) ||
           (t == MF_I32 && is_i32_sum(n, v));
}

bool mf_node_widens_half(const mf_node *n)
{
    return n->op == MF_OP_CAST && n->inputs[0]->type.dtype == MF_F16 && n->outputs[0]->type.dtype == MF_F32;
}

/* The activation operands of the f32 engines (codegen/lower_conv*.c, lower_matmul.c,
 * lower_winograd.c): their loads take f16 and widen. */
bool mf_node_loads_half(const mf_node *n, int i)
{
    switch (n->op) {
    case MF_OP_CONV2D:
    case MF_OP_WINOGRAD_INPUT: return i == 0;
    case MF_OP_LINEAR: return i < 2;
    case MF_OP_MATMUL: return i == 1;
    default: return false;
    }
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

/* ---- one element of any dtype, widened ------------------------------------------------ */

mf_scalar mf_scalar_load(const void *p, mf_dtype dt, int64_t k)
{
    mf_scalar v = {false, 0.0, 0};
    switch (dt) {
    case MF_F32: v.is_float = true, v.f = ((const float *)p)[k]; break;
    case MF_F16: v.is_float = true, v.f = mf_f16_to_f32(((const uint16_t *)p)[k]); break;
    case MF_F64: v.is_float = true, v.f = ((const double *)p)[k]; break;
    case MF_BF16: v.is_float = true, v.f = mf_bf16_to_f32(((const uint16_t *)p)[k]); break;
    case MF_I8: v.i = ((const int8_t *)p)[k]; break;
    case MF_I16: v.i = ((const int16_t *)p)[k]; break;
    case MF_I32: v.i = ((const int32_t *)p)[k]; break;
    case MF_I64: v.i = ((const int64_t *)p)[k]; break;
    case MF_U8: v.i = ((const uint8_t *)p)[k]; break;
    case MF_U16: v.i = ((const uint16_t *)p)[k]; break;
    case MF_U32: v.i = ((const uint32_t *)p)[k]; break;
    case MF_U64: memcpy(&v.i, (const uint64_t *)p + k, 8); break; /* its bits */
    default: v.i = ((const uint8_t *)p)[k] != 0; break;
    }
    return v;
}

double mf_scalar_double(mf_scalar v)
{
    return v.is_float ? v.f : (double)v.i;
}

/* d truncated toward zero and clamped to [lo, hi]; NaN gives 0.  lo is 0 or a power of two
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

/* The low `bits` bits of v, as a signed or unsigned integer (no implementation-defined
 * conversion: the arithmetic is on unsigned values). */
static int64_t wrap(int64_t v, int bits, bool is_signed)
{
    uint64_t mask = (1ull << bits) - 1, u = (uint64_t)v & mask, sign = 1ull << (bits - 1);
    return is_signed && (u & sign) ? -(int64_t)(mask - u) - 1 : (int64_t)u;
}

static int64_t to_int(mf_scalar v, mf_dtype dt)
{
    int bits = (int)dtypes[dt].size * 8;
    if (v.is_float)
        return float_to_int(v.f, dtypes[dt].lo, dtypes[dt].hi);
    return bits < 64 ? wrap(v.i, bits, dtypes[dt].lo < 0) : v.i;
}

/* An integer rounds to f32 once, never through a double (2^62 + 2^38 + 1 would tie). */
static float to_f32(mf_scalar v)
{
    return v.is_float ? (float)v.f : (float)v.i;
}

void mf_scalar_store(void *p, mf_dtype dt, int64_t k, mf_scalar v)
{
    int64_t i = dt == MF_BOOL || mf_dtype_is_float(dt) ? 0 : to_int(v, dt);
    switch (dt) {
    case MF_F32: ((float *)p)[k] = to_f32(v); break;
    case MF_F16: ((uint16_t *)p)[k] = mf_f32_to_f16(to_f32(v)); break;
    case MF_F64: ((double *)p)[k] = mf_scalar_double(v); break;
    case MF_BF16: ((uint16_t *)p)[k] = mf_f32_to_bf16(to_f32(v)); break;
    case MF_I8: ((int8_t *)p)[k] = (int8_t)i; break;
    case MF_I16: ((int16_t *)p)[k] = (int16_t)i; break;
    case MF_I32: ((int32_t *)p)[k] = (int32_t)i; break;
    case MF_I64: ((int64_t *)p)[k] = i; break;
    case MF_U8: ((uint8_t *)p)[k] = (uint8_t)i; break;
    case MF_U16: ((uint16_t *)p)[k] = (uint16_t)i; break;
    case MF_U32: ((uint32_t *)p)[k] = (uint32_t)i; break;
    case MF_U64: memcpy((uint64_t *)p + k, &i, 8); break;
    default: ((uint8_t *)p)[k] = v.is_float ? v.f != 0.0 : v.i != 0; break;
    }
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

/* bfloat16 is f32's top half: widening is exact; narrowing rounds to nearest even (as
 * PyTorch and ONNX from 1.14 do; onnx 1.12's reference data truncates), NaN stays NaN. */
float mf_bf16_to_f32(uint16_t h)
{
    uint32_t x = (uint32_t)h << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

uint16_t mf_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffff) > 0x7f800000)
        return (uint16_t)((x >> 16) | 0x40); /* a quiet NaN, never rounded to infinity */
    x += 0x7fff + ((x >> 16) & 1); /* may carry into the exponent, which is right */
    return (uint16_t)(x >> 16);
}
