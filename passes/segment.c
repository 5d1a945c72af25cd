/* segment.c — MLU subgraph segmentation with fusion (DESIGN.md's rules): walking nodes in
 * topological order, an elementwise or view op joins the subgraph of one of its
 * producers (preferring one with an anchor or a reduction, whose epilogue it becomes); a
 * reduction joins a purely elementwise producer subgraph (its prologue); conv, matmul and
 * linear start a subgraph (one anchor each, no prologue).  A join that would let a path
 * leave the subgraph and come back is refused, so subgraphs stay convex.  Ops without
 * device code run on the CPU (subgraph -1).  Without fusion every MLU op is alone. */
#include <stdlib.h>
#include <string.h>

#include "passes.h"

typedef struct seg_info {
    bool has_core;     /* an anchor or a reduction */
    int64_t core_numel; /* elements of the core's output: epilogues may not be larger */
} seg_info;

typedef struct segmenter {
    mf_graph *g;
    seg_info *segs;
    int nsegs;
    int *mark; /* per node: visit stamp for reachability */
    int stamp;
    int *moved; /* scratch for merge_siblings */
} segmenter;

/* Does value v depend on subgraph s through a node outside s?  (Then joining a consumer
 * of v to s would leave s and come back.) */
static bool reaches_through_outside(segmenter *sg, const mf_value *v, int s, bool outside)
{
    const mf_node *n = v->producer;
    if (!n)
        return false;
    if (n->subgraph == s)
        return outside;
    if (sg->mark[n->id] == sg->stamp)
        return false;
    sg->mark[n->id] = sg->stamp;
    for (int i = 0; i < n->ninputs; i++)
        if (reaches_through_outside(sg, n->inputs[i], s, true))
            return true;
    return false;
}

static bool convex_join(segmenter *sg, const mf_node *n, int s)
{
    sg->stamp++;
    for (int i = 0; i < n->ninputs; i++) {
        const mf_value *v = n->inputs[i];
        if (v->producer && v->producer->subgraph != s && reaches_through_outside(sg, v, s, true))
            return false;
    }
    return true;
}

static bool can_join(segmenter *sg, const mf_node *n, int s)
{
    const seg_info *si = &sg->segs[s];
    mf_op_kind kind = mf_op_get(n->op)->kind;
    if (kind == MF_KIND_ANCHOR || kind == MF_KIND_LAYOUT)
        return false;
    if ((kind == MF_KIND_REDUCTION || kind == MF_KIND_VIEW) && si->has_core)
        return false; /* one core per subgraph; a view would re-index the core's result */
    if (si->has_core && mf_type_numel(&n->outputs[0]->type) > si->core_numel)
        return false;
    return convex_join(sg, n, s);
}

static int new_segment(segmenter *sg, const mf_node *n)
{
    mf_op_kind kind = mf_op_get(n->op)->kind;
    seg_info *si = &sg->segs[sg->nsegs];
    si->has_core = kind == MF_KIND_ANCHOR || kind == MF_KIND_REDUCTION;
    si->core_numel = mf_type_numel(&n->outputs[0]->type);
    return sg->nsegs++;
}

/* The producer subgraph n joins, or -1: one with a core first (n becomes its epilogue). */
static int pick(segmenter *sg, const mf_node *n)
{
    int best = -1;
    for (int i = 0; i < n->ninputs; i++) {
        const mf_node *p = n->inputs[i]->producer;
        if (!p || p->subgraph < 0 || !can_join(sg, n, p->subgraph))
            continue;
        if (best < 0 || (sg->segs[p->subgraph].has_core && !sg->segs[best].has_core))
            best = p->subgraph;
    }
    return best;
}

/* Is subgraph s (after relabelling) still convex: does no input of a member come from
 * outside s by a path that started in s? */
static bool convex(segmenter *sg, int s)
{
    for (int i = 0; i < sg->g->nnodes; i++) {
        const mf_node *n = sg->g->nodes[i];
        if (n->subgraph != s)
            continue;
        sg->stamp++;
        for (int k = 0; k < n->ninputs; k++) {
            const mf_value *v = n->inputs[k];
            if (v->producer && v->producer->subgraph != s && reaches_through_outside(sg, v, s, true))
                return false;
        }
    }
    return true;
}

/* Sibling fusion: once n joined s, another purely elementwise subgraph that also feeds n
 * (a branch of the same chain, e.g. tanh(x) beside sigmoid(x*a+b)) merges into s when s
 * has no core either and the union stays convex. */
static void merge_siblings(segmenter *sg, const mf_node *n, int s, int *moved)
{
    if (sg->segs[s].has_core)
        return;
    for (int i = 0; i < n->ninputs; i++) {
        const mf_node *p = n->inputs[i]->producer;
        int t = p ? p->subgraph : -1;
        if (t < 0 || t == s || sg->segs[t].has_core)
            continue;
        int count = 0;
        for (int k = 0; k < sg->g->nnodes; k++)
            if (sg->g->nodes[k]->subgraph == t) {
                sg->g->nodes[k]->subgraph = s;
                moved[count++] = k;
            }
        if (!convex(sg, s)) /* undo */
            for (int k = 0; k < count; k++)
                sg->g->nodes[moved[k]]->subgraph = t;
    }
}

/* Subgraph ids 0..n-1 in order of first node, after merges left holes. */
static int renumber(mf_graph *g, int nsegs)
{
    int *map = malloc(sizeof(int) * (size_t)(nsegs + 1)), next = 0;
    if (!map)
        return nsegs;
    for (int i = 0; i < nsegs; i++)
        map[i] = -1;
    for (int i = 0; i < g->nnodes; i++) {
        int s = g->nodes[i]->subgraph;
        if (s >= 0 && map[s] < 0)
            map[s] = next++;
        if (s >= 0)
            g->nodes[i]->subgraph = map[s];
    }
    free(map);
    return next;
}

mf_status mf_pass_segment(mf_graph *g, bool fuse, int *nsubgraphs)
{
    segmenter sg = {g, calloc((size_t)g->nnodes + 1, sizeof(seg_info)), 0,
                    calloc((size_t)g->nnodes + 1, sizeof(int)), 0,
                    calloc((size_t)g->nnodes + 1, sizeof(int))};
    if (!sg.segs || !sg.mark || !sg.moved) {
        free(sg.segs);
        free(sg.mark);
        free(sg.moved);
        return mf_error(MF_ERR_NOMEM, "segment: out of memory");
    }
    for (int i = 0; i < g->nnodes; i++)
        g->nodes[i]->subgraph = -1;
    for (int i = 0; i < g->nnodes; i++) {
        mf_node *n = g->nodes[i];
        if (!mf_op_get(n->op)->has_mlu)
            continue;
        int s = fuse ? pick(&sg, n) : -1;
        if (s < 0) {
            s = new_segment(&sg, n);
        } else if (mf_op_get(n->op)->kind == MF_KIND_REDUCTION) {
            sg.segs[s].has_core = true; /* the prologue's subgraph now ends in a reduction */
            sg.segs[s].core_numel = mf_type_numel(&n->outputs[0]->type);
        }
        n->subgraph = s;
        if (fuse && mf_op_get(n->op)->kind == MF_KIND_ELEMENTWISE)
            merge_siblings(&sg, n, s, sg.moved);
    }
    *nsubgraphs = renumber(g, sg.nsegs);
    free(sg.segs);
    free(sg.mark);
    free(sg.moved);
    return MF_OK;
}
