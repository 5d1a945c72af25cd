/* graph.c — the graph builder: an arena that owns every node, value and string of a
 * graph, and the operations passes and frontends build and rewrite graphs with.  Node
 * creation goes through mf_op_infer, so every value has a checked type. */
#include <stdlib.h>
#include <string.h>

#include "ir.h"

/* ---- arena ---------------------------------------------------------------------------- */

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} arena_block;

struct mf_arena {
    arena_block *head;
};

void *mf_arena_alloc(mf_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    arena_block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 16384 ? n : 16384;
        b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

char *mf_arena_strdup(mf_arena *a, const char *s, size_t len)
{
    char *p = mf_arena_alloc(a, len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = 0;
    }
    return p;
}

static void arena_free(mf_arena *a)
{
    for (arena_block *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(a);
}

/* ---- growable pointer arrays (heap, not arena: they are resized) ---------------------- */

static bool push(void ***arr, int *n, int *cap, void *item)
{
    if (*n == *cap) {
        int ncap = *cap ? *cap * 2 : 16;
        void **p = realloc(*arr, (size_t)ncap * sizeof *p);
        if (!p)
            return false;
        *arr = p;
        *cap = ncap;
    }
    (*arr)[(*n)++] = item;
    return true;
}

/* ---- graphs ----------------------------------------------------------------------------- */

mf_graph *mf_graph_new(const char *name)
{
    mf_graph *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->arena = calloc(1, sizeof *g->arena);
    if (!g->arena) {
        free(g);
        return NULL;
    }
    g->name = mf_arena_strdup(g->arena, name ? name : "main", strlen(name ? name : "main"));
    return g;
}

void mf_graph_destroy(mf_graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->nvalues; i++)
        mf_buffer_release(g->values[i]->data);
    free(g->nodes);
    free(g->values);
    free(g->inputs);
    free(g->outputs);
    arena_free(g->arena);
    free(g);
}

static mf_value *new_value(mf_graph *g, const char *name, const mf_type *t)
{
    mf_value *v = mf_arena_alloc(g->arena, sizeof *v);
    if (!v)
        return NULL;
    if (name && !(v->name = mf_arena_strdup(g->arena, name, strlen(name))))
        return NULL;
    v->type = *t;
    v->id = g->nvalues;
    if (!push((void ***)&g->values, &g->nvalues, &g->values_cap, v))
        return NULL;
    return v;
}

mf_value *mf_graph_add_input(mf_graph *g, const char *name, const mf_type *t)
{
    mf_value *v = new_value(g, name, t);
    if (!v || !push((void ***)&g->inputs, &g->ninputs, &g->inputs_cap, v))
        return NULL;
    return v;
}

mf_value *mf_graph_add_const(mf_graph *g, const char *name, const mf_type *t, mf_buffer *data)
{
    mf_value *v = new_value(g, name, t);
    if (!v)
        return NULL;
    v->is_const = true;
    v->data = mf_buffer_retain(data);
    return v;
}

mf_status mf_graph_add_node(mf_graph *g, mf_op op, int nin, mf_value *const *in,
                            const mf_attr *attrs, mf_node **out)
{
    if ((unsigned)op >= MF_OP_COUNT)
        return mf_error(MF_ERR_INVALID, "unknown op %d", (int)op);
    mf_type types[64];
    if (nin < 0 || nin > 64)
        return mf_error(MF_ERR_INVALID, "%s: %d inputs (at most 64)", mf_op_get(op)->name, nin);
    for (int i = 0; i < nin; i++) {
        if (!in[i])
            return mf_error(MF_ERR_INVALID, "%s: input %d is NULL", mf_op_get(op)->name, i);
        types[i] = in[i]->type;
    }
    mf_attr a[MF_MAX_ATTRS];
    if (attrs)
        memcpy(a, attrs, sizeof a);
    else
        mf_op_default_attrs(op, a);
    mf_type ot;
    mf_status s = mf_op_infer(op, a, nin, types, &ot);
    if (s)
        return s;

    mf_node *n = mf_arena_alloc(g->arena, sizeof *n);
    mf_value **ins = mf_arena_alloc(g->arena, sizeof *ins * (size_t)(nin ? nin : 1));
    mf_value **outs = mf_arena_alloc(g->arena, sizeof *outs);
    if (!n || !ins || !outs)
        return mf_error(MF_ERR_NOMEM, "%s: out of memory building the graph", mf_op_get(op)->name);
    n->op = op;
    n->ninputs = nin;
    n->inputs = ins;
    memcpy(ins, in, sizeof *ins * (size_t)nin);
    memcpy(n->attrs, a, sizeof a);
    n->subgraph = -1;
    n->noutputs = 1;
    n->outputs = outs;
    n->id = g->nnodes;
    if (!push((void ***)&g->nodes, &g->nnodes, &g->nodes_cap, n))
        return mf_error(MF_ERR_NOMEM, "out of memory building the graph");
    mf_value *v = new_value(g, NULL, &ot);
    if (!v) {
        g->nnodes--; /* no half-built node stays in the graph */
        return mf_error(MF_ERR_NOMEM, "out of memory building the graph");
    }
    v->producer = n;
    outs[0] = v;
    if (out)
        *out = n;
    return MF_OK;
}

mf_status mf_graph_set_outputs(mf_graph *g, int n, mf_value *const *outs)
{
    for (int i = 0; i < n; i++)
        if (!outs[i])
            return mf_error(MF_ERR_INVALID, "graph output %d is NULL", i);
    mf_value **p = realloc(g->outputs, sizeof *p * (size_t)(n ? n : 1));
    if (!p)
        return mf_error(MF_ERR_NOMEM, "out of memory setting graph outputs");
    for (int i = 0; i < n; i++)
        p[i] = outs[i];
    g->outputs = p;
    g->noutputs = n;
    return MF_OK;
}

void mf_graph_replace_uses(mf_graph *g, mf_value *from, mf_value *to)
{
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i]->ninputs; j++)
            if (g->nodes[i]->inputs[j] == from)
                g->nodes[i]->inputs[j] = to;
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i] == from)
            g->outputs[i] = to;
}

int mf_graph_num_uses(const mf_graph *g, const mf_value *v)
{
    int n = 0;
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i]->ninputs; j++)
            n += g->nodes[i]->inputs[j] == v;
    for (int i = 0; i < g->noutputs; i++)
        n += g->outputs[i] == v;
    return n;
}

const mf_node *mf_graph_sole_user(const mf_graph *g, const mf_value *v)
{
    const mf_node *user = NULL;
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i] == v)
            return NULL;
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i]->ninputs; j++)
            if (g->nodes[i]->inputs[j] == v) {
                if (user)
                    return NULL;
                user = g->nodes[i];
            }
    return user;
}

mf_status mf_graph_mark_dead(const mf_graph *g, bool *dead, int *count)
{
    int *uses = calloc((size_t)g->nvalues + 1, sizeof(int));
    if (!uses)
        return mf_error(MF_ERR_NOMEM, "out of memory marking dead nodes");
    for (int i = 0; i < g->nnodes; i++)
        for (int k = 0; k < g->nodes[i]->ninputs; k++)
            uses[g->nodes[i]->inputs[k]->id]++;
    for (int i = 0; i < g->noutputs; i++)
        uses[g->outputs[i]->id]++;
    *count = 0;
    for (int i = g->nnodes - 1; i >= 0; i--) { /* reverse order: a dead consumer frees its inputs */
        const mf_node *n = g->nodes[i];
        bool used = false;
        for (int k = 0; k < n->noutputs && !used; k++)
            used = uses[n->outputs[k]->id] > 0;
        if (used)
            continue;
        dead[n->id] = true;
        (*count)++;
        for (int k = 0; k < n->ninputs; k++)
            uses[n->inputs[k]->id]--;
    }
    free(uses);
    return MF_OK;
}

void mf_graph_remove_nodes(mf_graph *g, const bool *remove)
{
    int k = 0;
    for (int i = 0; i < g->nnodes; i++)
        if (!remove || !remove[g->nodes[i]->id])
            g->nodes[k++] = g->nodes[i];
    g->nnodes = k;
    for (int i = 0; i < g->nnodes; i++)
        g->nodes[i]->id = i;

    /* Keep graph inputs always; other values only while produced by a live node or, for
     * constants, still used. */
    bool *live = calloc((size_t)g->nvalues + 1, 1);
    if (!live)
        return; /* values stay; harmless, only memory */
    for (int i = 0; i < g->ninputs; i++)
        live[g->inputs[i]->id] = true;
    for (int i = 0; i < g->nnodes; i++) {
        mf_node *n = g->nodes[i];
        for (int j = 0; j < n->ninputs; j++)
            live[n->inputs[j]->id] = true;
        for (int j = 0; j < n->noutputs; j++)
            live[n->outputs[j]->id] = true;
    }
    for (int i = 0; i < g->noutputs; i++)
        live[g->outputs[i]->id] = true;
    k = 0;
    for (int i = 0; i < g->nvalues; i++) {
        mf_value *v = g->values[i];
        if (live[v->id])
            g->values[k++] = v;
        else
            mf_buffer_release(v->data), v->data = NULL;
    }
    g->nvalues = k;
    for (int i = 0; i < g->nvalues; i++)
        g->values[i]->id = i;
    free(live);
}

int mf_graph_num_nodes(const mf_graph *g)
{
    return g ? g->nnodes : 0;
}

int mf_graph_node_subgraph(const mf_graph *g, int i)
{
    return g && i >= 0 && i < g->nnodes ? g->nodes[i]->subgraph : -1;
}

int mf_graph_num_inputs(const mf_graph *g)
{
    return g ? g->ninputs : 0;
}

mf_status mf_graph_input_type(const mf_graph *g, int i, mf_dtype *dtype, int *rank, int64_t *shape)
{
    if (!g || i < 0 || i >= g->ninputs)
        return mf_error(MF_ERR_INVALID, "graph has no input %d", i);
    const mf_type *t = &g->inputs[i]->type;
    if (dtype) /* a NULL out-pointer: not wanted */
        *dtype = t->dtype;
    if (rank)
        *rank = t->rank;
    if (shape)
        memcpy(shape, t->shape, sizeof t->shape);
    return MF_OK;
}

int mf_graph_num_outputs(const mf_graph *g)
{
    return g ? g->noutputs : 0;
}

mf_status mf_graph_clone(const mf_graph *g, const mf_type *input_types, mf_graph **out)
{
    *out = NULL;
    mf_graph *c = mf_graph_new(g->name);
    mf_value **map = calloc((size_t)g->nvalues + 1, sizeof *map);
    mf_status s = MF_OK;
    if (!c || !map) {
        s = mf_error(MF_ERR_NOMEM, "clone: out of memory");
        goto out;
    }
    for (int i = 0; i < g->ninputs && !s; i++) {
        const mf_value *v = g->inputs[i];
        if (!(map[v->id] = mf_graph_add_input(c, v->name, input_types ? &input_types[i] : &v->type)))
            s = mf_error(MF_ERR_NOMEM, "clone: out of memory");
    }
    for (int i = 0; i < g->nvalues && !s; i++) {
        const mf_value *v = g->values[i];
        if (v->is_const && !(map[v->id] = mf_graph_add_const(c, v->name, &v->type, v->data)))
            s = mf_error(MF_ERR_NOMEM, "clone: out of memory");
    }
    for (int i = 0; i < g->nnodes && !s; i++) {
        const mf_node *n = g->nodes[i];
        mf_value *ins[64];
        if (n->ninputs > 64) {
            s = mf_error(MF_ERR_UNSUPPORTED, "clone: node %d has more than 64 inputs", i);
            break;
        }
        for (int j = 0; j < n->ninputs; j++)
            ins[j] = map[n->inputs[j]->id];
        mf_node *copy;
        s = mf_graph_add_node(c, n->op, n->ninputs, ins, n->attrs, &copy);
        if (s) {
            mf_error_context(s, "graph @%s, node %d", g->name, i);
            break;
        }
        copy->subgraph = n->subgraph;
        const char *name = n->outputs[0]->name;
        copy->outputs[0]->name = name ? mf_arena_strdup(c->arena, name, strlen(name)) : NULL;
        map[n->outputs[0]->id] = copy->outputs[0];
    }
    if (!s) {
        mf_value **outs = calloc((size_t)g->noutputs + 1, sizeof *outs);
        for (int i = 0; outs && i < g->noutputs; i++)
            outs[i] = map[g->outputs[i]->id];
        s = outs ? mf_graph_set_outputs(c, g->noutputs, outs) : mf_error(MF_ERR_NOMEM, "clone: out of memory");
        free(outs);
    }
out:
    free(map);
    if (s)
        mf_graph_destroy(c);
    else
        *out = c;
    return s;
}
