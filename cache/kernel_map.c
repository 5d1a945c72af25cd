/* kernel_map.c — the in-memory keyed instruction map.  One table for the process, guarded
 * by one mutex; an entry is created in state COMPILING by the first thread that misses,
 * which compiles outside the lock while later askers wait on a condition variable, so a
 * key is compiled exactly once.  Entries are never removed (kernels stay linked). */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "disk_store.h"
#include "mlufuse/mlufuse_cache.h"

typedef enum entry_state { COMPILING, READY, FAILED } entry_state;

typedef struct entry {
    struct entry *next;
    char *key_text; /* compared on every hit: a hash collision never runs the wrong code */
    mf_kernel kernel;
    entry_state state;
    bool loaded; /* from the disk cache, not compiled */
    mf_status error;
    char message[512];
} entry;

#define NBUCKETS 1024

/* The process's listener for explanations of compiled kernels (mf_kernel_cache_on_miss). */
static _Atomic(mf_miss_fn) miss_fn;
static void *_Atomic miss_ctx;

void mf_kernel_cache_on_miss(mf_miss_fn fn, void *ctx)
{
    atomic_store(&miss_ctx, ctx);
    atomic_store(&miss_fn, fn);
}

static struct {
    pthread_mutex_t lock;
    pthread_cond_t done;
    entry *buckets[NBUCKETS];
    mf_cache_stats_internal stats;
} map = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, {0}};

/* The key is already a uniform hash: its first hex digits pick the bucket. */
static entry **bucket(const char *hex)
{
    unsigned h = 0;
    for (int i = 0; i < 3; i++)
        h = h * 16 + (unsigned)(hex[i] <= '9' ? hex[i] - '0' : hex[i] - 'a' + 10);
    return &map.buckets[h % NBUCKETS];
}

static entry *find(const mf_cache_key *k)
{
    for (entry *e = *bucket(k->hex); e; e = e->next)
        if (!strcmp(e->kernel.key, k->hex) && !strcmp(e->key_text, k->text))
            return e;
    return NULL;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void mf_cache_op_list(const mf_graph *sub, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = 0;
    for (int i = 0; i < sub->nnodes && n + 1 < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "+" : "", mf_op_get(sub->nodes[i]->op)->name);
}

/* Loads the kernel of k from disk into e, when a valid entry is there. */
static bool load_entry(entry *e, const mf_cache_key *k)
{
    mf_cg_object obj = {0};
    bool found;
    if (mf_disk_load(k, &obj, &found) || !found)
        return false;
    bool ok = mf_cg_load(&obj, &e->kernel.fn) == MF_OK; /* else: compile it afresh */
    e->kernel.scratch_bytes = obj.scratch_bytes;
    mf_cg_object_free(&obj);
    return ok;
}

/* Takes the kernel from disk or compiles, links and stores it; runs without the map lock. */
static void compile_entry(entry *e, const mf_graph *sub, const mf_cache_options *opt,
                          const mf_cg_target *target, const mf_cache_key *k)
{
    double t0 = now_ms();
    if ((e->loaded = load_entry(e, k))) {
        e->kernel.loaded = true;
        e->kernel.compile_ms = e->kernel.load_ms = now_ms() - t0;
        return;
    }
    char ops[256];
    mf_cache_op_list(sub, ops, sizeof ops);
    mf_miss_fn fn = atomic_load(&miss_fn);
    if (fn) {
        char why[2048];
        mf_disk_explain_miss(k, ops, why, sizeof why);
        fn(why, atomic_load(&miss_ctx));
    }
    mf_cg_options cg = {target, opt->opt_level, opt->core_number};
    mf_cg_object obj;
    mf_status s = mf_cg_compile(sub, &cg, &obj);
    if (!s) {
        e->kernel.build_ms = obj.build_ms;
        e->kernel.optimize_ms = obj.optimize_ms;
        e->kernel.emit_ms = obj.emit_ms;
        double t_link = now_ms();
        s = mf_cg_load(&obj, &e->kernel.fn);
        e->kernel.load_ms = now_ms() - t_link;
        e->kernel.scratch_bytes = obj.scratch_bytes;
        if (!s && mf_disk_store(k, &obj, target, ops, now_ms() - t0))
            mf_logf(MF_LOG_WARNING, "cache", "%s", mf_last_error()); /* memory still works */
        mf_cg_object_free(&obj);
    }
    e->kernel.compile_ms = now_ms() - t0;
    e->error = s;
    if (s)
        snprintf(e->message, sizeof e->message, "%s", mf_last_error());
}

static mf_status entry_result(const entry *e, const mf_kernel **out)
{
    if (e->state == FAILED)
        return mf_error(e->error, "%s", e->message);
    *out = &e->kernel;
    return MF_OK;
}

bool mf_cache_ready(const mf_graph *sub, const mf_cache_options *opt)
{
    mf_cg_target target;
    mf_cache_key k;
    if (mf_cg_target_init(opt->cpu, &target) || mf_cache_key_make(sub, opt, &target, &k))
        return false;
    pthread_mutex_lock(&map.lock);
    entry *e = find(&k);
    bool ready = e && e->state == READY;
    pthread_mutex_unlock(&map.lock);
    const char *dir = ready || e ? NULL : mf_disk_dir();
    if (dir) {
        char path[4200];
        mf_disk_entry_path(dir, k.hex, path, sizeof path);
        ready = !access(path, R_OK);
    }
    mf_cache_key_free(&k);
    return ready;
}

/* An entry file's name: 64 hex digits and ".mfk". */
static bool is_entry_file(const char *name)
{
    return strlen(name) == 68 && !strcmp(name + 64, ".mfk");
}

bool mf_cache_may_hold_kernels(void)
{
    pthread_mutex_lock(&map.lock);
    bool any = map.stats.entries > 0;
    pthread_mutex_unlock(&map.lock);
    const char *dir = any ? NULL : mf_disk_dir();
    DIR *d = dir ? opendir(dir) : NULL;
    for (struct dirent *e; d && !any && (e = readdir(d));)
        any = is_entry_file(e->d_name);
    if (d)
        closedir(d);
    return any;
}

mf_status mf_cache_get(const mf_graph *sub, const mf_cache_options *opt, const mf_kernel **out)
{
    return mf_cache_get_ex(sub, opt, out, NULL);
}

mf_status mf_cache_get_ex(const mf_graph *sub, const mf_cache_options *opt, const mf_kernel **out,
                          bool *made)
{
    if (made)
        *made = false;
    mf_cg_target target;
    mf_status s = mf_cg_target_init(opt->cpu, &target);
    mf_cache_key k;
    if (!s)
        s = mf_cache_key_make(sub, opt, &target, &k);
    if (s)
        return s;

    pthread_mutex_lock(&map.lock);
    entry *e = find(&k);
    if (e) {
        map.stats.hits++;
        while (e->state == COMPILING)
            pthread_cond_wait(&map.done, &map.lock);
        s = entry_result(e, out);
        pthread_mutex_unlock(&map.lock);
        mf_cache_key_free(&k);
        return s;
    }
    e = calloc(1, sizeof *e);
    if (!e) {
        pthread_mutex_unlock(&map.lock);
        mf_cache_key_free(&k);
        return mf_error(MF_ERR_NOMEM, "kernel cache: out of memory");
    }
    memcpy(e->kernel.key, k.hex, sizeof e->kernel.key);
    e->key_text = k.text; /* the entry keeps the key text */
    e->state = COMPILING;
    e->next = *bucket(k.hex);
    *bucket(k.hex) = e;
    map.stats.misses++;
    pthread_mutex_unlock(&map.lock);

    compile_entry(e, sub, opt, &target, &k);
    if (made)
        *made = true;
    k.text = NULL; /* owned by the entry */
    mf_cache_key_free(&k);

    pthread_mutex_lock(&map.lock);
    e->state = e->error ? FAILED : READY;
    map.stats.entries += !e->error;
    if (e->loaded) {
        map.stats.loaded++;
        map.stats.load_ms += e->kernel.compile_ms;
    } else {
        map.stats.compile_ms += e->kernel.compile_ms;
    }
    pthread_cond_broadcast(&map.done);
    s = entry_result(e, out);
    pthread_mutex_unlock(&map.lock);
    return s;
}

void mf_cache_stats_get(mf_cache_stats_internal *out)
{
    pthread_mutex_lock(&map.lock);
    *out = map.stats;
    pthread_mutex_unlock(&map.lock);
}
