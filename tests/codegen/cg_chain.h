/* cg_chain.h — shared by the fused-chain codegen tests (test_cg_expand_dw.c,
 * test_cg_dw_project.c): a conv2d and an activation added to a graph, seeded random inputs,
 * a kernel run as one partition into a new output buffer, and fused == unfused.
 * Header-only, after cg_check.h. */
#ifndef MF_TEST_CG_CHAIN_H
#define MF_TEST_CG_CHAIN_H

#include "cg_check.h"

/* act: 0 none, 1 relu6 (clamp 0..6), 2 relu */
static mf_value *cg_activation(mf_graph *g, mf_value *y, int act)
{
    if (act == 2)
        return CG1(g, MF_OP_RELU, y);
    if (act != 1)
        return y;
    mf_attr c[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CLAMP, c);
    mf_attr_set_float(MF_OP_CLAMP, c, "min", 0.0);
    mf_attr_set_float(MF_OP_CLAMP, c, "max", 6.0);
    return cg_node(g, MF_OP_CLAMP, 1, &y, c);
}

/* op(x, w, b) of conv2d's attributes (conv2d, conv2d_blocks; b may be NULL), stride s and
 * padding p both ways */
__attribute__((unused)) static mf_value *cg_conv_op(mf_graph *g, mf_op op, mf_value *x, mf_value *w,
                                                    mf_value *b, int64_t s, int64_t p,
                                                    int64_t groups)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    int64_t st[2] = {s, s}, pd[2] = {p, p};
    mf_attr_set_ints(op, a, "stride", 2, st);
    mf_attr_set_ints(op, a, "padding", 2, pd);
    mf_attr_set_int(op, a, "groups", groups);
    mf_value *in[3] = {x, w, b};
    return cg_node(g, op, b ? 3 : 2, in, a);
}

__attribute__((unused)) static mf_value *
cg_conv2d(mf_graph *g, mf_value *x, mf_value *w, mf_value *b, int64_t s, int64_t p, int64_t groups)
{
    return cg_conv_op(g, MF_OP_CONV2D, x, w, b, s, p, groups);
}

/* Runs g's kernel for target t (one partition) on inputs in[], into a new output buffer. */
static float *cg_run_once(const mf_graph *g, void **in, const mf_cg_target *t)
{
    mf_cg_object obj;
    mf_kernel_fn fn = cg_build(g, &obj, t);
    float *out = malloc(mf_type_nbytes(&g->outputs[0]->type));
    void *args[20] = {out}; /* the output, up to 16 inputs, the kernel's scratch slot */
    assert_true(g->ninputs <= 16);
    for (int i = 0; i < g->ninputs; i++)
        args[1 + i] = in[i];
    fn(args, 0, 1);
    mf_cg_object_free(&obj);
    return out;
}

/* Seeded random f32 data in [-1, 1) of v's shape; *keep owns it. */
static float *cg_rand_of(const mf_value *v, uint64_t seed, mf_tensor **keep)
{
    assert_int_equal(
        mf_tensor_rand(MF_F32, v->type.rank, v->type.shape, seed, -1, 1, MF_DEVICE_CPU, keep),
        MF_OK);
    return mf_tensor_data_mut(*keep);
}

/* Fused == unfused: the kernel of `all` (a chain as one kernel) against its two halves as two
 * kernels, `first` (all's first inputs, in order) then `second` (first's output, then all's
 * other inputs, in order), on seeded inputs, for target t: max|a - b| <= tol max|b|.  Takes
 * the three graphs. */
__attribute__((unused)) static void cg_check_split(mf_graph *all, mf_graph *first, mf_graph *second,
                                                   uint64_t seed, const mf_cg_target *t, double tol)
{
    mf_tensor *keep[16] = {0};
    void *in[16], *in2[16];
    assert_true(all->ninputs <= 16 && second->ninputs == all->ninputs - first->ninputs + 1);
    for (int k = 0; k < all->ninputs; k++)
        in[k] = cg_rand_of(all->inputs[k], seed + 7 * (uint64_t)k, &keep[k]);
    float *fused = cg_run_once(all, in, t);
    float *mid = cg_run_once(first, in, t);
    in2[0] = mid;
    for (int k = 1; k < second->ninputs; k++)
        in2[k] = in[first->ninputs + k - 1];
    float *unfused = cg_run_once(second, in2, t);
    int64_t n = mf_type_numel(&all->outputs[0]->type);
    double *want = malloc(sizeof(double) * (size_t)n);
    for (int64_t j = 0; j < n; j++)
        want[j] = unfused[j];
    cg_assert_relmax(fused, want, n, tol);
    free(want);
    free(fused);
    free(mid);
    free(unfused);
    for (int k = 0; k < all->ninputs; k++)
        mf_tensor_free(keep[k]);
    mf_graph_destroy(all);
    mf_graph_destroy(first);
    mf_graph_destroy(second);
}

#endif
