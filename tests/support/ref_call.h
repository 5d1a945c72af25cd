/* ref_call.h — test helpers for calling reference kernels directly: build types and
 * attributes, infer the output type with mf_op_infer and run mf_rt_ref_kernel on host
 * arrays, seeded pseudo-random data (xorshift) and float comparison with a relative
 * tolerance.  Failures are reported through cmocka, so helpers need no status checks. */
#ifndef MF_TEST_REF_CALL_H
#define MF_TEST_REF_CALL_H

#include <stdint.h>

#include "runtime/runtime.h"

/* A type from a rank and shape array (shape NULL: all dims 0, to be filled in). */
mf_type tref_type(mf_dtype dt, int rank, const int64_t *shape);
#define TREF_NARGS(...) ((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))
/* TT(MF_F32, 2, 3) is f32[2,3]. */
#define TT(dt, ...) tref_type((dt), TREF_NARGS(__VA_ARGS__), (int64_t[]){__VA_ARGS__})

/* Sets attribute `name` of op in attrs, failing the test on an error. */
void tref_set_int(mf_op op, mf_attr *attrs, const char *name, int64_t v);
void tref_set_float(mf_op op, mf_attr *attrs, const char *name, double v);
void tref_set_ints(mf_op op, mf_attr *attrs, const char *name, int n, const int64_t *v);
#define TREF_INTS(op, attrs, name, ...)                                                  \
    tref_set_ints((op), (attrs), (name), TREF_NARGS(__VA_ARGS__), (int64_t[]){__VA_ARGS__})

/* Infers the output type into *out_type (asserting success), allocates the output (bytes
 * preset to 0xff, so an element the kernel forgets reads as NaN) and runs the reference
 * kernel, asserting MF_OK.  attrs NULL: the defaults.  The caller frees the result. */
void *tref_run(mf_op op, const mf_attr *attrs, int nin, const mf_type *types,
               const void *const *in, mf_type *out_type);

/* xorshift64*: deterministic for a seed on every machine. */
uint64_t tref_next(uint64_t *state);
/* Uniform in [lo, hi). */
double tref_uniform(uint64_t *state, double lo, double hi);
/* A malloc'd array of n floats uniform in [lo, hi) from seed. */
float *tref_rand(int64_t n, uint64_t seed, double lo, double hi);

/* Fails the test unless |got[i] - want[i]| <= rtol * |want[i]| + atol for every i (NaN
 * matches NaN, equal infinities match).  The message names the first bad index. */
void tref_assert_close_tol(const float *got, const double *want, int64_t n, double rtol,
                           double atol);
/* rtol 1e-5, atol 1e-6. */
void tref_assert_close(const float *got, const double *want, int64_t n);
#define TREF_EXPECT(got, ...)                                                            \
    tref_assert_close((got), (double[]){__VA_ARGS__},                                   \
                      (int64_t)(sizeof((double[]){__VA_ARGS__}) / sizeof(double)))

#endif /* MF_TEST_REF_CALL_H */
