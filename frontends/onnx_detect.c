/* onnx_detect.c — the ONNX operators of detection models: RoiAlign (the roi_align op) and
 * NonMaxSuppression, whose output's length depends on the values of its inputs: it is
 * computed at import (mf_rt_nms) when boxes and scores are known, from constants or from
 * graph inputs bound with mf_onnx_load_bound, since shapes in mlufuse are static. */
#include <stdlib.h>
#include <string.h>

#include "onnx.h"

/* RoiAlign 10 and 16: X, rois, batch_indices.  Opset 16's coordinate_transformation_mode
 * (default half_pixel) is output_half_pixel in version 10, which has no such attribute. */
mf_status onnx_cv_roi_align(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *in[3];
    mf_status s = onnx_inputs(im, n, 3, in);
    if (s)
        return s;
    char mbuf[32], cbuf[32];
    const char *mode = onnx_attr_str(n, "mode", "avg", mbuf, sizeof mbuf);
    const char *coord = onnx_attr_str(n, "coordinate_transformation_mode",
                                      im->opset >= 16 ? "half_pixel" : "output_half_pixel", cbuf, sizeof cbuf);
    if (strcmp(mode, "avg") && strcmp(mode, "max"))
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "mode '%s' is neither avg nor max", mode);
    if (strcmp(coord, "half_pixel") && strcmp(coord, "output_half_pixel"))
        return onnx_node_error(n, MF_ERR_UNSUPPORTED,
                               "coordinate_transformation_mode '%s' is neither half_pixel nor output_half_pixel", coord);
    int64_t size[2] = {onnx_attr_int(n, "output_height", 1), onnx_attr_int(n, "output_width", 1)};
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_ROI_ALIGN, a);
    mf_attr_set_ints(MF_OP_ROI_ALIGN, a, "output", 2, size);
    mf_attr_set_int(MF_OP_ROI_ALIGN, a, "sampling_ratio", onnx_attr_int(n, "sampling_ratio", 0));
    mf_attr_set_float(MF_OP_ROI_ALIGN, a, "spatial_scale", onnx_attr_float(n, "spatial_scale", 1.0f));
    mf_attr_set_int(MF_OP_ROI_ALIGN, a, "mode", !strcmp(mode, "max"));
    mf_attr_set_int(MF_OP_ROI_ALIGN, a, "half_pixel", !strcmp(coord, "half_pixel"));
    return onnx_emit(im, n, MF_OP_ROI_ALIGN, 3, in, a);
}

/* Optional scalar input i of NonMaxSuppression as a double: *present false when absent. */
static mf_status nms_scalar(onnx_importer *im, const Onnx__NodeProto *n, size_t i, mf_dtype dt, double *out,
                            bool *present)
{
    mf_value *v;
    mf_status s = onnx_input(im, n, i, &v);
    *present = !s && v;
    if (s || !v)
        return s;
    if (!v->is_const || !v->data)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED,
                               "input %zu must be a constant (bind the graph input it comes from)", i);
    if (v->type.dtype != dt || mf_type_numel(&v->type) != 1)
        return onnx_node_error(n, MF_ERR_SHAPE, "input %zu must be one %s", i, mf_dtype_name(dt));
    *out = onnx_get_elem(v->data->data, dt, 0);
    return MF_OK;
}

/* NonMaxSuppression 10/11: boxes[B, N, 4], scores[B, C, N], and the optional
 * max_output_boxes_per_class (default 0: nothing selected), iou_threshold (0) and
 * score_threshold (none) -> selected_indices[K, 3] as i64 (batch, class, box). */
mf_status onnx_cv_non_max_suppression(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *in[2];
    mf_status s = onnx_inputs(im, n, 2, in);
    if (s)
        return s;
    const mf_type *bt = &in[0]->type, *st = &in[1]->type;
    if (bt->dtype != MF_F32 || st->dtype != MF_F32 || bt->rank != 3 || bt->shape[2] != 4 || st->rank != 3 ||
        st->shape[0] != bt->shape[0] || st->shape[2] != bt->shape[1])
        return onnx_node_error(n, MF_ERR_SHAPE, "expected f32 boxes[B, N, 4] and scores[B, C, N]");
    for (int i = 0; i < 2; i++)
        if (!in[i]->is_const || !in[i]->data)
            return onnx_node_error(n, MF_ERR_UNSUPPORTED,
                                   "how many boxes it selects depends on the values of %s, which must be a constant "
                                   "(bind the graph inputs it comes from: mf_onnx_load_bound)", i ? "scores" : "boxes");
    double max_out = 0, iou = 0, score = 0;
    bool present;
    mf_rt_nms_args a = {bt->shape[0], st->shape[1], bt->shape[1], 0, 0, false, 0,
                        onnx_attr_int(n, "center_point_box", 0) != 0};
    if ((s = nms_scalar(im, n, 2, MF_I64, &max_out, &present)) || (s = nms_scalar(im, n, 3, MF_F32, &iou, &present)) ||
        (s = nms_scalar(im, n, 4, MF_F32, &score, &a.has_score_threshold)))
        return s;
    a.max_per_class = max_out > (double)bt->shape[1] ? bt->shape[1] : (int64_t)max_out;
    a.iou_threshold = (float)iou, a.score_threshold = (float)score;
    int64_t *sel, count;
    if ((s = mf_rt_nms(&a, in[0]->data->data, in[1]->data->data, &sel, &count)))
        return onnx_node_error(n, s, "%s", mf_last_error());
    mf_type t = {MF_I64, 2, {count, 3}};
    s = onnx_define_const(im, n, &t, sel);
    free(sel);
    return s;
}
