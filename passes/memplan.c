/* memplan.c — memory planning: liveness-based buffer reuse.  After segmentation, the
 * values a graph materializes are those that leave their unit (an MLU subgraph or a CPU
 * op) or the graph; values inside a fused subgraph never reach memory.  Units run in a
 * topological order; each materialized value lives from its producer's step to its last
 * consumer's, and first fit packs those ranges into one arena.  The same first fit
 * places the module's plan slots (module/plan_builder.c).  The units are whatever
 * node->subgraph says: without segmentation, every op is a unit of its own. */
#include <stdlib.h>

#include "passes.h"

static size_t align64(size_t n)
{
    return (n + 63) / 64 * 64;
}

size_t mf_first_fit(int n, const mf_live_range *r, size_t *offsets)
{
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        size_t size = align64(r[i].size), off = 0;
        for (bool moved = true; moved;) { /* lowest offset clear of every overlapping live range */
            moved = false;
            for (int k = 0; k < i; k++) {
                bool live_together = r[k].def <= r[i].last && r[i].def <= r[k].last;
                if (live_together && off < offsets[k] + align64(r[k].size) && offsets[k] < off + size) {
                    off = offsets[k] + align64(r[k].size);
                    moved = true;
                }
            }
        }
        offsets[i] = off;
        if (off + size > total)
            total = off + size;
    }
    return total;
}

/* Unit of each node: its subgraph, or nsub + its index among CPU ops. */
static int assign_units(const mf_graph *g, int nsub, int *unit)
{
    int n = nsub;
    for (int i = 0; i < g->nnodes; i++)
        unit[g->nodes[i]->id] = g->nodes[i]->subgraph >= 0 ? g->nodes[i]->subgraph : n++;
    return n;
}

/* step[u]: position of unit u in a topological order (Kahn's, smallest first node first,
 * as the plan builder orders them).  Segments are convex, so the unit graph is acyclic.
 * The unit edges are gathered once (CSR by producer unit), so ordering costs O(E + U^2). */
static mf_status order_units(const mf_graph *g, const int *unit, int nunits, int *step)
{
    size_t nu = (size_t)nunits + 1, ne = 1;
    for (int i = 0; i < g->nnodes; i++)
        ne += (size_t)g->nodes[i]->ninputs;
    int *indeg = calloc(nu, sizeof(int)), *first = malloc(sizeof(int) * nu);
    int *start = calloc(nu + 1, sizeof(int)), *to = malloc(sizeof(int) * ne);
    mf_status s = MF_OK;
    if (!indeg || !first || !start || !to) {
        s = mf_error(MF_ERR_NOMEM, "plan: out of memory");
        goto out;
    }
    for (int u = 0; u < nunits; u++)
        first[u] = g->nnodes, step[u] = -1;
    for (int i = g->nnodes - 1; i >= 0; i--)
        first[unit[g->nodes[i]->id]] = i;
    for (int pass = 0; pass < 2; pass++) { /* count, then fill: an edge per consumer input */
        for (int i = 0; i < g->nnodes; i++)
            for (int k = 0; k < g->nodes[i]->ninputs; k++) {
                const mf_node *p = g->nodes[i]->inputs[k]->producer;
                int pu = p ? unit[p->id] : -1, cu = unit[g->nodes[i]->id];
                if (pu < 0 || pu == cu)
                    continue;
                if (pass == 0) {
                    start[pu + 1]++;
                    indeg[cu]++;
                } else {
                    to[start[pu]++] = cu;
                }
            }
        if (pass == 0)
            for (int u = 0; u < nunits; u++)
                start[u + 1] += start[u];
    }
    for (int u = nunits; u > 0; u--) /* the fill advanced each start to the next one's */
        start[u] = start[u - 1];
    start[0] = 0;
    for (int done = 0; done < nunits; done++) {
        int best = -1;
        for (int u = 0; u < nunits; u++)
            if (step[u] < 0 && indeg[u] == 0 && (best < 0 || first[u] < first[best]))
                best = u;
        if (best < 0) {
            s = mf_error(MF_ERR_INTERNAL, "plan: the subgraphs form a cycle (segmentation is not convex)");
            goto out;
        }
        step[best] = done;
        for (int e = start[best]; e < start[best + 1]; e++)
            indeg[to[e]]--;
    }
out:
    free(indeg);
    free(first);
    free(start);
    free(to);
    return s;
}

/* The copies a run makes across the device/host boundary: a CPU op reads device values
 * (graph inputs and MLU results) on the host, and MLU subgraphs and graph outputs read
 * the results of CPU ops on the device.  Each value crosses once per direction. */
static mf_status count_copies(const mf_graph *g, mf_pass_ctx *ctx)
{
    unsigned char *read = calloc((size_t)g->nvalues + 1, 1); /* by value id: 1 host, 2 device */
    if (!read)
        return mf_error(MF_ERR_NOMEM, "plan: out of memory");
    for (int k = 0; k < g->nnodes; k++)
        for (int j = 0; j < g->nodes[k]->ninputs; j++)
            read[g->nodes[k]->inputs[j]->id] |= g->nodes[k]->subgraph < 0 ? 1 : 2;
    for (int k = 0; k < g->noutputs; k++)
        read[g->outputs[k]->id] |= 2;
    ctx->to_host = ctx->to_device = 0;
    for (int i = 0; i < g->nvalues; i++) {
        const mf_value *v = g->values[i];
        if (v->is_const)
            continue; /* uploaded once, kept on both sides */
        bool on_host = v->producer && v->producer->subgraph < 0;
        ctx->to_host += !on_host && (read[v->id] & 1);
        ctx->to_device += on_host && (read[v->id] & 2);
    }
    free(read);
    return MF_OK;
}

mf_status mf_pass_plan(mf_graph *g, mf_pass_ctx *ctx, int *changes)
{
    *changes = 0;
    int nsub = 0;
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i]->subgraph >= nsub)
            nsub = g->nodes[i]->subgraph + 1;
    size_t nn = (size_t)g->nnodes + 1, nv = (size_t)g->nvalues + 1;
    int *unit = malloc(sizeof(int) * nn), *step = malloc(sizeof(int) * nn), *index = malloc(sizeof(int) * nv);
    mf_live_range *r = calloc(nv, sizeof *r);
    size_t *off = calloc(nv, sizeof *off);
    mf_status s = MF_OK;
    if (!unit || !step || !index || !r || !off) {
        s = mf_error(MF_ERR_NOMEM, "plan: out of memory");
        goto out;
    }
    int nunits = assign_units(g, nsub, unit), n = 0;
    if ((s = order_units(g, unit, nunits, step)))
        goto out;
    for (int i = 0; i < g->nvalues; i++)
        index[i] = -1;
    for (int i = 0; i < g->nnodes; i++) { /* a range per value that leaves its unit */
        const mf_node *c = g->nodes[i];
        for (int k = 0; k < c->ninputs; k++) {
            const mf_value *v = c->inputs[k];
            if (!v->producer || unit[v->producer->id] == unit[c->id])
                continue;
            if (index[v->id] < 0) {
                index[v->id] = n;
                r[n++] = (mf_live_range){step[unit[v->producer->id]], 0, mf_type_nbytes(&v->type)};
            }
            mf_live_range *lr = &r[index[v->id]];
            if (step[unit[c->id]] > lr->last)
                lr->last = step[unit[c->id]];
        }
    }
    for (int i = 0; i < g->noutputs; i++) { /* outputs live to the end */
        const mf_value *v = g->outputs[i];
        if (!v->producer)
            continue;
        if (index[v->id] < 0) {
            index[v->id] = n;
            r[n++] = (mf_live_range){step[unit[v->producer->id]], 0, mf_type_nbytes(&v->type)};
        }
        r[index[v->id]].last = nunits;
    }
    ctx->nbuffers = n;
    s = count_copies(g, ctx);
    ctx->naive_bytes = 0;
    for (int i = 0; i < n; i++)
        ctx->naive_bytes += align64(r[i].size);
    ctx->peak_bytes = mf_first_fit(n, r, off);
out:
    free(unit);
    free(step);
    free(index);
    free(r);
    free(off);
    return s;
}
