/* hash.c — a structural hash of a graph (64 bits) over input types, constants (type and
 * bytes), nodes (op, attributes, inputs by position, output types) and outputs.  Values
 * are referred to by their position in a walk, never by name, so renaming values keeps
 * the hash while any change of structure, shape, attribute or weight changes it.  The
 * graph's name and the nodes' subgraph annotations are not part of it. */
#include <stdlib.h>
#include <string.h>

#include "ir.h"

#define PRIME 0x100000001b3ull

/* FNV-1a over 64-bit words (bytes for a tail), with a final avalanche. */
static void mix_u64(uint64_t *h, uint64_t w)
{
    *h = (*h ^ w) * PRIME;
    *h ^= *h >> 32;
}

static void mix_bytes(uint64_t *h, const void *data, size_t n)
{
    const unsigned char *p = data;
    mix_u64(h, n);
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        mix_u64(h, w);
    }
    for (; n; n--, p++)
        *h = (*h ^ *p) * PRIME;
}

static void mix_type(uint64_t *h, const mf_type *t)
{
    int rank = t->rank < 0 || t->rank > MF_MAX_RANK ? 0 : t->rank;
    mix_u64(h, (uint64_t)t->dtype);
    mix_u64(h, (uint64_t)t->rank);
    mix_bytes(h, t->shape, sizeof(int64_t) * (size_t)rank);
}

static void mix_attr(uint64_t *h, const mf_attr *a)
{
    mix_u64(h, (uint64_t)a->type);
    if (a->type == MF_ATTR_INT) {
        mix_u64(h, (uint64_t)a->i);
    } else if (a->type == MF_ATTR_FLOAT) {
        uint64_t bits;
        memcpy(&bits, &a->f, sizeof bits);
        mix_u64(h, bits);
    } else {
        int n = a->n < 0 || a->n > MF_MAX_RANK ? 0 : a->n;
        mix_bytes(h, a->ints, sizeof(int64_t) * (size_t)n);
    }
}

static bool in_graph(const mf_graph *g, const mf_value *v)
{
    return v && v->id >= 0 && v->id < g->nvalues && g->values[v->id] == v;
}

/* The walk position of v (inputs, constants, node outputs), or -1 for a value not
 * defined yet or not the graph's. */
static int64_t position(const mf_graph *g, const int *pos, const mf_value *v)
{
    return in_graph(g, v) ? pos[v->id] : -1;
}

static void mix_node(uint64_t *h, const mf_graph *g, int *pos, int *next, const mf_node *n)
{
    const mf_op_info *info = mf_op_get(n->op);
    mix_u64(h, (uint64_t)n->op);
    for (int k = 0; info && k < info->nattrs; k++)
        mix_attr(h, &n->attrs[k]);
    mix_u64(h, (uint64_t)n->ninputs);
    for (int k = 0; k < n->ninputs; k++)
        mix_u64(h, (uint64_t)position(g, pos, n->inputs[k]));
    mix_u64(h, (uint64_t)n->noutputs);
    for (int k = 0; k < n->noutputs; k++) {
        const mf_value *o = n->outputs[k];
        if (!in_graph(g, o))
            continue; /* verify reports it */
        if (pos[o->id] == -1)
            pos[o->id] = (*next)++;
        mix_type(h, &o->type);
    }
}

uint64_t mf_graph_hash(const mf_graph *g)
{
    uint64_t h = 0xcbf29ce484222325ull;
    if (!g)
        return h;
    int *pos = malloc(sizeof(int) * ((size_t)g->nvalues + 1)); /* walk position by value id */
    if (!pos)
        return 0;
    for (int i = 0; i < g->nvalues; i++)
        pos[i] = -1;
    int next = 0;
    mix_u64(&h, (uint64_t)g->ninputs);
    for (int i = 0; i < g->ninputs; i++) {
        const mf_value *v = g->inputs[i];
        if (!in_graph(g, v))
            continue;
        if (pos[v->id] == -1)
            pos[v->id] = next++;
        mix_type(&h, &v->type);
    }
    for (int i = 0; i < g->nvalues; i++) {
        const mf_value *v = g->values[i];
        if (!v->is_const)
            continue;
        pos[i] = next++;
        mix_type(&h, &v->type);
        mix_u64(&h, v->data != NULL); /* opaque: no bytes */
        if (v->data)
            mix_bytes(&h, v->data->data, v->data->nbytes);
    }
    mix_u64(&h, (uint64_t)g->nnodes);
    for (int i = 0; i < g->nnodes; i++)
        mix_node(&h, g, pos, &next, g->nodes[i]);
    mix_u64(&h, (uint64_t)g->noutputs);
    for (int i = 0; i < g->noutputs; i++)
        mix_u64(&h, (uint64_t)position(g, pos, g->outputs[i]));
    free(pos);
    return h;
}
