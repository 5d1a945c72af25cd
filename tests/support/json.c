/* json.c — the strict JSON parser of json.h: recursive descent over the text, failing on
 * anything RFC 8259 does not allow (so a test that parses a trace also checks its syntax). */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

typedef struct parser {
    const char *p;
    const char *start;
    char *err;
    size_t cap;
    int depth;
} parser;

static tjson *value(parser *ps);

static tjson *fail(parser *ps, const char *why)
{
    if (ps->err && ps->cap && !ps->err[0])
        snprintf(ps->err, ps->cap, "offset %ld: %s", (long)(ps->p - ps->start), why);
    return NULL;
}

static void skip_ws(parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
        ps->p++;
}

static tjson *node(tjson_type t)
{
    tjson *v = calloc(1, sizeof *v);
    if (v)
        v->type = t;
    return v;
}

static char *string_text(parser *ps)
{
    if (*ps->p != '"')
        return (char *)fail(ps, "expected a string");
    ps->p++;
    size_t cap = 32, n = 0;
    char *s = malloc(cap);
    while (s && *ps->p != '"') {
        char c = *ps->p++;
        if ((unsigned char)c < 0x20) {
            free(s);
            return (char *)fail(ps, "control character in a string");
        }
        if (c == '\\') {
            char e = *ps->p++;
            const char *map = strchr("\"\\/bfnrt", e);
            if (e == 'u') {
                for (int i = 0; i < 4; i++)
                    if (!isxdigit((unsigned char)ps->p[i])) {
                        free(s);
                        return (char *)fail(ps, "bad \\u escape");
                    }
                unsigned u = (unsigned)strtoul((char[5]){ps->p[0], ps->p[1], ps->p[2], ps->p[3], 0}, NULL, 16);
                ps->p += 4;
                c = u < 0x80 ? (char)u : '?';
            } else if (map && e) {
                c = "\"\\/\b\f\n\r\t"[map - "\"\\/bfnrt"];
            } else {
                free(s);
                return (char *)fail(ps, "bad escape");
            }
        }
        if (n + 2 > cap) {
            char *t = realloc(s, cap *= 2);
            if (!t)
                free(s);
            s = t;
        }
        if (s)
            s[n++] = c;
    }
    if (!s)
        return (char *)fail(ps, "out of memory");
    s[n] = 0;
    ps->p++;
    return s;
}

static tjson *number(parser *ps)
{
    const char *q = ps->p;
    if (*q == '-')
        q++;
    if (!isdigit((unsigned char)*q))
        return fail(ps, "expected a value");
    if (*q == '0' && isdigit((unsigned char)q[1]))
        return fail(ps, "leading zero");
    char *end;
    double d = strtod(ps->p, &end);
    for (const char *c = ps->p; c < end; c++)
        if (!strchr("0123456789+-.eE", *c))
            return fail(ps, "bad number");
    tjson *v = node(TJSON_NUMBER);
    if (v)
        v->num = d;
    ps->p = end;
    return v;
}

static bool add_item(tjson *v, tjson *item, char *key)
{
    tjson **items = realloc(v->items, sizeof *items * (size_t)(v->n + 1));
    if (!items)
        return false;
    v->items = items;
    if (v->type == TJSON_OBJECT) {
        char **keys = realloc(v->keys, sizeof *keys * (size_t)(v->n + 1));
        if (!keys)
            return false;
        v->keys = keys;
        v->keys[v->n] = key;
    }
    v->items[v->n++] = item;
    return true;
}

/* An array or an object: items separated by commas up to `close`. */
static tjson *container(parser *ps, tjson_type t, char close)
{
    tjson *v = node(t);
    ps->p++;
    skip_ws(ps);
    if (*ps->p == close) {
        ps->p++;
        return v;
    }
    for (;;) {
        char *key = NULL;
        skip_ws(ps);
        if (t == TJSON_OBJECT) {
            if (!(key = string_text(ps)))
                break;
            skip_ws(ps);
            if (*ps->p++ != ':') {
                free(key);
                fail(ps, "expected ':'");
                break;
            }
        }
        tjson *item = value(ps);
        if (!item || !add_item(v, item, key)) {
            free(key);
            tjson_free(item);
            break;
        }
        skip_ws(ps);
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == close) {
            ps->p++;
            return v;
        }
        fail(ps, "expected ',' or the end of the container");
        break;
    }
    tjson_free(v);
    return NULL;
}

static tjson *literal(parser *ps, const char *word, tjson_type t, double num)
{
    size_t n = strlen(word);
    if (strncmp(ps->p, word, n))
        return fail(ps, "expected a value");
    ps->p += n;
    tjson *v = node(t);
    if (v)
        v->num = num;
    return v;
}

static tjson *value(parser *ps)
{
    skip_ws(ps);
    if (++ps->depth > 200)
        return fail(ps, "nested too deep");
    tjson *v = NULL;
    switch (*ps->p) {
    case '{': v = container(ps, TJSON_OBJECT, '}'); break;
    case '[': v = container(ps, TJSON_ARRAY, ']'); break;
    case '"': {
        char *s = string_text(ps);
        if (s && (v = node(TJSON_STRING)))
            v->str = s;
        else
            free(s);
        break;
    }
    case 't': v = literal(ps, "true", TJSON_BOOL, 1); break;
    case 'f': v = literal(ps, "false", TJSON_BOOL, 0); break;
    case 'n': v = literal(ps, "null", TJSON_NULL, 0); break;
    default: v = number(ps);
    }
    ps->depth--;
    return v;
}

tjson *tjson_parse(const char *text, char *err, size_t cap)
{
    parser ps = {text, text, err, cap, 0};
    if (err && cap)
        err[0] = 0;
    tjson *v = value(&ps);
    skip_ws(&ps);
    if (v && *ps.p) {
        tjson_free(v);
        return fail(&ps, "text after the value");
    }
    return v;
}

void tjson_free(tjson *v)
{
    if (!v)
        return;
    for (int i = 0; i < v->n; i++) {
        tjson_free(v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    free(v);
}

const tjson *tjson_get(const tjson *obj, const char *key)
{
    if (!obj || obj->type != TJSON_OBJECT)
        return NULL;
    for (int i = 0; i < obj->n; i++)
        if (!strcmp(obj->keys[i], key))
            return obj->items[i];
    return NULL;
}

const char *tjson_str(const tjson *obj, const char *key)
{
    const tjson *v = tjson_get(obj, key);
    return v && v->type == TJSON_STRING ? v->str : NULL;
}

double tjson_num(const tjson *obj, const char *key, double dflt)
{
    const tjson *v = tjson_get(obj, key);
    return v && v->type == TJSON_NUMBER ? v->num : dflt;
}
