/* runtime.h — internals of the runtime layer: tensors and their storage, device memory,
 * the reference kernels (the oracle and CPU fallback), eager execution of one op, and the
 * graph interpreter.  Depends on ir/ and libc only: never on LLVM, codegen/, cache/, passes/.
 */
#ifndef MF_RUNTIME_H
#define MF_RUNTIME_H

#include "ir/ir.h"

struct mf_tensor {
    atomic_int refs;
    uint64_t uid; /* unique per process, never reused: the trace recorder's key */
    mf_type type;
    mf_device device;
    mf_buffer *storage; /* shared by views */
    size_t offset;      /* bytes into storage */
};

static inline void *mf_rt_tensor_ptr(const mf_tensor *t)
{
    return (char *)t->storage->data + t->offset;
}

/* ---- device memory (runtime/device_memory.c) -------------------------------------------- */

/* MF_OK when dev names an existing device; otherwise MF_ERR_DEVICE with a message. */
mf_status mf_rt_device_check(mf_device dev);
/* Storage of nbytes on dev: host memory for the cpu, the device allocator for an mlu. */
mf_status mf_rt_alloc(mf_device dev, size_t nbytes, mf_buffer **out);
/* Copies n bytes between any two buffers (host or device), synchronously. */
mf_status mf_rt_copy(void *dst, mf_device dst_dev, const void *src, mf_device src_dev, size_t n);

/* ---- tensors (runtime/tensor.c) --------------------------------------------------------- */

mf_status mf_rt_tensor_new(const mf_type *t, mf_device dev, mf_tensor **out);
/* A new tensor of type t sharing src's storage (numel must match). */
mf_status mf_rt_tensor_view(const mf_tensor *src, const mf_type *t, mf_tensor **out);

/* ---- .npy files (runtime/npy.c) ---------------------------------------------------------- */

/* Reads one .npy array from f into a new cpu tensor; name is the file's name in messages.
 * Every header field and size is checked first (the loader the fuzzer drives). */
mf_status mf_rt_npy_read(FILE *f, const char *name, mf_tensor **out);

/* ---- reference kernels (runtime/ref_*.c) --------------------------------------------------
 * Plain C, no cleverness: the oracle every compiled kernel is checked against, and the CPU
 * fallback.  One per op, named mf_ref_<op name> after ops.def.  Inputs and the output are
 * contiguous row-major; types were validated by mf_op_infer before the call. */
typedef struct mf_ref_call {
    mf_op op;
    const mf_attr *attrs;
    int nin;
    const void *const *in;
    const mf_type *in_types;
    void *out;
    const mf_type *out_type;
    /* This call's share of the output: part of nparts, its rows (the last dim) as
     * mf_ref_part_rows cuts them (concat: its bytes).  Only the kernels of ops
     * mf_rt_ref_splits names honour it (a plan runs their shares on the core pool); nparts
     * 0 or 1: the whole output. */
    int part, nparts;
} mf_ref_call;

typedef mf_status (*mf_ref_fn)(const mf_ref_call *c);

/* Element strides of an operand of shape[0..shape_rank) aligned to a rank-`rank` broadcast
 * shape (numpy's rule): 0 where the operand's dim is 1 or missing (ref_elementwise.c). */
void mf_ref_broadcast_strides(const int64_t *shape, int shape_rank, int rank, int64_t *strides);
/* The rows (last dim) of an output, walked with the operands broadcast to it (numpy's rule,
 * ref_elementwise.c): off[k] is operand k's element at the row's start, step[k] its step
 * along the row (0: broadcast).  for (mf_ref_rows_begin(&w, ot, nin, in); w.done < w.n;
 * mf_ref_rows_next(&w)) visits out elements [w.done, w.done + w.row). */
#define MF_REF_ROWS_MAX 3
typedef struct mf_ref_rows {
    const mf_type *ot;
    int nin;
    int64_t n, row, done, idx[MF_MAX_RANK];
    int64_t off[MF_REF_ROWS_MAX], step[MF_REF_ROWS_MAX], st[MF_REF_ROWS_MAX][MF_MAX_RANK + 1];
} mf_ref_rows;
void mf_ref_rows_begin(mf_ref_rows *w, const mf_type *ot, int nin, const mf_type *in);
/* As mf_ref_rows_begin with one operand read at element `base` plus strides[d] per step of
 * output dim d (a permutation's or a slice's view of its input). */
void mf_ref_rows_begin_strided(mf_ref_rows *w, const mf_type *ot, const int64_t *strides, int64_t base);
void mf_ref_rows_next(mf_ref_rows *w);
/* Rows [*lo, *hi) of `rows` that call c's share (part, nparts) covers. */
void mf_ref_part_rows(const mf_ref_call *c, int64_t rows, int64_t *lo, int64_t *hi);
/* Narrows a walker just begun to c's share of its rows. */
void mf_ref_rows_part(mf_ref_rows *w, const mf_ref_call *c);
/* Defines mf_ref_<name> as a call of the kernel its family shares, fn(c, args...). */
#define MF_REF_VIA(name, fn, ...)                                                                  \
    mf_status mf_ref_##name(const mf_ref_call *c)                                                  \
    {                                                                                              \
        return fn(c, __VA_ARGS__);                                                                 \
    }

#define X(ID, name, min_in, max_in, kind, mlu, rule, schema) mf_status mf_ref_##name(const mf_ref_call *c);
#include "ir/ops.def"
#undef X

mf_ref_fn mf_rt_ref_kernel(mf_op op);
/* Does op's reference kernel honour mf_ref_call's part and nparts (ref_kernels.c)? */
bool mf_rt_ref_splits(mf_op op);

/* Two elements of dtype dt read by mf_scalar_load, ordered exactly (integers as integers,
 * u64 by its bits): -1 when a < b, 0 when equal, 1 when a > b, 2 when either is NaN
 * (ref_compare.c). */
int mf_ref_order(mf_scalar a, mf_scalar b, mf_dtype dt);

/* Non-maximum suppression (nms.c) over boxes[num_batches][num_boxes][4] and
 * scores[num_batches][num_classes][num_boxes]: *selected (malloc'd, the caller frees) holds
 * *count triples (batch, class, box index), per batch and class by decreasing score. */
typedef struct mf_rt_nms_args {
    int64_t num_batches, num_classes, num_boxes;
    int64_t max_per_class;
    float iou_threshold;
    bool has_score_threshold; /* keep only scores above score_threshold */
    float score_threshold;
    bool center_point_box; /* boxes are [x_center, y_center, w, h], not two corners [y, x] */
} mf_rt_nms_args;
mf_status mf_rt_nms(const mf_rt_nms_args *a, const float *boxes, const float *scores, int64_t **selected,
                    int64_t *count);

/* n elements of es bytes to dst (contiguous) from src, one every `stride` elements (negative:
 * backwards; 0: one element repeated) (ref_layout.c): the layout kernels' inner loop, a typed copy for 1, 2, 4 and 8 bytes (a
 * memcpy call an element took 3-10 ns: yolov3_tiny's pad, permutes and upsample, 2.1 ms of
 * its 33 on one core). */
void mf_ref_copy_strided(void *dst, const void *src, int64_t n, int64_t stride, size_t es);
/* n copies of the element of es bytes at src into dst (ref_layout.c). */
void mf_ref_fill(void *dst, const void *src, int64_t n, size_t es);
/* Runs LOOP(ES) with ES the element size es as a constant where it is 1, 2, 4 or 8 (a memcpy
 * of a constant size is one move), else with es itself. */
#define MF_REF_BY_SIZE(es, LOOP)                                                                                       \
    switch (es) {                                                                                                      \
    case 1: LOOP(1) break;                                                                                             \
    case 2: LOOP(2) break;                                                                                             \
    case 4: LOOP(4) break;                                                                                             \
    case 8: LOOP(8) break;                                                                                             \
    default: LOOP(es)                                                                                                  \
    }

/* Convolution windows (ref_conv.c): the first and one-past-last output positions o of an
 * axis (in input, out output positions, stride s, padding p) whose input o*s - p + off lies
 * in [0, in); off is the kernel tap's offset (tap * dilation).  Shared by the generic conv. */
void mf_ref_conv_valid_range(int64_t in, int64_t out, int64_t s, int64_t p, int64_t off,
                             int64_t *lo, int64_t *hi);

/* ---- eager execution and the interpreter --------------------------------------------------- */

/* Runs one op on tensors that share a device, producing a new tensor on that device.  The
 * message of a failure names the op, the shapes and the reason. */
mf_status mf_rt_eager(mf_op op, const mf_attr *attrs, int nin, const mf_tensor *const *in,
                      mf_tensor **out);

/* ---- queues and cores (runtime/device.c, eager_queue.c, core_pool.c; more in
 * rt_internal.h) ------------------------------------------------------------------------ */

/* Waits for every queue of dev (no-op for the cpu); returns a deferred task error.  Call it
 * before the host reads device memory directly. */
mf_status mf_rt_device_sync(mf_device dev);
/* The MLU half of mf_rt_eager: out is allocated and validated; the kernel is enqueued on the
 * calling thread's current queue for out's device, retaining in[] and out until it runs. */
mf_status mf_rt_eager_enqueue(mf_op op, const mf_attr *attrs, int nin,
                              const mf_tensor *const *in, mf_tensor *out);
/* Runs core_number (1, 4 or 16) partitions of kernel on dev's core pool (an mlu; the cpu
 * runs them in order on the caller) and returns when all are done. */
mf_status mf_rt_launch_sync(mf_device dev, void (*kernel)(void *const *, int64_t, int64_t),
                            void *const *args, int core_number);
/* Tells dev's core pool that launches on core_number cores are coming (a plan run begins),
 * so sleeping workers wake while the caller still prepares: the first launch finds them
 * spinning rather than paying their wake-up.  No-op for the cpu and for core_number 1. */
void mf_rt_cores_expect(mf_device dev, int core_number);

/* ---- compiled kernels for the layer-by-layer mode ------------------------------------------
 * The runtime cannot depend on codegen or the kernel map; the layer that can registers a
 * provider once (module/eager_kernels.c, at load time).  For an eager op on an mlu it
 * returns the one-op kernel for these types (args: out, then the inputs), or NULL to use
 * the reference kernel. */
typedef void (*mf_rt_kernel_fn)(void *const *args, int64_t part, int64_t nparts);
typedef mf_status (*mf_rt_eager_provider)(mf_op op, const mf_attr *attrs, int nin,
                                          const mf_type *in, const mf_type *out,
                                          mf_rt_kernel_fn *fn);
void mf_rt_set_eager_provider(mf_rt_eager_provider provider);

#endif /* MF_RUNTIME_H */
