/* ref_reduce.c — reference reductions: softmax and log_softmax over one dim (max
 * subtracted first, denominators in double) and sum/mean over a set of dims (all when the
 * set is empty) with or without keepdim, in every float dtype.  The output's element order is the same either
 * way, so keepdim only matters to the shape inference. */
#include <math.h>
#include <stdlib.h>

#include "runtime.h"

/* x viewed as [outer, len, inner] around dim d. */
static void split_at(const mf_type *t, int d, int64_t *outer, int64_t *len, int64_t *inner)
{
    *outer = *inner = 1;
    for (int i = 0; i < d; i++)
        *outer *= t->shape[i];
    *len = t->shape[d];
    for (int i = d + 1; i < t->rank; i++)
        *inner *= t->shape[i];
}

/* One softmax lane: len elements stepping by `step`. */
static void softmax_lane(const float *x, float *o, int64_t len, int64_t step, bool log_out)
{
    float m = -INFINITY;
    for (int64_t i = 0; i < len; i++)
        if (x[i * step] > m || isnan(x[i * step]))
            m = x[i * step];
    double sum = 0.0;
    for (int64_t i = 0; i < len; i++)
        sum += exp((double)x[i * step] - m);
    double lse = log(sum);
    for (int64_t i = 0; i < len; i++) {
        double z = (double)x[i * step] - m;
        o[i * step] = (float)(log_out ? z - lse : exp(z) / sum);
    }
}

static mf_status softmax_common(const mf_ref_call *c, bool log_out)
{
    const mf_type *t = &c->in_types[0];
    int d = mf_dim_of(c->op, c->attrs, t->rank);
    int64_t outer, len, inner;
    split_at(t, (int)d, &outer, &len, &inner);
    const float *x = c->in[0];
    float *o = c->out;
    for (int64_t a = 0; a < outer; a++)
        for (int64_t b = 0; b < inner; b++) {
            int64_t base = a * len * inner + b;
            softmax_lane(x + base, o + base, len, inner, log_out);
        }
    return MF_OK;
}

mf_status mf_ref_softmax(const mf_ref_call *c)
{
    return softmax_common(c, false);
}

mf_status mf_ref_log_softmax(const mf_ref_call *c)
{
    return softmax_common(c, true);
}

/* Output strides of each input dim: 0 for reduced dims.  Returns the reduced count. */
static int64_t reduce_strides(const mf_ref_call *c, int64_t *ostride)
{
    const mf_type *t = &c->in_types[0];
    mf_reduce_view v = mf_reduce_of(c->op, c->attrs, t->rank);
    int64_t s = 1, count = 1;
    for (int i = t->rank - 1; i >= 0; i--) {
        bool r = v.reduced[i];
        ostride[i] = r ? 0 : s;
        if (r)
            count *= t->shape[i];
        else
            s *= t->shape[i];
    }
    return count;
}

typedef enum reduce_kind {
    R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_SUM_SQUARE, R_LOG_SUM, R_LOG_SUM_EXP
} reduce_kind;

/* What each element adds to its slot, in double. */
static double fold_in(reduce_kind k, double acc, double x)
{
    switch (k) {
    case R_MAX: return isnan(acc) || isnan(x) ? NAN : x > acc ? x : acc;
    case R_MIN: return isnan(acc) || isnan(x) ? NAN : x < acc ? x : acc;
    case R_PROD: return acc * x;
    case R_L1: return acc + fabs(x);
    case R_L2:
    case R_SUM_SQUARE: return acc + x * x;
    case R_LOG_SUM_EXP: return acc + exp(x);
    default: return acc + x; /* sum, mean, log_sum */
    }
}

/* A slot's start (so an empty reduction gives ONNX's identity: 0, 1, -inf or inf) and its
 * end (count: the elements reduced into it). */
static double start_of(reduce_kind k)
{
    return k == R_MAX ? -INFINITY : k == R_MIN ? INFINITY : k == R_PROD ? 1.0 : 0.0;
}

static double finish(reduce_kind k, double acc, int64_t count)
{
    switch (k) {
    case R_MEAN: return acc / (double)count;
    case R_L2: return sqrt(acc);
    case R_LOG_SUM:
    case R_LOG_SUM_EXP: return log(acc);
    default: return acc;
    }
}

/* Folds every input element into its output slot (double), then finishes each slot. */
static mf_status reduce_common(const mf_ref_call *c, reduce_kind k)
{
    const mf_type *t = &c->in_types[0];
    int64_t ostride[MF_MAX_RANK], idx[MF_MAX_RANK] = {0};
    int64_t count = reduce_strides(c, ostride);
    int64_t on = mf_type_numel(c->out_type), n = mf_type_numel(t);
    double *acc = malloc(sizeof(double) * (size_t)(on ? on : 1));
    if (!acc)
        return mf_error(MF_ERR_NOMEM, "%s: out of memory for %lld accumulators",
                        mf_op_get(c->op)->name, (long long)on);
    for (int64_t i = 0; i < on; i++)
        acc[i] = start_of(k);
    const float *x = c->in[0];
    mf_dtype dt = t->dtype;
    int64_t off = 0;
    for (int64_t i = 0; i < n; i++) {
        acc[off] = fold_in(k, acc[off], dt == MF_F32 ? x[i] : mf_scalar_double(mf_scalar_load(x, dt, i)));
        for (int d = t->rank - 1; d >= 0; d--) { /* odometer over the input */
            off += ostride[d];
            if (++idx[d] < t->shape[d])
                break;
            off -= ostride[d] * idx[d];
            idx[d] = 0;
        }
    }
    for (int64_t i = 0; i < on; i++) /* f16 and f64 too: accumulated in double */
        mf_scalar_store(c->out, dt, i, (mf_scalar){true, finish(k, acc[i], count), 0});
    free(acc);
    return MF_OK;
}

MF_REF_VIA(sum, reduce_common, R_SUM)
MF_REF_VIA(mean, reduce_common, R_MEAN)
MF_REF_VIA(reduce_max, reduce_common, R_MAX)
MF_REF_VIA(reduce_min, reduce_common, R_MIN)
MF_REF_VIA(reduce_prod, reduce_common, R_PROD)
MF_REF_VIA(reduce_l1, reduce_common, R_L1)
MF_REF_VIA(reduce_l2, reduce_common, R_L2)
MF_REF_VIA(reduce_sum_square, reduce_common, R_SUM_SQUARE)
MF_REF_VIA(reduce_log_sum, reduce_common, R_LOG_SUM)
MF_REF_VIA(reduce_log_sum_exp, reduce_common, R_LOG_SUM_EXP)

/* argmax/argmin along one dim: the first (or with select_last_index the last) index of
 * the extreme value; a NaN is the extreme, as in numpy.  Every numeric dtype, compared
 * exactly (mf_ref_order). */
static mf_status arg_reduce(const mf_ref_call *c, bool max)
{
    const mf_type *t = &c->in_types[0];
    int d = mf_dim_of(c->op, c->attrs, t->rank);
    bool last = mf_attr_int(c->op, c->attrs, "select_last_index") != 0;
    int64_t outer, len, inner;
    split_at(t, d, &outer, &len, &inner);
    int64_t *o = c->out;
    for (int64_t a = 0; a < outer; a++)
        for (int64_t b = 0; b < inner; b++) {
            int64_t base = a * len * inner + b, best = 0;
            mf_scalar w = mf_scalar_load(c->in[0], t->dtype, base);
            for (int64_t k = 1; k < len; k++) {
                mf_scalar v = mf_scalar_load(c->in[0], t->dtype, base + k * inner);
                int ord = mf_ref_order(v, w, t->dtype);
                bool better = ord == 2 ? !isnan(w.f) : (max ? ord == 1 : ord == -1) || (last && ord == 0);
                if (better)
                    best = k, w = v;
            }
            o[a * inner + b] = best;
        }
    return MF_OK;
}

mf_status mf_ref_argmax(const mf_ref_call *c)
{
    return arg_reduce(c, true);
}

mf_status mf_ref_argmin(const mf_ref_call *c)
{
    return arg_reduce(c, false);
}
