/* generic_elementwise.c — tier 0's activations and residual add: straight loops over
 * contiguous f32 data that the compiler vectorizes for each ISA (target_clones), in place
 * of the reference kernels' per-element calls.  NaN passes through as in the reference. */
#include <math.h>

#include "generic.h"

#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

CLONES static void clamp_loop(const float *x, float *o, int64_t n, float lo, float hi)
{
    for (int64_t i = 0; i < n; i++)
        o[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
}

CLONES static void add_loop(const float *a, const float *b, float alpha, float *o, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        o[i] = a[i] + alpha * b[i];
}

mf_status mf_gen_relu(const mf_ref_call *c)
{
    clamp_loop(c->in[0], c->out, mf_type_numel(c->out_type), 0.0f, INFINITY);
    return MF_OK;
}

mf_status mf_gen_clamp(const mf_ref_call *c)
{
    float lo = (float)mf_attr_float(c->op, c->attrs, "min"), hi = (float)mf_attr_float(c->op, c->attrs, "max");
    clamp_loop(c->in[0], c->out, mf_type_numel(c->out_type), lo, hi);
    return MF_OK;
}

/* Operands of the output's own shape only (no broadcasting: that stays on the reference). */
mf_status mf_gen_add(const mf_ref_call *c)
{
    add_loop(c->in[0], c->in[1], (float)mf_attr_float(c->op, c->attrs, "alpha"), c->out,
             mf_type_numel(c->out_type));
    return MF_OK;
}
