/* blocked_kernels.h — bench/blocked_layout.c's hand-written kernels over a blocked channel
 * layout, one instance per (vector width, row width): included with BL_LANES (16 or 8),
 * BL_TARGET (the GCC target they are compiled for), BL_RO (vectors of output channels a
 * 1x1 tile holds) and BL_W (the plane's row width: 7, 14 or 28) defined.  A tensor of C
 * channels holds blocks of BL_LANES channels: one vector is one pixel's block, at float
 * offset bl_at(C / BL_LANES, cb, y, x) (bench/blocked_layout.c: the dims' order).  Not
 * product code: the evidence for a layout (docs/benchmarks.md). */
#define BL_CAT3(a, b, c) a##_##b##_##c
#define BL_NAME(f, l, w) BL_CAT3(f, l, w)
#define BL_P (BL_W <= 14 ? BL_W : 14) /* pixels a 1x1 tile: a row, or half a 28-pixel one */

typedef float BL_NAME(vec, BL_LANES, BL_W) __attribute__((vector_size(BL_LANES * 4)));
typedef int BL_NAME(ivec, BL_LANES, BL_W) __attribute__((vector_size(BL_LANES * 4)));
#define BL_V BL_NAME(vec, BL_LANES, BL_W)
#define BL_VI BL_NAME(ivec, BL_LANES, BL_W)

/* min(max(v, 0), 6) as compares and masks (a select of vectors is C++ only) */
__attribute__((target(BL_TARGET))) static inline BL_V BL_NAME(clamp6, BL_LANES, BL_W)(BL_V v)
{
    BL_V zero = {0}, six = zero + 6.0f;
    BL_VI below = (v < zero);
    BL_VI above = (v > six);
    BL_VI bits = (BL_VI)v & ~below;
    return (BL_V)((bits & ~above) | ((BL_VI)six & above));
}

/* 1x1 conv over rows [r0, r1): in (ci channels), w [co / L][ci][L], out (co channels);
 * clamp: relu6 on the sums; res: added after (co == ci channels, same layout). */
__attribute__((target(BL_TARGET))) static void
BL_NAME(pointwise, BL_LANES, BL_W)(const float *in, int ci, const float *w, const float *bias,
                                   float *out, int co, int r0, int r1, int clamp, const float *res)
{
    const int L = BL_LANES, ncbi = ci / L, ncbo = co / L;
    for (int r = r0; r < r1; r++)
        for (int x0 = 0; x0 < BL_W; x0 += BL_P)
            for (int ob = 0; ob < ncbo; ob += BL_RO) {
                BL_V acc[BL_RO][BL_P];
#pragma GCC unroll 2
                for (int o = 0; o < BL_RO; o++)
#pragma GCC unroll 14
                    for (int j = 0; j < BL_P; j++)
                        acc[o][j] = *(const BL_V *)(bias + (ob + o) * L);
                for (int cb = 0; cb < ncbi; cb++) {
                    const float *xb = in + bl_at(ncbi, cb, r, x0);
                    for (int kk = 0; kk < L; kk++) {
                        int k = cb * L + kk;
                        BL_V wv[BL_RO];
#pragma GCC unroll 2
                        for (int o = 0; o < BL_RO; o++)
                            wv[o] = *(const BL_V *)(w + ((size_t)(ob + o) * ci + k) * L);
#pragma GCC unroll 14
                        for (int j = 0; j < BL_P; j++) {
                            float xv = xb[j * L + kk];
#pragma GCC unroll 2
                            for (int o = 0; o < BL_RO; o++)
                                acc[o][j] += wv[o] * xv;
                        }
                    }
                }
#pragma GCC unroll 2
                for (int o = 0; o < BL_RO; o++)
#pragma GCC unroll 14
                    for (int j = 0; j < BL_P; j++) {
                        size_t at = bl_at(ncbo, ob + o, r, x0 + j);
                        BL_V v = acc[o][j];
                        if (clamp)
                            v = BL_NAME(clamp6, BL_LANES, BL_W)(v);
                        if (res)
                            v += *(const BL_V *)(res + at);
                        *(BL_V *)(out + at) = v;
                    }
            }
}

/* 3x3 depthwise conv, padding 1, stride 1, + relu6 over rows [r0, r1): w [c / L][9][L]. */
__attribute__((target(BL_TARGET))) static void
BL_NAME(depthwise, BL_LANES, BL_W)(const float *in, const float *w, const float *bias, float *out,
                                   int c, int h, int r0, int r1)
{
    const int L = BL_LANES, ncb = c / L;
    for (int cb = 0; cb < ncb; cb++)
        for (int y = r0; y < r1; y++)
            for (int x0 = 0; x0 < BL_W; x0 += BL_P) {
                BL_V acc[BL_P];
#pragma GCC unroll 14
                for (int j = 0; j < BL_P; j++)
                    acc[j] = *(const BL_V *)(bias + cb * L);
#pragma GCC unroll 3
                for (int ky = 0; ky < 3; ky++) {
                    int iy = y + ky - 1;
                    if (iy < 0 || iy >= h)
                        continue;
                    const BL_V *row = (const BL_V *)(in + bl_at(ncb, cb, iy, 0));
#pragma GCC unroll 3
                    for (int kx = 0; kx < 3; kx++) {
                        BL_V wv = *(const BL_V *)(w + ((size_t)cb * 9 + ky * 3 + kx) * L);
#pragma GCC unroll 14
                        for (int j = 0; j < BL_P; j++) {
                            int ix = x0 + j + kx - 1;
                            if (ix >= 0 && ix < BL_W)
                                acc[j] += wv * row[ix];
                        }
                    }
                }
#pragma GCC unroll 14
                for (int j = 0; j < BL_P; j++)
                    *(BL_V *)(out + bl_at(ncb, cb, y, x0 + j)) =
                        BL_NAME(clamp6, BL_LANES, BL_W)(acc[j]);
            }
}

#undef BL_V
#undef BL_VI
#undef BL_P
