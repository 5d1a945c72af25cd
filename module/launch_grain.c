/* launch_grain.c — how many partitions each kernel step of a plan launches.  Splitting a
 * launch over the core pool costs a rendezvous (a post, claims under the pool's lock, a
 * cross-core wait for the last partition: microseconds, a futex wake-up when a worker
 * sleeps); a kernel that one core finishes in a few tens of microseconds loses more to that
 * than it gains.  So a step whose cost, estimated from its FLOPs and bytes (its profiler
 * site, ir/op_cost.c), is under the grain runs as one partition on the calling thread; the
 * others launch the plan's core_number partitions. */
#include <stdlib.h>

#include "module.h"

/* One core's rates for the estimate: what fused kernels reach, not the peak. */
#define FLOPS_PER_US 50e3 /* 50 GFLOP/s */
#define BYTES_PER_US 20e3 /* 20 GB/s */
#define DEFAULT_GRAIN_US 25.0
#define MAX_GRAIN_US 1e6

double mf_mod_step_cost_us(const mf_plan_step *st)
{
    double compute = st->site.flops / FLOPS_PER_US, memory = st->site.bytes / BYTES_PER_US;
    return compute > memory ? compute : memory;
}

mf_status mf_mod_launch_grain_us(double *out)
{
    const char *e = getenv("MLUFUSE_LAUNCH_GRAIN_US");
    *out = DEFAULT_GRAIN_US;
    if (!e || !*e)
        return MF_OK;
    char *end;
    double v = strtod(e, &end);
    if (*end || !(v >= 0 && v <= MAX_GRAIN_US))
        return mf_error(MF_ERR_INVALID, "MLUFUSE_LAUNCH_GRAIN_US=%s: expected microseconds from 0 to %.0f "
                                        "(0: every launch split)", e, MAX_GRAIN_US);
    *out = v;
    return MF_OK;
}

void mf_mod_plan_launch_grain(mf_plan *p, double grain_us)
{
    for (int i = 0; i < p->nsteps; i++) {
        mf_plan_step *st = &p->steps[i];
        if (st->kind == MF_STEP_KERNEL)
            st->nparts = p->core_number > 1 && mf_mod_step_cost_us(st) < grain_us ? 1 : p->core_number;
    }
}
