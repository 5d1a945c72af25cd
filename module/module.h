/* module.h — internals of the glue that turns a graph into a runnable module: passes →
 * segmentation → one standalone subgraph per MLU segment → kernels from the keyed
 * instruction map → a runtime plan.  The only folder that sees every layer; kept thin. */
#ifndef MF_MODULE_H
#define MF_MODULE_H

#include <stdatomic.h>

#include "cache/cache.h"
#include "passes/passes.h"
#include "runtime/plan.h"

/* One MLU subgraph of a segmented graph, as a standalone graph for codegen (inputs:
 * activations, then constants; outputs: values used outside it), with the values of the
 * big graph its inputs and outputs stand for. */
typedef struct mf_segment {
    int id;
    mf_graph *sub;
    int ninputs, noutputs;
    mf_value **inputs;  /* values of the segmented graph, in sub's input order */
    mf_value **outputs; /* in sub's output order */
    char label[96];     /* "subgraph 3 (conv2d+add+relu)" */
} mf_segment;

/* Extracts the subgraph of the nodes with node->subgraph == id (they must be convex and
 * in topological order, as segmentation leaves them). */
mf_status mf_mod_extract_segment(const mf_graph *g, int id, mf_segment *out);
void mf_mod_segment_free(mf_segment *s);

/* Live verification (live_check.c): a plan step hook comparing each kernel's outputs with the
 * reference kernels on the same inputs. */
typedef struct mf_verifier {
    const mf_segment *segs;
    double rtol;     /* MLUFUSE_VERIFY_RTOL, default 0.003 */
    const char *dir; /* MLUFUSE_VERIFY_DIR, default "mlufuse-verify" */
} mf_verifier;
mf_status mf_mod_verify_step(const mf_plan *p, int step, void *const *args, void *ctx);

/* The plan of a segmented graph: segs[k] runs kernels[k] (with scratch[k] bytes of
 * scratch); nodes with subgraph -1 run on the CPU with copies around them. */
mf_status mf_mod_build_plan(const mf_graph *g, mf_segment *segs, int nsegs,
                            const mf_rt_kernel_fn *kernels, const size_t *scratch, mf_device dev,
                            int core_number, mf_plan **out);

/* Fills the profiler's sites of p (profile_sites.c): kernel steps from segs[step->segment]
 * and keys[step->segment] (their cache keys) with lanes, the f32 lanes of their target,
 * CPU-fallback steps from their ops, and the run (named after the graph). */
mf_status mf_mod_describe_plan(mf_plan *p, const char *graph_name, const mf_segment *segs,
                               const char (*keys)[65], int lanes);
/* Partitions per kernel step (launch_grain.c): a step whose estimated one-core cost
 * (mf_mod_step_cost_us, from its site's FLOPs and bytes: call after mf_mod_describe_plan)
 * is under grain_us launches one partition, the others p->core_number.  The grain is
 * MLUFUSE_LAUNCH_GRAIN_US, default 25 (0: split every launch); a malformed value is an
 * error. */
double mf_mod_step_cost_us(const mf_plan_step *st);
mf_status mf_mod_launch_grain_us(double *out);
void mf_mod_plan_launch_grain(mf_plan *p, double grain_us);
/* mf_cache_get_ex, recorded as a compile or load event when a profile is being collected
 * and this call made the kernel (profile.c).  what names the request ("subgraph 3
 * (conv2d)"); *made as mf_cache_get_ex's (made may be NULL).  Thread-safe. */
mf_status mf_mod_cache_get(const mf_graph *sub, const mf_cache_options *co, const char *what,
                           const mf_kernel **out, bool *made);

/* One segment's kernel request (compile_kernels.c). */
typedef struct mf_kernel_result {
    mf_status status;
    char message[512]; /* mf_last_error() of the failed request */
    const mf_kernel *kernel;
    bool made;         /* compiled or loaded by this request, not found in memory */
    double wall_ms;
} mf_kernel_result;

/* Gets the kernel of every segment from the map on mf_mod_compile_threads() threads (the
 * caller's among them), results[k] for segs[k]; mo's progress and on_kernel are called as
 * each is ready, one call at a time.  Failures are per result, never returned.  cancel
 * non-NULL marks a background (tier-up) compile: unless the thread count was set, its last
 * thread (of one per core) runs in the idle scheduling class and starts a kernel only while
 * no run is in flight, so runs keep the room they had with one thread fewer; kernels not yet
 * started when *cancel turns true are skipped (their results fail with "compile cancelled"). */
mf_status mf_mod_compile_kernels(mf_segment *segs, int n, const mf_cache_options *co,
                                 const mf_module_options *mo, const atomic_bool *cancel,
                                 mf_kernel_result *results);

/* Test hook (tests only; process-wide, set before the modules it concerns are created):
 * every background tier-up calls hook(ctx) on its thread before it compiles anything, so a
 * test can hold tier 1 back while it runs on tier 0.  NULL: none. */
void mf_mod_set_tier_up_hook(void (*hook)(void *ctx), void *ctx);
/* How many times a module has run a pass pipeline in this process (tests: a start on a saved
 * plan runs none). */
int mf_mod_pipeline_runs(void);
/* MF_ERR_INVALID when MLUFUSE_TIER is set to anything but fast, full or auto; else *out is
 * the mode it names (MF_TIER_AUTO when unset). */
mf_status mf_mod_tier_from_env(mf_tier_mode *out);
/* Runs in flight now in this process (mf_module_run calls, every module's). */
int mf_mod_runs_in_flight(void);
/* Threads for nkernels kernels: mo->compile_threads, else MLUFUSE_COMPILE_THREADS, else one
 * per online core; never more than nkernels. */
int mf_mod_compile_threads(const mf_module_options *mo, int nkernels);
/* MF_ERR_INVALID when MLUFUSE_COMPILE_THREADS is set to anything but a number 1..64. */
mf_status mf_mod_check_compile_env(void);
/* MF_OK when o's numbers are in range (core_number, opt_level, passes ending in segment,
 * compile_threads, tier); else MF_ERR_INVALID, the message starting with who. */
mf_status mf_mod_check_options(const mf_module_options *o, const char *who);

/* The plan cache (plan_cache.c, docs/tiers.md): tier-1 plans saved as <key>.mfo in the disk
 * cache, loaded by a later process to run the same input types or a batch size they divide.  Off when the disk cache
 * is or MLUFUSE_PLAN_CACHE=off; MF_ERR_INVALID when that variable is neither on nor off. */
typedef struct mf_offline_model mf_offline_model;
mf_status mf_mod_plan_cache_check_env(void);
bool mf_mod_plan_cache_on(void);
/* A checksum of every constant's bytes in g, which a saved plan's weights must match. */
uint64_t mf_mod_plan_weights_sum(const mf_graph *g);
/* A checksum of every constant's size and of a few windows of its bytes (microseconds however
 * big the weights): the weights part of a plan's key. */
uint64_t mf_mod_plan_weights_fingerprint(const mf_graph *g);
/* The key of the plan of g (a module's graph) at input types under mo. */
mf_status mf_mod_plan_key(const mf_graph *g, const mf_type *types, uint64_t fingerprint,
                          const mf_module_options *mo, char hex[65]);
bool mf_mod_plan_cached(const char *key);
/* Saves plan p, built from the optimized graph g and its nsegs segments (their objects come
 * from the disk cache), under key with its weights' sum, unless a plan is there already. */
mf_status mf_mod_plan_save(const char *key, uint64_t weights_sum, const mf_plan *p, const mf_graph *g,
                           const mf_segment *segs, int nsegs, const mf_module_options *mo);
/* The plan saved under key, its kernels linked, when there is one whose inputs are types and
 * whose weights' sum is weights_sum(ctx) (called on a second thread while the file loads);
 * *out NULL and MF_OK when there is none.  A damaged or mismatched file is reported, removed,
 * and its error returned: the caller compiles instead. */
mf_status mf_mod_plan_load(const char *key, const mf_type *types, int ntypes, uint64_t (*weights_sum)(void *ctx),
                           void *ctx, mf_offline_model **out);

/* Constant folding's evaluator (ref_eval.c): one op on host data by its reference kernel
 * (an mf_pass_eval_fn; ctx unused). */
mf_status mf_mod_ref_eval(mf_op op, const mf_attr *attrs, int nin, const void *const *in,
                          const mf_type *in_types, void *out, const mf_type *out_type, void *ctx);

#endif
