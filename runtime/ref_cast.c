/* ref_cast.c — the reference kernel of cast: every element converted from the input's
 * dtype to the dtype `to`, for every pair of dtypes, with no undefined behaviour:
 *   float to integer truncates toward zero and saturates at the integer's range (NaN
 *     gives 0), like LLVM's fptosi.sat;
 *   integer to a narrower integer wraps (two's complement), like PyTorch;
 *   anything to bool is x != 0 (NaN is true); bool reads as 0 or 1;
 *   integer to an unsigned integer wraps modulo its range;
 *   to a float rounds to nearest even (f16 through f32, exact for integers, since
 *     every integer within f16's range is exact in f32).
 * The element rules live in ir/type.c (mf_scalar_store), shared with every mixed-dtype
 * reader.  The same dtype is a plain copy (NaN payloads kept). */
#include <string.h>

#include "runtime.h"

mf_status mf_ref_cast(const mf_ref_call *c)
{
    mf_dtype from = c->in_types[0].dtype, to = c->out_type->dtype;
    int64_t n = mf_type_numel(c->out_type);
    if (from == to) {
        if (n)
            memcpy(c->out, c->in[0], mf_type_nbytes(c->out_type));
        return MF_OK;
    }
    for (int64_t k = 0; k < n; k++)
        mf_scalar_store(c->out, to, k, mf_scalar_load(c->in[0], from, k));
    return MF_OK;
}
