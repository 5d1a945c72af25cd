/* parse.c — the .mfir parser: recursive descent over ir/lex.c's tokens, building the graph
 * through the builder (so every node's type is inferred and checked against the declared
 * one).  The first error stops the parse with "FILE:LINE:COL: reason" and frees the
 * partial graph.  docs/mfir.md describes the format. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custom_ops.h"
#include "ir.h"

#define MAX_NODE_INPUTS 64

typedef struct parser {
    mf_lexer lex;
    mf_token tok; /* the current token */
    const char *file;
    mf_graph *g;
    mf_ir_names names; /* value name (without '%') -> mf_value */
} parser;

/* ---- tokens and errors ------------------------------------------------------------------ */

static void advance(parser *p)
{
    p->tok = mf_lex_next(&p->lex);
}

static bool is_punct(const mf_token *t, char c)
{
    return t->kind == MF_TOK_PUNCT && t->s[0] == c;
}

static bool is_word(const mf_token *t, const char *w)
{
    return t->kind == MF_TOK_IDENT && strlen(w) == t->len && !memcmp(t->s, w, t->len);
}

/* How a token reads in a message: 'text' (cut short), or "end of input". */
static const char *describe(const mf_token *t, char *buf, size_t cap)
{
    if (t->kind == MF_TOK_EOF)
        return "end of input";
    unsigned char c = (unsigned char)t->s[0];
    if (t->len == 1 && (c < 0x20 || c >= 0x7f))
        snprintf(buf, cap, "'\\x%02x'", c);
    else
        snprintf(buf, cap, "'%.*s%s'", (int)(t->len > 40 ? 40 : t->len), t->s,
                 t->len > 40 ? "..." : "");
    return buf;
}

static mf_status perr(const parser *p, const mf_token *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static mf_status perr(const parser *p, const mf_token *t, const char *fmt, ...)
{
    char reason[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return mf_error(MF_ERR_PARSE, "%s:%d:%d: %s", p->file, t->line, t->col, reason);
}

/* "expected WHAT, found TOKEN" at the current token; a lexical error reports itself. */
static mf_status expected(const parser *p, const char *what)
{
    char buf[64];
    const mf_token *t = &p->tok;
    if (t->kind == MF_TOK_ERROR)
        return perr(p, t, "%s %s", t->why, describe(t, buf, sizeof buf));
    return perr(p, t, "expected %s, found %s", what, describe(t, buf, sizeof buf));
}

/* Consumes punctuation c; `after` says where, as in "expected ')' after the inputs". */
static mf_status expect_punct(parser *p, char c, const char *after)
{
    if (!is_punct(&p->tok, c)) {
        char what[256];
        snprintf(what, sizeof what, "'%c'%s%s", c, *after ? " " : "", after);
        return expected(p, what);
    }
    advance(p);
    return MF_OK;
}

/* Between list items: consumes ',' or, when the list is not closed by `close` next,
 * fails with "expected 'close' AFTER, found ...". */
static mf_status list_sep(parser *p, char close, const char *after)
{
    if (is_punct(&p->tok, ',')) {
        advance(p);
        return MF_OK;
    }
    return expect_punct(p, close, after);
}

/* ---- numbers ------------------------------------------------------------------------------ */

static bool tok_is_number(const mf_token *t)
{
    return t->kind == MF_TOK_INT || t->kind == MF_TOK_FLOAT || is_word(t, "inf") ||
           is_word(t, "nan");
}

/* The token's text as a C string (numbers longer than the buffer are rejected). */
static bool tok_cstr(const mf_token *t, char *buf, size_t cap)
{
    if (t->len >= cap)
        return false;
    memcpy(buf, t->s, t->len);
    buf[t->len] = 0;
    return true;
}

static mf_status tok_int(const parser *p, const mf_token *t, int64_t *out)
{
    char buf[64], *end;
    errno = 0;
    if (!tok_cstr(t, buf, sizeof buf) || (*out = strtoll(buf, &end, 10), errno) || *end)
        return perr(p, t, "integer %.*s is out of range", (int)t->len, t->s);
    return MF_OK;
}

static mf_status tok_double(const parser *p, const mf_token *t, double *out)
{
    char buf[128], *end;
    if (!tok_cstr(t, buf, sizeof buf))
        return perr(p, t, "number %.40s... is too long", t->s);
    *out = strtod(buf, &end);
    if (*end || (isinf(*out) && !strstr(buf, "inf")))
        return perr(p, t, "number %s is out of range", buf);
    return MF_OK;
}

/* ---- values ------------------------------------------------------------------------------ */

/* A %name token's value, or an error naming it. */
static mf_status lookup(parser *p, const char *ctx, mf_value **out)
{
    if (p->tok.kind != MF_TOK_LOCAL)
        return expected(p, ctx);
    *out = mf_ir_names_get(&p->names, p->tok.s + 1, p->tok.len - 1);
    if (!*out)
        return perr(p, &p->tok, "value %.*s is used before it is defined", (int)p->tok.len,
                    p->tok.s);
    advance(p);
    return MF_OK;
}

/* Gives v the name of token t (a %name not defined yet) and enters it in the table. */
static mf_status define(parser *p, const mf_token *t, mf_value *v)
{
    v->name = mf_arena_strdup(p->g->arena, t->s + 1, t->len - 1);
    if (!v->name || !mf_ir_names_put(&p->names, v->name, t->len - 1, v))
        return mf_error(MF_ERR_NOMEM, "%s: out of memory parsing", p->file);
    return MF_OK;
}

static mf_status check_new_name(const parser *p, const mf_token *t)
{
    if (mf_ir_names_get(&p->names, t->s + 1, t->len - 1))
        return perr(p, t, "%.*s is defined twice", (int)t->len, t->s);
    return MF_OK;
}

/* ---- types -------------------------------------------------------------------------------- */

static mf_status parse_dim(parser *p, mf_type *t)
{
    if (p->tok.kind != MF_TOK_INT)
        return expected(p, "a dimension (an integer)");
    int64_t d;
    mf_status s = tok_int(p, &p->tok, &d);
    if (s)
        return s;
    if (d < 0)
        return perr(p, &p->tok, "negative dimension %lld", (long long)d);
    if (t->rank == MF_MAX_RANK)
        return perr(p, &p->tok, "type has more than %d dimensions", MF_MAX_RANK);
    t->shape[t->rank++] = d;
    advance(p);
    return MF_OK;
}

/* DTYPE[d0,d1,...]; `ctx` completes "expected a type ...". */
static mf_status parse_type(parser *p, const char *ctx, mf_type *t)
{
    memset(t, 0, sizeof *t);
    char what[128];
    snprintf(what, sizeof what, "a type (like f32[1,3]) %s", ctx);
    if (p->tok.kind != MF_TOK_IDENT)
        return expected(p, what);
    if (!mf_dtype_from_name(p->tok.s, p->tok.len, &t->dtype))
        return perr(p, &p->tok, "unknown dtype '%.*s' (expected f16, f32, f64, i8, i16, i32, i64, u8, u16, u32, u64 or bool)",
                    (int)p->tok.len, p->tok.s);
    mf_token start = p->tok; /* errors about the whole type point at its dtype */
    advance(p);
    mf_status s = expect_punct(p, '[', "after the dtype");
    while (!s && !is_punct(&p->tok, ']')) {
        if (t->rank && (s = list_sep(p, ']', "after the dimensions")))
            break;
        s = parse_dim(p, t);
    }
    if (!s && mf_type_check(t, "type", NULL, NULL))
        return perr(p, &start, "%s", mf_last_error());
    return s ? s : expect_punct(p, ']', "");
}

/* ---- constants ---------------------------------------------------------------------------- */

typedef struct dense_buf {
    unsigned char *data;
    size_t count, cap; /* elements */
} dense_buf;

/* Converts number token t to one element of dtype dt at dst. */
static mf_status dense_elem(const parser *p, const mf_token *t, mf_dtype dt, void *dst)
{
    if (!tok_is_number(t))
        return expected(p, "a number in dense<...>");
    if (mf_dtype_is_float(dt)) {
        char buf[128];
        bool text = tok_cstr(t, buf, sizeof buf);
        double d = text ? strtod(buf, NULL) : INFINITY;
        float f = text ? strtof(buf, NULL) : INFINITY; /* f32 and f16 round from the text once */
        mf_status s = MF_OK;
        if ((dt == MF_F64 ? isinf(d) : isinf(f)) && !memchr(t->s, 'i', t->len))
            s = perr(p, t, "%.*s is out of range for %s", (int)t->len, t->s, mf_dtype_name(dt));
        uint16_t h = dt == MF_BF16 ? mf_f32_to_bf16(f) : mf_f32_to_f16(f); /* the 16-bit floats */
        float back = dt == MF_BF16 ? mf_bf16_to_f32(h) : mf_f16_to_f32(h);
        if (!s && (dt == MF_F16 || dt == MF_BF16) && isinf(back) && !isinf(f))
            s = perr(p, t, "%.*s is out of range for %s", (int)t->len, t->s, mf_dtype_name(dt));
        if (!s)
            memcpy(dst, dt == MF_F64 ? (void *)&d : dt == MF_F32 ? (void *)&f : (void *)&h, mf_dtype_size(dt));
        return s;
    }
    int64_t v, lo, hi;
    if (t->kind != MF_TOK_INT)
        return perr(p, t, "expected an integer for %s, found '%.*s'", mf_dtype_name(dt),
                    (int)t->len, t->s);
    mf_status s = tok_int(p, t, &v);
    if (s)
        return s;
    mf_dtype_int_range(dt, &lo, &hi);
    if (v < lo || v > hi)
        return perr(p, t, "%lld is out of range for %s", (long long)v, mf_dtype_name(dt));
    mf_scalar_store(dst, dt, 0, (mf_scalar){false, 0.0, v});
    return MF_OK;
}

static mf_status dense_push(parser *p, dense_buf *b, const mf_type *t, int64_t numel)
{
    size_t esize = mf_dtype_size(t->dtype);
    if (b->count == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        if (cap > (size_t)numel)
            cap = (size_t)numel;
        unsigned char *d = realloc(b->data, cap * esize);
        if (!d)
            return mf_error(MF_ERR_NOMEM, "%s: out of memory parsing a constant", p->file);
        b->data = d;
        b->cap = cap;
    }
    return dense_elem(p, &p->tok, t->dtype, b->data + b->count * esize);
}

/* dense<v, ...> after the word `dense`: exactly numel values; the buffer gets them. */
static mf_status parse_dense(parser *p, const mf_token *at, const mf_type *t, mf_buffer **out)
{
    int64_t numel = mf_type_numel(t), given = 0;
    dense_buf b = {0};
    mf_status s = expect_punct(p, '<', "after dense");
    while (!s && !is_punct(&p->tok, '>')) {
        if (given && (s = list_sep(p, '>', "after the dense values")))
            break;
        if (given < numel) /* past numel only count: the error says how many there are */
            s = dense_push(p, &b, t, numel);
        else if (!tok_is_number(&p->tok))
            s = expected(p, "a number in dense<...>");
        if (s)
            break;
        if (given++ < numel)
            b.count++;
        advance(p);
    }
    char ts[256];
    if (!s && given != numel)
        s = perr(p, at, "dense has %lld values, but %s holds %lld", (long long)given,
                 mf_type_str(t, ts, sizeof ts), (long long)numel);
    if (!s && !(*out = mf_buffer_new_host(mf_type_nbytes(t))))
        s = mf_error(MF_ERR_NOMEM, "%s: out of memory parsing a constant", p->file);
    if (!s) {
        if (numel)
            memcpy((*out)->data, b.data, mf_type_nbytes(t));
        advance(p); /* '>' */
    }
    free(b.data);
    return s;
}

/* const TYPE (opaque | dense<...>), after `%name =`. */
static mf_status parse_const(parser *p, const mf_token *name)
{
    mf_type t;
    mf_buffer *data = NULL;
    advance(p); /* const */
    mf_status s = parse_type(p, "after const", &t);
    if (s)
        return s;
    mf_token at = p->tok;
    if (is_word(&at, "opaque"))
        advance(p);
    else if (is_word(&at, "dense"))
        advance(p), s = parse_dense(p, &at, &t, &data);
    else
        s = expected(p, "'dense<...>' or 'opaque' after the constant's type");
    if (s)
        return s;
    mf_value *v = mf_graph_add_const(p->g, NULL, &t, data);
    mf_buffer_release(data);
    if (!v)
        return mf_error(MF_ERR_NOMEM, "%s: out of memory parsing", p->file);
    return define(p, name, v);
}

/* ---- attributes ----------------------------------------------------------------------------- */

static mf_status parse_ints(parser *p, const char *op, const char *name, mf_attr *a)
{
    mf_status s = MF_OK;
    advance(p); /* '[' */
    a->n = 0;
    while (!s && !is_punct(&p->tok, ']')) {
        if (a->n && (s = list_sep(p, ']', "after the list entries")))
            break;
        if (p->tok.kind != MF_TOK_INT)
            return expected(p, "an integer in the list");
        if (a->n == MF_MAX_RANK)
            return perr(p, &p->tok, "attribute %s of %s has more than %d entries", name, op,
                        MF_MAX_RANK);
        if (!(s = tok_int(p, &p->tok, &a->ints[a->n])))
            a->n++, advance(p);
    }
    if (!s)
        advance(p); /* ']' */
    return s;
}

/* One attribute value of the type the schema gives. */
static mf_status parse_attr_value(parser *p, const char *op, const mf_attr_spec *spec, mf_attr *a)
{
    static const char *const kinds[] = {"an int", "a float", "a list of ints like [1,1]"};
    const mf_token *t = &p->tok;
    bool ok = spec->type == MF_ATTR_INT     ? t->kind == MF_TOK_INT
              : spec->type == MF_ATTR_FLOAT ? tok_is_number(t)
                                            : is_punct(t, '[');
    char buf[64];
    if (!ok && t->kind != MF_TOK_ERROR)
        return perr(p, t, "attribute %s of %s expects %s, found %s", spec->name, op,
                    kinds[spec->type], describe(t, buf, sizeof buf));
    if (!ok)
        return expected(p, kinds[spec->type]);
    a->type = spec->type;
    if (spec->type == MF_ATTR_INTS)
        return parse_ints(p, op, spec->name, a);
    mf_status s = spec->type == MF_ATTR_INT ? tok_int(p, t, &a->i) : tok_double(p, t, &a->f);
    if (!s)
        advance(p);
    return s;
}

/* {name=value, ...}: any order and subset; unknown, repeated and mistyped ones fail. */
static mf_status parse_attrs(parser *p, mf_op op, const mf_token *optok, mf_attr *attrs)
{
    const mf_op_info *info = mf_op_get(op);
    bool given[MF_MAX_ATTRS] = {0};
    int count = 0;
    mf_status s = MF_OK;
    mf_op_default_attrs(op, attrs);
    if (is_punct(&p->tok, '{')) {
        advance(p);
        while (!s && !is_punct(&p->tok, '}')) {
            if (count++ && (s = list_sep(p, '}', "after the attributes")))
                break;
            if (p->tok.kind != MF_TOK_IDENT)
                return expected(p, "an attribute name");
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(p->tok.len < 63 ? p->tok.len : 63), p->tok.s);
            int i = p->tok.len < 63 ? mf_op_attr_index(op, name) : -1;
            if (i < 0)
                return perr(p, &p->tok, "%s has no attribute '%.*s'", info->name,
                            (int)p->tok.len, p->tok.s);
            if (given[i])
                return perr(p, &p->tok, "attribute %s of %s is given twice", name, info->name);
            given[i] = true;
            advance(p);
            s = expect_punct(p, '=', "after the attribute name");
            if (!s)
                s = parse_attr_value(p, info->name, &info->attrs[i], &attrs[i]);
        }
        if (!s)
            advance(p); /* '}' */
    }
    for (int i = 0; !s && i < info->nattrs; i++)
        if (info->attrs[i].required && !given[i])
            s = perr(p, optok, "%s requires attribute '%s'", info->name, info->attrs[i].name);
    return s;
}

/* ---- custom ops ------------------------------------------------------------------------ */

/* custom.NAME (an op with one output) or custom.NAME.K (output K of several): the
 * registry's op into attrs (decl, output, the scalars' defaults). */
static mf_status parse_custom_name(const parser *p, const mf_token *t, mf_attr *attrs)
{
    const char *name = t->s + 7, *dot = memchr(name, '.', t->len - 7);
    size_t len = dot ? (size_t)(dot - name) : t->len - 7;
    int index = mf_custom_find(name, len);
    if (index < 0)
        return perr(p, t, "custom op '%.*s' is not declared (load its declarations with --custom-ops or "
                    "mf_custom_ops_load)", (int)len, name);
    const mf_custom_decl *d = &mf_custom_get(index)->decl;
    mf_custom_default_attrs(index, attrs);
    int64_t k = 0;
    mf_token kt = {MF_TOK_INT, dot ? dot + 1 : "", dot ? t->len - 8 - len : 0, t->line, t->col, NULL};
    if (dot && (!kt.len || strspn(kt.s, "0123456789") < kt.len || tok_int(p, &kt, &k) || k >= d->noutputs))
        return perr(p, t, "custom op %s has no output '%.*s' (it has %d)", d->name, (int)kt.len, kt.s, d->noutputs);
    if (!dot && d->noutputs > 1)
        return perr(p, t, "custom op %s has %d outputs: name one as custom.%s.K", d->name, d->noutputs, d->name);
    attrs[1].i = k;
    return MF_OK;
}

/* One scalar argument's value: an int, a number, or true/false for a bool. */
static mf_status parse_custom_value(parser *p, const mf_custom_arg *a, mf_attr *slot)
{
    const mf_token *t = &p->tok;
    mf_status s = MF_OK;
    int64_t i;
    if (a->kind == MF_CUSTOM_BOOL && (is_word(t, "true") || is_word(t, "false")))
        slot->f = is_word(t, "true");
    else if (a->kind == MF_CUSTOM_FLOAT && tok_is_number(t))
        s = tok_double(p, t, &slot->f);
    else if (a->kind == MF_CUSTOM_INT && t->kind == MF_TOK_INT && !(s = tok_int(p, t, &i)))
        slot->f = (double)i;
    else
        return expected(p, a->kind == MF_CUSTOM_BOOL ? "true or false" : a->kind == MF_CUSTOM_INT ? "an integer" : "a number");
    if (!s)
        advance(p);
    return s;
}

/* {arg=value, ...} over the op's scalar arguments; those not given keep their defaults. */
static mf_status parse_custom_attrs(parser *p, const mf_token *optok, mf_attr *attrs)
{
    const mf_custom_decl *d = &mf_custom_get(attrs[0].i)->decl;
    bool given[MF_CUSTOM_MAX_ARGS] = {0};
    mf_status s = MF_OK;
    if (is_punct(&p->tok, '{')) {
        advance(p);
        for (int count = 0; !s && !is_punct(&p->tok, '}'); count++) {
            if (count && (s = list_sep(p, '}', "after the arguments")))
                return s;
            int k = 0;
            while (k < d->nargs && (d->args[k].kind == MF_CUSTOM_TENSOR_ARG || strlen(d->args[k].name) != p->tok.len ||
                                    memcmp(d->args[k].name, p->tok.s, p->tok.len)))
                k++;
            if (p->tok.kind != MF_TOK_IDENT || k == d->nargs)
                return perr(p, &p->tok, "custom op %s has no scalar argument '%.*s'", d->name, (int)p->tok.len, p->tok.s);
            if (given[k])
                return perr(p, &p->tok, "argument %s of %s is given twice", d->args[k].name, d->name);
            given[k] = true;
            advance(p);
            if (!(s = expect_punct(p, '=', "after the argument name")))
                s = parse_custom_value(p, &d->args[k], &attrs[MF_CUSTOM_ATTR_SLOT0 + d->args[k].index]);
        }
        if (!s)
            advance(p); /* '}' */
    }
    for (int k = 0; !s && k < d->nargs; k++)
        if (d->args[k].kind != MF_CUSTOM_TENSOR_ARG && !d->args[k].has_default && !given[k])
            s = perr(p, optok, "custom op %s requires argument '%s'", d->name, d->args[k].name);
    return s;
}

/* ---- nodes -------------------------------------------------------------------------------- */

static mf_status parse_inputs(parser *p, const char *op, mf_value **ins, int *nin)
{
    char after[128];
    snprintf(after, sizeof after, "after the inputs of %s", op);
    mf_status s = expect_punct(p, '(', "after the op name");
    *nin = 0;
    while (!s && !is_punct(&p->tok, ')')) {
        if (*nin && (s = list_sep(p, ')', after)))
            break;
        if (*nin == MAX_NODE_INPUTS)
            return perr(p, &p->tok, "%s has more than %d inputs", op, MAX_NODE_INPUTS);
        s = lookup(p, *nin ? "an input value (%name)" : "an input value (%name) or ')'",
                   &ins[*nin]);
        *nin += !s;
    }
    return s ? s : expect_punct(p, ')', after);
}

static mf_status check_arity(const parser *p, const mf_token *optok, mf_op op, int nin)
{
    const mf_op_info *info = mf_op_get(op);
    if (nin >= info->min_inputs && (info->max_inputs < 0 || nin <= info->max_inputs))
        return MF_OK;
    if (info->max_inputs < 0)
        return perr(p, optok, "%s takes at least %d input%s, found %d", info->name,
                    info->min_inputs, info->min_inputs == 1 ? "" : "s", nin);
    if (info->min_inputs == info->max_inputs)
        return perr(p, optok, "%s takes %d input%s, found %d", info->name, info->min_inputs,
                    info->min_inputs == 1 ? "" : "s", nin);
    return perr(p, optok, "%s takes %d to %d inputs, found %d", info->name, info->min_inputs,
                info->max_inputs, nin);
}

/* The optional @sgN after a node's type. */
static mf_status parse_subgraph(parser *p, mf_node *n)
{
    if (p->tok.kind != MF_TOK_GLOBAL)
        return MF_OK;
    const char *s = p->tok.s + 1;
    size_t len = p->tok.len - 1;
    bool ok = len > 2 && len < 12 && !memcmp(s, "sg", 2);
    long long v = 0;
    for (size_t i = 2; ok && i < len; i++) {
        ok = s[i] >= '0' && s[i] <= '9';
        v = v * 10 + (s[i] - '0');
    }
    if (!ok || v > INT32_MAX)
        return perr(p, &p->tok, "expected a subgraph @sgN (N >= 0), found '%.*s'",
                    (int)p->tok.len, p->tok.s);
    n->subgraph = (int)v;
    advance(p);
    return MF_OK;
}

/* The node's inferred type must be the one the text declares. */
static mf_status check_declared(parser *p, mf_node *n)
{
    mf_type t;
    mf_token at = p->tok;
    char ctx[128];
    snprintf(ctx, sizeof ctx, "after ':' in the %s node", mf_op_get(n->op)->name);
    mf_status s = parse_type(p, ctx, &t);
    if (s)
        return s;
    const mf_type *inf = &n->outputs[0]->type;
    char a[256], b[256];
    if (!mf_type_equal(&t, inf))
        return perr(p, &at, "%s result declared %s but inferred %s", mf_op_get(n->op)->name,
                    mf_type_str(&t, a, sizeof a), mf_type_str(inf, b, sizeof b));
    return MF_OK;
}

/* OP(%in, ...) {attrs} : TYPE [@sgN], after `%name =`. */
static mf_status parse_node(parser *p, const mf_token *name)
{
    mf_token optok = p->tok;
    mf_op op;
    if (optok.kind != MF_TOK_IDENT)
        return expected(p, "an op name or 'const' after '='");
    mf_attr attrs[MF_MAX_ATTRS];
    bool custom = optok.len > 7 && !memcmp(optok.s, "custom.", 7);
    mf_status s = MF_OK;
    if (custom)
        op = MF_OP_CUSTOM, s = parse_custom_name(p, &optok, attrs);
    else if (!mf_op_from_name(optok.s, optok.len, &op))
        return perr(p, &optok, "unknown op '%.*s'", (int)optok.len, optok.s);
    if (s)
        return s;
    const char *opname = custom ? mf_custom_get(attrs[0].i)->decl.name : mf_op_get(op)->name;
    advance(p);
    mf_value *ins[MAX_NODE_INPUTS];
    int nin;
    mf_node *n;
    s = parse_inputs(p, opname, ins, &nin);
    if (!s && !custom)
        s = check_arity(p, &optok, op, nin);
    if (!s)
        s = custom ? parse_custom_attrs(p, &optok, attrs) : parse_attrs(p, op, &optok, attrs);
    if (!s && !is_punct(&p->tok, ':')) {
        char what[128];
        snprintf(what, sizeof what, "':' and the result type of %s", opname);
        s = expected(p, what);
    }
    if (s)
        return s;
    if ((s = mf_graph_add_node(p->g, op, nin, ins, attrs, &n)))
        return s == MF_ERR_NOMEM ? s : mf_error_context(MF_ERR_PARSE, "%s:%d:%d", p->file,
                                                         optok.line, optok.col);
    advance(p); /* ':' */
    s = check_declared(p, n);
    if (!s)
        s = parse_subgraph(p, n);
    return s ? s : define(p, name, n->outputs[0]);
}

/* ---- statements and the graph ----------------------------------------------------------- */

static mf_status parse_stmt(parser *p)
{
    mf_token name = p->tok;
    mf_status s = check_new_name(p, &name);
    if (s)
        return s;
    advance(p);
    if ((s = expect_punct(p, '=', "after the value name")))
        return s;
    return is_word(&p->tok, "const") ? parse_const(p, &name) : parse_node(p, &name);
}

static mf_status parse_return(parser *p)
{
    mf_value **outs = NULL;
    int n = 0, cap = 0;
    mf_status s = MF_OK;
    advance(p); /* return */
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            mf_value **o = realloc(outs, sizeof *o * (size_t)cap);
            if (!o) {
                s = mf_error(MF_ERR_NOMEM, "%s: out of memory parsing", p->file);
                goto fail;
            }
            outs = o;
        }
        if ((s = lookup(p, n ? "a value (%name)" : "a value (%name) after 'return'", &outs[n])))
            goto fail;
        n++;
        if (!is_punct(&p->tok, ','))
            break;
        advance(p);
    }
    if (!(s = mf_graph_set_outputs(p->g, n, outs)))
        s = expect_punct(p, '}', "after the returned values");
fail:
    free(outs);
    return s;
}

static mf_status parse_body(parser *p)
{
    for (;;) {
        if (is_word(&p->tok, "return"))
            return parse_return(p);
        if (is_punct(&p->tok, '}'))
            return perr(p, &p->tok, "expected 'return' before '}' (a graph must return a value)");
        if (p->tok.kind == MF_TOK_EOF)
            return perr(p, &p->tok, "unterminated graph: expected a statement or 'return', "
                                    "found end of input");
        if (p->tok.kind != MF_TOK_LOCAL)
            return expected(p, "a statement (%name = ...) or 'return'");
        mf_status s = parse_stmt(p);
        if (s)
            return s;
    }
}

static mf_status parse_params(parser *p)
{
    mf_status s = expect_punct(p, '(', "after the graph name");
    while (!s && !is_punct(&p->tok, ')')) {
        if (p->g->ninputs && (s = list_sep(p, ')', "after the graph inputs")))
            break;
        mf_token name = p->tok;
        if (name.kind != MF_TOK_LOCAL)
            return expected(p, "a graph input (%name: type) or ')'");
        if ((s = check_new_name(p, &name)))
            return s;
        advance(p);
        mf_type t;
        s = expect_punct(p, ':', "after the input name");
        if (!s)
            s = parse_type(p, "for the graph input", &t);
        if (s)
            return s;
        mf_value *v = mf_graph_add_input(p->g, NULL, &t);
        s = v ? define(p, &name, v) : mf_error(MF_ERR_NOMEM, "%s: out of memory parsing", p->file);
    }
    return s ? s : expect_punct(p, ')', "after the graph inputs");
}

static mf_status parse_graph(parser *p)
{
    if (!is_word(&p->tok, "graph"))
        return expected(p, "'graph'");
    advance(p);
    if (p->tok.kind != MF_TOK_GLOBAL)
        return expected(p, "a graph name (@name) after 'graph'");
    p->g->name = mf_arena_strdup(p->g->arena, p->tok.s + 1, p->tok.len - 1);
    if (!p->g->name)
        return mf_error(MF_ERR_NOMEM, "%s: out of memory parsing", p->file);
    advance(p);
    mf_status s = parse_params(p);
    if (!s)
        s = expect_punct(p, '{', "to open the graph body");
    if (!s)
        s = parse_body(p);
    if (!s && p->tok.kind != MF_TOK_EOF)
        s = expected(p, "end of input after the graph's '}'");
    return s;
}

static mf_status parse_text(const char *text, size_t len, const char *filename, mf_graph **out)
{
    parser p = {.file = filename ? filename : "<string>"};
    *out = NULL;
    if (!(p.g = mf_graph_new(NULL)))
        return mf_error(MF_ERR_NOMEM, "%s: out of memory parsing", p.file);
    mf_lex_init(&p.lex, text, len);
    advance(&p);
    mf_status s = parse_graph(&p);
    mf_ir_names_free(&p.names);
    if (s)
        mf_graph_destroy(p.g);
    else
        *out = p.g;
    return s;
}

mf_status mf_graph_parse(const char *text, const char *filename, mf_graph **out)
{
    if (!out)
        return mf_error(MF_ERR_INVALID, "mf_graph_parse: out is NULL");
    *out = NULL;
    if (!text)
        return mf_error(MF_ERR_INVALID, "mf_graph_parse: text is NULL");
    return parse_text(text, strlen(text), filename, out);
}

mf_status mf_graph_load(const char *path, mf_graph **out)
{
    if (!out || !path)
        return mf_error(MF_ERR_INVALID, "mf_graph_load: %s is NULL", path ? "out" : "path");
    *out = NULL;
    char *text;
    size_t len;
    /* The parser gets the length, so a NUL inside is an error at its place. */
    mf_status s = mf_file_read_all(path, (size_t)1 << 31, &text, &len);
    if (s)
        return s;
    s = parse_text(text, len, path, out);
    free(text);
    return s;
}
