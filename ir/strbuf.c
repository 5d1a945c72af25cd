/* strbuf.c — a growable string for the text the IR layers write (.mfir, Graphviz, fusion
 * reports).  Out of memory is sticky: writes after it do nothing and the writer checks
 * `oom` once at the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

void mf_sb_put(mf_strbuf *b, const char *s, size_t len)
{
    if (b->oom)
        return;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->n + len + 1 > cap)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = 0;
}

void mf_sb_str(mf_strbuf *b, const char *s)
{
    mf_sb_put(b, s, strlen(s));
}

void mf_sb_printf(mf_strbuf *b, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof buf) {
        mf_sb_put(b, buf, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1); /* rare: a long line */
    if (!big) {
        b->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    mf_sb_put(b, big, (size_t)n);
    free(big);
}

char *mf_sb_take(mf_strbuf *b)
{
    if (!b->oom && !b->p)
        mf_sb_put(b, "", 0);
    if (b->oom) {
        free(b->p);
        b->p = NULL;
    }
    char *p = b->p;
    *b = (mf_strbuf){0};
    return p;
}
