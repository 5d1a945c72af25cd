/* ref_rnn.c — the reference kernel of rnn (ir/einsum_rnn.h): ONNX's RNN, GRU and LSTM,
 * step by step in double, each direction over every batch entry's own sequence length (a
 * reverse direction starts at its last valid step; Y is 0 past the length).  The node
 * writes the output its `output` attribute names. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/einsum_rnn.h"
#include "runtime.h"

static double act(mf_rnn_act a, double x)
{
    switch (a) {
    case MF_ACT_SIGMOID: return 1 / (1 + exp(-x));
    case MF_ACT_TANH: return tanh(x);
    case MF_ACT_RELU: return x > 0 ? x : 0;
    case MF_ACT_HARD_SIGMOID: return fmax(0, fmin(1, 0.2 * x + 0.5));
    case MF_ACT_SOFTSIGN: return x / (1 + fabs(x));
    default: return log1p(exp(x)); /* MF_ACT_SOFTPLUS */
    }
}

/* The geometry and operands of one call. */
typedef struct rnn_run {
    mf_rnn_view v;
    int64_t t, b, in, h, gh;
    const float *x, *w, *r, *bias, *h0, *c0, *p;
    const void *lens;
    mf_dtype lens_dtype;
    float *y; /* NULL unless the output is Y */
} rnn_run;

static double clip(const rnn_run *k, double x)
{
    return k->v.clip > 0 ? fmax(-k->v.clip, fmin(k->v.clip, x)) : x;
}

/* Offset of a state [D, B, H] (layout 1: [B, D, H]) element. */
static int64_t state_at(const rnn_run *k, int d, int64_t b, int64_t j)
{
    return k->v.batch_first ? (b * k->v.dirs + d) * k->h + j : (d * k->b + b) * k->h + j;
}

/* x_t · W[row] + bias[row] of direction d. */
static double input_part(const rnn_run *k, int d, int64_t t, int64_t b, int64_t row)
{
    const float *x = k->x + (k->v.batch_first ? b * k->t + t : t * k->b + b) * k->in;
    const float *w = k->w + (d * k->gh + row) * k->in;
    double acc = k->bias[d * 2 * k->gh + row];
    for (int64_t i = 0; i < k->in; i++)
        acc += (double)x[i] * w[i];
    return acc;
}

/* h · R[row] + its bias, of direction d. */
static double hidden_part(const rnn_run *k, int d, const double *h, int64_t row)
{
    const float *r = k->r + (d * k->gh + row) * k->h;
    double acc = k->bias[d * 2 * k->gh + k->gh + row];
    for (int64_t j = 0; j < k->h; j++)
        acc += h[j] * r[j];
    return acc;
}

/* One step of one batch entry: h (and c) updated in place, with scratch of 3 * H. */
static void step(const rnn_run *k, int d, int64_t t, int64_t b, double *h, double *c, double *scratch)
{
    const mf_rnn_act *a = k->v.act[d];
    int64_t hs = k->h;
    double *nh = scratch, *nc = scratch + hs, *reset = scratch + 2 * hs;
    for (int64_t q = 0; k->v.cell == MF_RNN_GRU && q < hs; q++) /* the reset gate, for every unit */
        reset[q] = act(a[0], clip(k, input_part(k, d, t, b, hs + q) + hidden_part(k, d, h, hs + q)));
    for (int64_t j = 0; j < hs; j++) {
        if (k->v.cell == MF_RNN_SIMPLE) {
            nh[j] = act(a[0], clip(k, input_part(k, d, t, b, j) + hidden_part(k, d, h, j)));
        } else if (k->v.cell == MF_RNN_GRU) {
            double z = act(a[0], clip(k, input_part(k, d, t, b, j) + hidden_part(k, d, h, j)));
            double hh, xh = input_part(k, d, t, b, 2 * hs + j);
            if (k->v.linear_before_reset) {
                hh = act(a[1], clip(k, xh + reset[j] * hidden_part(k, d, h, 2 * hs + j)));
            } else { /* (r ⊙ h) · R_h */
                double rh = k->bias[d * 2 * k->gh + k->gh + 2 * hs + j];
                const float *rw = k->r + (d * k->gh + 2 * hs + j) * hs;
                for (int64_t q = 0; q < hs; q++)
                    rh += reset[q] * h[q] * rw[q];
                hh = act(a[1], clip(k, xh + rh));
            }
            nh[j] = (1 - z) * hh + z * h[j];
        } else {
            const float *p = k->p + d * 3 * hs;
            double gi = input_part(k, d, t, b, j) + hidden_part(k, d, h, j) + p[j] * c[j];
            double i = act(a[0], clip(k, gi));
            double f = k->v.input_forget ? 1 - i
                                         : act(a[0], clip(k, input_part(k, d, t, b, 2 * hs + j) +
                                                                 hidden_part(k, d, h, 2 * hs + j) + p[2 * hs + j] * c[j]));
            double cc = act(a[1], clip(k, input_part(k, d, t, b, 3 * hs + j) + hidden_part(k, d, h, 3 * hs + j)));
            nc[j] = f * c[j] + i * cc;
            double o = act(a[0], clip(k, input_part(k, d, t, b, hs + j) + hidden_part(k, d, h, hs + j) + p[hs + j] * nc[j]));
            nh[j] = o * act(a[2], nc[j]);
        }
    }
    memcpy(h, nh, (size_t)hs * sizeof *h);
    if (k->v.cell == MF_RNN_LSTM)
        memcpy(c, nc, (size_t)hs * sizeof *c);
}

/* Direction d of batch entry b over its sequence; its final states into h and c. */
static void run_sequence(const rnn_run *k, int d, int64_t b, double *h, double *c, double *scratch)
{
    int64_t len = k->lens_dtype == MF_I32 ? ((const int32_t *)k->lens)[b] : ((const int64_t *)k->lens)[b];
    len = len < 0 ? 0 : len > k->t ? k->t : len;
    bool back = k->v.reverse || d == 1;
    for (int64_t j = 0; j < k->h; j++) {
        h[j] = k->h0[state_at(k, d, b, j)];
        c[j] = k->c0 ? k->c0[state_at(k, d, b, j)] : 0;
    }
    for (int64_t s = 0; s < len; s++) {
        int64_t t = back ? len - 1 - s : s;
        step(k, d, t, b, h, c, scratch);
        if (!k->y)
            continue;
        int64_t at = k->v.batch_first ? ((b * k->t + t) * k->v.dirs + d) * k->h : ((t * k->v.dirs + d) * k->b + b) * k->h;
        for (int64_t j = 0; j < k->h; j++)
            k->y[at + j] = (float)h[j];
    }
}

mf_status mf_ref_rnn(const mf_ref_call *c)
{
    char why[256];
    rnn_run k = {0};
    if (!mf_rnn_of(c->attrs, &k.v, why, sizeof why))
        return mf_error(MF_ERR_INVALID, "rnn: %s", why);
    const mf_type *xt = &c->in_types[0];
    k.t = xt->shape[k.v.batch_first];
    k.b = xt->shape[!k.v.batch_first];
    k.in = xt->shape[2];
    k.h = k.v.hidden;
    k.gh = k.v.gates * k.h;
    k.x = c->in[0], k.w = c->in[1], k.r = c->in[2], k.bias = c->in[3], k.lens = c->in[4], k.h0 = c->in[5];
    k.lens_dtype = c->in_types[4].dtype;
    if (k.v.cell == MF_RNN_LSTM)
        k.c0 = c->in[6], k.p = c->in[7];
    float *out = c->out;
    memset(out, 0, mf_type_nbytes(c->out_type));
    k.y = k.v.output == 0 ? out : NULL;
    double *h = malloc((size_t)(5 * k.h + 1) * sizeof *h);
    if (!h)
        return mf_error(MF_ERR_NOMEM, "rnn: out of memory");
    double *cs = h + k.h, *scratch = h + 2 * k.h;
    for (int d = 0; d < k.v.dirs; d++)
        for (int64_t b = 0; b < k.b; b++) {
            run_sequence(&k, d, b, h, cs, scratch);
            if (k.v.output)
                for (int64_t j = 0; j < k.h; j++)
                    out[state_at(&k, d, b, j)] = (float)(k.v.output == 1 ? h[j] : cs[j]);
        }
    free(h);
    return MF_OK;
}
