/* onnx.h — internals of the ONNX importer: the importer's state (the graph being built
 * and the map from ONNX value names to graph values), the attribute and tensor helpers,
 * and the per-op converters of onnx_ops.c. */
#ifndef MF_FRONTENDS_ONNX_H
#define MF_FRONTENDS_ONNX_H

#include "onnx/onnx.pb-c.h"
#include "frontends.h"

/* A quantized tensor's int8 codes (onnx_qdq_int8.c): for a uint8 activation, x - 128 (an
 * int8 activation is its own codes); for a dequantized constant weight (an f32 value), the
 * integers w - zero_point with their scales, one per entry of `axis` (-1: one scale). */
typedef struct onnx_qform {
    const mf_value *v;
    mf_value *codes;
    mf_value *scale; /* weights: f32 [C] or [1]; activations: NULL */
    int axis;
} onnx_qform;

typedef struct onnx_env onnx_env;   /* the names local to one inlined subgraph (onnx_flow.c) */
typedef struct onnx_flow onnx_flow; /* the node list, control flow expanded so far */

typedef struct onnx_importer {
    mf_graph *g;
    onnx_env *env;    /* the scope names resolve in: the entry being converted (NULL: the model's graph) */
    onnx_flow *flow;
    bool staged;      /* a staged run (onnx_stage.c): unbound graph inputs are skipped */
    int64_t opset;
    const char **names; /* ONNX value names, parallel to vals */
    mf_value **vals;
    int nvals, cap;
    int *slots; /* a hash of names: index + 1 in names, 0 empty; nslots a power of two */
    int nslots;
    int nbound; /* graph inputs bound to values known at import (mf_onnx_load_bound) */
    const char *const *bound_names;
    mf_tensor *const *bound_values;
    int nshaped; /* the shapes of the first graph inputs, for their symbolic dims (mf_onnx_load_shaped) */
    mf_tensor *const *shaped_like;
    onnx_qform *qforms; /* int8 forms of quantized values, for the int8 ops */
    int nqforms;
    bool qdead; /* int8 ops replaced f32 nodes: onnx_q_prune drops them */
} onnx_importer;

/* The bytes of the ONNX file at path (malloc'ed); protobuf messages are limited to 2 GiB, so
 * a larger file is no ONNX model. */
mf_status onnx_read_file(const char *path, char **buf, size_t *size);
/* Frees the name table (not the graph). */
void onnx_importer_free(onnx_importer *im);
/* Forgets the names defined after the first nvals. */
void onnx_forget(onnx_importer *im, int nvals);
/* The value named `name`, or NULL. */
mf_value *onnx_lookup(const onnx_importer *im, const char *name);
mf_status onnx_define(onnx_importer *im, const char *name, mf_value *v);
/* Input i of node n: NULL (with MF_OK) when absent or empty (an omitted optional input). */
mf_status onnx_input(const onnx_importer *im, const Onnx__NodeProto *n, size_t i, mf_value **out);
/* The first nin inputs of n, all required (absent or empty ones are errors). */
mf_status onnx_inputs(onnx_importer *im, const Onnx__NodeProto *n, int nin, mf_value **in);
/* A new constant with the given type and data (copied). */
mf_value *onnx_const(onnx_importer *im, const mf_type *t, const void *data);

const Onnx__AttributeProto *onnx_attr(const Onnx__NodeProto *n, const char *name);
int64_t onnx_attr_int(const Onnx__NodeProto *n, const char *name, int64_t dflt);
float onnx_attr_float(const Onnx__NodeProto *n, const char *name, float dflt);
/* A string attribute as a NUL-terminated copy in buf (truncated to cap), or dflt when absent. */
const char *onnx_attr_str(const Onnx__NodeProto *n, const char *name, const char *dflt, char *buf, size_t cap);
/* Copies the ints of attribute `name` (at most cap); returns how many, or -1 when absent. */
int onnx_attr_ints(const Onnx__NodeProto *n, const char *name, int64_t *out, int cap);

/* A TensorProto as a type and a new host buffer (validates sizes and dtypes). */
mf_status onnx_tensor(const Onnx__TensorProto *t, mf_type *type, mf_buffer **data);
bool onnx_dtype(int32_t onnx_type, mf_dtype *out);

/* op(in) as n's first output (folded at import when every input is a small constant). */
mf_status onnx_emit(onnx_importer *im, const Onnx__NodeProto *n, mf_op op, int nin, mf_value *const *in,
                    const mf_attr *attrs);

/* ---- folding (onnx_fold.c) ---- */

#define ONNX_FOLD_CAP 64      /* entries of the shape-like constants folded by hand */
#define ONNX_FOLD_LIMIT 4096  /* elements of a node computed at import */

/* The data of a constant integer input (i64 or i32) as int64 values. */
mf_status onnx_const_ints(const Onnx__NodeProto *n, const mf_value *v, int64_t *out, int cap,
                          int *count);
/* Defines n's first output as a new constant of type t with data (copied). */
mf_status onnx_define_const(onnx_importer *im, const Onnx__NodeProto *n, const mf_type *t,
                            const void *data);
double onnx_get_elem(const void *data, mf_dtype dt, int64_t i);
void onnx_set_elem(void *data, mf_dtype dt, int64_t i, double v);
bool onnx_small_const(const mf_value *v); /* a constant with data of at most ONNX_FOLD_CAP */
/* When every input is a small constant, computes op at import and defines the output as a
 * constant (*folded true); otherwise does nothing. */
mf_status onnx_fold(onnx_importer *im, const Onnx__NodeProto *n, mf_op op, int nin,
                    mf_value *const *in, const mf_attr *attrs, bool *folded);
mf_status onnx_cv_constant(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_constant_of_shape(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_size(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_shape(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_gather(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_unsqueeze(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_squeeze(onnx_importer *im, const Onnx__NodeProto *n);

/* ---- quantized operators (onnx_qdq.c) ---- */
mf_status onnx_cv_quantize_linear(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_dequantize_linear(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_qlinear_conv(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_qlinear_matmul(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_conv_integer(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_matmul_integer(onnx_importer *im, const Onnx__NodeProto *n);

/* ---- quantized values onto the int8 ops (onnx_qdq_int8.c) ---- */

/* The i8 codes of the int8 or uint8 activation x (uint8: x - 128, made once). */
mf_status onnx_q_codes(onnx_importer *im, const Onnx__NodeProto *n, mf_value *x, mf_value **codes);
/* Defines n's first output, of dtype dt (int8 or uint8), from its i8 codes. */
mf_status onnx_q_define(onnx_importer *im, const Onnx__NodeProto *n, mf_value *codes, mf_dtype dt);
/* quantize or dequantize (op) of x with {scale, zero_point}. */
mf_status onnx_q_requant(onnx_importer *im, const Onnx__NodeProto *n, mf_op op, mf_value *x, double scale, int zp,
                         mf_value **out);
/* Records the f32 constant wf as the dequantized weight whose integers minus zero point are
 * the f32 constant d (as i8 codes) with scales `scale` (a constant, one entry or one per
 * index of `axis`).  Does nothing when d does not fit int8 (wf then stays f32 only). */
mf_status onnx_q_weight(onnx_importer *im, const mf_value *wf, const mf_value *d, const mf_value *scale, int axis);
/* The i8 codes of quantize(y) {scale, zp} (zp of the int8 codes) made by an int8 op when y
 * is an int8-able computation of dequantized values: conv2d, linear or matmul of a
 * dequantized activation and a recorded weight, add of two dequantized values, max pooling
 * or a view of one with the same parameters; an optional relu or clamp fuses.  *codes NULL
 * when y is none of those. */
mf_status onnx_q_fused(onnx_importer *im, const Onnx__NodeProto *n, mf_value *y, float scale, int zp,
                       mf_value **codes);
/* ConvInteger / MatMulInteger of the int8 or uint8 activation x (zero point xz) whose f32
 * form acc is conv2d / matmul (2-D) of a (x - xz in f32) and a constant f32 weight whose
 * integers fit int8: qconv2d / qlinear acc=1, the i32 sums; *y NULL otherwise. */
mf_status onnx_q_integer(onnx_importer *im, const Onnx__NodeProto *n, mf_value *x, int xz, const mf_value *a,
                         const mf_value *acc, mf_value **y);
/* After the graph's outputs are set: drops the nodes nothing uses when int8 forms were made
 * (the f32 forms of the layers now int8, uint8 tensors only their codes are read of), so
 * that even layer-by-layer runs compute each layer once. */
mf_status onnx_q_prune(onnx_importer *im);
/* Converts node n, defining its outputs.  MF_ERR_UNSUPPORTED when its op type is unknown. */
mf_status onnx_convert_node(onnx_importer *im, const Onnx__NodeProto *n);
bool onnx_op_supported(const char *op_type);

/* ---- losses (onnx_loss.c) ---- */
mf_status onnx_cv_nll_loss(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_softmax_cross_entropy_loss(onnx_importer *im, const Onnx__NodeProto *n);

/* ---- einsum and recurrent cells (onnx_einsum.c, onnx_rnn.c) ---- */
mf_status onnx_cv_einsum(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_rnn(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_gru(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_lstm(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_grid_sample(onnx_importer *im, const Onnx__NodeProto *n); /* onnx_grid_sample.c */
/* ---- detection operators (onnx_detect.c) ---- */
mf_status onnx_cv_roi_align(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_non_max_suppression(onnx_importer *im, const Onnx__NodeProto *n);

/* ---- custom ops (onnx_custom.c) ---- */

/* True for a node of a domain other than the default (ai.onnx). */
bool onnx_is_custom_domain(const Onnx__NodeProto *n);
/* Converts a custom-domain node to the declared custom op of its op type. */
mf_status onnx_convert_custom(onnx_importer *im, const Onnx__NodeProto *n);

/* ---- the vocabulary of compositions (onnx_build.c) ---- */

/* op(in) with attrs (NULL: the defaults) as a new value *out, not folded. */
mf_status onnx_add(onnx_importer *im, const Onnx__NodeProto *n, mf_op op, int nin, mf_value *const *in,
                   const mf_attr *attrs, mf_value **out);
mf_status onnx_add2(onnx_importer *im, const Onnx__NodeProto *n, mf_op op, mf_value *a, mf_value *b,
                    mf_value **out);
mf_status onnx_reshape(onnx_importer *im, const Onnx__NodeProto *n, mf_value *x, int rank,
                       const int64_t *shape, mf_value **out);
/* x[start:end] along axis. */
mf_status onnx_slice_axis(onnx_importer *im, const Onnx__NodeProto *n, mf_value *x, int64_t axis,
                          int64_t start, int64_t end, mf_value **out);
mf_status onnx_permute(onnx_importer *im, const Onnx__NodeProto *n, mf_value *x, int rank,
                       const int64_t *perm, mf_value **out);
/* x as dtype to (x itself when it has it). */
mf_status onnx_cast(onnx_importer *im, const Onnx__NodeProto *n, mf_value *x, mf_dtype to, mf_value **out);
/* A new scalar constant v of dtype dt. */
mf_status onnx_scalar(onnx_importer *im, mf_dtype dt, double v, mf_value **out);
mf_status onnx_normalize(onnx_importer *im, const Onnx__NodeProto *n, mf_value *x, int nd, const int64_t *dims,
                         float eps, mf_value **y, mf_value **mean_out, mf_value **inv_out);
mf_status onnx_define_output(onnx_importer *im, const Onnx__NodeProto *n, size_t i, mf_value *v);
/* The value of an optional scalar integer input i, which must be a constant; dflt when absent. */
mf_status onnx_scalar_input(onnx_importer *im, const Onnx__NodeProto *n, size_t i, int64_t dflt, int64_t *out);

/* ---- ops written as compositions or folded on known inputs (onnx_compose.c, onnx_norm.c,
 * onnx_signal.c) ---- */
mf_status onnx_cv_space_to_depth(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_depth_to_space(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_eye_like(onnx_importer *im, const Onnx__NodeProto *n);
/* TfIdfVectorizer on integer tokens (onnx_tfidf.c). */
mf_status onnx_cv_tfidf(onnx_importer *im, const Onnx__NodeProto *n);
/* BatchNormalization's training mode: the batch's statistics, and the running ones updated. */
mf_status onnx_cv_batchnorm_training(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_one_hot(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_compress(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_unique(onnx_importer *im, const Onnx__NodeProto *n);
/* Neg, Abs or Sign (op) of an integer x, as integer ops. */
mf_status onnx_int_unary(onnx_importer *im, const Onnx__NodeProto *n, mf_op op, mf_value *x);
mf_status onnx_cv_instance_norm(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_lrn(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_mvn(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_mel_weight_matrix(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_hann_window(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_hamming_window(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_blackman_window(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_dynamic_quantize_linear(onnx_importer *im, const Onnx__NodeProto *n);

/* ---- ops onto one CPU op (onnx_cpu_ops.c) ---- */
mf_status onnx_cv_bit_shift(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_scatter_elements(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_scatter_nd(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_gather_nd(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_det(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_reverse_sequence(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_max_unpool(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_dft(onnx_importer *im, const Onnx__NodeProto *n);
mf_status onnx_cv_stft(onnx_importer *im, const Onnx__NodeProto *n);

/* ---- ai.onnx.preview.training (onnx_training.c) ---- */
#define ONNX_TRAINING_DOMAIN "ai.onnx.preview.training"
/* Adagrad, Momentum and Adam as the elementwise ops of their update formulas. */
mf_status onnx_convert_training(onnx_importer *im, const Onnx__NodeProto *n);

/* ---- control flow (onnx_flow.c) ----
 * The importer walks a list of entries: the model's nodes, with If replaced by its taken
 * branch once the condition is a constant and Loop unrolled one iteration at a time while
 * its condition and trip count are constants.  An inlined subgraph's own names resolve
 * through an env to unique names ("name@k"), so the converters see ordinary values. */

#define ONNX_LOOP_MAX 4096      /* iterations of one Loop */
#define ONNX_FLOW_MAX (1 << 20) /* entries of a flow: nested loops unroll to at most this */
#define ONNX_ITER_MAX 65536     /* iterations of all the loops of a model */
#define ONNX_SCAN_MAX 64        /* states plus scan inputs, and outputs, of one Scan */

typedef enum onnx_entry_kind {
    ONNX_ENTRY_NODE,  /* node in env */
    ONNX_ENTRY_INIT,  /* a subgraph's initializer init, defined in env */
    ONNX_ENTRY_ALIAS, /* dst (in env) is the value of src (resolved) */
    ONNX_ENTRY_CONST, /* dst (in env) is a scalar constant value of dtype */
    ONNX_ENTRY_LOOP,  /* the next iteration of loop, or its end */
    ONNX_ENTRY_STACK, /* dst (in env) stacks scan output `scan` of loop's iterations */
    ONNX_ENTRY_BATCH, /* dst (in env) is src with a leading dim of 1: an opset-8 Scan's state */
} onnx_entry_kind;

typedef struct onnx_loop onnx_loop;

typedef struct onnx_entry {
    onnx_entry_kind kind;
    onnx_env *env;
    const Onnx__NodeProto *node;
    const Onnx__TensorProto *init;
    const char *dst, *src;
    mf_dtype dtype;
    double value;
    onnx_loop *loop;
    int scan;
} onnx_entry;

struct onnx_flow {
    onnx_entry *e;
    int n, cap;
    void **owned; /* envs, loops and names, freed with the flow */
    int nowned, capowned;
    int nscopes; /* for unique names */
    int iterations; /* unrolled, all loops */
};

/* The model graph's nodes as entries. */
mf_status onnx_flow_init(onnx_flow *f, const Onnx__GraphProto *gp);
void onnx_flow_free(onnx_flow *f);
/* name as resolved in the importer's current env. */
const char *onnx_resolve(const onnx_importer *im, const char *name);
/* Converts entry i; *expanded when it was replaced by other entries instead (the walk goes on
 * at i). */
mf_status onnx_flow_convert(onnx_importer *im, int i, bool *expanded);
/* Calls fn with every (resolved) name entry i reads, those inside its subgraphs included. */
void onnx_flow_refs(const onnx_flow *f, int i, void (*fn)(const char *name, void *ctx), void *ctx);
bool onnx_flow_op(const char *op_type); /* If, Loop and Scan */
/* NonZero (known input): the indices of the nonzero elements, i64 [rank, count]. */
mf_status onnx_cv_non_zero(onnx_importer *im, const Onnx__NodeProto *n);

/* Walks the flow from entry start, converting each.  With stop non-NULL (a staged run), an
 * entry that fails while it reads a value computed in this import ends the walk there
 * (*stop = its index; the next stage, where that value is known, takes it); *stop = -1
 * when the walk reached the end. */
mf_status onnx_walk(onnx_importer *im, int start, int *stop);
/* The model's opset, checked; its supported ops; its initializers (all, or those keep says). */
mf_status onnx_prologue(onnx_importer *im, const Onnx__ModelProto *m, bool (*keep)(const char *name, void *ctx),
                        void *ctx);
mf_status onnx_add_inputs(onnx_importer *im, const Onnx__GraphProto *gp, int64_t batch);

/* Fails with "node 'NAME' (OpType): reason". */
mf_status onnx_node_error(const Onnx__NodeProto *n, mf_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
