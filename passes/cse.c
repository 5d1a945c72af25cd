/* cse.c — redundant-op elimination: constants of equal type and bytes are merged, then a
 * node with the same op, inputs (in order) and attribute bits as an earlier node is
 * replaced by it.  One walk in topological order with a hash table, so merging cascades
 * (the consumers of two merged nodes become equal in turn) in linear time.  Casts that widen
 * an f16 activation are not merged: each is its consumer's load (segment.c), and a shared
 * one would put the f32 in memory. */
#include <stdlib.h>
#include <string.h>

#include "passes.h"

static uint64_t mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0x100000001b3ull;
    return h ^ (h >> 32);
}

static uint64_t mix_bytes(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = mix(h, w);
    }
    for (; n; n--, p++)
        h = mix(h, *p);
    return h;
}

/* ---- keys: constants by type and bytes, nodes by op, inputs and attributes ------------ */

static uint64_t hash_type(uint64_t h, const mf_type *t)
{
    h = mix(mix(h, (uint64_t)t->dtype), (uint64_t)t->rank);
    return mix_bytes(h, t->shape, sizeof(int64_t) * (size_t)t->rank);
}

/* The bytes hashed of a constant: enough to tell weights apart (equal keys are compared in
 * full), few enough that a model's megabytes of weights are not read once more. */
#define CONST_HASH_BYTES 4096

static uint64_t hash_const(const mf_value *v)
{
    uint64_t h = hash_type(0xc0457, &v->type);
    size_t n = mf_type_nbytes(&v->type);
    return mix_bytes(h, v->data->data, n < CONST_HASH_BYTES ? n : CONST_HASH_BYTES);
}

static bool const_equal(const mf_value *a, const mf_value *b)
{
    return mf_type_equal(&a->type, &b->type) &&
           !memcmp(a->data->data, b->data->data, mf_type_nbytes(&a->type));
}

/* Attributes compare by bits (so 0.0 and -0.0 differ, and a NaN equals itself). */
static uint64_t hash_attr(uint64_t h, const mf_attr *a)
{
    h = mix(h, (uint64_t)a->type);
    if (a->type == MF_ATTR_INT)
        return mix(h, (uint64_t)a->i);
    if (a->type == MF_ATTR_FLOAT)
        return mix_bytes(h, &a->f, sizeof a->f);
    return mix_bytes(mix(h, (uint64_t)a->n), a->ints, sizeof(int64_t) * (size_t)a->n);
}

static bool attr_equal(const mf_attr *a, const mf_attr *b)
{
    if (a->type != b->type)
        return false;
    if (a->type == MF_ATTR_INT)
        return a->i == b->i;
    if (a->type == MF_ATTR_FLOAT)
        return !memcmp(&a->f, &b->f, sizeof a->f);
    return a->n == b->n && !memcmp(a->ints, b->ints, sizeof(int64_t) * (size_t)a->n);
}

static uint64_t hash_node(const mf_node *n)
{
    uint64_t h = mix(mix(0x40de, (uint64_t)n->op), (uint64_t)n->ninputs);
    for (int i = 0; i < n->ninputs; i++)
        h = mix(h, (uint64_t)n->inputs[i]->id);
    for (int i = 0; i < mf_op_get(n->op)->nattrs; i++)
        h = hash_attr(h, &n->attrs[i]);
    return h;
}

static bool node_equal(const mf_node *a, const mf_node *b)
{
    if (a->op != b->op || a->ninputs != b->ninputs)
        return false;
    for (int i = 0; i < a->ninputs; i++)
        if (a->inputs[i] != b->inputs[i])
            return false;
    for (int i = 0; i < mf_op_get(a->op)->nattrs; i++)
        if (!attr_equal(&a->attrs[i], &b->attrs[i]))
            return false;
    return mf_type_equal(&a->outputs[0]->type, &b->outputs[0]->type);
}

/* Constants and node results are told apart by producer, so one table holds both. */
static bool value_equal(const mf_value *a, const mf_value *b)
{
    if (a->producer && b->producer)
        return node_equal(a->producer, b->producer);
    return !a->producer && !b->producer && const_equal(a, b);
}

/* ---- an open-addressing table of values ---------------------------------------------- */

typedef struct table {
    mf_value **slot;
    uint64_t *hash;
    size_t mask;
} table;

/* The earlier value equal to v, or v itself after adding it. */
static mf_value *find_or_add(table *t, mf_value *v, uint64_t h)
{
    size_t i = (size_t)h & t->mask;
    for (; t->slot[i]; i = (i + 1) & t->mask)
        if (t->hash[i] == h && value_equal(t->slot[i], v))
            return t->slot[i];
    t->slot[i] = v;
    t->hash[i] = h;
    return v;
}

mf_status mf_pass_cse(mf_graph *g, mf_pass_ctx *ctx, int *changes)
{
    (void)ctx;
    *changes = 0;
    size_t cap = 16;
    while (cap < 2 * (size_t)g->nvalues) /* at most one entry per value: load <= 1/2 */
        cap *= 2;
    table t = {calloc(cap, sizeof *t.slot), calloc(cap, sizeof *t.hash), cap - 1};
    mf_value **repl = calloc((size_t)g->nvalues + 1, sizeof *repl); /* by value id */
    bool *dead = calloc((size_t)g->nnodes + 1, 1);
    mf_status s = MF_OK;
    if (!t.slot || !t.hash || !repl || !dead) {
        s = mf_error(MF_ERR_NOMEM, "cse: out of memory");
        goto out;
    }
    int count = 0;
    for (int i = 0; i < g->nvalues; i++) {
        mf_value *v = g->values[i];
        if (!v->is_const || !v->data) /* opaque constants: their bytes are not known yet */
            continue;
        mf_value *k = find_or_add(&t, v, hash_const(v));
        if (k != v)
            repl[v->id] = k, count++;
    }
    /* Inputs are redirected as the walk reaches each node, so a node is keyed by the
     * values that survive, and replace_uses (a scan of the graph per call) is not needed. */
    for (int i = 0; i < g->nnodes; i++) {
        mf_node *n = g->nodes[i];
        mf_pass_redirect(n, repl, g->nvalues);
        if (mf_node_widens_half(n) && !n->inputs[0]->is_const)
            continue;
        mf_value *out = n->outputs[0], *k = find_or_add(&t, out, hash_node(n));
        if (k != out)
            repl[out->id] = k, dead[n->id] = true, count++;
    }
    mf_pass_apply(g, repl, g->nvalues, dead, count);
    *changes = count;
out:
    free(t.slot);
    free(t.hash);
    free(repl);
    free(dead);
    return s;
}
