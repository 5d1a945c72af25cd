/* cg_check.h — shared by the codegen tests: compile a subgraph (for the host or a named
 * target the host can run), load it, run it for every partition of nparts 1, 4 and 16,
 * and compare against the reference interpreter on seeded random inputs; the three runs
 * must agree bit for bit.  Header-only (static
 * functions) so that each test program stays one file plus this. */
#ifndef MF_TEST_CG_CHECK_H
#define MF_TEST_CG_CHECK_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "runtime/runtime.h"
#include "tests/support/ref_call.h"

typedef struct cg_opts {
    double lo, hi;      /* input range; 0,0: [-2, 2) */
    double rtol, atol;  /* 0,0: 1e-5, 1e-5 */
    uint64_t seed;
    const mf_cg_target *target; /* NULL: the host */
    double relmax;      /* > 0: compare max|got - want| / max|want| <= relmax instead */
    int cores;          /* the core_number the kernel is compiled for; 0: 1 */
} cg_opts;

static mf_value *cg_in(mf_graph *g, const char *name, mf_type t)
{
    mf_value *v = mf_graph_add_input(g, name, &t);
    assert_non_null(v);
    return v;
}

/* Adds node op(in...) with attrs (NULL: defaults) and returns its output. */
static mf_value *cg_node(mf_graph *g, mf_op op, int nin, mf_value *const *in, const mf_attr *a)
{
    mf_node *n = NULL;
    mf_status s = mf_graph_add_node(g, op, nin, in, a, &n);
    if (s)
        fail_msg("add_node %s: %s", mf_op_get(op)->name, mf_last_error());
    return n->outputs[0];
}

#define CG1(g, op, x) cg_node((g), (op), 1, (mf_value *[]){(x)}, NULL)
#define CG2(g, op, x, y) cg_node((g), (op), 2, (mf_value *[]){(x), (y)}, NULL)

static mf_kernel_fn cg_build_cores(const mf_graph *g, mf_cg_object *obj, const mf_cg_target *target, int cores)
{
    mf_cg_options o = {target, 3, cores};
    mf_status s = mf_cg_compile(g, &o, obj);
    if (s)
        fail_msg("compile: %s", mf_last_error());
    mf_kernel_fn fn = NULL;
    s = mf_cg_load(obj, &fn);
    if (s)
        fail_msg("load: %s", mf_last_error());
    return fn;
}

static inline mf_kernel_fn cg_build(const mf_graph *g, mf_cg_object *obj, const mf_cg_target *target)
{
    return cg_build_cores(g, obj, target, 0);
}

static void cg_run_parts(mf_kernel_fn fn, void *const *args, int64_t nparts)
{
    for (int64_t p = 0; p < nparts; p++)
        fn(args, p, nparts);
}

/* max|got - want| / max|want| <= tol (the seed's per-op 0.3 %); NaN only where the
 * reference has NaN. */
static void cg_assert_relmax(const float *got, const double *want, int64_t n, double tol)
{
    double dmax = 0, wmax = 0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(got[i]) || isnan(want[i])) { /* NaN where the reference has none: a lane left unwritten (0xff) */
            if (!(isnan(got[i]) && isnan(want[i])))
                fail_msg("element %lld is %g, want %g", (long long)i, (double)got[i], want[i]);
            continue;
        }
        if ((double)got[i] == want[i]) /* equal infinities too */
            continue;
        double d = fabs((double)got[i] - want[i]);
        if (d > dmax)
            dmax = d, at = i;
        if (fabs(want[i]) > wmax)
            wmax = fabs(want[i]);
    }
    if (n && !(dmax <= tol * (wmax > 0 ? wmax : 1)))
        fail_msg("max|got - want| = %g at %lld (got %g, want %g), max|want| = %g: over %g relative",
                 dmax, (long long)at, (double)got[at], want[at], wmax, tol);
}

/* Bytes after each output that the kernel must leave alone: its stores are JIT code, which
 * the sanitizers do not see (a flat plan's padded vector once stored 3 KB past the end). */
#define CG_GUARD_BYTES 65536

/* Runs g against the reference; returns nothing, fails the test on a mismatch or on a
 * store past an output's end. */
static void cg_check_opts(mf_graph *g, cg_opts o)
{
    if (o.lo == 0 && o.hi == 0)
        o.lo = -2, o.hi = 2;
    if (o.rtol == 0 && o.atol == 0)
        o.rtol = 1e-5, o.atol = 1e-5;
    int nin = g->ninputs, nout = g->noutputs;
    mf_tensor *in[32] = {0}, *ref[32] = {0};
    assert_true(nin <= 32 && nout <= 16);
    for (int i = 0; i < nin; i++) {
        const mf_type *t = &g->inputs[i]->type;
        assert_int_equal(mf_tensor_rand(MF_F32, t->rank, t->shape, o.seed + 7 * (uint64_t)i + 1,
                                        o.lo, o.hi, MF_DEVICE_CPU, &in[i]),
                         MF_OK);
    }
    if (mf_graph_interpret(g, nin, in, nout, ref))
        fail_msg("interpret: %s", mf_last_error());
    mf_cg_object obj;
    mf_kernel_fn fn = cg_build_cores(g, &obj, o.target, o.cores);
    void *args[64] = {0};
    float *first[16] = {0};
    static const int64_t parts[3] = {1, 4, 16};
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < nout; i++) { /* each output followed by a guard of 0xff bytes */
            size_t nb = mf_type_nbytes(&g->outputs[i]->type);
            args[i] = malloc(nb + CG_GUARD_BYTES);
            memset(args[i], 0xff, nb + CG_GUARD_BYTES);
        }
        for (int i = 0; i < nin; i++)
            args[nout + i] = mf_tensor_data_mut(in[i]);
        void *scratch = obj.scratch_bytes ? malloc(obj.scratch_bytes) : NULL;
        args[nout + nin] = scratch;
        cg_run_parts(fn, args, parts[k]);
        free(scratch);
        for (int i = 0; i < nout; i++) {
            size_t nb = mf_type_nbytes(&g->outputs[i]->type);
            for (size_t q = 0; q < CG_GUARD_BYTES; q++)
                if (((unsigned char *)args[i])[nb + q] != 0xff)
                    fail_msg("output %d written %zu bytes past its end (nparts %lld)", i, q,
                             (long long)parts[k]);
        }
        for (int i = 0; i < nout; i++) {
            int64_t n = mf_type_numel(&g->outputs[i]->type);
            if (k == 0) {
                const float *want = mf_tensor_data(ref[i]);
                double *w = malloc(sizeof(double) * (size_t)(n ? n : 1));
                for (int64_t j = 0; j < n; j++)
                    w[j] = want[j];
                if (o.relmax > 0)
                    cg_assert_relmax(args[i], w, n, o.relmax);
                else
                    tref_assert_close_tol(args[i], w, n, o.rtol, o.atol);
                free(w);
                first[i] = args[i];
            } else {
                if (memcmp(first[i], args[i], sizeof(float) * (size_t)n))
                    fail_msg("output %d differs between nparts 1 and %lld", i,
                             (long long)parts[k]);
                free(args[i]);
            }
        }
    }
    for (int i = 0; i < nout; i++)
        free(first[i]);
    for (int i = 0; i < nin; i++)
        mf_tensor_free(in[i]);
    for (int i = 0; i < nout; i++)
        mf_tensor_free(ref[i]);
    mf_cg_object_free(&obj);
}

__attribute__((unused)) static void cg_check(mf_graph *g)
{
    cg_check_opts(g, (cg_opts){0});
}

/* op (attributes a, NULL: the defaults) on one input of each of the n shapes, checked with
 * o (its seed plus the shape's index). */
__attribute__((unused)) static void cg_check_unary(mf_op op, const mf_attr *a, const mf_type *shapes, int n, cg_opts o)
{
    for (int i = 0; i < n; i++) {
        mf_graph *g = mf_graph_new("u");
        mf_value *x = cg_in(g, "x", shapes[i]);
        mf_value *y = cg_node(g, op, 1, &x, a);
        assert_int_equal(mf_graph_set_outputs(g, 1, &y), MF_OK);
        cg_opts oi = o;
        oi.seed = o.seed + (uint64_t)i;
        cg_check_opts(g, oi);
        mf_graph_destroy(g);
    }
}

#endif
