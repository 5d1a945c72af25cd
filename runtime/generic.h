/* generic.h — tier 0: shape-generic kernels compiled ahead of time into the library, with
 * every size passed at run time, so a model can run before (or without) any LLVM compile.
 * They are not the correctness reference (runtime/ref_*.c stays that): they are fast C —
 * packed, register-blocked f32 GEMM with one micro-kernel per ISA picked from cpuid at run
 * time — and each must match its reference kernel within the op tolerance. */
#ifndef MF_RUNTIME_GENERIC_H
#define MF_RUNTIME_GENERIC_H

#include "runtime.h"

/* C[M,N] = A[M,K] * B[K,N] (f32).  Element (i,k) of A is at A[i*rsa + k*csa] and (k,j) of B
 * at B[k*rsb + j*csb], so transposed operands need no copy; C is row-major with row
 * stride ldc.  Single-threaded; packs its operands into blocks sized for L1/L2 (the only
 * failure: no memory for them). */
mf_status mf_gen_sgemm(int64_t m, int64_t n, int64_t k, const float *a, int64_t rsa,
                       int64_t csa, const float *b, int64_t rsb, int64_t csb, float *c,
                       int64_t ldc);

/* Which GEMM micro-kernel this CPU runs: "avx512f", "avx2" or "generic" (for reports). */
const char *mf_gen_sgemm_isa(void);
/* Tests: makes every later GEMM use the named micro-kernel if this host runs it (true), so
 * each ISA's kernel is tested wherever it can run; NULL returns to the host's best. */
bool mf_gen_sgemm_use_isa(const char *name);

/* The tier-0 kernel of one call's op and types, or NULL when none fits (another dtype, a
 * layout it does not take): the caller then uses the reference kernel.  Same contract as
 * a reference kernel. */
mf_ref_fn mf_rt_generic_kernel(mf_op op, const mf_attr *attrs, int nin, const mf_type *in_types,
                               const mf_type *out_type);

mf_status mf_gen_conv2d(const mf_ref_call *c);
mf_status mf_gen_linear(const mf_ref_call *c);
mf_status mf_gen_matmul(const mf_ref_call *c);
mf_status mf_gen_relu(const mf_ref_call *c);
mf_status mf_gen_clamp(const mf_ref_call *c);
mf_status mf_gen_add(const mf_ref_call *c); /* same shapes only */

#endif
