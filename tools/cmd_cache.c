/* cmd_cache.c — `mlufuse cache`: inspects and maintains the on-disk kernel cache: ls, show,
 * stats, verify, prune, clear, and the saved plans beside the kernels (plans); --dir for
 * another cache, --json on the read-only ones.
 * Uses the public API only (mlufuse_cache.h). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlufuse/mlufuse.h"
#include "tools.h"

static const char usage[] =
    "usage: mlufuse cache [--dir DIR] COMMAND [options]\n"
    "Inspects the on-disk kernel cache (default: MLUFUSE_CACHE_DIR, $XDG_CACHE_HOME/mlufuse,\n"
    "~/.cache/mlufuse).\n"
    "  ls [--sort key|age|size|hits] [--json]   one row per entry\n"
    "  show KEY-PREFIX [--json] [--disasm]       an entry's metadata, key text (its .mfir) and,\n"
    "                                            with --disasm, its machine code\n"
    "  stats [--json]                            entries, bytes, hits, oldest and newest\n"
    "  verify [--json]                           check every entry; exit 1 if any is corrupt\n"
    "  prune [--max-size SIZE] [--older-than AGE]  remove least recently used / old entries\n"
    "                                            (SIZE like 64M, 1G; AGE like 30m, 12h, 7d)\n"
    "  clear                                     remove every entry and every saved plan\n"
    "  plans [--json]                            the saved plans (model, batch size) that a new batch\n"
    "                                            size runs on without compiling\n"
    "  why MODEL [run options]                   compile MODEL (run once on random inputs) and say,\n"
    "                                            for each kernel compiled, which key components\n"
    "                                            differ from the nearest entry\n";

typedef struct cache_cmd {
    const char *dir, *sort, *prefix;
    int json, disasm;
    long long max_size, older_than; /* -1: not given */
} cache_cmd;

/* s (a number, then one of units, which scale[] gives): -1 when it is no such number, or
 * negative, NaN or past 2^63 once scaled (a cast of those is undefined) */
static long long parse_scaled(const char *s, const char *units, const long long *scale)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s)
        return -1;
    if (*end) {
        const char *u = strchr(units, *end);
        if (!u || end[1])
            return -1;
        v *= (double)scale[u - units];
    }
    return v >= 0 && v < 0x1p63 ? (long long)v : -1;
}

static const char *age_text(time_t t, char *buf, size_t cap)
{
    double s = difftime(time(NULL), t);
    if (s < 120)
        snprintf(buf, cap, "%.0fs", s);
    else if (s < 7200)
        snprintf(buf, cap, "%.0fm", s / 60);
    else if (s < 172800)
        snprintf(buf, cap, "%.0fh", s / 3600);
    else
        snprintf(buf, cap, "%.0fd", s / 86400);
    return buf;
}

static const char *sort_key;
static int by_sort(const void *pa, const void *pb);

static void sort_entries(mf_cache_entry_info *all, int n, const char *key)
{
    sort_key = key;
    if (n > 1) /* qsort's array may not be NULL, even for no elements */
        qsort(all, (size_t)n, sizeof *all, by_sort);
}

static int by_sort(const void *pa, const void *pb)
{
    const mf_cache_entry_info *a = pa, *b = pb;
    if (!strcmp(sort_key, "age"))
        return (a->last_used < b->last_used) - (a->last_used > b->last_used);
    if (!strcmp(sort_key, "size"))
        return (a->bytes < b->bytes) - (a->bytes > b->bytes);
    if (!strcmp(sort_key, "hits"))
        return (a->hits < b->hits) - (a->hits > b->hits);
    return strcmp(a->key, b->key);
}

static void print_entry_json(const mf_cache_entry_info *e)
{
    printf("{\"key\": \"%s\", \"ops\": ", e->key);
    mf_tool_json_str(stdout, e->ops);
    printf(", \"shapes\": ");
    mf_tool_json_str(stdout, e->shapes);
    printf(", \"target\": ");
    mf_tool_json_str(stdout, e->target);
    printf(", \"compiler\": ");
    mf_tool_json_str(stdout, e->compiler);
    printf(", \"bytes\": %zu, \"created\": %lld, \"last_used\": %lld, \"hits\": %llu, \"compile_ms\": %.3f, "
           "\"valid\": %s",
           e->bytes, (long long)e->created, (long long)e->last_used, (unsigned long long)e->hits, e->compile_ms,
           e->valid ? "true" : "false");
    if (!e->valid) {
        printf(", \"problem\": ");
        mf_tool_json_str(stdout, e->problem);
    }
    printf("}");
}

static int cmd_ls(const cache_cmd *c, mf_cache_entry_info *all, int n)
{
    const char *key = c->sort ? c->sort : "key";
    if (strcmp(key, "key") && strcmp(key, "age") && strcmp(key, "size") && strcmp(key, "hits"))
        return mf_tool_fail(2, "cache ls: --sort must be key, age, size or hits, not '%s'", key);
    sort_entries(all, n, key);
    if (c->json) {
        printf("[");
        for (int i = 0; i < n; i++) {
            printf(i ? ",\n " : "");
            print_entry_json(&all[i]);
        }
        printf("]\n");
        return 0;
    }
    printf("%-12s  %-28s  %-30s  %-22s  %8s  %5s  %5s\n", "KEY", "OPS", "SHAPES", "TARGET", "BYTES", "AGE", "HITS");
    for (int i = 0; i < n; i++) {
        char age[32];
        printf("%-12.12s  %-28.28s  %-30.30s  %-22.22s  %8zu  %5s  %5llu%s\n", all[i].key, all[i].ops,
               all[i].shapes, all[i].target, all[i].bytes, age_text(all[i].last_used, age, sizeof age),
               (unsigned long long)all[i].hits, all[i].valid ? "" : "  CORRUPT");
    }
    return 0;
}

static int cmd_show(const cache_cmd *c)
{
    if (!c->prefix)
        return mf_tool_fail(2, "cache show: give a KEY-PREFIX");
    char *text, key[65];
    if (mf_kernel_cache_key_text(c->dir, c->prefix, &text, key))
        return mf_tool_fail(1, "cache show: %s", mf_last_error());
    mf_cache_entry_info *all;
    int n;
    int rc = mf_kernel_cache_list(c->dir, &all, &n) ? 1 : 0;
    for (int i = 0; i < n && !rc; i++) {
        if (strcmp(all[i].key, key))
            continue;
        if (c->json) {
            print_entry_json(&all[i]);
            printf("\n");
        } else {
            printf("key:        %s\nops:        %s\nshapes:     %s\ntarget:     %s\ncompiler:   %s\n"
                   "bytes:      %zu\nhits:       %llu\ncompile_ms: %.1f\nkey text:\n%s",
                   all[i].key, all[i].ops, all[i].shapes, all[i].target, all[i].compiler, all[i].bytes,
                   (unsigned long long)all[i].hits, all[i].compile_ms, text);
        }
    }
    free(all);
    free(text);
    if (!rc && c->disasm) {
        char *asm_text;
        if (mf_kernel_cache_disassemble(c->dir, key, &asm_text))
            return mf_tool_fail(1, "cache show: %s", mf_last_error());
        printf("machine code:\n%s", asm_text);
        free(asm_text);
    }
    return rc;
}

static int cmd_stats(const cache_cmd *c, const mf_cache_entry_info *all, int n, const char *dir)
{
    size_t bytes = 0;
    uint64_t hits = 0;
    time_t oldest = 0, newest = 0;
    int corrupt = 0;
    for (int i = 0; i < n; i++) {
        bytes += all[i].bytes;
        hits += all[i].hits;
        corrupt += !all[i].valid;
        if (!oldest || all[i].last_used < oldest)
            oldest = all[i].last_used;
        if (all[i].last_used > newest)
            newest = all[i].last_used;
    }
    if (c->json) {
        printf("{\"dir\": ");
        mf_tool_json_str(stdout, dir);
        printf(", \"entries\": %d, \"bytes\": %zu, \"hits\": %llu, \"corrupt\": %d, \"oldest\": %lld, \"newest\": %lld}\n",
               n, bytes, (unsigned long long)hits, corrupt, (long long)oldest, (long long)newest);
        return 0;
    }
    char a[32], b[32];
    printf("dir:     %s\nentries: %d (%d corrupt)\nbytes:   %zu\nhits:    %llu\n", dir, n, corrupt, bytes,
           (unsigned long long)hits);
    if (n)
        printf("oldest:  used %s ago\nnewest:  used %s ago\n", age_text(oldest, a, sizeof a), age_text(newest, b, sizeof b));
    return 0;
}

static int cmd_verify(const cache_cmd *c, const mf_cache_entry_info *all, int n)
{
    int bad = 0;
    if (c->json)
        printf("{\"entries\": %d, \"corrupt\": [", n);
    for (int i = 0; i < n; i++) {
        if (all[i].valid)
            continue;
        if (c->json) {
            printf(bad ? ", {\"key\": \"%s\", \"problem\": " : "{\"key\": \"%s\", \"problem\": ", all[i].key);
            mf_tool_json_str(stdout, all[i].problem);
            printf("}");
        } else {
            printf("%s: %s\n", all[i].key, all[i].problem);
        }
        bad++;
    }
    if (c->json)
        printf("]}\n");
    else
        printf("%d entries checked, %d corrupt\n", n, bad);
    return bad ? 1 : 0;
}

/* prune and clear: remove by age, then least recently used over the size, or everything;
 * and the files of killed writers.  An entry that cannot be removed is reported and the
 * rest are still removed (exit 1 at the end). */
static int cmd_remove(const cache_cmd *c, mf_cache_entry_info *all, int n, bool everything)
{
    if (!everything && c->max_size < 0 && c->older_than < 0)
        return mf_tool_fail(2, "cache prune: give --max-size SIZE and/or --older-than AGE");
    sort_entries(all, n, "age"); /* newest first */
    long long kept = 0;
    int removed = 0, failed = 0, temps = 0;
    time_t now = time(NULL);
    for (int i = 0; i < n; i++) {
        bool drop = everything || !all[i].valid ||
                    (c->older_than >= 0 && difftime(now, all[i].last_used) > (double)c->older_than) ||
                    (c->max_size >= 0 && kept + (long long)all[i].bytes > c->max_size);
        if (!drop) {
            kept += (long long)all[i].bytes;
        } else if (mf_kernel_cache_remove(c->dir, all[i].key)) {
            fprintf(stderr, "mlufuse: cache: %s\n", mf_last_error());
            kept += (long long)all[i].bytes;
            failed++;
        } else {
            removed++;
        }
    }
    size_t temp_bytes = 0;
    if (mf_kernel_cache_reclaim(c->dir, &temps, &temp_bytes))
        return mf_tool_fail(1, "cache: %s", mf_last_error());
    printf("removed %d of %d entries; %lld bytes kept", removed, n, kept);
    if (temps)
        printf("; %d temporary files of killed writers (%zu bytes) removed", temps, temp_bytes);
    printf("\n");
    if (failed)
        return mf_tool_fail(1, "cache: %d entries could not be removed", failed);
    return 0;
}

/* The saved plans (docs/tiers.md): key, model, batch, CPU, kernels, size, age. */
static int cmd_plans(const cache_cmd *c)
{
    mf_plan_cache_info *all;
    int n;
    if (mf_plan_cache_list(c->dir, &all, &n))
        return mf_tool_fail(1, "cache plans: %s", mf_last_error());
    if (c->json)
        printf("[");
    else
        printf("%-12s  %-24s  %5s  %-10s  %7s  %10s  %5s\n", "KEY", "MODEL", "BATCH", "CPU", "KERNELS", "BYTES", "AGE");
    for (int i = 0; i < n; i++) {
        const mf_plan_cache_info *p = &all[i];
        char age[32];
        if (c->json) {
            printf("%s{\"key\": \"%s\", \"model\": ", i ? ",\n " : "", p->key);
            mf_tool_json_str(stdout, p->model);
            printf(", \"batch\": %lld, \"cpu\": ", (long long)p->batch);
            mf_tool_json_str(stdout, p->cpu);
            printf(", \"kernels\": %d, \"bytes\": %zu, \"last_used\": %lld, \"valid\": %s", p->kernels, p->bytes,
                   (long long)p->last_used, p->valid ? "true" : "false");
            if (!p->valid) {
                printf(", \"problem\": ");
                mf_tool_json_str(stdout, p->problem);
            }
            printf("}");
        } else {
            printf("%-12.12s  %-24.24s  %5lld  %-10.10s  %7d  %10zu  %5s%s%s\n", p->key, p->model, (long long)p->batch,
                   p->cpu, p->kernels, p->bytes, age_text(p->last_used, age, sizeof age), p->valid ? "" : "  CORRUPT: ",
                   p->valid ? "" : p->problem);
        }
    }
    if (c->json)
        printf("]\n");
    free(all);
    return 0;
}

/* clear's second half: every saved plan. */
static int clear_plans(const cache_cmd *c)
{
    mf_plan_cache_info *all;
    int n, failed = 0;
    if (mf_plan_cache_list(c->dir, &all, &n))
        return mf_tool_fail(1, "cache clear: %s", mf_last_error());
    for (int i = 0; i < n; i++)
        if (mf_plan_cache_remove(c->dir, all[i].key)) {
            fprintf(stderr, "mlufuse: cache: %s\n", mf_last_error());
            failed++;
        }
    printf("removed %d of %d saved plans\n", n - failed, n);
    free(all);
    return failed ? mf_tool_fail(1, "cache: %d plans could not be removed", failed) : 0;
}

/* `cache why MODEL ...` is `run MODEL ... --random --explain-misses`. */
static int cmd_why(int argc, char **argv, int at)
{
    char *args[64];
    int n = 0;
    args[n++] = "run";
    for (int i = at + 1; i < argc && n < 60; i++)
        args[n++] = argv[i];
    args[n++] = "--random";
    args[n++] = "--explain-misses";
    args[n] = NULL;
    return mf_cmd_run(n, args);
}

int mf_cmd_cache(int argc, char **argv)
{
    cache_cmd c = {.max_size = -1, .older_than = -1};
    const char *verb = NULL;
    static const long long size_scale[] = {1ll << 10, 1ll << 20, 1ll << 30}, age_scale[] = {1, 60, 3600, 86400};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            c.json = 1;
        } else if (!strcmp(a, "--disasm")) {
            c.disasm = 1;
        } else if (!strcmp(a, "--dir") || !strcmp(a, "--sort") || !strcmp(a, "--max-size") || !strcmp(a, "--older-than")) {
            if (!v)
                return mf_tool_fail(2, "cache: %s needs a value", a);
            i++;
            if (!strcmp(a, "--dir"))
                c.dir = v;
            else if (!strcmp(a, "--sort"))
                c.sort = v;
            else if (!strcmp(a, "--max-size") && (c.max_size = parse_scaled(v, "KMG", size_scale)) < 0)
                return mf_tool_fail(2, "cache: bad size '%s' (e.g. 500K, 64M, 1G)", v);
            else if (!strcmp(a, "--older-than") && (c.older_than = parse_scaled(v, "smhd", age_scale)) < 0)
                return mf_tool_fail(2, "cache: bad age '%s' (e.g. 45s, 30m, 12h, 7d)", v);
        } else if (a[0] == '-') {
            fputs(usage, stderr);
            return mf_tool_fail(2, "cache: unknown option '%s'", a);
        } else if (!verb && !strcmp(a, "why")) {
            if (c.dir)
                setenv("MLUFUSE_CACHE_DIR", c.dir, 1);
            return cmd_why(argc, argv, i);
        } else if (!verb) {
            verb = a;
        } else if (!c.prefix) {
            c.prefix = a;
        } else {
            return mf_tool_fail(2, "cache: unexpected argument '%s'", a);
        }
    }
    if (!verb) {
        fputs(usage, stderr);
        return 2;
    }
    if (!strcmp(verb, "show"))
        return cmd_show(&c);
    if (!strcmp(verb, "plans"))
        return cmd_plans(&c);
    static const char *const verbs[] = {"ls", "stats", "verify", "prune", "clear"};
    bool known = false;
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        known = known || !strcmp(verb, verbs[i]);
    if (!known) {
        fputs(usage, stderr);
        return mf_tool_fail(2, "cache: unknown command '%s'", verb);
    }
    const char *dir = c.dir ? c.dir : mf_kernel_cache_dir();
    mf_cache_entry_info *all;
    int n;
    if (mf_kernel_cache_list(c.dir, &all, &n))
        return mf_tool_fail(1, "cache %s: %s", verb, mf_last_error());
    int rc = !strcmp(verb, "ls")       ? cmd_ls(&c, all, n)
             : !strcmp(verb, "stats")  ? cmd_stats(&c, all, n, dir ? dir : "")
             : !strcmp(verb, "verify") ? cmd_verify(&c, all, n)
                                       : cmd_remove(&c, all, n, !strcmp(verb, "clear"));
    free(all);
    if (!rc && !strcmp(verb, "clear"))
        rc = clear_plans(&c);
    return rc;
}
