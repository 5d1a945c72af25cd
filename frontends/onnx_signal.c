/* onnx_signal.c — ONNX's window functions (HannWindow, HammingWindow, BlackmanWindow):
 * generalized cosine windows w[k] = a0 - a1 cos(2 pi k / N) + a2 cos(4 pi k / N), with N
 * the size (periodic, the default) or size - 1 (symmetric).  The size must be known at
 * import (a constant, or a graph input bound with mf_onnx_load_bound or `mlufuse run
 * --bind`): the window is a constant, computed in double. */
#include <math.h>
#include <stdlib.h>

#include "onnx.h"

static mf_status cosine_window(onnx_importer *im, const Onnx__NodeProto *n, double a0, double a1, double a2)
{
    mf_value *size;
    mf_status s = onnx_inputs(im, n, 1, &size);
    if (s)
        return s;
    if (!size->is_const || !size->data || mf_type_numel(&size->type) != 1)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED,
                               "the size must be a constant scalar (the output's shape depends on it): bind it at import");
    double size_v = onnx_get_elem(size->data->data, size->type.dtype, 0);
    int64_t len = size_v >= 0 && size_v <= ONNX_FOLD_LIMIT * 256 ? (int64_t)size_v : -1;
    mf_type t = {MF_F32, 1, {len}};
    int64_t odt = onnx_attr_int(n, "output_datatype", 1);
    if (odt < 0 || odt > INT32_MAX || !onnx_dtype((int32_t)odt, &t.dtype))
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "output_datatype %lld is not supported", (long long)odt);
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
