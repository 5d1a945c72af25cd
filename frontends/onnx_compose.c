/* onnx_compose.c — ONNX ops that are exact compositions of mlufuse ops (SpaceToDepth and
 * DepthToSpace as reshape-permute-reshape, OneHot as equal and where), or that fold on
 * known values: EyeLike (its input's static shape), Compress (a known condition: a gather)
 * and Unique (outputs whose shapes depend on the data: its input must be known at import,
 * bound with mf_onnx_load_bound or `mlufuse run --bind`); Neg, Abs and Sign of integers. */
#include <stdlib.h>
#include <string.h>

#include "onnx.h"

/* x [N, C, H, W] through reshape to `mid` (rank 6), permute by perm, reshape to `to`. */
static mf_status rearrange(onnx_importer *im, const Onnx__NodeProto *n, mf_value *x, const int64_t *mid,
                           const int64_t *perm, const int64_t *to)
{
    mf_value *a, *b, *c;
    mf_status s;
    if ((s = onnx_reshape(im, n, x, 6, mid, &a)) || (s = onnx_permute(im, n, a, 6, perm, &b)) ||
        (s = onnx_reshape(im, n, b, 4, to, &c)))
        return s;
    return onnx_define(im, n->output[0], c);
}

/* The [N, C, H, W] input and blocksize of SpaceToDepth / DepthToSpace. */
static mf_status block_input(onnx_importer *im, const Onnx__NodeProto *n, mf_value **x, int64_t *b)
{
    mf_status s = onnx_inputs(im, n, 1, x);
    if (s)
        return s;
    *b = onnx_attr_int(n, "blocksize", 0);
    if ((*x)->type.rank != 4)
        return onnx_node_error(n, MF_ERR_SHAPE, "the input has rank %d, expected 4", (*x)->type.rank);
    if (*b < 1 || *b > 1024) /* so that C * b * b never overflows */
        return onnx_node_error(n, MF_ERR_INVALID, "blocksize %lld is out of range", (long long)*b);
    return MF_OK;
}

mf_status onnx_cv_space_to_depth(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x;
    int64_t b;
    mf_status s = block_input(im, n, &x, &b);
    if (s)
        return s;
    const int64_t *d = x->type.shape;
    if (d[2] % b || d[3] % b)
        return onnx_node_error(n, MF_ERR_SHAPE, "H %lld and W %lld are not multiples of blocksize %lld",
                               (long long)d[2], (long long)d[3], (long long)b);
    int64_t mid[6] = {d[0], d[1], d[2] / b, b, d[3] / b, b}, perm[6] = {0, 3, 5, 1, 2, 4};
    int64_t to[4] = {d[0], d[1] * b * b, d[2] / b, d[3] / b};
    return rearrange(im, n, x, mid, perm, to);
}

/* DCR (the default) takes the block from the high channel bits, CRD from the low ones. */
mf_status onnx_cv_depth_to_space(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x;
    int64_t b;
    mf_status s = block_input(im, n, &x, &b);
    if (s)
        return s;
    const int64_t *d = x->type.shape;
    if (d[1] % (b * b))
        return onnx_node_error(n, MF_ERR_SHAPE, "%lld channels are not a multiple of blocksize^2 = %lld",
                               (long long)d[1], (long long)(b * b));
    char buf[8];
    const char *mode = onnx_attr_str(n, "mode", "DCR", buf, sizeof buf);
    int64_t c = d[1] / (b * b), to[4] = {d[0], c, d[2] * b, d[3] * b};
    if (!strcmp(mode, "CRD"))
        return rearrange(im, n, x, (int64_t[6]){d[0], c, b, b, d[2], d[3]}, (int64_t[6]){0, 1, 4, 2, 5, 3}, to);
    if (strcmp(mode, "DCR"))
        return onnx_node_error(n, MF_ERR_INVALID, "mode '%s' (DCR or CRD)", mode);
    return rearrange(im, n, x, (int64_t[6]){d[0], b, b, c, d[2], d[3]}, (int64_t[6]){0, 3, 4, 1, 5, 2}, to);
}

/* EyeLike: ones on the k-th diagonal of the input's 2-D shape, in `dtype` (default the
 * input's), folded: the shape is static. */
mf_status onnx_cv_eye_like(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (s)
        return s;
    mf_type t = x->type;
    const Onnx__AttributeProto *dt = onnx_attr(n, "dtype");
    if (dt && dt->has_i && (dt->i < INT32_MIN || dt->i > INT32_MAX || !onnx_dtype((int32_t)dt->i, &t.dtype)))
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "dtype %lld is not supported", (long long)dt->i);
    if (t.rank != 2)
        return onnx_node_error(n, MF_ERR_SHAPE, "the input has rank %d, expected 2", t.rank);
    int64_t k = onnx_attr_int(n, "k", 0);
    if (mf_type_numel(&t) > ONNX_FOLD_LIMIT * 256 || k < -MF_MAX_TENSOR_BYTES || k > MF_MAX_TENSOR_BYTES)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "an eye of %lld elements (k %lld) is not folded",
                               (long long)mf_type_numel(&t), (long long)k);
    unsigned char *data = calloc(1, mf_type_nbytes(&t) + 8);
    if (!data)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    for (int64_t i = 0; i < t.shape[0]; i++)
        if (i + k >= 0 && i + k < t.shape[1])
            onnx_set_elem(data, t.dtype, i * t.shape[1] + i + k, 1.0);
    s = onnx_define_const(im, n, &t, data);
    free(data);
    return s;
}

/* A constant input of n (data known at import), or an error naming it: these ops' output
 * shapes depend on it. */
static mf_status known_input(onnx_importer *im, const Onnx__NodeProto *n, size_t i, const char *what,
                             mf_value **v)
{
    mf_status s = onnx_input(im, n, i, v);
    if (s)
        return s;
    if (!*v || !(*v)->is_const || !(*v)->data)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED,
                               "%s must be a constant (the output's shape depends on it): bind it at import", what);
    return MF_OK;
}

/* OneHot(indices, depth, values): equal(indices mod depth, [0, depth)) on the axis inserted
 * at `axis`, then where(on, off): numpy's reference (negative indices count from the end).
 * depth and values must be known at import. */
mf_status onnx_cv_one_hot(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *idx, *depth, *values;
    mf_status s = onnx_inputs(im, n, 1, &idx);
    if (!s)
        s = known_input(im, n, 1, "depth", &depth);
    if (!s)
        s = known_input(im, n, 2, "values", &values);
    if (s)
        return s;
    int rank = idx->type.rank;
    double depth_v = mf_type_numel(&depth->type) == 1 ? onnx_get_elem(depth->data->data, depth->type.dtype, 0) : 0;
    int64_t axis = onnx_attr_int(n, "axis", -1), d = depth_v >= 1 && depth_v <= ONNX_FOLD_LIMIT ? (int64_t)depth_v : 0;
    if (axis < 0)
        axis += rank + 1;
    if (axis < 0 || axis > rank || rank + 1 > MF_MAX_RANK || mf_type_numel(&values->type) != 2 || d < 1)
        return onnx_node_error(n, MF_ERR_INVALID, "axis, depth %g or values is out of range", depth_v);
    int64_t ishape[MF_MAX_RANK], tshape[MF_MAX_RANK], *range = malloc(sizeof(int64_t) * (size_t)d);
    if (!range)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    for (int64_t i = 0; i < d; i++)
        range[i] = i;
    for (int i = 0, j = 0; i <= rank; i++) {
        ishape[i] = i == axis ? 1 : idx->type.shape[j++];
        tshape[i] = i == axis ? d : 1;
    }
    mf_type tt = {MF_I64, rank + 1, {0}};
    memcpy(tt.shape, tshape, sizeof tshape);
    mf_value *targets = onnx_const(im, &tt, range), *i64, *vd, *m, *mr, *eq, *on, *off;
    free(range);
    mf_dtype vt = values->type.dtype;
    const void *vdata = values->data->data;
    if (!targets)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    if ((s = onnx_cast(im, n, idx, MF_I64, &i64)) || (s = onnx_scalar(im, MF_I64, (double)d, &vd)) ||
        (s = onnx_add2(im, n, MF_OP_MOD, i64, vd, &m)) || (s = onnx_reshape(im, n, m, rank + 1, ishape, &mr)) ||
        (s = onnx_add2(im, n, MF_OP_EQUAL, mr, targets, &eq)) ||
        (s = onnx_scalar(im, vt, onnx_get_elem(vdata, vt, 1), &on)) ||
        (s = onnx_scalar(im, vt, onnx_get_elem(vdata, vt, 0), &off)))
        return s;
    mf_value *y, *in[3] = {eq, on, off};
    if ((s = onnx_add(im, n, MF_OP_WHERE, 3, in, NULL, &y)))
        return s;
    return onnx_define(im, n->output[0], y);
}

/* NonZero(x), x known: the indices of its nonzero elements in row-major order, i64
 * [rank, count] (a scalar counts as rank 1, as numpy does).  How many there are depends on
 * the data, so x must be known: a staged run (onnx_stage.c) knows it in a later stage. */
mf_status onnx_cv_non_zero(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x;
    mf_status s = known_input(im, n, 0, "the input", &x);
    if (s)
        return s;
    int rank = x->type.rank ? x->type.rank : 1;
    int64_t numel = mf_type_numel(&x->type), count = 0;
    for (int64_t i = 0; i < numel; i++)
        count += onnx_get_elem(x->data->data, x->type.dtype, i) != 0;
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)(count * rank + 1));
    if (!idx)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    for (int64_t i = 0, j = 0; i < numel; i++) {
        if (onnx_get_elem(x->data->data, x->type.dtype, i) == 0)
            continue;
        int64_t r = i; /* its row-major coordinates */
        for (int d = rank - 1; d >= 0; d--) {
            int64_t dim = x->type.rank ? x->type.shape[d] : 1;
            idx[d * count + j] = r % dim;
            r /= dim;
        }
        j++;
    }
    mf_type t = {MF_I64, 2, {rank, count}};
    s = onnx_define_const(im, n, &t, idx);
    free(idx);
    return s;
}

/* Compress(input, condition): the slices along axis (of the flattened input without one)
 * where the known condition is true: a gather of those positions. */
mf_status onnx_cv_compress(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x, *cond, *flat;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (!s)
        s = known_input(im, n, 1, "condition", &cond);
    if (s)
        return s;
    const Onnx__AttributeProto *ap = onnx_attr(n, "axis");
    int64_t axis = ap && ap->has_i ? ap->i : 0, numel = mf_type_numel(&x->type);
    if (!(ap && ap->has_i)) {
        if ((s = onnx_reshape(im, n, x, 1, &numel, &flat)))
            return s;
        x = flat;
    }
    if (axis < 0)
        axis += x->type.rank;
    if (axis < 0 || axis >= x->type.rank)
        return onnx_node_error(n, MF_ERR_INVALID, "axis %lld is out of range", (long long)axis);
    int64_t len = mf_type_numel(&cond->type), dim = x->type.shape[axis], count = 0;
    if (len > dim)
        return onnx_node_error(n, MF_ERR_SHAPE, "the condition has %lld entries for a dim of %lld", (long long)len,
                               (long long)dim);
    int64_t *pos = malloc(sizeof(int64_t) * (size_t)(len ? len : 1));
    if (!pos)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    for (int64_t i = 0; i < len; i++)
        if (onnx_get_elem(cond->data->data, cond->type.dtype, i) != 0)
            pos[count++] = i;
    mf_type it = {MF_I64, 1, {count}};
    mf_value *idx = onnx_const(im, &it, pos), *y;
    free(pos);
    if (!idx)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_GATHER, a);
    mf_attr_set_int(MF_OP_GATHER, a, "dim", axis);
    if ((s = onnx_add(im, n, MF_OP_GATHER, 2, (mf_value *[]){x, idx}, a, &y)))
        return s;
    return onnx_define(im, n->output[0], y);
}

/* ---- Unique, folded -------------------------------------------------------------------- */

/* The input seen as `items` slices (along axis, or single elements) of `width` elements:
 * element j of item k is at (j / inner) * stride + k * inner + j % inner. */
typedef struct unique_view {
    const void *data;
    mf_dtype dt;
    int64_t items, width, inner, stride;
} unique_view;

static double item_elem(const unique_view *u, int64_t k, int64_t j)
{
    return onnx_get_elem(u->data, u->dt, (j / u->inner) * u->stride + k * u->inner + j % u->inner);
}

/* Lexicographic order of items a and b (numpy.unique's, on slices). */
static int item_cmp(const unique_view *u, int64_t a, int64_t b)
{
    for (int64_t j = 0; j < u->width; j++) {
        double x = item_elem(u, a, j), y = item_elem(u, b, j);
        if (x != y)
            return x < y ? -1 : 1;
    }
    return 0;
}

/* The unique items' first positions in first (sorted, or in order of appearance), each
 * item's group in inverse, each group's size in counts; returns the group count. */
static int64_t unique_groups(const unique_view *u, bool sorted, int64_t *order, int64_t *first, int64_t *inverse,
                             int64_t *counts)
{
    for (int64_t i = 0; i < u->items; i++) { /* stable insertion sort: the first of equals stays first */
        int64_t k = i;
        while (k > 0 && item_cmp(u, order[k - 1], i) > 0)
            order[k] = order[k - 1], k--;
        order[k] = i;
    }
    int64_t g = 0;
    for (int64_t i = 0; i < u->items; i++) {
        if (i == 0 || item_cmp(u, order[i - 1], order[i]))
            first[g++] = order[i];
    }
    if (!sorted) /* groups in order of appearance: sort the firsts, renumber */
        for (int64_t i = 1; i < g; i++)
            for (int64_t k = i; k > 0 && first[k - 1] > first[k]; k--) {
                int64_t t = first[k];
                first[k] = first[k - 1], first[k - 1] = t;
            }
    for (int64_t i = 0; i < g; i++)
        counts[i] = 0;
    for (int64_t i = 0; i < u->items; i++) {
        int64_t k = 0;
        while (item_cmp(u, first[k], i))
            k++;
        inverse[i] = k;
        counts[k]++;
    }
    return g;
}

/* Defines Unique's four outputs (Y, indices, inverse_indices, counts) from the groups. */
static mf_status unique_outputs(onnx_importer *im, const Onnx__NodeProto *n, const unique_view *u, mf_type yt,
                                int axis, int64_t g, const int64_t *first, const int64_t *inverse,
                                const int64_t *counts)
{
    yt.shape[axis] = g;
    unsigned char *y = malloc(mf_type_nbytes(&yt) + 8);
    if (!y)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    for (int64_t k = 0; k < g; k++)
        for (int64_t j = 0; j < u->width; j++)
            onnx_set_elem(y, yt.dtype, (j / u->inner) * u->inner * g + k * u->inner + j % u->inner,
                          item_elem(u, first[k], j));
    mf_type gt = {MF_I64, 1, {g}}, it = {MF_I64, 1, {u->items}};
    mf_value *v[4] = {onnx_const(im, &yt, y), onnx_const(im, &gt, first), onnx_const(im, &it, inverse),
                      onnx_const(im, &gt, counts)};
    free(y);
    mf_status s = MF_OK;
    for (size_t i = 0; i < 4 && !s; i++)
        s = v[i] ? onnx_define_output(im, n, i, v[i]) : mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    return s;
}

mf_status onnx_cv_unique(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x;
    mf_status s = known_input(im, n, 0, "the input", &x);
    if (s)
        return s;
    const Onnx__AttributeProto *ap = onnx_attr(n, "axis");
    mf_type yt = x->type;
    int64_t axis = ap && ap->has_i ? ap->i : 0, numel = mf_type_numel(&x->type);
    if (!(ap && ap->has_i))
        yt = (mf_type){x->type.dtype, 1, {numel}};
    if (axis < 0)
        axis += yt.rank;
    if (axis < 0 || axis >= yt.rank || numel > ONNX_FOLD_LIMIT)
        return onnx_node_error(n, MF_ERR_INVALID, "axis %lld is out of range, or the input is too large to fold",
                               (long long)axis);
    int64_t inner = 1, items = yt.shape[axis];
    for (int d = (int)axis + 1; d < yt.rank; d++)
        inner *= yt.shape[d];
    unique_view u = {x->data->data, yt.dtype, items, items ? numel / items : 0, inner ? inner : 1, items * inner};
    int64_t *buf = malloc(sizeof(int64_t) * 4 * (size_t)(items ? items : 1));
    if (!buf)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    int64_t *order = buf, *first = buf + items, *inverse = buf + 2 * items, *counts = buf + 3 * items;
    int64_t g = unique_groups(&u, onnx_attr_int(n, "sorted", 1) != 0, order, first, inverse, counts);
    s = unique_outputs(im, n, &u, yt, (int)axis, g, first, inverse, counts);
    free(buf);
    return s;
}

/* Neg, Abs and Sign of an integer tensor (exports take them of ids and lengths), whose ops
 * compute floats: 0 - x, maximum(x, 0 - x), (x > 0) - (x < 0), wrapping as ONNX's
 * integers do. */
mf_status onnx_int_unary(onnx_importer *im, const Onnx__NodeProto *n, mf_op op, mf_value *x)
{
    mf_dtype dt = x->type.dtype;
    mf_value *zero, *a, *b, *y;
    mf_status s = onnx_scalar(im, dt, 0, &zero);
    if (s)
        return s;
    if (op == MF_OP_SIGN) {
        if ((s = onnx_add2(im, n, MF_OP_GREATER, x, zero, &a)) || (s = onnx_add2(im, n, MF_OP_LESS, x, zero, &b)) ||
            (s = onnx_cast(im, n, a, dt, &a)) || (s = onnx_cast(im, n, b, dt, &b)))
            return s;
        s = onnx_add2(im, n, MF_OP_SUB, a, b, &y);
    } else if (!(s = onnx_add2(im, n, MF_OP_SUB, zero, x, &y)) && op == MF_OP_ABS) {
        s = onnx_add2(im, n, MF_OP_MAXIMUM, x, y, &y);
    }
    return s ? s : onnx_define(im, n->output[0], y);
}
