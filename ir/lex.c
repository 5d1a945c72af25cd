/* lex.c — the lexical layer of the .mfir text form: splits text into tokens with their
 * line and column, and keeps the name table the parser resolves %names with (and the
 * printer uses to keep printed names unique).  The grammar is in ir/parse.c and
 * docs/mfir.md. */
#include <stdlib.h>
#include <string.h>

#include "ir.h"

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_name_char(char c)
{
    return is_alpha(c) || is_digit(c) || c == '.';
}

bool mf_ir_name_valid(const char *s, size_t len)
{
    if (!s || !len)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_name_char(s[i]))
            return false;
    return true;
}

void mf_lex_init(mf_lexer *l, const char *text, size_t len)
{
    l->p = l->line_start = text;
    l->end = text + len;
    l->line = 1;
}

static char peek(const mf_lexer *l, size_t ahead)
{
    return (size_t)(l->end - l->p) > ahead ? l->p[ahead] : 0;
}

static void skip_space(mf_lexer *l)
{
    while (l->p < l->end) {
        char c = *l->p;
        if (c == '#') {
            while (l->p < l->end && *l->p != '\n')
                l->p++;
        } else if (c == '\n') {
            l->p++;
            l->line++;
            l->line_start = l->p;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            l->p++;
        } else {
            return;
        }
    }
}

/* "inf" or "nan" at p, not followed by more of an identifier. */
static bool special_float_at(const mf_lexer *l, size_t at)
{
    if ((size_t)(l->end - l->p) < at + 3)
        return false;
    const char *q = l->p + at;
    if (memcmp(q, "inf", 3) && memcmp(q, "nan", 3))
        return false;
    return q + 3 == l->end || !is_name_char(q[3]);
}

static bool number_starts(const mf_lexer *l)
{
    char c = peek(l, 0);
    if (is_digit(c))
        return true;
    if (c == '.')
        return is_digit(peek(l, 1));
    if (c != '-' && c != '+')
        return false;
    return is_digit(peek(l, 1)) || (peek(l, 1) == '.' && is_digit(peek(l, 2))) ||
           special_float_at(l, 1);
}

static void skip_digits(mf_lexer *l)
{
    while (l->p < l->end && is_digit(*l->p))
        l->p++;
}

/* [+-]?(digits[.digits]|.digits)([eE][+-]?digits)?, or [+-](inf|nan).  A number run
 * straight into letters or dots ("1.5.2", "3x") is one bad token. */
static void lex_number(mf_lexer *l, mf_token *t)
{
    bool is_int = true;
    if (*l->p == '-' || *l->p == '+')
        l->p++;
    if (special_float_at(l, 0)) {
        l->p += 3;
        t->kind = MF_TOK_FLOAT;
        return;
    }
    skip_digits(l);
    if (peek(l, 0) == '.') {
        is_int = false;
        l->p++;
        skip_digits(l);
    }
    char e = peek(l, 0), e1 = peek(l, 1);
    if ((e == 'e' || e == 'E') &&
        (is_digit(e1) || ((e1 == '+' || e1 == '-') && is_digit(peek(l, 2))))) {
        is_int = false;
        l->p += 2;
        skip_digits(l);
    }
    t->kind = is_int ? MF_TOK_INT : MF_TOK_FLOAT;
    if (l->p < l->end && is_name_char(*l->p)) {
        while (l->p < l->end && (is_name_char(*l->p) || *l->p == '+' || *l->p == '-'))
            l->p++;
        t->kind = MF_TOK_ERROR;
        t->why = "bad number";
    }
}

static void lex_name(mf_lexer *l, mf_token *t, mf_tok_kind kind)
{
    l->p++;
    while (l->p < l->end && is_name_char(*l->p))
        l->p++;
    t->kind = kind;
    if (l->p - t->s == 1) {
        t->kind = MF_TOK_ERROR;
        t->why = kind == MF_TOK_LOCAL ? "expected a value name after '%'"
                                      : "expected a name after '@'";
    }
}

mf_token mf_lex_next(mf_lexer *l)
{
    skip_space(l);
    mf_token t = {MF_TOK_EOF, l->p, 0, l->line, (int)(l->p - l->line_start) + 1, NULL};
    if (l->p >= l->end)
        return t;
    char c = *l->p;
    if (number_starts(l)) {
        lex_number(l, &t);
    } else if (is_alpha(c)) {
        while (l->p < l->end && (is_alpha(*l->p) || is_digit(*l->p) || *l->p == '.'))
            l->p++; /* '.' for custom.NAME */
        t.kind = MF_TOK_IDENT;
    } else if (c == '%' || c == '@') {
        lex_name(l, &t, c == '%' ? MF_TOK_LOCAL : MF_TOK_GLOBAL);
    } else if (strchr("(){}[]<>,:=", c)) {
        l->p++;
        t.kind = MF_TOK_PUNCT;
    } else {
        l->p++;
        t.kind = MF_TOK_ERROR;
        t.why = "unexpected character";
    }
    t.len = (size_t)(l->p - t.s);
    return t;
}

/* ---- the name table ------------------------------------------------------------------ */

static uint64_t name_hash(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

static size_t find_slot(const mf_ir_names *t, const char *s, size_t len)
{
    size_t i = (size_t)name_hash(s, len) & (t->cap - 1);
    while (t->keys[i] && !(t->lens[i] == len && !memcmp(t->keys[i], s, len)))
        i = (i + 1) & (t->cap - 1);
    return i;
}

void *mf_ir_names_get(const mf_ir_names *t, const char *s, size_t len)
{
    if (!t->cap)
        return NULL;
    size_t i = find_slot(t, s, len);
    return t->keys[i] ? t->vals[i] : NULL;
}

static bool grow(mf_ir_names *t)
{
    mf_ir_names n = {0};
    n.cap = t->cap ? t->cap * 2 : 64;
    n.keys = calloc(n.cap, sizeof *n.keys);
    n.lens = calloc(n.cap, sizeof *n.lens);
    n.vals = calloc(n.cap, sizeof *n.vals);
    if (!n.keys || !n.lens || !n.vals) {
        mf_ir_names_free(&n);
        return false;
    }
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->keys[i])
            continue;
        size_t j = find_slot(&n, t->keys[i], t->lens[i]);
        n.keys[j] = t->keys[i];
        n.lens[j] = t->lens[i];
        n.vals[j] = t->vals[i];
    }
    n.n = t->n;
    mf_ir_names_free(t);
    *t = n;
    return true;
}

bool mf_ir_names_put(mf_ir_names *t, const char *s, size_t len, void *val)
{
    if ((t->n + 1) * 2 > t->cap && !grow(t))
        return false;
    size_t i = find_slot(t, s, len);
    if (!t->keys[i]) {
        t->keys[i] = s;
        t->lens[i] = len;
        t->n++;
    }
    t->vals[i] = val;
    return true;
}

void mf_ir_names_free(mf_ir_names *t)
{
    free(t->keys);
    free(t->lens);
    free(t->vals);
    memset(t, 0, sizeof *t);
}
