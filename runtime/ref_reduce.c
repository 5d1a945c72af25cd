/* ref_reduce.c — reference reductions: softmax and log_softmax over one dim (max
 * subtracted first, denominators in double) and sum/mean over a set of dims (all when the
 * set is empty) with or without keepdim.  The output's element order is the same either
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
    int64_t d = mf_attr_int(c->op, c->attrs, "dim");
    if (d < 0)
        d += t->rank;
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

/* Sums every input element into its output slot (double); mean divides by the count. */
static mf_status reduce_common(const mf_ref_call *c, bool mean)
{
    const mf_type *t = &c->in_types[0];
    int64_t ostride[MF_MAX_RANK], idx[MF_MAX_RANK] = {0};
    int64_t count = reduce_strides(c, ostride);
    int64_t on = mf_type_numel(c->out_type), n = mf_type_numel(t);
    double *acc = calloc((size_t)(on ? on : 1), sizeof(double));
    if (!acc)
        return mf_error(MF_ERR_NOMEM, "%s: out of memory for %lld accumulators",
                        mf_op_get(c->op)->name, (long long)on);
    const float *x = c->in[0];
    int64_t off = 0;
    for (int64_t i = 0; i < n; i++) {
        acc[off] += x[i];
        for (int d = t->rank - 1; d >= 0; d--) { /* odometer over the input */
            off += ostride[d];
            if (++idx[d] < t->shape[d])
                break;
            off -= ostride[d] * idx[d];
            idx[d] = 0;
        }
    }
    float *o = c->out;
    for (int64_t i = 0; i < on; i++)
        o[i] = (float)(mean ? acc[i] / (double)count : acc[i]);
    free(acc);
    return MF_OK;
}

mf_status mf_ref_sum(const mf_ref_call *c)
{
    return reduce_common(c, false);
}

mf_status mf_ref_mean(const mf_ref_call *c)
{
    return reduce_common(c, true);
}
