/* mlufuse.h — the public C API of mlufuse, a JIT graph-fusion compiler and runtime.
 *
 * Users create tensors, call ops on them (layer-by-layer mode: each op runs at once),
 * optionally record the calls as a static graph between mf_trace_begin and mf_trace_end,
 * and run graphs.  Every handle is opaque; every function that can fail returns an
 * mf_status and leaves a message naming the op, the shapes and the reason, read with
 * mf_last_error() on the same thread.  Nothing here aborts or exits on bad input.
 */
#ifndef MLUFUSE_H
#define MLUFUSE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MF_MAX_RANK 8

typedef enum mf_status {
    MF_OK = 0,
    MF_ERR_INVALID,     /* bad argument: NULL, out of range, bad attribute */
    MF_ERR_SHAPE,       /* shapes that do not agree */
    MF_ERR_DTYPE,       /* a dtype the op does not accept */
    MF_ERR_DEVICE,      /* a tensor on the wrong device, an unknown device */
    MF_ERR_NOMEM,       /* host or device memory exhausted */
    MF_ERR_PARSE,       /* malformed text or file */
    MF_ERR_IO,          /* a file could not be read or written */
    MF_ERR_UNSUPPORTED, /* valid, but not implemented */
    MF_ERR_INTERNAL     /* a bug in mlufuse */
} mf_status;

/* The message of the last failure on the calling thread ("" if none).  Valid until the
 * next failing call on this thread. */
const char *mf_last_error(void);
const char *mf_status_name(mf_status s);
/* The library's version, "MAJOR.MINOR.PATCH" (the shared library's soname carries MAJOR). */
const char *mf_version(void);

/* Every dtype ONNX inference uses.  Compute on the MLU is f32; the others run on the CPU.
 * New dtypes are appended: the numbering is part of the ABI (the Python package mirrors it). */
typedef enum mf_dtype {
    MF_F32, MF_F16, MF_I8, MF_I32, MF_I64, MF_BOOL,
    MF_U8, MF_I16, MF_U16, MF_U32, MF_U64, MF_F64,
    MF_BF16, /* bfloat16: f32's top 16 bits; a storage type, converted on the CPU */
    MF_DTYPE_COUNT
} mf_dtype;
const char *mf_dtype_name(mf_dtype t);
size_t mf_dtype_size(mf_dtype t);

typedef enum mf_device_type { MF_CPU, MF_MLU } mf_device_type;
typedef struct mf_device {
    mf_device_type type;
    int index; /* mlu:index; 0 for the cpu */
} mf_device;
#define MF_DEVICE_CPU ((mf_device){MF_CPU, 0})
#define MF_DEVICE_MLU(i) ((mf_device){MF_MLU, (i)})

/* ---- tensors ------------------------------------------------------------------------ */

/* A contiguous, row-major tensor.  Tensors are reference counted; every function that
 * returns one through an out-parameter gives the caller one reference, released with
 * mf_tensor_free.  Views (reshape, flatten) share storage with their source. */
typedef struct mf_tensor mf_tensor;

mf_status mf_tensor_empty(mf_dtype dt, int rank, const int64_t *shape, mf_device dev,
                          mf_tensor **out);
mf_status mf_tensor_zeros(mf_dtype dt, int rank, const int64_t *shape, mf_device dev,
                          mf_tensor **out);
/* Copies nbytes from data (which must equal numel * dtype size) into a new cpu tensor. */
mf_status mf_tensor_from_data(mf_dtype dt, int rank, const int64_t *shape, const void *data,
                              size_t nbytes, mf_tensor **out);
/* Uniform in [lo, hi) from a counter-based generator: the same seed gives the same data
 * on every machine.  Float dtypes only. */
mf_status mf_tensor_rand(mf_dtype dt, int rank, const int64_t *shape, uint64_t seed, double lo,
                         double hi, mf_device dev, mf_tensor **out);
/* A copy on another device (the seed's .to(mlu) and .cpu()). */
mf_status mf_tensor_to(const mf_tensor *t, mf_device dev, mf_tensor **out);
void mf_tensor_free(mf_tensor *t); /* drops one reference; NULL is ignored */
mf_tensor *mf_tensor_retain(mf_tensor *t);

/* Of a NULL tensor: dtype MF_DTYPE_COUNT, rank and dims -1, shape NULL, numel and nbytes 0,
 * device cpu:-1.  A dim past the rank is -1. */
mf_dtype mf_tensor_dtype(const mf_tensor *t);
int mf_tensor_rank(const mf_tensor *t);
int64_t mf_tensor_dim(const mf_tensor *t, int i);
const int64_t *mf_tensor_shape(const mf_tensor *t);
int64_t mf_tensor_numel(const mf_tensor *t);
size_t mf_tensor_nbytes(const mf_tensor *t);
mf_device mf_tensor_device(const mf_tensor *t);
/* Host-readable data of a cpu tensor; NULL for a tensor on an mlu device (copy it first). */
const void *mf_tensor_data(const mf_tensor *t);
void *mf_tensor_data_mut(mf_tensor *t);
/* NumPy .npy files (little-endian, C order; f32, f16, i8, i32, i64, bool).  load gives a
 * new cpu tensor; save copies a device tensor to the host first. */
mf_status mf_tensor_load_npy(const char *path, mf_tensor **out);
mf_status mf_tensor_save_npy(const mf_tensor *t, const char *path);
/* Writes "f32[1,3,224,224]@mlu:0" into buf (always terminated). */
void mf_tensor_describe(const mf_tensor *t, char *buf, size_t cap);

/* ---- ops: the layer-by-layer mode ------------------------------------------------------
 * Each computes its result at once (on the device of its inputs; all inputs must share it)
 * and, between mf_trace_begin and mf_trace_end, is also recorded as a graph node.
 * Optional inputs (bias) may be NULL.  Outputs are new tensors owned by the caller. */

typedef struct mf_conv2d_params {
    int64_t stride[2], padding[2], dilation[2], groups;
} mf_conv2d_params;
#define MF_CONV2D_DEFAULT ((mf_conv2d_params){{1, 1}, {0, 0}, {1, 1}, 1})

typedef struct mf_pool2d_params {
    int64_t kernel[2], stride[2], padding[2], dilation[2];
    int ceil_mode;
    int count_include_pad; /* avg_pool2d only */
} mf_pool2d_params;

mf_status mf_conv2d(const mf_tensor *x, const mf_tensor *w, const mf_tensor *bias,
                    mf_conv2d_params p, mf_tensor **out);
mf_status mf_linear(const mf_tensor *x, const mf_tensor *w, const mf_tensor *bias,
                    mf_tensor **out); /* y = x·wᵀ + b, w is [out, in] */
mf_status mf_matmul(const mf_tensor *a, const mf_tensor *b, mf_tensor **out);

mf_status mf_add(const mf_tensor *a, const mf_tensor *b, double alpha, mf_tensor **out);
mf_status mf_sub(const mf_tensor *a, const mf_tensor *b, double alpha, mf_tensor **out);
mf_status mf_mul(const mf_tensor *a, const mf_tensor *b, mf_tensor **out);
mf_status mf_div(const mf_tensor *a, const mf_tensor *b, mf_tensor **out);
/* a op scalar, the scalar becoming a rank-0 constant of a's dtype. */
mf_status mf_add_scalar(const mf_tensor *a, double s, mf_tensor **out);
mf_status mf_mul_scalar(const mf_tensor *a, double s, mf_tensor **out);

mf_status mf_relu(const mf_tensor *x, mf_tensor **out);
mf_status mf_relu6(const mf_tensor *x, mf_tensor **out);
mf_status mf_clamp(const mf_tensor *x, double lo, double hi, mf_tensor **out);
mf_status mf_hardtanh(const mf_tensor *x, double lo, double hi, mf_tensor **out);
mf_status mf_leaky_relu(const mf_tensor *x, double negative_slope, mf_tensor **out);
mf_status mf_sigmoid(const mf_tensor *x, mf_tensor **out);
mf_status mf_tanh(const mf_tensor *x, mf_tensor **out);
mf_status mf_hardswish(const mf_tensor *x, mf_tensor **out);
mf_status mf_hardsigmoid(const mf_tensor *x, mf_tensor **out);
mf_status mf_exp(const mf_tensor *x, mf_tensor **out);
mf_status mf_log(const mf_tensor *x, mf_tensor **out);
mf_status mf_neg(const mf_tensor *x, mf_tensor **out);
mf_status mf_abs(const mf_tensor *x, mf_tensor **out);
mf_status mf_sqrt(const mf_tensor *x, mf_tensor **out);
/* x converted to dtype `to` (torch's x.to(dtype)), any dtype to any other: float to integer
 * truncates toward zero and saturates at the integer's range (NaN gives 0); an integer to
 * a narrower one wraps; anything to bool is x != 0; to f32/f16 rounds to nearest even. */
mf_status mf_cast(const mf_tensor *x, mf_dtype to, mf_tensor **out);

mf_status mf_max_pool2d(const mf_tensor *x, mf_pool2d_params p, mf_tensor **out);
mf_status mf_avg_pool2d(const mf_tensor *x, mf_pool2d_params p, mf_tensor **out);
mf_status mf_adaptive_avg_pool2d(const mf_tensor *x, int64_t out_h, int64_t out_w,
                                 mf_tensor **out);
/* Inference batch norm over dim 1: (x - mean) / sqrt(var + eps) * weight + bias. */
mf_status mf_batch_norm(const mf_tensor *x, const mf_tensor *weight, const mf_tensor *bias,
                        const mf_tensor *mean, const mf_tensor *var, double eps,
                        mf_tensor **out);
mf_status mf_dropout(const mf_tensor *x, double p, mf_tensor **out); /* inference: identity */

mf_status mf_flatten(const mf_tensor *x, int start_dim, int end_dim, mf_tensor **out);
/* One entry of shape may be -1 (inferred). */
mf_status mf_reshape(const mf_tensor *x, int rank, const int64_t *shape, mf_tensor **out);
mf_status mf_permute(const mf_tensor *x, const int *perm, mf_tensor **out);
mf_status mf_transpose(const mf_tensor *x, int dim0, int dim1, mf_tensor **out);
mf_status mf_concat(int n, const mf_tensor *const *xs, int dim, mf_tensor **out);
mf_status mf_softmax(const mf_tensor *x, int dim, mf_tensor **out);
mf_status mf_log_softmax(const mf_tensor *x, int dim, mf_tensor **out);
/* Reduce over ndims dims (negative dims count from the end); ndims 0 means all. */
mf_status mf_sum(const mf_tensor *x, int ndims, const int *dims, int keepdim, mf_tensor **out);
mf_status mf_mean(const mf_tensor *x, int ndims, const int *dims, int keepdim, mf_tensor **out);
/* Nearest upsampling of an NCHW tensor by integer factors. */
mf_status mf_upsample_nearest2d(const mf_tensor *x, int64_t scale_h, int64_t scale_w,
                                mf_tensor **out);

/* ---- graphs ------------------------------------------------------------------------- */

/* A static graph in mlufuse's IR.  Constants reference tensor storage (retained, never
 * copied), so weights outlive the tensors they were traced from. */
typedef struct mf_graph mf_graph;

void mf_graph_destroy(mf_graph *g);
/* Parses .mfir text; on failure the message reads "NAME:LINE:COL: reason". */
mf_status mf_graph_parse(const char *text, const char *filename, mf_graph **out);
mf_status mf_graph_load(const char *path, mf_graph **out);
/* The .mfir text of g, malloc'ed; the caller frees it.  With elide_constants, constants
 * of more than 16 elements print as `opaque` (shape only) to keep dumps readable. */
mf_status mf_graph_print(const mf_graph *g, int elide_constants, char **text);
mf_status mf_graph_verify(const mf_graph *g);
/* A hash of g's structure (ops, attributes, shapes, constant data, wiring) that does not
 * depend on value names. */
uint64_t mf_graph_hash(const mf_graph *g);
int mf_graph_num_nodes(const mf_graph *g);
int mf_graph_num_inputs(const mf_graph *g);
int mf_graph_num_outputs(const mf_graph *g);
/* The dtype, rank and shape (MF_MAX_RANK entries) of input i (a NULL pointer: not wanted);
 * MF_ERR_INVALID if none. */
mf_status mf_graph_input_type(const mf_graph *g, int i, mf_dtype *dtype, int *rank, int64_t *shape);

/* Runs g on the reference kernels.  outputs receives num_outputs new tensors on the
 * device of the first input (cpu if none). */
mf_status mf_graph_interpret(const mf_graph *g, int n_in, mf_tensor *const *inputs, int n_out,
                             mf_tensor **outputs);

/* ---- compiled modules: the fusion mode ------------------------------------------------
 * A module compiles a graph for the MLU: passes, segmentation into MLU subgraphs, one
 * generated kernel per subgraph and input shape (from the keyed instruction map), and a
 * plan the runtime executes.  A new input shape compiles a new specialization and keeps
 * the old ones. */
typedef struct mf_module mf_module;

/* MF_OK when kernels can be generated for the LLVM CPU name cpu (NULL: this machine);
 * otherwise MF_ERR_INVALID with a message listing the valid names. */
mf_status mf_cpu_check(const char *cpu);
/* MF_OK when this machine runs the code generated for cpu (NULL: MLUFUSE_CPU or this
 * machine): it has every instruction set that code uses as the target probes show it (AVX,
 * AVX2, AVX-512F/BW/VBMI/FP16, FMA or FMA4, F16C, AVX-512 VNNI and AVX-VNNI as the code uses
 * them); otherwise MF_ERR_UNSUPPORTED naming what it lacks.  A module for such a CPU
 * compiles but does not run (mf_module_run fails with this error) unless its tier is fast:
 * generic kernels run on any machine. */
mf_status mf_cpu_check_runs(const char *cpu);

/* Where a kernel of a specialization came from, and what making it cost. */
typedef enum mf_kernel_source {
    MF_KERNEL_FROM_MEMORY, /* already in the process's map: cost nothing */
    MF_KERNEL_FROM_DISK,   /* read from the disk cache and linked */
    MF_KERNEL_COMPILED,    /* generated by LLVM now */
} mf_kernel_source;

typedef struct mf_kernel_timing {
    const char *label; /* "subgraph 3 (conv2d+relu)" */
    const char *key;   /* the kernel's cache key, 64 hex digits */
    mf_kernel_source source;
    double build_ms;    /* compiled: lowering to LLVM IR */
    double optimize_ms; /* compiled: LLVM's optimization passes */
    double emit_ms;     /* compiled: instruction selection and object emission */
    double load_ms;     /* reading from the disk cache (FROM_DISK) and linking */
    double total_ms;    /* wall time of the request, waiting included */
} mf_kernel_timing;

/* How a module gets its code (docs/tiers.md).  FAST: tier 0 only, the shape-generic kernels
 * built into the library (no LLVM compile at all); FULL: every specialized kernel compiled
 * before the first run (tier 1); AUTO: tier 0 at once, tier 1 compiled in the background and
 * swapped in between runs, or tier 1 at once when its kernels are all cached.  ENV: from
 * MLUFUSE_TIER (fast, full or auto), AUTO when unset. */
typedef enum mf_tier_mode { MF_TIER_ENV, MF_TIER_FAST, MF_TIER_FULL, MF_TIER_AUTO } mf_tier_mode;

typedef struct mf_module_options {
    int core_number;         /* partitions per kernel launch: 1, 4 or 16 */
    int opt_level;           /* LLVM optimization level, 0 to 3 */
    const char *cpu;         /* LLVM CPU name (the seed's core_version); NULL: this machine */
    int max_specializations; /* past this many input shapes, warn once (recompile storm) */
    mf_device device;        /* where inputs and outputs live */
    int fusion;              /* 1 fuse, 0 one subgraph per op, -1 from DISABLE_MLU_FUSION */
    int winograd;            /* 1 3x3 stride-1 convs as Winograd F(4,3) where it wins, within a
                              * limit on the transformed weights (64 MiB a layer); 2 where it
                              * wins whatever their size (faster, more memory); 0 all direct;
                              * -1 from MLUFUSE_WINOGRAD (0, 1 or 2; unset: 1) */
    /* Called after each subgraph's kernel is ready while a specialization compiles (done of
     * total), for progress lines on long compiles; NULL: none. */
    void (*progress)(int done, int total, void *ctx);
    void *progress_ctx;
    /* Called as each kernel of a specialization is ready, with its source and timings
     * (--time-compile); NULL: none.  Kernels compile on several threads: this and progress
     * may be called from any of them, one call at a time. */
    void (*on_kernel)(const mf_kernel_timing *t, void *ctx);
    void *on_kernel_ctx;
    int compile_threads; /* kernels compiled at once; 0: MLUFUSE_COMPILE_THREADS, else one per core */
    /* The pass pipeline ("dce,my-pass,...,segment": built-in and registered passes, ending
     * with segment); NULL: the default, "dce,simplify,cse,fold,conv-bn,simplify,dce,segment". */
    const char *passes;
    mf_tier_mode tier; /* MF_TIER_ENV by default (MLUFUSE_TIER, else auto) */
} mf_module_options;

mf_module_options mf_module_default_options(void); /* 1 core, O3, host CPU, 16, mlu:0, -1, -1, 0, env tier */
/* sizeof(mf_module_options) of this library: bindings that mirror the struct check theirs. */
size_t mf_module_options_size(void);
/* Compiles g for its own input shapes (g is copied; constants are shared by reference).
 * opt NULL: the defaults.  The caller owns *out. */
mf_status mf_module_create(const mf_graph *g, const mf_module_options *opt, mf_module **out);
/* Runs m on inputs (on the module's device; dims may differ from the graph's, which
 * compiles a specialization once).  outputs receives new tensors.  Thread-safe. */
mf_status mf_module_run(mf_module *m, int n_in, mf_tensor *const *inputs, int n_out,
                        mf_tensor **outputs);
int mf_module_num_specializations(const mf_module *m);

/* Where a module's code stands (tiered compilation). */
typedef struct mf_module_tier_info {
    mf_tier_mode mode;  /* resolved: FAST, FULL or AUTO */
    int last_run_tier;  /* the tier of the most recent run: 0 generic, 1 specialized; -1 none */
    int pending;        /* specializations whose tier 1 is still compiling */
    int failed;         /* tier-up compiles that failed or were cancelled (tier 0 kept running) */
    double tier_up_ms;  /* from mf_module_create to the end of the last tier-up; 0 if none */
    int last_run_slices; /* 1: the last run's own plan; k > 1: a new batch size ran as k slices
                          * on the tier-1 plan of a batch size k times smaller; 0 none */
    int last_run_saved;  /* 1: the last run's plan was loaded from the plan cache (an earlier
                          * process's: no pass and no compile ran for it); 0 otherwise */
} mf_module_tier_info;
void mf_module_get_tier_info(const mf_module *m, mf_module_tier_info *out); /* out NULL: nothing */
/* Blocks until no tier-up is pending (every background compile has finished, each
 * specialization on tier 1 or, if its compile failed, still on tier 0).  Returns the first
 * failed compile's status with its message, MF_OK otherwise.  Thread-safe. */
mf_status mf_module_wait_tier_up(mf_module *m);
/* 1 when m fuses ops into subgraphs, 0 when every MLU op is its own kernel (the module
 * option fusion = 0, or DISABLE_MLU_FUSION=1 when it was created). */
int mf_module_fusion(const mf_module *m);
void mf_module_destroy(mf_module *m);

/* Statistics of the process's keyed instruction map. */
typedef struct mf_kernel_cache_stats {
    uint64_t hits;     /* requests served from memory */
    uint64_t misses;   /* requests not in memory: compiled, or loaded from the disk cache */
    uint64_t compiled; /* misses that compiled (misses - loaded) */
    uint64_t loaded;   /* misses served by the on-disk cache (MLUFUSE_CACHE_DIR ...) */
    uint64_t entries;
    double compile_ms, load_ms;
} mf_kernel_cache_stats;
void mf_kernel_cache_get_stats(mf_kernel_cache_stats *out); /* out NULL: nothing */

/* ---- profiling ------------------------------------------------------------------------
 * A profile records, process-wide, every module run and its kernel launches (each partition
 * on its core's track), CPU-fallback ops, layer-by-layer ops (on their queue's or thread's
 * track), device<->host copies, and kernels compiled or loaded from the disk cache.  While no
 * profile is being collected the recording points cost one atomic load each.  Setting
 * MLUFUSE_PROFILE=FILE.json profiles a whole program and writes the trace at exit.  One
 * profile at a time; begin and end from the same thread. */
typedef struct mf_profile mf_profile;

/* Starts collecting.  MF_ERR_INVALID when a profile is already being collected (by another
 * begin, or by MLUFUSE_PROFILE). */
mf_status mf_module_profile_begin(void);
/* Stops collecting; *out receives the profile, owned by the caller (mf_profile_destroy). */
mf_status mf_module_profile_end(mf_profile **out);
void mf_profile_destroy(mf_profile *p);

/* The Chrome trace-event JSON of p: open it in https://ui.perfetto.dev or chrome://tracing. */
mf_status mf_profile_write_trace(const mf_profile *p, const char *path);
/* The timeline of p's last run as an SVG picture: one row per core, kernels as bars
 * coloured and named by their ops. */
mf_status mf_profile_write_svg(const mf_profile *p, const char *path);
/* The summary: one row per subgraph (and CPU op), longest total time first, with calls,
 * share of the run, GFLOP/s and fraction of the FMA peak, GB/s and fraction of the measured
 * bandwidth, the limit it is near and the load imbalance across partitions.  As a text
 * table, or with json as one JSON object.  Measures the machine's limits on first use
 * (mf_machine_limits_get). */
mf_status mf_profile_print_summary(const mf_profile *p, FILE *f, int json);

typedef struct mf_profile_stats {
    uint64_t events;      /* events recorded */
    uint64_t runs;        /* module runs and interpreter runs */
    double run_ms;        /* their summed wall time */
    double gflop;         /* FLOPs of the kernels and CPU ops run, in GFLOP (per profile) */
    double event_cost_ns; /* what recording one event cost, measured when the profile began */
    double overhead_ms;   /* events x event_cost_ns: the profiler's estimated cost */
} mf_profile_stats;
void mf_profile_get_stats(const mf_profile *p, mf_profile_stats *out); /* out NULL: nothing */

/* This machine's ceilings, measured once (about half a second) and kept in the kernel cache
 * directory (machine-limits.txt) for later processes; measured again when the CPU or the
 * ISA found differs, and every process when MLUFUSE_CACHE=off. */
typedef struct mf_machine_limits {
    char cpu[128];        /* the CPU's model name */
    char isa[32];         /* the vector ISA of the peak: "avx512f", "avx2+fma", "avx+fma",
                           * "avx", "sse4.2", "scalar" */
    double peak_gflops;   /* fp32 FMA peak of one core with that ISA, GFLOP/s */
    double bandwidth_gbs; /* one core's STREAM-triad memory bandwidth, GB/s */
    int from_cache;       /* 1 when read from the cache directory */
    /* The peak of code compiled for a narrower target, run here, by its f32 lanes: [16]
     * AVX-512, [8] AVX2+FMA (AVX's multiply and add on a host without FMA), [4] SSE (a
     * multiply and an add), [1] scalar; 0 where this host cannot run such code.  The
     * summary judges each kernel by its target's entry. */
    double peak_by_lanes[17];
} mf_machine_limits;
mf_status mf_machine_limits_get(mf_machine_limits *out);

/* ---- ONNX import ----------------------------------------------------------------------- */

/* Imports an ONNX model (opsets 1 to 21): initializers become constants (copied), shapes
 * are inferred for every value.  batch > 0 replaces dim 0 of every input (required when
 * the file leaves it symbolic).  An unsupported model fails with one message listing every
 * unsupported op type and its nodes; a malformed file fails with MF_ERR_PARSE. */
mf_status mf_onnx_load(const char *path, int64_t batch, mf_graph **out);
mf_status mf_onnx_parse(const void *data, size_t len, const char *name, int64_t batch,
                        mf_graph **out);
/* mf_onnx_load specialized on values known at import: graph input names[i] becomes a
 * constant holding values[i] (copied; its dtype, and every dim the model declares, must
 * match) and is no longer a graph input.  Shape-like inputs (a Reshape's shape, Slice's
 * starts, Resize's scales, TopK's k, ...) then resolve at import, and every node computable
 * from constants alone folds.  A name that is no graph input is an error. */
mf_status mf_onnx_load_bound(const char *path, int64_t batch, int nbound, const char *const *names,
                             mf_tensor *const *values, mf_graph **out);
/* mf_onnx_load for the shapes of given inputs (a model exported with dynamic axes): each
 * symbolic dim of graph input i (in order, initializers excluded) takes the dim of
 * inputs[i], of which only the shape is read (not retained).  A dim the model fixes must
 * agree.  Shape computations (Shape, Gather, Concat, Range, ...) then fold at import. */
mf_status mf_onnx_load_shaped(const char *path, int n, mf_tensor *const *inputs, mf_graph **out);

/* ---- staged ONNX runs: shapes that depend on the data ---------------------------------
 * A model whose shapes depend on its values (NonZero, NonMaxSuppression on computed boxes,
 * If on a computed condition, Loop, a Reshape shape or TopK k computed from a count: the
 * postprocessing of exported detection models) runs as a sequence of static stages.  Each
 * stage is imported up to the first node that needs a value it computes, compiled as a
 * module and run; its values become constants of the next stage.  If takes its known
 * branch; Loop is unrolled (at most 4096 iterations).  A static model is one stage. */
typedef struct mf_onnx_program mf_onnx_program;

/* Reads and checks the model at path; opt (copied; NULL: the defaults) compiles its
 * stages.  The caller owns *out. */
mf_status mf_onnx_program_load(const char *path, const mf_module_options *opt, mf_onnx_program **out);
/* Runs p on inputs (its graph inputs in order, initializers excluded; not retained).
 * outputs receives num_outputs new cpu tensors.  Not thread-safe for one p. */
mf_status mf_onnx_program_run(mf_onnx_program *p, int n_in, mf_tensor *const *inputs, int n_out,
                              mf_tensor **outputs);
int mf_onnx_program_num_inputs(const mf_onnx_program *p);
int mf_onnx_program_num_outputs(const mf_onnx_program *p);
/* How many stages the last run took (0 before the first run). */
int mf_onnx_program_num_stages(const mf_onnx_program *p);
void mf_onnx_program_destroy(mf_onnx_program *p);

/* ---- the trace recorder ------------------------------------------------------------ */

/* Starts recording the calling thread's op calls; inputs become the graph's inputs.
 * Tensors created before the trace and used inside become constants. */
mf_status mf_trace_begin(int n, mf_tensor *const *inputs);
/* Stops recording; outputs must be tensors computed inside the trace (or its inputs). */
mf_status mf_trace_end(int n, mf_tensor *const *outputs, mf_graph **out);
/* Drops a trace in progress without building a graph (after an error, say). */
void mf_trace_abort(void);
int mf_trace_active(void);

#ifdef __cplusplus
}
#endif

/* Passes, segmentation and the fusion report (after the types they use). */
#include "mlufuse/mlufuse_passes.h"
/* Devices, memory statistics, queues, events and launches. */
#include "mlufuse/mlufuse_runtime.h"
/* The on-disk kernel cache's inspection API. */
#include "mlufuse/mlufuse_cache.h"
/* Post-training quantization (int8). */
#include "mlufuse/mlufuse_quant.h"

#endif /* MLUFUSE_H */
