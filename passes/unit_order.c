/* unit_order.c — the one order in which a segmented graph's units run: the memory plan
 * pass (memplan.c) and the module's plan builder (module/plan_builder.c) both take it from
 * here.  A unit is an MLU subgraph (node->subgraph) or one CPU op; units are ordered
 * topologically (Kahn's), the ready unit with the smallest first node first, so the order
 * follows the graph's where it can.  Segments are convex, so the unit graph is acyclic. */
#include <stdlib.h>

#include "passes.h"

/* Numbers the units: subgraph ids first, then each CPU op after nsub; fills first[u]. */
static int number_units(const mf_graph *g, int nsub, mf_unit_order *o)
{
    int n = nsub;
    for (int i = 0; i < g->nnodes; i++)
        o->unit[g->nodes[i]->id] = g->nodes[i]->subgraph >= 0 ? g->nodes[i]->subgraph : n++;
    for (int u = 0; u < n; u++)
        o->first[u] = -1;
    for (int i = g->nnodes - 1; i >= 0; i--)
        o->first[o->unit[g->nodes[i]->id]] = i;
    return n;
}

/* The unit edges, gathered once (CSR by producer unit): to[start[u]..start[u+1]) are the
 * consumers of u, one entry per consuming input; indeg[u] counts u's producer inputs. */
static void gather_edges(const mf_graph *g, const int *unit, int nunits, int *start, int *to,
                         int *indeg)
{
    for (int pass = 0; pass < 2; pass++) { /* count, then fill */
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
}

/* The ready units, a binary min-heap by first node (a scan of every unit for each step was
 * quadratic: 16k CPU ops spent half a second here). */
typedef struct ready_heap {
    int *u, n;
    const int *key;
} ready_heap;

static void heap_push(ready_heap *h, int u)
{
    int i = h->n++;
    for (; i > 0 && h->key[h->u[(i - 1) / 2]] > h->key[u]; i = (i - 1) / 2)
        h->u[i] = h->u[(i - 1) / 2];
    h->u[i] = u;
}

static int heap_pop(ready_heap *h)
{
    int top = h->u[0], last = h->u[--h->n], i = 0;
    for (int c; (c = 2 * i + 1) < h->n; i = c) {
        if (c + 1 < h->n && h->key[h->u[c + 1]] < h->key[h->u[c]])
            c++;
        if (h->key[h->u[c]] >= h->key[last])
            break;
        h->u[i] = h->u[c];
    }
    h->u[i] = last;
    return top;
}

mf_status mf_unit_order_make(const mf_graph *g, int nsub, mf_unit_order *o)
{
    size_t nu = (size_t)nsub + (size_t)g->nnodes + 1, ne = 1;
    for (int i = 0; i < g->nnodes; i++)
        ne += (size_t)g->nodes[i]->ninputs;
    *o = (mf_unit_order){malloc(sizeof(int) * ((size_t)g->nvalues + (size_t)g->nnodes + 1)),
                         malloc(sizeof(int) * nu), malloc(sizeof(int) * nu), malloc(sizeof(int) * nu), 0, 0};
    int *indeg = calloc(nu, sizeof(int)), *start = calloc(nu + 1, sizeof(int)), *to = malloc(sizeof(int) * ne);
    ready_heap ready = {malloc(sizeof(int) * nu), 0, o->first};
    mf_status s = MF_OK;
    if (!o->unit || !o->first || !o->order || !o->step || !indeg || !start || !to || !ready.u) {
        s = mf_error(MF_ERR_NOMEM, "unit order: out of memory");
        goto out;
    }
    o->nunits = number_units(g, nsub, o);
    gather_edges(g, o->unit, o->nunits, start, to, indeg);
    int present = 0;
    for (int u = 0; u < o->nunits; u++) {
        o->step[u] = -1;
        present += o->first[u] >= 0; /* a dropped subgraph's id has no node */
    }
    for (int u = 0; u < o->nunits; u++)
        if (o->first[u] >= 0 && indeg[u] == 0)
            heap_push(&ready, u);
    for (int done = 0; done < present; done++) {
        if (!ready.n) {
            s = mf_error(MF_ERR_INTERNAL, "plan: the subgraphs form a cycle (segmentation is not convex)");
            goto out;
        }
        int best = heap_pop(&ready);
        o->step[best] = done;
        o->order[done] = best;
        for (int e = start[best]; e < start[best + 1]; e++)
            if (--indeg[to[e]] == 0 && o->first[to[e]] >= 0)
                heap_push(&ready, to[e]);
    }
    o->nordered = present;
out:
    free(indeg);
    free(start);
    free(to);
    free(ready.u);
    if (s)
        mf_unit_order_free(o);
    return s;
}

void mf_unit_order_free(mf_unit_order *o)
{
    free(o->unit);
    free(o->first);
    free(o->order);
    free(o->step);
    *o = (mf_unit_order){0};
}
