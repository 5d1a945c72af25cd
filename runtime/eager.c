/* eager.c — the layer-by-layer mode: one op on tensors, run at once by its reference
 * kernel on the inputs' device.  Validation (arity, dtypes, shapes, devices) happens here
 * and in mf_op_infer, before anything is allocated, so a bad call changes nothing. */
#include <stdio.h>
#include <string.h>

#include "profiler.h"
#include "runtime.h"

#define MAX_EAGER_INPUTS 64

/* "op(f32[2,3]@cpu:0, f32[3]@mlu:0)" for messages about devices, which types alone miss. */
static void describe_call(mf_op op, int nin, const mf_tensor *const *in, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "%s(", mf_op_get(op)->name);
    for (int i = 0; i < nin && n < cap; i++) {
        char d[192];
        mf_tensor_describe(in[i], d, sizeof d);
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", d);
    }
    if (n < cap)
        snprintf(buf + n, cap - n, ")");
}

static mf_status check_inputs(mf_op op, int nin, const mf_tensor *const *in, mf_device *dev)
{
    char call[1024];
    if (nin < 0 || nin > MAX_EAGER_INPUTS)
        return mf_error(MF_ERR_INVALID, "%s: %d inputs (at most %d)", mf_op_get(op)->name, nin,
                        MAX_EAGER_INPUTS);
    if (nin > 0 && !in)
        return mf_error(MF_ERR_INVALID, "%s: the input array is NULL", mf_op_get(op)->name);
    for (int i = 0; i < nin; i++)
        if (!in[i])
            return mf_error(MF_ERR_INVALID, "%s: input %d is NULL", mf_op_get(op)->name, i);
    *dev = nin ? in[0]->device : MF_DEVICE_CPU;
    for (int i = 1; i < nin; i++) {
        if (in[i]->device.type != dev->type || in[i]->device.index != dev->index) {
            describe_call(op, nin, in, call, sizeof call);
            return mf_error(MF_ERR_DEVICE, "%s: input %d is on another device than input 0",
                            call, i);
        }
    }
    return mf_rt_device_check(*dev);
}

mf_status mf_rt_eager(mf_op op, const mf_attr *attrs, int nin, const mf_tensor *const *in,
                      mf_tensor **out)
{
    if (!out)
        return mf_error(MF_ERR_INVALID, "%s: out is NULL", mf_op_get(op)->name);
    *out = NULL;
    mf_device dev;
    mf_status s = check_inputs(op, nin, in, &dev);
    if (s)
        return s;
    mf_type types[MAX_EAGER_INPUTS], ot;
    const void *ptrs[MAX_EAGER_INPUTS];
    for (int i = 0; i < nin; i++) {
        types[i] = in[i]->type;
        ptrs[i] = mf_rt_tensor_ptr(in[i]);
    }
    mf_attr a[MF_MAX_ATTRS];
    if (attrs)
        memcpy(a, attrs, sizeof a);
    else
        mf_op_default_attrs(op, a);
    s = mf_op_infer(op, a, nin, types, &ot);
    if (s)
        return s;
    if (mf_op_get(op)->kind == MF_KIND_VIEW)
        return mf_rt_tensor_view(in[0], &ot, out); /* same bytes, no kernel */

    s = mf_rt_tensor_new(&ot, dev, out);
    if (s)
        return s;
    if (dev.type == MF_MLU) { /* asynchronous, on the thread's current queue */
        if ((s = mf_rt_eager_enqueue(op, a, nin, in, *out))) {
            mf_tensor_free(*out);
            *out = NULL;
        }
        return s;
    }
    mf_ref_call call = {op, a, nin, ptrs, types, mf_rt_tensor_ptr(*out), &ot, 0, 1};
    int64_t t0 = mf_rt_prof_start();
    s = mf_rt_ref_kernel(op)(&call);
    if (t0) { /* described only when profiling: a layer-by-layer op has no plan site */
        char ops[1024];
        mf_rt_prof_site site;
        mf_rt_prof_op_site(&site, op, a, nin, types, &ot, ops, sizeof ops);
        mf_rt_prof_stop_transient(MF_PROF_CPU_OP, &site, t0);
    }
    if (s) {
        mf_tensor_free(*out);
        *out = NULL;
    }
    return s;
}
