/* quantize.c — post-training quantization's public entry points (mlufuse_quant.h): prepare
 * the f32 model (the seed's mean/std as a prologue or folded into the first convolution,
 * then the f32 passes up to conv-bn), calibrate it, rewrite it to int8, and measure the
 * result against the f32 model on held-out inputs, per model and per layer. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"

/* The f32 passes before quantizing: batch norms folded into their convolutions first, so
 * the folded weights are what gets quantized. */
#define PREPARE_PIPELINE "dce,simplify,cse,fold,conv-bn,simplify,dce"

mf_quantize_options mf_quantize_default_options(void)
{
    return (mf_quantize_options){.dtype = MF_I8, .method = MF_QUANT_MINMAX, .percentile = 99.99,
                                  .ubsw_max_error = MF_UBSW_MAX_ERROR_DEFAULT};
}

static mf_status check_options(const mf_graph *g, const mf_quantize_options *o)
{
    if (!g || !o)
        return mf_error(MF_ERR_INVALID, "quantize: %s is NULL", g ? "the options" : "the graph");
    if (o->dtype != MF_I8 && o->dtype != MF_F16)
        return mf_error(MF_ERR_UNSUPPORTED, "quantize: dtype %s is not supported (i8 and f16 are)",
                        mf_dtype_name(o->dtype));
    if (o->dtype == MF_F16 && o->firstconv)
        return mf_error(MF_ERR_INVALID, "quantize: firstconv is for int8 (half takes mean/std as a prologue)");
    if (o->dtype == MF_I8 && (o->ncalib < 1 || !o->calib))
        return mf_error(MF_ERR_INVALID, "quantize: no calibration inputs");
    if (o->dtype == MF_I8 && g->ninputs && o->ncalib > INT_MAX / g->ninputs)
        return mf_error(MF_ERR_INVALID, "quantize: %d calibration sets of %d inputs are too many", o->ncalib,
                        g->ninputs);
    /* half has no ranges to measure: its calibration inputs, if any, are not read */
    for (int i = 0; o->dtype == MF_I8 && i < o->ncalib * g->ninputs; i++)
        if (!o->calib[i] || !mf_type_equal(&o->calib[i]->type, &g->inputs[i % g->ninputs]->type)) {
            char want[96] = "?", got[96] = "NULL";
            mf_type_str(&g->inputs[i % g->ninputs]->type, want, sizeof want);
            if (o->calib[i])
                mf_type_str(&o->calib[i]->type, got, sizeof got);
            return mf_error(MF_ERR_SHAPE, "quantize: calibration set %d, input %d is %s, expected %s",
                            i / g->ninputs, i % g->ninputs, got, want);
        }
    if (o->method == MF_QUANT_PERCENTILE && !(o->percentile > 50 && o->percentile <= 100))
        return mf_error(MF_ERR_INVALID, "quantize: percentile %g is not in (50, 100]", o->percentile);
    if (o->nmean != o->nstd)
        return mf_error(MF_ERR_INVALID, "quantize: %d mean values but %d std values", o->nmean, o->nstd);
    if (o->firstconv && !o->nmean)
        return mf_error(MF_ERR_INVALID, "quantize: firstconv needs mean and std");
    if (!o->nmean)
        return MF_OK;
    const mf_type *x = g->ninputs ? &g->inputs[0]->type : NULL;
    if (!x || x->rank < 2 || x->dtype != MF_F32)
        return mf_error(MF_ERR_INVALID, "quantize: mean/std need an f32 input of rank 2 or more (N, C, ...)");
    if (o->nmean < 1 || o->nmean > MF_QUANT_MAX_CHANNELS || (o->nmean != 1 && o->nmean != x->shape[1]))
        return mf_error(MF_ERR_INVALID, "quantize: %d mean/std values for an input of %lld channels (give 1 or %lld)",
                        o->nmean, (long long)x->shape[1], (long long)x->shape[1]);
    for (int i = 0; i < o->nstd; i++)
        if (!(o->std[i] != 0) || !isfinite(o->std[i]) || !isfinite(o->mean[i]))
            return mf_error(MF_ERR_INVALID, "quantize: std[%d] = %g, mean[%d] = %g: std must be finite and non-zero",
                            i, o->std[i], i, o->mean[i]);
    return MF_OK;
}

/* A [1, C, 1, ...] constant of per-channel values (C = n) for input type x. */
static mf_value *channel_const(mf_graph *g, const mf_type *x, int n, const float *v, float (*f)(float))
{
    mf_type t = {.dtype = MF_F32, .rank = x->rank};
    for (int i = 0; i < x->rank; i++)
        t.shape[i] = i == 1 ? n : 1;
    mf_buffer *b = mf_buffer_new_host(sizeof(float) * (size_t)n);
    if (!b)
        return NULL;
    for (int i = 0; i < n; i++)
        ((float *)b->data)[i] = f(v[i]);
    mf_value *c = mf_graph_add_const(g, NULL, &t, b);
    mf_buffer_release(b);
    return c;
}

static float same(float x)
{
    return x;
}

static float inverse(float x)
{
    return 1.0f / x;
}

/* A copy of g whose input 0 goes through (x - mean) * (1 / std) first. */
static mf_status with_prologue(const mf_graph *g, const mf_quantize_options *o, mf_graph **out)
{
    mf_graph *c = mf_graph_new(g->name);
    mf_value **map = calloc((size_t)g->nvalues + 1, sizeof *map);
    mf_status s = c && map ? MF_OK : mf_error(MF_ERR_NOMEM, "quantize: out of memory");
    for (int i = 0; i < g->ninputs && !s; i++)
        if (!(map[g->inputs[i]->id] = mf_graph_add_input(c, g->inputs[i]->name, &g->inputs[i]->type)))
            s = mf_error(MF_ERR_NOMEM, "quantize: out of memory");
    if (!s) {
        const mf_type *x = &g->inputs[0]->type;
        mf_value *mean = channel_const(c, x, o->nmean, o->mean, same);
        mf_value *rstd = channel_const(c, x, o->nstd, o->std, inverse);
        mf_node *sub = NULL, *mul = NULL;
        s = mean && rstd ? MF_OK : mf_error(MF_ERR_NOMEM, "quantize: out of memory");
        if (!s)
            s = mf_graph_add_node(c, MF_OP_SUB, 2, (mf_value *[]){map[g->inputs[0]->id], mean}, NULL, &sub);
        if (!s)
            s = mf_graph_add_node(c, MF_OP_MUL, 2, (mf_value *[]){sub->outputs[0], rstd}, NULL, &mul);
        if (!s)
            map[g->inputs[0]->id] = mul->outputs[0];
    }
    if (!s)
        s = mf_mod_copy_body(g, c, map, NULL);
    free(map);
    if (s)
        mf_graph_destroy(c);
    else
        *out = c;
    return s;
}

/* Folds (x - mean) / std into the conv2d that alone reads input 0: w' = w / std[c],
 * b' = b - sum over the window of w * mean[c] / std[c]. */
static mf_status fold_firstconv(mf_graph *g, const mf_quantize_options *o)
{
    mf_value *x = g->inputs[0];
    mf_node *conv = NULL;
    for (int i = 0; i < g->nnodes && !conv; i++)
        for (int j = 0; j < g->nodes[i]->ninputs; j++)
            if (g->nodes[i]->inputs[j] == x) {
                conv = g->nodes[i];
                break;
            }
    if (!conv || conv->op != MF_OP_CONV2D || conv->inputs[0] != x || mf_graph_num_uses(g, x) != 1 ||
        !conv->inputs[1]->is_const || !conv->inputs[1]->data ||
        (conv->ninputs > 2 && (!conv->inputs[2]->is_const || !conv->inputs[2]->data)))
        return mf_error(MF_ERR_INVALID, "quantize: firstconv: input %%%s must feed one conv2d with constant weights alone (it feeds %s)",
                        x->name ? x->name : "0", conv ? mf_op_get(conv->op)->name : "nothing");
    const mf_value *w = conv->inputs[1], *b = conv->ninputs > 2 ? conv->inputs[2] : NULL;
    mf_conv2d_view v = mf_conv2d_of(conv->op, conv->attrs);
    bool zero_mean = true;
    for (int i = 0; i < o->nmean; i++)
        zero_mean &= o->mean[i] == 0;
    if (!zero_mean && (v.padding[0] || v.padding[1]))
        mf_logf(MF_LOG_WARNING, "module", "quantize: firstconv with a non-zero mean and padding: the padded border differs from normalizing first");
    int64_t cout = w->type.shape[0], cin_g = w->type.shape[1], win = w->type.shape[2] * w->type.shape[3];
    int64_t cout_g = cout / v.groups;
    mf_type bt = {.dtype = MF_F32, .rank = 1, .shape = {cout}};
    mf_buffer *nw = mf_buffer_new_host(mf_type_nbytes(&w->type)), *nb = mf_buffer_new_host(mf_type_nbytes(&bt));
    mf_value **ins = mf_arena_alloc(g->arena, 3 * sizeof *ins);
    mf_status s = nw && nb && ins ? MF_OK : mf_error(MF_ERR_NOMEM, "quantize: out of memory");
    if (!s) {
        const float *wd = w->data->data, *bd = b ? b->data->data : NULL;
        float *ow = nw->data, *ob = nb->data;
        for (int64_t oc = 0; oc < cout; oc++) {
            double shift = 0;
            for (int64_t ic = 0; ic < cin_g; ic++) {
                int64_t ch = (oc / cout_g) * cin_g + ic, k = o->nmean == 1 ? 0 : ch;
                for (int64_t i = 0; i < win; i++) {
                    int64_t at = (oc * cin_g + ic) * win + i;
                    ow[at] = wd[at] / o->std[k];
                    shift += (double)wd[at] * o->mean[k] / o->std[k];
                }
            }
            ob[oc] = (float)((bd ? bd[oc] : 0.0) - shift);
        }
        mf_value *cw = mf_graph_add_const(g, w->name, &w->type, nw);
        mf_value *cb = mf_graph_add_const(g, b ? b->name : NULL, &bt, nb);
        if (!cw || !cb)
            s = mf_error(MF_ERR_NOMEM, "quantize: out of memory");
        else
            ins[0] = x, ins[1] = cw, ins[2] = cb, conv->inputs = ins, conv->ninputs = 3;
    }
    mf_buffer_release(nw);
    mf_buffer_release(nb);
    bool *keep_all = s ? NULL : calloc((size_t)g->nnodes + 1, sizeof *keep_all);
    if (!s && !keep_all)
        s = mf_error(MF_ERR_NOMEM, "quantize: out of memory");
    if (!s)
        mf_graph_remove_nodes(g, keep_all); /* drops the replaced weights, renumbers */
    free(keep_all);
    return s;
}

/* Copies g's constants (through copy_const when given), nodes and outputs into c, whose
 * inputs are mapped already: map[id of a value of g] is its value in c. */
mf_status mf_mod_copy_body(const mf_graph *g, mf_graph *c, mf_value **map,
                           mf_status (*copy_const)(mf_graph *c, const mf_value *v, mf_value **out))
{
    mf_status s = MF_OK;
    for (int i = 0; i < g->nvalues && !s; i++) {
        const mf_value *v = g->values[i];
        if (!v->is_const)
            continue;
        if (copy_const)
            s = copy_const(c, v, &map[v->id]);
        else if (!(map[v->id] = mf_graph_add_const(c, v->name, &v->type, v->data)))
            s = mf_error(MF_ERR_NOMEM, "quantize: out of memory");
    }
    for (int i = 0; i < g->nnodes && !s; i++) {
        const mf_node *n = g->nodes[i];
        mf_value **ins = mf_arena_alloc(c->arena, sizeof *ins * (size_t)(n->ninputs + 1));
        mf_node *copy;
        if (!ins) {
            s = mf_error(MF_ERR_NOMEM, "quantize: out of memory");
            break;
        }
        for (int j = 0; j < n->ninputs; j++)
            ins[j] = map[n->inputs[j]->id];
        if (!(s = mf_graph_add_node(c, n->op, n->ninputs, ins, n->attrs, &copy)))
            map[n->outputs[0]->id] = copy->outputs[0];
    }
    mf_value **outs = s ? NULL : calloc((size_t)g->noutputs + 1, sizeof *outs);
    if (!s && !outs)
        s = mf_error(MF_ERR_NOMEM, "quantize: out of memory");
    for (int i = 0; i < g->noutputs && !s; i++)
        outs[i] = map[g->outputs[i]->id];
    if (!s)
        s = mf_graph_set_outputs(c, g->noutputs, outs);
    free(outs);
    return s;
}


/* The f32 graph that gets calibrated and quantized: g with opt's preprocessing, optimized. */
static mf_status prepare(const mf_graph *g, const mf_quantize_options *o, mf_graph **out)
{
    mf_graph *f = NULL;
    mf_status s = o->nmean && !o->firstconv ? with_prologue(g, o, &f) : mf_graph_clone(g, NULL, &f);
    mf_opt_options oo = mf_opt_default_options();
    oo.passes = PREPARE_PIPELINE;
    if (!s)
        s = mf_graph_optimize(f, &oo, NULL);
    if (!s && o->firstconv)
        s = fold_firstconv(f, o);
    if (s) {
        mf_graph_destroy(f);
        return s;
    }
    *out = f;
    return MF_OK;
}

mf_status mf_mod_quantize(const mf_graph *g, const mf_quantize_options *o, mf_graph **out,
                          mf_graph **f_out, mf_qlayer **layers, int *nlayers)
{
    if (!out)
        return mf_error(MF_ERR_INVALID, "quantize: out is NULL");
    *out = NULL;
    mf_status s = check_options(g, o);
    if (s)
        return s;
    mf_graph *f = NULL;
    if ((s = prepare(g, o, &f)))
        return s;
    if (o->dtype == MF_F16) {
        s = mf_mod_quant_half(f, out);
        if (nlayers)
            *nlayers = 0;
        if (f_out && !s)
            *f_out = f;
        else
            mf_graph_destroy(f);
        return s;
    }
    mf_qrange *ranges = calloc((size_t)f->nvalues + 1, sizeof *ranges);
    s = ranges ? mf_mod_quant_calibrate(f, o, ranges) : mf_error(MF_ERR_NOMEM, "quantize: out of memory");
    if (!s)
        s = mf_mod_quant_rewrite(f, ranges, o->per_channel != 0, o->ubsw_pairs != 0, o->ubsw_max_error, out, layers, nlayers);
    if (!s && (s = mf_graph_verify(*out)))
        mf_graph_destroy(*out), *out = NULL;
    free(ranges);
    if (f_out && !s)
        *f_out = f;
    else
        mf_graph_destroy(f);
    return s;
}

mf_status mf_quantize(const mf_graph *g, const mf_quantize_options *opt, mf_graph **out)
{
    return mf_mod_quantize(g, opt, out, NULL, NULL, NULL);
}

void mf_quant_pair_counts(const mf_graph *q, int *limited, int *kept, int *winograd)
{
    *limited = *kept = *winograd = 0;
    for (int i = 0; q && i < q->nnodes; i++) {
        const mf_node *n = q->nodes[i];
        if (n->op != MF_OP_QCONV2D || mf_attr_int(n->op, n->attrs, "groups") != 1)
            continue;
        if (mf_attr_int(n->op, n->attrs, "w_pair_max") < 256)
            (*limited)++;
        else if (mf_mod_conv_takes_pairs(n))
            (*kept)++;
        else
            (*winograd)++;
    }
}
