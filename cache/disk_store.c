/* disk_store.c — the on-disk layer of the keyed instruction map: one file per key holding
 * the object code, the full key text and metadata, with a SHA-256 over all of it.  Files
 * are written to a temporary name and renamed into place, so readers never see a partial
 * entry and racing writers leave one entry per key; an entry that fails any check is
 * reported, removed and recompiled, never loaded.  The directory's size is kept under
 * MLUFUSE_CACHE_MAX_MB by removing the least recently used entries. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <nettle/sha2.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "disk_store.h"
#include "mlufuse/mlufuse_cache.h"
#include "version.h"

#define MAGIC "MFKCACHE"
#define FORMAT_VERSION 1u
#define PREFIX_BYTES 32 /* magic 8, version 4, header 4, key 8, object 8 */

static pthread_once_t dir_once = PTHREAD_ONCE_INIT;
static char cache_dir[4096]; /* "" when the disk layer is off */
static atomic_uint tmp_counter;

/* Creates each missing component of path with mode 0700. */
static int mkdirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0700) && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0700) && errno != EEXIST ? -1 : 0;
}

mf_status mf_disk_check_dir(const char *dir)
{
    struct stat st;
    if (stat(dir, &st))
        return mf_error(MF_ERR_IO, "cache directory %s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return mf_error(MF_ERR_IO, "cache directory %s is not a directory", dir);
    if (st.st_uid != geteuid())
        return mf_error(MF_ERR_IO, "cache directory %s belongs to another user (uid %u)", dir, (unsigned)st.st_uid);
    if (st.st_mode & 022)
        return mf_error(MF_ERR_IO, "cache directory %s is writable by others (mode %03o)", dir, (unsigned)(st.st_mode & 0777));
    return MF_OK;
}

static void resolve_dir(void)
{
    const char *off = getenv("MLUFUSE_CACHE"), *dir = getenv("MLUFUSE_CACHE_DIR");
    if (off && (!strcmp(off, "off") || !strcmp(off, "0")))
        return;
    if (mf_kernel_cache_check_env()) { /* a typo must not write where the user did not mean */
        mf_logf(MF_LOG_WARNING, "cache", "%s; caching in memory only", mf_last_error());
        return;
    }
    char buf[4096];
    int len = -1;
    if (dir)
        len = snprintf(buf, sizeof buf, "%s", dir);
    else if (getenv("XDG_CACHE_HOME") && *getenv("XDG_CACHE_HOME"))
        len = snprintf(buf, sizeof buf, "%s/mlufuse", getenv("XDG_CACHE_HOME"));
    else if (getenv("HOME") && *getenv("HOME"))
        len = snprintf(buf, sizeof buf, "%s/.cache/mlufuse", getenv("HOME"));
    if (len < 0)
        return;
    if (len > MF_DISK_MAX_DIR) {
        mf_logf(MF_LOG_WARNING, "cache", "the kernel cache directory's path (%d bytes, from %s) is too long; "
                "caching in memory only", len, dir ? "MLUFUSE_CACHE_DIR" : "XDG_CACHE_HOME or HOME");
        return;
    }
    if (mkdirs(buf)) {
        mf_logf(MF_LOG_WARNING, "cache", "cannot create the kernel cache directory %s (%s); caching in memory only", buf, strerror(errno));
        return;
    }
    if (mf_disk_check_dir(buf)) {
        mf_logf(MF_LOG_WARNING, "cache", "%s; caching in memory only", mf_last_error());
        return;
    }
    snprintf(cache_dir, sizeof cache_dir, "%s", buf);
}

const char *mf_disk_dir(void)
{
    pthread_once(&dir_once, resolve_dir);
    return cache_dir[0] ? cache_dir : NULL;
}

mf_status mf_disk_max_bytes(size_t *out)
{
    const char *s = getenv("MLUFUSE_CACHE_MAX_MB");
    *out = (size_t)1024 << 20;
    if (!s)
        return MF_OK;
    char *end;
    double mb = strtod(s, &end); /* fractions allowed: 0.5 is 512 KiB */
    if (end == s || *end || !(mb > 0) || mb > 1e9)
        return mf_error(MF_ERR_INVALID, "MLUFUSE_CACHE_MAX_MB='%s' is not a positive number of MiB "
                                        "(like 512 or 0.5)", s);
    *out = (size_t)(mb * 1048576.0);
    return MF_OK;
}

/* ---- the entry format ----------------------------------------------------------------------- */

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void sha256(const void *data, size_t n, unsigned char *out)
{
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, n, data);
    sha256_digest(&ctx, SHA256_DIGEST_SIZE, out);
}

void mf_disk_entry_path(const char *dir, const char *hex, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s.mfk", dir, hex);
}

mf_status mf_disk_parse(const unsigned char *buf, size_t n, mf_disk_entry *e)
{
    memset(e, 0, sizeof *e);
    if (n < PREFIX_BYTES + SHA256_DIGEST_SIZE || memcmp(buf, MAGIC, 8))
        return mf_error(MF_ERR_PARSE, "not a kernel cache entry (bad magic or too short)");
    uint32_t version = (uint32_t)get_u64(buf + 8, 4);
    if (version != FORMAT_VERSION)
        return mf_error(MF_ERR_PARSE, "entry format version %u, this mlufuse reads %u", version, FORMAT_VERSION);
    uint64_t hlen = get_u64(buf + 12, 4), klen = get_u64(buf + 16, 8), olen = get_u64(buf + 24, 8);
    if (hlen > n || klen > n || olen > n || PREFIX_BYTES + hlen + klen + olen + SHA256_DIGEST_SIZE != n)
        return mf_error(MF_ERR_PARSE, "entry sizes do not add up to the file's %zu bytes (truncated?)", n);
    unsigned char digest[SHA256_DIGEST_SIZE];
    sha256(buf, n - SHA256_DIGEST_SIZE, digest);
    if (memcmp(digest, buf + n - SHA256_DIGEST_SIZE, SHA256_DIGEST_SIZE))
        return mf_error(MF_ERR_PARSE, "checksum mismatch (the entry is corrupt)");
    e->header = (const char *)buf + PREFIX_BYTES;
    e->header_len = hlen;
    e->key_text = e->header + hlen;
    e->key_len = klen;
    e->object = (const unsigned char *)e->key_text + klen;
    e->object_len = olen;
    return MF_OK;
}

/* The value of "name=" in the header, copied into out; false when absent. */
bool mf_disk_header_field(const mf_disk_entry *e, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = e->header, *end = e->header + e->header_len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if ((size_t)(eol - p) > nl && !memcmp(p, name, nl) && p[nl] == '=') {
            snprintf(out, cap, "%.*s", (int)(eol - p - (long)nl - 1), p + nl + 1);
            return true;
        }
        p = eol + 1;
    }
    return false;
}

mf_status mf_disk_read_file(const char *path, unsigned char **buf, size_t *n)
{
    char *text;
    mf_status s = mf_file_read_all(path, (size_t)1 << 30, &text, n);
    *buf = (unsigned char *)text;
    return s;
}

/* ---- load and store ----------------------------------------------------------------------------- */

static void note_use(const char *dir, const char *hex)
{
    char path[4200];
    mf_disk_entry_path(dir, hex, path, sizeof path);
    utimensat(AT_FDCWD, path, NULL, 0); /* last used = modification time */
    snprintf(path, sizeof path, "%s/%s.hits", dir, hex);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) { /* one byte per hit: appends are atomic between processes */
        if (write(fd, "+", 1) < 0) {
        }
        close(fd);
    }
}

static void remove_entry(const char *dir, const char *hex)
{
    char path[4200];
    mf_disk_entry_path(dir, hex, path, sizeof path);
    unlink(path);
    snprintf(path, sizeof path, "%s/%s.hits", dir, hex);
    unlink(path);
}

mf_status mf_disk_load(const mf_cache_key *k, mf_cg_object *obj, bool *found)
{
    *found = false;
    const char *dir = mf_disk_dir();
    if (!dir)
        return MF_OK;
    char path[4200];
    mf_disk_entry_path(dir, k->hex, path, sizeof path);
    unsigned char *buf;
    size_t n;
    if (access(path, F_OK))
        return MF_OK; /* a miss */
    mf_status s = mf_disk_read_file(path, &buf, &n);
    mf_disk_entry e;
    if (!s)
        s = mf_disk_parse(buf, n, &e);
    char symbol[64] = "", scratch[32] = "0";
    if (!s && (e.key_len != strlen(k->text) || memcmp(e.key_text, k->text, e.key_len)))
        s = mf_error(MF_ERR_PARSE, "its key text differs from the request (a hash collision or a tampered file)");
    if (!s && (!mf_disk_header_field(&e, "symbol", symbol, sizeof symbol) || !symbol[0]))
        s = mf_error(MF_ERR_PARSE, "its header names no kernel symbol");
    if (!s && !(obj->data = malloc(e.object_len)))
        s = mf_error(MF_ERR_NOMEM, "out of memory");
    if (s) {
        mf_logf(MF_LOG_WARNING, "cache", "kernel cache entry %s: %s; removed, the kernel is recompiled", path, mf_last_error());
        remove_entry(dir, k->hex);
        free(buf);
        return MF_OK;
    }
    mf_disk_header_field(&e, "scratch", scratch, sizeof scratch);
    memcpy(obj->data, e.object, e.object_len);
    obj->size = e.object_len;
    snprintf(obj->symbol, sizeof obj->symbol, "%s", symbol);
    obj->scratch_bytes = (size_t)strtoull(scratch, NULL, 10);
    obj->compile_ms = 0;
    free(buf);
    note_use(dir, k->hex);
    *found = true;
    return MF_OK;
}

/* The writer's pid in a temporary name "<key>.mfk.tmp.<pid>.<n>" (a plan's: .mfo), or -1. */
static long temp_writer(const char *name)
{
    const char *t = strstr(name, ".mfk.tmp.");
    if (!t)
        t = strstr(name, ".mfo.tmp.");
    if (!t || t != name + 64)
        return -1;
    char *end;
    long pid = strtol(t + 9, &end, 10);
    return pid > 0 && pid <= INT_MAX && *end == '.' ? pid : -1; /* a pid_t, never kill(-1) */
}

size_t mf_disk_reclaim_temps(const char *dir, int *removed, size_t *removed_bytes)
{
    size_t live = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    time_t now = time(NULL);
    for (struct dirent *de; (de = readdir(d));) {
        long pid = temp_writer(de->d_name);
        char path[4200];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (pid < 0 || lstat(path, &st) || !S_ISREG(st.st_mode))
            continue;
        /* A writer renames its file within milliseconds: one that is gone, or an hour old
         * (its pid since reused), was killed mid-write. */
        bool dead = (kill((pid_t)pid, 0) && errno == ESRCH) || difftime(now, st.st_mtime) > 3600;
        if (dead && unlink(path) == 0) {
            if (removed)
                (*removed)++;
            if (removed_bytes)
                *removed_bytes += (size_t)st.st_size;
        } else if (!dead) {
            live += (size_t)st.st_size;
        }
    }
    closedir(d);
    return live;
}

/* Removes the least recently used entries and saved plans (<key>.mfo, module/plan_cache.c)
 * until the directory holds at most max bytes, counting the files of writers still at work;
 * a killed writer's file is removed. */
void mf_disk_evict(const char *dir, size_t max)
{
    size_t total = mf_disk_reclaim_temps(dir, NULL, NULL);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct item {
        char hex[65];
        double used; /* seconds, with the nanoseconds: entries written in one second differ */
        off_t size;
        bool plan;
    } *items = NULL;
    size_t count = 0, cap = 0;
    for (struct dirent *de; (de = readdir(d));) {
        size_t len = strlen(de->d_name);
        bool plan = len == 68 && !strcmp(de->d_name + 64, ".mfo");
        if (len != 68 || (strcmp(de->d_name + 64, ".mfk") && !plan))
            continue;
        char path[4200];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (stat(path, &st))
            continue;
        if (count == cap) {
            struct item *p = realloc(items, sizeof *p * (cap = cap ? cap * 2 : 64));
            if (!p)
                break;
            items = p;
        }
        snprintf(items[count].hex, sizeof items[count].hex, "%.64s", de->d_name);
        items[count].used = (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec * 1e-9;
        items[count].plan = plan;
        items[count++].size = st.st_size;
        total += (size_t)st.st_size;
    }
    closedir(d);
    while (total > max && count) { /* oldest first */
        size_t oldest = 0;
        for (size_t i = 1; i < count; i++)
            if (items[i].used < items[oldest].used)
                oldest = i;
        if (items[oldest].plan) {
            char path[4200];
            snprintf(path, sizeof path, "%s/%s.mfo", dir, items[oldest].hex);
            unlink(path);
        } else {
            remove_entry(dir, items[oldest].hex);
        }
        total -= (size_t)items[oldest].size;
        items[oldest] = items[--count];
    }
    free(items);
}

mf_status mf_disk_store(const mf_cache_key *k, const mf_cg_object *obj, const mf_cg_target *t,
                        const char *ops, double compile_ms)
{
    const char *dir = mf_disk_dir();
    if (!dir)
        return MF_OK;
    char header[8192];
    int hlen = snprintf(header, sizeof header,
                        "compiler=%s\nllvm=%u.%u.%u\ntriple=%s\ncpu=%s\nfeatures=%s\ncreated=%lld\n"
                        "compile_ms=%.3f\nsymbol=%s\nscratch=%zu\nops=%s\n",
                        MF_COMPILER_VERSION, t->llvm_major, t->llvm_minor, t->llvm_patch, t->triple,
                        t->cpu, t->features, (long long)time(NULL), compile_ms, obj->symbol,
                        obj->scratch_bytes, ops);
    if (hlen < 0 || (size_t)hlen >= sizeof header)
        return mf_error(MF_ERR_INTERNAL, "kernel cache: header too long");
    size_t klen = strlen(k->text), n = PREFIX_BYTES + (size_t)hlen + klen + obj->size + SHA256_DIGEST_SIZE;
    unsigned char *buf = malloc(n);
    if (!buf)
        return mf_error(MF_ERR_NOMEM, "kernel cache: out of memory");
    memcpy(buf, MAGIC, 8);
    put_u32(buf + 8, FORMAT_VERSION);
    put_u32(buf + 12, (uint32_t)hlen);
    put_u64(buf + 16, klen);
    put_u64(buf + 24, obj->size);
    memcpy(buf + PREFIX_BYTES, header, (size_t)hlen);
    memcpy(buf + PREFIX_BYTES + hlen, k->text, klen);
    memcpy(buf + PREFIX_BYTES + hlen + klen, obj->data, obj->size);
    sha256(buf, n - SHA256_DIGEST_SIZE, buf + n - SHA256_DIGEST_SIZE);

    char tmp[4200], path[4200];
    mf_disk_entry_path(dir, k->hex, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&tmp_counter, 1));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && write(fd, buf, n) == (ssize_t)n;
    ok = fd >= 0 && close(fd) == 0 && ok;
    /* Test hook: the one point where a writer's death matters, reached on purpose. */
    if (ok && getenv("MLUFUSE_TEST_KILL_WRITER"))
        raise(SIGKILL);
    ok = ok && rename(tmp, path) == 0; /* atomic: readers see the old file or the whole new one */
    free(buf);
    if (!ok) {
        mf_status s = mf_error(MF_ERR_IO, "kernel cache: cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return s;
    }
    size_t max;
    if (!mf_disk_max_bytes(&max)) /* a bad limit turned the disk layer off already */
        mf_disk_evict(dir, max);
    return MF_OK;
}
