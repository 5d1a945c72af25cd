/* onnx_signal.c — ONNX's window functions (HannWindow, HammingWindow, BlackmanWindow):
 * generalized cosine windows w[k] = a0 - a1 cos(2 pi k / N) + a2 cos(4 pi k / N), with N
 * the size (periodic, the default) or size - 1 (symmetric); and MelWeightMatrix, the
 * triangular filters of a mel filterbank.  Their scalar inputs must be known at import (a
 * constant, or a graph input bound with mf_onnx_load_bound or `mlufuse run --bind`): the
 * output is a constant, computed in double. */
#include <math.h>
#include <stdlib.h>

#include "onnx.h"

/* Input i of n, a known scalar, as a double. */
static mf_status known_scalar(onnx_importer *im, const Onnx__NodeProto *n, size_t i,
                              const char *what, double *out)
{
    mf_value *v;
    mf_status s = onnx_input(im, n, i, &v);
    if (s)
        return s;
    if (!v || !v->is_const || !v->data || mf_type_numel(&v->type) != 1)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED,
                               "the %s must be a constant scalar (the output's shape depends on "
                               "it): bind it at import",
                               what);
    *out = onnx_get_elem(v->data->data, v->type.dtype, 0);
    return MF_OK;
}

/* The output_datatype attribute (default f32) as *dt. */
static mf_status output_dtype(const Onnx__NodeProto *n, mf_dtype *dt)
{
    int64_t odt = onnx_attr_int(n, "output_datatype", 1);
    if (odt < 0 || odt > INT32_MAX || !onnx_dtype((int32_t)odt, dt))
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "output_datatype %lld is not supported", (long long)odt);
    return MF_OK;
}

static mf_status cosine_window(onnx_importer *im, const Onnx__NodeProto *n, double a0, double a1,
                               double a2)
{
    double size_v;
    mf_status s = known_scalar(im, n, 0, "size", &size_v);
    if (s)
        return s;
    int64_t len = size_v >= 0 && size_v <= ONNX_FOLD_LIMIT * 256 ? (int64_t)size_v : -1;
    mf_type t = {MF_F32, 1, {len}};
    if ((s = output_dtype(n, &t.dtype)))
        return s;
    if (len < 0)
        return onnx_node_error(n, MF_ERR_INVALID, "a window of %g elements", size_v);
    double N = onnx_attr_int(n, "periodic", 1) ? (double)len : (double)len - 1;
    unsigned char *w = malloc(mf_type_nbytes(&t) + 8);
    if (!w)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    for (int64_t k = 0; k < len; k++) {
        double x = 2 * M_PI * (double)k / N;
        onnx_set_elem(w, t.dtype, k, a0 - a1 * cos(x) + a2 * cos(2 * x));
    }
    s = onnx_define_const(im, n, &t, w);
    free(w);
    return s;
}

mf_status onnx_cv_hann_window(onnx_importer *im, const Onnx__NodeProto *n)
{
    return cosine_window(im, n, 0.5, 0.5, 0);
}

mf_status onnx_cv_hamming_window(onnx_importer *im, const Onnx__NodeProto *n)
{
    return cosine_window(im, n, 25.0 / 46, 21.0 / 46, 0);
}

mf_status onnx_cv_blackman_window(onnx_importer *im, const Onnx__NodeProto *n)
{
    return cosine_window(im, n, 0.42, 0.5, 0.08);
}

/* MelWeightMatrix 17 (num_mel_bins, dft_length, sample_rate, lower_edge_hertz,
 * upper_edge_hertz) -> [dft_length / 2 + 1, num_mel_bins]: num_mel_bins + 2 points evenly
 * spaced in mel from the lower to the upper edge (a step of the range over num_mel_bins + 2,
 * as ONNX's reference), mapped to DFT bins floor((dft_length + 1) f / sample_rate); filter i
 * rises from point i to point i + 1 and falls to point i + 2. */
mf_status onnx_cv_mel_weight_matrix(onnx_importer *im, const Onnx__NodeProto *n)
{
    static const char *what[5] = {"num_mel_bins", "dft_length", "sample_rate", "lower_edge_hertz",
                                  "upper_edge_hertz"};
    double v[5];
    mf_status s = MF_OK;
    for (size_t i = 0; i < 5 && !s; i++)
        s = known_scalar(im, n, i, what[i], &v[i]);
    mf_type t = {MF_F32, 2, {0}};
    if (s || (s = output_dtype(n, &t.dtype)))
        return s;
    int64_t mels = (int64_t)v[0], dft = (int64_t)v[1], bins = dft / 2 + 1;
    if (mels < 1 || dft < 1 || v[2] <= 0 || mels > ONNX_FOLD_LIMIT || bins > ONNX_FOLD_LIMIT)
        return onnx_node_error(n, MF_ERR_INVALID,
                               "%lld mel bins of a DFT of %lld at a sample rate of %g",
                               (long long)mels, (long long)dft, v[2]);
    t.shape[0] = bins, t.shape[1] = mels;
    int64_t *point = malloc(sizeof *point * (size_t)(mels + 2));
    double *w = calloc((size_t)(bins * mels), sizeof *w);
    unsigned char *out = malloc(mf_type_nbytes(&t) + 8);
    if (!point || !w || !out)
        s = mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    double low = 2595 * log10(1 + v[3] / 700), high = 2595 * log10(1 + v[4] / 700);
    double step = (high - low) / (double)(mels + 2);
    for (int64_t k = 0; k < mels + 2 && !s; k++)
        point[k] = (int64_t)floor((double)(dft + 1) *
                                  (700 * (pow(10, ((double)k * step + low) / 2595) - 1)) / v[2]);
    for (int64_t i = 0; i < mels && !s; i++) {
        int64_t left = point[i], center = point[i + 1], right = point[i + 2];
        for (int64_t j = left; j <= center; j++)
            if (j >= 0 && j < bins)
                w[j * mels + i] =
                    center == left ? 1.0 : (double)(j - left) / (double)(center - left);
        for (int64_t j = center; j < right; j++)
            if (j >= 0 && j < bins)
                w[j * mels + i] = (double)(right - j) / (double)(right - center);
    }
    for (int64_t k = 0; k < bins * mels && !s; k++)
        onnx_set_elem(out, t.dtype, k, w[k]);
    if (!s)
        s = onnx_define_const(im, n, &t, out);
    free(point);
    free(w);
    free(out);
    return s;
}
