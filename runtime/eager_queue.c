/* eager_queue.c — the layer-by-layer mode on an MLU: eager.c validates a call and allocates
 * its output at once (so errors return at the call), then hands the kernel to the calling
 * thread's current queue for the device.  The task retains the inputs and the output until
 * it has run; a kernel failure becomes the queue's deferred error. */
#include <stdlib.h>
#include <string.h>

#include "profiler.h"
#include "rt_internal.h"

#define MAX_INPUTS 64

typedef struct eager_task {
    mf_op op;
    mf_rt_kernel_fn kernel; /* the compiled one-op kernel, or NULL: the reference kernel */
    mf_attr attrs[MF_MAX_ATTRS];
    mf_tensor *out;
    int nin;
    mf_tensor *in[];
} eager_task;

static void task_free(eager_task *t)
{
    for (int i = 0; i < t->nin; i++)
        mf_tensor_free(t->in[i]);
    mf_tensor_free(t->out);
    free(t);
}

static _Atomic(mf_rt_eager_provider) provider;

void mf_rt_set_eager_provider(mf_rt_eager_provider p)
{
    atomic_store(&provider, p);
}

static mf_status run_task(eager_task *t);

/* A queued op is one profiler event on its queue's track: a kernel, or a reference op. */
static mf_status run_eager(void *ctx)
{
    eager_task *t = ctx;
    int64_t t0 = mf_rt_prof_start();
    if (!t0)
        return run_task(t);
    char ops[1024];
    mf_rt_prof_site site;
    mf_type types[MAX_INPUTS];
    for (int i = 0; i < t->nin; i++)
        types[i] = t->in[i]->type;
    mf_rt_prof_op_site(&site, t->op, t->attrs, t->nin, types, &t->out->type, ops, sizeof ops);
    mf_rt_prof_kind kind = t->kernel ? MF_PROF_KERNEL : MF_PROF_CPU_OP;
    mf_status s = run_task(t); /* frees t */
    mf_rt_prof_stop_transient(kind, &site, t0);
    return s;
}

static mf_status run_task(eager_task *t)
{
    if (t->kernel) {
        void *args[MAX_INPUTS + 1] = {mf_rt_tensor_ptr(t->out)};
        for (int i = 0; i < t->nin; i++)
            args[i + 1] = mf_rt_tensor_ptr(t->in[i]);
        t->kernel(args, 0, 1);
        task_free(t);
        return MF_OK;
    }
    mf_type types[MAX_INPUTS];
    const void *ptrs[MAX_INPUTS];
    for (int i = 0; i < t->nin; i++) {
        types[i] = t->in[i]->type;
        ptrs[i] = mf_rt_tensor_ptr(t->in[i]);
    }
    mf_ref_call call = {t->op, t->attrs, t->nin, ptrs, types, mf_rt_tensor_ptr(t->out),
                        &t->out->type, 0, 1};
    mf_status s = mf_rt_ref_kernel(t->op)(&call);
    if (s)
        mf_error_context(s, "%s on mlu:%d (deferred)", mf_op_get(t->op)->name,
                         t->out->device.index);
    task_free(t);
    return s;
}

mf_status mf_rt_eager_enqueue(mf_op op, const mf_attr *attrs, int nin,
                              const mf_tensor *const *in, mf_tensor *out)
{
    if (nin < 0 || nin > MAX_INPUTS)
        return mf_error(MF_ERR_INVALID, "%s: %d inputs", mf_op_get(op)->name, nin);
    mf_queue *q;
    mf_status s = mf_rt_queue_current_for(out->device.index, &q);
    if (s)
        return s;
    mf_rt_kernel_fn kernel = NULL;
    mf_rt_eager_provider p = atomic_load(&provider);
    if (p && mf_op_get(op)->has_mlu) { /* compiled now (once per shape), run on the queue */
        mf_type types[MAX_INPUTS];
        for (int i = 0; i < nin; i++)
            types[i] = in[i]->type;
        if ((s = p(op, attrs, nin, types, &out->type, &kernel)))
            return s;
    }
    eager_task *t = malloc(sizeof *t + (size_t)nin * sizeof(mf_tensor *));
    if (!t)
        return mf_error(MF_ERR_NOMEM, "%s: out of memory queuing the kernel", mf_op_get(op)->name);
    t->op = op;
    t->kernel = kernel;
    memcpy(t->attrs, attrs, sizeof t->attrs);
    t->out = mf_tensor_retain(out);
    t->nin = nin;
    for (int i = 0; i < nin; i++) /* retaining changes the count, not the tensor */
        t->in[i] = mf_tensor_retain((mf_tensor *)in[i]);
    if ((s = mf_rt_queue_enqueue(q, run_eager, t)))
        task_free(t);
    return s;
}
