/* passes.h — graph passes over the IR (passes/ depends on ir/ only): one file a pass, each
 * with one entry point `mf_status mf_pass_NAME(mf_graph *g, mf_pass_ctx *ctx, int *changes)`,
 * and the pass manager (pass_manager.c) that runs them by name in an ordered pipeline. */
#ifndef MF_PASSES_H
#define MF_PASSES_H

#include "ir/ir.h"

/* ---- what passes share: settings in, findings out -------------------------------------- */

/* Evaluates one op on host data, with the contract of a reference kernel (contiguous
 * row-major inputs and output; types already inferred).  Constant folding needs it; the
 * layer that links the reference kernels provides it (passes/ cannot depend on runtime/). */
typedef mf_status (*mf_pass_eval_fn)(mf_op op, const mf_attr *attrs, int nin,
                                     const void *const *in, const mf_type *in_types, void *out,
                                     const mf_type *out_type, void *ctx);

/* Why an edge between two subgraphs (or a subgraph and a CPU op) was not fused. */
typedef enum mf_fuse_block {
    MF_BLOCK_CPU_OP,          /* an end of the edge has no device code: it runs on the CPU */
    MF_BLOCK_DTYPE,           /* a dtype change, or a dtype MLU code does not take (f32 only) */
    MF_BLOCK_DISABLED,        /* DISABLE_MLU_FUSION=1: every MLU op is its own subgraph */
    MF_BLOCK_SECOND_ANCHOR,   /* the consumer is an anchor and the producer's subgraph has one */
    MF_BLOCK_ANCHOR_PROLOGUE, /* the consumer is an anchor: anchors take no prologue */
    MF_BLOCK_AFTER_REDUCTION, /* a reduction or view after a subgraph that ends in a reduction */
    MF_BLOCK_AFTER_ANCHOR,    /* a reduction or view after an anchor (it would re-index it) */
    MF_BLOCK_LARGER,          /* an epilogue bigger than the core's output (broadcast grows) */
    MF_BLOCK_CONVEXITY,       /* joining would let a path leave the subgraph and come back */
    MF_BLOCK_OTHER_PRODUCER,  /* the consumer joined the subgraph of another of its producers */
    MF_BLOCK_FULL,            /* the producer's subgraph has MF_SEG_MAX_NODES ops already */
    MF_BLOCK_CODEGEN_LIMIT,   /* an end's shapes are beyond codegen (mf_node_mlu_limit): CPU */
    MF_BLOCK_NO_EPILOGUE,     /* the producer's subgraph ends in a core that takes no epilogue */
    MF_BLOCK_SMALL_EXPANSION, /* expand-depthwise, wide tensor under MF_SEG_EXPAND_DW_BYTES */
    MF_BLOCK_SMALL_DEPTHWISE, /* depthwise-project, its middle under MF_SEG_DW_PROJECT_BYTES */
    MF_BLOCK_LARGE_WINOGRAD,  /* a Winograd chain whose sizes do not fit one kernel (ir.h); other:
                               * its output transform */
    MF_BLOCK_NARROW_WINOGRAD, /* a Winograd chain on a target of fewer than 16 lanes (ir.h) */
    MF_BLOCK_SMALL_WINOGRAD,  /* a Winograd chain, its tiles under MF_SEG_WINOGRAD_CHAIN_BYTES */
    MF_BLOCK_COUNT
} mf_fuse_block;

const char *mf_fuse_block_name(mf_fuse_block b); /* "second anchor", ... */

/* The most ops segmentation puts in one fused subgraph.  Codegen walks a kernel's
 * expressions recursively (about 1 KB of stack per level), so a chain of 20,000 fusible
 * ops in one kernel overflowed the stack; cut into subgraphs of at most this many ops it
 * compiles, and one kernel boundary per 512 ops costs nothing measurable. */
#define MF_SEG_MAX_NODES 512
/* An expand-depthwise chain (ir/expand_dw.c) is one subgraph, its two anchors one kernel,
 * when its expanded tensor has at least this many bytes: smaller ones stay in L2 between
 * two kernels anyway, and the fused kernel recomputes nothing but costs compile time. */
#define MF_SEG_EXPAND_DW_BYTES (1 << 20)
/* A depthwise-project chain (ir/expand_dw.c) is one subgraph when its depthwise result has
 * at least this many bytes.  Below it, a partition of a two-thread launch has so few rows
 * that the depthwise part pays its per-channel set-up (weights, a short sweep) for a row or
 * two: mobilenet_v2's 14x14x384 and 28x28x192 layers ran 12-25 % slower fused at two
 * threads, its 112x112x32 one 15 % faster (docs/benchmarks.md). */
#define MF_SEG_DW_PROJECT_BYTES (1 << 20)
/* A Winograd chain (ir.h) is one subgraph when its transformed tiles (the input transform's
 * result) have at least this many bytes: smaller ones stay in L2 between the three kernels,
 * and mnist_net's 24x24 layer (162 KiB) ran 6 % slower fused on one thread, 10 % on two. */
#define MF_SEG_WINOGRAD_CHAIN_BYTES (1 << 20)
/* One unfused edge: value `value`, made by `from`, used by `to` (nodes of the graph). */
typedef struct mf_fuse_edge {
    const mf_node *from, *to;
    const mf_value *value;
    mf_fuse_block why;
    const mf_node *via;   /* MF_BLOCK_CONVEXITY: the outside node the path goes through */
    const mf_node *other; /* MF_BLOCK_OTHER_PRODUCER, _SECOND_ANCHOR, _AFTER_*: the node
                           * that decided it (the producer joined, the core); _LARGE_WINOGRAD:
                           * the chain's output transform */
} mf_fuse_edge;

typedef struct mf_pass_ctx {
    /* settings */
    bool fuse;               /* false: DISABLE_MLU_FUSION */
    size_t fold_limit;       /* constant folding: largest result, bytes (weight transforms
                              * such as winograd_weight fold at any size) */
    int winograd;            /* 0: 3x3 convs stay direct; 1: Winograd where it wins, its
                              * transformed weights within a limit (winograd.c); 2: where it
                              * wins, whatever their size (MLUFUSE_WINOGRAD 0, 1, 2) */
    int qconv_winograd;      /* qconv-winograd: -1 as the target prefers (below), 0 never,
                              * 1 always; MLUFUSE_QCONV_WINOGRAD=0 or 1 sets it */
    int lanes;               /* f32 lanes of the target compiled for; 0: unknown */
    mf_pass_eval_fn eval;    /* NULL: constant folding does nothing */
    void *eval_ctx;
    /* pack-weights: the block of output channels in which the target's kernel for conv2d
     * node n reads its weights, 0 to leave them plain; NULL: no packing (no target) */
    int64_t (*conv_weight_block)(const mf_node *n, void *target_ctx);
    /* pack-weights: whether the target's kernel for qconv2d node n reads its weight rows
     * taps first (qconv2d's taps_first); NULL: never */
    bool (*qconv_taps_first)(const mf_node *n, void *target_ctx);
    /* qconv-winograd with qconv_winograd -1: whether the target runs int8 3x3 convs slower
     * than f32 Winograd; NULL: no target, int8 stays */
    bool (*qconv_prefers_winograd)(void *target_ctx);
    void *target_ctx;
    /* findings of segment and plan, for reports; the pass manager clears segmented and
     * planned when a later pass changes the graph (the findings no longer hold) */
    bool segmented, planned;
    int nsubgraphs, cpu_ops;
    mf_fuse_edge *edges; /* unfused edges, in node order (owned: mf_pass_ctx_release) */
    int nedges, edges_cap;
    size_t peak_bytes;  /* planned activation memory with buffer reuse */
    size_t naive_bytes; /* one buffer per materialized value */
    int nbuffers;       /* materialized values */
    int to_host, to_device; /* values copied across the device/host boundary per run */
} mf_pass_ctx;

/* Settings from the environment: fuse unless DISABLE_MLU_FUSION is set (and not "0"),
 * Winograd at the level MLUFUSE_WINOGRAD says ("0" or "2"; else 1: mf_pass_winograd_env
 * tells a bad value), qconv_winograd from MLUFUSE_QCONV_WINOGRAD ("0"
 * or "1"; else -1), fold_limit 1 MiB, lanes 0, no evaluator. */
mf_pass_ctx mf_pass_ctx_default(void);
void mf_pass_ctx_release(mf_pass_ctx *ctx);

/* ---- the passes (one file each) ------------------------------------------------------- */

/* dce.c: removes nodes whose results are never used, bypasses inference identities
 * (dropout) and reshapes/flattens to the same shape. */
mf_status mf_pass_dce(mf_graph *g, mf_pass_ctx *ctx, int *changes);
/* cse.c: a node with the same op, inputs and attributes as an earlier one is replaced by
 * it; constants with equal type and bytes are merged. */
mf_status mf_pass_cse(mf_graph *g, mf_pass_ctx *ctx, int *changes);
/* fold.c: a node whose inputs are all constants with data, and whose result is at most
 * ctx->fold_limit bytes, is computed by ctx->eval and becomes a constant. */
mf_status mf_pass_fold(mf_graph *g, mf_pass_ctx *ctx, int *changes);
/* conv_bn.c: batch_norm of a conv2d or linear output (used by nothing else) with constant
 * weights is folded into the anchor's weight and bias. */
mf_status mf_pass_conv_bn(mf_graph *g, mf_pass_ctx *ctx, int *changes);
/* winograd.c: 3x3 stride-1 conv2d where Winograd F(4,3) wins (the rule is in the file)
 * becomes winograd_weight -> matmul <- winograd_input, then winograd_output (the anchor
 * that takes the conv's bias and epilogue).  A fold pass after it transforms the weights. */
mf_status mf_pass_winograd(mf_graph *g, mf_pass_ctx *ctx, int *changes);
/* Would the winograd pass at `level` (mf_pass_ctx's winograd, 1 or 2) rewrite node n? */
bool mf_winograd_applies(const mf_node *n, int level);
/* The rule itself, for a conv of weight w, result out and geometry v of any dtype, at `level`
 * (2 lifts the limit on the transformed weights' size). */
bool mf_winograd_fits(const mf_type *w, const mf_type *out, const mf_conv2d_view *v, int level);
/* MLUFUSE_WINOGRAD as a level (unset or empty: 1); a value other than 0, 1 or 2 is an error
 * naming it. */
mf_status mf_pass_winograd_env(int *level);
/* The level an option asks (-1: MLUFUSE_WINOGRAD's, 0, 1 or 2); another value is an error that
 * names `who`. */
mf_status mf_pass_winograd_level(int option, const char *who, int *level);
/* Would it put channels in the lanes (the channels_last layout) for a target with `lanes`
 * f32 lanes? */
bool mf_winograd_channels_last(const mf_node *n, int lanes);
/* qconv_winograd.c: on targets whose int8 products are slow (ctx->qconv_prefers_winograd),
 * int8 3x3 convs that the winograd pass would take in f32 become quantize(clamp(conv2d(
 * dequantize(x), w * w_scale, b))), which it then takes.  Off with ctx->winograd. */
mf_status mf_pass_qconv_winograd(mf_graph *g, mf_pass_ctx *ctx, int *changes);
/* pack_weights.c: conv2d's constant weights repacked once into the layout the target's
 * kernel reads (ctx->conv_weight_block); the conv's `packed` attribute says the block.
 * qconv2d's rows are first put taps first where the target asks (ctx->qconv_taps_first,
 * the `taps_first` attribute). */
mf_status mf_pass_pack_weights(mf_graph *g, mf_pass_ctx *ctx, int *changes);
/* blocked_layout.c: regions of small-plane 1x1 and depthwise convs (with their elementwise
 * ops) in the blocked channel layout of ctx->lanes channels; nothing without a target. */
mf_status mf_pass_blocked_layout(mf_graph *g, mf_pass_ctx *ctx, int *changes);
/* simplify.c: algebraic identities: x*1, x/1, x+0, x-0 (same shape), permute of permute,
 * reshape/flatten chains. */
mf_status mf_pass_simplify(mf_graph *g, mf_pass_ctx *ctx, int *changes);
/* segment.c: fusion into MLU subgraphs (DESIGN.md's rules, always convex) and
 * segmentation: node->subgraph 0..n-1, -1 for ops that run on the CPU; records every
 * unfused edge with its reason in ctx->edges. */
mf_status mf_pass_segment(mf_graph *g, mf_pass_ctx *ctx, int *changes);
/* memplan.c: liveness-based buffer reuse over the values a segmented graph materializes;
 * fills ctx->peak_bytes, naive_bytes, nbuffers and the boundary copies.  Changes nothing. */
mf_status mf_pass_plan(mf_graph *g, mf_pass_ctx *ctx, int *changes);

/* explain.c: one line per unfused edge, values named as the printer names them:
 * "%3 (conv2d, sg0) -> %4 (conv2d, sg1): second anchor: sg0 already has conv2d %3".
 * *text is malloc'd ("" when there is nothing to explain). */
mf_status mf_pass_explain(const mf_graph *g, const mf_pass_ctx *ctx, char **text);
/* One edge's line, without indent (names: mf_graph_value_names); malloc'd, NULL if out
 * of memory. */
char *mf_fuse_edge_text(char **names, const mf_fuse_edge *e);

/* Whether v is an f32 constant whose data the pass can read (rewrite.c): the weights that
 * conv-bn folds, winograd transforms and blocked-layout lays out. */
bool mf_pass_f32_data(const mf_value *v);
/* A rewriting pass's walk (rewrite.c): n's inputs follow repl (indexed by value id below
 * nrepl; NULL keeps a value). */
void mf_pass_redirect(mf_node *n, mf_value *const *repl, int nrepl);
/* The end of a rewriting pass (rewrite.c): graph outputs follow repl (indexed by value id
 * below nrepl; NULL keeps a value), then the `count` nodes marked in dead go. */
void mf_pass_apply(mf_graph *g, mf_value *const *repl, int nrepl, const bool *dead, int count);
/* A pass that expands nodes (rewrite.c): expand appends the nodes that replace n and sets
 * *out to the one whose result takes n's place, or leaves *out NULL to keep n. */
typedef mf_status (*mf_pass_expand_fn)(mf_graph *g, const mf_node *n, void *arg, mf_node **out);
/* Calls expand on every node in order; the nodes it appends go where the node was, its users
 * read *out's result, and the replaced nodes go.  *changes: how many were replaced; a failure
 * names the pass and the node and leaves every use as it was (appended nodes, unused, stay
 * at the end). */
mf_status mf_pass_expand(mf_graph *g, const char *pass, mf_pass_expand_fn expand, void *arg, int *changes);

/* ---- memory planning helpers shared with the module's plan builder (memplan.c) -------- */

/* A buffer live from step `def` to step `last` (inclusive) of `size` bytes. */
/* The run order of a segmented graph's units (unit_order.c): a unit is an MLU subgraph
 * (its node->subgraph id, below nsub) or one CPU op (numbered from nsub on). */
typedef struct mf_unit_order {
    int *unit;  /* per node id: its unit */
    int *first; /* per unit: index in g->nodes of its first node; -1: a unit with no node */
    int *order; /* the units with nodes, in run order (nordered of them) */
    int *step;  /* per unit: its position in order; -1 when it has no node */
    int nunits, nordered;
} mf_unit_order;

/* Orders g's units topologically, the ready unit with the smallest first node first (the
 * one order the memory plan and the module's plan use); MF_ERR_INTERNAL on a cycle.
 * Free with mf_unit_order_free (also after a failure). */
mf_status mf_unit_order_make(const mf_graph *g, int nsub, mf_unit_order *o);
void mf_unit_order_free(mf_unit_order *o);

typedef struct mf_live_range {
    int def, last;
    size_t size;
} mf_live_range;

/* First fit in order: offsets[i] is the lowest 64-aligned offset clear of every earlier
 * range live at the same time; returns the arena size (the peak).  by_offset: n ints of
 * scratch.  O(n^2) at worst. */
size_t mf_first_fit(int n, const mf_live_range *r, size_t *offsets, int *by_offset);

/* ---- the pass manager (pass_manager.c) --------------------------------------------------- */

typedef mf_status (*mf_pass_fn)(mf_graph *g, mf_pass_ctx *ctx, int *changes);

typedef struct mf_pass_info {
    const char *name;    /* as named in pipelines: "dce", "conv-bn", ... */
    const char *summary; /* one line for --help */
    mf_pass_fn run; /* NULL for a registered pass of a user's (mf_user_pass_run runs it) */
} mf_pass_info;

#define MF_COMPILE_PIPELINE                                                                        \
    "dce,simplify,cse,fold,conv-bn,qconv-winograd,winograd,fold,simplify,blocked-layout,pack-"     \
    "weights,dce,segment"
/* `mlufuse opt`'s: the compile pipeline and the memory plan report (modules plan their
 * own slots in module/plan_builder.c, in the same unit order, so they stop at segment). */
#define MF_DEFAULT_PIPELINE MF_COMPILE_PIPELINE ",plan"

/* Every built-in pass, in the default pipeline's order. */
const mf_pass_info *mf_pass_list(int *n);
/* A built-in or registered pass by name; NULL: unknown. */
const mf_pass_info *mf_pass_find(const char *name, size_t len);
/* The registered passes of users (user_passes.c): *n of them; the list only grows. */
const mf_pass_info *mf_user_pass_list(int *n);
const mf_pass_info *mf_user_pass_find(const char *name, size_t len);
/* Runs the registered pass p (one of mf_user_pass_list's). */
mf_status mf_user_pass_run(const mf_pass_info *p, mf_graph *g, int *changes);

/* What one pass of a pipeline did. */
typedef struct mf_pass_stat {
    const char *name;
    int nodes_before, nodes_after;
    int changes;
    double ms;
} mf_pass_stat;

/* Called after each pass (for --print-after). */
typedef void (*mf_pass_hook)(const char *pass, const mf_graph *g, void *ctx);

/* Runs the comma-separated passes (NULL: MF_DEFAULT_PIPELINE) on g.  With DEBUG=1 (or
 * verify true) the verifier runs after every pass, and a failure names the pass.  An
 * unknown name fails before anything runs (MF_ERR_INVALID, listing the known ones).
 * *stats (may be NULL) receives one entry per pass run (free()). */
mf_status mf_pipeline_run(mf_graph *g, const char *passes, mf_pass_ctx *ctx, bool verify,
                          mf_pass_hook after, void *hook_ctx, mf_pass_stat **stats, int *nstats);

/* The same over passes given directly (tests run deliberately broken passes through it). */
mf_status mf_pipeline_run_list(mf_graph *g, const mf_pass_info *const *list, int n, mf_pass_ctx *ctx,
                               bool verify, mf_pass_hook after, void *hook_ctx, mf_pass_stat **stats,
                               int *nstats);

#endif
