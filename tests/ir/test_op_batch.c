/* test_op_batch.c — batch separability (ir/op_batch.c): graphs that keep their batch rows
 * apart (convs, pools, flatten, a linear, softmax off dim 0, broadcast constants, concat and
 * sums off dim 0) pass at two batch sizes; each op that mixes rows (softmax, concat or a sum
 * over dim 0, a permute, flatten or reshape that moves the batch) makes its graph fail. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "ir/ir.h"

/* tmpl with {B} replaced by b and {4B} by 4 * b. */
static void instantiate(const char *tmpl, long long b, char *out, size_t cap)
{
    size_t n = 0;
    while (*tmpl && n + 24 < cap) {
        if (!strncmp(tmpl, "{B}", 3) || !strncmp(tmpl, "{4B}", 4)) {
            bool four = tmpl[1] == '4';
            n += (size_t)snprintf(out + n, cap - n, "%lld", four ? 4 * b : b);
            tmpl += four ? 4 : 3;
        } else {
            out[n++] = *tmpl++;
        }
    }
    out[n] = 0;
}

/* Is the graph of tmpl at batch b separable? */
static bool separable_at(const char *tmpl, long long b)
{
    char text[2048];
    instantiate(tmpl, b, text, sizeof text);
    mf_graph *g;
    if (mf_graph_parse(text, "batch.mfir", &g))
        fail_msg("%s\n%s", mf_last_error(), text);
    bool ok = mf_graph_batch_separable(g, b);
    mf_graph_destroy(g);
    return ok;
}

static bool separable(const char *tmpl)
{
    bool a = separable_at(tmpl, 2), b = separable_at(tmpl, 3);
    assert_int_equal(a, b); /* no case here depends on the batch size */
    return a;
}

static void test_convnet_is_separable(void **state)
{
    (void)state;
    assert_true(separable("graph @g(%x: f32[{B},4,8,8]) {\n"
                          "  %w = const f32[8,4,3,3] opaque\n"
                          "  %s = const f32[1,8,1,1] opaque\n"
                          "  %lw = const f32[5,128] opaque\n"
                          "  %c = conv2d(%x, %w) {padding=[1,1]} : f32[{B},8,8,8]\n"
                          "  %m = mul(%c, %s) : f32[{B},8,8,8]\n"
                          "  %r = relu(%m) : f32[{B},8,8,8]\n"
                          "  %p = max_pool2d(%r) {kernel=[2,2], stride=[2,2]} : f32[{B},8,4,4]\n"
                          "  %f = flatten(%p) : f32[{B},128]\n"
                          "  %l = linear(%f, %lw) : f32[{B},5]\n"
                          "  %y = softmax(%l) : f32[{B},5]\n"
                          "  return %y\n}\n"));
}

static void test_ops_off_dim0_are_separable(void **state)
{
    (void)state;
    assert_true(separable("graph @g(%x: f32[{B},3]) {\n"
                          "  %m = const f32[3,6] opaque\n"
                          "  %a = matmul(%x, %m) : f32[{B},6]\n"
                          "  %c = concat(%a, %a) {dim=1} : f32[{B},12]\n"
                          "  %s = sum(%c) {dims=[1], keepdim=1} : f32[{B},1]\n"
                          "  return %s\n}\n"));
}

static void test_ops_mixing_rows_are_not(void **state)
{
    (void)state;
    static const char *const mixing[] = {
        "graph @g(%x: f32[{B},4]) {\n  %y = softmax(%x) {dim=0} : f32[{B},4]\n  return %y\n}\n",
        "graph @g(%x: f32[{B},4]) {\n  %y = sum(%x) {dims=[0], keepdim=1} : f32[1,4]\n  return %y\n}\n",
        "graph @g(%x: f32[{B},4]) {\n  %y = concat(%x, %x, %x, %x) {dim=0} : f32[{4B},4]\n  return %y\n}\n",
        "graph @g(%x: f32[{B},4]) {\n  %y = permute(%x) {perm=[1,0]} : f32[4,{B}]\n  return %y\n}\n",
        "graph @g(%x: f32[{B},4]) {\n  %y = flatten(%x) {start_dim=0} : f32[{4B}]\n  return %y\n}\n",
        "graph @g(%x: f32[{B},4]) {\n  %y = reshape(%x) {shape=[4,-1]} : f32[4,{B}]\n  return %y\n}\n",
    };
    for (size_t i = 0; i < sizeof mixing / sizeof *mixing; i++)
        if (separable(mixing[i]))
            fail_msg("case %zu is called separable", i);
}

/* The two batch sizes catch a dim that equals the batch by chance. */
static void test_a_dim_equal_to_the_batch_by_chance(void **state)
{
    (void)state;
    const char *g = "graph @g(%x: f32[{B},3]) {\n"
                    "  %y = reshape(%x) {shape=[3,-1]} : f32[3,{B}]\n  return %y\n}\n";
    assert_true(separable_at(g, 3)); /* [3,3] -> [3,3]: nothing to tell at batch 3 alone */
    assert_false(separable_at(g, 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_convnet_is_separable),
        cmocka_unit_test(test_ops_off_dim0_are_separable),
        cmocka_unit_test(test_ops_mixing_rows_are_not),
        cmocka_unit_test(test_a_dim_equal_to_the_batch_by_chance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
