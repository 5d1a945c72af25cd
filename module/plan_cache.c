/* plan_cache.c — a module's compiled plans on disk, so that a new process answers without
 * compiling (docs/tiers.md): a tier-1 plan is saved as <key>.mfo in the disk cache (the offline
 * format: plan, the host's kernel objects, the constants as the passes left them, packed and
 * Winograd-transformed), keyed by the module's graph at its input types, a fingerprint of the
 * weights and the options that shape the plan.  A later process loads it with the offline
 * loader (every section checked, the weights' full checksum compared) and runs it: at the
 * same input types as its own tier 1, else slice after slice over a batch it divides. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/cache.h"
#include "cache/dir_list.h"
#include "cache/disk_store.h"
#include "mfo_write.h"
#include "mlufuse/mlufuse_offline.h"
#include "module.h"
#include "runtime/mfo.h"
#include "runtime/mfo_read.h"

/* 2: keyed by the weights' fingerprint, their full checksum in the meta; launch grain kept;
 * 3: the grain splits small readers of split kernels (launch_grain.c): a plan saved before
 * would keep them on one core */
#define PLAN_FORMAT 3
/* A constant's fingerprint reads this many windows of WINDOW bytes, spread over it. */
#define WINDOWS 16
#define WINDOW 256

mf_status mf_mod_plan_cache_check_env(void)
{
    const char *e = getenv("MLUFUSE_PLAN_CACHE");
    if (e && *e && strcmp(e, "on") && strcmp(e, "off"))
        return mf_error(MF_ERR_INVALID, "MLUFUSE_PLAN_CACHE=%.100s: expected on or off", e);
    return MF_OK;
}

bool mf_mod_plan_cache_on(void)
{
    const char *e = getenv("MLUFUSE_PLAN_CACHE");
    return !(e && !strcmp(e, "off")) && mf_disk_dir();
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    return (h ^ v) * 0x100000001B3ull;
}

uint64_t mf_mod_plan_weights_sum(const mf_graph *g)
{
    uint64_t h = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < g->nvalues; i++) {
        const mf_value *v = g->values[i];
        if (v->is_const && v->data)
            h = mix(h, mf_mfo_checksum(v->data->data, v->data->nbytes));
    }
    return h;
}

/* Each constant's size and WINDOWS windows of its bytes, first and last included: other
 * weights (another checkpoint of a model changes nearly every one) give another key at a
 * cost independent of their size; the full sum, checked at load, catches the rest. */
uint64_t mf_mod_plan_weights_fingerprint(const mf_graph *g)
{
    uint64_t h = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < g->nvalues; i++) {
        const mf_value *v = g->values[i];
        if (!v->is_const || !v->data)
            continue;
        const unsigned char *p = v->data->data;
        size_t n = v->data->nbytes;
        h = mix(h, n);
        if (n <= WINDOWS * WINDOW) {
            h = mix(h, mf_mfo_checksum(p, n));
            continue;
        }
        for (size_t w = 0; w < WINDOWS; w++)
            h = mix(h, mf_mfo_checksum(p + w * (n - WINDOW) / (WINDOWS - 1), WINDOW));
    }
    return h;
}

mf_status mf_mod_plan_key(const mf_graph *g, const mf_type *types, uint64_t fingerprint,
                          const mf_module_options *mo, char hex[65])
{
    mf_cg_target t;
    mf_graph *c = NULL;
    char *text = NULL;
    mf_status s = mf_cg_target_init(mo->cpu, &t);
    if (!s)
        s = mf_graph_clone(g, types, &c);
    if (!s)
        s = mf_graph_print(c, 1, &text); /* the weights' values are in the fingerprint */
    mf_graph_destroy(c);
    if (s)
        return s;
    mf_strbuf b = {0};
    mf_sb_printf(&b, "plan-format %d\nmfo %d\ncompiler %s\nllvm %u.%u.%u\ntriple %s\ncpu %s\nfeatures %s\n"
                 "opt %d\ncore_number %d\nfusion %d\nwinograd %d\npasses %s\ndevice %d:%d\nfingerprint %016llx\n",
                 PLAN_FORMAT, MF_MFO_VERSION, mf_cache_compiler_version(), t.llvm_major, t.llvm_minor,
                 t.llvm_patch, t.triple, t.cpu, t.features, mo->opt_level, mo->core_number, mo->fusion,
                 mo->winograd, mo->passes ? mo->passes : "", (int)mo->device.type, mo->device.index,
                 (unsigned long long)fingerprint);
    mf_sb_str(&b, text);
    free(text);
    if (b.oom) {
        free(b.p);
        return mf_error(MF_ERR_NOMEM, "plan cache: out of memory");
    }
    mf_cache_key_hash(b.p, b.n, hex);
    free(b.p);
    return MF_OK;
}

static void plan_path(const char *key, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s.mfo", mf_disk_dir(), key);
}

bool mf_mod_plan_cached(const char *key)
{
    char path[4200];
    struct stat st;
    if (!mf_mod_plan_cache_on())
        return false;
    plan_path(key, path, sizeof path);
    return !stat(path, &st) && S_ISREG(st.st_mode);
}

/* The meta lines of a saved plan: its key, the weights' full checksum, and each kernel step's
 * partitions (the launch grain the module chose; the .mfo plan does not carry it). */
static mf_status plan_meta(const char *key, uint64_t weights_sum, const mf_plan *p, mf_strbuf *b)
{
    mf_sb_printf(b, "plan_key=%s\nweights=%016llx\nnparts=", key, (unsigned long long)weights_sum);
    for (int i = 0, n = 0; i < p->nsteps; i++)
        if (p->steps[i].kind == MF_STEP_KERNEL)
            mf_sb_printf(b, "%s%d", n++ ? "," : "", p->steps[i].nparts);
    mf_sb_printf(b, "\n");
    return b->oom ? mf_error(MF_ERR_NOMEM, "plan cache: out of memory") : MF_OK;
}

mf_status mf_mod_plan_save(const char *key, uint64_t weights_sum, const mf_plan *p, const mf_graph *g,
                           const mf_segment *segs, int nsegs, const mf_module_options *mo)
{
    if (!mf_mod_plan_cache_on() || mf_mod_plan_cached(key))
        return MF_OK;
    mf_cache_options co = {mo->cpu, mo->opt_level, mo->core_number};
    mf_cg_object *objs = calloc((size_t)nsegs + 1, sizeof *objs);
    mf_cg_target t = {0};
    mf_strbuf meta = {0};
    mf_status s = objs ? MF_OK : mf_error(MF_ERR_NOMEM, "plan cache: out of memory");
    for (int k = 0; k < nsegs && !s; k++) /* from the disk cache: the kernels were just made */
        s = mf_cache_get_object(segs[k].sub, &co, &t, &objs[k]);
    if (!s)
        s = plan_meta(key, weights_sum, p, &meta);
    char path[4200];
    plan_path(key, path, sizeof path);
    mf_mfo_level level = {&t, t.features, p, g, nsegs, objs};
    if (!s)
        s = mf_mod_mfo_write(path, &level, 1, meta.p);
    free(meta.p);
    for (int k = 0; objs && k < nsegs; k++)
        mf_cg_object_free(&objs[k]);
    free(objs);
    size_t max;
    if (!s && !mf_disk_max_bytes(&max))
        mf_disk_evict(mf_disk_dir(), max);
    return s ? mf_error_context(s, "plan cache: saving %s", path) : MF_OK;
}

/* The weights' checksum, made on a thread of its own while the file loads (both read tens of
 * megabytes; two cores read them at once). */
typedef struct summer {
    uint64_t (*fn)(void *ctx);
    void *ctx;
    uint64_t sum;
} summer;

static void *sum_weights(void *arg)
{
    summer *w = arg;
    w->sum = w->fn(w->ctx);
    return NULL;
}

/* The saved plan's checks beyond the file's own: its key, the weights, the inputs; then the
 * kernel steps' partitions. */
static mf_status check_plan(mf_offline_model *m, const char *path, const char *key, uint64_t weights_sum,
                            const mf_type *types, int ntypes)
{
    const char *saved = mf_offline_meta(m, "plan_key"), *sum = mf_offline_meta(m, "weights");
    const char *nparts = mf_offline_meta(m, "nparts");
    if (!saved || strcmp(saved, key))
        return mf_error(MF_ERR_PARSE, "%s: saved for another key (%.12s)", path, saved ? saved : "none");
    if (!sum || strtoull(sum, NULL, 16) != weights_sum)
        return mf_error(MF_ERR_PARSE, "%s: saved for other weights (the same graph and weights fingerprint)", path);
    mf_plan *p = mf_rt_offline_plan(m);
    if (p->ninputs != ntypes)
        return mf_error(MF_ERR_PARSE, "%s: %d inputs, the graph has %d", path, p->ninputs, ntypes);
    for (int i = 0; i < ntypes; i++)
        if (!mf_type_equal(&p->slots[p->inputs[i]].type, &types[i]))
            return mf_error(MF_ERR_PARSE, "%s: input %d's type differs from the graph's", path, i);
    const char *at = nparts ? nparts : "";
    for (int i = 0; i < p->nsteps; i++) {
        if (p->steps[i].kind != MF_STEP_KERNEL)
            continue;
        char *end;
        long v = strtol(at, &end, 10);
        if (end == at || v < 1 || v > p->core_number || (*end && *end != ','))
            return mf_error(MF_ERR_PARSE, "%s: bad partitions for step %d", path, i);
        p->steps[i].nparts = (int)v;
        at = *end ? end + 1 : end;
    }
    return *at ? mf_error(MF_ERR_PARSE, "%s: partitions for more kernel steps than the plan has", path) : MF_OK;
}

mf_status mf_mod_plan_load(const char *key, const mf_type *types, int ntypes, uint64_t (*weights_sum)(void *ctx),
                           void *ctx, mf_offline_model **out)
{
    *out = NULL;
    if (!mf_mod_plan_cached(key))
        return MF_OK;
    char path[4200];
    plan_path(key, path, sizeof path);
    summer w = {weights_sum, ctx, 0};
    pthread_t tid;
    bool threaded = !pthread_create(&tid, NULL, sum_weights, &w);
    mf_offline_model *m = NULL;
    mf_status s = mf_offline_load(path, NULL, &m);
    if (threaded)
        pthread_join(tid, NULL);
    else
        sum_weights(&w);
    if (!s)
        s = check_plan(m, path, key, w.sum, types, ntypes);
    if (s) { /* never trusted again: the next tier-1 plan is saved afresh */
        mf_logf(MF_LOG_WARNING, "module", "plan cache: %s; removed, compiling instead", mf_last_error());
        mf_offline_destroy(m);
        unlink(path);
        return s;
    }
    utimensat(AT_FDCWD, path, NULL, 0); /* its last use, for least-recently-used eviction */
    *out = m;
    return MF_OK;
}

/* ---- inspection, for `mlufuse cache plans` (mlufuse_cache.h) ------------------------------ */

static bool is_plan_name(const char *name)
{
    return mf_cache_key_name(name, ".mfo");
}

static const char *meta_value(const mf_mfo_section *meta, const char *key, char *out, size_t cap)
{
    size_t k = strlen(key);
    out[0] = 0;
    for (size_t at = 0; at < meta->size;) {
        const char *line = (const char *)meta->data + at;
        const char *eol = memchr(line, '\n', meta->size - at);
        size_t len = eol ? (size_t)(eol - line) : meta->size - at;
        if (len > k && !memcmp(line, key, k) && line[k] == '=')
            snprintf(out, cap, "%.*s", (int)(len - k - 1), line + k + 1);
        at += len + 1;
    }
    return out;
}

static void plan_info(const char *dir, const char *name, void *rec)
{
    mf_plan_cache_info *info = rec;
    char path[4200], batch[32], kernels[32];
    memset(info, 0, sizeof *info);
    snprintf(info->key, sizeof info->key, "%.64s", name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unsigned char *buf = NULL;
    size_t n = 0;
    struct stat st;
    if (!stat(path, &st)) {
        info->bytes = (size_t)st.st_size;
        info->last_used = st.st_mtime;
    }
    mf_mfo_file f;
    mf_status s = mf_disk_read_file(path, &buf, &n);
    if (!s)
        s = mf_rt_mfo_sections(buf, n, path, &f);
    if (s) {
        snprintf(info->problem, sizeof info->problem, "%s", mf_last_error());
        free(buf);
        return;
    }
    meta_value(f.meta, "model", info->model, sizeof info->model);
    meta_value(f.meta, "levels", info->cpu, sizeof info->cpu);
    info->batch = atoll(meta_value(f.meta, "batch_size", batch, sizeof batch));
    /* a count a level: a saved plan has one level, the host's */
    info->kernels = atoi(meta_value(f.meta, "subgraphs", kernels, sizeof kernels));
    info->valid = 1;
    free(buf);
}

mf_status mf_plan_cache_list(const char *dir, mf_plan_cache_info **out, int *n)
{
    if (!out || !n)
        return mf_error(MF_ERR_INVALID, "plan_cache_list: %s is NULL", out ? "n" : "out");
    *out = NULL;
    *n = 0;
    if (!dir && !(dir = mf_disk_dir()))
        return mf_error(MF_ERR_IO, "the kernel cache is off (MLUFUSE_CACHE=off or a refused directory)");
    return mf_dir_list(dir, is_plan_name, plan_info, sizeof **out, (void **)out, n);
}

mf_status mf_plan_cache_remove(const char *dir, const char *key)
{
    mf_status s = mf_cache_key_check(key);
    if (s)
        return mf_error_context(s, "plan_cache_remove");
    if (!dir && !(dir = mf_disk_dir()))
        return mf_error(MF_ERR_IO, "the kernel cache is off");
    char path[4200];
    snprintf(path, sizeof path, "%s/%.64s.mfo", dir, key);
    if (unlink(path) && errno != ENOENT)
        return mf_error(MF_ERR_IO, "%s: %s", path, strerror(errno));
    return MF_OK;
}
