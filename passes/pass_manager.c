/* pass_manager.c — named passes in an ordered pipeline: each run is timed and its node
 * counts kept; with DEBUG=1 the verifier runs after every pass, so a broken graph is
 * blamed on the pass that broke it rather than found later by codegen. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "passes.h"

static const mf_pass_info passes[] = {
    {"dce", "dead-op elimination: unused nodes, dropout, reshapes to the same shape", mf_pass_dce},
    {"simplify", "algebraic simplification: x*1, x+0, permute of permute, reshape chains", mf_pass_simplify},
    {"cse", "redundant-op elimination: equal nodes and equal constants merged", mf_pass_cse},
    {"fold", "constant folding: nodes of constants computed at compile time", mf_pass_fold},
    {"conv-bn", "batch norm folded into the weights of the conv2d or linear before it", mf_pass_conv_bn},
    {"qconv-winograd", "int8 3x3 conv2d as dequantize, f32 conv2d, quantize where the target's int8 products are slower than f32 Winograd", mf_pass_qconv_winograd},
    {"winograd", "3x3 stride-1 conv2d as Winograd F(4,3): transforms around a batched matmul", mf_pass_winograd},
    {"blocked-layout", "regions of small-plane 1x1 and depthwise conv2d moved to the blocked channel layout of the target's lanes, so that every layer splits by rows", mf_pass_blocked_layout},
    {"pack-weights", "conv2d weights (and streamed matmul left operands) prepacked once into the layout the target's kernel reads", mf_pass_pack_weights},
    {"segment", "fusion into MLU subgraphs and segmentation (CPU ops, boundaries)", mf_pass_segment},
    {"plan", "memory planning: liveness-based buffer reuse, peak bytes", mf_pass_plan},
};

const mf_pass_info *mf_pass_list(int *n)
{
    *n = (int)(sizeof passes / sizeof passes[0]);
    return passes;
}

const mf_pass_info *mf_pass_find(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof passes / sizeof passes[0]; i++)
        if (strlen(passes[i].name) == len && !memcmp(passes[i].name, name, len))
            return &passes[i];
    return mf_user_pass_find(name, len);
}

mf_pass_ctx mf_pass_ctx_default(void)
{
    const char *e = getenv("DISABLE_MLU_FUSION"), *w = getenv("MLUFUSE_WINOGRAD");
    const char *q = getenv("MLUFUSE_QCONV_WINOGRAD");
    return (mf_pass_ctx){.fuse = !(e && *e && strcmp(e, "0")), .fold_limit = (size_t)1 << 20,
                         .winograd = w && !strcmp(w, "0") ? 0 : w && !strcmp(w, "2") ? 2 : 1,
                         .qconv_winograd = q && !strcmp(q, "0") ? 0 : q && !strcmp(q, "1") ? 1 : -1};
}

void mf_pass_ctx_release(mf_pass_ctx *ctx)
{
    free(ctx->edges);
    ctx->edges = NULL;
    ctx->nedges = ctx->edges_cap = 0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static bool debug_env(void)
{
    const char *d = getenv("DEBUG");
    return d && *d && strcmp(d, "0");
}

/* Splits "a,b,c" into pass pointers; fails on an empty or unknown name. */
static mf_status parse_pipeline(const char *text, const mf_pass_info ***out, int *n)
{
    int cap = 1;
    for (const char *p = text; *p; p++)
        cap += *p == ',';
    const mf_pass_info **list = malloc(sizeof *list * (size_t)cap);
    if (!list)
        return mf_error(MF_ERR_NOMEM, "passes: out of memory");
    *n = 0;
    for (const char *p = text;;) {
        size_t len = strcspn(p, ",");
        while (len && (*p == ' ')) /* "a, b" reads as "a,b" */
            p++, len--;
        while (len && p[len - 1] == ' ')
            len--;
        const mf_pass_info *info = mf_pass_find(p, len);
        if (!info) {
            char known[1024] = "";
            int nuser;
            const mf_pass_info *user = mf_user_pass_list(&nuser);
            for (size_t i = 0; i < sizeof passes / sizeof passes[0] + (size_t)nuser; i++) {
                const mf_pass_info *k = i < sizeof passes / sizeof passes[0] ? &passes[i] : &user[i - sizeof passes / sizeof passes[0]];
                strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
                strncat(known, k->name, sizeof known - strlen(known) - 1);
            }
            free(list);
            return mf_error(MF_ERR_INVALID, "passes: unknown pass '%.*s' in '%s' (known: %s)",
                            (int)len, p, text, known);
        }
        list[(*n)++] = info;
        p += strcspn(p, ",");
        if (!*p)
            break;
        p++;
    }
    *out = list;
    return MF_OK;
}

mf_status mf_pipeline_run_list(mf_graph *g, const mf_pass_info *const *list, int n, mf_pass_ctx *ctx,
                               bool verify, mf_pass_hook after, void *hook_ctx, mf_pass_stat **stats,
                               int *nstats)
{
    if (stats)
        *stats = NULL;
    if (nstats)
        *nstats = 0;
    mf_pass_stat *st = calloc((size_t)n + 1, sizeof *st);
    if (!st)
        return mf_error(MF_ERR_NOMEM, "passes: out of memory");
    verify = verify || debug_env();
    mf_status s = MF_OK;
    int done = 0;
    for (; done < n && !s; done++) {
        st[done] = (mf_pass_stat){.name = list[done]->name, .nodes_before = g->nnodes};
        double t0 = now_ms();
        const mf_pass_info *p = list[done];
        s = p->run ? p->run(g, ctx, &st[done].changes) : mf_user_pass_run(p, g, &st[done].changes);
        st[done].ms = now_ms() - t0;
        st[done].nodes_after = g->nnodes;
        if (p->run == mf_pass_segment) {
            ctx->segmented = true;
        } else if (p->run == mf_pass_plan) {
            ctx->planned = true;
        } else if (st[done].changes || st[done].nodes_before != g->nnodes) {
            ctx->segmented = ctx->planned = false; /* the edges may name removed nodes */
            ctx->nedges = 0;
        }
        if (s) {
            mf_error_context(s, "pass %s", list[done]->name);
        } else if ((verify || !p->run) && (s = mf_graph_verify(g))) { /* a user's pass: always */
            s = !p->run ? mf_error_context(MF_ERR_INVALID, "the graph is invalid after pass %s (a registered pass)", p->name)
                        : mf_error_context(MF_ERR_INTERNAL, "DEBUG: the graph is invalid after pass %s", p->name);
        } else if (after) {
            after(list[done]->name, g, hook_ctx);
        }
    }
    if (stats)
        *stats = st;
    else
        free(st);
    if (nstats)
        *nstats = done;
    return s;
}

mf_status mf_pipeline_run(mf_graph *g, const char *text, mf_pass_ctx *ctx, bool verify,
                          mf_pass_hook after, void *hook_ctx, mf_pass_stat **stats, int *nstats)
{
    const mf_pass_info **list = NULL;
    int n = 0;
    if (stats)
        *stats = NULL;
    if (nstats)
        *nstats = 0;
    if (!g || !ctx)
        return mf_error(MF_ERR_INVALID, "passes: graph or context is NULL");
    mf_status s = parse_pipeline(text ? text : MF_DEFAULT_PIPELINE, &list, &n);
    if (!s)
        s = mf_pipeline_run_list(g, list, n, ctx, verify, after, hook_ctx, stats, nstats);
    free(list);
    return s;
}
