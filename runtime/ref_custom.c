/* ref_custom.c — the kernel of the `custom` op: marshals the node's tensors and scalar
 * attributes into the C arguments its declaration defines (mlufuse_custom_ops.h; outputs
 * first) and calls the user's function through the registry's invoker (libffi, set by the
 * loader).  The outputs the node does not yield go to scratch memory. */
#include <stdlib.h>
#include <string.h>

#include "ir/custom_ops.h"
#include "runtime.h"

typedef struct c_tensor {
    void *data;
    int64_t rank;
    const int64_t *shape;
    int32_t dtype;
} c_tensor;

typedef struct c_call {
    c_tensor tensors[MF_CUSTOM_MAX_OUTPUTS + MF_CUSTOM_MAX_TENSORS];
    union {
        double f;
        int64_t i;
        bool b;
    } scalars[MF_CUSTOM_MAX_SCALARS];
    void *values[MF_CUSTOM_C_ARGS_MAX];
} c_call;

static c_tensor c_tensor_of(void *data, const mf_type *t)
{
    return (c_tensor){data, t->rank, t->shape, (int32_t)t->dtype};
}

/* values[] in mf_custom_c_args order: per tensor its four fields, per scalar its storage. */
static void bind_values(const mf_custom_decl *d, const mf_attr *attrs, c_call *call)
{
    int n = 0, t = 0;
    for (int k = 0; k < d->noutputs + d->nargs; k++) {
        const mf_custom_arg *a = k < d->noutputs ? NULL : &d->args[k - d->noutputs];
        if (a && a->kind != MF_CUSTOM_TENSOR_ARG) {
            double v = mf_custom_scalar(attrs, a->index);
            if (a->kind == MF_CUSTOM_FLOAT)
                call->scalars[a->index].f = v;
            else if (a->kind == MF_CUSTOM_INT)
                call->scalars[a->index].i = (int64_t)v;
            else
                call->scalars[a->index].b = v != 0;
            call->values[n++] = &call->scalars[a->index];
            continue;
        }
        c_tensor *ct = &call->tensors[t++];
        call->values[n++] = &ct->data;
        call->values[n++] = &ct->rank;
        call->values[n++] = &ct->shape;
        call->values[n++] = &ct->dtype;
    }
}

mf_status mf_ref_custom(const mf_ref_call *c)
{
    mf_type types[MF_CUSTOM_MAX_OUTPUTS];
    int nout;
    mf_status s = mf_custom_infer_all(c->attrs, c->nin, c->in_types, types, &nout);
    if (s)
        return s;
    const mf_custom_entry *e = mf_custom_get(c->attrs[0].i);
    const mf_custom_decl *d = &e->decl;
    if (!e->invoke || !e->fn)
        return mf_error(MF_ERR_UNSUPPORTED, "custom op %s: no implementation is loaded", d->name);
    int yield = (int)c->attrs[1].i;
    c_call call;
    void *scratch[MF_CUSTOM_MAX_OUTPUTS] = {0};
    for (int k = 0; k < nout && !s; k++) {
        void *p = c->out;
        if (k != yield && !(p = scratch[k] = malloc(mf_type_nbytes(&types[k]) + 1)))
            s = mf_error(MF_ERR_NOMEM, "custom op %s: out of memory for output %d", d->name, k);
        call.tensors[k] = c_tensor_of(p, &types[k]);
    }
    for (int i = 0; i < d->nargs; i++) {
        const mf_custom_arg *a = &d->args[i];
        if (a->kind == MF_CUSTOM_TENSOR_ARG)
            call.tensors[nout + a->index] = c_tensor_of((void *)c->in[a->index], &c->in_types[a->index]);
    }
    if (!s) {
        bind_values(d, c->attrs, &call);
        int rc = e->invoke(e->cif, e->fn, call.values);
        if (rc)
            s = mf_error(MF_ERR_INVALID, "custom op %s: %s returned %d", d->name, d->symbol, rc);
    }
    for (int k = 0; k < nout; k++)
        free(scratch[k]);
    return s;
}
