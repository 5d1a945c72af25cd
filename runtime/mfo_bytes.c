/* mfo_bytes.c — the byte level of the .mfo format: the section checksum and a reader that
 * checks every read against the end of its section, so a parser built on it can never read
 * outside the file; the first failure sticks and names the section and the offset. */
#include <string.h>

#include "mfo.h"

#define P1 0x9E3779B185EBCA87ull
#define P2 0xC2B2AE3D27D4EB4Full
#define P3 0x100000001B3ull

static uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t load64(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w; /* the format is little-endian, as is every host we build for */
}

/* Eight lanes with one multiply per word: the lanes' chains are independent, so the loop runs
 * at the multiplier's throughput (about 8 bytes a cycle) instead of one chain's latency; every
 * step is a bijection of the lane, so any change of one word changes the sum. */
uint64_t mf_mfo_checksum(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h[8];
    for (int k = 0; k < 8; k++)
        h[k] = (uint64_t)(k + 1) * P1;
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (int k = 0; k < 8; k++)
            h[k] = rotl((h[k] ^ load64(p + i + 8 * k)) * P1, 29);
    for (; i < n; i++)
        h[0] = (h[0] ^ p[i]) * P3;
    uint64_t r = (uint64_t)n;
    for (int k = 0; k < 8; k++) {
        r = (r ^ h[k]) * P2;
        r ^= r >> 29;
    }
    return r;
}

static const unsigned char *take(mf_mfo_cursor *c, size_t len)
{
    if (c->error)
        return NULL;
    if (len > c->n - c->at) {
        c->error = mf_error(MF_ERR_PARSE, "%s: truncated at offset %zu (%zu more bytes needed, %zu left)",
                            c->what, c->at, len, c->n - c->at);
        return NULL;
    }
    const unsigned char *p = c->p + c->at;
    c->at += len;
    return p;
}

uint32_t mf_mfo_u32(mf_mfo_cursor *c)
{
    const unsigned char *p = take(c, 4);
    uint32_t v = 0;
    if (p)
        memcpy(&v, p, 4);
    return v;
}

uint64_t mf_mfo_u64(mf_mfo_cursor *c)
{
    const unsigned char *p = take(c, 8);
    return p ? load64(p) : 0;
}

int64_t mf_mfo_i64(mf_mfo_cursor *c)
{
    return (int64_t)mf_mfo_u64(c);
}

double mf_mfo_f64(mf_mfo_cursor *c)
{
    uint64_t u = mf_mfo_u64(c);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

void mf_mfo_str(mf_mfo_cursor *c, char *out, size_t cap)
{
    out[0] = 0;
    size_t at = c->at;
    uint32_t len = mf_mfo_u32(c);
    if (!c->error && len >= cap) {
        c->error = mf_error(MF_ERR_PARSE, "%s: a string of %u bytes at offset %zu (at most %zu)",
                            c->what, len, at, cap - 1);
        return;
    }
    const unsigned char *p = take(c, len);
    if (!p)
        return;
    memcpy(out, p, len);
    out[len] = 0;
    if (strlen(out) != len)
        c->error = mf_error(MF_ERR_PARSE, "%s: a string with a NUL byte at offset %zu", c->what, at);
}
