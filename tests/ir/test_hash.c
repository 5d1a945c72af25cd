/* test_hash.c — the structural hash ignores value names (and the graph's name and subgraph
 * annotations) and changes with any attribute, shape, dtype, wiring, op, constant byte or
 * output. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

static const char base[] = "graph @h(%x: f32[1,2,5,5], %y: f32[1,3,3,3]) {\n"
                           "  %w = const f32[3,2,3,3] opaque\n"
                           "  %b = const f32[3] dense<1, 2, 3>\n"
                           "  %c = conv2d(%x, %w, %b) : f32[1,3,3,3]\n"
                           "  %r = relu(%c) : f32[1,3,3,3]\n"
                           "  %s = sub(%r, %y) : f32[1,3,3,3]\n"
                           "  return %s, %c\n"
                           "}\n";

static uint64_t hash_of(const char *text)
{
    mf_graph *g = NULL;
    if (mf_graph_parse(text, NULL, &g))
        fail_msg("%s\n%s", mf_last_error(), text);
    uint64_t h = mf_graph_hash(g);
    mf_graph_destroy(g);
    return h;
}

/* base with the first occurrence of `from` replaced by `to` */
static uint64_t hash_edited(const char *from, const char *to)
{
    static char buf[4096];
    const char *at = strstr(base, from);
    assert_non_null(at);
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - base), base, to, at + strlen(from));
    return hash_of(buf);
}

static void test_names_do_not_matter(void **state)
{
    uint64_t h = hash_of(base);
    assert_true(h == hash_of("graph @other(%in: f32[1,2,5,5], %skip: f32[1,3,3,3]) {\n"
                             "  %weight = const f32[3,2,3,3] opaque\n"
                             "  %bias = const f32[3] dense<1, 2, 3>\n"
                             "  %0 = conv2d(%in, %weight, %bias) : f32[1,3,3,3] @sg0\n"
                             "  %1 = relu(%0) : f32[1,3,3,3] @sg0\n"
                             "  %2 = sub(%1, %skip) : f32[1,3,3,3] @sg1\n"
                             "  return %2, %0\n"
                             "}\n"));
    /* unnamed values, as the builder and the trace recorder make them */
    mf_graph *g = NULL;
    assert_int_equal(mf_graph_parse(base, NULL, &g), MF_OK);
    for (int i = 0; i < g->nvalues; i++)
        g->values[i]->name = NULL;
    assert_true(mf_graph_hash(g) == h);
    mf_graph *c;
    assert_int_equal(mf_graph_clone(g, NULL, &c), MF_OK);
    assert_true(mf_graph_hash(c) == h);
    mf_graph_destroy(c);
    mf_graph_destroy(g);
    assert_true(hash_of(base) == h); /* deterministic */
}

static void test_every_change_matters(void **state)
{
    static const struct {
        const char *from, *to;
    } edits[] = {
        {"%y: f32[1,3,3,3]", "%y: f32[1,1,3,3]"},                              /* input shape */
        {"dense<1, 2, 3>", "dense<1, 2, 4>"},                                  /* constant data */
        {"dense<1, 2, 3>", "dense<1, 2, -0>"},                                 /* one sign bit */
        {"dense<1, 2, 3>", "opaque"},                                          /* opaque */
        {"relu(%c)", "neg(%c)"},                                               /* op */
        {"sub(%r, %y)", "sub(%y, %r)"},                                        /* wiring */
        {"sub(%r, %y)", "sub(%r, %y) {alpha=2}"},                              /* float attribute */
        {"sub(%r, %y)", "sub(%c, %y)"},                                        /* wiring */
        {"return %s, %c", "return %c, %s"},                                    /* output order */
        {"return %s, %c", "return %s"},                                        /* output count */
    };
    uint64_t h = hash_of(base);
    for (size_t i = 0; i < sizeof edits / sizeof *edits; i++)
        if (hash_edited(edits[i].from, edits[i].to) == h)
            fail_msg("edit %zu (%s -> %s) keeps the hash", i, edits[i].from, edits[i].to);
    /* attributes spelled out at their defaults are the same graph */
    assert_true(hash_edited("conv2d(%x, %w, %b) :",
                            "conv2d(%x, %w, %b) {padding=[0,0], stride=[1,1]} :") == h);
}

static void test_built_changes_matter(void **state)
{
    mf_graph *g = NULL;
    assert_int_equal(mf_graph_parse(base, NULL, &g), MF_OK);
    uint64_t h = mf_graph_hash(g);
    mf_node *conv = g->nodes[0];
    conv->attrs[3].i = 2; /* groups, int attribute */
    assert_true(mf_graph_hash(g) != h);
    conv->attrs[3].i = 1;
    conv->attrs[0].ints[1] = 2; /* stride, ints attribute */
    assert_true(mf_graph_hash(g) != h);
    conv->attrs[0].ints[1] = 1;
    assert_true(mf_graph_hash(g) == h);
    ((unsigned char *)g->values[3]->data->data)[11] ^= 1; /* the last byte of %b */
    assert_true(mf_graph_hash(g) != h);
    ((unsigned char *)g->values[3]->data->data)[11] ^= 1;
    g->nodes[1]->outputs[0]->type.dtype = MF_F16; /* an output type */
    assert_true(mf_graph_hash(g) != h);
    g->nodes[1]->outputs[0]->type.dtype = MF_F32;
    g->inputs[1]->type.dtype = MF_I32; /* an input dtype */
    assert_true(mf_graph_hash(g) != h);
    g->inputs[1]->type.dtype = MF_F32;
    g->nodes[2]->subgraph = 4; /* annotations are not structure */
    g->name = "renamed";
    assert_true(mf_graph_hash(g) == h);
    mf_graph_destroy(g);
}

static void test_large_constant_bytes(void **state)
{
    /* a weight with a tail not a multiple of 8 bytes: every byte counts */
    mf_graph *g = mf_graph_new("big");
    mf_type t = {MF_I8, 1, {1003}};
    mf_buffer *b = mf_buffer_new_host(1003);
    memset(b->data, 7, 1003);
    mf_value *k = mf_graph_add_const(g, NULL, &t, b);
    mf_buffer_release(b);
    assert_int_equal(mf_graph_set_outputs(g, 1, &k), MF_OK);
    uint64_t h = mf_graph_hash(g);
    for (size_t i = 0; i < 1003; i += 101) {
        ((unsigned char *)k->data->data)[i] ^= 0x80;
        assert_true(mf_graph_hash(g) != h);
        ((unsigned char *)k->data->data)[i] ^= 0x80;
    }
    ((unsigned char *)k->data->data)[1002] = 8;
    assert_true(mf_graph_hash(g) != h);
    mf_graph_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_do_not_matter),
        cmocka_unit_test(test_every_change_matters),
        cmocka_unit_test(test_built_changes_matter),
        cmocka_unit_test(test_large_constant_bytes),
    };
    return cmocka_run_group_tests_name("hash", tests, NULL, NULL);
}
