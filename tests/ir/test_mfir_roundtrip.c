/* test_mfir_roundtrip.c — the .mfir printer and parser agree: canonical text reads back
 * and prints byte for byte the same, graphs built by the builder print, parse and print
 * again to the same text, and constants of every dtype keep their exact bits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static char *print(const mf_graph *g, int elide)
{
    char *t = NULL;
    assert_int_equal(mf_graph_print(g, elide, &t), MF_OK);
    assert_non_null(t);
    return t;
}

static mf_graph *parse(const char *text)
{
    mf_graph *g = NULL;
    mf_status s = mf_graph_parse(text, NULL, &g);
    if (s)
        fail_msg("parse failed: %s\n--- text ---\n%s", mf_last_error(), text);
    assert_int_equal(mf_graph_verify(g), MF_OK);
    return g;
}

/* print(parse(print(g))) == print(g), and the hash survives; returns print(g). */
static char *assert_roundtrip(const mf_graph *g, int elide)
{
    char *t1 = print(g, elide);
    mf_graph *g2 = parse(t1);
    char *t2 = print(g2, elide);
    assert_string_equal(t1, t2);
    if (!elide)
        assert_true(mf_graph_hash(g) == mf_graph_hash(g2));
    free(t2);
    mf_graph_destroy(g2);
    return t1;
}

/* ---- canonical text -------------------------------------------------------------------- */

static void test_golden_every_op(void **state)
{
    const char *golden = read_text("data/every_op.mfir");
    mf_graph *g = NULL;
    assert_int_equal(mf_graph_load("data/every_op.mfir", &g), MF_OK);
    assert_int_equal(mf_graph_verify(g), MF_OK);
    char *t = print(g, 0);
    assert_string_equal(t, golden);
    for (int op = 0; op < MF_OP_COUNT; op++) {
        if (op == MF_OP_CUSTOM) /* custom.NAME needs a loaded declaration: test_custom_ops.c */
            continue;
        char pat[64];
        snprintf(pat, sizeof pat, " = %s(", mf_op_get((mf_op)op)->name);
        if (!strstr(t, pat))
            fail_msg("op %s is missing from every_op.mfir", mf_op_get((mf_op)op)->name);
    }
    free(assert_roundtrip(g, 0));
    free(t);
    assert_string_equal(g->name, "every_op");
    assert_int_equal(g->nodes[g->nnodes - 1]->subgraph, 12);
    assert_int_equal(g->nodes[0]->subgraph, -1);
    mf_graph_destroy(g);
}

static void test_attributes_any_order_and_defaults(void **state)
{
    const char *in = "graph @g(%x: f32[1,2,6,6]) {\n"
                     "  %p = max_pool2d(%x) {ceil_mode=0, stride=[2,2], dilation=[1,1], kernel=[3,3]} : f32[1,2,2,2]\n"
                     "  %c = clamp(%p) {max=6, min=-inf} : f32[1,2,2,2]\n"
                     "  %l = leaky_relu(%c) {negative_slope=1} : f32[1,2,2,2]\n"
                     "  %a = add(%l, %c) {} : f32[1,2,2,2]\n"
                     "  return %a\n"
                     "}\n";
    const char *want = "graph @g(%x: f32[1,2,6,6]) {\n"
                       "  %p = max_pool2d(%x) {kernel=[3,3], stride=[2,2]} : f32[1,2,2,2]\n"
                       "  %c = clamp(%p) {max=6} : f32[1,2,2,2]\n"
                       "  %l = leaky_relu(%c) {negative_slope=1} : f32[1,2,2,2]\n"
                       "  %a = add(%l, %c) : f32[1,2,2,2]\n"
                       "  return %a\n"
                       "}\n";
    mf_graph *g = parse(in);
    char *t = print(g, 0);
    assert_string_equal(t, want);
    assert_true(g->nodes[2]->attrs[0].f == 1.0);
    free(t);
    mf_graph_destroy(g);
}

static void test_comments_and_layout(void **state)
{
    const char *in = "# a leading comment\n"
                     "graph   @g ( %x :f32[ 2 , 3 ] )# after the header\n"
                     "{\n"
                     "\t%y=relu( %x ):f32[2,3]   # trailing\n"
                     "  # a comment line\n"
                     "  %k = const f32[2] dense< 1.50 ,  -2e0 >\n"
                     "  return %y ,%x, %k # done\n"
                     "}   # after the body\n\n";
    const char *want = "graph @g(%x: f32[2,3]) {\n"
                       "  %k = const f32[2] dense<1.5, -2>\n"
                       "  %y = relu(%x) : f32[2,3]\n"
                       "  return %y, %x, %k\n"
                       "}\n";
    mf_graph *g = parse(in);
    char *t = print(g, 0);
    assert_string_equal(t, want);
    free(t);
    mf_graph_destroy(g);
    g = parse(want);
    t = print(g, 0);
    assert_string_equal(t, want);
    free(t);
    mf_graph_destroy(g);
}

static void test_no_inputs_rank0_and_empty(void **state)
{
    const char *text = "graph @consts() {\n"
                       "  %s = const f32[] dense<1.5>\n"
                       "  %e = const f32[0,3] dense<>\n"
                       "  %n = neg(%s) : f32[]\n"
                       "  return %n, %e\n"
                       "}\n";
    mf_graph *g = parse(text);
    char *t = print(g, 0);
    assert_string_equal(t, text);
    assert_non_null(g->values[1]->data);
    assert_int_equal(g->values[1]->data->nbytes, 0);
    free(t);
    mf_graph_destroy(g);
}

/* ---- built graphs ------------------------------------------------------------------------ */

static mf_value *cnst(mf_graph *g, mf_dtype dt, int rank, const int64_t *shape, const void *data)
{
    mf_type t = {dt, rank, {0}};
    for (int i = 0; i < rank; i++)
        t.shape[i] = shape[i];
    mf_buffer *b = NULL;
    if (data) {
        b = mf_buffer_new_host(mf_type_nbytes(&t));
        assert_non_null(b);
        memcpy(b->data, data, mf_type_nbytes(&t));
    }
    mf_value *v = mf_graph_add_const(g, NULL, &t, b);
    mf_buffer_release(b);
    assert_non_null(v);
    return v;
}

static mf_value *node(mf_graph *g, mf_op op, int nin, mf_value *const *in, const mf_attr *attrs)
{
    mf_node *n;
    mf_status s = mf_graph_add_node(g, op, nin, in, attrs, &n);
    if (s)
        fail_msg("add %s: %s", mf_op_get(op)->name, mf_last_error());
    return n->outputs[0];
}

static mf_value *unary(mf_graph *g, mf_op op, mf_value *x)
{
    return node(g, op, 1, &x, NULL);
}

static void set_ints(mf_op op, mf_attr *a, const char *name, int n, const int64_t *v)
{
    assert_int_equal(mf_attr_set_ints(op, a, name, n, v), MF_OK);
}

/* max_pool_indices of x [1,4,8,8], and conv3d and conv_transpose3d of it as [1,4,2,4,8]. */
static void build_window_ops(mf_graph *g, mf_value *x)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_MAX_POOL_INDICES, a);
    set_ints(MF_OP_MAX_POOL_INDICES, a, "kernel", 2, (int64_t[]){2, 2});
    set_ints(MF_OP_MAX_POOL_INDICES, a, "stride", 2, (int64_t[]){2, 2});
    set_ints(MF_OP_MAX_POOL_INDICES, a, "dilation", 2, (int64_t[]){1, 1});
    set_ints(MF_OP_MAX_POOL_INDICES, a, "pads", 4, (int64_t[]){0, 0, 1, 1});
    set_ints(MF_OP_MAX_POOL_INDICES, a, "sizes", 2, (int64_t[]){4, 4});
    node(g, MF_OP_MAX_POOL_INDICES, 1, &x, a);
    mf_op_default_attrs(MF_OP_RESHAPE, a);
    set_ints(MF_OP_RESHAPE, a, "shape", 5, (int64_t[]){1, 4, 2, 4, 8});
    mf_value *x5 = node(g, MF_OP_RESHAPE, 1, &x, a);
    mf_value *w3 = cnst(g, MF_F32, 5, (int64_t[]){2, 4, 1, 2, 2}, NULL);
    mf_value *wt3 = cnst(g, MF_F32, 5, (int64_t[]){4, 2, 2, 1, 1}, NULL);
    mf_op_default_attrs(MF_OP_CONV3D, a);
    set_ints(MF_OP_CONV3D, a, "stride", 3, (int64_t[]){1, 2, 2});
    node(g, MF_OP_CONV3D, 2, (mf_value *[]){x5, w3}, a);
    mf_op_default_attrs(MF_OP_CONV_TRANSPOSE3D, a);
    set_ints(MF_OP_CONV_TRANSPOSE3D, a, "stride", 3, (int64_t[]){2, 1, 1});
    node(g, MF_OP_CONV_TRANSPOSE3D, 2, (mf_value *[]){x5, wt3}, a);
}

/* Every op once, through the builder, with unnamed values (as the trace recorder makes). */
static mf_graph *build_every_op(void)
{
    mf_graph *g = mf_graph_new("built");
    mf_type xt = {MF_F32, 4, {1, 4, 8, 8}}, vt = {MF_F32, 2, {2, 3}};
    mf_value *x = mf_graph_add_input(g, NULL, &xt), *v = mf_graph_add_input(g, NULL, &vt);
    mf_value *w = cnst(g, MF_F32, 4, (int64_t[]){8, 4, 3, 3}, NULL);
    mf_value *b = cnst(g, MF_F32, 1, (int64_t[]){8}, NULL);
    mf_value *wt = cnst(g, MF_F32, 4, (int64_t[]){8, 4, 2, 2}, NULL);
    mf_value *lw = cnst(g, MF_F32, 2, (int64_t[]){5, 3}, NULL);
    mf_value *m = cnst(g, MF_F32, 2, (int64_t[]){3, 6}, NULL);
    mf_value *two = cnst(g, MF_F32, 0, NULL, (float[]){2});
    mf_attr a[MF_MAX_ATTRS];

    mf_op_default_attrs(MF_OP_CONV2D, a);
    set_ints(MF_OP_CONV2D, a, "padding", 2, (int64_t[]){1, 1});
    mf_value *c = node(g, MF_OP_CONV2D, 3, (mf_value *[]){x, w, b}, a);
    mf_op_default_attrs(MF_OP_CONV_TRANSPOSE2D, a);
    set_ints(MF_OP_CONV_TRANSPOSE2D, a, "stride", 2, (int64_t[]){2, 2});
    mf_value *ct = node(g, MF_OP_CONV_TRANSPOSE2D, 2, (mf_value *[]){c, wt}, a);
    mf_value *l = node(g, MF_OP_LINEAR, 2, (mf_value *[]){v, lw}, NULL);
    mf_value *mm = node(g, MF_OP_MATMUL, 2, (mf_value *[]){v, m}, NULL);
    mf_value *ww = node(g, MF_OP_WINOGRAD_WEIGHT, 1, &w, NULL);
    mf_op_default_attrs(MF_OP_WINOGRAD_INPUT, a);
    set_ints(MF_OP_WINOGRAD_INPUT, a, "padding", 2, (int64_t[]){1, 1});
    mf_value *wi = node(g, MF_OP_WINOGRAD_INPUT, 1, &x, a);
    mf_value *wm = node(g, MF_OP_MATMUL, 2, (mf_value *[]){ww, wi}, NULL);
    mf_op_default_attrs(MF_OP_WINOGRAD_OUTPUT, a);
    set_ints(MF_OP_WINOGRAD_OUTPUT, a, "size", 3, (int64_t[]){1, 8, 8});
    mf_value *wo = node(g, MF_OP_WINOGRAD_OUTPUT, 2, (mf_value *[]){wm, b}, a);
    mf_op_default_attrs(MF_OP_TO_BLOCKS, a);
    mf_attr_set_int(MF_OP_TO_BLOCKS, a, "block", 2);
    mf_value *xb = node(g, MF_OP_TO_BLOCKS, 1, &x, a);
    mf_value *cb = node(g, MF_OP_CONV2D_BLOCKS, 2,
                        (mf_value *[]){xb, cnst(g, MF_F32, 3, (int64_t[]){2, 4, 2}, NULL)}, NULL);
    node(g, MF_OP_FROM_BLOCKS, 1, &cb, NULL);
    mf_value *y = c;
    static const mf_op binary[] = {MF_OP_ADD,     MF_OP_SUB,     MF_OP_MUL,  MF_OP_DIV,
                                   MF_OP_POW,     MF_OP_MINIMUM, MF_OP_MAXIMUM, MF_OP_PRELU};
    for (size_t i = 0; i < sizeof binary / sizeof *binary; i++)
        y = node(g, binary[i], 2, (mf_value *[]){y, two}, NULL);
    static const mf_op unaries[] = {MF_OP_RELU, MF_OP_CLAMP, MF_OP_LEAKY_RELU, MF_OP_SIGMOID,
                                    MF_OP_TANH, MF_OP_HARDSWISH, MF_OP_HARDSIGMOID, MF_OP_EXP,
                                    MF_OP_LOG, MF_OP_NEG, MF_OP_ABS, MF_OP_SQRT, MF_OP_DROPOUT,
                                    MF_OP_ELU, MF_OP_RECIPROCAL, MF_OP_FLOOR, MF_OP_CEIL,
                                    MF_OP_ROUND, MF_OP_SIGN, MF_OP_ERF, MF_OP_COS, MF_OP_SIN};
    for (size_t i = 0; i < sizeof unaries / sizeof *unaries; i++)
        y = unary(g, unaries[i], y);
    y = node(g, MF_OP_BATCH_NORM, 5, (mf_value *[]){y, b, b, b, b}, NULL);
    mf_op_default_attrs(MF_OP_MAX_POOL2D, a);
    set_ints(MF_OP_MAX_POOL2D, a, "kernel", 2, (int64_t[]){2, 2});
    set_ints(MF_OP_MAX_POOL2D, a, "stride", 2, (int64_t[]){2, 2});
    y = node(g, MF_OP_MAX_POOL2D, 1, &y, a);
    mf_op_default_attrs(MF_OP_AVG_POOL2D, a);
    set_ints(MF_OP_AVG_POOL2D, a, "kernel", 2, (int64_t[]){2, 2});
    set_ints(MF_OP_AVG_POOL2D, a, "stride", 2, (int64_t[]){1, 1});
    mf_value *ap = node(g, MF_OP_AVG_POOL2D, 1, &y, a);
    mf_op_default_attrs(MF_OP_ADAPTIVE_AVG_POOL2D, a);
    set_ints(MF_OP_ADAPTIVE_AVG_POOL2D, a, "output_size", 2, (int64_t[]){1, 1});
    y = node(g, MF_OP_ADAPTIVE_AVG_POOL2D, 1, &ap, a);
    mf_value *r = unary(g, MF_OP_SUM, unary(g, MF_OP_LOG_SOFTMAX, unary(g, MF_OP_SOFTMAX, mm)));
    unary(g, MF_OP_ARGMAX, mm);
    unary(g, MF_OP_ARGMIN, mm);
    static const mf_op reductions[] = {MF_OP_REDUCE_MAX,        MF_OP_REDUCE_MIN,     MF_OP_REDUCE_PROD,
                                       MF_OP_REDUCE_L1,         MF_OP_REDUCE_L2,      MF_OP_REDUCE_SUM_SQUARE,
                                       MF_OP_REDUCE_LOG_SUM,    MF_OP_REDUCE_LOG_SUM_EXP};
    for (size_t i = 0; i < sizeof reductions / sizeof *reductions; i++)
        r = unary(g, reductions[i], r);
    r = unary(g, MF_OP_MEAN, r);
    y = unary(g, MF_OP_FLATTEN, y);
    mf_op_default_attrs(MF_OP_RESHAPE, a);
    set_ints(MF_OP_RESHAPE, a, "shape", 2, (int64_t[]){2, -1});
    y = node(g, MF_OP_RESHAPE, 1, &y, a);
    mf_op_default_attrs(MF_OP_PERMUTE, a);
    set_ints(MF_OP_PERMUTE, a, "perm", 2, (int64_t[]){1, 0});
    y = node(g, MF_OP_PERMUTE, 1, &y, a);
    y = node(g, MF_OP_CONCAT, 2, (mf_value *[]){y, y}, NULL);
    mf_op_default_attrs(MF_OP_SLICE, a);
    set_ints(MF_OP_SLICE, a, "starts", 1, (int64_t[]){1});
    set_ints(MF_OP_SLICE, a, "ends", 1, (int64_t[]){INT64_MAX});
    y = node(g, MF_OP_SLICE, 1, &y, a);
    mf_op_default_attrs(MF_OP_PAD, a);
    set_ints(MF_OP_PAD, a, "pads", 4, (int64_t[]){0, 1, 0, 1});
    assert_int_equal(mf_attr_set_float(MF_OP_PAD, a, "value", 0.1), MF_OK);
    y = node(g, MF_OP_PAD, 1, &y, a);
    mf_op_default_attrs(MF_OP_CAST, a);
    assert_int_equal(mf_attr_set_int(MF_OP_CAST, a, "to", MF_F16), MF_OK);
    y = node(g, MF_OP_CAST, 1, &y, a);
    mf_op_default_attrs(MF_OP_UPSAMPLE_NEAREST2D, a);
    set_ints(MF_OP_UPSAMPLE_NEAREST2D, a, "scale", 2, (int64_t[]){2, 3});
    mf_value *up = node(g, MF_OP_UPSAMPLE_NEAREST2D, 1, &ap, a);
    static const mf_op math[] = {MF_OP_TAN,  MF_OP_ASIN,  MF_OP_ACOS,     MF_OP_ATAN,     MF_OP_SINH,
                                 MF_OP_COSH, MF_OP_ASINH, MF_OP_ACOSH,    MF_OP_ATANH,    MF_OP_SOFTPLUS,
                                 MF_OP_SOFTSIGN, MF_OP_SELU, MF_OP_THRESHOLDED_RELU, MF_OP_CELU, MF_OP_SHRINK,
                                 MF_OP_HARDMAX};
    mf_value *mx = mm;
    for (size_t i = 0; i < sizeof math / sizeof *math; i++)
        mx = unary(g, math[i], mx);
    mf_value *b1 = unary(g, MF_OP_ISNAN, mx), *b2 = unary(g, MF_OP_ISINF, mx);
    static const mf_op compare[] = {MF_OP_EQUAL, MF_OP_GREATER, MF_OP_LESS, MF_OP_GREATER_EQUAL, MF_OP_LESS_EQUAL};
    for (size_t i = 0; i < sizeof compare / sizeof *compare; i++)
        b1 = node(g, MF_OP_LOGICAL_OR, 2, (mf_value *[]){b1, node(g, compare[i], 2, (mf_value *[]){mx, mm}, NULL)}, NULL);
    b1 = node(g, MF_OP_LOGICAL_AND, 2, (mf_value *[]){b1, b2}, NULL);
    b1 = unary(g, MF_OP_LOGICAL_NOT, node(g, MF_OP_LOGICAL_XOR, 2, (mf_value *[]){b1, b2}, NULL));
    mx = node(g, MF_OP_WHERE, 3, (mf_value *[]){b1, mx, mm}, NULL);
    mx = node(g, MF_OP_MOD, 2, (mf_value *[]){mx, mx}, NULL);
    mf_op_default_attrs(MF_OP_EXPAND, a);
    set_ints(MF_OP_EXPAND, a, "shape", 3, (int64_t[]){2, 2, 6});
    node(g, MF_OP_EXPAND, 1, &mx, a);
    mf_op_default_attrs(MF_OP_TILE, a);
    set_ints(MF_OP_TILE, a, "repeats", 2, (int64_t[]){2, 1});
    node(g, MF_OP_TILE, 1, &mx, a);
    mf_op_default_attrs(MF_OP_TOPK_INDICES, a);
    assert_int_equal(mf_attr_set_int(MF_OP_TOPK_INDICES, a, "k", 2), MF_OK);
    mf_value *tk = node(g, MF_OP_TOPK_INDICES, 1, &mx, a);
    node(g, MF_OP_GATHER, 2, (mf_value *[]){mx, tk}, NULL);
    node(g, MF_OP_GATHER_ELEMENTS, 2, (mf_value *[]){mx, tk}, NULL);
    unary(g, MF_OP_TRILU, mx);
    unary(g, MF_OP_CUMSUM, mx);
    mf_type st = {MF_F32, 1, {2}};
    mf_value *sc = mf_graph_add_const(g, NULL, &st, NULL);
    mf_op_default_attrs(MF_OP_RESIZE, a);
    set_ints(MF_OP_RESIZE, a, "sizes", 2, (int64_t[]){4, 12});
    node(g, MF_OP_RESIZE, 2, (mf_value *[]){mx, sc}, a);
    /* einsum (v [2,3] by m [3,6]: "ij,jk->ik"), grid_sample and rnn */
    mf_op_default_attrs(MF_OP_EINSUM, a);
    set_ints(MF_OP_EINSUM, a, "terms", 2, (int64_t[]){129, 194});
    assert_int_equal(mf_attr_set_int(MF_OP_EINSUM, a, "output", 193), MF_OK);
    node(g, MF_OP_EINSUM, 2, (mf_value *[]){v, m}, a);
    mf_value *grid = cnst(g, MF_F32, 4, (int64_t[]){1, 2, 3, 2}, NULL);
    node(g, MF_OP_GRID_SAMPLE, 2, (mf_value *[]){x, grid}, NULL);
    mf_value *rnn_in[6] = {cnst(g, MF_F32, 3, (int64_t[]){2, 1, 3}, NULL), cnst(g, MF_F32, 3, (int64_t[]){1, 1, 3}, NULL),
                           cnst(g, MF_F32, 3, (int64_t[]){1, 1, 1}, NULL), cnst(g, MF_F32, 2, (int64_t[]){1, 2}, NULL),
                           cnst(g, MF_I64, 1, (int64_t[]){1}, NULL), cnst(g, MF_F32, 3, (int64_t[]){1, 1, 1}, NULL)};
    mf_op_default_attrs(MF_OP_RNN, a);
    assert_int_equal(mf_attr_set_int(MF_OP_RNN, a, "hidden", 1), MF_OK);
    node(g, MF_OP_RNN, 6, rnn_in, a);
    mf_value *img = cnst(g, MF_F32, 4, (int64_t[]){1, 2, 4, 4}, NULL);
    mf_value *rois = cnst(g, MF_F32, 2, (int64_t[]){1, 4}, NULL);
    mf_value *rbi = cnst(g, MF_I64, 1, (int64_t[]){1}, NULL);
    node(g, MF_OP_ROI_ALIGN, 3, (mf_value *[]){img, rois, rbi}, NULL);
    /* the int8 ops: quantize, qconv2d, qadd, dequantize, qlinear, qmatmul */
    mf_op_default_attrs(MF_OP_QUANTIZE, a);
    assert_int_equal(mf_attr_set_float(MF_OP_QUANTIZE, a, "scale", 0.1), MF_OK);
    mf_value *q = node(g, MF_OP_QUANTIZE, 1, &c, a);
    mf_value *qv = node(g, MF_OP_QUANTIZE, 1, &v, a);
    mf_value *qw = cnst(g, MF_I8, 4, (int64_t[]){8, 8, 3, 3}, NULL);
    mf_value *qs = cnst(g, MF_F32, 1, (int64_t[]){1}, (float[]){0.5f});
    mf_op_default_attrs(MF_OP_QCONV2D, a);
    set_ints(MF_OP_QCONV2D, a, "padding", 2, (int64_t[]){1, 1});
    assert_int_equal(mf_attr_set_float(MF_OP_QCONV2D, a, "x_scale", 0.1), MF_OK);
    assert_int_equal(mf_attr_set_float(MF_OP_QCONV2D, a, "y_scale", 0.2), MF_OK);
    assert_int_equal(mf_attr_set_float(MF_OP_QCONV2D, a, "min", 0), MF_OK);
    mf_value *qc = node(g, MF_OP_QCONV2D, 4, (mf_value *[]){q, qw, qs, b}, a);
    mf_op_default_attrs(MF_OP_QADD, a);
    assert_int_equal(mf_attr_set_float(MF_OP_QADD, a, "a_scale", 0.2), MF_OK);
    assert_int_equal(mf_attr_set_float(MF_OP_QADD, a, "b_scale", 0.1), MF_OK);
    assert_int_equal(mf_attr_set_float(MF_OP_QADD, a, "y_scale", 0.3), MF_OK);
    mf_value *qa = node(g, MF_OP_QADD, 2, (mf_value *[]){qc, q}, a);
    mf_op_default_attrs(MF_OP_DEQUANTIZE, a);
    assert_int_equal(mf_attr_set_float(MF_OP_DEQUANTIZE, a, "scale", 0.3), MF_OK);
    node(g, MF_OP_DEQUANTIZE, 1, &qa, a);
    mf_value *qlw = cnst(g, MF_I8, 2, (int64_t[]){5, 3}, NULL);
    mf_op_default_attrs(MF_OP_QLINEAR, a);
    assert_int_equal(mf_attr_set_float(MF_OP_QLINEAR, a, "x_scale", 0.1), MF_OK);
    assert_int_equal(mf_attr_set_float(MF_OP_QLINEAR, a, "y_scale", 0.2), MF_OK);
    node(g, MF_OP_QLINEAR, 3, (mf_value *[]){qv, qlw, qs}, a);
    mf_value *qb = cnst(g, MF_I8, 2, (int64_t[]){3, 4}, NULL);
    mf_op_default_attrs(MF_OP_QMATMUL, a);
    assert_int_equal(mf_attr_set_float(MF_OP_QMATMUL, a, "a_scale", 0.1), MF_OK);
    assert_int_equal(mf_attr_set_float(MF_OP_QMATMUL, a, "b_scale", 0.1), MF_OK);
    assert_int_equal(mf_attr_set_float(MF_OP_QMATMUL, a, "y_scale", 0.5), MF_OK);
    node(g, MF_OP_QMATMUL, 2, (mf_value *[]){qv, qb}, a);
    /* ONNX's index, sequence and signal ops (CPU only) */
    mf_value *u8c = cnst(g, MF_U8, 1, (int64_t[]){3}, (uint8_t[]){1, 2, 3});
    node(g, MF_OP_BIT_SHIFT, 2, (mf_value *[]){u8c, u8c}, NULL);
    mf_value *gi = cnst(g, MF_I64, 2, (int64_t[]){2, 1}, (int64_t[]){0, 3});
    mf_value *ge = node(g, MF_OP_GATHER_ELEMENTS, 2, (mf_value *[]){mx, tk}, NULL);
    node(g, MF_OP_SCATTER_ELEMENTS, 3, (mf_value *[]){mx, tk, ge}, NULL);
    mf_value *gnd = node(g, MF_OP_GATHER_ND, 2, (mf_value *[]){mx, gi}, NULL);
    mf_op_default_attrs(MF_OP_SCATTER_ND, a);
    assert_int_equal(mf_attr_set_int(MF_OP_SCATTER_ND, a, "reduction", 1), MF_OK);
    node(g, MF_OP_SCATTER_ND, 3, (mf_value *[]){mx, gi, gnd}, a);
    unary(g, MF_OP_DET, ge);
    mf_value *sl = cnst(g, MF_I64, 1, (int64_t[]){2}, (int64_t[]){1, 6});
    mf_op_default_attrs(MF_OP_REVERSE_SEQUENCE, a);
    assert_int_equal(mf_attr_set_int(MF_OP_REVERSE_SEQUENCE, a, "batch_axis", 0), MF_OK);
    assert_int_equal(mf_attr_set_int(MF_OP_REVERSE_SEQUENCE, a, "time_axis", 1), MF_OK);
    node(g, MF_OP_REVERSE_SEQUENCE, 2, (mf_value *[]){mx, sl}, a);
    mf_op_default_attrs(MF_OP_MAX_UNPOOL, a);
    set_ints(MF_OP_MAX_UNPOOL, a, "sizes", 2, (int64_t[]){4, 7});
    node(g, MF_OP_MAX_UNPOOL, 2, (mf_value *[]){ge, tk}, a);
    mf_op_default_attrs(MF_OP_DFT, a);
    assert_int_equal(mf_attr_set_int(MF_OP_DFT, a, "dim", 0), MF_OK);
    node(g, MF_OP_DFT, 1, &ge, a);
    build_window_ops(g, x);
    assert_int_equal(mf_graph_set_outputs(g, 6, (mf_value *[]){ct, l, r, y, up, wo}), MF_OK);
    assert_int_equal(mf_graph_verify(g), MF_OK);
    return g;
}

static void test_builder_every_op(void **state)
{
    mf_graph *g = build_every_op();
    bool seen[MF_OP_COUNT] = {0};
    for (int i = 0; i < g->nnodes; i++)
        seen[g->nodes[i]->op] = true;
    for (int op = 0; op < MF_OP_COUNT; op++)
        if (!seen[op] && op != MF_OP_CUSTOM) /* needs a loaded declaration: test_custom_ops.c */
            fail_msg("the built graph lacks %s", mf_op_get((mf_op)op)->name);
    char *t = assert_roundtrip(g, 0);
    assert_non_null(strstr(t, "graph @built(%0: f32[1,4,8,8], %1: f32[2,3]) {\n"));
    assert_non_null(strstr(t, "  %7 = const f32[] dense<2>\n"));
    assert_non_null(strstr(t, " = pad(%"));
    assert_non_null(strstr(t, "{pads=[0,1,0,1], value=0.1}"));
    assert_non_null(strstr(t, "{starts=[1], ends=[9223372036854775807]}"));
    assert_non_null(strstr(t, " = cast(%"));
    assert_non_null(strstr(t, ") {to=1} : f16["));
    free(t);
    mf_graph_destroy(g);
}

/* Unnamed values take numbers that no stored name uses; bad or repeated names too. */
static void test_unnamed_values_avoid_used_names(void **state)
{
    mf_graph *g = mf_graph_new("names");
    mf_type t = {MF_F32, 1, {4}};
    mf_value *x = mf_graph_add_input(g, "0", &t);
    mf_value *y = mf_graph_add_input(g, NULL, &t);
    mf_value *a = node(g, MF_OP_ADD, 2, (mf_value *[]){x, y}, NULL);
    a->name = "2";
    mf_value *b = unary(g, MF_OP_RELU, a);
    mf_value *c = unary(g, MF_OP_NEG, b);
    c->name = "has space"; /* invalid: printed by number */
    mf_value *d = unary(g, MF_OP_ABS, c);
    d->name = "2"; /* repeated: printed by number */
    assert_int_equal(mf_graph_set_outputs(g, 1, &d), MF_OK);
    char *text = assert_roundtrip(g, 0);
    assert_string_equal(text, "graph @names(%0: f32[4], %1: f32[4]) {\n"
                              "  %2 = add(%0, %1) : f32[4]\n"
                              "  %3 = relu(%2) : f32[4]\n"
                              "  %4 = neg(%3) : f32[4]\n"
                              "  %5 = abs(%4) : f32[4]\n"
                              "  return %5\n"
                              "}\n");
    free(text);
    mf_graph_destroy(g);
}

static void test_graph_name_is_sanitized(void **state)
{
    mf_graph *g = mf_graph_new("my net/v2");
    mf_type t = {MF_F32, 0, {0}};
    mf_value *x = mf_graph_add_input(g, "x", &t);
    assert_int_equal(mf_graph_set_outputs(g, 1, &x), MF_OK);
    char *text = assert_roundtrip(g, 0);
    assert_string_equal(text, "graph @my_net_v2(%x: f32[]) {\n  return %x\n}\n");
    free(text);
    mf_graph_destroy(g);
}

/* ---- constants ------------------------------------------------------------------------------ */

static void test_constants_every_dtype(void **state)
{
    mf_graph *g = mf_graph_new("consts");
    float f32[] = {0.1f, -0.0f, 3e-08f, 1e30f, 1.4e-45f, INFINITY, -INFINITY, NAN, 16777216.0f,
                   3.14159274f, 10.0f, 1e5f};
    uint16_t f16[] = {mf_f32_to_f16(0.1f), mf_f32_to_f16(65504.0f), 0x0001, 0x7c00, 0xfc00,
                      0x3c00, 0x8000};
    int8_t i8[] = {-128, 127, 0};
    int32_t i32[] = {INT32_MIN, INT32_MAX, -7};
    int64_t i64[] = {INT64_MIN, INT64_MAX, 42};
    uint8_t bools[] = {1, 0, 1, 1};
    mf_value *v[] = {
        cnst(g, MF_F32, 1, (int64_t[]){12}, f32),  cnst(g, MF_F16, 1, (int64_t[]){7}, f16),
        cnst(g, MF_I8, 1, (int64_t[]){3}, i8),     cnst(g, MF_I32, 2, (int64_t[]){1, 3}, i32),
        cnst(g, MF_I64, 1, (int64_t[]){3}, i64),   cnst(g, MF_BOOL, 2, (int64_t[]){2, 2}, bools),
        cnst(g, MF_I32, 0, NULL, (int32_t[]){-1}),
    };
    int n = (int)(sizeof v / sizeof *v);
    assert_int_equal(mf_graph_set_outputs(g, n, v), MF_OK);
    char *text = assert_roundtrip(g, 0);
    /* the shortest text, not the lowest precision: 10, not 1e+01 */
    assert_non_null(strstr(text, "const f32[12] dense<0.1, -0, 3e-08, 1e+30, 1e-45, inf, -inf, nan, "
                                 "16777216, 3.1415927, 10, 1e+05>\n"));
    assert_non_null(strstr(text, "const f16[7] dense<0.1, 65504, 6e-08, inf, -inf, 1, -0>\n"));
    assert_non_null(strstr(text, "const i8[3] dense<-128, 127, 0>\n"));
    assert_non_null(strstr(text, "const i32[1,3] dense<-2147483648, 2147483647, -7>\n"));
    assert_non_null(strstr(text, "const i64[3] dense<-9223372036854775808, 9223372036854775807, 42>\n"));
    assert_non_null(strstr(text, "const bool[2,2] dense<1, 0, 1, 1>\n"));
    assert_non_null(strstr(text, "const i32[] dense<-1>\n"));
    /* the bytes read back exactly */
    mf_graph *g2 = parse(text);
    for (int i = 0; i < n; i++) {
        const mf_value *a = g->values[i], *b = g2->values[i];
        assert_true(mf_type_equal(&a->type, &b->type));
        assert_int_equal(a->data->nbytes, b->data->nbytes);
        assert_memory_equal(a->data->data, b->data->data, a->data->nbytes);
    }
    free(text);
    mf_graph_destroy(g2);
    mf_graph_destroy(g);
}

static void test_elided_constants(void **state)
{
    mf_graph *g = mf_graph_new("elide");
    float big[17], small[16];
    for (int i = 0; i < 17; i++)
        big[i] = (float)i * 0.5f;
    memcpy(small, big, sizeof small);
    mf_value *v[] = {cnst(g, MF_F32, 1, (int64_t[]){17}, big),
                     cnst(g, MF_F32, 2, (int64_t[]){4, 4}, small),
                     cnst(g, MF_F32, 1, (int64_t[]){20}, NULL)};
    assert_int_equal(mf_graph_set_outputs(g, 3, v), MF_OK);
    char *text = assert_roundtrip(g, 1);
    assert_string_equal(text, "graph @elide() {\n"
                              "  %0 = const f32[17] opaque\n"
                              "  %1 = const f32[4,4] dense<0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, "
                              "5, 5.5, 6, 6.5, 7, 7.5>\n"
                              "  %2 = const f32[20] opaque\n"
                              "  return %0, %1, %2\n"
                              "}\n");
    mf_graph *g2 = parse(text);
    assert_null(g2->values[0]->data);
    assert_non_null(g2->values[1]->data);
    free(text);
    text = print(g, 0);
    assert_non_null(strstr(text, "%0 = const f32[17] dense<0, 0.5, 1,"));
    free(text);
    mf_graph_destroy(g2);
    mf_graph_destroy(g);
}

/* A parsed node keeps its declared subgraph, and dense data becomes a retained buffer. */
static void test_parsed_structure(void **state)
{
    mf_graph *g = parse("graph @s(%x: f32[3]) {\n"
                        "  %k = const f32[3] dense<1, 2, 3>\n"
                        "  %y = mul(%x, %k) : f32[3] @sg7\n"
                        "  return %y\n"
                        "}\n");
    assert_int_equal(g->ninputs, 1);
    assert_int_equal(g->nnodes, 1);
    assert_int_equal(g->nodes[0]->subgraph, 7);
    assert_string_equal(g->nodes[0]->outputs[0]->name, "y");
    const mf_value *k = g->values[1];
    assert_true(k->is_const);
    assert_string_equal(k->name, "k");
    assert_int_equal(atomic_load(&k->data->refs), 1);
    assert_true(((const float *)k->data->data)[2] == 3.0f);
    assert_ptr_equal(g->outputs[0], g->nodes[0]->outputs[0]);
    mf_graph_destroy(g);
}

static void test_load_missing_file(void **state)
{
    mf_graph *g = (mf_graph *)0x1;
    assert_int_equal(mf_graph_load("data/no_such_file.mfir", &g), MF_ERR_IO);
    assert_null(g);
    assert_non_null(strstr(mf_last_error(), "data/no_such_file.mfir"));
    assert_non_null(strstr(mf_last_error(), "No such file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_every_op),
        cmocka_unit_test(test_attributes_any_order_and_defaults),
        cmocka_unit_test(test_comments_and_layout),
        cmocka_unit_test(test_no_inputs_rank0_and_empty),
        cmocka_unit_test(test_builder_every_op),
        cmocka_unit_test(test_unnamed_values_avoid_used_names),
        cmocka_unit_test(test_graph_name_is_sanitized),
        cmocka_unit_test(test_constants_every_dtype),
        cmocka_unit_test(test_elided_constants),
        cmocka_unit_test(test_parsed_structure),
        cmocka_unit_test(test_load_missing_file),
    };
    return cmocka_run_group_tests_name("mfir_roundtrip", tests, NULL, NULL);
}
