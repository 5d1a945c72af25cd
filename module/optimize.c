/* optimize.c — the public face of the pass manager (mlufuse_passes.h): runs a pipeline on
 * a graph with constant folding backed by the reference kernels, and keeps what
 * `mlufuse opt` reports — per-pass statistics, the fusion report, the memory plan — in a
 * result that outlives the pass context. */
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "module.h"

struct mf_opt_result {
    mf_opt_pass_stats *stats;
    int nstats;
    mf_opt_summary sum;
    mf_opt_edge *edges;
    int nedges;
    char *explain;
    char **strings; /* every string the edges point to */
    int nstrings;
};

mf_opt_options mf_opt_default_options(void)
{
    return (mf_opt_options){.fusion = -1, .winograd = -1, .qconv_winograd = -1};
}

const char *mf_opt_default_pipeline(void)
{
    return MF_DEFAULT_PIPELINE;
}

int mf_opt_num_passes(void)
{
    int n, nuser;
    mf_pass_list(&n);
    mf_user_pass_list(&nuser);
    return n + nuser;
}

/* The built-in passes, then the registered ones. */
const char *mf_opt_pass_name(int i, const char **summary)
{
    int n, nuser;
    const mf_pass_info *list = mf_pass_list(&n), *user = mf_user_pass_list(&nuser);
    const mf_pass_info *p = i < 0 ? NULL : i < n ? &list[i] : i < n + nuser ? &user[i - n] : NULL;
    if (p && summary)
        *summary = p->summary;
    return p ? p->name : NULL;
}

static char *keep(mf_opt_result *r, char *s)
{
    if (s)
        r->strings[r->nstrings++] = s;
    return s;
}

static char *value_ref(const char *name)
{
    char *s = malloc(strlen(name) + 2);
    if (s)
        s[0] = '%', strcpy(s + 1, name);
    return s;
}

/* The unfused edges with their texts, copied out of the pass context. */
static mf_status keep_edges(mf_opt_result *r, const mf_graph *g, const mf_pass_ctx *ctx)
{
    char **names;
    mf_status s = mf_graph_value_names(g, &names);
    if (s)
        return s;
    r->edges = calloc((size_t)ctx->nedges + 1, sizeof *r->edges);
    r->strings = calloc(3 * (size_t)ctx->nedges + 1, sizeof *r->strings);
    if (!r->edges || !r->strings)
        s = mf_error(MF_ERR_NOMEM, "optimize: out of memory");
    for (int i = 0; !s && i < ctx->nedges; i++) {
        const mf_fuse_edge *e = &ctx->edges[i];
        mf_opt_edge *o = &r->edges[i];
        *o = (mf_opt_edge){keep(r, value_ref(names[e->from->outputs[0]->id])),
                           keep(r, value_ref(names[e->to->outputs[0]->id])),
                           mf_op_get(e->from->op)->name, mf_op_get(e->to->op)->name,
                           e->from->subgraph, e->to->subgraph, mf_fuse_block_name(e->why),
                           keep(r, mf_fuse_edge_text(names, e))};
        if (!o->from || !o->to || !o->text)
            s = mf_error(MF_ERR_NOMEM, "optimize: out of memory");
        r->nedges = i + 1;
    }
    free(names);
    return s;
}

static mf_status make_result(const mf_graph *g, const mf_pass_ctx *ctx, mf_pass_stat *st, int nst,
                             mf_opt_result **out)
{
    mf_opt_result *r = calloc(1, sizeof *r);
    if (!r)
        return mf_error(MF_ERR_NOMEM, "optimize: out of memory");
    *out = r;
    r->stats = calloc((size_t)nst + 1, sizeof *r->stats);
    if (!r->stats)
        return mf_error(MF_ERR_NOMEM, "optimize: out of memory");
    r->sum = (mf_opt_summary){.nodes = g->nnodes};
    for (int i = 0; i < nst; i++) {
        r->stats[i] = (mf_opt_pass_stats){st[i].name, st[i].nodes_before, st[i].nodes_after, st[i].changes, st[i].ms};
        r->sum.ms += st[i].ms;
    }
    r->nstats = nst;
    if (ctx->segmented) {
        r->sum.segmented = 1;
        r->sum.subgraphs = ctx->nsubgraphs;
        r->sum.cpu_ops = ctx->cpu_ops;
        r->sum.unfused_edges = ctx->nedges;
        mf_status s = mf_pass_explain(g, ctx, &r->explain);
        if (!s)
            s = keep_edges(r, g, ctx);
        if (s)
            return s;
    }
    if (ctx->planned) {
        r->sum.planned = 1;
        r->sum.buffers = ctx->nbuffers;
        r->sum.to_host = ctx->to_host;
        r->sum.to_device = ctx->to_device;
        r->sum.peak_bytes = ctx->peak_bytes;
        r->sum.naive_bytes = ctx->naive_bytes;
    }
    return MF_OK;
}

/* The target the kernels are for (mf_opt_options.cpu), described on first use, for the
 * passes that ask it: pack-weights and qconv-winograd. */
typedef struct described_target {
    const char *cpu;
    int state; /* 0: not yet described, 1: t holds it, -1: none (the passes do nothing) */
    mf_cg_target t;
} described_target;

static const mf_cg_target_shape *shape_of(described_target *d)
{
    if (d->state == 0)
        d->state = mf_cg_target_init(d->cpu, &d->t) == MF_OK ? 1 : -1;
    return d->state > 0 ? &d->t.shape : NULL;
}

static int64_t conv_weight_block(const mf_node *n, void *ctx)
{
    const mf_cg_target_shape *shape = shape_of(ctx);
    return shape ? mf_cg_conv_weight_block(shape, n) : 0;
}

static bool qconv_taps_first(const mf_node *n, void *ctx)
{
    const mf_cg_target_shape *shape = shape_of(ctx);
    return shape && mf_cg_qconv_taps_first(shape, n);
}

static bool qconv_prefers_winograd(void *ctx)
{
    const mf_cg_target_shape *shape = shape_of(ctx);
    return shape && mf_cg_qconv_prefers_winograd(shape);
}

mf_status mf_graph_optimize(mf_graph *g, const mf_opt_options *opt, mf_opt_result **result)
{
    if (result)
        *result = NULL;
    if (!g)
        return mf_error(MF_ERR_INVALID, "mf_graph_optimize: graph is NULL");
    mf_opt_options o = opt ? *opt : mf_opt_default_options();
    mf_pass_ctx ctx = mf_pass_ctx_default();
    if (o.fusion >= 0)
        ctx.fuse = o.fusion != 0;
    if (o.fold_limit)
        ctx.fold_limit = o.fold_limit;
    mf_status es = mf_pass_winograd_level(o.winograd, "mf_graph_optimize", &ctx.winograd);
    if (es)
        return es;
    o.cpu = mf_cache_default_cpu(o.cpu);
    ctx.lanes = o.lanes > 0 ? o.lanes : mf_cache_target_lanes(mf_cache_default_cpu(NULL));
    ctx.eval = mf_mod_ref_eval;
    described_target target = {.cpu = o.cpu};
    ctx.conv_weight_block = conv_weight_block;
    ctx.qconv_taps_first = qconv_taps_first;
    if (o.qconv_winograd >= 0)
        ctx.qconv_winograd = o.qconv_winograd != 0;
    ctx.qconv_prefers_winograd = qconv_prefers_winograd;
    ctx.target_ctx = &target;
    mf_pass_stat *st = NULL;
    int nst = 0;
    mf_status s = mf_pipeline_run(g, o.passes, &ctx, o.verify != 0, o.after_pass, o.ctx, &st, &nst);
    if (result && (nst > 0 || !s)) {
        mf_status rs = make_result(g, &ctx, st, nst, result);
        if (rs && !s) {
            mf_opt_result_free(*result);
            *result = NULL;
            s = rs;
        }
    }
    free(st);
    mf_pass_ctx_release(&ctx);
    return s;
}

int mf_opt_result_num_passes(const mf_opt_result *r)
{
    return r ? r->nstats : 0;
}

const mf_opt_pass_stats *mf_opt_result_pass(const mf_opt_result *r, int i)
{
    return r && i >= 0 && i < r->nstats ? &r->stats[i] : NULL;
}

mf_opt_summary mf_opt_result_summary(const mf_opt_result *r)
{
    return r ? r->sum : (mf_opt_summary){0};
}

int mf_opt_result_num_edges(const mf_opt_result *r)
{
    return r ? r->nedges : 0;
}

const mf_opt_edge *mf_opt_result_edge(const mf_opt_result *r, int i)
{
    return r && i >= 0 && i < r->nedges ? &r->edges[i] : NULL;
}

const char *mf_opt_result_explain(const mf_opt_result *r)
{
    return r && r->explain ? r->explain : "";
}

void mf_opt_result_free(mf_opt_result *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->nstrings; i++)
        free(r->strings[i]);
    free(r->strings);
    free(r->edges);
    free(r->explain);
    free(r->stats);
    free(r);
}
