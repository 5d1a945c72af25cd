/* ref_matmul.c — reference kernels of linear (y = x·wᵀ + b over any leading dims) and
 * matmul (torch.matmul: 1-D operands promoted, batch dims broadcast).  Dot products and
 * row accumulators are double, so the oracle's only rounding is the final store. */
#include <stdlib.h>

#include "runtime.h"

/* x [..., K], w [M, K], optional bias [M]: each output element is one contiguous dot. */
mf_status mf_ref_linear(const mf_ref_call *c)
{
    const mf_type *xt = &c->in_types[0], *wt = &c->in_types[1];
    const float *x = c->in[0], *w = c->in[1], *bias = c->nin > 2 ? c->in[2] : NULL;
    float *o = c->out;
    int64_t m = wt->shape[0], k = wt->shape[1];
    int64_t rows = k ? mf_type_numel(xt) / k : mf_type_numel(c->out_type) / (m ? m : 1);
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * k;
        for (int64_t j = 0; j < m; j++) {
            const float *wr = w + j * k;
            double acc = bias ? bias[j] : 0.0;
            for (int64_t i = 0; i < k; i++)
                acc += (double)xr[i] * wr[i];
            o[r * m + j] = (float)acc;
        }
    }
    return MF_OK;
}

/* An operand viewed as a batch of [rows, cols] matrices, 1-D ones promoted as in torch. */
typedef struct mat_view {
    int batch_rank;
    int64_t batch[MF_MAX_RANK];
    int64_t rows, cols;
} mat_view;

static mat_view as_matrices(const mf_type *t, bool is_left)
{
    mat_view v = {0};
    if (t->rank == 1) {
        v.rows = is_left ? 1 : t->shape[0];
        v.cols = is_left ? t->shape[0] : 1;
        return v;
    }
    v.batch_rank = t->rank - 2;
    for (int i = 0; i < v.batch_rank; i++)
        v.batch[i] = t->shape[i];
    v.rows = t->shape[t->rank - 2];
    v.cols = t->shape[t->rank - 1];
    return v;
}


/* o [n, p] = a [n, k] · b [k, p], accumulating each output row in acc (p doubles). */
static void gemm(const float *a, const float *b, float *o, int64_t n, int64_t k, int64_t p,
                 double *acc)
{
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < p; j++)
            acc[j] = 0.0;
        for (int64_t l = 0; l < k; l++) {
            double av = a[i * k + l];
            const float *br = b + l * p;
            for (int64_t j = 0; j < p; j++)
                acc[j] += av * br[j];
        }
        for (int64_t j = 0; j < p; j++)
            o[i * p + j] = (float)acc[j];
    }
}

mf_status mf_ref_matmul(const mf_ref_call *c)
{
    mat_view a = as_matrices(&c->in_types[0], true), b = as_matrices(&c->in_types[1], false);
    int rank = a.batch_rank > b.batch_rank ? a.batch_rank : b.batch_rank;
    int64_t sa[MF_MAX_RANK], sb[MF_MAX_RANK], shape[MF_MAX_RANK], nbatch = 1;
    mf_ref_broadcast_strides(a.batch, a.batch_rank, rank, sa); /* in matrices */
    mf_ref_broadcast_strides(b.batch, b.batch_rank, rank, sb);
    for (int i = 0; i < rank; i++) {
        int ia = i - (rank - a.batch_rank), ib = i - (rank - b.batch_rank);
        int64_t da = ia >= 0 ? a.batch[ia] : 1, db = ib >= 0 ? b.batch[ib] : 1;
        shape[i] = da == 1 ? db : da;
        nbatch *= shape[i];
    }
    double *acc = malloc(sizeof(double) * (size_t)(b.cols ? b.cols : 1));
    if (!acc)
        return mf_error(MF_ERR_NOMEM, "matmul: out of memory for a %lld-element row",
                        (long long)b.cols);
    const float *pa = c->in[0], *pb = c->in[1];
    float *o = c->out;
    int64_t asz = a.rows * a.cols, bsz = b.rows * b.cols, osz = a.rows * b.cols;
    int64_t packed = mf_matmul_packed(c->attrs);
    float *plain = NULL; /* a packed left operand (the pack-weights pass) read back in plain order */
    if (packed > 0 && asz > 0) {
        int64_t na = mf_type_numel(&c->in_types[0]) / asz;
        if (!(plain = malloc(sizeof(float) * (size_t)(na * asz)))) {
            free(acc);
            return mf_error(MF_ERR_NOMEM, "matmul: out of memory unpacking the left operand");
        }
        for (int64_t i = 0; i < na; i++)
            mf_conv_weights_unpack(pa + i * asz, plain + i * asz, a.rows, a.cols, packed);
        pa = plain;
    }
    for (int64_t t = 0; t < nbatch; t++) {
        int64_t rem = t, ia = 0, ib = 0; /* unravel t over the broadcast batch shape */
        for (int d = rank - 1; d >= 0; d--) {
            int64_t q = rem % shape[d];
            rem /= shape[d];
            ia += q * sa[d];
            ib += q * sb[d];
        }
        gemm(pa + ia * asz, pb + ib * bsz, o + t * osz, a.rows, a.cols, b.cols, acc);
    }
    free(plain);
    free(acc);
    return MF_OK;
}
