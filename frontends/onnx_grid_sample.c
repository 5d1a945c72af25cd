/* onnx_grid_sample.c — GridSample (opset 16: 4-D input) as the grid_sample op, its mode and
 * padding_mode strings mapped onto the op's codes. */
#include <string.h>

#include "onnx.h"

/* The index of s in names, or -1. */
static int index_of(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i]))
            return i;
    return -1;
}

mf_status onnx_cv_grid_sample(onnx_importer *im, const Onnx__NodeProto *n)
{
    static const char *const modes[3] = {"bilinear", "nearest", "bicubic"};
    static const char *const paddings[3] = {"zeros", "border", "reflection"};
    mf_value *in[2];
    mf_status s = onnx_inputs(im, n, 2, in);
    if (s)
        return s;
    char mb[32], pb[32];
    const char *mode = onnx_attr_str(n, "mode", "bilinear", mb, sizeof mb);
    const char *padding = onnx_attr_str(n, "padding_mode", "zeros", pb, sizeof pb);
    int m = index_of(mode, modes, 3), p = index_of(padding, paddings, 3);
    if (m < 0 || p < 0)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "mode '%s' or padding_mode '%s' (bilinear, nearest, bicubic; "
                               "zeros, border, reflection are supported)", mode, padding);
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_GRID_SAMPLE, a);
    mf_attr_set_int(MF_OP_GRID_SAMPLE, a, "mode", m);
    mf_attr_set_int(MF_OP_GRID_SAMPLE, a, "padding", p);
    mf_attr_set_int(MF_OP_GRID_SAMPLE, a, "align_corners", onnx_attr_int(n, "align_corners", 0));
    return onnx_emit(im, n, MF_OP_GRID_SAMPLE, 2, in, a);
}
