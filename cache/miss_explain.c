/* miss_explain.c — why a kernel had to be compiled: the nearest entry of the on-disk cache (the
 * one whose key differs in the fewest components) and which components differ — compiler
 * or LLVM version, target, CPU or features, options, the subgraph's shapes, or the subgraph
 * itself.  Used by `mlufuse run --explain-misses` and `mlufuse cache why`. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk_store.h"

#define NPARTS 10
static const char *const part_names[NPARTS] = {"key-format", "compiler", "llvm", "triple", "cpu",
                                               "features", "opt", "core_number", "shapes", "subgraph"};

typedef struct key_parts {
    char *line[8];     /* the "name value" lines, by part_names order */
    char *canonical;   /* the subgraph's .mfir */
    char *structure;   /* the same with every [dims] removed */
} key_parts;

static char *dup_range(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = 0;
    }
    return s;
}

static void split_key(const char *text, size_t len, key_parts *kp)
{
    memset(kp, 0, sizeof *kp);
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if ((size_t)(eol - p) >= 7 && !memcmp(p, "graph @", 7)) {
            kp->canonical = dup_range(p, (size_t)(end - p));
            break;
        }
        for (int i = 0; i < 8; i++) {
            size_t nl = strlen(part_names[i]);
            if ((size_t)(eol - p) > nl && !memcmp(p, part_names[i], nl) && p[nl] == ' ')
                kp->line[i] = dup_range(p + nl + 1, (size_t)(eol - p - (long)nl - 1));
        }
        p = eol + 1;
    }
    if (kp->canonical && (kp->structure = malloc(strlen(kp->canonical) + 1))) {
        char *o = kp->structure;
        for (const char *q = kp->canonical; *q; q++) {
            if (*q == '[') { /* drop the dims: what is left is ops, wiring and attributes */
                while (*q && *q != ']')
                    q++;
                if (!*q)
                    break;
                continue;
            }
            *o++ = *q;
        }
        *o = 0;
    }
}

static void free_parts(key_parts *kp)
{
    for (int i = 0; i < 8; i++)
        free(kp->line[i]);
    free(kp->canonical);
    free(kp->structure);
}

static bool same(const char *a, const char *b)
{
    return a && b ? !strcmp(a, b) : a == b;
}

/* Which components differ, as bits over part_names. */
static unsigned diff_parts(const key_parts *a, const key_parts *b)
{
    unsigned bits = 0;
    for (int i = 0; i < 8; i++)
        if (!same(a->line[i], b->line[i]))
            bits |= 1u << i;
    if (!same(a->structure, b->structure))
        bits |= 1u << 9;
    else if (!same(a->canonical, b->canonical))
        bits |= 1u << 8;
    return bits;
}

/* Differing components, a different subgraph counting as much as all options together:
 * the nearest entry is the same computation compiled another way, when there is one. */
static int distance(unsigned v)
{
    int n = v & (1u << 9) ? 8 : 0;
    for (v &= ~(1u << 9); v; v &= v - 1)
        n++;
    return n;
}

/* "shapes (f32[1,64,56,56] vs f32[8,64,56,56])": the first differing input list. */
static void describe(const key_parts *want, const key_parts *near, unsigned bits, char *out, size_t cap)
{
    size_t n = 0;
    for (int i = 0; i < NPARTS && n < cap; i++) {
        if (!(bits & (1u << i)))
            continue;
        n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? ", " : "", part_names[i]);
        if (i < 8 && i != 5 && want->line[i] && near->line[i]) /* features are too long to show */
            n += (size_t)snprintf(out + n, cap - n, " (%s here, %s in the entry)", want->line[i], near->line[i]);
        if (i == 8 && want->canonical && near->canonical) {
            const char *a = strchr(want->canonical, '('), *b = strchr(near->canonical, '(');
            const char *ae = a ? strchr(a, ')') : NULL, *be = b ? strchr(b, ')') : NULL;
            if (ae && be)
                n += (size_t)snprintf(out + n, cap - n, " (%.*s here, %.*s in the entry)", (int)(ae - a - 1), a + 1,
                                      (int)(be - b - 1), b + 1);
        }
    }
}

void mf_disk_explain_miss(const mf_cache_key *k, const char *ops, char *out, size_t cap)
{
    const char *dir = mf_disk_dir();
    snprintf(out, cap, "compiled %s: ", ops);
    size_t len = strlen(out);
    DIR *d = dir ? opendir(dir) : NULL;
    if (!d) {
        snprintf(out + len, cap - len, "no disk cache to compare with");
        return;
    }
    key_parts want, best_parts = {0};
    split_key(k->text, strlen(k->text), &want);
    unsigned best = ~0u;
    char best_key[65] = "";
    for (struct dirent *de; (de = readdir(d));) {
        if (strlen(de->d_name) != 68 || strcmp(de->d_name + 64, ".mfk") || !strncmp(de->d_name, k->hex, 64))
            continue;
        char path[4200];
        unsigned char *buf;
        size_t n;
        mf_disk_entry e;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (mf_disk_read_file(path, &buf, &n))
            continue;
        if (!mf_disk_parse(buf, n, &e)) {
            key_parts kp;
            split_key(e.key_text, e.key_len, &kp);
            unsigned bits = diff_parts(&want, &kp);
            if (best == ~0u || distance(bits) < distance(best)) {
                free_parts(&best_parts);
                best_parts = kp;
                best = bits;
                snprintf(best_key, sizeof best_key, "%.64s", de->d_name);
            } else {
                free_parts(&kp);
            }
        }
        free(buf);
    }
    closedir(d);
    if (best == ~0u)
        snprintf(out + len, cap - len, "the cache holds no other entry");
    else {
        len += (size_t)snprintf(out + len, cap - len, "nearest entry %.12s differs in ", best_key);
        describe(&want, &best_parts, best, out + len, cap - len);
    }
    free_parts(&want);
    free_parts(&best_parts);
}
