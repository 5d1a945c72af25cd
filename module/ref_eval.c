/* ref_eval.c — the evaluator constant folding calls (passes/ cannot see runtime/): one op
 * on host data through its reference kernel, so folded constants are exactly what the
 * CPU fallback would compute. */
#include "module.h"
#include "runtime/runtime.h"

mf_status mf_mod_ref_eval(mf_op op, const mf_attr *attrs, int nin, const void *const *in,
                          const mf_type *in_types, void *out, const mf_type *out_type, void *ctx)
{
    (void)ctx;
    mf_ref_call c = {op, attrs, nin, in, in_types, out, out_type, 0, 1};
    mf_ref_fn fn = mf_rt_ref_kernel(op);
    if (!fn)
        return mf_error(MF_ERR_UNSUPPORTED, "fold: %s has no reference kernel", mf_op_get(op)->name);
    return fn(&c);
}
