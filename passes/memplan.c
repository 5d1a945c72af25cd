/* memplan.c — memory planning: liveness-based buffer reuse.  After segmentation, the
 * values a graph materializes are those that leave their unit (an MLU subgraph or a CPU
 * op) or the graph; values inside a fused subgraph never reach memory.  Units run in the
 * order of unit_order.c; each materialized value lives from its producer's step to its
 * last consumer's, and first fit packs those ranges into one arena.  The same first fit
 * places the module's plan slots (module/plan_builder.c).  The units are whatever
 * node->subgraph says: without segmentation, every op is a unit of its own. */
#include <stdlib.h>
#include <string.h>

#include "passes.h"

static size_t align64(size_t n)
{
    return (n + 63) / 64 * 64;
}

size_t mf_first_fit(int n, const mf_live_range *r, size_t *offsets, int *by_offset)
{
    /* ranges in order of definition (a plan's usually are): one that ended before this one
     * began is dead for every later one too, and leaves the sweep (a chain of 32k ops swept
     * them all: 0.6 s) */
    bool by_def = true;
    for (int i = 1; i < n && by_def; i++)
        by_def = r[i].def >= r[i - 1].def;
    size_t total = 0;
    for (int i = 0, placed = 0; i < n; i++) {
        /* one sweep of the placed ranges in offset order: the lowest gap below the next live
         * one that holds this range (a rescan from 0 after every move was O(n^2) a range:
         * 16k ranges live at once took a minute) */
        size_t size = align64(r[i].size), off = 0;
        int j = 0, kept = 0;
        for (; j < placed; j++) {
            int k = by_offset[j];
            if (by_def && r[k].last < r[i].def)
                continue; /* dead for good: dropped */
            by_offset[kept++] = k;
            if (r[k].def > r[i].last || r[i].def > r[k].last)
                continue; /* not live together */
            if (offsets[k] >= off + size) {
                j++;
                break;
            }
            if (offsets[k] + align64(r[k].size) > off)
                off = offsets[k] + align64(r[k].size);
        }
        memmove(by_offset + kept, by_offset + j, sizeof *by_offset * (size_t)(placed - j));
        placed = kept + placed - j;
        offsets[i] = off;
        int at = placed++;
        for (; at > 0 && offsets[by_offset[at - 1]] > off; at--)
            by_offset[at] = by_offset[at - 1];
        by_offset[at] = i;
        if (off + size > total)
            total = off + size;
    }
    return total;
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
    size_t nv = (size_t)g->nvalues + 1;
    int *index = malloc(sizeof(int) * nv);
    mf_live_range *r = calloc(nv, sizeof *r);
    size_t *off = calloc(nv, sizeof *off);
    int *order = malloc(sizeof(int) * nv);
    mf_unit_order o;
    mf_status s = mf_unit_order_make(g, nsub, &o);
    if (!s && (!index || !r || !off || !order))
        s = mf_error(MF_ERR_NOMEM, "plan: out of memory");
    if (s)
        goto out;
    const int *unit = o.unit, *step = o.step;
    int nunits = o.nordered, n = 0;
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
    ctx->peak_bytes = mf_first_fit(n, r, off, order);
out:
    mf_unit_order_free(&o);
    free(index);
    free(r);
    free(off);
    free(order);
    return s;
}
