/* plan.c — the plan executor: binds every slot to memory (inputs, fresh outputs,
 * constants, the device and host arenas of the memory plan), then runs the steps in
 * order: kernel launches split into core_number partitions (one for a kernel too small
 * to split), CPU-fallback ops on the reference kernels (those that compute any share of
 * their rows split over the device's cores too, when their output is large), and copies
 * between device and host.
 * A sliced run does all that once per slice of dim 0 of inputs k times the plan's batch. */
#include <stdlib.h>
#include <string.h>

#include "generic.h"
#include "plan.h"
#include "rt_internal.h"

typedef struct binding {
    void **ptr;  /* per slot */
    void **args; /* a step's arguments, and the scratch after them: the plan's widest step + 1 */
    mf_buffer *device_arena, *host_arena, *scratch;
    int slice;  /* which slice of the inputs and outputs the steps see */
} binding;

/* Where slice `slice` of a tensor made of slices of type t begins. */
static void *slice_at(void *base, const mf_type *t, int slice)
{
    return (char *)base + (size_t)slice * mf_type_nbytes(t);
}

/* t with dim 0 taken `slices` times: the type of the whole tensor a sliced run takes. */
static mf_type sliced_type(const mf_type *t, int slices)
{
    mf_type whole = *t;
    if (whole.rank > 0)
        whole.shape[0] *= slices;
    return whole;
}

static mf_status bind_slot(const mf_plan *p, binding *b, int i, mf_tensor *const *inputs,
                           mf_tensor **outputs)
{
    const mf_plan_slot *s = &p->slots[i];
    switch (s->kind) {
    case MF_SLOT_INPUT: b->ptr[i] = slice_at(mf_rt_tensor_ptr(inputs[s->index]), &s->type, b->slice); return MF_OK;
    case MF_SLOT_OUTPUT: b->ptr[i] = slice_at(mf_rt_tensor_ptr(outputs[s->index]), &s->type, b->slice); return MF_OK;
    case MF_SLOT_CONST: b->ptr[i] = p->consts[s->index]->data; return MF_OK;
    case MF_SLOT_DEVICE: b->ptr[i] = (char *)b->device_arena->data + s->offset; return MF_OK;
    case MF_SLOT_HOST: b->ptr[i] = (char *)b->host_arena->data + s->offset; return MF_OK;
    case MF_SLOT_ALIAS:
        if (s->index >= i)
            return mf_error(MF_ERR_INTERNAL, "plan: slot %d aliases a later slot %d", i, s->index);
        b->ptr[i] = b->ptr[s->index];
        return MF_OK;
    }
    return mf_error(MF_ERR_INTERNAL, "plan: slot %d has an unknown kind", i);
}

static mf_status check_inputs(const mf_plan *p, int slices, mf_tensor *const *inputs)
{
    for (int i = 0; i < p->ninputs; i++) {
        const mf_type *one = &p->slots[p->inputs[i]].type;
        mf_type whole = sliced_type(one, slices), *want = &whole;
        if (!inputs || !inputs[i])
            return mf_error(MF_ERR_INVALID, "input %d is NULL", i);
        if (slices > 1 && one->rank == 0)
            return mf_error(MF_ERR_SHAPE, "input %d is a scalar: no batch to slice", i);
        if (!mf_type_equal(&inputs[i]->type, want)) {
            char a[128], b[128];
            return mf_error(MF_ERR_SHAPE, "input %d is %s, the plan expects %s", i,
                            mf_type_str(&inputs[i]->type, a, sizeof a), mf_type_str(want, b, sizeof b));
        }
        if (memcmp(&inputs[i]->device, &p->device, sizeof p->device))
            return mf_error(MF_ERR_DEVICE, "input %d is not on the plan's device", i);
    }
    return MF_OK;
}

/* A CPU-fallback op whose output has at least this many bytes runs in core_number shares of
 * its rows on the device's core pool at core_number > 1, when its kernel computes shares
 * (mf_rt_ref_splits): yolov3_tiny's pad, permutes, upsample and concats (0.35-1 MB each) took
 * 0.4 ms of a two-thread run on one thread while the other waited.  Under this a launch's
 * rendezvous costs about what the second core saves. */
#define CPU_SPLIT_MIN_BYTES (128 << 10)
#define CPU_SPLIT_MAX_PARTS 16

typedef struct cpu_share {
    mf_ref_call call;
    mf_ref_fn fn;
    mf_status status[CPU_SPLIT_MAX_PARTS];
} cpu_share;

static void run_cpu_share(void *const *args, int64_t part, int64_t nparts)
{
    cpu_share *sh = args[0];
    mf_ref_call call = sh->call;
    call.part = (int)part, call.nparts = (int)nparts;
    sh->status[part] = sh->fn(&call);
}

/* Runs a CPU op's kernel, in shares on the core pool where that pays (above). */
static mf_status run_cpu_op(const mf_plan *p, const mf_plan_step *st, const mf_ref_call *call)
{
    mf_ref_fn fn = st->cpu_fn ? st->cpu_fn : mf_rt_ref_kernel(st->op);
    int n = p->core_number;
    if (n <= 1 || n > CPU_SPLIT_MAX_PARTS || st->cpu_fn || !mf_rt_ref_splits(st->op) ||
        mf_type_nbytes(call->out_type) < CPU_SPLIT_MIN_BYTES)
        return fn(call);
    cpu_share sh = {*call, fn, {0}};
    void *args[1] = {&sh};
    mf_status s = mf_rt_launch_sync(p->device, run_cpu_share, args, n);
    for (int i = 0; !s && i < n; i++)
        s = sh.status[i];
    return s ? fn(call) : MF_OK; /* a share that failed: the whole op again, its message on this thread */
}

/* The partitions of a kernel, on the device's core pool (the calling thread takes part; a
 * compiled kernel's partitions nest, so the pool may cut them finer: mf_rt_launch_nested);
 * a step too small to split runs as one (module/launch_grain.c). */
static mf_status launch(const mf_plan *p, const mf_plan_step *st, void *const *args)
{
    int nparts = st->nparts ? st->nparts : p->core_number;
    if (mf_rt_prof_on())
        return mf_rt_prof_launch(p->device, &st->site, st->kernel, args, nparts, true);
    return mf_rt_launch_nested(p->device, st->kernel, args, nparts);
}

static mf_status run_step(const mf_plan *p, int index, binding *b, mf_rt_step_hook hook, void *ctx)
{
    const mf_plan_step *st = &p->steps[index];
    void **args = b->args;
    int nargs = st->nout + st->nin;
    for (int i = 0; i < nargs; i++)
        args[i] = b->ptr[st->slots[i]];
    switch (st->kind) {
    case MF_STEP_KERNEL: {
        if (st->scratch_bytes)
            args[nargs] = b->scratch->data;
        mf_status s = launch(p, st, args);
        if (s)
            return mf_error_context(s, "plan step %s", st->label);
        return hook ? hook(p, index, args, ctx) : MF_OK;
    }
    case MF_STEP_CPU_OP: {
        mf_type types[MF_PLAN_MAX_CPU_ARGS];
        if (nargs > MF_PLAN_MAX_CPU_ARGS)
            return mf_error(MF_ERR_INTERNAL, "plan step %s: %d arguments", st->label, nargs);
        for (int i = 0; i < st->nin; i++)
            types[i] = p->slots[st->slots[st->nout + i]].type;
        mf_ref_call call = {st->op, st->attrs, st->nin, (const void *const *)args + st->nout, types,
                            args[0], &p->slots[st->slots[0]].type, 0, 1};
        int64_t t0 = mf_rt_prof_start();
        mf_status s = run_cpu_op(p, st, &call);
        mf_rt_prof_stop(MF_PROF_CPU_OP, &st->site, t0);
        return s ? mf_error_context(s, "plan step %s", st->label) : MF_OK;
    }
    case MF_STEP_COPY: {
        const mf_plan_slot *dst = &p->slots[st->slots[0]], *src = &p->slots[st->slots[1]];
        mf_device dd = dst->kind == MF_SLOT_HOST ? MF_DEVICE_CPU : p->device;
        mf_device sd = src->kind == MF_SLOT_HOST ? MF_DEVICE_CPU : p->device;
        return mf_rt_copy(args[0], dd, args[1], sd, mf_type_nbytes(&dst->type));
    }
    }
    return mf_error(MF_ERR_INTERNAL, "plan step %s has an unknown kind", st->label);
}

mf_status mf_rt_plan_run(const mf_plan *p, mf_tensor *const *inputs, mf_tensor **outputs)
{
    return mf_rt_plan_run_hooked(p, inputs, outputs, NULL, NULL);
}

static mf_status run_plan(const mf_plan *p, int slices, mf_tensor *const *inputs, mf_tensor **outputs,
                          mf_rt_step_hook hook, void *ctx);

mf_status mf_rt_plan_run_slices(const mf_plan *p, int slices, mf_tensor *const *inputs,
                                mf_tensor **outputs)
{
    if (slices < 1)
        return mf_error(MF_ERR_INVALID, "plan: %d slices", slices);
    int64_t t0 = mf_rt_prof_start();
    mf_status s = run_plan(p, slices, inputs, outputs, NULL, NULL);
    mf_rt_prof_stop(MF_PROF_RUN, &p->run_site, t0);
    return s;
}

/* A run is one profiler span around everything the plan does (arenas included). */
mf_status mf_rt_plan_run_hooked(const mf_plan *p, mf_tensor *const *inputs, mf_tensor **outputs,
                                mf_rt_step_hook hook, void *ctx)
{
    int64_t t0 = mf_rt_prof_start();
    mf_status s = run_plan(p, 1, inputs, outputs, hook, ctx);
    mf_rt_prof_stop(MF_PROF_RUN, &p->run_site, t0);
    return s;
}

/* True if a kernel step of p launches more than one partition. */
static bool splits(const mf_plan *p)
{
    for (int i = 0; i < p->nsteps; i++)
        if (p->steps[i].kind == MF_STEP_KERNEL && (p->steps[i].nparts ? p->steps[i].nparts : p->core_number) > 1)
            return true;
    return false;
}

static mf_status run_plan(const mf_plan *p, int slices, mf_tensor *const *inputs, mf_tensor **outputs,
                          mf_rt_step_hook hook, void *ctx)
{
    if (splits(p))
        mf_rt_cores_expect(p->device, p->core_number); /* workers wake while the run binds */
    mf_status s = check_inputs(p, slices, inputs);
    if (!s) /* the inputs may still be in the making on the device's queues */
        s = mf_rt_device_sync(p->device);
    if (s)
        return s;
    int widest = 0;
    for (int i = 0; i < p->nsteps; i++)
        widest = p->steps[i].nout + p->steps[i].nin > widest ? p->steps[i].nout + p->steps[i].nin : widest;
    binding b = {calloc((size_t)p->nslots + 1, sizeof(void *)), calloc((size_t)widest + 1, sizeof(void *)), NULL, NULL,
                 NULL, 0};
    if (!b.ptr || !b.args) {
        free(b.ptr);
        free(b.args);
        return mf_error(MF_ERR_NOMEM, "plan: out of memory");
    }
    for (int i = 0; i < p->noutputs; i++)
        outputs[i] = NULL;
    for (int i = 0; i < p->noutputs && !s; i++) {
        mf_type whole = sliced_type(&p->slots[p->outputs[i]].type, slices);
        s = mf_rt_tensor_new(&whole, p->device, &outputs[i]);
    }
    if (!s)
        s = mf_rt_alloc(p->device, p->device_bytes, &b.device_arena);
    if (!s && p->scratch_bytes)
        s = mf_rt_alloc(p->device, p->scratch_bytes, &b.scratch);
    if (!s && !(b.host_arena = mf_buffer_new_host(p->host_bytes)))
        s = mf_error(MF_ERR_NOMEM, "plan: out of memory for a %zu-byte host arena", p->host_bytes);
    for (b.slice = 0; b.slice < slices && !s; b.slice++) { /* one set of arenas for every slice */
        for (int i = 0; i < p->nslots && !s; i++)
            s = bind_slot(p, &b, i, inputs, outputs);
        for (int i = 0; i < p->nsteps && !s; i++)
            s = run_step(p, i, &b, hook, ctx);
    }
    if (s)
        for (int i = 0; i < p->noutputs; i++)
            mf_tensor_free(outputs[i]), outputs[i] = NULL;
    mf_buffer_release(b.device_arena);
    mf_buffer_release(b.host_arena);
    mf_buffer_release(b.scratch);
    free(b.ptr);
    free(b.args);
    return s;
}

int mf_rt_plan_use_generic(mf_plan *p)
{
    int switched = 0;
    for (int i = 0; i < p->nsteps; i++) {
        mf_plan_step *st = &p->steps[i];
        if (st->kind != MF_STEP_CPU_OP || st->nin > 70)
            continue;
        mf_type types[70];
        for (int k = 0; k < st->nin; k++)
            types[k] = p->slots[st->slots[st->nout + k]].type;
        st->cpu_fn = mf_rt_generic_kernel(st->op, st->attrs, st->nin, types, &p->slots[st->slots[0]].type);
        switched += st->cpu_fn != NULL;
    }
    return switched;
}

void mf_rt_plan_free(mf_plan *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->nsteps; i++) {
        free(p->steps[i].slots);
        free(p->steps[i].site.ops);
    }
    free(p->run_site.ops);
    for (int i = 0; i < p->nconsts; i++)
        mf_buffer_release(p->consts[i]);
    free(p->slots);
    free(p->steps);
    free(p->inputs);
    free(p->outputs);
    free(p->consts);
    free(p);
}
