/* einsum.c — the einsum op's subscripts (ir/einsum_rnn.h): one int per term, a base-64
 * digit per position, decoded into label arrays, and the size every label takes. */
#include <stdio.h>

#include "einsum_rnn.h"

int64_t mf_einsum_code(const int *labels, int n)
{
    int64_t code = 0;
    for (int p = n - 1; p >= 0; p--)
        code = code * MF_EINSUM_LABELS + labels[p] + 1;
    return code;
}

/* Decodes one code into labels; -1 when it has more than MF_MAX_RANK digits or is negative. */
static int decode(int64_t code, int *labels)
{
    int n = 0;
    if (code < 0)
        return -1;
    for (; code; code /= MF_EINSUM_LABELS) {
        int digit = (int)(code % MF_EINSUM_LABELS);
        if (!digit || n == MF_MAX_RANK)
            return -1;
        labels[n++] = digit - 1;
    }
    return n;
}

bool mf_einsum_of(const mf_attr *attrs, int nin, mf_einsum_view *v, char *why, size_t cap)
{
    const mf_attr *terms = mf_attr_get(MF_OP_EINSUM, attrs, "terms");
    if (nin > MF_MAX_RANK || terms->n != nin) {
        snprintf(why, cap, "terms has %d entries for %d operands", terms->n, nin);
        return false;
    }
    v->nin = nin;
    for (int i = 0; i < nin; i++)
        if ((v->rank[i] = decode(terms->ints[i], v->label[i])) < 0) {
            snprintf(why, cap, "terms[%d] = %lld is not a term", i, (long long)terms->ints[i]);
            return false;
        }
    if ((v->out_rank = decode(mf_attr_int(MF_OP_EINSUM, attrs, "output"), v->out)) < 0) {
        snprintf(why, cap, "output is not a term");
        return false;
    }
    return true;
}

bool mf_einsum_sizes(const mf_einsum_view *v, const mf_type *in, int64_t size[MF_EINSUM_LABELS], char *why,
                     size_t cap)
{
    for (int l = 0; l < MF_EINSUM_LABELS; l++)
        size[l] = -1;
    for (int i = 0; i < v->nin; i++) {
        if (in[i].rank != v->rank[i]) {
            snprintf(why, cap, "operand %d has rank %d, its subscripts %d", i, in[i].rank, v->rank[i]);
            return false;
        }
        for (int p = 0; p < v->rank[i]; p++) {
            int64_t *s = &size[v->label[i][p]], d = in[i].shape[p];
            if (*s >= 0 && *s != d && *s != 1 && d != 1) {
                snprintf(why, cap, "operand %d's dim %d is %lld, another with its label %lld", i, p, (long long)d,
                         (long long)*s);
                return false;
            }
            if (*s < 0 || *s == 1)
                *s = d;
        }
    }
    for (int p = 0; p < v->out_rank; p++)
        if (size[v->out[p]] < 0) {
            snprintf(why, cap, "output label %d is in no operand", p);
            return false;
        }
    return true;
}
