/* test_random_graphs.c — the property test of compiled code: seeded random DAGs of mixed
 * ops (elementwise chains with broadcasting, convolutions with batch norm, pooling,
 * reductions, softmax, linear layers, views and CPU-only ops) compiled into modules, fused
 * and unfused, at core_number 1 and 4, must give the interpreter's outputs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "module/module.h"
#include "tests/support/compare.h"

#define GRAPHS 40

typedef struct gen {
    uint64_t rng;
    mf_graph *g;
    mf_value *pool[64];
    int n;
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

static mf_value *constant(gen *r, const mf_type *t, double scale)
{
    mf_buffer *b = mf_buffer_new_host(mf_type_nbytes(t));
    for (int64_t i = 0; i < mf_type_numel(t); i++)
        ((float *)b->data)[i] = (float)(scale * ((double)(next(r) % 2001) / 1000.0 - 1.0));
    mf_value *v = mf_graph_add_const(r->g, NULL, t, b);
    mf_buffer_release(b);
    return v;
}

static mf_value *add(gen *r, mf_op op, int nin, mf_value **in, const mf_attr *a)
{
    mf_node *n;
    if (mf_graph_add_node(r->g, op, nin, in, a, &n) != MF_OK)
        fail_msg("generator made an invalid node: %s", mf_last_error());
    r->pool[r->n < 64 ? r->n++ : pick(r, 64)] = n->outputs[0];
    return n->outputs[0];
}

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

static void step(gen *r)
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

static mf_graph *random_graph(uint64_t seed, mf_type *in)
{
    gen r = {seed * 2654435761u + 1, mf_graph_new("random"), {0}, 0};
    *in = (mf_type){MF_F32, 4, {1 + pick(&r, 2), 2 + 2 * pick(&r, 3), 4 + pick(&r, 5), 4 + pick(&r, 5)}};
    r.pool[r.n++] = mf_graph_add_input(r.g, "x", in);
    int steps = 3 + pick(&r, 8);
    for (int i = 0; i < steps; i++)
        step(&r);
    mf_value *outs[2] = {r.pool[r.n - 1], r.pool[pick(&r, r.n)]};
    assert_int_equal(mf_graph_set_outputs(r.g, outs[0] == outs[1] ? 1 : 2, outs), MF_OK);
    assert_int_equal(mf_graph_verify(r.g), MF_OK);
    return r.g;
}

static void test_random_graphs_compiled(void **state)
{
    int cpu_ops = 0, nodes = 0;
    for (uint64_t seed = 1; seed <= GRAPHS; seed++) {
        mf_type in;
        mf_graph *g = random_graph(seed, &in);
        mf_tensor *x, *want[2];
        assert_int_equal(mf_tensor_rand(MF_F32, in.rank, in.shape, seed, -1, 1, MF_DEVICE_MLU(0), &x), MF_OK);
        int nout = g->noutputs;
        assert_int_equal(mf_graph_interpret(g, 1, &x, nout, want), MF_OK);
        nodes += g->nnodes;
        for (int i = 0; i < g->nnodes; i++)
            cpu_ops += !mf_op_get(g->nodes[i]->op)->has_mlu;
        for (int variant = 0; variant < 3; variant++) {
            mf_module_options o = mf_module_default_options();
            o.fusion = variant != 1;
            o.core_number = variant == 2 ? 4 : 1;
            mf_module *m;
            mf_tensor *got[2];
            if (mf_module_create(g, &o, &m) || mf_module_run(m, 1, &x, nout, got)) {
                char *text;
                mf_graph_print(g, 0, &text);
                fail_msg("seed %llu variant %d: %s\n%s", (unsigned long long)seed, variant, mf_last_error(), text);
            }
            for (int k = 0; k < nout; k++) {
                double d = tsupport_rel_diff(got[k], want[k], 1);
                if (d > 2e-4)
                    fail_msg("seed %llu variant %d output %d: relative difference %g", (unsigned long long)seed,
                             variant, k, d);
                mf_tensor_free(got[k]);
            }
            mf_module_destroy(m);
        }
        for (int k = 0; k < nout; k++)
            mf_tensor_free(want[k]);
        mf_tensor_free(x);
        mf_graph_destroy(g);
    }
    assert_true(nodes > 5 * GRAPHS); /* the generator must not degenerate */
    assert_true(cpu_ops > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_graphs_compiled),
    };
    return cmocka_run_group_tests_name("random_graphs", tests, NULL, NULL);
}
