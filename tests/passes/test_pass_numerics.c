/* test_pass_numerics.c — the rewriting passes keep a graph's meaning: on graphs with
 * random weights, the interpreter (the reference kernels) gives the same outputs, within
 * 1e-5 relative, before and after conv-bn, fold, simplify and cse.  The golden tests
 * (test_pass_golden.c) check what the passes rewrite; these check that it still computes
 * the same thing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "ir/ir.h"
#include "module/module.h"
#include "passes/passes.h"
#include "tests/support/pass_graphs.h"
#include "tests/support/compare.h"

#define MAX_IO 8

/* Parses text and gives every opaque constant data, uniform in [0.5, 1.5): positive, so
 * variances, sqrt and log stay defined. */
static mf_graph *load_random(const char *text, uint64_t seed)
{
    return tsupport_parse_filled(text, seed, 0.5f);
}

static void interpret(const mf_graph *g, mf_tensor *const *in, mf_tensor **out)
{
    if (mf_graph_interpret(g, g->ninputs, in, g->noutputs, out))
        fail_msg("%s", mf_last_error());
}

/* Runs pipeline `passes` on g (destroyed) and checks that every output stays within 1e-5
 * (relative) of the interpreter's result before; returns the number of rewrites, and adds
 * each pass's to per_pass[its position in the pipeline] (per_pass may be NULL). */
static int check_same_outputs(mf_graph *g, const char *passes, uint64_t seed, int *per_pass)
{
    assert_true(g->ninputs <= MAX_IO && g->noutputs <= MAX_IO);
    mf_tensor *in[MAX_IO], *before[MAX_IO], *after[MAX_IO];
    for (int i = 0; i < g->ninputs; i++)
        assert_int_equal(mf_tensor_rand(MF_F32, g->inputs[i]->type.rank, g->inputs[i]->type.shape,
                                        seed + (uint64_t)i, -1, 1, MF_DEVICE_CPU, &in[i]),
                         MF_OK);
    interpret(g, in, before);

    mf_pass_ctx ctx = mf_pass_ctx_default();
    ctx.eval = mf_mod_ref_eval;
    mf_pass_stat *stats = NULL;
    int nstats = 0;
    if (mf_pipeline_run(g, passes, &ctx, true, NULL, NULL, &stats, &nstats))
        fail_msg("%s", mf_last_error());
    int changes = 0;
    for (int i = 0; i < nstats; i++) {
        changes += stats[i].changes;
        if (per_pass)
            per_pass[i] += stats[i].changes;
    }
    interpret(g, in, after);
    for (int i = 0; i < g->noutputs; i++) {
        double d = tsupport_rel_diff(after[i], before[i], 1e-6);
        if (!(d <= 1e-5))
            fail_msg("%s (seed %llu): output %d differs by %g (relative)", passes,
                     (unsigned long long)seed, i, d);
        mf_tensor_free(before[i]);
        mf_tensor_free(after[i]);
    }
    for (int i = 0; i < g->ninputs; i++)
        mf_tensor_free(in[i]);
    free(stats);
    mf_pass_ctx_release(&ctx);
    mf_graph_destroy(g);
    return changes;
}

/* Checks the pass on the graph of text (opaque constants made random); it must rewrite. */
static void check_text(const char *text, const char *pass)
{
    assert_true(check_same_outputs(load_random(text, 42), pass, 7, NULL) > 0);
}

static void test_conv_bn(void **state)
{
    (void)state;
    check_text("graph @cbn(%x: f32[2,4,7,7], %v: f32[3,6]) {\n"
                       "  %w = const f32[8,2,3,3] opaque\n"
                       "  %b = const f32[8] opaque\n"
                       "  %g = const f32[8] opaque\n"
                       "  %beta = const f32[8] opaque\n"
                       "  %mean = const f32[8] opaque\n"
                       "  %var = const f32[8] opaque\n"
                       "  %lw = const f32[5,6] opaque\n"
                       "  %lg = const f32[5] opaque\n"
                       "  %lbeta = const f32[5] opaque\n"
                       "  %lmean = const f32[5] opaque\n"
                       "  %lvar = const f32[5] opaque\n"
                       "  %c = conv2d(%x, %w, %b) {stride=[2,2], padding=[1,1], groups=2}"
                       " : f32[2,8,4,4]\n"
                       "  %y = batch_norm(%c, %g, %beta, %mean, %var) : f32[2,8,4,4]\n"
                       "  %r = relu(%y) : f32[2,8,4,4]\n"
                       "  %l = linear(%v, %lw) : f32[3,5]\n"
                       "  %z = batch_norm(%l, %lg, %lbeta, %lmean, %lvar) {eps=0.001} : f32[3,5]\n"
                       "  return %r, %z\n"
                       "}\n",
                       "conv-bn");
}

static void test_fold(void **state)
{
    (void)state;
    check_text("graph @fold(%x: f32[1,3,6,6]) {\n"
                       "  %w = const f32[4,3,3,3] opaque\n"
                       "  %s = const f32[4,1,1,1] opaque\n"
                       "  %b = const f32[4] opaque\n"
                       "  %t = const f32[6,6] opaque\n"
                       "  %ws = mul(%w, %s) : f32[4,3,3,3]\n"
                       "  %wr = sqrt(%ws) : f32[4,3,3,3]\n"
                       "  %bl = log(%b) : f32[4]\n"
                       "  %bn = neg(%bl) : f32[4]\n"
                       "  %c = conv2d(%x, %wr, %bn) : f32[1,4,4,4]\n"
                       "  %tp = permute(%t) {perm=[1,0]} : f32[6,6]\n"
                       "  %tr = reshape(%tp) {shape=[1,1,6,6]} : f32[1,1,6,6]\n"
                       "  %sm = softmax(%tr) : f32[1,1,6,6]\n"
                       "  %y = mul(%x, %sm) : f32[1,3,6,6]\n"
                       "  return %c, %y, %bn\n"
                       "}\n",
                       "fold");
}

static void test_simplify(void **state)
{
    (void)state;
    check_text("graph @simp(%x: f32[2,3,4]) {\n"
                       "  %one = const f32[4] dense<1, 1, 1, 1>\n"
                       "  %one3 = const f32[1,1,3] dense<1, 1, 1>\n"
                       "  %zero = const f32[] dense<0>\n"
                       "  %a = mul(%x, %one) : f32[2,3,4]\n"
                       "  %b = add(%a, %zero) {alpha=0.5} : f32[2,3,4]\n"
                       "  %n1 = neg(%b) : f32[2,3,4]\n"
                       "  %n2 = neg(%n1) : f32[2,3,4]\n"
                       "  %p1 = permute(%n2) {perm=[2,0,1]} : f32[4,2,3]\n"
                       "  %p2 = permute(%p1) {perm=[0,2,1]} : f32[4,3,2]\n"
                       "  %r1 = reshape(%p2) {shape=[12,2]} : f32[12,2]\n"
                       "  %f = flatten(%r1) {start_dim=0} : f32[24]\n"
                       "  %r2 = reshape(%f) {shape=[6,4]} : f32[6,4]\n"
                       "  %e = exp(%r2) : f32[6,4]\n"
                       "  %d = div(%p1, %one3) : f32[4,2,3]\n"
                       "  return %e, %d\n"
                       "}\n",
                       "simplify");
}

static void test_cse(void **state)
{
    (void)state;
    check_text("graph @cse(%x: f32[1,2,5,5]) {\n"
                       "  %w1 = const f32[3,2,3,3] opaque\n"
                       "  %k1 = const f32[3] dense<1, 2, 3>\n"
                       "  %k2 = const f32[3] dense<1, 2, 3>\n"
                       "  %c1 = conv2d(%x, %w1, %k1) : f32[1,3,3,3]\n"
                       "  %c2 = conv2d(%x, %w1, %k2) : f32[1,3,3,3]\n"
                       "  %r1 = relu(%c1) : f32[1,3,3,3]\n"
                       "  %r2 = relu(%c2) : f32[1,3,3,3]\n"
                       "  %y = sub(%r1, %r2) {alpha=0.5} : f32[1,3,3,3]\n"
                       "  return %y, %r2\n"
                       "}\n",
                       "cse");
}

/* ---- random graphs full of what the passes rewrite ------------------------------------------ */

typedef struct gen {
    uint64_t rng;
    mf_graph *g;
    mf_value *pool[32];
    int n;
} gen;

static int pick(gen *r, int n)
{
    r->rng ^= r->rng << 13, r->rng ^= r->rng >> 7, r->rng ^= r->rng << 17;
    return (int)(r->rng % (uint64_t)n);
}

/* A constant of type t: every element `fill`, or random in [lo, lo + 1) when fill is NaN. */
static mf_value *constant(gen *r, const mf_type *t, float fill, float lo)
{
    mf_buffer *b = mf_buffer_new_host(mf_type_nbytes(t));
    assert_non_null(b);
    for (int64_t i = 0; i < mf_type_numel(t); i++)
        ((float *)b->data)[i] = isnan(fill) ? lo + (float)pick(r, 1000) / 1000.0f : fill;
    mf_value *v = mf_graph_add_const(r->g, NULL, t, b);
    mf_buffer_release(b);
    assert_non_null(v);
    return v;
}

static mf_value *node(gen *r, mf_op op, int nin, mf_value **in, const mf_attr *a)
{
    mf_node *n;
    if (mf_graph_add_node(r->g, op, nin, in, a, &n))
        fail_msg("generator made an invalid node: %s", mf_last_error());
    r->pool[r->n < 32 ? r->n++ : pick(r, 32)] = n->outputs[0];
    return n->outputs[0];
}

/* A type t broadcasts to: t itself, a scalar, or t with some dims set to 1. */
static mf_type narrower(gen *r, const mf_type *t)
{
    mf_type c = *t;
    int how = pick(r, 3);
    if (how == 1)
        c.rank = 0;
    for (int d = 0; how == 2 && d < c.rank; d++)
        if (pick(r, 2))
            c.shape[d] = 1;
    return c;
}

static void step(gen *r)
{
    static const mf_op unary[] = {MF_OP_RELU, MF_OP_NEG, MF_OP_TANH, MF_OP_SIGMOID};
    static const mf_op binary[] = {MF_OP_ADD, MF_OP_SUB, MF_OP_MUL, MF_OP_DIV};
    mf_value *x = r->pool[pick(r, r->n)];
    mf_attr a[MF_MAX_ATTRS];
    switch (pick(r, 8)) {
    case 0:
        node(r, unary[pick(r, 4)], 1, &x, NULL);
        return;
    case 1: { /* x op c, c op x: identities (ones, zeros) and not */
        mf_op op = binary[pick(r, 4)];
        mf_type ct = narrower(r, &x->type);
        float fill = pick(r, 3) == 0 ? NAN : op == MF_OP_DIV ? 1.0f : (float)pick(r, 2);
        mf_value *c = constant(r, &ct, fill, 1), *in[2] = {x, c};
        if (op != MF_OP_DIV && pick(r, 2))
            in[0] = c, in[1] = x;
        mf_op_default_attrs(op, a);
        if ((op == MF_OP_ADD || op == MF_OP_SUB) && pick(r, 2))
            mf_attr_set_float(op, a, "alpha", 0.5);
        node(r, op, 2, in, a);
        return;
    }
    case 2: /* a duplicate of an earlier node */
        if (x->producer) {
            mf_node *n = x->producer;
            node(r, n->op, n->ninputs, n->inputs, n->attrs);
        }
        return;
    case 3: { /* permute, sometimes twice */
        int64_t perm[MF_MAX_RANK];
        for (int k = 0; k < 2; k++) {
            for (int d = 0; d < x->type.rank; d++)
                perm[d] = d;
            for (int d = x->type.rank - 1; d > 0; d--) {
                int e = pick(r, d + 1);
                int64_t t = perm[d];
                perm[d] = perm[e], perm[e] = t;
            }
            mf_op_default_attrs(MF_OP_PERMUTE, a);
            mf_attr_set_ints(MF_OP_PERMUTE, a, "perm", x->type.rank, perm);
            x = node(r, MF_OP_PERMUTE, 1, &x, a);
            if (pick(r, 2))
                return;
        }
        return;
    }
    case 4: /* flatten, then maybe a reshape of that */
        if (x->type.rank >= 2) {
            mf_op_default_attrs(MF_OP_FLATTEN, a);
            mf_attr_set_int(MF_OP_FLATTEN, a, "start_dim", pick(r, x->type.rank - 1));
            mf_value *f = node(r, MF_OP_FLATTEN, 1, &x, a);
            mf_op_default_attrs(MF_OP_RESHAPE, a);
            mf_attr_set_ints(MF_OP_RESHAPE, a, "shape", x->type.rank, x->type.shape);
            if (pick(r, 2))
                node(r, MF_OP_RESHAPE, 1, &f, a);
        }
        return;
    case 5: /* conv + batch norm, the variance computed from constants (fold first) */
        if (x->type.rank == 4) {
            int64_t c = x->type.shape[1], co = 1 + pick(r, 4);
            int64_t kh = x->type.shape[2] >= 3 && pick(r, 2) ? 3 : 1;
            mf_type wt = {MF_F32, 4, {co, c, kh, 1}}, bt = {MF_F32, 1, {co}};
            mf_value *in[3] = {x, constant(r, &wt, NAN, -0.5f), constant(r, &bt, NAN, -0.5f)};
            mf_value *y = node(r, MF_OP_CONV2D, 2 + pick(r, 2), in, NULL);
            mf_value *v = constant(r, &bt, NAN, -0.5f);
            v = node(r, MF_OP_ABS, 1, &v, NULL);
            mf_value *bn[5] = {y, constant(r, &bt, NAN, 0.5f), constant(r, &bt, NAN, -0.5f),
                               constant(r, &bt, NAN, -0.5f), v};
            node(r, MF_OP_BATCH_NORM, 5, bn, NULL);
        }
        return;
    case 6: { /* x * f(constant) */
        mf_type ct = narrower(r, &x->type);
        mf_value *c = constant(r, &ct, NAN, -0.5f);
        c = node(r, unary[pick(r, 4)], 1, &c, NULL);
        node(r, MF_OP_MUL, 2, (mf_value *[]){x, c}, NULL);
        return;
    }
    default: { /* two values of one type combined */
        mf_value *y = r->pool[pick(r, r->n)];
        if (mf_type_equal(&x->type, &y->type))
            node(r, binary[pick(r, 3)], 2, (mf_value *[]){x, y}, NULL);
        return;
    }
    }
}

/* The default pipeline's rewriting passes on random graphs: same outputs as before. */
static void test_random_graphs(void **state)
{
    (void)state;
    const char *pipeline = "dce,simplify,cse,fold,conv-bn,simplify,dce";
    int per_pass[7] = {0};
    for (uint64_t seed = 1; seed <= 200; seed++) {
        gen r = {seed * 2654435761u + 1, mf_graph_new("random"), {0}, 0};
        mf_type in = {MF_F32, 4, {1 + pick(&r, 2), 1 + pick(&r, 3), 2 + pick(&r, 3), 3}};
        r.pool[r.n++] = mf_graph_add_input(r.g, "x", &in);
        for (int i = 0, steps = 4 + pick(&r, 12); i < steps; i++)
            step(&r);
        mf_value *outs[MAX_IO] = {r.pool[r.n - 1]}; /* the last value and unused ones */
        int nout = 1;
        for (int i = r.g->nnodes - 1; i >= 0 && nout < MAX_IO; i--) {
            mf_value *v = r.g->nodes[i]->outputs[0];
            if (v != outs[0] && !mf_graph_num_uses(r.g, v))
                outs[nout++] = v;
        }
        assert_int_equal(mf_graph_set_outputs(r.g, nout, outs), MF_OK);
        check_same_outputs(r.g, pipeline, seed, per_pass);
    }
    print_message("rewrites by pass (%s): %d %d %d %d %d %d %d\n", pipeline, per_pass[0],
                  per_pass[1], per_pass[2], per_pass[3], per_pass[4], per_pass[5], per_pass[6]);
    for (int i = 1; i < 5; i++) /* the generator exercises simplify, cse, fold and conv-bn */
        assert_true(per_pass[i] >= 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_bn),
        cmocka_unit_test(test_fold),
        cmocka_unit_test(test_simplify),
        cmocka_unit_test(test_cse),
        cmocka_unit_test(test_random_graphs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
