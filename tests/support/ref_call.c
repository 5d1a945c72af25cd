/* ref_call.c — test helpers for calling reference kernels directly (see ref_call.h): the
 * inference-then-kernel call sequence every reference-kernel test repeats, seeded random
 * data and float comparison. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ref_call.h"

mf_type tref_type(mf_dtype dt, int rank, const int64_t *shape)
{
    mf_type t = {.dtype = dt, .rank = rank};
    for (int i = 0; i < rank; i++)
        t.shape[i] = shape ? shape[i] : 0;
    return t;
}

void tref_set_int(mf_op op, mf_attr *attrs, const char *name, int64_t v)
{
    assert_int_equal(mf_attr_set_int(op, attrs, name, v), MF_OK);
}

void tref_set_float(mf_op op, mf_attr *attrs, const char *name, double v)
{
    assert_int_equal(mf_attr_set_float(op, attrs, name, v), MF_OK);
}

void tref_set_ints(mf_op op, mf_attr *attrs, const char *name, int n, const int64_t *v)
{
    assert_int_equal(mf_attr_set_ints(op, attrs, name, n, v), MF_OK);
}

void *tref_run(mf_op op, const mf_attr *attrs, int nin, const mf_type *types,
               const void *const *in, mf_type *out_type)
{
    mf_attr dflt[MF_MAX_ATTRS];
    if (!attrs) {
        mf_op_default_attrs(op, dflt);
        attrs = dflt;
    }
    mf_status s = mf_op_infer(op, attrs, nin, types, out_type);
    if (s)
        fail_msg("%s: inference failed: %s", mf_op_get(op)->name, mf_last_error());
    size_t nbytes = mf_type_nbytes(out_type);
    void *out = malloc(nbytes ? nbytes : 1);
    assert_non_null(out);
    memset(out, 0xff, nbytes);
    mf_ref_fn fn = mf_rt_ref_kernel(op);
    assert_non_null(fn);
    mf_ref_call call = {op, attrs, nin, in, types, out, out_type, 0, 1};
    s = fn(&call);
    if (s)
        fail_msg("%s: kernel failed: %s", mf_op_get(op)->name, mf_last_error());
    return out;
}

uint64_t tref_next(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

double tref_uniform(uint64_t *state, double lo, double hi)
{
    return lo + (hi - lo) * (double)(tref_next(state) >> 11) * 0x1.0p-53;
}

float *tref_rand(int64_t n, uint64_t seed, double lo, double hi)
{
    float *x = malloc(sizeof(float) * (size_t)(n ? n : 1));
    assert_non_null(x);
    uint64_t st = seed * 0x9e3779b97f4a7c15ull + 1;
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)tref_uniform(&st, lo, hi);
    return x;
}

static bool close_enough(double g, double w, double rtol, double atol)
{
    if (isnan(w))
        return isnan(g);
    if (isinf(w))
        return g == w;
    return fabs(g - w) <= rtol * fabs(w) + atol;
}

void tref_assert_close_tol(const float *got, const double *want, int64_t n, double rtol,
                           double atol)
{
    for (int64_t i = 0; i < n; i++)
        if (!close_enough(got[i], want[i], rtol, atol))
            fail_msg("element %lld: got %.9g, want %.9g (of %lld)", (long long)i,
                     (double)got[i], want[i], (long long)n);
}

void tref_assert_close(const float *got, const double *want, int64_t n)
{
    tref_assert_close_tol(got, want, n, 1e-5, 1e-6);
}
