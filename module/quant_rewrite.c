/* quant_rewrite.c — the f32 graph to int8 rewrite of post-training quantization, from the
 * calibrated range of every value.  Walks the nodes once in order, keeping per source value
 * its f32 form and its int8 form (value, scale, zero point) in the new graph, each made only
 * when a consumer asks for it (conv2d, linear, matmul of two activations and add become int8
 * layers): a quantize where an int8 region begins, a dequantize where it
 * ends, and nothing between two int8 layers that share a tensor.  Weights are quantized
 * symmetrically (zero point 0, -127..127, conv weights' pairs limited for vpmaddubsw on
 * request), per output channel or per tensor; activations
 * asymmetrically per tensor over their range widened to include 0. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"

void mf_qparams_of(mf_qrange r, float *scale, int *zero_point)
{
    float lo = r.lo < 0 ? r.lo : 0, hi = r.hi > 0 ? r.hi : 0;
    if (!isfinite(lo) || !isfinite(hi))
        lo = 0, hi = 1;
    if (hi - lo < 1e-6f)
        hi = lo + 1e-6f; /* a constant-zero tensor: any positive scale */
    float s = (hi - lo) / 255.0f;
    float z = nearbyintf(-128.0f - lo / s);
    *scale = s;
    *zero_point = z < -128 ? -128 : z > 127 ? 127 : (int)z;
}

typedef struct qform {
    mf_value *v; /* NULL: not made yet */
    float scale;
    int zp;
} qform;

typedef struct rewriter {
    const mf_graph *f;
    const mf_qrange *ranges;
    bool per_channel;
    bool pairs; /* qconv2d weights: pairs limited to MF_UBSW_PAIR_MAX */
    double pair_max_error; /* > 0: only where the weights' rounding error stays within it */
    mf_graph *g;
    mf_value **fmap; /* by source value id: the f32 form */
    qform *qmap;     /* by source value id: the int8 form */
    bool *absorbed;  /* by source node id: fused into an earlier int8 layer */
    mf_qlayer *layers;
    int nlayers;
} rewriter;

static mf_status nomem(void)
{
    return mf_error(MF_ERR_NOMEM, "quantize: out of memory");
}

static mf_status add_node(rewriter *r, mf_op op, int nin, mf_value *const *in,
                          const mf_attr *attrs, mf_value **out)
{
    mf_node *n;
    mf_status s = mf_graph_add_node(r->g, op, nin, in, attrs, &n);
    if (s)
        return mf_error_context(s, "quantize");
    *out = n->outputs[0];
    return MF_OK;
}

/* A constant of the new graph over data (retained), named after `like` with suffix. */
static mf_value *add_const(rewriter *r, const mf_value *like, const char *suffix,
                           const mf_type *t, mf_buffer *data)
{
    char name[256];
    if (like && like->name)
        snprintf(name, sizeof name, "%s%s", like->name, suffix);
    return mf_graph_add_const(r->g, like && like->name ? name : NULL, t, data);
}

/* The f32 form of source value v: v itself copied over, or the dequantized int8 form. */
static mf_status fget(rewriter *r, const mf_value *v, mf_value **out)
{
    if ((*out = r->fmap[v->id]))
        return MF_OK;
    if (v->is_const) {
        if (!(*out = r->fmap[v->id] = add_const(r, v, "", &v->type, v->data)))
            return nomem();
        return MF_OK;
    }
    qform q = r->qmap[v->id];
    if (!q.v)
        return mf_error(MF_ERR_INTERNAL, "quantize: value %d has no form yet", v->id);
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_DEQUANTIZE, a);
    mf_attr_set_float(MF_OP_DEQUANTIZE, a, "scale", q.scale);
    mf_attr_set_int(MF_OP_DEQUANTIZE, a, "zero_point", q.zp);
    mf_status s = add_node(r, MF_OP_DEQUANTIZE, 1, &q.v, a, out);
    if (!s)
        r->fmap[v->id] = *out;
    return s;
}

/* The int8 form of source value v, quantizing its f32 form over its calibrated range. */
static mf_status qget(rewriter *r, const mf_value *v, qform *out)
{
    if (r->qmap[v->id].v) {
        *out = r->qmap[v->id];
        return MF_OK;
    }
    mf_value *fv;
    mf_status s = fget(r, v, &fv);
    if (s)
        return s;
    qform q;
    mf_qparams_of(r->ranges[v->id], &q.scale, &q.zp);
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_QUANTIZE, a);
    mf_attr_set_float(MF_OP_QUANTIZE, a, "scale", q.scale);
    mf_attr_set_int(MF_OP_QUANTIZE, a, "zero_point", q.zp);
    if ((s = add_node(r, MF_OP_QUANTIZE, 1, &fv, a, &q.v)))
        return s;
    *out = r->qmap[v->id] = q;
    return MF_OK;
}

/* The only node using v, when v has exactly one use and is no graph output; else NULL. */
static const mf_node *sole_user(const mf_graph *f, const mf_value *v)
{
    if (mf_graph_num_uses(f, v) != 1)
        return NULL;
    for (int i = 0; i < f->noutputs; i++)
        if (f->outputs[i] == v)
            return NULL;
    for (int i = 0; i < f->nnodes; i++)
        for (int j = 0; j < f->nodes[i]->ninputs; j++)
            if (f->nodes[i]->inputs[j] == v)
                return f->nodes[i];
    return NULL;
}

/* Fuses a relu or clamp that alone follows `from` into the int8 layer: its result becomes
 * the layer's, [*lo, *hi] its range.  Returns the layer's result value. */
static const mf_value *fuse_activation(rewriter *r, const mf_value *from, double *lo, double *hi)
{
    *lo = -INFINITY, *hi = INFINITY;
    const mf_node *u = sole_user(r->f, from);
    if (!u || (u->op != MF_OP_RELU && u->op != MF_OP_CLAMP))
        return from;
    if (u->op == MF_OP_RELU)
        *lo = 0;
    else
        *lo = mf_attr_float(u->op, u->attrs, "min"), *hi = mf_attr_float(u->op, u->attrs, "max");
    r->absorbed[u->id] = true;
    return u->outputs[0];
}

static void set_requant(mf_op op, mf_attr *a, const char *prefix, qform q)
{
    char name[32];
    snprintf(name, sizeof name, "%s_scale", prefix);
    mf_attr_set_float(op, a, name, q.scale);
    snprintf(name, sizeof name, "%s_zero_point", prefix);
    mf_attr_set_int(op, a, name, q.zp);
}

/* Codes of the weights wd[from, to) (rows of per) at scale s into q: round to nearest within
 * -127..127; with pairs, a pair (2j, 2j + 1 of a row) of one sign whose sum passes
 * MF_UBSW_PAIR_MAX in magnitude (at weight_scale's scale, only by a rounding of the
 * division) is set to the pair summing to it nearest the unrounded codes, so that
 * vpmaddubsw's u8 x s8 pair sums stay within 255 x 128 < 2^15. */
static void quantize_rows(const float *wd, int64_t from, int64_t to, int64_t per, float s, bool pairs, int8_t *q)
{
    const int lim = MF_UBSW_PAIR_MAX;
    for (int64_t i = from; i < to; i++) {
        float v = nearbyintf(wd[i] / s);
        q[i] = (int8_t)(v < -127 ? -127 : v > 127 ? 127 : v);
    }
    for (int64_t o = from; pairs && o < to; o += per)
        for (int64_t i = o; i + 1 < o + per; i += 2) {
            int a = q[i], b = q[i + 1], sign = a + b < 0 ? -1 : 1;
            if (a * b <= 0 || abs(a + b) <= lim)
                continue;
            int na = (int)nearbyintf((fabsf(wd[i] / s) - fabsf(wd[i + 1] / s) + (float)lim) / 2);
            na = na < lim - 127 ? lim - 127 : na > 127 ? 127 : na;
            q[i] = (int8_t)(sign * na), q[i + 1] = (int8_t)(sign * (lim - na));
        }
}

/* The largest |w[2j] + w[2j + 1]| of one sign over the rows of per weights in [from, to). */
static float pair_peak(const float *wd, int64_t from, int64_t to, int64_t per)
{
    float peak = 0;
    for (int64_t o = from; o < to; o += per)
        for (int64_t i = o; i + 1 < o + per; i += 2)
            if (wd[i] * wd[i + 1] > 0 && fabsf(wd[i] + wd[i + 1]) > peak)
                peak = fabsf(wd[i] + wd[i + 1]);
    return peak;
}

/* The scale of weights wd[from, to): max|w| / 127, or with pairs at least the largest pair
 * sum / MF_UBSW_PAIR_MAX, so that no pair needs clipping (clipping the few pairs past the
 * limit instead changes large weights by much: resnet18's error 15 % against 2 %;
 * pair_scale searches between the two). */
static float weight_scale(const float *wd, int64_t from, int64_t to, int64_t per, bool pairs)
{
    float m = 0;
    for (int64_t i = from; i < to; i++)
        m = fabsf(wd[i]) > m ? fabsf(wd[i]) : m;
    float s = m > 0 ? m / 127.0f : 1.0f, p = pairs ? pair_peak(wd, from, to, per) / (float)MF_UBSW_PAIR_MAX : 0;
    return p > s ? p : s;
}

static double rows_error(const float *wd, int64_t from, int64_t to, float s, const int8_t *q)
{
    double e2 = 0;
    for (int64_t i = from; i < to; i++) {
        double d = (double)s * q[i] - wd[i];
        e2 += d * d;
    }
    return e2;
}

/* With pairs, the scale between max|w| / 127 (pairs past the limit moved onto it) and the
 * largest pair sum / MF_UBSW_PAIR_MAX (none past it) whose codes' squared error is least
 * (PAIR_SCALES + 1 candidates); q is scratch. */
#define PAIR_SCALES 24
static float pair_scale(const float *wd, int64_t from, int64_t to, int64_t per, int8_t *q)
{
    float lo = weight_scale(wd, from, to, per, false), hi = weight_scale(wd, from, to, per, true), best = hi;
    double least = INFINITY;
    for (int j = 0; j <= PAIR_SCALES && hi > lo; j++) {
        float s = lo + (hi - lo) * (float)j / PAIR_SCALES;
        quantize_rows(wd, from, to, per, s, true, q);
        double e = rows_error(wd, from, to, s, q);
        if (e < least)
            least = e, best = s;
    }
    return best;
}

/* The codes and scales of the weights wd (cout rows of per), pairs limited or not; returns
 * the relative L2 rounding error ||sc q - w|| / ||w||. */
static double quantize_all(const rewriter *r, const float *wd, int64_t cout, int64_t per, bool pairs, int8_t *q, float *sc)
{
    int64_t nscales = r->per_channel ? cout : 1;
    double e2 = 0, w2 = 0;
    for (int64_t k = 0; k < nscales; k++) {
        int64_t from = r->per_channel ? k * per : 0, to = r->per_channel ? (k + 1) * per : cout * per;
        sc[k] = pairs ? pair_scale(wd, from, to, per, q) : weight_scale(wd, from, to, per, false);
        quantize_rows(wd, from, to, per, sc[k], pairs, q);
        for (int64_t i = from; i < to; i++) {
            double d = (double)sc[k] * q[i] - wd[i];
            e2 += d * d, w2 += (double)wd[i] * wd[i];
        }
    }
    return w2 > 0 ? sqrt(e2 / w2) : 0;
}

/* The weight w ([Cout, ...], f32) as i8 constants: values (-127..127) and scales.  With
 * *pairs the pairs are limited for vpmaddubsw, unless that makes the rounding error pass
 * r->pair_max_error (> 0): then *pairs becomes false and the codes are the plain ones. */
static mf_status quantize_weight(rewriter *r, const mf_value *w, bool *pairs, mf_value **wq, mf_value **ws)
{
    int64_t cout = w->type.shape[0], per = cout ? mf_type_numel(&w->type) / cout : 0;
    int64_t nscales = r->per_channel ? cout : 1;
    mf_type qt = w->type, st = {.dtype = MF_F32, .rank = 1, .shape = {nscales}};
    qt.dtype = MF_I8;
    mf_buffer *qb = mf_buffer_new_host(mf_type_nbytes(&qt) ? mf_type_nbytes(&qt) : 1);
    mf_buffer *sb = mf_buffer_new_host(mf_type_nbytes(&st));
    mf_status s = MF_OK;
    if (!qb || !sb) {
        s = nomem();
        goto out;
    }
    const float *wd = w->data->data;
    int8_t *q = qb->data;
    float *sc = sb->data;
    if (*pairs && quantize_all(r, wd, cout, per, true, q, sc) > r->pair_max_error && r->pair_max_error > 0)
        *pairs = false;
    if (!*pairs)
        quantize_all(r, wd, cout, per, false, q, sc);
    *wq = add_const(r, w, "_q", &qt, qb);
    *ws = add_const(r, w, "_scale", &st, sb);
    if (!*wq || !*ws)
        s = nomem();
out:
    mf_buffer_release(qb);
    mf_buffer_release(sb);
    return s;
}

static mf_status record_layer(rewriter *r, const mf_value *out, int nsrc, const mf_value *const *src,
                              const mf_value *result)
{
    mf_qlayer *grown = realloc(r->layers, sizeof *grown * (size_t)(r->nlayers + 1));
    if (!grown)
        return nomem();
    r->layers = grown;
    mf_qlayer *l = &r->layers[r->nlayers++];
    l->node = out->producer;
    l->nsrc = nsrc;
    for (int i = 0; i < nsrc; i++)
        l->src[i] = src[i]->id;
    l->result = result->id;
    return MF_OK;
}

bool mf_mod_conv_takes_pairs(const mf_node *conv)
{
    mf_conv2d_view v = mf_conv2d_of(conv->op, conv->attrs);
    const mf_type *x = &conv->inputs[0]->type;
    if (v.groups > 1 && x->rank == 4 && v.groups == x->shape[1])
        return false;
    /* the default level's rule: quantization does not know the level a module will compile at */
    return !mf_winograd_fits(&conv->inputs[1]->type, &conv->outputs[0]->type, &v, 1);
}

static bool const_with_data(const mf_value *v)
{
    return v->is_const && v->data && v->type.dtype == MF_F32;
}

/* conv2d or linear with constant weights (and bias): qconv2d / qlinear.  *done false: the
 * node does not qualify and stays f32. */
static mf_status quantize_anchor(rewriter *r, const mf_node *n, bool *done)
{
    const mf_value *x = n->inputs[0], *w = n->inputs[1], *b = n->ninputs > 2 ? n->inputs[2] : NULL;
    *done = false;
    if (x->type.dtype != MF_F32 || !const_with_data(w) || (b && !const_with_data(b)) ||
        !r->ranges[x->id].seen)
        return MF_OK;
    double lo, hi;
    const mf_value *result = fuse_activation(r, n->outputs[0], &lo, &hi);
    mf_op op = n->op == MF_OP_CONV2D ? MF_OP_QCONV2D : MF_OP_QLINEAR;
    /* limited pairs for qconv2d's vpmaddubsw path, which only targets without VNNI take;
     * not depthwise layers (their engine multiplies int16 there) nor the 3x3 layers those
     * targets run as f32 Winograd (passes/qconv_winograd.c): they keep their weights */
    bool pairs = r->pairs && op == MF_OP_QCONV2D && mf_mod_conv_takes_pairs(n);
    qform xq = {0}, yq = {0};
    mf_value *in[4];
    mf_status s = qget(r, x, &xq);
    if (!s)
        s = quantize_weight(r, w, &pairs, &in[1], &in[2]);
    if (!s && b)
        s = fget(r, b, &in[3]);
    if (s)
        return s;
    in[0] = xq.v;
    mf_qparams_of(r->ranges[result->id], &yq.scale, &yq.zp);
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    static const char *const geometry[] = {"stride", "padding", "dilation"};
    for (int i = 0; op == MF_OP_QCONV2D && i < 3; i++) {
        const mf_attr *g = mf_attr_get(n->op, n->attrs, geometry[i]);
        mf_attr_set_ints(op, a, geometry[i], g->n, g->ints);
    }
    if (op == MF_OP_QCONV2D) {
        mf_attr_set_int(op, a, "groups", mf_attr_int(n->op, n->attrs, "groups"));
        if (pairs)
            mf_attr_set_int(op, a, "w_pair_max", MF_UBSW_PAIR_MAX);
    }
    set_requant(op, a, "x", xq);
    set_requant(op, a, "y", yq);
    mf_attr_set_float(op, a, "min", lo);
    mf_attr_set_float(op, a, "max", hi);
    if ((s = add_node(r, op, b ? 4 : 3, in, a, &yq.v)))
        return s;
    r->qmap[result->id] = yq;
    *done = true;
    return record_layer(r, yq.v, 1, &x, result);
}

/* result = op(a, b) on int8 (qadd, qmatmul): both operands asymmetric per tensor, the result
 * requantized over its calibrated range and clamped to clamp[0..1] where clamp is given. */
static mf_status quantize_binary(rewriter *r, mf_op op, const mf_value *a, const mf_value *b,
                                 const mf_value *result, const double *clamp, bool *done)
{
    qform aq = {0}, bq = {0}, yq = {0};
    mf_status s = qget(r, a, &aq);
    if (!s)
        s = qget(r, b, &bq);
    if (s)
        return s;
    mf_qparams_of(r->ranges[result->id], &yq.scale, &yq.zp);
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(op, at);
    set_requant(op, at, "a", aq);
    set_requant(op, at, "b", bq);
    set_requant(op, at, "y", yq);
    if (clamp) {
        mf_attr_set_float(op, at, "min", clamp[0]);
        mf_attr_set_float(op, at, "max", clamp[1]);
    }
    mf_value *in[2] = {aq.v, bq.v};
    if ((s = add_node(r, op, 2, in, at, &yq.v)))
        return s;
    r->qmap[result->id] = yq;
    *done = true;
    const mf_value *src[2] = {a, b};
    return record_layer(r, yq.v, 2, src, result);
}

/* add(a, b) of one shape where an operand is int8 already: qadd. */
static mf_status quantize_add(rewriter *r, const mf_node *n, bool *done)
{
    const mf_value *a = n->inputs[0], *b = n->inputs[1];
    *done = false;
    if (mf_attr_float(n->op, n->attrs, "alpha") != 1.0 || !mf_type_equal(&a->type, &b->type) ||
        a->type.dtype != MF_F32 || !(r->qmap[a->id].v || r->qmap[b->id].v) ||
        a->is_const || b->is_const || !r->ranges[a->id].seen || !r->ranges[b->id].seen)
        return MF_OK;
    double clamp[2];
    const mf_value *result = fuse_activation(r, n->outputs[0], &clamp[0], &clamp[1]);
    return quantize_binary(r, MF_OP_QADD, a, b, result, clamp, done);
}

/* Whether matmul node n fits qmatmul: two calibrated f32 activations of rank 2 or more,
 * unpacked, with equal batch dims or a b of rank 2 (ir/op_semantics.c's infer_qmatmul). */
static bool qmatmul_fits(const rewriter *r, const mf_node *n)
{
    const mf_value *a = n->inputs[0], *b = n->inputs[1];
    const mf_type *at = &a->type, *bt = &b->type;
    if (a->is_const || b->is_const || at->dtype != MF_F32 || bt->dtype != MF_F32 || mf_matmul_packed(n->attrs) ||
        !r->ranges[a->id].seen || !r->ranges[b->id].seen || at->rank < 2 || bt->rank < 2)
        return false;
    return bt->rank == 2 || (bt->rank == at->rank && !memcmp(at->shape, bt->shape, sizeof(int64_t) * (size_t)(at->rank - 2)));
}

/* matmul of two activations (attention's q k^T and its weights times v): qmatmul, both
 * operands asymmetric per tensor, the product requantized over its calibrated range. */
static mf_status quantize_matmul(rewriter *r, const mf_node *n, bool *done)
{
    const mf_value *a = n->inputs[0], *b = n->inputs[1], *result = n->outputs[0];
    *done = false;
    if (!qmatmul_fits(r, n))
        return MF_OK;
    return quantize_binary(r, MF_OP_QMATMUL, a, b, result, NULL, done);
}

/* max_pool2d and views of a tensor that is int8 only: the same op on the int8 tensor, with
 * the same scale and zero point. */
static mf_status keep_int8(rewriter *r, const mf_node *n, bool *done)
{
    const mf_value *x = n->inputs[0];
    *done = false;
    bool passes = n->op == MF_OP_MAX_POOL2D || n->op == MF_OP_DROPOUT ||
                  n->op == MF_OP_FLATTEN || n->op == MF_OP_RESHAPE;
    if (!passes || n->ninputs != 1 || !r->qmap[x->id].v || r->fmap[x->id])
        return MF_OK;
    qform q = r->qmap[x->id];
    mf_status s = add_node(r, n->op, 1, &q.v, n->attrs, &q.v);
    if (!s)
        r->qmap[n->outputs[0]->id] = q, *done = true;
    return s;
}

static mf_status copy_f32(rewriter *r, const mf_node *n)
{
    mf_value **in = calloc((size_t)n->ninputs + 1, sizeof *in);
    if (!in)
        return nomem();
    mf_status s = MF_OK;
    for (int i = 0; i < n->ninputs && !s; i++)
        s = fget(r, n->inputs[i], &in[i]);
    mf_value *out = NULL;
    if (!s)
        s = add_node(r, n->op, n->ninputs, in, n->attrs, &out);
    free(in);
    if (!s)
        r->fmap[n->outputs[0]->id] = out;
    return s;
}

static mf_status rewrite_node(rewriter *r, const mf_node *n)
{
    bool done = false;
    mf_status s = MF_OK;
    if (n->op == MF_OP_CONV2D || n->op == MF_OP_LINEAR)
        s = quantize_anchor(r, n, &done);
    else if (n->op == MF_OP_ADD)
        s = quantize_add(r, n, &done);
    else if (n->op == MF_OP_MATMUL)
        s = quantize_matmul(r, n, &done);
    else
        s = keep_int8(r, n, &done);
    return s || done ? s : copy_f32(r, n);
}

mf_status mf_mod_quant_rewrite(const mf_graph *f, const mf_qrange *ranges, bool per_channel, bool ubsw_pairs,
                               double ubsw_max_error, mf_graph **out, mf_qlayer **layers, int *nlayers)
{
    *out = NULL;
    rewriter r = {.f = f, .ranges = ranges, .per_channel = per_channel, .pairs = ubsw_pairs,
                  .pair_max_error = ubsw_max_error, .g = mf_graph_new(f->name)};
    r.fmap = calloc((size_t)f->nvalues + 1, sizeof *r.fmap);
    r.qmap = calloc((size_t)f->nvalues + 1, sizeof *r.qmap);
    r.absorbed = calloc((size_t)f->nnodes + 1, sizeof *r.absorbed);
    mf_value **outs = calloc((size_t)f->noutputs + 1, sizeof *outs);
    mf_status s = MF_OK;
    if (!r.g || !r.fmap || !r.qmap || !r.absorbed || !outs) {
        s = nomem();
        goto out;
    }
    for (int i = 0; i < f->ninputs && !s; i++) {
        const mf_value *v = f->inputs[i];
        if (!(r.fmap[v->id] = mf_graph_add_input(r.g, v->name, &v->type)))
            s = nomem();
    }
    for (int i = 0; i < f->nnodes && !s; i++)
        if (!r.absorbed[f->nodes[i]->id])
            s = rewrite_node(&r, f->nodes[i]);
    for (int i = 0; i < f->noutputs && !s; i++)
        s = fget(&r, f->outputs[i], &outs[i]);
    if (!s)
        s = mf_graph_set_outputs(r.g, f->noutputs, outs);
out:
    free(r.fmap);
    free(r.qmap);
    free(r.absorbed);
    free(outs);
    if (s) {
        mf_graph_destroy(r.g);
        free(r.layers);
        return s;
    }
    *out = r.g;
    if (layers)
        *layers = r.layers, *nlayers = r.nlayers;
    else
        free(r.layers);
    return MF_OK;
}
