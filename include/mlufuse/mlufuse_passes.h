/* mlufuse_passes.h — graph passes, MLU subgraph segmentation and the fusion report: what
 * `mlufuse opt` is built on.  Included by mlufuse.h.
 *
 *   mf_opt_options o = mf_opt_default_options();
 *   mf_opt_result *r;
 *   mf_graph_optimize(g, &o, &r);            // the default pipeline, in place
 *   fputs(mf_opt_result_explain(r), stdout);  // subgraphs and why edges were not fused
 *   mf_opt_result_free(r);
 */
#ifndef MLUFUSE_PASSES_H
#define MLUFUSE_PASSES_H

#include <stddef.h>

#include "mlufuse/mlufuse.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mf_opt_options {
    const char *passes; /* comma-separated pipeline; NULL: mf_opt_default_pipeline() */
    int fusion;         /* -1: on unless DISABLE_MLU_FUSION=1; 0: off; 1: on */
    size_t fold_limit;  /* constant folding's largest result in bytes; 0: 1 MiB */
    int verify;         /* 1: verify after every pass (DEBUG=1 does too) */
    int winograd;       /* -1: MLUFUSE_WINOGRAD (0, 1 or 2; unset: 1); 0: 3x3 convs stay direct;
                         * 1: Winograd within a memory limit; 2: whatever the memory */
    int lanes;          /* f32 lanes of the target (the winograd rule); 0: this machine's */
    /* The LLVM CPU the kernels are for (the module's `cpu` option): the weight layout the
     * pack-weights pass writes, and whether qconv-winograd runs int8 3x3 convs as f32
     * Winograd (without VNNI); NULL: the host. */
    const char *cpu;
    /* Called after each pass, e.g. to print the graph; NULL: none. */
    void (*after_pass)(const char *pass, const mf_graph *g, void *ctx);
    void *ctx;
    int qconv_winograd; /* -1: MLUFUSE_QCONV_WINOGRAD (0 or 1), else as cpu prefers; 0: int8
                           3x3 convs stay int8; 1: f32 Winograd */
} mf_opt_options;

mf_opt_options mf_opt_default_options(void);
/* "dce,simplify,cse,fold,conv-bn,qconv-winograd,winograd,fold,simplify,pack-weights,dce,
 * segment,plan" */
const char *mf_opt_default_pipeline(void);
/* The passes there are, built-in then registered (mf_pass_register): name and one-line
 * summary of pass i (i < mf_opt_num_passes()). */
int mf_opt_num_passes(void);
const char *mf_opt_pass_name(int i, const char **summary);

typedef struct mf_opt_result mf_opt_result;

/* Runs the pipeline on g in place (constant folding computes with the reference kernels).
 * *result (may be NULL) receives the report, also on failure where passes ran; free it
 * with mf_opt_result_free.  An unknown pass name fails before any pass runs. */
mf_status mf_graph_optimize(mf_graph *g, const mf_opt_options *opt, mf_opt_result **result);

typedef struct mf_opt_pass_stats {
    const char *name;
    int nodes_before, nodes_after;
    int changes; /* rewrites made; for segment, the number of subgraphs */
    double ms;
} mf_opt_pass_stats;

typedef struct mf_opt_summary {
    int nodes;            /* after the pipeline */
    int segmented;        /* 1 when the segment pass ran (the counts below are set) */
    int subgraphs;        /* MLU subgraphs */
    int cpu_ops;          /* ops that run on the CPU */
    int unfused_edges;    /* edges between two subgraphs, or a subgraph and a CPU op */
    int planned;          /* 1 when the plan pass ran (the bytes below are set) */
    int buffers;          /* values the plan materializes */
    size_t peak_bytes;    /* activation memory with liveness-based reuse */
    size_t naive_bytes;   /* one buffer per materialized value */
    int to_host;          /* values copied device -> host per run (inputs of CPU ops) */
    int to_device;        /* values copied host -> device per run (results of CPU ops) */
    double ms;            /* the whole pipeline (the passes' times summed) */
} mf_opt_summary;

/* One edge the segmentation left unfused. */
typedef struct mf_opt_edge {
    const char *from, *to;       /* the values made by each end, as printed ("%3") */
    const char *from_op, *to_op; /* op names */
    int from_subgraph, to_subgraph; /* -1: a CPU op */
    const char *reason;          /* "second anchor", "would break convexity", ... */
    const char *text;            /* the explanation's whole line, without indent */
} mf_opt_edge;

int mf_opt_result_num_passes(const mf_opt_result *r);
const mf_opt_pass_stats *mf_opt_result_pass(const mf_opt_result *r, int i); /* NULL: out of range */
mf_opt_summary mf_opt_result_summary(const mf_opt_result *r);
int mf_opt_result_num_edges(const mf_opt_result *r);
const mf_opt_edge *mf_opt_result_edge(const mf_opt_result *r, int i); /* NULL: out of range */
/* The fusion report: the subgraphs and CPU ops, then one line per unfused edge with the
 * rule that kept its ends apart ("" when segment did not run). */
const char *mf_opt_result_explain(const mf_opt_result *r);
void mf_opt_result_free(mf_opt_result *r);

/* Graphviz text of g: one cluster per MLU subgraph, CPU ops drawn apart (grey boxes), graph
 * inputs and outputs as ovals, constants left out.  *text is malloc'd. */
mf_status mf_graph_dot(const mf_graph *g, char **text);

/* MLU subgraph of node i (topological order) after segmentation, -1 for a CPU op. */
int mf_graph_node_subgraph(const mf_graph *g, int i);

/* ---- passes of your own ------------------------------------------------------------------
 * A pass is a function that rewrites a graph and says how many rewrites it made.  Registered
 * under a name it runs in pipelines like the built-in passes (mlufuse opt --passes, the
 * module option passes, mlufuse run --passes); the graph is verified after it, so a pass
 * that breaks a graph fails the pipeline with its name.  A shared library of passes exports
 *     mf_status mlufuse_register_passes(void);
 * which calls mf_pass_register once per pass; mf_pass_load (the tools' --load-pass) opens
 * the library and calls it.  examples/passes/ has one. */
typedef mf_status (*mf_user_pass_fn)(mf_graph *g, int *changes, void *ctx);
/* name: lowercase letters, digits and '-', not a built-in pass's or an earlier one's;
 * summary: one line for --help.  Process-wide, thread-safe; at most 64 passes. */
mf_status mf_pass_register(const char *name, const char *summary, mf_user_pass_fn fn, void *ctx);
/* Opens the shared library at path and calls its mlufuse_register_passes(). */
mf_status mf_pass_load(const char *path);

/* Graph access for passes: node i of mf_graph_num_nodes(g), in topological order. */
const char *mf_graph_node_op(const mf_graph *g, int i); /* "relu"; NULL: no node i */
int mf_graph_node_num_inputs(const mf_graph *g, int i); /* -1: no node i */
/* The node whose result is input k of node i; -1 for a graph input or a constant. */
int mf_graph_node_input_node(const mf_graph *g, int i, int k);
/* An int or float attribute of node i, as a double ("negative_slope", "groups", ...). */
mf_status mf_graph_node_attr(const mf_graph *g, int i, const char *name, double *value);
/* Every use of node i's result reads its input k instead, and node i goes (later indices
 * shift down by one).  MF_ERR_SHAPE unless the result and input k have one type. */
mf_status mf_graph_node_bypass(mf_graph *g, int i, int k);

#ifdef __cplusplus
}
#endif
#endif
