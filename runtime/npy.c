/* npy.c — tensors to and from NumPy's .npy files (format versions 1 to 3, little-endian,
 * C order): how `mlufuse run` takes inputs and writes outputs, and how golden data from
 * PyTorch reaches the tests.  Every header field is checked before use. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

static const struct {
    const char *descr;
    mf_dtype dtype;
} npy_types[] = {
    {"<f4", MF_F32}, {"<f2", MF_F16}, {"<f8", MF_F64}, {"|i1", MF_I8}, {"<i2", MF_I16},
    {"<i4", MF_I32}, {"<i8", MF_I64}, {"|u1", MF_U8}, {"<u2", MF_U16}, {"<u4", MF_U32},
    {"<u8", MF_U64}, {"|b1", MF_BOOL},
};

/* Finds `'key':` in the header dict and returns what follows, or NULL. */
static const char *dict_value(const char *h, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(h, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    if (*p != ':')
        return NULL;
    for (p++; *p == ' '; p++)
        ;
    return p;
}

static mf_status parse_header(const char *path, const char *h, mf_type *t)
{
    const char *d = dict_value(h, "descr"), *f = dict_value(h, "fortran_order"),
               *s = dict_value(h, "shape");
    if (!d || !f || !s)
        return mf_error(MF_ERR_PARSE, "%s: the .npy header lacks descr, fortran_order or shape", path);
    bool found = false;
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0] && !found; i++) {
        size_t n = strlen(npy_types[i].descr);
        if (d[0] == '\'' && !strncmp(d + 1, npy_types[i].descr, n) && d[1 + n] == '\'') {
            t->dtype = npy_types[i].dtype;
            found = true;
        }
    }
    if (!found) {
        /* Name the dtype as numpy wrote it: the quoted word, printable characters only. */
        char name[16] = "";
        for (size_t i = 0; d[0] == '\'' && i + 1 < sizeof name && d[1 + i] && d[1 + i] != '\''; i++)
            name[i] = isprint((unsigned char)d[1 + i]) ? d[1 + i] : '?';
        return mf_error(MF_ERR_DTYPE, "%s: unsupported .npy dtype '%s' (f16, f32, f64, i8-i64, u8-u64, bool)", path, name);
    }
    if (strncmp(f, "False", 5))
        return mf_error(MF_ERR_UNSUPPORTED, "%s: Fortran-order arrays are not supported", path);
    if (*s != '(')
        return mf_error(MF_ERR_PARSE, "%s: bad shape in the .npy header", path);
    t->rank = 0;
    for (s++;;) {
        while (*s == ' ' || *s == ',')
            s++;
        if (*s == ')')
            break;
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (end == s || v < 0 || errno)
            return mf_error(MF_ERR_PARSE, "%s: bad shape in the .npy header", path);
        if (t->rank == MF_MAX_RANK)
            return mf_error(MF_ERR_SHAPE, "%s: rank above %d", path, MF_MAX_RANK);
        t->shape[t->rank++] = v;
        s = end;
    }
    return mf_type_check(t, path, NULL, NULL);
}

/* Bytes left in f from here, or -1 when f cannot seek (a pipe). */
static long long bytes_left(FILE *f)
{
    long at = ftell(f), end;
    if (at < 0 || fseek(f, 0, SEEK_END) || (end = ftell(f)) < 0 || fseek(f, at, SEEK_SET))
        return -1;
    return end - at;
}

/* The data of a stream that cannot seek, read in growing chunks, so that memory follows
 * what arrives and not what the header claims; then the tensor. */
static mf_status read_stream(FILE *f, const char *path, const mf_type *t, size_t nbytes, mf_tensor **out)
{
    unsigned char *buf = NULL;
    size_t got = 0, cap = 0;
    mf_status s = MF_OK;
    while (got < nbytes) {
        if (got == cap) {
            cap = cap ? (cap * 2 < nbytes ? cap * 2 : nbytes) : (nbytes < 65536 ? nbytes : 65536);
            unsigned char *nb = realloc(buf, cap);
            if (!nb) {
                s = mf_error(MF_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, nbytes);
                break;
            }
            buf = nb;
        }
        size_t n = fread(buf + got, 1, cap - got, f);
        if (n == 0) {
            s = mf_error(MF_ERR_PARSE, "%s: the data is shorter than the header's %zu bytes", path, nbytes);
            break;
        }
        got += n;
    }
    if (!s && !(s = mf_rt_tensor_new(t, MF_DEVICE_CPU, out)) && nbytes)
        memcpy(mf_rt_tensor_ptr(*out), buf, nbytes);
    free(buf);
    return s;
}

mf_status mf_rt_npy_read(FILE *f, const char *path, mf_tensor **out)
{
    *out = NULL;
    unsigned char pre[12]; /* magic(6) version(2) header length(2 in version 1, else 4) */
    char *header = NULL;
    mf_type t = {0};
    mf_status s = MF_OK;
    if (fread(pre, 1, 8, f) != 8 || memcmp(pre, "\x93NUMPY", 6) || pre[6] < 1 || pre[6] > 3) {
        s = mf_error(MF_ERR_PARSE, "%s: not a .npy file (bad magic or version)", path);
        goto done;
    }
    size_t lenbytes = pre[6] == 1 ? 2 : 4, hlen = 0;
    if (fread(pre + 8, 1, lenbytes, f) != lenbytes) {
        s = mf_error(MF_ERR_PARSE, "%s: truncated .npy header", path);
        goto done;
    }
    for (size_t i = 0; i < lenbytes; i++)
        hlen |= (size_t)pre[8 + i] << (8 * i);
    if (hlen > 1 << 24 || !(header = calloc(1, hlen + 1)) || fread(header, 1, hlen, f) != hlen) {
        s = mf_error(MF_ERR_PARSE, "%s: truncated or oversized .npy header", path);
        goto done;
    }
    if ((s = parse_header(path, header, &t)))
        goto done;
    size_t nbytes = mf_type_nbytes(&t);
    /* Allocate only what the file can fill: a header may claim terabytes. */
    long long left = bytes_left(f);
    if (left >= 0 && (unsigned long long)left < nbytes) {
        s = mf_error(MF_ERR_PARSE, "%s: the data is shorter than the header's %zu bytes", path, nbytes);
        goto done;
    }
    if (left < 0) { /* a pipe: what it holds is known only by reading it */
        s = read_stream(f, path, &t, nbytes, out);
        goto done;
    }
    if ((s = mf_rt_tensor_new(&t, MF_DEVICE_CPU, out)))
        goto done;
    if (fread(mf_rt_tensor_ptr(*out), 1, nbytes, f) != nbytes) {
        s = mf_error(MF_ERR_PARSE, "%s: the data is shorter than the header's %zu bytes", path, nbytes);
        mf_tensor_free(*out);
        *out = NULL;
    }
done:
    free(header);
    return s;
}

mf_status mf_tensor_load_npy(const char *path, mf_tensor **out)
{
    if (!path || !out)
        return mf_error(MF_ERR_INVALID, "load_npy: %s is NULL", path ? "out" : "path");
    *out = NULL;
    FILE *f;
    mf_status s = mf_file_open(path, &f);
    if (s)
        return s;
    s = mf_rt_npy_read(f, path, out);
    fclose(f);
    return s;
}

mf_status mf_tensor_save_npy(const mf_tensor *t, const char *path)
{
    if (!t || !path)
        return mf_error(MF_ERR_INVALID, "save_npy: %s is NULL", t ? "path" : "tensor");
    const char *descr = NULL;
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
        if (npy_types[i].dtype == t->type.dtype)
            descr = npy_types[i].descr;
    if (!descr) /* bf16: NumPy has no such dtype */
        return mf_error(MF_ERR_UNSUPPORTED, "save_npy: %s has no .npy dtype; cast the tensor (mf_cast) to f32 first",
                        mf_dtype_name(t->type.dtype));
    char header[256], shape[200] = "";
    size_t n = 0;
    for (int i = 0; i < t->type.rank; i++)
        n += (size_t)snprintf(shape + n, sizeof shape - n, "%lld,%s", (long long)t->type.shape[i],
                              i + 1 < t->type.rank ? " " : "");
    if (t->type.rank > 1)
        shape[n - 1] = 0; /* "(2, 3)" but "(4,)" */
    int len = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
                       descr, shape);
    int padded = (len + 11 + 63) / 64 * 64 - 10; /* magic(6)+ver(2)+len(2)+header+'\n' = k*64 */
    mf_tensor *host = NULL;
    mf_status s = MF_OK;
    if (t->device.type != MF_CPU && (s = mf_tensor_to(t, MF_DEVICE_CPU, &host)))
        return s;
    FILE *f = fopen(path, "wb");
    if (!f) {
        mf_tensor_free(host);
        return mf_error(MF_ERR_IO, "%s: %s", path, strerror(errno));
    }
    const mf_tensor *src = host ? host : t;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(padded & 0xff),
                             (unsigned char)(padded >> 8)};
    bool ok = fwrite(pre, 1, 10, f) == 10 && fprintf(f, "%-*s\n", padded - 1, header) == padded &&
              fwrite(mf_rt_tensor_ptr(src), 1, mf_type_nbytes(&src->type), f) == mf_type_nbytes(&src->type);
    ok = (fclose(f) == 0) && ok;
    mf_tensor_free(host);
    if (!ok)
        s = mf_error(MF_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return s;
}
