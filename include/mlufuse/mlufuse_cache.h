/* mlufuse_cache.h — inspecting the on-disk kernel cache (what `mlufuse cache` shows).  The
 * cache itself works without any call: modules take kernels from it and add theirs. */
#ifndef MLUFUSE_CACHE_H
#define MLUFUSE_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "mlufuse/mlufuse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The directory the process caches kernels in, or NULL when the disk layer is off
 * (MLUFUSE_CACHE=off, or a directory refused for its owner or permissions). */
const char *mf_kernel_cache_dir(void);

typedef struct mf_cache_entry_info {
    char key[65];
    char ops[256];     /* "conv2d+add+relu" */
    char shapes[512];  /* the subgraph's input types */
    char target[128];  /* "x86_64-pc-linux-gnu znver4" */
    char compiler[64]; /* compiler and LLVM versions */
    size_t bytes;      /* the entry file */
    time_t created, last_used;
    uint64_t hits;
    double compile_ms;
    int valid;          /* 0: corrupt, truncated or unreadable; see problem */
    char problem[256];
} mf_cache_entry_info;

/* Every entry of dir (NULL: the process's cache dir), checked; *out is malloc'ed (the
 * caller frees it).  MF_ERR_IO when dir cannot be read. */
mf_status mf_kernel_cache_list(const char *dir, mf_cache_entry_info **out, int *n);
/* The full key text (versions, target, options and the subgraph's canonical .mfir) of the
 * one entry whose key starts with prefix; malloc'ed.  MF_ERR_INVALID when no entry or
 * several match. */
mf_status mf_kernel_cache_key_text(const char *dir, const char *prefix, char **text, char *key);
/* The assembly of the kernel of entry key (a full key: 64 lowercase hex digits, anything
 * else is MF_ERR_INVALID, so no key names a file outside dir); malloc'ed. */
mf_status mf_kernel_cache_disassemble(const char *dir, const char *key, char **text);
/* Removes one entry (and its hit counter); key as for mf_kernel_cache_disassemble. */
mf_status mf_kernel_cache_remove(const char *dir, const char *key);
/* Removes the temporary files that killed writers left in dir (NULL: the process's cache
 * dir): *removed files, *bytes in all.  Files of writers still running are kept. */
mf_status mf_kernel_cache_reclaim(const char *dir, int *removed, size_t *bytes);
/* MF_OK when the cache's environment is usable: MLUFUSE_CACHE, if set, is on, off, 1 or 0,
 * MLUFUSE_CACHE_MAX_MB, if set, is a positive number, MLUFUSE_CACHE_DIR, if set, is not
 * empty nor longer than 4000 bytes, and MLUFUSE_CPU, if set, names a CPU
 * that LLVM knows.  Otherwise MF_ERR_INVALID naming the variable; the library then caches
 * in memory only (and says so on stderr). */
mf_status mf_kernel_cache_check_env(void);

/* Saved plans (<key>.mfo in the same directory, docs/tiers.md): a module's compiled plan,
 * its kernels and constants, which a later process runs for a batch size it divides. */
typedef struct mf_plan_cache_info {
    char key[65];
    char model[128];
    int64_t batch;
    char cpu[64];     /* the CPU its code is for */
    int kernels;
    size_t bytes;
    time_t last_used;
    int valid;        /* 0: its sections fail their checks; see problem */
    char problem[256];
} mf_plan_cache_info;

/* Every saved plan of dir (NULL: the process's cache dir), each file's sections checked;
 * *out is malloc'ed.  MF_ERR_IO when dir cannot be read. */
mf_status mf_plan_cache_list(const char *dir, mf_plan_cache_info **out, int *n);
/* Removes the saved plan of key (a full key: 64 lowercase hex digits, else MF_ERR_INVALID). */
mf_status mf_plan_cache_remove(const char *dir, const char *key);

/* Calls fn(explanation, ctx) each time a kernel has to be compiled (not found in memory or
 * on disk), with one line naming the nearest cache entry and the key components that
 * differ (shapes, core_number, compiler version, CPU features, ...).  Process-wide; NULL
 * stops it.  fn may be called from any thread that compiles. */
typedef void (*mf_miss_fn)(const char *explanation, void *ctx);
void mf_kernel_cache_on_miss(mf_miss_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
