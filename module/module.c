/* module.c — the trace-and-run API: a module holds a graph and, per input shape seen, a
 * specialization (the graph re-inferred for those shapes, optimized and segmented, its
 * MLU subgraphs compiled through the keyed instruction map, and the resulting plan).
 * Running picks the specialization of the inputs' types or makes one. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "module.h"
#include "passes/passes.h"

typedef struct specialization {
    struct specialization *next;
    mf_type *input_types;
    mf_plan *plan;
    int nsubgraphs, ncpu_ops;
    mf_segment *segs; /* kept only when verifying */
    mf_verifier verifier;
} specialization;

struct mf_module {
    mf_graph *graph;
    mf_module_options opt;
    pthread_mutex_t lock; /* guards the list; plans themselves run concurrently */
    bool verify;          /* MLUFUSE_VERIFY=1 when the module was made */
    double verify_rtol;
    specialization *specs;
    int nspecs;
    bool warned;
    int target_lanes; /* f32 lanes of opt.cpu's code, for the profiler's per-target peak */
};

mf_module_options mf_module_default_options(void)
{
    return (mf_module_options){.core_number = 1, .opt_level = 3, .cpu = NULL,
                               .max_specializations = 16, .device = MF_DEVICE_MLU(0),
                               .fusion = -1, .winograd = -1};
}

size_t mf_module_options_size(void)
{
    return sizeof(mf_module_options);
}

/* The compile pipeline (the default without its plan pass: the plan builder plans slots
 * itself), without a report (no fusion text is built on the compile path); with DEBUG=1 it
 * verifies after every pass and names a pass that broke the graph.  Subgraphs are numbered
 * 0..n-1 on the nodes. */
static mf_status optimize(const mf_module *m, mf_graph *g, int *nsub)
{
    mf_opt_options o = mf_opt_default_options();
    o.passes = m->opt.passes ? m->opt.passes : MF_COMPILE_PIPELINE;
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

/* Compiles (or takes from the map) the kernel of every segment, on several threads.  A
 * segment codegen cannot lower (MF_ERR_UNSUPPORTED) falls back to the CPU: its nodes leave
 * the subgraph and the segment is dropped, so a model runs even where a kernel is missing. */
static mf_status compile_segments(const mf_module *m, mf_graph *g, mf_segment *segs, int *n,
                                  mf_rt_kernel_fn *kernels, size_t *scratch, char (*keys)[65])
{
    mf_cache_options co = {m->opt.cpu, m->opt.opt_level, m->opt.core_number};
    mf_kernel_result *res = calloc((size_t)*n + 1, sizeof *res);
    if (!res)
        return mf_error(MF_ERR_NOMEM, "module: out of memory");
    mf_mod_compile_kernels(segs, *n, &co, &m->opt, res);
    int kept = 0;
    mf_status s = MF_OK;
    for (int k = 0; k < *n && !s; k++) {
        if (res[k].status == MF_ERR_UNSUPPORTED) {
            mf_logf(MF_LOG_INFO, "module", "%s runs on the CPU: %s", segs[k].label, res[k].message);
            for (int i = 0; i < g->nnodes; i++)
                if (g->nodes[i]->subgraph == segs[k].id)
                    g->nodes[i]->subgraph = -1;
            mf_mod_segment_free(&segs[k]);
        } else if (res[k].status) {
            s = mf_error(res[k].status, "%s: %s", segs[k].label, res[k].message);
        } else {
            const mf_kernel *kern = res[k].kernel;
            mf_segment moved = segs[k];
            memset(&segs[k], 0, sizeof segs[k]); /* each segment is owned by one slot */
            segs[kept] = moved;
            memcpy(keys[kept], kern->key, sizeof keys[kept]);
            kernels[kept] = (mf_rt_kernel_fn)kern->fn;
            scratch[kept++] = kern->scratch_bytes;
        }
    }
    free(res);
    for (int k = kept; k < *n; k++) /* on failure, what was not kept (zeroed slots are no-ops) */
        mf_mod_segment_free(&segs[k]);
    *n = kept;
    return s;
}

static mf_status specialize(mf_module *m, const mf_type *types, specialization **out)
{
    mf_graph *g = NULL;
    mf_segment *segs = NULL;
    mf_rt_kernel_fn *kernels = NULL;
    size_t *scratch = NULL;
    char (*keys)[65] = NULL;
    int nsub = 0, nseg = 0;
    specialization *sp = calloc(1, sizeof *sp);
    mf_status s = sp ? mf_graph_clone(m->graph, types, &g) : mf_error(MF_ERR_NOMEM, "module: out of memory");
    if (!s)
        s = optimize(m, g, &nsub);
    if (!s) {
        segs = calloc((size_t)nsub + 1, sizeof *segs);
        kernels = calloc((size_t)nsub + 1, sizeof *kernels);
        scratch = calloc((size_t)nsub + 1, sizeof *scratch);
        keys = calloc((size_t)nsub + 1, sizeof *keys);
        sp->input_types = malloc(sizeof(mf_type) * (size_t)(g->ninputs + 1));
        if (!segs || !kernels || !scratch || !keys || !sp->input_types)
            s = mf_error(MF_ERR_NOMEM, "module: out of memory");
    }
    for (; !s && nseg < nsub; nseg++)
        s = mf_mod_extract_segment(g, nseg, &segs[nseg]);
    if (!s)
        s = compile_segments(m, g, segs, &nseg, kernels, scratch, keys);
    if (!s)
        s = mf_mod_build_plan(g, segs, nseg, kernels, scratch, m->opt.device, m->opt.core_number, &sp->plan);
    if (!s)
        s = mf_mod_describe_plan(sp->plan, g->name, segs, (const char (*)[65])keys,
                                 m->target_lanes);
    if (!s) {
        memcpy(sp->input_types, types, sizeof(mf_type) * (size_t)g->ninputs);
        sp->nsubgraphs = nseg;
        for (int i = 0; i < g->nnodes; i++)
            sp->ncpu_ops += g->nodes[i]->subgraph < 0;
        if (m->verify) { /* the verifier needs the subgraphs at every run */
            const char *dir = getenv("MLUFUSE_VERIFY_DIR");
            sp->segs = segs;
            sp->verifier = (mf_verifier){segs, m->verify_rtol, dir && *dir ? dir : "mlufuse-verify"};
            segs = NULL;
        }
        *out = sp;
    } else if (sp) {
        mf_rt_plan_free(sp->plan);
        free(sp->input_types);
        free(sp);
    }
    free_segments(segs, nseg);
    free(keys);
    free(kernels);
    free(scratch);
    mf_graph_destroy(g);
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

mf_status mf_module_create(const mf_graph *g, const mf_module_options *opt, mf_module **out)
{
    if (!g || !out)
        return mf_error(MF_ERR_INVALID, "module_create: %s is NULL", g ? "out" : "graph");
    *out = NULL;
    mf_module_options o = opt ? *opt : mf_module_default_options();
    if (o.core_number != 1 && o.core_number != 4 && o.core_number != 16)
        return mf_error(MF_ERR_INVALID, "module_create: core_number %d (must be 1, 4 or 16)", o.core_number);
    if (o.opt_level < 0 || o.opt_level > 3)
        return mf_error(MF_ERR_INVALID, "module_create: opt_level %d (0 to 3)", o.opt_level);
    if (o.max_specializations <= 0)
        o.max_specializations = 16;
    if (o.fusion < 0) /* resolved once, so the module can say which mode it runs in */
        o.fusion = mf_pass_ctx_default().fuse;
    if (o.passes && !ends_with_segment(o.passes))
        return mf_error(MF_ERR_INVALID, "module_create: the pipeline '%.200s' must end with segment", o.passes);
    if (o.compile_threads < 0)
        return mf_error(MF_ERR_INVALID, "module_create: compile_threads %d (0: one per core)",
                        o.compile_threads);
    mf_status s = mf_rt_device_check(o.device);
    if (!s)
        s = mf_cpu_check(o.cpu); /* before any work: a misspelt CPU must not compile at all */
    if (!s)
        s = mf_mod_check_compile_env();
    if (s)
        return s;
    mf_module *m = calloc(1, sizeof *m);
    if (!m)
        return mf_error(MF_ERR_NOMEM, "module_create: out of memory");
    m->opt = o;
    m->target_lanes = mf_cache_target_lanes(o.cpu); /* once, not per specialization */
    pthread_mutex_init(&m->lock, NULL);
    const char *verify = getenv("MLUFUSE_VERIFY"), *rtol = getenv("MLUFUSE_VERIFY_RTOL");
    m->verify = verify && *verify && strcmp(verify, "0");
    m->verify_rtol = rtol && *rtol ? strtod(rtol, NULL) : 0.003;
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

mf_status mf_module_run(mf_module *m, int n_in, mf_tensor *const *inputs, int n_out,
                        mf_tensor **outputs)
{
    if (!m || (n_in && !inputs) || (n_out && !outputs))
        return mf_error(MF_ERR_INVALID, "module_run: NULL argument");
    const mf_graph *g = m->graph;
    if (n_in != g->ninputs || n_out != g->noutputs)
        return mf_error(MF_ERR_INVALID, "module_run: @%s takes %d inputs and gives %d outputs, got %d and %d",
                        g->name, g->ninputs, g->noutputs, n_in, n_out);
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
    specialization *sp;
    mf_status s = find_or_make(m, types, &sp);
    if (s)
        return s;
    if (m->verify)
        return mf_rt_plan_run_hooked(sp->plan, inputs, outputs, mf_mod_verify_step, &sp->verifier);
    return mf_rt_plan_run(sp->plan, inputs, outputs);
}

int mf_module_num_specializations(const mf_module *m)
{
    return m ? m->nspecs : 0;
}

void mf_module_destroy(mf_module *m)
{
    if (!m)
        return;
    for (specialization *sp = m->specs, *next; sp; sp = next) {
        next = sp->next;
        mf_rt_plan_free(sp->plan);
        free_segments(sp->segs, sp->nsubgraphs);
        free(sp->input_types);
        free(sp);
    }
    mf_graph_destroy(m->graph);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void mf_kernel_cache_get_stats(mf_kernel_cache_stats *out)
{
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
