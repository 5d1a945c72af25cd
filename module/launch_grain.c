/* launch_grain.c — how many partitions each kernel step of a plan launches.  Splitting a
 * launch over the core pool costs a rendezvous (a post, claims under the pool's lock, a
 * cross-core wait for the last partition: microseconds, a futex wake-up when a worker
 * sleeps); a kernel that one core finishes in a few tens of microseconds loses more to that
 * than it gains.  So a step whose cost, estimated from its FLOPs and bytes (its profiler
 * site, ir/op_cost.c), is under the grain runs as one partition on the calling thread; the
 * others launch the plan's core_number partitions.  But a small kernel that reads a split
 * kernel's output is split too: on one thread it would read the other core's share of that
 * output from the other core's cache, which costs more than the rendezvous (partition p of
 * consecutive launches runs on the same core, runtime/core_pool.c, so each core then reads
 * mostly what it wrote) once that output is tens of kilobytes. */
#include <stdbool.h>
#include <stdlib.h>

#include "module.h"

/* One core's rates for the estimate: what fused kernels reach, not the peak. */
#define FLOPS_PER_US 50e3 /* 50 GFLOP/s */
#define BYTES_PER_US 20e3 /* 20 GB/s */
#define DEFAULT_GRAIN_US 25.0
#define MAX_GRAIN_US 1e6
/* A small kernel reading at least this many bytes of split kernels' outputs is split too: on
 * two cores half of them, 16 KB, come from the other core's cache at a few GB/s (microseconds,
 * more than a launch's rendezvous); mnist_net's 128->10 linear and its log_softmax read 512 and
 * 40 bytes and stay on one core. */
#define SPREAD_MIN_BYTES 32768

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

/* The slot whose bytes slot s views (itself unless an alias). */
static int base_slot(const mf_plan *p, int s)
{
    for (int hops = 0; p->slots[s].kind == MF_SLOT_ALIAS && hops < p->nslots; hops++)
        s = p->slots[s].index;
    return s;
}

/* Does step st read SPREAD_MIN_BYTES of slots that the last step writing them wrote split
 * (split[slot])? */
static bool reads_split(const mf_plan *p, const mf_plan_step *st, const bool *split)
{
    size_t bytes = 0;
    for (int k = 0; k < st->nin; k++) {
        int s = st->slots[st->nout + k];
        if (split[base_slot(p, s)])
            bytes += mf_type_nbytes(&p->slots[s].type);
    }
    return bytes >= SPREAD_MIN_BYTES;
}

void mf_mod_plan_launch_grain(mf_plan *p, double grain_us)
{
    bool *split = p->core_number > 1 ? calloc((size_t)p->nslots + 1, sizeof *split) : NULL;
    for (int i = 0; i < p->nsteps; i++) {
        mf_plan_step *st = &p->steps[i];
        if (st->kind == MF_STEP_KERNEL) {
            bool small = p->core_number > 1 && mf_mod_step_cost_us(st) < grain_us;
            if (small && split && reads_split(p, st, split)) /* without the table (out of memory) */
                small = false;                               /* only the cost decides */
            st->nparts = small ? 1 : p->core_number;
        }
        for (int k = 0; split && k < st->nout; k++)
            split[base_slot(p, st->slots[k])] = st->kind == MF_STEP_KERNEL && st->nparts > 1;
    }
    free(split);
}
