/* cache.h — the keyed instruction map: a subgraph with concrete shapes, plus everything
 * that changes the code made for it, hashes to a key; the map holds one compiled kernel
 * per key, in memory (and, with the persistent-cache work, on disk).  A process-wide,
 * lock-guarded registry: every function here is thread-safe. */
#ifndef MF_CACHE_H
#define MF_CACHE_H

#include "codegen/codegen.h"

#define MF_CACHE_KEY_FORMAT 1

typedef struct mf_cache_options {
    const char *cpu; /* NULL: the host CPU */
    int opt_level;   /* 3 by default */
    int core_number; /* 1, 4 or 16 */
} mf_cache_options;

/* Key text and hash of one kernel request. */
typedef struct mf_cache_key {
    char hex[65];    /* SHA-256 of `text`, lowercase hex */
    char *text;      /* components + canonical subgraph text; malloc'ed */
    char *canonical; /* points into text: the subgraph's canonical .mfir */
} mf_cache_key;

/* Builds the key of sub (a standalone subgraph, see codegen.h) under opt. */
mf_status mf_cache_key_make(const mf_graph *sub, const mf_cache_options *opt,
                            const mf_cg_target *target, mf_cache_key *out);
void mf_cache_key_free(mf_cache_key *k);
/* MF_OK when key is a whole key (64 lowercase hex digits, as entries are named); else
 * MF_ERR_INVALID: a key names a file in the cache directory, so "../x" must not pass. */
mf_status mf_cache_key_check(const char *key);
/* Is name a whole key followed by ext (".mfk", ".mfo"): a file the cache lists, and so one its
 * removal takes (mf_cache_key_check's rule). */
bool mf_cache_key_name(const char *name, const char *ext);
/* MF_OK when codegen can target cpu (NULL: the host). */
mf_status mf_cache_check_cpu(const char *cpu);
/* Whether this host runs code compiled for cpu (NULL: the host; mf_cg_target_runs_here);
 * when not, `why` says what it lacks. */
bool mf_cache_runs_here(const char *cpu, char *why, size_t why_cap);
/* The CPU that compiles mean when the caller names none: MLUFUSE_CPU if set (a fleet's oldest
 * CPU, or the test suite on another level's kernels), else NULL, this machine. */
const char *mf_cache_default_cpu(const char *cpu);
/* The f32 lanes of the code generated for cpu (NULL: the host); 0 when unknown. */
int mf_cache_target_lanes(const char *cpu);
/* The compiler version every key records (release + hash of the code generator's sources). */
const char *mf_cache_compiler_version(void);
/* The key of a key text: the hex SHA-256 an entry's file is named by. */
void mf_cache_key_hash(const char *text, size_t len, char hex[65]);

/* A compiled kernel, owned by the map for the life of the process, with what making it
 * cost (for --time-compile). */
typedef struct mf_kernel {
    char key[65];
    mf_kernel_fn fn;
    size_t scratch_bytes;
    double compile_ms; /* making it in all: compile and link, or read from disk and link */
    bool loaded;       /* read from the disk cache, not compiled */
    double build_ms, optimize_ms, emit_ms; /* the phases of its compile (0 when loaded) */
    double load_ms;    /* reading it from disk (when loaded) and linking it */
} mf_kernel;

/* Whether the kernel for sub is ready without compiling: in the map, or its entry is in the
 * disk cache (it may still fail its checks when loaded, and is then compiled).  Never
 * compiles, never waits for a compile in progress. */
bool mf_cache_ready(const mf_graph *sub, const mf_cache_options *opt);
/* False when neither the map nor the disk cache holds any kernel (a cold start: asking
 * mf_cache_ready for each kernel would be wasted work).  Reads the cache folder's names. */
bool mf_cache_may_hold_kernels(void);
/* The kernel for sub: from the map, or compiled now on a miss.  Several threads asking
 * for one key at once wait for a single compilation. */
mf_status mf_cache_get(const mf_graph *sub, const mf_cache_options *opt, const mf_kernel **out);
/* The same; *made (unless NULL) says whether this call made the kernel (compiled or loaded
 * it from disk) rather than finding it in memory or waiting for another thread's. */
mf_status mf_cache_get_ex(const mf_graph *sub, const mf_cache_options *opt, const mf_kernel **out,
                          bool *made);

/* "conv2d+add+relu": the ops of sub, for a disk entry's header. */
void mf_cache_op_list(const mf_graph *sub, char *out, size_t cap);

/* The object code for sub under opt, for an offline model: from the disk cache, or compiled
 * now (and stored) on a miss; never linked into the process.  *target receives the target
 * it is for.  The caller frees out with mf_cg_object_free. */
mf_status mf_cache_get_object(const mf_graph *sub, const mf_cache_options *opt, mf_cg_target *target,
                              mf_cg_object *out);

typedef struct mf_cache_stats_internal {
    uint64_t hits, misses, entries;
    uint64_t loaded; /* misses served by the disk cache (the rest were compiled) */
    double compile_ms, load_ms;
} mf_cache_stats_internal;

void mf_cache_stats_get(mf_cache_stats_internal *out);

#endif
