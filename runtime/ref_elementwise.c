/* ref_elementwise.c — reference kernels of the elementwise ops: binary arithmetic with
 * numpy broadcasting, the activations and math functions, and inference batch norm.
 * All take and give f32, except the binary arithmetic, which takes every numeric dtype
 * (computed widened: integers wrap to their width, f16 and f64 compute in double); the
 * oracle for fused elementwise code and the CPU fallback. */
#include <math.h>

#include "runtime.h"

/* ---- binary ops with broadcasting --------------------------------------------------------- */

typedef enum bin_kind { BIN_ADD, BIN_MUL, BIN_DIV, BIN_POW, BIN_MIN, BIN_MAX, BIN_PRELU } bin_kind;

void mf_ref_broadcast_strides(const int64_t *shape, int shape_rank, int rank, int64_t *strides)
{
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        int ti = i - (rank - shape_rank);
        int64_t d = ti >= 0 ? shape[ti] : 1;
        strides[i] = d == 1 ? 0 : s;
        s *= d;
    }
}

void mf_ref_rows_begin(mf_ref_rows *w, const mf_type *ot, int nin, const mf_type *in)
{
    int rank = ot->rank;
    *w = (mf_ref_rows){.ot = ot, .nin = nin, .n = mf_type_numel(ot), .row = rank ? ot->shape[rank - 1] : 1};
    for (int k = 0; k < nin; k++) {
        mf_ref_broadcast_strides(in[k].shape, in[k].rank, rank, w->st[k]);
        w->step[k] = rank ? w->st[k][rank - 1] : 0;
    }
}

void mf_ref_rows_begin_strided(mf_ref_rows *w, const mf_type *ot, const int64_t *strides, int64_t base)
{
    mf_ref_rows_begin(w, ot, 0, NULL);
    w->nin = 1;
    w->off[0] = base;
    for (int d = 0; d < ot->rank; d++)
        w->st[0][d] = strides[d];
    w->step[0] = ot->rank ? strides[ot->rank - 1] : 0;
}

void mf_ref_part_rows(const mf_ref_call *c, int64_t rows, int64_t *lo, int64_t *hi)
{
    int64_t n = c->nparts > 1 ? c->nparts : 1, p = c->nparts > 1 ? c->part : 0;
    *lo = rows * p / n;
    *hi = rows * (p + 1) / n;
}

/* idx[0 .. rank-1) of output row `row` of ot (the odometer's digits over its outer dims). */
static void row_index(const mf_type *ot, int64_t row, int64_t *idx)
{
    for (int d = ot->rank - 2; d >= 0; d--) {
        idx[d] = row % ot->shape[d];
        row /= ot->shape[d];
    }
}

void mf_ref_rows_part(mf_ref_rows *w, const mf_ref_call *c)
{
    int64_t lo, hi;
    if (w->n == 0) /* no elements (a dim of 0 anywhere): nothing to share, no row to index */
        return;
    mf_ref_part_rows(c, w->n / w->row, &lo, &hi);
    w->done = lo * w->row;
    w->n = hi * w->row;
    row_index(w->ot, lo, w->idx);
    for (int k = 0; k < w->nin; k++)
        for (int d = 0; d < w->ot->rank - 1; d++)
            w->off[k] += w->idx[d] * w->st[k][d];
}

void mf_ref_rows_next(mf_ref_rows *w)
{
    w->done += w->row;
    for (int d = w->ot->rank - 2; d >= 0; d--) { /* the odometer over the outer dims */
        for (int k = 0; k < w->nin; k++)
            w->off[k] += w->st[k][d];
        if (++w->idx[d] < w->ot->shape[d])
            return;
        for (int k = 0; k < w->nin; k++)
            w->off[k] -= w->st[k][d] * w->idx[d];
        w->idx[d] = 0;
    }
}

/* One row of the output (its last dim), a and b stepping by sa and sb. */
static void binary_row(bin_kind k, float alpha, const float *a, int64_t sa, const float *b,
                       int64_t sb, float *o, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float x = a[i * sa], y = b[i * sb];
        switch (k) {
        case BIN_ADD: o[i] = x + alpha * y; break;
        case BIN_MUL: o[i] = x * y; break;
        case BIN_DIV: o[i] = x / y; break;
        case BIN_POW: o[i] = powf(x, y); break;
        case BIN_MIN: o[i] = isnan(x) || x < y ? x : y; break; /* NaN wins, as in numpy */
        case BIN_MAX: o[i] = isnan(x) || x > y ? x : y; break;
        case BIN_PRELU: o[i] = x < 0.0f ? x * y : x; break;
        }
    }
}

/* Integer a / b truncated toward zero; 0 for a zero divisor (no trap), and no overflow
 * at INT64_MIN / -1. */
static int64_t int_div(int64_t a, int64_t b)
{
    return b == 0 ? 0 : b == -1 ? (int64_t)(0 - (uint64_t)a) : a / b;
}

/* Integer x op y, wrapping (the store narrows to the output's width); pow through double. */
static int64_t int_binary(bin_kind k, double alpha, int64_t x, int64_t y)
{
    uint64_t ux = (uint64_t)x, uy = (uint64_t)y;
    switch (k) {
    case BIN_ADD: return alpha == 1 ? (int64_t)(ux + uy) : (int64_t)(ux - uy); /* alpha is 1 or -1 */
    case BIN_MUL: return (int64_t)(ux * uy);
    case BIN_DIV: return int_div(x, y);
    case BIN_MIN: return x < y ? x : y;
    case BIN_MAX: return x > y ? x : y;
    case BIN_PRELU: return x < 0 ? (int64_t)(ux * uy) : x;
    default: return 0; /* BIN_POW: in double, by wide_row */
    }
}

/* binary_row for dtypes other than f32: elements loaded widened (ir/type.c) and stored
 * with cast's rules into the output's dtype.  pow's exponent may be of another dtype. */
static void wide_row(const mf_ref_call *c, bin_kind k, double alpha, int64_t offa, int64_t sa,
                     int64_t offb, int64_t sb, int64_t done, int64_t n)
{
    mf_dtype da = c->in_types[0].dtype, db = c->in_types[1].dtype, dout = c->out_type->dtype;
    for (int64_t i = 0; i < n; i++) {
        mf_scalar x = mf_scalar_load(c->in[0], da, offa + i * sa), y = mf_scalar_load(c->in[1], db, offb + i * sb);
        mf_scalar r = {true, 0.0, 0};
        if (x.is_float || k == BIN_POW || (k == BIN_ADD && fabs(alpha) != 1)) {
            double a = mf_scalar_double(x), b = mf_scalar_double(y);
            switch (k) {
            case BIN_ADD: r.f = a + alpha * b; break;
            case BIN_MUL: r.f = a * b; break;
            case BIN_DIV: r.f = a / b; break;
            case BIN_POW: r.f = pow(a, b); break;
            case BIN_MIN: r.f = isnan(a) || a < b ? a : b; break;
            case BIN_MAX: r.f = isnan(a) || a > b ? a : b; break;
            case BIN_PRELU: r.f = a < 0 ? a * b : a; break;
            }
        } else {
            r = (mf_scalar){false, 0.0, int_binary(k, alpha, x.i, y.i)};
        }
        mf_scalar_store(c->out, dout, done + i, r);
    }
}

/* One binary_row per row of the output (mf_ref_rows). */
static mf_status binary(const mf_ref_call *c, bin_kind k, double alpha)
{
    bool wide = c->in_types[0].dtype != MF_F32 || c->in_types[1].dtype != MF_F32;
    const float *a = c->in[0], *b = c->in[1];
    float *o = c->out;
    mf_ref_rows w;
    for (mf_ref_rows_begin(&w, c->out_type, 2, c->in_types); w.done < w.n; mf_ref_rows_next(&w)) {
        if (wide)
            wide_row(c, k, alpha, w.off[0], w.step[0], w.off[1], w.step[1], w.done, w.row);
        else
            binary_row(k, (float)alpha, a + w.off[0], w.step[0], b + w.off[1], w.step[1], o + w.done, w.row);
    }
    return MF_OK;
}

mf_status mf_ref_add(const mf_ref_call *c)
{
    return binary(c, BIN_ADD, mf_attr_float(c->op, c->attrs, "alpha"));
}

mf_status mf_ref_sub(const mf_ref_call *c)
{
    return binary(c, BIN_ADD, -mf_attr_float(c->op, c->attrs, "alpha"));
}

/* The reference kernel of a binary op without attributes.  prelu(x, slope): the slope
 * broadcasts against x (one per channel, or one for all). */
MF_REF_VIA(mul, binary, BIN_MUL, 1.0)
MF_REF_VIA(div, binary, BIN_DIV, 1.0)
MF_REF_VIA(pow, binary, BIN_POW, 1.0)
MF_REF_VIA(minimum, binary, BIN_MIN, 1.0)
MF_REF_VIA(maximum, binary, BIN_MAX, 1.0)
MF_REF_VIA(prelu, binary, BIN_PRELU, 1.0)

/* ---- unary ops -------------------------------------------------------------------------- */

/* The float attributes a unary op may read, fetched once per call. */
typedef struct unary_params {
    float a, b;
} unary_params;

typedef float (*unary_fn)(float x, const unary_params *p);

/* f16 and f64 elements compute in f32 (their ops have no other kernel; within the
 * tolerance of every test), loaded and stored with cast's rules. */
static mf_status unary(const mf_ref_call *c, unary_fn fn, unary_params p)
{
    const float *x = c->in[0];
    float *o = c->out;
    int64_t n = mf_type_numel(c->out_type);
    mf_dtype dt = c->in_types[0].dtype;
    for (int64_t i = 0; i < n; i++) {
        if (dt == MF_F32)
            o[i] = fn(x[i], &p);
        else
            mf_scalar_store(c->out, dt, i, (mf_scalar){true, fn((float)mf_scalar_double(mf_scalar_load(x, dt, i)), &p), 0});
    }
    return MF_OK;
}

/* The reference kernel of a unary op without attributes: f_<name> on every element. */
#define UNARY_REF(name)                                   \
    mf_status mf_ref_##name(const mf_ref_call *c)         \
    {                                                     \
        return unary(c, f_##name, (unary_params){0});     \
    }

/* Comparisons written so that NaN passes through, as in PyTorch. */
static float f_relu(float x, const unary_params *p)
{
    return x < 0.0f ? 0.0f : x;
}

static float f_clamp(float x, const unary_params *p)
{
    return x < p->a ? p->a : x > p->b ? p->b : x;
}

static float f_leaky_relu(float x, const unary_params *p)
{
    return x > 0.0f ? x : x * p->a;
}

/* Never evaluates exp of a large positive number, so no overflow to inf/inf. */
static float f_sigmoid(float x, const unary_params *p)
{
    if (x >= 0.0f)
        return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

static float f_tanh(float x, const unary_params *p)
{
    return tanhf(x);
}

static float f_hardswish(float x, const unary_params *p)
{
    float r = x + 3.0f;
    r = r < 0.0f ? 0.0f : r > 6.0f ? 6.0f : r;
    return x * r / 6.0f;
}

static float f_hardsigmoid(float x, const unary_params *p)
{
    float r = p->a * x + p->b;
    return r < 0.0f ? 0.0f : r > 1.0f ? 1.0f : r;
}

static float f_exp(float x, const unary_params *p)
{
    return expf(x);
}

static float f_log(float x, const unary_params *p)
{
    return logf(x);
}

static float f_neg(float x, const unary_params *p)
{
    return -x;
}

static float f_abs(float x, const unary_params *p)
{
    return fabsf(x);
}

static float f_sqrt(float x, const unary_params *p)
{
    return sqrtf(x);
}

static float attr_f(const mf_ref_call *c, const char *name)
{
    return (float)mf_attr_float(c->op, c->attrs, name);
}

UNARY_REF(relu)

/* Integers clamp exactly, in double (min and max are whole numbers for them). */
mf_status mf_ref_clamp(const mf_ref_call *c)
{
    mf_dtype dt = c->in_types[0].dtype;
    if (mf_dtype_is_float(dt))
        return unary(c, f_clamp, (unary_params){attr_f(c, "min"), attr_f(c, "max")});
    double lo = mf_attr_float(c->op, c->attrs, "min"), hi = mf_attr_float(c->op, c->attrs, "max");
    for (int64_t i = 0; i < mf_type_numel(c->out_type); i++) {
        mf_scalar v = mf_scalar_load(c->in[0], dt, i);
        double x = (double)v.i;
        if (x < lo || x > hi)
            v = (mf_scalar){true, x < lo ? lo : hi, 0};
        mf_scalar_store(c->out, dt, i, v);
    }
    return MF_OK;
}

mf_status mf_ref_leaky_relu(const mf_ref_call *c)
{
    return unary(c, f_leaky_relu, (unary_params){attr_f(c, "negative_slope"), 0});
}

UNARY_REF(sigmoid)

UNARY_REF(tanh)

UNARY_REF(hardswish)

mf_status mf_ref_hardsigmoid(const mf_ref_call *c)
{
    return unary(c, f_hardsigmoid, (unary_params){attr_f(c, "alpha"), attr_f(c, "beta")});
}

UNARY_REF(exp)

UNARY_REF(log)

UNARY_REF(neg)

UNARY_REF(abs)

UNARY_REF(sqrt)

static float f_elu(float x, const unary_params *p)
{
    return x < 0.0f ? p->a * expm1f(x) : x;
}

static float f_reciprocal(float x, const unary_params *p)
{
    return 1.0f / x;
}

static float f_floor(float x, const unary_params *p)
{
    return floorf(x);
}

static float f_ceil(float x, const unary_params *p)
{
    return ceilf(x);
}

/* Halves go to the even neighbour (ONNX Round, numpy.round), whatever the rounding mode. */
static float f_round(float x, const unary_params *p)
{
    float r = roundf(x); /* halves away from zero */
    if (fabsf(x - truncf(x)) == 0.5f && fmodf(r, 2.0f) != 0.0f)
        r -= copysignf(1.0f, x);
    return r;
}

static float f_sign(float x, const unary_params *p)
{
    return x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : x; /* 0 and NaN stay */
}

static float f_erf(float x, const unary_params *p)
{
    return erff(x);
}

static float f_cos(float x, const unary_params *p)
{
    return cosf(x);
}

static float f_sin(float x, const unary_params *p)
{
    return sinf(x);
}

mf_status mf_ref_elu(const mf_ref_call *c)
{
    return unary(c, f_elu, (unary_params){attr_f(c, "alpha"), 0});
}

UNARY_REF(reciprocal)
UNARY_REF(floor)
UNARY_REF(ceil)
UNARY_REF(round)
UNARY_REF(sign)
UNARY_REF(erf)
UNARY_REF(cos)
UNARY_REF(sin)

/* ---- batch norm ------------------------------------------------------------------------- */

/* Inputs x, weight, bias, mean, var; over dim 1 of x [N, C, ...]:
 * (x - mean) / sqrt(var + eps) * weight + bias, all in double, rounded once. */
mf_status mf_ref_batch_norm(const mf_ref_call *c)
{
    const mf_type *xt = &c->in_types[0];
    const float *x = c->in[0], *w = c->in[1], *b = c->in[2], *mean = c->in[3], *var = c->in[4];
    float *o = c->out;
    double eps = mf_attr_float(c->op, c->attrs, "eps");
    int64_t n = xt->shape[0], ch = xt->shape[1], inner = 1;
    for (int i = 2; i < xt->rank; i++)
        inner *= xt->shape[i];
    for (int64_t k = 0; k < ch; k++) {
        double scale = (double)w[k] / sqrt((double)var[k] + eps);
        for (int64_t i = 0; i < n; i++) {
            int64_t base = (i * ch + k) * inner;
            for (int64_t j = 0; j < inner; j++)
                o[base + j] = (float)(((double)x[base + j] - mean[k]) * scale + b[k]);
        }
    }
    return MF_OK;
}

/* ---- the rest of ONNX's math functions and activations ---------------------------------- */

static float f_tan(float x, const unary_params *p)
{
    return tanf(x);
}

static float f_asin(float x, const unary_params *p)
{
    return asinf(x);
}

static float f_acos(float x, const unary_params *p)
{
    return acosf(x);
}

static float f_atan(float x, const unary_params *p)
{
    return atanf(x);
}

static float f_sinh(float x, const unary_params *p)
{
    return sinhf(x);
}

static float f_cosh(float x, const unary_params *p)
{
    return coshf(x);
}

static float f_asinh(float x, const unary_params *p)
{
    return asinhf(x);
}

static float f_acosh(float x, const unary_params *p)
{
    return acoshf(x);
}

static float f_atanh(float x, const unary_params *p)
{
    return atanhf(x);
}

/* log(1 + e^x) without overflow for large x. */
static float f_softplus(float x, const unary_params *p)
{
    return x > 20.0f ? x : log1pf(expf(x));
}

static float f_softsign(float x, const unary_params *p)
{
    return x / (1.0f + fabsf(x));
}

UNARY_REF(tan)
UNARY_REF(asin)
UNARY_REF(acos)
UNARY_REF(atan)
UNARY_REF(sinh)
UNARY_REF(cosh)
UNARY_REF(asinh)
UNARY_REF(acosh)
UNARY_REF(atanh)
UNARY_REF(softplus)
UNARY_REF(softsign)

/* a = alpha, b = gamma: gamma * (x > 0 ? x : alpha * (e^x - 1)). */
static float f_selu(float x, const unary_params *p)
{
    return p->b * (x > 0.0f ? x : p->a * expm1f(x));
}

static float f_thresholded_relu(float x, const unary_params *p)
{
    return x > p->a ? x : 0.0f;
}

/* max(0, x) + min(0, alpha * (e^(x / alpha) - 1)). */
static float f_celu(float x, const unary_params *p)
{
    return x > 0.0f ? x : p->a * expm1f(x / p->a);
}

/* a = bias, b = lambd: x outside [-lambd, lambd] moves toward 0 by bias, inside is 0. */
static float f_shrink(float x, const unary_params *p)
{
    return x < -p->b ? x + p->a : x > p->b ? x - p->a : 0.0f;
}

mf_status mf_ref_selu(const mf_ref_call *c)
{
    return unary(c, f_selu, (unary_params){attr_f(c, "alpha"), attr_f(c, "gamma")});
}

mf_status mf_ref_thresholded_relu(const mf_ref_call *c)
{
    return unary(c, f_thresholded_relu, (unary_params){attr_f(c, "alpha"), 0});
}

mf_status mf_ref_celu(const mf_ref_call *c)
{
    return unary(c, f_celu, (unary_params){attr_f(c, "alpha"), 0});
}

mf_status mf_ref_shrink(const mf_ref_call *c)
{
    return unary(c, f_shrink, (unary_params){attr_f(c, "bias"), attr_f(c, "lambd")});
}
