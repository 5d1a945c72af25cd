/* test_pass_manager.c — the pass manager: pipelines by name, unknown names refused before
 * anything runs, per-pass node counts, the verifier after every pass naming the pass that
 * broke the graph (verify flag and DEBUG=1), the after-pass hook, findings dropped when a
 * later pass changes the graph; mf_pass_expand's order and its failure path; and memory
 * planning's first fit and peak figures. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

static const char small[] =
    "graph @small(%x: f32[1,4,8,8]) {\n"
    "  %w = const f32[4,4,3,3] opaque\n"
    "  %0 = conv2d(%x, %w) {padding=[1,1]} : f32[1,4,8,8]\n"
    "  %1 = relu(%0) : f32[1,4,8,8]\n"
    "  %2 = dropout(%1) : f32[1,4,8,8]\n"
    "  %3 = sigmoid(%0) : f32[1,4,8,8]\n" /* dead */
    "  %4 = permute(%2) {perm=[0,1,3,2]} : f32[1,4,8,8]\n"
    "  %5 = exp(%4) : f32[1,4,8,8]\n"
    "  return %5\n"
    "}\n";

static mf_graph *parse(const char *text)
{
    mf_graph *g;
    if (mf_graph_parse(text, "test", &g) != MF_OK)
        fail_msg("%s", mf_last_error());
    return g;
}

static void test_unknown_pass_runs_nothing(void **state)
{
    (void)state;
    mf_graph *g = parse(small);
    mf_pass_ctx ctx = mf_pass_ctx_default();
    mf_pass_stat *st = (mf_pass_stat *)1;
    int n = -1;
    assert_int_equal(mf_pipeline_run(g, "dce,fuse,segment", &ctx, false, NULL, NULL, &st, &n), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "unknown pass 'fuse'"));
    assert_non_null(strstr(mf_last_error(), "known: dce, simplify"));
    assert_null(st);
    assert_int_equal(n, 0);
    assert_int_equal(g->nnodes, 6); /* dce did not run */
    assert_int_equal(mf_pipeline_run(g, "dce,,segment", &ctx, false, NULL, NULL, NULL, NULL), MF_ERR_INVALID);
    mf_graph_destroy(g);
}

static void test_stats_and_segment_findings(void **state)
{
    (void)state;
    mf_graph *g = parse(small);
    mf_pass_ctx ctx = mf_pass_ctx_default();
    ctx.fuse = true;
    mf_pass_stat *st;
    int n;
    assert_int_equal(mf_pipeline_run(g, " dce , segment,plan", &ctx, true, NULL, NULL, &st, &n), MF_OK);
    assert_int_equal(n, 3);
    assert_string_equal(st[0].name, "dce");
    assert_int_equal(st[0].nodes_before, 6);
    assert_int_equal(st[0].nodes_after, 4); /* sigmoid and dropout gone */
    assert_int_equal(st[0].changes, 2);
    assert_string_equal(st[1].name, "segment");
    assert_true(st[1].ms >= 0);
    assert_true(ctx.segmented && ctx.planned);
    /* conv2d+relu | permute (cpu) | exp */
    assert_int_equal(ctx.nsubgraphs, 2);
    assert_int_equal(ctx.cpu_ops, 1);
    assert_int_equal(ctx.nedges, 2);
    assert_int_equal(ctx.edges[0].why, MF_BLOCK_CPU_OP);
    assert_int_equal(ctx.edges[1].why, MF_BLOCK_CPU_OP);
    /* relu's and permute's outputs (1 KiB each) leave their units; exp's is the output:
     * relu's dies when permute has run, so exp's output reuses its bytes */
    assert_int_equal(ctx.nbuffers, 3);
    assert_int_equal(ctx.naive_bytes, 3 * 1024);
    assert_int_equal(ctx.peak_bytes, 2 * 1024);
    /* relu's result goes to the host for permute, permute's back to the device for exp */
    assert_int_equal(ctx.to_host, 1);
    assert_int_equal(ctx.to_device, 1);
    free(st);
    /* a pass that changes the graph after segment drops the findings */
    mf_node *relu = g->nodes[1];
    assert_int_equal(relu->op, MF_OP_RELU);
    assert_int_equal(mf_pipeline_run(g, "segment,simplify,dce", &ctx, true, NULL, NULL, NULL, NULL), MF_OK);
    assert_true(ctx.segmented); /* nothing changed after segment */
    mf_pass_ctx_release(&ctx);
    mf_graph_destroy(g);
}

/* A pass that breaks the graph: a node's output type no longer matches its inference. */
static mf_status breaker(mf_graph *g, mf_pass_ctx *ctx, int *changes)
{
    (void)ctx;
    g->nodes[1]->outputs[0]->type.shape[1] = 5;
    *changes = 1;
    return MF_OK;
}

static void test_verify_names_the_breaking_pass(void **state)
{
    (void)state;
    const mf_pass_info broken = {"breaker", "breaks the graph", breaker};
    const mf_pass_info *list[] = {mf_pass_find("dce", 3), &broken, mf_pass_find("segment", 7)};
    mf_pass_ctx ctx = mf_pass_ctx_default();
    int n;

    mf_graph *g = parse(small);
    assert_int_equal(mf_pipeline_run_list(g, list, 3, &ctx, true, NULL, NULL, NULL, &n), MF_ERR_INTERNAL);
    assert_non_null(strstr(mf_last_error(), "invalid after pass breaker"));
    assert_int_equal(n, 2); /* segment never ran */
    mf_graph_destroy(g);

    g = parse(small); /* unverified, the breakage goes unnoticed */
    unsetenv("DEBUG");
    assert_int_equal(mf_pipeline_run_list(g, list, 3, &ctx, false, NULL, NULL, NULL, &n), MF_OK);
    mf_graph_destroy(g);

    g = parse(small); /* DEBUG=1 verifies without being asked */
    setenv("DEBUG", "1", 1);
    assert_int_equal(mf_pipeline_run_list(g, list, 3, &ctx, false, NULL, NULL, NULL, &n), MF_ERR_INTERNAL);
    assert_non_null(strstr(mf_last_error(), "after pass breaker"));
    unsetenv("DEBUG");
    mf_graph_destroy(g);
    mf_pass_ctx_release(&ctx);
}

static void record(const char *pass, const mf_graph *g, void *ctx)
{
    char *seen = ctx;
    char buf[32];
    snprintf(buf, sizeof buf, "%s:%d;", pass, g->nnodes);
    strcat(seen, buf);
}

static void test_after_hook_sees_every_pass(void **state)
{
    (void)state;
    mf_graph *g = parse(small);
    mf_pass_ctx ctx = mf_pass_ctx_default();
    char seen[256] = "";
    assert_int_equal(mf_pipeline_run(g, NULL, &ctx, false, record, seen, NULL, NULL), MF_OK);
    assert_string_equal(seen,
                        "dce:4;simplify:4;cse:4;fold:4;conv-bn:4;qconv-winograd:4;winograd:4;fold:"
                        "4;simplify:4;blocked-layout:4;pack-weights:4;dce:4;segment:4;plan:4;");
    mf_pass_ctx_release(&ctx);
    mf_graph_destroy(g);
}

static void test_first_fit(void **state)
{
    (void)state;
    /* steps:   0 1 2 3
     * a 100B   x x        -> 0 (128 aligned)
     * b  64B     x x      -> 128 (live with a at step 1)
     * c 128B       x x    -> 0 (a is dead by step 2; clear of b at 128)
     * d 200B   x x x x    -> 192 (live with all) */
    const mf_live_range r[] = {{0, 1, 100}, {1, 2, 64}, {2, 3, 128}, {0, 3, 200}};
    size_t off[4];
    int order[4];
    assert_int_equal(mf_first_fit(4, r, off, order), 192 + 256);
    assert_int_equal(off[0], 0);
    assert_int_equal(off[1], 128);
    assert_int_equal(off[2], 0);
    assert_int_equal(off[3], 192);
    assert_int_equal(mf_first_fit(0, r, off, order), 0);
}

/* The rescanning first fit it replaced (O(n^3) at worst), as the oracle: both give the lowest
 * 64-aligned offset clear of the earlier ranges live together, so the same offsets. */
static size_t first_fit_rescan(int n, const mf_live_range *r, size_t *offsets)
{
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        size_t size = (r[i].size + 63) / 64 * 64, off = 0;
        for (bool moved = true; moved;) {
            moved = false;
            for (int k = 0; k < i; k++) {
                size_t end = offsets[k] + (r[k].size + 63) / 64 * 64;
                if (r[k].def <= r[i].last && r[i].def <= r[k].last && off < end && offsets[k] < off + size)
                    off = end, moved = true;
            }
        }
        offsets[i] = off;
        total = off + size > total ? off + size : total;
    }
    return total;
}

static void test_first_fit_matches_the_rescan(void **state)
{
    (void)state;
    enum { N = 300 };
    static mf_live_range r[N];
    static size_t a[N], b[N];
    static int order[N];
    unsigned seed = 12345;
    for (int trial = 0; trial < 200; trial++) {
        int n = 1 + trial % N, steps = 1 + trial % 37;
        for (int i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            int d = (int)(seed >> 8) % steps;
            seed = seed * 1103515245u + 12345u;
            r[i] = (mf_live_range){d, d + (int)(seed >> 8) % (steps - d + 1), (seed >> 4) % 7 == 0 ? 0 : (seed >> 12) % 5000};
        }
        for (int i = 1; trial % 2 && i < n; i++) /* odd trials in order of definition: ranges leave the sweep */
            for (int j = i; j > 0 && r[j - 1].def > r[j].def; j--) {
                mf_live_range t = r[j];
                r[j] = r[j - 1], r[j - 1] = t;
            }
        assert_int_equal(mf_first_fit(n, r, a, order), first_fit_rescan(n, r, b));
        for (int i = 0; i < n; i++)
            if (a[i] != b[i])
                fail_msg("trial %d: range %d at %zu, the rescan put it at %zu", trial, i, a[i], b[i]);
    }
}

static void test_fusion_off_one_op_per_subgraph(void **state)
{
    (void)state;
    mf_graph *g = parse(small);
    mf_pass_ctx ctx = mf_pass_ctx_default();
    ctx.fuse = false;
    assert_int_equal(mf_pipeline_run(g, "dce,segment", &ctx, true, NULL, NULL, NULL, NULL), MF_OK);
    assert_int_equal(ctx.nsubgraphs, 3); /* conv2d | relu | exp, permute on the CPU */
    assert_int_equal(ctx.nedges, 3);
    assert_int_equal(ctx.edges[0].why, MF_BLOCK_DISABLED);
    assert_int_equal(mf_fuse_block_name(MF_BLOCK_DISABLED)[0], 'D');
    mf_pass_ctx_release(&ctx);
    mf_graph_destroy(g);
}

/* mf_pass_expand: relus become neg(neg(x)) each, in place; with fail_at >= 0 the expansion
 * of that relu fails after it appended its nodes. */
static const char relus[] =
    "graph @relus(%x: f32[4]) {\n"
    "  %a = relu(%x) : f32[4]\n"
    "  %b = relu(%a) : f32[4]\n"
    "  %c = relu(%b) : f32[4]\n"
    "  return %c\n"
    "}\n";

static mf_status double_neg(mf_graph *g, const mf_node *n, void *arg, mf_node **out)
{
    int *left = arg;
    *out = NULL;
    if (n->op != MF_OP_RELU)
        return MF_OK;
    mf_node *a;
    mf_value *x = n->inputs[0];
    mf_status s = mf_graph_add_node(g, MF_OP_NEG, 1, &x, NULL, &a);
    if (!s)
        s = mf_graph_add_node(g, MF_OP_NEG, 1, &a->outputs[0], NULL, out);
    if (!s && (*left)-- == 0)
        s = mf_error(MF_ERR_INVALID, "no more");
    return s;
}

static void test_expand(void **state)
{
    (void)state;
    mf_graph *g = parse(relus);
    int changes, left = -1;
    assert_int_equal(mf_pass_expand(g, "twice", double_neg, &left, &changes), MF_OK);
    assert_int_equal(changes, 3);
    assert_int_equal(g->nnodes, 6);
    for (int i = 0; i < g->nnodes; i++)
        assert_int_equal(g->nodes[i]->op, MF_OP_NEG);
    assert_int_equal(mf_graph_verify(g), MF_OK);
    mf_graph_destroy(g);
    /* a failure at the second relu names it and leaves every use as it was */
    g = parse(relus);
    left = 1;
    assert_int_equal(mf_pass_expand(g, "twice", double_neg, &left, &changes), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "twice: node 1 (relu)"));
    assert_int_equal(changes, 0);
    assert_int_equal(mf_graph_verify(g), MF_OK);
    assert_int_equal(g->outputs[0]->producer->op, MF_OP_RELU);
    assert_int_equal(g->outputs[0]->producer->inputs[0]->producer->op, MF_OP_RELU);
    mf_graph_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_pass_runs_nothing),
        cmocka_unit_test(test_stats_and_segment_findings),
        cmocka_unit_test(test_verify_names_the_breaking_pass),
        cmocka_unit_test(test_after_hook_sees_every_pass),
        cmocka_unit_test(test_first_fit),
        cmocka_unit_test(test_first_fit_matches_the_rescan),
        cmocka_unit_test(test_fusion_off_one_op_per_subgraph),
        cmocka_unit_test(test_expand),
    };
    return cmocka_run_group_tests_name("pass_manager", tests, NULL, NULL);
}
