/* quant_calib.c — calibration: runs the f32 model, compiled, with every activation made an
 * output, and records each one's range over the calibration sets — the range seen (minmax),
 * or, from a 2048-bin histogram per value built in a second run, that range clipped at both
 * ends to a percentile of the values, or at the thresholds that keep the quantized
 * distribution closest to the original (entropy: least KL divergence, as TensorRT). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"

mf_status mf_mod_quant_observe(const mf_graph *f, const char *cpu, int nsets,
                               mf_tensor *const *inputs, int nwant, const mf_value *const *want,
                               mf_qvisit_fn visit, void *ctx)
{
    mf_graph *c = NULL;
    mf_module *m = NULL;
    int nout = 0, *slot = calloc((size_t)nwant + 1, sizeof *slot); /* want k: output slot or -1 */
    mf_value **outs = calloc((size_t)nwant + 1, sizeof *outs);
    mf_tensor **res = calloc((size_t)nwant + 1, sizeof *res);
    mf_status s = slot && outs && res ? mf_graph_clone(f, NULL, &c) : mf_error(MF_ERR_NOMEM, "calibration: out of memory");
    for (int k = 0; k < nwant && !s; k++) {
        const mf_value *v = want[k];
        slot[k] = -1;
        if (v->is_const)
            s = mf_error(MF_ERR_INTERNAL, "calibration: constant %d observed", v->id);
        else if (v->producer)
            slot[k] = nout, outs[nout++] = c->nodes[v->producer->id]->outputs[0];
    }
    if (!s && nout)
        s = mf_graph_set_outputs(c, nout, outs);
    mf_module_options mo = mf_module_default_options();
    mo.cpu = cpu;
    mo.device = MF_DEVICE_CPU;
    if (!s && nout)
        s = mf_module_create(c, &mo, &m);
    for (int set = 0; set < nsets && !s; set++) {
        mf_tensor *const *in = inputs + (size_t)set * (size_t)f->ninputs;
        if (nout)
            s = mf_module_run(m, f->ninputs, in, nout, res);
        for (int k = 0; k < nwant && !s; k++) {
            const mf_tensor *t = slot[k] < 0 ? NULL : res[slot[k]];
            if (slot[k] < 0) /* a graph input */
                for (int i = 0; i < f->ninputs; i++)
                    if (f->inputs[i] == want[k])
                        t = in[i];
            if (t && mf_tensor_dtype(t) == MF_F32)
                s = visit(set, k, want[k], mf_tensor_data(t), mf_tensor_numel(t), ctx);
        }
        for (int k = 0; k < nout; k++)
            mf_tensor_free(res[k]), res[k] = NULL;
    }
    if (s)
        mf_error_context(s, "calibration");
    mf_module_destroy(m);
    mf_graph_destroy(c);
    free(slot);
    free(outs);
    free(res);
    return s;
}

#define BINS 2048

typedef struct calib {
    mf_qrange *ranges; /* by value id */
    uint64_t *hist;    /* BINS per value id, second run only */
} calib;

static mf_status see_range(int set, int k, const mf_value *v, const float *d, int64_t n, void *ctx)
{
    (void)set, (void)k;
    mf_qrange *r = &((calib *)ctx)->ranges[v->id];
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(d[i]))
            continue;
        if (!r->seen)
            r->lo = r->hi = d[i], r->seen = true;
        r->lo = d[i] < r->lo ? d[i] : r->lo;
        r->hi = d[i] > r->hi ? d[i] : r->hi;
    }
    return MF_OK;
}

static int bin_of(const mf_qrange *r, float x)
{
    double w = (double)r->hi - r->lo;
    int b = w > 0 ? (int)(((double)x - r->lo) / w * BINS) : 0;
    return b < 0 ? 0 : b >= BINS ? BINS - 1 : b;
}

static mf_status see_hist(int set, int k, const mf_value *v, const float *d, int64_t n, void *ctx)
{
    (void)set, (void)k;
    calib *c = ctx;
    const mf_qrange *r = &c->ranges[v->id];
    uint64_t *h = c->hist + (size_t)v->id * BINS;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(d[i]))
            h[bin_of(r, d[i])]++;
    return MF_OK;
}

/* Clips each end of r where (100 - p) % of the values lie beyond it (to bin resolution);
 * an end whose bin alone holds more, as a relu's 0 does, stays. */
static void clip_to_percentile(mf_qrange *r, const uint64_t *h, double p)
{
    uint64_t total = 0;
    for (int b = 0; b < BINS; b++)
        total += h[b];
    if (!total)
        return;
    double tail = (double)total * (100.0 - p) / 100.0, w = ((double)r->hi - r->lo) / BINS;
    double acc = 0;
    int lo = 0, hi = BINS - 1;
    while (lo < BINS - 1 && acc + (double)h[lo] <= tail)
        acc += (double)h[lo++];
    acc = 0;
    while (hi > 0 && acc + (double)h[hi] <= tail)
        acc += (double)h[hi--];
    float nlo = (float)(r->lo + lo * w), nhi = (float)(r->lo + (hi + 1) * w);
    if (nlo < nhi)
        r->lo = nlo > r->lo ? nlo : r->lo, r->hi = nhi < r->hi ? nhi : r->hi;
}

/* KL(p || q) of the histogram h[0..n) against its quantization to `levels` levels, the
 * values beyond n folded into the last bin; TensorRT's entropy calibration measure. */
static double kl_of_threshold(const uint64_t *h, int n, int total_bins, int levels)
{
    double p[BINS], q[BINS], outliers = 0, sum_p = 0;
    for (int i = n; i < total_bins; i++)
        outliers += (double)h[i];
    for (int i = 0; i < n; i++)
        p[i] = (double)h[i];
    p[n - 1] += outliers;
    for (int i = 0; i < n; i++)
        sum_p += p[i];
    if (sum_p <= 0)
        return 0;
    double per = (double)n / levels;
    for (int l = 0; l < levels; l++) { /* merge, then spread over the level's non-empty bins */
        int a = (int)(l * per), b = l == levels - 1 ? n : (int)((l + 1) * per);
        double mass = 0;
        int nonzero = 0;
        for (int i = a; i < b; i++)
            mass += (double)h[i], nonzero += h[i] != 0;
        for (int i = a; i < b; i++)
            q[i] = h[i] && nonzero ? mass / nonzero : 0;
    }
    double sum_q = 0, kl = 0;
    for (int i = 0; i < n; i++)
        sum_q += q[i];
    for (int i = 0; i < n; i++)
        if (p[i] > 0)
            kl += p[i] / sum_p * log((p[i] / sum_p) / (q[i] > 0 ? q[i] / sum_q : 1e-12));
    return kl;
}

/* The threshold bin (one past the last kept) of one-sided histogram h[0..n) with least KL
 * divergence, among multiples of 16 from `levels` on. */
static int entropy_threshold(const uint64_t *h, int n, int levels)
{
    int best = n;
    double best_kl = INFINITY;
    for (int t = levels; t <= n; t += 16) {
        double kl = kl_of_threshold(h, t, n, levels);
        if (kl < best_kl)
            best_kl = kl, best = t;
    }
    return best;
}

/* Clips each side of zero of r to its entropy threshold (128 levels a side).  A tensor
 * seen fewer than 2 times a bin (logits: ten values a set) keeps its range: a sparse
 * histogram's divergence says nothing, and clipping it cost mnist 40 % of its output. */
static void clip_to_entropy(mf_qrange *r, const uint64_t *h)
{
    uint64_t total = 0;
    for (int b = 0; b < BINS; b++)
        total += h[b];
    if (!(r->hi > r->lo) || total < 2 * BINS)
        return;
    double w = ((double)r->hi - r->lo) / BINS;
    int z = r->lo >= 0 ? 0 : r->hi <= 0 ? BINS : (int)(-r->lo / w); /* the bin of 0 */
    uint64_t side[BINS];
    if (BINS - z >= 128) { /* the positive side, bins z.. */
        int n = BINS - z;
        memcpy(side, h + z, sizeof *side * (size_t)n);
        int t = entropy_threshold(side, n, 128);
        r->hi = (float)(r->lo + (z + t) * w);
    }
    if (z >= 128) { /* the negative side, bins z-1 down to 0 */
        for (int i = 0; i < z; i++)
            side[i] = h[z - 1 - i];
        int t = entropy_threshold(side, z, 128);
        r->lo = (float)(r->lo + (z - t) * w);
    }
}

mf_status mf_mod_quant_calibrate(const mf_graph *f, const mf_quantize_options *opt,
                                 mf_qrange *ranges)
{
    const mf_value **want = calloc((size_t)f->nvalues + 1, sizeof *want);
    if (!want)
        return mf_error(MF_ERR_NOMEM, "calibration: out of memory");
    int nwant = 0;
    for (int i = 0; i < f->nvalues; i++)
        if (!f->values[i]->is_const && f->values[i]->type.dtype == MF_F32)
            want[nwant++] = f->values[i];
    calib c = {ranges, NULL};
    memset(ranges, 0, sizeof *ranges * (size_t)f->nvalues);
    mf_status s = mf_mod_quant_observe(f, opt->cpu, opt->ncalib, opt->calib, nwant, want, see_range, &c);
    if (!s && opt->method != MF_QUANT_MINMAX) {
        c.hist = calloc((size_t)f->nvalues * BINS, sizeof *c.hist);
        s = c.hist ? mf_mod_quant_observe(f, opt->cpu, opt->ncalib, opt->calib, nwant, want, see_hist, &c)
                   : mf_error(MF_ERR_NOMEM, "calibration: out of memory for histograms");
        for (int k = 0; k < nwant && !s; k++) {
            mf_qrange *r = &ranges[want[k]->id];
            const uint64_t *h = c.hist + (size_t)want[k]->id * BINS;
            if (opt->method == MF_QUANT_PERCENTILE)
                clip_to_percentile(r, h, opt->percentile);
            else
                clip_to_entropy(r, h);
        }
        free(c.hist);
    }
    free(want);
    return s;
}
