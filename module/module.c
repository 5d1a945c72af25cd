/* module.c — the trace-and-run API: a module holds a graph and, per input shape seen, a
 * specialization (the graph re-inferred for those shapes, optimized and segmented, its
 * MLU subgraphs compiled through the keyed instruction map, and the resulting plan).
 * Running picks the specialization of the inputs' types or makes one.
 *
 * Tiers (docs/tiers.md): a specialization's plan is tier 1 (the specialized kernels) or
 * tier 0 (every op on the CPU, on the generic kernels built into the library: no compile).
 * In auto mode a new specialization starts on tier 0 unless all its kernels are cached, and
 * its tier 1 compiles on the module's background compiler (tier_up.c); the finished plan
 * replaces the tier-0 one between runs: a run holds a reference to the plan it started with.
 * A new batch size of a graph that keeps its batch rows apart starts instead on the tier-1
 * plan of a batch size that divides it, run slice after slice (no compile, full speed): one
 * of this module's, or one an earlier process saved in the plan cache (plan_cache.c).  A
 * specialization whose own plan an earlier process saved starts on it: tier 1 at once, with
 * no pass and no compile. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlufuse/mlufuse_offline.h"
#include "module.h"
#include "passes/passes.h"
#include "runtime/mfo_read.h"
#include "runtime/profiler.h"
#include "tier_up.h"

/* The passes of tier 0: no Winograd and no weight packing (layouts only the LLVM engines
 * read), no segmentation (every op runs on the CPU). */
#define TIER0_PIPELINE "dce,simplify,cse,fold,conv-bn,simplify,dce"

/* A plan with its tier; refs counts the runs using it plus one while it is current.  A
 * sliced plan runs its plan `slices` times per run, on consecutive slices of the batch: base's
 * plan, or one loaded from the plan cache (owner). */
typedef struct tier_plan {
    mf_plan *plan;
    int tier;
    int refs; /* under the module lock */
    int slices;
    struct tier_plan *base;   /* holds a reference; NULL: plan is this one's own */
    mf_offline_model *owner;  /* the plan cache's file that holds plan, else NULL */
} tier_plan;

typedef struct specialization {
    struct specialization *next;
    mf_type *input_types;
    tier_plan *current;
    bool pending; /* tier 1 compiling in the background */
    int nsubgraphs, ncpu_ops;
    mf_segment *segs; /* kept only when verifying */
    mf_verifier verifier;
} specialization;

struct mf_module {
    mf_graph *graph;
    mf_module_options opt;
    pthread_mutex_t lock; /* guards the list, the plans' refs and the tier state */
    pthread_cond_t tiered; /* signalled when a tier-up finishes */
    bool verify;          /* MLUFUSE_VERIFY=1 when the module was made */
    double verify_rtol;
    specialization *specs;
    int nspecs;
    bool warned;
    int target_lanes; /* f32 lanes of opt.cpu's code, for the profiler's per-target peak */
    char default_cpu[64]; /* opt.cpu when MLUFUSE_CPU named it */
    char cannot_run[320]; /* why this host cannot run the code compiled for opt.cpu ("": it can) */
    mf_tier_mode tier;      /* resolved: FAST, FULL or AUTO */
    mf_tier_up *tier_up;    /* the background compiler (AUTO) */
    int pending, failed;    /* tier-ups */
    mf_status tier_up_status;
    char tier_up_message[512];
    _Atomic int last_run_tier, last_run_slices, last_run_saved;
    double created_ms, tier_up_ms;
    double launch_grain_us; /* kernels estimated under it run unsplit (launch_grain.c) */
    bool plan_cache;        /* plans saved to and loaded from the disk cache */
    bool fingerprinted, weights_summed; /* under sum_lock: taken when first needed */
    uint64_t fingerprint, weights_sum;  /* of the graph's constants: a saved plan's key, its check */
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

mf_module_options mf_module_default_options(void)
{
    return (mf_module_options){.core_number = 1, .opt_level = 3, .cpu = NULL,
                               .max_specializations = 16, .device = MF_DEVICE_MLU(0),
                               .fusion = -1, .winograd = -1, .tier = MF_TIER_ENV};
}

size_t mf_module_options_size(void)
{
    return sizeof(mf_module_options);
}

static atomic_int pipelines_run; /* for tests: a saved plan's start runs none */
static atomic_int runs_in_flight; /* every module's: a background compile's spare thread waits */

int mf_mod_runs_in_flight(void)
{
    return atomic_load(&runs_in_flight);
}

int mf_mod_pipeline_runs(void)
{
    return atomic_load(&pipelines_run);
}

/* The compile pipeline (the default without its plan pass: the plan builder plans slots
 * itself), without a report (no fusion text is built on the compile path); with DEBUG=1 it
 * verifies after every pass and names a pass that broke the graph.  Subgraphs are numbered
 * 0..n-1 on the nodes. */
static mf_status optimize(const mf_module *m, mf_graph *g, const char *passes, int *nsub)
{
    atomic_fetch_add(&pipelines_run, 1);
    mf_opt_options o = mf_opt_default_options();
    o.passes = m->opt.passes ? m->opt.passes : passes;
    o.fusion = m->opt.fusion;
    o.winograd = m->opt.winograd;
    o.lanes = m->target_lanes;
    o.cpu = m->opt.cpu; /* weights packed for the kernels it compiles */
    mf_status s = mf_graph_optimize(g, &o, NULL);
    *nsub = 0;
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i]->subgraph >= *nsub)
            *nsub = g->nodes[i]->subgraph + 1;
    return s;
}

/* A module runs segmented graphs: its pipeline's last pass is segment. */
static bool ends_with_segment(const char *passes)
{
    size_t n = strlen(passes);
    while (n && passes[n - 1] == ' ')
        n--;
    return n >= 7 && !memcmp(passes + n - 7, "segment", 7) && (n == 7 || passes[n - 8] == ',' || passes[n - 8] == ' ');
}

static void free_segments(mf_segment *segs, int n)
{
    for (int i = 0; segs && i < n; i++)
        mf_mod_segment_free(&segs[i]);
    free(segs);
}

/* Compiles (or takes from the map) the kernel of every segment, on several threads
 * (cancel: see mf_mod_compile_kernels).  Segmentation formed only subgraphs codegen can build
 * (it asks mf_node_mlu_limit and mf_op_takes_epilogue, which codegen checks too), so any
 * failure is an error naming the segment: nothing after segmentation moves a node back to
 * the CPU. */
static mf_status compile_segments(const mf_module *m, mf_segment *segs, int n, mf_rt_kernel_fn *kernels,
                                  size_t *scratch, char (*keys)[65], const atomic_bool *cancel)
{
    mf_cache_options co = {m->opt.cpu, m->opt.opt_level, m->opt.core_number};
    mf_kernel_result *res = calloc((size_t)n + 1, sizeof *res);
    if (!res)
        return mf_error(MF_ERR_NOMEM, "module: out of memory");
    mf_mod_compile_kernels(segs, n, &co, &m->opt, cancel, res);
    mf_status s = MF_OK;
    for (int k = 0; k < n && !s; k++) {
        if (res[k].status) {
            s = mf_error(res[k].status, "%s: %s", segs[k].label, res[k].message);
            break;
        }
        const mf_kernel *kern = res[k].kernel;
        memcpy(keys[k], kern->key, sizeof keys[k]);
        kernels[k] = (mf_rt_kernel_fn)kern->fn;
        scratch[k] = kern->scratch_bytes;
    }
    free(res);
    return s;
}

/* A specialization's tier-1 graph, optimized and cut into segments, before any compile. */
typedef struct prepared {
    mf_graph *g;
    mf_segment *segs;
    int nseg;
} prepared;

static void prepared_free(prepared *pr)
{
    free_segments(pr->segs, pr->nseg);
    mf_graph_destroy(pr->g);
    *pr = (prepared){0};
}

/* cancel (NULL: none) is checked between segments: a huge graph's extraction is long, and
 * a module going away must not wait for it. */
static mf_status prepare(const mf_module *m, const mf_type *types, prepared *pr, const atomic_bool *cancel)
{
    int nsub = 0;
    *pr = (prepared){0};
    mf_status s = mf_graph_clone(m->graph, types, &pr->g);
    if (!s)
        s = optimize(m, pr->g, MF_COMPILE_PIPELINE, &nsub);
    if (!s && !(pr->segs = calloc((size_t)nsub + 1, sizeof *pr->segs)))
        s = mf_error(MF_ERR_NOMEM, "module: out of memory");
    for (; !s && pr->nseg < nsub; pr->nseg++)
        s = cancel && atomic_load(cancel) ? mf_error(MF_ERR_INVALID, "tier-up cancelled")
                                          : mf_mod_extract_segment(pr->g, pr->nseg, &pr->segs[pr->nseg]);
    if (s)
        prepared_free(pr);
    return s;
}

/* Whether every kernel of pr is in the map or the disk cache (a warm start: tier 1 at once). */
static bool all_cached(const mf_module *m, const prepared *pr)
{
    mf_cache_options co = {m->opt.cpu, m->opt.opt_level, m->opt.core_number};
    for (int k = 0; k < pr->nseg; k++)
        if (!mf_cache_ready(pr->segs[k].sub, &co))
            return false;
    return true;
}

/* The result of compiling a prepared specialization: its tier-1 plan and counts. */
typedef struct tier1 {
    mf_plan *plan;
    int nsubgraphs, ncpu_ops;
    mf_segment *segs; /* when verifying */
} tier1;

static void save_plan(const mf_module *m, const mf_type *types, const prepared *pr, const mf_plan *p);

/* Compiles pr's kernels (cancel: see mf_mod_compile_kernels) and builds the tier-1 plan of
 * the specialization at types; pr is consumed. */
static mf_status finish(const mf_module *m, const mf_type *types, prepared *pr, const atomic_bool *cancel,
                        tier1 *out)
{
    *out = (tier1){0};
    int n = pr->nseg;
    mf_rt_kernel_fn *kernels = calloc((size_t)n + 1, sizeof *kernels);
    size_t *scratch = calloc((size_t)n + 1, sizeof *scratch);
    char (*keys)[65] = calloc((size_t)n + 1, sizeof *keys);
    mf_status s = kernels && scratch && keys ? MF_OK : mf_error(MF_ERR_NOMEM, "module: out of memory");
    if (!s)
        s = compile_segments(m, pr->segs, pr->nseg, kernels, scratch, keys, cancel);
    if (!s)
        s = mf_mod_build_plan(pr->g, pr->segs, pr->nseg, kernels, scratch, m->opt.device,
                              m->opt.core_number, &out->plan);
    if (!s)
        s = mf_mod_describe_plan(out->plan, pr->g->name, pr->segs, (const char (*)[65])keys,
                                 m->target_lanes);
    if (!s)
        mf_mod_plan_launch_grain(out->plan, m->launch_grain_us);
    if (!s)
        save_plan(m, types, pr, out->plan);
    if (!s) {
        out->nsubgraphs = pr->nseg;
        for (int i = 0; i < pr->g->nnodes; i++)
            out->ncpu_ops += pr->g->nodes[i]->subgraph < 0;
        if (m->verify) { /* the verifier needs the subgraphs at every run */
            out->segs = pr->segs;
            pr->segs = NULL;
        }
    } else {
        mf_rt_plan_free(out->plan);
        out->plan = NULL;
    }
    free(keys);
    free(kernels);
    free(scratch);
    prepared_free(pr);
    return s;
}

/* Tier 0: every op on the CPU, on the generic kernels where one fits. */
static mf_status build_tier0(const mf_module *m, const mf_type *types, mf_plan **out)
{
    mf_graph *g = NULL;
    int nsub = 0;
    mf_status s = mf_graph_clone(m->graph, types, &g);
    if (!s)
        s = optimize(m, g, TIER0_PIPELINE, &nsub);
    for (int i = 0; !s && i < g->nnodes; i++)
        g->nodes[i]->subgraph = -1;
    if (!s)
        s = mf_mod_build_plan(g, NULL, 0, NULL, NULL, m->opt.device, m->opt.core_number, out);
    if (!s)
        s = mf_mod_describe_plan(*out, g->name, NULL, NULL, m->target_lanes);
    if (!s)
        mf_rt_plan_use_generic(*out);
    mf_graph_destroy(g);
    return s;
}

static tier_plan *tier_plan_new(mf_plan *plan, int tier)
{
    tier_plan *tp = malloc(sizeof *tp);
    if (tp)
        *tp = (tier_plan){plan, tier, 1, 1, NULL, NULL};
    else
        mf_rt_plan_free(plan);
    return tp;
}

/* base's plan run `slices` times per run (under the module lock: it takes a reference). */
static tier_plan *tier_plan_sliced(tier_plan *base, int slices)
{
    tier_plan *tp = malloc(sizeof *tp);
    if (!tp)
        return NULL;
    *tp = (tier_plan){base->plan, base->tier, 1, slices, base, NULL};
    base->refs++;
    return tp;
}

/* Drops one reference (under the module lock); the last one frees the plan. */
static void tier_plan_release(tier_plan *tp)
{
    if (tp && --tp->refs == 0) {
        if (tp->base)
            tier_plan_release(tp->base);
        else if (tp->owner)
            mf_offline_destroy(tp->owner);
        else
            mf_rt_plan_free(tp->plan);
        free(tp);
    }
}

static void set_tier1(mf_module *m, specialization *sp, tier1 *t)
{
    sp->nsubgraphs = t->nsubgraphs;
    sp->ncpu_ops = t->ncpu_ops;
    if (t->segs) {
        const char *dir = getenv("MLUFUSE_VERIFY_DIR");
        sp->segs = t->segs;
        sp->verifier = (mf_verifier){t->segs, m->verify_rtol, dir && *dir ? dir : "mlufuse-verify"};
    }
}

/* ---- background tier-up ------------------------------------------------------------------- */

typedef struct tier_up_job {
    mf_module *m;
    specialization *sp;
    prepared pr;      /* empty: prepared on the background thread from types */
    mf_type types[];  /* the specialization's input types */
} tier_up_job;

static void tier_up_done(mf_module *m, specialization *sp, mf_status s, const char *message)
{
    sp->pending = false;
    m->pending--;
    if (s) {
        m->failed++;
        if (!m->tier_up_status) {
            m->tier_up_status = s;
            snprintf(m->tier_up_message, sizeof m->tier_up_message, "%s", message);
        }
    }
    m->tier_up_ms = now_ms() - m->created_ms;
    pthread_cond_broadcast(&m->tiered);
}

/* On the background thread: compile, then swap the plan in (runs in flight keep theirs). */
static void tier_up_run(void *ctx, const atomic_bool *cancel)
{
    tier_up_job *j = ctx;
    mf_module *m = j->m;
    tier1 t = {0};
    mf_status s = j->pr.g ? MF_OK : prepare(m, j->types, &j->pr, cancel);
    if (!s)
        s = finish(m, j->types, &j->pr, cancel, &t);
    char message[512] = "";
    if (s)
        snprintf(message, sizeof message, "tier-up of @%s: %s", m->graph->name, mf_last_error());
    tier_plan *tp = s ? NULL : tier_plan_new(t.plan, 1);
    if (!s && !tp)
        s = MF_ERR_NOMEM, snprintf(message, sizeof message, "tier-up: out of memory");
    pthread_mutex_lock(&m->lock);
    if (tp) {
        set_tier1(m, j->sp, &t);
        tier_plan_release(j->sp->current);
        j->sp->current = tp;
    }
    tier_up_done(m, j->sp, s, message);
    pthread_mutex_unlock(&m->lock);
    if (s)
        mf_logf(MF_LOG_INFO, "module", "%s (tier 0 keeps running)", message);
    free(j);
}

static void tier_up_discard(void *ctx)
{
    tier_up_job *j = ctx;
    prepared_free(&j->pr);
    pthread_mutex_lock(&j->m->lock);
    tier_up_done(j->m, j->sp, MF_ERR_INVALID, "tier-up cancelled");
    pthread_mutex_unlock(&j->m->lock);
    free(j);
}

/* Queues sp's tier 1 on the background compiler (pr, consumed, may be empty: the
 * background thread then prepares it); sp runs its current plan meanwhile.  Under the
 * module lock. */
static mf_status queue_tier_up(mf_module *m, specialization *sp, const mf_type *types, prepared *pr)
{
    size_t ntypes = (size_t)m->graph->ninputs;
    tier_up_job *j = malloc(sizeof *j + sizeof(mf_type) * (ntypes + 1));
    mf_status s = j ? MF_OK : mf_error(MF_ERR_NOMEM, "module: out of memory");
    if (!s) {
        j->m = m;
        j->sp = sp;
        j->pr = *pr;
        memcpy(j->types, types, sizeof(mf_type) * ntypes);
        *pr = (prepared){0};
        sp->pending = true;
        m->pending++;
        if (mf_mod_tier_up_push(m->tier_up, tier_up_run, tier_up_discard, j)) {
            /* no background thread: this specialization keeps its first plan */
            mf_logf(MF_LOG_WARNING, "module", "@%s keeps its first plan: %s", m->graph->name, mf_last_error());
            *pr = j->pr;
            free(j);
            sp->pending = false;
            m->pending--;
        }
    }
    prepared_free(pr);
    return s;
}

/* Starts sp on tier 0 and, with tier_up, queues its tier 1 (pr as for queue_tier_up).  Under
 * the module lock. */
static mf_status start_on_tier0(mf_module *m, specialization *sp, const mf_type *types, bool tier_up,
                                prepared *pr)
{
    mf_plan *plan = NULL;
    mf_status s = build_tier0(m, types, &plan);
    if (!s && !(sp->current = tier_plan_new(plan, 0)))
        s = mf_error(MF_ERR_NOMEM, "module: out of memory");
    if (!s && tier_up)
        return queue_tier_up(m, sp, types, pr);
    prepared_free(pr);
    return s;
}

/* ---- a new batch size on the plan of another (docs/tiers.md) ------------------------------ */

/* k when every input of types is k >= 2 times src's in dim 0 and equal in the others;
 * else 0. */
static int batch_multiple(int n, const mf_type *types, const mf_type *src)
{
    int64_t k = 0;
    for (int i = 0; i < n; i++) {
        const mf_type *a = &types[i], *b = &src[i];
        if (a->dtype != b->dtype || a->rank != b->rank || a->rank < 1 || b->shape[0] < 1 ||
            a->shape[0] % b->shape[0] || (k && a->shape[0] / b->shape[0] != k))
            return 0;
        for (int d = 1; d < a->rank; d++)
            if (a->shape[d] != b->shape[d])
                return 0;
        k = a->shape[0] / b->shape[0];
    }
    return k >= 2 && k <= 1 << 20 ? (int)k : 0;
}

/* Whether m's graph at types is, slice after slice, the graph at src: both keep their
 * batch rows apart (two batch sizes, so a dim equal to the batch by chance cannot pass). */
static bool keeps_rows(const mf_module *m, const mf_type *types)
{
    mf_graph *g = NULL;
    bool ok = m->graph->ninputs > 0 && types[0].rank > 0 && !mf_graph_clone(m->graph, types, &g) &&
              mf_graph_batch_separable(g, types[0].shape[0]);
    mf_graph_destroy(g);
    return ok;
}

static bool slices_of(const mf_module *m, const mf_type *types, const mf_type *src)
{
    return keeps_rows(m, types) && keeps_rows(m, src);
}

/* The specialization on its own tier-1 plan that serves types in the fewest slices, and
 * how many; NULL when none does.  Under the module lock. */
static specialization *slice_source(const mf_module *m, const mf_type *types, int *slices)
{
    specialization *best = NULL;
    *slices = 0;
    for (specialization *sp = m->specs; sp; sp = sp->next) {
        int k = sp->current->tier == 1 && sp->current->slices == 1
                    ? batch_multiple(m->graph->ninputs, types, sp->input_types) : 0;
        if (k && (!best || k < *slices) && slices_of(m, types, sp->input_types)) {
            best = sp;
            *slices = k;
        }
    }
    return best;
}

/* Starts sp on src's tier-1 plan in `slices` slices and queues sp's own tier 1.  Under the
 * module lock. */
static mf_status start_sliced(mf_module *m, specialization *sp, specialization *src, int slices,
                              const mf_type *types)
{
    prepared none = {0};
    if (!(sp->current = tier_plan_sliced(src->current, slices)))
        return mf_error(MF_ERR_NOMEM, "module: out of memory");
    mf_logf(MF_LOG_INFO, "module", "@%s: a new batch size runs in %d slices of a compiled one",
            m->graph->name, slices);
    return queue_tier_up(m, sp, types, &none);
}

/* ---- a plan an earlier process saved (plan_cache.c) --------------------------------------- */

/* types with every input's dim 0 divided by k; false when one does not divide. */
static bool batch_divided(int n, const mf_type *types, int64_t k, mf_type *out)
{
    for (int i = 0; i < n; i++) {
        if (types[i].rank < 1 || types[i].shape[0] % k)
            return false;
        out[i] = types[i];
        out[i].shape[0] /= k;
    }
    return n > 0;
}

/* Guards the sums below: a key is made on the caller's thread (under the module lock) or on
 * the background compiler's (without it), a sum on the plan loader's helper thread. */
static pthread_mutex_t sum_lock = PTHREAD_MUTEX_INITIALIZER;

/* *v = f(g) the first time (*done false), under sum_lock. */
static uint64_t once(bool *done, uint64_t *v, uint64_t (*f)(const mf_graph *), const mf_graph *g)
{
    pthread_mutex_lock(&sum_lock);
    if (!*done)
        *v = f(g);
    *done = true;
    uint64_t r = *v;
    pthread_mutex_unlock(&sum_lock);
    return r;
}

/* The weights' full sum, made on first use: only a saved plan found or written needs it. */
static uint64_t weights_sum(void *ctx)
{
    mf_module *m = ctx;
    return once(&m->weights_summed, &m->weights_sum, mf_mod_plan_weights_sum, m->graph);
}

/* The key of m's plan at types (the weights' fingerprint taken on first use). */
static mf_status plan_key(const mf_module *m, const mf_type *types, char key[65])
{
    mf_module *mm = (mf_module *)m; /* the fingerprint, taken once */
    uint64_t fp = once(&mm->fingerprinted, &mm->fingerprint, mf_mod_plan_weights_fingerprint, m->graph);
    return mf_mod_plan_key(m->graph, types, fp, &m->opt, key);
}

/* The key of the plan cache's plan for types divided by k (k = 1: types themselves, of any
 * rank), when there is such a plan. */
static bool cached_part(const mf_module *m, const mf_type *types, int64_t k, mf_type *part, char key[65])
{
    int n = m->graph->ninputs;
    if (k == 1)
        memcpy(part, types, sizeof *part * (size_t)n);
    else if (!batch_divided(n, types, k, part))
        return false;
    return !plan_key(m, part, key) && mf_mod_plan_cached(key);
}

/* Saves the tier-1 plan p of types (built from pr) for later processes: one at the same input
 * types runs it at once, one at a batch size it divides runs it in slices (when the graph
 * keeps its batch rows apart). */
static void save_plan(const mf_module *m, const mf_type *types, const prepared *pr, const mf_plan *p)
{
    char key[65];
    if (!m->plan_cache || m->graph->ninputs > 256)
        return;
    for (int i = 0; i < m->graph->nnodes; i++)
        if (m->graph->nodes[i]->op == MF_OP_CUSTOM)
            return; /* an .mfo holds no custom op (docs/custom_ops.md) */
    mf_status s = plan_key(m, types, key);
    if (!s)
        s = mf_mod_plan_save(key, weights_sum((void *)m), p, pr->g, pr->segs, pr->nseg, &m->opt);
    if (s)
        mf_logf(MF_LOG_INFO, "module", "@%s: plan not saved: %s", m->graph->name, mf_last_error());
}

/* Starts sp (*found) on the saved plan of types' batch divided by k, when there is one: at
 * k = 1 its own (tier 1, nothing left to compile), else run in k slices while sp's own tier 1
 * is queued.  A damaged file was reported and removed: not found.  Under the module lock. */
static mf_status start_on_saved(mf_module *m, specialization *sp, const mf_type *types, int64_t k, bool *found)
{
    int n = m->graph->ninputs;
    mf_type part[256];
    char key[65];
    mf_offline_model *om = NULL;
    double t0 = now_ms();
    if (!cached_part(m, types, k, part, key) || (k > 1 && !keeps_rows(m, part)) ||
        mf_mod_plan_load(key, part, n, weights_sum, m, &om) || !om)
        return MF_OK;
    if (!(sp->current = malloc(sizeof *sp->current))) {
        mf_offline_destroy(om);
        return mf_error(MF_ERR_NOMEM, "module: out of memory");
    }
    *sp->current = (tier_plan){mf_rt_offline_plan(om), 1, 1, (int)k, NULL, om};
    *found = true;
    if (k == 1) {
        mf_logf(MF_LOG_INFO, "module", "@%s runs its saved plan (key and load %.1f ms)", m->graph->name,
                now_ms() - t0);
        return MF_OK;
    }
    mf_logf(MF_LOG_INFO, "module", "@%s: a new batch size runs in %d slices of a saved plan", m->graph->name,
            (int)k);
    prepared none = {0};
    return queue_tier_up(m, sp, types, &none);
}

/* Whether m looks for saved plans: not while verifying (that checks the kernels of the
 * segments it compiles). */
static bool plans_usable(const mf_module *m)
{
    return m->plan_cache && !m->verify && m->graph->ninputs <= 256;
}

/* Whether a new specialization may start on its own saved plan: not when the caller asked for
 * each kernel's compile report (on_kernel) nor while a profile is collected (a saved plan has
 * no per-kernel FLOP and byte counts): then its kernels come from the kernel cache as before. */
static bool own_plan_usable(const mf_module *m)
{
    return plans_usable(m) && !m->opt.on_kernel && !mf_rt_prof_on();
}

/* Starts sp on the saved plan of the batch size that divides types' in the fewest slices
 * (k >= 2), when the graph keeps its rows apart; nothing when no plan fits.  Under the
 * module lock. */
static mf_status start_from_plan_cache(mf_module *m, specialization *sp, const mf_type *types, bool *found)
{
    *found = false;
    if (!plans_usable(m) || !keeps_rows(m, types))
        return MF_OK;
    mf_status s = MF_OK;
    for (int64_t k = 2; !s && !*found && k <= types[0].shape[0] && k <= 1 << 20; k++)
        s = start_on_saved(m, sp, types, k, found);
    return s;
}

static mf_status specialize(mf_module *m, const mf_type *types, specialization **out)
{
    specialization *sp = calloc(1, sizeof *sp);
    mf_status s = sp ? MF_OK : mf_error(MF_ERR_NOMEM, "module: out of memory");
    if (!s && !(sp->input_types = malloc(sizeof(mf_type) * (size_t)(m->graph->ninputs + 1))))
        s = mf_error(MF_ERR_NOMEM, "module: out of memory");
    prepared pr = {0};
    specialization *src = NULL;
    int slices = 0;
    bool saved = false;
    if (!s && m->tier != MF_TIER_FAST && own_plan_usable(m)) /* its own plan: tier 1, no pass, no LLVM */
        s = start_on_saved(m, sp, types, 1, &saved);
    if (!s && !saved && m->tier == MF_TIER_AUTO)
        src = slice_source(m, types, &slices);
    if (!s && !saved && m->tier == MF_TIER_AUTO && !src)
        s = start_from_plan_cache(m, sp, types, &saved);
    if (s || saved) {
        /* failed, or started on a plan an earlier process saved */
    } else if (src) {
        s = start_sliced(m, sp, src, slices, types);
    } else if (!s && m->tier == MF_TIER_FAST) {
        s = start_on_tier0(m, sp, types, false, &pr);
    } else if (!s && m->tier == MF_TIER_AUTO && !mf_cache_may_hold_kernels()) {
        s = start_on_tier0(m, sp, types, true, &pr); /* cold: even the passes run in the background */
    } else if (!s) {
        s = prepare(m, types, &pr, NULL);
        if (!s && m->tier == MF_TIER_AUTO && !all_cached(m, &pr)) {
            s = start_on_tier0(m, sp, types, true, &pr);
        } else if (!s) {
            tier1 t;
            s = finish(m, types, &pr, NULL, &t);
            if (!s && !(sp->current = tier_plan_new(t.plan, 1)))
                s = mf_error(MF_ERR_NOMEM, "module: out of memory");
            if (!s)
                set_tier1(m, sp, &t);
            else
                free_segments(t.segs, t.nsubgraphs);
        }
    }
    if (!s) {
        memcpy(sp->input_types, types, sizeof(mf_type) * (size_t)m->graph->ninputs);
        *out = sp;
    } else if (sp) {
        tier_plan_release(sp->current);
        free(sp->input_types);
        free(sp);
    }
    return s;
}

static void warn_storm(mf_module *m)
{
    if (m->warned || m->nspecs <= m->opt.max_specializations)
        return;
    m->warned = true;
    char shapes[512] = "";
    size_t n = 0;
    for (specialization *sp = m->specs; sp && n < sizeof shapes; sp = sp->next) {
        char t[128];
        n += (size_t)snprintf(shapes + n, sizeof shapes - n, " %s",
                              mf_type_str(&sp->input_types[0], t, sizeof t));
    }
    mf_logf(MF_LOG_WARNING, "module",
           "module @%s has compiled %d input-shape specializations (budget %d); shapes seen:%s",
           m->graph->name, m->nspecs, m->opt.max_specializations, shapes);
}

static bool same_types(const specialization *sp, int n, const mf_type *types)
{
    for (int i = 0; i < n; i++)
        if (!mf_type_equal(&sp->input_types[i], &types[i]))
            return false;
    return true;
}

/* The specialization for these input types, made on first sight (under the module lock,
 * so two threads with a new shape compile it once). */
static mf_status find_or_make(mf_module *m, const mf_type *types, specialization **out)
{
    pthread_mutex_lock(&m->lock);
    specialization *sp = m->specs;
    while (sp && !same_types(sp, m->graph->ninputs, types))
        sp = sp->next;
    mf_status s = MF_OK;
    if (!sp && !(s = specialize(m, types, &sp))) {
        sp->next = m->specs;
        m->specs = sp;
        m->nspecs++;
        warn_storm(m);
    }
    pthread_mutex_unlock(&m->lock);
    *out = sp;
    return s;
}

int mf_module_fusion(const mf_module *m)
{
    return m ? m->opt.fusion != 0 : 0;
}

mf_status mf_cpu_check(const char *cpu)
{
    return mf_cache_check_cpu(cpu);
}

mf_status mf_cpu_check_runs(const char *cpu)
{
    char why[320];
    mf_status s = mf_cache_check_cpu(cpu);
    if (!s && !mf_cache_runs_here(mf_cache_default_cpu(cpu), why, sizeof why))
        s = mf_error(MF_ERR_UNSUPPORTED, "%s", why);
    return s;
}

/* MLUFUSE_VERIFY_RTOL (MLUFUSE_VERIFY's tolerance, docs/runtime.md): a finite number >= 0,
 * default 0.003 (an op's 0.3 %); "abc" was read as 0 and failed every run. */
static mf_status env_verify_rtol(double *out)
{
    const char *e = getenv("MLUFUSE_VERIFY_RTOL");
    *out = 0.003;
    if (!e || !*e)
        return MF_OK;
    char *end;
    double v = strtod(e, &end);
    if (*end || !(v >= 0 && v <= 1e6))
        return mf_error(MF_ERR_INVALID, "MLUFUSE_VERIFY_RTOL=%.100s: expected a relative tolerance from 0 to 1e6", e);
    *out = v;
    return MF_OK;
}

mf_status mf_module_create(const mf_graph *g, const mf_module_options *opt, mf_module **out)
{
    if (!g || !out)
        return mf_error(MF_ERR_INVALID, "module_create: %s is NULL", g ? "out" : "graph");
    *out = NULL;
    mf_module_options o = opt ? *opt : mf_module_default_options();
    mf_status s = mf_mod_check_options(&o, "module_create");
    if (s)
        return s;
    if (o.max_specializations <= 0)
        o.max_specializations = 16;
    if (o.fusion < 0) /* resolved once, so the module can say which mode it runs in */
        o.fusion = mf_pass_ctx_default().fuse;
    if ((s = mf_pass_winograd_level(o.winograd, "module_create", &o.winograd))) /* once too: the plan cache's key has it */
        return s;
    mf_tier_mode tier = o.tier;
    s = mf_rt_device_check(o.device);
    if (!s)
        s = mf_cpu_check(o.cpu); /* NULL: MLUFUSE_CPU if set; before any work: a misspelt CPU must not compile */
    if (!s)
        s = mf_mod_check_compile_env();
    if (!s)
        s = mf_mod_plan_cache_check_env();
    if (!s && tier == MF_TIER_ENV)
        s = mf_mod_tier_from_env(&tier);
    double grain_us = 0, verify_rtol = 0;
    if (!s)
        s = mf_mod_launch_grain_us(&grain_us);
    if (!s)
        s = env_verify_rtol(&verify_rtol);
    if (s)
        return s;
    mf_module *m = calloc(1, sizeof *m);
    if (!m)
        return mf_error(MF_ERR_NOMEM, "module_create: out of memory");
    m->opt = o;
    if (!o.cpu && mf_cache_default_cpu(NULL)) { /* MLUFUSE_CPU, kept: the environment may change */
        snprintf(m->default_cpu, sizeof m->default_cpu, "%s", mf_cache_default_cpu(NULL));
        m->opt.cpu = o.cpu = m->default_cpu;
    }
    m->created_ms = now_ms();
    m->target_lanes = mf_cache_target_lanes(o.cpu); /* once, not per specialization */
    m->launch_grain_us = grain_us;
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->tiered, NULL);
    m->last_run_tier = -1;
    const char *verify = getenv("MLUFUSE_VERIFY");
    m->verify = verify && *verify && strcmp(verify, "0");
    m->verify_rtol = verify_rtol;
    m->tier = m->verify ? MF_TIER_FULL : tier; /* verifying checks compiled kernels: tier 1 only */
    /* code for a CPU this host cannot run compiles (for the disk cache, mlufuse opt) but does
     * not run: an AVX-512 kernel on an AVX2 host died of SIGILL.  Tier fast runs the host's
     * generic kernels. */
    if (m->tier != MF_TIER_FAST)
        mf_cache_runs_here(o.cpu, m->cannot_run, sizeof m->cannot_run);
    m->plan_cache = m->tier != MF_TIER_FAST && o.device.type == MF_MLU && o.device.index == 0 &&
                    mf_mod_plan_cache_on(); /* a saved plan runs on the device offline plans do */
    if (m->tier == MF_TIER_AUTO && !(m->tier_up = mf_mod_tier_up_new())) {
        mf_module_destroy(m);
        return mf_error(MF_ERR_NOMEM, "module_create: out of memory");
    }
    s = mf_graph_verify(g);
    if (!s)
        s = mf_graph_clone(g, NULL, &m->graph);
    mf_type types[256];
    for (int i = 0; !s && i < g->ninputs && i < 256; i++)
        types[i] = g->inputs[i]->type;
    specialization *sp;
    if (!s && g->ninputs > 256)
        s = mf_error(MF_ERR_UNSUPPORTED, "module_create: more than 256 inputs");
    if (!s)
        s = find_or_make(m, types, &sp); /* compile the graph's own shapes now */
    if (s)
        mf_module_destroy(m);
    else
        *out = m;
    return s;
}

static mf_status run_counted(mf_module *m, mf_tensor *const *inputs, mf_tensor **outputs, const mf_type *types);

mf_status mf_module_run(mf_module *m, int n_in, mf_tensor *const *inputs, int n_out,
                        mf_tensor **outputs)
{
    if (!m || (n_in && !inputs) || (n_out && !outputs))
        return mf_error(MF_ERR_INVALID, "module_run: NULL argument");
    const mf_graph *g = m->graph;
    if (n_in != g->ninputs || n_out != g->noutputs)
        return mf_error(MF_ERR_INVALID, "module_run: @%s takes %d inputs and gives %d outputs, got %d and %d",
                        g->name, g->ninputs, g->noutputs, n_in, n_out);
    if (m->cannot_run[0])
        return mf_error(MF_ERR_UNSUPPORTED, "module_run: %s", m->cannot_run);
    mf_type types[256];
    for (int i = 0; i < n_in; i++) {
        if (!inputs[i])
            return mf_error(MF_ERR_INVALID, "module_run: input %d is NULL", i);
        types[i] = inputs[i]->type;
        if (types[i].dtype != g->inputs[i]->type.dtype || types[i].rank != g->inputs[i]->type.rank) {
            char a[128], b[128];
            mf_status st = types[i].dtype != g->inputs[i]->type.dtype ? MF_ERR_DTYPE : MF_ERR_SHAPE;
            return mf_error(st, "module_run: input %d is %s, the graph takes %s (dims may differ)", i,
                            mf_type_str(&types[i], a, sizeof a), mf_type_str(&g->inputs[i]->type, b, sizeof b));
        }
        if (memcmp(&inputs[i]->device, &m->opt.device, sizeof m->opt.device))
            return mf_error(MF_ERR_DEVICE, "module_run: input %d is not on the module's device", i);
    }
    atomic_fetch_add(&runs_in_flight, 1);
    mf_status s = run_counted(m, inputs, outputs, types);
    atomic_fetch_sub(&runs_in_flight, 1);
    return s;
}

/* mf_module_run once its arguments are checked (counted in runs_in_flight). */
static mf_status run_counted(mf_module *m, mf_tensor *const *inputs, mf_tensor **outputs, const mf_type *types)
{
    specialization *sp;
    mf_status s = find_or_make(m, types, &sp);
    if (s)
        return s;
    pthread_mutex_lock(&m->lock); /* the plan current now serves this whole run */
    tier_plan *tp = sp->current;
    tp->refs++;
    pthread_mutex_unlock(&m->lock);
    m->last_run_tier = tp->tier;
    m->last_run_slices = tp->slices;
    m->last_run_saved = tp->owner || (tp->base && tp->base->owner);
    if (m->verify)
        s = mf_rt_plan_run_hooked(tp->plan, inputs, outputs, mf_mod_verify_step, &sp->verifier);
    else if (tp->slices > 1)
        s = mf_rt_plan_run_slices(tp->plan, tp->slices, inputs, outputs);
    else
        s = mf_rt_plan_run(tp->plan, inputs, outputs);
    pthread_mutex_lock(&m->lock);
    tier_plan_release(tp);
    pthread_mutex_unlock(&m->lock);
    return s;
}

mf_status mf_mod_check_options(const mf_module_options *o, const char *who)
{
    if (o->core_number != 1 && o->core_number != 4 && o->core_number != 16)
        return mf_error(MF_ERR_INVALID, "%s: core_number %d (must be 1, 4 or 16)", who, o->core_number);
    if (o->opt_level < 0 || o->opt_level > 3)
        return mf_error(MF_ERR_INVALID, "%s: opt_level %d (0 to 3)", who, o->opt_level);
    if (o->passes && !ends_with_segment(o->passes))
        return mf_error(MF_ERR_INVALID, "%s: the pipeline '%.200s' must end with segment", who, o->passes);
    if (o->compile_threads < 0)
        return mf_error(MF_ERR_INVALID, "%s: compile_threads %d (0: one per core)", who, o->compile_threads);
    int level;
    mf_status s = mf_pass_winograd_level(o->winograd, who, &level);
    if (s)
        return s;
    if (o->tier < MF_TIER_ENV || o->tier > MF_TIER_AUTO)
        return mf_error(MF_ERR_INVALID, "%s: tier %d (0 env, 1 fast, 2 full, 3 auto)", who, (int)o->tier);
    return MF_OK;
}

void mf_module_get_tier_info(const mf_module *m, mf_module_tier_info *out)
{
    if (!out)
        return;
    *out = (mf_module_tier_info){.mode = MF_TIER_AUTO, .last_run_tier = -1, .last_run_slices = 0};
    if (!m)
        return;
    mf_module *mm = (mf_module *)m; /* the lock only */
    pthread_mutex_lock(&mm->lock);
    *out = (mf_module_tier_info){m->tier, m->last_run_tier, m->pending, m->failed, m->tier_up_ms,
                                 m->last_run_slices, m->last_run_saved};
    pthread_mutex_unlock(&mm->lock);
}

mf_status mf_module_wait_tier_up(mf_module *m)
{
    if (!m)
        return mf_error(MF_ERR_INVALID, "module_wait_tier_up: NULL module");
    pthread_mutex_lock(&m->lock);
    while (m->pending)
        pthread_cond_wait(&m->tiered, &m->lock);
    mf_status s = m->tier_up_status;
    char message[512];
    snprintf(message, sizeof message, "%s", m->tier_up_message);
    pthread_mutex_unlock(&m->lock);
    return s ? mf_error(s, "%s", message) : MF_OK;
}

int mf_module_num_specializations(const mf_module *m)
{
    return m ? m->nspecs : 0;
}

void mf_module_destroy(mf_module *m)
{
    if (!m)
        return;
    mf_mod_tier_up_stop(m->tier_up); /* cancels and joins: nothing publishes after this */
    for (specialization *sp = m->specs, *next; sp; sp = next) {
        next = sp->next;
        tier_plan_release(sp->current);
        free_segments(sp->segs, sp->nsubgraphs);
        free(sp->input_types);
        free(sp);
    }
    mf_graph_destroy(m->graph);
    pthread_cond_destroy(&m->tiered);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void mf_kernel_cache_get_stats(mf_kernel_cache_stats *out)
{
    if (!out)
        return;
    mf_cache_stats_internal st;
    mf_cache_stats_get(&st);
    out->hits = st.hits;
    out->misses = st.misses;
    out->loaded = st.loaded;
    out->compiled = st.misses - st.loaded;
    out->entries = st.entries;
    out->compile_ms = st.compile_ms;
    out->load_ms = st.load_ms;
}
