/* test_cg_quant.c — the int8 kernels (codegen/lower_qconv.c, codegen/quant.c) on every
 * named target: the VNNI flag of the target shape (from the target's features, never the
 * host's), vpdpbusd in the code of VNNI targets and nowhere else, and each int8 kernel —
 * qconv2d over strides, padding, dilation, groups, depthwise, 1x1 and K not a multiple
 * of 4, with relu / relu6 and a fused qadd and dequantize, qlinear, quantize and
 * dequantize, max_pool2d of int8, qmatmul of two activations, and qconv2d / qlinear acc=1 (the i32 sums of ONNX's
 * ConvInteger / MatMulInteger) — equal code for code to the reference kernels on the same int8 inputs,
 * for nparts 1 and 4, on each target the host can run (the rest are compiled and
 * counted as skipped). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>

#include "cg_check.h"
#include "codegen/cg_internal.h"
#include "cg_targets.h"

/* The targets of the int8 kernels: SSE (4 lanes), AVX2, AVX-512 without and with VNNI,
 * AVX-VNNI. */
static const named qtargets[] = {
    {"x86-64-v2", {"sse4.2", "popcnt", NULL}},
    {"haswell", {"avx2", "fma", "bmi2", NULL}},
    {"skylake-avx512", {"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx2", "fma", "bmi2", NULL}},
    {"cascadelake", {"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512vnni", "avx2", "fma", "bmi2", NULL}},
    {"alderlake", {"avxvnni", "avx2", "fma", "bmi2", NULL}},
};
#define NQ (int)(sizeof qtargets / sizeof qtargets[0])

static void test_vnni_flag(void **state)
{
    static const struct { const char *cpu; bool vnni; } want[] = {
        {"x86-64-v2", false}, {"haswell", false}, {"skylake-avx512", false}, {"znver3", false},
        {"cascadelake", true}, {"icelake-server", true}, {"znver4", true}, {"alderlake", true},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        mf_cg_target t;
        assert_int_equal(mf_cg_target_init(want[i].cpu, &t), MF_OK);
        if (t.shape.vnni != want[i].vnni)
            fail_msg("%s: vnni %d, want %d", want[i].cpu, t.shape.vnni, want[i].vnni);
    }
}

/* The vpmaddubsw path's flag: AVX2 without VNNI (never AVX-512 or SSE, never the host's). */
static void test_ubsw_flag(void **state)
{
    static const struct { const char *cpu; bool ubsw; } want[] = {
        {"x86-64-v2", false}, {"haswell", true}, {"znver3", true}, {"skylake-avx512", false},
        {"cascadelake", false}, {"znver4", false}, {"alderlake", false},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        mf_cg_target t;
        assert_int_equal(mf_cg_target_init(want[i].cpu, &t), MF_OK);
        if (t.shape.ubsw != want[i].ubsw)
            fail_msg("%s: ubsw %d, want %d", want[i].cpu, t.shape.ubsw, want[i].ubsw);
    }
}

/* ---- graphs: int8 inputs (activations, weights), f32 scales and biases ----------------- */

/* The graphs' qconv2d weights: any codes (-127..127), or with pairs (2j, 2j + 1 of a row) of
 * one sign summing to at most MF_UBSW_PAIR_MAX (w_pair_max: vpmaddubsw on AVX2 without
 * VNNI); make_input then makes pairs that reach it. */
static bool pairs;
/* The graphs' qconv2d / qlinear store their i32 sums (acc=1) instead of codes. */
static bool sums;
/* The qconv2d graphs end in their int8 codes (packed to bytes as they are stored), not in a
 * dequantize fused after them (which takes the codes as they are). */
static bool codes_out;
/* The qconv2d weights' block in the packed layout (the target's oc_sweep asks it; the
 * reference unpacks them), 0 for plain; and how many qconv graphs ran packed. */
static int64_t packed_block;
static int packed_runs;
/* Whether the qconv2d weights are taps first (the reference reorders them back), how
 * check_all asks for that order, and how many qconv graphs ran so because the target asked. */
static bool taps_first;
typedef enum { TAPS_NEVER, TAPS_ASKED, TAPS_ALWAYS } taps_mode;
static int taps_runs;

typedef struct qcase {
    const char *what;
    int64_t n, cin, h, w, cout, k, s, p, d, groups;
    bool bias, per_channel, residual, relu6, relu;
} qcase;

static mf_value *in_t(mf_graph *g, const char *name, mf_dtype dt, int rank, const int64_t *shape)
{
    mf_type t = {dt, rank, {0}};
    for (int i = 0; i < rank; i++)
        t.shape[i] = shape[i];
    return cg_in(g, name, t);
}

/* dequantize(qconv2d(x, w, ws[, b]) [+ residual via qadd]): every part of the int8 path. */
static mf_graph *qconv_graph(const qcase *q)
{
    mf_graph *g = mf_graph_new("qconv");
    mf_value *x = in_t(g, "x", MF_I8, 4, (int64_t[]){q->n, q->cin, q->h, q->w});
    mf_value *in[4] = {x, in_t(g, "w", MF_I8, 4, (int64_t[]){q->cout, q->cin / q->groups, q->k, q->k}),
                       in_t(g, "ws", MF_F32, 1, (int64_t[]){q->per_channel ? q->cout : 1}),
                       q->bias ? in_t(g, "b", MF_F32, 1, (int64_t[]){q->cout}) : NULL};
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_QCONV2D, a);
    TREF_INTS(MF_OP_QCONV2D, a, "stride", q->s, q->s);
    TREF_INTS(MF_OP_QCONV2D, a, "padding", q->p, q->p);
    TREF_INTS(MF_OP_QCONV2D, a, "dilation", q->d, q->d);
    tref_set_int(MF_OP_QCONV2D, a, "groups", q->groups);
    if (pairs)
        tref_set_int(MF_OP_QCONV2D, a, "w_pair_max", MF_UBSW_PAIR_MAX);
    tref_set_float(MF_OP_QCONV2D, a, "x_scale", 0.02);
    tref_set_int(MF_OP_QCONV2D, a, "x_zero_point", -7);
    tref_set_float(MF_OP_QCONV2D, a, "y_scale", 0.004 * (double)(q->cin / q->groups * q->k * q->k));
    tref_set_int(MF_OP_QCONV2D, a, "y_zero_point", q->relu6 || q->relu ? -128 : 3);
    if (q->relu6 || q->relu)
        tref_set_float(MF_OP_QCONV2D, a, "min", 0);
    if (q->relu6)
        tref_set_float(MF_OP_QCONV2D, a, "max", 6);
    if (sums)
        tref_set_int(MF_OP_QCONV2D, a, "acc", 1);
    mf_value *y = cg_node(g, MF_OP_QCONV2D, q->bias ? 4 : 3, in, a);
    if (sums) {
        mf_graph_set_outputs(g, 1, &y);
        return g;
    }
    if (q->residual) {
        mf_value *r = in_t(g, "r", MF_I8, 4, y->type.shape);
        mf_op_default_attrs(MF_OP_QADD, a);
        tref_set_float(MF_OP_QADD, a, "a_scale", 0.004 * (double)(q->cin / q->groups * q->k * q->k));
        tref_set_int(MF_OP_QADD, a, "a_zero_point", q->relu6 || q->relu ? -128 : 3);
        tref_set_float(MF_OP_QADD, a, "b_scale", 0.3);
        tref_set_int(MF_OP_QADD, a, "b_zero_point", 5);
        tref_set_float(MF_OP_QADD, a, "y_scale", 0.5);
        tref_set_int(MF_OP_QADD, a, "y_zero_point", -128);
        tref_set_float(MF_OP_QADD, a, "min", 0); /* a fused relu */
        y = cg_node(g, MF_OP_QADD, 2, (mf_value *[]){y, r}, a);
    }
    if (codes_out) {
        mf_graph_set_outputs(g, 1, &y);
        return g;
    }
    mf_op_default_attrs(MF_OP_DEQUANTIZE, a);
    tref_set_float(MF_OP_DEQUANTIZE, a, "scale", 0.5);
    y = cg_node(g, MF_OP_DEQUANTIZE, 1, &y, a);
    mf_graph_set_outputs(g, 1, &y);
    return g;
}

/* dequantize(qlinear(x, w, ws[, b])) over rows x K -> rows x n. */
static mf_graph *qlinear_graph(int64_t rows, int64_t k, int64_t n, bool bias)
{
    mf_graph *g = mf_graph_new("qlinear");
    mf_value *in[4] = {in_t(g, "x", MF_I8, 2, (int64_t[]){rows, k}), in_t(g, "w", MF_I8, 2, (int64_t[]){n, k}),
                       in_t(g, "ws", MF_F32, 1, (int64_t[]){n}), bias ? in_t(g, "b", MF_F32, 1, (int64_t[]){n}) : NULL};
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_QLINEAR, a);
    tref_set_float(MF_OP_QLINEAR, a, "x_scale", 0.03);
    tref_set_int(MF_OP_QLINEAR, a, "x_zero_point", 11);
    tref_set_float(MF_OP_QLINEAR, a, "y_scale", 0.004 * (double)k);
    tref_set_int(MF_OP_QLINEAR, a, "y_zero_point", -2);
    if (sums)
        tref_set_int(MF_OP_QLINEAR, a, "acc", 1);
    mf_value *y = cg_node(g, MF_OP_QLINEAR, bias ? 4 : 3, in, a);
    if (sums) {
        mf_graph_set_outputs(g, 1, &y);
        return g;
    }
    mf_op_default_attrs(MF_OP_DEQUANTIZE, a);
    tref_set_float(MF_OP_DEQUANTIZE, a, "scale", 0.25);
    y = cg_node(g, MF_OP_DEQUANTIZE, 1, &y, a);
    mf_graph_set_outputs(g, 1, &y);
    return g;
}

/* dequantize(qmatmul(a, b)) of [batch, m, k] by [batch, k, n] (or [k, n] when b2). */
static mf_graph *qmatmul_graph(int64_t batch, int64_t m, int64_t k, int64_t n, bool b2)
{
    mf_graph *g = mf_graph_new("qmatmul");
    mf_value *in[2] = {in_t(g, "x", MF_I8, 3, (int64_t[]){batch, m, k}),
                       b2 ? in_t(g, "r", MF_I8, 2, (int64_t[]){k, n}) : in_t(g, "r", MF_I8, 3, (int64_t[]){batch, k, n})};
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_QMATMUL, a);
    tref_set_float(MF_OP_QMATMUL, a, "a_scale", 0.03);
    tref_set_int(MF_OP_QMATMUL, a, "a_zero_point", -9);
    tref_set_float(MF_OP_QMATMUL, a, "b_scale", 0.05);
    tref_set_int(MF_OP_QMATMUL, a, "b_zero_point", 13);
    tref_set_float(MF_OP_QMATMUL, a, "y_scale", 0.04 * (double)k);
    tref_set_int(MF_OP_QMATMUL, a, "y_zero_point", 4);
    mf_value *y = cg_node(g, MF_OP_QMATMUL, 2, in, a);
    mf_op_default_attrs(MF_OP_DEQUANTIZE, a);
    tref_set_float(MF_OP_DEQUANTIZE, a, "scale", 0.25);
    mf_value *outs[2] = {y, cg_node(g, MF_OP_DEQUANTIZE, 1, &y, a)};
    mf_graph_set_outputs(g, 2, outs);
    return g;
}

/* dequantize(quantize(x) ) and the codes themselves: f32 -> i8 -> f32 in one kernel. */
static mf_graph *roundtrip_graph(void)
{
    mf_graph *g = mf_graph_new("quantize");
    mf_value *x = in_t(g, "x", MF_F32, 2, (int64_t[]){7, 53});
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_QUANTIZE, a);
    tref_set_float(MF_OP_QUANTIZE, a, "scale", 0.0125);
    tref_set_int(MF_OP_QUANTIZE, a, "zero_point", -9);
    mf_value *q = cg_node(g, MF_OP_QUANTIZE, 1, &x, a);
    mf_op_default_attrs(MF_OP_DEQUANTIZE, a);
    tref_set_float(MF_OP_DEQUANTIZE, a, "scale", 0.0125);
    tref_set_int(MF_OP_DEQUANTIZE, a, "zero_point", -9);
    mf_value *outs[2] = {q, cg_node(g, MF_OP_DEQUANTIZE, 1, &q, a)};
    mf_graph_set_outputs(g, 2, outs);
    return g;
}

/* quantize of values at and next to the half-integer multiples of three scales (row 0 of
 * TIE_A, row 1 of TIE_B, a power of 2 whose quotients are exact ties, row 2 of TIE_C, a
 * mantissa of all ones): the rounding of the reference's division, half to even (a
 * product by fl(1 / scale) alone misses 112 codes of row 0 and 126 of row 2). */
#define TIE_A 0.0137f
#define TIE_B 0.25f
#define TIE_C 0x1.fffffep+1f
static const float tie_scale[3] = {TIE_A, TIE_B, TIE_C};
static mf_graph *ties_graph(void)
{
    mf_graph *g = mf_graph_new("ties");
    mf_value *x = in_t(g, "t", MF_F32, 2, (int64_t[]){3, 3 * 301});
    mf_attr a[MF_MAX_ATTRS];
    mf_value *outs[3];
    for (int i = 0; i < 3; i++) {
        mf_op_default_attrs(MF_OP_QUANTIZE, a);
        tref_set_float(MF_OP_QUANTIZE, a, "scale", tie_scale[i]);
        tref_set_int(MF_OP_QUANTIZE, a, "zero_point", i == 0 ? -9 : 0);
        outs[i] = cg_node(g, MF_OP_QUANTIZE, 1, &x, a);
    }
    mf_graph_set_outputs(g, 3, outs);
    return g;
}

/* dequantize(max_pool2d(x)) of int8 codes, 3x3 stride 2 padding 1 (resnet's). */
/* max_pool2d of int8 (k x k, stride s, padding p, dilation d) and its dequantization. */
static mf_graph *pool_graph(int64_t h, int64_t w, int64_t k, int64_t s, int64_t p, int64_t d)
{
    mf_graph *g = mf_graph_new("qpool");
    mf_value *x = in_t(g, "x", MF_I8, 4, (int64_t[]){1, 5, h, w});
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_MAX_POOL2D, a);
    TREF_INTS(MF_OP_MAX_POOL2D, a, "kernel", k, k);
    TREF_INTS(MF_OP_MAX_POOL2D, a, "stride", s, s);
    TREF_INTS(MF_OP_MAX_POOL2D, a, "padding", p, p);
    TREF_INTS(MF_OP_MAX_POOL2D, a, "dilation", d, d);
    mf_value *y = cg_node(g, MF_OP_MAX_POOL2D, 1, &x, a);
    mf_op_default_attrs(MF_OP_DEQUANTIZE, a);
    tref_set_float(MF_OP_DEQUANTIZE, a, "scale", 0.5);
    mf_value *outs[2] = {y, cg_node(g, MF_OP_DEQUANTIZE, 1, &y, a)};
    mf_graph_set_outputs(g, 2, outs);
    return g;
}

/* ---- the check: same bytes as the reference kernels ------------------------------------ */

static uint64_t next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* Seeded inputs: int8 over their whole range (weights -127..127), f32 scales in
 * (0.5, 1.5) and biases in (-2, 2); the f32 input of the roundtrip spans saturation. */
static mf_tensor *make_input(const mf_value *v, uint64_t seed)
{
    const mf_type *t = &v->type;
    int64_t n = mf_type_numel(t);
    void *data = malloc(mf_type_nbytes(t) + 1);
    uint64_t s = seed;
    for (int64_t i = 0; i < n; i++) {
        uint64_t r = next(&s);
        if (!strcmp(v->name, "t")) { /* ties_graph: (k + 1/2) scale, and the floats next to it */
            int64_t row = i / (3 * 301), k = (i % (3 * 301)) / 3 - 150;
            float base = ((float)k + 0.5f) * tie_scale[row];
            ((float *)data)[i] = i % 3 == 0 ? base : nextafterf(base, i % 3 == 1 ? INFINITY : -INFINITY);
        } else if (t->dtype == MF_I8)
            ((int8_t *)data)[i] = (int8_t)(!strcmp(v->name, "w") ? (int)(r % 255) - 127 : (int)(r % 256) - 128);
        else if (!strcmp(v->name, "ws"))
            ((float *)data)[i] = 0.5f + (float)(r % 1000) / 1000.0f;
        else if (!strcmp(v->name, "b"))
            ((float *)data)[i] = -2.0f + 4.0f * (float)(r % 1000) / 1000.0f;
        else
            ((float *)data)[i] = -2.5f + 5.0f * (float)(r % 100000) / 100000.0f;
    }
    if (pairs && !strcmp(v->name, "w") && t->rank == 4) /* a pair past the limit: its sum at it */
        for (int64_t o = 0, per = n / t->shape[0]; o < t->shape[0]; o++)
            for (int64_t i = o * per; i + 1 < (o + 1) * per; i += 2) {
                int8_t *q = data;
                if (q[i] * q[i + 1] > 0 && abs(q[i] + q[i + 1]) > MF_UBSW_PAIR_MAX)
                    q[i + 1] = (int8_t)(q[i] > 0 ? MF_UBSW_PAIR_MAX - q[i] : -MF_UBSW_PAIR_MAX - q[i]);
            }
    if (taps_first && !strcmp(v->name, "w")) { /* the same weights as the pass reorders them */
        int8_t *tw = malloc((size_t)n + 1);
        mf_qconv_weights_taps_first(data, tw, t->shape[0], t->shape[1], t->shape[2] * t->shape[3]);
        free(data);
        data = tw;
    }
    if (packed_block && !strcmp(v->name, "w")) { /* the same weights as the pass packs them */
        int8_t *pw = malloc((size_t)n + 1);
        mf_qconv_weights_pack(data, pw, t->shape[0], n / t->shape[0], packed_block);
        free(data);
        data = pw;
    }
    mf_tensor *out = NULL;
    assert_int_equal(mf_tensor_from_data(t->dtype, t->rank, t->shape, data, mf_type_nbytes(t), &out), MF_OK);
    free(data);
    return out;
}

/* Marks g's qconv2d taps first as `taps` says (ASKED: where target t's engine reads them so,
 * mf_cg_qconv_taps_first), then packed where t's engine reads packed weights
 * (mf_cg_conv_weight_block), as the pack-weights pass would; make_input lays the weights
 * out so. */
static void pack_for(mf_graph *g, const mf_cg_target *t, taps_mode taps)
{
    mf_cg_target host;
    if (!t) {
        assert_int_equal(mf_cg_target_init(NULL, &host), MF_OK);
        t = &host;
    }
    packed_block = 0;
    taps_first = false;
    for (int i = 0; i < g->nnodes; i++) {
        mf_node *n = g->nodes[i];
        if (n->op != MF_OP_QCONV2D)
            continue;
        bool asked = mf_cg_qconv_taps_first(&t->shape, n);
        if (taps == TAPS_ALWAYS || (taps == TAPS_ASKED && asked)) {
            assert_int_equal(mf_attr_set_int(MF_OP_QCONV2D, n->attrs, "taps_first", 1), MF_OK);
            taps_first = true;
            taps_runs += asked;
        }
        if ((packed_block = mf_cg_conv_weight_block(&t->shape, n)) > 0) {
            assert_int_equal(mf_attr_set_int(MF_OP_QCONV2D, n->attrs, "packed", packed_block), MF_OK);
            packed_runs++;
        }
    }
}

/* Compiles g for target t, runs it with nparts 1 and 4, and compares every output byte
 * with the interpreter's (reference kernels). */
static void check_exact(mf_graph *g, const mf_cg_target *t, const char *what)
{
    int nin = g->ninputs, nout = g->noutputs;
    mf_tensor *in[8] = {0}, *ref[4] = {0};
    for (int i = 0; i < nin; i++)
        in[i] = make_input(g->inputs[i], 977 * (uint64_t)i + 13);
    if (mf_graph_interpret(g, nin, in, nout, ref))
        fail_msg("%s: interpret: %s", what, mf_last_error());
    mf_cg_object obj;
    mf_kernel_fn fn = cg_build(g, &obj, t);
    for (int64_t parts = 1; parts <= 4; parts += 3) {
        void *args[16] = {0};
        for (int i = 0; i < nout; i++) {
            size_t nb = mf_type_nbytes(&g->outputs[i]->type);
            args[i] = malloc(nb + 1);
            memset(args[i], 0x5a, nb);
        }
        for (int i = 0; i < nin; i++)
            args[nout + i] = mf_tensor_data_mut(in[i]);
        cg_run_parts(fn, args, parts);
        for (int i = 0; i < nout; i++) {
            size_t nb = mf_type_nbytes(&g->outputs[i]->type);
            if (memcmp(args[i], mf_tensor_data(ref[i]), nb)) {
                const float *got = args[i], *want = mf_tensor_data(ref[i]);
                size_t at = 0;
                while (at + 1 < nb / 4 && got[at] == want[at])
                    at++;
                fail_msg("%s for %s, nparts %lld: output %d differs from the reference (element %zu: %g, want %g)",
                         what, t ? t->cpu : "host", (long long)parts, i, at, (double)got[at], (double)want[at]);
            }
            free(args[i]);
        }
    }
    mf_cg_object_free(&obj);
    for (int i = 0; i < nin; i++)
        mf_tensor_free(in[i]);
    for (int i = 0; i < nout; i++)
        mf_tensor_free(ref[i]);
}

static const qcase qcases[] = {
    {"3x3 s1 p1", 1, 16, 9, 11, 24, 3, 1, 1, 1, 1, true, true, false, false, false},
    {"3x3 s2 p1 + qadd", 2, 8, 13, 13, 12, 3, 2, 1, 1, 1, true, true, true, false, false},
    {"1x1", 1, 32, 7, 7, 40, 1, 1, 0, 1, 1, false, true, true, false, false},
    {"1x1 s2 per tensor", 1, 20, 10, 10, 8, 1, 2, 0, 1, 1, true, false, false, false, false},
    {"7x7 s2 p3 cin 3 (K % 4 = 3)", 1, 3, 23, 23, 16, 7, 2, 3, 1, 1, true, true, false, true, false},
    {"depthwise 3x3 s1 relu6", 1, 24, 10, 10, 24, 3, 1, 1, 1, 24, true, true, false, true, false},
    {"depthwise 3x3 s2", 1, 16, 15, 15, 16, 3, 2, 1, 1, 16, true, true, false, false, false},
    {"grouped 3x3 dilation 2", 1, 12, 12, 12, 18, 3, 1, 2, 2, 3, true, true, false, false, false},
    {"one output row per chunk", 1, 512, 30, 30, 5, 3, 1, 1, 1, 1, false, true, false, false, false},
    /* the vector im2col: planes read as they are, several chunks and a pixel tail; rows
     * longer than a vector with a strided, dilated tail; a stride past 2 */
    {"1x1 chunks of rows, pixel tail", 2, 256, 21, 19, 6, 1, 1, 0, 1, 1, true, true, false, false, false},
    {"5x5 s2 p2 dilation 2, 45 wide", 1, 5, 9, 45, 7, 5, 2, 2, 2, 1, true, true, false, false, false},
    {"3x3 s3 p0", 1, 8, 16, 35, 9, 3, 3, 0, 1, 1, false, true, false, false, false},
    /* at 16 lanes rows copied 32 or 64 pixels a step (copy_step): a step past the row's end
     * and past the chunk's last row, strided loads of 128 bytes, chunks of 2 rows */
    {"3x3 s1 p1 rows of 50", 1, 12, 5, 50, 20, 3, 1, 1, 1, 1, true, true, true, false, false},
    {"3x3 s2 p1 rows of 37", 1, 8, 9, 73, 10, 3, 2, 1, 1, 1, true, true, false, true, false},
    {"3x3 s1 p1 rows of 70 in chunks of 2 rows", 1, 64, 5, 70, 8, 3, 1, 1, 1, 1, false, true, false, false, true},
    {"3x3 s1 p1 rows of 24", 1, 9, 4, 24, 6, 3, 1, 1, 1, 1, true, false, false, false, false},
    /* without VNNI (int16 windows, 6-channel blocks): channels past the last block, K in
     * passes of KB quads (first, middle and last), a 1x1 whose K % 4 = 2, the padding rows
     * and columns of the unmasked staging loads */
    {"7x7 K 2304 in passes, 13 channels", 1, 256, 7, 7, 13, 3, 1, 1, 1, 1, true, true, true, false, false},
    {"14x14 s2 K 1152 in passes, 2 batches", 2, 128, 14, 14, 8, 3, 2, 1, 1, 1, true, false, false, true, false},
    {"1x1 cin 6 (K % 4 = 2), 11 channels", 1, 6, 9, 13, 11, 1, 1, 0, 1, 1, false, true, false, false, false},
    {"3x3 p2 on 3 x 5 (rows shorter than a vector)", 1, 7, 3, 5, 7, 3, 1, 2, 1, 1, true, true, false, false, false},
    {"3x3 p2 on 3 x 5, cin 8 (quads of taps)", 1, 8, 3, 5, 7, 3, 1, 2, 1, 1, true, true, false, false, true},
    {"5x5 s2 p2 dilation 2 on 45, cin 12", 1, 12, 9, 45, 7, 5, 2, 2, 2, 1, false, true, true, false, false},
    /* with VNNI (and vpmaddubsw pairs) a K whose windows overflow L1 runs tile by tile, every
     * block on one panel of K at a time (panel_sweep): two panels on two tiles; four with a
     * short last one and K % 4 = 1, a partial block, the sums' correction gathered on the
     * first tile of each partition */
    {"K 576 in two panels, 2 tiles + qadd", 1, 64, 10, 10, 20, 3, 1, 1, 1, 1, true, true, true, false, false},
    {"K 1161 in four panels, K % 4 = 1, 9 channels", 2, 129, 6, 6, 9, 3, 1, 1, 1, 1, true, true, false, false, true},
    /* the direct depthwise engine (lower_qconv_dw.c): phases of stride 1 and 2, rows of
     * several blocks and a partial one, channels not a multiple of the lanes, kernels of
     * 2 dot products a row, chunks of rows; dilation and stride 3 stay on col */
    {"dw 3x3 s1 p1 relu, 112 wide", 1, 5, 6, 112, 5, 3, 1, 1, 1, 5, true, true, false, false, true},
    {"dw 3x3 s2 p1 relu, 19 channels, 57 wide", 1, 19, 9, 57, 19, 3, 2, 1, 1, 19, true, true, false, false, true},
    {"dw 5x5 s1 p2 per tensor", 1, 7, 13, 13, 7, 5, 1, 2, 1, 7, true, false, false, false, false},
    {"dw 5x5 s2 p2 relu6", 1, 12, 16, 31, 12, 5, 2, 2, 1, 12, true, true, false, true, false},
    {"dw 3x3 s1 p0 7x7 + qadd, 2 batches", 2, 33, 7, 7, 33, 3, 1, 0, 1, 33, true, true, true, false, false},
    {"dw 3x3 s1 p2 on 3 x 5", 1, 9, 3, 5, 9, 3, 1, 2, 1, 9, false, true, false, false, false},
    {"dw 7x7 s2 p3", 1, 6, 20, 20, 6, 7, 2, 3, 1, 6, true, true, false, false, false},
    {"dw 3x3 s2 p0 no bias", 1, 17, 14, 14, 17, 3, 2, 0, 1, 17, false, true, false, false, false},
    {"dw 3x3 s1 p1 relu6 14x14", 1, 40, 14, 14, 40, 3, 1, 1, 1, 40, true, true, false, true, false},
    {"dw 3x3 s1 p1, 64 x 200 in chunks", 1, 3, 64, 200, 3, 3, 1, 1, 1, 3, true, true, false, false, true},
    {"dw 3x3 s4 p1 (one phase with VNNI)", 1, 5, 17, 37, 5, 3, 4, 1, 1, 5, true, true, false, false, false},
    {"dw 3x3 dilation 2 (col)", 1, 8, 11, 11, 8, 3, 1, 2, 2, 8, true, true, false, false, false},
    {"dw 3x3 s3 (col)", 1, 8, 13, 13, 8, 3, 3, 1, 1, 8, true, true, false, false, false},
    /* vpmaddubsw pairs on a small plane: lanes along output channels, packed weights
     * (oc_sweep): a residual, per tensor scales and 2 batches, 4 blocks for 4 partitions, a
     * plane of 3 x 3 (the last tile's last pixel idle) */
    {"oc 7x7 K 576, 32 channels + qadd", 1, 64, 7, 7, 32, 3, 1, 1, 1, 1, true, true, true, false, false},
    {"oc 14x14 s2 to 7x7, per tensor, 2 batches", 2, 128, 14, 14, 48, 3, 2, 1, 1, 1, true, false, false, true, false},
    {"oc 1x1 on 5x5, 64 channels, no bias", 1, 1024, 5, 5, 64, 1, 1, 0, 1, 1, false, true, false, false, true},
    {"oc 3x3 on 3 x 3, 16 channels", 1, 40, 3, 3, 16, 3, 1, 1, 1, 1, true, true, false, false, false},
};
#define NCASES (int)(sizeof qcases / sizeof qcases[0])

static void check_all(const mf_cg_target *t)
{
    /* pass 1 pairs: vpmaddubsw on AVX2 targets without VNNI; pass 2 the i32 sums; weights
     * in ONNX's order in pass 0, taps first where the target asks in passes 1 and 2, and in
     * pass 3 wherever the orders differ (channels of no whole quads: col's general copy) */
    for (int pass = 0; pass < 4; pass++)
        for (int i = 0; i < NCASES; i++) {
            pairs = pass == 1, sums = pass == 2;
            codes_out = i % 2 == 0; /* both ends of the codes in every pass */
            bool depthwise = qcases[i].groups == qcases[i].cin && qcases[i].groups > 1;
            if (pairs && depthwise && qcases[i].d == 1 && qcases[i].s < 3)
                continue; /* the direct depthwise engine: w_bits does not change it */
            if (pass == 3 && (depthwise || qcases[i].k == 1))
                continue; /* one tap or one channel a group: the orders are the same */
            char what[160];
            snprintf(what, sizeof what, "%s%s", qcases[i].what,
                     pairs ? " (w_pair_max 128)" : sums ? " (acc=1)" : pass == 3 ? " (taps first)" : "");
            mf_graph *g = qconv_graph(&qcases[i]);
            pack_for(g, t, pass == 0 ? TAPS_NEVER : pass == 3 ? TAPS_ALWAYS : TAPS_ASKED);
            check_exact(g, t, what);
            packed_block = 0;
            taps_first = false;
            mf_graph_destroy(g);
        }
    pairs = codes_out = false;
    static const int64_t lin[][4] = {{1, 512, 37, 1}, {3, 70, 9, 0}, {2, 5, 4, 1}};
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < sizeof lin / sizeof lin[0]; i++) {
            sums = pass == 1;
            mf_graph *g = qlinear_graph(lin[i][0], lin[i][1], lin[i][2], lin[i][3]);
            check_exact(g, t, sums ? "qlinear acc=1" : "qlinear");
            mf_graph_destroy(g);
        }
    sums = false;
    /* blocked (lower_qmatmul.c): one row tile and several, an overlapping last one, blocks of
     * columns with a partial last one, K not a multiple of 4; unblocked on the scalar path */
    static const int64_t mm[][5] = {{2, 5, 70, 9, 0},   {1, 3, 512, 33, 1}, {3, 4, 7, 17, 1}, {1, 1, 1, 1, 0},
                                    {2, 13, 45, 70, 0}, {1, 24, 64, 64, 1}, {1, 7, 130, 150, 1}};
    for (size_t i = 0; i < sizeof mm / sizeof mm[0]; i++) {
        mf_graph *g = qmatmul_graph(mm[i][0], mm[i][1], mm[i][2], mm[i][3], mm[i][4]);
        check_exact(g, t, "qmatmul");
        mf_graph_destroy(g);
    }
    mf_graph *g = roundtrip_graph();
    check_exact(g, t, "quantize + dequantize");
    mf_graph_destroy(g);
    g = ties_graph();
    check_exact(g, t, "quantize at half-integers");
    mf_graph_destroy(g);
    g = pool_graph(17, 17, 3, 2, 1, 1);
    check_exact(g, t, "max_pool2d of int8");
    mf_graph_destroy(g);
    g = pool_graph(9, 45, 2, 1, 1, 2); /* rows past a vector, dilated */
    check_exact(g, t, "max_pool2d of int8, 45 wide");
    mf_graph_destroy(g);
    g = pool_graph(11, 40, 3, 3, 0, 1);
    check_exact(g, t, "max_pool2d of int8, stride 3");
    mf_graph_destroy(g);
    /* resnet's 112 x 112; rows shorter than a staging vector, and under 4 bytes */
    static const int64_t pools[][6] = {{112, 112, 3, 2, 1, 1}, {6, 13, 3, 2, 1, 1}, {5, 3, 2, 1, 1, 1}, {7, 9, 3, 1, 1, 1}};
    for (size_t i = 0; i < sizeof pools / sizeof pools[0]; i++) {
        g = pool_graph(pools[i][0], pools[i][1], pools[i][2], pools[i][3], pools[i][4], pools[i][5]);
        check_exact(g, t, "max_pool2d of int8 (more shapes)");
        mf_graph_destroy(g);
    }
}

static void test_exact_on_targets(void **state)
{
    mf_cg_target host;
    assert_int_equal(mf_cg_target_init(NULL, &host), MF_OK);
    check_all(NULL);
    int ran = 0, skipped = 0;
    for (int i = 0; i < NQ; i++) {
        mf_cg_target t;
        assert_int_equal(mf_cg_target_init(qtargets[i].cpu, &t), MF_OK);
        if (!host_runs(&host, &qtargets[i])) {
            printf("  %s: not run (this host cannot execute its code; its assembly is checked)\n", qtargets[i].cpu);
            skipped++;
            continue;
        }
        int before = packed_runs, taps_before = taps_runs;
        check_all(&t);
        if (t.shape.ubsw && packed_runs - before < 4) /* the oc cases above took oc_sweep */
            fail_msg("%s: %d qconv graphs ran with packed weights, want 4 or more", t.cpu, packed_runs - before);
        if (taps_runs - taps_before < 20) /* the 3x3 cases of whole quads, in passes 1 and 2 */
            fail_msg("%s: %d qconv graphs ran taps first as the target asked, want 20 or more", t.cpu, taps_runs - taps_before);
        ran++;
    }
    printf("  int8 kernels equal to the reference on host %s + %d named targets; %d skipped\n", host.cpu, ran, skipped);
}

/* ---- AVX-512 without BW: the int8 kernels at 8 lanes ------------------------------------
 * cascadelake with -avx512bw (a VM may hide it) keeps AVX-512F, VL and VNNI: LLVM cannot
 * select the 512-bit packs there (it aborted), so the int8 kernels run on 8 lanes with the
 * 256-bit vpdpbusd; without VL as well there is no VNNI at 256 bits either, and they take
 * AVX2's vpmaddwd / vpmaddubsw.  Checked in the assembly (with VL no zmm in an int8 kernel) and,
 * where the host runs cascadelake's code, byte for byte against the reference. */
static const struct {
    const char *features;
    bool bw, vnni;
} nobw[] = {{NULL, true, true}, {"-avx512bw", false, true}, {"-avx512bw,-avx512vl", false, false}};

static void test_bw_flag(void **state)
{
    static const struct { const char *cpu; bool bw; } want[] = {
        {"x86-64-v2", false}, {"haswell", false}, {"skylake-avx512", true}, {"cascadelake", true},
        {"znver4", true}, {"alderlake", false},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        mf_cg_target t;
        assert_int_equal(mf_cg_target_init(want[i].cpu, &t), MF_OK);
        if (t.shape.bw != want[i].bw)
            fail_msg("%s: bw %d, want %d", want[i].cpu, t.shape.bw, want[i].bw);
    }
    for (size_t i = 0; i < sizeof nobw / sizeof nobw[0]; i++) {
        mf_cg_target t;
        assert_int_equal(mf_cg_target_init_features("cascadelake", nobw[i].features, &t), MF_OK);
        if (t.shape.lanes != 16 || t.shape.bw != nobw[i].bw || t.shape.vnni != nobw[i].vnni)
            fail_msg("cascadelake %s: lanes %d bw %d vnni %d", nobw[i].features, t.shape.lanes, t.shape.bw, t.shape.vnni);
        mf_cg_target_shape q = mf_cg_int8_shape(&t.shape);
        if (q.lanes != (nobw[i].bw ? 16 : 8) || q.vnni != nobw[i].vnni || q.ubsw != !nobw[i].vnni)
            fail_msg("cascadelake %s: int8 shape lanes %d vnni %d ubsw %d", nobw[i].features, q.lanes, q.vnni, q.ubsw);
    }
    mf_cg_target t;
    assert_int_not_equal(mf_cg_target_init_features("cascadelake", "avx512bw", &t), MF_OK);
    assert_int_not_equal(mf_cg_target_init_features("cascadelake", "-avx512bw,", &t), MF_OK);
    assert_int_not_equal(mf_cg_target_init_features(NULL, "-avx512bw", &t), MF_OK);
}

static void test_without_bw(void **state)
{
    static const qcase q = {"3x3", 1, 16, 9, 9, 32, 3, 1, 1, 1, 1, true, true, true, false, false};
    static const qcase dw = {"dw 3x3", 1, 32, 28, 28, 32, 3, 1, 1, 1, 32, true, true, false, true, false};
    mf_graph *gs[5] = {qconv_graph(&q), qlinear_graph(1, 256, 16, true), qconv_graph(&dw),
                       qmatmul_graph(2, 24, 64, 40, false)};
    pairs = true;
    gs[4] = qconv_graph(&q);
    pairs = false;
    mf_cg_target host;
    assert_int_equal(mf_cg_target_init(NULL, &host), MF_OK);
    const named *casc = &qtargets[3];
    int ran = 0, skipped = 0;
    for (size_t i = 1; i < sizeof nobw / sizeof nobw[0]; i++) {
        mf_cg_target t;
        assert_int_equal(mf_cg_target_init_features(casc->cpu, nobw[i].features, &t), MF_OK);
        for (int k = 0; k < 5; k++) {
            mf_cg_options o = {&t, 3, 1};
            char *text = NULL;
            if (mf_cg_compile_asm(gs[k], &o, &text))
                fail_msg("%s for cascadelake %s: %s", gs[k]->name, nobw[i].features, mf_last_error());
            /* with VL, 8 lanes are ymm; without it LLVM widens masked and 16-lane int32 ops to zmm */
            if (nobw[i].vnni && strstr(text, "zmm"))
                fail_msg("%s for cascadelake %s: zmm in an int8 kernel", gs[k]->name, nobw[i].features);
            bool dp = strstr(text, "vpdpbusd") != NULL, ubs = strstr(text, "vpmaddubsw") != NULL;
            if (dp != nobw[i].vnni || (!nobw[i].vnni && !strstr(text, "vpmaddwd")))
                fail_msg("%s for cascadelake %s: vpdpbusd %d", gs[k]->name, nobw[i].features, dp);
            if (ubs != (k == 4 && !nobw[i].vnni))
                fail_msg("%s for cascadelake %s: vpmaddubsw %d", gs[k]->name, nobw[i].features, ubs);
            free(text);
        }
        if (!host_runs(&host, casc)) {
            skipped++;
            continue;
        }
        int before = packed_runs, taps_before = taps_runs;
        check_all(&t);
        if (t.shape.ubsw && packed_runs - before < 4) /* the oc cases above took oc_sweep */
            fail_msg("%s: %d qconv graphs ran with packed weights, want 4 or more", t.cpu, packed_runs - before);
        if (taps_runs - taps_before < 20) /* the 3x3 cases of whole quads, in passes 1 and 2 */
            fail_msg("%s: %d qconv graphs ran taps first as the target asked, want 20 or more", t.cpu, taps_runs - taps_before);
        ran++;
    }
    printf("  cascadelake without AVX-512BW: 2 feature strings compiled, %d run against the reference, %d skipped\n",
           ran, skipped);
    for (int k = 0; k < 5; k++)
        mf_graph_destroy(gs[k]);
}

/* ---- qmatmul against f32 ------------------------------------------------------------------
 * The int8 product of two activations, dequantized, within 2 % (max |a - b| / max |b|) of
 * the f32 product of the same quantized inputs (their real values), y_scale from the f32
 * result's range: the blocked kernel's tiles, overlapping last row tile and partial column
 * block, K % 4 = 2, on every target the host runs (the others counted as skipped). */
static double qmatmul_vs_f32(const mf_cg_target *t, const int64_t s[4])
{
    int64_t B = s[0], M = s[1], K = s[2], N = s[3];
    const float as = 0.021f, bs = 0.034f;
    const int azp = -11, bzp = 7;
    mf_graph *g = mf_graph_new("qmatmul_f32");
    mf_value *in[2] = {in_t(g, "x", MF_I8, 3, (int64_t[]){B, M, K}), in_t(g, "r", MF_I8, 3, (int64_t[]){B, K, N})};
    mf_tensor *ta = make_input(in[0], 5), *tb = make_input(in[1], 6);
    const int8_t *a = mf_tensor_data(ta), *b = mf_tensor_data(tb);
    double *want = calloc((size_t)(B * M * N), sizeof *want), peak = 0;
    for (int64_t bi = 0; bi < B; bi++)
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++) {
                double acc = 0;
                for (int64_t k = 0; k < K; k++)
                    acc += (double)((a[(bi * M + m) * K + k] - azp) * as) * (double)((b[(bi * K + k) * N + n] - bzp) * bs);
                want[(bi * M + m) * N + n] = acc;
                peak = fmax(peak, fabs(acc));
            }
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_QMATMUL, at);
    tref_set_float(MF_OP_QMATMUL, at, "a_scale", as);
    tref_set_int(MF_OP_QMATMUL, at, "a_zero_point", azp);
    tref_set_float(MF_OP_QMATMUL, at, "b_scale", bs);
    tref_set_int(MF_OP_QMATMUL, at, "b_zero_point", bzp);
    float ys = (float)(peak / 127.0);
    tref_set_float(MF_OP_QMATMUL, at, "y_scale", ys);
    mf_value *y = cg_node(g, MF_OP_QMATMUL, 2, in, at);
    mf_graph_set_outputs(g, 1, &y);
    mf_cg_object obj;
    mf_kernel_fn fn = cg_build(g, &obj, t);
    int8_t *out = malloc((size_t)(B * M * N));
    void *args[3] = {out, mf_tensor_data_mut(ta), mf_tensor_data_mut(tb)};
    cg_run_parts(fn, args, 2);
    double err = 0;
    for (int64_t i = 0; i < B * M * N; i++)
        err = fmax(err, fabs(out[i] * (double)ys - want[i]));
    mf_cg_object_free(&obj);
    free(out);
    free(want);
    mf_tensor_free(ta);
    mf_tensor_free(tb);
    mf_graph_destroy(g);
    return err / peak;
}

static void test_qmatmul_against_f32(void **state)
{
    static const int64_t shapes[][4] = {{2, 13, 70, 37}, {1, 30, 128, 70}};
    mf_cg_target host;
    assert_int_equal(mf_cg_target_init(NULL, &host), MF_OK);
    int ran = 0, skipped = 0;
    double worst = 0;
    for (int i = -1; i < NQ + 2; i++) {
        mf_cg_target t = host;
        const named *need = i < 0 ? NULL : &qtargets[i < NQ ? i : 3];
        if (i >= NQ) /* cascadelake without BW, with and without VL */
            assert_int_equal(mf_cg_target_init_features("cascadelake", nobw[i - NQ + 1].features, &t), MF_OK);
        else if (i >= 0)
            assert_int_equal(mf_cg_target_init(qtargets[i].cpu, &t), MF_OK);
        if (need && !host_runs(&host, need)) {
            skipped++;
            continue;
        }
        for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
            double e = qmatmul_vs_f32(&t, shapes[k]);
            if (e > 0.02)
                fail_msg("qmatmul %lldx%lldx%lldx%lld for %s: %.3f %% from f32", (long long)shapes[k][0],
                         (long long)shapes[k][1], (long long)shapes[k][2], (long long)shapes[k][3], t.cpu, 100 * e);
            worst = fmax(worst, e);
        }
        ran++;
    }
    printf("  qmatmul within %.2f %% of f32 on the host and %d named targets; %d skipped\n", 100 * worst, ran - 1, skipped);
}

/* ---- assembly: vpdpbusd where the target has VNNI, nowhere else ------------------------- */

static void test_dot_product_of_targets(void **state)
{
    static const qcase q = {"3x3", 1, 16, 9, 9, 32, 3, 1, 1, 1, 1, true, true, true, false, false};
    static const qcase plain = {"3x3", 1, 16, 9, 9, 32, 3, 1, 1, 1, 1, true, true, false, false, false};
    static const qcase dw = {"dw 3x3", 1, 32, 28, 28, 32, 3, 1, 1, 1, 32, true, true, false, true, false};
    mf_graph *gs[4] = {qconv_graph(&q), qlinear_graph(1, 256, 16, true), qconv_graph(&dw)};
    pairs = true;
    codes_out = true;
    gs[3] = qconv_graph(&plain);
    pairs = codes_out = false;
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < NQ; i++) {
            mf_cg_target t;
            assert_int_equal(mf_cg_target_init(qtargets[i].cpu, &t), MF_OK);
            mf_cg_options o = {&t, 3, 1};
            char *text = NULL;
            if (mf_cg_compile_asm(gs[k], &o, &text))
                fail_msg("%s: %s", qtargets[i].cpu, mf_last_error());
            bool has = strstr(text, "vpdpbusd") != NULL;
            if (has != t.shape.vnni)
                fail_msg("%s for %s: vpdpbusd %s", gs[k]->name, qtargets[i].cpu, has ? "present" : "missing");
            if (!t.shape.vnni && !strstr(text, "pmaddwd")) /* vpmaddwd, or SSE's pmaddwd */
                fail_msg("%s for %s: no pmaddwd either", gs[k]->name, qtargets[i].cpu);
            /* vpmaddubsw only for limited pairs on AVX2 without VNNI (haswell here) */
            bool ubs = strstr(text, "vpmaddubsw") != NULL, want_ubs = k == 3 && t.shape.ubsw;
            if (ubs != want_ubs)
                fail_msg("%s (w_pair_max %d) for %s: vpmaddubsw %s", gs[k]->name, k == 3 ? MF_UBSW_PAIR_MAX : 256, qtargets[i].cpu,
                         ubs ? "present" : "missing");
            /* the requantization divides only without FMA (quant.c's div_by_const) */
            bool div = strstr(text, "divps") || strstr(text, "divss"); /* qlinear: scalar on SSE */
            if (div != !t.shape.fma)
                fail_msg("%s for %s: divps %s", gs[k]->name, qtargets[i].cpu, div ? "present" : "missing");
            /* codes packed to bytes by packsswb (mf_cg_pack_codes): the depthwise engine's
             * phases with VNNI, vpmaddubsw's tiles of 4 x 2 vectors; not the codes that a
             * fused qadd takes (k 0) */
            bool pack = strstr(text, "packsswb") != NULL;
            if ((k == 2 && pack != t.shape.vnni) || (k == 3 && t.shape.ubsw && !pack) || (k == 0 && pack))
                fail_msg("%s for %s: packsswb %s", gs[k]->name, qtargets[i].cpu, pack ? "present" : "missing");
            /* packed relu6 codes rounded and converted by one vcvtps2dq, no vrndscaleps /
             * vroundps (quant.c's rounded_lanes) */
            bool rounds = strstr(text, "rndscaleps") || strstr(text, "roundps");
            if (k == 2 && pack && t.shape.fma && (rounds || !strstr(text, "vcvtps2dq")))
                fail_msg("%s for %s: rounded by %s", gs[k]->name, qtargets[i].cpu, rounds ? "a round instruction" : "?");
            free(text);
        }
    for (int k = 0; k < 4; k++)
        mf_graph_destroy(gs[k]);
}

/* int8 max pooling's loads (lower_qpool.c): masked with AVX-512; without, plain vector loads
 * from a staging row: no byte inserts (LLVM's lowering of byte loads at the row's edges:
 * pinsrb, or insertq on AMD's SSE4a targets) and no byte-wise loads. */
static void test_qpool_asm(void **state)
{
    static const struct { const char *cpu; bool masked; } pt[] = {
        {"x86-64", false}, {"x86-64-v2", false}, {"haswell", false}, {"znver3", false}, {"btver2", false},
        {"skylake-avx512", true}, {"cascadelake", true}, {"znver4", true},
    };
    mf_graph *g = pool_graph(112, 112, 3, 2, 1, 1);
    for (size_t i = 0; i < sizeof pt / sizeof pt[0]; i++) {
        mf_cg_target t;
        assert_int_equal(mf_cg_target_init(pt[i].cpu, &t), MF_OK);
        mf_cg_options o = {&t, 3, 1};
        char *text = NULL;
        if (mf_cg_compile_asm(g, &o, &text))
            fail_msg("%s: %s", pt[i].cpu, mf_last_error());
        static const char *const never[] = {"insertq", "pinsrb", "movsbl", "movzbl"};
        for (size_t k = 0; k < sizeof never / sizeof never[0]; k++)
            if (strstr(text, never[k]))
                fail_msg("max_pool2d of int8 for %s: %s present", pt[i].cpu, never[k]);
        bool masked = strstr(text, "{%k") != NULL;
        if (masked != pt[i].masked)
            fail_msg("max_pool2d of int8 for %s: masked loads %s", pt[i].cpu, masked ? "present" : "missing");
        free(text);
    }
    mf_graph_destroy(g);
}

/* Which depthwise convolutions the direct engine takes, per target: stride 1 and 2 (and 4
 * with VNNI's 4 taps per dot), not dilation or stride 3, not a grouped conv. */
static void test_depthwise_choice(void **state)
{
    static const struct { int64_t s, d, cin; bool vnni, plain; } want[] = {
        {1, 1, 32, true, true}, {2, 1, 32, true, true}, {4, 1, 32, true, false},
        {1, 2, 32, false, false}, {3, 1, 32, false, false}, {1, 1, 64, false, false},
    };
    for (int i = 0; i < NQ; i++) {
        mf_cg_target t;
        assert_int_equal(mf_cg_target_init(qtargets[i].cpu, &t), MF_OK);
        mf_cg_ctx c = {.shape = t.shape, .vw = t.shape.lanes};
        for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
            mf_cg_conv_geom g = {.batch = 1, .cin = want[k].cin, .h = 56, .w = 56, .cout = 32, .kh = 3, .kw = 3,
                                 .oh = 28, .ow = 28, .sh = want[k].s, .sw = want[k].s, .ph = 1, .pw = 1,
                                 .dh = want[k].d, .dw = want[k].d, .groups = 32};
            bool expect = t.shape.vnni ? want[k].vnni : want[k].plain;
            if (mf_cg_qdw_choose(&c, &g) != expect)
                fail_msg("%s: depthwise stride %lld dilation %lld cin %lld: direct engine %s", t.cpu,
                         (long long)want[k].s, (long long)want[k].d, (long long)want[k].cin, expect ? "not taken" : "taken");
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vnni_flag),
        cmocka_unit_test(test_ubsw_flag),
        cmocka_unit_test(test_bw_flag),
        cmocka_unit_test(test_dot_product_of_targets),
        cmocka_unit_test(test_without_bw),
        cmocka_unit_test(test_qmatmul_against_f32),
        cmocka_unit_test(test_depthwise_choice),
        cmocka_unit_test(test_qpool_asm),
        cmocka_unit_test(test_exact_on_targets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
