/* mlufuse_custom_ops.h — operators of your own: declared by schema in a small text file
 * (docs/custom_ops.md), implemented by C functions in a shared library, and called by
 * mlufuse through libffi on the CPU.  Graphs use them as `custom.NAME(...)` in .mfir and as
 * ONNX nodes of any non-default domain whose op type is NAME.
 *
 * The C calling convention of an implementation, derived from its schema:
 *
 *     int SYMBOL(outputs..., arguments...)
 *
 * returning 0 on success (anything else fails the run with the value named).  Every Tensor,
 * the outputs first (in declaration order) and then the schema's arguments in their order,
 * is four C arguments (MF_CUSTOM_TENSOR below):
 *     void *data           contiguous row-major elements; const for inputs; outputs are
 *                          allocated by mlufuse with the shape the shape rule gave
 *     int64_t rank         0 to MF_MAX_RANK
 *     const int64_t *shape rank dims
 *     int32_t dtype        an mf_dtype value (MF_F32, ...)
 * and every scalar is its C type: float as double, int as int64_t, bool as bool.
 *
 * A shape rule `fn(SYMBOL)` names a function of type mf_custom_shape_fn in the library.
 */
#ifndef MLUFUSE_CUSTOM_OPS_H
#define MLUFUSE_CUSTOM_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mlufuse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The four C parameters of one tensor named NAME with element type T, for writing an
 * implementation's signature: int f(MF_CUSTOM_TENSOR(float, y), MF_CUSTOM_TENSOR(const
 * float, x), double beta). */
#define MF_CUSTOM_TENSOR(T, NAME) T *NAME, int64_t NAME##_rank, const int64_t *NAME##_shape, int32_t NAME##_dtype

/* The dtype, rank and dims of one tensor, as a shape function sees and fills them. */
typedef struct mf_custom_shape {
    mf_dtype dtype;
    int rank;
    int64_t dims[MF_MAX_RANK];
} mf_custom_shape;

/* A shape rule of your own: fills out[0..nout) from the nin tensor inputs (declaration
 * order) and the nscalars scalar arguments (declaration order, each as a double: ints and
 * bools converted).  Returns 0, or non-zero with a reason in why[0..why_cap) (may be left
 * empty), which mlufuse reports with the op's name. */
typedef int (*mf_custom_shape_fn)(int nin, const mf_custom_shape *in, int nscalars, const double *scalars,
                                  int nout, mf_custom_shape *out, char *why, size_t why_cap);

/* Loads the declarations of decl_path and the functions they name from the shared library
 * lib_path (dlopen'ed and kept open for the life of the process).  Every declaration is
 * checked (file:line:col on a malformed one) and every symbol resolved before any op is
 * registered, so a failing load registers nothing.  Loading the same declaration of an op
 * twice is allowed (nothing changes); declaring a different op under a registered name is
 * an error.  *count (may be NULL) gets the number of ops the file declares.  Process-wide,
 * thread-safe; at most 256 ops. */
mf_status mf_custom_ops_load(const char *decl_path, const char *lib_path, int *count);

/* The same from declaration text in memory; filename names it in messages. */
mf_status mf_custom_ops_load_text(const char *text, const char *filename, const char *lib_path, int *count);

/* Number of custom ops registered in this process. */
int mf_custom_ops_count(void);

#ifdef __cplusplus
}
#endif
#endif
