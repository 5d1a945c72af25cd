/* ref_det.c — the reference kernel of det: the determinant of each [M, M] matrix of the
 * last two dims, by Gaussian elimination with partial pivoting in double. */
#include <math.h>
#include <stdlib.h>

#include "runtime.h"

static double det_of(double *a, int64_t m)
{
    double det = 1.0;
    for (int64_t col = 0; col < m; col++) {
        int64_t p = col;
        for (int64_t r = col + 1; r < m; r++)
            if (fabs(a[r * m + col]) > fabs(a[p * m + col]))
                p = r;
        if (a[p * m + col] == 0.0)
            return 0.0;
        if (p != col) {
            for (int64_t j = 0; j < m; j++) {
                double t = a[col * m + j];
                a[col * m + j] = a[p * m + j], a[p * m + j] = t;
            }
            det = -det;
        }
        det *= a[col * m + col];
        for (int64_t r = col + 1; r < m; r++) {
            double f = a[r * m + col] / a[col * m + col];
            for (int64_t j = col; j < m; j++)
                a[r * m + j] -= f * a[col * m + j];
        }
    }
    return det;
}

mf_status mf_ref_det(const mf_ref_call *c)
{
    const mf_type *t = &c->in_types[0];
    int64_t m = t->shape[t->rank - 1], count = mf_type_numel(c->out_type);
    double *a = malloc(sizeof(double) * (size_t)(m > 0 ? m * m : 1));
    if (!a)
        return mf_error(MF_ERR_NOMEM, "det: out of memory for a %lld x %lld matrix", (long long)m, (long long)m);
    const float *x = c->in[0];
    float *o = c->out;
    for (int64_t k = 0; k < count; k++) {
        for (int64_t i = 0; i < m * m; i++)
            a[i] = x[k * m * m + i];
        o[k] = (float)det_of(a, m);
    }
    free(a);
    return MF_OK;
}
