/* ref_winograd.c — the reference kernels of Winograd F(4,3) (ops.def, ir/winograd.h):
 * the weight, input and output transforms as plain loops in double, the oracle of the
 * lowerings in codegen/lower_winograd.c.  Tile t of V and M is (n * TH + ty) * TW + tx;
 * with channels_last the channel index is the last one (at - below: the element of
 * position p, channel ch, tile t). */
#include "ir/winograd.h"
#include "runtime.h"

static int64_t at(bool cl, int p, int64_t ch, int64_t nch, int64_t t, int64_t T)
{
    return cl ? ((int64_t)p * T + t) * nch + ch : ((int64_t)p * nch + ch) * T + t;
}

static bool channels_last(const mf_ref_call *c)
{
    return mf_attr_get(c->op, c->attrs, "channels_last")->i != 0;
}

/* The input channels taken at once by the weight transform: its loops run over them
 * innermost, so they vectorize (the same sums in the same order as one channel at a time). */
#define WEIGHT_BLOCK 64

/* U[p][k][c0 + c] for c < n: the channels of one block of output channel k.  Folding runs
 * this over every 3x3 weight of a model, so it is vectorized per ISA (target_clones). */
__attribute__((target_clones("avx512f", "avx2", "default"))) static void
weight_block(const float *w, float *u, int64_t k, int64_t K, int64_t C, int64_t c0, int64_t n, bool cl)
{
    double g[9][WEIGHT_BLOCK], gt[6][3][WEIGHT_BLOCK]; /* g, then G g */
    for (int64_t c = 0; c < n; c++)
        for (int e = 0; e < 9; e++)
            g[e][c] = w[(k * C + c0 + c) * 9 + e];
    for (int i = 0; i < 6; i++)
        for (int b = 0; b < 3; b++)
            for (int64_t c = 0; c < n; c++)
                gt[i][b][c] = 0.0 + mf_wino_g[i][0] * g[b][c] + mf_wino_g[i][1] * g[3 + b][c] +
                              mf_wino_g[i][2] * g[6 + b][c];
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) {
            int64_t p = i * 6 + j;
            float *dst = cl ? u + (p * C + c0) * K + k : u + (p * K + k) * C + c0;
            int64_t stride = cl ? K : 1;
            for (int64_t c = 0; c < n; c++)
                dst[c * stride] = (float)(0.0 + gt[i][0][c] * mf_wino_g[j][0] + gt[i][1][c] * mf_wino_g[j][1] +
                                          gt[i][2][c] * mf_wino_g[j][2]);
        }
}

/* U[p][k][c] = (G g Gᵀ)[p] for w[k][c] = g (3x3). */
mf_status mf_ref_winograd_weight(const mf_ref_call *c)
{
    int64_t K = c->in_types[0].shape[0], C = c->in_types[0].shape[1];
    bool cl = channels_last(c);
    for (int64_t k = 0; k < K; k++)
        for (int64_t c0 = 0; c0 < C; c0 += WEIGHT_BLOCK)
            weight_block(c->in[0], c->out, k, K, C, c0, C - c0 < WEIGHT_BLOCK ? C - c0 : WEIGHT_BLOCK, cl);
    return MF_OK;
}

/* V[p][c][t] = (Bᵀ d B)[p], d the 6x6 input tile at (4ty - ph, 4tx - pw), 0 outside. */
mf_status mf_ref_winograd_input(const mf_ref_call *c)
{
    const float *x = c->in[0];
    float *v = c->out;
    const mf_type *xt = &c->in_types[0];
    int64_t N = xt->shape[0], C = xt->shape[1], H = xt->shape[2], W = xt->shape[3];
    const int64_t *pad = mf_attr_get(c->op, c->attrs, "padding")->ints;
    int64_t TH = mf_wino_tiles(H + 2 * pad[0] - 2), TW = mf_wino_tiles(W + 2 * pad[1] - 2);
    int64_t T = N * TH * TW;
    bool cl = channels_last(c);
    for (int64_t n = 0; n < N; n++)
        for (int64_t ci = 0; ci < C; ci++)
            for (int64_t ty = 0; ty < TH; ty++)
                for (int64_t tx = 0; tx < TW; tx++) {
                    double d[6][6], r[6][6];
                    for (int a = 0; a < 6; a++)
                        for (int b = 0; b < 6; b++) {
                            int64_t iy = 4 * ty - pad[0] + a, ix = 4 * tx - pad[1] + b;
                            bool in = iy >= 0 && iy < H && ix >= 0 && ix < W;
                            d[a][b] = in ? x[((n * C + ci) * H + iy) * W + ix] : 0.0;
                        }
                    for (int i = 0; i < 6; i++) /* Bᵀ d */
                        for (int b = 0; b < 6; b++) {
                            r[i][b] = 0;
                            for (int a = 0; a < 6; a++)
                                r[i][b] += mf_wino_bt[i][a] * d[a][b];
                        }
                    int64_t t = (n * TH + ty) * TW + tx;
                    for (int i = 0; i < 6; i++)
                        for (int j = 0; j < 6; j++) {
                            double s = 0;
                            for (int b = 0; b < 6; b++)
                                s += r[i][b] * mf_wino_bt[j][b];
                            v[at(cl, i * 6 + j, ci, C, t, T)] = (float)s;
                        }
                }
    return MF_OK;
}

/* y[n][k][4ty + r][4tx + s] = (Aᵀ m A)[r][s] + bias[k], m the 36 values of tile t. */
mf_status mf_ref_winograd_output(const mf_ref_call *c)
{
    const float *m = c->in[0], *bias = c->nin > 1 ? c->in[1] : NULL;
    float *y = c->out;
    bool cl = channels_last(c);
    int64_t K = c->in_types[0].shape[cl ? 2 : 1], T = c->in_types[0].shape[cl ? 1 : 2];
    const int64_t *size = mf_attr_get(c->op, c->attrs, "size")->ints;
    int64_t N = size[0], OH = size[1], OW = size[2];
    int64_t TH = mf_wino_tiles(OH), TW = mf_wino_tiles(OW);
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++)
            for (int64_t ty = 0; ty < TH; ty++)
                for (int64_t tx = 0; tx < TW; tx++) {
                    int64_t t = (n * TH + ty) * TW + tx;
                    double r[4][6];
                    for (int i = 0; i < 4; i++) /* Aᵀ m */
                        for (int j = 0; j < 6; j++) {
                            r[i][j] = 0;
                            for (int a = 0; a < 6; a++)
                                r[i][j] += mf_wino_at[i][a] * m[at(cl, a * 6 + j, k, K, t, T)];
                        }
                    for (int i = 0; i < 4; i++)
                        for (int j = 0; j < 4; j++) {
                            int64_t oy = 4 * ty + i, ox = 4 * tx + j;
                            if (oy >= OH || ox >= OW)
                                continue;
                            double s = bias ? bias[k] : 0.0;
                            for (int b = 0; b < 6; b++)
                                s += r[i][b] * mf_wino_at[j][b];
                            y[((n * K + k) * OH + oy) * OW + ox] = (float)s;
                        }
                }
    return MF_OK;
}
