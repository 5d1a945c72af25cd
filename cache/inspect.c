/* inspect.c — the public view of the on-disk kernel cache for `mlufuse cache`: listing
 * entries with their metadata (every entry fully checked), the key text of one entry, and
 * removal.  Reads the format of disk_store.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "dir_list.h"
#include "disk_store.h"
#include "mlufuse/mlufuse_cache.h"

const char *mf_kernel_cache_dir(void)
{
    return mf_disk_dir();
}

static const char *dir_or_default(const char *dir)
{
    return dir ? dir : mf_disk_dir();
}

/* The input types of the subgraph: its "graph @...(...)" line in the key text. */
static void shapes_of(const mf_disk_entry *e, char *out, size_t cap)
{
    const char *p = e->key_text, *end = e->key_text + e->key_len;
    out[0] = 0;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if (eol - p > 7 && !memcmp(p, "graph @", 7)) {
            const char *open = memchr(p, '(', (size_t)(eol - p)), *close = NULL;
            for (const char *q = eol; q > p && !close; q--)
                if (*q == ')')
                    close = q;
            if (open && close && close > open)
                snprintf(out, cap, "%.*s", (int)(close - open - 1), open + 1);
            return;
        }
        p = eol + 1;
    }
}

static void fill_info(const char *dir, const char *hex, mf_cache_entry_info *info)
{
    char path[4200];
    struct stat st;
    memset(info, 0, sizeof *info);
    snprintf(info->key, sizeof info->key, "%s", hex);
    mf_disk_entry_path(dir, hex, path, sizeof path);
    if (!stat(path, &st)) {
        info->bytes = (size_t)st.st_size;
        info->last_used = st.st_mtime;
    }
    snprintf(path, sizeof path, "%s/%s.hits", dir, hex);
    if (!stat(path, &st))
        info->hits = (uint64_t)st.st_size;
    mf_disk_entry_path(dir, hex, path, sizeof path);
    unsigned char *buf = NULL;
    size_t n;
    mf_disk_entry e;
    mf_status s = mf_disk_read_file(path, &buf, &n);
    if (!s)
        s = mf_disk_parse(buf, n, &e);
    char actual[65];
    if (!s) { /* a copied or swapped file would be loaded for the wrong subgraph */
        mf_cache_key_hash(e.key_text, e.key_len, actual);
        if (strcmp(actual, hex))
            s = mf_error(MF_ERR_PARSE, "its key text hashes to %.12s, not to its file name", actual);
    }
    if (s) {
        snprintf(info->problem, sizeof info->problem, "%s", mf_last_error());
        free(buf);
        return;
    }
    char created[32] = "0", ms[32] = "0", triple[64] = "", cpu[64] = "", compiler[32] = "", llvm[32] = "";
    mf_disk_header_field(&e, "ops", info->ops, sizeof info->ops);
    mf_disk_header_field(&e, "created", created, sizeof created);
    mf_disk_header_field(&e, "compile_ms", ms, sizeof ms);
    mf_disk_header_field(&e, "triple", triple, sizeof triple);
    mf_disk_header_field(&e, "cpu", cpu, sizeof cpu);
    mf_disk_header_field(&e, "compiler", compiler, sizeof compiler);
    mf_disk_header_field(&e, "llvm", llvm, sizeof llvm);
    snprintf(info->target, sizeof info->target, "%s %s", triple, cpu);
    snprintf(info->compiler, sizeof info->compiler, "%s llvm-%s", compiler, llvm);
    info->created = (time_t)atoll(created);
    info->compile_ms = atof(ms);
    shapes_of(&e, info->shapes, sizeof info->shapes);
    info->valid = 1;
    free(buf);
}

static bool is_entry_name(const char *name)
{
    return mf_cache_key_name(name, ".mfk");
}

/* dir_list's fill for a kernel entry: the name is the 64-digit key and ".mfk". */
static void fill_entry(const char *dir, const char *name, void *rec)
{
    char hex[65];
    snprintf(hex, sizeof hex, "%.64s", name);
    fill_info(dir, hex, rec);
}

mf_status mf_kernel_cache_list(const char *dir, mf_cache_entry_info **out, int *n)
{
    if (!out || !n)
        return mf_error(MF_ERR_INVALID, "kernel_cache_list: %s is NULL", out ? "n" : "out");
    *out = NULL;
    *n = 0;
    if (!(dir = dir_or_default(dir)))
        return mf_error(MF_ERR_IO, "the kernel cache is off (MLUFUSE_CACHE=off or a refused directory)");
    return mf_dir_list(dir, is_entry_name, fill_entry, sizeof **out, (void **)out, n);
}

mf_status mf_kernel_cache_key_text(const char *dir, const char *prefix, char **text, char *key)
{
    if (!prefix || !text || !key)
        return mf_error(MF_ERR_INVALID, "kernel_cache_key_text: %s is NULL", !prefix ? "prefix" : !text ? "text" : "key");
    mf_cache_entry_info *all;
    int n, match = -1, count = 0;
    mf_status s = mf_kernel_cache_list(dir, &all, &n);
    if (s)
        return s;
    for (int i = 0; i < n; i++)
        if (!strncmp(all[i].key, prefix, strlen(prefix)))
            match = i, count++;
    if (count != 1) {
        free(all);
        return mf_error(MF_ERR_INVALID, "%s entry matches the key prefix '%s'", count ? "more than one" : "no", prefix);
    }
    char path[4200];
    unsigned char *buf;
    size_t len;
    mf_disk_entry e;
    mf_disk_entry_path(dir_or_default(dir), all[match].key, path, sizeof path);
    snprintf(key, 65, "%s", all[match].key);
    free(all);
    s = mf_disk_read_file(path, &buf, &len);
    if (!s && (s = mf_disk_parse(buf, len, &e)))
        free(buf);
    if (s)
        return mf_error_context(s, "%s", path);
    *text = malloc(e.key_len + 1);
    if (*text) {
        memcpy(*text, e.key_text, e.key_len);
        (*text)[e.key_len] = 0;
    }
    free(buf);
    return *text ? MF_OK : mf_error(MF_ERR_NOMEM, "out of memory");
}

mf_status mf_kernel_cache_remove(const char *dir, const char *key)
{
    mf_status s = mf_cache_key_check(key);
    if (s)
        return mf_error_context(s, "kernel_cache_remove");
    if (!(dir = dir_or_default(dir)))
        return mf_error(MF_ERR_IO, "the kernel cache is off");
    char path[4200];
    mf_disk_entry_path(dir, key, path, sizeof path);
    if (unlink(path) && errno != ENOENT)
        return mf_error(MF_ERR_IO, "%s: %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s/%s.hits", dir, key);
    unlink(path);
    return MF_OK;
}

mf_status mf_kernel_cache_reclaim(const char *dir, int *removed, size_t *bytes)
{
    if (!removed || !bytes)
        return mf_error(MF_ERR_INVALID, "kernel_cache_reclaim: %s is NULL", removed ? "bytes" : "removed");
    *removed = 0;
    *bytes = 0;
    if (!(dir = dir_or_default(dir)))
        return mf_error(MF_ERR_IO, "the kernel cache is off");
    mf_disk_reclaim_temps(dir, removed, bytes);
    return MF_OK;
}

mf_status mf_kernel_cache_check_env(void)
{
    size_t max;
    mf_status s = mf_disk_max_bytes(&max);
    const char *mode = getenv("MLUFUSE_CACHE"), *dir = getenv("MLUFUSE_CACHE_DIR");
    if (!s && dir && strlen(dir) > MF_DISK_MAX_DIR)
        s = mf_error(MF_ERR_INVALID, "MLUFUSE_CACHE_DIR is %zu bytes long, past the %d a cache directory may have",
                     strlen(dir), MF_DISK_MAX_DIR);
    if (!s && mode && *mode && strcmp(mode, "on") && strcmp(mode, "1") && strcmp(mode, "off") && strcmp(mode, "0"))
        s = mf_error(MF_ERR_INVALID, "MLUFUSE_CACHE=%.40s: expected off (or 0) to cache in memory only, on (or 1) "
                                     "for the default", mode);
    if (!s && getenv("MLUFUSE_CACHE_DIR") && !*getenv("MLUFUSE_CACHE_DIR"))
        s = mf_error(MF_ERR_INVALID, "MLUFUSE_CACHE_DIR is empty (unset it for the default "
                                     "directory, or set MLUFUSE_CACHE=off)");
    if (!s && getenv("MLUFUSE_CPU")) /* the default target, a component of every key */
        s = mf_cache_check_cpu(NULL);
    return s;
}

mf_status mf_kernel_cache_disassemble(const char *dir, const char *key, char **text)
{
    mf_status ks = text ? mf_cache_key_check(key) : mf_error(MF_ERR_INVALID, "text is NULL");
    if (ks)
        return mf_error_context(ks, "kernel_cache_disassemble");
    if (!(dir = dir_or_default(dir)))
        return mf_error(MF_ERR_IO, "the kernel cache is off");
    char path[4200], triple[64] = "";
    unsigned char *buf;
    size_t n;
    mf_disk_entry e;
    mf_disk_entry_path(dir, key, path, sizeof path);
    mf_status s = mf_disk_read_file(path, &buf, &n);
    if (s)
        return s;
    if ((s = mf_disk_parse(buf, n, &e))) {
        free(buf);
        return mf_error_context(s, "%s", path);
    }
    mf_disk_header_field(&e, "triple", triple, sizeof triple);
    s = mf_cg_disassemble(e.object, e.object_len, triple[0] ? triple : NULL, text);
    free(buf);
    return s;
}
