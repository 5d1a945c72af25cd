/* simplify.c — algebraic simplification: results that equal an input exactly (x*1, 1*x,
 * x/1, x+a*0, 0+x, x-a*0 with a constant of ones or zeros that does not broadcast x to a
 * larger shape; neg(neg(x)); a permute chain that composes to the identity; a reshape to
 * x's own shape) are bypassed, and chains of permutes or of reshapes/flattens become one
 * node.  Chains are rewritten in place in the outer node, which already sits before every
 * user, so topological order holds without moving nodes.  Nodes left unused by a rewrite
 * are removed; other dead nodes are dce's. */
#include <math.h>
#include <stdlib.h>

#include "passes.h"

typedef struct simp {
    int *uses;       /* by value id: node inputs and graph outputs */
    mf_value **repl; /* by value id: what the users of a bypassed result read instead */
    bool *dead;      /* by node id */
    mf_node **stack; /* nodes whose result lost its last use */
} simp;

/* Drops one use of v; a node whose result loses its last use dies, and so on upward. */
static void drop_use(simp *s, const mf_value *v)
{
    int top = 0;
    if (--s->uses[v->id] == 0 && v->producer)
        s->stack[top++] = v->producer;
    while (top) {
        mf_node *n = s->stack[--top];
        s->dead[n->id] = true;
        for (int i = 0; i < n->ninputs; i++) {
            const mf_value *in = n->inputs[i];
            if (--s->uses[in->id] == 0 && in->producer)
                s->stack[top++] = in->producer;
        }
    }
}

/* Users of n's result read x instead; n dies. */
static void bypass(simp *s, mf_node *n, mf_value *x)
{
    mf_value *r = n->outputs[0];
    s->repl[r->id] = x;
    s->uses[x->id] += s->uses[r->id];
    s->uses[r->id] = 1; /* n itself, as a user of nothing: drop it like a last use */
    drop_use(s, r);
}

static void set_input(simp *s, mf_node *n, int i, mf_value *v)
{
    mf_value *old = n->inputs[i];
    n->inputs[i] = v;
    s->uses[v->id]++;
    drop_use(s, old);
}

/* ---- what a node equals -------------------------------------------------------------------- */

/* True when v is a constant with data and every element equals want (0 and -0 alike).
 * Binary elementwise ops take f32 only. */
static bool const_all(const mf_value *v, float want)
{
    if (!v->is_const || !v->data || v->type.dtype != MF_F32)
        return false;
    const float *p = v->data->data;
    for (int64_t i = 0, n = mf_type_numel(&v->type); i < n; i++)
        if (p[i] != want)
            return false;
    return true;
}

/* The operand a binary op returns unchanged (x*1, 1*x, x/1, x+a*0, 0+x, x-a*0), or NULL. */
static mf_value *binary_identity(const mf_node *n)
{
    mf_value *a = n->inputs[0], *b = n->inputs[1];
    switch (n->op) {
    case MF_OP_MUL:
        return const_all(b, 1) ? a : const_all(a, 1) ? b : NULL;
    case MF_OP_DIV:
        return const_all(b, 1) ? a : NULL;
    case MF_OP_ADD:
    case MF_OP_SUB: { /* a + alpha*b, a - alpha*b; the kernels take alpha as a float */
        float alpha = (float)mf_attr_float(n->op, n->attrs, "alpha");
        if (isfinite(alpha) && const_all(b, 0)) /* inf*0 would be NaN */
            return a;
        return n->op == MF_OP_ADD && alpha == 1 && const_all(a, 0) ? b : NULL;
    }
    default:
        return NULL;
    }
}

static bool is_view(mf_op op)
{
    return op == MF_OP_RESHAPE || op == MF_OP_FLATTEN;
}

/* The perm of the permute n, applied after the inner permute when there is one (then
 * *src is the inner's input, else n's); entries normalized to 0..rank-1. */
static void composed_perm(const mf_node *n, int64_t *perm, mf_value **src)
{
    const mf_attr *q = mf_attr_get(MF_OP_PERMUTE, n->attrs, "perm");
    const mf_node *inner = n->inputs[0]->producer;
    int rank = q->n;
    for (int i = 0; i < rank; i++)
        perm[i] = q->ints[i] < 0 ? q->ints[i] + rank : q->ints[i];
    *src = n->inputs[0];
    if (!inner || inner->op != MF_OP_PERMUTE)
        return;
    /* out[i] = mid[q[i]] = x[p[q[i]]] */
    const mf_attr *p = mf_attr_get(MF_OP_PERMUTE, inner->attrs, "perm");
    for (int i = 0; i < rank; i++) {
        int64_t d = p->ints[perm[i]];
        perm[i] = d < 0 ? d + rank : d;
    }
    *src = inner->inputs[0];
}

/* The value n computes exactly (same type), or NULL. */
static mf_value *same_as(const mf_node *n)
{
    const mf_type *t = &n->outputs[0]->type;
    mf_value *x = NULL;
    const mf_node *inner = n->ninputs ? n->inputs[0]->producer : NULL;
    if (n->ninputs == 2) {
        x = binary_identity(n);
    } else if (n->op == MF_OP_NEG) {
        x = inner && inner->op == MF_OP_NEG ? inner->inputs[0] : NULL;
    } else if (is_view(n->op)) {
        x = inner && is_view(inner->op) ? inner->inputs[0] : n->inputs[0];
        if (!mf_type_equal(&x->type, t))
            x = n->inputs[0];
    } else if (n->op == MF_OP_PERMUTE) {
        int64_t perm[MF_MAX_RANK];
        composed_perm(n, perm, &x);
        for (int i = 0; i < t->rank; i++)
            if (perm[i] != i)
                return NULL;
    }
    return x && mf_type_equal(&x->type, t) ? x : NULL;
}

/* Rewrites a chain ending in n into n alone, in place (its result type stays):
 * permute(permute(x)) is one permute of x; reshape/flatten of reshape/flatten is one
 * reshape of x to n's shape.  False when n heads no chain. */
static bool fuse_chain(simp *s, mf_node *n)
{
    const mf_node *inner = n->inputs[0]->producer;
    mf_value *x;
    if (n->op == MF_OP_PERMUTE && inner && inner->op == MF_OP_PERMUTE) {
        int64_t perm[MF_MAX_RANK];
        composed_perm(n, perm, &x);
        if (mf_attr_set_ints(MF_OP_PERMUTE, n->attrs, "perm", n->outputs[0]->type.rank, perm))
            return false;
    } else if (is_view(n->op) && inner && is_view(inner->op)) {
        const mf_type *t = &n->outputs[0]->type;
        mf_attr attrs[MF_MAX_ATTRS];
        mf_op_default_attrs(MF_OP_RESHAPE, attrs);
        if (mf_attr_set_ints(MF_OP_RESHAPE, attrs, "shape", t->rank, t->shape))
            return false;
        n->op = MF_OP_RESHAPE;
        for (int i = 0; i < MF_MAX_ATTRS; i++)
            n->attrs[i] = attrs[i];
        x = inner->inputs[0];
    } else {
        return false;
    }
    set_input(s, n, 0, x);
    return true;
}

mf_status mf_pass_simplify(mf_graph *g, mf_pass_ctx *ctx, int *changes)
{
    (void)ctx;
    *changes = 0;
    simp s = {calloc((size_t)g->nvalues + 1, sizeof *s.uses),
              calloc((size_t)g->nvalues + 1, sizeof *s.repl),
              calloc((size_t)g->nnodes + 1, sizeof *s.dead),
              calloc((size_t)g->nnodes + 1, sizeof *s.stack)};
    mf_status st = MF_OK;
    if (!s.uses || !s.repl || !s.dead || !s.stack) {
        st = mf_error(MF_ERR_NOMEM, "simplify: out of memory");
        goto out;
    }
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i]->ninputs; j++)
            s.uses[g->nodes[i]->inputs[j]->id]++;
    for (int i = 0; i < g->noutputs; i++)
        s.uses[g->outputs[i]->id]++;
    int count = 0;
    for (int i = 0; i < g->nnodes; i++) {
        mf_node *n = g->nodes[i];
        if (s.dead[n->id])
            continue;
        /* redirect as the walk goes, so rewrites cascade (x*1*1, reshape chains) */
        mf_pass_redirect(n, s.repl, g->nvalues);
        mf_value *x = same_as(n);
        if (x)
            bypass(&s, n, x), count++;
        else
            count += fuse_chain(&s, n);
    }
    mf_pass_apply(g, s.repl, g->nvalues, s.dead, count);
    *changes = count;
out:
    free(s.uses);
    free(s.repl);
    free(s.dead);
    free(s.stack);
    return st;
}
