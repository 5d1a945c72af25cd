/* plan.h — an executable plan: what the runtime runs for a compiled module, and what an
 * offline model file stores.  Values live in slots (module inputs and outputs, constants
 * uploaded once, and places in a device or host arena given by the memory plan); steps
 * launch generated kernels, run CPU-fallback ops on their reference kernels, or copy
 * between device and host at the boundaries of the MLU subgraphs. */
#ifndef MF_RUNTIME_PLAN_H
#define MF_RUNTIME_PLAN_H

#include "profiler.h"
#include "runtime.h"


typedef enum mf_slot_kind {
    MF_SLOT_INPUT,  /* index: the module input */
    MF_SLOT_OUTPUT, /* index: the module output; a new tensor per run */
    MF_SLOT_CONST,  /* index: plan->consts */
    MF_SLOT_DEVICE, /* offset into the device arena */
    MF_SLOT_HOST,   /* offset into the host arena (operands of CPU-fallback ops) */
    MF_SLOT_ALIAS   /* index: another slot whose bytes this one views (reshape, flatten) */
} mf_slot_kind;

typedef struct mf_plan_slot {
    mf_type type;
    mf_slot_kind kind;
    int index;
    size_t offset;
} mf_plan_slot;

typedef enum mf_step_kind { MF_STEP_KERNEL, MF_STEP_CPU_OP, MF_STEP_COPY } mf_step_kind;

/* A kernel step's outputs and inputs at most (mf_launch's bound; a fused chain of 100 adds of
 * distinct constants takes 102), and a CPU op's (a node's 64 inputs and its output). */
#define MF_PLAN_MAX_ARGS 4096
#define MF_PLAN_MAX_CPU_ARGS 65

typedef struct mf_plan_step {
    mf_step_kind kind;
    int nout, nin;
    int *slots;             /* nout output slots, then nin input slots */
    mf_rt_kernel_fn kernel; /* MF_STEP_KERNEL */
    size_t scratch_bytes;
    mf_op op; /* MF_STEP_CPU_OP */
    mf_ref_fn cpu_fn; /* MF_STEP_CPU_OP: a tier-0 kernel (generic.h) in place of the reference one; NULL: reference */
    mf_attr attrs[MF_MAX_ATTRS];
    char label[96]; /* what the step is, for messages: "subgraph 3 (conv2d+relu)" */
    int segment;    /* MF_STEP_KERNEL: the subgraph it runs, for hooks */
    int nparts;     /* MF_STEP_KERNEL: partitions per launch; 0: the plan's core_number */
    mf_rt_prof_site site; /* what the profiler names the step (filled by the module) */
} mf_plan_step;

typedef struct mf_plan {
    mf_device device;
    int core_number;
    int nslots, nsteps, ninputs, noutputs, nconsts;
    mf_plan_slot *slots;
    mf_plan_step *steps;
    int *inputs, *outputs; /* slot ids */
    mf_buffer **consts;    /* retained; on the plan's device */
    size_t device_bytes, host_bytes, scratch_bytes;
    mf_rt_prof_site run_site; /* what the profiler names a run ("run @model") */
} mf_plan;

/* Runs p: inputs must match the input slots' types and live on p->device; outputs gets
 * noutputs new tensors on p->device.  Thread-safe for concurrent runs of one plan (each
 * run has its own arenas). */
mf_status mf_rt_plan_run(const mf_plan *p, mf_tensor *const *inputs, mf_tensor **outputs);
/* As mf_rt_plan_run, calling hook(p, step, args, ctx) after every kernel step with its
 * bound arguments; a hook's failure stops the run and is returned. */
typedef mf_status (*mf_rt_step_hook)(const mf_plan *p, int step, void *const *args, void *ctx);
mf_status mf_rt_plan_run_hooked(const mf_plan *p, mf_tensor *const *inputs, mf_tensor **outputs,
                                mf_rt_step_hook hook, void *ctx);
/* Runs p once per slice of dim 0: every input is `slices` inputs of p's batch one after the
 * other, and outputs gets tensors of `slices` times p's output batch, slice k computed from
 * input slice k.  Right only for a plan whose graph keeps its batch rows apart
 * (mf_graph_batch_separable); the arenas are shared by the slices, run one after another. */
mf_status mf_rt_plan_run_slices(const mf_plan *p, int slices, mf_tensor *const *inputs,
                                mf_tensor **outputs);
void mf_rt_plan_free(mf_plan *p);
/* Runs p's CPU ops on the tier-0 generic kernels wherever one fits their op and types (the
 * reference kernels stay on the rest); returns how many steps it switched. */
int mf_rt_plan_use_generic(mf_plan *p);

#endif
