/* onnx_cpu_ops.c — ONNX ops that map onto one mlufuse op without device code (their
 * reference kernels run on the CPU): BitShift, ScatterElements (and Scatter, its old name),
 * ScatterND, GatherND, Det, ReverseSequence, MaxUnpool, DFT, and STFT as frames gathered,
 * windowed and transformed. */
#include <stdlib.h>
#include <string.h>

#include "onnx.h"

/* Adds op(in) with attrs and defines n's first output. */
static mf_status emit_one(onnx_importer *im, const Onnx__NodeProto *n, mf_op op, int nin, mf_value *const *in,
                          const mf_attr *attrs)
{
    mf_value *y;
    mf_status s = onnx_add(im, n, op, nin, in, attrs, &y);
    return s ? s : onnx_define(im, n->output[0], y);
}

mf_status onnx_cv_bit_shift(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *in[2];
    char buf[8];
    mf_status s = onnx_inputs(im, n, 2, in);
    if (s)
        return s;
    const char *dir = onnx_attr_str(n, "direction", "", buf, sizeof buf);
    if (strcmp(dir, "LEFT") && strcmp(dir, "RIGHT"))
        return onnx_node_error(n, MF_ERR_INVALID, "direction '%s' (LEFT or RIGHT)", dir);
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_BIT_SHIFT, a);
    mf_attr_set_int(MF_OP_BIT_SHIFT, a, "left", !strcmp(dir, "LEFT"));
    return emit_one(im, n, MF_OP_BIT_SHIFT, 2, in, a);
}

/* The reduction attribute (opset 16, 18) as the op's code. */
static mf_status reduction_of(const Onnx__NodeProto *n, int64_t *code)
{
    static const char *const names[] = {"none", "add", "mul", "max", "min"};
    char buf[8];
    const char *r = onnx_attr_str(n, "reduction", "none", buf, sizeof buf);
    for (int64_t i = 0; i < 5; i++)
        if (!strcmp(r, names[i])) {
            *code = i;
            return MF_OK;
        }
    return onnx_node_error(n, MF_ERR_INVALID, "reduction '%s' (none, add, mul, max or min)", r);
}

/* A scatter of data, indices and updates with the node's reduction (and axis as dim). */
static mf_status scatter(onnx_importer *im, const Onnx__NodeProto *n, mf_op op)
{
    mf_value *in[3];
    int64_t red = 0;
    mf_status s = onnx_inputs(im, n, 3, in);
    if (!s)
        s = reduction_of(n, &red);
    if (s)
        return s;
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    mf_attr_set_int(op, a, "reduction", red);
    if (op == MF_OP_SCATTER_ELEMENTS)
        mf_attr_set_int(op, a, "dim", onnx_attr_int(n, "axis", 0));
    return emit_one(im, n, op, 3, in, a);
}

mf_status onnx_cv_scatter_elements(onnx_importer *im, const Onnx__NodeProto *n)
{
    return scatter(im, n, MF_OP_SCATTER_ELEMENTS);
}

mf_status onnx_cv_scatter_nd(onnx_importer *im, const Onnx__NodeProto *n)
{
    return scatter(im, n, MF_OP_SCATTER_ND);
}

mf_status onnx_cv_gather_nd(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *in[2];
    mf_status s = onnx_inputs(im, n, 2, in);
    if (s)
        return s;
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_GATHER_ND, a);
    mf_attr_set_int(MF_OP_GATHER_ND, a, "batch_dims", onnx_attr_int(n, "batch_dims", 0));
    return emit_one(im, n, MF_OP_GATHER_ND, 2, in, a);
}

mf_status onnx_cv_det(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x;
    mf_status s = onnx_inputs(im, n, 1, &x);
    return s ? s : emit_one(im, n, MF_OP_DET, 1, &x, NULL);
}

mf_status onnx_cv_reverse_sequence(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *in[2];
    mf_status s = onnx_inputs(im, n, 2, in);
    if (s)
        return s;
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_REVERSE_SEQUENCE, a);
    mf_attr_set_int(MF_OP_REVERSE_SEQUENCE, a, "batch_axis", onnx_attr_int(n, "batch_axis", 1));
    mf_attr_set_int(MF_OP_REVERSE_SEQUENCE, a, "time_axis", onnx_attr_int(n, "time_axis", 0));
    return emit_one(im, n, MF_OP_REVERSE_SEQUENCE, 2, in, a);
}

/* MaxUnpool(X, I, output_shape?): X scattered to the flat positions I of the pooling's
 * input, whose shape is (in - 1) * stride - pad_begin - pad_end + kernel; a known
 * output_shape that is larger pads that with zeros at the end of each dim (the positions
 * keep their coordinates, as in ONNX's reference). */
mf_status onnx_cv_max_unpool(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *in[2], *shape_in, *y;
    mf_status s = onnx_inputs(im, n, 2, in);
    if (!s)
        s = onnx_input(im, n, 2, &shape_in);
    if (s)
        return s;
    const mf_type *t = &in[0]->type;
    int64_t sizes[MF_MAX_RANK], want[MF_MAX_RANK], kernel[MF_MAX_RANK], strides[MF_MAX_RANK];
    int64_t pads[2 * MF_MAX_RANK] = {0};
    int k = 0, sp = t->rank - 2;
    if (sp < 1 || onnx_attr_ints(n, "kernel_shape", kernel, MF_MAX_RANK) != sp)
        return onnx_node_error(n, MF_ERR_INVALID, "kernel_shape must have %d entries", sp);
    for (int i = 0; i < sp; i++)
        strides[i] = 1;
    int ns = onnx_attr_ints(n, "strides", strides, MF_MAX_RANK), np = onnx_attr_ints(n, "pads", pads, 2 * MF_MAX_RANK);
    if ((ns != -1 && ns != sp) || (np != -1 && np != 2 * sp))
        return onnx_node_error(n, MF_ERR_INVALID, "strides or pads has the wrong number of entries");
    sizes[0] = t->shape[0], sizes[1] = t->shape[1];
    for (int i = 0; i < sp; i++) {
        bool ok = kernel[i] >= 1 && kernel[i] <= (1 << 16) && strides[i] >= 1 && strides[i] <= (1 << 16) &&
                  pads[i] >= 0 && pads[i] <= (1 << 16) && pads[sp + i] >= 0 && pads[sp + i] <= (1 << 16);
        if (!ok) /* dims are below 2^46: the size below stays under 2^63 */
            return onnx_node_error(n, MF_ERR_INVALID, "kernel_shape, strides or pads of dim %d is out of range", i);
        sizes[2 + i] = (t->shape[2 + i] - 1) * strides[i] - pads[i] - pads[sp + i] + kernel[i];
    }
    if (shape_in && (s = onnx_const_ints(n, shape_in, want, MF_MAX_RANK, &k)))
        return s;
    if (shape_in && k != t->rank)
        return onnx_node_error(n, MF_ERR_SHAPE, "output_shape has %d entries, expected %d", k, t->rank);
    mf_attr a[MF_MAX_ATTRS], pa[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_MAX_UNPOOL, a);
    mf_attr_set_ints(MF_OP_MAX_UNPOOL, a, "sizes", t->rank, sizes);
    if ((s = onnx_add(im, n, MF_OP_MAX_UNPOOL, 2, in, a, &y)))
        return s;
    if (shape_in) {
        int64_t grow[2 * MF_MAX_RANK] = {0};
        for (int i = 0; i < t->rank; i++)
            grow[t->rank + i] = want[i] - sizes[i];
        mf_op_default_attrs(MF_OP_PAD, pa);
        mf_attr_set_ints(MF_OP_PAD, pa, "pads", 2 * t->rank, grow);
        if ((s = onnx_add(im, n, MF_OP_PAD, 1, &y, pa, &y)))
            return s;
    }
    return onnx_define(im, n->output[0], y);
}

/* dft along dim of x with n's inverse and onesided. */
static void dft_attrs(const Onnx__NodeProto *n, int64_t dim, int64_t length, bool onesided, mf_attr *a)
{
    mf_op_default_attrs(MF_OP_DFT, a);
    mf_attr_set_int(MF_OP_DFT, a, "dim", dim);
    mf_attr_set_int(MF_OP_DFT, a, "inverse", onnx_attr_int(n, "inverse", 0));
    mf_attr_set_int(MF_OP_DFT, a, "onesided", onesided);
    mf_attr_set_int(MF_OP_DFT, a, "length", length);
}

/* DFT(input, dft_length?) with axis (default 1), inverse and onesided; dft_length known. */
mf_status onnx_cv_dft(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x;
    int64_t len;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (!s)
        s = onnx_scalar_input(im, n, 1, 0, &len);
    if (s)
        return s;
    mf_attr a[MF_MAX_ATTRS];
    dft_attrs(n, onnx_attr_int(n, "axis", 1), len, onnx_attr_int(n, "onesided", 0) != 0, a);
    return emit_one(im, n, MF_OP_DFT, 1, &x, a);
}

/* STFT(signal [B, len, 1|2], frame_step, window?, frame_length?): frames of frame_length
 * every frame_step (a gather of known positions), times the window, through dft along the
 * frame: [B, frames, bins, 2].  frame_step and frame_length must be known at import. */
mf_status onnx_cv_stft(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x, *win = NULL;
    int64_t step, flen;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (!s)
        s = onnx_input(im, n, 2, &win);
    if (!s)
        s = onnx_scalar_input(im, n, 1, 0, &step);
    if (!s)
        s = onnx_scalar_input(im, n, 3, win && win->type.rank == 1 ? win->type.shape[0] : 0, &flen);
    if (s)
        return s;
    const mf_type *t = &x->type;
    if (t->rank != 3 || step < 1 || flen < 1 || flen > t->shape[1])
        return onnx_node_error(n, MF_ERR_INVALID, "signal must be [B, len, 1 or 2], frame_step >= 1 and 1 <= frame_length <= len");
    int64_t frames = (t->shape[1] - flen) / step + 1;
    if (frames > ONNX_FOLD_LIMIT * 16 / flen)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "%lld frames of %lld", (long long)frames, (long long)flen);
    mf_type pt = {MF_I64, 2, {frames, flen}};
    int64_t *pos = malloc(sizeof(int64_t) * (size_t)(frames * flen));
    if (!pos)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    for (int64_t f = 0; f < frames; f++)
        for (int64_t j = 0; j < flen; j++)
            pos[f * flen + j] = f * step + j;
    mf_value *vpos = onnx_const(im, &pt, pos), *fr, *wr, *y;
    free(pos);
    if (!vpos)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    mf_attr g[MF_MAX_ATTRS], a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_GATHER, g);
    mf_attr_set_int(MF_OP_GATHER, g, "dim", 1);
    if ((s = onnx_add(im, n, MF_OP_GATHER, 2, (mf_value *[]){x, vpos}, g, &fr)))
        return s;
    if (win && ((s = onnx_reshape(im, n, win, 2, (int64_t[2]){flen, 1}, &wr)) ||
                (s = onnx_add2(im, n, MF_OP_MUL, fr, wr, &fr))))
        return s;
    dft_attrs(n, 2, 0, onnx_attr_int(n, "onesided", 1) != 0, a);
    if ((s = onnx_add(im, n, MF_OP_DFT, 1, &fr, a, &y)))
        return s;
    return onnx_define(im, n->output[0], y);
}
