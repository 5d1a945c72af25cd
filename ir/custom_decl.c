/* custom_decl.c — the parser of custom operator declarations (docs/custom_ops.md), one op a
 * line:
 *     NAME(ARG, ...) -> OUTPUTS : symbol=SYM shape=RULE [onnx(ARG=ATTR, ...)]
 * A malformed line fails with FILE:LINE:COL and what was expected; nothing is half-read.
 * The loader (module/custom_load.c) resolves what the declarations name. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custom_ops.h"

typedef enum { T_END, T_IDENT, T_NUM, T_PUNCT, T_ARROW, T_BAD } tok_kind;

typedef struct tok {
    tok_kind kind;
    const char *s;
    size_t len;
    int col;
} tok;

typedef struct dparser {
    const char *file;
    int line;
    const char *line_start, *p, *end; /* the current line, without its newline */
    tok t;
} dparser;

static bool is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident_char(char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

static bool is_num_char(char c)
{
    return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';
}

static void next(dparser *d)
{
    while (d->p < d->end && (*d->p == ' ' || *d->p == '\t' || *d->p == '\r'))
        d->p++;
    tok t = {T_END, d->p, 0, (int)(d->p - d->line_start) + 1};
    if (d->p >= d->end || *d->p == '#') {
        d->t = t;
        return;
    }
    char c = *d->p;
    if (is_ident_start(c)) {
        while (d->p < d->end && is_ident_char(*d->p))
            d->p++;
        t.kind = T_IDENT;
    } else if (c == '-' && d->p + 1 < d->end && d->p[1] == '>') {
        d->p += 2;
        t.kind = T_ARROW;
    } else if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.') {
        d->p++;
        while (d->p < d->end && (is_num_char(*d->p) || is_ident_char(*d->p)))
            d->p++;
        t.kind = T_NUM;
    } else if (strchr("(),=:", c)) {
        d->p++;
        t.kind = T_PUNCT;
    } else {
        d->p++;
        t.kind = T_BAD;
    }
    t.len = (size_t)(d->p - t.s);
    d->t = t;
}

static mf_status derr(const dparser *d, int col, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static mf_status derr(const dparser *d, int col, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mf_error(MF_ERR_PARSE, "%s:%d:%d: %s", d->file, d->line, col, msg);
}

/* "expected WHAT, found 'x'" at the current token. */
static mf_status expected(const dparser *d, const char *what)
{
    if (d->t.kind == T_END)
        return derr(d, d->t.col, "expected %s, found the end of the line", what);
    return derr(d, d->t.col, "expected %s, found '%.*s'", what, (int)(d->t.len < 40 ? d->t.len : 40), d->t.s);
}

static bool is_punct(const dparser *d, char c)
{
    return d->t.kind == T_PUNCT && d->t.s[0] == c;
}

static bool is_word(const dparser *d, const char *w)
{
    return d->t.kind == T_IDENT && d->t.len == strlen(w) && !memcmp(d->t.s, w, d->t.len);
}

static mf_status expect_punct(dparser *d, char c, const char *what)
{
    if (!is_punct(d, c))
        return expected(d, what);
    next(d);
    return MF_OK;
}

/* An identifier into buf (cap bytes with the NUL); what names it in the error. */
static mf_status take_ident(dparser *d, char *buf, size_t cap, const char *what)
{
    if (d->t.kind != T_IDENT)
        return expected(d, what);
    if (d->t.len >= cap)
        return derr(d, d->t.col, "%s '%.*s' is longer than %zu characters", what, 40, d->t.s, cap - 1);
    memcpy(buf, d->t.s, d->t.len);
    buf[d->t.len] = 0;
    next(d);
    return MF_OK;
}

/* ---- arguments and outputs ------------------------------------------------------------- */

static int find_arg(const mf_custom_decl *o, const char *name)
{
    for (int i = 0; i < o->nargs; i++)
        if (!strcmp(o->args[i].name, name))
            return i;
    return -1;
}

/* A scalar default of kind k at the current token. */
static mf_status parse_default(dparser *d, mf_custom_arg *a)
{
    char buf[64];
    int col = d->t.col;
    if (a->kind == MF_CUSTOM_BOOL) {
        if (!is_word(d, "true") && !is_word(d, "false"))
            return expected(d, "true or false");
        a->dflt = is_word(d, "true");
        next(d);
        return MF_OK;
    }
    if (!(d->t.kind == T_NUM || (is_word(d, "inf") && a->kind == MF_CUSTOM_FLOAT)))
        return expected(d, a->kind == MF_CUSTOM_INT ? "an integer" : "a number");
    size_t len = d->t.len;
    snprintf(buf, sizeof buf, "%.*s", (int)(len < 63 ? len : 63), d->t.s);
    char *end;
    if (a->kind == MF_CUSTOM_INT) {
        long long v = strtoll(buf, &end, 10);
        if (*end || len >= 63 || llabs(v) > (1LL << 53))
            return derr(d, col, "'%s' is not an integer of at most 2^53 in size", buf);
        a->dflt = (double)v;
    } else {
        a->dflt = strtod(buf, &end);
        if (*end || len >= 63 || isnan(a->dflt))
            return derr(d, col, "'%s' is not a number", buf);
    }
    next(d);
    return MF_OK;
}

static mf_status parse_arg(dparser *d, mf_custom_decl *o)
{
    static const char *const types[] = {"Tensor", "float", "int", "bool"};
    int kind = -1;
    for (int k = 0; k < 4; k++)
        if (is_word(d, types[k]))
            kind = k;
    if (kind < 0)
        return expected(d, "an argument type (Tensor, float, int or bool)");
    if (o->nargs == MF_CUSTOM_MAX_ARGS)
        return derr(d, d->t.col, "more than %d arguments", MF_CUSTOM_MAX_ARGS);
    next(d);
    mf_custom_arg *a = &o->args[o->nargs];
    memset(a, 0, sizeof *a);
    a->kind = (mf_custom_kind)kind;
    int col = d->t.col;
    mf_status s = take_ident(d, a->name, sizeof a->name, "an argument name");
    if (s)
        return s;
    if (find_arg(o, a->name) >= 0)
        return derr(d, col, "argument '%s' is declared twice", a->name);
    memcpy(a->onnx_name, a->name, sizeof a->onnx_name);
    if (a->kind == MF_CUSTOM_TENSOR_ARG) {
        if (o->ntensors == MF_CUSTOM_MAX_TENSORS)
            return derr(d, col, "more than %d Tensor arguments", MF_CUSTOM_MAX_TENSORS);
        if (is_punct(d, '='))
            return derr(d, d->t.col, "a Tensor argument takes no default");
        a->index = o->ntensors++;
    } else {
        if (o->nscalars == MF_CUSTOM_MAX_SCALARS)
            return derr(d, col, "more than %d scalar arguments", MF_CUSTOM_MAX_SCALARS);
        a->index = o->nscalars++;
        if (is_punct(d, '=')) {
            next(d);
            a->has_default = true;
            if ((s = parse_default(d, a)))
                return s;
        }
    }
    o->nargs++;
    return MF_OK;
}

static mf_status parse_args(dparser *d, mf_custom_decl *o)
{
    int col = d->t.col;
    mf_status s = expect_punct(d, '(', "'(' after the op name");
    while (!s && !is_punct(d, ')')) {
        if (o->nargs && (s = expect_punct(d, ',', "',' or ')' after an argument")))
            return s;
        s = parse_arg(d, o);
    }
    if (s)
        return s;
    next(d); /* ')' */
    if (!o->ntensors)
        return derr(d, col, "%s has no Tensor argument (it needs at least one)", o->name);
    return MF_OK;
}

/* One `Tensor [name]` of the outputs. */
static mf_status parse_output(dparser *d, mf_custom_decl *o)
{
    if (!is_word(d, "Tensor"))
        return expected(d, "Tensor (an output)");
    if (o->noutputs == MF_CUSTOM_MAX_OUTPUTS)
        return derr(d, d->t.col, "more than %d outputs", MF_CUSTOM_MAX_OUTPUTS);
    next(d);
    if (d->t.kind == T_IDENT) /* an output name, for the reader only */
        next(d);
    o->noutputs++;
    return MF_OK;
}

static mf_status parse_outputs(dparser *d, mf_custom_decl *o)
{
    if (d->t.kind != T_ARROW)
        return expected(d, "'->' and the outputs");
    next(d);
    if (!is_punct(d, '('))
        return parse_output(d, o);
    next(d);
    mf_status s = MF_OK;
    while (!s && !is_punct(d, ')')) {
        if (o->noutputs && (s = expect_punct(d, ',', "',' or ')' after an output")))
            return s;
        s = parse_output(d, o);
    }
    if (!s && !o->noutputs)
        return derr(d, d->t.col, "%s has no outputs", o->name);
    if (!s)
        next(d); /* ')' */
    return s;
}

/* ---- clauses ------------------------------------------------------------------------------- */

/* A Tensor argument's name, as the shape rule reads it. */
static mf_status rule_input(dparser *d, mf_custom_decl *o)
{
    char name[MF_CUSTOM_NAME_CAP];
    int col = d->t.col;
    mf_status s = take_ident(d, name, sizeof name, "a Tensor argument's name");
    if (s)
        return s;
    int k = find_arg(o, name);
    if (k < 0 || o->args[k].kind != MF_CUSTOM_TENSOR_ARG)
        return derr(d, col, "'%s' is not a Tensor argument of %s", name, o->name);
    o->rule_inputs[o->nrule_inputs++] = o->args[k].index;
    return MF_OK;
}

static mf_status parse_rule(dparser *d, mf_custom_decl *o)
{
    mf_status s;
    if (is_word(d, "fn")) {
        next(d);
        o->rule = MF_CUSTOM_SHAPE_FN;
        if ((s = expect_punct(d, '(', "'(' after fn")) ||
            (s = take_ident(d, o->shape_symbol, sizeof o->shape_symbol, "a shape function's symbol")))
            return s;
        return expect_punct(d, ')', "')' after the shape function");
    }
    bool same = is_word(d, "same");
    if (!same && !is_word(d, "broadcast"))
        return expected(d, "a shape rule: same(x), broadcast(a, b, ...) or fn(symbol)");
    o->rule = same ? MF_CUSTOM_SAME : MF_CUSTOM_BROADCAST;
    next(d);
    if ((s = expect_punct(d, '(', same ? "'(' after same" : "'(' after broadcast")))
        return s;
    while (!s && !is_punct(d, ')')) {
        if (o->nrule_inputs && (same || (s = expect_punct(d, ',', "',' or ')' in broadcast"))))
            return s ? s : expected(d, "')' after same's one argument");
        if (o->nrule_inputs == MF_CUSTOM_MAX_TENSORS)
            return derr(d, d->t.col, "more than %d inputs in the shape rule", MF_CUSTOM_MAX_TENSORS);
        s = rule_input(d, o);
    }
    if (s)
        return s;
    if (!o->nrule_inputs)
        return derr(d, d->t.col, "the shape rule names no Tensor argument");
    next(d); /* ')' */
    return MF_OK;
}

/* onnx(arg=attribute, ...): the ONNX attribute each scalar argument is read from. */
static mf_status parse_onnx(dparser *d, mf_custom_decl *o)
{
    mf_status s = expect_punct(d, '(', "'(' after onnx");
    int n = 0;
    while (!s && !is_punct(d, ')')) {
        if (n++ && (s = expect_punct(d, ',', "',' or ')' in onnx(...)")))
            return s;
        char name[MF_CUSTOM_NAME_CAP];
        int col = d->t.col;
        if ((s = take_ident(d, name, sizeof name, "a scalar argument's name")))
            return s;
        int k = find_arg(o, name);
        if (k < 0 || o->args[k].kind == MF_CUSTOM_TENSOR_ARG)
            return derr(d, col, "'%s' is not a scalar argument of %s", name, o->name);
        if ((s = expect_punct(d, '=', "'=' and the ONNX attribute's name")))
            return s;
        s = take_ident(d, o->args[k].onnx_name, sizeof o->args[k].onnx_name, "an ONNX attribute name");
    }
    if (!s)
        next(d); /* ')' */
    return s;
}

static mf_status parse_clauses(dparser *d, mf_custom_decl *o)
{
    bool have_shape = false;
    int col = d->t.col;
    mf_status s = expect_punct(d, ':', "':' and the clauses (symbol=..., shape=...)");
    while (!s && d->t.kind != T_END) {
        if (is_word(d, "onnx")) {
            next(d);
            s = parse_onnx(d, o);
            continue;
        }
        bool sym = is_word(d, "symbol");
        if (!sym && !is_word(d, "shape"))
            return expected(d, "a clause (symbol=..., shape=... or onnx(...))");
        if (sym ? o->symbol[0] != 0 : have_shape)
            return derr(d, d->t.col, "clause %s is given twice", sym ? "symbol" : "shape");
        next(d);
        if ((s = expect_punct(d, '=', "'=' after the clause name")))
            return s;
        if (sym)
            s = take_ident(d, o->symbol, sizeof o->symbol, "a C symbol");
        else
            s = parse_rule(d, o), have_shape = true;
    }
    if (s)
        return s;
    if (!o->symbol[0])
        return derr(d, col, "%s has no symbol=... clause (the C function to call)", o->name);
    if (!have_shape)
        return derr(d, col, "%s has no shape=... clause (same(x), broadcast(a, b) or fn(symbol))", o->name);
    return MF_OK;
}

static mf_status parse_line(dparser *d, mf_custom_decl *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->where, sizeof o->where, "%s:%d", d->file, d->line);
    mf_status s = take_ident(d, o->name, sizeof o->name, "an op name");
    if (!s)
        s = parse_args(d, o);
    if (!s)
        s = parse_outputs(d, o);
    if (!s)
        s = parse_clauses(d, o);
    return s;
}

mf_status mf_custom_decl_parse(const char *text, size_t len, const char *filename, mf_custom_decl **out, int *n)
{
    dparser d = {filename ? filename : "<declarations>", 0, text, text, text, {0}};
    mf_custom_decl *list = NULL;
    int count = 0, cap = 0;
    mf_status s = MF_OK;
    const char *end = text + len;
    for (const char *p = text; p < end && !s;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        d.line++;
        d.line_start = d.p = p;
        d.end = nl ? nl : end;
        p = nl ? nl + 1 : end;
        if (memchr(d.line_start, 0, (size_t)(d.end - d.line_start))) {
            s = derr(&d, 1, "a NUL byte in the text");
            break;
        }
        next(&d);
        if (d.t.kind == T_END) /* blank or a comment */
            continue;
        if (count == MF_CUSTOM_MAX_OPS) {
            s = derr(&d, 1, "more than %d declarations", MF_CUSTOM_MAX_OPS);
            break;
        }
        if (count == cap) {
            cap = cap ? 2 * cap : 8;
            mf_custom_decl *grown = realloc(list, sizeof *list * (size_t)cap);
            if (!grown) {
                s = mf_error(MF_ERR_NOMEM, "custom ops: out of memory");
                break;
            }
            list = grown;
        }
        int col = d.t.col;
        if (!(s = parse_line(&d, &list[count])))
            for (int i = 0; i < count && !s; i++)
                if (!strcmp(list[i].name, list[count].name))
                    s = derr(&d, col, "op '%s' is declared twice (first at %s)", list[i].name, list[i].where);
        count++;
    }
    if (s) {
        free(list);
        return s;
    }
    *out = list;
    *n = count;
    return MF_OK;
}

/* ---- what the declaration means in C ------------------------------------------------------ */

void mf_custom_decl_str(const mf_custom_decl *d, char *buf, size_t cap)
{
    static const char *const types[] = {"Tensor", "float", "int", "bool"};
    static const char *const rules[] = {"same", "broadcast", "fn"};
    size_t n = 0;
#define PUT(...) (n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, __VA_ARGS__))
    PUT("%s(", d->name);
    for (int i = 0; i < d->nargs; i++) {
        const mf_custom_arg *a = &d->args[i];
        PUT("%s%s %s", i ? ", " : "", types[a->kind], a->name);
        if (a->has_default)
            PUT("=%.17g", a->dflt);
        if (a->kind != MF_CUSTOM_TENSOR_ARG && strcmp(a->onnx_name, a->name))
            PUT(" @%s", a->onnx_name);
    }
    PUT(") -> %d : symbol=%s shape=%s(", d->noutputs, d->symbol, rules[d->rule]);
    if (d->rule == MF_CUSTOM_SHAPE_FN)
        PUT("%s", d->shape_symbol);
    for (int i = 0; d->rule != MF_CUSTOM_SHAPE_FN && i < d->nrule_inputs; i++)
        PUT("%s%d", i ? "," : "", d->rule_inputs[i]);
    PUT(")");
#undef PUT
}

int mf_custom_c_args(const mf_custom_decl *d, mf_custom_ctype *types)
{
    int n = 0;
    for (int t = 0; t < d->noutputs + d->nargs; t++) {
        const mf_custom_arg *a = t < d->noutputs ? NULL : &d->args[t - d->noutputs];
        if (a && a->kind != MF_CUSTOM_TENSOR_ARG) {
            types[n++] = a->kind == MF_CUSTOM_FLOAT ? MF_CT_F64 : a->kind == MF_CUSTOM_INT ? MF_CT_I64 : MF_CT_BOOL;
            continue;
        }
        types[n++] = MF_CT_PTR; /* data */
        types[n++] = MF_CT_I64; /* rank */
        types[n++] = MF_CT_PTR; /* shape */
        types[n++] = MF_CT_I32; /* dtype */
    }
    return n;
}
