/* op_views.c — typed views of an op's attributes, decoded once: the geometry of a
 * convolution or a pooling window, the dims of a reduction.  Inference, the reference
 * kernels and codegen read these structs instead of looking attributes up by name. */
#include <string.h>

#include "ir.h"

/* The attribute of op named name: it must be in the op's schema (a misspelt name is a
 * programming error, caught by the views' test for every op that has the view). */
static const mf_attr *attr(mf_op op, const mf_attr *attrs, const char *name)
{
    static const mf_attr none;
    int i = mf_op_attr_index(op, name);
    return i < 0 ? &none : &attrs[i];
}

/* Two ints of a, or dflt for both when a has none. */
static void pair(const mf_attr *a, int64_t dflt, int64_t out[2])
{
    out[0] = a->n >= 1 ? a->ints[0] : dflt;
    out[1] = a->n >= 2 ? a->ints[1] : out[0];
}

mf_conv2d_view mf_conv2d_of(mf_op op, const mf_attr *attrs)
{
    mf_conv2d_view v;
    pair(attr(op, attrs, "stride"), 1, v.stride);
    pair(attr(op, attrs, "padding"), 0, v.padding);
    pair(attr(op, attrs, "dilation"), 1, v.dilation);
    pair(attr(op, attrs, "output_padding"), 0, v.output_padding);
    v.groups = attr(op, attrs, "groups")->i;
    v.packed = attr(op, attrs, "packed")->i;
    v.taps_first = attr(op, attrs, "taps_first")->i;
    return v;
}

int64_t mf_matmul_packed(const mf_attr *attrs)
{
    return attrs ? attr(MF_OP_MATMUL, attrs, "packed")->i : 0;
}

/* The n ints of a into out[3 - n ..] (dflt where a has none), the leading dims dflt too. */
static void trailing3(const mf_attr *a, int n, int64_t dflt, int64_t out[3])
{
    for (int i = 0; i < 3; i++)
        out[i] = i >= 3 - n && a->n > i - (3 - n) ? a->ints[i - (3 - n)] : dflt;
}

mf_window_view mf_window_of(mf_op op, const mf_attr *attrs)
{
    mf_window_view v;
    const mf_attr *st = attr(op, attrs, "stride"), *pads = attr(op, attrs, "pads");
    int n = st->n < 1 ? 1 : st->n > 3 ? 3 : st->n;
    v.nsp = n;
    trailing3(attr(op, attrs, "kernel"), n, 1, v.kernel);
    trailing3(st, n, 1, v.stride);
    trailing3(attr(op, attrs, "dilation"), n, 1, v.dilation);
    trailing3(attr(op, attrs, "output_padding"), n, 0, v.output_padding);
    if (pads->n == 2 * n) {
        mf_attr end = *pads;
        memmove(end.ints, end.ints + n, sizeof end.ints[0] * (size_t)n);
        trailing3(pads, n, 0, v.pad_begin);
        trailing3(&end, n, 0, v.pad_end);
    } else {
        trailing3(attr(op, attrs, "padding"), n, 0, v.pad_begin);
        memcpy(v.pad_end, v.pad_begin, sizeof v.pad_end);
    }
    return v;
}

mf_pool2d_view mf_pool2d_of(mf_op op, const mf_attr *attrs)
{
    mf_pool2d_view v;
    pair(attr(op, attrs, "kernel"), 1, v.kernel);
    const mf_attr *st = attr(op, attrs, "stride");
    if (st->n) /* no stride given: the window steps by its own size */
        pair(st, 1, v.stride);
    else
        memcpy(v.stride, v.kernel, sizeof v.stride);
    pair(attr(op, attrs, "padding"), 0, v.padding);
    pair(attr(op, attrs, "dilation"), 1, v.dilation);
    v.ceil_mode = attr(op, attrs, "ceil_mode")->i != 0;
    v.count_include_pad = attr(op, attrs, "count_include_pad")->i != 0;
    return v;
}

mf_reduce_view mf_reduce_of(mf_op op, const mf_attr *attrs, int rank)
{
    mf_reduce_view v = {0};
    const mf_attr *dims = attr(op, attrs, "dims");
    v.keepdim = attr(op, attrs, "keepdim")->i != 0;
    for (int i = 0; i < rank; i++)
        v.reduced[i] = dims->n == 0; /* no dims: every dim */
    for (int i = 0; i < dims->n; i++) {
        int64_t d = dims->ints[i] < 0 ? dims->ints[i] + rank : dims->ints[i];
        if (d >= 0 && d < rank)
            v.reduced[d] = true;
    }
    return v;
}

int mf_dim_of(mf_op op, const mf_attr *attrs, int rank)
{
    int64_t d = attr(op, attrs, "dim")->i;
    if (d < 0)
        d += rank;
    return d >= 0 && d < rank ? (int)d : -1;
}
