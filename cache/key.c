/* key.c — cache keys: SHA-256 (nettle) over the key-format version, compiler and LLVM
 * versions, target triple, CPU name and features, optimization level, core_number and the
 * subgraph's canonical .mfir (values renumbered, concrete shapes and attributes; weights
 * are arguments, so their data is not part of it). */
#include <nettle/sha2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "version.h"

mf_status mf_cache_key_make(const mf_graph *sub, const mf_cache_options *opt,
                            const mf_cg_target *target, mf_cache_key *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < sub->nvalues; i++)
        if (sub->values[i]->is_const && sub->values[i]->data && mf_type_numel(&sub->values[i]->type) > 16)
            return mf_error(MF_ERR_INTERNAL, "cache key: subgraph @%s bakes in a large constant",
                            sub->name);
    char *canonical;
    mf_status s = mf_graph_print(sub, 0, &canonical);
    if (s)
        return s;
    char header[5120];
    int n = snprintf(header, sizeof header,
                     "key-format %d\ncompiler %s\nllvm %u.%u.%u\ntriple %s\ncpu %s\nfeatures %s\n"
                     "opt %d\ncore_number %d\n",
                     MF_CACHE_KEY_FORMAT, MF_COMPILER_VERSION, target->llvm_major,
                     target->llvm_minor, target->llvm_patch, target->triple, target->cpu,
                     target->features, opt->opt_level, opt->core_number);
    if (n < 0 || (size_t)n >= sizeof header) {
        free(canonical);
        return mf_error(MF_ERR_INTERNAL, "cache key: the target description is too long");
    }
    size_t clen = strlen(canonical);
    out->text = malloc((size_t)n + clen + 1);
    if (!out->text) {
        free(canonical);
        return mf_error(MF_ERR_NOMEM, "cache key: out of memory");
    }
    memcpy(out->text, header, (size_t)n);
    memcpy(out->text + n, canonical, clen + 1);
    out->canonical = out->text + n;
    free(canonical);

    mf_cache_key_hash(out->text, (size_t)n + clen, out->hex);
    return MF_OK;
}

void mf_cache_key_hash(const char *text, size_t len, char hex[65])
{
    struct sha256_ctx ctx;
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_init(&ctx);
    sha256_update(&ctx, len, (const uint8_t *)text);
    sha256_digest(&ctx, sizeof digest, digest);
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

/* key's first 64 characters are lowercase hex digits, and then comes `rest` */
static bool key_then(const char *key, const char *rest)
{
    size_t n = 0;
    while (key && n < 64 && ((key[n] >= '0' && key[n] <= '9') || (key[n] >= 'a' && key[n] <= 'f')))
        n++;
    return n == 64 && !strcmp(key + 64, rest);
}

bool mf_cache_key_name(const char *name, const char *ext)
{
    return key_then(name, ext);
}

mf_status mf_cache_key_check(const char *key)
{
    if (key_then(key, ""))
        return MF_OK;
    return mf_error(MF_ERR_INVALID, "a cache key is 64 lowercase hex digits, not '%.80s'", key ? key : "(null)");
}

void mf_cache_key_free(mf_cache_key *k)
{
    free(k->text);
    memset(k, 0, sizeof *k);
}

const char *mf_cache_default_cpu(const char *cpu)
{
    return cpu ? cpu : getenv("MLUFUSE_CPU");
}

mf_status mf_cache_check_cpu(const char *cpu)
{
    mf_cg_target t;
    const char *env = cpu ? NULL : getenv("MLUFUSE_CPU");
    if (env && !*env)
        return mf_error(MF_ERR_INVALID, "MLUFUSE_CPU is empty: unset it for this machine's CPU, or name one");
    mf_status s = mf_cg_target_init(env ? env : cpu, &t);
    return s && env ? mf_error_context(s, "MLUFUSE_CPU") : s;
}

/* Verdicts by CPU name: eager ops ask before every kernel they get, and a verdict costs two
 * target machines (the CPU's and the host's). */
#define RUNS_MEMO 8
static struct {
    char cpu[64], why[320];
    bool runs;
} runs_memo[RUNS_MEMO];
static int runs_memo_n;
static pthread_mutex_t runs_lock = PTHREAD_MUTEX_INITIALIZER;

/* cpu's slot in runs_memo, or -1 (runs_lock held) */
static int runs_memo_find(const char *cpu)
{
    for (int i = 0; i < runs_memo_n; i++)
        if (!strcmp(runs_memo[i].cpu, cpu))
            return i;
    return -1;
}

bool mf_cache_runs_here(const char *cpu, char *why, size_t why_cap)
{
    if (!cpu)
        return true;
    bool runs = true;
    pthread_mutex_lock(&runs_lock);
    int i = runs_memo_find(cpu);
    if (i >= 0) {
        runs = runs_memo[i].runs;
        if (why_cap)
            snprintf(why, why_cap, "%s", runs_memo[i].why);
    }
    pthread_mutex_unlock(&runs_lock);
    if (i >= 0)
        return runs;
    mf_cg_target t;
    char text[320] = "";
    if (mf_cg_target_init(cpu, &t)) /* an unknown CPU: the callers' name check says so */
        return true;
    runs = mf_cg_target_runs_here(&t, text, sizeof text);
    if (why_cap)
        snprintf(why, why_cap, "%s", text);
    pthread_mutex_lock(&runs_lock); /* another thread may have added the same verdict */
    if (runs_memo_find(cpu) < 0 && runs_memo_n < RUNS_MEMO &&
        strlen(cpu) < sizeof runs_memo[0].cpu) {
        snprintf(runs_memo[runs_memo_n].cpu, sizeof runs_memo[0].cpu, "%s", cpu);
        snprintf(runs_memo[runs_memo_n].why, sizeof runs_memo[0].why, "%s", text);
        runs_memo[runs_memo_n++].runs = runs;
    }
    pthread_mutex_unlock(&runs_lock);
    return runs;
}

int mf_cache_target_lanes(const char *cpu)
{
    mf_cg_target t;
    return mf_cg_target_init(cpu, &t) ? 0 : t.shape.lanes;
}

const char *mf_cache_compiler_version(void)
{
    return MF_COMPILER_VERSION;
}
