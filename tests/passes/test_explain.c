/* test_explain.c — the fusion report: every reason segmentation gives for leaving an edge
 * unfused (mf_fuse_block, passes/passes.h) is produced by a minimal graph in explain/,
 * and the report's lines name the right ends, subgraphs, reason and deciding node.  Checked
 * through the public API (mf_graph_optimize, mf_opt_result_edge/_explain) and, for the
 * nodes behind each decision, through the pass context the segment pass fills. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlufuse/mlufuse.h"
#include "passes/passes.h"
#include "tests/support/tool_run.h"

#define MAX_EDGES 6

typedef struct explain_case {
    const char *file; /* in tests/passes/explain/ */
    int fusion;       /* mf_opt_options.fusion */
    int subgraphs, cpu_ops;
    const char *subgraph_lines; /* the report's "  sgN: ..." and "  cpu: ..." lines (NULL: too
                                 * long to list, not checked) */
    const char *edges[MAX_EDGES]; /* every unfused edge's line, in order */
} explain_case;

static const explain_case cases[] = {
    {"cpu_op.mfir", 1, 3, 3,
     "  cpu: permute %p, concat %c, upsample_nearest2d %u\n  sg0: relu %a\n  sg1: sigmoid %s\n  sg2: tanh %t\n",
     {"%a (relu, sg0) -> %p (permute, cpu): unsupported op: permute has no MLU code and runs on the CPU, with "
      "copies at the boundary",
      "%p (permute, cpu) -> %s (sigmoid, sg1): unsupported op: permute has no MLU code and runs on the CPU, with "
      "copies at the boundary",
      "%s (sigmoid, sg1) -> %c (concat, cpu): unsupported op: concat has no MLU code and runs on the CPU, with "
      "copies at the boundary",
      "%u (upsample_nearest2d, cpu) -> %t (tanh, sg2): unsupported op: upsample_nearest2d has no MLU code and runs "
      "on the CPU, with copies at the boundary"}},
    {"dtype.mfir", 1, 2, 3, "  cpu: cast %h, cast %f, cast %j\n  sg0: relu %a\n  sg1: sigmoid %b, mul %c\n",
     {"%a (relu, sg0) -> %h (cast, cpu): dtype change: cast turns f32 into f64, and MLU code takes f32 only; it "
      "runs on the CPU",
      "%f (cast, cpu) -> %b (sigmoid, sg1): dtype change: cast turns f64 into f32, and MLU code takes f32 only; it "
      "runs on the CPU",
      "%j (cast, cpu) -> %c (mul, sg1): dtype change: cast turns i32 into f32, and MLU code takes f32 only; it runs "
      "on the CPU"}},
    {"disabled.mfir", 0, 3, 0, "  sg0: relu %a\n  sg1: sigmoid %b\n  sg2: tanh %c\n",
     {"%a (relu, sg0) -> %b (sigmoid, sg1): DISABLE_MLU_FUSION: fusion is switched off: every MLU op is its own "
      "subgraph",
      "%b (sigmoid, sg1) -> %c (tanh, sg2): DISABLE_MLU_FUSION: fusion is switched off: every MLU op is its own "
      "subgraph"}},
    {"disabled.mfir", 1, 1, 0, "  sg0: relu %a, sigmoid %b, tanh %c\n", {NULL}}, /* the same, fused */
    {"second_anchor.mfir", 1, 2, 0, "  sg0: linear %a, relu %r\n  sg1: linear %b\n",
     {"%r (relu, sg0) -> %b (linear, sg1): second anchor: sg0 already has linear %a (one anchor per subgraph)"}},
    {"anchor_prologue.mfir", 1, 2, 0, "  sg0: relu %r\n  sg1: conv2d %c\n",
     {"%r (relu, sg0) -> %c (conv2d, sg1): anchor takes no prologue: conv2d starts its own subgraph; only views "
      "whose results go nowhere else are fused in front of an anchor"}},
    {"view_prologue.mfir", 1, 3, 0, "  sg0: flatten %f, linear %a\n  sg1: reshape %g, relu %r\n  sg2: linear %b\n",
     {"%g (reshape, sg1) -> %b (linear, sg2): anchor takes no prologue: linear starts its own subgraph; only views "
      "whose results go nowhere else are fused in front of an anchor"}},
    {"after_reduction.mfir", 1, 3, 0, "  sg0: relu %r, max_pool2d %p, sigmoid %s\n  sg1: sum %m\n  sg2: flatten %f\n",
     {"%s (sigmoid, sg0) -> %m (sum, sg1): after a reduction: sum is a reduction, and sg0 has a reduction "
      "max_pool2d %p already (one core per subgraph)",
      "%s (sigmoid, sg0) -> %f (flatten, sg2): after a reduction: flatten is a view, and sg0 has a reduction "
      "max_pool2d %p already (one core per subgraph)"}},
    {"after_anchor.mfir", 1, 3, 0, "  sg0: conv2d %c\n  sg1: softmax %s\n  sg2: flatten %f\n",
     {"%c (conv2d, sg0) -> %s (softmax, sg1): after an anchor: softmax is a reduction, and sg0 has an anchor "
      "conv2d %c already (one core per subgraph)",
      "%c (conv2d, sg0) -> %f (flatten, sg2): after an anchor: flatten is a view, and sg0 has an anchor conv2d %c "
      "already (one core per subgraph)"}},
    {"full.mfir", 1, 2, 0, NULL,
     {"%r511 (relu, sg0) -> %r512 (relu, sg1): subgraph full: sg0 has 512 ops, the most one kernel takes"}},
    {"larger.mfir", 1, 2, 0, "  sg0: linear %a\n  sg1: add %b\n",
     {"%a (linear, sg0) -> %b (add, sg1): epilogue larger than its core: f32[3,4] is bigger than the output of "
      "its core linear %a, f32[1,4]"}},
    {"convexity.mfir", 1, 2, 1, "  cpu: permute %p\n  sg0: conv2d %a\n  sg1: add %s\n",
     {"%a (conv2d, sg0) -> %p (permute, cpu): unsupported op: permute has no MLU code and runs on the CPU, with "
      "copies at the boundary",
      "%a (conv2d, sg0) -> %s (add, sg1): would break convexity: a path from sg0 leaves it through %p (permute, "
      "cpu) and comes back",
      "%p (permute, cpu) -> %s (add, sg1): unsupported op: permute has no MLU code and runs on the CPU, with "
      "copies at the boundary"}},
    {"convexity_mlu.mfir", 1, 2, 0, "  sg0: conv2d %a\n  sg1: softmax %s, mul %m\n",
     {"%a (conv2d, sg0) -> %s (softmax, sg1): after an anchor: softmax is a reduction, and sg0 has an anchor "
      "conv2d %a already (one core per subgraph)",
      "%a (conv2d, sg0) -> %m (mul, sg1): would break convexity: a path from sg0 leaves it through %s (softmax, "
      "sg1) and comes back"}},
    {"other_producer.mfir", 1, 2, 0, "  sg0: conv2d %a, add %s\n  sg1: conv2d %b\n",
     {"%b (conv2d, sg1) -> %s (add, sg0): joined another producer: it went into the subgraph of %a (conv2d, sg0) "
      "(an op joins one producer's subgraph)"}},
    {"codegen_limit.mfir", 1, 2, 1, "  cpu: matmul %m\n  sg0: relu %a\n  sg1: sigmoid %s\n",
     {"%a (relu, sg0) -> %m (matmul, cpu): codegen limit: MLU code cannot build matmul with a 1-D operand; it "
      "runs on the CPU",
      "%m (matmul, cpu) -> %s (sigmoid, sg1): codegen limit: MLU code cannot build matmul with a 1-D operand; it "
      "runs on the CPU"}},
    {"no_epilogue.mfir", 1, 2, 0, "  sg0: winograd_input %t\n  sg1: relu %r\n",
     {"%t (winograd_input, sg0) -> %r (relu, sg1): core takes no epilogue: sg0 ends in winograd_input %t, whose "
      "kernel takes no epilogue"}},
    {"expand_dw_small.mfir", 1, 2, 0, "  sg0: conv2d %e, clamp %a\n  sg1: conv2d %d\n",
     {"%a (clamp, sg0) -> %d (conv2d, sg1): small expansion: conv2d %e expands to f32[1,64,16,16], 64 KiB, under "
      "the 1024 KiB from which a 1x1 expansion and its depthwise conv run as one kernel"}},
    /* the one subgraph with two anchors, and the line that says why */
    {"expand_dw_fused.mfir", 1, 2, 0,
     "  sg0: conv2d %e, clamp %a, conv2d %d, clamp %r\n  sg1: conv2d %p\n"
     "  sg0 fuses conv2d %e (1x1 expansion) -> conv2d %d (3x3 depthwise, stride 1): its f32[1,64,64,64] is 1024 "
     "KiB, at least 1024 KiB, so it is computed a band of rows at a time and never stored\n",
     {"%r (clamp, sg0) -> %p (conv2d, sg1): second anchor: sg0 already has conv2d %d (one anchor per subgraph)"}},
    /* the whole block: three anchors */
    {"inverted_residual_fused.mfir", 1, 1, 0,
     "  sg0: conv2d %e, clamp %a, conv2d %d, clamp %r, conv2d %p, add %s\n"
     "  sg0 fuses conv2d %e (1x1 expansion) -> conv2d %d (3x3 depthwise, stride 1) -> conv2d %p (1x1 projection): "
     "its f32[1,64,64,64] is 1024 KiB, at least 1024 KiB, so it is computed a band of rows at a time, the "
     "depthwise rows too, and neither is stored\n",
     {NULL}},
    {"dw_project_small.mfir", 1, 2, 0, "  sg0: conv2d %d, clamp %a\n  sg1: conv2d %p\n",
     {"%a (clamp, sg0) -> %p (conv2d, sg1): small depthwise: conv2d %d makes f32[1,64,16,16], 64 KiB, under the "
      "1024 KiB from which a depthwise conv and its 1x1 projection run as one kernel"}},
    {"dw_project_fused.mfir", 1, 1, 0,
     "  sg0: conv2d %d, clamp %a, conv2d %p, add %s\n"
     "  sg0 fuses conv2d %d (3x3 depthwise, stride 1) -> conv2d %p (1x1 projection): its f32[1,64,64,64] is 1024 "
     "KiB, at least 1024 KiB, so it is computed a band of rows at a time and never stored\n",
     {NULL}},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

/* Cases for a target of a given width: a Winograd conv's three nodes in one kernel on a
 * 16-lane target, too large a U or too wide a plane for it, a half model's, too small tiles
 * for it, and an 8-lane target. */
typedef struct lanes_case {
    int lanes; /* the target's f32 lanes */
    explain_case c;
} lanes_case;

static const lanes_case lanes_cases[] = {
    {16,
     {"winograd_fused.mfir", 1, 1, 0,
      "  sg0: winograd_input %t, matmul %m, winograd_output %o, relu %r\n"
      "  sg0 fuses winograd_input %t -> matmul %m -> winograd_output %o (a 3x3 conv as Winograd F(4,3)): its "
      "transformed tiles and their products are computed a block of tile rows at a time and never stored\n",
      {NULL}}},
    {16,
     {"winograd_large.mfir", 1, 3, 0, "  sg0: winograd_input %t\n  sg1: matmul %m\n  sg2: winograd_output %o\n",
      {"%t (winograd_input, sg0) -> %m (matmul, sg1): large Winograd chain: matmul %m multiplies f32[36,128,128] "
       "transformed weights, 2304 KiB, over the 1024 KiB up to which a 3x3 conv's Winograd transforms and GEMMs "
       "run as one kernel",
       "%m (matmul, sg1) -> %o (winograd_output, sg2): second anchor: sg1 already has matmul %m (one anchor per "
       "subgraph)"}}},
    {16,
     {"winograd_wide.mfir", 1, 3, 0, "  sg0: winograd_input %t\n  sg1: matmul %m\n  sg2: winograd_output %o\n",
      {"%t (winograd_input, sg0) -> %m (matmul, sg1): large Winograd chain: a block of one row of winograd_output "
       "%o's tiles of all 128 input channels takes 1260 KiB of buffers, over the 1024 KiB of the kernel that runs a "
       "3x3 conv's Winograd transforms and GEMMs as one",
       "%m (matmul, sg1) -> %o (winograd_output, sg2): second anchor: sg1 already has matmul %m (one anchor per "
       "subgraph)"}}},
    {16,
     {"winograd_half.mfir", 1, 1, 0,
      "  sg0: cast %h, winograd_input %t, matmul %m, winograd_output %o, relu %r\n"
      "  sg0 fuses winograd_input %t -> matmul %m -> winograd_output %o (a 3x3 conv as Winograd F(4,3)): its "
      "transformed tiles and their products are computed a block of tile rows at a time and never stored\n",
      {NULL}}},
    {16,
     {"winograd_small.mfir", 1, 3, 0,
      "  sg0: winograd_input %t\n  sg1: matmul %m\n  sg2: winograd_output %o, relu %r\n",
      {"%t (winograd_input, sg0) -> %m (matmul, sg1): small Winograd tiles: winograd_input %t makes f32[36,16,49], "
       "110 KiB, under the 1024 KiB from which a 3x3 conv's Winograd transforms and GEMMs run as one kernel",
       "%m (matmul, sg1) -> %o (winograd_output, sg2): second anchor: sg1 already has matmul %m (one anchor per "
       "subgraph)"}}},
    {8,
     {"winograd_fused.mfir", 1, 3, 0,
      "  sg0: winograd_input %t\n  sg1: matmul %m\n  sg2: winograd_output %o, relu %r\n",
      {"%t (winograd_input, sg0) -> %m (matmul, sg1): Winograd on narrow vectors: the target has fewer than 16 "
       "f32 lanes, where a 3x3 conv's Winograd transforms and GEMMs run as three kernels (as one, resnet18's 56x56 "
       "layers ran 10 % slower on AVX2 code)",
       "%m (matmul, sg1) -> %o (winograd_output, sg2): second anchor: sg1 already has matmul %m (one anchor per "
       "subgraph)"}}},
};
#define NLANES_CASES ((int)(sizeof lanes_cases / sizeof lanes_cases[0]))

static mf_graph *load(const char *file)
{
    char path[1024];
    mf_graph *g;
    snprintf(path, sizeof path, "%s/tests/passes/explain/%s", tsupport_source_dir(), file);
    if (mf_graph_load(path, &g))
        fail_msg("%s", mf_last_error());
    return g;
}

static void subgraph_name(char *buf, size_t cap, int s)
{
    if (s < 0)
        snprintf(buf, cap, "cpu");
    else
        snprintf(buf, cap, "sg%d", s);
}

/* Runs the default pipeline on the case's graph, for a target of `lanes` f32 lanes (0: this
 * machine's), and checks the whole report. */
static void check_case_lanes(const explain_case *c, int fusion, int lanes)
{
    mf_graph *g = load(c->file);
    mf_opt_options o = mf_opt_default_options();
    o.fusion = fusion;
    o.verify = 1;
    o.lanes = lanes;
    mf_opt_result *r;
    if (mf_graph_optimize(g, &o, &r))
        fail_msg("%s: %s", c->file, mf_last_error());
    mf_opt_summary s = mf_opt_result_summary(r);
    int nedges = 0;
    while (nedges < MAX_EDGES && c->edges[nedges])
        nedges++;
    assert_int_equal(s.segmented, 1);
    if (s.subgraphs != c->subgraphs || s.cpu_ops != c->cpu_ops || s.unfused_edges != nedges)
        fail_msg("%s: %d subgraphs, %d CPU ops, %d edges; expected %d, %d, %d\n%s", c->file, s.subgraphs, s.cpu_ops,
                 s.unfused_edges, c->subgraphs, c->cpu_ops, nedges, mf_opt_result_explain(r));
    assert_int_equal(mf_opt_result_num_edges(r), nedges);
    assert_null(mf_opt_result_edge(r, nedges));
    assert_null(mf_opt_result_edge(r, -1));

    /* the report: header, subgraphs, count, one indented line per edge */
    char head[1024];
    snprintf(head, sizeof head, "subgraphs: %d MLU, %d CPU ops\n%sunfused edges: %d\n", c->subgraphs, c->cpu_ops,
             c->subgraph_lines ? c->subgraph_lines : "", nedges);
    const char *text = mf_opt_result_explain(r), *line;
    if (c->subgraph_lines) {
        if (strncmp(text, head, strlen(head)))
            fail_msg("%s: the report starts\n%s\nnot\n%s", c->file, text, head);
        line = text + strlen(head);
    } else { /* too many subgraph lines to list: check from the edge count on */
        char count[64];
        snprintf(count, sizeof count, "unfused edges: %d\n", nedges);
        line = strstr(text, count);
        assert_non_null(line);
        line += strlen(count);
    }
    for (int i = 0; i < nedges; i++) {
        const mf_opt_edge *e = mf_opt_result_edge(r, i);
        if (strcmp(e->text, c->edges[i]))
            fail_msg("%s: edge %d reads\n  %s\nexpected\n  %s", c->file, i, e->text, c->edges[i]);
        /* the edge's fields say what its line says */
        char a[16], b[16], prefix[512];
        subgraph_name(a, sizeof a, e->from_subgraph);
        subgraph_name(b, sizeof b, e->to_subgraph);
        snprintf(prefix, sizeof prefix, "%s (%s, %s) -> %s (%s, %s): %s: ", e->from, e->from_op, a, e->to, e->to_op, b,
                 e->reason);
        if (strncmp(e->text, prefix, strlen(prefix)))
            fail_msg("%s: edge fields '%s' disagree with its text '%s'", c->file, prefix, e->text);
        assert_true(!strncmp(line, "  ", 2) && !strncmp(line + 2, e->text, strlen(e->text)) &&
                    line[2 + strlen(e->text)] == '\n');
        line += 3 + strlen(e->text);
    }
    assert_string_equal(line, ""); /* nothing after the last edge */
    mf_opt_result_free(r);
    mf_graph_destroy(g);
}

static void check_case(const explain_case *c, int fusion)
{
    check_case_lanes(c, fusion, 0);
}

static void test_every_case(void **state)
{
    for (int i = 0; i < NCASES; i++)
        check_case(&cases[i], cases[i].fusion);
    for (int i = 0; i < NLANES_CASES; i++)
        check_case_lanes(&lanes_cases[i].c, lanes_cases[i].c.fusion, lanes_cases[i].lanes);
}

static const explain_case *find_case(const char *file, int fusion)
{
    for (int i = 0; i < NCASES; i++)
        if (!strcmp(cases[i].file, file) && cases[i].fusion == fusion)
            return &cases[i];
    fail_msg("no case %s", file);
    return NULL;
}

/* DISABLE_MLU_FUSION=1 in the environment does what fusion = 0 does; "0" fuses. */
static void test_disable_env(void **state)
{
    const explain_case *off = find_case("disabled.mfir", 0), *on = find_case("disabled.mfir", 1);
    setenv("DISABLE_MLU_FUSION", "1", 1);
    check_case(off, -1);
    setenv("DISABLE_MLU_FUSION", "0", 1);
    check_case(on, -1);
    check_case(off, 0); /* an explicit setting wins */
    setenv("DISABLE_MLU_FUSION", "1", 1);
    check_case(on, 1);
    unsetenv("DISABLE_MLU_FUSION");
}

/* Every reason there is, and only those, is reached by some case above. */
/* Counts in seen[] the reason of each of c's edges (exactly one each). */
static void count_reasons(const explain_case *c, int *seen)
{
    for (int k = 0; k < MAX_EDGES && c->edges[k]; k++) {
        int found = 0;
        for (int b = 0; b < MF_BLOCK_COUNT; b++) {
            char pat[128];
            snprintf(pat, sizeof pat, "): %s: ", mf_fuse_block_name((mf_fuse_block)b));
            if (strstr(c->edges[k], pat))
                seen[b]++, found++;
        }
        assert_int_equal(found, 1);
    }
}

static void test_every_reason_is_reached(void **state)
{
    int seen[MF_BLOCK_COUNT] = {0};
    for (int i = 0; i < NCASES; i++)
        count_reasons(&cases[i], seen);
    for (int i = 0; i < NLANES_CASES; i++)
        count_reasons(&lanes_cases[i].c, seen);
    for (int b = 0; b < MF_BLOCK_COUNT; b++) {
        if (!seen[b])
            fail_msg("no case gives reason %d (%s)", b, mf_fuse_block_name((mf_fuse_block)b));
        for (int k = 0; k < b; k++) /* names tell reasons apart */
            assert_string_not_equal(mf_fuse_block_name((mf_fuse_block)b), mf_fuse_block_name((mf_fuse_block)k));
    }
    assert_string_equal(mf_fuse_block_name(MF_BLOCK_COUNT), "?");
}

/* The node found by its output's name. */
static const mf_node *node(const mf_graph *g, const char *name)
{
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i]->outputs[0]->name && !strcmp(g->nodes[i]->outputs[0]->name, name))
            return g->nodes[i];
    fail_msg("no node %%%s", name);
    return NULL;
}

typedef struct internal_case {
    const char *file, *passes;
    int edge;                       /* index in ctx.edges */
    mf_fuse_block why;
    const char *from, *to, *other, *via; /* node output names; NULL: no node */
} internal_case;

/* What the pass context records behind each line: the enum, both ends, the deciding node
 * (`other`) and, for convexity, the outside node of the path (`via`). */
static void test_pass_context(void **state)
{
    static const internal_case ic[] = {
        {"cpu_op.mfir", "segment", 0, MF_BLOCK_CPU_OP, "a", "p", "p", NULL},
        {"cpu_op.mfir", "segment", 3, MF_BLOCK_CPU_OP, "u", "t", "u", NULL},
        {"dtype.mfir", "segment", 0, MF_BLOCK_DTYPE, "a", "h", "h", NULL},
        {"second_anchor.mfir", "segment", 0, MF_BLOCK_SECOND_ANCHOR, "r", "b", "a", NULL},
        {"anchor_prologue.mfir", "segment", 0, MF_BLOCK_ANCHOR_PROLOGUE, "r", "c", NULL, NULL},
        {"after_reduction.mfir", "segment", 1, MF_BLOCK_AFTER_REDUCTION, "s", "f", "p", NULL},
        {"after_anchor.mfir", "segment", 0, MF_BLOCK_AFTER_ANCHOR, "c", "s", "c", NULL},
        {"larger.mfir", "segment", 0, MF_BLOCK_LARGER, "a", "b", "a", NULL},
        {"convexity.mfir", "dce,simplify,segment", 1, MF_BLOCK_CONVEXITY, "a", "s", "p", "p"},
        {"convexity_mlu.mfir", "segment", 1, MF_BLOCK_CONVEXITY, "a", "m", "s", "s"},
        {"other_producer.mfir", "segment", 0, MF_BLOCK_OTHER_PRODUCER, "b", "s", "a", NULL},
        {"codegen_limit.mfir", "segment", 0, MF_BLOCK_CODEGEN_LIMIT, "a", "m", "m", NULL},
        {"no_epilogue.mfir", "segment", 0, MF_BLOCK_NO_EPILOGUE, "t", "r", "t", NULL},
        {"expand_dw_small.mfir", "segment", 0, MF_BLOCK_SMALL_EXPANSION, "a", "d", "e", NULL},
        {"dw_project_small.mfir", "segment", 0, MF_BLOCK_SMALL_DEPTHWISE, "a", "p", "d", NULL},
        {"winograd_large.mfir", "segment", 0, MF_BLOCK_LARGE_WINOGRAD, "t", "m", "o", NULL},
        {"winograd_small.mfir", "segment", 0, MF_BLOCK_SMALL_WINOGRAD, "t", "m", "t", NULL},
        {"winograd_fused.mfir", "segment", 0, MF_BLOCK_NARROW_WINOGRAD, "t", "m", "t", NULL}, /* at 8 lanes */
    };
    for (size_t i = 0; i < sizeof ic / sizeof ic[0]; i++) {
        mf_graph *g = load(ic[i].file);
        mf_pass_ctx ctx = mf_pass_ctx_default();
        ctx.fuse = true;
        ctx.lanes = ic[i].why == MF_BLOCK_NARROW_WINOGRAD ? 8 : 0; /* 0: unknown, as wide as any */
        if (mf_pipeline_run(g, ic[i].passes, &ctx, true, NULL, NULL, NULL, NULL))
            fail_msg("%s: %s", ic[i].file, mf_last_error());
        assert_true(ctx.segmented);
        assert_true(ic[i].edge < ctx.nedges);
        const mf_fuse_edge *e = &ctx.edges[ic[i].edge];
        if (e->why != ic[i].why)
            fail_msg("%s: edge %d is '%s', expected '%s'", ic[i].file, ic[i].edge, mf_fuse_block_name(e->why),
                     mf_fuse_block_name(ic[i].why));
        assert_ptr_equal(e->from, node(g, ic[i].from));
        assert_ptr_equal(e->to, node(g, ic[i].to));
        assert_ptr_equal(e->value, e->from->outputs[0]);
        if (ic[i].other)
            assert_ptr_equal(e->other, node(g, ic[i].other));
        if (ic[i].via)
            assert_ptr_equal(e->via, node(g, ic[i].via));
        else
            assert_null(e->via);
        /* the text of one edge is the report's line */
        char **names;
        assert_int_equal(mf_graph_value_names(g, &names), MF_OK);
        char *text = mf_fuse_edge_text(names, e), *report;
        assert_non_null(text);
        assert_int_equal(mf_pass_explain(g, &ctx, &report), MF_OK);
        char line[1024];
        snprintf(line, sizeof line, "\n  %s\n", text);
        assert_non_null(strstr(report, line));
        free(text);
        free(report);
        free(names);
        mf_pass_ctx_release(&ctx);
        mf_graph_destroy(g);
    }
}

/* A pass that changes the graph after segment voids the report (its edges could name
 * removed nodes): no edges, no text, until segment runs again. */
static void test_stale_report_dropped(void **state)
{
    static const char text[] = "graph @g(%x: f32[2,8]) {\n"
                               "  %a = relu(%x) : f32[2,8]\n"
                               "  %dead = tanh(%x) : f32[2,8]\n"
                               "  %w = const f32[4,8] opaque\n"
                               "  %b = linear(%a, %w) : f32[2,4]\n"
                               "  return %b\n"
                               "}\n";
    static const struct {
        const char *passes;
        int segmented, nedges;
    } runs[] = {{"segment", 1, 1}, {"segment,plan", 1, 1}, {"segment,dce", 0, 0}, {"segment,dce,segment", 1, 1},
                {"dce,segment,cse", 1, 1}};
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        mf_graph *g;
        assert_int_equal(mf_graph_parse(text, NULL, &g), MF_OK);
        mf_opt_options o = mf_opt_default_options();
        o.passes = runs[i].passes;
        mf_opt_result *r;
        assert_int_equal(mf_graph_optimize(g, &o, &r), MF_OK);
        mf_opt_summary s = mf_opt_result_summary(r);
        if (s.segmented != runs[i].segmented || mf_opt_result_num_edges(r) != runs[i].nedges)
            fail_msg("%s: segmented %d with %d edges", runs[i].passes, s.segmented, mf_opt_result_num_edges(r));
        if (s.segmented)
            assert_non_null(strstr(mf_opt_result_explain(r), "  %a (relu, sg0) -> %b (linear, "));
        else
            assert_string_equal(mf_opt_result_explain(r), "");
        mf_opt_result_free(r);
        mf_graph_destroy(g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_case),
        cmocka_unit_test(test_disable_env),
        cmocka_unit_test(test_every_reason_is_reached),
        cmocka_unit_test(test_pass_context),
        cmocka_unit_test(test_stale_report_dropped),
    };
    return cmocka_run_group_tests_name("explain", tests, NULL, NULL);
}
