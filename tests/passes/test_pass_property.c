/* test_pass_property.c — the property test of the pass pipeline: 1000 seeded random DAGs
 * of mixed ops and shapes (tests/support/random_graph.h, the pass distribution) run
 * through the interpreter before and after the full default pipeline, with fusion on and
 * off, and must give the same outputs within float tolerance.  After segmentation and
 * planning, an independent checker (none of the segmenter's or planner's code) holds the
 * structural invariants: MLU subgraphs are convex and do not wait for each other in a
 * cycle, have at most one anchor, hold only ops with device code on f32 values, are
 * single nodes without fusion; every edge between units is recorded as unfused; the
 * memory plan counts the values that leave their unit, its peak is at most the naive
 * total and covers what must be live at once; the pipeline never adds nodes, gives the
 * same graph with fusion on and off (before segmentation), and leaves the original graph
 * (which shares constant buffers with its clones) intact.  Every rewriting pass must
 * fire on some of the graphs, so the generator is known to exercise them.  A failure
 * prints the seed and the graph before and after, in .mfir; MF_PROPERTY_SEED=S reruns
 * one seed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "module/module.h"
#include "passes/passes.h"
#include "tests/support/compare.h"
#include "tests/support/random_graph.h"

#define GRAPHS 1000
#define RTOL 1e-4 /* conv-bn folding changes rounding */
#define MAX_IO 8

/* ---- the case under test, for failure messages ---------------------------------------- */

static struct {
    uint64_t seed;
    bool fuse;
    const mf_graph *before, *after;
} cur;

static void print_graph(const char *what, const mf_graph *g)
{
    char *text = NULL;
    if (g && mf_graph_print(g, 0, &text) == MF_OK)
        fprintf(stderr, "---- %s ----\n%s", what, text);
    free(text);
}

/* Prints the seed and the graph before and after the pipeline, then fails. */
static void fail_case(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail_case(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "seed %llu, fusion %s: %s\n", (unsigned long long)cur.seed, cur.fuse ? "on" : "off", msg);
    print_graph("before the pipeline", cur.before);
    print_graph("after the pipeline", cur.after);
    fail_msg("seed %llu, fusion %s: %s (graphs above)", (unsigned long long)cur.seed,
             cur.fuse ? "on" : "off", msg);
}

/* ---- the independent checker ---------------------------------------------------------- */

typedef struct topo {
    const mf_graph *g;
    int *index; /* by node id: position in g->nodes */
    int nids;
} topo;

static topo topo_new(const mf_graph *g)
{
    topo t = {g, NULL, 0};
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i]->id + 1 > t.nids)
            t.nids = g->nodes[i]->id + 1;
    t.index = calloc((size_t)t.nids + 1, sizeof(int));
    assert_non_null(t.index);
    for (int i = 0; i < g->nnodes; i++)
        t.index[g->nodes[i]->id] = i;
    return t;
}

/* Position of node n in g (for messages). */
static int t_index(const mf_graph *g, const mf_node *n)
{
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i] == n)
            return i;
    return -1;
}

/* Position of the node that makes input k of node n, or -1 (an input or a constant). */
static int producer_at(const topo *t, const mf_node *n, int k)
{
    const mf_node *p = n->inputs[k]->producer;
    return p ? t->index[p->id] : -1;
}

/* f32 everywhere; f16 also in casts between f16 and f32 and in views (half storage). */
static bool device_dtype(const mf_node *n, mf_dtype t)
{
    bool half_ok = n->op == MF_OP_CAST || mf_op_get(n->op)->kind == MF_KIND_VIEW;
    return t == MF_F32 || (t == MF_F16 && half_ok);
}

static bool device_dtypes(const mf_node *n)
{
    if (!device_dtype(n, n->outputs[0]->type.dtype))
        return false;
    for (int k = 0; k < n->ninputs; k++)
        if (!device_dtype(n, n->inputs[k]->type.dtype))
            return false;
    return true;
}

/* Subgraph ids, which nodes may be in one, anchors, single nodes without fusion. */
static void check_placement(const mf_graph *g, const mf_pass_ctx *ctx, bool fuse)
{
    int nsub = ctx->nsubgraphs, cpu = 0;
    int *members = calloc((size_t)nsub + 1, sizeof(int)), *anchors = calloc((size_t)nsub + 1, sizeof(int));
    assert_non_null(members);
    assert_non_null(anchors);
    for (int i = 0; i < g->nnodes; i++) {
        const mf_node *n = g->nodes[i];
        const mf_op_info *info = mf_op_get(n->op);
        const char *limit = mf_node_mlu_limit(n); /* shapes codegen does not build */
        bool device = info->has_mlu && device_dtypes(n) && !limit;
        if (n->subgraph < -1 || n->subgraph >= nsub)
            fail_case("node %d (%s) is in subgraph %d of %d", i, info->name, n->subgraph, nsub);
        if (!device && n->subgraph != -1)
            fail_case("node %d (%s, %s) has no device code but is in subgraph %d", i, info->name,
                      !info->has_mlu ? "a CPU op" : limit ? limit : "a non-f32 value", n->subgraph);
        if (device && n->subgraph < 0)
            fail_case("node %d (%s) has device code but runs on the CPU", i, info->name);
        if (n->subgraph < 0) {
            cpu++;
            continue;
        }
        members[n->subgraph]++;
        anchors[n->subgraph] += info->kind == MF_KIND_ANCHOR;
    }
    if (cpu != ctx->cpu_ops)
        fail_case("ctx->cpu_ops is %d, %d nodes have subgraph -1", ctx->cpu_ops, cpu);
    for (int s = 0; s < nsub; s++) {
        if (members[s] == 0)
            fail_case("subgraph %d of %d has no node", s, nsub);
        if (anchors[s] > 1)
            fail_case("subgraph %d has %d anchors", s, anchors[s]);
        if (!fuse && members[s] != 1)
            fail_case("without fusion, subgraph %d has %d nodes", s, members[s]);
    }
    free(members);
    free(anchors);
}

/* No path from a member of a subgraph through a non-member back to a member: per
 * subgraph, one walk in topological order marks the non-members reachable from it. */
static void check_convex(const mf_graph *g, const mf_pass_ctx *ctx)
{
    topo t = topo_new(g);
    bool *tainted = calloc((size_t)g->nnodes + 1, 1);
    assert_non_null(tainted);
    for (int s = 0; s < ctx->nsubgraphs; s++) {
        for (int i = 0; i < g->nnodes; i++) {
            const mf_node *n = g->nodes[i];
            tainted[i] = false;
            for (int k = 0; k < n->ninputs; k++) {
                int p = producer_at(&t, n, k);
                if (p < 0)
                    continue;
                if (p >= i)
                    fail_case("node %d reads node %d: not in topological order", i, p);
                bool from_s = g->nodes[p]->subgraph == s, via_outside = !from_s && tainted[p];
                if (n->subgraph == s && via_outside)
                    fail_case("subgraph %d is not convex: node %d (%s) is reached from it through "
                              "node %d (%s, subgraph %d)",
                              s, i, mf_op_get(n->op)->name, p, mf_op_get(g->nodes[p]->op)->name,
                              g->nodes[p]->subgraph);
                if (n->subgraph != s && (from_s || via_outside))
                    tainted[i] = true;
            }
        }
    }
    free(tainted);
    free(t.index);
}

/* The units (subgraphs, and each CPU op alone) run as wholes, so the graph of units must
 * be acyclic: convex subgraphs alone do not make it so (A reading B's result in one
 * member while B reads A's in another).  Kahn's algorithm over the units. */
static void check_acyclic(const mf_graph *g, const mf_pass_ctx *ctx)
{
    topo t = topo_new(g);
    int nsub = ctx->nsubgraphs, nunits = nsub + g->nnodes;
    int *unit = calloc((size_t)g->nnodes + 1, sizeof(int)), *indeg = calloc((size_t)nunits + 1, sizeof(int));
    bool *edge = calloc((size_t)nunits * (size_t)nunits + 1, 1), *done = calloc((size_t)nunits + 1, 1);
    assert_true(unit && indeg && edge && done);
    for (int i = 0; i < g->nnodes; i++)
        unit[i] = g->nodes[i]->subgraph >= 0 ? g->nodes[i]->subgraph : nsub + i;
    for (int i = 0; i < g->nnodes; i++)
        for (int k = 0; k < g->nodes[i]->ninputs; k++) {
            int p = producer_at(&t, g->nodes[i], k);
            if (p >= 0 && unit[p] != unit[i] && !edge[(size_t)unit[p] * (size_t)nunits + (size_t)unit[i]]) {
                edge[(size_t)unit[p] * (size_t)nunits + (size_t)unit[i]] = true;
                indeg[unit[i]]++;
            }
        }
    for (bool progress = true; progress;) {
        progress = false;
        for (int u = 0; u < nunits; u++)
            if (!done[u] && indeg[u] == 0) {
                done[u] = progress = true;
                for (int v = 0; v < nunits; v++)
                    indeg[v] -= edge[(size_t)u * (size_t)nunits + (size_t)v];
            }
    }
    for (int u = 0; u < nsub; u++)
        if (!done[u])
            fail_case("the subgraphs form a cycle: subgraph %d (among others) waits for its own result", u);
    free(unit);
    free(indeg);
    free(edge);
    free(done);
    free(t.index);
}

/* The unfused edges segmentation records: one per distinct value a node reads across a
 * subgraph boundary (a CPU op to a CPU op is none), naming nodes of this graph. */
static void check_edges(const mf_graph *g, const mf_pass_ctx *ctx)
{
    int count = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const mf_node *n = g->nodes[i];
        for (int k = 0; k < n->ninputs; k++) {
            const mf_node *p = n->inputs[k]->producer;
            bool repeat = false;
            for (int j = 0; j < k; j++)
                repeat |= n->inputs[j] == n->inputs[k];
            if (!p || repeat || p->subgraph == n->subgraph)
                continue; /* also CPU to CPU: both -1 */
            count++;
            bool found = false;
            for (int e = 0; e < ctx->nedges && !found; e++)
                found = ctx->edges[e].from == p && ctx->edges[e].to == n &&
                        ctx->edges[e].value == n->inputs[k];
            if (!found)
                fail_case("no unfused edge recorded from node %d (%s) to node %d (%s)", t_index(g, p),
                          mf_op_get(p->op)->name, i, mf_op_get(n->op)->name);
        }
    }
    if (count != ctx->nedges)
        fail_case("segmentation recorded %d unfused edges, the checker finds %d", ctx->nedges, count);
    for (int e = 0; e < ctx->nedges; e++)
        if ((unsigned)ctx->edges[e].why >= MF_BLOCK_COUNT)
            fail_case("unfused edge %d has reason %d", e, (int)ctx->edges[e].why);
}

/* The plan: which values leave their unit (a subgraph, or one CPU op), and bounds on the
 * arena those need. */
static void check_plan(const mf_graph *g, const mf_pass_ctx *ctx)
{
    topo t = topo_new(g);
    bool *mat = calloc((size_t)g->nnodes + 1, 1); /* by node position: its result is materialized */
    assert_non_null(mat);
    for (int i = 0; i < g->nnodes; i++) {
        const mf_node *n = g->nodes[i];
        for (int k = 0; k < n->ninputs; k++) {
            int p = producer_at(&t, n, k);
            if (p >= 0 && (n->subgraph < 0 || g->nodes[p]->subgraph != n->subgraph))
                mat[p] = true; /* p != i always, so a CPU op's input leaves its unit */
        }
    }
    size_t largest = 0, outputs = 0;
    for (int k = 0; k < g->noutputs; k++) {
        const mf_value *v = g->outputs[k];
        bool repeat = false;
        for (int j = 0; j < k; j++)
            repeat |= g->outputs[j] == v;
        if (!v->producer || repeat)
            continue;
        mat[t.index[v->producer->id]] = true;
        outputs += mf_type_nbytes(&v->type); /* all live at the end */
    }
    /* when a unit runs, the materialized values it reads and writes are all live */
    size_t at_once = 0;
    int nunits = ctx->nsubgraphs + g->nnodes;
    for (int u = 0; u < nunits; u++) {
        size_t bytes = 0;
        for (int i = 0; i < g->nnodes; i++) {
            const mf_node *n = g->nodes[i];
            if (u < ctx->nsubgraphs ? n->subgraph != u : (n->subgraph >= 0 || i != u - ctx->nsubgraphs))
                continue;
            if (mat[i])
                bytes += mf_type_nbytes(&n->outputs[0]->type);
            for (int k = 0; k < n->ninputs; k++) {
                int p = producer_at(&t, n, k);
                bool counted = p < 0 || !mat[p] || (n->subgraph >= 0 && g->nodes[p]->subgraph == n->subgraph);
                for (int j = 0; j < i && !counted; j++) /* read by an earlier member too */
                    if (g->nodes[j]->subgraph == n->subgraph && n->subgraph >= 0)
                        for (int q = 0; q < g->nodes[j]->ninputs; q++)
                            counted |= g->nodes[j]->inputs[q] == n->inputs[k];
                for (int q = 0; q < k && !counted; q++)
                    counted |= n->inputs[q] == n->inputs[k];
                if (!counted)
                    bytes += mf_type_nbytes(&n->inputs[k]->type);
            }
        }
        at_once = bytes > at_once ? bytes : at_once;
    }
    int count = 0;
    for (int i = 0; i < g->nnodes; i++)
        if (mat[i]) {
            count++;
            size_t b = mf_type_nbytes(&g->nodes[i]->outputs[0]->type);
            largest = b > largest ? b : largest;
        }
    if (count != ctx->nbuffers)
        fail_case("the plan materializes %d values, the checker counts %d", ctx->nbuffers, count);
    if (ctx->peak_bytes > ctx->naive_bytes)
        fail_case("peak %zu bytes is more than the naive %zu", ctx->peak_bytes, ctx->naive_bytes);
    if (count && ctx->peak_bytes == 0)
        fail_case("%d values are materialized but the peak is 0", count);
    if (ctx->peak_bytes < largest || ctx->peak_bytes < outputs || ctx->peak_bytes < at_once)
        fail_case("peak %zu bytes is less than the largest value (%zu), the outputs together (%zu) "
                  "or what one unit reads and writes (%zu)",
                  ctx->peak_bytes, largest, outputs, at_once);
    free(mat);
    free(t.index);
}

/* ---- one graph ------------------------------------------------------------------------- */

typedef struct tally {
    const char *name;
    int graphs;  /* graphs where the pass changed something */
    long changes;
} tally;

static tally tallies[] = {
    {"dce", 0, 0}, {"simplify", 0, 0}, {"cse", 0, 0}, {"fold", 0, 0}, {"conv-bn", 0, 0},
};
#define NTALLY ((int)(sizeof tallies / sizeof tallies[0]))

static struct {
    long nodes_before, dead, nodes_after_fused, subgraphs_fused, subgraphs_unfused, cpu_ops, outputs;
    int shrunk; /* graphs the pipeline made smaller */
} totals;

static void count_passes(const mf_pass_stat *st, int n)
{
    for (int k = 0; k < NTALLY; k++) {
        int changes = 0;
        for (int i = 0; i < n; i++)
            if (!strcmp(st[i].name, tallies[k].name))
                changes += st[i].changes;
        tallies[k].graphs += changes > 0;
        tallies[k].changes += changes;
    }
}

static void interpret(const mf_graph *g, mf_tensor *const *in, mf_tensor **out)
{
    if (mf_graph_interpret(g, g->ninputs, in, g->noutputs, out))
        fail_case("interpreting: %s", mf_last_error());
}

static void compare(mf_tensor *const *got, mf_tensor *const *want, int n, double rtol)
{
    for (int k = 0; k < n; k++) {
        int rank = mf_tensor_rank(want[k]);
        if (mf_tensor_rank(got[k]) != rank || mf_tensor_dtype(got[k]) != mf_tensor_dtype(want[k]) ||
            memcmp(mf_tensor_shape(got[k]), mf_tensor_shape(want[k]), sizeof(int64_t) * (size_t)rank)) {
            char a[128], b[128];
            mf_tensor_describe(got[k], a, sizeof a);
            mf_tensor_describe(want[k], b, sizeof b);
            fail_case("output %d is %s, was %s", k, a, b);
        }
        double d = tsupport_rel_diff(got[k], want[k], 1);
        if (!(d <= rtol))
            fail_case("output %d differs by %g (relative; tolerance %g)", k, d, rtol);
    }
}

/* Right after segmentation (before planning, which needs its result sound): the
 * placement of every node, convex and acyclic subgraphs, the unfused edges. */
static void after_pass(const char *pass, const mf_graph *g, void *hook_ctx)
{
    const mf_pass_ctx *ctx = hook_ctx;
    if (strcmp(pass, "segment"))
        return;
    check_placement(g, ctx, cur.fuse);
    check_convex(g, ctx);
    check_acyclic(g, ctx);
    check_edges(g, ctx);
}

/* The default pipeline on a clone of g (fusion on or off): outputs, invariants, hash. */
static uint64_t run_pipeline(const mf_graph *g, bool fuse, mf_tensor *const *in, mf_tensor *const *want)
{
    mf_graph *g2 = NULL;
    if (mf_graph_clone(g, NULL, &g2))
        fail_case("clone: %s", mf_last_error());
    cur.fuse = fuse;
    cur.after = g2;
    mf_pass_ctx ctx = mf_pass_ctx_default();
    ctx.fuse = fuse;
    ctx.eval = mf_mod_ref_eval;
    mf_pass_stat *st = NULL;
    int nst = 0;
    if (mf_pipeline_run(g2, NULL, &ctx, true, after_pass, &ctx, &st, &nst))
        fail_case("pipeline: %s", mf_last_error());
    if (!ctx.segmented || !ctx.planned)
        fail_case("the pipeline ended with segmented %d, planned %d", ctx.segmented, ctx.planned);
    for (int i = 0; i < nst; i++)
        if (st[i].nodes_after > st[i].nodes_before)
            fail_case("pass %s (#%d) went from %d to %d nodes", st[i].name, i, st[i].nodes_before,
                      st[i].nodes_after);
    if (g2->nnodes > g->nnodes)
        fail_case("the pipeline went from %d to %d nodes", g->nnodes, g2->nnodes);
    if (g2->ninputs != g->ninputs || g2->noutputs != g->noutputs)
        fail_case("the pipeline changed the interface: %d -> %d inputs, %d -> %d outputs", g->ninputs,
                  g2->ninputs, g->noutputs, g2->noutputs);
    check_plan(g2, &ctx);

    mf_tensor *got[MAX_IO];
    interpret(g2, in, got);
    compare(got, want, g->noutputs, RTOL);
    for (int k = 0; k < g->noutputs; k++)
        mf_tensor_free(got[k]);

    if (fuse) {
        count_passes(st, nst);
        totals.dead += st[0].nodes_before - st[0].nodes_after; /* the first dce */
        totals.nodes_after_fused += g2->nnodes;
        totals.subgraphs_fused += ctx.nsubgraphs;
        totals.cpu_ops += ctx.cpu_ops;
        totals.shrunk += g2->nnodes < g->nnodes;
    } else {
        totals.subgraphs_unfused += ctx.nsubgraphs;
    }
    uint64_t h = mf_graph_hash(g2);
    free(st);
    mf_pass_ctx_release(&ctx);
    cur.after = NULL;
    mf_graph_destroy(g2);
    return h;
}

static void check_seed(uint64_t seed, bool pass_patterns)
{
    trg_options o = {.pass_patterns = pass_patterns};
    mf_graph *g = trg_random_graph(seed, &o);
    cur.seed = seed;
    cur.before = g;
    cur.after = NULL;
    assert_true(g->ninputs <= MAX_IO && g->noutputs <= MAX_IO);
    mf_tensor *in[MAX_IO], *want[MAX_IO], *again[MAX_IO];
    trg_random_inputs(g, seed, MF_DEVICE_CPU, in);
    interpret(g, in, want);
    totals.nodes_before += g->nnodes;
    totals.outputs += g->noutputs;

    uint64_t fused = run_pipeline(g, true, in, want), unfused = run_pipeline(g, false, in, want);
    /* every pass before segment ignores the fusion switch; the hash leaves out subgraphs */
    if (fused != unfused)
        fail_case("the graphs after the pipeline differ with fusion on and off");
    /* the passes rewrote clones: the original (which shares constant buffers) is intact */
    interpret(g, in, again);
    compare(again, want, g->noutputs, 0);

    for (int k = 0; k < g->noutputs; k++) {
        mf_tensor_free(want[k]);
        mf_tensor_free(again[k]);
    }
    for (int i = 0; i < g->ninputs; i++)
        mf_tensor_free(in[i]);
    cur.before = NULL;
    mf_graph_destroy(g);
}

static void test_pass_property(void **state)
{
    (void)state;
    /* MF_PROPERTY_SEED=S checks seed S alone (to reproduce a failure); MF_PROPERTY_GRAPHS=N
     * checks seeds 1..N (a longer soak); MF_PROPERTY_COMPILED=1 draws from the compiled
     * distribution (larger shapes) instead; those skip the pass-firing check */
    const char *only = getenv("MF_PROPERTY_SEED"), *count = getenv("MF_PROPERTY_GRAPHS");
    uint64_t first = only ? strtoull(only, NULL, 10) : 1;
    uint64_t last = only ? first : count ? strtoull(count, NULL, 10) : GRAPHS;
    const char *dist = getenv("MF_PROPERTY_COMPILED"); /* 1: the compiled distribution */
    for (uint64_t seed = first; seed <= last; seed++)
        check_seed(seed, !(dist && !strcmp(dist, "1")));
    printf("%llu graphs, %ld nodes before (%ld dead or identities), %ld after (%d graphs smaller), "
           "%ld outputs; %ld subgraphs fused, %ld unfused, %ld CPU ops\n",
           (unsigned long long)(last - first + 1), totals.nodes_before, totals.dead, totals.nodes_after_fused,
           totals.shrunk, totals.outputs, totals.subgraphs_fused, totals.subgraphs_unfused,
           totals.cpu_ops);
    for (int k = 0; k < NTALLY; k++)
        printf("  %-8s changed %4d graphs (%ld rewrites)\n", tallies[k].name, tallies[k].graphs,
               tallies[k].changes);
    if (only || (dist && !strcmp(dist, "1")))
        return;
    /* the generator must exercise every rewriting pass, and fusion must fuse */
    for (int k = 0; k < NTALLY; k++)
        if (tallies[k].graphs < (int)(last / 20))
            fail_msg("pass %s changed only %d of %llu graphs: the generator no longer exercises it",
                     tallies[k].name, tallies[k].graphs, (unsigned long long)last);
    assert_true(totals.subgraphs_fused < totals.subgraphs_unfused);
    assert_true(totals.cpu_ops > 0);
}

/* Found by seed 46100: sub joins the pool's subgraph (the sum's subgraph would grow
 * past its core), though the sum's subgraph already reads the pool through mul.  Both
 * subgraphs are convex, yet each waits for the other; the plan cannot order them. */
static void test_subgraphs_wait_for_each_other(void **state)
{
    (void)state;
    static const char text[] = "graph @cycle(%x: f32[1,3,3,1]) {\n"
                               "  %c = const f32[1] dense<0.5>\n"
                               "  %a = sub(%x, %c) : f32[1,3,3,1]\n"
                               "  %p = adaptive_avg_pool2d(%x) {output_size=[1,1]} : f32[1,3,1,1]\n"
                               "  %m = mul(%a, %p) : f32[1,3,3,1]\n"
                               "  %s = sum(%a) {dims=[1,0,2]} : f32[1]\n"
                               "  %o = sub(%p, %s) : f32[1,3,1,1]\n"
                               "  return %o, %m\n"
                               "}\n";
    mf_graph *g = NULL;
    if (mf_graph_parse(text, NULL, &g))
        fail_msg("%s", mf_last_error());
    mf_tensor *in[MAX_IO], *want[MAX_IO];
    trg_random_inputs(g, 46100, MF_DEVICE_CPU, in);
    cur.seed = 46100;
    cur.before = g;
    interpret(g, in, want);
    for (int fuse = 1; fuse >= 0; fuse--)
        run_pipeline(g, fuse, in, want);
    for (int k = 0; k < g->noutputs; k++)
        mf_tensor_free(want[k]);
    mf_tensor_free(in[0]);
    cur.before = NULL;
    mf_graph_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pass_property),
        cmocka_unit_test(test_subgraphs_wait_for_each_other),
    };
    return cmocka_run_group_tests_name("pass_property", tests, NULL, NULL);
}
