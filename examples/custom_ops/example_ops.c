/* example_ops.c — a library of custom ops (declared in example_ops.txt) as a user writes
 * one: plain C functions with the calling convention of mlufuse_custom_ops.h, loaded with
 * --custom-ops example_ops.txt:libmf_example_custom_ops.so or mf_custom_ops_load().  Each
 * returns 0, or non-zero for input it does not take (mlufuse reports the value). */
#include <math.h>
#include <stdio.h>

#include "mlufuse/mlufuse_custom_ops.h"

static int64_t numel(int64_t rank, const int64_t *shape)
{
    int64_t n = 1;
    for (int64_t i = 0; i < rank; i++)
        n *= shape[i];
    return n;
}

/* y = x * sigmoid(beta * x), f32 only. */
int example_swish(MF_CUSTOM_TENSOR(float, y), MF_CUSTOM_TENSOR(const float, x), double beta)
{
    (void)y_rank, (void)y_shape, (void)y_dtype;
    if (x_dtype != MF_F32)
        return 1;
    for (int64_t i = 0, n = numel(x_rank, x_shape); i < n; i++)
        y[i] = x[i] / (1.0f + expf(-(float)beta * x[i]));
    return 0;
}

/* Offset into a tensor of shape (rank, shape), broadcast to the output's rank and dims,
 * of the output element with coordinates idx. */
static int64_t broadcast_offset(const int64_t *idx, int64_t out_rank, int64_t rank, const int64_t *shape)
{
    int64_t off = 0;
    for (int64_t i = 0; i < rank; i++) {
        int64_t c = idx[out_rank - rank + i];
        off = off * shape[i] + (shape[i] == 1 ? 0 : c);
    }
    return off;
}

/* lo = min(a, b), hi = max(a, b), broadcasting a and b (f32): the two-output op. */
int example_minmax(MF_CUSTOM_TENSOR(float, lo), MF_CUSTOM_TENSOR(float, hi), MF_CUSTOM_TENSOR(const float, a),
                   MF_CUSTOM_TENSOR(const float, b))
{
    (void)lo_dtype, (void)hi_rank, (void)hi_shape, (void)hi_dtype;
    if (a_dtype != MF_F32 || b_dtype != MF_F32)
        return 1;
    int64_t idx[MF_MAX_RANK] = {0};
    for (int64_t i = 0, n = numel(lo_rank, lo_shape); i < n; i++) {
        float va = a[broadcast_offset(idx, lo_rank, a_rank, a_shape)];
        float vb = b[broadcast_offset(idx, lo_rank, b_rank, b_shape)];
        lo[i] = va < vb ? va : vb;
        hi[i] = va < vb ? vb : va;
        for (int64_t d = lo_rank - 1; d >= 0 && ++idx[d] == lo_shape[d]; d--) /* next coordinates */
            idx[d] = 0;
    }
    return 0;
}

/* The shape rule of example_repeat_rows: dim 0 times `times` (scalar 0). */
int example_repeat_rows_shape(int nin, const mf_custom_shape *in, int nscalars, const double *scalars, int nout,
                              mf_custom_shape *out, char *why, size_t why_cap)
{
    (void)nin, (void)nscalars, (void)nout;
    if (scalars[0] < 1 || in[0].rank < 1) {
        snprintf(why, why_cap, "times must be at least 1 (is %g) and x must have a dim 0", scalars[0]);
        return 1;
    }
    out[0] = in[0];
    out[0].dims[0] = in[0].dims[0] * (int64_t)scalars[0];
    return 0;
}

/* y = x repeated `times` times along dim 0 (f32). */
int example_repeat_rows(MF_CUSTOM_TENSOR(float, y), MF_CUSTOM_TENSOR(const float, x), int64_t times)
{
    (void)y_rank, (void)y_shape, (void)y_dtype;
    if (x_dtype != MF_F32)
        return 1;
    int64_t n = numel(x_rank, x_shape);
    for (int64_t t = 0; t < times; t++)
        for (int64_t i = 0; i < n; i++)
            y[t * n + i] = x[i];
    return 0;
}

/* y = x * scale + shift, then max(y, 0) when relu (f32); scale comes from ONNX's alpha. */
int example_scale_shift(MF_CUSTOM_TENSOR(float, y), MF_CUSTOM_TENSOR(const float, x), double scale, double shift,
                        bool relu)
{
    (void)y_rank, (void)y_shape, (void)y_dtype;
    if (x_dtype != MF_F32)
        return 1;
    for (int64_t i = 0, n = numel(x_rank, x_shape); i < n; i++) {
        float v = x[i] * (float)scale + (float)shift;
        y[i] = relu && v < 0 ? 0 : v;
    }
    return 0;
}

/* y = x (f32), returning `code`: the op whose failure the tests provoke. */
int example_checked(MF_CUSTOM_TENSOR(float, y), MF_CUSTOM_TENSOR(const float, x), int64_t code)
{
    (void)y_rank, (void)y_shape, (void)y_dtype;
    if (x_dtype != MF_F32)
        return 1;
    for (int64_t i = 0, n = numel(x_rank, x_shape); i < n; i++)
        y[i] = x[i];
    return (int)code;
}
