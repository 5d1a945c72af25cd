/* onnx_tfidf.c — TfIdfVectorizer on integer tokens, as the ops it is made of.  The n-gram
 * pool is an attribute, so every n-gram is a known column: for each n-gram length and skip,
 * n slices of the tokens compared with the pool's k-th tokens (equal, and) give the matches
 * [B, positions, grams]; their sum over the positions counts each n-gram, and a matmul with a
 * [grams, output] map (one or the n-gram's weight at its ngram_indexes column) places the
 * counts in the output.  Strings (pool_strings) are refused. */
#include <stdlib.h>
#include <string.h>

#include "onnx.h"

#define TFIDF_MAX 4096 /* pool entries, n-grams and output columns */

typedef struct tfidf {
    int64_t pool[TFIDF_MAX], counts[TFIDF_MAX], indexes[TFIDF_MAX];
    float weights[TFIDF_MAX];
    int npool, ncounts, nindexes, nweights;
    int64_t min_n, max_n, max_skip, out_size;
    int mode; /* 0 TF, 1 IDF, 2 TFIDF */
} tfidf;

static mf_status read_attrs(const Onnx__NodeProto *n, tfidf *t)
{
    char buf[16];
    const char *mode = onnx_attr_str(n, "mode", "", buf, sizeof buf);
    t->mode = !strcmp(mode, "TF") ? 0 : !strcmp(mode, "IDF") ? 1 : !strcmp(mode, "TFIDF") ? 2 : -1;
    if (t->mode < 0)
        return onnx_node_error(n, MF_ERR_PARSE, "mode '%s' is none of TF, IDF, TFIDF", mode);
    if (onnx_attr(n, "pool_strings"))
        return onnx_node_error(n, MF_ERR_UNSUPPORTED,
                               "string tokens (pool_strings) are not supported");
    t->npool = onnx_attr_ints(n, "pool_int64s", t->pool, TFIDF_MAX);
    t->ncounts = onnx_attr_ints(n, "ngram_counts", t->counts, TFIDF_MAX);
    t->nindexes = onnx_attr_ints(n, "ngram_indexes", t->indexes, TFIDF_MAX);
    const Onnx__AttributeProto *w = onnx_attr(n, "weights");
    t->nweights = w ? (int)w->n_floats : 0;
    t->min_n = onnx_attr_int(n, "min_gram_length", 1);
    t->max_n = onnx_attr_int(n, "max_gram_length", 1);
    t->max_skip = onnx_attr_int(n, "max_skip_count", 0);
    if (t->npool < 0 || t->ncounts < 1 || t->nindexes < 1 || t->nweights > TFIDF_MAX ||
        t->min_n < 1 || t->max_n < t->min_n || t->max_skip < 0 ||
        (t->nweights && t->nweights != t->nindexes))
        return onnx_node_error(
            n, MF_ERR_PARSE,
            "needs pool_int64s, ngram_counts, ngram_indexes (at most %d each), weights "
            "of as many as ngram_indexes, and 1 <= min_gram_length <= max_gram_length",
            TFIDF_MAX);
    memcpy(t->weights, w ? w->floats : t->weights, sizeof(float) * (size_t)t->nweights);
    t->out_size = 0;
    for (int i = 0; i < t->nindexes; i++) {
        if (t->indexes[i] < 0 || t->indexes[i] >= TFIDF_MAX)
            return onnx_node_error(n, MF_ERR_PARSE, "ngram_indexes[%d] = %lld is out of range", i,
                                   (long long)t->indexes[i]);
        if (t->indexes[i] + 1 > t->out_size)
            t->out_size = t->indexes[i] + 1;
    }
    return MF_OK;
}

/* How many times each n-gram of length len (pool[start...], g of them) occurs in x [B, N],
 * summed over the skips: f32 [B, g]; *out NULL when none fits. */
static mf_status count_grams(onnx_importer *im, const Onnx__NodeProto *n, const tfidf *t,
                             mf_value *x, int64_t len, int64_t start, int64_t g, mf_value **out)
{
    int64_t batch = x->type.shape[0], tokens = x->type.shape[1];
    int64_t *col = malloc(sizeof *col * (size_t)g + 1);
    mf_status s = col ? MF_OK : mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    *out = NULL;
    for (int64_t skip = 0; skip <= (len > 1 ? t->max_skip : 0) && !s; skip++) {
        int64_t step = skip + 1, positions = tokens - (len - 1) * step;
        if (positions <= 0)
            break;
        mf_value *match = NULL, *counts;
        for (int64_t k = 0; k < len && !s; k++) {
            mf_value *xk, *gk, *eq;
            int64_t shape[3] = {batch, positions, 1};
            for (int64_t j = 0; j < g; j++)
                col[j] = t->pool[start + j * len + k];
            mf_type ct = {MF_I64, 1, {g}};
            if ((s = onnx_slice_axis(im, n, x, 1, k * step, k * step + positions, &xk)) ||
                (s = onnx_reshape(im, n, xk, 3, shape, &xk)))
                break;
            if (!(gk = onnx_const(im, &ct, col)))
                s = mf_error(MF_ERR_NOMEM, "onnx: out of memory");
            if (!s && !(s = onnx_add2(im, n, MF_OP_EQUAL, xk, gk, &eq)))
                s = match ? onnx_add2(im, n, MF_OP_LOGICAL_AND, match, eq, &match)
                          : (match = eq, MF_OK);
        }
        mf_attr a[MF_MAX_ATTRS];
        int64_t positions_dim = 1;
        mf_op_default_attrs(MF_OP_SUM, a);
        mf_attr_set_ints(MF_OP_SUM, a, "dims", 1, &positions_dim);
        if (!s && !(s = onnx_cast(im, n, match, MF_F32, &match)) &&
            !(s = onnx_add(im, n, MF_OP_SUM, 1, &match, a, &counts)))
            s = *out ? onnx_add2(im, n, MF_OP_ADD, *out, counts, out) : (*out = counts, MF_OK);
    }
    free(col);
    return s;
}

/* The [g, out_size] map of n-grams first..first+g to their output columns, each one (TF,
 * IDF without weights) or its weight. */
static mf_value *column_map(onnx_importer *im, const tfidf *t, int64_t first, int64_t g)
{
    mf_type mt = {MF_F32, 2, {g, t->out_size}};
    float *m = calloc((size_t)(g * t->out_size), sizeof *m);
    if (!m)
        return NULL;
    for (int64_t j = 0; j < g; j++)
        m[j * t->out_size + t->indexes[first + j]] =
            t->mode && t->nweights ? t->weights[first + j] : 1.0f;
    mf_value *v = onnx_const(im, &mt, m);
    free(m);
    return v;
}

/* The counts of every n-gram length placed in the output columns: f32 [B, out_size]. */
static mf_status place_counts(onnx_importer *im, const Onnx__NodeProto *n, const tfidf *t,
                              mf_value *x, mf_value **total)
{
    mf_value *one;
    int64_t first = 0; /* the n-grams of shorter lengths come first in ngram_indexes */
    mf_status s = onnx_scalar(im, MF_F32, 1.0, &one);
    *total = NULL;
    for (int64_t len = 1; len <= t->max_n && len <= t->ncounts && !s; len++) {
        int64_t start = t->counts[len - 1], end = len < t->ncounts ? t->counts[len] : t->npool;
        int64_t g = end > start ? (end - start) / len : 0;
        if (start < 0 || end > t->npool || first + g > t->nindexes)
            return onnx_node_error(n, MF_ERR_PARSE,
                                   "ngram_counts do not fit the pool or ngram_indexes");
        mf_value *counts = NULL, *map, *placed;
        if (len >= t->min_n && g)
            s = count_grams(im, n, t, x, len, start, g, &counts);
        if (!s && counts && t->mode == 1)
            s = onnx_add2(im, n, MF_OP_MINIMUM, counts, one, &counts);
        if (!s && counts) {
            if (!(map = column_map(im, t, first, g)))
                return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
            if (!(s = onnx_add2(im, n, MF_OP_MATMUL, counts, map, &placed)))
                s = *total ? onnx_add2(im, n, MF_OP_ADD, *total, placed, total)
                           : (*total = placed, MF_OK);
        }
        first += g;
    }
    if (!s && !*total) { /* nothing can match: zeros */
        mf_type zt = {MF_F32, 2, {x->type.shape[0], t->out_size}};
        float *z = calloc((size_t)(zt.shape[0] * zt.shape[1]) + 1, sizeof *z);
        s = z && (*total = onnx_const(im, &zt, z)) ? MF_OK
                                                   : mf_error(MF_ERR_NOMEM, "onnx: out of memory");
        free(z);
    }
    return s;
}

/* TfIdfVectorizer 9: X int32/int64 [N] or [B, N] -> f32 [out] or [B, out]; TF counts, IDF
 * min(count, 1) times weight, TFIDF count times weight. */
mf_status onnx_cv_tfidf(onnx_importer *im, const Onnx__NodeProto *n)
{
    mf_value *x, *tokens, *total;
    mf_status s = onnx_inputs(im, n, 1, &x);
    if (s)
        return s;
    int rank = x->type.rank;
    if ((x->type.dtype != MF_I32 && x->type.dtype != MF_I64) || rank < 1 || rank > 2)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED,
                               "expected int32 or int64 tokens [N] or [B, N]");
    tfidf *t = malloc(sizeof *t);
    if (!t)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    int64_t rows[2] = {1, x->type.shape[rank - 1]}, out_size = 0;
    if (!(s = read_attrs(n, t)) &&
        !(s = onnx_reshape(im, n, x, 2, rank == 1 ? rows : x->type.shape, &tokens)) &&
        !(s = onnx_cast(im, n, tokens, MF_I64, &tokens)) &&
        !(s = place_counts(im, n, t, tokens, &total)) && rank == 1) {
        out_size = t->out_size;
        s = onnx_reshape(im, n, total, 1, &out_size, &total);
    }
    free(t);
    return s ? s : onnx_define(im, n->output[0], total);
}
