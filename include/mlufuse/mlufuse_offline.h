/* mlufuse_offline.h — offline models (the seed's genoff and .cambricon file): mf_genoff
 * compiles a graph once per CPU level and writes everything needed to run it into one .mfo file
 * (docs/mfo.md); mf_offline_* load and run such a file with the runtime alone — no compiler,
 * no passes, no LLVM — which is all that libmlufuse_rt holds.  May be included alone. */
#ifndef MLUFUSE_OFFLINE_H
#define MLUFUSE_OFFLINE_H

#include "mlufuse/mlufuse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- writing (the full library only: it compiles) -------------------------------------- */

typedef struct mf_genoff_options {
    int core_number;  /* partitions per kernel launch: 1, 4 or 16 */
    const char *cpus; /* comma-separated LLVM CPU names, "host" for this machine; one level
                       * (plan and code) each.  NULL: "host,x86-64-v3" */
    const char *meta; /* "key=value" lines recorded as they are (input_format, preprocessing,
                       * post-processing); NULL: none */
} mf_genoff_options;

/* Compiles g for its own input shapes (the batch is dim 0 of its inputs) at every CPU level
 * and writes the offline model to path (through a temporary file renamed into place).
 * opt NULL: 1 core, "host,x86-64-v3", no extra metadata. */
mf_status mf_genoff(const mf_graph *g, const mf_genoff_options *opt, const char *path);

/* ---- loading and running (libmlufuse_rt) ------------------------------------------------ */

typedef struct mf_offline_model mf_offline_model;

typedef struct mf_offline_options {
    int core_number;           /* 0: the file's; else 1, 4 or 16 */
    const char *host_features; /* NULL: this CPU; else the LLVM feature names ("avx2,fma")
                                * standing for the host when picking a code level (tests) */
} mf_offline_options;

/* Maps the file at path, checks its header, every section's checksum, the plan and the
 * kernels' object code, picks the best code level this CPU runs and loads its kernels.  A
 * file with no such level is refused (MF_ERR_UNSUPPORTED) naming the levels it has.  opt NULL:
 * the defaults.  The caller owns *out (mf_offline_destroy). */
mf_status mf_offline_load(const char *path, const mf_offline_options *opt, mf_offline_model **out);
/* As mf_offline_load, from n bytes in memory; data must stay valid until the model is
 * destroyed (the weights are used in place).  name is the file's name in messages. */
mf_status mf_offline_load_bytes(const void *data, size_t n, const char *name,
                                const mf_offline_options *opt, mf_offline_model **out);
void mf_offline_destroy(mf_offline_model *m);

int mf_offline_num_inputs(const mf_offline_model *m);
int mf_offline_num_outputs(const mf_offline_model *m);
/* The name, dtype and shape of input i (output 0) or output i (output 1); shape holds
 * MF_MAX_RANK entries.  The strings belong to m. */
mf_status mf_offline_io(const mf_offline_model *m, int output, int i, const char **name,
                        mf_dtype *dtype, int *rank, int64_t *shape);
/* The value of a metadata key ("batch_size", "core_number", "producer", "input_format",
 * "mean", ... see docs/mfo.md), or NULL.  Belongs to m. */
const char *mf_offline_meta(const mf_offline_model *m, const char *key);
/* The code level chosen: "znver4 (16 lanes)". */
const char *mf_offline_level(const mf_offline_model *m);

/* Runs m: inputs on the cpu or the mlu, with the input types exactly; outputs receives new
 * cpu tensors.  Thread-safe: concurrent runs of one model each use their own memory. */
mf_status mf_offline_run(mf_offline_model *m, int n_in, mf_tensor *const *inputs, int n_out,
                         mf_tensor **outputs);

#ifdef __cplusplus
}
#endif

#endif
