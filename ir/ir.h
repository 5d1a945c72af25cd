/* ir.h — mlufuse's internal IR: dtypes and types, the op list and its semantics, values,
 * nodes and graphs, and the helpers every layer above uses (errors, buffers).
 *
 * A graph owns its nodes, values and strings through one arena, freed at once.  Nodes are
 * kept in topological order; values carry a concrete dtype and shape.  Constants reference
 * a refcounted mf_buffer (weights are never copied).  Everything here depends on libc only.
 */
#ifndef MF_IR_H
#define MF_IR_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mlufuse/mlufuse.h"

/* ---- errors (ir/status.c) ------------------------------------------------------------ */

/* Records a printf-style message as the calling thread's last error and returns s. */
mf_status mf_error(mf_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
mf_status mf_verror(mf_status s, const char *fmt, va_list ap);
/* Prefixes the current message with "prefix: " (adds context while unwinding). */
mf_status mf_error_context(mf_status s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- logging (ir/log.c) ---------------------------------------------------------------- */

typedef enum mf_log_level {
    MF_LOG_WARNING, /* something the user should act on; shown unless MLUFUSE_LOG=none */
    MF_LOG_INFO     /* shown when MLUFUSE_LOG lists the subsystem, or is all or 1 */
} mf_log_level;

/* The library's only writer to stderr: "mlufuse: warning: MSG" or "mlufuse: MSG".
 * subsystem is runtime, cache, module, codegen, ... (MLUFUSE_LOG's words). */
void mf_logf(mf_log_level level, const char *subsystem, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool mf_log_enabled(mf_log_level level, const char *subsystem);

/* ---- files (ir/file.c) ---------------------------------------------------------------- */

/* Opens path for reading; a directory is refused ("is a directory"). */
mf_status mf_file_open(const char *path, FILE **out);
/* The whole file, NUL-terminated, malloc'ed into *text (the caller frees); fails with
 * MF_ERR_IO naming the path when it cannot be read or is larger than limit bytes. */
mf_status mf_file_read_all(const char *path, size_t limit, char **text, size_t *len);

/* ---- types (ir/type.c) ---------------------------------------------------------------- */

typedef struct mf_type {
    mf_dtype dtype;
    int rank;
    int64_t shape[MF_MAX_RANK];
} mf_type;

/* Unchecked counts, for types already validated by mf_type_check (every value of a graph,
 * every tensor).  A shape that comes from outside goes through mf_type_check first. */
int64_t mf_type_numel(const mf_type *t);
size_t mf_type_nbytes(const mf_type *t);
/* Largest tensor mlufuse accepts, in bytes (2^46, 64 TiB): a bound far above any memory, so
 * that every product of a checked shape fits an int64 and a size_t with room to add. */
#define MF_MAX_TENSOR_BYTES ((int64_t)1 << 46)
/* The most channels a block of the blocked layout holds (ops.def: to_blocks): a vector's
 * lanes, with room. */
#define MF_MAX_BLOCK 64
/* The one checked element and byte count: fails with MF_ERR_SHAPE, naming `what` and the
 * shape, when the rank is out of range, a dimension is negative, or the byte count exceeds
 * MF_MAX_TENSOR_BYTES (no product ever overflows).  numel and nbytes may be NULL. */
mf_status mf_type_check(const mf_type *t, const char *what, int64_t *numel, size_t *nbytes);
bool mf_type_equal(const mf_type *a, const mf_type *b);
/* "f32[1,3,224,224]"; always terminated; returns buf. */
char *mf_type_str(const mf_type *t, char *buf, size_t cap);
bool mf_dtype_from_name(const char *s, size_t len, mf_dtype *out);
bool mf_dtype_is_float(mf_dtype t);
/* An integer dtype's range (bool: 0..1; u64: 0..INT64_MAX, as widened). */
void mf_dtype_int_range(mf_dtype t, int64_t *lo, int64_t *hi);
/* One element of any dtype, widened: a float as a double (exact for f16, f32, f64) or an
 * integer as an int64 (bool as 0/1, u64 as its bits) — what code over mixed dtypes
 * computes on (cast, comparisons, pad values, constant folding, printing). */
typedef struct mf_scalar {
    bool is_float;
    double f;
    int64_t i;
} mf_scalar;
mf_scalar mf_scalar_load(const void *p, mf_dtype dt, int64_t k);
/* Stores v as element k of dtype dt with cast's rules: float to integer truncates toward
 * zero and saturates (NaN gives 0); integer to a narrower integer wraps; to bool is != 0;
 * to a float rounds to nearest even. */
void mf_scalar_store(void *p, mf_dtype dt, int64_t k, mf_scalar v);
double mf_scalar_double(mf_scalar v);
/* The dtypes MLU code takes, the one list read by both sides of the device boundary:
 * codegen (codegen/compile.c) refuses a subgraph with a value of any other dtype, and
 * segmentation (passes/segment.c) keeps a node touching one on the CPU.  f32, and i8
 * and f16 for the ops mf_node_has_mlu_code names. */
bool mf_dtype_has_mlu_code(mf_dtype t);
float mf_f16_to_f32(uint16_t h);
uint16_t mf_f32_to_f16(float f);
float mf_bf16_to_f32(uint16_t h);
uint16_t mf_f32_to_bf16(float f);

/* ---- the op list and its semantics (ir/ops.def, ir/op_semantics.c) -------------------- */

typedef enum mf_op {
#define X(ID, name, min_in, max_in, kind, mlu, rule, schema) MF_OP_##ID,
#include "ops.def"
#undef X
    MF_OP_COUNT
} mf_op;

typedef enum mf_op_kind {
    MF_KIND_ELEMENTWISE, /* one output element from the same-index elements of the inputs */
    MF_KIND_ANCHOR,      /* conv, matmul, linear: the heavy op of a fused subgraph */
    MF_KIND_REDUCTION,   /* pooling, softmax, sum/mean */
    MF_KIND_VIEW,        /* same data, new shape (reshape, flatten, dropout at inference) */
    MF_KIND_LAYOUT       /* moves data (permute, concat, upsample) */
} mf_op_kind;

#define MF_MAX_ATTRS 14 /* qconv2d's */

typedef enum mf_attr_type { MF_ATTR_INT, MF_ATTR_FLOAT, MF_ATTR_INTS } mf_attr_type;

/* One attribute value.  A node's attributes sit in an array in its op's schema order. */
typedef struct mf_attr {
    mf_attr_type type;
    int n; /* number of entries, for MF_ATTR_INTS */
    union {
        int64_t i;
        double f;
        int64_t ints[MF_MAX_RANK];
    };
} mf_attr;

typedef struct mf_attr_spec {
    const char *name;
    mf_attr_type type;
    bool required;
    mf_attr dflt;
} mf_attr_spec;

typedef struct mf_op_info {
    const char *name;
    int min_inputs, max_inputs; /* max_inputs -1: any number */
    mf_op_kind kind;
    bool has_mlu; /* has device code; false: always runs on the CPU (see ops.def) */
    int nattrs;
    mf_attr_spec attrs[MF_MAX_ATTRS];
} mf_op_info;

/* ---- typed attribute views (ir/op_views.c) --------------------------------------------- */

/* conv2d and conv_transpose2d (output_padding is 0 for conv2d). */
typedef struct mf_conv2d_view {
    int64_t stride[2], padding[2], dilation[2], output_padding[2], groups;
    int64_t packed; /* conv2d: weights in blocks of this many output channels; 0: plain */
    int64_t taps_first; /* qconv2d: weight rows [kh][kw][cin/g], not [cin/g][kh][kw] */
} mf_conv2d_view;

/* max_pool2d and avg_pool2d: stride is the kernel when none was given, dilation 1 when the
 * op has none; count_include_pad is avg_pool2d's. */
typedef struct mf_pool2d_view {
    int64_t kernel[2], stride[2], padding[2], dilation[2];
    bool ceil_mode, count_include_pad;
} mf_pool2d_view;

/* sum and mean over an input of rank dims: which dims are reduced (none listed: all). */
typedef struct mf_reduce_view {
    bool reduced[MF_MAX_RANK];
    bool keepdim;
} mf_reduce_view;

mf_conv2d_view mf_conv2d_of(mf_op op, const mf_attr *attrs);
/* matmul's `packed` (its left operand in blocks of this many rows; 0: plain); 0 without
 * attributes (matmul had none before it). */
int64_t mf_matmul_packed(const mf_attr *attrs);

/* A sliding window over the last nsp (1 to 3) dims, held as 3-D (d, h, w), the missing
 * leading dims of size 1: max_pool_indices, conv_transpose2d and conv_transpose3d.  kernel is
 * the attribute's (1s when the op takes it from a weight); pads from `pads` (begin..., end...)
 * or the symmetric `padding`. */
typedef struct mf_window_view {
    int nsp;
    int64_t kernel[3], stride[3], pad_begin[3], pad_end[3], dilation[3], output_padding[3];
} mf_window_view;
mf_window_view mf_window_of(mf_op op, const mf_attr *attrs);

/* The packed layout of conv weights (ir/conv_weights.c), what the kernels read without
 * repacking: output channels in blocks of `block` (the last one narrower when cout is
 * not a multiple), each block laid out [i][channel of the block] over the per = cin/g *
 * kh * kw weights i of a channel.  A permutation: same size, same numbers. */
void mf_conv_weights_pack(const float *plain, float *packed, int64_t cout, int64_t per, int64_t block);
void mf_conv_weights_unpack(const float *packed, float *plain, int64_t cout, int64_t per, int64_t block);
/* qconv2d's (int8, K = per a multiple of 4): the same layout over quads, 4 bytes of K of a
 * channel taken as one element, so that a load of 4 B bytes is one quad of B channels. */
void mf_qconv_weights_pack(const int8_t *plain, int8_t *packed, int64_t cout, int64_t per, int64_t block);
void mf_qconv_weights_unpack(const int8_t *packed, int8_t *plain, int64_t cout, int64_t per, int64_t block);
/* qconv2d's taps_first order: each of the cout rows [cin_g][taps] (ONNX's, taps = kh * kw)
 * transposed to [taps][cin_g], and back (a permutation, as above). */
void mf_qconv_weights_taps_first(const int8_t *plain, int8_t *out, int64_t cout, int64_t cin_g, int64_t taps);
void mf_qconv_weights_taps_last(const int8_t *taps_first, int8_t *plain, int64_t cout, int64_t cin_g, int64_t taps);
/* qconv2d's weight pairs (bytes 2j, 2j + 1 of each of rows rows of per bytes, as stored):
 * the largest magnitude of a same-sign pair's sum, and in *first (when given) the index of
 * the first pair whose sum passes lim, -1 when none does (w_pair_max's promise). */
int64_t mf_qconv_pair_max(const int8_t *w, int64_t rows, int64_t per, int64_t lim, int64_t *first);
mf_pool2d_view mf_pool2d_of(mf_op op, const mf_attr *attrs);
mf_reduce_view mf_reduce_of(mf_op op, const mf_attr *attrs, int rank);
/* The `dim` attribute of softmax, concat, gather, cumsum, argmax and the like, counted from the
 * front of an input of rank dims (negative dims count from the back); -1 when out of range. */
int mf_dim_of(mf_op op, const mf_attr *attrs, int rank);

/* NULL when every attribute schema of ops.def parsed; else what was malformed. */
const char *mf_op_schema_problem(void);
const mf_op_info *mf_op_get(mf_op op);
bool mf_op_from_name(const char *s, size_t len, mf_op *out);
/* Index of attribute `name` in op's schema, or -1. */
int mf_op_attr_index(mf_op op, const char *name);
/* Fills attrs[0..nattrs) with the schema's defaults (required ones zeroed). */
void mf_op_default_attrs(mf_op op, mf_attr *attrs);
/* Setters for building attributes by name; return MF_ERR_INVALID for an unknown name. */
mf_status mf_attr_set_int(mf_op op, mf_attr *attrs, const char *name, int64_t v);
mf_status mf_attr_set_float(mf_op op, mf_attr *attrs, const char *name, double v);
mf_status mf_attr_set_ints(mf_op op, mf_attr *attrs, const char *name, int n, const int64_t *v);
/* Getters by schema name (the name must exist; checked by assert). */
int64_t mf_attr_int(mf_op op, const mf_attr *attrs, const char *name);
double mf_attr_float(mf_op op, const mf_attr *attrs, const char *name);
const mf_attr *mf_attr_get(mf_op op, const mf_attr *attrs, const char *name);

/* Shape and dtype inference, with validation of attributes and operand types: the one
 * place where an op's rules live.  Fills out[0] (all ops have one output).  On failure the
 * message names the op, the input types and the reason. */
mf_status mf_op_infer(mf_op op, const mf_attr *attrs, int nin, const mf_type *in, mf_type *out);

/* Per dim of `in`: the first index, step and count a slice node takes (dims it does not
 * name keep start 0, step 1, the whole dim). */
mf_status mf_op_slice_dims(mf_op op, const mf_attr *attrs, const mf_type *in, int64_t *start,
                           int64_t *step, int64_t *count);

/* The arithmetic work of one op (ir/op_cost.c): 2 FLOPs per multiply-accumulate for conv,
 * conv_transpose, linear and matmul (bias and epilogue not counted, as
 * ../shared/bench/flops.py counts models); one per computed element for elementwise ops and
 * reductions (pooling: per window element); none for views, layout ops and casts. */
double mf_op_flops(mf_op op, const mf_attr *attrs, int nin, const mf_type *in, const mf_type *out);

/* ---- text (ir/strbuf.c) ---------------------------------------------------------------- */

/* A growable string; zero-initialize.  p is NUL-terminated once anything was written. */
typedef struct mf_strbuf {
    char *p;
    size_t n, cap;
    bool oom; /* sticky: later writes do nothing */
} mf_strbuf;

void mf_sb_put(mf_strbuf *b, const char *s, size_t len);
void mf_sb_str(mf_strbuf *b, const char *s);
void mf_sb_printf(mf_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text (malloc'd; "" when nothing was written), or NULL after out of memory; b is
 * reset either way. */
char *mf_sb_take(mf_strbuf *b);

/* ---- buffers (ir/buffer.c) ------------------------------------------------------------ */

/* Refcounted bytes: tensor storage and constant data.  free_fn releases data. */
typedef struct mf_buffer {
    atomic_int refs;
    void *data;
    size_t nbytes;
    mf_device device;
    void (*free_fn)(struct mf_buffer *b);
    void *owner; /* free_fn's context (e.g. the device allocator) */
} mf_buffer;

/* A host buffer from malloc (64-byte aligned); NULL if out of memory. */
mf_buffer *mf_buffer_new_host(size_t nbytes);
mf_buffer *mf_buffer_retain(mf_buffer *b);
void mf_buffer_release(mf_buffer *b);

/* ---- graphs (ir/graph.c) ------------------------------------------------------------- */

typedef struct mf_arena mf_arena;

/* qconv2d's w_pair_max at or below which codegen may multiply by vpmaddubsw without VNNI:
 * same-sign neighbour weights (k = 2j, 2j + 1 of a row) summing to at most 128 in magnitude
 * keep its u8 x s8 pair sums within 255 x 128 = 32640 < 2^15 (docs/quantization.md). */
#define MF_UBSW_PAIR_MAX 128

typedef struct mf_value {
    int id;           /* index in graph->values; renumbered by mf_graph_compact */
    const char *name; /* arena string, or NULL (printed by number) */
    mf_type type;
    struct mf_node *producer; /* NULL for inputs and constants */
    int output_index;
    bool is_const;
    mf_buffer *data; /* constants: the retained data, or NULL for an opaque constant */
} mf_value;

typedef struct mf_node {
    int id;
    mf_op op;
    int ninputs, noutputs;
    mf_value **inputs; /* arena */
    mf_value **outputs;
    mf_attr attrs[MF_MAX_ATTRS];
    int subgraph; /* MLU subgraph the segmentation put it in; -1 when none */
} mf_node;

/* Does node n have device code for its op and the dtypes of its values?  i8 values are
 * lowered only by the int8 ops (quantize, dequantize, qconv2d, qlinear, qadd), max_pool2d and views:
 * the others' lowerings compute in f32.  f16 values (storage only) by casts between f16
 * and f32, and views.  Segmentation and codegen both ask this. */
bool mf_node_has_mlu_code(const mf_node *n);
/* Is n a cast from f16 to f32: the widening at the edge of the kernel that reads a half
 * activation (segmentation puts it in its consumer's subgraph; anchors load through it)? */
bool mf_node_widens_half(const mf_node *n);
/* Can anchor n read its input i from f16 through such a cast (its engine's loads widen)? */
bool mf_node_loads_half(const mf_node *n, int i);

struct mf_graph {
    mf_arena *arena;
    const char *name;
    mf_node **nodes; /* topological order */
    int nnodes, nodes_cap;
    mf_value **values; /* every value: inputs, constants, node outputs */
    int nvalues, values_cap;
    mf_value **inputs;
    int ninputs, inputs_cap;
    mf_value **outputs;
    int noutputs;
};

void *mf_arena_alloc(mf_arena *a, size_t n); /* zeroed, 16-aligned; NULL if out of memory */
char *mf_arena_strdup(mf_arena *a, const char *s, size_t len);

mf_graph *mf_graph_new(const char *name); /* NULL if out of memory */
mf_value *mf_graph_add_input(mf_graph *g, const char *name, const mf_type *t);
/* data is retained (may be NULL: an opaque constant whose bytes are bound later). */
mf_value *mf_graph_add_const(mf_graph *g, const char *name, const mf_type *t, mf_buffer *data);
/* Appends a node after inferring its output type (attrs NULL: defaults).  On failure
 * nothing is added and the message says why. */
mf_status mf_graph_add_node(mf_graph *g, mf_op op, int nin, mf_value *const *in,
                            const mf_attr *attrs, mf_node **out);
mf_status mf_graph_set_outputs(mf_graph *g, int n, mf_value *const *outs);
/* Replaces every use of `from` (node inputs and graph outputs) by `to`. */
void mf_graph_replace_uses(mf_graph *g, mf_value *from, mf_value *to);
/* Sets dead[node->id] (nnodes entries, cleared by the caller) for every node none of whose
 * results is used, transitively (graph outputs are uses), and counts them. */
mf_status mf_graph_mark_dead(const mf_graph *g, bool *dead, int *count);
/* Drops nodes marked by remove[node->id] and values no longer referenced, and renumbers
 * ids.  Passes call it after rewriting. */
void mf_graph_remove_nodes(mf_graph *g, const bool *remove);
int mf_graph_num_uses(const mf_graph *g, const mf_value *v);
/* The node that uses v, when v has exactly one use and is not a graph output; else NULL. */
const mf_node *mf_graph_sole_user(const mf_graph *g, const mf_value *v);

/* The inverted-residual chain (ir/expand_dw.c): expand, a 1x1 conv (stride 1, no padding,
 * one group) -> optionally relu or clamp -> dw, a 3x3 depthwise conv (groups == channels,
 * padding 1, stride 1 or 2), all f32, each value between them used once and not a graph
 * output, and three wide rows (all channels) within MF_EXPAND_DW_BUFFER bytes: the fused
 * kernel's band buffer on the stack; the expansion's weights plain or packed (conv2d's
 * `packed`) in blocks of at most MF_EXPAND_DW_MAX_BLOCK channels, the most its tile holds
 * (7x7 planes' 1x1s, packed for the output-channel engine in blocks of 32 or 48, are not
 * taken).  wide_bytes: the size of the expanded tensor. */
#define MF_EXPAND_DW_BUFFER (1 << 20)
#define MF_EXPAND_DW_MAX_BLOCK 12
typedef struct mf_expand_dw {
    const mf_node *expand, *act, *dw; /* act may be NULL */
    int64_t wide_bytes;
} mf_expand_dw;
/* Is dw the end of such a chain in g?  Fills *out (may be NULL) when it is. */
bool mf_expand_dw_chain(const mf_graph *g, const mf_node *dw, mf_expand_dw *out);

/* The depthwise-project chain (ir/expand_dw.c): dw, a 3x3 depthwise conv as above (plain
 * weights) -> optionally relu or clamp -> project, a 1x1 conv (stride 1, no padding, one
 * group) of the depthwise's channels, all f32, each value between them used once and not a
 * graph output, one row of the depthwise's output (all channels) within
 * MF_DW_PROJECT_BUFFER bytes (the fused kernel's band buffer holds whole rows), the
 * projection's weights plain or packed in blocks of at most MF_EXPAND_DW_MAX_BLOCK. */
#define MF_DW_PROJECT_BUFFER (256 << 10)
typedef struct mf_dw_project {
    const mf_node *dw, *act, *project; /* act may be NULL */
} mf_dw_project;
/* Is project the end of such a chain in g?  Fills *out (may be NULL) when it is. */
bool mf_dw_project_chain(const mf_graph *g, const mf_node *project, mf_dw_project *out);

/* The whole inverted-residual block (ir/expand_dw.c): a depthwise-project chain whose
 * depthwise conv ends an expand-depthwise chain, both as above: expand -> act -> dw -> act2
 * -> project, one kernel whose wide rows and depthwise rows both stay in stack buffers. */
typedef struct mf_inverted_residual {
    mf_expand_dw ed;  /* expand, act, dw */
    mf_dw_project dp; /* dw, act2, project */
} mf_inverted_residual;
/* Is project the end of such a block in g?  Fills *out (may be NULL) when it is. */
bool mf_inverted_residual_chain(const mf_graph *g, const mf_node *project,
                                mf_inverted_residual *out);

/* A Winograd conv as one kernel (ir/winograd_chain.c): in, a winograd_input -> mm, the
 * matmul of f32 transformed weights U [36, K, C] (a folded constant: plain, or packed in
 * blocks that divide K) by the input's result V -> out, a winograd_output of mm's result,
 * tiles in the lanes (channels_last 0), each value between them used once and not a graph
 * output.  It fits when U has at most MF_WINOGRAD_CHAIN_WEIGHTS bytes (it then stays in L2
 * while every block of tiles reads it; resnet18's larger ones, its 28x28 and 14x14 layers,
 * ran as fast fused as not, on one thread and on two) and one row of output tiles
 * of every input channel, at the most lanes a target has, with the products of a register
 * tile's output channels, within MF_WINOGRAD_CHAIN_BUFFER bytes: the fused kernel
 * (codegen/lower_winograd.c) transforms a block of tile rows into a stack buffer, multiplies
 * and transforms back a pass of output channels at a time, and V and the products never go to
 * memory. */
#define MF_WINOGRAD_CHAIN_BUFFER (1 << 20)
#define MF_WINOGRAD_CHAIN_WEIGHTS (1 << 20)
/* Segmentation fuses chains on targets of at least this many f32 lanes (AVX-512): on AVX2
 * code one kernel ran resnet18's 56x56 layers 10 % slower than three. */
#define MF_WINOGRAD_CHAIN_MIN_LANES 16
typedef struct mf_winograd_chain {
    const mf_node *in, *mm, *out;
    int64_t weight_bytes; /* U's */
} mf_winograd_chain;
/* Is n (the chain's matmul or its winograd_output) part of such a chain in g, sizes aside?
 * Fills *out (may be NULL) when it is. */
bool mf_winograd_chain_of(const mf_graph *g, const mf_node *n, mf_winograd_chain *out);
/* Does the chain run as one kernel (the sizes above)? */
bool mf_winograd_chain_fits(const mf_winograd_chain *ch);
/* The buffers a block of one row of tiles needs, at the most lanes a target has. */
int64_t mf_winograd_chain_buffer_bytes(const mf_winograd_chain *ch);

/* What MLU code can build beyond op and dtype (ir/mlu_limits.c), read by segmentation
 * before a node joins a subgraph and by codegen before it lowers one: NULL when node n
 * (whose op has device code, on dtypes mf_dtype_has_mlu_code takes) can be built, else
 * why not ("a 1-D operand"), and n runs on the CPU. */
const char *mf_node_mlu_limit(const mf_node *n);
/* May elementwise ops follow op (an anchor or reduction) in its kernel as its epilogue? */
bool mf_op_takes_epilogue(mf_op op);

/* A copy of g (constants share their buffers), re-inferring every type from input_types
 * (NULL: g's own input types) — how a module specializes a graph for new input shapes. */
mf_status mf_graph_clone(const mf_graph *g, const mf_type *input_types, mf_graph **out);

/* Batch separability (ir/op_batch.c), from ops.def's rule column: how a node treats dim 0. */
typedef enum mf_batch_role {
    MF_BATCH_NONE,  /* its rows of dim 0 mix (or nothing says they do not) */
    MF_BATCH_FIRST, /* input 0 is a batch of rows, each output row from its own input row;
                     * every other input is a weight that must not depend on the batch */
    MF_BATCH_ALL    /* every input that depends on the batch is one of the same rank (the
                     * others broadcast over it): elementwise ops, concat off dim 0 */
} mf_batch_role;
mf_batch_role mf_node_batch_role(const mf_node *n);
/* Whether g computes each row of dim 0 on its own: every input and output and every value
 * that depends on an input has dim 0 == batch, and every node on them has a role for it.
 * Checked at two batch sizes (two clones of one graph), true at both means the graph at
 * batch k*B is k runs of it at batch B on consecutive slices. */
bool mf_graph_batch_separable(const mf_graph *g, int64_t batch);

/* The name the printer gives each value, by value id, without the `%` ("x", "3"), so
 * reports can name values as a printed graph does.  One malloc'd block: free(*names). */
mf_status mf_graph_value_names(const mf_graph *g, char ***names);
/* mf_op_flops of node n with its operands' types (ir/op_cost.c). */
double mf_node_flops(const mf_node *n);

/* ---- the .mfir text form: tokens and a name table (ir/lex.c) -------------------------
 * Used by the parser (ir/parse.c) and the printer (ir/print.c); docs/mfir.md is the
 * format.  Token text points into the source, which must outlive the tokens. */

typedef enum mf_tok_kind {
    MF_TOK_EOF,
    MF_TOK_IDENT,  /* [A-Za-z_][A-Za-z0-9_]*: keywords, ops, dtypes, attributes, inf, nan */
    MF_TOK_LOCAL,  /* %name */
    MF_TOK_GLOBAL, /* @name */
    MF_TOK_INT,    /* [+-]?[0-9]+ */
    MF_TOK_FLOAT,  /* other numbers, and [+-]inf, [+-]nan */
    MF_TOK_PUNCT,  /* one of ( ) { } [ ] < > , : = */
    MF_TOK_ERROR   /* text that starts no token; `why` says what is wrong */
} mf_tok_kind;

typedef struct mf_token {
    mf_tok_kind kind;
    const char *s; /* the token's text (with its sigil for LOCAL and GLOBAL) */
    size_t len;
    int line, col; /* 1-based; col counts bytes */
    const char *why;
} mf_token;

typedef struct mf_lexer {
    const char *p, *end, *line_start;
    int line;
} mf_lexer;

void mf_lex_init(mf_lexer *l, const char *text, size_t len);
/* The next token, skipping whitespace and `#` comments; MF_TOK_EOF at the end, forever. */
mf_token mf_lex_next(mf_lexer *l);
/* True when s[0..len) is a valid value or graph name: [A-Za-z0-9_.]+. */
bool mf_ir_name_valid(const char *s, size_t len);

/* A table from names to pointers (open addressing).  Keys are not copied: they must
 * outlive the table.  Zero-initialize; free with mf_ir_names_free. */
typedef struct mf_ir_names {
    const char **keys;
    size_t *lens;
    void **vals;
    size_t cap, n;
} mf_ir_names;

void *mf_ir_names_get(const mf_ir_names *t, const char *s, size_t len); /* NULL if absent */
bool mf_ir_names_put(mf_ir_names *t, const char *s, size_t len, void *val); /* false: no memory */
void mf_ir_names_free(mf_ir_names *t);

#endif /* MF_IR_H */
