/* random_graph.c — seeded random DAGs for property tests (see random_graph.h).  The
 * compiled distribution is kept draw for draw as it was first written in
 * tests/module/test_random_graphs.c, so its seeds keep giving the same graphs; the pass
 * distribution has its own steps. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "random_graph.h"

#define POOL 64
#define MAX_NUMEL 1024 /* pass distribution: no value larger than this */

typedef struct gen {
    uint64_t rng;
    mf_graph *g;
    mf_value *pool[POOL]; /* f32 values later steps may use */
    int n;
    mf_value *inputs[2];
    int ninputs;
    mf_value *recent[4]; /* the last values remembered (pass distribution) */
    int nrecent;
    mf_value *weights[8]; /* conv2d weights made so far, to share */
    int nweights;
} gen;

static uint64_t next(gen *r)
{
    r->rng ^= r->rng << 13, r->rng ^= r->rng >> 7, r->rng ^= r->rng << 17;
    return r->rng;
}

static int pick(gen *r, int n)
{
    return (int)(next(r) % (uint64_t)n);
}

/* Uniform in scale * [-1, 1], in steps of scale / 1000. */
static mf_value *constant(gen *r, const mf_type *t, double scale)
{
    mf_buffer *b = mf_buffer_new_host(mf_type_nbytes(t));
    assert_non_null(b);
    for (int64_t i = 0; i < mf_type_numel(t); i++)
        ((float *)b->data)[i] = (float)(scale * ((double)(next(r) % 2001) / 1000.0 - 1.0));
    mf_value *v = mf_graph_add_const(r->g, NULL, t, b);
    mf_buffer_release(b);
    assert_non_null(v);
    return v;
}

/* Every element v. */
static mf_value *filled(gen *r, const mf_type *t, float v)
{
    mf_buffer *b = mf_buffer_new_host(mf_type_nbytes(t));
    assert_non_null(b);
    for (int64_t i = 0; i < mf_type_numel(t); i++)
        ((float *)b->data)[i] = v;
    mf_value *c = mf_graph_add_const(r->g, NULL, t, b);
    mf_buffer_release(b);
    assert_non_null(c);
    return c;
}

/* A second constant with c's type and bytes (a duplicate for cse to merge). */
static mf_value *copy_const(gen *r, const mf_value *c)
{
    mf_buffer *b = mf_buffer_new_host(mf_type_nbytes(&c->type));
    assert_non_null(b);
    memcpy(b->data, c->data->data, mf_type_nbytes(&c->type));
    mf_value *v = mf_graph_add_const(r->g, NULL, &c->type, b);
    mf_buffer_release(b);
    assert_non_null(v);
    return v;
}

static void remember(gen *r, mf_value *v)
{
    r->pool[r->n < POOL ? r->n++ : pick(r, POOL)] = v;
    r->recent[r->nrecent++ % 4] = v;
}

/* A node that later steps do not see (dead unless chosen as an output: never). */
static mf_value *node(gen *r, mf_op op, int nin, mf_value **in, const mf_attr *a)
{
    mf_node *n;
    if (mf_graph_add_node(r->g, op, nin, in, a, &n) != MF_OK)
        fail_msg("generator made an invalid %s node: %s", mf_op_get(op)->name, mf_last_error());
    return n->outputs[0];
}

static mf_value *add(gen *r, mf_op op, int nin, mf_value **in, const mf_attr *a)
{
    mf_value *v = node(r, op, nin, in, a);
    remember(r, v);
    return v;
}

/* ================================ the compiled distribution ============================= */

/* A random value of rank 4 (or NULL). */
static mf_value *any4(gen *r)
{
    for (int tries = 0; tries < 8; tries++) {
        mf_value *v = r->pool[pick(r, r->n)];
        if (v->type.rank == 4)
            return v;
    }
    return NULL;
}

static void compiled_step(gen *r)
{
    static const mf_op unary[] = {MF_OP_RELU, MF_OP_SIGMOID, MF_OP_TANH, MF_OP_HARDSWISH, MF_OP_ABS,
                                  MF_OP_NEG, MF_OP_LEAKY_RELU, MF_OP_HARDSIGMOID, MF_OP_CLAMP};
    mf_value *x = r->pool[pick(r, r->n)], *x4 = any4(r);
    mf_attr a[MF_MAX_ATTRS];
    switch (pick(r, 12)) {
    case 0:
    case 1:
        add(r, unary[pick(r, 9)], 1, &x, NULL);
        return;
    case 2: { /* binary with a same-shaped value or a broadcast constant */
        mf_value *y = NULL;
        for (int i = 0; i < r->n && !y; i++)
            if (r->pool[i] != x && mf_type_equal(&r->pool[i]->type, &x->type))
                y = r->pool[i];
        if (!y) {
            mf_type t = x->type;
            for (int d = 0; d < t.rank; d++)
                if (d != 1 || t.rank != 4)
                    t.shape[d] = 1;
            y = constant(r, &t, 1);
        }
        static const mf_op ops[] = {MF_OP_ADD, MF_OP_SUB, MF_OP_MUL};
        add(r, ops[pick(r, 3)], 2, (mf_value *[]){x, y}, NULL);
        return;
    }
    case 3: { /* x / (|y| + 1) */
        mf_value *ab = add(r, MF_OP_ABS, 1, &x, NULL);
        mf_type st = {MF_F32, 0, {0}};
        mf_value *one = constant(r, &st, 0), *den;
        ((float *)one->data->data)[0] = 1;
        den = add(r, MF_OP_ADD, 2, (mf_value *[]){ab, one}, NULL);
        add(r, MF_OP_DIV, 2, (mf_value *[]){x, den}, NULL);
        return;
    }
    case 4:
    case 5:
        if (x4) { /* conv 3x3 pad 1, sometimes grouped, with bias; maybe batch norm */
            int64_t c = x4->type.shape[1], g = c % 2 == 0 && pick(r, 2) ? 2 : 1, co = g * (1 + pick(r, 4));
            mf_type wt = {MF_F32, 4, {co, c / g, 3, 3}}, bt = {MF_F32, 1, {co}};
            mf_op_default_attrs(MF_OP_CONV2D, a);
            mf_attr_set_ints(MF_OP_CONV2D, a, "padding", 2, (int64_t[]){1, 1});
            mf_attr_set_int(MF_OP_CONV2D, a, "groups", g);
            mf_value *y = add(r, MF_OP_CONV2D, 3, (mf_value *[]){x4, constant(r, &wt, 0.3), constant(r, &bt, 0.1)}, a);
            if (pick(r, 2)) {
                mf_value *bn[5] = {y, constant(r, &bt, 1), constant(r, &bt, 0.5), constant(r, &bt, 0.5), NULL};
                bn[4] = constant(r, &bt, 0.25);
                mf_value *ab = add(r, MF_OP_ABS, 1, &bn[4], NULL);
                bn[4] = ab; /* a positive variance */
                add(r, MF_OP_BATCH_NORM, 5, bn, NULL);
            }
        }
        return;
    case 6:
        if (x4 && x4->type.shape[2] >= 2 && x4->type.shape[3] >= 2) {
            mf_op op = pick(r, 2) ? MF_OP_MAX_POOL2D : MF_OP_AVG_POOL2D;
            mf_op_default_attrs(op, a);
            mf_attr_set_ints(op, a, "kernel", 2, (int64_t[]){2, 2});
            mf_attr_set_ints(op, a, "stride", 2, (int64_t[]){2, 2});
            add(r, op, 1, &x4, a);
        }
        return;
    case 7:
        mf_op_default_attrs(MF_OP_SOFTMAX, a);
        mf_attr_set_int(MF_OP_SOFTMAX, a, "dim", x->type.rank > 1 ? 1 : 0);
        add(r, pick(r, 2) ? MF_OP_SOFTMAX : MF_OP_LOG_SOFTMAX, 1, &x, a);
        return;
    case 8:
        if (x4) {
            mf_op op = pick(r, 2) ? MF_OP_MEAN : MF_OP_SUM;
            mf_op_default_attrs(op, a);
            mf_attr_set_ints(op, a, "dims", 2, (int64_t[]){2, 3});
            mf_attr_set_int(op, a, "keepdim", 1);
            add(r, op, 1, &x4, a);
        }
        return;
    case 9: { /* flatten + linear */
        mf_value *f = x;
        if (x->type.rank < 2)
            return;
        if (x->type.rank != 2) {
            mf_op_default_attrs(MF_OP_FLATTEN, a);
            f = add(r, MF_OP_FLATTEN, 1, &x, a);
        }
        int64_t k = f->type.shape[1], o = 1 + pick(r, 12);
        mf_type wt = {MF_F32, 2, {o, k}}, bt = {MF_F32, 1, {o}};
        add(r, MF_OP_LINEAR, 3, (mf_value *[]){f, constant(r, &wt, 0.3), constant(r, &bt, 0.1)}, NULL);
        return;
    }
    case 10:
        if (x4) { /* a CPU-only op in the middle of MLU subgraphs */
            mf_op_default_attrs(MF_OP_UPSAMPLE_NEAREST2D, a);
            mf_attr_set_ints(MF_OP_UPSAMPLE_NEAREST2D, a, "scale", 2, (int64_t[]){1, 2});
            add(r, MF_OP_UPSAMPLE_NEAREST2D, 1, &x4, a);
        }
        return;
    default:
        if (x4) { /* a residual: conv output + its input when channels agree */
            mf_value *y = NULL;
            for (int i = 0; i < r->n && !y; i++)
                if (r->pool[i]->producer && r->pool[i]->producer->op == MF_OP_CONV2D &&
                    mf_type_equal(&r->pool[i]->type, &x4->type) && r->pool[i] != x4)
                    y = r->pool[i];
            if (y)
                add(r, MF_OP_RELU, 1, (mf_value *[]){add(r, MF_OP_ADD, 2, (mf_value *[]){y, x4}, NULL)}, NULL);
        }
        return;
    }
}

static mf_graph *compiled_graph(gen *r)
{
    mf_type in = {MF_F32, 4, {1 + pick(r, 2), 2 + 2 * pick(r, 3), 4 + pick(r, 5), 4 + pick(r, 5)}};
    r->pool[r->n++] = mf_graph_add_input(r->g, "x", &in);
    int steps = 3 + pick(r, 8);
    for (int i = 0; i < steps; i++)
        compiled_step(r);
    mf_value *outs[2] = {r->pool[r->n - 1], r->pool[pick(r, r->n)]};
    assert_int_equal(mf_graph_set_outputs(r->g, outs[0] == outs[1] ? 1 : 2, outs), MF_OK);
    return r->g;
}

/* ================================ the pass distribution ================================= */

/* A pool value: half the time the last one remembered, a quarter of the time one of the
 * four last (deep chains, few leaves). */
static mf_value *any(gen *r)
{
    int k = pick(r, 4);
    if (r->nrecent && k < 2)
        return r->recent[(r->nrecent - 1) % 4];
    if (r->nrecent && k == 2)
        return r->recent[pick(r, r->nrecent < 4 ? r->nrecent : 4)];
    return r->pool[pick(r, r->n)];
}

/* A random pool value of rank lo..hi (or NULL). */
static mf_value *any_rank(gen *r, int lo, int hi)
{
    for (int tries = 0; tries < 12; tries++) {
        mf_value *v = any(r);
        if (v->type.rank >= lo && v->type.rank <= hi)
            return v;
    }
    return NULL;
}

/* The type op would give, or false when it is invalid or larger than MAX_NUMEL. */
static bool fits(mf_op op, int nin, mf_value *const *in, const mf_attr *a, mf_type *out)
{
    mf_type types[8];
    mf_attr defaults[MF_MAX_ATTRS];
    if (!a) {
        mf_op_default_attrs(op, defaults);
        a = defaults;
    }
    for (int i = 0; i < nin; i++)
        types[i] = in[i]->type;
    mf_type t;
    if (mf_op_infer(op, a, nin, types, &t) != MF_OK || mf_type_numel(&t) > MAX_NUMEL)
        return false;
    if (out)
        *out = t;
    return true;
}

/* add(), unless the result would be larger than MAX_NUMEL (then NULL); an invalid node
 * still fails the test. */
static mf_value *add_small(gen *r, mf_op op, int nin, mf_value **in, const mf_attr *a)
{
    mf_type types[8], t;
    mf_attr defaults[MF_MAX_ATTRS];
    const mf_attr *aa = a;
    if (!aa) {
        mf_op_default_attrs(op, defaults);
        aa = defaults;
    }
    for (int i = 0; i < nin; i++)
        types[i] = in[i]->type;
    if (mf_op_infer(op, aa, nin, types, &t) == MF_OK && mf_type_numel(&t) > MAX_NUMEL)
        return NULL;
    return add(r, op, nin, in, a);
}

static const mf_op unary_ops[] = {MF_OP_RELU,  MF_OP_SIGMOID, MF_OP_TANH,       MF_OP_HARDSWISH,
                                  MF_OP_ABS,   MF_OP_NEG,     MF_OP_LEAKY_RELU, MF_OP_HARDSIGMOID,
                                  MF_OP_CLAMP};
#define NUNARY ((int)(sizeof unary_ops / sizeof unary_ops[0]))

static mf_value *unary(gen *r, mf_value *x, bool remembered)
{
    mf_op op = unary_ops[pick(r, NUNARY)];
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    if (op == MF_OP_CLAMP) {
        mf_attr_set_float(op, a, "min", -0.5 - pick(r, 2));
        mf_attr_set_float(op, a, "max", 0.5 + pick(r, 2));
    }
    return remembered ? add(r, op, 1, &x, a) : node(r, op, 1, &x, a);
}

/* A shape that broadcasts against t without growing it: t itself, per channel (C,1,1 for
 * rank 4), the last dim, [1] or a scalar. */
static mf_type narrower(gen *r, const mf_type *t)
{
    mf_type c = {MF_F32, 0, {0}};
    switch (pick(r, 5)) {
    case 0:
        c = *t;
        c.dtype = MF_F32;
        break;
    case 1:
        if (t->rank >= 2) {
            c.rank = t->rank - 1;
            c.shape[0] = t->shape[1];
            for (int d = 1; d < c.rank; d++)
                c.shape[d] = 1;
        }
        break;
    case 2:
        if (t->rank >= 1)
            c.rank = 1, c.shape[0] = t->shape[t->rank - 1];
        break;
    case 3:
        c.rank = 1, c.shape[0] = 1;
        break;
    default:
        break; /* a scalar */
    }
    return c;
}

/* A shape that broadcasts t to a larger one (a new leading dim of 2, or a dim of 1 grown
 * to 2); false when that would not fit. */
static bool wider(gen *r, const mf_type *t, mf_type *out)
{
    if (2 * mf_type_numel(t) > MAX_NUMEL)
        return false;
    *out = *t;
    for (int d = 0; d < t->rank; d++)
        if (t->shape[d] == 1 && pick(r, 2)) {
            out->shape[d] = 2;
            return true;
        }
    if (t->rank >= MF_MAX_RANK)
        return false;
    out->rank = t->rank + 1;
    out->shape[0] = 2;
    for (int d = 0; d < t->rank; d++)
        out->shape[d + 1] = t->shape[d];
    return true;
}

static mf_value *binary(gen *r, mf_op op, mf_value *a, mf_value *b, double alpha, bool remembered)
{
    mf_attr at[MF_MAX_ATTRS];
    mf_op_default_attrs(op, at);
    if (op == MF_OP_ADD || op == MF_OP_SUB)
        mf_attr_set_float(op, at, "alpha", alpha);
    mf_value *in[2] = {a, b};
    if (!fits(op, 2, in, at, NULL))
        return NULL;
    return remembered ? add(r, op, 2, in, at) : node(r, op, 2, in, at);
}

/* simplify: x*1, 1*x, x/1, x+0, 0+x, x-0 (with alpha), with constants of the same shape,
 * a smaller one, or a larger one (then the result is larger than x: not an identity);
 * sometimes a constant that is nearly all ones or zeros (not an identity either). */
static void identity_step(gen *r)
{
    mf_value *x = any(r);
    if (pick(r, 6) == 0) { /* neg(neg(x)) */
        add(r, MF_OP_NEG, 1, (mf_value *[]){add(r, MF_OP_NEG, 1, &x, NULL)}, NULL);
        return;
    }
    mf_type t = narrower(r, &x->type);
    if (pick(r, 5) == 0 && !wider(r, &x->type, &t))
        return;
    int kind = pick(r, 6); /* x*1, 1*x, x/1, x+0, 0+x, x-0 */
    float v = kind <= 2 ? 1.0f : pick(r, 4) ? 0.0f : -0.0f;
    mf_value *c = filled(r, &t, v);
    if (pick(r, 8) == 0) /* one element off: must stay */
        ((float *)c->data->data)[pick(r, (int)mf_type_numel(&t))] = v + 0.5f;
    double alpha = pick(r, 4) ? 1.0 : 2.0;
    switch (kind) {
    case 0: binary(r, MF_OP_MUL, x, c, 1, true); break;
    case 1: binary(r, MF_OP_MUL, c, x, 1, true); break;
    case 2: binary(r, MF_OP_DIV, x, c, 1, true); break;
    case 3: binary(r, MF_OP_ADD, x, c, alpha, true); break;
    case 4: binary(r, MF_OP_ADD, c, x, alpha, true); break;
    default: binary(r, MF_OP_SUB, x, c, alpha, true); break;
    }
}

/* fold: a subexpression of constants only, combined with an activation (or kept alone). */
static void const_step(gen *r)
{
    mf_value *x = any(r);
    mf_type t = narrower(r, &x->type);
    mf_value *c = constant(r, &t, 1), *e = c;
    int len = 1 + pick(r, 3);
    for (int i = 0; i < len; i++) {
        switch (pick(r, 6)) {
        case 0: e = node(r, MF_OP_ABS, 1, &e, NULL); break;
        case 1: e = binary(r, MF_OP_ADD, e, constant(r, &t, 1), 1, false); break;
        case 2: e = binary(r, MF_OP_MUL, e, constant(r, &t, 1), 1, false); break;
        case 3: { /* sqrt(|e| + 1): defined */
            mf_value *ab = node(r, MF_OP_ABS, 1, &e, NULL);
            mf_value *sum = binary(r, MF_OP_ADD, ab, filled(r, &t, 1), 1, false);
            e = node(r, MF_OP_SQRT, 1, &sum, NULL);
            break;
        }
        case 4: /* exp(-|e|) */
            e = node(r, MF_OP_ABS, 1, &e, NULL);
            e = node(r, MF_OP_NEG, 1, &e, NULL);
            e = node(r, MF_OP_EXP, 1, &e, NULL);
            break;
        default: e = unary(r, e, false); break;
        }
    }
    if (pick(r, 5) == 0) { /* a constant value for later steps (which may fold too) */
        remember(r, e);
        return;
    }
    static const mf_op ops[] = {MF_OP_ADD, MF_OP_SUB, MF_OP_MUL};
    binary(r, ops[pick(r, 3)], x, e, 1, true);
}

/* A copy of n's attributes with one float attribute moved, or softmax's dim changed;
 * false when n has neither. */
static bool perturbed(gen *r, const mf_node *n, mf_attr *a)
{
    const mf_op_info *info = mf_op_get(n->op);
    memcpy(a, n->attrs, sizeof n->attrs);
    for (int i = 0; i < info->nattrs; i++) {
        if (info->attrs[i].type == MF_ATTR_FLOAT && pick(r, 3)) {
            a[i].f = (n->op == MF_OP_DROPOUT ? 0.5 : 1.0) * (a[i].f + 0.25);
            if (n->op == MF_OP_CLAMP && !(a[i].f < 1e30)) /* max = inf */
                a[i].f = 0.75;
            return true;
        }
    }
    if ((n->op == MF_OP_SOFTMAX || n->op == MF_OP_LOG_SOFTMAX) && n->inputs[0]->type.rank > 1) {
        a[0].i = (a[0].i + 1) % n->inputs[0]->type.rank;
        return true;
    }
    return false;
}

/* cse: a duplicate of an earlier node (same op, inputs, attributes), a node that differs
 * from one only in an attribute (not a duplicate), or two nodes that differ only by a
 * duplicated constant. */
static void dup_step(gen *r)
{
    mf_value *x = any(r);
    if (pick(r, 3)) {
        const mf_node *p = x->producer;
        for (int tries = 0; tries < 8 && !p; tries++)
            p = any(r)->producer;
        mf_attr a[MF_MAX_ATTRS];
        if (p && pick(r, 3) == 0 && perturbed(r, p, a) && fits(p->op, p->ninputs, p->inputs, a, NULL))
            add(r, p->op, p->ninputs, p->inputs, a);
        else if (p)
            add(r, p->op, p->ninputs, p->inputs, p->attrs);
        return;
    }
    mf_type t = narrower(r, &x->type);
    mf_value *c = constant(r, &t, 1), *c2 = copy_const(r, c);
    mf_op op = pick(r, 2) ? MF_OP_MUL : MF_OP_ADD;
    mf_value *a = binary(r, op, x, c, 1, true), *b = binary(r, op, x, c2, 1, true);
    if (a && b && pick(r, 2))
        add(r, MF_OP_SUB, 2, (mf_value *[]){a, b}, NULL); /* zero once merged */
}

/* A random permutation of 0..rank-1 into p. */
static void shuffle(gen *r, int rank, int64_t *p)
{
    for (int i = 0; i < rank; i++)
        p[i] = i;
    for (int i = rank - 1; i > 0; i--) {
        int j = pick(r, i + 1);
        int64_t t = p[i];
        p[i] = p[j], p[j] = t;
    }
}

static mf_value *permute(gen *r, mf_value *x, const int64_t *p, bool remembered)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_PERMUTE, a);
    int64_t q[MF_MAX_RANK];
    for (int i = 0; i < x->type.rank; i++) /* sometimes negative, as ONNX allows */
        q[i] = p[i] - (pick(r, 4) == 0 ? x->type.rank : 0);
    mf_attr_set_ints(MF_OP_PERMUTE, a, "perm", x->type.rank, q);
    return remembered ? add(r, MF_OP_PERMUTE, 1, &x, a) : node(r, MF_OP_PERMUTE, 1, &x, a);
}

/* simplify: permute(permute(x)) composing to the identity or not, chains of three, and
 * an identity permute alone. */
static void permute_step(gen *r)
{
    mf_value *x = any_rank(r, 1, 5);
    if (!x)
        return;
    int rank = x->type.rank, len = 1 + pick(r, 3);
    int64_t p[MF_MAX_RANK], inv[MF_MAX_RANK];
    mf_value *y = x;
    int64_t total[MF_MAX_RANK]; /* y = x permuted by total */
    for (int i = 0; i < rank; i++)
        total[i] = i;
    for (int k = 0; k < len; k++) {
        bool last = k == len - 1;
        if (last && len > 1 && pick(r, 2)) { /* back to x: the inverse of what was done */
            for (int i = 0; i < rank; i++)
                inv[total[i]] = i;
            memcpy(p, inv, sizeof p);
        } else if (pick(r, 6) == 0) {
            for (int i = 0; i < rank; i++)
                p[i] = i;
        } else {
            shuffle(r, rank, p);
        }
        y = permute(r, y, p, last || pick(r, 4) == 0);
        int64_t nt[MF_MAX_RANK];
        for (int i = 0; i < rank; i++)
            nt[i] = total[p[i]];
        memcpy(total, nt, sizeof nt);
    }
}

static mf_value *reshape(gen *r, mf_value *x, const mf_type *t, bool remembered)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_RESHAPE, a);
    int64_t s[MF_MAX_RANK];
    memcpy(s, t->shape, sizeof s);
    if (t->rank && pick(r, 3) == 0)
        s[pick(r, t->rank)] = -1;
    mf_attr_set_ints(MF_OP_RESHAPE, a, "shape", t->rank, s);
    return remembered ? add(r, MF_OP_RESHAPE, 1, &x, a) : node(r, MF_OP_RESHAPE, 1, &x, a);
}

static mf_value *flatten(gen *r, mf_value *x, bool remembered)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_FLATTEN, a);
    int rank = x->type.rank ? x->type.rank : 1;
    int s = pick(r, rank), e = s + pick(r, rank - s);
    mf_attr_set_int(MF_OP_FLATTEN, a, "start_dim", s);
    mf_attr_set_int(MF_OP_FLATTEN, a, "end_dim", pick(r, 2) ? e : e - rank);
    return remembered ? add(r, MF_OP_FLATTEN, 1, &x, a) : node(r, MF_OP_FLATTEN, 1, &x, a);
}

/* A random shape of numel n (rank 1..4), splitting off small factors. */
static mf_type reshaped(gen *r, const mf_type *t)
{
    mf_type o = {t->dtype, 0, {0}};
    int64_t n = mf_type_numel(t);
    int rank = 1 + pick(r, 4);
    for (int d = 0; d < rank - 1; d++) {
        int64_t f = 1;
        for (int64_t k = 2 + pick(r, 3); k > 1; k--)
            if (n % k == 0) {
                f = k;
                break;
            }
        o.shape[o.rank++] = f;
        n /= f;
    }
    o.shape[o.rank++] = n;
    return o;
}

/* simplify and dce: reshape/flatten chains (back to the start, or elsewhere), a reshape
 * to the shape x already has. */
static void view_step(gen *r)
{
    mf_value *x = any_rank(r, 1, 4), *y;
    if (!x)
        return;
    switch (pick(r, 4)) {
    case 0: /* to its own shape */
        reshape(r, x, &x->type, true);
        return;
    case 1: { /* flatten, then back */
        y = flatten(r, x, pick(r, 3) == 0);
        reshape(r, y, &x->type, true);
        return;
    }
    default: { /* a chain of 2..3 views */
        int len = 2 + pick(r, 2);
        y = x;
        for (int k = 0; k < len; k++) {
            bool last = k == len - 1;
            if (pick(r, 3) == 0) {
                y = flatten(r, y, last);
            } else {
                mf_type t = last && pick(r, 3) == 0 ? x->type : reshaped(r, &y->type);
                y = reshape(r, y, &t, last);
            }
        }
        return;
    }
    }
}

static mf_value *bn_params(gen *r, mf_value *y, int which)
{
    int64_t c = y->type.shape[1];
    mf_type bt = {MF_F32, 1, {c}};
    switch (which) {
    case 1: return constant(r, &bt, 1);   /* gamma */
    case 2: return constant(r, &bt, 0.5); /* beta */
    case 3: return constant(r, &bt, 0.5); /* mean */
    default: { /* a positive variance: |v| + 0.1, folded before conv-bn sees it */
        mf_value *v = constant(r, &bt, 1);
        if (pick(r, 2))
            return filled(r, &bt, 0.25f + 0.25f * (float)pick(r, 4));
        return binary(r, MF_OP_ADD, node(r, MF_OP_ABS, 1, &v, NULL), filled(r, &bt, 0.1f), 1, false);
    }
    }
}

static mf_value *batch_norm(gen *r, mf_value *y)
{
    mf_value *in[5] = {y, bn_params(r, y, 1), bn_params(r, y, 2), bn_params(r, y, 3), bn_params(r, y, 4)};
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_BATCH_NORM, a);
    if (pick(r, 3) == 0)
        mf_attr_set_float(MF_OP_BATCH_NORM, a, "eps", 1e-3);
    return add(r, MF_OP_BATCH_NORM, 5, in, a);
}

/* The anchor's result y: batch norm (maybe twice), or batch norm while y has another
 * user (must not fold), or nothing. */
static void after_anchor(gen *r, mf_value *y)
{
    switch (pick(r, 6)) {
    case 0:
        return;
    case 1: /* a second user of the anchor: conv-bn must leave it */
        batch_norm(r, y);
        if (pick(r, 2))
            unary(r, y, true);
        else /* the anchor's result as a graph output: found when outputs are drawn */
            remember(r, y);
        return;
    case 2:
        batch_norm(r, batch_norm(r, y));
        return;
    default:
        batch_norm(r, y);
        return;
    }
}

/* conv-bn: conv2d in several geometries, with or without bias, with a weight that is a
 * constant or a foldable expression of one. */
static void conv_step(gen *r)
{
    mf_value *x = any_rank(r, 4, 4);
    if (!x)
        return;
    int64_t c = x->type.shape[1], g = c % 2 == 0 && pick(r, 3) == 0 ? 2 : 1, co = g * (1 + pick(r, 3));
    int64_t k = pick(r, 3) ? 3 : 1, pad = k == 3 ? pick(r, 2) : 0, stride = 1 + (pick(r, 4) == 0);
    if (x->type.shape[2] + 2 * pad < k || x->type.shape[3] + 2 * pad < k)
        k = 1, pad = 0;
    mf_type wt = {MF_F32, 4, {co, c / g, k, k}}, bt = {MF_F32, 1, {co}};
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CONV2D, a);
    mf_attr_set_ints(MF_OP_CONV2D, a, "padding", 2, (int64_t[]){pad, pad});
    mf_attr_set_ints(MF_OP_CONV2D, a, "stride", 2, (int64_t[]){stride, stride});
    mf_attr_set_int(MF_OP_CONV2D, a, "groups", g);
    mf_value *w = NULL;
    for (int i = 0; i < r->nweights && !w && pick(r, 3) == 0; i++) /* shared with another conv2d */
        if (mf_type_equal(&r->weights[i]->type, &wt))
            w = r->weights[i];
    if (!w) {
        w = constant(r, &wt, 0.3);
        if (pick(r, 4) == 0) /* neg(w): a weight fold computes */
            w = node(r, MF_OP_NEG, 1, &w, NULL);
        if (r->nweights < 8)
            r->weights[r->nweights++] = w;
    }
    mf_value *in[3] = {x, w, constant(r, &bt, 0.1)};
    mf_value *y = add_small(r, MF_OP_CONV2D, pick(r, 3) ? 3 : 2, in, a);
    if (y)
        after_anchor(r, y);
}

/* conv-bn on linear: [N, K] -> [N, O] then batch norm (folds); on rank 3..4 a batch norm
 * over dim 1 is not linear's channel dim (must not fold); matmul by a constant. */
static void linear_step(gen *r)
{
    mf_value *x = any_rank(r, 1, 4);
    if (!x)
        return;
    if (x->type.rank > 2 && pick(r, 2)) {
        mf_attr a[MF_MAX_ATTRS];
        mf_op_default_attrs(MF_OP_FLATTEN, a);
        x = add(r, MF_OP_FLATTEN, 1, &x, a);
    }
    int64_t kin = x->type.shape[x->type.rank - 1], o = 1 + pick(r, 8);
    mf_type wt = {MF_F32, 2, {o, kin}}, bt = {MF_F32, 1, {o}};
    if (pick(r, 4) == 0) { /* matmul, by a constant or by x transposed (two activations) */
        mf_type mt = {MF_F32, 2, {kin, o}};
        mf_value *b = constant(r, &mt, 0.3);
        if (x->type.rank >= 2 && pick(r, 2)) {
            int64_t p[MF_MAX_RANK];
            for (int i = 0; i < x->type.rank; i++)
                p[i] = i;
            p[x->type.rank - 2] = x->type.rank - 1, p[x->type.rank - 1] = x->type.rank - 2;
            b = permute(r, x, p, false);
        }
        add_small(r, MF_OP_MATMUL, 2, (mf_value *[]){x, b}, NULL);
        return;
    }
    mf_value *in[3] = {x, constant(r, &wt, 0.3), constant(r, &bt, 0.1)};
    mf_value *y = add_small(r, MF_OP_LINEAR, pick(r, 4) ? 3 : 2, in, NULL);
    if (y && y->type.rank >= 2)
        after_anchor(r, y);
}

static void pool_step(gen *r)
{
    mf_value *x = any_rank(r, 4, 4);
    if (!x)
        return;
    mf_attr a[MF_MAX_ATTRS];
    int kind = pick(r, 3);
    if (kind == 2) {
        mf_op_default_attrs(MF_OP_ADAPTIVE_AVG_POOL2D, a);
        int64_t s = 1 + pick(r, 2);
        mf_attr_set_ints(MF_OP_ADAPTIVE_AVG_POOL2D, a, "output_size", 2, (int64_t[]){s, s});
        add(r, MF_OP_ADAPTIVE_AVG_POOL2D, 1, &x, a);
        return;
    }
    mf_op op = kind ? MF_OP_MAX_POOL2D : MF_OP_AVG_POOL2D;
    mf_op_default_attrs(op, a);
    if (pick(r, 2)) {
        if (x->type.shape[2] < 2 || x->type.shape[3] < 2)
            return;
        mf_attr_set_ints(op, a, "kernel", 2, (int64_t[]){2, 2});
        mf_attr_set_ints(op, a, "stride", 2, (int64_t[]){2, 2});
    } else {
        mf_attr_set_ints(op, a, "kernel", 2, (int64_t[]){3, 3});
        mf_attr_set_ints(op, a, "stride", 2, (int64_t[]){1, 1});
        mf_attr_set_ints(op, a, "padding", 2, (int64_t[]){1, 1});
        if (op == MF_OP_AVG_POOL2D)
            mf_attr_set_int(op, a, "count_include_pad", pick(r, 2));
    }
    add(r, op, 1, &x, a);
}

static void reduce_step(gen *r)
{
    mf_value *x = any_rank(r, 1, 4);
    if (!x)
        return;
    mf_attr a[MF_MAX_ATTRS];
    int rank = x->type.rank;
    if (pick(r, 2)) {
        mf_op op = pick(r, 2) ? MF_OP_SOFTMAX : MF_OP_LOG_SOFTMAX;
        mf_op_default_attrs(op, a);
        mf_attr_set_int(op, a, "dim", pick(r, rank) - (pick(r, 2) ? rank : 0));
        add(r, op, 1, &x, a);
        return;
    }
    mf_op op = pick(r, 2) ? MF_OP_MEAN : MF_OP_SUM;
    int64_t dims[MF_MAX_RANK], p[MF_MAX_RANK];
    int nd = 1 + pick(r, rank);
    shuffle(r, rank, p);
    for (int i = 0; i < nd; i++)
        dims[i] = p[i];
    mf_op_default_attrs(op, a);
    mf_attr_set_ints(op, a, "dims", nd, dims);
    mf_attr_set_int(op, a, "keepdim", pick(r, 2));
    mf_value *y = add(r, op, 1, &x, a);
    /* broadcast back against x: a reduction feeding an elementwise op of x's size */
    if (mf_attr_int(op, a, "keepdim") && pick(r, 2))
        binary(r, pick(r, 2) ? MF_OP_SUB : MF_OP_MUL, x, y, 1, true);
}

/* CPU-only layout ops: permute, concat, pad, slice, upsample_nearest2d. */
static void layout_step(gen *r)
{
    mf_value *x = any_rank(r, 1, 4);
    if (!x)
        return;
    int rank = x->type.rank;
    mf_attr a[MF_MAX_ATTRS];
    switch (pick(r, 5)) {
    case 0: {
        int64_t p[MF_MAX_RANK];
        shuffle(r, rank, p);
        permute(r, x, p, true);
        return;
    }
    case 1: { /* concat with values of a matching type, or x itself */
        mf_value *in[3] = {x, x, x};
        int nin = 2 + pick(r, 2);
        int64_t d = pick(r, rank);
        for (int i = 1; i < nin; i++)
            for (int tries = 0; tries < 6; tries++) {
                mf_value *y = any(r);
                bool ok = y->type.rank == rank;
                for (int k = 0; k < rank && ok; k++)
                    ok = k == d || y->type.shape[k] == x->type.shape[k];
                if (ok) {
                    in[i] = y;
                    break;
                }
            }
        mf_op_default_attrs(MF_OP_CONCAT, a);
        mf_attr_set_int(MF_OP_CONCAT, a, "dim", d - (pick(r, 2) ? rank : 0));
        add_small(r, MF_OP_CONCAT, nin, in, a);
        return;
    }
    case 2: { /* pad by 0..1 per side; -1 crops */
        int64_t pads[2 * MF_MAX_RANK];
        for (int i = 0; i < 2 * rank; i++) {
            pads[i] = pick(r, 3) - 1;
            if (pads[i] < 0 && x->type.shape[i % rank] < 3)
                pads[i] = 0;
        }
        mf_op_default_attrs(MF_OP_PAD, a);
        mf_attr_set_ints(MF_OP_PAD, a, "pads", 2 * rank, pads);
        mf_attr_set_float(MF_OP_PAD, a, "value", pick(r, 2) ? 0.0 : 0.5);
        add_small(r, MF_OP_PAD, 1, &x, a);
        return;
    }
    case 3: { /* a slice on one or two axes */
        int64_t st[2], en[2], ax[2], sp[2], p[MF_MAX_RANK];
        int n = rank > 1 ? 1 + pick(r, 2) : 1;
        shuffle(r, rank, p);
        for (int i = 0; i < n; i++) {
            int64_t dim = x->type.shape[p[i]];
            ax[i] = p[i];
            st[i] = pick(r, (int)(dim > 1 ? dim / 2 + 1 : 1));
            en[i] = pick(r, 2) ? dim : -1;
            sp[i] = 1 + pick(r, 2);
            if (st[i] >= (en[i] < 0 ? dim - 1 : en[i]))
                st[i] = 0, en[i] = dim;
        }
        mf_op_default_attrs(MF_OP_SLICE, a);
        mf_attr_set_ints(MF_OP_SLICE, a, "starts", n, st);
        mf_attr_set_ints(MF_OP_SLICE, a, "ends", n, en);
        mf_attr_set_ints(MF_OP_SLICE, a, "axes", n, ax);
        if (pick(r, 2))
            mf_attr_set_ints(MF_OP_SLICE, a, "steps", n, sp);
        mf_type t;
        if (fits(MF_OP_SLICE, 1, &x, a, &t) && mf_type_numel(&t) > 0)
            add(r, MF_OP_SLICE, 1, &x, a);
        return;
    }
    default:
        if (rank == 4) {
            mf_op_default_attrs(MF_OP_UPSAMPLE_NEAREST2D, a);
            mf_attr_set_ints(MF_OP_UPSAMPLE_NEAREST2D, a, "scale", 2,
                             (int64_t[]){1 + pick(r, 2), 1 + pick(r, 2)});
            add_small(r, MF_OP_UPSAMPLE_NEAREST2D, 1, &x, a);
        }
        return;
    }
}

/* Dtype boundaries: a graph input or a constant cast to f16, moved by views and layout
 * ops in f16 (which then run on the CPU), cast back to f32.  Only exact data is cast, so
 * the passes upstream cannot change what f16 rounds. */
static void cast_step(gen *r)
{
    mf_value *x = r->inputs[pick(r, r->ninputs)];
    if (pick(r, 4) == 0) {
        mf_type t = x->type;
        x = constant(r, &t, 1);
    }
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CAST, a);
    if (pick(r, 5) == 0) { /* f32 to f32 */
        mf_attr_set_int(MF_OP_CAST, a, "to", MF_F32);
        add(r, MF_OP_CAST, 1, &x, a);
        return;
    }
    mf_attr_set_int(MF_OP_CAST, a, "to", MF_F16);
    mf_value *h = node(r, MF_OP_CAST, 1, &x, a);
    int len = pick(r, 3);
    for (int k = 0; k < len; k++) {
        switch (pick(r, 4)) {
        case 0: {
            int64_t p[MF_MAX_RANK];
            shuffle(r, h->type.rank, p);
            h = permute(r, h, p, false);
            break;
        }
        case 1: {
            mf_attr d[MF_MAX_ATTRS];
            mf_op_default_attrs(MF_OP_DROPOUT, d);
            h = node(r, MF_OP_DROPOUT, 1, &h, d);
            break;
        }
        case 2:
            h = flatten(r, h, false);
            break;
        default: {
            mf_type t = reshaped(r, &h->type);
            h = reshape(r, h, &t, false);
            break;
        }
        }
    }
    mf_op_default_attrs(MF_OP_CAST, a);
    mf_attr_set_int(MF_OP_CAST, a, "to", MF_F32);
    add(r, MF_OP_CAST, 1, &h, a);
}

/* dce: dropout (an inference identity), maybe of a graph input. */
static void dropout_step(gen *r)
{
    mf_value *x = pick(r, 4) ? any(r) : r->inputs[0];
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_DROPOUT, a);
    mf_attr_set_float(MF_OP_DROPOUT, a, "p", 0.1 * pick(r, 6));
    add(r, MF_OP_DROPOUT, 1, &x, a);
}

/* dce: a branch nothing uses. */
static void dead_step(gen *r)
{
    mf_value *y = unary(r, any(r), false);
    if (pick(r, 2))
        y = unary(r, y, false);
    if (pick(r, 2)) {
        mf_type t = narrower(r, &y->type);
        binary(r, MF_OP_MUL, y, constant(r, &t, 1), 1, false);
    }
}

/* Broadcasting between activations, x / (|y| + 1), and residual adds. */
static void elementwise_step(gen *r)
{
    mf_value *x = any(r);
    switch (pick(r, 5)) {
    case 0: { /* x / (|y| + 1) */
        mf_value *y = any(r);
        mf_value *ab = node(r, MF_OP_ABS, 1, &y, NULL);
        mf_type st = {MF_F32, 0, {0}};
        mf_value *den = binary(r, MF_OP_ADD, ab, filled(r, &st, 1), 1, pick(r, 2));
        binary(r, MF_OP_DIV, x, den, 1, true);
        return;
    }
    case 1: { /* a residual: an anchor's result + a value of its type */
        for (int i = 0; i < r->n; i++) {
            mf_value *y = r->pool[i];
            if (y != x && y->producer && mf_op_get(y->producer->op)->kind == MF_KIND_ANCHOR &&
                mf_type_equal(&y->type, &x->type)) {
                mf_value *s = binary(r, MF_OP_ADD, y, x, 1, true);
                add(r, MF_OP_RELU, 1, &s, NULL);
                return;
            }
        }
        return;
    }
    case 2:
        if (pick(r, 2)) { /* x op x: one value read twice */
            static const mf_op ops[] = {MF_OP_ADD, MF_OP_SUB, MF_OP_MUL, MF_OP_DIV};
            mf_op op = ops[pick(r, 4)];
            if (op == MF_OP_DIV) { /* x / (|x| + 1) */
                mf_value *ab = node(r, MF_OP_ABS, 1, &x, NULL);
                mf_type st = {MF_F32, 0, {0}};
                binary(r, op, x, binary(r, MF_OP_ADD, ab, filled(r, &st, 1), 1, false), 1, true);
            } else {
                binary(r, op, x, x, 1, true);
            }
        } else if (x->type.rank >= 2) { /* batch norm of something that is no anchor */
            batch_norm(r, x);
        }
        return;
    default: { /* with any value it broadcasts against */
        static const mf_op ops[] = {MF_OP_ADD, MF_OP_SUB, MF_OP_MUL};
        for (int tries = 0; tries < 6; tries++) {
            mf_value *y = any(r);
            if (y != x && binary(r, ops[pick(r, 3)], x, y, 1, true))
                return;
        }
        mf_type t = narrower(r, &x->type);
        binary(r, ops[pick(r, 3)], x, constant(r, &t, 1), 1, true);
        return;
    }
    }
}

static void pass_step(gen *r)
{
    switch (pick(r, 20)) {
    case 0:
    case 1: unary(r, any(r), true); return;
    case 2:
    case 3: elementwise_step(r); return;
    case 4: identity_step(r); return;
    case 5: const_step(r); return;
    case 6: dup_step(r); return;
    case 7: permute_step(r); return;
    case 8: view_step(r); return;
    case 9:
    case 10: conv_step(r); return;
    case 11: linear_step(r); return;
    case 12: pool_step(r); return;
    case 13: reduce_step(r); return;
    case 14: layout_step(r); return;
    case 15: cast_step(r); return;
    case 16: dropout_step(r); return;
    case 17: dead_step(r); return;
    case 18: identity_step(r); return;
    default: dup_step(r); return;
    }
}

static mf_graph *pass_graph(gen *r)
{
    mf_type in = {MF_F32, 4, {1 + pick(r, 2), 1 + pick(r, 6), 1 + pick(r, 6), 1 + pick(r, 6)}};
    if (pick(r, 6) == 0) /* rank 2 or 3 */
        in.rank = 2 + pick(r, 2);
    r->inputs[r->ninputs++] = r->pool[r->n++] = mf_graph_add_input(r->g, "x", &in);
    if (pick(r, 3) == 0) { /* a second input: x's type or per channel */
        mf_type t = in;
        if (pick(r, 2))
            for (int d = 0; d < t.rank; d++)
                t.shape[d] = d == 1 ? t.shape[d] : 1;
        r->inputs[r->ninputs++] = r->pool[r->n++] = mf_graph_add_input(r->g, "y", &t);
    }
    int steps = 5 + pick(r, 16);
    for (int i = 0; i < steps; i++)
        pass_step(r);
    /* outputs: the last value and up to two other pool values nothing uses (so little of
     * the graph is dead by accident), all different */
    int *uses = calloc((size_t)r->g->nvalues + 1, sizeof(int));
    assert_non_null(uses);
    for (int i = 0; i < r->g->nnodes; i++)
        for (int k = 0; k < r->g->nodes[i]->ninputs; k++)
            uses[r->g->nodes[i]->inputs[k]->id]++;
    mf_value *outs[5] = {r->pool[r->n - 1]};
    int nout = 1, want = 1 + pick(r, 4);
    for (int tries = 0; tries < 16 && nout < want; tries++) {
        mf_value *v = r->pool[pick(r, r->n)];
        bool seen = uses[v->id] > 0 && tries < 12;
        for (int k = 0; k < nout; k++)
            seen |= outs[k] == v;
        if (!seen)
            outs[nout++] = v;
    }
    free(uses);
    if (pick(r, 16) == 0) /* one value returned twice */
        outs[nout] = outs[pick(r, nout)], nout++;
    assert_int_equal(mf_graph_set_outputs(r->g, nout, outs), MF_OK);
    return r->g;
}

mf_graph *trg_random_graph(uint64_t seed, const trg_options *o)
{
    gen r = {.rng = seed * 2654435761u + 1, .g = mf_graph_new("random")};
    assert_non_null(r.g);
    mf_graph *g = o && o->pass_patterns ? pass_graph(&r) : compiled_graph(&r);
    if (mf_graph_verify(g) != MF_OK)
        fail_msg("seed %llu: the generator made an invalid graph: %s", (unsigned long long)seed,
                 mf_last_error());
    return g;
}

void trg_random_inputs(const mf_graph *g, uint64_t seed, mf_device dev, mf_tensor **in)
{
    for (int i = 0; i < g->ninputs; i++) {
        const mf_type *t = &g->inputs[i]->type;
        if (mf_tensor_rand(t->dtype, t->rank, t->shape, seed + 7919u * (uint64_t)i, -1, 1, dev, &in[i]))
            fail_msg("random input %d: %s", i, mf_last_error());
    }
}
