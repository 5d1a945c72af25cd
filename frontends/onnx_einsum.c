/* onnx_einsum.c — Einsum (opset 12 on) as the einsum op: the equation is parsed at import
 * into one term per operand (ir/einsum_rnn.h), an ellipsis naming as many fresh labels as
 * the dims it stands for (aligned from the right, as numpy broadcasts), and the implicit
 * output (no "->") made of the ellipsis dims and then the labels used once, in order. */
#include <ctype.h>
#include <string.h>

#include "ir/einsum_rnn.h"
#include "onnx.h"

#define LETTERS 52 /* A-Z then a-z: label order is ASCII order; ellipsis dims follow */

typedef struct term {
    int n, label[MF_MAX_RANK];
} term;

/* Parses the subscripts in s[0..len) into t for an operand of rank `rank` (-1: the output,
 * whose ellipsis has `ell` dims); false with a reason on anything else. */
static bool parse_term(const char *s, size_t len, int rank, int ell, term *t, char *why, size_t cap)
{
    int letters = 0, dots = 0;
    for (size_t i = 0; i < len; i++)
        letters += isalpha((unsigned char)s[i]) != 0, dots += s[i] == '.';
    const char *dot = memchr(s, '.', len);
    if (dots && (dots != 3 || (size_t)(dot - s) + 3 > len || dot[1] != '.' || dot[2] != '.')) {
        snprintf(why, cap, "a malformed ellipsis");
        return false;
    }
    int e = dots ? (rank < 0 ? ell : rank - letters) : 0;
    if (e < 0 || letters + e > MF_MAX_RANK || (rank >= 0 && letters + e != rank)) {
        snprintf(why, cap, "subscripts '%.*s' for an operand of rank %d", (int)len, s, rank);
        return false;
    }
    t->n = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (ch == '.') { /* the ellipsis (checked above): e labels, right-aligned */
            for (int j = 0; j < e; j++)
                t->label[t->n++] = LETTERS + (ell - e) + j;
            i += 2;
        } else if (isupper((unsigned char)ch)) {
            t->label[t->n++] = ch - 'A';
        } else if (islower((unsigned char)ch)) {
            t->label[t->n++] = 26 + ch - 'a';
        } else if (ch != ' ') {
            snprintf(why, cap, "'%c' in the subscripts", ch);
            return false;
        }
    }
    return true;
}

/* The implicit output: the ellipsis dims, then the letters used exactly once. */
static void implicit_output(const term *in, int nin, int ell, term *out)
{
    int count[LETTERS] = {0};
    for (int i = 0; i < nin; i++)
        for (int p = 0; p < in[i].n; p++)
            if (in[i].label[p] < LETTERS)
                count[in[i].label[p]]++;
    out->n = 0;
    for (int j = 0; j < ell && out->n < MF_MAX_RANK; j++)
        out->label[out->n++] = LETTERS + j;
    for (int l = 0; l < LETTERS && out->n < MF_MAX_RANK; l++)
        if (count[l] == 1)
            out->label[out->n++] = l;
}

mf_status onnx_cv_einsum(onnx_importer *im, const Onnx__NodeProto *n)
{
    char eq[512], why[256];
    mf_value *in[MF_MAX_RANK];
    term terms[MF_MAX_RANK], out;
    int nin = (int)n->n_input;
    if (nin < 1 || nin > MF_MAX_RANK)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "%d operands (1 to %d are supported)", nin, MF_MAX_RANK);
    mf_status s = onnx_inputs(im, n, nin, in);
    if (s)
        return s;
    eq[0] = 0; /* absent: the empty equation, refused below */
    onnx_attr_str(n, "equation", "", eq, sizeof eq);
    const char *arrow = strstr(eq, "->"), *end = arrow ? arrow : eq + strlen(eq), *p = eq, *span[MF_MAX_RANK];
    size_t len[MF_MAX_RANK];
    int ell = 0; /* the most dims an ellipsis stands for */
    for (int k = 0; k < nin; k++) {
        const char *comma = memchr(p, ',', (size_t)(end - p)), *stop = comma ? comma : end;
        if ((comma == NULL) != (k == nin - 1))
            return onnx_node_error(n, MF_ERR_INVALID, "the equation '%s' does not have %d operands", eq, nin);
        span[k] = p, len[k] = (size_t)(stop - p), p = stop + 1;
        int letters = 0;
        for (size_t i = 0; i < len[k]; i++)
            letters += isalpha((unsigned char)span[k][i]) != 0;
        if (memchr(span[k], '.', len[k]) && in[k]->type.rank - letters > ell)
            ell = in[k]->type.rank - letters;
    }
    for (int k = 0; k < nin; k++)
        if (!parse_term(span[k], len[k], in[k]->type.rank, ell, &terms[k], why, sizeof why))
            return onnx_node_error(n, MF_ERR_INVALID, "equation '%s': %s", eq, why);
    if (arrow && !parse_term(arrow + 2, strlen(arrow + 2), -1, ell, &out, why, sizeof why))
        return onnx_node_error(n, MF_ERR_INVALID, "equation '%s': %s", eq, why);
    if (!arrow)
        implicit_output(terms, nin, ell, &out);
    int64_t codes[MF_MAX_RANK];
    for (int k = 0; k < nin; k++)
        codes[k] = mf_einsum_code(terms[k].label, terms[k].n);
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_EINSUM, a);
    mf_attr_set_ints(MF_OP_EINSUM, a, "terms", nin, codes);
    mf_attr_set_int(MF_OP_EINSUM, a, "output", mf_einsum_code(out.label, out.n));
    return onnx_emit(im, n, MF_OP_EINSUM, nin, in, a);
}
