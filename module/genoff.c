/* genoff.c — the seed's genoff: compiles a graph the way a module does (the compile
 * pipeline for the level's target, its weights packed for its kernels, segmentation, one
 * kernel per MLU subgraph, a plan), once per CPU level, and writes the levels as one .mfo
 * file (docs/mfo.md, mfo_write.c) that the runtime alone can load (runtime/offline.c).  The
 * kernels come from the keyed instruction map's disk cache or are compiled now, so the host
 * level holds exactly the graph, plan and code a JIT run has. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ir/custom_ops.h"
#include "mlufuse/mlufuse_offline.h"
#include "mfo_write.h"
#include "module.h"
#include "passes/passes.h"
#include "runtime/mfo.h"

#define MAX_LEVELS MF_MFO_MAX_LEVELS

typedef struct levels {
    int n;
    char names[MAX_LEVELS][64]; /* as given; "host" for this machine */
    mf_cg_target targets[MAX_LEVELS];
    char features[MAX_LEVELS][4096]; /* the instruction sets each level's code may use */
} levels;

/* The graph compiled for one level: its graph as the passes left it, segments, an object
 * per segment, and the plan. */
typedef struct compiled {
    mf_graph *g;
    mf_segment *segs;
    int nsegs;
    mf_cg_object *objs;
    mf_plan *plan;
} compiled;

/* ---- compiling ------------------------------------------------------------------------- */

/* The instruction sets a level's code may contain, which the loader checks against the host
 * it runs on.  LLVM's C API does not say which features a CPU name implies, so the levels
 * are the host (its features, as detected) and the psABI's x86-64 levels, whose features
 * are fixed by the ABI. */
static mf_status level_features(const char *name, const mf_cg_target *host, char *out, size_t cap)
{
    static const char v1[] = "+sse,+sse2", v2[] = ",+sse3,+ssse3,+sse4.1,+sse4.2,+popcnt,+cx16,+sahf",
                      v3[] = ",+avx,+avx2,+bmi,+bmi2,+f16c,+fma,+lzcnt,+movbe",
                      v4[] = ",+avx512f,+avx512bw,+avx512cd,+avx512dq,+avx512vl";
    if (!strcmp(name, "host") || !strcmp(name, host->cpu))
        snprintf(out, cap, "%s", host->features);
    else if (!strcmp(name, "x86-64"))
        snprintf(out, cap, "%s", v1);
    else if (!strcmp(name, "x86-64-v2"))
        snprintf(out, cap, "%s%s", v1, v2);
    else if (!strcmp(name, "x86-64-v3"))
        snprintf(out, cap, "%s%s%s", v1, v2, v3);
    else if (!strcmp(name, "x86-64-v4"))
        snprintf(out, cap, "%s%s%s%s", v1, v2, v3, v4);
    else
        return mf_error(MF_ERR_UNSUPPORTED, "genoff: CPU %s: an offline level is host, %s, x86-64, x86-64-v2, "
                        "x86-64-v3 or x86-64-v4 (the instruction sets other names imply are not known here)",
                        name, host->cpu);
    return MF_OK;
}

static mf_status parse_levels(const char *list, levels *l)
{
    l->n = 0;
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0 || len >= sizeof l->names[0] || l->n == MAX_LEVELS)
            return mf_error(MF_ERR_INVALID, "genoff: bad CPU list \"%s\" (at most %d names)", list, MAX_LEVELS);
        memcpy(l->names[l->n], p, len);
        l->names[l->n][len] = 0;
        const char *cpu = strcmp(l->names[l->n], "host") ? l->names[l->n] : NULL;
        mf_cg_target host;
        mf_status s = mf_cache_check_cpu(cpu);
        if (!s)
            s = mf_cg_target_init(cpu, &l->targets[l->n]);
        if (!s)
            s = mf_cg_target_init(NULL, &host);
        if (!s)
            s = level_features(l->names[l->n], &host, l->features[l->n], sizeof l->features[0]);
        if (s == MF_ERR_UNSUPPORTED)
            return s;
        if (s)
            return mf_error_context(s, "genoff: CPU %s", l->names[l->n]);
        bool same = false; /* "host" may be one of the named CPUs */
        for (int i = 0; i < l->n; i++)
            same |= !strcmp(l->targets[i].cpu, l->targets[l->n].cpu) &&
                    !strcmp(l->targets[i].features, l->targets[l->n].features);
        l->n += !same;
        p += len + (end != NULL);
    }
    return l->n ? MF_OK : mf_error(MF_ERR_INVALID, "genoff: no CPU level");
}

/* Objects for every segment of c at level lv.  Segmentation formed only subgraphs codegen
 * can build (as in a module), so a failure is an error naming the segment and the level. */
static mf_status compile_level(compiled *c, const levels *l, int lv, int core_number)
{
    mf_cache_options co = {strcmp(l->names[lv], "host") ? l->names[lv] : NULL, 3, core_number};
    for (int k = 0; k < c->nsegs; k++) {
        mf_cg_target t;
        mf_cg_object *o = &c->objs[k];
        mf_status s = mf_cache_get_object(c->segs[k].sub, &co, &t, o);
        if (s) {
            memset(o, 0, sizeof *o);
            return mf_error_context(s, "genoff: %s for %s", c->segs[k].label, l->names[lv]);
        }
    }
    return MF_OK;
}

/* The graph compiled for level lv as a module for that target compiles it: the compile
 * pipeline with its weights packed and laid out for the level's kernels (a plain layout
 * shared by every level ran resnet18 at 19.4-20.5 ms a run against a JIT module's 13.4-14.1). */
static mf_status compile(const mf_graph *src, const levels *l, int lv, int core_number, compiled *c)
{
    mf_status s = mf_graph_clone(src, NULL, &c->g);
    if (s)
        return s;
    mf_opt_options o = mf_opt_default_options();
    o.fusion = mf_pass_ctx_default().fuse;
    o.passes = MF_COMPILE_PIPELINE;
    o.cpu = strcmp(l->names[lv], "host") ? l->names[lv] : NULL;
    o.lanes = l->targets[lv].shape.lanes;
    if ((s = mf_graph_optimize(c->g, &o, NULL)))
        return s;
    int nsub = 0;
    for (int i = 0; i < c->g->nnodes; i++)
        if (c->g->nodes[i]->subgraph >= nsub)
            nsub = c->g->nodes[i]->subgraph + 1;
    c->segs = calloc((size_t)nsub + 1, sizeof *c->segs);
    c->objs = calloc((size_t)nsub + 1, sizeof *c->objs);
    if (!c->segs || !c->objs)
        return mf_error(MF_ERR_NOMEM, "genoff: out of memory");
    for (; c->nsegs < nsub && !s; c->nsegs++)
        s = mf_mod_extract_segment(c->g, c->nsegs, &c->segs[c->nsegs]);
    if (!s)
        s = compile_level(c, l, lv, core_number);
    if (s)
        return s;
    mf_rt_kernel_fn *fns = calloc((size_t)c->nsegs + 1, sizeof *fns);
    size_t *scratch = calloc((size_t)c->nsegs + 1, sizeof *scratch);
    if (!fns || !scratch)
        s = mf_error(MF_ERR_NOMEM, "genoff: out of memory");
    for (int k = 0; k < c->nsegs && !s; k++)
        scratch[k] = c->objs[k].scratch_bytes;
    if (!s)
        s = mf_mod_build_plan(c->g, c->segs, c->nsegs, fns, scratch, MF_DEVICE_MLU(0), core_number, &c->plan);
    free(fns);
    free(scratch);
    return s;
}

static void compiled_free(compiled *c)
{
    for (int k = 0; c->segs && k < c->nsegs; k++)
        mf_mod_segment_free(&c->segs[k]);
    free(c->segs);
    for (int i = 0; c->objs && i < c->nsegs; i++)
        mf_cg_object_free(&c->objs[i]);
    free(c->objs);
    mf_rt_plan_free(c->plan);
    mf_graph_destroy(c->g);
}

/* A custom op cannot go into an .mfo: the offline runtime loads no libraries of the user's
 * code (docs/custom_ops.md).  Refused before anything compiles. */
static mf_status refuse_custom_ops(const mf_graph *g)
{
    for (int i = 0; i < g->nnodes; i++) {
        const mf_node *n = g->nodes[i];
        const mf_custom_entry *e = n->op == MF_OP_CUSTOM ? mf_custom_get(n->attrs[0].i) : NULL;
        if (e)
            return mf_error(MF_ERR_UNSUPPORTED,
                            "genoff: the model calls custom op %s (declared at %s): an .mfo file cannot hold "
                            "custom ops, as the offline runtime loads no user libraries; run the model with "
                            "mlufuse run --custom-ops instead",
                            e->decl.name, e->decl.where);
    }
    return MF_OK;
}

mf_status mf_genoff(const mf_graph *g, const mf_genoff_options *opt, const char *path)
{
    if (!g || !path)
        return mf_error(MF_ERR_INVALID, "genoff: NULL %s", g ? "path" : "graph");
    mf_genoff_options o = opt ? *opt : (mf_genoff_options){.core_number = 1};
    if (o.core_number != 1 && o.core_number != 4 && o.core_number != 16)
        return mf_error(MF_ERR_INVALID, "genoff: core_number %d (must be 1, 4 or 16)", o.core_number);
    levels l;
    compiled c[MAX_LEVELS];
    memset(c, 0, sizeof c);
    mf_status s = parse_levels(o.cpus && *o.cpus ? o.cpus : "host,x86-64-v3", &l);
    if (!s)
        s = mf_graph_verify(g);
    if (!s)
        s = refuse_custom_ops(g);
    for (int lv = 0; lv < l.n && !s; lv++) {
        s = compile(g, &l, lv, o.core_number, &c[lv]);
        if (!s && c[lv].plan->ninputs > 256)
            s = mf_error(MF_ERR_UNSUPPORTED, "genoff: more than 256 inputs");
    }
    if (!s) {
        mf_mfo_level lv[MAX_LEVELS];
        for (int i = 0; i < l.n; i++)
            lv[i] = (mf_mfo_level){.target = &l.targets[i],
                                   .features = l.features[i],
                                   .plan = c[i].plan,
                                   .g = c[i].g,
                                   .nkernels = c[i].nsegs,
                                   .objs = c[i].objs};
        s = mf_mod_mfo_write(path, lv, l.n, o.meta);
        if (s)
            s = mf_error_context(s, "genoff");
    }
    for (int lv = 0; lv < l.n; lv++)
        compiled_free(&c[lv]);
    return s;
}
