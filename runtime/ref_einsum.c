/* ref_einsum.c — the reference kernel of einsum (ir/einsum_rnn.h): every combination of
 * the labels' values, the product of the operands' elements added into the output element
 * its output labels pick; double for float dtypes, wrapping int64 for integers. */
#include <stdlib.h>
#include <string.h>

#include "ir/einsum_rnn.h"
#include "runtime.h"

/* The element offset of operand (or output) labels at the labels' values, broadcasting
 * dims of 1. */
static int64_t offset_of(const int *labels, int rank, const int64_t *shape, const int64_t *value)
{
    int64_t off = 0;
    for (int p = 0; p < rank; p++)
        off = off * shape[p] + (shape[p] == 1 ? 0 : value[labels[p]]);
    return off;
}

mf_status mf_ref_einsum(const mf_ref_call *c)
{
    char why[256];
    mf_einsum_view v;
    int64_t size[MF_EINSUM_LABELS], value[MF_EINSUM_LABELS] = {0};
    if (!mf_einsum_of(c->attrs, c->nin, &v, why, sizeof why) || !mf_einsum_sizes(&v, c->in_types, size, why, sizeof why))
        return mf_error(MF_ERR_INVALID, "einsum: %s", why);
    int used[MF_EINSUM_LABELS], nused = 0;
    int64_t total = 1;
    for (int l = 0; l < MF_EINSUM_LABELS; l++)
        if (size[l] >= 0) {
            used[nused++] = l;
            total *= size[l];
        }
    mf_dtype dt = c->out_type->dtype;
    bool is_float = mf_dtype_is_float(dt);
    int64_t nout = mf_type_numel(c->out_type);
    double *accf = calloc((size_t)nout + 1, sizeof *accf);
    int64_t *acci = calloc((size_t)nout + 1, sizeof *acci);
    if (!accf || !acci) {
        free(accf);
        free(acci);
        return mf_error(MF_ERR_NOMEM, "einsum: out of memory");
    }
    for (int64_t k = 0; k < total; k++) {
        double pf = 1;
        uint64_t pi = 1;
        for (int i = 0; i < v.nin; i++) {
            mf_scalar x = mf_scalar_load(c->in[i], dt, offset_of(v.label[i], v.rank[i], c->in_types[i].shape, value));
            pf *= x.f;
            pi *= (uint64_t)x.i;
        }
        int64_t o = offset_of(v.out, v.out_rank, c->out_type->shape, value);
        accf[o] += pf;
        acci[o] = (int64_t)((uint64_t)acci[o] + pi);
        for (int u = nused - 1; u >= 0; u--) { /* the next combination, last label fastest */
            if (++value[used[u]] < size[used[u]])
                break;
            value[used[u]] = 0;
        }
    }
    for (int64_t o = 0; o < nout; o++)
        mf_scalar_store(c->out, dt, o, (mf_scalar){is_float, accf[o], acci[o]});
    free(accf);
    free(acci);
    return MF_OK;
}
