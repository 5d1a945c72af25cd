/* frontends.h — internals shared by the frontends: the trace recorder's hook, called by
 * every public op after its eager computation. */
#ifndef MF_FRONTENDS_H
#define MF_FRONTENDS_H

#include "runtime/runtime.h"

/* Records op(in) -> out as a node when the calling thread is tracing; MF_OK otherwise. */
mf_status mf_fe_trace_record(mf_op op, const mf_attr *attrs, int nin, const mf_tensor *const *in,
                             const mf_tensor *out);

/* ---- staged ONNX runs (onnx_stage.c): a model whose shapes depend on its data runs as a
 * sequence of static stages.  Each stage is imported from where the previous one stopped,
 * with the values it computed as constants, and stops before the first entry that needs a
 * value it computes itself (NonZero's count, If's condition, a computed Reshape shape ...).
 * mf_onnx_program (module/onnx_program.c) compiles and runs the stages. ---- */

typedef struct mf_onnx_model mf_onnx_model;     /* an unpacked, checked ONNX model */
typedef struct mf_onnx_staging mf_onnx_staging; /* one run of it */

/* Reads and checks (opset, known op types) the model at path. */
mf_status mf_onnx_model_load(const char *path, mf_onnx_model **out);
void mf_onnx_model_free(mf_onnx_model *m);
int mf_onnx_model_num_inputs(const mf_onnx_model *m); /* graph inputs, initializers excluded */
int mf_onnx_model_num_outputs(const mf_onnx_model *m);

/* A run of m on inputs (in the order of its graph inputs; retained until free).  The first
 * stage's graph takes them as its inputs (mf_onnx_staging_inputs); later stages' none. */
mf_status mf_onnx_staging_begin(const mf_onnx_model *m, int n_in, mf_tensor *const *inputs,
                                mf_onnx_staging **out);
/* Imports the next stage: *g (the caller's) computes the values later stages need, or is
 * NULL when the stage folded everything at import; *last when no stage follows. */
mf_status mf_onnx_staging_next(mf_onnx_staging *st, mf_graph **g, bool *last);
/* The inputs of the run, for a stage graph that has inputs. */
mf_tensor *const *mf_onnx_staging_inputs(const mf_onnx_staging *st);
/* The values of the stage graph's outputs, in order (copied to the host). */
mf_status mf_onnx_staging_feed(mf_onnx_staging *st, int n, mf_tensor *const *values);
/* After the last stage: the model's outputs as new cpu tensors. */
mf_status mf_onnx_staging_outputs(mf_onnx_staging *st, int n, mf_tensor **out);
void mf_onnx_staging_free(mf_onnx_staging *st);

#endif
