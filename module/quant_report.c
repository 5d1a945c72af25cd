/* quant_report.c — how far a quantized model is from its f32 source on held-out inputs:
 * relative L2 error and top-1 agreement of the outputs, and per int8 layer the error its
 * own quantization adds — the layer's reference kernel run on the f32 model's activations,
 * quantized with the layer's input parameters, against the f32 model's result there — so
 * the layer that loses the accuracy is found without guessing. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"

typedef struct layer_ctx {
    const mf_qlayer *layers;
    int nlayers, nwant;
    const mf_value **want;
    int *slot_of_id;   /* source value id -> index in want */
    float **data;      /* by want index: this set's values */
    double *diff2, *ref2;
} layer_ctx;

/* Runs op's reference kernel on host data; out is allocated (the caller frees). */
static mf_status ref_run(mf_op op, const mf_attr *attrs, int nin, const void *const *in,
                         const mf_type *types, void **out, mf_type *out_type)
{
    mf_status s = mf_op_infer(op, attrs, nin, types, out_type);
    if (s)
        return s;
    if (!(*out = malloc(mf_type_nbytes(out_type) + 1)))
        return mf_error(MF_ERR_NOMEM, "quantize report: out of memory");
    return mf_mod_ref_eval(op, attrs, nin, in, types, *out, out_type, NULL);
}

/* Quantizes f32 data of type t with the scale and zero point named prefix_* in n's attrs. */
static mf_status quantize_as(const mf_node *n, const char *prefix, const float *data,
                             const mf_type *t, void **out)
{
    char sc[32], zp[32];
    snprintf(sc, sizeof sc, "%s_scale", prefix);
    snprintf(zp, sizeof zp, "%s_zero_point", prefix);
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_QUANTIZE, a);
    mf_attr_set_float(MF_OP_QUANTIZE, a, "scale", mf_attr_float(n->op, n->attrs, sc));
    mf_attr_set_int(MF_OP_QUANTIZE, a, "zero_point", mf_attr_int(n->op, n->attrs, zp));
    mf_type ft = *t, qt;
    ft.dtype = MF_F32;
    return ref_run(MF_OP_QUANTIZE, a, 1, (const void *[]){data}, &ft, out, &qt);
}

static mf_status layer_error(layer_ctx *c, int li)
{
    const mf_qlayer *l = &c->layers[li];
    const mf_node *n = l->node;
    static const char *const prefixes[2][2] = {{"x", NULL}, {"a", "b"}};
    const void *in[4] = {0};
    void *owned[2] = {0}, *out = NULL;
    mf_type types[4], ot;
    mf_status s = MF_OK;
    for (int i = 0; i < n->ninputs && i < 4; i++) {
        types[i] = n->inputs[i]->type;
        if (i < l->nsrc) {
            const float *d = c->data[c->slot_of_id[l->src[i]]];
            s = s ? s : quantize_as(n, prefixes[l->nsrc - 1][i], d, &types[i], &owned[i]);
            in[i] = owned[i];
        } else {
            in[i] = n->inputs[i]->data ? n->inputs[i]->data->data : NULL;
        }
    }
    if (!s)
        s = ref_run(n->op, n->attrs, n->ninputs, in, types, &out, &ot);
    if (!s) {
        const int8_t *q = out;
        const float *want = c->data[c->slot_of_id[l->result]];
        float ys = (float)mf_attr_float(n->op, n->attrs, "y_scale");
        int yzp = (int)mf_attr_int(n->op, n->attrs, "y_zero_point");
        for (int64_t i = 0, len = mf_type_numel(&ot); i < len; i++) {
            double got = (double)(q[i] - yzp) * ys, d = got - want[i];
            c->diff2[li] += d * d, c->ref2[li] += (double)want[i] * want[i];
        }
    }
    free(owned[0]), free(owned[1]), free(out);
    return s;
}

static mf_status see_layers(int set, int k, const mf_value *v, const float *d, int64_t n, void *ctx)
{
    (void)set, (void)v;
    layer_ctx *c = ctx;
    free(c->data[k]);
    if (!(c->data[k] = malloc(sizeof(float) * (size_t)n + 1)))
        return mf_error(MF_ERR_NOMEM, "quantize report: out of memory");
    memcpy(c->data[k], d, sizeof(float) * (size_t)n);
    mf_status s = MF_OK;
    for (int li = 0; k == c->nwant - 1 && li < c->nlayers && !s; li++)
        s = layer_error(c, li);
    return s;
}

/* Per layer errors over the held-out sets. */
static mf_status layer_errors(const mf_graph *f, const mf_qlayer *layers, int nlayers, int nsets,
                              mf_tensor *const *held, mf_quant_report *r)
{
    layer_ctx c = {.layers = layers, .nlayers = nlayers};
    c.want = calloc((size_t)f->nvalues + 1, sizeof *c.want);
    c.slot_of_id = calloc((size_t)f->nvalues + 1, sizeof *c.slot_of_id);
    c.data = calloc((size_t)f->nvalues + 1, sizeof *c.data);
    c.diff2 = calloc((size_t)nlayers + 1, sizeof *c.diff2);
    c.ref2 = calloc((size_t)nlayers + 1, sizeof *c.ref2);
    r->layers = calloc((size_t)nlayers + 1, sizeof *r->layers);
    mf_status s = c.want && c.slot_of_id && c.data && c.diff2 && c.ref2 && r->layers
                      ? MF_OK : mf_error(MF_ERR_NOMEM, "quantize report: out of memory");
    for (int i = 0; i < f->nvalues && !s; i++)
        c.slot_of_id[i] = -1;
    for (int li = 0; li < nlayers && !s; li++)
        for (int j = 0; j <= layers[li].nsrc; j++) {
            int id = j < layers[li].nsrc ? layers[li].src[j] : layers[li].result;
            if (c.slot_of_id[id] < 0)
                c.slot_of_id[id] = c.nwant, c.want[c.nwant++] = f->values[id];
        }
    if (!s && c.nwant)
        s = mf_mod_quant_observe(f, NULL, nsets, held, c.nwant, c.want, see_layers, &c);
    for (int li = 0; li < nlayers && !s; li++) {
        const mf_node *n = layers[li].node;
        snprintf(r->layers[li].name, sizeof r->layers[li].name, "%s (node %d, %s)",
                 mf_op_get(n->op)->name, n->id, f->values[layers[li].result]->name ? f->values[layers[li].result]->name : "unnamed");
        r->layers[li].rel_l2 = c.ref2[li] > 0 ? sqrt(c.diff2[li] / c.ref2[li]) : sqrt(c.diff2[li]);
    }
    r->nlayers = s ? 0 : nlayers;
    for (int i = 0; c.data && i < c.nwant; i++)
        free(c.data[i]);
    free(c.want), free(c.slot_of_id), free(c.data), free(c.diff2), free(c.ref2);
    return s;
}

/* Runs g compiled for the CPU on every set; outs[set * noutputs + j]. */
static mf_status run_all(const mf_graph *g, int nsets, mf_tensor *const *held, mf_tensor **outs)
{
    mf_module_options mo = mf_module_default_options();
    mo.device = MF_DEVICE_CPU;
    mf_module *m = NULL;
    mf_status s = mf_module_create(g, &mo, &m);
    for (int i = 0; i < nsets && !s; i++)
        s = mf_module_run(m, g->ninputs, held + (size_t)i * (size_t)g->ninputs, g->noutputs,
                          outs + (size_t)i * (size_t)g->noutputs);
    mf_module_destroy(m);
    return s;
}

static void compare_outputs(const mf_graph *g, int nsets, mf_tensor **fo, mf_tensor **qo, mf_quant_report *r)
{
    double d2 = 0, r2 = 0, dmax = 0, rmax = 0;
    for (int i = 0; i < nsets * g->noutputs; i++) {
        if (mf_tensor_dtype(fo[i]) != MF_F32 || mf_tensor_dtype(qo[i]) != MF_F32)
            continue;
        const float *a = mf_tensor_data(fo[i]), *b = mf_tensor_data(qo[i]);
        int64_t n = mf_tensor_numel(fo[i]);
        for (int64_t k = 0; k < n; k++) {
            double d = (double)b[k] - a[k];
            d2 += d * d, r2 += (double)a[k] * a[k];
            dmax = fabs(d) > dmax ? fabs(d) : dmax;
            rmax = fabs(a[k]) > rmax ? fabs(a[k]) : rmax;
        }
        if (i % g->noutputs || mf_tensor_rank(fo[i]) < 1)
            continue;
        int64_t row = mf_tensor_dim(fo[i], mf_tensor_rank(fo[i]) - 1);
        for (int64_t start = 0; row > 0 && start < n; start += row) {
            int64_t am = start, bm = start;
            for (int64_t k = start; k < start + row; k++)
                am = a[k] > a[am] ? k : am, bm = b[k] > b[bm] ? k : bm;
            r->top1_agree += am == bm;
            r->top1_total++;
        }
    }
    r->rel_l2 = r2 > 0 ? sqrt(d2 / r2) : sqrt(d2);
    r->max_rel = rmax > 0 ? dmax / rmax : dmax;
}

mf_status mf_quantize_with_report(const mf_graph *g, const mf_quantize_options *opt, int nsets,
                                  mf_tensor *const *held, mf_graph **out, mf_quant_report *r)
{
    if (!r || !g)
        return mf_error(MF_ERR_INVALID, "quantize report: %s is NULL", r ? "the graph" : "the report");
    memset(r, 0, sizeof *r);
    if (opt && opt->dtype == MF_F16)
        return mf_error(MF_ERR_UNSUPPORTED, "quantize report: the report measures int8 (compare a half model with mlufuse run --expect)");
    if (nsets < 1 || !held)
        return mf_error(MF_ERR_INVALID, "quantize report: no held-out inputs");
    if (g->ninputs && nsets > INT_MAX / g->ninputs)
        return mf_error(MF_ERR_INVALID, "quantize report: %d held-out sets of %d inputs are too many", nsets, g->ninputs);
    for (int i = 0; i < nsets * g->ninputs; i++)
        if (!held[i] || !mf_type_equal(&held[i]->type, &g->inputs[i % g->ninputs]->type))
            return mf_error(MF_ERR_SHAPE, "quantize report: held-out set %d, input %d has the wrong type",
                            i / g->ninputs, i % g->ninputs);
    mf_graph *f = NULL, *q = NULL;
    mf_qlayer *layers = NULL;
    int nlayers = 0;
    mf_status s = mf_mod_quantize(g, opt, &q, &f, &layers, &nlayers);
    size_t nout = (size_t)nsets * (size_t)g->noutputs;
    mf_tensor **fo = calloc(nout + 1, sizeof *fo), **qo = calloc(nout + 1, sizeof *qo);
    if (!s && (!fo || !qo))
        s = mf_error(MF_ERR_NOMEM, "quantize report: out of memory");
    if (!s)
        s = run_all(f, nsets, held, fo);
    if (!s)
        s = run_all(q, nsets, held, qo);
    if (!s) {
        r->nsets = nsets;
        compare_outputs(g, nsets, fo, qo, r);
        s = layer_errors(f, layers, nlayers, nsets, held, r);
    }
    for (size_t i = 0; fo && qo && i < nout; i++)
        mf_tensor_free(fo[i]), mf_tensor_free(qo[i]);
    free(fo), free(qo), free(layers);
    mf_graph_destroy(f);
    if (s) {
        mf_graph_destroy(q);
        mf_quant_report_free(r);
        return s;
    }
    *out = q;
    return MF_OK;
}

void mf_quant_report_free(mf_quant_report *r)
{
    if (!r)
        return;
    free(r->layers);
    r->layers = NULL;
    r->nlayers = 0;
}
