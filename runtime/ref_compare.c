/* ref_compare.c — reference kernels of the ops on any dtype, elementwise with numpy
 * broadcasting: comparisons (a bool result), the logical ops on bools, where, mod, and the
 * isnan/isinf predicates.  Elements are read widened (floats as double, integers as int64)
 * so that every dtype compares exactly. */
#include <math.h>
#include <string.h>

#include "runtime.h"

typedef mf_scalar elem;

typedef enum cmp_kind { CMP_EQ, CMP_GT, CMP_LT, CMP_GE, CMP_LE, LOG_AND, LOG_OR, LOG_XOR, MOD_INT, MOD_FLOAT } cmp_kind;

int mf_ref_order(mf_scalar a, mf_scalar b, mf_dtype dt)
{
    if (a.is_float) {
        if (isnan(a.f) || isnan(b.f))
            return 2;
        return a.f < b.f ? -1 : a.f > b.f;
    }
    if (dt == MF_U64)
        return (uint64_t)a.i < (uint64_t)b.i ? -1 : (uint64_t)a.i > (uint64_t)b.i;
    return a.i < b.i ? -1 : a.i > b.i;
}

/* Python's modulo (the sign of the divisor) for integers; C's fmod for floats. */
static elem modulo(cmp_kind k, elem a, elem b)
{
    elem r = a;
    if (a.is_float) {
        r.f = fmod(a.f, b.f);
        if (k == MOD_INT && r.f != 0 && (r.f < 0) != (b.f < 0))
            r.f += b.f;
    } else if (b.i == 0) {
        r.i = 0; /* defined here: no trap on a zero divisor */
    } else if (b.i == -1) {
        r.i = 0; /* INT64_MIN % -1 would trap */
    } else {
        r.i = a.i % b.i;
        if (k == MOD_INT && r.i != 0 && (r.i < 0) != (b.i < 0))
            r.i += b.i;
    }
    return r;
}

#define F32_COMPARE(OP)                                                                                                \
    for (int64_t j = 0; j < row; j++)                                                                                  \
        o[j] = a[j * sa] OP b[j * sb];

/* A row of an f32 comparison as C compares floats: false wherever a NaN is, as
 * mf_ref_order's unordered result makes every comparison. */
static void compare_f32_row(cmp_kind k, const float *a, int64_t sa, const float *b, int64_t sb, uint8_t *o, int64_t row)
{
    switch (k) {
    case CMP_EQ: F32_COMPARE(==) break;
    case CMP_GT: F32_COMPARE(>) break;
    case CMP_LT: F32_COMPARE(<) break;
    case CMP_GE: F32_COMPARE(>=) break;
    default: F32_COMPARE(<=) break;
    }
}

/* Output element i of binary_any from a's element ia and b's element ib. */
static void binary_element(const mf_ref_call *c, cmp_kind k, int64_t ia, int64_t ib, int64_t i)
{
    const mf_type *ot = c->out_type, *at = &c->in_types[0], *bt = &c->in_types[1];
    elem a = mf_scalar_load(c->in[0], at->dtype, ia);
    elem b = mf_scalar_load(c->in[1], bt->dtype, ib);
    elem r = {false, 0.0, 0};
    int o = k <= CMP_LE ? mf_ref_order(a, b, at->dtype) : 0;
    switch (k) {
    case CMP_EQ: r.i = o == 0; break;
    case CMP_GT: r.i = o == 1; break;
    case CMP_LT: r.i = o == -1; break;
    case CMP_GE: r.i = o == 0 || o == 1; break;
    case CMP_LE: r.i = o == 0 || o == -1; break;
    case LOG_AND: r.i = a.i && b.i; break;
    case LOG_OR: r.i = a.i || b.i; break;
    case LOG_XOR: r.i = !a.i != !b.i; break;
    case MOD_INT:
    case MOD_FLOAT: r = modulo(k, a, b); break;
    }
    mf_scalar_store(c->out, ot->dtype, i, r);
}

/* A row (the output's last dim) at a time: the operands' row offsets and steps once a row,
 * f32 comparisons in C's own compares, everything else element by element, widened. */
static mf_status binary_any(const mf_ref_call *c, cmp_kind k)
{
    const mf_type *ot = c->out_type, *at = &c->in_types[0], *bt = &c->in_types[1];
    bool f32 = k <= CMP_LE && at->dtype == MF_F32 && bt->dtype == MF_F32 && ot->dtype == MF_BOOL;
    mf_ref_rows w;
    for (mf_ref_rows_begin(&w, ot, 2, c->in_types), mf_ref_rows_part(&w, c); w.done < w.n; mf_ref_rows_next(&w)) {
        if (f32) {
            compare_f32_row(k, (const float *)c->in[0] + w.off[0], w.step[0], (const float *)c->in[1] + w.off[1],
                            w.step[1], (uint8_t *)c->out + w.done, w.row);
            continue;
        }
        for (int64_t j = 0; j < w.row; j++)
            binary_element(c, k, w.off[0] + j * w.step[0], w.off[1] + j * w.step[1], w.done + j);
    }
    return MF_OK;
}

MF_REF_VIA(equal, binary_any, CMP_EQ)
MF_REF_VIA(greater, binary_any, CMP_GT)
MF_REF_VIA(less, binary_any, CMP_LT)
MF_REF_VIA(greater_equal, binary_any, CMP_GE)
MF_REF_VIA(less_equal, binary_any, CMP_LE)
MF_REF_VIA(logical_and, binary_any, LOG_AND)
MF_REF_VIA(logical_or, binary_any, LOG_OR)
MF_REF_VIA(logical_xor, binary_any, LOG_XOR)

mf_status mf_ref_mod(const mf_ref_call *c)
{
    return binary_any(c, mf_attr_int(c->op, c->attrs, "fmod") ? MOD_FLOAT : MOD_INT);
}

mf_status mf_ref_logical_not(const mf_ref_call *c)
{
    const uint8_t *x = c->in[0];
    uint8_t *o = c->out;
    for (int64_t i = 0, n = mf_type_numel(c->out_type); i < n; i++)
        o[i] = !x[i];
    return MF_OK;
}

mf_status mf_ref_isnan(const mf_ref_call *c)
{
    uint8_t *o = c->out;
    for (int64_t i = 0, n = mf_type_numel(c->out_type); i < n; i++)
        o[i] = isnan(mf_scalar_load(c->in[0], c->in_types[0].dtype, i).f) != 0;
    return MF_OK;
}

mf_status mf_ref_isinf(const mf_ref_call *c)
{
    uint8_t *o = c->out;
    bool neg = mf_attr_int(c->op, c->attrs, "detect_negative"), pos = mf_attr_int(c->op, c->attrs, "detect_positive");
    for (int64_t i = 0, n = mf_type_numel(c->out_type); i < n; i++) {
        double x = mf_scalar_load(c->in[0], c->in_types[0].dtype, i).f;
        o[i] = isinf(x) && (x > 0 ? pos : neg);
    }
    return MF_OK;
}

#define SELECT_LOOP(ES)                                                                                                \
    for (int64_t k = 0; k < row; k++)                                                                                  \
        memcpy(o + k * (int64_t)(ES), cr[k * sc] ? xr + k * sx * (int64_t)(ES) : yr + k * sy * (int64_t)(ES), ES);

/* where(cond, x, y): the bytes of x's or y's element, for every dtype; a row at a time. */
mf_status mf_ref_where(const mf_ref_call *c)
{
    size_t es = mf_dtype_size(c->out_type->dtype);
    mf_ref_rows w;
    for (mf_ref_rows_begin(&w, c->out_type, 3, c->in_types), mf_ref_rows_part(&w, c); w.done < w.n;
         mf_ref_rows_next(&w)) {
        const uint8_t *cr = (const uint8_t *)c->in[0] + w.off[0];
        const char *xr = (const char *)c->in[1] + (size_t)w.off[1] * es, *yr = (const char *)c->in[2] + (size_t)w.off[2] * es;
        char *o = (char *)c->out + (size_t)w.done * es;
        int64_t row = w.row, sc = w.step[0], sx = w.step[1], sy = w.step[2];
        MF_REF_BY_SIZE(es, SELECT_LOOP)
    }
    return MF_OK;
}

/* expand: every output element is x's element under broadcasting (any dtype); a row at a
 * time, the row x's row or its one element repeated. */
mf_status mf_ref_expand(const mf_ref_call *c)
{
    size_t es = mf_dtype_size(c->out_type->dtype);
    mf_ref_rows w;
    for (mf_ref_rows_begin(&w, c->out_type, 1, c->in_types), mf_ref_rows_part(&w, c); w.done < w.n;
         mf_ref_rows_next(&w))
        mf_ref_copy_strided((char *)c->out + (size_t)w.done * es, (const char *)c->in[0] + (size_t)w.off[0] * es, w.row,
                            w.step[0], es);
    return MF_OK;
}
