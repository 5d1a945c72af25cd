/* custom_ops.h — custom operators inside the ir layer: a parsed declaration (schema, symbol,
 * shape rule, ONNX attribute names; ir/custom_decl.c), the process-wide registry of loaded
 * ops that the `custom` op of ops.def refers to by index (ir/custom_registry.c), and the C
 * argument list both the loader (libffi types) and the caller (values) derive from a
 * declaration.  libc only: the library is opened and called by module/custom_load.c. */
#ifndef MF_IR_CUSTOM_OPS_H
#define MF_IR_CUSTOM_OPS_H

#include "ir.h"
#include "mlufuse/mlufuse_custom_ops.h"

#define MF_CUSTOM_MAX_TENSORS 8  /* tensor arguments of one op */
#define MF_CUSTOM_MAX_OUTPUTS 4
#define MF_CUSTOM_MAX_SCALARS 10 /* the `custom` op's attribute slots a0..a9 */
#define MF_CUSTOM_MAX_ARGS (MF_CUSTOM_MAX_TENSORS + MF_CUSTOM_MAX_SCALARS)
#define MF_CUSTOM_MAX_OPS 256
#define MF_CUSTOM_NAME_CAP 64
#define MF_CUSTOM_ATTR_SLOT0 2 /* the custom op's attributes: decl, output, a0..a9 */

typedef enum mf_custom_kind { MF_CUSTOM_TENSOR_ARG, MF_CUSTOM_FLOAT, MF_CUSTOM_INT, MF_CUSTOM_BOOL } mf_custom_kind;

typedef struct mf_custom_arg {
    char name[MF_CUSTOM_NAME_CAP];
    char onnx_name[MF_CUSTOM_NAME_CAP]; /* the ONNX attribute it is read from (scalars) */
    mf_custom_kind kind;
    int index; /* tensors: input index; scalars: scalar index (attribute slot a<index>) */
    bool has_default;
    double dflt;
} mf_custom_arg;

typedef enum mf_custom_rule { MF_CUSTOM_SAME, MF_CUSTOM_BROADCAST, MF_CUSTOM_SHAPE_FN } mf_custom_rule;

typedef struct mf_custom_decl {
    char name[MF_CUSTOM_NAME_CAP];
    char symbol[128];
    char shape_symbol[128]; /* MF_CUSTOM_SHAPE_FN */
    int nargs, ntensors, nscalars, noutputs;
    mf_custom_arg args[MF_CUSTOM_MAX_ARGS];
    mf_custom_rule rule;
    int nrule_inputs;
    int rule_inputs[MF_CUSTOM_MAX_TENSORS]; /* tensor input indices the rule reads */
    char where[160];                        /* "decl.txt:3" */
} mf_custom_decl;

/* Parses declaration text: one op a line, `#` comments (docs/custom_ops.md).  *out is a
 * malloc'ed array of *n declarations (free it); a malformed line fails with MF_ERR_PARSE
 * and "FILE:LINE:COL: what is wrong". */
mf_status mf_custom_decl_parse(const char *text, size_t len, const char *filename, mf_custom_decl **out, int *n);
/* The declaration's canonical text, "name(Tensor x, float beta=1) -> Tensor" (for
 * messages and for telling a repeated declaration from a conflicting one). */
void mf_custom_decl_str(const mf_custom_decl *d, char *buf, size_t cap);

/* The C argument list of an implementation (mlufuse_custom_ops.h): per tensor, outputs
 * first, data pointer, rank, shape pointer, dtype; per scalar its type.  Returns how many
 * (at most MF_CUSTOM_C_ARGS_MAX) into types. */
typedef enum mf_custom_ctype { MF_CT_PTR, MF_CT_I64, MF_CT_I32, MF_CT_F64, MF_CT_BOOL } mf_custom_ctype;
#define MF_CUSTOM_C_ARGS_MAX (4 * (MF_CUSTOM_MAX_OUTPUTS + MF_CUSTOM_MAX_TENSORS) + MF_CUSTOM_MAX_SCALARS)
int mf_custom_c_args(const mf_custom_decl *d, mf_custom_ctype *types);

/* ---- the registry ----------------------------------------------------------------------- */

/* Calls fn with the argument values (pointers to each argument's storage, in
 * mf_custom_c_args order) through the prepared call cif; returns the function's int. */
typedef int (*mf_custom_invoke_fn)(void *cif, void (*fn)(void), void **values);

typedef struct mf_custom_entry {
    mf_custom_decl decl;
    void (*fn)(void);
    mf_custom_shape_fn shape_fn; /* MF_CUSTOM_SHAPE_FN */
    void *cif;                   /* owned by the loader, never freed */
    mf_custom_invoke_fn invoke;
    char lib[256];
} mf_custom_entry;

/* Registers e (copied) and gives its index; an entry with e's name and canonical text
 * already there is reused, one with e's name and another text is an error. */
mf_status mf_custom_register(const mf_custom_entry *e, int *index);
/* The check mf_custom_register makes, without registering. */
mf_status mf_custom_check(const mf_custom_entry *e);
/* Entry i, or NULL.  Entries never change or go once registered. */
const mf_custom_entry *mf_custom_get(int64_t i);
/* Index of the op named name[0..len), or -1. */
int mf_custom_find(const char *name, size_t len);

/* The `custom` node's attributes for entry index: defaults of its scalars, output 0. */
void mf_custom_default_attrs(int index, mf_attr *attrs);
/* Scalar argument k of a custom node's attributes. */
static inline double mf_custom_scalar(const mf_attr *attrs, int k)
{
    return attrs[MF_CUSTOM_ATTR_SLOT0 + k].f;
}
/* Output types of every output of the op in attrs (decl), from its input types. */
mf_status mf_custom_infer_all(const mf_attr *attrs, int nin, const mf_type *in, mf_type *out, int *nout);

#endif /* MF_IR_CUSTOM_OPS_H */
