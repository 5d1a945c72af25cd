/* ref_bit_shift.c — the reference kernel of bit_shift: unsigned integers shifted left or
 * right by the (broadcast) second input; a shift by the width or more gives 0. */
#include "runtime.h"

mf_status mf_ref_bit_shift(const mf_ref_call *c)
{
    const mf_type *ot = c->out_type;
    bool left = mf_attr_int(c->op, c->attrs, "left") != 0;
    unsigned width = (unsigned)mf_dtype_size(ot->dtype) * 8;
    int64_t sa[MF_MAX_RANK + 1], sb[MF_MAX_RANK + 1], idx[MF_MAX_RANK] = {0}, n = mf_type_numel(ot);
    mf_ref_broadcast_strides(c->in_types[0].shape, c->in_types[0].rank, ot->rank, sa);
    mf_ref_broadcast_strides(c->in_types[1].shape, c->in_types[1].rank, ot->rank, sb);
    for (int64_t i = 0; i < n; i++) {
        int64_t a = 0, b = 0;
        for (int d = 0; d < ot->rank; d++)
            a += idx[d] * sa[d], b += idx[d] * sb[d];
        uint64_t x = (uint64_t)mf_scalar_load(c->in[0], ot->dtype, a).i;
        uint64_t k = (uint64_t)mf_scalar_load(c->in[1], ot->dtype, b).i;
        uint64_t r = k >= width ? 0 : left ? x << k : x >> k;
        mf_scalar_store(c->out, ot->dtype, i, (mf_scalar){false, 0.0, (int64_t)r});
        for (int d = ot->rank - 1; d >= 0; d--) {
            if (++idx[d] < ot->shape[d])
                break;
            idx[d] = 0;
        }
    }
    return MF_OK;
}
