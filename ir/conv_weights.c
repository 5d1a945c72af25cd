/* conv_weights.c — the packed layout of conv2d weights (see mf_conv_weights_pack in
 * ir.h): the pack-weights pass writes it once at compile time, the engines read it as
 * it is, the reference kernel reads it back. */
#include <stdlib.h>
#include <string.h>

#include "ir.h"

/* Where weight i of output channel oc sits in the packed layout. */
static int64_t packed_index(int64_t oc, int64_t i, int64_t cout, int64_t per, int64_t block)
{
    int64_t b = oc / block, j = oc % block;
    int64_t width = cout - b * block < block ? cout - b * block : block;
    return b * block * per + i * width + j;
}

/* Elements of 4 bytes (a float, or a quad of int8 weights) between the plain layout and the
 * packed one, either way. */
static void permute(const void *from, void *to, int64_t cout, int64_t per, int64_t block, bool pack)
{
    const char *src = from;
    char *dst = to;
    for (int64_t oc = 0; oc < cout; oc++)
        for (int64_t i = 0; i < per; i++) {
            int64_t at = packed_index(oc, i, cout, per, block), plain = oc * per + i;
            memcpy(dst + 4 * (pack ? at : plain), src + 4 * (pack ? plain : at), 4);
        }
}

void mf_conv_weights_pack(const float *plain, float *packed, int64_t cout, int64_t per, int64_t block)
{
    permute(plain, packed, cout, per, block, true);
}

void mf_conv_weights_unpack(const float *packed, float *plain, int64_t cout, int64_t per, int64_t block)
{
    permute(packed, plain, cout, per, block, false);
}

void mf_qconv_weights_pack(const int8_t *plain, int8_t *packed, int64_t cout, int64_t per, int64_t block)
{
    permute(plain, packed, cout, per / 4, block, true);
}

void mf_qconv_weights_unpack(const int8_t *packed, int8_t *plain, int64_t cout, int64_t per, int64_t block)
{
    permute(packed, plain, cout, per / 4, block, false);
}

/* Each row of cout rows as a rows x cols matrix of bytes, transposed. */
static void transpose_rows(const int8_t *from, int8_t *to, int64_t cout, int64_t rows, int64_t cols)
{
    for (int64_t oc = 0; oc < cout; oc++, from += rows * cols, to += rows * cols)
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < cols; c++)
                to[c * rows + r] = from[r * cols + c];
}

void mf_qconv_weights_taps_first(const int8_t *plain, int8_t *out, int64_t cout, int64_t cin_g, int64_t taps)
{
    transpose_rows(plain, out, cout, cin_g, taps);
}

int64_t mf_qconv_pair_max(const int8_t *w, int64_t rows, int64_t per, int64_t lim, int64_t *first)
{
    int64_t m = 0;
    if (first)
        *first = -1;
    for (int64_t o = 0; o < rows; o++)
        for (int64_t k = o * per; k + 1 < (o + 1) * per; k += 2) {
            int64_t s = w[k] * w[k + 1] > 0 ? llabs((long long)w[k] + w[k + 1]) : 0;
            if (s > lim && first && *first < 0)
                *first = k;
            m = s > m ? s : m;
        }
    return m;
}

void mf_qconv_weights_taps_last(const int8_t *taps_first, int8_t *plain, int64_t cout, int64_t cin_g, int64_t taps)
{
    transpose_rows(taps_first, plain, cout, taps, cin_g);
}
